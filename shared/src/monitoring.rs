//! The monitors' part of the scheduler's tick: every due monitor checked at once,
//! concurrently with a bound, through the shared outbound client and its address guard;
//! then the writes (a monitor only when its runs or status change, check records
//! batched, the shards' state); and each change of status carried to the linked service
//! (never while it is under maintenance) and to its page's automatic incident.

use std::time::Duration;

use futures::StreamExt;

use crate::AppState;
use crate::domain::ServiceStatus;
use crate::error::ApiError;
use crate::monitor::MonitorStatus;
use crate::store::events::Actor;
use crate::store::monitors::{DUE_SHARDS, DayCounters, DueMonitor, LastCheck, Recorded, Transition};
use crate::store::services::{ServicePatch, StatusSource};

/// Checks in flight at once: enough that 1,000 due monitors answering in 50 ms take a
/// few waves and 100 blackholed ones time out together.
pub const CHECK_CONCURRENCY: usize = 256;
/// Monitor writes (changes of runs or status) in flight at once.
pub const WRITE_CONCURRENCY: usize = 32;

/// What the monitors' part of a tick did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Checks made and recorded.
    pub checks: usize,
    /// Changes of status.
    pub transitions: usize,
    /// Some active monitor checks more often than once a minute (every 30 s), so a
    /// once-a-minute scheduler runs the monitors again half a minute later.
    pub sub_minute: bool,
}

/// Checks every monitor due now: the shards' due monitors read together, then every
/// check at once (bounded), and only then the writes, so writing never slows a check
/// still in flight (whose latency is being measured).
pub async fn run_due(state: &AppState) -> Result<Outcome, ApiError> {
    let now = state.clock.now();
    let now_s = crate::clock::timestamp(now);
    let started = std::time::Instant::now();
    let reads = futures::future::join_all((0..DUE_SHARDS).map(|shard| state.store.due_monitors(shard, now))).await;
    let mut shards = Vec::new();
    let mut due = Vec::new();
    let mut sub_minute = false;
    let mut stale = Vec::new();
    for (shard, read) in (0..DUE_SHARDS).zip(reads) {
        let read = read?;
        sub_minute |= read.sub_minute;
        due.extend(read.monitors.into_iter().map(|m| (shard, m)));
        shards.push(read.state);
        stale.push(read.stale);
    }
    let read = started.elapsed();
    let probes: Vec<(u8, DueMonitor, crate::monitor::Probe)> = futures::stream::iter(due)
        .map(|(shard, due)| async move {
            let m = due.monitor();
            let timeout = Duration::from_secs(u64::from(m.timeout_seconds));
            let probe = state.sender.check(&m.method, &m.url, timeout, m.keyword.as_deref()).await;
            (shard, due, probe)
        })
        .buffer_unordered(CHECK_CONCURRENCY)
        .collect()
        .await;
    let checked = started.elapsed();
    let shards = &shards;
    let results: Vec<Result<(u8, Option<Recorded>), ApiError>> = futures::stream::iter(probes)
        .map(|(shard, due, probe)| async move {
            let counters = shards[usize::from(shard)].day.get(&due.monitor().id);
            state.store.record_check(&due, &probe, now, counters).await.map(|r| (shard, r))
        })
        .buffer_unordered(WRITE_CONCURRENCY)
        .collect()
        .await;
    let mut records = Vec::new();
    let mut transitions = Vec::new();
    let mut entries: Vec<Vec<(uuid::Uuid, LastCheck, DayCounters)>> = vec![Vec::new(); usize::from(DUE_SHARDS)];
    let mut first_error = None;
    for result in results {
        match result {
            Ok((shard, Some(r))) => {
                records.push(r.record);
                records.extend(r.rollup);
                transitions.extend(r.transition);
                if let Some(id) = r.last_id {
                    entries[usize::from(shard)].push((id, r.last, r.day));
                }
            }
            Ok((_, None)) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let outcome = Outcome { checks: entries.iter().map(Vec::len).sum(), transitions: transitions.len(), sub_minute };
    let recorded = started.elapsed();
    state.store.put_all(records).await?;
    let logged = started.elapsed();
    let updates = futures::future::join_all((0..DUE_SHARDS).map(|shard| {
        let i = usize::from(shard);
        state.store.update_shard_state(shard, &now_s, &shards[i], &entries[i], &stale[i])
    }))
    .await;
    for update in updates {
        update?;
    }
    tracing::info!(
        read_ms = read.as_millis() as u64,
        checked_ms = checked.as_millis() as u64,
        recorded_ms = recorded.as_millis() as u64,
        logged_ms = logged.as_millis() as u64,
        state_ms = started.elapsed().as_millis() as u64,
        checks = outcome.checks,
        "monitor tick"
    );
    for transition in &transitions {
        if let Err(e) = drive_service(state, transition).await {
            tracing::error!(error = ?e, monitor = %transition.monitor.id, "the linked service's status was not changed");
        }
        if let Err(e) = auto_incident(state, transition).await {
            tracing::error!(error = ?e, monitor = %transition.monitor.id, "the automatic incident was not opened or resolved");
        }
    }
    match first_error {
        Some(e) if outcome.checks == 0 => Err(e),
        Some(e) => {
            tracing::warn!(error = %e, "some checks could not be recorded; those monitors stay due");
            Ok(outcome)
        }
        None => Ok(outcome),
    }
}

/// A linked monitor's verdict as its service's status: down → outage, degraded →
/// degraded, up → operational; never while the service is under maintenance.
async fn drive_service(state: &AppState, t: &Transition) -> Result<(), ApiError> {
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
        .update_service(t.org, &Actor::monitor(t.monitor.id), service, patch, StatusSource::Monitor, &state.now())
        .await
    {
        Ok(_) | Err(ApiError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A page with `autoIncidents` gets an incident "<service> is down" when a linked
/// monitor goes down (one open per monitor; at most five an hour, then
/// `monitor.flapping` instead), and its resolution "<service> has recovered after
/// <duration>" when the monitor comes back.
async fn auto_incident(state: &AppState, t: &Transition) -> Result<(), ApiError> {
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
            if !crate::monitor::may_open_incident(&opened, now.timestamp()) {
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
            state.store.create_incident(t.org, &actor, page_id, new, None, &now_s, state.now_epoch()).await?;
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
            match state
                .store
                .add_incident_update(t.org, &actor, incident, update, None, &now_s, state.now_epoch())
                .await
            {
                Ok(_) | Err(ApiError::NotFound(_)) => {}
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
