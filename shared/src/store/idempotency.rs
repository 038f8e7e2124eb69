//! `Idempotency-Key` records. A record is written in the same transaction as the
//! resource it created, holding the exact response bytes, so a retry (even a concurrent
//! one) finds either nothing and creates, or the record and replays it byte for byte.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::StoreError;
use super::{Store, get_n, get_s, key, n, s, schema};
use crate::hex::lower;

/// How long a record is honoured.
pub const RETENTION_SECS: i64 = 24 * 60 * 60;

/// A request's idempotency key and the fingerprint of the request it came with.
#[derive(Clone, Debug)]
pub struct IdempotencyKey {
    key_hash: String,
    request_hash: String,
}

impl IdempotencyKey {
    /// The key (already validated) and the request: method, path and the JSON body in
    /// canonical form (keys sorted, no whitespace), so formatting does not matter.
    pub fn new(key: &str, method: &str, path: &str, body: &serde_json::Value) -> Self {
        let canonical = serde_json::to_vec(body).expect("a JSON value serializes");
        let mut request = Sha256::new();
        request.update(method.as_bytes());
        request.update(b" ");
        request.update(path.as_bytes());
        request.update(b"\n");
        request.update(&canonical);
        Self { key_hash: lower(&Sha256::digest(key.as_bytes())), request_hash: lower(&request.finalize()) }
    }

    /// Sort key of this key's record in the org partition.
    pub(crate) fn record_sk(&self) -> String {
        schema::idempotency_sk(&self.key_hash)
    }
}

/// A create's `Idempotency-Key` with how to write its record: the response's bytes as
/// they are to be stored for the new resource (sealed, when the response holds a secret).
pub struct Idempotent<'a, T> {
    /// The key and request fingerprint.
    pub key: &'a IdempotencyKey,
    /// The bytes to keep for a resource: what a replay answers with (after opening).
    pub record: &'a (dyn Fn(&T) -> Vec<u8> + Send + Sync),
}

impl<T> std::fmt::Debug for Idempotent<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotent").field("key", self.key).finish_non_exhaustive()
    }
}

/// What a create did: made the resource, or replayed the stored first response.
#[derive(Debug)]
pub enum Outcome<T> {
    /// Created now.
    Created(T),
    /// A retry: the first response's status and exact body.
    Replayed {
        /// HTTP status of the first response.
        status: u16,
        /// Its body bytes.
        body: Vec<u8>,
    },
}

impl Store {
    /// The record to add as the last item of a create's transaction. `owner` is the
    /// resource the record answers for (an update's record names its incident), so
    /// deleting that resource can take its records with it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn idempotency_put(
        &self,
        org: Uuid,
        idem: &IdempotencyKey,
        page_id: Uuid,
        owner: Uuid,
        status: u16,
        body: Vec<u8>,
        now_epoch: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item = key(schema::org_pk(org), schema::idempotency_sk(&idem.key_hash));
        item.insert("entity".into(), s("idempotency"));
        item.insert("pageId".into(), s(page_id.to_string()));
        item.insert("ownerId".into(), s(owner.to_string()));
        item.insert("requestHash".into(), s(&idem.request_hash));
        item.insert("status".into(), n(status));
        item.insert("body".into(), AttributeValue::B(Blob::new(body)));
        item.insert(schema::TTL.into(), n(now_epoch + RETENTION_SECS));
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            // DynamoDB deletes expired items lazily (DynamoDB Local never): an expired
            // record counts as absent.
            .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
            .expression_attribute_names("#ttl", schema::TTL)
            .expression_attribute_values(":now", n(now_epoch))
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// After a create's transaction failed on its record: replay the stored response, or
    /// answer `idempotency_conflict` when the key came with another request.
    pub(crate) async fn replay<T>(
        &self,
        org: Uuid,
        idem: &IdempotencyKey,
        now_epoch: i64,
    ) -> Result<Outcome<T>, StoreError> {
        let item = self
            .get(&key(schema::org_pk(org), schema::idempotency_sk(&idem.key_hash)), true)
            .await?
            .filter(|i| get_n(i, schema::TTL).is_some_and(|ttl| ttl > now_epoch))
            .ok_or_else(|| StoreError::Unavailable("idempotency record vanished between write and read".into()))?;
        if get_s(&item, "requestHash") != Some(idem.request_hash.as_str()) {
            return Err(StoreError::IdempotencyConflict);
        }
        let status = get_n(&item, "status").unwrap_or(201) as u16;
        let body = item.get("body").and_then(|b| b.as_b().ok()).map(|b| b.clone().into_inner()).unwrap_or_default();
        Ok(Outcome::Replayed { status, body })
    }
}

pub use crate::envelope::data_body;
