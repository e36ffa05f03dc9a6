//! `autoscaling:` (issue 15): the scalable target, its target-tracking policies and
//! scheduled actions, applied from nothing and read back through the SDK; converged;
//! a change of `max` touches only the scaling resources; drift in the bounds is shown
//! and healed; the scaler's count is left alone; removing `autoscaling` deregisters;
//! a target bosun does not own is never touched.

use std::collections::HashMap;

use aws_sdk_applicationautoscaling::types as aas;
use bosun_tests::{CLUSTER, Env, Stackfile};

/// An ALB service scaled on CPU, memory and requests, with a scheduled action, and a
/// worker without autoscaling.
const SCALED: &str = r#"
vpc:
  id: ${VPC_ID}
  subnets:
    public: [${PUBLIC_SUBNET_A}, ${PUBLIC_SUBNET_B}]
    private: [${PRIVATE_SUBNET_A}, ${PRIVATE_SUBNET_B}]
  security_groups:
    public: [${PUBLIC_SG}]
    private: [${PRIVATE_SG}]
services:
  - web:
      image: public.ecr.aws/nginx/nginx:1.27
      memory: 256
      desired_count: 2
      network_mode: bridge
      ports: [8080]
      elb:
        type: public
        ports: {public: 80, container: 8080}
      autoscaling:
        min: 1
        max: 4
        target_tracking:
          - {metric: cpu, target: 60}
          - {metric: memory, target: 70, scale_in_cooldown: 120}
          - {metric: alb_requests, target: 500}
        scheduled:
          - {name: night, schedule: "cron(0 22 * * ? *)", min: 1, max: 2, timezone: Europe/Berlin}
  - worker:
      image: public.ecr.aws/docker/library/busybox:1.36
      memory: 128
      desired_count: 1
"#;

fn scaled() -> Stackfile {
    Stackfile::from_text("autoscaling.yml", SCALED)
}

fn client(env: &Env) -> aws_sdk_applicationautoscaling::Client {
    aws_sdk_applicationautoscaling::Client::new(&env.sdk)
}

fn resource_id(service: &str) -> String {
    format!("service/{CLUSTER}/{service}")
}

async fn target(env: &Env, service: &str) -> Option<aas::ScalableTarget> {
    let out = client(env)
        .describe_scalable_targets()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .resource_ids(resource_id(service))
        .send()
        .await
        .expect("DescribeScalableTargets");
    out.scalable_targets().first().cloned()
}

async fn policies(env: &Env, service: &str) -> Vec<aas::ScalingPolicy> {
    let out = client(env)
        .describe_scaling_policies()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .resource_id(resource_id(service))
        .send()
        .await
        .expect("DescribeScalingPolicies");
    let mut policies = out.scaling_policies().to_vec();
    policies.sort_by(|a, b| a.policy_name().cmp(b.policy_name()));
    policies
}

async fn register(env: &Env, service: &str, min: i32, max: i32) {
    client(env)
        .register_scalable_target()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .resource_id(resource_id(service))
        .min_capacity(min)
        .max_capacity(max)
        .send()
        .await
        .expect("RegisterScalableTarget");
}

#[tokio::test]
async fn autoscaling_is_applied_read_back_and_converges() {
    let env = Env::start().await;
    let run = env.converge(&scaled()).await;
    assert_eq!(run.stats().calls("RegisterScalableTarget"), 1, "{run}");
    assert_eq!(run.stats().calls("PutScalingPolicy"), 3, "{run}");
    assert_eq!(run.stats().calls("PutScheduledAction"), 1, "{run}");

    let t = target(&env, "web").await.expect("web has a scalable target");
    assert_eq!((t.min_capacity(), t.max_capacity()), (1, 4));
    let tags = client(&env)
        .list_tags_for_resource()
        .resource_arn(t.scalable_target_arn().expect("an ARN"))
        .send()
        .await
        .expect("ListTagsForResource");
    let tags: HashMap<String, String> = tags.tags().cloned().unwrap_or_default();
    assert_eq!(tags.get("bosun:managed-by").map(String::as_str), Some("bosun"), "{tags:?}");
    assert_eq!(tags.get("bosun:cluster").map(String::as_str), Some(CLUSTER), "{tags:?}");
    assert_eq!(tags.get("bosun:service").map(String::as_str), Some("web"), "{tags:?}");

    let policies = policies(&env, "web").await;
    let names: Vec<&str> = policies.iter().map(|p| p.policy_name()).collect();
    assert_eq!(names, ["demo-web-alb_requests", "demo-web-cpu", "demo-web-memory"]);
    let config = |i: usize| policies[i].target_tracking_scaling_policy_configuration().expect("target tracking");
    let requests = config(0);
    assert_eq!(requests.target_value(), 500.0);
    let metric = requests.predefined_metric_specification().expect("a predefined metric");
    assert_eq!(metric.predefined_metric_type(), &aas::MetricType::AlbRequestCountPerTarget);
    let label = metric.resource_label().expect("a resource label");
    assert!(label.starts_with("app/demo-web-lb/") && label.contains("/targetgroup/demo-web-lb/"), "{label}");
    assert_eq!(
        config(1).predefined_metric_specification().unwrap().predefined_metric_type().as_str(),
        "ECSServiceAverageCPUUtilization"
    );
    assert_eq!((config(2).target_value(), config(2).scale_in_cooldown()), (70.0, Some(120)));

    let actions = client(&env)
        .describe_scheduled_actions()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .resource_id(resource_id("web"))
        .send()
        .await
        .expect("DescribeScheduledActions");
    let night = actions.scheduled_actions().first().expect("one scheduled action");
    assert_eq!(night.scheduled_action_name(), "demo-web-night");
    assert_eq!((night.schedule(), night.timezone()), ("cron(0 22 * * ? *)", Some("Europe/Berlin")));
    let bounds = night.scalable_target_action().expect("bounds");
    assert_eq!((bounds.min_capacity(), bounds.max_capacity()), (Some(1), Some(2)));

    // The worker has none; the first create seeded web's count from desired_count.
    assert!(target(&env, "worker").await.is_none());
    assert_eq!(env.service("web").await.desired_count(), 2);
    env.assert_converged(&scaled()).await;
}

#[tokio::test]
async fn changing_only_max_touches_only_the_scaling_resources() {
    let env = Env::start().await;
    env.converge(&scaled()).await;
    let revision = env.running_revision("web").await;

    let changed = scaled().replace("max: 4", "max: 8");
    let plan = env.plan(&changed, &[]).await;
    plan.expect_code(2).expect_lines(&[&format!("~ scalable target service/{CLUSTER}/web")]);
    assert!(plan.stdout.contains("    max: 4 -> 8"), "{plan}");
    assert!(!plan.stdout.contains("    min:"), "{plan}");
    let apply = env.converge(&changed).await;
    let stats = apply.stats();
    assert_eq!(stats.calls("RegisterScalableTarget"), 1, "{apply}");
    assert_eq!(stats.calls("RegisterTaskDefinition"), 0, "{apply}");
    assert_eq!(stats.calls("UpdateService"), 0, "{apply}");
    assert_eq!(stats.mutating, 1, "{apply}");
    assert_eq!(target(&env, "web").await.expect("a target").max_capacity(), 8);
    assert_eq!(env.running_revision("web").await, revision);
    env.assert_converged(&changed).await;
}

#[tokio::test]
async fn drift_in_the_bounds_is_shown_and_healed() {
    let env = Env::start().await;
    env.converge(&scaled()).await;
    register(&env, "web", 3, 10).await;

    let plan = env.plan(&scaled(), &[]).await;
    plan.expect_code(2).expect_lines(&[&format!("~ scalable target service/{CLUSTER}/web")]);
    assert!(plan.stdout.contains("    min: 3 -> 1") && plan.stdout.contains("    max: 10 -> 4"), "{plan}");
    env.converge(&scaled()).await;
    let t = target(&env, "web").await.expect("a target");
    assert_eq!((t.min_capacity(), t.max_capacity()), (1, 4));
    env.assert_converged(&scaled()).await;
}

#[tokio::test]
async fn the_scalers_count_is_left_alone() {
    let env = Env::start().await;
    env.converge(&scaled()).await;
    // The scaler changes the count through UpdateService, as Application Auto Scaling does.
    env.ecs.update_service().cluster(CLUSTER).service("web").desired_count(3).send().await.expect("UpdateService");
    env.assert_converged(&scaled()).await;
    assert_eq!(env.service("web").await.desired_count(), 3);
}

#[tokio::test]
async fn removing_autoscaling_deregisters_the_target_and_its_policies() {
    let env = Env::start().await;
    env.converge(&scaled()).await;
    let text = scaled().text().to_owned();
    let start = text.find("      autoscaling:").expect("an autoscaling block");
    let end = text.find("  - worker:").expect("the worker");
    let without = Stackfile::from_text("autoscaling.yml", &format!("{}{}", &text[..start], &text[end..]));

    let plan = env.plan(&without, &[]).await;
    plan.expect_code(2);
    assert!(plan.stdout.contains(&format!("- scalable target service/{CLUSTER}/web")), "{plan}");
    let apply = env.converge(&without).await;
    assert_eq!(apply.stats().calls("DeregisterScalableTarget"), 1, "{apply}");
    assert!(target(&env, "web").await.is_none());
    assert!(policies(&env, "web").await.is_empty());
    env.assert_converged(&without).await;
}

#[tokio::test]
async fn a_foreign_scalable_target_is_a_conflict_and_is_never_touched() {
    let env = Env::start().await;
    env.converge(&scaled()).await;
    // Someone else scales the worker.
    register(&env, "worker", 1, 3).await;

    // A stackfile that does not scale the worker leaves its target alone.
    env.assert_converged(&scaled()).await;
    assert!(target(&env, "worker").await.is_some());

    // One that does is refused: the target is not bosun's.
    let scaling_worker =
        scaled().replace("      desired_count: 1\n", "      desired_count: 1\n      autoscaling: {min: 1, max: 5}\n");
    let plan = env.plan(&scaling_worker, &[]).await;
    assert!(plan.stdout.contains(&format!("scalable target service/{CLUSTER}/worker")), "{plan}");
    assert!(plan.stdout.contains("not managed by bosun"), "{plan}");
    let apply = env.apply(&scaling_worker, &[]).await;
    assert_ne!(apply.code, 0, "{apply}");
    let t = target(&env, "worker").await.expect("still there");
    assert_eq!((t.min_capacity(), t.max_capacity()), (1, 3));
}
