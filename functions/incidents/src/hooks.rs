//! The tools' endpoint, `POST /api/v1/hooks/{integrationId}`: checks the integration's
//! token (and Grafana's signature), reads the payload into a notice, and applies it to
//! the notice's alert group: one incident per group, opened, updated, resolved or left
//! alone, whatever the order and number of deliveries. Every request is kept in the
//! integration's log.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use livestatus_shared::domain::alerts::{self, GroupState, Notice, effect_of, impact_rank, status_rank};
use livestatus_shared::domain::monitor::may_open_incident;
use livestatus_shared::domain::{Impact, IncidentStatus, ServiceStatus};
use livestatus_shared::http::data;
use livestatus_shared::outbound::sealing::Owner;
use livestatus_shared::store::StoreError;
use livestatus_shared::store::events::{Actor, Event, EventType};
use livestatus_shared::store::incidents::{NewIncident, NewUpdate};
use livestatus_shared::store::integrations::{AlertGroup, BODY_KEPT, HookRequest, HookTarget, ServiceTouch};
use livestatus_shared::store::services::{Service, ServicePatch, StatusSource};
use livestatus_shared::store::write::Write;
use livestatus_shared::{ApiError, AppState};
use serde::Serialize;
use uuid::Uuid;

pub use livestatus_shared::apikey::HookToken;

/// Largest body a tool may send (as every write of the API).
const MAX_BODY: usize = 64 * 1024;

/// What a delivery did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Opened an incident.
    Opened,
    /// Added an update.
    Updated,
    /// Resolved the incident.
    Resolved,
    /// Changed nothing (a repeat, or held back by the flap guard).
    Ignored,
}

impl Action {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Updated => "updated",
            Self::Resolved => "resolved",
            Self::Ignored => "ignored",
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Reply {
    incident_id: Option<Uuid>,
    action: Action,
}

/// The tokens presented: `?token=` (for tools that cannot set a header) and
/// `Authorization: Bearer …` (a tool behind a proxy may send both; either may be ours).
fn presented_tokens<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Vec<&'a str> {
    // Tokens are base62 after `ls_hook_`: nothing in them is ever percent-encoded.
    let from_query = query.and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=")));
    let from_header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    from_query.into_iter().chain(from_header).collect()
}

fn refused() -> ApiError {
    ApiError::InvalidToken
}

pub(crate) async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("Integration"))?;
    if body.len() > MAX_BODY {
        return Err(ApiError::PayloadTooLarge);
    }
    let tokens = presented_tokens(&headers, query.as_deref());
    if tokens.is_empty() {
        return Err(refused());
    }
    let target = state.store.hook_target(id).await?.ok_or_else(|| ApiError::not_found("Integration"))?;
    if !tokens.iter().any(|t| HookToken::matches(t, &target.token_hash)) {
        return Err(refused());
    }
    let received_at = state.now();
    let outcome = handle(&state, &target, &headers, &body).await;
    let (status, outcome_name, incident_id, message) = match &outcome {
        Ok((action, incident)) => (202, action.as_str(), *incident, None),
        Err(e) => (e.status().as_u16(), "rejected", None, Some(e.to_string())),
    };
    let request = HookRequest {
        id: Uuid::now_v7(),
        received_at,
        status,
        outcome: outcome_name.to_owned(),
        incident_id,
        message,
        body: String::from_utf8_lossy(&body).chars().take(BODY_KEPT).collect(),
    };
    // The log is for people reading it later: losing a line must not lose the alert.
    if let Err(e) = state.store.log_hook_request(target.org, &target.integration, request, state.now_epoch()).await {
        tracing::warn!(integration = %id, error = %livestatus_shared::error::error_chain(&e), "could not log a hook request");
    }
    let (action, incident_id) = outcome?;
    Ok(data(StatusCode::ACCEPTED, Reply { incident_id, action }))
}

/// Checks the signature, reads the notice and applies it.
async fn handle(
    state: &AppState,
    target: &HookTarget,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Action, Option<Uuid>), ApiError> {
    if let Some(sealed) = &target.secret_sealed {
        let secret = state
            .sealer
            .open_for(sealed, Owner::Integration { org: target.org, id: target.integration.id })
            .map_err(ApiError::internal)?;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let signature = header("x-grafana-alerting-signature").ok_or(ApiError::BadSignature)?;
        // With a timestamp header (its name is the sender's choice), Grafana signs
        // `<timestamp>:<body>`; without one, the body.
        let timestamp =
            header("x-grafana-alerting-timestamp").or_else(|| header("x-grafana-alerting-signature-timestamp"));
        let matches = |ts| livestatus_shared::outbound::signing::hmac_sha256_hex_matches(&secret, ts, body, signature);
        if !(timestamp.is_some_and(|ts| matches(Some(ts))) || matches(None)) {
            return Err(ApiError::BadSignature);
        }
    }
    let notice = alerts::parse(target.integration.kind, body)?;
    let mut attempt = 0;
    loop {
        match apply(state, target, &notice).await {
            // Another delivery of the same group wrote first: decide again on what it wrote.
            Err(StoreError::Raced) if attempt < 8 => attempt += 1,
            other => return Ok(other?),
        }
    }
}

/// The services an alert names: its `serviceLabel` value through the `serviceMap`, else
/// a service of the page by name (case-insensitive).
fn service_of(alert: &alerts::Alert, target: &HookTarget, services: &[Service]) -> Option<Uuid> {
    let value = alert.labels.get(&target.integration.service_label)?;
    if let Some(id) = target.integration.service_map.get(value) {
        return services.iter().any(|s| s.id == *id).then_some(*id);
    }
    services.iter().find(|s| s.name.eq_ignore_ascii_case(value.trim())).map(|s| s.id)
}

/// What the firing alerts do to the page: each named service's worst status, and the
/// incident's worst impact.
fn effects(notice: &Notice, target: &HookTarget, services: &[Service]) -> (BTreeMap<Uuid, ServiceStatus>, Impact) {
    let mut statuses: BTreeMap<Uuid, ServiceStatus> = BTreeMap::new();
    let mut impact = Impact::Minor;
    for alert in &notice.firing {
        let effect = effect_of(alert, &target.integration.severity_map);
        if impact_rank(effect.impact) > impact_rank(impact) {
            impact = effect.impact;
        }
        if let Some(service) = service_of(alert, target, services) {
            let status = statuses.entry(service).or_insert(effect.status);
            if status_rank(effect.status) > status_rank(*status) {
                *status = effect.status;
            }
        }
    }
    (statuses, impact)
}

fn alert_lines(alerts: &[&alerts::Alert]) -> String {
    alerts.iter().map(|a| format!("- {}", a.title)).collect::<Vec<_>>().join("\n")
}

/// Applies a notice once; [`StoreError::Raced`] when another delivery of the group wrote
/// between our read and our write.
async fn apply(state: &AppState, target: &HookTarget, notice: &Notice) -> Result<(Action, Option<Uuid>), StoreError> {
    let (org, integration) = (target.org, &target.integration);
    let now = state.clock.now();
    let write = || Write::new(org, Actor::integration(integration.id), now);
    let group = state.store.alert_group(org, integration.id, &notice.group).await?;
    let incident = match group.as_ref().and_then(|g| g.incident_id) {
        Some(id) => state.store.get_incident(org, id).await?,
        None => None,
    };
    let live = incident.as_ref().filter(|i| i.status != IncidentStatus::Resolved);
    let firing: Vec<String> = notice.firing.iter().map(|a| a.id.clone()).collect();
    let put = |g: AlertGroup| state.store.alert_group_put(org, integration, group.as_ref(), g, now.timestamp());
    let touched = Some(livestatus_shared::clock::timestamp(now));
    match notice.state {
        GroupState::Resolved => {
            let Some(g) = group.as_ref().filter(|g| g.open) else { return Ok((Action::Ignored, None)) };
            let closed = AlertGroup { open: false, firing: Vec::new(), ..g.clone() };
            let Some(incident) = live else {
                // Resolved by hand already, or held back by the flap guard: nothing to say.
                return if state.store.put_alert_group(put(closed)?).await? {
                    Ok((Action::Ignored, g.incident_id))
                } else {
                    Err(StoreError::Raced)
                };
            };
            let services = page_services(state, org, integration.page_id).await?;
            let by_hand = g.incident_touched.as_deref() != Some(incident.updated_at.as_str())
                || g.services.iter().any(|t| services.iter().any(|s| s.id == t.id && s.current_status != t.set));
            let resolve = integration.auto_resolve && !by_hand;
            let body = if resolve {
                format!("The alerts from {} have cleared. This incident is resolved.", integration.name)
            } else if by_hand {
                format!(
                    "The alerts from {} have cleared. This incident was changed by hand since it opened, so it stays open until someone resolves it.",
                    integration.name
                )
            } else {
                format!("The alerts from {} have cleared.", integration.name)
            };
            let update =
                NewUpdate { body, status: resolve.then_some(IncidentStatus::Resolved), notify_subscribers: true };
            let closed = AlertGroup { incident_touched: touched, ..closed };
            state.store.add_incident_update(&write().guarded(put(closed)?), incident.id, update).await?;
            if resolve {
                for t in &g.services {
                    set_service(state, org, integration.id, now, t.id, t.before).await?;
                }
                Ok((Action::Resolved, Some(incident.id)))
            } else {
                Ok((Action::Updated, Some(incident.id)))
            }
        }
        GroupState::Acknowledged => {
            let Some(incident) = live.filter(|i| i.status == IncidentStatus::Investigating) else {
                return Ok((Action::Ignored, incident.map(|i| i.id)));
            };
            let g = group.clone().expect("a live incident comes from a group");
            let update = NewUpdate {
                body: format!("{}: someone on call is on it.", integration.name),
                status: Some(IncidentStatus::Identified),
                notify_subscribers: true,
            };
            let next = AlertGroup { incident_touched: touched, ..g };
            state.store.add_incident_update(&write().guarded(put(next)?), incident.id, update).await?;
            Ok((Action::Updated, Some(incident.id)))
        }
        GroupState::Firing => {
            if let Some(g) = group.as_ref().filter(|g| g.open && g.firing == firing) {
                // A repeat (Alertmanager re-sends every `repeat_interval`): nothing changed.
                return Ok((Action::Ignored, g.incident_id));
            }
            let services = page_services(state, org, integration.page_id).await?;
            let (statuses, impact) = effects(notice, target, &services);
            match (group.as_ref().filter(|g| g.open), live) {
                (Some(g), Some(incident)) => {
                    let before: Vec<&String> = g.firing.iter().collect();
                    let added: Vec<&alerts::Alert> =
                        notice.firing.iter().filter(|a| !before.contains(&&a.id)).collect();
                    let gone = g.firing.iter().filter(|id| !firing.contains(id)).count();
                    let mut body = String::new();
                    if !added.is_empty() {
                        body.push_str(&format!(
                            "{} reports more alerts firing:\n{}",
                            integration.name,
                            alert_lines(&added)
                        ));
                    }
                    if gone > 0 {
                        if !body.is_empty() {
                            body.push_str("\n\n");
                        }
                        let still: Vec<&alerts::Alert> = notice.firing.iter().collect();
                        body.push_str(&format!("{gone} of the alerts cleared; still firing:\n{}", alert_lines(&still)));
                    }
                    let mut touches = g.services.clone();
                    let changes = touch(&mut touches, &statuses, &services);
                    let next = AlertGroup { firing, incident_touched: touched, services: touches, ..g.clone() };
                    let update = NewUpdate { body: cut(body), status: None, notify_subscribers: true };
                    state.store.add_incident_update(&write().guarded(put(next)?), incident.id, update).await?;
                    for (id, status) in changes {
                        set_service(state, org, integration.id, now, id, status).await?;
                    }
                    Ok((Action::Updated, Some(incident.id)))
                }
                _ => open(state, target, notice, group.as_ref(), firing, statuses, impact, &services).await,
            }
        }
    }
}

/// Opens the group's incident, unless the flap guard holds it back.
#[allow(clippy::too_many_arguments)]
async fn open(
    state: &AppState,
    target: &HookTarget,
    notice: &Notice,
    group: Option<&AlertGroup>,
    firing: Vec<String>,
    statuses: BTreeMap<Uuid, ServiceStatus>,
    impact: Impact,
    services: &[Service],
) -> Result<(Action, Option<Uuid>), StoreError> {
    let (org, integration) = (target.org, &target.integration);
    let now = state.clock.now();
    let actor = Actor::integration(integration.id);
    let put = |g: AlertGroup| state.store.alert_group_put(org, integration, group, g, now.timestamp());
    let mut opened: Vec<i64> = target.opened.iter().copied().filter(|at| now.timestamp() - at < 3600).collect();
    if !may_open_incident(&opened, now.timestamp()) {
        let held = AlertGroup {
            key: notice.group.clone(),
            incident_id: None,
            firing,
            open: true,
            incident_touched: None,
            services: Vec::new(),
            sequence: 0,
        };
        if !state.store.put_alert_group(put(held)?).await? {
            return Err(StoreError::Raced);
        }
        let data = serde_json::json!({ "integration": integration, "group": notice.group });
        let now_s = livestatus_shared::clock::timestamp(now);
        let event = Event::new(EventType::IntegrationFlapping, Some(integration.page_id), &actor, &now_s, data);
        state.store.put_event(org, event).await?;
        return Ok((Action::Ignored, None));
    }
    let mut touches = Vec::new();
    let changes = touch(&mut touches, &statuses, services);
    let firing_alerts: Vec<&alerts::Alert> = notice.firing.iter().collect();
    let new = NewIncident {
        id: Uuid::now_v7(),
        title: notice.title.clone(),
        impact,
        status: IncidentStatus::Investigating,
        body: cut(format!("{} reports alerts firing:\n{}", integration.name, alert_lines(&firing_alerts))),
        affected_service_ids: statuses.keys().copied().collect(),
        notify_subscribers: true,
    };
    let id = new.id;
    let next = AlertGroup {
        key: notice.group.clone(),
        incident_id: Some(id),
        firing,
        open: true,
        incident_touched: Some(livestatus_shared::clock::timestamp(now)),
        services: touches,
        sequence: 0,
    };
    let w = Write::new(org, actor, now).guarded(put(next)?);
    state.store.create_incident(&w, integration.page_id, new).await?;
    opened.push(now.timestamp());
    state.store.set_integration_opened(org, integration.id, &opened).await?;
    for (service, status) in changes {
        set_service(state, org, integration.id, now, service, status).await?;
    }
    Ok((Action::Opened, Some(id)))
}

/// Records in `touches` the services the group now sets (keeping each one's status from
/// before the group first touched it), and returns the changes to make.
fn touch(
    touches: &mut Vec<ServiceTouch>,
    statuses: &BTreeMap<Uuid, ServiceStatus>,
    services: &[Service],
) -> Vec<(Uuid, ServiceStatus)> {
    let mut changes = Vec::new();
    for (id, status) in statuses {
        let current = services.iter().find(|s| s.id == *id).map_or(ServiceStatus::Operational, |s| s.current_status);
        match touches.iter_mut().find(|t| t.id == *id) {
            Some(t) => t.set = *status,
            None => touches.push(ServiceTouch { id: *id, before: current, set: *status }),
        }
        if current != *status {
            changes.push((*id, *status));
        }
    }
    changes
}

/// A service's status, set by the integration (held by a maintenance window: the status
/// it returns to).
async fn set_service(
    state: &AppState,
    org: Uuid,
    integration: Uuid,
    now: chrono::DateTime<chrono::Utc>,
    service: Uuid,
    status: ServiceStatus,
) -> Result<(), StoreError> {
    let patch = ServicePatch { current_status: Some(status), unless_in_maintenance: true, ..ServicePatch::default() };
    let w = Write::new(org, Actor::integration(integration), now);
    match state.store.update_service(&w, service, patch, StatusSource::Integration).await {
        Ok(_) | Err(StoreError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn page_services(state: &AppState, org: Uuid, page: Uuid) -> Result<Vec<Service>, StoreError> {
    let mut services = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let listing = state.store.list_services(org, page, 100, cursor.as_deref()).await?;
        services.extend(listing.items);
        match listing.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(services),
        }
    }
}

/// An update's text within the API's 10,000 characters.
fn cut(text: String) -> String {
    if text.chars().count() <= 9_000 {
        return text;
    }
    let mut cut: String = text.chars().take(8_990).collect();
    cut.push_str("\n…");
    cut
}
