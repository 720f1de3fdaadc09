//! Kill -9 in the middle of a write load. After a restart every acknowledged post
//! exists, and each post's webhook delivery and reply mail took effect exactly once at
//! real receivers (a webhook receiver and an SMTP server, which recognise a repeat by
//! `X-Confab-Delivery` and `Message-ID`, as receivers do).

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Server;

/// (delivery id, event, post id) of every request received, repeats included.
type Log = Arc<Mutex<Vec<(String, String, String)>>>;

/// A minimal HTTP/1.1 webhook receiver on loopback, one thread per connection.
fn receiver() -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let l = Arc::clone(&log);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let l = Arc::clone(&l);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = HashMap::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                    }
                }
                let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
                l.lock().unwrap().push((
                    headers["x-confab-delivery"].clone(),
                    headers["x-confab-event"].clone(),
                    body["post"]["id"].as_str().unwrap_or("").to_owned(),
                ));
                let mut out = stream;
                let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            });
        }
    });
    (url, log)
}

const ENV: &[(&str, &str)] = &[
    // Every reply is mailed at once (no digest), so mails can be counted per reply.
    // Short, not off: most replies then go by digest, where a retried notify job could
    // otherwise mail a reply a second time under another Message-ID.
    ("CONFAB_NOTIFY_INTERVAL_SECS", "1"),
    ("CONFAB_DEMO", "false"),
    ("CONFAB_ADMIN_TOKEN", "crash-test-admin-token-0123456789"),
    ("CONFAB_OUTBOUND_ALLOW_LOOPBACK", "true"),
    ("CONFAB_OUTBOUND_TIMEOUT_SECS", "1"),
    ("CONFAB_JOB_LEASE_SECS", "2"),
    ("CONFAB_JOB_BACKOFF_BASE_SECS", "1"),
    ("CONFAB_JOB_POLL_MS", "50"),
    ("CONFAB_RATE_LIMIT_POSTS_PER_MINUTE", "0"),
    ("CONFAB_RATE_LIMIT_FORUM_POSTS_PER_MINUTE", "0"),
];

#[test]
fn kill_9_mid_load_loses_nothing_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (hook_url, log) = receiver();
    let smtp = confab_testkit::SmtpSink::start();
    let mut env = ENV.to_vec();
    let smtp_url = smtp.url();
    env.push(("CONFAB_SMTP_URL", &smtp_url));
    let mut server = Server::start_with(dir.path(), &env);
    let auth = format!("Bearer {}", ENV[2].1);
    // A flood from four authors is what the spam filter exists to stop: off here.
    let (status, _) = server.request(
        "POST",
        "/api/v1/forums",
        Some(r#"{"shortname":"news","policy":{"spam_filter":"off"}}"#),
        &[("Authorization", &auth)],
    );
    assert_eq!(status, 201);
    let hook = format!(r#"{{"url":"{hook_url}","events":["post.created"]}}"#);
    let (status, body) =
        server.request("POST", "/api/v1/forums/news/webhooks", Some(&hook), &[("Authorization", &auth)]);
    assert_eq!(status, 201, "{body}");
    // The comment everyone replies to; its author asked for mail about replies.
    let root = r#"{"thread":{"identifier":"t","url":"https://news.example/t"},"message":"What do you think?","author":{"name":"Rory","email":"rory@example.com"},"notify":true}"#;
    let (status, body) = server.request("POST", "/api/v1/forums/news/posts", Some(root), &[]);
    assert_eq!(status, 201, "{body}");
    let root_id = body["post"]["id"].as_str().unwrap().to_owned();

    // Four writers reply as fast as they can; the server dies under them.
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let base = server.base.clone();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (acknowledged, stop, base, root_id) =
                (Arc::clone(&acknowledged), Arc::clone(&stop), base.clone(), root_id.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let body = format!(
                        r#"{{"thread":{{"identifier":"t"}},"parent":"{root_id}","message":"writer {w} post {i}","author":{{"name":"W{w}"}}}}"#
                    );
                    // About 150 posts a second in all: enough to be mid-load at the kill,
                    // few enough to count every mail.
                    std::thread::sleep(Duration::from_millis(20));
                    match post_once(&base, &body) {
                        Some(id) => acknowledged.lock().unwrap().push(id),
                        None => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.child.kill().unwrap(); // SIGKILL: no shutdown, no flush, no release
    server.child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged: HashSet<String> = acknowledged.lock().unwrap().iter().cloned().collect();
    assert!(acknowledged.len() > 20, "the load ran ({} posts)", acknowledged.len());
    let before_restart = log.lock().unwrap().len();

    let mut again = Server::start_with(dir.path(), &env);
    // Every acknowledged post exists.
    for id in &acknowledged {
        let (status, _) = again.request("GET", &format!("/api/v1/posts/{id}"), None, &[]);
        assert_eq!(status, 200, "acknowledged post {id} survived");
    }
    // Every acknowledged post's delivery arrives (leases of the killed worker lapse
    // after 2 s), and nothing is left queued or dead.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let delivered: HashSet<String> = log.lock().unwrap().iter().map(|(_, _, p)| p.clone()).collect();
        let (_, jobs) = again.request("GET", "/api/v1/jobs?state=ready&limit=1", None, &[("Authorization", &auth)]);
        let pending = ["ready", "running"].iter().map(|s| jobs["counts"][s].as_u64().unwrap_or(0)).sum::<u64>();
        if acknowledged.is_subset(&delivered) && pending == 0 {
            assert_eq!(jobs["counts"]["dead"].as_u64().unwrap_or(0), 0, "{jobs}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} delivered, {pending} pending",
            delivered.len(),
            acknowledged.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = log.lock().unwrap().clone();
    // Each post was delivered under exactly one delivery id: one job per committed
    // post, whatever was running when the process died.
    let mut ids_per_post: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (delivery, event, post) in &log {
        assert_eq!(event, "post.created");
        ids_per_post.entry(post).or_default().insert(delivery);
    }
    for (post, ids) in &ids_per_post {
        if *post == root_id {
            continue;
        }
        assert_eq!(ids.len(), 1, "post {post} had {} deliveries", ids.len());
        let (status, _) = again.request("GET", &format!("/api/v1/posts/{post}"), None, &[]);
        assert_eq!(status, 200, "a delivery exists only for a committed post");
    }
    // A repeat of the same delivery id happens only for requests cut off by the kill
    // (sent, but not yet recorded as done): at most one per job then running.
    let repeats = log.len() - ids_per_post.len();
    // Mail: every acknowledged reply reached the root's author under exactly one
    // Message-ID.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mails = loop {
        let mails = mails_by_post(&smtp.to("rory@example.com"));
        if acknowledged.iter().all(|id| mails.contains_key(id)) {
            break mails;
        }
        assert!(Instant::now() < deadline, "{} of {} replies mailed", mails.len(), acknowledged.len());
        std::thread::sleep(Duration::from_millis(300));
    };
    let mut mail_repeats = 0;
    for (post, ids) in &mails {
        assert_eq!(ids.len(), 1, "reply {post} was mailed under {ids:?}");
        assert!(
            acknowledged.contains(post) || again.request("GET", &format!("/api/v1/posts/{post}"), None, &[]).0 == 200
        );
        mail_repeats += ids.values().sum::<usize>() - 1;
    }
    // A repeat happens only for a job that was running at the kill (its effect done,
    // its completion not yet recorded): at most the worker's concurrency, 8, in all.
    assert!(repeats + mail_repeats <= 8, "{repeats} webhook and {mail_repeats} mail repeats");
    eprintln!(
        "acknowledged {} posts, {} delivered before the kill, {} deliveries in all, {repeats} repeated after it; \
         {} reply mails, {mail_repeats} repeated",
        acknowledged.len(),
        before_restart,
        log.len(),
        mails.len()
    );
    again.stop();
}

/// Reply mails by every reply they announce (each `#comment-<id>` link: a digest
/// announces several): Message-ID → copies.
fn mails_by_post(raw: &[String]) -> HashMap<String, HashMap<String, usize>> {
    let mut out: HashMap<String, HashMap<String, usize>> = HashMap::new();
    for m in raw {
        let text = confab_testkit::decode_qp(m);
        let posts: HashSet<String> = text
            .match_indices("#comment-")
            .map(|(at, _)| text[at + 9..].chars().take_while(char::is_ascii_digit).collect())
            .collect();
        let id = confab_testkit::header(m, "Message-ID").unwrap_or_default();
        for post in posts {
            *out.entry(post).or_default().entry(id.clone()).or_default() += 1;
        }
    }
    out
}

/// One post over a fresh connection; the new post's id, or None if the server is gone.
fn post_once(base: &str, body: &str) -> Option<String> {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req = format!(
        "POST /api/v1/forums/news/posts HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    if !resp.starts_with("HTTP/1.1 201") {
        return if resp.is_empty() { None } else { panic!("unexpected answer: {resp}") };
    }
    let at = resp.find("\"post\":{\"id\":\"")? + 14;
    Some(resp[at..].split('"').next()?.to_owned())
}
