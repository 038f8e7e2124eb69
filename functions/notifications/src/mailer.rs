//! Subscriber email: a notice's [`Summary`] rendered to a subject, a text part and an
//! HTML part (askama templates that escape every value), sent with SES v2 `Simple` content and the
//! `List-Unsubscribe` / `List-Unsubscribe-Post` headers (RFC 2369, RFC 8058). Locally SES
//! is `aws-ses-v2-local` (`SES_ENDPOINT`).

use askama::Template;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader};
use livestatus_shared::domain::markdown::{self, Flavor};
use livestatus_shared::outbound::mail::{Mailer, Notice, NoticeKind, Sending};
use livestatus_shared::outbound::summary::{Action, Pill, Summary};

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

/// What both templates show: the notice's [`Summary`] with what only email has.
struct Model {
    subject: String,
    preheader: String,
    page_name: String,
    accent: String,
    status: Option<Pill>,
    headline: String,
    /// Impact and affected services, under the headline.
    detail: Option<String>,
    /// What people wrote (Markdown) as plain text, for the text part.
    paragraphs: Vec<String>,
    /// The same as sanitized HTML, for the HTML part.
    paragraphs_html: Vec<String>,
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

/// Renders a notice.
pub fn render(notice: &Notice) -> Rendered {
    let page = &notice.page;
    let Summary { page_name, subject, headline, status, detail, paragraphs, when, action, .. } =
        Summary::of(page, &notice.kind);
    let reason = match notice.kind {
        NoticeKind::Confirm { .. } => "This link works for 7 days.".to_owned(),
        _ => format!("You are receiving this because you subscribed to updates from {}.", page.name),
    };
    let paragraphs_html: Vec<String> = paragraphs.iter().map(|p| markdown::to_html(p, Flavor::Update)).collect();
    let paragraphs: Vec<String> = paragraphs.iter().map(|p| markdown::to_text(p)).collect();
    let preheader = paragraphs.first().map_or_else(|| headline.clone(), |p| p.chars().take(140).collect());
    let model = Model {
        subject,
        preheader,
        page_name,
        accent: page.brand_color.clone(),
        status,
        headline,
        detail,
        paragraphs,
        paragraphs_html,
        when,
        action,
        reason,
        unsubscribe_url: notice.unsubscribe_url.clone(),
    };
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
