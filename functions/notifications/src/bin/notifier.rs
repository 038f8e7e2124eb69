//! Lambda entry point of the notifier: the table's stream, event items only.

use lambda_http::{LambdaEvent, service_fn};
use livestatus_notifications::stream::{self, StreamEvent};
use livestatus_shared::{AppState, store::Store, telemetry};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let state = livestatus_notifications::with_mailer_from_env(AppState::new(Store::from_env().await)).await;
    let state = &state;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| async move {
        Ok::<_, lambda_http::Error>(stream::handle_records(state, event.payload).await)
    }))
    .await
}
