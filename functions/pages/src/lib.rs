//! The status pages endpoint group: `/api/v1/pages` and `/api/v1/pages/{pageId}`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use livestatus_shared::auth::Principal;
use livestatus_shared::domain::custom_domain::{DomainStatus, DomainVerification, Hostname};
use livestatus_shared::domain::page_access::Password;
use livestatus_shared::domain::{self, HexColor, Slug};
use livestatus_shared::http::{JsonBody, ListParams, data, list, nullable, path_id};
use livestatus_shared::store::pages::{NewDomain, NewPage, Page, PagePatch, PasswordHash};
use livestatus_shared::{ApiError, AppState};
use serde::{Deserialize, Serialize};

/// This group's routes, unfinished, for merging into the local server.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/pages", get(list_pages).post(create_page))
        .route("/api/v1/pages/{pageId}", get(get_page).patch(update_page).delete(delete_page))
        .route("/api/v1/pages/{pageId}/domain/verify", axum::routing::post(verify_domain))
        .route("/api/v1/pages/{pageId}/access-token", axum::routing::post(rotate_access_token))
        .route("/api/v1/openapi.json", get(get_openapi))
}

/// The OpenAPI 3.1 document of the whole API (`openapi.json` at the repository root).
pub const OPENAPI: &str = include_str!("../../../openapi.json");

/// `GET /api/v1/openapi.json`: public.
async fn get_openapi() -> Response {
    let mut response = Response::new(axum::body::Body::from(OPENAPI));
    response
        .headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    response
}

/// The function's complete router.
pub fn router(state: AppState) -> Router {
    livestatus_shared::finish_router(routes(), state)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreatePage {
    name: String,
    slug: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    brand_color: Option<String>,
    #[serde(default)]
    is_public: Option<bool>,
    #[serde(default)]
    auto_incidents: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdatePage {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    slug: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    brand_color: Option<Option<String>>,
    #[serde(default)]
    is_public: Option<bool>,
    #[serde(default)]
    auto_incidents: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    domain: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    password: Option<Option<String>>,
}

/// A page as the API shows it: the stored page and its access token, derived from the
/// page's nonce under the link key (nothing secret is stored).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageOut {
    #[serde(flatten)]
    page: Page,
    access_token: String,
}

fn out(state: &AppState, page: Page) -> PageOut {
    let access_token = state.sealer.page_access_token(page.id, page.access_nonce.as_deref().unwrap_or_default());
    PageOut { page, access_token }
}

const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 500;

fn description(raw: String) -> Result<String, ApiError> {
    Ok(domain::text("description", raw, 0, DESCRIPTION_MAX)?)
}

fn brand_color(raw: &str) -> Result<HexColor, ApiError> {
    Ok(HexColor::parse("brandColor", raw)?)
}

async fn list_pages(State(state): State<AppState>, who: Principal, params: ListParams) -> Result<Response, ApiError> {
    params.only(&[])?;
    let listing = state.store.list_pages(who.org_id, params.limit, params.cursor.as_deref()).await?;
    Ok(list(listing.items.into_iter().map(|p| out(&state, p)).collect(), listing.next_cursor))
}

async fn create_page(
    State(state): State<AppState>,
    who: Principal,
    JsonBody(body): JsonBody<CreatePage>,
) -> Result<Response, ApiError> {
    let new = NewPage {
        id: uuid::Uuid::now_v7(),
        name: domain::name("name", body.name, NAME_MAX)?,
        slug: Slug::parse(&body.slug)?,
        description: body.description.map(description).transpose()?,
        brand_color: body.brand_color.as_deref().map(brand_color).transpose()?,
        is_public: body.is_public.unwrap_or(true),
        auto_incidents: body.auto_incidents.unwrap_or(false),
    };
    let page = state.store.create_page(&state.write(&who, None), new).await?;
    Ok(data(StatusCode::CREATED, out(&state, page)))
}

async fn get_page(State(state): State<AppState>, who: Principal, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = path_id(&id, "Page")?;
    let page = state.store.get_page(who.org_id, id).await?.ok_or_else(|| ApiError::not_found("Page"))?;
    Ok(data(StatusCode::OK, out(&state, page)))
}

async fn update_page(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdatePage>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Page")?;
    let patch = PagePatch {
        name: body.name.map(|n| domain::name("name", n, NAME_MAX)).transpose()?,
        slug: body.slug.as_deref().map(Slug::parse).transpose()?,
        description: body.description.map(|d| d.map(description).transpose()).transpose()?,
        brand_color: body.brand_color.map(|c| c.as_deref().map(brand_color).transpose()).transpose()?,
        is_public: body.is_public,
        auto_incidents: body.auto_incidents,
        domain: body.domain.map(|d| d.map(|raw| new_domain(&state, &raw)).transpose()).transpose()?,
        password: match body.password {
            Some(Some(raw)) => Some(Some(hash_password(Password::parse("password", raw)?).await?)),
            Some(None) => Some(None),
            None => None,
        },
        access_nonce: None,
    };
    let page = state.store.update_page(&state.write(&who, None), id, patch).await?;
    Ok(data(StatusCode::OK, out(&state, page)))
}

/// Argon2id off the async threads: it is meant to be slow (some 20 ms).
async fn hash_password(password: Password) -> Result<PasswordHash, ApiError> {
    let hash = tokio::task::spawn_blocking(move || password.hash()).await.map_err(ApiError::internal)?;
    Ok(PasswordHash(hash))
}

/// `POST /api/v1/pages/{pageId}/access-token`: a new access token for the page's machine
/// routes; the old one stops working at once. Answers the page.
async fn rotate_access_token(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Page")?;
    let patch = PagePatch { access_nonce: Some(uuid::Uuid::new_v4().simple().to_string()), ..PagePatch::default() };
    let page = state.store.update_page(&state.write(&who, None), id, patch).await?;
    Ok(data(StatusCode::OK, out(&state, page)))
}

/// The host a customer's CNAME points at: `DOMAIN_CNAME_TARGET` (the stack's CloudFront
/// distribution), else the deployment's public host.
fn cname_target(state: &AppState) -> String {
    std::env::var("DOMAIN_CNAME_TARGET").ok().filter(|t| !t.is_empty()).unwrap_or_else(|| {
        let public = url::Url::parse(state.public_url()).ok();
        public.and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| "localhost".to_owned())
    })
}

/// A domain as set on a page: parsed, with a fresh proof token. A `.localhost` domain is
/// verified at once in the local run (it can only point at this machine) and refused on a
/// deployment, where it could never be reached.
fn new_domain(state: &AppState, raw: &str) -> Result<NewDomain, ApiError> {
    let host = Hostname::parse(raw)?;
    let local_run = state.sender.policy().allow_private;
    if host.is_localhost() && !local_run {
        return Err(ApiError::invalid_field("domain", "a `.localhost` domain is served only by the local run"));
    }
    let own = cname_target(state);
    if host.as_str() == own {
        return Err(ApiError::invalid_field("domain", "is this deployment's own host"));
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    let verification = DomainVerification::new(&host, &token, &own);
    let status = if host.is_localhost() { DomainStatus::Verified } else { DomainStatus::Pending };
    Ok(NewDomain { host, verification, status })
}

/// `POST /api/v1/pages/{pageId}/domain/verify`: looks the domain's TXT proof up now and
/// answers the page (its `domainStatus` is `verified` once the record is there).
async fn verify_domain(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "Page")?;
    let page = state.store.get_page(who.org_id, id).await?.ok_or_else(|| ApiError::not_found("Page"))?;
    if page.domain.is_none() {
        return Err(ApiError::invalid_field("domain", "the page has no domain to verify: set one with PATCH first"));
    }
    let page = livestatus_shared::scheduler::domains::check(&state, &state.write(&who, None), page).await?;
    Ok(data(StatusCode::OK, out(&state, page)))
}

async fn delete_page(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "Page")?;
    state.store.delete_page(&state.write(&who, None), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
