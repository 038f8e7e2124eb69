//! Webhooks: the API, and delivery through the notifier's and the scheduler's own
//! handlers (stream records in Lambda's JSON, the tick) to a real receiver on a local
//! port, with the manual clock driving the retry schedule.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use livestatus_notifications::stream::{self, StreamEvent};
use livestatus_shared::clock::Clock;
use livestatus_shared::outbound::Policy;
use livestatus_shared::outbound::sender::Sender;
use livestatus_shared::{AppState, delivery, scheduler};
use livestatus_tests::{SEND_TIMEOUT, TestApp, all_routes, policy};
use serde_json::{Value, json};

/// What the receiver does with one request.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reply {
    Status(u16),
    RetryAfter(u16, u64),
    Redirect(u16),
    Hang,
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) path: String,
    pub(crate) id: String,
    pub(crate) timestamp: String,
    pub(crate) signature: String,
    pub(crate) body: String,
}

type Script = Arc<dyn Fn(&str, usize) -> Reply + Send + Sync>;

/// A webhook receiver on 127.0.0.1: records every request and answers as scripted by
/// the path and the number of requests that path has had before.
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) base: String,
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub(crate) async fn start(script: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> Self {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script: Script = Arc::new(script);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new().fallback({
            let got = got.clone();
            move |uri: axum::http::Uri, headers: HeaderMap, body: String| {
                let got = got.clone();
                let script = script.clone();
                async move {
                    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    let path = uri.path().to_owned();
                    let before = {
                        let mut got = got.lock().unwrap();
                        let before = got.iter().filter(|r| r.path == path).count();
                        got.push(Received {
                            path: path.clone(),
                            id: header("webhook-id"),
                            timestamp: header("webhook-timestamp"),
                            signature: header("webhook-signature"),
                            body,
                        });
                        before
                    };
                    match script(&path, before) {
                        Reply::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
                        Reply::RetryAfter(code, secs) => {
                            (StatusCode::from_u16(code).unwrap(), [("retry-after", secs.to_string())]).into_response()
                        }
                        Reply::Redirect(to_port) => {
                            (StatusCode::FOUND, [("location", format!("http://127.0.0.1:{to_port}/redirected"))])
                                .into_response()
                        }
                        Reply::Hang => {
                            tokio::time::sleep(SEND_TIMEOUT * 3).await;
                            Response::new(axum::body::Body::empty())
                        }
                    }
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base: format!("http://127.0.0.1:{port}"), port, got }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub(crate) fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

/// Creates a webhook; returns its id and secret.
async fn webhook(app: &TestApp, body: Value) -> (String, String) {
    let r = app.call("POST", "/api/v1/webhooks", Some(body)).await;
    r.expect(201);
    (r.json["data"]["id"].as_str().unwrap().to_owned(), r.json["data"]["secret"].as_str().unwrap().to_owned())
}

/// Feeds the organization's events not yet fed to the notifier function, as the stream
/// does: each event item's new image in Lambda's JSON, `copies` times over (a replay).
pub(crate) async fn stream_new_events(app: &TestApp, seen: &mut HashSet<String>, copies: usize) -> usize {
    stream_new_events_to(app, &app.state, seen, copies).await
}

/// The same, handled by a notifier with its own `state` (a broken mailer, say).
pub(crate) async fn stream_new_events_to(
    app: &TestApp,
    state: &AppState,
    seen: &mut HashSet<String>,
    copies: usize,
) -> usize {
    let out = app
        .store
        .client()
        .query()
        .table_name(app.store.table())
        .key_condition_expression("pk = :pk AND begins_with(sk, :e)")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{}", app.org)))
        .expression_attribute_values(":e", aws_sdk_dynamodb::types::AttributeValue::S("EVENT#".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let mut records = Vec::new();
    for item in out.items.unwrap_or_default() {
        let sk = item["sk"].as_s().unwrap().clone();
        if !seen.insert(sk.clone()) {
            continue;
        }
        let image: serde_dynamo::Item = item.into();
        for _ in 0..copies {
            records.push(json!({
                "eventName": "INSERT",
                "dynamodb": {"NewImage": serde_json::to_value(&image).unwrap(), "SequenceNumber": sk},
            }));
        }
    }
    let n = records.len();
    let event: StreamEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
    let response = policy::FUNCTION.scope("notifier", stream::handle_records(state, event)).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    n
}

/// One scheduler tick at the app's clock.
pub(crate) async fn tick(app: &TestApp) -> scheduler::Outcome {
    policy::FUNCTION.scope("scheduler", scheduler::tick(&app.state)).await.unwrap()
}

async fn deliveries(app: &TestApp, webhook: &str) -> Vec<Value> {
    let r = app.call("GET", &format!("/api/v1/webhooks/{webhook}/deliveries?limit=100"), None).await;
    r.expect(200);
    r.json["data"].as_array().unwrap().clone()
}

/// Verifies with the Standard Webhooks reference library (PyPI `standardwebhooks`):
/// for each request, whether it verifies.
pub(crate) fn reference_verify(secret: &str, requests: &[(String, String, String, String)]) -> Vec<bool> {
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
cases = json.load(sys.stdin)
out = []
for c in cases:
    try:
        Webhook(c["secret"]).verify(c["body"], {"webhook-id": c["id"], "webhook-timestamp": c["ts"], "webhook-signature": c["sig"]})
        out.append(True)
    except Exception:
        out.append(False)
print(json.dumps(out))
"#;
    let cases: Vec<Value> = requests
        .iter()
        .map(|(id, ts, sig, body)| json!({"secret": secret, "id": id, "ts": ts, "sig": sig, "body": body}))
        .collect();
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (the tools venv of infra/test.sh has standardwebhooks)");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), serde_json::to_string(&cases).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the reference verifier did not run: is `standardwebhooks` installed?");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn a_webhook_shows_its_secret_once_and_stores_it_only_sealed() {
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, _| Reply::Status(200)).await;

    let (id, secret) = webhook(&app, json!({"url": format!("{}/hook", receiver.base), "description": "pager"})).await;

    assert!(secret.starts_with("whsec_"));
    let got = app.call("GET", &format!("/api/v1/webhooks/{id}"), None).await;
    got.expect(200);
    assert!(got.json["data"].get("secret").is_none());
    assert_eq!(got.json["data"]["enabled"], true);
    assert_eq!(got.json["data"]["events"], json!([]));
    let items = app.org_items(app.org).await;
    let stored = format!("{items:?}");
    assert!(stored.contains("v2:"), "the sealed secret is stored, bound to its webhook");
    assert!(!stored.contains(&secret[6..]), "the plaintext secret is not");
    let events = app.call("GET", "/api/v1/events?type=webhook.created", None).await;
    assert_eq!(events.json["data"][0]["data"]["webhook"]["id"], id.as_str());
    assert!(!events.json.to_string().contains(&secret[6..]));
}

#[tokio::test]
async fn webhook_bodies_are_validated_field_by_field() {
    let app = TestApp::all().await;
    let other = TestApp::all().await;
    let foreign_page = other.page().await;
    let receiver = Receiver::start(|_, _| Reply::Status(200)).await;
    let url = format!("{}/hook", receiver.base);

    for (body, field) in [
        (json!({}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "https://user:pw@example.com/"}), "url"),
        (json!({"url": url, "events": ["incident.exploded"]}), "events"),
        (json!({"url": url, "pageIds": [foreign_page]}), "pageIds"),
        (json!({"url": url, "pageIds": ["nope"]}), "pageIds"),
        (json!({"url": url, "description": "x".repeat(501)}), "description"),
        (json!({"url": url, "secret": "mine"}), "secret"),
    ] {
        let r = app.call("POST", "/api/v1/webhooks", Some(body.clone())).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field), "{body}: {}", r.json);
    }
    assert_eq!(app.call("GET", "/api/v1/webhooks", None).await.json["data"], json!([]));
}

#[tokio::test]
async fn the_address_guard_refuses_private_targets_at_create_and_at_send() {
    // The deployment's policy: no private targets, https only.
    let receiver = Receiver::start(|_, _| Reply::Status(200)).await;
    let mut app = TestApp::all().await;
    let permissive = app.state.clone();
    let strict = AppState { sender: Sender::new(Policy::default(), SEND_TIMEOUT), ..permissive.clone() };
    app.router = all_routes(strict.clone());
    let port = receiver.port;

    for url in [
        format!("https://127.0.0.1:{port}/"),
        format!("https://localhost:{port}/"),
        "https://10.1.2.3/".to_owned(),
        "https://172.16.0.1/".to_owned(),
        "https://192.168.0.10/".to_owned(),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://100.64.0.1/".to_owned(),
        "https://[fd00::1]/".to_owned(),
        "https://[fd00:ec2::254]/".to_owned(),
        format!("https://[::ffff:127.0.0.1]:{port}/"),
        format!("https://0x7f000001:{port}/"),
        format!("https://2130706433:{port}/"),
        format!("https://0177.0.0.1:{port}/"),
        format!("http://127.0.0.1:{port}/"),
    ] {
        let r = app.call("POST", "/api/v1/webhooks", Some(json!({ "url": url }))).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains("url"), "{url}: {}", r.json);
    }

    // A webhook made while private targets were allowed, sent under the strict policy.
    app.router = all_routes(permissive.clone());
    let (id, _) = webhook(&app, json!({"url": format!("{}/hook", receiver.base)})).await;
    app.router = all_routes(strict.clone());
    let sent = app.call("POST", &format!("/api/v1/webhooks/{id}/test"), None).await;
    sent.expect(202);
    assert_eq!(sent.json["data"]["state"], "pending");
    assert!(sent.json["data"]["attempts"][0]["error"].as_str().unwrap().starts_with("refused"));

    // A redirect to loopback is not followed, even where private targets are allowed.
    let target = Receiver::start(|_, _| Reply::Status(200)).await;
    let redirecting = Receiver::start(move |_, _| Reply::Redirect(target.port)).await;
    app.router = all_routes(permissive);
    let (id, _) = webhook(&app, json!({"url": format!("{}/hook", redirecting.base)})).await;
    let sent = app.call("POST", &format!("/api/v1/webhooks/{id}/test"), None).await;
    assert_eq!(sent.json["data"]["attempts"][0]["statusCode"], 302);
    assert_eq!(sent.json["data"]["state"], "pending", "a redirect is not a success");

    assert_eq!(receiver.count(), 0, "nothing connected to the refused receiver");
    assert_eq!(redirecting.count(), 1);
}

#[tokio::test]
async fn every_delivery_verifies_with_the_reference_verifier_and_tampering_does_not() {
    let app = TestApp::all().await;
    // The reference verifier checks timestamps against the real clock.
    let receiver = Receiver::start(|_, _| Reply::Status(204)).await;
    let (_, secret) = webhook(&app, json!({"url": format!("{}/hook", receiver.base)})).await;
    let page = app.page().await;
    let mut seen = HashSet::new();
    stream_new_events(&app, &mut seen, 1).await;

    let service = app.service(&page, "API").await;
    app.call(
        "POST",
        &format!("/api/v1/pages/{page}/incidents"),
        Some(json!({"title": "Errors <script>&\"", "status": "investigating", "impact": "major", "body": "Looking ✓", "affectedServiceIds": [service]})),
    )
    .await
    .expect(201);
    stream_new_events(&app, &mut seen, 1).await;

    let got = receiver.received();
    assert_eq!(got.len(), 1, "only incident.created notifies by default (service.created is audit-only)");
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "incident.created");
    assert_eq!(body["data"]["incident"]["title"], "Errors <script>&\"");
    assert_eq!(body["data"]["pageId"], page.as_str());
    let r = &got[0];
    let old_ts = (r.timestamp.parse::<i64>().unwrap() - 600).to_string();
    let verdicts = reference_verify(
        &secret,
        &[
            (r.id.clone(), r.timestamp.clone(), r.signature.clone(), r.body.clone()),
            (r.id.clone(), r.timestamp.clone(), r.signature.clone(), r.body.replacen("major", "minor", 1)),
            (r.id.clone(), old_ts, r.signature.clone(), r.body.clone()),
            ("other-id".into(), r.timestamp.clone(), r.signature.clone(), r.body.clone()),
        ],
    );
    assert_eq!(verdicts, [true, false, false, false]);
}

#[tokio::test]
async fn no_event_is_lost_across_200_events_and_10_endpoints_failing_30_percent_of_attempts() {
    let app = TestApp::isolated().await;
    // A fixed pseudo-random 30% of attempts fail: 20% with a 5xx, 10% by hanging past the timeout.
    let receiver = Receiver::start(|path, before| {
        let mut h = 1469598103934665603u64;
        for b in path.bytes().chain(before.to_le_bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
        }
        match h % 10 {
            0 | 1 => Reply::Status(503),
            2 => Reply::Hang,
            _ => Reply::Status(200),
        }
    })
    .await;
    let mut hooks = Vec::new();
    for i in 0..10 {
        hooks.push(webhook(&app, json!({"url": format!("{}/ep/{i}", receiver.base)})).await.0);
    }
    let page = app.page().await;
    let service = app.service(&page, "API").await;
    let mut seen = HashSet::new();
    stream_new_events(&app, &mut seen, 1).await;

    // 200 notifying events: 100 incidents opened and their 100 resolutions.
    for i in 0..100 {
        if i % 25 == 0 {
            app.next_window();
        }
        let r = app
            .call(
                "POST",
                &format!("/api/v1/pages/{page}/incidents"),
                Some(json!({"title": format!("Incident {i}"), "status": "investigating", "impact": "minor", "body": "Looking", "affectedServiceIds": [service]})),
            )
            .await;
        r.expect(201);
        let id = r.json["data"]["id"].as_str().unwrap().to_owned();
        app.call(
            "POST",
            &format!("/api/v1/incidents/{id}/updates"),
            Some(json!({"status": "resolved", "body": "Fixed"})),
        )
        .await
        .expect(201);
    }
    let fed = stream_new_events(&app, &mut seen, 1).await;
    assert_eq!(fed, 200, "100 incident.created and 100 incident.resolved");

    // The clock walks through the whole retry schedule, one tick a minute at first.
    for _ in 0..20 {
        app.clock.advance(Duration::seconds(61));
        tick(&app).await;
    }
    for _ in 0..40 {
        app.clock.advance(Duration::hours(1));
        tick(&app).await;
    }

    let got = receiver.received();
    let mut delivered: HashMap<(String, String), HashSet<String>> = HashMap::new();
    for r in &got {
        let body: Value = serde_json::from_str(&r.body).unwrap();
        let event = body["data"]["eventId"].as_str().unwrap().to_owned();
        delivered.entry((r.path.clone(), event)).or_default().insert(r.id.clone());
    }
    assert_eq!(delivered.len(), 10 * 200, "every (event, endpoint) pair reached the receiver");
    assert!(delivered.values().all(|ids| ids.len() == 1), "duplicates of a pair share one webhook-id");
    assert!(got.len() > 2000, "failures were retried ({} requests)", got.len());
    for hook in &hooks {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/webhooks/{hook}/deliveries?limit=100&cursor={c}"),
                None => format!("/api/v1/webhooks/{hook}/deliveries?limit=100"),
            };
            app.next_window();
            let r = app.call("GET", &path, None).await;
            all.extend(r.json["data"].as_array().unwrap().clone());
            cursor = r.json["meta"]["nextCursor"].as_str().map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(all.len(), 200);
        assert!(all.iter().all(|d| d["state"] == "delivered"), "{hook}");
    }
}

#[tokio::test]
async fn retries_follow_the_schedule_within_the_jitter_and_honour_retry_after() {
    let app = TestApp::isolated().await;
    let receiver = Receiver::start(|path, before| match (path, before) {
        ("/slow", 0) => Reply::RetryAfter(429, 3600),
        ("/slow", _) => Reply::Status(200),
        _ => Reply::Status(500),
    })
    .await;
    let (hook, _) = webhook(&app, json!({"url": format!("{}/down", receiver.base)})).await;
    let (slow, _) = webhook(&app, json!({"url": format!("{}/slow", receiver.base)})).await;
    let page = app.page().await;
    let mut seen = HashSet::new();
    app.call(
        "POST",
        &format!("/api/v1/pages/{page}/incidents"),
        Some(json!({"title": "Down", "status": "investigating", "impact": "major", "body": "Looking"})),
    )
    .await
    .expect(201);
    stream_new_events(&app, &mut seen, 1).await;

    // Walk minute by minute for the first hour, then by ten minutes, to 40 hours.
    let start = app.clock.now();
    let mut t = Duration::zero();
    while t < Duration::hours(40) {
        let step = if t < Duration::hours(1) { Duration::minutes(1) } else { Duration::minutes(10) };
        app.clock.advance(step);
        t += step;
        tick(&app).await;
    }

    let log = &deliveries(&app, &hook).await[0];
    assert_eq!(log["state"], "failed");
    let attempts: Vec<chrono::DateTime<chrono::Utc>> = log["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| chrono::DateTime::parse_from_rfc3339(a["at"].as_str().unwrap()).unwrap().to_utc())
        .collect();
    assert_eq!(attempts.len(), 8, "the first attempt and seven retries");
    assert_eq!(attempts[0], start);
    for (i, base) in delivery::RETRY_SCHEDULE_SECS.iter().enumerate() {
        let gap = (attempts[i + 1] - attempts[i]).num_seconds();
        // At most 20% early or late, plus up to one step of the walk (the tick's granularity
        // where the retry fell due: past the first hour the walk takes ten-minute steps).
        let step = if attempts[i + 1] - start <= Duration::hours(1) { 60 } else { 600 };
        assert!(
            gap >= base * 8 / 10 && gap <= base * 12 / 10 + step,
            "retry {}: {gap}s after, schedule {base}s",
            i + 1
        );
    }

    let slow_log = &deliveries(&app, &slow).await[0];
    assert_eq!(slow_log["state"], "delivered");
    let slow_attempts = slow_log["attempts"].as_array().unwrap();
    let gap = chrono::DateTime::parse_from_rfc3339(slow_attempts[1]["at"].as_str().unwrap()).unwrap()
        - chrono::DateTime::parse_from_rfc3339(slow_attempts[0]["at"].as_str().unwrap()).unwrap();
    assert!(gap >= Duration::seconds(3600), "Retry-After: 3600 was honoured over the 5 s retry ({gap})");
}

#[tokio::test]
async fn a_410_disables_the_webhook_at_once_with_an_event() {
    let app = TestApp::isolated().await;
    let receiver = Receiver::start(|_, _| Reply::Status(410)).await;
    let (hook, _) = webhook(&app, json!({"url": format!("{}/gone", receiver.base)})).await;
    let page = app.page().await;
    let mut seen = HashSet::new();
    for title in ["One", "Two"] {
        app.call(
            "POST",
            &format!("/api/v1/pages/{page}/incidents"),
            Some(json!({"title": title, "status": "investigating", "impact": "minor", "body": "m"})),
        )
        .await
        .expect(201);
        stream_new_events(&app, &mut seen, 1).await;
    }
    app.clock.advance(Duration::hours(30));
    tick(&app).await;

    assert_eq!(receiver.count(), 1, "the first 410 stopped everything");
    let w = app.call("GET", &format!("/api/v1/webhooks/{hook}"), None).await;
    assert_eq!(w.json["data"]["enabled"], false);
    assert!(w.json["data"]["disabledReason"].as_str().unwrap().contains("410"));
    let log = deliveries(&app, &hook).await;
    assert_eq!(log.len(), 1, "the disabled webhook got no delivery of the second event");
    assert_eq!(log[0]["state"], "failed");
    let events = app.call("GET", "/api/v1/events?type=webhook.disabled", None).await;
    assert_eq!(events.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(events.json["data"][0]["actor"]["type"], "schedule");
}

#[tokio::test]
async fn a_webhook_whose_deliveries_all_fail_for_24_hours_is_disabled() {
    let app = TestApp::isolated().await;
    let receiver = Receiver::start(|_, _| Reply::Status(500)).await;
    let (hook, _) = webhook(&app, json!({"url": format!("{}/down", receiver.base)})).await;
    let page = app.page().await;
    let mut seen = HashSet::new();
    app.call(
        "POST",
        &format!("/api/v1/pages/{page}/incidents"),
        Some(json!({"title": "A", "status": "investigating", "impact": "minor", "body": "m"})),
    )
    .await
    .expect(201);
    stream_new_events(&app, &mut seen, 1).await;
    let started = app.clock.now();
    let mut disabled_at = None;
    for _ in 0..(30 * 6) {
        app.clock.advance(Duration::minutes(10));
        // A new event every ten minutes keeps attempts coming.
        app.next_window();
        app.call(
            "POST",
            &format!("/api/v1/pages/{page}/incidents"),
            Some(json!({"title": "B", "status": "investigating", "impact": "minor", "body": "m"})),
        )
        .await
        .expect(201);
        stream_new_events(&app, &mut seen, 1).await;
        tick(&app).await;
        let w = app.call("GET", &format!("/api/v1/webhooks/{hook}"), None).await;
        if w.json["data"]["enabled"] == false {
            disabled_at = Some(app.clock.now());
            break;
        }
    }
    let disabled_at = disabled_at.expect("the webhook was disabled");
    let after = disabled_at - started;
    assert!(after >= Duration::hours(24) && after <= Duration::hours(24) + Duration::minutes(10), "{after}");
    let w = app.call("GET", &format!("/api/v1/webhooks/{hook}"), None).await;
    assert!(w.json["data"]["disabledReason"].as_str().unwrap().contains("24 hours"));

    // Re-enabled by hand, it starts afresh.
    let r = app.call("PATCH", &format!("/api/v1/webhooks/{hook}"), Some(json!({"enabled": true}))).await;
    r.expect(200);
    assert_eq!(r.json["data"]["failingSince"], Value::Null);
    assert_eq!(r.json["data"]["disabledReason"], Value::Null);
}

#[tokio::test]
async fn a_stream_record_delivered_twice_makes_one_delivery() {
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, _| Reply::Status(200)).await;
    let (hook, _) = webhook(&app, json!({"url": format!("{}/hook", receiver.base)})).await;
    let page = app.page().await;
    let mut seen = HashSet::new();
    app.call(
        "POST",
        &format!("/api/v1/pages/{page}/incidents"),
        Some(json!({"title": "A", "status": "investigating", "impact": "minor", "body": "m"})),
    )
    .await
    .expect(201);

    stream_new_events(&app, &mut seen, 3).await;

    assert_eq!(receiver.count(), 1);
    assert_eq!(deliveries(&app, &hook).await.len(), 1);
}

#[tokio::test]
async fn a_crash_after_sending_ends_delivered_with_the_same_webhook_id() {
    let app = TestApp::isolated().await;
    let receiver = Receiver::start(|_, _| Reply::Status(200)).await;
    let (hook, _) = webhook(&app, json!({"url": format!("{}/hook", receiver.base)})).await;
    let page = app.page().await;
    let mut seen = HashSet::new();
    stream_new_events(&app, &mut seen, 1).await;
    app.call(
        "POST",
        &format!("/api/v1/pages/{page}/incidents"),
        Some(json!({"title": "A", "status": "investigating", "impact": "minor", "body": "m"})),
    )
    .await
    .expect(201);

    // The attempt is sent, then recording it fails: as far as the table knows, a crash.
    // (A first attempt that delivered is recorded with others in a batch write.)
    app.calls.fail("BatchWriteItem");
    let events = app.store.list_events(app.org, &Default::default(), app.clock_secs(), 1, None).await.unwrap();
    delivery::handle_event(&app.state, app.org, &events.items[0]).await.expect_err("recording the attempt failed");
    app.calls.heal();
    assert_eq!(receiver.count(), 1);
    tick(&app).await;
    assert_eq!(receiver.count(), 1, "the lease holds it while the crashed attempt could still be live");

    app.clock.advance(Duration::seconds(delivery::LEASE_SECS + 1));
    tick(&app).await;

    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id, got[1].id);
    assert_eq!(deliveries(&app, &hook).await[0]["state"], "delivered");
}

#[tokio::test]
async fn filters_choose_the_events_and_pages_a_webhook_gets() {
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, _| Reply::Status(200)).await;
    let a = app.page().await;
    let b = app.page().await;
    let service = app.service(&a, "API").await;
    let mut seen = HashSet::new();
    stream_new_events(&app, &mut seen, 1).await;
    app.clock.advance(Duration::seconds(1));
    webhook(&app, json!({"url": format!("{}/all", receiver.base)})).await;
    webhook(&app, json!({"url": format!("{}/page-b", receiver.base), "pageIds": [b]})).await;
    webhook(
        &app,
        json!({"url": format!("{}/audit", receiver.base), "events": ["service.created", "incident.resolved"]}),
    )
    .await;
    let (off, _) = webhook(&app, json!({"url": format!("{}/off", receiver.base)})).await;
    app.call("PATCH", &format!("/api/v1/webhooks/{off}"), Some(json!({"enabled": false}))).await.expect(200);
    stream_new_events(&app, &mut seen, 1).await;

    app.service(&b, "Web").await;
    let r = app
        .call(
            "POST",
            &format!("/api/v1/pages/{a}/incidents"),
            Some(json!({"title": "A", "status": "investigating", "impact": "minor", "body": "m", "notifySubscribers": false})),
        )
        .await;
    let incident = r.json["data"]["id"].as_str().unwrap().to_owned();
    app.call(
        "POST",
        &format!("/api/v1/incidents/{incident}/updates"),
        Some(json!({"status": "resolved", "body": "ok"})),
    )
    .await
    .expect(201);
    app.call("PATCH", &format!("/api/v1/services/{service}"), Some(json!({"currentStatus": "degraded"})))
        .await
        .expect(200);
    stream_new_events(&app, &mut seen, 1).await;

    let mut got: HashMap<String, Vec<String>> = HashMap::new();
    for r in receiver.received() {
        let body: Value = serde_json::from_str(&r.body).unwrap();
        got.entry(r.path).or_default().push(body["type"].as_str().unwrap().to_owned());
    }
    for list in got.values_mut() {
        list.sort();
    }
    assert_eq!(
        got.remove("/all").unwrap(),
        ["incident.created", "incident.resolved", "service.updated"],
        "integrations get incidents even with notifySubscribers: false"
    );
    assert_eq!(got.remove("/audit").unwrap(), ["incident.resolved", "service.created"]);
    assert!(got.is_empty(), "nothing for page B's filter or the disabled webhook: {got:?}");
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_for_24_hours() {
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, _| Reply::Status(200)).await;
    let (hook, old) = webhook(&app, json!({"url": format!("{}/hook", receiver.base)})).await;

    let r = app.call("POST", &format!("/api/v1/webhooks/{hook}/rotate-secret"), None).await;
    r.expect(200);
    let new = r.json["data"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    app.call("POST", &format!("/api/v1/webhooks/{hook}/test"), None).await.expect(202);
    app.clock.advance(Duration::hours(24) + Duration::seconds(1));
    app.next_window();
    app.call("POST", &format!("/api/v1/webhooks/{hook}/test"), None).await.expect(202);

    let got = receiver.received();
    assert_eq!(got[0].signature.split(' ').count(), 2, "both secrets sign during the overlap");
    assert_eq!(got[1].signature.split(' ').count(), 1, "only the new one after it");
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "ping");
    assert_eq!(body["data"]["webhookId"], hook.as_str());
    let sig = |secret: &str, r: &Received| {
        livestatus_shared::outbound::signing::sign(secret, &r.id, r.timestamp.parse().unwrap(), r.body.as_bytes())
    };
    assert!(got[0].signature.contains(&sig(&old, &got[0])) && got[0].signature.contains(&sig(&new, &got[0])));
    assert_eq!(got[1].signature, sig(&new, &got[1]));
}

#[tokio::test]
async fn a_manual_retry_delivers_again_with_the_same_webhook_id() {
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, before| if before == 0 { Reply::Status(500) } else { Reply::Status(200) }).await;
    let (hook, _) = webhook(&app, json!({"url": format!("{}/hook", receiver.base)})).await;
    let ping = app.call("POST", &format!("/api/v1/webhooks/{hook}/test"), None).await;
    assert_eq!(ping.json["data"]["state"], "pending");
    let id = ping.json["data"]["id"].as_str().unwrap().to_owned();

    let r = app.call("POST", &format!("/api/v1/deliveries/{id}/retry"), None).await;
    r.expect(202);

    assert_eq!(r.json["data"]["state"], "delivered");
    assert_eq!(r.json["data"]["attempts"].as_array().unwrap().len(), 2);
    let got = receiver.received();
    assert_eq!(got[0].id, got[1].id);
    assert_eq!(got[0].id, id);
}

#[tokio::test]
async fn webhooks_need_their_scopes_and_stay_in_their_organization() {
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, _| Reply::Status(200)).await;
    let (id, _) = webhook(&app, json!({"url": format!("{}/hook", receiver.base)})).await;
    let (_, other_key) = app.new_org(livestatus_shared::domain::Plan::Business).await;
    let reader = app.new_key(app.org, &[livestatus_shared::domain::Scope::WebhooksRead]).await;

    for (method, path) in [
        ("GET", format!("/api/v1/webhooks/{id}")),
        ("PATCH", format!("/api/v1/webhooks/{id}")),
        ("DELETE", format!("/api/v1/webhooks/{id}")),
        ("POST", format!("/api/v1/webhooks/{id}/test")),
        ("POST", format!("/api/v1/webhooks/{id}/rotate-secret")),
        ("GET", format!("/api/v1/webhooks/{id}/deliveries")),
    ] {
        let body = (method == "PATCH").then(|| json!({"description": "x"}));
        app.call_as(&other_key, method, &path, body).await.expect_error(404, "not_found");
    }
    assert_eq!(app.call_as(&other_key, "GET", "/api/v1/webhooks", None).await.json["data"], json!([]));
    app.call_as(&reader, "GET", &format!("/api/v1/webhooks/{id}"), None).await.expect(200);
    app.call_as(&reader, "POST", "/api/v1/webhooks", Some(json!({"url": receiver.base})))
        .await
        .expect_error(403, "insufficient_scope");
    app.call("DELETE", &format!("/api/v1/webhooks/{id}"), None).await.expect(204);
    app.call("GET", &format!("/api/v1/webhooks/{id}"), None).await.expect_error(404, "not_found");
}
