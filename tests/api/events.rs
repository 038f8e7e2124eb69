//! Events: every write records its event in the same transaction, with its actor; the
//! audit log lists them newest first, filtered by type and page, per organization.

use livestatus_shared::domain::{Plan, Scope};
use livestatus_tests::TestApp;
use serde_json::{Value, json};

async fn events(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.call("GET", &format!("/api/v1/events{query}"), None).await;
    r.expect(200).json["data"].as_array().unwrap().clone()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn every_write_is_in_the_audit_log_newest_first_with_the_key_that_made_it() {
    // Arrange: a key whose id and prefix the log must show.
    let app = TestApp::all().await;
    let created = app.call("POST", "/api/v1/keys", Some(json!({"name": "on-call bot"}))).await;
    let bot = created.expect(201).json["data"].clone();
    let bot_key = bot["key"].as_str().unwrap();

    // Act: one of each write, as the bot.
    let slug = livestatus_tests::unique_slug("ev");
    let page = app.call_as(bot_key, "POST", "/api/v1/pages", Some(json!({"name": "Acme", "slug": slug}))).await;
    let page = page.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    app.call_as(bot_key, "PATCH", &format!("/api/v1/pages/{page}"), Some(json!({"description": "Hi"})))
        .await
        .expect(200);
    let service =
        app.call_as(bot_key, "POST", &format!("/api/v1/pages/{page}/services"), Some(json!({"name": "API"}))).await;
    let service = service.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    app.call_as(bot_key, "PATCH", &format!("/api/v1/services/{service}"), Some(json!({"currentStatus": "outage"})))
        .await
        .expect(200);
    let incident = app
        .call_as(
            bot_key,
            "POST",
            &format!("/api/v1/pages/{page}/incidents"),
            Some(json!({"title": "API down", "impact": "major", "status": "investigating", "body": "Looking.",
                "affectedServiceIds": [service], "notifySubscribers": false})),
        )
        .await;
    let incident = incident.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    app.call_as(bot_key, "PATCH", &format!("/api/v1/incidents/{incident}"), Some(json!({"impact": "critical"})))
        .await
        .expect(200);
    app.call_as(bot_key, "POST", &format!("/api/v1/incidents/{incident}/updates"), Some(json!({"body": "Found it."})))
        .await
        .expect(201);
    app.call_as(
        bot_key,
        "POST",
        &format!("/api/v1/incidents/{incident}/updates"),
        Some(json!({"body": "Fixed.", "status": "resolved"})),
    )
    .await
    .expect(201);
    app.call_as(bot_key, "DELETE", &format!("/api/v1/incidents/{incident}"), None).await.expect(204);
    app.call_as(bot_key, "DELETE", &format!("/api/v1/services/{service}"), None).await.expect(204);
    app.call_as(bot_key, "DELETE", &format!("/api/v1/pages/{page}"), None).await.expect(204);
    app.call("DELETE", &format!("/api/v1/keys/{}", bot["id"].as_str().unwrap()), None).await.expect(204);

    // Assert
    let log = events(&app, "?limit=100").await;
    assert_eq!(
        types(&log),
        [
            "key.revoked",
            "page.deleted",
            "service.deleted",
            "incident.deleted",
            "incident.resolved",
            "incident.updated",
            "incident.updated",
            "incident.created",
            "service.updated",
            "service.created",
            "page.updated",
            "page.created",
            "key.created",
            "key.created",
        ]
    );
    assert_eq!(
        log[13]["actor"],
        json!({"type": "operator", "id": null, "prefix": null}),
        "the test's key, made as an operator"
    );
    for event in &log[1..12] {
        assert_eq!(event["actor"], json!({"type": "key", "id": bot["id"], "prefix": bot["prefix"]}), "{event}");
        assert_eq!(event["pageId"], page.as_str(), "{event}");
    }
    assert_eq!(log[0]["actor"]["type"], "key");
    assert_ne!(log[0]["actor"]["id"], bot["id"], "the revoke was made by the app's own key");
    assert_eq!(log[8]["data"]["oldStatus"], "operational");
    assert_eq!(log[8]["data"]["newStatus"], "outage");
    assert_eq!(log[8]["data"]["service"]["currentStatus"], "outage");
    assert_eq!(log[7]["data"]["incident"]["updates"][0]["body"], "Looking.");
    assert_eq!(log[7]["data"]["notifySubscribers"], false);
    assert_eq!(log[5]["data"]["update"]["body"], "Found it.");
    assert_eq!(log[5]["data"]["notifySubscribers"], true, "the flag defaults to true");
    assert_eq!(log[4]["data"]["incident"]["status"], "resolved");
    assert_eq!(log[12]["data"]["key"]["prefix"], bot["prefix"]);
    assert!(log[12]["data"]["key"].get("key").is_none() && !log[12].to_string().contains(bot_key), "no plaintext");
    for event in &log {
        assert!(event["occurredAt"].as_str().unwrap().ends_with('Z'));
        uuid::Uuid::parse_str(event["id"].as_str().unwrap()).unwrap();
    }
}

#[tokio::test]
async fn a_write_that_fails_records_no_event() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let other = app.page().await;
    let foreign = app.service(&other, "Elsewhere").await;
    let before = events(&app, "?limit=100").await.len();

    let taken = app.call("GET", &format!("/api/v1/pages/{page}"), None).await.json["data"]["slug"].clone();
    app.call("POST", "/api/v1/pages", Some(json!({"name": "Dup", "slug": taken})))
        .await
        .expect_error(409, "slug_taken");
    app.call(
        "POST",
        &format!("/api/v1/pages/{page}/incidents"),
        Some(json!({"title": "t", "impact": "minor", "status": "investigating", "body": "b",
            "affectedServiceIds": [foreign]})),
    )
    .await
    .expect_error(400, "invalid_request");
    app.call("PATCH", "/api/v1/services/0190f5a0-0000-7000-8000-000000000000", Some(json!({"name": "x"})))
        .await
        .expect_error(404, "not_found");

    let after = events(&app, "?limit=100").await;
    assert_eq!(after.len(), before, "no event without its change: {:?}", types(&after));
}

#[tokio::test]
async fn the_log_filters_by_type_family_and_page_and_pages_with_a_cursor() {
    let app = TestApp::all().await;
    let first = app.page().await;
    let second = app.page().await;
    for page in [&first, &second] {
        for name in ["A", "B", "C"] {
            app.service(page, name).await;
        }
    }

    let created = events(&app, "?type=service.created").await;
    assert_eq!(created.len(), 6);
    let on_first = events(&app, &format!("?type=service.created&pageId={first}")).await;
    assert_eq!(on_first.len(), 3);
    assert!(on_first.iter().all(|e| e["pageId"] == first.as_str()));
    let pages = events(&app, "?type=page.*").await;
    assert_eq!(types(&pages), ["page.created", "page.created"]);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("/api/v1/events?limit=3&cursor={c}"),
            None => "/api/v1/events?limit=3".to_owned(),
        };
        let r = app.call("GET", &query, None).await;
        let body = &r.expect(200).json;
        seen.extend(body["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        match body["meta"]["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 9, "the test's key, two pages and six services");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first across pages of results");

    app.call("GET", "/api/v1/events?type=incident.exploded", None).await.expect_error(400, "invalid_request");
    app.call("GET", "/api/v1/events?type=nothing.*", None).await.expect_error(400, "invalid_request");
    app.call("GET", "/api/v1/events?pageId=nope", None).await.expect_error(400, "invalid_request");
    app.call("GET", "/api/v1/events?colour=red", None).await.expect_error(400, "invalid_request");
}

#[tokio::test]
async fn the_log_needs_events_read_and_shows_only_the_callers_organization() {
    let app = TestApp::all().await;
    app.page().await;
    let reader = app.new_key(app.org, &[Scope::EventsRead]).await;
    let writer = app.new_key(app.org, &[Scope::PagesRead, Scope::PagesWrite]).await;
    let (_, stranger) = app.new_org(Plan::Business).await;

    app.call_as(&writer, "GET", "/api/v1/events", None).await.expect_error(403, "insufficient_scope");
    let mine = app.call_as(&reader, "GET", "/api/v1/events", None).await;
    assert!(types(mine.expect(200).json["data"].as_array().unwrap()).contains(&"page.created"));
    let theirs = app.call_as(&stranger, "GET", "/api/v1/events", None).await;
    assert_eq!(types(theirs.expect(200).json["data"].as_array().unwrap()), ["key.created"], "only its own key");
}
