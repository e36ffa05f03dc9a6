//! `bosun import` on a cluster built with the SDK (and the AWS CLI for a secret), not by
//! bosun: an ALB service with a Route53 alias, two services behind one shared ALB with
//! host rules, a Cloud Map service, a worker, and a Fargate service with secrets. The
//! imported stackfile validates, plans adoption only, applies without a new task
//! definition or a deployment, and then plans nothing. Then the keys of issue 15:
//! sidecars and `depends_on`, `autoscaling`, the `cluster:` block.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use aws_sdk_applicationautoscaling::types as aas;
use aws_sdk_ecs::types as ecs;
use aws_sdk_elasticloadbalancingv2::types as elb;
use aws_sdk_route53::types as r53;
use aws_sdk_servicediscovery::types as sd;
use bosun_tests::{CLUSTER, Env, Stackfile, assert_tags_include, ecs_tags, ownership, repo_root};

const EXECUTION_ROLE: &str = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole";

/// The AWS CLI of the emulator's Python environment (`deploy/local/emulator install`).
fn aws_cli(env: &Env) -> Command {
    let venv = std::env::var_os("BOSUN_EMULATOR_VENV").map_or_else(|| repo_root().join(".venv"), PathBuf::from);
    let mut cmd = Command::new(venv.join("bin/aws"));
    cmd.envs(env.aws_env()).env_remove("AWS_PROFILE");
    cmd
}

/// A Secrets Manager secret made with the AWS CLI; returns its ARN.
fn create_secret(env: &Env, name: &str) -> String {
    let out = aws_cli(env)
        .args(["secretsmanager", "create-secret", "--name", name, "--secret-string", "s3cr3t", "--output", "json"])
        .output()
        .expect("run the AWS CLI");
    assert!(out.status.success(), "aws secretsmanager create-secret: {}", String::from_utf8_lossy(&out.stderr));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the CLI prints JSON");
    body["ARN"].as_str().expect("the secret has an ARN").to_owned()
}

/// A container as someone's own tooling registers it.
fn container(name: &str, image: &str) -> ecs::builders::ContainerDefinitionBuilder {
    ecs::ContainerDefinition::builder()
        .name(name)
        .image(image)
        .essential(true)
        .environment(ecs::KeyValuePair::builder().name("STAGE").value("legacy").build())
        .log_configuration(
            ecs::LogConfiguration::builder()
                .log_driver(ecs::LogDriver::Awslogs)
                .options("awslogs-group", "/ecs/legacy")
                .options("awslogs-region", "us-east-1")
                .options("awslogs-stream-prefix", name)
                .build()
                .expect("a log configuration"),
        )
}

fn port(container: i32, host: Option<i32>) -> ecs::PortMapping {
    ecs::PortMapping::builder()
        .container_port(container)
        .set_host_port(host)
        .protocol(ecs::TransportProtocol::Tcp)
        .build()
}

async fn register(
    td: aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder,
) -> String {
    td.send()
        .await
        .expect("RegisterTaskDefinition")
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("a registered task definition")
        .to_owned()
}

fn awsvpc(env: &Env) -> ecs::NetworkConfiguration {
    ecs::NetworkConfiguration::builder()
        .awsvpc_configuration(
            ecs::AwsVpcConfiguration::builder()
                .set_subnets(Some(env.prereqs.private_subnets.to_vec()))
                .security_groups(&env.prereqs.private_sg)
                .assign_public_ip(ecs::AssignPublicIp::Disabled)
                .build()
                .expect("an awsvpc configuration"),
        )
        .build()
}

fn deployment(min: i32) -> ecs::DeploymentConfiguration {
    ecs::DeploymentConfiguration::builder()
        .deployment_circuit_breaker(ecs::DeploymentCircuitBreaker::builder().enable(true).rollback(true).build())
        .minimum_healthy_percent(min)
        .maximum_percent(200)
        .build()
}

async fn target_group(env: &Env, name: &str, port: i32, target_type: elb::TargetTypeEnum, path: &str) -> String {
    env.elb
        .create_target_group()
        .name(name)
        .protocol(elb::ProtocolEnum::Http)
        .port(port)
        .vpc_id(&env.prereqs.vpc_id)
        .target_type(target_type)
        .health_check_protocol(elb::ProtocolEnum::Http)
        .health_check_port("traffic-port")
        .health_check_path(path)
        .health_check_interval_seconds(15)
        .health_check_timeout_seconds(5)
        .healthy_threshold_count(2)
        .unhealthy_threshold_count(3)
        .matcher(elb::Matcher::builder().http_code("200-399").build())
        .send()
        .await
        .expect("CreateTargetGroup")
        .target_groups()[0]
        .target_group_arn()
        .expect("a target group ARN")
        .to_owned()
}

async fn alb(env: &Env, name: &str) -> elb::LoadBalancer {
    env.elb
        .create_load_balancer()
        .name(name)
        .r#type(elb::LoadBalancerTypeEnum::Application)
        .scheme(elb::LoadBalancerSchemeEnum::InternetFacing)
        .set_subnets(Some(env.prereqs.public_subnets.to_vec()))
        .security_groups(&env.prereqs.public_sg)
        .send()
        .await
        .expect("CreateLoadBalancer")
        .load_balancers()[0]
        .clone()
}

async fn service(req: aws_sdk_ecs::operation::create_service::builders::CreateServiceFluentBuilder) {
    req.cluster(CLUSTER).send().await.expect("CreateService");
}

/// The cluster of the issue, built with the SDK (nothing of it tagged by bosun). Its
/// names follow bosun's conventions (task families `<cluster>-<service>`, the container
/// named after the service, nysa's `<cluster>-<service>-lb`, `<cluster>-<service>-tg`):
/// what bosun cannot name is a comment in the import, and the round trip is the point.
async fn build_legacy_cluster(env: &Env) {
    env.create_cluster_directly().await;
    let secret = create_secret(env, "legacy/payments/db");
    env.create_task_role(EXECUTION_ROLE.rsplit('/').next().expect("a role name"));
    build_web(env).await;
    build_shared(env).await;
    build_users(env).await;
    build_worker_and_fargate(env, &secret).await;
}

async fn build_web(env: &Env) {
    let p = &env.prereqs;
    // web: bridge networking behind an ALB of its own, with an alias in the zone.
    let web_tg = target_group(env, "demo-web-lb", 8080, elb::TargetTypeEnum::Instance, "/health").await;
    let web_lb = alb(env, "demo-web-lb").await;
    env.elb
        .create_listener()
        .load_balancer_arn(web_lb.load_balancer_arn().unwrap())
        .protocol(elb::ProtocolEnum::Http)
        .port(80)
        .default_actions(elb::Action::builder().r#type(elb::ActionTypeEnum::Forward).target_group_arn(&web_tg).build())
        .send()
        .await
        .expect("CreateListener");
    env.route53
        .change_resource_record_sets()
        .hosted_zone_id(&p.zone_id)
        .change_batch(
            r53::ChangeBatch::builder()
                .changes(
                    r53::Change::builder()
                        .action(r53::ChangeAction::Create)
                        .resource_record_set(
                            r53::ResourceRecordSet::builder()
                                .name("www.demo.example.com")
                                .r#type(r53::RrType::A)
                                .alias_target(
                                    r53::AliasTarget::builder()
                                        .hosted_zone_id(web_lb.canonical_hosted_zone_id().unwrap())
                                        .dns_name(web_lb.dns_name().unwrap())
                                        .evaluate_target_health(false)
                                        .build()
                                        .unwrap(),
                                )
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("ChangeResourceRecordSets");
    let td = register(
        env.ecs
            .register_task_definition()
            .family("demo-web")
            .network_mode(ecs::NetworkMode::Bridge)
            .requires_compatibilities(ecs::Compatibility::Ec2)
            .container_definitions(
                container("web", "public.ecr.aws/nginx/nginx:1.27").memory(256).port_mappings(port(8080, None)).build(),
            ),
    )
    .await;
    service(
        env.ecs
            .create_service()
            .service_name("web")
            .task_definition(td)
            .desired_count(2)
            .launch_type(ecs::LaunchType::Ec2)
            .deployment_configuration(deployment(50))
            .load_balancers(
                ecs::LoadBalancer::builder()
                    .target_group_arn(&web_tg)
                    .container_name("web")
                    .container_port(8080)
                    .build(),
            ),
    )
    .await;
}

async fn build_shared(env: &Env) {
    // api and admin: awsvpc services behind one shared ALB, routed by host.
    let edge = alb(env, "demo-edge").await;
    let listener = env
        .elb
        .create_listener()
        .load_balancer_arn(edge.load_balancer_arn().unwrap())
        .protocol(elb::ProtocolEnum::Http)
        .port(80)
        .default_actions(
            elb::Action::builder()
                .r#type(elb::ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    elb::FixedResponseActionConfig::builder().status_code("404").content_type("text/plain").build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("CreateListener")
        .listeners()[0]
        .listener_arn()
        .unwrap()
        .to_owned();
    for (name, host, priority, min) in
        [("api", "api.demo.example.com", 10, 100), ("admin", "admin.demo.example.com", 20, 50)]
    {
        let tg = target_group(env, &format!("demo-{name}-tg"), 80, elb::TargetTypeEnum::Ip, "/").await;
        env.elb
            .create_rule()
            .listener_arn(&listener)
            .priority(priority)
            .conditions(
                elb::RuleCondition::builder()
                    .field("host-header")
                    .host_header_config(elb::HostHeaderConditionConfig::builder().values(host).build())
                    .build(),
            )
            .actions(elb::Action::builder().r#type(elb::ActionTypeEnum::Forward).target_group_arn(&tg).build())
            .send()
            .await
            .expect("CreateRule");
        let td = register(
            env.ecs
                .register_task_definition()
                .family(format!("demo-{name}"))
                .network_mode(ecs::NetworkMode::Awsvpc)
                .requires_compatibilities(ecs::Compatibility::Ec2)
                .container_definitions(
                    container(name, "public.ecr.aws/nginx/nginx:1.27")
                        .memory(256)
                        .port_mappings(port(80, Some(80)))
                        .build(),
                ),
        )
        .await;
        service(
            env.ecs
                .create_service()
                .service_name(name)
                .task_definition(td)
                .desired_count(1)
                .launch_type(ecs::LaunchType::Ec2)
                .network_configuration(awsvpc(env))
                .deployment_configuration(deployment(min))
                .load_balancers(
                    ecs::LoadBalancer::builder().target_group_arn(tg).container_name(name).container_port(80).build(),
                ),
        )
        .await;
    }
}

async fn build_users(env: &Env) {
    let p = &env.prereqs;
    // users: registered in Cloud Map.
    env.discovery
        .create_private_dns_namespace()
        .name("demo.sd")
        .vpc(&p.vpc_id)
        .send()
        .await
        .expect("CreatePrivateDnsNamespace");
    let namespaces = env.discovery.list_namespaces().send().await.expect("ListNamespaces");
    let namespace_id =
        namespaces.namespaces().iter().find(|n| n.name() == Some("demo.sd")).and_then(|n| n.id()).unwrap().to_owned();
    let users_sd = env
        .discovery
        .create_service()
        .name("users")
        .namespace_id(&namespace_id)
        .dns_config(
            sd::DnsConfig::builder()
                .routing_policy(sd::RoutingPolicy::Multivalue)
                .dns_records(sd::DnsRecord::builder().r#type(sd::RecordType::A).ttl(30).build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("CreateService (Cloud Map)")
        .service()
        .and_then(|s| s.arn())
        .unwrap()
        .to_owned();
    let health = ecs::HealthCheck::builder()
        .command("CMD-SHELL")
        .command("wget -q -O /dev/null http://localhost:8080/ || exit 1")
        .interval(15)
        .timeout(5)
        .retries(3)
        .start_period(0)
        .build()
        .unwrap();
    let td = register(
        env.ecs
            .register_task_definition()
            .family("demo-users")
            .network_mode(ecs::NetworkMode::Awsvpc)
            .requires_compatibilities(ecs::Compatibility::Ec2)
            .container_definitions(
                container("users", "public.ecr.aws/docker/library/httpd:2.4")
                    .memory(256)
                    .port_mappings(port(8080, Some(8080)))
                    .health_check(health)
                    .build(),
            ),
    )
    .await;
    service(
        env.ecs
            .create_service()
            .service_name("users")
            .task_definition(td)
            .desired_count(1)
            .launch_type(ecs::LaunchType::Ec2)
            .network_configuration(awsvpc(env))
            .deployment_configuration(deployment(50))
            .service_registries(ecs::ServiceRegistry::builder().registry_arn(users_sd).build()),
    )
    .await;
}

async fn build_worker_and_fargate(env: &Env, secret: &str) {
    // mailer: a worker, no port, no load balancer.
    let td = register(
        env.ecs
            .register_task_definition()
            .family("demo-mailer")
            .network_mode(ecs::NetworkMode::Host)
            .requires_compatibilities(ecs::Compatibility::Ec2)
            .container_definitions(
                container("mailer", "public.ecr.aws/docker/library/busybox:1.36")
                    .memory(128)
                    .environment(ecs::KeyValuePair::builder().name("SMTP_PORT").value("587").build())
                    .build(),
            ),
    )
    .await;
    service(
        env.ecs
            .create_service()
            .service_name("mailer")
            .task_definition(td)
            .desired_count(1)
            .launch_type(ecs::LaunchType::Ec2)
            .deployment_configuration(deployment(50)),
    )
    .await;

    // payments: Fargate on Graviton, with a secret from Secrets Manager and the process
    // settings of its container (all of which a stackfile says).
    let td = register(
        env.ecs
            .register_task_definition()
            .family("demo-payments")
            .network_mode(ecs::NetworkMode::Awsvpc)
            .requires_compatibilities(ecs::Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .execution_role_arn(EXECUTION_ROLE)
            .runtime_platform(
                ecs::RuntimePlatform::builder()
                    .cpu_architecture(ecs::CpuArchitecture::Arm64)
                    .operating_system_family(ecs::OsFamily::Linux)
                    .build(),
            )
            .ephemeral_storage(ecs::EphemeralStorage::builder().size_in_gib(30).build())
            .container_definitions(
                container("payments", "public.ecr.aws/nginx/nginx:1.27")
                    .secrets(ecs::Secret::builder().name("DATABASE_URL").value_from(secret).build().unwrap())
                    .entry_point("/docker-entrypoint.sh")
                    .command("nginx")
                    .command("-g")
                    .command("daemon off;")
                    .working_directory("/srv")
                    .user("101")
                    .stop_timeout(20)
                    .readonly_root_filesystem(true)
                    .ulimits(
                        ecs::Ulimit::builder()
                            .name(ecs::UlimitName::Nofile)
                            .soft_limit(4096)
                            .hard_limit(8192)
                            .build()
                            .unwrap(),
                    )
                    .docker_labels("team", "payments")
                    .linux_parameters(ecs::LinuxParameters::builder().init_process_enabled(true).build())
                    .build(),
            ),
    )
    .await;
    service(
        env.ecs
            .create_service()
            .service_name("payments")
            .task_definition(td)
            .desired_count(1)
            .launch_type(ecs::LaunchType::Fargate)
            .network_configuration(awsvpc(env))
            .deployment_configuration(deployment(50)),
    )
    .await;
}

const SERVICES: [&str; 6] = ["admin", "api", "mailer", "payments", "users", "web"];

/// Each service's task definition ARN and deployment ids.
async fn deployments(env: &Env) -> BTreeMap<String, (String, Vec<String>)> {
    let mut out = BTreeMap::new();
    for name in SERVICES {
        let s = env.service(name).await;
        let ids = s.deployments().iter().filter_map(|d| d.id().map(str::to_owned)).collect();
        out.insert(name.to_owned(), (s.task_definition().unwrap_or_default().to_owned(), ids));
    }
    out
}

#[tokio::test]
async fn a_cluster_built_without_bosun_is_imported_and_adopted_without_a_redeploy() {
    let env = Env::start().await;
    build_legacy_cluster(&env).await;
    let before = deployments(&env).await;

    let out = env.work_dir().join("imported.yml");
    let out_arg = out.to_str().unwrap();
    let zone = env.prereqs.zone_id.clone();
    let run = env.bosun(&["import", "--cluster", CLUSTER, "--zone-id", &zone, "-o", out_arg, "--stats"]).await;
    run.expect_code(0).expect_stderr("imported 6 service(s) of cluster demo into");
    assert_eq!(run.stats().mutating, 0, "import only reads: {run}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the file holds environment values");
    }
    let yaml = std::fs::read_to_string(&out).unwrap();
    assert!(!yaml.contains("bosun cannot represent") && !yaml.contains("the plan would change"), "{yaml}");
    let mut redacted = yaml.clone();
    // Subnets are written sorted, and their random ids sort either way.
    for (subnets, names) in [
        (&env.prereqs.public_subnets, "[${PUBLIC_SUBNET_A}, ${PUBLIC_SUBNET_B}]"),
        (&env.prereqs.private_subnets, "[${PRIVATE_SUBNET_A}, ${PRIVATE_SUBNET_B}]"),
    ] {
        let mut sorted = subnets.to_vec();
        sorted.sort();
        redacted = redacted.replace(&format!("[{}, {}]", sorted[0], sorted[1]), names);
    }
    for (placeholder, value) in env.prereqs.placeholders() {
        // A random id that reads as a number is written quoted.
        redacted = redacted.replace(&format!("\"{value}\""), placeholder).replace(value, placeholder);
    }
    let secret = regex_free_secret(&yaml);
    insta::assert_snapshot!("imported_legacy_cluster", redacted.replace(&secret, "${SECRET_ARN}"));

    env.bosun(&["validate", out_arg]).await.expect_code(0);
    let imported = Stackfile::from_text("imported.yml", &yaml);
    let plan = env.plan(&imported, &[]).await;
    plan.expect_code(2).expect_no_line_starting("+").expect_no_line_starting("-").expect_no_line_starting("±");
    let changes: Vec<&str> = plan.stdout.lines().filter(|l| l.starts_with('~')).collect();
    assert!(changes.iter().all(|l| l.ends_with("(adopt: bosun takes ownership)")), "{plan}");
    let json = env.plan(&imported, &["--format", "json"]).await;
    let body: serde_json::Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    let actions: Vec<(&str, &str)> = body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    assert!(actions.iter().all(|(a, _)| *a == "adopt"), "{actions:?}");
    let adopted: Vec<&str> = actions.iter().map(|(_, n)| *n).collect();
    for name in SERVICES {
        assert!(adopted.contains(&name), "service {name} is adopted: {adopted:?}");
    }
    for name in ["demo-web-lb", "demo-edge", "demo-api-tg", "demo-admin-tg", "users"] {
        assert!(adopted.contains(&name), "{name} is adopted: {adopted:?}");
    }

    let apply = env.apply(&imported, &[]).await;
    apply.expect_code(0);
    let stats = apply.stats();
    assert_eq!(stats.calls("RegisterTaskDefinition"), 0, "no new revision: {apply}");
    assert_eq!(stats.calls.get(&("ECS".to_owned(), "UpdateService".to_owned())), None, "no redeploy: {apply}");
    env.assert_converged(&imported).await;
    assert_eq!(deployments(&env).await, before, "same task definitions and deployments as before the import");

    for name in SERVICES {
        let s = env.service(name).await;
        assert_tags_include(&ecs_tags(s.tags()), &ownership(Some(name)), &format!("service {name}"));
    }
    let lbs = env.load_balancers().await;
    let lb = |name: &str| {
        lbs.iter().find(|l| l.load_balancer_name() == Some(name)).unwrap().load_balancer_arn().unwrap().to_owned()
    };
    assert_tags_include(&env.elb_tags(&lb("demo-web-lb")).await, &ownership(Some("web")), "web's ALB");
    assert_tags_include(&env.elb_tags(&lb("demo-edge")).await, &ownership(None), "the shared ALB");
    for tg in env.target_groups().await {
        let name = tg.target_group_name().unwrap();
        let service = name.trim_start_matches("demo-").split('-').next().unwrap();
        assert_tags_include(&env.elb_tags(tg.target_group_arn().unwrap()).await, &ownership(Some(service)), name);
    }
    let www = env.records("www.demo.example.com.").await;
    assert!(www.iter().any(|r| r.r#type() == &r53::RrType::Txt), "bosun's ownership record beside the alias: {www:?}");
}

/// The ARN of the Secrets Manager secret in the imported text (its suffix is random).
fn regex_free_secret(yaml: &str) -> String {
    let start = yaml.find("arn:aws:secretsmanager:").expect("the secret's ARN");
    yaml[start..].split(|c: char| c.is_whitespace() || c == '"').next().unwrap().to_owned()
}

#[tokio::test]
async fn import_refuses_what_it_cannot_read_and_leaves_out_what_bosun_manages() {
    let env = Env::start().await;
    env.bosun(&["import", "--cluster", "nowhere"])
        .await
        .expect_code(1)
        .expect_stderr("error: there is no ACTIVE ECS cluster `nowhere`");

    env.create_cluster_directly().await;
    env.create_unowned_service("legacy", "demo-legacy", "public.ecr.aws/docker/library/busybox:1.36", 1).await;
    env.bosun(&["import", "--cluster", CLUSTER, "--services", "legacy,ghost,phantom"])
        .await
        .expect_code(1)
        .expect_stderr("error: cluster `demo` has no ACTIVE service `ghost`, `phantom`");

    // A service bosun already manages for this cluster needs no import.
    let owned =
        env.create_unowned_service("owned", "demo-owned", "public.ecr.aws/docker/library/busybox:1.36", 1).await;
    let tags: Vec<ecs::Tag> =
        ownership(Some("owned")).into_iter().map(|(k, v)| ecs::Tag::builder().key(k).value(v).build()).collect();
    env.ecs.tag_resource().resource_arn(owned).set_tags(Some(tags)).send().await.expect("TagResource");
    let run = env.bosun(&["import", "--cluster", CLUSTER]).await;
    run.expect_code(0).expect_stderr("already managed by bosun, so not imported: owned");
    assert!(run.stdout.contains("# Already managed by bosun, so not imported: owned."), "{run}");
    let doc = bosun_stackfile::document::to_json(&run.stdout).expect("YAML on stdout");
    assert_eq!(doc["services"].as_object().unwrap().keys().collect::<Vec<_>>(), ["legacy"]);
    env.bosun(&["import", "--cluster", CLUSTER, "--services", "owned"])
        .await
        .expect_code(1)
        .expect_stderr("is already managed by bosun (owned)");
}

fn autoscaling_client(env: &Env) -> aws_sdk_applicationautoscaling::Client {
    aws_sdk_applicationautoscaling::Client::new(&env.sdk)
}

/// A scalable target of `service` with a CPU policy and a scheduled action, registered
/// with `tags` (bosun's, for a target a previous apply left behind; none for someone
/// else's), under the names given.
async fn scale(env: &Env, service: &str, tags: BTreeMap<String, String>, policy: &str, action: &str) {
    let scaler = autoscaling_client(env);
    let id = format!("service/{CLUSTER}/{service}");
    scaler
        .register_scalable_target()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .resource_id(&id)
        .min_capacity(1)
        .max_capacity(4)
        .set_tags((!tags.is_empty()).then(|| tags.into_iter().collect()))
        .send()
        .await
        .expect("RegisterScalableTarget");
    let metric = aas::PredefinedMetricSpecification::builder()
        .predefined_metric_type(aas::MetricType::EcsServiceAverageCpuUtilization)
        .build()
        .unwrap();
    scaler
        .put_scaling_policy()
        .policy_name(policy)
        .service_namespace(aas::ServiceNamespace::Ecs)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .resource_id(&id)
        .policy_type(aas::PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(
            aas::TargetTrackingScalingPolicyConfiguration::builder()
                .target_value(60.0)
                .predefined_metric_specification(metric)
                .scale_in_cooldown(120)
                .scale_out_cooldown(300)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("PutScalingPolicy");
    scaler
        .put_scheduled_action()
        .scheduled_action_name(action)
        .service_namespace(aas::ServiceNamespace::Ecs)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .resource_id(&id)
        .schedule("cron(0 22 * * ? *)")
        .timezone("Europe/Berlin")
        .scalable_target_action(aas::ScalableTargetAction::builder().min_capacity(1).max_capacity(2).build())
        .send()
        .await
        .expect("PutScheduledAction");
}

/// A cluster with capacity providers and a default strategy, and three services built
/// with the SDK: `web` with two sidecars (an init job it waits for, a proxy with a port
/// of its own), `api` scaled by a target tagged as bosun's (as a previous apply would
/// have left it), `worker` scaled by someone else's target, and `spot` on Fargate Spot.
async fn build_scaled_cluster(env: &Env) {
    env.create_cluster_directly().await;
    env.ecs
        .put_cluster_capacity_providers()
        .cluster(CLUSTER)
        .capacity_providers("FARGATE")
        .capacity_providers("FARGATE_SPOT")
        .default_capacity_provider_strategy(
            ecs::CapacityProviderStrategyItem::builder().capacity_provider("FARGATE_SPOT").weight(1).build().unwrap(),
        )
        .send()
        .await
        .expect("PutClusterCapacityProviders");
    let dependency = |name: &str, condition: ecs::ContainerCondition| {
        ecs::ContainerDependency::builder().container_name(name).condition(condition).build().unwrap()
    };
    let td = register(
        env.ecs
            .register_task_definition()
            .family("demo-web")
            .requires_compatibilities(ecs::Compatibility::Ec2)
            .set_container_definitions(Some(vec![
                container("web", "public.ecr.aws/nginx/nginx:1.27")
                    .memory(256)
                    .port_mappings(port(8080, None))
                    .depends_on(dependency("migrate", ecs::ContainerCondition::Success))
                    .depends_on(dependency("proxy", ecs::ContainerCondition::Start))
                    .build(),
                ecs::ContainerDefinition::builder()
                    .name("migrate")
                    .image("public.ecr.aws/docker/library/busybox:1.36")
                    .essential(false)
                    .memory(64)
                    .command("sh")
                    .command("-c")
                    .command("echo migrated")
                    .build(),
                ecs::ContainerDefinition::builder()
                    .name("proxy")
                    .image("public.ecr.aws/docker/library/haproxy:3.0")
                    .essential(true)
                    .memory(128)
                    .port_mappings(port(9901, None))
                    .environment(ecs::KeyValuePair::builder().name("MODE").value("sidecar").build())
                    .build(),
            ])),
    )
    .await;
    service(
        env.ecs
            .create_service()
            .service_name("web")
            .task_definition(td)
            .desired_count(1)
            .launch_type(ecs::LaunchType::Ec2)
            .deployment_configuration(deployment(50)),
    )
    .await;
    for name in ["api", "worker"] {
        let td = register(
            env.ecs
                .register_task_definition()
                .family(format!("demo-{name}"))
                .requires_compatibilities(ecs::Compatibility::Ec2)
                .container_definitions(
                    container(name, "public.ecr.aws/docker/library/busybox:1.36").memory(128).build(),
                ),
        )
        .await;
        service(
            env.ecs
                .create_service()
                .service_name(name)
                .task_definition(td)
                .desired_count(2)
                .launch_type(ecs::LaunchType::Ec2)
                .deployment_configuration(deployment(50)),
        )
        .await;
    }
    scale(env, "api", ownership(Some("api")), "demo-api-cpu", "demo-api-night").await;
    scale(env, "worker", BTreeMap::new(), "cpu-tracking", "nightly").await;
    let td = register(
        env.ecs
            .register_task_definition()
            .family("demo-spot")
            .network_mode(ecs::NetworkMode::Awsvpc)
            .requires_compatibilities(ecs::Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .container_definitions(container("spot", "public.ecr.aws/nginx/nginx:1.27").build()),
    )
    .await;
    service(
        env.ecs
            .create_service()
            .service_name("spot")
            .task_definition(td)
            .desired_count(1)
            .capacity_provider_strategy(
                ecs::CapacityProviderStrategyItem::builder()
                    .capacity_provider("FARGATE_SPOT")
                    .weight(1)
                    .build()
                    .unwrap(),
            )
            .network_configuration(awsvpc(env))
            .deployment_configuration(deployment(50)),
    )
    .await;
}

/// The keys of issue 15 on an imported cluster: the sidecars and `depends_on`, an owned
/// target's `autoscaling`, the `cluster:` block are written; someone else's scalable
/// target is a comment that says why, with the count left to it. The file plans
/// adoption only; the apply registers nothing, redeploys nothing and touches no scaler;
/// then nothing is left to do.
#[tokio::test]
async fn sidecars_autoscaling_and_the_cluster_block_are_imported_and_adopted() {
    let env = Env::start().await;
    build_scaled_cluster(&env).await;
    let services = ["api", "spot", "web", "worker"];
    let before: Vec<String> = {
        let mut v = Vec::new();
        for name in services {
            v.push(env.service(name).await.task_definition().unwrap_or_default().to_owned());
        }
        v
    };

    let run = env.bosun(&["import", "--cluster", CLUSTER, "--stats"]).await;
    run.expect_code(0);
    assert_eq!(run.stats().mutating, 0, "import only reads: {run}");
    let yaml = run.stdout.clone();
    for text in [
        "cluster:\n  capacity_providers: [FARGATE, FARGATE_SPOT]\n  default_strategy:\n    - provider: FARGATE_SPOT\n      weight: 1\n",
        "    depends_on:\n      - container: migrate\n        condition: SUCCESS\n      - container: proxy\n        condition: START\n",
        "    containers:\n      - name: migrate\n",
        "      - name: proxy\n",
        "        ports: [9901]\n",
        "    autoscaling:\n      min: 1\n      max: 4\n      target_tracking:\n        - metric: cpu\n          target: 60\n          scale_in_cooldown: 120\n      scheduled:\n        - name: night\n",
        "          timezone: Europe/Berlin\n",
        "# bosun cannot represent: its count is scaled by Application Auto Scaling target `service/demo/worker`",
        "    ignore: [desired_count]\n",
        "    launch_type: ec2\n",
        "    capacity_provider_strategy:\n      - provider: FARGATE_SPOT\n",
    ] {
        assert!(yaml.contains(text), "no\n{text}\nin:\n{yaml}");
    }
    assert!(!yaml.contains("the plan would change"), "{yaml}");
    assert_eq!(yaml.matches("bosun cannot represent").count(), 1, "only worker's target:\n{yaml}");

    let imported = Stackfile::from_text("imported.yml", &yaml);
    let plan = env.plan(&imported, &["--format", "json"]).await;
    let body: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let actions: Vec<(&str, &str)> = body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    assert!(actions.iter().all(|(a, _)| *a == "adopt"), "{actions:?}");
    let mut adopted: Vec<&str> = actions.iter().map(|(_, n)| *n).collect();
    adopted.sort_unstable();
    assert_eq!(adopted, services, "the four services, and nothing else: {actions:?}");
    assert!(body["conflicts"].as_array().is_none_or(Vec::is_empty), "{body}");

    let apply = env.apply(&imported, &[]).await;
    apply.expect_code(0);
    let stats = apply.stats();
    for op in [
        "RegisterTaskDefinition",
        "UpdateService",
        "CreateService",
        "PutClusterCapacityProviders",
        "RegisterScalableTarget",
        "PutScalingPolicy",
        "PutScheduledAction",
        "DeregisterScalableTarget",
        "DeleteScalingPolicy",
        "DeleteScheduledAction",
    ] {
        assert_eq!(stats.calls(op), 0, "no {op}: {apply}");
    }
    env.assert_converged(&imported).await;
    let mut after = Vec::new();
    for name in services {
        let s = env.service(name).await;
        assert_tags_include(&ecs_tags(s.tags()), &ownership(Some(name)), &format!("service {name}"));
        after.push(s.task_definition().unwrap_or_default().to_owned());
    }
    assert_eq!(after, before, "the same task definitions run");
    let web = env.task_definition(&after[2]).await;
    let names: Vec<&str> = web.container_definitions().iter().filter_map(|c| c.name()).collect();
    assert_eq!(names, ["web", "migrate", "proxy"]);

    // Both scalers as they were: bounds, policies, actions; the worker's untagged.
    let scaler = autoscaling_client(&env);
    for (service, policy, action) in [("api", "demo-api-cpu", "demo-api-night"), ("worker", "cpu-tracking", "nightly")]
    {
        let id = format!("service/{CLUSTER}/{service}");
        let targets = scaler
            .describe_scalable_targets()
            .service_namespace(aas::ServiceNamespace::Ecs)
            .resource_ids(&id)
            .send()
            .await
            .expect("DescribeScalableTargets");
        let t = targets.scalable_targets().first().expect("the target is there");
        assert_eq!((t.min_capacity(), t.max_capacity()), (1, 4), "{service}");
        let policies = scaler
            .describe_scaling_policies()
            .service_namespace(aas::ServiceNamespace::Ecs)
            .resource_id(&id)
            .send()
            .await
            .expect("DescribeScalingPolicies");
        let names: Vec<&str> = policies.scaling_policies().iter().map(|p| p.policy_name()).collect();
        assert_eq!(names, [policy], "{service}");
        let actions = scaler
            .describe_scheduled_actions()
            .service_namespace(aas::ServiceNamespace::Ecs)
            .resource_id(&id)
            .send()
            .await
            .expect("DescribeScheduledActions");
        let names: Vec<&str> = actions.scheduled_actions().iter().map(|a| a.scheduled_action_name()).collect();
        assert_eq!(names, [action], "{service}");
        let tags = scaler
            .list_tags_for_resource()
            .resource_arn(t.scalable_target_arn().unwrap())
            .send()
            .await
            .expect("ListTagsForResource");
        let tags: BTreeMap<String, String> = tags.tags().cloned().unwrap_or_default().into_iter().collect();
        assert_eq!(tags.contains_key("bosun:managed-by"), service == "api", "{service}: {tags:?}");
    }
}
