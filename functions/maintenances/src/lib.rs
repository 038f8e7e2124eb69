//! The maintenance windows endpoint group: `/api/v1/pages/{pageId}/maintenances`,
//! `/api/v1/maintenances/{maintenanceId}` and its `/updates`. The scheduler (in the
//! notifications function) makes the timed transitions; these are the requests.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use livestatus_shared::auth::Principal;
use livestatus_shared::domain::{self, MaintenanceStatus};
use livestatus_shared::http::{IdempotentJson, JsonBody, ListParams, created, data, list, nullable, path_id};
use livestatus_shared::store::maintenances::{
    MAX_REMIND_MINUTES, MAX_SERVICES, MaintenancePatch, NewMaintenance, NewMaintenanceUpdate,
};
use livestatus_shared::{ApiError, AppState};
use serde::Deserialize;
use uuid::Uuid;

/// This group's routes, unfinished, for merging into the local server.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/pages/{pageId}/maintenances", get(list_maintenances).post(create_maintenance))
        .route(
            "/api/v1/maintenances/{maintenanceId}",
            get(get_maintenance).patch(update_maintenance).delete(cancel_maintenance),
        )
        .route("/api/v1/maintenances/{maintenanceId}/updates", post(create_maintenance_update))
}

/// The function's complete router.
pub fn router(state: AppState) -> Router {
    livestatus_shared::finish_router(routes(), state)
}

const TITLE_MAX: usize = 200;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateMaintenance {
    title: String,
    body: String,
    scheduled_for: String,
    scheduled_until: String,
    #[serde(default)]
    service_ids: Option<Vec<String>>,
    #[serde(default)]
    auto_start: Option<bool>,
    #[serde(default)]
    auto_complete: Option<bool>,
    #[serde(default)]
    notify_subscribers: Option<bool>,
    #[serde(default)]
    remind_before_minutes: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateMaintenance {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    scheduled_for: Option<String>,
    #[serde(default)]
    scheduled_until: Option<String>,
    #[serde(default)]
    service_ids: Option<Vec<String>>,
    #[serde(default)]
    auto_start: Option<bool>,
    #[serde(default)]
    auto_complete: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    remind_before_minutes: Option<Option<u32>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateUpdate {
    body: String,
    #[serde(default)]
    status: Option<String>,
}

fn service_ids(raw: Vec<String>) -> Result<Vec<Uuid>, ApiError> {
    Ok(domain::service_ids("serviceIds", raw, MAX_SERVICES)?)
}

fn remind(minutes: u32) -> Result<u32, ApiError> {
    if (1..=MAX_REMIND_MINUTES).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(ApiError::invalid_field("remindBeforeMinutes", format_args!("must be 1 to {MAX_REMIND_MINUTES} (a week)")))
    }
}

fn status_filter(raw: &str) -> Result<MaintenanceStatus, ApiError> {
    MaintenanceStatus::parse(raw).ok_or_else(|| {
        ApiError::invalid_field("status", "must be one of scheduled, in_progress, verifying, completed, cancelled")
    })
}

async fn list_maintenances(
    State(state): State<AppState>,
    who: Principal,
    Path(page): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    params.only(&["status"])?;
    let page = path_id(&page, "Page")?;
    let status = params.get("status").map(status_filter).transpose()?;
    let listing =
        state.store.list_maintenances(who.org_id, page, status, params.limit, params.cursor.as_deref()).await?;
    Ok(list(listing.items, listing.next_cursor))
}

async fn create_maintenance(
    State(state): State<AppState>,
    who: Principal,
    Path(page): Path<String>,
    request: IdempotentJson<CreateMaintenance>,
) -> Result<Response, ApiError> {
    let page = path_id(&page, "Page")?;
    let body = request.body;
    let new = NewMaintenance {
        id: Uuid::now_v7(),
        title: domain::name("title", body.title, TITLE_MAX)?,
        body: domain::update_body(body.body)?,
        scheduled_for: domain::instant("scheduledFor", &body.scheduled_for)?,
        scheduled_until: domain::instant("scheduledUntil", &body.scheduled_until)?,
        service_ids: service_ids(body.service_ids.unwrap_or_default())?,
        auto_start: body.auto_start.unwrap_or(true),
        auto_complete: body.auto_complete.unwrap_or(true),
        notify_subscribers: body.notify_subscribers.unwrap_or(true),
        remind_before_minutes: body.remind_before_minutes.map(remind).transpose()?,
    };
    let outcome = state.store.create_maintenance(&state.write(&who, request.key.as_ref()), page, new).await?;
    Ok(created(outcome))
}

async fn get_maintenance(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Maintenance")?;
    let found = state.store.get_maintenance(who.org_id, id).await?.ok_or_else(|| ApiError::not_found("Maintenance"))?;
    Ok(data(StatusCode::OK, found))
}

async fn update_maintenance(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateMaintenance>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Maintenance")?;
    let patch = MaintenancePatch {
        title: body.title.map(|t| domain::name("title", t, TITLE_MAX)).transpose()?,
        scheduled_for: body.scheduled_for.map(|t| domain::instant("scheduledFor", &t)).transpose()?,
        scheduled_until: body.scheduled_until.map(|t| domain::instant("scheduledUntil", &t)).transpose()?,
        service_ids: body.service_ids.map(service_ids).transpose()?,
        auto_start: body.auto_start,
        auto_complete: body.auto_complete,
        remind_before_minutes: body.remind_before_minutes.map(|r| r.map(remind).transpose()).transpose()?,
    };
    let updated = state.store.update_maintenance(&state.write(&who, None), id, patch).await?;
    Ok(data(StatusCode::OK, updated))
}

async fn create_maintenance_update(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    request: IdempotentJson<CreateUpdate>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Maintenance")?;
    let body = domain::update_body(request.body.body)?;
    let status = match request.body.status.as_deref() {
        None => None,
        Some(raw @ ("in_progress" | "verifying" | "completed")) => MaintenanceStatus::parse(raw),
        Some(_) => return Err(ApiError::invalid_field("status", "must be in_progress, verifying or completed")),
    };
    let outcome = state
        .store
        .add_maintenance_update(&state.write(&who, request.key.as_ref()), id, NewMaintenanceUpdate { body, status })
        .await?;
    Ok(created(outcome))
}

async fn cancel_maintenance(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "Maintenance")?;
    state.store.cancel_maintenance(&state.write(&who, None), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
