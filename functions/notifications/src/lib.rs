//! The notifications endpoint group: the audit log (`/api/v1/events`) and, as the
//! event pipeline grows, the subscribers, webhooks and deliveries built on it.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use livestatus_shared::auth::Principal;
use livestatus_shared::http::{ListParams, list};
use livestatus_shared::store::events::{EventFilter, EventType};
use livestatus_shared::{ApiError, AppState};
use uuid::Uuid;

/// This group's routes, unfinished, for merging into the local server.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/events", get(list_events))
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
    let listing =
        state.store.list_events(who.org_id, &filter, state.now_epoch(), params.limit, params.cursor.as_deref()).await?;
    Ok(list(listing.items, listing.next_cursor))
}
