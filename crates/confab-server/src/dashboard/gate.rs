//! Who may see a dashboard page or send its forms, as extractors: a handler that takes a
//! [`Desk`] or a [`DeskForm`] runs only for a signed-in account with the power its type
//! names in the forum of the path. Everyone else gets the page that says why (the log-in
//! form coming back here, "not yours to moderate", "not found"), never a half-drawn page.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use confab_core::model::Forum;

use super::{Fields, error_page};
use crate::AppState;
use crate::account_site::{checked, from_cookie, login_page_to, refused};
use crate::auth::{Power, Principal, SignedIn};

/// The power a page needs, as a type.
pub(crate) trait Need: Send + Sync + 'static {
    const POWER: Power;
}

/// A forum's moderators (and its owners, and administrators).
pub(crate) struct Moderate;
/// Moderators who may close and reopen threads.
pub(crate) struct ManageThreads;
/// A forum's owners: settings, keys, the team.
pub(crate) struct Own;

impl Need for Moderate {
    const POWER: Power = Power::Moderate;
}
impl Need for ManageThreads {
    const POWER: Power = Power::ManageThreads;
}
impl Need for Own {
    const POWER: Power = Power::ManageForum;
}

/// A page's reader: signed in, and holding `N`'s power in `forum`.
pub(crate) struct Desk<N> {
    pub me: SignedIn,
    pub forum: Forum,
    /// This page's own address (path and query), for forms that come back to it.
    pub here: String,
    need: PhantomData<N>,
}

/// A form sent from a dashboard page: from this origin, with the session's CSRF token,
/// by an account holding `N`'s power in `forum`.
pub(crate) struct DeskForm<N> {
    pub me: SignedIn,
    pub forum: Forum,
    pub fields: Fields,
    need: PhantomData<N>,
}

impl<N: Need> FromRequestParts<AppState> for Desk<N> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let here = parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
        let shortname = forum_param(parts, state).await?;
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(me) = from_cookie(state, &jar).await.map_err(IntoResponse::into_response)? else {
            return Err(login_page_to(StatusCode::UNAUTHORIZED, None, Some(&here)));
        };
        let forum = allowed(state, &me, &shortname, N::POWER).await?;
        Ok(Desk { me, forum, here, need: PhantomData })
    }
}

impl<N: Need> FromRequest<AppState> for DeskForm<N> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let shortname = forum_param(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let body =
            Bytes::from_request(Request::from_parts(parts, body), state).await.map_err(IntoResponse::into_response)?;
        let fields = Fields::parse(&body);
        let jar = CookieJar::from_headers(&headers);
        let Some(me) = checked(state, &headers, &jar, fields.one("csrf")).await.map_err(IntoResponse::into_response)?
        else {
            return Err(refused());
        };
        let forum = allowed(state, &me, &shortname, N::POWER).await?;
        Ok(DeskForm { me, forum, fields, need: PhantomData })
    }
}

/// The `{forum}` of the route (every dashboard route under a forum has one).
async fn forum_param(parts: &mut Parts, state: &AppState) -> Result<String, Response> {
    let params = RawPathParams::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
    let found = params.iter().find(|(k, _)| *k == "forum").map(|(_, v)| v.to_owned());
    Ok(found.expect("dashboard routes under a forum name it `{forum}`"))
}

/// The forum, if it exists and the account may do `power` there; else the page saying why.
async fn allowed(state: &AppState, me: &SignedIn, shortname: &str, power: Power) -> Result<Forum, Response> {
    let forum = state.store.forum_by_shortname(shortname).await.map_err(|e| error_page(e.into(), None))?;
    Principal::Account(me.clone()).require(state, Some(&forum), power).await.map_err(|e| error_page(e, None))?;
    Ok(forum)
}
