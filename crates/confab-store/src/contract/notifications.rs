//! The store contract: Subscriptions, mutes and the mail throttle.

use super::*;

pub async fn notifications_follow_subscriptions_mutes_and_the_throttle(store: &dyn Store) {
    use crate::NotifyGate;
    let f = forum(store, "blog").await;
    let e = |s: &str| Email::parse(s).unwrap();
    let first = post(store, &f, "page", None, NOW).await;
    let thread = store.thread_get(first.thread_id).await.unwrap();
    let other = store.thread_get(post(store, &f, "other", None, NOW).await.thread_id).await.unwrap();

    assert!(store.subscription_add(&thread, &e("ann@example.com"), NOW).await.unwrap());
    assert!(!store.subscription_add(&thread, &e("ann@example.com"), NOW).await.unwrap(), "once");
    assert!(store.subscription_add(&thread, &e("bob@example.com"), NOW).await.unwrap());
    store.subscription_add(&other, &e("bob@example.com"), NOW).await.unwrap();
    assert_eq!(store.subscribers(thread.id).await.unwrap(), vec![e("ann@example.com"), e("bob@example.com")]);
    assert!(store.subscription_exists(thread.id, &e("ann@example.com")).await.unwrap());
    assert!(store.subscription_remove(thread.id, &e("ann@example.com")).await.unwrap());
    assert!(!store.subscription_remove(thread.id, &e("ann@example.com")).await.unwrap());

    // Unsubscribing by link: from one thread, then from everything.
    store.mute(&e("bob@example.com"), Some(thread.id), NOW).await.unwrap();
    assert!(store.is_muted(&e("bob@example.com"), thread.id).await.unwrap());
    assert!(!store.is_muted(&e("bob@example.com"), other.id).await.unwrap());
    assert!(store.subscribers(thread.id).await.unwrap().is_empty());
    assert_eq!(store.subscribers(other.id).await.unwrap().len(), 1);
    store.mute(&e("bob@example.com"), None, NOW).await.unwrap();
    assert!(store.is_muted(&e("bob@example.com"), other.id).await.unwrap());
    assert!(store.subscribers(other.id).await.unwrap().is_empty());
    // Subscribing again lifts the thread's mute.
    store.subscription_add(&thread, &e("carl@example.com"), NOW).await.unwrap();
    store.mute(&e("carl@example.com"), Some(thread.id), NOW).await.unwrap();
    store.subscription_add(&thread, &e("carl@example.com"), NOW).await.unwrap();
    assert!(!store.is_muted(&e("carl@example.com"), thread.id).await.unwrap());

    // Who hears about replies: a guest who asked, a verified account by default.
    let mut asks = new_post("page", None, "tell me", PostState::Approved);
    asks.author = PostAuthor::Guest(GuestAuthor {
        name: DisplayName::parse("name", "Dee").unwrap(),
        email: Some(e("Dee@Example.com")),
        url: None,
    });
    asks.notify = true;
    let asks = store.post_create(&f, asks, token(), NOW).await.unwrap().post;
    assert_eq!(store.reply_recipient(asks.id).await.unwrap(), Some(e("dee@example.com")));
    assert_eq!(store.reply_recipient(first.id).await.unwrap(), None, "did not ask");
    let acc = account(store, "eve", "eve@example.com").await;
    let mut by_account = new_post("page", None, "mine", PostState::Approved);
    by_account.author = PostAuthor::Account(acc.id);
    by_account.notify = true;
    let by_account = store.post_create(&f, by_account, token(), NOW).await.unwrap().post;
    assert_eq!(store.reply_recipient(by_account.id).await.unwrap(), None, "not before the address is verified");
    store.role_set(f.id, acc.id, Some(Role::Moderator), NOW).await.unwrap();
    assert!(store.moderator_emails(f.id).await.unwrap().is_empty());
    let link = token();
    store.link_create(link, acc.id, LinkPurpose::Verify, &acc.email, NOW, NOW + 1000).await.unwrap();
    store.account_verify_email(link, NOW).await.unwrap();
    assert_eq!(store.reply_recipient(by_account.id).await.unwrap(), Some(e("eve@example.com")));
    // Moderators and owners with verified addresses hear about held posts.
    assert_eq!(store.moderator_emails(f.id).await.unwrap(), vec![e("eve@example.com")]);

    // The throttle: one mail, then a digest opened once, then taken whole.
    let ann = e("ann@example.com");
    let ids: Vec<Id> = (1..=7).map(|i| Id::from_raw(1000 + i).unwrap()).collect();
    let min = 60_000;
    assert_eq!(store.notify_gate(&ann, thread.id, ids[0], NOW, 15 * min).await.unwrap(), NotifyGate::Send);
    assert_eq!(
        store.notify_gate(&ann, thread.id, ids[1], NOW + min, 15 * min).await.unwrap(),
        NotifyGate::Digest { due: NOW + 15 * min, schedule: true }
    );
    assert_eq!(
        store.notify_gate(&ann, thread.id, ids[2], NOW + 2 * min, 15 * min).await.unwrap(),
        NotifyGate::Digest { due: NOW + 15 * min, schedule: false }
    );
    assert_eq!(
        store.notify_gate(&ann, other.id, ids[3], NOW + 2 * min, 15 * min).await.unwrap(),
        NotifyGate::Send,
        "per thread"
    );
    // A retried notify job (its worker died after the gate) is the same mail again,
    // never a second one by way of the digest.
    assert_eq!(
        store.notify_gate(&ann, thread.id, ids[0], NOW + 3 * min, 15 * min).await.unwrap(),
        NotifyGate::SendAgain
    );
    // Waiting posts stay until their mail has gone: a failed send finds them again.
    assert_eq!(store.digest_waiting(&ann, thread.id).await.unwrap(), vec![ids[1], ids[2]]);
    assert_eq!(store.digest_waiting(&ann, thread.id).await.unwrap(), vec![ids[1], ids[2]], "still there");
    assert!(!store.digest_sent(&ann, thread.id, &ids[1..3], NOW + 15 * min, NOW + 30 * min).await.unwrap());
    // A retried notify job whose post went to that digest finds it handled: it never
    // joins a second digest.
    assert_eq!(
        store.notify_gate(&ann, thread.id, ids[1], NOW + 15 * min + 1, 15 * min).await.unwrap(),
        NotifyGate::Digested
    );
    assert!(store.digest_waiting(&ann, thread.id).await.unwrap().is_empty(), "taken once sent");
    // The digest started a new quiet interval.
    assert!(matches!(
        store.notify_gate(&ann, thread.id, ids[3], NOW + 16 * min, 15 * min).await.unwrap(),
        NotifyGate::Digest { schedule: true, .. }
    ));
    // A post that joins while the digest is being sent stays for the next one, which
    // the sender is told to queue; the gate sees that digest open.
    let sending = store.digest_waiting(&ann, thread.id).await.unwrap();
    assert_eq!(sending, vec![ids[3]]);
    assert!(matches!(
        store.notify_gate(&ann, thread.id, ids[5], NOW + 30 * min, 15 * min).await.unwrap(),
        NotifyGate::Digest { schedule: false, .. }
    ));
    assert!(store.digest_sent(&ann, thread.id, &sending, NOW + 31 * min, NOW + 46 * min).await.unwrap());
    assert_eq!(
        store.notify_gate(&ann, thread.id, ids[4], NOW + 32 * min, 15 * min).await.unwrap(),
        NotifyGate::Digest { due: NOW + 46 * min, schedule: false }
    );
    assert_eq!(store.digest_waiting(&ann, thread.id).await.unwrap(), vec![ids[4], ids[5]]);
    assert!(!store.digest_sent(&ann, thread.id, &[ids[4], ids[5]], NOW + 31 * min, NOW + 46 * min).await.unwrap());
    assert_eq!(
        store.notify_gate(&ann, thread.id, ids[0], NOW + 46 * min, 15 * min).await.unwrap(),
        NotifyGate::SendAgain
    );

    // A mail that failed is not counted: its retry may send at once...
    assert!(store.notify_release(&ann, thread.id, ids[0], NOW + 46 * min).await.unwrap());
    assert_eq!(store.notify_gate(&ann, thread.id, ids[0], NOW + 47 * min, 15 * min).await.unwrap(), NotifyGate::Send);
    // ...unless a digest opened meanwhile, which then carries the post.
    assert!(matches!(
        store.notify_gate(&ann, thread.id, ids[6], NOW + 48 * min, 15 * min).await.unwrap(),
        NotifyGate::Digest { schedule: true, .. }
    ));
    assert!(!store.notify_release(&ann, thread.id, ids[0], NOW + 47 * min).await.unwrap());
    assert_eq!(store.digest_waiting(&ann, thread.id).await.unwrap(), vec![ids[0], ids[6]]);
}

/// A post that asks to follow its thread subscribes its author in its own transaction
/// (a mute of the thread goes): a refused post subscribes nobody.
pub async fn a_post_subscribes_its_author_in_its_own_transaction(store: &dyn Store) {
    let f = forum(store, "blog").await;
    let first = post(store, &f, "t", None, NOW).await;
    let ann = Email::parse("ann@example.com").unwrap();
    store.mute(&ann, Some(first.thread_id), NOW).await.unwrap();
    let mut p = new_post("t", None, "following", PostState::Approved);
    p.subscribe = Some(ann.clone());
    store.post_create(&f, p, token(), NOW + 1).await.unwrap();
    assert!(store.subscription_exists(first.thread_id, &ann).await.unwrap());
    assert!(!store.is_muted(&ann, first.thread_id).await.unwrap(), "following again ends the mute");
    // The first post of a new thread subscribes to the thread it makes.
    let mut p = new_post("fresh", None, "new thread", PostState::Approved);
    p.subscribe = Some(ann.clone());
    let made = store.post_create(&f, p, token(), NOW + 2).await.unwrap();
    assert!(store.subscription_exists(made.thread.id, &ann).await.unwrap());

    store.thread_set_closed(first.thread_id, true).await.unwrap();
    let bob = Email::parse("bob@example.com").unwrap();
    let mut p = new_post("t", None, "too late", PostState::Approved);
    p.subscribe = Some(bob.clone());
    assert!(matches!(store.post_create(&f, p, token(), NOW + 3).await, Err(StoreError::ThreadClosed)));
    assert!(!store.subscription_exists(first.thread_id, &bob).await.unwrap(), "a refused post subscribes nobody");
}
