//! The incidents endpoint group: `/api/v1/pages/{pageId}/incidents`, the organization's
//! `/api/v1/incidents`, `/api/v1/incidents/{incidentId}` with its `/updates` and
//! `/postmortem`; and the alert
//! integrations that open incidents from on-call tools ([`integrations`], [`hooks`]).

pub mod hooks;
mod integrations;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use livestatus_shared::auth::Principal;
use livestatus_shared::domain::{self, Impact, IncidentStatus};
use livestatus_shared::http::{IdempotentJson, JsonBody, ListParams, created, data, list, path_id};
use livestatus_shared::store::incidents::{
    IncidentFilter, IncidentPatch, MAX_AFFECTED_SERVICES, NewIncident, NewPostmortem, NewUpdate,
};
use livestatus_shared::{ApiError, AppState};
use serde::Deserialize;
use uuid::Uuid;

/// This group's routes, unfinished, for merging into the local server.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/pages/{pageId}/incidents", get(list_incidents).post(create_incident))
        .route("/api/v1/incidents", get(list_org_incidents))
        .route("/api/v1/incidents/{incidentId}", get(get_incident).patch(update_incident).delete(delete_incident))
        .route("/api/v1/incidents/{incidentId}/updates", post(create_incident_update))
        .route("/api/v1/incidents/{incidentId}/postmortem", put(put_postmortem).delete(delete_postmortem))
        .route("/api/v1/pages/{pageId}/integrations", get(integrations::list_for_page).post(integrations::create))
        .route(
            "/api/v1/integrations/{integrationId}",
            get(integrations::get).patch(integrations::update).delete(integrations::delete),
        )
        .route("/api/v1/integrations/{integrationId}/rotate-token", post(integrations::rotate_token))
        .route("/api/v1/integrations/{integrationId}/requests", get(integrations::requests))
        .route("/api/v1/hooks/{integrationId}", post(hooks::receive))
}

/// The function's complete router.
pub fn router(state: AppState) -> Router {
    livestatus_shared::finish_router(routes(), state)
}

const TITLE_MAX: usize = 200;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateIncident {
    title: String,
    impact: Impact,
    status: IncidentStatus,
    body: String,
    #[serde(default)]
    affected_service_ids: Option<Vec<String>>,
    #[serde(default)]
    notify_subscribers: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateIncident {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    impact: Option<Impact>,
    #[serde(default)]
    affected_service_ids: Option<Vec<String>>,
    #[serde(default)]
    notify_subscribers: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateUpdate {
    body: String,
    #[serde(default)]
    status: Option<IncidentStatus>,
    #[serde(default)]
    notify_subscribers: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PutPostmortem {
    body: String,
    #[serde(default)]
    published: Option<bool>,
    #[serde(default)]
    notify_subscribers: Option<bool>,
}

fn service_ids(raw: Vec<String>) -> Result<Vec<Uuid>, ApiError> {
    Ok(domain::service_ids("affectedServiceIds", raw, MAX_AFFECTED_SERVICES)?)
}

/// The `status` and `open` filters of both incident lists.
fn incident_filter(params: &ListParams) -> Result<IncidentFilter, ApiError> {
    Ok(IncidentFilter {
        status: params
            .get("status")
            .map(|s| {
                IncidentStatus::parse(s).ok_or_else(|| {
                    ApiError::invalid_field("status", "must be one of investigating, identified, monitoring, resolved")
                })
            })
            .transpose()?,
        open: params
            .get("open")
            .map(|o| match o {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ApiError::invalid_field("open", "must be true or false")),
            })
            .transpose()?,
        page: None,
    })
}

async fn list_incidents(
    State(state): State<AppState>,
    who: Principal,
    Path(page): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    params.only(&["status", "open"])?;
    let page = path_id(&page, "Page")?;
    let filter = incident_filter(&params)?;
    let listing = state.store.list_incidents(who.org_id, page, &filter, params.limit, params.cursor.as_deref()).await?;
    Ok(list(listing.items, listing.next_cursor))
}

async fn list_org_incidents(
    State(state): State<AppState>,
    who: Principal,
    params: ListParams,
) -> Result<Response, ApiError> {
    params.only(&["status", "open", "pageId"])?;
    let mut filter = incident_filter(&params)?;
    filter.page = params
        .get("pageId")
        .map(|p| Uuid::parse_str(p).map_err(|_| ApiError::invalid_field("pageId", "must be a page id (a UUID)")))
        .transpose()?;
    let listing = state.store.list_org_incidents(who.org_id, &filter, params.limit, params.cursor.as_deref()).await?;
    Ok(list(listing.items, listing.next_cursor))
}

async fn create_incident(
    State(state): State<AppState>,
    who: Principal,
    Path(page): Path<String>,
    request: IdempotentJson<CreateIncident>,
) -> Result<Response, ApiError> {
    let page = path_id(&page, "Page")?;
    let body = request.body;
    let new = NewIncident {
        id: Uuid::now_v7(),
        title: domain::name("title", body.title, TITLE_MAX)?,
        impact: body.impact,
        status: body.status,
        body: domain::update_body(body.body)?,
        affected_service_ids: service_ids(body.affected_service_ids.unwrap_or_default())?,
        notify_subscribers: body.notify_subscribers.unwrap_or(true),
    };
    let outcome = state.store.create_incident(&state.write(&who, request.key.as_ref()), page, new).await?;
    Ok(created(outcome))
}

async fn get_incident(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Incident")?;
    let incident = state.store.get_incident(who.org_id, id).await?.ok_or_else(|| ApiError::not_found("Incident"))?;
    Ok(data(StatusCode::OK, incident))
}

async fn update_incident(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateIncident>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Incident")?;
    let patch = IncidentPatch {
        title: body.title.map(|t| domain::name("title", t, TITLE_MAX)).transpose()?,
        impact: body.impact,
        affected_service_ids: body.affected_service_ids.map(service_ids).transpose()?,
        notify_subscribers: body.notify_subscribers.unwrap_or(true),
    };
    let incident = state.store.update_incident(&state.write(&who, None), id, patch).await?;
    Ok(data(StatusCode::OK, incident))
}

async fn create_incident_update(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    request: IdempotentJson<CreateUpdate>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Incident")?;
    let body = domain::update_body(request.body.body)?;
    let notify_subscribers = request.body.notify_subscribers.unwrap_or(true);
    let outcome = state
        .store
        .add_incident_update(
            &state.write(&who, request.key.as_ref()),
            id,
            NewUpdate { body, status: request.body.status, notify_subscribers },
        )
        .await?;
    Ok(created(outcome))
}

async fn delete_incident(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "Incident")?;
    state.store.delete_incident(&state.write(&who, None), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT …/postmortem`: writes the postmortem, a draft unless `published` (then on the
/// incident's public page, and subscribers told once, unless `notifySubscribers` is
/// false). Answers the incident.
async fn put_postmortem(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PutPostmortem>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Incident")?;
    let new = NewPostmortem {
        body: domain::postmortem_body(body.body)?,
        published: body.published.unwrap_or(false),
        notify_subscribers: body.notify_subscribers.unwrap_or(true),
    };
    let incident = state.store.set_postmortem(&state.write(&who, None), id, Some(new)).await?;
    Ok(data(StatusCode::OK, incident))
}

async fn delete_postmortem(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "Incident")?;
    state.store.set_postmortem(&state.write(&who, None), id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
