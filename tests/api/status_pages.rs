//! The public status pages: Statuspage-compatible JSON read as a Statuspage client reads
//! it, hostile text in every format, privacy of unknown and private pages, caching,
//! badges, feeds, and a bounded number of DynamoDB calls per view.

use axum::body::Body;
use axum::http::Request;
use livestatus_shared::clock::{Clock, timestamp};
use livestatus_shared::domain::{Impact, IncidentStatus, ServiceStatus};
use livestatus_shared::store::incidents::NewIncident;
use livestatus_shared::store::services::NewService;
use livestatus_shared::store::write::Write;
use livestatus_tests::{TestApp, TestResponse, unique_slug};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

/// A public page with its slug and id.
async fn public_page(app: &TestApp, body: Value) -> (String, String) {
    let slug = unique_slug("sp");
    let mut body = body;
    body["slug"] = json!(slug);
    let r = app.call("POST", "/api/v1/pages", Some(body)).await;
    (slug, r.expect(201).json["data"]["id"].as_str().unwrap().to_owned())
}

async fn get(app: &TestApp, path: &str) -> TestResponse {
    app.call_as("", "GET", path, None).await
}

fn text(r: &TestResponse) -> &str {
    r.json.as_str().expect("a text body")
}

async fn incident(app: &TestApp, page: &str, title: &str, impact: &str, services: &[&str]) -> String {
    let body = json!({"title": title, "impact": impact, "status": "investigating", "body": "Looking into it.", "affectedServiceIds": services});
    let r = app.call("POST", &format!("/api/v1/pages/{page}/incidents"), Some(body)).await;
    r.expect(201).json["data"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn summary_json_reads_as_statuspage_with_every_field_of_the_contract() {
    // Arrange
    let app = TestApp::all().await;
    let (slug, page) = public_page(&app, json!({"name": "Acme", "brandColor": "#6d28d9"})).await;
    let api = app.service(&page, "API").await;
    let web = app.service(&page, "Web").await;
    app.call("PATCH", &format!("/api/v1/services/{api}"), Some(json!({"currentStatus": "outage", "displayOrder": 1})))
        .await
        .expect(200);
    let open = incident(&app, &page, "API down", "major", &[&api]).await;
    app.call(
        "POST",
        &format!("/api/v1/incidents/{open}/updates"),
        Some(json!({"body": "Fix deployed.", "status": "monitoring"})),
    )
    .await
    .expect(201);
    let closed = incident(&app, &page, "Old", "minor", &[]).await;
    app.call(
        "POST",
        &format!("/api/v1/incidents/{closed}/updates"),
        Some(json!({"body": "Done.", "status": "resolved"})),
    )
    .await
    .expect(201);

    // Act
    let r = get(&app, &format!("/status/{slug}/api/v2/summary.json")).await;

    // Assert
    let s = &r.expect(200).json;
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let p = &s["page"];
    assert_eq!(p["id"], page.as_str());
    assert_eq!(p["name"], "Acme");
    assert!(p["url"].as_str().unwrap().ends_with(&format!("/status/{slug}")));
    assert_eq!(p["time_zone"], "Etc/UTC");
    assert!(p["updated_at"].is_string());
    let components = s["components"].as_array().unwrap();
    assert_eq!(components.len(), 2);
    assert_eq!((components[0]["id"].as_str(), components[1]["id"].as_str()), (Some(&*web), Some(&*api)));
    let c = &components[1];
    for field in [
        "id",
        "name",
        "status",
        "created_at",
        "updated_at",
        "position",
        "description",
        "showcase",
        "start_date",
        "group_id",
        "page_id",
        "group",
        "only_show_if_degraded",
    ] {
        assert!(c.get(field).is_some(), "component field {field}");
    }
    assert_eq!((c["status"].as_str(), c["position"].as_u64()), (Some("major_outage"), Some(2)));
    assert_eq!(c["page_id"], page.as_str());
    assert_eq!((c["group"].as_bool(), c["showcase"].as_bool()), (Some(false), Some(true)));
    let incidents = s["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "only unresolved incidents");
    let i = &incidents[0];
    for field in [
        "id",
        "name",
        "status",
        "impact",
        "created_at",
        "updated_at",
        "monitoring_at",
        "resolved_at",
        "started_at",
        "shortlink",
        "page_id",
        "incident_updates",
        "components",
        "postmortem_body",
        "postmortem_published_at",
    ] {
        assert!(i.get(field).is_some(), "incident field {field}");
    }
    assert_eq!(
        (i["name"].as_str(), i["status"].as_str(), i["impact"].as_str()),
        (Some("API down"), Some("monitoring"), Some("major"))
    );
    assert!(i["monitoring_at"].is_string());
    assert_eq!(i["resolved_at"], Value::Null);
    assert_eq!(i["components"][0]["id"], api.as_str());
    let updates = i["incident_updates"].as_array().unwrap();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0]["status"], "monitoring", "newest first, as Statuspage lists them");
    for field in [
        "id",
        "status",
        "body",
        "incident_id",
        "created_at",
        "updated_at",
        "display_at",
        "affected_components",
        "deliver_notifications",
    ] {
        assert!(updates[0].get(field).is_some(), "update field {field}");
    }
    assert_eq!(updates[1]["body"], "Looking into it.");
    assert_eq!(s["scheduled_maintenances"], json!([]));
    assert_eq!(s["status"], json!({"indicator": "major", "description": "Partial System Outage"}));

    // The shortlink is the incident's permalink page.
    let shortlink = i["shortlink"].as_str().unwrap();
    let path = &shortlink[shortlink.find("/status/").unwrap()..];
    let permalink = get(&app, path).await;
    assert_eq!(permalink.expect(200).header("content-type"), Some("text/html; charset=utf-8"));
    assert!(text(&permalink).contains("API down") && text(&permalink).contains("Fix deployed."));
}

#[tokio::test]
async fn the_indicator_is_the_worst_of_open_incidents_and_service_states_with_maintenance_last() {
    let app = TestApp::all().await;
    let (slug, page) = public_page(&app, json!({"name": "Acme"})).await;
    let svc = app.service(&page, "API").await;
    let status = async |expected: &str, description: &str| {
        let r = get(&app, &format!("/status/{slug}/api/v2/status.json")).await;
        assert_eq!(r.expect(200).json["status"], json!({"indicator": expected, "description": description}));
        let health = get(&app, &format!("/status/{slug}/health")).await;
        assert_eq!(health.status.as_u16(), if expected == "none" { 200 } else { 503 });
        assert_eq!(health.json["indicator"], expected);
    };
    let set = async |s: &str| {
        app.call("PATCH", &format!("/api/v1/services/{svc}"), Some(json!({"currentStatus": s}))).await.expect(200);
    };

    status("none", "All Systems Operational").await;
    set("maintenance").await;
    status("maintenance", "Service Under Maintenance").await;
    set("degraded").await;
    status("minor", "Minor Service Outage").await;
    set("outage").await;
    status("major", "Partial System Outage").await;
    set("maintenance").await;
    let critical = incident(&app, &page, "Everything down", "critical", &[]).await;
    status("critical", "Major Service Outage").await;
    app.call(
        "POST",
        &format!("/api/v1/incidents/{critical}/updates"),
        Some(json!({"body": "ok", "status": "resolved"})),
    )
    .await
    .expect(201);
    incident(&app, &page, "Slow", "minor", &[]).await;
    status("minor", "Minor Service Outage").await;

    let components = get(&app, &format!("/status/{slug}/api/v2/components.json")).await;
    assert_eq!(components.json["components"][0]["status"], "under_maintenance");
    for (ours, theirs) in
        [("operational", "operational"), ("degraded", "degraded_performance"), ("outage", "major_outage")]
    {
        set(ours).await;
        let r = get(&app, &format!("/status/{slug}/api/v2/components.json")).await;
        assert_eq!(r.json["components"][0]["status"], theirs);
    }
}

#[tokio::test]
async fn incidents_json_lists_the_50_most_recent_and_unresolved_only_the_open_ones() {
    let app = TestApp::all().await;
    let (slug, page) = public_page(&app, json!({"name": "Acme"})).await;
    let org = app.org;
    let page_id = Uuid::parse_str(&page).unwrap();
    let mut ids = Vec::new();
    for n in 0..55 {
        let status = if n % 10 == 0 { IncidentStatus::Investigating } else { IncidentStatus::Resolved };
        let new = NewIncident {
            id: Uuid::now_v7(),
            title: format!("incident {n}"),
            impact: Impact::Minor,
            status,
            body: format!("body {n}"),
            affected_service_ids: vec![],
            notify_subscribers: true,
        };
        ids.push(new.id);
        app.store
            .create_incident(
                &Write::new(org, livestatus_shared::store::events::Actor::operator(), app.clock.now()),
                page_id,
                new,
            )
            .await
            .unwrap();
    }

    let all = get(&app, &format!("/status/{slug}/api/v2/incidents.json")).await;
    let open = get(&app, &format!("/status/{slug}/api/v2/incidents/unresolved.json")).await;

    let listed: Vec<&str> =
        all.json["incidents"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    let newest: Vec<String> = ids.iter().rev().take(50).map(Uuid::to_string).collect();
    assert_eq!(listed, newest);
    assert_eq!(all.json["incidents"][0]["incident_updates"][0]["body"], "body 54");
    let open: Vec<&str> =
        open.json["incidents"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(open, ["incident 50", "incident 40", "incident 30", "incident 20", "incident 10", "incident 0"]);
    for path in
        ["scheduled-maintenances.json", "scheduled-maintenances/upcoming.json", "scheduled-maintenances/active.json"]
    {
        let r = get(&app, &format!("/status/{slug}/api/v2/{path}")).await;
        assert_eq!(r.expect(200).json["scheduled_maintenances"], json!([]));
        assert_eq!(r.json["page"]["id"], page.as_str());
    }
}

const PUBLIC_ROUTES: [&str; 18] = [
    "",
    "/incidents/{incident}",
    "/history",
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
    "/history.atom",
    "/history.rss",
    "/maintenance.ics",
    "/badge.svg",
    "/services/{service}/badge.svg",
    "/badge.json",
    "/og.png",
];

#[tokio::test]
async fn a_private_page_and_an_unknown_slug_answer_the_same_404_on_every_public_route() {
    let app = TestApp::all().await;
    let (private, page) = public_page(&app, json!({"name": "Secret plans", "isPublic": false})).await;
    let service = app.service(&page, "Secret service").await;
    let incident = incident(&app, &page, "Secret incident", "minor", &[&service]).await;
    let unknown = unique_slug("nobody");

    for route in PUBLIC_ROUTES.iter().chain(&["/health"]) {
        let route = route.replace("{incident}", &incident).replace("{service}", &service);
        let a = get(&app, &format!("/status/{private}{route}")).await;
        let b = get(&app, &format!("/status/{unknown}{route}")).await;
        assert_eq!((a.status.as_u16(), b.status.as_u16()), (404, 404), "{route}");
        assert_eq!(a.header("content-type"), b.header("content-type"), "{route}");
        let strip = |r: &TestResponse| {
            let mut v = r.json.clone();
            if let Some(e) = v.get_mut("error") {
                e["requestId"] = Value::Null;
            }
            v
        };
        assert_eq!(strip(&a), strip(&b), "{route}");
        assert!(!a.json.to_string().contains("Secret"), "{route}");
    }
    // Made public, it is there; back to private, gone again.
    app.call("PATCH", &format!("/api/v1/pages/{page}"), Some(json!({"isPublic": true}))).await.expect(200);
    get(&app, &format!("/status/{private}")).await.expect(200);
    app.call("PATCH", &format!("/api/v1/pages/{page}"), Some(json!({"isPublic": false}))).await.expect(200);
    get(&app, &format!("/status/{private}")).await.expect(404);
}

const HOSTILE: &str = "<script>alert(\"x\")</script> & 'quotes' ]]> \u{200F}مرحبا Supercalifragilisticexpialidocious-without-any-break-at-all-for-a-very-long-word";

/// Parses XML and returns the text of every element named `name`.
fn xml_texts(xml: &str, name: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{xml}"));
    doc.descendants().filter(|n| n.has_tag_name(name)).map(|n| n.text().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn hostile_text_is_inert_in_html_atom_rss_svg_ics_and_json() {
    // Arrange: hostile page, service, incident and update text.
    let app = TestApp::all().await;
    let name: String = HOSTILE.chars().take(100).collect();
    let (slug, page) = public_page(&app, json!({"name": name, "description": HOSTILE})).await;
    let service = app.service(&page, &HOSTILE.chars().take(100).collect::<String>()).await;
    let title: String = HOSTILE.chars().take(200).collect();
    let incident = incident(&app, &page, &title, "major", &[&service]).await;
    let body = format!("{HOSTILE}\nline two");
    app.call("POST", &format!("/api/v1/incidents/{incident}/updates"), Some(json!({"body": body}))).await.expect(201);

    // HTML: nothing of it is markup.
    for path in
        [format!("/status/{slug}"), format!("/status/{slug}/incidents/{incident}"), format!("/status/{slug}/history")]
    {
        let r = get(&app, &path).await;
        let html = text(r.expect(200));
        assert!(!html.contains("<script"), "{path}");
        assert!(
            html.contains("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;quotes&#39; ]]&#62;"),
            "{path}"
        );
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.starts_with("default-src 'none'") && !csp.contains("script-src"), "{csp}");
    }

    // Atom and RSS: well-formed, and the parsed titles are the text exactly.
    let atom = get(&app, &format!("/status/{slug}/history.atom")).await;
    assert_eq!(atom.header("content-type"), Some("application/atom+xml; charset=utf-8"));
    let titles = xml_texts(text(&atom), "title");
    assert!(titles.contains(&title), "{titles:?}");
    let content = xml_texts(text(&atom), "content");
    assert!(content[0].contains("&lt;script&gt;"), "the entry's HTML escapes the body: {}", content[0]);
    let rss = get(&app, &format!("/status/{slug}/history.rss")).await;
    assert!(xml_texts(text(&rss), "title").contains(&title));
    assert!(xml_texts(text(&rss), "description")[1].contains("line two"));

    // SVG: the hostile label is a text node, exactly.
    let label: String = HOSTILE.chars().take(40).collect();
    let svg = get(&app, &format!("/status/{slug}/services/{service}/badge.svg")).await;
    let service_name: String = HOSTILE.chars().take(100).collect();
    assert!(xml_texts(text(&svg), "text").contains(&service_name));
    let query: String = url::form_urlencoded::byte_serialize(label.as_bytes()).collect();
    let svg = get(&app, &format!("/status/{slug}/badge.svg?label={query}")).await;
    assert!(xml_texts(text(svg.expect(200)), "text").contains(&label));

    // iCalendar: escaped TEXT, folded at 75 octets, no line of it starts a new property.
    let ics = get(&app, &format!("/status/{slug}/maintenance.ics")).await;
    let ics = text(&ics);
    assert!(ics.split("\r\n").all(|l| l.len() <= 75), "{ics}");
    let unfolded = ics.replace("\r\n ", "");
    let calname = unfolded.lines().find_map(|l| l.strip_prefix("X-WR-CALNAME:")).unwrap();
    assert_eq!(calname, format!("{} maintenance", name.replace(',', "\\,").replace(';', "\\;")));
    assert_eq!(unfolded.matches("BEGIN:").count(), 1);

    // JSON keeps it as data.
    let summary = get(&app, &format!("/status/{slug}/api/v2/summary.json")).await;
    assert_eq!(summary.json["incidents"][0]["name"], title.as_str());
}

/// Markdown with everything a hostile author might try: script, raw HTML with event
/// handlers, `javascript:` and `data:` links, images with handlers, an iframe, a style.
pub(crate) const HOSTILE_MARKDOWN: &str = "**Fixed** in [the notes](https://example.com/n).\n\n\
    <script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)> \
    ![pic](https://evil.example/p.png) <a href=\"https://ok.example\" onclick=\"alert(4)\">raw</a> \
    [d](data:text/html;base64,PHNjcmlwdD4=)\n\n<iframe src=\"https://evil.example\"></iframe>\n\n<style>*{display:none}</style>";

/// What no markup of a rendering of [`HOSTILE_MARKDOWN`] may hold (its text may: the
/// author's words are shown as written).
/// (A whole page or email has one `<style>` of its own: see [`one_style`].)
pub(crate) const ACTIVE: [&str; 8] =
    ["<script", "<img", "<iframe", "onerror", "onclick", "javascript:", "data:text", "href=\"https://ok.example"];

/// A page or email has its own `<style>` and no other.
pub(crate) fn one_style(html: &str) -> bool {
    tags(html).matches("<style").count() == 1
}

/// The tags of an HTML text, without its text nodes (where escaped text sits).
pub(crate) fn tags(html: &str) -> String {
    let mut inside = false;
    html.chars()
        .filter(|c| {
            match c {
                '<' => inside = true,
                '>' if inside => {
                    inside = false;
                    return true;
                }
                _ => {}
            }
            inside
        })
        .collect()
}

#[tokio::test]
async fn markdown_renders_on_the_page_and_in_feeds_and_hostile_markdown_is_inert_in_each() {
    // Arrange: an incident update and a maintenance announcement in hostile Markdown.
    let app = TestApp::all().await;
    let (slug, page) = public_page(&app, json!({"name": "Acme"})).await;
    let incident = incident(&app, &page, "Errors", "major", &[]).await;
    let update = json!({"body": HOSTILE_MARKDOWN});
    app.call("POST", &format!("/api/v1/incidents/{incident}/updates"), Some(update)).await.expect(201);
    let start = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let end = (chrono::Utc::now() + chrono::Duration::days(2) + chrono::Duration::hours(1)).to_rfc3339();
    let window = json!({"title": "Upgrade", "scheduledFor": start, "scheduledUntil": end, "body": HOSTILE_MARKDOWN});
    app.call("POST", &format!("/api/v1/pages/{page}/maintenances"), Some(window)).await.expect(201);

    // HTML (the page: the open incident's timeline and the announcement; the incident's
    // page): the Markdown is markup, the hostile part text.
    for path in [format!("/status/{slug}"), format!("/status/{slug}/incidents/{incident}")] {
        let html = text(get(&app, &path).await.expect(200)).to_owned();
        assert!(html.contains("<strong>Fixed</strong> in <a href=\"https://example.com/n\" rel=\"nofollow noopener noreferrer\">the notes</a>"), "{path}: {html}");
        for bad in ACTIVE {
            assert!(!tags(&html).contains(bad), "{bad} on {path}");
        }
        assert!(one_style(&html), "{path}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "what was written stays readable on {path}");
    }

    // Atom and RSS: the entry's HTML, parsed out of the XML, is the same safe markup.
    for feed in ["history.atom", "history.rss"] {
        let xml = text(get(&app, &format!("/status/{slug}/{feed}")).await.expect(200)).to_owned();
        let element = if feed.ends_with("atom") { "content" } else { "description" };
        let entries = xml_texts(&xml, element);
        let entry = entries.iter().find(|c| c.contains("Fixed")).unwrap_or_else(|| panic!("{feed}: {entries:?}"));
        assert!(entry.contains("<strong>Fixed</strong>"), "{feed}: {entry}");
        for bad in ACTIVE.iter().chain(&["<style"]) {
            assert!(!tags(entry).contains(bad), "{bad} in {feed}: {entry}");
        }
    }

    // iCalendar: the announcement as plain text, links spelled out, nothing to render.
    let ics = text(get(&app, &format!("/status/{slug}/maintenance.ics")).await.expect(200)).replace("\r\n ", "");
    let description = ics.lines().find_map(|l| l.strip_prefix("DESCRIPTION:")).unwrap();
    assert!(description.contains("Fixed in the notes (https://example.com/n)."), "{description}");
    assert!(!description.contains("**"), "{description}");

    // JSON keeps the source.
    let r = get(&app, &format!("/status/{slug}/api/v2/incidents.json")).await;
    let updates = r.expect(200).json["incidents"][0]["incident_updates"].as_array().unwrap().clone();
    assert!(updates.iter().any(|u| u["body"] == HOSTILE_MARKDOWN), "{updates:?}");
}

#[tokio::test]
async fn a_postmortem_is_private_while_a_draft_and_once_published_is_on_the_incident_page_and_in_the_v2_json() {
    // Arrange
    let app = TestApp::all().await;
    let (slug, page) = public_page(&app, json!({"name": "Acme"})).await;
    let incident = incident(&app, &page, "Database failover", "major", &[]).await;
    let path = format!("/api/v1/incidents/{incident}/postmortem");
    let page_html = format!("/status/{slug}/incidents/{incident}");
    let json_of = |r: TestResponse| r.expect(200).json["incidents"][0].clone();
    let postmortem_events = || async {
        let r = app.call("GET", "/api/v1/events?type=incident.postmortem_published", None).await;
        r.expect(200).json["data"].as_array().unwrap().len()
    };

    // Act: a draft.
    let draft = json!({"body": "# Summary\n\nThe **primary** failed over.\n\n## What changes\n\n- alerts"});
    let r = app.call("PUT", &path, Some(draft)).await;

    // Assert: kept, not shown, nobody told.
    let pm = r.expect(200).json["data"]["postmortem"].clone();
    assert!(pm["publishedAt"].is_null() && pm["body"].as_str().unwrap().starts_with("# Summary"), "{pm}");
    assert!(!text(get(&app, &page_html).await.expect(200)).contains("Postmortem"));
    let v2 = json_of(get(&app, &format!("/status/{slug}/api/v2/incidents.json")).await);
    assert!(v2["postmortem_body"].is_null() && v2["postmortem_published_at"].is_null(), "{v2}");
    assert_eq!(postmortem_events().await, 0);

    // Act: published.
    let body = "# Summary\n\nThe **primary** failed over.\n\n## What changes\n\n- alerts";
    let r = app.call("PUT", &path, Some(json!({"body": body, "published": true}))).await;
    let published_at = r.expect(200).json["data"]["postmortem"]["publishedAt"].as_str().unwrap().to_owned();

    // Assert: on the page below its own heading, in the JSON as written, told once.
    let html = text(get(&app, &page_html).await.expect(200)).to_owned();
    assert!(html.contains("<h2 id=\"postmortem-h\">Postmortem</h2>"), "{html}");
    assert!(html.contains("<h3>Summary</h3>") && html.contains("<h4>What changes</h4>"), "{html}");
    assert!(html.contains("The <strong>primary</strong> failed over."), "{html}");
    let v2 = json_of(get(&app, &format!("/status/{slug}/api/v2/incidents.json")).await);
    assert_eq!(
        (v2["postmortem_body"].as_str(), v2["postmortem_published_at"].as_str()),
        (Some(body), Some(published_at.as_str()))
    );
    assert_eq!(postmortem_events().await, 1);

    // Act: an edit of the published one keeps its date and tells nobody again.
    app.clock.advance(chrono::Duration::minutes(5));
    let edited = json!({"body": format!("{body}\n- runbooks"), "published": true});
    let r = app.call("PUT", &path, Some(edited)).await;
    assert_eq!(r.expect(200).json["data"]["postmortem"]["publishedAt"].as_str(), Some(published_at.as_str()));
    assert_eq!(postmortem_events().await, 1);

    // Bad input is refused; an unknown incident is 404.
    app.call("PUT", &path, Some(json!({"body": "  "}))).await.expect(400);
    app.call("PUT", &path, Some(json!({"body": "x", "publish": true}))).await.expect(400);
    app.call("PUT", &path, Some(json!({"body": "x".repeat(50_001)}))).await.expect(400);
    let unknown = format!("/api/v1/incidents/{}/postmortem", uuid::Uuid::now_v7());
    app.call("PUT", &unknown, Some(json!({"body": "x"}))).await.expect(404);

    // Act: removed.
    let r = app.call("DELETE", &path, None).await;
    r.expect(204);

    // Assert: gone from the page and the JSON, the incident kept.
    assert!(!text(get(&app, &page_html).await.expect(200)).contains("Postmortem"));
    let v2 = json_of(get(&app, &format!("/status/{slug}/api/v2/incidents.json")).await);
    assert!(v2["postmortem_body"].is_null(), "{v2}");
    let r = app.call("GET", &format!("/api/v1/incidents/{incident}"), None).await;
    assert!(r.expect(200).json["data"]["postmortem"].is_null());
}

#[tokio::test]
async fn every_public_get_is_cacheable_with_a_strong_etag_that_answers_304() {
    let app = TestApp::all().await;
    let (slug, page) = public_page(&app, json!({"name": "Acme"})).await;
    let service = app.service(&page, "API").await;
    let incident = incident(&app, &page, "Slow", "minor", &[&service]).await;

    for route in PUBLIC_ROUTES.iter().chain(&["/health"]) {
        let path = format!("/status/{slug}{}", route.replace("{incident}", &incident).replace("{service}", &service));
        let first = get(&app, &path).await;
        assert!(first.status.as_u16() == 200 || route == &"/health", "{path}: {}", first.status);
        let expected = if route == &"/health" {
            "public, max-age=10, s-maxage=10"
        } else {
            "public, max-age=30, s-maxage=10, stale-while-revalidate=30, stale-if-error=86400"
        };
        assert_eq!(first.header("cache-control"), Some(expected), "{path}");
        assert_eq!(first.header("access-control-allow-origin"), Some("*"), "{path}");
        let etag = first.header("etag").unwrap_or_else(|| panic!("{path}: no ETag"));
        assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{path}: {etag}");
        if first.status.as_u16() != 200 {
            continue;
        }
        let req = Request::get(&path).header("if-none-match", etag).body(Body::empty()).unwrap();
        let again = app.send(req).await;
        assert_eq!(again.status.as_u16(), 304, "{path}");
        assert_eq!(again.header("etag"), Some(etag));
        assert_eq!(again.json, Value::Null);
    }
    // Text goes gzipped to readers that take it, as a representation with its own ETag.
    let plain = get(&app, &format!("/status/{slug}")).await;
    let req =
        Request::get(format!("/status/{slug}")).header("accept-encoding", "br, gzip").body(Body::empty()).unwrap();
    let zipped = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "Accept-Encoding");
    let zipped_etag = zipped.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(zipped_etag, format!("\"{}-gz\"", plain.header("etag").unwrap().trim_matches('"')));
    let body = http_body_util::BodyExt::collect(zipped.into_body()).await.unwrap().to_bytes();
    let mut html = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut html).unwrap();
    assert_eq!(html, text(&plain));
    assert!(body.len() * 3 < html.len(), "{} of {} bytes", body.len(), html.len());

    // A change makes a new ETag.
    let before = get(&app, &format!("/status/{slug}/api/v2/status.json")).await;
    app.call("PATCH", &format!("/api/v1/services/{service}"), Some(json!({"currentStatus": "outage"})))
        .await
        .expect(200);
    let after = get(&app, &format!("/status/{slug}/api/v2/status.json")).await;
    assert_ne!(before.header("etag"), after.header("etag"));
    // Preflights of the public routes are answered for any origin.
    let req = Request::options(format!("/status/{slug}/api/v2/summary.json"))
        .header("origin", "https://widget.example")
        .header("access-control-request-method", "GET")
        .body(Body::empty())
        .unwrap();
    let preflight = app.send(req).await;
    assert_eq!(preflight.status.as_u16(), 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn badges_follow_the_status_and_the_shields_endpoint_json_matches_them() {
    let app = TestApp::all().await;
    let (slug, page) = public_page(&app, json!({"name": "Acme"})).await;
    let service = app.service(&page, "API").await;

    let badge = get(&app, &format!("/status/{slug}/badge.svg")).await;
    assert_eq!(badge.expect(200).header("content-type"), Some("image/svg+xml"));
    assert_eq!(xml_texts(text(&badge), "text"), ["status", "operational"]);
    let shields = get(&app, &format!("/status/{slug}/badge.json?label=uptime")).await;
    assert_eq!(
        shields.json,
        json!({"schemaVersion": 1, "label": "uptime", "message": "operational", "color": "1a7f37"})
    );

    app.call("PATCH", &format!("/api/v1/services/{service}"), Some(json!({"currentStatus": "outage"})))
        .await
        .expect(200);
    let badge = get(&app, &format!("/status/{slug}/badge.svg?theme=dark&style=flat-square")).await;
    assert_eq!(xml_texts(text(&badge), "text"), ["status", "partial outage"]);
    assert!(text(&badge).contains("#24292f") && !text(&badge).contains("rx=\"3\""));
    let auto = get(&app, &format!("/status/{slug}/badge.svg?theme=auto")).await;
    assert!(text(&auto).contains("prefers-color-scheme:dark"));
    let svc = get(&app, &format!("/status/{slug}/services/{service}/badge.svg")).await;
    assert_eq!(xml_texts(text(&svc), "text"), ["API", "outage"]);
    app.clock.advance(chrono::Duration::minutes(30));
    let up =
        get(&app, &format!("/status/{slug}/services/{service}/badge.svg?metric=uptime&window=24h&label=API+uptime"))
            .await;
    assert_eq!(xml_texts(text(&up), "text"), ["API uptime", "0%"]);

    for bad in ["theme=neon", "style=plastic", "metric=latency", "window=1y", "label="] {
        let r = get(&app, &format!("/status/{slug}/services/{service}/badge.svg?{bad}")).await;
        r.expect_error(400, "invalid_request");
    }
    get(&app, &format!("/status/{slug}/services/{}/badge.svg", Uuid::now_v7())).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn the_history_pages_by_cursor_and_the_feeds_filter_by_service() {
    let app = TestApp::all().await;
    let (slug, page) = public_page(&app, json!({"name": "Acme"})).await;
    let a = app.service(&page, "A").await;
    let b = app.service(&page, "B").await;
    let mut titles = Vec::new();
    for n in 0..25 {
        let on = if n % 5 == 0 { &b } else { &a };
        incident(&app, &page, &format!("incident {n:02}"), "minor", &[on]).await;
        titles.push(format!("incident {n:02}"));
        app.next_window();
    }

    let first = get(&app, &format!("/status/{slug}/history")).await;
    let html = text(first.expect(200));
    assert!(html.contains("incident 24") && html.contains("incident 05") && !html.contains("incident 04"));
    let next = html.split("href=\"").find_map(|s| s.split('"').next().filter(|h| h.contains("?cursor="))).unwrap();
    let next = &next[next.find("/status/").unwrap()..];
    let second = get(&app, next).await;
    let html = text(second.expect(200));
    assert!(html.contains("incident 04") && html.contains("incident 00") && !html.contains("incident 05"));
    assert!(!html.contains("?cursor="), "no page after the last");
    get(&app, &format!("/status/{slug}/history?cursor=nonsense")).await.expect_error(400, "invalid_request");

    let feed = get(&app, &format!("/status/{slug}/history.atom?service={b}")).await;
    let entries: Vec<String> = xml_texts(text(&feed), "title").into_iter().skip(1).collect();
    assert_eq!(entries, ["incident 20", "incident 15", "incident 10", "incident 05", "incident 00"]);
    let rss = get(&app, &format!("/status/{slug}/history.rss")).await;
    assert_eq!(xml_texts(text(&rss), "item").len(), 25);
    get(&app, &format!("/status/{slug}/history.rss?service=x")).await.expect_error(400, "invalid_request");
}

#[tokio::test]
async fn the_page_shows_the_banner_active_timelines_bars_and_quiet_days() {
    let app = TestApp::all().await;
    let (slug, page) = public_page(&app, json!({"name": "Acme", "description": "Acme's services."})).await;
    let service = app.service(&page, "API").await;
    let open = incident(&app, &page, "API errors", "major", &[&service]).await;
    app.call(
        "POST",
        &format!("/api/v1/incidents/{open}/updates"),
        Some(json!({"body": "Cause found.", "status": "identified"})),
    )
    .await
    .expect(201);

    let r = get(&app, &format!("/status/{slug}")).await;

    let html = text(r.expect(200));
    assert!(html.contains("<title>Partial System Outage · Acme Status</title>"));
    assert!(html.contains("og.png?v=major"));
    assert!(html.contains("Active incidents") && html.contains("Cause found.") && html.contains("Identified"));
    assert_eq!(html.matches("<rect x=").count(), 90, "90 daily bars");
    assert!(html.contains("No incidents reported."));
    assert!(html.contains("rel=\"alternate\" type=\"application/atom+xml\""));
    assert!(!html.contains("<script") && !html.contains("src=\"http"), "one request, no script");
    let head = app.send(Request::head(format!("/status/{slug}")).body(Body::empty()).unwrap()).await;
    assert_eq!(head.status.as_u16(), 200);
    let og = get(&app, &format!("/status/{slug}/og.png")).await;
    assert_eq!(og.header("content-type"), Some("image/png"));
}

/// Builds a page with `services` services and `incidents` incidents (each with two
/// updates) straight through the store, and returns its slug.
async fn big_page(app: &TestApp, services: usize, incidents: usize) -> String {
    let (slug, page) = public_page(app, json!({"name": "Big"})).await;
    let page = Uuid::parse_str(&page).unwrap();
    let _now = timestamp(app.clock.now());
    let mut ids = Vec::new();
    for n in 0..services {
        let new = NewService {
            id: Uuid::now_v7(),
            name: format!("service {n}"),
            monitor_url: None,
            current_status: if n % 7 == 0 { ServiceStatus::Degraded } else { ServiceStatus::Operational },
            display_order: n as u32,
        };
        ids.push(new.id);
        app.store
            .create_service(
                &Write::new(app.org, livestatus_shared::store::events::Actor::operator(), app.clock.now()),
                page,
                new,
            )
            .await
            .unwrap();
    }
    for n in 0..incidents {
        let new = NewIncident {
            id: Uuid::now_v7(),
            title: format!("incident {n}"),
            impact: Impact::Minor,
            status: if n % 3 == 0 { IncidentStatus::Identified } else { IncidentStatus::Resolved },
            body: "Opened.".into(),
            affected_service_ids: vec![ids[n % ids.len()]],
            notify_subscribers: true,
        };
        let id = new.id;
        app.store
            .create_incident(
                &Write::new(app.org, livestatus_shared::store::events::Actor::operator(), app.clock.now()),
                page,
                new,
            )
            .await
            .unwrap();
        let update = livestatus_shared::store::incidents::NewUpdate {
            body: "More.".into(),
            status: None,
            notify_subscribers: true,
        };
        app.store
            .add_incident_update(
                &Write::new(app.org, livestatus_shared::store::events::Actor::operator(), app.clock.now()),
                id,
                update,
            )
            .await
            .unwrap();
    }
    slug
}

#[tokio::test]
async fn a_page_view_costs_the_same_few_dynamodb_calls_for_2_services_as_for_40_and_30_incidents() {
    let app = TestApp::all().await;
    let small = big_page(&app, 2, 1).await;
    let large = big_page(&app, 40, 30).await;

    let mut counts = Vec::new();
    for slug in [&small, &large] {
        for route in ["", "/api/v2/summary.json", "/api/v2/incidents.json", "/history.atom"] {
            app.calls.reset();
            get(&app, &format!("/status/{slug}{route}")).await.expect(200);
            counts.push((route, app.calls.calls()));
        }
    }

    let (small, large) = counts.split_at(4);
    for ((route, a), (_, b)) in small.iter().zip(large) {
        assert_eq!(a, b, "{route}: the same calls whatever the size");
        assert!(a.len() <= 6, "{route}: {a:?}");
    }
    // Slug, page; services with history, incidents, maintenance windows, open timelines.
    assert_eq!(small[0].1, ["GetItem", "GetItem", "Query", "Query", "Query", "Query"]);
}
