//! Monitors, their recent checks and their daily rollups. A monitor sits in the org
//! partition (`MONITOR#<id>`), listed through GSI1 (`ORG#<org>#MONITORS`); while not
//! paused it carries its next check time on a sharded, sparse GSI2 partition
//! (`DUE#MONITOR#<shard>`), which the scheduler's tick reads whole items from, so a
//! check costs no read. Each check is one conditional update of the monitor (state,
//! runs, next check, today's counters) and one put of a check record with a 7-day TTL,
//! batched; the day's counters move into a rollup item (`MONITOR#<id>#DAY#<date>`) when
//! the day changes. Nothing is kept per check for longer than a week.
//!
//! A service's linked monitor has the service's id, so creating, changing and removing
//! it goes with the service's own writes.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::monitor::{MonitorStatus, Runs};

/// How long check records are kept.
pub const CHECK_RETENTION_SECS: i64 = 7 * 24 * 60 * 60;
/// Shards of the monitors' due index.
pub const DUE_SHARDS: u8 = 4;

/// A monitor as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Monitor {
    /// Monitor id (UUID v7; a linked monitor has its service's id).
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Checked URL (`http` or `https`).
    pub url: String,
    /// The service it drives, if any.
    pub service_id: Option<Uuid>,
    /// That service's page.
    pub page_id: Option<Uuid>,
    /// `GET` or `HEAD`.
    pub method: String,
    /// Seconds between checks.
    pub interval_seconds: u32,
    /// Seconds a check may take.
    pub timeout_seconds: u32,
    /// Expected status codes and ranges.
    pub expected_status: String,
    /// Text the body must contain.
    pub keyword: Option<String>,
    /// Slower than this (ms) is degraded.
    pub degraded_after_ms: Option<u32>,
    /// Failures in a row before `down`.
    pub failure_threshold: u32,
    /// Successes in a row before `up` again.
    pub success_threshold: u32,
    /// Not checked while paused.
    pub paused: bool,
    /// Where it stands.
    pub status: MonitorStatus,
    /// Last check.
    pub last_checked_at: Option<String>,
    /// Last check's latency.
    pub last_latency_ms: Option<u64>,
    /// Since when it has had its status.
    pub since: String,
    /// Creation time.
    pub created_at: String,
    /// Last change of its settings.
    pub updated_at: String,
}

/// One check as the check log shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// When.
    pub at: String,
    /// Whether it passed (up or degraded).
    pub ok: bool,
    /// Response status.
    pub status_code: Option<u16>,
    /// Time to the response headers.
    pub latency_ms: u64,
    /// Why it failed.
    pub error: Option<String>,
}

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
    /// Today's counters: the day, checks, passed, degraded, latency sum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) day: Option<DayCounters>,
    #[serde(flatten)]
    pub(crate) monitor: Monitor,
}

/// One UTC day of a monitor's checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DayCounters {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Checks made.
    pub checks: u32,
    /// Of those, up or degraded.
    pub passed: u32,
    /// Of those, degraded.
    pub degraded: u32,
    /// Sum of the latencies of the checks that got an answer.
    pub latency_sum_ms: u64,
    /// Checks that got an answer.
    pub answered: u32,
}

/// A validated new monitor.
#[derive(Debug)]
pub struct NewMonitor {
    /// Its id: a fresh UUID v7 (the service's id for a linked monitor).
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// URL.
    pub url: String,
    /// Service it drives.
    pub service_id: Option<Uuid>,
    /// `GET` or `HEAD`.
    pub method: String,
    /// One of [`crate::monitor::INTERVALS`].
    pub interval_seconds: u32,
    /// 1–30, below the interval.
    pub timeout_seconds: u32,
    /// Parsed and written back canonical.
    pub expected_status: String,
    /// Keyword.
    pub keyword: Option<String>,
    /// Degraded threshold.
    pub degraded_after_ms: Option<u32>,
    /// Failures before down.
    pub failure_threshold: u32,
    /// Successes before up.
    pub success_threshold: u32,
    /// Paused.
    pub paused: bool,
}

impl NewMonitor {
    /// A linked monitor of a service, with the contract's defaults.
    pub fn linked(service: Uuid, name: &str, url: String) -> Self {
        Self {
            id: service,
            name: name.to_owned(),
            url,
            service_id: Some(service),
            method: "GET".into(),
            interval_seconds: 60,
            timeout_seconds: 10,
            expected_status: "200-299".into(),
            keyword: None,
            degraded_after_ms: None,
            failure_threshold: 3,
            success_threshold: 2,
            paused: false,
        }
    }
}

/// The due-index shard of a monitor.
pub(crate) fn shard(id: Uuid) -> u8 {
    id.as_bytes()[15] % DUE_SHARDS
}

/// `DUE#MONITOR#<shard>`.
pub(crate) fn due_gsi2pk(shard: u8) -> String {
    format!("DUE#MONITOR#{shard}")
}

/// Sets an item's due keys: the next check at `next` unless paused.
pub(crate) fn schedule(mut item: MonitorItem, org: Uuid, next: &str) -> MonitorItem {
    if item.monitor.paused {
        item.gsi2pk = None;
        item.gsi2sk = None;
    } else {
        item.gsi2pk = Some(due_gsi2pk(shard(item.monitor.id)));
        item.gsi2sk = Some(super::schema::due_gsi2sk(next, org, item.monitor.id));
    }
    item
}

/// `MONITOR#<id>`; also the prefix of its checks and rollups.
pub(crate) fn monitor_sk(id: Uuid) -> String {
    format!("MONITOR#{id}")
}

/// `MONITOR#<id>#CHECK#<at>`: a check record, newest last.
pub(crate) fn check_sk(id: Uuid, at: &str) -> String {
    format!("MONITOR#{id}#CHECK#{at}")
}

/// `MONITOR#<id>#DAY#<date>`: a day's rollup.
pub(crate) fn day_sk(id: Uuid, date: &str) -> String {
    format!("MONITOR#{id}#DAY#{date}")
}

/// `ORG#<org>#MONITORS`: GSI1 partition of an organization's monitors.
pub(crate) fn monitors_gsi1pk(org: Uuid) -> String {
    format!("ORG#{org}#MONITORS")
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
        day: None,
        monitor,
    };
    schedule(item, org, now)
}
