//! API keys through the API: create, list, revoke, scopes on every route, escalation,
//! plan limits, expiry, and no plaintext in logs or the table.

use livestatus_shared::domain::{Plan, Scope};
use livestatus_shared::routes::ROUTES;
use livestatus_tests::TestApp;
use livestatus_tests::seed::valid_body;
use serde_json::{Value, json};

async fn create_key(app: &TestApp, key: &str, body: Value) -> livestatus_tests::TestResponse {
    app.call_as(key, "POST", "/api/v1/keys", Some(body)).await
}

#[tokio::test]
async fn a_created_key_is_shown_once_works_and_is_listed_without_its_plaintext() {
    let app = TestApp::all().await;

    let r =
        create_key(&app, &app.key, json!({"name": "Production CI", "scopes": ["pages:read", "incidents:write"]})).await;

    let created = &r.expect(201).json["data"];
    let plaintext = created["key"].as_str().unwrap().to_owned();
    assert!(plaintext.starts_with("ls_live_") && plaintext.len() == 40);
    assert_eq!(created["prefix"], &plaintext[..12]);
    assert_eq!(created["scopes"], json!(["pages:read", "incidents:write"]));
    assert_eq!(
        (created["status"].as_str(), &created["lastUsedAt"], &created["revokedAt"]),
        (Some("active"), &Value::Null, &Value::Null)
    );
    app.call_as(&plaintext, "GET", "/api/v1/pages", None).await.expect(200);
    let listed = app.call("GET", "/api/v1/keys", None).await;
    let ours =
        listed.expect(200).json["data"].as_array().unwrap().iter().find(|k| k["id"] == created["id"]).unwrap().clone();
    assert!(ours.get("key").is_none(), "the plaintext is never shown again");
    assert!(ours["lastUsedAt"].is_string(), "lastUsedAt is stamped by authentication");
    assert!(!listed.json.to_string().contains(&plaintext));
}

#[tokio::test]
async fn a_key_revoked_through_the_api_is_refused_on_its_next_request_and_stays_listed() {
    let app = TestApp::all().await;
    let created = create_key(&app, &app.key, json!({"name": "temp"})).await.json["data"].clone();
    let plaintext = created["key"].as_str().unwrap();
    app.call_as(plaintext, "GET", "/api/v1/pages", None).await.expect(200);

    app.call("DELETE", &format!("/api/v1/keys/{}", created["id"].as_str().unwrap()), None).await.expect(204);

    app.call_as(plaintext, "GET", "/api/v1/pages", None).await.expect_error(401, "invalid_api_key");
    let listed = app.call("GET", "/api/v1/keys", None).await;
    let ours = listed.json["data"].as_array().unwrap().iter().find(|k| k["id"] == created["id"]).unwrap().clone();
    assert_eq!(ours["status"], "revoked");
    assert!(ours["revokedAt"].is_string());
    app.call("DELETE", &format!("/api/v1/keys/{}", created["id"].as_str().unwrap()), None).await.expect(204);
}

#[tokio::test]
async fn another_orgs_key_id_answers_404_on_revoke_and_the_key_keeps_working() {
    let app = TestApp::all().await;
    let (_, intruder) = app.new_org(Plan::Pro).await;
    let victim = create_key(&app, &app.key, json!({"name": "victim"})).await.json["data"].clone();

    let foreign =
        app.call_as(&intruder, "DELETE", &format!("/api/v1/keys/{}", victim["id"].as_str().unwrap()), None).await;
    let random = app.call_as(&intruder, "DELETE", &format!("/api/v1/keys/{}", uuid::Uuid::now_v7()), None).await;

    foreign.expect_error(404, "not_found");
    random.expect_error(404, "not_found");
    assert_eq!(foreign.json["error"]["message"], random.json["error"]["message"]);
    app.call_as(victim["key"].as_str().unwrap(), "GET", "/api/v1/pages", None).await.expect(200);
}

#[tokio::test]
async fn a_key_cannot_mint_a_key_with_a_scope_it_does_not_hold() {
    let app = TestApp::all().await;
    let minter = app.new_key(app.org, &[Scope::KeysWrite, Scope::PagesRead]).await;

    let escalate = create_key(&app, &minter, json!({"name": "x", "scopes": ["pages:write"]})).await;
    let full = create_key(&app, &minter, json!({"name": "x"})).await;
    let narrower = create_key(&app, &minter, json!({"name": "x", "scopes": ["pages:read"]})).await;

    escalate.expect_error(403, "insufficient_scope");
    assert!(escalate.json["error"]["message"].as_str().unwrap().contains("pages:write"));
    full.expect_error(403, "insufficient_scope");
    narrower.expect(201);
}

#[tokio::test]
async fn free_organizations_get_plan_limit_on_key_creation() {
    let app = TestApp::with_plan(livestatus_tests::all_routes, Plan::Free).await;

    create_key(&app, &app.key, json!({"name": "x"})).await.expect_error(403, "plan_limit");
}

#[tokio::test]
async fn expiry_must_be_a_future_rfc3339_time_and_an_expired_key_is_refused() {
    let app = TestApp::all().await;
    for bad in [json!("tomorrow"), json!("2020-01-01T00:00:00Z"), json!(5)] {
        let r = create_key(&app, &app.key, json!({"name": "x", "expiresAt": bad})).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains("expiresAt"));
    }
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(121)}), "name"),
        (json!({"name": "x", "scopes": ["admin"]}), "scopes"),
    ] {
        let r = create_key(&app, &app.key, body).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field));
    }
    use livestatus_shared::clock::Clock;
    let at = livestatus_shared::clock::timestamp(app.clock.now() + chrono::Duration::minutes(5));
    let created = create_key(&app, &app.key, json!({"name": "short", "expiresAt": at})).await;
    let plaintext = created.expect(201).json["data"]["key"].as_str().unwrap().to_owned();
    assert_eq!(created.json["data"]["expiresAt"], at.as_str());
    app.call_as(&plaintext, "GET", "/api/v1/pages", None).await.expect(200);

    app.clock.advance(chrono::Duration::minutes(6));

    app.call_as(&plaintext, "GET", "/api/v1/pages", None).await.expect_error(401, "invalid_api_key");
    let listed = app.call("GET", "/api/v1/keys", None).await;
    assert!(listed.json["data"].as_array().unwrap().iter().any(|k| k["status"] == "expired"));
}

/// A request to `method path` that succeeds for a key with the route's scope, against
/// fresh resources made with the full-access key.
async fn valid_request(app: &TestApp, method: &str, path: &str) -> (String, Option<Value>) {
    let seeded = app.seed(Some(path)).await;
    (seeded.fill(path), valid_body(method, path))
}

#[tokio::test]
async fn every_route_refuses_a_key_without_its_scope_and_admits_a_key_with_only_that_scope() {
    let app = TestApp::all().await;
    let mut checked = 0;
    let authenticated: Vec<_> = ROUTES.iter().filter(|r| r.scope.is_some()).collect();
    for route in &authenticated {
        let scope = route.scope.expect("every v1 route needs a scope");
        let all_but: Vec<Scope> = Scope::ALL.into_iter().filter(|s| *s != scope).collect();
        let without = app.new_key(app.org, &all_but).await;
        let only = app.new_key(app.org, &[scope]).await;
        app.next_window();
        let (path, body) = valid_request(&app, route.method, route.path).await;

        let refused = app.call_as(&without, route.method, &path, body.clone()).await;
        let admitted = app.call_as(&only, route.method, &path, body).await;

        refused.expect_error(403, "insufficient_scope");
        assert!(refused.json["error"]["message"].as_str().unwrap().contains(scope.as_str()));
        assert!(
            admitted.status.is_success(),
            "{} {} with only {}: {} {}",
            route.method,
            route.path,
            scope.as_str(),
            admitted.status,
            admitted.json
        );
        checked += 1;
    }
    assert_eq!(checked, authenticated.len());
}
