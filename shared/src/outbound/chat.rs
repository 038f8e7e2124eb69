//! Chat channels: a page's subscribers that are a Slack, Discord, Microsoft Teams or
//! Google Chat channel, told through the channel's incoming-webhook URL in the service's
//! own message format (Slack Block Kit, a Discord embed in the status colour, a Teams
//! Adaptive Card as the Workflows webhook takes it, a Google Chat `cardsV2` card). Each
//! message is drawn from the notice's [`Summary`], like the email. Text from the API is
//! escaped for each format, and no message can mention `@everyone` or a channel.
//!
//! A channel's URL is its credential: it is stored sealed and shown [`redact`]ed.
//! On a deployment a channel's URL must be on its service's webhook hosts; the local run
//! (which allows private targets) takes any URL, so tests post to a local receiver.

use serde_json::{Value, json};

use super::summary::{BLUE, GREEN, GREY, ORANGE, Pill, RED, Summary, YELLOW};

/// A chat service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatKind {
    /// Slack incoming webhook (`https://hooks.slack.com/services/…`).
    Slack,
    /// Discord channel webhook (`https://discord.com/api/webhooks/…`).
    Discord,
    /// Microsoft Teams: a Workflows "post to a channel when a webhook request is
    /// received" URL, or a (retiring) Office 365 connector URL.
    Teams,
    /// Google Chat space webhook (`https://chat.googleapis.com/v1/spaces/…`).
    GoogleChat,
}

impl ChatKind {
    /// Every chat service.
    pub const ALL: [Self; 4] = [Self::Slack, Self::Discord, Self::Teams, Self::GoogleChat];

    /// The wire name: `slack`, `discord`, `teams`, `googlechat`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Discord => "discord",
            Self::Teams => "teams",
            Self::GoogleChat => "googlechat",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// The service's name, for people.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Slack => "Slack",
            Self::Discord => "Discord",
            Self::Teams => "Microsoft Teams",
            Self::GoogleChat => "Google Chat",
        }
    }

    /// Where the service's webhook URLs live, for an error message.
    pub const fn hosts(self) -> &'static str {
        match self {
            Self::Slack => "https://hooks.slack.com/services/…",
            Self::Discord => "https://discord.com/api/webhooks/…",
            Self::Teams => "a Workflows URL (…logic.azure.com or …powerplatform.com) or …webhook.office.com",
            Self::GoogleChat => "https://chat.googleapis.com/v1/spaces/…",
        }
    }

    /// Whether `url` is one of the service's incoming-webhook URLs (`https`, its hosts,
    /// its path). Checked on deployments, where a chat subscriber must not be a way to
    /// post unsigned JSON anywhere.
    pub fn accepts(self, url: &str) -> bool {
        let Ok(url) = url::Url::parse(url) else { return false };
        let host = url.host_str().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase();
        let path = url.path();
        let under = |suffix: &str| host.ends_with(suffix) && host.len() > suffix.len();
        url.scheme() == "https"
            && match self {
                Self::Slack => {
                    matches!(host.as_str(), "hooks.slack.com" | "hooks.slack-gov.com") && path.starts_with("/services/")
                }
                Self::Discord => {
                    matches!(host.as_str(), "discord.com" | "discordapp.com" | "ptb.discord.com" | "canary.discord.com")
                        && path.starts_with("/api/webhooks/")
                }
                Self::Teams => {
                    under(".webhook.office.com") || under(".logic.azure.com") || under(".api.powerplatform.com")
                }
                Self::GoogleChat => host == "chat.googleapis.com" && path.starts_with("/v1/spaces/"),
            }
    }

    /// The message for a notice, as the service's webhook takes it.
    pub fn message(self, s: &Summary) -> Value {
        match self {
            Self::Slack => slack(s),
            Self::Discord => discord(s),
            Self::Teams => teams(s),
            Self::GoogleChat => google_chat(s),
        }
    }
}

/// A channel's webhook URL as it may be shown: the URL is the channel's credential
/// (anyone holding it can post there), so its last path segment keeps only its last four
/// characters and a query is hidden: `https://hooks.slack.com/services/T0/B0/…Wxyz`. The
/// whole URL is stored sealed, bound to its subscriber.
pub fn redact(raw: &str) -> String {
    let Ok(url) = url::Url::parse(raw) else { return "…".to_owned() };
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    let segments: Vec<&str> = url.path().split('/').skip(1).collect();
    if let Some((last, rest)) = segments.split_last() {
        for segment in rest {
            shown.push('/');
            shown.push_str(segment);
        }
        let count = last.chars().count();
        let tail: String = if count > 8 { last.chars().skip(count - 4).collect() } else { String::new() };
        shown.push_str(&format!("/…{tail}"));
    }
    if url.query().is_some() {
        shown.push_str("?…");
    }
    shown
}

/// At most `max` characters, the last one an ellipsis when cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The status line: `Investigating · Major impact · Affects API`.
fn status_line(s: &Summary) -> Option<String> {
    let parts: Vec<&str> = s.status.iter().map(|p| p.label.as_str()).chain(s.detail.as_deref()).collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// The footer: `Acme · 22 Nov 2026, 14:05 UTC`.
fn footer(s: &Summary) -> String {
    s.when.as_ref().map_or_else(|| s.page_name.clone(), |when| format!("{} · {when}", s.page_name))
}

/// Slack's `mrkdwn` (and its plain text) treats `&`, `<` and `>` as control characters:
/// escaped, text from the API can neither link nor mention (`<!channel>`).
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A coloured circle for the pill (Slack shows no colour bar for blocks).
fn slack_dot(pill: &Pill) -> &'static str {
    match pill.color {
        RED => ":red_circle:",
        ORANGE => ":large_orange_circle:",
        YELLOW => ":large_yellow_circle:",
        GREEN => ":large_green_circle:",
        BLUE => ":large_blue_circle:",
        _ => ":white_circle:",
    }
}

/// Slack Block Kit: a header, the status in bold with a coloured dot, the message, a
/// context line, a button; `text` is the notification's fallback. Limits: header 150
/// characters, section 3,000, button label 75.
fn slack(s: &Summary) -> Value {
    let mut blocks =
        vec![json!({"type": "header", "text": {"type": "plain_text", "text": cut(&s.headline, 150), "emoji": true}})];
    if let Some(line) = status_line(s) {
        let dot = s.status.as_ref().map(|p| format!("{} ", slack_dot(p))).unwrap_or_default();
        let (first, rest) = line.split_once(" · ").map_or((line.as_str(), None), |(a, b)| (a, Some(b)));
        let mut text = format!("{dot}*{}*", slack_escape(first));
        if let Some(rest) = rest {
            text.push_str(&format!(" · {}", slack_escape(rest)));
        }
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&text, 3000)}}));
    }
    if !s.paragraphs.is_empty() {
        let body = slack_escape(&s.paragraphs.join("\n\n"));
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&body, 3000)}}));
    }
    blocks.push(
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(&slack_escape(&footer(s)), 3000)}]}),
    );
    if let Some(action) = &s.action {
        blocks.push(json!({"type": "actions", "elements": [{
            "type": "button",
            "text": {"type": "plain_text", "text": cut(&action.label, 75)},
            "url": action.url,
        }]}));
    }
    json!({
        "text": cut(&slack_escape(&s.subject), 3000),
        "blocks": blocks,
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

/// Discord Markdown's special characters, escaped with a backslash.
fn discord_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '[' | ']' | '(' | ')' | '<' | '@') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `#rrggbb` as Discord's integer colour.
fn color_int(hex: &str) -> u32 {
    u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap_or(0x59_63_6e)
}

/// A Discord embed in the status colour: the headline (linked), the status and the
/// message, the page in the footer, the event's time. Limits: title 256, description
/// 4,096, footer 2,048, 6,000 in all. `allowed_mentions` is empty: nobody is pinged.
fn discord(s: &Summary) -> Value {
    let mut description = String::new();
    if let Some(line) = status_line(s) {
        let (first, rest) = line.split_once(" · ").map_or((line.as_str(), None), |(a, b)| (a, Some(b)));
        description.push_str(&format!("**{}**", discord_escape(first)));
        if let Some(rest) = rest {
            description.push_str(&format!(" · {}", discord_escape(rest)));
        }
    }
    for p in &s.paragraphs {
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description.push_str(&discord_escape(p));
    }
    let mut embed = json!({
        "title": cut(&s.headline, 256),
        "description": cut(&description, 4096),
        "color": color_int(s.status.as_ref().map_or(GREY, |p| p.color)),
        "footer": {"text": cut(&footer(s), 2048)},
    });
    if let Some(action) = &s.action {
        embed["url"] = json!(action.url);
    }
    if let Some(at) = &s.at {
        embed["timestamp"] = json!(at);
    }
    json!({"embeds": [embed], "allowed_mentions": {"parse": []}})
}

/// Adaptive Card colour names for the pill.
fn teams_color(pill: &Pill) -> &'static str {
    match pill.color {
        RED => "Attention",
        ORANGE | YELLOW => "Warning",
        GREEN => "Good",
        BLUE => "Accent",
        _ => "Default",
    }
}

/// A Teams message: an Adaptive Card (1.4, what Teams renders) as the attachment of a
/// `message`, the shape both Workflows webhooks and connectors take.
fn teams(s: &Summary) -> Value {
    let text = |text: &str| json!({"type": "TextBlock", "text": text, "wrap": true});
    let mut body = vec![
        json!({"type": "TextBlock", "text": s.page_name, "size": "Small", "isSubtle": true, "wrap": true}),
        json!({"type": "TextBlock", "text": s.headline, "size": "Large", "weight": "Bolder", "wrap": true}),
    ];
    if let Some(pill) = &s.status {
        body.push(json!({"type": "TextBlock", "text": pill.label, "color": teams_color(pill), "weight": "Bolder", "wrap": true, "spacing": "Small"}));
    }
    if let Some(detail) = &s.detail {
        body.push(json!({"type": "TextBlock", "text": detail, "isSubtle": true, "wrap": true, "spacing": "None"}));
    }
    body.extend(s.paragraphs.iter().map(|p| text(p)));
    if let Some(when) = &s.when {
        body.push(json!({"type": "TextBlock", "text": when, "size": "Small", "isSubtle": true, "wrap": true}));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    });
    if let Some(action) = &s.action {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": action.label, "url": action.url}]);
    }
    json!({
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}],
    })
}

/// Google Chat's card text takes a little HTML: everything from the API is escaped.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A Google Chat `cardsV2` card: the headline and page in the header (plain text), the
/// status in its colour, the message (formatted text, so escaped), the time and a button;
/// `text` is the notification's line.
fn google_chat(s: &Summary) -> Value {
    let mut widgets = Vec::new();
    if let Some(pill) = &s.status {
        let mut status = json!({
            "topLabel": "Status",
            "text": format!("<font color=\"{}\"><b>{} {}</b></font>", pill.color, pill.icon, html_escape(&pill.label)),
        });
        if let Some(detail) = &s.detail {
            status["bottomLabel"] = json!(html_escape(detail));
        }
        widgets.push(json!({"decoratedText": status}));
    }
    widgets.extend(s.paragraphs.iter().map(|p| json!({"textParagraph": {"text": html_escape(p)}})));
    if let Some(when) = &s.when {
        widgets.push(json!({"decoratedText": {"topLabel": "When", "text": when}}));
    }
    if let Some(action) = &s.action {
        widgets.push(
            json!({"buttonList": {"buttons": [{"text": action.label, "onClick": {"openLink": {"url": action.url}}}]}}),
        );
    }
    json!({
        "text": s.subject,
        "cardsV2": [{
            "cardId": "livestatus-notice",
            "card": {
                "header": {"title": s.headline, "subtitle": s.page_name},
                "sections": [{"widgets": widgets}],
            },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_takes_only_its_own_webhook_urls() {
        let ok = [
            (ChatKind::Slack, "https://hooks.slack.com/services/T000/B000/XXXX"),
            (ChatKind::Discord, "https://discord.com/api/webhooks/123/abc"),
            (ChatKind::Discord, "https://canary.discord.com/api/webhooks/123/abc"),
            (ChatKind::Teams, "https://acme.webhook.office.com/webhookb2/x@y/IncomingWebhook/z/w"),
            (
                ChatKind::Teams,
                "https://prod-12.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x",
            ),
            (
                ChatKind::Teams,
                "https://default0a1b.02.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/x",
            ),
            (ChatKind::GoogleChat, "https://chat.googleapis.com/v1/spaces/AAA/messages?key=k&token=t"),
        ];
        for (kind, url) in ok {
            assert!(kind.accepts(url), "{kind:?} {url}");
            for other in ChatKind::ALL.into_iter().filter(|k| *k != kind) {
                assert!(!other.accepts(url), "{other:?} must refuse {url}");
            }
        }
        for (kind, url) in [
            (ChatKind::Slack, "http://hooks.slack.com/services/T/B/X"),
            (ChatKind::Slack, "https://hooks.slack.com.evil.example/services/T/B/X"),
            (ChatKind::Slack, "https://hooks.slack.com/triggers/T/B/X"),
            (ChatKind::Discord, "https://discord.com/channels/1/2"),
            (ChatKind::Discord, "https://evildiscord.com/api/webhooks/1/a"),
            (ChatKind::Teams, "https://webhook.office.com/x"),
            (ChatKind::Teams, "https://logic.azure.com.evil.example/workflows"),
            (ChatKind::GoogleChat, "https://chat.googleapis.com/v1/other"),
            (ChatKind::GoogleChat, "not a url"),
        ] {
            assert!(!kind.accepts(url), "{kind:?} must refuse {url}");
        }
    }

    #[test]
    fn text_from_the_api_cannot_mention_link_or_format() {
        assert_eq!(slack_escape("<!channel> a & b > c"), "&lt;!channel&gt; a &amp; b &gt; c");
        assert_eq!(discord_escape("@everyone *now* [x](y)"), "\\@everyone \\*now\\* \\[x\\]\\(y\\)");
        assert_eq!(html_escape("<a href=\"x\">&</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 3), "abc");
    }

    #[test]
    fn a_channel_url_is_shown_without_its_credential() {
        assert_eq!(
            redact("https://hooks.slack.com/services/T000/B000/abcdefghijklWxyz"),
            "https://hooks.slack.com/services/T000/B000/…Wxyz"
        );
        assert_eq!(
            redact("https://chat.googleapis.com/v1/spaces/AAA/messages?key=k&token=t"),
            "https://chat.googleapis.com/v1/spaces/AAA/…?…"
        );
        assert_eq!(redact("http://127.0.0.1:8080/short"), "http://127.0.0.1:8080/…");
    }
}
