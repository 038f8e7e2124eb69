//! Server time to render the status page's HTML for 10 services with 90 days of bars and
//! 15 days of history, from data already read. Also prints the HTML's size, raw and
//! gzipped. Run: `cargo bench -p livestatus-status --bench page`.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::collections::HashMap;
use std::io::Write;

use axum::http::HeaderMap;
use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use livestatus_shared::clock::timestamp;
use livestatus_shared::domain::custom_domain::DomainStatus;
use livestatus_shared::domain::uptime::Change;
use livestatus_shared::domain::{Impact, IncidentStatus, ServiceStatus};
use livestatus_shared::store::incidents::{Incident, IncidentUpdate};
use livestatus_shared::store::pages::Page;
use livestatus_shared::store::services::Service;
use livestatus_status::Links;
use livestatus_status::view::View;
use uuid::Uuid;

/// A page as busy as a real one: 10 services, each with a few status changes over the 90
/// days, 12 incidents in the last 15 days with 3 updates each, one still open.
fn busy_page() -> View {
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 15, 30, 0).unwrap();
    let page_id = Uuid::now_v7();
    let page = Page {
        id: page_id,
        name: "Acme Cloud".into(),
        slug: "acme".into(),
        description: Some("Live status of Acme Cloud's website, API and delivery services.".into()),
        brand_color: Some("#6d28d9".into()),
        is_public: true,
        auto_incidents: false,
        created_at: timestamp(now - Duration::days(400)),
        updated_at: timestamp(now - Duration::days(400)),
        domain: None,
        domain_status: None,
        domain_verification: None,
        password_protected: false,
        password_hash: None,
        access_nonce: None,
    };
    let names = ["Website", "API", "Dashboard", "Webhooks", "Email", "Search", "Payments", "CDN", "Auth", "Billing"];
    let mut services = Vec::new();
    let mut changes = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let id = Uuid::now_v7();
        services.push(Service {
            id,
            page_id,
            name: (*name).into(),
            monitor_url: None,
            current_status: if i == 6 { ServiceStatus::Degraded } else { ServiceStatus::Operational },
            display_order: i as u32,
            created_at: timestamp(now - Duration::days(200)),
            updated_at: timestamp(now - Duration::days(1)),
        });
        let mut list = Vec::new();
        for k in 0..4i64 {
            let at = now - Duration::days(7 + 19 * k + i as i64) - Duration::hours(i as i64);
            let status = [ServiceStatus::Outage, ServiceStatus::Degraded, ServiceStatus::Maintenance][k as usize % 3];
            list.push(Change { at, from: ServiceStatus::Operational, to: status });
            list.push(Change { at: at + Duration::minutes(25 + 10 * k), from: status, to: ServiceStatus::Operational });
        }
        list.sort_by_key(|c| c.at);
        changes.insert(id, list);
    }
    let mut incidents = Vec::new();
    for n in 0..12i64 {
        let opened = now - Duration::hours(30 * n + 2);
        let open = n == 0;
        let updates = (0..3)
            .map(|u| IncidentUpdate {
                id: Uuid::now_v7(),
                body: format!("Update {u}: we are looking into elevated error rates for some requests and will post again within 30 minutes."),
                status: if u == 2 && !open { IncidentStatus::Resolved } else { IncidentStatus::Identified },
                created_at: timestamp(opened + Duration::minutes(15 * u)),
            })
            .collect();
        incidents.push(Incident {
            id: Uuid::now_v7(),
            page_id,
            title: format!("Elevated error rates on the {} service", names[n as usize % 10]),
            impact: if n % 4 == 0 { Impact::Major } else { Impact::Minor },
            status: if open { IncidentStatus::Identified } else { IncidentStatus::Resolved },
            affected_service_ids: vec![services[n as usize % 10].id],
            created_at: timestamp(opened),
            updated_at: timestamp(opened + Duration::minutes(30)),
            resolved_at: (!open).then(|| timestamp(opened + Duration::minutes(30))),
            updates: Some(updates),
        });
    }
    View { page, services, changes, incidents, maintenances: Vec::new(), now }
}

/// `RENDER_ONLY=plain|domain RENDER_COUNT=N`: renders one variant N times and exits, for
/// counting instructions under callgrind (`infra/render-instr.sh`), which the VM's drift
/// does not touch.
fn render_only() -> bool {
    let (Ok(which), Ok(count)) = (std::env::var("RENDER_ONLY"), std::env::var("RENDER_COUNT")) else { return false };
    let count: usize = count.parse().expect("RENDER_COUNT is a number");
    let (view, links) = if which == "domain" { at_domain(busy_page()) } else { plain(busy_page()) };
    let mut bytes = 0;
    for _ in 0..count {
        bytes += livestatus_status::html::page(std::hint::black_box(&view), &links, true).html.len();
    }
    println!("{which}: {count} renders, {bytes} bytes");
    true
}

fn plain(view: View) -> (View, Links) {
    let mut headers = HeaderMap::new();
    headers.insert("host", "status.example.com".parse().unwrap());
    (view, Links::new(&headers, "acme"))
}

/// The same page read at its verified custom domain: links from the domain's root, the
/// canonical URL at the domain.
fn at_domain(mut view: View) -> (View, Links) {
    view.page.domain = Some("status.acme.example".into());
    view.page.domain_status = Some(DomainStatus::Verified);
    let mut headers = HeaderMap::new();
    headers.insert("host", "status.acme.example".parse().unwrap());
    headers.insert(livestatus_status::domains::PAGE_ROOT_HEADER, "https://status.acme.example".parse().unwrap());
    (view, Links::new(&headers, "acme"))
}

fn bench(c: &mut Criterion) {
    if render_only() {
        std::process::exit(0);
    }
    let view = busy_page();
    let mut headers = HeaderMap::new();
    headers.insert("host", "status.example.com".parse().unwrap());
    let links = Links::new(&headers, "acme");
    let html = livestatus_status::html::page(&view, &links, true).html;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(html.as_bytes()).unwrap();
    let gzipped = gz.finish().unwrap().len();
    println!("html-size 10 services: {} bytes, {} bytes gzipped (level 6)", html.len(), gzipped);
    c.bench_function("render status page (10 services, 90-day bars, 15 days)", |b| {
        b.iter(|| livestatus_status::html::page(std::hint::black_box(&view), &links, true))
    });
    let (at_domain, domain_links) = at_domain(view);
    c.bench_function("render status page at its custom domain (same page)", |b| {
        b.iter(|| livestatus_status::html::page(std::hint::black_box(&at_domain), &domain_links, true))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
