//! `logging.create_group` and `retention_days`: the groups they ask for, inherited as the
//! driver's options are, kept out of the task definition, and the combinations refused.

use bosun_stackfile::{fixtures, load, spec_hash};

fn demo() -> String {
    fixtures::Prerequisites::fake().fill(fixtures::example("demo.yml"))
}

fn errors(source: &str) -> String {
    match load(source, "staging") {
        Ok(_) => panic!("stackfile should not load:\n{source}"),
        Err(d) => d.to_string(),
    }
}

const TOP: &str = "    awslogs-stream-prefix: demo\n";

#[test]
fn a_cluster_wide_group_is_created_for_every_service_and_changes_no_task_definition() {
    let plain = load(&demo(), "staging").expect("valid");
    assert!(plain.log_groups.is_empty());
    let text = demo().replacen(TOP, &format!("{TOP}  create_group: true\n  retention_days: 30\n"), 1);
    let d = load(&text, "staging").unwrap_or_else(|d| panic!("valid: {d}"));
    let g = &d.log_groups["/ecs/demo"];
    assert_eq!((g.name.as_str(), g.retention_days), ("/ecs/demo", Some(30)));
    assert_eq!(g.services, ["mailer", "users", "web"]);
    for (name, svc) in &d.services {
        assert_eq!(spec_hash(&svc.task_definition), spec_hash(&plain.services[name].task_definition), "{name}");
    }
}

/// The end of mailer's own `logging` block in demo.yml.
const MAILER: &str = "          awslogs-stream-prefix: mailer\n";

#[test]
fn a_service_may_ask_for_its_own_group() {
    let text = demo().replacen(
        MAILER,
        &format!(
            "{MAILER}          awslogs-group: /ecs/mailer\n        create_group: true\n        retention_days: 7\n"
        ),
        1,
    );
    let d = load(&text, "staging").unwrap_or_else(|d| panic!("valid: {d}"));
    assert_eq!(d.log_groups.keys().collect::<Vec<_>>(), ["/ecs/mailer"]);
    assert_eq!(d.log_groups["/ecs/mailer"].retention_days, Some(7));
}

#[test]
fn what_cloudwatch_logs_refuses_is_reported_once_where_it_is_written() {
    let e = errors(&demo().replacen(TOP, &format!("{TOP}  create_group: true\n  retention_days: 10\n"), 1));
    assert!(e.contains("logging.retention_days: retention_days 10 is not one CloudWatch Logs keeps"), "{e}");
    assert_eq!(e.matches("retention_days 10").count(), 1, "reported once, not per service:\n{e}");
    let e = errors(&demo().replacen(TOP, &format!("{TOP}  retention_days: 30\n"), 1));
    assert!(e.contains("`retention_days` needs `create_group: true`"), "{e}");
    // Two services that share a group must agree on its retention.
    let text = demo().replacen(TOP, &format!("{TOP}  create_group: true\n  retention_days: 30\n"), 1).replacen(
        MAILER,
        &format!("{MAILER}        retention_days: 7\n"),
        1,
    );
    let e = errors(&text);
    assert!(e.contains("services[2].mailer.logging.retention_days: log group /ecs/demo is created for service"), "{e}");
    // Another driver has no group to create.
    let text = demo().replacen(
        "        log_driver: awslogs\n        options:\n          awslogs-stream-prefix: mailer\n",
        "        log_driver: syslog\n        create_group: true\n",
        1,
    );
    let e = errors(&text);
    assert!(e.contains("`create_group` creates the group of the `awslogs` log driver"), "{e}");
}
