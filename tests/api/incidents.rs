//! Incidents: opening, updates that resolve and reopen, lists and filters, validation,
//! idempotent retries, long histories, and the cost of opening one.

use futures::future::join_all;
use livestatus_tests::TestApp;
use serde_json::{Value, json};

fn open_body(title: &str) -> Value {
    json!({"title": title, "impact": "major", "status": "investigating", "body": "Looking into it."})
}

async fn open(app: &TestApp, page: &str, body: Value) -> Value {
    let r = app.call("POST", &format!("/api/v1/pages/{page}/incidents"), Some(body)).await;
    r.expect(201).json["data"].clone()
}

async fn idempotent_post(app: &TestApp, path: &str, key: &str, body: &Value) -> livestatus_tests::TestResponse {
    let req = axum::http::Request::post(path)
        .header("authorization", format!("Bearer {}", app.key))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    app.send(req).await
}

#[tokio::test]
async fn the_reference_curl_example_opens_an_incident_whose_body_is_the_first_update() {
    let app = TestApp::all().await;
    let page = app.page().await;

    // The body of the "post an incident from GitHub Actions" example, as written.
    let r = app
        .call(
            "POST",
            &format!("/api/v1/pages/{page}/incidents"),
            Some(json!({
                "title": "Deployment rollback in progress",
                "impact": "minor",
                "status": "monitoring",
                "body": "Rolling back web-app to v2.41.0 due to a regression."
            })),
        )
        .await;

    let incident = &r.expect(201).json["data"];
    assert_eq!(incident["pageId"], page.as_str());
    assert_eq!(incident["title"], "Deployment rollback in progress");
    assert_eq!(incident["impact"], "minor");
    assert_eq!(incident["status"], "monitoring");
    assert_eq!(incident["affectedServiceIds"], json!([]));
    assert_eq!(incident["resolvedAt"], Value::Null);
    let updates = incident["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["body"], "Rolling back web-app to v2.41.0 due to a regression.");
    assert_eq!(updates[0]["status"], "monitoring");
    let read = app.call("GET", &format!("/api/v1/incidents/{}", incident["id"].as_str().unwrap()), None).await;
    assert_eq!(&read.expect(200).json["data"], incident);
}

#[tokio::test]
async fn a_resolved_update_closes_the_incident_and_a_later_one_reopens_it() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let incident = open(&app, &page, open_body("Outage")).await;
    let id = incident["id"].as_str().unwrap();
    let updates = format!("/api/v1/incidents/{id}/updates");

    app.clock.advance(chrono::Duration::seconds(1));
    let kept = app.call("POST", &updates, Some(json!({"body": "Still looking."}))).await;
    assert_eq!(kept.expect(201).json["data"]["status"], "investigating", "no status keeps the incident's");
    let resolved = app.call("POST", &updates, Some(json!({"body": "Fixed.", "status": "resolved"}))).await;
    resolved.expect(201);
    let closed = app.call("GET", &format!("/api/v1/incidents/{id}"), None).await.json["data"].clone();
    assert_eq!(closed["status"], "resolved");
    let resolved_at = closed["resolvedAt"].as_str().expect("resolvedAt is stamped").to_owned();
    assert_eq!(resolved_at, resolved.json["data"]["createdAt"].as_str().unwrap());

    app.clock.advance(chrono::Duration::seconds(1));
    app.call("POST", &updates, Some(json!({"body": "It is back.", "status": "identified"}))).await.expect(201);

    let reopened = app.call("GET", &format!("/api/v1/incidents/{id}"), None).await.json["data"].clone();
    assert_eq!(reopened["status"], "identified");
    assert_eq!(reopened["resolvedAt"], Value::Null);
    let statuses: Vec<_> =
        reopened["updates"].as_array().unwrap().iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["investigating", "investigating", "resolved", "identified"]);
}

#[tokio::test]
async fn incidents_list_newest_first_with_status_and_open_filters_and_cursors() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(open(&app, &page, open_body(&format!("incident {i}"))).await["id"].as_str().unwrap().to_owned());
    }
    for id in [&ids[1], &ids[3]] {
        app.call(
            "POST",
            &format!("/api/v1/incidents/{id}/updates"),
            Some(json!({"body": "done", "status": "resolved"})),
        )
        .await
        .expect(201);
    }
    let app = &app;
    let list = |query: &str| {
        let url = format!("/api/v1/pages/{page}/incidents{query}");
        async move {
            let r = app.call("GET", &url, None).await;
            r.expect(200);
            assert!(r.json["data"].as_array().unwrap().iter().all(|i| i.get("updates").is_none()));
            r.json["data"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };

    let newest_first: Vec<_> = ids.iter().rev().cloned().collect();
    assert_eq!(list("").await, newest_first);
    assert_eq!(list("?open=true").await, [ids[4].clone(), ids[2].clone(), ids[0].clone()]);
    assert_eq!(list("?open=false").await, [ids[3].clone(), ids[1].clone()]);
    assert_eq!(list("?status=resolved").await, [ids[3].clone(), ids[1].clone()]);
    assert_eq!(list("?status=monitoring").await, Vec::<String>::new());

    let first = app.call("GET", &format!("/api/v1/pages/{page}/incidents?open=true&limit=2"), None).await;
    let cursor = first.json["meta"]["nextCursor"].as_str().expect("a next page").to_owned();
    let rest =
        app.call("GET", &format!("/api/v1/pages/{page}/incidents?open=true&limit=2&cursor={cursor}"), None).await;
    assert_eq!(rest.json["data"][0]["id"], ids[0].as_str());
    assert_eq!(rest.json["meta"]["nextCursor"], Value::Null);

    for (query, field) in [("?status=closed", "status"), ("?open=yes", "open"), ("?sort=asc", "sort")] {
        let r = app.call("GET", &format!("/api/v1/pages/{page}/incidents{query}"), None).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field));
    }
}

#[tokio::test]
async fn affected_services_must_be_services_of_the_same_page() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let other_page = app.page().await;
    let ours = app.service(&page, "api").await;
    let theirs = app.service(&other_page, "web").await;
    let mut body = open_body("Partial outage");

    body["affectedServiceIds"] = json!([ours, theirs]);
    let r = app.call("POST", &format!("/api/v1/pages/{page}/incidents"), Some(body.clone())).await;
    r.expect_error(400, "invalid_request");
    assert!(r.json["error"]["message"].as_str().unwrap().contains(&theirs));

    body["affectedServiceIds"] = json!([ours, ours]);
    let incident = open(&app, &page, body).await;
    assert_eq!(incident["affectedServiceIds"], json!([ours]));

    let path = format!("/api/v1/incidents/{}", incident["id"].as_str().unwrap());
    let r = app.call("PATCH", &path, Some(json!({"affectedServiceIds": [theirs]}))).await;
    r.expect_error(400, "invalid_request");
    assert!(r.json["error"]["message"].as_str().unwrap().contains(&theirs));
    let patched = app
        .call("PATCH", &path, Some(json!({"title": "Renamed", "impact": "critical", "affectedServiceIds": []})))
        .await;
    let patched = &patched.expect(200).json["data"];
    assert_eq!((patched["title"].as_str(), patched["impact"].as_str()), (Some("Renamed"), Some("critical")));
    assert_eq!(patched["affectedServiceIds"], json!([]));
    assert_eq!(patched["updates"].as_array().unwrap().len(), 1);
    assert_eq!(&app.call("GET", &path, None).await.json["data"], patched);
    let incidents = app.call("GET", &format!("/api/v1/pages/{page}/incidents"), None).await;
    assert_eq!(incidents.json["meta"]["count"], 1, "the rejected open wrote nothing");
}

#[tokio::test]
async fn every_incident_field_rule_is_rejected_with_400_naming_the_field() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let incident = open(&app, &page, open_body("x")).await;
    let id = incident["id"].as_str().unwrap();
    let base = open_body("t");
    let with = |field: &str, value: Value| {
        let mut b = base.clone();
        b[field] = value;
        b
    };
    let cases = [
        (with("title", json!("")), "title"),
        (with("title", json!("t".repeat(201))), "title"),
        (with("body", json!("")), "body"),
        (with("body", json!("b".repeat(10_001))), "body"),
        (with("impact", json!("huge")), "impact"),
        (with("status", json!("fixed")), "status"),
        (with("affectedServiceIds", json!(["nope"])), "affectedServiceIds"),
        (with("affectedServiceIds", json!("one")), "affectedServiceIds"),
        (with("affectedServiceIds", json!(vec![uuid::Uuid::nil().to_string(); 51])), "affectedServiceIds"),
        (json!({"impact": "minor", "status": "investigating", "body": "b"}), "title"),
        (with("severity", json!("high")), "severity"),
    ];
    for (body, field) in cases {
        let r = app.call("POST", &format!("/api/v1/pages/{page}/incidents"), Some(body.clone())).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field), "{field}: {}", r.json);
    }
    app.next_window();
    for (body, field) in [
        (json!({"body": ""}), "body"),
        (json!({"body": "x", "status": "done"}), "status"),
        (json!({"status": "resolved"}), "body"),
    ] {
        let r = app.call("POST", &format!("/api/v1/incidents/{id}/updates"), Some(body)).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field), "{}", r.json);
    }
    for (body, field) in
        [(json!({"title": ""}), "title"), (json!({"impact": "x"}), "impact"), (json!({"status": "resolved"}), "status")]
    {
        let r = app.call("PATCH", &format!("/api/v1/incidents/{id}"), Some(body)).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field), "{}", r.json);
    }
    let r = idempotent_post(&app, &format!("/api/v1/pages/{page}/incidents"), "", &base).await;
    r.expect_error(400, "invalid_request");
    assert!(r.json["error"]["message"].as_str().unwrap().contains("Idempotency-Key"));
    let read = app.call("GET", &format!("/api/v1/incidents/{id}"), None).await;
    assert_eq!(read.json["data"], incident, "nothing was written");
    assert_eq!(app.call("GET", &format!("/api/v1/pages/{page}/incidents"), None).await.json["meta"]["count"], 1);
}

#[tokio::test]
async fn twenty_concurrent_posts_with_one_idempotency_key_open_exactly_one_incident() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let path = format!("/api/v1/pages/{page}/incidents");
    let body = open_body("Alert: p99 latency");

    let responses = join_all((0..20).map(|_| idempotent_post(&app, &path, "alert-4711", &body))).await;

    let first = &responses[0];
    let id = first.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    for r in &responses {
        assert_eq!(r.expect(201).json, first.json, "every response is the first one, byte for byte");
        assert_eq!(r.json["data"]["id"], id.as_str());
    }
    assert_eq!(responses.iter().filter(|r| r.header("idempotent-replayed").is_none()).count(), 1);
    let listed = app.call("GET", &path, None).await;
    assert_eq!(listed.json["meta"]["count"], 1);
    let items = app.org_items(app.org).await;
    let updates = items.iter().filter(|i| i["sk"].as_s().unwrap().contains("#UPDATE#")).count();
    assert_eq!(updates, 1);
}

#[tokio::test]
async fn an_idempotency_key_reused_with_another_body_gets_409_and_expires_after_a_day() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let path = format!("/api/v1/pages/{page}/incidents");
    let first = idempotent_post(&app, &path, "k-1", &open_body("one")).await;
    first.expect(201);

    idempotent_post(&app, &path, "k-1", &open_body("two")).await.expect_error(409, "idempotency_conflict");
    // The same JSON with other formatting and key order is the same request.
    let reordered: Value = serde_json::from_str(
        r#"{ "body": "Looking into it.", "status": "investigating", "impact": "major", "title": "one" }"#,
    )
    .unwrap();
    let replay = idempotent_post(&app, &path, "k-1", &reordered).await;
    assert_eq!(replay.expect(201).json, first.json);

    app.clock.advance(chrono::Duration::hours(24) + chrono::Duration::seconds(1));
    let fresh = idempotent_post(&app, &path, "k-1", &open_body("two")).await;
    assert_ne!(fresh.expect(201).json["data"]["id"], first.json["data"]["id"]);
}

#[tokio::test]
async fn an_incident_with_two_hundred_updates_reads_back_complete_and_in_order() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let incident = open(&app, &page, open_body("Long one")).await;
    let id = incident["id"].as_str().unwrap();
    let text = "u".repeat(9_000);

    for i in 1..200 {
        if i % 55 == 0 {
            app.next_window();
        }
        app.clock.advance(chrono::Duration::milliseconds(5));
        let body = json!({"body": format!("{i:03} {text}")});
        app.call("POST", &format!("/api/v1/incidents/{id}/updates"), Some(body)).await.expect(201);
    }

    app.next_window();
    let read = app.call("GET", &format!("/api/v1/incidents/{id}"), None).await;
    let updates = read.expect(200).json["data"]["updates"].as_array().unwrap().clone();
    assert_eq!(updates.len(), 200);
    assert_eq!(updates[0]["body"], "Looking into it.");
    for (i, u) in updates.iter().enumerate().skip(1) {
        assert!(u["body"].as_str().unwrap().starts_with(&format!("{i:03} ")), "update {i} out of order");
    }
}

#[tokio::test]
async fn opening_an_incident_is_one_authentication_and_one_transaction() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let service = app.service(&page, "api").await;
    app.calls.reset();

    let mut body = open_body("Costed");
    body["affectedServiceIds"] = json!([service]);
    open(&app, &page, body).await;

    assert_eq!(app.calls.calls(), ["UpdateItem", "TransactWriteItems"]);
}

#[tokio::test]
async fn deleting_a_page_removes_its_services_incidents_updates_and_idempotency_records() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let keep = app.page().await;
    let kept_service = app.service(&keep, "kept").await;
    for i in 0..3 {
        app.service(&page, &format!("s{i}")).await;
    }
    let incident = idempotent_post(&app, &format!("/api/v1/pages/{page}/incidents"), "del-1", &open_body("x")).await;
    let incident_id = incident.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        app.call("POST", &format!("/api/v1/incidents/{incident_id}/updates"), Some(json!({"body": "more"})))
            .await
            .expect(201);
    }
    let before = app.org_items(app.org).await.len();

    app.call("DELETE", &format!("/api/v1/pages/{page}"), None).await.expect(204);

    let items = app.org_items(app.org).await;
    let leftovers: Vec<_> = items
        .iter()
        .filter(|i| {
            i.get("pageId").and_then(|p| p.as_s().ok()) == Some(&page) || i["sk"].as_s().unwrap().ends_with(&page)
        })
        .map(|i| i["sk"].as_s().unwrap().clone())
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    assert_eq!(before - items.len(), 1 + 3 + 1 + 4 + 1, "page, services, incident, updates, idempotency record");
    app.call("GET", &format!("/api/v1/incidents/{incident_id}"), None).await.expect_error(404, "not_found");
    app.call("GET", &format!("/api/v1/services/{kept_service}"), None).await.expect(200);
}
