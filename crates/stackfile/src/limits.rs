//! The limits of a stackfile, each taken from the AWS limit it protects, and the text
//! rules every string of a stackfile follows.
//!
//! A stackfile that AWS would refuse is refused here, before anything is stored or
//! planned, with the limit named in the error. The per-field string limits live in
//! the schema (`maxLength`, `maxItems` on the `raw` types); the walker enforces them.
//! What AWS bounds only as a whole (a task definition's size, a hook's overrides) is
//! checked on the normalised values. `docs/stackfile.md` lists every limit and its
//! source.

/// Largest stackfile, in bytes: the API's body limit, so that what the API accepts the
/// command line accepts too, and the parsed document stays bounded.
pub const MAX_STACKFILE_BYTES: usize = 1 << 20;

/// Services (and `type: task` entries) per stackfile. AWS allows 5,000 services per
/// cluster; bosun plans a whole cluster in one request, and 1,000 keeps a plan of the
/// largest stackfile within a few megabytes (see `docs/stackfile.md`).
pub const MAX_SERVICES: usize = 1_000;

/// Largest task definition, in bytes of its JSON: the ECS quota "task definition size"
/// (64 KiB, not adjustable).
pub const MAX_TASK_DEFINITION_BYTES: usize = 64 * 1024;

/// Largest container override of a hook's RunTask, in characters of its JSON: "a total
/// of 8192 characters are allowed for overrides" (ECS RunTask).
pub const MAX_OVERRIDE_CHARS: usize = 8192;

/// ECS names (cluster, service, container, task definition family): "up to 255
/// letters, numbers, underscores and hyphens".
pub const MAX_ECS_NAME: usize = 255;

/// A string with no limit of its own in the schema: the task definition it ends up in
/// is at most 64 KiB.
pub const MAX_STRING: usize = MAX_TASK_DEFINITION_BYTES;

/// A mapping key: every key names an ECS resource (at most 255 characters), or an
/// environment variable or log option, which AWS bounds only through the 64 KiB task
/// definition; bosun takes the same 255 for those.
pub const MAX_KEY: usize = MAX_ECS_NAME;

/// The schema keyword that lets the strings below a node span lines (environment values
/// and commands); every other string is one line.
pub(crate) const MULTILINE: &str = "x-bosun-multiline";

/// Why a string is refused, or `None` when it is fine. `multiline` allows tabs and line
/// breaks (environment values, commands); everything else is one line of printable
/// text, because AWS or the plan would take a control character literally.
pub(crate) fn text_problem(text: &str, multiline: bool) -> Option<String> {
    let bad = text.chars().find(|&c| forbidden(c, multiline))?;
    let what = match bad {
        '\n' | '\r' => "a line break".to_string(),
        '\t' => "a tab".to_string(),
        c if c.is_control() => format!("the control character {}", escape_char(c)),
        c => format!("the invisible formatting character {}", escape_char(c)),
    };
    let allowed = if multiline { "" } else { " (this field is one line)" };
    Some(format!("contains {what}{allowed}; AWS would take it literally and a plan would not show it"))
}

/// Whether `c` may not appear in a string: control characters (tabs and line breaks
/// only where `multiline`), and the invisible characters that reorder or hide text
/// (bidirectional overrides, zero-width characters, the byte-order mark), with which a
/// value could read differently from what it is.
pub(crate) fn forbidden(c: char, multiline: bool) -> bool {
    if c.is_control() {
        return !(multiline && matches!(c, '\n' | '\r' | '\t'));
    }
    matches!(
        c,
        '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// `U+XXXX` for a character, as Unicode names it.
fn escape_char(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

/// A value as an error message quotes it: printable (escaped as Rust would), and cut
/// to `max` characters.
pub(crate) fn quote(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        if forbidden(c, false) || c == '"' || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    format!("\"{out}\"")
}

/// A name as an error message quotes it: `` `name` `` when it is short and printable,
/// else [`quote`]d.
pub(crate) fn name(text: &str) -> String {
    if text.len() <= 64 && !text.chars().any(|c| forbidden(c, false)) { format!("`{text}`") } else { quote(text, 64) }
}

/// `n` with thousands separators, as limits are written in messages.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_strings_refuse_controls_and_invisible_characters() {
        assert_eq!(text_problem("nginx:1.27", false), None);
        assert_eq!(text_problem("café ünïcode 名前", false), None);
        for bad in ["a\nb", "a\rb", "a\tb", "a\u{1b}[31m", "a\u{0}b", "a\u{7f}", "a\u{9b}b", "a\u{202e}b", "\u{feff}a"]
        {
            assert!(text_problem(bad, false).is_some(), "{bad:?}");
        }
        assert!(text_problem("a\nb", false).unwrap().starts_with("contains a line break (this field is one line)"));
        assert!(text_problem("a\u{1b}", false).unwrap().contains("U+001B"));
    }

    #[test]
    fn multiline_strings_take_line_breaks_and_tabs_only() {
        assert_eq!(text_problem("line 1\nline 2\r\n\tindented", true), None);
        assert!(text_problem("a\u{1b}[2J", true).is_some());
        assert!(text_problem("a\u{0}", true).is_some());
        assert!(text_problem("a\u{2066}b", true).is_some());
    }

    #[test]
    fn quotes_are_printable_and_short() {
        assert_eq!(quote("a\nb\u{1b}\"", 10), r#""a\nb\u{1b}\"""#);
        assert_eq!(quote(&"x".repeat(100), 4), "\"xxxx…\"");
        assert_eq!(thousands(1_048_576), "1,048,576");
        assert_eq!(thousands(255), "255");
    }
}
