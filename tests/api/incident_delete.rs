//! Deleting incidents: gone with their updates and idempotency records, never half-done,
//! finished by a retry after a crash, and invisible across organizations.

use livestatus_shared::domain::Plan;
use livestatus_tests::TestApp;
use serde_json::{Value, json};

async fn open_with_updates(app: &TestApp, page: &str, updates: usize, idempotency_key: Option<&str>) -> String {
    let body =
        json!({"title": "Database failover", "impact": "critical", "status": "investigating", "body": "Failing over."});
    let mut req = axum::http::Request::post(format!("/api/v1/pages/{page}/incidents"))
        .header("authorization", format!("Bearer {}", app.key))
        .header("content-type", "application/json");
    if let Some(key) = idempotency_key {
        req = req.header("idempotency-key", key);
    }
    let r = app.send(req.body(axum::body::Body::from(body.to_string())).unwrap()).await;
    let id = r.expect(201).json["data"]["id"].as_str().unwrap().to_owned();
    for i in 0..updates {
        app.call("POST", &format!("/api/v1/incidents/{id}/updates"), Some(json!({"body": format!("Update {i}")})))
            .await
            .expect(201);
    }
    id
}

/// Items of the org partition that belong to the incident (itself, its updates) or
/// answer for it (idempotency records).
async fn incident_items(app: &TestApp, id: &str) -> Vec<String> {
    app.org_items(app.org)
        .await
        .into_iter()
        .filter(|i| {
            let attr = |name: &str| i.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
            attr("sk").is_some_and(|sk| sk.contains(id)) || attr("ownerId") == Some(id)
        })
        .map(|i| i["sk"].as_s().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn a_deleted_incident_is_gone_with_its_updates_and_then_answers_404() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let id = open_with_updates(&app, &page, 3, None).await;
    assert_eq!(incident_items(&app, &id).await.len(), 5, "the incident, its opening update and three more");

    app.call("DELETE", &format!("/api/v1/incidents/{id}"), None).await.expect(204);

    app.call("GET", &format!("/api/v1/incidents/{id}"), None).await.expect_error(404, "not_found");
    app.call("DELETE", &format!("/api/v1/incidents/{id}"), None).await.expect_error(404, "not_found");
    app.call("PATCH", &format!("/api/v1/incidents/{id}"), Some(json!({"title": "x"})))
        .await
        .expect_error(404, "not_found");
    app.call("POST", &format!("/api/v1/incidents/{id}/updates"), Some(json!({"body": "late"})))
        .await
        .expect_error(404, "not_found");
    let listed = app.call("GET", &format!("/api/v1/pages/{page}/incidents"), None).await;
    assert_eq!(listed.expect(200).json["data"], json!([]));
    assert_eq!(incident_items(&app, &id).await, Vec::<String>::new(), "nothing of it is left in the table");
}

#[tokio::test]
async fn deleting_an_incident_leaves_the_other_incidents_of_the_page_alone() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let kept = open_with_updates(&app, &page, 2, None).await;
    let deleted = open_with_updates(&app, &page, 2, None).await;

    app.call("DELETE", &format!("/api/v1/incidents/{deleted}"), None).await.expect(204);

    let read = app.call("GET", &format!("/api/v1/incidents/{kept}"), None).await;
    assert_eq!(read.expect(200).json["data"]["updates"].as_array().unwrap().len(), 3);
    let listed = app.call("GET", &format!("/api/v1/pages/{page}/incidents"), None).await;
    let ids: Vec<&str> = listed.json["data"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [kept.as_str()]);
}

#[tokio::test]
async fn another_orgs_delete_answers_404_and_removes_nothing() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let id = open_with_updates(&app, &page, 2, None).await;
    let before = incident_items(&app, &id).await;
    let (_, intruder) = app.new_org(Plan::Business).await;

    app.call_as(&intruder, "DELETE", &format!("/api/v1/incidents/{id}"), None).await.expect_error(404, "not_found");

    assert_eq!(incident_items(&app, &id).await, before);
    let read = app.call("GET", &format!("/api/v1/incidents/{id}"), None).await;
    assert_eq!(read.expect(200).json["data"]["updates"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_delete_interrupted_after_the_updates_are_gone_hides_the_incident_and_finishes_on_retry() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let id = open_with_updates(&app, &page, 4, None).await;

    // The last step (removing the incident item itself) never reaches the table.
    app.calls.fail("TransactWriteItems");
    let interrupted = app.call("DELETE", &format!("/api/v1/incidents/{id}"), None).await;
    app.calls.heal();

    assert!(interrupted.status.is_server_error(), "the client is told it did not finish: {}", interrupted.json);
    assert_eq!(incident_items(&app, &id).await, [format!("INCIDENT#{id}")], "updates gone, the marked incident left");
    app.call("GET", &format!("/api/v1/incidents/{id}"), None).await.expect_error(404, "not_found");
    app.call("POST", &format!("/api/v1/incidents/{id}/updates"), Some(json!({"body": "late"})))
        .await
        .expect_error(404, "not_found");
    let listed = app.call("GET", "/api/v1/incidents", None).await;
    assert_eq!(listed.expect(200).json["data"], json!([]), "a half-deleted incident is not listed");

    app.call("DELETE", &format!("/api/v1/incidents/{id}"), None).await.expect(204);

    assert_eq!(incident_items(&app, &id).await, Vec::<String>::new());
}

#[tokio::test]
async fn deleting_an_incident_removes_its_idempotency_records_so_a_retried_alert_opens_a_new_one() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let id = open_with_updates(&app, &page, 0, Some("alert-4711")).await;
    let replay = open_with_updates(&app, &page, 0, Some("alert-4711")).await;
    assert_eq!(replay, id, "before the delete, a retry replays the first response");
    let records = |items: Vec<String>| items.into_iter().filter(|sk| sk.starts_with("IDEMPOTENCY#")).count();
    assert_eq!(records(incident_items(&app, &id).await), 1);

    app.call("DELETE", &format!("/api/v1/incidents/{id}"), None).await.expect(204);

    assert_eq!(records(incident_items(&app, &id).await), 0, "no record answers for a deleted incident");
    let reopened = open_with_updates(&app, &page, 0, Some("alert-4711")).await;
    assert_ne!(reopened, id, "the alert, retried after the delete, opens a new incident");
    app.call("GET", &format!("/api/v1/incidents/{reopened}"), None).await.expect(200);
}

#[tokio::test]
async fn deleting_a_page_after_deleting_one_of_its_incidents_leaves_nothing() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let first = open_with_updates(&app, &page, 1, None).await;
    open_with_updates(&app, &page, 1, None).await;
    app.call("DELETE", &format!("/api/v1/incidents/{first}"), None).await.expect(204);

    app.call("DELETE", &format!("/api/v1/pages/{page}"), None).await.expect(204);

    let left: Vec<Value> = app
        .org_items(app.org)
        .await
        .into_iter()
        .filter(|i| i.get("pageId").and_then(|v| v.as_s().ok()) == Some(&page))
        .map(|i| Value::String(i["sk"].as_s().unwrap().clone()))
        .collect();
    assert_eq!(left, Vec::<Value>::new());
}
