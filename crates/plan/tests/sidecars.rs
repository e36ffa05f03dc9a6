//! Sidecars in the plan: the task-definition diff shows each sidecar's fields, a
//! sidecar's image change is a new revision shown in full (the compact one-line form is
//! a main-image bump only), drift in a live sidecar plans a new revision, and a preview
//! for a caller who may not read environment values compares no sidecar's value either.

use bosun_plan::blind::{blind_env_values, take_live_env_values};
use bosun_plan::observed::ObservedTaskDefinition;
use bosun_plan::simulate::simulate;
use bosun_plan::{Action, DiffMode, Kind, Observed, Plan, Policy, TextOptions, plan, render_text, render_text_with};
use bosun_stackfile::{Desired, load};

/// One Fargate service `api` with a FireLens router and an agent; `router` and `agent`
/// are their images, `main` the main container's.
fn stack(main: &str, router: &str, agent: &str) -> Desired {
    let text = format!(
        r#"vpc:
  id: vpc-0a1b2c3d
  subnets: {{private: [subnet-0000001a]}}
  security_groups: {{private: [sg-0000000b]}}
services:
  - api:
      image: {main}
      launch_type: fargate
      cpu: 256
      memory: 512
      logging: {{log_driver: awsfirelens, options: {{Name: cloudwatch}}}}
      depends_on: [{{container: log-router, condition: START}}]
      containers:
        - name: log-router
          image: {router}
          memory: 64
          firelens: {{type: fluentbit, options: {{enable-ecs-log-metadata: "true"}}}}
          logging: {{log_driver: awslogs, options: {{awslogs-group: /ecs/fb}}}}
        - name: agent
          image: {agent}
          essential: false
          ports: [9100]
          environment: {{TOKEN: one}}
          depends_on: [{{container: log-router, condition: START}}]
"#
    );
    load(&text, "ci").unwrap_or_else(|e| panic!("{e}"))
}

/// The plan of `desired` against a cluster that runs `live` as bosun applied it.
fn plan_over(live: &Desired, desired: &Desired) -> Plan {
    let observed = converged(live);
    plan(desired, &observed, &Policy::from_desired(desired))
}

fn converged(d: &Desired) -> Observed {
    simulate(d, &Observed::default(), &plan(d, &Observed::default(), &Policy::from_desired(d)))
}

const ROUTER: &str = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0";
const ROUTER_2: &str = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.1";

#[test]
fn adding_sidecars_shows_every_container_and_its_fields() {
    let plain = load(
        "vpc:\n  id: vpc-0a1b2c3d\n  subnets: {private: [subnet-0000001a]}\n  security_groups: {private: [sg-0000000b]}\nservices:\n  - api:\n      image: nginx:1.27\n      launch_type: fargate\n      cpu: 256\n      memory: 512\n",
        "ci",
    )
    .unwrap();
    let d = stack("nginx:1.27", ROUTER, "agent:1");
    let text = render_text(&plan_over(&plain, &d));
    insta::assert_snapshot!("sidecars_added", text);
    for line in [
        "+  log_driver: awsfirelens",
        "+  depends_on log-router: START",
        "+container log-router:",
        "+  firelens: fluentbit",
        "+  firelens_option enable-ecs-log-metadata: true",
        "+container agent:",
        "+  essential: false",
        "+  env TOKEN: (hidden)",
    ] {
        assert!(text.contains(line), "no `{line}` in\n{text}");
    }
    assert!(!text.contains("one"), "an environment value in\n{text}");
    // Converged, nothing more.
    assert!(plan(&d, &converged(&d), &Policy::from_desired(&d)).is_empty());
}

#[test]
fn a_sidecar_image_change_is_never_the_compact_image_line() {
    let live = stack("nginx:1.27", ROUTER, "agent:1");
    let p = plan_over(&live, &stack("nginx:1.27", ROUTER_2, "agent:1"));
    let compact = render_text_with(&p, TextOptions { diff: DiffMode::Compact, color: false });
    insta::assert_snapshot!("sidecar_image_change_compact", compact);
    assert!(compact.contains("~ task definition ci-api\n"), "{compact}");
    assert!(compact.contains(&format!("+  image: {ROUTER_2}")), "{compact}");
    // One new revision, one service update; no image field for the main container.
    let kinds: Vec<(Action, Kind)> = p.changes.iter().map(|c| (c.action, c.resource.kind)).collect();
    assert_eq!(kinds, [(Action::Update, Kind::TaskDefinition), (Action::Update, Kind::Service)]);
    assert_eq!(p.changes[1].fields.len(), 1, "{:?}", p.changes[1].fields);

    // A main-image bump alone is still the one line.
    let p = plan_over(&live, &stack("nginx:1.28", ROUTER, "agent:1"));
    let compact = render_text_with(&p, TextOptions { diff: DiffMode::Compact, color: false });
    assert!(compact.contains("~ api  nginx:1.27 -> 1.28"), "{compact}");
    assert!(!compact.contains("task definition"), "{compact}");
}

#[test]
fn drift_in_a_live_sidecar_plans_a_new_revision_and_converges() {
    let d = stack("nginx:1.27", ROUTER, "agent:1");
    let mut live = converged(&d);
    // Someone registered a revision whose router is another image and deployed it.
    let svc = live.services.get_mut("api").expect("api runs");
    let mut td: ObservedTaskDefinition = live.task_definitions[&svc.task_definition_arn].clone();
    td.arn = "arn:sim:ecs:task-definition/ci-api:99".into();
    td.spec.sidecars[0].image = ROUTER_2.into();
    td.spec_hash = None;
    svc.task_definition_arn = td.arn.clone();
    live.task_definitions.insert(td.arn.clone(), td);

    let p = plan(&d, &live, &Policy::from_desired(&d));
    let text = render_text(&p);
    assert!(text.contains(&format!("-  image: {ROUTER_2}")) && text.contains(&format!("+  image: {ROUTER}")), "{text}");
    assert_eq!(p.changes.iter().filter(|c| c.resource.kind == Kind::TaskDefinition).count(), 1, "{text}");
    let healed = simulate(&d, &live, &p);
    assert!(plan(&d, &healed, &Policy::from_desired(&d)).is_empty());
}

#[test]
fn a_blind_preview_compares_no_sidecar_environment_value() {
    let d = stack("nginx:1.27", ROUTER, "agent:1");
    let live = converged(&d);
    // A candidate with a guessed value of the agent's TOKEN: the preview must not say
    // whether it is right, so both guesses plan the same thing.
    let preview = |token: &str| {
        let mut candidate = stack("nginx:1.27", ROUTER, "agent:1");
        candidate.services.get_mut("api").unwrap().task_definition.sidecars[1]
            .environment
            .insert("TOKEN".into(), token.into());
        blind_env_values(&mut candidate);
        assert!(!candidate.services["api"].task_definition.sidecars[1].environment["TOKEN"].contains(token));
        take_live_env_values(&mut candidate, &live);
        render_text(&plan(&candidate, &live, &Policy::from_desired(&candidate)))
    };
    assert_eq!(preview("one"), preview("two"));
    assert!(preview("two").contains("no changes"), "{}", preview("two"));
}
