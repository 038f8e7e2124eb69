//! SVG status badges in the shields.io look (`flat`, `flat-square`; light, dark, or
//! `auto` by `prefers-color-scheme`), and the shields.io endpoint JSON.

use serde_json::{Value, json};

use crate::feeds::xml;

/// Badge style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Rounded, with a light gradient.
    Flat,
    /// Square corners, no gradient.
    FlatSquare,
}

/// Badge theme: the label's background.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    /// Grey label (shields.io's).
    Light,
    /// Near-black label for dark pages.
    Dark,
    /// Follows the reader's colour scheme.
    Auto,
}

/// What a badge says.
#[derive(Clone, Debug)]
pub struct Badge {
    /// Left part.
    pub label: String,
    /// Right part.
    pub message: String,
    /// Right part's colour, `#rrggbb`.
    pub color: &'static str,
}

/// Colours by severity: the shared palette.
pub use livestatus_shared::domain::colors;

/// Width of text in Verdana 11px, as shields.io measures it (ASCII table, wider guess
/// for the rest).
fn text_width(text: &str) -> f32 {
    text.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '|' | '\'' | '.' | ',' | ':' | ';' | '!' => 3.5,
            'f' | 't' | 'r' | ' ' | '(' | ')' | '[' | ']' | '-' | '/' => 4.8,
            'm' | 'w' | 'M' | 'W' | '%' | '@' => 10.5,
            'A'..='Z' | '0'..='9' => 7.6,
            'a'..='z' | '#' | '+' | '=' | '?' | '_' => 6.8,
            _ => 9.0,
        })
        .sum()
}

/// Renders the badge.
pub fn svg(badge: &Badge, style: Style, theme: Theme) -> String {
    let label_w = (text_width(&badge.label) + 12.0).round() as u32;
    let message_w = (text_width(&badge.message) + 12.0).round() as u32;
    let width = label_w + message_w;
    let radius = if style == Style::Flat { 3 } else { 0 };
    let label = xml(&badge.label);
    let message = xml(&badge.message);
    let label_fill = match theme {
        Theme::Light | Theme::Auto => "#555",
        Theme::Dark => "#24292f",
    };
    let auto =
        if theme == Theme::Auto { "<style>@media (prefers-color-scheme:dark){.l{fill:#24292f}}</style>" } else { "" };
    let gradient = if style == Style::Flat {
        "<linearGradient id=\"s\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" stop-color=\"#bbb\" stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>"
    } else {
        ""
    };
    let shine = if style == Style::Flat { "<rect width=\"100%\" height=\"20\" fill=\"url(#s)\"/>" } else { "" };
    let lx = label_w * 5;
    let mx = label_w * 10 + message_w * 5;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"20\" role=\"img\" aria-label=\"{label}: {message}\">\
<title>{label}: {message}</title>{auto}{gradient}<clipPath id=\"r\"><rect width=\"{width}\" height=\"20\" rx=\"{radius}\" fill=\"#fff\"/></clipPath>\
<g clip-path=\"url(#r)\"><rect class=\"l\" width=\"{label_w}\" height=\"20\" fill=\"{label_fill}\"/>\
<rect x=\"{label_w}\" width=\"{message_w}\" height=\"20\" fill=\"{color}\"/>{shine}</g>\
<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" font-size=\"110\">\
<text x=\"{lx}\" y=\"140\" transform=\"scale(.1)\" textLength=\"{ltl}\">{label}</text>\
<text x=\"{mx}\" y=\"140\" transform=\"scale(.1)\" textLength=\"{mtl}\">{message}</text></g></svg>",
        color = badge.color,
        ltl = (label_w - 12) * 10,
        mtl = (message_w - 12) * 10,
    )
}

/// The shields.io endpoint JSON (`https://img.shields.io/endpoint?url=…`).
pub fn shields(badge: &Badge) -> Value {
    json!({
        "schemaVersion": 1,
        "label": badge.label,
        "message": badge.message,
        "color": badge.color.trim_start_matches('#'),
    })
}
