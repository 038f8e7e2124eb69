//! Alert integrations (tools in): one per tool and page, in the org partition with the
//! SHA-256 of its token (never the token) and, for Grafana, its sealed signing secret.
//! The hook URL names only the integration, so a pointer item (`HOOK#<id>`) finds its
//! organization. Each request the tool makes is kept for seven days in the integration's
//! log, and each alert group it reports is an item that names the incident it opened
//! (see [`AlertGroup`]): the group item is written in the same transaction as the
//! incident's change, on the condition that nobody wrote it meanwhile, so concurrent and
//! repeated deliveries of one group open one incident.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::StoreError;
use super::events::{EventType, data_of};
use super::listing::Listing;
use super::write::Write;
use super::{Item, Store, Tx, TxError, cursor, failed_at, from_item, get_s, key, n, s, schema, to_item};
use crate::domain::ServiceStatus;
use crate::domain::alerts::{IntegrationType, SeverityEffect};

/// Most integrations one page may have.
pub const MAX_PER_PAGE: usize = 20;
/// How long a request stays in an integration's log.
pub const REQUEST_RETENTION_SECS: i64 = 7 * 24 * 3600;
/// How many requests the log shows.
pub const REQUESTS_SHOWN: u32 = 100;
/// How much of a request's body the log keeps.
pub const BODY_KEPT: usize = 2_000;
/// How long an alert group's item outlives its last delivery.
const GROUP_RETENTION_SECS: i64 = 90 * 24 * 3600;

/// An integration as the API shows it (its token only in the create and rotate answers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    /// Integration id (UUID v7), the last segment of its hook URL.
    pub id: Uuid,
    /// The page its incidents go on.
    pub page_id: Uuid,
    /// The tool.
    #[serde(rename = "type")]
    pub kind: IntegrationType,
    /// Free text.
    pub name: String,
    /// The alert label that names the service (default `service`).
    pub service_label: String,
    /// Label values to services of the page.
    pub service_map: BTreeMap<String, Uuid>,
    /// Severities to service status and incident impact.
    pub severity_map: BTreeMap<String, SeverityEffect>,
    /// Whether a resolved group resolves its incident.
    pub auto_resolve: bool,
    /// Whether Grafana's signature is checked (a secret is set).
    pub signed: bool,
    /// The token's first characters, to tell tokens apart.
    pub token_prefix: String,
    /// When the tool last called.
    pub last_request_at: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntegrationItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    entity: String,
    org_id: Uuid,
    token_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_sealed: Option<String>,
    /// When it opened incidents in the last hour (the flap guard).
    #[serde(default)]
    opened: Vec<i64>,
    #[serde(default)]
    sequence: u64,
    #[serde(flatten)]
    integration: Integration,
}

/// What the hook endpoint needs of an integration.
#[derive(Clone, Debug)]
pub struct HookTarget {
    /// The organization.
    pub org: Uuid,
    /// The integration.
    pub integration: Integration,
    /// SHA-256 (lowercase hex) of its token.
    pub token_hash: String,
    /// Its sealed Grafana secret.
    pub secret_sealed: Option<String>,
    /// When it opened incidents lately.
    pub opened: Vec<i64>,
}

/// A validated new integration.
#[derive(Debug)]
pub struct NewIntegration {
    /// Its id (its secret is sealed for it before it is stored).
    pub id: Uuid,
    /// The tool.
    pub kind: IntegrationType,
    /// Name, 1–100 characters.
    pub name: String,
    /// The service label.
    pub service_label: String,
    /// Label values to services (checked to be on the page).
    pub service_map: BTreeMap<String, Uuid>,
    /// Severities.
    pub severity_map: BTreeMap<String, SeverityEffect>,
    /// Whether resolved groups resolve their incidents.
    pub auto_resolve: bool,
    /// The sealed Grafana secret.
    pub secret_sealed: Option<String>,
    /// SHA-256 of the token.
    pub token_hash: String,
    /// The token's display prefix.
    pub token_prefix: String,
}

/// A validated change; `secret: Some(None)` removes the secret.
#[derive(Debug, Default)]
pub struct IntegrationPatch {
    /// New name.
    pub name: Option<String>,
    /// New service label.
    pub service_label: Option<String>,
    /// New service map.
    pub service_map: Option<BTreeMap<String, Uuid>>,
    /// New severity map.
    pub severity_map: Option<BTreeMap<String, SeverityEffect>>,
    /// New auto-resolve.
    pub auto_resolve: Option<bool>,
    /// New sealed secret, or its removal.
    pub secret_sealed: Option<Option<String>>,
}

/// One request of a tool, as its log shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRequest {
    /// Request id (UUID v7).
    pub id: Uuid,
    /// When it came.
    pub received_at: String,
    /// The HTTP status answered.
    pub status: u16,
    /// `opened`, `updated`, `resolved`, `ignored`, or `rejected`.
    pub outcome: String,
    /// The incident it touched.
    pub incident_id: Option<Uuid>,
    /// Why it was rejected or ignored.
    pub message: Option<String>,
    /// The body, cut at 2,000 characters.
    pub body: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HookRequestItem {
    pk: String,
    sk: String,
    entity: String,
    page_id: Uuid,
    ttl: i64,
    #[serde(flatten)]
    request: HookRequest,
}

/// A service an alert group changed: what it was before, what the group set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceTouch {
    /// The service.
    pub id: Uuid,
    /// Its status before the group changed it.
    pub before: ServiceStatus,
    /// The status the group set.
    pub set: ServiceStatus,
}

/// An alert group of one integration: the incident it opened and what fires.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertGroup {
    /// The group's key in the tool.
    pub key: String,
    /// The incident it opened (absent when the flap guard held it back).
    pub incident_id: Option<Uuid>,
    /// Ids of the alerts firing at the last delivery, sorted.
    pub firing: Vec<String>,
    /// Whether the group fires (false once it resolved).
    pub open: bool,
    /// The incident's `updatedAt` after the group's last write: a later one means a
    /// person changed the incident.
    pub incident_touched: Option<String>,
    /// The services it changed.
    pub services: Vec<ServiceTouch>,
    /// The revision, for the optimistic lock.
    #[serde(default)]
    pub sequence: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertGroupItem {
    pk: String,
    sk: String,
    entity: String,
    page_id: Uuid,
    ttl: i64,
    #[serde(flatten)]
    group: AlertGroup,
}

impl Store {
    /// Creates an integration on a live page, with its hook pointer and its event, in one
    /// transaction. Services named in the map must be on the page.
    pub async fn create_integration(
        &self,
        w: &Write<'_>,
        page: Uuid,
        new: NewIntegration,
    ) -> Result<Integration, StoreError> {
        let org = w.org;
        let existing = self.query_all(self.integrations_query(org, page)).await?;
        if existing.len() >= MAX_PER_PAGE {
            return Err(StoreError::PlanLimit(format!("A page may have at most {MAX_PER_PAGE} integrations.")));
        }
        let id = new.id;
        let now = w.now.text();
        let integration = Integration {
            id,
            page_id: page,
            kind: new.kind,
            name: new.name,
            service_label: new.service_label,
            service_map: new.service_map,
            severity_map: new.severity_map,
            auto_resolve: new.auto_resolve,
            signed: new.secret_sealed.is_some(),
            token_prefix: new.token_prefix,
            last_request_at: None,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
        };
        let item = IntegrationItem {
            pk: schema::org_pk(org),
            sk: schema::integration_sk(id),
            gsi1pk: schema::integrations_gsi1pk(org, page),
            gsi1sk: id.to_string(),
            entity: "integration".into(),
            org_id: org,
            token_hash: new.token_hash,
            secret_sealed: new.secret_sealed,
            opened: Vec::new(),
            sequence: 0,
            integration,
        };
        let mut pointer = key(schema::hook_pk(id), schema::HOOK_SK);
        pointer.insert("entity".into(), s("hook"));
        pointer.insert("orgId".into(), s(org.to_string()));
        let mut tx = Tx::new();
        let page_live = tx.push(self.page_is_live(org, page)?);
        tx.push(self.put_new(to_item(&item)?)?);
        tx.push(self.put_new(pointer)?);
        let services: Vec<Uuid> = item.integration.service_map.values().copied().collect();
        let on_page =
            tx.extend(services.iter().map(|s| self.service_on_page(org, page, *s)).collect::<Result<Vec<_>, _>>()?);
        tx.push(self.event_put(
            org,
            w.event(EventType::IntegrationCreated, Some(page), data_of("integration", &item.integration)),
        )?);
        match self.transact(tx).await {
            Ok(()) => Ok(item.integration),
            Err(TxError::Cancelled(reasons)) => {
                if failed_at(&reasons, page_live).is_some() {
                    return Err(StoreError::not_found("Page"));
                }
                if let Some(i) = on_page.first_failed(&reasons) {
                    return Err(StoreError::invalid_field(
                        "serviceMap",
                        format!("service {} is not on this page", services[i]),
                    ));
                }
                Err(TxError::Cancelled(reasons).into_error())
            }
            Err(e) => Err(e.into_error()),
        }
    }

    fn integrations_query(
        &self,
        org: Uuid,
        page: Uuid,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client()
            .query()
            .index_name(schema::GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(schema::integrations_gsi1pk(org, page)))
    }

    /// A page's integrations, oldest first.
    pub async fn list_integrations(
        &self,
        org: Uuid,
        page: Uuid,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing<Integration>, StoreError> {
        let pk = schema::integrations_gsi1pk(org, page);
        let start = cursor.map(|c| cursor::decode(c, schema::GSI1PK, &pk)).transpose()?;
        self.list(self.integrations_query(org, page), limit, start, |row: IntegrationItem| row.integration).await
    }

    async fn integration_item(&self, org: Uuid, id: Uuid) -> Result<Option<IntegrationItem>, StoreError> {
        match self.get(&key(schema::org_pk(org), schema::integration_sk(id)), true).await? {
            Some(item) => Ok(Some(from_item(item)?)),
            None => Ok(None),
        }
    }

    /// An integration of `org`.
    pub async fn get_integration(&self, org: Uuid, id: Uuid) -> Result<Option<Integration>, StoreError> {
        Ok(self.integration_item(org, id).await?.map(|i| i.integration))
    }

    /// The integration a hook URL names, from any organization, with what checks the
    /// caller: `None` when there is none.
    pub async fn hook_target(&self, id: Uuid) -> Result<Option<HookTarget>, StoreError> {
        let Some(pointer) = self.get(&key(schema::hook_pk(id), schema::HOOK_SK), false).await? else {
            return Ok(None);
        };
        let Some(org) = get_s(&pointer, "orgId").and_then(|o| Uuid::parse_str(o).ok()) else {
            return Err(StoreError::internal("a hook pointer without its organization"));
        };
        Ok(self.integration_item(org, id).await?.map(|item| HookTarget {
            org,
            token_hash: item.token_hash,
            secret_sealed: item.secret_sealed,
            opened: item.opened,
            integration: item.integration,
        }))
    }

    /// Rewrites an integration with `change` applied, on the condition that nobody
    /// changed it meanwhile (read again if someone did), with an event of `kind`.
    async fn rewrite_integration(
        &self,
        w: &Write<'_>,
        id: Uuid,
        kind: EventType,
        change: impl Fn(&mut IntegrationItem),
    ) -> Result<Integration, StoreError> {
        let org = w.org;
        for _ in 0..5 {
            let mut item = self.integration_item(org, id).await?.ok_or_else(|| StoreError::not_found("Integration"))?;
            let sequence = item.sequence;
            change(&mut item);
            item.sequence = sequence + 1;
            item.integration.updated_at = w.now.text().to_owned();
            item.integration.signed = item.secret_sealed.is_some();
            let page = item.integration.page_id;
            let mut tx = Tx::new();
            let guarded = tx.push(self.put_if_sequence(to_item(&item)?, sequence)?);
            let services: Vec<Uuid> = item.integration.service_map.values().copied().collect();
            let on_page =
                tx.extend(services.iter().map(|s| self.service_on_page(org, page, *s)).collect::<Result<Vec<_>, _>>()?);
            tx.push(self.event_put(org, w.event(kind, Some(page), data_of("integration", &item.integration)))?);
            match self.transact(tx).await {
                Ok(()) => return Ok(item.integration),
                Err(TxError::Cancelled(reasons)) => {
                    if let Some(i) = on_page.first_failed(&reasons) {
                        return Err(StoreError::invalid_field(
                            "serviceMap",
                            format!("service {} is not on this page", services[i]),
                        ));
                    }
                    if failed_at(&reasons, guarded).is_none() {
                        return Err(TxError::Cancelled(reasons).into_error());
                    }
                }
                Err(e) => return Err(e.into_error()),
            }
        }
        Err(StoreError::Unavailable("the integration kept changing".into()))
    }

    /// Changes an integration.
    pub async fn update_integration(
        &self,
        w: &Write<'_>,
        id: Uuid,
        patch: IntegrationPatch,
    ) -> Result<Integration, StoreError> {
        self.rewrite_integration(w, id, EventType::IntegrationUpdated, |item| {
            let i = &mut item.integration;
            if let Some(name) = &patch.name {
                i.name = name.clone();
            }
            if let Some(label) = &patch.service_label {
                i.service_label = label.clone();
            }
            if let Some(map) = &patch.service_map {
                i.service_map = map.clone();
            }
            if let Some(map) = &patch.severity_map {
                i.severity_map = map.clone();
            }
            if let Some(auto) = patch.auto_resolve {
                i.auto_resolve = auto;
            }
            if let Some(secret) = &patch.secret_sealed {
                item.secret_sealed = secret.clone();
            }
        })
        .await
    }

    /// Replaces the token (the old one stops working at once).
    pub async fn rotate_integration_token(
        &self,
        w: &Write<'_>,
        id: Uuid,
        token_hash: &str,
        token_prefix: &str,
    ) -> Result<Integration, StoreError> {
        self.rewrite_integration(w, id, EventType::IntegrationTokenRotated, |item| {
            item.token_hash = token_hash.to_owned();
            item.integration.token_prefix = token_prefix.to_owned();
        })
        .await
    }

    /// Deletes an integration and its hook pointer, with its event; its log and alert
    /// groups expire on their own.
    pub async fn delete_integration(&self, w: &Write<'_>, id: Uuid) -> Result<(), StoreError> {
        let org = w.org;
        let item = self.integration_item(org, id).await?.ok_or_else(|| StoreError::not_found("Integration"))?;
        let delete = |k: Item, condition: bool| -> Result<TransactWriteItem, StoreError> {
            let mut d = Delete::builder().table_name(self.table()).set_key(Some(k));
            if condition {
                d = d.condition_expression("attribute_exists(pk)");
            }
            Ok(TransactWriteItem::builder().delete(d.build().map_err(StoreError::internal)?).build())
        };
        let mut tx = Tx::new();
        let gone = tx.push(delete(key(schema::org_pk(org), schema::integration_sk(id)), true)?);
        tx.push(delete(key(schema::hook_pk(id), schema::HOOK_SK), false)?);
        tx.push(self.event_put(
            org,
            w.event(
                EventType::IntegrationDeleted,
                Some(item.integration.page_id),
                data_of("integration", &item.integration),
            ),
        )?);
        match self.transact(tx).await {
            Ok(()) => Ok(()),
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, gone).is_some() => {
                Err(StoreError::not_found("Integration"))
            }
            Err(e) => Err(e.into_error()),
        }
    }

    /// Keeps one request in the integration's log and stamps the integration's
    /// `lastRequestAt`.
    pub async fn log_hook_request(
        &self,
        org: Uuid,
        integration: &Integration,
        request: HookRequest,
        now_epoch: i64,
    ) -> Result<(), StoreError> {
        let item = HookRequestItem {
            pk: schema::org_pk(org),
            sk: schema::hook_request_sk(integration.id, request.id),
            entity: "hookRequest".into(),
            page_id: integration.page_id,
            ttl: now_epoch + REQUEST_RETENTION_SECS,
            request,
        };
        let at = item.request.received_at.clone();
        self.put_all(vec![to_item(&item)?]).await?;
        self.set_integration_attribute(org, integration.id, "lastRequestAt", s(at)).await
    }

    /// The integration's last [`REQUESTS_SHOWN`] requests, newest first.
    pub async fn list_hook_requests(
        &self,
        org: Uuid,
        id: Uuid,
        now_epoch: i64,
    ) -> Result<Vec<HookRequest>, StoreError> {
        let query = self
            .client()
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .filter_expression("#ttl > :now")
            .expression_attribute_names("#ttl", schema::TTL)
            .expression_attribute_values(":pk", s(schema::org_pk(org)))
            .expression_attribute_values(":prefix", s(schema::hook_request_prefix(id)))
            .expression_attribute_values(":now", n(now_epoch))
            .scan_index_forward(false)
            .consistent_read(true);
        let (items, _) = self.query_up_to(query, REQUESTS_SHOWN, None).await?;
        items.into_iter().map(|i| from_item::<HookRequestItem>(i).map(|r| r.request)).collect()
    }

    /// Records that the integration opened an incident at the times in `opened` (the
    /// last hour's, for the flap guard).
    pub async fn set_integration_opened(&self, org: Uuid, id: Uuid, opened: &[i64]) -> Result<(), StoreError> {
        let list = aws_sdk_dynamodb::types::AttributeValue::L(opened.iter().map(n).collect());
        self.set_integration_attribute(org, id, "opened", list).await
    }

    /// Sets one attribute of an integration that still exists (a deleted one is left
    /// deleted).
    async fn set_integration_attribute(
        &self,
        org: Uuid,
        id: Uuid,
        name: &str,
        value: aws_sdk_dynamodb::types::AttributeValue,
    ) -> Result<(), StoreError> {
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::integration_sk(id))))
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET #attr = :value")
            .expression_attribute_names("#attr", name)
            .expression_attribute_values(":value", value)
            .build()
            .map_err(StoreError::internal)?;
        match self.transact(vec![TransactWriteItem::builder().update(update).build()]).await {
            Ok(()) | Err(TxError::Cancelled(_)) => Ok(()),
            Err(e) => Err(e.into_error()),
        }
    }

    /// The alert group `key` of an integration, as last written.
    pub async fn alert_group(
        &self,
        org: Uuid,
        integration: Uuid,
        key_text: &str,
    ) -> Result<Option<AlertGroup>, StoreError> {
        let k = key(schema::org_pk(org), schema::alert_group_sk(integration, key_text));
        match self.get(&k, true).await? {
            Some(item) => Ok(Some(from_item::<AlertGroupItem>(item)?.group)),
            None => Ok(None),
        }
    }

    /// The write of an alert group that holds only if nobody wrote it since it was read
    /// (`read`: the group as read, `None` when there was none): the guard of the
    /// incident write it goes with ([`Write::guarded`]).
    pub fn alert_group_put(
        &self,
        org: Uuid,
        integration: &Integration,
        read: Option<&AlertGroup>,
        mut group: AlertGroup,
        now_epoch: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        group.sequence = read.map_or(0, |g| g.sequence + 1);
        let item = AlertGroupItem {
            pk: schema::org_pk(org),
            sk: schema::alert_group_sk(integration.id, &group.key),
            entity: "alertGroup".into(),
            page_id: integration.page_id,
            ttl: now_epoch + GROUP_RETENTION_SECS,
            group,
        };
        match read {
            None => self.put_new(to_item(&item)?),
            Some(old) => self.put_if_sequence(to_item(&item)?, old.sequence),
        }
    }

    /// Writes an alert group alone (no incident change goes with it); `false` when
    /// another delivery wrote it first.
    pub async fn put_alert_group(&self, put: TransactWriteItem) -> Result<bool, StoreError> {
        match self.transact(vec![put]).await {
            Ok(()) => Ok(true),
            Err(TxError::Cancelled(reasons)) if reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed")) => {
                Ok(false)
            }
            Err(e) => Err(e.into_error()),
        }
    }
}
