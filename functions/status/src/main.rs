//! Lambda entry point of the public status pages.

use livestatus_shared::{AppState, store::Store, telemetry};

/// mimalloc: allocation was a fifth of the CPU of a request under glibc malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Lambda sends one event at a time: one thread, no hand-offs between workers; the card
// renders on tokio's blocking pool.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let state = AppState::new(Store::from_env().await);
    let app = livestatus_status::domains::with_custom_domains(state.clone(), livestatus_status::router(state))
        .layer(axum::middleware::from_fn(source_address));
    lambda_http::run(app).await
}

/// Copies API Gateway's source address into the request, where the public sign-up
/// limits read it (`livestatus_shared::http::client_address`).
async fn source_address(mut req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let source = match req.extensions().get::<lambda_http::request::RequestContext>() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        _ => None,
    };
    if let Some(ip) = source {
        req.extensions_mut().insert(livestatus_shared::http::ClientAddress(ip));
    }
    next.run(req).await
}
