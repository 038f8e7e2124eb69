//! The card's query parameters, parsed and normalised. Normalised parameters are all the
//! image depends on, so they also make its ETag.

use livestatus_shared::ApiError;
use livestatus_shared::domain::HexColor;
use sha2::{Digest, Sha256};

/// Bumped whenever the drawing changes, so cached ETags stop matching.
const RENDER_VERSION: &str = "card-v1";

/// Longest headline, in characters.
pub const HEADLINE_MAX: usize = 80;
/// Longest subhead, in characters.
pub const SUBHEAD_MAX: usize = 140;
/// Longest call to action, in characters.
pub const CTA_MAX: usize = 32;

/// The image sizes, one per social placement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Open Graph, 1200×630.
    Og,
    /// Instagram square, 1080×1080.
    Square,
    /// Stories, 1080×1920.
    Story,
    /// LinkedIn, 1200×627.
    Linkedin,
    /// Reddit, 1200×630.
    Reddit,
    /// Pinterest, 1000×1500.
    Pinterest,
    /// Google Ads square, 1200×1200.
    GoogleSquare,
    /// Google Ads portrait, 960×1200.
    GooglePortrait,
    /// Website hero, 1920×1080.
    Hero,
}

impl Variant {
    /// Every variant.
    pub const ALL: [Variant; 9] = [
        Variant::Og,
        Variant::Square,
        Variant::Story,
        Variant::Linkedin,
        Variant::Reddit,
        Variant::Pinterest,
        Variant::GoogleSquare,
        Variant::GooglePortrait,
        Variant::Hero,
    ];

    /// The parameter value.
    pub const fn name(self) -> &'static str {
        match self {
            Variant::Og => "og",
            Variant::Square => "square",
            Variant::Story => "story",
            Variant::Linkedin => "linkedin",
            Variant::Reddit => "reddit",
            Variant::Pinterest => "pinterest",
            Variant::GoogleSquare => "google-square",
            Variant::GooglePortrait => "google-portrait",
            Variant::Hero => "hero",
        }
    }

    /// Width and height in pixels.
    pub const fn size(self) -> (u32, u32) {
        match self {
            Variant::Og | Variant::Reddit => (1200, 630),
            Variant::Square => (1080, 1080),
            Variant::Story => (1080, 1920),
            Variant::Linkedin => (1200, 627),
            Variant::Pinterest => (1000, 1500),
            Variant::GoogleSquare => (1200, 1200),
            Variant::GooglePortrait => (960, 1200),
            Variant::Hero => (1920, 1080),
        }
    }
}

/// Background theme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    /// Dark background, light text (the default).
    Dark,
    /// Light background, dark text.
    Light,
}

/// Everything a card depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardParams {
    /// Main text, 1–80 characters.
    pub headline: String,
    /// Line under the headline, 0–140 characters.
    pub subhead: String,
    /// Pill label, 0–32 characters; empty hides the pill.
    pub cta: String,
    /// Size.
    pub variant: Variant,
    /// Theme.
    pub theme: Theme,
    /// Accent colour.
    pub accent: HexColor,
}

impl CardParams {
    /// A card with the defaults and this headline.
    pub fn new(headline: &str) -> Self {
        Self {
            headline: headline.to_owned(),
            subhead: String::new(),
            cta: "Start free".to_owned(),
            variant: Variant::Og,
            theme: Theme::Dark,
            accent: HexColor([0x10, 0xb9, 0x81]),
        }
    }

    /// Parses decoded query pairs. Unknown or repeated parameters, missing headline, bad
    /// enums and colours, over-long or control-character text: 400 naming the parameter.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let known = livestatus_shared::routes::CARD_QUERY_PARAMS;
        for (i, (name, _)) in pairs.iter().enumerate() {
            if !known.contains(&name.as_str()) {
                let shown: String = name.chars().take(40).collect();
                return Err(ApiError::InvalidRequest(format!(
                    "Unknown parameter `{shown}`; known parameters: {}.",
                    known.join(", ")
                )));
            }
            if pairs[..i].iter().any(|(n, _)| n == name) {
                return Err(ApiError::invalid_field(name, "is given more than once"));
            }
        }
        let get = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let mut card = Self::new("");
        card.headline = text(
            "headline",
            get("headline").ok_or_else(|| ApiError::invalid_field("headline", "is required"))?,
            HEADLINE_MAX,
        )?;
        if card.headline.is_empty() {
            return Err(ApiError::invalid_field("headline", "must not be empty"));
        }
        if let Some(subhead) = get("subhead") {
            card.subhead = text("subhead", subhead, SUBHEAD_MAX)?;
        }
        if let Some(cta) = get("cta") {
            card.cta = text("cta", cta, CTA_MAX)?;
        }
        if let Some(variant) = get("variant") {
            card.variant = Variant::ALL.into_iter().find(|v| v.name() == variant).ok_or_else(|| {
                let names: Vec<_> = Variant::ALL.iter().map(|v| v.name()).collect();
                ApiError::invalid_field("variant", format_args!("must be one of {}", names.join(", ")))
            })?;
        }
        if let Some(theme) = get("theme") {
            card.theme = match theme {
                "dark" => Theme::Dark,
                "light" => Theme::Light,
                _ => return Err(ApiError::invalid_field("theme", "must be dark or light")),
            };
        }
        if let Some(accent) = get("accent") {
            card.accent = HexColor::parse("accent", accent)?;
        }
        Ok(card)
    }

    /// A strong ETag of the normalised parameters and the renderer version.
    pub fn etag(&self) -> String {
        let mut hash = Sha256::new();
        for part in [
            RENDER_VERSION,
            self.variant.name(),
            if self.theme == Theme::Dark { "dark" } else { "light" },
            &self.accent.to_string(),
            &self.headline,
            &self.subhead,
            &self.cta,
        ] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        let digest = hash.finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("\"{hex}\"")
    }
}

/// Decodes a raw query string strictly: `+` is a space, `%XX` a byte, and every name and
/// value must be UTF-8 (a lossy decode would draw U+FFFD where the sender meant something
/// else).
pub fn decode_query(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    fn decode(part: &str) -> Option<String> {
        let bytes = part.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok().filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit()))?);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name).ok_or_else(|| {
                ApiError::InvalidRequest("A query parameter name is not valid percent-encoded UTF-8.".into())
            })?;
            let value =
                decode(value).ok_or_else(|| ApiError::invalid_field(&name, "is not valid percent-encoded UTF-8"))?;
            Ok((name, value))
        })
        .collect()
}

/// Trims and collapses whitespace, then checks the length in characters and that no
/// control character is left.
fn text(name: &str, raw: &str, max: usize) -> Result<String, ApiError> {
    if raw.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(ApiError::invalid_field(name, "must not contain control characters"));
    }
    let normal = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let chars = normal.chars().count();
    if chars > max {
        return Err(ApiError::invalid_field(name, format_args!("must be at most {max} characters (got {chars})")));
    }
    Ok(normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn whitespace_is_normalised_so_equal_cards_share_an_etag() {
        let a = CardParams::parse(&pairs(&[("headline", "  Ship   fast ")])).unwrap();
        let b = CardParams::parse(&pairs(&[("headline", "Ship fast"), ("accent", "#10B981")])).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.etag(), b.etag());
        let c = CardParams::parse(&pairs(&[("headline", "Ship fast"), ("theme", "light")])).unwrap();
        assert_ne!(a.etag(), c.etag());
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert!(CardParams::parse(&pairs(&[("headline", &"é".repeat(80))])).is_ok());
        assert!(CardParams::parse(&pairs(&[("headline", &"é".repeat(81))])).is_err());
    }
}
