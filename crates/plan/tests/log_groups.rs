//! The planner's CloudWatch Logs part: a group created once, retention drift planned back,
//! a group bosun did not create a conflict, and a group no longer asked for left alone.

use bosun_plan::observed::{ObservedLogGroup, Owner};
use bosun_plan::simulate::simulate;
use bosun_plan::{Action, Kind, Observed, Policy, plan, render_text};
use bosun_stackfile::{Desired, fixtures, load};

fn with_group(retention: &str) -> Desired {
    let top = "    awslogs-stream-prefix: demo\n";
    let text = fixtures::Prerequisites::fake().fill(fixtures::example("demo.yml")).replacen(
        top,
        &format!("{top}  create_group: true\n{retention}"),
        1,
    );
    load(&text, "demo").unwrap_or_else(|d| panic!("valid: {d}"))
}

#[test]
fn the_group_is_created_before_the_task_definitions_and_converges() {
    let d = with_group("  retention_days: 14\n");
    let p = plan(&d, &Observed::default(), &Policy::default());
    let pos = |kind: Kind| p.changes.iter().position(|c| c.resource.kind == kind).expect("planned");
    assert!(pos(Kind::LogGroup) < pos(Kind::TaskDefinition));
    let text = render_text(&p);
    assert!(text.contains("+ log group /ecs/demo"), "{text}");
    let live = simulate(&d, &Observed::default(), &p);
    assert!(plan(&d, &live, &Policy::default()).is_empty());
}

#[test]
fn retention_drift_is_one_update_and_a_foreign_group_a_conflict() {
    let d = with_group("  retention_days: 14\n");
    let mut live = simulate(&d, &Observed::default(), &plan(&d, &Observed::default(), &Policy::default()));
    live.log_groups.get_mut("/ecs/demo").expect("created").retention_days = Some(3);
    let p = plan(&d, &live, &Policy::default());
    assert_eq!(p.changes.len(), 1, "{}", render_text(&p));
    let c = &p.changes[0];
    assert_eq!((c.action, c.resource.kind), (Action::Update, Kind::LogGroup));
    assert_eq!((c.fields[0].before.as_str(), c.fields[0].after.as_str()), ("3 days", "14 days"));

    live.log_groups.insert(
        "/ecs/demo".into(),
        ObservedLogGroup { arn: "arn:x".into(), retention_days: Some(3), owner: Owner::default() },
    );
    let p = plan(&d, &live, &Policy::default());
    assert!(p.changes.is_empty(), "{}", render_text(&p));
    assert!(p.conflicts[0].reason.contains("was not created by bosun"), "{:?}", p.conflicts);

    // No longer asked for: left in place, even under prune (its logs are data).
    let plain = fixtures::desired("demo.yml", "demo");
    let p = plan(&plain, &live, &Policy { prune: true, ..Policy::default() });
    assert!(p.changes.iter().all(|c| c.resource.kind != Kind::LogGroup));
}
