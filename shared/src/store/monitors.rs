//! Monitors, their recent checks and their daily rollups. A monitor sits in the org
//! partition (`MONITOR#<id>`), listed through GSI1 (`ORG#<org>#MONITORS`); while not
//! paused it sits in the due index (GSI2, see [`schema`]): by interval, bucket and shard,
//! so a tick reads only the monitors due in its 30-second windows, whole, and a check
//! costs no read of its own. No key changes from check to check. A check writes its
//! record (`MONITOR#<id>#CHECK#<at>`, 7-day TTL, batched), the monitor only when its runs
//! or status change, and its last check and day counters into one of its organization's
//! state items (`ORG#<org>` / `MONITORSTATE#<group>`: bounded by the plan's monitors, and
//! no tenant's checks write another's); a day that ended becomes a rollup item
//! (`MONITOR#<id>#DAY#<date>`). Nothing is kept per check for longer than a week.
//!
//! A service's linked monitor has the service's id, so creating, changing and removing
//! it goes with the service's own writes.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::StoreError;
use super::events::{Actor, Event, EventType, data_of};
use super::idempotency::Outcome;
use super::listing::Listing;
use super::quotas::{Quota, returned_item};
use super::schema::{self, check_sk, day_sk, monitor_sk, monitors_gsi1pk};
use super::write::Write;
use super::{Item, Store, Tx, TxError, cursor, failed_at, from_item, key, n, s, sdk_error, to_item};
pub use crate::domain::monitor::{Check, DayCounters, LINKED_FOLLOWS_SERVICE, Monitor, MonitorPatch, NewMonitor};
use crate::domain::monitor::{MonitorStatus, Runs, tally};

/// How long check records are kept.
pub const CHECK_RETENTION_SECS: i64 = 7 * 24 * 60 * 60;
pub use schema::MONITOR_STATE_GROUPS as STATE_GROUPS;
/// Monitors' entries set by one update of a state item: a group of the largest plan
/// (about 31) in one, within the 4 KB an update expression may take (with forty removals).
const STATE_ENTRIES_PER_UPDATE: usize = 64;
/// Windows a tick catches up on after the scheduler missed some (two minutes); monitors
/// due in older windows wait for their next slot.
pub const MAX_CATCH_UP_WINDOWS: i64 = 4;

/// The stored monitor: the API's fields and the scheduler's state.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MonitorItem {
    pub(crate) pk: String,
    pub(crate) sk: String,
    pub(crate) gsi1pk: String,
    pub(crate) gsi1sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) gsi2sk: Option<String>,
    pub(crate) entity: String,
    pub(crate) org_id: Uuid,
    /// Revision: every write increments it and is conditioned on it.
    pub(crate) sequence: u64,
    /// Failures and successes in a row.
    #[serde(default)]
    pub(crate) runs: Runs,
    /// When its recent automatic incidents opened (epoch seconds, the last hour's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) auto_incidents: Vec<i64>,
    /// Its open automatic incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) open_incident: Option<Uuid>,
    #[serde(flatten)]
    pub(crate) monitor: Monitor,
}

/// The due-index shard of a monitor.
fn due_shard(id: Uuid) -> u8 {
    id.as_bytes()[15] % schema::MONITOR_DUE_SHARDS
}

/// The group of an organization's monitor state a monitor's entries sit in.
pub fn state_group(id: Uuid) -> u8 {
    id.as_bytes()[14] % STATE_GROUPS
}

/// The group a monitor's entries sat in before there were [`STATE_GROUPS`]: always
/// `state_group(id) % 4`, so each legacy item's monitors are those of eight groups now.
fn legacy_state_group(id: Uuid) -> u8 {
    id.as_bytes()[14] % schema::LEGACY_MONITOR_STATE_GROUPS
}

/// The window of the due index `at` falls in.
pub fn window_of(at: i64) -> i64 {
    at.div_euclid(schema::MONITOR_WINDOW_SECS)
}

/// A monitor's bucket: it is due in the windows whose number is this modulo
/// `interval / 30` (spread by its id).
fn bucket(id: Uuid, interval_seconds: u32) -> u32 {
    let windows = windows_per_interval(interval_seconds);
    u32::try_from(id.as_u128() % u128::from(windows)).unwrap_or(0)
}

fn windows_per_interval(interval_seconds: u32) -> u32 {
    (interval_seconds / schema::MONITOR_WINDOW_SECS as u32).max(1)
}

/// The GSI2 partitions of the monitors due in window `window`: for each interval, the
/// bucket due then, in each shard.
pub(crate) fn due_partitions(window: i64) -> impl Iterator<Item = (u32, String)> {
    crate::domain::monitor::INTERVALS.into_iter().flat_map(move |interval| {
        let windows = i64::from(windows_per_interval(interval));
        let bucket = u32::try_from(window.rem_euclid(windows)).unwrap_or(0);
        (0..schema::MONITOR_DUE_SHARDS)
            .map(move |shard| (interval, schema::monitor_due_gsi2pk(interval, bucket, shard)))
    })
}

/// Sets an item's index keys: while not paused, in the due index, under `NEW` until its
/// first check (after which its runs are written) and then in its bucket. The keys do not
/// change from check to check.
pub(crate) fn schedule(mut item: MonitorItem, org: Uuid) -> MonitorItem {
    let m = &item.monitor;
    if m.paused {
        item.gsi2pk = None;
        item.gsi2sk = None;
    } else {
        let pk = if item.runs == Runs::default() {
            schema::monitor_new_gsi2pk(due_shard(m.id))
        } else {
            schema::monitor_due_gsi2pk(m.interval_seconds, bucket(m.id, m.interval_seconds), due_shard(m.id))
        };
        item.gsi2sk = Some(schema::monitor_due_gsi2sk(org, m.id));
        item.gsi2pk = Some(pk);
    }
    item
}

/// An organization's monitors' last checks and counters of the day, in
/// [`STATE_GROUPS`] items of its own partition (so a check writes nothing of its own but
/// its record, and a batch of checks, which takes whole groups, one update per item).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorState {
    /// Each monitor's last check.
    #[serde(default)]
    pub last: std::collections::HashMap<Uuid, LastCheck>,
    /// Each monitor's counters of the day.
    #[serde(default)]
    pub day: std::collections::HashMap<Uuid, DayCounters>,
    /// Whether the item exists (an update of an entry needs its maps there).
    #[serde(skip)]
    pub(crate) stored: bool,
}

/// A monitor's last check, as its organization's state keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastCheck {
    /// When.
    pub at: String,
    /// Its latency.
    pub latency_ms: u64,
}

/// The stored item of a new monitor, checked first at `now`.
pub(crate) fn new_item(org: Uuid, new: NewMonitor, page: Option<Uuid>, now: &str) -> MonitorItem {
    let monitor = Monitor {
        id: new.id,
        name: new.name,
        url: new.url,
        service_id: new.service_id,
        page_id: page,
        method: new.method,
        interval_seconds: new.interval_seconds,
        timeout_seconds: new.timeout_seconds,
        expected_status: new.expected_status,
        keyword: new.keyword,
        degraded_after_ms: new.degraded_after_ms,
        failure_threshold: new.failure_threshold,
        success_threshold: new.success_threshold,
        paused: new.paused,
        status: if new.paused { MonitorStatus::Paused } else { MonitorStatus::Pending },
        last_checked_at: None,
        last_latency_ms: None,
        since: now.to_owned(),
        created_at: now.to_owned(),
        updated_at: now.to_owned(),
    };
    let item = MonitorItem {
        pk: super::schema::org_pk(org),
        sk: monitor_sk(monitor.id),
        gsi1pk: monitors_gsi1pk(org),
        gsi1sk: monitor.id.to_string(),
        gsi2pk: None,
        gsi2sk: None,
        entity: "monitor".into(),
        org_id: org,
        sequence: 0,
        runs: Runs::default(),
        auto_incidents: Vec::new(),
        open_incident: None,
        monitor,
    };
    schedule(item, org)
}

impl Store {
    /// Creates a monitor, checked at once by the next tick. With a service, the service
    /// must be the organization's (its page is recorded for `?pageId=`).
    pub async fn create_monitor(&self, w: &Write<'_>, new: NewMonitor) -> Result<Outcome<Monitor>, StoreError> {
        let (org, actor, idem, now, now_epoch) = (w.org, &w.actor, w.idem, w.now.text(), w.now.epoch());
        let page = match new.service_id {
            Some(service) => Some(
                self.get_service(org, service)
                    .await?
                    .ok_or_else(|| StoreError::invalid_field("serviceId", "is not a service of this organization"))?
                    .page_id,
            ),
            None => None,
        };
        let item = new_item(org, new, page, now);
        let monitor = item.monitor.clone();
        let event = Event::new(EventType::MonitorCreated, page, actor, now, data_of("monitor", &monitor));
        let mut tx = Tx::new();
        tx.push(self.put_new(to_item(&item)?)?);
        tx.push(self.event_put(org, event)?);
        let quota = tx.push(self.take_org_quota(org, Quota::Monitors)?);
        let service = match monitor.service_id {
            Some(service) => Some(tx.push(self.service_exists(org, service)?)),
            None => None,
        };
        let mut replay = None;
        if let Some(idem) = idem {
            let owner_page = page.unwrap_or(Uuid::nil());
            replay = Some(tx.push(self.idempotency_put(
                org,
                idem,
                owner_page,
                monitor.id,
                201,
                super::idempotency::data_body(&monitor),
                now_epoch,
            )?));
        }
        match self.transact(tx).await {
            Ok(()) => Ok(Outcome::Created(monitor)),
            Err(TxError::Cancelled(reasons)) if service.is_some_and(|s| failed_at(&reasons, s).is_some()) => {
                Err(StoreError::invalid_field("serviceId", "is not a service of this organization"))
            }
            // The key's record exists: a retry (checked first: the retry may also be over the limit).
            Err(TxError::Cancelled(reasons)) if replay.is_some_and(|r| failed_at(&reasons, r).is_some()) => {
                self.replay(org, idem.expect("checked"), now_epoch).await
            }
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, quota).is_some() => {
                Err(Quota::Monitors.exceeded_on(returned_item(&reasons, quota)))
            }
            Err(e) => Err(e.into_error()),
        }
    }

    /// Reads a monitor of `org`, with its last check from its organization's state.
    pub async fn get_monitor(&self, org: Uuid, id: Uuid) -> Result<Option<Monitor>, StoreError> {
        let Some(item) = self.monitor_item(org, id).await? else { return Ok(None) };
        let mut monitors = vec![item.monitor];
        self.overlay_last_checks(org, &mut monitors).await?;
        Ok(monitors.pop())
    }

    /// Sets each monitor's `lastCheckedAt` and `lastLatencyMs` from its organization's
    /// state (where steady checks record them), one read per state item involved.
    async fn overlay_last_checks(&self, org: Uuid, monitors: &mut [Monitor]) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = monitors.iter().map(|m| m.id).collect();
        let states = self.monitor_states(org, &ids).await?;
        for m in monitors.iter_mut() {
            if let Some(last) = states[&state_group(m.id)].last.get(&m.id) {
                if m.last_checked_at.as_deref().is_none_or(|at| at < last.at.as_str()) {
                    m.last_checked_at = Some(last.at.clone());
                    m.last_latency_ms = Some(last.latency_ms);
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn monitor_item(&self, org: Uuid, id: Uuid) -> Result<Option<MonitorItem>, StoreError> {
        let out = self.get(&key(schema::org_pk(org), monitor_sk(id)), true).await?;
        out.map(from_item::<MonitorItem>).transpose()
    }

    /// The organization's monitors, oldest first, of one status or page when given.
    pub async fn list_monitors(
        &self,
        org: Uuid,
        status: Option<MonitorStatus>,
        page: Option<Uuid>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing<Monitor>, StoreError> {
        let pk = monitors_gsi1pk(org);
        let start = cursor.map(|c| cursor::decode(c, schema::GSI1PK, &pk)).transpose()?;
        let mut query = self
            .client()
            .query()
            .index_name(schema::GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(&pk));
        let mut conditions = Vec::new();
        if let Some(status) = status {
            conditions.push("#status = :status");
            query = query
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status.as_str()));
        }
        if let Some(page) = page {
            conditions.push("pageId = :page");
            query = query.expression_attribute_values(":page", s(page.to_string()));
        }
        if !conditions.is_empty() {
            query = query.filter_expression(conditions.join(" AND "));
        }
        let mut listing = self.list(query, limit, start, |row: MonitorItem| row.monitor).await?;
        self.overlay_last_checks(org, &mut listing.items).await?;
        Ok(listing)
    }

    /// Changes a monitor's settings. A changed URL, method or expectation starts its
    /// runs over (`pending`); pausing takes it off the schedule, resuming checks it at
    /// the next tick.
    pub async fn update_monitor(&self, w: &Write<'_>, id: Uuid, patch: MonitorPatch) -> Result<Monitor, StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        for _ in 0..5 {
            let before = self.monitor_item(org, id).await?.ok_or_else(|| StoreError::not_found("Monitor"))?;
            let mut after = before.clone();
            // The last check, from the organization's state into the item: it stays there
            // once the monitor is paused and its state entry goes.
            self.overlay_last_checks(org, std::slice::from_mut(&mut after.monitor)).await?;
            after.sequence += 1;
            let reset = patch.apply(&mut after.monitor);
            after.monitor.updated_at = now.to_owned();
            if reset || after.monitor.paused != before.monitor.paused {
                after.runs = Runs::default();
                after.monitor.status =
                    if after.monitor.paused { MonitorStatus::Paused } else { MonitorStatus::Pending };
                after.monitor.since = now.to_owned();
            }
            let after = schedule(after, org);
            let event = Event::new(
                EventType::MonitorUpdated,
                after.monitor.page_id,
                actor,
                now,
                data_of("monitor", &after.monitor),
            );
            let mut tx = Tx::new();
            let monitor_put = tx.push(self.put_if_sequence(to_item(&after)?, before.sequence)?);
            tx.push(self.event_put(org, event)?);
            match self.transact(tx).await {
                Ok(()) => return Ok(after.monitor),
                Err(TxError::Cancelled(reasons)) if failed_at(&reasons, monitor_put).is_some() => continue,
                Err(e) => return Err(e.into_error()),
            }
        }
        Err(StoreError::Unavailable("monitor kept changing during the update".into()))
    }

    /// Deletes a monitor (with its `monitor.deleted` event), then its checks and rollups.
    pub async fn delete_monitor(&self, w: &Write<'_>, id: Uuid) -> Result<(), StoreError> {
        let (org, actor, now) = (w.org, &w.actor, w.now.text());
        let current = self.monitor_item(org, id).await?.ok_or_else(|| StoreError::not_found("Monitor"))?;
        if current.monitor.service_id == Some(id) {
            return Err(StoreError::Invalid(crate::domain::Invalid::Request(LINKED_FOLLOWS_SERVICE.into())));
        }
        let delete = Delete::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), monitor_sk(id))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(StoreError::internal)?;
        let event = Event::new(
            EventType::MonitorDeleted,
            current.monitor.page_id,
            actor,
            now,
            data_of("monitor", &current.monitor),
        );
        let mut tx = Tx::new();
        let monitor_delete = tx.push(TransactWriteItem::builder().delete(delete).build());
        tx.push(self.event_put(org, event)?);
        tx.push(self.give_org_quota(org, Quota::Monitors, 1)?);
        match self.transact(tx).await {
            Ok(()) => {}
            Err(TxError::Cancelled(reasons)) if failed_at(&reasons, monitor_delete).is_some() => {
                return Err(StoreError::not_found("Monitor"));
            }
            Err(e) => return Err(e.into_error()),
        }
        self.delete_monitor_records(org, id).await
    }

    /// A monitor's recent checks, newest first (kept 7 days).
    pub async fn list_checks(
        &self,
        org: Uuid,
        id: Uuid,
        now_epoch: i64,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Listing<Check>, StoreError> {
        self.monitor_item(org, id).await?.ok_or_else(|| StoreError::not_found("Monitor"))?;
        let pk = schema::org_pk(org);
        let start = cursor.map(|c| cursor::decode(c, schema::PK, &pk)).transpose()?;
        let query = self
            .client()
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .filter_expression("#ttl > :now")
            .expression_attribute_names("#ttl", schema::TTL)
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s(format!("{}#CHECK#", monitor_sk(id))))
            .expression_attribute_values(":now", n(now_epoch))
            .scan_index_forward(false);
        self.list(query, limit, start, |row: CheckItem| row.check).await
    }

    /// A condition that a service of `org` exists.
    fn service_exists(&self, org: Uuid, service: Uuid) -> Result<TransactWriteItem, StoreError> {
        let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::service_sk(service))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

/// A stored check record.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CheckItem {
    pub(crate) pk: String,
    pub(crate) sk: String,
    pub(crate) entity: String,
    pub(crate) ttl: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) page_id: Option<Uuid>,
    #[serde(flatten)]
    pub(crate) check: Check,
}

/// What one check did to a monitor: the status it moved to, worth an event.
#[derive(Clone, Debug)]
pub struct Transition {
    /// The monitor after the check.
    pub monitor: Monitor,
    /// The status before.
    pub from: MonitorStatus,
    /// Since when it had that status.
    pub from_since: String,
    /// Its open automatic incident, if any.
    pub open_incident: Option<Uuid>,
    /// When its recent automatic incidents opened (epoch seconds).
    pub auto_incidents: Vec<i64>,
    /// The organization.
    pub org: Uuid,
}

/// What recording a check came to.
#[derive(Debug)]
pub struct Recorded {
    /// The check record to put.
    pub record: Item,
    /// The rollup of a day that ended, to put.
    pub rollup: Option<Item>,
    /// The monitor's last check, for its organization's state.
    pub last: LastCheck,
    /// Its day counters, for its organization's state.
    pub day: DayCounters,
    /// Its change of status, if any.
    pub transition: Option<Transition>,
    /// The monitor, set by the tick.
    pub last_id: Option<Uuid>,
}

/// A monitor due for a check, as the tick read it from the due index. Serializable, so a
/// dispatcher can hand it to a worker function whole (no second read).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DueMonitor(pub(crate) MonitorItem);

impl DueMonitor {
    /// The monitor.
    pub fn monitor(&self) -> &Monitor {
        &self.0.monitor
    }
}

impl DueMonitor {
    /// Its organization.
    pub fn org(&self) -> Uuid {
        self.0.org_id
    }
}

/// The monitors due at a tick.
#[derive(Debug, Default)]
pub struct Due {
    /// Each due monitor once.
    pub monitors: Vec<DueMonitor>,
    /// Some active monitor checks every 30 s.
    pub sub_minute: bool,
}

/// Due-index partitions read at once by a tick.
const PARTITION_READS: usize = 16;

impl Store {
    /// One of an organization's monitor state items (empty before its first check).
    pub async fn monitor_state(&self, org: Uuid, group: u8) -> Result<MonitorState, StoreError> {
        let out = self.get(&key(schema::org_pk(org), schema::monitor_state_sk(group)), true).await?;
        let state = out.map(from_item::<MonitorState>).transpose()?;
        Ok(state.map(|s| MonitorState { stored: true, ..s }).unwrap_or_default())
    }

    /// The state items that hold `monitors`' entries, by group, in one batch read (each
    /// empty before its first check). A monitor without an entry of its own gets the one
    /// its legacy item still holds (see [`schema::LEGACY_MONITOR_STATE_GROUPS`]), so its
    /// day's counters carry over; the next state write puts it in its own item.
    pub async fn monitor_states(
        &self,
        org: Uuid,
        monitors: &[Uuid],
    ) -> Result<std::collections::HashMap<u8, MonitorState>, StoreError> {
        let mut groups: Vec<u8> = monitors.iter().map(|id| state_group(*id)).collect();
        groups.sort_unstable();
        groups.dedup();
        let mut states = self.state_items(org, &groups).await?;
        let missing: Vec<Uuid> = monitors
            .iter()
            .copied()
            .filter(|id| {
                let state = &states[&state_group(*id)];
                state_group(*id) >= schema::LEGACY_MONITOR_STATE_GROUPS
                    && !state.last.contains_key(id)
                    && !state.day.contains_key(id)
            })
            .collect();
        if missing.is_empty() {
            return Ok(states);
        }
        let mut legacy_groups: Vec<u8> = missing.iter().map(|id| legacy_state_group(*id)).collect();
        legacy_groups.sort_unstable();
        legacy_groups.dedup();
        let unread: Vec<u8> = legacy_groups.iter().copied().filter(|g| !states.contains_key(g)).collect();
        let mut legacy = self.state_items(org, &unread).await?;
        for g in legacy_groups {
            if let Some(read) = states.get(&g) {
                legacy.insert(g, read.clone());
            }
        }
        for id in missing {
            let old = &legacy[&legacy_state_group(id)];
            let state = states.get_mut(&state_group(id)).expect("every monitor's group was read");
            if let Some(last) = old.last.get(&id) {
                state.last.insert(id, last.clone());
            }
            if let Some(day) = old.day.get(&id) {
                state.day.insert(id, day.clone());
            }
        }
        Ok(states)
    }

    /// State items by group, strongly consistent, in batch reads.
    async fn state_items(
        &self,
        org: Uuid,
        groups: &[u8],
    ) -> Result<std::collections::HashMap<u8, MonitorState>, StoreError> {
        let mut states: std::collections::HashMap<u8, MonitorState> =
            groups.iter().map(|g| (*g, MonitorState::default())).collect();
        let keys: Vec<Item> = groups.iter().map(|g| key(schema::org_pk(org), schema::monitor_state_sk(*g))).collect();
        for item in self.batch_get(keys).await? {
            let group = item
                .get("sk")
                .and_then(|sk| sk.as_s().ok())
                .and_then(|sk| sk.strip_prefix("MONITORSTATE#"))
                .and_then(|g| g.parse::<u8>().ok())
                .ok_or_else(|| StoreError::internal("a monitor state item without its group"))?;
            states.insert(group, MonitorState { stored: true, ..from_item::<MonitorState>(item)? });
        }
        Ok(states)
    }

    /// Claims the windows of the due index a tick at `now` checks: those after the last
    /// one claimed up to now's (at most [`MAX_CATCH_UP_WINDOWS`]; on the first tick, the
    /// last minute's). The claim is a conditional write, so two ticks never check one
    /// window twice: a tick that loses the race gets none.
    pub async fn claim_windows(&self, now: i64) -> Result<Vec<i64>, StoreError> {
        let current = window_of(now);
        let tick_key = key(schema::SCHEDULER_PK, schema::MONITOR_TICK_SK);
        let last = self
            .get(&tick_key, true)
            .await?
            .and_then(|item| item.get("lastWindow").and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok()));
        let first = last.map_or(current - 1, |last| (last + 1).max(current - MAX_CATCH_UP_WINDOWS + 1));
        if first > current {
            return Ok(Vec::new());
        }
        let mut claim = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(tick_key))
            .update_expression("SET lastWindow = :current")
            .expression_attribute_values(":current", n(current));
        claim = match last {
            Some(last) => {
                claim.condition_expression("lastWindow = :last").expression_attribute_values(":last", n(last))
            }
            None => claim.condition_expression("attribute_not_exists(lastWindow)"),
        };
        match claim.send().await {
            Ok(_) => Ok((first..=current).collect()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(Vec::new()),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// The active monitors due in `windows` (each once), whole (the index projects every
    /// attribute, so a check costs no read of its monitor), and those never judged. Reads
    /// only the partitions due then: for each interval, one bucket per window.
    pub async fn due_monitors(&self, windows: &[i64]) -> Result<Due, StoreError> {
        use futures::StreamExt;
        let mut partitions: Vec<String> = (0..schema::MONITOR_DUE_SHARDS).map(schema::monitor_new_gsi2pk).collect();
        for window in windows {
            partitions.extend(due_partitions(*window).map(|(_, pk)| pk));
        }
        partitions.sort_unstable();
        partitions.dedup();
        let reads: Vec<Result<Vec<Item>, StoreError>> = futures::stream::iter(partitions)
            .map(|pk| async move {
                let query = self
                    .client()
                    .query()
                    .index_name(schema::GSI2)
                    .key_condition_expression("gsi2pk = :pk")
                    .expression_attribute_values(":pk", s(pk));
                self.query_all(query).await
            })
            .buffer_unordered(PARTITION_READS)
            .collect()
            .await;
        let mut due = Due::default();
        let mut seen = std::collections::HashSet::new();
        for read in reads {
            for item in read? {
                let item = from_item::<MonitorItem>(item)?;
                due.sub_minute |= item.monitor.interval_seconds < 60;
                if seen.insert(item.monitor.id) {
                    due.monitors.push(DueMonitor(item));
                }
            }
        }
        Ok(due)
    }

    /// Records a check of a due monitor made at `now`. Its verdict moves its runs and
    /// status; only when they change is the monitor written (conditioned on the revision
    /// the tick read: a monitor changed meanwhile is left alone), with the event of a
    /// change of status. Returns the check record, the monitor's last check and day
    /// counters for its organization's state (and the rollup of a day that ended), and the
    /// transition; `None` when the monitor changed meanwhile.
    pub async fn record_check(
        &self,
        due: &DueMonitor,
        probe: &crate::domain::monitor::Probe,
        now: chrono::DateTime<chrono::Utc>,
        counters: Option<&DayCounters>,
    ) -> Result<Option<Recorded>, StoreError> {
        use crate::domain::monitor::{ExpectedStatus, Verdict, judge, step};
        let before = &due.0;
        let org = before.org_id;
        let m = &before.monitor;
        let now_s = crate::clock::timestamp(now);
        let expected = ExpectedStatus::parse(&m.expected_status)
            .unwrap_or_else(|_| ExpectedStatus::parse("200-299").expect("a constant expectation parses"));
        let (verdict, why) = judge(probe, &expected, m.degraded_after_ms);
        let (runs, changed) = step(before.runs, verdict, m.failure_threshold, m.success_threshold);
        // Today's counters; a day that ended becomes its rollup.
        let (day, rollup) = tally(counters, now, verdict, probe);
        let mut after = before.clone();
        after.sequence += 1;
        after.runs = runs;
        after.monitor.status = runs.status;
        if runs.status != before.runs.status {
            after.monitor.since.clone_from(&now_s);
        }
        after.monitor.last_checked_at = Some(now_s.clone());
        after.monitor.last_latency_ms = Some(probe.latency_ms);
        let after = schedule(after, org);
        let mut tx = Tx::new();
        let monitor_put = if runs != before.runs {
            Some(tx.push(self.put_if_sequence(to_item(&after)?, before.sequence)?))
        } else {
            None
        };
        let transition = changed.map(|_| Transition {
            monitor: after.monitor.clone(),
            from: before.runs.status,
            from_since: before.monitor.since.clone(),
            open_incident: after.open_incident,
            auto_incidents: after.auto_incidents.clone(),
            org,
        });
        if let Some(t) = &transition {
            let kind = match t.monitor.status {
                MonitorStatus::Down => EventType::MonitorDown,
                MonitorStatus::Degraded => EventType::MonitorDegraded,
                _ => EventType::MonitorUp,
            };
            let mut data = data_of("monitor", &t.monitor);
            data["previousStatus"] = serde_json::Value::from(t.from.as_str());
            data["check"] = serde_json::json!({
                "statusCode": probe.status, "latencyMs": probe.latency_ms, "error": why,
            });
            tx.push(self.event_put(org, Event::new(kind, m.page_id, &Actor::monitor(m.id), &now_s, data))?);
        }
        if !tx.is_empty() {
            match self.transact(tx).await {
                Ok(()) => {}
                // Changed since the tick read it: this check does not count.
                Err(TxError::Cancelled(reasons)) if monitor_put.is_some_and(|p| failed_at(&reasons, p).is_some()) => {
                    return Ok(None);
                }
                Err(e) => return Err(e.into_error()),
            }
        }
        let rollup = rollup
            .map(|d| {
                let mut item = to_item(&d)?;
                item.insert("pk".into(), s(schema::org_pk(org)));
                item.insert("sk".into(), s(day_sk(m.id, &d.date)));
                item.insert("entity".into(), s("monitorDay"));
                if let Some(page) = m.page_id {
                    item.insert("pageId".into(), s(page.to_string()));
                }
                Ok::<_, StoreError>(item)
            })
            .transpose()?;
        let check_at = now_s.clone();
        let check = CheckItem {
            pk: schema::org_pk(org),
            sk: check_sk(m.id, &now_s),
            entity: "monitorCheck".into(),
            ttl: now.timestamp() + CHECK_RETENTION_SECS,
            page_id: m.page_id,
            check: Check {
                at: now_s,
                ok: verdict != Verdict::Down,
                status_code: probe.status,
                latency_ms: probe.latency_ms,
                error: why,
            },
        };
        Ok(Some(Recorded {
            record: to_item(&check)?,
            rollup,
            last: LastCheck { at: check_at, latency_ms: probe.latency_ms },
            day,
            transition,
            last_id: Some(m.id),
        }))
    }

    /// A monitor's days from `from` to `to`, oldest first: the rollups of days that
    /// ended, and today's counters from its organization's state. Days without checks are
    /// missing. `None` when there is no such monitor.
    pub async fn monitor_days(
        &self,
        org: Uuid,
        id: Uuid,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Option<Vec<DayCounters>>, StoreError> {
        if self.monitor_item(org, id).await?.is_none() {
            return Ok(None);
        }
        let query = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(schema::org_pk(org)))
            .expression_attribute_values(":from", s(day_sk(id, &from.to_string())))
            .expression_attribute_values(":to", s(day_sk(id, &to.to_string())));
        let mut days =
            self.query_all(query).await?.into_iter().map(from_item::<DayCounters>).collect::<Result<Vec<_>, _>>()?;
        let states = self.monitor_states(org, &[id]).await?;
        if let Some(open) = states[&state_group(id)].day.get(&id) {
            let in_range = (from.to_string()..=to.to_string()).contains(&open.date);
            if in_range && !days.iter().any(|d| d.date == open.date) {
                days.push(open.clone());
            }
        }
        Ok(Some(days))
    }

    /// Writes one of an organization's monitor state items after a check of its
    /// monitors: each checked monitor's last check and day counters, and the removal of
    /// `stale` entries (monitors not checked for a week: deleted, or paused and keeping
    /// their last check in their own item), one update per
    /// [`STATE_ENTRIES_PER_UPDATE`] monitors.
    pub async fn update_monitor_state(
        &self,
        org: Uuid,
        group: u8,
        before: &MonitorState,
        checked: &[(Uuid, LastCheck, DayCounters)],
        stale: &[Uuid],
    ) -> Result<(), StoreError> {
        let Some((id, last, day)) = checked.first() else { return Ok(()) };
        if before.stored && !before.last.is_empty() {
            return self.set_state_entries(org, group, checked, stale).await;
        }
        // The item's first write (or its maps' first since all were removed): both maps
        // start with the first monitor's entries, never empty (an empty map is something
        // DynamoDB Local's stream cannot render).
        let first = |value: aws_sdk_dynamodb::types::AttributeValue| {
            aws_sdk_dynamodb::types::AttributeValue::M(std::collections::HashMap::from([(id.to_string(), value)]))
        };
        self.client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), schema::monitor_state_sk(group))))
            .update_expression(
                "SET entity = :entity, #last = if_not_exists(#last, :last), #day = if_not_exists(#day, :day)",
            )
            .expression_attribute_names("#last", "last")
            .expression_attribute_names("#day", "day")
            .expression_attribute_values(":entity", s("monitorState"))
            .expression_attribute_values(
                ":last",
                first(serde_dynamo::to_attribute_value(last).map_err(StoreError::internal)?),
            )
            .expression_attribute_values(
                ":day",
                first(serde_dynamo::to_attribute_value(day).map_err(StoreError::internal)?),
            )
            .send()
            .await
            .map_err(sdk_error)?;
        self.set_state_entries(org, group, checked, stale).await
    }

    /// Sets monitors' last checks and day counters in a state item (and, with the first
    /// chunk, removes up to forty stale entries), up to [`STATE_ENTRIES_PER_UPDATE`] to an
    /// update.
    async fn set_state_entries(
        &self,
        org: Uuid,
        group: u8,
        checked: &[(Uuid, LastCheck, DayCounters)],
        stale: &[Uuid],
    ) -> Result<(), StoreError> {
        for (n, chunk) in checked.chunks(STATE_ENTRIES_PER_UPDATE).enumerate() {
            let mut update = self
                .client()
                .update_item()
                .table_name(self.table())
                .set_key(Some(key(schema::org_pk(org), schema::monitor_state_sk(group))))
                .expression_attribute_names("#last", "last")
                .expression_attribute_names("#day", "day");
            let mut sets = Vec::new();
            for (i, (id, last, day)) in chunk.iter().enumerate() {
                sets.push(format!("#last.#m{i} = :l{i}, #day.#m{i} = :d{i}"));
                update = update
                    .expression_attribute_names(format!("#m{i}"), id.to_string())
                    .expression_attribute_values(
                        format!(":l{i}"),
                        serde_dynamo::to_attribute_value(last).map_err(StoreError::internal)?,
                    )
                    .expression_attribute_values(
                        format!(":d{i}"),
                        serde_dynamo::to_attribute_value(day).map_err(StoreError::internal)?,
                    );
            }
            let mut removes = Vec::new();
            if n == 0 {
                for (i, id) in stale.iter().take(40).enumerate() {
                    removes.push(format!("#last.#s{i}, #day.#s{i}"));
                    update = update.expression_attribute_names(format!("#s{i}"), id.to_string());
                }
            }
            let mut expression = format!("SET {}", sets.join(", "));
            if !removes.is_empty() {
                expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
            }
            update.update_expression(expression).send().await.map_err(sdk_error)?;
        }
        Ok(())
    }
}

/// The writes of a linked monitor that go with its service's, and apart from them its
/// change of the organization's monitor count (so the caller can tell when the plan is full).
#[derive(Debug, Default)]
pub(crate) struct LinkedWrites {
    /// The monitor's put or delete and its event.
    pub(crate) writes: Vec<TransactWriteItem>,
    /// The count taken or given back, if it changes.
    pub(crate) quota: Option<TransactWriteItem>,
}

impl Store {
    /// The writes that give a service with a `monitorUrl` on `page` its linked monitor
    /// (`new`, from [`NewMonitor::linked`]; one already there starts over with the new
    /// URL), with a `monitor.created` event.
    pub(crate) fn linked_monitor_writes(
        &self,
        org: Uuid,
        actor: &Actor,
        new: NewMonitor,
        page: Uuid,
        replaces: bool,
        now: &str,
    ) -> Result<LinkedWrites, StoreError> {
        let item = new_item(org, new, Some(page), now);
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(self.table())
            .set_item(Some(to_item(&item)?))
            .build()
            .map_err(StoreError::internal)?;
        let event = Event::new(EventType::MonitorCreated, Some(page), actor, now, data_of("monitor", &item.monitor));
        let writes = vec![TransactWriteItem::builder().put(put).build(), self.event_put(org, event)?];
        // A new URL replaces the monitor, which keeps its place in the count.
        let quota = if replaces { None } else { Some(self.take_org_quota(org, Quota::Monitors)?) };
        Ok(LinkedWrites { writes, quota })
    }

    /// The writes that remove a service's linked monitor, with its `monitor.deleted`
    /// event (none when it is already gone).
    pub(crate) async fn linked_monitor_delete(
        &self,
        org: Uuid,
        actor: &Actor,
        service: Uuid,
        now: &str,
    ) -> Result<LinkedWrites, StoreError> {
        let Some(current) = self.monitor_item(org, service).await? else { return Ok(LinkedWrites::default()) };
        let delete = Delete::builder()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), monitor_sk(service))))
            .build()
            .map_err(StoreError::internal)?;
        let event = Event::new(
            EventType::MonitorDeleted,
            current.monitor.page_id,
            actor,
            now,
            data_of("monitor", &current.monitor),
        );
        Ok(LinkedWrites {
            writes: vec![TransactWriteItem::builder().delete(delete).build(), self.event_put(org, event)?],
            quota: Some(self.give_org_quota(org, Quota::Monitors, 1)?),
        })
    }

    /// Removes a deleted monitor's checks and rollups.
    pub(crate) async fn delete_monitor_records(&self, org: Uuid, id: Uuid) -> Result<(), StoreError> {
        let records = self
            .client()
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .projection_expression("pk, sk")
            .expression_attribute_values(":pk", s(schema::org_pk(org)))
            .expression_attribute_values(":prefix", s(format!("{}#", monitor_sk(id))))
            .consistent_read(true);
        let records = self.query_all(records).await?;
        self.delete_keys(records).await
    }

    /// Records a monitor's automatic incident (opened, or `None` once resolved) and the
    /// times its recent ones opened. Increments its revision, so a tick that read it
    /// before cannot put back what it had.
    pub async fn set_monitor_incident(
        &self,
        org: Uuid,
        id: Uuid,
        incident: Option<Uuid>,
        opened: &[i64],
    ) -> Result<(), StoreError> {
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(schema::org_pk(org), monitor_sk(id))))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#sequence", "sequence")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(
                ":opened",
                serde_dynamo::to_attribute_value(opened).map_err(StoreError::internal)?,
            );
        update = match incident {
            Some(incident) => update
                .update_expression("SET openIncident = :incident, autoIncidents = :opened ADD #sequence :one")
                .expression_attribute_values(":incident", s(incident.to_string())),
            None => update.update_expression("SET autoIncidents = :opened REMOVE openIncident ADD #sequence :one"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }
}

impl Store {
    /// Moves monitors written before the due index by interval and bucket (in
    /// `MONITORS#<shard>`) into it: part of [`Store::migrate`]. Returns how many it moved.
    pub(crate) async fn migrate_monitors(&self) -> Result<usize, StoreError> {
        let mut moved = 0;
        let mut start = None;
        loop {
            let out = self
                .client()
                .scan()
                .table_name(self.table())
                .filter_expression("entity = :monitor AND begins_with(gsi2pk, :legacy)")
                .expression_attribute_values(":monitor", s("monitor"))
                .expression_attribute_values(":legacy", s("MONITORS#"))
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                let item = from_item::<MonitorItem>(item)?;
                let (org, old) = (item.org_id, item.gsi2pk.clone().unwrap_or_default());
                let item = schedule(item, org);
                let (Some(pk), Some(sk)) = (item.gsi2pk, item.gsi2sk) else { continue };
                let updated = self
                    .client()
                    .update_item()
                    .table_name(self.table())
                    .set_key(Some(key(item.pk, item.sk)))
                    .condition_expression("gsi2pk = :old")
                    .update_expression("SET gsi2pk = :pk, gsi2sk = :sk")
                    .expression_attribute_values(":old", s(old))
                    .expression_attribute_values(":pk", s(pk))
                    .expression_attribute_values(":sk", s(sk))
                    .send()
                    .await;
                match updated {
                    Ok(_) => moved += 1,
                    Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                    Err(e) => return Err(sdk_error(e)),
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(moved);
            }
        }
    }
}

/// A due monitor of `org` as a tick would read it (for the dispatcher's unit tests).
#[cfg(test)]
pub(crate) fn due_for_test(org: Uuid, new: NewMonitor) -> DueMonitor {
    DueMonitor(new_item(org, new, None, "2026-01-01T00:00:00Z"))
}
