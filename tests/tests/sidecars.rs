//! Sidecars (`containers:`, issue 15): a Fargate service with a FireLens log router
//! and an agent applied from nothing and read back through the SDK, converged; a
//! sidecar's image changed through the stackfile is one revision and one service
//! update; an image bump through the API changes the main container only; and
//! `validate` refuses what ECS would, with file, line and column.

use std::time::Duration;

use aws_sdk_ecs::types as ecs;
use bosun_tests::api::ApiServer;
use bosun_tests::scheduler::FAST;
use bosun_tests::{Env, Stackfile, assert_invalid};
use reqwest::Method;
use serde_json::{Value, json};

const ROUTER: &str = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0";
const ROUTER_2: &str = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.1";

/// A Fargate service whose main container logs through a FireLens router it waits
/// for, with an agent that is not essential; in the nysa dialect.
const SIDECARS: &str = r#"
vpc:
  id: ${VPC_ID}
  subnets:
    private: [${PRIVATE_SUBNET_A}, ${PRIVATE_SUBNET_B}]
  security_groups:
    private: [${PRIVATE_SG}]
services:
  - api:
      image: public.ecr.aws/nginx/nginx:1.27
      launch_type: fargate
      cpu: 512
      memory: 1024
      ports: [80]
      logging:
        log_driver: awsfirelens
        options: {Name: cloudwatch, region: us-east-1, log_group_name: /ecs/api}
      depends_on:
        - {container: log-router, condition: START}
      containers:
        - name: log-router
          image: public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0
          memory: 128
          cpu: 64
          firelens:
            type: fluentbit
            options: {enable-ecs-log-metadata: "true"}
          logging:
            log_driver: awslogs
            options: {awslogs-group: /ecs/firelens, awslogs-region: us-east-1, awslogs-stream-prefix: fb}
        - name: agent
          image: public.ecr.aws/docker/library/busybox:1.36
          essential: false
          memory: 64
          ports: [9100]
          environment: {MODE: scrape}
          command: [sh, -c, "sleep 3600"]
          healthcheck:
            command: "true"
          depends_on:
            - {container: log-router, condition: START}
"#;

fn sidecars() -> Stackfile {
    Stackfile::from_text("sidecars.yml", SIDECARS)
}

/// The containers of the task definition the service runs, by name.
async fn containers(env: &Env, service: &str) -> Vec<ecs::ContainerDefinition> {
    let td = env.task_definition(&env.running_revision(service).await).await;
    td.container_definitions().to_vec()
}

fn named<'a>(cs: &'a [ecs::ContainerDefinition], name: &str) -> &'a ecs::ContainerDefinition {
    cs.iter().find(|c| c.name() == Some(name)).unwrap_or_else(|| panic!("no container {name} in {cs:#?}"))
}

#[tokio::test]
async fn sidecars_are_applied_read_back_and_converge() {
    let env = Env::start().await;
    env.converge(&sidecars()).await;

    let cs = containers(&env, "api").await;
    let names: Vec<&str> = cs.iter().filter_map(|c| c.name()).collect();
    assert_eq!(names, ["api", "log-router", "agent"], "the main container first, then the sidecars in order");

    let main = named(&cs, "api");
    assert_eq!(main.image(), Some("public.ecr.aws/nginx/nginx:1.27"));
    assert_eq!(main.essential(), Some(true));
    let deps: Vec<(&str, &str)> =
        main.depends_on().iter().map(|d| (d.container_name(), d.condition().as_str())).collect();
    assert_eq!(deps, [("log-router", "START")]);
    assert_eq!(main.log_configuration().map(|l| l.log_driver().as_str()), Some("awsfirelens"));

    let router = named(&cs, "log-router");
    assert_eq!(router.image(), Some(ROUTER));
    assert_eq!(router.essential(), Some(true));
    assert_eq!((router.memory(), router.cpu()), (Some(128), 64));
    let firelens = router.firelens_configuration().expect("the router's firelensConfiguration");
    assert_eq!(firelens.r#type(), &ecs::FirelensConfigurationType::Fluentbit);
    assert_eq!(firelens.options().and_then(|o| o.get("enable-ecs-log-metadata")).map(String::as_str), Some("true"));
    assert_eq!(router.log_configuration().map(|l| l.log_driver().as_str()), Some("awslogs"));

    let agent = named(&cs, "agent");
    assert_eq!(agent.essential(), Some(false));
    assert_eq!(agent.command(), ["sh", "-c", "sleep 3600"]);
    assert_eq!(agent.port_mappings().first().and_then(|p| p.container_port()), Some(9100));
    let deps: Vec<(&str, &str)> =
        agent.depends_on().iter().map(|d| (d.container_name(), d.condition().as_str())).collect();
    assert_eq!(deps, [("log-router", "START")]);
    assert!(agent.firelens_configuration().is_none());
    assert_eq!(agent.health_check().map(|h| h.command().to_vec()), Some(vec!["CMD-SHELL".into(), "true".into()]));

    // Read back, the live task definition equals the spec: nothing to plan, no call.
    env.assert_converged(&sidecars()).await;
}

#[tokio::test]
async fn changing_only_a_sidecar_image_is_one_revision_and_one_service_update() {
    let env = Env::start().await;
    env.converge(&sidecars()).await;
    let before = env.running_revision("api").await;

    let changed = sidecars().replace(ROUTER, ROUTER_2);
    let plan = env.plan(&changed, &[]).await;
    plan.expect_code(2).expect_lines(&["~ task definition demo-api", "~ service api"]);
    assert!(plan.stdout.contains(&format!("+  image: {ROUTER_2}")), "{plan}");

    let apply = env.converge(&changed).await;
    let stats = apply.stats();
    assert_eq!(stats.calls("RegisterTaskDefinition"), 1, "{apply}");
    assert_eq!(stats.calls("UpdateService"), 1, "{apply}");
    assert_eq!(stats.calls("CreateService"), 0, "{apply}");
    let after = env.running_revision("api").await;
    assert_ne!(before, after);
    let cs = containers(&env, "api").await;
    assert_eq!(named(&cs, "log-router").image(), Some(ROUTER_2));
    // Everything else stayed as it was.
    assert_eq!(named(&cs, "api").image(), Some("public.ecr.aws/nginx/nginx:1.27"));
    assert_eq!(named(&cs, "agent").image(), Some("public.ecr.aws/docker/library/busybox:1.36"));
    env.assert_converged(&changed).await;
}

#[tokio::test]
async fn a_revision_registered_outside_bosun_with_another_sidecar_is_healed() {
    let env = Env::start().await;
    env.converge(&sidecars()).await;
    // Someone registers a copy of the live revision with another router image and
    // deploys it.
    let live = env.task_definition(&env.running_revision("api").await).await;
    let mut defs = live.container_definitions().to_vec();
    defs[1].image = Some(ROUTER_2.to_owned());
    let registered = env
        .ecs
        .register_task_definition()
        .family(live.family().unwrap_or_default())
        .set_network_mode(live.network_mode().cloned())
        .set_requires_compatibilities(Some(live.requires_compatibilities().to_vec()))
        .set_cpu(live.cpu().map(str::to_owned))
        .set_memory(live.memory().map(str::to_owned))
        .set_container_definitions(Some(defs))
        .send()
        .await
        .expect("RegisterTaskDefinition");
    let arn = registered.task_definition().and_then(|t| t.task_definition_arn()).expect("an ARN").to_owned();
    env.ecs
        .update_service()
        .cluster(bosun_tests::CLUSTER)
        .service("api")
        .task_definition(&arn)
        .send()
        .await
        .expect("UpdateService");

    let plan = env.plan(&sidecars(), &[]).await;
    plan.expect_code(2);
    assert!(
        plan.stdout.contains(&format!("-  image: {ROUTER_2}")) && plan.stdout.contains(&format!("+  image: {ROUTER}")),
        "{plan}"
    );
    env.converge(&sidecars()).await;
    assert_eq!(named(&containers(&env, "api").await, "log-router").image(), Some(ROUTER));
    env.assert_converged(&sidecars()).await;
}

/// `PUT /api/v1/clusters/{c}/services/{s}` (what chat and UI deploys go through)
/// changes the main container's image only.
#[tokio::test]
async fn an_image_bump_through_the_api_changes_the_main_container_only() {
    const JOB_LIMIT: Duration = Duration::from_secs(90);
    let env = Env::start().await;
    let api = ApiServer::start_with(&env, &[&["serve"], FAST].concat()).await;
    let text = std::fs::read_to_string(env.write(&sidecars())).expect("the filled-in stackfile");
    let created: Value = api
        .request(Method::POST, "/api/v1/clusters", Some(&api.admin))
        .json(&json!({ "name": bosun_tests::CLUSTER, "config": text }))
        .send()
        .await
        .expect("POST clusters")
        .json()
        .await
        .expect("JSON");
    let job = created["job_id"].as_str().unwrap_or_else(|| panic!("a job id in {created}"));
    let record = api.wait_job(job, JOB_LIMIT).await;
    assert_eq!(record["status"], "succeeded", "{record}");

    let bump: Value = api
        .request(Method::PUT, &format!("/api/v1/clusters/{}/services/api", bosun_tests::CLUSTER), Some(&api.deployer))
        .json(&json!({ "image_tag": "1.28" }))
        .send()
        .await
        .expect("PUT service")
        .json()
        .await
        .expect("JSON");
    let record = api.wait_job(bump["job_id"].as_str().unwrap_or_else(|| panic!("a job id in {bump}")), JOB_LIMIT).await;
    assert_eq!(record["status"], "succeeded", "{record}");

    let cs = containers(&env, "api").await;
    assert_eq!(named(&cs, "api").image(), Some("public.ecr.aws/nginx/nginx:1.28"));
    assert_eq!(named(&cs, "log-router").image(), Some(ROUTER), "the sidecar's image moved");
    assert_eq!(named(&cs, "agent").image(), Some("public.ecr.aws/docker/library/busybox:1.36"));
    // The stored stackfile changed in the main image only.
    let stored = api
        .request(Method::GET, &format!("/api/v1/clusters/{}/config", bosun_tests::CLUSTER), Some(&api.deployer))
        .header("accept", "application/yaml")
        .send()
        .await
        .expect("GET config")
        .text()
        .await
        .expect("text");
    assert_eq!(stored, text.replace("nginx/nginx:1.27", "nginx/nginx:1.28"));
}

#[test]
fn validate_refuses_what_ecs_refuses_with_file_line_and_column() {
    let text = r#"services:
  - web:
      image: nginx
      memory: 256
      ports: [80]
      logging: {log_driver: awsfirelens}
      depends_on: [{container: proxy, condition: START}]
      containers:
        - name: web
          image: nginx
        - name: agent
          image: agent:1
          ports: [80]
        - name: agent
          image: agent:2
          memory: 64
"#;
    assert_invalid(
        text,
        &[
            "bad.yml:6:7: services[0].web.logging: `web` logs with `log_driver: awsfirelens`, which needs a FireLens log router",
            "bad.yml:7:32: services[0].web.depends_on[0].container: no container `proxy` in this task; it has `web`, `agent`",
            "bad.yml:9:17: services[0].web.containers[0].name: `web` is the main container's name",
            "bad.yml:11:11: services[0].web.containers[1]: on EC2 every container needs `memory` (MiB)",
            "bad.yml:13:11: services[0].web.containers[1].ports: port 80/tcp of `agent` is already used by container `web`",
            "bad.yml:14:17: services[0].web.containers[2].name: container `agent` is defined twice (first on line 11)",
        ],
    );
}
