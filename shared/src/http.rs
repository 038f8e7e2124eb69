//! Request plumbing shared by every router: request ids and the one error renderer,
//! JSON bodies (64 KiB, unknown fields and wrong types named), list parameters, and the
//! `{data}` / `{data, meta}` success envelopes.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ErrorBody, envelope};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The id of the request being served, in the request's extensions.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The header by which our CloudFront distribution proves a request came through it
/// (`OriginCustomHeaders` in `template.yaml`); its value is `ORIGIN_VERIFY_SECRET`.
pub const ORIGIN_VERIFY_HEADER: &str = "x-origin-verify";

/// The secret our CDN proves its forwarded headers with (`ORIGIN_VERIFY_SECRET`), read
/// once (`None`: no CDN in front, as locally).
pub fn origin_secret() -> Option<&'static str> {
    static SECRET: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    SECRET.get_or_init(|| std::env::var("ORIGIN_VERIFY_SECRET").ok().filter(|s| !s.is_empty())).as_deref()
}

/// Keeps `X-Forwarded-Host` only when the request proves it came through our own CDN
/// (its origin header equals `secret`, compared in constant time); a client's own is
/// dropped, so no link is ever built from it. The proof itself never reaches a handler.
pub fn drop_untrusted_forwarding(headers: &mut axum::http::HeaderMap, secret: Option<&str>) {
    let proven = match (secret, headers.get(ORIGIN_VERIFY_HEADER)) {
        (Some(secret), Some(given)) => {
            use subtle_eq::ConstantTimeEq as _;
            given.as_bytes().ct_eq(secret.as_bytes())
        }
        _ => false,
    };
    headers.remove(ORIGIN_VERIFY_HEADER);
    if !proven {
        headers.remove("x-forwarded-host");
        headers.remove(VIEWER_ADDRESS_HEADER);
    }
}

/// The reader's address as our CloudFront distribution passes it on (`ip:port`), kept
/// only with the CDN's proof like `X-Forwarded-Host`.
pub const VIEWER_ADDRESS_HEADER: &str = "cloudfront-viewer-address";

/// The address a request came from: the CDN's viewer address where the CDN is ours
/// (proven, see [`drop_untrusted_forwarding`]), else API Gateway's source address (the
/// Lambda functions) or the connection's (the local server); `unknown` when none is known.
pub fn client_address(req: &axum::extract::Request) -> String {
    if let Some(viewer) = req.headers().get(VIEWER_ADDRESS_HEADER).and_then(|v| v.to_str().ok()) {
        // `203.0.113.7:46532` or `[2001:db8::1]:46532`: the address without the port.
        let host = viewer.rsplit_once(':').map_or(viewer, |(host, _)| host);
        return host.trim_matches(['[', ']']).to_owned();
    }
    if let Some(source) = req.extensions().get::<ClientAddress>() {
        return source.0.clone();
    }
    if let Some(axum::extract::ConnectInfo(addr)) =
        req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        return addr.ip().to_string();
    }
    "unknown".to_owned()
}

/// The source address of a request as its host put it into the request (the Lambda
/// entry points copy API Gateway's `sourceIp` here).
#[derive(Clone, Debug)]
pub struct ClientAddress(pub String);

/// Equality in time independent of where two byte strings differ.
mod subtle_eq {
    /// Constant-time equality.
    pub trait ConstantTimeEq {
        /// Whether `self` equals `other`, looking at every byte.
        fn ct_eq(&self, other: &Self) -> bool;
    }

    impl ConstantTimeEq for [u8] {
        fn ct_eq(&self, other: &[u8]) -> bool {
            if self.len() != other.len() {
                return false;
            }
            self.iter().zip(other).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        }
    }
}

/// Headers on every response: `nosniff`, and HSTS (browsers heed it over HTTPS only, so
/// the local run over plain HTTP is unaffected).
fn secure_headers(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
}

/// Outermost middleware: gives the request an id, answers with `X-Request-Id`, and renders
/// every error (ours and the router's own 404/405) as the documented envelope. Drops a
/// forwarded host that did not come from our CDN, and sets the security headers.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    drop_untrusted_forwarding(req.headers_mut(), origin_secret());
    let id = uuid::Uuid::new_v4().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut response = next.run(req).await;

    // A response that brings its own body (the status pages' HTML 404) is left as it is.
    let bare = !response.headers().contains_key(header::CONTENT_TYPE);
    let error = response.extensions_mut().remove::<ErrorBody>().or_else(|| match response.status() {
        _ if !bare => None,
        StatusCode::NOT_FOUND => Some(ErrorBody { code: "not_found", message: "No such route.".into() }),
        StatusCode::METHOD_NOT_ALLOWED => Some(ErrorBody {
            code: "method_not_allowed",
            message: format!("{method} is not allowed on this path; see the Allow header."),
        }),
        _ => None,
    });
    if let Some(error) = error {
        let (mut parts, _) = response.into_parts();
        let body = serde_json::to_vec(&envelope(&error, &id)).expect("envelope serializes");
        parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        parts.headers.remove(header::CONTENT_LENGTH);
        response = Response::from_parts(parts, Body::from(body));
        tracing::info!(%method, %path, status = response.status().as_u16(), code = error.code, request_id = %id, "request rejected");
    } else {
        tracing::info!(%method, %path, status = response.status().as_u16(), request_id = %id, "request served");
    }
    response.headers_mut().insert("x-request-id", HeaderValue::from_str(&id).expect("uuid is a valid header"));
    secure_headers(response.headers_mut());
    response
}

/// Fallback for paths no router knows.
pub async fn route_not_found() -> ApiError {
    ApiError::NotFound("No such route.".into())
}

/// A JSON object body deserialized into `T`. Over 64 KiB is 413; not an object, a wrong
/// type or an unknown field (`T` should deny them) is 400 naming the field.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Reads a body of at most 64 KiB (413 beyond, whether declared or streamed).
pub async fn read_body(req: Request) -> Result<Bytes, ApiError> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(http_body_util::Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiError::PayloadTooLarge
            } else {
                ApiError::InvalidRequest("The request body could not be read.".into())
            }
        })?
        .to_bytes())
}

/// Parses a JSON object into `T`, naming the field in every error.
pub fn parse_json<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    from_value(parse_object(bytes)?)
}

fn parse_object(bytes: &Bytes) -> Result<serde_json::Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidRequest("The request body must be a JSON object.".into()));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::InvalidRequest(format!("The request body is not valid JSON: {e}.")))?;
    if !value.is_object() {
        return Err(ApiError::InvalidRequest("The request body must be a JSON object.".into()));
    }
    Ok(value)
}

fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." || path.is_empty() {
            ApiError::InvalidRequest(format!("{inner}."))
        } else {
            ApiError::InvalidRequest(format!("`{path}`: {inner}."))
        }
    })
}

/// `?limit=` (1–100, default 50) and `?cursor=` of list endpoints, plus any other query
/// parameters for the handler to read.
#[derive(Debug)]
pub struct ListParams {
    /// Page size.
    pub limit: u32,
    /// Opaque cursor from a previous `nextCursor`.
    pub cursor: Option<String>,
    /// Other parameters, decoded.
    pub other: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded_pairs(query)?;
        let mut params = ListParams { limit: 50, cursor: None, other: Vec::new() };
        for (name, value) in pairs {
            match name.as_str() {
                "limit" => {
                    params.limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|l| (1..=100).contains(l))
                        .ok_or_else(|| ApiError::invalid_field("limit", "must be an integer from 1 to 100"))?;
                }
                "cursor" => params.cursor = Some(value),
                _ => params.other.push((name, value)),
            }
        }
        Ok(params)
    }
}

impl ListParams {
    /// Rejects query parameters other than `limit`, `cursor` and `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.other.iter().find(|(name, _)| !allowed.contains(&name.as_str())) {
            Some((name, _)) => Err(ApiError::InvalidRequest(format!("Unknown query parameter `{name}`."))),
            None => Ok(()),
        }
    }

    /// The value of an allowed extra parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.other.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[cfg(feature = "store")]
    /// `?from=` and `?to=` as UTC days (`YYYY-MM-DD`), inclusive: `to` defaults to
    /// `today`, `from` to `default_days` ending at `to`; at most `max_days`.
    pub fn date_range(
        &self,
        today: chrono::NaiveDate,
        default_days: i64,
        max_days: i64,
    ) -> Result<(chrono::NaiveDate, chrono::NaiveDate), ApiError> {
        let date = |name: &str| {
            self.get(name)
                .map(|raw| {
                    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                        .ok()
                        .filter(|_| raw.len() == 10)
                        .ok_or_else(|| ApiError::invalid_field(name, "must be a date as YYYY-MM-DD"))
                })
                .transpose()
        };
        let to = date("to")?.unwrap_or(today);
        let from = date("from")?.unwrap_or(to - chrono::Duration::days(default_days - 1));
        if from > to {
            return Err(ApiError::invalid_field("from", "must not be after `to`"));
        }
        if (to - from).num_days() + 1 > max_days {
            return Err(ApiError::invalid_field("from", format_args!("the range may span at most {max_days} days")));
        }
        Ok((from, to))
    }
}

fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{query}").parse().map_err(|_| ApiError::InvalidRequest("The query string is malformed.".into()))?,
    )
    .map(|q| q.0)
    .map_err(|_| ApiError::InvalidRequest("The query string is malformed.".into()))
}

/// `{"data": …}`, with a status.
pub fn data<T: Serialize>(status: StatusCode, value: T) -> Response {
    json_response(status, data_body(&value))
}

pub use crate::envelope::data_body;

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(feature = "store")]
/// The answer of a create that honours `Idempotency-Key`: 201 with the new resource, or
/// the first response replayed byte for byte with `Idempotent-Replayed: true`.
pub fn created<T: Serialize>(outcome: crate::store::idempotency::Outcome<T>) -> Response {
    match outcome {
        crate::store::idempotency::Outcome::Created(value) => data(StatusCode::CREATED, value),
        crate::store::idempotency::Outcome::Replayed { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
            let mut response = json_response(status, body);
            response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
    }
}

#[cfg(feature = "store")]
/// A JSON body and its `Idempotency-Key`, for POSTs that create. The key's fingerprint
/// covers method, path and the canonical body, so reusing a key for anything else is a
/// conflict.
#[derive(Debug)]
pub struct IdempotentJson<T> {
    /// The request, parsed.
    pub body: T,
    /// The key, when the client sent one.
    pub key: Option<crate::store::idempotency::IdempotencyKey>,
}

#[cfg(feature = "store")]
impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for IdempotentJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let key =
            req.headers().get("idempotency-key").map(|v| crate::domain::idempotency_key(v.as_bytes())).transpose()?;
        let method = req.method().to_string();
        let path = req.uri().path().to_owned();
        let bytes = read_body(req).await?;
        let value = parse_object(&bytes)?;
        let key = key.map(|k| crate::store::idempotency::IdempotencyKey::new(&k, &method, &path, &value));
        Ok(Self { body: from_value(value)?, key })
    }
}

/// `{"data": […], "meta": {"count", "nextCursor"}}`.
pub fn list<T: Serialize>(items: Vec<T>, next_cursor: Option<String>) -> Response {
    // Typed, not `json!`: no `Value` tree built and thrown away on every listing.
    #[derive(Serialize)]
    struct Listing<T> {
        data: Vec<T>,
        meta: Meta,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Meta {
        count: usize,
        next_cursor: Option<String>,
    }
    let meta = Meta { count: items.len(), next_cursor };
    json_response(StatusCode::OK, serde_json::to_vec(&Listing { data: items, meta }).expect("API values serialize"))
}

/// Deserializes a field that may be absent (`None`), `null` (`Some(None)`) or a value.
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Parses a path id; anything that is not a UUID is simply not found.
pub fn path_id(raw: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::not_found(what))
}

/// The base of public links for a request: `PUBLIC_BASE_URL` (a custom domain), else the
/// reader's host as CloudFront passes it on (`X-Forwarded-Host`, set by the
/// distribution's viewer function and kept only with the CDN's proof, see
/// [`drop_untrusted_forwarding`]), else the request's `Host` (plain `http` for a local
/// one). No trailing `/`.
pub fn public_base_url(headers: &axum::http::HeaderMap) -> String {
    let base = std::env::var("PUBLIC_BASE_URL").ok().filter(|b| !b.is_empty()).unwrap_or_else(|| {
        let header = |name| headers.get(name).and_then(|h: &axum::http::HeaderValue| h.to_str().ok());
        let host = header("x-forwarded-host").or_else(|| header("host")).unwrap_or("localhost");
        let local = host.starts_with("localhost") || host.starts_with("127.0.0.1") || host.starts_with("[::1]");
        format!("{}://{host}", if local { "http" } else { "https" })
    });
    base.trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod forwarding_tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> axum::http::HeaderMap {
        pairs.iter().map(|(k, v)| (axum::http::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn a_forwarded_host_is_kept_only_with_the_cdns_secret() {
        let mut proven = headers(&[("x-forwarded-host", "status.acme.test"), (ORIGIN_VERIFY_HEADER, "s3cret")]);
        drop_untrusted_forwarding(&mut proven, Some("s3cret"));
        assert_eq!(proven.get("x-forwarded-host").unwrap(), "status.acme.test");
        assert!(proven.get(ORIGIN_VERIFY_HEADER).is_none(), "the proof never reaches a handler");

        for (given, secret) in [(Some("wrong!"), Some("s3cret")), (None, Some("s3cret")), (Some("s3cret"), None)] {
            let mut forged = headers(&[("x-forwarded-host", "evil.example")]);
            if let Some(given) = given {
                forged.insert(ORIGIN_VERIFY_HEADER, HeaderValue::from_static(given));
            }
            drop_untrusted_forwarding(&mut forged, secret);
            assert!(forged.get("x-forwarded-host").is_none(), "{given:?} against {secret:?}");
        }
    }
}
