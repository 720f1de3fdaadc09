//! A forum's word rules: restricted words, phrases and names with `*` wildcards, and
//! the "has a link" test for pre-moderating links.
//!
//! Patterns match whole words, case-insensitively: `spam*` matches "Spammer" but not
//! "antispam"; `*casino*` matches "onlinecasinos"; `buy * now` matches "buy it now".
//! Matching is written here rather than compiled to a regex: a pattern is a few word
//! globs compared with the text's words, which needs no compile step per forum and is
//! linear in the text for each pattern (a `*` glob over one word is bounded by the
//! word's length), so a hostile list or message cannot make it slow.

use crate::input::InputError;

/// Most patterns in one list.
pub const MAX_PATTERNS: usize = 500;
/// Longest pattern, in characters.
pub const MAX_PATTERN_CHARS: usize = 100;

/// Checks and normalises a list of patterns for a forum's policy (`field` names it in
/// errors): trimmed, lowercased, no empty or all-wildcard entries, no duplicates.
pub fn normalise(field: &'static str, list: &[String]) -> Result<Vec<String>, InputError> {
    if list.len() > MAX_PATTERNS {
        return Err(InputError::new(field, "too_many", format!("at most {MAX_PATTERNS} entries")));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for raw in list {
        let p = raw.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        if p.chars().count() > MAX_PATTERN_CHARS {
            return Err(InputError::new(
                field,
                "too_long",
                format!("each entry at most {MAX_PATTERN_CHARS} characters"),
            ));
        }
        if words(&p.replace('*', "a")).is_empty() || !p.chars().any(|c| c.is_alphanumeric()) {
            return Err(InputError::new(
                field,
                "invalid_pattern",
                format!("{raw:?} has no letters: give a word, with * for any letters"),
            ));
        }
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// The words of a text: runs of letters and digits, lowercased.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '*').filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// Whether one word matches one glob (`*`: any run of characters, possibly none).
/// The classic greedy algorithm with one backtrack point: O(len(word) × len(glob)) at
/// worst, and both are short.
fn glob(pattern: &[char], word: &[char]) -> bool {
    let (mut p, mut w) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while w < word.len() {
        if p < pattern.len() && pattern[p] != '*' && pattern[p] == word[w] {
            p += 1;
            w += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, w));
            p += 1;
        } else if let Some((sp, sw)) = star {
            p = sp + 1;
            w = sw + 1;
            star = Some((sp, sw + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// The first pattern of `list` found in `text`, if any.
pub fn find<'a>(list: &'a [String], text: &str) -> Option<&'a str> {
    if list.is_empty() {
        return None;
    }
    let text: Vec<Vec<char>> = words(&text.replace('*', " ")).iter().map(|w| w.chars().collect()).collect();
    list.iter().map(String::as_str).find(|pattern| {
        let parts: Vec<Vec<char>> = words(pattern).iter().map(|w| w.chars().collect()).collect();
        !parts.is_empty()
            && text.len() >= parts.len()
            && text.windows(parts.len()).any(|win| parts.iter().zip(win).all(|(p, w)| glob(p, w)))
    })
}

/// Whether a message carries a link: a URL with a scheme, or a bare domain such as
/// `example.com/page` (what spammers write to dodge scheme checks).
pub fn has_link(text: &str) -> bool {
    let mut finder = linkify::LinkFinder::new();
    finder.kinds(&[linkify::LinkKind::Url]).url_must_have_scheme(false);
    finder.links(text).next().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(items: &[&str]) -> Vec<String> {
        normalise("restricted_words", &items.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn whole_words_and_wildcards() {
        let l = list(&["spam*", "*casino*", "buy * now", "Darn"]);
        assert_eq!(find(&l, "What a SPAMMER."), Some("spam*"));
        assert_eq!(find(&l, "antispam measures"), None);
        assert_eq!(find(&l, "visit onlinecasinos today"), Some("*casino*"));
        assert_eq!(find(&l, "Buy it  now!"), Some("buy * now"));
        assert_eq!(find(&l, "buy now"), None, "the * stands for one word");
        assert_eq!(find(&l, "darn it"), Some("darn"));
        assert_eq!(find(&l, "darned"), None);
        assert_eq!(find(&l, "a clean sentence"), None);
        assert_eq!(find(&[], "anything"), None);
    }

    #[test]
    fn unicode_words_match_case_insensitively() {
        let l = list(&["straße", "Ölpreis*"]);
        assert_eq!(find(&l, "Die STRASSE ist"), None);
        assert_eq!(find(&l, "Die Straße ist"), Some("straße"));
        assert_eq!(find(&l, "ölpreise steigen"), Some("ölpreis*"));
    }

    #[test]
    fn a_star_in_the_text_is_not_a_wildcard() {
        let l = list(&["casino"]);
        assert_eq!(find(&l, "cas*no"), None);
    }

    #[test]
    fn lists_are_checked() {
        assert_eq!(list(&["  Foo   Bar ", "foo bar"]), vec!["foo bar".to_string()]);
        for bad in ["", "*", " ** ", "!!"] {
            let e = normalise("restricted_words", &[bad.to_string()]).unwrap_err();
            assert_eq!(e.code, "invalid_pattern", "{bad:?}");
        }
        let long = "a".repeat(MAX_PATTERN_CHARS + 1);
        assert_eq!(normalise("restricted_words", &[long]).unwrap_err().code, "too_long");
        let many = vec!["x".to_string(); MAX_PATTERNS + 1];
        assert_eq!(normalise("restricted_words", &many).unwrap_err().code, "too_many");
    }

    #[test]
    fn links_are_found_with_or_without_a_scheme() {
        assert!(has_link("see https://example.com/x"));
        assert!(has_link("go to cheap-pills.example/now"));
        assert!(has_link("[here](http://a.example)"));
        assert!(!has_link("no links, just words. And a sentence."));
        assert!(!has_link("mail me at someone@example.com"));
    }

    /// A reference matcher: the glob as a regular language, by brute force over splits.
    fn reference(p: &[char], w: &[char]) -> bool {
        match p.split_first() {
            None => w.is_empty(),
            Some(('*', rest)) => (0..=w.len()).any(|i| reference(rest, &w[i..])),
            Some((c, rest)) => w.first() == Some(c) && reference(rest, &w[1..]),
        }
    }

    proptest! {
        #[test]
        fn glob_agrees_with_the_reference(p in "[ab*]{0,6}", w in "[ab]{0,8}") {
            let (p, w): (Vec<char>, Vec<char>) = (p.chars().collect(), w.chars().collect());
            prop_assert_eq!(glob(&p, &w), reference(&p, &w));
        }

        #[test]
        fn a_word_always_finds_itself(w in "[a-zà-ö]{1,12}", before in "[a-z ]{0,20}", after in "[a-z ]{0,20}") {
            let l = vec![w.clone()];
            let text = format!("{before} {w} {after}");
            prop_assert!(find(&l, &text).is_some());
        }
    }
}
