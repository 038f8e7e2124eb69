//! The local run: every function's routes in one process on `PORT` (default 3000), under
//! the production paths, over the table at `DYNAMODB_ENDPOINT`; with the notifier (a
//! poller of the table's stream) and the scheduler's tick running beside them.

use livestatus_shared::{AppState, store::Store, telemetry};

/// mimalloc: allocation was a fifth of the CPU of a request under glibc malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let store = Store::from_env().await;
    // DynamoDB Local opens its port a moment before it answers reliably.
    let mut attempt = 0;
    loop {
        match store.ensure_table().await {
            Ok(true) => break tracing::info!(table = store.table(), "created the table"),
            Ok(false) => break,
            Err(e) if attempt < 10 => {
                attempt += 1;
                tracing::warn!(error = format!("{e:#}"), "table not reachable yet; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
            Err(e) => anyhow::bail!("cannot reach the table: {e:#}"),
        }
    }
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let mut state = livestatus_notifications::with_mailer_from_env(AppState::new(store)).await;
    // Links in email point at this server unless PUBLIC_BASE_URL says otherwise.
    state.public_url.get_or_insert_with(|| format!("http://localhost:{port}").into());
    let every = |name: &str, default_ms: u64| {
        std::time::Duration::from_millis(std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default_ms))
    };
    let pacing = livestatus_local::background::Pacing { idle: every("STREAM_POLL_MS", 200), ..Default::default() };
    let tick = every("SCHEDULER_TICK_MS", 5_000);
    let (poller, ticker) = (state.clone(), state.clone());
    tokio::spawn(livestatus_local::background::supervise("stream poller", move || {
        livestatus_local::background::poll_stream(poller.clone(), pacing.clone())
    }));
    tokio::spawn(livestatus_local::background::supervise("scheduler", move || {
        livestatus_local::background::tick_forever(ticker.clone(), tick)
    }));
    let app = livestatus_local::app(state);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("LiveStatus API listening on http://127.0.0.1:{port}");
    if let Ok(ses) = std::env::var("SES_ENDPOINT") {
        println!("Email sent to subscribers: {ses} (the local SES's mail viewer; {ses}/store as JSON)");
    }
    println!("First key: cargo run -q --bin livestatus-admin -- org create --name Acme --plan pro");
    println!("           cargo run -q --bin livestatus-admin -- key create --org <id> --name dev");
    // The connection's address: the public sign-up limits count by it.
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
