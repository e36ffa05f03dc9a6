//! A stackfile as a document: its JSON view, YAML made from a JSON body, and in-place
//! edits that keep the author's comments, key order and layout.
//!
//! The API stores YAML. A client may send JSON ([`json_to_yaml`]) and may read JSON
//! ([`to_json`]); both directions keep every scalar's text, so a value such as
//! `"0123"` or `1e3` reads the same to the stackfile loader after a round trip.
//! Edits ([`set_service`], [`remove_service`]) splice the text at the positions the
//! located parser reports, instead of re-serialising the document, so that a
//! ChatOps image bump does not strip the comments of a hand-written file.
//!
//! A reader who may not see environment values gets a redacted view
//! ([`to_json_text_redacted`], [`to_yaml_redacted`]): every environment value (under
//! `defaults` and each service) and the notification webhook URLs (credentials) read
//! [`REDACTED`]; names, and everything else, stay. The YAML view is made from the
//! redacted document, so the stored text's comments, which could hold anything, are
//! not in it.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{LoaderOptions, Node};
use serde_json::{Map, Number, Value};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::limits::{MAX_STACKFILE_BYTES, thousands};
use crate::walk::load_error;

/// A change to one service of a stackfile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceEdit {
    /// The new tag of the service's image (`repo:old` -> `repo:new`).
    pub image_tag: Option<String>,
    /// The new task count; 0 is a valid count.
    pub desired_count: Option<u32>,
}

/// Why an edit could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The stored document does not parse.
    #[error("the stackfile does not parse: {0}")]
    Parse(Diagnostics),
    /// No service of that name.
    #[error("no service `{0}` in the stackfile")]
    NoSuchService(String),
    /// The value is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The document's layout is one the splicer does not edit (flow style, multi-line
    /// scalars); the whole stackfile must be PUT instead.
    #[error("cannot edit `{0}` in place (flow-style or multi-line YAML); PUT the whole stackfile instead")]
    Layout(String),
}

fn parse(source: &str) -> Result<Node, Diagnostics> {
    // `prevent_coercion` marks quoted scalars (only plain ones may coerce).
    let options = LoaderOptions::default().prevent_coercion(true).error_on_duplicate_keys(true);
    marked_yaml::parse_yaml_with_options(0, source, options).map_err(|e| Diagnostics(vec![load_error(&e)]))
}

/// The JSON view of a YAML stackfile. Plain scalars that YAML 1.2 reads as null, a
/// boolean or a number become that JSON type when the number prints back as the same
/// text; every other scalar (quoted, `0123`, `1e3`, `yes`) stays a string.
pub fn to_json(source: &str) -> Result<Value, Diagnostics> {
    Ok(node_to_json(&parse(source)?))
}

/// [`to_json`] as text, with the keys in the document's order (a `serde_json` map
/// sorts them).
pub fn to_json_text(source: &str) -> Result<String, Diagnostics> {
    let mut out = String::new();
    write_json(&parse(source)?, &mut out, &mut Vec::new(), false);
    Ok(out)
}

/// What a redacted view shows in place of a value.
pub const REDACTED: &str = "<redacted>";

/// [`to_json_text`] with every environment value and notification webhook URL
/// replaced by [`REDACTED`].
pub fn to_json_text_redacted(source: &str) -> Result<String, Diagnostics> {
    let mut out = String::new();
    write_json(&parse(source)?, &mut out, &mut Vec::new(), true);
    Ok(out)
}

/// Block YAML of [`to_json_text_redacted`]: the document's keys in its order, with no
/// comments.
pub fn to_yaml_redacted(source: &str) -> Result<String, Diagnostics> {
    json_to_yaml(&to_json_text_redacted(source)?)
}

/// A diagnostic for every environment value or webhook URL that is [`REDACTED`]
/// itself: a redacted view sent back as it was read, which must not be stored as the
/// value.
pub fn redaction_markers(source: &str) -> Result<Vec<Diagnostic>, Diagnostics> {
    fn walk<'n>(node: &'n Node, path: &mut Vec<Segment<'n>>, found: &mut Vec<Diagnostic>) {
        match node {
            Node::Scalar(s) if s.as_str() == REDACTED && is_secret(path) => {
                let start = node.span().start();
                found.push(Diagnostic {
                    path: path_text(path),
                    line: start.map_or(0, |m| m.line()),
                    column: start.map_or(0, |m| m.column()),
                    message: format!("`{REDACTED}` is what a redacted read shows in place of a value: send the value"),
                });
            }
            Node::Scalar(_) => {}
            Node::Sequence(q) => {
                for (i, item) in q.iter().enumerate() {
                    path.push(Segment::Index(i));
                    walk(item, path, found);
                    path.pop();
                }
            }
            Node::Mapping(m) => {
                for (k, v) in m.iter() {
                    path.push(Segment::Key(k.as_str()));
                    walk(v, path, found);
                    path.pop();
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(&parse(source)?, &mut Vec::new(), &mut found);
    Ok(found)
}

/// One step of a path into the document.
#[derive(Debug, Clone, Copy)]
enum Segment<'n> {
    Key(&'n str),
    Index(usize),
}

/// Whether a scalar at `path` is a value a redacted view hides: anything under an
/// `environment` (of `defaults`, of a service in either dialect's `services`, or of one
/// of a service's sidecars under `containers`) or a notification webhook URL.
fn is_secret(path: &[Segment<'_>]) -> bool {
    use Segment::{Index, Key};
    matches!(
        path,
        [Key("defaults"), Key("environment"), ..]
            | [Key("services"), Index(_), Key(_), Key("environment"), ..]
            | [Key("services"), Key(_), Key("environment"), ..]
            | [Key("services"), Index(_), Key(_), Key("containers"), Index(_), Key("environment"), ..]
            | [Key("services"), Key(_), Key("containers"), Index(_), Key("environment"), ..]
            | [Key("notifications"), Key("slack_webhook" | "webhook"), ..]
    )
}

/// `services[0].web.environment.KEY`, as diagnostics write paths.
fn path_text(path: &[Segment<'_>]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn write_json<'n>(node: &'n Node, out: &mut String, path: &mut Vec<Segment<'n>>, redact: bool) {
    match node {
        Node::Scalar(_) if redact && is_secret(path) => out.push_str(&Value::from(REDACTED).to_string()),
        Node::Scalar(s) => out.push_str(&scalar_to_json(s).to_string()),
        Node::Sequence(q) => {
            out.push('[');
            for (i, item) in q.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                path.push(Segment::Index(i));
                write_json(item, out, path, redact);
                path.pop();
            }
            out.push(']');
        }
        Node::Mapping(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.as_str().to_owned()).to_string());
                out.push(':');
                path.push(Segment::Key(k.as_str()));
                write_json(v, out, path, redact);
                path.pop();
            }
            out.push('}');
        }
    }
}

fn node_to_json(node: &Node) -> Value {
    match node {
        Node::Scalar(s) => scalar_to_json(s),
        Node::Sequence(q) => Value::Array(q.iter().map(node_to_json).collect()),
        Node::Mapping(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.as_str().to_owned(), node_to_json(v))).collect::<Map<_, _>>())
        }
    }
}

fn scalar_to_json(s: &MarkedScalarNode) -> Value {
    let text = s.as_str();
    if !s.may_coerce() {
        return Value::String(text.to_owned());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>()
        && i.to_string() == text
    {
        return Value::Number(i.into());
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64)
        && n.to_string() == text
    {
        return Value::Number(n);
    }
    Value::String(text.to_owned())
}

/// Block-style YAML with the content, and the key order, of a JSON document. Errors
/// carry the line and column in the JSON text.
pub fn json_to_yaml(json: &str) -> Result<String, Diagnostics> {
    let value: Value = serde_json::from_str(json).map_err(|e| {
        Diagnostics(vec![Diagnostic {
            path: String::new(),
            line: e.line(),
            column: e.column(),
            message: format!("invalid JSON: {e}"),
        }])
    })?;
    if !value.is_object() {
        return Err(Diagnostics(vec![Diagnostic {
            path: String::new(),
            line: 1,
            column: 1,
            message: "the stackfile must be a JSON object".into(),
        }]));
    }
    let mut out = String::new();
    // JSON is YAML: the located parser keeps the key order that serde_json's map does
    // not. A JSON text it cannot read (tabs as indentation, say) falls back to the
    // parsed value, with its keys in sorted order.
    match parse(json) {
        Ok(node) => emit_node(&node, 0, &mut out),
        Err(_) => emit_value(&value, 0, &mut out),
    }
    if out.len() > MAX_STACKFILE_BYTES {
        // Block YAML indents every level: deeply nested JSON grows, and the emitters
        // stop once the text is over the limit rather than build it.
        return Err(Diagnostics(vec![Diagnostic {
            path: String::new(),
            line: 1,
            column: 1,
            message: format!(
                "the stackfile as YAML is larger than the limit of {} bytes (1 MiB)",
                thousands(MAX_STACKFILE_BYTES)
            ),
        }]));
    }
    Ok(out)
}

/// Whether the text being emitted is over the limit already: the emitters stop.
fn full(out: &str) -> bool {
    out.len() > MAX_STACKFILE_BYTES
}

fn emit_node(node: &Node, indent: usize, out: &mut String) {
    match node {
        Node::Mapping(m) if !m.is_empty() => {
            for (k, v) in m.iter() {
                if full(out) {
                    return;
                }
                push_indent(out, indent);
                out.push_str(&quote(k.as_str()));
                out.push(':');
                emit_child(v, indent, out);
            }
        }
        Node::Sequence(q) if !q.is_empty() => {
            for item in q.iter() {
                if full(out) {
                    return;
                }
                push_item(
                    out,
                    indent,
                    |buf| emit_node(item, indent + 2, buf),
                    matches!(item, Node::Scalar(_)),
                    || scalar_text(item),
                );
            }
        }
        Node::Mapping(_) => out.push_str("{}\n"),
        Node::Sequence(_) => out.push_str("[]\n"),
        Node::Scalar(_) => {
            out.push_str(&scalar_text(node));
            out.push('\n');
        }
    }
}

fn emit_child(v: &Node, indent: usize, out: &mut String) {
    match v {
        Node::Scalar(_) => {
            out.push(' ');
            out.push_str(&scalar_text(v));
            out.push('\n');
        }
        Node::Mapping(m) if m.is_empty() => out.push_str(" {}\n"),
        Node::Sequence(q) if q.is_empty() => out.push_str(" []\n"),
        _ => {
            out.push('\n');
            emit_node(v, indent + 2, out);
        }
    }
}

/// A sequence item: `- scalar`, or a collection whose first line moves up onto the dash.
fn push_item(
    out: &mut String,
    indent: usize,
    emit: impl FnOnce(&mut String),
    scalar: bool,
    text: impl FnOnce() -> String,
) {
    push_indent(out, indent);
    out.push_str("- ");
    if scalar {
        out.push_str(&text());
        out.push('\n');
        return;
    }
    let mut buf = String::new();
    emit(&mut buf);
    out.push_str(buf.get(indent + 2..).unwrap_or(buf.trim_start()));
}

fn scalar_text(node: &Node) -> String {
    match node {
        // A plain scalar of a JSON document is a number, a boolean or null: safe as is.
        Node::Scalar(s) if s.may_coerce() => s.as_str().to_owned(),
        Node::Scalar(s) => quote(s.as_str()),
        _ => unreachable!("scalar_text is only called on scalars"),
    }
}

fn emit_value(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                if full(out) {
                    return;
                }
                push_indent(out, indent);
                out.push_str(&quote(k));
                out.push(':');
                match v {
                    Value::Object(c) if !c.is_empty() => {
                        out.push('\n');
                        emit_value(v, indent + 2, out);
                    }
                    Value::Array(c) if !c.is_empty() => {
                        out.push('\n');
                        emit_value(v, indent + 2, out);
                    }
                    _ => {
                        out.push(' ');
                        emit_value(v, indent, out);
                    }
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                if full(out) {
                    return;
                }
                let scalar = !matches!(item, Value::Object(o) if !o.is_empty())
                    && !matches!(item, Value::Array(a) if !a.is_empty());
                push_item(
                    out,
                    indent,
                    |buf| emit_value(item, indent + 2, buf),
                    scalar,
                    || {
                        let mut s = String::new();
                        emit_value(item, 0, &mut s);
                        s.trim_end().to_owned()
                    },
                );
            }
        }
        Value::Object(_) => out.push_str("{}\n"),
        Value::Array(_) => out.push_str("[]\n"),
        Value::String(s) => {
            out.push_str(&quote(s));
            out.push('\n');
        }
        other => {
            out.push_str(&other.to_string());
            out.push('\n');
        }
    }
}

fn push_indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A string as a YAML scalar: plain when it cannot read as anything else, otherwise
/// double-quoted (JSON string escapes are valid YAML).
pub(crate) fn quote(s: &str) -> String {
    if is_safe_plain(s) { s.to_owned() } else { serde_json::to_string(s).expect("strings always serialise") }
}

fn is_safe_plain(s: &str) -> bool {
    const KEYWORDS: &[&str] = &["true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"];
    let Some(first) = s.chars().next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '/' || first == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "_./:@+=-".contains(c))
        && !s.ends_with(':')
        && !s.contains(": ")
        && !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(s))
}

/// A document's text split into lines, with the character offset of each line start.
struct Lines {
    /// Character offset of the start of each line (0-based lines).
    starts: Vec<usize>,
    chars: Vec<char>,
}

impl Lines {
    fn new(source: &str) -> Self {
        let chars: Vec<char> = source.chars().collect();
        let mut starts = vec![0];
        starts.extend(chars.iter().enumerate().filter(|(_, c)| **c == '\n').map(|(i, _)| i + 1));
        Self { starts, chars }
    }

    /// The text of 1-based line `n`, without its newline.
    fn line(&self, n: usize) -> String {
        let start = self.starts[n - 1];
        let end = self.starts.get(n).map_or(self.chars.len(), |e| e - 1);
        self.chars[start..end].iter().collect()
    }

    fn count(&self) -> usize {
        self.starts.len()
    }

    /// Apply edits given as (start char, end char, replacement), in any order.
    fn splice(&self, mut edits: Vec<(usize, usize, String)>) -> String {
        edits.sort_by_key(|e| std::cmp::Reverse(e.0));
        let mut chars = self.chars.clone();
        for (start, end, text) in edits {
            chars.splice(start..end, text.chars());
        }
        chars.into_iter().collect()
    }
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Where a service sits in the document.
struct Located<'n> {
    /// 1-based line of the entry's first line (`- web:` or `web:`).
    line: usize,
    /// Indentation that ends the entry: the dash's column, or the key's.
    indent: usize,
    /// The service's body.
    body: &'n MarkedMappingNode,
}

fn locate<'n>(root: &'n Node, lines: &Lines, service: &str) -> Result<Located<'n>, EditError> {
    let services = root
        .as_mapping()
        .and_then(|m| m.get_node("services"))
        .ok_or_else(|| EditError::NoSuchService(service.into()))?;
    let found = match services {
        Node::Sequence(q) => q.iter().find_map(|item| {
            let m = item.as_mapping()?;
            let (k, v) = m.iter().next()?;
            (k.as_str() == service).then_some((k, v))
        }),
        Node::Mapping(m) => m.iter().find(|(k, _)| k.as_str() == service),
        Node::Scalar(_) => None,
    };
    let (key, body) = found.ok_or_else(|| EditError::NoSuchService(service.into()))?;
    let body = body.as_mapping().ok_or_else(|| EditError::Layout(service.into()))?;
    let start = key.span().start().ok_or_else(|| EditError::Layout(service.into()))?;
    let text = lines.line(start.line());
    let before: String = text.chars().take(start.column() - 1).collect();
    let indent = match services {
        // `  - web:`: the dash opens the entry.
        Node::Sequence(_) if before.trim() == "-" => indent_of(&before),
        Node::Mapping(_) if before.trim().is_empty() => before.len(),
        _ => return Err(EditError::Layout(service.into())),
    };
    Ok(Located { line: start.line(), indent, body })
}

/// The character range of a single-line scalar value, quotes included. The loader
/// marks where a scalar starts; its end is found in the text.
fn scalar_range(node: &Node, lines: &Lines, what: &str) -> Result<(usize, usize), EditError> {
    let layout = || EditError::Layout(what.into());
    let Node::Scalar(scalar) = node else {
        return Err(layout());
    };
    let start = node.span().start().ok_or_else(layout)?.character();
    let line_end = lines.starts.iter().find(|s| **s > start).map_or(lines.chars.len(), |s| s - 1);
    let text = &lines.chars[start..line_end];
    let end = match text.first() {
        Some('"') => {
            let mut i = 1;
            loop {
                match text.get(i) {
                    Some('\\') => i += 2,
                    Some('"') => break i + 1,
                    Some(_) => i += 1,
                    None => return Err(layout()),
                }
            }
        }
        Some('\'') => {
            let mut i = 1;
            loop {
                match (text.get(i), text.get(i + 1)) {
                    (Some('\''), Some('\'')) => i += 2,
                    (Some('\''), _) => break i + 1,
                    (Some(_), _) => i += 1,
                    (None, _) => return Err(layout()),
                }
            }
        }
        _ => {
            // A plain scalar on one line is exactly its content.
            let content: Vec<char> = scalar.as_str().chars().collect();
            if !text.starts_with(&content) {
                return Err(layout());
            }
            content.len()
        }
    };
    Ok((start, start + end))
}

/// Set the image tag and/or the desired count of one service, in place.
pub fn set_service(source: &str, service: &str, edit: &ServiceEdit) -> Result<String, EditError> {
    let root = parse(source).map_err(EditError::Parse)?;
    let lines = Lines::new(source);
    let found = locate(&root, &lines, service)?;
    let mut edits = Vec::new();
    let image_node = found.body.get_node("image").ok_or_else(|| EditError::Layout(format!("{service}.image")))?;
    let image_range = scalar_range(image_node, &lines, &format!("{service}.image"))?;
    if let Some(tag) = &edit.image_tag {
        check_tag(tag)?;
        let image = image_node.as_scalar().map(|s| s.as_str()).unwrap_or_default();
        edits.push((image_range.0, image_range.1, quote(&with_tag(image, tag))));
    }
    if let Some(count) = edit.desired_count {
        match found.body.get_node("desired_count") {
            Some(node) => {
                let (s, e) = scalar_range(node, &lines, &format!("{service}.desired_count"))?;
                edits.push((s, e, count.to_string()));
            }
            None => {
                // A new line after `image:`, at the indentation of its key.
                let (key, _) = found.body.iter().find(|(k, _)| k.as_str() == "image").expect("image was found above");
                let key_start = key.span().start().ok_or_else(|| EditError::Layout(format!("{service}.image")))?;
                let line = lines.line(key_start.line());
                let before: String = line.chars().take(key_start.column() - 1).collect();
                if !before.trim().is_empty() && before.trim() != "-" {
                    return Err(EditError::Layout(format!("{service}.desired_count")));
                }
                let at = lines.starts.get(key_start.line()).map_or(lines.chars.len(), |s| s - 1);
                if at < image_range.1 {
                    return Err(EditError::Layout(format!("{service}.desired_count")));
                }
                let indent = " ".repeat(key_start.column() - 1);
                edits.push((at, at, format!("\n{indent}desired_count: {count}")));
            }
        }
    }
    Ok(lines.splice(edits))
}

/// Remove one service's entry, with its comments and trailing blank lines.
pub fn remove_service(source: &str, service: &str) -> Result<String, EditError> {
    let root = parse(source).map_err(EditError::Parse)?;
    let lines = Lines::new(source);
    let found = locate(&root, &lines, service)?;
    let mut end = found.line + 1;
    while end <= lines.count() {
        let text = lines.line(end);
        if !text.trim().is_empty() && indent_of(&text) <= found.indent {
            break;
        }
        end += 1;
    }
    let start_char = lines.starts[found.line - 1];
    let end_char = lines.starts.get(end - 1).copied().unwrap_or(lines.chars.len());
    Ok(lines.splice(vec![(start_char, end_char, String::new())]))
}

fn check_tag(tag: &str) -> Result<(), EditError> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(EditError::Invalid(format!(
            "`{tag}` is not a valid image tag: up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
        )))
    }
}

/// `repo[:tag|@digest]` with its tag replaced.
fn with_tag(image: &str, tag: &str) -> String {
    let repo = image.split_once('@').map_or(image, |(r, _)| r);
    let repo = match repo.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => r,
        _ => repo,
    };
    format!("{repo}:{tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NYSA: &str = "\
# the cluster
services:
  # the front
  - web:
      image: public.ecr.aws/nginx/nginx:1.27 # pinned
      desired_count: 2

  - worker:
      image: \"123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:7\"
      environment:
        - MODE: fast
prune: true
";

    #[test]
    fn sets_the_tag_and_keeps_comments() {
        let out =
            set_service(NYSA, "web", &ServiceEdit { image_tag: Some("1.28".into()), desired_count: None }).unwrap();
        assert_eq!(out, NYSA.replace("nginx:1.27 # pinned", "nginx:1.28 # pinned"));
    }

    #[test]
    fn replaces_a_quoted_image_and_adds_a_missing_count() {
        let out =
            set_service(NYSA, "worker", &ServiceEdit { image_tag: Some("8".into()), desired_count: Some(0) }).unwrap();
        let want = NYSA.replace(
            "      image: \"123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:7\"\n",
            "      image: \"123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:8\"\n      desired_count: 0\n",
        );
        assert_eq!(out, want);
        crate::validate(&out).unwrap();
    }

    #[test]
    fn changes_an_existing_count() {
        let out = set_service(NYSA, "web", &ServiceEdit { image_tag: None, desired_count: Some(0) }).unwrap();
        assert_eq!(out, NYSA.replace("desired_count: 2", "desired_count: 0"));
    }

    #[test]
    fn removes_an_entry() {
        let out = remove_service(NYSA, "web").unwrap();
        assert_eq!(
            out,
            "# the cluster\nservices:\n  # the front\n  - worker:\n      image: \"123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:7\"\n      environment:\n        - MODE: fast\nprune: true\n"
        );
        let out = remove_service(NYSA, "worker").unwrap();
        assert!(out.ends_with("      desired_count: 2\n\nprune: true\n"), "{out}");
        let v = to_json(&out).unwrap();
        assert_eq!(v["services"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn edits_the_mapping_dialect() {
        let src = "version: 1\nservices:\n  web:\n    image: nginx:1\n  api:\n    image: nginx:1\n";
        let out =
            set_service(src, "api", &ServiceEdit { image_tag: Some("2".into()), desired_count: Some(3) }).unwrap();
        assert_eq!(
            out,
            "version: 1\nservices:\n  web:\n    image: nginx:1\n  api:\n    image: nginx:2\n    desired_count: 3\n"
        );
        assert_eq!(
            remove_service(&out, "web").unwrap(),
            "version: 1\nservices:\n  api:\n    image: nginx:2\n    desired_count: 3\n"
        );
    }

    #[test]
    fn refuses_what_it_cannot_splice() {
        let flow = "services:\n  - web: {image: nginx:1}\n";
        assert!(matches!(
            set_service(flow, "web", &ServiceEdit { image_tag: None, desired_count: Some(1) }),
            Err(EditError::Layout(_))
        ));
        assert_eq!(remove_service(NYSA, "nope"), Err(EditError::NoSuchService("nope".into())));
        assert!(matches!(
            set_service(NYSA, "web", &ServiceEdit { image_tag: Some("../x".into()), desired_count: None }),
            Err(EditError::Invalid(_))
        ));
    }

    #[test]
    fn tags_replace_tags_and_digests() {
        assert_eq!(with_tag("nginx", "1"), "nginx:1");
        assert_eq!(with_tag("nginx:old", "1"), "nginx:1");
        assert_eq!(with_tag("localhost:5000/app", "1"), "localhost:5000/app:1");
        assert_eq!(with_tag("localhost:5000/app:2", "1"), "localhost:5000/app:1");
        assert_eq!(with_tag("app@sha256:abc", "1"), "app:1");
    }

    #[test]
    fn json_view_keeps_scalar_text() {
        let v = to_json("a: 1\nb: 0123\nc: 1e3\nd: yes\ne: \"2\"\nf: true\ng: ~\nh: 1.5\n").unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a": 1, "b": "0123", "c": "1e3", "d": "yes", "e": "2", "f": true, "g": null, "h": 1.5})
        );
    }

    #[test]
    fn json_text_keeps_document_order() {
        let src = "b: 1\na:\n  - z: \"x\"\n    y: [1, two]\n";
        let text = to_json_text(src).unwrap();
        assert_eq!(text, r#"{"b":1,"a":[{"z":"x","y":[1,"two"]}]}"#);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), to_json(src).unwrap());
    }

    #[test]
    fn json_bodies_become_ordered_block_yaml() {
        let json = r#"{"services": [{"web": {"image": "nginx:1", "desired_count": 2, "environment": [{"A": "0123"}, {"B": "x y"}], "ports": []}}], "defaults": {"memory": 256}}"#;
        let yaml = json_to_yaml(json).unwrap();
        assert_eq!(
            yaml,
            "services:\n  - web:\n      image: nginx:1\n      desired_count: 2\n      environment:\n        - A: \"0123\"\n        - B: \"x y\"\n      ports: []\ndefaults:\n  memory: 256\n"
        );
        assert_eq!(to_json(&yaml).unwrap(), serde_json::from_str::<Value>(json).unwrap());
    }

    const SECRETS: &str = "\
# db password: hunter2 (a comment can hold anything)
defaults:
  environment:
    SHARED: s3cret-default
notifications:
  slack_webhook: https://hooks.slack.com/services/T0/B0/xyz
  webhook: https://example.com/hook?key=abc
services:
  - web:
      image: nginx:1
      environment:
        DB_PASSWORD: hunter2
        EMPTY:
      secrets:
        API_KEY: arn:aws:secretsmanager:eu-west-1:123456789012:secret:api
  - worker:
      image: app:2
      environment:
        - TOKEN: \"0123\"
        - MULTI: |
            line one
            line two
";

    #[test]
    fn redacted_views_hide_environment_values_and_webhooks_only() {
        let json: Value = serde_json::from_str(&to_json_text_redacted(SECRETS).unwrap()).unwrap();
        let mut expected = to_json(SECRETS).unwrap();
        expected["defaults"]["environment"]["SHARED"] = REDACTED.into();
        expected["notifications"]["slack_webhook"] = REDACTED.into();
        expected["notifications"]["webhook"] = REDACTED.into();
        expected["services"][0]["web"]["environment"]["DB_PASSWORD"] = REDACTED.into();
        expected["services"][0]["web"]["environment"]["EMPTY"] = REDACTED.into();
        expected["services"][1]["worker"]["environment"][0]["TOKEN"] = REDACTED.into();
        expected["services"][1]["worker"]["environment"][1]["MULTI"] = REDACTED.into();
        assert_eq!(json, expected);
        // Secrets are ARNs, images and names stay.
        assert_eq!(
            json["services"][0]["web"]["secrets"]["API_KEY"],
            expected["services"][0]["web"]["secrets"]["API_KEY"]
        );

        let yaml = to_yaml_redacted(SECRETS).unwrap();
        assert_eq!(to_json(&yaml).unwrap(), json);
        for value in ["hunter2", "s3cret-default", "hooks.slack.com", "key=abc", "0123", "line one"] {
            assert!(!yaml.contains(value), "{value} in {yaml}");
            assert!(!to_json_text_redacted(SECRETS).unwrap().contains(value), "{value}");
        }
        // The unredacted view still has every value.
        assert!(to_json_text(SECRETS).unwrap().contains("hunter2"));
    }

    #[test]
    fn sidecar_environment_values_are_redacted_in_both_dialects() {
        let nysa = "services:\n  - web:\n      image: nginx:1\n      containers:\n        - name: agent\n          image: agent:1\n          environment: {TOKEN: sidecar-secret}\n";
        let map = "version: 1\nservices:\n  web:\n    image: nginx:1\n    containers:\n      - name: agent\n        image: agent:1\n        environment:\n          - TOKEN: sidecar-secret\n";
        for src in [nysa, map] {
            let json = to_json_text_redacted(src).unwrap();
            assert!(!json.contains("sidecar-secret") && json.contains(r#""TOKEN":"<redacted>""#), "{json}");
            assert!(!to_yaml_redacted(src).unwrap().contains("sidecar-secret"));
            let markers = redaction_markers(&src.replace("sidecar-secret", REDACTED)).unwrap();
            assert_eq!(markers.len(), 1, "{markers:?}");
        }
    }

    #[test]
    fn the_version_1_service_map_is_redacted_too() {
        let src = "version: 1\nservices:\n  web:\n    image: nginx:1\n    environment:\n      A: secret-a\n";
        let json = to_json_text_redacted(src).unwrap();
        assert!(!json.contains("secret-a") && json.contains(r#""A":"<redacted>""#), "{json}");
    }

    #[test]
    fn markers_sent_back_are_found_with_their_place() {
        assert_eq!(redaction_markers(SECRETS).unwrap(), vec![]);
        let redacted = to_yaml_redacted(SECRETS).unwrap();
        let found = redaction_markers(&redacted).unwrap();
        let paths: Vec<&str> = found.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "defaults.environment.SHARED",
                "notifications.slack_webhook",
                "notifications.webhook",
                "services[0].web.environment.DB_PASSWORD",
                "services[0].web.environment.EMPTY",
                "services[1].worker.environment[0].TOKEN",
                "services[1].worker.environment[1].MULTI",
            ]
        );
        assert!(found.iter().all(|d| d.line > 0 && d.column > 0), "{found:?}");
        // The marker elsewhere (an image, say) is an ordinary string.
        assert_eq!(redaction_markers("services:\n  - web:\n      image: \"<redacted>\"\n").unwrap(), vec![]);
    }

    #[test]
    fn json_that_grows_past_the_limit_as_yaml_is_refused() {
        // 120 levels deep, then 200,000 items: as block YAML each item is indented by
        // 240 spaces, about 50 MB from a 400 KB body. The emitters stop at the limit.
        let json = format!("{{\"a\":{}{}{}}}", "[".repeat(120), vec!["1"; 200_000].join(","), "]".repeat(120));
        assert!(json.len() < crate::limits::MAX_STACKFILE_BYTES);
        let err = json_to_yaml(&json).unwrap_err();
        assert_eq!(err.0[0].message, "the stackfile as YAML is larger than the limit of 1,048,576 bytes (1 MiB)");
    }

    #[test]
    fn malformed_json_is_located() {
        let err = json_to_yaml("{\n  \"services\": [,]\n}").unwrap_err();
        assert_eq!((err.0[0].line, err.0[0].column), (2, 16));
        assert!(json_to_yaml("[1]").is_err());
    }

    mod props {
        use proptest::prelude::*;
        use serde_json::Value;

        fn scalar() -> impl Strategy<Value = Value> {
            prop_oneof![
                any::<i64>().prop_map(Value::from),
                any::<bool>().prop_map(Value::from),
                Just(Value::Null),
                (-1.0e6f64..1.0e6).prop_map(Value::from),
                prop::sample::select(vec![
                    "",
                    "0123",
                    "1e3",
                    "yes",
                    "no",
                    "null",
                    "~",
                    "- x",
                    "a: b",
                    "#c",
                    "x #y",
                    "*a",
                    "&a",
                    "!t",
                    "{x}",
                    "[y]",
                    "1.5",
                    ".inf",
                    "tab\tnl\n",
                    "é",
                    "\"q\"",
                    "'s'",
                    "key:"
                ])
                .prop_map(Value::from),
                "[ -~]{0,12}".prop_map(Value::from),
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            scalar().prop_recursive(4, 32, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map("[a-z_]{1,6}|[0-9]{1,3}|[ -~]{1,8}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            /// JSON -> YAML -> JSON gives back the same document.
            #[test]
            fn json_round_trips_through_yaml(v in prop::collection::btree_map("[a-z_]{1,6}", value(), 0..5)) {
                let v = Value::Object(v.into_iter().collect());
                let yaml = super::super::json_to_yaml(&v.to_string()).unwrap();
                prop_assert_eq!(super::super::to_json(&yaml).unwrap(), v, "{}", yaml);
            }
        }
    }
}
