//! The monitor-worker function as the scheduler's [`Workers`]: each work order is an
//! asynchronous invocation (`InvocationType=Event`), so the scheduler returns as soon as
//! Lambda has queued it, and Lambda runs the batches in parallel, retrying a failed one
//! twice. `MONITOR_WORKER_FUNCTION` names the function; unset, the scheduler checks every
//! batch itself. The SDK's `AWS_ENDPOINT_URL_LAMBDA` points it elsewhere (the emulator of
//! `infra/invoke_emulator.py` in the worker check).

use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use futures::future::BoxFuture;
use livestatus_shared::scheduler::Workers;

/// Hands work orders to the monitor-worker function.
#[derive(Debug)]
pub struct LambdaWorkers {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaWorkers {
    /// The workers named by `MONITOR_WORKER_FUNCTION`, if set.
    pub async fn from_env() -> Option<Self> {
        let function = std::env::var("MONITOR_WORKER_FUNCTION").ok().filter(|f| !f.is_empty())?;
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Some(Self { client: aws_sdk_lambda::Client::new(&config), function })
    }
}

impl Workers for LambdaWorkers {
    fn hand(&self, order: Vec<u8>) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let out = self
                .client
                .invoke()
                .function_name(&self.function)
                .invocation_type(InvocationType::Event)
                .payload(Blob::new(order))
                .send()
                .await
                .map_err(|e| DisplayErrorContext(&e).to_string())?;
            // 202: queued. Anything else is not a hand-over.
            if out.status_code() == 202 { Ok(()) } else { Err(format!("invoke answered {}", out.status_code())) }
        })
    }
}
