//! `logging.create_group` (issue 15): the group is created with bosun's tags and its
//! retention, read back through the SDK; a second apply changes nothing; retention
//! drift is shown and healed; a group bosun did not create is never changed; a stack
//! without `create_group` makes no CloudWatch Logs call.

use std::collections::HashMap;

use bosun_tests::{CLUSTER, Env, Stackfile};

const GROUP: &str = "/bosun/app";

/// A worker that logs to a group bosun creates, kept 14 days.
const LOGGED: &str = r#"
logging:
  log_driver: awslogs
  options:
    awslogs-group: /bosun/app
    awslogs-region: us-east-1
    awslogs-stream-prefix: app
  create_group: true
  retention_days: 14
services:
  - worker:
      image: public.ecr.aws/docker/library/busybox:1.36
      memory: 128
"#;

fn logged() -> Stackfile {
    Stackfile::from_text("logs.yml", LOGGED)
}

fn client(env: &Env) -> aws_sdk_cloudwatchlogs::Client {
    aws_sdk_cloudwatchlogs::Client::new(&env.sdk)
}

/// The group's retention and tags, `None` when it does not exist.
async fn group(env: &Env) -> Option<(Option<i32>, HashMap<String, String>)> {
    let out = client(env).describe_log_groups().log_group_name_prefix(GROUP).send().await.expect("DescribeLogGroups");
    let g = out.log_groups().iter().find(|g| g.log_group_name() == Some(GROUP))?.clone();
    let arn = g.log_group_arn().expect("an ARN");
    let tags = client(env).list_tags_for_resource().resource_arn(arn).send().await.expect("ListTagsForResource");
    Some((g.retention_in_days(), tags.tags().cloned().unwrap_or_default()))
}

async fn put_retention(env: &Env, days: i32) {
    client(env)
        .put_retention_policy()
        .log_group_name(GROUP)
        .retention_in_days(days)
        .send()
        .await
        .expect("PutRetentionPolicy");
}

#[tokio::test]
async fn the_group_is_created_with_tags_and_retention_and_converges() {
    let env = Env::start().await;
    let run = env.converge(&logged()).await;
    assert_eq!(run.stats().calls("CreateLogGroup"), 1, "{run}");
    let (retention, tags) = group(&env).await.expect("the group exists");
    assert_eq!(retention, Some(14));
    assert_eq!(tags.get("bosun:managed-by").map(String::as_str), Some("bosun"), "{tags:?}");
    assert_eq!(tags.get("bosun:cluster").map(String::as_str), Some(CLUSTER), "{tags:?}");
    // The group is not part of the task definition: its options are as written.
    let td = env.task_definition(env.service("worker").await.task_definition().expect("a td")).await;
    let log = td.container_definitions()[0].log_configuration().expect("a log configuration");
    assert_eq!(log.options().and_then(|o| o.get("awslogs-group")).map(String::as_str), Some(GROUP));
    assert!(log.options().is_some_and(|o| !o.contains_key("awslogs-create-group")));
    env.assert_converged(&logged()).await;
}

#[tokio::test]
async fn retention_drift_is_shown_and_healed() {
    let env = Env::start().await;
    env.converge(&logged()).await;
    put_retention(&env, 3).await;

    let plan = env.plan(&logged(), &[]).await;
    plan.expect_code(2).expect_lines(&[&format!("~ log group {GROUP}")]);
    assert!(plan.stdout.contains("    retention_days: 3 days -> 14 days"), "{plan}");
    let apply = env.converge(&logged()).await;
    assert_eq!(apply.stats().calls("PutRetentionPolicy"), 1, "{apply}");
    assert_eq!(apply.stats().mutating, 1, "{apply}");
    assert_eq!(group(&env).await.expect("the group").0, Some(14));
    env.assert_converged(&logged()).await;
}

#[tokio::test]
async fn a_group_bosun_did_not_create_is_never_changed() {
    let env = Env::start().await;
    client(&env).create_log_group().log_group_name(GROUP).send().await.expect("CreateLogGroup");
    put_retention(&env, 5).await;

    let plan = env.plan(&logged(), &[]).await;
    assert!(plan.stdout.contains(&format!("log group {GROUP}")), "{plan}");
    assert!(plan.stdout.contains("was not created by bosun"), "{plan}");
    let apply = env.apply(&logged(), &[]).await;
    assert_ne!(apply.code, 0, "{apply}");
    let (retention, tags) = group(&env).await.expect("still there");
    assert_eq!(retention, Some(5));
    assert!(tags.is_empty(), "{tags:?}");

    // Without `create_group` the service logs to it as it is, and bosun reads no group.
    let plain = Stackfile::from_text("logs.yml", &LOGGED.replace("  create_group: true\n  retention_days: 14\n", ""));
    let run = env.converge(&plain).await;
    let logs_calls: u64 =
        run.stats().calls.iter().filter(|((service, _), _)| service == "CloudWatch Logs").map(|(_, n)| n).sum();
    assert_eq!(logs_calls, 0, "{run}");
    assert_eq!(group(&env).await.expect("still there").0, Some(5));
}
