//! The monitors' part of the scheduler's tick: every due monitor checked at once,
//! concurrently with a bound, through the shared outbound client and its address guard;
//! each result recorded with one conditional write; check records batched; and each
//! change of status carried to the linked service (never while it is under maintenance).

use std::time::Duration;

use futures::StreamExt;

use crate::AppState;
use crate::domain::ServiceStatus;
use crate::error::ApiError;
use crate::monitor::MonitorStatus;
use crate::store::events::Actor;
use crate::store::monitors::{DUE_SHARDS, DueMonitor, Transition};
use crate::store::services::{ServicePatch, StatusSource};

/// Checks in flight at once: enough that 1,000 due monitors answering in 50 ms take
/// a few waves, and 100 blackholed ones time out together.
pub const CHECK_CONCURRENCY: usize = 256;
/// Writes in flight at once.
pub const WRITE_CONCURRENCY: usize = 32;
/// Due monitors one tick takes per shard.
pub const TICK_LIMIT: u32 = 2_500;

/// What the monitors' part of a tick did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Checks made and recorded.
    pub checks: usize,
    /// Changes of status.
    pub transitions: usize,
}

/// Checks every monitor due now.
pub async fn run_due(state: &AppState) -> Result<Outcome, ApiError> {
    let now = state.clock.now();
    let now_s = crate::clock::timestamp(now);
    let mut due = Vec::new();
    for shard in 0..DUE_SHARDS {
        due.extend(state.store.due_monitors(shard, &now_s, TICK_LIMIT).await?);
    }
    let probes: Vec<(DueMonitor, crate::monitor::Probe)> = futures::stream::iter(due)
        .map(|due| async move {
            let m = due.monitor();
            let timeout = Duration::from_secs(u64::from(m.timeout_seconds));
            let probe = state.sender.check(&m.method, &m.url, timeout, m.keyword.as_deref()).await;
            (due, probe)
        })
        .buffer_unordered(CHECK_CONCURRENCY)
        .collect()
        .await;
    let results: Vec<Result<(Option<crate::store::Item>, Option<Transition>), ApiError>> =
        futures::stream::iter(probes)
            .map(|(due, probe)| async move { state.store.record_check(&due, &probe, now).await })
            .buffer_unordered(WRITE_CONCURRENCY)
            .collect()
            .await;
    let mut records = Vec::new();
    let mut transitions = Vec::new();
    let mut first_error = None;
    for result in results {
        match result {
            Ok((record, transition)) => {
                records.extend(record);
                transitions.extend(transition);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let outcome = Outcome { checks: records.len(), transitions: transitions.len() };
    state.store.put_all(records).await?;
    for transition in &transitions {
        if let Err(e) = drive_service(state, transition).await {
            tracing::error!(error = ?e, monitor = %transition.monitor.id, "the linked service's status was not changed");
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
