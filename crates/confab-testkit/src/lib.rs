//! Test support shared by the test suites and the fuzz targets. Never a runtime
//! dependency: it parses HTML with a browser-grade parser (html5ever, via scraper).

mod smtp;
pub use smtp::{SmtpSink, decode_qp, header};

/// Checks rendered comment HTML as a browser would parse it: every element is one of
/// `allowed_tags` (or the parser's own html/head/body wrapper), the only attributes are
/// `href` (http, https or mailto), `rel` (exactly `link_rel`, and present on every link)
/// and `start` (on `ol`). Text content is not inspected: escaped text is inert.
pub fn check_inert_html(html: &str, allowed_tags: &[&str], link_rel: &str) -> Result<(), String> {
    let doc = scraper::Html::parse_fragment(html);
    for node in doc.tree.nodes() {
        let Some(el) = node.value().as_element() else { continue };
        let name = el.name();
        if !allowed_tags.contains(&name) && !matches!(name, "html" | "head" | "body") {
            return Err(format!("element <{name}> in {html:?}"));
        }
        for (attr, value) in el.attrs() {
            let ok = match attr {
                "href" => ["http:", "https:", "mailto:"].iter().any(|s| value.to_ascii_lowercase().starts_with(s)),
                "rel" => value == link_rel,
                "start" => name == "ol",
                _ => false,
            };
            if !ok {
                return Err(format!("attribute {attr}={value:?} on <{name}> in {html:?}"));
            }
        }
        if name == "a" && el.attr("rel") != Some(link_rel) {
            return Err(format!("link without rel={link_rel:?} in {html:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAGS: &[&str] = &["a", "p"];

    #[test]
    fn the_check_catches_what_it_should() {
        let rel = "nofollow";
        assert!(check_inert_html("<p>ok <a href=\"https://e.com\" rel=\"nofollow\">x</a></p>", TAGS, rel).is_ok());
        assert!(check_inert_html("<p>&lt;script&gt; javascript: onload=x</p>", TAGS, rel).is_ok(), "text is inert");
        assert!(check_inert_html("<script>x</script>", TAGS, rel).is_err());
        assert!(check_inert_html("<p onclick=\"x\">y</p>", TAGS, rel).is_err());
        assert!(check_inert_html("<a href=\"javascript:x\" rel=\"nofollow\">y</a>", TAGS, rel).is_err());
        assert!(check_inert_html("<a href=\"https://e.com\">y</a>", TAGS, rel).is_err());
    }
}
