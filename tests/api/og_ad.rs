//! The ad creative generator: every variant and theme decoded and checked, text kept off
//! the edges at the longest allowed lengths, fallbacks, validation, caching and HEAD.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

const VARIANTS: [(&str, u32, u32); 9] = [
    ("og", 1200, 630),
    ("square", 1080, 1080),
    ("story", 1080, 1920),
    ("linkedin", 1200, 627),
    ("reddit", 1200, 630),
    ("pinterest", 1000, 1500),
    ("google-square", 1200, 1200),
    ("google-portrait", 960, 1200),
    ("hero", 1920, 1080),
];
const DARK_BG: [u8; 3] = [0x0b, 0x12, 0x20];
const LIGHT_BG: [u8; 3] = [0xff, 0xff, 0xff];

struct Fetched {
    status: u16,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

fn router() -> Router {
    livestatus_og_ad::router()
}

async fn fetch_with(method: &str, query: &str, if_none_match: Option<&str>) -> Fetched {
    let mut req = Request::builder().method(method).uri(format!("/api/og/ad?{query}"));
    if let Some(tag) = if_none_match {
        req = req.header("if-none-match", tag);
    }
    let response = router().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    Fetched {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes().to_vec(),
    }
}

async fn fetch(query: &str) -> Fetched {
    fetch_with("GET", query, None).await
}

/// Decodes a PNG to RGB rows.
fn decode(bytes: &[u8]) -> (u32, u32, Vec<[u8; 3]>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels = buf[..info.buffer_size()].chunks(channels).map(|p| [p[0], p[1], p[2]]).collect();
    (info.width, info.height, pixels)
}

fn encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[tokio::test]
async fn every_variant_and_theme_has_its_size_background_and_accent() {
    for (variant, width, height) in VARIANTS {
        for (theme, bg) in [("dark", DARK_BG), ("light", LIGHT_BG)] {
            let r = fetch(&format!(
                "headline=Ship+in+minutes&subhead=Status+pages&variant={variant}&theme={theme}&accent=%236366f1"
            ))
            .await;
            assert_eq!(r.status, 200, "{variant} {theme}");
            assert_eq!(r.headers["content-type"], "image/png");

            let (w, h, pixels) = decode(&r.body);

            assert_eq!((w, h), (width, height), "{variant}");
            assert_eq!(pixels[0], bg, "{variant} {theme} background");
            assert_eq!(pixels[(w * h - 1) as usize], bg);
            let accent = pixels.iter().filter(|p| **p == [0x63, 0x66, 0xf1]).count();
            assert!(accent > 500, "{variant} {theme}: accent on {accent} pixels");
        }
    }
}

#[tokio::test]
async fn the_longest_allowed_text_never_touches_the_edge_margin_in_any_variant() {
    let wide = "W".repeat(80);
    let words = "Wam ".repeat(20).trim_end().chars().take(80).collect::<String>();
    let subhead = "W".repeat(140);
    let cta = "W".repeat(32);
    for headline in [&wide, &words] {
        for (variant, _, _) in VARIANTS {
            for (theme, bg) in [("dark", DARK_BG), ("light", LIGHT_BG)] {
                let q = format!(
                    "headline={}&subhead={}&cta={}&variant={variant}&theme={theme}",
                    encode(headline),
                    encode(&subhead),
                    encode(&cta)
                );
                let r = fetch(&q).await;
                assert_eq!(r.status, 200);
                let (w, h, pixels) = decode(&r.body);
                // Margins are 8.5% of the short side; nothing may enter the outer 5%.
                let band = (w.min(h) as f32 * 0.05) as u32;
                let touching = (0..h)
                    .flat_map(|y| (0..w).map(move |x| (x, y)))
                    .filter(|&(x, y)| x < band || y < band || x >= w - band || y >= h - band)
                    .filter(|&(x, y)| pixels[(y * w + x) as usize] != bg)
                    .count();
                assert_eq!(touching, 0, "{variant} {theme}: {touching} pixels in the edge band");
                let inked = pixels.iter().filter(|p| **p != bg).count();
                assert!(inked > (w * h / 50) as usize, "{variant}: the text was drawn");
            }
        }
    }
}

#[tokio::test]
async fn characters_missing_from_the_font_draw_a_visible_box_not_a_crash() {
    let plain = fetch(&format!("headline={}", encode("Status"))).await;
    let missing = fetch(&format!("headline={}", encode("Status \u{72b6}\u{6001} \u{1f680}"))).await;

    assert_eq!(missing.status, 200);
    let ink = |bytes: &[u8]| decode(bytes).2.iter().filter(|p| **p == [0xf8, 0xfa, 0xfc]).count();
    assert!(ink(&missing.body) > ink(&plain.body) + 200, "the boxes add ink");
}

#[tokio::test]
async fn lengths_are_counted_in_characters() {
    assert_eq!(fetch(&format!("headline={}", encode(&"é".repeat(80)))).await.status, 200);
    assert_eq!(fetch(&format!("headline={}", encode(&"é".repeat(81)))).await.status, 400);
    assert_eq!(fetch(&format!("headline=x&cta={}", encode(&"ü".repeat(32)))).await.status, 200);
}

#[tokio::test]
async fn every_bad_parameter_gets_400_invalid_request_naming_it() {
    let cases = [
        ("", "headline"),
        ("headline=", "headline"),
        ("headline=+++", "headline"),
        (&format!("headline={}", "a".repeat(81)), "headline"),
        (&format!("headline=a&subhead={}", "a".repeat(141)), "subhead"),
        (&format!("headline=a&cta={}", "a".repeat(33)), "cta"),
        ("headline=a&variant=banner", "variant"),
        ("headline=a&theme=blue", "theme"),
        ("headline=a&accent=red", "accent"),
        ("headline=a&accent=%2312345", "accent"),
        ("headline=a&accent=%2312345G", "accent"),
        ("headline=a&accent=10b981", "accent"),
        ("headline=a%00b", "headline"),
        ("headline=a&subhead=x%07", "subhead"),
        ("headline=a&headline=b", "headline"),
        ("headline=a&font=comic", "font"),
        ("headline=%FF", "headline"),
        ("headline=%E2%82", "headline"),
        ("headline=a%2", "headline"),
    ];
    for (query, param) in cases {
        let r = fetch(query).await;
        assert_eq!(r.status, 400, "{query}");
        assert_eq!(r.headers["content-type"], "application/json");
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["error"]["code"], "invalid_request");
        assert!(body["error"]["message"].as_str().unwrap().contains(param), "{query}: {body}");
        assert_eq!(body["error"]["requestId"].as_str(), r.headers["x-request-id"].to_str().ok());
    }
}

#[tokio::test]
async fn responses_are_cached_forever_with_a_strong_etag_and_answer_304_when_it_matches() {
    let first = fetch("headline=Ship+fast&accent=%2310B981").await;
    let etag = first.headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"));
    assert_eq!(first.headers["cache-control"], "public, max-age=31536000, immutable");

    let same = fetch("headline=Ship++fast&accent=%2310b981").await;
    assert_eq!(same.headers["etag"], etag.as_str(), "normalised parameters share the ETag");
    assert_eq!(same.body, first.body, "and the bytes");
    assert_ne!(fetch("headline=Ship+fast&theme=light").await.headers["etag"], etag.as_str());

    for tag in [etag.clone(), format!("W/{etag}"), format!("\"other\", {etag}"), "*".to_owned()] {
        let r = fetch_with("GET", "headline=Ship+fast", Some(&tag)).await;
        assert_eq!(r.status, 304, "{tag}");
        assert!(r.body.is_empty());
        assert_eq!(r.headers["etag"], etag.as_str());
        assert_eq!(r.headers["cache-control"], "public, max-age=31536000, immutable");
    }
    assert_eq!(fetch_with("GET", "headline=Ship+fast", Some("\"stale\"")).await.status, 200);
}

#[tokio::test]
async fn head_answers_the_headers_of_get_without_a_body() {
    let get = fetch("headline=Ship+fast").await;

    let head = fetch_with("HEAD", "headline=Ship+fast", None).await;

    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.headers["content-type"], "image/png");
    assert_eq!(head.headers["etag"], get.headers["etag"]);
    assert_eq!(head.headers["content-length"], get.body.len().to_string().as_str());
    assert_eq!(fetch_with("HEAD", "headline=", None).await.status, 400);
    let post = fetch_with("POST", "headline=x", None).await;
    assert_eq!(post.status, 405);
}

#[tokio::test]
async fn the_local_server_serves_the_generator_without_a_key() {
    let app = livestatus_tests::TestApp::all().await;

    let r = app.call_as("", "GET", "/api/og/ad?headline=Hello&variant=square", None).await;

    r.expect(200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert!(r.header("x-ratelimit-limit").is_none(), "public: no key, no rate limit");
    assert!(app.calls.calls().is_empty(), "no DynamoDB call");
}
