//! The store contract: behaviour every backend must show, written once against
//! `&dyn Store`. A backend's tests run all of it with one macro call:
//!
//! ```text
//! confab_store::store_contract_tests!(async || my_backend_fresh_store().await);
//! ```
//!
//! where the factory returns a [`Fresh`]: an empty store plus whatever keeps it alive
//! (a temporary directory, a scratch database).

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use confab_core::cursor::ReplyCursor;
use confab_core::id::Id;
use confab_core::input::{DisplayName, Email, Identifier, Message, Shortname, Title, Username, WebUrl};
use confab_core::jobs::{EventKind, JobState, Task};
use confab_core::model::{
    Account, AuthorKind, Forum, ForumPolicy, GuestAuthor, LinkPurpose, NewAccount, NewForum, NewPost, Post, PostAuthor,
    PostState, Role, Sort, ThreadKey, ThreadSpec, VoteValue,
};
use confab_core::rank;
use confab_core::render::render_markdown;
use confab_core::secret::{Token, TokenHash};

use crate::{ImportPost, JobOutcome, PageLimits, PostSearch, Store, StoreError};

mod accounts;
mod forums;
mod live;
mod moderation;
mod notifications;
mod outbox;
mod paging;
mod posts;
mod settings;
mod webhooks;

pub use accounts::*;
pub use forums::*;
pub use live::*;
pub use moderation::*;
pub use notifications::*;
pub use outbox::*;
pub use paging::*;
pub use posts::*;
pub use settings::*;
pub use webhooks::*;

/// A fresh, empty store and the guard that keeps its storage alive.
pub struct Fresh {
    pub store: Arc<dyn Store>,
    pub guard: Box<dyn Any + Send>,
}

pub const NOW: i64 = 1_800_000_000_000;

/// A forum with no owner, no origins and the default policy.
pub fn new_forum(shortname: &str) -> NewForum {
    NewForum {
        owner: None,
        shortname: Shortname::parse(shortname).unwrap(),
        name: DisplayName::parse("name", shortname).unwrap(),
        origins: vec![],
        policy: ForumPolicy::default(),
    }
}

pub async fn forum(store: &dyn Store, shortname: &str) -> Forum {
    store.forum_create(new_forum(shortname), NOW).await.unwrap()
}

pub fn spec(identifier: &str) -> ThreadSpec {
    ThreadSpec {
        identifier: Identifier::parse(identifier).unwrap(),
        url: Some(WebUrl::parse("url", &format!("https://example.com/{}", identifier.len())).unwrap()),
        title: Some(Title::parse("A page").unwrap()),
    }
}

pub fn new_post(identifier: &str, parent: Option<Id>, text: &str, state: PostState) -> NewPost {
    NewPost {
        thread: spec(identifier),
        parent_id: parent,
        author: PostAuthor::Guest(GuestAuthor {
            name: DisplayName::parse("name", "Ann").unwrap(),
            email: None,
            url: None,
        }),
        message: Message::parse(text).unwrap(),
        html: render_markdown(text),
        state,
        notify: false,
        screen: None,
        held: None,
        hold_first_post: false,
        network: None,
        subscribe: None,
    }
}

fn token() -> TokenHash {
    Token::generate().hash()
}

pub async fn post(store: &dyn Store, forum: &Forum, identifier: &str, parent: Option<Id>, at: i64) -> Post {
    store
        .post_create(forum, new_post(identifier, parent, "hello", PostState::Approved), token(), at)
        .await
        .unwrap()
        .post
}

pub async fn account(store: &dyn Store, username: &str, email: &str) -> Account {
    store
        .account_create(
            NewAccount {
                username: Username::parse(username).unwrap(),
                email: Email::parse(email).unwrap(),
                password_hash: format!("hash-of-{username}"),
            },
            NOW,
        )
        .await
        .unwrap()
}

/// Awaits each read in turn.
async fn get_each<T>(futs: impl Iterator<Item = impl std::future::Future<Output = Result<T, StoreError>>>) -> Vec<T> {
    let mut out = Vec::new();
    for f in futs {
        out.push(f.await.unwrap());
    }
    out
}

fn event_of(job: &crate::Job) -> (EventKind, Option<Id>) {
    match Task::from_json(&job.task).unwrap() {
        Task::Event { event, post, .. } => (event, post),
        other => panic!("not an event: {other:?}"),
    }
}

/// Claims everything due at `now` and returns the events, oldest first.
async fn drain_events(store: &dyn Store, now: i64) -> Vec<(EventKind, Option<Id>)> {
    let mut jobs = store.jobs_claim(now, now + 60_000, 100).await.unwrap();
    jobs.sort_by_key(|j| j.id);
    for j in &jobs {
        assert_eq!(j.state, JobState::Running);
        assert!(store.job_settle(j.id, j.attempts, JobOutcome::Done { follow_ups: vec![] }, now).await.unwrap());
    }
    jobs.iter().map(event_of).collect()
}

/// Generates one test per contract item for a backend. `$fresh` is an async closure
/// returning a [`Fresh`] store.
#[macro_export]
macro_rules! store_contract_tests {
    ($fresh:expr) => {
        mod store_contract {
            use super::*;
            use $crate::contract as c;

            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let fresh: $crate::contract::Fresh = ($fresh)().await;
                        c::$name(&*fresh.store).await;
                    }
                };
            }
            case!(forums_are_unique_by_shortname);
            case!(deleting_a_forum_takes_all_its_data);
            case!(a_post_subscribes_its_author_in_its_own_transaction);
            case!(threads_are_found_by_identifier_and_url);
            case!(first_post_creates_the_thread_and_closed_threads_refuse_posts);
            case!(replies_nest_and_check_their_parent);
            case!(deleting_keeps_the_tree_whole);
            case!(replies_nest_to_the_maximum_depth);
            case!(edits_change_the_text_and_keep_the_rest);
            case!(an_edit_the_rules_hold_is_pending_at_once);
            case!(pending_posts_are_not_listed_or_counted);
            case!(votes_move_counters_by_difference);
            case!(counts_by_identifier_and_url);
            case!(guests_with_the_same_details_share_an_author);
            case!(secrets_and_admin_token_are_set_once);
            case!(id_nodes_are_leased_to_one_holder_at_a_time);
            case!(live_values_change_with_an_audit_trail);
            case!(concurrent_live_changes_are_serialised);
            case!(threads_are_corrected_in_place);
            case!(sorts_order_roots);
            case!(import_writes_a_tree_in_one_go);
            case!(accounts_are_unique_by_username_and_email);
            case!(links_are_single_use_expiring_and_purpose_bound);
            case!(sessions_expire_are_revocable_and_die_on_reset);
            case!(sso_authors_are_namespaced_per_forum);
            case!(forum_keys_exist_from_creation_and_rotate);
            case!(roles_are_per_forum_and_a_forum_keeps_an_owner);
            case!(forum_settings_change);
            case!(an_account_exports_its_data_and_is_deleted_per_forum_policy);
            case!(writes_queue_their_events_in_the_same_transaction);
            case!(jobs_are_claimed_once_retried_and_dead_lettered);
            case!(webhooks_belong_to_their_forum);
            case!(notifications_follow_subscriptions_mutes_and_the_throttle);
            case!(spam_state_changes_keep_counts_and_learning_is_per_forum);
            case!(bans_match_their_forum_and_lapse);
            case!(flags_marks_shadow_posts_and_the_search);
            case!(thread_versions_move_with_what_pages_show);

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_claims_never_share_a_job() {
                let fresh: $crate::contract::Fresh = ($fresh)().await;
                c::concurrent_claims_never_share_a_job(fresh.store.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_posts_are_all_written() {
                let fresh: $crate::contract::Fresh = ($fresh)().await;
                c::concurrent_posts_are_all_written(fresh.store.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_votes_are_all_counted() {
                let fresh: $crate::contract::Fresh = ($fresh)().await;
                c::concurrent_votes_are_all_counted(fresh.store.clone()).await;
            }

            #[test]
            fn paging_yields_every_listed_post_once() {
                let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
                let config =
                    proptest::test_runner::Config { cases: 64, failure_persistence: None, ..Default::default() };
                let mut runner = proptest::test_runner::TestRunner::new(config);
                runner
                    .run(&c::tree_strategy(), |(posts, paging)| {
                        rt.block_on(async {
                            let fresh: $crate::contract::Fresh = ($fresh)().await;
                            c::paging_yields_every_listed_post_once(&*fresh.store, posts, paging).await;
                        });
                        Ok(())
                    })
                    .unwrap();
            }
        }
    };
}
