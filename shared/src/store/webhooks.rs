//! Webhooks, the organization's integrations: items in the org partition with their
//! sealed signing secrets (never the plaintext), counted on the organization item so
//! the limit holds under concurrent creates. Every change is an event in its transaction.

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::StoreError;
use super::events::{Actor, Event, EventType, data_of};
use super::idempotency::{Idempotent, Outcome};
use super::listing::Listing;
use super::quotas::{Quota, returned_item};
use super::write::Write;
use super::{Store, Tx, TxError, cursor, failed_at, from_item, key, s, schema, sdk_error, to_item};

/// How long a rotated-out secret still signs.
pub const ROTATION_OVERLAP_SECS: i64 = 24 * 60 * 60;

/// A webhook as the API shows it (its secret only ever in the create and rotate answers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// Webhook id (UUID v7).
    pub id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Event types delivered; empty: every type that notifies.
    pub events: Vec<String>,
    /// Pages whose events are delivered; empty: every page.
    pub page_ids: Vec<Uuid>,
    /// Free text.
    pub description: Option<String>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// Why the endpoint was disabled by the system (410, or 24 h of failures).
    pub disabled_reason: Option<String>,
    /// Start of the current run of failed attempts; cleared by a success.
    pub failing_since: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// A signing secret as stored: sealed, with the end of its life after a rotation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecret {
    /// The secret, sealed (see `outbound::sealing`).
    pub sealed: String,
    /// When it was made.
    pub created_at: String,
    /// When it stops signing (set when a newer secret replaces it).
    pub expires_at: Option<String>,
}

/// A webhook with its sealed secrets, newest first: what the notifier needs.
#[derive(Clone, Debug)]
pub struct WebhookRecord {
    /// The organization.
    pub org_id: Uuid,
    /// The webhook.
    pub webhook: Webhook,
    /// Its secrets.
    pub secrets: Vec<SealedSecret>,
}

impl WebhookRecord {
    /// The secrets that sign at `now` (the current one, and the previous one for 24 h
    /// after a rotation).
    pub fn active_secrets(&self, now: &str) -> impl Iterator<Item = &SealedSecret> {
        self.secrets.iter().filter(move |s| s.expires_at.as_deref().is_none_or(|end| end > now))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookItem {
    pk: String,
    sk: String,
    entity: String,
    org_id: Uuid,
    secrets: Vec<SealedSecret>,
    #[serde(flatten)]
    webhook: Webhook,
}

/// A validated new webhook.
#[derive(Debug)]
pub struct NewWebhook {
    /// Id (UUID v7), chosen before the secret is sealed for it.
    pub id: Uuid,
    /// URL, already checked by the address guard.
    pub url: String,
    /// Event type names.
    pub events: Vec<String>,
    /// Page ids (pages of the organization).
    pub page_ids: Vec<Uuid>,
    /// Description.
    pub description: Option<String>,
}

/// A validated change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct WebhookPatch {
    /// New URL.
    pub url: Option<String>,
    /// New event filter.
    pub events: Option<Vec<String>>,
    /// New page filter.
    pub page_ids: Option<Vec<Uuid>>,
    /// New or cleared description.
    pub description: Option<Option<String>>,
    /// Enable or disable; enabling clears the system's reason and the failure run.
    pub enabled: Option<bool>,
}

/// `WEBHOOK#<id>`: a webhook's sort key.
pub fn webhook_sk(id: Uuid) -> String {
    format!("{}{id}", schema::WEBHOOK_PREFIX)
}

impl Store {
    /// Creates a webhook with its first (sealed) secret, counting it on the organization;
    /// with an `Idempotency-Key`, its record (the bytes `record` makes of the new webhook)
    /// in the same transaction (a retry replays).
    pub async fn create_webhook(
        &self,
        w: &Write<'_>,
        new: NewWebhook,
        sealed_secret: String,
        record: &(dyn Fn(&Webhook) -> Vec<u8> + Send + Sync),
    ) -> Result<Outcome<Webhook>, StoreError> {
        let (org, actor, now, now_epoch) = (w.org, &w.actor, w.now.text(), w.now.epoch());
        let idem = w.idem.map(|key| Idempotent { key, record });
        let webhook = Webhook {
            id: new.id,
            url: new.url,
            events: new.events,
            page_ids: new.page_ids,
            description: new.description,
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
        };
        let item = WebhookItem {
            pk: schema::org_pk(org),
            sk: webhook_sk(webhook.id),
            entity: "webhook".into(),
            org_id: org,
            secrets: vec![SealedSecret { sealed: sealed_secret, created_at: now.to_owned(), expires_at: None }],
            webhook,
        };
        let event = Event::new(EventType::WebhookCreated, None, actor, now, data_of("webhook", &item.webhook));
        let mut tx = Tx::new();
        tx.push(self.put_new(to_item(&item)?)?);
        let quota = tx.push(self.take_org_quota(org, Quota::Webhooks)?);
        tx.push(self.event_put(org, event)?);
        let mut replay = None;
        if let Some(idem) = &idem {
            let record = (idem.record)(&item.webhook);
            replay = Some(tx.push(self.idempotency_put(
                org,
                idem.key,
                Uuid::nil(),
                item.webhook.id,
                201,
                record,
                now_epoch,
            )?));
        }
        match self.transact(tx).await {
            Ok(()) => Ok(Outcome::Created(item.webhook)),
            // The key's record exists: a retry (checked first: the retry may also be over the limit).
            Err(TxError::Cancelled(reasons)) if replay.is_some_and(|r| failed_at(&reasons, r).is_some()) => {
                self.replay(org, idem.expect("checked").key, now_epoch).await
            }
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, quota).is_some() => {
                Err(Quota::Webhooks.exceeded_on(returned_item(&reasons, quota)))
            }
            Err(e) => Err(e.into_error()),
        }
    }

    /// Reads a webhook with its secrets.
    pub async fn get_webhook(&self, org: Uuid, id: Uuid) -> Result<Option<WebhookRecord>, StoreError> {
        let out = self.get(&key(schema::org_pk(org), webhook_sk(id)), true).await?;
        out.map(|i| from_item::<WebhookItem>(i).map(record)).transpose()
    }

    /// The organization's webhooks, oldest first.
    pub async fn list_webhooks(
        &self,
        org: Uuid,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing<Webhook>, StoreError> {
        let pk = schema::org_pk(org);
        let start = cursor.map(|c| cursor::decode(c, schema::PK, &pk)).transpose()?;
        self.list(self.webhooks_query(org), limit, start, |row: WebhookItem| row.webhook).await
    }

    /// Every webhook of the organization with its secrets (at most the plan's
    /// [`PlanLimits::webhooks`](crate::domain::PlanLimits::webhooks)):
    /// the notifier's fan-out reads them in one query.
    pub async fn all_webhooks(&self, org: Uuid) -> Result<Vec<WebhookRecord>, StoreError> {
        let items = self.query_all(self.webhooks_query(org)).await?;
        items.into_iter().map(|i| from_item::<WebhookItem>(i).map(record)).collect()
    }

    fn webhooks_query(&self, org: Uuid) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client()
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(schema::org_pk(org)))
            .expression_attribute_values(":prefix", s(schema::WEBHOOK_PREFIX))
    }

    /// Changes a webhook: read, change, and write back on the condition that nobody
    /// changed it meanwhile (read again if someone did), with its event.
    pub async fn update_webhook(&self, w: &Write<'_>, id: Uuid, patch: WebhookPatch) -> Result<Webhook, StoreError> {
        self.rewrite_webhook(w, id, EventType::WebhookUpdated, |record| {
            let w = &mut record.webhook;
            if let Some(url) = &patch.url {
                w.url.clone_from(url);
            }
            if let Some(events) = &patch.events {
                w.events.clone_from(events);
            }
            if let Some(pages) = &patch.page_ids {
                w.page_ids.clone_from(pages);
            }
            if let Some(description) = &patch.description {
                w.description.clone_from(description);
            }
            if let Some(enabled) = patch.enabled {
                if enabled && !w.enabled {
                    w.disabled_reason = None;
                    w.failing_since = None;
                }
                w.enabled = enabled;
            }
        })
        .await
        .map(|r| r.webhook)
    }

    /// Adds a new secret in front; the ones before it sign for 24 more hours at most, and
    /// those already expired are dropped.
    pub async fn rotate_webhook_secret(
        &self,
        w: &Write<'_>,
        id: Uuid,
        sealed_secret: String,
        overlap_until: &str,
    ) -> Result<Webhook, StoreError> {
        let now = w.now.text();
        self.rewrite_webhook(w, id, EventType::WebhookSecretRotated, |record| {
            record.secrets.retain(|s| s.expires_at.as_deref().is_none_or(|end| end > now));
            for secret in &mut record.secrets {
                if secret.expires_at.as_deref().is_none_or(|end| end > overlap_until) {
                    secret.expires_at = Some(overlap_until.to_owned());
                }
            }
            record.secrets.insert(
                0,
                SealedSecret { sealed: sealed_secret.clone(), created_at: now.to_owned(), expires_at: None },
            );
        })
        .await
        .map(|r| r.webhook)
    }

    async fn rewrite_webhook(
        &self,
        w: &Write<'_>,
        id: Uuid,
        kind: EventType,
        change: impl Fn(&mut WebhookRecord),
    ) -> Result<WebhookRecord, StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        for _ in 0..5 {
            let mut record = self.get_webhook(org, id).await?.ok_or_else(|| StoreError::not_found("Webhook"))?;
            let before = record.webhook.updated_at.clone();
            change(&mut record);
            record.webhook.updated_at = now.to_owned();
            let item = WebhookItem {
                pk: schema::org_pk(org),
                sk: webhook_sk(id),
                entity: "webhook".into(),
                org_id: org,
                secrets: record.secrets.clone(),
                webhook: record.webhook.clone(),
            };
            let put = Put::builder()
                .table_name(self.table())
                .set_item(Some(to_item(&item)?))
                .condition_expression("attribute_exists(pk) AND updatedAt = :before")
                .expression_attribute_values(":before", s(before))
                .build()
                .map_err(StoreError::internal)?;
            let event = Event::new(kind, None, actor, now, data_of("webhook", &record.webhook));
            let mut tx = Tx::new();
            let webhook_put = tx.push(TransactWriteItem::builder().put(put).build());
            tx.push(self.event_put(org, event)?);
            match self.transact(tx).await {
                Ok(()) => return Ok(record),
                // Changed (or deleted) since it was read: read again.
                Err(TxError::Cancelled(reasons)) if failed_at(&reasons, webhook_put).is_some() => continue,
                Err(e) => return Err(e.into_error()),
            }
        }
        Err(StoreError::Unavailable("webhook kept changing during the update".into()))
    }

    /// Deletes a webhook and its place in the count. Its deliveries stay in the log
    /// until they expire; pending ones end `failed` at their next attempt.
    pub async fn delete_webhook(&self, w: &Write<'_>, id: Uuid) -> Result<(), StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        let delete = Delete::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), webhook_sk(id))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(StoreError::internal)?;
        let event = Event::new(EventType::WebhookDeleted, None, actor, now, serde_json::json!({"webhook": {"id": id}}));
        let mut tx = Tx::new();
        let webhook_delete = tx.push(TransactWriteItem::builder().delete(delete).build());
        tx.push(self.give_org_quota(org, Quota::Webhooks, 1)?);
        tx.push(self.event_put(org, event)?);
        match self.transact(tx).await {
            Ok(()) => Ok(()),
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, webhook_delete).is_some() => {
                Err(StoreError::not_found("Webhook"))
            }
            Err(e) => Err(e.into_error()),
        }
    }

    /// Disables a webhook for a reason of the system's (410, 24 h of failures), with a
    /// `webhook.disabled` event by the scheduler. `false` when it was already disabled
    /// or is gone, so only one event says so.
    pub async fn disable_webhook(&self, org: Uuid, id: Uuid, reason: &str, now: &str) -> Result<bool, StoreError> {
        let update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), webhook_sk(id))))
            .update_expression("SET enabled = :false, disabledReason = :reason, updatedAt = :now")
            .condition_expression("attribute_exists(pk) AND enabled = :true")
            .expression_attribute_values(":false", aws_sdk_dynamodb::types::AttributeValue::Bool(false))
            .expression_attribute_values(":true", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":now", s(now))
            .build()
            .map_err(StoreError::internal)?;
        let event = Event::new(
            EventType::WebhookDisabled,
            None,
            &Actor::schedule(),
            now,
            serde_json::json!({"webhook": {"id": id}, "reason": reason}),
        );
        let mut tx = Tx::new();
        let enabled = tx.push(TransactWriteItem::builder().update(update).build());
        tx.push(self.event_put(org, event)?);
        match self.transact(tx).await {
            Ok(()) => Ok(true),
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, enabled).is_some() => Ok(false),
            Err(e) => Err(e.into_error()),
        }
    }

    /// Records a failed attempt on an endpoint (the item at `sk`: a webhook or a
    /// subscriber): starts its failure run if none is running, and returns when the run
    /// started (`None` when the endpoint is gone).
    pub async fn mark_endpoint_failing(&self, org: Uuid, sk: &str, now: &str) -> Result<Option<String>, StoreError> {
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), sk)))
            .update_expression("SET failingSince = :now")
            // A cleared run is stored as NULL.
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(failingSince) OR attribute_type(failingSince, :null))",
            )
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":null", s("NULL"))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match out {
            Ok(_) => Ok(Some(now.to_owned())),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c)) => {
                    Ok(c.item().and_then(|i| super::get_s(i, "failingSince")).map(str::to_owned))
                }
                _ => Err(sdk_error(e)),
            },
        }
    }

    /// Ends an endpoint's failure run after a success.
    pub async fn clear_endpoint_failing(&self, org: Uuid, sk: &str) -> Result<(), StoreError> {
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), sk)))
            .update_expression("REMOVE failingSince")
            // Only when a run is going (a cleared one is absent or NULL).
            .condition_expression("attribute_type(failingSince, :string)")
            .expression_attribute_values(":string", s("S"))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }
}

fn record(item: WebhookItem) -> WebhookRecord {
    WebhookRecord { org_id: item.org_id, webhook: item.webhook, secrets: item.secrets }
}
