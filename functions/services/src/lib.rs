//! The services endpoint group: `/api/v1/pages/{pageId}/services`,
//! `/api/v1/services/{serviceId}` and its uptime.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use livestatus_shared::auth::Principal;
use livestatus_shared::domain::uptime;
use livestatus_shared::domain::{self, Scope, ServiceStatus};
use livestatus_shared::http::{IdempotentJson, JsonBody, ListParams, created, data, list, nullable, path_id};
use livestatus_shared::store::services::{NewService, ServicePatch, StatusSource};
use livestatus_shared::{ApiError, AppState};
use serde::Deserialize;

/// This group's routes, unfinished, for merging into the local server.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/pages/{pageId}/services", get(list_services).post(create_service))
        .route("/api/v1/services/{serviceId}", get(get_service).patch(update_service).delete(delete_service))
        .route("/api/v1/services/{serviceId}/uptime", get(get_uptime))
}

/// The function's complete router.
pub fn router(state: AppState) -> Router {
    livestatus_shared::finish_router(routes(), state)
}

const NAME_MAX: usize = 100;
const DISPLAY_ORDER_MAX: u32 = 10_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateService {
    name: String,
    #[serde(default)]
    monitor_url: Option<String>,
    #[serde(default)]
    current_status: Option<ServiceStatus>,
    #[serde(default)]
    display_order: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateService {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    monitor_url: Option<Option<String>>,
    #[serde(default)]
    current_status: Option<ServiceStatus>,
    #[serde(default)]
    display_order: Option<u32>,
}

fn display_order(order: u32) -> Result<u32, ApiError> {
    if order > DISPLAY_ORDER_MAX {
        return Err(ApiError::invalid_field(
            "displayOrder",
            format_args!("must be an integer from 0 to {DISPLAY_ORDER_MAX}"),
        ));
    }
    Ok(order)
}

async fn list_services(
    State(state): State<AppState>,
    who: Principal,
    Path(page): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    params.only(&[])?;
    let page = path_id(&page, "Page")?;
    let listing = state.store.list_services(who.org_id, page, params.limit, params.cursor.as_deref()).await?;
    Ok(list(listing.items, listing.next_cursor))
}

async fn create_service(
    State(state): State<AppState>,
    who: Principal,
    Path(page): Path<String>,
    request: IdempotentJson<CreateService>,
) -> Result<Response, ApiError> {
    let page = path_id(&page, "Page")?;
    let body = request.body;
    if body.monitor_url.is_some() {
        // A monitor URL makes a linked monitor: the monitors' scope, not only the services'.
        who.require(Scope::MonitorsWrite)?;
    }
    let new = NewService {
        id: uuid::Uuid::now_v7(),
        name: domain::name("name", body.name, NAME_MAX)?,
        monitor_url: body.monitor_url.map(domain::monitor_url).transpose()?,
        current_status: body.current_status.unwrap_or_default(),
        display_order: display_order(body.display_order.unwrap_or(0))?,
    };
    let outcome = state.store.create_service(&state.write(&who, request.key.as_ref()), page, new).await?;
    Ok(created(outcome))
}

async fn get_service(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Service")?;
    let service = state.store.get_service(who.org_id, id).await?.ok_or_else(|| ApiError::not_found("Service"))?;
    Ok(data(StatusCode::OK, service))
}

async fn update_service(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateService>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Service")?;
    if body.monitor_url.is_some() {
        // Setting or removing the URL makes or removes the linked monitor.
        who.require(Scope::MonitorsWrite)?;
    }
    let patch = ServicePatch {
        name: body.name.map(|n| domain::name("name", n, NAME_MAX)).transpose()?,
        monitor_url: body.monitor_url.map(|u| u.map(domain::monitor_url).transpose()).transpose()?,
        current_status: body.current_status,
        display_order: body.display_order.map(display_order).transpose()?,
        unless_in_maintenance: false,
    };
    let service = state.store.update_service(&state.write(&who, None), id, patch, StatusSource::Api).await?;
    Ok(data(StatusCode::OK, service))
}

async fn delete_service(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "Service")?;
    state.store.delete_service(&state.write(&who, None), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Longest uptime range, in days.
const UPTIME_MAX_DAYS: i64 = 366;
/// Default uptime range, in days, ending today.
const UPTIME_DEFAULT_DAYS: i64 = 90;

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Uptime {
    service_id: uuid::Uuid,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    #[serde(flatten)]
    totals: uptime::Totals,
    days: Vec<uptime::Day>,
}

async fn get_uptime(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    params.only(&["from", "to"])?;
    let id = path_id(&id, "Service")?;
    let now = state.clock.now();
    let (from, to) = params.date_range(now.date_naive(), UPTIME_DEFAULT_DAYS, UPTIME_MAX_DAYS)?;
    let service = state.store.get_service(who.org_id, id).await?.ok_or_else(|| ApiError::not_found("Service"))?;
    let since = livestatus_shared::clock::timestamp(from.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    let changes = state.store.service_status_changes(who.org_id, id, &since).await?;
    let created = chrono::DateTime::parse_from_rfc3339(&service.created_at).map_err(ApiError::internal)?.to_utc();
    let days = uptime::days(created, service.current_status, &changes, from, to, now);
    Ok(data(StatusCode::OK, Uptime { service_id: id, from, to, totals: uptime::totals(&days), days }))
}
