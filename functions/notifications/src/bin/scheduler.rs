//! Lambda entry point of the scheduler: one EventBridge tick a minute, running
//! [`scheduler::minute`], which hands the due monitors to the monitor-worker function
//! when `MONITOR_WORKER_FUNCTION` names it.
// The tick's future (notifier, monitors, maintenance) nests deeper than the default 128.
#![recursion_limit = "256"]

use lambda_http::{LambdaEvent, service_fn};
use livestatus_shared::{AppState, scheduler, store::Store, telemetry};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let state = livestatus_notifications::with_mailer_from_env(AppState::new(Store::from_env().await)).await;
    let state = &state;
    let workers = livestatus_notifications::workers::LambdaWorkers::from_env().await;
    let workers = workers.as_ref().map(|w| w as &dyn scheduler::Workers);
    lambda_http::lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        let outcome = scheduler::minute(state, workers).await?;
        Ok::<_, lambda_http::Error>(serde_json::json!({
            "deliveries": outcome.deliveries,
            "delivered": outcome.delivered,
            "transitions": outcome.transitions,
            "checks": outcome.checks,
            "handed": outcome.handed,
        }))
    }))
    .await
}
