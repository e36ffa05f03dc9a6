//! What templates show, prepared in Rust: times as relative and absolute, plan and
//! diff lines with their kind, counts.

use std::time::{Duration, SystemTime};

/// A moment, shown as "3 min ago" with the absolute time beside it.
#[derive(Debug, Clone)]
pub struct When {
    /// RFC 3339, for `<time datetime>`.
    pub iso: String,
    /// `2026-11-27 19:50:03 UTC`.
    pub absolute: String,
    /// `3 min ago`, `in 5 min`.
    pub relative: String,
}

impl When {
    /// `text` (RFC 3339) against `now`; `None` when it does not parse.
    pub fn parse(text: &str, now: SystemTime) -> Option<Self> {
        let at = humantime::parse_rfc3339_weak(text.trim_end_matches('Z').trim_end_matches("+00:00"))
            .or_else(|_| humantime::parse_rfc3339(text))
            .ok()?;
        Some(Self::at(at, now))
    }

    /// `at` against `now`.
    pub fn at(at: SystemTime, now: SystemTime) -> Self {
        let secs = humantime::format_rfc3339_seconds(at).to_string();
        let absolute = format!("{} UTC", secs.trim_end_matches('Z').replace('T', " "));
        let relative = match now.duration_since(at) {
            Ok(ago) => format!("{} ago", short(ago)),
            Err(e) => format!("in {}", short(e.duration())),
        };
        Self { iso: secs, absolute, relative }
    }
}

/// `42 s`, `3 min`, `5 h`, `2 d`.
pub fn short(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// One line of a rendered plan or diff, with its kind for colour: `add`, `del`, `upd`
/// (`~`), `rep` (`±`), `hunk` (`@@`), or `ctx`.
#[derive(Debug, Clone)]
pub struct Line {
    /// The CSS class.
    pub kind: &'static str,
    /// The text, as rendered (escaped by the template).
    pub text: String,
}

/// The lines of a plan's text rendering, each with its kind: an entry's mark is in
/// column 0, and a task-definition diff's in column 4 (its lines are indented by 4).
pub fn lines(text: &str) -> Vec<Line> {
    classify(text, |l| l.strip_prefix("    ").unwrap_or(l))
}

/// The lines of a unified diff, each with its kind: the mark is the first character,
/// so a YAML list item (`  - web:`) in the context is context.
pub fn diff_lines(text: &str) -> Vec<Line> {
    classify(text, |l| l)
}

fn classify(text: &str, mark: impl Fn(&str) -> &str) -> Vec<Line> {
    text.lines()
        .map(|l| {
            let t = mark(l);
            let kind = if t.starts_with("@@") {
                "hunk"
            } else if t.starts_with("+++") || t.starts_with("---") {
                "ctx"
            } else if t.starts_with('+') {
                "add"
            } else if t.starts_with('-') {
                "del"
            } else if t.starts_with('~') {
                "upd"
            } else if t.starts_with('±') {
                "rep"
            } else {
                "ctx"
            };
            Line { kind, text: l.to_owned() }
        })
        .collect()
}

/// A unified diff from `old` to `new`, labelled, with three lines of context.
pub fn unified(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    similar::TextDiff::from_lines(old, new).unified_diff().context_radius(3).header(old_label, new_label).to_string()
}

/// The tag of an image reference: after the last `:` of its last path segment.
pub fn tag_of(image: &str) -> Option<&str> {
    let repo = image.split_once('@').map_or(image, |(r, _)| r);
    repo.rsplit_once(':').filter(|(_, t)| !t.contains('/')).map(|(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_both_ways() {
        let now = humantime::parse_rfc3339("2026-11-27T20:00:00Z").unwrap();
        let w = When::parse("2026-11-27T19:57:00Z", now).unwrap();
        assert_eq!((w.relative.as_str(), w.absolute.as_str()), ("3 min ago", "2026-11-27 19:57:00 UTC"));
        let w = When::parse("2026-11-27T19:59:59.123456Z", now).unwrap();
        assert_eq!(w.relative, "0 s ago");
        assert_eq!(When::parse("2026-11-28T20:00:00Z", now).unwrap().relative, "in 1 d");
        assert!(When::parse("yesterday", now).is_none());
    }

    #[test]
    fn plan_lines_are_classed_by_their_mark() {
        let plan =
            "+ create x\n~ update y\n- delete z\n± replace w\n    @@ -1 +1 @@\n    -a\n    +b\n     c\n       - 80/tcp";
        let kinds: Vec<_> = lines(plan).into_iter().map(|l| l.kind).collect();
        assert_eq!(kinds, ["add", "upd", "del", "rep", "hunk", "del", "add", "ctx", "ctx"]);
    }

    #[test]
    fn diff_lines_are_classed_by_their_first_character() {
        let diff = "--- a\n+++ b\n@@ -1,3 +1,3 @@\n   - web:\n-    image: x:1\n+    image: x:2\n     memory: 128";
        let kinds: Vec<_> = diff_lines(diff).into_iter().map(|l| l.kind).collect();
        assert_eq!(kinds, ["ctx", "ctx", "hunk", "ctx", "del", "add", "ctx"]);
    }

    #[test]
    fn tags() {
        assert_eq!(tag_of("nginx:1.27"), Some("1.27"));
        assert_eq!(tag_of("localhost:5000/app"), None);
        assert_eq!(tag_of("app@sha256:abc"), None);
    }
}
