//! Planner behaviour: plan text and ordering (snapshots), ownership, drift, and
//! idempotence as a property (apply the plan with the pure simulator, plan again,
//! expect nothing).

mod common;

use std::collections::BTreeMap;

use bosun_plan::observed::{ObservedTaskDefinition, Owner};
use bosun_plan::simulate::simulate;
use bosun_plan::{Action, Kind, Observed, Plan, Policy, ServiceField, Step, plan, render_text};
use bosun_stackfile::{Desired, fixtures, load};
use common::{converge, foreign_service};
use proptest::prelude::*;

/// Plan, simulate the apply, and return the state AWS would be in.
fn assert_converged(desired: &Desired, observed: &Observed) {
    let again = plan(desired, observed, &Policy::from_desired(desired));
    assert!(again.is_empty(), "plan after apply is not empty:\n{}", render_text(&again));
}

fn kinds_in_order(p: &Plan) -> Vec<(Action, Kind)> {
    p.changes.iter().map(|c| (c.action, c.resource.kind)).collect()
}

#[test]
fn creating_the_demo_stack_from_nothing() {
    let desired = fixtures::desired("demo.yml", "demo");
    let p = plan(&desired, &Observed::default(), &Policy::default());
    insta::assert_snapshot!("demo_from_nothing", render_text(&p));
    let after = converge(&desired, &Observed::default());
    assert_converged(&desired, &after);
}

#[test]
fn every_example_converges_in_one_apply() {
    for name in fixtures::EXAMPLES {
        let desired = fixtures::desired(name, "ex");
        let after = converge(&desired, &Observed::default());
        assert_converged(&desired, &after);
    }
}

#[test]
fn creates_run_in_dependency_order() {
    let desired = fixtures::desired("fargate.yml", "prod");
    let p = plan(&desired, &Observed::default(), &Policy::default());
    let order = kinds_in_order(&p);
    let mut sorted = order.clone();
    sorted.sort_by_key(|(_, k)| *k);
    assert_eq!(order, sorted, "creates are ordered cluster -> ... -> services");
    let first_service = order.iter().position(|(_, k)| *k == Kind::Service).expect("services are created");
    let last_rule = order.iter().rposition(|(_, k)| *k == Kind::Rule).expect("rules are created");
    assert!(last_rule < first_service, "listener rules exist before services that use them");
}

#[test]
fn pre_hooks_run_before_services_and_post_hooks_after() {
    let desired = fixtures::desired("hooks.yml", "app");
    let p = plan(&desired, &Observed::default(), &Policy::default());
    let pos = |k: Kind| p.changes.iter().position(|c| c.resource.kind == k).unwrap_or_else(|| panic!("{k:?} planned"));
    assert!(pos(Kind::TaskDefinition) < pos(Kind::PreHook));
    assert!(pos(Kind::PreHook) < pos(Kind::Service));
    assert!(pos(Kind::Service) < pos(Kind::PostHook));
    // A second apply of the same stackfile runs no hooks.
    let after = converge(&desired, &Observed::default());
    assert_converged(&desired, &after);
}

#[test]
fn changing_only_desired_count_registers_no_revision() {
    let desired = fixtures::desired("demo.yml", "demo");
    let live = converge(&desired, &Observed::default());
    let mut bigger = desired.clone();
    bigger.services.get_mut("web").unwrap().desired_count = Some(5);
    let p = plan(&bigger, &live, &Policy::default());
    assert_eq!(kinds_in_order(&p), vec![(Action::Update, Kind::Service)]);
    assert_eq!(p.changes[0].fields[0].field, "desired_count");
    assert!(render_text(&p).contains("desired_count: 2 -> 5"));
}

#[test]
fn an_image_bump_touches_only_that_service() {
    let desired = fixtures::desired("demo.yml", "demo");
    let live = converge(&desired, &Observed::default());
    let mut bumped = desired.clone();
    bumped.services.get_mut("users").unwrap().task_definition.container.image =
        "public.ecr.aws/docker/library/httpd:2.5".into();
    let p = plan(&bumped, &live, &Policy::default());
    assert_eq!(kinds_in_order(&p), vec![(Action::Update, Kind::TaskDefinition), (Action::Update, Kind::Service)]);
    assert!(p.changes.iter().all(|c| c.service.as_deref() == Some("users")));
    let after = simulate(&bumped, &live, &p);
    assert_converged(&bumped, &after);
}

#[test]
fn leaving_awsvpc_plans_no_network_change_that_update_service_cannot_make() {
    let desired = fixtures::desired("demo.yml", "demo");
    let live = converge(&desired, &Observed::default());
    assert!(live.services["users"].network.is_some());
    // `users` moves to bridge networking: a new revision, and its old network
    // configuration stays on the service, unused (UpdateService cannot remove one).
    let mut bridged = desired.clone();
    let users = bridged.services.get_mut("users").unwrap();
    users.task_definition.network_mode = "bridge".into();
    users.network = None;
    let p = plan(&bridged, &live, &Policy::default());
    assert_eq!(kinds_in_order(&p), vec![(Action::Update, Kind::TaskDefinition), (Action::Update, Kind::Service)]);
    assert!(!render_text(&p).contains("network:"), "{}", render_text(&p));
    let Step::UpdateService { fields, .. } = &p.changes[1].step else { panic!("a service update") };
    assert_eq!(fields, &[ServiceField::TaskDefinition]);
    assert_converged(&bridged, &simulate(&bridged, &live, &p));
}

#[test]
fn out_of_band_changes_are_drift_and_planned_back() {
    let desired = fixtures::desired("demo.yml", "demo");
    let live = converge(&desired, &Observed::default());

    // Someone points the service at another revision.
    let mut drifted = live.clone();
    drifted.services.get_mut("web").unwrap().task_definition_arn = "arn:sim:ecs:task-definition/demo-web:99".into();
    let p = plan(&desired, &drifted, &Policy::default());
    assert!(render_text(&p).contains("changed outside bosun"), "{}", render_text(&p));
    assert_converged(&desired, &simulate(&desired, &drifted, &p));

    // Someone edits the target-group health check.
    let mut drifted = live.clone();
    drifted.target_groups.get_mut("demo-web-lb").unwrap().spec.health_check.path = "/other".into();
    let p = plan(&desired, &drifted, &Policy::default());
    insta::assert_snapshot!("drift_health_check", render_text(&p));
    assert_converged(&desired, &simulate(&desired, &drifted, &p));

    // Someone deletes the DNS record.
    let mut drifted = live.clone();
    drifted.records.clear();
    let p = plan(&desired, &drifted, &Policy::default());
    assert_eq!(kinds_in_order(&p), vec![(Action::Create, Kind::Record)]);
    assert_converged(&desired, &simulate(&desired, &drifted, &p));
}

#[test]
fn a_deleted_listener_rule_is_recreated() {
    let desired = fixtures::desired("fargate.yml", "prod");
    let mut live = converge(&desired, &Observed::default());
    let lb = live
        .load_balancers
        .values_mut()
        .find(|lb| lb.listeners.values().any(|l| l.rules.as_ref().is_some_and(|r| !r.is_empty())))
        .unwrap();
    let listener = lb.listeners.values_mut().find(|l| l.rules.as_ref().is_some_and(|r| !r.is_empty())).unwrap();
    let rules = listener.rules.as_mut().unwrap();
    let first = *rules.keys().next().unwrap();
    rules.remove(&first);
    let p = plan(&desired, &live, &Policy::default());
    assert_eq!(kinds_in_order(&p), vec![(Action::Create, Kind::Rule)]);
    assert_converged(&desired, &simulate(&desired, &live, &p));
}

#[test]
fn unowned_services_are_never_touched() {
    let mut desired = fixtures::desired("demo.yml", "demo");
    desired.prune = true;
    let mut live = converge(&desired, &Observed::default());
    live.services.insert("legacy".into(), foreign_service("legacy"));
    let p = plan(&desired, &live, &Policy { prune: true, ..Policy::default() });
    assert!(p.is_empty(), "{}", render_text(&p));
    assert!(p.orphans.is_empty());
}

#[test]
fn a_same_named_unowned_service_is_a_conflict_until_adopted() {
    let desired = fixtures::desired("demo.yml", "demo");
    let mut live = converge(&desired, &Observed::default());
    live.services.insert("mailer".into(), foreign_service("mailer"));

    let p = plan(&desired, &live, &Policy::default());
    assert!(p.changes.iter().all(|c| c.service.as_deref() != Some("mailer")), "{}", render_text(&p));
    assert_eq!(p.conflicts.len(), 1);
    assert!(p.conflicts[0].reason.contains("adopt: true"));

    let mut adopting = desired.clone();
    adopting.services.get_mut("mailer").unwrap().adopt = true;
    let p = plan(&adopting, &live, &Policy::default());
    assert!(p.conflicts.is_empty());
    let adopt = p.changes.iter().find(|c| c.resource.kind == Kind::Service).expect("service change");
    assert_eq!(adopt.action, Action::Adopt);
    insta::assert_snapshot!("adopt_mailer", render_text(&p));
    let after = simulate(&adopting, &live, &p);
    assert!(after.services["mailer"].owner.is_owned_by("demo"));
    assert_converged(&adopting, &after);
}

#[test]
fn adopting_a_service_that_runs_the_desired_spec_registers_no_revision() {
    let desired = fixtures::desired("demo.yml", "demo");
    let mut live = converge(&desired, &Observed::default());
    // `mailer` was made by other tooling, with exactly the task definition and service
    // settings the stackfile describes (what `bosun import` writes), and none of
    // bosun's tags. The observer read its live revision, as for any service without
    // bosun's spec hash.
    let arn = "arn:sim:ecs:task-definition/demo-mailer:7".to_owned();
    let mailer = live.services.get_mut("mailer").unwrap();
    mailer.owner = Owner::default();
    mailer.spec_hash = None;
    mailer.deployed_task_definition = None;
    mailer.task_definition_arn = arn.clone();
    live.task_definitions.retain(|_, td| td.spec.family != "demo-mailer");
    let spec = desired.services["mailer"].task_definition.clone();
    live.task_definitions.insert(arn.clone(), ObservedTaskDefinition { arn, spec, spec_hash: None });

    let mut adopting = desired.clone();
    adopting.services.get_mut("mailer").unwrap().adopt = true;
    let p = plan(&adopting, &live, &Policy::default());
    assert_eq!(kinds_in_order(&p), vec![(Action::Adopt, Kind::Service)], "{}", render_text(&p));
    let Step::UpdateService { fields, adopt, .. } = &p.changes[0].step else { panic!("a service update") };
    assert!(fields.is_empty(), "nothing is sent to UpdateService, so nothing is redeployed: {fields:?}");
    assert!(adopt);
    insta::assert_snapshot!("adopt_mailer_as_it_runs", render_text(&p));

    let after = simulate(&adopting, &live, &p);
    let mailer = &after.services["mailer"];
    assert!(mailer.owner.is_owned_by("demo"));
    assert_eq!(mailer.task_definition_arn, "arn:sim:ecs:task-definition/demo-mailer:7", "the revision it ran");
    assert_eq!(mailer.deployed_task_definition.as_deref(), Some("demo-mailer:7"));
    assert_converged(&adopting, &after);

    // A live revision that differs from the spec in anything still gets a new one.
    let mut other = live.clone();
    other.task_definitions.values_mut().for_each(|td| {
        if td.spec.family == "demo-mailer" {
            td.spec.container.image = "public.ecr.aws/docker/library/busybox:1.35".into();
        }
    });
    let p = plan(&adopting, &other, &Policy::default());
    assert_eq!(kinds_in_order(&p), vec![(Action::Update, Kind::TaskDefinition), (Action::Adopt, Kind::Service)]);
}

/// Everything of a converged state as other tooling would have left it: no bosun tags.
fn disown(live: &mut Observed) {
    for s in live.services.values_mut() {
        (s.owner, s.spec_hash, s.deployed_task_definition) = (Owner::default(), None, None);
    }
    live.target_groups.values_mut().for_each(|t| t.owner = Owner::default());
    for lb in live.load_balancers.values_mut() {
        lb.owner = Owner::default();
        for rules in lb.listeners.values_mut().filter_map(|l| l.rules.as_mut()) {
            rules.values_mut().for_each(|r| r.owner = Owner::default());
        }
    }
    live.records.values_mut().for_each(|r| r.owner = Owner::default());
    live.discovery_services.values_mut().for_each(|d| d.owner = Owner::default());
}

#[test]
fn a_shared_load_balancer_is_adopted_only_when_it_says_so() {
    let desired = fixtures::desired("fargate.yml", "prod");
    let mut live = converge(&desired, &Observed::default());
    disown(&mut live);
    let mut adopting = desired.clone();
    adopting.services.values_mut().for_each(|s| s.adopt = true);

    // The services adopt, the shared ALB does not: it is someone else's.
    let p = plan(&adopting, &live, &Policy::default());
    assert_eq!(p.conflicts.len(), 1, "{}", render_text(&p));
    assert!(p.conflicts[0].reason.contains("set `adopt: true` on it under `load_balancers:`"), "{:?}", p.conflicts);

    adopting.load_balancers.get_mut("prod-edge").unwrap().adopt = true;
    let p = plan(&adopting, &live, &Policy::default());
    assert!(p.conflicts.is_empty(), "{}", render_text(&p));
    assert!(p.changes.iter().all(|c| c.action == Action::Adopt), "only adoptions:\n{}", render_text(&p));
    let adopted: Vec<String> = p.changes.iter().map(|c| c.resource.to_string()).collect();
    assert_eq!(
        adopted,
        [
            "target group prod-admin-tg",
            "target group prod-api-tg",
            "load balancer prod-edge",
            "listener rule prod-edge:80#10",
            "listener rule prod-edge:80#20",
            "service admin",
            "service api",
        ]
    );
    let after = simulate(&adopting, &live, &p);
    assert!(after.load_balancers["prod-edge"].owner.is_owned_by("prod"));
    assert_eq!(after.load_balancers["prod-edge"].owner.service, None, "a shared load balancer has no service");
    assert_converged(&adopting, &after);
}

#[test]
fn a_deleted_service_is_pruned_alone() {
    let desired = fixtures::desired("demo.yml", "demo");
    let live = converge(&desired, &Observed::default());
    let mut smaller = desired.clone();
    smaller.services.remove("web");
    smaller.services.remove("mailer");
    smaller.load_balancers.clear();

    // `web` was deleted through the API; `mailer` merely left the stackfile.
    let policy = Policy { prune: false, prune_services: ["web".to_owned()].into() };
    let p = plan(&smaller, &live, &policy);
    let deleted: Vec<String> = p.changes.iter().map(|c| format!("{:?} {}", c.action, c.resource)).collect();
    assert_eq!(
        deleted,
        [
            "Delete service web",
            "Delete dns record www.demo.example.com. (Z0123456789ABC)",
            "Delete load balancer demo-web-lb",
            "Delete target group demo-web-lb",
        ],
        "{}",
        render_text(&p)
    );
    let orphans: Vec<String> = p.orphans.iter().map(|o| o.resource.to_string()).collect();
    assert_eq!(orphans, ["service mailer"]);
    let after = simulate(&smaller, &live, &p);
    let again = plan(&smaller, &after, &policy);
    assert!(again.is_empty(), "{}", render_text(&again));
}

#[test]
fn prune_off_lists_orphans_and_prune_on_deletes_them_in_reverse_order() {
    let desired = fixtures::desired("demo.yml", "demo");
    let live = converge(&desired, &Observed::default());
    let mut smaller = desired.clone();
    smaller.services.remove("web");
    smaller.load_balancers.clear();

    let p = plan(&smaller, &live, &Policy::default());
    assert!(p.is_empty());
    let orphans: Vec<String> = p.orphans.iter().map(|o| o.resource.to_string()).collect();
    assert_eq!(
        orphans,
        [
            "target group demo-web-lb",
            "load balancer demo-web-lb",
            "dns record www.demo.example.com. (Z0123456789ABC)",
            "service web",
        ]
    );

    let p = plan(&smaller, &live, &Policy { prune: true, ..Policy::default() });
    let order = kinds_in_order(&p);
    assert_eq!(
        order,
        vec![
            (Action::Delete, Kind::Service),
            (Action::Delete, Kind::Record),
            (Action::Delete, Kind::LoadBalancer),
            (Action::Delete, Kind::TargetGroup),
        ],
        "{}",
        render_text(&p)
    );
    let after = simulate(&smaller, &live, &p);
    assert_converged(&smaller, &after);
    assert!(!after.services.contains_key("web"));
}

#[test]
fn a_target_group_port_change_is_a_conflict_not_a_half_done_replace() {
    let desired = fixtures::desired("demo.yml", "demo");
    let mut live = converge(&desired, &Observed::default());
    live.target_groups.get_mut("demo-web-lb").unwrap().spec.port = 9999;
    let p = plan(&desired, &live, &Policy::default());
    assert_eq!(p.conflicts.len(), 1, "{}", render_text(&p));
    assert!(p.conflicts[0].reason.starts_with("port cannot change in place"));
    assert!(p.changes.iter().all(|c| c.resource.kind != Kind::TargetGroup));
}

#[test]
fn the_hash_is_stable_and_tracks_the_changes() {
    let desired = fixtures::desired("demo.yml", "demo");
    let a = plan(&desired, &Observed::default(), &Policy::default());
    let b = plan(&desired, &Observed::default(), &Policy::default());
    assert_eq!(a.hash, b.hash);
    assert!(a.matches_hash(a.short_hash()));
    let mut other = desired.clone();
    other.services.get_mut("web").unwrap().desired_count = Some(3);
    let c = plan(&other, &Observed::default(), &Policy::default());
    assert_ne!(a.hash, c.hash);
    assert!(!c.matches_hash(a.short_hash()));
}

/// The demo stack converged, with `mailer`'s live task definition readable, and a
/// desired state whose `mailer` environment is changed by `edit`.
fn mailer_env_change(edit: impl FnOnce(&mut std::collections::BTreeMap<String, String>)) -> Plan {
    let desired = fixtures::desired("demo.yml", "demo");
    let mut live = converge(&desired, &Observed::default());
    let mut changed = desired.clone();
    edit(&mut changed.services.get_mut("mailer").unwrap().task_definition.container.environment);
    // Give the planner the live task definition so it renders a diff.
    let arn = live.services["mailer"].task_definition_arn.clone();
    let td = live.task_definitions.values().find(|t| t.spec.family == "demo-mailer").unwrap().clone();
    live.task_definitions.insert(arn, td);
    plan(&changed, &live, &Policy::default())
}

#[test]
fn environment_values_never_appear_in_rendered_plans() {
    let p = mailer_env_change(|env| {
        env.insert("SMTP_PASSWORD".into(), "hunter2-secret".into());
    });
    let text = render_text(&p);
    assert!(text.contains("+  env SMTP_PASSWORD: (hidden)"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!bosun_plan::render_json(&p).contains("hunter2"));
}

#[test]
fn a_changed_environment_value_shows_only_that_it_changed() {
    let set = |value: &'static str| {
        mailer_env_change(move |env| {
            let (name, _) = env.iter().next().expect("mailer has an environment");
            let name = name.clone();
            env.insert(name, value.into());
        })
    };
    let (a, b) = (set("guess-one"), set("guess-two"));
    let text = render_text(&a);
    let name = text.lines().find_map(|l| l.trim().strip_prefix("+  env ")).expect("an env line");
    assert!(name.ends_with(": (value changed)"), "{text}");
    let live_line = format!("-  env {}", name.replace("(value changed)", "(hidden)"));
    assert!(text.lines().any(|l| l.trim() == live_line), "{text}");
    // The text says nothing that depends on the value: not a digest, not a spec hash.
    assert_eq!(text.replace(a.short_hash(), "H"), render_text(&b).replace(b.short_hash(), "H"));
    for hex in [sha256_prefix("guess-one"), bosun_stackfile::spec_hash(&a_spec(&a))] {
        assert!(!text.contains(&hex), "{hex} in {text}");
    }
    // The plan hash still tells the two apart: `--plan-hash` applies the plan reviewed.
    assert_ne!(a.hash, b.hash);
}

/// A candidate previewed blind ([`bosun_plan::blind`]): its environment values are not
/// compared, so nothing in the plan, its hash included, depends on them.
fn blind_preview(edit: impl FnOnce(&mut std::collections::BTreeMap<String, String>)) -> Plan {
    let desired = fixtures::desired("demo.yml", "demo");
    let live = converge(&desired, &Observed::default());
    let mut candidate = desired.clone();
    edit(&mut candidate.services.get_mut("mailer").unwrap().task_definition.container.environment);
    bosun_plan::blind::blind_env_values(&mut candidate);
    // The simulator keeps every live task definition, as the observer reads them for
    // such a candidate: no desired spec hash matches a live one any more.
    let observed = live;
    bosun_plan::blind::take_live_env_values(&mut candidate, &observed);
    plan(&candidate, &observed, &Policy::default())
}

#[test]
fn a_blind_preview_cannot_confirm_a_guessed_value() {
    let guess = |value: &'static str| {
        blind_preview(move |env| {
            let name = env.keys().next().expect("mailer has an environment").clone();
            env.insert(name, value.into());
        })
    };
    let live_value = {
        let desired = fixtures::desired("demo.yml", "demo");
        desired.services["mailer"].task_definition.container.environment.values().next().unwrap().clone()
    };
    let (right, wrong) = (guess(Box::leak(live_value.into_boxed_str())), guess("a-wrong-guess"));
    // Same plan, same hash, whether the guess is right or wrong: no change at all.
    assert_eq!(right, wrong);
    assert!(right.is_empty(), "{}", render_text(&right));

    // A variable added or removed still shows, by name only; so do other changes.
    let added = blind_preview(|env| {
        env.insert("NEW_FLAG".into(), "on".into());
    });
    let text = render_text(&added);
    assert!(text.contains("+  env NEW_FLAG: (hidden)"), "{text}");
    assert!(!text.contains("(value changed)"), "{text}");
    assert_eq!(
        added,
        blind_preview(|env| {
            env.insert("NEW_FLAG".into(), "off".into());
        })
    );
}

/// The task definition a plan registers for `mailer`.
fn a_spec(p: &Plan) -> bosun_stackfile::TaskDefinitionSpec {
    p.changes
        .iter()
        .find_map(|c| match &c.step {
            Step::RegisterTaskDefinition { spec, .. } if spec.family == "demo-mailer" => Some(spec.clone()),
            _ => None,
        })
        .expect("a new mailer revision")
}

/// The first 8 hex digits of an unsalted SHA-256, as plans showed before.
fn sha256_prefix(value: &str) -> String {
    use std::fmt::Write as _;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(value.as_bytes());
    digest.iter().take(4).fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[test]
fn forged_text_from_aws_or_anywhere_is_escaped_in_plan_text() {
    // What AWS returns is whatever someone with access to the account wrote there.
    let desired = fixtures::desired("demo.yml", "demo");
    let mut live = converge(&desired, &Observed::default());
    let forged_line = "\n~ service web\n    desired_count: 1 -> 1";
    let web = live.services.get_mut("web").unwrap();
    web.spec_hash = Some("changed".into());
    web.task_definition_arn = format!("arn:sim:ecs:task-definition/demo-web:1{forged_line}");
    let arn = web.task_definition_arn.clone();
    let mut td = live.task_definitions.values().find(|t| t.spec.family == "demo-web").unwrap().clone();
    td.spec.container.image = format!("nginx:1.26{forged_line}");
    td.spec.container.log_configuration = Some(bosun_stackfile::LogConfiguration {
        driver: "awslogs\u{1b}[2K".into(),
        options: [("awslogs-group\u{202e}".to_string(), "/ecs/\rwith a carriage return".to_string())].into(),
    });
    live.task_definitions.insert(arn, td);
    // An owned orphan and a foreign same-named service, with names that hide text.
    let mut orphan = foreign_service("old\u{202e}lanigiro");
    orphan.owner = Owner::bosun("demo", Some("old"));
    live.services.insert(orphan.name.clone(), orphan);
    live.services.insert("mailer".into(), foreign_service("mailer\u{7}\u{200b}"));
    // And a desired state built without the stackfile's checks.
    let mut forged = desired.clone();
    let web = forged.services.get_mut("web").unwrap();
    web.task_definition.container.image = "nginx:1.27\u{1b}]0;title\u{7}".into();
    web.task_definition.container.health_check = Some(bosun_stackfile::ContainerHealthCheck {
        command: vec!["CMD-SHELL".into(), "curl -f http://localhost/ \\\n  || exit \"1\"".into()],
        interval: 30,
        timeout: 5,
        retries: 3,
        start_period: 0,
    });

    let p = plan(&forged, &live, &Policy::default());
    let text = render_text(&p);
    insta::assert_snapshot!("forged_text_escaped", text);
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "a control character in:\n{text}");
    for c in ['\u{202e}', '\u{200b}'] {
        assert!(!text.contains(c), "{c:?} in:\n{text}");
    }
    // Only the real changes start a line.
    let service_lines = text.lines().filter(|l| l.starts_with("~ service web")).count();
    assert_eq!(service_lines, 1, "{text}");
    let json = bosun_plan::render_json(&p);
    assert!(!json.contains('\u{202e}') && json.contains("\\u202e"), "{json}");
    // Escaped, and still the same JSON (the fuzzer found the layout's line breaks
    // escaped too, once).
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("plan JSON parses");
    assert_eq!(parsed["orphans"][0]["resource"]["name"], "old\u{202e}lanigiro", "{json}");
}

// ---- idempotence as a property, over generated stackfiles ----

/// Some of the container's process and platform keys, as service lines (EC2: no
/// `ephemeral_storage`, which is Fargate's), or none.
fn container_keys_strategy() -> impl Strategy<Value = String> {
    let args = proptest::collection::vec("[a-z0-9 ]{1,6}", 1..3);
    (
        proptest::option::of(args.clone()),
        proptest::option::of(args),
        proptest::option::of(proptest::sample::select(vec!["/srv", "/app"])),
        proptest::option::of(proptest::sample::select(vec!["101", "app:app"])),
        proptest::option::of(0i32..=120),
        proptest::option::of(any::<bool>()),
        proptest::option::of((0i32..100, 0i32..100)),
        proptest::collection::btree_map("[a-z]{1,5}", "[a-z0-9]{0,5}", 0..3),
        proptest::option::of(any::<bool>()),
        proptest::option::of(proptest::sample::select(vec!["x86_64", "arm64"])),
    )
        .prop_map(|(command, entrypoint, dir, user, stop, readonly, ulimit, labels, init, arch)| {
            let list = |args: Vec<String>| {
                format!("[{}]", args.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", "))
            };
            let mut y = String::new();
            if let Some(c) = command {
                y.push_str(&format!("      command: {}\n", list(c)));
            }
            if let Some(c) = entrypoint {
                y.push_str(&format!("      entrypoint: {}\n", list(c)));
            }
            if let Some(d) = dir {
                y.push_str(&format!("      working_directory: {d}\n"));
            }
            if let Some(u) = user {
                y.push_str(&format!("      user: \"{u}\"\n"));
            }
            if let Some(t) = stop {
                y.push_str(&format!("      stop_timeout: {t}\n"));
            }
            if let Some(r) = readonly {
                y.push_str(&format!("      readonly_root_filesystem: {r}\n"));
            }
            if let Some((a, b)) = ulimit {
                y.push_str(&format!("      ulimits: [{{name: nofile, soft: {}, hard: {}}}]\n", a.min(b), a.max(b)));
            }
            if !labels.is_empty() {
                y.push_str("      docker_labels:\n");
                for (k, v) in labels {
                    y.push_str(&format!("        {k}: \"{v}\"\n"));
                }
            }
            if let Some(i) = init {
                y.push_str(&format!("      init_process_enabled: {i}\n"));
            }
            if let Some(a) = arch {
                y.push_str(&format!("      runtime_platform: {{cpu_architecture: {a}}}\n"));
            }
            y
        })
}

/// ECS Exec, managed tags, propagation, grace period, task tags and the strategy's
/// weights and base, as generated.
type ServiceKeys =
    (Option<bool>, Option<bool>, Option<&'static str>, Option<i32>, BTreeMap<String, String>, (i32, i32, i32));

/// Some of the service's operational keys and task tags, as service lines. A capacity
/// provider strategy is always set on the services from the fourth on and never on the
/// others (ECS has no way back from a strategy to a launch type in place, a planned
/// conflict tested on its own); its providers are Auto Scaling group ones, as the
/// generated services are EC2 services. The grace period needs a load balancer.
fn service_keys_strategy() -> impl Strategy<Value = ServiceKeys> {
    (
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(proptest::sample::select(vec!["task_definition", "service", "none"])),
        proptest::option::of(0i32..600),
        proptest::collection::btree_map("[a-z]{1,5}", "[a-z0-9]{0,5}", 0..3),
        (1i32..4, 0i32..3, 0i32..3),
    )
}

/// The lines of [`service_keys_strategy`]'s keys for service `i` of `kind`.
fn service_keys(i: usize, kind: u8, (exec, managed, propagate, grace, tags, (w1, w2, base)): ServiceKeys) -> String {
    let mut y = String::new();
    if let Some(e) = exec {
        y.push_str(&format!("      enable_execute_command: {e}\n"));
    }
    if let Some(m) = managed {
        y.push_str(&format!("      enable_ecs_managed_tags: {m}\n"));
    }
    if let Some(p) = propagate {
        y.push_str(&format!("      propagate_tags: {p}\n"));
    }
    if let Some(g) = grace.filter(|_| kind == 1) {
        y.push_str(&format!("      health_check_grace_period: {g}\n"));
    }
    if !tags.is_empty() {
        y.push_str("      tags:\n");
        for (k, v) in tags {
            y.push_str(&format!("        {k}: \"{v}\"\n"));
        }
    }
    if i >= 3 {
        y.push_str(&format!(
            "      capacity_provider_strategy: [{{provider: asg-a, weight: {w1}, base: {base}}}, {{provider: asg-b, weight: {w2}}}]\n"
        ));
    }
    y
}

/// Up to three sidecars of a service, as service lines (EC2: each has `memory`; its
/// ports are its own), with the main container waiting for the first or not. The first
/// may be a FireLens router; each may wait for the one before it.
fn sidecars_strategy() -> impl Strategy<Value = String> {
    let sidecar = (
        proptest::sample::select(vec!["fluent-bit:2.32", "fluent-bit:2.33", "envoy:1.30", "agent:7"]),
        32i32..256,
        any::<bool>(),                                                             // essential
        proptest::option::of("[a-z0-9]{0,6}"),                                     // an environment value
        any::<bool>(),                                                             // a port
        proptest::option::of(proptest::sample::select(vec!["START", "COMPLETE"])), // on the one before
        any::<bool>(),                                                             // firelens (the first only)
    );
    (proptest::collection::vec(sidecar, 0..4), any::<bool>()).prop_map(|(sidecars, main_waits)| {
        if sidecars.is_empty() {
            return String::new();
        }
        let names = ["log-router", "agent", "proxy"];
        let mut y = String::from("      containers:\n");
        let mut essential_before = true;
        for (j, (image, memory, essential, env, port, waits, firelens)) in sidecars.into_iter().enumerate() {
            y.push_str(&format!(
                "        - name: {}\n          image: public.ecr.aws/x/{image}\n          memory: {memory}\n",
                names[j]
            ));
            if !essential {
                y.push_str("          essential: false\n");
            }
            if let Some(v) = env {
                y.push_str(&format!("          environment: {{MODE: \"{v}\"}}\n"));
            }
            if port {
                y.push_str(&format!("          ports: [{}]\n", 9100 + j));
            }
            // COMPLETE only on a container that is not essential, as ECS asks.
            match waits {
                Some(c) if j > 0 && (c == "START" || !essential_before) => {
                    y.push_str(&format!("          depends_on: [{{container: {}, condition: {c}}}]\n", names[j - 1]))
                }
                _ => {}
            }
            if firelens && j == 0 {
                y.push_str("          firelens: {type: fluentbit}\n");
            }
            essential_before = essential;
        }
        if main_waits {
            y.push_str("      depends_on: [{container: log-router, condition: START}]\n");
        }
        y
    })
}

/// A service's `autoscaling`, drawn independently of its count: [`Scaling::yaml`] fits
/// the bounds around it.
#[derive(Debug, Clone)]
struct Scaling {
    below: i32,
    above: i32,
    cpu: Option<i32>,
    requests: bool,
    cooldown: Option<i32>,
    scheduled: Option<(u8, Option<i32>)>,
}

impl Scaling {
    /// The block for a service of `count` tasks (`alb`: behind a load balancer).
    fn yaml(&self, count: i32, alb: bool) -> String {
        let (min, max) = ((count - self.below).max(0), count + self.above);
        let mut y = format!("      autoscaling:\n        min: {min}\n        max: {max}\n");
        let mut policies = Vec::new();
        if let Some(t) = self.cpu {
            let cooldown = self.cooldown.map(|c| format!(", scale_in_cooldown: {c}")).unwrap_or_default();
            policies.push(format!("{{metric: cpu, target: {t}{cooldown}}}"));
        }
        if self.requests && alb {
            policies.push("{metric: alb_requests, target: 800}".to_owned());
        }
        if !policies.is_empty() {
            y.push_str(&format!("        target_tracking: [{}]\n", policies.join(", ")));
        }
        if let Some((n, hi)) = self.scheduled {
            let hi = hi.map(|h| format!(", max: {}", min + h)).unwrap_or_default();
            y.push_str(&format!(
                "        scheduled: [{{name: s{n}, schedule: \"rate({} hours)\", min: {min}{hi}}}]\n",
                n + 2
            ));
        }
        y
    }
}

fn autoscaling_strategy() -> impl Strategy<Value = Option<Scaling>> {
    proptest::option::of(
        (
            0i32..3,
            0i32..4,
            proptest::option::of(10i32..90),
            any::<bool>(),
            proptest::option::of(0i32..600),
            proptest::option::of((0u8..3, proptest::option::of(0i32..3))),
        )
            .prop_map(|(below, above, cpu, requests, cooldown, scheduled)| Scaling {
                below,
                above,
                cpu,
                requests,
                cooldown,
                scheduled,
            }),
    )
}

fn stackfile_strategy() -> impl Strategy<Value = String> {
    let service = (
        0u8..5, // 0 worker, 1 ALB service, 2 Cloud Map service, 3 Service Connect, 4 its client only
        proptest::sample::select(vec!["nginx:1.27", "nginx:1.28", "httpd:2.4", "busybox:1.36"]),
        0i32..5, // desired_count
        proptest::collection::btree_map("[A-Z]{1,6}", "[a-z0-9]{0,8}", 0..4),
        any::<bool>(), // ignore desired_count
        container_keys_strategy(),
        service_keys_strategy(),
        sidecars_strategy(),
        autoscaling_strategy(),
    );
    // A cluster-wide log group bosun creates, with or without a retention.
    let log_group = proptest::option::of(proptest::option::of(proptest::sample::select(vec![1, 7, 30, 365])));
    (proptest::collection::vec(service, 1..6), any::<bool>(), log_group).prop_map(|(services, prune, log_group)| {
        let mut y = String::from(
            "vpc:\n  id: vpc-0a1b2c3d\n  subnets:\n    public: [subnet-0000000a, subnet-0000000b]\n    private: [subnet-0000001a, subnet-0000001b]\n  security_groups:\n    public: [sg-0000000a]\n    private: [sg-0000000b]\nservice_discovery:\n  namespace: prop.sd\n",
        );
        if let Some(retention) = log_group {
            let days = retention.map(|d| format!(", retention_days: {d}")).unwrap_or_default();
            y.push_str(&format!(
                "logging: {{log_driver: awslogs, options: {{awslogs-group: /prop/app}}, create_group: true{days}}}\n"
            ));
        }
        y.push_str(&format!("prune: {prune}\nservices:\n"));
        for (i, (kind, image, count, env, ignore, keys, settings, sidecars, scaling)) in services.into_iter().enumerate() {
            // A target group's port cannot change in place (a planned conflict, tested
            // on its own), so a service keeps its port across generated stacks.
            let port = 8000 + i;
            y.push_str(&format!("  - s{i}:\n      image: public.ecr.aws/x/{image}\n      desired_count: {count}\n"));
            if ignore {
                y.push_str("      ignore: [desired_count]\n");
            }
            y.push_str(&keys);
            let mut settings = settings;
            if keys.contains("readonly_root_filesystem: true") {
                settings.0 = None; // ECS Exec needs a writable root file system
            }
            y.push_str(&service_keys(i, kind, settings));
            y.push_str(&sidecars);
            if let Some(scaling) = scaling {
                y.push_str(&scaling.yaml(count, kind == 1));
            }
            if !env.is_empty() {
                y.push_str("      environment:\n");
                for (k, v) in env {
                    y.push_str(&format!("        {k}: \"{v}\"\n"));
                }
            }
            match kind {
                1 => y.push_str(&format!(
                    "      network_mode: bridge\n      ports: [{port}]\n      elb:\n        type: public\n        ports: {{public: 80, container: {port}}}\n        dns: {{hosted_zone_id: Z0123456789ABC, record_name: s{i}.example.com}}\n"
                )),
                2 => y.push_str(&format!("      ports: [{port}]\n      dns_discovery:\n        name: s{i}\n")),
                // A named port offered through Service Connect, its alias moving with the
                // count so that one stack to the next changes it in place.
                3 => y.push_str(&format!(
                    "      network_mode: awsvpc\n      ports: [{{port: {port}, name: p{i}, app_protocol: http}}]\n      service_connect:\n        services: [{{port_name: p{i}, client_aliases: [{{port: {}, dns_name: s{i}.internal}}]}}]\n",
                    80 + count
                )),
                4 => y.push_str("      network_mode: awsvpc\n      service_connect: {}\n"),
                _ => {}
            }
        }
        y
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// From nothing, and from any earlier generated stack: one apply converges.
    #[test]
    fn one_apply_always_converges(first in stackfile_strategy(), second in stackfile_strategy()) {
        let a = load(&first, "prop").expect("generated stackfiles are valid");
        let b = load(&second, "prop").expect("generated stackfiles are valid");
        let live_a = converge(&a, &Observed::default());
        let again = plan(&a, &live_a, &Policy::from_desired(&a));
        prop_assert!(again.is_empty(), "not idempotent:\n{}", render_text(&again));

        // Moving from stack a to stack b converges too, with or without prune.
        let live_b = converge(&b, &live_a);
        let again = plan(&b, &live_b, &Policy::from_desired(&b));
        prop_assert!(again.is_empty(), "a -> b not converged:\n{}", render_text(&again));
        // Without prune, nothing owned is ever deleted, except the scaling of a service
        // that stays in the stackfile without its `autoscaling` (or one of its policies
        // or actions): removing it deregisters, prune or not (issue 15).
        if !b.prune {
            let p = plan(&b, &live_a, &Policy::from_desired(&b));
            let removed_scaling = |c: &bosun_plan::Change| {
                matches!(c.resource.kind, Kind::ScalableTarget | Kind::ScalingPolicy | Kind::ScheduledAction)
                    && c.service.as_ref().is_some_and(|s| b.services.contains_key(s))
            };
            prop_assert!(p.changes.iter().all(|c| c.action != Action::Delete || removed_scaling(c)));
        }
    }

    /// Drift in desired counts is planned back, except where the count is ignored.
    #[test]
    fn count_drift_is_healed_unless_ignored(text in stackfile_strategy(), bump in 1i32..4) {
        let d = load(&text, "prop").expect("generated stackfiles are valid");
        let mut live = converge(&d, &Observed::default());
        for s in live.services.values_mut() {
            s.desired_count += bump;
        }
        let p = plan(&d, &live, &Policy::from_desired(&d));
        let expected = d.services.values().filter(|s| s.kind == bosun_stackfile::ServiceKind::Service && !s.ignores_desired_count()).count();
        prop_assert_eq!(p.changes.len(), expected);
        let healed = simulate(&d, &live, &p);
        let again = plan(&d, &healed, &Policy::from_desired(&d));
        prop_assert!(again.is_empty());
    }
}
