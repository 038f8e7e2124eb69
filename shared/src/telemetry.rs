//! Logging set-up: JSON lines for CloudWatch on Lambda, readable lines locally.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` sets the filter (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder.json().without_time().with_current_span(false).init();
    } else {
        // Colour only for a terminal: a log file gets plain lines (and formats faster).
        builder.with_target(false).with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())).init();
    }
}

/// `error: cause: cause…`, for logs.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
