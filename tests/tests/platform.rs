//! `stackfiles/platform.yml` (issue 15): the example that uses every key of the ECS
//! service model, applied from nothing on the emulator and read back through the SDK:
//! the cluster's capacity providers and Container Insights, the log group and its
//! retention, an arm64 Fargate Spot service with a FireLens sidecar and autoscaling, a
//! Service Connect pair, and a console with ECS Exec and its own command. A second apply
//! makes no mutating call.

use aws_sdk_applicationautoscaling::types as aas;
use aws_sdk_ecs::types as ecs;
use bosun_tests::{CLUSTER, Env, Stackfile};

fn strategy(items: &[ecs::CapacityProviderStrategyItem]) -> Vec<(String, i32, i32)> {
    items.iter().map(|i| (i.capacity_provider().to_owned(), i.weight(), i.base())).collect()
}

async fn cluster(env: &Env) -> ecs::Cluster {
    let out = env
        .ecs
        .describe_clusters()
        .clusters(CLUSTER)
        .include(ecs::ClusterField::Settings)
        .send()
        .await
        .expect("DescribeClusters");
    out.clusters().first().cloned().expect("the cluster exists")
}

async fn task_definition(env: &Env, service: &str) -> ecs::TaskDefinition {
    env.task_definition(&env.running_revision(service).await).await
}

fn container<'a>(td: &'a ecs::TaskDefinition, name: &str) -> &'a ecs::ContainerDefinition {
    let cs = td.container_definitions();
    cs.iter().find(|c| c.name() == Some(name)).unwrap_or_else(|| panic!("no container {name} in {cs:#?}"))
}

/// The Service Connect configuration ECS reports for a service: that of its primary
/// deployment.
fn service_connect(s: &ecs::Service) -> ecs::ServiceConnectConfiguration {
    s.deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.service_connect_configuration())
        .cloned()
        .unwrap_or_else(|| panic!("no Service Connect configuration on {:?}", s.service_name()))
}

#[tokio::test]
async fn the_platform_example_applies_from_nothing_and_converges() {
    let env = Env::start().await;
    let platform = Stackfile::example("platform.yml");
    let plan = env.plan(&platform, &[]).await;
    plan.expect_code(2); // --detailed-exitcode: changes to make
    assert!(plan.stdout.contains("    capacity: FARGATE_SPOT weight 3, FARGATE base 1 weight 1\n"), "{plan}");
    let run = env.converge(&platform).await;
    let stats = run.stats();
    for (operation, calls) in [
        ("CreateCluster", 1),
        ("CreateLogGroup", 1),
        ("PutRetentionPolicy", 1),
        ("RegisterTaskDefinition", 4),
        ("CreateService", 4),
        ("RegisterScalableTarget", 1),
        ("PutScalingPolicy", 2),
        ("PutScheduledAction", 1),
    ] {
        assert_eq!(stats.calls(operation), calls, "{operation}: {run}");
    }

    // The cluster: its providers, default strategy and Container Insights.
    let live = cluster(&env).await;
    let mut providers = live.capacity_providers().to_vec();
    providers.sort();
    assert_eq!(providers, ["FARGATE", "FARGATE_SPOT"]);
    assert_eq!(strategy(live.default_capacity_provider_strategy()), [("FARGATE".into(), 1, 1)]);
    let insights = live.settings().iter().find(|s| s.name() == Some(&ecs::ClusterSettingName::ContainerInsights));
    assert_eq!(insights.and_then(|s| s.value()), Some("enabled"));

    // The log group, bosun's, with its retention.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&env.sdk);
    let groups = logs.describe_log_groups().log_group_name_prefix("/ecs/platform").send().await.expect("groups");
    let group = groups.log_groups().iter().find(|g| g.log_group_name() == Some("/ecs/platform")).expect("the group");
    assert_eq!(group.retention_in_days(), Some(30));

    // api: arm64 on Fargate Spot, a FireLens router it waits for, scaled.
    let api = env.service("api").await;
    assert_eq!(api.launch_type(), None);
    assert_eq!(strategy(api.capacity_provider_strategy()), [("FARGATE_SPOT".into(), 3, 0), ("FARGATE".into(), 1, 1)]);
    assert_eq!(api.health_check_grace_period_seconds(), Some(60));
    assert!(api.enable_ecs_managed_tags());
    assert_eq!(api.propagate_tags(), Some(&ecs::PropagateTags::Service));
    let td = task_definition(&env, "api").await;
    let platform_of = td.runtime_platform().expect("a runtime platform");
    assert_eq!(platform_of.cpu_architecture(), Some(&ecs::CpuArchitecture::Arm64));
    assert_eq!(td.ephemeral_storage().map(|s| s.size_in_gib()), Some(30));
    assert_eq!(td.requires_compatibilities(), [ecs::Compatibility::Fargate]);
    let main = container(&td, "api");
    let log = main.log_configuration().expect("api logs");
    assert_eq!(log.log_driver(), &ecs::LogDriver::Awsfirelens);
    let depends: Vec<_> = main.depends_on().iter().map(|d| (d.container_name(), d.condition().as_str())).collect();
    assert_eq!(depends, [("log-router", "START")]);
    let metrics = container(&td, "metrics");
    assert_eq!(metrics.essential(), Some(false));
    assert_eq!(metrics.secrets().len(), 1);
    assert!(metrics.health_check().is_some());
    let router = container(&td, "log-router");
    assert_eq!(router.firelens_configuration().map(|f| f.r#type().as_str()), Some("fluentbit"));
    assert_eq!(router.log_configuration().map(|l| l.log_driver().as_str()), Some("awslogs"));
    let scaling = aws_sdk_applicationautoscaling::Client::new(&env.sdk);
    let targets = scaling
        .describe_scalable_targets()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .resource_ids(format!("service/{CLUSTER}/api"))
        .send()
        .await
        .expect("DescribeScalableTargets");
    let target = targets.scalable_targets().first().expect("api has a scalable target");
    assert_eq!((target.min_capacity(), target.max_capacity()), (2, 10));

    // The Service Connect pair: orders serves its named port, checkout calls it.
    let orders = service_connect(&env.service("orders").await);
    assert!(orders.enabled());
    assert_eq!(orders.namespace(), Some("platform.sd"));
    let served = orders.services();
    assert_eq!(served.len(), 1, "{served:?}");
    assert_eq!(served[0].port_name(), "http");
    let aliases: Vec<_> = served[0].client_aliases().iter().map(|a| (a.port(), a.dns_name())).collect();
    assert_eq!(aliases, [(80, Some("orders"))]);
    let orders_td = task_definition(&env, "orders").await;
    let port = &container(&orders_td, "orders").port_mappings()[0];
    assert_eq!((port.container_port(), port.name()), (Some(8080), Some("http")));
    let checkout_td = task_definition(&env, "checkout").await;
    let c = container(&checkout_td, "checkout");
    assert_eq!(
        (c.entry_point(), c.readonly_root_filesystem()),
        (&["/docker-entrypoint.sh".to_owned()][..], Some(true))
    );
    let checkout = service_connect(&env.service("checkout").await);
    assert!(checkout.enabled());
    assert!(checkout.services().is_empty(), "checkout only calls: {checkout:?}");

    // console: ECS Exec and its own command.
    let console = env.service("console").await;
    assert!(console.enable_execute_command());
    let console_td = task_definition(&env, "console").await;
    let c = container(&console_td, "console");
    assert_eq!(c.command(), ["sleep", "86400"]);
    assert_eq!(c.working_directory(), Some("/tmp"));

    env.assert_converged(&platform).await;
}
