//! Alert integrations: the API that manages them, and the tools' hook with each tool's
//! payload (fixtures from their docs in `tests/fixtures/alerts/`).

use axum::body::Body;
use axum::http::Request;
use livestatus_tests::{TestApp, TestResponse};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/alerts/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("a fixture")).expect("fixture JSON")
}

/// A page with services, and an integration of `kind` on it; returns (page, hook URL
/// path, token).
async fn integration(app: &TestApp, kind: &str, extra: Value) -> (String, String, String) {
    let page = app.page().await;
    let mut body = json!({"type": kind, "name": format!("{kind} alerts")});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = app.call("POST", &format!("/api/v1/pages/{page}/integrations"), Some(body)).await;
    r.expect(201);
    let url = r.json["data"]["url"].as_str().unwrap();
    let path = url[url.find("/api/v1/hooks/").unwrap()..].to_owned();
    (page, path, r.json["data"]["token"].as_str().unwrap().to_owned())
}

async fn hook(app: &TestApp, path: &str, token: &str, body: &Value) -> TestResponse {
    hook_raw(app, path, Some(token), body.to_string().into_bytes(), &[]).await
}

async fn hook_raw(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> TestResponse {
    let mut req = Request::builder().method("POST").uri(path).header("content-type", "application/json");
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    app.send(req.body(Body::from(body)).unwrap()).await
}

async fn open_incidents(app: &TestApp, page: &str) -> Vec<Value> {
    let r = app.call("GET", &format!("/api/v1/pages/{page}/incidents?open=true"), None).await;
    r.expect(200);
    r.json["data"].as_array().unwrap().clone()
}

async fn incident(app: &TestApp, id: &str) -> Value {
    let r = app.call("GET", &format!("/api/v1/incidents/{id}"), None).await;
    r.expect(200);
    r.json["data"].clone()
}

async fn service_status(app: &TestApp, id: &str) -> String {
    let r = app.call("GET", &format!("/api/v1/services/{id}"), None).await;
    r.json["data"]["currentStatus"].as_str().unwrap().to_owned()
}

fn with_alerts(mut payload: Value, status: &str, alerts: &[(&str, &str)]) -> Value {
    let template = payload["alerts"][0].clone();
    payload["status"] = json!(status);
    payload["alerts"] = alerts
        .iter()
        .map(|(fingerprint, alert_status)| {
            let mut a = template.clone();
            a["fingerprint"] = json!(fingerprint);
            a["status"] = json!(alert_status);
            a["labels"]["instance"] = json!(format!("{fingerprint}:9100"));
            a["annotations"]["summary"] = json!(format!("Errors on {fingerprint}"));
            a
        })
        .collect();
    payload
}

#[tokio::test]
async fn an_integration_shows_its_token_once_and_a_rotated_or_deleted_one_stops_working() {
    let app = TestApp::all().await;
    let (page, path, token) = integration(&app, "generic", json!({})).await;
    assert!(token.starts_with("ls_hook_"));
    let id = path.rsplit('/').next().unwrap().to_owned();
    let listed = app.call("GET", &format!("/api/v1/pages/{page}/integrations"), None).await;
    listed.expect(200);
    assert_eq!(listed.json["data"][0]["id"], json!(id));
    assert!(listed.json["data"][0].get("token").is_none(), "the token is shown once");
    assert_eq!(listed.json["data"][0]["tokenPrefix"], json!(&token[..12]));
    let got = app.call("GET", &format!("/api/v1/integrations/{id}"), None).await;
    assert_eq!(got.json["data"]["severityMap"]["critical"], json!({"status": "outage", "impact": "major"}));
    assert_eq!(got.json["data"]["serviceLabel"], json!("service"));
    app.call("PATCH", &format!("/api/v1/integrations/{id}"), Some(json!({"name": "Renamed", "autoResolve": false})))
        .await
        .expect(200);

    let alert = json!({"key": "disk", "status": "firing", "title": "Disk full"});
    hook(&app, &path, &token, &alert).await.expect(202);
    let rotated = app.call("POST", &format!("/api/v1/integrations/{id}/rotate-token"), None).await;
    rotated.expect(200);
    let new_token = rotated.json["data"]["token"].as_str().unwrap().to_owned();
    hook(&app, &path, &token, &alert).await.expect_error(401, "invalid_api_key");
    hook(&app, &path, &new_token, &alert).await.expect(202);
    // `?token=` for tools that cannot set a header.
    hook_raw(&app, &format!("{path}?token={new_token}"), None, alert.to_string().into_bytes(), &[]).await.expect(202);

    app.call("DELETE", &format!("/api/v1/integrations/{id}"), None).await.expect(204);
    hook(&app, &path, &new_token, &alert).await.expect_error(404, "not_found");
    app.call("GET", &format!("/api/v1/integrations/{id}"), None).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn an_integration_of_another_organization_is_not_found_and_its_map_takes_only_this_pages_services() {
    let app = TestApp::all().await;
    let (_, path, _) = integration(&app, "generic", json!({})).await;
    let id = path.rsplit('/').next().unwrap();
    let (_, other_key) = app.new_org(livestatus_shared::domain::Plan::Business).await;
    app.call_as(&other_key, "GET", &format!("/api/v1/integrations/{id}"), None).await.expect_error(404, "not_found");
    let other_page = app.page().await;
    let foreign = app.service(&other_page, "Elsewhere").await;
    let page = app.page().await;
    let r = app
        .call(
            "POST",
            &format!("/api/v1/pages/{page}/integrations"),
            Some(json!({"type": "generic", "name": "x", "serviceMap": {"db": foreign}})),
        )
        .await;
    r.expect_error(400, "invalid_request");
    assert!(r.json["error"]["message"].as_str().unwrap().contains("serviceMap"));
    let r = app
        .call("POST", &format!("/api/v1/pages/{page}/integrations"), Some(json!({"type": "nagios", "name": "x"})))
        .await;
    r.expect_error(400, "invalid_request");
    let r = app
        .call(
            "POST",
            &format!("/api/v1/pages/{page}/integrations"),
            Some(json!({"type": "generic", "name": "x", "secret": "sixteen-characters"})),
        )
        .await;
    r.expect_error(400, "invalid_request");
}

#[tokio::test]
async fn alertmanager_opens_one_incident_per_group_updates_it_once_per_change_and_resolves_it() {
    let app = TestApp::all().await;
    let (page, path, token) = integration(&app, "alertmanager", json!({})).await;
    let api = app.service(&page, "API").await;
    let firing = fixture("alertmanager-firing.json");

    let r = hook(&app, &path, &token, &firing).await;
    r.expect(202);
    assert_eq!(r.json["data"]["action"], json!("opened"));
    let id = r.json["data"]["incidentId"].as_str().unwrap().to_owned();
    let opened = incident(&app, &id).await;
    assert_eq!(opened["title"], json!("API error rate above 5%"));
    assert_eq!(opened["impact"], json!("major"));
    assert_eq!(opened["affectedServiceIds"], json!([api]));
    assert_eq!(service_status(&app, &api).await, "outage");

    // Alertmanager re-sends the same group every repeat_interval: nothing changes.
    for _ in 0..3 {
        let r = hook(&app, &path, &token, &firing).await;
        assert_eq!(r.json["data"]["action"], json!("ignored"));
    }
    assert_eq!(incident(&app, &id).await["updates"].as_array().unwrap().len(), 1);

    // A second alert joins the group: one update naming it.
    let two = with_alerts(firing.clone(), "firing", &[("c2f4b6e1a8d3f071", "firing"), ("aa11", "firing")]);
    let r = hook(&app, &path, &token, &two).await;
    assert_eq!(r.json["data"]["action"], json!("updated"));
    assert_eq!(r.json["data"]["incidentId"], json!(id));
    hook(&app, &path, &token, &two).await;
    let updates = incident(&app, &id).await["updates"].as_array().unwrap().clone();
    assert_eq!(updates.len(), 2);
    assert!(updates[1]["body"].as_str().unwrap().contains("Errors on aa11"), "{}", updates[1]["body"]);

    // The whole group resolves: the incident resolves and the service is restored.
    let resolved = with_alerts(firing.clone(), "resolved", &[("c2f4b6e1a8d3f071", "resolved"), ("aa11", "resolved")]);
    let r = hook(&app, &path, &token, &resolved).await;
    assert_eq!(r.json["data"]["action"], json!("resolved"));
    assert_eq!(incident(&app, &id).await["status"], json!("resolved"));
    assert_eq!(service_status(&app, &api).await, "operational");
    assert!(open_incidents(&app, &page).await.is_empty());
    // A late repeat of the resolution changes nothing.
    assert_eq!(hook(&app, &path, &token, &resolved).await.json["data"]["action"], json!("ignored"));

    // It fires again later: a new incident.
    let again = hook(&app, &path, &token, &firing).await;
    assert_eq!(again.json["data"]["action"], json!("opened"));
    assert_ne!(again.json["data"]["incidentId"], json!(id));
    // The events name the integration as the actor.
    let events = app.call("GET", "/api/v1/events?type=incident.created", None).await;
    let actor = &events.json["data"][0]["actor"];
    assert_eq!(actor["type"], json!("integration"));
    assert_eq!(actor["id"], json!(path.rsplit('/').next().unwrap()));
}

#[tokio::test]
async fn an_incident_changed_by_hand_stays_open_with_a_note_when_its_alerts_resolve() {
    let app = TestApp::all().await;
    let (page, path, token) = integration(&app, "alertmanager", json!({})).await;
    let api = app.service(&page, "api").await;
    let firing = fixture("alertmanager-firing.json");
    let id = hook(&app, &path, &token, &firing).await.json["data"]["incidentId"].as_str().unwrap().to_owned();
    app.clock.advance(chrono::Duration::seconds(30));
    app.call(
        "POST",
        &format!("/api/v1/incidents/{id}/updates"),
        Some(json!({"body": "We found the bad deploy.", "status": "identified"})),
    )
    .await
    .expect(201);
    app.clock.advance(chrono::Duration::seconds(30));
    let resolved = with_alerts(firing, "resolved", &[("c2f4b6e1a8d3f071", "resolved")]);
    let r = hook(&app, &path, &token, &resolved).await;
    assert_eq!(r.json["data"]["action"], json!("updated"));
    let after = incident(&app, &id).await;
    assert_eq!(after["status"], json!("identified"), "left open");
    let note = after["updates"].as_array().unwrap().last().unwrap()["body"].as_str().unwrap().to_owned();
    assert!(note.contains("changed by hand"), "{note}");
    assert_eq!(service_status(&app, &api).await, "outage", "the service is left for the person to set");
}

#[tokio::test]
async fn twenty_concurrent_deliveries_of_one_firing_group_open_exactly_one_incident() {
    let app = TestApp::all().await;
    let (page, path, token) = integration(&app, "alertmanager", json!({})).await;
    app.service(&page, "API").await;
    let firing = fixture("alertmanager-firing.json");
    let replies = futures::future::join_all((0..20).map(|_| hook(&app, &path, &token, &firing))).await;
    let mut actions: Vec<&str> = replies.iter().map(|r| r.json["data"]["action"].as_str().unwrap_or("error")).collect();
    actions.sort_unstable();
    assert_eq!(actions.iter().filter(|a| **a == "opened").count(), 1, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == "ignored").count(), 19, "{actions:?}");
    assert_eq!(open_incidents(&app, &page).await.len(), 1);
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_a_malformed_payload_is_400_naming_the_field_and_logged() {
    let app = TestApp::all().await;
    let (_, path, token) = integration(&app, "alertmanager", json!({})).await;
    let id = path.rsplit('/').next().unwrap();
    let firing = fixture("alertmanager-firing.json");
    hook(&app, &path, "ls_hook_wrongwrongwrongwrongwrongwrong12", &firing).await.expect_error(401, "invalid_api_key");
    hook_raw(&app, &path, None, firing.to_string().into_bytes(), &[]).await.expect_error(401, "invalid_api_key");
    let mut bad = firing.clone();
    bad["alerts"][0]["labels"]["severity"] = json!(5);
    let r = hook(&app, &path, &token, &bad).await;
    r.expect_error(400, "invalid_request");
    assert!(r.json["error"]["message"].as_str().unwrap().contains("alerts[0].labels.severity"), "{}", r.json);
    hook_raw(&app, &path, Some(&token), b"not json".to_vec(), &[]).await.expect_error(400, "invalid_request");
    hook(&app, &path, &token, &firing).await.expect(202);

    let log = app.call("GET", &format!("/api/v1/integrations/{id}/requests"), None).await;
    log.expect(200);
    let entries = log.json["data"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "the refused tokens are not logged: {entries:?}");
    assert_eq!(entries[0]["outcome"], json!("opened"));
    assert_eq!(entries[1]["status"], json!(400));
    assert_eq!(entries[2]["outcome"], json!("rejected"));
    assert!(entries[2]["message"].as_str().unwrap().contains("alerts[0].labels.severity"));
    assert!(entries[2]["body"].as_str().unwrap().contains("HighErrorRate"));
    assert!(app.call("GET", "/api/v1/integrations/x/requests", None).await.status.is_client_error());
}

#[tokio::test]
async fn grafana_checks_its_signature_when_a_secret_is_set_and_maps_warning_to_degraded() {
    use hmac::Mac;
    let app = TestApp::all().await;
    let secret = "a-grafana-signing-secret";
    let (page, path, token) = integration(&app, "grafana", json!({"secret": secret})).await;
    let checkout = app.service(&page, "Checkout").await;
    let body = fixture("grafana-firing.json").to_string().into_bytes();
    let sign = |ts: &str| {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(ts.as_bytes());
        mac.update(b":");
        mac.update(&body);
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let ts = "1764928800".to_owned();
    hook_raw(&app, &path, Some(&token), body.clone(), &[]).await.expect_error(401, "invalid_api_key");
    let forged = [("x-grafana-alerting-signature", sign("1")), ("x-grafana-alerting-timestamp", ts.clone())];
    hook_raw(&app, &path, Some(&token), body.clone(), &forged).await.expect_error(401, "invalid_api_key");
    let signed = [("x-grafana-alerting-signature", sign(&ts)), ("x-grafana-alerting-timestamp", ts.clone())];
    let r = hook_raw(&app, &path, Some(&token), body.clone(), &signed).await;
    r.expect(202);
    let id = r.json["data"]["incidentId"].as_str().unwrap();
    let opened = incident(&app, id).await;
    assert_eq!(opened["title"], json!("Checkout latency Payments (Checkout warning)"));
    assert_eq!(opened["impact"], json!("minor"));
    assert_eq!(service_status(&app, &checkout).await, "degraded");

    // Without a secret, no signature is asked for.
    let (_, unsigned_path, unsigned_token) = integration(&app, "grafana", json!({})).await;
    hook_raw(&app, &unsigned_path, Some(&unsigned_token), body, &[]).await.expect(202);
}

#[tokio::test]
async fn datadog_pagerduty_and_generic_alerts_open_and_resolve_their_incidents() {
    let app = TestApp::all().await;
    // Datadog: the tag `service:database` through the service map.
    let (page, path, token) = integration(&app, "datadog", json!({})).await;
    let db = app.service(&page, "Primary DB").await;
    let id = path.rsplit('/').next().unwrap();
    app.call("PATCH", &format!("/api/v1/integrations/{id}"), Some(json!({"serviceMap": {"database": db}})))
        .await
        .expect(200);
    let triggered = fixture("datadog-triggered.json");
    let r = hook(&app, &path, &token, &triggered).await;
    assert_eq!(r.json["data"]["action"], json!("opened"), "{}", r.json);
    assert_eq!(
        incident(&app, r.json["data"]["incidentId"].as_str().unwrap()).await["title"],
        json!("Database CPU above 90%")
    );
    assert_eq!(service_status(&app, &db).await, "outage");
    let mut recovered = triggered.clone();
    recovered["alert_transition"] = json!("Recovered");
    recovered["title"] = json!("[Recovered] Database CPU above 90%");
    assert_eq!(hook(&app, &path, &token, &recovered).await.json["data"]["action"], json!("resolved"));
    assert_eq!(service_status(&app, &db).await, "operational");

    // PagerDuty: triggered, acknowledged (identified), resolved; the service by name.
    let (page, path, token) = integration(&app, "pagerduty", json!({})).await;
    let login = app.service(&page, "login").await;
    let triggered = fixture("pagerduty-triggered.json");
    let r = hook(&app, &path, &token, &triggered).await;
    assert_eq!(r.json["data"]["action"], json!("opened"));
    let incident_id = r.json["data"]["incidentId"].as_str().unwrap().to_owned();
    assert_eq!(service_status(&app, &login).await, "outage");
    let mut acknowledged = triggered.clone();
    acknowledged["event"]["event_type"] = json!("incident.acknowledged");
    assert_eq!(hook(&app, &path, &token, &acknowledged).await.json["data"]["action"], json!("updated"));
    assert_eq!(incident(&app, &incident_id).await["status"], json!("identified"));
    let mut resolved = triggered.clone();
    resolved["event"]["event_type"] = json!("incident.resolved");
    // The acknowledgement was the tool's own, not a person's: it still resolves.
    assert_eq!(hook(&app, &path, &token, &resolved).await.json["data"]["action"], json!("resolved"));
    assert_eq!(service_status(&app, &login).await, "operational");

    // Generic: no service named, so the incident names none.
    let (page, path, token) = integration(&app, "generic", json!({"autoResolve": false})).await;
    let alert = json!({"key": "queue", "status": "firing", "title": "Queue backlog", "severity": "critical"});
    let r = hook(&app, &path, &token, &alert).await;
    let incident_id = r.json["data"]["incidentId"].as_str().unwrap().to_owned();
    assert_eq!(incident(&app, &incident_id).await["affectedServiceIds"], json!([]));
    let r = hook(&app, &path, &token, &json!({"key": "queue", "status": "resolved", "title": "Queue backlog"})).await;
    assert_eq!(r.json["data"]["action"], json!("updated"), "autoResolve off: a note only");
    assert_eq!(open_incidents(&app, &page).await.len(), 1);
}

#[tokio::test]
async fn the_flap_guard_holds_back_the_sixth_incident_of_an_hour() {
    let app = TestApp::all().await;
    let (page, path, token) = integration(&app, "generic", json!({})).await;
    for i in 0..6 {
        let firing = json!({"key": format!("k{i}"), "status": "firing", "title": format!("Alert {i}")});
        let r = hook(&app, &path, &token, &firing).await;
        r.expect(202);
        let expected = if i < 5 { "opened" } else { "ignored" };
        assert_eq!(r.json["data"]["action"], json!(expected), "alert {i}");
    }
    assert_eq!(open_incidents(&app, &page).await.len(), 5);
    let events = app.call("GET", "/api/v1/events?type=integration.flapping", None).await;
    assert_eq!(events.json["data"].as_array().unwrap().len(), 1);
    // An hour on, the guard lets a new one through.
    app.clock.advance(chrono::Duration::seconds(3601));
    let r = hook(&app, &path, &token, &json!({"key": "k9", "status": "firing", "title": "Later"})).await;
    assert_eq!(r.json["data"]["action"], json!("opened"));
}
