//! What `bosun` writes for people and for scripts: colour only where it is wanted
//! (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`), plain output in a pipe exactly as before,
//! compact image bumps, stackfile errors with a caret on a terminal, and the shell
//! extras (completions, man page, version).

use std::process::Command;

use bosun_tests::{Env, Stackfile, bosun_binary, repo_root};

/// Five workers on one registry, `svc-01` to `svc-05`, all at `tag`.
fn five_services(tag: &str) -> Stackfile {
    let mut text = String::from("services:\n");
    for i in 1..=5 {
        text.push_str(&format!(
            "  - svc-0{i}:\n      image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-img:{tag}\n      memory: 128\n"
        ));
    }
    Stackfile::from_text("five.yml", &text)
}

const ESC: char = '\u{1b}';

#[tokio::test(flavor = "multi_thread")]
async fn a_pipe_gets_plain_text_and_colour_is_only_on_request() {
    let env = Env::start().await;
    env.converge(&five_services("v1")).await;
    let bumped = five_services("v2");
    let file = env.write(&bumped);
    let file = file.to_str().unwrap();
    let plan = |extra: &'static [&'static str], vars: &'static [(&'static str, &'static str)]| {
        let mut args = vec!["plan", "--cluster", bosun_tests::CLUSTER, "-f", file];
        args.extend_from_slice(extra);
        let env = &env;
        async move {
            let run = env.bosun_with_env(&args, vars).await;
            run.expect_code(0);
            run.stdout
        }
    };

    // A pipe: no escape codes, and the full diffs, as bosun always printed them.
    let piped = plan(&[], &[]).await;
    assert!(!piped.contains(ESC), "{piped}");
    assert_eq!(piped.matches("\n    -  image: ").count(), 5, "five full diffs in a pipe:\n{piped}");
    assert_eq!(piped, plan(&["--color", "never", "--diff", "full"], &[]).await);
    assert_eq!(piped, plan(&[], &[("NO_COLOR", "1")]).await);
    // NO_COLOR wins over CLICOLOR_FORCE, as in cargo.
    assert_eq!(piped, plan(&[], &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]).await);

    // Asked for, colour is the same text with escape codes around markers and diffs.
    for coloured in [plan(&["--color", "always"], &[]).await, plan(&[], &[("CLICOLOR_FORCE", "1")]).await] {
        assert!(coloured.contains(&format!("{ESC}[33m~{ESC}[0m task definition")), "{coloured}");
        assert!(coloured.contains(&format!("{ESC}[31m-  image: ")), "{coloured}");
        assert_eq!(strip(&coloured), piped);
    }
    // `--color never` beats CLICOLOR_FORCE.
    assert_eq!(piped, plan(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]).await);

    // Compact: the summary first, then one line per service.
    let compact = plan(&["--diff", "compact"], &[]).await;
    let lines: Vec<&str> = compact.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "cluster {}: 0 to create, 10 to update, 0 to replace, 0 to delete, 0 hook(s) to run",
            bosun_tests::CLUSTER
        )
    );
    let bumps: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with('~')).collect();
    assert_eq!(
        bumps,
        ["svc-01", "svc-02", "svc-03", "svc-04", "svc-05"].map(|s| format!("~ {s}  svc-img:v1 -> v2")),
        "{compact}"
    );
    // The compact plan is the same plan: its hash applies.
    let hash = lines.last().unwrap().strip_prefix("plan hash: ").expect("the hash line").to_owned();
    let applied = env.apply(&bumped, &["--plan-hash", &hash]).await;
    applied.expect_code(0);
    for i in 1..=5 {
        let service = env.service(&format!("svc-0{i}")).await;
        let td = env.task_definition(service.task_definition().unwrap()).await;
        assert_eq!(
            td.container_definitions()[0].image(),
            Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-img:v2")
        );
    }
}

/// The text without its ANSI escape codes.
fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == ESC {
            // CSI: ESC [ parameters final-byte.
            assert_eq!(chars.next(), Some('['), "only CSI sequences in {text:?}");
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

const BAD: &str = "services:\n  - api:\n      image: acme/api:1\n      memory: lots\n      desird_count: 2\n";

#[test]
fn stackfile_errors_are_one_line_each_in_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yml");
    std::fs::write(&file, BAD).unwrap();
    let out = Command::new(bosun_binary()).arg("validate").arg(&file).env_remove("CLICOLOR_FORCE").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let f = file.display();
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "{f}:4:15: services[0].api.memory: expected an integer, found string \"lots\"\n\
             {f}:5:7: services[0].api.desird_count: unknown key `desird_count`; did you mean `desired_count`?\n"
        )
    );
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), each error shows its
/// line with a caret under the column.
#[test]
fn stackfile_errors_point_at_their_column_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yml");
    std::fs::write(&file, BAD).unwrap();
    let command = format!("{} validate {}", bosun_binary().display(), file.display());
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .output()
        .expect("run util-linux's script");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let screen = String::from_utf8(out.stdout).unwrap().replace("\r\n", "\n");
    let f = file.display();
    let expected = format!(
        "error: services[0].api.memory: expected an integer, found string \"lots\"\n \
         --> {f}:4:15\n  |\n4 |       memory: lots\n  |               ^^^^\n"
    );
    assert!(screen.contains(&expected), "expected\n{expected}\nin\n{screen}");
    assert!(screen.contains("5 |       desird_count: 2\n  |       ^^^^^^^^^^^^\n"), "{screen}");
    assert!(!screen.contains(ESC), "NO_COLOR: {screen:?}");
}

#[test]
fn completions_man_page_and_version() {
    let bosun = |args: &[&str]| {
        let out = Command::new(bosun_binary()).args(args).output().unwrap();
        assert!(out.status.success(), "bosun {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // bash reads the script without a syntax error, and it completes subcommands.
    let bash = bosun(&["completions", "bash"]);
    let check = Command::new("bash").args(["-n", "-c", &bash]).status().unwrap();
    assert!(check.success(), "bash -n rejects the completion script");
    for word in ["plan", "apply", "import", "iam-policy", "--plan-hash", "--color"] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    assert!(bosun(&["completions", "zsh"]).starts_with("#compdef bosun"));
    assert!(bosun(&["completions", "fish"]).contains("complete -c bosun"));

    let version = bosun(&["--version"]);
    let commit = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).current_dir(repo_root()).output();
    let commit = match commit {
        Ok(out) if out.status.success() => String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        _ => "unknown commit".to_owned(),
    };
    assert_eq!(version, format!("bosun {} ({commit})\n", env!("CARGO_PKG_VERSION")));

    let man = bosun(&["man"]);
    assert!(man.contains(".TH bosun 1"), "{man}");
    assert!(man.contains(&commit), "the man page names the build: {man}");
    let dir = tempfile::tempdir().unwrap();
    bosun(&["man", "--dir", dir.path().to_str().unwrap()]);
    let plan = std::fs::read_to_string(dir.path().join("bosun-plan.1")).expect("a page per command");
    assert!(plan.contains("\\-\\-diff"), "{plan}");
}
