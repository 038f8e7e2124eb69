//! The subscriber routes: a page's subscribers (email, webhook, chat channels) added, listed, read, tested and
//! unsubscribed by API key (`subscribers:*`), with their delivery logs.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use livestatus_shared::auth::Principal;
use livestatus_shared::delivery;
use livestatus_shared::domain::EmailAddress;
use livestatus_shared::domain::chat::{self, ChatKind};
use livestatus_shared::http::{IdempotentJson, ListParams, data, list, path_id};
use livestatus_shared::outbound::sealing::Owner;
use livestatus_shared::outbound::signing;
use livestatus_shared::store::incidents::MAX_AFFECTED_SERVICES;
use livestatus_shared::store::subscribers::{Contact, NewSubscriber, Subscriber, SubscriberRecord, SubscriberState};
use livestatus_shared::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateSubscriber {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    service_ids: Option<Vec<String>>,
    #[serde(default)]
    skip_confirmation: Option<bool>,
}

/// A webhook subscriber with its secret: the create answer, the only time it is shown.
#[derive(Serialize)]
struct WithSecret {
    #[serde(flatten)]
    subscriber: Subscriber,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

/// Service ids that are services of the page, without duplicates (at most 50).
pub async fn service_ids(state: &AppState, org: Uuid, page: Uuid, raw: Vec<String>) -> Result<Vec<Uuid>, ApiError> {
    if raw.len() > MAX_AFFECTED_SERVICES {
        return Err(ApiError::invalid_field(
            "serviceIds",
            format_args!("may name at most {MAX_AFFECTED_SERVICES} services"),
        ));
    }
    let mut ids = Vec::with_capacity(raw.len());
    for raw in raw {
        let id =
            Uuid::parse_str(&raw).map_err(|_| ApiError::invalid_field("serviceIds", "must be service ids (UUIDs)"))?;
        if ids.contains(&id) {
            continue;
        }
        match state.store.get_service(org, id).await? {
            Some(service) if service.page_id == page => ids.push(id),
            _ => return Err(ApiError::invalid_field("serviceIds", format_args!("no service {id} on this page"))),
        }
    }
    Ok(ids)
}

pub(crate) async fn create_subscriber(
    State(state): State<AppState>,
    who: Principal,
    Path(page): Path<String>,
    IdempotentJson { body, key }: IdempotentJson<CreateSubscriber>,
) -> Result<Response, ApiError> {
    let page = path_id(&page, "Page")?;
    state.store.get_page(who.org_id, page).await?.ok_or_else(|| ApiError::not_found("Page"))?;
    let mut secret = None;
    let id = Uuid::now_v7();
    let (contact, confirmed) = match body.kind.as_str() {
        "email" => {
            if body.url.is_some() {
                return Err(ApiError::invalid_field(
                    "url",
                    "is for webhook subscribers and chat channels; email ones take `email`",
                ));
            }
            let raw =
                body.email.ok_or_else(|| ApiError::invalid_field("email", "is required for email subscribers"))?;
            (Contact::Email(EmailAddress::parse("email", &raw)?), body.skip_confirmation.unwrap_or(false))
        }
        "webhook" => {
            if body.email.is_some() || body.skip_confirmation.is_some() {
                return Err(ApiError::invalid_field(
                    if body.email.is_some() { "email" } else { "skipConfirmation" },
                    "is for email subscribers; webhook ones take `url` and are active at once",
                ));
            }
            let raw = body.url.ok_or_else(|| ApiError::invalid_field("url", "is required for webhook subscribers"))?;
            let url = crate::webhook_url(&state, raw).await?;
            let plain = signing::new_secret();
            let sealed_secret = state.sealer.seal_for(&plain, Owner::Subscriber { org: who.org_id, id });
            secret = Some(plain);
            (Contact::Webhook { url, sealed_secret }, true)
        }
        other => {
            let Some(chat) = ChatKind::parse(other) else {
                let shown: String = other.chars().take(32).collect();
                return Err(ApiError::invalid_field(
                    "type",
                    format_args!(
                        "must be `email`, `webhook`, `slack`, `discord`, `teams` or `googlechat` (got `{shown}`)"
                    ),
                ));
            };
            let name = chat.name();
            if body.email.is_some() || body.skip_confirmation.is_some() {
                return Err(ApiError::invalid_field(
                    if body.email.is_some() { "email" } else { "skipConfirmation" },
                    format_args!("is for email subscribers; {name} channels take `url` and are active at once"),
                ));
            }
            let raw = body.url.ok_or_else(|| {
                ApiError::invalid_field("url", format_args!("is required: the channel's {name} webhook URL"))
            })?;
            let url = crate::webhook_url(&state, raw).await?;
            // The local run (private targets allowed) takes any URL, so tests can receive.
            if !state.sender.policy().allow_private && !chat.accepts(&url) {
                return Err(ApiError::invalid_field(
                    "url",
                    format_args!("must be a {name} incoming-webhook URL: {}", chat.hosts()),
                ));
            }
            let sealed_url = state.sealer.seal_for(&url, Owner::Subscriber { org: who.org_id, id });
            (Contact::Chat { kind: chat, shown_url: chat::redact(&url), sealed_url }, true)
        }
    };
    let new = NewSubscriber {
        id,
        contact,
        service_ids: service_ids(&state, who.org_id, page, body.service_ids.unwrap_or_default()).await?,
        confirmed,
    };
    let record = |subscriber: &Subscriber| {
        crate::sealed_answer(&state.sealer, &WithSecret { subscriber: subscriber.clone(), secret: secret.clone() })
    };
    let outcome = state.store.create_subscriber(&state.write(&who, key.as_ref()), page, new, &record).await?;
    crate::created_or_replayed(&state, outcome, |subscriber| WithSecret { subscriber, secret: secret.clone() })
}

pub(crate) async fn list_subscribers(
    State(state): State<AppState>,
    who: Principal,
    Path(page): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    params.only(&["state"])?;
    let page = path_id(&page, "Page")?;
    let filter = params
        .get("state")
        .map(|raw| {
            SubscriberState::parse(raw).ok_or_else(|| {
                ApiError::invalid_field("state", "must be one of pending, active, quarantined, unsubscribed")
            })
        })
        .transpose()?;
    state.store.get_page(who.org_id, page).await?.ok_or_else(|| ApiError::not_found("Page"))?;
    let listing =
        state.store.list_subscribers(who.org_id, page, filter, params.limit, params.cursor.as_deref()).await?;
    Ok(list(listing.items, listing.next_cursor))
}

async fn find(state: &AppState, org: Uuid, raw: &str) -> Result<SubscriberRecord, ApiError> {
    let id = path_id(raw, "Subscriber")?;
    state.store.get_subscriber(org, id).await?.ok_or_else(|| ApiError::not_found("Subscriber"))
}

pub(crate) async fn get_subscriber(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(data(StatusCode::OK, find(&state, who.org_id, &id).await?.subscriber))
}

/// Unsubscribes at once (the subscriber stays listed as `unsubscribed`); repeating it
/// changes nothing.
pub(crate) async fn delete_subscriber(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let record = find(&state, who.org_id, &id).await?;
    let from = [SubscriberState::Pending, SubscriberState::Active, SubscriberState::Quarantined];
    state
        .store
        .set_subscriber_state(&state.write(&who, None), record.subscriber.id, &from, SubscriberState::Unsubscribed)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn test_subscriber(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let record = find(&state, who.org_id, &id).await?;
    if record.subscriber.state != SubscriberState::Active {
        return Err(ApiError::invalid_field(
            "state",
            format_args!(
                "the subscriber is {}; only active subscribers are sent tests",
                record.subscriber.state.as_str()
            ),
        ));
    }
    // A test email's links come from the deployment's public URL, never from a request
    // header a client could set.
    let delivery = delivery::ping(&state, who.org_id, &delivery::Endpoint::Subscriber(record)).await?;
    Ok(data(StatusCode::ACCEPTED, delivery))
}

pub(crate) async fn list_subscriber_deliveries(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    params.only(&[])?;
    let record = find(&state, who.org_id, &id).await?;
    let listing =
        state.store.list_deliveries(who.org_id, record.subscriber.id, params.limit, params.cursor.as_deref()).await?;
    Ok(list(listing.items, listing.next_cursor))
}
