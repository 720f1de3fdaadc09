//! Input parsers never panic, and what they accept meets the documented limits.
#![no_main]

use confab_core::input::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    if let Ok(m) = Message::parse(s) {
        let n = m.as_str().chars().count();
        assert!((1..=MAX_MESSAGE_CHARS).contains(&n) && !m.as_str().contains('\0') && !m.as_str().trim().is_empty());
        assert_eq!(m.as_str(), s, "messages are kept exactly");
    }
    if let Ok(i) = Identifier::parse(s) {
        assert_eq!(i.as_str(), s, "identifiers are kept exactly");
        assert!(i.as_str().chars().count() <= MAX_IDENTIFIER_CHARS);
    }
    if let Ok(n) = DisplayName::parse("name", s) {
        assert!(n.as_str().chars().count() <= MAX_NAME_CHARS && !n.as_str().chars().any(char::is_control));
    }
    if let Ok(u) = WebUrl::parse("url", s) {
        let lower = u.as_str().to_ascii_lowercase();
        assert!(
            lower.starts_with("http://")
                || lower.starts_with("https://")
                || lower.starts_with("http:")
                || lower.starts_with("https:"),
            "{s:?}"
        );
        assert!(!u.as_str().chars().any(|c| c.is_whitespace() || c.is_control()), "{s:?}");
        assert!(u.as_str().chars().count() <= MAX_URL_CHARS);
    }
    if let Ok(e) = Email::parse(s) {
        assert!(e.as_str().contains('@') && e.as_str().chars().count() <= MAX_EMAIL_CHARS);
    }
    let _ = Shortname::parse(s);
    let _ = Origin::parse(s);
    let _ = Title::parse(s);
    let _ = s.parse::<confab_core::Id>();
});
