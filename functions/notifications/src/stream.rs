//! The handlers of the two functions without routes. `notifier`: a batch of the table's
//! stream records (event items only on AWS, by the event source mapping's filter), each
//! fanned out by [`delivery::handle_event`], answering with the partial batch failures
//! Lambda retries. (The scheduler runs [`livestatus_shared::scheduler`].)

use futures::StreamExt;
use livestatus_shared::AppState;
use livestatus_shared::delivery;
use serde::{Deserialize, Serialize};

/// A DynamoDB stream event as Lambda sends it (only the fields used).
#[derive(Debug, Deserialize)]
pub struct StreamEvent {
    /// The records, in order per shard.
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

/// One stream record.
#[derive(Debug, Deserialize)]
pub struct StreamRecord {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    /// The change.
    pub dynamodb: StreamChange,
}

/// The change a record carries.
#[derive(Debug, Deserialize)]
pub struct StreamChange {
    /// The item after the change (`NEW_IMAGE` view).
    #[serde(rename = "NewImage", default)]
    pub new_image: Option<serde_dynamo::Item>,
    /// The record's position: what a partial batch failure names.
    #[serde(rename = "SequenceNumber", default)]
    pub sequence_number: String,
}

/// The answer to Lambda: the records to retry (`ReportBatchItemFailures`).
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct BatchResponse {
    /// Failed records; Lambda retries from the first of them.
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

/// One failed record.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ItemFailure {
    /// Its sequence number.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// Handles a batch, a few records at a time. Reports the first record (in stream
/// order) that failed: Lambda retries the batch from there, and what was already
/// fanned out is found again by its deterministic delivery ids, never doubled.
pub async fn handle_records(state: &AppState, event: StreamEvent) -> BatchResponse {
    let results: Vec<(String, bool)> = futures::stream::iter(event.records)
        .map(|record| async move {
            let sequence = record.dynamodb.sequence_number;
            if record.event_name != "INSERT" {
                return (sequence, true);
            }
            let Some((org, event)) = record.dynamodb.new_image.and_then(delivery::event_of_image) else {
                return (sequence, true);
            };
            match delivery::handle_event(state, org, &event).await {
                Ok(_) => (sequence, true),
                Err(e) => {
                    tracing::error!(error = ?e, event = %event.id, "fan-out failed; the record will be retried");
                    (sequence, false)
                }
            }
        })
        .buffered(RECORDS_AT_ONCE)
        .collect()
        .await;
    let first_failure = results.into_iter().find(|(_, ok)| !ok);
    BatchResponse {
        batch_item_failures: first_failure
            .map(|(sequence, _)| ItemFailure { item_identifier: sequence })
            .into_iter()
            .collect(),
    }
}

/// Records fanned out at once (each fans out to up to [`delivery::CONCURRENCY`] endpoints).
pub const RECORDS_AT_ONCE: usize = 4;

/// What a replay of the set-aside records came to.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Replay {
    /// Records fanned out and forgotten.
    pub replayed: usize,
    /// Records that failed again and stay set aside (with the new error).
    pub failed: usize,
}

/// Fans out again every record the local poller set aside, in stream order per shard,
/// and forgets each one that now goes through; one that fails again stays, with its
/// new error. Safe to run while the poller runs: fan-out is idempotent.
pub async fn replay_set_aside(state: &AppState) -> Result<Replay, livestatus_shared::ApiError> {
    let mut replay = Replay::default();
    for mut set_aside in state.store.set_aside_records().await? {
        let record: Result<livestatus_shared::store::streams::Record, String> =
            serde_json::from_str(&set_aside.record).map_err(|e| format!("reading the record: {e}"));
        let outcome = match record.and_then(|r| r.event()) {
            Ok((org, event)) => delivery::handle_event(state, org, &event).await.map(drop).map_err(|e| e.to_string()),
            Err(reason) => Err(reason),
        };
        match outcome {
            Ok(()) => {
                state.store.forget_set_aside(&set_aside.shard, &set_aside.sequence).await?;
                replay.replayed += 1;
            }
            Err(error) => {
                tracing::error!(error, sequence = set_aside.sequence, "a set-aside stream record failed again");
                set_aside.error = error;
                set_aside.attempts += 1;
                set_aside.set_aside_at = livestatus_shared::clock::timestamp(state.clock.now());
                state.store.set_aside_record(&set_aside, state.now_epoch()).await?;
                replay.failed += 1;
            }
        }
    }
    Ok(replay)
}
