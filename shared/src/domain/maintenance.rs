//! Maintenance windows as the API shows and takes them, and their rules: the times a
//! window may have, when its reminder falls due, and what each change (a patch, a
//! timeline entry, a cancellation, or the schedule coming due) does to it: its status,
//! its timeline, and the services it starts or stops holding. No I/O: the store
//! ([`crate::store::maintenances`]) reads a window, asks [`plan`], and writes the answer.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::Invalid;
use crate::domain::MaintenanceStatus;

/// Most services one window may name: each may change status in the transaction that
/// starts or ends the window (an update, a history entry and an event each), and
/// DynamoDB takes at most 100 writes in one transaction.
pub const MAX_SERVICES: usize = 30;
/// Longest window.
pub const MAX_LENGTH: Duration = Duration::days(14);
/// Longest reminder lead: a week.
pub const MAX_REMIND_MINUTES: u32 = 7 * 24 * 60;
/// The timeline entry of a window the scheduler starts.
pub const STARTED_TEXT: &str = "Scheduled maintenance is currently in progress. We will provide updates as necessary.";
/// The timeline entry of a window the scheduler completes.
pub const COMPLETED_TEXT: &str = "The scheduled maintenance has been completed.";
/// The timeline entry of a cancelled window.
pub const CANCELLED_TEXT: &str = "This scheduled maintenance has been cancelled.";

/// One update of a window's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceUpdate {
    /// Update id (UUID v7).
    pub id: Uuid,
    /// Text.
    pub body: String,
    /// The window's status as of this update.
    pub status: MaintenanceStatus,
    /// Creation time.
    pub created_at: String,
}

/// A maintenance window as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Maintenance {
    /// Window id (UUID v7).
    pub id: Uuid,
    /// The page it is on.
    pub page_id: Uuid,
    /// Title.
    pub title: String,
    /// Where it stands.
    pub status: MaintenanceStatus,
    /// Planned start.
    pub scheduled_for: String,
    /// Planned end.
    pub scheduled_until: String,
    /// Services of the same page it puts under maintenance.
    pub service_ids: Vec<Uuid>,
    /// Whether the scheduler starts it at `scheduledFor`.
    pub auto_start: bool,
    /// Whether the scheduler completes it at `scheduledUntil`.
    pub auto_complete: bool,
    /// Whether subscribers hear of its transitions (integrations always do).
    pub notify_subscribers: bool,
    /// Minutes before `scheduledFor` that a reminder goes out; `null`: none.
    pub remind_before_minutes: Option<u32>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// When it went in progress.
    pub started_at: Option<String>,
    /// When it completed.
    pub completed_at: Option<String>,
    /// Updates, oldest first; absent in lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<Vec<MaintenanceUpdate>>,
}

/// A validated new window.
#[derive(Debug)]
pub struct NewMaintenance {
    /// Its id: a fresh UUID v7 from the API.
    pub id: Uuid,
    /// Title, 1–200 characters.
    pub title: String,
    /// The announcement: the first update.
    pub body: String,
    /// Planned start.
    pub scheduled_for: DateTime<Utc>,
    /// Planned end.
    pub scheduled_until: DateTime<Utc>,
    /// Services, without duplicates.
    pub service_ids: Vec<Uuid>,
    /// Start by schedule.
    pub auto_start: bool,
    /// Complete by schedule.
    pub auto_complete: bool,
    /// Tell subscribers.
    pub notify_subscribers: bool,
    /// Reminder lead.
    pub remind_before_minutes: Option<u32>,
}

/// A validated change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct MaintenancePatch {
    /// New title.
    pub title: Option<String>,
    /// New start.
    pub scheduled_for: Option<DateTime<Utc>>,
    /// New end.
    pub scheduled_until: Option<DateTime<Utc>>,
    /// New set of services.
    pub service_ids: Option<Vec<Uuid>>,
    /// New `autoStart`.
    pub auto_start: Option<bool>,
    /// New `autoComplete`.
    pub auto_complete: Option<bool>,
    /// New reminder lead, or none.
    pub remind_before_minutes: Option<Option<u32>>,
}

/// A validated new update: text and, optionally, a move to `in_progress`, `verifying`
/// or `completed`.
#[derive(Debug)]
pub struct NewMaintenanceUpdate {
    /// Text, 1–10000 characters.
    pub body: String,
    /// New status; `None` keeps the window's.
    pub status: Option<MaintenanceStatus>,
}

/// What is asked of a window.
pub enum Change {
    /// A patch through the API.
    Patch(MaintenancePatch),
    /// A new update of the timeline through the API.
    Update(NewMaintenanceUpdate),
    /// A cancellation (`DELETE`).
    Cancel,
    /// Whatever the schedule says is due at the time of the write.
    Due,
}

/// What a change comes to: the window after it, an update for its timeline, the event,
/// and the services it starts or stops holding.
pub struct Plan {
    /// The window after the change.
    pub after: Window,
    /// The entry it adds to the timeline, if any.
    pub update: Option<MaintenanceUpdate>,
    /// What happened, for its event.
    pub happened: Happened,
    /// Services it starts holding.
    pub hold: Vec<Uuid>,
    /// Services it stops holding.
    pub release: Vec<Uuid>,
    /// Whether subscribers hear of it: not of a change they cannot see (automation,
    /// reminder lead).
    pub visible: bool,
}

/// A window as its rules see it: what the API shows, and when its reminder falls due.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// The window.
    pub maintenance: Maintenance,
    /// When its reminder falls due, if it has one ahead.
    pub remind_at: Option<String>,
}

/// What a change did to a window, as its event says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Happened {
    /// Changed, or a timeline entry without a change of phase.
    Updated,
    /// Started.
    Started,
    /// Completed.
    Completed,
    /// Its reminder fell due.
    Reminder,
}

pub(crate) fn time(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw).map(|t| t.to_utc()).unwrap_or_default()
}

pub(crate) fn stamp(at: DateTime<Utc>) -> String {
    crate::clock::timestamp(at)
}

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid::Request(message.into())
}

/// Checks a window's times: the end after the start, at most 14 days later, and (for a
/// window not yet over) not already past.
pub fn check_times(from: DateTime<Utc>, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Invalid> {
    if until <= from {
        return Err(Invalid::field("scheduledUntil", "must be after scheduledFor"));
    }
    if until - from > MAX_LENGTH {
        return Err(Invalid::field("scheduledUntil", "must be at most 14 days after scheduledFor"));
    }
    if until <= now {
        return Err(Invalid::field("scheduledUntil", "is in the past: the window would already be over"));
    }
    Ok(())
}

/// When the reminder of a scheduled window falls due: its lead before the start, if
/// that is still ahead (a window announced closer to its start than the lead gets none).
pub fn remind_at(m: &Maintenance, now: DateTime<Utc>) -> Option<String> {
    let minutes = m.remind_before_minutes?;
    let at = time(&m.scheduled_for) - Duration::minutes(i64::from(minutes));
    (m.status == MaintenanceStatus::Scheduled && at > now).then(|| stamp(at))
}

/// A new entry of a window's timeline.
pub fn new_update(body: String, status: MaintenanceStatus, now: &str) -> MaintenanceUpdate {
    MaintenanceUpdate { id: Uuid::now_v7(), body, status, created_at: now.to_owned() }
}

/// Works out what `change` does to a window at `now`; `None` when there is nothing to do
/// (a scheduler's visit before anything is due, a second cancel).
pub fn plan(before: &Window, change: &Change, now: DateTime<Utc>) -> Result<Option<Plan>, Invalid> {
    use MaintenanceStatus::*;
    let now_s = stamp(now);
    let mut after = before.clone();
    let m = &mut after.maintenance;
    m.updated_at.clone_from(&now_s);
    let mut hold = Vec::new();
    let mut release = Vec::new();
    let mut visible = true;
    let status = before.maintenance.status;
    let (update, event) = match change {
        Change::Patch(patch) => {
            if status.is_over() {
                return Err(invalid(format!("A {} maintenance cannot be changed.", status.as_str())));
            }
            if let Some(title) = &patch.title {
                m.title.clone_from(title);
            }
            let from = patch.scheduled_for.unwrap_or_else(|| time(&m.scheduled_for));
            let until = patch.scheduled_until.unwrap_or_else(|| time(&m.scheduled_until));
            if status.is_active() && patch.scheduled_for.is_some_and(|f| stamp(f) != m.scheduled_for) {
                return Err(Invalid::field("scheduledFor", "cannot move: the maintenance has started"));
            }
            if patch.scheduled_for.is_some() || patch.scheduled_until.is_some() {
                check_times(from, until, now)?;
            }
            let moved = stamp(from) != m.scheduled_for;
            m.scheduled_for = stamp(from);
            m.scheduled_until = stamp(until);
            if let Some(ids) = &patch.service_ids {
                if status.is_active() {
                    hold = ids.iter().filter(|s| !m.service_ids.contains(s)).copied().collect();
                    release = m.service_ids.iter().filter(|s| !ids.contains(s)).copied().collect();
                }
                m.service_ids.clone_from(ids);
            }
            if let Some(v) = patch.auto_start {
                m.auto_start = v;
            }
            if let Some(v) = patch.auto_complete {
                m.auto_complete = v;
            }
            let lead_changed = patch.remind_before_minutes.is_some_and(|r| r != m.remind_before_minutes);
            if let Some(r) = patch.remind_before_minutes {
                m.remind_before_minutes = r;
            }
            if moved || lead_changed {
                // A rescheduled window is reminded of again at its new time.
                after.remind_at = remind_at(&after.maintenance, now);
            }
            let seen = &before.maintenance;
            let m = &after.maintenance;
            visible = m.title != seen.title
                || m.scheduled_for != seen.scheduled_for
                || m.scheduled_until != seen.scheduled_until
                || m.service_ids != seen.service_ids;
            (None, Happened::Updated)
        }
        Change::Update(new) => {
            let to = new.status.unwrap_or(status);
            let update = Some(new_update(new.body.clone(), to, &now_s));
            match (status, to) {
                (a, b) if a == b => (update, Happened::Updated),
                (Scheduled, InProgress) => {
                    start(&mut after, &now_s, &mut hold);
                    (update, Happened::Started)
                }
                (InProgress, Verifying) | (Verifying, InProgress) => {
                    after.maintenance.status = to;
                    (update, Happened::Updated)
                }
                (InProgress | Verifying, Completed) => {
                    complete(&mut after, &now_s, &mut release);
                    (update, Happened::Completed)
                }
                (Scheduled, _) => {
                    return Err(Invalid::field(
                        "status",
                        "a scheduled maintenance first goes in_progress (to call it off, DELETE it)",
                    ));
                }
                (Completed | Cancelled, _) => {
                    return Err(Invalid::field(
                        "status",
                        format_args!("the maintenance is {}; its status cannot change", status.as_str()),
                    ));
                }
                (_, _) => return Err(Invalid::field("status", "must be in_progress, verifying or completed")),
            }
        }
        Change::Cancel => match status {
            Cancelled => return Ok(None),
            Completed => return Err(invalid("A completed maintenance cannot be cancelled.")),
            _ => {
                if status.is_active() {
                    release.clone_from(&after.maintenance.service_ids);
                }
                after.maintenance.status = Cancelled;
                after.remind_at = None;
                (Some(new_update(CANCELLED_TEXT.to_owned(), Cancelled, &now_s)), Happened::Updated)
            }
        },
        Change::Due => {
            let due = |at: &str| time(at) <= now;
            match status {
                Scheduled if m.auto_start && due(&m.scheduled_for) => {
                    start(&mut after, &now_s, &mut hold);
                    (Some(new_update(STARTED_TEXT.to_owned(), InProgress, &now_s)), Happened::Started)
                }
                Scheduled if before.remind_at.as_deref().is_some_and(due) => {
                    after.remind_at = None;
                    after.maintenance.updated_at.clone_from(&before.maintenance.updated_at);
                    (None, Happened::Reminder)
                }
                InProgress | Verifying if m.auto_complete && due(&m.scheduled_until) => {
                    complete(&mut after, &now_s, &mut release);
                    (Some(new_update(COMPLETED_TEXT.to_owned(), Completed, &now_s)), Happened::Completed)
                }
                _ => return Ok(None),
            }
        }
    };
    if hold.len() + release.len() > MAX_SERVICES {
        return Err(Invalid::field(
            "serviceIds",
            format_args!("a maintenance in progress can take on or give back at most {MAX_SERVICES} services at once"),
        ));
    }
    if after.maintenance.status != Scheduled {
        after.remind_at = None;
    }
    Ok(Some(Plan { after, update, happened: event, hold, release, visible }))
}

fn start(item: &mut Window, now: &str, hold: &mut Vec<Uuid>) {
    item.maintenance.status = MaintenanceStatus::InProgress;
    item.maintenance.started_at = Some(now.to_owned());
    hold.clone_from(&item.maintenance.service_ids);
}

fn complete(item: &mut Window, now: &str, release: &mut Vec<Uuid>) {
    item.maintenance.status = MaintenanceStatus::Completed;
    item.maintenance.completed_at = Some(now.to_owned());
    release.clone_from(&item.maintenance.service_ids);
}
