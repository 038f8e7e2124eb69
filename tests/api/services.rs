//! Services: CRUD, ordering, validation, cross-org isolation, idempotent creation.

use livestatus_tests::TestApp;
use serde_json::{Value, json};

#[tokio::test]
async fn a_new_service_is_operational_at_order_zero_unless_told_otherwise() {
    let app = TestApp::all().await;
    let page = app.page().await;

    let r = app.call("POST", &format!("/api/v1/pages/{page}/services"), Some(json!({"name": "API"}))).await;

    let service = &r.expect(201).json["data"];
    assert_eq!(service["pageId"], page.as_str());
    assert_eq!(service["name"], "API");
    assert_eq!(service["currentStatus"], "operational");
    assert_eq!(service["displayOrder"], 0);
    assert_eq!(service["monitorUrl"], Value::Null);
    let full = app
        .call(
            "POST",
            &format!("/api/v1/pages/{page}/services"),
            Some(json!({"name": "Web", "monitorUrl": "https://example.com/health", "currentStatus": "degraded", "displayOrder": 7})),
        )
        .await;
    let full = &full.expect(201).json["data"];
    assert_eq!(
        (full["monitorUrl"].as_str(), full["currentStatus"].as_str(), full["displayOrder"].as_u64()),
        (Some("https://example.com/health"), Some("degraded"), Some(7))
    );
    let read = app.call("GET", &format!("/api/v1/services/{}", full["id"].as_str().unwrap()), None).await;
    assert_eq!(&read.expect(200).json["data"], full);
}

#[tokio::test]
async fn services_list_by_display_order_then_creation_and_follow_cursors() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let mut expected = Vec::new();
    for (name, order) in [("c", 5), ("a", 1), ("d", 5), ("b", 1), ("e", 0)] {
        let r = app
            .call("POST", &format!("/api/v1/pages/{page}/services"), Some(json!({"name": name, "displayOrder": order})))
            .await;
        expected.push((order, expected.len(), r.expect(201).json["data"]["name"].as_str().unwrap().to_owned()));
    }
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, _, n)| n).collect();

    let mut names = Vec::new();
    let mut url = format!("/api/v1/pages/{page}/services?limit=2");
    loop {
        let r = app.call("GET", &url, None).await;
        r.expect(200);
        names.extend(r.json["data"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()));
        match r.json["meta"]["nextCursor"].as_str() {
            Some(c) => url = format!("/api/v1/pages/{page}/services?limit=2&cursor={c}"),
            None => break,
        }
    }

    assert_eq!(names, expected);
    assert_eq!(expected, ["e", "a", "b", "c", "d"]);
}

#[tokio::test]
async fn patching_a_services_status_changes_only_that_and_reordering_moves_it() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let first = app.service(&page, "first").await;
    let second = app.service(&page, "second").await;
    let before = app.call("GET", &format!("/api/v1/services/{first}"), None).await.json["data"].clone();
    app.clock.advance(chrono::Duration::seconds(1));

    let r = app.call("PATCH", &format!("/api/v1/services/{first}"), Some(json!({"currentStatus": "degraded"}))).await;

    let after = &r.expect(200).json["data"];
    assert_eq!(after["currentStatus"], "degraded");
    assert_eq!(after["name"], before["name"]);
    assert_eq!(after["createdAt"], before["createdAt"]);
    assert_ne!(after["updatedAt"], before["updatedAt"]);
    app.call("PATCH", &format!("/api/v1/services/{first}"), Some(json!({"displayOrder": 9}))).await.expect(200);
    let listed = app.call("GET", &format!("/api/v1/pages/{page}/services"), None).await;
    let ids: Vec<_> =
        listed.json["data"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, [second, first]);
}

#[tokio::test]
async fn every_service_field_rule_is_rejected_with_400_naming_the_field() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let service = app.service(&page, "svc").await;
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"name": "x", "monitorUrl": "ftp://example.com"}), "monitorUrl"),
        (json!({"name": "x", "monitorUrl": "/health"}), "monitorUrl"),
        (json!({"name": "x", "monitorUrl": "https://exa mple.com"}), "monitorUrl"),
        (json!({"name": "x", "currentStatus": "down"}), "currentStatus"),
        (json!({"name": "x", "displayOrder": -1}), "displayOrder"),
        (json!({"name": "x", "displayOrder": 10001}), "displayOrder"),
        (json!({"name": "x", "displayOrder": 1.5}), "displayOrder"),
        (json!({"name": "x", "displayOrder": "3"}), "displayOrder"),
        (json!({"name": "x", "color": "red"}), "color"),
    ];
    for (body, field) in cases {
        let r = app.call("POST", &format!("/api/v1/pages/{page}/services"), Some(body.clone())).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field), "{body}: {}", r.json);
        if body.get("name") != Some(&json!("x")) || field == "color" {
            continue;
        }
        let mut patch = body.clone();
        patch.as_object_mut().unwrap().remove("name");
        let r = app.call("PATCH", &format!("/api/v1/services/{service}"), Some(patch)).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field), "{}", r.json);
    }
    app.next_window();
    let listed = app.call("GET", &format!("/api/v1/pages/{page}/services"), None).await;
    assert_eq!(listed.json["meta"]["count"], 1);
    assert_eq!(listed.json["data"][0]["currentStatus"], "operational");
}

#[tokio::test]
async fn a_deleted_service_is_gone() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let service = app.service(&page, "svc").await;

    app.call("DELETE", &format!("/api/v1/services/{service}"), None).await.expect(204);

    app.call("GET", &format!("/api/v1/services/{service}"), None).await.expect_error(404, "not_found");
    app.call("DELETE", &format!("/api/v1/services/{service}"), None).await.expect_error(404, "not_found");
    assert_eq!(app.call("GET", &format!("/api/v1/pages/{page}/services"), None).await.json["meta"]["count"], 0);
}

#[tokio::test]
async fn services_of_a_page_that_does_not_exist_answer_404() {
    let app = TestApp::all().await;
    let missing = uuid::Uuid::now_v7();

    app.call("GET", &format!("/api/v1/pages/{missing}/services"), None).await.expect_error(404, "not_found");
    app.call("POST", &format!("/api/v1/pages/{missing}/services"), Some(json!({"name": "x"})))
        .await
        .expect_error(404, "not_found");
    app.call("GET", "/api/v1/services/not-a-uuid", None).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn a_retried_service_create_returns_the_first_response_without_a_second_service() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let send = |body: Value| {
        let req = axum::http::Request::post(format!("/api/v1/pages/{page}/services"))
            .header("authorization", format!("Bearer {}", app.key))
            .header("idempotency-key", "create-api-service")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        app.send(req)
    };

    let first = send(json!({"name": "API"})).await;
    let retry = send(json!({"name": "API"})).await;
    let other = send(json!({"name": "Other"})).await;

    first.expect(201);
    assert_eq!(retry.expect(201).json, first.json);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    other.expect_error(409, "idempotency_conflict");
    assert_eq!(app.call("GET", &format!("/api/v1/pages/{page}/services"), None).await.json["meta"]["count"], 1);
}
