//! Lambda entry point of the scheduler: one EventBridge tick a minute.
// The tick's future (notifier, monitors, maintenance) nests deeper than the default 128.
#![recursion_limit = "256"]

use lambda_http::{LambdaEvent, service_fn};
use livestatus_notifications::stream;
use livestatus_shared::{AppState, monitoring, store::Store, telemetry};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// When the second pass of monitors runs, after the tick's start.
const HALF_MINUTE: std::time::Duration = std::time::Duration::from_secs(30);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let state = livestatus_notifications::with_mailer_from_env(AppState::new(Store::from_env().await)).await;
    let state = &state;
    lambda_http::lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        let started = tokio::time::Instant::now();
        let outcome = stream::tick(state).await?;
        let mut checks = outcome.checks;
        // EventBridge ticks once a minute; monitors every 30 s get their second check
        // from a pass half a minute in (only when some exist, so others pay nothing).
        if outcome.sub_minute {
            tokio::time::sleep_until(started + HALF_MINUTE).await;
            match monitoring::run_due(state).await {
                Ok(second) => checks += second.checks,
                Err(e) => tracing::error!(error = ?e, "the half-minute monitor pass failed; those monitors stay due"),
            }
        }
        Ok::<_, lambda_http::Error>(serde_json::json!({
            "deliveries": outcome.deliveries,
            "delivered": outcome.delivered,
            "transitions": outcome.transitions,
            "checks": checks,
        }))
    }))
    .await
}
