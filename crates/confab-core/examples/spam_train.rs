//! Trains the spam classifier's seed model on the public corpora in `.cache/corpora`
//! (fetched by `scripts/spam-corpora`), writes it to `crates/confab-core/data/spam-seed.tsv`,
//! and reports precision and recall on the held-out part.
//!
//! Every fifth message (by a hash of its text) is held out; the model never sees it.
//! Run: `scripts/spam-corpora && cargo run --release -p confab-core --example spam_train`

use confab_core::spam::{self, Model};

/// Tokens kept in the committed model.
const KEEP: usize = 12_000;
/// Distinct tokens learnt from each training message.
const TRAIN_TOKENS: usize = 25;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpora =
        confab_core::spam::corpus::load(&root.join(".cache/corpora")).expect("run scripts/spam-corpora first");
    let (train, test): (Vec<_>, Vec<_>) = corpora.into_iter().partition(|d| !d.held_out());
    let mut model = Model::default();
    for d in &train {
        // Comment-sized: the first words of a long mail, so that long texts do not make
        // every common word look like spam (the spam mails are longer than the ham).
        let mut t = spam::tokens(&d.text);
        t.truncate(TRAIN_TOKENS);
        model.learn(&t, d.spam);
    }
    let tsv = model.to_tsv(KEEP);
    let out = root.join("crates/confab-core/data/spam-seed.tsv");
    std::fs::write(&out, &tsv).unwrap();
    let seed = Model::from_tsv(&tsv).unwrap();
    println!(
        "trained on {} messages ({} spam), kept {} of {} tokens, wrote {} ({} bytes)",
        train.len(),
        train.iter().filter(|d| d.spam).count(),
        seed.tokens.len(),
        model.tokens.len(),
        out.display(),
        tsv.len()
    );
    for source in ["sms", "spam-assassin"] {
        let part: Vec<_> = test.iter().filter(|d| d.source == source).collect();
        for threshold in [0.5, 0.9, 0.995] {
            let m = spam::corpus::measure(&seed, &part, threshold);
            println!(
                "held out {source:13} {:5} messages, spam if p >= {threshold:<5}: precision {:.3} recall {:.3} (tp {} fp {} fn {})",
                part.len(),
                m.precision(),
                m.recall(),
                m.tp,
                m.fp,
                m.fn_
            );
        }
    }
}
