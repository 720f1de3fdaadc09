//! The built-in spam filter: a naive Bayes classifier over the words and links of a
//! comment, plus signals a classifier cannot see (duplicate text, posting speed, a new
//! author with links, link-heavy or obfuscated text), combined into a verdict:
//! approve, hold for review, or spam.
//!
//! The classifier starts from a seed model trained on public corpora (the SMS Spam
//! Collection and the SpamAssassin corpus: `scripts/spam-corpora`, then
//! `cargo run --release -p confab-core --example spam_train`) and learns per forum from
//! moderators' decisions: a forum's counts are added to the seed's.
//!
//! Written here rather than taken from a crate: the Rust naive Bayes crates are
//! unmaintained or multinomial-only over a fixed vocabulary, and this one needs
//! mergeable counts (seed + forum) stored as plain rows. It is ~100 lines.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// Most distinct tokens read from one text (long mails would otherwise dominate).
const MAX_TOKENS: usize = 400;

/// The features of a text: distinct lowercased words (2–24 characters), link hosts
/// (`host:example.com`), and markers for links, long numbers, money and shouting.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    let mut push = |t: String, out: &mut Vec<String>| {
        if out.len() < MAX_TOKENS && seen.insert(t.clone()) {
            out.push(t);
        }
    };
    for link in linkify::LinkFinder::new().kinds(&[linkify::LinkKind::Url]).links(text) {
        push("__link__".into(), &mut out);
        if let Ok(u) = url::Url::parse(link.as_str())
            && let Some(host) = u.host_str()
        {
            let host = host.trim_start_matches("www.").to_ascii_lowercase();
            push(format!("host:{host}"), &mut out);
        }
    }
    let mut caps_words = 0usize;
    let mut words = 0usize;
    for raw in text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '$' || c == '£' || c == '€')) {
        let raw = raw.trim_matches('\'');
        if raw.is_empty() {
            continue;
        }
        words += 1;
        if raw.chars().count() >= 3 && raw.chars().all(|c| !c.is_lowercase()) && raw.chars().any(char::is_uppercase) {
            caps_words += 1;
        }
        if raw.contains(['$', '£', '€']) {
            push("__money__".into(), &mut out);
        }
        let digits = raw.chars().filter(char::is_ascii_digit).count();
        if digits >= 5 {
            push("__longnum__".into(), &mut out);
            continue;
        }
        let word: String =
            raw.chars().filter(|c| c.is_alphanumeric() || *c == '\'').flat_map(char::to_lowercase).collect();
        let n = word.chars().count();
        if (2..=24).contains(&n) {
            push(word, &mut out);
        }
    }
    if words >= 4 && caps_words * 3 >= words {
        push("__shouting__".into(), &mut out);
    }
    out
}

/// How many ham and spam documents (or documents containing a token) were seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub ham: u64,
    pub spam: u64,
}

/// Token counts: a seed model, or one forum's learning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Model {
    pub docs: Counts,
    pub tokens: HashMap<String, Counts>,
}

static SEED: LazyLock<Model> =
    LazyLock::new(|| Model::from_tsv(include_str!("../data/spam-seed.tsv")).expect("the committed seed model parses"));

impl Model {
    /// The seed model shipped in the binary.
    pub fn seed() -> &'static Model {
        &SEED
    }

    pub fn learn(&mut self, tokens: &[String], spam: bool) {
        let bump = |c: &mut Counts| if spam { c.spam += 1 } else { c.ham += 1 };
        bump(&mut self.docs);
        for t in tokens {
            bump(self.tokens.entry(t.clone()).or_default());
        }
    }

    /// `#docs<TAB>ham<TAB>spam`, then `token<TAB>ham<TAB>spam` per line.
    pub fn from_tsv(s: &str) -> Result<Model, String> {
        let mut lines = s.lines();
        let parse = |line: &str| -> Result<(String, Counts), String> {
            let mut f = line.split('\t');
            let (Some(t), Some(h), Some(sp), None) = (f.next(), f.next(), f.next(), f.next()) else {
                return Err(format!("bad line: {line:?}"));
            };
            let n = |x: &str| x.parse::<u64>().map_err(|_| format!("bad count in {line:?}"));
            Ok((t.to_owned(), Counts { ham: n(h)?, spam: n(sp)? }))
        };
        let (head, docs) = parse(lines.next().ok_or("empty model")?)?;
        if head != "#docs" {
            return Err("the first line must be #docs".into());
        }
        let tokens = lines.filter(|l| !l.is_empty()).map(parse).collect::<Result<HashMap<_, _>, _>>()?;
        Ok(Model { docs, tokens })
    }

    /// The model as TSV, keeping the `keep` tokens seen most often (ties by name, so
    /// the file is the same for the same counts).
    pub fn to_tsv(&self, keep: usize) -> String {
        let mut all: Vec<(&String, &Counts)> = self.tokens.iter().collect();
        all.sort_by(|a, b| (b.1.ham + b.1.spam).cmp(&(a.1.ham + a.1.spam)).then(a.0.cmp(b.0)));
        all.truncate(keep);
        all.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = format!("#docs\t{}\t{}\n", self.docs.ham, self.docs.spam);
        for (t, c) in all {
            out.push_str(&format!("{t}\t{}\t{}\n", c.ham, c.spam));
        }
        out
    }
}

/// Tokens that decide a text: the most telling ones, as in Paul Graham's "A Plan for
/// Spam". Judging by a few strong clues rather than every word keeps long texts from
/// winning by length alone (the corpora mix short messages and long mails).
const CLUES: usize = 15;

/// Clues it takes for the classifier's word to count in full. With fewer, its
/// probability is drawn towards ½ in proportion: two or three common words ("Welcome,
/// Ann!", 0.905 before) are no evidence, and short friendly comments were held for them.
const FULL_EVIDENCE: usize = 6;

/// The probability that a text with `tokens` is spam, under the seed plus a forum's
/// learning. Each known token's spam probability uses class frequencies (so a class's
/// size does not bias it) with Robinson's smoothing towards ½ for rare tokens; the
/// `CLUES` furthest from ½ are combined by Bayes' rule.
pub fn spam_probability(seed: &Model, forum: Option<&Model>, tokens: &[String]) -> f64 {
    let add = |a: Counts, b: Option<Counts>| {
        let b = b.unwrap_or_default();
        Counts { ham: a.ham + b.ham, spam: a.spam + b.spam }
    };
    let docs = add(seed.docs, forum.map(|f| f.docs));
    if docs.ham == 0 || docs.spam == 0 {
        return 0.5;
    }
    let mut clues: Vec<f64> = tokens
        .iter()
        .filter_map(|t| {
            let s = seed.tokens.get(t).copied();
            let f = forum.and_then(|m| m.tokens.get(t).copied());
            if s.is_none() && f.is_none() {
                return None;
            }
            let c = add(s.unwrap_or_default(), f);
            let spam_freq = (c.spam as f64 / docs.spam as f64).min(1.0);
            let ham_freq = (c.ham as f64 / docs.ham as f64).min(1.0);
            let p = spam_freq / (spam_freq + ham_freq);
            let n = (c.ham + c.spam) as f64;
            // Robinson: a token seen n times moves from ½ towards p by n / (1 + n).
            let f = (0.5 + n * p) / (1.0 + n);
            Some(f.clamp(0.01, 0.99))
        })
        .filter(|f| (f - 0.5).abs() >= 0.1)
        .collect();
    clues.sort_by(|a, b| (b - 0.5).abs().total_cmp(&(a - 0.5).abs()));
    clues.truncate(CLUES);
    if clues.is_empty() {
        return 0.5;
    }
    let (ln_spam, ln_ham) = clues.iter().fold((0.0f64, 0.0f64), |(s, h), f| (s + f.ln(), h + (1.0 - f).ln()));
    let p = 1.0 / (1.0 + (ln_ham - ln_spam).exp());
    let weight = (clues.len() as f64 / FULL_EVIDENCE as f64).min(1.0);
    0.5 + (p - 0.5) * weight
}

/// What the filter decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SpamAction))]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Approve,
    Hold,
    Spam,
}

impl Action {
    /// The name stored with a verdict.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Hold => "hold",
            Action::Spam => "spam",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "approve" => Some(Action::Approve),
            "hold" => Some(Action::Hold),
            "spam" => Some(Action::Spam),
            _ => None,
        }
    }
}

/// What the store knows about a post's context.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals {
    /// Posts in the forum with the same text in the last day, this one excluded.
    pub duplicates: u32,
    /// The author's earlier posts in the forum (0: a first post).
    pub author_posts: u32,
    /// The author's posts in the forum in the last ten minutes, this one included.
    pub author_recent: u32,
    /// The author is a signed-in account or an SSO user (not a guest).
    pub signed_in: bool,
}

/// The verdict with its score and the reasons behind it, for moderators.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verdict {
    pub action: Action,
    /// The classifier's spam probability.
    pub score: f64,
    pub reasons: Vec<&'static str>,
}

/// Link shorteners, whose targets spammers hide behind.
const SHORTENERS: &[&str] =
    &["bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly", "cutt.ly", "rebrand.ly"];

/// Judges a text given the classifier's probability and the signals.
pub fn judge(text: &str, tokens: &[String], score: f64, s: Signals) -> Verdict {
    let mut reasons = Vec::new();
    let links = linkify::LinkFinder::new().kinds(&[linkify::LinkKind::Url]).links(text).count();
    let shortened = tokens.iter().any(|t| t.strip_prefix("host:").is_some_and(|h| SHORTENERS.contains(&h)));
    let hidden = text.chars().any(|c| matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}'));
    let mut spam = false;
    let mut hold = false;
    // Words alone are weak evidence in a comment (the seed learnt from SMS and mail,
    // where "mobile", "won" and "claim" mean spam): without a link, money, a long number
    // or shouting the classifier can hold a text for review only when it is all but sure,
    // and never mark it spam by itself.
    let marked = tokens.iter().any(|t| matches!(t.as_str(), "__link__" | "__money__" | "__longnum__" | "__shouting__"));
    let (spam_at, hold_at) = if marked { (0.995, 0.9) } else { (f64::INFINITY, 0.995) };
    if score >= spam_at {
        reasons.push("classifier");
        spam = true;
    } else if score >= hold_at {
        reasons.push("classifier");
        hold = true;
    }
    if s.duplicates >= 2 {
        reasons.push("duplicate_text");
        spam = true;
    } else if s.duplicates == 1 && links > 0 {
        reasons.push("duplicate_text");
        hold = true;
    }
    if links >= 4 {
        reasons.push("many_links");
        hold = true;
    }
    if shortened {
        reasons.push("link_shortener");
        hold = true;
    }
    if hidden {
        reasons.push("hidden_characters");
        hold = true;
    }
    // A first comment with a link is held when the words lean to spam, not merely
    // when nothing is known about them (an unknown language scores ½).
    if s.author_posts == 0 && !s.signed_in && links > 0 && score >= 0.7 {
        reasons.push("new_author_with_links");
        hold = true;
    }
    if s.author_recent > 10 {
        reasons.push("posting_speed");
        hold = true;
    }
    let action = if spam {
        Action::Spam
    } else if hold {
        Action::Hold
    } else {
        Action::Approve
    };
    Verdict { action, score, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_words_hosts_and_markers() {
        let t = tokens("WIN a FREE iPhone!!! Call 0800123456 or visit https://www.Bit.ly/x — only £5 it's GREAT");
        for want in ["win", "free", "iphone", "__longnum__", "__link__", "host:bit.ly", "__money__", "it's"] {
            assert!(t.iter().any(|x| x == want), "{want} missing from {t:?}");
        }
        assert_eq!(t.len(), t.iter().collect::<HashSet<_>>().len(), "distinct");
        assert!(tokens("BUY NOW AND SAVE big").contains(&"__shouting__".to_owned()));
        assert!(!tokens("a calm NASA remark about the weather").contains(&"__shouting__".to_owned()));
        assert!(tokens(&"word ".repeat(10_000)).len() == 1);
        let many: String = (0..1000).map(|i| format!("w{i} ")).collect();
        assert_eq!(tokens(&many).len(), MAX_TOKENS);
    }

    #[test]
    fn a_model_learns_and_round_trips() {
        let mut m = Model::default();
        for _ in 0..20 {
            m.learn(&tokens("cheap pills buy now discount pharmacy online"), true);
            m.learn(&tokens("great article, thanks for writing this so clearly"), false);
        }
        let spammy =
            spam_probability(&Model::default(), Some(&m), &tokens("buy cheap pills online, pharmacy discount"));
        let hammy =
            spam_probability(&Model::default(), Some(&m), &tokens("thanks, great writing, so clearly an article"));
        assert!(spammy > 0.99 && hammy < 0.01, "{spammy} {hammy}");
        // Two words are no evidence either way: drawn towards ½.
        let short = spam_probability(&Model::default(), Some(&m), &tokens("cheap pills"));
        assert!(short > 0.5 && short < 0.9, "{short}");
        assert_eq!(Model::from_tsv(&m.to_tsv(usize::MAX)).unwrap(), m);
        assert!(Model::from_tsv("nope").is_err());
        assert!(Model::from_tsv("#docs\t1\t2\nx\t1\n").is_err());
    }

    #[test]
    fn a_forum_can_teach_the_seed_its_own_spam() {
        let text = "Visit zorbling for the best zorbling deals, flarnix offers and grobbet bargains";
        let before = spam_probability(Model::seed(), None, &tokens(text));
        let mut forum = Model::default();
        for _ in 0..30 {
            forum.learn(&tokens("zorbling deals, flarnix offers, grobbet bargains at zorbling"), true);
        }
        let after = spam_probability(Model::seed(), Some(&forum), &tokens(text));
        assert!(after > before && after > 0.99, "{before} -> {after}");
    }

    #[test]
    fn the_seed_tells_obvious_spam_from_conversation() {
        let spam = "URGENT! You have WON a £1000 prize. Call 09061701461 now to claim, T&Cs apply";
        let ham = "I think the author is right about the second point, but the chart is misleading.";
        assert!(spam_probability(Model::seed(), None, &tokens(spam)) > 0.99);
        assert!(spam_probability(Model::seed(), None, &tokens(ham)) < 0.5);
    }

    #[test]
    fn signals_hold_or_reject_what_the_classifier_misses() {
        let plain = "Nice post";
        let t = tokens(plain);
        assert_eq!(judge(plain, &t, 0.1, Signals::default()).action, Action::Approve);
        let dup = judge(plain, &t, 0.1, Signals { duplicates: 2, ..Signals::default() });
        assert_eq!((dup.action, dup.reasons.as_slice()), (Action::Spam, ["duplicate_text"].as_slice()));
        let fast = judge(plain, &t, 0.1, Signals { author_recent: 11, author_posts: 10, ..Signals::default() });
        assert_eq!(
            judge(plain, &t, 0.1, Signals { author_recent: 10, author_posts: 9, ..Signals::default() }).action,
            Action::Approve,
            "a lively debate is not a flood"
        );
        assert_eq!(fast.action, Action::Hold);
        let short = "see https://bit.ly/abc";
        assert_eq!(
            judge(short, &tokens(short), 0.1, Signals { author_posts: 3, ..Signals::default() }).action,
            Action::Hold
        );
        let hidden = "nice\u{200B}post";
        assert_eq!(
            judge(hidden, &tokens(hidden), 0.1, Signals { author_posts: 3, ..Signals::default() }).action,
            Action::Hold
        );
        let linked = "my site https://example.com/shop";
        let new = Signals { author_posts: 0, ..Signals::default() };
        assert_eq!(judge(linked, &tokens(linked), 0.75, new).action, Action::Hold);
        assert_eq!(judge(linked, &tokens(linked), 0.75, Signals { signed_in: true, ..new }).action, Action::Approve);
        // Words the classifier knows nothing of (another language) are not a reason.
        assert_eq!(judge(linked, &tokens(linked), 0.5, new).action, Action::Approve);
        // Words alone: held only when the classifier is all but sure, never spam by
        // themselves; with a spam marker (money, a long number, a link, shouting) the
        // classifier's word counts in full.
        assert_eq!(judge(plain, &t, 0.999, Signals::default()).action, Action::Hold);
        assert_eq!(judge(plain, &t, 0.95, Signals::default()).action, Action::Approve);
        let prize = "You won £500, reply now";
        let pt = tokens(prize);
        let known = Signals { author_posts: 3, ..Signals::default() };
        assert_eq!(judge(prize, &pt, 0.999, known).action, Action::Spam);
        assert_eq!(judge(prize, &pt, 0.95, known).action, Action::Hold);
    }
}

/// Reading the public corpora and measuring a model on them (the seed's training
/// example and its quality test).
pub mod corpus {
    use super::{Model, spam_probability, tokens};

    pub struct Doc {
        pub source: &'static str,
        pub spam: bool,
        pub text: String,
    }

    impl Doc {
        /// One message in five, chosen by a hash of its text (FNV-1a), is held out.
        pub fn held_out(&self) -> bool {
            let mut h: u64 = 0xcbf29ce484222325;
            for b in self.text.as_bytes() {
                h = (h ^ *b as u64).wrapping_mul(0x100000001b3);
            }
            h.is_multiple_of(5)
        }
    }

    /// The files of `dir`, in name order (so a corpus reads the same on every machine).
    fn sorted_files(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, String> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        Ok(files)
    }

    /// The SMS collection (`sms.tsv`) and the SpamAssassin messages (bodies only: the
    /// headers are mail plumbing, not comment text).
    pub fn load(dir: &std::path::Path) -> Result<Vec<Doc>, String> {
        let sms = std::fs::read_to_string(dir.join("sms.tsv")).map_err(|e| format!("sms.tsv: {e}"))?;
        let mut docs: Vec<Doc> = sms
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(label, text)| Doc { source: "sms", spam: label == "spam", text: text.to_owned() })
            .collect();
        for (group, spam) in
            [("easy-ham-1", false), ("easy-ham-2", false), ("hard-ham-1", false), ("spam-1", true), ("spam-2", true)]
        {
            for f in sorted_files(&dir.join("spam-assassin").join(group))? {
                let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
                let raw = json["text"].as_str().unwrap_or("");
                let body = raw.split_once("\n\n").map_or(raw, |(_, b)| b);
                docs.push(Doc { source: "spam-assassin", spam, text: body.to_owned() });
            }
        }
        Ok(docs)
    }

    /// Ordinary comments, the kind readers write: hand-collected short, friendly,
    /// off-topic and non-English ones (`data/ordinary-comments.txt`), and the comment
    /// bodies of the real exports in `corpora` (`../shared/corpora`: Disqus, WordPress,
    /// Isso and Remark42 samples). All ham.
    pub fn ordinary_comments(corpora: &std::path::Path) -> Result<Vec<Doc>, String> {
        let mut docs: Vec<Doc> = include_str!("../data/ordinary-comments.txt")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| Doc { source: "ordinary", spam: false, text: l.to_owned() })
            .collect();
        let between = |text: &str, open: &str, close: &str| -> Vec<String> {
            text.split(open)
                .skip(1)
                .filter_map(|rest| rest.split_once(close).map(|(body, _)| body.to_owned()))
                .collect()
        };
        for (dir, open, close) in
            [("disqus-xml", "<message>", "</message>"), ("wxr", "<wp:comment_content>", "</wp:comment_content>")]
        {
            for f in sorted_files(&corpora.join(dir))? {
                let xml = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
                for body in between(&xml, open, close) {
                    let body = body.trim().trim_start_matches("<![CDATA[").trim_end_matches("]]>").trim();
                    // As text, the way an import renders it: tags out, links kept.
                    let body = strip_tags(body);
                    if !body.is_empty() {
                        docs.push(Doc { source: "exports", spam: false, text: body.to_owned() });
                    }
                }
            }
        }
        Ok(docs)
    }

    /// Markup out, a link's address kept beside its text.
    fn strip_tags(html: &str) -> String {
        let mut out = String::new();
        let mut rest = html;
        while let Some(at) = rest.find('<') {
            out.push_str(&rest[..at]);
            let Some(end) = rest[at..].find('>') else { break };
            let tag = &rest[at..at + end];
            if let Some(href) = tag.split("href=\"").nth(1).and_then(|h| h.split('"').next()) {
                out.push(' ');
                out.push_str(href);
                out.push(' ');
            } else {
                out.push(' ');
            }
            rest = &rest[at + end + 1..];
        }
        out.push_str(rest);
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[derive(Debug, Default, Clone, Copy)]
    pub struct Measure {
        pub tp: usize,
        pub fp: usize,
        pub fn_: usize,
        pub tn: usize,
    }

    impl Measure {
        pub fn precision(&self) -> f64 {
            self.tp as f64 / (self.tp + self.fp).max(1) as f64
        }
        pub fn recall(&self) -> f64 {
            self.tp as f64 / (self.tp + self.fn_).max(1) as f64
        }
    }

    /// Spam if the probability is at least `threshold`.
    pub fn measure(model: &Model, docs: &[&Doc], threshold: f64) -> Measure {
        let mut m = Measure::default();
        for d in docs {
            let said = spam_probability(model, None, &tokens(&d.text)) >= threshold;
            match (said, d.spam) {
                (true, true) => m.tp += 1,
                (true, false) => m.fp += 1,
                (false, true) => m.fn_ += 1,
                (false, false) => m.tn += 1,
            }
        }
        m
    }
}
