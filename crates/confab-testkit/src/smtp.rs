//! A real SMTP server for mail tests, and helpers to read what it received.

/// A real SMTP server on loopback: Python's aiosmtpd (installed by `scripts/test-deps`
/// into `.cache/venv`), storing each message it accepts in a Maildir. Killed on drop.
pub struct SmtpSink {
    child: std::process::Child,
    pub port: u16,
    maildir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts a sink on a free port and waits until it accepts connections.
    pub fn start() -> SmtpSink {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = root.join(".cache/venv/bin/python");
        assert!(
            python.exists(),
            "the mail tests need aiosmtpd: run scripts/test-deps (scripts/test does) to install it in .cache/venv"
        );
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("Maildir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Self::spawn(port, &maildir);
        SmtpSink { child, port, maildir, _dir: dir }
    }

    fn spawn(port: u16, maildir: &std::path::Path) -> std::process::Child {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let child = std::process::Command::new(root.join(".cache/venv/bin/python"))
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "aiosmtpd did not start on port {port}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child
    }

    /// Starts the server again on the same port and Maildir.
    pub fn restart(&mut self) {
        self.stop();
        self.child = Self::spawn(self.port, &self.maildir);
    }

    /// Messages addressed to `to`.
    pub fn to(&self, to: &str) -> Vec<String> {
        self.messages().into_iter().filter(|m| header(m, "To").as_deref() == Some(to)).collect()
    }

    /// `smtp://127.0.0.1:<port>` for Confab's `smtp_url`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, raw, in arrival order (Maildir `new/` files are
    /// named by time of delivery).
    pub fn messages(&self) -> Vec<String> {
        let new = self.maildir.join("new");
        let Ok(entries) = std::fs::read_dir(&new) else { return Vec::new() };
        let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> = entries
            .filter_map(|e| e.ok())
            .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), e.path()))
            .collect();
        files.sort();
        files.into_iter().map(|(_, p)| std::fs::read_to_string(p).unwrap()).collect()
    }

    /// Waits until at least `n` messages arrived; returns them all.
    pub fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(std::time::Instant::now() < deadline, "{} of {n} messages arrived", got.len());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Stops the server (to test a mail server that is down); `restart` brings it back
    /// on the same port and Maildir.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A header's value in a raw message (first occurrence, unfolded).
pub fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\n\n").next().unwrap_or(raw);
    let head = head.replace("\r\n", "\n").replace("\n ", " ").replace("\n\t", " ");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    head.lines()
        .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_owned())
        .filter(|_| !raw.is_empty())
}

/// A raw message's text with quoted-printable soft breaks and escapes undone.
pub fn decode_qp(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let b = joined.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
