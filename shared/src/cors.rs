//! Cross-origin requests. Public routes (no key: the generator, the OpenAPI document and,
//! later, the status pages) may be read from any origin: `Access-Control-Allow-Origin: *`
//! and preflights answered. Keyed routes get no CORS at all unless the operator lists
//! origins in `CORS_ALLOWED_ORIGINS` (the template's `CorsAllowedOrigins`): a browser
//! holding a key is then allowed from exactly those origins.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::routes;

/// How long browsers may cache a preflight answer, in seconds.
const MAX_AGE: &str = "86400";
/// Headers a browser script may read on public responses.
const PUBLIC_EXPOSE: &str = "ETag, X-Request-Id";
/// Headers a browser script may send and read on keyed routes.
const KEYED_ALLOW_HEADERS: &str = "Authorization, X-API-Key, Content-Type, Idempotency-Key";
const KEYED_EXPOSE: &str =
    "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, Idempotent-Replayed";

/// Marks the answer of a public route that no other origin may read (a protected
/// status page's): it gets no `Access-Control-Allow-Origin: *`.
#[derive(Clone, Copy, Debug)]
pub struct NotShared;

/// The origins an operator allows on keyed routes; empty (the default) allows none.
#[derive(Clone, Debug, Default)]
pub struct Cors {
    origins: Arc<[String]>,
}

impl Cors {
    /// From `CORS_ALLOWED_ORIGINS`: comma-separated origins such as
    /// `https://admin.example.com`; unset or empty allows none.
    pub fn from_env() -> Self {
        Self::new(std::env::var("CORS_ALLOWED_ORIGINS").unwrap_or_default().split(','))
    }

    /// From a list of origins; blanks are ignored and a trailing `/` is dropped.
    pub fn new<'a>(origins: impl IntoIterator<Item = &'a str>) -> Self {
        let origins: Vec<String> =
            origins.into_iter().map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect();
        Self { origins: origins.into() }
    }

    fn allows<'h>(&self, headers: &'h HeaderMap) -> Option<&'h HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        self.origins.iter().any(|o| o.as_bytes() == origin.as_bytes()).then_some(origin)
    }
}

/// Middleware (inside the request context, outside authentication): answers preflights
/// and adds the CORS headers described in the module documentation.
pub async fn cors(State(cors): State<Cors>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let Some(pattern) = routes::pattern_of(path) else { return next.run(req).await };
    if routes::is_public(pattern) {
        if req.method() == Method::OPTIONS {
            let mut response = StatusCode::NO_CONTENT.into_response();
            let h = response.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD, OPTIONS"));
            if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
            }
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
            h.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
            return response;
        }
        let mut response = next.run(req).await;
        if response.extensions().get::<NotShared>().is_some() {
            return response;
        }
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(PUBLIC_EXPOSE));
        return response;
    }
    let methods = routes::methods(pattern).join(", ");
    let Some(origin) = cors.allows(req.headers()).cloned() else {
        if req.method() == Method::OPTIONS {
            // No CORS here: OPTIONS is a method this path does not serve.
            let mut response = ApiError::MethodNotAllowed.into_response();
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_str(&methods).expect("methods are header text"));
            return response;
        }
        return next.run(req).await;
    };
    let mut response = if req.method() == Method::OPTIONS {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let h = response.headers_mut();
        let allowed = HeaderValue::from_str(&format!("{methods}, OPTIONS")).expect("methods are header text");
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, allowed);
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(KEYED_ALLOW_HEADERS));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
        response
    } else {
        next.run(req).await
    };
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(KEYED_EXPOSE));
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    response
}
