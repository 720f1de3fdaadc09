//! Moderation: a post's state changed by a moderator (approve, hold, spam, delete,
//! restore), one at a time or in bulk, with the reason in the moderation log; the
//! queues; a post's history. Every action checks the moderator's role in the post's
//! own forum. Decisions about spam teach the forum's classifier.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use confab_core::id::Id;
use confab_core::input::InputError;
use confab_core::model::{Author, Forum, Post, PostState};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::{Power, Principal};
use crate::error::ApiError;
use crate::extract::{Json, PathForum, PathId, Query};
use crate::views::errors::ErrorEnvelope;
use crate::views::moderation::{
    BulkItem, BulkResults, DayView, EntryView, FlagView, ModeratedPostView, ModerationResult, PostHistory, QueuePage,
    QueueSizesView, StatsView, VerdictView,
};
use crate::views::{ThreadView, rfc3339};
use crate::writes::moderation::{Action, decide, mark};
use utoipa::IntoParams;
use utoipa::ToSchema;

const MAX_REASON_CHARS: usize = 500;
const MAX_BULK: usize = 100;
const MAX_PAGE: u32 = 100;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Decision {
    /// approve also restores a deleted, spam or shadow post; delete is soft; pin puts
    /// the post at the top of its thread (one per thread); highlight and pin need an
    /// approved post (422 not_approved).
    action: Action,
    /// Kept in the moderation log
    #[schema(max_length = 500)]
    reason: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BulkDecision {
    #[schema(min_items = 1, max_items = 100)]
    posts: Vec<Id>,
    // Described by `bulk_actions`: a schema of its own replaces the doc comment.
    #[schema(schema_with = bulk_actions)]
    action: Action,
    /// Kept in the moderation log
    #[schema(max_length = 500)]
    reason: Option<String>,
}

fn reason(r: Option<String>) -> Result<Option<String>, ApiError> {
    match r.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()) {
        Some(r) if r.chars().count() > MAX_REASON_CHARS => {
            Err(InputError::new("reason", "too_long", format!("at most {MAX_REASON_CHARS} characters")).into())
        }
        r => Ok(r),
    }
}

/// The post and its forum, once the principal may moderate there.
async fn moderated(state: &AppState, who: &Principal, id: Id) -> Result<(Post, Forum), ApiError> {
    let post = state.store.post_get(id).await?;
    let forum = state.store.forum_get(post.forum_id).await?;
    who.require(state, Some(&forum), Power::Moderate).await?;
    Ok((post, forum))
}

#[utoipa::path(
    post,
    path = "/api/v1/posts/{post}/moderation",
    operation_id = "moderatePost",
    summary = "Approve, hold, mark spam or delete a post, or highlight/pin it (moderators, the forum's secret key); spam decisions teach the forum's classifier",
    params(
        ("post" = Id, Path, description = "Post id"),
    ),
    request_body = inline(Decision),
    responses(
        (status = 200, description = "The post, its thread, and whether anything changed", body = inline(ModerationResult)),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: not a moderator of the post's forum", body = ErrorEnvelope),
        (status = 404, description = "post_not_found", body = ErrorEnvelope),
        (status = 422, description = "invalid_body, invalid_input", body = ErrorEnvelope),
    ),
    security(("session" = []), ("secretKey" = []), ("adminToken" = [])),
)]
pub(crate) async fn moderate_post(
    State(state): State<AppState>,
    who: Principal,
    PathId(id): PathId,
    Json(body): Json<Decision>,
) -> Result<impl IntoResponse, ApiError> {
    let why = reason(body.reason)?;
    let (post, forum) = moderated(&state, &who, id).await?;
    let (after, thread, changed) = match body.action.state() {
        Some(to) => {
            let by = who.moderator().ok_or(ApiError::Unauthorized)?;
            let change = decide(&state.writes, by, &post, to, why).await?;
            let changed = change.before.state != change.after.state;
            (change.after, change.thread, changed)
        }
        None => mark(&state.writes, &post, body.action).await?,
    };
    let author = state.store.authors_get_many(&[after.author_id]).await?.into_iter().next();
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(ModerationResult {
            post: ModeratedPostView::new(&after, author.as_ref()),
            thread: ThreadView::in_forum(&thread, &forum, state.clock.now()),
            changed,
        }),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/forums/{forum}/moderation",
    operation_id = "moderatePosts",
    summary = "One decision for up to 100 posts of the forum; a result per post",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
    ),
    request_body = inline(BulkDecision),
    responses(
        (status = 200, description = "Results, in the order asked", body = inline(BulkResults)),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: not a moderator of the post's forum", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
        (status = 422, description = "invalid_body, invalid_input", body = ErrorEnvelope),
    ),
    security(("session" = []), ("secretKey" = []), ("adminToken" = [])),
)]
pub(crate) async fn moderate_many(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
    Json(body): Json<BulkDecision>,
) -> Result<impl IntoResponse, ApiError> {
    let why = reason(body.reason)?;
    let Some(to) = body.action.state() else {
        return Err(InputError::new("action", "not_bulk", "in bulk: approve, hold, spam or delete").into());
    };
    if body.posts.is_empty() || body.posts.len() > MAX_BULK {
        return Err(InputError::new("posts", "count", format!("1 to {MAX_BULK} post ids")).into());
    }
    let forum = state.store.forum_by_shortname(&forum).await?;
    who.require(&state, Some(&forum), Power::Moderate).await?;
    let by = who.moderator().ok_or(ApiError::Unauthorized)?;
    let mut results = Vec::with_capacity(body.posts.len());
    for id in body.posts {
        // Each post on its own: one that is missing or of another forum does not stop the rest.
        let outcome = match state.store.post_get(id).await {
            Ok(p) if p.forum_id == forum.id => decide(&state.writes, by, &p, to, why.clone()).await.map(Some),
            Ok(_) | Err(confab_store::StoreError::PostNotFound) => Ok(None),
            Err(e) => Err(e.into()),
        };
        results.push(match outcome {
            Ok(Some(c)) => BulkItem::Done { id, state: c.after.state, changed: c.before.state != c.after.state },
            Ok(None) => BulkItem::Failed { id, error: "post_not_found" },
            Err(e) => BulkItem::Failed { id, error: e.code() },
        });
    }
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(BulkResults { results })))
}

/// The actions a bulk decision takes, as [`moderate_many`] allows them.
fn bulk_actions() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(["approve", "hold", "spam", "delete"]))
        .description(Some(
            "approve also restores a deleted or spam post; delete is soft. Only approve, hold, spam and delete in bulk (422 not_bulk).",
        ))
        .build()
}

/// The queues `state` names, as [`QueueQuery::search`] reads them.
fn queue_states() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(["pending", "flagged", "spam", "shadow", "approved", "deleted", "all"]))
        .default(Some(json!("pending")))
        .build()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueQuery {
    /// Which queue: pending (the default), flagged, spam, shadow, approved, deleted or all.
    #[param(schema_with = queue_states)]
    state: Option<String>,
    /// Words in the text (a case-insensitive substring, at most 200 characters).
    q: Option<String>,
    /// An author id (from a post's `author.id`).
    author: Option<String>,
    /// The address an author gave.
    email: Option<String>,
    /// An IPv4 or IPv6 address: posts from its network (/24 or /48), matched by a keyed
    /// hash (no address is stored).
    ip: Option<String>,
    /// A thread id
    thread: Option<String>,
    /// Created on or after this day or time (`2026-11-01` or RFC 3339).
    since: Option<String>,
    /// Created before this day or time.
    until: Option<String>,
    /// A post id: continue below it
    before: Option<String>,
    #[param(minimum = 1, maximum = 100, default = 50)]
    limit: Option<u32>,
}

/// A day (`2026-11-01`, its start in UTC) or an RFC 3339 time, as Unix milliseconds.
pub(crate) fn parse_time(field: &str, s: &str) -> Result<i64, ApiError> {
    let s = s.trim();
    let bad = || ApiError::InvalidQuery(format!("{field}: a day such as 2026-11-01, or an RFC 3339 time"));
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s, &fmt).map_err(|_| bad())?;
    Ok(d.midnight().assume_utc().unix_timestamp() * 1000)
}

fn parse_id(field: &str, s: &str) -> Result<Id, ApiError> {
    s.trim().parse::<Id>().map_err(|_| ApiError::InvalidQuery(format!("{field}: an id")))
}

impl QueueQuery {
    /// The store's search for this query (checked: bad values are a 400).
    pub(crate) fn search(&self, state: &AppState) -> Result<confab_store::PostSearch, ApiError> {
        let mut s =
            confab_store::PostSearch { limit: self.limit.unwrap_or(50).clamp(1, MAX_PAGE), ..Default::default() };
        match self.state.as_deref().unwrap_or("pending") {
            "all" => {}
            "flagged" => s.flagged = true,
            other => {
                s.state = Some(serde_json::from_value::<PostState>(json!(other)).map_err(|_| {
                    ApiError::InvalidQuery("state: pending, flagged, spam, shadow, approved, deleted or all".into())
                })?)
            }
        }
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        s.text = given(&self.q);
        if s.text.as_ref().is_some_and(|t| t.chars().count() > 200) {
            return Err(ApiError::InvalidQuery("q: at most 200 characters".into()));
        }
        s.authors = given(&self.author).map(|a| parse_id("author", &a)).transpose()?.map(|a| vec![a]);
        s.email = given(&self.email).map(|e| e.to_lowercase());
        s.network = given(&self.ip)
            .map(|ip| {
                ip.parse::<std::net::IpAddr>()
                    .map(|ip| crate::ratelimit::network_hash(&state.page_key, ip))
                    .map_err(|_| ApiError::InvalidQuery("ip: an IPv4 or IPv6 address".into()))
            })
            .transpose()?;
        s.thread = given(&self.thread).map(|t| parse_id("thread", &t)).transpose()?;
        s.since = given(&self.since).map(|t| parse_time("since", &t)).transpose()?;
        s.until = given(&self.until).map(|t| parse_time("until", &t)).transpose()?;
        s.before = given(&self.before).map(|b| parse_id("before", &b)).transpose()?;
        Ok(s)
    }
}

/// Posts with their authors, as moderators see them.
pub(crate) async fn with_authors(state: &AppState, posts: &[Post]) -> Result<Vec<ModeratedPostView>, ApiError> {
    let ids: Vec<Id> = posts.iter().map(|p| p.author_id).collect();
    let authors: std::collections::HashMap<Id, Author> =
        state.store.authors_get_many(&ids).await?.into_iter().map(|a| (a.id, a)).collect();
    Ok(posts.iter().map(|p| ModeratedPostView::new(p, authors.get(&p.author_id))).collect())
}

#[utoipa::path(
    get,
    path = "/api/v1/forums/{forum}/queue",
    operation_id = "moderationQueue",
    summary = "The forum's posts in a queue (pending by default, flagged, spam, shadow, approved, deleted or all), searched by text, author, address, thread and dates; newest first",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
        QueueQuery,
    ),
    responses(
        (status = 200, description = "Posts", body = inline(QueuePage)),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: not a moderator of the post's forum", body = ErrorEnvelope),
        (status = 400, description = "invalid_query", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
    ),
    security(("session" = []), ("secretKey" = []), ("adminToken" = [])),
)]
pub(crate) async fn queue(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
    Query(q): Query<QueueQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    who.require(&state, Some(&forum), Power::Moderate).await?;
    let search = q.search(&state)?;
    let posts = state.store.moderation_queue(forum.id, &search).await?;
    let next = (posts.len() as u32 == search.limit).then(|| posts.last().map(|p| p.id.to_string())).flatten();
    let body = QueuePage { posts: with_authors(&state, &posts).await?, before: next };
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(body)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatsQuery {
    #[param(minimum = 1, maximum = 366, default = 30)]
    days: Option<u32>,
}

/// Figures for the moderators: queue sizes, comments per day, the spam rate.
#[utoipa::path(
    get,
    path = "/api/v1/forums/{forum}/stats",
    operation_id = "forumStats",
    summary = "Moderators' figures: queue sizes, posts and spam per day (UTC) for the last N days, the spam rate",
    params(
        ("forum" = String, Path, description = "Forum shortname"),
        StatsQuery,
    ),
    responses(
        (status = 200, description = "Figures", body = inline(StatsView)),
        (status = 400, description = "invalid_query", body = ErrorEnvelope),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: not a moderator of the forum", body = ErrorEnvelope),
        (status = 404, description = "forum_not_found", body = ErrorEnvelope),
    ),
    security(("session" = []), ("secretKey" = []), ("adminToken" = [])),
)]
pub(crate) async fn stats(
    State(state): State<AppState>,
    who: Principal,
    PathForum(forum): PathForum,
    Query(q): Query<StatsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let forum = state.store.forum_by_shortname(&forum).await?;
    who.require(&state, Some(&forum), Power::Moderate).await?;
    let body = stats_of(&state, &forum, q.days.unwrap_or(30)).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(body)))
}

pub(crate) async fn stats_of(state: &AppState, forum: &Forum, days: u32) -> Result<StatsView, ApiError> {
    if !(1..=366).contains(&days) {
        return Err(ApiError::InvalidQuery("days: 1 to 366".into()));
    }
    const DAY: i64 = 86_400_000;
    let today = state.clock.now().div_euclid(DAY) * DAY;
    let since = today - i64::from(days - 1) * DAY;
    let rows = state.store.posts_per_day(forum.id, since).await?;
    let sizes = state.store.queue_sizes(forum.id).await?;
    // Every day in the range, with zeros where nothing was posted.
    let per_day: Vec<DayView> = (0..i64::from(days))
        .map(|i| {
            let day = since + i * DAY;
            let (posts, spam) = rows.iter().find(|r| r.0 == day).map_or((0, 0), |r| (r.1, r.2));
            DayView { day: rfc3339(day)[..10].to_owned(), posts, spam }
        })
        .collect();
    let (total, spam): (u64, u64) = rows.iter().fold((0, 0), |(t, s), r| (t + r.1, s + r.2));
    Ok(StatsView {
        queues: QueueSizesView {
            pending: sizes.pending,
            flagged: sizes.flagged,
            spam: sizes.spam,
            shadow: sizes.shadow,
        },
        days: per_day,
        posts: total,
        spam,
        spam_rate: if total == 0 { 0.0 } else { spam as f64 / total as f64 },
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/posts/{post}/moderation",
    operation_id = "postModeration",
    summary = "A post as moderators see it, the spam filter's verdict, and its moderation log",
    params(
        ("post" = Id, Path, description = "Post id"),
    ),
    responses(
        (status = 200, description = "History", body = inline(PostHistory)),
        (status = 401, description = "unauthorized", body = ErrorEnvelope),
        (status = 403, description = "forbidden: not a moderator of the post's forum", body = ErrorEnvelope),
        (status = 404, description = "post_not_found", body = ErrorEnvelope),
    ),
    security(("session" = []), ("secretKey" = []), ("adminToken" = [])),
)]
pub(crate) async fn history(
    State(state): State<AppState>,
    who: Principal,
    PathId(id): PathId,
) -> Result<impl IntoResponse, ApiError> {
    let (post, _) = moderated(&state, &who, id).await?;
    let log = state.store.moderation_log(post.id).await?;
    let verdict = state.store.spam_verdict(post.id).await?.map(VerdictView::from);
    let author = state.store.authors_get_many(&[post.author_id]).await?.into_iter().next();
    let flags = state.store.flags_of(post.id).await?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(PostHistory {
            post: ModeratedPostView::new(&post, author.as_ref()),
            spam_verdict: verdict,
            flags: flags.iter().map(FlagView::from).collect(),
            log: log.iter().map(EntryView::from).collect(),
        }),
    ))
}
