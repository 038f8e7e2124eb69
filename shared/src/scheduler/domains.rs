//! The checks of custom domains: a domain is verified when the TXT record its page asks
//! for (`_livestatus.<domain>` = `livestatus-verify=<token>`) is found. The API checks on
//! demand (`POST /api/v1/pages/{id}/domain/verify`); the scheduler's tick checks the
//! pending domains that are due, every [`RECHECK_SECS`], until they verify, are removed,
//! or fail: unproven after [`PROOF_WINDOW_SECS`].

use chrono::Duration;

use crate::AppState;
use crate::clock::timestamp;
use crate::domain::custom_domain::DomainStatus;
use crate::store::StoreError;
use crate::store::events::Actor;
use crate::store::pages::Page;
use crate::store::write::Write;

/// How often a pending domain is looked up again.
pub const RECHECK_SECS: i64 = 5 * 60;
/// How long a domain may stay unproven before it is `failed` (and no longer looked up
/// by the scheduler; `POST …/domain/verify` still looks, and verifies it when found).
pub const PROOF_WINDOW_SECS: i64 = 72 * 3600;
/// Domains one tick checks at most (the rest are due at the next).
pub const TICK_LIMIT: u32 = 25;

/// Looks a page's pending domain up now; verified when its TXT proof is there (the page
/// as the check leaves it). Not found: it stays pending, checked again in
/// [`RECHECK_SECS`].
pub async fn check(state: &AppState, w: &Write<'_>, page: Page) -> Result<Page, StoreError> {
    let (Some(domain), Some(records)) = (page.domain.clone(), page.domain_verification.clone()) else {
        return Ok(page);
    };
    if page.domain_status == Some(DomainStatus::Verified) {
        return Ok(page);
    }
    let found = state.dns.txt(&records.name).await;
    if found.as_ref().is_ok_and(|values| values.iter().any(|v| v.trim() == records.value)) {
        tracing::info!(%domain, page = %page.id, "custom domain verified");
        return Ok(state.store.set_domain_status(w, page.id, &domain, DomainStatus::Verified).await?.unwrap_or(page));
    }
    match &found {
        Ok(values) => tracing::info!(%domain, records = values.len(), "the domain's TXT proof is not there yet"),
        Err(e) => tracing::warn!(%domain, error = %e, "the domain's TXT proof could not be looked up"),
    }
    if page.domain_status == Some(DomainStatus::Failed) {
        return Ok(page);
    }
    let now = state.clock.now();
    let claim = state.store.domain_claim(&domain).await?.filter(|c| c.page_id == page.id);
    let since = claim.and_then(|c| c.since).and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok());
    if since.is_some_and(|since| now.signed_duration_since(since) > Duration::seconds(PROOF_WINDOW_SECS)) {
        tracing::info!(%domain, page = %page.id, "custom domain never proven: failed");
        return Ok(state.store.set_domain_status(w, page.id, &domain, DomainStatus::Failed).await?.unwrap_or(page));
    }
    let next = now + Duration::seconds(RECHECK_SECS);
    state.store.reschedule_domain_check(&domain, page.id, &timestamp(next)).await?;
    Ok(page)
}

/// The scheduler's part: every pending domain due for a check, checked. Returns how
/// many were checked; one domain's failure is logged and leaves it due.
pub async fn run_due(state: &AppState) -> Result<usize, StoreError> {
    let now = state.clock.now();
    let due = state.store.due_domain_checks(&timestamp(now), TICK_LIMIT).await?;
    let mut checked = 0;
    for domain in due {
        let Some(claim) = state.store.domain_claim(&domain).await? else { continue };
        let Some(page) = state.store.get_page(claim.org_id, claim.page_id).await? else { continue };
        let w = Write::new(claim.org_id, Actor::schedule(), now);
        match check(state, &w, page).await {
            Ok(_) => checked += 1,
            Err(e) => tracing::error!(%domain, error = ?e, "a domain check failed; it stays due"),
        }
    }
    Ok(checked)
}
