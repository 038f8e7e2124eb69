//! The per-key rate limit: exact under concurrency, headers on every response, a new
//! window admits again, and its cost in DynamoDB calls.

use futures::future::join_all;
use livestatus_tests::TestApp;

async fn app() -> TestApp {
    TestApp::new(livestatus_pages::router).await
}

#[tokio::test]
async fn two_hundred_concurrent_requests_with_one_fresh_key_admit_exactly_sixty() {
    let app = app().await;
    let key = app.new_key(app.org, &[]).await;

    let responses = join_all((0..200).map(|_| app.call_as(&key, "GET", "/api/v1/pages", None))).await;

    let ok: Vec<_> = responses.iter().filter(|r| r.status == 200).collect();
    let limited: Vec<_> = responses.iter().filter(|r| r.status == 429).collect();
    assert_eq!((ok.len(), limited.len()), (60, 140));
    let window_end = (app.clock_secs() / 60 + 1) * 60;
    let mut remaining: Vec<i64> =
        ok.iter().map(|r| r.header("x-ratelimit-remaining").unwrap().parse().unwrap()).collect();
    remaining.sort_unstable();
    assert_eq!(remaining, (0..60).collect::<Vec<_>>(), "each admitted request saw its own count");
    for r in &limited {
        r.expect_error(429, "rate_limited");
        assert_eq!(r.header("x-ratelimit-limit"), Some("60"));
        assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
        assert_eq!(r.header("x-ratelimit-reset"), Some(window_end.to_string().as_str()));
        assert_eq!(r.header("retry-after"), Some((window_end - app.clock_secs()).to_string().as_str()));
    }
    for r in &ok {
        assert_eq!(r.header("x-ratelimit-reset"), Some(window_end.to_string().as_str()));
    }
}

#[tokio::test]
async fn the_next_window_admits_requests_again() {
    let app = app().await;
    let key = app.new_key(app.org, &[]).await;
    join_all((0..61).map(|_| app.call_as(&key, "GET", "/api/v1/pages", None))).await;
    app.call_as(&key, "GET", "/api/v1/pages", None).await.expect_error(429, "rate_limited");

    app.clock.advance(chrono::Duration::seconds(60));

    let r = app.call_as(&key, "GET", "/api/v1/pages", None).await;
    r.expect(200);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("59"));
}

#[tokio::test]
async fn authentication_with_rate_limiting_costs_one_call_and_two_at_a_window_boundary() {
    let app = app().await;
    // The key's first request opens its first window: the boundary case.
    app.call("GET", "/api/v1/pages", None).await.expect(200);
    assert_eq!(app.calls.calls(), ["UpdateItem", "UpdateItem", "Query"]);
    app.calls.reset();

    app.call("GET", "/api/v1/pages/00000000-0000-7000-8000-000000000000", None).await.expect(404);
    assert_eq!(app.calls.calls(), ["UpdateItem", "GetItem"], "steady state: one call to authenticate");
    app.calls.reset();

    app.clock.advance(chrono::Duration::seconds(60));
    app.call("GET", "/api/v1/pages/00000000-0000-7000-8000-000000000000", None).await.expect(404);
    assert_eq!(app.calls.calls(), ["UpdateItem", "UpdateItem", "GetItem"], "a new window: two");
}

#[tokio::test]
async fn a_rejected_key_costs_at_most_one_call_and_a_malformed_one_none() {
    let app = app().await;

    app.call_as("ls_live_bad", "GET", "/api/v1/pages", None).await.expect(401);
    assert!(app.calls.calls().is_empty());
    app.call_as(&format!("ls_live_{}", "Z".repeat(32)), "GET", "/api/v1/pages", None).await.expect(401);
    assert_eq!(app.calls.calls(), ["UpdateItem"]);
}
