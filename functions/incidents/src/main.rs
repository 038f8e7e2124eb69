//! Lambda entry point of the incidents function.

use livestatus_shared::{AppState, store::Store, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let state = AppState::new(Store::from_env().await);
    lambda_http::run(livestatus_incidents::router(state)).await
}
