//! Lambda entry point of the keys function.

use livestatus_shared::{AppState, store::Store, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let state = AppState::new(Store::from_env().await);
    lambda_http::run(livestatus_keys::router(state)).await
}
