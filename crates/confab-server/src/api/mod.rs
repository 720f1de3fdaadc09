//! API v1 routes: one module per resource, one function per action.

pub(crate) mod accounts;
pub(crate) mod bans;
mod counts;
mod docs;
mod flags;
pub(crate) mod forums;
pub mod jobs;
pub(crate) mod moderation;
pub(crate) mod page;
mod posts;
mod subscriptions;
mod threads;
mod votes;
mod webhooks;

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::AppState;
use crate::error::ApiError;

/// Every route of the server. The OpenAPI test checks this list and the document agree.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(crate::embed::home))
        .route("/healthz", get(docs::health))
        .route("/api/v1/openapi.json", get(docs::openapi))
        .route("/api/v1/forums", post(forums::create_forum).get(forums::list_forums))
        .route(
            "/api/v1/forums/{forum}",
            get(forums::get_forum).patch(forums::update_forum).delete(forums::delete_forum),
        )
        .route("/api/v1/forums/{forum}/roles", get(forums::list_roles))
        .route("/api/v1/forums/{forum}/roles/{username}", put(forums::set_role).delete(forums::remove_role))
        .route("/api/v1/forums/{forum}/keys", get(forums::get_keys))
        .route("/api/v1/forums/{forum}/keys/rotate", post(forums::rotate_keys))
        .route("/api/v1/forums/{forum}/me", get(forums::whoami))
        .route("/api/v1/forums/{forum}/webhooks", get(webhooks::list_webhooks).post(webhooks::create_webhook))
        .route("/api/v1/forums/{forum}/webhooks/{webhook}", delete(webhooks::delete_webhook))
        .route("/api/v1/forums/{forum}/webhooks/{webhook}/deliveries", get(webhooks::list_deliveries))
        .route("/api/v1/cache", get(jobs::cache_stats))
        .route("/api/v1/jobs", get(jobs::list_jobs))
        .route("/api/v1/jobs/{job}", get(jobs::get_job).delete(jobs::discard_job))
        .route("/api/v1/jobs/{job}/retry", post(jobs::retry_job))
        .route("/api/v1/forums/{forum}/threads", get(threads::find_thread).post(threads::create_thread))
        .route("/api/v1/forums/{forum}/thread-page", get(page::thread_page))
        .route("/api/v1/forums/{forum}/posts", post(posts::create_post))
        .route("/api/v1/forums/{forum}/counts", get(counts::thread_counts))
        .route("/api/v1/threads/{thread}", get(threads::get_thread).patch(threads::correct_thread))
        .route("/api/v1/threads/{thread}/close", post(threads::close_thread))
        .route("/api/v1/threads/{thread}/open", post(threads::open_thread))
        .route("/api/v1/threads/{thread}/posts", get(page::thread_roots))
        .route(
            "/api/v1/threads/{thread}/subscription",
            get(subscriptions::get_subscription).put(subscriptions::subscribe).delete(subscriptions::unsubscribe),
        )
        .route("/api/v1/posts/{post}", get(posts::get_post).patch(posts::edit_post).delete(posts::delete_post))
        .route("/api/v1/posts/{post}/replies", get(page::post_replies))
        .route("/api/v1/posts/{post}/vote", post(votes::vote_post))
        .route("/api/v1/posts/{post}/flags", post(flags::flag_post))
        .route("/api/v1/threads/{thread}/mine", get(page::own_posts))
        .route("/api/v1/forums/{forum}/stats", get(moderation::stats))
        .route("/api/v1/posts/{post}/moderation", get(moderation::history).post(moderation::moderate_post))
        .route("/api/v1/forums/{forum}/moderation", post(moderation::moderate_many))
        .route("/api/v1/forums/{forum}/queue", get(moderation::queue))
        .route("/api/v1/forums/{forum}/bans", get(bans::list_bans).post(bans::create_ban))
        .route("/api/v1/forums/{forum}/bans/{ban}", delete(bans::delete_ban))
        .route("/api/v1/auth/signup", post(accounts::sign_up))
        .route("/api/v1/auth/login", post(accounts::log_in))
        .route("/api/v1/auth/logout", post(accounts::log_out))
        .route("/api/v1/auth/verify", post(accounts::verify))
        .route("/api/v1/auth/reset-request", post(accounts::request_reset))
        .route("/api/v1/auth/reset", post(accounts::reset))
        .route("/api/v1/me", get(accounts::me).delete(accounts::delete_account))
        .route("/api/v1/me/export", get(accounts::export))
        .route("/api/v1/me/sessions", get(accounts::list_sessions))
        .route("/api/v1/me/sessions/{session}", delete(accounts::revoke_session))
}

pub(crate) async fn route_not_found() -> ApiError {
    ApiError::RouteNotFound
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
