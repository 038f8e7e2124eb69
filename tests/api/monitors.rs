//! Monitors: the check sequence driven by the manual clock against a local target
//! server (thresholds, events, the linked service), defaults and validation, and that a
//! monitor never overrides planned maintenance.

use chrono::Duration;
use livestatus_shared::store::write::Write;
use livestatus_tests::TestApp;
use serde_json::{Value, json};

use crate::webhooks::{Receiver, Reply, tick};

/// A page with automatic incidents.
async fn auto_page(app: &TestApp) -> String {
    let slug = livestatus_tests::unique_slug("mon");
    let r = app.call("POST", "/api/v1/pages", Some(json!({"name": "Mon", "slug": slug, "autoIncidents": true}))).await;
    r.expect(201).json["data"]["id"].as_str().unwrap().to_owned()
}

async fn open_incidents(app: &TestApp, page: &str) -> usize {
    let r = app.call("GET", &format!("/api/v1/pages/{page}/incidents?open=true"), None).await;
    r.expect(200).json["data"].as_array().unwrap().len()
}

async fn create(app: &TestApp, body: Value) -> Value {
    let r = app.call("POST", "/api/v1/monitors", Some(body)).await;
    r.expect(201).json["data"].clone()
}

async fn status_of(app: &TestApp, service: &str) -> String {
    let r = app.call("GET", &format!("/api/v1/services/{service}"), None).await;
    r.expect(200).json["data"]["currentStatus"].as_str().unwrap().to_owned()
}

async fn monitor_events(app: &TestApp) -> Vec<String> {
    let r = app.call("GET", "/api/v1/events?limit=100", None).await;
    let mut types: Vec<String> = r.expect(200).json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .filter(|t| t.starts_with("monitor.") && t != "monitor.created")
        .collect();
    types.reverse();
    types
}

#[tokio::test]
async fn fail_fail_ok_fail_fail_fail_ok_fail_ok_ok_with_thresholds_3_and_2_goes_down_at_six_and_up_at_ten() {
    // Arrange: a target answering as scripted, a monitor linked to a service.
    let app = TestApp::isolated().await;
    let page = auto_page(&app).await;
    let service = app.service(&page, "API").await;
    let sequence = [500, 500, 200, 500, 500, 500, 200, 500, 200, 200];
    let target = Receiver::start(move |_, n| Reply::Status(sequence.get(n).copied().unwrap_or(200))).await;
    let m = create(
        &app,
        json!({"name": "API health", "url": format!("{}/health", target.base), "serviceId": service,
               "failureThreshold": 3, "successThreshold": 2}),
    )
    .await;
    assert_eq!((m["status"].as_str(), m["intervalSeconds"].as_u64()), (Some("pending"), Some(60)));

    // Act: ten ticks a minute apart.
    let mut statuses = Vec::new();
    let mut open = Vec::new();
    for _ in 0..10 {
        let outcome = tick(&app).await;
        assert_eq!(outcome.checks, 1, "one due monitor, one check");
        statuses.push(status_of(&app, &service).await);
        open.push(open_incidents(&app, &page).await);
        app.clock.advance(Duration::seconds(60));
    }
    assert_eq!(open, [0, 0, 0, 0, 0, 1, 1, 1, 1, 0], "one incident, opened at the sixth check, resolved at the tenth");
    let incidents = app.call("GET", &format!("/api/v1/pages/{page}/incidents"), None).await;
    let incidents = incidents.expect(200).json["data"].as_array().unwrap().clone();
    assert_eq!(incidents.len(), 1);
    assert_eq!((incidents[0]["title"].as_str(), incidents[0]["impact"].as_str()), (Some("API is down"), Some("major")));
    let whole = app.call("GET", &format!("/api/v1/incidents/{}", incidents[0]["id"].as_str().unwrap()), None).await;
    let last = whole.expect(200).json["data"]["updates"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["status"].as_str(), last["body"].as_str()),
        (Some("resolved"), Some("API has recovered after 4 minutes."))
    );

    // Assert
    assert_eq!(target.count(), 10);
    let expected_service = ["operational"; 5]
        .into_iter()
        .chain(["outage"; 4])
        .chain(["operational"])
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert_eq!(statuses, expected_service);
    assert_eq!(monitor_events(&app).await, ["monitor.down", "monitor.up"]);
    let id = m["id"].as_str().unwrap();
    let checks = app.call("GET", &format!("/api/v1/monitors/{id}/checks"), None).await;
    let checks = checks.expect(200).json["data"].as_array().unwrap().clone();
    assert_eq!(checks.len(), 10);
    assert_eq!(checks[0]["ok"], true, "newest first: the tenth passed");
    assert_eq!(checks[9]["statusCode"], 500);
    assert!(checks[9]["error"].as_str().unwrap().contains("expected 200-299"));
    let now = app.call("GET", &format!("/api/v1/monitors/{id}"), None).await;
    assert_eq!(now.expect(200).json["data"]["status"], "up");
    let tenth =
        livestatus_shared::clock::timestamp(livestatus_shared::clock::Clock::now(&*app.clock) - Duration::seconds(60));
    assert_eq!(now.json["data"]["lastCheckedAt"].as_str(), Some(tenth.as_str()), "the last check, even when steady");
    let listed = app.call("GET", "/api/v1/monitors", None).await;
    assert_eq!(listed.expect(200).json["data"][0]["lastCheckedAt"].as_str(), Some(tenth.as_str()));

    // Deleting the monitor takes its check log with it.
    app.call("DELETE", &format!("/api/v1/monitors/{id}"), None).await.expect(204);
    let left = app
        .org_items(app.org)
        .await
        .into_iter()
        .filter(|i| i["sk"].as_s().unwrap().starts_with(&format!("MONITOR#{id}")))
        .count();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_linked_monitor_never_overrides_a_service_under_maintenance() {
    let app = TestApp::isolated().await;
    let page = app.page().await;
    let service = app.service(&page, "DB").await;
    let target = Receiver::start(|_, _| Reply::Status(503)).await;
    create(
        &app,
        json!({"name": "DB", "url": format!("{}/db", target.base), "serviceId": service, "failureThreshold": 1}),
    )
    .await;
    app.call("PATCH", &format!("/api/v1/services/{service}"), Some(json!({"currentStatus": "maintenance"})))
        .await
        .expect(200);

    tick(&app).await;

    assert_eq!(status_of(&app, &service).await, "maintenance");
    assert_eq!(monitor_events(&app).await, ["monitor.down"], "the monitor itself still goes down");
}

#[tokio::test]
async fn a_service_that_went_down_during_a_window_comes_out_of_it_as_its_monitor_sees_it() {
    // Arrange: an operational service with a monitor, a window from now for 10 minutes.
    let app = TestApp::isolated().await;
    let page = app.page().await;
    let service = app.service(&page, "DB").await;
    let target = Receiver::start(|_, _| Reply::Status(503)).await;
    create(
        &app,
        json!({"name": "DB", "url": format!("{}/db", target.base), "serviceId": service, "failureThreshold": 1}),
    )
    .await;
    let now = livestatus_shared::clock::Clock::now(&*app.clock);
    let window = json!({"title": "Upgrade", "body": "Upgrading.", "serviceIds": [service],
        "scheduledFor": livestatus_shared::clock::timestamp(now),
        "scheduledUntil": livestatus_shared::clock::timestamp(now + Duration::minutes(10))});
    app.call("POST", &format!("/api/v1/pages/{page}/maintenances"), Some(window)).await.expect(201);

    // Act: the window starts and the monitor goes down in the same tick; then it ends.
    tick(&app).await;
    let during = status_of(&app, &service).await;
    app.clock.advance(Duration::minutes(11));
    tick(&app).await;

    // Assert
    assert_eq!(during, "maintenance", "the window wins while it lasts");
    assert_eq!(monitor_events(&app).await, ["monitor.down"]);
    assert_eq!(status_of(&app, &service).await, "outage", "then the service is what its monitor says");
}

#[tokio::test]
async fn defaults_and_validation_follow_the_contract() {
    let app = TestApp::all().await;
    let m = create(&app, json!({"name": "Site", "url": "http://127.0.0.1:9/"})).await;
    assert_eq!(
        (
            m["method"].as_str(),
            m["intervalSeconds"].as_u64(),
            m["timeoutSeconds"].as_u64(),
            m["expectedStatus"].as_str(),
            m["failureThreshold"].as_u64(),
            m["successThreshold"].as_u64()
        ),
        (Some("GET"), Some(60), Some(10), Some("200-299"), Some(3), Some(2))
    );
    for (body, field) in [
        (json!({"name": "x", "url": "ftp://example.com/"}), "url"),
        (json!({"name": "x", "url": "http://169.254.169.254/latest/meta-data"}), "url"),
        (json!({"name": "x", "url": "http://127.0.0.1:9/", "intervalSeconds": 45}), "intervalSeconds"),
        (
            json!({"name": "x", "url": "http://127.0.0.1:9/", "intervalSeconds": 30, "timeoutSeconds": 30}),
            "timeoutSeconds",
        ),
        (json!({"name": "x", "url": "http://127.0.0.1:9/", "timeoutSeconds": 0}), "timeoutSeconds"),
        (json!({"name": "x", "url": "http://127.0.0.1:9/", "expectedStatus": "2xx"}), "expectedStatus"),
        (json!({"name": "x", "url": "http://127.0.0.1:9/", "method": "POST"}), "method"),
        (json!({"name": "x", "url": "http://127.0.0.1:9/", "failureThreshold": 0}), "failureThreshold"),
        (json!({"name": "x", "url": "http://127.0.0.1:9/", "serviceId": uuid::Uuid::now_v7()}), "serviceId"),
    ] {
        let r = app.call("POST", "/api/v1/monitors", Some(body.clone())).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field), "{body}: {}", r.json);
    }
}

#[tokio::test]
async fn the_flap_guard_stops_the_sixth_automatic_incident_within_an_hour() {
    // Arrange: a target that fails and recovers every other check; thresholds of 1.
    let app = TestApp::isolated().await;
    let page = auto_page(&app).await;
    let service = app.service(&page, "Flaky").await;
    let target = Receiver::start(|_, n| Reply::Status(if n % 2 == 0 { 500 } else { 200 })).await;
    create(
        &app,
        json!({"name": "Flaky", "url": format!("{}/f", target.base), "serviceId": service,
               "failureThreshold": 1, "successThreshold": 1}),
    )
    .await;

    // Act: six down-and-up cycles in 12 minutes.
    for _ in 0..12 {
        tick(&app).await;
        app.clock.advance(Duration::seconds(60));
    }

    // Assert
    let incidents = app.call("GET", &format!("/api/v1/pages/{page}/incidents"), None).await;
    assert_eq!(incidents.expect(200).json["data"].as_array().unwrap().len(), 5);
    let events = monitor_events(&app).await;
    assert_eq!(events.iter().filter(|t| *t == "monitor.down").count(), 6);
    assert_eq!(events.iter().filter(|t| *t == "monitor.flapping").count(), 1);
}

#[tokio::test]
async fn a_service_monitor_url_gets_a_linked_monitor_kept_in_step_with_it() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let r = app
        .call(
            "POST",
            &format!("/api/v1/pages/{page}/services"),
            Some(json!({"name": "Web", "monitorUrl": "http://127.0.0.1:9/a"})),
        )
        .await;
    let service = r.expect(201).json["data"]["id"].as_str().unwrap().to_owned();

    let linked = app.call("GET", &format!("/api/v1/monitors/{service}"), None).await;
    let linked = linked.expect(200).json["data"].clone();
    assert_eq!(
        (linked["url"].as_str(), linked["serviceId"].as_str()),
        (Some("http://127.0.0.1:9/a"), Some(service.as_str()))
    );
    assert_eq!((linked["intervalSeconds"].as_u64(), linked["failureThreshold"].as_u64()), (Some(60), Some(3)));
    assert_eq!(linked["pageId"].as_str(), Some(page.as_str()));

    app.call("PATCH", &format!("/api/v1/services/{service}"), Some(json!({"monitorUrl": "http://127.0.0.1:9/b"})))
        .await
        .expect(200);
    let moved = app.call("GET", &format!("/api/v1/monitors/{service}"), None).await;
    assert_eq!(moved.expect(200).json["data"]["url"], "http://127.0.0.1:9/b");
    let listed = app.call("GET", &format!("/api/v1/monitors?pageId={page}"), None).await;
    assert_eq!(listed.expect(200).json["data"].as_array().unwrap().len(), 1);

    // Through the monitors API its settings can be tuned, but not its URL, and it
    // cannot be deleted: it follows the service.
    let tuned = app.call("PATCH", &format!("/api/v1/monitors/{service}"), Some(json!({"failureThreshold": 5}))).await;
    assert_eq!(tuned.expect(200).json["data"]["failureThreshold"], 5);
    let r =
        app.call("PATCH", &format!("/api/v1/monitors/{service}"), Some(json!({"url": "http://127.0.0.1:9/c"}))).await;
    assert!(r.expect_error(400, "invalid_request").json["error"]["message"].as_str().unwrap().contains("monitorUrl"));
    app.call("DELETE", &format!("/api/v1/monitors/{service}"), None).await.expect_error(400, "invalid_request");

    // Removing the URL removes the monitor, with its event and its records.
    put_check_record(&app, &service).await;
    app.call("PATCH", &format!("/api/v1/services/{service}"), Some(json!({"monitorUrl": null}))).await.expect(200);
    app.call("GET", &format!("/api/v1/monitors/{service}"), None).await.expect_error(404, "not_found");
    assert_eq!(monitor_records(&app, &service).await, 0);
    let events = app.call("GET", "/api/v1/events?limit=100", None).await;
    let deleted = events.expect(200).json["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "monitor.deleted" && e["data"]["monitor"]["id"] == service.as_str())
        .count();
    assert_eq!(deleted, 1);

    // Deleting a service takes its linked monitor's records too.
    app.call("PATCH", &format!("/api/v1/services/{service}"), Some(json!({"monitorUrl": "http://127.0.0.1:9/d"})))
        .await
        .expect(200);
    put_check_record(&app, &service).await;
    app.call("DELETE", &format!("/api/v1/services/{service}"), None).await.expect(204);
    app.call("GET", &format!("/api/v1/monitors/{service}"), None).await.expect_error(404, "not_found");
    assert_eq!(monitor_records(&app, &service).await, 0);
}

/// Puts a check record of monitor `id`, as the scheduler writes them.
async fn put_check_record(app: &TestApp, id: &str) {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    app.store
        .client()
        .put_item()
        .table_name(app.store.table())
        .item("pk", A::S(format!("ORG#{}", app.org)))
        .item("sk", A::S(format!("MONITOR#{id}#CHECK#2026-11-23T00:00:00.000Z")))
        .item("entity", A::S("monitorCheck".into()))
        .send()
        .await
        .unwrap();
}

/// Items under `MONITOR#<id>#`: its checks and rollups.
async fn monitor_records(app: &TestApp, id: &str) -> usize {
    let prefix = format!("MONITOR#{id}#");
    app.org_items(app.org).await.iter().filter(|i| i["sk"].as_s().unwrap().starts_with(&prefix)).count()
}

#[tokio::test]
async fn monitor_urls_face_the_same_address_guard_as_webhooks_at_send_time() {
    use livestatus_shared::outbound::Policy;
    use livestatus_shared::outbound::sender::Sender;
    let strict = Sender::new(Policy { allow_private: false, allow_http: false }, std::time::Duration::from_secs(2));
    for url in [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://100.64.0.1/",
    ] {
        let probe = strict.check("GET", url, std::time::Duration::from_secs(2), None).await;
        assert!(probe.error.as_deref().is_some_and(|e| e.starts_with("refused")), "{url}: {probe:?}");
        assert_eq!(probe.status, None);
    }
    // The local run's setting allows private targets, never cloud metadata.
    let local = Sender::new(Policy { allow_private: true, allow_http: true }, std::time::Duration::from_secs(2));
    let probe =
        local.check("GET", "http://169.254.169.254/latest/meta-data/", std::time::Duration::from_secs(2), None).await;
    assert!(probe.error.as_deref().is_some_and(|e| e.starts_with("refused")), "{probe:?}");
}

/// A target on 127.0.0.1 answering every request after `delay`, or never (`None`:
/// it accepts connections and reads nothing, a blackhole).
#[tokio::test]
async fn uptime_reads_ended_days_from_their_rollups_and_today_from_the_shard_state() {
    // Arrange: a monitor whose checks straddle midnight UTC: three on the first day
    // (one failing), one on the next.
    let app = TestApp::isolated().await;
    let sequence = [200, 500, 200, 200];
    let target = Receiver::start(move |_, n| Reply::Status(sequence.get(n).copied().unwrap_or(200))).await;
    let now = livestatus_shared::clock::Clock::now(&*app.clock);
    let midnight = (now.date_naive() + Duration::days(1)).and_hms_opt(0, 0, 0).unwrap().and_utc();
    app.clock.advance(midnight - now - Duration::seconds(150));
    let (first, second) = (now.date_naive(), midnight.date_naive());
    let m = create(&app, json!({"name": "Days", "url": format!("{}/d", target.base)})).await;
    let id = m["id"].as_str().unwrap();

    // Act: four ticks a minute apart (23:57:30, 23:58:30, 23:59:30, 00:00:30).
    for _ in 0..4 {
        assert_eq!(tick(&app).await.checks, 1);
        app.clock.advance(Duration::seconds(60));
    }
    let r = app.call("GET", &format!("/api/v1/monitors/{id}/uptime?from={first}&to={second}"), None).await;

    // Assert
    let u = r.expect(200).json["data"].clone();
    assert_eq!(
        (u["checks"].as_u64(), u["passed"].as_u64(), u["uptimePercentage"].as_f64()),
        (Some(4), Some(3), Some(75.0))
    );
    let days = u["days"].as_array().unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0]["date"].as_str(), Some(first.to_string().as_str()));
    assert_eq!((days[0]["checks"].as_u64(), days[0]["uptimePercentage"].as_f64()), (Some(3), Some(66.666)));
    assert_eq!((days[1]["checks"].as_u64(), days[1]["uptimePercentage"].as_f64()), (Some(1), Some(100.0)));
    assert!(days[1]["averageLatencyMs"].is_u64());
    let rollup = format!("MONITOR#{id}#DAY#{first}");
    assert!(
        app.org_items(app.org).await.iter().any(|i| i["sk"].as_s().unwrap() == &rollup),
        "the ended day is a rollup"
    );

    // The default range is the last 30 days, today's last; days without checks say so.
    let r = app.call("GET", &format!("/api/v1/monitors/{id}/uptime"), None).await;
    let days = r.expect(200).json["data"]["days"].as_array().unwrap().clone();
    assert_eq!(days.len(), 30);
    assert_eq!(days[29]["date"].as_str(), Some(second.to_string().as_str()));
    assert_eq!((days[0]["checks"].as_u64(), days[0]["uptimePercentage"].is_null()), (Some(0), true));

    // Bad ranges and unknown monitors are refused.
    let bad = app.call("GET", &format!("/api/v1/monitors/{id}/uptime?from={second}&to={first}"), None).await;
    assert_eq!(bad.expect(400).json["error"]["code"], "invalid_request");
    app.call("GET", &format!("/api/v1/monitors/{id}/uptime?from=2026-02-30"), None).await.expect(400);
    app.call("GET", &format!("/api/v1/monitors/{id}/uptime?from=2024-01-01&to=2026-01-01"), None).await.expect(400);
    app.call("GET", &format!("/api/v1/monitors/{}/uptime", uuid::Uuid::now_v7()), None).await.expect(404);
}

#[tokio::test]
async fn the_monitor_state_forgets_monitors_deleted_over_a_week_ago() {
    // Arrange: one monitor more than there are state items, so two share one; all checked once.
    use livestatus_shared::store::monitors::{STATE_GROUPS, state_group};
    let app = TestApp::isolated().await;
    let target = Receiver::start(|_, _| Reply::Status(200)).await;
    let mut ids = Vec::new();
    for i in 0..=STATE_GROUPS {
        let m = create(&app, json!({"name": format!("m{i}"), "url": format!("{}/{i}", target.base)})).await;
        ids.push(m["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap());
    }
    tick(&app).await;
    let (gone, kept) = ids
        .iter()
        .enumerate()
        .find_map(|(i, a)| ids[i + 1..].iter().find(|b| state_group(**b) == state_group(*a)).map(|b| (*a, *b)))
        .expect("two monitors share a state item");
    let group = state_group(gone);
    assert!(app.store.monitor_state(app.org, group).await.unwrap().last.contains_key(&gone));

    // Act: one is deleted; a day later, and eight days later, the others are checked again.
    app.call("DELETE", &format!("/api/v1/monitors/{gone}"), None).await.expect(204);
    app.clock.advance(Duration::days(1));
    tick(&app).await;
    let after_a_day = app.store.monitor_state(app.org, group).await.unwrap();
    app.clock.advance(Duration::days(7));
    tick(&app).await;
    let after_eight_days = app.store.monitor_state(app.org, group).await.unwrap();

    // Assert
    assert!(after_a_day.last.contains_key(&gone), "kept while its last check is under a week old");
    assert!(!after_eight_days.last.contains_key(&gone) && !after_eight_days.day.contains_key(&gone));
    assert!(after_eight_days.last.contains_key(&kept));
}

#[tokio::test]
async fn each_organization_keeps_its_monitors_state_in_its_own_partition() {
    // Arrange: two organizations with a monitor each.
    let app = TestApp::isolated().await;
    let target = Receiver::start(|_, _| Reply::Status(200)).await;
    let (other, other_key) = app.new_org(livestatus_shared::domain::Plan::Business).await;
    let mine = create(&app, json!({"name": "mine", "url": format!("{}/a", target.base)})).await;
    let theirs = app
        .call_as(
            &other_key,
            "POST",
            "/api/v1/monitors",
            Some(json!({"name": "theirs", "url": format!("{}/b", target.base)})),
        )
        .await;
    let theirs = theirs.expect(201).json["data"].clone();

    // Act
    assert_eq!(tick(&app).await.checks, 2);

    // Assert: each monitor's last check is in its own organization's items, and nothing
    // of the scheduler's holds an entry per monitor.
    let state_items = |items: Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>| {
        items.into_iter().filter(|i| i["sk"].as_s().unwrap().starts_with("MONITORSTATE#")).collect::<Vec<_>>()
    };
    let in_mine = state_items(app.org_items(app.org).await);
    let in_theirs = state_items(app.org_items(other).await);
    let holds = |items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>], id: &Value| {
        items.iter().any(|i| i["last"].as_m().unwrap().contains_key(id.as_str().unwrap()))
    };
    assert!(holds(&in_mine, &mine["id"]) && !holds(&in_mine, &theirs["id"]));
    assert!(holds(&in_theirs, &theirs["id"]) && !holds(&in_theirs, &mine["id"]));
    let r = app.call_as(&other_key, "GET", &format!("/api/v1/monitors/{}", theirs["id"].as_str().unwrap()), None).await;
    assert!(r.expect(200).json["data"]["lastCheckedAt"].is_string());
}

#[tokio::test]
async fn over_an_hour_each_monitor_is_checked_once_per_interval_and_never_twice_by_racing_ticks() {
    // Arrange: monitors every 30 s, minute, 5 minutes and hour, each checked once (new).
    let app = TestApp::isolated().await;
    let target = Receiver::start(|_, _| Reply::Status(200)).await;
    let mut ids = Vec::new();
    for (i, (interval, timeout)) in [(30, 10), (60, 10), (300, 10), (3600, 10)].into_iter().enumerate() {
        let body = json!({"name": format!("m{i}"), "url": format!("{}/{i}", target.base),
                          "intervalSeconds": interval, "timeoutSeconds": timeout});
        ids.push(create(&app, body).await["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(tick(&app).await.checks, 4, "new monitors are checked at once");

    // Act: an hour of ticks every 30 s, each run twice at once (as two overlapping
    // scheduler invocations would).
    let mut total = 0;
    for _ in 0..120 {
        app.clock.advance(Duration::seconds(30));
        let (a, b) = tokio::join!(tick(&app), tick(&app));
        total += a.checks + b.checks;
    }

    // Assert: 120 + 60 + 12 + 1 checks, each monitor's as many as its interval makes.
    assert_eq!(total, 120 + 60 + 12 + 1);
    let items = app.org_items(app.org).await;
    for (id, expected) in ids.iter().zip([121, 61, 13, 2]) {
        let prefix = format!("MONITOR#{id}#CHECK#");
        let checks = items.iter().filter(|i| i["sk"].as_s().unwrap().starts_with(&prefix)).count();
        assert_eq!(checks, expected, "monitor {id}");
    }
}

#[tokio::test]
async fn one_tenants_blackholed_targets_do_not_delay_another_tenants_check() {
    // Arrange: an organization with 300 monitors of a target that never answers (2 s
    // timeout), more than a batch, and another organization with one healthy monitor.
    let app = TestApp::isolated().await;
    let blackhole = slow_target(None).await;
    many_monitors(&app, 300, &blackhole, 2).await;
    let arrived = std::sync::Arc::new(std::sync::Mutex::new(None::<std::time::Instant>));
    let seen = arrived.clone();
    let healthy = Receiver::start(move |_, _| {
        seen.lock().unwrap().get_or_insert_with(std::time::Instant::now);
        Reply::Status(200)
    })
    .await;
    let (_, other_key) = app.new_org(livestatus_shared::domain::Plan::Free).await;
    app.call_as(
        &other_key,
        "POST",
        "/api/v1/monitors",
        Some(json!({"name": "ok", "url": format!("{}/ok", healthy.base)})),
    )
    .await
    .expect(201);

    // Act
    let started = std::time::Instant::now();
    let outcome = tick(&app).await;

    // Assert: the healthy check went out at once, not after the blackholes' timeout.
    assert_eq!(outcome.checks, 301);
    let at = arrived.lock().unwrap().expect("the healthy target was checked");
    assert!(at - started < std::time::Duration::from_millis(1500), "checked after {:?}", at - started);
}

/// The monitor-worker function as the scheduler sees it: takes each work order and keeps
/// it, so the test runs each order as the worker function would, as often as it likes.
#[derive(Default)]
struct KeptOrders(std::sync::Mutex<Vec<Vec<u8>>>);

impl livestatus_shared::scheduler::Workers for KeptOrders {
    fn hand(&self, order: Vec<u8>) -> futures::future::BoxFuture<'_, Result<(), String>> {
        self.0.lock().unwrap().push(order);
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn the_scheduler_hands_due_checks_to_workers_in_batches_and_an_order_run_twice_checks_once() {
    use livestatus_shared::scheduler::{self, monitors::WorkOrder};
    use livestatus_tests::policy::FUNCTION;
    // Arrange: 150 monitors of one organization, one of another's.
    let app = TestApp::isolated().await;
    let target = Receiver::start(|_, _| Reply::Status(200)).await;
    many_monitors(&app, 150, &target.base, 10).await;
    let (_, other_key) = app.new_org(livestatus_shared::domain::Plan::Free).await;
    let body = json!({"name": "other", "url": format!("{}/other", target.base)});
    app.call_as(&other_key, "POST", "/api/v1/monitors", Some(body)).await.expect(201);
    let workers = KeptOrders::default();

    // Act: the scheduler's tick hands the due checks over.
    let outcome = FUNCTION.scope("scheduler", scheduler::tick_with(&app.state, Some(&workers))).await.unwrap();

    // Assert: three orders of one organization each (two of whole state groups, at most
    // 100 checks, and the other's one), none checked yet.
    assert_eq!((outcome.checks, outcome.handed), (0, 151));
    assert_eq!(target.count(), 0, "the scheduler checks nothing it handed over");
    let orders = workers.0.lock().unwrap().clone();
    let parsed: Vec<WorkOrder> = orders.iter().map(|o| serde_json::from_slice(o).unwrap()).collect();
    let mut sizes: Vec<usize> = parsed.iter().map(|o| o.monitors.len()).collect();
    sizes.sort_unstable();
    assert_eq!((sizes.len(), sizes[0], sizes.iter().sum::<usize>()), (3, 1, 151), "{sizes:?}");
    assert!(sizes[2] <= 100);
    assert!(parsed.iter().all(|o| o.monitors.iter().all(|m| m.org() == o.org)));

    // Act: each order as the worker function runs it, then each again (an asynchronous
    // invocation is delivered at least once).
    let mut checks = 0;
    for round in 0..2 {
        for order in &orders {
            let order: WorkOrder = serde_json::from_slice(order).unwrap();
            let done = FUNCTION.scope("monitor-worker", scheduler::monitors::work(&app.state, order)).await.unwrap();
            checks += done.checks;
        }
        // Assert: every monitor checked once, the second delivery skipped.
        assert_eq!((round, checks, target.count()), (round, 151, 151));
    }
    let items = app.org_items(app.org).await;
    let records = items.iter().filter(|i| i["sk"].as_s().unwrap().contains("#CHECK#")).count();
    assert_eq!(records, 150);
}

#[tokio::test]
async fn a_failed_write_of_checks_is_tried_again_and_checks_it_never_records_are_counted() {
    // Arrange: 40 monitors; the first write of one state item fails.
    let app = TestApp::isolated().await;
    let target = Receiver::start(|_, _| Reply::Status(200)).await;
    many_monitors(&app, 40, &target.base, 10).await;
    app.calls.fail_matching("UpdateItem", "MONITORSTATE#", 1);

    // Act
    let outcome = tick(&app).await;

    // Assert: every check made once and recorded once: only the write was tried again.
    assert_eq!((outcome.checks, outcome.failed), (40, 0));
    assert_eq!(target.count(), 40);
    let at = livestatus_shared::clock::timestamp(livestatus_shared::clock::Clock::now(&*app.clock));
    let records = |items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>], at: &str| {
        items.iter().filter(|i| i["sk"].as_s().unwrap().ends_with(&format!("#CHECK#{at}"))).count()
    };
    assert_eq!(records(&app.org_items(app.org).await, &at), 40);
    let ids: Vec<uuid::Uuid> = app.call("GET", "/api/v1/monitors?limit=100", None).await.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().parse().unwrap())
        .collect();
    let states = app.store.monitor_states(app.org, &ids).await.unwrap();
    let group = livestatus_shared::store::monitors::state_group;
    assert!(ids.iter().all(|id| states[&group(*id)].last[id].at == at));

    // Act: a minute later the state items cannot be written at all.
    app.clock.advance(Duration::seconds(60));
    app.calls.fail_matching("UpdateItem", "MONITORSTATE#", usize::MAX);
    let outcome = tick(&app).await;

    // Assert: the unrecorded checks are counted, not lost silently.
    assert_eq!((outcome.checks, outcome.failed), (0, 40));

    // Act: the store heals; the next minute records them all.
    app.calls.heal();
    app.clock.advance(Duration::seconds(60));
    let outcome = tick(&app).await;
    assert_eq!((outcome.checks, outcome.failed), (40, 0));
}

#[tokio::test]
async fn a_monitor_keeps_its_days_counters_from_the_state_item_of_before_the_groups_grew() {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    use livestatus_shared::store::monitors::state_group;
    use livestatus_shared::store::schema;
    // Arrange: a monitor of a group that did not exist before, checked once; its entry
    // moved to the legacy item (group % 4) as an older version left it.
    let app = TestApp::isolated().await;
    let target = Receiver::start(|_, _| Reply::Status(200)).await;
    let mut id = None;
    for i in 0..12 {
        let m = create(&app, json!({"name": format!("m{i}"), "url": format!("{}/{i}", target.base)})).await;
        let m: uuid::Uuid = m["id"].as_str().unwrap().parse().unwrap();
        if state_group(m) >= schema::LEGACY_MONITOR_STATE_GROUPS {
            id = Some(m);
            break;
        }
    }
    let id = id.expect("a monitor of a new group");
    let (group, legacy) = (state_group(id), state_group(id) % schema::LEGACY_MONITOR_STATE_GROUPS);
    tick(&app).await;
    let first_check = livestatus_shared::clock::timestamp(livestatus_shared::clock::Clock::now(&*app.clock));
    let own = app.store.monitor_state(app.org, group).await.unwrap();
    let entry = vec![(id, own.last[&id].clone(), own.day[&id].clone())];
    let legacy_before = app.store.monitor_state(app.org, legacy).await.unwrap();
    app.store.update_monitor_state(app.org, legacy, &legacy_before, &entry, &[]).await.unwrap();
    app.store
        .client()
        .delete_item()
        .table_name(app.store.table())
        .key("pk", A::S(schema::org_pk(app.org)))
        .key("sk", A::S(schema::monitor_state_sk(group)))
        .send()
        .await
        .unwrap();

    // Assert: the API reads the last check from the legacy item.
    let m = app.call("GET", &format!("/api/v1/monitors/{id}"), None).await;
    assert_eq!(m.expect(200).json["data"]["lastCheckedAt"].as_str(), Some(first_check.as_str()));

    // Act: the next check.
    app.clock.advance(Duration::seconds(60));
    tick(&app).await;

    // Assert: today's counters went on from the legacy entry, now in the monitor's own item.
    let r = app.call("GET", &format!("/api/v1/monitors/{id}/uptime"), None).await;
    let days = r.expect(200).json["data"]["days"].as_array().unwrap().clone();
    assert_eq!(days.last().unwrap()["checks"].as_u64(), Some(2));
    assert_eq!(app.store.monitor_state(app.org, group).await.unwrap().day[&id].checks, 2);
}

/// A scheduler tick that hands its checks over, then each work order run as the
/// monitor-worker function runs it.
async fn worker_tick(app: &TestApp) -> usize {
    use livestatus_shared::scheduler::{self, monitors::WorkOrder};
    use livestatus_tests::policy::FUNCTION;
    let workers = KeptOrders::default();
    let outcome = FUNCTION.scope("scheduler", scheduler::tick_with(&app.state, Some(&workers))).await.unwrap();
    assert_eq!(outcome.checks, 0);
    let orders = workers.0.lock().unwrap().clone();
    let mut checks = 0;
    for order in orders {
        let order: WorkOrder = serde_json::from_slice(&order).unwrap();
        checks += FUNCTION.scope("monitor-worker", scheduler::monitors::work(&app.state, order)).await.unwrap().checks;
    }
    assert_eq!(checks, outcome.handed);
    checks
}

#[tokio::test]
async fn checked_by_workers_a_linked_monitor_drives_its_service_and_incidents_and_the_flap_guard_holds() {
    // Arrange: a linked monitor on a page with automatic incidents, whose target fails
    // and recovers every other check; thresholds of 1.
    let app = TestApp::isolated().await;
    let page = auto_page(&app).await;
    let service = app.service(&page, "Flaky").await;
    let target = Receiver::start(|_, n| Reply::Status(if n % 2 == 0 { 500 } else { 200 })).await;
    let body = json!({"name": "Flaky", "url": format!("{}/f", target.base), "serviceId": service,
                      "failureThreshold": 1, "successThreshold": 1});
    create(&app, body).await;

    // Act: the first check (down), as a worker makes it.
    assert_eq!(worker_tick(&app).await, 1);

    // Assert: the service is down and an incident is open.
    assert_eq!(status_of(&app, &service).await, "outage");
    assert_eq!(open_incidents(&app, &page).await, 1);

    // Act: five more down-and-up cycles, checked by workers.
    for _ in 0..11 {
        app.clock.advance(Duration::seconds(60));
        assert_eq!(worker_tick(&app).await, 1);
    }

    // Assert: as when the scheduler checks itself, five incidents, then the flap guard.
    let incidents = app.call("GET", &format!("/api/v1/pages/{page}/incidents"), None).await;
    assert_eq!(incidents.expect(200).json["data"].as_array().unwrap().len(), 5);
    let events = monitor_events(&app).await;
    assert_eq!(events.iter().filter(|t| *t == "monitor.down").count(), 6);
    assert_eq!(events.iter().filter(|t| *t == "monitor.flapping").count(), 1);
    assert_eq!(status_of(&app, &service).await, "operational");
}

#[tokio::test]
async fn migrate_moves_monitors_of_the_earlier_due_index_into_the_new_one() {
    // Arrange: a monitor checked once, then put back as an earlier version kept it.
    let app = TestApp::isolated().await;
    let target = Receiver::start(|_, _| Reply::Status(200)).await;
    let m = create(&app, json!({"name": "old", "url": format!("{}/old", target.base)})).await;
    let id = m["id"].as_str().unwrap();
    tick(&app).await;
    app.store
        .client()
        .update_item()
        .table_name(app.store.table())
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{}", app.org)))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("MONITOR#{id}")))
        .update_expression("SET gsi2pk = :legacy")
        .expression_attribute_values(":legacy", aws_sdk_dynamodb::types::AttributeValue::S("MONITORS#7".into()))
        .send()
        .await
        .unwrap();
    app.clock.advance(Duration::seconds(60));
    assert_eq!(tick(&app).await.checks, 0, "not in the due index");

    // Act
    let moved = app.store.migrate().await.unwrap();

    // Assert
    assert_eq!(moved, 1);
    app.clock.advance(Duration::seconds(60));
    assert_eq!(tick(&app).await.checks, 1);
}

async fn slow_target(delay: Option<std::time::Duration>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    match delay {
        Some(delay) => {
            // Its own runtime on its own thread, as a remote target's would be: the
            // latency it shows is not the harness's scheduling.
            let listener = listener.into_std().unwrap();
            std::thread::spawn(move || {
                let runtime =
                    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    let app = axum::Router::new().fallback(move || async move {
                        tokio::time::sleep(delay).await;
                        "ok"
                    });
                    axum::serve(listener, app).await.unwrap();
                });
            });
        }
        None => {
            tokio::spawn(async move {
                let mut held = Vec::new();
                while let Ok((socket, _)) = listener.accept().await {
                    held.push(socket);
                }
            });
        }
    }
    base
}

/// Creates `n` monitors of `url`s through the store (the API's limits do not matter).
async fn many_monitors(app: &TestApp, n: usize, url: &str, timeout_seconds: u32) {
    many_monitors_of(app, app.org, n, url, timeout_seconds).await;
}

/// The latencies of the check records of `monitors` (organization, id) at `at`, read by
/// key, 100 to a `BatchGetItem`.
async fn latencies_at(app: &TestApp, monitors: &[(uuid::Uuid, uuid::Uuid)], at: &str) -> Vec<u64> {
    use aws_sdk_dynamodb::types::{AttributeValue as A, KeysAndAttributes};
    use livestatus_shared::store::schema;
    let mut latencies = Vec::new();
    for chunk in monitors.chunks(100) {
        let mut keys: Vec<std::collections::HashMap<String, A>> = chunk
            .iter()
            .map(|(org, id)| {
                std::collections::HashMap::from([
                    ("pk".to_owned(), A::S(schema::org_pk(*org))),
                    ("sk".to_owned(), A::S(schema::check_sk(*id, at))),
                ])
            })
            .collect();
        while !keys.is_empty() {
            let out = app
                .store
                .client()
                .batch_get_item()
                .request_items(app.store.table(), KeysAndAttributes::builder().set_keys(Some(keys)).build().unwrap())
                .send()
                .await
                .unwrap();
            latencies.extend(
                out.responses
                    .and_then(|mut r| r.remove(app.store.table()))
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|i| i.get("latencyMs").and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<u64>().ok())),
            );
            keys =
                out.unprocessed_keys.and_then(|mut u| u.remove(app.store.table())).map(|k| k.keys).unwrap_or_default();
        }
    }
    latencies
}

/// Creates `n` monitors of `url`s in organization `org`, through the store; their ids.
async fn many_monitors_of(
    app: &TestApp,
    org: uuid::Uuid,
    n: usize,
    url: &str,
    timeout_seconds: u32,
) -> Vec<uuid::Uuid> {
    use livestatus_shared::store::events::Actor;
    use livestatus_shared::store::monitors::NewMonitor;
    let now = livestatus_shared::clock::Clock::now(&*app.clock);
    use futures::StreamExt;
    let results: Vec<_> = futures::stream::iter((0..n).map(|i| {
        let new = NewMonitor {
            id: uuid::Uuid::now_v7(),
            name: format!("m{i}"),
            url: format!("{url}/{i}"),
            service_id: None,
            method: "GET".into(),
            interval_seconds: 60,
            timeout_seconds,
            expected_status: "200-299".into(),
            keyword: None,
            degraded_after_ms: None,
            failure_threshold: 3,
            success_threshold: 2,
            paused: false,
        };
        let id = new.id;
        async move { app.store.create_monitor(&Write::new(org, Actor::operator(), now), new).await.map(|_| id) }
    }))
    .buffer_unordered(16)
    .collect()
    .await;
    results.into_iter().map(|r| r.expect("a monitor is created")).collect()
}

/// `infra/monitor-bench.sh`, first part: one tick of 1,000 due monitors against a target
/// answering in 50 ms. Prints the numbers for BENCHMARKS.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by infra/monitor-bench.sh"]
async fn monitor_tick_benchmark_healthy_targets() {
    livestatus_shared::telemetry::init();
    let n: usize = std::env::var("MONITORS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let app = TestApp::isolated().await;
    let target = slow_target(Some(std::time::Duration::from_millis(50))).await;

    // One check alone, for the latency a check records without load.
    many_monitors(&app, 1, &target, 10).await;
    tick(&app).await;
    app.clock.advance(Duration::seconds(3600));
    tick(&app).await;
    let single: Vec<u64> = recorded_latencies(&app).await;
    let single_median = median(&single);

    many_monitors(&app, n - 1, &target, 10).await;
    // The new ones' first two checks (pending to up, then the second success of the
    // threshold: each a write), then a steady tick.
    for _ in 0..2 {
        app.clock.advance(Duration::seconds(60));
        tick(&app).await;
    }
    app.clock.advance(Duration::seconds(60));
    let started = std::time::Instant::now();
    let outcome = tick(&app).await;
    let wall = started.elapsed();
    let recent = recorded_latencies(&app).await;
    println!(
        "monitor bench: {} checks in one steady tick: wall {:.2} s; recorded latency median {} ms (a single check alone: {} ms)",
        outcome.checks,
        wall.as_secs_f64(),
        median(&recent),
        single_median
    );
    assert_eq!(outcome.checks, n);
}

/// `infra/monitor-bench.sh`, at scale: 50,000 monitors (`MONITORS`) of 50 organizations
/// of the largest plan's 1,000, all due in one minute, against a target answering in
/// 50 ms: the steady tick's wall time, the latency its checks recorded against a single
/// check's, and its DynamoDB requests per due monitor. Prints the numbers for
/// BENCHMARKS.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by infra/monitor-bench.sh"]
async fn monitor_tick_benchmark_fifty_thousand() {
    livestatus_shared::telemetry::init();
    let n: usize = std::env::var("MONITORS").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    let app = TestApp::isolated().await;
    let target = slow_target(Some(std::time::Duration::from_millis(50))).await;
    many_monitors(&app, 1, &target, 10).await;
    tick(&app).await;
    app.clock.advance(Duration::seconds(3600));
    tick(&app).await;
    let single = median(&recorded_latencies(&app).await);

    let started = std::time::Instant::now();
    let mut left = n - 1;
    let mut monitors: Vec<(uuid::Uuid, uuid::Uuid)> = Vec::new();
    while left > 0 {
        let (org, _) = app.new_org(livestatus_shared::domain::Plan::Business).await;
        let size = left.min(1000);
        monitors.extend(many_monitors_of(&app, org, size, &target, 10).await.into_iter().map(|id| (org, id)));
        left -= size;
    }
    let created = started.elapsed();
    // The new ones' first two checks (pending to up, then the second success of the
    // threshold: each a write of the monitor), then a steady tick.
    let started = std::time::Instant::now();
    for _ in 0..2 {
        app.clock.advance(Duration::seconds(60));
        tick(&app).await;
    }
    let settled = started.elapsed();
    app.clock.advance(Duration::seconds(60));
    let at = livestatus_shared::clock::timestamp(livestatus_shared::clock::Clock::now(&*app.clock));
    app.calls.reset();
    let started = std::time::Instant::now();
    let outcome = tick(&app).await;
    let wall = started.elapsed();
    let calls = app.calls.calls();
    // The steady tick's checks, read back by key: one record each, at the tick's instant.
    let latencies = latencies_at(&app, &monitors, &at).await;
    // The state items' sizes: an update is billed by the item's whole size (1 WRU a KB).
    let mut state_sizes: Vec<usize> = Vec::new();
    let mut orgs: Vec<uuid::Uuid> = monitors.iter().map(|(org, _)| *org).collect();
    orgs.dedup();
    for org in orgs.into_iter().take(3) {
        state_sizes.extend(
            app.org_items(org)
                .await
                .iter()
                .filter(|i| i["sk"].as_s().is_ok_and(|sk| sk.starts_with("MONITORSTATE#")))
                .map(item_size),
        );
    }
    state_sizes.sort_unstable();
    state_sizes.dedup();
    let mut by_op: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for call in &calls {
        *by_op.entry(call.as_str()).or_default() += 1;
    }
    let per = |ops: &[&str]| ops.iter().map(|op| by_op.get(op).copied().unwrap_or(0)).sum::<usize>() as f64 / n as f64;
    println!(
        "monitor bench: {n} monitors in {} organizations created in {:.1} s, settled in two ticks in {:.1} s",
        n.div_ceil(1000),
        created.as_secs_f64(),
        settled.as_secs_f64()
    );
    println!(
        "monitor bench: {} checks ({} not recorded) in one steady tick: wall {:.2} s; recorded latency median {} ms over {} records (a single check alone: {} ms)",
        outcome.checks,
        outcome.failed,
        wall.as_secs_f64(),
        median(&latencies),
        latencies.len(),
        single
    );
    println!(
        "monitor bench: the steady tick's DynamoDB requests: {by_op:?}; per due monitor: reads {:.4} (GetItem, BatchGetItem, Query), writes {:.4} (UpdateItem, PutItem, BatchWriteItem, TransactWriteItems)",
        per(&["GetItem", "BatchGetItem", "Query"]),
        per(&["UpdateItem", "PutItem", "BatchWriteItem", "TransactWriteItems"])
    );
    println!("monitor bench: state item sizes of an organization of 1,000 monitors: {state_sizes:?} bytes");
    assert_eq!(outcome.failed, 0);
    assert_eq!(outcome.checks, n);
    assert_eq!(latencies.len(), n - 1);
}

/// An item's size as DynamoDB bills it: attribute names and values (numbers about a
/// byte per two digits), maps and lists 3 bytes plus a byte per element.
fn item_size(item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    fn value(v: &A) -> usize {
        match v {
            A::S(s) => s.len(),
            A::N(n) => n.len().div_ceil(2) + 1,
            A::Bool(_) | A::Null(_) => 1,
            A::M(m) => 3 + m.iter().map(|(k, v)| k.len() + value(v) + 1).sum::<usize>(),
            A::L(l) => 3 + l.iter().map(|v| value(v) + 1).sum::<usize>(),
            _ => 0,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

/// `infra/monitor-bench.sh`, second part (on a DynamoDB Local of its own): one
/// blackholed monitor with a 2 s timeout, then 100 of them in one tick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by infra/monitor-bench.sh"]
async fn monitor_tick_benchmark_blackholed_targets() {
    livestatus_shared::telemetry::init();
    let holes = TestApp::isolated().await;
    let blackhole = slow_target(None).await;
    // Each measured tick is a steady one: three failing ticks first take the monitors
    // down (each of those changes their runs, a write).
    let steady_tick = || async {
        for _ in 0..3 {
            holes.clock.advance(Duration::seconds(60));
            tick(&holes).await;
        }
        holes.clock.advance(Duration::seconds(60));
        let started = std::time::Instant::now();
        let outcome = tick(&holes).await;
        (outcome, started.elapsed())
    };
    many_monitors(&holes, 1, &blackhole, 2).await;
    let (_, one) = steady_tick().await;
    many_monitors(&holes, 99, &blackhole, 2).await;
    let (outcome, hundred) = steady_tick().await;
    println!(
        "monitor bench: one blackholed check with a 2 s timeout: tick {:.2} s; {} of them in one steady tick: {:.2} s",
        one.as_secs_f64(),
        outcome.checks,
        hundred.as_secs_f64()
    );
    assert_eq!(outcome.checks, 100);
}

async fn recorded_latencies(app: &TestApp) -> Vec<u64> {
    app.org_items(app.org)
        .await
        .into_iter()
        .filter(|i| i.get("entity").and_then(|e| e.as_s().ok()).map(String::as_str) == Some("monitorCheck"))
        .filter_map(|i| i.get("latencyMs").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()))
        .collect()
}

fn median(values: &[u64]) -> u64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}
