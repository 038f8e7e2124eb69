//! A lean DynamoDB client for the calls nearly every request makes (authenticating,
//! queries, reads by key): DynamoDB's JSON protocol, signed with SigV4 and sent over a
//! kept-alive connection, without the SDK's per-call orchestration (endpoint rules,
//! interceptors, config layers), which was half of an authenticated read's CPU.
//! Retries, timeouts and error translation follow the SDK client's settings.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::ser::{Error as _, SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Item;
use super::error::StoreError;
use crate::hex::lower as hex;
use crate::telemetry::error_chain;

/// Attempts per call (the SDK's standard retry mode: three).
const ATTEMPTS: u32 = 3;
/// One attempt, connection included (as `client_config`'s operation attempt timeout).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// A call, retries included (as `client_config`'s operation timeout).
const CALL_TIMEOUT: Duration = Duration::from_secs(12);
/// Connecting (as `client_config`'s connect timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Idle connections are closed after this (DynamoDB's side closes them after about a
/// minute; reusing one it has closed costs a retry).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Error codes DynamoDB answers when it is busy or failing: retried, then 503.
const UNAVAILABLE: [&str; 6] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
];

/// Sees every request the lean client is about to send (tests count calls, record the
/// permissions they need, and inject failures with it).
pub trait CallObserver: Send + Sync + fmt::Debug {
    /// Called once per call before it is sent, with the operation (e.g. `Query`) and
    /// the JSON body; an error fails the call without sending it.
    fn before_send(&self, operation: &str, body: &[u8]) -> Result<(), String>;
}

/// How a call ended when DynamoDB did not answer with a result.
#[derive(Debug)]
pub(crate) enum Failure {
    /// DynamoDB refused the request: its error code (e.g.
    /// `ConditionalCheckFailedException`) and, for a failed condition that asked for it,
    /// the item as it was.
    Refused { code: String, message: String, item: Option<Item> },
    /// Anything else, already translated (503 when the store is unreachable or busy).
    Failed(StoreError),
}

impl Failure {
    /// For callers that expected no refusal.
    pub(crate) fn into_error(self) -> StoreError {
        match self {
            Self::Failed(e) => e,
            Self::Refused { code, message, .. } => StoreError::internal(format!("DynamoDB refused: {code}: {message}")),
        }
    }

    /// Whether DynamoDB refused because a condition failed.
    pub(crate) fn is_condition_failed(&self) -> bool {
        matches!(self, Self::Refused { code, .. } if code == "ConditionalCheckFailedException")
    }
}

/// The lean client: one per process (inside [`super::Store`]).
type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

pub(crate) struct Wire {
    http: hyper_util::client::legacy::Client<Connector, http_body_util::Full<bytes::Bytes>>,
    uri: axum::http::Uri,
    host: String,
    region: String,
    /// The standard chain, built on first use (`None` until then), or local credentials.
    provider: Mutex<Option<SharedCredentialsProvider>>,
    credentials: Mutex<Option<Credentials>>,
    signing_key: Mutex<Option<SigningKey>>,
    observer: Option<Arc<dyn CallObserver>>,
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wire").field("uri", &self.uri).field("region", &self.region).finish_non_exhaustive()
    }
}

/// The day's derived SigV4 key, kept for the credentials it was made from.
struct SigningKey {
    date: String,
    access_key: String,
    secret: String,
    key: [u8; 32],
}

impl Wire {
    /// A client for `endpoint` (e.g. DynamoDB Local's URL), or, when `None`, the
    /// region's public endpoint. Credentials come from the standard chain, as the SDK
    /// client's do, except for an endpoint of DynamoDB Local without AWS credentials in
    /// the environment (`client_config`'s rule), which gets fixed local ones.
    pub(crate) fn new(endpoint: Option<&str>, region: &str) -> Self {
        let local = endpoint.is_some() && std::env::var_os("AWS_ACCESS_KEY_ID").is_none();
        let provider =
            local.then(|| SharedCredentialsProvider::new(Credentials::new("local", "local", None, None, "local")));
        let url = match endpoint {
            Some(e) => e.trim_end_matches('/').to_owned(),
            None => {
                let fips = std::env::var("AWS_USE_FIPS_ENDPOINT").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
                let service = if fips { "dynamodb-fips" } else { "dynamodb" };
                let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
                format!("https://{service}.{region}.{suffix}")
            }
        };
        let host = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest).split('/').next().unwrap_or_default();
        let host = host.strip_suffix(":443").filter(|_| url.starts_with("https:")).unwrap_or(host).to_owned();
        let mut connect = hyper_util::client::legacy::connect::HttpConnector::new();
        connect.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connect.set_nodelay(true);
        connect.enforce_http(false);
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .expect("ring offers TLS 1.2 and 1.3")
            .https_or_http()
            .enable_http1()
            .wrap_connector(connect);
        let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(tls);
        Self {
            http,
            uri: format!("{url}/").parse().expect("a valid DynamoDB endpoint URL"),
            host,
            region: region.to_owned(),
            provider: Mutex::new(provider),
            credentials: Mutex::new(None),
            signing_key: Mutex::new(None),
            observer: None,
        }
    }

    /// The same client, with `observer` seeing its requests.
    pub(crate) fn observed(&self, observer: Arc<dyn CallObserver>) -> Self {
        Self {
            http: self.http.clone(),
            uri: self.uri.clone(),
            host: self.host.clone(),
            region: self.region.clone(),
            provider: Mutex::new(self.provider.lock().expect("not poisoned").clone()),
            credentials: Mutex::new(None),
            signing_key: Mutex::new(None),
            observer: Some(observer),
        }
    }

    /// Sends `operation` with `body`, retrying what the SDK would retry (connection
    /// failures, timeouts, 5xx, throttling) with backoff, within the call timeout.
    pub(crate) async fn call<T: DeserializeOwned>(&self, operation: &str, body: &impl Serialize) -> Result<T, Failure> {
        let body: bytes::Bytes = serde_json::to_vec(body).map_err(|e| Failure::Failed(StoreError::internal(e)))?.into();
        if let Some(observer) = &self.observer {
            observer
                .before_send(operation, &body)
                .map_err(|e| Failure::Failed(StoreError::internal(format!("{operation}: {e}"))))?;
        }
        self.attempts(API, operation, body).await
    }

    /// Sends an operation of DynamoDB Streams (e.g. `GetRecords`), unobserved: only the
    /// local server's poller, the twin of the event source mapping, calls it. The answer is
    /// read as `T` by serde (the poller reads records leniently, where the SDK cannot).
    pub(crate) async fn call_streams<T: DeserializeOwned>(
        &self,
        operation: &str,
        body: &impl Serialize,
    ) -> Result<T, Failure> {
        let body: bytes::Bytes = serde_json::to_vec(body).map_err(|e| Failure::Failed(StoreError::internal(e)))?.into();
        self.attempts(STREAMS_API, operation, body).await
    }

    /// The attempts of one call, each bounded by what is left of the call's time (one
    /// timer per attempt).
    async fn attempts<T: DeserializeOwned>(
        &self,
        api: &str,
        operation: &str,
        body: bytes::Bytes,
    ) -> Result<T, Failure> {
        let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
        let mut attempt = 1;
        loop {
            let last = attempt == ATTEMPTS;
            let time_left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let credentials = self.credentials().await?;
            let request = self.signed(api, operation, &credentials, body.clone());
            let cause = match tokio::time::timeout(ATTEMPT_TIMEOUT.min(time_left), self.exchange(request)).await {
                Ok(Ok((status, bytes))) if status.is_success() => {
                    return serde_json::from_slice(&bytes).map_err(|e| {
                        Failure::Failed(StoreError::internal(format!("{operation}: unreadable response: {e}")))
                    });
                }
                Ok(Ok((status, bytes))) => {
                    let refused = refusal(&bytes, status);
                    let transient = status.is_server_error() || UNAVAILABLE.contains(&refused.code.as_str());
                    if !transient {
                        return Err(Failure::Refused {
                            code: refused.code,
                            message: refused.message,
                            item: refused.item.map(|i| i.0),
                        });
                    }
                    format!("{operation}: {} ({status}): {}", refused.code, refused.message)
                }
                Ok(Err(e)) => format!("{operation}: {e}"),
                Err(_) => format!("{operation}: no response within {:?}", ATTEMPT_TIMEOUT.min(time_left)),
            };
            let delay = retry_delay(attempt);
            if last || tokio::time::Instant::now() + delay >= deadline {
                return Err(Failure::Failed(StoreError::Unavailable(cause.into())));
            }
            tracing::debug!(cause, attempt, "retrying a DynamoDB call");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One request and its whole response.
    async fn exchange(
        &self,
        request: axum::http::Request<http_body_util::Full<bytes::Bytes>>,
    ) -> Result<(axum::http::StatusCode, bytes::Bytes), String> {
        use http_body_util::BodyExt;
        let response = self.http.request(request).await.map_err(|e| error_chain(&e))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| format!("reading the response: {e}"))?;
        Ok((status, body.to_bytes()))
    }

    /// Credentials from the SDK's provider, kept until a minute before they expire.
    async fn credentials(&self) -> Result<Credentials, Failure> {
        let fresh = |c: &Credentials| c.expiry().is_none_or(|e| e > SystemTime::now() + Duration::from_secs(60));
        if let Some(cached) = self.credentials.lock().expect("not poisoned").as_ref().filter(|c| fresh(c)) {
            return Ok(cached.clone());
        }
        let cached_provider = self.provider.lock().expect("not poisoned").clone();
        let provider = match cached_provider {
            Some(p) => p,
            None => {
                let p =
                    SharedCredentialsProvider::new(aws_config::default_provider::credentials::default_provider().await);
                self.provider.lock().expect("not poisoned").get_or_insert(p).clone()
            }
        };
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| Failure::Failed(StoreError::Unavailable(format!("loading credentials: {e}").into())))?;
        *self.credentials.lock().expect("not poisoned") = Some(credentials.clone());
        Ok(credentials)
    }

    fn signed(
        &self,
        api: &str,
        operation: &str,
        credentials: &Credentials,
        body: bytes::Bytes,
    ) -> axum::http::Request<http_body_util::Full<bytes::Bytes>> {
        use axum::http::header::{AUTHORIZATION, CONTENT_TYPE as CONTENT_TYPE_HEADER, HOST, HeaderName, HeaderValue};
        let target = [api, ".", operation].concat();
        let amz_date = amz_date(chrono::Utc::now());
        let key = self.signing_key(&amz_date[..8], credentials);
        let authorization = authorization(
            &Signing { host: &self.host, region: &self.region, amz_date: &amz_date, target: &target },
            credentials,
            &key,
            &body,
        );
        let header = |value: String| HeaderValue::try_from(value).expect("signing output is header-safe");
        let mut request = axum::http::Request::new(http_body_util::Full::new(body));
        *request.method_mut() = axum::http::Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.insert(HOST, header(self.host.clone()));
        headers.insert(CONTENT_TYPE_HEADER, HeaderValue::from_static(CONTENT_TYPE));
        headers.insert(HeaderName::from_static("x-amz-date"), header(amz_date));
        headers.insert(HeaderName::from_static("x-amz-target"), header(target));
        headers.insert(AUTHORIZATION, header(authorization));
        if let Some(token) = credentials.session_token() {
            headers.insert(HeaderName::from_static("x-amz-security-token"), header(token.to_owned()));
        }
        request
    }

    /// The signing key for `date` (`YYYYMMDD`), derived once a day per credentials.
    fn signing_key(&self, date: &str, credentials: &Credentials) -> [u8; 32] {
        let mut cached = self.signing_key.lock().expect("not poisoned");
        if let Some(k) = cached.as_ref().filter(|k| {
            k.date == date && k.access_key == credentials.access_key_id() && k.secret == credentials.secret_access_key()
        }) {
            return k.key;
        }
        let key = derive_key(credentials.secret_access_key(), date, &self.region);
        *cached = Some(SigningKey {
            date: date.to_owned(),
            access_key: credentials.access_key_id().to_owned(),
            secret: credentials.secret_access_key().to_owned(),
            key,
        });
        key
    }
}

/// The SDK's standard retry delay: full jitter over 1 s doubled per attempt, so a
/// store that is briefly down is waited for (about 1.5 s over two retries on average).
fn retry_delay(attempt: u32) -> Duration {
    let mut random = [0u8; 4];
    let _ = getrandom::fill(&mut random);
    let ceiling_ms = 1000u64 << (attempt - 1).min(4);
    Duration::from_millis(u64::from(u32::from_le_bytes(random)) % ceiling_ms)
}

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// The target prefix of DynamoDB's operations.
const API: &str = "DynamoDB_20120810";
/// The target prefix of DynamoDB Streams' operations (signed for the same service).
const STREAMS_API: &str = "DynamoDBStreams_20120810";
const SERVICE: &str = "dynamodb";

/// What a request's signature covers besides the credentials and the body.
struct Signing<'a> {
    host: &'a str,
    region: &'a str,
    amz_date: &'a str,
    target: &'a str,
}

/// The SigV4 signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
fn derive_key(secret: &str, date: &str, region: &str) -> [u8; 32] {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, SERVICE.as_bytes());
    hmac(&k, b"aws4_request")
}

/// The `Authorization` header of a `POST /` with the JSON protocol's headers, signed
/// with SigV4 (the signed headers in sorted order, the session token among them).
fn authorization(s: &Signing<'_>, credentials: &Credentials, key: &[u8; 32], body: &[u8]) -> String {
    let token = credentials.session_token();
    let signed_headers = if token.is_some() {
        "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
    } else {
        "content-type;host;x-amz-date;x-amz-target"
    };
    // Built by appending, not `format!`: this runs for every call.
    let mut canonical = String::with_capacity(320 + token.map_or(0, str::len));
    for part in ["POST\n/\n\ncontent-type:", CONTENT_TYPE, "\nhost:", s.host, "\nx-amz-date:", s.amz_date, "\n"] {
        canonical.push_str(part);
    }
    if let Some(token) = token {
        for part in ["x-amz-security-token:", token, "\n"] {
            canonical.push_str(part);
        }
    }
    for part in ["x-amz-target:", s.target, "\n\n", signed_headers, "\n", &hex(&Sha256::digest(body))] {
        canonical.push_str(part);
    }
    let scope = [&s.amz_date[..8], "/", s.region, "/", SERVICE, "/aws4_request"].concat();
    let canonical_hash = hex(&Sha256::digest(canonical.as_bytes()));
    let to_sign = ["AWS4-HMAC-SHA256\n", s.amz_date, "\n", &scope, "\n", &canonical_hash].concat();
    let signature = hex(&hmac(key, to_sign.as_bytes()));
    [
        "AWS4-HMAC-SHA256 Credential=",
        credentials.access_key_id(),
        "/",
        &scope,
        ", SignedHeaders=",
        signed_headers,
        ", Signature=",
        &signature,
    ]
    .concat()
}

/// SigV4's timestamp, `YYYYMMDDTHHMMSSZ`, without a format string to interpret.
fn amz_date(now: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    fn push(out: &mut String, value: u32, width: u32) {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (value / 10u32.pow(place) % 10) as u8));
        }
    }
    let mut out = String::with_capacity(16);
    push(&mut out, now.year().clamp(0, 9999).unsigned_abs(), 4);
    push(&mut out, now.month(), 2);
    push(&mut out, now.day(), 2);
    out.push('T');
    push(&mut out, now.hour(), 2);
    push(&mut out, now.minute(), 2);
    push(&mut out, now.second(), 2);
    out.push('Z');
    out
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// DynamoDB's error body: `{"__type": "com.amazonaws.dynamodb.v20120810#Code", "message": …}`.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(rename = "__type", default)]
    kind: String,
    #[serde(alias = "Message", default)]
    message: String,
    #[serde(rename = "Item")]
    item: Option<WireItem>,
}

struct Refusal {
    code: String,
    message: String,
    item: Option<WireItem>,
}

fn refusal(bytes: &[u8], status: axum::http::StatusCode) -> Refusal {
    let body: ErrorBody = serde_json::from_slice(bytes).unwrap_or_default();
    let code = body.kind.rsplit('#').next().unwrap_or_default();
    let code = if code.is_empty() { format!("HTTP {}", status.as_u16()) } else { code.to_owned() };
    Refusal { code, message: body.message, item: body.item }
}

/// An item as DynamoDB JSON, for request bodies.
pub(crate) struct ItemRef<'a>(pub &'a Item);

impl Serialize for ItemRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, &ValueRef(value))?;
        }
        map.end()
    }
}

struct ValueRef<'a>(&'a AttributeValue);

struct Seq<'a, T>(&'a [T], fn(&T) -> ValueOrText<'_>);

enum ValueOrText<'a> {
    Value(ValueRef<'a>),
    Text(&'a str),
    Blob(String),
}

impl Serialize for ValueOrText<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(v) => v.serialize(serializer),
            Self::Text(t) => serializer.serialize_str(t),
            Self::Blob(b) => serializer.serialize_str(b),
        }
    }
}

impl<T> Serialize for Seq<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for element in self.0 {
            seq.serialize_element(&(self.1)(element))?;
        }
        seq.end()
    }
}

impl Serialize for ValueRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self.0 {
            AttributeValue::S(s) => map.serialize_entry("S", s)?,
            AttributeValue::N(n) => map.serialize_entry("N", n)?,
            AttributeValue::Bool(b) => map.serialize_entry("BOOL", b)?,
            AttributeValue::Null(_) => map.serialize_entry("NULL", &true)?,
            AttributeValue::M(m) => map.serialize_entry("M", &ItemRef(m))?,
            AttributeValue::L(l) => map.serialize_entry("L", &Seq(l, |v| ValueOrText::Value(ValueRef(v))))?,
            AttributeValue::Ss(ss) => map.serialize_entry("SS", &Seq(ss, |s| ValueOrText::Text(s)))?,
            AttributeValue::Ns(ns) => map.serialize_entry("NS", &Seq(ns, |s| ValueOrText::Text(s)))?,
            AttributeValue::B(b) => map.serialize_entry("B", &BASE64.encode(b.as_ref()))?,
            AttributeValue::Bs(bs) => {
                map.serialize_entry("BS", &Seq(bs, |b| ValueOrText::Blob(BASE64.encode(b.as_ref()))))?;
            }
            other => return Err(S::Error::custom(format!("unknown attribute value {other:?}"))),
        }
        map.end()
    }
}

/// An item read from DynamoDB JSON.
#[derive(Debug)]
pub(crate) struct WireItem(pub Item);

impl<'de> Deserialize<'de> for WireItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ItemVisitor).map(WireItem)
    }
}

/// Reads a JSON object of attribute values straight into an [`Item`].
struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a DynamoDB item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        // JSON gives no size hint; 16 holds a typical item without growing.
        let mut item = Item::with_capacity(map.size_hint().unwrap_or(16));
        while let Some((name, value)) = map.next_entry::<String, WireValue>()? {
            item.insert(name, value.0);
        }
        Ok(item)
    }
}

/// One attribute value in DynamoDB JSON (`{"S": "…"}`, `{"M": {…}}`, …), read straight
/// into the SDK's type.
struct WireValue(AttributeValue);

impl<'de> Deserialize<'de> for WireValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = WireValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a DynamoDB attribute value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireValue, A::Error> {
        use serde::de::Error;
        let blob =
            |b: String| BASE64.decode(b).map(Blob::new).map_err(|e| A::Error::custom(format!("binary attribute: {e}")));
        let Some(tag) = map.next_key::<std::borrow::Cow<'de, str>>()? else {
            // DynamoDB Local's stream renders an empty map as `{}` (DynamoDB never answers
            // a value without a type); it is the only empty object an item can hold.
            return Ok(WireValue(AttributeValue::M(Item::new())));
        };
        let value = match tag.as_ref() {
            "S" => AttributeValue::S(map.next_value()?),
            "N" => AttributeValue::N(map.next_value()?),
            "BOOL" => AttributeValue::Bool(map.next_value()?),
            "NULL" => AttributeValue::Null(map.next_value()?),
            "M" => AttributeValue::M(map.next_value::<WireItem>()?.0),
            "L" => AttributeValue::L(map.next_value::<Vec<WireValue>>()?.into_iter().map(|v| v.0).collect()),
            "SS" => AttributeValue::Ss(map.next_value()?),
            "NS" => AttributeValue::Ns(map.next_value()?),
            "B" => AttributeValue::B(blob(map.next_value()?)?),
            "BS" => {
                AttributeValue::Bs(map.next_value::<Vec<String>>()?.into_iter().map(blob).collect::<Result<_, _>>()?)
            }
            other => return Err(A::Error::custom(format!("unknown attribute type {other}"))),
        };
        if map.next_key::<serde::de::IgnoredAny>()?.is_some() {
            return Err(A::Error::custom("an attribute value with more than one type"));
        }
        Ok(WireValue(value))
    }
}

/// `UpdateItem`'s input, as far as this project uses it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateIn<'a> {
    pub table_name: &'a str,
    pub key: ItemRef<'a>,
    pub update_expression: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Option<&'a HashMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_values: Option<ItemRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_values: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_values_on_condition_check_failure: Option<&'a str>,
}

/// `UpdateItem`'s output.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateOut {
    pub attributes: Option<WireItem>,
}

/// `GetItem`'s input.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetIn<'a> {
    pub table_name: &'a str,
    pub key: ItemRef<'a>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub consistent_read: bool,
}

/// `GetItem`'s output.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetOut {
    pub item: Option<WireItem>,
}

/// `Query`'s input, taken from the SDK's builder so call sites keep building queries
/// the SDK's way.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct QueryIn<'a> {
    pub table_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_condition_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Option<&'a HashMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_values: Option<ItemRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistent_read: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_index_forward: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclusive_start_key: Option<ItemRef<'a>>,
}

impl<'a> QueryIn<'a> {
    /// The query an SDK builder describes, on `table`.
    pub(crate) fn from_sdk(
        table: &'a str,
        q: &'a aws_sdk_dynamodb::operation::query::builders::QueryInputBuilder,
    ) -> Self {
        Self {
            table_name: table,
            index_name: q.get_index_name().as_deref(),
            key_condition_expression: q.get_key_condition_expression().as_deref(),
            filter_expression: q.get_filter_expression().as_deref(),
            projection_expression: q.get_projection_expression().as_deref(),
            expression_attribute_names: q.get_expression_attribute_names().as_ref(),
            expression_attribute_values: q.get_expression_attribute_values().as_ref().map(ItemRef),
            consistent_read: *q.get_consistent_read(),
            scan_index_forward: *q.get_scan_index_forward(),
            select: q.get_select().as_ref().map(aws_sdk_dynamodb::types::Select::as_str),
            limit: *q.get_limit(),
            exclusive_start_key: None,
        }
    }
}

/// `Query`'s output.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct QueryOut {
    #[serde(default)]
    pub items: Vec<WireItem>,
    pub last_evaluated_key: Option<WireItem>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_aws_sigv4_crate_with_and_without_a_session_token() {
        for token in [None, Some("FwoGZXIvYXdzEJr//////////wEaDNc+token/with+plus==".to_owned())] {
            let credentials =
                Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token, None, "t");
            let body = br#"{"TableName":"livestatus","Key":{"pk":{"S":"KEY#abc"}}}"#;
            let host = "dynamodb.eu-west-1.amazonaws.com";
            let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
            let amz_date = amz_date(time.into());
            let target = "DynamoDB_20120810.UpdateItem";

            let ours = authorization(
                &Signing { host, region: "eu-west-1", amz_date: &amz_date, target },
                &credentials,
                &derive_key(credentials.secret_access_key(), &amz_date[..8], "eu-west-1"),
                body,
            );

            let identity = credentials.clone().into();
            let params = aws_sigv4::sign::v4::SigningParams::builder()
                .identity(&identity)
                .region("eu-west-1")
                .name("dynamodb")
                .time(time)
                .settings(aws_sigv4::http_request::SigningSettings::default())
                .build()
                .unwrap()
                .into();
            let headers = [("content-type", CONTENT_TYPE), ("host", host), ("x-amz-target", target)];
            let request = aws_sigv4::http_request::SignableRequest::new(
                "POST",
                format!("https://{host}/"),
                headers.into_iter(),
                aws_sigv4::http_request::SignableBody::Bytes(body),
            )
            .unwrap();
            let (instructions, _) = aws_sigv4::http_request::sign(request, &params).unwrap().into_parts();
            let theirs = instructions.headers().find(|(name, _)| *name == "authorization").unwrap().1.to_owned();

            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn the_timestamp_is_the_basic_iso_8601_form() {
        let time = chrono::DateTime::parse_from_rfc3339("2026-03-07T04:05:09.999Z").unwrap().to_utc();
        assert_eq!(amz_date(time), "20260307T040509Z");
    }

    #[test]
    fn the_endpoint_and_the_signed_host_follow_the_region_or_the_given_url() {
        let regional = Wire::new(None, "eu-west-1");
        let china = Wire::new(None, "cn-north-1");
        let local = Wire::new(Some("http://127.0.0.1:8000/"), "us-east-1");

        assert_eq!(regional.uri.to_string(), "https://dynamodb.eu-west-1.amazonaws.com/");
        assert_eq!(regional.host, "dynamodb.eu-west-1.amazonaws.com");
        assert_eq!(china.host, "dynamodb.cn-north-1.amazonaws.com.cn");
        assert_eq!(local.uri.to_string(), "http://127.0.0.1:8000/");
        assert_eq!(local.host, "127.0.0.1:8000");
    }

    #[test]
    fn attribute_values_round_trip_through_dynamodb_json() {
        let item: Item = HashMap::from([
            ("s".to_owned(), AttributeValue::S("a \"quoted\" ✓".into())),
            ("n".to_owned(), AttributeValue::N("-12.5".into())),
            ("b".to_owned(), AttributeValue::Bool(true)),
            ("z".to_owned(), AttributeValue::Null(true)),
            ("bin".to_owned(), AttributeValue::B(Blob::new(vec![0, 255, 7]))),
            ("ss".to_owned(), AttributeValue::Ss(vec!["x".into(), "y".into()])),
            ("ns".to_owned(), AttributeValue::Ns(vec!["1".into()])),
            ("bs".to_owned(), AttributeValue::Bs(vec![Blob::new(vec![1])])),
            (
                "m".to_owned(),
                AttributeValue::M(HashMap::from([(
                    "l".to_owned(),
                    AttributeValue::L(vec![AttributeValue::S("x".into()), AttributeValue::N("1".into())]),
                )])),
            ),
        ]);

        let json = serde_json::to_string(&ItemRef(&item)).unwrap();
        let back: WireItem = serde_json::from_str(&json).unwrap();

        assert_eq!(back.0, item);
        assert!(json.contains(r#""bin":{"B":"AP8H"}"#), "{json}");
        assert!(json.contains(r#""z":{"NULL":true}"#), "{json}");
        assert!(serde_json::from_str::<WireItem>(r#"{"a":{"S":"x","N":"1"}}"#).is_err(), "two types");
        assert!(serde_json::from_str::<WireItem>(r#"{"a":{"X":"x"}}"#).is_err(), "an unknown type");
    }

    #[test]
    fn an_error_body_gives_the_code_and_the_old_item() {
        let body = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed","Item":{"rlWindow":{"N":"60"}}}"#;

        let refused = refusal(body, axum::http::StatusCode::BAD_REQUEST);

        assert_eq!(refused.code, "ConditionalCheckFailedException");
        assert_eq!(refused.message, "The conditional request failed");
        assert_eq!(refused.item.unwrap().0["rlWindow"], AttributeValue::N("60".into()));
        assert_eq!(refusal(b"not json", axum::http::StatusCode::BAD_GATEWAY).code, "HTTP 502");
    }
}
