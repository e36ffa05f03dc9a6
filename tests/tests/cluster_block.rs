//! The `cluster:` block (issue 15): the cluster bosun creates gets its capacity
//! providers, default strategy and Container Insights; a service that names neither a
//! launch type nor a strategy runs on the default strategy; drift of the settings is shown
//! and healed; a cluster bosun did not create is left as it is; and a service's strategy
//! naming a provider the block does not list is refused at its line and column.

use aws_sdk_ecs::types as ecs;
use bosun_tests::{Env, Stackfile, assert_invalid};

const SPOT_CLUSTER: &str = r#"
vpc:
  id: ${VPC_ID}
  subnets:
    private: [${PRIVATE_SUBNET_A}, ${PRIVATE_SUBNET_B}]
  security_groups:
    private: [${PRIVATE_SG}]
cluster:
  capacity_providers: [FARGATE_SPOT, FARGATE]
  default_strategy:
    - {provider: FARGATE_SPOT, weight: 3}
    - {provider: FARGATE, base: 1, weight: 1}
  container_insights: enabled
services:
  - api:
      image: public.ecr.aws/nginx/nginx:1.27
      cpu: 256
      memory: 512
"#;

fn spot_cluster() -> Stackfile {
    Stackfile::from_text("cluster_block.yml", SPOT_CLUSTER)
}

async fn cluster(env: &Env) -> ecs::Cluster {
    let out = env
        .ecs
        .describe_clusters()
        .clusters("demo")
        .include(ecs::ClusterField::Settings)
        .send()
        .await
        .expect("DescribeClusters");
    out.clusters().first().cloned().expect("the cluster exists")
}

fn insights(c: &ecs::Cluster) -> Option<String> {
    c.settings()
        .iter()
        .find(|s| s.name() == Some(&ecs::ClusterSettingName::ContainerInsights))
        .and_then(|s| s.value().map(str::to_owned))
}

fn strategy(items: &[ecs::CapacityProviderStrategyItem]) -> Vec<(String, i32, i32)> {
    items.iter().map(|i| (i.capacity_provider().to_owned(), i.weight(), i.base())).collect()
}

#[tokio::test]
async fn the_cluster_is_created_with_its_settings_and_its_default_strategy_places_the_service() {
    let env = Env::start().await;
    let plan = env.plan(&spot_cluster(), &[]).await;
    assert!(plan.stdout.contains("+ cluster demo\n"), "{plan}");
    assert!(plan.stdout.contains("    capacity_providers: FARGATE, FARGATE_SPOT\n"), "{plan}");
    assert!(plan.stdout.contains("    default_strategy: FARGATE_SPOT weight 3, FARGATE base 1 weight 1\n"), "{plan}");
    assert!(plan.stdout.contains("    container_insights: enabled\n"), "{plan}");
    // The service names no launch type: it runs on the cluster's default strategy, and
    // Spot shows on its line.
    assert!(plan.stdout.contains("    capacity: FARGATE_SPOT weight 3, FARGATE base 1 weight 1\n"), "{plan}");
    env.converge(&spot_cluster()).await;

    let live = cluster(&env).await;
    let mut providers = live.capacity_providers().to_vec();
    providers.sort();
    assert_eq!(providers, ["FARGATE", "FARGATE_SPOT"]);
    assert_eq!(
        strategy(live.default_capacity_provider_strategy()),
        [("FARGATE_SPOT".into(), 3, 0), ("FARGATE".into(), 1, 1)]
    );
    assert_eq!(insights(&live).as_deref(), Some("enabled"));
    let api = env.service("api").await;
    assert_eq!(api.launch_type(), None);
    assert_eq!(strategy(api.capacity_provider_strategy()), [("FARGATE_SPOT".into(), 3, 0), ("FARGATE".into(), 1, 1)]);
    let td = env.task_definition(api.task_definition().expect("a task definition")).await;
    assert_eq!(td.requires_compatibilities(), [ecs::Compatibility::Fargate]);

    env.assert_converged(&spot_cluster()).await;
}

#[tokio::test]
async fn drift_of_the_cluster_settings_is_shown_and_healed() {
    let env = Env::start().await;
    env.converge(&spot_cluster()).await;
    env.ecs
        .update_cluster()
        .cluster("demo")
        .settings(
            ecs::ClusterSetting::builder().name(ecs::ClusterSettingName::ContainerInsights).value("disabled").build(),
        )
        .send()
        .await
        .expect("UpdateCluster out of band");
    env.ecs
        .put_cluster_capacity_providers()
        .cluster("demo")
        .capacity_providers("FARGATE")
        .capacity_providers("FARGATE_SPOT")
        .default_capacity_provider_strategy(
            ecs::CapacityProviderStrategyItem::builder().capacity_provider("FARGATE").weight(1).build().unwrap(),
        )
        .send()
        .await
        .expect("PutClusterCapacityProviders out of band");

    let plan = env.plan(&spot_cluster(), &[]).await;
    plan.expect_code(2).expect_lines(&["~ cluster demo"]);
    assert!(
        plan.stdout
            .contains("    default_strategy: FARGATE weight 1 -> FARGATE_SPOT weight 3, FARGATE base 1 weight 1\n"),
        "{plan}"
    );
    assert!(plan.stdout.contains("    container_insights: disabled -> enabled\n"), "{plan}");
    assert!(!plan.stdout.contains("capacity_providers:"), "the providers did not change: {plan}");

    let apply = env.converge(&spot_cluster()).await;
    let stats = apply.stats();
    assert_eq!(stats.calls("PutClusterCapacityProviders"), 1, "{apply}");
    assert_eq!(stats.calls("UpdateCluster"), 1, "{apply}");
    assert_eq!(stats.mutating, 2, "only the cluster's settings: {apply}");
    let live = cluster(&env).await;
    assert_eq!(insights(&live).as_deref(), Some("enabled"));
    assert_eq!(
        strategy(live.default_capacity_provider_strategy()),
        [("FARGATE_SPOT".into(), 3, 0), ("FARGATE".into(), 1, 1)]
    );
    env.assert_converged(&spot_cluster()).await;
}

#[tokio::test]
async fn a_cluster_bosun_did_not_create_keeps_its_settings() {
    let env = Env::start().await;
    env.create_cluster_directly().await;
    let plan = env.plan(&spot_cluster(), &[]).await;
    assert!(plan.stdout.contains("cluster demo was not created by bosun, so its"), "{plan}");
    let apply = env.apply(&spot_cluster(), &[]).await;
    assert_ne!(apply.code, 0, "a conflict stops the apply: {apply}");
    let live = cluster(&env).await;
    assert!(live.capacity_providers().is_empty(), "untouched: {:?}", live.capacity_providers());
    assert_ne!(insights(&live).as_deref(), Some("enabled"));
}

#[test]
fn validate_refuses_providers_the_cluster_does_not_list() {
    let text = r#"cluster:
  capacity_providers: [FARGATE]
  default_strategy:
    - {provider: FARGATE_SPOT, weight: 1}
services:
  - api:
      image: nginx
      capacity_provider_strategy: [{provider: FARGATE_SPOT, weight: 1}]
"#;
    assert_invalid(
        text,
        &[
            "bad.yml:4:18: cluster.default_strategy[0].provider: `FARGATE_SPOT` is not among the cluster's `capacity_providers`",
            "bad.yml:8:47: services[0].api.capacity_provider_strategy[0].provider: capacity provider `FARGATE_SPOT` is not among the cluster's `capacity_providers` (FARGATE)",
        ],
    );
}
