//! Deterministic text and JSON rendering of plans.
//!
//! Environment values never appear, not even as a digest (an unsalted digest lets a
//! reader confirm a guessed secret): a task-definition diff shows only that a value
//! changed. Every string a plan shows, whether it came from the stackfile or was read
//! from AWS (names, tags, images, log options, reasons), is escaped when it holds a
//! character a terminal would act on or hide, so that no value can forge a line of
//! the plan a reviewer reads.

use std::borrow::Cow;
use std::fmt::Write as _;

use bosun_stackfile::TaskDefinitionSpec;

use crate::types::{Action, Plan};

/// What an environment value renders as.
const HIDDEN: &str = "(hidden)";
/// What a changed environment value renders as on the desired side of a diff.
const CHANGED: &str = "(value changed)";

/// `text` with every control character, and every invisible character that reorders
/// or hides text (bidirectional overrides, zero-width characters), escaped as Rust
/// escapes them (`\n`, `\u{1b}`, `\u{202e}`). Printable text, Unicode included,
/// is returned as it is, without allocating.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether a character must not reach a plan as it is.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// Render a task definition as stable, diff-friendly lines. Environment values show as
/// `(hidden)`.
pub fn render_task_definition(td: &TaskDefinitionSpec) -> String {
    render_with_env(td, |_| HIDDEN)
}

/// The unified diff of a live task definition against the desired one, live first. An
/// environment variable whose value differs shows `(value changed)` on the desired
/// side; its values never appear.
pub fn task_definition_diff(live: &TaskDefinitionSpec, desired: &TaskDefinitionSpec, live_name: &str) -> String {
    let before = render_task_definition(live);
    let after = render_with_env(desired, |(name, value)| match live.container.environment.get(name) {
        Some(old) if old != value => CHANGED,
        _ => HIDDEN,
    });
    unified_diff(&before, &after, live_name)
}

fn render_with_env<'a>(td: &'a TaskDefinitionSpec, env: impl Fn((&'a str, &'a str)) -> &'static str) -> String {
    let mut s = String::new();
    let c = &td.container;
    let _ = writeln!(s, "family: {}", escape(&td.family));
    let _ = writeln!(s, "network_mode: {}", escape(&td.network_mode));
    let _ = writeln!(s, "requires_compatibilities: {}", escape(&td.requires_compatibilities.join(",")));
    opt(&mut s, "cpu", td.cpu.as_deref());
    opt(&mut s, "memory", td.memory.as_deref());
    opt(&mut s, "task_role_arn", td.task_role_arn.as_deref());
    opt(&mut s, "execution_role_arn", td.execution_role_arn.as_deref());
    for v in &td.volumes {
        let _ = writeln!(s, "volume {}: {}", escape(&v.name), escape(&v.host_path));
    }
    for p in &td.placement_constraints {
        let _ =
            writeln!(s, "placement_constraint: {} {}", escape(&p.kind), escape(p.expression.as_deref().unwrap_or("")));
    }
    let _ = writeln!(s, "container {}:", escape(&c.name));
    let _ = writeln!(s, "  image: {}", escape(&c.image));
    opt(&mut s, "  memory", c.memory.map(|m| m.to_string()).as_deref());
    opt(&mut s, "  cpu", c.cpu.map(|m| m.to_string()).as_deref());
    opt(&mut s, "  gpus", c.gpus.map(|m| m.to_string()).as_deref());
    if c.privileged {
        let _ = writeln!(s, "  privileged: true");
    }
    for p in &c.port_mappings {
        let host = p.host_port.map_or_else(String::new, |h| format!("{h}:"));
        let _ = writeln!(s, "  port: {host}{}/{}", p.container_port, escape(&p.protocol));
    }
    for m in &c.mount_points {
        let _ = writeln!(
            s,
            "  mount: {} -> {}{}",
            escape(&m.source_volume),
            escape(&m.container_path),
            if m.read_only { " (ro)" } else { "" }
        );
    }
    for (k, v) in &c.environment {
        let _ = writeln!(s, "  env {}: {}", escape(k), env((k, v)));
    }
    for (k, v) in &c.secrets {
        let _ = writeln!(s, "  secret {}: {}", escape(k), escape(v));
    }
    if let Some(l) = &c.log_configuration {
        let _ = writeln!(s, "  log_driver: {}", escape(&l.driver));
        for (k, v) in &l.options {
            let _ = writeln!(s, "  log_option {}: {}", escape(k), escape(v));
        }
    }
    if let Some(h) = &c.health_check {
        let _ = writeln!(
            s,
            "  health_check: {} interval={} timeout={} retries={} start_period={}",
            command(&h.command),
            h.interval,
            h.timeout,
            h.retries,
            h.start_period
        );
    }
    s
}

fn opt(s: &mut String, key: &str, v: Option<&str>) {
    if let Some(v) = v {
        let _ = writeln!(s, "{key}: {}", escape(v));
    }
}

/// A command as a list of quoted arguments, `["CMD-SHELL", "curl -f http://localhost/"]`,
/// as Rust's `Debug` writes them (`\\` and `\"` escaped), and every other character
/// escaped like any other string (a command may span lines).
fn command(args: &[String]) -> String {
    let quoted: Vec<String> =
        args.iter().map(|a| format!("\"{}\"", escape(&a.replace('\\', "\\\\").replace('"', "\\\"")))).collect();
    format!("[{}]", quoted.join(", "))
}

/// Unified diff of two renderings, live first.
pub fn unified_diff(live: &str, desired: &str, live_name: &str) -> String {
    similar::TextDiff::from_lines(live, desired)
        .unified_diff()
        .context_radius(2)
        .header(&format!("live {}", escape(live_name)), "desired")
        .to_string()
}

/// Render the plan as text for humans: a summary line, one marked line per change
/// (`+` create, `~` update, `±` replace, `-` delete), field changes, task-definition
/// diffs, orphans, conflicts and the hash.
pub fn render_text(plan: &Plan) -> String {
    let mut s = String::new();
    let sum = plan.summary();
    if plan.is_empty() && plan.conflicts.is_empty() {
        let _ = writeln!(s, "cluster {}: no changes; live state matches the stackfile.", escape(&plan.cluster));
    } else {
        let _ = writeln!(
            s,
            "cluster {}: {} to create, {} to update, {} to replace, {} to delete, {} hook(s) to run",
            escape(&plan.cluster),
            sum.create,
            sum.update,
            sum.replace,
            sum.delete,
            sum.run
        );
    }
    if !plan.changes.is_empty() {
        let _ = writeln!(s);
    }
    for c in &plan.changes {
        let verb = match c.action {
            Action::Adopt => " (adopt: bosun takes ownership)",
            Action::Run => " (run once)",
            _ => "",
        };
        let _ = writeln!(s, "{} {}{verb}", c.action.marker(), escape(&c.resource.to_string()));
        for f in &c.fields {
            if f.before.is_empty() {
                let _ = writeln!(s, "    {}: {}", f.field, escape(&f.after));
            } else {
                let _ = writeln!(s, "    {}: {} -> {}", f.field, escape(&f.before), escape(&f.after));
            }
        }
        if let Some(diff) = &c.diff {
            // The renderings are escaped already; a diff built some other way is too.
            for line in diff.lines() {
                let _ = writeln!(s, "    {}", escape(line));
            }
        }
    }
    if !plan.orphans.is_empty() {
        let _ = writeln!(s, "\nowned by bosun but not in the stackfile (left in place; `prune: true` deletes them):");
        for o in &plan.orphans {
            let _ = writeln!(s, "  ? {}", escape(&o.resource.to_string()));
        }
    }
    if !plan.conflicts.is_empty() {
        let _ = writeln!(s, "\nconflicts (apply refuses until they are resolved):");
        for c in &plan.conflicts {
            let _ = writeln!(s, "  ! {}: {}", escape(&c.resource.to_string()), escape(&c.reason));
        }
    }
    let _ = writeln!(s, "\nplan hash: {}", plan.short_hash());
    s
}

/// Render the plan as pretty JSON. Step payloads are left out: they hold environment
/// values. The field list, diffs and the hash describe the plan fully.
pub fn render_json(plan: &Plan) -> String {
    let changes: Vec<serde_json::Value> = plan
        .changes
        .iter()
        .map(|c| {
            serde_json::json!({
                "kind": c.resource.kind,
                "name": c.resource.name,
                "action": c.action,
                "service": c.service,
                "fields": c.fields,
                "diff": c.diff,
            })
        })
        .collect();
    let v = serde_json::json!({
        "cluster": plan.cluster,
        "hash": plan.hash,
        "empty": plan.is_empty(),
        "summary": plan.summary(),
        "changes": changes,
        "orphans": plan.orphans,
        "conflicts": plan.conflicts,
    });
    let json = serde_json::to_string_pretty(&v).expect("json values always serialise");
    // serde_json escapes control characters in strings (the only ones left are the
    // layout's line breaks); the invisible ones that reorder or hide text are valid in
    // a JSON string, so they are escaped here for whoever shows it.
    let invisible = |c: char| hidden(c) && !c.is_control();
    if json.chars().any(invisible) {
        json.chars().fold(String::with_capacity(json.len() + 16), |mut out, c| {
            if invisible(c) {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            } else {
                out.push(c);
            }
            out
        })
    } else {
        json
    }
}
