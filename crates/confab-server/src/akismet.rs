//! An Akismet-compatible spam service (Akismet itself, or a compatible one such as
//! Antispam Bee's or a self-hosted service): `POST {endpoint}/1.1/comment-check`
//! with the comment and its request as a form; the answer is `true` (spam) or `false`.
//! Requests go through the outbound guard like every other.

use confab_core::jobs::ClientInfo;
use confab_core::model::{Author, Post, Thread};

use crate::outbound::{Outbound, SendError};

/// The operator's service: where, and with which key.
#[derive(Clone)]
pub struct Akismet {
    pub endpoint: url::Url,
    pub key: String,
    /// The site Akismet knows the key for (`blog`): Confab's public URL.
    pub blog: String,
}

impl std::fmt::Debug for Akismet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Akismet").field("endpoint", &self.endpoint.as_str()).finish_non_exhaustive()
    }
}

/// What the service said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opinion {
    Ham,
    Spam,
    /// Spam so blatant the service advises discarding it (`X-akismet-pro-tip: discard`).
    Blatant,
}

impl Akismet {
    pub async fn check(
        &self,
        outbound: &Outbound,
        post: &Post,
        author: Option<&Author>,
        thread: &Thread,
        client: &ClientInfo,
    ) -> Result<Opinion, String> {
        let url = self.endpoint.join("1.1/comment-check").map_err(|e| format!("akismet endpoint: {e}"))?;
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("api_key", &self.key)
                .append_pair("blog", &self.blog)
                .append_pair("user_ip", &client.ip)
                .append_pair("user_agent", &client.user_agent)
                .append_pair("referrer", &client.referrer)
                .append_pair("comment_type", if post.parent_id.is_some() { "reply" } else { "comment" })
                .append_pair("comment_content", post.message.as_str())
                .append_pair("blog_charset", "UTF-8");
            if let Some(u) = &thread.url {
                form.append_pair("permalink", u.as_str());
            }
            if let Some(a) = author {
                form.append_pair("comment_author", a.name.as_str());
                if let Some(e) = &a.email {
                    form.append_pair("comment_author_email", e.as_str());
                }
                if let Some(u) = &a.url {
                    form.append_pair("comment_author_url", u.as_str());
                }
            }
            form.finish()
        };
        let headers = vec![("content-type", "application/x-www-form-urlencoded".to_owned())];
        let reply = outbound.exchange(&url, headers, form).await.map_err(|e| match e {
            SendError::Blocked(b) => format!("akismet endpoint refused by the outbound guard: {b}"),
            SendError::Transport(t) => format!("akismet: {t}"),
        })?;
        let body = String::from_utf8_lossy(&reply.body);
        match (reply.status, body.trim()) {
            (200, "true") => {
                let tip = reply.headers.get("x-akismet-pro-tip").and_then(|v| v.to_str().ok());
                Ok(if tip == Some("discard") { Opinion::Blatant } else { Opinion::Spam })
            }
            (200, "false") => Ok(Opinion::Ham),
            (status, _) => {
                let help = reply.headers.get("x-akismet-debug-help").and_then(|v| v.to_str().ok()).unwrap_or("");
                Err(format!("akismet answered {status} {:?} {help}", body.chars().take(40).collect::<String>()))
            }
        }
    }
}
