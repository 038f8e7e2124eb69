//! Subscriber email: notices rendered to a subject, a text part and an HTML part
//! (askama templates that escape every value), sent with SES v2 `Simple` content and the
//! `List-Unsubscribe` / `List-Unsubscribe-Post` headers (RFC 2369, RFC 8058). Locally SES
//! is `aws-ses-v2-local` (`SES_ENDPOINT`).

use askama::Template;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader};
use livestatus_shared::outbound::mail::{Mailer, Notice, NoticeKind, Sending};
use serde_json::Value;

/// A rendered email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}

/// A status shown as a pill: colour, icon and words (never colour alone).
struct Pill {
    label: String,
    icon: &'static str,
    color: &'static str,
}

/// A button.
struct Action {
    label: String,
    url: String,
}

/// What both templates show.
struct Model {
    subject: String,
    preheader: String,
    page_name: String,
    accent: String,
    status: Option<Pill>,
    headline: String,
    /// Impact and affected services, under the headline.
    detail: Option<String>,
    paragraphs: Vec<String>,
    when: Option<String>,
    action: Option<Action>,
    reason: String,
    unsubscribe_url: Option<String>,
}

#[derive(Template)]
#[template(path = "email.html")]
struct Html<'a> {
    m: &'a Model,
}

#[derive(Template)]
#[template(path = "email.txt")]
struct Text<'a> {
    m: &'a Model,
}

const GREEN: &str = "#1a7f37";
const YELLOW: &str = "#8a5c00";
const ORANGE: &str = "#b3470a";
const RED: &str = "#c3202b";
const BLUE: &str = "#0969da";
const GREY: &str = "#59636e";

fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// "22 Nov 2026, 14:05 UTC" from an RFC 3339 time.
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
fn names(page: &livestatus_shared::outbound::mail::PageInfo, ids: Option<&Value>) -> Vec<String> {
    let ids: Vec<&str> =
        ids.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    page.services.iter().filter(|(id, _)| ids.contains(&id.as_str())).map(|(_, name)| name.clone()).collect()
}

fn text_at<'a>(data: &'a Value, pointer: &str) -> Option<&'a str> {
    data.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Renders a notice.
pub fn render(notice: &Notice) -> Rendered {
    let page = &notice.page;
    let name = page.name.as_str();
    let reason = format!("You are receiving this because you subscribed to updates from {name}.");
    let mut model = Model {
        subject: String::new(),
        preheader: String::new(),
        page_name: name.to_owned(),
        accent: page.brand_color.clone(),
        status: None,
        headline: String::new(),
        detail: None,
        paragraphs: Vec::new(),
        when: None,
        action: page.public.then(|| Action { label: "View status page".into(), url: page.url.clone() }),
        reason,
        unsubscribe_url: notice.unsubscribe_url.clone(),
    };
    match &notice.kind {
        NoticeKind::Confirm { confirm_url } => {
            model.subject = format!("Confirm your subscription to {name}");
            model.headline = "Confirm your subscription".into();
            model.paragraphs = vec![
                format!(
                    "Someone, hopefully you, asked to receive email from {name} about incidents, maintenance and status changes."
                ),
                "If that was not you, ignore this email: nothing will be sent unless the subscription is confirmed."
                    .into(),
            ];
            model.action = Some(Action { label: "Confirm subscription".into(), url: confirm_url.clone() });
            model.reason = "This link works for 7 days.".into();
        }
        NoticeKind::Ping => {
            model.subject = format!("[{name}] Test notification");
            model.headline = "Test notification".into();
            model.paragraphs = vec![format!(
                "This is a test sent from {name}. Your subscription works: updates will arrive like this one."
            )];
        }
        NoticeKind::Event { event_type, timestamp, data } => {
            model.when = when(timestamp);
            let family = event_type.split('.').next().unwrap_or_default();
            match family {
                "incident" => {
                    let title = text_at(data, "/incident/title").unwrap_or("Incident");
                    let status = text_at(data, "/update/status")
                        .or(text_at(data, "/incident/status"))
                        .unwrap_or("investigating");
                    let impact = text_at(data, "/incident/impact").unwrap_or("minor");
                    let pill = incident_pill(status, impact);
                    model.subject = format!("[{name}] {}: {title}", pill.label);
                    model.headline = title.to_owned();
                    let body = text_at(data, "/update/body").or_else(|| text_at(data, "/incident/updates/0/body"));
                    model.paragraphs = body.map(str::to_owned).into_iter().collect();
                    model.status = Some(pill);
                    let affected = names(page, data.pointer("/incident/affectedServiceIds"));
                    let impact = format!("{} impact", title_case(impact));
                    model.detail = Some(if affected.is_empty() {
                        impact
                    } else {
                        format!("{impact} · Affects {}", affected.join(", "))
                    });
                    if let (true, Some(id)) = (page.public, text_at(data, "/incident/id")) {
                        model.action =
                            Some(Action { label: "View incident".into(), url: format!("{}/incidents/{id}", page.url) });
                    }
                }
                "service" => {
                    let service = text_at(data, "/service/name").unwrap_or("A service");
                    let new = service_pill(text_at(data, "/newStatus").unwrap_or_default());
                    let old = service_pill(text_at(data, "/oldStatus").unwrap_or_default());
                    model.subject = format!("[{name}] {service}: {}", new.label);
                    model.headline = format!("{service} is now {}", new.label.to_lowercase());
                    model.paragraphs = vec![format!(
                        "Its status changed from {} to {}.",
                        old.label.to_lowercase(),
                        new.label.to_lowercase()
                    )];
                    model.status = Some(new);
                }
                _ => {
                    let title = text_at(data, "/maintenance/title").unwrap_or("Scheduled maintenance");
                    let cancelled = text_at(data, "/maintenance/status") == Some("cancelled");
                    let stage = match event_type.rsplit('.').next().unwrap_or_default() {
                        _ if cancelled => "cancelled",
                        "reminder" => "reminder",
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
                    model.subject = format!("[{name}] {subject}: {title}");
                    model.headline = title.to_owned();
                    model.paragraphs = text_at(data, "/update/body").map(str::to_owned).into_iter().collect();
                    if stage == "reminder" {
                        model.paragraphs.insert(0, "A reminder: this maintenance starts soon.".to_owned());
                    }
                    if model.paragraphs.is_empty() && stage == "updated" {
                        model.paragraphs.push(
                            "This maintenance was changed: its title, times and services above are the current ones."
                                .to_owned(),
                        );
                    }
                    let color = if matches!(stage, "completed") {
                        GREEN
                    } else if cancelled {
                        GREY
                    } else {
                        BLUE
                    };
                    model.status = Some(Pill { label: label.to_owned(), icon: "⚙", color });
                    let mut detail = match (
                        text_at(data, "/maintenance/scheduledFor"),
                        text_at(data, "/maintenance/scheduledUntil"),
                    ) {
                        (Some(from), Some(until)) => vec![window(from, until)],
                        _ => Vec::new(),
                    };
                    let affected = names(page, data.pointer("/maintenance/serviceIds"));
                    if !affected.is_empty() {
                        detail.push(format!("Affects {}", affected.join(", ")));
                    }
                    model.detail = (!detail.is_empty()).then(|| detail.join(" · "));
                    if let (true, Some(id)) = (page.public, text_at(data, "/maintenance/id")) {
                        model.action = Some(Action {
                            label: "View maintenance".into(),
                            url: format!("{}/incidents/{id}", page.url),
                        });
                    }
                }
            }
        }
    }
    model.preheader =
        model.paragraphs.first().map_or_else(|| model.headline.clone(), |p| p.chars().take(140).collect());
    let html = Html { m: &model }.render().expect("the email template renders");
    let text = Text { m: &model }.render().expect("the email template renders");
    let mut headers = Vec::new();
    if let Some(url) = &notice.unsubscribe_url {
        headers.push(("List-Unsubscribe".to_owned(), format!("<{url}>")));
        headers.push(("List-Unsubscribe-Post".to_owned(), "List-Unsubscribe=One-Click".to_owned()));
    }
    Rendered { subject: model.subject, text, html, headers }
}

/// Sends rendered notices through SES v2.
#[derive(Clone, Debug)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// A mailer sending as `from` with `client`.
    pub fn new(client: aws_sdk_sesv2::Client, from: String, configuration_set: Option<String>) -> Self {
        Self { client, from, configuration_set }
    }

    /// From the environment: `EMAIL_FROM` (none: email is off), `SES_CONFIGURATION_SET`,
    /// and `SES_ENDPOINT` for the local SES.
    pub async fn from_env() -> Option<Self> {
        let from = std::env::var("EMAIL_FROM").ok().filter(|f| !f.is_empty())?;
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Ok(endpoint) = std::env::var("SES_ENDPOINT") {
            loader = loader.endpoint_url(endpoint);
        }
        let client = aws_sdk_sesv2::Client::new(&loader.load().await);
        let configuration_set = std::env::var("SES_CONFIGURATION_SET").ok().filter(|c| !c.is_empty());
        Some(Self::new(client, from, configuration_set))
    }
}

fn part(data: String) -> Content {
    Content::builder().data(data).charset("UTF-8").build().expect("content has its data")
}

impl Mailer for SesMailer {
    fn send<'a>(&'a self, notice: &'a Notice) -> Sending<'a> {
        Box::pin(async move {
            let rendered = render(notice);
            let headers = rendered
                .headers
                .into_iter()
                .map(|(name, value)| MessageHeader::builder().name(name).value(value).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            let message = Message::builder()
                .subject(part(rendered.subject))
                .body(Body::builder().text(part(rendered.text)).html(part(rendered.html)).build())
                .set_headers(Some(headers))
                .build();
            self.client
                .send_email()
                .from_email_address(&self.from)
                .destination(Destination::builder().to_addresses(&notice.to).build())
                .content(EmailContent::builder().simple(message).build())
                .set_configuration_set_name(self.configuration_set.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    let e = aws_sdk_sesv2::error::DisplayErrorContext(e);
                    e.to_string().chars().take(300).collect()
                })
        })
    }
}
