//! Sidecars (`containers:`) and `depends_on`: what they normalise to, that a stack
//! without them keeps its spec, and the task-wide rules ECS would refuse (names, ports,
//! dependencies, sizes, the FireLens log router), each with its place.

use bosun_stackfile::{ContainerDependency, Firelens, load, spec_hash};

fn errors(source: &str) -> String {
    match load(source, "staging") {
        Ok(_) => panic!("stackfile should not load"),
        Err(d) => d.to_string(),
    }
}

/// A Fargate service with a FireLens router that the main container logs to and waits
/// for, and an agent that waits for the router to be healthy.
const FARGATE: &str = r#"
vpc:
  id: vpc-0a1b2c3d
  subnets: {private: [subnet-0000001a]}
  security_groups: {private: [sg-0000000b]}
logging:
  log_driver: awslogs
  options: {awslogs-group: /ecs/staging, awslogs-region: eu-west-1}
services:
  - api:
      image: public.ecr.aws/nginx/nginx:1.27
      launch_type: fargate
      cpu: 512
      memory: 1024
      ports: [80]
      logging:
        log_driver: awsfirelens
        options: {Name: cloudwatch}
      depends_on:
        - {container: log-router, condition: START}
      containers:
        - name: log-router
          image: public.ecr.aws/aws-observability/aws-for-fluent-bit:stable
          memory: 128
          cpu: 64
          firelens:
            type: fluentbit
            options: {enable-ecs-log-metadata: "true"}
          healthcheck:
            command: "echo ok"
        - name: agent
          image: public.ecr.aws/x/agent:1
          essential: false
          ports: ["9100"]
          environment: {MODE: scrape}
          command: [agent, --port, "9100"]
          depends_on:
            - {container: log-router, condition: HEALTHY}
"#;

#[test]
fn sidecars_normalise_in_order_after_the_main_container() {
    let d = load(FARGATE, "staging").unwrap_or_else(|e| panic!("{e}"));
    let td = &d.services["api"].task_definition;
    assert_eq!(td.container.name, "api");
    assert!(td.container.essential);
    assert_eq!(
        td.container.depends_on,
        [ContainerDependency { container: "log-router".into(), condition: "START".into() }]
    );
    let names: Vec<&str> = td.sidecars.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["log-router", "agent"]);

    let router = &td.sidecars[0];
    assert_eq!(router.image, "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable");
    assert_eq!((router.memory, router.cpu, router.essential), (Some(128), Some(64), true));
    assert_eq!(
        router.firelens,
        Some(Firelens {
            kind: "fluentbit".into(),
            options: [("enable-ecs-log-metadata".to_string(), "true".to_string())].into()
        })
    );
    // A sidecar inherits the cluster's logging, not the main container's.
    assert_eq!(router.log_configuration.as_ref().map(|l| l.driver.as_str()), Some("awslogs"));
    assert_eq!(td.container.log_configuration.as_ref().map(|l| l.driver.as_str()), Some("awsfirelens"));
    assert_eq!(
        router.health_check.as_ref().map(|h| h.command.clone()),
        Some(vec!["CMD-SHELL".into(), "echo ok".into()])
    );

    let agent = &td.sidecars[1];
    assert!(!agent.essential);
    assert_eq!(agent.port_mappings.len(), 1);
    assert_eq!(agent.port_mappings[0].host_port, Some(9100), "awsvpc: host port = container port");
    assert_eq!(agent.environment.get("MODE").map(String::as_str), Some("scrape"));
    assert_eq!(agent.command, ["agent", "--port", "9100"]);
    assert_eq!(agent.depends_on, [ContainerDependency { container: "log-router".into(), condition: "HEALTHY".into() }]);
    // `defaults.environment` and the service's settings stay the service's.
    assert!(agent.secrets.is_empty() && agent.mount_points.is_empty() && agent.health_check.is_none());
}

#[test]
fn a_spec_without_sidecars_serialises_as_before() {
    // The hash of a one-container spec is pinned in container.rs; here: the JSON has no
    // trace of the new fields, and a sidecar changes the hash.
    let plain = load("services:\n  - web:\n      image: nginx\n", "staging").unwrap();
    let json = serde_json::to_string(&plain.services["web"].task_definition).unwrap();
    for key in ["sidecars", "essential", "depends_on", "firelens"] {
        assert!(!json.contains(key), "{key} in {json}");
    }
    let with = load(
        "services:\n  - web:\n      image: nginx\n      containers: [{name: agent, image: agent:1, memory: 64}]\n",
        "staging",
    )
    .unwrap();
    assert_ne!(spec_hash(&plain.services["web"].task_definition), spec_hash(&with.services["web"].task_definition));
    // Round trip: a spec read back from its JSON is the same spec.
    let td = &load(FARGATE, "staging").unwrap().services["api"].task_definition;
    let back: bosun_stackfile::TaskDefinitionSpec = serde_json::from_str(&serde_json::to_string(td).unwrap()).unwrap();
    assert_eq!(&back, td);
}

#[test]
fn task_wide_rules_are_reported_with_their_place() {
    let text = r#"
vpc:
  id: vpc-0a1b2c3d
  subnets: {private: [subnet-0000001a]}
services:
  - api:
      image: nginx
      launch_type: fargate
      cpu: 256
      memory: 512
      ports: [80]
      logging: {log_driver: awsfirelens}
      depends_on:
        - {container: nobody, condition: START}
        - {container: api, condition: START}
      containers:
        - name: api
          image: nginx
        - name: big
          image: big:1
          memory: 600
          cpu: 300
          ports: [80]
        - name: big
          image: big:2
        - name: job
          image: job:1
          depends_on:
            - {container: big, condition: SUCCESS}
            - {container: job, condition: START}
            - {container: big, condition: START}
            - {container: api, condition: HEALTHY}
        - name: bad name
          image: ""
          secrets: {TOKEN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:t"}
  - ec2:
      image: nginx
      containers:
        - name: a
          image: a:1
          depends_on: [{container: b, condition: START}]
        - name: b
          image: b:1
          memory: 64
          depends_on: [{container: a, condition: START}]
"#;
    insta::assert_snapshot!("sidecar_rules", errors(text));
}

#[test]
fn firelens_rules_are_reported_with_their_place() {
    let text = r#"
vpc:
  id: vpc-0a1b2c3d
  subnets: {private: [subnet-0000001a]}
services:
  - two:
      image: nginx
      launch_type: fargate
      cpu: 256
      memory: 512
      containers:
        - name: r1
          image: fluent-bit:1
          firelens: {type: fluentbit, options: {config-file-type: s3, config-file-value: "arn:aws:s3:::b/f.conf"}}
        - name: r2
          image: fluent-bit:1
          logging: {log_driver: awsfirelens}
          firelens: {type: fluentd, options: {enable-ecs-log-metadata: "yes", colour: blue, config-file-type: file}}
  - none:
      image: nginx
      memory: 256
      logging: {log_driver: awsfirelens}
"#;
    insta::assert_snapshot!("firelens_rules", errors(text));
}

#[test]
fn too_many_containers_and_unknown_conditions_are_structural_errors() {
    let mut text = String::from("services:\n  - web:\n      image: nginx\n      containers:\n");
    for i in 0..10 {
        text.push_str(&format!("        - {{name: s{i}, image: s:1, memory: 64}}\n"));
    }
    text.push_str("      depends_on: [{container: s0, condition: started}]\n");
    insta::assert_snapshot!("sidecar_structural", errors(&text));
}

#[test]
fn the_main_container_is_always_essential_so_a_task_always_has_one() {
    // Every sidecar may be `essential: false`; the main container, named after the
    // service, cannot be made so: ECS's "at least one essential container" holds.
    let d = load(
        "services:\n  - web:\n      image: nginx\n      containers: [{name: a, image: a:1, memory: 64, essential: false}]\n",
        "staging",
    )
    .unwrap();
    let td = &d.services["web"].task_definition;
    assert!(td.container.essential && !td.sidecars[0].essential);
    assert!(errors("services:\n  - web:\n      image: nginx\n      essential: false\n").contains("essential"));
}
