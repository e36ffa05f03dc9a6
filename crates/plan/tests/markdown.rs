//! The Markdown plan of a pull-request comment: what a reviewer reads (snapshots),
//! that text from the stackfile or AWS stays inert in it, and that it fits GitHub's
//! comment size limit while the hash and the apply command survive.

mod common;

use bosun_plan::markdown::{DEFAULT_MAX_CHARS, GITHUB_COMMENT_LIMIT, marker};
use bosun_plan::observed::Owner;
use bosun_plan::simulate::simulate;
use bosun_plan::{Kind, MarkdownOptions, Observed, Plan, Policy, plan, render_markdown};
use bosun_stackfile::{Desired, fixtures, load};
use common::foreign_service;

const FILE: &str = "stackfiles/demo.yml";

/// Plan, simulate the apply, and return the state AWS would be in.
fn converge(desired: &Desired) -> Observed {
    let p = plan(desired, &Observed::default(), &Policy::from_desired(desired));
    simulate(desired, &Observed::default(), &p)
}

/// Make the live task definition of `service` readable under the ARN the service
/// runs, as the observer reads it, so the plan shows a diff.
fn readable_task_definition(live: &mut Observed, service: &str, family: &str) {
    let arn = live.services[service].task_definition_arn.clone();
    let td = live.task_definitions.values().find(|t| t.spec.family == family).unwrap().clone();
    live.task_definitions.insert(arn, td);
}

/// The Markdown with code spans, fenced blocks and HTML `<code>` taken out, as
/// CommonMark delimits them: what is left is what a renderer reads as Markdown and HTML.
fn outside_code(md: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<usize> = None;
    for line in md.lines() {
        let ticks = line.len() - line.trim_start_matches('`').len();
        match fence {
            Some(n) if ticks >= n && line[ticks..].trim().is_empty() => fence = None,
            Some(_) => {}
            None if ticks >= 3 => fence = Some(ticks),
            None => {
                out.push_str(&without_html_code(&without_code_spans(line)));
                out.push('\n');
            }
        }
    }
    assert!(fence.is_none(), "a fence is left open:\n{md}");
    out
}

/// `<code>…</code>` in HTML (the `<summary>` lines) taken out: GitHub neither links
/// nor mentions inside it, and its text is entity-escaped, so it cannot end early.
fn without_html_code(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("<code>") {
        let end = rest[start..].find("</code>").map(|e| start + e + "</code>".len()).expect("<code> is closed");
        out.push_str(&rest[..start]);
        out.push_str("CODE");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn without_code_spans(line: &str) -> String {
    let runs = |s: &str| {
        let mut v = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'`' {
                let start = i;
                while i < b.len() && b[i] == b'`' {
                    i += 1;
                }
                v.push((start, i - start));
            } else {
                i += 1;
            }
        }
        v
    };
    let runs = runs(line);
    let mut out = String::new();
    let mut pos = 0;
    let mut k = 0;
    while k < runs.len() {
        let (start, len) = runs[k];
        if let Some(close) = runs[k + 1..].iter().position(|&(_, l)| l == len) {
            out.push_str(&line[pos..start]);
            out.push_str("CODE");
            let (cs, cl) = runs[k + 1 + close];
            pos = cs + cl;
            k += close + 2;
        } else {
            k += 1;
        }
    }
    out.push_str(&line[pos..]);
    out
}

/// Cells of a table row, split at `|` that are not escaped, as GFM splits them.
fn cells(row: &str) -> usize {
    let b = row.as_bytes();
    (0..b.len()).filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\')).count().saturating_sub(1)
}

/// The checks every rendered comment passes: one marker line with the full hash, as
/// many `<details>` as `</details>` outside code, table rows of six cells, and the
/// apply command pinned to the hash.
fn assert_well_formed(md: &str, p: &Plan) {
    assert_eq!(md.lines().next(), Some(marker(p).as_str()));
    assert_eq!(md.matches("<!-- bosun-plan:").count(), 1, "{md}");
    let outside = outside_code(md);
    assert_eq!(outside.matches("<details>").count(), outside.matches("</details>").count(), "{outside}");
    assert!(!outside.contains("<script"), "{outside}");
    for row in md.lines().filter(|l| l.starts_with('|')) {
        assert_eq!(cells(row), 6, "a table row with other than six cells: {row}");
    }
    let apply = format!("bosun apply --cluster {} -f {FILE} --plan-hash {} --auto-approve", p.cluster, p.hash);
    assert!(md.lines().any(|l| l == apply), "no `{apply}` in:\n{md}");
    assert!(md.chars().count() <= DEFAULT_MAX_CHARS);
}

#[test]
fn creates_an_image_bump_and_a_conflict() {
    let desired = fixtures::desired("demo.yml", "demo");
    let mut live = converge(&desired);
    // `users` is new, `web` gets a new image, and `mailer` collides with a service
    // someone else made.
    live.services.remove("users");
    live.discovery_services.clear();
    live.task_definitions.retain(|_, td| td.spec.family != "demo-users");
    readable_task_definition(&mut live, "web", "demo-web");
    live.services.insert("mailer".into(), foreign_service("mailer"));
    let mut bumped = desired.clone();
    bumped.services.get_mut("web").unwrap().task_definition.container.image = "public.ecr.aws/nginx/nginx:1.28".into();

    let p = plan(&bumped, &live, &Policy::default());
    assert_eq!(p.conflicts.len(), 1);
    assert!(p.changes.iter().any(|c| c.resource.kind == Kind::Service && c.resource.name == "users"));
    let md = render_markdown(&p, &MarkdownOptions::new(FILE));
    insta::assert_snapshot!("creates_bump_conflict", md);
    assert_well_formed(&md, &p);
    assert!(md.contains("image: nginx/nginx:1.27 -> 1.28"), "the registry elided as in the text plan: {md}");
    assert!(md.contains("`bosun apply` refuses this plan"), "{md}");
    assert!(!md.contains("Left out"), "nothing is left out of a small plan:\n{md}");
}

#[test]
fn no_changes_says_so_and_still_pins_the_hash() {
    let desired = fixtures::desired("demo.yml", "demo");
    let p = plan(&desired, &converge(&desired), &Policy::default());
    assert!(p.is_empty());
    let md = render_markdown(&p, &MarkdownOptions::new(FILE));
    insta::assert_snapshot!("no_changes", md);
    assert_well_formed(&md, &p);
    assert!(!md.contains("| action |"), "no table without changes:\n{md}");
}

#[test]
fn forged_text_stays_inert() {
    let forged = "x|y</details><script>alert(1)</script>`` ``` @here [a](https://evil.example)";
    let desired = fixtures::desired("demo.yml", "demo");
    let mut live = converge(&desired);
    readable_task_definition(&mut live, "web", "demo-web");
    // An owned orphan whose name someone with access to the account chose.
    let mut orphan = foreign_service(&format!("old{forged}"));
    orphan.owner = Owner::bosun("demo", Some("old"));
    live.services.insert(orphan.name.clone(), orphan);
    // A desired state built without the stackfile's checks: a forged image, and a
    // service (with its task definition) under a forged name.
    let mut changed = desired.clone();
    changed.services.get_mut("web").unwrap().task_definition.container.image =
        format!("nginx:1.28{forged}\n| a | row |");
    let mut extra = changed.services["mailer"].clone();
    extra.name = format!("mail{forged}");
    extra.task_definition.family = format!("demo-{}", extra.name);
    changed.services.insert(extra.name.clone(), extra);

    let p = plan(&changed, &live, &Policy::default());
    let md = render_markdown(&p, &MarkdownOptions::new(FILE));
    insta::assert_snapshot!("forged_text", md);
    assert_well_formed(&md, &p);
    // Our own sections, and no others: one per change.
    let outside = outside_code(&md);
    let with_details = p.changes.iter().filter(|c| !c.fields.is_empty() || c.diff.is_some()).count();
    assert_eq!(outside.matches("<details>").count(), with_details, "{outside}");
    assert!(!outside.contains("@here") && !outside.contains("](https://"), "{outside}");
    assert!(!md.chars().any(|c| c.is_control() && c != '\n'), "{md}");
    let rows = md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| |")).count();
    assert_eq!(rows, p.changes.len(), "one table row per change:\n{md}");
}

/// A stack of `n` services, each with a long environment (names only show) and
/// `image`: enough task-definition diff per service to need many kilobytes.
fn big_stack(n: usize, image: &str) -> Desired {
    let mut y = String::from(
        "vpc:\n  id: vpc-0a1b2c3d\n  subnets:\n    private: [subnet-0000001a]\n  security_groups:\n    private: [sg-0000000b]\nservices:\n",
    );
    for i in 0..n {
        y.push_str(&format!("  - service-number-{i:03}:\n      image: public.ecr.aws/x/{image}\n      environment:\n"));
        for k in 0..25 {
            y.push_str(&format!("        - A_RATHER_LONG_ENVIRONMENT_VARIABLE_NAME_{k:02}: v\n"));
        }
    }
    load(&y, "big").expect("a valid stackfile")
}

#[test]
fn a_plan_too_big_for_a_comment_leaves_out_diffs_and_details_from_the_end() {
    let before = big_stack(120, "app:1.0");
    let mut live = converge(&before);
    for s in before.services.keys() {
        readable_task_definition(&mut live, s, &format!("big-{s}"));
    }
    let after = big_stack(120, "app:1.1");
    let p = plan(&after, &live, &Policy::default());
    assert_eq!(p.changes.len(), 240);
    let full = render_markdown(&p, &MarkdownOptions { max_chars: usize::MAX, ..MarkdownOptions::new(FILE) });
    assert!(full.chars().count() > GITHUB_COMMENT_LIMIT, "the test plan is big enough: {}", full.len());

    let md = render_markdown(&p, &MarkdownOptions::new(FILE));
    assert!(md.chars().count() <= DEFAULT_MAX_CHARS, "{} characters", md.chars().count());
    assert!(md.chars().count() > DEFAULT_MAX_CHARS - 5_000, "it fills the comment: {}", md.chars().count());
    assert_well_formed(&md, &p);
    // The whole table stays; details go from the end, diffs first.
    let rows = md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| |")).count();
    assert_eq!(rows, p.changes.len());
    assert!(md.contains("service-number-000"));
    let first_diff = md.find("```diff").expect("the first diffs stay");
    let last_details = md.rfind("<details>").expect("some details stay");
    assert!(first_diff < last_details);
    let note = md.lines().find(|l| l.starts_with("> Left out")).unwrap_or_else(|| panic!("a note in:\n{md}"));
    assert!(note.contains("the details of the last"), "{note}");
    assert!(note.contains("CI job's log") && note.contains("`bosun plan --cluster big -f stackfiles/demo.yml`"));

    // A small cap shows the order in which parts give way.
    let small = render_markdown(&p, &MarkdownOptions { max_chars: 3_000, ..MarkdownOptions::new(FILE) });
    assert!(small.chars().count() <= 3_000, "{}", small.chars().count());
    assert!(small.contains(&p.hash) && small.contains("--plan-hash"));
    assert!(!small.contains("<details>"), "{small}");
    insta::assert_snapshot!("truncated_to_3000", small);

    // Characters are counted, not bytes: a multi-byte name costs one character each.
    let mut wide = p.clone();
    wide.cluster = "ü".repeat(40);
    let md = render_markdown(&wide, &MarkdownOptions { max_chars: 20_000, ..MarkdownOptions::new(FILE) });
    let n = md.chars().count();
    assert!(n <= 20_000 && n > 19_000, "{n} characters, {} bytes", md.len());
}
