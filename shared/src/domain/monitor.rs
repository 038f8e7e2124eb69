//! Monitors' rules, as pure functions the scheduler and the tests share: what one check
//! means (expected status codes and ranges, keyword, latency threshold), how consecutive
//! verdicts move a monitor between states with its failure and success thresholds, and
//! the flapping guard on automatic incidents; and monitors as the API shows and takes
//! them, with a day's counters of checks ([`tally`]).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::Invalid;

/// The intervals a monitor may have, in seconds.
pub const INTERVALS: [u32; 6] = [30, 60, 300, 600, 1800, 3600];
/// Longest timeout, in seconds.
pub const MAX_TIMEOUT_SECS: u32 = 30;
/// Automatic incidents one monitor may open in an hour; the next is `monitor.flapping`.
pub const AUTO_INCIDENTS_PER_HOUR: usize = 5;

/// `expectedStatus`: codes and ranges, comma-separated (`200-299,301`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedStatus(Vec<(u16, u16)>);

impl ExpectedStatus {
    /// Parses `200-299,301`: each part a code or an inclusive range of codes 100–599.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = || {
            Invalid::field(
                "expectedStatus",
                "must be HTTP status codes (100-599) and ranges, comma-separated, such as 200-299,301",
            )
        };
        if raw.len() > 200 {
            return Err(bad());
        }
        let code = |s: &str| s.trim().parse::<u16>().ok().filter(|c| (100..=599).contains(c));
        let mut ranges = Vec::new();
        for part in raw.split(',') {
            let range = match part.split_once('-') {
                Some((a, b)) => (code(a).ok_or_else(bad)?, code(b).ok_or_else(bad)?),
                None => {
                    let c = code(part).ok_or_else(bad)?;
                    (c, c)
                }
            };
            if range.0 > range.1 {
                return Err(bad());
            }
            ranges.push(range);
        }
        Ok(Self(ranges))
    }

    /// Whether `code` is expected.
    pub fn contains(&self, code: u16) -> bool {
        self.0.iter().any(|(a, b)| (*a..=*b).contains(&code))
    }
}

impl std::fmt::Display for ExpectedStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> =
            self.0.iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
        f.write_str(&parts.join(","))
    }
}

/// What one request to a monitored URL came to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Probe {
    /// The response status, when there was a response.
    pub status: Option<u16>,
    /// Time to the response headers, or to the failure.
    pub latency_ms: u64,
    /// Why there was no response (timeout, refused target, connection error).
    pub error: Option<String>,
    /// With a keyword: whether the body (its first MiB) contained it.
    pub keyword_found: Option<bool>,
}

/// One check's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Answered as expected, in time.
    Up,
    /// Answered as expected, slower than `degradedAfterMs`.
    Degraded,
    /// No answer, an unexpected status, or the keyword missing.
    Down,
}

/// A check's verdict and, when down, why.
pub fn judge(probe: &Probe, expected: &ExpectedStatus, degraded_after_ms: Option<u32>) -> (Verdict, Option<String>) {
    let Some(status) = probe.status else {
        return (Verdict::Down, Some(probe.error.clone().unwrap_or_else(|| "no response".to_owned())));
    };
    if !expected.contains(status) {
        return (Verdict::Down, Some(format!("status {status}, expected {expected}")));
    }
    if probe.keyword_found == Some(false) {
        return (Verdict::Down, Some("keyword not found".to_owned()));
    }
    match degraded_after_ms {
        Some(limit) if probe.latency_ms > u64::from(limit) => (Verdict::Degraded, None),
        _ => (Verdict::Up, None),
    }
}

/// Where a monitor stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitorStatus {
    /// Not yet judged.
    #[default]
    Pending,
    /// Up.
    Up,
    /// Down: `failureThreshold` failures in a row.
    Down,
    /// Up but slow.
    Degraded,
    /// Not checked.
    Paused,
}

impl MonitorStatus {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Up => "up",
            Self::Down => "down",
            Self::Degraded => "degraded",
            Self::Paused => "paused",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Up, Self::Down, Self::Degraded, Self::Paused].into_iter().find(|s| s.as_str() == raw)
    }
}

/// A monitor's state between checks: its status and its current runs of failures and
/// successes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Runs {
    /// Status.
    pub status: MonitorStatus,
    /// Failed checks in a row.
    pub failures: u32,
    /// Successful checks in a row.
    pub successes: u32,
}

/// What a verdict does to a monitor: its runs after, and the status it changed to, if
/// it changed in a way worth an event (a first `up` from `pending` is not).
pub fn step(
    before: Runs,
    verdict: Verdict,
    failure_threshold: u32,
    success_threshold: u32,
) -> (Runs, Option<MonitorStatus>) {
    let mut after = before;
    match verdict {
        // Runs stop counting at their threshold, so a steady monitor's state stops
        // changing (and need not be written at every check).
        Verdict::Down => {
            after.failures = (after.failures + 1).min(failure_threshold.max(1));
            after.successes = 0;
            if before.status != MonitorStatus::Down && after.failures >= failure_threshold {
                after.status = MonitorStatus::Down;
            }
        }
        Verdict::Up | Verdict::Degraded => {
            after.successes = (after.successes + 1).min(success_threshold.max(1));
            after.failures = 0;
            let next = if verdict == Verdict::Up { MonitorStatus::Up } else { MonitorStatus::Degraded };
            let recovered = before.status != MonitorStatus::Down || after.successes >= success_threshold;
            if recovered {
                after.status = next;
            }
        }
    }
    let changed = after.status != before.status && before.status != MonitorStatus::Pending
        || (before.status == MonitorStatus::Pending && after.status == MonitorStatus::Down);
    (after, changed.then_some(after.status))
}

/// Whether another automatic incident may open, given when the monitor's recent ones
/// opened (epoch seconds) and now: at most [`AUTO_INCIDENTS_PER_HOUR`] in the last hour.
pub fn may_open_incident(opened: &[i64], now: i64) -> bool {
    opened.iter().filter(|at| now - **at < 3600).count() < AUTO_INCIDENTS_PER_HOUR
}

/// Why a linked monitor cannot be deleted, or get another URL, through the monitors API.
pub const LINKED_FOLLOWS_SERVICE: &str =
    "This monitor is linked to its service and follows the service's monitorUrl: change or remove that instead.";

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
    /// One of [`crate::domain::monitor::INTERVALS`].
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

/// A validated change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct MonitorPatch {
    /// New name.
    pub name: Option<String>,
    /// New URL.
    pub url: Option<String>,
    /// New method.
    pub method: Option<String>,
    /// New interval.
    pub interval_seconds: Option<u32>,
    /// New timeout.
    pub timeout_seconds: Option<u32>,
    /// New expected status.
    pub expected_status: Option<String>,
    /// New or cleared keyword.
    pub keyword: Option<Option<String>>,
    /// New or cleared degraded threshold.
    pub degraded_after_ms: Option<Option<u32>>,
    /// New failure threshold.
    pub failure_threshold: Option<u32>,
    /// New success threshold.
    pub success_threshold: Option<u32>,
    /// Pause or resume.
    pub paused: Option<bool>,
}

impl MonitorPatch {
    /// Applies the patch to a monitor; returns whether what is checked changed (the
    /// URL, method or expectations), after which its runs start over.
    pub fn apply(&self, m: &mut Monitor) -> bool {
        let before = (m.url.clone(), m.method.clone(), m.expected_status.clone(), m.keyword.clone());
        if let Some(v) = &self.name {
            m.name.clone_from(v);
        }
        if let Some(v) = &self.url {
            m.url.clone_from(v);
        }
        if let Some(v) = &self.method {
            m.method.clone_from(v);
        }
        if let Some(v) = self.interval_seconds {
            m.interval_seconds = v;
        }
        if let Some(v) = self.timeout_seconds {
            m.timeout_seconds = v;
        }
        if let Some(v) = &self.expected_status {
            m.expected_status.clone_from(v);
        }
        if let Some(v) = &self.keyword {
            m.keyword.clone_from(v);
        }
        if let Some(v) = self.degraded_after_ms {
            m.degraded_after_ms = v;
        }
        if let Some(v) = self.failure_threshold {
            m.failure_threshold = v;
        }
        if let Some(v) = self.success_threshold {
            m.success_threshold = v;
        }
        if let Some(v) = self.paused {
            m.paused = v;
        }
        before != (m.url.clone(), m.method.clone(), m.expected_status.clone(), m.keyword.clone())
    }
}

/// A day's counters after one more check with `verdict` at `now`: today's, counted on
/// from `counters` when they are today's; with the counters of a day that ended, to keep
/// as its rollup.
pub fn tally(
    counters: Option<&DayCounters>,
    now: chrono::DateTime<chrono::Utc>,
    verdict: Verdict,
    probe: &Probe,
) -> (DayCounters, Option<DayCounters>) {
    let today = now.date_naive().to_string();
    let mut rollup = None;
    let mut day = match counters {
        Some(d) if d.date == today => d.clone(),
        Some(d) => {
            rollup = Some(d.clone());
            DayCounters { date: today, ..DayCounters::default() }
        }
        None => DayCounters { date: today, ..DayCounters::default() },
    };
    day.checks += 1;
    if verdict != Verdict::Down {
        day.passed += 1;
    }
    if verdict == Verdict::Degraded {
        day.degraded += 1;
    }
    if probe.status.is_some() {
        day.answered += 1;
        day.latency_sum_ms += probe.latency_ms;
    }
    (day, rollup)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(status: u16, latency_ms: u64) -> Probe {
        Probe { status: Some(status), latency_ms, error: None, keyword_found: None }
    }

    #[test]
    fn expected_status_takes_codes_and_ranges_and_refuses_the_rest() {
        let e = ExpectedStatus::parse("200-299, 301").unwrap();
        assert!(e.contains(204) && e.contains(301) && !e.contains(302) && !e.contains(500));
        assert_eq!(e.to_string(), "200-299,301");
        for bad in ["", "abc", "200-", "299-200", "99", "600", "200,,201", "2000-3000"] {
            assert!(ExpectedStatus::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_check_is_down_without_an_expected_answer_or_keyword_and_degraded_when_slow() {
        let e = ExpectedStatus::parse("200-299").unwrap();
        assert_eq!(judge(&probe(200, 40), &e, Some(500)).0, Verdict::Up);
        assert_eq!(judge(&probe(200, 900), &e, Some(500)).0, Verdict::Degraded);
        assert_eq!(judge(&probe(503, 40), &e, None), (Verdict::Down, Some("status 503, expected 200-299".into())));
        let missing = Probe { keyword_found: Some(false), ..probe(200, 40) };
        assert_eq!(judge(&missing, &e, None).0, Verdict::Down);
        let timeout = Probe { status: None, latency_ms: 2000, error: Some("timed out".into()), keyword_found: None };
        assert_eq!(judge(&timeout, &e, None), (Verdict::Down, Some("timed out".into())));
    }

    #[test]
    fn the_issue_sequence_with_thresholds_3_and_2_goes_down_at_the_sixth_check_and_up_at_the_tenth() {
        use Verdict::{Down as F, Up as O};
        let sequence = [F, F, O, F, F, F, O, F, O, O];
        let mut runs = Runs::default();
        let mut events = Vec::new();
        for (i, verdict) in sequence.into_iter().enumerate() {
            let (after, changed) = step(runs, verdict, 3, 2);
            if let Some(status) = changed {
                events.push((i + 1, status));
            }
            runs = after;
        }
        assert_eq!(events, [(6, MonitorStatus::Down), (10, MonitorStatus::Up)]);
    }

    #[test]
    fn a_steady_monitors_runs_stop_changing() {
        let up = Runs { status: MonitorStatus::Up, failures: 0, successes: 2 };
        assert_eq!(step(up, Verdict::Up, 3, 2), (up, None));
        let down = Runs { status: MonitorStatus::Down, failures: 3, successes: 0 };
        assert_eq!(step(down, Verdict::Down, 3, 2), (down, None));
    }

    #[test]
    fn the_flap_guard_allows_five_automatic_incidents_an_hour() {
        let now = 10_000;
        let five: Vec<i64> = (0..5).map(|i| now - 3000 + i * 60).collect();
        assert!(!may_open_incident(&five, now));
        assert!(may_open_incident(&five[1..], now));
        assert!(may_open_incident(&five, now + 3000), "an hour after the first, one more may open");
    }
}
