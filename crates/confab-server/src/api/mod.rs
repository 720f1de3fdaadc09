//! API v1 routes: one module per resource, one function per action.

pub(crate) mod accounts;
pub(crate) mod bans;
mod counts;
pub(crate) mod docs;
mod flags;
pub(crate) mod forums;
pub mod jobs;
pub(crate) mod moderation;
pub(crate) mod page;
mod posts;
mod subscriptions;
mod switches;
mod threads;
mod votes;
mod webhooks;

use axum::Router;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;

/// What the document says beyond its operations: who it is, where, and how callers
/// prove who they are. The operations and schemas come from the handlers' and the
/// views' own attributes, collected by [`router`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Confab API",
        version = "1",
        description = "Confab's native JSON API. Errors always have the body {\"error\": {\"code\", \"message\"}} with a stable machine-readable code; validation errors add `field` and `reason`; 5xx add `error_id`. Ids are decimal strings; times are RFC 3339 in UTC with milliseconds. Lists are paginated with opaque, signed cursors.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    servers((url = "http://127.0.0.1:8080")),
    modifiers(&SecuritySchemes)
)]
struct Document;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(description)).build(),
            )
        };
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "adminToken",
            bearer("The admin token printed at first start (or admin_token in the configuration). Global administrator accounts (a session) have the same power."),
        );
        components.add_security_scheme(
            "session",
            bearer("A session token from POST /api/v1/auth/login. Kept by the widget (no cookies cross sites); revoked by log-out, a password reset, or expiry."),
        );
        components.add_security_scheme(
            "secretKey",
            bearer("The forum's secret key (sk_…), for the site's own server: manages that forum's threads."),
        );
    }
}

/// Every route of the server with its OpenAPI operation: one list, so the router and
/// the document cannot disagree.
fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Document::openapi())
        .routes(routes!(crate::embed::home))
        .routes(routes!(docs::health))
        .routes(routes!(docs::openapi))
        .routes(routes!(forums::create_forum, forums::list_forums))
        .routes(routes!(forums::get_forum, forums::update_forum, forums::delete_forum))
        .routes(routes!(forums::list_roles))
        .routes(routes!(forums::set_role, forums::remove_role))
        .routes(routes!(forums::get_keys))
        .routes(routes!(forums::rotate_keys))
        .routes(routes!(forums::whoami))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(webhooks::delete_webhook))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(jobs::cache_stats))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::get_job, jobs::discard_job))
        .routes(routes!(jobs::retry_job))
        .routes(routes!(switches::list_switches))
        .routes(routes!(switches::get_switch, switches::set_switch, switches::clear_switch))
        .routes(routes!(switches::switch_log))
        .routes(routes!(threads::find_thread, threads::create_thread))
        .routes(routes!(page::thread_page))
        .routes(routes!(posts::create_post))
        .routes(routes!(counts::thread_counts))
        .routes(routes!(threads::get_thread, threads::correct_thread))
        .routes(routes!(threads::close_thread))
        .routes(routes!(threads::open_thread))
        .routes(routes!(page::thread_roots))
        .routes(routes!(subscriptions::get_subscription, subscriptions::subscribe, subscriptions::unsubscribe))
        .routes(routes!(posts::get_post, posts::edit_post, posts::delete_post))
        .routes(routes!(page::post_replies))
        .routes(routes!(votes::vote_post))
        .routes(routes!(flags::flag_post))
        .routes(routes!(page::own_posts))
        .routes(routes!(moderation::stats))
        .routes(routes!(moderation::history, moderation::moderate_post))
        .routes(routes!(moderation::moderate_many))
        .routes(routes!(moderation::queue))
        .routes(routes!(bans::list_bans, bans::create_ban))
        .routes(routes!(bans::delete_ban))
        .routes(routes!(accounts::sign_up))
        .routes(routes!(accounts::log_in))
        .routes(routes!(accounts::log_out))
        .routes(routes!(accounts::verify))
        .routes(routes!(accounts::request_reset))
        .routes(routes!(accounts::reset))
        .routes(routes!(accounts::me, accounts::delete_account))
        .routes(routes!(accounts::export))
        .routes(routes!(accounts::list_sessions))
        .routes(routes!(accounts::revoke_session))
}

/// The API's routes (the server adds the browser pages and the dashboard).
pub(crate) fn routes() -> Router<AppState> {
    router().split_for_parts().0
}

/// The OpenAPI 3.1 document of every route above, as `GET /api/v1/openapi.json`
/// serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    router().split_for_parts().1
}

pub(crate) async fn route_not_found() -> ApiError {
    ApiError::RouteNotFound
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
