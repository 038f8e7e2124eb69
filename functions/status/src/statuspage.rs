//! The Statuspage-compatible `/api/v2/*.json` family, field for field, so Statuspage
//! clients, widgets and exporters work unchanged when pointed at `/status/{slug}`.

use livestatus_shared::domain::{Impact, IncidentStatus, MaintenanceStatus, ServiceStatus};
use livestatus_shared::store::incidents::{Incident, IncidentUpdate};
use livestatus_shared::store::maintenances::Maintenance;
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

/// The components among `ids`, and the same as an update's `affected_components`.
fn affected<'a>(view: &'a View, ids: &[Uuid]) -> (Vec<Component<'a>>, Value) {
    let components: Vec<Component<'_>> = view
        .services
        .iter()
        .enumerate()
        .filter(|(_, s)| ids.contains(&s.id))
        .map(|(i, s)| component(s, i + 1))
        .collect();
    let json = json!(
        components
            .iter()
            .map(|c| json!({"code": c.id, "name": c.name, "old_status": c.status, "new_status": c.status}))
            .collect::<Vec<_>>()
    );
    (components, json)
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
    let (affected, affected_json) = affected(view, &incident.affected_service_ids);
    let updates = incident.updates.as_deref().unwrap_or_default();
    let monitoring_at = updates.iter().rev().find(|u| u.status == IncidentStatus::Monitoring).map(|u| &u.created_at);
    let published = incident.postmortem.as_ref().filter(|p| p.published_at.is_some());
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
        // A draft stays private.
        "postmortem_body": published.map(|p| &p.body),
        "postmortem_published_at": published.and_then(|p| p.published_at.as_ref()),
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
        "scheduled_maintenances": view
            .active_maintenances()
            .chain(view.upcoming_maintenances())
            .map(|m| maintenance(view, m, links))
            .collect::<Vec<_>>(),
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

/// Which windows a `scheduled-maintenances` route lists.
#[derive(Clone, Copy, Debug)]
pub enum Maintenances {
    /// The 50 most recent by start, any status but cancelled (`scheduled-maintenances.json`).
    All,
    /// Announced, not started (`…/upcoming.json`).
    Upcoming,
    /// In progress or verifying (`…/active.json`).
    Active,
}

/// Statuspage's scheduled maintenance: an incident with `impact: maintenance`,
/// `scheduled_for` and `scheduled_until`. Cancelled windows are not shown (Statuspage
/// has no such status).
pub fn maintenance(view: &View, m: &Maintenance, links: &Links) -> Value {
    let (affected, affected_json) = affected(view, &m.service_ids);
    let updates = m.updates.as_deref().unwrap_or_default();
    json!({
        "id": m.id,
        "name": m.title,
        "status": m.status.as_str(),
        "impact": "maintenance",
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "monitoring_at": null,
        "resolved_at": m.completed_at,
        "started_at": m.started_at.as_deref().unwrap_or(&m.scheduled_for),
        "shortlink": links.incident(m.id),
        "page_id": m.page_id,
        "scheduled_for": m.scheduled_for,
        "scheduled_until": m.scheduled_until,
        "incident_updates": updates.iter().rev().map(|u| json!({
            "id": u.id,
            "status": u.status.as_str(),
            "body": u.body,
            "incident_id": m.id,
            "created_at": u.created_at,
            "updated_at": u.created_at,
            "display_at": u.created_at,
            "affected_components": affected_json,
            "deliver_notifications": m.notify_subscribers,
        })).collect::<Vec<_>>(),
        "components": affected,
    })
}

/// `scheduled-maintenances.json` and its `upcoming` and `active` lists.
pub fn maintenances(view: &View, links: &Links, which: Maintenances) -> Value {
    let chosen: Vec<&Maintenance> = match which {
        Maintenances::Upcoming => view.upcoming_maintenances().collect(),
        Maintenances::Active => view.active_maintenances().collect(),
        Maintenances::All => {
            let mut all: Vec<&Maintenance> = view
                .maintenances
                .iter()
                .map(|r| &r.maintenance)
                .filter(|m| m.status != MaintenanceStatus::Cancelled)
                .collect();
            all.sort_by(|a, b| b.scheduled_for.cmp(&a.scheduled_for));
            all.truncate(50);
            all
        }
    };
    json!({
        "page": page(view, links),
        "scheduled_maintenances": chosen.into_iter().map(|m| maintenance(view, m, links)).collect::<Vec<_>>(),
    })
}
