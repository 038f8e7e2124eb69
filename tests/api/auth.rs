//! Authentication and scopes: missing, malformed, unknown, revoked and expired keys, both
//! headers, scope checks, and the envelope of router-level errors.

use axum::body::Body;
use axum::http::Request;
use livestatus_shared::clock::{Clock, timestamp};
use livestatus_shared::domain::Scope;
use livestatus_shared::store::api_keys::NewKey;
use livestatus_shared::store::write::Write;
use livestatus_tests::TestApp;

async fn app() -> TestApp {
    TestApp::new(livestatus_pages::router).await
}

#[tokio::test]
async fn a_request_without_a_key_gets_401_missing_api_key() {
    let app = app().await;

    app.call_as("", "GET", "/api/v1/pages", None).await.expect_error(401, "missing_api_key");
}

#[tokio::test]
async fn malformed_and_unknown_keys_get_401_invalid_api_key() {
    let app = app().await;
    let unknown = format!("ls_live_{}", "A".repeat(32));
    for key in ["nonsense", "ls_live_short", &unknown, &format!("{}x", app.key)] {
        app.call_as(key, "GET", "/api/v1/pages", None).await.expect_error(401, "invalid_api_key");
    }
    let basic = Request::get("/api/v1/pages")
        .header("authorization", format!("Basic {}", app.key))
        .body(Body::empty())
        .unwrap();
    app.send(basic).await.expect_error(401, "invalid_api_key");
}

#[tokio::test]
async fn the_x_api_key_header_is_accepted_as_a_fallback() {
    let app = app().await;
    let req = Request::get("/api/v1/pages").header("x-api-key", &app.key).body(Body::empty()).unwrap();

    app.send(req).await.expect(200);
}

#[tokio::test]
async fn a_revoked_key_is_refused_on_its_very_next_request() {
    let app = app().await;
    let (record, key) = app
        .store
        .create_key(
            &Write::new(
                app.org,
                livestatus_shared::store::events::Actor::operator(),
                "2026-01-01T00:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap(),
            ),
            NewKey { name: "to revoke".into(), scopes: &[], expires_at: None, rate_limit: 60 },
        )
        .await
        .unwrap();
    app.call_as(key.expose(), "GET", "/api/v1/pages", None).await.expect(200);

    app.store
        .revoke_key(
            &Write::new(app.org, livestatus_shared::store::events::Actor::operator(), app.clock.now()),
            record.id,
        )
        .await
        .unwrap();

    app.call_as(key.expose(), "GET", "/api/v1/pages", None).await.expect_error(401, "invalid_api_key");
    app.call("GET", "/api/v1/pages", None).await.expect(200);
}

#[tokio::test]
async fn an_expired_key_gets_401_invalid_api_key() {
    let app = app().await;
    let soon = timestamp(app.clock.now() + chrono::Duration::seconds(30));
    let (_, key) = app
        .store
        .create_key(
            &Write::new(
                app.org,
                livestatus_shared::store::events::Actor::operator(),
                "2026-01-01T00:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap(),
            ),
            NewKey { name: "short-lived".into(), scopes: &[], expires_at: Some(soon), rate_limit: 60 },
        )
        .await
        .unwrap();
    app.call_as(key.expose(), "GET", "/api/v1/pages", None).await.expect(200);

    app.clock.advance(chrono::Duration::seconds(31));

    app.call_as(key.expose(), "GET", "/api/v1/pages", None).await.expect_error(401, "invalid_api_key");
}

#[tokio::test]
async fn a_key_without_pages_write_gets_403_insufficient_scope_with_rate_headers() {
    let app = app().await;
    let reader = app.new_key(app.org, &[Scope::PagesRead]).await;

    let r = app.call_as(&reader, "POST", "/api/v1/pages", Some(serde_json::json!({"name": "x", "slug": "abc"}))).await;

    r.expect_error(403, "insufficient_scope");
    assert!(r.json["error"]["message"].as_str().unwrap().contains("pages:write"));
    assert_eq!(r.header("x-ratelimit-limit"), Some("60"));
    app.call_as(&reader, "GET", "/api/v1/pages", None).await.expect(200);
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_in_the_error_envelope() {
    let app = app().await;

    app.call("GET", "/api/v1/nothing-here", None).await.expect_error(404, "not_found");
    let r = app.call("PUT", "/api/v1/pages", None).await;
    r.expect_error(405, "method_not_allowed");
    let allow = r.header("allow").unwrap_or_default();
    assert!(allow.contains("GET") && allow.contains("POST"), "Allow: {allow}");
}
