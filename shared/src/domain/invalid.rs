//! What a domain rule answers when an input breaks it. Not an HTTP type: the edge maps it
//! to `400 invalid_request` or `400 invalid_slug` (in [`crate::error`], the one mapping).

use std::fmt;

use super::Scope;

/// An input a rule refuses, with the field at fault and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// One field's value breaks a rule.
    #[error("`{field}`: {problem}")]
    Field {
        /// The field as the API names it (`scheduledUntil`, `body`).
        field: String,
        /// What is wrong with it, as a sentence fragment.
        problem: String,
    },
    /// The slug breaks the slug rules (its own code in the contract).
    #[error("`slug`: {0}")]
    Slug(String),
    /// A rule of the request as a whole, with its message.
    #[error("{0}")]
    Request(String),
}

impl Invalid {
    /// A field's value breaks a rule.
    pub fn field(field: &str, problem: impl fmt::Display) -> Self {
        Self::Field { field: field.to_owned(), problem: problem.to_string() }
    }

    /// Whether this is `field` refused for exactly `problem` (for callers that retry on a
    /// known refusal).
    pub fn is(&self, field: &str, problem: &str) -> bool {
        matches!(self, Self::Field { field: f, problem: p } if f == field && p == problem)
    }
}

/// A key's request that needs a scope the key does not hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("This API key lacks the `{}` scope.", .0.as_str())]
pub struct MissingScope(pub Scope);
