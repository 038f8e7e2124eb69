//! The outbound HTTP client for webhooks (and monitors later): rustls, no proxies, no
//! redirects followed, a total timeout, and the address guard applied twice: to the URL
//! (literal addresses in every written form) and to every address a name resolves to,
//! inside the client's own resolver, so the connection goes to an address that was
//! checked and nothing resolves the name a second time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::outbound::{self, Policy, Refusal};

/// What one request came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The response status, when there was a response.
    pub status: Option<u16>,
    /// Time to the response headers (or to the failure).
    pub latency_ms: u64,
    /// Why there was no usable response: refused target, timeout, connection error.
    pub error: Option<String>,
    /// `Retry-After` of the response, in seconds.
    pub retry_after: Option<u64>,
}

impl Sent {
    /// Whether the receiver took it (2xx).
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The shared client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Sender {
    client: reqwest::Client,
    policy: Policy,
}

#[derive(Debug)]
struct GuardedResolver(Policy);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        Box::pin(async move {
            let target = outbound::Target {
                url: url::Url::parse("https://resolver.invalid/").expect("a constant URL"),
                host: name.as_str().to_owned(),
                port: 0,
                ip: None,
            };
            let addrs: Vec<SocketAddr> = outbound::resolve(&target, &policy).await.map_err(Box::new)?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The user agent of every request.
pub const USER_AGENT: &str = concat!("LiveStatus-Webhooks/", env!("CARGO_PKG_VERSION"));

impl Sender {
    /// A client with the given guard policy and total timeout per request.
    pub fn new(policy: Policy, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver(policy)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(USER_AGENT)
            .build()
            .expect("the HTTP client builds");
        Self { client, policy }
    }

    /// The deployment's client: the guard policy from `OUTBOUND_ALLOW_PRIVATE`, and the
    /// contract's 15 s timeout.
    pub fn from_env() -> Self {
        Self::new(Policy::from_env(), Duration::from_secs(15))
    }

    /// The guard policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Checks a webhook URL as it is created or changed: `https` (or `http` where the
    /// policy allows), a literal address only if public, and a name only if it resolves
    /// to public addresses.
    pub async fn check_webhook_url(&self, url: &str) -> Result<(), Refusal> {
        let target = outbound::check_url(url, false, &self.policy)?;
        outbound::resolve(&target, &self.policy).await.map(|_| ())
    }

    /// Checks a monitor URL as it is created or changed: `http` or `https`, a literal
    /// address only if public, and a name only if it resolves to public addresses.
    pub async fn check_monitor_url(&self, url: &str) -> Result<(), Refusal> {
        let target = outbound::check_url(url, true, &self.policy)?;
        outbound::resolve(&target, &self.policy).await.map(|_| ())
    }

    /// POSTs a JSON body. Never fails: a refusal or a transport error is in `error`.
    pub async fn post_json(&self, url: &str, headers: &[(&str, String)], body: Vec<u8>) -> Sent {
        let started = Instant::now();
        let elapsed = |started: Instant| u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Err(refusal) = outbound::check_url(url, false, &self.policy) {
            return Sent { status: None, latency_ms: 0, error: Some(format!("refused: {refusal}")), retry_after: None };
        }
        let mut request = self.client.post(url).header("content-type", "application/json").body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(response) => {
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after_secs(v.trim()));
                Sent {
                    status: Some(response.status().as_u16()),
                    latency_ms: elapsed(started),
                    error: None,
                    retry_after,
                }
            }
            Err(e) => {
                let error = if e.is_timeout() {
                    "timed out".to_owned()
                } else if let Some(refusal) = find_refusal(&e) {
                    format!("refused: {refusal}")
                } else if e.is_connect() {
                    "could not connect".to_owned()
                } else {
                    "request failed".to_owned()
                };
                Sent { status: None, latency_ms: elapsed(started), error: Some(error), retry_after: None }
            }
        }
    }
}

/// The most of a monitored response's body read for its keyword.
pub const KEYWORD_READ_LIMIT: usize = 1 << 20;

impl Sender {
    /// Checks a monitored URL: `GET` or `HEAD` within `timeout` (the whole request, and
    /// the body read when `keyword` is given, up to [`KEYWORD_READ_LIMIT`]). Never fails:
    /// a refusal, a timeout or a transport error is in `error`. Latency is the time to
    /// the response headers.
    pub async fn check(
        &self,
        method: &str,
        url: &str,
        timeout: Duration,
        keyword: Option<&str>,
    ) -> crate::domain::monitor::Probe {
        use crate::domain::monitor::Probe;
        let started = Instant::now();
        let elapsed = |started: Instant| u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Err(refusal) = outbound::check_url(url, true, &self.policy) {
            return Probe { error: Some(format!("refused: {refusal}")), ..Probe::default() };
        }
        let method = if method == "HEAD" { reqwest::Method::HEAD } else { reqwest::Method::GET };
        let request = self.client.request(method, url).timeout(timeout).send();
        let outcome = tokio::time::timeout(timeout, async {
            let response = request.await?;
            let latency_ms = elapsed(started);
            let status = response.status().as_u16();
            let found = match keyword {
                Some(word) => Some(body_contains(response, word).await?),
                None => None,
            };
            Ok::<_, reqwest::Error>((status, latency_ms, found))
        })
        .await;
        match outcome {
            Ok(Ok((status, latency_ms, keyword_found))) => {
                Probe { status: Some(status), latency_ms, error: None, keyword_found }
            }
            Ok(Err(e)) => Probe { latency_ms: elapsed(started), error: Some(describe(&e)), ..Probe::default() },
            Err(_) => Probe { latency_ms: elapsed(started), error: Some("timed out".to_owned()), ..Probe::default() },
        }
    }
}

/// Whether the first [`KEYWORD_READ_LIMIT`] bytes of a body contain `word`.
async fn body_contains(mut response: reqwest::Response, word: &str) -> Result<bool, reqwest::Error> {
    let word = word.as_bytes();
    if word.is_empty() {
        return Ok(true);
    }
    let mut seen: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        // Only where the new bytes could complete a match: the last bytes of the old, and the new.
        let from = seen.len().saturating_sub(word.len() - 1);
        seen.extend_from_slice(&chunk);
        if seen[from..].windows(word.len()).any(|w| w == word) {
            return Ok(true);
        }
        if seen.len() >= KEYWORD_READ_LIMIT {
            return Ok(false);
        }
    }
    Ok(false)
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if let Some(refusal) = find_refusal(e) {
        format!("refused: {refusal}")
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    }
}

fn find_refusal(e: &(dyn std::error::Error + 'static)) -> Option<Refusal> {
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(refusal) = err.downcast_ref::<Refusal>() {
            return Some(refusal.clone());
        }
        source = err.source();
    }
    None
}

/// `Retry-After` as seconds or an HTTP date; `None` when it is neither.
fn retry_after_secs(value: &str) -> Option<u64> {
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    u64::try_from((at.to_utc() - chrono::Utc::now()).num_seconds()).ok()
}
