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
        assert_eq!(op["x-scope-or"].as_str(), route.or.map(|s| s.as_str()), "{} {}", route.method, route.path);
        for status in ["401", "403", "429", "500", "503"] {
            assert!(op["responses"].get(status).is_some(), "{} {} documents {status}", route.method, route.path);
        }
    }
}

/// `template.yaml` as YAML.
fn template_yaml() -> serde_yaml::Value {
    serde_yaml::from_str(&template()).expect("template.yaml is YAML")
}

/// Whether a CloudFront path pattern (`*`: any characters, `?`: one) matches `path`.
fn cloudfront_matches(pattern: &[u8], path: &[u8]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            cloudfront_matches(&pattern[1..], path) || (!path.is_empty() && cloudfront_matches(pattern, &path[1..]))
        }
        (Some(b'?'), Some(_)) => cloudfront_matches(&pattern[1..], &path[1..]),
        (Some(p), Some(c)) if p == c => cloudfront_matches(&pattern[1..], &path[1..]),
        _ => false,
    }
}

fn names(list: &serde_yaml::Value) -> BTreeSet<String> {
    list.as_sequence().map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

#[test]
fn the_cdn_lets_every_route_of_the_table_through_with_its_methods_and_caches_only_get_and_head() {
    let yaml = template_yaml();
    let config = &yaml["Resources"]["Distribution"]["Properties"]["DistributionConfig"];
    let behaviours: Vec<&serde_yaml::Value> =
        config["CacheBehaviors"].as_sequence().expect("cache behaviours").iter().collect();
    let default = &config["DefaultCacheBehavior"];
    let mut problems = Vec::new();
    for route in ROUTES {
        // A concrete path of the route, as a reader sends it.
        let path = route.path.replace(['{', '}'], "");
        let behaviour = behaviours
            .iter()
            .find(|b| cloudfront_matches(b["PathPattern"].as_str().unwrap().as_bytes(), path.as_bytes()))
            .copied()
            .unwrap_or(default);
        let allowed = names(&behaviour["AllowedMethods"]);
        let mut methods = vec![route.method];
        if route.method == "GET" {
            methods.push("HEAD");
        }
        // Browsers send a preflight before a cross-origin call of any method but a simple one.
        methods.push("OPTIONS");
        for method in methods {
            if !allowed.contains(method) {
                problems.push(format!(
                    "{method} {} is refused by the behaviour {:?}",
                    route.path, behaviour["PathPattern"]
                ));
            }
        }
    }
    for behaviour in behaviours.iter().copied().chain([default]) {
        let cached = names(&behaviour["CachedMethods"]);
        assert!(cached.iter().all(|m| m == "GET" || m == "HEAD"), "only GET and HEAD are cached: {cached:?}");
    }
    assert!(problems.is_empty(), "routes the distribution would refuse:\n{}", problems.join("\n"));
}

#[test]
fn the_cdn_keys_its_caches_on_exactly_the_query_parameters_the_routes_read() {
    let yaml = template_yaml();
    let resources = &yaml["Resources"];
    for (policy, params) in [
        ("PublicCachePolicy", livestatus_shared::routes::STATUS_QUERY_PARAMS),
        ("CardCachePolicy", livestatus_shared::routes::CARD_QUERY_PARAMS),
    ] {
        let query = &resources[policy]["Properties"]["CachePolicyConfig"]["ParametersInCacheKeyAndForwardedToOrigin"]["QueryStringsConfig"];
        assert_eq!(query["QueryStringBehavior"].as_str(), Some("whitelist"), "{policy}");
        let expected: BTreeSet<String> = params.iter().map(|p| (*p).to_owned()).collect();
        assert_eq!(names(&query["QueryStrings"]), expected, "{policy}");
    }
    // The origin gets the cache key's parameters and no others.
    let origin = &resources["PublicOriginRequestPolicy"]["Properties"]["OriginRequestPolicyConfig"];
    assert_eq!(origin["QueryStringsConfig"]["QueryStringBehavior"].as_str(), Some("none"));
}

#[test]
fn the_cdn_proves_itself_to_the_origin_and_the_http_api_is_throttled() {
    let yaml = template_yaml();
    let resources = &yaml["Resources"];
    let origins = ["Distribution", "DomainsDistribution"]
        .iter()
        .flat_map(|d| resources[*d]["Properties"]["DistributionConfig"]["Origins"].as_sequence().unwrap());
    for origin in origins {
        let headers = origin["OriginCustomHeaders"].as_sequence().expect("origin custom headers");
        assert!(
            headers.iter().any(|h| h["HeaderName"].as_str().map(str::to_ascii_lowercase).as_deref()
                == Some(livestatus_shared::http::ORIGIN_VERIFY_HEADER)),
            "{origin:?}"
        );
    }
    let status_env = &resources["StatusFunction"]["Properties"]["Environment"]["Variables"];
    assert!(!status_env["ORIGIN_VERIFY_SECRET"].is_null(), "the status function knows the CDN's proof");
    let throttle = &resources["HttpApi"]["Properties"]["DefaultRouteSettings"];
    assert!(!throttle["ThrottlingRateLimit"].is_null() && !throttle["ThrottlingBurstLimit"].is_null());
}

#[test]
fn the_keyless_status_function_gets_the_link_key_and_never_the_sealing_key() {
    let yaml = template_yaml();
    let resources = yaml["Resources"].as_mapping().unwrap();
    let status = &yaml["Resources"]["StatusFunction"]["Properties"]["Environment"]["Variables"];
    assert!(status["SECRETS_KEY"].is_null(), "the status function must not hold the key of webhook secrets");
    assert!(!status["LINK_TOKEN_KEY"].is_null());
    // Every function that makes links (in email) signs them with the same key.
    for (name, resource) in resources {
        let env = &resource["Properties"]["Environment"]["Variables"];
        if !env["SECRETS_KEY"].is_null() {
            assert!(!env["LINK_TOKEN_KEY"].is_null(), "{name:?} seals secrets but cannot sign links");
        }
    }
}

#[test]
fn every_function_that_sends_email_may_send_only_from_the_configured_sender() {
    let yaml = template_yaml();
    let mut senders = 0;
    for (name, resource) in yaml["Resources"].as_mapping().unwrap() {
        let Some(policies) = resource["Properties"]["Policies"].as_sequence() else { continue };
        for statement in policies.iter().filter_map(|p| p["Statement"].as_sequence()).flatten() {
            if !names(&statement["Action"]).iter().any(|a| a.starts_with("ses:")) {
                continue;
            }
            senders += 1;
            assert_eq!(names(&statement["Action"]), BTreeSet::from(["ses:SendEmail".to_owned()]), "{name:?}");
            let from = &statement["Condition"]["StringEquals"]["ses:FromAddress"];
            let serde_yaml::Value::Tagged(tagged) = from else { panic!("{name:?}: no ses:FromAddress condition") };
            assert_eq!(tagged.tag, "!Ref", "{name:?}");
            assert_eq!(tagged.value.as_str(), Some("EmailFrom"), "{name:?}");
        }
    }
    assert_eq!(senders, 3, "the notifications API, the notifier and the scheduler send email");
}

#[test]
fn custom_domains_are_served_by_a_multi_tenant_distribution_through_the_apis_default_route() {
    let yaml = template_yaml();
    let resources = &yaml["Resources"];
    let config = &resources["DomainsDistribution"]["Properties"]["DistributionConfig"];
    assert_eq!(config["ConnectionMode"].as_str(), Some("tenant-only"));
    let behaviour = &config["DefaultCacheBehavior"];
    assert_eq!(behaviour["ViewerProtocolPolicy"].as_str(), Some("redirect-to-https"));
    assert!(
        format!("{:?}", behaviour["FunctionAssociations"]).contains("ForwardedHostFunction"),
        "the status function learns the reader's host"
    );
    // The default route (no Path, no Method) of the HTTP API goes to the status function.
    let route = &resources["StatusFunction"]["Properties"]["Events"]["DomainRoot"];
    assert_eq!(route["Type"].as_str(), Some("HttpApi"));
    assert!(route["Properties"]["Path"].is_null() && route["Properties"]["Method"].is_null());
    // The scheduler makes the tenants; the pages function names the CNAME target.
    let scheduler = &resources["SchedulerFunction"]["Properties"]["Environment"]["Variables"];
    assert!(!scheduler["CDN_DISTRIBUTION_ID"].is_null() && !scheduler["CDN_CONNECTION_GROUP_ID"].is_null());
    let pages = &resources["PagesFunction"]["Properties"]["Environment"]["Variables"];
    assert!(format!("{:?}", pages["DOMAIN_CNAME_TARGET"]).contains("DomainsConnectionGroup.RoutingEndpoint"));
}
