//! How the built-in filter treats ordinary comments and spam, as a first-time guest's
//! post without links meets it (the strictest case for plain text): the share of
//! ordinary comments held or marked spam, and the share of spam caught, on the
//! held-out fifth of the public corpora. The README's spam figures come from here:
//!
//!     scripts/spam-corpora && cargo run --release -p confab-core --example spam_eval

use confab_core::spam::corpus::{Doc, load, ordinary_comments};
use confab_core::spam::{Action, Model, Signals, judge, spam_probability, tokens};

fn verdict(d: &Doc) -> Action {
    let t = tokens(&d.text);
    judge(&d.text, &t, spam_probability(Model::seed(), None, &t), Signals::default()).action
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ham = ordinary_comments(&root.join("../shared/corpora")).expect("../shared/corpora is there");
    let corpora = load(&root.join(".cache/corpora")).expect("run scripts/spam-corpora first");
    let held: Vec<&Doc> = corpora.iter().filter(|d| d.held_out()).collect();
    let rate = |docs: &[&Doc], caught: fn(Action) -> bool| {
        let n = docs.iter().filter(|d| caught(verdict(d))).count();
        (n, docs.len(), 100.0 * n as f64 / docs.len().max(1) as f64)
    };
    let not_approved = |a: Action| a != Action::Approve;
    for source in ["ordinary", "exports"] {
        let docs: Vec<&Doc> = ham.iter().filter(|d| d.source == source).collect();
        let (n, of, pct) = rate(&docs, not_approved);
        println!("{source:>10} comments held or spam: {n} of {of} ({pct:.1}%)");
        for d in docs.iter().filter(|d| not_approved(verdict(d))) {
            let t = tokens(&d.text);
            let v = judge(&d.text, &t, spam_probability(Model::seed(), None, &t), Signals::default());
            let text: String = d.text.chars().take(60).collect();
            println!("            {:?} {:.3} {:?}: {text:?}", v.action, v.score, v.reasons);
        }
    }
    for (source, spam) in [("sms", false), ("sms", true), ("spam-assassin", true)] {
        let docs: Vec<&Doc> = held.iter().copied().filter(|d| d.source == source && d.spam == spam).collect();
        let (n, of, pct) = rate(&docs, not_approved);
        let what = if spam { "spam caught (held or spam)" } else { "ham held or spam" };
        println!("{source:>10} {what}: {n} of {of} ({pct:.1}%)");
    }
}
