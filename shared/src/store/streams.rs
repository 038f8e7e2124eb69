//! The table's stream as the local server reads it (the twin of Lambda's event source
//! mapping): shards, iterators and pages of records read as plain JSON, so one record
//! the SDK's parser cannot read (DynamoDB Local renders an empty map as `{}`) never
//! makes a whole page unreadable; and the records the poller gave up on, set aside in
//! the table (the twin of the notifier's on-failure queue) for an operator to see and
//! replay.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::StoreError;
use super::events::{Event, EventItem};
use super::wire::{Failure, WireItem};
use super::{Store, schema};

/// Records one `GetRecords` call asks for (the API's maximum).
pub const PAGE_LIMIT: u32 = 1000;
/// How long a set-aside record is kept (the on-failure queue's 14 days).
pub const SET_ASIDE_DAYS: i64 = 14;

/// Why a stream call failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The iterator is older than 15 minutes, or its position was trimmed: read again
    /// from the last record handled.
    #[error("the shard iterator expired or its records were trimmed: {0}")]
    Expired(String),
    /// Anything else (the table unreachable, a page that is not JSON).
    #[error("{0}")]
    Failed(String),
}

impl From<Failure> for StreamError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Refused { code, message, .. }
                if matches!(code.as_str(), "ExpiredIteratorException" | "TrimmedDataAccessException") =>
            {
                Self::Expired(format!("{code}: {message}"))
            }
            Failure::Refused { code, message, .. } => Self::Failed(format!("{code}: {message}")),
            Failure::Failed(e) => Self::Failed(crate::telemetry::error_chain(&e)),
        }
    }
}

/// One shard of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Its id.
    pub id: String,
    /// The shard it continues, read first so events keep their order.
    pub parent: Option<String>,
}

/// Where an iterator starts.
#[derive(Clone, Debug)]
pub enum Position {
    /// The oldest record the stream keeps.
    Oldest,
    /// Just after the record with this sequence number.
    After(String),
}

/// One page of records and the iterator of the next (`None`: the shard is closed and read).
#[derive(Debug)]
pub struct Page {
    /// The records, in order.
    pub records: Vec<Record>,
    /// The next page's iterator.
    pub next: Option<String>,
}

/// One stream record, kept as the JSON it came in.
#[derive(Clone, Debug, Deserialize)]
pub struct Record(pub serde_json::Value);

impl Record {
    /// Its sequence number (its position in the shard).
    pub fn sequence(&self) -> &str {
        self.0.pointer("/dynamodb/SequenceNumber").and_then(serde_json::Value::as_str).unwrap_or_default()
    }

    /// Whether the notifier's event source mapping lets it through on AWS
    /// (`template.yaml`): the insert of an event item.
    pub fn is_event_insert(&self) -> bool {
        self.0.get("eventName").and_then(serde_json::Value::as_str) == Some("INSERT")
            && self.0.pointer("/dynamodb/NewImage/entity/S").and_then(serde_json::Value::as_str) == Some("event")
    }

    /// The event it carries, with its organization; the reason when it cannot be read.
    pub fn event(&self) -> Result<(Uuid, Event), String> {
        let image = self.0.pointer("/dynamodb/NewImage").ok_or("the record has no new image")?;
        let item: WireItem = serde_json::from_value(image.clone()).map_err(|e| format!("reading the image: {e}"))?;
        let item: EventItem = serde_dynamo::from_item(item.0).map_err(|e| format!("reading the event: {e}"))?;
        Ok((item.org_id, item.event))
    }
}

/// A record the poller gave up on, as an operator sees it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetAside {
    /// The shard it came from.
    pub shard: String,
    /// Its sequence number.
    pub sequence: String,
    /// Why it was set aside (the last error).
    pub error: String,
    /// Attempts made.
    pub attempts: u32,
    /// When.
    pub set_aside_at: String,
    /// The record itself, as the stream gave it (JSON).
    pub record: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeIn<'a> {
    stream_arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exclusive_start_shard_id: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeOut {
    stream_description: StreamDescription,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamDescription {
    #[serde(default)]
    shards: Vec<ShardOut>,
    #[serde(default)]
    last_evaluated_shard_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ShardOut {
    shard_id: String,
    #[serde(default)]
    parent_shard_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct IteratorIn<'a> {
    stream_arn: &'a str,
    shard_id: &'a str,
    shard_iterator_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IteratorOut {
    #[serde(default)]
    shard_iterator: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RecordsIn<'a> {
    shard_iterator: &'a str,
    limit: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RecordsOut {
    #[serde(default)]
    records: Vec<Record>,
    #[serde(default)]
    next_shard_iterator: Option<String>,
}

impl Store {
    /// The table's stream, when it has one.
    pub async fn stream_arn(&self) -> Result<Option<String>, StreamError> {
        let described = self
            .client()
            .describe_table()
            .table_name(self.table())
            .send()
            .await
            .map_err(|e| StreamError::Failed(aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string()))?;
        Ok(described.table().and_then(|t| t.latest_stream_arn()).map(str::to_owned))
    }

    /// Every shard of the stream.
    pub async fn stream_shards(&self, stream: &str) -> Result<Vec<Shard>, StreamError> {
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let input = DescribeIn { stream_arn: stream, exclusive_start_shard_id: start.as_deref() };
            let out: DescribeOut = self.wire.call_streams("DescribeStream", &input).await?;
            let description = out.stream_description;
            shards.extend(description.shards.into_iter().map(|s| Shard { id: s.shard_id, parent: s.parent_shard_id }));
            start = description.last_evaluated_shard_id;
            if start.is_none() {
                return Ok(shards);
            }
        }
    }

    /// An iterator of `shard` from `position` (`None`: the shard has nothing left there).
    pub async fn stream_iterator(
        &self,
        stream: &str,
        shard: &str,
        position: &Position,
    ) -> Result<Option<String>, StreamError> {
        let (kind, sequence) = match position {
            Position::Oldest => ("TRIM_HORIZON", None),
            Position::After(sequence) => ("AFTER_SEQUENCE_NUMBER", Some(sequence.as_str())),
        };
        let input =
            IteratorIn { stream_arn: stream, shard_id: shard, shard_iterator_type: kind, sequence_number: sequence };
        let out: IteratorOut = self.wire.call_streams("GetShardIterator", &input).await?;
        Ok(out.shard_iterator)
    }

    /// The page of records at `iterator`.
    pub async fn stream_records(&self, iterator: &str) -> Result<Page, StreamError> {
        let out: RecordsOut =
            self.wire.call_streams("GetRecords", &RecordsIn { shard_iterator: iterator, limit: PAGE_LIMIT }).await?;
        Ok(Page { records: out.records, next: out.next_shard_iterator })
    }

    /// Sets a record aside (written again, it stays one item), kept [`SET_ASIDE_DAYS`].
    pub async fn set_aside_record(&self, set_aside: &SetAside, now_epoch: i64) -> Result<(), StoreError> {
        #[derive(Serialize)]
        struct Row<'a> {
            pk: &'static str,
            sk: String,
            entity: &'static str,
            #[serde(flatten)]
            set_aside: &'a SetAside,
            ttl: i64,
        }
        let row = Row {
            pk: schema::SET_ASIDE_PK,
            sk: schema::set_aside_sk(&set_aside.shard, &set_aside.sequence),
            entity: "setAside",
            set_aside,
            ttl: now_epoch + SET_ASIDE_DAYS * 86_400,
        };
        let item = serde_dynamo::to_item(&row).map_err(StoreError::internal)?;
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(super::sdk_error)?;
        Ok(())
    }

    /// The records set aside, oldest shard and position first.
    pub async fn set_aside_records(&self) -> Result<Vec<SetAside>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", super::s(schema::SET_ASIDE_PK))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(super::sdk_error)?;
            for item in out.items.unwrap_or_default() {
                found.push(serde_dynamo::from_item(item).map_err(StoreError::internal)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(found);
            }
        }
    }

    /// Forgets a set-aside record (once replayed).
    pub async fn forget_set_aside(&self, shard: &str, sequence: &str) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .key(schema::PK, super::s(schema::SET_ASIDE_PK))
            .key(schema::SK, super::s(schema::set_aside_sk(shard, sequence)))
            .send()
            .await
            .map_err(super::sdk_error)?;
        Ok(())
    }
}
