//! The HTML pages, rendered by compile-time askama templates that escape every value:
//! the status page, an incident's permalink, the paged history and the 404 page.

use askama::Template;
use chrono::{Datelike, Duration, NaiveDate, Timelike};
use livestatus_shared::domain::markdown::{self, Flavor};
use livestatus_shared::domain::{Impact, IncidentStatus, MaintenanceStatus, ServiceStatus};
use livestatus_shared::store::incidents::Incident;
use livestatus_shared::store::maintenances::Maintenance;
use livestatus_shared::store::services::Service;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::Links;
use crate::view::{HISTORY_DAYS, Indicator, View, parse_time};

const STYLE: &str = include_str!("style.css");
/// What only the sign-in form and the embed use, so the page carries none of it.
const COMPACT: &str = include_str!("compact.css");

/// What goes into `<head>` and the frame of every page.
pub struct Head {
    /// `<title>`.
    pub title: String,
    /// Meta description.
    pub description: String,
    /// The page's name.
    pub site: String,
    /// The status page's URL.
    pub page_url: String,
    /// This document's URL.
    pub canonical: String,
    /// Statuspage indicator, also a CSS class.
    pub indicator: &'static str,
    /// Favicon as a data URI.
    pub favicon: String,
    /// The stylesheet with the page's accent.
    pub css: String,
}

/// A rendered HTML document with the hash its `<style>` needs in the CSP.
pub struct Document {
    /// The HTML.
    pub html: String,
    /// `sha256-…` of the inline stylesheet.
    pub style_hash: String,
}

fn css(accent: Option<&str>) -> String {
    format!(":root{{--accent:{}}}\n{STYLE}", accent.unwrap_or("#0969da"))
}

/// `sha256-<base64>` of a stylesheet, for `style-src`.
pub fn style_hash(css: &str) -> String {
    use base64::Engine;
    format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(css.as_bytes())))
}

fn favicon(indicator: Indicator) -> String {
    let color = match indicator {
        Indicator::None => "%231a7f37",
        Indicator::Maintenance => "%230969da",
        Indicator::Minor => "%239a6700",
        Indicator::Major => "%23bc4c00",
        Indicator::Critical => "%23cf222e",
    };
    format!(
        "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='{color}'/%3E%3C/svg%3E"
    )
}

fn banner_icon(indicator: Indicator) -> &'static str {
    match indicator {
        Indicator::None => "✓",
        Indicator::Maintenance => "i",
        _ => "!",
    }
}

fn head(view: &View, links: &Links, title: String, canonical: String) -> Head {
    let indicator = view.indicator();
    let description = match &view.page.description {
        Some(d) => format!("{}. {d}", indicator.description()),
        None => format!("{}: current status, incidents and uptime of {}.", indicator.description(), view.page.name),
    };
    Head {
        title,
        description,
        site: view.page.name.clone(),
        page_url: links.page(),
        canonical: links.canonical(&view.page, canonical),
        indicator: indicator.as_str(),
        favicon: favicon(indicator),
        css: css(view.page.brand_color.as_deref()),
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `Nov 22` (chrono's `format` parses its pattern on every call; this runs 900 times a page).
fn short_day(date: NaiveDate) -> String {
    format!("{} {}", MONTHS[date.month0() as usize], date.day())
}

/// `Nov 22, 2026`.
fn day(date: NaiveDate) -> String {
    format!("{} {}, {}", MONTHS[date.month0() as usize], date.day(), date.year())
}

/// `Nov 22, 2026, 10:30 UTC`.
pub fn when(raw: &str) -> String {
    let t = parse_time(raw);
    format!("{}, {:02}:{:02} UTC", day(t.date_naive()), t.hour(), t.minute())
}

fn impact(impact: Impact) -> (&'static str, &'static str) {
    match impact {
        Impact::Minor => ("minor", "Minor"),
        Impact::Major => ("major", "Major"),
        Impact::Critical => ("critical", "Critical"),
    }
}

/// The label of an incident status.
pub fn status_label(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Investigating => "Investigating",
        IncidentStatus::Identified => "Identified",
        IncidentStatus::Monitoring => "Monitoring",
        IncidentStatus::Resolved => "Resolved",
    }
}

/// The label of a maintenance status.
pub fn maintenance_label(status: MaintenanceStatus) -> &'static str {
    match status {
        MaintenanceStatus::Scheduled => "Scheduled",
        MaintenanceStatus::InProgress => "In progress",
        MaintenanceStatus::Verifying => "Verifying",
        MaintenanceStatus::Completed => "Completed",
        MaintenanceStatus::Cancelled => "Cancelled",
    }
}

/// A window's times: `Nov 24, 2026, 10:00 – 12:00 UTC`, with the end's day when it is
/// another.
pub fn window(from: &str, until: &str) -> String {
    let (a, b) = (parse_time(from), parse_time(until));
    let end = if a.date_naive() == b.date_naive() {
        format!("{:02}:{:02}", b.hour(), b.minute())
    } else {
        format!("{}, {:02}:{:02}", day(b.date_naive()), b.hour(), b.minute())
    };
    format!("{}, {:02}:{:02} – {end} UTC", day(a.date_naive()), a.hour(), a.minute())
}

fn service_state(status: ServiceStatus) -> (&'static str, &'static str, &'static str) {
    match status {
        ServiceStatus::Operational => ("operational", "✓", "Operational"),
        ServiceStatus::Degraded => ("degraded", "!", "Degraded performance"),
        ServiceStatus::Outage => ("outage", "✕", "Major outage"),
        ServiceStatus::Maintenance => ("maintenance", "i", "Under maintenance"),
    }
}

struct UpdateHtml {
    status: &'static str,
    when: String,
    iso: String,
    /// The body's Markdown as sanitized HTML.
    body: String,
}

fn update_html(status: &'static str, at: &str, body: &str) -> UpdateHtml {
    UpdateHtml { status, when: when(at), iso: at.to_owned(), body: markdown::to_html(body, Flavor::Update) }
}

struct IncidentHtml {
    url: String,
    title: String,
    impact: &'static str,
    impact_label: &'static str,
    affected: String,
    /// A maintenance window's planned times.
    window: Option<String>,
    updates: Vec<UpdateHtml>,
}

fn incident_html(view: &View, incident: &Incident, links: &Links) -> IncidentHtml {
    let (class, label) = impact(incident.impact);
    let affected: Vec<&str> = view
        .services
        .iter()
        .filter(|s| incident.affected_service_ids.contains(&s.id))
        .map(|s| s.name.as_str())
        .collect();
    IncidentHtml {
        url: links.incident(incident.id),
        title: incident.title.clone(),
        impact: class,
        impact_label: label,
        affected: affected.join(", "),
        window: None,
        updates: incident
            .updates
            .as_deref()
            .unwrap_or_default()
            .iter()
            .rev()
            .map(|u| update_html(status_label(u.status), &u.created_at, &u.body))
            .collect(),
    }
}

/// A maintenance window in the shape of an incident: its status as the tag, its times,
/// its services and its timeline.
fn maintenance_html(view: &View, m: &Maintenance, links: &Links) -> IncidentHtml {
    IncidentHtml {
        url: links.incident(m.id),
        title: m.title.clone(),
        impact: "maintenance",
        impact_label: maintenance_label(m.status),
        affected: view.service_names(&m.service_ids).join(", "),
        window: Some(window(&m.scheduled_for, &m.scheduled_until)),
        updates: m
            .updates
            .as_deref()
            .unwrap_or_default()
            .iter()
            .rev()
            .map(|u| update_html(maintenance_label(u.status), &u.created_at, &u.body))
            .collect(),
    }
}

/// An announced window: title, times, services and the announcement.
struct UpcomingHtml {
    url: String,
    title: String,
    window: String,
    iso: String,
    affected: String,
    /// The announcement's Markdown as sanitized HTML (empty without one).
    body: String,
}

fn upcoming_html(view: &View, m: &Maintenance, links: &Links) -> UpcomingHtml {
    let latest = m.updates.as_deref().unwrap_or_default().last();
    UpcomingHtml {
        url: links.incident(m.id),
        title: m.title.clone(),
        window: window(&m.scheduled_for, &m.scheduled_until),
        iso: m.scheduled_for.clone(),
        affected: view.service_names(&m.service_ids).join(", "),
        body: latest.map(|u| markdown::to_html(&u.body, Flavor::Update)).unwrap_or_default(),
    }
}

struct Bar {
    x: usize,
    class: &'static str,
    title: String,
    date: String,
    pct: String,
    outage: String,
    degraded: String,
    maintenance: String,
}

struct ServiceHtml {
    name: String,
    class: &'static str,
    icon: &'static str,
    label: &'static str,
    uptime: String,
    bars: Vec<Bar>,
    /// Indexes into `bars` of the days the table lists (newest first): those with any
    /// outage, degradation or maintenance.
    rows: Vec<usize>,
    /// What the table leaves out, said in words: every other bar's numbers.
    quiet: String,
}

fn minutes(seconds: i64) -> String {
    match seconds {
        0 => "–".to_owned(),
        s if s < 60 => "<1 min".to_owned(),
        s => format!("{} min", s / 60),
    }
}

fn pct(value: Option<f64>) -> String {
    value.map_or_else(|| "No data".to_owned(), |p| format!("{p}%"))
}

fn service_html(view: &View, service: &Service) -> ServiceHtml {
    let (class, icon, label) = service_state(service.current_status);
    let days = view.service_days(service, crate::view::BAR_DAYS);
    let bars: Vec<Bar> = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let class = match d.uptime_percentage {
                None => "n",
                Some(_) if d.outage_seconds > 0 => "o",
                Some(_) if d.degraded_seconds > 0 => "d",
                Some(_) if d.maintenance_seconds > 0 => "m",
                Some(_) => "u",
            };
            let mut title = format!("{}: {}", day(d.date), pct(d.uptime_percentage));
            if d.outage_seconds > 0 {
                title += &format!(", {} outage", minutes(d.outage_seconds));
            }
            if d.degraded_seconds > 0 {
                title += &format!(", {} degraded", minutes(d.degraded_seconds));
            }
            if d.maintenance_seconds > 0 {
                title += &format!(", {} maintenance", minutes(d.maintenance_seconds));
            }
            Bar {
                x: i * 5,
                class,
                title,
                date: short_day(d.date),
                pct: pct(d.uptime_percentage),
                outage: minutes(d.outage_seconds),
                degraded: minutes(d.degraded_seconds),
                maintenance: minutes(d.maintenance_seconds),
            }
        })
        .collect();
    let totals = livestatus_shared::domain::uptime::totals(&days);
    let uptime = match totals.uptime_percentage {
        Some(p) => format!("{p}% uptime"),
        None => "No data yet".to_owned(),
    };
    // Newest first, and only the days the service existed.
    let rows: Vec<usize> = (0..bars.len()).rev().filter(|i| !matches!(bars[*i].class, "u" | "n")).collect();
    let observed = days.iter().filter(|d| d.uptime_percentage.is_some()).count();
    let perfect = observed - rows.len();
    let mut quiet = match (perfect, rows.is_empty()) {
        (0, _) => String::new(),
        (n, true) => format!("All {n} days: 100% uptime, no outage, degradation or maintenance."),
        (n, false) => format!("The other {n} days: 100% uptime, no outage, degradation or maintenance."),
    };
    if let Some(first) = days.iter().find(|d| d.uptime_percentage.is_some()).filter(|_| observed < days.len()) {
        quiet += &format!(" No data before {} (the service was added that day).", day(first.date));
    }
    ServiceHtml { name: service.name.clone(), class, icon, label, uptime, bars, rows, quiet: quiet.trim().to_owned() }
}

struct PastItem {
    url: String,
    title: String,
    impact: &'static str,
    impact_label: &'static str,
    summary: String,
}

fn past_item(incident: &Incident, links: &Links) -> PastItem {
    let (class, label) = impact(incident.impact);
    let summary = match (&incident.resolved_at, incident.status) {
        (Some(at), IncidentStatus::Resolved) => {
            format!("{} – resolved {}", when(&incident.created_at), when(at))
        }
        _ => format!("{} – {}", when(&incident.created_at), status_label(incident.status)),
    };
    PastItem {
        url: links.incident(incident.id),
        title: incident.title.clone(),
        impact: class,
        impact_label: label,
        summary,
    }
}

fn past_maintenance(m: &Maintenance, links: &Links) -> PastItem {
    let summary = match &m.completed_at {
        Some(at) => format!("{} – completed {}", window(&m.scheduled_for, &m.scheduled_until), when(at)),
        None => format!("{} – {}", window(&m.scheduled_for, &m.scheduled_until), maintenance_label(m.status)),
    };
    PastItem {
        url: links.incident(m.id),
        title: m.title.clone(),
        impact: "maintenance",
        impact_label: "Maintenance",
        summary,
    }
}

/// What the history lists, newest first by id (both kinds are UUID v7): every incident
/// and every completed maintenance window.
pub fn past(view: &View) -> Vec<Past<'_>> {
    let mut all: Vec<Past<'_>> = view
        .incidents
        .iter()
        .map(Past::Incident)
        .chain(
            view.maintenances
                .iter()
                .map(|r| &r.maintenance)
                .filter(|m| m.status == MaintenanceStatus::Completed)
                .map(Past::Maintenance),
        )
        .collect();
    all.sort_by_key(|p| std::cmp::Reverse(p.id()));
    all
}

/// One entry of the history.
#[derive(Clone, Copy, Debug)]
pub enum Past<'a> {
    /// An incident.
    Incident(&'a Incident),
    /// A completed maintenance window.
    Maintenance(&'a Maintenance),
}

impl Past<'_> {
    /// Its id.
    pub fn id(&self) -> Uuid {
        match self {
            Self::Incident(i) => i.id,
            Self::Maintenance(m) => m.id,
        }
    }

    fn item(&self, links: &Links) -> PastItem {
        match self {
            Self::Incident(i) => past_item(i, links),
            Self::Maintenance(m) => past_maintenance(m, links),
        }
    }
}

struct DayHtml {
    label: String,
    incidents: Vec<PastItem>,
}

#[derive(Template)]
#[template(path = "page.html")]
struct PageTemplate {
    head: Head,
    description: Option<String>,
    banner: &'static str,
    banner_icon: &'static str,
    updated: String,
    updated_iso: String,
    active: Vec<IncidentHtml>,
    in_maintenance: Vec<IncidentHtml>,
    upcoming: Vec<UpcomingHtml>,
    services: Vec<ServiceHtml>,
    days: Vec<DayHtml>,
    subscribe: Option<SubscribeForm>,
}

/// The email sign-up form: the services one may pick (id, name).
struct SubscribeForm {
    services: Vec<(String, String)>,
}

fn document(html: Result<String, askama::Error>, css: &str) -> Document {
    Document { html: html.expect("templates render"), style_hash: style_hash(css) }
}

/// The status page; with the email sign-up form when `subscribe`.
pub fn page(view: &View, links: &Links, subscribe: bool) -> Document {
    let indicator = view.indicator();
    let title = match indicator {
        Indicator::None => format!("{} Status", view.page.name),
        other => format!("{} · {} Status", other.description(), view.page.name),
    };
    let head = head(view, links, title, links.page());
    let today = view.now.date_naive();
    let days = (0..HISTORY_DAYS)
        .map(|back| {
            let date = today - Duration::days(back);
            DayHtml {
                label: day(date),
                incidents: view
                    .incidents
                    .iter()
                    .filter(|i| parse_time(&i.created_at).date_naive() == date)
                    .map(|i| past_item(i, links))
                    .chain(
                        view.maintenances
                            .iter()
                            .map(|r| &r.maintenance)
                            .filter(|m| m.status == MaintenanceStatus::Completed)
                            .filter(|m| parse_time(&m.scheduled_for).date_naive() == date)
                            .map(|m| past_maintenance(m, links)),
                    )
                    .collect(),
            }
        })
        .collect();
    let css = head.css.clone();
    let template = PageTemplate {
        description: view.page.description.clone(),
        banner: indicator.description(),
        banner_icon: banner_icon(indicator),
        updated: when(view.updated_at()),
        updated_iso: view.updated_at().to_owned(),
        active: view.open_incidents().map(|i| incident_html(view, i, links)).collect(),
        in_maintenance: view.active_maintenances().map(|m| maintenance_html(view, m, links)).collect(),
        upcoming: view.upcoming_maintenances().map(|m| upcoming_html(view, m, links)).collect(),
        services: view.services.iter().map(|s| service_html(view, s)).collect(),
        days,
        subscribe: subscribe.then(|| SubscribeForm {
            services: view.services.iter().map(|s| (s.id.to_string(), s.name.clone())).collect(),
        }),
        head,
    };
    document(template.render(), &css)
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentTemplate {
    head: Head,
    incident: IncidentHtml,
    state: String,
    /// The published postmortem.
    postmortem: Option<PostmortemHtml>,
}

/// A published postmortem: when, and its Markdown as sanitized HTML.
struct PostmortemHtml {
    published: String,
    body: String,
}

/// An incident's permalink page.
pub fn incident(view: &View, incident: &Incident, links: &Links) -> Document {
    let head =
        head(view, links, format!("{} · {} Status", incident.title, view.page.name), links.incident(incident.id));
    let state = match (&incident.resolved_at, incident.status) {
        (Some(at), IncidentStatus::Resolved) => format!("Resolved {}", when(at)),
        _ => format!("{} since {}", status_label(incident.status), when(&incident.created_at)),
    };
    let css = head.css.clone();
    let postmortem = incident.postmortem.as_ref().and_then(|p| {
        let at = p.published_at.as_deref()?;
        Some(PostmortemHtml { published: when(at), body: markdown::to_html(&p.body, Flavor::Postmortem) })
    });
    let template = IncidentTemplate { incident: incident_html(view, incident, links), state, head, postmortem };
    document(template.render(), &css)
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryTemplate {
    head: Head,
    items: Vec<PastItem>,
    next: Option<String>,
}

/// A maintenance window's permalink page (the same route as incidents', as Statuspage's
/// shortlinks are).
pub fn maintenance(view: &View, m: &Maintenance, links: &Links) -> Document {
    let head = head(view, links, format!("{} · {} Status", m.title, view.page.name), links.incident(m.id));
    let state = match (m.status, &m.started_at, &m.completed_at) {
        (MaintenanceStatus::Completed, _, Some(at)) => format!("Completed {}", when(at)),
        (MaintenanceStatus::InProgress | MaintenanceStatus::Verifying, Some(at), _) => format!("Since {}", when(at)),
        (MaintenanceStatus::Cancelled, _, _) => "Called off".to_owned(),
        _ => "Planned maintenance".to_owned(),
    };
    let css = head.css.clone();
    let template = IncidentTemplate { incident: maintenance_html(view, m, links), state, head, postmortem: None };
    document(template.render(), &css)
}

/// One page of the history (incidents and maintenance); `next` links to older ones.
pub fn history(view: &View, links: &Links, shown: &[Past<'_>], next: Option<String>) -> Document {
    let head = head(view, links, format!("History · {} Status", view.page.name), links.history());
    let css = head.css.clone();
    let template = HistoryTemplate { items: shown.iter().map(|p| p.item(links)).collect(), next, head };
    document(template.render(), &css)
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundTemplate {
    css: String,
}

/// The 404 page of every HTML route: the same for a private page and no page at all.
pub fn not_found() -> Document {
    let css = css(None);
    document(NotFoundTemplate { css: css.clone() }.render(), &css)
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessageTemplate<'a> {
    css: String,
    site: &'a str,
    page_url: Option<&'a str>,
    title: &'a str,
    paragraphs: &'a [String],
    form_action: Option<&'a str>,
    button: &'a str,
}

/// A short page of the subscription flow (check your inbox, confirmed, unsubscribe?):
/// the page's name and accent, a title, some text, and optionally a one-button form
/// that POSTs to `form`'s URL.
pub fn message(
    page: &livestatus_shared::store::pages::Page,
    page_url: Option<&str>,
    title: &str,
    paragraphs: &[String],
    form: Option<(&str, &str)>,
) -> Document {
    let css = css(page.brand_color.as_deref());
    let template = MessageTemplate {
        css: css.clone(),
        site: &page.name,
        page_url,
        title,
        paragraphs,
        form_action: form.map(|f| f.0),
        button: form.map_or("", |f| f.1),
    };
    document(template.render(), &css)
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInTemplate<'a> {
    css: String,
    site: &'a str,
    action: &'a str,
    next: &'a str,
    error: Option<&'a str>,
}

/// A protected page's sign-in form: the page's name and accent, nothing of its content;
/// `next` is where to go after (a path below the page), `error` what went wrong.
pub fn sign_in(
    page: &livestatus_shared::store::pages::Page,
    action: &str,
    next: &str,
    error: Option<&str>,
) -> Document {
    let css = format!("{}\n{COMPACT}", css(page.brand_color.as_deref()));
    let template = SignInTemplate { css: css.clone(), site: &page.name, action, next, error };
    document(template.render(), &css)
}

/// The embed's colours: the reader's (`auto`), or fixed by `?theme=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbedTheme {
    /// Follow the reader's preference.
    Auto,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

/// The custom properties of one scheme as `style.css` declares them: the first `:root`
/// rule (light), or the one inside the dark media query.
fn scheme_properties(dark: bool) -> String {
    let from = if dark {
        STYLE.find("prefers-color-scheme:dark){:root{").map(|i| i + "prefers-color-scheme:dark){:root{".len())
    } else {
        STYLE.find(":root{").map(|i| i + ":root{".len())
    };
    let block = from.and_then(|start| STYLE[start..].find('}').map(|len| &STYLE[start..start + len]));
    // Its colours only: the scheme is the one fixed.
    block.unwrap_or_default().split(';').filter(|d| d.starts_with("--")).collect::<Vec<_>>().join(";")
}

struct EmbedItem {
    class: &'static str,
    url: String,
    title: String,
    state: &'static str,
    since: String,
    since_iso: String,
}

#[derive(Template)]
#[template(path = "embed.html")]
struct EmbedTemplate {
    css: String,
    scheme: &'static str,
    site: String,
    page_url: String,
    indicator: &'static str,
    banner: &'static str,
    banner_icon: &'static str,
    items: Vec<EmbedItem>,
    more: usize,
    updated: String,
    updated_iso: String,
}

/// Items the embed lists before "and N more".
const EMBED_ITEMS: usize = 3;

/// The compact view for iframes: the overall status, the open incidents and the
/// maintenance in progress, each linking to the page (in a new tab, out of the frame).
pub fn embed(view: &View, links: &Links, theme: EmbedTheme) -> Document {
    let indicator = view.indicator();
    let mut css = format!("{}\n{COMPACT}", css(view.page.brand_color.as_deref()));
    let scheme = match theme {
        EmbedTheme::Auto => "light dark",
        EmbedTheme::Light => "light",
        EmbedTheme::Dark => "dark",
    };
    if theme != EmbedTheme::Auto {
        // Later and as specific as the media query's rule: the fixed scheme wins.
        css.push_str(&format!("\n:root{{color-scheme:{scheme};{}}}", scheme_properties(theme == EmbedTheme::Dark)));
    }
    let incidents = view.open_incidents().map(|i| EmbedItem {
        class: impact(i.impact).0,
        url: links.incident(i.id),
        title: i.title.clone(),
        state: status_label(i.status),
        since: when(&i.created_at),
        since_iso: i.created_at.clone(),
    });
    let maintenances = view.active_maintenances().map(|m| EmbedItem {
        class: "maintenance",
        url: links.incident(m.id),
        title: m.title.clone(),
        state: maintenance_label(m.status),
        since: when(m.started_at.as_deref().unwrap_or(&m.scheduled_for)),
        since_iso: m.started_at.clone().unwrap_or_else(|| m.scheduled_for.clone()),
    });
    let mut items: Vec<EmbedItem> = incidents.chain(maintenances).collect();
    let more = items.len().saturating_sub(EMBED_ITEMS);
    items.truncate(EMBED_ITEMS);
    let template = EmbedTemplate {
        css: css.clone(),
        scheme,
        site: view.page.name.clone(),
        page_url: links.page(),
        indicator: indicator.as_str(),
        banner: indicator.description(),
        banner_icon: banner_icon(indicator),
        items,
        more,
        updated: when(view.updated_at()),
        updated_iso: view.updated_at().to_owned(),
    };
    document(template.render(), &css)
}
