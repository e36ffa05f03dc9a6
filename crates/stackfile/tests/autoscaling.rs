//! `autoscaling:`: what it normalises to, the count it leaves to the scaler, and the
//! combinations Application Auto Scaling refuses, each with its path, line and column.

use bosun_stackfile::{ScalingMetric, fixtures, load};

/// demo.yml with `block` under its ALB service `web` and `worker` lines under `mailer`.
fn demo_with(block: &str) -> String {
    let text = fixtures::Prerequisites::fake().fill(fixtures::example("demo.yml"));
    let anchor = "  - web:\n      image: public.ecr.aws/nginx/nginx:1.27\n";
    assert!(text.contains(anchor), "demo.yml changed: {text}");
    text.replacen(anchor, &format!("{anchor}{block}"), 1)
}

fn errors(source: &str) -> String {
    match load(source, "staging") {
        Ok(_) => panic!("stackfile should not load:\n{source}"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn autoscaling_normalises_and_leaves_the_count_to_the_scaler() {
    let d = load(
        &demo_with(
            "      autoscaling:\n        min: 2\n        max: 6\n        target_tracking:\n          - {metric: memory, target: 75}\n          - {metric: alb_requests, target: 900, scale_out_cooldown: 60}\n        scheduled:\n          - {name: night, schedule: \"cron(0 22 * * ? *)\", max: 2}\n",
        ),
        "staging",
    )
    .unwrap_or_else(|d| panic!("valid: {d}"));
    let web = &d.services["web"];
    assert_eq!(web.desired_count, None, "the scaler's");
    assert_eq!(web.initial_count, 2, "seeded by desired_count");
    let a = web.autoscaling.as_ref().expect("autoscaling");
    assert_eq!((a.min, a.max), (2, 6));
    let names: Vec<&str> = a.target_tracking.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["staging-web-alb_requests", "staging-web-memory"]);
    let requests = &a.target_tracking[0];
    assert_eq!(requests.metric, ScalingMetric::AlbRequests);
    assert_eq!(requests.alb, Some(("staging-web-lb".to_owned(), "staging-web-lb".to_owned())));
    assert_eq!((requests.scale_in_cooldown, requests.scale_out_cooldown), (300, 60));
    let night = &a.scheduled[0];
    assert_eq!(
        (night.name.as_str(), night.min, night.max, night.timezone.as_str()),
        ("staging-web-night", None, Some(2), "UTC")
    );
    // The other services are as they were.
    assert!(d.services["mailer"].autoscaling.is_none());
    assert_eq!(
        d.services["mailer"].desired_count,
        fixtures::desired("demo.yml", "staging").services["mailer"].desired_count
    );
}

#[test]
fn without_desired_count_the_first_create_starts_at_min() {
    let text = demo_with("      autoscaling: {min: 3, max: 5}\n").replacen("      desired_count: 2\n", "", 1);
    let d = load(&text, "staging").unwrap_or_else(|d| panic!("valid: {d}"));
    assert_eq!((d.services["web"].desired_count, d.services["web"].initial_count), (None, 3));
}

#[test]
fn what_application_auto_scaling_refuses_is_reported_where_it_is_written() {
    let e = errors(&demo_with("      autoscaling: {min: 5, max: 3}\n"));
    assert!(e.contains("services[0].web.autoscaling.min") && e.contains("is above autoscaling.max"), "{e}");
    let e = errors(&demo_with("      autoscaling: {min: 0, max: 9000}\n"));
    assert!(e.contains("autoscaling.max must be between 0 and 5000"), "{e}");
    let e = errors(&demo_with("      autoscaling: {min: 3, max: 4}\n"));
    assert!(e.contains("desired_count 2 is outside autoscaling's bounds 3-4"), "{e}");
    let e = errors(&demo_with(
        "      autoscaling:\n        min: 1\n        max: 4\n        target_tracking: [{metric: cpu, target: 150}, {metric: cpu, target: 50}]\n",
    ));
    assert!(e.contains("the cpu target must be between 1 and 100, found 150"), "{e}");
    assert!(e.contains("target_tracking[1].metric") && e.contains("a second `cpu` policy"), "{e}");
    let e = errors(&demo_with(
        "      autoscaling:\n        min: 1\n        max: 4\n        scheduled:\n          - {name: a, schedule: \"rate(1 hours)\", min: 1}\n          - {name: a, schedule: \"cron(0 8 * * MON *)\"}\n          - {name: \"b c\", schedule: \"at(2026-12-24T18:00:00)\", min: 3, max: 2, timezone: berlin}\n",
    ));
    for needle in [
        "scheduled[0].schedule",
        "rate(1 hours)",
        "scheduled[1].name",
        "a second scheduled action named `a`",
        "exactly one of day-of-month and day-of-week",
        "a scheduled action sets `min`, `max` or both",
        "may contain only letters, digits",
        "min (3) is above max (2)",
        "`berlin` is not an IANA time zone name",
    ] {
        assert!(e.contains(needle), "{needle} missing from:\n{e}");
    }
    // Each error has a line and a column.
    assert!(e.lines().filter(|l| l.contains("autoscaling")).all(|l| l.contains(':')), "{e}");
}

#[test]
fn request_count_scaling_needs_a_load_balancer_and_a_task_cannot_scale() {
    let text = fixtures::Prerequisites::fake().fill(fixtures::example("demo.yml"));
    let anchor = "  - mailer:\n";
    assert!(text.contains(anchor), "demo.yml changed");
    let worker = text.replacen(
        anchor,
        &format!(
            "{anchor}      autoscaling: {{min: 1, max: 2, target_tracking: [{{metric: alb_requests, target: 100}}]}}\n"
        ),
        1,
    );
    let e = errors(&worker);
    assert!(e.contains("services[2].mailer.autoscaling.target_tracking[0].metric"), "{e}");
    assert!(e.contains("`alb_requests` counts the requests of the service's target group"), "{e}");

    let task = text.replacen(anchor, &format!("{anchor}      type: task\n      autoscaling: {{min: 1, max: 2}}\n"), 1);
    let e = errors(&task);
    assert!(e.contains("`autoscaling` needs a service"), "{e}");
}
