//! `bosun import`'s document builder: the round trip (a live cluster made from a desired
//! state imports into a stackfile that loads back into the same desired state, so its
//! plan adopts and changes nothing), `defaults`, and the comments for what a stackfile
//! cannot say.

use bosun_stackfile::import::{
    ImportError, LiveAction, LiveAttachment, LiveCluster, LiveDiscoveryService, LiveListener, LiveLoadBalancer,
    LiveNamespace, LiveRecord, LiveRule, LiveScaling, LiveService, LiveServiceSettings, LiveTargetGroup, build,
};
use bosun_stackfile::{DefaultAction, Desired, ServiceKind, ServiceSpec, fixtures, load};

fn tg_arn(name: &str) -> String {
    format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{name}/0123")
}

fn lb_arn(name: &str) -> String {
    format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/{name}/4567")
}

fn sd_arn(name: &str) -> String {
    format!("arn:aws:servicediscovery:us-east-1:123456789012:service/srv-{name}")
}

fn dns_name(lb: &str) -> String {
    format!("{}-1234.us-east-1.elb.amazonaws.com", lb.to_lowercase())
}

/// The live cluster that applying `d` makes, as the adapter would read it.
fn live_from(d: &Desired) -> LiveCluster {
    let mut live = LiveCluster {
        cluster: d.cluster.clone(),
        capacity: d.cluster_settings.as_ref().and_then(|c| c.capacity_providers.clone()).unwrap_or_default(),
        ..LiveCluster::default()
    };
    for s in d.services.values().filter(|s| s.kind == ServiceKind::Service) {
        live.services.push(LiveService {
            name: s.name.clone(),
            task_definition: s.task_definition.clone(),
            notes: Vec::new(),
            desired_count: s.desired_count.unwrap_or(s.initial_count),
            // ECS reports a launch type or a strategy.
            launch_type: s.capacity_provider_strategy.is_empty().then_some(s.launch_type),
            network: s.network.clone(),
            load_balancers: s
                .target_group
                .iter()
                .map(|tg| LiveAttachment {
                    target_group_arn: tg_arn(&tg.name),
                    container_name: s.task_definition.container.name.clone(),
                    container_port: s.container_port.unwrap_or(tg.port),
                })
                .collect(),
            registries: s.discovery.iter().map(|x| sd_arn(&x.name)).collect(),
            circuit_breaker: s.deployment.circuit_breaker,
            rollback: s.deployment.rollback,
            min_healthy_percent: s.deployment.min_healthy_percent,
            max_percent: s.deployment.max_percent,
            placement_strategy: s.placement_strategy.clone(),
            placement_constraints: s.placement_constraints.clone(),
            settings: LiveServiceSettings {
                capacity_provider_strategy: s.capacity_provider_strategy.clone(),
                propagate_tags: s.propagate_tags,
                enable_execute_command: s.enable_execute_command,
                health_check_grace_period: s.health_check_grace_period.unwrap_or(0),
                enable_ecs_managed_tags: s.enable_ecs_managed_tags,
                service_connect: s.service_connect.clone(),
            },
            // The target bosun registers, tagged as its own.
            scaling: s.autoscaling.as_ref().map(|a| LiveScaling {
                min: a.min,
                max: a.max,
                owned: true,
                policies: a.target_tracking.iter().map(|p| (p.name.clone(), Some(p.clone()))).collect(),
                scheduled: a.scheduled.iter().map(|x| (x.name.clone(), x.clone())).collect(),
            }),
        });
        if let Some(tg) = &s.target_group {
            let lb = s.rules.first().map_or_else(|| tg.name.clone(), |r| r.load_balancer.clone());
            live.target_groups.insert(
                tg_arn(&tg.name),
                LiveTargetGroup {
                    arn: tg_arn(&tg.name),
                    spec: tg.clone(),
                    load_balancer_arns: vec![lb_arn(&lb)],
                    notes: Vec::new(),
                },
            );
        }
        if let Some(r) = &s.dns {
            live.records.push(LiveRecord {
                zone_id: r.zone_id.clone(),
                name: r.name.clone(),
                record_type: "A".into(),
                alias_dns_name: dns_name(&r.load_balancer),
            });
        }
        if let (Some(x), Some(ns)) = (&s.discovery, &d.namespace) {
            live.discovery.insert(
                sd_arn(&x.name),
                LiveDiscoveryService {
                    arn: sd_arn(&x.name),
                    name: x.name.clone(),
                    namespace_id: "ns-1".into(),
                    dns_ttl: Some(x.dns_ttl),
                    failure_threshold: Some(x.failure_threshold),
                    notes: Vec::new(),
                },
            );
            live.namespaces.insert(
                "ns-1".into(),
                LiveNamespace {
                    id: "ns-1".into(),
                    name: ns.name.clone(),
                    private_dns: true,
                    vpc_id: Some(ns.vpc_id.clone()),
                },
            );
        }
    }
    for lb in d.load_balancers.values() {
        let listeners = lb
            .listeners
            .values()
            .map(|l| LiveListener {
                port: l.port,
                protocol: Some(l.protocol),
                certificates: l.certificates.clone(),
                default_action: match &l.default_action {
                    DefaultAction::Forward { target_group } => {
                        LiveAction::Forward { target_group_arn: tg_arn(target_group) }
                    }
                    DefaultAction::FixedResponse { status_code } => {
                        LiveAction::FixedResponse { status_code: *status_code }
                    }
                },
                rules: d
                    .services
                    .values()
                    .flat_map(|s| &s.rules)
                    .filter(|r| r.load_balancer == lb.name && r.listener_port == l.port)
                    .map(|r| LiveRule {
                        priority: r.priority,
                        hosts: r.hosts.clone(),
                        paths: r.paths.clone(),
                        action: LiveAction::Forward { target_group_arn: tg_arn(&r.target_group) },
                        other_conditions: Vec::new(),
                    })
                    .collect(),
            })
            .collect();
        live.load_balancers.insert(
            lb_arn(&lb.name),
            LiveLoadBalancer {
                arn: lb_arn(&lb.name),
                name: lb.name.clone(),
                scheme: lb.scheme,
                subnets: lb.subnets.clone(),
                security_groups: lb.security_groups.clone(),
                dns_name: dns_name(&lb.name),
                listeners,
                notes: Vec::new(),
            },
        );
    }
    live
}

/// A service spec as an import can know it: no hooks (they are not live), the default
/// rollout wait, adopted.
fn as_imported(s: &ServiceSpec) -> ServiceSpec {
    let mut s = s.clone();
    s.hooks = Default::default();
    s.deployment.wait_timeout = std::time::Duration::from_secs(600);
    s.adopt = true;
    s
}

fn assert_round_trip(d: &Desired) -> String {
    let live = live_from(d);
    let imported = build(&live).unwrap_or_else(|e| panic!("{e}"));
    assert!(bosun_stackfile::validate(&imported.yaml).is_ok(), "{}", imported.yaml);
    let back = load(&imported.yaml, &d.cluster).unwrap_or_else(|e| panic!("{e}\n{}", imported.yaml));
    assert_eq!(imported.notes, 0, "{}", imported.yaml);
    assert!(!imported.yaml.contains("the plan would change"), "{}", imported.yaml);
    for (name, s) in d.services.iter().filter(|(_, s)| s.kind == ServiceKind::Service) {
        assert_eq!(back.services[name], as_imported(s), "service {name}:\n{}", imported.yaml);
    }
    for (name, lb) in &d.load_balancers {
        let mut want = lb.clone();
        want.adopt = true;
        assert_eq!(back.load_balancers[name], want, "load balancer {name}:\n{}", imported.yaml);
    }
    assert_eq!(back.namespace, d.namespace);
    imported.yaml
}

#[test]
fn every_example_imports_into_the_same_desired_state() {
    for name in fixtures::EXAMPLES {
        assert_round_trip(&fixtures::desired(name, "shop"));
    }
}

#[test]
fn the_demo_imports_with_defaults_and_adopt() {
    let yaml = assert_round_trip(&fixtures::desired("demo.yml", "demo"));
    insta::assert_snapshot!("import_demo", yaml);
}

#[test]
fn the_fargate_example_keeps_its_shared_load_balancer_shared() {
    let yaml = assert_round_trip(&fixtures::desired("fargate.yml", "shop"));
    insta::assert_snapshot!("import_fargate", yaml);
}

/// The test cluster of the issue, as a stackfile, for the shapes the examples lack:
/// a public ALB service with an alias, two services sharing one ALB by host, a Cloud Map
/// service, a worker, and a Fargate service with secrets.
const CLUSTER: &str = r#"
version: 1
vpc:
  id: vpc-1
  subnets: {public: [subnet-a, subnet-b], private: [subnet-c, subnet-d]}
  security_groups: {public: [sg-pub], private: [sg-priv]}
service_discovery: {namespace: legacy.sd}
load_balancers:
  edge:
    name: legacy-shared-alb
    type: public
    listeners: [{port: 80}, {port: 443, protocol: HTTPS, certificates: ["arn:aws:acm:us-east-1:123456789012:certificate/abc"]}]
services:
  web:
    image: nginx:1.27
    memory: 256
    network_mode: bridge
    ports: [8080, "9090:9090/udp"]
    environment: {STAGE: prod, LOG_LEVEL: info, WEB_ONLY: "true"}
    logging: {log_driver: awslogs, options: {awslogs-group: /ecs/legacy, awslogs-stream-prefix: web}}
    elb:
      type: public
      ports: {public: 80, container: 8080}
      dns: {hosted_zone_id: Z1, record_name: www.example.com}
      healthcheck: {path: /health, matcher: "200-399", interval_seconds: 15}
  api:
    image: nginx:1.27
    memory: 256
    ports: [8080]
    environment: {STAGE: prod, LOG_LEVEL: debug}
    logging: {log_driver: awslogs, options: {awslogs-group: /ecs/legacy, awslogs-stream-prefix: api}}
    routing: {load_balancer: edge, listener: 443, hosts: [api.example.com], priority: 10, dns: {hosted_zone_id: Z1, record_name: api.example.com}}
    deployment: {min_healthy_percent: 100}
  admin:
    image: nginx:1.27
    memory: 256
    ports: [8080, 8081]
    environment: {STAGE: prod, LOG_LEVEL: info}
    logging: {log_driver: awslogs, options: {awslogs-group: /ecs/legacy, awslogs-stream-prefix: admin}}
    routing: {load_balancer: edge, listener: 443, hosts: [admin.example.com], paths: ["/admin/*"], priority: 20, container_port: 8081}
  users:
    image: httpd:2.4
    memory: 256
    ports: [8080]
    environment: {STAGE: prod, LOG_LEVEL: info}
    logging: {log_driver: awslogs, options: {awslogs-group: /ecs/legacy, awslogs-stream-prefix: users}}
    dns_discovery: {ttl: 30}
    healthcheck: {command: "wget -q -O /dev/null http://localhost:8080/", interval: 15}
  mailer:
    image: busybox:1.36
    memory: 256
    desired_count: 0
    environment: {STAGE: prod, LOG_LEVEL: info, SMTP_PORT: "587"}
    logging: {log_driver: awslogs, options: {awslogs-group: /ecs/legacy, awslogs-stream-prefix: mailer}}
    placement_strategy: [{type: spread, field: "attribute:ecs.availability-zone"}]
    volumes: ["spool:/var/spool:/spool", "conf:/etc/mailer:/conf:ro"]
  payments:
    image: payments:4.2
    launch_type: fargate
    cpu: 512
    memory: 1024
    environment: {STAGE: prod, LOG_LEVEL: info}
    logging: {log_driver: awslogs, options: {awslogs-group: /ecs/legacy, awslogs-stream-prefix: payments}}
    secrets:
      DATABASE_URL: arn:aws:secretsmanager:us-east-1:123456789012:secret:payments/db-AbCdEf
      API_TOKEN: arn:aws:ssm:us-east-1:123456789012:parameter/payments/token
    task_execution_role_arn: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
    task_role_arn: arn:aws:iam::123456789012:role/payments
"#;

fn issue_cluster() -> Desired {
    load(CLUSTER, "legacy").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn common_settings_move_to_defaults_and_each_service_keeps_the_rest() {
    let yaml = assert_round_trip(&issue_cluster());
    insta::assert_snapshot!("import_issue_cluster", yaml);
    let doc: serde_json::Value = bosun_stackfile::document::to_json(&yaml).unwrap();
    let defaults = &doc["defaults"];
    assert_eq!(defaults["environment"], serde_json::json!({"STAGE": "prod"}), "LOG_LEVEL differs in api");
    assert_eq!(defaults["logging"]["options"], serde_json::json!({"awslogs-group": "/ecs/legacy"}));
    assert_eq!(defaults["memory"], serde_json::Value::Null, "payments' task memory differs");
    assert_eq!(doc["services"]["api"]["logging"], serde_json::json!({"options": {"awslogs-stream-prefix": "api"}}));
    // `legacy-shared-alb` is `<cluster>-shared-alb`: its key says its name.
    assert_eq!(
        doc["load_balancers"]["shared-alb"],
        serde_json::json!({
            "type": "public",
            "listeners": [{"port": 80}, {"port": 443, "protocol": "HTTPS", "certificates": ["arn:aws:acm:us-east-1:123456789012:certificate/abc"]}],
            "adopt": true,
        })
    );
    for (name, s) in doc["services"].as_object().unwrap() {
        assert_eq!(s["adopt"], true, "{name}");
    }
    // The secrets stay ARNs.
    assert_eq!(
        doc["services"]["payments"]["secrets"]["DATABASE_URL"],
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:payments/db-AbCdEf"
    );
}

#[test]
fn what_a_stackfile_cannot_say_is_a_comment_at_its_place_and_nothing_is_guessed() {
    let mut live = live_from(&issue_cluster());
    let mailer = live.services.iter_mut().find(|s| s.name == "mailer").unwrap();
    mailer.notes.push("it has a second container, `sidecar`".into());
    mailer.launch_type = None;
    // A family bosun did not name: the plan would register bosun's own.
    let web = live.services.iter_mut().find(|s| s.name == "web").unwrap();
    web.task_definition.family = "hand-made-web".into();
    web.task_definition.container.memory = None;
    // A listener that answers unmatched requests with a redirect.
    let edge = live.load_balancers.values_mut().find(|l| l.name == "legacy-shared-alb").unwrap();
    edge.listeners[0].default_action = LiveAction::Other { description: "a redirect to HTTPS".into() };
    // A second record for web's ALB, and an AAAA one.
    let web_dns = live.records.iter().find(|r| r.name == "www.example.com.").unwrap().clone();
    live.records.push(LiveRecord { name: "web.example.com.".into(), ..web_dns.clone() });
    live.records.push(LiveRecord { record_type: "AAAA".into(), ..web_dns });

    let imported = build(&live).unwrap_or_else(|e| panic!("{e}"));
    let yaml = &imported.yaml;
    let at = |key: &str| yaml.find(&format!("\n  {key}:\n")).unwrap_or_else(|| panic!("{key} in\n{yaml}"));
    let comment = |text: &str| yaml.find(text).unwrap_or_else(|| panic!("`{text}` in\n{yaml}"));
    // Each comment sits right above the service or load balancer it is about.
    let before = |text: &str, key: &str| {
        let (c, k) = (comment(text), at(key));
        assert!(c < k, "`{text}` above {key}:\n{yaml}");
        assert!(
            yaml[c..k].lines().skip(1).all(|l| l.trim_start().starts_with('#') || l.trim().is_empty()),
            "`{text}` right above {key}:\n{yaml}"
        );
    };
    before("# bosun cannot represent: it has a second container, `sidecar`", "mailer");
    before("capacity-provider strategy", "mailer");
    before("its task definition family is `hand-made-web`", "web");
    before("its container has no hard memory limit", "web");
    // Of two records, the first by name is the service's `dns`; the other is left alone.
    before("record www.example.com. in zone Z1 also aliases its load balancer", "web");
    assert!(yaml.contains("record_name: web.example.com"), "{yaml}");
    before("AAAA record www.example.com. in zone Z1", "web");
    before("answers requests no rule matches with a redirect to HTTPS", "shared-alb");
    before(
        "# the plan would change: a new task definition revision, and a redeploy of the service: it differs in `container.memory`, `family`",
        "web",
    );
    // The plan's listener change is said too, and nothing is said about the others.
    before("the plan would change: the listener on port 80 of `legacy-shared-alb`: default_action", "shared-alb");
    for quiet in ["api", "admin", "users", "payments"] {
        let above = yaml[..=at(quiet)].lines().last().unwrap_or_default();
        assert!(!above.trim_start().starts_with('#'), "no comment above {quiet}:\n{yaml}");
    }
    assert!(bosun_stackfile::validate(yaml).is_ok(), "{yaml}");
    assert_eq!(imported.notes, 9, "{yaml}");
}

#[test]
fn values_a_stackfile_refuses_are_left_out_with_a_comment_and_never_shown() {
    let mut live = live_from(&issue_cluster());
    let api = live.services.iter_mut().find(|s| s.name == "api").unwrap();
    api.task_definition.container.environment.insert("BELL".into(), "ding\u{7}dong".into());
    let imported = build(&live).unwrap_or_else(|e| panic!("{e}"));
    assert!(imported.yaml.contains("environment variable `BELL` has a name or value a stackfile refuses; left out"));
    assert!(!imported.yaml.contains("ding"), "the value is not written:\n{}", imported.yaml);
    assert!(imported.yaml.contains("differs in `container.environment`"), "{}", imported.yaml);
}

#[test]
fn a_cluster_without_services_to_import_is_refused() {
    let live = LiveCluster { cluster: "empty".into(), managed: vec!["web".into()], ..LiveCluster::default() };
    assert_eq!(build(&live), Err(ImportError::NoServices));
    let mut one = live_from(&issue_cluster());
    one.managed = vec!["old".into()];
    let imported = build(&one).unwrap();
    assert!(imported.yaml.contains("# Already managed by bosun, so not imported: old."), "{}", imported.yaml);
}

/// The service settings of issue 15 (a Spot strategy, ECS Exec, the grace period,
/// managed tags, propagation) and the task definition's tags are written by an import,
/// and load back into the same desired state.
#[test]
fn capacity_exec_grace_period_and_tags_are_imported() {
    let text = r#"
vpc:
  id: vpc-0a1b2c3d
  subnets: {private: [subnet-0000001a]}
services:
  - api:
      image: nginx:1.27
      cpu: 256
      memory: 512
      capacity_provider_strategy:
        - {provider: FARGATE_SPOT, weight: 3}
        - {provider: FARGATE, base: 1, weight: 1}
      enable_execute_command: true
      enable_ecs_managed_tags: true
      propagate_tags: task_definition
      healthcheck: {command: "true"}
      health_check_grace_period: 45
      tags: {team: payments}
  - worker:
      image: busybox
      memory: 128
      capacity_provider_strategy: [{provider: asg-a, weight: 1}]
"#;
    let yaml = assert_round_trip(&load(text, "shop").unwrap());
    for line in [
        "capacity_provider_strategy:",
        "enable_execute_command: true",
        "health_check_grace_period: 45",
        "enable_ecs_managed_tags: true",
        "propagate_tags: task_definition",
        "team: payments",
    ] {
        assert!(yaml.contains(line), "no `{line}` in:\n{yaml}");
    }
    assert!(!yaml.contains("launch_type"), "a strategy is written instead of a launch type:\n{yaml}");
}

/// Sidecars (a log router, an init job the main container waits for, a proxy with its
/// own port, environment, secrets, health check and command) and `depends_on` are
/// written as `containers:`, and load back into the same task definitions. The main
/// containers share their logging and a sidecar logs nowhere, so the defaults keep none
/// (the sidecar would inherit it).
#[test]
fn sidecars_and_depends_on_are_imported() {
    let text = r#"
services:
  - web:
      image: nginx:1.27
      memory: 256
      ports: [8080]
      logging: {log_driver: awslogs, options: {awslogs-group: /ecs/shop, awslogs-stream-prefix: web}}
      task_execution_role_arn: arn:aws:iam::123456789012:role/exec
      depends_on:
        - {container: migrate, condition: SUCCESS}
        - {container: proxy, condition: HEALTHY}
      containers:
        - name: migrate
          image: shop/migrate:3
          essential: false
          memory: 128
          command: [./migrate, up]
          entrypoint: [/bin/sh, -c]
        - name: proxy
          image: envoyproxy/envoy:v1.31
          memory: 128
          cpu: 64
          ports: [9901]
          environment: {ENVOY_LOG_LEVEL: info}
          secrets: {TLS_KEY: "arn:aws:secretsmanager:us-east-1:123456789012:secret:tls-AbCdEf"}
          healthcheck: {command: "curl -f http://localhost:9901/ready", interval: 10}
          depends_on: [{container: migrate, condition: COMPLETE}]
  - api:
      image: nginx:1.27
      memory: 256
      logging: {log_driver: awsfirelens, options: {Name: cloudwatch}}
      containers:
        - name: router
          image: public.ecr.aws/aws-observability/aws-for-fluent-bit:stable
          memory: 64
          firelens: {type: fluentbit, options: {enable-ecs-log-metadata: "true"}}
          logging: {log_driver: awslogs, options: {awslogs-group: /ecs/router}}
"#;
    let d = load(text, "shop").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.services["web"].task_definition.sidecars.len(), 2);
    let yaml = assert_round_trip(&d);
    for line in [
        "    depends_on:\n      - container: migrate\n        condition: SUCCESS\n",
        "    containers:\n      - name: migrate\n        image: shop/migrate:3\n        essential: false\n",
        "        command: [\"./migrate\", up]\n",
        "        firelens:\n          type: fluentbit\n",
    ] {
        assert!(yaml.contains(line), "no\n{line}in:\n{yaml}");
    }
    insta::assert_snapshot!("import_sidecars", yaml);
}

/// A sidecar without a hard memory limit on EC2, which a stackfile refuses: its
/// `containers` are left out, with a note, and the round trip says the plan would
/// register a new revision; nothing fails.
#[test]
fn sidecars_a_stackfile_refuses_are_a_comment() {
    let text = "services:\n  - web:\n      image: nginx:1.27\n      memory: 256\n      containers:\n        - {name: proxy, image: envoy, memory: 64}\n";
    let mut live = live_from(&load(text, "shop").unwrap());
    live.services[0].task_definition.sidecars[0].memory = None;
    let imported = build(&live).unwrap_or_else(|e| panic!("{e}"));
    let yaml = &imported.yaml;
    assert!(yaml.contains("its container(s) `proxy` have no hard memory limit"), "{yaml}");
    assert!(yaml.contains("the plan would change: a new task definition revision"), "{yaml}");
    assert!(!yaml.contains("containers:"), "{yaml}");
}

const SCALED: &str = r#"
services:
  - web:
      image: nginx:1.27
      memory: 256
      desired_count: 3
      autoscaling:
        min: 2
        max: 10
        target_tracking:
          - {metric: cpu, target: 60, scale_in_cooldown: 120}
          - {metric: memory, target: 75}
        scheduled:
          - {name: night, schedule: "cron(0 22 * * ? *)", min: 1, max: 2, timezone: Europe/Berlin}
          - {name: morning, schedule: "cron(0 6 * * ? *)", min: 2}
  - worker:
      image: busybox
      memory: 128
"#;

/// A scalable target bosun owns is written as `autoscaling:`, its policies and actions
/// by the names bosun gives them, and loads back into the same spec (the count is the
/// scaler's; `desired_count` seeds).
#[test]
fn an_owned_scalable_target_is_imported_as_autoscaling() {
    let d = load(SCALED, "shop").unwrap_or_else(|e| panic!("{e}"));
    let yaml = assert_round_trip(&d);
    insta::assert_snapshot!("import_autoscaling", yaml);
    let doc = bosun_stackfile::document::to_json(&yaml).unwrap();
    assert_eq!(doc["services"]["web"]["autoscaling"]["scheduled"][0]["name"], "morning");
    assert_eq!(doc["services"]["web"]["desired_count"], 3);
    assert_eq!(doc["services"]["worker"]["autoscaling"], serde_json::Value::Null);
}

/// A target bosun did not create: the planner cannot take it over (a stackfile naming it
/// plans a conflict), so the block is left out with a note saying why, and the count is
/// left to the scaler. Policies and actions bosun would not own by their names are said
/// to be left alone; one with bosun's name but a form it cannot say, to be deleted.
#[test]
fn a_foreign_scalable_target_is_a_comment_and_leaves_the_count_to_it() {
    let d = load(SCALED, "shop").unwrap();
    let mut live = live_from(&d);
    let web = live.services.iter_mut().find(|s| s.name == "web").unwrap();
    web.scaling.as_mut().unwrap().owned = false;
    let imported = build(&live).unwrap_or_else(|e| panic!("{e}"));
    let yaml = &imported.yaml;
    assert!(yaml.contains("# bosun cannot represent: its count is scaled by Application Auto Scaling target `service/shop/web` (min 2, max 10, 2 policies, 2 scheduled actions), which bosun did not create; the plan cannot take a scalable target over"), "{yaml}");
    assert!(!yaml.contains("autoscaling:"), "{yaml}");
    assert!(!yaml.contains("the plan would change"), "{yaml}");
    let back = load(yaml, "shop").unwrap();
    assert_eq!(back.services["web"].desired_count, None, "the count is the scaler's");
    assert_eq!(back.services["web"].autoscaling, None);

    let web = live.services.iter_mut().find(|s| s.name == "web").unwrap();
    let scaling = web.scaling.as_mut().unwrap();
    scaling.owned = true;
    scaling.policies.insert("hand-made-cpu".into(), None);
    scaling.policies.insert("shop-web-cpu".into(), None);
    scaling.scheduled.remove("shop-web-morning");
    let imported = build(&live).unwrap_or_else(|e| panic!("{e}"));
    let yaml = &imported.yaml;
    assert!(yaml.contains("scaling policy `hand-made-cpu` on its target is not named bosun's way"), "{yaml}");
    assert!(
        yaml.contains("scaling policy `shop-web-cpu` has bosun's name but a form a stackfile cannot say"),
        "{yaml}"
    );
    let back = load(yaml, "shop").unwrap();
    let want = back.services["web"].autoscaling.as_ref().unwrap();
    assert_eq!(want.target_tracking.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["shop-web-memory"]);
    assert_eq!(want.scheduled.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["shop-web-night"]);
}

const ON_DEFAULT: &str = r#"
vpc:
  id: vpc-0a1b2c3d
  subnets: {private: [subnet-0000001a]}
cluster:
  capacity_providers: [FARGATE, FARGATE_SPOT]
  default_strategy:
    - {provider: FARGATE_SPOT, weight: 3}
    - {provider: FARGATE, base: 1, weight: 1}
services:
  - api:
      image: nginx:1.27
      cpu: 256
      memory: 512
  - batch:
      image: busybox
      cpu: 256
      memory: 512
      capacity_provider_strategy: [{provider: FARGATE, weight: 1}]
  - legacy:
      image: busybox
      memory: 128
      launch_type: ec2
"#;

/// A service on the cluster's default strategy: the `cluster:` block says the cluster's
/// providers and strategy, as they are live (which plans nothing even on a cluster bosun
/// did not create). Whether ECS reports the strategy on the service or reports neither a
/// launch type nor a strategy, the file loads back into the same spec; an EC2 service
/// then says its launch type, or it would take the default strategy too.
#[test]
fn a_service_on_the_default_strategy_is_imported_with_the_cluster_block() {
    let d = load(ON_DEFAULT, "shop").unwrap_or_else(|e| panic!("{e}"));
    let yaml = assert_round_trip(&d);
    assert!(yaml.contains("cluster:\n  capacity_providers: [FARGATE, FARGATE_SPOT]\n  default_strategy:\n"), "{yaml}");
    assert!(yaml.contains("launch_type: ec2"), "{yaml}");

    let mut live = live_from(&d);
    let api = live.services.iter_mut().find(|s| s.name == "api").unwrap();
    api.settings.capacity_provider_strategy.clear();
    api.launch_type = None;
    let imported = build(&live).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(imported.notes, 0, "{}", imported.yaml);
    insta::assert_snapshot!("import_default_strategy", imported.yaml);
    let back = load(&imported.yaml, "shop").unwrap();
    assert_eq!(back.services["api"], as_imported(&d.services["api"]));
    assert_eq!(back.cluster_settings.unwrap().capacity_providers, d.cluster_settings.unwrap().capacity_providers);

    // A cluster without a default strategy: the service keeps its note.
    live.capacity.default_strategy.clear();
    let imported = build(&live).unwrap_or_else(|e| panic!("{e}"));
    assert!(imported.yaml.contains("it names no launch type nor capacity-provider strategy"), "{}", imported.yaml);
}
