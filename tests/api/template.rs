//! `template.yaml` against the code: the same routes as the route table (which the local
//! server serves) and the same table definition as the one the code creates.

use std::collections::BTreeSet;

use livestatus_shared::routes::ROUTES;
use livestatus_tests::TestApp;

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).expect("template.yaml")
}

/// (binary, method, path) of every `HttpApi` event, read line by line: each function's
/// `Binary:` comes before its `Events:`, and each event's `Method:` before its `Path:`.
fn template_routes() -> BTreeSet<(String, String, String)> {
    let mut routes = BTreeSet::new();
    let (mut binary, mut method) = (String::new(), String::new());
    for line in template().lines() {
        let line = line.trim();
        if let Some(b) = line.strip_prefix("Binary: ") {
            binary = b.to_owned();
        } else if let Some(m) = line.strip_prefix("Method: ") {
            method = m.to_owned();
        } else if let Some(p) = line.strip_prefix("Path: ") {
            routes.insert((binary.clone(), std::mem::take(&mut method), p.to_owned()));
        }
    }
    routes
}

#[test]
fn the_template_routes_each_route_of_the_route_table_to_its_function_and_nothing_else() {
    let mut expected: BTreeSet<_> =
        ROUTES.iter().map(|r| (r.group.binary().to_owned(), r.method.to_owned(), r.path.to_owned())).collect();
    // HTTP APIs do not answer HEAD from a GET route: the generator's HEAD is its own route.
    expected.insert(("og-ad".into(), "HEAD".into(), "/api/og/ad".into()));
    expected.insert(("status".into(), "HEAD".into(), "/status/{slug}".into()));
    let (group, method, path) = livestatus_shared::routes::PREFLIGHT_ROUTE;
    expected.insert((group.binary().into(), method.into(), path.into()));

    assert_eq!(template_routes(), expected);
}

#[tokio::test]
async fn the_local_server_serves_every_route_of_the_table() {
    let app = TestApp::all().await;
    for route in ROUTES {
        let path = route
            .path
            .replace(['{', '}'], "")
            .replace("pageId", "0")
            .replace("serviceId", "0")
            .replace("incidentId", "0")
            .replace("keyId", "0");
        let r = app.call(route.method, &path, None).await;
        let no_route = r.status == 404 && r.json["error"]["message"] == "No such route.";
        assert!(
            !no_route && r.status != 405 && r.status != 500,
            "{} {}: {} {}",
            route.method,
            route.path,
            r.status,
            r.json
        );
        app.next_window();
    }
}

#[tokio::test]
async fn the_template_table_has_the_key_schema_index_and_ttl_the_code_creates() {
    let app = TestApp::all().await;
    let template = template();
    let table = app.store.client().describe_table().table_name(app.store.table()).send().await.unwrap().table.unwrap();
    let ttl = app.store.client().describe_time_to_live().table_name(app.store.table()).send().await.unwrap();

    for key in table.key_schema() {
        let line = format!("{{ AttributeName: {}, KeyType: {} }}", key.attribute_name(), key.key_type().as_str());
        assert!(template.contains(&line), "template lacks {line}");
    }
    for attr in table.attribute_definitions() {
        let line = format!(
            "{{ AttributeName: {}, AttributeType: {} }}",
            attr.attribute_name(),
            attr.attribute_type().as_str()
        );
        assert!(template.contains(&line), "template lacks {line}");
    }
    let gsis = table.global_secondary_indexes();
    assert_eq!(gsis.len(), 2);
    for gsi in gsis {
        assert!(template.contains(&format!("IndexName: {}", gsi.index_name().unwrap())));
        for key in gsi.key_schema() {
            assert!(template.contains(&format!(
                "{{ AttributeName: {}, KeyType: {} }}",
                key.attribute_name(),
                key.key_type().as_str()
            )));
        }
    }
    let ttl_attr = ttl.time_to_live_description().and_then(|t| t.attribute_name()).unwrap();
    assert!(
        template
            .contains(&format!("TimeToLiveSpecification:\n        AttributeName: {ttl_attr}\n        Enabled: true"))
    );
    assert_eq!(template.matches("AttributeName: ").count(), 6 + 2 + 2 + 2 + 1, "no attribute the code does not define");
}

#[tokio::test]
async fn the_openapi_document_is_served_and_describes_exactly_the_routes_of_the_table() {
    let app = TestApp::all().await;

    let r = app.call_as("", "GET", "/api/v1/openapi.json", None).await;

    r.expect(200);
    assert_eq!(r.json["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in r.json["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys().filter(|m| *m != "parameters") {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<_> = ROUTES.iter().map(|r| (r.method.to_owned(), r.path.to_owned())).collect();
    assert_eq!(documented, routed);
    for route in ROUTES.iter().filter(|r| r.scope.is_some()) {
        let op = &r.json["paths"][route.path][route.method.to_lowercase()];
        assert_eq!(op["x-scope"], route.scope.unwrap().as_str(), "{} {}", route.method, route.path);
        for status in ["401", "403", "429", "500", "503"] {
            assert!(op["responses"].get(status).is_some(), "{} {} documents {status}", route.method, route.path);
        }
    }
}
