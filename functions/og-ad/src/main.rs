//! Lambda entry point of the ad creative generator.

/// mimalloc: allocation was a fifth of the CPU of a request under glibc malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Lambda sends one event at a time: one thread, no hand-offs between workers.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    livestatus_shared::telemetry::init();
    lambda_http::run(livestatus_og_ad::router()).await
}
