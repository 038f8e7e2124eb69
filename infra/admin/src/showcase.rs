//! The showcase page: a realistic status page with history, written through the store
//! with each change at its own (past) time, for looking at the public page locally.

use chrono::{DateTime, Duration, Utc};
use livestatus_shared::clock::timestamp;
use livestatus_shared::domain::{Impact, IncidentStatus, Plan, ServiceStatus, Slug};
use livestatus_shared::store::Store;
use livestatus_shared::store::api_keys::NewKey;
use livestatus_shared::store::incidents::{NewIncident, NewUpdate};
use livestatus_shared::store::maintenances::NewMaintenance;
use livestatus_shared::store::pages::NewPage;
use livestatus_shared::store::services::{NewService, ServicePatch, StatusSource};
use livestatus_shared::store::write::Write;
use serde_json::json;
use uuid::Uuid;

use super::api;

const SERVICES: [&str; 8] =
    ["Website", "API", "Dashboard", "Webhooks", "Email delivery", "Search", "Payments", "Status notifications"];

fn v7_at(at: DateTime<Utc>) -> Uuid {
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, at.timestamp() as u64, at.timestamp_subsec_nanos());
    Uuid::new_v7(ts)
}

/// Seeds the page and prints where it is.
pub async fn seed(store: &Store) -> anyhow::Result<serde_json::Value> {
    let now = Utc::now();
    let start = now - Duration::days(120);
    let at = |t: DateTime<Utc>| timestamp(t);
    let slug = format!("acme-{}", &Uuid::now_v7().simple().to_string()[20..28]);
    let org = store.create_org("Acme Cloud".into(), Plan::Business, &at(start)).await.map_err(api)?.id;
    let (_, key) = store
        .create_key(
            &Write::new(org, livestatus_shared::store::events::Actor::operator(), now),
            NewKey { name: "showcase".into(), scopes: &[], expires_at: None, rate_limit: 600 },
        )
        .await
        .map_err(api)?;
    let page = NewPage {
        id: v7_at(start),
        name: "Acme Cloud".into(),
        slug: Slug::parse(&slug).map_err(api)?,
        description: Some("Live status of Acme Cloud's website, API and delivery services.".into()),
        brand_color: Some(livestatus_shared::domain::HexColor([0x6d, 0x28, 0xd9])),
        is_public: true,
        auto_incidents: true,
    };
    let page = store
        .create_page(&Write::new(org, livestatus_shared::store::events::Actor::operator(), start), page)
        .await
        .map_err(api)?
        .id;
    let mut services = Vec::new();
    for (i, name) in SERVICES.iter().enumerate() {
        let created = if i == 7 { now - Duration::days(40) } else { start };
        let service = NewService {
            id: v7_at(created),
            name: (*name).into(),
            monitor_url: None,
            current_status: ServiceStatus::Operational,
            display_order: i as u32 * 10,
        };
        let outcome = store
            .create_service(
                &Write::new(org, livestatus_shared::store::events::Actor::operator(), created),
                page,
                service,
            )
            .await
            .map_err(api)?;
        let livestatus_shared::store::idempotency::Outcome::Created(service) = outcome else { unreachable!() };
        services.push(service.id);
    }
    // (service, days ago, hour, status, minutes)
    let episodes: [(usize, i64, u32, ServiceStatus, i64); 12] = [
        (1, 83, 14, ServiceStatus::Outage, 22),
        (0, 71, 9, ServiceStatus::Degraded, 95),
        (4, 64, 3, ServiceStatus::Maintenance, 45),
        (6, 52, 17, ServiceStatus::Degraded, 40),
        (3, 44, 11, ServiceStatus::Outage, 12),
        (2, 31, 20, ServiceStatus::Degraded, 130),
        (5, 23, 6, ServiceStatus::Maintenance, 60),
        (1, 12, 13, ServiceStatus::Outage, 34),
        (1, 12, 13, ServiceStatus::Degraded, 0),
        (4, 6, 8, ServiceStatus::Degraded, 75),
        (3, 3, 15, ServiceStatus::Outage, 18),
        (0, 1, 10, ServiceStatus::Degraded, 25),
    ];
    let day = |ago: i64, hour: u32| {
        (now.date_naive() - Duration::days(ago)).and_hms_opt(hour, 7, 0).expect("valid time").and_utc()
    };
    for (service, ago, hour, status, minutes) in episodes {
        if minutes == 0 {
            continue;
        }
        let from = day(ago, hour);
        let patch = |s| ServicePatch { current_status: Some(s), ..ServicePatch::default() };
        store
            .update_service(
                &Write::new(org, livestatus_shared::store::events::Actor::operator(), from),
                services[service],
                patch(status),
                StatusSource::Api,
            )
            .await
            .map_err(api)?;
        let until = from + Duration::minutes(minutes);
        store
            .update_service(
                &Write::new(org, livestatus_shared::store::events::Actor::operator(), until),
                services[service],
                patch(ServiceStatus::Operational),
                StatusSource::Api,
            )
            .await
            .map_err(api)?;
    }
    // (days ago, hour, title, impact, services, updates)
    type Story<'a> = (i64, u32, &'a str, Impact, &'a [usize], &'a [&'a str]);
    let incidents: [Story<'_>; 4] = [
        (
            12,
            13,
            "API requests failing in us-east",
            Impact::Major,
            &[1],
            &[
                "We are seeing elevated error rates on API requests in us-east and are investigating.",
                "The cause is a failed database failover. We are moving traffic to the standby.",
                "Traffic is on the standby and error rates are back to normal. We are watching closely.",
                "This incident is resolved. A full write-up will follow.",
            ],
        ),
        (
            6,
            8,
            "Delayed email delivery",
            Impact::Minor,
            &[4],
            &[
                "Some emails are being delivered with delays of up to 20 minutes.",
                "A queue backlog has been cleared; new emails go out at once.",
                "Resolved: all delayed emails have been delivered.",
            ],
        ),
        (
            3,
            15,
            "Webhook deliveries failing",
            Impact::Major,
            &[3],
            &[
                "Webhook deliveries are failing for all endpoints. We are investigating.",
                "A bad configuration push is the cause; we have rolled it back.",
                "Deliveries are succeeding again and retries are catching up. Resolved.",
            ],
        ),
        (
            1,
            10,
            "Slow page loads on the website",
            Impact::Minor,
            &[0],
            &[
                "Pages on acme.example load slowly for some visitors in Europe.",
                "Resolved: a CDN node was taken out of rotation.",
            ],
        ),
    ];
    for (ago, hour, title, impact, affected, bodies) in incidents {
        let opened = day(ago, hour);
        open_incident(store, org, page, opened, title, impact, affected.iter().map(|i| services[*i]).collect(), bodies)
            .await?;
    }
    // One incident still open, with its service degraded.
    let opened = now - Duration::minutes(48);
    store
        .update_service(
            &Write::new(org, livestatus_shared::store::events::Actor::operator(), opened),
            services[6],
            ServicePatch { current_status: Some(ServiceStatus::Degraded), ..ServicePatch::default() },
            StatusSource::Api,
        )
        .await
        .map_err(api)?;
    let new = NewIncident {
        id: v7_at(opened),
        title: "Card payments slower than usual".into(),
        impact: Impact::Minor,
        status: IncidentStatus::Investigating,
        body: "Some card payments take up to 30 seconds to confirm. We are investigating with our payment provider."
            .into(),
        affected_service_ids: vec![services[6]],
        notify_subscribers: true,
    };
    let id = new.id;
    store
        .create_incident(&Write::new(org, livestatus_shared::store::events::Actor::operator(), opened), page, new)
        .await
        .map_err(api)?;
    let update = NewUpdate {
        body: "Our payment provider has identified a slow authorisation service and is rolling out a fix.".into(),
        status: Some(IncidentStatus::Identified),
        notify_subscribers: true,
    };
    store
        .add_incident_update(
            &Write::new(org, livestatus_shared::store::events::Actor::operator(), opened + Duration::minutes(21)),
            id,
            update,
        )
        .await
        .map_err(api)?;
    // Maintenance: one done last week, one under way, one ahead.
    let windows = [
        (
            day(11, 9),
            day(9, 2),
            120,
            "Search index rebuild",
            vec![services[5]],
            "We are rebuilding the search index; results may be incomplete.",
        ),
        (
            now - Duration::days(2),
            now - Duration::minutes(25),
            120,
            "Email delivery cluster migration",
            vec![services[4]],
            "We are moving email delivery to a new cluster. Some emails may arrive a few minutes late.",
        ),
        (
            now - Duration::hours(3),
            (now.date_naive() + Duration::days(2)).and_hms_opt(2, 0, 0).expect("valid time").and_utc(),
            90,
            "Dashboard and API database upgrade",
            vec![services[1], services[2]],
            "We are upgrading the database behind the dashboard and the API. Both stay readable; changes may fail for up to 10 minutes.",
        ),
    ];
    for (announced, from, minutes, title, affected, body) in windows {
        let new = NewMaintenance {
            id: v7_at(announced),
            title: title.into(),
            body: body.into(),
            scheduled_for: from,
            scheduled_until: from + Duration::minutes(minutes),
            service_ids: affected,
            auto_start: true,
            auto_complete: true,
            notify_subscribers: true,
            remind_before_minutes: Some(60),
        };
        let id = new.id;
        let operator = livestatus_shared::store::events::Actor::operator();
        store.create_maintenance(&Write::new(org, operator, announced), page, new).await.map_err(api)?;
        for step in [from, from + Duration::minutes(minutes)] {
            if step <= now {
                store.advance_maintenance(org, id, step).await.map_err(api)?;
            }
        }
    }
    Ok(json!({ "org": org, "key": key.expose(), "page": page, "slug": slug, "url": format!("/status/{slug}") }))
}

#[allow(clippy::too_many_arguments)]
async fn open_incident(
    store: &Store,
    org: Uuid,
    page: Uuid,
    opened: DateTime<Utc>,
    title: &str,
    impact: Impact,
    affected: Vec<Uuid>,
    bodies: &[&str],
) -> anyhow::Result<()> {
    let new = NewIncident {
        id: v7_at(opened),
        title: title.into(),
        impact,
        status: IncidentStatus::Investigating,
        body: bodies[0].into(),
        affected_service_ids: affected,
        notify_subscribers: true,
    };
    let id = new.id;
    store
        .create_incident(&Write::new(org, livestatus_shared::store::events::Actor::operator(), opened), page, new)
        .await
        .map_err(api)?;
    let statuses = [IncidentStatus::Identified, IncidentStatus::Monitoring, IncidentStatus::Resolved];
    let steps = bodies.len() - 1;
    for (i, body) in bodies[1..].iter().enumerate() {
        let status = if i + 1 == steps { IncidentStatus::Resolved } else { statuses[i.min(1)] };
        let at = opened + Duration::minutes(12 * (i as i64 + 1));
        let update = NewUpdate { body: (*body).into(), status: Some(status), notify_subscribers: true };
        store
            .add_incident_update(&Write::new(org, livestatus_shared::store::events::Actor::operator(), at), id, update)
            .await
            .map_err(api)?;
    }
    Ok(())
}
