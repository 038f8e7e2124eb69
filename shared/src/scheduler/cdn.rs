//! The CDN's side of custom domains, in the background: a verified domain is put on a
//! tenant of the stack's multi-tenant CloudFront distribution (with a managed
//! certificate), a removed one's tenant is disabled and then deleted
//! ([`crate::outbound::cdn`]). The work waits in the GSI2 partition `DUE#CDN`; a failed
//! try is logged as an error and tried again [`RETRY_SECS`] later, so a CloudFront outage
//! delays domains and never loses one. Without a CDN (the local run) the work is done at
//! once: there is nothing to attach.

use chrono::Duration;

use crate::AppState;
use crate::clock::timestamp;
use crate::domain::custom_domain::DomainStatus;
use crate::outbound::cdn::Detached;
use crate::store::StoreError;
use crate::store::pages::CdnWork;

/// When a failed try is made again.
pub const RETRY_SECS: i64 = 5 * 60;
/// When a disabled tenant is looked at again (CloudFront deploys the change first).
pub const DEPLOY_WAIT_SECS: i64 = 60;
/// Work items one tick takes at most (CloudFront's control plane is slow; the rest wait).
pub const TICK_LIMIT: u32 = 10;

/// What a tick did for the CDN.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Domains put on the CDN.
    pub attached: usize,
    /// Removed domains whose tenant is gone.
    pub detached: usize,
    /// Work tried and left for later (failed, or waiting for CloudFront).
    pub waiting: usize,
}

/// Does the CDN work that is due.
pub async fn run_due(state: &AppState) -> Result<Outcome, StoreError> {
    let now = state.clock.now();
    let later = |secs| timestamp(now + Duration::seconds(secs));
    let mut outcome = Outcome::default();
    for (work, domain) in state.store.due_cdn_work(&timestamp(now), TICK_LIMIT).await? {
        let claim = state.store.domain_claim(&domain).await?;
        match work {
            CdnWork::Attach => {
                let Some(claim) = claim.filter(|c| c.status == DomainStatus::Verified) else {
                    // Removed (its tombstone takes over) or no longer verified.
                    continue;
                };
                match state.cdn.attach(&domain).await {
                    Ok(tenant) => {
                        tracing::info!(%domain, tenant = tenant.as_deref().unwrap_or("-"), "custom domain on the CDN");
                        state.store.cdn_attached(&domain, claim.page_id, tenant.as_deref()).await?;
                        outcome.attached += 1;
                    }
                    Err(e) => {
                        tracing::error!(%domain, error = %e, "putting a custom domain on the CDN failed; tried again later");
                        state.store.reschedule_cdn_work(work, &domain, &later(RETRY_SECS)).await?;
                        outcome.waiting += 1;
                    }
                }
            }
            CdnWork::Detach => {
                // Taken again (by this page or another) meanwhile: the tenant stays theirs.
                if claim.is_some_and(|c| c.status == DomainStatus::Verified) {
                    state.store.cdn_detached(&domain).await?;
                    continue;
                }
                match state.cdn.detach(&domain).await {
                    Ok(Detached::Done) => {
                        tracing::info!(%domain, "custom domain off the CDN");
                        state.store.cdn_detached(&domain).await?;
                        outcome.detached += 1;
                    }
                    Ok(Detached::Pending) => {
                        state.store.reschedule_cdn_work(work, &domain, &later(DEPLOY_WAIT_SECS)).await?;
                        outcome.waiting += 1;
                    }
                    Err(e) => {
                        tracing::error!(%domain, error = %e, "taking a custom domain off the CDN failed; tried again later");
                        state.store.reschedule_cdn_work(work, &domain, &later(RETRY_SECS)).await?;
                        outcome.waiting += 1;
                    }
                }
            }
        }
    }
    Ok(outcome)
}
