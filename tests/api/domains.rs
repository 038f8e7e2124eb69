//! Custom domains: set on a page through the API, proven by a TXT record that the real
//! resolver reads from a DNS server on this machine (`livestatus_tests::dns`), and
//! served by host: the page's whole public tree at the root of its domain.

use axum::body::Body;
use axum::http::Request;
use livestatus_tests::cloudfront::{self, cloudfront};
use livestatus_tests::dns::dns_server;
use livestatus_tests::{TestApp, TestResponse, unique_slug};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::webhooks::tick;

/// A public page with a service and an open incident: (page id, slug, service, incident).
async fn page(app: &TestApp) -> (String, String, String, String) {
    let slug = unique_slug("dom");
    let r = app.call("POST", "/api/v1/pages", Some(json!({"name": "Acme", "slug": slug, "isPublic": true}))).await;
    let page = r.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    let service = app.service(&page, "API").await;
    let body = json!({"title": "Slow logins", "impact": "minor", "status": "investigating", "body": "Looking.", "affectedServiceIds": [service]});
    let r = app.call("POST", &format!("/api/v1/pages/{page}/incidents"), Some(body)).await;
    let incident = r.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    (page, slug, service, incident)
}

fn fresh(suffix: &str) -> String {
    format!("status-{}.{suffix}", &Uuid::new_v4().simple().to_string()[..10])
}

async fn set_domain(app: &TestApp, page: &str, domain: Value) -> TestResponse {
    app.call("PATCH", &format!("/api/v1/pages/{page}"), Some(json!({ "domain": domain }))).await
}

/// A GET with no key to `host`.
async fn at(app: &TestApp, host: &str, path: &str) -> TestResponse {
    app.send(Request::builder().uri(path).header("host", host).body(Body::empty()).unwrap()).await
}

fn text(r: &TestResponse) -> String {
    match &r.json {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn a_page_at_its_verified_domain_serves_its_whole_public_tree_at_the_root_with_links_that_follow() {
    let app = TestApp::all().await;
    let (page, slug, service, incident) = page(&app).await;
    let domain = fresh("localhost");
    let r = set_domain(&app, &page, json!(domain.to_uppercase())).await;
    r.expect(200);
    let data = &r.json["data"];
    assert_eq!(data["domain"], domain.as_str(), "kept lowercase");
    assert_eq!(data["domainStatus"], "verified", "a .localhost domain is verified at once in the local run");
    assert_eq!(data["domainVerification"]["type"], "TXT");
    assert_eq!(data["domainVerification"]["name"], format!("_livestatus.{domain}"));
    assert!(data["domainVerification"]["value"].as_str().unwrap().starts_with("livestatus-verify="));

    let host = format!("{domain}:3000");
    let root = format!("http://{domain}:3000");
    let tree = [
        ("/", "text/html"),
        ("/history", "text/html"),
        (&*format!("/incidents/{incident}"), "text/html"),
        ("/api/v2/summary.json", "application/json"),
        ("/api/v2/status.json", "application/json"),
        ("/api/v2/components.json", "application/json"),
        ("/api/v2/incidents.json", "application/json"),
        ("/api/v2/incidents/unresolved.json", "application/json"),
        ("/api/v2/scheduled-maintenances.json", "application/json"),
        ("/api/v2/scheduled-maintenances/upcoming.json", "application/json"),
        ("/api/v2/scheduled-maintenances/active.json", "application/json"),
        ("/history.atom", "application/atom+xml"),
        ("/history.rss", "application/rss+xml"),
        ("/maintenance.ics", "text/calendar"),
        ("/badge.svg", "image/svg+xml"),
        ("/badge.json", "application/json"),
        (&*format!("/services/{service}/badge.svg"), "image/svg+xml"),
        ("/og.png", "image/png"),
        ("/health", "application/json"),
    ];
    for (path, content_type) in tree {
        let r = at(&app, &host, path).await;
        // The health check answers 503 while an incident is open: that is its answer.
        let expected = if path == "/health" { 503 } else { 200 };
        assert_eq!(r.status, expected, "{path} at the domain: {}", text(&r));
        let got = r.header("content-type").unwrap_or_default();
        assert!(got.starts_with(content_type), "{path}: {got}");
        let same = at(&app, "localhost:3000", &format!("/status/{slug}{}", if path == "/" { "" } else { path })).await;
        assert_eq!(same.status, expected, "{path} under /status/{slug} keeps working");
    }

    // Links, feeds and the Statuspage JSON name the domain's root.
    let html = text(&at(&app, &host, "/").await);
    assert!(html.contains(&format!("<link rel=\"canonical\" href=\"{root}\">")), "canonical");
    assert!(html.contains(&format!("href=\"{root}/history\"")), "links at the root");
    assert!(!html.contains("/status/"), "no link under /status/ on the domain");
    let summary = at(&app, &host, "/api/v2/summary.json").await;
    assert_eq!(summary.json["page"]["url"], root.as_str());
    assert_eq!(summary.json["incidents"][0]["shortlink"], format!("{root}/incidents/{incident}"));
    assert!(text(&at(&app, &host, "/history.atom").await).contains(&format!("{root}/incidents/{incident}")));
    // Read at /status/{slug}, the page names its domain as canonical.
    let elsewhere = text(&at(&app, "localhost:3000", &format!("/status/{slug}")).await);
    assert!(elsewhere.contains(&format!("<link rel=\"canonical\" href=\"{root}\">")), "{elsewhere}");

    // Nothing else is served on the domain: not the API, not other pages.
    for path in ["/api/v1/pages", "/api/v1/openapi.json", &format!("/status/{slug}"), "/nothing-here"] {
        assert_eq!(at(&app, &host, path).await.status, 404, "{path}");
    }
}

#[tokio::test]
async fn an_unknown_host_is_404_and_a_domain_is_one_page_in_the_whole_deployment() {
    let app = TestApp::all().await;
    let (page, ..) = page(&app).await;
    assert_eq!(at(&app, &fresh("localhost"), "/").await.status, 404, "a host no page has");
    assert_eq!(at(&app, "not a host!", "/").await.status, 404);

    let domain = fresh("localhost");
    set_domain(&app, &page, json!(domain)).await.expect(200);
    let (_, other_key) = app.new_org(livestatus_shared::domain::Plan::Business).await;
    let slug = unique_slug("other");
    let r = app.call_as(&other_key, "POST", "/api/v1/pages", Some(json!({"name": "Other", "slug": slug}))).await;
    let other = r.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    let r = app.call_as(&other_key, "PATCH", &format!("/api/v1/pages/{other}"), Some(json!({"domain": domain}))).await;
    r.expect_error(409, "domain_taken");
    assert!(r.json["error"]["message"].as_str().unwrap().contains(&domain));

    for bad in ["https://status.acme.com", "status.acme.com:8443", "10.0.0.1", "localhost", "a..b.com", "x_y.acme.com"]
    {
        set_domain(&app, &page, json!(bad)).await.expect_error(400, "invalid_request");
    }
    // Setting it again changes nothing; the page still has it.
    let again = set_domain(&app, &page, json!(domain)).await;
    assert_eq!(again.expect(200).json["data"]["domainStatus"], "verified");
}

#[tokio::test]
async fn removing_or_changing_a_domain_stops_serving_it_at_once_and_a_new_slug_keeps_it_working() {
    let app = TestApp::all().await;
    let (page, ..) = page(&app).await;
    let domain = fresh("localhost");
    set_domain(&app, &page, json!(domain)).await.expect(200);
    assert_eq!(at(&app, &domain, "/").await.status, 200);

    let slug = unique_slug("moved");
    app.call("PATCH", &format!("/api/v1/pages/{page}"), Some(json!({"slug": slug}))).await.expect(200);
    let r = at(&app, &domain, "/api/v2/status.json").await;
    assert_eq!(r.status, 200, "the domain follows the page to its new slug");

    let second = fresh("localhost");
    set_domain(&app, &page, json!(second)).await.expect(200);
    assert_eq!(at(&app, &domain, "/").await.status, 404, "the old domain at once");
    assert_eq!(at(&app, &second, "/").await.status, 200);

    let r = set_domain(&app, &page, Value::Null).await;
    assert_eq!(r.expect(200).json["data"]["domainStatus"], Value::Null);
    assert_eq!(at(&app, &second, "/").await.status, 404, "removed: not served");
    // Freed: another page may take it.
    let (other, ..) = self::page(&app).await;
    set_domain(&app, &other, json!(second)).await.expect(200);
    app.call("DELETE", &format!("/api/v1/pages/{other}"), None).await.expect(204);
    assert_eq!(at(&app, &second, "/").await.status, 404, "a deleted page's domain is freed");
    set_domain(&app, &page, json!(second)).await.expect(200);
}

#[tokio::test]
async fn a_domain_is_verified_by_its_txt_record_on_demand_and_by_the_scheduler() {
    let app = TestApp::isolated().await;
    let (page, ..) = page(&app).await;
    let domain = fresh("example.com");
    let r = set_domain(&app, &page, json!(domain)).await;
    let records = r.expect(200).json["data"]["domainVerification"].clone();
    assert_eq!(r.json["data"]["domainStatus"], "pending");
    assert_eq!(at(&app, &domain, "/").await.status, 404, "pending: not served");

    let verify = format!("/api/v1/pages/{page}/domain/verify");
    assert_eq!(app.call("POST", &verify, None).await.expect(200).json["data"]["domainStatus"], "pending");
    let dns = dns_server();
    dns.set_txt(records["name"].as_str().unwrap(), &["v=spf1 -all", "livestatus-verify=someone-else"]);
    assert_eq!(app.call("POST", &verify, None).await.json["data"]["domainStatus"], "pending", "not its token");
    dns.set_txt(records["name"].as_str().unwrap(), &["v=spf1 -all", records["value"].as_str().unwrap()]);
    assert_eq!(app.call("POST", &verify, None).await.json["data"]["domainStatus"], "verified");
    let r = at(&app, &domain, "/api/v2/summary.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["page"]["url"], format!("https://{domain}"));

    // A second domain, left to the scheduler.
    let (second_page, ..) = self::page(&app).await;
    let second = fresh("example.org");
    let r = set_domain(&app, &second_page, json!(second)).await;
    let records = r.expect(200).json["data"]["domainVerification"].clone();
    tick(&app).await;
    let status = |r: TestResponse| r.json["data"]["domainStatus"].clone();
    assert_eq!(status(app.call("GET", &format!("/api/v1/pages/{second_page}"), None).await), "pending");
    dns.set_txt(records["name"].as_str().unwrap(), &[records["value"].as_str().unwrap()]);
    tick(&app).await;
    assert_eq!(
        status(app.call("GET", &format!("/api/v1/pages/{second_page}"), None).await),
        "pending",
        "checked again only after the pause"
    );
    app.clock.advance(chrono::Duration::seconds(livestatus_shared::scheduler::domains::RECHECK_SECS));
    let outcome = tick(&app).await;
    assert_eq!(outcome.domains, 1);
    assert_eq!(status(app.call("GET", &format!("/api/v1/pages/{second_page}"), None).await), "verified");
    assert_eq!(at(&app, &second, "/").await.status, 200);
    let events = app.call("GET", "/api/v1/events?type=page.updated", None).await;
    assert!(events.json["data"].as_array().unwrap().iter().any(|e| e["actor"]["type"] == "schedule"));
}

#[tokio::test]
async fn a_page_view_at_a_domain_costs_one_dynamodb_read_more_than_at_its_slug() {
    let app = TestApp::all().await;
    let (page, slug, ..) = page(&app).await;
    let domain = fresh("localhost");
    set_domain(&app, &page, json!(domain)).await.expect(200);
    for route in ["", "/api/v2/summary.json", "/history.atom"] {
        app.calls.reset();
        at(&app, "localhost", &format!("/status/{slug}{route}")).await;
        let by_slug = app.calls.calls();
        app.calls.reset();
        at(&app, &domain, if route.is_empty() { "/" } else { route }).await;
        let by_domain = app.calls.calls();
        assert_eq!(by_domain.len(), by_slug.len() + 1, "{route}: {by_slug:?} then {by_domain:?}");
        assert_eq!(by_domain[0], "GetItem", "the domain's claim");
    }
}

/// A page of `app` with a domain proven through DNS: (page id, domain).
async fn verified(app: &TestApp) -> (String, String) {
    let (page, ..) = page(app).await;
    let domain = fresh("example.net");
    let r = set_domain(app, &page, json!(domain)).await;
    let records = r.expect(200).json["data"]["domainVerification"].clone();
    dns_server().set_txt(records["name"].as_str().unwrap(), &[records["value"].as_str().unwrap()]);
    let r = app.call("POST", &format!("/api/v1/pages/{page}/domain/verify"), None).await;
    assert_eq!(r.json["data"]["domainStatus"], "verified");
    (page, domain)
}

#[tokio::test]
async fn a_verified_domain_goes_on_the_cdn_with_a_managed_certificate_and_comes_off_when_removed() {
    let app = TestApp::isolated().await;
    let cf = cloudfront();
    let (page, domain) = verified(&app).await;
    assert!(cf.tenant(&domain).is_none(), "the CDN's work is the scheduler's, not the request's");

    let outcome = tick(&app).await;
    assert_eq!(outcome.cdn.attached, 1);
    let tenant = cf.tenant(&domain).expect("a tenant for the domain");
    assert_eq!(tenant.distribution, cloudfront::DISTRIBUTION);
    assert_eq!(tenant.connection_group, cloudfront::CONNECTION_GROUP);
    assert_eq!(tenant.validation_token_host, "cloudfront", "a certificate CloudFront manages and validates");
    assert!(tenant.enabled);
    let claim = &app.item(&format!("DOMAIN#{domain}"), "DOMAIN").await;
    assert_eq!(claim["cdnTenant"].as_s().unwrap(), &tenant.id);
    assert!(!claim.contains_key("gsi2pk"), "done: out of the due index");
    assert_eq!(tick(&app).await.cdn, Default::default(), "nothing more to do");

    // Removed: disabled at the next tick, deleted once CloudFront has deployed that.
    set_domain(&app, &page, Value::Null).await.expect(200);
    assert_eq!(at(&app, &domain, "/").await.status, 404, "not served from the moment it is removed");
    tick(&app).await;
    let tenant = cf.tenant(&domain).expect("disabled first");
    assert!(!tenant.enabled);
    tick(&app).await;
    assert!(cf.tenant(&domain).is_some(), "not before the deploy wait");
    app.clock.advance(chrono::Duration::seconds(livestatus_shared::scheduler::cdn::DEPLOY_WAIT_SECS));
    assert_eq!(tick(&app).await.cdn.detached, 1);
    assert!(cf.tenant(&domain).is_none());
    assert!(!app.item_exists(&format!("CDN#{domain}"), "DETACH").await, "the tombstone is gone");

    // A deleted page lets its domain go the same way.
    let (page, domain) = verified(&app).await;
    tick(&app).await;
    assert!(cf.tenant(&domain).is_some());
    app.call("DELETE", &format!("/api/v1/pages/{page}"), None).await.expect(204);
    for _ in 0..2 {
        tick(&app).await;
        app.clock.advance(chrono::Duration::seconds(livestatus_shared::scheduler::cdn::DEPLOY_WAIT_SECS));
    }
    assert!(cf.tenant(&domain).is_none());
}

#[tokio::test]
async fn a_cdn_outage_delays_a_domain_and_never_loses_it() {
    let app = TestApp::isolated().await;
    let cf = cloudfront();
    let (_, domain) = verified(&app).await;
    // The SDK tries three times a call: six failures are two ticks' worth.
    cf.fail_next(&domain, 6);
    let outcome = tick(&app).await;
    assert_eq!((outcome.cdn.attached, outcome.cdn.waiting), (0, 1));
    assert!(cf.tenant(&domain).is_none());
    assert_eq!(tick(&app).await.cdn.waiting, 0, "not tried again at once");
    app.clock.advance(chrono::Duration::seconds(livestatus_shared::scheduler::cdn::RETRY_SECS));
    assert_eq!(tick(&app).await.cdn.waiting, 1, "still failing");
    app.clock.advance(chrono::Duration::seconds(livestatus_shared::scheduler::cdn::RETRY_SECS));
    assert_eq!(tick(&app).await.cdn.attached, 1, "healed");
    assert!(cf.tenant(&domain).is_some());
}

#[tokio::test]
async fn a_domain_never_proven_in_72_hours_fails_and_can_still_be_verified_by_hand() {
    let app = TestApp::isolated().await;
    let (page, ..) = page(&app).await;
    let domain = fresh("example.com");
    let records = set_domain(&app, &page, json!(domain)).await.json["data"]["domainVerification"].clone();
    let status = |r: TestResponse| r.json["data"]["domainStatus"].clone();
    app.clock.advance(chrono::Duration::hours(71));
    tick(&app).await;
    assert_eq!(status(app.call("GET", &format!("/api/v1/pages/{page}"), None).await), "pending");
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(tick(&app).await.domains, 1);
    assert_eq!(status(app.call("GET", &format!("/api/v1/pages/{page}"), None).await), "failed");
    app.clock.advance(chrono::Duration::hours(1));
    assert_eq!(tick(&app).await.domains, 0, "no longer looked up by the scheduler");
    assert_eq!(at(&app, &domain, "/").await.status, 404);

    let verify = format!("/api/v1/pages/{page}/domain/verify");
    assert_eq!(status(app.call("POST", &verify, None).await), "failed", "still no record");
    dns_server().set_txt(records["name"].as_str().unwrap(), &[records["value"].as_str().unwrap()]);
    assert_eq!(status(app.call("POST", &verify, None).await), "verified");
    assert_eq!(at(&app, &domain, "/").await.status, 200);
}
