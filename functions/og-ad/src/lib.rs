//! The ad creative generator: `GET`/`HEAD /api/og/ad` renders a PNG card from its query.
//! Public, no key, no store: the image depends only on the query, so it is cached forever
//! by a strong ETag.

pub mod canvas;
pub mod fonts;
pub mod params;
pub mod render;

use axum::Router;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use livestatus_shared::ApiError;

pub use params::{CardParams, Theme, Variant};

const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// This function's routes, for merging into the local server (state-agnostic).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/api/og/ad", get(get_ad))
}

/// The function's complete router: no authentication, CORS (it also answers every
/// preflight of the API on AWS: see `PREFLIGHT_ROUTE`), the shared error envelope.
pub fn router() -> Router {
    routes()
        .fallback(livestatus_shared::http::route_not_found)
        .layer(axum::middleware::from_fn_with_state(
            livestatus_shared::cors::Cors::from_env(),
            livestatus_shared::cors::cors,
        ))
        .layer(axum::middleware::from_fn(livestatus_shared::http::request_context))
}

/// Renders a card to PNG bytes.
pub fn render_png(card: &CardParams) -> Vec<u8> {
    render::render(card).encode_png()
}

/// `GET /api/og/ad` (axum answers `HEAD` from it without the body).
async fn get_ad(headers: HeaderMap, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let card = CardParams::parse(&params::decode_query(query.as_deref().unwrap_or(""))?)?;
    let etag = card.etag();
    let mut response = if if_none_match(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        // Rendering is CPU-bound (a few ms): keep it off the async workers.
        let png = tokio::task::spawn_blocking(move || render_png(&card)).await.map_err(ApiError::internal)?;
        let mut r = png.into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
        r
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex is a valid header"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    Ok(response)
}

/// Whether `If-None-Match` names this ETag (weak comparison, as RFC 9110 asks for it).
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag))
}
