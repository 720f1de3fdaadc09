//! Outgoing mail behind one trait, [`Mailer`], with four senders: SMTP (lettre, when
//! `smtp_url` is configured), a directory drop (the embedded default: one `.eml` file
//! per message, for the operator to read or hand to a local MTA), a memory sink
//! (tests), and a sender that drops mail.
//!
//! Messages are built by lettre's MIME builder (multipart text and HTML, encoded
//! headers, no header injection), the same bytes whichever sender takes them.
//!
//! A mail carries secrets (verification, reset and unsubscribe links): its recipient
//! and body are never logged, and a failure to send is logged without them.

use std::path::PathBuf;

use std::sync::Mutex;

use async_trait::async_trait;
use confab_core::input::Email;

/// One message: a text body, optionally an HTML alternative.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: Email,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// A one-click unsubscribe URL (RFC 8058): sent as `List-Unsubscribe` with
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
    pub unsubscribe: Option<String>,
    /// A stable identity (the outbox job's id) for the `Message-ID`, so that a repeat
    /// after a crash is recognisably the same message.
    pub key: Option<String>,
}

impl Mail {
    /// A plain-text message.
    pub fn plain(to: Email, subject: impl Into<String>, text: impl Into<String>) -> Self {
        Mail { to, subject: subject.into(), text: text.into(), html: None, unsubscribe: None, key: None }
    }
}

/// Why a message was not sent, without the recipient or the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// Trying again later may work (a 4xx reply, a connection failure).
    pub transient: bool,
    pub reason: String,
}

impl std::fmt::Display for SendFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl From<String> for SendFailure {
    fn from(reason: String) -> Self {
        SendFailure { transient: true, reason }
    }
}

/// The message as lettre builds it. `from` is a mailbox (`Name <addr>` or `addr`).
pub fn build_message(from: &str, mail: &Mail, message_id: &str) -> Result<lettre::Message, String> {
    use lettre::message::header::{ContentType, HeaderName, HeaderValue};
    use lettre::message::{Mailbox, MultiPart, SinglePart};
    let from: Mailbox = from.parse().map_err(|e| format!("invalid sender address: {e}"))?;
    // Built from the address alone (never parsed as "Name <address>"), by the rules
    // `Email::parse` already applied.
    let to = mail
        .to
        .as_str()
        .parse::<lettre::Address>()
        .map(|a| Mailbox::new(None, a))
        .map_err(|_| "invalid recipient address".to_owned())?;
    let builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(header_value(&mail.subject))
        .message_id(Some(format!("<{}>", header_value(message_id))));
    let text = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(body(&mail.text));
    let mut message = match &mail.html {
        Some(html) => builder.multipart(
            MultiPart::alternative()
                .singlepart(text)
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(body(html))),
        ),
        None => builder.singlepart(text),
    }
    .map_err(|e| format!("cannot build the message: {e}"))?;
    if let Some(url) = &mail.unsubscribe {
        let headers = message.headers_mut();
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            format!("<{}>", header_value(url)),
        ));
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click".to_owned(),
        ));
    }
    Ok(message)
}

/// A body sent as 8-bit text when lettre allows it (short lines), so that a raw
/// message stays readable; quoted-printable or base64 otherwise, which every mail
/// reader decodes (long links are the usual reason).
fn body(s: &str) -> lettre::message::Body {
    use lettre::message::Body;
    use lettre::message::header::ContentTransferEncoding;
    let s = s.replace("\r\n", "\n");
    Body::new_with_encoding(s.clone(), ContentTransferEncoding::EightBit).unwrap_or_else(|_| Body::new(s))
}

/// A Message-ID for `mail` in the sender's domain.
fn message_id(from: &str, mail: &Mail) -> String {
    use rand::Rng;
    let domain = from.rsplit_once('@').map_or("confab.invalid", |(_, d)| d.trim_end_matches('>'));
    let local = match &mail.key {
        Some(k) => format!("confab.{k}"),
        None => format!("confab.{:016x}", rand::rng().random::<u64>()),
    };
    format!("{local}@{domain}")
}

/// Sends through an SMTP server (lettre's pooled async transport).
pub struct SmtpMailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: String,
}

impl SmtpMailer {
    /// `url` as lettre reads it: `smtp://host:port` (plain, for a local relay),
    /// `smtp://host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465` (TLS).
    pub fn new(url: &str, from: String, timeout: std::time::Duration) -> Result<Self, String> {
        build_message(&from, &Mail::plain(Email::parse("check@example.com").expect("valid"), "", ""), "x@y")
            .map_err(|e| format!("mail_from: {e}"))?;
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|e| format!("smtp_url: {e}"))?
            .timeout(Some(timeout))
            .build();
        Ok(SmtpMailer { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> Result<(), SendFailure> {
        use lettre::AsyncTransport;
        // A message that cannot be built never will be: not worth a retry.
        let message = build_message(&self.from, &mail, &message_id(&self.from, &mail))
            .map_err(|reason| SendFailure { transient: false, reason })?;
        self.transport.send(message).await.map(drop).map_err(|e| {
            // lettre's messages can quote the server's reply, which may name the
            // recipient: keep only the class and the code.
            let code = e.status().map(|c| format!(" (reply {c})")).unwrap_or_default();
            let (transient, what) = if e.is_permanent() {
                (false, "the SMTP server refused the message")
            } else if e.is_transient() {
                (true, "the SMTP server deferred the message")
            } else if e.is_timeout() {
                (true, "the SMTP server timed out")
            } else {
                (true, "could not talk to the SMTP server")
            };
            SendFailure { transient, reason: format!("{what}{code}") }
        })
    }
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail").field("subject", &self.subject).finish_non_exhaustive()
    }
}

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Hands the message on. Errors are for the log (without addresses), never for the
    /// client: whether a mail went out must not tell anyone whether an account exists.
    async fn send(&self, mail: Mail) -> Result<(), SendFailure>;
}

/// Keeps every message in memory, for tests to read.
#[derive(Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<Mail>>,
}

impl MemoryMailer {
    /// Messages sent so far, oldest first.
    pub fn sent(&self) -> Vec<Mail> {
        self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Messages sent to `to`, oldest first.
    pub fn to(&self, to: &str) -> Vec<Mail> {
        self.sent().into_iter().filter(|m| m.to.as_str() == to).collect()
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, mail: Mail) -> Result<(), SendFailure> {
        self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(mail);
        Ok(())
    }
}

/// Writes each message as an RFC 5322 file (`<unix ms>-<random>.eml`) into a directory.
pub struct DirMailer {
    dir: PathBuf,
    from: String,
}

impl DirMailer {
    pub fn new(dir: PathBuf, from: String) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(DirMailer { dir, from })
    }
}

/// Header values are ours or parsed (`Email` has no spaces or angle brackets); line
/// breaks are removed anyway so nothing can add a header.
fn header_value(s: &str) -> String {
    s.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

#[async_trait]
impl Mailer for DirMailer {
    async fn send(&self, mail: Mail) -> Result<(), SendFailure> {
        use rand::Rng;
        let now = time::OffsetDateTime::now_utc();
        let unique: u64 = rand::rng().random();
        let name = format!("{}-{unique:016x}", now.unix_timestamp_nanos() / 1_000_000);
        let eml = build_message(&self.from, &mail, &message_id(&self.from, &mail))?.formatted();
        let (tmp, path) = (self.dir.join(format!(".{name}.tmp")), self.dir.join(format!("{name}.eml")));
        // Written whole, then renamed: a reader never sees half a message.
        tokio::fs::write(&tmp, eml).await.map_err(|e| e.to_string())?;
        tokio::fs::rename(&tmp, &path).await.map_err(|e| SendFailure::from(e.to_string()))
    }
}

/// Drops every message (no mail configured); says so in the log, without addresses.
pub struct DropMailer;

#[async_trait]
impl Mailer for DropMailer {
    async fn send(&self, mail: Mail) -> Result<(), SendFailure> {
        tracing::warn!(subject = %mail.subject, "no mailer configured: message dropped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Addresses the old, looser check let in and the mailer refuses: each would have
    /// been retried for hours and dead-lettered.
    #[test]
    fn addresses_the_mailer_cannot_use_are_refused_when_given() {
        for bad in ["a(b)@example.com", "a,b@example.com", "a:b@example.com", "a..b@example.com", ".a@example.com"] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
        for good in ["ann+tag@example.com", "o'brien@example.ie", "ann@bücher.example", "a.b@sub.example.co.uk"] {
            let e = Email::parse(good).unwrap_or_else(|_| panic!("{good} refused"));
            assert!(build_message("c@example.com", &Mail::plain(e, "s", "t"), "id@x").is_ok(), "{good}");
        }
    }

    proptest::proptest! {
        /// Whatever `Email::parse` accepts, the mailer can address.
        #[test]
        fn every_accepted_address_is_one_the_mailer_takes(
            s in "[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~(),;:\\[\\]\"ü-]{1,10}@[a-zA-Z0-9ü_.\\[\\]-]{1,10}\\.[a-z]{2,3}"
        ) {
            if let Ok(e) = Email::parse(&s) {
                proptest::prop_assert!(e.as_str().parse::<lettre::Address>().is_ok(), "{} accepted", s);
            }
        }
    }

    #[tokio::test]
    async fn the_directory_mailer_writes_whole_rfc5322_files() {
        let dir = tempfile::tempdir().unwrap();
        let m = DirMailer::new(dir.path().join("outbox"), "Confab <confab@example.com>".into()).unwrap();
        let mail = Mail::plain(
            Email::parse("ann@example.com").unwrap(),
            "Hello\r\nBcc: evil@example.com",
            "line one\nline two",
        );
        m.send(mail.clone()).await.unwrap();
        m.send(mail).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 2, "one file per message, no temporary files left");
        let eml = std::fs::read_to_string(&files[0]).unwrap();
        assert!(eml.contains("From: Confab <confab@example.com>\r\n"), "{eml}");
        assert!(eml.contains("To: ann@example.com\r\n"), "{eml}");
        assert!(eml.contains("Subject: HelloBcc: evil@example.com\r\n"), "no header injection: {eml}");
        assert!(!eml.contains("\r\nBcc:"), "{eml}");
        assert!(eml.ends_with("\r\n\r\nline one\r\nline two\r\n") || eml.contains("line one\r\nline two"), "{eml}");
        assert!(eml.contains("@example.com>\r\n"), "message id in the sender's domain");
    }

    #[test]
    fn debug_never_shows_recipient_or_body() {
        let mail = Mail::plain(Email::parse("ann@example.com").unwrap(), "s", "secret");
        let s = format!("{mail:?}");
        assert!(!s.contains("ann@") && !s.contains("secret"), "{s}");
    }
}
