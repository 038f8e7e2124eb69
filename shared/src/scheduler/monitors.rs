//! The monitors' part of the scheduler's tick, as a dispatcher and its workers. The
//! dispatcher claims the tick's windows of the due index, reads the monitors due in them
//! and cuts them into batches, each of one organization and at most [`BATCH_SIZE`]
//! checks, taken round robin across organizations. A worker checks its batch all at once
//! through the shared outbound client and its address guard; then writes (a monitor only
//! when its runs or status change, the check records batched, its organization's state
//! items) and carries each change of status to the linked service (never while it is
//! under maintenance) and to its page's automatic incident. A batch takes about its
//! slowest target's timeout, and one tenant's slow targets hold only its own batches.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::AppState;
use crate::domain::ServiceStatus;
use crate::domain::monitor::MonitorStatus;
use crate::store::StoreError;
use crate::store::events::Actor;
use crate::store::monitors::{
    CHECK_RETENTION_SECS, DayCounters, DueMonitor, LastCheck, Recorded, Transition, state_group,
};
use crate::store::services::{ServicePatch, StatusSource};
use crate::store::write::Write;

/// Checks in one batch, all in flight at once.
pub const BATCH_SIZE: usize = 100;
/// Batches checked at once. The batches of each organization come in turn, so a tenant
/// whose targets are slow holds one slot per round, and the largest plan's monitors (ten
/// batches) never fill them all.
pub const BATCH_CONCURRENCY: usize = 16;
/// Monitor writes (changes of runs or status) in flight at once, per batch.
pub const WRITE_CONCURRENCY: usize = 16;
/// Work orders handed to workers at once.
pub const HAND_CONCURRENCY: usize = 32;

/// What the monitors' part of a tick did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Checks made and recorded in this process.
    pub checks: usize,
    /// Checks handed to worker functions (made and recorded there).
    pub handed: usize,
    /// Checks due in this process that could not be recorded (their writes tried
    /// [`RETRIES`] more times): those monitors are checked again at their next slot.
    pub failed: usize,
    /// Changes of status.
    pub transitions: usize,
    /// Some active monitor checks more often than once a minute (every 30 s), so a
    /// once-a-minute scheduler runs the monitors again half a minute later.
    pub sub_minute: bool,
}

/// More tries of a batch's writes of check records and state after a failure, 1 s and
/// then 2 s later. A check is made once: only its writes are tried again.
pub const RETRIES: u32 = 2;

/// One worker's share of a tick: due monitors of one organization.
#[derive(Debug)]
pub struct Batch {
    /// The organization.
    pub org: Uuid,
    /// Its due monitors, at most [`BATCH_SIZE`].
    pub monitors: Vec<DueMonitor>,
}

/// Cuts due monitors into batches of one organization each, at most [`BATCH_SIZE`],
/// ordered round robin: every organization's first batch, then every second one, … A
/// batch takes whole state groups (split only when one holds more than a batch), so each
/// state item is read and written by one batch of a tick, once.
pub fn batches(due: Vec<DueMonitor>) -> Vec<Batch> {
    let mut by_org: Vec<(Uuid, Vec<DueMonitor>)> = Vec::new();
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    for m in due {
        let i = *index.entry(m.org()).or_insert_with(|| {
            by_org.push((m.org(), Vec::new()));
            by_org.len() - 1
        });
        by_org[i].1.push(m);
    }
    let mut rounds: Vec<Vec<Batch>> = Vec::new();
    for (org, mut monitors) in by_org {
        monitors.sort_by_key(|m| state_group(m.monitor().id));
        let mut cut: Vec<Vec<DueMonitor>> = vec![Vec::new()];
        let mut monitors = monitors.into_iter().peekable();
        while let Some(first) = monitors.next() {
            let group = state_group(first.monitor().id);
            let mut members = vec![first];
            while let Some(m) = monitors.next_if(|m| state_group(m.monitor().id) == group) {
                members.push(m);
            }
            for part in members.chunks(BATCH_SIZE) {
                let current = cut.last_mut().expect("never empty");
                if current.len() + part.len() > BATCH_SIZE {
                    cut.push(part.to_vec());
                } else {
                    current.extend_from_slice(part);
                }
            }
        }
        for (round, monitors) in cut.into_iter().filter(|b| !b.is_empty()).enumerate() {
            if rounds.len() <= round {
                rounds.push(Vec::new());
            }
            rounds[round].push(Batch { org, monitors });
        }
    }
    rounds.into_iter().flatten().collect()
}

/// A batch as a worker function receives it: the dispatcher's instant, the organization
/// and its due monitors whole.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkOrder {
    /// The tick's instant: the checks are recorded at it, and a worker that gets the same
    /// order again (an asynchronous invocation is delivered at least once) skips the
    /// monitors already checked at it.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The organization.
    pub org: Uuid,
    /// Its due monitors, at most [`BATCH_SIZE`].
    pub monitors: Vec<DueMonitor>,
}

/// Worker functions that take work orders: on AWS, asynchronous invocations of the
/// monitor-worker function. Without one (the local run, the tests) batches are checked
/// as tasks of this process.
pub trait Workers: Send + Sync {
    /// Hands one serialized [`WorkOrder`] over; an error when it was not accepted.
    fn hand(&self, order: Vec<u8>) -> BoxFuture<'_, Result<(), String>>;
}

/// The dispatcher: claims the tick's windows, reads what is due in them and checks it,
/// [`BATCH_CONCURRENCY`] batches at once, or hands the batches to `workers`. A batch
/// that a worker does not accept is checked here instead, so no check is lost.
pub async fn run_due(state: &AppState, workers: Option<&dyn Workers>) -> Result<Outcome, StoreError> {
    let now = state.clock.now();
    let started = std::time::Instant::now();
    let windows = state.store.claim_windows(now.timestamp()).await?;
    let due = state.store.due_monitors(&windows).await?;
    let read = started.elapsed();
    let due_count = due.monitors.len();
    let mut handed = 0;
    let mut here = batches(due.monitors);
    if let Some(workers) = workers {
        let tries: Vec<(Batch, Result<(), String>)> = futures::stream::iter(here)
            .map(|batch| async move {
                let order = WorkOrder { at: now, org: batch.org, monitors: batch.monitors };
                let bytes = serde_json::to_vec(&order).expect("a work order serializes");
                let handed = workers.hand(bytes).await;
                (Batch { org: order.org, monitors: order.monitors }, handed)
            })
            .buffer_unordered(HAND_CONCURRENCY)
            .collect()
            .await;
        here = Vec::new();
        for (batch, result) in tries {
            match result {
                Ok(()) => handed += batch.monitors.len(),
                Err(e) => {
                    tracing::error!(error = %e, org = %batch.org, checks = batch.monitors.len(), "a worker did not take a batch; it is checked here");
                    here.push(batch);
                }
            }
        }
    }
    let results: Vec<BatchRun> = futures::stream::iter(here)
        .map(|batch| check_batch(state, now, batch))
        .buffer_unordered(BATCH_CONCURRENCY)
        .collect()
        .await;
    let mut outcome = Outcome { sub_minute: due.sub_minute, handed, ..Outcome::default() };
    let mut first_error = None;
    for run in results {
        outcome.checks += run.outcome.checks;
        outcome.failed += run.unrecorded;
        outcome.transitions += run.outcome.transitions;
        if let Some(e) = run.error {
            first_error.get_or_insert(e);
        }
    }
    tracing::info!(
        windows = windows.len(),
        due = due_count,
        read_ms = read.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        checks = outcome.checks,
        handed = outcome.handed,
        failed = outcome.failed,
        "monitor tick"
    );
    if let Some(e) = first_error {
        tracing::error!(error = %e, failed = outcome.failed, "some checks could not be recorded; those monitors are checked at their next slot");
    }
    Ok(outcome)
}

/// The monitor-worker function's part: checks a work order's batch, once. Monitors whose
/// last check is already at the order's instant (the same order delivered again) are
/// skipped.
pub async fn work(state: &AppState, order: WorkOrder) -> Result<Outcome, StoreError> {
    let run = check_batch(state, order.at, Batch { org: order.org, monitors: order.monitors }).await;
    match run.error {
        // Lambda tries the order again; that try checks only what is not recorded.
        Some(e) => Err(e),
        None => Ok(run.outcome),
    }
}

/// One try of a batch: what it recorded and, when some checks were not recorded, how
/// many and why.
#[derive(Debug)]
pub struct BatchRun {
    /// The checks recorded and changes of status made.
    pub outcome: Outcome,
    /// Due checks not recorded (0 without an error).
    pub unrecorded: usize,
    /// The first error.
    pub error: Option<StoreError>,
}

/// A worker: checks a batch at once, and only then writes, so writing never slows a
/// check still in flight (whose latency is being measured). A monitor already checked at
/// `now` is skipped, so a batch checked twice records each check once, and a try after
/// a failure checks only what the failure left unrecorded.
pub async fn check_batch(state: &AppState, now: chrono::DateTime<chrono::Utc>, batch: Batch) -> BatchRun {
    let due = batch.monitors.len();
    let failed = |error: StoreError| BatchRun { outcome: Outcome::default(), unrecorded: due, error: Some(error) };
    let org = batch.org;
    let ids: Vec<Uuid> = batch.monitors.iter().map(|m| m.monitor().id).collect();
    let before = match state.store.monitor_states(org, &ids).await {
        Ok(states) => states,
        Err(e) => return failed(e),
    };
    let at = crate::clock::timestamp(now);
    let fresh = |due: &DueMonitor| {
        let id = due.monitor().id;
        before.get(&state_group(id)).and_then(|s| s.last.get(&id)).is_none_or(|last| last.at < at)
    };
    let monitors: Vec<DueMonitor> = batch.monitors.into_iter().filter(|m| fresh(m)).collect();
    let already = due - monitors.len();
    let probes: Vec<(DueMonitor, crate::domain::monitor::Probe)> = futures::stream::iter(monitors)
        .map(|due| async move {
            let m = due.monitor();
            let timeout = Duration::from_secs(u64::from(m.timeout_seconds));
            let probe = state.sender.check(&m.method, &m.url, timeout, m.keyword.as_deref()).await;
            (due, probe)
        })
        .buffer_unordered(BATCH_SIZE)
        .collect()
        .await;
    let before = &before;
    let results: Vec<Result<Option<Recorded>, StoreError>> = futures::stream::iter(probes)
        .map(|(due, probe)| async move {
            let id = due.monitor().id;
            let counters = before.get(&state_group(id)).and_then(|s| s.day.get(&id));
            state.store.record_check(&due, &probe, now, counters).await
        })
        .buffer_unordered(WRITE_CONCURRENCY)
        .collect()
        .await;
    let mut records = Vec::new();
    let mut transitions = Vec::new();
    let mut entries: HashMap<u8, Vec<(Uuid, LastCheck, DayCounters)>> = HashMap::new();
    let mut first_error = None;
    // Changed meanwhile (by the API, or by a try that recorded it): nothing to record.
    let mut superseded = 0;
    for result in results {
        match result {
            Ok(Some(r)) => {
                records.push(r.record);
                records.extend(r.rollup);
                transitions.extend(r.transition);
                if let Some(id) = r.last_id {
                    entries.entry(state_group(id)).or_default().push((id, r.last, r.day));
                }
            }
            Ok(None) => superseded += 1,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let checked: usize = entries.values().map(Vec::len).sum();
    let mut outcome = Outcome { transitions: transitions.len(), ..Outcome::default() };
    if let Err(e) = again(|| state.store.put_all(records.clone())).await {
        return failed(e);
    }
    let week_ago = crate::clock::timestamp(now - chrono::Duration::seconds(CHECK_RETENTION_SECS));
    let mut unwritten = 0;
    for (group, checked) in &entries {
        let state_before = &before[group];
        // A monitor checked now is not stale, whatever its entry said (paused for a week
        // and resumed): removing and setting one path in an update is refused.
        let stale: Vec<Uuid> = state_before
            .last
            .iter()
            .filter(|(id, last)| last.at < week_ago && !checked.iter().any(|(c, ..)| c == *id))
            .map(|(id, _)| *id)
            .collect();
        if let Err(e) = again(|| state.store.update_monitor_state(org, *group, state_before, checked, &stale)).await {
            unwritten += checked.len();
            first_error.get_or_insert(e);
        }
    }
    outcome.checks = checked - unwritten;
    for transition in &transitions {
        if let Err(e) = drive_service(state, transition).await {
            tracing::error!(error = ?e, monitor = %transition.monitor.id, "the linked service's status was not changed");
        }
        if let Err(e) = auto_incident(state, transition).await {
            tracing::error!(error = ?e, monitor = %transition.monitor.id, "the automatic incident was not opened or resolved");
        }
    }
    let unrecorded = due - already - superseded - outcome.checks;
    BatchRun { outcome, unrecorded, error: first_error.filter(|_| unrecorded > 0) }
}

/// Runs a write, and again up to [`RETRIES`] times after a pause while it fails, so a
/// passing fault of the store costs no check.
async fn again<F, Fut>(write: F) -> Result<(), StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    let mut attempt = 0;
    loop {
        match write().await {
            Ok(()) => return Ok(()),
            Err(e) if attempt == RETRIES => return Err(e),
            Err(e) => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, "a write of checks failed; trying it again");
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
            }
        }
    }
}

/// A linked monitor's verdict as its service's status: down → outage, degraded →
/// degraded, up → operational; never while the service is under maintenance.
async fn drive_service(state: &AppState, t: &Transition) -> Result<(), StoreError> {
    let Some(service) = t.monitor.service_id else { return Ok(()) };
    let status = match t.monitor.status {
        MonitorStatus::Down => ServiceStatus::Outage,
        MonitorStatus::Degraded => ServiceStatus::Degraded,
        MonitorStatus::Up => ServiceStatus::Operational,
        MonitorStatus::Pending | MonitorStatus::Paused => return Ok(()),
    };
    let patch = ServicePatch { current_status: Some(status), unless_in_maintenance: true, ..ServicePatch::default() };
    match state
        .store
        .update_service(
            &Write::new(t.org, Actor::monitor(t.monitor.id), state.clock.now()),
            service,
            patch,
            StatusSource::Monitor,
        )
        .await
    {
        Ok(_) | Err(StoreError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A page with `autoIncidents` gets an incident "<service> is down" when a linked
/// monitor goes down (one open per monitor; at most five an hour, then
/// `monitor.flapping` instead), and its resolution "<service> has recovered after
/// <duration>" when the monitor comes back.
async fn auto_incident(state: &AppState, t: &Transition) -> Result<(), StoreError> {
    use crate::domain::{Impact, IncidentStatus};
    use crate::store::incidents::{NewIncident, NewUpdate};
    let (Some(service_id), Some(page_id)) = (t.monitor.service_id, t.monitor.page_id) else { return Ok(()) };
    let Some(page) = state.store.get_page(t.org, page_id).await? else { return Ok(()) };
    if !page.auto_incidents {
        return Ok(());
    }
    let Some(service) = state.store.get_service(t.org, service_id).await? else { return Ok(()) };
    let now = state.clock.now();
    let now_s = crate::clock::timestamp(now);
    let actor = Actor::monitor(t.monitor.id);
    match (t.monitor.status, t.open_incident) {
        (MonitorStatus::Down, None) => {
            let mut opened: Vec<i64> =
                t.auto_incidents.iter().copied().filter(|at| now.timestamp() - at < 3600).collect();
            if !crate::domain::monitor::may_open_incident(&opened, now.timestamp()) {
                let data = crate::store::events::data_of("monitor", &t.monitor);
                let event = crate::store::events::Event::new(
                    crate::store::events::EventType::MonitorFlapping,
                    Some(page_id),
                    &actor,
                    &now_s,
                    data,
                );
                return state.store.put_event(t.org, event).await;
            }
            let new = NewIncident {
                id: uuid::Uuid::now_v7(),
                title: format!("{} is down", service.name),
                impact: Impact::Major,
                status: IncidentStatus::Investigating,
                body: format!("Our monitor of {} finds it down. We are looking into it.", service.name),
                affected_service_ids: vec![service_id],
                notify_subscribers: true,
            };
            let id = new.id;
            state.store.create_incident(&Write::new(t.org, actor, now), page_id, new).await?;
            opened.push(now.timestamp());
            state.store.set_monitor_incident(t.org, t.monitor.id, Some(id), &opened).await
        }
        (MonitorStatus::Up | MonitorStatus::Degraded, Some(incident)) => {
            let since = chrono::DateTime::parse_from_rfc3339(&t.from_since).map_or(now, |at| at.to_utc());
            let update = NewUpdate {
                body: format!("{} has recovered after {}.", service.name, duration(now - since)),
                status: Some(IncidentStatus::Resolved),
                notify_subscribers: true,
            };
            match state.store.add_incident_update(&Write::new(t.org, actor, now), incident, update).await {
                Ok(_) | Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
            state.store.set_monitor_incident(t.org, t.monitor.id, None, &t.auto_incidents).await
        }
        _ => Ok(()),
    }
}

/// `4 minutes`, `1 hour 5 minutes`, `2 days 3 hours`.
fn duration(d: chrono::Duration) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let minutes = d.num_minutes().max(1);
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => plural(m, "minute"),
        (0, h, 0) => plural(h, "hour"),
        (0, h, m) => format!("{} {}", plural(h, "hour"), plural(m, "minute")),
        (d, 0, _) => plural(d, "day"),
        (d, h, _) => format!("{} {}", plural(d, "day"), plural(h, "hour")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_as_words() {
        let d = chrono::Duration::minutes;
        assert_eq!(super::duration(d(0)), "1 minute");
        assert_eq!(super::duration(d(4)), "4 minutes");
        assert_eq!(super::duration(d(65)), "1 hour 5 minutes");
        assert_eq!(super::duration(d(120)), "2 hours");
        assert_eq!(super::duration(d(3 * 1440 + 61)), "3 days 1 hour");
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;
    use crate::store::monitors::{NewMonitor, STATE_GROUPS, due_for_test};

    fn due(org: Uuid, n: usize) -> Vec<DueMonitor> {
        (0..n).map(|_| due_for_test(org, NewMonitor::linked(Uuid::now_v7(), "m", "http://127.0.0.1/".into()))).collect()
    }

    #[test]
    fn batches_hold_one_organization_each_and_take_organizations_in_turn() {
        let (big, small) = (Uuid::now_v7(), Uuid::now_v7());
        let mut monitors = due(big, 1000);
        monitors.extend(due(small, 1));
        let batches = batches(monitors);
        assert!(batches.iter().all(|b| b.monitors.len() <= BATCH_SIZE && b.monitors.iter().all(|m| m.org() == b.org)));
        // The small tenant's only batch comes second, not after the big one's.
        assert_eq!(batches[1].org, small);
        assert_eq!(batches.iter().map(|b| b.monitors.len()).sum::<usize>(), 1001);
    }

    #[test]
    fn a_state_group_is_checked_by_one_batch_and_batches_are_nearly_full() {
        let org = Uuid::now_v7();
        let batches = batches(due(org, 1000));
        let group_of = |m: &DueMonitor| state_group(m.monitor().id);
        let mut owner: HashMap<u8, usize> = HashMap::new();
        for (i, batch) in batches.iter().enumerate() {
            for m in &batch.monitors {
                assert_eq!(*owner.entry(group_of(m)).or_insert(i), i, "a group is split across batches");
            }
        }
        // Each batch but the last is too full to take the next group.
        let largest = (0..STATE_GROUPS)
            .map(|g| batches.iter().flat_map(|b| &b.monitors).filter(|m| group_of(m) == g).count())
            .max()
            .unwrap();
        assert!(largest <= BATCH_SIZE);
        assert!(batches[..batches.len() - 1].iter().all(|b| b.monitors.len() > BATCH_SIZE - largest));
        assert!(batches.len() <= 1000 / (BATCH_SIZE - largest) + 1);
    }
}
