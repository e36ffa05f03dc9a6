//! The service's capacity provider strategy, ECS Exec, grace period, managed tags, tag
//! propagation and the task definition's tags: what they normalise to, how a strategy
//! decides the launch type against `launch_type` and `defaults`, and the combinations
//! ECS refuses, each with its place.

use bosun_stackfile::{CapacityProviderItem, LaunchType, PropagateTags, load};

fn errors(source: &str) -> String {
    match load(source, "staging") {
        Ok(_) => panic!("stackfile should not load"),
        Err(d) => d.to_string(),
    }
}

const VPC: &str = "vpc:\n  id: vpc-0a1b2c3d\n  subnets: {private: [subnet-0000001a]}\n";

#[test]
fn every_key_normalises() {
    let text = format!(
        r#"{VPC}services:
  - api:
      image: nginx:1.27
      cpu: 256
      memory: 512
      capacity_provider_strategy:
        - {{provider: FARGATE_SPOT, weight: 3}}
        - {{provider: FARGATE, base: 1, weight: 1}}
      enable_execute_command: true
      enable_ecs_managed_tags: true
      propagate_tags: service
      healthcheck: {{command: "true"}}
      health_check_grace_period: 30
      tags: {{team: payments, cost-center: "42"}}
"#
    );
    let d = load(&text, "staging").unwrap();
    let api = &d.services["api"];
    assert_eq!(
        api.capacity_provider_strategy,
        [
            CapacityProviderItem { provider: "FARGATE_SPOT".into(), weight: 3, base: 0 },
            CapacityProviderItem { provider: "FARGATE".into(), weight: 1, base: 1 },
        ]
    );
    // Fargate's providers make it a Fargate service: awsvpc, Fargate compatibility.
    assert_eq!(api.launch_type, LaunchType::Fargate);
    assert_eq!(api.task_definition.requires_compatibilities, ["FARGATE"]);
    assert_eq!(api.task_definition.network_mode, "awsvpc");
    assert!(api.enable_execute_command && api.enable_ecs_managed_tags);
    assert_eq!(api.propagate_tags, Some(PropagateTags::Service));
    assert_eq!(api.health_check_grace_period, Some(30));
    assert_eq!(
        api.task_definition.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
        [("cost-center", "42"), ("team", "payments")]
    );
}

#[test]
fn defaults_strategy_applies_where_the_service_says_neither() {
    let text = format!(
        r#"{VPC}defaults:
  capacity_provider_strategy: [{{provider: asg-a, weight: 1}}]
services:
  - inherits:
      image: nginx
  - own_launch_type:
      image: nginx
      launch_type: ec2
  - own_strategy:
      image: nginx
      capacity_provider_strategy: [{{provider: asg-b, weight: 2}}]
"#
    );
    let d = load(&text, "staging").unwrap();
    let providers =
        |s: &str| d.services[s].capacity_provider_strategy.iter().map(|i| i.provider.clone()).collect::<Vec<_>>();
    assert_eq!(providers("inherits"), ["asg-a"]);
    assert!(providers("own_launch_type").is_empty(), "a service's launch_type wins over the default strategy");
    assert_eq!(providers("own_strategy"), ["asg-b"]);
    // Auto Scaling group providers are EC2 capacity.
    assert_eq!(d.services["inherits"].launch_type, LaunchType::Ec2);

    // A service's own strategy wins over `defaults.launch_type` too.
    let text = format!(
        "{VPC}defaults:\n  launch_type: ec2\nservices:\n  - spot:\n      image: nginx\n      cpu: 256\n      memory: 512\n      capacity_provider_strategy: [{{provider: FARGATE_SPOT, weight: 1}}]\n"
    );
    let d = load(&text, "staging").unwrap();
    assert_eq!(d.services["spot"].launch_type, LaunchType::Fargate);
}

#[test]
fn unset_keys_are_left_out_of_the_service_json() {
    let d = load("services:\n  - web:\n      image: nginx\n", "staging").unwrap();
    let json = serde_json::to_string(&d.services["web"]).unwrap();
    for key in [
        "capacity_provider_strategy",
        "propagate_tags",
        "enable_execute_command",
        "health_check_grace_period",
        "enable_ecs_managed_tags",
        "\"tags\"",
    ] {
        assert!(!json.contains(key), "{key} in {json}");
    }
}

#[test]
fn combinations_ecs_refuses_are_reported_with_their_place() {
    let text = format!(
        r#"{VPC}defaults:
  launch_type: ec2
  capacity_provider_strategy: [{{provider: asg-a, weight: 1}}]
services:
  - both:
      image: nginx
      cpu: 256
      memory: 512
      launch_type: fargate
      capacity_provider_strategy: [{{provider: FARGATE, weight: 1}}]
  - ranges:
      image: nginx
      capacity_provider_strategy:
        - {{provider: asg-a, weight: 1001, base: 1}}
        - {{provider: asg-b, weight: 0, base: 100001}}
        - {{provider: asg-a, weight: 1}}
        - {{provider: "bad name", weight: 1}}
  - no_weight:
      image: nginx
      capacity_provider_strategy: [{{provider: asg-a, base: 2}}]
  - mixed:
      image: nginx
      capacity_provider_strategy: [{{provider: FARGATE, weight: 1}}, {{provider: asg-a, weight: 1}}]
  - grace:
      image: nginx
      health_check_grace_period: 30
  - job:
      type: task
      image: nginx
      enable_execute_command: true
      capacity_provider_strategy: [{{provider: asg-a, weight: 1}}]
  - exec:
      image: nginx
      readonly_root_filesystem: true
      enable_execute_command: true
  - tagged:
      image: nginx
      tags:
        aws:owner: me
        bosun:cluster: other
        "": empty
        ok: "a value with a ! mark"
"#
    );
    insta::assert_snapshot!("service_keys_combinations", errors(&text));
}

#[test]
fn too_many_tags_or_providers_and_unknown_propagation_are_structural_errors() {
    let tags: String = (0..47).map(|i| format!("        t{i}: v\n")).collect();
    let providers: String = (0..7).map(|i| format!("{{provider: p{i}, weight: 1}}, ")).collect();
    let text = format!(
        "services:\n  - web:\n      image: nginx\n      propagate_tags: tasks\n      capacity_provider_strategy: [{}]\n      tags:\n{tags}",
        providers.trim_end_matches(", ")
    );
    insta::assert_snapshot!("service_keys_structural", errors(&text));
}
