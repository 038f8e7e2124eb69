//! The API's one error type, its HTTP status and code, and how it becomes a response.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::domain::{Invalid, MissingScope};
pub use crate::telemetry::error_chain;

/// Every error the API answers with. The `code()` strings are the contract of API.md.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No key in `Authorization` or `X-API-Key`.
    #[error("No API key was provided. Send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`.")]
    MissingApiKey,
    /// Malformed, unknown, revoked or expired key.
    #[error("The provided API key is invalid, expired, or revoked.")]
    InvalidApiKey,
    /// An alert integration's hook called without its token, or with another.
    #[error(
        "The integration token is missing or wrong. Send it as `Authorization: Bearer <token>` or `?token=<token>`."
    )]
    InvalidToken,
    /// A signed integration's request without its signature, or with one that does not
    /// match the body.
    #[error(
        "The `X-Grafana-Alerting-Signature` header is missing or does not match the body and the integration's secret."
    )]
    BadSignature,
    /// A protected status page's machine route read without its cookie or access token.
    #[error("This status page is protected: sign in on the page, or pass its access token as `?token=<accessToken>`.")]
    PageLocked,
    /// The key lacks the scope the endpoint needs.
    #[error("This API key lacks the `{0}` scope.")]
    InsufficientScope(String),
    /// The organization's plan does not allow it.
    #[error("{0}")]
    PlanLimit(String),
    /// A missing or invalid field, bad JSON, bad enum value or bad cursor.
    #[error("{0}")]
    InvalidRequest(String),
    /// The slug does not match the slug rules.
    #[error("{0}")]
    InvalidSlug(String),
    /// Resource or route does not exist in this organization.
    #[error("{0}")]
    NotFound(String),
    /// Known path, wrong method.
    #[error("Method not allowed on this path.")]
    MethodNotAllowed,
    /// Another page already uses this slug.
    #[error("Another page already uses the slug `{0}`.")]
    SlugTaken(String),
    /// Another page (of any organization) already uses this domain.
    #[error("Another page already uses the domain `{0}`; a domain serves one page.")]
    DomainTaken(String),
    /// The delivery cannot be retried: its endpoint no longer takes deliveries, or it is a
    /// confirmation email.
    #[error("{0}")]
    NotRetryable(String),
    /// An `Idempotency-Key` reused with a different body.
    #[error("This Idempotency-Key was already used with a different request body.")]
    IdempotencyConflict,
    /// Body over 64 KiB.
    #[error("The request body is larger than 64 KiB.")]
    PayloadTooLarge,
    /// Over the key's rate limit; `retry_after` in seconds.
    #[error("Rate limit exceeded. Retry after {retry_after} seconds.")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after: u64,
    },
    /// The store is throttling or unreachable.
    #[error("The service is temporarily unavailable. Retry shortly.")]
    ServiceUnavailable(#[source] BoxError),
    /// Anything unexpected. The cause is logged, never sent.
    #[error("An unexpected error occurred.")]
    Internal(#[source] BoxError),
}

/// A boxed, thread-safe error cause, so the API error carries its source chain for the log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingApiKey | Self::InvalidApiKey | Self::InvalidToken | Self::BadSignature | Self::PageLocked => {
                StatusCode::UNAUTHORIZED
            }
            Self::InsufficientScope(_) | Self::PlanLimit(_) => StatusCode::FORBIDDEN,
            Self::InvalidRequest(_) | Self::InvalidSlug(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::SlugTaken(_) | Self::DomainTaken(_) | Self::IdempotencyConflict | Self::NotRetryable(_) => {
                StatusCode::CONFLICT
            }
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of the envelope.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingApiKey => "missing_api_key",
            Self::InvalidApiKey | Self::InvalidToken | Self::BadSignature => "invalid_api_key",
            Self::PageLocked => "page_locked",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::PlanLimit(_) => "plan_limit",
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidSlug(_) => "invalid_slug",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::SlugTaken(_) => "slug_taken",
            Self::DomainTaken(_) => "domain_taken",
            Self::IdempotencyConflict => "idempotency_conflict",
            Self::NotRetryable(_) => "not_retryable",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::ServiceUnavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// A `not_found` for a resource kind, worded the same whether it is missing or foreign.
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found."))
    }

    /// An `invalid_request` naming the field at fault.
    pub fn invalid_field(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::InvalidRequest(format!("`{field}`: {problem}"))
    }

    /// Wraps an unexpected error.
    pub fn internal(e: impl Into<BoxError>) -> Self {
        Self::Internal(e.into())
    }
}

// The one mapping of the lower layers' errors to the envelope: the store's and the
// domain's own errors become API errors here and nowhere else.

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        match invalid {
            Invalid::Slug(_) => Self::InvalidSlug(invalid.to_string()),
            Invalid::Field { .. } | Invalid::Request(_) => Self::InvalidRequest(invalid.to_string()),
        }
    }
}

impl From<MissingScope> for ApiError {
    fn from(MissingScope(scope): MissingScope) -> Self {
        Self::InsufficientScope(scope.as_str().to_owned())
    }
}

#[cfg(feature = "store")]
impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        use crate::store::StoreError as E;
        match error {
            E::NotFound(_) => Self::NotFound(error.to_string()),
            E::Invalid(invalid) => invalid.into(),
            E::SlugTaken(slug) => Self::SlugTaken(slug),
            E::DomainTaken(domain) => Self::DomainTaken(domain),
            E::PlanLimit(message) => Self::PlanLimit(message),
            E::IdempotencyConflict => Self::IdempotencyConflict,
            E::KeyRefused => Self::InvalidApiKey,
            E::RateLimited { retry_after } => Self::RateLimited { retry_after },
            E::Unavailable(cause) => Self::ServiceUnavailable(cause),
            E::Raced => Self::ServiceUnavailable(error.to_string().into()),
            E::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// What an error response carries until the request-context middleware renders it with
/// the request id. Kept in the response's extensions.
#[derive(Clone, Debug)]
pub struct ErrorBody {
    /// The envelope's `code`.
    pub code: &'static str,
    /// The envelope's `message`.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        // The one place internal causes are logged, with their whole chain.
        if matches!(self, Self::Internal(_) | Self::ServiceUnavailable(_)) {
            tracing::error!(error = %error_chain(&self), code = self.code(), "request failed");
        }
        let mut response = status.into_response();
        match &self {
            Self::RateLimited { retry_after } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Self::ServiceUnavailable(_) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response.extensions_mut().insert(ErrorBody { code: self.code(), message: self.to_string() });
        response
    }
}

/// Renders the documented envelope `{"error": {code, message, requestId}}`.
pub fn envelope(body: &ErrorBody, request_id: &str) -> serde_json::Value {
    serde_json::json!({
        "error": { "code": body.code, "message": body.message, "requestId": request_id }
    })
}
