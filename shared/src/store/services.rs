//! Services: items in the org partition keyed by their id, listed per page through GSI1
//! in display order; and their status history, one item per change of `currentStatus`,
//! written in the same transaction as the change.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::StoreError;
use super::events::{Actor, Event, EventType, data_of};
use super::idempotency::Outcome;
use super::listing::Listing;
use super::monitors::{LinkedWrites, NewMonitor};
use super::quotas::{Quota, page_quota_failure, returned_item};
use super::write::Write;
use super::{Changes, Store, Tx, TxError, cursor, failed_at, from_item, get_s, key, n, s, schema, sdk_error, to_item};
use crate::domain::ServiceStatus;
use crate::domain::uptime::Change;

/// A service as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// Service id (UUID v7).
    pub id: Uuid,
    /// The page it is on.
    pub page_id: Uuid,
    /// Display name.
    pub name: String,
    /// Optional URL monitored for it.
    pub monitor_url: Option<String>,
    /// Current status.
    pub current_status: ServiceStatus,
    /// Sort position on the page (0–10000).
    pub display_order: u32,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    entity: String,
    org_id: Uuid,
    /// The maintenance windows in progress that hold it under maintenance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    maintenance_holds: Vec<Uuid>,
    /// The status it returns to when the last of them ends; absent when it was set by
    /// hand meanwhile (then it is left as it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restore_status: Option<ServiceStatus>,
    #[serde(flatten)]
    service: Service,
}

/// How maintenance windows hold a service: its status, the windows in progress on it, and
/// the status it returns to when the last of them ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hold {
    /// Its current status.
    pub status: ServiceStatus,
    /// Windows in progress on it, in the order they started.
    pub windows: Vec<Uuid>,
    /// The status from before the first of them; `None` once someone set one by hand.
    pub restore: Option<ServiceStatus>,
}

impl Hold {
    /// Window `window` starts: the service goes under maintenance, remembering the
    /// status it had if no other window holds it already.
    pub fn hold(&self, window: Uuid) -> Self {
        let mut after = self.clone();
        if after.windows.contains(&window) {
            return after;
        }
        if after.windows.is_empty() || after.status != ServiceStatus::Maintenance {
            after.restore = Some(after.status);
        }
        after.status = ServiceStatus::Maintenance;
        after.windows.push(window);
        after
    }

    /// Window `window` ends: when it was the last one, the service gets back the status
    /// from before the first, unless that was overridden by hand meanwhile.
    pub fn release(&self, window: Uuid) -> Self {
        let mut after = self.clone();
        if !after.windows.contains(&window) {
            return after;
        }
        after.windows.retain(|w| *w != window);
        if after.windows.is_empty() {
            if let Some(status) = after.restore.take() {
                if after.status == ServiceStatus::Maintenance {
                    after.status = status;
                }
            }
        }
        after
    }
}

/// A service with its maintenance hold, as maintenance windows read it.
#[derive(Clone, Debug)]
pub struct HeldService {
    /// The service.
    pub service: Service,
    /// Its hold.
    pub hold: Hold,
}

/// What changed a service's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusSource {
    /// A request to the API.
    Api,
    /// A maintenance window starting or ending.
    Maintenance,
    /// A monitor's verdict.
    Monitor,
    /// An alert integration's group firing or resolving.
    Integration,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusChangeItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    entity: String,
    org_id: Uuid,
    page_id: Uuid,
    service_id: Uuid,
    at: String,
    from: ServiceStatus,
    to: ServiceStatus,
    source: StatusSource,
}

impl StatusChangeItem {
    fn change(&self) -> Result<Change, StoreError> {
        let at = chrono::DateTime::parse_from_rfc3339(&self.at).map_err(StoreError::internal)?.to_utc();
        Ok(Change { at, from: self.from, to: self.to })
    }
}

/// A page's services with their status changes since some time, oldest first.
#[derive(Debug, Default)]
pub struct ServicesWithHistory {
    /// The services, in display order.
    pub services: Vec<Service>,
    /// Each service's changes.
    pub changes: HashMap<Uuid, Vec<Change>>,
}

/// A validated new service.
#[derive(Debug)]
pub struct NewService {
    /// Its id: a fresh UUID v7 from the API.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Monitor URL.
    pub monitor_url: Option<String>,
    /// Initial status.
    pub current_status: ServiceStatus,
    /// Display order.
    pub display_order: u32,
}

/// A validated change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ServicePatch {
    /// New name.
    pub name: Option<String>,
    /// New or cleared monitor URL.
    pub monitor_url: Option<Option<String>>,
    /// New status.
    pub current_status: Option<ServiceStatus>,
    /// New display order.
    pub display_order: Option<u32>,
    /// Leave the status alone while the service is under maintenance (a monitor's
    /// verdict never overrides planned work).
    pub unless_in_maintenance: bool,
}

impl Store {
    /// Creates a service on a live page of `org`, with its idempotency record when given.
    pub async fn create_service(
        &self,
        w: &Write<'_>,
        page: Uuid,
        new: NewService,
    ) -> Result<Outcome<Service>, StoreError> {
        let (org, actor, idem, now, now_epoch) = (w.org, &w.actor, w.idem, w.now.text(), w.now.epoch());
        let service = Service {
            id: new.id,
            page_id: page,
            name: new.name,
            monitor_url: new.monitor_url,
            current_status: new.current_status,
            display_order: new.display_order,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
        };
        let item = ServiceItem {
            pk: schema::org_pk(org),
            sk: schema::service_sk(service.id),
            gsi1pk: schema::services_gsi1pk(org, page),
            gsi1sk: schema::service_gsi1sk(service.display_order, service.id),
            entity: "service".into(),
            org_id: org,
            maintenance_holds: Vec::new(),
            restore_status: None,
            service,
        };
        let plan = self.plan_of(org).await?;
        let event = Event::new(EventType::ServiceCreated, Some(page), actor, now, data_of("service", &item.service));
        let mut tx = Tx::new();
        let service_quota =
            tx.push(self.take_page_quota(org, page, Quota::Services, Quota::Services.limit(plan.limits()))?);
        tx.push(self.put_new(to_item(&item)?)?);
        tx.push(self.event_put(org, event)?);
        let mut replay = None;
        if let Some(idem) = idem {
            replay = Some(tx.push(self.idempotency_put(
                org,
                idem,
                page,
                item.service.id,
                201,
                super::idempotency::data_body(&item.service),
                now_epoch,
            )?));
        }
        let mut monitor_quota = None;
        if let Some(url) = &item.service.monitor_url {
            let new = NewMonitor::linked(item.service.id, &item.service.name, url.clone());
            let linked = self.linked_monitor_writes(org, actor, new, page, false, now)?;
            tx.extend(linked.writes);
            monitor_quota = linked.quota.map(|q| tx.push(q));
        }
        match self.transact(tx).await {
            Ok(()) => Ok(Outcome::Created(item.service)),
            Err(TxError::Cancelled(reasons)) if replay.is_some_and(|r| failed_at(&reasons, r).is_some()) => {
                self.replay(org, idem.expect("checked"), now_epoch).await
            }
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, service_quota).is_some() => {
                Err(page_quota_failure(Quota::Services, plan, returned_item(&reasons, service_quota)))
            }
            Err(TxError::Cancelled(reasons)) if monitor_quota.is_some_and(|q| failed_at(&reasons, q).is_some()) => {
                Err(Quota::Monitors.exceeded(plan))
            }
            Err(e) => Err(e.into_error()),
        }
    }

    /// Reads a service of `org`.
    pub async fn get_service(&self, org: Uuid, id: Uuid) -> Result<Option<Service>, StoreError> {
        let out = self.get(&key(schema::org_pk(org), schema::service_sk(id)), true).await?;
        out.map(|i| from_item::<ServiceItem>(i).map(|i| i.service)).transpose()
    }

    /// Lists a page's services by display order, then creation. The page must exist.
    pub async fn list_services(
        &self,
        org: Uuid,
        page: Uuid,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing<Service>, StoreError> {
        self.get_page(org, page).await?.ok_or_else(|| StoreError::not_found("Page"))?;
        let gsi1pk = schema::services_gsi1pk(org, page);
        let start = cursor.map(|c| cursor::decode(c, schema::GSI1PK, &gsi1pk)).transpose()?;
        let query = self
            .client()
            .query()
            .index_name(schema::GSI1)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk >= :first")
            .expression_attribute_values(":pk", s(&gsi1pk))
            .expression_attribute_values(":first", s(schema::FIRST_ENTITY_SK));
        self.list(query, limit, start, |row: ServiceItem| row.service).await
    }

    /// Changes a service of `org`. A new `currentStatus` is recorded in its status history
    /// (with `source`) in the same transaction, conditioned on the status it replaces, so
    /// concurrent changes each record what they really replaced.
    pub async fn update_service(
        &self,
        w: &Write<'_>,
        id: Uuid,
        patch: ServicePatch,
        source: StatusSource,
    ) -> Result<Service, StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        for _ in 0..5 {
            let current = self.get_service(org, id).await?.ok_or_else(|| StoreError::not_found("Service"))?;
            if patch.unless_in_maintenance && current.current_status == ServiceStatus::Maintenance {
                // Held by a window: the verdict becomes what the service returns to when
                // the last window ends, so it comes out of maintenance as it really is.
                if let Some(status) = patch.current_status {
                    self.set_restore_status(org, id, status).await?;
                }
                return Ok(current);
            }
            let changed = patch.current_status.filter(|s| *s != current.current_status);
            let mut changes = Changes::default();
            changes.set("updatedAt", s(now));
            if let Some(name) = &patch.name {
                changes.set("name", s(name));
            }
            if let Some(url) = &patch.monitor_url {
                changes.set("monitorUrl", url.as_ref().map_or(AttributeValue::Null(true), s));
            }
            if let Some(status) = patch.current_status {
                changes.set("currentStatus", s(status.as_str()));
            }
            if changed.is_some() && source == StatusSource::Api {
                // Set by hand: maintenance windows ending later leave it as it is.
                changes.remove("maintenanceHolds").remove("restoreStatus");
            }
            if let Some(order) = patch.display_order {
                changes.set("displayOrder", n(order));
                changes.set(schema::GSI1SK, s(schema::service_gsi1sk(order, id)));
            }
            changes.value(":old", s(current.current_status.as_str()));
            let update = changes
                .apply_tx(
                    Update::builder()
                        .table_name(self.table())
                        .set_key(Some(key(schema::org_pk(org), schema::service_sk(id)))),
                )
                .condition_expression("attribute_exists(pk) AND currentStatus = :old")
                .build()
                .map_err(StoreError::internal)?;
            let updated = apply(current.clone(), &patch, now);
            let mut data = data_of("service", &updated);
            if let Some(to) = changed {
                data["oldStatus"] = serde_json::to_value(current.current_status).map_err(StoreError::internal)?;
                data["newStatus"] = serde_json::to_value(to).map_err(StoreError::internal)?;
            }
            let event = Event::new(EventType::ServiceUpdated, Some(current.page_id), actor, now, data);
            let mut tx = Tx::new();
            let service_update = tx.push(TransactWriteItem::builder().update(update).build());
            tx.push(self.event_put(org, event)?);
            // A new monitor URL gives it a linked monitor; removing the URL removes it.
            let mut linked = LinkedWrites::default();
            match &patch.monitor_url {
                Some(Some(url)) if current.monitor_url.as_deref() != Some(url.as_str()) => {
                    let replaces = current.monitor_url.is_some();
                    let new = NewMonitor::linked(id, &updated.name, url.clone());
                    linked = self.linked_monitor_writes(org, actor, new, updated.page_id, replaces, now)?;
                }
                Some(None) if current.monitor_url.is_some() => {
                    linked = self.linked_monitor_delete(org, actor, id, now).await?;
                }
                _ => {}
            }
            let mut page_live = None;
            if let Some(to) = changed {
                tx.push(self.status_change_put(org, &current, now, to, source)?);
                // No history written under a page whose delete has begun.
                page_live = Some(tx.push(self.page_is_live(org, current.page_id)?));
            }
            let removed = matches!(patch.monitor_url, Some(None)) && !linked.writes.is_empty();
            tx.extend(linked.writes);
            // Only a place taken can be refused; one given back goes with the rest.
            let monitor_quota = match linked.quota {
                Some(quota) if removed => {
                    tx.push(quota);
                    None
                }
                quota => quota.map(|q| tx.push(q)),
            };
            match self.transact(tx).await {
                Ok(()) => {
                    if removed {
                        self.delete_monitor_records(org, id).await?;
                    }
                    return Ok(updated);
                }
                // Deleted or changed since we read it: read again.
                Err(TxError::Cancelled(reasons)) if failed_at(&reasons, service_update).is_some() => continue,
                Err(TxError::Cancelled(reasons)) if monitor_quota.is_some_and(|q| failed_at(&reasons, q).is_some()) => {
                    return Err(Quota::Monitors.exceeded_on(monitor_quota.and_then(|q| returned_item(&reasons, q))));
                }
                Err(TxError::Cancelled(reasons)) if page_live.is_some_and(|p| failed_at(&reasons, p).is_some()) => {
                    return Err(StoreError::not_found("Service"));
                }
                Err(e) => return Err(e.into_error()),
            }
        }
        Err(StoreError::Unavailable("service kept changing during the update".into()))
    }

    /// Sets the status a service under maintenance windows returns to when the last of
    /// them ends. Nothing when no window holds it (under maintenance by hand, or no
    /// longer under maintenance).
    async fn set_restore_status(&self, org: Uuid, id: Uuid, status: ServiceStatus) -> Result<(), StoreError> {
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::service_sk(id))))
            .update_expression("SET restoreStatus = :status")
            .condition_expression("currentStatus = :maintenance AND attribute_exists(maintenanceHolds)")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":maintenance", s(ServiceStatus::Maintenance.as_str()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Deletes a service of `org` (with its `service.deleted` event) and then its status
    /// history.
    pub async fn delete_service(&self, w: &Write<'_>, id: Uuid) -> Result<(), StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        let current = self.get_service(org, id).await?.ok_or_else(|| StoreError::not_found("Service"))?;
        let delete = Delete::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::service_sk(id))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(StoreError::internal)?;
        let event =
            Event::new(EventType::ServiceDeleted, Some(current.page_id), actor, now, data_of("service", &current));
        let mut tx = Tx::new();
        let service_delete = tx.push(TransactWriteItem::builder().delete(delete).build());
        tx.push(self.event_put(org, event)?);
        tx.push(self.give_page_quota(org, current.page_id, Quota::Services)?);
        if current.monitor_url.is_some() {
            let linked = self.linked_monitor_delete(org, actor, id, now).await?;
            tx.extend(linked.writes.into_iter().chain(linked.quota));
        }
        match self.transact(tx).await {
            Ok(()) => {}
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, service_delete).is_some() => {
                return Err(StoreError::not_found("Service"));
            }
            Err(e) => return Err(e.into_error()),
        }
        // Left behind if this fails: history of a service nobody can see, which readers
        // ignore (they start from the services that exist) and a page delete removes.
        let history = self
            .client()
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .projection_expression("pk, sk")
            .expression_attribute_values(":pk", s(schema::org_pk(org)))
            .expression_attribute_values(":prefix", s(schema::status_changes_prefix(id)))
            .consistent_read(true);
        let history = self.query_all(history).await?;
        self.delete_keys(history).await?;
        if current.monitor_url.is_some() {
            self.delete_monitor_records(org, id).await?;
        }
        Ok(())
    }

    /// The put of a status history entry: `service` (as it was) changing to `to` at `now`.
    fn status_change_put(
        &self,
        org: Uuid,
        service: &Service,
        now: &str,
        to: ServiceStatus,
        source: StatusSource,
    ) -> Result<TransactWriteItem, StoreError> {
        let item = StatusChangeItem {
            pk: schema::org_pk(org),
            sk: schema::status_change_sk(service.id, now, Uuid::now_v7()),
            gsi1pk: schema::services_gsi1pk(org, service.page_id),
            gsi1sk: schema::status_change_gsi1sk(now, service.id),
            entity: "statusChange".into(),
            org_id: org,
            page_id: service.page_id,
            service_id: service.id,
            at: now.to_owned(),
            from: service.current_status,
            to,
            source,
        };
        self.put_new(to_item(&item)?)
    }

    /// A service with its maintenance hold, read consistently.
    pub(crate) async fn held_service(&self, org: Uuid, id: Uuid) -> Result<Option<HeldService>, StoreError> {
        let out = self.get(&key(schema::org_pk(org), schema::service_sk(id)), true).await?;
        Ok(out.map(from_item::<ServiceItem>).transpose()?.map(|i| HeldService {
            hold: Hold { status: i.service.current_status, windows: i.maintenance_holds, restore: i.restore_status },
            service: i.service,
        }))
    }

    /// The writes that move a service of `page` from its hold to `after`, conditioned on
    /// the hold read (and the page): its update and, when its status changes, the entry
    /// in its history and its `service.updated` event, both saying `maintenance`.
    /// Nothing when nothing changes.
    pub(crate) fn hold_writes(
        &self,
        org: Uuid,
        actor: &Actor,
        before: &HeldService,
        after: &Hold,
        now: &str,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        if *after == before.hold {
            return Ok(Vec::new());
        }
        let service = &before.service;
        let changed = after.status != before.hold.status;
        let mut changes = Changes::default();
        if changed {
            changes.set("currentStatus", s(after.status.as_str())).set("updatedAt", s(now));
        }
        if after.windows.is_empty() {
            changes.remove("maintenanceHolds");
        } else {
            changes.set(
                "maintenanceHolds",
                serde_dynamo::to_attribute_value(&after.windows).map_err(StoreError::internal)?,
            );
        }
        match after.restore {
            Some(status) => changes.set("restoreStatus", s(status.as_str())),
            None => changes.remove("restoreStatus"),
        };
        let mut condition = "attribute_exists(pk) AND pageId = :page AND currentStatus = :old".to_owned();
        changes.value(":page", s(service.page_id.to_string())).value(":old", s(before.hold.status.as_str()));
        if before.hold.windows.is_empty() {
            condition.push_str(" AND attribute_not_exists(maintenanceHolds)");
        } else {
            condition.push_str(" AND maintenanceHolds = :oldHolds");
            changes.value(
                ":oldHolds",
                serde_dynamo::to_attribute_value(&before.hold.windows).map_err(StoreError::internal)?,
            );
        }
        let update = changes
            .apply_tx(
                Update::builder()
                    .table_name(self.table())
                    .set_key(Some(key(schema::org_pk(org), schema::service_sk(service.id)))),
            )
            .condition_expression(condition)
            .build()
            .map_err(StoreError::internal)?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        if changed {
            items.push(self.status_change_put(org, service, now, after.status, StatusSource::Maintenance)?);
            let mut shown = service.clone();
            shown.current_status = after.status;
            shown.updated_at = now.to_owned();
            let mut data = data_of("service", &shown);
            data["oldStatus"] = serde_json::to_value(before.hold.status).map_err(StoreError::internal)?;
            data["newStatus"] = serde_json::to_value(after.status).map_err(StoreError::internal)?;
            data["source"] = serde_json::Value::from("maintenance");
            items.push(
                self.event_put(org, Event::new(EventType::ServiceUpdated, Some(service.page_id), actor, now, data))?,
            );
        }
        Ok(items)
    }

    /// A service's status changes at or after `since` (an API timestamp), oldest first.
    pub async fn service_status_changes(&self, org: Uuid, id: Uuid, since: &str) -> Result<Vec<Change>, StoreError> {
        let prefix = schema::status_changes_prefix(id);
        let query = self
            .client()
            .query()
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(schema::org_pk(org)))
            .expression_attribute_values(":from", s(format!("{prefix}{since}")))
            .expression_attribute_values(":to", s(format!("{prefix}~")));
        self.query_all(query).await?.into_iter().map(|i| from_item::<StatusChangeItem>(i)?.change()).collect()
    }

    /// A page's services in display order with their status changes since `since`, in one
    /// query of the page's services partition (more only past 1 MB of changes).
    pub async fn services_with_history(
        &self,
        org: Uuid,
        page: Uuid,
        since: &str,
    ) -> Result<ServicesWithHistory, StoreError> {
        let query = self
            .client()
            .query()
            .index_name(schema::GSI1)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk >= :since")
            .expression_attribute_values(":pk", s(schema::services_gsi1pk(org, page)))
            .expression_attribute_values(":since", s(format!("{}{since}", schema::STATUS_CHANGE_GSI1_PREFIX)));
        let mut out = ServicesWithHistory::default();
        for item in self.query_all(query).await? {
            match get_s(&item, "entity") {
                Some("service") => out.services.push(from_item::<ServiceItem>(item)?.service),
                Some("statusChange") => {
                    let change = from_item::<StatusChangeItem>(item)?;
                    out.changes.entry(change.service_id).or_default().push(change.change()?);
                }
                _ => {}
            }
        }
        // The index orders by time only to the millisecond; the key's id settles ties.
        for changes in out.changes.values_mut() {
            changes.sort_by_key(|c| c.at);
        }
        Ok(out)
    }
}

fn apply(mut service: Service, patch: &ServicePatch, now: &str) -> Service {
    if let Some(name) = &patch.name {
        service.name.clone_from(name);
    }
    if let Some(url) = &patch.monitor_url {
        service.monitor_url.clone_from(url);
    }
    if let Some(status) = patch.current_status {
        service.current_status = status;
    }
    if let Some(order) = patch.display_order {
        service.display_order = order;
    }
    service.updated_at = now.to_owned();
    service
}
