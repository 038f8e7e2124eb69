//! What a public route shows, read in a bounded number of calls whatever the size of the
//! page: the slug's claim and the page (2), the services with their recent status
//! history (1), every incident of the page (1), every maintenance window with its
//! updates (1) and the updates of the incidents whose timelines are shown (1).

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use livestatus_shared::domain::uptime::{self, Change};
use livestatus_shared::domain::{Impact, IncidentStatus, MaintenanceStatus, ServiceStatus};
use livestatus_shared::store::incidents::Incident;
use livestatus_shared::store::maintenances::{Maintenance, MaintenanceRecord};
use livestatus_shared::store::pages::Page;
use livestatus_shared::store::services::Service;
use livestatus_shared::{ApiError, AppState};
use uuid::Uuid;

/// Days of uptime bars on the page.
pub const BAR_DAYS: i64 = 90;
/// Days of incident history on the page.
pub const HISTORY_DAYS: i64 = 15;

/// Which incidents a route needs with their updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timelines {
    /// None.
    None,
    /// The open ones (the page's active incidents, `summary.json`,
    /// `incidents/unresolved.json`).
    Open,
    /// The `n` most recent, of one service when given (`incidents.json`, the feeds).
    Recent(usize, Option<Uuid>),
    /// One incident (its permalink).
    Only(Uuid),
}

/// A public page and everything under it that the route needs.
#[derive(Debug)]
pub struct View {
    /// The page.
    pub page: Page,
    /// Its services in display order.
    pub services: Vec<Service>,
    /// Status changes of the services since the start of the bars, oldest first.
    pub changes: HashMap<Uuid, Vec<Change>>,
    /// Every incident, newest first; `updates` filled for those asked for.
    pub incidents: Vec<Incident>,
    /// Every maintenance window with its updates, soonest first.
    pub maintenances: Vec<MaintenanceRecord>,
    /// When the view was read.
    pub now: DateTime<Utc>,
}

/// Statuspage's overall indicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Indicator {
    /// Nothing wrong.
    None,
    /// Planned work, nothing worse.
    Maintenance,
    /// Degraded, or a minor incident.
    Minor,
    /// An outage, or a major incident.
    Major,
    /// A critical incident.
    Critical,
}

impl Indicator {
    /// Statuspage's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Maintenance => "maintenance",
            Self::Minor => "minor",
            Self::Major => "major",
            Self::Critical => "critical",
        }
    }

    /// Statuspage's description.
    pub const fn description(self) -> &'static str {
        match self {
            Self::None => "All Systems Operational",
            Self::Maintenance => "Service Under Maintenance",
            Self::Minor => "Minor Service Outage",
            Self::Major => "Partial System Outage",
            Self::Critical => "Major Service Outage",
        }
    }

    fn of_impact(impact: Impact) -> Self {
        match impact {
            Impact::Minor => Self::Minor,
            Impact::Major => Self::Major,
            Impact::Critical => Self::Critical,
        }
    }

    fn of_service(status: ServiceStatus) -> Self {
        match status {
            ServiceStatus::Operational => Self::None,
            ServiceStatus::Maintenance => Self::Maintenance,
            ServiceStatus::Degraded => Self::Minor,
            ServiceStatus::Outage => Self::Major,
        }
    }
}

/// Parses an API timestamp.
pub fn parse_time(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw).map(|t| t.to_utc()).unwrap_or_default()
}

impl View {
    /// Reads the view of the public page `slug`; `None` when there is no such public page.
    /// `history` asks for the status changes behind the uptime bars.
    pub async fn load(
        state: &AppState,
        slug: &str,
        history: bool,
        timelines: Timelines,
    ) -> Result<Option<Self>, ApiError> {
        let now = state.clock.now();
        let Some((org, page)) = state.store.public_page(slug).await? else { return Ok(None) };
        // A day before the bars: the badges' 90-day window starts at this hour 90 days ago.
        let since = if history { bars_start(now) - Duration::days(1) } else { now };
        let since = livestatus_shared::clock::timestamp(since);
        let (services, mut incidents, maintenances) = tokio::try_join!(
            state.store.services_with_history(org, page.id, &since),
            state.store.page_incidents(org, page.id),
            state.store.page_maintenances(org, page.id)
        )?;
        let wanted: Vec<Uuid> = match timelines {
            Timelines::None => Vec::new(),
            Timelines::Open => incidents.iter().filter(|i| is_open(i)).map(|i| i.id).collect(),
            Timelines::Recent(n, service) => incidents
                .iter()
                .filter(|i| service.is_none_or(|s| i.affected_service_ids.contains(&s)))
                .take(n)
                .map(|i| i.id)
                .collect(),
            Timelines::Only(id) => vec![id],
        };
        if let (Some(oldest), Some(newest)) = (wanted.iter().min(), wanted.iter().max()) {
            let mut updates = state.store.page_incident_updates(org, page.id, *oldest, *newest).await?;
            for incident in incidents.iter_mut().filter(|i| wanted.contains(&i.id)) {
                incident.updates = Some(updates.remove(&incident.id).unwrap_or_default());
            }
        }
        Ok(Some(Self { page, services: services.services, changes: services.changes, incidents, maintenances, now }))
    }

    /// The maintenance windows under way (in progress or verifying), soonest first.
    pub fn active_maintenances(&self) -> impl Iterator<Item = &Maintenance> {
        self.maintenances.iter().map(|r| &r.maintenance).filter(|m| m.status.is_active())
    }

    /// The maintenance windows announced and not yet started, soonest first.
    pub fn upcoming_maintenances(&self) -> impl Iterator<Item = &Maintenance> {
        self.maintenances.iter().map(|r| &r.maintenance).filter(|m| m.status == MaintenanceStatus::Scheduled)
    }

    /// A window by id.
    pub fn maintenance(&self, id: Uuid) -> Option<&Maintenance> {
        self.maintenances.iter().map(|r| &r.maintenance).find(|m| m.id == id)
    }

    /// The names of the page's services among `ids`, in display order.
    pub fn service_names(&self, ids: &[Uuid]) -> Vec<&str> {
        self.services.iter().filter(|s| ids.contains(&s.id)).map(|s| s.name.as_str()).collect()
    }

    /// The open incidents, newest first.
    pub fn open_incidents(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.iter().filter(|i| is_open(i))
    }

    /// The overall indicator: the worst of the open incidents' impacts and the services'
    /// states; maintenance only when nothing is worse.
    pub fn indicator(&self) -> Indicator {
        let incidents = self.open_incidents().map(|i| Indicator::of_impact(i.impact));
        let services = self.services.iter().map(|s| Indicator::of_service(s.current_status));
        incidents.chain(services).max().unwrap_or(Indicator::None)
    }

    /// The latest change of anything on the page.
    pub fn updated_at(&self) -> &str {
        let services = self.services.iter().map(|s| s.updated_at.as_str());
        let incidents = self.incidents.iter().map(|i| i.updated_at.as_str());
        let maintenances = self.maintenances.iter().map(|m| m.maintenance.updated_at.as_str());
        services
            .chain(incidents)
            .chain(maintenances)
            .chain([self.page.updated_at.as_str()])
            .max()
            .unwrap_or(&self.page.updated_at)
    }

    /// A service's numbers for the last `days` UTC days up to today.
    pub fn service_days(&self, service: &Service, days: i64) -> Vec<uptime::Day> {
        let today = self.now.date_naive();
        let from = today - Duration::days(days - 1);
        self.service_range(service, from, today)
    }

    /// A service's numbers for a range of days within the bars.
    pub fn service_range(&self, service: &Service, from: NaiveDate, to: NaiveDate) -> Vec<uptime::Day> {
        let changes = self.changes.get(&service.id).map(Vec::as_slice).unwrap_or_default();
        uptime::days(parse_time(&service.created_at), service.current_status, changes, from, to, self.now)
    }

    /// A service's uptime over the last `window`, floored like the API's.
    pub fn service_uptime(&self, service: &Service, window: Duration) -> Option<f64> {
        let from = self.now - window;
        let days = self.service_range(service, from.date_naive(), self.now.date_naive());
        // Whole days, then the part of the first day before the window taken out again.
        let mut observed: i64 = days.iter().map(|d| d.observed_seconds).sum();
        let mut outage: i64 = days.iter().map(|d| d.outage_seconds).sum();
        // Less the part of the first day before the window.
        let changes = self.changes.get(&service.id).map(Vec::as_slice).unwrap_or_default();
        let created = parse_time(&service.created_at);
        let before = uptime::days(created, service.current_status, changes, from.date_naive(), from.date_naive(), from);
        if let Some(before) = before.first() {
            observed -= before.observed_seconds;
            outage -= before.outage_seconds;
        }
        uptime::percentage(observed, outage)
    }
}

/// Whether an incident is unresolved.
pub fn is_open(incident: &Incident) -> bool {
    incident.status != IncidentStatus::Resolved
}

/// The first instant of the uptime bars.
pub fn bars_start(now: DateTime<Utc>) -> DateTime<Utc> {
    (now.date_naive() - Duration::days(BAR_DAYS - 1)).and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}
