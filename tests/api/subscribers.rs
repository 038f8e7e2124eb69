//! Subscribers: the API, the public sign-up / confirm / unsubscribe flow with its signed
//! links, email through the local SES (read back from its `GET /store`), webhook
//! subscribers through a real receiver, and who is told what.

use std::collections::HashSet;

use axum::body::Body;
use axum::http::Request;
use chrono::Duration;
use livestatus_shared::outbound::sealing::TokenPurpose;
use livestatus_tests::{PUBLIC_URL, TestApp, mail_to, unique_slug};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::webhooks::{Receiver, Reply, reference_verify, stream_new_events, stream_new_events_to, tick};

/// An address nobody else's test uses.
fn address(name: &str) -> String {
    format!("{name}-{}@example.test", &Uuid::new_v4().simple().to_string()[..10])
}

/// A public page; returns its id and slug.
async fn public_page(app: &TestApp, name: &str) -> (String, String) {
    let slug = unique_slug("sub");
    let r = app.call("POST", "/api/v1/pages", Some(json!({"name": name, "slug": slug, "isPublic": true}))).await;
    r.expect(201);
    (r.json["data"]["id"].as_str().unwrap().to_owned(), slug)
}

async fn subscribe(app: &TestApp, page: &str, body: Value) -> Value {
    let r = app.call("POST", &format!("/api/v1/pages/{page}/subscribers"), Some(body)).await;
    r.expect(201);
    r.json["data"].clone()
}

async fn subscriber(app: &TestApp, id: &str) -> Value {
    let r = app.call("GET", &format!("/api/v1/subscribers/{id}"), None).await;
    r.expect(200);
    r.json["data"].clone()
}

async fn open_incident(app: &TestApp, page: &str, extra: Value) -> String {
    let mut body = json!({"title": "Elevated API errors", "impact": "major", "status": "investigating", "body": "We are looking into it."});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let r = app.call("POST", &format!("/api/v1/pages/{page}/incidents"), Some(body)).await;
    r.expect(201);
    r.json["data"]["id"].as_str().unwrap().to_owned()
}

/// A link of an email, relative to the public URL, for sending to the app.
fn path_of(url: &str) -> String {
    url.strip_prefix(PUBLIC_URL).unwrap_or_else(|| panic!("{url} is not under {PUBLIC_URL}")).to_owned()
}

/// The first URL in `text` that contains `part`.
fn link_in(text: &str, part: &str) -> String {
    text.split_whitespace()
        .find(|w| w.contains(part))
        .unwrap_or_else(|| panic!("no link with {part} in:\n{text}"))
        .trim_end_matches(['.', ')', '>'])
        .trim_start_matches('<')
        .to_owned()
}

fn header<'a>(mail: &'a Value, name: &str) -> Option<&'a str> {
    mail["headers"].as_array()?.iter().find(|h| h["name"] == name).and_then(|h| h["value"].as_str())
}

async fn public(
    app: &TestApp,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> livestatus_tests::TestResponse {
    let mut req = Request::builder().method(method).uri(path).header("host", "status.test");
    if let Some(t) = content_type {
        req = req.header("content-type", t);
    }
    app.send(req.body(Body::from(body.to_owned())).unwrap()).await
}

fn html(r: &livestatus_tests::TestResponse) -> &str {
    r.json.as_str().unwrap_or_default()
}

#[tokio::test]
async fn an_email_subscriber_added_by_api_is_pending_until_the_link_in_its_confirmation_email_is_followed() {
    let app = TestApp::all().await;
    let (page, slug) = public_page(&app, "Acme").await;
    let email = address("ada");
    let mut seen = HashSet::new();

    let created = subscribe(&app, &page, json!({"type": "email", "email": email})).await;
    stream_new_events(&app, &mut seen, 1).await;

    assert_eq!(created["state"], "pending");
    assert_eq!(created["confirmedAt"], Value::Null);
    let mail = mail_to(&email).await;
    assert_eq!(mail.len(), 1, "one confirmation email");
    assert_eq!(mail[0]["subject"], "Confirm your subscription to Acme");
    assert_eq!(mail[0]["from"], livestatus_tests::EMAIL_FROM);
    assert!(header(&mail[0], "List-Unsubscribe").is_none(), "a confirmation subscribes nobody");
    let text = mail[0]["body"]["text"].as_str().unwrap();
    let link = link_in(text, "/subscriptions/confirm?token=");
    assert!(link.starts_with(&format!("{PUBLIC_URL}/status/{slug}/subscriptions/confirm?token=")), "{link}");
    assert!(mail[0]["body"]["html"].as_str().unwrap().contains(&link.replace('&', "&amp;")));

    let confirmed = public(&app, "GET", &path_of(&link), None, "").await;
    confirmed.expect(200);
    assert!(html(&confirmed).contains("You are subscribed"));
    assert_eq!(confirmed.header("cache-control"), Some("no-store"));
    assert_eq!(confirmed.header("referrer-policy"), Some("no-referrer"));
    let now = subscriber(&app, created["id"].as_str().unwrap()).await;
    assert_eq!(now["state"], "active");
    assert!(now["confirmedAt"].is_string());
    let again = public(&app, "GET", &path_of(&link), None, "").await;
    assert!(html(&again).contains("already subscribed"));
    let events = app.call("GET", "/api/v1/events?type=subscriber.*", None).await;
    let types: Vec<&str> =
        events.json["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["subscriber.confirmed", "subscriber.confirmation_requested", "subscriber.created"]);
    assert_eq!(events.json["data"][0]["actor"]["type"], "subscriber");
}

#[tokio::test]
async fn an_incident_email_has_text_and_html_parts_and_one_click_unsubscribe_headers_that_work() {
    let app = TestApp::all().await;
    let (page, _) = public_page(&app, "Acme <Cloud>").await;
    let email = address("bob");
    let mut seen = HashSet::new();
    let sub = subscribe(&app, &page, json!({"type": "email", "email": email, "skipConfirmation": true})).await;
    assert_eq!(sub["state"], "active");

    let incident = open_incident(&app, &page, json!({"title": "<script>alert(1)</script> & \"quotes\""})).await;
    stream_new_events(&app, &mut seen, 1).await;

    let mail = mail_to(&email).await;
    assert_eq!(mail.len(), 1, "no confirmation email with skipConfirmation, one incident email");
    let m = &mail[0];
    assert_eq!(m["subject"], "[Acme <Cloud>] Investigating: <script>alert(1)</script> & \"quotes\"");
    let text = m["body"]["text"].as_str().unwrap();
    let html_part = m["body"]["html"].as_str().unwrap();
    assert!(text.contains("We are looking into it.") && html_part.contains("We are looking into it."));
    assert!(!html_part.contains("<script>"), "escaped in HTML");
    assert!(html_part.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(text.contains(&format!("/incidents/{incident}")));
    let unsubscribe = header(m, "List-Unsubscribe").expect("List-Unsubscribe");
    assert!(unsubscribe.starts_with('<') && unsubscribe.ends_with('>'), "{unsubscribe}");
    assert_eq!(header(m, "List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
    let url = unsubscribe.trim_matches(['<', '>']);
    assert!(text.contains(url), "the text part has the same unsubscribe link");

    // A link scanner's GET changes nothing; the mail client's one-click POST unsubscribes.
    let shown = public(&app, "GET", &path_of(url), None, "").await;
    shown.expect(200);
    assert!(html(&shown).contains("Unsubscribe from Acme &#60;Cloud&#62;?"), "{}", html(&shown));
    assert_eq!(subscriber(&app, sub["id"].as_str().unwrap()).await["state"], "active");
    let done =
        public(&app, "POST", &path_of(url), Some("application/x-www-form-urlencoded"), "List-Unsubscribe=One-Click")
            .await;
    done.expect(200);
    assert!(html(&done).contains("You are unsubscribed"));
    assert_eq!(subscriber(&app, sub["id"].as_str().unwrap()).await["state"], "unsubscribed");

    open_incident(&app, &page, json!({})).await;
    stream_new_events(&app, &mut seen, 1).await;
    assert_eq!(mail_to(&email).await.len(), 1, "nothing after unsubscribing");
}

#[tokio::test]
async fn an_update_in_markdown_is_formatted_in_the_html_part_plain_in_the_text_part_and_inert_in_both() {
    use crate::status_pages::{ACTIVE, HOSTILE_MARKDOWN, one_style, tags};
    let app = TestApp::all().await;
    let (page, _) = public_page(&app, "Acme").await;
    let email = address("md");
    let mut seen = HashSet::new();
    subscribe(&app, &page, json!({"type": "email", "email": email, "skipConfirmation": true})).await;

    open_incident(&app, &page, json!({"body": HOSTILE_MARKDOWN})).await;
    stream_new_events(&app, &mut seen, 1).await;

    let mail = mail_to(&email).await;
    let (text, html) = (mail[0]["body"]["text"].as_str().unwrap(), mail[0]["body"]["html"].as_str().unwrap());
    assert!(html.contains("<strong>Fixed</strong> in <a href=\"https://example.com/n\""), "{html}");
    for bad in ACTIVE {
        assert!(!tags(html).contains(bad), "{bad} in the HTML part");
    }
    assert!(one_style(html));
    assert!(text.contains("Fixed in the notes (https://example.com/n)."), "{text}");
    assert!(!text.contains("**") && !text.contains("<strong>"), "{text}");
}

#[tokio::test]
async fn publishing_a_postmortem_emails_subscribers_once_unless_told_not_to() {
    let app = TestApp::all().await;
    let (page, _) = public_page(&app, "Acme").await;
    let email = address("pm");
    let mut seen = HashSet::new();
    subscribe(&app, &page, json!({"type": "email", "email": email, "skipConfirmation": true})).await;
    let incident = open_incident(&app, &page, json!({"title": "Database failover"})).await;
    stream_new_events(&app, &mut seen, 1).await;
    let path = format!("/api/v1/incidents/{incident}/postmortem");

    // A draft, then its publication, then an edit: one email, for the publication.
    app.call("PUT", &path, Some(json!({"body": "Draft"}))).await.expect(200);
    let body = "## Summary\n\nThe **primary** failed over.";
    app.call("PUT", &path, Some(json!({"body": body, "published": true}))).await.expect(200);
    app.call("PUT", &path, Some(json!({"body": format!("{body} Fixed."), "published": true}))).await.expect(200);
    stream_new_events(&app, &mut seen, 1).await;

    let mail = mail_to(&email).await;
    assert_eq!(mail.len(), 2, "the incident's email and the postmortem's");
    let m = mail.iter().find(|m| m["subject"].as_str().unwrap().contains("Postmortem")).expect("a postmortem email");
    assert_eq!(m["subject"], "[Acme] Postmortem: Database failover");
    let (text, html) = (m["body"]["text"].as_str().unwrap(), m["body"]["html"].as_str().unwrap());
    assert!(text.contains("Summary\n\nThe primary failed over."), "{text}");
    assert!(html.contains("The <strong>primary</strong> failed over."), "{html}");
    assert!(html.contains("Read the postmortem") && text.contains(&format!("/incidents/{incident}")));

    // Unpublished and published again without telling anyone: no email.
    app.call("PUT", &path, Some(json!({"body": body}))).await.expect(200);
    let quiet = json!({"body": body, "published": true, "notifySubscribers": false});
    app.call("PUT", &path, Some(quiet)).await.expect(200);
    stream_new_events(&app, &mut seen, 1).await;
    assert_eq!(mail_to(&email).await.len(), 2);
}

#[tokio::test]
async fn an_unsubscribe_link_stops_working_after_180_days_and_the_newest_email_has_one_that_works() {
    // Arrange: an active subscriber and the unsubscribe link of an incident email.
    let app = TestApp::all().await;
    let (page, _) = public_page(&app, "Acme").await;
    let email = address("old-link");
    let mut seen = HashSet::new();
    let sub = subscribe(&app, &page, json!({"type": "email", "email": email, "skipConfirmation": true})).await;
    open_incident(&app, &page, json!({})).await;
    stream_new_events(&app, &mut seen, 1).await;
    let old = header(&mail_to(&email).await[0], "List-Unsubscribe").unwrap().trim_matches(['<', '>']).to_owned();

    // Act: 181 days later, the old link; then a new email's link.
    app.clock.advance(chrono::Duration::days(181));
    let shown = public(&app, "GET", &path_of(&old), None, "").await;
    let posted =
        public(&app, "POST", &path_of(&old), Some("application/x-www-form-urlencoded"), "List-Unsubscribe=One-Click")
            .await;

    // Assert: refused, nothing changed; the newest link works.
    shown.expect(400);
    assert!(html(&shown).contains("This link has expired"), "{}", html(&shown));
    posted.expect(400);
    assert_eq!(subscriber(&app, sub["id"].as_str().unwrap()).await["state"], "active");
    open_incident(&app, &page, json!({})).await;
    stream_new_events(&app, &mut seen, 1).await;
    let mails = mail_to(&email).await;
    let fresh = header(&mails[mails.len() - 1], "List-Unsubscribe").unwrap().trim_matches(['<', '>']).to_owned();
    let done =
        public(&app, "POST", &path_of(&fresh), Some("application/x-www-form-urlencoded"), "List-Unsubscribe=One-Click")
            .await;
    done.expect(200);
    assert_eq!(subscriber(&app, sub["id"].as_str().unwrap()).await["state"], "unsubscribed");
}

#[tokio::test]
async fn per_service_filters_and_notify_subscribers_false_decide_which_subscribers_are_told() {
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, _| Reply::Status(204)).await;
    let (page, _) = public_page(&app, "Acme").await;
    let api = app.service(&page, "API").await;
    let web = app.service(&page, "Web").await;
    let hook = |path: &str| format!("{}/{path}", receiver.base);
    let all = subscribe(&app, &page, json!({"type": "webhook", "url": hook("all")})).await;
    subscribe(&app, &page, json!({"type": "webhook", "url": hook("api"), "serviceIds": [api]})).await;
    subscribe(&app, &page, json!({"type": "webhook", "url": hook("web"), "serviceIds": [web]})).await;
    let gone = subscribe(&app, &page, json!({"type": "webhook", "url": hook("gone")})).await;
    app.call("DELETE", &format!("/api/v1/subscribers/{}", gone["id"].as_str().unwrap()), None).await.expect(204);
    let pending = address("pending");
    subscribe(&app, &page, json!({"type": "email", "email": pending})).await;
    app.call("POST", "/api/v1/webhooks", Some(json!({"url": hook("org")}))).await.expect(201);
    let mut seen = HashSet::new();
    stream_new_events(&app, &mut seen, 1).await;
    let got = |path: &str| -> Vec<String> {
        let mut types: Vec<String> = receiver
            .received()
            .iter()
            .filter(|r| r.path == format!("/{path}"))
            .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["type"].as_str().unwrap().to_owned())
            .collect();
        // Events are fanned out concurrently: their order of arrival is not theirs.
        types.sort();
        types
    };

    open_incident(&app, &page, json!({"affectedServiceIds": [api]})).await;
    open_incident(&app, &page, json!({})).await;
    open_incident(&app, &page, json!({"notifySubscribers": false})).await;
    app.call("PATCH", &format!("/api/v1/services/{web}"), Some(json!({"currentStatus": "outage"}))).await.expect(200);
    app.call("PATCH", &format!("/api/v1/services/{api}"), Some(json!({"name": "Public API"}))).await.expect(200);
    stream_new_events(&app, &mut seen, 1).await;

    assert_eq!(got("all"), ["incident.created", "incident.created", "service.updated"]);
    assert_eq!(got("api"), ["incident.created", "incident.created"], "its service, and the incident naming none");
    assert_eq!(got("web"), ["incident.created", "service.updated"]);
    assert!(got("gone").is_empty(), "unsubscribed");
    assert!(
        mail_to(&pending).await.iter().all(|m| m["subject"].as_str().unwrap().starts_with("Confirm")),
        "pending: only its confirmation"
    );
    assert_eq!(
        got("org").iter().filter(|t| *t == "incident.created").count(),
        3,
        "the organization's webhook still gets the incident that did not notify subscribers"
    );

    // Signed with the subscriber's own secret, verified by the reference library.
    let secret = all["secret"].as_str().unwrap();
    let requests: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.path == "/all")
        .map(|r| (r.id, r.timestamp, r.signature, r.body))
        .collect();
    assert!(reference_verify(secret, &requests).iter().all(|ok| *ok));
}

#[tokio::test]
async fn a_link_token_for_one_subscriber_cannot_act_on_another_or_on_another_organization() {
    let app = TestApp::all().await;
    let (page, slug) = public_page(&app, "Acme").await;
    let one = subscribe(&app, &page, json!({"type": "email", "email": address("one"), "skipConfirmation": true})).await;
    let two = subscribe(&app, &page, json!({"type": "email", "email": address("two"), "skipConfirmation": true})).await;
    let id = |v: &Value| Uuid::parse_str(v["id"].as_str().unwrap()).unwrap();
    let sealer = &app.state.sealer;
    let now = livestatus_shared::clock::Clock::now(&*app.clock).timestamp();
    let token = sealer.token(TokenPurpose::Unsubscribe, app.org, id(&one), now);
    // The same bytes with the other subscriber's id in them: the MAC no longer matches.
    let forged = {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut bytes = engine.decode(&token).unwrap();
        bytes[1..17].copy_from_slice(id(&two).as_bytes());
        engine.encode(bytes)
    };
    let other_org = sealer.token(TokenPurpose::Unsubscribe, Uuid::now_v7(), id(&two), now);
    let confirm_as_unsubscribe = sealer.token(TokenPurpose::Confirm, app.org, id(&two), now);

    for bad in [&forged, &other_org, &confirm_as_unsubscribe, &"x".repeat(55)] {
        let r = public(&app, "POST", &format!("/status/{slug}/unsubscribe?token={bad}"), None, "").await;
        r.expect(400);
        assert!(html(&r).contains("This link is not valid"));
    }
    assert_eq!(subscriber(&app, two["id"].as_str().unwrap()).await["state"], "active");

    public(&app, "POST", &format!("/status/{slug}/unsubscribe?token={token}"), None, "").await.expect(200);
    assert_eq!(subscriber(&app, one["id"].as_str().unwrap()).await["state"], "unsubscribed");
    assert_eq!(subscriber(&app, two["id"].as_str().unwrap()).await["state"], "active", "only the token's own");

    // A private page answers a bad token with the same 404 as no page at all.
    app.call("PATCH", &format!("/api/v1/pages/{page}"), Some(json!({"isPublic": false}))).await.expect(200);
    let private = public(&app, "GET", &format!("/status/{slug}/unsubscribe?token={forged}"), None, "").await;
    let nothing = public(&app, "GET", "/status/no-such-page-here/unsubscribe?token=x", None, "").await;
    private.expect(404);
    assert_eq!(html(&private), html(&nothing));
}

#[tokio::test]
async fn a_public_sign_up_is_always_double_opt_in_and_repeating_it_reveals_nothing_and_floods_nobody() {
    let app = TestApp::all().await;
    let (page, slug) = public_page(&app, "Acme").await;
    let api = app.service(&page, "API").await;
    let email = address("carol");
    let mut seen = HashSet::new();
    let form = format!("email={}&serviceIds={api}", email.replace('@', "%40"));

    let page_html = public(&app, "GET", &format!("/status/{slug}"), None, "").await;
    let shown = html(&page_html);
    let markup = &shown[shown.find("<form").expect("a sign-up form")..];
    assert!(
        markup.starts_with(&format!("<form method=\"post\" action=\"https://status.test/status/{slug}/subscribe\""))
    );
    assert!(markup.contains(&format!("value=\"{api}\"> API")), "a box per service");
    let first =
        public(&app, "POST", &format!("/status/{slug}/subscribe"), Some("application/x-www-form-urlencoded"), &form)
            .await;
    let second =
        public(&app, "POST", &format!("/status/{slug}/subscribe"), Some("application/x-www-form-urlencoded"), &form)
            .await;
    stream_new_events(&app, &mut seen, 1).await;

    first.expect(202);
    assert!(html(&first).contains("Check your inbox"));
    assert_eq!(html(&first), html(&second), "the same answer");
    assert_eq!(mail_to(&email).await.len(), 1, "one confirmation within 15 minutes");
    let listed = app.call("GET", &format!("/api/v1/pages/{page}/subscribers?state=pending"), None).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed.json["data"][0]["serviceIds"], json!([api]));

    app.clock.advance(Duration::minutes(16));
    let json_sign_up = public(
        &app,
        "POST",
        &format!("/status/{slug}/subscribe"),
        Some("application/json"),
        &json!({"email": email}).to_string(),
    )
    .await;
    stream_new_events(&app, &mut seen, 1).await;
    json_sign_up.expect(202);
    assert_eq!(json_sign_up.json["data"]["state"], "pending");
    let mail = mail_to(&email).await;
    assert_eq!(mail.len(), 2, "sent again after 15 minutes");
    let link = link_in(mail[1]["body"]["text"].as_str().unwrap(), "/subscriptions/confirm?token=");
    public(&app, "GET", &path_of(&link), None, "").await.expect(200);
    assert_eq!(
        app.call("GET", &format!("/api/v1/pages/{page}/subscribers?state=active"), None).await.json["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Already active: the same answer, no email.
    app.clock.advance(Duration::minutes(16));
    public(&app, "POST", &format!("/status/{slug}/subscribe"), Some("application/x-www-form-urlencoded"), &form)
        .await
        .expect(202);
    stream_new_events(&app, &mut seen, 1).await;
    assert_eq!(mail_to(&email).await.len(), 2);

    let bad = public(
        &app,
        "POST",
        &format!("/status/{slug}/subscribe"),
        Some("application/x-www-form-urlencoded"),
        "email=not-an-address",
    )
    .await;
    bad.expect(400);
    assert!(html(&bad).contains("email address"));
    let bad_json =
        public(&app, "POST", &format!("/status/{slug}/subscribe"), Some("application/json"), r#"{"email": "a@b"}"#)
            .await;
    bad_json.expect_error(400, "invalid_request");
    app.call("PATCH", &format!("/api/v1/pages/{page}"), Some(json!({"isPublic": false}))).await.expect(200);
    public(&app, "POST", &format!("/status/{slug}/subscribe"), Some("application/x-www-form-urlencoded"), &form)
        .await
        .expect(404);
}

#[tokio::test]
async fn a_confirmation_link_expires_after_seven_days() {
    let app = TestApp::all().await;
    let (page, _) = public_page(&app, "Acme").await;
    let email = address("late");
    let mut seen = HashSet::new();
    let sub = subscribe(&app, &page, json!({"type": "email", "email": email})).await;
    stream_new_events(&app, &mut seen, 1).await;
    let link = link_in(mail_to(&email).await[0]["body"]["text"].as_str().unwrap(), "/subscriptions/confirm?token=");

    app.clock.advance(Duration::days(7) + Duration::minutes(1));
    let late = public(&app, "GET", &path_of(&link), None, "").await;

    late.expect(410);
    assert!(html(&late).contains("This link has expired"));
    assert_eq!(subscriber(&app, sub["id"].as_str().unwrap()).await["state"], "pending");
}

#[tokio::test]
async fn a_webhook_subscriber_failing_for_24_hours_is_quarantined_with_an_event() {
    let app = TestApp::isolated().await;
    let receiver = Receiver::start(|_, _| Reply::Status(500)).await;
    let (page, _) = public_page(&app, "Acme").await;
    let sub = subscribe(&app, &page, json!({"type": "webhook", "url": format!("{}/down", receiver.base)})).await;
    let id = sub["id"].as_str().unwrap();
    let mut seen = HashSet::new();
    stream_new_events(&app, &mut seen, 1).await;

    open_incident(&app, &page, json!({})).await;
    stream_new_events(&app, &mut seen, 1).await;
    for _ in 0..5 {
        app.clock.advance(Duration::hours(6));
        tick(&app).await;
    }

    assert_eq!(subscriber(&app, id).await["state"], "quarantined");
    let events = app.call("GET", "/api/v1/events?type=subscriber.quarantined", None).await;
    assert_eq!(events.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(events.json["data"][0]["actor"]["type"], "schedule");
    let before = receiver.count();
    open_incident(&app, &page, json!({})).await;
    stream_new_events(&app, &mut seen, 1).await;
    tick(&app).await;
    assert_eq!(receiver.count(), before, "a quarantined subscriber is sent nothing");
}

#[tokio::test]
async fn a_test_ping_reaches_an_active_subscriber_and_is_logged_but_a_pending_one_is_not_sent_tests() {
    let app = TestApp::all().await;
    let receiver = Receiver::start(|_, _| Reply::Status(200)).await;
    let (page, _) = public_page(&app, "Acme").await;
    let hook = subscribe(&app, &page, json!({"type": "webhook", "url": format!("{}/ping", receiver.base)})).await;
    let email = address("tester");
    let mail = subscribe(&app, &page, json!({"type": "email", "email": email, "skipConfirmation": true})).await;
    let pending = subscribe(&app, &page, json!({"type": "email", "email": address("p")})).await;

    let pinged = app.call("POST", &format!("/api/v1/subscribers/{}/test", hook["id"].as_str().unwrap()), None).await;
    let mailed = app.call("POST", &format!("/api/v1/subscribers/{}/test", mail["id"].as_str().unwrap()), None).await;
    let refused =
        app.call("POST", &format!("/api/v1/subscribers/{}/test", pending["id"].as_str().unwrap()), None).await;

    pinged.expect(202);
    assert_eq!(pinged.json["data"]["state"], "delivered");
    assert_eq!(pinged.json["data"]["eventType"], "ping");
    let body: Value = serde_json::from_str(&receiver.received()[0].body).unwrap();
    assert_eq!(body["type"], "ping");
    assert_eq!(body["data"]["subscriberId"], hook["id"]);
    mailed.expect(202);
    assert_eq!(mailed.json["data"]["state"], "delivered");
    assert_eq!(mail_to(&email).await[0]["subject"], "[Acme] Test notification");
    refused.expect_error(400, "invalid_request");
    let log = app.call("GET", &format!("/api/v1/subscribers/{}/deliveries", hook["id"].as_str().unwrap()), None).await;
    assert_eq!(log.json["data"][0]["id"], pinged.json["data"]["id"]);
}

#[tokio::test]
async fn subscribers_are_validated_and_an_address_is_subscribed_once_per_page() {
    let app = TestApp::all().await;
    let (page, _) = public_page(&app, "Acme").await;
    let (other_page, _) = public_page(&app, "Other").await;
    let foreign_service = app.service(&other_page, "Elsewhere").await;
    let email = address("dup");
    subscribe(&app, &page, json!({"type": "email", "email": email})).await;

    let cases = [
        json!({"type": "sms", "email": "a@b.test"}),
        json!({"type": "email"}),
        json!({"type": "email", "email": "no-at-sign"}),
        json!({"type": "email", "email": "a@b.test", "url": "http://127.0.0.1:9/x"}),
        json!({"type": "webhook", "url": "http://127.0.0.1:9/x", "skipConfirmation": true}),
        json!({"type": "email", "email": "a@b.test", "serviceIds": [foreign_service]}),
        json!({"type": "email", "email": "a@b.test", "serviceIds": ["nope"]}),
        json!({"type": "email", "email": email.to_uppercase()}),
    ];
    for body in cases {
        let r = app.call("POST", &format!("/api/v1/pages/{page}/subscribers"), Some(body.clone())).await;
        r.expect_error(400, "invalid_request");
        assert!(r.json["error"]["message"].as_str().unwrap().contains('`'), "names the field: {body} → {}", r.json);
    }
    subscribe(&app, &other_page, json!({"type": "email", "email": email})).await;
    app.call("GET", &format!("/api/v1/pages/{page}/subscribers?state=gone"), None)
        .await
        .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn deleting_a_page_removes_its_subscribers_and_their_address_claims() {
    let app = TestApp::all().await;
    let (page, _) = public_page(&app, "Acme").await;
    subscribe(&app, &page, json!({"type": "email", "email": address("x")})).await;
    subscribe(&app, &page, json!({"type": "webhook", "url": "http://127.0.0.1:9/hook"})).await;

    app.call("DELETE", &format!("/api/v1/pages/{page}"), None).await.expect(204);

    let left: Vec<String> = app
        .org_items(app.org)
        .await
        .iter()
        .filter_map(|i| i.get("sk").and_then(|v| v.as_s().ok()).cloned())
        .filter(|sk| sk.starts_with("SUBSCRIBER#") || sk.starts_with("SUBEMAIL#"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn an_email_the_mail_service_refused_is_sent_again_by_the_scheduler() {
    let app = TestApp::isolated().await;
    let (page, _) = public_page(&app, "Acme").await;
    let email = address("retry");
    let sub = subscribe(&app, &page, json!({"type": "email", "email": email, "skipConfirmation": true})).await;
    let mut seen = HashSet::new();
    stream_new_events(&app, &mut seen, 1).await;
    // SES unreachable for the notifier's first attempt.
    let config =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url("http://127.0.0.1:9").load().await;
    let down =
        livestatus_notifications::mailer::SesMailer::new(aws_sdk_sesv2::Client::new(&config), "x@y.test".into(), None);
    let broken = livestatus_shared::AppState { mailer: Some(std::sync::Arc::new(down)), ..app.state.clone() };

    open_incident(&app, &page, json!({})).await;
    stream_new_events_to(&app, &broken, &mut seen, 1).await;
    let log = app.call("GET", &format!("/api/v1/subscribers/{}/deliveries", sub["id"].as_str().unwrap()), None).await;
    assert_eq!(log.json["data"][0]["state"], "pending");
    assert!(log.json["data"][0]["attempts"][0]["error"].is_string());
    assert!(mail_to(&email).await.is_empty());

    app.clock.advance(Duration::seconds(10));
    let outcome = tick(&app).await;

    assert_eq!(outcome.delivered, 1);
    assert_eq!(mail_to(&email).await.len(), 1);
    let log = app.call("GET", &format!("/api/v1/subscribers/{}/deliveries", sub["id"].as_str().unwrap()), None).await;
    assert_eq!(log.json["data"][0]["state"], "delivered");
    assert_eq!(log.json["data"][0]["attempts"].as_array().unwrap().len(), 2);
}

async fn idempotent_post(app: &TestApp, path: &str, key: &str, body: &Value) -> livestatus_tests::TestResponse {
    let req = Request::post(path)
        .header("authorization", format!("Bearer {}", app.key))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(req).await
}

#[tokio::test]
async fn a_retried_create_with_its_idempotency_key_replays_the_first_answer_secret_included_and_keeps_it_sealed() {
    let app = TestApp::all().await;
    let (page, _) = public_page(&app, "Acme").await;
    let subscribers = format!("/api/v1/pages/{page}/subscribers");
    let sub_body = json!({"type": "webhook", "url": "http://127.0.0.1:9/hook"});
    let hook_body = json!({"url": "http://127.0.0.1:9/org"});

    let first = idempotent_post(&app, &subscribers, "sub-1", &sub_body).await;
    let retry = idempotent_post(&app, &subscribers, "sub-1", &sub_body).await;
    let other = idempotent_post(&app, &subscribers, "sub-1", &json!({"type": "email", "email": address("x")})).await;
    let hook = idempotent_post(&app, "/api/v1/webhooks", "hook-1", &hook_body).await;
    let hook_retry = idempotent_post(&app, "/api/v1/webhooks", "hook-1", &hook_body).await;

    first.expect(201);
    retry.expect(201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.json, first.json, "the same subscriber and the same secret");
    assert!(first.json["data"]["secret"].as_str().unwrap().starts_with("whsec_"));
    other.expect_error(409, "idempotency_conflict");
    let listed = app.call("GET", &subscribers, None).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 1, "one subscriber");
    hook.expect(201);
    assert_eq!(hook_retry.json, hook.json);
    assert_eq!(app.call("GET", "/api/v1/webhooks", None).await.json["data"].as_array().unwrap().len(), 1);
    // Neither secret is anywhere in the table in plain text, the replay records included.
    let items = format!("{:?}", app.org_items(app.org).await);
    for secret in [&first.json["data"]["secret"], &hook.json["data"]["secret"]] {
        assert!(!items.contains(secret.as_str().unwrap()));
    }
}

/// A public sign-up as a browser at `address` sends it (the connection's address, as the
/// local server sees it), with `extra` headers.
async fn sign_up_from(
    app: &TestApp,
    slug: &str,
    address: [u8; 4],
    extra: &[(&str, &str)],
) -> livestatus_tests::TestResponse {
    let mut req = axum::http::Request::post(format!("/status/{slug}/subscribe"))
        .header("content-type", "application/x-www-form-urlencoded");
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    let mut req = req.body(axum::body::Body::from(format!("email={}", address_for_sign_up()))).unwrap();
    req.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((address, 40_000))));
    app.send(req).await
}

fn address_for_sign_up() -> String {
    format!("{}%40example.test", unique_slug("signup"))
}

#[tokio::test]
async fn the_eleventh_sign_up_from_one_address_in_an_hour_is_refused_and_a_forged_viewer_address_changes_nothing() {
    // Arrange
    let app = TestApp::all().await;
    let (_, slug) = public_page(&app, "Acme").await;

    // Act: ten sign-ups from one address, each claiming another CDN viewer address.
    for i in 0..10 {
        let forged = format!("198.51.100.{i}:1234");
        sign_up_from(&app, &slug, [203, 0, 113, 7], &[("cloudfront-viewer-address", &forged)]).await.expect(202);
    }
    let refused =
        sign_up_from(&app, &slug, [203, 0, 113, 7], &[("cloudfront-viewer-address", "198.51.100.99:1")]).await;
    let other = sign_up_from(&app, &slug, [203, 0, 113, 8], &[]).await;

    // Assert: 429 with a wait to the end of the hour, in a page; another address goes on.
    refused.expect(429);
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    assert!(html(&refused).contains("Too many sign-ups"), "{}", html(&refused));
    other.expect(202);
    app.clock.advance(chrono::Duration::seconds(i64::try_from(wait).unwrap()));
    sign_up_from(&app, &slug, [203, 0, 113, 7], &[]).await.expect(202);
}

#[tokio::test]
async fn a_page_takes_a_hundred_sign_ups_an_hour_and_holds_at_most_a_thousand_unconfirmed() {
    // Arrange
    let app = TestApp::all().await;
    let (page, slug) = public_page(&app, "Acme").await;

    // Act / Assert: a hundred from ten addresses, then the page is full for the hour.
    for i in 0..100u8 {
        sign_up_from(&app, &slug, [203, 0, 113, i / 10], &[]).await.expect(202);
    }
    sign_up_from(&app, &slug, [192, 0, 2, 1], &[]).await.expect(429);

    // A thousand unconfirmed subscribers: no more sign-ups until some expire.
    let page_id = uuid::Uuid::parse_str(&page).unwrap();
    let now = livestatus_shared::store::write::Now::new(livestatus_shared::clock::Clock::now(app.clock.as_ref()));
    let (store, org) = (&app.store, app.org);
    let now = &now;
    futures::StreamExt::for_each_concurrent(futures::stream::iter(0..900), 16, |_| async move {
        let email = format!("{}@example.test", unique_slug("bulk"));
        let email = livestatus_shared::domain::EmailAddress::parse("email", &email).unwrap();
        store.sign_up(org, page_id, email, Vec::new(), now).await.unwrap();
    })
    .await;
    app.clock.advance(chrono::Duration::hours(1));
    sign_up_from(&app, &slug, [192, 0, 2, 1], &[]).await.expect(429);
    app.clock.advance(chrono::Duration::days(8));
    sign_up_from(&app, &slug, [192, 0, 2, 1], &[]).await.expect(202);
}
