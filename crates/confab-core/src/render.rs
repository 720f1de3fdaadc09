//! Comment rendering: Markdown to HTML that is safe to put in any page.
//!
//! Three steps, each a well-kept library doing what it is best at:
//! 1. pulldown-cmark parses Markdown; raw HTML in the input is turned into text, so
//!    `<b>` shows as typed instead of acting; images become plain links (no
//!    third-party requests from readers' browsers, no tracking pixels).
//! 2. linkify turns bare URLs in text (not in code, not already in a link) into links.
//! 3. ammonia cleans the result against an allow-list of tags, attributes and URL
//!    schemes and sets `rel="nofollow ugc noopener"` on every link. Even if steps 1–2
//!    had a bug, nothing outside the allow-list reaches the page.

use std::collections::HashSet;
use std::sync::OnceLock;

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

/// The elements comment HTML may contain.
pub const ALLOWED_TAGS: &[&str] =
    &["a", "p", "br", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li", "hr"];
/// The `rel` every link gets.
pub const LINK_REL: &str = "nofollow ugc noopener";

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::empty();
        b.tags(ALLOWED_TAGS.iter().copied().collect::<HashSet<_>>())
            .tag_attributes([("a", ["href"].into_iter().collect()), ("ol", ["start"].into_iter().collect())].into())
            .url_schemes(["http", "https", "mailto"].into_iter().collect())
            .url_relative(ammonia::UrlRelative::Deny)
            .link_rel(Some(LINK_REL))
            .strip_comments(true);
        b
    })
}

/// Renders a comment's Markdown to sanitised HTML.
pub fn render_markdown(markdown: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let parser = Parser::new_ext(markdown, opts);

    let mut events: Vec<Event<'_>> = Vec::new();
    // Depth of constructs whose text must not be auto-linked (links, code blocks).
    let mut no_autolink = 0usize;
    for event in parser {
        match event {
            Event::Html(raw) | Event::InlineHtml(raw) => events.push(Event::Text(raw)),
            Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
                no_autolink += 1;
                events.push(Event::Start(Tag::Link { link_type, dest_url, title, id }));
            }
            Event::End(TagEnd::Image) => {
                no_autolink = no_autolink.saturating_sub(1);
                events.push(Event::End(TagEnd::Link));
            }
            Event::Start(tag @ (Tag::Link { .. } | Tag::CodeBlock(_))) => {
                no_autolink += 1;
                events.push(Event::Start(tag));
            }
            Event::End(tag @ (TagEnd::Link | TagEnd::CodeBlock)) => {
                no_autolink = no_autolink.saturating_sub(1);
                events.push(Event::End(tag));
            }
            Event::Text(text) if no_autolink == 0 => push_autolinked(&mut events, text),
            // Headings and tables are not part of comment Markdown; their text stays.
            Event::Start(Tag::Heading { .. }) => events.push(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::Heading(_)) => events.push(Event::End(TagEnd::Paragraph)),
            other => events.push(other),
        }
    }

    let mut html = String::with_capacity(markdown.len() + markdown.len() / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    sanitizer().clean(&html).to_string()
}

fn push_autolinked<'a>(events: &mut Vec<Event<'a>>, text: CowStr<'a>) {
    let finder = {
        let mut f = linkify::LinkFinder::new();
        f.kinds(&[linkify::LinkKind::Url]);
        f.url_must_have_scheme(false);
        f
    };
    let mut spans = finder.spans(&text).peekable();
    if spans.peek().is_none_or(|s| s.kind().is_none() && s.end() == text.len()) {
        events.push(Event::Text(text));
        return;
    }
    for span in spans {
        let s = span.as_str().to_owned();
        match span.kind() {
            Some(_) => {
                let href = if s.contains("://") { s.clone() } else { format!("https://{s}") };
                events.push(Event::Start(Tag::Link {
                    link_type: LinkType::Autolink,
                    dest_url: href.into(),
                    title: CowStr::Borrowed(""),
                    id: CowStr::Borrowed(""),
                }));
                events.push(Event::Text(s.into()));
                events.push(Event::End(TagEnd::Link));
            }
            None => events.push(Event::Text(s.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn basic_markdown() {
        assert_eq!(render_markdown("*hi* **there**"), "<p><em>hi</em> <strong>there</strong></p>\n");
        assert_eq!(render_markdown("`x<y`"), "<p><code>x&lt;y</code></p>\n");
        assert!(render_markdown("> quote").contains("<blockquote>"));
        assert!(render_markdown("~~gone~~").contains("<del>gone</del>"));
    }

    #[test]
    fn raw_html_is_shown_not_run() {
        let out = render_markdown("<script>alert(1)</script> <b onclick=x>b</b>");
        assert!(!out.contains("<script"), "{out}");
        assert!(!out.contains("<b"), "{out}");
        assert!(out.contains("&lt;script&gt;"), "{out}");
    }

    #[test]
    fn links_get_rel_and_bad_schemes_are_dropped() {
        let out = render_markdown("[a](https://e.com) [b](javascript:alert(1)) [c](/rel) [d](data:text/html,x)");
        assert!(out.contains(r#"<a href="https://e.com" rel="nofollow ugc noopener">a</a>"#), "{out}");
        assert!(!out.contains("javascript"), "{out}");
        assert!(!out.contains("href=\"/rel\""), "{out}");
        assert!(!out.contains("data:"), "{out}");
    }

    #[test]
    fn bare_urls_become_links_but_not_inside_code_or_links() {
        let out = render_markdown("see https://example.com/x?y=1 and www.rust-lang.org.");
        assert!(
            out.contains(
                r#"<a href="https://example.com/x?y=1" rel="nofollow ugc noopener">https://example.com/x?y=1</a>"#
            ),
            "{out}"
        );
        assert!(
            out.contains(r#"<a href="https://www.rust-lang.org" rel="nofollow ugc noopener">www.rust-lang.org</a>."#),
            "{out}"
        );
        let code = render_markdown("```\nhttps://example.com\n```");
        assert!(!code.contains("<a"), "{code}");
        let linked = render_markdown("[https://a.com](https://b.com)");
        assert_eq!(linked.matches("<a ").count(), 1, "{linked}");
    }

    #[test]
    fn images_become_links() {
        let out = render_markdown("![cat](https://img.example/cat.png)");
        assert!(!out.contains("<img"), "{out}");
        assert!(out.contains(r#"<a href="https://img.example/cat.png" rel="nofollow ugc noopener">cat</a>"#), "{out}");
    }

    fn assert_inert(html: &str) -> Result<(), String> {
        confab_testkit::check_inert_html(html, ALLOWED_TAGS, LINK_REL)
    }

    /// Markdown-shaped input built from the pieces attacks are made of.
    fn hostile_markdown() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            Just("<script>alert(1)</script>".to_owned()),
            Just("<img src=x onerror=alert(1)>".to_owned()),
            Just("[x](javascript:alert(1))".to_owned()),
            Just("[x](JaVaScRiPt:alert(1))".to_owned()),
            Just("[x](&#106;avascript:alert(1))".to_owned()),
            Just("![x](data:image/svg+xml,<svg onload=alert(1)>)".to_owned()),
            Just("<a href=\"javascript:x\">y</a>".to_owned()),
            Just("[a]: javascript:alert(1)\n[a]".to_owned()),
            Just("<svg><style>x</style></svg>".to_owned()),
            Just("`code` **bold** _em_ ~~del~~".to_owned()),
            Just("https://example.com/a?b=<c>".to_owned()),
            Just("www.example.com\"onmouseover=alert(1)".to_owned()),
            Just("> quote\n\n- item\n1. one".to_owned()),
            Just("```\n<script>\n```".to_owned()),
            Just("<!-- comment -->".to_owned()),
            Just("\n\n".to_owned()),
            "[ -~]{0,12}".prop_map(|s| s),
        ];
        proptest::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_input_renders_inert(input in "\\PC{0,200}") {
            prop_assert!(assert_inert(&render_markdown(&input)).is_ok(), "{:?}", assert_inert(&render_markdown(&input)));
        }

        #[test]
        fn hostile_markdown_renders_inert(input in hostile_markdown()) {
            let html = render_markdown(&input);
            if let Err(e) = assert_inert(&html) {
                prop_assert!(false, "{}", e);
            }
        }
    }

    #[test]
    fn headings_are_flattened() {
        assert_eq!(render_markdown("# Big"), "<p>Big</p>\n");
    }
}
