//! Lambda entry point of the scheduler: one EventBridge tick a minute.

use lambda_http::{LambdaEvent, service_fn};
use livestatus_notifications::stream;
use livestatus_shared::{AppState, store::Store, telemetry};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let state = livestatus_notifications::with_mailer_from_env(AppState::new(Store::from_env().await)).await;
    let state = &state;
    lambda_http::lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        let outcome = stream::tick(state).await?;
        Ok::<_, lambda_http::Error>(serde_json::json!({
            "deliveries": outcome.deliveries,
            "delivered": outcome.delivered,
            "transitions": outcome.transitions,
        }))
    }))
    .await
}
