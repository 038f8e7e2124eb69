//! Alert integrations (tools in), managed through the API: a page's
//! `/api/v1/pages/{pageId}/integrations`, `/api/v1/integrations/{integrationId}`, its
//! token rotation and its request log. The tools' own endpoint is in [`crate::hooks`].

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use livestatus_shared::auth::Principal;
use livestatus_shared::domain::alerts::{IntegrationType, SeverityEffect, default_severity_map};
use livestatus_shared::domain::{self, Invalid};
use livestatus_shared::http::{JsonBody, ListParams, data, list, path_id};
use livestatus_shared::outbound::sealing::Owner;
use livestatus_shared::store::integrations::{Integration, IntegrationPatch, NewIntegration};
use livestatus_shared::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::hooks::HookToken;

/// Most entries of `serviceMap` and of `severityMap`.
const MAX_MAP_ENTRIES: usize = 50;
/// Longest label name, map key and name.
const MAX_LABEL: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateIntegration {
    #[serde(rename = "type")]
    kind: IntegrationType,
    name: String,
    #[serde(default)]
    service_label: Option<String>,
    #[serde(default)]
    service_map: Option<BTreeMap<String, String>>,
    #[serde(default)]
    severity_map: Option<BTreeMap<String, SeverityEffect>>,
    #[serde(default)]
    auto_resolve: Option<bool>,
    #[serde(default)]
    secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UpdateIntegration {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    service_label: Option<String>,
    #[serde(default)]
    service_map: Option<BTreeMap<String, String>>,
    #[serde(default)]
    severity_map: Option<BTreeMap<String, SeverityEffect>>,
    #[serde(default)]
    auto_resolve: Option<bool>,
    /// `null` removes the secret; absent keeps it.
    #[serde(default, deserialize_with = "present")]
    secret: Option<Option<String>>,
}

/// A field that may be `null`: `Some(None)` when it is, `None` when it is absent.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// An integration with its hook URL, and its token in the create and rotate answers.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IntegrationView {
    #[serde(flatten)]
    integration: Integration,
    /// Where the tool sends its alerts.
    url: String,
    /// The token, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

fn view(state: &AppState, integration: Integration, token: Option<&HookToken>) -> IntegrationView {
    let url = format!("{}/api/v1/hooks/{}", state.public_url(), integration.id);
    IntegrationView { integration, url, token: token.map(|t| t.expose().to_owned()) }
}

fn label(field: &str, raw: String) -> Result<String, Invalid> {
    let label = raw.trim().to_owned();
    if label.is_empty() || label.chars().count() > MAX_LABEL {
        return Err(Invalid::field(field, format!("must be 1 to {MAX_LABEL} characters")));
    }
    Ok(label)
}

fn service_map(raw: BTreeMap<String, String>) -> Result<BTreeMap<String, Uuid>, Invalid> {
    if raw.len() > MAX_MAP_ENTRIES {
        return Err(Invalid::field("serviceMap", format!("may have at most {MAX_MAP_ENTRIES} entries")));
    }
    raw.into_iter()
        .map(|(value, service)| {
            let field = format!("serviceMap.{value}");
            let value = label("serviceMap", value)?;
            let id = Uuid::parse_str(&service).map_err(|_| Invalid::field(&field, "must be a service id (a UUID)"))?;
            Ok((value, id))
        })
        .collect()
}

fn severity_map(raw: BTreeMap<String, SeverityEffect>) -> Result<BTreeMap<String, SeverityEffect>, Invalid> {
    if raw.len() > MAX_MAP_ENTRIES {
        return Err(Invalid::field("severityMap", format!("may have at most {MAX_MAP_ENTRIES} entries")));
    }
    raw.into_iter().map(|(severity, effect)| Ok((label("severityMap", severity)?.to_lowercase(), effect))).collect()
}

/// Grafana's signing secret: 16 to 256 characters, only for Grafana integrations.
fn secret(kind: IntegrationType, raw: String) -> Result<String, Invalid> {
    if kind != IntegrationType::Grafana {
        return Err(Invalid::field("secret", "is only for grafana integrations (their HMAC signature)"));
    }
    if !(16..=256).contains(&raw.chars().count()) {
        return Err(Invalid::field("secret", "must be 16 to 256 characters"));
    }
    Ok(raw)
}

pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    Path(page): Path<String>,
    JsonBody(body): JsonBody<CreateIntegration>,
) -> Result<Response, ApiError> {
    let page = path_id(&page, "Page")?;
    let id = Uuid::now_v7();
    let token = HookToken::generate();
    let secret_sealed = body
        .secret
        .map(|s| secret(body.kind, s))
        .transpose()?
        .map(|s| state.sealer.seal_for(&s, Owner::Integration { org: who.org_id, id }));
    let new = NewIntegration {
        id,
        kind: body.kind,
        name: domain::name("name", body.name, MAX_LABEL)?,
        service_label: body
            .service_label
            .map(|l| label("serviceLabel", l))
            .transpose()?
            .unwrap_or_else(|| "service".into()),
        service_map: body.service_map.map(service_map).transpose()?.unwrap_or_default(),
        severity_map: body.severity_map.map(severity_map).transpose()?.unwrap_or_else(default_severity_map),
        auto_resolve: body.auto_resolve.unwrap_or(true),
        secret_sealed,
        token_hash: token.hash(),
        token_prefix: token.prefix().to_owned(),
    };
    let integration = state.store.create_integration(&state.write(&who, None), page, new).await?;
    Ok(data(StatusCode::CREATED, view(&state, integration, Some(&token))))
}

pub(crate) async fn list_for_page(
    State(state): State<AppState>,
    who: Principal,
    Path(page): Path<String>,
    params: ListParams,
) -> Result<Response, ApiError> {
    params.only(&[])?;
    let page = path_id(&page, "Page")?;
    state.store.get_page(who.org_id, page).await?.ok_or_else(|| ApiError::not_found("Page"))?;
    let listing = state.store.list_integrations(who.org_id, page, params.limit, params.cursor.as_deref()).await?;
    let items: Vec<IntegrationView> = listing.items.into_iter().map(|i| view(&state, i, None)).collect();
    Ok(list(items, listing.next_cursor))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Integration")?;
    let integration =
        state.store.get_integration(who.org_id, id).await?.ok_or_else(|| ApiError::not_found("Integration"))?;
    Ok(data(StatusCode::OK, view(&state, integration, None)))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateIntegration>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Integration")?;
    let secret_sealed = match body.secret {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => {
            let current =
                state.store.get_integration(who.org_id, id).await?.ok_or_else(|| ApiError::not_found("Integration"))?;
            let raw = secret(current.kind, raw)?;
            Some(Some(state.sealer.seal_for(&raw, Owner::Integration { org: who.org_id, id })))
        }
    };
    let patch = IntegrationPatch {
        name: body.name.map(|n| domain::name("name", n, MAX_LABEL)).transpose()?,
        service_label: body.service_label.map(|l| label("serviceLabel", l)).transpose()?,
        service_map: body.service_map.map(service_map).transpose()?,
        severity_map: body.severity_map.map(severity_map).transpose()?,
        auto_resolve: body.auto_resolve,
        secret_sealed,
    };
    let integration = state.store.update_integration(&state.write(&who, None), id, patch).await?;
    Ok(data(StatusCode::OK, view(&state, integration, None)))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "Integration")?;
    state.store.delete_integration(&state.write(&who, None), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn rotate_token(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Integration")?;
    let token = HookToken::generate();
    let integration =
        state.store.rotate_integration_token(&state.write(&who, None), id, &token.hash(), token.prefix()).await?;
    Ok(data(StatusCode::OK, view(&state, integration, Some(&token))))
}

pub(crate) async fn requests(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Integration")?;
    state.store.get_integration(who.org_id, id).await?.ok_or_else(|| ApiError::not_found("Integration"))?;
    let requests = state.store.list_hook_requests(who.org_id, id, state.now_epoch()).await?;
    Ok(list(requests, None))
}
