//! The work that runs beside the routes on AWS, run in-process locally: a poller of the
//! table's stream on DynamoDB Local that hands each new event to the notifier's handler
//! (the twin of the event source mapping, its filter, retries and on-failure queue), and
//! the scheduler's tick every few seconds. Both run under [`supervise`]: a panic is
//! logged as an error and the loop starts again, so neither ever stops in silence.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use livestatus_shared::AppState;
use livestatus_shared::clock::timestamp;
use livestatus_shared::store::StoreError;
use livestatus_shared::store::events::Event;
use livestatus_shared::store::streams::{Position, Record, SetAside, Shard, StreamError};
use livestatus_shared::{delivery, scheduler};
use uuid::Uuid;

/// How the poller paces itself.
#[derive(Clone, Debug)]
pub struct Pacing {
    /// The wait between polls while the stream has nothing new (a full page is followed
    /// at once by the next, so a backlog drains without waiting).
    pub idle: Duration,
    /// Attempts at an event before it is set aside (the event source mapping's retries).
    pub attempts: u32,
    /// The wait before the first retry, doubled for each next one.
    pub retry: Duration,
    /// How often the shards are listed again (DynamoDB Local opens a new one every so often).
    pub discover: Duration,
}

impl Default for Pacing {
    /// 200 ms between idle polls; four attempts over 3.5 s; shards listed every 4 s.
    fn default() -> Self {
        Self {
            idle: Duration::from_millis(200),
            attempts: 4,
            retry: Duration::from_millis(500),
            discover: Duration::from_secs(4),
        }
    }
}

/// Pages of events (or organizations, for events of no page) fanned out at once; each
/// page's events go one after another, in stream order.
pub const PAGES_AT_ONCE: usize = 32;

/// Runs `task` for ever: when it ends or panics, says so as an error and starts it again
/// a second later.
pub async fn supervise<F, Fut>(name: &'static str, task: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        match tokio::spawn(task()).await {
            Ok(()) => tracing::error!(task = name, "background task ended; starting it again"),
            Err(e) => tracing::error!(task = name, error = %e, "background task panicked; starting it again"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A shard being read: where the next page starts, and the last record handled.
#[derive(Debug, Default)]
struct Cursor {
    iterator: Option<String>,
    after: Option<String>,
    read_failures: u32,
}

/// Polls the stream for ever. Starts each shard at its oldest record: replays are
/// harmless (deliveries have deterministic ids, and webhooks ignore events older than
/// themselves), and nothing written while the server was down is missed. A page that
/// cannot be read is read again from the same position; an event whose fan-out keeps
/// failing is retried, then set aside in the table (`livestatus-admin stream`), and the
/// poller moves on.
pub async fn poll_stream(state: AppState, pacing: Pacing) {
    let stream = loop {
        match state.store.stream_arn().await {
            Ok(Some(arn)) => break arn,
            Ok(None) => tracing::error!("the table has no stream; webhooks and email are not delivered locally"),
            Err(e) => tracing::error!(error = %e, "cannot describe the table; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let mut cursors: HashMap<String, Cursor> = HashMap::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut discovered_at: Option<tokio::time::Instant> = None;
    loop {
        if discovered_at.is_none_or(|at| at.elapsed() >= pacing.discover) {
            match state.store.stream_shards(&stream).await {
                Ok(shards) => {
                    discovered_at = Some(tokio::time::Instant::now());
                    start_new_shards(&shards, &mut cursors, &finished);
                }
                Err(e) => tracing::error!(error = %e, "cannot list the stream's shards; retrying"),
            }
        }
        let mut busy = false;
        let mut ids: Vec<String> = cursors.keys().cloned().collect();
        ids.sort();
        for id in ids {
            let cursor = cursors.get_mut(&id).expect("listed above");
            match poll_shard(&state, &stream, &id, cursor, &pacing).await {
                Polled::Records(full) => busy |= full,
                Polled::Nothing => {}
                Polled::Closed => {
                    cursors.remove(&id);
                    finished.insert(id);
                    // A child of this shard may be read now.
                    discovered_at = None;
                }
            }
        }
        if !busy {
            tokio::time::sleep(pacing.idle).await;
        }
    }
}

/// Adds a cursor for every shard not yet read whose parent is done (a child is read only
/// after its parent, so events keep their order).
fn start_new_shards(shards: &[Shard], cursors: &mut HashMap<String, Cursor>, finished: &HashSet<String>) {
    let known: HashSet<&str> = shards.iter().map(|s| s.id.as_str()).collect();
    for shard in shards {
        if cursors.contains_key(&shard.id) || finished.contains(&shard.id) {
            continue;
        }
        if shard.parent.as_deref().is_some_and(|p| known.contains(p) && !finished.contains(p)) {
            continue;
        }
        cursors.insert(shard.id.clone(), Cursor::default());
    }
}

/// What one poll of a shard came to.
enum Polled {
    /// A page was handled; `true` when it was full (more is waiting).
    Records(bool),
    /// Nothing new, or a failure that the next poll retries.
    Nothing,
    /// The shard is closed and read to its end.
    Closed,
}

async fn poll_shard(state: &AppState, stream: &str, shard: &str, cursor: &mut Cursor, pacing: &Pacing) -> Polled {
    let iterator = match cursor.iterator.clone() {
        Some(iterator) => iterator,
        None => {
            let position = cursor.after.clone().map_or(Position::Oldest, Position::After);
            match state.store.stream_iterator(stream, shard, &position).await {
                Ok(Some(iterator)) => iterator,
                Ok(None) => return Polled::Closed,
                Err(e) => {
                    tracing::error!(error = %e, shard, "cannot get a shard iterator; retrying");
                    return Polled::Nothing;
                }
            }
        }
    };
    let page = match state.store.stream_records(&iterator).await {
        Ok(page) => page,
        Err(StreamError::Expired(e)) => {
            tracing::info!(error = e, shard, "reading the shard again after its last handled record");
            cursor.iterator = None;
            return Polled::Nothing;
        }
        Err(StreamError::Failed(e)) => {
            cursor.read_failures += 1;
            tracing::error!(error = e, shard, failures = cursor.read_failures, "cannot read the stream; retrying");
            // The same iterator first; then a fresh one at the same position.
            cursor.iterator = (cursor.read_failures < pacing.attempts).then_some(iterator);
            return Polled::Nothing;
        }
    };
    cursor.read_failures = 0;
    if let Err(e) = handle_page(state, shard, &page.records, pacing).await {
        // Nothing may be skipped: the page is read again from the same position (what
        // was fanned out already is found by its delivery ids, never sent twice).
        tracing::error!(error = ?e, shard, "cannot set a failed stream record aside; reading the page again");
        cursor.iterator = None;
        tokio::time::sleep(pacing.retry).await;
        return Polled::Nothing;
    }
    if let Some(last) = page.records.last() {
        cursor.after = Some(last.sequence().to_owned());
    }
    let full = page.records.len() >= livestatus_shared::store::streams::PAGE_LIMIT as usize;
    match page.next {
        Some(next) => {
            cursor.iterator = Some(next);
            Polled::Records(full || !page.records.is_empty())
        }
        None => Polled::Closed,
    }
}

/// Fans out the events of one page of records: what the AWS filter lets through (event
/// inserts), pages at once and each page's events in order. An unreadable record is set
/// aside at once; an event whose fan-out keeps failing after its retries too. Fails only
/// when a record cannot be set aside.
pub async fn handle_page(state: &AppState, shard: &str, records: &[Record], pacing: &Pacing) -> Result<(), StoreError> {
    let mut groups: Vec<((Uuid, Option<Uuid>), Vec<(Record, Event)>)> = Vec::new();
    for record in records.iter().filter(|r| r.is_event_insert()) {
        match record.event() {
            Ok((org, event)) => {
                let key = (org, event.page_id);
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, events)) => events.push((record.clone(), event)),
                    None => groups.push((key, vec![(record.clone(), event)])),
                }
            }
            Err(reason) => {
                tracing::error!(error = reason, shard, sequence = record.sequence(), "unreadable stream record");
                set_aside(state, shard, record, reason, 1).await?;
            }
        }
    }
    let results: Vec<Result<(), StoreError>> = futures::stream::iter(groups)
        .map(|((org, _), events)| async move {
            // The page's events together first (endpoints read once, writes batched);
            // when that fails, one by one, so only the failing ones are set aside.
            let together: Vec<Event> = events.iter().map(|(_, e)| e.clone()).collect();
            let handled = AssertUnwindSafe(delivery::handle_events(state, org, &together)).catch_unwind().await;
            if let Ok(Ok(_)) = handled {
                return Ok(());
            }
            tracing::warn!(shard, events = together.len(), "a page's fan-out failed; retrying its events one by one");
            for (record, event) in events {
                fan_out(state, shard, org, &record, &event, pacing).await?;
            }
            Ok(())
        })
        .buffer_unordered(PAGES_AT_ONCE)
        .collect()
        .await;
    results.into_iter().collect()
}

/// One event's fan-out with its retries; set aside when they are spent (a panic counts
/// as a failure).
async fn fan_out(
    state: &AppState,
    shard: &str,
    org: Uuid,
    record: &Record,
    event: &Event,
    pacing: &Pacing,
) -> Result<(), StoreError> {
    let mut delay = pacing.retry;
    let mut attempt = 1;
    loop {
        let handled = AssertUnwindSafe(delivery::handle_event(state, org, event)).catch_unwind().await;
        let error = match handled {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => format!("{e:?}"),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                format!("the fan-out panicked: {message}")
            }
        };
        if attempt >= pacing.attempts {
            tracing::error!(error, event = %event.id, attempts = attempt, "fan-out failed; the event is set aside");
            return set_aside(state, shard, record, error, attempt).await;
        }
        tracing::warn!(error, event = %event.id, attempt, "fan-out failed; retrying");
        tokio::time::sleep(delay).await;
        delay *= 2;
        attempt += 1;
    }
}

async fn set_aside(
    state: &AppState,
    shard: &str,
    record: &Record,
    error: String,
    attempts: u32,
) -> Result<(), StoreError> {
    let set_aside = SetAside {
        shard: shard.to_owned(),
        sequence: record.sequence().to_owned(),
        error,
        attempts,
        set_aside_at: timestamp(state.clock.now()),
        record: record.0.to_string(),
    };
    state.store.set_aside_record(&set_aside, state.now_epoch()).await
}

/// Runs the scheduler's tick every `every`.
pub async fn tick_forever(state: AppState, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match scheduler::tick(&state).await {
            Ok(outcome) if outcome.deliveries > 0 || outcome.transitions > 0 => {
                tracing::info!(
                    deliveries = outcome.deliveries,
                    delivered = outcome.delivered,
                    transitions = outcome.transitions,
                    "scheduler tick"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = ?e, "scheduler tick failed"),
        }
    }
}
