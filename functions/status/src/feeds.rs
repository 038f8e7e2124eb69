//! The history feeds (Atom 1.0, RSS 2.0) and the maintenance calendar (iCalendar, RFC
//! 5545). Everything user-written is escaped for its format: XML text and attributes
//! (entries carry their updates as escaped HTML), and iCalendar TEXT with line folding.

use std::fmt::Write;

use livestatus_shared::store::incidents::Incident;

use crate::Links;
use crate::html::{status_label, when};
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

/// An incident's updates as HTML (newest first), for a feed entry's content.
fn entry_html(incident: &Incident) -> String {
    let mut html = String::new();
    for update in incident.updates.as_deref().unwrap_or_default().iter().rev() {
        let body: Vec<String> = update.body.lines().map(xml).collect();
        let _ = write!(
            html,
            "<p><strong>{}</strong> – {}<br>{}</p>",
            status_label(update.status),
            when(&update.created_at),
            body.join("<br>")
        );
    }
    html
}

fn chosen(view: &View, service: Option<uuid::Uuid>) -> impl Iterator<Item = &Incident> {
    view.incidents
        .iter()
        .filter(|i| i.updates.is_some())
        .filter(move |i| service.is_none_or(|s| i.affected_service_ids.contains(&s)))
}

/// The Atom feed of the page's history.
pub fn atom(view: &View, links: &Links, service: Option<uuid::Uuid>) -> String {
    let name = xml(&view.page.name);
    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n\
         <id>{page}/history</id>\n<title>{name} status: incident history</title>\n<updated>{updated}</updated>\n\
         <link rel=\"self\" type=\"application/atom+xml\" href=\"{self_url}\"/>\n\
         <link rel=\"alternate\" type=\"text/html\" href=\"{page}\"/>\n<author><name>{name}</name></author>\n",
        page = xml(&links.page()),
        updated = view.updated_at(),
        self_url = xml(&links.feed("history.atom", service)),
    );
    for incident in chosen(view, service) {
        let _ = write!(
            out,
            "<entry>\n<id>{url}</id>\n<title>{title}</title>\n<published>{created}</published>\n<updated>{updated}</updated>\n\
             <link rel=\"alternate\" type=\"text/html\" href=\"{url}\"/>\n<content type=\"html\">{content}</content>\n</entry>\n",
            url = xml(&links.incident(incident.id)),
            title = xml(&incident.title),
            created = incident.created_at,
            updated = incident.updated_at,
            content = xml(&entry_html(incident)),
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
         <title>{name} status: incident history</title>\n<link>{page}</link>\n\
         <description>Incidents and their updates on the {name} status page.</description>\n<language>en</language>\n\
         <lastBuildDate>{updated}</lastBuildDate>\n\
         <atom:link href=\"{self_url}\" rel=\"self\" type=\"application/rss+xml\"/>\n",
        page = xml(&links.page()),
        updated = rfc2822(view.updated_at()),
        self_url = xml(&links.feed("history.rss", service)),
    );
    for incident in chosen(view, service) {
        let _ = write!(
            out,
            "<item>\n<title>{title}</title>\n<link>{url}</link>\n<guid isPermaLink=\"true\">{url}</guid>\n\
             <pubDate>{created}</pubDate>\n<description>{content}</description>\n</item>\n",
            url = xml(&links.incident(incident.id)),
            title = xml(&incident.title),
            created = rfc2822(&incident.created_at),
            content = xml(&entry_html(incident)),
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

/// The maintenance calendar. Maintenance windows are not built yet, so it holds none;
/// clients subscribe now and see windows as they come.
pub fn ics(view: &View, links: &Links) -> String {
    let mut out = String::new();
    for line in [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//LiveStatus//Status page//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        format!("X-WR-CALNAME:{}", ics_text(&format!("{} maintenance", view.page.name))),
        format!("X-WR-CALDESC:{}", ics_text(&format!("Scheduled maintenance on {}", links.page()))),
        "END:VCALENDAR".to_owned(),
    ] {
        out.push_str(&fold(&line));
    }
    out
}
