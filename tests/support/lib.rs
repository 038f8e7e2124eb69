//! Test support: a table on DynamoDB Local per test run, a client that counts its calls to
//! DynamoDB, a hand-moved clock, and an app with its own organization and key per test.

pub mod cloudfront;
pub mod dns;
pub mod policy;
pub mod seed;

use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use livestatus_shared::AppState;
use livestatus_shared::clock::{Clock, ManualClock, timestamp};
use livestatus_shared::domain::{Plan, Scope};
use livestatus_shared::outbound::Policy;
use livestatus_shared::outbound::sealing::Sealer;
use livestatus_shared::outbound::sender::Sender;
use livestatus_shared::store::Store;
use livestatus_shared::store::api_keys::NewKey;
use livestatus_shared::store::wire::CallObserver;
use livestatus_shared::store::write::Write;
use serde_json::Value;
use tower::ServiceExt;
use uuid::Uuid;

/// Records the DynamoDB operation of every HTTP request the SDK sends, and can make the
/// requests of one operation fail before they leave (a crash at that point, as far as
/// the table can tell).
#[derive(Clone, Debug, Default)]
pub struct CallCounter(Arc<Mutex<Vec<String>>>, Arc<Mutex<Option<Failing>>>);

/// Which requests fail: those of an operation whose body contains a text, up to a count.
#[derive(Debug)]
struct Failing {
    operation: String,
    containing: String,
    left: usize,
}

impl CallCounter {
    /// Operations sent so far, e.g. `UpdateItem`.
    pub fn calls(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Forgets what was counted.
    pub fn reset(&self) {
        self.0.lock().unwrap().clear();
    }

    /// From now on, every request of `operation` (e.g. `DeleteItem`) fails without
    /// reaching the table, retries included, until [`CallCounter::heal`].
    pub fn fail(&self, operation: &str) {
        self.fail_matching(operation, "", usize::MAX);
    }

    /// The next `times` requests of `operation` whose body contains `containing` (a key,
    /// say) fail without reaching the table; every request, retries included, counts.
    pub fn fail_matching(&self, operation: &str, containing: &str, times: usize) {
        *self.1.lock().unwrap() =
            Some(Failing { operation: operation.to_owned(), containing: containing.to_owned(), left: times });
    }

    /// Stops failing requests.
    pub fn heal(&self) {
        *self.1.lock().unwrap() = None;
    }
}

impl CallCounter {
    /// Counts a request of `op`, records the permissions it needs for the function being
    /// tested, or fails it when told to.
    fn observe(&self, op: &str, body: &[u8]) -> Result<(), String> {
        if let Ok(function) = policy::FUNCTION.try_with(|f| *f) {
            policy::record(function, policy::permissions(op, body));
        }
        if let Some(failing) = self.1.lock().unwrap().as_mut() {
            let matches = failing.operation == op
                && failing.left > 0
                && (failing.containing.is_empty()
                    || std::str::from_utf8(body).is_ok_and(|b| b.contains(failing.containing.as_str())));
            if matches {
                failing.left -= 1;
                return Err(format!("injected failure before {op}"));
            }
        }
        self.0.lock().unwrap().push(op.to_owned());
        Ok(())
    }
}

/// The SDK client's requests.
impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = ctx.request().headers().get("x-amz-target").unwrap_or("?");
        let op = target.rsplit('.').next().unwrap_or(target);
        Ok(self.observe(op, ctx.request().body().bytes().unwrap_or_default())?)
    }
}

/// The lean client's requests.
impl CallObserver for CallCounter {
    fn before_send(&self, operation: &str, body: &[u8]) -> Result<(), String> {
        self.observe(operation, body)
    }
}

/// The DynamoDB Local endpoint of this run.
pub fn endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT")
        .expect("DYNAMODB_ENDPOINT is not set: run the tests with ./infra/test.sh, which starts DynamoDB Local")
}

/// The table of this test process, created once.
pub fn table() -> &'static str {
    static TABLE: OnceLock<String> = OnceLock::new();
    TABLE.get_or_init(|| {
        let name = format!("livestatus-test-{}", Uuid::new_v4().simple());
        let created = name.clone();
        // Its own runtime: each test has one, and a client must not outlive its runtime.
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let store = Store::new(client(None).await, &created);
                store.ensure_table().await.expect("create the test table on DynamoDB Local");
            })
        })
        .join()
        .unwrap();
        name
    })
}

/// A client for DynamoDB Local, counting calls when given a counter.
pub async fn client(counter: Option<CallCounter>) -> aws_sdk_dynamodb::Client {
    let _ = endpoint();
    let mut config = livestatus_shared::store::client_config().await.to_builder();
    if let Some(counter) = counter {
        config = config.interceptor(counter);
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// The base of public links in test apps' notifications.
pub const PUBLIC_URL: &str = "https://status.test";
/// The sender of test apps' email.
pub const EMAIL_FROM: &str = "status@livestatus.test";

/// The local SES of this run (`aws-ses-v2-local`, started by `infra/test.sh`).
pub fn ses_endpoint() -> String {
    std::env::var("SES_ENDPOINT")
        .expect("SES_ENDPOINT is not set: run the tests with ./infra/test.sh, which starts the local SES")
}

/// Sends through the local SES and records `ses:SendEmail` for the function it serves.
#[derive(Debug)]
struct RecordingMailer(livestatus_notifications::mailer::SesMailer);

impl livestatus_shared::outbound::mail::Mailer for RecordingMailer {
    fn send<'a>(
        &'a self,
        notice: &'a livestatus_shared::outbound::mail::Notice,
    ) -> livestatus_shared::outbound::mail::Sending<'a> {
        if let Ok(function) = policy::FUNCTION.try_with(|f| *f) {
            policy::record(function, vec![("ses:SendEmail".into(), policy::EMAIL_IDENTITY.into())]);
        }
        self.0.send(notice)
    }
}

/// The mailer of test apps: the real SES client against the local SES, when the run has
/// one (a test that reads mail asks for [`ses_endpoint`] and fails without it).
async fn mailer() -> Option<Arc<dyn livestatus_shared::outbound::mail::Mailer>> {
    let endpoint = std::env::var("SES_ENDPOINT").ok()?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url(endpoint).load().await;
    let mailer = livestatus_notifications::mailer::SesMailer::new(
        aws_sdk_sesv2::Client::new(&config),
        EMAIL_FROM.to_owned(),
        None,
    );
    Some(Arc::new(RecordingMailer(mailer)))
}

/// Every email the local SES holds for `to`, oldest first (`GET /store`).
pub async fn mail_to(to: &str) -> Vec<Value> {
    let bytes = reqwest::get(format!("{}/store", ses_endpoint())).await.unwrap().bytes().await.unwrap();
    let store: Value = serde_json::from_slice(&bytes).unwrap();
    store["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["destination"]["to"].as_array().is_some_and(|t| t.iter().any(|a| a == to)))
        .cloned()
        .collect()
}

/// The outbound timeout of test apps: short, so a receiver that hangs costs little.
pub const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(400);

/// A response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body parsed as JSON (`Null` when empty).
    pub json: Value,
}

impl TestResponse {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error code of an error envelope.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("<no error code>")
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.json);
        self
    }

    /// Asserts an error envelope with this status and code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Self {
        self.expect(status);
        assert_eq!(self.code(), code, "body: {}", self.json);
        assert!(self.json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(self.json["error"]["requestId"].as_str(), self.header("x-request-id"));
        self
    }
}

/// One test's world: the app's router over the shared table, a clock stopped early in a
/// minute, a call counter, and an organization with a full-access key.
pub struct TestApp {
    /// The router under test.
    pub router: Router,
    /// The store the router uses.
    pub store: Store,
    /// The router's clock.
    pub clock: Arc<ManualClock>,
    /// Calls the router's store made.
    pub calls: CallCounter,
    /// This test's organization.
    pub org: Uuid,
    /// A full-access key of that organization.
    pub key: String,
    /// The router's state, for driving the notifier and the scheduler.
    pub state: AppState,
    /// A table of this test's own, deleted when the app is dropped.
    own_table: Option<String>,
}

impl Drop for TestApp {
    /// Deletes a table of the test's own: DynamoDB Local in memory fails to add an index
    /// to a table (`no column named indexKey_2`) once some ten tables exist, which the
    /// migration test does.
    fn drop(&mut self) {
        let Some(table) = self.own_table.take() else { return };
        // Its own thread and runtime: `drop` cannot await, and may run inside a runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async {
                let _ = client(None).await.delete_table().table_name(&table).send().await;
            });
        })
        .join();
    }
}

impl TestApp {
    /// An app whose router is built by `router`, with a fresh `business` organization.
    pub async fn new(router: fn(AppState) -> Router) -> Self {
        Self::with_plan(router, Plan::Business).await
    }

    /// Same, with the organization on `plan`.
    pub async fn with_plan(router: fn(AppState) -> Router, plan: Plan) -> Self {
        Self::build(router, plan, table()).await
    }

    /// An app serving every function over a table of its own, for tests of the scheduler,
    /// whose tick reads the due work of a whole table.
    pub async fn isolated() -> Self {
        let name = format!("livestatus-test-{}", Uuid::new_v4().simple());
        Store::new(client(None).await, &name).ensure_table().await.expect("create a table on DynamoDB Local");
        let mut app = Self::build(all_routes, Plan::Business, &name).await;
        app.own_table = Some(name);
        app
    }

    async fn build(router: fn(AppState) -> Router, plan: Plan, table: &str) -> Self {
        let calls = CallCounter::default();
        let store = Store::new(client(Some(calls.clone())).await, table).observed(Arc::new(calls.clone()));
        let now = chrono::Utc::now().timestamp();
        // Two seconds into a minute, so a burst never straddles a window by accident.
        let start = chrono::DateTime::from_timestamp(now - now.rem_euclid(60) + 2, 0).unwrap();
        let clock = Arc::new(ManualClock::new(start));
        let state = AppState {
            store: store.clone(),
            clock: clock.clone(),
            sealer: Sealer::new("test sealing key"),
            sender: Sender::new(Policy { allow_private: true, allow_http: true }, SEND_TIMEOUT),
            mailer: mailer().await,
            public_url: Some(PUBLIC_URL.into()),
            email_from: Some(EMAIL_FROM.into()),
            dns: livestatus_shared::outbound::dns::Dns::at(dns::dns_server().addr),
            cdn: livestatus_shared::outbound::cdn::Cdn::cloudfront(
                cloudfront::DISTRIBUTION.to_owned(),
                cloudfront::CONNECTION_GROUP.to_owned(),
                Some(cloudfront::cloudfront().url.clone()),
            ),
        };
        let org = store.create_org("Test org".into(), plan, &timestamp(start)).await.unwrap().id;
        let mut app = Self {
            router: router(state.clone()),
            store,
            clock,
            calls,
            org,
            key: String::new(),
            state,
            own_table: None,
        };
        app.key = app.new_key(app.org, &[]).await;
        app.calls.reset();
        app
    }

    /// An app over a router and store built elsewhere (the fault test's own DynamoDB
    /// Local and the system clock); `clock` and `calls` are then not the router's.
    pub fn from_parts(router: Router, store: Store, org: Uuid, key: &str) -> Self {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let state = AppState { clock: clock.clone(), ..AppState::new(store.clone()) };
        Self { router, store, clock, calls: CallCounter::default(), org, key: key.to_owned(), state, own_table: None }
    }

    /// A new key of `org` with `scopes` (empty: full access); returns the plaintext.
    pub async fn new_key(&self, org: Uuid, scopes: &[Scope]) -> String {
        let (_, plaintext) = self
            .store
            .create_key(
                &Write::new(org, livestatus_shared::store::events::Actor::operator(), self.clock.now()),
                NewKey { name: "test key".into(), scopes, expires_at: None, rate_limit: 60 },
            )
            .await
            .unwrap();
        plaintext.expose().to_owned()
    }

    /// A new organization with a full-access key.
    pub async fn new_org(&self, plan: Plan) -> (Uuid, String) {
        let org = self.store.create_org("Other org".into(), plan, &timestamp(self.clock.now())).await.unwrap().id;
        let key = self.new_key(org, &[]).await;
        (org, key)
    }

    /// Sends a request with this app's key.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> TestResponse {
        self.call_as(&self.key, method, path, body).await
    }

    /// Sends a request with `key` as a bearer token.
    pub async fn call_as(&self, key: &str, method: &str, path: &str, body: Option<Value>) -> TestResponse {
        let mut req = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(path);
        if !key.is_empty() {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Body::from(serde_json::to_vec(&v).unwrap())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    /// Sends a raw request. The DynamoDB calls made while serving it are recorded as the
    /// calls of the function that serves its route (see [`policy`]).
    pub async fn send(&self, req: Request<Body>) -> TestResponse {
        // A path no function has, sent to a host: a custom domain's, so the status function's.
        let at_domain = req.headers().get("host").is_some();
        let route = livestatus_shared::routes::resolve(req.method().as_str(), req.uri().path())
            .or_else(|| at_domain.then(|| livestatus_shared::routes::resolve("GET", "/status/any")).flatten());
        let served = self.router.clone().oneshot(req);
        let response = match route {
            Some(route) => policy::FUNCTION.scope(route.group.binary(), served).await,
            None => served.await,
        }
        .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        TestResponse { status: parts.status, headers: parts.headers, json }
    }

    /// Every item of an organization's partition except its events (the audit log, which
    /// outlives what it records).
    pub async fn org_items(
        &self,
        org: Uuid,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .store
                .client()
                .query()
                .table_name(self.store.table())
                .key_condition_expression("pk = :pk")
                .filter_expression("attribute_not_exists(entity) OR entity <> :event")
                .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{org}")))
                .expression_attribute_values(":event", aws_sdk_dynamodb::types::AttributeValue::S("event".into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// An item that must exist (read strongly consistent).
    pub async fn item(
        &self,
        pk: &str,
        sk: &str,
    ) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        self.store
            .client()
            .get_item()
            .table_name(self.store.table())
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_else(|| panic!("no item {pk} / {sk}"))
    }

    /// Whether an item exists (read strongly consistent).
    pub async fn item_exists(&self, pk: &str, sk: &str) -> bool {
        self.store
            .client()
            .get_item()
            .table_name(self.store.table())
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .is_some()
    }
}

/// Every function's routes in one router, as the local server serves them (custom
/// domains included).
pub fn all_routes(state: AppState) -> Router {
    livestatus_local::app(state)
}

impl TestApp {
    /// An app serving every function, with a fresh `business` organization.
    pub async fn all() -> Self {
        Self::new(all_routes).await
    }

    /// Creates a page and returns its id.
    pub async fn page(&self) -> String {
        let r = self
            .call("POST", "/api/v1/pages", Some(serde_json::json!({"name": "Status", "slug": unique_slug("p")})))
            .await;
        r.expect(201);
        r.json["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Creates a service on a page and returns its id.
    pub async fn service(&self, page: &str, name: &str) -> String {
        let r =
            self.call("POST", &format!("/api/v1/pages/{page}/services"), Some(serde_json::json!({"name": name}))).await;
        r.expect(201);
        r.json["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Moves the clock to the next rate-limit window, for tests that send many requests.
    pub fn next_window(&self) {
        self.clock.advance(chrono::Duration::seconds(60));
    }
}

/// A slug no other test uses (slugs are global).
pub fn unique_slug(prefix: &str) -> String {
    format!("{prefix}-{}", &Uuid::new_v4().simple().to_string()[..12])
}

impl TestApp {
    /// The app clock in unix seconds.
    pub fn clock_secs(&self) -> i64 {
        self.clock.now().timestamp()
    }
}
