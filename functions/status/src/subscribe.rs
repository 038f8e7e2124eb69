//! The public subscription flow: the page's sign-up form (or JSON) asks for a
//! confirmation email (always double opt-in); the confirm link activates; the unsubscribe
//! link shows a one-button page, and its POST (RFC 8058 one-click, from the mail client
//! or that button) unsubscribes at once. The links carry signed tokens naming one
//! subscriber of one organization, so one subscriber's link cannot act on another.
//! Nothing here is cached, and the token never leaves in a `Referer`.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use livestatus_shared::domain::EmailAddress;
use livestatus_shared::http::{ListParams, read_body};
use livestatus_shared::outbound::sealing::TokenPurpose;
use livestatus_shared::store::StoreError;
use livestatus_shared::store::events::Actor;
use livestatus_shared::store::pages::Page;
use livestatus_shared::store::subscribers::{PENDING_MAX, PENDING_SECS, SubscriberState, UNSUBSCRIBE_LINK_SECS};
use livestatus_shared::store::write::{Now, Write};
use livestatus_shared::{ApiError, AppState};
use uuid::Uuid;

use crate::{Links, html, html_response};

/// Answer of a subscription route: HTML (or the JSON envelope for a JSON sign-up),
/// never cached.
fn private(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn page_message(
    status: StatusCode,
    page: &Page,
    links: &Links,
    title: &str,
    paragraphs: &[String],
    form: Option<(&str, &str)>,
) -> Response {
    let page_url = page.is_public.then(|| links.page());
    private(html_response(status, html::message(page, page_url.as_deref(), title, paragraphs, form)))
}

fn not_found() -> Response {
    private(html_response(StatusCode::NOT_FOUND, html::not_found()))
}

/// What a sign-up asked for.
struct SignUpForm {
    email: String,
    service_ids: Vec<String>,
}

fn parse_form(bytes: &[u8]) -> SignUpForm {
    let mut form = SignUpForm { email: String::new(), service_ids: Vec::new() };
    for (name, value) in url::form_urlencoded::parse(bytes) {
        match name.as_ref() {
            "email" => form.email = value.into_owned(),
            "serviceIds" => form.service_ids.push(value.into_owned()),
            _ => {}
        }
    }
    form
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignUpJson {
    email: String,
    #[serde(default)]
    service_ids: Option<Vec<String>>,
}

/// Service ids of the page (invalid ones are an error naming the field).
async fn page_services(state: &AppState, org: Uuid, page: &Page, raw: Vec<String>) -> Result<Vec<Uuid>, ApiError> {
    let mut ids = Vec::new();
    for raw in raw {
        let id =
            Uuid::parse_str(&raw).map_err(|_| ApiError::invalid_field("serviceIds", "must be service ids (UUIDs)"))?;
        if ids.contains(&id) {
            continue;
        }
        match state.store.get_service(org, id).await? {
            Some(s) if s.page_id == page.id => ids.push(id),
            _ => return Err(ApiError::invalid_field("serviceIds", format_args!("no service {id} on this page"))),
        }
    }
    Ok(ids)
}

/// `POST /status/{slug}/subscribe`: a form (answered with a page) or JSON (answered with
/// the envelope), `202` whether the address was new, pending or already subscribed.
pub async fn post_subscribe(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    reader: crate::access::Reader,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let page = match state.store.public_page(&slug).await {
        Ok(Some(found)) => found,
        Ok(None) if is_form => return not_found(),
        Ok(None) => return private(ApiError::not_found("Page").into_response()),
        Err(e) => return private(ApiError::from(e).into_response()),
    };
    let (org, page) = page;
    // A protected page takes sign-ups from readers who signed in (or hold its token).
    let route = if is_form { crate::access::Route::Html } else { crate::access::Route::Machine };
    if let Err(locked) = reader.check(&state, &page, route) {
        return locked;
    }
    let links = Links::new(&headers, &slug);
    let client = livestatus_shared::http::client_address(&req);
    let result = async {
        if state.email_from.is_none() {
            return Err(ApiError::InvalidRequest("This status page does not offer email subscriptions.".into()));
        }
        // The shared sender is not a cannon: sign-ups are limited per address and per
        // page, and so are the confirmation emails waiting to be answered.
        if let Err(retry_after) = state.store.count_sign_up(page.id, &client, state.now_epoch()).await? {
            return Err(ApiError::RateLimited { retry_after });
        }
        if state.store.pending_subscribers(org, page.id, state.now_epoch(), PENDING_MAX).await? >= PENDING_MAX {
            return Err(ApiError::RateLimited { retry_after: 3600 });
        }
        let bytes = read_body(req).await?;
        let form = if is_form {
            parse_form(&bytes)
        } else {
            let json: SignUpJson = livestatus_shared::http::parse_json(&bytes)?;
            SignUpForm { email: json.email, service_ids: json.service_ids.unwrap_or_default() }
        };
        let email = EmailAddress::parse("email", &form.email)?;
        if form.service_ids.len() > livestatus_shared::store::incidents::MAX_AFFECTED_SERVICES {
            return Err(ApiError::invalid_field("serviceIds", "names too many services"));
        }
        let services = page_services(&state, org, &page, form.service_ids).await?;
        state.store.sign_up(org, page.id, email.clone(), services, &Now::new(state.clock.now())).await?;
        Ok(email)
    }
    .await;
    match (result, is_form) {
        (Ok(email), true) => page_message(
            StatusCode::ACCEPTED,
            &page,
            &links,
            "Check your inbox",
            &[
                format!("We sent a confirmation link to {}.", email.as_str()),
                "Follow it to start receiving updates. If nothing arrives in a few minutes, check your spam folder, or sign up again.".into(),
            ],
            None,
        ),
        (Ok(_), false) => private(livestatus_shared::http::data(
            StatusCode::ACCEPTED,
            serde_json::json!({ "state": "pending", "message": "Check your inbox: follow the confirmation link to start receiving updates." }),
        )),
        (Err(e), true) if e.status() == StatusCode::BAD_REQUEST => page_message(
            StatusCode::BAD_REQUEST,
            &page,
            &links,
            "That did not work",
            &[e.to_string().replace('`', ""), "Go back and check the address.".into()],
            None,
        ),
        (Err(e @ ApiError::RateLimited { retry_after }), true) => {
            let minutes = retry_after.div_ceil(60);
            let mut answer = page_message(
                StatusCode::TOO_MANY_REQUESTS,
                &page,
                &links,
                "Too many sign-ups",
                &[
                    "This page has taken as many sign-ups as it can for now.".into(),
                    format!("Try again in {minutes} minute{}.", if minutes == 1 { "" } else { "s" }),
                ],
                None,
            );
            answer.headers_mut().insert(header::RETRY_AFTER, axum::http::HeaderValue::from(retry_after));
            drop(e);
            answer
        }
        (Err(e), _) => private(e.into_response()),
    }
}

/// The page and the subscriber a token names, or the answer to give instead: the 404
/// page when the slug names no page or the token is not for it (a private page stays
/// indistinguishable from none), the page otherwise.
async fn resolve(
    state: &AppState,
    slug: &str,
    params: &ListParams,
    purpose: TokenPurpose,
) -> Result<(Uuid, Page, Uuid, i64), Response> {
    let (org, page) = match state.store.page_by_slug(slug).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(not_found()),
        Err(e) => return Err(private(ApiError::from(e).into_response())),
    };
    let token = params.get("token").unwrap_or_default();
    match state.sealer.verify_token(purpose, org, token) {
        Some((_, issued))
            if purpose == TokenPurpose::Unsubscribe && state.now_epoch() - issued > UNSUBSCRIBE_LINK_SECS =>
        {
            if !page.is_public {
                return Err(not_found());
            }
            Err(private(html_response(
                StatusCode::BAD_REQUEST,
                html::message(
                    &page,
                    None,
                    "This link has expired",
                    &["Unsubscribe links work for 180 days. The newest email from this page has one that works."
                        .to_owned()],
                    None,
                ),
            )))
        }
        Some((subscriber, issued)) => Ok((org, page, subscriber, issued)),
        None if page.is_public => Err(private(html_response(
            StatusCode::BAD_REQUEST,
            html::message(
                &page,
                None,
                "This link is not valid",
                &["It may have been cut short when it was copied. Open it again from the email.".to_owned()],
                None,
            ),
        ))),
        None => Err(not_found()),
    }
}

/// `GET /status/{slug}/subscriptions/confirm?token=`: activates a pending subscriber.
pub async fn get_confirm(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(slug): Path<String>,
    params: ListParams,
) -> Response {
    let (org, page, id, issued) = match resolve(&state, &slug, &params, TokenPurpose::Confirm).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let links = Links::new(&headers, &slug);
    let name = page.name.clone();
    let expired = state.now_epoch() - issued > PENDING_SECS;
    let current = match state.store.get_subscriber(org, id).await {
        Ok(found) => found.filter(|s| s.subscriber.page_id == page.id),
        Err(e) => return private(ApiError::from(e).into_response()),
    };
    let Some(current) = current.filter(|_| !expired) else {
        return page_message(
            StatusCode::GONE,
            &page,
            &links,
            "This link has expired",
            &[format!("Confirmation links work for 7 days. Sign up again on the {name} status page to get a new one.")],
            None,
        );
    };
    let subscribed = [format!(
        "You will receive an email from {name} when an incident starts, changes or ends. Every email has a link to unsubscribe."
    )];
    match current.subscriber.state {
        SubscriberState::Active => {
            page_message(StatusCode::OK, &page, &links, "You are already subscribed", &subscribed, None)
        }
        SubscriberState::Pending => {
            let actor = Actor::subscriber(id);
            let done = state
                .store
                .set_subscriber_state(
                    &Write::new(org, actor, state.clock.now()),
                    id,
                    &[SubscriberState::Pending],
                    SubscriberState::Active,
                )
                .await;
            match done {
                Ok(_) => page_message(StatusCode::OK, &page, &links, "You are subscribed", &subscribed, None),
                Err(StoreError::PlanLimit(_)) => page_message(
                    StatusCode::FORBIDDEN,
                    &page,
                    &links,
                    "This page is full",
                    &[format!(
                        "The {name} status page has as many subscribers as its plan allows, so we could not add you. \
                         Your confirmation link keeps working for 7 days if a place opens up."
                    )],
                    None,
                ),
                Err(e) => private(ApiError::from(e).into_response()),
            }
        }
        SubscriberState::Unsubscribed | SubscriberState::Quarantined => page_message(
            StatusCode::GONE,
            &page,
            &links,
            "This subscription was cancelled",
            &[format!("Sign up again on the {name} status page to receive updates.")],
            None,
        ),
    }
}

/// `GET /status/{slug}/unsubscribe?token=`: a page with one button, so that link
/// scanners following the link unsubscribe nobody.
pub async fn get_unsubscribe(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(slug): Path<String>,
    params: ListParams,
) -> Response {
    let (org, page, id, _) = match resolve(&state, &slug, &params, TokenPurpose::Unsubscribe).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let links = Links::new(&headers, &slug);
    let current = match state.store.get_subscriber(org, id).await {
        Ok(found) => found.filter(|s| s.subscriber.page_id == page.id),
        Err(e) => return private(ApiError::from(e).into_response()),
    };
    let name = page.name.clone();
    match current.map(|c| c.subscriber) {
        Some(s) if s.state != SubscriberState::Unsubscribed => {
            let who = s.email.or(s.url).unwrap_or_default();
            let action = format!("{}/unsubscribe?token={}", links.page(), params.get("token").unwrap_or_default());
            page_message(
                StatusCode::OK,
                &page,
                &links,
                &format!("Unsubscribe from {name}?"),
                &[format!("{who} will no longer receive updates from {name}.")],
                Some((&action, "Unsubscribe")),
            )
        }
        _ => unsubscribed(&page, &links),
    }
}

fn unsubscribed(page: &Page, links: &Links) -> Response {
    page_message(
        StatusCode::OK,
        page,
        links,
        "You are unsubscribed",
        &[format!(
            "You will receive no more email from {}. Changed your mind? Sign up again on the status page.",
            page.name
        )],
        None,
    )
}

/// `POST /status/{slug}/unsubscribe?token=`: unsubscribes at once (RFC 8058 one-click:
/// any body, no cookie, no confirmation step).
pub async fn post_unsubscribe(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(slug): Path<String>,
    params: ListParams,
) -> Response {
    let (org, page, id, _) = match resolve(&state, &slug, &params, TokenPurpose::Unsubscribe).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let links = Links::new(&headers, &slug);
    let from = [SubscriberState::Pending, SubscriberState::Active, SubscriberState::Quarantined];
    let done = state
        .store
        .set_subscriber_state(
            &Write::new(org, Actor::subscriber(id), state.clock.now()),
            id,
            &from,
            SubscriberState::Unsubscribed,
        )
        .await;
    match done {
        // Already unsubscribed or gone: the same answer; the link did its job.
        Ok(_) => unsubscribed(&page, &links),
        Err(e) => private(ApiError::from(e).into_response()),
    }
}
