//! Markdown rendering of a plan for a pull-request (or merge-request) comment.
//!
//! The comment is what a reviewer approves, and what CI applies after the merge: it
//! carries the full plan hash twice, once in a hidden HTML comment a script finds
//! (`<!-- bosun-plan: cluster=NAME hash=HEX -->`) and once in the `bosun apply
//! --plan-hash` command it shows. Whatever else has to give way to GitHub's comment
//! size limit, those two and the summary table stay.
//!
//! Every string from the stackfile or from AWS is untrusted here as in
//! [`render_text`](crate::render_text): it goes through [`escape`] (control and
//! invisible characters), and then into a construct it cannot leave. Inline values
//! are code spans whose backtick run is longer than any in the value (so nothing in
//! them is Markdown, HTML, a link or an @mention), with `|` escaped inside table
//! cells; values in HTML (`<summary>`, the marker) are entity-escaped; diffs sit in
//! fences longer than any backtick run of their content. Environment values never
//! reach a plan's fields or diffs in the first place (see [`render`](crate::render)).

use std::fmt::Write as _;

use crate::fields::{Field, TaskDefinitionField};
use crate::render::{elide_registry, escape};
use crate::types::{Action, Change, FieldChange, Plan};

/// GitHub's limit on the body of an issue or pull-request comment, in characters.
/// GitHub validates the length of the body string (Ruby's `String#length`: Unicode
/// characters, not bytes) and answers 422 "Body is too long (maximum is 65536
/// characters)". GitLab's limit on a note is 1,000,000 characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

/// What [`MarkdownOptions::new`] caps a comment at: a little below
/// [`GITHUB_COMMENT_LIMIT`], for a line a CI script may add.
pub const DEFAULT_MAX_CHARS: usize = GITHUB_COMMENT_LIMIT - 1_536;

/// How long a value may be in a table cell before it is shortened; the full value
/// is in the resource's details.
const CELL_VALUE_CHARS: usize = 80;

/// How many field changes a table row shows before "and N more".
const CELL_FIELDS: usize = 3;

/// How a plan is rendered as Markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkdownOptions {
    /// The stackfile as given on the command line (`-f FILE`), for the `bosun apply`
    /// command the comment shows. The cluster of that command is the plan's own
    /// ([`Plan::cluster`], which is `--cluster`).
    pub file: String,
    /// The most characters (Unicode scalar values, as GitHub counts them) the output
    /// may have. Details and diffs are left out, from the end, to fit.
    pub max_chars: usize,
}

impl MarkdownOptions {
    /// Options for the stackfile `file`, capped for a GitHub comment.
    pub fn new(file: impl Into<String>) -> Self {
        Self { file: file.into(), max_chars: DEFAULT_MAX_CHARS }
    }
}

/// The hidden line a CI script finds the plan's comment and hash by:
/// `<!-- bosun-plan: cluster=NAME hash=HEX -->`. It is the first line of
/// [`render_markdown`]'s output.
pub fn marker(plan: &Plan) -> String {
    format!("<!-- bosun-plan: cluster={} hash={} -->", html(&plan.cluster), plan.hash)
}

/// Render the plan as a Markdown comment: the marker, a heading with the cluster and
/// the summary, conflicts, a table of the changes, a collapsible section per change
/// with its field changes and task-definition diff, orphans, the hash, and the
/// `bosun apply --plan-hash` command that applies exactly this plan.
///
/// The output has at most `options.max_chars` characters when the parts that always
/// stay fit: the details of changes are left out from the end (their diffs first),
/// then the list of orphans, then table rows, with a note that says what
/// was left out and where to see the full plan.
pub fn render_markdown(plan: &Plan, options: &MarkdownOptions) -> String {
    let head = head(plan);
    let table_rows: Vec<String> = plan.changes.iter().map(table_row).collect();
    let details: Vec<Details> = plan.changes.iter().map(Details::of).collect();
    let orphans = orphans(plan);
    let foot = foot(plan, options);

    // Start with everything, and give way from the end until it fits.
    let mut cut = Cut { rows: table_rows.len(), details: details.len(), diffs: details.len(), orphans: true };
    let table_head = if plan.changes.is_empty() { "" } else { TABLE_HEAD };
    let fixed = chars(&head) + chars(&foot) + chars(table_head);
    let row_len: Vec<usize> = table_rows.iter().map(|r| chars(r)).collect();
    let orphans_len = chars(&orphans.full);
    let length = |cut: &Cut| {
        let kept: usize = details[..cut.details]
            .iter()
            .enumerate()
            .map(|(i, d)| if i < cut.diffs { d.with_diff } else { d.without_diff })
            .sum::<usize>()
            + if cut.details > 0 { chars(DETAILS_HEAD) } else { 0 };
        let orphans = if cut.orphans { orphans_len } else { chars(&orphans.count_only) };
        let table = row_len[..cut.rows].iter().sum::<usize>();
        fixed + table + kept + orphans + chars(&note(plan, options, cut, &details_counts(&details, cut)))
    };
    while length(&cut) > options.max_chars {
        // From the end: the last section's diff, then that section, then the one
        // before it; then the orphans' names, then table rows. The head and foot
        // never go. The sections that stay are whole, with their diffs, but the last.
        if cut.details > 0 {
            let last = cut.details - 1;
            if last < cut.diffs && details[last].has_diff {
                cut.diffs = last;
            } else {
                cut.details = last;
            }
        } else if cut.orphans && !plan.orphans.is_empty() {
            cut.orphans = false;
        } else if cut.rows > 0 {
            cut.rows -= 1;
        } else {
            break;
        }
    }

    let mut out = head;
    out.push_str(table_head);
    for row in &table_rows[..cut.rows] {
        out.push_str(row);
    }
    if cut.details > 0 {
        out.push_str(DETAILS_HEAD);
        for (i, d) in details[..cut.details].iter().enumerate() {
            out.push_str(if i < cut.diffs { &d.full } else { &d.short });
        }
    }
    out.push_str(if cut.orphans { &orphans.full } else { &orphans.count_only });
    out.push_str(&note(plan, options, &cut, &details_counts(&details, &cut)));
    out.push_str(&foot);
    out
}

/// How much of each part is kept.
struct Cut {
    /// Table rows kept, from the first.
    rows: usize,
    /// Details sections kept, from the first.
    details: usize,
    /// Of those, how many keep their diff (the first `diffs`).
    diffs: usize,
    /// Whether the orphans are listed by name.
    orphans: bool,
}

/// What a cut leaves out: details sections, and diffs of the sections kept.
fn details_counts(details: &[Details], cut: &Cut) -> (usize, usize) {
    let dropped_details = details[cut.details..].iter().filter(|d| d.with_diff > 0).count();
    let dropped_diffs = details[..cut.details].iter().skip(cut.diffs).filter(|d| d.has_diff).count();
    (dropped_details, dropped_diffs)
}

const TABLE_HEAD: &str = "\n| | action | kind | name | service | detail |\n|---|---|---|---|---|---|\n";
const DETAILS_HEAD: &str = "\n#### Changes\n\n";

/// The marker, the heading and the conflicts.
fn head(plan: &Plan) -> String {
    let mut s = marker(plan);
    s.push('\n');
    let _ = writeln!(s, "### bosun plan for cluster {}\n", code(&plan.cluster));
    if plan.is_empty() && plan.conflicts.is_empty() {
        s.push_str("**No changes**: the live state matches the stackfile.\n");
    } else {
        let _ = writeln!(s, "**{}**", plan.summary_line());
    }
    if !plan.conflicts.is_empty() {
        let _ = writeln!(
            s,
            "\n> [!CAUTION]\n> **{} conflict(s)** with resources bosun does not own: `bosun apply` refuses this plan until they are resolved.\n",
            plan.conflicts.len()
        );
        for c in &plan.conflicts {
            let _ = writeln!(s, "- {} {}: {}", c.resource.kind.label(), code(&c.resource.name), code(&c.reason));
        }
    }
    s
}

/// One row of the summary table.
fn table_row(c: &Change) -> String {
    let action = match c.action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Adopt => "adopt",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::Run => "run once",
    };
    let service = c.service.as_deref().map_or_else(String::new, cell);
    let mut detail: Vec<String> = c.fields.iter().take(CELL_FIELDS).map(|f| cell(&short_field(f))).collect();
    if c.fields.len() > CELL_FIELDS {
        detail.push(format!("and {} more", c.fields.len() - CELL_FIELDS));
    }
    if c.fields.is_empty() && c.diff.is_some() {
        detail.push("see the diff".to_owned());
    }
    format!(
        "| {} | {action} | {} | {} | {service} | {} |\n",
        code(c.action.marker()),
        c.resource.kind.label(),
        cell(&c.resource.name),
        detail.join("<br>")
    )
}

/// A field change in a few words: an image as the compact text plan shows it
/// (`image: repo:1.0 -> 1.1`, see [`elide_registry`]), `field: before -> after`, or
/// `field: after` for a new value.
fn short_field(f: &FieldChange) -> String {
    let change = if f.before.is_empty() {
        shorten(&f.after)
    } else if f.field == Field::TaskDefinition(TaskDefinitionField::Image) {
        let (before, after) = elide_registry(&f.before, &f.after);
        format!("{} -> {}", shorten(before), shorten(after))
    } else {
        format!("{} -> {}", shorten(&f.before), shorten(&f.after))
    };
    format!("{}: {change}", f.field)
}

/// At most [`CELL_VALUE_CHARS`] characters of a value, with `…` if it was longer.
fn shorten(value: &str) -> String {
    if value.chars().count() <= CELL_VALUE_CHARS {
        value.to_owned()
    } else {
        let mut s: String = value.chars().take(CELL_VALUE_CHARS - 1).collect();
        s.push('…');
        s
    }
}

/// One change's collapsible section, with and without its diff; empty for a change
/// with neither field changes nor a diff.
struct Details {
    full: String,
    short: String,
    with_diff: usize,
    without_diff: usize,
    has_diff: bool,
}

impl Details {
    fn of(c: &Change) -> Self {
        if c.fields.is_empty() && c.diff.is_none() {
            // Its table row says all there is.
            return Self { full: String::new(), short: String::new(), with_diff: 0, without_diff: 0, has_diff: false };
        }
        let mut head = format!(
            "<details><summary><code>{}</code> {} <code>{}</code>{}</summary>\n\n",
            c.action.marker(),
            c.resource.kind.label(),
            html(&c.resource.name),
            match c.action {
                Action::Adopt => " (adopt: bosun takes ownership)",
                Action::Run => " (run once)",
                _ => "",
            }
        );
        if !c.fields.is_empty() {
            let mut lines = String::new();
            for f in &c.fields {
                if f.before.is_empty() {
                    let _ = writeln!(lines, "{}: {}", f.field, escape(&f.after));
                } else {
                    let _ = writeln!(lines, "{}: {} -> {}", f.field, escape(&f.before), escape(&f.after));
                }
            }
            head.push_str(&fenced("text", &lines));
        }
        let tail = "</details>\n\n";
        let short = format!("{head}{tail}");
        let full = match &c.diff {
            Some(diff) => {
                // The renderings are escaped already; a diff built some other way is too.
                let diff: String = diff.lines().map(|l| format!("{}\n", escape(l))).collect();
                format!("{head}{}{tail}", fenced("diff", &diff))
            }
            None => short.clone(),
        };
        Self { with_diff: chars(&full), without_diff: chars(&short), has_diff: c.diff.is_some(), full, short }
    }
}

/// The orphans, by name or only counted.
struct Orphans {
    full: String,
    count_only: String,
}

fn orphans(plan: &Plan) -> Orphans {
    if plan.orphans.is_empty() {
        return Orphans { full: String::new(), count_only: String::new() };
    }
    let intro = "\n#### Not in the stackfile\n\nOwned by bosun but no longer in the stackfile; left in place (`prune: true` deletes them):\n\n";
    let mut full = intro.to_owned();
    for o in &plan.orphans {
        let _ = writeln!(full, "- {} {}", o.resource.kind.label(), code(&o.resource.name));
    }
    let count_only = format!("{intro}- {} resource(s), not listed here to fit the comment\n", plan.orphans.len());
    Orphans { full, count_only }
}

/// The note on what was left out, or nothing.
fn note(plan: &Plan, options: &MarkdownOptions, cut: &Cut, (details, diffs): &(usize, usize)) -> String {
    let mut left_out = Vec::new();
    if *diffs > 0 {
        left_out.push(format!("{diffs} task-definition diff(s)"));
    }
    if *details > 0 {
        left_out.push(format!("the details of the last {details} change(s)"));
    }
    if !cut.orphans && !plan.orphans.is_empty() {
        left_out.push("the names of the orphans".to_owned());
    }
    if cut.rows < plan.changes.len() {
        left_out.push(format!("the last {} row(s) of the table", plan.changes.len() - cut.rows));
    }
    if left_out.is_empty() {
        return String::new();
    }
    format!(
        "\n> [!NOTE]\n> Left out to fit the comment size limit: {}. See the full plan in the CI job's log, or run {} locally.\n",
        left_out.join(", "),
        code(&format!("bosun plan --cluster {} -f {}", shell_word(&plan.cluster), shell_word(&options.file))),
    )
}

/// The hash and the apply command.
fn foot(plan: &Plan, options: &MarkdownOptions) -> String {
    let command = format!(
        "bosun apply --cluster {} -f {} --plan-hash {} --auto-approve\n",
        shell_word(&escape(&plan.cluster)),
        shell_word(&escape(&options.file)),
        plan.hash
    );
    format!(
        "\nPlan hash: `{}` (`{}`). Applying exactly this plan, and nothing if it changed:\n\n{}",
        plan.short_hash(),
        plan.hash,
        fenced("sh", &command)
    )
}

/// `text` in a fenced code block whose fence is longer than any run of backticks in
/// it, so nothing in it can close the block. `text` ends with a newline.
fn fenced(info: &str, text: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(text).max(2) + 1);
    format!("{fence}{info}\n{text}{fence}\n\n")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// An inline code span: nothing in it is Markdown or HTML.
fn code(text: &str) -> String {
    let text = escape(text);
    let ticks = "`".repeat(longest_backtick_run(&text) + 1);
    // A span that starts or ends with a backtick needs a space inside its delimiters
    // (which the renderer strips again).
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

/// A code span in a table cell: `|` still ends a cell inside a code span, unless
/// escaped (GFM strips the backslash).
fn cell(text: &str) -> String {
    code(text).replace('|', "\\|")
}

/// `text` as HTML text (in `<summary>`, and in the marker, an HTML comment).
fn html(text: &str) -> String {
    escape(text).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `word` as one shell word: as it is when it holds only characters no shell treats
/// specially, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Characters as GitHub counts them.
fn chars(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_is_longer_than_any_backtick_run_inside() {
        assert_eq!(fenced("diff", "a\n"), "```diff\na\n```\n\n");
        assert_eq!(fenced("diff", "a ````` b\n"), "``````diff\na ````` b\n``````\n\n");
    }

    #[test]
    fn code_spans_hold_backticks_and_pipes_inertly() {
        assert_eq!(code("web"), "`web`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x`"), "`` `x` ``");
        assert_eq!(cell("a|b"), "`a\\|b`");
        assert_eq!(code("a\nb"), "`a\\nb`");
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("stackfiles/demo.yml"), "stackfiles/demo.yml");
        assert_eq!(shell_word("my file's.yml"), "'my file'\\''s.yml'");
        assert_eq!(shell_word("$(rm -rf /)"), "'$(rm -rf /)'");
    }
}
