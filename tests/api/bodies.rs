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
    let pages =
        app.org_items(app.org).await.into_iter().filter(|i| i["sk"].as_s().unwrap().starts_with("PAGE#")).count();
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

#[tokio::test]
async fn unusual_unicode_nul_bytes_and_huge_numbers_get_400_while_ordinary_unicode_passes() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let cases = [
        (format!("/api/v1/pages/{page}/services"), json!({"name": "API\u{202E}"}), "name"),
        (format!("/api/v1/pages/{page}/services"), json!({"name": "a\u{0}b"}), "name"),
        (format!("/api/v1/pages/{page}/services"), json!({"name": "\u{FEFF}API"}), "name"),
        (format!("/api/v1/pages/{page}/services"), json!({"name": "x", "displayOrder": 1e300}), "displayOrder"),
        (format!("/api/v1/pages/{page}/services"), json!({"name": "x", "displayOrder": 4294967296u64}), "displayOrder"),
        (
            format!("/api/v1/pages/{page}/incidents"),
            json!({"title": "t\u{2066}", "impact": "minor", "status": "identified", "body": "b"}),
            "title",
        ),
        ("/api/v1/pages".to_owned(), json!({"name": "n", "slug": "abc", "description": "d\u{0}"}), "description"),
    ];
    for (path, body, field) in cases {
        let r = app.call("POST", &path, Some(body.clone())).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field), "{body}: {}", r.json);
    }
    let raw_huge = Request::post(format!("/api/v1/pages/{page}/services"))
        .header("authorization", format!("Bearer {}", app.key))
        .body(Body::from(r#"{"name": "x", "displayOrder": 123456789012345678901234567890}"#))
        .unwrap();
    app.send(raw_huge).await.expect_error(400, "invalid_request");
    for query in ["limit=99999999999999999999999", "limit=-1", "limit=1e2", &format!("cursor={}", "A".repeat(5000))] {
        app.call("GET", &format!("/api/v1/pages?{query}"), None).await.expect_error(400, "invalid_request");
    }
    let long_key = Request::post(format!("/api/v1/pages/{page}/services"))
        .header("authorization", format!("Bearer {}", app.key))
        .header("idempotency-key", "k".repeat(256))
        .body(Body::from(r#"{"name": "x"}"#))
        .unwrap();
    app.send(long_key).await.expect_error(400, "invalid_request");

    let ok =
        app.call("POST", &format!("/api/v1/pages/{page}/services"), Some(json!({"name": "Café ☕ 👩‍💻 Zürich"}))).await;
    assert_eq!(ok.expect(201).json["data"]["name"], "Café ☕ 👩‍💻 Zürich");
    assert_eq!(app.call("GET", &format!("/api/v1/pages/{page}/services"), None).await.json["meta"]["count"], 1);
}
