//! What every handler shares: the store and the clock, built once per process.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::store::Store;

/// Shared state of the routers.
#[derive(Clone, Debug)]
pub struct AppState {
    /// DynamoDB access.
    pub store: Store,
    /// The time source.
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    /// State over a store, with the system clock.
    pub fn new(store: Store) -> Self {
        Self { store, clock: Arc::new(SystemClock) }
    }

    /// The current time in unix seconds (TTLs, rate windows).
    pub fn now_epoch(&self) -> i64 {
        self.clock.now().timestamp()
    }

    /// The current time as the API writes it.
    pub fn now(&self) -> String {
        crate::clock::timestamp(self.clock.now())
    }
}
