//! The public status pages: everything under `/status/{slug}`, no key. The HTML page, an
//! incident's permalink and the history; the Statuspage-compatible JSON; feeds, the
//! maintenance calendar, badges, the link-preview card and the health check. Every
//! response is cacheable (`Cache-Control`, strong `ETag`, `304`), and a private or
//! unknown page is the same 404 on every route.

pub mod access;
pub mod badge;
pub mod domains;
pub mod feeds;
pub mod html;
pub mod statuspage;
pub mod subscribe;
pub mod view;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Duration;
use http_body_util::BodyExt;
use livestatus_shared::domain::HexColor;
use livestatus_shared::domain::custom_domain::DomainStatus;
use livestatus_shared::http::{ListParams, path_id};
use livestatus_shared::{ApiError, AppState};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::{Reader, Route};
use crate::badge::{Badge, Style, Theme, colors};
use crate::view::{Indicator, Timelines, View};

/// What every public GET may be cached for: browsers 30 s, CloudFront 10 s, and served
/// stale while revalidating or when the origin fails.
pub const CACHE_CONTROL: &str = "public, max-age=30, s-maxage=10, stale-while-revalidate=30, stale-if-error=86400";
/// The health check's: cached as briefly, but never served stale, since its `503` is
/// the answer that monitors of the page wait for (`stale-if-error` would hide it).
pub const HEALTH_CACHE_CONTROL: &str = "public, max-age=10, s-maxage=10";
/// A protected page's: kept by no cache but the reader's own, and not even there.
pub const PRIVATE_CACHE_CONTROL: &str = "private, no-store";
/// Incidents per page of the history and entries of the feeds.
const PER_PAGE: usize = 20;
/// Entries of the feeds and of `incidents.json`.
pub(crate) const RECENT: usize = 50;
/// Longest `?label=` of a badge.
const LABEL_MAX: usize = 40;

/// This function's routes, for merging into the local server.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/status/{slug}", get(get_page))
        .route("/status/{slug}/incidents/{incidentId}", get(get_incident))
        .route("/status/{slug}/history", get(get_history))
        .route("/status/{slug}/api/v2/summary.json", get(get_summary))
        .route("/status/{slug}/api/v2/status.json", get(get_status))
        .route("/status/{slug}/api/v2/components.json", get(get_components))
        .route("/status/{slug}/api/v2/incidents.json", get(get_incidents))
        .route("/status/{slug}/api/v2/incidents/unresolved.json", get(get_unresolved))
        .route("/status/{slug}/api/v2/scheduled-maintenances.json", get(get_maintenances))
        .route("/status/{slug}/api/v2/scheduled-maintenances/upcoming.json", get(get_upcoming_maintenances))
        .route("/status/{slug}/api/v2/scheduled-maintenances/active.json", get(get_active_maintenances))
        .route("/status/{slug}/history.atom", get(get_atom))
        .route("/status/{slug}/history.rss", get(get_rss))
        .route("/status/{slug}/maintenance.ics", get(get_ics))
        .route("/status/{slug}/badge.svg", get(get_badge))
        .route("/status/{slug}/services/{serviceId}/badge.svg", get(get_service_badge))
        .route("/status/{slug}/badge.json", get(get_badge_json))
        .route("/status/{slug}/og.png", get(get_og))
        .route("/status/{slug}/health", get(get_health))
        .route("/status/{slug}/embed", get(get_embed))
        .route("/status/{slug}/login", axum::routing::post(access::post_login))
        .route("/status/{slug}/subscribe", axum::routing::post(subscribe::post_subscribe))
        .route("/status/{slug}/subscriptions/confirm", get(subscribe::get_confirm))
        .route("/status/{slug}/unsubscribe", get(subscribe::get_unsubscribe).post(subscribe::post_unsubscribe))
        .route("/robots.txt", get(get_robots))
        .layer(axum::middleware::from_fn(cache))
}

/// The function's complete router.
pub fn router(state: AppState) -> Router {
    livestatus_shared::finish_router(routes(), state)
}

/// Absolute URLs of a page's public routes: at the root of its domain when the request
/// came to it ([`domains`]); else under `/status/{slug}` from `PUBLIC_BASE_URL`, else the
/// reader's host as CloudFront passes it on (`X-Forwarded-Host`, set by the
/// distribution's viewer function), else the request's `Host` (the local run).
#[derive(Clone, Debug)]
pub struct Links {
    /// The page's URL; every other link is under it.
    root: String,
    /// The deployment's base URL, for the canonical domain URL of the local run.
    base: String,
}

impl Links {
    /// Links for `slug`, based on the environment or the request.
    pub fn new(headers: &HeaderMap, slug: &str) -> Self {
        let base = livestatus_shared::http::public_base_url(headers);
        let at_domain = headers.get(domains::PAGE_ROOT_HEADER).and_then(|v| v.to_str().ok());
        let root = at_domain.map_or_else(|| format!("{base}/status/{slug}"), str::to_owned);
        Self { root, base }
    }

    /// The status page.
    pub fn page(&self) -> String {
        self.root.clone()
    }

    /// `url` (one of these links) as the canonical URL: at the page's domain once it is
    /// verified, wherever it was read.
    pub fn canonical(&self, page: &livestatus_shared::store::pages::Page, url: String) -> String {
        match (&page.domain, page.domain_status) {
            (Some(domain), Some(DomainStatus::Verified)) => {
                let root = livestatus_shared::domain::custom_domain::page_root(domain, &self.base);
                url.strip_prefix(&self.root).map_or(url.clone(), |rest| format!("{root}{rest}"))
            }
            _ => url,
        }
    }

    /// An incident's permalink (Statuspage's `shortlink`).
    pub fn incident(&self, id: Uuid) -> String {
        format!("{}/incidents/{id}", self.page())
    }

    /// The history.
    pub fn history(&self) -> String {
        format!("{}/history", self.page())
    }

    /// A feed, filtered to a service or not.
    pub fn feed(&self, name: &str, service: Option<Uuid>) -> String {
        match service {
            Some(s) => format!("{}/{name}?service={s}", self.page()),
            None => format!("{}/{name}", self.page()),
        }
    }
}

/// The answer of every route for a page that is not there (or not public).
#[derive(Debug)]
enum Missing {
    /// An HTML page.
    Html,
    /// The JSON envelope.
    Json(&'static str),
}

impl From<Missing> for Response {
    fn from(missing: Missing) -> Self {
        match missing {
            Missing::Html => {
                let doc = html::not_found();
                html_response(StatusCode::NOT_FOUND, doc)
            }
            Missing::Json(what) => ApiError::not_found(what).into_response(),
        }
    }
}

/// The view a route shows, once the reader may see it: `404` for a page that is not
/// there or not public, the sign-in form or `page_locked` for a protected page the reader
/// has not unlocked ([`access`]).
async fn load(
    state: &AppState,
    reader: &Reader,
    slug: &str,
    history: bool,
    timelines: Timelines,
    missing: Missing,
) -> Result<View, Response> {
    let route = match missing {
        Missing::Html => Route::Html,
        Missing::Json(_) => Route::Machine,
    };
    match View::load(state, slug, history, timelines).await {
        Ok(Some(view)) => reader.check(state, &view.page, route).map(|()| view),
        Ok(None) => Err(missing.into()),
        Err(e) => Err(e.into_response()),
    }
}

/// The HTML 404 of a page that is not there (an unknown host too).
pub(crate) fn missing_page() -> Response {
    Missing::Html.into()
}

pub(crate) fn html_response(status: StatusCode, doc: html::Document) -> Response {
    let mut response = (status, doc.html).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // connect-src: no script can run (script-src falls back to 'none'); crawlers and
    // audits fetch robots.txt from the page's context.
    let csp = format!(
        "default-src 'none'; style-src '{}'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        doc.style_hash
    );
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(&csp).expect("hash is header-safe"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    response
}

fn typed(body: impl Into<Body>, content_type: &'static str) -> Response {
    let mut response = Response::new(body.into());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn json(value: serde_json::Value) -> Response {
    typed(serde_json::to_vec(&value).expect("JSON serializes"), "application/json")
}

type Answer = Result<Response, Response>;

async fn get_page(State(state): State<AppState>, reader: Reader, Path(slug): Path<String>) -> Answer {
    let view = load(&state, &reader, &slug, true, Timelines::Open, Missing::Html).await?;
    Ok(html_response(
        StatusCode::OK,
        html::page(&view, &Links::new(&reader.headers, &slug), state.email_from.is_some()),
    ))
}

async fn get_incident(
    State(state): State<AppState>,
    reader: Reader,
    Path((slug, id)): Path<(String, String)>,
) -> Answer {
    let id = Uuid::parse_str(&id).map_err(|_| Response::from(Missing::Html))?;
    let view = load(&state, &reader, &slug, false, Timelines::Only(id), Missing::Html).await?;
    let links = Links::new(&reader.headers, &slug);
    if let Some(incident) = view.incidents.iter().find(|i| i.id == id) {
        return Ok(html_response(StatusCode::OK, html::incident(&view, incident, &links)));
    }
    // A maintenance window's permalink: the same route, as Statuspage's shortlinks.
    let maintenance = view.maintenance(id).ok_or_else(|| Response::from(Missing::Html))?;
    Ok(html_response(StatusCode::OK, html::maintenance(&view, maintenance, &links)))
}

async fn get_history(
    State(state): State<AppState>,
    reader: Reader,
    Path(slug): Path<String>,
    params: ListParams,
) -> Answer {
    let before = match params.cursor.as_deref() {
        Some(c) => Some(
            Uuid::parse_str(c)
                .map_err(|_| ApiError::invalid_field("cursor", "is not a cursor of this list").into_response())?,
        ),
        None => None,
    };
    let view = load(&state, &reader, &slug, false, Timelines::None, Missing::Html).await?;
    let links = Links::new(&reader.headers, &slug);
    let older: Vec<_> = html::past(&view).into_iter().filter(|p| before.is_none_or(|b| p.id() < b)).collect();
    let shown = &older[..older.len().min(PER_PAGE)];
    let next = (older.len() > PER_PAGE).then(|| format!("{}?cursor={}", links.history(), shown[PER_PAGE - 1].id()));
    Ok(html_response(StatusCode::OK, html::history(&view, &links, shown, next)))
}

const PAGE: Missing = Missing::Json("Status page");

async fn get_summary(State(state): State<AppState>, reader: Reader, Path(slug): Path<String>) -> Answer {
    let view = load(&state, &reader, &slug, false, Timelines::Open, PAGE).await?;
    Ok(json(statuspage::summary(&view, &Links::new(&reader.headers, &slug))))
}

async fn get_status(State(state): State<AppState>, reader: Reader, Path(slug): Path<String>) -> Answer {
    let view = load(&state, &reader, &slug, false, Timelines::None, PAGE).await?;
    let links = Links::new(&reader.headers, &slug);
    Ok(json(serde_json::json!({ "page": statuspage::page(&view, &links), "status": statuspage::status(&view) })))
}

async fn get_components(State(state): State<AppState>, reader: Reader, Path(slug): Path<String>) -> Answer {
    let view = load(&state, &reader, &slug, false, Timelines::None, PAGE).await?;
    let links = Links::new(&reader.headers, &slug);
    Ok(json(
        serde_json::json!({ "page": statuspage::page(&view, &links), "components": statuspage::components(&view) }),
    ))
}

async fn get_incidents(State(state): State<AppState>, reader: Reader, Path(slug): Path<String>) -> Answer {
    let view = load(&state, &reader, &slug, false, Timelines::Recent(RECENT, None), PAGE).await?;
    let links = Links::new(&reader.headers, &slug);
    Ok(json(statuspage::incidents(&view, &links, view.incidents.iter().take(RECENT))))
}

async fn get_unresolved(State(state): State<AppState>, reader: Reader, Path(slug): Path<String>) -> Answer {
    let view = load(&state, &reader, &slug, false, Timelines::Open, PAGE).await?;
    let links = Links::new(&reader.headers, &slug);
    Ok(json(statuspage::incidents(&view, &links, view.open_incidents())))
}

async fn maintenances(state: &AppState, reader: &Reader, slug: &str, which: statuspage::Maintenances) -> Answer {
    let view = load(state, reader, slug, false, Timelines::None, PAGE).await?;
    Ok(json(statuspage::maintenances(&view, &Links::new(&reader.headers, slug), which)))
}

async fn get_maintenances(State(state): State<AppState>, reader: Reader, Path(slug): Path<String>) -> Answer {
    maintenances(&state, &reader, &slug, statuspage::Maintenances::All).await
}

async fn get_upcoming_maintenances(State(state): State<AppState>, reader: Reader, Path(slug): Path<String>) -> Answer {
    maintenances(&state, &reader, &slug, statuspage::Maintenances::Upcoming).await
}

async fn get_active_maintenances(State(state): State<AppState>, reader: Reader, Path(slug): Path<String>) -> Answer {
    maintenances(&state, &reader, &slug, statuspage::Maintenances::Active).await
}

/// `?service=<id>` of the feeds.
fn service_filter(params: &ListParams) -> Result<Option<Uuid>, ApiError> {
    params
        .get("service")
        .map(|s| Uuid::parse_str(s).map_err(|_| ApiError::invalid_field("service", "must be a service id")))
        .transpose()
}

async fn get_atom(
    State(state): State<AppState>,
    reader: Reader,
    Path(slug): Path<String>,
    params: ListParams,
) -> Answer {
    let service = service_filter(&params).map_err(IntoResponse::into_response)?;
    let view = load(&state, &reader, &slug, false, Timelines::Recent(RECENT, service), PAGE).await?;
    Ok(typed(feeds::atom(&view, &Links::new(&reader.headers, &slug), service), "application/atom+xml; charset=utf-8"))
}

async fn get_rss(
    State(state): State<AppState>,
    reader: Reader,
    Path(slug): Path<String>,
    params: ListParams,
) -> Answer {
    let service = service_filter(&params).map_err(IntoResponse::into_response)?;
    let view = load(&state, &reader, &slug, false, Timelines::Recent(RECENT, service), PAGE).await?;
    Ok(typed(feeds::rss(&view, &Links::new(&reader.headers, &slug), service), "application/rss+xml; charset=utf-8"))
}

async fn get_ics(State(state): State<AppState>, reader: Reader, Path(slug): Path<String>) -> Answer {
    let view = load(&state, &reader, &slug, false, Timelines::None, PAGE).await?;
    Ok(typed(feeds::ics(&view, &Links::new(&reader.headers, &slug)), "text/calendar; charset=utf-8"))
}

/// The look of a badge from `?style=`, `?theme=` and `?label=`.
struct Look {
    style: Style,
    theme: Theme,
    label: Option<String>,
}

fn look(params: &ListParams) -> Result<Look, ApiError> {
    let bad = ApiError::invalid_field;
    let style = match params.get("style") {
        None | Some("flat") => Style::Flat,
        Some("flat-square") => Style::FlatSquare,
        Some(_) => return Err(bad("style", "must be flat or flat-square")),
    };
    let theme = match params.get("theme") {
        None | Some("light") => Theme::Light,
        Some("dark") => Theme::Dark,
        Some("auto") => Theme::Auto,
        Some(_) => return Err(bad("theme", "must be light, dark or auto")),
    };
    let label =
        params.get("label").map(|l| livestatus_shared::domain::name("label", l.to_owned(), LABEL_MAX)).transpose()?;
    Ok(Look { style, theme, label })
}

fn overall_badge(view: &View, label: Option<String>) -> Badge {
    let (message, color) = match view.indicator() {
        Indicator::None => ("operational", colors::GREEN),
        Indicator::Maintenance => ("maintenance", colors::BLUE),
        Indicator::Minor => ("minor outage", colors::YELLOW),
        Indicator::Major => ("partial outage", colors::ORANGE),
        Indicator::Critical => ("major outage", colors::RED),
    };
    Badge { label: label.unwrap_or_else(|| "status".to_owned()), message: message.to_owned(), color }
}

fn svg(badge: &Badge, look: &Look) -> Response {
    let mut response = typed(badge::svg(badge, look.style, look.theme), "image/svg+xml");
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    response
}

async fn get_badge(
    State(state): State<AppState>,
    reader: Reader,
    Path(slug): Path<String>,
    params: ListParams,
) -> Answer {
    let look = look(&params).map_err(IntoResponse::into_response)?;
    let view = load(&state, &reader, &slug, false, Timelines::None, PAGE).await?;
    Ok(svg(&overall_badge(&view, look.label.clone()), &look))
}

async fn get_badge_json(
    State(state): State<AppState>,
    reader: Reader,
    Path(slug): Path<String>,
    params: ListParams,
) -> Answer {
    let look = look(&params).map_err(IntoResponse::into_response)?;
    let view = load(&state, &reader, &slug, false, Timelines::None, PAGE).await?;
    Ok(json(badge::shields(&overall_badge(&view, look.label))))
}

async fn get_service_badge(
    State(state): State<AppState>,
    reader: Reader,
    Path((slug, service)): Path<(String, String)>,
    params: ListParams,
) -> Answer {
    let look = look(&params).map_err(IntoResponse::into_response)?;
    let uptime = match params.get("metric") {
        None | Some("status") => false,
        Some("uptime") => true,
        Some(_) => return Err(ApiError::invalid_field("metric", "must be status or uptime").into_response()),
    };
    let window = match params.get("window") {
        Some("24h") => Duration::hours(24),
        Some("7d") => Duration::days(7),
        None | Some("30d") => Duration::days(30),
        Some("90d") => Duration::days(90),
        Some(_) => return Err(ApiError::invalid_field("window", "must be 24h, 7d, 30d or 90d").into_response()),
    };
    let service = path_id(&service, "Service").map_err(IntoResponse::into_response)?;
    let view = load(&state, &reader, &slug, uptime, Timelines::None, PAGE).await?;
    let service =
        view.services.iter().find(|s| s.id == service).ok_or_else(|| ApiError::not_found("Service").into_response())?;
    let label = look.label.clone().unwrap_or_else(|| service.name.clone());
    let badge = if uptime {
        let value = view.service_uptime(service, window);
        let color = match value {
            None => colors::GREY,
            Some(p) if p >= 99.9 => colors::GREEN,
            Some(p) if p >= 99.0 => colors::YELLOW,
            Some(p) if p >= 95.0 => colors::ORANGE,
            Some(_) => colors::RED,
        };
        Badge { label, message: value.map_or_else(|| "no data".to_owned(), |p| format!("{p}%")), color }
    } else {
        use livestatus_shared::domain::ServiceStatus::*;
        let (message, color) = match service.current_status {
            Operational => ("operational", colors::GREEN),
            Degraded => ("degraded", colors::YELLOW),
            Outage => ("outage", colors::RED),
            Maintenance => ("maintenance", colors::BLUE),
        };
        Badge { label, message: message.to_owned(), color }
    };
    Ok(svg(&badge, &look))
}

async fn get_og(State(state): State<AppState>, reader: Reader, Path(slug): Path<String>) -> Answer {
    let view = load(&state, &reader, &slug, false, Timelines::None, PAGE).await?;
    let mut card = livestatus_og_ad::CardParams::new(&view.page.name);
    card.headline = view.page.name.chars().take(livestatus_og_ad::params::HEADLINE_MAX).collect();
    card.subhead = view.indicator().description().to_owned();
    card.cta = "Live status".to_owned();
    card.accent = match (view.indicator(), view.page.brand_color.as_deref()) {
        (Indicator::None, Some(brand)) => HexColor::parse("brandColor", brand).unwrap_or(HexColor([0x1a, 0x7f, 0x37])),
        (Indicator::None, None) => HexColor([0x2d, 0xa4, 0x4e]),
        (Indicator::Maintenance, _) => HexColor([0x44, 0x93, 0xf8]),
        (Indicator::Minor, _) => HexColor([0xd2, 0x99, 0x22]),
        (Indicator::Major, _) => HexColor([0xf0, 0x88, 0x3e]),
        (Indicator::Critical, _) => HexColor([0xf8, 0x51, 0x49]),
    };
    let png = tokio::task::spawn_blocking(move || livestatus_og_ad::render_png(&card))
        .await
        .map_err(|e| ApiError::internal(e).into_response())?;
    Ok(typed(png, "image/png"))
}

async fn get_health(State(state): State<AppState>, reader: Reader, Path(slug): Path<String>) -> Answer {
    let view = load(&state, &reader, &slug, false, Timelines::None, PAGE).await?;
    let indicator = view.indicator();
    let status = if indicator == Indicator::None { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut response = json(serde_json::json!({ "indicator": indicator.as_str() }));
    *response.status_mut() = status;
    Ok(response)
}

/// `GET /status/{slug}/embed`: the compact view for iframes (`?theme=light|dark`), the
/// one route any site may frame.
async fn get_embed(
    State(state): State<AppState>,
    reader: Reader,
    Path(slug): Path<String>,
    params: ListParams,
) -> Answer {
    let theme = match params.get("theme") {
        None | Some("auto") => html::EmbedTheme::Auto,
        Some("light") => html::EmbedTheme::Light,
        Some("dark") => html::EmbedTheme::Dark,
        Some(_) => return Err(ApiError::invalid_field("theme", "must be light, dark or auto").into_response()),
    };
    let view = load(&state, &reader, &slug, false, Timelines::Open, Missing::Html).await?;
    let doc = html::embed(&view, &Links::new(&reader.headers, &slug), theme);
    let mut response = html_response(StatusCode::OK, doc);
    let h = response.headers_mut();
    if let Some(csp) = h.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()) {
        let framed = csp.replace("frame-ancestors 'none'", "frame-ancestors *");
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(&framed).expect("was a header"));
    }
    Ok(response)
}

/// `robots.txt` at the root (only this function serves something public there): the
/// status pages may be indexed, the keyed API has nothing to index.
async fn get_robots() -> Response {
    typed("User-agent: *\nAllow: /status/\nDisallow: /api/\n", "text/plain; charset=utf-8")
}

/// Middleware of the public routes: `Cache-Control` and a strong `ETag` on every answer
/// of a GET that is not a server error (the 404 of a missing page too, so CloudFront
/// absorbs probes), `304` when `If-None-Match` names it, `nosniff`, and text gzipped for
/// readers that accept it.
async fn cache(req: Request, next: Next) -> Response {
    let is_get = matches!(*req.method(), Method::GET | Method::HEAD);
    let gzip_ok = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.split(';').next().is_some_and(|e| e.trim() == "gzip")));
    let health = req.uri().path().ends_with("/health");
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let protected = access::Protected::default();
    let mut req = req;
    req.extensions_mut().insert(protected.clone());
    let mut response = next.run(req).await;
    let status = response.status();
    // A protected page's answers, locked or not: no shared cache keeps them, no search
    // engine lists them, no other origin reads them.
    if protected.is_set() {
        let h = response.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(PRIVATE_CACHE_CONTROL));
        h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        response.extensions_mut().insert(livestatus_shared::cors::NotShared);
        return response;
    }
    // Routes that set their own (the subscription links: `no-store`) keep it.
    if response.headers().contains_key(header::CACHE_CONTROL) {
        return response;
    }
    if !is_get || (status.is_server_error() && !health) || status == StatusCode::BAD_REQUEST {
        return response;
    }
    // The health check's 503 is its answer, not a failure: no stale copy may replace it.
    let cache_control = if health { HEALTH_CACHE_CONTROL } else { CACHE_CONTROL };
    // A JSON error gets its body (with its request id) only outside: no ETag for it.
    if response.extensions().get::<livestatus_shared::error::ErrorBody>().is_some() {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(collected) = body.collect().await else {
        return ApiError::internal("response body failed").into_response();
    };
    let mut bytes: Bytes = collected.to_bytes();
    let digest = Sha256::digest(&bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    // Text is sent gzipped to readers that take it (CloudFront asks for it, then caches
    // and serves that); a representation of its own, so an ETag of its own.
    let compressible = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| !t.starts_with("image/png"));
    let gzipped = gzip_ok && compressible && bytes.len() >= 1024;
    let etag = if gzipped { format!("\"{hex}-gz\"") } else { format!("\"{hex}\"") };
    if compressible {
        parts.headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if gzipped {
        let mut encoder =
            flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 8), flate2::Compression::new(6));
        if std::io::Write::write_all(&mut encoder, &bytes).is_ok()
            && let Ok(compressed) = encoder.finish()
        {
            bytes = Bytes::from(compressed);
            parts.headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    let h = &mut parts.headers;
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex is header-safe"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let matches = if_none_match.as_ref().and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
    });
    if matches && status == StatusCode::OK {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_ENCODING);
        return Response::from_parts(parts, Body::empty());
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}
