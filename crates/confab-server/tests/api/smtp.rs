//! The SMTP sender against a real SMTP server (aiosmtpd on loopback).

use std::time::Duration;

use confab_core::input::Email;
use confab_server::mail::{Mail, Mailer, SmtpMailer};
use confab_testkit::{SmtpSink, decode_qp, header};

#[tokio::test]
async fn messages_arrive_whole_with_their_unsubscribe_headers() {
    let sink = SmtpSink::start();
    let mailer = SmtpMailer::new(&sink.url(), "Comments <c@example.com>".into(), Duration::from_secs(5)).unwrap();
    let mut mail = Mail::plain(
        Email::parse("ann@example.com").unwrap(),
        "Bö replied to you\r\nBcc: evil@example.com",
        "Bö wrote:\n\nthanks!\n\nhttps://blog.example/a-rather-long-article-address-that-goes-past-the-line-limit#comment-1",
    );
    mail.html = Some("<p><b>Bö</b> wrote:</p><blockquote>thanks!</blockquote>".into());
    mail.unsubscribe = Some("https://comments.example.com/unsubscribe?s=abc".into());
    mail.key = Some("123456".into());
    mailer.send(mail).await.unwrap();
    let got = tokio::task::spawn_blocking(move || sink.wait_for(1)).await.unwrap();
    let raw = &got[0];
    assert_eq!(header(raw, "To").as_deref(), Some("ann@example.com"));
    assert_eq!(header(raw, "From").as_deref(), Some("Comments <c@example.com>"));
    assert!(header(raw, "Bcc").is_none(), "no header injection: {raw}");
    assert!(header(raw, "Subject").unwrap().starts_with("=?utf-8?"), "encoded non-ASCII subject: {raw}");
    assert_eq!(header(raw, "Message-ID").as_deref(), Some("<confab.123456@example.com>"));
    assert_eq!(header(raw, "List-Unsubscribe").as_deref(), Some("<https://comments.example.com/unsubscribe?s=abc>"));
    assert_eq!(header(raw, "List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
    assert!(header(raw, "Content-Type").unwrap().starts_with("multipart/alternative"), "{raw}");
    let text = decode_qp(raw);
    assert!(text.contains("a-rather-long-article-address-that-goes-past-the-line-limit#comment-1"), "{text}");
    assert!(text.contains("<blockquote>thanks!</blockquote>"), "{text}");
}

#[tokio::test]
async fn a_server_that_is_down_is_a_transient_failure_without_the_address() {
    let mut sink = SmtpSink::start();
    let url = sink.url();
    sink.stop();
    let mailer = SmtpMailer::new(&url, "c@example.com".into(), Duration::from_secs(2)).unwrap();
    let err = mailer.send(Mail::plain(Email::parse("ann@example.com").unwrap(), "s", "t")).await.unwrap_err();
    assert!(err.transient, "{err:?}");
    assert!(!err.reason.contains("ann@"), "{err:?}");
}

#[test]
fn bad_configuration_is_refused_at_start() {
    assert!(SmtpMailer::new("gopher://x", "c@example.com".into(), Duration::from_secs(1)).is_err());
    assert!(SmtpMailer::new("smtp://127.0.0.1:1", "not an address".into(), Duration::from_secs(1)).is_err());
}
