//! DynamoDB access: the client built from the environment, SDK error translation, and
//! one module per entity. Handlers call these functions and never see the SDK.

pub mod api_keys;
pub mod cursor;
pub mod deliveries;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod incidents;
pub mod integrations;
pub mod listing;
pub mod maintenances;
pub mod monitors;
pub mod orgs;
pub mod pages;
pub mod quotas;
pub mod schema;
pub mod services;
pub mod streams;
pub mod subscribers;
pub mod webhooks;
pub mod wire;
pub mod write;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, DeleteRequest, TransactWriteItem, WriteRequest};

pub use error::StoreError;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// The table and the clients that reach it: the SDK's, and the lean one of the calls
/// nearly every request makes ([`wire`]). Cheap to clone; build it once per process.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    wire: Arc<wire::Wire>,
    // Shared, not copied: the state (and so the store) is cloned for every request.
    table: Arc<str>,
}

impl Store {
    /// Wraps an existing client (tests add interceptors to theirs). The lean client takes
    /// its region; it goes to `DYNAMODB_ENDPOINT` when set, as [`client_config`] does (or
    /// the SDK's `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`), else to the region's
    /// endpoint, FIPS with `AWS_USE_FIPS_ENDPOINT=true` ([`Store::with_endpoint`] points
    /// both elsewhere).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        // The SDK's own endpoint variables too, so both clients always reach one table.
        let endpoint = ["DYNAMODB_ENDPOINT", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"]
            .into_iter()
            .find_map(|name| std::env::var(name).ok().filter(|e| !e.is_empty()));
        let wire = wire::Wire::new(endpoint.as_deref(), region_of(&client));
        Self { client, wire: Arc::new(wire), table: Arc::from(table.into()) }
    }

    /// The same store with both clients sent to `endpoint` (e.g. another DynamoDB Local).
    pub fn with_endpoint(self, endpoint: &str) -> Self {
        let client = Client::from_conf(self.client.config().to_builder().endpoint_url(endpoint).build());
        let wire = wire::Wire::new(Some(endpoint), region_of(&client));
        Self { client, wire: Arc::new(wire), table: self.table }
    }

    /// The same store with `observer` seeing every request of the lean client (the SDK
    /// client's requests are seen by its interceptors).
    pub fn observed(self, observer: Arc<dyn wire::CallObserver>) -> Self {
        Self { wire: Arc::new(self.wire.observed(observer)), ..self }
    }

    /// Builds the client from the standard AWS environment. `TABLE_NAME` names the table
    /// (default `livestatus`); `DYNAMODB_ENDPOINT`, when set, points at DynamoDB Local.
    pub async fn from_env() -> Self {
        let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| "livestatus".to_owned());
        Self::new(Client::from_conf(client_config().await), table)
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table when it does not exist (local runs and tests); a table kept from
    /// an earlier version gets the indexes it lacks, and its items their index keys.
    pub async fn ensure_table(&self) -> anyhow::Result<bool> {
        use anyhow::Context;
        if schema::create_table(&self.client, self.table()).await.context("creating the table")? {
            return Ok(true);
        }
        if schema::add_missing_indexes(&self.client, self.table()).await.context("adding indexes")? {
            tracing::info!(table = %self.table, "added GSI2");
            // DynamoDB Local fails writes now and then while an index is still being built.
            for _ in 0..100 {
                let described = self.client.describe_table().table_name(self.table()).send().await?;
                let building = described.table().is_some_and(|t| {
                    t.global_secondary_indexes()
                        .iter()
                        .any(|i| i.index_status() != Some(&aws_sdk_dynamodb::types::IndexStatus::Active))
                });
                if !building {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if schema::enable_stream(&self.client, self.table()).await.context("enabling the stream")? {
            tracing::info!(table = %self.table, "enabled the table's stream");
        }
        let changed = self.migrate().await.context("filling index keys")?;
        if changed > 0 {
            tracing::info!(table = %self.table, items = changed, "filled index keys of items from an earlier version");
        }
        Ok(false)
    }

    /// Marks an item as being deleted (`deleting`, kept from the first mark so a retry
    /// changes nothing) and returns it as it now is; `None` when there is no such item.
    pub(crate) async fn mark_deleting(&self, key: Item, now: &str) -> Result<Option<Item>, StoreError> {
        let marked = self
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key))
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET deleting = if_not_exists(deleting, :now)")
            .expression_attribute_values(":now", s(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match marked {
            Ok(out) => Ok(Some(out.attributes.unwrap_or_default())),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(None),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Deletes items by key, 25 per batch, retrying unprocessed items until none is left.
    pub(crate) async fn delete_keys(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        let requests = keys
            .into_iter()
            .map(|key| {
                let delete = DeleteRequest::builder().set_key(Some(key)).build().map_err(StoreError::internal)?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.batch_write(requests, 1).await
    }

    /// Puts items unconditionally, 25 to a `BatchWriteItem`, a few batches at a time
    /// (check records: nothing else writes their keys).
    pub(crate) async fn put_all(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let requests = items
            .into_iter()
            .map(|item| {
                let put = aws_sdk_dynamodb::types::PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(StoreError::internal)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.batch_write(requests, 8).await
    }

    /// Writes requests 25 to a `BatchWriteItem`, `at_once` batches in flight, retrying
    /// what DynamoDB leaves unprocessed with backoff.
    async fn batch_write(&self, requests: Vec<WriteRequest>, at_once: usize) -> Result<(), StoreError> {
        use futures::StreamExt;
        let batches: Vec<Vec<WriteRequest>> = requests.chunks(25).map(<[WriteRequest]>::to_vec).collect();
        let results: Vec<Result<(), StoreError>> = futures::stream::iter(batches)
            .map(|mut pending| async move {
                let mut attempt = 0u32;
                while !pending.is_empty() {
                    let out = self
                        .client
                        .batch_write_item()
                        .request_items(self.table(), pending)
                        .send()
                        .await
                        .map_err(sdk_error)?;
                    pending = out.unprocessed_items.and_then(|mut m| m.remove(self.table())).unwrap_or_default();
                    if !pending.is_empty() {
                        attempt += 1;
                        if attempt > 8 {
                            return Err(StoreError::Unavailable("a batch write left unprocessed items".into()));
                        }
                        tokio::time::sleep(backoff(attempt)).await;
                    }
                }
                Ok(())
            })
            .buffer_unordered(at_once.max(1))
            .collect()
            .await;
        results.into_iter().collect()
    }
}

/// The client's region; `client_config` always sets one.
fn region_of(client: &Client) -> &str {
    client.config().region().map_or("us-east-1", |r| r.as_ref())
}

/// How a transaction ended when it did not commit.
#[derive(Debug)]
pub(crate) enum TxError {
    /// A condition failed: the per-item reasons, in the order the items were given.
    Cancelled(Vec<CancellationReason>),
    /// Anything else, already translated.
    Failed(StoreError),
}

impl TxError {
    /// For callers that expected no condition to fail.
    pub(crate) fn into_error(self) -> StoreError {
        match self {
            Self::Failed(e) => e,
            Self::Cancelled(reasons) => {
                let codes: Vec<_> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
                StoreError::internal(format!("transaction cancelled: {codes:?}"))
            }
        }
    }
}

/// A transaction being built. Each item pushed gets its [`Slot`], by which the caller
/// asks whether that item's condition failed: failures are found by name, never by
/// counting positions.
#[derive(Debug, Default)]
pub(crate) struct Tx {
    items: Vec<TransactWriteItem>,
}

/// Where an item sits in its [`Tx`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot(usize);

/// The slots of items pushed together (one per service, say).
#[derive(Clone, Debug)]
pub(crate) struct Slots(std::ops::Range<usize>);

impl Tx {
    /// An empty transaction.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds an item; returns its slot.
    pub(crate) fn push(&mut self, item: TransactWriteItem) -> Slot {
        self.items.push(item);
        Slot(self.items.len() - 1)
    }

    /// Adds items; returns their slots.
    pub(crate) fn extend(&mut self, items: impl IntoIterator<Item = TransactWriteItem>) -> Slots {
        let start = self.items.len();
        self.items.extend(items);
        Slots(start..self.items.len())
    }

    /// Whether it has no items.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl Slots {
    /// The `i`-th of them.
    pub(crate) fn nth(&self, i: usize) -> Option<Slot> {
        let at = self.0.start + i;
        (at < self.0.end).then_some(Slot(at))
    }

    /// Which of them (counted from 0) failed first, if any.
    pub(crate) fn first_failed(&self, reasons: &[CancellationReason]) -> Option<usize> {
        self.0.clone().position(|at| failed_at(reasons, Slot(at)).is_some())
    }
}

/// The reason for the item in `slot` when its condition failed.
pub(crate) fn failed_at(reasons: &[CancellationReason], slot: Slot) -> Option<&CancellationReason> {
    reasons.get(slot.0).filter(|r| r.code() == Some("ConditionalCheckFailed"))
}

impl Store {
    /// Runs a transaction, retrying with backoff while it only loses to concurrent
    /// transactions on the same items (`TransactionConflict`).
    pub(crate) async fn transact(&self, items: impl Into<Vec<TransactWriteItem>>) -> Result<(), TxError> {
        let items = items.into();
        let mut attempt = 0u32;
        loop {
            let sent = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let err = match sent {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let reasons = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(t)) => t.cancellation_reasons().to_vec(),
                _ => return Err(TxError::Failed(sdk_error(err))),
            };
            let condition_failed = reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed"));
            let conflict = reasons.iter().any(|r| matches!(r.code(), Some("TransactionConflict" | "ThrottlingError")));
            if condition_failed || !conflict {
                return Err(TxError::Cancelled(reasons));
            }
            attempt += 1;
            if attempt > 10 {
                return Err(TxError::Failed(StoreError::Unavailable("transaction kept conflicting".into())));
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
    }
}

impl From<Tx> for Vec<TransactWriteItem> {
    fn from(tx: Tx) -> Self {
        tx.items
    }
}

/// Exponential backoff with jitter for retries of conflicts and unprocessed items.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 10u64 << attempt.min(6);
    let mut jitter = [0u8; 2];
    let _ = getrandom::fill(&mut jitter);
    Duration::from_millis(base / 2 + u64::from(u16::from_le_bytes(jitter)) % base)
}

/// The SDK configuration: the standard chain, with `DYNAMODB_ENDPOINT` when set and
/// timeouts short enough that an unreachable store answers 503 well within API
/// Gateway's 30 seconds.
pub async fn client_config() -> aws_sdk_dynamodb::Config {
    let shared = aws_config::load_from_env().await;
    let mut builder = aws_sdk_dynamodb::config::Builder::from(&shared).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(Duration::from_secs(5))
            .operation_timeout(Duration::from_secs(12))
            .build(),
    );
    if let Ok(endpoint) = std::env::var("DYNAMODB_ENDPOINT") {
        builder = builder.endpoint_url(endpoint);
        // DynamoDB Local accepts any credentials; spare local users from inventing them.
        if shared.credentials_provider().is_none() || std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            builder = builder.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local", "local", None, None, "local",
            ));
        }
        if shared.region().is_none() {
            builder = builder.region(aws_sdk_dynamodb::config::Region::new("us-east-1"));
        }
    }
    builder.build()
}

/// Translates an SDK error that no caller expected: throttling, timeouts and an
/// unreachable store become 503 `service_unavailable`; anything else is internal.
pub(crate) fn sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let unavailable = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => true,
        SdkError::ServiceError(e) => matches!(
            e.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "TransactionConflictException"
            )
        ),
        _ => false,
    };
    let cause = aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string();
    if unavailable { StoreError::Unavailable(cause.into()) } else { StoreError::Internal(cause.into()) }
}

/// Reads a string attribute.
pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// Reads a number attribute as `i64`.
pub(crate) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

/// A string attribute value.
pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute value.
pub(crate) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The primary key of an item.
pub(crate) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([(schema::PK.to_owned(), s(pk)), (schema::SK.to_owned(), s(sk))])
}

/// Deserializes an item into an entity, treating a mismatch as an internal error.
pub(crate) fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(StoreError::internal)
}

/// Serializes an entity into an item.
pub(crate) fn to_item<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(StoreError::internal)
}

/// An update expression under construction: `SET` clauses with their name and value
/// placeholders, applied to an `UpdateItem` or a transaction's `Update`.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    sets: Vec<String>,
    removes: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Changes {
    /// `SET #attr = :attr`.
    pub(crate) fn set(&mut self, attr: &str, value: AttributeValue) -> &mut Self {
        self.sets.push(format!("#{attr} = :{attr}"));
        self.names.insert(format!("#{attr}"), attr.to_owned());
        self.values.insert(format!(":{attr}"), value);
        self
    }

    /// `SET #attr = list_append(if_not_exists(#attr, :empty), :attr)`: appends to a list.
    pub(crate) fn append(&mut self, attr: &str, list: AttributeValue) -> &mut Self {
        self.sets.push(format!("#{attr} = list_append(if_not_exists(#{attr}, :emptyList), :{attr})"));
        self.names.insert(format!("#{attr}"), attr.to_owned());
        self.values.insert(format!(":{attr}"), list);
        self.values.insert(":emptyList".to_owned(), AttributeValue::L(Vec::new()));
        self
    }

    /// `REMOVE #attr`.
    pub(crate) fn remove(&mut self, attr: &str) -> &mut Self {
        self.removes.push(format!("#{attr}"));
        self.names.insert(format!("#{attr}"), attr.to_owned());
        self
    }

    /// A placeholder used by the condition.
    pub(crate) fn value(&mut self, placeholder: &str, value: AttributeValue) -> &mut Self {
        self.values.insert(placeholder.to_owned(), value);
        self
    }

    fn expression(&self) -> String {
        match (self.sets.is_empty(), self.removes.is_empty()) {
            (_, true) => format!("SET {}", self.sets.join(", ")),
            (true, false) => format!("REMOVE {}", self.removes.join(", ")),
            (false, false) => format!("SET {} REMOVE {}", self.sets.join(", "), self.removes.join(", ")),
        }
    }

    /// Applies the changes to a transaction's `Update`.
    pub(crate) fn apply_tx(
        self,
        update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
    ) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        let expression = self.expression();
        update
            .update_expression(expression)
            .set_expression_attribute_names((!self.names.is_empty()).then_some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
    }
}

impl Store {
    /// A `Put` that must not overwrite anything.
    pub(crate) fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A `Put` that writes the item whatever is there.
    pub(crate) fn put(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A put that replaces an item only if it is still at revision `sequence` (its
    /// `sequence` attribute, which every such write increments): the optimistic lock of
    /// maintenance windows and monitors.
    pub(crate) fn put_if_sequence(&self, item: Item, sequence: u64) -> Result<TransactWriteItem, StoreError> {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_exists(pk) AND #sequence = :sequence")
            .expression_attribute_names("#sequence", "sequence")
            .expression_attribute_values(":sequence", n(sequence))
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Runs a query to its end, following `LastEvaluatedKey` across DynamoDB's 1 MB pages.
    pub(crate) async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let (page, last) = self.query_page(&query, None, start.as_ref()).await?;
            items.extend(page);
            start = last;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Items by key, strongly consistent, 100 to a `BatchGetItem`, asking again for what
    /// DynamoDB leaves unprocessed (with backoff). In no particular order; missing items
    /// are absent.
    pub(crate) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::with_capacity(keys.len());
        let mut pending = keys;
        let mut attempt = 0;
        while !pending.is_empty() {
            let batch: Vec<Item> = pending.drain(..pending.len().min(100)).collect();
            let out = self
                .client()
                .batch_get_item()
                .request_items(
                    self.table(),
                    aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                        .set_keys(Some(batch))
                        .consistent_read(true)
                        .build()
                        .map_err(StoreError::internal)?,
                )
                .send()
                .await
                .map_err(sdk_error)?;
            items.extend(out.responses.and_then(|mut r| r.remove(self.table())).unwrap_or_default());
            if let Some(unprocessed) = out.unprocessed_keys.and_then(|mut u| u.remove(self.table())) {
                attempt += 1;
                if attempt > 8 {
                    return Err(StoreError::Unavailable("batch read left unprocessed keys".into()));
                }
                pending.extend(unprocessed.keys);
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
        Ok(items)
    }

    /// An `UpdateItem` by the lean client, returning the attributes it asked for.
    pub(crate) async fn update_returning(&self, input: &wire::UpdateIn<'_>) -> Result<Item, wire::Failure> {
        let out: wire::UpdateOut = self.wire.call("UpdateItem", input).await?;
        Ok(out.attributes.map(|a| a.0).unwrap_or_default())
    }

    /// A `GetItem` by the lean client.
    pub(crate) async fn get(&self, key: &Item, consistent: bool) -> Result<Option<Item>, StoreError> {
        let input = wire::GetIn { table_name: self.table(), key: wire::ItemRef(key), consistent_read: consistent };
        let out: wire::GetOut = self.wire.call("GetItem", &input).await.map_err(wire::Failure::into_error)?;
        Ok(out.item.map(|i| i.0))
    }

    /// One page of a query built with the SDK's builder, sent by the lean client.
    async fn query_page(
        &self,
        query: &aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: Option<i32>,
        start: Option<&Item>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let mut input = wire::QueryIn::from_sdk(self.table(), query.as_input());
        input.limit = limit.or(input.limit);
        input.exclusive_start_key = start.map(wire::ItemRef);
        let out: wire::QueryOut = self.wire.call("Query", &input).await.map_err(wire::Failure::into_error)?;
        Ok((out.items.into_iter().map(|i| i.0).collect(), out.last_evaluated_key.map(|k| k.0)))
    }

    /// Runs a query until it has `limit` items or the end, following `LastEvaluatedKey`
    /// (a filtered query can return fewer items than it read). Returns the items and the
    /// key to continue from.
    pub(crate) async fn query_up_to(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        limit: u32,
        mut start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let limit = limit as usize;
        let mut items = Vec::with_capacity(limit);
        loop {
            let (page, last) = self.query_page(&query, Some((limit - items.len()) as i32), start.as_ref()).await?;
            items.extend(page);
            start = last;
            if items.len() >= limit || start.is_none() {
                return Ok((items, start));
            }
        }
    }
}
