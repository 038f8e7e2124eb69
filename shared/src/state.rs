//! What every handler shares: the store, the clock and the outbound side (the sealer of
//! webhook secrets and the guarded HTTP client), built once per process.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::outbound::mail::Mailer;
use crate::outbound::sealing::Sealer;
use crate::outbound::sender::Sender;
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
    /// Sends subscribers' email; `None` where email is not set up (or not needed).
    pub mailer: Option<Arc<dyn Mailer>>,
    /// Base of the public links in notifications (`PUBLIC_BASE_URL`), no trailing `/`.
    pub public_url: Option<Arc<str>>,
    /// The sender address of subscriber email (`EMAIL_FROM`); `None`: no email
    /// subscriptions (the public page then shows no sign-up form).
    pub email_from: Option<Arc<str>>,
    /// Where DNS lookups go (the custom domains' checks).
    pub dns: crate::outbound::dns::Dns,
    /// The CDN that serves custom domains (none in the local run).
    pub cdn: crate::outbound::cdn::Cdn,
}

impl AppState {
    /// State over a store, with the system clock, and the sealer and the client from the
    /// environment (`SECRETS_KEY`, `OUTBOUND_ALLOW_PRIVATE`, `PUBLIC_BASE_URL`), and no mailer.
    pub fn new(store: Store) -> Self {
        let public_url = std::env::var("PUBLIC_BASE_URL").ok().filter(|u| !u.is_empty());
        Self {
            store,
            clock: Arc::new(SystemClock),
            sealer: Sealer::from_env(),
            sender: Sender::from_env(),
            mailer: None,
            public_url: public_url.map(|u| u.trim_end_matches('/').into()),
            email_from: std::env::var("EMAIL_FROM").ok().filter(|f| !f.is_empty()).map(Into::into),
            dns: crate::outbound::dns::Dns::from_env(),
            cdn: crate::outbound::cdn::Cdn::from_env(),
        }
    }

    /// The same state, sending email with `mailer`.
    pub fn with_mailer(self, mailer: Arc<dyn Mailer>) -> Self {
        Self { mailer: Some(mailer), ..self }
    }

    /// Base of public links: `PUBLIC_BASE_URL`, else the local run's address.
    pub fn public_url(&self) -> &str {
        self.public_url.as_deref().unwrap_or("http://localhost:3000")
    }

    /// The current time in unix seconds (TTLs, rate windows).
    pub fn now_epoch(&self) -> i64 {
        self.clock.now().timestamp()
    }

    /// The current time as the API writes it.
    pub fn now(&self) -> String {
        crate::clock::timestamp(self.clock.now())
    }

    /// The context of a write by the request's key, at this instant (read once).
    pub fn write<'a>(
        &self,
        who: &crate::store::api_keys::Principal,
        idem: Option<&'a crate::store::idempotency::IdempotencyKey>,
    ) -> crate::store::write::Write<'a> {
        crate::store::write::Write::new(who.org_id, who.actor(), self.clock.now()).idempotent(idem)
    }
}
