//! Lays out and draws a card: brand row, headline, subhead and call-to-action pill, and an
//! uptime strip in the accent colour. Text wraps, then shrinks until everything fits
//! inside the margins; nothing is ever cut off.

use std::collections::HashMap;

use fontdue::{Font, Metrics};

use crate::canvas::{Canvas, LEVELS, Ramp, Rgb};
use crate::fonts::fonts;
use crate::params::{CardParams, Theme};

/// The colours of a card. Text colours meet WCAG AA (4.5:1) on their background.
#[derive(Clone, Copy, Debug)]
pub struct Colors {
    /// Background.
    pub background: Rgb,
    /// Headline and brand.
    pub text: Rgb,
    /// Subhead.
    pub muted: Rgb,
    /// Accent: brand dot, pill, uptime strip.
    pub accent: Rgb,
    /// Pill label, whichever of light or dark ink contrasts more with the accent.
    pub label: Rgb,
}

impl Colors {
    /// The colours of a theme with an accent.
    pub fn new(theme: Theme, accent: [u8; 3]) -> Self {
        let (background, text, muted) = match theme {
            Theme::Dark => (Rgb([0x0b, 0x12, 0x20]), Rgb([0xf8, 0xfa, 0xfc]), Rgb([0x9f, 0xad, 0xc1])),
            Theme::Light => (Rgb([0xff, 0xff, 0xff]), Rgb([0x0f, 0x17, 0x2a]), Rgb([0x47, 0x55, 0x69])),
        };
        let accent = Rgb(accent);
        let label = [Rgb([0x0b, 0x12, 0x20]), Rgb([0xff, 0xff, 0xff]), Rgb([0, 0, 0])]
            .into_iter()
            .max_by(|a, b| a.contrast(accent).total_cmp(&b.contrast(accent)))
            .expect("three candidates");
        Self { background, text, muted, accent, label }
    }
}

/// Rasterized glyphs of one render, by face, glyph and size.
#[derive(Default)]
struct Glyphs(HashMap<(usize, u16, u32), (Metrics, Vec<u8>)>);

impl Glyphs {
    fn get(&mut self, font: &Font, index: u16, px: f32) -> &(Metrics, Vec<u8>) {
        let id = font as *const Font as usize;
        self.0.entry((id, index, px.to_bits())).or_insert_with(|| font.rasterize_indexed(index, px))
    }
}

/// One positioned glyph of a line: a real glyph, or a box for a character the font lacks.
enum Placed {
    Glyph { index: u16, x: f32 },
    Missing { x: f32, width: f32 },
}

/// Places the characters of one line from x = 0; returns them and the line's width.
fn place(font: &Font, px: f32, text: &str) -> (Vec<Placed>, f32) {
    let mut pen = 0.0;
    let mut prev: Option<u16> = None;
    let mut out = Vec::with_capacity(text.len());
    for ch in text.chars() {
        let index = font.lookup_glyph_index(ch);
        if index == 0 {
            let width = px * 0.62;
            out.push(Placed::Missing { x: pen + px * 0.06, width: width - px * 0.12 });
            pen += width;
            prev = None;
            continue;
        }
        if let Some(p) = prev {
            pen += font.horizontal_kern_indexed(p, index, px).unwrap_or(0.0);
        }
        out.push(Placed::Glyph { index, x: pen });
        pen += font.metrics_indexed(index, px).advance_width;
        prev = Some(index);
    }
    (out, pen)
}

fn width(font: &Font, px: f32, text: &str) -> f32 {
    place(font, px, text).1
}

/// Greedy word wrap to `max` pixels; a word wider than a line is broken between characters.
pub fn wrap(font: &Font, px: f32, text: &str, max: f32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
        if width(font, px, &candidate) <= max {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if width(font, px, word) <= max {
            line = word.to_owned();
            continue;
        }
        for ch in word.chars() {
            let mut next = line.clone();
            next.push(ch);
            if !line.is_empty() && width(font, px, &next) > max {
                lines.push(std::mem::replace(&mut line, ch.to_string()));
            } else {
                line = next;
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Wraps to the same number of lines as [`wrap`] at `max`, but as narrow as possible, so
/// the lines come out even and no word is left alone on the last one.
pub fn wrap_balanced(font: &Font, px: f32, text: &str, max: f32) -> Vec<String> {
    let greedy = wrap(font, px, text, max);
    if greedy.len() < 2 {
        return greedy;
    }
    let (mut lo, mut hi) = (max / greedy.len() as f32, max);
    for _ in 0..12 {
        let mid = (lo + hi) / 2.0;
        if wrap(font, px, text, mid).len() <= greedy.len() { hi = mid } else { lo = mid }
    }
    wrap(font, px, text, hi)
}

/// Draws one line with its left end at `x` on the baseline `baseline`.
fn draw_text(
    canvas: &mut Canvas,
    glyphs: &mut Glyphs,
    (font, px): (&Font, f32),
    (x, baseline): (f32, f32),
    text: &str,
    ramp: Ramp,
) {
    let (placed, _) = place(font, px, text);
    for p in placed {
        match p {
            Placed::Glyph { index, x: gx } => {
                let (m, bitmap) = glyphs.get(font, index, px);
                let left = (x + gx + m.xmin as f32).round() as i32;
                let top = (baseline - m.height as f32 - m.ymin as f32).round() as i32;
                canvas.blit(left, top, m.width, bitmap, ramp);
            }
            Placed::Missing { x: gx, width } => {
                // A visible box where the font has no glyph.
                let height = px * 0.7;
                let thickness = (px * 0.07).round().max(1.0) as i32;
                canvas.outline(
                    (x + gx).round() as i32,
                    (baseline - height).round() as i32,
                    width.round() as i32,
                    height.round() as i32,
                    thickness,
                    ramp,
                );
            }
        }
    }
}

/// Where everything goes on a card of a given size.
#[derive(Debug)]
pub struct Layout {
    /// Distance from every edge that no text or shape enters.
    pub margin: f32,
    headline: Vec<String>,
    headline_px: f32,
    subhead: Vec<String>,
    subhead_px: f32,
    cta_px: f32,
    content_top: f32,
}

const HEADLINE_LEADING: f32 = 1.12;
const SUBHEAD_LEADING: f32 = 1.42;

/// Computes the layout: sizes start from the variant's scale and shrink by 5% steps until
/// the headline, subhead and pill fit the width, their line limits and the height.
pub fn layout(card: &CardParams) -> Layout {
    let f = fonts();
    let (w, h) = card.variant.size();
    let (w, h) = (w as f32, h as f32);
    let short = w.min(h);
    let margin = (short * 0.085).round();
    let (headline_base, max_lines) = if w > h * 1.2 {
        (h * 0.118, 3)
    } else if h > w * 1.2 {
        (w * 0.12, 5)
    } else {
        (w * 0.1, 4)
    };
    let brand_px = short * 0.038;
    let content_top = margin + brand_px * 1.3 + short * 0.07;
    let content_bottom = h - margin - strip_height(short) - short * 0.07;
    let available = content_bottom - content_top;
    let text_width = w - 2.0 * margin;

    let mut scale = 1.0f32;
    loop {
        let headline_px = (headline_base * scale).max(6.0);
        let subhead_px = (headline_base * 0.4 * scale.sqrt()).min(headline_px * 0.8).max(6.0);
        let cta_px = (short * 0.036 * scale.sqrt()).max(6.0);
        let headline = wrap(&f.display, headline_px, &card.headline, text_width);
        let subhead = wrap(&f.regular, subhead_px, &card.subhead, text_width);
        let layout = Layout { margin, headline, headline_px, subhead, subhead_px, cta_px, content_top };
        let pill_fits = card.cta.is_empty() || layout.pill_width(card) <= text_width;
        let fits = layout.headline.len() <= max_lines
            && layout.subhead.len() <= max_lines
            && pill_fits
            && layout.block_height(card) <= available;
        if fits || headline_px <= 6.0 {
            let slack = (available - layout.block_height(card)).max(0.0);
            // Same line counts, narrower: block height is unchanged, so it still fits.
            let headline = wrap_balanced(&f.display, headline_px, &card.headline, text_width);
            let subhead = wrap_balanced(&f.regular, subhead_px, &card.subhead, text_width);
            return Layout { content_top: content_top + slack * 0.45, headline, subhead, ..layout };
        }
        scale *= 0.95;
    }
}

fn strip_height(short: f32) -> f32 {
    (short * 0.03).round()
}

impl Layout {
    fn headline_height(&self) -> f32 {
        self.headline.len() as f32 * self.headline_px * HEADLINE_LEADING
    }

    fn subhead_gap(&self) -> f32 {
        self.headline_px * 0.42
    }

    fn subhead_height(&self) -> f32 {
        self.subhead.len() as f32 * self.subhead_px * SUBHEAD_LEADING
    }

    fn pill_height(&self) -> f32 {
        (self.cta_px * 2.5).round()
    }

    fn pill_gap(&self) -> f32 {
        self.headline_px * 0.6
    }

    fn cta_label(card: &CardParams) -> String {
        format!("{}  \u{2192}", card.cta)
    }

    fn pill_width(&self, card: &CardParams) -> f32 {
        (width(&fonts().semibold, self.cta_px, &Self::cta_label(card)) + self.cta_px * 2.6).round()
    }

    fn block_height(&self, card: &CardParams) -> f32 {
        let mut height = self.headline_height();
        if !self.subhead.is_empty() {
            height += self.subhead_gap() + self.subhead_height();
        }
        if !card.cta.is_empty() {
            height += self.pill_gap() + self.pill_height();
        }
        height
    }
}

/// Draws the card.
pub fn render(card: &CardParams) -> Canvas {
    let f = fonts();
    let (w, h) = card.variant.size();
    let colors = Colors::new(card.theme, card.accent.0);
    let mut canvas = Canvas::new(w, h, colors.background);
    let text = canvas.ramp(colors.text, colors.background);
    let muted = canvas.ramp(colors.muted, colors.background);
    let accent = canvas.ramp(colors.accent, colors.background);
    let label = canvas.ramp(colors.label, colors.accent);
    let mut glyphs = Glyphs::default();
    let layout = layout(card);
    let (wf, hf) = (w as f32, h as f32);
    let short = wf.min(hf);
    let m = layout.margin;

    // Brand: a status dot and the wordmark.
    let brand_px = short * 0.038;
    let brand_baseline = m + brand_px * 0.95;
    let dot = brand_px * 0.62;
    canvas.rounded_rect(m, brand_baseline - brand_px * 0.36 - dot / 2.0, dot, dot, dot / 2.0, accent);
    draw_text(
        &mut canvas,
        &mut glyphs,
        (&f.semibold, brand_px),
        (m + dot + brand_px * 0.45, brand_baseline),
        "LiveStatus",
        text,
    );

    // Headline, subhead, pill.
    let mut y = layout.content_top;
    let ascent = |font: &Font, px: f32| font.horizontal_line_metrics(px).map_or(px * 0.8, |l| l.ascent);
    let headline_lead = layout.headline_px * HEADLINE_LEADING;
    for line in &layout.headline {
        let baseline = y + (headline_lead + ascent(&f.display, layout.headline_px) - layout.headline_px * 0.25) / 2.0;
        draw_text(&mut canvas, &mut glyphs, (&f.display, layout.headline_px), (m, baseline.round()), line, text);
        y += headline_lead;
    }
    if !layout.subhead.is_empty() {
        y += layout.subhead_gap();
        let lead = layout.subhead_px * SUBHEAD_LEADING;
        for line in &layout.subhead {
            let baseline = y + (lead + ascent(&f.regular, layout.subhead_px) - layout.subhead_px * 0.25) / 2.0;
            draw_text(&mut canvas, &mut glyphs, (&f.regular, layout.subhead_px), (m, baseline.round()), line, muted);
            y += lead;
        }
    }
    if !card.cta.is_empty() {
        y += layout.pill_gap();
        let (pill_w, pill_h) = (layout.pill_width(card), layout.pill_height());
        canvas.rounded_rect(m, y.round(), pill_w, pill_h, pill_h / 2.0, accent);
        let cap_height = layout.cta_px * 0.727;
        let baseline = (y.round() + pill_h / 2.0 + cap_height / 2.0).round();
        draw_text(
            &mut canvas,
            &mut glyphs,
            (&f.semibold, layout.cta_px),
            (m + layout.cta_px * 1.3, baseline),
            &Layout::cta_label(card),
            label,
        );
    }

    // Uptime strip: the accent as ninety days of status, two of them degraded.
    let strip_h = strip_height(short);
    let strip_y = (hf - m - strip_h).round() as i32;
    let span = wf - 2.0 * m;
    let bars = ((span / (short * 0.0175)).floor() as usize).clamp(30, 90);
    let pitch = span / bars as f32;
    let seed = card.etag();
    let seed = seed.as_bytes();
    let degraded = [usize::from(seed[1]) % bars, usize::from(seed[2]) % bars];
    for i in 0..bars {
        let x = (m + i as f32 * pitch).round() as i32;
        let bar_w = (pitch * 0.62).round().max(1.0) as i32;
        let level = if degraded.contains(&i) { LEVELS * 2 / 5 } else { LEVELS };
        canvas.fill_rect(x, strip_y, bar_w, strip_h as i32, accent, level);
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_colours_meet_wcag_aa_on_both_themes_and_any_accent() {
        for theme in [Theme::Dark, Theme::Light] {
            for accent in
                [[0x10, 0xb9, 0x81], [0x77, 0x77, 0x77], [0xff, 0xff, 0x00], [0x00, 0x00, 0x80], [0x76, 0x76, 0x76]]
            {
                let c = Colors::new(theme, accent);
                assert!(c.text.contrast(c.background) >= 7.0);
                assert!(c.muted.contrast(c.background) >= 4.5, "{theme:?} muted");
                assert!(c.label.contrast(c.accent) >= 4.5, "label on {accent:?}: {}", c.label.contrast(c.accent));
            }
        }
    }

    #[test]
    fn a_word_wider_than_the_line_breaks_between_characters() {
        let f = fonts();
        let lines = wrap(&f.display, 60.0, &"W".repeat(80), 500.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| width(&f.display, 60.0, l) <= 500.0));
        assert_eq!(lines.concat(), "W".repeat(80));
    }
}
