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

use anstyle::{AnsiColor, Style};
use bosun_stackfile::{ContainerSpec, PortMapping, TaskDefinitionSpec};

use crate::fields::{Field, ServiceField, TaskDefinitionField};
use crate::types::{Action, Kind, Plan};

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
    render_with_env(td, |_, _| HIDDEN)
}

/// The unified diff of a live task definition against the desired one, live first. An
/// environment variable whose value differs shows `(value changed)` on the desired
/// side; its values never appear.
pub fn task_definition_diff(live: &TaskDefinitionSpec, desired: &TaskDefinitionSpec, live_name: &str) -> String {
    let before = render_task_definition(live);
    // A value is compared with the live one of the same variable in the same container:
    // the main one, or the sidecar of the same name.
    let after = render_with_env(desired, |container, (name, value)| {
        let live_container = if container == desired.container.name {
            Some(&live.container)
        } else {
            live.sidecars.iter().find(|c| c.name == container)
        };
        match live_container.and_then(|c| c.environment.get(name)) {
            Some(old) if old != value => CHANGED,
            _ => HIDDEN,
        }
    });
    unified_diff(&before, &after, live_name)
}

fn render_with_env<'a>(
    td: &'a TaskDefinitionSpec,
    env: impl Fn(&'a str, (&'a str, &'a str)) -> &'static str,
) -> String {
    // Exhaustive, so that a field added to the spec does not compile until the diff
    // shows it. A field that is unset renders no line at all: the rendering of a spec
    // that does not use it stays what it was before the field existed.
    let TaskDefinitionSpec {
        family: _,
        network_mode: _,
        requires_compatibilities: _,
        cpu: _,
        memory: _,
        task_role_arn: _,
        execution_role_arn: _,
        volumes: _,
        placement_constraints: _,
        container,
        runtime_platform,
        ephemeral_storage,
        tags,
        sidecars,
    } = td;
    let mut s = String::new();
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
    if let Some(p) = runtime_platform {
        let _ = writeln!(s, "runtime_platform: {} {}", escape(&p.os_family), escape(&p.cpu_architecture));
    }
    opt(&mut s, "ephemeral_storage_gib", ephemeral_storage.map(|g| g.to_string()).as_deref());
    for (k, v) in tags {
        let _ = writeln!(s, "tag {}: {}", escape(k), escape(v));
    }
    // The main container first, then the sidecars in their order, each as a block of
    // the same lines.
    for c in std::iter::once(container).chain(sidecars) {
        render_container(&mut s, c, |kv| env(&c.name, kv));
    }
    s
}

/// The lines of one container.
fn render_container<'a>(s: &mut String, c: &'a ContainerSpec, env: impl Fn((&'a str, &'a str)) -> &'static str) {
    let ContainerSpec {
        name: _,
        image: _,
        memory: _,
        cpu: _,
        privileged: _,
        environment: _,
        secrets: _,
        port_mappings: _,
        mount_points: _,
        log_configuration: _,
        health_check: _,
        gpus: _,
        command: cmd,
        entry_point,
        working_directory,
        user,
        stop_timeout,
        readonly_root_filesystem,
        ulimits,
        docker_labels,
        init_process_enabled,
        essential,
        depends_on,
        firelens,
    } = c;
    let _ = writeln!(s, "container {}:", escape(&c.name));
    let _ = writeln!(s, "  image: {}", escape(&c.image));
    opt(s, "  memory", c.memory.map(|m| m.to_string()).as_deref());
    opt(s, "  cpu", c.cpu.map(|m| m.to_string()).as_deref());
    opt(s, "  gpus", c.gpus.map(|m| m.to_string()).as_deref());
    if c.privileged {
        let _ = writeln!(s, "  privileged: true");
    }
    for p in &c.port_mappings {
        let PortMapping { container_port, host_port, protocol, name, app_protocol } = p;
        let host = host_port.map_or_else(String::new, |h| format!("{h}:"));
        let _ = write!(s, "  port: {host}{container_port}/{}", escape(protocol));
        if let Some(n) = name {
            let _ = write!(s, " name={}", escape(n));
        }
        if let Some(a) = app_protocol {
            let _ = write!(s, " app_protocol={}", escape(a));
        }
        s.push('\n');
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
    if !entry_point.is_empty() {
        let _ = writeln!(s, "  entrypoint: {}", command(entry_point));
    }
    if !cmd.is_empty() {
        let _ = writeln!(s, "  command: {}", command(cmd));
    }
    opt(s, "  working_directory", working_directory.as_deref());
    opt(s, "  user", user.as_deref());
    opt(s, "  stop_timeout", stop_timeout.map(|t| t.to_string()).as_deref());
    if *readonly_root_filesystem {
        let _ = writeln!(s, "  readonly_root_filesystem: true");
    }
    if *init_process_enabled {
        let _ = writeln!(s, "  init_process_enabled: true");
    }
    for u in ulimits {
        let _ = writeln!(s, "  ulimit {}: soft={} hard={}", escape(&u.name), u.soft_limit, u.hard_limit);
    }
    for (k, v) in docker_labels {
        let _ = writeln!(s, "  docker_label {}: {}", escape(k), escape(v));
    }
    if !essential {
        let _ = writeln!(s, "  essential: false");
    }
    for d in depends_on {
        let _ = writeln!(s, "  depends_on {}: {}", escape(&d.container), escape(&d.condition));
    }
    if let Some(f) = firelens {
        let _ = writeln!(s, "  firelens: {}", escape(&f.kind));
        for (k, v) in &f.options {
            let _ = writeln!(s, "  firelens_option {}: {}", escape(k), escape(v));
        }
    }
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

/// How [`render_text_with`] lays a plan out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// How much of a changed task definition to show.
    pub diff: DiffMode,
    /// Whether to mark the text up with ANSI colours, for a terminal. The text without
    /// its escape codes is exactly the plain rendering.
    pub color: bool,
}

/// How much of a changed task definition a text plan shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DiffMode {
    /// The unified diff of every changed task definition.
    #[default]
    Full,
    /// One line per service whose only change is its image, `~ users  httpd:2.4 -> 2.5`,
    /// instead of its task definition's diff and its service change; every other change
    /// in full.
    Compact,
}

/// The colours of a text plan; all plain without colour, so that one code path writes
/// both renderings.
struct Palette {
    create: Style,
    update: Style,
    replace: Style,
    delete: Style,
    hunk: Style,
    heading: Style,
    orphan: Style,
    conflict: Style,
}

impl Palette {
    const PLAIN: Palette = Palette {
        create: Style::new(),
        update: Style::new(),
        replace: Style::new(),
        delete: Style::new(),
        hunk: Style::new(),
        heading: Style::new(),
        orphan: Style::new(),
        conflict: Style::new(),
    };

    const ANSI: Palette = Palette {
        create: AnsiColor::Green.on_default(),
        update: AnsiColor::Yellow.on_default(),
        replace: AnsiColor::Magenta.on_default(),
        delete: AnsiColor::Red.on_default(),
        hunk: AnsiColor::Cyan.on_default(),
        heading: Style::new().bold(),
        orphan: AnsiColor::Yellow.on_default(),
        conflict: AnsiColor::Red.on_default().bold(),
    };

    fn action(&self, action: Action) -> Style {
        match action {
            Action::Create | Action::Run => self.create,
            Action::Update | Action::Adopt => self.update,
            Action::Replace => self.replace,
            Action::Delete => self.delete,
        }
    }

    /// The style of one line of a unified diff.
    fn diff_line(&self, line: &str) -> Style {
        if line.starts_with("+++") || line.starts_with("---") {
            self.heading
        } else if line.starts_with('+') {
            self.create
        } else if line.starts_with('-') {
            self.delete
        } else if line.starts_with("@@") {
            self.hunk
        } else {
            Style::new()
        }
    }
}

/// Render the plan as text for humans: a summary line, one marked line per change
/// (`+` create, `~` update, `±` replace, `-` delete), field changes, task-definition
/// diffs, orphans, conflicts and the hash. Plain, with every diff in full.
pub fn render_text(plan: &Plan) -> String {
    render_text_with(plan, TextOptions::default())
}

/// [`render_text`], laid out as `options` say.
pub fn render_text_with(plan: &Plan, options: TextOptions) -> String {
    let p = if options.color { &Palette::ANSI } else { &Palette::PLAIN };
    let compact = match options.diff {
        DiffMode::Full => Vec::new(),
        DiffMode::Compact => image_bumps(plan),
    };
    let width = compact.iter().map(|b| b.service.chars().count()).max().unwrap_or(0);
    let mut s = String::new();
    let sum = plan.summary();
    let heading = p.heading;
    if plan.is_empty() && plan.conflicts.is_empty() {
        let _ = writeln!(
            s,
            "{heading}cluster {}: no changes; live state matches the stackfile.{heading:#}",
            escape(&plan.cluster)
        );
    } else {
        let _ = writeln!(
            s,
            "{heading}cluster {}: {} to create, {} to update, {} to replace, {} to delete, {} hook(s) to run{heading:#}",
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
    // How each change shows: an image bump's one line goes where its service change
    // is, and its task definition's change shows nothing.
    let mut shown = vec![Shown::Full; plan.changes.len()];
    for bump in &compact {
        shown[bump.task_definition] = Shown::Hidden;
        shown[bump.service_change] = Shown::Bump(bump);
    }
    for (c, shown) in plan.changes.iter().zip(shown) {
        let marker = p.action(c.action);
        match shown {
            Shown::Full => {}
            Shown::Hidden => continue,
            Shown::Bump(bump) => {
                let (from, to) = elide_registry(bump.from, bump.to);
                let _ = writeln!(
                    s,
                    "{marker}{}{marker:#} {:<width$}  {} -> {}",
                    c.action.marker(),
                    escape(bump.service),
                    escape(from),
                    escape(to),
                );
                continue;
            }
        }
        let verb = match c.action {
            Action::Adopt => " (adopt: bosun takes ownership)",
            Action::Run => " (run once)",
            _ => "",
        };
        let _ = writeln!(s, "{marker}{}{marker:#} {}{verb}", c.action.marker(), escape(&c.resource.to_string()));
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
                let style = p.diff_line(line);
                let _ = writeln!(s, "    {style}{}{style:#}", escape(line));
            }
        }
    }
    if !plan.orphans.is_empty() {
        let _ = writeln!(s, "\nowned by bosun but not in the stackfile (left in place; `prune: true` deletes them):");
        let style = p.orphan;
        for o in &plan.orphans {
            let _ = writeln!(s, "  {style}?{style:#} {}", escape(&o.resource.to_string()));
        }
    }
    if !plan.conflicts.is_empty() {
        let _ = writeln!(s, "\nconflicts (apply refuses until they are resolved):");
        let style = p.conflict;
        for c in &plan.conflicts {
            let _ = writeln!(s, "  {style}!{style:#} {}: {}", escape(&c.resource.to_string()), escape(&c.reason));
        }
    }
    let _ = writeln!(s, "\n{heading}plan hash: {}{heading:#}", plan.short_hash());
    s
}

/// How one change shows in a text plan.
#[derive(Debug, Clone, Copy)]
enum Shown<'a> {
    /// Marked line, fields and diff.
    Full,
    /// Not at all: its service's image bump says it.
    Hidden,
    /// As the one line of an image bump.
    Bump(&'a ImageBump<'a>),
}

/// A service whose only change is its image: a new revision of its task definition
/// that differs from the live one in the image alone, and a service update that only
/// deploys it.
#[derive(Debug)]
struct ImageBump<'a> {
    /// Index of the task definition's change in the plan.
    task_definition: usize,
    /// Index of the service's change, where the one line goes.
    service_change: usize,
    service: &'a str,
    from: &'a str,
    to: &'a str,
}

/// The plan's image-only service changes.
fn image_bumps(plan: &Plan) -> Vec<ImageBump<'_>> {
    // Each service's new revision whose diff is the image alone, by service.
    let revisions: std::collections::HashMap<&str, usize> = plan
        .changes
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            t.resource.kind == Kind::TaskDefinition
                && t.action == Action::Update
                && t.diff.as_deref().is_some_and(image_only_diff)
        })
        .filter_map(|(i, t)| Some((t.service.as_deref()?, i)))
        .collect();
    let mut bumps = Vec::new();
    for (service_change, c) in plan.changes.iter().enumerate() {
        let (Kind::Service, Action::Update, Some(service)) = (c.resource.kind, c.action, c.service.as_deref()) else {
            continue;
        };
        // Exactly a deploy of the new revision, from the revision bosun deployed (one
        // changed outside bosun is worth the full diff), and the image that differs.
        let [revision, image] = c.fields.as_slice() else { continue };
        if revision.field != Field::Service(ServiceField::TaskDefinition)
            || revision.before.ends_with(CHANGED_OUTSIDE)
            || image.field != Field::TaskDefinition(TaskDefinitionField::Image)
        {
            continue;
        }
        if let Some(&task_definition) = revisions.get(service) {
            bumps.push(ImageBump { task_definition, service_change, service, from: &image.before, to: &image.after });
        }
    }
    bumps
}

/// What the planner appends to a service's live revision when it was changed outside
/// bosun.
pub(crate) const CHANGED_OUTSIDE: &str = "(changed outside bosun)";

/// Whether a task-definition diff (as [`task_definition_diff`] writes it) changes the
/// container's image line and nothing else.
fn image_only_diff(diff: &str) -> bool {
    let mut removed = 0;
    let mut added = 0;
    for line in diff.lines() {
        if line.starts_with("---") || line.starts_with("+++") {
            continue;
        }
        let (count, rest) = match line.as_bytes().first() {
            Some(b'-') => (&mut removed, &line[1..]),
            Some(b'+') => (&mut added, &line[1..]),
            _ => continue,
        };
        if !rest.starts_with("  image: ") {
            return false;
        }
        *count += 1;
    }
    removed == 1 && added == 1
}

/// Two images as a compact line shows them: without their registry when both are in
/// the same one, and the new one as its tag (or digest) alone when both are the same
/// repository. `123.dkr.ecr.eu-west-1.amazonaws.com/api:v1`, `…/api:v2` -> `api:v1`, `v2`.
pub fn elide_registry<'a>(from: &'a str, to: &'a str) -> (&'a str, &'a str) {
    let (from_registry, from_path) = split_registry(from);
    let (to_registry, to_path) = split_registry(to);
    let (from, to) =
        if from_registry.is_some() && from_registry == to_registry { (from_path, to_path) } else { (from, to) };
    let (from_repo, _) = split_version(from);
    match split_version(to) {
        (repo, Some(version)) if repo == from_repo => (from, version),
        _ => (from, to),
    }
}

/// An image's registry (the first path component, when it names a host: it has a dot
/// or a port, or is `localhost`, as Docker decides) and the rest.
fn split_registry(image: &str) -> (Option<&str>, &str) {
    match image.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => (Some(host), rest),
        _ => (None, image),
    }
}

/// An image's repository and its tag or digest, if it names one.
fn split_version(image: &str) -> (&str, Option<&str>) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo, Some(digest));
    }
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[name_start..].rfind(':') {
        Some(i) => (&image[..name_start + i], Some(&image[name_start + i + 1..])),
        None => (image, None),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_registry_and_repository_are_elided() {
        let ecr = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
        let (a, b) = (format!("{ecr}/svc-img:v1"), format!("{ecr}/svc-img:v2"));
        assert_eq!(elide_registry(&a, &b), ("svc-img:v1", "v2"));
        assert_eq!(
            elide_registry("public.ecr.aws/docker/library/httpd:2.4", "public.ecr.aws/docker/library/httpd:2.5"),
            ("docker/library/httpd:2.4", "2.5")
        );
        // Another repository in the same registry: its name stays.
        let other = format!("{ecr}/other:v2");
        assert_eq!(elide_registry(&a, &other), ("svc-img:v1", "other:v2"));
        // Different registries, or none: nothing to elide but the repository.
        assert_eq!(
            elide_registry("ghcr.io/acme/api:1", "quay.io/acme/api:2"),
            ("ghcr.io/acme/api:1", "quay.io/acme/api:2")
        );
        assert_eq!(elide_registry("nginx:1.27", "nginx:1.28"), ("nginx:1.27", "1.28"));
        // A registry's port is not a tag; a digest is a version.
        assert_eq!(elide_registry("localhost:5000/api", "localhost:5000/api:2"), ("api", "2"));
        assert_eq!(elide_registry("acme/api@sha256:aa", "acme/api@sha256:bb"), ("acme/api@sha256:aa", "sha256:bb"));
        // A first component without a dot or port is a Docker Hub namespace, kept.
        assert_eq!(elide_registry("acme/api:1", "acme/api:2"), ("acme/api:1", "2"));
    }

    #[test]
    fn only_a_diff_of_the_image_line_alone_is_an_image_bump() {
        let desired = bosun_stackfile::load("services:\n  - api:\n      image: acme/api:1\n      memory: 256\n", "c")
            .expect("a valid stackfile");
        let live = desired.services["api"].task_definition.clone();
        let mut bumped = live.clone();
        bumped.container.image = "acme/api:2".into();
        assert!(image_only_diff(&task_definition_diff(&live, &bumped, "api:1")));
        let mut more = bumped.clone();
        more.container.memory = Some(1024);
        assert!(!image_only_diff(&task_definition_diff(&live, &more, "api:1")));
        // An environment variable named like the image line is still not the image.
        let mut env = live.clone();
        env.container.environment.insert("image".into(), "x".into());
        assert!(!image_only_diff(&task_definition_diff(&live, &env, "api:1")));
        assert!(!image_only_diff(""));
    }
}
