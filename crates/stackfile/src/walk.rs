//! The structural pass: walks the located YAML tree against the generated JSON schema.
//!
//! serde stops at the first error and a deserialised value forgets where it came from,
//! so the stackfile is first checked here, node by node, against the schema that
//! [`raw`](crate::raw) generates. The walk collects every unknown key, wrong type and
//! missing key; records the line and column of every path for the semantic pass; and
//! converts the tree into a `serde_json::Value` typed by the schema, leaving out the
//! parts that failed so that the rest can still be checked semantically.

use std::collections::HashMap;

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{LoadError, LoaderOptions, Node, Span};
use serde_json::{Map, Value};

use crate::diagnostic::Diagnostic;
use crate::limits::{self, MAX_KEY, MAX_STACKFILE_BYTES, MAX_STRING, MULTILINE, quote, text_problem, thousands};
use crate::suggest::did_you_mean;

/// Where each path of the document is, and what the structural pass left out.
#[derive(Debug, Default)]
pub(crate) struct Locations {
    /// Path -> position of the value.
    values: HashMap<String, (usize, usize)>,
    /// Path -> position of the key that introduces the value.
    keys: HashMap<String, (usize, usize)>,
    /// Paths whose value is a mapping: errors about a whole block point at its key.
    mappings: std::collections::HashSet<String>,
    /// Paths whose value failed the structural pass and was left out of the conversion.
    dropped: Vec<String>,
    /// Array path -> original indices of the items that survived, for arrays that lost
    /// items; the last entry for a path wins.
    remap: Vec<(String, Vec<usize>)>,
}

impl Locations {
    /// Position of the value at `path` (of its key, when the value is a mapping), else
    /// of its nearest located ancestor.
    pub(crate) fn at(&self, path: &str) -> (usize, usize) {
        if self.mappings.contains(path)
            && let Some(&pos) = self.keys.get(path)
        {
            return pos;
        }
        let mut p = path;
        loop {
            if let Some(&pos) = self.values.get(p) {
                return pos;
            }
            match parent(p) {
                Some(up) => p = up,
                None => return (1, 1),
            }
        }
    }

    /// Position of the key of `path`, else of its value.
    pub(crate) fn key_at(&self, path: &str) -> (usize, usize) {
        self.keys.get(path).copied().unwrap_or_else(|| self.at(path))
    }

    /// Whether `path` is present in the document (as written, before any pruning).
    pub(crate) fn has(&self, path: &str) -> bool {
        self.values.contains_key(path)
    }

    /// The path of item `i` of the converted array at `array`, in document indices.
    pub(crate) fn item(&self, array: &str, i: usize) -> String {
        let orig =
            self.remap.iter().rev().find(|(p, _)| p == array).and_then(|(_, kept)| kept.get(i).copied()).unwrap_or(i);
        format!("{array}[{orig}]")
    }

    /// Whether the value at `path` was written but left out for a structural error.
    pub(crate) fn was_dropped(&self, path: &str) -> bool {
        self.dropped.iter().any(|d| d == path)
    }

    /// Whether something at or below `path` was left out for a structural error, which
    /// makes a semantic conclusion about `path` unreliable.
    pub(crate) fn dropped_under(&self, path: &str) -> bool {
        self.dropped.iter().any(|d| is_under(d, path))
    }
}

/// Whether `path` equals `ancestor` or lies below it.
pub(crate) fn is_under(path: &str, ancestor: &str) -> bool {
    if ancestor.is_empty() {
        return true;
    }
    path == ancestor || path.strip_prefix(ancestor).is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// The parent of a path: `a.b[2]` -> `a.b` -> `a` -> `` -> None.
fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    Some(match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    })
}

/// Joins a mapping key onto a path.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// The result of parsing and walking one document.
pub(crate) struct Walked {
    /// The converted value, without the parts that failed.
    pub value: Value,
    /// Positions of every path.
    pub locs: Locations,
    /// Structural errors.
    pub diags: Vec<Diagnostic>,
}

/// Parses `source` and walks it against `schema`. `Err` holds the diagnostics of a
/// document that is not YAML at all.
pub(crate) fn parse_and_walk(source: &str, schema: &Value) -> Result<Walked, Vec<Diagnostic>> {
    let at_start = |message: String| vec![Diagnostic { path: String::new(), line: 1, column: 1, message }];
    if source.len() > MAX_STACKFILE_BYTES {
        return Err(at_start(format!(
            "the stackfile is {} bytes; the limit is {} bytes (1 MiB)",
            thousands(source.len()),
            thousands(MAX_STACKFILE_BYTES)
        )));
    }
    if let Some((line, column)) = second_document(source) {
        return Err(vec![Diagnostic {
            path: String::new(),
            line,
            column,
            message: "a second YAML document starts here; a stackfile is one document (remove it, \
                      or make it a stackfile of its own)"
                .to_string(),
        }]);
    }
    if !has_content(source) {
        // The loader would read it as an empty mapping: no services at all.
        return Err(at_start(
            "the stackfile is empty (nothing but blank lines or comments); write its `services:` \
             (an empty stackfile would remove every service from the desired state)"
                .to_string(),
        ));
    }
    let mut diags = Vec::new();
    let strict = LoaderOptions::default().prevent_coercion(true).error_on_duplicate_keys(true);
    let node = match marked_yaml::parse_yaml_with_options(0, source, strict) {
        Ok(node) => node,
        Err(LoadError::DuplicateKey(dup)) => {
            // The loader stops at the first duplicate. Report it, then carry on with a
            // lenient parse (the later value wins) so that every other error is found.
            let lenient = LoaderOptions::default().prevent_coercion(true);
            let node = marked_yaml::parse_yaml_with_options(0, source, lenient).map_err(|e| vec![load_error(&e)])?;
            let (line, column) = span_pos(dup.key.span());
            let (first_line, _) = span_pos(dup.prev_key.span());
            let path = find_key_path(&node, dup.prev_key.span(), "").unwrap_or_default();
            diags.push(Diagnostic {
                path,
                line,
                column,
                message: format!(
                    "duplicate key {} (first defined on line {first_line})",
                    limits::name(dup.key.as_str())
                ),
            });
            node
        }
        Err(e) => return Err(vec![load_error(&e)]),
    };
    let source: Vec<char> = source.chars().collect();
    let mut walker = Walker { root: schema, source, diags, locs: Locations::default(), multiline: false };
    let value = walker.walk(&node, schema, "").unwrap_or(Value::Object(Map::new()));
    Ok(Walked { value, locs: walker.locs, diags: walker.diags })
}

/// A YAML error that prevents any further checking.
pub(crate) fn load_error(e: &LoadError) -> Diagnostic {
    let (marker, message) = match e {
        LoadError::TopLevelMustBeMapping(m) => (Some(*m), "the stackfile must be a YAML mapping".to_string()),
        LoadError::TopLevelMustBeSequence(m) => (Some(*m), "expected a sequence at the top level".to_string()),
        LoadError::UnexpectedAnchor(m) => {
            (Some(*m), "YAML anchors and aliases are not supported in a stackfile".to_string())
        }
        LoadError::MappingKeyMustBeScalar(m) => (Some(*m), "mapping keys must be scalars".to_string()),
        LoadError::UnexpectedTag(m) => (Some(*m), "YAML tags are not supported in a stackfile".to_string()),
        LoadError::ScanError(m, se) => (Some(*m), format!("YAML syntax error: {}", scan_message(se))),
        LoadError::DuplicateKey(d) => {
            (d.key.span().start().copied(), format!("duplicate key {}", limits::name(d.key.as_str())))
        }
    };
    let (line, column) = marker.map(|m| (m.line(), m.column())).unwrap_or((1, 1));
    Diagnostic { path: String::new(), line, column, message }
}

/// Where a second YAML document starts, if there is one. The loader reads the first
/// document and ignores the rest, even when it is broken; a second document could only
/// be a mistake (two stackfiles pasted together, a truncated edit). A later document
/// needs a line that starts with `---` or `...`, so only such a text is scanned again.
fn second_document(source: &str) -> Option<(usize, usize)> {
    let marked = |l: &str| l.starts_with("---") || l.starts_with("...");
    if !source.lines().any(marked) {
        return None;
    }
    let mut parser = yaml_rust2::parser::Parser::new_from_str(source);
    let (mut documents, mut ended) = (0, false);
    loop {
        match parser.next_token() {
            Ok((yaml_rust2::Event::DocumentStart, mark)) => {
                documents += 1;
                if documents == 2 {
                    // A document starts on a line of its own; the parser marks a bare
                    // one after its first token.
                    return Some((mark.line(), 1));
                }
            }
            Ok((yaml_rust2::Event::DocumentEnd, _)) => ended = true,
            Ok((yaml_rust2::Event::StreamEnd, _)) => return None,
            Ok(_) => {}
            // An error after the first document ended is in the second one; one inside
            // the first is reported by the located parse.
            Err(e) => return ended.then(|| (e.marker().line(), e.marker().col() + 1)),
        }
    }
}

/// Whether a document has anything but blank lines, comments, document markers and
/// directives.
fn has_content(source: &str) -> bool {
    source
        .lines()
        .map(str::trim)
        .any(|l| !(l.is_empty() || l.starts_with('#') || l.starts_with('%') || l == "---" || l == "..."))
}

/// The scanner's message without its own position suffix (we report the position).
fn scan_message(se: &impl std::fmt::Display) -> String {
    let text = se.to_string();
    match text.find(" at byte ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// 1-based position of a span's start.
fn span_pos(span: &Span) -> (usize, usize) {
    span.start().map(|m| (m.line(), m.column())).unwrap_or((1, 1))
}

/// Position of a node. A flow collection is placed at its opening bracket. The loader
/// marks a block mapping where its first value starts, so a block collection is placed at
/// its first entry instead, which is where a reader looks.
fn node_pos(node: &Node, source: &[char]) -> (usize, usize) {
    let opens_flow =
        |span: &Span| span.start().and_then(|m| source.get(m.character())).is_some_and(|c| *c == '{' || *c == '[');
    match node {
        Node::Mapping(m) if !opens_flow(m.span()) => {
            m.keys().next().map_or_else(|| span_pos(m.span()), |k| span_pos(k.span()))
        }
        Node::Sequence(q) if !opens_flow(q.span()) => {
            q.first().map_or_else(|| span_pos(q.span()), |first| node_pos(first, source))
        }
        other => span_pos(other.span()),
    }
}

/// Finds the path of the mapping key that starts where `key` does.
fn find_key_path(node: &Node, key: &Span, path: &str) -> Option<String> {
    match node {
        Node::Scalar(_) => None,
        Node::Mapping(m) => m.iter().find_map(|(k, v)| {
            let child = join(path, k.as_str());
            if k.span().start() == key.start() { Some(child) } else { find_key_path(v, key, &child) }
        }),
        Node::Sequence(s) => s.iter().enumerate().find_map(|(i, v)| find_key_path(v, key, &format!("{path}[{i}]"))),
    }
}

/// Whether a scalar reads as null (plain `~`, `null` or nothing).
fn is_null(s: &MarkedScalarNode) -> bool {
    s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL")
}

/// How a scalar is described in "found ..." messages.
fn describe_scalar(s: &MarkedScalarNode) -> String {
    let text = s.as_str();
    if is_null(s) {
        return "null".to_string();
    }
    if s.may_coerce() {
        if text == "true" || text == "false" {
            return format!("boolean {text}");
        }
        if text.parse::<i64>().is_ok() {
            return format!("integer {text}");
        }
        if text.parse::<f64>().is_ok_and(f64::is_finite) {
            return format!("number {text}");
        }
    }
    format!("string {}", quote(text, 64))
}

/// How a node is described in "found ..." messages.
fn describe(node: &Node) -> String {
    match node {
        Node::Scalar(s) => describe_scalar(s),
        Node::Mapping(_) => "a mapping".to_string(),
        Node::Sequence(_) => "a sequence".to_string(),
    }
}

/// How a schema type is named in "expected ..." messages.
fn type_phrase(t: &str) -> &'static str {
    match t {
        "object" => "a mapping",
        "array" => "a sequence",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean (`true` or `false` only)",
        "null" => "null",
        _ => "a value",
    }
}

/// "a or b or c".
fn expected_phrase(types: &[&str]) -> String {
    // A field that takes any scalar reads better as one word.
    if types.contains(&"string") && types.contains(&"number") && types.contains(&"boolean") {
        return "a scalar (string, number, boolean or null)".to_string();
    }
    let mut words: Vec<&str> = types.iter().filter(|t| **t != "null").map(|t| type_phrase(t)).collect();
    words.dedup();
    if words.is_empty() {
        return "null".to_string();
    }
    words.join(" or ")
}

/// The node kind a schema type covers.
fn kind_of(node: &Node) -> &'static [&'static str] {
    match node {
        Node::Scalar(_) => &["string", "integer", "number", "boolean", "null"],
        Node::Mapping(_) => &["object"],
        Node::Sequence(_) => &["array"],
    }
}

struct Walker<'a> {
    root: &'a Value,
    /// The document, to tell flow collections from block ones.
    source: Vec<char>,
    diags: Vec<Diagnostic>,
    locs: Locations,
    /// Whether the strings being walked may span lines (below a schema node marked
    /// [`MULTILINE`]: environment values, commands).
    multiline: bool,
}

impl<'a> Walker<'a> {
    /// Follows `$ref`s into `$defs`.
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(r) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(target) = r.strip_prefix("#/").map(|p| p.split('/').try_fold(self.root, |v, seg| v.get(seg)))
            else {
                break;
            };
            match target {
                Some(t) => schema = t,
                None => break,
            }
        }
        schema
    }

    /// The `type`s a (resolved) schema allows, inferred from `enum`/`const` or
    /// `properties` when absent. Empty means anything.
    fn types(&self, schema: &'a Value) -> Vec<&'a str> {
        if let Some(t) = schema.get("type") {
            return match t {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
        }
        if let Some(branches) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
            let mut all = Vec::new();
            for b in branches {
                let b = self.resolve(b);
                let t = self.types(b);
                if t.is_empty() {
                    return vec![];
                }
                all.extend(t);
            }
            return all;
        }
        if schema.get("properties").is_some() || schema.get("additionalProperties").is_some() {
            return vec!["object"];
        }
        if schema.get("enum").is_some() || schema.get("const").is_some() {
            return vec!["string"];
        }
        vec![]
    }

    fn push(&mut self, path: &str, (line, column): (usize, usize), message: String) {
        self.diags.push(Diagnostic { path: path.to_string(), line, column, message });
    }

    /// Checks `node` at `path` against `schema`; returns its converted value, or `None`
    /// when it cannot be used (the reason is in the diagnostics).
    fn walk(&mut self, node: &Node, schema: &'a Value, path: &str) -> Option<Value> {
        let schema = self.resolve(schema);
        if schema.get(MULTILINE) == Some(&Value::Bool(true)) && !self.multiline {
            self.multiline = true;
            let out = self.walk_resolved(node, schema, path);
            self.multiline = false;
            return out;
        }
        self.walk_resolved(node, schema, path)
    }

    fn walk_resolved(&mut self, node: &Node, schema: &'a Value, path: &str) -> Option<Value> {
        self.locs.values.insert(path.to_string(), node_pos(node, &self.source));
        if schema.as_bool() == Some(true) {
            return Some(any_json(node));
        }
        if let Some(branches) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
            return self.branches(node, branches, path);
        }
        let types = self.types(schema);
        match node {
            Node::Scalar(s) => self.scalar(s, &types, schema, path),
            Node::Mapping(m) if types.is_empty() || types.contains(&"object") => self.object(m, schema, path),
            Node::Sequence(q) if types.is_empty() || types.contains(&"array") => self.array(q, schema, path),
            _ => {
                let msg = format!("expected {}, found {}", expected_phrase(&types), describe(node));
                self.push(path, node_pos(node, &self.source), msg);
                None
            }
        }
    }

    /// `anyOf`/`oneOf`: a union of constants is checked as one enum; otherwise the first
    /// branch that takes the node cleanly wins, and when none does, the errors of the
    /// branch that fits the node's kind best are reported.
    fn branches(&mut self, node: &Node, branches: &'a [Value], path: &str) -> Option<Value> {
        let resolved: Vec<&'a Value> = branches.iter().map(|b| self.resolve(b)).collect();
        let consts: Option<Vec<&'a Value>> = resolved
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
            .map(|b| b.get("const"))
            .collect();
        let nullable = resolved.iter().any(|b| b.get("type").and_then(Value::as_str) == Some("null"));
        if let (Some(consts), Node::Scalar(s)) = (&consts, node) {
            if nullable && is_null(s) {
                return Some(Value::Null);
            }
            return self.check_enum(s, consts, path).then(|| Value::String(s.as_str().to_string()));
        }

        let mut trials = Vec::new();
        for (i, b) in resolved.iter().enumerate() {
            let (diags, dropped, remap) = (self.diags.len(), self.locs.dropped.len(), self.locs.remap.len());
            let out = self.walk(node, b, path);
            let errors = self.diags.len() - diags;
            if out.is_some() && errors == 0 {
                // The trial was clean, so it was the real walk: keep what it recorded
                // rather than walk the node again (which, with nested unions, doubled
                // the work at every level).
                return out;
            }
            self.diags.truncate(diags);
            self.locs.dropped.truncate(dropped);
            self.locs.remap.truncate(remap);
            let kinds = self.types(b);
            let fits = kinds.is_empty() || kinds.iter().any(|k| kind_of(node).contains(k));
            let null_only = kinds == ["null"];
            trials.push((i, fits && !null_only, out.is_some(), errors));
        }
        // A `null` branch never explains why a non-null value is wrong: "expected a
        // mapping, found integer 3" helps where "expected null" would not.
        let best = trials.iter().filter(|t| t.1).min_by_key(|t| (!t.2, t.3)).map(|t| t.0);
        match best {
            Some(i) => self.walk(node, resolved[i], path),
            None => {
                let mut types: Vec<&str> = Vec::new();
                for b in &resolved {
                    for t in self.types(b) {
                        if !types.contains(&t) {
                            types.push(t);
                        }
                    }
                }
                let msg = format!("expected {}, found {}", expected_phrase(&types), describe(node));
                self.push(path, node_pos(node, &self.source), msg);
                None
            }
        }
    }

    /// Whether the scalar is one of the constants; reports it when not.
    fn check_enum(&mut self, s: &MarkedScalarNode, allowed: &[&Value], path: &str) -> bool {
        let text = s.as_str();
        let names: Vec<String> = allowed
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        if names.iter().any(|n| n == text) {
            return true;
        }
        let list = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        let mut msg = format!("expected one of {list}, found {}", describe_scalar(s));
        if let Some(s) = did_you_mean(text, names.iter().map(String::as_str)) {
            msg.push_str(&format!("; did you mean `{s}`?"));
        }
        self.push(path, span_pos(s.span()), msg);
        false
    }

    fn scalar(&mut self, s: &MarkedScalarNode, types: &[&str], schema: &'a Value, path: &str) -> Option<Value> {
        let text = s.as_str();
        let pos = span_pos(s.span());
        let any = types.is_empty();
        let value = if is_null(s) && (any || types.contains(&"null")) {
            Value::Null
        } else if !is_null(s) && (any || types.contains(&"string")) {
            Value::String(text.to_string())
        } else if let (true, Ok(i)) = (types.contains(&"integer"), text.trim().parse::<i64>()) {
            Value::from(i)
        } else if let (true, Some(n)) = (
            types.contains(&"number"),
            text.trim().parse::<f64>().ok().filter(|f| f.is_finite()).and_then(serde_json::Number::from_f64),
        ) {
            Value::Number(n)
        } else if types.contains(&"boolean") && (text == "true" || text == "false") {
            Value::Bool(text == "true")
        } else {
            let msg = format!("expected {}, found {}", expected_phrase(types), describe_scalar(s));
            self.push(path, pos, msg);
            return None;
        };
        if value.is_null() {
            return Some(value);
        }
        if value.is_string() && !self.text_ok(text, schema, path, pos) {
            return None;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            let allowed: Vec<&Value> = allowed.iter().collect();
            if !self.check_enum(s, &allowed, path) {
                return None;
            }
        }
        if let Some(c) = schema.get("const")
            && !self.check_enum(s, &[c], path)
        {
            return None;
        }
        if let Some(n) = value.as_f64() {
            let min = schema.get("minimum").and_then(Value::as_f64);
            let max = schema.get("maximum").and_then(Value::as_f64);
            let out_of_range = min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m);
            if out_of_range {
                let bound = match (min, max) {
                    (Some(lo), Some(hi)) => format!("between {lo} and {hi}"),
                    (Some(lo), None) => format!("at least {lo}"),
                    (None, Some(hi)) => format!("at most {hi}"),
                    (None, None) => unreachable!(),
                };
                self.push(path, pos, format!("must be {bound}, found {text}"));
                return None;
            }
        }
        Some(value)
    }

    /// Whether a string is within its field's length (`maxLength`, else
    /// [`MAX_STRING`]) and has no character that AWS or a plan would take literally;
    /// reports it when not. The value is not repeated: it may be huge or unprintable.
    fn text_ok(&mut self, text: &str, schema: &Value, path: &str, pos: (usize, usize)) -> bool {
        let max = schema.get("maxLength").and_then(Value::as_u64).map_or(MAX_STRING, |m| m as usize);
        if text.len() > max {
            let n = text.chars().count();
            if n > max {
                let msg = format!("is {} characters long; the limit is {}", thousands(n), thousands(max));
                self.push(path, pos, msg);
                return false;
            }
        }
        if let Some(problem) = text_problem(text, self.multiline) {
            self.push(path, pos, problem);
            return false;
        }
        true
    }

    /// Whether a mapping key is a short, printable, one-line name; reports it (at an
    /// escaped path) when not.
    fn key_ok(&mut self, key: &str, path: &str, pos: (usize, usize)) -> bool {
        let problem = if key.chars().count() > MAX_KEY {
            Some(format!("a key of {} characters; the limit is {MAX_KEY}", thousands(key.chars().count())))
        } else {
            text_problem(key, false).map(|p| format!("a key that {p}"))
        };
        let Some(problem) = problem else { return true };
        let shown = quote(key, 64);
        let at = join(path, &shown);
        self.push(&at, pos, format!("{problem}: {shown}"));
        self.locs.dropped.push(at);
        false
    }

    fn object(&mut self, m: &MarkedMappingNode, schema: &'a Value, path: &str) -> Option<Value> {
        let props = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        self.locs.mappings.insert(path.to_string());
        let mut ok = true;
        let mut out = Map::new();
        let len = m.len() as u64;
        let max_props = schema.get("maxProperties").and_then(Value::as_u64);
        if let Some(max) = max_props.filter(|&max| max > 1 && len > max) {
            // Far over its size (the services of a stackfile): the size is the error,
            // and nothing below is walked. A single-key entry (`maxProperties: 1`) is
            // walked on: there an extra key is an indentation slip, reported below.
            let pos = self.locs.keys.get(path).copied().unwrap_or_else(|| self.locs.at(path));
            self.push(
                path,
                pos,
                format!("{} entries; the limit is {}", thousands(len as usize), thousands(max as usize)),
            );
            return None;
        }
        for (k, v) in m.iter() {
            let key = k.as_str();
            if !self.key_ok(key, path, span_pos(k.span())) {
                ok = false;
                continue;
            }
            let child = join(path, key);
            self.locs.keys.insert(child.clone(), span_pos(k.span()));
            let sub = props.and_then(|p| p.get(key)).or(match additional {
                Some(Value::Bool(false)) => None,
                Some(s) if s.is_object() => Some(s),
                _ => None,
            });
            match sub {
                Some(sub) => match self.walk(v, sub, &child) {
                    Some(x) => {
                        out.insert(key.to_string(), x);
                    }
                    None => {
                        self.locs.dropped.push(child);
                        ok &= !required.contains(&key);
                    }
                },
                None if additional == Some(&Value::Bool(false)) => {
                    self.locs.values.insert(child.clone(), node_pos(v, &self.source));
                    let known: Vec<&str> = props.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                    let msg = match did_you_mean(key, known.iter().copied()) {
                        Some(s) => format!("unknown key `{key}`; did you mean `{s}`?"),
                        None => {
                            let list = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
                            format!("unknown key `{key}`; expected one of {list}")
                        }
                    };
                    self.push(&child, span_pos(k.span()), msg);
                }
                None => {
                    out.insert(key.to_string(), any_json(v));
                }
            }
        }
        let pos = self.locs.keys.get(path).copied().unwrap_or_else(|| self.locs.at(path));
        for r in &required {
            if !m.contains_key(*r) {
                self.push(path, pos, format!("missing required key `{r}`"));
                ok = false;
            }
        }
        if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
            && len < min
        {
            self.push(path, pos, format!("expected at least {min} key(s), found an empty mapping"));
            ok = false;
        }
        if let Some(max) = max_props
            && len > max
        {
            let extra = m.keys().nth(max as usize).expect("len > max");
            let keys = m.keys().map(|k| format!("`{}`", k.as_str())).collect::<Vec<_>>().join(", ");
            let msg = format!(
                "expected a mapping with at most {max} key(s), found {len} ({keys}); is the indentation right?"
            );
            self.push(path, span_pos(extra.span()), msg);
            ok = false;
        }
        ok.then_some(Value::Object(out))
    }

    fn array(&mut self, q: &MarkedSequenceNode, schema: &'a Value, path: &str) -> Option<Value> {
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && q.len() as u64 > max
        {
            // The size is the error; the items are not walked.
            let msg = format!("{} items; the limit is {}", thousands(q.len()), thousands(max as usize));
            self.push(path, self.locs.at(path), msg);
            return None;
        }
        let items = schema.get("items");
        let mut out = Vec::new();
        let mut kept = Vec::new();
        for (i, item) in q.iter().enumerate() {
            let child = format!("{path}[{i}]");
            let converted = match items {
                Some(s) if s.is_object() || s.is_boolean() => self.walk(item, s, &child),
                _ => {
                    self.locs.values.insert(child.clone(), node_pos(item, &self.source));
                    Some(any_json(item))
                }
            };
            match converted {
                Some(v) => {
                    out.push(v);
                    kept.push(i);
                }
                None => self.locs.dropped.push(child),
            }
        }
        if kept.len() != q.len() {
            self.locs.remap.push((path.to_string(), kept));
        }
        let pos = self.locs.at(path);
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && (q.len() as u64) < min
        {
            self.push(path, pos, format!("expected at least {min} item(s), found {}", q.len()));
        }
        Some(Value::Array(out))
    }
}

/// Converts a node without a schema: scalars stay text.
fn any_json(node: &Node) -> Value {
    match node {
        Node::Scalar(s) if is_null(s) => Value::Null,
        Node::Scalar(s) => Value::String(s.as_str().to_string()),
        Node::Mapping(m) => Value::Object(m.iter().map(|(k, v)| (k.as_str().to_string(), any_json(v))).collect()),
        Node::Sequence(q) => Value::Array(q.iter().map(any_json).collect()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn walk(yaml: &str, schema: Value) -> (Value, Vec<String>) {
        let w = parse_and_walk(yaml, &schema).unwrap_or_else(|d| panic!("{d:?}"));
        (w.value, w.diags.iter().map(ToString::to_string).collect())
    }

    fn obj_schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "count": {"type": ["integer", "null"], "minimum": 0},
                "on": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "kind": {"oneOf": [{"type": "string", "const": "a"}, {"type": "string", "const": "bee"}]},
                "inner": {"$ref": "#/$defs/Inner"}
            },
            "$defs": {"Inner": {"type": "object", "additionalProperties": false, "properties": {"x": {"type": "integer"}}}}
        })
    }

    #[test]
    fn converts_by_schema_type_and_keeps_string_text() {
        let (v, d) =
            walk("name: 010\ncount: '7'\non: true\ntags: [1.0, yes]\nkind: bee\ninner: {x: 3}\n", obj_schema());
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            v,
            json!({"name": "010", "count": 7, "on": true, "tags": ["1.0", "yes"], "kind": "bee", "inner": {"x": 3}})
        );
    }

    #[test]
    fn collects_every_structural_error_with_positions() {
        let yaml = "nmae: x\ncount: abc\non: yes\ntags: {a: 1}\nkind: be\ninner:\n  x: [1]\n  y: 2\n";
        let (_, d) = walk(yaml, obj_schema());
        assert_eq!(
            d,
            vec![
                "1:1: nmae: unknown key `nmae`; did you mean `name`?",
                "2:8: count: expected an integer, found string \"abc\"",
                "3:5: on: expected a boolean (`true` or `false` only), found string \"yes\"",
                "4:7: tags: expected a sequence, found a mapping",
                "5:7: kind: expected one of `a`, `bee`, found string \"be\"; did you mean `bee`?",
                "7:6: inner.x: expected an integer, found a sequence",
                "8:3: inner.y: unknown key `y`; expected one of `x`",
                "1:1: missing required key `name`",
            ]
        );
    }

    #[test]
    fn range_and_null_handling() {
        let (v, d) = walk("name: n\ncount: -1\n", obj_schema());
        assert_eq!(
            d,
            vec!["2:8: count: must be between 0 and ... , found -1".replace("between 0 and ... ", "at least 0")]
        );
        assert_eq!(v, json!({"name": "n"}));
        let (v, d) = walk("name: n\ncount:\n", obj_schema());
        assert!(d.is_empty());
        assert_eq!(v, json!({"name": "n", "count": null}));
        let (_, d) = walk("name: ~\n", obj_schema());
        assert_eq!(d, vec!["1:7: name: expected a string, found null"]);
        // A quoted empty string is a string, not null.
        let (v, d) = walk("name: ''\n", obj_schema());
        assert!(d.is_empty());
        assert_eq!(v, json!({"name": ""}));
    }

    #[test]
    fn dropped_items_keep_their_document_index() {
        let schema = json!({"type": "object", "properties": {"xs": {"type": "array", "items": {"type": "integer"}}}});
        let w = parse_and_walk("xs: [1, a, 3]\n", &schema).unwrap();
        assert_eq!(w.value, json!({"xs": [1, 3]}));
        assert_eq!(w.locs.item("xs", 1), "xs[2]");
        assert!(w.locs.dropped_under("xs"));
        assert!(w.locs.was_dropped("xs[1]"));
        assert_eq!(w.locs.at("xs[2]"), (1, 12));
    }

    #[test]
    fn syntax_and_duplicate_key_errors_are_located() {
        let err = parse_and_walk("a: [1\nb: 2\n", &json!(true)).err().unwrap();
        assert_eq!(err.len(), 1);
        assert!(err[0].message.starts_with("YAML syntax error"), "{err:?}");
        let (_, d) = walk("name: a\ninner:\n  x: 1\n  x: 2\n", obj_schema());
        assert_eq!(d, vec!["4:3: inner.x: duplicate key `x` (first defined on line 3)"]);
    }

    #[test]
    fn optional_blocks_report_the_block_type_not_null() {
        let schema = json!({
            "type": "object",
            "properties": {"vpc": {"anyOf": [{"$ref": "#/$defs/Vpc"}, {"type": "null"}]}},
            "$defs": {"Vpc": {"type": "object", "properties": {"id": {"type": "string"}}}}
        });
        let (_, d) = walk("vpc: 3\n", schema.clone());
        assert_eq!(d, vec!["1:6: vpc: expected a mapping, found integer 3"]);
        let (v, d) = walk("vpc:\n", schema);
        assert!(d.is_empty());
        assert_eq!(v, json!({"vpc": null}));
    }

    #[test]
    fn paths_and_parents() {
        assert_eq!(parent("a.b[2]"), Some("a.b"));
        assert_eq!(parent("a"), Some(""));
        assert_eq!(parent(""), None);
        assert!(is_under("services[1].web.ports", "services[1].web"));
        assert!(!is_under("services[1].webapp", "services[1].web"));
    }
}
