//! Uptime from a service's status history: seconds in each status per UTC day, and the
//! contract's percentage (outage is downtime; degraded and maintenance count as up; time
//! before the service existed or after now is left out; floored to 3 decimals).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::ServiceStatus;

/// One change of a service's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// When it changed.
    pub at: DateTime<Utc>,
    /// The status before.
    pub from: ServiceStatus,
    /// The status after.
    pub to: ServiceStatus,
}

/// One UTC day's numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Day {
    /// The day, `YYYY-MM-DD`.
    pub date: NaiveDate,
    /// Up time over observed time, floored to 3 decimals; `null` when nothing was observed.
    pub uptime_percentage: Option<f64>,
    /// Seconds in `outage`.
    pub outage_seconds: i64,
    /// Seconds in `degraded`.
    pub degraded_seconds: i64,
    /// Seconds in `maintenance`.
    pub maintenance_seconds: i64,
    /// Seconds the service existed, up to now.
    #[serde(skip)]
    pub observed_seconds: i64,
}

/// Totals over a range of days.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Up time over observed time, floored to 3 decimals; `null` when nothing was observed.
    pub uptime_percentage: Option<f64>,
    /// Seconds in `outage`.
    pub outage_seconds: i64,
    /// Seconds in `degraded`.
    pub degraded_seconds: i64,
    /// Seconds in `maintenance`.
    pub maintenance_seconds: i64,
}

/// `up / observed` as a percentage floored to 3 decimals (so any downtime shows below
/// 100), computed in integers; `None` when nothing was observed.
pub fn percentage(observed: i64, outage: i64) -> Option<f64> {
    if observed <= 0 {
        return None;
    }
    let up = (observed - outage).max(0) as i128;
    let thousandths = up * 100_000 / observed as i128;
    Some(thousandths as f64 / 1000.0)
}

fn day_start(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// The status a service had at `at`: the last change at or before it decides, else the
/// first change after it says what came before, else nothing changed: `current`.
fn status_at(at: DateTime<Utc>, current: ServiceStatus, changes: &[Change]) -> ServiceStatus {
    match changes.iter().rposition(|c| c.at <= at) {
        Some(i) => changes[i].to,
        None => changes.first().map_or(current, |c| c.from),
    }
}

/// Per-day numbers for `from..=to` (UTC days) of a service created at `created`, whose
/// status is now `current`, from its `changes` (oldest first; those before `from` may be
/// omitted as long as the first change after `from` is there).
pub fn days(
    created: DateTime<Utc>,
    current: ServiceStatus,
    changes: &[Change],
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Vec<Day> {
    let mut out = Vec::new();
    let mut date = from;
    while date <= to {
        let start = day_start(date).max(created);
        let end = (day_start(date) + Duration::days(1)).min(now);
        let mut day = Day {
            date,
            uptime_percentage: None,
            outage_seconds: 0,
            degraded_seconds: 0,
            maintenance_seconds: 0,
            observed_seconds: 0,
        };
        if start < end {
            day.observed_seconds = (end - start).num_seconds();
            // Walk the segments of this day: [start, first change), [change, next change)...
            let mut status = status_at(start, current, changes);
            let mut at = start;
            for change in changes.iter().filter(|c| c.at > start && c.at < end) {
                add(&mut day, status, (change.at - at).num_seconds());
                status = change.to;
                at = change.at;
            }
            add(&mut day, status, (end - at).num_seconds());
            day.uptime_percentage = percentage(day.observed_seconds, day.outage_seconds);
        }
        out.push(day);
        date = date.succ_opt().expect("dates stay in range");
    }
    out
}

fn add(day: &mut Day, status: ServiceStatus, seconds: i64) {
    match status {
        ServiceStatus::Operational => {}
        ServiceStatus::Degraded => day.degraded_seconds += seconds,
        ServiceStatus::Outage => day.outage_seconds += seconds,
        ServiceStatus::Maintenance => day.maintenance_seconds += seconds,
    }
}

/// The totals of some days.
pub fn totals(days: &[Day]) -> Totals {
    let sum = |f: fn(&Day) -> i64| days.iter().map(f).sum::<i64>();
    let outage = sum(|d| d.outage_seconds);
    Totals {
        uptime_percentage: percentage(sum(|d| d.observed_seconds), outage),
        outage_seconds: outage,
        degraded_seconds: sum(|d| d.degraded_seconds),
        maintenance_seconds: sum(|d| d.maintenance_seconds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ServiceStatus::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn percentage_is_floored_so_any_downtime_shows_below_100() {
        assert_eq!(percentage(86_400, 0), Some(100.0));
        assert_eq!(percentage(86_400, 1), Some(99.998));
        assert_eq!(percentage(86_400, 1800), Some(97.916));
        assert_eq!(percentage(0, 0), None);
    }

    #[test]
    fn a_day_splits_into_its_statuses_and_days_before_creation_are_null() {
        let changes = [
            Change { at: at("2026-03-02T10:00:00Z"), from: Operational, to: Outage },
            Change { at: at("2026-03-02T10:30:00Z"), from: Outage, to: Degraded },
            Change { at: at("2026-03-02T12:30:00Z"), from: Degraded, to: Maintenance },
            Change { at: at("2026-03-02T13:15:00Z"), from: Maintenance, to: Operational },
        ];
        let d = NaiveDate::from_ymd_opt;
        let days = days(
            at("2026-03-01T12:00:00Z"),
            Operational,
            &changes,
            d(2026, 2, 28).unwrap(),
            d(2026, 3, 3).unwrap(),
            at("2026-03-03T06:00:00Z"),
        );
        assert_eq!(days[0].uptime_percentage, None);
        assert_eq!(days[1].observed_seconds, 12 * 3600);
        assert_eq!(days[1].uptime_percentage, Some(100.0));
        assert_eq!((days[2].outage_seconds, days[2].degraded_seconds, days[2].maintenance_seconds), (1800, 7200, 2700));
        assert_eq!(days[2].uptime_percentage, Some(97.916));
        assert_eq!(days[3].observed_seconds, 6 * 3600);
        let t = totals(&days);
        assert_eq!(t.outage_seconds, 1800);
        assert_eq!(t.uptime_percentage, percentage(42 * 3600, 1800));
    }

    #[test]
    fn with_no_change_in_range_the_status_is_the_one_before_the_next_change() {
        let changes = [Change { at: at("2026-03-05T00:00:00Z"), from: Outage, to: Operational }];
        let d = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let days = days(at("2026-01-01T00:00:00Z"), Operational, &changes, d, d, at("2026-03-06T00:00:00Z"));
        assert_eq!(days[0].outage_seconds, 86_400);
        assert_eq!(days[0].uptime_percentage, Some(0.0));
    }
}
