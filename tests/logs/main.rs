//! Secrets stay secret: after creating and using keys through the API, no key plaintext
//! is in any log line (captured at TRACE, SDK included) or in any item of the table.
//! Its own binary, because it installs a process-wide log subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use livestatus_tests::TestApp;
use serde_json::json;

async fn create_key(app: &TestApp, key: &str, body: serde_json::Value) -> livestatus_tests::TestResponse {
    app.call_as(key, "POST", "/api/v1/keys", Some(body)).await
}

/// A writer the test's subscriber logs into.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_key_plaintext_appears_in_any_log_line_or_stored_item() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).finish();
    // Global: the service logs from whatever thread runs it. This binary holds only this
    // test, so nothing else logs into the capture.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let app = TestApp::all().await;
    let mut plaintexts = vec![app.key.clone()];

    for i in 0..3 {
        let r = create_key(&app, &app.key, json!({"name": format!("k{i}")})).await;
        let key = r.expect(201).json["data"]["key"].as_str().unwrap().to_owned();
        app.call_as(&key, "GET", "/api/v1/pages", None).await.expect(200);
        app.call_as(&key, "POST", "/api/v1/pages", Some(json!({"name": "n", "slug": "x"}))).await.expect(400);
        plaintexts.push(key);
    }
    app.call("DELETE", &format!("/api/v1/keys/{}", uuid::Uuid::now_v7()), None).await.expect(404);

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("request served"), "the capture saw the service's logs: {}", &logs[..logs.len().min(2000)]);
    let mut items = Vec::new();
    let mut start = None;
    loop {
        // A test may scan: it checks the whole table, not one org's partition.
        let out = app
            .store
            .client()
            .scan()
            .table_name(app.store.table())
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    let table = format!("{items:?}");
    for key in &plaintexts {
        let secret = &key[12..];
        assert!(!logs.contains(secret), "a key appears in the logs");
        assert!(!table.contains(secret), "a key appears in the table");
    }
}
