//! The container's process settings and the task's platform (issue 15, first slice):
//! applied from nothing, read back through the SDK, converged, changed one at a time,
//! and refused at the command line where ECS would refuse them.

use std::collections::HashMap;

use aws_sdk_ecs::types as ecs;
use bosun_tests::{Env, Stackfile, assert_invalid};

/// A Fargate service that uses every new key (one value from `defaults`), and an EC2
/// worker that uses none, in the nysa dialect.
const EVERY_KEY: &str = r#"
vpc:
  id: ${VPC_ID}
  subnets:
    private: [${PRIVATE_SUBNET_A}, ${PRIVATE_SUBNET_B}]
  security_groups:
    private: [${PRIVATE_SG}]
defaults:
  docker_labels: {team: core}
services:
  - api:
      image: public.ecr.aws/nginx/nginx:1.27
      launch_type: fargate
      cpu: 256
      memory: 512
      command: ["nginx", "-g", "daemon off;"]
      entrypoint: ["/docker-entrypoint.sh"]
      working_directory: /usr/share/nginx
      user: "101:101"
      stop_timeout: 90
      readonly_root_filesystem: true
      ulimits:
        - {name: nofile, soft: 4096, hard: 8192}
      docker_labels: {app: api}
      init_process_enabled: true
      runtime_platform: {cpu_architecture: arm64, os_family: linux}
      ephemeral_storage: 30
  - worker:
      image: public.ecr.aws/docker/library/busybox:1.36
      memory: 128
      docker_labels: {team: jobs}
"#;

fn every_key() -> Stackfile {
    Stackfile::from_text("container.yml", EVERY_KEY)
}

#[tokio::test]
async fn every_key_is_applied_read_back_and_converges() {
    let env = Env::start().await;
    env.converge(&every_key()).await;

    let svc = env.service("api").await;
    let td = env.task_definition(svc.task_definition().expect("a task definition")).await;
    let c = td.container_definitions().first().expect("one container");
    assert_eq!(c.command(), ["nginx", "-g", "daemon off;"]);
    assert_eq!(c.entry_point(), ["/docker-entrypoint.sh"]);
    assert_eq!(c.working_directory(), Some("/usr/share/nginx"));
    assert_eq!(c.user(), Some("101:101"));
    assert_eq!(c.stop_timeout(), Some(90));
    assert_eq!(c.readonly_root_filesystem(), Some(true));
    let ulimits: Vec<(&str, i32, i32)> =
        c.ulimits().iter().map(|u| (u.name().as_str(), u.soft_limit(), u.hard_limit())).collect();
    assert_eq!(ulimits, [("nofile", 4096, 8192)]);
    let labels: HashMap<String, String> = c.docker_labels().cloned().unwrap_or_default();
    assert_eq!(labels, HashMap::from([("app".into(), "api".into()), ("team".into(), "core".into())]));
    assert_eq!(c.linux_parameters().and_then(|l| l.init_process_enabled()), Some(true));
    let platform = td.runtime_platform().expect("a runtime platform");
    assert_eq!(platform.cpu_architecture(), Some(&ecs::CpuArchitecture::Arm64));
    assert_eq!(platform.operating_system_family(), Some(&ecs::OsFamily::Linux));
    assert_eq!(td.ephemeral_storage().map(|e| e.size_in_gib()), Some(30));

    // A service that sets none of the keys sends none of them (a label from defaults
    // aside, which it overrides).
    let worker = env.task_definition(env.service("worker").await.task_definition().expect("a td")).await;
    let w = worker.container_definitions().first().expect("one container");
    assert!(w.command().is_empty() && w.entry_point().is_empty() && w.ulimits().is_empty());
    assert_eq!((w.user(), w.working_directory(), w.stop_timeout()), (None, None, None));
    assert_eq!(w.readonly_root_filesystem(), None);
    assert!(w.linux_parameters().is_none());
    assert_eq!(w.docker_labels().and_then(|l| l.get("team")).map(String::as_str), Some("jobs"));
    assert!(worker.runtime_platform().is_none() && worker.ephemeral_storage().is_none());

    // Read back, the live task definitions equal the specs: nothing to plan, no call.
    env.assert_converged(&every_key()).await;
}

#[tokio::test]
async fn changing_only_the_command_is_one_new_revision_and_one_service_update() {
    let env = Env::start().await;
    env.converge(&every_key()).await;
    let before = env.running_revision("api").await;

    let changed = every_key().replace(
        r#"command: ["nginx", "-g", "daemon off;"]"#,
        r#"command: ["nginx", "-g", "daemon off; pid /tmp/nginx.pid;"]"#,
    );
    let plan = env.plan(&changed, &[]).await;
    plan.expect_code(2).expect_lines(&["~ task definition demo-api", "~ service api"]);
    assert!(plan.stdout.contains("+  command: [\"nginx\", \"-g\", \"daemon off; pid /tmp/nginx.pid;\"]"), "{plan}");

    let apply = env.converge(&changed).await;
    let stats = apply.stats();
    assert_eq!(stats.calls("RegisterTaskDefinition"), 1, "{apply}");
    assert_eq!(stats.calls("UpdateService"), 1, "{apply}");
    assert_eq!(stats.calls("CreateService"), 0, "{apply}");
    let after = env.running_revision("api").await;
    assert_ne!(before, after);
    let td = env.task_definition(&after).await;
    assert_eq!(td.container_definitions()[0].command(), ["nginx", "-g", "daemon off; pid /tmp/nginx.pid;"]);
    // Everything else stayed as it was.
    assert_eq!(td.ephemeral_storage().map(|e| e.size_in_gib()), Some(30));
    env.assert_converged(&changed).await;
}

#[test]
fn validate_refuses_what_ecs_refuses_with_file_line_and_column() {
    let text = r#"services:
  - ec2:
      image: nginx
      ephemeral_storage: 30
      ulimits: [{name: nofile, soft: 10, hard: 5}]
  - gate:
      image: nginx
      launch_type: fargate
      cpu: 256
      memory: 512
      stop_timeout: 121
  - win:
      image: mcr.microsoft.com/windows/servercore:ltsc2022
      network_mode: awsvpc
      init_process_enabled: true
      user: app
      runtime_platform: {os_family: windows_server_2022_core}
"#;
    assert_invalid(
        text,
        &[
            "bad.yml:4:26: services[0].ec2.ephemeral_storage: `ephemeral_storage` is for Fargate tasks only",
            "bad.yml:5:38: services[0].ec2.ulimits[0].soft: the soft limit of `nofile` (10) is above its hard limit (5)",
            "bad.yml:11:21: services[1].gate.stop_timeout: the stop timeout on Fargate (seconds) must be between 0 and 120, found 121",
            "bad.yml:15:29: services[2].win.init_process_enabled: `init_process_enabled` (a Linux parameter) is not supported for Windows containers",
            "bad.yml:16:13: services[2].win.user: `user` is not supported for Windows containers",
        ],
    );
}
