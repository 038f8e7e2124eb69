//! Notifications: the notifier fans each event out into deliveries to the webhooks that
//! want it and makes their first attempts at once; the scheduler's tick makes the
//! retries that are due. Delivery follows Standard Webhooks (signed, same `webhook-id`
//! on every attempt), with retries on a schedule driven by the injected clock.

pub mod sealing;
pub mod sender;
pub mod signing;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use serde::Serialize;
use uuid::Uuid;

use crate::AppState;
use crate::clock::timestamp;
use crate::error::ApiError;
use crate::store::deliveries::{Attempt, Delivery, DeliveryRecord, Next, delivery_id};
use crate::store::events::{Event, EventItem};
use crate::store::schema;
use crate::store::webhooks::WebhookRecord;

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

/// The notifier's handler: fans one event out into deliveries and makes their first
/// attempts, concurrently with a bound. Idempotent: a replayed event makes no second
/// delivery (and attempts nothing for the ones that exist: they are leased or done).
pub async fn handle_event(state: &AppState, org: Uuid, event: &Event) -> Result<Outcome, ApiError> {
    let webhooks: Vec<WebhookRecord> =
        state.store.all_webhooks(org).await?.into_iter().filter(|w| wants(w, event)).collect();
    if webhooks.is_empty() {
        return Ok(Outcome::default());
    }
    let body = event_body(event);
    let results: Vec<Result<Option<bool>, ApiError>> = futures::stream::iter(webhooks)
        .map(|webhook| {
            let body = body.clone();
            async move {
                let id = delivery_id(event.id, webhook.webhook.id);
                let now = state.clock.now();
                let lease = now + Duration::seconds(LEASE_SECS);
                let created = state
                    .store
                    .create_delivery(
                        org,
                        id,
                        (event.id, event.kind.as_str()),
                        webhook.webhook.id,
                        body,
                        &timestamp(now),
                        now.timestamp(),
                        (lease.timestamp(), &timestamp(lease)),
                    )
                    .await?;
                match created {
                    Some(record) => attempt(state, &webhook, &record).await.map(|d| Some(d.state_is_delivered())),
                    None => Ok(None),
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut outcome = Outcome::default();
    for result in results {
        if let Some(delivered) = result? {
            outcome.deliveries += 1;
            outcome.delivered += usize::from(delivered);
        }
    }
    Ok(outcome)
}

/// A test ping to one webhook, made now: `{type: "ping", timestamp, data: {webhookId}}`.
pub async fn ping(state: &AppState, org: Uuid, webhook: &WebhookRecord) -> Result<Delivery, ApiError> {
    let now = state.clock.now();
    let event_id = Uuid::now_v7();
    let at = timestamp(now);
    let body = serde_json::to_string(&Payload {
        kind: "ping",
        timestamp: &at,
        data: serde_json::json!({ "webhookId": webhook.webhook.id }),
    })
    .expect("a JSON value serializes");
    let lease = now + Duration::seconds(LEASE_SECS);
    let record = state
        .store
        .create_delivery(
            org,
            delivery_id(event_id, webhook.webhook.id),
            (event_id, "ping"),
            webhook.webhook.id,
            body,
            &at,
            now.timestamp(),
            (lease.timestamp(), &timestamp(lease)),
        )
        .await?
        .ok_or_else(|| ApiError::internal("a fresh ping's delivery already existed"))?;
    attempt(state, webhook, &record).await
}

/// Delivers again now, with the same `webhook-id` (a manual retry). `None` when the
/// delivery is unknown; `Conflict`-like `None` is not possible: an attempt in flight
/// answers `service_unavailable` so the caller retries.
pub async fn retry_now(state: &AppState, org: Uuid, id: Uuid) -> Result<Option<Delivery>, ApiError> {
    let Some(existing) = state.store.get_delivery(org, id).await? else { return Ok(None) };
    let now = state.clock.now();
    let claimed = state
        .store
        .claim_delivery(org, id, now.timestamp(), (now + Duration::seconds(LEASE_SECS)).timestamp(), true)
        .await?
        .ok_or_else(|| ApiError::ServiceUnavailable("an attempt of this delivery is in progress".into()))?;
    let Some(webhook) = state.store.get_webhook(org, existing.delivery.endpoint_id).await? else {
        state.store.abandon_delivery(org, id).await?;
        return Ok(state.store.get_delivery(org, id).await?.map(|d| d.delivery));
    };
    attempt(state, &webhook, &claimed).await.map(Some)
}

/// The scheduler's tick: every delivery due now, claimed and attempted, concurrently
/// with a bound. Webhooks are read once per tick.
pub async fn run_due(state: &AppState) -> Result<Outcome, ApiError> {
    let now = state.clock.now();
    let mut due = Vec::new();
    for shard in 0..schema::DUE_SHARDS {
        due.extend(state.store.due_deliveries(shard, &timestamp(now), TICK_LIMIT).await?);
    }
    let webhooks = tokio::sync::Mutex::new(HashMap::<(Uuid, Uuid), Option<WebhookRecord>>::new());
    let results: Vec<Result<Option<bool>, ApiError>> = futures::stream::iter(due)
        .map(|due| {
            let webhooks = &webhooks;
            async move {
                let now = state.clock.now();
                let lease = (now + Duration::seconds(LEASE_SECS)).timestamp();
                let Some(record) =
                    state.store.claim_delivery(due.org_id, due.id, now.timestamp(), lease, false).await?
                else {
                    return Ok(None);
                };
                let endpoint = (due.org_id, record.delivery.endpoint_id);
                let cached = webhooks.lock().await.get(&endpoint).cloned();
                let webhook = match cached {
                    Some(webhook) => webhook,
                    None => {
                        let webhook = state.store.get_webhook(due.org_id, endpoint.1).await?;
                        webhooks.lock().await.insert(endpoint, webhook.clone());
                        webhook
                    }
                };
                let Some(webhook) = webhook else {
                    state.store.abandon_delivery(due.org_id, due.id).await?;
                    return Ok(Some(false));
                };
                attempt(state, &webhook, &record).await.map(|d| Some(d.state_is_delivered()))
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

/// One attempt of a leased delivery to a webhook: sign, send, record, and keep the
/// endpoint's health (410 or 24 h of failures disable it).
async fn attempt(state: &AppState, webhook: &WebhookRecord, record: &DeliveryRecord) -> Result<Delivery, ApiError> {
    let org = record.org_id;
    let id = record.delivery.id;
    let started = state.clock.now();
    let at = timestamp(started);
    if !webhook.webhook.enabled {
        state.store.abandon_delivery(org, id).await?;
        let mut delivery = record.delivery.clone();
        delivery.state = crate::store::deliveries::DeliveryState::Failed;
        delivery.next_attempt_at = None;
        return Ok(delivery);
    }
    let msg_id = id.to_string();
    let signatures = webhook
        .active_secrets(&at)
        .map(|s| {
            state
                .sealer
                .open(&s.sealed)
                .map(|secret| signing::sign(&secret, &msg_id, started.timestamp(), record.body.as_bytes()))
        })
        .collect::<Result<Vec<_>, _>>()?
        .join(" ");
    let headers = [
        ("webhook-id", msg_id.clone()),
        ("webhook-timestamp", started.timestamp().to_string()),
        ("webhook-signature", signatures),
    ];
    let sent = state.sender.post_json(&webhook.webhook.url, &headers, record.body.clone().into_bytes()).await;
    let attempt =
        Attempt { at: at.clone(), status_code: sent.status, latency_ms: sent.latency_ms, error: sent.error.clone() };
    let retry_number = record.delivery.attempts.len() + 1;
    let next = if sent.ok() {
        // Always: the record in hand may predate a failure recorded meanwhile.
        state.store.clear_webhook_failing(org, webhook.webhook.id).await?;
        Next::Delivered
    } else if sent.status == Some(410) {
        state.store.disable_webhook(org, webhook.webhook.id, "the endpoint answered 410 Gone", &at).await?;
        Next::Failed
    } else {
        if let Some(since) = state.store.mark_webhook_failing(org, webhook.webhook.id, &at).await? {
            let since = DateTime::parse_from_rfc3339(&since).map_err(ApiError::internal)?.to_utc();
            if started - since >= Duration::seconds(QUARANTINE_SECS) {
                state.store.disable_webhook(org, webhook.webhook.id, "every delivery failed for 24 hours", &at).await?;
            }
        }
        next_after_failure(started, retry_number, sent.retry_after)
    };
    state.store.record_attempt(org, id, &attempt, &next).await?;
    let mut delivery = record.delivery.clone();
    delivery.attempts.push(attempt);
    (delivery.state, delivery.next_attempt_at) = match next {
        Next::Delivered => (crate::store::deliveries::DeliveryState::Delivered, None),
        Next::Failed => (crate::store::deliveries::DeliveryState::Failed, None),
        Next::RetryAt(at) => (crate::store::deliveries::DeliveryState::Pending, Some(at)),
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
        self.state == crate::store::deliveries::DeliveryState::Delivered
    }
}
