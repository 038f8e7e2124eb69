//! Store failures: DynamoDB Local (on disk, so it remembers) is stopped in the middle of a
//! burst of writes and started again. Writes during the outage answer 503
//! `service_unavailable` with `Retry-After`; every write that answered 2xx is there
//! afterwards; nothing is orphaned or half-written. Its own binary: it runs its own
//! DynamoDB Local, which it stops.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use livestatus_shared::AppState;
use livestatus_shared::clock::SystemClock;
use livestatus_shared::domain::Plan;
use livestatus_shared::store::Store;
use livestatus_shared::store::api_keys::NewKey;
use livestatus_shared::store::write::Write;
use livestatus_tests::{TestResponse, all_routes, unique_slug};
use serde_json::json;

/// A DynamoDB Local of this test's own, on disk.
struct Local {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl Local {
    fn start(port: u16, dir: std::path::PathBuf) -> Self {
        let mut local = Self { port, dir, child: None };
        local.restart();
        local
    }

    fn restart(&mut self) {
        let jar_dir = std::env::var("DDB_JAR_DIR").expect("DDB_JAR_DIR is set by ./infra/test.sh");
        let child = Command::new("java")
            .arg(format!("-Djava.library.path={jar_dir}/DynamoDBLocal_lib"))
            .args(["-jar", &format!("{jar_dir}/DynamoDBLocal.jar"), "-sharedDb", "-disableTelemetry", "-port"])
            .arg(self.port.to_string())
            .arg("-dbPath")
            .arg(&self.dir)
            .env("DDB_LOCAL_TELEMETRY", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start DynamoDB Local");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "DynamoDB Local did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops it as an operator would (SIGTERM), mid-burst. A SIGKILL loses writes it
    /// had acknowledged: DynamoDB Local does not sync its SQLite file on each write
    /// (DynamoDB itself acknowledges only durable writes), which would test DynamoDB
    /// Local, not this service.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_during_an_outage_answer_503_and_every_acknowledged_write_survives_whole() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("livestatus-faults-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut local = Local::start(port, dir);
    let config = livestatus_shared::store::client_config().await;
    let store = Store::new(aws_sdk_dynamodb::Client::from_conf(config), "faults")
        .with_endpoint(&format!("http://127.0.0.1:{port}"));
    store.ensure_table().await.unwrap();
    let org = store.create_org("Faults".into(), Plan::Business, "2026-11-22T00:00:00.000Z").await.unwrap().id;
    let (_, key) = store
        .create_key(
            &Write::new(
                org,
                livestatus_shared::store::events::Actor::operator(),
                "2026-11-22T00:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap(),
            ),
            NewKey { name: "burst".into(), scopes: &[], expires_at: None, rate_limit: 1_000_000 },
        )
        .await
        .unwrap();
    let app = livestatus_tests::TestApp::from_parts(
        all_routes(AppState { clock: Arc::new(SystemClock), ..AppState::new(store.clone()) }),
        store.clone(),
        org,
        key.expose(),
    );
    let page = app.page().await;

    // A burst of writes from 4 clients: services, incidents (incident + first update),
    // updates (update + incident status) and new pages (page + slug + count).
    let outage_at = 60;
    let total = 240;
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    let app = Arc::new(app);
    for w in 0..4 {
        let (app, page, started) = (app.clone(), page.clone(), started.clone());
        workers.push(tokio::spawn(async move {
            let mut results: Vec<(String, String, TestResponse)> = Vec::new();
            let mut incident: Option<String> = None;
            loop {
                let n = started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n >= total {
                    return results;
                }
                // One page in eight keeps the burst under the business plan's 100 pages.
                let (kind, path, body) = match (n + w) % 8 {
                    1 | 5 => (
                        "incident",
                        format!("/api/v1/pages/{page}/incidents"),
                        json!({"title": format!("inc {n}"), "impact": "minor", "status": "investigating", "body": "b"}),
                    ),
                    2 | 6 if incident.is_some() => (
                        "update",
                        format!("/api/v1/incidents/{}/updates", incident.as_ref().unwrap()),
                        json!({"body": format!("upd {n}")}),
                    ),
                    3 => ("page", "/api/v1/pages".to_owned(), json!({"name": "p", "slug": unique_slug("fault")})),
                    _ => ("service", format!("/api/v1/pages/{page}/services"), json!({"name": format!("svc {n}")})),
                };
                let r = app.call("POST", &path, Some(body)).await;
                if kind == "incident" && r.status == 201 {
                    incident = r.json["data"]["id"].as_str().map(str::to_owned);
                }
                results.push((kind.to_owned(), path, r));
            }
        }));
    }
    // Stop the store once the burst is under way, keep it down a while, start it again.
    while started.load(std::sync::atomic::Ordering::SeqCst) < outage_at {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    local.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    local.restart();
    let mut results = Vec::new();
    for w in workers {
        results.extend(w.await.unwrap());
    }

    let ok: Vec<_> = results.iter().filter(|(_, _, r)| r.status == 201).collect();
    let unavailable: Vec<_> = results.iter().filter(|(_, _, r)| r.status == 503).collect();
    assert_eq!(
        ok.len() + unavailable.len(),
        results.len(),
        "only 201 or 503: {:?}",
        results.iter().map(|(_, _, r)| (r.status, r.code().to_owned())).collect::<Vec<_>>()
    );
    assert!(unavailable.len() >= 4, "the outage was felt ({} × 503)", unavailable.len());
    assert!(ok.len() >= 60, "writes succeeded before and after ({} × 201)", ok.len());
    for (_, _, r) in &unavailable {
        r.expect_error(503, "service_unavailable");
        assert!(r.header("retry-after").is_some());
    }

    // Every acknowledged write is there.
    for (kind, _, r) in &ok {
        let id = r.json["data"]["id"].as_str().unwrap();
        let path = match kind.as_str() {
            "service" => format!("/api/v1/services/{id}"),
            "incident" => format!("/api/v1/incidents/{id}"),
            "page" => format!("/api/v1/pages/{id}"),
            _ => continue,
        };
        app.call("GET", &path, None).await.expect(200);
    }
    let mut updates_seen = std::collections::HashSet::new();
    let items = app.org_items(org).await;
    for item in &items {
        let sk = item["sk"].as_s().unwrap();
        if let Some(rest) = sk.strip_prefix("INCIDENT#").filter(|r| r.contains("#UPDATE#")) {
            updates_seen.insert(rest.split("#UPDATE#").nth(1).unwrap().to_owned());
        }
    }
    for (kind, _, r) in &ok {
        if kind == "update" {
            assert!(updates_seen.contains(r.json["data"]["id"].as_str().unwrap()), "an acknowledged update is missing");
        }
    }

    // Nothing orphaned or half-written: every incident has its first update, every child
    // points at a page that exists, every page has its slug, and the page count is right.
    let pages: Vec<_> = items.iter().filter(|i| i["sk"].as_s().unwrap().starts_with("PAGE#")).collect();
    let page_ids: std::collections::HashSet<_> = pages.iter().map(|p| p["id"].as_s().unwrap().clone()).collect();
    for item in &items {
        if let Some(page_id) = item.get("pageId").and_then(|p| p.as_s().ok()) {
            assert!(page_ids.contains(page_id), "orphan {}", item["sk"].as_s().unwrap());
        }
        let sk = item["sk"].as_s().unwrap();
        if sk.starts_with("INCIDENT#") && !sk.contains("#UPDATE#") {
            assert!(
                items.iter().any(|u| u["sk"].as_s().unwrap().starts_with(&format!("{sk}#UPDATE#"))),
                "incident without its first update"
            );
        }
    }
    for p in &pages {
        let slug = p["slug"].as_s().unwrap();
        assert!(app.item_exists(&format!("SLUG#{slug}"), "SLUG").await, "page without its slug");
    }
    // No slug claim without its page (a test may scan: slugs live outside the org).
    let claims = store
        .client()
        .scan()
        .table_name(store.table())
        .filter_expression("begins_with(pk, :slug) AND orgId = :org")
        .expression_attribute_values(":slug", aws_sdk_dynamodb::types::AttributeValue::S("SLUG#".into()))
        .expression_attribute_values(":org", aws_sdk_dynamodb::types::AttributeValue::S(org.to_string()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(claims.len(), pages.len(), "one slug claim per page");
    for claim in &claims {
        assert!(page_ids.contains(claim["pageId"].as_s().unwrap()), "a slug claim without its page");
    }
    let org_item = store.get_org(org).await.unwrap().unwrap();
    assert_eq!(org_item.page_count as usize, pages.len(), "page count matches the pages");
    println!("fault burst: {} writes, {} × 201, {} × 503", results.len(), ok.len(), unavailable.len());
}
