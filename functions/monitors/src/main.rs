//! Lambda entry point of the monitors function.

use livestatus_shared::{AppState, store::Store, telemetry};

/// mimalloc: allocation was a fifth of the CPU of a request under glibc malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Lambda sends one event at a time: one thread, no hand-offs between workers.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let state = AppState::new(Store::from_env().await);
    lambda_http::run(livestatus_monitors::router(state)).await
}
