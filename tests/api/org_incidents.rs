//! `GET /api/v1/incidents`: the organization's incidents across its pages, newest first,
//! paged by cursor, filtered by status, open and page, in one query per page of results.

use livestatus_shared::domain::Plan;
use livestatus_shared::store::write::Write;
use livestatus_tests::TestApp;
use serde_json::{Value, json};

/// Follows `nextCursor` from `first` to the end; returns the ids and the number of pages.
async fn all_pages(app: &TestApp, first: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut url = first.to_owned();
    loop {
        let r = app.call("GET", &url, None).await;
        let body = &r.expect(200).json;
        pages += 1;
        let data = body["data"].as_array().unwrap();
        assert_eq!(body["meta"]["count"], data.len());
        ids.extend(data.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match body["meta"]["nextCursor"].as_str() {
            Some(cursor) => {
                let sep = if first.contains('?') { '&' } else { '?' };
                url = format!("{first}{sep}cursor={cursor}");
            }
            None => return (ids, pages),
        }
        assert!(pages < 20, "paging does not end");
    }
}

#[tokio::test]
async fn the_org_wide_list_pages_through_120_incidents_of_three_pages_newest_first_with_each_filter() {
    let app = TestApp::all().await;
    let pages = [app.page().await, app.page().await, app.page().await];
    // 120 incidents, round-robin over the pages; every third resolved, every fifth identified.
    let mut created: Vec<(String, String, String)> = Vec::new();
    for i in 0..120 {
        let page = &pages[i % 3];
        let status = if i % 3 == 0 {
            "resolved"
        } else if i % 5 == 0 {
            "identified"
        } else {
            "investigating"
        };
        let r = app
            .call(
                "POST",
                &format!("/api/v1/pages/{page}/incidents"),
                Some(json!({"title": format!("Incident {i}"), "impact": "minor", "status": status, "body": "b"})),
            )
            .await;
        created.push((r.expect(201).json["data"]["id"].as_str().unwrap().to_owned(), page.clone(), status.to_owned()));
        if i % 40 == 39 {
            app.next_window();
        }
    }
    created.reverse();
    let expect = |keep: &dyn Fn(&(String, String, String)) -> bool| -> Vec<String> {
        created.iter().filter(|c| keep(c)).map(|c| c.0.clone()).collect()
    };
    app.next_window();

    let (ids, count) = all_pages(&app, "/api/v1/incidents?limit=50").await;
    assert_eq!(ids, expect(&|_| true), "all 120, newest first");
    assert_eq!(count, 3, "120 incidents at 50 a page are three pages");

    let (ids, _) = all_pages(&app, "/api/v1/incidents?limit=50&open=true").await;
    assert_eq!(ids, expect(&|c| c.2 != "resolved"));
    assert_eq!(ids.len(), 80);
    app.next_window();
    let (ids, _) = all_pages(&app, "/api/v1/incidents?limit=50&open=false").await;
    assert_eq!(ids, expect(&|c| c.2 == "resolved"));
    let (ids, _) = all_pages(&app, "/api/v1/incidents?limit=7&status=identified").await;
    assert_eq!(ids, expect(&|c| c.2 == "identified"));
    assert!(!ids.is_empty());
    app.next_window();
    let (ids, count) = all_pages(&app, &format!("/api/v1/incidents?limit=30&pageId={}", pages[1])).await;
    assert_eq!(ids, expect(&|c| c.1 == pages[1]));
    assert_eq!(count, 2, "40 incidents of one page at 30 a page");
    let (ids, _) =
        all_pages(&app, &format!("/api/v1/incidents?pageId={}&open=true&status=investigating", pages[2])).await;
    assert_eq!(ids, expect(&|c| c.1 == pages[2] && c.2 == "investigating"));
}

#[tokio::test]
async fn the_org_wide_list_is_one_query_whatever_the_number_of_pages() {
    let app = TestApp::all().await;
    for _ in 0..4 {
        let page = app.page().await;
        app.call(
            "POST",
            &format!("/api/v1/pages/{page}/incidents"),
            Some(json!({"title": "t", "impact": "minor", "status": "investigating", "body": "b"})),
        )
        .await
        .expect(201);
    }
    app.next_window();
    app.call("GET", "/api/v1/incidents", None).await.expect(200);
    app.calls.reset();

    let r = app.call("GET", "/api/v1/incidents", None).await;

    assert_eq!(r.expect(200).json["data"].as_array().unwrap().len(), 4);
    assert_eq!(app.calls.calls(), ["UpdateItem", "Query"], "authentication, then one query of GSI2");
}

#[tokio::test]
async fn the_org_wide_list_shows_only_the_callers_organization() {
    let app = TestApp::all().await;
    let (_, other_key) = app.new_org(Plan::Business).await;
    let page = app.page().await;
    app.call(
        "POST",
        &format!("/api/v1/pages/{page}/incidents"),
        Some(json!({"title": "ours", "impact": "minor", "status": "investigating", "body": "b"})),
    )
    .await
    .expect(201);

    let theirs = app.call_as(&other_key, "GET", "/api/v1/incidents", None).await;
    assert_eq!(theirs.expect(200).json["data"], json!([]));
    let filtered = app.call_as(&other_key, "GET", &format!("/api/v1/incidents?pageId={page}"), None).await;
    filtered.expect_error(404, "not_found");
}

#[tokio::test]
async fn bad_filters_and_cursors_of_the_org_wide_list_are_named_400s() {
    let app = TestApp::all().await;
    let page = app.page().await;
    let cases: [(&str, &str); 5] = [
        ("/api/v1/incidents?status=closed", "status"),
        ("/api/v1/incidents?open=yes", "open"),
        ("/api/v1/incidents?pageId=nope", "pageId"),
        ("/api/v1/incidents?colour=red", "colour"),
        ("/api/v1/incidents?limit=0", "limit"),
    ];
    for (url, field) in cases {
        let r = app.call("GET", url, None).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains(field), "{url}: {}", r.json);
    }
    // A cursor of one page's list is not a cursor of the org-wide list.
    for i in 0..3 {
        app.call(
            "POST",
            &format!("/api/v1/pages/{page}/incidents"),
            Some(json!({"title": format!("t{i}"), "impact": "minor", "status": "investigating", "body": "b"})),
        )
        .await
        .expect(201);
    }
    let first = app.call("GET", &format!("/api/v1/incidents?limit=1&pageId={page}"), None).await;
    let cursor = first.json["meta"]["nextCursor"].as_str().unwrap().to_owned();
    let r = app.call("GET", &format!("/api/v1/incidents?limit=1&cursor={cursor}"), None).await;
    r.expect_error(400, "invalid_request");
    let _: &Value = &r.json;
}

#[tokio::test]
async fn a_table_from_before_gsi2_gets_the_index_and_its_old_incidents_and_updates_indexed_on_ensure_table() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType,
    };
    use livestatus_shared::domain::{Impact, IncidentStatus, Slug};
    use livestatus_shared::store::Store;
    use livestatus_shared::store::incidents::{IncidentFilter, NewIncident};
    use livestatus_shared::store::pages::NewPage;

    // Arrange: a table with the first wave's schema (GSI1 only) and an incident written
    // the first wave's way (no GSI2 keys).
    let client = livestatus_tests::client(None).await;
    let table = format!("livestatus-old-{}", uuid::Uuid::new_v4().simple());
    let attr = |n: &str| {
        AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().unwrap()
    };
    let key = |n: &str, k: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(k).build().unwrap();
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(["pk", "sk", "gsi1pk", "gsi1sk"].map(attr).to_vec()))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("gsi1")
                .key_schema(key("gsi1pk", KeyType::Hash))
                .key_schema(key("gsi1sk", KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let store = Store::new(client.clone(), &table);
    let now = "2026-11-22T10:00:00.000Z";
    let at = now.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    let org = store.create_org("Old".into(), livestatus_shared::domain::Plan::Pro, now).await.unwrap().id;
    let page = uuid::Uuid::now_v7();
    let new_page = NewPage {
        id: page,
        name: "Old page".into(),
        slug: Slug::parse(&livestatus_tests::unique_slug("old")).unwrap(),
        description: None,
        brand_color: None,
        is_public: true,
        auto_incidents: false,
    };
    store
        .create_page(&Write::new(org, livestatus_shared::store::events::Actor::operator(), at), new_page)
        .await
        .unwrap();
    let incident = NewIncident {
        id: uuid::Uuid::now_v7(),
        title: "Written before GSI2".into(),
        impact: Impact::Minor,
        status: IncidentStatus::Investigating,
        body: "b".into(),
        affected_service_ids: vec![],
        notify_subscribers: true,
    };
    let id = incident.id;
    store
        .create_incident(&Write::new(org, livestatus_shared::store::events::Actor::operator(), at), page, incident)
        .await
        .unwrap();
    client
        .update_item()
        .table_name(&table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{org}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("INCIDENT#{id}")))
        .update_expression("REMOVE gsi2pk, gsi2sk")
        .send()
        .await
        .unwrap();
    // Its opening update as written before updates had GSI1 keys (the public pages').
    let updates = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{org}")))
        .expression_attribute_values(
            ":prefix",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("INCIDENT#{id}#UPDATE#")),
        )
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    assert_eq!(updates.len(), 1);
    client
        .update_item()
        .table_name(&table)
        .key("pk", updates[0]["pk"].clone())
        .key("sk", updates[0]["sk"].clone())
        .update_expression("REMOVE gsi1pk, gsi1sk")
        .send()
        .await
        .unwrap();
    assert!(store.page_incident_updates(org, page, id, id).await.unwrap().is_empty());

    // Act: what the local run does at start.
    let created = store.ensure_table().await.unwrap();

    // Assert
    assert!(!created);
    let described = client.describe_table().table_name(&table).send().await.unwrap().table.unwrap();
    let indexes: Vec<_> = described.global_secondary_indexes().iter().filter_map(|i| i.index_name()).collect();
    assert_eq!(indexes.len(), 2, "{indexes:?}");
    let listed = store.list_org_incidents(org, &IncidentFilter::default(), 50, None).await.unwrap();
    assert_eq!(listed.items.iter().map(|i| i.id).collect::<Vec<_>>(), [id]);
    let timeline = store.page_incident_updates(org, page, id, id).await.unwrap();
    assert_eq!(timeline[&id].len(), 1, "the old update is on the public page's index too");
    assert!(!store.ensure_table().await.unwrap(), "a second start changes nothing");
    client.delete_table().table_name(&table).send().await.unwrap();
}
