//! Per-plan quotas (`Plan::limits`): each answers `403 plan_limit` one past the plan's
//! number, and whatever removes an item gives its place back, a page's delete included.

use livestatus_shared::domain::Plan;
use livestatus_shared::outbound::sealing::{Owner, TokenPurpose};
use livestatus_shared::store::events::Actor;
use livestatus_shared::store::subscribers::{Contact, NewSubscriber};
use livestatus_shared::store::write::Write;
use livestatus_tests::{TestApp, TestResponse, all_routes, unique_slug};
use serde_json::json;
use uuid::Uuid;

fn id_of(r: &TestResponse) -> String {
    r.json["data"]["id"].as_str().unwrap().to_owned()
}

#[track_caller]
fn expect_plan_limit(r: &TestResponse, says: &str) {
    r.expect_error(403, "plan_limit");
    let message = r.json["error"]["message"].as_str().unwrap();
    assert!(message.contains(says), "{message}");
}

async fn public_get(app: &TestApp, path: &str) -> TestResponse {
    let req = axum::http::Request::builder().uri(path).header("host", "status.test");
    app.send(req.body(axum::body::Body::empty()).unwrap()).await
}

async fn public_page(app: &TestApp, key: &str) -> (String, String) {
    let slug = unique_slug("quota");
    let r =
        app.call_as(key, "POST", "/api/v1/pages", Some(json!({"name": "Quota", "slug": slug, "isPublic": true}))).await;
    r.expect(201);
    (id_of(&r), slug)
}

#[tokio::test]
async fn a_free_page_holds_25_services_and_a_deleted_service_frees_its_place() {
    let app = TestApp::with_plan(all_routes, Plan::Free).await;
    let (page, _) = public_page(&app, &app.key).await;
    let path = format!("/api/v1/pages/{page}/services");
    let mut services = Vec::new();
    for i in 0..25 {
        let r = app.call("POST", &path, Some(json!({"name": format!("S{i}")}))).await;
        r.expect(201);
        services.push(id_of(&r));
    }
    expect_plan_limit(&app.call("POST", &path, Some(json!({"name": "One too many"}))).await, "25 services per page");
    let listed = app.call("GET", &format!("{path}?limit=100"), None).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 25, "nothing half-written");

    app.call("DELETE", &format!("/api/v1/services/{}", services[0]), None).await.expect(204);
    app.call("POST", &path, Some(json!({"name": "In its place"}))).await.expect(201);
}

#[tokio::test]
async fn monitors_count_against_the_plan_linked_ones_too_and_a_deleted_page_gives_its_monitors_back() {
    let app = TestApp::with_plan(all_routes, Plan::Free).await;
    let (page, _) = public_page(&app, &app.key).await;
    let url = "http://127.0.0.1:9/health";
    let services = format!("/api/v1/pages/{page}/services");
    for i in 0..6 {
        app.call("POST", &services, Some(json!({"name": format!("L{i}"), "monitorUrl": url}))).await.expect(201);
    }
    let mut standalone = Vec::new();
    for i in 0..4 {
        let r = app.call("POST", "/api/v1/monitors", Some(json!({"name": format!("M{i}"), "url": url}))).await;
        r.expect(201);
        standalone.push(id_of(&r));
    }
    // Ten of ten: no new monitor in any of the three ways one is made.
    expect_plan_limit(
        &app.call("POST", "/api/v1/monitors", Some(json!({"name": "M", "url": url}))).await,
        "10 monitors",
    );
    expect_plan_limit(&app.call("POST", &services, Some(json!({"name": "L", "monitorUrl": url}))).await, "10 monitors");
    let plain = app.call("POST", &services, Some(json!({"name": "Plain"}))).await;
    plain.expect(201);
    let plain = id_of(&plain);
    expect_plan_limit(
        &app.call("PATCH", &format!("/api/v1/services/{plain}"), Some(json!({"monitorUrl": url}))).await,
        "10 monitors",
    );
    let listed = app.call("GET", &format!("{services}?limit=100"), None).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 7, "the refused linked service was not made");
    assert_eq!(app.call("GET", "/api/v1/monitors?limit=100", None).await.json["data"].as_array().unwrap().len(), 10);

    app.call("DELETE", &format!("/api/v1/monitors/{}", standalone[0]), None).await.expect(204);
    app.call("PATCH", &format!("/api/v1/services/{plain}"), Some(json!({"monitorUrl": url}))).await.expect(200);
    // A new URL for a linked monitor replaces it: no second place taken.
    app.call("PATCH", &format!("/api/v1/services/{plain}"), Some(json!({"monitorUrl": format!("{url}/2")})))
        .await
        .expect(200);

    // The page takes its seven linked monitors with it; the three standalone ones stay.
    app.call("DELETE", &format!("/api/v1/pages/{page}"), None).await.expect(204);
    app.next_window();
    let left = app.call("GET", "/api/v1/monitors?limit=100", None).await;
    assert_eq!(left.json["data"].as_array().unwrap().len(), 3);
    for i in 0..7 {
        app.call("POST", "/api/v1/monitors", Some(json!({"name": format!("N{i}"), "url": url}))).await.expect(201);
    }
    expect_plan_limit(
        &app.call("POST", "/api/v1/monitors", Some(json!({"name": "M", "url": url}))).await,
        "10 monitors",
    );
}

#[tokio::test]
async fn keys_and_webhooks_past_the_plan_answer_plan_limit_and_revoking_or_deleting_frees_a_place() {
    let app = TestApp::with_plan(all_routes, Plan::Pro).await;
    // The operator's key of the test app is one of the 25.
    let mut keys = Vec::new();
    for i in 0..24 {
        let r = app.call("POST", "/api/v1/keys", Some(json!({"name": format!("k{i}")}))).await;
        r.expect(201);
        keys.push(id_of(&r));
    }
    expect_plan_limit(&app.call("POST", "/api/v1/keys", Some(json!({"name": "k"}))).await, "25 API keys");
    app.call("DELETE", &format!("/api/v1/keys/{}", keys[3]), None).await.expect(204);
    app.call("DELETE", &format!("/api/v1/keys/{}", keys[3]), None).await.expect(204);
    app.call("POST", "/api/v1/keys", Some(json!({"name": "in its place"}))).await.expect(201);
    expect_plan_limit(&app.call("POST", "/api/v1/keys", Some(json!({"name": "k"}))).await, "25 API keys");

    let (_, free) = app.new_org(Plan::Free).await;
    let mut hooks = Vec::new();
    for i in 0..5 {
        let r = app
            .call_as(&free, "POST", "/api/v1/webhooks", Some(json!({"url": format!("http://127.0.0.1:9/{i}")})))
            .await;
        r.expect(201);
        hooks.push(id_of(&r));
    }
    let over = app.call_as(&free, "POST", "/api/v1/webhooks", Some(json!({"url": "http://127.0.0.1:9/x"}))).await;
    expect_plan_limit(&over, "5 webhooks");
    app.call_as(&free, "DELETE", &format!("/api/v1/webhooks/{}", hooks[0]), None).await.expect(204);
    app.call_as(&free, "POST", "/api/v1/webhooks", Some(json!({"url": "http://127.0.0.1:9/y"}))).await.expect(201);
}

#[tokio::test]
async fn a_full_page_takes_no_more_active_subscribers_by_api_or_by_confirmation_until_one_leaves() {
    let app = TestApp::with_plan(all_routes, Plan::Free).await;
    let (page, slug) = public_page(&app, &app.key).await;
    let page_id = Uuid::parse_str(&page).unwrap();
    let limit = Plan::Free.limits().subscribers_per_page as usize;
    // All but one seeded through the store, whose transaction is where the quota lives.
    let now = livestatus_shared::clock::Clock::now(&*app.clock);
    futures::StreamExt::for_each_concurrent(futures::stream::iter(0..limit - 1), 16, |i| {
        let app = &app;
        async move {
            let id = Uuid::now_v7();
            let owner = Owner::Subscriber { org: app.org, id };
            let sealed_secret = app.state.sealer.seal_for("whsec_c2VlZGVkIHNlY3JldCBmb3IgdGhlIHF1b3RhIHRlc3Q=", owner);
            let new = NewSubscriber {
                id,
                contact: Contact::Webhook { url: format!("http://127.0.0.1:9/s/{i}"), sealed_secret },
                service_ids: Vec::new(),
                confirmed: true,
            };
            app.store
                .create_subscriber(&Write::new(app.org, Actor::operator(), now), page_id, new, &|_| Vec::new())
                .await
                .unwrap();
        }
    })
    .await;
    let path = format!("/api/v1/pages/{page}/subscribers");
    let last = app.call("POST", &path, Some(json!({"type": "webhook", "url": "http://127.0.0.1:9/last"}))).await;
    last.expect(201);
    let over = app.call("POST", &path, Some(json!({"type": "webhook", "url": "http://127.0.0.1:9/over"}))).await;
    expect_plan_limit(&over, "500 active subscribers per page");

    // Pending sign-ups do not count (they are capped apart), but confirming one would.
    let pending = app.call("POST", &path, Some(json!({"type": "email", "email": "quota@example.test"}))).await;
    pending.expect(201);
    let pending_id = Uuid::parse_str(pending.json["data"]["id"].as_str().unwrap()).unwrap();
    let token = app.state.sealer.token(TokenPurpose::Confirm, app.org, pending_id, app.clock_secs());
    let confirm = format!("/status/{slug}/subscriptions/confirm?token={token}");
    let full = public_get(&app, &confirm).await;
    full.expect(403);
    assert!(full.json.as_str().unwrap().contains("This page is full"));
    let state = app.call("GET", &format!("/api/v1/subscribers/{pending_id}"), None).await;
    assert_eq!(state.json["data"]["state"], "pending");

    app.call("DELETE", &format!("/api/v1/subscribers/{}", id_of(&last)), None).await.expect(204);
    let confirmed = public_get(&app, &confirm).await;
    confirmed.expect(200);
    assert!(confirmed.json.as_str().unwrap().contains("You are subscribed"));
    expect_plan_limit(
        &app.call("POST", &path, Some(json!({"type": "webhook", "url": "http://127.0.0.1:9/over"}))).await,
        "500 active subscribers per page",
    );
}

#[tokio::test]
async fn skip_confirmation_names_the_key_that_vouched_and_is_limited_per_day_by_plan() {
    let app = TestApp::all().await;
    let (_, pro) = app.new_org(Plan::Pro).await;
    let (page, _) = public_page(&app, &pro).await;
    let path = format!("/api/v1/pages/{page}/subscribers");
    let skip =
        |i: usize| json!({"type": "email", "email": format!("vouched-{i}@example.test"), "skipConfirmation": true});

    let first = app.call_as(&pro, "POST", &path, Some(skip(0))).await;
    first.expect(201);
    let by = &first.json["data"]["confirmationSkippedBy"];
    assert_eq!(by["type"], "key");
    assert_eq!(by["prefix"].as_str().unwrap(), &pro[..by["prefix"].as_str().unwrap().len()]);
    let events = app.call_as(&pro, "GET", "/api/v1/events?type=subscriber.created", None).await;
    assert_eq!(events.json["data"][0]["data"]["subscriber"]["confirmationSkippedBy"], *by);
    assert_eq!(events.json["data"][0]["actor"], *by);

    let limit = Plan::Pro.limits().unconfirmed_per_day as usize;
    for i in 1..limit {
        if i % 50 == 0 {
            app.next_window();
        }
        app.call_as(&pro, "POST", &path, Some(skip(i))).await.expect(201);
    }
    app.next_window();
    let over = app.call_as(&pro, "POST", &path, Some(skip(limit))).await;
    expect_plan_limit(&over, "100 subscribers added with skipConfirmation per day");
    // The same address may still be asked to confirm.
    let asked = app
        .call_as(&pro, "POST", &path, Some(json!({"type": "email", "email": format!("vouched-{limit}@example.test")})))
        .await;
    asked.expect(201);
    assert_eq!(asked.json["data"]["state"], "pending");
    assert!(asked.json["data"].get("confirmationSkippedBy").is_none());

    app.clock.advance(chrono::Duration::days(1));
    app.call_as(&pro, "POST", &path, Some(skip(limit + 1))).await.expect(201);

    // The free plan never skips confirmation.
    let (_, free) = app.new_org(Plan::Free).await;
    let (free_page, _) = public_page(&app, &free).await;
    let refused = app.call_as(&free, "POST", &format!("/api/v1/pages/{free_page}/subscribers"), Some(skip(0))).await;
    expect_plan_limit(&refused, "does not allow skipConfirmation");
}
