//! Host routing of custom domains: a request whose host is a page's verified domain gets
//! that page's public tree at the root (`/` is the page, `/api/v2/summary.json` its
//! Statuspage JSON, …). It wraps a whole router (the status function's, or the local
//! server's) because it rewrites the path before routing: `/x` on `status.acme.com`
//! becomes `/status/<slug>/x`, and the page's links are built from the domain.
//!
//! The host is `X-Forwarded-Host` when our own CDN proves it set it (see
//! `livestatus_shared::http::drop_untrusted_forwarding`), else `Host`. The deployment's own
//! hosts (its public URL's, `localhost`, AWS's endpoint names) route as before; any other
//! host costs one strongly consistent read of its domain claim, and is `404` unless it
//! is a verified domain.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use livestatus_shared::domain::custom_domain::{DomainStatus, Hostname, page_root};
use livestatus_shared::{ApiError, AppState};

/// The internal header that carries the root URL of a page served at its domain to the
/// handlers (for [`crate::Links`]). Removed from every incoming request first, so a
/// client can never set it.
pub const PAGE_ROOT_HEADER: &str = "x-livestatus-page-root";

/// `inner` with custom domains routed to their pages.
pub fn with_custom_domains(state: AppState, inner: Router) -> Router {
    Router::new().fallback_service(inner).layer(axum::middleware::from_fn_with_state(state, route))
}

/// The host a request was made to, without its port, lowercase; `None` without one.
fn request_host(req: &Request) -> Option<(String, Option<String>)> {
    let raw = req
        .headers()
        .get("x-forwarded-host")
        .or_else(|| req.headers().get(header::HOST))
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())?;
    let raw = raw.split(',').next().unwrap_or(raw).trim();
    let digits = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let (name, port) = match raw.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
        // An IPv6 literal: `[::1]` or `[::1]:3000`.
        Some((address, tail)) => (format!("[{address}]"), tail.strip_prefix(':').filter(digits)),
        None => match raw.rsplit_once(':') {
            Some((name, port)) if digits(&port) => (name.to_owned(), Some(port)),
            _ => (raw.to_owned(), None),
        },
    };
    let port = port.map(str::to_owned);
    Some((name.trim_end_matches('.').to_ascii_lowercase(), port))
}

/// The deployment's own names: its public URL's host, the loopback names, and the names
/// AWS gives API Gateway, CloudFront and Lambda URLs.
fn own_host(state: &AppState, host: &str) -> bool {
    let public = state.public_url.as_deref().and_then(|u| url::Url::parse(u).ok());
    let public_host = public.as_ref().and_then(|u| u.host_str()).map(str::to_ascii_lowercase);
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1")
        || public_host.as_deref() == Some(host)
        || [".amazonaws.com", ".cloudfront.net", ".on.aws"].iter().any(|suffix| host.ends_with(suffix))
}

/// What a domain's host serves: its page's tree, rewritten under `/status/<slug>`.
async fn route(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    livestatus_shared::http::drop_untrusted_forwarding(req.headers_mut(), livestatus_shared::http::origin_secret());
    req.headers_mut().remove(PAGE_ROOT_HEADER);
    let Some((host, port)) = request_host(&req) else { return next.run(req).await };
    if own_host(&state, &host) {
        return next.run(req).await;
    }
    let claim = match Hostname::parse(&host) {
        Ok(name) => match state.store.domain_claim(name.as_str()).await {
            Ok(claim) => claim,
            Err(e) => return ApiError::from(e).into_response(),
        },
        Err(_) => None,
    };
    let Some(claim) = claim.filter(|c| c.status == DomainStatus::Verified) else {
        return crate::missing_page();
    };
    let path = req.uri().path();
    // The page's own tree only: the API and other pages' trees are not served here.
    if path.starts_with("/status/") || path.starts_with("/api/v1/") || path == "/api/v1" {
        return crate::missing_page();
    }
    let rewritten = match path {
        "/" => format!("/status/{}", claim.slug),
        "/robots.txt" => "/robots.txt".to_owned(),
        other => format!("/status/{}{other}", claim.slug),
    };
    let with_query = match req.uri().query() {
        Some(q) => format!("{rewritten}?{q}"),
        None => rewritten,
    };
    let Ok(uri) = with_query.parse::<Uri>() else { return crate::missing_page() };
    *req.uri_mut() = uri;
    let base = port.map_or_else(|| "http://localhost".to_owned(), |p| format!("http://localhost:{p}"));
    let root = page_root(&host, &base);
    if let Ok(value) = HeaderValue::from_str(&root) {
        req.headers_mut().insert(PAGE_ROOT_HEADER, value);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_of(headers: &[(&'static str, &'static str)]) -> Option<(String, Option<String>)> {
        let mut req = Request::new(axum::body::Body::empty());
        for (k, v) in headers {
            req.headers_mut().insert(*k, HeaderValue::from_static(v));
        }
        request_host(&req)
    }

    #[test]
    fn the_host_is_read_without_its_port_and_case() {
        assert_eq!(host_of(&[("host", "Status.Acme.com")]), Some(("status.acme.com".into(), None)));
        assert_eq!(host_of(&[("host", "acme.localhost:3000")]), Some(("acme.localhost".into(), Some("3000".into()))));
        assert_eq!(
            host_of(&[("host", "x.execute-api.eu-west-1.amazonaws.com"), ("x-forwarded-host", "status.acme.com")]),
            Some(("status.acme.com".into(), None)),
            "the CDN's forwarded host wins (kept only when proven)"
        );
        assert_eq!(host_of(&[("host", "[::1]:3000")]), Some(("[::1]".into(), Some("3000".into()))));
        assert_eq!(host_of(&[]), None);
    }
}
