//! The renderer never panics, and its output, parsed as a browser would, carries no
//! active content: only allowed elements, only `href`/`rel`/`start` attributes, links
//! only http, https or mailto, every link with the forced `rel`.
#![no_main]

use libfuzzer_sys::fuzz_target;

const TAGS: &[&str] = &[
    "html",
    "head",
    "body",
    "a",
    "p",
    "br",
    "em",
    "strong",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "hr",
];

fuzz_target!(|input: &str| {
    let html = confab_core::render::render_markdown(input);
    let doc = scraper::Html::parse_fragment(&html);
    for node in doc.tree.nodes() {
        let Some(el) = node.value().as_element() else { continue };
        assert!(TAGS.contains(&el.name()), "<{}> in {html:?}", el.name());
        for (name, value) in el.attrs() {
            match name {
                "href" => {
                    let v = value.to_ascii_lowercase();
                    assert!(
                        ["http:", "https:", "mailto:"].iter().any(|s| v.starts_with(s)),
                        "href {value:?} in {html:?}"
                    );
                }
                "rel" => assert_eq!(value, "nofollow ugc noopener"),
                "start" => assert_eq!(el.name(), "ol"),
                other => panic!("attribute {other} in {html:?}"),
            }
        }
        if el.name() == "a" {
            assert_eq!(el.attr("rel"), Some("nofollow ugc noopener"), "{html:?}");
        }
    }
});
