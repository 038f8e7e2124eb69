//! The history feeds (Atom 1.0, RSS 2.0) and the maintenance calendar (iCalendar, RFC
//! 5545). Everything user-written is escaped for its format: XML text and attributes
//! (entries carry their updates as escaped HTML), and iCalendar TEXT with line folding.

use std::fmt::Write;

use livestatus_shared::domain::MaintenanceStatus;
use livestatus_shared::domain::markdown::{self, Flavor};
use livestatus_shared::store::incidents::Incident;
use livestatus_shared::store::maintenances::Maintenance;

use crate::Links;
use crate::html::{maintenance_label, status_label, when, window};
use crate::view::{View, parse_time};

/// Escapes text for XML content and attribute values.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// One entry of a feed: an incident or a maintenance window, with its timeline.
enum Entry<'a> {
    Incident(&'a Incident),
    Maintenance(&'a Maintenance),
}

impl Entry<'_> {
    fn id(&self) -> uuid::Uuid {
        match self {
            Self::Incident(i) => i.id,
            Self::Maintenance(m) => m.id,
        }
    }

    fn title(&self) -> String {
        match self {
            Self::Incident(i) => i.title.clone(),
            Self::Maintenance(m) => format!("Maintenance: {}", m.title),
        }
    }

    fn created_at(&self) -> &str {
        match self {
            Self::Incident(i) => &i.created_at,
            Self::Maintenance(m) => &m.created_at,
        }
    }

    fn updated_at(&self) -> &str {
        match self {
            Self::Incident(i) => &i.updated_at,
            Self::Maintenance(m) => &m.updated_at,
        }
    }

    /// The updates as HTML (newest first, their Markdown sanitized), for the entry's
    /// content; a window's times come first.
    fn html(&self) -> String {
        let mut html = String::new();
        let mut add = |label: &str, at: &str, body: &str| {
            let body = markdown::to_html(body, Flavor::Update);
            let _ = write!(html, "<p><strong>{label}</strong> – {}</p>{body}", when(at));
        };
        match self {
            Self::Incident(i) => {
                for u in i.updates.as_deref().unwrap_or_default().iter().rev() {
                    add(status_label(u.status), &u.created_at, &u.body);
                }
            }
            Self::Maintenance(m) => {
                for u in m.updates.as_deref().unwrap_or_default().iter().rev() {
                    add(maintenance_label(u.status), &u.created_at, &u.body);
                }
                html.insert_str(
                    0,
                    &format!("<p>Scheduled for {}</p>", xml(&window(&m.scheduled_for, &m.scheduled_until))),
                );
            }
        }
        html
    }
}

/// The entries of a feed, newest first: incidents with their timelines and every
/// maintenance window, of one service when given; at most 50.
fn chosen(view: &View, service: Option<uuid::Uuid>) -> Vec<Entry<'_>> {
    let incidents = view
        .incidents
        .iter()
        .filter(|i| i.updates.is_some())
        .filter(|i| service.is_none_or(|s| i.affected_service_ids.contains(&s)))
        .map(Entry::Incident);
    let maintenances = view
        .maintenances
        .iter()
        .map(|r| &r.maintenance)
        .filter(|m| service.is_none_or(|s| m.service_ids.is_empty() || m.service_ids.contains(&s)))
        .map(Entry::Maintenance);
    let mut all: Vec<Entry<'_>> = incidents.chain(maintenances).collect();
    all.sort_by_key(|e| std::cmp::Reverse(e.id()));
    all.truncate(crate::RECENT);
    all
}

/// The Atom feed of the page's history.
pub fn atom(view: &View, links: &Links, service: Option<uuid::Uuid>) -> String {
    let name = xml(&view.page.name);
    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n\
         <id>{page}/history</id>\n<title>{name} status: incidents and maintenance</title>\n<updated>{updated}</updated>\n\
         <link rel=\"self\" type=\"application/atom+xml\" href=\"{self_url}\"/>\n\
         <link rel=\"alternate\" type=\"text/html\" href=\"{page}\"/>\n<author><name>{name}</name></author>\n",
        page = xml(&links.page()),
        updated = view.updated_at(),
        self_url = xml(&links.feed("history.atom", service)),
    );
    for entry in chosen(view, service) {
        let _ = write!(
            out,
            "<entry>\n<id>{url}</id>\n<title>{title}</title>\n<published>{created}</published>\n<updated>{updated}</updated>\n\
             <link rel=\"alternate\" type=\"text/html\" href=\"{url}\"/>\n<content type=\"html\">{content}</content>\n</entry>\n",
            url = xml(&links.incident(entry.id())),
            title = xml(&entry.title()),
            created = entry.created_at(),
            updated = entry.updated_at(),
            content = xml(&entry.html()),
        );
    }
    out.push_str("</feed>\n");
    out
}

fn rfc2822(raw: &str) -> String {
    parse_time(raw).to_rfc2822()
}

/// The RSS feed of the page's history.
pub fn rss(view: &View, links: &Links, service: Option<uuid::Uuid>) -> String {
    let name = xml(&view.page.name);
    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n\
         <title>{name} status: incidents and maintenance</title>\n<link>{page}</link>\n\
         <description>Incidents, maintenance and their updates on the {name} status page.</description>\n<language>en</language>\n\
         <lastBuildDate>{updated}</lastBuildDate>\n\
         <atom:link href=\"{self_url}\" rel=\"self\" type=\"application/rss+xml\"/>\n",
        page = xml(&links.page()),
        updated = rfc2822(view.updated_at()),
        self_url = xml(&links.feed("history.rss", service)),
    );
    for entry in chosen(view, service) {
        let _ = write!(
            out,
            "<item>\n<title>{title}</title>\n<link>{url}</link>\n<guid isPermaLink=\"true\">{url}</guid>\n\
             <pubDate>{created}</pubDate>\n<description>{content}</description>\n</item>\n",
            url = xml(&links.incident(entry.id())),
            title = xml(&entry.title()),
            created = rfc2822(entry.created_at()),
            content = xml(&entry.html()),
        );
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

/// Escapes iCalendar TEXT (RFC 5545 §3.3.11).
pub fn ics_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets without splitting a character (RFC 5545 §3.1).
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3);
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

/// An iCalendar UTC date-time: `20261124T100000Z`.
fn ics_time(raw: &str) -> String {
    parse_time(raw).format("%Y%m%dT%H%M%SZ").to_string()
}

/// The maintenance calendar: one `VEVENT` per window, its `UID` stable and its
/// `SEQUENCE` the window's revision, so subscribed calendars update each event in place
/// (and drop a cancelled one: `STATUS:CANCELLED`).
pub fn ics(view: &View, links: &Links) -> String {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//LiveStatus//Status page//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        format!("X-WR-CALNAME:{}", ics_text(&format!("{} maintenance", view.page.name))),
        format!("X-WR-CALDESC:{}", ics_text(&format!("Scheduled maintenance on {}", links.page()))),
        "X-PUBLISHED-TTL:PT1H".to_owned(),
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H".to_owned(),
    ];
    for record in &view.maintenances {
        let m = &record.maintenance;
        let mut description = Vec::new();
        let services = view.service_names(&m.service_ids);
        if !services.is_empty() {
            description.push(format!("Affects {}.", services.join(", ")));
        }
        // The announcement, then where the window stands if not just announced.
        let updates = m.updates.as_deref().unwrap_or_default();
        if let Some(first) = updates.first() {
            description.push(markdown::to_text(&first.body));
        }
        if m.status != MaintenanceStatus::Scheduled {
            description.push(format!("Status: {}.", maintenance_label(m.status)));
        }
        description.push(links.incident(m.id));
        let status = if m.status == MaintenanceStatus::Cancelled { "CANCELLED" } else { "CONFIRMED" };
        lines.extend([
            "BEGIN:VEVENT".to_owned(),
            format!("UID:{}@livestatus", m.id),
            format!("SEQUENCE:{}", record.sequence),
            format!("DTSTAMP:{}", ics_time(&m.updated_at)),
            format!("CREATED:{}", ics_time(&m.created_at)),
            format!("LAST-MODIFIED:{}", ics_time(&m.updated_at)),
            format!("DTSTART:{}", ics_time(&m.scheduled_for)),
            format!("DTEND:{}", ics_time(&m.scheduled_until)),
            format!("SUMMARY:{}", ics_text(&format!("{}: {}", view.page.name, m.title))),
            format!("DESCRIPTION:{}", ics_text(&description.join("\n\n"))),
            format!("URL:{}", links.incident(m.id)),
            format!("STATUS:{status}"),
            "TRANSP:TRANSPARENT".to_owned(),
            "END:VEVENT".to_owned(),
        ]);
    }
    lines.push("END:VCALENDAR".to_owned());
    lines.iter().map(|l| fold(l)).collect()
}
