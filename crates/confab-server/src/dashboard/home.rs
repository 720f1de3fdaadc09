//! `GET /dashboard`: the forums this account moderates, with their queues' sizes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use confab_core::model::{Forum, Role};
use serde::Serialize;

use crate::AppState;
use crate::account_site::{from_cookie, login_page_to};
use crate::error::ApiError;

#[derive(Serialize)]
struct ForumRow {
    shortname: String,
    name: String,
    pending: u64,
    flagged: u64,
    role: &'static str,
}

pub(super) async fn page(State(state): State<AppState>, jar: CookieJar) -> Result<Response, ApiError> {
    let Some(me) = from_cookie(&state, &jar).await? else {
        return Ok(login_page_to(StatusCode::UNAUTHORIZED, None, Some("/dashboard")));
    };
    let forums: Vec<(Forum, Option<Role>)> = if me.account.is_admin {
        state.store.forum_list().await?.into_iter().map(|f| (f, None)).collect()
    } else {
        let mut out = Vec::new();
        for (id, role) in state.store.roles_of(me.account.id).await? {
            if role >= Role::Moderator {
                out.push((state.store.forum_get(id).await?, Some(role)));
            }
        }
        out
    };
    let mut rows = Vec::with_capacity(forums.len());
    for (f, role) in forums {
        let sizes = state.store.queue_sizes(f.id).await?;
        rows.push(ForumRow {
            shortname: f.shortname.as_str().to_owned(),
            name: f.name.as_str().to_owned(),
            pending: sizes.pending,
            flagged: sizes.flagged,
            role: role.map_or("administrator", Role::as_str),
        });
    }
    let ctx = minijinja::context! { forums => rows, admin => me.account.is_admin, switches => super::switches::PATH };
    Ok(super::page(StatusCode::OK, "home.html", "Your forums", None, "", ctx))
}
