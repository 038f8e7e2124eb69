//! Authentication middleware: the key from the headers, one conditional update that both
//! authenticates and counts the request, the route's scope, and the rate-limit headers
//! on every authenticated response.

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::apikey;
use crate::error::ApiError;
use crate::routes;
use crate::state::AppState;
pub use crate::store::api_keys::{Principal, RateLimit};

/// Route middleware (add it with `route_layer`): admits the request or answers 401, 403
/// or 429 before the handler runs.
pub async fn authenticate(
    State(state): State<AppState>,
    matched: MatchedPath,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(route) = routes::find(req.method().as_str(), matched.as_str()) else {
        let allowed = routes::methods(matched.as_str());
        if allowed.is_empty() {
            return ApiError::internal(format!("path {} is missing from the route table", matched.as_str()))
                .into_response();
        }
        let mut response = ApiError::MethodNotAllowed.into_response();
        let allow = HeaderValue::from_str(&allowed.join(", ")).expect("methods are valid header text");
        response.headers_mut().insert(axum::http::header::ALLOW, allow);
        return response;
    };
    let Some(scope) = route.scope else { return next.run(req).await };
    let key = match apikey::from_headers(req.headers()) {
        Ok(key) => key,
        Err(e) => return e.into_response(),
    };
    let (principal, rate) = match state.store.authenticate(&key.hash(), state.clock.now()).await {
        Ok(admitted) => admitted,
        Err(rejection) => {
            let mut response = ApiError::from(rejection.error).into_response();
            if let Some(rate) = rejection.rate {
                rate_headers(response.headers_mut(), rate);
            }
            return response;
        }
    };
    let mut response = if principal.scopes.allows(scope) || route.or.is_some_and(|or| principal.scopes.allows(or)) {
        req.extensions_mut().insert(principal);
        next.run(req).await
    } else {
        ApiError::from(crate::domain::MissingScope(scope)).into_response()
    };
    rate_headers(response.headers_mut(), rate);
    response
}

fn rate_headers(headers: &mut HeaderMap, rate: RateLimit) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(rate.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(rate.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(rate.reset));
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::internal("handler reached without the authenticate middleware"))
    }
}
