//! The planner's Application Auto Scaling part: order, field diffs, ownership (a
//! foreign target is a conflict), removal, and services that leave the stackfile.

mod common;

use common::converge;

use bosun_plan::observed::Owner;
use bosun_plan::simulate::simulate;
use bosun_plan::{Action, Kind, Observed, Policy, Step, plan, render_text};
use bosun_stackfile::{Desired, fixtures, load};

/// demo.yml with `web` scaled on CPU and requests, with one scheduled action.
fn scaled(extra: &str) -> Desired {
    let text = fixtures::Prerequisites::fake().fill(fixtures::example("demo.yml"));
    let anchor = "  - web:\n      image: public.ecr.aws/nginx/nginx:1.27\n";
    let block = format!(
        "      autoscaling:\n        min: 1\n        max: 4\n        target_tracking: [{{metric: cpu, target: 60}}, {{metric: alb_requests, target: 500}}]\n        scheduled: [{{name: night, schedule: \"rate(1 day)\", max: 2}}]\n{extra}"
    );
    load(&text.replacen(anchor, &format!("{anchor}{block}"), 1), "demo").unwrap_or_else(|d| panic!("valid: {d}"))
}

#[test]
fn scaling_is_created_after_its_service_and_converges() {
    let d = scaled("");
    let p = plan(&d, &Observed::default(), &Policy::default());
    let pos = |kind: Kind| p.changes.iter().position(|c| c.resource.kind == kind).expect("planned");
    assert!(pos(Kind::Service) < pos(Kind::ScalableTarget));
    assert!(pos(Kind::ScalableTarget) < pos(Kind::ScalingPolicy));
    assert!(pos(Kind::ScalingPolicy) < pos(Kind::ScheduledAction));
    let text = render_text(&p);
    assert!(text.contains("+ scalable target service/demo/web"), "{text}");
    assert!(text.contains("+ scaling policy demo-web-alb_requests"), "{text}");
    assert!(text.contains("+ scheduled action demo-web-night"), "{text}");
    // The service starts at the stackfile's count and leaves it to the scaler after.
    let Some(Step::CreateService { spec, .. }) =
        p.changes.iter().find(|c| c.resource.kind == Kind::Service && c.resource.name == "web").map(|c| &c.step)
    else {
        panic!("web is created")
    };
    assert_eq!((spec.desired_count, spec.initial_count), (None, 2));

    let live = converge(&d, &Observed::default());
    assert!(plan(&d, &live, &Policy::default()).is_empty());
}

#[test]
fn a_change_of_max_is_one_update_of_the_target_and_nothing_else() {
    let live = converge(&scaled(""), &Observed::default());
    let d = load(
        &fixtures::Prerequisites::fake().fill(fixtures::example("demo.yml")).replacen(
            "  - web:\n      image: public.ecr.aws/nginx/nginx:1.27\n",
            "  - web:\n      image: public.ecr.aws/nginx/nginx:1.27\n      autoscaling:\n        min: 1\n        max: 8\n        target_tracking: [{metric: cpu, target: 60}, {metric: alb_requests, target: 500}]\n        scheduled: [{name: night, schedule: \"rate(1 day)\", max: 2}]\n",
            1,
        ),
        "demo",
    )
    .expect("valid");
    let p = plan(&d, &live, &Policy::default());
    assert_eq!(p.changes.len(), 1, "{}", render_text(&p));
    let c = &p.changes[0];
    assert_eq!((c.action, c.resource.kind), (Action::Update, Kind::ScalableTarget));
    assert_eq!(
        (c.fields[0].field.to_string(), c.fields[0].before.as_str(), c.fields[0].after.as_str()),
        ("max".to_owned(), "4", "8")
    );
}

#[test]
fn drift_in_bounds_and_policies_is_planned_back_field_by_field() {
    let d = scaled("");
    let mut live = converge(&d, &Observed::default());
    let t = live.scalable_targets.get_mut("web").expect("a target");
    t.min = 3;
    let cpu = t.policies.get_mut("demo-web-cpu").expect("cpu").as_mut().expect("readable");
    cpu.target = 40;
    t.scheduled.get_mut("demo-web-night").expect("night").timezone = "Europe/Paris".into();
    // The scaler's count is not drift.
    live.services.get_mut("web").expect("web").desired_count = 4;

    let p = plan(&d, &live, &Policy::default());
    let text = render_text(&p);
    let shown: Vec<(Kind, String)> = p
        .changes
        .iter()
        .map(|c| (c.resource.kind, c.fields.iter().map(|f| f.field.to_string()).collect::<Vec<_>>().join(",")))
        .collect();
    assert_eq!(
        shown,
        [
            (Kind::ScalableTarget, "min".to_owned()),
            (Kind::ScalingPolicy, "target".to_owned()),
            (Kind::ScheduledAction, "timezone".to_owned()),
        ],
        "{text}"
    );
    let healed = simulate(&d, &live, &p);
    assert!(plan(&d, &healed, &Policy::default()).is_empty());
}

#[test]
fn a_foreign_target_is_a_conflict_and_a_target_of_nobodys_service_is_left_alone() {
    let d = scaled("");
    let mut live = converge(&d, &Observed::default());
    live.scalable_targets.get_mut("web").expect("a target").owner = Owner::default();
    let p = plan(&d, &live, &Policy { prune: true, ..Policy::default() });
    assert!(p.is_empty(), "{}", render_text(&p));
    assert_eq!(p.conflicts.len(), 1);
    assert_eq!(p.conflicts[0].resource.name, "service/demo/web");
    assert!(p.conflicts[0].reason.contains("not managed by bosun"), "{}", p.conflicts[0].reason);

    // Without `autoscaling`, a foreign target is none of bosun's business.
    let plain = fixtures::desired("demo.yml", "demo");
    let p = plan(&plain, &live, &Policy { prune: true, ..Policy::default() });
    assert!(p.changes.iter().all(|c| c.resource.kind != Kind::ScalableTarget), "{}", render_text(&p));
}

#[test]
fn removing_autoscaling_deregisters_and_a_removed_service_takes_its_target_with_it() {
    let mut live = converge(&scaled(""), &Observed::default());
    // The scaler had set the count; without autoscaling it is the stackfile's again.
    live.services.get_mut("web").expect("web").desired_count = 4;
    let plain = fixtures::desired("demo.yml", "demo");
    let p = plan(&plain, &live, &Policy::default());
    let deletes: Vec<(Kind, &str)> = p
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| (c.resource.kind, c.resource.name.as_str()))
        .collect();
    // One deregistration: the policies and the action go with the target.
    assert_eq!(deletes, [(Kind::ScalableTarget, "service/demo/web")], "{}", render_text(&p));
    let web = p.changes.iter().find(|c| c.resource.kind == Kind::Service && c.resource.name == "web").expect("web");
    let count = web.fields.iter().find(|f| f.field == "desired_count").expect("the count");
    assert_eq!((count.before.as_str(), count.after.as_str()), ("4", "2"));

    // A service that leaves the stackfile: its target is an orphan without prune, and
    // deregistered before the service is deleted with it.
    let mut without_web = scaled("");
    without_web.services.remove("web");
    let p = plan(&without_web, &live, &Policy::default());
    assert!(p.orphans.iter().any(|o| o.resource.kind == Kind::ScalableTarget), "{:?}", p.orphans);
    let p = plan(&without_web, &live, &Policy { prune: true, ..Policy::default() });
    let pos = |kind: Kind| p.changes.iter().position(|c| c.resource.kind == kind && c.action == Action::Delete);
    assert!(pos(Kind::ScalableTarget).expect("deregistered") < pos(Kind::Service).expect("deleted"));
}
