//! Parsed input: every string that enters Confab from outside becomes one of these
//! newtypes or is rejected with an [`InputError`] naming the field. Code past the edge
//! trusts the types and never re-checks.
//!
//! Lengths are counted in Unicode scalar values ("characters"), as a reader would count
//! them, not in bytes. NUL is refused everywhere: no storage engine treats it kindly.

use std::fmt;

use serde::Serialize;

/// Largest accepted request body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MAX_MESSAGE_CHARS: usize = 20_000;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_IDENTIFIER_CHARS: usize = 300;
pub const MAX_URL_CHARS: usize = 2_000;
pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_ORIGINS: usize = 50;

/// A field that failed to parse: which field, a stable code, and a readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InputError {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl InputError {
    pub fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        InputError { field, code, message: message.into() }
    }
}

fn check_len(field: &'static str, s: &str, min: usize, max: usize) -> Result<(), InputError> {
    if s.contains('\0') {
        return Err(InputError::new(field, "invalid_character", "must not contain NUL characters"));
    }
    let n = s.chars().count();
    if n < min {
        return Err(if min == 1 {
            InputError::new(field, "empty", "must not be empty")
        } else {
            InputError::new(field, "too_short", format!("must be at least {min} characters"))
        });
    }
    if n > max {
        return Err(InputError::new(field, "too_long", format!("must be at most {max} characters (got {n})")));
    }
    Ok(())
}

macro_rules! string_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
            /// Wraps a value read back from storage, which was parsed on the way in.
            pub fn from_trusted(s: String) -> Self {
                $name(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// A forum's shortname: the tenant key. 2–64 of `a-z`, `0-9` and `-`, starting
    /// with a letter or digit (the alphabet of Disqus shortnames, so imports keep them).
    Shortname
);

impl Shortname {
    pub fn parse(s: &str) -> Result<Self, InputError> {
        let ok_len = (2..=64).contains(&s.len());
        let ok_chars = s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let ok_start = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if ok_len && ok_chars && ok_start {
            Ok(Shortname(s.to_owned()))
        } else {
            Err(InputError::new(
                "shortname",
                "invalid_shortname",
                "must be 2-64 characters of a-z, 0-9 and '-', starting with a letter or digit",
            ))
        }
    }
}

string_newtype!(
    /// The comment as its author typed it (Markdown). 1–20,000 characters, and not
    /// only whitespace. Kept exactly as sent, so editing shows what was written.
    Message
);

impl Message {
    pub fn parse(s: &str) -> Result<Self, InputError> {
        check_len("message", s, 1, MAX_MESSAGE_CHARS)?;
        if s.trim().is_empty() {
            return Err(InputError::new("message", "empty", "must not be empty or only whitespace"));
        }
        Ok(Message(s.to_owned()))
    }
}

string_newtype!(
    /// A display name (guest authors, forums): 1–100 characters, trimmed, no control
    /// characters and no bidirectional embeddings, overrides or isolates (U+202A–202E,
    /// U+2066–2069): they let a name reorder the text around it and pass for someone
    /// else. (The marks U+200E/200F, which right-to-left names use, are allowed.)
    DisplayName
);

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

impl DisplayName {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, InputError> {
        let s = s.trim();
        check_len(field, s, 1, MAX_NAME_CHARS)?;
        if s.chars().any(|c| c.is_control() || is_bidi_control(c)) {
            return Err(InputError::new(
                field,
                "invalid_character",
                "must not contain control or text-direction characters",
            ));
        }
        Ok(DisplayName(s.to_owned()))
    }
}

string_newtype!(
    /// A thread's identifier, chosen by the embedding page. Any text of 1–300
    /// characters except NUL; stored and compared exactly as sent (no trimming, no
    /// case folding), so spaces, slashes, quotes and any script round-trip.
    Identifier
);

impl Identifier {
    pub fn parse(s: &str) -> Result<Self, InputError> {
        check_len("identifier", s, 1, MAX_IDENTIFIER_CHARS)?;
        Ok(Identifier(s.to_owned()))
    }
}

string_newtype!(
    /// A thread title: 1–500 characters, trimmed.
    Title
);

impl Title {
    pub fn parse(s: &str) -> Result<Self, InputError> {
        let s = s.trim();
        check_len("title", s, 1, MAX_TITLE_CHARS)?;
        Ok(Title(s.to_owned()))
    }
}

string_newtype!(
    /// An absolute `http` or `https` URL of at most 2,000 characters, kept as sent
    /// (trimmed) so that look-ups by URL match what the page sends.
    WebUrl
);

impl WebUrl {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, InputError> {
        let s = s.trim();
        check_len(field, s, 1, MAX_URL_CHARS)?;
        // The URL parser silently drops tabs and newlines ("ht\ttps:" parses as https),
        // so the stored text would differ from what was checked: refuse them instead.
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InputError::new(field, "invalid_url", "must not contain spaces or control characters"));
        }
        match url::Url::parse(s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(WebUrl(s.to_owned())),
            _ => Err(InputError::new(field, "invalid_url", "must be an absolute http or https URL")),
        }
    }
}

string_newtype!(
    /// An email address, lowercased. Deliberately loose (one `@`, non-empty local part,
    /// a dotted domain, no spaces): only a sent mail proves an address, and rejecting
    /// real addresses is worse than accepting odd ones.
    Email
);

/// A domain the mailer accepts: valid as written, or once IDNA-encoded (`bücher.example`).
fn mail_domain(domain: &str) -> bool {
    use email_address::EmailAddress;
    EmailAddress::is_valid_domain(domain)
        || matches!(url::Host::parse(domain), Ok(url::Host::Domain(ascii)) if EmailAddress::is_valid_domain(&ascii))
}

impl Email {
    pub fn parse(s: &str) -> Result<Self, InputError> {
        let s = s.trim();
        check_len("email", s, 3, MAX_EMAIL_CHARS)?;
        // Only what the mailer can send to (lettre's rules: an RFC 5322 local part, a
        // domain valid as is or once IDNA-encoded), with a dotted domain and nothing a
        // header could be bent with: an address taken here and refused at delivery would
        // be retried for hours, and an account signed up with it could never confirm.
        let valid = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !s.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
                    && email_address::EmailAddress::is_valid_local_part(local)
                    && mail_domain(domain)
            }
            None => false,
        };
        if !valid {
            return Err(InputError::new("email", "invalid_email", "must be an email address"));
        }
        Ok(Email(s.to_lowercase()))
    }

    /// SHA-256 hex of the address, as avatar services (Gravatar, Libravatar) expect.
    /// This is the only form in which an email ever leaves the server.
    pub fn avatar_hash(&self) -> String {
        crate::secret::sha256_hex(self.0.as_bytes())
    }
}

string_newtype!(
    /// An account's public handle: 2–30 of `A-Z a-z 0-9 _ . -`, starting with a letter
    /// or digit. Unique without regard to case ([`Username::key`]); shown as typed.
    Username
);

impl Username {
    pub fn parse(s: &str) -> Result<Self, InputError> {
        let ok_len = (2..=30).contains(&s.len());
        let ok_chars = s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        let ok_start = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if ok_len && ok_chars && ok_start {
            Ok(Username(s.to_owned()))
        } else {
            Err(InputError::new(
                "username",
                "invalid_username",
                "must be 2-30 characters of letters, digits, '_', '.' and '-', starting with a letter or digit",
            ))
        }
    }

    /// The form uniqueness is checked on.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// What a user types to log in: a username or an email address, compared without
/// regard to case. Never shown back and never logged.
pub fn login_key(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Shortest and longest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A password as typed. Length is the only rule (8–256 characters, as NIST SP 800-63B
/// advises: no composition rules). `Debug` never prints it; it is hashed at once.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    pub fn parse(s: &str) -> Result<Self, InputError> {
        check_len("password", s, MIN_PASSWORD_CHARS, MAX_PASSWORD_CHARS)?;
        if s.trim().is_empty() {
            return Err(InputError::new("password", "empty", "must not be only whitespace"));
        }
        Ok(Password(s.to_owned()))
    }

    /// A password presented at log-in: not re-checked against today's rules (an old
    /// account may predate them), only bounded so hashing stays cheap.
    pub fn presented(s: &str) -> Option<Self> {
        (!s.is_empty() && s.chars().count() <= MAX_PASSWORD_CHARS).then(|| Password(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

string_newtype!(
    /// A web origin (`scheme://host[:port]`), normalised as browsers send it in `Origin`.
    Origin
);

impl Origin {
    pub fn parse(s: &str) -> Result<Self, InputError> {
        let err =
            || InputError::new("origins", "invalid_origin", format!("{s:?} is not an origin like https://example.com"));
        let u = url::Url::parse(s.trim()).map_err(|_| err())?;
        let plain = u.path() == "/" && u.query().is_none() && u.fragment().is_none() && u.username().is_empty();
        if !matches!(u.scheme(), "http" | "https") || !u.has_host() || !plain {
            return Err(err());
        }
        Ok(Origin(u.origin().ascii_serialization()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_limits() {
        assert_eq!(Message::parse("").unwrap_err().code, "empty");
        assert_eq!(Message::parse(" \n\t ").unwrap_err().code, "empty");
        assert!(Message::parse(&"é".repeat(MAX_MESSAGE_CHARS)).is_ok(), "limit counts characters, not bytes");
        assert_eq!(Message::parse(&"a".repeat(MAX_MESSAGE_CHARS + 1)).unwrap_err().code, "too_long");
        assert_eq!(Message::parse("a\0b").unwrap_err().code, "invalid_character");
        assert_eq!(Message::parse("  keep  ").unwrap().as_str(), "  keep  ");
    }

    #[test]
    fn identifiers_are_kept_exactly() {
        for s in ["a b", "/2024/01/post?x=1#y", "it's \"quoted\"", "日本語のスレッド", "مرحبا", " lead", "tab\there"]
        {
            assert_eq!(Identifier::parse(s).unwrap().as_str(), s);
        }
        assert!(Identifier::parse(&"x".repeat(301)).is_err());
        assert!(Identifier::parse("").is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("name", "  Ann ").unwrap().as_str(), "Ann");
        assert!(DisplayName::parse("name", &"n".repeat(101)).is_err());
        assert!(DisplayName::parse("name", "a\u{7}b").is_err());
        assert!(DisplayName::parse("name", "admin\u{202E}nimda").is_err(), "right-to-left override");
        assert!(DisplayName::parse("name", "a\u{2067}b").is_err(), "isolate");
        assert!(DisplayName::parse("name", "\u{200F}שרה").is_ok(), "RTL names with marks are fine");
        assert!(DisplayName::parse("name", "   ").is_err());
    }

    #[test]
    fn urls_must_be_absolute_web_urls() {
        assert!(WebUrl::parse("url", "https://example.com/a?b#c").is_ok());
        for bad in [
            "javascript:alert(1)",
            "/relative",
            "ftp://x.y/",
            "data:text/html,hi",
            "http://",
            "",
            "ht\ttps://e.com",
            "java\nscript:x",
            "https://e.com/a b",
        ] {
            assert!(WebUrl::parse("url", bad).is_err(), "{bad}");
        }
        let long = format!("https://e.com/{}", "a".repeat(MAX_URL_CHARS));
        assert_eq!(WebUrl::parse("url", &long).unwrap_err().code, "too_long");
    }

    #[test]
    fn shortnames() {
        assert!(Shortname::parse("my-blog").is_ok());
        for bad in ["a", "My-Blog", "-blog", "blog_1", "blög", &"a".repeat(65)] {
            assert!(Shortname::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_and_their_hash() {
        let e = Email::parse(" Ann@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "ann@example.com");
        assert_eq!(e.avatar_hash().len(), 64);
        for bad in ["ann", "@x.com", "a@b", "a b@c.d", "a@b@c.d", "a@.com"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(Origin::parse("https://Example.com").unwrap().as_str(), "https://example.com");
        assert_eq!(Origin::parse("http://localhost:3000/").unwrap().as_str(), "http://localhost:3000");
        assert!(Origin::parse("https://example.com/path").is_err());
        assert!(Origin::parse("file:///etc").is_err());
    }
}
