//! Chat channels: a page's subscribers that are a Slack, Discord, Microsoft Teams or
//! Google Chat channel, told through the channel's incoming-webhook URL in the service's
//! own message format (Slack Block Kit, a Discord embed in the status colour, a Teams
//! Adaptive Card as the Workflows webhook takes it, a Google Chat `cardsV2` card). Each
//! message is drawn from the notice's [`Summary`], like the email. Text from the API is
//! escaped for each format, and no message can mention `@everyone` or a channel.
//!
//! Which services and URLs are accepted, and how a URL is shown, are in
//! [`crate::domain::chat`].

use serde_json::{Value, json};

use super::summary::{BLUE, GREEN, GREY, ORANGE, Pill, RED, Summary, YELLOW};
pub use crate::domain::chat::ChatKind;

/// The message for a notice, as the service's webhook takes it.
pub fn message(kind: ChatKind, s: &Summary) -> Value {
    match kind {
        ChatKind::Slack => slack(s),
        ChatKind::Discord => discord(s),
        ChatKind::Teams => teams(s),
        ChatKind::GoogleChat => google_chat(s),
    }
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
            "text": format!("<font color=\"{}\"><b>{}</b></font>", pill.color, html_escape(&pill.label)),
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
    fn text_from_the_api_cannot_mention_link_or_format() {
        assert_eq!(slack_escape("<!channel> a & b > c"), "&lt;!channel&gt; a &amp; b &gt; c");
        assert_eq!(discord_escape("@everyone *now* [x](y)"), "\\@everyone \\*now\\* \\[x\\]\\(y\\)");
        assert_eq!(html_escape("<a href=\"x\">&</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 3), "abc");
    }
}
