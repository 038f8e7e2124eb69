//! CORS: public routes readable from any origin with preflights answered; keyed routes
//! without CORS unless the operator allows origins, and then only those.

use axum::body::Body;
use axum::http::Request;
use livestatus_shared::cors::Cors;
use livestatus_tests::{TestApp, TestResponse};

fn preflight(path: &str, origin: &str, headers: Option<&str>) -> Request<Body> {
    let mut req = Request::options(path).header("origin", origin).header("access-control-request-method", "GET");
    if let Some(h) = headers {
        req = req.header("access-control-request-headers", h);
    }
    req.body(Body::empty()).unwrap()
}

fn get(path: &str, origin: &str, key: &str) -> Request<Body> {
    Request::get(path)
        .header("origin", origin)
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap()
}

/// Every route, with the operator allowing two origins on keyed routes.
fn with_operator_origins(state: livestatus_shared::AppState) -> axum::Router {
    let cors = Cors::new(["https://admin.example.com", " https://ops.example.com/ "]);
    livestatus_shared::finish_router_with_cors(livestatus_local::routes(), state, cors)
}

fn cors_headers(r: &TestResponse) -> Vec<(&str, &str)> {
    let mut h: Vec<_> = r
        .headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("access-control-") || name.as_str() == "vary")
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
        .collect();
    h.sort_unstable();
    h
}

#[tokio::test]
async fn public_routes_answer_preflights_from_any_origin() {
    let app = TestApp::all().await;
    for path in ["/api/og/ad", "/api/v1/openapi.json"] {
        let r = app.send(preflight(path, "https://blog.example.net", Some("if-none-match"))).await;

        r.expect(204);
        assert_eq!(
            cors_headers(&r),
            [
                ("access-control-allow-headers", "if-none-match"),
                ("access-control-allow-methods", "GET, HEAD, OPTIONS"),
                ("access-control-allow-origin", "*"),
                ("access-control-max-age", "86400"),
            ],
            "{path}"
        );
        assert!(r.header("x-request-id").is_some());
    }
}

#[tokio::test]
async fn public_responses_and_their_errors_carry_allow_origin_star() {
    let app = TestApp::all().await;

    let ok = app.send(get("/api/v1/openapi.json", "https://docs.example.net", "")).await;
    let bad = app.send(get("/api/og/ad?variant=nope&headline=x", "https://docs.example.net", "")).await;

    ok.expect(200);
    bad.expect_error(400, "invalid_request");
    for r in [&ok, &bad] {
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert_eq!(r.header("access-control-expose-headers"), Some("ETag, X-Request-Id"));
    }
}

#[tokio::test]
async fn keyed_routes_have_no_cors_by_default_and_options_is_405() {
    let app = TestApp::all().await;

    let pre = app.send(preflight("/api/v1/pages", "https://evil.example", Some("authorization"))).await;
    let read = app.send(get("/api/v1/pages", "https://evil.example", &app.key)).await;

    pre.expect_error(405, "method_not_allowed");
    assert_eq!(pre.header("allow"), Some("GET, POST, HEAD"));
    read.expect(200);
    assert_eq!(cors_headers(&pre), Vec::<(&str, &str)>::new());
    assert_eq!(cors_headers(&read), Vec::<(&str, &str)>::new(), "a browser on another origin cannot read it");
}

#[tokio::test]
async fn keyed_routes_allow_exactly_the_origins_the_operator_lists() {
    let app = TestApp::new(with_operator_origins).await;
    let page = app.page().await;

    let pre = app.send(preflight(&format!("/api/v1/pages/{page}"), "https://ops.example.com", None)).await;
    let read = app.send(get("/api/v1/pages", "https://admin.example.com", &app.key)).await;
    let other = app.send(get("/api/v1/pages", "https://evil.example", &app.key)).await;

    pre.expect(204);
    assert_eq!(
        cors_headers(&pre),
        [
            ("access-control-allow-headers", "Authorization, X-API-Key, Content-Type, Idempotency-Key"),
            ("access-control-allow-methods", "GET, PATCH, DELETE, HEAD, OPTIONS"),
            ("access-control-allow-origin", "https://ops.example.com"),
            (
                "access-control-expose-headers",
                "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, Idempotent-Replayed"
            ),
            ("access-control-max-age", "86400"),
            ("vary", "Origin"),
        ]
    );
    read.expect(200);
    assert_eq!(read.header("access-control-allow-origin"), Some("https://admin.example.com"));
    assert_eq!(read.header("vary"), Some("Origin"));
    other.expect(200);
    assert_eq!(cors_headers(&other), Vec::<(&str, &str)>::new());
}

#[tokio::test]
async fn the_generator_function_answers_every_preflight_as_it_does_on_aws() {
    // On AWS every OPTIONS goes to og-ad (PREFLIGHT_ROUTE): its router must answer a
    // keyed path's preflight like the local server does, though it serves none of them.
    let router = livestatus_og_ad::router();
    let app = TestApp::from_parts(router, TestApp::all().await.store.clone(), uuid::Uuid::nil(), "");

    let keyed = app.send(preflight("/api/v1/incidents", "https://evil.example", None)).await;
    let public = app.send(preflight("/api/og/ad", "https://evil.example", None)).await;

    keyed.expect_error(405, "method_not_allowed");
    assert_eq!(keyed.header("allow"), Some("GET, HEAD"));
    public.expect(204);
    assert_eq!(public.header("access-control-allow-origin"), Some("*"));
}
