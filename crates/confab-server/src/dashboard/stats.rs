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
    let days = stats["days"].as_array().cloned().unwrap_or_default();
    let count = |d: &serde_json::Value, k: &str| d[k].as_u64().unwrap_or(0);
    let max = days.iter().map(|d| count(d, "posts")).max().unwrap_or(0).max(1);
    let day = |d: Option<&serde_json::Value>| d.and_then(|d| d["day"].as_str()).unwrap_or("").to_owned();
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| Bar {
            day: day(Some(d)),
            x: i as u64 * BAR,
            posts: count(d, "posts"),
            spam: count(d, "spam"),
            posts_h: count(d, "posts") * HEIGHT / max,
            spam_h: count(d, "spam") * HEIGHT / max,
        })
        .collect();
    let chart =
        Chart { width: WIDTH, height: HEIGHT, bar: BAR, max, first: day(days.first()), last: day(days.last()), bars };
    let ctx = minijinja::context! {
        queues => &stats["queues"],
        total => &stats["posts"],
        spam_percent => format!("{:.1}", stats["spam_rate"].as_f64().unwrap_or(0.0) * 100.0),
        chart,
    };
    Ok(super::page(StatusCode::OK, "stats.html", "Stats", Some(&forum), "stats", ctx))
}
