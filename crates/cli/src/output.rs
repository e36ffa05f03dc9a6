//! Terminal output: errors as `error:` / `caused by:` / `hint:`, stackfile errors
//! (with the offending line and a caret on a terminal), and AWS call statistics.
//! Everything but plans goes to stderr (so does an apply's progress, in
//! [`crate::progress`]).
//!
//! Colour follows `--color` and, on `auto`, cargo's rules (anstream): a terminal is
//! coloured unless `NO_COLOR` is set; `CLICOLOR_FORCE` colours a pipe. What is written
//! without colour is, byte for byte, the coloured text without its escape codes.

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};
use anstream::ColorChoice;
use anstream::stream::RawStream;
use anstyle::{AnsiColor, Style};
use bosun_aws::{AwsError, CallStats};
use bosun_stackfile::Diagnostics;

/// Exit code of a user error (also of a command line that does not parse).
pub const EXIT_USER: u8 = 1;
/// Exit code of `plan --detailed-exitcode` when there are changes.
pub const EXIT_CHANGES: u8 = 2;
/// Exit code of an internal error.
pub const EXIT_INTERNAL: u8 = 3;
/// Exit code of `plan` when the plan has conflicts: `apply` would refuse it (exit 1).
/// Not 2: a pipeline that reads 2 as "changes to apply" must not go on to apply.
pub const EXIT_CONFLICTS: u8 = 4;

/// A failed command: the error, an optional hint, and whose fault it was.
#[derive(Debug)]
pub struct Failure {
    /// The error and its causes.
    pub error: anyhow::Error,
    /// What to do about it.
    pub hint: Option<String>,
    /// User errors exit 1, internal ones 3.
    pub internal: bool,
    /// Already printed (validation diagnostics): only set the exit code.
    pub printed: bool,
}

impl Failure {
    /// A user error.
    pub fn user(error: impl Into<anyhow::Error>) -> Self {
        Self { error: error.into(), hint: None, internal: false, printed: false }
    }

    /// An internal error.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self { error: error.into(), hint: None, internal: true, printed: false }
    }

    /// Add a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Whether output to stdout is coloured (see the module docs).
pub fn stdout_color() -> bool {
    colored(&std::io::stdout())
}

/// Whether output to stderr is coloured (see the module docs).
pub fn stderr_color() -> bool {
    colored(&std::io::stderr())
}

fn colored(stream: &impl RawStream) -> bool {
    anstream::AutoStream::choice(stream) != ColorChoice::Never
}

/// `error:` as cargo colours it.
const ERROR: Style = AnsiColor::Red.on_default().bold();
/// `hint:`.
const HINT: Style = AnsiColor::Cyan.on_default().bold();

/// `style` when stderr is coloured, else no style at all.
fn on_stderr(style: Style) -> Style {
    if stderr_color() { style } else { Style::new() }
}

/// Print a failure and return its exit code.
pub fn report(f: &Failure) -> ExitCode {
    if !f.printed {
        let (error, hint) = (on_stderr(ERROR), on_stderr(HINT));
        let mut err = std::io::stderr().lock();
        let mut chain = f.error.chain();
        let top = chain.next().expect("an error chain starts with the error");
        let _ = writeln!(err, "{error}error:{error:#} {top}");
        // An AWS error already says the code and message; its sources are the SDK's
        // view of the same failure.
        let mut said_all = top.is::<AwsError>();
        for cause in chain {
            if said_all {
                break;
            }
            let _ = writeln!(err, "  caused by: {cause}");
            said_all = cause.is::<AwsError>();
        }
        if let Some(h) = &f.hint {
            let _ = writeln!(err, "{hint}hint:{hint:#} {h}");
        }
    }
    ExitCode::from(if f.internal { EXIT_INTERNAL } else { EXIT_USER })
}

/// Print a stackfile's errors on stderr. Piped (or in a log), one line each,
/// `FILE:LINE:COL: path: message`, for editors and CI annotations to read; on a
/// terminal, each with the offending line and a caret under its column, as rustc
/// shows errors.
pub fn print_diagnostics(file: &Path, source: &str, diags: &Diagnostics) {
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    if !stderr.is_terminal() {
        for d in &diags.0 {
            let _ = writeln!(err, "{}:{}:{}: {}: {}", file.display(), d.line, d.column, d.path, d.message);
        }
        return;
    }
    let renderer = if stderr_color() { Renderer::styled() } else { Renderer::plain() };
    let _ = write!(err, "{}", render_diagnostics(&renderer, &file.display().to_string(), source, diags));
}

/// The terminal form of [`print_diagnostics`]: every error as a snippet of its line.
/// An error the parser could not place (line 0) keeps the one-line form.
pub fn render_diagnostics(renderer: &Renderer, file: &str, source: &str, diags: &Diagnostics) -> String {
    let mut out = String::new();
    for d in &diags.0 {
        let title = if d.path.is_empty() { d.message.clone() } else { format!("{}: {}", d.path, d.message) };
        match source.lines().nth(d.line.wrapping_sub(1)) {
            Some(line) if d.line > 0 => {
                let line = printable_line(line);
                let span = token_at(&line, d.column);
                let report = [Level::ERROR.primary_title(&title).element(
                    Snippet::source(&line).line_start(d.line).path(file).annotation(AnnotationKind::Primary.span(span)),
                )];
                out.push_str(&renderer.render(&report));
                out.push_str("\n\n");
            }
            _ => out.push_str(&format!("{file}:{}:{}: {title}\n", d.line, d.column)),
        }
    }
    out
}

/// A source line as a terminal may show it: a control character (an escape sequence
/// could rewrite the screen) becomes U+FFFD, one character for one, so columns stay.
fn printable_line(line: &str) -> String {
    line.chars().map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect()
}

/// The byte range of the token that starts at 1-based character `column` of `line`:
/// a quoted scalar or flow collection whole, else up to the next space or YAML flow punctuation, without
/// a key's colon; at least one
/// character, and the line's end when the column is past it.
fn token_at(line: &str, column: usize) -> std::ops::Range<usize> {
    let start = line.char_indices().nth(column.saturating_sub(1)).map_or(line.len(), |(i, _)| i);
    let rest = &line[start..];
    // A quoted scalar is one token, spaces and all; so is a flow collection.
    match rest.chars().next() {
        Some(quote @ ('"' | '\'')) => {
            if let Some(end) = rest[1..].find(quote) {
                return start..start + end + 2;
            }
        }
        Some('[' | '{') => {
            let mut depth = 0usize;
            for (i, c) in rest.char_indices() {
                match c {
                    '[' | '{' => depth += 1,
                    ']' | '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    return start..start + i + 1;
                }
            }
        }
        _ => {}
    }
    let mut len = rest.find(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}' | '#')).unwrap_or(rest.len());
    if len > 1 && rest[..len].ends_with(':') {
        len -= 1;
    }
    if len == 0 {
        len = rest.chars().next().map_or(0, char::len_utf8);
    }
    start..start + len
}

/// Print call statistics on stderr.
pub fn print_stats(stats: &CallStats) {
    let (reads, writes) = stats.totals();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "aws calls: {reads} read, {writes} mutating");
    for c in stats.snapshot() {
        let _ = writeln!(
            err,
            "  {:<8} {:<26} {:<32} {}",
            if c.mutating { "mutating" } else { "read" },
            c.service,
            c.operation,
            c.calls
        );
    }
}

#[cfg(test)]
mod tests {
    use bosun_stackfile::Diagnostic;

    use super::*;

    fn diags() -> Diagnostics {
        let d = |line, column, path: &str, message: &str| Diagnostic {
            path: path.into(),
            line,
            column,
            message: message.into(),
        };
        Diagnostics(vec![
            d(3, 14, "services[0].api.image", "expected a string"),
            d(4, 7, "services[0].api.desird_count", "unknown key `desird_count`; did you mean `desired_count`?"),
            d(5, 17, "services[0].api.environment.GREETING", "not a valid value"),
            d(0, 0, "", "the document is empty"),
        ])
    }

    const SOURCE: &str = "services:\n  - api:\n      image: [acme/api, 2]\n      desird_count: 2\n      GREETING: \"hello \u{1b}[2J world\"\n";

    #[test]
    fn a_terminal_sees_the_line_and_a_caret_under_the_column() {
        insta::assert_snapshot!(render_diagnostics(&Renderer::plain(), "api.yml", SOURCE, &diags()));
    }

    #[test]
    fn coloured_diagnostics_keep_their_ansi_codes() {
        insta::assert_snapshot!(render_diagnostics(&Renderer::styled(), "api.yml", SOURCE, &diags()));
    }

    #[test]
    fn tokens_end_at_spaces_flow_punctuation_and_closing_quotes() {
        let line = "      image: [acme/api, 2]  # why";
        assert_eq!(&line[token_at(line, 15)], "acme/api");
        assert_eq!(&line[token_at(line, 14)], "[acme/api, 2]");
        assert_eq!(&line[token_at(line, 7)], "image");
        let quoted = "  k: 'a b' c";
        assert_eq!(&quoted[token_at(quoted, 6)], "'a b'");
        let flow = "  ports: [80, {public: 443}] # x";
        assert_eq!(&flow[token_at(flow, 10)], "[80, {public: 443}]");
        // Past the end of the line: an empty span at its end.
        assert_eq!(token_at("ab", 9), 2..2);
        // Columns count characters, not bytes.
        let accented = "  é: x";
        assert_eq!(&accented[token_at(accented, 6)], "x");
    }
}
