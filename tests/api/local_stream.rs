//! The local run's stream poller over DynamoDB Local's real stream, with everything else
//! at work in the same table (a linked monitor checked by the scheduler's tick): events
//! reach a real receiver, in order per page; an item the SDK's parser cannot read stalls
//! nothing; an event whose fan-out keeps failing is set aside and replayed later.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use livestatus_local::background::{Pacing, poll_stream};
use livestatus_notifications::stream::replay_set_aside;
use livestatus_shared::AppState;
use livestatus_shared::clock::Clock;
use livestatus_shared::store::Store;
use livestatus_shared::store::streams::Position;
use livestatus_tests::{CallCounter, TestApp, client};
use serde_json::{Value, json};

use crate::webhooks::{Receiver, Reply, tick};

/// Quick pacing: these tests wait for a real poller, so it should not dawdle.
fn quick() -> Pacing {
    Pacing {
        idle: Duration::from_millis(20),
        attempts: 3,
        retry: Duration::from_millis(10),
        discover: Duration::from_millis(200),
    }
}

/// The poller, on the test's runtime, until the guard is dropped.
struct Poller(tokio::task::JoinHandle<()>);

impl Poller {
    fn start(state: AppState) -> Self {
        Self(tokio::spawn(poll_stream(state, quick())))
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits (up to 30 s) until `done` holds, polling every 50 ms; the poller is a real
/// background task, so its results are waited for, not assumed.
async fn eventually<F: Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    for _ in 0..600 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

/// The event types the receiver got, in order, with their `data`.
fn received_events(receiver: &Receiver) -> Vec<(String, Value)> {
    receiver
        .received()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).unwrap();
            (body["type"].as_str().unwrap_or_default().to_owned(), body["data"].clone())
        })
        .collect()
}

async fn webhook_to(app: &TestApp, receiver: &Receiver, events: &[&str]) {
    let r = app
        .call("POST", "/api/v1/webhooks", Some(json!({"url": format!("{}/hook", receiver.base), "events": events})))
        .await;
    r.expect(201);
}

async fn incident(app: &TestApp, page: &str, title: &str) -> String {
    let r = app
        .call(
            "POST",
            &format!("/api/v1/pages/{page}/incidents"),
            Some(json!({"title": title, "impact": "minor", "status": "investigating", "body": "Looking."})),
        )
        .await;
    r.expect(201).json["data"]["id"].as_str().unwrap().to_owned()
}

/// An item that is not an event, with an empty map: the SDK's stream parser fails on the
/// whole page that holds it (DynamoDB Local renders the map as `{}`).
async fn put_item_with_empty_map(app: &TestApp) {
    app.store
        .client()
        .put_item()
        .table_name(app.store.table())
        .item("pk", AttributeValue::S(format!("TEST#{}", app.org)))
        .item("sk", AttributeValue::S("EMPTY".into()))
        .item("empty", AttributeValue::M(Default::default()))
        .send()
        .await
        .unwrap();
}

/// Whether any record of the table's stream so far has an empty map in its new image
/// (`{}` as DynamoDB Local renders it, `{"M": {}}` as DynamoDB does).
async fn stream_has_an_empty_map(app: &TestApp) -> Option<String> {
    fn empty_inside(value: &Value) -> bool {
        match value {
            Value::Object(m) => {
                m.is_empty() || m.get("M").is_some_and(|v| v == &json!({})) || m.values().any(empty_inside)
            }
            Value::Array(a) => a.iter().any(empty_inside),
            _ => false,
        }
    }
    let stream = app.store.stream_arn().await.unwrap().expect("the table has a stream");
    let mut found = None;
    for shard in app.store.stream_shards(&stream).await.unwrap() {
        let Some(mut iterator) = app.store.stream_iterator(&stream, &shard.id, &Position::Oldest).await.unwrap() else {
            continue;
        };
        loop {
            let page = app.store.stream_records(&iterator).await.unwrap();
            if let Some(r) = page.records.iter().find(|r| r.0.pointer("/dynamodb/NewImage").is_some_and(empty_inside)) {
                found.get_or_insert(r.0.to_string());
            }
            match page.next {
                Some(next) if !page.records.is_empty() => iterator = next,
                _ => break,
            }
        }
    }
    found
}

#[tokio::test]
async fn notifications_keep_flowing_while_a_linked_monitor_is_at_work() {
    // Arrange: a page whose service has a linked monitor, checked once by the tick (its
    // state item is written), an item with an empty map, and a webhook.
    let app = TestApp::isolated().await;
    let target = Receiver::start(|_, _| Reply::Status(200)).await;
    let receiver = Receiver::start(|_, _| Reply::Status(204)).await;
    let page = app.page().await;
    let r = app
        .call(
            "POST",
            &format!("/api/v1/pages/{page}/services"),
            Some(json!({"name": "API", "monitorUrl": format!("{}/health", target.base)})),
        )
        .await;
    r.expect(201);
    let _poller = Poller::start(app.state.clone());
    assert_eq!(tick(&app).await.checks, 1, "the linked monitor is checked");
    let empty = stream_has_an_empty_map(&app).await;
    assert!(empty.is_none(), "the monitor's first check wrote no empty map: {empty:?}");
    put_item_with_empty_map(&app).await;
    webhook_to(&app, &receiver, &["incident.created", "incident.updated"]).await;

    // Act: an incident, then a second tick and another incident.
    let first = incident(&app, &page, "Latency").await;
    app.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(tick(&app).await.checks, 1);
    let second = incident(&app, &page, "Errors").await;

    // Assert: both reach the receiver, in order.
    eventually("both incidents reach the receiver", || async { receiver.count() >= 2 }).await;
    let got: Vec<String> =
        received_events(&receiver).iter().map(|(_, d)| d["incident"]["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(got, [first, second]);
    assert!(app.store.set_aside_records().await.unwrap().is_empty(), "nothing was set aside");
}

#[tokio::test]
async fn an_event_holding_an_empty_map_is_read_and_delivered_with_it() {
    // Arrange: a webhook, and an event item written as the store writes them, whose data
    // holds an empty map.
    let app = TestApp::isolated().await;
    let receiver = Receiver::start(|_, _| Reply::Status(204)).await;
    let page = app.page().await;
    webhook_to(&app, &receiver, &["incident.created"]).await;
    let _poller = Poller::start(app.state.clone());
    let id = uuid::Uuid::now_v7();
    let at = livestatus_shared::clock::timestamp(app.clock.now() + chrono::Duration::seconds(1));
    let data = json!({"incident": {"id": "i-1", "title": "Empty", "metadata": {}}});
    let item = serde_dynamo::to_item(json!({
        "pk": format!("ORG#{}", app.org), "sk": format!("EVENT#{id}"), "entity": "event", "orgId": app.org,
        "ttl": app.clock_secs() + 86_400, "id": id, "type": "incident.created", "pageId": page,
        "occurredAt": at, "actor": {"type": "operator"}, "data": data,
    }))
    .unwrap();
    app.store.client().put_item().table_name(app.store.table()).set_item(Some(item)).send().await.unwrap();

    // Assert: delivered, the empty map included.
    eventually("the event reaches the receiver", || async { receiver.count() >= 1 }).await;
    let (kind, data) = received_events(&receiver).remove(0);
    assert_eq!(kind, "incident.created");
    assert_eq!(data["incident"]["metadata"], json!({}));
}

#[tokio::test]
async fn an_event_whose_fan_out_keeps_failing_is_set_aside_the_next_goes_out_and_a_replay_sends_it() {
    // Arrange: a poller whose reads of the webhooks fail (its own store, failing Query).
    let app = TestApp::isolated().await;
    let receiver = Receiver::start(|_, _| Reply::Status(204)).await;
    let page = app.page().await;
    webhook_to(&app, &receiver, &["incident.created"]).await;
    let failing = CallCounter::default();
    let store = Store::new(client(Some(failing.clone())).await, app.store.table())
        .observed(std::sync::Arc::new(failing.clone()));
    let _poller = Poller::start(AppState { store, ..app.state.clone() });
    failing.fail("Query");

    // Act: an incident whose fan-out fails every attempt; then, healed, a second.
    let first = incident(&app, &page, "Stuck").await;
    let set_aside_first = || async {
        app.store
            .set_aside_records()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.record.contains(&first))
            .collect::<Vec<_>>()
    };
    eventually("the first incident's event is set aside", || async { !set_aside_first().await.is_empty() }).await;
    failing.heal();
    let second = incident(&app, &page, "Flowing").await;
    eventually("the second incident reaches the receiver", || async { receiver.count() >= 1 }).await;

    // Assert: the second went out past the first, which waits, visible with its error.
    let ids = |r: &Receiver| -> Vec<String> {
        received_events(r).iter().map(|(_, d)| d["incident"]["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(&receiver), [second.clone()]);
    let set_aside = set_aside_first().await;
    assert_eq!(set_aside.len(), 1);
    assert_eq!(set_aside[0].attempts, 3);
    assert!(set_aside[0].error.contains("injected failure"), "{}", set_aside[0].error);

    // Act: the operator's replay.
    let replay = replay_set_aside(&app.state).await.unwrap();

    // Assert: sent, and no longer set aside (the events of the page and the webhook
    // were set aside too: the webhook did not want them, so they send nothing).
    assert_eq!(replay.failed, 0);
    assert!(replay.replayed >= 1);
    assert_eq!(ids(&receiver), [second, first]);
    assert!(app.store.set_aside_records().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_backlog_of_events_reaches_the_receiver_once_each_and_in_order_per_page() {
    // Arrange: two pages with twenty incidents each, written before the poller starts.
    let app = TestApp::isolated().await;
    let receiver = Receiver::start(|_, _| Reply::Status(204)).await;
    webhook_to(&app, &receiver, &["incident.created"]).await;
    let pages = [app.page().await, app.page().await];
    let mut written: Vec<Vec<String>> = vec![Vec::new(), Vec::new()];
    for n in 0..20 {
        for (i, page) in pages.iter().enumerate() {
            written[i].push(incident(&app, page, &format!("Incident {n}")).await);
        }
        app.next_window();
    }

    // Act: the poller drains the backlog.
    let _poller = Poller::start(app.state.clone());
    eventually("forty incidents reach the receiver", || async { receiver.count() >= 40 }).await;

    // Assert: each page's incidents in the order they were opened, none twice.
    let got = received_events(&receiver);
    assert_eq!(got.len(), 40);
    for (i, page) in pages.iter().enumerate() {
        let of_page: Vec<String> = got
            .iter()
            .filter(|(_, d)| d["pageId"].as_str() == Some(page.as_str()))
            .map(|(_, d)| d["incident"]["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(of_page, written[i]);
    }
}

/// `infra/stream-bench.sh`: a backlog of `EVENTS` (default 10,000) `incident.created`
/// events over 100 pages, written before the poller starts, drained through the real
/// poller to a webhook receiver on 127.0.0.1. Prints the time to drain for BENCHMARKS.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by infra/stream-bench.sh"]
async fn stream_backlog_benchmark() {
    livestatus_shared::telemetry::init();
    let n: usize = std::env::var("EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let pages = 100;
    let app = TestApp::isolated().await;
    let receiver = Receiver::start(|_, _| Reply::Status(204)).await;
    webhook_to(&app, &receiver, &["incident.created"]).await;
    let page_ids: Vec<uuid::Uuid> = (0..pages).map(|_| uuid::Uuid::now_v7()).collect();
    let at = livestatus_shared::clock::timestamp(app.clock.now() + chrono::Duration::seconds(1));
    let items: Vec<std::collections::HashMap<String, AttributeValue>> = (0..n)
        .map(|i| {
            let id = uuid::Uuid::now_v7();
            let page = page_ids[i % pages];
            let incident = json!({"id": uuid::Uuid::now_v7(), "pageId": page, "title": format!("Incident {i}"),
                "impact": "minor", "status": "investigating", "affectedServiceIds": [], "resolvedAt": null,
                "createdAt": at, "updatedAt": at, "updates": [{"id": uuid::Uuid::now_v7(), "status": "investigating",
                "body": "We are looking into elevated error rates on the API.", "createdAt": at}]});
            serde_dynamo::to_item(json!({
                "pk": format!("ORG#{}", app.org), "sk": format!("EVENT#{id}"), "entity": "event", "orgId": app.org,
                "ttl": app.clock_secs() + 86_400, "id": id, "type": "incident.created", "pageId": page,
                "occurredAt": at, "actor": {"type": "operator"}, "data": {"incident": incident},
            }))
            .unwrap()
        })
        .collect();
    let writes: Vec<_> = items
        .chunks(25)
        .map(|chunk| {
            let requests: Vec<_> = chunk
                .iter()
                .map(|item| {
                    aws_sdk_dynamodb::types::WriteRequest::builder()
                        .put_request(
                            aws_sdk_dynamodb::types::PutRequest::builder()
                                .set_item(Some(item.clone()))
                                .build()
                                .unwrap(),
                        )
                        .build()
                })
                .collect();
            let store = app.store.clone();
            async move {
                let mut pending = requests;
                while !pending.is_empty() {
                    let out =
                        store.client().batch_write_item().request_items(store.table(), pending).send().await.unwrap();
                    pending = out.unprocessed_items.and_then(|mut m| m.remove(store.table())).unwrap_or_default();
                }
            }
        })
        .collect();
    // In order, so the stream holds the events in the order of their ids.
    for write in writes {
        write.await;
    }

    let started = std::time::Instant::now();
    let _poller = Poller(tokio::spawn(poll_stream(app.state.clone(), Pacing::default())));
    while receiver.count() < n {
        assert!(started.elapsed() < Duration::from_secs(600), "only {} of {n} arrived", receiver.count());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drained = started.elapsed();

    let got = received_events(&receiver);
    for page in &page_ids {
        let titles: Vec<u64> = got
            .iter()
            .filter(|(_, d)| d["pageId"].as_str() == Some(page.to_string().as_str()))
            .map(|(_, d)| d["incident"]["title"].as_str().unwrap()[9..].parse().unwrap())
            .collect();
        assert!(titles.windows(2).all(|w| w[0] < w[1]), "in order per page");
    }
    println!(
        "stream bench: {n} queued events over {pages} pages drained to the receiver in {:.2} s ({:.0} events/s), in order per page",
        drained.as_secs_f64(),
        n as f64 / drained.as_secs_f64()
    );
    assert_eq!(got.len(), n, "each once");
}
