//! The service's capacity provider strategy (Fargate Spot), ECS Exec, health check
//! grace period, managed tags, tag propagation and the task definition's tags (issue 15):
//! applied from nothing and read back through the SDK, converged with no call, drift
//! healed, a launch type moved to Spot in place, and refused at the command line where
//! ECS would refuse them.

use aws_sdk_ecs::types as ecs;
use bosun_tests::{Env, Stackfile, assert_invalid, ecs_tags};

/// A Fargate Spot service with ECS Exec, a command and every setting, and an EC2
/// worker that uses none of them.
const EVERY_KEY: &str = r#"
vpc:
  id: ${VPC_ID}
  subnets:
    private: [${PRIVATE_SUBNET_A}, ${PRIVATE_SUBNET_B}]
  security_groups:
    private: [${PRIVATE_SG}]
services:
  - api:
      image: public.ecr.aws/nginx/nginx:1.27
      cpu: 256
      memory: 512
      command: ["nginx", "-g", "daemon off;"]
      capacity_provider_strategy:
        - {provider: FARGATE_SPOT, weight: 3}
        - {provider: FARGATE, base: 1, weight: 1}
      enable_execute_command: true
      enable_ecs_managed_tags: true
      propagate_tags: task_definition
      healthcheck: {command: "curl -f http://localhost/ || exit 1"}
      health_check_grace_period: 45
      tags: {team: payments, cost-center: "42"}
  - worker:
      image: public.ecr.aws/docker/library/busybox:1.36
      memory: 128
"#;

fn every_key() -> Stackfile {
    Stackfile::from_text("service_keys.yml", EVERY_KEY)
}

fn strategy(s: &ecs::Service) -> Vec<(String, i32, i32)> {
    s.capacity_provider_strategy().iter().map(|i| (i.capacity_provider().to_owned(), i.weight(), i.base())).collect()
}

#[tokio::test]
async fn every_key_is_applied_read_back_and_converges() {
    let env = Env::start().await;
    let plan = env.plan(&every_key(), &[]).await;
    // Spot shows in the plan, on the service's create line.
    assert!(plan.stdout.contains("+ service api\n"), "{plan}");
    assert!(plan.stdout.contains("    capacity: FARGATE_SPOT weight 3, FARGATE base 1 weight 1\n"), "{plan}");
    env.converge(&every_key()).await;

    let api = env.service("api").await;
    assert_eq!(strategy(&api), [("FARGATE_SPOT".into(), 3, 0), ("FARGATE".into(), 1, 1)]);
    assert_eq!(api.launch_type(), None, "ECS takes a strategy or a launch type");
    assert!(api.enable_execute_command());
    assert!(api.enable_ecs_managed_tags());
    assert_eq!(api.propagate_tags(), Some(&ecs::PropagateTags::TaskDefinition));
    assert_eq!(api.health_check_grace_period_seconds(), Some(45));
    let td_arn = api.task_definition().expect("a task definition");
    let td = env.task_definition(td_arn).await;
    assert_eq!(td.requires_compatibilities(), [ecs::Compatibility::Fargate]);
    assert_eq!(td.container_definitions()[0].command(), ["nginx", "-g", "daemon off;"]);
    let out = env
        .ecs
        .describe_task_definition()
        .task_definition(td_arn)
        .include(ecs::TaskDefinitionField::Tags)
        .send()
        .await
        .expect("DescribeTaskDefinition");
    let tags = ecs_tags(out.tags());
    assert_eq!(tags.get("team").map(String::as_str), Some("payments"));
    assert_eq!(tags.get("cost-center").map(String::as_str), Some("42"));
    assert!(tags.contains_key("bosun:spec-hash"), "bosun's own tags stay beside the stackfile's: {tags:?}");

    // A service that sets none of them sends none: ECS's defaults.
    let worker = env.service("worker").await;
    assert_eq!(worker.launch_type(), Some(&ecs::LaunchType::Ec2));
    assert!(worker.capacity_provider_strategy().is_empty());
    assert!(!worker.enable_execute_command() && !worker.enable_ecs_managed_tags());
    assert!(matches!(worker.propagate_tags(), None | Some(ecs::PropagateTags::None)));
    assert!(worker.health_check_grace_period_seconds().unwrap_or(0) == 0);

    // Read back, the live services equal the specs: nothing to plan, no call.
    env.assert_converged(&every_key()).await;
}

#[tokio::test]
async fn drift_of_ecs_exec_and_the_grace_period_is_shown_and_healed() {
    let env = Env::start().await;
    env.converge(&every_key()).await;
    let before = env.running_revision("api").await;
    env.ecs
        .update_service()
        .cluster("demo")
        .service("api")
        .enable_execute_command(false)
        .health_check_grace_period_seconds(0)
        .send()
        .await
        .expect("UpdateService out of band");

    let plan = env.plan(&every_key(), &[]).await;
    plan.expect_code(2).expect_lines(&["~ service api"]);
    assert!(plan.stdout.contains("    enable_execute_command: false -> true\n"), "{plan}");
    assert!(plan.stdout.contains("    health_check_grace_period: 0s -> 45s\n"), "{plan}");

    let apply = env.converge(&every_key()).await;
    let stats = apply.stats();
    assert_eq!(stats.calls("UpdateService"), 1, "{apply}");
    assert_eq!(stats.calls("RegisterTaskDefinition"), 0, "{apply}");
    let api = env.service("api").await;
    assert!(api.enable_execute_command());
    assert_eq!(api.health_check_grace_period_seconds(), Some(45));
    assert_eq!(env.running_revision("api").await, before, "no new revision");
    env.assert_converged(&every_key()).await;
}

#[tokio::test]
async fn a_fargate_service_moves_to_spot_in_place() {
    let env = Env::start().await;
    let on_fargate = every_key().replace(
        "      capacity_provider_strategy:\n        - {provider: FARGATE_SPOT, weight: 3}\n        - {provider: FARGATE, base: 1, weight: 1}\n",
        "      launch_type: fargate\n",
    );
    env.converge(&on_fargate).await;
    let arn = env.service("api").await.service_arn().map(str::to_owned);
    assert_eq!(env.service("api").await.launch_type(), Some(&ecs::LaunchType::Fargate));

    let plan = env.plan(&every_key(), &[]).await;
    plan.expect_code(2).expect_lines(&["~ service api"]);
    assert!(plan.stdout.contains("    capacity: (none) -> FARGATE_SPOT weight 3, FARGATE base 1 weight 1\n"), "{plan}");
    let apply = env.converge(&every_key()).await;
    let stats = apply.stats();
    assert_eq!(stats.calls("UpdateService"), 1, "{apply}");
    assert_eq!((stats.calls("CreateService"), stats.calls("DeleteService")), (0, 0), "{apply}");
    let api = env.service("api").await;
    assert_eq!(api.service_arn().map(str::to_owned), arn, "the same service");
    assert_eq!(strategy(&api), [("FARGATE_SPOT".into(), 3, 0), ("FARGATE".into(), 1, 1)]);
    env.assert_converged(&every_key()).await;
}

#[test]
fn validate_refuses_what_ecs_refuses_with_file_line_and_column() {
    let text = r#"services:
  - both:
      image: nginx
      launch_type: ec2
      capacity_provider_strategy: [{provider: FARGATE, weight: 1}]
  - spot:
      image: nginx
      capacity_provider_strategy:
        - {provider: FARGATE_SPOT, weight: 1001, base: 1}
        - {provider: FARGATE, base: 2}
  - grace:
      image: nginx
      health_check_grace_period: 30
  - tagged:
      image: nginx
      tags: {"aws:team": core}
"#;
    assert_invalid(
        text,
        &[
            "bad.yml:4:7: services[0].both.launch_type: `launch_type` and `capacity_provider_strategy` exclude each other",
            "bad.yml:9:44: services[1].spot.capacity_provider_strategy[0].weight: a capacity provider weight must be between 0 and 1000, found 1001",
            "bad.yml:10:37: services[1].spot.capacity_provider_strategy[1].base: only one capacity provider of a strategy can have a base",
            "bad.yml:13:34: services[2].grace.health_check_grace_period: a health check grace period needs a load balancer (`elb` or `routing`) or a container `healthcheck`",
            "bad.yml:16:14: services[3].tagged.tags.aws:team: tag `aws:team`: the `aws:` prefix is reserved for AWS",
        ],
    );
}
