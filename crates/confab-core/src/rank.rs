//! Ranking scores for the `best` and `hot` sorts.
//!
//! Both are pure functions of a post's counters (and creation time), so they are
//! stored next to the counters and updated in the same atomic statement as a vote;
//! they never change as time passes, which keeps keyset pagination on them stable.
//! The SQL backends call exactly these functions (SQLite registers them as SQL
//! functions), so Rust and SQL can never disagree.

/// z for a 95% confidence interval.
const Z: f64 = 1.959_963_984_540_054;
/// Seconds of age worth one order of magnitude of points in `hot`.
const HOT_HALF_LIFE_SECS: f64 = 45_000.0;
/// Zero of the `hot` clock (2025-01-01T00:00:00Z), to keep the values small.
const HOT_EPOCH_SECS: f64 = 1_735_689_600.0;

/// `best`: the lower bound of the Wilson score interval for the share of up-votes.
/// A post with 10 up and 1 down outranks one with 1 up and 0 down: confidence grows
/// with the number of votes. No votes score 0.
pub fn best_score(likes: i64, dislikes: i64) -> f64 {
    let (up, down) = (likes.max(0) as f64, dislikes.max(0) as f64);
    let n = up + down;
    if n == 0.0 {
        return 0.0;
    }
    let p = up / n;
    let z2 = Z * Z;
    (p + z2 / (2.0 * n) - Z * ((p * (1.0 - p) + z2 / (4.0 * n)) / n).sqrt()) / (1.0 + z2 / n)
}

/// `hot`: points on a log scale plus age, so ten times the points buys 12.5 hours of
/// freshness (the formula Reddit made familiar, with `|points| + 1` inside the log so
/// that one up- or down-vote counts: Reddit's `max(|points|, 1)` scores ±1 as 0).
pub fn hot_score(points: i64, created_unix_ms: i64) -> f64 {
    let order = (points.unsigned_abs().saturating_add(1) as f64).log10();
    let sign = points.signum() as f64;
    let secs = created_unix_ms as f64 / 1000.0 - HOT_EPOCH_SECS;
    sign * order + secs / HOT_HALF_LIFE_SECS
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn best_prefers_confidence() {
        assert_eq!(best_score(0, 0), 0.0);
        assert!(best_score(10, 1) > best_score(1, 0));
        assert!(best_score(100, 0) > best_score(10, 0));
        assert!(best_score(5, 5) < best_score(5, 0));
    }

    #[test]
    fn hot_trades_points_for_age() {
        let t = 1_800_000_000_000;
        assert!(hot_score(10, t) > hot_score(1, t));
        assert!(hot_score(1, t + 3_600_000) > hot_score(1, t));
        assert!(hot_score(-10, t) < hot_score(0, t));
        assert!(hot_score(1, t) > hot_score(0, t) && hot_score(0, t) > hot_score(-1, t));
        // Ten times the (points + 1) is worth 45,000 seconds.
        assert!((hot_score(9, t) - hot_score(0, t + 45_000_000)).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn best_is_a_finite_share(up in 0i64..1_000_000, down in 0i64..1_000_000) {
            let s = best_score(up, down);
            prop_assert!(s.is_finite() && (0.0..=1.0).contains(&s));
        }

        #[test]
        fn hot_is_finite(points in i64::MIN / 2..i64::MAX / 2, ms in 0i64..4_000_000_000_000) {
            prop_assert!(hot_score(points, ms).is_finite());
        }
    }
}
