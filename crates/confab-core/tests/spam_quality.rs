//! The seed model's quality on the held-out fifth of the public corpora, which it was
//! not trained on (`scripts/spam-corpora` fetches them; `scripts/test-deps` runs it).
//! The figures the README quotes come from `cargo run --release -p confab-core
//! --example spam_train`; this test fails if a change to the tokenizer, the scoring or
//! the committed model makes them clearly worse.

use confab_core::spam::Model;
use confab_core::spam::corpus::{load, measure};

#[test]
fn the_seed_model_holds_its_precision_and_recall_on_unseen_messages() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/corpora");
    let docs = load(&dir).unwrap_or_else(|e| panic!("{e}: run scripts/spam-corpora (scripts/test-deps does)"));
    let held: Vec<_> = docs.iter().filter(|d| d.held_out()).collect();
    let sms: Vec<_> = held.iter().copied().filter(|d| d.source == "sms").collect();
    let mail: Vec<_> = held.iter().copied().filter(|d| d.source == "spam-assassin").collect();
    assert!(sms.len() > 800 && mail.len() > 1000, "{} {}", sms.len(), mail.len());
    // Comment-length texts at the threshold that marks spam outright: very few
    // false positives.
    let m = measure(Model::seed(), &sms, 0.995);
    assert!(m.precision() >= 0.97 && m.recall() >= 0.88, "sms at 0.995: {m:?}");
    // At the threshold that holds for review: most spam caught.
    let m = measure(Model::seed(), &sms, 0.9);
    assert!(m.precision() >= 0.85 && m.recall() >= 0.92, "sms at 0.9: {m:?}");
    let m = measure(Model::seed(), &mail, 0.9);
    assert!(m.precision() >= 0.85 && m.recall() >= 0.8, "mail at 0.9: {m:?}");
}

/// Ordinary comments (short, friendly, off-topic, non-English, and those of real exports)
/// posted by a first-time guest: at most 1% held or marked spam, while most spam is
/// still caught. `cargo run --release -p confab-core --example spam_eval` prints the
/// figures and the comments held.
#[test]
fn ordinary_comments_are_rarely_held_and_spam_still_is() {
    use confab_core::spam::corpus::{Doc, ordinary_comments};
    use confab_core::spam::{Action, Signals, judge, spam_probability, tokens};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let held_back = |d: &Doc| {
        let t = tokens(&d.text);
        judge(&d.text, &t, spam_probability(Model::seed(), None, &t), Signals::default()).action != Action::Approve
    };
    let ham = ordinary_comments(&root.join("../shared/corpora")).expect("../shared/corpora is there");
    let short: Vec<&Doc> = ham.iter().filter(|d| d.source == "ordinary").collect();
    assert!(short.len() >= 150 && ham.len() >= 250, "{} {}", short.len(), ham.len());
    let held: Vec<&str> = short.iter().filter(|d| held_back(d)).map(|d| d.text.as_str()).collect();
    assert!(held.len() * 100 <= short.len(), "{} of {} ordinary comments held: {held:?}", held.len(), short.len());
    let all_held = ham.iter().filter(|d| held_back(d)).count();
    assert!(all_held * 50 <= ham.len(), "{all_held} of {} comments held", ham.len());
    let docs = load(&root.join(".cache/corpora")).unwrap_or_else(|e| panic!("{e}: run scripts/spam-corpora"));
    let spam: Vec<&Doc> = docs.iter().filter(|d| d.held_out() && d.spam).collect();
    let caught = spam.iter().filter(|d| held_back(d)).count();
    assert!(caught * 100 >= spam.len() * 85, "{caught} of {} spam caught", spam.len());
}
