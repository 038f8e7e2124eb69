//! Protected pages: a password set through the API locks every route of the page's tree
//! until the reader signs in (a signed cookie) or, on machine routes, passes the page's
//! access token; a new password signs everyone out; wrong passwords are limited per
//! address; nothing of a protected page is cached by others, indexed or shared across
//! origins. And the embed view, the one route any site may frame.

use axum::body::Body;
use axum::http::Request;
use livestatus_shared::http::ClientAddress;
use livestatus_tests::{TestApp, TestResponse, unique_slug};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

/// A page with a service and an open minor incident: (page id, slug, service, incident).
async fn page(app: &TestApp) -> (String, String, String, String) {
    let slug = unique_slug("locked");
    let r = app.call("POST", "/api/v1/pages", Some(json!({"name": "Acme Internal", "slug": slug}))).await;
    let page = r.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    let service = app.service(&page, "Payroll").await;
    let body = json!({"title": "Payroll exports delayed", "impact": "minor", "status": "investigating", "body": "Looking.", "affectedServiceIds": [service]});
    let r = app.call("POST", &format!("/api/v1/pages/{page}/incidents"), Some(body)).await;
    let incident = r.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    (page, slug, service, incident)
}

async fn set_password(app: &TestApp, page: &str, password: Value) -> TestResponse {
    app.call("PATCH", &format!("/api/v1/pages/{page}"), Some(json!({ "password": password }))).await
}

/// A keyless GET, with a cookie when given.
async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> TestResponse {
    let mut req = Request::builder().uri(path);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    app.send(req.body(Body::empty()).unwrap()).await
}

/// `POST <page>/login` from `address`.
async fn sign_in(app: &TestApp, slug: &str, password: &str, next: &str, address: &str) -> TestResponse {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("password", password)
        .append_pair("next", next)
        .finish();
    let mut req = Request::builder()
        .method("POST")
        .uri(format!("/status/{slug}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut().insert(ClientAddress(address.to_owned()));
    app.send(req).await
}

/// The `name=value` of a `Set-Cookie`.
fn cookie_of(r: &TestResponse) -> String {
    let set = r.header("set-cookie").expect("a cookie is set");
    set.split(';').next().unwrap().to_owned()
}

fn text(r: &TestResponse) -> String {
    match &r.json {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every route of a page's tree, with whether it is HTML.
fn tree(slug: &str, service: &str, incident: &str) -> Vec<(String, bool)> {
    let html = ["".to_owned(), "/history".to_owned(), format!("/incidents/{incident}"), "/embed".to_owned()];
    let machine = [
        "/api/v2/summary.json".to_owned(),
        "/api/v2/status.json".to_owned(),
        "/api/v2/components.json".to_owned(),
        "/api/v2/incidents.json".to_owned(),
        "/api/v2/incidents/unresolved.json".to_owned(),
        "/api/v2/scheduled-maintenances.json".to_owned(),
        "/api/v2/scheduled-maintenances/upcoming.json".to_owned(),
        "/api/v2/scheduled-maintenances/active.json".to_owned(),
        "/history.atom".to_owned(),
        "/history.rss".to_owned(),
        "/maintenance.ics".to_owned(),
        "/badge.svg".to_owned(),
        "/badge.json".to_owned(),
        format!("/services/{service}/badge.svg"),
        "/og.png".to_owned(),
        "/health".to_owned(),
    ];
    let at = |p: &String| format!("/status/{slug}{p}");
    html.iter().map(|p| (at(p), true)).chain(machine.iter().map(|p| (at(p), false))).collect()
}

/// What every answer of a protected page carries, locked or not.
#[track_caller]
fn assert_private(r: &TestResponse, path: &str) {
    assert_eq!(r.header("cache-control"), Some("private, no-store"), "{path}");
    assert_eq!(r.header("x-robots-tag"), Some("noindex"), "{path}");
    assert_eq!(r.header("access-control-allow-origin"), None, "no wildcard CORS on {path}");
    assert_eq!(r.header("etag"), None, "{path}");
}

#[tokio::test]
async fn a_protected_page_answers_401_on_every_route_until_the_reader_signs_in_or_passes_the_token() {
    let app = TestApp::all().await;
    let (page, slug, service, incident) = page(&app).await;
    let r = set_password(&app, &page, json!(PASSWORD)).await;
    r.expect(200);
    let data = &r.json["data"];
    assert_eq!(data["passwordProtected"], true);
    let token = data["accessToken"].as_str().expect("the page shows its access token").to_owned();
    assert!(data.get("password").is_none() && data.get("passwordHash").is_none(), "{data}");
    assert!(!r.json.to_string().contains(PASSWORD) && !r.json.to_string().contains("argon2"));

    for (path, html) in tree(&slug, &service, &incident) {
        let r = get(&app, &path, None).await;
        assert_eq!(r.status.as_u16(), 401, "{path} without proof");
        assert_private(&r, &path);
        if html {
            let body = text(&r);
            assert!(body.contains("Acme Internal") && body.contains(r#"type="password""#), "{path}: {body}");
            assert!(!body.contains("Payroll"), "{path} shows nothing of the page but its name");
            assert!(body.contains(&format!(r#"action="http://localhost/status/{slug}/login""#)), "{body}");
        } else {
            r.expect_error(401, "page_locked");
        }
        // The token opens machine routes only; a wrong one opens nothing.
        let with_token = get(&app, &format!("{path}?token={token}"), None).await;
        let expected = if html {
            401
        } else if path.ends_with("/health") {
            503
        } else {
            200
        };
        assert_eq!(with_token.status.as_u16(), expected, "{path} with the token");
        assert_private(&with_token, &path);
        let wrong = get(&app, &format!("{path}?token=x{}", &token[1..]), None).await;
        assert_eq!(wrong.status.as_u16(), 401, "{path} with a wrong token");
    }

    // Signing in from an incident's link goes back there, with a cookie for this page only.
    let wrong = sign_in(&app, &slug, "not the password", "", "198.51.100.1").await;
    wrong.expect(401);
    assert!(text(&wrong).contains("That password is not right"));
    assert!(wrong.header("set-cookie").is_none());
    let r = sign_in(&app, &slug, PASSWORD, &format!("/incidents/{incident}"), "198.51.100.1").await;
    r.expect(303);
    assert_eq!(r.header("location"), Some(&*format!("http://localhost/status/{slug}/incidents/{incident}")));
    let set = r.header("set-cookie").unwrap();
    for part in [&*format!("Path=/status/{slug};"), "HttpOnly", "SameSite=Lax", "Max-Age=2592000"] {
        assert!(set.contains(part), "{part} in {set}");
    }
    assert!(!set.contains("Secure"), "plain-http localhost gets no Secure: {set}");
    let cookie = cookie_of(&r);
    for (path, _) in tree(&slug, &service, &incident) {
        let r = get(&app, &path, Some(&cookie)).await;
        let expected = if path.ends_with("/health") { 503 } else { 200 };
        assert_eq!(r.status.as_u16(), expected, "{path} with the cookie");
        assert_private(&r, &path);
    }
    let r = get(&app, &format!("/status/{slug}"), Some(&cookie)).await;
    assert!(text(&r).contains("Payroll exports delayed"));

    // A sign-in may never send the reader elsewhere.
    let r = sign_in(&app, &slug, PASSWORD, "//evil.example/x", "198.51.100.1").await;
    assert_eq!(r.expect(303).header("location"), Some(&*format!("http://localhost/status/{slug}")));
}

#[tokio::test]
async fn a_new_password_signs_everyone_out_and_a_rotated_token_replaces_the_old() {
    let app = TestApp::all().await;
    let (page, slug, _, _) = page(&app).await;
    let token =
        set_password(&app, &page, json!(PASSWORD)).await.json["data"]["accessToken"].as_str().unwrap().to_owned();
    let cookie = cookie_of(&sign_in(&app, &slug, PASSWORD, "", "198.51.100.2").await);
    let summary = format!("/status/{slug}/api/v2/summary.json");
    get(&app, &summary, Some(&cookie)).await.expect(200);

    // Even the same password again: a new hash, every cookie void.
    set_password(&app, &page, json!(PASSWORD)).await.expect(200);
    get(&app, &summary, Some(&cookie)).await.expect_error(401, "page_locked");
    let cookie = cookie_of(&sign_in(&app, &slug, PASSWORD, "", "198.51.100.2").await);
    get(&app, &summary, Some(&cookie)).await.expect(200);
    get(&app, &format!("{summary}?token={token}"), None).await.expect(200);

    let r = app.call("POST", &format!("/api/v1/pages/{page}/access-token"), None).await;
    let rotated = r.expect(200).json["data"]["accessToken"].as_str().unwrap().to_owned();
    assert_ne!(rotated, token);
    get(&app, &format!("{summary}?token={token}"), None).await.expect_error(401, "page_locked");
    get(&app, &format!("{summary}?token={rotated}"), None).await.expect(200);
    let r = app.call("GET", &format!("/api/v1/pages/{page}"), None).await;
    assert_eq!(r.json["data"]["accessToken"], rotated.as_str());

    // Removing the password opens the page to everyone, cacheable again.
    let r = set_password(&app, &page, Value::Null).await;
    assert_eq!(r.expect(200).json["data"]["passwordProtected"], false);
    let r = get(&app, &summary, None).await;
    r.expect(200);
    assert!(r.header("cache-control").unwrap().starts_with("public"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn the_eleventh_wrong_password_from_one_address_within_15_minutes_is_429() {
    let app = TestApp::all().await;
    let (page, slug, _, _) = page(&app).await;
    set_password(&app, &page, json!(PASSWORD)).await.expect(200);
    for i in 1..=10 {
        let r = sign_in(&app, &slug, &format!("wrong guess {i}"), "", "203.0.113.9").await;
        assert_eq!(r.status.as_u16(), 401, "try {i}");
    }
    app.clock.advance(chrono::Duration::minutes(14));
    let r = sign_in(&app, &slug, PASSWORD, "", "203.0.113.9").await;
    r.expect(429);
    let wait: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "the window ends a minute later: {wait}");
    assert!(text(&r).contains("Too many wrong passwords"));
    assert!(r.header("set-cookie").is_none(), "even the right password waits");
    // Another address is not held back.
    sign_in(&app, &slug, PASSWORD, "", "203.0.113.10").await.expect(303);
    // Once the window has passed, the address may try again.
    app.clock.advance(chrono::Duration::minutes(2));
    sign_in(&app, &slug, PASSWORD, "", "203.0.113.9").await.expect(303);
}

#[tokio::test]
async fn a_password_is_checked_and_never_shown_or_recorded() {
    let app = TestApp::all().await;
    let (page, _, _, _) = page(&app).await;
    for bad in [json!("short"), json!("x".repeat(129)), json!(12345678), json!("tab\tin it")] {
        let r = set_password(&app, &page, bad.clone()).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains("password"), "{bad}: {}", r.json);
    }
    set_password(&app, &page, json!(PASSWORD)).await.expect(200);
    let events = app.call("GET", "/api/v1/events?limit=100", None).await;
    let all = events.expect(200).json.to_string();
    assert!(all.contains("\"passwordProtected\":true"), "the change is in the audit log");
    assert!(!all.contains(PASSWORD) && !all.contains("argon2"), "neither the password nor its hash");
    let listed = app.call("GET", "/api/v1/pages?limit=100", None).await.expect(200).json.to_string();
    assert!(!listed.contains("argon2") && listed.contains("accessToken"));
    // The item holds the Argon2id hash, not the password.
    let items = app.org_items(app.org).await;
    let page_item = items.iter().find(|i| i.get("id").and_then(|v| v.as_s().ok()) == Some(&page)).unwrap();
    let hash = page_item["passwordHash"].as_s().unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(PASSWORD));
}

#[tokio::test]
async fn sign_ups_on_a_protected_page_need_the_reader_signed_in() {
    let app = TestApp::all().await;
    let (page, slug, _, _) = page(&app).await;
    set_password(&app, &page, json!(PASSWORD)).await.expect(200);
    let subscribe = |cookie: Option<String>| {
        let mut req = Request::builder()
            .method("POST")
            .uri(format!("/status/{slug}/subscribe"))
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        req.body(Body::from("email=reader%40example.com")).unwrap()
    };
    let r = app.send(subscribe(None)).await;
    r.expect(401);
    assert!(text(&r).contains(r#"type="password""#));
    let cookie = cookie_of(&sign_in(&app, &slug, PASSWORD, "", "198.51.100.3").await);
    let r = app.send(subscribe(Some(cookie))).await;
    r.expect(202);
    assert!(text(&r).contains("Check your inbox"));
}

#[tokio::test]
async fn the_embed_view_may_be_framed_by_any_site_and_follows_its_theme() {
    let app = TestApp::all().await;
    let (_, slug, _, incident) = page(&app).await;
    let r = get(&app, &format!("/status/{slug}/embed"), None).await;
    r.expect(200);
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors *") && !csp.contains("frame-ancestors 'none'"), "{csp}");
    let body = text(&r);
    assert!(body.contains("Payroll exports delayed"), "{body}");
    assert!(body.contains(&format!(r#"href="http://localhost/status/{slug}/incidents/{incident}" target="_blank""#)));
    assert!(body.contains(r#"content="light dark""#));
    let page = get(&app, &format!("/status/{slug}"), None).await;
    assert!(page.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"), "only the embed");

    let dark = text(&get(&app, &format!("/status/{slug}/embed?theme=dark"), None).await);
    assert!(dark.contains(r#"content="dark""#) && dark.contains(":root{color-scheme:dark;--bg:#0d1117"));
    let light = text(&get(&app, &format!("/status/{slug}/embed?theme=light"), None).await);
    assert!(light.contains(r#"content="light""#) && light.contains(":root{color-scheme:light;--bg:#fff"));
    get(&app, &format!("/status/{slug}/embed?theme=neon"), None).await.expect_error(400, "invalid_request");
}
