//! 32 clients at once on one page: creates, updates, deletes and reads interleave, then a
//! page delete races with more creates. The final state matches what the clients were
//! told, and nothing is orphaned.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use livestatus_shared::store::api_keys::NewKey;
use livestatus_shared::store::write::Write;
use livestatus_tests::TestApp;
use serde_json::json;

/// What one client was told.
#[derive(Default)]
struct Told {
    services_created: Vec<String>,
    services_deleted: Vec<String>,
    incidents_created: Vec<String>,
    updates_added: HashMap<String, usize>,
}

/// A small deterministic generator, so a failing interleaving can be rerun.
fn next(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_clients_on_one_page_leave_a_state_that_matches_what_they_were_told() {
    let mut app = TestApp::all().await;
    let (_, key) = app
        .store
        .create_key(
            &Write::new(
                app.org,
                livestatus_shared::store::events::Actor::operator(),
                "2026-11-22T00:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap(),
            ),
            NewKey { name: "burst".into(), scopes: &[], expires_at: None, rate_limit: 1_000_000 },
        )
        .await
        .unwrap();
    app.key = key.expose().to_owned();
    let page = app.page().await;
    let app = Arc::new(app);

    let clients = (0..32u64).map(|c| {
        let (app, page) = (app.clone(), page.clone());
        tokio::spawn(async move {
            let mut told = Told::default();
            let mut seed = c + 1;
            for _ in 0..12 {
                match next(&mut seed) % 6 {
                    0 | 1 => {
                        let r = app.call("POST", &format!("/api/v1/pages/{page}/services"), Some(json!({"name": format!("s{c}")}))).await;
                        assert_eq!(r.status, 201, "{}", r.json);
                        told.services_created.push(r.json["data"]["id"].as_str().unwrap().to_owned());
                    }
                    2 => {
                        // Delete one of ours, or patch it; reads of the list in between.
                        if let Some(id) = told.services_created.iter().find(|s| !told.services_deleted.contains(s)).cloned() {
                            let r = app.call("DELETE", &format!("/api/v1/services/{id}"), None).await;
                            assert_eq!(r.status, 204, "{}", r.json);
                            told.services_deleted.push(id);
                        }
                        app.call("GET", &format!("/api/v1/pages/{page}/services"), None).await.expect(200);
                    }
                    3 => {
                        let body = json!({"title": format!("i{c}"), "impact": "minor", "status": "investigating", "body": "b"});
                        let r = app.call("POST", &format!("/api/v1/pages/{page}/incidents"), Some(body)).await;
                        assert_eq!(r.status, 201, "{}", r.json);
                        told.incidents_created.push(r.json["data"]["id"].as_str().unwrap().to_owned());
                    }
                    4 => {
                        if let Some(id) = told.incidents_created.last().cloned() {
                            let status = if next(&mut seed) % 2 == 0 { "resolved" } else { "monitoring" };
                            let r = app.call("POST", &format!("/api/v1/incidents/{id}/updates"), Some(json!({"body": "u", "status": status}))).await;
                            assert_eq!(r.status, 201, "{}", r.json);
                            *told.updates_added.entry(id).or_default() += 1;
                        }
                    }
                    _ => {
                        if let Some(id) = told.services_created.iter().find(|s| !told.services_deleted.contains(s)).cloned() {
                            let r = app.call("PATCH", &format!("/api/v1/services/{id}"), Some(json!({"currentStatus": "degraded"}))).await;
                            assert_eq!(r.status, 200, "{}", r.json);
                        }
                        app.call("GET", &format!("/api/v1/pages/{page}"), None).await.expect(200);
                    }
                }
            }
            told
        })
    });
    let told: Vec<Told> = futures::future::join_all(clients).await.into_iter().map(Result::unwrap).collect();

    // Services: exactly those created and not deleted, each readable.
    let alive: HashSet<String> = told
        .iter()
        .flat_map(|t| t.services_created.iter().filter(|s| !t.services_deleted.contains(s)).cloned())
        .collect();
    let mut listed = HashSet::new();
    let mut url = format!("/api/v1/pages/{page}/services?limit=100");
    loop {
        let r = app.call("GET", &url, None).await;
        listed.extend(r.json["data"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()));
        match r.json["meta"]["nextCursor"].as_str() {
            Some(c) => url = format!("/api/v1/pages/{page}/services?limit=100&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(listed, alive);
    for t in &told {
        for id in &t.services_deleted {
            app.call("GET", &format!("/api/v1/services/{id}"), None).await.expect(404);
        }
    }
    // Incidents: every one created, each with 1 + the updates it was told about.
    for t in &told {
        for id in &t.incidents_created {
            let r = app.call("GET", &format!("/api/v1/incidents/{id}"), None).await;
            let updates = r.expect(200).json["data"]["updates"].as_array().unwrap().len();
            assert_eq!(updates, 1 + t.updates_added.get(id).copied().unwrap_or(0));
            let resolved = r.json["data"]["status"] == "resolved";
            assert_eq!(resolved, r.json["data"]["resolvedAt"].is_string(), "resolvedAt follows the status");
        }
    }
    let created: usize = told.iter().map(|t| t.incidents_created.len()).sum();
    let items = app.org_items(app.org).await;
    let incident_items = items
        .iter()
        .filter(|i| i["sk"].as_s().unwrap().starts_with("INCIDENT#") && !i["sk"].as_s().unwrap().contains("#UPDATE#"))
        .count();
    assert_eq!(incident_items, created);

    // Then the page is deleted while 31 clients keep creating on it.
    let racers = (0..32u64).map(|c| {
        let (app, page) = (app.clone(), page.clone());
        tokio::spawn(async move {
            if c == 0 {
                return app.call("DELETE", &format!("/api/v1/pages/{page}"), None).await.status.as_u16();
            }
            let body = if c % 2 == 0 {
                ("services", json!({"name": "late"}))
            } else {
                ("incidents", json!({"title": "late", "impact": "minor", "status": "investigating", "body": "b"}))
            };
            app.call("POST", &format!("/api/v1/pages/{page}/{}", body.0), Some(body.1)).await.status.as_u16()
        })
    });
    let statuses: Vec<u16> = futures::future::join_all(racers).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(statuses[0], 204);
    assert!(statuses[1..].iter().all(|s| *s == 201 || *s == 404), "{statuses:?}");

    let left: Vec<_> = app
        .org_items(app.org)
        .await
        .into_iter()
        .filter(|i| {
            i.get("pageId").and_then(|p| p.as_s().ok()) == Some(&page) || i["sk"].as_s().unwrap().ends_with(&page)
        })
        .map(|i| i["sk"].as_s().unwrap().clone())
        .collect();
    assert!(left.is_empty(), "orphans after the delete: {left:?}");
    app.call("GET", &format!("/api/v1/pages/{page}"), None).await.expect(404);
    assert_eq!(app.store.get_org(app.org).await.unwrap().unwrap().page_count, 0);
}
