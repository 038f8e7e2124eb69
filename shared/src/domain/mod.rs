//! The domain's rules, apart from persistence and HTTP: small typed values parsed at the
//! edge (so handlers and the store never see raw strings), plans and their limits, and
//! the rules of monitors ([`monitor`]), of uptime ([`uptime`]) and of on-call tools'
//! alerts ([`alerts`]).

pub mod alerts;
pub mod chat;
pub mod colors;
pub mod custom_domain;
mod invalid;
#[cfg(feature = "store")]
pub mod maintenance;
#[cfg(feature = "store")]
pub mod markdown;
#[cfg(feature = "store")]
pub mod monitor;
#[cfg(feature = "store")]
pub mod page_access;
#[cfg(feature = "store")]
pub mod uptime;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use invalid::{Invalid, MissingScope};

/// A page slug: `^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$` with no `--`. Slugs are global.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Parses a slug, answering `invalid_slug` with what is wrong.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = |why: &str| Err(Invalid::Slug(why.to_owned()));
        let len = raw.len();
        if !(3..=63).contains(&len) {
            return bad("must be 3 to 63 characters long");
        }
        if !raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return bad("may contain only lowercase letters a-z, digits and hyphens");
        }
        if raw.starts_with('-') || raw.ends_with('-') {
            return bad("must start and end with a letter or digit");
        }
        if raw.contains("--") {
            return bad("must not contain two hyphens in a row");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A colour written `#RRGGBB`, kept in lowercase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HexColor(pub [u8; 3]);

impl HexColor {
    /// Parses `#RRGGBB` (either case); `field` names the parameter in the error.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        let err = || Invalid::field(field, "must be a colour written #RRGGBB");
        let hex = raw
            .strip_prefix('#')
            .filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(err)?;
        let mut rgb = [0u8; 3];
        for (i, byte) in rgb.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2).ok_or_else(err)?, 16).map_err(|_| err())?;
        }
        Ok(Self(rgb))
    }
}

impl fmt::Display for HexColor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0[0], self.0[1], self.0[2])
    }
}

/// Checks a text field's length in characters (not bytes) and that it carries no control
/// characters; `min` 0 allows empty. Returns the text unchanged.
pub fn text(field: &str, value: String, min: usize, max: usize) -> Result<String, Invalid> {
    let chars = value.chars().count();
    if chars < min {
        return Err(if min == 1 {
            Invalid::field(field, "must not be empty")
        } else {
            Invalid::field(field, format_args!("must be at least {min} characters"))
        });
    }
    if chars > max {
        return Err(Invalid::field(field, format_args!("must be at most {max} characters (got {chars})")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(Invalid::field(field, "must not contain control characters"));
    }
    if value.chars().any(is_invisible_trick) {
        return Err(Invalid::field(
            field,
            "must not contain bidirectional overrides, byte-order marks or Unicode noncharacters",
        ));
    }
    Ok(value)
}

/// Characters that change how text around them displays without being seen themselves
/// (bidirectional embeddings, overrides and isolates, which can disguise a status page's
/// text), the byte-order mark, and Unicode noncharacters. Emoji joiners and other
/// ordinary format characters stay allowed.
fn is_invisible_trick(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{FDD0}'..='\u{FDEF}')
        || (c as u32 & 0xFFFE) == 0xFFFE
}

/// A name that must have visible content: 1..=max characters, not only whitespace.
pub fn name(field: &str, value: String, max: usize) -> Result<String, Invalid> {
    if value.trim().is_empty() {
        return Err(Invalid::field(field, "must not be empty or only whitespace"));
    }
    let value = text(field, value, 1, max)?;
    if value.contains(['\n', '\r', '\t']) {
        return Err(Invalid::field(field, "must be a single line"));
    }
    Ok(value)
}

/// The text of an update (incident or maintenance): 1–10000 characters, not blank;
/// several lines allowed.
pub fn update_body(raw: String) -> Result<String, Invalid> {
    if raw.trim().is_empty() {
        return Err(Invalid::field("body", "must not be empty"));
    }
    text("body", raw, 1, UPDATE_BODY_MAX)
}

/// Longest update text.
pub const UPDATE_BODY_MAX: usize = 10_000;

/// The text of a postmortem: 1–50000 characters of Markdown, not blank.
pub fn postmortem_body(raw: String) -> Result<String, Invalid> {
    if raw.trim().is_empty() {
        return Err(Invalid::field("body", "must not be empty"));
    }
    text("body", raw, 1, POSTMORTEM_BODY_MAX)
}

/// Longest postmortem.
pub const POSTMORTEM_BODY_MAX: usize = 50_000;

/// Parses a list of service ids of at most `max`, dropping duplicates and keeping the
/// caller's order.
pub fn service_ids(field: &str, raw: Vec<String>, max: usize) -> Result<Vec<uuid::Uuid>, Invalid> {
    if raw.len() > max {
        return Err(Invalid::field(field, format_args!("may name at most {max} services")));
    }
    let mut ids = Vec::with_capacity(raw.len());
    for s in raw {
        let id = uuid::Uuid::parse_str(&s).map_err(|_| {
            let shown: String = s.chars().take(64).collect();
            Invalid::field(field, format_args!("`{shown}` is not a service id"))
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// An organization's plan. Its limits live in [`Plan::limits`], the one table of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// One page, no API keys.
    Free,
    /// Ten pages and API keys.
    Pro,
    /// A hundred pages and API keys.
    Business,
}

/// What a plan allows. One tenant's share of what every tenant shares (the sender, the
/// scheduler's minute, the table's partitions) is bounded here.
#[derive(Clone, Copy, Debug)]
pub struct PlanLimits {
    /// Pages per organization.
    pub pages: u32,
    /// Whether the organization may hold API keys created through the API.
    pub api_keys: bool,
    /// Requests per minute per key.
    pub requests_per_minute: u32,
    /// API keys created through the API that the organization holds at once (not revoked).
    pub keys: u32,
    /// Webhooks per organization.
    pub webhooks: u32,
    /// Monitors per organization, linked ones included.
    pub monitors: u32,
    /// Services per page.
    pub services_per_page: u32,
    /// Active subscribers per page.
    pub subscribers_per_page: u32,
    /// Email subscribers added with `skipConfirmation` per organization per UTC day.
    pub unconfirmed_per_day: u32,
}

impl Plan {
    /// Every plan, for building conditions over the limit table.
    pub const ALL: [Plan; 3] = [Plan::Free, Plan::Pro, Plan::Business];

    /// The limit table.
    pub const fn limits(self) -> PlanLimits {
        match self {
            Plan::Free => PlanLimits {
                pages: 1,
                api_keys: false,
                requests_per_minute: 60,
                keys: 0,
                webhooks: 5,
                monitors: 10,
                services_per_page: 25,
                subscribers_per_page: 500,
                unconfirmed_per_day: 0,
            },
            Plan::Pro => PlanLimits {
                pages: 10,
                api_keys: true,
                requests_per_minute: 60,
                keys: 25,
                webhooks: 50,
                monitors: 100,
                services_per_page: 100,
                subscribers_per_page: 10_000,
                unconfirmed_per_day: 100,
            },
            Plan::Business => PlanLimits {
                pages: 100,
                api_keys: true,
                requests_per_minute: 60,
                keys: 100,
                webhooks: 100,
                monitors: 1_000,
                services_per_page: 300,
                subscribers_per_page: 100_000,
                unconfirmed_per_day: 1_000,
            },
        }
    }

    /// The plan's name as stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Business => "business",
        }
    }

    /// Parses `free`, `pro` or `business`.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }
}

/// The accent of a page with no `brandColor`.
pub const DEFAULT_BRAND_COLOR: &str = "#0969da";

/// An email address as subscribers give it: one `@`, a local part and a dotted domain,
/// no spaces or angle brackets, at most 254 characters (RFC 5321's path limit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses `raw` (trimmed) for `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim();
        let bad = || Invalid::field(field, "must be an email address such as ops@example.com");
        if value.is_empty() || value.chars().count() > 254 {
            return Err(bad());
        }
        let (local, domain) = value.rsplit_once('@').ok_or_else(bad)?;
        let forbidden = |c: char| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"@".contains(c);
        let labels_ok = domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if local.is_empty()
            || local.len() > 64
            || local.chars().any(forbidden)
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
            || !domain.contains('.')
            || !labels_ok
        {
            return Err(bad());
        }
        Ok(Self(value.to_owned()))
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address's identity for uniqueness: SHA-256 (hex) of it in lower case.
    pub fn identity_hash(&self) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(self.0.to_lowercase().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A permission an API key may hold. An empty scope list means full access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read pages.
    PagesRead,
    /// Create, change and delete pages.
    PagesWrite,
    /// Read services.
    ServicesRead,
    /// Create, change and delete services.
    ServicesWrite,
    /// Read incidents.
    IncidentsRead,
    /// Open and update incidents.
    IncidentsWrite,
    /// List keys.
    KeysRead,
    /// Create and revoke keys.
    KeysWrite,
    /// Read status history and uptime.
    AnalyticsRead,
    /// Read the audit log of events.
    EventsRead,
    /// Read webhooks and their deliveries.
    WebhooksRead,
    /// Create, change, test and delete webhooks; retry deliveries.
    WebhooksWrite,
    /// Read subscribers and their deliveries.
    SubscribersRead,
    /// Add, test and unsubscribe subscribers.
    SubscribersWrite,
    /// Read maintenance windows.
    MaintenancesRead,
    /// Schedule, change, update and cancel maintenance windows.
    MaintenancesWrite,
    /// Read monitors and their checks.
    MonitorsRead,
    /// Create, change, pause and delete monitors.
    MonitorsWrite,
    /// Read alert integrations and their request logs.
    IntegrationsRead,
    /// Create, change and delete alert integrations, rotate their tokens.
    IntegrationsWrite,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 20] = [
        Scope::PagesRead,
        Scope::PagesWrite,
        Scope::ServicesRead,
        Scope::ServicesWrite,
        Scope::IncidentsRead,
        Scope::IncidentsWrite,
        Scope::KeysRead,
        Scope::KeysWrite,
        Scope::AnalyticsRead,
        Scope::EventsRead,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
        Scope::SubscribersRead,
        Scope::SubscribersWrite,
        Scope::MaintenancesRead,
        Scope::MaintenancesWrite,
        Scope::MonitorsRead,
        Scope::MonitorsWrite,
        Scope::IntegrationsRead,
        Scope::IntegrationsWrite,
    ];

    /// The scope's wire name, e.g. `pages:read`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::PagesRead => "pages:read",
            Scope::PagesWrite => "pages:write",
            Scope::ServicesRead => "services:read",
            Scope::ServicesWrite => "services:write",
            Scope::IncidentsRead => "incidents:read",
            Scope::IncidentsWrite => "incidents:write",
            Scope::KeysRead => "keys:read",
            Scope::KeysWrite => "keys:write",
            Scope::AnalyticsRead => "analytics:read",
            Scope::EventsRead => "events:read",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
            Scope::SubscribersRead => "subscribers:read",
            Scope::SubscribersWrite => "subscribers:write",
            Scope::MaintenancesRead => "maintenances:read",
            Scope::MaintenancesWrite => "maintenances:write",
            Scope::MonitorsRead => "monitors:read",
            Scope::MonitorsWrite => "monitors:write",
            Scope::IntegrationsRead => "integrations:read",
            Scope::IntegrationsWrite => "integrations:write",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Parses a list of scope names, rejecting unknown ones and dropping duplicates.
    pub fn parse_list(field: &str, raw: &[String]) -> Result<Vec<Scope>, Invalid> {
        let mut scopes = Vec::with_capacity(raw.len());
        for name in raw {
            let scope = Self::parse(name).ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|s| s.as_str()).collect();
                Invalid::field(field, format_args!("unknown scope `{name}`; known scopes: {}", known.join(", ")))
            })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes.sort();
        Ok(scopes)
    }
}

/// The scopes a key holds; empty means every scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes(pub Vec<Scope>);

impl Scopes {
    /// Whether these scopes grant `scope`.
    pub fn allows(&self, scope: Scope) -> bool {
        self.0.is_empty() || self.0.contains(&scope)
    }

    /// Whether every scope of `other` is granted by these.
    pub fn covers(&self, other: &Scopes) -> bool {
        if self.0.is_empty() {
            return true;
        }
        !other.0.is_empty() && other.0.iter().all(|s| self.allows(*s))
    }

    /// Wire names.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|s| s.as_str().to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rules_follow_the_contract() {
        for ok in ["abc", "a1b", "my-status-page", &"a".repeat(63)] {
            assert!(Slug::parse(ok).is_ok(), "{ok} should be valid");
        }
        for bad in ["ab", "-abc", "abc-", "a--b", "ABC", "ab c", "ab_c", "ünï", &"a".repeat(64), ""] {
            assert!(matches!(Slug::parse(bad), Err(Invalid::Slug(_))), "{bad} should be invalid");
        }
    }

    #[test]
    fn hex_colors_parse_and_print_lowercase() {
        assert_eq!(HexColor::parse("c", "#A1b2C3").unwrap().to_string(), "#a1b2c3");
        for bad in ["a1b2c3", "#a1b2c", "#a1b2c3d", "#ggg000", "#+1+1+1", "#ééé"] {
            assert!(HexColor::parse("c", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_length_counts_characters_not_bytes() {
        assert!(text("t", "é".repeat(100), 1, 100).is_ok());
        assert!(text("t", "é".repeat(101), 1, 100).is_err());
        assert!(name("n", "   ".into(), 10).is_err());
        assert!(text("t", "a\u{0}b".into(), 0, 10).is_err());
        assert!(name("n", "evil\u{202E}txt.exe".into(), 50).is_err());
        assert!(text("t", "\u{FEFF}x".into(), 0, 10).is_err());
        assert!(text("t", "x\u{FFFF}".into(), 0, 10).is_err());
        assert!(name("n", "Café ☕ 👩‍💻 e\u{301}".into(), 50).is_ok(), "accents, emoji and joiners are fine");
    }

    #[test]
    fn empty_scopes_cover_everything_and_nothing_covers_full_access_but_full_access() {
        let full = Scopes::default();
        let read = Scopes(vec![Scope::PagesRead]);
        assert!(full.covers(&read));
        assert!(!read.covers(&full));
        assert!(!read.covers(&Scopes(vec![Scope::PagesWrite])));
        assert!(read.covers(&read));
    }
}

/// A service's current status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceStatus {
    /// Working normally (the default).
    #[default]
    Operational,
    /// Working, but slow or partly failing.
    Degraded,
    /// Not working.
    Outage,
    /// Planned work.
    Maintenance,
}

impl ServiceStatus {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Operational => "operational",
            Self::Degraded => "degraded",
            Self::Outage => "outage",
            Self::Maintenance => "maintenance",
        }
    }
}

/// How bad an incident is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Impact {
    /// Minor.
    Minor,
    /// Major.
    Major,
    /// Critical.
    Critical,
}

/// Where an incident stands; `resolved` closes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    /// Looking into it.
    Investigating,
    /// Cause found.
    Identified,
    /// Fix applied, watching.
    Monitoring,
    /// Over.
    Resolved,
}

impl IncidentStatus {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Investigating => "investigating",
            Self::Identified => "identified",
            Self::Monitoring => "monitoring",
            Self::Resolved => "resolved",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Investigating, Self::Identified, Self::Monitoring, Self::Resolved]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// Where a maintenance window stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceStatus {
    /// Announced, not started.
    Scheduled,
    /// Under way: its services are under maintenance.
    InProgress,
    /// Work done, being checked; its services are still under maintenance.
    Verifying,
    /// Over: its services are back.
    Completed,
    /// Called off (`DELETE`); it stays listed.
    Cancelled,
}

impl MaintenanceStatus {
    /// Every status.
    pub const ALL: [Self; 5] = [Self::Scheduled, Self::InProgress, Self::Verifying, Self::Completed, Self::Cancelled];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::InProgress => "in_progress",
            Self::Verifying => "verifying",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether its services are held under maintenance.
    pub const fn is_active(self) -> bool {
        matches!(self, Self::InProgress | Self::Verifying)
    }

    /// Whether it is over (completed or cancelled): no more transitions.
    pub const fn is_over(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }
}

/// An absolute `http` or `https` URL of at most 2048 characters.
pub fn monitor_url(raw: String) -> Result<String, Invalid> {
    let field = "monitorUrl";
    let raw = text(field, raw, 1, 2048)?;
    let parsed = url::Url::parse(&raw)
        .map_err(|e| Invalid::field(field, format_args!("must be an absolute http(s) URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(Invalid::field(field, "must be an absolute http(s) URL"));
    }
    if raw.chars().any(char::is_whitespace) {
        return Err(Invalid::field(field, "must not contain whitespace"));
    }
    Ok(raw)
}

/// An RFC 3339 time with an offset (`2026-12-01T02:00:00Z`), to the millisecond.
#[cfg(feature = "store")]
pub fn instant(field: &str, raw: &str) -> Result<chrono::DateTime<chrono::Utc>, Invalid> {
    let at = chrono::DateTime::parse_from_rfc3339(raw)
        .map_err(|_| Invalid::field(field, "must be an RFC 3339 time such as 2027-01-01T02:00:00Z"))?
        .to_utc();
    Ok(chrono::DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at))
}

/// `Idempotency-Key`: 1–255 printable ASCII characters.
pub fn idempotency_key(raw: &[u8]) -> Result<String, Invalid> {
    if raw.is_empty() || raw.len() > 255 || !raw.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err(Invalid::Request("`Idempotency-Key` must be 1 to 255 printable ASCII characters.".into()));
    }
    Ok(String::from_utf8_lossy(raw).into_owned())
}
