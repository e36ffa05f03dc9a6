//! Text plans as a terminal shows them: the compact form of image bumps, colour, and
//! that colour never changes the text (a pipe gets exactly the plain rendering).

use bosun_plan::simulate::simulate;
use bosun_plan::{DiffMode, Observed, Plan, Policy, TextOptions, plan, render_text, render_text_with};
use bosun_stackfile::{Desired, fixtures, load};

/// Five worker services on one registry, `svc-01` to `svc-05`, each at `tag`; the
/// third also at `memory`.
fn five_services(tag: &str, memory: u32) -> Desired {
    let mut text = String::from("services:\n");
    for i in 1..=5 {
        let memory = if i == 3 { memory } else { 256 };
        text.push_str(&format!(
            "  - svc-0{i}:\n      image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc-img:{tag}\n      memory: {memory}\n"
        ));
    }
    load(&text, "ci").expect("a valid stackfile")
}

/// The plan of `desired` against a cluster that runs `live` as bosun applied it.
fn plan_over(live: &Desired, desired: &Desired) -> Plan {
    let observed = simulate(live, &Observed::default(), &plan(live, &Observed::default(), &Policy::from_desired(live)));
    plan(desired, &observed, &Policy::from_desired(desired))
}

fn compact(color: bool) -> TextOptions {
    TextOptions { diff: DiffMode::Compact, color }
}

#[test]
fn an_image_bump_of_five_services_is_one_line_each() {
    let p = plan_over(&five_services("v1", 256), &five_services("v2", 256));
    insta::assert_snapshot!("five_service_bump_compact", render_text_with(&p, compact(false)));
}

#[test]
fn a_service_with_more_than_its_image_changed_shows_its_full_diff() {
    let p = plan_over(&five_services("v1", 256), &five_services("v2", 512));
    let text = render_text_with(&p, compact(false));
    insta::assert_snapshot!("five_service_bump_one_more_change", text);
    assert!(text.contains("~ task definition ci-svc-03\n"), "{text}");
    assert!(text.contains("+  memory: 512"), "{text}");
}

#[test]
fn full_diff_mode_is_the_plain_rendering() {
    let p = plan_over(&five_services("v1", 256), &five_services("v2", 256));
    let full = render_text_with(&p, TextOptions { diff: DiffMode::Full, color: false });
    assert_eq!(full, render_text(&p));
    assert_eq!(full.matches("-  image: ").count(), 5, "{full}");
}

#[test]
fn colour_marks_actions_and_diff_lines() {
    let bump = plan_over(&five_services("v1", 256), &five_services("v2", 512));
    insta::assert_snapshot!("five_service_bump_coloured", render_text_with(&bump, compact(true)));
    let demo = fixtures::desired("demo.yml", "demo");
    let mut pruned = demo.clone();
    pruned.services.remove("mailer");
    pruned.prune = true;
    let p = plan_over(&demo, &pruned);
    insta::assert_snapshot!("prune_coloured", render_text_with(&p, compact(true)));
}

/// Whatever is rendered, its text without the escape codes is the plain rendering:
/// what a pipe or a `NO_COLOR` terminal gets is never different words.
#[test]
fn colour_never_changes_the_text() {
    let demo = fixtures::desired("demo.yml", "demo");
    let mut bumped = demo.clone();
    bumped.services.get_mut("users").unwrap().task_definition.container.image = "httpd:2.5".into();
    bumped.services.get_mut("web").unwrap().desired_count = Some(5);
    let plans = [
        plan(&demo, &Observed::default(), &Policy::default()),
        plan_over(&demo, &bumped),
        plan_over(&demo, &demo),
        plan_over(&five_services("v1", 256), &five_services("v2", 512)),
    ];
    for p in &plans {
        for diff in [DiffMode::Full, DiffMode::Compact] {
            let plain = render_text_with(p, TextOptions { diff, color: false });
            let coloured = render_text_with(p, TextOptions { diff, color: true });
            assert!(!plain.contains('\u{1b}'), "{plain}");
            assert_eq!(anstream::adapter::strip_str(&coloured).to_string(), plain);
        }
    }
}

/// One Fargate service, with the container and platform keys added by `extra`.
fn with_keys(extra: &str) -> Desired {
    let text = format!(
        "vpc:\n  id: vpc-0a1b2c3d\n  subnets: {{private: [subnet-0000001a]}}\n  security_groups: {{private: [sg-0000000b]}}\nservices:\n  - api:\n      image: nginx:1.27\n      launch_type: fargate\n      cpu: 256\n      memory: 512\n{extra}"
    );
    load(&text, "ci").expect("a valid stackfile")
}

#[test]
fn the_task_definition_diff_shows_each_container_and_platform_key() {
    let every = "      command: [\"nginx\", \"-g\", \"daemon off;\"]\n      entrypoint: [/docker-entrypoint.sh]\n      working_directory: /srv\n      user: \"101\"\n      stop_timeout: 90\n      readonly_root_filesystem: true\n      ulimits: [{name: nofile, soft: 1024, hard: 4096}]\n      docker_labels: {team: core}\n      init_process_enabled: true\n      runtime_platform: {cpu_architecture: arm64}\n      ephemeral_storage: 30\n";
    let p = plan_over(&with_keys(""), &with_keys(every));
    let text = render_text(&p);
    insta::assert_snapshot!("container_and_platform_keys_diff", text);

    // Back again: each line goes, and nothing else of the task definition changes.
    let back = render_text(&plan_over(&with_keys(every), &with_keys("")));
    for line in ["-  command: ", "-  ulimit nofile: ", "-runtime_platform: LINUX ARM64", "-ephemeral_storage_gib: 30"] {
        assert!(back.contains(line), "{line} in\n{back}");
    }
}

#[test]
fn changing_only_the_command_is_one_new_revision_of_one_line() {
    let p = plan_over(&with_keys("      command: [a]\n"), &with_keys("      command: [b]\n"));
    let text = render_text(&p);
    assert!(text.contains("    -  command: [\"a\"]\n    +  command: [\"b\"]\n"), "{text}");
    let changed = text
        .lines()
        .filter(|l| {
            (l.starts_with("    -") || l.starts_with("    +")) && !l.starts_with("    ---") && !l.starts_with("    +++")
        })
        .count();
    assert_eq!(changed, 2, "{text}");
    assert!(text.starts_with("cluster ci: 0 to create, 2 to update, 0 to replace, 0 to delete"), "{text}");
}
