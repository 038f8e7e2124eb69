//! Maintenance windows: the schedule driven by the manual clock (reminder, start,
//! completion, services held and given back, overlapping windows, hand changes), manual
//! transitions and cancelling, validation, what the public sees (page, Statuspage JSON,
//! feeds, the calendar read by a real iCalendar parser), notices, and idempotency.

use std::collections::HashSet;

use chrono::Duration;
use livestatus_shared::clock::{Clock, timestamp};
use livestatus_tests::{TestApp, mail_to, unique_slug};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::webhooks::{Receiver, Reply, stream_new_events, tick};

/// A public page; returns its id and slug.
async fn public_page(app: &TestApp, name: &str) -> (String, String) {
    let slug = unique_slug("mw");
    let r = app.call("POST", "/api/v1/pages", Some(json!({"name": name, "slug": slug, "isPublic": true}))).await;
    r.expect(201);
    (r.json["data"]["id"].as_str().unwrap().to_owned(), slug)
}

/// The app's clock moved by `minutes`, as an API timestamp.
fn at(app: &TestApp, minutes: i64) -> String {
    timestamp(app.clock.now() + Duration::minutes(minutes))
}

/// Schedules a window on `page` from `from` to `until` minutes from now; returns it.
async fn schedule(app: &TestApp, page: &str, from: i64, until: i64, extra: Value) -> Value {
    let mut body = json!({
        "title": "Database upgrade",
        "body": "Upgrading the primary database.",
        "scheduledFor": at(app, from),
        "scheduledUntil": at(app, until),
    });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let r = app.call("POST", &format!("/api/v1/pages/{page}/maintenances"), Some(body)).await;
    r.expect(201);
    r.json["data"].clone()
}

async fn status_of(app: &TestApp, service: &str) -> String {
    let r = app.call("GET", &format!("/api/v1/services/{service}"), None).await;
    r.expect(200).json["data"]["currentStatus"].as_str().unwrap().to_owned()
}

async fn set_status(app: &TestApp, service: &str, status: &str) {
    app.call("PATCH", &format!("/api/v1/services/{service}"), Some(json!({"currentStatus": status}))).await.expect(200);
}

async fn window(app: &TestApp, id: &str) -> Value {
    let r = app.call("GET", &format!("/api/v1/maintenances/{id}"), None).await;
    r.expect(200).json["data"].clone()
}

async fn event_types(app: &TestApp) -> Vec<String> {
    let r = app.call("GET", "/api/v1/events?limit=100", None).await;
    let mut types: Vec<String> =
        r.expect(200).json["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect();
    types.reverse();
    types
}

fn advance(app: &TestApp, minutes: i64) {
    app.clock.advance(Duration::minutes(minutes));
}

async fn get(app: &TestApp, path: &str) -> livestatus_tests::TestResponse {
    app.call_as("", "GET", path, None).await
}

#[tokio::test]
async fn a_window_is_announced_reminded_started_and_completed_by_the_clock_and_a_hand_set_status_wins() {
    // Arrange: two services, a webhook, an email subscriber.
    let app = TestApp::isolated().await;
    let (page, _) = public_page(&app, "Acme").await;
    let db = app.service(&page, "Database").await;
    let api = app.service(&page, "API").await;
    set_status(&app, &api, "degraded").await;
    let receiver = Receiver::start(|_, _| Reply::Status(200)).await;
    let r = app.call("POST", "/api/v1/webhooks", Some(json!({"url": format!("{}/hook", receiver.base)}))).await;
    r.expect(201);
    let email = format!("ops-{}@example.test", &Uuid::new_v4().simple().to_string()[..10]);
    app.call(
        "POST",
        &format!("/api/v1/pages/{page}/subscribers"),
        Some(json!({"type": "email", "email": email, "skipConfirmation": true})),
    )
    .await
    .expect(201);
    let mut seen = HashSet::new();
    let first_day = app.clock.now().date_naive();

    // Act: announce a window two hours ahead, with a reminder 30 minutes before.
    let w = schedule(&app, &page, 120, 180, json!({"serviceIds": [db, api], "remindBeforeMinutes": 30})).await;
    let id = w["id"].as_str().unwrap().to_owned();
    assert_eq!((w["status"].as_str(), w["updates"].as_array().unwrap().len()), (Some("scheduled"), 1));
    assert_eq!(tick(&app).await.transitions, 0, "nothing is due yet");
    advance(&app, 89);
    assert_eq!(tick(&app).await.transitions, 0, "a minute before the reminder");
    advance(&app, 1);
    assert_eq!(tick(&app).await.transitions, 1, "the reminder");
    assert_eq!(tick(&app).await.transitions, 0, "a reminder goes out once");
    advance(&app, 30);
    assert_eq!(tick(&app).await.transitions, 1, "the start");

    // Assert: in progress, both services under maintenance.
    let started = window(&app, &id).await;
    assert_eq!(started["status"], "in_progress");
    assert_eq!(started["startedAt"].as_str(), Some(at(&app, 0).as_str()));
    assert_eq!((status_of(&app, &db).await, status_of(&app, &api).await), ("maintenance".into(), "maintenance".into()));

    // Act: someone sets the API to outage by hand during the window; the window ends.
    set_status(&app, &api, "outage").await;
    advance(&app, 60);
    assert_eq!(tick(&app).await.transitions, 1, "the completion");

    // Assert: the database is back to what it was, the hand-set outage stays.
    let done = window(&app, &id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(
        done["updates"].as_array().unwrap().iter().map(|u| u["status"].as_str().unwrap()).collect::<Vec<_>>(),
        ["scheduled", "in_progress", "completed"]
    );
    assert_eq!(status_of(&app, &db).await, "operational");
    assert_eq!(status_of(&app, &api).await, "outage");
    let types = event_types(&app).await;
    let maintenance: Vec<&str> = types.iter().map(String::as_str).filter(|t| t.starts_with("maintenance.")).collect();
    assert_eq!(
        maintenance,
        ["maintenance.scheduled", "maintenance.reminder", "maintenance.started", "maintenance.completed"]
    );

    // The time under maintenance is history with source `maintenance`, and counts as up.
    let changes: Vec<_> = app
        .org_items(app.org)
        .await
        .into_iter()
        .filter(|i| i["entity"].as_s().unwrap() == "statusChange" && i["serviceId"].as_s().unwrap() == &db)
        .map(|i| (i["to"].as_s().unwrap().clone(), i["source"].as_s().unwrap().clone()))
        .collect();
    assert_eq!(changes, [("maintenance".into(), "maintenance".into()), ("operational".into(), "maintenance".into())]);
    let today = app.clock.now().date_naive();
    let uptime = app.call("GET", &format!("/api/v1/services/{db}/uptime?from={first_day}&to={today}"), None).await;
    uptime.expect(200);
    assert_eq!(uptime.json["data"]["maintenanceSeconds"], 3600);
    assert_eq!(uptime.json["data"]["outageSeconds"], 0);

    // Notices: the webhook hears every transition and the services' status changes; the
    // subscriber gets one email per transition and none for the services the window moved.
    stream_new_events(&app, &mut seen, 1).await;
    let hooked: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["type"].as_str().unwrap().to_owned())
        .collect();
    for kind in ["maintenance.scheduled", "maintenance.reminder", "maintenance.started", "maintenance.completed"] {
        assert_eq!(hooked.iter().filter(|t| *t == kind).count(), 1, "{kind} once: {hooked:?}");
    }
    assert!(hooked.iter().filter(|t| *t == "service.updated").count() >= 4, "status changes reach integrations");
    let subjects: Vec<String> =
        mail_to(&email).await.iter().map(|m| m["subject"].as_str().unwrap().to_owned()).collect();
    // In any order: the notifier handles a batch's events concurrently.
    let mut maintenance_mail: Vec<&String> = subjects.iter().filter(|s| s.contains("Maintenance")).collect();
    maintenance_mail.sort();
    assert_eq!(
        maintenance_mail,
        [
            "[Acme] Maintenance completed: Database upgrade",
            "[Acme] Maintenance in progress: Database upgrade",
            "[Acme] Maintenance reminder: Database upgrade",
            "[Acme] Maintenance scheduled: Database upgrade",
        ]
    );
    assert!(
        !subjects.iter().any(|s| s.contains("Under maintenance")),
        "no separate email for the services a window moves: {subjects:?}"
    );
    let started_mail =
        mail_to(&email).await.into_iter().find(|m| m["subject"].as_str().unwrap().contains("in progress")).unwrap();
    let text = started_mail["body"]["text"].as_str().unwrap();
    assert!(text.contains("Affects Database, API"), "{text}");
    assert!(text.contains(&format!("/incidents/{id}")), "a link to the window's page");
}

#[tokio::test]
async fn overlapping_windows_hold_a_service_until_the_last_ends_then_give_back_the_status_from_before_the_first() {
    // Arrange
    let app = TestApp::isolated().await;
    let (page, _) = public_page(&app, "Overlap").await;
    let s = app.service(&page, "Storage").await;
    set_status(&app, &s, "degraded").await;
    let first = schedule(&app, &page, 60, 180, json!({"serviceIds": [s]})).await;
    let second = schedule(&app, &page, 120, 240, json!({"serviceIds": [s]})).await;

    // Act / Assert, hour by hour.
    advance(&app, 60);
    assert_eq!(tick(&app).await.transitions, 1);
    assert_eq!(status_of(&app, &s).await, "maintenance");
    advance(&app, 60);
    assert_eq!(tick(&app).await.transitions, 1);
    assert_eq!(status_of(&app, &s).await, "maintenance");
    advance(&app, 60);
    assert_eq!(tick(&app).await.transitions, 1);
    assert_eq!(window(&app, first["id"].as_str().unwrap()).await["status"], "completed");
    assert_eq!(status_of(&app, &s).await, "maintenance", "the second window still holds it");
    advance(&app, 60);
    assert_eq!(tick(&app).await.transitions, 1);
    assert_eq!(window(&app, second["id"].as_str().unwrap()).await["status"], "completed");
    assert_eq!(status_of(&app, &s).await, "degraded", "back to the status from before the first window");
}

#[tokio::test]
async fn a_window_missed_by_a_stopped_scheduler_starts_and_completes_in_one_tick() {
    let app = TestApp::isolated().await;
    let (page, _) = public_page(&app, "Late").await;
    let s = app.service(&page, "Queue").await;
    let w = schedule(&app, &page, 10, 20, json!({"serviceIds": [s]})).await;

    advance(&app, 30);
    assert_eq!(tick(&app).await.transitions, 2);

    assert_eq!(window(&app, w["id"].as_str().unwrap()).await["status"], "completed");
    assert_eq!(status_of(&app, &s).await, "operational");
}

#[tokio::test]
async fn manual_transitions_move_services_and_a_cancel_gives_them_back_and_keeps_the_window_listed() {
    // Arrange: a window that does not start on its own.
    let app = TestApp::all().await;
    let (page, _) = public_page(&app, "Manual").await;
    let s = app.service(&page, "Edge").await;
    let w = schedule(&app, &page, 60, 120, json!({"serviceIds": [s], "autoStart": false})).await;
    let id = w["id"].as_str().unwrap();
    let updates = format!("/api/v1/maintenances/{id}/updates");

    // A scheduled window cannot skip to verifying or completed.
    for status in ["verifying", "completed"] {
        app.call("POST", &updates, Some(json!({"body": "Done?", "status": status})))
            .await
            .expect_error(400, "invalid_request");
    }
    app.call("POST", &updates, Some(json!({"body": "x", "status": "scheduled"})))
        .await
        .expect_error(400, "invalid_request");

    // Started by hand, then verifying, then back in progress: services held throughout.
    let r = app.call("POST", &updates, Some(json!({"body": "Starting early.", "status": "in_progress"}))).await;
    assert_eq!(r.expect(201).json["data"]["status"], "in_progress");
    assert_eq!(status_of(&app, &s).await, "maintenance");
    app.call("POST", &updates, Some(json!({"body": "Checking.", "status": "verifying"}))).await.expect(201);
    app.call("POST", &updates, Some(json!({"body": "One more step."}))).await.expect(201);
    assert_eq!(window(&app, id).await["status"], "verifying");
    app.call("PATCH", &format!("/api/v1/maintenances/{id}"), Some(json!({"scheduledFor": at(&app, 5)})))
        .await
        .expect_error(400, "invalid_request");

    // Cancelled while under way: the service comes back, the window stays listed.
    app.call("DELETE", &format!("/api/v1/maintenances/{id}"), None).await.expect(204);
    assert_eq!(status_of(&app, &s).await, "operational");
    let cancelled = window(&app, id).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["updates"].as_array().unwrap().last().unwrap()["status"], "cancelled");
    let listed = app.call("GET", &format!("/api/v1/pages/{page}/maintenances?status=cancelled"), None).await;
    assert_eq!(listed.expect(200).json["data"].as_array().unwrap().len(), 1);
    app.call("DELETE", &format!("/api/v1/maintenances/{id}"), None).await.expect(204);
    assert_eq!(
        window(&app, id).await["updates"].as_array().unwrap().len(),
        cancelled["updates"].as_array().unwrap().len(),
        "a second cancel changes nothing"
    );
    app.call("POST", &updates, Some(json!({"body": "Back on", "status": "in_progress"})))
        .await
        .expect_error(400, "invalid_request");
    app.call("PATCH", &format!("/api/v1/maintenances/{id}"), Some(json!({"title": "Renamed"})))
        .await
        .expect_error(400, "invalid_request");

    // A completed window cannot be cancelled.
    let done = schedule(&app, &page, 0, 60, json!({"autoStart": false})).await;
    let done_id = done["id"].as_str().unwrap();
    app.call(
        "POST",
        &format!("/api/v1/maintenances/{done_id}/updates"),
        Some(json!({"body": "Go", "status": "in_progress"})),
    )
    .await
    .expect(201);
    let r = app
        .call(
            "POST",
            &format!("/api/v1/maintenances/{done_id}/updates"),
            Some(json!({"body": "Done", "status": "completed"})),
        )
        .await;
    r.expect(201);
    assert!(window(&app, done_id).await["completedAt"].is_string());
    app.call("DELETE", &format!("/api/v1/maintenances/{done_id}"), None).await.expect_error(400, "invalid_request");
}

#[tokio::test]
async fn services_added_to_or_removed_from_a_window_in_progress_go_under_or_come_out_of_maintenance() {
    let app = TestApp::all().await;
    let (page, _) = public_page(&app, "Patch").await;
    let a = app.service(&page, "A").await;
    let b = app.service(&page, "B").await;
    let w = schedule(&app, &page, 0, 60, json!({"serviceIds": [a], "autoStart": false})).await;
    let id = w["id"].as_str().unwrap();
    app.call(
        "POST",
        &format!("/api/v1/maintenances/{id}/updates"),
        Some(json!({"body": "Go", "status": "in_progress"})),
    )
    .await
    .expect(201);

    let r = app
        .call("PATCH", &format!("/api/v1/maintenances/{id}"), Some(json!({"serviceIds": [b], "title": "Wider work"})))
        .await;

    assert_eq!(r.expect(200).json["data"]["serviceIds"], json!([b]));
    assert_eq!(r.json["data"]["title"], "Wider work");
    assert_eq!((status_of(&app, &a).await, status_of(&app, &b).await), ("operational".into(), "maintenance".into()));
}

#[tokio::test]
async fn bad_times_lengths_services_and_fields_are_refused_and_nothing_is_written() {
    // Arrange
    let app = TestApp::all().await;
    let (page, _) = public_page(&app, "Checks").await;
    let (other_page, _) = public_page(&app, "Other").await;
    let foreign = app.service(&other_page, "Not here").await;
    let path = format!("/api/v1/pages/{page}/maintenances");
    let ok = json!({"title": "T", "body": "B", "scheduledFor": at(&app, 60), "scheduledUntil": at(&app, 120)});
    let with = |patch: Value| {
        let mut body = ok.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases = [
        (with(json!({"scheduledFor": "tomorrow"})), "scheduledFor"),
        (with(json!({"scheduledUntil": "2026-13-01T00:00:00Z"})), "scheduledUntil"),
        (with(json!({"scheduledUntil": at(&app, 60)})), "after scheduledFor"),
        (with(json!({"scheduledUntil": at(&app, 30)})), "after scheduledFor"),
        (with(json!({"scheduledUntil": at(&app, 60 + 14 * 24 * 60 + 1)})), "14 days"),
        (with(json!({"scheduledFor": at(&app, -120), "scheduledUntil": at(&app, -60)})), "past"),
        (with(json!({"serviceIds": [foreign]})), "not a service of this page"),
        (with(json!({"serviceIds": ["nope"]})), "serviceIds"),
        (with(json!({"serviceIds": (0..31).map(|_| Uuid::now_v7().to_string()).collect::<Vec<_>>()})), "at most 30"),
        (with(json!({"remindBeforeMinutes": 0})), "remindBeforeMinutes"),
        (with(json!({"remindBeforeMinutes": 20000})), "remindBeforeMinutes"),
        (with(json!({"title": "  "})), "title"),
        (with(json!({"body": null})), "body"),
        (with(json!({"status": "in_progress"})), "status"),
    ];

    for (body, expected) in cases {
        // Act
        let r = app.call("POST", &path, Some(body.clone())).await;

        // Assert
        r.expect_error(400, "invalid_request");
        let message = r.json["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let listed = app.call("GET", &path, None).await;
    assert_eq!(listed.expect(200).json["data"], json!([]), "nothing half-written");
    let events = event_types(&app).await;
    assert!(!events.iter().any(|t| t.starts_with("maintenance.")), "no event either");

    // A patch is checked against the window's other time.
    let w = schedule(&app, &page, 60, 120, json!({})).await;
    let id = w["id"].as_str().unwrap();
    app.call("PATCH", &format!("/api/v1/maintenances/{id}"), Some(json!({"scheduledFor": at(&app, 130)})))
        .await
        .expect_error(400, "invalid_request");
    app.call("PATCH", &format!("/api/v1/maintenances/{id}"), Some(json!({"serviceIds": [foreign]})))
        .await
        .expect_error(400, "invalid_request");
    app.call("GET", &format!("{path}?status=soon"), None).await.expect_error(400, "invalid_request");
    assert_eq!(window(&app, id).await["scheduledFor"], w["scheduledFor"]);
}

#[tokio::test]
async fn another_organizations_windows_are_not_found_and_scopes_are_enforced() {
    let app = TestApp::all().await;
    let (page, _) = public_page(&app, "Mine").await;
    let w = schedule(&app, &page, 60, 120, json!({})).await;
    let id = w["id"].as_str().unwrap();
    let (_, other) = app.new_org(livestatus_shared::domain::Plan::Business).await;

    for (method, path, body) in [
        ("GET", format!("/api/v1/maintenances/{id}"), None),
        ("PATCH", format!("/api/v1/maintenances/{id}"), Some(json!({"title": "Mine now"}))),
        ("DELETE", format!("/api/v1/maintenances/{id}"), None),
        ("POST", format!("/api/v1/maintenances/{id}/updates"), Some(json!({"body": "Hi", "status": "in_progress"}))),
        ("GET", format!("/api/v1/pages/{page}/maintenances"), None),
        (
            "POST",
            format!("/api/v1/pages/{page}/maintenances"),
            Some(json!({"title": "T", "body": "B", "scheduledFor": at(&app, 60), "scheduledUntil": at(&app, 120)})),
        ),
    ] {
        app.call_as(&other, method, &path, body).await.expect_error(404, "not_found");
    }
    assert_eq!(window(&app, id).await["status"], "scheduled", "untouched");

    let reader = app.new_key(app.org, &[livestatus_shared::domain::Scope::MaintenancesRead]).await;
    app.call_as(&reader, "GET", &format!("/api/v1/maintenances/{id}"), None).await.expect(200);
    app.call_as(&reader, "DELETE", &format!("/api/v1/maintenances/{id}"), None)
        .await
        .expect_error(403, "insufficient_scope");
    let incidents_only = app.new_key(app.org, &[livestatus_shared::domain::Scope::IncidentsRead]).await;
    app.call_as(&incidents_only, "GET", &format!("/api/v1/pages/{page}/maintenances"), None)
        .await
        .expect_error(403, "insufficient_scope");
}

#[tokio::test]
async fn a_create_retried_with_its_idempotency_key_makes_one_window() {
    let app = TestApp::all().await;
    let (page, _) = public_page(&app, "Retry").await;
    let body = json!({"title": "T", "body": "B", "scheduledFor": at(&app, 60), "scheduledUntil": at(&app, 120)});
    let send = |body: Value| {
        let req = axum::http::Request::builder()
            .method("POST")
            .uri(format!("/api/v1/pages/{page}/maintenances"))
            .header("authorization", format!("Bearer {}", app.key))
            .header("content-type", "application/json")
            .header("idempotency-key", "mw-create-1")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        app.send(req)
    };

    let first = send(body.clone()).await;
    let again = send(body.clone()).await;
    let other =
        send(json!({"title": "Other", "body": "B", "scheduledFor": at(&app, 60), "scheduledUntil": at(&app, 120)}))
            .await;

    first.expect(201);
    assert_eq!(again.expect(201).json, first.json);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    other.expect_error(409, "idempotency_conflict");
    let listed = app.call("GET", &format!("/api/v1/pages/{page}/maintenances"), None).await;
    assert_eq!(listed.expect(200).json["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_public_page_json_and_feeds_show_upcoming_and_active_windows() {
    // Arrange
    let app = TestApp::all().await;
    let (page, slug) = public_page(&app, "Shown").await;
    let s = app.service(&page, "Checkout").await;
    let upcoming = schedule(
        &app,
        &page,
        60,
        120,
        json!({"title": "Payment provider switch", "serviceIds": [s], "autoStart": false}),
    )
    .await;
    let active = schedule(&app, &page, 0, 60, json!({"title": "Index rebuild <b>now</b>", "autoStart": false})).await;
    let (up_id, active_id) = (upcoming["id"].as_str().unwrap(), active["id"].as_str().unwrap());
    app.call(
        "POST",
        &format!("/api/v1/maintenances/{active_id}/updates"),
        Some(json!({"body": "Rebuilding.", "status": "in_progress"})),
    )
    .await
    .expect(201);

    // Act
    let html = get(&app, &format!("/status/{slug}")).await;
    let summary = get(&app, &format!("/status/{slug}/api/v2/summary.json")).await;
    let up = get(&app, &format!("/status/{slug}/api/v2/scheduled-maintenances/upcoming.json")).await;
    let act = get(&app, &format!("/status/{slug}/api/v2/scheduled-maintenances/active.json")).await;
    let all = get(&app, &format!("/status/{slug}/api/v2/scheduled-maintenances.json")).await;
    let permalink = get(&app, &format!("/status/{slug}/incidents/{up_id}")).await;
    let atom = get(&app, &format!("/status/{slug}/history.atom")).await;

    // Assert: the page lists both, escaped.
    let page_html = html.expect(200).json.as_str().unwrap().to_owned();
    assert!(page_html.contains("Maintenance in progress") && page_html.contains("Scheduled maintenance"));
    assert!(page_html.contains("Payment provider switch") && page_html.contains("Affects Checkout"));
    assert!(page_html.contains("Index rebuild &#60;b&#62;now&#60;/b&#62;") && !page_html.contains("<b>now"));
    let ids = |r: &livestatus_tests::TestResponse| -> Vec<String> {
        r.json["scheduled_maintenances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(up.expect(200)), [up_id]);
    assert_eq!(ids(act.expect(200)), [active_id]);
    assert_eq!(ids(summary.expect(200)), [active_id, up_id]);
    assert_eq!(ids(all.expect(200)).len(), 2);
    let m = &up.json["scheduled_maintenances"][0];
    for field in [
        "id",
        "name",
        "status",
        "impact",
        "created_at",
        "updated_at",
        "monitoring_at",
        "resolved_at",
        "started_at",
        "shortlink",
        "page_id",
        "incident_updates",
        "components",
        "scheduled_for",
        "scheduled_until",
    ] {
        assert!(m.get(field).is_some(), "Statuspage field {field}");
    }
    assert_eq!((m["status"].as_str(), m["impact"].as_str()), (Some("scheduled"), Some("maintenance")));
    assert_eq!(m["scheduled_for"], upcoming["scheduledFor"]);
    assert_eq!(m["components"][0]["name"], "Checkout");
    assert!(permalink.expect(200).json.as_str().unwrap().contains("Scheduled for"));
    assert!(atom.expect(200).json.as_str().unwrap().contains("Maintenance: Payment provider switch"));

    // Once completed, the window is in the history.
    app.call(
        "POST",
        &format!("/api/v1/maintenances/{active_id}/updates"),
        Some(json!({"body": "Done.", "status": "completed"})),
    )
    .await
    .expect(201);
    let history = get(&app, &format!("/status/{slug}/history")).await;
    assert!(history.expect(200).json.as_str().unwrap().contains("Index rebuild"));
    assert_eq!(
        ids(&get(&app, &format!("/status/{slug}/api/v2/scheduled-maintenances/active.json")).await),
        Vec::<String>::new()
    );
}

/// Parses a calendar with Python's `icalendar` (in the tools venv of `infra/test.sh`);
/// returns its events as `{uid, sequence, summary, description, start, end, status}`.
fn parse_ics(ics: &str) -> Vec<Value> {
    let script = r#"
import json, sys
from icalendar import Calendar
cal = Calendar.from_ical(sys.stdin.buffer.read())
assert cal.get("VERSION") == "2.0", cal.get("VERSION")
out = []
for e in cal.walk("VEVENT"):
    out.append({
        "uid": str(e["UID"]), "sequence": int(e["SEQUENCE"]), "summary": str(e["SUMMARY"]),
        "description": str(e["DESCRIPTION"]), "start": e["DTSTART"].dt.isoformat(), "end": e["DTEND"].dt.isoformat(),
        "status": str(e["STATUS"]), "dtstamp": e["DTSTAMP"].dt.isoformat(),
    })
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (the tools venv of infra/test.sh has icalendar)");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), ics.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "icalendar could not parse the calendar:\n{ics}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn the_calendar_parses_with_a_real_icalendar_library_survives_hostile_text_and_updates_events_in_place() {
    // Arrange: a title and body with every character iCalendar treats specially.
    let app = TestApp::all().await;
    let (page, slug) = public_page(&app, "Cal; Inc, \\ Ltd").await;
    let title = format!("Upgrade; part 1, \"quoted\" \\ back {} ✓ émoji 🚧", "x".repeat(120));
    let body = "Line one;\nline two, with a comma\r\nBEGIN:VEVENT\nEND:VCALENDAR";
    let w = schedule(&app, &page, 60, 180, json!({"title": title, "body": body})).await;
    let id = w["id"].as_str().unwrap();

    // Act
    let ics = get(&app, &format!("/status/{slug}/maintenance.ics")).await;

    // Assert
    assert_eq!(ics.expect(200).header("content-type"), Some("text/calendar; charset=utf-8"));
    let text = ics.json.as_str().unwrap().to_owned();
    assert!(text.split("\r\n").all(|line| line.len() <= 75), "lines are folded at 75 octets");
    let events = parse_ics(&text);
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e["uid"], format!("{id}@livestatus"));
    assert_eq!(e["sequence"], 0);
    assert_eq!(e["summary"], format!("Cal; Inc, \\ Ltd: {title}"));
    assert!(
        e["description"].as_str().unwrap().contains("Line one;\nline two, with a comma\nBEGIN:VEVENT\nEND:VCALENDAR")
    );
    assert_eq!(e["status"], "CONFIRMED");
    let start = chrono::DateTime::parse_from_rfc3339(e["start"].as_str().unwrap()).unwrap();
    assert_eq!(
        timestamp(start.to_utc()),
        timestamp(chrono::DateTime::parse_from_rfc3339(w["scheduledFor"].as_str().unwrap()).unwrap().to_utc())
    );

    // Act: moved, then cancelled.
    app.clock.advance(Duration::seconds(5));
    let r =
        app.call("PATCH", &format!("/api/v1/maintenances/{id}"), Some(json!({"scheduledUntil": at(&app, 240)}))).await;
    r.expect(200);
    let moved = parse_ics(get(&app, &format!("/status/{slug}/maintenance.ics")).await.json.as_str().unwrap());
    app.call("DELETE", &format!("/api/v1/maintenances/{id}"), None).await.expect(204);
    let cancelled = parse_ics(get(&app, &format!("/status/{slug}/maintenance.ics")).await.json.as_str().unwrap());

    // Assert: the same event, a higher SEQUENCE each time.
    assert_eq!((moved[0]["uid"].clone(), moved[0]["sequence"].clone()), (e["uid"].clone(), json!(1)));
    let end = chrono::DateTime::parse_from_rfc3339(moved[0]["end"].as_str().unwrap()).unwrap().to_utc();
    assert_eq!(timestamp(end), at(&app, 240));
    assert!(moved[0]["dtstamp"].as_str().unwrap() > e["dtstamp"].as_str().unwrap());
    assert_eq!((cancelled[0]["uid"].clone(), cancelled[0]["sequence"].clone()), (e["uid"].clone(), json!(2)));
    assert_eq!(cancelled[0]["status"], "CANCELLED");
}

#[tokio::test]
async fn a_reschedule_is_emailed_to_subscribers_but_a_change_they_cannot_see_is_not() {
    // Arrange
    let app = TestApp::all().await;
    let (page, _) = public_page(&app, "Quiet").await;
    let email = format!("quiet-{}@example.test", &Uuid::new_v4().simple().to_string()[..10]);
    app.call(
        "POST",
        &format!("/api/v1/pages/{page}/subscribers"),
        Some(json!({"type": "email", "email": email, "skipConfirmation": true})),
    )
    .await
    .expect(201);
    let w = schedule(&app, &page, 60, 120, json!({})).await;
    let id = w["id"].as_str().unwrap();
    let mut seen = HashSet::new();

    // Act
    app.call(
        "PATCH",
        &format!("/api/v1/maintenances/{id}"),
        Some(json!({"autoComplete": false, "remindBeforeMinutes": 15})),
    )
    .await
    .expect(200);
    app.call("PATCH", &format!("/api/v1/maintenances/{id}"), Some(json!({"scheduledUntil": at(&app, 150)})))
        .await
        .expect(200);
    stream_new_events(&app, &mut seen, 1).await;

    // Assert: the announcement and the reschedule; both changes are in the audit log.
    let mut subjects: Vec<String> =
        mail_to(&email).await.iter().map(|m| m["subject"].as_str().unwrap().to_owned()).collect();
    subjects.sort();
    assert_eq!(
        subjects,
        ["[Quiet] Maintenance scheduled: Database upgrade", "[Quiet] Maintenance update: Database upgrade"]
    );
    let updated = event_types(&app).await.iter().filter(|t| *t == "maintenance.updated").count();
    assert_eq!(updated, 2);
}
