//! What people write (incident and maintenance updates, postmortems) is Markdown
//! (CommonMark, with strikethrough). As HTML it goes through `pulldown-cmark` and then
//! `ammonia`'s allow-list, so nothing written can run, load or style anything: raw HTML
//! is shown as the text it is, images become links, links keep only `http`, `https` and
//! `mailto` and open nothing with the page's privileges. As plain text (emails' and
//! feeds' text parts) it is the words, with each link's address after its text. The
//! source itself is what the API and webhooks carry.

use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// Where the Markdown is shown, which decides what it may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// An update of an incident or a maintenance: paragraphs, emphasis, links, lists,
    /// code and quotes, its line breaks kept; a heading is shown as a strong paragraph.
    Update,
    /// A postmortem: the same with headings, below the page's own (`#` is an `<h3>`).
    Postmortem,
}

fn options() -> Options {
    Options::ENABLE_STRIKETHROUGH
}

/// Tags an update may hold, after sanitizing.
const UPDATE_TAGS: &[&str] =
    &["p", "br", "em", "strong", "del", "a", "ul", "ol", "li", "code", "pre", "blockquote", "hr"];
/// And a postmortem.
const HEADING_TAGS: &[&str] = &["h3", "h4", "h5", "h6"];

fn sanitizer(flavor: Flavor) -> &'static ammonia::Builder<'static> {
    fn build(tags: Vec<&'static str>) -> ammonia::Builder<'static> {
        let mut b = ammonia::Builder::empty();
        b.add_tags(tags)
            .add_tag_attributes("a", ["href"])
            .add_tag_attributes("ol", ["start"])
            .url_schemes(HashSet::from(["http", "https", "mailto"]))
            .url_relative(ammonia::UrlRelative::Deny)
            .link_rel(Some("nofollow noopener noreferrer"));
        b
    }
    static UPDATE: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| build(UPDATE_TAGS.to_vec()));
    static POSTMORTEM: LazyLock<ammonia::Builder<'static>> =
        LazyLock::new(|| build(UPDATE_TAGS.iter().chain(HEADING_TAGS).copied().collect()));
    match flavor {
        Flavor::Update => &UPDATE,
        Flavor::Postmortem => &POSTMORTEM,
    }
}

/// Two levels below: the page's title is its `<h1>`, and the postmortem's own section
/// heading an `<h2>`.
fn lower(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H3,
        HeadingLevel::H2 => HeadingLevel::H4,
        HeadingLevel::H3 => HeadingLevel::H5,
        HeadingLevel::H4 | HeadingLevel::H5 | HeadingLevel::H6 => HeadingLevel::H6,
    }
}

/// `source` as safe HTML for `flavor`.
pub fn to_html(source: &str, flavor: Flavor) -> String {
    let events = Parser::new_ext(source, options()).flat_map(|event| {
        match event {
            // An update's line breaks stay, as people typed them (and as plain-text
            // updates written before Markdown expect).
            Event::SoftBreak if flavor == Flavor::Update => vec![Event::HardBreak],
            // Raw HTML is shown as what it is: text.
            Event::Html(raw) | Event::InlineHtml(raw) => vec![Event::Text(raw)],
            // An image loads nothing: it becomes a link to itself, its text the alt text.
            Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
                vec![Event::Start(Tag::Link { link_type, dest_url, title, id })]
            }
            Event::End(TagEnd::Image) => vec![Event::End(TagEnd::Link)],
            Event::Start(Tag::Heading { .. }) if flavor == Flavor::Update => {
                vec![Event::Start(Tag::Paragraph), Event::Start(Tag::Strong)]
            }
            Event::End(TagEnd::Heading(_)) if flavor == Flavor::Update => {
                vec![Event::End(TagEnd::Strong), Event::End(TagEnd::Paragraph)]
            }
            Event::Start(Tag::Heading { level, id, classes, attrs }) => {
                vec![Event::Start(Tag::Heading { level: lower(level), id, classes, attrs })]
            }
            Event::End(TagEnd::Heading(level)) => vec![Event::End(TagEnd::Heading(lower(level)))],
            other => vec![other],
        }
    });
    let mut html = String::with_capacity(source.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    sanitizer(flavor).clean(&html).to_string()
}

/// `source` as plain text: its line breaks kept, paragraphs apart by a blank line, list
/// items on their own lines (`- ` or `1. `), each link's address after its text unless
/// they are the same.
pub fn to_text(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut links: Vec<(String, usize)> = Vec::new();
    let block_end = |out: &mut String| {
        while out.ends_with([' ', '\n']) {
            out.pop();
        }
        if !out.is_empty() {
            out.push_str("\n\n");
        }
    };
    for event in Parser::new_ext(source, options()) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak => out.push('\n'),
            Event::Rule => {
                block_end(&mut out);
                out.push_str("---\n\n");
            }
            Event::Start(Tag::List(start)) => {
                if lists.is_empty() {
                    block_end(&mut out);
                }
                lists.push(start);
            }
            Event::End(TagEnd::List(_)) => {
                lists.pop();
                if lists.is_empty() {
                    block_end(&mut out);
                }
            }
            Event::Start(Tag::Item) => {
                while out.ends_with(' ') {
                    out.pop();
                }
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&"  ".repeat(lists.len().saturating_sub(1)));
                match lists.last_mut() {
                    Some(Some(n)) => {
                        out.push_str(&format!("{n}. "));
                        *n += 1;
                    }
                    _ => out.push_str("- "),
                }
            }
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                links.push((dest_url.to_string(), out.len()));
            }
            Event::End(TagEnd::Link | TagEnd::Image) => {
                if let Some((url, from)) = links.pop() {
                    let text = out[from..].trim().to_owned();
                    let url = url.strip_prefix("mailto:").unwrap_or(&url).to_owned();
                    if text.is_empty() {
                        out.push_str(&url);
                    } else if text != url {
                        out.push_str(&format!(" ({url})"));
                    }
                }
            }
            Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::CodeBlock | TagEnd::BlockQuote(_))
                if lists.is_empty() =>
            {
                block_end(&mut out);
            }
            _ => {}
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "Fixed <script>alert(1)</script> and [click](javascript:alert(2)) \
        <img src=x onerror=alert(3)> ![pic](https://evil.example/x.png \"t\") \
        <a href=\"https://ok.example\" onclick=\"alert(4)\">raw</a> [data](data:text/html,<script>alert(5)</script>)\n\n\
        <iframe src=\"https://evil.example\"></iframe>\n\n<style>body{display:none}</style>";

    #[test]
    fn hostile_markdown_is_inert_html() {
        for flavor in [Flavor::Update, Flavor::Postmortem] {
            let html = to_html(HOSTILE, flavor);
            // The markup alone, without the text nodes (where the author's words are).
            let mut inside = false;
            let tags: String = html
                .chars()
                .filter(|c| {
                    let keep = inside || *c == '<';
                    inside = (inside || *c == '<') && *c != '>';
                    keep
                })
                .collect();
            for bad in ["<script", "<img", "<iframe", "<style", "onerror", "onclick", "javascript:", "data:"] {
                assert!(!tags.contains(bad), "{bad} in {html}");
            }
            // What was written is still readable, as text.
            assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
            // The image is a link that loads nothing.
            assert!(
                html.contains(
                    r#"<a href="https://evil.example/x.png" title="t" rel="nofollow noopener noreferrer">pic</a>"#
                ),
                "{html}"
            );
        }
    }

    #[test]
    fn commonmark_renders_as_people_expect() {
        let html = to_html(
            "**Fixed** in *v2*, ~~not~~ by `deploy`.\n\n- one\n- [two](https://example.com/a?b=1&c=2)\n\n1. first\n\n> quoted\n\n# Title",
            Flavor::Update,
        );
        assert!(
            html.contains("<strong>Fixed</strong> in <em>v2</em>, <del>not</del> by <code>deploy</code>."),
            "{html}"
        );
        assert!(
            html.contains(
                "<li><a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"nofollow noopener noreferrer\">two</a></li>"
            ),
            "{html}"
        );
        assert!(html.contains("<ol>\n<li>first</li>") && html.contains("<blockquote>"), "{html}");
        // An update has no headings of its own; a postmortem's sit below the page's h1.
        assert!(html.contains("<p><strong>Title</strong></p>") && !html.contains("<h"), "{html}");
        assert!(to_html("line one\nline two", Flavor::Update).contains("line one<br>\nline two"));
        let postmortem = to_html("# Summary\n\n## Timeline", Flavor::Postmortem);
        assert_eq!(postmortem, "<h3>Summary</h3>\n<h4>Timeline</h4>\n");
    }

    #[test]
    fn plain_text_keeps_the_words_and_the_addresses() {
        let text = to_text(
            "**Fixed** in *v2*.\nSee [the notes](https://example.com/n).\n\n- one\n- two\n\n1. a\n2. b\n\n<https://example.com/x>",
        );
        assert_eq!(
            text,
            "Fixed in v2.\nSee the notes (https://example.com/n).\n\n- one\n- two\n\n1. a\n2. b\n\nhttps://example.com/x"
        );
        let hostile = to_text(HOSTILE);
        assert!(hostile.starts_with("Fixed <script>alert(1)</script> and click (javascript:alert(2))"), "{hostile}");
    }
}
