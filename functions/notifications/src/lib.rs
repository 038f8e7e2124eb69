//! The notifications endpoint group: the audit log (`/api/v1/events`), the
//! organization's webhooks and the pages' subscribers with their delivery logs, and
//! manual retries. The same crate
//! holds the two functions that serve no route: `notifier` (the table's stream) and
//! `scheduler` (the minute tick).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use livestatus_shared::auth::Principal;
use livestatus_shared::delivery;
use livestatus_shared::http::{
    IdempotentJson, JsonBody, ListParams, created, data, data_body, list, nullable, path_id,
};
use livestatus_shared::outbound::sealing::{Owner, Sealer};
use livestatus_shared::outbound::signing;
use livestatus_shared::store::events::{EventFilter, EventType};
use livestatus_shared::store::idempotency::Outcome;
use livestatus_shared::store::webhooks::{NewWebhook, ROTATION_OVERLAP_SECS, Webhook, WebhookPatch};
use livestatus_shared::{ApiError, AppState, domain};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod mailer;
pub mod stream;
pub mod subscribers;
pub mod workers;

use subscribers::{
    create_subscriber, delete_subscriber, get_subscriber, list_subscriber_deliveries, list_subscribers, test_subscriber,
};

/// This group's routes, unfinished, for merging into the local server.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/events", get(list_events))
        .route("/api/v1/webhooks", get(list_webhooks).post(create_webhook))
        .route("/api/v1/webhooks/{webhookId}", get(get_webhook).patch(update_webhook).delete(delete_webhook))
        .route("/api/v1/webhooks/{webhookId}/rotate-secret", post(rotate_secret))
        .route("/api/v1/webhooks/{webhookId}/test", post(test_webhook))
        .route("/api/v1/webhooks/{webhookId}/deliveries", get(list_deliveries))
        .route("/api/v1/deliveries/{deliveryId}/retry", post(retry_delivery))
        .route("/api/v1/pages/{pageId}/subscribers", get(list_subscribers).post(create_subscriber))
        .route("/api/v1/subscribers/{subscriberId}", get(get_subscriber).delete(delete_subscriber))
        .route("/api/v1/subscribers/{subscriberId}/test", post(test_subscriber))
        .route("/api/v1/subscribers/{subscriberId}/deliveries", get(list_subscriber_deliveries))
}

/// The state of this crate's functions: the shared state with the SES mailer when
/// `EMAIL_FROM` is set.
pub async fn with_mailer_from_env(state: AppState) -> AppState {
    match mailer::SesMailer::from_env().await {
        Some(mailer) => state.with_mailer(std::sync::Arc::new(mailer)),
        None => state,
    }
}

/// The function's complete router.
pub fn router(state: AppState) -> Router {
    livestatus_shared::finish_router(routes(), state)
}

/// The `type` filter: a known type, or a family such as `incident.*`.
fn type_filter(raw: &str) -> Result<String, ApiError> {
    let known = match raw.strip_suffix(".*") {
        Some(family) => EventType::ALL.iter().any(|t| t.as_str().split('.').next() == Some(family)),
        None => EventType::parse(raw).is_some(),
    };
    if !known {
        let shown: String = raw.chars().take(64).collect();
        return Err(ApiError::invalid_field(
            "type",
            format_args!("`{shown}` is not an event type (e.g. `incident.created`, or `incident.*` for the family)"),
        ));
    }
    Ok(raw.to_owned())
}

async fn list_events(State(state): State<AppState>, who: Principal, params: ListParams) -> Result<Response, ApiError> {
    params.only(&["type", "pageId"])?;
    let filter = EventFilter {
        kind: params.get("type").map(type_filter).transpose()?,
        page: params
            .get("pageId")
            .map(|p| Uuid::parse_str(p).map_err(|_| ApiError::invalid_field("pageId", "must be a page id (a UUID)")))
            .transpose()?,
    };
    let mut listing =
        state.store.list_events(who.org_id, &filter, state.now_epoch(), params.limit, params.cursor.as_deref()).await?;
    for event in &mut listing.items {
        event.redact_for(&who.scopes);
    }
    Ok(list(listing.items, listing.next_cursor))
}

const DESCRIPTION_MAX: usize = 500;
pub(crate) const URL_MAX: usize = 2048;
const PAGE_IDS_MAX: usize = 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateWebhook {
    url: String,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    page_ids: Option<Vec<String>>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateWebhook {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    page_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// A webhook with its secret: the create and rotate answers, the only times it is shown.
#[derive(Serialize)]
struct WithSecret {
    #[serde(flatten)]
    webhook: Webhook,
    secret: String,
}

/// The URL, checked by the address guard now (and again at every send).
pub(crate) async fn webhook_url(state: &AppState, raw: String) -> Result<String, ApiError> {
    let raw = domain::text("url", raw, 1, URL_MAX)?;
    if raw.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid_field("url", "must not contain whitespace"));
    }
    state.sender.check_webhook_url(&raw).await.map_err(|refusal| ApiError::invalid_field("url", refusal))?;
    Ok(raw)
}

/// Event type names: known types (audit-only ones too, when asked for by name), no
/// duplicates; the `subscriber.*` types (they carry addresses) only for a key that may
/// read subscribers.
fn event_names(who: &Principal, raw: Vec<String>) -> Result<Vec<String>, ApiError> {
    let mut names = Vec::with_capacity(raw.len());
    for name in raw {
        let Some(kind) = EventType::parse(&name) else {
            let shown: String = name.chars().take(64).collect();
            return Err(ApiError::invalid_field("events", format_args!("`{shown}` is not an event type")));
        };
        if kind.as_str().starts_with("subscriber.") {
            who.require(livestatus_shared::domain::Scope::SubscribersRead)?;
        }
        if !names.iter().any(|n| n == kind.as_str()) {
            names.push(kind.as_str().to_owned());
        }
    }
    Ok(names)
}

/// Page ids that are pages of the organization.
async fn page_ids(state: &AppState, org: Uuid, raw: Vec<String>) -> Result<Vec<Uuid>, ApiError> {
    if raw.len() > PAGE_IDS_MAX {
        return Err(ApiError::invalid_field("pageIds", format_args!("may name at most {PAGE_IDS_MAX} pages")));
    }
    let mut ids = Vec::with_capacity(raw.len());
    for raw in raw {
        let id = Uuid::parse_str(&raw).map_err(|_| ApiError::invalid_field("pageIds", "must be page ids (UUIDs)"))?;
        if state.store.get_page(org, id).await?.is_none() {
            return Err(ApiError::invalid_field("pageIds", format_args!("no page {id} in this organization")));
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

fn description(raw: String) -> Result<String, ApiError> {
    Ok(domain::text("description", raw, 0, DESCRIPTION_MAX)?)
}

async fn list_webhooks(
    State(state): State<AppState>,
    who: Principal,
    params: ListParams,
) -> Result<Response, ApiError> {
    params.only(&[])?;
    let listing = state.store.list_webhooks(who.org_id, params.limit, params.cursor.as_deref()).await?;
    Ok(list(listing.items, listing.next_cursor))
}

async fn create_webhook(
    State(state): State<AppState>,
    who: Principal,
    IdempotentJson { body, key }: IdempotentJson<CreateWebhook>,
) -> Result<Response, ApiError> {
    let new = NewWebhook {
        id: Uuid::now_v7(),
        url: webhook_url(&state, body.url).await?,
        events: event_names(&who, body.events.unwrap_or_default())?,
        page_ids: page_ids(&state, who.org_id, body.page_ids.unwrap_or_default()).await?,
        description: body.description.map(description).transpose()?,
    };
    let secret = signing::new_secret();
    let record = |webhook: &Webhook| {
        sealed_answer(&state.sealer, &WithSecret { webhook: webhook.clone(), secret: secret.clone() })
    };
    let sealed = state.sealer.seal_for(&secret, Owner::Webhook { org: who.org_id, id: new.id });
    let outcome = state.store.create_webhook(&state.write(&who, key.as_ref()), new, sealed, &record).await?;
    created_or_replayed(&state, outcome, |webhook| WithSecret { webhook, secret: secret.clone() })
}

/// A create's answer as its `Idempotency-Key` record keeps it: sealed like the secrets,
/// since it may show one.
pub(crate) fn sealed_answer(sealer: &Sealer, value: &impl Serialize) -> Vec<u8> {
    sealer.seal(&String::from_utf8(data_body(value)).expect("JSON is UTF-8")).into_bytes()
}

/// `201` with the new resource, or the first answer of this `Idempotency-Key`, opened and
/// replayed byte for byte.
pub(crate) fn created_or_replayed<T, R: Serialize>(
    state: &AppState,
    outcome: Outcome<T>,
    fresh: impl FnOnce(T) -> R,
) -> Result<Response, ApiError> {
    match outcome {
        Outcome::Created(value) => Ok(data(StatusCode::CREATED, fresh(value))),
        Outcome::Replayed { status, body } => {
            let opened = state
                .sealer
                .open(std::str::from_utf8(&body).map_err(ApiError::internal)?)
                .map_err(ApiError::internal)?;
            Ok(created(Outcome::<()>::Replayed { status, body: opened.into_bytes() }))
        }
    }
}

async fn get_webhook(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Webhook")?;
    let record = state.store.get_webhook(who.org_id, id).await?.ok_or_else(|| ApiError::not_found("Webhook"))?;
    Ok(data(StatusCode::OK, record.webhook))
}

async fn update_webhook(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateWebhook>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Webhook")?;
    let url = match body.url {
        Some(url) => Some(webhook_url(&state, url).await?),
        None => None,
    };
    let pages = match body.page_ids {
        Some(raw) => Some(page_ids(&state, who.org_id, raw).await?),
        None => None,
    };
    let patch = WebhookPatch {
        url,
        events: body.events.map(|e| event_names(&who, e)).transpose()?,
        page_ids: pages,
        description: body.description.map(|d| d.map(description).transpose()).transpose()?,
        enabled: body.enabled,
    };
    let webhook = state.store.update_webhook(&state.write(&who, None), id, patch).await?;
    Ok(data(StatusCode::OK, webhook))
}

async fn delete_webhook(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "Webhook")?;
    state.store.delete_webhook(&state.write(&who, None), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate_secret(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Webhook")?;
    let secret = signing::new_secret();
    let now = state.clock.now();
    let until = livestatus_shared::clock::timestamp(now + chrono::Duration::seconds(ROTATION_OVERLAP_SECS));
    let webhook = state
        .store
        .rotate_webhook_secret(
            &state.write(&who, None),
            id,
            state.sealer.seal_for(&secret, Owner::Webhook { org: who.org_id, id }),
            &until,
        )
        .await?;
    Ok(data(StatusCode::OK, WithSecret { webhook, secret }))
}

async fn test_webhook(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Webhook")?;
    let record = state.store.get_webhook(who.org_id, id).await?.ok_or_else(|| ApiError::not_found("Webhook"))?;
    if !record.webhook.enabled {
        return Err(ApiError::invalid_field("enabled", "the webhook is disabled; enable it to send a test"));
    }
    let delivery = delivery::ping(&state, who.org_id, &delivery::Endpoint::Webhook(record)).await?;
    Ok(data(StatusCode::ACCEPTED, delivery))
}

async fn list_deliveries(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    params.only(&[])?;
    let id = path_id(&id, "Webhook")?;
    state.store.get_webhook(who.org_id, id).await?.ok_or_else(|| ApiError::not_found("Webhook"))?;
    let listing = state.store.list_deliveries(who.org_id, id, params.limit, params.cursor.as_deref()).await?;
    Ok(list(listing.items, listing.next_cursor))
}

async fn retry_delivery(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Delivery")?;
    let delivery = delivery::retry_now(&state, &who, id).await?.ok_or_else(|| ApiError::not_found("Delivery"))?;
    Ok(data(StatusCode::ACCEPTED, delivery))
}
