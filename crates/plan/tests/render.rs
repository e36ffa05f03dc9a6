//! Text plans as a terminal shows them: the compact form of image bumps, colour, and
//! that colour never changes the text (a pipe gets exactly the plain rendering).

use bosun_plan::simulate::simulate;
use bosun_plan::{DiffMode, Observed, Plan, Policy, TextOptions, plan, render_text, render_text_with};
use bosun_stackfile::{Desired, fixtures, load};

/// Five worker services on one registry, `svc-01` to `svc-05`, each at `tag`; the
/// third also at `memory`.
fn five_services(tag: &str, memory: u32) -> Desired {
    let mut text = String::from("services:\n");
    for i in 1..=5 {
        let memory = if i == 3 { memory } else { 256 };
        text.push_str(&format!(
            "  - svc-0{i}:\n      image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc-img:{tag}\n      memory: {memory}\n"
        ));
    }
    load(&text, "ci").expect("a valid stackfile")
}

/// The plan of `desired` against a cluster that runs `live` as bosun applied it.
fn plan_over(live: &Desired, desired: &Desired) -> Plan {
    let observed = simulate(live, &Observed::default(), &plan(live, &Observed::default(), &Policy::from_desired(live)));
    plan(desired, &observed, &Policy::from_desired(desired))
}

fn compact(color: bool) -> TextOptions {
    TextOptions { diff: DiffMode::Compact, color }
}

#[test]
fn an_image_bump_of_five_services_is_one_line_each() {
    let p = plan_over(&five_services("v1", 256), &five_services("v2", 256));
    insta::assert_snapshot!("five_service_bump_compact", render_text_with(&p, compact(false)));
}

#[test]
fn a_service_with_more_than_its_image_changed_shows_its_full_diff() {
    let p = plan_over(&five_services("v1", 256), &five_services("v2", 512));
    let text = render_text_with(&p, compact(false));
    insta::assert_snapshot!("five_service_bump_one_more_change", text);
    assert!(text.contains("~ task definition ci-svc-03\n"), "{text}");
    assert!(text.contains("+  memory: 512"), "{text}");
}

#[test]
fn full_diff_mode_is_the_plain_rendering() {
    let p = plan_over(&five_services("v1", 256), &five_services("v2", 256));
    let full = render_text_with(&p, TextOptions { diff: DiffMode::Full, color: false });
    assert_eq!(full, render_text(&p));
    assert_eq!(full.matches("-  image: ").count(), 5, "{full}");
}

#[test]
fn colour_marks_actions_and_diff_lines() {
    let bump = plan_over(&five_services("v1", 256), &five_services("v2", 512));
    insta::assert_snapshot!("five_service_bump_coloured", render_text_with(&bump, compact(true)));
    let demo = fixtures::desired("demo.yml", "demo");
    let mut pruned = demo.clone();
    pruned.services.remove("mailer");
    pruned.prune = true;
    let p = plan_over(&demo, &pruned);
    insta::assert_snapshot!("prune_coloured", render_text_with(&p, compact(true)));
}

/// Whatever is rendered, its text without the escape codes is the plain rendering:
/// what a pipe or a `NO_COLOR` terminal gets is never different words.
#[test]
fn colour_never_changes_the_text() {
    let demo = fixtures::desired("demo.yml", "demo");
    let mut bumped = demo.clone();
    bumped.services.get_mut("users").unwrap().task_definition.container.image = "httpd:2.5".into();
    bumped.services.get_mut("web").unwrap().desired_count = Some(5);
    let plans = [
        plan(&demo, &Observed::default(), &Policy::default()),
        plan_over(&demo, &bumped),
        plan_over(&demo, &demo),
        plan_over(&five_services("v1", 256), &five_services("v2", 512)),
    ];
    for p in &plans {
        for diff in [DiffMode::Full, DiffMode::Compact] {
            let plain = render_text_with(p, TextOptions { diff, color: false });
            let coloured = render_text_with(p, TextOptions { diff, color: true });
            assert!(!plain.contains('\u{1b}'), "{plain}");
            assert_eq!(anstream::adapter::strip_str(&coloured).to_string(), plain);
        }
    }
}
