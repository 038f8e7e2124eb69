//! Maintenance windows and their updates. A window sorts in the org partition with its
//! updates after it (`MAINTENANCE#<id>#UPDATE#<v7>`), so one query reads it whole; a
//! page's windows are listed soonest first through GSI1 (`<scheduledFor>#<id>`), where
//! their updates sort first (`!U#…`) so the public page reads everything in one query.
//! Every write replaces the window's item conditioned on its `sequence`, which it
//! increments: an optimistic lock between the API and the scheduler, and the calendar's
//! `SEQUENCE`. Starting and ending a window moves its services' status and maintenance
//! hold ([`Hold`]) in the same transaction.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::StoreError;
use super::events::{Actor, Event, EventType};
use super::idempotency::Outcome;
use super::listing::Listing;
use super::services::{HeldService, Hold};
use super::write::Write;
use super::{Store, Tx, TxError, cursor, failed_at, from_item, get_s, key, s, schema, to_item};
use crate::domain::MaintenanceStatus;
pub use crate::domain::maintenance::{
    CANCELLED_TEXT, COMPLETED_TEXT, MAX_LENGTH, MAX_REMIND_MINUTES, MAX_SERVICES, Maintenance, MaintenancePatch,
    MaintenanceUpdate, NewMaintenance, NewMaintenanceUpdate, STARTED_TEXT,
};
use crate::domain::maintenance::{Change, Happened, Window, check_times, new_update, plan, remind_at, stamp};

/// Windows one tick takes.
pub const TICK_LIMIT: u32 = 500;

/// A window with its revision, as the public calendar needs it.
#[derive(Clone, Debug)]
pub struct MaintenanceRecord {
    /// The window, with its updates.
    pub maintenance: Maintenance,
    /// Its revision: 0 when created, one more at every change.
    pub sequence: u32,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MaintenanceItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    entity: String,
    org_id: Uuid,
    sequence: u32,
    /// When the reminder is due; absent when none is (sent, not asked for, or too late).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remind_at: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    idempotency_keys: Vec<String>,
    #[serde(flatten)]
    maintenance: Maintenance,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    entity: String,
    page_id: Uuid,
    maintenance_id: Uuid,
    #[serde(flatten)]
    update: MaintenanceUpdate,
}

/// The next time the scheduler has something to do for a window, if ever.
fn next_due(item: &MaintenanceItem) -> Option<String> {
    let m = &item.maintenance;
    match m.status {
        MaintenanceStatus::Scheduled => {
            let start = m.auto_start.then(|| m.scheduled_for.clone());
            [item.remind_at.clone(), start].into_iter().flatten().min()
        }
        MaintenanceStatus::InProgress | MaintenanceStatus::Verifying => {
            m.auto_complete.then(|| m.scheduled_until.clone())
        }
        MaintenanceStatus::Completed | MaintenanceStatus::Cancelled => None,
    }
}

/// Sets the due index keys of an item from its state.
fn index(mut item: MaintenanceItem, org: Uuid) -> MaintenanceItem {
    let due = next_due(&item);
    item.gsi2pk = due.as_ref().map(|_| schema::MAINTENANCE_DUE_GSI2PK.to_owned());
    item.gsi2sk = due.map(|at| schema::due_gsi2sk(&at, org, item.maintenance.id));
    item.gsi1sk = format!("{}#{}", item.maintenance.scheduled_for, item.maintenance.id);
    item
}

/// The event of what a change did.
fn event_type(happened: Happened) -> EventType {
    match happened {
        Happened::Updated => EventType::MaintenanceUpdated,
        Happened::Started => EventType::MaintenanceStarted,
        Happened::Completed => EventType::MaintenanceCompleted,
        Happened::Reminder => EventType::MaintenanceReminder,
    }
}

/// The answer of a change through the API.
enum Answer {
    Maintenance(Maintenance),
    Update(Outcome<MaintenanceUpdate>),
    Nothing,
}

impl Store {
    /// Schedules a window on a live page: the window, its first update, the checks that
    /// its services are on the page, its `maintenance.scheduled` event and the
    /// idempotency record, in one transaction.
    pub async fn create_maintenance(
        &self,
        w: &Write<'_>,
        page: Uuid,
        new: NewMaintenance,
    ) -> Result<Outcome<Maintenance>, StoreError> {
        let (org, actor, idem, now, now_epoch) = (w.org, &w.actor, w.idem, w.now.at(), w.now.epoch());
        check_times(new.scheduled_for, new.scheduled_until, now)?;
        let now_s = stamp(now);
        let first = new_update(new.body, MaintenanceStatus::Scheduled, &now_s);
        let maintenance = Maintenance {
            id: new.id,
            page_id: page,
            title: new.title,
            status: MaintenanceStatus::Scheduled,
            scheduled_for: stamp(new.scheduled_for),
            scheduled_until: stamp(new.scheduled_until),
            service_ids: new.service_ids,
            auto_start: new.auto_start,
            auto_complete: new.auto_complete,
            notify_subscribers: new.notify_subscribers,
            remind_before_minutes: new.remind_before_minutes,
            created_at: now_s.clone(),
            updated_at: now_s.clone(),
            started_at: None,
            completed_at: None,
            updates: None,
        };
        let item = index(
            MaintenanceItem {
                pk: schema::org_pk(org),
                sk: schema::maintenance_sk(new.id),
                gsi1pk: schema::maintenances_gsi1pk(org, page),
                gsi1sk: String::new(),
                gsi2pk: None,
                gsi2sk: None,
                entity: "maintenance".into(),
                org_id: org,
                sequence: 0,
                remind_at: remind_at(&maintenance, now),
                idempotency_keys: idem.map(|i| vec![i.record_sk()]).unwrap_or_default(),
                maintenance,
            },
            org,
        );
        let mut tx = Tx::new();
        let page_live = tx.push(self.page_is_live(org, page)?);
        tx.push(self.put_new(to_item(&item)?)?);
        tx.push(self.put_new(to_item(&update_item(org, page, new.id, first.clone()))?)?);
        let services = item.maintenance.service_ids.clone();
        let on_page =
            tx.extend(services.iter().map(|s| self.service_check(org, page, *s)).collect::<Result<Vec<_>, _>>()?);
        let mut shown = item.maintenance;
        tx.push(self.event_put(org, event(EventType::MaintenanceScheduled, &shown, Some(&first), actor, &now_s)?)?);
        shown.updates = Some(vec![first]);
        let mut replay = None;
        if let Some(idem) = idem {
            replay = Some(tx.push(self.idempotency_put(
                org,
                idem,
                page,
                new.id,
                201,
                super::idempotency::data_body(&shown),
                now_epoch,
            )?));
        }
        match self.transact(tx).await {
            Ok(()) => Ok(Outcome::Created(shown)),
            Err(TxError::Cancelled(reasons)) => {
                if failed_at(&reasons, page_live).is_some() {
                    return Err(StoreError::not_found("Page"));
                }
                if let Some(i) = on_page.first_failed(&reasons) {
                    return Err(not_on_page(services[i]));
                }
                match (idem, replay) {
                    (Some(idem), Some(r)) if failed_at(&reasons, r).is_some() => {
                        self.replay(org, idem, now_epoch).await
                    }
                    _ => Err(TxError::Cancelled(reasons).into_error()),
                }
            }
            Err(e) => Err(e.into_error()),
        }
    }

    /// Reads a window of `org` with its updates, oldest first.
    pub async fn get_maintenance(&self, org: Uuid, id: Uuid) -> Result<Option<Maintenance>, StoreError> {
        Ok(self.read_maintenance(org, id).await?.map(|(item, updates)| {
            let mut m = item.maintenance;
            m.updates = Some(updates);
            m
        }))
    }

    async fn read_maintenance(
        &self,
        org: Uuid,
        id: Uuid,
    ) -> Result<Option<(MaintenanceItem, Vec<MaintenanceUpdate>)>, StoreError> {
        let query = self
            .client()
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(schema::org_pk(org)))
            .expression_attribute_values(":prefix", s(schema::maintenance_sk(id)))
            .consistent_read(true);
        let mut items = self.query_all(query).await?.into_iter();
        let Some(head) = items.next().filter(|i| get_s(i, schema::SK) == Some(schema::maintenance_sk(id).as_str()))
        else {
            return Ok(None);
        };
        let head = from_item::<MaintenanceItem>(head)?;
        let updates = items.map(|i| from_item::<UpdateItem>(i).map(|u| u.update)).collect::<Result<_, _>>()?;
        Ok(Some((head, updates)))
    }

    /// Lists a page's windows soonest first (without updates), of one status when given.
    /// The page must exist.
    pub async fn list_maintenances(
        &self,
        org: Uuid,
        page: Uuid,
        status: Option<MaintenanceStatus>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing<Maintenance>, StoreError> {
        self.get_page(org, page).await?.ok_or_else(|| StoreError::not_found("Page"))?;
        let pk = schema::maintenances_gsi1pk(org, page);
        let start = cursor.map(|c| cursor::decode(c, schema::GSI1PK, &pk)).transpose()?;
        let mut query = self
            .client()
            .query()
            .index_name(schema::GSI1)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk >= :first")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":first", s(schema::FIRST_ENTITY_SK));
        if let Some(status) = status {
            query = query
                .filter_expression("#status = :status")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status.as_str()));
        }
        self.list(query, limit, start, |row: MaintenanceItem| row.maintenance).await
    }

    /// Every window of a page with its updates, soonest first: one query of the page's
    /// GSI1 partition (more only past 1 MB).
    pub async fn page_maintenances(&self, org: Uuid, page: Uuid) -> Result<Vec<MaintenanceRecord>, StoreError> {
        let query = self
            .client()
            .query()
            .index_name(schema::GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(schema::maintenances_gsi1pk(org, page)));
        let mut updates: HashMap<Uuid, Vec<MaintenanceUpdate>> = HashMap::new();
        let mut out = Vec::new();
        for item in self.query_all(query).await? {
            match get_s(&item, "entity") {
                Some("maintenance") => {
                    let item = from_item::<MaintenanceItem>(item)?;
                    out.push(MaintenanceRecord { maintenance: item.maintenance, sequence: item.sequence });
                }
                Some("maintenanceUpdate") => {
                    let item = from_item::<UpdateItem>(item)?;
                    updates.entry(item.maintenance_id).or_default().push(item.update);
                }
                _ => {}
            }
        }
        for record in &mut out {
            let mut mine = updates.remove(&record.maintenance.id).unwrap_or_default();
            mine.sort_by_key(|u| u.id);
            record.maintenance.updates = Some(mine);
        }
        Ok(out)
    }

    /// Changes a window's title, times, services, automation or reminder. Services added
    /// to or removed from a window in progress go under or come out of maintenance.
    pub async fn update_maintenance(
        &self,
        w: &Write<'_>,
        id: Uuid,
        patch: MaintenancePatch,
    ) -> Result<Maintenance, StoreError> {
        match self.change(w, id, Change::Patch(patch)).await? {
            Answer::Maintenance(m) => Ok(m),
            _ => Err(StoreError::internal("a patch answers with the maintenance")),
        }
    }

    /// Appends an update, moving the window to `in_progress`, `verifying` or `completed`
    /// when asked (and its services with it).
    pub async fn add_maintenance_update(
        &self,
        w: &Write<'_>,
        id: Uuid,
        new: NewMaintenanceUpdate,
    ) -> Result<Outcome<MaintenanceUpdate>, StoreError> {
        match self.change(w, id, Change::Update(new)).await? {
            Answer::Update(outcome) => Ok(outcome),
            _ => Err(StoreError::internal("an update answers with the update")),
        }
    }

    /// Cancels a window not yet completed; one in progress gives its services back. A
    /// cancelled window stays listed; cancelling it again changes nothing.
    pub async fn cancel_maintenance(&self, w: &Write<'_>, id: Uuid) -> Result<(), StoreError> {
        self.change(w, id, Change::Cancel).await.map(|_| ())
    }

    /// The scheduler's work for one window at `now`: its reminder, start or completion,
    /// as many as are due. Returns how many transitions it made.
    pub async fn advance_maintenance(&self, org: Uuid, id: Uuid, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut made = 0;
        // A window whose start was missed by more than its length starts and completes
        // in one visit; three steps cover reminder, start and completion.
        for _ in 0..3 {
            match self.change(&Write::new(org, Actor::schedule(), now), id, Change::Due).await {
                Ok(Answer::Nothing) | Err(StoreError::NotFound(_)) => break,
                Ok(_) => made += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(made)
    }

    /// The scheduler's tick for maintenance: every window with a transition due at `now`,
    /// a few at a time. Returns how many transitions were made; a window that fails stays
    /// due for the next tick.
    pub async fn run_due_maintenances(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        use futures::StreamExt;
        let due = self.due_maintenances(now).await?;
        let results: Vec<Result<usize, StoreError>> = futures::stream::iter(due)
            .map(|(org, id)| self.advance_maintenance(org, id, now))
            .buffer_unordered(8)
            .collect()
            .await;
        let mut made = 0;
        let mut first_error = None;
        for result in results {
            match result {
                Ok(n) => made += n,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if made == 0 => Err(e),
            Some(e) => {
                tracing::warn!(error = %e, "some maintenance transitions failed; they stay due");
                Ok(made)
            }
            None => Ok(made),
        }
    }

    /// The windows with a transition due at `now` (org, id), earliest first.
    pub async fn due_maintenances(&self, now: DateTime<Utc>) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        // Every key due at `now` inclusive sorts before `now` + "$" ('#' < '$').
        let query = self
            .client()
            .query()
            .index_name(schema::GSI2)
            .key_condition_expression("gsi2pk = :pk AND gsi2sk < :upto")
            .expression_attribute_values(":pk", s(schema::MAINTENANCE_DUE_GSI2PK))
            .expression_attribute_values(":upto", s(format!("{}$", stamp(now))))
            .projection_expression("orgId, id");
        let (items, _) = self.query_up_to(query, TICK_LIMIT, None).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let id = |name| get_s(item, name).and_then(|v| Uuid::parse_str(v).ok());
                Some((id("orgId")?, id("id")?))
            })
            .collect())
    }

    /// Reads a window, plans `change`, and writes the window, its update, its services'
    /// holds and the events in one transaction conditioned on what was read; read again
    /// and replanned when something changed in between.
    async fn change(&self, w: &Write<'_>, id: Uuid, change: Change) -> Result<Answer, StoreError> {
        let (org, actor, idem, now, now_epoch) = (w.org, &w.actor, w.idem, w.now.at(), w.now.epoch());
        let now_s = stamp(now);
        for _ in 0..5 {
            let (before, mut updates) =
                self.read_maintenance(org, id).await?.ok_or_else(|| StoreError::not_found("Maintenance"))?;
            let window = Window { maintenance: before.maintenance.clone(), remind_at: before.remind_at.clone() };
            let Some(plan) = plan(&window, &change, now)? else { return Ok(Answer::Nothing) };
            let mut after = before.clone();
            after.sequence += 1;
            after.maintenance = plan.after.maintenance;
            after.remind_at = plan.after.remind_at;
            if let Some(idem) = idem {
                after.idempotency_keys.push(idem.record_sk());
            }
            let page = before.maintenance.page_id;
            let after = index(after, org);
            let mut tx = Tx::new();
            let window_put = tx.push(self.put_if_sequence(to_item(&after)?, u64::from(before.sequence))?);
            if let Some(update) = &plan.update {
                tx.push(self.put_new(to_item(&update_item(org, page, id, update.clone()))?)?);
            }
            // Services named by a patch must be of the page; those whose hold changes
            // are checked by their own write's condition.
            let moving: Vec<Uuid> = plan.hold.iter().chain(&plan.release).copied().collect();
            let named = match &change {
                Change::Patch(p) => p.service_ids.clone().unwrap_or_default(),
                _ => Vec::new(),
            };
            let checked: Vec<Uuid> = named.iter().filter(|s| !moving.contains(s)).copied().collect();
            let on_page =
                tx.extend(checked.iter().map(|s| self.service_check(org, page, *s)).collect::<Result<Vec<_>, _>>()?);
            let held = futures::future::try_join_all(moving.iter().map(|s| self.held_service(org, *s))).await?;
            let mut hold_ranges = Vec::new();
            let mut changed_services = Vec::new();
            for (service, read) in moving.iter().zip(held) {
                let Some(read) = read.filter(|r| r.service.page_id == page) else {
                    if named.contains(service) {
                        return Err(not_on_page(*service));
                    }
                    // Deleted since the window named it: nothing to hold or give back.
                    continue;
                };
                let next = if plan.hold.contains(service) { read.hold.hold(id) } else { read.hold.release(id) };
                let writes = self.hold_writes(org, actor, &read, &next, &now_s)?;
                if next.status != read.hold.status {
                    changed_services.push(service_change(&read, &next));
                }
                hold_ranges.push(tx.extend(writes));
            }
            let mut shown = after.maintenance.clone();
            let mut data = event_data(&shown, plan.update.as_ref())?;
            data["notifySubscribers"] = serde_json::Value::Bool(shown.notify_subscribers && plan.visible);
            if !changed_services.is_empty() {
                data["services"] = serde_json::Value::Array(changed_services);
            }
            tx.push(self.event_put(org, Event::new(event_type(plan.happened), Some(page), actor, &now_s, data))?);
            let mut replay = None;
            if let (Some(idem), Some(update)) = (idem, &plan.update) {
                let body = super::idempotency::data_body(update);
                replay = Some(tx.push(self.idempotency_put(org, idem, page, id, 201, body, now_epoch)?));
            }
            match self.transact(tx).await {
                Ok(()) => {}
                // The window or one of its services changed since it was read: again.
                Err(TxError::Cancelled(reasons))
                    if failed_at(&reasons, window_put).is_some()
                        || hold_ranges.iter().any(|holds| holds.first_failed(&reasons).is_some()) =>
                {
                    continue;
                }
                Err(TxError::Cancelled(reasons)) => {
                    if let Some(i) = on_page.first_failed(&reasons) {
                        return Err(not_on_page(checked[i]));
                    }
                    return match (idem, replay) {
                        (Some(idem), Some(r)) if failed_at(&reasons, r).is_some() => {
                            self.replay(org, idem, now_epoch).await.map(Answer::Update)
                        }
                        _ => Err(TxError::Cancelled(reasons).into_error()),
                    };
                }
                Err(e) => return Err(e.into_error()),
            }
            return Ok(match change {
                Change::Patch(_) => {
                    if let Some(update) = plan.update {
                        updates.push(update);
                    }
                    shown.updates = Some(updates);
                    Answer::Maintenance(shown)
                }
                Change::Update(_) => match plan.update {
                    Some(update) => Answer::Update(Outcome::Created(update)),
                    None => Answer::Nothing,
                },
                Change::Cancel | Change::Due => Answer::Maintenance(shown),
            });
        }
        Err(StoreError::Unavailable("maintenance kept changing during the update".into()))
    }

    /// A condition that a service exists in `org` and is on `page`.
    fn service_check(&self, org: Uuid, page: Uuid, service: Uuid) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::service_sk(service))))
            .condition_expression("attribute_exists(pk) AND pageId = :page")
            .expression_attribute_values(":page", s(page.to_string()))
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

/// `{id, name, oldStatus, newStatus}` of a service a transition moves.
fn service_change(read: &HeldService, next: &Hold) -> serde_json::Value {
    serde_json::json!({
        "id": read.service.id,
        "name": read.service.name,
        "oldStatus": read.hold.status,
        "newStatus": next.status,
    })
}

/// An event's data: the window (without updates), the update, and whether subscribers
/// hear of it.
fn event_data(m: &Maintenance, update: Option<&MaintenanceUpdate>) -> Result<serde_json::Value, StoreError> {
    let mut shown = m.clone();
    shown.updates = None;
    let mut data = serde_json::json!({
        "maintenance": shown,
        "notifySubscribers": m.notify_subscribers,
    });
    if let Some(update) = update {
        data["update"] = serde_json::to_value(update).map_err(StoreError::internal)?;
    }
    Ok(data)
}

fn event(
    kind: EventType,
    m: &Maintenance,
    update: Option<&MaintenanceUpdate>,
    actor: &Actor,
    now: &str,
) -> Result<Event, StoreError> {
    Ok(Event::new(kind, Some(m.page_id), actor, now, event_data(m, update)?))
}

fn update_item(org: Uuid, page: Uuid, maintenance: Uuid, update: MaintenanceUpdate) -> UpdateItem {
    UpdateItem {
        pk: schema::org_pk(org),
        sk: schema::maintenance_update_sk(maintenance, update.id),
        gsi1pk: schema::maintenances_gsi1pk(org, page),
        gsi1sk: schema::update_gsi1sk(maintenance, update.id),
        entity: "maintenanceUpdate".into(),
        page_id: page,
        maintenance_id: maintenance,
        update,
    }
}

fn not_on_page(service: Uuid) -> StoreError {
    StoreError::invalid_field("serviceIds", format_args!("{service} is not a service of this page"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ServiceStatus::{Degraded, Maintenance as UnderMaintenance, Outage};
    use chrono::Duration;

    #[test]
    fn overlapping_windows_hold_a_service_until_the_last_ends_then_restore_the_first_status() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let start = Hold { status: Degraded, windows: vec![], restore: None };
        let held = start.hold(a).hold(b);
        assert_eq!((held.status, held.restore), (UnderMaintenance, Some(Degraded)));
        let one_left = held.release(a);
        assert_eq!(one_left.status, UnderMaintenance);
        assert_eq!(one_left.release(b), Hold { status: Degraded, windows: vec![], restore: None });
    }

    #[test]
    fn a_service_set_by_hand_during_a_window_is_left_as_it_is() {
        let a = Uuid::now_v7();
        // A hand change clears the hold (services.rs): what the window then finds.
        let by_hand = Hold { status: Outage, windows: vec![], restore: None };
        assert_eq!(by_hand.release(a), by_hand);
    }

    #[test]
    fn the_next_due_time_is_the_reminder_then_the_start_then_the_end() {
        let now = Utc::now();
        let m = Maintenance {
            id: Uuid::now_v7(),
            page_id: Uuid::now_v7(),
            title: "t".into(),
            status: MaintenanceStatus::Scheduled,
            scheduled_for: stamp(now + Duration::hours(2)),
            scheduled_until: stamp(now + Duration::hours(3)),
            service_ids: vec![],
            auto_start: true,
            auto_complete: true,
            notify_subscribers: true,
            remind_before_minutes: Some(60),
            created_at: stamp(now),
            updated_at: stamp(now),
            started_at: None,
            completed_at: None,
            updates: None,
        };
        let mut item = MaintenanceItem {
            pk: String::new(),
            sk: String::new(),
            gsi1pk: String::new(),
            gsi1sk: String::new(),
            gsi2pk: None,
            gsi2sk: None,
            entity: "maintenance".into(),
            org_id: Uuid::nil(),
            sequence: 0,
            remind_at: remind_at(&m, now),
            idempotency_keys: vec![],
            maintenance: m,
        };
        assert_eq!(next_due(&item), Some(stamp(now + Duration::hours(1))));
        item.remind_at = None;
        assert_eq!(next_due(&item).as_deref(), Some(item.maintenance.scheduled_for.as_str()));
        item.maintenance.auto_start = false;
        assert_eq!(next_due(&item), None);
        item.maintenance.status = MaintenanceStatus::Verifying;
        assert_eq!(next_due(&item).as_deref(), Some(item.maintenance.scheduled_until.as_str()));
        // Too late for a reminder: none.
        item.maintenance.status = MaintenanceStatus::Scheduled;
        assert_eq!(remind_at(&item.maintenance, now + Duration::minutes(90)), None);
    }
}
