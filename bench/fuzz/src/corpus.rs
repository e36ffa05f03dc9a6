//! The seed inputs: the example stackfiles (with their placeholders, and filled in),
//! the stackfile crate's test fixtures, and small stackfiles for the dialects and
//! keys the examples do not use.

use bosun_stackfile::fixtures::{self, Prerequisites};

/// Stackfiles written for the fuzzer: the mapping dialect, every rarely used key, and
/// edge cases of the syntax.
const EXTRA: &[&str] = &[
    "version: 1\nservices:\n  web:\n    image: nginx:1.27\n    desired_count: 2\n  worker:\n    image: busybox:1.36\n    type: task\n",
    "services:\n  - web:\n      image: nginx:1.27\n      ports: [\"8080:80/tcp\", 53/udp]\n      network_mode: bridge\n      volumes: [\"data:/srv/data:/data:ro\"]\n      placement_strategy:\n        - type: spread\n          field: attribute:ecs.availability-zone\n      placement_constraints:\n        - type: memberOf\n          expression: attribute:ecs.instance-type =~ t3.*\n      healthcheck:\n        command: curl -f http://localhost/ || exit 1\n        interval: 10\n      deployment:\n        circuit_breaker: true\n        wait_timeout: 90s\n      ignore: [desired_count]\n      adopt: true\n      gpus: 1\n      privileged: true\n",
    "defaults:\n  memory: 512\n  cpu: 256\n  launch_type: fargate\n  environment:\n    A: 1\n    B: \"two\"\n  logging:\n    log_driver: awslogs\n    options:\n      awslogs-group: /ecs/x\nlogging:\n  log_driver: json-file\nservices:\n  - web:\n      image: nginx\n      secrets:\n        DB: arn:aws:ssm:eu-west-1:123456789012:parameter/db\n      task_execution_role_arn: arn:aws:iam::123456789012:role/exec\n",
    "drift: report\nprune: true\nnotifications:\n  slack_webhook: https://hooks.slack.com/services/x\n  webhook: http://127.0.0.1:9/hook\nservices: []\n",
    "{\"services\": [{\"web\": {\"image\": \"nginx:1.27\", \"environment\": [{\"A\": \"0123\"}, {\"B\": null}]}}]}\n",
    "---\n# explicit document\nservices:\n  - web:\n      image: nginx:1.27\n      hooks:\n        pre:\n          - name: migrate\n            command: [bin/migrate, --yes]\n            timeout: 5m\n        post:\n          - name: smoke\n            command: |\n              set -e\n              curl -f http://web/\n...\n",
];

/// Every seed input.
pub fn seeds() -> Vec<String> {
    let mut out = Vec::new();
    for name in fixtures::EXAMPLES {
        let raw = fixtures::example(name);
        out.push(raw.to_owned());
        out.push(Prerequisites::fake().fill(raw));
    }
    for fixture in [
        include_str!("../../../crates/stackfile/tests/fixtures/bad.yml"),
        include_str!("../../../crates/stackfile/tests/fixtures/bad-more.yml"),
        include_str!("../../../crates/stackfile/tests/fixtures/nysa-full.yml"),
    ] {
        out.push(fixture.to_owned());
    }
    out.extend(EXTRA.iter().map(|s| (*s).to_owned()));
    out
}

/// Keys the stackfile knows, for mutations that add a key somewhere.
pub const KEYS: &[&str] = &[
    "version",
    "vpc",
    "id",
    "subnets",
    "security_groups",
    "public",
    "private",
    "logging",
    "log_driver",
    "options",
    "service_discovery",
    "namespace",
    "defaults",
    "memory",
    "cpu",
    "launch_type",
    "environment",
    "healthcheck",
    "deployment",
    "deployment_configuration",
    "prune",
    "drift",
    "notifications",
    "load_balancers",
    "services",
    "image",
    "type",
    "desired_count",
    "secrets",
    "privileged",
    "ports",
    "volumes",
    "elb",
    "dns_discovery",
    "placement_strategy",
    "placement_constraints",
    "task_role_arn",
    "task_execution_role_arn",
    "gpus",
    "network_mode",
    "hooks",
    "ignore",
    "adopt",
    "routing",
    "name",
    "protocol",
    "certificates",
    "dns",
    "hosted_zone_id",
    "record_name",
    "listeners",
    "listener",
    "hosts",
    "paths",
    "priority",
    "container_port",
    "command",
    "timeout",
    "pre",
    "post",
    "wait_timeout",
    "circuit_breaker",
    "rollback",
    "ttl",
    "expression",
    "field",
    "matcher",
    "path",
    "interval_seconds",
];
