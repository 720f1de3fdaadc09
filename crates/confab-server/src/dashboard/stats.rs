//! `GET /dashboard/{forum}/stats`: the queues, comments per day for 30 days (a chart
//! drawn on the server, as SVG: no script, no third party), and the spam rate.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::gate::{Desk, Moderate};
use crate::AppState;
use crate::error::ApiError;

/// The chart's size in SVG units: 30 bars of `BAR` across.
const WIDTH: u64 = 600;
const HEIGHT: u64 = 160;
const BAR: u64 = 20;

#[derive(Serialize)]
struct Chart {
    width: u64,
    height: u64,
    bar: u64,
    max: u64,
    first: String,
    last: String,
    bars: Vec<Bar>,
}

#[derive(Serialize)]
struct Bar {
    day: String,
    x: u64,
    posts: u64,
    spam: u64,
    posts_h: u64,
    spam_h: u64,
}

pub(super) async fn page(State(state): State<AppState>, desk: Desk<Moderate>) -> Result<Response, ApiError> {
    let forum = desk.forum;
    let stats = crate::api::moderation::stats_of(&state, &forum, 30).await?;
    let max = stats.days.iter().map(|d| d.posts).max().unwrap_or(0).max(1);
    let bars = stats
        .days
        .iter()
        .enumerate()
        .map(|(i, d)| Bar {
            day: d.day.clone(),
            x: i as u64 * BAR,
            posts: d.posts,
            spam: d.spam,
            posts_h: d.posts * HEIGHT / max,
            spam_h: d.spam * HEIGHT / max,
        })
        .collect();
    let day = |d: Option<&crate::views::moderation::DayView>| d.map(|d| d.day.clone()).unwrap_or_default();
    let (first, last) = (day(stats.days.first()), day(stats.days.last()));
    let chart = Chart { width: WIDTH, height: HEIGHT, bar: BAR, max, first, last, bars };
    let ctx = minijinja::context! {
        queues => &stats.queues,
        total => stats.posts,
        spam_percent => format!("{:.1}", stats.spam_rate * 100.0),
        chart,
    };
    Ok(super::page(StatusCode::OK, "stats.html", "Stats", Some(&forum), "stats", ctx))
}
