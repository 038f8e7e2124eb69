//! `GET /api/v1/keys/{keyId}/usage`: admitted and rate-limited requests per UTC day,
//! counted by the authentication update itself (no extra call), exact under concurrency,
//! bounded to 30 days.

use futures::future::join_all;
use livestatus_shared::clock::Clock;
use livestatus_shared::domain::Plan;
use livestatus_tests::TestApp;
use serde_json::Value;

async fn key_id(app: &TestApp, plaintext: &str) -> String {
    let listed = app.call("GET", "/api/v1/keys", None).await;
    listed.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| plaintext.starts_with(k["prefix"].as_str().unwrap()))
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .unwrap()
}

fn day<'a>(usage: &'a Value, date: &str) -> &'a Value {
    usage["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == date)
        .unwrap_or_else(|| panic!("no {date} in {usage}"))
}

fn today(app: &TestApp) -> String {
    app.clock.now().format("%Y-%m-%d").to_string()
}

#[tokio::test]
async fn usage_is_exact_under_200_concurrent_requests_and_costs_no_extra_call() {
    let app = TestApp::all().await;
    let key = app.new_key(app.org, &[]).await;
    let id = key_id(&app, &key).await;
    // The key's first request opens its window (the two-call boundary case).
    app.call_as(&key, "GET", "/api/v1/pages", None).await.expect(200);
    app.calls.reset();

    let responses = join_all((0..199).map(|_| app.call_as(&key, "GET", "/api/v1/pages", None))).await;

    let admitted = responses.iter().filter(|r| r.status == 200).count();
    let limited = responses.iter().filter(|r| r.status == 429).count();
    assert_eq!((admitted + 1, limited), (60, 140));
    let calls = app.calls.calls();
    let updates = calls.iter().filter(|c| *c == "UpdateItem").count();
    assert_eq!(updates, 199, "one authenticating update per request, counting included");
    assert_eq!(calls.len() - updates, 59, "the handler's one query for each admitted request, nothing more");

    let usage = app.call("GET", &format!("/api/v1/keys/{id}/usage"), None).await;
    let usage = &usage.expect(200).json["data"];
    let expected = serde_json::json!({"date": today(&app), "admitted": 60, "rateLimited": 140});
    assert_eq!(day(usage, &today(&app)), &expected, "the open window counts too");

    // The next window folds the closed one into the day's totals; still exact.
    app.next_window();
    app.call_as(&key, "GET", "/api/v1/pages", None).await.expect(200);
    let usage = app.call("GET", &format!("/api/v1/keys/{id}/usage"), None).await.json["data"].clone();
    let date = today(&app);
    let (admitted, limited) = if date == expected["date"] { (61, 140) } else { (1, 0) };
    assert_eq!(day(&usage, &date), &serde_json::json!({"date": date, "admitted": admitted, "rateLimited": limited}));
    assert_eq!((usage["admitted"].as_u64(), usage["rateLimited"].as_u64()), (Some(61), Some(140)));
}

#[tokio::test]
async fn usage_lists_thirty_utc_days_oldest_first_with_quiet_days_as_zero() {
    let app = TestApp::all().await;
    let key = app.new_key(app.org, &[]).await;
    let id = key_id(&app, &key).await;
    let first_day = today(&app);
    for _ in 0..3 {
        app.call_as(&key, "GET", "/api/v1/pages", None).await.expect(200);
    }
    // Two days later, five more requests in two windows.
    app.clock.advance(chrono::Duration::days(2));
    for _ in 0..3 {
        app.call_as(&key, "GET", "/api/v1/pages", None).await.expect(200);
    }
    app.next_window();
    for _ in 0..2 {
        app.call_as(&key, "GET", "/api/v1/pages", None).await.expect(200);
    }

    let usage = app.call("GET", &format!("/api/v1/keys/{id}/usage"), None).await;
    let usage = &usage.expect(200).json["data"];

    let days = usage["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(usage["to"], today(&app));
    assert_eq!(usage["from"], days[0]["date"]);
    assert!(days.windows(2).all(|w| w[0]["date"].as_str() < w[1]["date"].as_str()), "oldest first");
    assert_eq!(day(usage, &first_day)["admitted"], 3);
    assert_eq!(day(usage, &today(&app))["admitted"], 5);
    let quiet = days.iter().filter(|d| d["admitted"] == 0 && d["rateLimited"] == 0).count();
    assert_eq!(quiet, 28);
    assert_eq!(usage["keyId"], id.as_str());
}

#[tokio::test]
async fn usage_older_than_thirty_days_is_dropped_from_the_report_and_from_the_key_item() {
    let app = TestApp::all().await;
    let key = app.new_key(app.org, &[]).await;
    let id = key_id(&app, &key).await;
    app.call_as(&key, "GET", "/api/v1/pages", None).await.expect(200);
    // One request a day for 40 days: every one opens a new window and folds the last.
    for _ in 0..40 {
        app.clock.advance(chrono::Duration::days(1));
        app.call_as(&key, "GET", "/api/v1/pages", None).await.expect(200);
    }

    let usage = app.call("GET", &format!("/api/v1/keys/{id}/usage"), None).await;
    let usage = &usage.expect(200).json["data"];

    assert_eq!(usage["admitted"], 30, "one a day over the 30 days reported");
    let item = app
        .org_items(app.org)
        .await
        .into_iter()
        .find(|i| i.get("sk").and_then(|s| s.as_s().ok()).map(String::as_str) == Some(&format!("APIKEY#{id}")))
        .unwrap();
    let hash = item["keyHash"].as_s().unwrap();
    assert!(app.item_exists(&format!("APIKEY#{hash}"), "APIKEY").await);
    let key_item = app
        .store
        .client()
        .get_item()
        .table_name(app.store.table())
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("APIKEY#{hash}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("APIKEY".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let usage_attributes = key_item.keys().filter(|k| k.starts_with("usage")).count();
    // Days 11 to 39 folded (day 40 is the open window); days 0 to 10 were removed.
    assert_eq!(usage_attributes, 29, "the key item keeps only the days it can still report");
}

#[tokio::test]
async fn another_orgs_key_usage_is_404_and_needs_keys_read() {
    let app = TestApp::all().await;
    let id = key_id(&app, &app.key).await;
    let (_, intruder) = app.new_org(Plan::Business).await;

    app.call_as(&intruder, "GET", &format!("/api/v1/keys/{id}/usage"), None).await.expect_error(404, "not_found");
    let narrow = app.new_key(app.org, &[livestatus_shared::domain::Scope::PagesRead]).await;
    app.call_as(&narrow, "GET", &format!("/api/v1/keys/{id}/usage"), None)
        .await
        .expect_error(403, "insufficient_scope");
    app.call("GET", "/api/v1/keys/not-a-uuid/usage", None).await.expect_error(404, "not_found");
}
