//! Cross-organization isolation, generated from the route table: every route that takes
//! an id answers another organization's id exactly as it answers a random one.

use livestatus_shared::domain::Plan;
use livestatus_shared::routes::ROUTES;
use livestatus_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn every_route_with_another_orgs_id_answers_404_exactly_like_a_random_id() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let service = app.service(&page, "api").await;
    let incident = app
        .call(
            "POST",
            &format!("/api/v1/pages/{page}/incidents"),
            Some(json!({"title": "t", "impact": "minor", "status": "investigating", "body": "b"})),
        )
        .await
        .json["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_id = app.call("POST", "/api/v1/keys", Some(json!({"name": "owned"}))).await.json["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let webhook =
        app.call("POST", "/api/v1/webhooks", Some(json!({"url": "http://127.0.0.1:9/hook"}))).await.json["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let delivery = app.call("POST", &format!("/api/v1/webhooks/{webhook}/test"), None).await.json["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let maintenance = app
        .call(
            "POST",
            &format!("/api/v1/pages/{page}/maintenances"),
            Some(json!({"title": "t", "body": "b", "scheduledFor": "2099-01-10T02:00:00Z", "scheduledUntil": "2099-01-10T04:00:00Z"})),
        )
        .await
        .json["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let monitor = app
        .call("POST", "/api/v1/monitors", Some(json!({"name": "m", "url": "http://127.0.0.1:9/m"})))
        .await
        .json["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let subscriber = app
        .call(
            "POST",
            &format!("/api/v1/pages/{page}/subscribers"),
            Some(json!({"type": "webhook", "url": "http://127.0.0.1:9/hook"})),
        )
        .await
        .json["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, intruder) = app.new_org(Plan::Business).await;
    let fill = |path: &str, id: &dyn Fn(&str) -> String| {
        [
            "pageId",
            "serviceId",
            "incidentId",
            "keyId",
            "webhookId",
            "deliveryId",
            "subscriberId",
            "maintenanceId",
            "monitorId",
        ]
        .iter()
        .fold(path.to_owned(), |p, name| p.replace(&format!("{{{name}}}"), &id(name)))
    };
    let body_for = |method: &str, path: &str| match (method, path) {
        ("POST", p) if p.ends_with("/services") => Some(json!({"name": "x"})),
        ("POST", p) if p.ends_with("/maintenances") => Some(
            json!({"title": "t", "body": "b", "scheduledFor": "2099-01-10T02:00:00Z", "scheduledUntil": "2099-01-10T04:00:00Z"}),
        ),
        ("POST", "/api/v1/monitors") => Some(json!({"name": "m", "url": "http://127.0.0.1:9/m"})),
        ("PATCH", p) if p.starts_with("/api/v1/monitors/") => Some(json!({"name": "x"})),
        ("POST", p) if p.ends_with("/subscribers") => {
            Some(json!({"type": "webhook", "url": "http://127.0.0.1:9/hook"}))
        }
        ("POST", p) if p.ends_with("/incidents") => {
            Some(json!({"title": "t", "impact": "minor", "status": "investigating", "body": "b"}))
        }
        ("POST", p) if p.ends_with("/updates") => Some(json!({"body": "b"})),
        ("PATCH", p) if p.contains("/pages/") => Some(json!({"name": "x"})),
        ("PATCH", p) if p.contains("/services/") => Some(json!({"currentStatus": "outage"})),
        ("PATCH", p) if p.contains("/webhooks/") => Some(json!({"description": "x"})),
        ("PATCH", _) => Some(json!({"title": "x"})),
        _ => None,
    };

    let mut checked = 0;
    // Keyed routes; the public pages have their own privacy test (status_pages).
    for route in ROUTES.iter().filter(|r| r.path.contains('{') && r.scope.is_some()) {
        let theirs = fill(route.path, &|name| match name {
            "pageId" => page.clone(),
            "serviceId" => service.clone(),
            "incidentId" => incident.clone(),
            "keyId" => key_id.clone(),
            "webhookId" => webhook.clone(),
            "deliveryId" => delivery.clone(),
            "subscriberId" => subscriber.clone(),
            "maintenanceId" => maintenance.clone(),
            "monitorId" => monitor.clone(),
            other => panic!("no fixture for {{{other}}}"),
        });
        let random = fill(route.path, &|_| uuid::Uuid::now_v7().to_string());
        let body = body_for(route.method, route.path);

        if checked % 20 == 19 {
            // Two requests a route: stay under the intruder key's 60 a minute.
            app.next_window();
        }
        let foreign = app.call_as(&intruder, route.method, &theirs, body.clone()).await;
        let missing = app.call_as(&intruder, route.method, &random, body).await;

        foreign.expect_error(404, "not_found");
        missing.expect_error(404, "not_found");
        assert_eq!(
            foreign.json["error"]["message"], missing.json["error"]["message"],
            "{} {}",
            route.method, route.path
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} routes checked");

    // Nothing of the owner's changed.
    app.next_window();
    assert_eq!(
        app.call("GET", &format!("/api/v1/services/{service}"), None).await.json["data"]["currentStatus"],
        "operational"
    );
    assert_eq!(
        app.call("GET", &format!("/api/v1/incidents/{incident}"), None).await.json["data"]["updates"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.call("GET", &format!("/api/v1/pages/{page}"), None).await.expect(200);
}
