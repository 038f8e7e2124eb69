//! Pages: CRUD, slugs, plan limits, cross-org isolation, cascading delete, call counts.

use futures::future::join_all;
use livestatus_shared::domain::Plan;
use livestatus_tests::{TestApp, unique_slug};
use serde_json::{Value, json};

async fn app() -> TestApp {
    TestApp::new(livestatus_pages::router).await
}

async fn create_page(app: &TestApp, slug: &str) -> Value {
    let r = app.call("POST", "/api/v1/pages", Some(json!({"name": "Acme Status", "slug": slug}))).await;
    r.expect(201);
    r.json["data"].clone()
}

#[tokio::test]
async fn creating_a_page_answers_201_with_every_documented_field() {
    let app = app().await;
    let slug = unique_slug("acme");

    let r = app
        .call(
            "POST",
            "/api/v1/pages",
            Some(json!({"name": "Acme", "slug": slug, "description": "Our services", "brandColor": "#FF5500"})),
        )
        .await;

    r.expect(201);
    let page = &r.json["data"];
    assert!(uuid::Uuid::parse_str(page["id"].as_str().unwrap()).is_ok());
    assert_eq!(page["name"], "Acme");
    assert_eq!(page["slug"], slug.as_str());
    assert_eq!(page["description"], "Our services");
    assert_eq!(page["brandColor"], "#ff5500");
    assert_eq!(page["isPublic"], true);
    let created = page["createdAt"].as_str().unwrap();
    assert_eq!(created.len(), "2026-11-22T10:30:00.000Z".len());
    assert!(created.ends_with('Z'));
    assert_eq!(page["updatedAt"], page["createdAt"]);
    assert!(r.header("x-request-id").is_some());
    assert_eq!(r.header("x-ratelimit-limit"), Some("60"));
}

#[tokio::test]
async fn a_page_can_be_read_updated_listed_and_deleted() {
    let app = app().await;
    let page = create_page(&app, &unique_slug("crud")).await;
    let path = format!("/api/v1/pages/{}", page["id"].as_str().unwrap());

    let read = app.call("GET", &path, None).await;
    read.expect(200);
    assert_eq!(read.json["data"], page);

    app.clock.advance(chrono::Duration::seconds(1));
    let patched =
        app.call("PATCH", &path, Some(json!({"name": "Renamed", "isPublic": false, "description": "d"}))).await;
    patched.expect(200);
    assert_eq!(patched.json["data"]["name"], "Renamed");
    assert_eq!(patched.json["data"]["isPublic"], false);
    assert_ne!(patched.json["data"]["updatedAt"], page["updatedAt"]);
    assert_eq!(app.call("GET", &path, None).await.json["data"], patched.json["data"]);

    let cleared = app.call("PATCH", &path, Some(json!({"description": null}))).await;
    assert_eq!(cleared.expect(200).json["data"]["description"], Value::Null);

    let listed = app.call("GET", "/api/v1/pages", None).await;
    listed.expect(200);
    assert_eq!(listed.json["meta"]["count"], 1);
    assert_eq!(listed.json["meta"]["nextCursor"], Value::Null);
    assert_eq!(listed.json["data"][0]["id"], page["id"]);

    assert_eq!(app.call("DELETE", &path, None).await.expect(204).json, Value::Null);
    app.call("GET", &path, None).await.expect_error(404, "not_found");
    app.call("DELETE", &path, None).await.expect_error(404, "not_found");
    assert_eq!(app.call("GET", "/api/v1/pages", None).await.json["meta"]["count"], 0);
}

#[tokio::test]
async fn listing_pages_follows_opaque_cursors_through_every_page() {
    let app = app().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(create_page(&app, &unique_slug(&format!("list{i}"))).await["id"].clone());
    }

    let mut seen = Vec::new();
    let mut next = String::from("/api/v1/pages?limit=2");
    loop {
        let r = app.call("GET", &next, None).await;
        r.expect(200);
        seen.extend(r.json["data"].as_array().unwrap().iter().map(|p| p["id"].clone()));
        match r.json["meta"]["nextCursor"].as_str() {
            Some(c) => next = format!("/api/v1/pages?limit=2&cursor={c}"),
            None => break,
        }
    }

    assert_eq!(seen, ids, "every page once, oldest first");
    for bad in ["limit=0", "limit=101", "limit=x", "cursor=nonsense"] {
        let r = app.call("GET", &format!("/api/v1/pages?{bad}"), None).await;
        r.expect_error(400, "invalid_request");
        let field = bad.split('=').next().unwrap();
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field), "{}", r.json);
    }
}

#[tokio::test]
async fn a_cursor_from_another_organization_is_rejected() {
    let app = app().await;
    for i in 0..2 {
        create_page(&app, &unique_slug(&format!("cur{i}"))).await;
    }
    let cursor =
        app.call("GET", "/api/v1/pages?limit=1", None).await.json["meta"]["nextCursor"].as_str().unwrap().to_owned();
    let (_, other_key) = app.new_org(Plan::Pro).await;

    let r = app.call_as(&other_key, "GET", &format!("/api/v1/pages?cursor={cursor}"), None).await;

    r.expect_error(400, "invalid_request");
}

#[tokio::test]
async fn invalid_slugs_answer_400_invalid_slug_and_write_nothing() {
    let app = app().await;
    for slug in ["ab", "-abc", "abc-", "a--b", "Upper", "sp ace", "ünicode", &"a".repeat(64)] {
        let r = app.call("POST", "/api/v1/pages", Some(json!({"name": "x", "slug": slug}))).await;
        r.expect_error(400, "invalid_slug");
    }
    let page = create_page(&app, &unique_slug("valid")).await;
    let r = app
        .call("PATCH", &format!("/api/v1/pages/{}", page["id"].as_str().unwrap()), Some(json!({"slug": "a--b"})))
        .await;
    r.expect_error(400, "invalid_slug");
    assert_eq!(app.call("GET", "/api/v1/pages", None).await.json["meta"]["count"], 1);
}

#[tokio::test]
async fn fifty_concurrent_creates_of_one_slug_give_one_201_and_49_slug_taken() {
    let app = app().await;
    let slug = unique_slug("race");
    let body = json!({"name": "Race", "slug": slug});

    let responses = join_all((0..50).map(|_| app.call("POST", "/api/v1/pages", Some(body.clone())))).await;

    // The burst must fit one key's rate limit, so it uses 50 of the 60 requests.
    let created = responses.iter().filter(|r| r.status == 201).count();
    let taken = responses.iter().filter(|r| r.status == 409 && r.code() == "slug_taken").count();
    assert_eq!(
        (created, taken),
        (1, 49),
        "{:?}",
        responses.iter().map(|r| (r.status, r.code().to_owned())).collect::<Vec<_>>()
    );
    let pages =
        app.org_items(app.org).await.into_iter().filter(|i| i["sk"].as_s().unwrap().starts_with("PAGE#")).count();
    assert_eq!(pages, 1);
}

#[tokio::test]
async fn a_renamed_pages_old_slug_is_free_again_and_the_new_one_is_taken() {
    let app = app().await;
    let (old, new) = (unique_slug("old"), unique_slug("new"));
    let page = create_page(&app, &old).await;
    let path = format!("/api/v1/pages/{}", page["id"].as_str().unwrap());

    let renamed = app.call("PATCH", &path, Some(json!({"slug": new}))).await;

    assert_eq!(renamed.expect(200).json["data"]["slug"], new.as_str());
    let (_, other_key) = app.new_org(Plan::Pro).await;
    app.call_as(&other_key, "POST", "/api/v1/pages", Some(json!({"name": "n", "slug": new})))
        .await
        .expect_error(409, "slug_taken");
    app.call_as(&other_key, "POST", "/api/v1/pages", Some(json!({"name": "n", "slug": old}))).await.expect(201);
}

#[tokio::test]
async fn renaming_to_a_taken_slug_answers_slug_taken_and_changes_nothing() {
    let app = app().await;
    let taken = unique_slug("taken");
    create_page(&app, &taken).await;
    let page = create_page(&app, &unique_slug("mine")).await;
    let path = format!("/api/v1/pages/{}", page["id"].as_str().unwrap());

    app.call("PATCH", &path, Some(json!({"slug": taken, "name": "Changed"}))).await.expect_error(409, "slug_taken");

    assert_eq!(app.call("GET", &path, None).await.json["data"], page);
    assert!(app.item_exists(&format!("SLUG#{}", page["slug"].as_str().unwrap()), "SLUG").await);
}

#[tokio::test]
async fn every_pages_route_answers_404_for_another_orgs_page_exactly_like_a_random_id() {
    let app = app().await;
    let foreign = create_page(&app, &unique_slug("foreign")).await;
    let (_, other_key) = app.new_org(Plan::Business).await;
    let random = uuid::Uuid::now_v7();

    for (method, body) in [("GET", None), ("PATCH", Some(json!({"name": "x"}))), ("DELETE", None)] {
        let theirs = app
            .call_as(&other_key, method, &format!("/api/v1/pages/{}", foreign["id"].as_str().unwrap()), body.clone())
            .await;
        let missing = app.call_as(&other_key, method, &format!("/api/v1/pages/{random}"), body).await;
        theirs.expect_error(404, "not_found");
        missing.expect_error(404, "not_found");
        assert_eq!(theirs.json["error"]["message"], missing.json["error"]["message"], "{method}");
    }
    let still = app.call("GET", &format!("/api/v1/pages/{}", foreign["id"].as_str().unwrap()), None).await;
    assert_eq!(still.expect(200).json["data"], foreign);
}

#[tokio::test]
async fn a_free_organizations_second_page_gets_403_plan_limit() {
    let app = TestApp::with_plan(livestatus_pages::router, Plan::Free).await;
    create_page(&app, &unique_slug("free")).await;

    let r = app.call("POST", "/api/v1/pages", Some(json!({"name": "Second", "slug": unique_slug("free2")}))).await;

    r.expect_error(403, "plan_limit");
    assert_eq!(app.call("GET", "/api/v1/pages", None).await.json["meta"]["count"], 1);
}

#[tokio::test]
async fn deleting_a_page_frees_its_place_in_the_plan() {
    let app = TestApp::with_plan(livestatus_pages::router, Plan::Free).await;
    let page = create_page(&app, &unique_slug("first")).await;
    app.call("DELETE", &format!("/api/v1/pages/{}", page["id"].as_str().unwrap()), None).await.expect(204);

    create_page(&app, &unique_slug("again")).await;
}

#[tokio::test]
async fn deleting_a_page_with_many_items_leaves_nothing_of_it_in_the_table() {
    let app = app().await;
    let slug = unique_slug("cascade");
    let page = create_page(&app, &slug).await;
    let keep = create_page(&app, &unique_slug("keep")).await;
    let page_id = page["id"].as_str().unwrap();
    // 260 child items in the org partition, tagged with the page as services, incidents
    // and updates are (more than ten batches of 25, and more than one query page of keys).
    for i in 0..260 {
        app.store
            .client()
            .put_item()
            .table_name(app.store.table())
            .item("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{}", app.org)))
            .item("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("CHILD#{i:04}")))
            .item("pageId", aws_sdk_dynamodb::types::AttributeValue::S(page_id.to_owned()))
            .item("body", aws_sdk_dynamodb::types::AttributeValue::S("x".repeat(2000)))
            .send()
            .await
            .unwrap();
    }

    app.call("DELETE", &format!("/api/v1/pages/{page_id}"), None).await.expect(204);

    let left: Vec<_> = app
        .org_items(app.org)
        .await
        .into_iter()
        .filter(|i| {
            i.get("pageId").and_then(|v| v.as_s().ok()).map(String::as_str) == Some(page_id)
                || i["sk"].as_s().unwrap() == &format!("PAGE#{page_id}")
        })
        .collect();
    assert!(left.is_empty(), "{} items of the page remain", left.len());
    assert!(!app.item_exists(&format!("SLUG#{slug}"), "SLUG").await);
    let kept = app.call("GET", &format!("/api/v1/pages/{}", keep["id"].as_str().unwrap()), None).await;
    assert_eq!(kept.expect(200).json["data"], keep);
}

#[tokio::test]
async fn reading_a_page_costs_two_dynamodb_calls_in_all() {
    let app = app().await;
    let page = create_page(&app, &unique_slug("cost")).await;
    app.calls.reset();

    app.call("GET", &format!("/api/v1/pages/{}", page["id"].as_str().unwrap()), None).await.expect(200);

    assert_eq!(app.calls.calls(), ["UpdateItem", "GetItem"]);
}

#[tokio::test]
async fn creating_a_page_is_one_authentication_and_one_transaction() {
    let app = app().await;
    create_page(&app, &unique_slug("warm")).await;
    app.calls.reset();

    create_page(&app, &unique_slug("cost")).await;

    assert_eq!(app.calls.calls(), ["UpdateItem", "TransactWriteItems"]);
}
