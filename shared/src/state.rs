//! What every handler shares: the store, the clock and the outbound side (the sealer of
//! webhook secrets and the guarded HTTP client), built once per process.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::notify::sealing::Sealer;
use crate::notify::sender::Sender;
use crate::store::Store;

/// Shared state of the routers, the notifier and the scheduler.
#[derive(Clone, Debug)]
pub struct AppState {
    /// DynamoDB access.
    pub store: Store,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Seals and opens webhook secrets.
    pub sealer: Sealer,
    /// The outbound HTTP client with the address guard.
    pub sender: Sender,
}

impl AppState {
    /// State over a store, with the system clock, and the sealer and the client from the
    /// environment (`SECRETS_KEY`, `OUTBOUND_ALLOW_PRIVATE`).
    pub fn new(store: Store) -> Self {
        Self { store, clock: Arc::new(SystemClock), sealer: Sealer::from_env(), sender: Sender::from_env() }
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
