//! Status history and uptime: every status change recorded, exact seconds per UTC day,
//! floored percentages, days before the service existed, validation and scope.

use chrono::{Duration, Timelike};
use livestatus_shared::clock::Clock;
use livestatus_shared::domain::Scope;
use livestatus_tests::TestApp;
use serde_json::{Value, json};

/// Moves the app's clock to the next UTC midnight plus `offset`.
fn to_next_midnight(app: &TestApp, offset: Duration) {
    let now = app.clock.now();
    let midnight = (now.date_naive() + Duration::days(1)).and_hms_opt(0, 0, 0).unwrap().and_utc();
    app.clock.advance(midnight - now + offset);
}

async fn set_status(app: &TestApp, service: &str, status: &str) {
    app.call("PATCH", &format!("/api/v1/services/{service}"), Some(json!({"currentStatus": status}))).await.expect(200);
}

/// Advances the clock to `hh:mm` of the current day.
fn at(app: &TestApp, hour: u32, minute: u32) {
    let now = app.clock.now();
    let target = now.date_naive().and_hms_opt(hour, minute, 0).unwrap().and_utc();
    assert!(target >= now, "the clock only moves forward");
    app.clock.advance(target - now);
}

#[tokio::test]
async fn a_known_day_of_outage_degradation_and_maintenance_gives_exact_seconds_and_a_floored_percentage() {
    // Arrange: created today, then tomorrow 30 min of outage, 2 h degraded and 45 min of
    // maintenance; the day after, nothing.
    let app = TestApp::all().await;
    let page = app.page().await;
    let created = app.clock.now();
    let service = app.service(&page, "API").await;
    to_next_midnight(&app, Duration::zero());
    let day = app.clock.now().date_naive();
    at(&app, 2, 0);
    set_status(&app, &service, "outage").await;
    at(&app, 2, 30);
    set_status(&app, &service, "operational").await;
    at(&app, 5, 0);
    set_status(&app, &service, "degraded").await;
    at(&app, 7, 0);
    set_status(&app, &service, "operational").await;
    at(&app, 22, 0);
    set_status(&app, &service, "maintenance").await;
    at(&app, 22, 45);
    set_status(&app, &service, "operational").await;
    to_next_midnight(&app, Duration::hours(6));

    // Act
    let before = day - Duration::days(2);
    let after = day + Duration::days(1);
    let r = app.call("GET", &format!("/api/v1/services/{service}/uptime?from={before}&to={after}"), None).await;

    // Assert
    let data = &r.expect(200).json["data"];
    assert_eq!(data["serviceId"], service.as_str());
    assert_eq!((data["from"].as_str(), data["to"].as_str()), (Some(&*before.to_string()), Some(&*after.to_string())));
    let days = data["days"].as_array().unwrap();
    assert_eq!(days.len(), 4);
    assert_eq!(days[0]["date"], before.to_string());
    assert_eq!(days[0]["uptimePercentage"], Value::Null, "a day before the service existed");
    let first_day_seconds = 86_400 - i64::from(created.num_seconds_from_midnight());
    assert_eq!(days[1]["uptimePercentage"], 100.0, "the day it was created, from its creation on");
    let known = &days[2];
    assert_eq!(known["date"], day.to_string());
    assert_eq!(
        (known["outageSeconds"].as_i64(), known["degradedSeconds"].as_i64(), known["maintenanceSeconds"].as_i64()),
        (Some(1800), Some(7200), Some(2700))
    );
    // (86400 - 1800) / 86400 = 97.9166…%, floored to 3 decimals.
    assert_eq!(known["uptimePercentage"], 97.916);
    assert_eq!(days[3]["uptimePercentage"], 100.0);
    assert_eq!(days[3]["outageSeconds"], 0);
    // Totals over the observed time only: the creation day's rest, the known day, 6 h.
    let observed = first_day_seconds + 86_400 + 6 * 3600;
    let expected = ((observed - 1800) as i128 * 100_000 / observed as i128) as f64 / 1000.0;
    assert_eq!(data["uptimePercentage"], expected);
    assert_eq!((data["outageSeconds"].as_i64(), data["degradedSeconds"].as_i64()), (Some(1800), Some(7200)));
    assert_eq!(data["maintenanceSeconds"], 2700);
}

#[tokio::test]
async fn uptime_defaults_to_the_last_90_days_and_an_ongoing_outage_counts_until_now() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let service = app.service(&page, "API").await;
    to_next_midnight(&app, Duration::hours(1));
    set_status(&app, &service, "outage").await;
    app.clock.advance(Duration::minutes(10));

    let r = app.call("GET", &format!("/api/v1/services/{service}/uptime"), None).await;

    let data = &r.expect(200).json["data"];
    let days = data["days"].as_array().unwrap();
    assert_eq!(days.len(), 90);
    assert_eq!(days[89]["date"], app.clock.now().date_naive().to_string());
    assert_eq!(days[89]["outageSeconds"], 600);
    assert_eq!(days[89]["uptimePercentage"], 85.714, "60 of 70 minutes up");
    assert!(days[..88].iter().all(|d| d["uptimePercentage"].is_null()));
}

#[tokio::test]
async fn a_status_written_twice_is_one_change_and_a_deleted_service_takes_its_history_along() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let service = app.service(&page, "API").await;
    set_status(&app, &service, "degraded").await;
    set_status(&app, &service, "degraded").await;
    app.call("PATCH", &format!("/api/v1/services/{service}"), Some(json!({"name": "API v2"}))).await.expect(200);
    let history = |items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>]| {
        items
            .iter()
            .filter(|i| i.get("entity").and_then(|e| e.as_s().ok()).map(String::as_str) == Some("statusChange"))
            .count()
    };
    assert_eq!(history(&app.org_items(app.org).await), 1);

    app.call("DELETE", &format!("/api/v1/services/{service}"), None).await.expect(204);

    assert_eq!(history(&app.org_items(app.org).await), 0);
    app.call("GET", &format!("/api/v1/services/{service}/uptime"), None).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn uptime_ranges_are_validated_and_need_the_analytics_scope() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let service = app.service(&page, "API").await;
    let url = |q: &str| format!("/api/v1/services/{service}/uptime?{q}");
    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-3-1", "from"),
        ("from=2026-03-02&to=2026-03-01", "from"),
        ("from=2025-01-01&to=2026-01-02", "from"),
    ] {
        let r = app.call("GET", &url(query), None).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field), "{query}: {}", r.json);
    }
    app.call("GET", &url("color=red"), None).await.expect_error(400, "invalid_request");
    app.call("GET", &url("from=2025-01-01&to=2025-12-31"), None).await.expect(200);

    let reader = app.new_key(app.org, &[Scope::ServicesRead]).await;
    app.call_as(&reader, "GET", &url(""), None).await.expect_error(403, "insufficient_scope");
    let analyst = app.new_key(app.org, &[Scope::AnalyticsRead]).await;
    app.call_as(&analyst, "GET", &url(""), None).await.expect(200);
    let (_, other) = app.new_org(livestatus_shared::domain::Plan::Business).await;
    app.call_as(&other, "GET", &url(""), None).await.expect_error(404, "not_found");
}
