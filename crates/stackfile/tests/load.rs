//! End-to-end behaviour of `load` and `validate`: the normalised state of complete
//! stackfiles (pinned as snapshots), the shipped examples, and located diagnostics.

use std::path::PathBuf;

use bosun_stackfile::fixtures::{self, Prerequisites};
use bosun_stackfile::{Desired, LaunchType, Scheme, ServiceKind, load, validate};

fn stackfiles_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../stackfiles")
}

/// The ids the load snapshots were recorded with. They differ from
/// [`Prerequisites::fake`] on purpose: every placeholder has its own id, so a snapshot
/// shows that each one lands where the stackfile put it, and these snapshots stay
/// byte-for-byte what they were before the fixtures were shared.
fn snapshot_ids() -> Prerequisites {
    Prerequisites {
        vpc_id: "vpc-0123abcd".into(),
        public_subnets: ["subnet-0a0a0a0a".into(), "subnet-0b0b0b0b".into()],
        private_subnets: ["subnet-0c0c0c0c".into(), "subnet-0d0d0d0d".into()],
        public_sg: "sg-0e0e0e0e".into(),
        private_sg: "sg-0f0f0f0f".into(),
        zone_id: "Z0123456789ABCDEFGHIJ".into(),
    }
}

fn example(name: &str) -> String {
    snapshot_ids().fill(fixtures::example(name))
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name))
        .expect("fixture")
}

fn load_ok(source: &str, cluster: &str) -> Desired {
    load(source, cluster).unwrap_or_else(|d| panic!("stackfile should load:\n{d}"))
}

fn errors(source: &str, cluster: &str) -> String {
    match load(source, cluster) {
        Ok(_) => panic!("stackfile should not load"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn every_shipped_example_loads() {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(stackfiles_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yml") {
            continue;
        }
        let raw = std::fs::read_to_string(&path).unwrap();
        // `bosun validate` works on the file as shipped, placeholders and all.
        validate(&raw).unwrap_or_else(|d| panic!("{}:\n{d}", path.display()));
        load(&Prerequisites::fake().fill(&raw), "demo").unwrap_or_else(|d| panic!("{}:\n{d}", path.display()));
        seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    // Every shipped example is a fixture of the other crates' tests too.
    seen.sort();
    assert_eq!(seen, fixtures::EXAMPLES);
}

#[test]
fn demo_example_normalises() {
    let desired = load_ok(&example("demo.yml"), "demo");
    assert_eq!(desired.services.len(), 3);
    let web = &desired.services["web"];
    assert_eq!(web.task_definition.network_mode, "bridge");
    assert!(desired.load_balancers.contains_key("demo-web-lb"));
    assert_eq!(web.dns.as_ref().unwrap().name, "www.demo.example.com.");
    let users = &desired.services["users"];
    assert_eq!(users.task_definition.network_mode, "awsvpc");
    assert_eq!(users.discovery.as_ref().unwrap().name, "users");
    assert_eq!(desired.services["mailer"].task_definition.network_mode, "host");
    insta::assert_yaml_snapshot!("demo", desired);
}

#[test]
fn nysa_full_stackfile_normalises() {
    let desired = load_ok(&fixture("nysa-full.yml"), "staging");
    let fe = &desired.services["frontend"];
    let env = &fe.task_definition.container.environment;
    // Values are the scalar's text; service values override defaults.
    assert_eq!(env["WORKERS"], "4");
    assert_eq!(env["RATIO"], "1.0");
    assert_eq!(env["ZIP"], "010");
    assert_eq!(env["DEBUG"], "true");
    assert_eq!(env["EMPTY"], "");
    assert_eq!(env["FEATURE_FLAG"], "on");
    assert_eq!(env["ENVIRONMENT"], "staging");
    let lb = &desired.load_balancers["staging-frontend-pub-lb"];
    assert_eq!(lb.scheme, Scheme::InternetFacing);
    assert_eq!(lb.subnets, vec!["subnet-0b000001", "subnet-0b000002"]);
    let dns = fe.dns.as_ref().unwrap();
    assert_eq!((dns.zone_id.as_str(), dns.name.as_str()), ("Z0123456789ABC", "www.staging.example.com."));
    // The syslog service gets none of the awslogs options.
    let api_log = desired.services["api"].task_definition.container.log_configuration.as_ref().unwrap();
    assert_eq!(api_log.driver, "syslog");
    assert_eq!(api_log.options.len(), 1);
    // The task inherits the cluster's driver and merges its options.
    let batch = &desired.services["batch"];
    assert_eq!(batch.kind, ServiceKind::Task);
    let batch_log = batch.task_definition.container.log_configuration.as_ref().unwrap();
    assert_eq!(batch_log.options["awslogs-group"], "/ecs/staging");
    assert_eq!(batch_log.options["awslogs-stream-prefix"], "batch");
    insta::assert_yaml_snapshot!("nysa_full", desired);
}

#[test]
fn fargate_shared_alb_normalises() {
    let desired = load_ok(&example("fargate.yml"), "demo");
    let api = &desired.services["api"];
    assert_eq!(api.launch_type, LaunchType::Fargate);
    assert_eq!(api.task_definition.cpu.as_deref(), Some("512"));
    assert_eq!(api.task_definition.memory.as_deref(), Some("1024"));
    assert_eq!(api.task_definition.container.memory, None);
    assert_eq!(api.rules[0].load_balancer, "demo-edge");
    assert_eq!(api.target_group.as_ref().unwrap().name, "demo-api-tg");
    assert_eq!(desired.services["admin"].task_definition.cpu.as_deref(), Some("256"));
    insta::assert_yaml_snapshot!("fargate", desired);
}

#[test]
fn hooks_normalise() {
    let desired = load_ok(&example("hooks.yml"), "demo");
    let hooks = &desired.services["app"].hooks;
    assert_eq!(hooks.pre[0].command, vec!["python", "-c", "print('migrating')"]);
    assert_eq!(hooks.post[0].command[..2], ["sh", "-c"]);
    insta::assert_yaml_snapshot!("hooks", desired);
}

#[test]
fn bad_stackfile_reports_every_error_in_document_order() {
    let rendered = errors(&fixture("bad.yml"), "staging");
    insta::assert_snapshot!("bad_diagnostics", rendered);
}

#[test]
fn validate_skips_only_cluster_dependent_name_checks() {
    let src = "services:\n  - a-long-service-name:\n      image: nginx\n      ports: [80]\n      elb:\n        type: public\n        ports: {public: 80, container: 80}\nvpc:\n  id: vpc-1\n  subnets:\n    public: [s-1, s-2]\n";
    assert_eq!(validate(src), Ok(()));
    assert!(load(src, "dev").is_ok());
    let err = errors(src, "production-eu-west-1");
    assert!(err.contains("5:7: services[0].a-long-service-name.elb: the ALB and target group name"), "{err}");
    assert!(err.contains("production-eu-west-1-a-long-service-name-lb"), "{err}");
}

#[test]
fn invalid_cluster_name_is_reported_without_a_position() {
    let err = errors("services: []\n", "bad name");
    assert_eq!(err, "cluster: cluster name `bad name` must be 1-255 letters, digits, hyphens or underscores");
}

#[test]
fn dialects() {
    let map = "services:\n  web:\n    image: nginx\n";
    assert_eq!(
        errors(map, "c"),
        "1:1: services: `services` as a mapping needs `version: 1`; the nysa dialect takes a list of `- name: {...}` entries"
    );
    assert!(load(&format!("version: 1\n{map}"), "c").is_ok());
    assert_eq!(
        errors("version: 2\nservices: []\n", "c"),
        "1:10: version: unsupported version 2; use `version: 1`, or omit it for the nysa dialect"
    );
}

#[test]
fn yaml_syntax_errors_and_duplicate_keys_are_located() {
    let err = errors("services:\n  - web:\n      image: [nginx\n", "c");
    assert!(err.starts_with("4:1: YAML syntax error") || err.contains("YAML syntax error"), "{err}");
    let err = errors("version: 1\nservices:\n  web:\n    image: a\n  web:\n    image: b\n", "c");
    assert_eq!(err, "5:3: services.web: duplicate key `web` (first defined on line 3)");
}

#[test]
fn host_mode_port_mismatch_hints_at_bridge() {
    let err = errors("services:\n  - web:\n      image: nginx\n      ports: [\"8080:80\"]\n", "c");
    assert!(err.starts_with("4:15: services[0].web.ports[0]: in host network mode"), "{err}");
    assert!(err.contains("network_mode: bridge"), "{err}");
    let ok = load_ok(
        "services:\n  - web:\n      image: nginx\n      network_mode: bridge\n      ports: [\"8080:80\"]\n",
        "c",
    );
    let pm = &ok.services["web"].task_definition.container.port_mappings[0];
    assert_eq!((pm.container_port, pm.host_port), (80, Some(8080)));
}

#[test]
fn ignore_desired_count_leaves_the_count_to_others() {
    let d = load_ok(
        "services:\n  - web:\n      image: nginx\n      desired_count: 4\n      ignore: [desired_count]\n",
        "c",
    );
    assert_eq!(d.services["web"].desired_count, None);
    assert_eq!(d.services["web"].initial_count, 4);
    let err = errors("services:\n  - web:\n      image: nginx\n      ignore: [image]\n", "c");
    assert_eq!(err, "4:16: services[0].web.ignore[0]: expected one of `desired_count`, found string \"image\"");
}

#[test]
fn json_schema_describes_the_syntax_for_editors() {
    let schema = bosun_stackfile::json_schema();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert!(schema["$id"].as_str().unwrap().ends_with("stackfile.json"));
    assert_eq!(schema["title"], "bosun stackfile");
    assert_eq!(schema["additionalProperties"], false);
    let service = &schema["$defs"]["RawService"];
    assert_eq!(service["required"], serde_json::json!(["image"]));
    assert!(service["properties"]["image"]["description"].as_str().unwrap().contains("Container image"));
    for key in ["version", "vpc", "logging", "service_discovery", "defaults", "prune", "load_balancers", "services"] {
        assert!(schema["properties"][key]["description"].is_string(), "{key} has no description");
    }
}

#[test]
fn more_rules_are_located() {
    let rendered = errors(&fixture("bad-more.yml"), "staging");
    insta::assert_snapshot!("bad_more_diagnostics", rendered);
}

#[test]
fn validate_and_load_agree_on_structural_and_semantic_errors() {
    let bad = fixture("bad.yml");
    let from_validate = validate(&bad).unwrap_err().to_string();
    let from_load = errors(&bad, "staging");
    // load adds only the cluster-dependent name check.
    let extra: Vec<&str> = from_load.lines().filter(|l| !from_validate.lines().any(|v| v == *l)).collect();
    assert_eq!(extra.len(), 1, "{extra:?}");
    assert!(extra[0].contains("staging-a-very-long-service-name-external-lb"), "{extra:?}");
}

#[test]
fn misspelt_enum_values_get_a_suggestion() {
    let err = errors("services:\n  - web:\n      image: nginx\n      launch_type: fargat\n", "c");
    assert_eq!(
        err,
        "4:20: services[0].web.launch_type: expected one of `ec2`, `fargate`, found string \"fargat\"; did you mean `fargate`?"
    );
    let err = errors("prune: yes\n", "c");
    assert_eq!(err, "1:8: prune: expected a boolean (`true` or `false` only), found string \"yes\"");
}

#[test]
fn drift_and_notifications_are_read_and_urls_checked_without_echoing_them() {
    let d = load_ok("services:\n  - web:\n      image: nginx\n", "c");
    assert_eq!(d.drift, bosun_stackfile::Drift::Heal);
    assert!(d.notifications.is_empty());

    let d = load_ok(
        "drift: report\nnotifications:\n  slack_webhook: https://hooks.slack.com/services/T/B/x\n  webhook: http://10.0.0.1:9000/bosun\nservices:\n  - web:\n      image: nginx\n",
        "c",
    );
    assert_eq!(d.drift, bosun_stackfile::Drift::Report);
    assert_eq!(d.notifications.slack_webhook.as_deref(), Some("https://hooks.slack.com/services/T/B/x"));
    assert_eq!(d.notifications.webhook.as_deref(), Some("http://10.0.0.1:9000/bosun"));

    let err = errors(
        "drift: fix\nnotifications:\n  webhook: hooks.example/secret-token\nservices:\n  - web:\n      image: nginx\n",
        "c",
    );
    assert!(err.contains("1:8: drift: expected one of `heal`, `report`"), "{err}");
    assert!(err.contains("3:12: notifications.webhook: must be an http:// or https:// URL"), "{err}");
    assert!(!err.contains("secret-token"), "a webhook URL is a credential: {err}");
}

#[test]
fn aws_names_the_region_and_role_of_the_cluster() {
    let source = "version: 1\naws:\n  region: eu-west-1\n  role_arn: arn:aws:iam::210987654321:role/ops/bosun\n  external_id: bosun-prod\nservices:\n  w:\n    image: busybox\n    memory: 64\n";
    let desired = load_ok(source, "c");
    assert_eq!(desired.aws.region.as_deref(), Some("eu-west-1"));
    assert_eq!(desired.aws.account(), Some("210987654321"));
    assert_eq!(desired.aws.external_id.as_deref(), Some("bosun-prod"));
    assert!(!desired.aws.is_home());
    let home = load_ok("version: 1\nservices:\n  w:\n    image: busybox\n    memory: 64\n", "c");
    assert!(home.aws.is_home() && home.aws.account().is_none());
}

#[test]
fn aws_values_are_checked_where_they_are_written() {
    let source = "version: 1\naws:\n  region: Europe\n  role_arn: arn:aws:iam::12345:user/bosun\nservices:\n  w:\n    image: busybox\n    memory: 64\n";
    insta::assert_snapshot!(errors(source, "c"), @r"
    3:11: aws.region: `Europe` is not an AWS region name (like `eu-west-1`)
    4:13: aws.role_arn: must be an IAM role ARN: arn:aws:iam::123456789012:role/NAME
    ");
    let orphan = "version: 1\naws:\n  external_id: 'x y'\nservices:\n  w:\n    image: busybox\n    memory: 64\n";
    insta::assert_snapshot!(errors(orphan, "c"), @r"
    3:16: aws.external_id: an external id is only sent when assuming a role: set `role_arn`
    3:16: aws.external_id: may contain only letters, digits and + = , . @ : / - _
    ");
}
