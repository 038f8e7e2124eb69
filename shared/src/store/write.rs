//! The write context: which organization, who, when, and under which idempotency key.
//! Every write of the API takes one, built once per request, so the instant is read from
//! the clock once and the forms the table stores it in never disagree.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::events::{Actor, Event, EventType};
use super::idempotency::IdempotencyKey;
use crate::clock::timestamp;

/// One instant in each form the table keeps: the API's RFC 3339 text (fields, events)
/// and Unix seconds (TTLs, due times).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Now {
    at: DateTime<Utc>,
    text: String,
}

impl Now {
    /// The instant `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self { at, text: timestamp(at) }
    }

    /// As a time, for rules that compare times.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// As the API writes it (`2027-01-01T02:00:00.000Z`).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// As Unix seconds.
    pub fn epoch(&self) -> i64 {
        self.at.timestamp()
    }
}

/// What a write carries besides its own input.
#[derive(Clone, Debug)]
pub struct Write<'a> {
    /// The organization written to; every key of the write is in it.
    pub org: Uuid,
    /// Who writes, for the events the write records.
    pub actor: Actor,
    /// When.
    pub now: Now,
    /// The request's idempotency key, for the creates that keep one.
    pub idem: Option<&'a IdempotencyKey>,
    /// One more item that must be written with the write, or the write fails with
    /// [`StoreError::Raced`](super::error::StoreError::Raced): an alert group's item,
    /// written only if nobody wrote it since it was read. Honoured by the incident
    /// writes (`create_incident`, `add_incident_update`).
    pub guard: Option<TransactWriteItem>,
}

impl<'a> Write<'a> {
    /// A write by `actor` in `org` at `at`, with no idempotency key.
    pub fn new(org: Uuid, actor: Actor, at: DateTime<Utc>) -> Self {
        Self { org, actor, now: Now::new(at), idem: None, guard: None }
    }

    /// The same write under the request's idempotency key.
    pub fn idempotent(self, idem: Option<&'a IdempotencyKey>) -> Self {
        Self { idem, ..self }
    }

    /// The same write, guarded by `item` (see [`Write::guard`]).
    pub fn guarded(self, item: TransactWriteItem) -> Self {
        Self { guard: Some(item), ..self }
    }

    /// An event of this write, by its actor, at its instant.
    pub fn event(&self, kind: EventType, page: Option<Uuid>, data: serde_json::Value) -> Event {
        Event::new(kind, page, &self.actor, self.now.text(), data)
    }
}
