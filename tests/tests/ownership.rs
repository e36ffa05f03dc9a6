//! What bosun owns: orphans and pruning, resources it never touches, and adoption.

use bosun_tests::{Env, Stackfile, assert_tags_include, ecs_tags, ownership};

fn demo() -> Stackfile {
    Stackfile::example("demo.yml")
}

/// Whether ECS still runs the service: ACTIVE. A deleted one is DRAINING, INACTIVE or gone.
async fn is_active(env: &Env, service: &str) -> bool {
    env.find_service(service).await.is_some_and(|s| s.status() == Some("ACTIVE"))
}

#[tokio::test]
async fn removed_services_are_orphans_until_pruned() {
    let env = Env::start().await;
    env.converge(&demo()).await;
    let mailer_revision = env.running_revision("mailer").await;
    let zone = env.prereqs.zone_id.clone();
    let reduced = demo().without_service("web").without_service("users");
    let resources = [
        "service web".to_owned(),
        "service users".to_owned(),
        "load balancer demo-web-lb".to_owned(),
        "target group demo-web-lb".to_owned(),
        "discovery service users".to_owned(),
        format!("dns record www.demo.example.com. ({zone})"),
    ];

    // Prune off: listed as orphans, not a change, and left in place.
    let orphans: Vec<String> = resources.iter().map(|r| format!("  ? {r}")).collect();
    let plan = env.plan(&reduced, &[]).await;
    plan.expect_code(0).expect_lines(&orphans);
    let apply = env.apply(&reduced, &[]).await;
    apply.expect_code(0);
    assert_eq!(apply.stats().mutating, 0, "{apply}");
    assert!(is_active(&env, "web").await && is_active(&env, "users").await, "orphans are left running");
    assert_eq!(env.load_balancers().await.len(), 1);

    // Prune on, from the command line or the stackfile: the same deletes.
    let deletes: Vec<String> = resources.iter().map(|r| format!("- {r}")).collect();
    let plan = env.plan(&reduced, &["--prune", "true"]).await;
    plan.expect_code(2).expect_lines(&deletes);
    let pruning = reduced.replace("\nservices:\n", "\nprune: true\n\nservices:\n");
    env.apply(&pruning, &["--plan-hash", &plan.plan_hash()]).await.expect_code(0);

    assert!(!is_active(&env, "web").await && !is_active(&env, "users").await, "pruned services are deleted");
    assert_eq!(env.active_services().await, vec!["mailer".to_owned()]);
    assert_eq!(env.running_revision("mailer").await, mailer_revision, "the kept service is untouched");
    assert!(env.load_balancers().await.is_empty(), "the ALB is deleted");
    assert!(env.target_groups().await.is_empty(), "the target group is deleted");
    assert!(env.records("www.demo.example.com.").await.is_empty(), "the A and TXT records are deleted");
    assert!(!env.discovery_services().await.contains_key("users"), "the Cloud Map service is deleted");
    env.assert_converged(&pruning).await;
    env.plan(&reduced, &[]).await.expect_code(0).expect_no_line_starting("?");
}

#[tokio::test]
async fn resources_bosun_does_not_own_are_never_touched() {
    let env = Env::start().await;
    env.converge(&demo()).await;
    // Someone else's service in the same cluster, and a target group that happens to
    // carry the cluster's name prefix.
    env.create_unowned_service("legacy", "legacy", "public.ecr.aws/nginx/nginx:1.25", 2).await;
    let legacy_before = env.service("legacy").await;
    let vpc = env.prereqs.vpc_id.clone();
    let foreign_tg = env
        .elb
        .create_target_group()
        .name("demo-legacy-tg")
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .vpc_id(vpc)
        .send()
        .await
        .expect("CreateTargetGroup");
    let foreign_tg_arn = foreign_tg.target_groups()[0].target_group_arn().expect("arn").to_owned();

    for prune in ["false", "true"] {
        let plan = env.plan(&demo(), &["--prune", prune]).await;
        plan.expect_code(0);
        assert!(!plan.stdout.contains("legacy"), "unowned resources are neither changes nor orphans: {plan}");
        let apply = env.apply(&demo(), &["--prune", prune]).await;
        apply.expect_code(0);
        assert_eq!(apply.stats().mutating, 0, "{apply}");
    }

    let legacy = env.service("legacy").await;
    assert_eq!(legacy.status(), Some("ACTIVE"));
    assert_eq!(legacy.desired_count(), 2);
    assert_eq!(legacy.task_definition(), legacy_before.task_definition());
    assert!(legacy.tags().is_empty(), "no tags were added: {:?}", legacy.tags());
    let tgs = env.target_groups().await;
    assert!(
        tgs.iter().any(|t| t.target_group_arn() == Some(foreign_tg_arn.as_str())),
        "the foreign target group is kept"
    );
    assert!(env.elb_tags(&foreign_tg_arn).await.is_empty(), "and not tagged");
}

#[tokio::test]
async fn a_same_named_service_is_a_conflict_unless_adopted() {
    let env = Env::start().await;
    env.create_cluster_directly().await;
    env.create_unowned_service("mailer", "legacy-mailer", "public.ecr.aws/docker/library/busybox:1.35", 1).await;

    let conflict = "  ! service mailer: ECS service mailer exists and is not managed by bosun for cluster demo; set `adopt: true` on service mailer to take it over";
    // Conflicts make `plan` exit 4, not 2 ("changes"): `apply` would refuse the plan.
    env.plan(&demo(), &[]).await.expect_code(4).expect_lines(&[conflict]).expect_stderr("`bosun apply` would refuse");
    // Also when the conflict is all there is: no change to apply, still not 0.
    let mailer_only = Stackfile::from_text(
        "mailer-only.yml",
        "services:\n  - mailer:\n      image: public.ecr.aws/docker/library/busybox:1.36\n      memory: 128\n",
    );
    let plan = env.plan(&mailer_only, &[]).await;
    plan.expect_code(4).expect_lines(&[conflict]);
    assert!(!plan.stdout.lines().any(|l| l.starts_with(['+', '~', '-'])), "only the conflict: {plan}");
    let refused = env.apply(&demo(), &[]).await;
    refused.expect_code(1).expect_stderr("conflict(s) with resources bosun does not own; nothing was changed");
    assert_eq!(refused.stats().mutating, 0, "{refused}");
    assert!(env.find_service("web").await.is_none(), "nothing else was created either");
    assert!(env.load_balancers().await.is_empty());
    assert!(env.service("mailer").await.tags().is_empty(), "the service is not taken over");

    let adopting = demo().replace("      memory: 128\n", "      memory: 128\n      adopt: true\n");
    env.plan(&adopting, &[])
        .await
        .expect_code(2)
        .expect_lines(&["~ service mailer (adopt: bosun takes ownership)"])
        .expect_no_line_starting("!");
    env.converge(&adopting).await;

    let mailer = env.service("mailer").await;
    assert_tags_include(&ecs_tags(mailer.tags()), &ownership(Some("mailer")), "adopted service");
    let td = env.task_definition(mailer.task_definition().expect("a task definition")).await;
    assert_eq!(td.family(), Some("demo-mailer"));
    assert_eq!(td.container_definitions()[0].image(), Some("public.ecr.aws/docker/library/busybox:1.36"));
    env.assert_converged(&adopting).await;
}

#[tokio::test]
async fn a_deleted_hosted_zone_of_a_removed_service_does_not_break_planning() {
    let env = Env::start().await;
    env.converge(&demo()).await;
    // The zone goes away (records first, as Route53 requires) while web, its only
    // user, leaves the stackfile: bosun still knows the zone from the ALB's tags.
    let records = env.records("www.demo.example.com.").await;
    let deletes = records.into_iter().map(|r| {
        aws_sdk_route53::types::Change::builder()
            .action(aws_sdk_route53::types::ChangeAction::Delete)
            .resource_record_set(r)
            .build()
            .expect("a change")
    });
    let batch =
        aws_sdk_route53::types::ChangeBatch::builder().set_changes(Some(deletes.collect())).build().expect("a batch");
    env.route53
        .change_resource_record_sets()
        .hosted_zone_id(&env.prereqs.zone_id)
        .change_batch(batch)
        .send()
        .await
        .expect("delete records");
    env.route53.delete_hosted_zone().id(&env.prereqs.zone_id).send().await.expect("DeleteHostedZone");

    let without_web = demo().without_service("web");
    env.plan(&without_web, &[])
        .await
        .expect_code(0)
        .expect_lines(&["  ? service web", "  ? load balancer demo-web-lb"]);
    env.apply(&without_web, &["--prune", "true"]).await.expect_code(0);
    assert!(env.load_balancers().await.is_empty());
    assert!(!is_active(&env, "web").await);
}
