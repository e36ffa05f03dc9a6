//! The capacity, ECS Exec, grace period and tag settings of a service in the planner:
//! Spot named in the plan, drift planned back, a launch type moved to a strategy in
//! place, and the way back refused as a conflict.

mod common;

use common::{converge, desired};

use bosun_plan::simulate::simulate;
use bosun_plan::{Action, Kind, Observed, Policy, ServiceField, Step, plan, render_text};

const SPOT: &str = r#"
vpc:
  id: vpc-0a1b2c3d
  subnets: {private: [subnet-0000001a]}
services:
  - api:
      image: public.ecr.aws/x/api:1
      cpu: 256
      memory: 512
      ports: [8080]
      capacity_provider_strategy:
        - {provider: FARGATE_SPOT, weight: 3}
        - {provider: FARGATE, base: 1, weight: 1}
      enable_execute_command: true
      enable_ecs_managed_tags: true
      propagate_tags: task_definition
      healthcheck: {command: "curl -f http://localhost:8080/"}
      health_check_grace_period: 60
      tags: {team: payments}
"#;

#[test]
fn a_spot_service_names_its_strategy_when_created_and_converges() {
    let d = desired(SPOT);
    let p = plan(&d, &Observed::default(), &Policy::from_desired(&d));
    let text = render_text(&p);
    assert!(text.contains("+ service api\n"), "{text}");
    assert!(text.contains("    capacity: FARGATE_SPOT weight 3, FARGATE base 1 weight 1\n"), "{text}");
    // The task definition is Fargate's: the providers decide it.
    let api = &d.services["api"];
    assert_eq!(api.task_definition.requires_compatibilities, ["FARGATE"]);
    assert_eq!(api.task_definition.tags.get("team").map(String::as_str), Some("payments"));
    let live = converge(&d, &Observed::default());
    assert!(live.services["api"].launch_type.is_none(), "ECS reports a strategy or a launch type");
    let again = plan(&d, &live, &Policy::from_desired(&d));
    assert!(again.is_empty(), "{}", render_text(&again));
}

#[test]
fn drift_of_each_setting_is_one_update_service_of_that_field() {
    let d = desired(SPOT);
    let live = converge(&d, &Observed::default());
    let mut drifted = live.clone();
    let settings = &mut drifted.services.get_mut("api").unwrap().settings;
    settings.enable_execute_command = false;
    settings.health_check_grace_period = 0;
    settings.propagate_tags = None;
    settings.enable_ecs_managed_tags = false;
    let p = plan(&d, &drifted, &Policy::from_desired(&d));
    assert_eq!(p.changes.len(), 1, "{}", render_text(&p));
    let c = &p.changes[0];
    assert_eq!((c.resource.kind, c.action), (Kind::Service, Action::Update));
    let Step::UpdateService { fields, .. } = &c.step else { panic!("{:?}", c.step) };
    assert_eq!(
        fields,
        &[
            ServiceField::EnableExecuteCommand,
            ServiceField::HealthCheckGracePeriod,
            ServiceField::EnableEcsManagedTags,
            ServiceField::PropagateTags
        ]
    );
    let text = render_text(&p);
    assert!(text.contains("    enable_execute_command: false -> true\n"), "{text}");
    assert!(text.contains("    health_check_grace_period: 0s -> 60s\n"), "{text}");
    assert!(text.contains("    propagate_tags: NONE -> TASK_DEFINITION\n"), "{text}");
    let healed = simulate(&d, &drifted, &p);
    assert!(plan(&d, &healed, &Policy::from_desired(&d)).is_empty());
}

#[test]
fn a_launch_type_moves_to_a_strategy_in_place_and_not_back() {
    let on_fargate = desired(&SPOT.replace(
        "      capacity_provider_strategy:\n        - {provider: FARGATE_SPOT, weight: 3}\n        - {provider: FARGATE, base: 1, weight: 1}\n",
        "      launch_type: fargate\n",
    ));
    assert!(on_fargate.services["api"].capacity_provider_strategy.is_empty());
    let live = converge(&on_fargate, &Observed::default());
    assert_eq!(live.services["api"].launch_type.as_deref(), Some("FARGATE"));

    // Fargate -> Fargate Spot: the same task definition, one UpdateService.
    let spot = desired(SPOT);
    let p = plan(&spot, &live, &Policy::from_desired(&spot));
    assert!(p.conflicts.is_empty(), "{}", render_text(&p));
    let text = render_text(&p);
    assert!(text.contains("    capacity: (none) -> FARGATE_SPOT weight 3, FARGATE base 1 weight 1\n"), "{text}");
    assert!(p.changes.iter().all(|c| c.resource.kind != Kind::TaskDefinition), "{text}");
    let moved = simulate(&spot, &live, &p);
    assert!(plan(&spot, &moved, &Policy::from_desired(&spot)).is_empty());

    // And back: ECS cannot, so it is a conflict that says what to do.
    let back = plan(&on_fargate, &moved, &Policy::from_desired(&on_fargate));
    assert!(back.changes.iter().all(|c| c.resource.kind != Kind::Service));
    let [conflict] = back.conflicts.as_slice() else { panic!("{}", render_text(&back)) };
    assert!(conflict.reason.contains("cannot move back to a launch type"), "{}", conflict.reason);
}

/// A service that reports neither a launch type nor a strategy runs on the cluster's
/// default strategy: a spec on that strategy (a service naming neither, under a
/// `cluster:` block) plans nothing for it, and a spec on another strategy plans the
/// change from the default.
#[test]
fn a_service_reporting_neither_runs_on_the_clusters_default_strategy() {
    let text = r#"
vpc:
  id: vpc-0a1b2c3d
  subnets: {private: [subnet-0000001a]}
cluster:
  capacity_providers: [FARGATE, FARGATE_SPOT]
  default_strategy: [{provider: FARGATE_SPOT, weight: 1}]
services:
  - api:
      image: public.ecr.aws/x/api:1
      cpu: 256
      memory: 512
"#;
    let d = desired(text);
    let mut live = converge(&d, &Observed::default());
    let api = live.services.get_mut("api").unwrap();
    assert!(api.launch_type.is_none());
    api.settings.capacity_provider_strategy.clear();
    let p = plan(&d, &live, &Policy::from_desired(&d));
    assert!(p.is_empty(), "{}", render_text(&p));

    let other = desired(&text.replace(
        "      memory: 512\n",
        "      memory: 512\n      capacity_provider_strategy: [{provider: FARGATE, weight: 1}]\n",
    ));
    let p = plan(&other, &live, &Policy::from_desired(&other));
    let text = render_text(&p);
    assert!(text.contains("    capacity: FARGATE_SPOT weight 1 -> FARGATE weight 1\n"), "{text}");
}
