//! Deliveries: one item per (event, endpoint), with a deterministic id (so a stream
//! record delivered twice finds the item it already made), the exact body that is
//! signed, the attempt log, and while pending a place on the sparse due index. An
//! attempt is made under a short lease taken with a conditional write, so two workers
//! never send the same delivery at once and a worker that dies mid-attempt leaves it due.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::StoreError;
use super::listing::Listing;
use super::{Store, cursor, from_item, key, n, s, schema, sdk_error, to_item};

/// How long deliveries are kept.
pub const RETENTION_SECS: i64 = 30 * 24 * 60 * 60;

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Waiting for its first or next attempt.
    Pending,
    /// A 2xx was received.
    Delivered,
    /// Given up: the schedule ran out, the endpoint answered 410, or it was disabled.
    Failed,
}

/// What kind of endpoint a delivery goes to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointKind {
    /// One of the organization's webhooks.
    #[default]
    Webhook,
    /// A page's subscriber (email or webhook).
    Subscriber,
}

/// One attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// When it was made.
    pub at: String,
    /// The response status, if there was a response.
    pub status_code: Option<u16>,
    /// Time to the response.
    pub latency_ms: u64,
    /// Why there was no usable response.
    pub error: Option<String>,
}

/// A delivery as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Delivery id: also the `webhook-id` header of every attempt.
    pub id: Uuid,
    /// The event delivered (a random id for a test ping).
    pub event_id: Uuid,
    /// Its type (`ping` for a test).
    pub event_type: String,
    /// The webhook (or subscriber) it goes to.
    pub endpoint_id: Uuid,
    /// Where it stands.
    pub state: DeliveryState,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<String>,
    /// When it was made.
    pub created_at: String,
}

/// A delivery with what only the notifier needs.
#[derive(Clone, Debug)]
pub struct DeliveryRecord {
    /// The organization.
    pub org_id: Uuid,
    /// The delivery.
    pub delivery: Delivery,
    /// The exact JSON body that is signed and sent, the same on every attempt.
    pub body: String,
    /// What the endpoint is.
    pub endpoint_kind: EndpointKind,
    /// When DynamoDB deletes it (epoch seconds).
    pub ttl: i64,
}

/// A delivery about to be made (see [`Store::create_deliveries`]).
#[derive(Clone, Debug)]
pub struct NewDelivery {
    /// Its id ([`delivery_id`]).
    pub id: Uuid,
    /// The event delivered, and its type.
    pub event: (Uuid, String),
    /// The endpoint, and what it is.
    pub endpoint: (Uuid, EndpointKind),
    /// The exact body.
    pub body: String,
}

/// Deliveries made in one transaction (DynamoDB's maximum).
const CREATE_CHUNK: usize = 100;
/// Bytes of bodies in one transaction, well under its 4 MB.
const CREATE_CHUNK_BYTES: usize = 2_000_000;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    entity: String,
    org_id: Uuid,
    ttl: i64,
    body: String,
    // Deliveries made before subscribers existed all went to webhooks.
    #[serde(default)]
    endpoint_kind: EndpointKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    lease_until: Option<i64>,
    #[serde(flatten)]
    delivery: Delivery,
}

/// What an attempt leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Done: 2xx.
    Delivered,
    /// Done: given up.
    Failed,
    /// Try again at this time.
    RetryAt(String),
}

/// The id of the delivery of `event` to `endpoint`: the same every time it is computed.
/// A UUID v7 whose time is the event's (so deliveries sort by event time) and whose
/// random bits are a hash of the pair.
pub fn delivery_id(event: Uuid, endpoint: Uuid) -> Uuid {
    let digest = Sha256::new().chain_update(event.as_bytes()).chain_update(endpoint.as_bytes()).finalize();
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&event.as_bytes()[..6]);
    bytes[6..].copy_from_slice(&digest[..10]);
    uuid::Builder::from_bytes(bytes)
        .with_version(uuid::Version::SortRand)
        .with_variant(uuid::Variant::RFC4122)
        .into_uuid()
}

/// The due-index shard of a delivery.
fn shard(id: Uuid) -> u8 {
    id.as_bytes()[15] % schema::DUE_SHARDS
}

fn delivery_key(org: Uuid, id: Uuid) -> super::Item {
    key(schema::org_pk(org), schema::delivery_sk(id))
}

/// Work found on the due index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Due {
    /// The organization.
    pub org_id: Uuid,
    /// The delivery.
    pub id: Uuid,
}

impl Store {
    /// Makes a delivery, leased to its maker until `lease_until` and due on the index at
    /// that time (so if the maker dies before its first attempt, the scheduler makes it).
    /// `None` when the delivery already exists: a replayed stream record.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_delivery(
        &self,
        org: Uuid,
        id: Uuid,
        event: (Uuid, &str),
        endpoint: (Uuid, EndpointKind),
        body: String,
        now: &str,
        now_epoch: i64,
        lease_until: (i64, &str),
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let new = NewDelivery { id, event: (event.0, event.1.to_owned()), endpoint, body };
        let item = new_item(org, new, now, now_epoch, lease_until);
        let put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(Some(into_record(item))),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(None),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Makes deliveries as [`Store::create_delivery`] does, up to a hundred to a
    /// transaction (a few transactions at once); returns those made, leaving out any that
    /// exist already (a replayed stream record), which the transaction's cancellation
    /// reasons name.
    pub async fn create_deliveries(
        &self,
        org: Uuid,
        new: Vec<NewDelivery>,
        now: &str,
        now_epoch: i64,
        lease_until: (i64, &str),
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        use futures::StreamExt;
        let items: Vec<DeliveryItem> = new.into_iter().map(|n| new_item(org, n, now, now_epoch, lease_until)).collect();
        let mut chunks: Vec<Vec<DeliveryItem>> = Vec::new();
        let mut bytes = 0;
        for item in items {
            let full =
                chunks.last().is_none_or(|c| c.len() >= CREATE_CHUNK || bytes + item.body.len() > CREATE_CHUNK_BYTES);
            if full {
                chunks.push(Vec::new());
                bytes = 0;
            }
            bytes += item.body.len();
            chunks.last_mut().expect("pushed above").push(item);
        }
        let made: Vec<Result<Vec<DeliveryRecord>, StoreError>> =
            futures::stream::iter(chunks).map(|chunk| self.create_chunk(chunk)).buffer_unordered(4).collect().await;
        Ok(made.into_iter().collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect())
    }

    /// One transaction of new deliveries; those whose condition failed (they exist) are
    /// dropped and the rest sent again.
    async fn create_chunk(&self, mut chunk: Vec<DeliveryItem>) -> Result<Vec<DeliveryRecord>, StoreError> {
        for _ in 0..4 {
            if chunk.is_empty() {
                return Ok(Vec::new());
            }
            let puts = chunk
                .iter()
                .map(|item| {
                    let put = aws_sdk_dynamodb::types::Put::builder()
                        .table_name(self.table())
                        .set_item(Some(to_item(item)?))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(StoreError::internal)?;
                    Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder().put(put).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let mut tx = super::Tx::new();
            let slots = tx.extend(puts);
            match self.transact(tx).await {
                Ok(()) => return Ok(chunk.into_iter().map(into_record).collect()),
                Err(super::TxError::Cancelled(reasons)) => {
                    let before = chunk.len();
                    let mut i = 0;
                    chunk.retain(|_| {
                        let exists = slots.nth(i).and_then(|slot| super::failed_at(&reasons, slot)).is_some();
                        i += 1;
                        !exists
                    });
                    if chunk.len() == before {
                        return Err(super::TxError::Cancelled(reasons).into_error());
                    }
                }
                Err(e) => return Err(e.into_error()),
            }
        }
        Err(StoreError::Unavailable("new deliveries kept colliding with existing ones".into()))
    }

    /// Records first attempts that delivered, each delivery written whole as delivered,
    /// 25 to a `BatchWriteItem`. Only for deliveries whose lease the caller holds (nothing
    /// else writes them meanwhile).
    pub async fn record_delivered(&self, delivered: Vec<(DeliveryRecord, Attempt)>) -> Result<(), StoreError> {
        let items = delivered
            .into_iter()
            .map(|(record, attempt)| {
                let org = record.org_id;
                let mut delivery = record.delivery;
                delivery.attempts.push(attempt);
                delivery.state = DeliveryState::Delivered;
                delivery.next_attempt_at = None;
                let item = DeliveryItem {
                    pk: schema::org_pk(org),
                    sk: schema::delivery_sk(delivery.id),
                    gsi1pk: schema::endpoint_deliveries_gsi1pk(org, delivery.endpoint_id),
                    gsi1sk: delivery.id.to_string(),
                    gsi2pk: None,
                    gsi2sk: None,
                    entity: "delivery".into(),
                    org_id: org,
                    ttl: record.ttl,
                    body: record.body,
                    endpoint_kind: record.endpoint_kind,
                    lease_until: None,
                    delivery,
                };
                to_item(&item)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.put_all(items).await
    }

    /// Reads a delivery.
    pub async fn get_delivery(&self, org: Uuid, id: Uuid) -> Result<Option<DeliveryRecord>, StoreError> {
        let out = self.get(&delivery_key(org, id), true).await?;
        out.map(|i| from_item::<DeliveryItem>(i).map(into_record)).transpose()
    }

    /// Takes the lease of a delivery for one attempt: a pending one whose lease has run
    /// out (`retry`: any delivery not leased, which then becomes pending again, for a
    /// manual retry). `None` when someone else holds it, it is done, or it is gone.
    pub async fn claim_delivery(
        &self,
        org: Uuid,
        id: Uuid,
        now_epoch: i64,
        lease_until: i64,
        retry: bool,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let condition = if retry {
            "attribute_exists(pk) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)"
        } else {
            "#state = :pending AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)"
        };
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(delivery_key(org, id)))
            .update_expression("SET leaseUntil = :until, #state = :pending")
            .condition_expression(condition)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", n(now_epoch))
            .expression_attribute_values(":until", n(lease_until))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => out.attributes.map(|i| from_item::<DeliveryItem>(i).map(into_record)).transpose(),
            Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
                Ok(None)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Counts a manual retry in the delivery's hourly window: `Err(seconds to wait)` when
    /// `max` were made this hour already. Two conditional writes at most: one counting
    /// in the current window, else one starting a new window.
    pub async fn count_manual_retry(
        &self,
        org: Uuid,
        id: Uuid,
        now_epoch: i64,
        max: u32,
    ) -> Result<Result<(), u64>, StoreError> {
        let window = now_epoch - now_epoch.rem_euclid(3600);
        let counted = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(delivery_key(org, id)))
            .update_expression("SET retryCount = retryCount + :one")
            .condition_expression("retryWindow = :window AND retryCount < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":window", n(window))
            .expression_attribute_values(":max", n(i64::from(max)))
            .send()
            .await;
        match counted {
            Ok(_) => return Ok(Ok(())),
            Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {}
            Err(e) => return Err(sdk_error(e)),
        }
        let started = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(delivery_key(org, id)))
            .update_expression("SET retryWindow = :window, retryCount = :one")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(retryWindow) OR retryWindow < :window)",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":window", n(window))
            .send()
            .await;
        match started {
            Ok(_) => Ok(Ok(())),
            Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
                Ok(Err(u64::try_from(window + 3600 - now_epoch).unwrap_or(1).max(1)))
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Records an attempt and what follows it, and gives up the lease: on to the due
    /// index at the next attempt's time, or off it for good.
    pub async fn record_attempt(&self, org: Uuid, id: Uuid, attempt: &Attempt, next: &Next) -> Result<(), StoreError> {
        let attempt = to_item(attempt)?;
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(delivery_key(org, id)))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":attempt", AttributeValue::L(vec![AttributeValue::M(attempt)]));
        let expression = match next {
            Next::RetryAt(at) => {
                update = update
                    .expression_attribute_values(":state", s("pending"))
                    .expression_attribute_values(":next", s(at))
                    .expression_attribute_values(":duepk", s(schema::due_gsi2pk(shard(id))))
                    .expression_attribute_values(":duesk", s(schema::due_gsi2sk(at, org, id)));
                "SET attempts = list_append(attempts, :attempt), #state = :state, nextAttemptAt = :next, \
                 gsi2pk = :duepk, gsi2sk = :duesk REMOVE leaseUntil"
            }
            Next::Delivered | Next::Failed => {
                let state = if *next == Next::Delivered { "delivered" } else { "failed" };
                update = update
                    .expression_attribute_values(":state", s(state))
                    .expression_attribute_values(":null", AttributeValue::Null(true));
                "SET attempts = list_append(attempts, :attempt), #state = :state, nextAttemptAt = :null \
                 REMOVE leaseUntil, gsi2pk, gsi2sk"
            }
        };
        match update.update_expression(expression).send().await {
            Ok(_) => Ok(()),
            // Expired and deleted by TTL meanwhile: nothing left to record on.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Ends a delivery without an attempt (its endpoint was deleted or disabled).
    pub async fn abandon_delivery(&self, org: Uuid, id: Uuid) -> Result<(), StoreError> {
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(delivery_key(org, id)))
            .update_expression("SET #state = :failed, nextAttemptAt = :null REMOVE leaseUntil, gsi2pk, gsi2sk")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":null", AttributeValue::Null(true))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Deliveries due at `now` on one shard of the due index, earliest first, at most
    /// `limit`.
    pub async fn due_deliveries(&self, shard: u8, now: &str, limit: u32) -> Result<Vec<Due>, StoreError> {
        // Every key of this shard up to `now` inclusive sorts before `now` + "$" ('#' < '$').
        let query = self
            .client()
            .query()
            .index_name(schema::GSI2)
            .key_condition_expression("gsi2pk = :pk AND gsi2sk < :upto")
            .expression_attribute_values(":pk", s(schema::due_gsi2pk(shard)))
            .expression_attribute_values(":upto", s(format!("{now}$")))
            .projection_expression("orgId, id");
        let (items, _) = self.query_up_to(query, limit, None).await?;
        items
            .into_iter()
            .map(|item| {
                let id = |name: &str| {
                    super::get_s(&item, name)
                        .and_then(|v| Uuid::parse_str(v).ok())
                        .ok_or_else(|| StoreError::internal(format!("due item without {name}")))
                };
                Ok(Due { org_id: id("orgId")?, id: id("id")? })
            })
            .collect()
    }

    /// An endpoint's deliveries, newest first.
    pub async fn list_deliveries(
        &self,
        org: Uuid,
        endpoint: Uuid,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing<Delivery>, StoreError> {
        let pk = schema::endpoint_deliveries_gsi1pk(org, endpoint);
        let start = cursor.map(|c| cursor::decode(c, schema::GSI1PK, &pk)).transpose()?;
        let query = self
            .client()
            .query()
            .index_name(schema::GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(&pk))
            .scan_index_forward(false);
        self.list(query, limit, start, |row: DeliveryItem| row.delivery).await
    }
}

fn into_record(item: DeliveryItem) -> DeliveryRecord {
    DeliveryRecord {
        org_id: item.org_id,
        delivery: item.delivery,
        body: item.body,
        endpoint_kind: item.endpoint_kind,
        ttl: item.ttl,
    }
}

/// A new delivery's item: pending, leased to its maker until `lease_until`, and due on
/// the index at that time.
fn new_item(org: Uuid, new: NewDelivery, now: &str, now_epoch: i64, lease_until: (i64, &str)) -> DeliveryItem {
    let NewDelivery { id, event, endpoint: (endpoint, endpoint_kind), body } = new;
    let delivery = Delivery {
        id,
        event_id: event.0,
        event_type: event.1,
        endpoint_id: endpoint,
        state: DeliveryState::Pending,
        attempts: Vec::new(),
        next_attempt_at: Some(now.to_owned()),
        created_at: now.to_owned(),
    };
    DeliveryItem {
        pk: schema::org_pk(org),
        sk: schema::delivery_sk(id),
        gsi1pk: schema::endpoint_deliveries_gsi1pk(org, endpoint),
        gsi1sk: id.to_string(),
        gsi2pk: Some(schema::due_gsi2pk(shard(id))),
        gsi2sk: Some(schema::due_gsi2sk(lease_until.1, org, id)),
        entity: "delivery".into(),
        org_id: org,
        ttl: now_epoch + RETENTION_SECS,
        body,
        endpoint_kind,
        lease_until: Some(lease_until.0),
        delivery,
    }
}
