//! Lambda entry point of the monitor worker: one work order (a batch of one
//! organization's due monitors) per invocation, handed over by the scheduler, running
//! [`scheduler::monitors::work`]. An error makes Lambda retry the order; the checks
//! already recorded at its instant are not made again.
#![recursion_limit = "256"]

use lambda_http::{LambdaEvent, service_fn};
use livestatus_shared::scheduler::monitors::{self, WorkOrder};
use livestatus_shared::{AppState, store::Store, telemetry};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let state = AppState::new(Store::from_env().await);
    let state = &state;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<WorkOrder>| async move {
        let (org, size) = (event.payload.org, event.payload.monitors.len());
        let outcome = monitors::work(state, event.payload).await?;
        tracing::info!(%org, size, checks = outcome.checks, transitions = outcome.transitions, "work order");
        Ok::<_, lambda_http::Error>(serde_json::json!({ "checks": outcome.checks, "transitions": outcome.transitions }))
    }))
    .await
}
