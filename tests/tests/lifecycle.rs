//! Creating a stack from nothing, the no-op apply, and changes that converge.

use std::collections::BTreeMap;

use bosun_tests::{CLUSTER, Env, Run, Stackfile, assert_tags_include, ecs_tags, ownership};

fn demo() -> Stackfile {
    Stackfile::example("demo.yml")
}

/// Env with demo.yml applied.
async fn demo_env() -> Env {
    let env = Env::start().await;
    env.converge(&demo()).await;
    env
}

#[tokio::test]
async fn creates_the_demo_stack_from_nothing() {
    let env = Env::start().await;
    let plan = env.plan(&demo(), &[]).await;
    plan.expect_code(2).expect_lines(&[
        "+ cluster demo",
        "+ namespace demo.sd",
        "+ discovery service users",
        "+ target group demo-web-lb",
        "+ load balancer demo-web-lb",
        "+ listener demo-web-lb:80",
        &format!("+ dns record www.demo.example.com. ({})", env.prereqs.zone_id),
        "+ task definition demo-web",
        "+ service web",
        "+ service users",
        "+ service mailer",
    ]);
    assert_eq!(plan.stats().mutating, 0, "plan made mutating calls: {plan}");

    env.converge(&demo()).await;

    // The cluster is tagged as bosun's.
    let clusters = env
        .ecs
        .describe_clusters()
        .clusters(CLUSTER)
        .include(aws_sdk_ecs::types::ClusterField::Tags)
        .send()
        .await
        .expect("DescribeClusters");
    let cluster = clusters.clusters().first().expect("the cluster exists");
    assert_eq!(cluster.status(), Some("ACTIVE"));
    assert_tags_include(&ecs_tags(cluster.tags()), &ownership(None), "cluster");

    // Services: desired counts, images, ownership and deployment tags, settled rollouts.
    for (name, count, image) in [
        ("web", 2, "public.ecr.aws/nginx/nginx:1.27"),
        ("users", 1, "public.ecr.aws/docker/library/httpd:2.4"),
        ("mailer", 1, "public.ecr.aws/docker/library/busybox:1.36"),
    ] {
        let svc = env.service(name).await;
        assert_eq!(svc.status(), Some("ACTIVE"), "service {name}");
        assert_eq!(svc.desired_count(), count, "desired count of {name}");
        let td_arn = svc.task_definition().expect("a task definition");
        let td = env.task_definition(td_arn).await;
        assert_eq!(td.family(), Some(format!("{CLUSTER}-{name}").as_str()));
        let container = td.container_definitions().first().expect("one container");
        assert_eq!(container.image(), Some(image), "image of {name}");
        let tags = ecs_tags(svc.tags());
        assert_tags_include(&tags, &ownership(Some(name)), &format!("service {name}"));
        assert!(tags.get("bosun:spec-hash").is_some_and(|h| !h.is_empty()), "service {name} has a spec hash: {tags:?}");
        assert_eq!(
            tags.get("bosun:task-definition").map(String::as_str),
            td_arn.rsplit('/').next(),
            "service {name} records the revision it runs"
        );
        let primary = svc.deployments().iter().find(|d| d.status() == Some("PRIMARY")).expect("a primary deployment");
        assert_eq!(
            primary.rollout_state(),
            Some(&aws_sdk_ecs::types::DeploymentRolloutState::Completed),
            "rollout of {name}"
        );
    }

    // One ALB, target group and listener for the one ALB service, all bosun's.
    let lbs = env.load_balancers().await;
    assert_eq!(lbs.len(), 1, "one load balancer: {lbs:?}");
    let lb = &lbs[0];
    assert_eq!(lb.load_balancer_name(), Some("demo-web-lb"));
    assert_eq!(lb.scheme(), Some(&aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::InternetFacing));
    let lb_arn = lb.load_balancer_arn().expect("arn");
    assert_tags_include(&env.elb_tags(lb_arn).await, &ownership(Some("web")), "load balancer");
    let tgs = env.target_groups().await;
    assert_eq!(tgs.len(), 1, "one target group: {tgs:?}");
    let tg = &tgs[0];
    assert_eq!(tg.target_group_name(), Some("demo-web-lb"));
    assert_eq!(tg.port(), Some(8080));
    assert_eq!(tg.health_check_path(), Some("/"));
    assert_eq!(tg.matcher().and_then(|m| m.http_code()), Some("200-399"));
    let tg_arn = tg.target_group_arn().expect("arn");
    assert_tags_include(&env.elb_tags(tg_arn).await, &ownership(Some("web")), "target group");
    let listeners = env.elb.describe_listeners().load_balancer_arn(lb_arn).send().await.expect("DescribeListeners");
    assert_eq!(listeners.listeners().len(), 1, "one listener: {listeners:?}");
    let listener = &listeners.listeners()[0];
    assert_eq!(listener.port(), Some(80));
    assert_eq!(
        listener.default_actions().first().and_then(|a| a.target_group_arn()),
        Some(tg_arn),
        "listener forwards to the target group"
    );
    let web = env.service("web").await;
    let attached: Vec<_> =
        web.load_balancers().iter().map(|l| (l.target_group_arn(), l.container_name(), l.container_port())).collect();
    assert_eq!(attached, vec![(Some(tg_arn), Some("web"), Some(8080))], "web is attached to its target group");

    // The alias record points at the ALB, with bosun's ownership TXT beside it.
    let records = env.records("www.demo.example.com.").await;
    let alias = records.iter().find(|r| r.r#type() == &aws_sdk_route53::types::RrType::A).expect("an A record");
    let alias_target = alias.alias_target().expect("an alias").dns_name().trim_end_matches('.').to_ascii_lowercase();
    assert_eq!(alias_target, lb.dns_name().expect("dns name").trim_end_matches('.').to_ascii_lowercase());
    let txt =
        records.iter().find(|r| r.r#type() == &aws_sdk_route53::types::RrType::Txt).expect("a TXT ownership record");
    let txt_values: Vec<&str> = txt.resource_records().iter().map(|r| r.value()).collect();
    assert_eq!(txt_values, vec!["\"bosun:managed-by=bosun,bosun:cluster=demo,bosun:service=web\""]);

    // Cloud Map: the users service is registered in the namespace and used by ECS.
    let disco = env.discovery_services().await;
    let users_disco = disco.get("users").expect("a Cloud Map service users");
    let users = env.service("users").await;
    let registries: Vec<_> = users.service_registries().iter().map(|r| r.registry_arn()).collect();
    assert_eq!(registries, vec![users_disco.arn()]);
    let namespaces = env.discovery.list_namespaces().send().await.expect("ListNamespaces");
    assert!(namespaces.namespaces().iter().any(|n| n.name() == Some("demo.sd")), "namespace demo.sd: {namespaces:?}");
}

#[tokio::test]
async fn a_second_apply_changes_nothing_and_reads_little() {
    let env = demo_env().await;
    let plan = env.plan(&demo(), &[]).await;
    plan.expect_code(0).expect_lines(&["cluster demo: no changes; live state matches the stackfile."]);

    let apply = env.apply(&demo(), &[]).await;
    apply.expect_code(0);
    let stats = apply.stats();
    assert_eq!(stats.mutating, 0, "{apply}");
    assert!(stats.reads <= 15, "a no-op apply of demo.yml should need at most 15 reads, made {}: {apply}", stats.reads);
    assert_eq!(
        stats.calls("DescribeTaskDefinition"),
        0,
        "the spec-hash tags make task definitions unnecessary: {apply}"
    );
    assert!(stats.calls("DescribeServices") >= 1, "the per-operation counts are parsed: {apply}");
}

/// The running `family:revision` of each demo service.
async fn running_revisions(env: &Env) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    for name in ["web", "users", "mailer"] {
        out.insert(name, env.running_revision(name).await);
    }
    out
}

/// The plan of `changed` has exit code 2 and shows `lines`; applying it succeeds,
/// and afterwards there is nothing left to do. Returns the plan and the apply.
async fn change_converges(env: &Env, changed: &Stackfile, lines: &[&str]) -> (Run, Run) {
    let plan = env.plan(changed, &[]).await;
    plan.expect_code(2).expect_lines(lines);
    let apply = env.converge(changed).await;
    env.assert_converged(changed).await;
    (plan, apply)
}

#[tokio::test]
async fn an_image_bump_registers_a_revision_for_that_service_only() {
    let env = demo_env().await;
    let before = running_revisions(&env).await;
    let bumped = demo().replace("image: public.ecr.aws/nginx/nginx:1.27", "image: public.ecr.aws/nginx/nginx:1.28");

    let (plan, apply) = change_converges(
        &env,
        &bumped,
        &[
            "~ task definition demo-web",
            "~ service web",
            "    image: public.ecr.aws/nginx/nginx:1.27 -> public.ecr.aws/nginx/nginx:1.28",
        ],
    )
    .await;
    for other in
        ["~ service users", "~ service mailer", "~ task definition demo-users", "~ task definition demo-mailer"]
    {
        plan.expect_no_line_starting(other);
    }
    assert_eq!(apply.stats().calls("RegisterTaskDefinition"), 1, "{apply}");

    let after = running_revisions(&env).await;
    assert_eq!(after["web"], "demo-web:2");
    assert_eq!(
        (&after["users"], &after["mailer"]),
        (&before["users"], &before["mailer"]),
        "the other services keep their revisions"
    );
    let image = env.task_definition(&after["web"]).await.container_definitions()[0].image().map(str::to_owned);
    assert_eq!(image.as_deref(), Some("public.ecr.aws/nginx/nginx:1.28"));
    for (family, count) in [("demo-web", 2), ("demo-users", 1), ("demo-mailer", 1)] {
        assert_eq!(env.revisions(family).await.len(), count, "revisions of {family}");
    }
}

#[tokio::test]
async fn a_desired_count_change_registers_no_revision() {
    let env = demo_env().await;
    let scaled = demo().replace("desired_count: 1", "desired_count: 3");
    let (plan, apply) = change_converges(&env, &scaled, &["~ service users", "    desired_count: 1 -> 3"]).await;
    assert!(!plan.stdout.contains("task definition"), "no task definition in the plan: {plan}");
    assert_eq!(apply.stats().calls("RegisterTaskDefinition"), 0, "{apply}");

    let users = env.service("users").await;
    assert_eq!(users.desired_count(), 3);
    assert_eq!(env.running_revision("users").await, "demo-users:1");
    assert_eq!(env.revisions("demo-users").await.len(), 1);
}

#[tokio::test]
async fn an_environment_change_deploys_a_new_revision_without_showing_values() {
    let env = demo_env().await;
    let changed = demo().replace("USERS_URL: http://users.demo.sd:8080", "USERS_URL: http://users.demo.sd:9191");
    let plan = env.plan(&changed, &[]).await;
    plan.expect_code(2).expect_lines(&["~ task definition demo-web", "~ service web"]);
    // Only that the value changed: no digest a reader could check a guess against.
    for diff_line in ["-  env USERS_URL: (hidden)", "+  env USERS_URL: (value changed)"] {
        assert!(plan.stdout.lines().any(|l| l.trim_start() == diff_line), "no `{diff_line}` diff line: {plan}");
    }
    assert!(!plan.stdout.contains("users.demo.sd"), "environment values never appear in a plan: {plan}");

    change_converges(&env, &changed, &[]).await;
    let td = env.task_definition(&env.running_revision("web").await).await;
    let url = td.container_definitions()[0]
        .environment()
        .iter()
        .find(|kv| kv.name() == Some("USERS_URL"))
        .and_then(|kv| kv.value());
    assert_eq!(url, Some("http://users.demo.sd:9191"));
}

#[tokio::test]
async fn a_health_check_path_change_modifies_the_target_group_in_place() {
    let env = demo_env().await;
    let tg_before = env.target_groups().await[0].target_group_arn().map(str::to_owned);
    let changed = demo().replace("path: /\n", "path: /healthz\n");
    let (plan, _) =
        change_converges(&env, &changed, &["~ target group demo-web-lb", "    health_check.path: / -> /healthz"]).await;
    plan.expect_no_line_starting("~ service").expect_no_line_starting("~ task definition");

    let tgs = env.target_groups().await;
    assert_eq!(tgs.len(), 1, "{tgs:?}");
    assert_eq!(tgs[0].target_group_arn().map(str::to_owned), tg_before, "modified, not replaced");
    assert_eq!(tgs[0].health_check_path(), Some("/healthz"));
}

#[tokio::test]
async fn a_renamed_record_is_created_and_the_old_one_stays_an_orphan_until_pruned() {
    let env = demo_env().await;
    let zone = env.prereqs.zone_id.clone();
    let renamed = demo().replace("record_name: www.demo.example.com", "record_name: app.demo.example.com");
    let new_record = format!("+ dns record app.demo.example.com. ({zone})");
    let old_orphan = format!("  ? dns record www.demo.example.com. ({zone})");
    change_converges(&env, &renamed, &[&new_record, &old_orphan]).await;

    let lb_dns = env.load_balancers().await[0].dns_name().expect("dns name").to_ascii_lowercase();
    for name in ["app.demo.example.com.", "www.demo.example.com."] {
        let records = env.records(name).await;
        let alias = records
            .iter()
            .find_map(|r| r.alias_target())
            .map(|a| a.dns_name().trim_end_matches('.').to_ascii_lowercase());
        assert_eq!(alias.as_deref(), Some(lb_dns.as_str()), "{name} aliases the ALB: {records:?}");
    }
    env.plan(&renamed, &[]).await.expect_code(0).expect_lines(&[&old_orphan]);

    env.plan(&renamed, &["--prune", "true"])
        .await
        .expect_code(2)
        .expect_lines(&[&format!("- dns record www.demo.example.com. ({zone})")]);
    env.apply(&renamed, &["--prune", "true"]).await.expect_code(0);
    assert!(env.records("www.demo.example.com.").await.is_empty(), "the old A and TXT records are deleted");
    assert_eq!(env.records("app.demo.example.com.").await.len(), 2, "the new A and TXT records stay");
    env.plan(&renamed, &[]).await.expect_code(0).expect_no_line_starting("?");
}

#[tokio::test]
async fn a_cloud_map_ttl_change_updates_the_registry_in_place() {
    let env = demo_env().await;
    let changed = demo().replace("ttl: 30", "ttl: 60");
    let (plan, _) = change_converges(&env, &changed, &["~ discovery service users", "    dns_ttl: 30 -> 60"]).await;
    plan.expect_no_line_starting("~ service");

    let id = env.discovery_services().await["users"].id().expect("an id").to_owned();
    let svc = env.discovery.get_service().id(id).send().await.expect("GetService");
    let ttls: Vec<i64> = svc
        .service()
        .and_then(|s| s.dns_config())
        .map(|d| d.dns_records().iter().map(|r| r.ttl()).collect())
        .unwrap_or_default();
    assert_eq!(ttls, vec![60]);
}
