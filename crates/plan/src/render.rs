//! Deterministic text and JSON rendering of plans. Environment values never appear:
//! only their names and a short digest, so a plan can be pasted into a pull request.

use std::fmt::Write as _;

use bosun_stackfile::TaskDefinitionSpec;
use sha2::{Digest, Sha256};

use crate::types::{Action, Plan};

/// Render a task definition as stable, diff-friendly lines.
pub fn render_task_definition(td: &TaskDefinitionSpec) -> String {
    let mut s = String::new();
    let c = &td.container;
    let _ = writeln!(s, "family: {}", td.family);
    let _ = writeln!(s, "network_mode: {}", td.network_mode);
    let _ = writeln!(s, "requires_compatibilities: {}", td.requires_compatibilities.join(","));
    opt(&mut s, "cpu", td.cpu.as_deref());
    opt(&mut s, "memory", td.memory.as_deref());
    opt(&mut s, "task_role_arn", td.task_role_arn.as_deref());
    opt(&mut s, "execution_role_arn", td.execution_role_arn.as_deref());
    for v in &td.volumes {
        let _ = writeln!(s, "volume {}: {}", v.name, v.host_path);
    }
    for p in &td.placement_constraints {
        let _ = writeln!(s, "placement_constraint: {} {}", p.kind, p.expression.as_deref().unwrap_or(""));
    }
    let _ = writeln!(s, "container {}:", c.name);
    let _ = writeln!(s, "  image: {}", c.image);
    opt(&mut s, "  memory", c.memory.map(|m| m.to_string()).as_deref());
    opt(&mut s, "  cpu", c.cpu.map(|m| m.to_string()).as_deref());
    opt(&mut s, "  gpus", c.gpus.map(|m| m.to_string()).as_deref());
    if c.privileged {
        let _ = writeln!(s, "  privileged: true");
    }
    for p in &c.port_mappings {
        let host = p.host_port.map_or_else(String::new, |h| format!("{h}:"));
        let _ = writeln!(s, "  port: {host}{}/{}", p.container_port, p.protocol);
    }
    for m in &c.mount_points {
        let _ = writeln!(
            s,
            "  mount: {} -> {}{}",
            m.source_volume,
            m.container_path,
            if m.read_only { " (ro)" } else { "" }
        );
    }
    for (k, v) in &c.environment {
        let _ = writeln!(s, "  env {k}: {}", value_digest(v));
    }
    for (k, v) in &c.secrets {
        let _ = writeln!(s, "  secret {k}: {v}");
    }
    if let Some(l) = &c.log_configuration {
        let _ = writeln!(s, "  log_driver: {}", l.driver);
        for (k, v) in &l.options {
            let _ = writeln!(s, "  log_option {k}: {v}");
        }
    }
    if let Some(h) = &c.health_check {
        let _ = writeln!(
            s,
            "  health_check: {:?} interval={} timeout={} retries={} start_period={}",
            h.command, h.interval, h.timeout, h.retries, h.start_period
        );
    }
    s
}

fn opt(s: &mut String, key: &str, v: Option<&str>) {
    if let Some(v) = v {
        let _ = writeln!(s, "{key}: {v}");
    }
}

/// A stand-in for an environment value: equal values render equally, and a change is
/// visible, but the value itself is not.
pub fn value_digest(v: &str) -> String {
    let d = Sha256::digest(v.as_bytes());
    format!("(sha256:{})", &hex::encode(d)[..8])
}

/// Unified diff of two renderings, live first.
pub fn unified_diff(live: &str, desired: &str, live_name: &str) -> String {
    similar::TextDiff::from_lines(live, desired)
        .unified_diff()
        .context_radius(2)
        .header(&format!("live {live_name}"), "desired")
        .to_string()
}

/// Render the plan as text for humans: a summary line, one marked line per change
/// (`+` create, `~` update, `±` replace, `-` delete), field changes, task-definition
/// diffs, orphans, conflicts and the hash.
pub fn render_text(plan: &Plan) -> String {
    let mut s = String::new();
    let sum = plan.summary();
    if plan.is_empty() && plan.conflicts.is_empty() {
        let _ = writeln!(s, "cluster {}: no changes; live state matches the stackfile.", plan.cluster);
    } else {
        let _ = writeln!(
            s,
            "cluster {}: {} to create, {} to update, {} to replace, {} to delete, {} hook(s) to run",
            plan.cluster, sum.create, sum.update, sum.replace, sum.delete, sum.run
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
        let _ = writeln!(s, "{} {}{verb}", c.action.marker(), c.resource);
        for f in &c.fields {
            if f.before.is_empty() {
                let _ = writeln!(s, "    {}: {}", f.field, f.after);
            } else {
                let _ = writeln!(s, "    {}: {} -> {}", f.field, f.before, f.after);
            }
        }
        if let Some(diff) = &c.diff {
            for line in diff.lines() {
                let _ = writeln!(s, "    {line}");
            }
        }
    }
    if !plan.orphans.is_empty() {
        let _ = writeln!(s, "\nowned by bosun but not in the stackfile (left in place; `prune: true` deletes them):");
        for o in &plan.orphans {
            let _ = writeln!(s, "  ? {}", o.resource);
        }
    }
    if !plan.conflicts.is_empty() {
        let _ = writeln!(s, "\nconflicts (apply refuses until they are resolved):");
        for c in &plan.conflicts {
            let _ = writeln!(s, "  ! {}: {}", c.resource, c.reason);
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
    serde_json::to_string_pretty(&v).expect("json values always serialise")
}
