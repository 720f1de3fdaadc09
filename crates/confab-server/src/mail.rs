//! Outgoing mail behind one trait, [`Mailer`]. This release has three senders: a
//! directory drop (the embedded default: one `.eml` file per message, for the operator
//! to read or hand to a local MTA), a memory sink (tests), and a sender that drops
//! mail when none is configured. SMTP arrives with the delayed-signals work and slots
//! in behind the same trait.
//!
//! A mail carries secrets (verification and reset links): its recipient and body are
//! never logged, and a failure to send is logged without them.

use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use confab_core::input::Email;

/// One plain-text message.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: Email,
    pub subject: String,
    pub text: String,
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
    async fn send(&self, mail: Mail) -> Result<(), String>;
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
    async fn send(&self, mail: Mail) -> Result<(), String> {
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

pub fn render_eml(from: &str, mail: &Mail, date: &str, message_id: &str) -> String {
    let body = mail.text.replace("\r\n", "\n").replace('\n', "\r\n");
    format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {date}\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
        header_value(from),
        header_value(mail.to.as_str()),
        header_value(&mail.subject),
    )
}

#[async_trait]
impl Mailer for DirMailer {
    async fn send(&self, mail: Mail) -> Result<(), String> {
        use rand::Rng;
        let now = time::OffsetDateTime::now_utc();
        let date = now.format(&time::format_description::well_known::Rfc2822).map_err(|e| e.to_string())?;
        let unique: u64 = rand::rng().random();
        let name = format!("{}-{unique:016x}", now.unix_timestamp_nanos() / 1_000_000);
        let domain = self.from.rsplit_once('@').map_or("confab.invalid", |(_, d)| d.trim_end_matches('>'));
        let eml = render_eml(&self.from, &mail, &date, &format!("{name}@{domain}"));
        let (tmp, path) = (self.dir.join(format!(".{name}.tmp")), self.dir.join(format!("{name}.eml")));
        // Written whole, then renamed: a reader never sees half a message.
        tokio::fs::write(&tmp, eml).await.map_err(|e| e.to_string())?;
        tokio::fs::rename(&tmp, &path).await.map_err(|e| e.to_string())
    }
}

/// Drops every message (no mail configured); says so in the log, without addresses.
pub struct DropMailer;

#[async_trait]
impl Mailer for DropMailer {
    async fn send(&self, mail: Mail) -> Result<(), String> {
        tracing::warn!(subject = %mail.subject, "no mailer configured: message dropped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_directory_mailer_writes_whole_rfc5322_files() {
        let dir = tempfile::tempdir().unwrap();
        let m = DirMailer::new(dir.path().join("outbox"), "Confab <confab@example.com>".into()).unwrap();
        let mail = Mail {
            to: Email::parse("ann@example.com").unwrap(),
            subject: "Hello\r\nBcc: evil@example.com".into(),
            text: "line one\nline two".into(),
        };
        m.send(mail.clone()).await.unwrap();
        m.send(mail).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 2, "one file per message, no temporary files left");
        let eml = std::fs::read_to_string(&files[0]).unwrap();
        assert!(eml.starts_with("From: Confab <confab@example.com>\r\nTo: ann@example.com\r\n"), "{eml}");
        assert!(eml.contains("Subject: HelloBcc: evil@example.com\r\n"), "no header injection: {eml}");
        assert!(eml.ends_with("\r\n\r\nline one\r\nline two\r\n"), "{eml}");
        assert!(eml.contains("@example.com>\r\n"), "message id in the sender's domain");
    }

    #[test]
    fn debug_never_shows_recipient_or_body() {
        let mail = Mail { to: Email::parse("ann@example.com").unwrap(), subject: "s".into(), text: "secret".into() };
        let s = format!("{mail:?}");
        assert!(!s.contains("ann@") && !s.contains("secret"), "{s}");
    }
}
