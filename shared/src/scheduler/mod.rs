//! The scheduler: the work that comes due with time, in one tick that the scheduler
//! function runs every minute (EventBridge) and the local server every few seconds. In
//! order: the maintenance windows' due transitions (reminders, starts, completions), the
//! due monitor checks ([`monitors`]), the pending custom domains' checks ([`domains`])
//! and the CDN's work on verified and removed ones ([`cdn`]), then the due retries of
//! deliveries
//! ([`crate::delivery::run_due`]). Their events reach the notifier through the table's
//! stream. One failing part does not stop the others, and each logs its failure: what it
//! left is still due at the next tick.

pub mod cdn;
pub mod domains;
pub mod monitors;

use std::time::Duration;

use crate::AppState;
use crate::store::StoreError;
pub use monitors::Workers;

/// When the scheduler function's second pass of monitors runs, after its tick's start.
pub const HALF_MINUTE: Duration = Duration::from_secs(30);

/// What a tick did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Due deliveries taken.
    pub deliveries: usize,
    /// Of those, delivered.
    pub delivered: usize,
    /// Maintenance transitions made.
    pub transitions: usize,
    /// Monitor checks made in this process.
    pub checks: usize,
    /// Monitor checks handed to worker functions.
    pub handed: usize,
    /// Monitor checks due here that could not be recorded (see [`monitors::Outcome::failed`]).
    pub failed: usize,
    /// Some monitor checks every 30 s: see [`monitors::Outcome::sub_minute`].
    pub sub_minute: bool,
    /// Pending custom domains looked up.
    pub domains: usize,
    /// The CDN's work on custom domains.
    pub cdn: cdn::Outcome,
}

/// The whole tick, every check made in this process (the local run, the tests).
pub async fn tick(state: &AppState) -> Result<Outcome, StoreError> {
    tick_with(state, None).await
}

/// The whole tick: maintenance transitions, monitor checks (handed to `workers` when
/// given), due deliveries.
pub async fn tick_with(state: &AppState, workers: Option<&dyn Workers>) -> Result<Outcome, StoreError> {
    let transitions = state.store.run_due_maintenances(state.clock.now()).await;
    // Checks next: a monitor under a window that just started leaves its service alone.
    let (checks, handed, failed, sub_minute) = match monitors::run_due(state, workers).await {
        Ok(outcome) => (outcome.checks, outcome.handed, outcome.failed, outcome.sub_minute),
        Err(e) => {
            tracing::error!(error = ?e, "monitor checks failed; those monitors are checked at their next slot");
            (0, 0, 0, false)
        }
    };
    let checks_or_handed = checks + handed;
    let domains = domains::run_due(state).await.unwrap_or_else(|e| {
        tracing::error!(error = ?e, "domain checks failed; the pending domains stay due");
        0
    });
    let cdn = cdn::run_due(state).await.unwrap_or_else(|e| {
        tracing::error!(error = ?e, "the CDN's work on custom domains failed; it stays due");
        cdn::Outcome::default()
    });
    let deliveries = crate::delivery::run_due(state).await;
    let outcome = |transitions, (deliveries, delivered)| Outcome {
        deliveries,
        delivered,
        transitions,
        checks,
        handed,
        failed,
        sub_minute,
        domains,
        cdn,
    };
    match (transitions, deliveries) {
        (Ok(transitions), Ok(d)) => Ok(outcome(transitions, (d.deliveries, d.delivered))),
        (Err(e), Ok(d)) => {
            tracing::error!(error = ?e, "maintenance transitions failed; they stay due");
            if d.deliveries == 0 && checks_or_handed == 0 {
                Err(e)
            } else {
                Ok(outcome(0, (d.deliveries, d.delivered)))
            }
        }
        (Ok(transitions), Err(e)) => {
            tracing::error!(error = ?e, "due deliveries failed; they stay due");
            if transitions == 0 && checks_or_handed == 0 { Err(e) } else { Ok(outcome(transitions, (0, 0))) }
        }
        (Err(e), Err(_)) => Err(e),
    }
}

/// The scheduler function's minute: the tick, and when some monitor checks every 30 s,
/// a second pass of monitors half a minute after the tick began (EventBridge ticks once
/// a minute; others pay nothing for it).
/// With `workers`, the checks are handed to them.
pub async fn minute(state: &AppState, workers: Option<&dyn Workers>) -> Result<Outcome, StoreError> {
    let started = tokio::time::Instant::now();
    let mut outcome = tick_with(state, workers).await?;
    if outcome.sub_minute {
        tokio::time::sleep_until(started + HALF_MINUTE).await;
        match monitors::run_due(state, workers).await {
            Ok(second) => {
                outcome.checks += second.checks;
                outcome.handed += second.handed;
                outcome.failed += second.failed;
            }
            Err(e) => {
                tracing::error!(error = ?e, "the half-minute monitor pass failed; those monitors are checked at their next slot")
            }
        }
    }
    tracing::info!(
        deliveries = outcome.deliveries,
        delivered = outcome.delivered,
        transitions = outcome.transitions,
        checks = outcome.checks,
        handed = outcome.handed,
        failed = outcome.failed,
        "tick"
    );
    Ok(outcome)
}
