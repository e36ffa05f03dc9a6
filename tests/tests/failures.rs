//! Applies that fail or are refused: failed rollouts, failed hooks, AWS errors
//! part-way, invalid stackfiles, stale plans, and nobody to confirm.

use bosun_tests::proxy::Faults;
use bosun_tests::{CLUSTER, Env, Run, Stackfile};

fn demo() -> Stackfile {
    Stackfile::example("demo.yml")
}

/// Nothing of the stack exists in AWS: no cluster, no task definition, no ALB.
async fn assert_nothing_created(env: &Env) {
    let clusters = env.ecs.list_clusters().send().await.expect("ListClusters");
    assert!(clusters.cluster_arns().is_empty(), "no cluster: {:?}", clusters.cluster_arns());
    let tds = env.ecs.list_task_definitions().send().await.expect("ListTaskDefinitions");
    assert!(tds.task_definition_arns().is_empty(), "no task definition: {:?}", tds.task_definition_arns());
    assert!(env.load_balancers().await.is_empty(), "no load balancer");
}

#[tokio::test]
async fn a_failing_image_is_rolled_back_by_the_circuit_breaker() {
    let env = Env::start().await;
    env.converge(&demo()).await;
    let before = env.running_revision("web").await;
    let broken = demo().replace("image: public.ecr.aws/nginx/nginx:1.27", "image: public.ecr.aws/nginx/nginx:fail");

    let apply = env.apply(&broken, &[]).await;
    apply.expect_code(1).expect_stderr("service web: rolled back by the circuit breaker");
    assert_eq!(env.running_revision("web").await, before, "ECS rolled web back to the revision it ran");
    assert_eq!(env.revisions("demo-web").await.len(), 2, "the failed revision was registered");
    // bosun does not mistake the rolled-back service for a converged one.
    env.plan(&broken, &[]).await.expect_code(2).expect_lines(&["~ service web"]);
}

#[tokio::test]
async fn a_failing_pre_deploy_hook_stops_the_service_change() {
    let env = Env::start().await;
    let hooks = Stackfile::example("hooks.yml");
    let failing_hook = |sf: &Stackfile| {
        sf.replace(r#"command: ["python", "-c", "print('migrating')"]"#, r#"command: ["sh", "-c", "exit 3"]"#)
    };
    let expect_hook_failure = |run: &Run| {
        run.expect_code(1)
            .expect_stderr("pre-deploy hook migrate of service app failed")
            .expect_stderr("exited with code 3");
        assert_eq!(run.stats().calls("UpdateService") + run.stats().calls("CreateService"), 0, "{run}");
    };

    // A new service is not created when its pre-deploy hook fails...
    let apply = env.apply(&failing_hook(&hooks), &[]).await;
    expect_hook_failure(&apply);
    assert!(env.find_service("app").await.is_none(), "the service was not created");

    // ...and an existing one keeps running its revision.
    env.converge(&hooks).await;
    assert_eq!(env.running_revision("app").await, "demo-app:1");
    let bumped = failing_hook(&hooks).replace("python:3.12-slim", "python:3.13-slim");
    let apply = env.apply(&bumped, &[]).await;
    expect_hook_failure(&apply);
    apply.expect_stderr("services were not changed after the failed hook");
    let app = env.service("app").await;
    assert_eq!(env.running_revision("app").await, "demo-app:1", "the service still runs the previous revision");
    assert_eq!(app.deployments().len(), 1, "no deployment was started: {:?}", app.deployments());

    // The bumped revision was registered before the hook failed: once the hook passes,
    // the next apply deploys that revision instead of registering the same spec again.
    assert_eq!(env.revisions("demo-app").await.len(), 2);
    let apply = env.converge(&hooks.replace("python:3.12-slim", "python:3.13-slim")).await;
    assert_eq!(apply.stats().calls("RegisterTaskDefinition"), 0, "{apply}");
    assert_eq!(env.running_revision("app").await, "demo-app:2");
    assert_eq!(env.revisions("demo-app").await.len(), 2, "no duplicate revision");
}

#[tokio::test]
async fn an_apply_that_failed_part_way_converges_without_duplicates() {
    let env = Env::start().await;
    // CreateLoadBalancer is refused once (the fault proxy answers it with the service's
    // own access-denied error, which no retry gets past), after the cluster, namespace,
    // Cloud Map service and target group were created. (A subnet that does not exist no
    // longer gets this far: preflight reports it before any change.)
    let proxy = env
        .proxy(
            Faults::rate(1.0)
                .kinds(&["denied"])
                .operations(&["elasticloadbalancing:CreateLoadBalancer"])
                .limit_per_operation(1),
        )
        .await;
    env.route_through(&proxy);
    let failed = env.apply(&demo(), &[]).await;
    failed
        .expect_code(1)
        .expect_stderr("CreateLoadBalancer on load balancer demo-web-lb failed: AccessDenied")
        .expect_stderr("already changed: create cluster demo, create namespace demo.sd, create discovery service users, create target group demo-web-lb;");
    assert_eq!(env.target_groups().await.len(), 1, "the target group was created before the failure");
    assert!(env.load_balancers().await.is_empty(), "the load balancer was not");

    env.converge(&demo()).await;

    let lbs = env.load_balancers().await;
    assert_eq!(lbs.len(), 1, "one load balancer: {lbs:?}");
    assert_eq!(env.target_groups().await.len(), 1, "one target group");
    let lb_arn = lbs[0].load_balancer_arn().expect("arn");
    let listeners = env.elb.describe_listeners().load_balancer_arn(lb_arn).send().await.expect("DescribeListeners");
    assert_eq!(listeners.listeners().len(), 1, "one listener");
    let records = env.records("www.demo.example.com.").await;
    let types: Vec<&str> = records.iter().map(|r| r.r#type().as_str()).collect();
    assert_eq!(types, vec!["A", "TXT"], "one alias and one ownership record");
    let disco = env.discovery.list_services().send().await.expect("ListServices (Cloud Map)");
    assert_eq!(disco.services().len(), 1, "one Cloud Map service: {disco:?}");
    let namespaces = env.discovery.list_namespaces().send().await.expect("ListNamespaces");
    assert_eq!(namespaces.namespaces().len(), 1, "one namespace: {namespaces:?}");
    assert_eq!(env.active_services().await, vec!["mailer", "users", "web"]);
    for family in ["demo-web", "demo-users", "demo-mailer"] {
        assert_eq!(env.revisions(family).await.len(), 1, "one revision of {family}");
    }
    env.assert_converged(&demo()).await;
}

#[tokio::test]
async fn an_invalid_stackfile_is_rejected_with_every_error_and_no_aws_change() {
    let env = Env::start().await;
    let invalid = demo()
        .replace("desired_count: 2", "desired_count: -2")
        .replace("ttl: 30", "ttl: soon")
        .replace("      memory: 128\n", "      memory: 128\n      replicas: 2\n");
    let path = env.write(&invalid);
    let path = path.to_str().expect("UTF-8 path");

    let validate = env.bosun(&["validate", path]).await;
    let apply = env.bosun(&["apply", "--cluster", CLUSTER, "-f", path, "--auto-approve"]).await;
    for run in [&validate, &apply] {
        run.expect_code(1);
        let diagnostics = diagnostics(run, path);
        assert!(diagnostics.len() >= 3, "every error is reported: {run}");
        for field in
            ["services[0].web.desired_count", "services[1].users.dns_discovery.ttl", "services[2].mailer.replicas"]
        {
            assert!(diagnostics.iter().any(|(_, _, p, _)| p == field), "no diagnostic for {field}: {run}");
        }
    }
    assert_nothing_created(&env).await;
}

/// `FILE:LINE:COL: path: message` lines of stderr, as (line, column, path, message).
fn diagnostics(run: &Run, file: &str) -> Vec<(u32, u32, String, String)> {
    run.stderr
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(file)?.strip_prefix(':')?;
            let (line, rest) = rest.split_once(':')?;
            let (col, rest) = rest.split_once(": ")?;
            let (path, message) = rest.split_once(": ")?;
            Some((line.parse().ok()?, col.parse().ok()?, path.to_owned(), message.to_owned()))
        })
        .filter(|(line, col, _, message)| *line > 0 && *col > 0 && !message.is_empty())
        .collect()
}

#[tokio::test]
async fn apply_refuses_a_plan_that_changed_since_it_was_reviewed() {
    let env = Env::start().await;
    env.converge(&demo()).await;
    let reviewed = demo().replace("desired_count: 1", "desired_count: 3");
    let hash = env.plan(&reviewed, &[]).await.expect_code(2).plan_hash();

    let edited_since = demo().replace("desired_count: 1", "desired_count: 4");
    let refused = env.apply(&edited_since, &["--plan-hash", &hash]).await;
    refused.expect_code(1).expect_stderr("the plan changed since it was reviewed");
    assert_eq!(refused.stats().mutating, 0, "{refused}");
    assert_eq!(env.service("users").await.desired_count(), 1);

    env.apply(&reviewed, &["--plan-hash", &hash]).await.expect_code(0);
    assert_eq!(env.service("users").await.desired_count(), 3);
}

#[tokio::test]
async fn apply_without_auto_approve_refuses_when_stdin_is_not_a_terminal() {
    let env = Env::start().await;
    let path = env.write(&demo());
    let run = env.bosun(&["apply", "--cluster", CLUSTER, "-f", path.to_str().expect("UTF-8 path"), "--stats"]).await;
    run.expect_code(1).expect_stderr("refusing to apply: stdin is not a terminal");
    assert_eq!(run.stats().mutating, 0, "{run}");
    assert_nothing_created(&env).await;
}
