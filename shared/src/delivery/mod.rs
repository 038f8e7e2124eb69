//! Delivery of events: each event is fanned out into deliveries to the webhooks and
//! subscribers that want it, with their first attempts made at once (the notifier function
//! and the local stream run this); the scheduler's tick makes the retries that are due.
//! Delivery follows Standard Webhooks (signed, same `webhook-id` on every attempt), with
//! retries on a schedule driven by the injected clock. What it sends with (the HTTP
//! sender, mail, sealing, signing) is in [`crate::outbound`].

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use serde::Serialize;
use uuid::Uuid;

use crate::AppState;
use crate::clock::timestamp;
use crate::domain::custom_domain::{DomainStatus, page_root};
use crate::error::ApiError;
use crate::outbound::chat::{self, ChatKind};
use crate::outbound::mail::{Notice, NoticeKind, PageInfo};
use crate::outbound::sealing::{Owner, TokenPurpose};
use crate::outbound::summary::Summary;
use crate::outbound::{sender, signing};
use crate::store::StoreError;
use crate::store::deliveries::{
    Attempt, Delivery, DeliveryRecord, DeliveryState, EndpointKind, NewDelivery, Next, delivery_id,
};
use crate::store::events::{Actor, Event, EventItem, EventType};
use crate::store::schema;
use crate::store::subscribers::{Subscriber, SubscriberRecord, SubscriberState};
use crate::store::webhooks::WebhookRecord;
use crate::store::write::Write;

/// Delays before the retries after the first attempt (Standard Webhooks' schedule):
/// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; each varied by ±20%.
pub const RETRY_SCHEDULE_SECS: [i64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];
/// Variation of each delay, in percent either way.
pub const JITTER_PERCENT: i64 = 20;
/// Longest wait a `Retry-After` can ask for.
pub const RETRY_AFTER_MAX_SECS: u64 = 36_000;
/// An endpoint whose attempts have all failed this long is disabled.
pub const QUARANTINE_SECS: i64 = 24 * 60 * 60;
/// How long an attempt holds its delivery: above the 15 s timeout, so a live attempt
/// is never repeated, and short, so a dead one is soon retried.
pub const LEASE_SECS: i64 = 60;
/// Attempts in flight at once per invocation (sockets are bounded per Lambda).
pub const CONCURRENCY: usize = 64;
/// Due deliveries one tick takes per shard.
pub const TICK_LIMIT: u32 = 1_000;

/// The body of every delivery: `{type, timestamp, data}`.
#[derive(Serialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: &'a str,
    data: serde_json::Value,
}

/// Whether a webhook wants an event: enabled, the type in its list (or, with no list,
/// a type that notifies), the page in its list (or no list), and not older than it.
pub fn wants(webhook: &WebhookRecord, event: &Event) -> bool {
    let w = &webhook.webhook;
    let kind = event.kind.as_str();
    let type_ok = if w.events.is_empty() { event.kind.notifies() } else { w.events.iter().any(|e| e == kind) };
    let page_ok = w.page_ids.is_empty() || event.page_id.is_some_and(|p| w.page_ids.contains(&p));
    // Events from before the webhook existed are not its business (a replayed stream).
    let after = event.occurred_at >= w.created_at;
    w.enabled && type_ok && page_ok && after
}

/// Whether an event is for a page's subscribers at all: incidents and maintenance whose
/// write did not say `notifySubscribers: false`, and changes of a service's status not
/// made by a maintenance window.
pub fn for_subscribers(event: &Event) -> bool {
    let kind = event.kind.as_str();
    let family = kind.split('.').next().unwrap_or_default();
    let flag = |v: &serde_json::Value| v.get("notifySubscribers").and_then(serde_json::Value::as_bool);
    match family {
        "incident" | "maintenance" if event.kind.notifies() => {
            let nested = event.data.get(family).and_then(flag);
            flag(&event.data).or(nested) != Some(false)
        }
        // A window's own notice tells of the services it puts under maintenance.
        "service" => {
            event.kind == EventType::ServiceUpdated
                && event.data.get("newStatus").is_some()
                && event.data.get("source").and_then(serde_json::Value::as_str) != Some("maintenance")
        }
        _ => false,
    }
}

/// The services an event touches; `None`: all of the page (an incident or maintenance
/// naming no service).
pub fn touched_services(event: &Event) -> Option<Vec<Uuid>> {
    let ids = |v: Option<&serde_json::Value>| -> Vec<Uuid> {
        v.and_then(serde_json::Value::as_array)
            .map(|a| a.iter().filter_map(|id| id.as_str().and_then(|s| Uuid::parse_str(s).ok())).collect())
            .unwrap_or_default()
    };
    let touched = match event.kind.as_str().split('.').next() {
        Some("incident") => ids(event.data.pointer("/incident/affectedServiceIds")),
        Some("maintenance") => ids(event.data.pointer("/maintenance/serviceIds")),
        Some("service") => ids(Some(&serde_json::json!([event.data.pointer("/service/id")]))),
        _ => Vec::new(),
    };
    (!touched.is_empty()).then_some(touched)
}

/// Whether an active subscriber wants an event that is for subscribers: its page, one
/// of its services (or it follows all), and not from before it was confirmed.
pub fn subscriber_wants(subscriber: &Subscriber, event: &Event) -> bool {
    let services_ok = subscriber.service_ids.is_empty()
        || touched_services(event).is_none_or(|t| t.iter().any(|s| subscriber.service_ids.contains(s)));
    let after = subscriber.confirmed_at.as_deref().is_some_and(|at| event.occurred_at.as_str() >= at);
    subscriber.state == SubscriberState::Active && event.page_id == Some(subscriber.page_id) && services_ok && after
}

/// Where a delivery goes: one of the organization's webhooks, or a page's subscriber.
#[derive(Clone, Debug)]
pub enum Endpoint {
    /// An integration.
    Webhook(WebhookRecord),
    /// A subscriber.
    Subscriber(SubscriberRecord),
}

impl Endpoint {
    /// Its id.
    pub fn id(&self) -> Uuid {
        match self {
            Self::Webhook(w) => w.webhook.id,
            Self::Subscriber(s) => s.subscriber.id,
        }
    }

    fn kind(&self) -> EndpointKind {
        match self {
            Self::Webhook(_) => EndpointKind::Webhook,
            Self::Subscriber(_) => EndpointKind::Subscriber,
        }
    }

    fn sk(&self) -> String {
        match self {
            Self::Webhook(w) => crate::store::webhooks::webhook_sk(w.webhook.id),
            Self::Subscriber(s) => schema::subscriber_sk(s.subscriber.id),
        }
    }

    /// Whether it still takes a delivery of this type: an enabled webhook; an active
    /// subscriber (a pending one, for its confirmation email).
    fn takes(&self, event_type: &str) -> bool {
        match self {
            Self::Webhook(w) => w.webhook.enabled,
            Self::Subscriber(s) if event_type == EventType::SubscriberConfirmationRequested.as_str() => {
                s.subscriber.state == SubscriberState::Pending
            }
            Self::Subscriber(s) => s.subscriber.state == SubscriberState::Active,
        }
    }
}

/// The JSON body of an event's deliveries: its data, with the event's id and page.
pub fn event_body(event: &Event) -> String {
    let mut data = match &event.data {
        serde_json::Value::Object(map) => map.clone(),
        other => serde_json::Map::from_iter([("value".to_owned(), other.clone())]),
    };
    data.insert("eventId".into(), serde_json::json!(event.id));
    data.insert("pageId".into(), serde_json::json!(event.page_id));
    let payload = Payload { kind: event.kind.as_str(), timestamp: &event.occurred_at, data: data.into() };
    serde_json::to_string(&payload).expect("a JSON value serializes")
}

/// The event of a stream record's new image; `None` for items that are not events (the
/// event source mapping filters them out on AWS; the local poller sees everything).
pub fn event_of_image(image: impl Into<serde_dynamo::Item>) -> Option<(Uuid, Event)> {
    let item: EventItem = serde_dynamo::from_item(image).ok()?;
    (item.entity == "event").then_some((item.org_id, item.event))
}

/// What a batch of work came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Deliveries made (fan-out) or taken (tick).
    pub deliveries: usize,
    /// Of those, delivered by this batch.
    pub delivered: usize,
}

/// Endpoints and pages read once per batch of work (a fan-out or a tick).
#[derive(Default)]
struct Batch {
    endpoints: tokio::sync::Mutex<HashMap<(Uuid, Uuid), Option<Endpoint>>>,
    pages: tokio::sync::Mutex<HashMap<(Uuid, Uuid), Option<PageInfo>>>,
}

impl Batch {
    async fn endpoint(
        &self,
        state: &AppState,
        org: Uuid,
        record: &DeliveryRecord,
    ) -> Result<Option<Endpoint>, StoreError> {
        let id = record.delivery.endpoint_id;
        if let Some(found) = self.endpoints.lock().await.get(&(org, id)) {
            return Ok(found.clone());
        }
        let found = match record.endpoint_kind {
            EndpointKind::Webhook => state.store.get_webhook(org, id).await?.map(Endpoint::Webhook),
            EndpointKind::Subscriber => state.store.get_subscriber(org, id).await?.map(Endpoint::Subscriber),
        };
        self.endpoints.lock().await.insert((org, id), found.clone());
        Ok(found)
    }

    async fn page(&self, state: &AppState, org: Uuid, page: Uuid) -> Result<Option<PageInfo>, StoreError> {
        if let Some(found) = self.pages.lock().await.get(&(org, page)) {
            return Ok(found.clone());
        }
        let found = match state.store.get_page(org, page).await? {
            Some(p) => {
                let mut services = Vec::new();
                let mut cursor = None;
                loop {
                    let listing = state.store.list_services(org, page, 100, cursor.as_deref()).await?;
                    services.extend(listing.items.into_iter().map(|s| (s.id.to_string(), s.name)));
                    cursor = listing.next_cursor;
                    if cursor.is_none() {
                        break;
                    }
                }
                // Links follow the page to its domain once it is verified.
                let url = match (&p.domain, p.domain_status) {
                    (Some(domain), Some(DomainStatus::Verified)) => page_root(domain, state.public_url()),
                    _ => format!("{}/status/{}", state.public_url(), p.slug),
                };
                Some(PageInfo {
                    url,
                    name: p.name,
                    brand_color: p.brand_color.unwrap_or_else(|| crate::domain::DEFAULT_BRAND_COLOR.to_owned()),
                    public: p.is_public,
                    services,
                })
            }
            None => None,
        };
        self.pages.lock().await.insert((org, page), found.clone());
        Ok(found)
    }
}

/// What a fan-out reads once, whatever the number of its events: the organization's
/// webhooks, and each page's active subscribers.
#[derive(Default)]
struct Audience {
    webhooks: Option<Vec<WebhookRecord>>,
    subscribers: HashMap<Uuid, Vec<SubscriberRecord>>,
}

impl Audience {
    /// The endpoints an event goes to: the webhooks that want it, and the page's active
    /// subscribers that want it (or, for a confirmation request, the one subscriber asking).
    async fn endpoints_for(&mut self, state: &AppState, org: Uuid, event: &Event) -> Result<Vec<Endpoint>, StoreError> {
        if self.webhooks.is_none() {
            self.webhooks = Some(state.store.all_webhooks(org).await?);
        }
        let webhooks = self.webhooks.as_deref().unwrap_or_default();
        let mut endpoints: Vec<Endpoint> =
            webhooks.iter().filter(|w| wants(w, event)).cloned().map(Endpoint::Webhook).collect();
        if event.kind == EventType::SubscriberConfirmationRequested {
            let id =
                event.data.pointer("/subscriber/id").and_then(|v| v.as_str()).and_then(|v| Uuid::parse_str(v).ok());
            if let Some(subscriber) = match id {
                Some(id) => state.store.get_subscriber(org, id).await?,
                None => None,
            } {
                // Only the request of the current sign-up: a replayed old one sends nothing.
                if subscriber.subscriber.state == SubscriberState::Pending {
                    endpoints.push(Endpoint::Subscriber(subscriber));
                }
            }
        } else if let Some(page) = event.page_id.filter(|_| for_subscribers(event)) {
            if !self.subscribers.contains_key(&page) {
                let active = state.store.active_subscribers(org, page).await?;
                self.subscribers.insert(page, active);
            }
            endpoints.extend(
                self.subscribers[&page]
                    .iter()
                    .filter(|s| subscriber_wants(&s.subscriber, event))
                    .cloned()
                    .map(Endpoint::Subscriber),
            );
        }
        Ok(endpoints)
    }
}

/// Delivered first attempts recorded together once this many are waiting (so their
/// leases are given up soon even in a long run of events).
const RECORD_DELIVERED_EVERY: usize = 200;

/// The notifier's handler: fans one event out into deliveries and makes their first
/// attempts, concurrently with a bound. Idempotent: a replayed event makes no second
/// delivery (and attempts nothing for the ones that exist: they are leased or done).
pub async fn handle_event(state: &AppState, org: Uuid, event: &Event) -> Result<Outcome, StoreError> {
    handle_events(state, org, std::slice::from_ref(event)).await
}

/// [`handle_event`] for a run of one organization's events, in order: the endpoints read
/// once for the run, every delivery made up front (a hundred to a transaction), then each
/// event's first attempts (concurrently, the next event only after them, so one
/// endpoint gets a page's events in order), the ones that delivered recorded together
/// (25 to a batch write). A failed attempt is recorded at once, with its retry.
pub async fn handle_events(state: &AppState, org: Uuid, events: &[Event]) -> Result<Outcome, StoreError> {
    let mut audience = Audience::default();
    let mut plans: Vec<Vec<Endpoint>> = Vec::with_capacity(events.len());
    for event in events {
        plans.push(audience.endpoints_for(state, org, event).await?);
    }
    if plans.iter().all(Vec::is_empty) {
        return Ok(Outcome::default());
    }
    let now = state.clock.now();
    let lease = now + Duration::seconds(LEASE_SECS);
    let mut new = Vec::new();
    for (event, endpoints) in events.iter().zip(&plans) {
        let body = if endpoints.is_empty() { String::new() } else { event_body(event) };
        new.extend(endpoints.iter().map(|endpoint| NewDelivery {
            id: delivery_id(event.id, endpoint.id()),
            event: (event.id, event.kind.as_str().to_owned()),
            endpoint: (endpoint.id(), endpoint.kind()),
            body: body.clone(),
        }));
    }
    let made = state
        .store
        .create_deliveries(org, new, &timestamp(now), now.timestamp(), (lease.timestamp(), &timestamp(lease)))
        .await?;
    let mut made: HashMap<Uuid, DeliveryRecord> = made.into_iter().map(|r| (r.delivery.id, r)).collect();
    let batch = Batch::default();
    let mut outcome = Outcome::default();
    let mut delivered: Vec<(DeliveryRecord, Attempt)> = Vec::new();
    let mut first_error = None;
    for (event, endpoints) in events.iter().zip(plans) {
        let todo: Vec<(Endpoint, DeliveryRecord)> = endpoints
            .into_iter()
            .filter_map(|endpoint| made.remove(&delivery_id(event.id, endpoint.id())).map(|r| (endpoint, r)))
            .collect();
        let batch = &batch;
        let results: Vec<Result<First, StoreError>> = futures::stream::iter(todo)
            .map(|(endpoint, record)| async move { first_attempt(state, batch, &endpoint, record).await })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for result in results {
            match result {
                Ok(First::Delivered(record, attempt)) => {
                    delivered.push((record, *attempt));
                    outcome.deliveries += 1;
                    outcome.delivered += 1;
                }
                Ok(First::Settled(delivery)) => {
                    outcome.deliveries += 1;
                    outcome.delivered += usize::from(delivery.state_is_delivered());
                }
                // The delivery stays leased and due: the scheduler makes it.
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if delivered.len() >= RECORD_DELIVERED_EVERY {
            state.store.record_delivered(std::mem::take(&mut delivered)).await?;
        }
    }
    // What was sent is recorded even when something else failed, so it is not sent again.
    state.store.record_delivered(delivered).await?;
    match first_error {
        Some(e) => Err(e),
        None => Ok(outcome),
    }
}

/// How a first attempt ended.
enum First {
    /// It delivered, to an endpoint with no failure run: to be recorded with others.
    Delivered(DeliveryRecord, Box<Attempt>),
    /// Recorded already (a failure, a stopped endpoint, or a success ending a failure run).
    Settled(Delivery),
}

/// A fresh delivery's first attempt; a plain success is left for the caller to record.
async fn first_attempt(
    state: &AppState,
    batch: &Batch,
    endpoint: &Endpoint,
    record: DeliveryRecord,
) -> Result<First, StoreError> {
    let started = state.clock.now();
    let Some(sent) = send(state, batch, endpoint, &record, started).await? else {
        return Ok(First::Settled(abandoned(state, &record).await?));
    };
    let failing = match endpoint {
        Endpoint::Webhook(w) => w.webhook.failing_since.is_some(),
        Endpoint::Subscriber(s) => s.failing_since.is_some(),
    };
    if sent.ok && !failing {
        let attempt = Attempt {
            at: timestamp(started),
            status_code: sent.status,
            latency_ms: sent.latency_ms,
            error: sent.error,
        };
        return Ok(First::Delivered(record, Box::new(attempt)));
    }
    settle(state, endpoint, &record, sent, started).await.map(First::Settled)
}

/// A test ping to one endpoint, made now: `{type: "ping", timestamp, data: {webhookId}}`
/// (`subscriberId` for a subscriber; an email subscriber gets a test email).
pub async fn ping(state: &AppState, org: Uuid, endpoint: &Endpoint) -> Result<Delivery, ApiError> {
    let now = state.clock.now();
    let event_id = Uuid::now_v7();
    let at = timestamp(now);
    let data = match endpoint {
        Endpoint::Webhook(w) => serde_json::json!({ "webhookId": w.webhook.id }),
        Endpoint::Subscriber(s) => {
            serde_json::json!({ "subscriberId": s.subscriber.id, "pageId": s.subscriber.page_id })
        }
    };
    let body = serde_json::to_string(&Payload { kind: "ping", timestamp: &at, data }).expect("a JSON value serializes");
    let lease = now + Duration::seconds(LEASE_SECS);
    let record = state
        .store
        .create_delivery(
            org,
            delivery_id(event_id, endpoint.id()),
            (event_id, "ping"),
            (endpoint.id(), endpoint.kind()),
            body,
            &at,
            now.timestamp(),
            (lease.timestamp(), &timestamp(lease)),
        )
        .await?
        .ok_or_else(|| ApiError::internal("a fresh ping's delivery already existed"))?;
    Ok(attempt(state, &Batch::default(), endpoint, &record).await?)
}

/// Manual retries of one delivery per hour.
pub const MANUAL_RETRIES_PER_HOUR: u32 = 5;

/// Delivers again now, with the same `webhook-id` (a manual retry by `who`). `None` when
/// the delivery is unknown. Needs the scope of what it retries (`webhooks:write` for a
/// webhook's delivery, `subscribers:write` for a subscriber's); `409 not_retryable` for
/// an endpoint that no longer takes deliveries (a disabled webhook, a subscriber not
/// active) and for a confirmation email; at most [`MANUAL_RETRIES_PER_HOUR`] per
/// delivery (then `429`); an attempt in flight answers `service_unavailable` so the
/// caller retries.
pub async fn retry_now(
    state: &AppState,
    who: &crate::store::api_keys::Principal,
    id: Uuid,
) -> Result<Option<Delivery>, ApiError> {
    use crate::domain::Scope;
    let org = who.org_id;
    let Some(record) = state.store.get_delivery(org, id).await? else {
        return Ok(None);
    };
    who.require(match record.endpoint_kind {
        EndpointKind::Webhook => Scope::WebhooksWrite,
        EndpointKind::Subscriber => Scope::SubscribersWrite,
    })?;
    if record.delivery.event_type == EventType::SubscriberConfirmationRequested.as_str() {
        return Err(ApiError::NotRetryable(
            "A confirmation email is never sent again by hand; the subscriber signs up again.".into(),
        ));
    }
    let batch = Batch::default();
    match batch.endpoint(state, org, &record).await? {
        Some(Endpoint::Webhook(w)) if !w.webhook.enabled => {
            return Err(ApiError::NotRetryable("The webhook is disabled; enable it first.".into()));
        }
        Some(Endpoint::Subscriber(s)) if s.subscriber.state != SubscriberState::Active => {
            return Err(ApiError::NotRetryable(format!(
                "The subscriber is {}; only active subscribers get deliveries.",
                s.subscriber.state.as_str()
            )));
        }
        None => return Err(ApiError::NotRetryable("The delivery's endpoint no longer exists.".into())),
        Some(_) => {}
    }
    let now = state.clock.now();
    if let Err(retry_after) = state.store.count_manual_retry(org, id, now.timestamp(), MANUAL_RETRIES_PER_HOUR).await? {
        return Err(ApiError::RateLimited { retry_after });
    }
    let claimed = state
        .store
        .claim_delivery(org, id, now.timestamp(), (now + Duration::seconds(LEASE_SECS)).timestamp(), true)
        .await?
        .ok_or_else(|| ApiError::ServiceUnavailable("an attempt of this delivery is in progress".into()))?;
    let Some(endpoint) = batch.endpoint(state, org, &claimed).await? else {
        state.store.abandon_delivery(org, id).await?;
        return Ok(state.store.get_delivery(org, id).await?.map(|d| d.delivery));
    };
    Ok(Some(attempt(state, &batch, &endpoint, &claimed).await?))
}

/// The scheduler's tick for deliveries: every delivery due now, claimed and attempted, concurrently
/// with a bound. Endpoints and pages are read once per tick.
pub async fn run_due(state: &AppState) -> Result<Outcome, StoreError> {
    let now = state.clock.now();
    let mut due = Vec::new();
    for shard in 0..schema::DUE_SHARDS {
        due.extend(state.store.due_deliveries(shard, &timestamp(now), TICK_LIMIT).await?);
    }
    let batch = Batch::default();
    let results: Vec<Result<Option<bool>, StoreError>> = futures::stream::iter(due)
        .map(|due| {
            let batch = &batch;
            async move {
                let now = state.clock.now();
                let lease = (now + Duration::seconds(LEASE_SECS)).timestamp();
                let Some(record) =
                    state.store.claim_delivery(due.org_id, due.id, now.timestamp(), lease, false).await?
                else {
                    return Ok(None);
                };
                let Some(endpoint) = batch.endpoint(state, due.org_id, &record).await? else {
                    state.store.abandon_delivery(due.org_id, due.id).await?;
                    return Ok(Some(false));
                };
                attempt(state, batch, &endpoint, &record).await.map(|d| Some(d.state_is_delivered()))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut outcome = Outcome::default();
    let mut first_error = None;
    for result in results {
        match result {
            Ok(Some(delivered)) => {
                outcome.deliveries += 1;
                outcome.delivered += usize::from(delivered);
            }
            Ok(None) => {}
            // One delivery's trouble must not stop the others; what failed stays due.
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) if outcome.deliveries == 0 => Err(e),
        Some(e) => {
            tracing::warn!(error = %e, "some due deliveries could not be attempted; they stay due");
            Ok(outcome)
        }
        None => Ok(outcome),
    }
}

/// The delay before retry number `retry` (1-based) with its jitter, or `None` when the
/// schedule has run out.
pub fn retry_delay(retry: usize) -> Option<Duration> {
    let base = *RETRY_SCHEDULE_SECS.get(retry.checked_sub(1)?)?;
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    // Uniform in [-20%, +20%] of the base, in milliseconds.
    let spread = base * 1000 * JITTER_PERCENT * 2 / 100;
    let offset = i64::try_from(u64::from_le_bytes(bytes) % (u64::try_from(spread).unwrap_or(1) + 1)).unwrap_or(0);
    Some(Duration::milliseconds(base * 1000 - spread / 2 + offset))
}

/// What one send came to, for HTTP and email alike.
struct Sent {
    ok: bool,
    /// The endpoint said it is gone for good (HTTP 410).
    gone: bool,
    status: Option<u16>,
    latency_ms: u64,
    error: Option<String>,
    retry_after: Option<u64>,
}

impl From<sender::Sent> for Sent {
    fn from(s: sender::Sent) -> Self {
        Self {
            ok: s.ok(),
            gone: s.status == Some(410),
            status: s.status,
            latency_ms: s.latency_ms,
            error: s.error,
            retry_after: s.retry_after,
        }
    }
}

/// Signs and POSTs a delivery's body (Standard Webhooks) with each of `sealed` secrets.
async fn post_signed<'a>(
    state: &AppState,
    url: &str,
    sealed: impl Iterator<Item = &'a str>,
    owner: Owner,
    record: &DeliveryRecord,
    at: DateTime<Utc>,
) -> Result<Sent, StoreError> {
    let msg_id = record.delivery.id.to_string();
    let signatures = sealed
        .map(|s| {
            state
                .sealer
                .open_for(s, owner)
                .map(|secret| signing::sign(&secret, &msg_id, at.timestamp(), record.body.as_bytes()))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::internal)?
        .join(" ");
    let headers = [
        ("webhook-id", msg_id.clone()),
        ("webhook-timestamp", at.timestamp().to_string()),
        ("webhook-signature", signatures),
    ];
    Ok(state.sender.post_json(url, &headers, record.body.clone().into_bytes()).await.into())
}

/// A failed send that reached nobody, with its reason.
fn not_sent(error: String) -> Sent {
    Sent { ok: false, gone: false, status: None, latency_ms: 0, error: Some(error), retry_after: None }
}

/// What a delivery's body tells a person: a ping, or an event with its type, time and data.
fn notice_of(body: &serde_json::Value) -> NoticeKind {
    match body["type"].as_str().unwrap_or_default() {
        "ping" => NoticeKind::Ping,
        event_type => NoticeKind::Event {
            event_type: event_type.to_owned(),
            timestamp: body["timestamp"].as_str().unwrap_or_default().to_owned(),
            data: body["data"].clone(),
        },
    }
}

/// Renders and sends a delivery to an email subscriber.
async fn send_email(
    state: &AppState,
    batch: &Batch,
    subscriber: &SubscriberRecord,
    email: &str,
    record: &DeliveryRecord,
    at: DateTime<Utc>,
) -> Result<Sent, StoreError> {
    let Some(mailer) = state.mailer.as_deref() else {
        return Ok(not_sent("email is not configured on this deployment (EMAIL_FROM)".into()));
    };
    let sub = &subscriber.subscriber;
    let Some(page) = batch.page(state, subscriber.org_id, sub.page_id).await? else {
        return Ok(not_sent("the page is gone".into()));
    };
    let body: serde_json::Value = serde_json::from_str(&record.body).map_err(StoreError::internal)?;
    let token = |purpose| state.sealer.token(purpose, subscriber.org_id, sub.id, at.timestamp());
    let (kind, unsubscribe_url) = if body["type"] == EventType::SubscriberConfirmationRequested.as_str() {
        let confirm_url = format!("{}/subscriptions/confirm?token={}", page.url, token(TokenPurpose::Confirm));
        (NoticeKind::Confirm { confirm_url }, None)
    } else {
        (notice_of(&body), Some(format!("{}/unsubscribe?token={}", page.url, token(TokenPurpose::Unsubscribe))))
    };
    let notice = Notice { to: email.to_owned(), page, kind, unsubscribe_url };
    let started = std::time::Instant::now();
    let sent = mailer.send(&notice).await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(match sent {
        Ok(()) => Sent { ok: true, gone: false, status: None, latency_ms, error: None, retry_after: None },
        Err(error) => Sent { latency_ms, ..not_sent(error) },
    })
}

/// Renders a delivery in a chat service's format and POSTs it to the channel's webhook
/// (unsigned: the services authenticate the sender by the secret URL).
async fn send_chat(
    state: &AppState,
    batch: &Batch,
    subscriber: &SubscriberRecord,
    kind: ChatKind,
    url: &str,
    record: &DeliveryRecord,
) -> Result<Sent, StoreError> {
    let Some(page) = batch.page(state, subscriber.org_id, subscriber.subscriber.page_id).await? else {
        return Ok(not_sent("the page is gone".into()));
    };
    let body: serde_json::Value = serde_json::from_str(&record.body).map_err(StoreError::internal)?;
    let message = chat::message(kind, &Summary::of(&page, &notice_of(&body)));
    let bytes = serde_json::to_vec(&message).map_err(StoreError::internal)?;
    Ok(state.sender.post_json(url, &[], bytes).await.into())
}

/// Stops an endpoint for a reason of the system's: disables a webhook, quarantines a
/// subscriber; each with its event.
async fn stop_endpoint(
    state: &AppState,
    org: Uuid,
    endpoint: &Endpoint,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    match endpoint {
        Endpoint::Webhook(w) => {
            state.store.disable_webhook(org, w.webhook.id, reason, &timestamp(at)).await?;
        }
        Endpoint::Subscriber(s) => {
            state
                .store
                .set_subscriber_state(
                    &Write::new(org, Actor::schedule(), at),
                    s.subscriber.id,
                    &[SubscriberState::Active],
                    SubscriberState::Quarantined,
                )
                .await?;
        }
    }
    Ok(())
}

/// One attempt of a leased delivery: send (signed POST, email or chat message), record, and keep the
/// endpoint's health (410, or 24 h of failures, stops it).
async fn attempt(
    state: &AppState,
    batch: &Batch,
    endpoint: &Endpoint,
    record: &DeliveryRecord,
) -> Result<Delivery, StoreError> {
    let started = state.clock.now();
    match send(state, batch, endpoint, record, started).await? {
        Some(sent) => settle(state, endpoint, record, sent, started).await,
        None => abandoned(state, record).await,
    }
}

/// Ends a delivery its endpoint no longer takes.
async fn abandoned(state: &AppState, record: &DeliveryRecord) -> Result<Delivery, StoreError> {
    state.store.abandon_delivery(record.org_id, record.delivery.id).await?;
    let mut delivery = record.delivery.clone();
    delivery.state = DeliveryState::Failed;
    delivery.next_attempt_at = None;
    Ok(delivery)
}

/// Sends a leased delivery (signed POST, email, or a chat message); `None` when the endpoint no longer
/// takes it.
async fn send(
    state: &AppState,
    batch: &Batch,
    endpoint: &Endpoint,
    record: &DeliveryRecord,
    started: DateTime<Utc>,
) -> Result<Option<Sent>, StoreError> {
    let at = timestamp(started);
    let event_type = record.delivery.event_type.as_str();
    if !(endpoint.takes(event_type) || event_type == "ping") {
        return Ok(None);
    }
    let sent = match endpoint {
        Endpoint::Webhook(w) => {
            let secrets = w.active_secrets(&at).map(|s| s.sealed.as_str());
            let owner = Owner::Webhook { org: w.org_id, id: w.webhook.id };
            post_signed(state, &w.webhook.url, secrets, owner, record, started).await?
        }
        Endpoint::Subscriber(s) => {
            let sub = &s.subscriber;
            match (sub.kind.chat(), &sub.url, &sub.email, &s.secret) {
                (Some(kind), _, _, Some(sealed)) => {
                    let url = state
                        .sealer
                        .open_for(sealed, Owner::Subscriber { org: s.org_id, id: sub.id })
                        .map_err(StoreError::internal)?;
                    send_chat(state, batch, s, kind, &url, record).await?
                }
                (None, Some(url), _, Some(secret)) => {
                    let owner = Owner::Subscriber { org: s.org_id, id: sub.id };
                    post_signed(state, url, std::iter::once(secret.as_str()), owner, record, started).await?
                }
                (None, _, Some(email), _) => send_email(state, batch, s, email, record, started).await?,
                _ => return Err(StoreError::internal("a subscriber with no URL or email address to reach it")),
            }
        }
    };
    Ok(Some(sent))
}

/// Records a sent attempt and keeps the endpoint's health (410, or 24 h of failures,
/// stops it).
async fn settle(
    state: &AppState,
    endpoint: &Endpoint,
    record: &DeliveryRecord,
    sent: Sent,
    started: DateTime<Utc>,
) -> Result<Delivery, StoreError> {
    let org = record.org_id;
    let id = record.delivery.id;
    let at = timestamp(started);
    let attempt =
        Attempt { at: at.clone(), status_code: sent.status, latency_ms: sent.latency_ms, error: sent.error.clone() };
    let retry_number = record.delivery.attempts.len() + 1;
    let sk = endpoint.sk();
    let next = if sent.ok {
        // Always: the record in hand may predate a failure recorded meanwhile.
        state.store.clear_endpoint_failing(org, &sk).await?;
        Next::Delivered
    } else if sent.gone {
        stop_endpoint(state, org, endpoint, "the endpoint answered 410 Gone", started).await?;
        Next::Failed
    } else {
        if let Some(since) = state.store.mark_endpoint_failing(org, &sk, &at).await? {
            let since = DateTime::parse_from_rfc3339(&since).map_err(StoreError::internal)?.to_utc();
            if started - since >= Duration::seconds(QUARANTINE_SECS) {
                stop_endpoint(state, org, endpoint, "every delivery failed for 24 hours", started).await?;
            }
        }
        next_after_failure(started, retry_number, sent.retry_after)
    };
    state.store.record_attempt(org, id, &attempt, &next).await?;
    let mut delivery = record.delivery.clone();
    delivery.attempts.push(attempt);
    (delivery.state, delivery.next_attempt_at) = match next {
        Next::Delivered => (DeliveryState::Delivered, None),
        Next::Failed => (DeliveryState::Failed, None),
        Next::RetryAt(at) => (DeliveryState::Pending, Some(at)),
    };
    Ok(delivery)
}

/// When to try again after failed attempt number `attempt`: the schedule's delay with
/// jitter, or the receiver's `Retry-After` when that is longer (capped at 10 h).
fn next_after_failure(now: DateTime<Utc>, attempt: usize, retry_after: Option<u64>) -> Next {
    let Some(delay) = retry_delay(attempt) else { return Next::Failed };
    let asked = retry_after.map(|s| Duration::seconds(i64::try_from(s.min(RETRY_AFTER_MAX_SECS)).unwrap_or(0)));
    let delay = asked.map_or(delay, |asked| asked.max(delay));
    Next::RetryAt(timestamp(now + delay))
}

impl Delivery {
    fn state_is_delivered(&self) -> bool {
        self.state == DeliveryState::Delivered
    }
}
