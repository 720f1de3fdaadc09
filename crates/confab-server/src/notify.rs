//! Notification mails: who hears about a new post, the throttle that turns a busy
//! thread into digests, the mails themselves (text and HTML), and the signed
//! one-click unsubscribe links every one of them carries.
//!
//! A post fans out (in `jobs`) into one `notify` job per recipient. That job asks the
//! store's throttle: the first post in a quiet interval is mailed at once; later ones
//! wait, and the first of them queues a `digest` job for the end of the interval,
//! which mails them all together. So a thread with a hundred replies in an hour sends
//! each subscriber about five mails, not a hundred.

use std::collections::HashMap;

use confab_core::id::Id;
use confab_core::input::Email;
use confab_core::jobs::{NotifyReason, Task};
use confab_core::model::{Author, Forum, Post, PostState, Thread};
use confab_jobs::Failure;
use confab_store::{NewJob, NotifyGate, StoreError};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::jobs::Effects;
use crate::mail::Mail;

/// The signature of an unsubscribe link: HMAC-SHA256 under the server's page key over
/// the address and the thread (0: everything).
pub fn unsubscribe_signature(key: &[u8; 32], email: &Email, thread: Option<Id>) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(b"confab unsubscribe\0");
    m.update(email.as_str().as_bytes());
    m.update(b"\0");
    m.update(thread.map_or(0, Id::as_i64).to_be_bytes().as_slice());
    m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a link's signature in constant time.
pub fn unsubscribe_signature_ok(key: &[u8; 32], email: &Email, thread: Option<Id>, sig: &str) -> bool {
    use subtle::ConstantTimeEq;
    let want = unsubscribe_signature(key, email, thread);
    want.len() == sig.len() && bool::from(want.as_bytes().ct_eq(sig.as_bytes()))
}

/// The link that stops mail about `thread` (or about everything) to `email`.
/// `public_url` may be empty for a link relative to Confab's own origin.
pub fn unsubscribe_url(public_url: &str, key: &[u8; 32], email: &Email, thread: Option<Id>) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("e", email.as_str())
        .append_pair("t", &thread.map_or(0, Id::as_i64).to_string())
        .append_pair("s", &unsubscribe_signature(key, email, thread))
        .finish();
    format!("{public_url}/unsubscribe?{query}")
}

/// Everyone a new post should reach, each once, with the strongest reason: the parent's
/// author (a reply), then the thread's subscribers; the post's own author never.
/// Held posts reach the forum's moderators only.
pub(crate) async fn recipients(
    effects: &Effects,
    post: &Post,
    author_email: Option<&Email>,
) -> Result<Vec<(Email, NotifyReason)>, Failure> {
    let store = &effects.store;
    let mut out: Vec<(Email, NotifyReason)> = Vec::new();
    let mut add = |e: Email, why: NotifyReason| {
        if Some(&e) != author_email && !out.iter().any(|(x, _)| *x == e) {
            out.push((e, why));
        }
    };
    match post.state {
        PostState::Approved => {
            if let Some(parent) = post.parent_id
                && let Some(e) = store.reply_recipient(parent).await?
            {
                add(e, NotifyReason::Reply);
            }
            for e in store.subscribers(post.thread_id).await? {
                add(e, NotifyReason::Subscription);
            }
        }
        PostState::Pending => {
            for e in store.moderator_emails(post.forum_id).await? {
                add(e, NotifyReason::Held);
            }
        }
        PostState::Spam | PostState::Deleted | PostState::Shadow => {}
    }
    Ok(out)
}

/// The `notify` job: through the throttle, then mail now or leave it to the digest.
pub(crate) async fn notify(
    effects: &Effects,
    job: &confab_store::Job,
    email: Email,
    thread: Id,
    post: Id,
    reason: NotifyReason,
) -> Result<Vec<NewJob>, Failure> {
    let store = &effects.store;
    if store.is_muted(&email, thread).await? {
        return Ok(vec![]);
    }
    let interval = effects.notify_interval.as_millis() as i64;
    let now = effects.clock.now();
    match store.notify_gate(&email, thread, post, now, interval).await? {
        gate @ (NotifyGate::Send | NotifyGate::SendAgain) => {
            let Some((loaded, author, t)) = load(effects, post, thread).await? else { return Ok(vec![]) };
            let forum = store.forum_get(t.forum_id).await?;
            let mail = single_mail(effects, &email, &forum, &t, &loaded, author.as_ref(), reason, job.id);
            match send(effects, mail).await {
                Ok(()) => Ok(vec![]),
                // An earlier attempt may have delivered it: the same mail is retried,
                // under the same Message-ID, and never handed to a digest.
                Err(e) if gate == NotifyGate::SendAgain => Err(e),
                // Not sent: the throttle must not count it. If a digest opened
                // meanwhile, the post went into it and this job is done.
                Err(e) => match store.notify_release(&email, thread, post, now).await? {
                    true => Err(e),
                    false => Ok(vec![]),
                },
            }
        }
        NotifyGate::Digest { due, schedule: true } => Ok(vec![NewJob {
            forum_id: job.forum_id,
            task: Task::Digest { email: email.as_str().to_owned(), thread },
            run_at: due,
        }]),
        NotifyGate::Digest { schedule: false, .. } | NotifyGate::Digested => Ok(vec![]),
    }
}

/// The `digest` job: every post that waited, in one mail.
pub(crate) async fn digest(
    effects: &Effects,
    job: &confab_store::Job,
    email: Email,
    thread: Id,
) -> Result<Vec<NewJob>, Failure> {
    let store = &effects.store;
    // The waiting posts leave the queue only once their mail has gone (`done`): a send
    // that fails is retried with all of them, and so is one a crash interrupted.
    let ids = store.digest_waiting(&email, thread).await?;
    if store.is_muted(&email, thread).await? {
        return digest_done(effects, job, &email, thread, &ids).await;
    }
    let thread_row = match store.thread_get(thread).await {
        Ok(t) => t,
        Err(StoreError::ThreadNotFound) => return digest_done(effects, job, &email, thread, &ids).await,
        Err(e) => return Err(e.into()),
    };
    let mut posts = Vec::new();
    for &id in &ids {
        match store.post_get(id).await {
            // Only what is still public (a post removed meanwhile is not news).
            Ok(p) if p.state == PostState::Approved || p.state == PostState::Pending => posts.push(p),
            Ok(_) | Err(StoreError::PostNotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if !posts.is_empty() {
        let author_ids: Vec<Id> = posts.iter().map(|p| p.author_id).collect();
        let authors: HashMap<Id, Author> =
            store.authors_get_many(&author_ids).await?.into_iter().map(|a| (a.id, a)).collect();
        // Keyed by the job, so a retry after a crash between sending and `done` repeats
        // the same Message-ID.
        let forum = store.forum_get(thread_row.forum_id).await?;
        let mail = digest_mail(effects, &email, &forum, &thread_row, &posts, &authors, job.id);
        send(effects, mail).await?;
    }
    digest_done(effects, job, &email, thread, &ids).await
}

/// The digest's posts are done with (mailed, or not to be); posts that joined while it
/// was being sent get a digest of their own after the next quiet interval.
async fn digest_done(
    effects: &Effects,
    job: &confab_store::Job,
    email: &Email,
    thread: Id,
    posts: &[Id],
) -> Result<Vec<NewJob>, Failure> {
    let now = effects.clock.now();
    let next_due = now + effects.notify_interval.as_millis() as i64;
    if !effects.store.digest_sent(email, thread, posts, now, next_due).await? {
        return Ok(vec![]);
    }
    Ok(vec![NewJob {
        forum_id: job.forum_id,
        task: Task::Digest { email: email.as_str().to_owned(), thread },
        run_at: next_due,
    }])
}

async fn load(effects: &Effects, post: Id, thread: Id) -> Result<Option<(Post, Option<Author>, Thread)>, Failure> {
    let store = &effects.store;
    let post = match store.post_get(post).await {
        Ok(p) if p.state == PostState::Approved || p.state == PostState::Pending => p,
        Ok(_) | Err(StoreError::PostNotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let author = store.authors_get_many(&[post.author_id]).await?.into_iter().next();
    let thread = store.thread_get(thread).await?;
    Ok(Some((post, author, thread)))
}

async fn send(effects: &Effects, mail: Mail) -> Result<(), Failure> {
    effects
        .mailer
        .send(mail)
        .await
        .map_err(|e| if e.transient { Failure::Retry(e.reason) } else { Failure::Permanent(e.reason) })
}

fn thread_name(t: &Thread) -> String {
    t.title.as_ref().map(|x| x.as_str().to_owned()).unwrap_or_else(|| t.identifier.as_str().to_owned())
}

fn author_name(a: Option<&Author>) -> String {
    a.map(|a| a.name.as_str().to_owned()).unwrap_or_else(|| "Someone".into())
}

/// Where a reader sees the post: the page with the comment's anchor, when the thread
/// has a URL the forum vouches for (on its sites; any, for a forum that lists none). A
/// url someone else set on another site (before the forum listed its sites) is not
/// linked: mails must not carry readers to a page the forum does not stand behind.
fn post_link(forum: &Forum, t: &Thread, p: &Post) -> Option<String> {
    let url = t.url.as_ref().filter(|u| crate::auth::vouched(forum, u))?;
    Some(format!("{}#comment-{}", url.as_str().split('#').next().unwrap_or(""), p.id))
}

const FOOTER_TEXT: &str = "You get this mail because of your comment or subscription.";

/// A mail template (`templates/mail/`, in the server's one environment): HTML ones
/// escape what they are given; a post's HTML is the sanitised rendering, passed as safe.
fn render(name: &str, ctx: &minijinja::Value) -> String {
    // The templates are ours and tested; a failure is a bug, shown rather than hidden.
    crate::templates::render(name, ctx).unwrap_or_else(|e| format!("(template error: {e})"))
}

#[allow(clippy::too_many_arguments)]
fn single_mail(
    effects: &Effects,
    to: &Email,
    forum: &Forum,
    thread: &Thread,
    post: &Post,
    author: Option<&Author>,
    reason: NotifyReason,
    key: Id,
) -> Mail {
    let (name, title) = (author_name(author), thread_name(thread));
    let subject = match reason {
        NotifyReason::Reply => format!("{name} replied to your comment on “{title}”"),
        NotifyReason::Subscription => format!("New comment by {name} on “{title}”"),
        NotifyReason::Held => format!("A comment by {name} awaits review on “{title}”"),
    };
    let unsubscribe = unsubscribe_url(&effects.public_url, &effects.link_key, to, Some(thread.id));
    let ctx = minijinja::context! {
        subject => &subject,
        name => &name,
        text => post.message.as_str(),
        html => minijinja::Value::from_safe_string(post.html.clone()),
        link => post_link(forum, thread, post),
        held => reason == NotifyReason::Held,
        footer => FOOTER_TEXT,
        unsubscribe => &unsubscribe,
    };
    Mail {
        to: to.clone(),
        text: render("mail/notify.txt", &ctx),
        html: Some(render("mail/notify.html", &ctx)),
        subject,
        unsubscribe: Some(unsubscribe),
        key: Some(key.to_string()),
    }
}

fn digest_mail(
    effects: &Effects,
    to: &Email,
    forum: &Forum,
    thread: &Thread,
    posts: &[Post],
    authors: &HashMap<Id, Author>,
    key: Id,
) -> Mail {
    let title = thread_name(thread);
    let subject = if posts.len() == 1 {
        format!("1 new comment on “{title}”")
    } else {
        format!("{} new comments on “{title}”", posts.len())
    };
    let unsubscribe = unsubscribe_url(&effects.public_url, &effects.link_key, to, Some(thread.id));
    let items: Vec<minijinja::Value> = posts
        .iter()
        .map(|p| {
            minijinja::context! {
                name => author_name(authors.get(&p.author_id)),
                text => p.message.as_str(),
                html => minijinja::Value::from_safe_string(p.html.clone()),
                link => post_link(forum, thread, p),
            }
        })
        .collect();
    let ctx = minijinja::context! {
        subject => &subject,
        posts => items,
        footer => FOOTER_TEXT,
        unsubscribe => &unsubscribe,
    };
    Mail {
        to: to.clone(),
        text: render("mail/digest.txt", &ctx),
        html: Some(render("mail/digest.html", &ctx)),
        subject,
        unsubscribe: Some(unsubscribe),
        key: Some(key.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_templates_escape_names_and_links_but_keep_the_sanitised_post() {
        let ctx = minijinja::context! {
            subject => "s",
            name => "<script>x</script>",
            text => "a < b",
            html => minijinja::Value::from_safe_string("<p><em>fine</em></p>".into()),
            link => "https://e.example/?a=1&b=\"2\"",
            held => true,
            footer => FOOTER_TEXT,
            unsubscribe => "https://c.example/unsubscribe?e=a%40b&t=1&s=f",
        };
        let html = render("mail/notify.html", &ctx);
        assert!(html.contains("&lt;script&gt;x&lt;&#x2f;script&gt;") && !html.contains("<script>"), "{html}");
        assert!(html.contains("<blockquote><p><em>fine</em></p></blockquote>"), "{html}");
        assert!(html.contains("&amp;b=&quot;2&quot;"), "{html}");
        assert!(html.contains("held until a moderator"), "{html}");
        let text = render("mail/notify.txt", &ctx);
        assert!(text.starts_with("<script>x</script> wrote:\n\na < b\n"), "text is not escaped: {text}");
        assert!(text.contains("Read and reply: https://e.example/?a=1&b=\"2\""), "{text}");
        assert!(
            text.ends_with("Unsubscribe from this discussion: https://c.example/unsubscribe?e=a%40b&t=1&s=f"),
            "{text}"
        );
    }
}
