//! What a notice says, whatever carries it: the subject, a status pill, the headline,
//! the detail line (impact, affected services, a window's times), the paragraphs, the
//! time and the link. Email (the notifications crate's templates) and chat messages
//! ([`super::chat`]) are both drawn from one [`Summary`], so they never disagree.

use serde_json::Value;

use super::mail::{NoticeKind, PageInfo};

pub use crate::domain::colors::{BLUE, GREEN, GREY, ORANGE, RED, YELLOW};

/// A status shown as a pill: colour, icon and words (never colour alone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pill {
    /// The words: "Investigating", "Outage", "In progress".
    pub label: String,
    /// A one-character icon.
    pub icon: &'static str,
    /// One of the colours above.
    pub color: &'static str,
}

/// A link to follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// Its words.
    pub label: String,
    /// Where it goes.
    pub url: String,
}

/// What a notice says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The page's name.
    pub page_name: String,
    /// A subject line: `[Acme] Investigating: API errors`.
    pub subject: String,
    /// The headline: the incident's or window's title, or what changed.
    pub headline: String,
    /// The status, when the notice has one.
    pub status: Option<Pill>,
    /// Impact and affected services (or a window's times), under the headline.
    pub detail: Option<String>,
    /// The message.
    pub paragraphs: Vec<String>,
    /// When it happened: `22 Nov 2026, 14:05 UTC`.
    pub when: Option<String>,
    /// The same, as the event's RFC 3339 time.
    pub at: Option<String>,
    /// The link to the page, incident or confirmation (none for a private page).
    pub action: Option<Action>,
}

fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A window's times: `Nov 24, 2026, 10:00 – 12:00 UTC`.
fn window(from: &str, until: &str) -> String {
    let parse = |raw: &str| chrono::DateTime::parse_from_rfc3339(raw).map(|t| t.to_utc()).ok();
    let (Some(a), Some(b)) = (parse(from), parse(until)) else { return format!("{from} – {until}") };
    let end = if a.date_naive() == b.date_naive() {
        b.format("%H:%M").to_string()
    } else {
        b.format("%b %-d, %Y, %H:%M").to_string()
    };
    format!("{} – {end} UTC", a.format("%b %-d, %Y, %H:%M"))
}

/// "22 Nov 2026, 14:05 UTC" from an RFC 3339 time.
fn when(at: &str) -> Option<String> {
    let at = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    Some(at.to_utc().format("%-d %b %Y, %H:%M UTC").to_string())
}

fn incident_pill(status: &str, impact: &str) -> Pill {
    let color = match (status, impact) {
        ("resolved", _) => GREEN,
        (_, "critical") => RED,
        (_, "major") => ORANGE,
        _ => YELLOW,
    };
    let icon = if status == "resolved" { "✓" } else { "!" };
    Pill { label: title_case(status), icon, color }
}

fn service_pill(status: &str) -> Pill {
    let (label, icon, color) = match status {
        "operational" => ("Operational", "✓", GREEN),
        "degraded" => ("Degraded performance", "!", YELLOW),
        "outage" => ("Outage", "✕", RED),
        "maintenance" => ("Under maintenance", "⚙", BLUE),
        other => return Pill { label: title_case(other), icon: "•", color: GREY },
    };
    Pill { label: label.to_owned(), icon, color }
}

/// The names of the page's services among `ids` (a JSON array), in the page's order.
fn names(page: &PageInfo, ids: Option<&Value>) -> Vec<String> {
    let ids: Vec<&str> =
        ids.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    page.services.iter().filter(|(id, _)| ids.contains(&id.as_str())).map(|(_, name)| name.clone()).collect()
}

fn text_at<'a>(data: &'a Value, pointer: &str) -> Option<&'a str> {
    data.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

impl Summary {
    /// What a notice of `kind` about `page` says.
    pub fn of(page: &PageInfo, kind: &NoticeKind) -> Self {
        let name = page.name.as_str();
        let mut s = Self {
            page_name: name.to_owned(),
            subject: String::new(),
            headline: String::new(),
            status: None,
            detail: None,
            paragraphs: Vec::new(),
            when: None,
            at: None,
            action: page.public.then(|| Action { label: "View status page".into(), url: page.url.clone() }),
        };
        match kind {
            NoticeKind::Confirm { confirm_url } => {
                s.subject = format!("Confirm your subscription to {name}");
                s.headline = "Confirm your subscription".into();
                s.paragraphs = vec![
                    format!(
                        "Someone, hopefully you, asked to receive email from {name} about incidents, maintenance and status changes."
                    ),
                    "If that was not you, ignore this email: nothing will be sent unless the subscription is confirmed."
                        .into(),
                ];
                s.action = Some(Action { label: "Confirm subscription".into(), url: confirm_url.clone() });
            }
            NoticeKind::Ping => {
                s.subject = format!("[{name}] Test notification");
                s.headline = "Test notification".into();
                s.paragraphs = vec![format!(
                    "This is a test sent from {name}. Your subscription works: updates will arrive like this one."
                )];
            }
            NoticeKind::Event { event_type, timestamp, data } => {
                s.when = when(timestamp);
                s.at = Some(timestamp.clone());
                match event_type.split('.').next().unwrap_or_default() {
                    "incident" if event_type == "incident.postmortem_published" => s.postmortem(page, data),
                    "incident" => s.incident(page, data),
                    "service" => s.service(data),
                    _ => s.maintenance(page, event_type, data),
                }
            }
        }
        s
    }

    fn incident(&mut self, page: &PageInfo, data: &Value) {
        let title = text_at(data, "/incident/title").unwrap_or("Incident");
        let status = text_at(data, "/update/status").or(text_at(data, "/incident/status")).unwrap_or("investigating");
        let impact = text_at(data, "/incident/impact").unwrap_or("minor");
        let pill = incident_pill(status, impact);
        self.subject = format!("[{}] {}: {title}", self.page_name, pill.label);
        self.headline = title.to_owned();
        let body = text_at(data, "/update/body").or_else(|| text_at(data, "/incident/updates/0/body"));
        self.paragraphs = body.map(str::to_owned).into_iter().collect();
        self.status = Some(pill);
        let affected = names(page, data.pointer("/incident/affectedServiceIds"));
        let impact = format!("{} impact", title_case(impact));
        self.detail =
            Some(if affected.is_empty() { impact } else { format!("{impact} · Affects {}", affected.join(", ")) });
        if let (true, Some(id)) = (page.public, text_at(data, "/incident/id")) {
            self.action = Some(Action { label: "View incident".into(), url: format!("{}/incidents/{id}", page.url) });
        }
    }

    /// A published postmortem: the incident as context, the postmortem as the text.
    fn postmortem(&mut self, page: &PageInfo, data: &Value) {
        self.incident(page, data);
        let title = text_at(data, "/incident/title").unwrap_or("Incident");
        self.subject = format!("[{}] Postmortem: {title}", self.page_name);
        self.paragraphs = text_at(data, "/incident/postmortem/body").map(str::to_owned).into_iter().collect();
        if let Some(action) = &mut self.action {
            action.label = "Read the postmortem".into();
        }
    }

    fn service(&mut self, data: &Value) {
        let service = text_at(data, "/service/name").unwrap_or("A service");
        let new = service_pill(text_at(data, "/newStatus").unwrap_or_default());
        let old = service_pill(text_at(data, "/oldStatus").unwrap_or_default());
        self.subject = format!("[{}] {service}: {}", self.page_name, new.label);
        self.headline = format!("{service} is now {}", new.label.to_lowercase());
        self.paragraphs =
            vec![format!("Its status changed from {} to {}.", old.label.to_lowercase(), new.label.to_lowercase())];
        self.status = Some(new);
    }

    fn maintenance(&mut self, page: &PageInfo, event_type: &str, data: &Value) {
        let title = text_at(data, "/maintenance/title").unwrap_or("Scheduled maintenance");
        let cancelled = text_at(data, "/maintenance/status") == Some("cancelled");
        let stage = match event_type.rsplit('.').next().unwrap_or_default() {
            _ if cancelled => "cancelled",
            other => other,
        };
        let (subject, label) = match stage {
            "scheduled" => ("Maintenance scheduled", "Scheduled"),
            "reminder" => ("Maintenance reminder", "Upcoming"),
            "started" => ("Maintenance in progress", "In progress"),
            "completed" => ("Maintenance completed", "Completed"),
            "cancelled" => ("Maintenance cancelled", "Cancelled"),
            _ => ("Maintenance update", "Update"),
        };
        self.subject = format!("[{}] {subject}: {title}", self.page_name);
        self.headline = title.to_owned();
        self.paragraphs = text_at(data, "/update/body").map(str::to_owned).into_iter().collect();
        if stage == "reminder" {
            self.paragraphs.insert(0, "A reminder: this maintenance starts soon.".to_owned());
        }
        if self.paragraphs.is_empty() && stage == "updated" {
            self.paragraphs.push(
                "This maintenance was changed: its title, times and services above are the current ones.".to_owned(),
            );
        }
        let color = match stage {
            "completed" => GREEN,
            "cancelled" => GREY,
            _ => BLUE,
        };
        self.status = Some(Pill { label: label.to_owned(), icon: "⚙", color });
        let mut detail =
            match (text_at(data, "/maintenance/scheduledFor"), text_at(data, "/maintenance/scheduledUntil")) {
                (Some(from), Some(until)) => vec![window(from, until)],
                _ => Vec::new(),
            };
        let affected = names(page, data.pointer("/maintenance/serviceIds"));
        if !affected.is_empty() {
            detail.push(format!("Affects {}", affected.join(", ")));
        }
        self.detail = (!detail.is_empty()).then(|| detail.join(" · "));
        if let (true, Some(id)) = (page.public, text_at(data, "/maintenance/id")) {
            self.action =
                Some(Action { label: "View maintenance".into(), url: format!("{}/incidents/{id}", page.url) });
        }
    }
}
