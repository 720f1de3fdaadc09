//! Whether a new post shows at once, waits for a moderator, is refused, or is screened
//! first: the one decision, pure, made from the forum's policy and rules, the poster's
//! trust and standing, and the text. [`admit`] decides before the write; the one fact
//! only the write knows (whether the author already has an approved post here, for the
//! "first posts wait" rule) is applied by [`NewPost::settled`] inside the store's
//! transaction, the same way on every backend.

use crate::input::InputError;
use crate::jobs::Screen;
use crate::model::{ForumPolicy, NewPost, PostState, RestrictedAction, SpamFilter};
use crate::rules;

/// Who is posting, as the rules see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poster {
    Guest,
    Account,
    Sso,
}

/// What [`admit`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub policy: &'a ForumPolicy,
    pub poster: Poster,
    /// Trusted members, moderators, owners and administrators: the forum's rules (words,
    /// names, pre-moderation) do not apply to them.
    pub trusted: bool,
    /// The shown name (a guest's, the account's username, the SSO user's name).
    pub name: Option<&'a str>,
    pub message: &'a str,
    /// The poster is shadow-banned here: the post is written for their eyes only.
    pub shadow: bool,
}

/// How the post is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The state it is written in.
    pub state: PostState,
    /// Why a rule holds it (for the moderation log).
    pub held: Option<String>,
    /// The state the spam filter gives it if judged clean; `None`: not screened (a
    /// shadow post: the filter must not publish it, nor mail anyone).
    pub screen_clean: Option<PostState>,
    /// The "first posts wait" rule applies: the write holds it unless the author has an
    /// approved post here already.
    pub hold_first_post: bool,
}

/// A restricted word or name: (field, error code, what the error calls it, what the log calls it).
type Restricted = (&'static str, &'static str, &'static str, &'static str);
const WORD: Restricted = ("message", "restricted_word", "this word", "restricted word");
const NAME: Restricted = ("author.name", "restricted_name", "this name", "restricted name");

/// What the rules say, before bans and the filter.
enum Rule {
    Pass,
    Hold(String),
    FirstPost,
}

/// The decision. `Err` when a restricted word or name refuses the post (the error
/// names the field and the pattern).
pub fn admit(r: &Request<'_>) -> Result<Admission, InputError> {
    let rule = if r.trusted { Rule::Pass } else { rule(r)? };
    let hold_first_post = matches!(rule, Rule::FirstPost) && !r.shadow;
    let (clean, held) = match rule {
        Rule::Hold(why) => (PostState::Pending, Some(why)),
        Rule::Pass | Rule::FirstPost => (PostState::Approved, None),
    };
    let state = match (r.shadow, r.policy.spam_filter) {
        (true, _) => PostState::Shadow,
        (false, SpamFilter::Before) => PostState::Pending,
        (false, SpamFilter::After | SpamFilter::Off) => clean,
    };
    Ok(Admission { state, held, screen_clean: (!r.shadow).then_some(clean), hold_first_post })
}

fn rule(r: &Request<'_>) -> Result<Rule, InputError> {
    let p = r.policy;
    if let Some(pattern) = r.name.and_then(|n| rules::find(&p.restricted_names, n)) {
        return restricted(p, NAME, pattern);
    }
    if let Some(pattern) = rules::find(&p.restricted_words, r.message) {
        return restricted(p, WORD, pattern);
    }
    Ok(if p.premoderate {
        Rule::Hold("the forum pre-moderates every post".into())
    } else if p.premoderate_guests && r.poster == Poster::Guest {
        Rule::Hold("the forum pre-moderates guests".into())
    } else if p.premoderate_links && rules::has_link(r.message) {
        Rule::Hold("the post has a link".into())
    } else if p.premoderate_first_posts {
        Rule::FirstPost
    } else {
        Rule::Pass
    })
}

/// What the forum does with a restricted word or name: refuse the post, or hold it.
fn restricted(p: &ForumPolicy, (field, code, what, label): Restricted, pattern: &str) -> Result<Rule, InputError> {
    match p.restricted_action {
        RestrictedAction::Reject => {
            Err(InputError::new(field, code, format!("this forum does not accept {what} ({pattern:?})")))
        }
        RestrictedAction::Hold => Ok(Rule::Hold(format!("{label}: {pattern}"))),
    }
}

/// An edit by an untrusted author: refused, or held for review (the reason), when the
/// new text uses a restricted word; `Ok(None)` when the word rules let it stand.
pub fn admit_edit(policy: &ForumPolicy, message: &str) -> Result<Option<String>, InputError> {
    match rules::find(&policy.restricted_words, message) {
        None => Ok(None),
        Some(pattern) => match restricted(policy, WORD, pattern)? {
            Rule::Hold(why) => Ok(Some(why)),
            Rule::Pass | Rule::FirstPost => Ok(None),
        },
    }
}

/// A post's state, hold reason and screening order once the write knows whether its
/// author has an approved post in the forum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub state: PostState,
    pub held: Option<String>,
    pub screen: Option<Screen>,
}

impl NewPost {
    /// Applies the "first posts wait" rule with the fact only the write knows: an author
    /// none of whose posts here is approved yet waits, and the filter, judging the post
    /// clean later, must leave it for the moderator too. (In a forum that filters first
    /// the post is pending already; it stays so.)
    pub fn settled(&self, has_approved: bool) -> Settled {
        let mut s = Settled { state: self.state, held: self.held.clone(), screen: self.screen.clone() };
        if self.hold_first_post && !has_approved {
            s.state = PostState::Pending;
            s.held = Some("first post in this forum".into());
            if let Some(order) = s.screen.as_mut() {
                order.clean = PostState::Pending;
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn policy() -> impl Strategy<Value = ForumPolicy> {
        (
            any::<[bool; 5]>(),
            prop_oneof![Just(SpamFilter::After), Just(SpamFilter::Before), Just(SpamFilter::Off)],
            prop_oneof![Just(RestrictedAction::Hold), Just(RestrictedAction::Reject)],
        )
            .prop_map(|(b, spam_filter, restricted_action)| ForumPolicy {
                premoderate: b[0],
                premoderate_guests: b[1],
                premoderate_links: b[2],
                premoderate_first_posts: b[3],
                restricted_words: if b[4] { vec!["casino*".into()] } else { vec![] },
                restricted_names: vec!["admin".into()],
                spam_filter,
                restricted_action,
                ..ForumPolicy::default()
            })
    }

    fn a_post() -> NewPost {
        use crate::input::{DisplayName, Identifier, Message};
        use crate::model::{GuestAuthor, PostAuthor, ThreadSpec};
        NewPost {
            thread: ThreadSpec { identifier: Identifier::parse("t").unwrap(), url: None, title: None },
            parent_id: None,
            author: PostAuthor::Guest(GuestAuthor {
                name: DisplayName::parse("name", "Ann").unwrap(),
                email: None,
                url: None,
            }),
            message: Message::parse("hello").unwrap(),
            html: "<p>hello</p>".into(),
            state: PostState::Approved,
            notify: false,
            screen: None,
            held: None,
            hold_first_post: false,
            network: None,
            subscribe: None,
        }
    }

    fn poster() -> impl Strategy<Value = Poster> {
        prop_oneof![Just(Poster::Guest), Just(Poster::Account), Just(Poster::Sso)]
    }

    fn message() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just("a plain remark"), Just("see https://example.com"), Just("Casinos online"), Just("hi")]
    }

    fn name() -> impl Strategy<Value = Option<&'static str>> {
        prop_oneof![Just(None), Just(Some("Ann")), Just(Some("Admin"))]
    }

    proptest! {
        #[test]
        fn every_request_gets_one_coherent_answer(
            p in policy(), who in poster(), trusted in any::<bool>(), shadow in any::<bool>(),
            name in name(), msg in message(),
        ) {
            let r = Request { policy: &p, poster: who, trusted, name, message: msg, shadow };
            let restricted = name == Some("Admin") || msg.starts_with("Casino");
            match admit(&r) {
                Err(e) => {
                    // Refused only by a restricted word or name, under "reject", and never a trusted poster.
                    prop_assert!(!trusted && restricted && p.restricted_action == RestrictedAction::Reject, "{e:?}");
                }
                Ok(a) => {
                    // A shadow post is written shadow, never screened, never held by a rule for the first-post write.
                    prop_assert_eq!(shadow, a.state == PostState::Shadow);
                    prop_assert_eq!(shadow, a.screen_clean.is_none());
                    prop_assert!(!(shadow && a.hold_first_post));
                    // Filtering first: nothing shows before the filter has judged it.
                    if !shadow && p.spam_filter == SpamFilter::Before {
                        prop_assert_eq!(a.state, PostState::Pending);
                    }
                    // Trusted posters pass every rule.
                    if trusted {
                        prop_assert!(a.held.is_none() && !a.hold_first_post);
                        prop_assert_eq!(a.screen_clean, (!shadow).then_some(PostState::Approved));
                    }
                    // A rule's hold: a reason, pending whatever the filter says later.
                    if a.held.is_some() {
                        prop_assert_eq!(a.screen_clean.unwrap_or(PostState::Pending), PostState::Pending);
                        prop_assert!(a.state != PostState::Approved);
                    }
                    // Pre-moderating everything holds every untrusted post.
                    if p.premoderate && !trusted {
                        prop_assert!(a.state != PostState::Approved);
                        prop_assert!(a.screen_clean != Some(PostState::Approved));
                    }
                    // An approved post at creation passed every rule and a filter that runs after.
                    if a.state == PostState::Approved {
                        prop_assert!(a.held.is_none() && p.spam_filter != SpamFilter::Before);
                    }
                }
            }
        }

        #[test]
        fn the_first_post_rule_only_ever_holds(
            state in prop_oneof![Just(PostState::Approved), Just(PostState::Pending), Just(PostState::Shadow)],
            clean in prop_oneof![Just(PostState::Approved), Just(PostState::Pending)],
            hold in any::<bool>(), has_approved in any::<bool>(),
        ) {
            let mut new = a_post();
            new.state = state;
            new.hold_first_post = hold;
            new.screen = Some(Screen { clean, queued: None, client: None });
            let s = new.settled(has_approved);
            if hold && !has_approved {
                prop_assert_eq!(s.state, PostState::Pending);
                prop_assert_eq!(s.screen.unwrap().clean, PostState::Pending);
                prop_assert!(s.held.is_some());
            } else {
                prop_assert_eq!((s.state, s.held, s.screen.unwrap().clean), (state, None, clean));
            }
        }
    }

    #[test]
    fn a_restricted_word_holds_or_refuses_with_its_pattern() {
        let mut p = ForumPolicy { restricted_words: vec!["casino*".into()], ..ForumPolicy::default() };
        let r = |p: &ForumPolicy| {
            admit(&Request {
                policy: p,
                poster: Poster::Guest,
                trusted: false,
                name: Some("Ann"),
                message: "online casinos here",
                shadow: false,
            })
        };
        let held = r(&p).unwrap();
        assert_eq!((held.state, held.held.as_deref()), (PostState::Pending, Some("restricted word: casino*")));
        p.restricted_action = RestrictedAction::Reject;
        let e = r(&p).unwrap_err();
        assert_eq!((e.field, e.code), ("message", "restricted_word"));
        assert!(e.message.contains("casino*"));
        // An edit meets the same words.
        assert_eq!(admit_edit(&p, "online casinos here").unwrap_err().code, "restricted_word");
        assert_eq!(admit_edit(&p, "a fine edit").unwrap(), None);
        p.restricted_action = RestrictedAction::Hold;
        assert_eq!(admit_edit(&p, "casinos").unwrap().as_deref(), Some("restricted word: casino*"));
    }
}
