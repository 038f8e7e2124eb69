//! Request bodies: not JSON, not an object, wrong types, unknown fields, over 64 KiB. Each
//! gets its documented envelope and nothing is written.

use axum::body::Body;
use axum::http::Request;
use livestatus_tests::TestApp;
use serde_json::json;

async fn app() -> TestApp {
    TestApp::new(livestatus_pages::router).await
}

async fn post_raw(app: &TestApp, body: impl Into<Body>) -> livestatus_tests::TestResponse {
    let req = Request::post("/api/v1/pages")
        .header("authorization", format!("Bearer {}", app.key))
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap();
    app.send(req).await
}

async fn assert_nothing_written(app: &TestApp) {
    let pages = app.org_items(app.org).await.into_iter().filter(|i| i["sk"].as_s().unwrap().starts_with("PAGE#")).count();
    assert_eq!(pages, 0);
}

#[tokio::test]
async fn bodies_that_are_not_a_json_object_get_400_invalid_request() {
    let app = app().await;
    for body in ["", "not json", "[1,2]", "\"text\"", "{\"name\": ", "null"] {
        let r = post_raw(&app, body).await;
        r.expect_error(400, "invalid_request");
    }
    assert_nothing_written(&app).await;
}

#[tokio::test]
async fn a_field_of_the_wrong_type_gets_400_naming_the_field() {
    let app = app().await;
    for (body, field) in [
        (json!({"name": "x", "slug": "abc", "isPublic": "yes"}), "isPublic"),
        (json!({"name": 5, "slug": "abc"}), "name"),
        (json!({"name": "x", "slug": ["abc"]}), "slug"),
    ] {
        let r = app.call("POST", "/api/v1/pages", Some(body)).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field), "{}", r.json);
    }
    assert_nothing_written(&app).await;
}

#[tokio::test]
async fn an_unknown_or_missing_field_gets_400_naming_the_field() {
    let app = app().await;
    for (body, field) in [
        (json!({"name": "x", "slug": "abc", "colour": "#fff"}), "colour"),
        (json!({"slug": "abc"}), "name"),
        (json!({"name": "x"}), "slug"),
        (json!({"name": "", "slug": "abc"}), "name"),
        (json!({"name": "x".repeat(101), "slug": "abc"}), "name"),
        (json!({"name": "x", "slug": "abc", "description": "d".repeat(501)}), "description"),
        (json!({"name": "x", "slug": "abc", "brandColor": "red"}), "brandColor"),
    ] {
        let r = app.call("POST", "/api/v1/pages", Some(body)).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field), "{}", r.json);
    }
    assert_nothing_written(&app).await;
}

#[tokio::test]
async fn a_body_over_64_kib_gets_413_payload_too_large() {
    let app = app().await;
    let big = json!({"name": "x", "slug": "abc", "description": "d".repeat(70 * 1024)}).to_string();

    post_raw(&app, big.clone()).await.expect_error(413, "payload_too_large");
    // Without a Content-Length the limit still holds while streaming.
    let stream = Body::from_stream(futures::stream::iter(
        big.into_bytes().chunks(4096).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
    ));
    post_raw(&app, stream).await.expect_error(413, "payload_too_large");
    assert_nothing_written(&app).await;
}

#[tokio::test]
async fn deeply_nested_json_gets_400_not_a_crash() {
    let app = app().await;
    let nested = format!("{{\"name\": {}1{}}}", "[".repeat(5000), "]".repeat(5000));

    post_raw(&app, nested).await.expect_error(400, "invalid_request");
}
