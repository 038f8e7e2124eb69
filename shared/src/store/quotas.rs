//! Per-plan quotas: counters kept in the same transactions as the writes that add and
//! remove what they count, so a quota holds under any concurrency and never drifts.
//!
//! | quota | counter | on item |
//! |---|---|---|
//! | pages | `pageCount` | organization |
//! | API keys (created through the API, not revoked) | `keyCount` | organization |
//! | webhooks | `webhookCount` | organization |
//! | monitors (linked ones included) | `monitorCount` | organization |
//! | services | `serviceCount` | page |
//! | active subscribers | `subscriberCount` | page |
//! | `skipConfirmation` sign-ups per UTC day | `n` | `QUOTA#UNCONFIRMED#<day>` in the org partition |
//!
//! Counters on the organization item are checked against the plan in the condition itself
//! (one clause per plan, from [`Plan::limits`]); counters on a page item, which does not
//! know the plan, are checked against the limit the caller read from the organization.
//! A page's counters go with the page, so deleting a page needs no bookkeeping for them.

use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use uuid::Uuid;

use super::error::StoreError;
use super::{Item, Store, get_s, key, n, s, schema};
use crate::domain::{Plan, PlanLimits};

/// Something a plan limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quota {
    /// API keys of the organization.
    Keys,
    /// Webhooks of the organization.
    Webhooks,
    /// Monitors of the organization.
    Monitors,
    /// Services of a page.
    Services,
    /// Active subscribers of a page.
    Subscribers,
}

impl Quota {
    /// The counter attribute.
    pub const fn attribute(self) -> &'static str {
        match self {
            Quota::Keys => "keyCount",
            Quota::Webhooks => "webhookCount",
            Quota::Monitors => "monitorCount",
            Quota::Services => "serviceCount",
            Quota::Subscribers => "subscriberCount",
        }
    }

    /// The plan's limit.
    pub const fn limit(self, limits: PlanLimits) -> u32 {
        match self {
            Quota::Keys => limits.keys,
            Quota::Webhooks => limits.webhooks,
            Quota::Monitors => limits.monitors,
            Quota::Services => limits.services_per_page,
            Quota::Subscribers => limits.subscribers_per_page,
        }
    }

    const fn noun(self) -> &'static str {
        match self {
            Quota::Keys => "API keys",
            Quota::Webhooks => "webhooks",
            Quota::Monitors => "monitors",
            Quota::Services => "services per page",
            Quota::Subscribers => "active subscribers per page",
        }
    }

    const fn remedy(self) -> &'static str {
        match self {
            Quota::Keys => "Revoke a key you no longer use, or upgrade.",
            Quota::Webhooks => "Delete a webhook to add another, or upgrade.",
            Quota::Monitors => "Delete a monitor to add another, or upgrade.",
            Quota::Services => "Delete a service to add another, or upgrade.",
            Quota::Subscribers => "Remove subscribers who no longer read the page, or upgrade.",
        }
    }

    /// `403 plan_limit` saying what the plan allows and what to do.
    pub fn exceeded(self, plan: Plan) -> StoreError {
        StoreError::PlanLimit(format!(
            "The {} plan allows {} {}. {}",
            plan.as_str(),
            self.limit(plan.limits()),
            self.noun(),
            self.remedy()
        ))
    }

    /// The same error read from the organization item a failed condition returned.
    pub(crate) fn exceeded_on(self, org_item: Option<&Item>) -> StoreError {
        match org_item.and_then(|i| get_s(i, "plan")).and_then(Plan::parse) {
            Some(plan) => self.exceeded(plan),
            None => StoreError::PlanLimit(format!("This organization's plan allows no more {}.", self.noun())),
        }
    }
}

/// `skipConfirmation` sign-ups per organization per day: `403 plan_limit` past the plan's
/// number.
pub fn unconfirmed_exceeded(plan: Plan) -> StoreError {
    let limit = plan.limits().unconfirmed_per_day;
    if limit == 0 {
        StoreError::PlanLimit(format!(
            "The {} plan does not allow skipConfirmation: subscribers confirm by email.",
            plan.as_str()
        ))
    } else {
        StoreError::PlanLimit(format!(
            "The {} plan allows {limit} subscribers added with skipConfirmation per day; the others confirm by \
             email.",
            plan.as_str()
        ))
    }
}

impl Store {
    /// Takes one of `quota` on the organization item: it exists and its plan allows one
    /// more. A cancelled transaction returns the organization item at this write, for
    /// [`Quota::exceeded_on`].
    pub(crate) fn take_org_quota(&self, org: Uuid, quota: Quota) -> Result<TransactWriteItem, StoreError> {
        let mut clauses = Vec::new();
        let mut update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::ORG_SK)))
            .update_expression("ADD #count :one")
            .expression_attribute_names("#count", quota.attribute())
            .expression_attribute_names("#plan", "plan")
            .expression_attribute_values(":one", n(1));
        for (i, plan) in Plan::ALL.iter().enumerate() {
            clauses.push(format!("(#plan = :plan{i} AND (attribute_not_exists(#count) OR #count < :limit{i}))"));
            update = update
                .expression_attribute_values(format!(":plan{i}"), s(plan.as_str()))
                .expression_attribute_values(format!(":limit{i}"), n(quota.limit(plan.limits())));
        }
        let update = update
            .condition_expression(format!("attribute_exists(pk) AND ({})", clauses.join(" OR ")))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Counts one of `quota` on the organization item without a limit: what an operator
    /// adds at the command line still takes its place.
    pub(crate) fn count_org_quota(&self, org: Uuid, quota: Quota) -> Result<TransactWriteItem, StoreError> {
        self.org_counter(org, quota, 1)
    }

    /// Gives back `count` of `quota` on the organization item.
    pub(crate) fn give_org_quota(&self, org: Uuid, quota: Quota, count: u32) -> Result<TransactWriteItem, StoreError> {
        self.org_counter(org, quota, -i64::from(count))
    }

    fn org_counter(&self, org: Uuid, quota: Quota, by: i64) -> Result<TransactWriteItem, StoreError> {
        // Conditioned on the item existing: an ADD alone would create it.
        let update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::ORG_SK)))
            .update_expression("ADD #count :by")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#count", quota.attribute())
            .expression_attribute_values(":by", n(by))
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Takes one of `quota` on a page item: the page is live (not being deleted) and holds
    /// fewer than `limit`. Replaces the page's liveness check in the transaction; a
    /// cancelled one returns the page item, for [`page_quota_failure`].
    pub(crate) fn take_page_quota(
        &self,
        org: Uuid,
        page: Uuid,
        quota: Quota,
        limit: u32,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::page_sk(page))))
            .update_expression("ADD #count :one")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(deleting) AND \
                 (attribute_not_exists(#count) OR #count < :limit)",
            )
            .expression_attribute_names("#count", quota.attribute())
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Gives back one of `quota` on a page item, if the page is still there.
    pub(crate) fn give_page_quota(&self, org: Uuid, page: Uuid, quota: Quota) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::page_sk(page))))
            .update_expression("ADD #count :minus")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#count", quota.attribute())
            .expression_attribute_values(":minus", n(-1))
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The plan of `org` (`404` for an organization that does not exist).
    pub(crate) async fn plan_of(&self, org: Uuid) -> Result<Plan, StoreError> {
        // Plans never change under a request; an eventually consistent read is enough.
        let item = self.get(&key(schema::org_pk(org), schema::ORG_SK), false).await?;
        item.as_ref()
            .and_then(|i| get_s(i, "plan"))
            .and_then(Plan::parse)
            .ok_or_else(|| StoreError::not_found("Organization"))
    }

    /// Counts one `skipConfirmation` sign-up of `org` today against its plan, in the
    /// transaction that adds the subscriber.
    pub(crate) fn take_unconfirmed(
        &self,
        org: Uuid,
        limit: u32,
        now_epoch: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let day = now_epoch.div_euclid(86_400);
        let update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), format!("QUOTA#UNCONFIRMED#{day}"))))
            .update_expression("SET #n = if_not_exists(#n, :zero) + :one, #ttl = :ttl, entity = :entity")
            .condition_expression("attribute_not_exists(#n) OR #n < :limit")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#ttl", schema::TTL)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":ttl", n((day + 2) * 86_400))
            .expression_attribute_values(":entity", s("quota"))
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

/// Why a [`Store::take_page_quota`] write failed: the page is gone or going (`404`), or
/// it is full.
pub(crate) fn page_quota_failure(quota: Quota, plan: Plan, page_item: Option<&Item>) -> StoreError {
    // The condition also asks for fewer than the limit: a live page failed on that.
    let live = page_item.is_some_and(|i| !i.is_empty() && !i.contains_key("deleting"));
    if live { quota.exceeded(plan) } else { StoreError::not_found("Page") }
}

/// The item a cancelled transaction returned for its write in `slot`.
pub(crate) fn returned_item(
    reasons: &[aws_sdk_dynamodb::types::CancellationReason],
    slot: super::Slot,
) -> Option<&Item> {
    reasons.get(slot.0).and_then(|r| r.item())
}
