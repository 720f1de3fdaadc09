//! Where the browser may be sent after a form: one rule for every redirect that takes
//! its target from a request (a log-in's `next`, a dashboard form's `back`), so none of
//! them is an open redirect or a way out of the area it names.

/// `target` as a path confined to `area` (`/dashboard/sf`: that page or anything below
/// it), normalised, with its query kept; `None` for anything else. Dot segments are
/// resolved before the check (`/dashboard/sf/../../account` is outside), and what a
/// browser or proxy might read differently is refused outright: another host (`//`),
/// backslashes, encoded dots, slashes or backslashes, fragments, spaces and controls.
pub(crate) fn confined(target: &str, area: &str) -> Option<String> {
    if !target.bytes().all(|b| b.is_ascii_graphic() && !b"\\\"<>#'`".contains(&b)) {
        return None;
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let lower = path.to_ascii_lowercase();
    if !path.starts_with('/')
        || path.starts_with("//")
        || ["%2e", "%2f", "%5c", "%00"].iter().any(|e| lower.contains(e))
    {
        return None;
    }
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    let mut segments: Vec<&str> = Vec::new();
    for (i, s) in parts.iter().enumerate() {
        match *s {
            "." => {}
            ".." => {
                segments.pop();
            }
            "" if i + 1 == parts.len() => {} // a trailing slash
            "" => return None,               // `a//b`
            s => segments.push(s),
        }
    }
    let normal = format!("/{}", segments.join("/"));
    let inside = normal == area || normal.strip_prefix(area).is_some_and(|rest| rest.starts_with('/'));
    inside.then(|| match query {
        Some(q) => format!("{normal}?{q}"),
        None => normal,
    })
}

#[cfg(test)]
mod tests {
    use super::confined;
    use proptest::prelude::*;

    #[test]
    fn pages_inside_the_area_pass_normalised() {
        for (t, want) in [
            ("/dashboard/sf", "/dashboard/sf"),
            ("/dashboard/sf/queue?state=pending&q=a%20b", "/dashboard/sf/queue?state=pending&q=a%20b"),
            ("/dashboard/sf/./users/../queue", "/dashboard/sf/queue"),
            ("/dashboard/sf/", "/dashboard/sf"),
        ] {
            assert_eq!(confined(t, "/dashboard/sf").as_deref(), Some(want), "{t}");
        }
    }

    #[test]
    fn everything_else_is_refused() {
        for t in [
            "/dashboard/sf/../../account",
            "/dashboard/sf/../other",
            "/dashboard/sfo",
            "/dashboard/sf/%2e%2e/%2E%2E/account",
            "/dashboard/sf/..%2faccount",
            "/dashboard/sf\\..\\..\\account",
            "//evil.example/dashboard/sf",
            "https://evil.example/dashboard/sf",
            "/dashboard/sf//evil",
            "/dashboard/sf/#x",
            "dashboard/sf",
            "/dashboard/sf/\u{0}",
            "/dashboard/sf/ x",
            "",
        ] {
            assert_eq!(confined(t, "/dashboard/sf"), None, "{t}");
        }
    }

    proptest! {
        /// Whatever comes in, what goes out is a plain path inside the area.
        #[test]
        fn the_result_is_always_inside(t in "[/a-z.%2eEfF5cC?=&\\\\#]{0,40}") {
            if let Some(out) = confined(&t, "/dashboard/sf") {
                let path = out.split('?').next().unwrap();
                prop_assert!(path == "/dashboard/sf" || path.starts_with("/dashboard/sf/"), "{t} -> {out}");
                prop_assert!(!path.split('/').any(|s| s == ".." || s == "."), "{t} -> {out}");
                prop_assert!(!out.contains("//") && !out.contains('\\'), "{t} -> {out}");
            }
        }
    }
}
