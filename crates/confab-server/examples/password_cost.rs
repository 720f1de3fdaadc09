//! What a password hash costs at Confab's default Argon2id parameters (19 MiB, 2 passes,
//! 1 lane), and how many log-ins per second that leaves per core. Run with
//! `cargo run --release -p confab-server --example password_cost`.

use std::time::Instant;

use confab_core::input::Password;
use confab_server::passwords::{PasswordCost, Passwords};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let passwords = Passwords::new(PasswordCost::default()).expect("default parameters are valid");
    let password = Password::parse("correct horse battery staple").unwrap();
    let stored = passwords.hash(password.clone()).await.unwrap();
    let mut times = Vec::new();
    for _ in 0..25 {
        let started = Instant::now();
        assert!(passwords.verify(password.clone(), Some(stored.clone())).await.unwrap());
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "Argon2id m=19 MiB t=2 p=1: verify median {median:.1} ms, min {:.1} ms, max {:.1} ms",
        times[0],
        times[times.len() - 1]
    );
    println!("≈ {:.0} log-ins per second per core", 1000.0 / median);
}
