//! The API keys endpoint group: `/api/v1/keys`, `/api/v1/keys/{keyId}` and its `/usage`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get};
use chrono::{DateTime, Utc};
use livestatus_shared::auth::Principal;
use livestatus_shared::clock::timestamp;
use livestatus_shared::domain::{self, Scope, Scopes};
use livestatus_shared::http::{JsonBody, ListParams, data, list, path_id};
use livestatus_shared::store::api_keys::{ApiKey, NewKey};
use livestatus_shared::{ApiError, AppState};
use serde::{Deserialize, Serialize};

/// This group's routes, unfinished, for merging into the local server.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/keys", get(list_keys).post(create_key))
        .route("/api/v1/keys/{keyId}", delete(revoke_key))
        .route("/api/v1/keys/{keyId}/usage", get(get_key_usage))
}

/// The function's complete router.
pub fn router(state: AppState) -> Router {
    livestatus_shared::finish_router(routes(), state)
}

const NAME_MAX: usize = 120;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateKey {
    name: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    expires_at: Option<String>,
}

/// A key as the API shows it; `key` only in the response that creates it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyView<'a> {
    id: uuid::Uuid,
    name: &'a str,
    prefix: &'a str,
    scopes: &'a [String],
    status: &'static str,
    created_at: &'a str,
    last_used_at: Option<&'a str>,
    revoked_at: Option<&'a str>,
    expires_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
}

fn view<'a>(key: &'a ApiKey, now: &str, plaintext: Option<&'a str>) -> KeyView<'a> {
    let status = if key.revoked_at.is_some() {
        "revoked"
    } else if key.expires_at.as_deref().is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    };
    KeyView {
        id: key.id,
        name: &key.name,
        prefix: &key.prefix,
        scopes: &key.scopes,
        status,
        created_at: &key.created_at,
        last_used_at: key.last_used_at.as_deref(),
        revoked_at: key.revoked_at.as_deref(),
        expires_at: key.expires_at.as_deref(),
        key: plaintext,
    }
}

/// An RFC 3339 time in the future, normalised to the API's format.
fn expires_at(raw: &str, now: DateTime<Utc>) -> Result<String, ApiError> {
    let at = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| ApiError::invalid_field("expiresAt", "must be an RFC 3339 time such as 2027-01-01T00:00:00Z"))?
        .with_timezone(&Utc);
    if at <= now {
        return Err(ApiError::invalid_field("expiresAt", "must be in the future"));
    }
    Ok(timestamp(at))
}

async fn list_keys(State(state): State<AppState>, who: Principal, params: ListParams) -> Result<Response, ApiError> {
    params.only(&[])?;
    let listing = state.store.list_keys(who.org_id, params.limit, params.cursor.as_deref()).await?;
    let now = state.now();
    Ok(list(listing.items.iter().map(|k| view(k, &now, None)).collect(), listing.next_cursor))
}

async fn create_key(
    State(state): State<AppState>,
    who: Principal,
    JsonBody(body): JsonBody<CreateKey>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let name = domain::name("name", body.name, NAME_MAX)?;
    let scopes = Scope::parse_list("scopes", &body.scopes.unwrap_or_default())?;
    let expires = body.expires_at.as_deref().map(|e| expires_at(e, now)).transpose()?;
    // A key never mints a key with more power than it has.
    let requested = Scopes(scopes.clone());
    if !who.scopes.covers(&requested) {
        let missing = Scope::ALL
            .iter()
            .find(|s| requested.allows(**s) && !who.scopes.allows(**s))
            .expect("some scope is missing");
        return Err(ApiError::InsufficientScope(missing.as_str().to_owned()));
    }
    let org = state.store.get_org(who.org_id).await?.ok_or_else(|| ApiError::not_found("Organization"))?;
    let limits = org.plan.limits();
    if !limits.api_keys {
        return Err(ApiError::PlanLimit(format!(
            "API keys need the pro plan or higher; this organization is on {}.",
            org.plan.as_str()
        )));
    }
    let (key, plaintext) = state
        .store
        .create_key(
            &state.write(&who, None),
            NewKey { name, scopes: &scopes, expires_at: expires, rate_limit: limits.requests_per_minute },
        )
        .await?;
    Ok(data(StatusCode::CREATED, view(&key, &timestamp(now), Some(plaintext.expose()))))
}

async fn revoke_key(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "API key")?;
    state.store.revoke_key(&state.write(&who, None), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_key_usage(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "API key")?;
    let usage = state.store.key_usage(who.org_id, id, state.clock.now()).await?;
    Ok(data(StatusCode::OK, usage))
}
