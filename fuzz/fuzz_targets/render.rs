//! The renderer never panics, and its output, parsed as a browser would, carries no
//! active content (`confab_testkit::check_inert_html`).
#![no_main]

use confab_core::render::{ALLOWED_TAGS, LINK_REL, render_markdown};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let html = render_markdown(input);
    if let Err(e) = confab_testkit::check_inert_html(&html, ALLOWED_TAGS, LINK_REL) {
        panic!("{e} (from {input:?})");
    }
});
