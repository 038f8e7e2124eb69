//! The Statuspage-compatible `/api/v2/*.json` family, field for field, so Statuspage
//! clients, widgets and exporters work unchanged when pointed at `/status/{slug}`.

use livestatus_shared::domain::{Impact, IncidentStatus, ServiceStatus};
use livestatus_shared::store::incidents::{Incident, IncidentUpdate};
use livestatus_shared::store::services::Service;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Links;
use crate::view::View;

/// Statuspage's component status for a service status.
pub const fn component_status(status: ServiceStatus) -> &'static str {
    match status {
        ServiceStatus::Operational => "operational",
        ServiceStatus::Degraded => "degraded_performance",
        ServiceStatus::Outage => "major_outage",
        ServiceStatus::Maintenance => "under_maintenance",
    }
}

/// Statuspage's page object.
pub fn page(view: &View, links: &Links) -> Value {
    json!({
        "id": view.page.id,
        "name": view.page.name,
        "url": links.page(),
        "time_zone": "Etc/UTC",
        "updated_at": view.updated_at(),
    })
}

#[derive(Serialize)]
struct Component<'a> {
    id: Uuid,
    name: &'a str,
    status: &'static str,
    created_at: &'a str,
    updated_at: &'a str,
    position: usize,
    description: Option<&'a str>,
    showcase: bool,
    start_date: &'a str,
    group_id: Option<Uuid>,
    page_id: Uuid,
    group: bool,
    only_show_if_degraded: bool,
}

fn component(service: &Service, position: usize) -> Component<'_> {
    Component {
        id: service.id,
        name: &service.name,
        status: component_status(service.current_status),
        created_at: &service.created_at,
        updated_at: &service.updated_at,
        position,
        description: None,
        showcase: true,
        start_date: &service.created_at[..10],
        group_id: None,
        page_id: service.page_id,
        group: false,
        only_show_if_degraded: false,
    }
}

/// Every component, in display order (positions from 1).
pub fn components(view: &View) -> Value {
    json!(view.services.iter().enumerate().map(|(i, s)| component(s, i + 1)).collect::<Vec<_>>())
}

fn impact(impact: Impact) -> &'static str {
    match impact {
        Impact::Minor => "minor",
        Impact::Major => "major",
        Impact::Critical => "critical",
    }
}

fn update(incident: &Incident, update: &IncidentUpdate, affected: &Value) -> Value {
    json!({
        "id": update.id,
        "status": update.status.as_str(),
        "body": update.body,
        "incident_id": incident.id,
        "created_at": update.created_at,
        "updated_at": update.created_at,
        "display_at": update.created_at,
        "affected_components": affected,
        "deliver_notifications": true,
    })
}

/// Statuspage's incident object, updates newest first as Statuspage lists them.
pub fn incident(view: &View, incident: &Incident, links: &Links) -> Value {
    let affected: Vec<Component<'_>> = view
        .services
        .iter()
        .enumerate()
        .filter(|(_, s)| incident.affected_service_ids.contains(&s.id))
        .map(|(i, s)| component(s, i + 1))
        .collect();
    let affected_json = json!(
        affected
            .iter()
            .map(|c| json!({"code": c.id, "name": c.name, "old_status": c.status, "new_status": c.status}))
            .collect::<Vec<_>>()
    );
    let updates = incident.updates.as_deref().unwrap_or_default();
    let monitoring_at = updates.iter().rev().find(|u| u.status == IncidentStatus::Monitoring).map(|u| &u.created_at);
    json!({
        "id": incident.id,
        "name": incident.title,
        "status": incident.status.as_str(),
        "impact": impact(incident.impact),
        "created_at": incident.created_at,
        "updated_at": incident.updated_at,
        "monitoring_at": monitoring_at,
        "resolved_at": incident.resolved_at,
        "started_at": incident.created_at,
        "shortlink": links.incident(incident.id),
        "page_id": incident.page_id,
        "incident_updates": updates.iter().rev().map(|u| update(incident, u, &affected_json)).collect::<Vec<_>>(),
        "components": affected,
    })
}

/// `{indicator, description}`.
pub fn status(view: &View) -> Value {
    let indicator = view.indicator();
    json!({ "indicator": indicator.as_str(), "description": indicator.description() })
}

/// `summary.json`: page, components, unresolved incidents, maintenances, status.
pub fn summary(view: &View, links: &Links) -> Value {
    json!({
        "page": page(view, links),
        "components": components(view),
        "incidents": view.open_incidents().map(|i| incident(view, i, links)).collect::<Vec<_>>(),
        "scheduled_maintenances": [],
        "status": status(view),
    })
}

/// `incidents.json` (the 50 most recent) or `incidents/unresolved.json`.
pub fn incidents<'a>(view: &View, links: &Links, chosen: impl Iterator<Item = &'a Incident>) -> Value {
    json!({
        "page": page(view, links),
        "incidents": chosen.map(|i| incident(view, i, links)).collect::<Vec<_>>(),
    })
}
