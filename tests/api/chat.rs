//! Chat channels: Slack, Discord, Teams and Google Chat subscribers, told through a real
//! receiver by the notifier's own handler. Each message is checked against its service's
//! documented shape and limits (Teams' Adaptive Card by Microsoft's own SDK, pinned in
//! `infra/chat-check`), and shown as text in the test's output.

use std::collections::HashSet;
use std::io::Write as _;

use livestatus_shared::outbound::summary::{GREEN, ORANGE};
use livestatus_tests::{TestApp, unique_slug};
use serde_json::{Value, json};

use crate::webhooks::{Receiver, Reply, stream_new_events};

const KINDS: [&str; 4] = ["slack", "discord", "teams", "googlechat"];

/// Text an on-call person might paste that must not ping, link or format anything.
const HOSTILE: &str = "<!channel> @everyone <script>alert(1)</script> *now* & [x](javascript:alert(1))";

async fn page_with_service(app: &TestApp) -> (String, String) {
    let slug = unique_slug("chat");
    let r = app.call("POST", "/api/v1/pages", Some(json!({"name": "Acme", "slug": slug, "isPublic": true}))).await;
    r.expect(201);
    let page = r.json["data"]["id"].as_str().unwrap().to_owned();
    let api = app.service(&page, "API").await;
    (page, api)
}

async fn channel(app: &TestApp, page: &str, body: Value) -> Value {
    let r = app.call("POST", &format!("/api/v1/pages/{page}/subscribers"), Some(body)).await;
    r.expect(201);
    r.json["data"].clone()
}

fn text_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn chars(v: &Value) -> usize {
    text_of(v).chars().count()
}

/// Slack Block Kit (api.slack.com/reference/block-kit): at most 50 blocks; a header's
/// `plain_text` at most 150 characters; a section's text at most 3,000; a button's at
/// most 75 and its URL at most 3,000; `mrkdwn` with no unescaped `<` (a link or mention).
fn check_slack(m: &Value) -> String {
    assert!(!text_of(&m["text"]).is_empty(), "the notification's fallback text");
    let blocks = m["blocks"].as_array().expect("blocks");
    assert!(!blocks.is_empty() && blocks.len() <= 50);
    let mut shown = Vec::new();
    for b in blocks {
        match text_of(&b["type"]) {
            "header" => {
                assert_eq!(b["text"]["type"], "plain_text");
                assert!(chars(&b["text"]["text"]) <= 150);
                shown.push(format!("# {}", text_of(&b["text"]["text"])));
            }
            "section" => {
                assert_eq!(b["text"]["type"], "mrkdwn");
                assert!(chars(&b["text"]["text"]) <= 3000);
                assert!(!text_of(&b["text"]["text"]).contains('<'), "mrkdwn must not carry a link or mention");
                shown.push(text_of(&b["text"]["text"]).to_owned());
            }
            "context" => {
                let elements = b["elements"].as_array().unwrap();
                assert!(!elements.is_empty() && elements.len() <= 10);
                shown.push(elements.iter().map(|e| text_of(&e["text"])).collect::<Vec<_>>().join(" "));
            }
            "actions" => {
                let button = &b["elements"][0];
                assert_eq!(button["type"], "button");
                assert_eq!(button["text"]["type"], "plain_text");
                assert!(chars(&button["text"]["text"]) <= 75 && chars(&button["url"]) <= 3000);
                shown.push(format!("[{}]({})", text_of(&button["text"]["text"]), text_of(&button["url"])));
            }
            other => panic!("unexpected block type {other}"),
        }
    }
    shown.join("\n")
}

/// Discord embeds (discord.com/developers/docs/resources/message#embed-object-embed-limits):
/// title 256, description 4,096, footer 2,048, all text 6,000; a colour in 24 bits; an
/// ISO 8601 timestamp; and no mention allowed to ping.
fn check_discord(m: &Value) -> (String, u64) {
    assert_eq!(m["allowed_mentions"], json!({"parse": []}), "nobody is pinged");
    let embeds = m["embeds"].as_array().unwrap();
    assert_eq!(embeds.len(), 1);
    let e = &embeds[0];
    let (title, description, footer) = (chars(&e["title"]), chars(&e["description"]), chars(&e["footer"]["text"]));
    assert!(title <= 256 && description <= 4096 && footer <= 2048 && title + description + footer <= 6000);
    let color = e["color"].as_u64().unwrap();
    assert!(color <= 0xFF_FF_FF);
    if let Some(at) = e.get("timestamp") {
        chrono::DateTime::parse_from_rfc3339(text_of(at)).expect("an ISO 8601 timestamp");
    }
    let link = e.get("url").map(|u| format!(" <{}>", text_of(u))).unwrap_or_default();
    let shown = format!(
        "# {}{link}\n{}\n-- {} (colour #{color:06x})",
        text_of(&e["title"]),
        text_of(&e["description"]),
        text_of(&e["footer"]["text"])
    );
    (shown, color)
}

/// A Teams message (learn.microsoft.com, "Create Incoming Webhooks" and Workflows): a
/// `message` whose one attachment is an Adaptive Card; the card itself is checked by the
/// SDK in [`adaptive_card_problems`].
fn check_teams(m: &Value) -> (String, Value) {
    assert_eq!(m["type"], "message");
    let attachment = &m["attachments"][0];
    assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
    let card = attachment["content"].clone();
    let mut shown: Vec<String> =
        card["body"].as_array().unwrap().iter().map(|b| text_of(&b["text"]).to_owned()).collect();
    for a in card["actions"].as_array().into_iter().flatten() {
        shown.push(format!("[{}]({})", text_of(&a["title"]), text_of(&a["url"])));
    }
    (shown.join("\n"), card)
}

/// Google Chat `cardsV2` (developers.google.com/workspace/chat/api/reference/rest/v1/cards):
/// a card id, a header with a title, sections of widgets each of exactly one kind; card
/// text is the HTML subset Chat formats, so no raw tag of the API's text may be in it.
fn check_google_chat(m: &Value) -> String {
    let card = &m["cardsV2"][0];
    assert!(!text_of(&card["cardId"]).is_empty());
    let card = &card["card"];
    let header = format!("# {} ({})", text_of(&card["header"]["title"]), text_of(&card["header"]["subtitle"]));
    // The header is plain text; the widgets' text is formatted, so it must be escaped.
    let mut shown = Vec::new();
    for section in card["sections"].as_array().unwrap() {
        for w in section["widgets"].as_array().unwrap() {
            let w = w.as_object().unwrap();
            assert_eq!(w.len(), 1, "a widget is one kind: {w:?}");
            let (kind, body) = w.iter().next().unwrap();
            match kind.as_str() {
                "textParagraph" => shown.push(text_of(&body["text"]).to_owned()),
                "decoratedText" => shown.push(format!(
                    "{}: {}{}",
                    text_of(&body["topLabel"]),
                    text_of(&body["text"]),
                    body.get("bottomLabel").map(|b| format!(" ({})", text_of(b))).unwrap_or_default()
                )),
                "buttonList" => {
                    for b in body["buttons"].as_array().unwrap() {
                        shown.push(format!("[{}]({})", text_of(&b["text"]), text_of(&b["onClick"]["openLink"]["url"])));
                    }
                }
                other => panic!("unexpected widget {other}"),
            }
        }
    }
    let all = shown.join("\n");
    assert!(!all.contains("<script") && !all.contains("<!channel"), "the API's text is escaped:\n{all}");
    format!("{header}\n{all}")
}

/// What Microsoft's Adaptive Cards SDK reports for each card (empty: valid).
fn adaptive_card_problems(cards: &[Value]) -> Vec<Vec<String>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/chat-check/validate-card.js");
    let sdk = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/chat-check/node_modules/adaptivecards");
    assert!(
        std::path::Path::new(sdk).exists(),
        "the Adaptive Cards SDK is missing: infra/test.sh installs it (or `npm ci` in infra/chat-check)"
    );
    let mut child = std::process::Command::new("node")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    child.stdin.take().unwrap().write_all(serde_json::to_string(cards).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the Adaptive Cards check did not run");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Shows a message as text past the test harness's capture, so the run's log has it.
fn show(kind: &str, text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "---- {kind} message, as rendered ----\n{text}\n");
}

fn messages(receiver: &Receiver, kind: &str) -> Vec<Value> {
    let path = format!("/{kind}");
    receiver.received().into_iter().filter(|r| r.path == path).map(|r| serde_json::from_str(&r.body).unwrap()).collect()
}

#[tokio::test]
async fn each_chat_service_gets_an_incident_in_its_own_documented_format_with_hostile_text_inert() {
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, _| Reply::Status(200)).await;
    let (page, api) = page_with_service(&app).await;
    let web = app.service(&page, "Web").await;
    for kind in KINDS {
        let made = channel(&app, &page, json!({"type": kind, "url": format!("{}/{kind}", receiver.base)})).await;
        assert_eq!((made["type"].as_str(), made["state"].as_str()), (Some(kind), Some("active")));
        assert!(made.get("secret").is_none(), "a chat channel has no signing secret");
    }
    channel(&app, &page, json!({"type": "slack", "url": format!("{}/web-only", receiver.base), "serviceIds": [web]}))
        .await;
    let mut seen = HashSet::new();
    stream_new_events(&app, &mut seen, 1).await;

    let title = format!("API errors {HOSTILE}");
    let r = app
        .call(
            "POST",
            &format!("/api/v1/pages/{page}/incidents"),
            Some(json!({"title": title, "impact": "major", "status": "investigating", "body": HOSTILE, "affectedServiceIds": [api]})),
        )
        .await;
    r.expect(201);
    let incident = r.json["data"]["id"].as_str().unwrap().to_owned();
    stream_new_events(&app, &mut seen, 1).await;
    let update = json!({"status": "resolved", "body": "Error rates are back to normal."});
    app.call("POST", &format!("/api/v1/incidents/{incident}/updates"), Some(update)).await.expect(201);
    stream_new_events(&app, &mut seen, 1).await;

    assert!(receiver.received().iter().all(|r| r.signature.is_empty()), "chat messages are not signed");
    assert!(messages(&receiver, "web-only").is_empty(), "a channel following another service is not told");
    let slack = messages(&receiver, "slack");
    assert_eq!(slack.len(), 2, "opened and resolved");
    for m in &slack {
        show("Slack", &check_slack(m));
    }
    assert!(slack[0]["text"].as_str().unwrap().contains("&lt;!channel&gt;"), "escaped, so no @channel");
    assert!(slack[1]["blocks"][1]["text"]["text"].as_str().unwrap().starts_with(":large_green_circle: *Resolved*"));

    let discord = messages(&receiver, "discord");
    assert_eq!(discord.len(), 2);
    let colors: Vec<u64> = discord
        .iter()
        .map(|m| {
            let (shown, color) = check_discord(m);
            show("Discord", &shown);
            color
        })
        .collect();
    let hex = |c: &str| u64::from_str_radix(&c[1..], 16).unwrap();
    assert_eq!(colors, [hex(ORANGE), hex(GREEN)], "major impact, then resolved");
    let description = discord[0]["embeds"][0]["description"].as_str().unwrap();
    assert!(description.contains("\\@everyone") && description.contains("\\*now\\*"), "{description}");
    assert!(discord[0]["embeds"][0]["url"].as_str().unwrap().ends_with(&format!("/incidents/{incident}")));

    let teams = messages(&receiver, "teams");
    assert_eq!(teams.len(), 2);
    let mut cards = Vec::new();
    for m in &teams {
        let (shown, card) = check_teams(m);
        show("Microsoft Teams", &shown);
        cards.push(card);
    }
    assert_eq!(adaptive_card_problems(&cards), vec![Vec::<String>::new(); 2], "the SDK takes each card as it is");
    assert_eq!(cards[0]["body"][2]["color"], "Warning");
    assert_eq!(cards[1]["body"][2]["color"], "Good");

    let google = messages(&receiver, "googlechat");
    assert_eq!(google.len(), 2);
    for m in &google {
        show("Google Chat", &check_google_chat(m));
    }
    let paragraph =
        google[0]["cardsV2"][0]["card"]["sections"][0]["widgets"][1]["textParagraph"]["text"].as_str().unwrap();
    assert!(paragraph.contains("&lt;script&gt;"), "{paragraph}");
}

#[tokio::test]
async fn a_chat_channel_is_validated_takes_no_email_and_gets_a_test_message() {
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, _| Reply::Status(204)).await;
    let (page, _) = page_with_service(&app).await;
    let path = format!("/api/v1/pages/{page}/subscribers");
    let bad = [
        (json!({"type": "slack"}), "url"),
        (json!({"type": "discord", "url": format!("{}/d", receiver.base), "email": "a@example.com"}), "email"),
        (json!({"type": "teams", "url": format!("{}/t", receiver.base), "skipConfirmation": true}), "skipConfirmation"),
        (json!({"type": "irc", "url": format!("{}/i", receiver.base)}), "type"),
        (json!({"type": "googlechat", "url": "http://169.254.169.254/latest"}), "url"),
    ];
    for (body, field) in bad {
        let r = app.call("POST", &path, Some(body.clone())).await;
        r.expect_error(400, "invalid_request");
        let message = r.json["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("`{field}`:")), "{body}: {message}");
    }
    let r = app.call("POST", &path, Some(json!({"type": "irc", "url": "https://x.example"}))).await;
    assert!(r.json["error"]["message"].as_str().unwrap().contains("`googlechat`"), "names the types");

    // The URL is the channel's credential: shown redacted, stored sealed.
    let url = format!("{}/api/webhooks/42/tok-ABCDEFGH12345", receiver.base);
    let made = channel(&app, &page, json!({"type": "discord", "url": url})).await;
    assert_eq!(made["url"], format!("{}/api/webhooks/42/…2345", receiver.base));
    let id = made["id"].as_str().unwrap();
    let r = app.call("POST", &format!("/api/v1/subscribers/{id}/test"), None).await;
    r.expect(202);
    assert_eq!(r.json["data"]["state"], "delivered");
    let got: Vec<Value> = receiver
        .received()
        .into_iter()
        .filter(|r| r.path == "/api/webhooks/42/tok-ABCDEFGH12345")
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(got.len(), 1, "the whole URL is used to send");
    let (shown, _) = check_discord(&got[0]);
    assert!(shown.contains("Test notification"), "{shown}");
    let stored = format!("{:?}", app.org_items(app.org).await);
    let events = app.call("GET", "/api/v1/events?type=subscriber.created", None).await;
    assert!(stored.contains("v2:"), "stored sealed");
    for (what, text) in [("items", stored), ("events", events.json.to_string())] {
        assert!(!text.contains("tok-ABCDEFGH"), "the plaintext URL is not in the {what}");
    }
    let log = app.call("GET", &format!("/api/v1/subscribers/{id}/deliveries"), None).await;
    assert_eq!(log.json["data"][0]["attempts"][0]["statusCode"], 204);
}

#[tokio::test]
async fn a_chat_channel_that_answers_410_gone_is_quarantined_and_sent_nothing_more() {
    let app = TestApp::isolated().await;
    let receiver = Receiver::start(|path, _| Reply::Status(if path == "/slack" { 410 } else { 200 })).await;
    let (page, _) = page_with_service(&app).await;
    let made = channel(&app, &page, json!({"type": "slack", "url": format!("{}/slack", receiver.base)})).await;
    let id = made["id"].as_str().unwrap();
    let mut seen = HashSet::new();
    stream_new_events(&app, &mut seen, 1).await;
    let incident = json!({"title": "Outage", "impact": "critical", "status": "investigating", "body": "Down."});
    app.call("POST", &format!("/api/v1/pages/{page}/incidents"), Some(incident.clone())).await.expect(201);
    stream_new_events(&app, &mut seen, 1).await;

    let r = app.call("GET", &format!("/api/v1/subscribers/{id}"), None).await;
    assert_eq!(r.json["data"]["state"], "quarantined");
    app.call("POST", &format!("/api/v1/pages/{page}/incidents"), Some(incident)).await.expect(201);
    stream_new_events(&app, &mut seen, 1).await;
    assert_eq!(messages(&receiver, "slack").len(), 1, "nothing after the 410");
}
