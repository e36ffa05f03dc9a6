//! A small YAML writer for the imported stackfile: block style, two-space indents, keys
//! in the order they were added, and comment lines above any entry. `yaml_serde` writes
//! no comments, and the comments are half of what an import says.

use crate::document::quote;
use crate::limits::forbidden;

/// A YAML value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A string, quoted when YAML would read its plain form as anything else.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A mapping, in insertion order.
    Map(Map),
    /// A sequence; scalars only are written in flow style (`[a, b]`).
    Seq(Vec<Node>),
}

impl Node {
    pub(crate) fn str(s: impl Into<String>) -> Self {
        Node::Str(s.into())
    }

    /// A sequence of strings.
    pub(crate) fn strs<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Self {
        Node::Seq(items.into_iter().map(|s| Node::str(s.as_ref())).collect())
    }

    fn is_scalar(&self) -> bool {
        matches!(self, Node::Str(_) | Node::Int(_) | Node::Bool(_))
    }
}

/// A mapping: entries in insertion order, each with the comment lines above it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Map {
    entries: Vec<Entry>,
    /// A blank line between entries (services, load balancers).
    spaced: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    comments: Vec<String>,
    key: String,
    value: Node,
}

impl Map {
    /// A mapping written with a blank line between its entries.
    pub(crate) fn spaced() -> Self {
        Map { entries: Vec::new(), spaced: true }
    }

    /// Adds `key: value`.
    pub(crate) fn set(&mut self, key: impl Into<String>, value: Node) -> &mut Self {
        self.entries.push(Entry { comments: Vec::new(), key: key.into(), value });
        self
    }

    /// Adds `key: value` when there is a value.
    pub(crate) fn opt(&mut self, key: &str, value: Option<Node>) -> &mut Self {
        if let Some(v) = value {
            self.set(key, v);
        }
        self
    }

    /// Adds `key: value` with comment lines above it.
    pub(crate) fn commented(&mut self, comments: Vec<String>, key: impl Into<String>, value: Node) -> &mut Self {
        self.entries.push(Entry { comments, key: key.into(), value });
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The mapping as a node, or `None` when it is empty.
    pub(crate) fn non_empty(self) -> Option<Node> {
        (!self.is_empty()).then_some(Node::Map(self))
    }
}

/// The text of a comment line: one printable line, whatever a name read from AWS holds.
pub(crate) fn comment_text(text: &str) -> String {
    text.chars().map(|c| if forbidden(c, false) { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// Writes a document: `header` comment lines, then the top-level mapping.
pub(crate) fn render(header: &[String], doc: &Map) -> String {
    let mut out = String::new();
    for line in header {
        push_comment(&mut out, 0, line);
    }
    if !header.is_empty() {
        out.push('\n');
    }
    map(&mut out, doc, 0);
    out
}

fn push_comment(out: &mut String, indent: usize, line: &str) {
    out.extend(std::iter::repeat_n(' ', indent));
    if line.is_empty() {
        out.push_str("#\n");
    } else {
        out.push_str("# ");
        out.push_str(&comment_text(line));
        out.push('\n');
    }
}

fn map(out: &mut String, m: &Map, indent: usize) {
    for (i, e) in m.entries.iter().enumerate() {
        // A blank line before a commented entry, and between the top-level sections.
        if (!e.comments.is_empty() || indent == 0 || m.spaced) && i > 0 {
            out.push('\n');
        }
        for c in &e.comments {
            push_comment(out, indent, c);
        }
        out.extend(std::iter::repeat_n(' ', indent));
        out.push_str(&quote(&e.key));
        out.push(':');
        value(out, &e.value, indent);
    }
}

/// The value after `key:` (or after `- `), then its line break.
fn value(out: &mut String, v: &Node, indent: usize) {
    match v {
        Node::Map(m) if m.is_empty() => out.push_str(" {}\n"),
        Node::Map(m) => {
            out.push('\n');
            map(out, m, indent + 2);
        }
        Node::Seq(items) if items.is_empty() => out.push_str(" []\n"),
        Node::Seq(items) if items.iter().all(Node::is_scalar) => {
            let flow: Vec<String> = items.iter().map(scalar).collect();
            out.push_str(" [");
            out.push_str(&flow.join(", "));
            out.push_str("]\n");
        }
        Node::Seq(items) => {
            out.push('\n');
            for item in items {
                out.extend(std::iter::repeat_n(' ', indent + 2));
                out.push('-');
                match item {
                    Node::Map(m) if !m.is_empty() => {
                        // The first entry goes on the dash's line, the rest under it.
                        let mut buf = String::new();
                        map(&mut buf, m, indent + 4);
                        out.push(' ');
                        out.push_str(&buf[indent + 4..]);
                    }
                    other => value(out, other, indent + 2),
                }
            }
        }
        scalar_node => {
            out.push(' ');
            out.push_str(&scalar(scalar_node));
            out.push('\n');
        }
    }
}

fn scalar(v: &Node) -> String {
    match v {
        Node::Str(s) => quote(s),
        Node::Int(n) => n.to_string(),
        Node::Bool(b) => b.to_string(),
        Node::Map(_) | Node::Seq(_) => unreachable!("only scalars are written inline"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_block_yaml_with_comments_and_quotes_what_would_read_otherwise() {
        let mut env = Map::default();
        env.set("FLAG", Node::str("true")).set("PORT", Node::str("587")).set("PEM", Node::str("a\nb"));
        let mut svc = Map::default();
        svc.set("image", Node::str("nginx:1.27"))
            .set("ports", Node::strs(["80", "53/udp"]))
            .set("environment", Node::Map(env))
            .set("desired_count", Node::Int(2));
        let mut item = Map::default();
        item.set("type", Node::str("spread")).set("field", Node::str("attribute:ecs.availability-zone"));
        svc.set("placement_strategy", Node::Seq(vec![Node::Map(item)]));
        svc.commented(vec!["bosun cannot represent: a\u{1b}[2K name".into()], "adopt", Node::Bool(true));
        let mut services = Map::default();
        services.set("web", Node::Map(svc));
        let mut doc = Map::default();
        doc.set("version", Node::Int(1)).set("services", Node::Map(services));
        let text = render(&["imported".into(), String::new()], &doc);
        assert_eq!(
            text,
            r#"# imported
#

version: 1

services:
  web:
    image: nginx:1.27
    ports: ["80", "53/udp"]
    environment:
      FLAG: "true"
      PORT: "587"
      PEM: "a\nb"
    desired_count: 2
    placement_strategy:
      - type: spread
        field: attribute:ecs.availability-zone

    # bosun cannot represent: a\u{1b}[2K name
    adopt: true
"#
        );
    }
}
