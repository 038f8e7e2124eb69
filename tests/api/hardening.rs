//! Findings of the security review (issue 28): no scope reads or acts through another,
//! a manual retry respects the endpoint and its scope, a client's `X-Forwarded-Host`
//! never makes a link, every response says `nosniff`, and an unknown stored scope fails
//! closed.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::Body;
use axum::http::Request;
use livestatus_shared::domain::Scope;
use livestatus_tests::{TestApp, unique_slug};
use serde_json::{Value, json};

use crate::webhooks::{Receiver, Reply, stream_new_events};

async fn page(app: &TestApp) -> (String, String) {
    let slug = unique_slug("hard");
    let r = app.call("POST", "/api/v1/pages", Some(json!({"name": "Acme", "slug": slug}))).await;
    (r.expect(201).json["data"]["id"].as_str().unwrap().to_owned(), slug)
}

async fn incident(app: &TestApp, page: &str) {
    let body = json!({"title": "Errors", "impact": "minor", "status": "investigating", "body": "Looking."});
    app.call("POST", &format!("/api/v1/pages/{page}/incidents"), Some(body)).await.expect(201);
}

/// A webhook and a webhook subscriber on `page`, an incident delivered to both through
/// the notifier; returns (webhook id, subscriber id, webhook delivery, subscriber delivery).
async fn two_deliveries(app: &TestApp, page: &str, receiver: &Receiver) -> (String, String, String, String) {
    let r = app
        .call(
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": format!("{}/hook", receiver.base), "events": ["incident.created"]})),
        )
        .await;
    let webhook = r.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    let r = app
        .call(
            "POST",
            &format!("/api/v1/pages/{page}/subscribers"),
            Some(json!({"type": "webhook", "url": format!("{}/sub", receiver.base)})),
        )
        .await;
    let subscriber = r.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    incident(app, page).await;
    stream_new_events(app, &mut HashSet::new(), 1).await;
    let first = |path: String| async move {
        let r = app.call("GET", &path, None).await;
        r.expect(200).json["data"][0]["id"].as_str().expect("a delivery").to_owned()
    };
    let to_webhook = first(format!("/api/v1/webhooks/{webhook}/deliveries")).await;
    let to_subscriber = first(format!("/api/v1/subscribers/{subscriber}/deliveries")).await;
    (webhook, subscriber, to_webhook, to_subscriber)
}

fn retry(delivery: &str) -> String {
    format!("/api/v1/deliveries/{delivery}/retry")
}

#[tokio::test]
async fn a_manual_retry_needs_the_scope_of_the_endpoint_it_retries() {
    // Arrange
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, _| Reply::Status(204)).await;
    let (page, _) = page(&app).await;
    let (_, _, to_webhook, to_subscriber) = two_deliveries(&app, &page, &receiver).await;
    let webhooks_only = app.new_key(app.org, &[Scope::WebhooksWrite]).await;
    let subscribers_only = app.new_key(app.org, &[Scope::SubscribersWrite]).await;
    let neither = app.new_key(app.org, &[Scope::WebhooksRead, Scope::SubscribersRead]).await;

    // Act / Assert
    app.call_as(&webhooks_only, "POST", &retry(&to_subscriber), None).await.expect_error(403, "insufficient_scope");
    app.call_as(&subscribers_only, "POST", &retry(&to_webhook), None).await.expect_error(403, "insufficient_scope");
    app.call_as(&neither, "POST", &retry(&to_webhook), None).await.expect_error(403, "insufficient_scope");
    app.call_as(&webhooks_only, "POST", &retry(&to_webhook), None).await.expect(202);
    app.call_as(&subscribers_only, "POST", &retry(&to_subscriber), None).await.expect(202);
}

#[tokio::test]
async fn a_disabled_webhook_or_an_unsubscribed_subscriber_is_never_sent_a_manual_retry() {
    // Arrange
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, _| Reply::Status(204)).await;
    let (page, _) = page(&app).await;
    let (webhook, subscriber, to_webhook, to_subscriber) = two_deliveries(&app, &page, &receiver).await;
    app.call("PATCH", &format!("/api/v1/webhooks/{webhook}"), Some(json!({"enabled": false}))).await.expect(200);
    app.call("DELETE", &format!("/api/v1/subscribers/{subscriber}"), None).await.expect(204);
    let before = receiver.count();

    // Act / Assert: 409, and nothing sent.
    app.call("POST", &retry(&to_webhook), None).await.expect_error(409, "not_retryable");
    app.call("POST", &retry(&to_subscriber), None).await.expect_error(409, "not_retryable");
    assert_eq!(receiver.count(), before);
}

#[tokio::test]
async fn a_confirmation_email_is_never_sent_again_by_hand() {
    // Arrange: a public sign-up, whose confirmation email goes out through the notifier.
    let app = TestApp::all().await;
    let (page, slug) = page(&app).await;
    let email = format!("{}@example.test", unique_slug("confirm"));
    let r = app
        .send(
            Request::post(format!("/status/{slug}/subscribe"))
                .header("content-type", "application/json")
                .body(Body::from(json!({"email": email}).to_string()))
                .unwrap(),
        )
        .await;
    assert!(r.status.is_success(), "{:?} {}", r.status, r.json);
    stream_new_events(&app, &mut HashSet::new(), 1).await;
    let subscribers = app.call("GET", &format!("/api/v1/pages/{page}/subscribers"), None).await;
    let id = subscribers.expect(200).json["data"][0]["id"].as_str().unwrap().to_owned();
    let deliveries = app.call("GET", &format!("/api/v1/subscribers/{id}/deliveries"), None).await;
    let confirmation = deliveries.expect(200).json["data"][0].clone();
    assert_eq!(confirmation["eventType"], "subscriber.confirmation_requested");

    // Act / Assert
    let r = app.call("POST", &retry(confirmation["id"].as_str().unwrap()), None).await;
    r.expect_error(409, "not_retryable");
}

#[tokio::test]
async fn the_sixth_manual_retry_of_a_delivery_within_an_hour_is_refused() {
    // Arrange
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, _| Reply::Status(204)).await;
    let (page, _) = page(&app).await;
    let (_, _, to_webhook, _) = two_deliveries(&app, &page, &receiver).await;

    // Act / Assert: five go through, the sixth waits for the next hour.
    for _ in 0..5 {
        app.call("POST", &retry(&to_webhook), None).await.expect(202);
    }
    let r = app.call("POST", &retry(&to_webhook), None).await;
    r.expect_error(429, "rate_limited");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    app.clock.advance(chrono::Duration::seconds(i64::try_from(wait).unwrap()));
    app.call("POST", &retry(&to_webhook), None).await.expect(202);
}

#[tokio::test]
async fn the_audit_log_does_not_read_through_another_scope() {
    // Arrange: a webhook, a subscriber with an address, a monitor with a URL.
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, _| Reply::Status(204)).await;
    let (page, _) = page(&app).await;
    app.call("POST", "/api/v1/webhooks", Some(json!({"url": format!("{}/secret-path", receiver.base)})))
        .await
        .expect(201);
    let email = format!("{}@example.test", unique_slug("audit"));
    app.call(
        "POST",
        &format!("/api/v1/pages/{page}/subscribers"),
        Some(json!({"type": "email", "email": email, "skipConfirmation": true})),
    )
    .await
    .expect(201);
    app.call(
        "POST",
        &format!("/api/v1/pages/{page}/services"),
        Some(json!({"name": "API", "monitorUrl": "https://api.example.test/health-token"})),
    )
    .await
    .expect(201);
    let events_only = app.new_key(app.org, &[Scope::EventsRead]).await;
    let everything = app
        .new_key(app.org, &[Scope::EventsRead, Scope::SubscribersRead, Scope::WebhooksRead, Scope::MonitorsRead])
        .await;

    // Act
    let narrow = app.call_as(&events_only, "GET", "/api/v1/events?limit=100", None).await;
    let wide = app.call_as(&everything, "GET", "/api/v1/events?limit=100", None).await;

    // Assert: the same events; the addresses only for the key that may read them.
    let text = |v: &Value| v.to_string();
    let (narrow, wide) = (text(&narrow.expect(200).json), text(&wide.expect(200).json));
    for secret in ["secret-path", email.as_str(), "health-token"] {
        assert!(!narrow.contains(secret), "events:read alone shows {secret}");
        assert!(wide.contains(secret), "the wider key sees {secret}");
    }
}

#[tokio::test]
async fn webhooks_write_cannot_subscribe_to_subscriber_events_without_subscribers_read() {
    // Arrange
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, _| Reply::Status(204)).await;
    let url = format!("{}/x", receiver.base);
    let writer = app.new_key(app.org, &[Scope::WebhooksWrite]).await;
    let body = json!({"url": url, "events": ["incident.created", "subscriber.created"]});

    // Act / Assert
    let r = app.call_as(&writer, "POST", "/api/v1/webhooks", Some(body.clone())).await;
    r.expect_error(403, "insufficient_scope");
    assert!(r.json["error"]["message"].as_str().unwrap().contains("subscribers:read"));
    let r = app.call_as(&writer, "POST", "/api/v1/webhooks", Some(json!({"url": url}))).await;
    let id = r.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    let r = app
        .call_as(&writer, "PATCH", &format!("/api/v1/webhooks/{id}"), Some(json!({"events": ["subscriber.confirmed"]})))
        .await;
    r.expect_error(403, "insufficient_scope");
    let reader = app.new_key(app.org, &[Scope::WebhooksWrite, Scope::SubscribersRead]).await;
    app.call_as(&reader, "POST", "/api/v1/webhooks", Some(body)).await.expect(201);
}

#[tokio::test]
async fn services_write_cannot_make_or_remove_a_linked_monitor_without_monitors_write() {
    // Arrange
    let app = TestApp::all().await;
    let (page, _) = page(&app).await;
    let services = app.new_key(app.org, &[Scope::ServicesWrite, Scope::ServicesRead]).await;
    let both = app.new_key(app.org, &[Scope::ServicesWrite, Scope::MonitorsWrite]).await;
    let linked = json!({"name": "API", "monitorUrl": "https://api.example.test/health"});

    // Act / Assert
    let path = format!("/api/v1/pages/{page}/services");
    app.call_as(&services, "POST", &path, Some(linked.clone())).await.expect_error(403, "insufficient_scope");
    let plain = app.call_as(&services, "POST", &path, Some(json!({"name": "Web"}))).await;
    let plain = plain.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    let set = json!({"monitorUrl": "https://web.example.test/health"});
    app.call_as(&services, "PATCH", &format!("/api/v1/services/{plain}"), Some(set))
        .await
        .expect_error(403, "insufficient_scope");
    let r = app.call_as(&both, "POST", &path, Some(linked)).await;
    let id = r.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    let clear = json!({"monitorUrl": null});
    app.call_as(&services, "PATCH", &format!("/api/v1/services/{id}"), Some(clear.clone()))
        .await
        .expect_error(403, "insufficient_scope");
    app.call_as(&services, "PATCH", &format!("/api/v1/services/{id}"), Some(json!({"name": "API v2"})))
        .await
        .expect(200);
    assert_eq!(app.call("GET", "/api/v1/monitors", None).await.expect(200).json["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_key_holding_a_scope_this_version_does_not_know_is_refused() {
    // Arrange: a key whose stored scopes are all unknown (dropping them would leave none,
    // which means every scope).
    let app = TestApp::all().await;
    let key = app.new_key(app.org, &[Scope::PagesRead]).await;
    let hash = livestatus_shared::apikey::PlaintextKey::parse(&key).unwrap().hash().0;
    app.store
        .client()
        .update_item()
        .table_name(app.store.table())
        .key("pk", AttributeValue::S(format!("APIKEY#{hash}")))
        .key("sk", AttributeValue::S("APIKEY".into()))
        .update_expression("SET scopes = :s")
        .expression_attribute_values(":s", AttributeValue::L(vec![AttributeValue::S("pages:admin".into())]))
        .send()
        .await
        .unwrap();

    // Act / Assert
    app.call_as(&key, "GET", "/api/v1/pages", None).await.expect_error(401, "invalid_api_key");
    app.call_as(&key, "DELETE", "/api/v1/keys/00000000-0000-7000-8000-000000000000", None)
        .await
        .expect_error(401, "invalid_api_key");
}

#[tokio::test]
async fn a_clients_forwarded_host_never_makes_a_link() {
    // Arrange
    let app = TestApp::all().await;
    let (_, slug) = page(&app).await;

    // Act
    let r = app
        .send(
            Request::get(format!("/status/{slug}/api/v2/summary.json"))
                .header("host", "d111111abcdef8.cloudfront.net")
                .header("x-forwarded-host", "evil.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;

    // Assert
    let url = r.expect(200).json["page"]["url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("https://d111111abcdef8.cloudfront.net/status/{slug}"));
}

#[tokio::test]
async fn every_response_says_nosniff_and_asks_for_https() {
    // Arrange
    let app = TestApp::all().await;
    let (_, slug) = page(&app).await;

    // Act / Assert: keyed, public, errors and the router's own 404.
    for (key, path) in [
        (app.key.as_str(), "/api/v1/pages".to_owned()),
        ("", "/api/v1/pages".to_owned()),
        ("", format!("/status/{slug}")),
        ("", format!("/status/{slug}/api/v2/status.json")),
        ("", "/status/no-such-page-here".to_owned()),
        ("", "/nowhere".to_owned()),
    ] {
        let r = app.call_as(key, "GET", &path, None).await;
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert!(r.header("strict-transport-security").is_some_and(|v| v.starts_with("max-age=")), "{path}");
    }
}
