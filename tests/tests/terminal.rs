//! `bosun apply` on a terminal: the live view, one line per service that ends in its
//! outcome, seen in a real terminal (a detached tmux pane of a fixed size) the way a
//! user sees it.
//!
//! The screen of the successful apply goes to `$BOSUN_TERMINAL_CAPTURE/apply.txt` when
//! that is set (the README's is `docs/terminal/apply.txt`). tmux comes from Debian's
//! `tmux` package; `deploy/local/ensure-debs` installs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bosun_tests::{CLUSTER, Env, Stackfile, bosun_binary};

/// The pane: wide enough for a rolled-back line's reason, tall enough for the plan.
const COLUMNS: u16 = 120;
const ROWS: u16 = 40;

/// How long the apply in the pane may take (the emulator settles a rollout in seconds).
const APPLY_LIMIT: Duration = Duration::from_secs(120);

/// The services, with names of different lengths so the columns have to line up.
const SERVICES: [&str; 5] = ["api", "web", "worker", "mailer", "reports"];

/// Five services, each with an image of its own that a test bumps by exact text.
fn five_services() -> Stackfile {
    let mut text = String::from(
        "vpc:
  id: ${VPC_ID}
  subnets:
    private:
      - ${PRIVATE_SUBNET_A}
      - ${PRIVATE_SUBNET_B}
  security_groups:
    private:
      - ${PRIVATE_SG}

defaults:
  memory: 128

services:
",
    );
    for (i, name) in SERVICES.iter().enumerate() {
        text.push_str(&format!(
            "  - {name}:\n      image: registry.example.com/{name}:1.0\n      desired_count: {}\n",
            1 + i % 3
        ));
    }
    Stackfile::from_text("five.yml", &text)
}

/// `stackfile` with `service`'s image tag 1.0 replaced by `tag`.
fn with_tag(stackfile: &Stackfile, service: &str, tag: &str) -> Stackfile {
    stackfile.replace(
        &format!("image: registry.example.com/{service}:1.0"),
        &format!("image: registry.example.com/{service}:{tag}"),
    )
}

/// A tmux server of the test's own (its socket in the test's work dir), with one
/// detached pane. Dropping it kills that server, and with it the pane's processes,
/// even when the test panicked.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// Run `script` with `sh` in a new detached pane of `COLUMNS` x `ROWS`.
    fn start(work: &Path, script: &Path) -> Tmux {
        let tmux = Tmux { socket: work.join("tmux.sock") };
        let status = tmux
            .command()
            .args(["new-session", "-d", "-s", "apply", "-x", &COLUMNS.to_string(), "-y", &ROWS.to_string()])
            .arg(format!("sh {}", script.display()))
            .status()
            .expect("run tmux (Debian: tmux; deploy/local/ensure-debs installs it)");
        assert!(status.success(), "tmux new-session failed: {status}");
        tmux
    }

    /// tmux on this server: UTF-8 whatever the locale, and no user configuration.
    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-u").arg("-f").arg("/dev/null").arg("-S").arg(&self.socket);
        cmd
    }

    /// The pane's text, its history included; with `escapes`, its colours as SGR
    /// escape sequences too.
    fn capture(&self, escapes: bool) -> String {
        self.capture_pane(if escapes { &["-S", "-", "-e"] } else { &["-S", "-"] })
    }

    /// What the pane shows now.
    fn screen(&self) -> String {
        self.capture_pane(&[])
    }

    fn capture_pane(&self, flags: &[&str]) -> String {
        let mut cmd = self.command();
        cmd.args(["capture-pane", "-p", "-t", "apply"]).args(flags);
        let out = cmd.output().expect("run tmux capture-pane");
        assert!(out.status.success(), "tmux capture-pane: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).expect("the pane is UTF-8");
        // Without the empty rows under the last line.
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        let end = lines.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
        lines[..end].join("\n") + "\n"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}

/// One `bosun apply` in a tmux pane, ended: its exit code and its screen.
struct Screen {
    code: i32,
    /// What the pane showed while the apply ran, polled, without repeats.
    frames: Vec<String>,
    /// The pane's text.
    text: String,
    /// The pane with its colours (SGR escape sequences).
    styled: String,
}

impl Screen {
    /// The lines of `service`'s live view: lines whose first word is its name (plan
    /// lines start with a marker, the events block with `the` or `(service`).
    fn lines_of(&self, service: &str) -> Vec<&str> {
        self.text.lines().filter(|l| l.split_whitespace().next() == Some(service)).collect()
    }
}

/// Quote `value` for `sh`.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `bosun apply --auto-approve` of `stackfile` in a tmux pane, with the emulator's AWS
/// environment and `extra_env`; waits (at most [`APPLY_LIMIT`]) for it to exit.
async fn apply_in_tmux(env: &Env, stackfile: &Stackfile, extra_env: &[(&str, &str)]) -> Screen {
    let path = env.write(stackfile);
    let work = env.work_dir();
    let exit_file = work.join("apply.exit");
    let _ = std::fs::remove_file(&exit_file);
    let mut script =
        String::from("unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_ECS BOSUN_CLUSTER BOSUN_LOG NO_COLOR\n");
    let vars = env.aws_env().into_iter().chain(extra_env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    for (k, v) in vars.chain([("LANG".to_owned(), "C.UTF-8".to_owned())]) {
        script.push_str(&format!("export {k}={}\n", quoted(&v)));
    }
    script.push_str(&format!(
        "cd {work}\n{bosun} apply -f {path} --cluster {CLUSTER} --auto-approve --poll-interval 200ms --timeout 60s\n\
         echo $? > {exit}.tmp && mv {exit}.tmp {exit}\n\
         # Keep the pane (and its screen) until the test has read it and kills the server;\n\
         # bounded, so a test killed before its cleanup leaves nothing for long.\n\
         sleep 300\n",
        work = quoted(&work.to_string_lossy()),
        bosun = quoted(&bosun_binary().to_string_lossy()),
        path = quoted(&path.to_string_lossy()),
        exit = quoted(&exit_file.to_string_lossy()),
    ));
    let script_path = work.join("apply-in-tmux.sh");
    std::fs::write(&script_path, script).expect("write the pane's script");

    let tmux = Tmux::start(work, &script_path);
    let started = Instant::now();
    let mut frames: Vec<String> = Vec::new();
    let code = loop {
        let frame = tmux.screen();
        if frames.last() != Some(&frame) {
            frames.push(frame);
        }
        if let Ok(text) = std::fs::read_to_string(&exit_file) {
            break text.trim().parse::<i32>().expect("the exit file holds the exit code");
        }
        assert!(
            started.elapsed() < APPLY_LIMIT,
            "bosun apply did not exit within {APPLY_LIMIT:?}; the screen:\n{}",
            tmux.capture(false)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The process has exited; let tmux draw the last of its output.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Screen { code, frames, text: tmux.capture(false), styled: tmux.capture(true) }
}

/// The image a service runs, read through ECS.
async fn image_of(env: &Env, service: &str) -> String {
    let svc = env.service(service).await;
    let td = env.task_definition(svc.task_definition().expect("the service has a task definition")).await;
    td.container_definitions()[0].image().expect("the container has an image").to_owned()
}

#[tokio::test]
async fn a_five_service_bump_shows_one_line_per_service_ending_in_its_outcome() {
    let env = Env::start().await;
    let before = five_services();
    env.converge(&before).await;
    let bumped = SERVICES.iter().fold(before, |sf, s| with_tag(&sf, s, "1.1"));
    // Rollouts that take a few seconds, as real ones take minutes: the lines have
    // something to count.
    env.emulator_config(serde_json::json!({"rollout_describes": 1000, "rollout_seconds": 3})).await;

    let screen = apply_in_tmux(&env, &bumped, &[]).await;
    let text = &screen.text;
    assert_eq!(screen.code, 0, "bosun apply exited {}; the screen:\n{text}", screen.code);

    for service in SERVICES {
        let lines = screen.lines_of(service);
        assert_eq!(lines.len(), 1, "one line for service {service}, not {lines:?}; the screen:\n{text}");
        assert!(lines[0].ends_with("✓ succeeded"), "service {service} ends succeeded: {:?}\n{text}", lines[0]);
    }
    // The lines were live: while the rollouts ran, they said so in place.
    let rolling_out = |frame: &String| {
        SERVICES.iter().all(|s| frame.lines().any(|l| l.starts_with(&format!("  {s} ")) && l.contains("rolling out")))
    };
    assert!(
        screen.frames.iter().any(rolling_out),
        "no screen showed every service rolling out; the screens:\n{}",
        screen.frames.join("\n----\n")
    );
    // The outcomes line up: every service's symbol in one column.
    let columns: Vec<usize> =
        SERVICES.iter().map(|s| screen.lines_of(s)[0].chars().position(|c| c == '✓').expect("a ✓")).collect();
    assert!(columns.windows(2).all(|w| w[0] == w[1]), "the outcomes are not aligned: {columns:?}\n{text}");
    // No scrolling log: neither ECS's events nor the line log's rollout lines.
    for log_text in ["has reached a steady state", "has started", "deployment completed", "tasks running (", "... done"]
    {
        assert!(!text.contains(log_text), "the screen shows the log line `{log_text}`:\n{text}");
    }
    assert!(text.contains(&format!("applied 10 change(s) to cluster {CLUSTER}")), "{text}");
    // Colours are on without NO_COLOR (so the NO_COLOR check of the other test can fail).
    assert!(screen.styled.contains('\u{1b}'), "no colour on the terminal:\n{}", screen.styled);

    // What the lines say happened, happened.
    for service in SERVICES {
        assert_eq!(image_of(&env, service).await, format!("registry.example.com/{service}:1.1"), "service {service}");
    }

    if let Some(dir) = std::env::var_os("BOSUN_TERMINAL_CAPTURE") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("create $BOSUN_TERMINAL_CAPTURE");
        std::fs::write(dir.join("apply.txt"), text).expect("write the capture");
    }
}

#[tokio::test]
async fn a_rolled_back_service_shows_its_outcome_and_its_last_events_under_the_lines() {
    let env = Env::start().await;
    let before = five_services();
    env.converge(&before).await;
    let bumped = with_tag(&with_tag(&before, "api", "1.1"), "reports", "fail");

    let screen = apply_in_tmux(&env, &bumped, &[("NO_COLOR", "1")]).await;
    let text = &screen.text;
    assert_eq!(screen.code, 1, "a rolled-back rollout fails the apply; the screen:\n{text}");

    let reports = screen.lines_of("reports");
    assert_eq!(reports.len(), 1, "one line for reports: {reports:?}\n{text}");
    assert!(reports[0].contains("✗ rolled back by the circuit breaker: "), "{reports:?}\n{text}");
    let api = screen.lines_of("api");
    assert!(api.len() == 1 && api[0].ends_with("✓ succeeded"), "{api:?}\n{text}");
    for untouched in ["web", "worker", "mailer"] {
        // Nothing of theirs changed, so the plan has no line for them.
        assert!(screen.lines_of(untouched).is_empty(), "{untouched} is not in the plan:\n{text}");
    }

    // Under the lines: the last events of reports (and of nobody else), then the error.
    let lines: Vec<&str> = text.lines().collect();
    let heading = lines
        .iter()
        .position(|l| *l == "the last ECS events of service reports:")
        .unwrap_or_else(|| panic!("no events of reports under the lines:\n{text}"));
    let line_of_reports = lines.iter().position(|l| l.split_whitespace().next() == Some("reports")).expect("a line");
    assert!(heading > line_of_reports, "the events come under the lines:\n{text}");
    // An event longer than the pane wraps: count the lines that start one.
    let events: Vec<&str> = lines[heading + 1..]
        .iter()
        .take_while(|l| !l.starts_with("error:"))
        .filter(|l| l.starts_with("  (service reports)"))
        .copied()
        .collect();
    assert!(
        (1..=5).contains(&events.len()) && events.iter().any(|e| e.contains("deployment failed")),
        "the last events of reports: {events:?}\n{text}"
    );
    assert!(!text.contains("the last ECS events of service api"), "api succeeded:\n{text}");
    assert!(text.contains("error: 1 rollout(s) did not succeed: service reports"), "{text}");
    // NO_COLOR: not a single colour in the pane.
    assert!(!screen.styled.contains("\u{1b}["), "NO_COLOR is set but the pane has colours:\n{:?}", screen.styled);

    assert_eq!(image_of(&env, "api").await, "registry.example.com/api:1.1");
    assert_eq!(image_of(&env, "reports").await, "registry.example.com/reports:1.0", "ECS rolled reports back");
}

#[tokio::test]
async fn a_service_with_hooks_shows_each_phase_in_place() {
    let env = Env::start().await;
    let hooks = Stackfile::example("hooks.yml");
    env.converge(&hooks).await;
    let bumped = hooks.replace("python:3.12-slim", "python:3.13-slim");
    // Hook tasks and rollouts that take a few seconds each, so every phase is on the
    // screen long enough to be seen.
    env.emulator_config(serde_json::json!({"rollout_describes": 1000, "task_describes": 1000, "rollout_seconds": 3}))
        .await;

    let screen = apply_in_tmux(&env, &bumped, &[]).await;
    let text = &screen.text;
    assert_eq!(screen.code, 0, "bosun apply exited {}; the screen:\n{text}", screen.code);
    let app = screen.lines_of("app");
    assert!(app.len() == 1 && app[0].ends_with("✓ succeeded"), "{app:?}\n{text}");

    // The one line went through the phases in order.
    let phases: Vec<&str> = screen
        .frames
        .iter()
        .filter_map(|frame| frame.lines().find(|l| l.split_whitespace().next() == Some("app")))
        .filter_map(|line| {
            ["pre-deploy hook", "rolling out", "post-deploy hook"].into_iter().find(|p| line.contains(p))
        })
        .fold(Vec::new(), |mut seen, phase| {
            if seen.last() != Some(&phase) {
                seen.push(phase);
            }
            seen
        });
    assert_eq!(
        phases,
        ["pre-deploy hook", "rolling out", "post-deploy hook"],
        "the screens:\n{}",
        screen.frames.join("\n----\n")
    );
}
