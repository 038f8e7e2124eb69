//! What the store fails with, in its own words and without HTTP. The edge maps each case
//! to the API's envelope in one place (`impl From<StoreError> for ApiError` in
//! [`crate::error`]).

use crate::domain::Invalid;

/// A boxed, thread-safe cause, kept for the log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every way a store call can fail.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The item is missing, or belongs to another organization (worded the same).
    #[error("{0} not found.")]
    NotFound(String),
    /// The input refers to what the store cannot accept: a service of another page, an
    /// email already subscribed, a change a domain rule refuses.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Another page already has this slug.
    #[error("Another page already uses the slug `{0}`.")]
    SlugTaken(String),
    /// A page of this deployment already has this domain.
    #[error("Another page already uses the domain `{0}`.")]
    DomainTaken(String),
    /// The organization's plan allows no more; the message names the limit.
    #[error("{0}")]
    PlanLimit(String),
    /// An idempotency key was used before with another body.
    #[error("This Idempotency-Key was already used with a different request body.")]
    IdempotencyConflict,
    /// The API key is unknown, revoked or expired.
    #[error("The provided API key is invalid, expired, or revoked.")]
    KeyRefused,
    /// The key's window is used up; the seconds until it ends.
    #[error("Rate limit exceeded. Retry after {retry_after} seconds.")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after: u64,
    },
    /// The write's guard did not hold: another write changed what it was guarded by
    /// (see [`Write::guard`](super::write::Write::guard)). The caller reads again.
    #[error("another write came first")]
    Raced,
    /// DynamoDB throttled, timed out or could not be reached, or an item kept changing
    /// under a retried write: worth retrying shortly.
    #[error("the table is unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Anything else: an item that does not read back, a request the SDK refused.
    #[error("store failure: {0}")]
    Internal(#[source] BoxError),
}

impl StoreError {
    /// `<what> not found.`, for a missing or foreign item.
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(what.to_owned())
    }

    /// A field the store refuses (the reference it makes does not hold).
    pub fn invalid_field(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::Invalid(Invalid::field(field, problem))
    }

    /// Wraps an unexpected cause.
    pub fn internal(e: impl Into<BoxError>) -> Self {
        Self::Internal(e.into())
    }
}
