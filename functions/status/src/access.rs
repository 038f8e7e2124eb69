//! Protected pages (`password` set through the API): every route of the page's tree
//! answers `401` until the reader proves access. HTML routes take the signed cookie that
//! `POST <page>/login` sets and show a sign-in form otherwise; the machine routes (JSON,
//! feeds, calendar, badges, card, health) take the cookie or `?token=<accessToken>` and
//! answer `page_locked` otherwise. Whatever a protected page answers is marked so the
//! cache middleware makes it `private, no-store` and `noindex`, and CORS gives it no
//! wildcard. Ten wrong passwords from one address within 15 minutes: `429`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use livestatus_shared::domain::page_access::{self, COOKIE, SESSION_SECS};
use livestatus_shared::http::read_body;
use livestatus_shared::store::pages::Page;
use livestatus_shared::{ApiError, AppState};

use crate::{Links, html, html_response};

/// Set on a request by the cache middleware, raised by [`Reader::check`] when the page
/// read is protected: the middleware then makes the answer private.
#[derive(Clone, Debug, Default)]
pub struct Protected(Arc<AtomicBool>);

impl Protected {
    /// Whether the route read a protected page.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Who reads a public route: the request's headers (for links and cookies), its
/// `?token=`, where in the page's tree it is, and the flag of a protected answer.
#[derive(Debug)]
pub struct Reader {
    /// The request's headers.
    pub headers: HeaderMap,
    token: Option<String>,
    /// The path and query below the page's root (`/incidents/…`, `` for the page).
    below: String,
    protected: Protected,
}

impl<S: Send + Sync> FromRequestParts<S> for Reader {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let token = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into());
        // `/status/<slug>/rest`: what follows the slug (the domain's rewrite made it so).
        let path = parts.uri.path();
        let rest = path.strip_prefix("/status/").and_then(|p| p.find('/').map(|i| &p[i..])).unwrap_or("");
        // After signing in, back to what was read; a form's POST is not read back: the page.
        let below = match parts.uri.query() {
            _ if parts.method != axum::http::Method::GET && parts.method != axum::http::Method::HEAD => String::new(),
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_owned(),
        };
        let protected = parts.extensions.get::<Protected>().cloned().unwrap_or_default();
        Ok(Self { headers: parts.headers.clone(), token, below, protected })
    }
}

/// What kind of route reads the page: HTML takes the cookie; machine routes also the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// A page for people.
    Html,
    /// JSON, feeds, calendar, badges, card, health.
    Machine,
}

impl Reader {
    /// `Ok` when `page` is not protected, or the reader proves access; else the answer to
    /// give: the sign-in page, or `401 page_locked`.
    pub fn check(&self, state: &AppState, page: &Page, route: Route) -> Result<(), Response> {
        let Some(hash) = &page.password_hash else { return Ok(()) };
        self.protected.set();
        let now = state.now_epoch();
        let by_cookie = cookies(&self.headers).any(|c| state.sealer.verify_page_cookie(page.id, &hash.0, c, now));
        let by_token = route == Route::Machine
            && self.token.as_deref().is_some_and(|t| {
                state.sealer.verify_page_access_token(page.id, page.access_nonce.as_deref().unwrap_or_default(), t)
            });
        if by_cookie || by_token {
            return Ok(());
        }
        Err(match route {
            Route::Html => sign_in(page, &Links::new(&self.headers, &page.slug), &self.below, Problem::None),
            Route::Machine => ApiError::PageLocked.into_response(),
        })
    }
}

/// The values of every cookie named [`COOKIE`] (one per protected page whose path covers
/// the request's).
fn cookies(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// What went wrong with the last try, for the sign-in page.
enum Problem {
    None,
    Wrong,
    TooMany(u64),
}

/// The sign-in page: only the page's name, a password field and where to go after.
fn sign_in(page: &Page, links: &Links, below: &str, problem: Problem) -> Response {
    let (status, error) = match problem {
        Problem::None => (StatusCode::UNAUTHORIZED, None),
        Problem::Wrong => (StatusCode::UNAUTHORIZED, Some("That password is not right. Try again.".to_owned())),
        Problem::TooMany(wait) => {
            let minutes = wait.div_ceil(60);
            let plural = if minutes == 1 { "" } else { "s" };
            (
                StatusCode::TOO_MANY_REQUESTS,
                Some(format!("Too many wrong passwords from your network. Try again in {minutes} minute{plural}.")),
            )
        }
    };
    let action = format!("{}/login", links.page());
    let mut response = html_response(status, html::sign_in(page, &action, below, error.as_deref()));
    if let Problem::TooMany(wait) = problem {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
    }
    response
}

/// Where to go after signing in: a path below the page's root as the form carried it,
/// kept only when it is one (no scheme, no host, no way out of the page's tree).
fn next_below(raw: &str) -> &str {
    let safe = raw.starts_with('/')
        && !raw.starts_with("//")
        && !raw.contains(['\\', '\r', '\n'])
        && !raw.split(['/', '?']).any(|segment| segment == "..");
    if safe { raw } else { "" }
}

/// The form of `POST <page>/login`.
struct SignInForm {
    password: String,
    next: String,
}

/// Longest sign-in form read: a password of 128 characters, percent-encoded, and a path.
const FORM_MAX: usize = 4096;

/// `POST /status/{slug}/login`: the right password sets the cookie and goes back where
/// the reader was (`303`); a wrong one shows the form again (`401`); the eleventh wrong
/// one within 15 minutes from one address is `429`, right or not.
pub async fn post_login(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    reader: Reader,
    req: Request,
) -> Response {
    let client = livestatus_shared::http::client_address(&req);
    let page = match state.store.public_page(&slug).await {
        Ok(Some((_, page))) => page,
        Ok(None) => return crate::missing_page(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let links = Links::new(&reader.headers, &slug);
    let Some(hash) = page.password_hash.clone() else {
        return see_other(&links.page(), None);
    };
    reader.protected.set();
    let form = match read_body(req).await {
        Ok(bytes) if bytes.len() <= FORM_MAX => {
            let mut form = SignInForm { password: String::new(), next: String::new() };
            for (name, value) in url::form_urlencoded::parse(&bytes) {
                match name.as_ref() {
                    "password" => form.password = value.into_owned(),
                    "next" => form.next = value.into_owned(),
                    _ => {}
                }
            }
            form
        }
        Ok(_) => return ApiError::PayloadTooLarge.into_response(),
        Err(e) => return e.into_response(),
    };
    let below = next_below(&form.next).to_owned();
    let now = state.now_epoch();
    match state.store.sign_in_wait(page.id, &client, now).await {
        Ok(Some(wait)) => return sign_in(&page, &links, &below, Problem::TooMany(wait)),
        Ok(None) => {}
        Err(e) => return ApiError::from(e).into_response(),
    }
    let attempt = form.password;
    let phc = hash.0.clone();
    let right = match tokio::task::spawn_blocking(move || page_access::verify(&phc, &attempt)).await {
        Ok(right) => right,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    if !right {
        if let Err(e) = state.store.count_wrong_password(page.id, &client, now).await {
            return ApiError::from(e).into_response();
        }
        return sign_in(&page, &links, &below, Problem::Wrong);
    }
    let root = links.page();
    let cookie = state.sealer.page_cookie(page.id, &hash.0, now + SESSION_SECS);
    see_other(&format!("{root}{below}"), Some(set_cookie(&root, &cookie)))
}

/// The cookie of a signed-in reader: on the page's path only, 30 days, HttpOnly,
/// SameSite=Lax, and Secure wherever the page is served over HTTPS (all but the local
/// run's plain-http localhost).
fn set_cookie(root: &str, value: &str) -> String {
    let url = url::Url::parse(root).ok();
    let path = url.as_ref().map_or("/", |u| u.path());
    let path = if path.is_empty() { "/" } else { path.trim_end_matches('/') };
    let path = if path.is_empty() { "/" } else { path };
    let secure = if root.starts_with("https://") { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path={path}; Max-Age={SESSION_SECS}; HttpOnly; SameSite=Lax{secure}")
}

fn see_other(location: &str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, location);
    }
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_path_below_the_page_is_a_place_to_go_after_signing_in() {
        assert_eq!(next_below("/incidents/1?x=y"), "/incidents/1?x=y");
        assert_eq!(next_below(""), "");
        assert_eq!(next_below("//evil.example"), "");
        assert_eq!(next_below("https://evil.example"), "");
        assert_eq!(next_below("/\\evil.example"), "");
        assert_eq!(next_below("/../../api/v1/pages"), "");
    }

    #[test]
    fn the_cookie_is_secure_except_over_plain_http_and_bound_to_the_page_path() {
        let c = set_cookie("https://x.cloudfront.net/status/acme", "v");
        assert!(c.contains("Path=/status/acme;") && c.ends_with("; Secure") && c.contains("HttpOnly; SameSite=Lax"));
        let c = set_cookie("http://acme.localhost:3000", "v");
        assert!(c.contains("Path=/;") && !c.contains("Secure"), "{c}");
    }
}
