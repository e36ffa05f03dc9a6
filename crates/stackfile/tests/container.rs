//! The container's process settings (command, entry point, user, ulimits, labels,
//! ...) and the task's runtime platform and ephemeral storage: what they normalise to,
//! what they leave alone when unset, and the combinations ECS refuses.

use std::path::PathBuf;

use bosun_stackfile::{RuntimePlatform, Ulimit, fixtures, load, spec_hash};

fn errors(source: &str) -> String {
    match load(source, "staging") {
        Ok(_) => panic!("stackfile should not load"),
        Err(d) => d.to_string(),
    }
}

/// The spec hashes of the shipped examples and the nysa fixture, as computed on `main`
/// before these keys existed. The hash is the `bosun:spec-hash` tag of every live task
/// definition: if a stackfile that does not use a new key hashed differently, every
/// existing stack would plan a new revision (and a redeploy) after an upgrade. A new
/// field must therefore be left out of the spec's JSON while it is unset.
#[test]
fn stackfiles_without_the_new_keys_keep_their_spec_hashes() {
    let expected = [
        ("demo.yml", "mailer", "85a70a534bec8ee7"),
        ("demo.yml", "users", "3d6f72ab73bab70c"),
        ("demo.yml", "web", "c2490acdb656bb6e"),
        ("fargate.yml", "admin", "a22848ce62e55249"),
        ("fargate.yml", "api", "8d6de738ea91a8fc"),
        ("hooks.yml", "app", "1da0f6e978c9b6a1"),
    ];
    for (file, service, hash) in expected {
        let d = fixtures::desired(file, "staging");
        assert_eq!(spec_hash(&d.services[service].task_definition), hash, "{file} {service}");
    }
    let nysa = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nysa-full.yml"))
        .unwrap();
    let d = load(&nysa, "staging").unwrap();
    for (service, hash) in
        [("api", "8c9a8e8121b3159d"), ("batch", "5f43c754ea9fde00"), ("frontend", "8671bbe049387186")]
    {
        assert_eq!(spec_hash(&d.services[service].task_definition), hash, "nysa-full.yml {service}");
    }
}

const EVERY_KEY: &str = r#"
vpc:
  id: vpc-0a1b2c3d
  subnets: {private: [subnet-0000001a]}
  security_groups: {private: [sg-0000000b]}
defaults:
  stop_timeout: 20
  ulimits:
    - {name: nofile, soft: 1024, hard: 2048}
    - {name: nproc, soft: 64, hard: 128}
  docker_labels: {team: core, tier: "1"}
  init_process_enabled: true
services:
  - api:
      image: nginx:1.27
      launch_type: fargate
      cpu: 256
      memory: 512
      command: ["nginx", "-g", "daemon off;"]
      entrypoint: ["/docker-entrypoint.sh"]
      working_directory: /srv
      user: "101:101"
      stop_timeout: 90
      readonly_root_filesystem: true
      ulimits:
        - {name: nofile, soft: 4096, hard: 8192}
      docker_labels: {tier: "2", app: api}
      runtime_platform: {cpu_architecture: arm64}
      ephemeral_storage: 30
  - worker:
      image: busybox:1.36
"#;

#[test]
fn every_key_normalises_and_defaults_merge_under_the_service() {
    let d = load(EVERY_KEY, "staging").unwrap_or_else(|e| panic!("{e}"));
    let td = &d.services["api"].task_definition;
    let c = &td.container;
    assert_eq!(c.command, ["nginx", "-g", "daemon off;"]);
    assert_eq!(c.entry_point, ["/docker-entrypoint.sh"]);
    assert_eq!(c.working_directory.as_deref(), Some("/srv"));
    assert_eq!(c.user.as_deref(), Some("101:101"));
    assert_eq!(c.stop_timeout, Some(90));
    assert!(c.readonly_root_filesystem);
    assert!(c.init_process_enabled);
    // By name: the service's nofile wins, the default nproc stays; sorted by name.
    assert_eq!(
        c.ulimits,
        [
            Ulimit { name: "nofile".into(), soft_limit: 4096, hard_limit: 8192 },
            Ulimit { name: "nproc".into(), soft_limit: 64, hard_limit: 128 },
        ]
    );
    let labels: Vec<(&str, &str)> = c.docker_labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(labels, [("app", "api"), ("team", "core"), ("tier", "2")]);
    assert_eq!(
        td.runtime_platform,
        Some(RuntimePlatform { cpu_architecture: "ARM64".into(), os_family: "LINUX".into() })
    );
    assert_eq!(td.ephemeral_storage, Some(30));

    // A service that sets none of them gets the defaults and nothing else.
    let w = &d.services["worker"].task_definition;
    assert!(w.container.command.is_empty() && w.container.entry_point.is_empty());
    assert_eq!((w.container.user.as_ref(), w.container.stop_timeout), (None, Some(20)));
    assert!(w.container.init_process_enabled && !w.container.readonly_root_filesystem);
    assert_eq!(w.container.ulimits.len(), 2);
    assert_eq!(w.container.docker_labels.len(), 2);
    assert_eq!((&w.runtime_platform, w.ephemeral_storage), (&None, None));
}

#[test]
fn the_nysa_dialect_takes_the_keys_too() {
    // Without `version:`: like the other extensions, the keys are additive.
    let text =
        "services:\n  - web:\n      image: nginx\n      command: [a]\n      runtime_platform: {os_family: linux}\n";
    let d = load(text, "staging").unwrap_or_else(|e| panic!("{e}"));
    let td = &d.services["web"].task_definition;
    assert_eq!(td.container.command, ["a"]);
    assert_eq!(
        td.runtime_platform,
        Some(RuntimePlatform { cpu_architecture: "X86_64".into(), os_family: "LINUX".into() })
    );
}

#[test]
fn combinations_ecs_refuses_are_reported_with_their_place() {
    let text = r#"
vpc:
  id: vpc-0a1b2c3d
  subnets: {private: [subnet-0000001a]}
services:
  - ec2:
      image: nginx
      command: []
      working_directory: srv
      ephemeral_storage: 30
      ulimits:
        - {name: nofile, soft: 10, hard: 5}
        - {name: nofile, soft: 1, hard: 1}
  - gate:
      image: nginx
      launch_type: fargate
      cpu: 256
      memory: 512
      stop_timeout: 121
      ephemeral_storage: 20
  - win:
      image: mcr.microsoft.com/windows/servercore:ltsc2022
      launch_type: fargate
      cpu: 512
      memory: 1024
      user: app
      readonly_root_filesystem: true
      init_process_enabled: true
      ulimits: [{name: nofile, soft: 1, hard: 1}]
      runtime_platform: {cpu_architecture: arm64, os_family: windows_server_2022_core}
  - winhost:
      image: mcr.microsoft.com/windows/servercore:ltsc2022
      runtime_platform: {os_family: windows_server_2019_full}
"#;
    insta::assert_snapshot!("container_combinations", errors(text));
}

#[test]
fn unknown_ulimit_names_and_architectures_are_structural_errors() {
    let text = "services:\n  - web:\n      image: nginx\n      ulimits: [{name: nofiles, soft: 1, hard: 1}]\n      runtime_platform: {cpu_architecture: amd64}\n";
    insta::assert_snapshot!("container_unknown_names", errors(text));
}
