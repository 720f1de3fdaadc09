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
