//! The harness of bosun's end-to-end tests: each test gets its own local AWS emulator
//! (`deploy/local/emulator`, moto with the ECS realism layer) on a free 127.0.0.1 port,
//! runs the real `bosun` binary against it, and checks the end state through the AWS SDK.
//!
//! ```no_run
//! # async fn demo() {
//! use bosun_tests::{Env, Stackfile};
//! let env = Env::start().await;
//! let demo = Stackfile::example("demo.yml");
//! env.converge(&demo).await;
//! assert_eq!(env.service("web").await.desired_count(), 2);
//! # }
//! ```
//!
//! # Layout
//! - [`Env`]: one emulator, the prerequisites of the example stackfiles, SDK clients,
//!   and `bosun` runs against them. Dropping it stops the emulator, even when the test
//!   panicked.
//! - [`Stackfile`]: a stackfile template with `${...}` placeholders, edited by exact
//!   text replacement.
//! - [`Run`]: one finished `bosun` process: exit code, output, `--stats` counts.
//! - [`api`]: `bosun serve api` on 127.0.0.1:0 against the test's emulator, with a
//!   token per role and an HTTP client.
//! - [`scheduler`]: `bosun serve scheduler` processes, and a webhook sink.
//! - [`slack`]: a local stand-in for Slack's Web API and response URLs, requests
//!   signed as Slack signs them, and `bosun serve api` with the Slack app on.
//! - [`browser`]: headless Chromium through chromedriver (WebDriver, fantoccini) for
//!   the web UI's journeys: waits for selectors and text, forms, phone width,
//!   screenshots, and the console's errors. Dropping it ends Chromium and chromedriver.
//! - [`proxy`]: the fault proxy between `bosun` and the emulator (latency, throttling,
//!   5xx, dropped connections, lost responses).

pub mod api;
pub mod browser;
pub mod proxy;
pub mod scheduler;
pub mod slack;

use std::collections::BTreeMap;
use std::fmt;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_ecs::config::{Credentials, Region};
use aws_sdk_ecs::types as ecs;
use aws_sdk_elasticloadbalancingv2::types as elb;
use aws_sdk_route53::types as r53;
pub use bosun_stackfile::fixtures::Prerequisites;
use tokio::process::Command;

/// The cluster every test applies to. Each test has an emulator of its own, so they
/// never collide.
pub const CLUSTER: &str = "demo";

/// How long one `bosun` run may take before the test fails. Applies pass
/// `--timeout 60s`, so a rollout that never settles ends well before this, and nextest
/// (`.config/nextest.toml`) kills a test after 3 minutes.
const BOSUN_RUN_LIMIT: Duration = Duration::from_secs(150);

/// An empty file in the work dir that stands in for `~/.aws/config` and credentials.
const EMPTY_AWS_CONFIG: &str = "aws-config-empty";

/// The emulator's realism settings that the tests rely on being at their defaults.
const EMULATOR_KNOBS: [&str; 4] = [
    "BOSUN_EMULATOR_ROLLOUT_DESCRIBES",
    "BOSUN_EMULATOR_TASK_DESCRIBES",
    "BOSUN_EMULATOR_ROLLOUT_SECONDS",
    "BOSUN_EMULATOR_FAIL_IMAGE",
];

/// The repository root (this package lives in `<repo>/tests`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The `bosun` binary that `cargo build -p bosun` put next to the test executables
/// (`target/debug/deps/<test>` -> `target/debug/bosun`), or `$BOSUN_BIN`.
pub fn bosun_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("BOSUN_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test executable has a path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join(format!("bosun{}", std::env::consts::EXE_SUFFIX)))
        .expect("the test executable lives in target/<profile>/deps");
    assert!(
        bin.is_file(),
        "the bosun binary is missing at {}; build it first with `cargo build -p bosun` (same CARGO_TARGET_DIR and profile as the tests), or set BOSUN_BIN",
        bin.display()
    );
    bin
}

/// Run `bosun validate bad.yml` on `text`, written to a fresh directory, with no AWS
/// endpoint (validation never reaches AWS); assert that it refuses the file (exit 1) and
/// that its errors include each of `expected` (`bad.yml:LINE:COL: path: message` lines).
pub fn assert_invalid(text: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("bad.yml"), text).expect("write the stackfile");
    let out = StdCommand::new(bosun_binary())
        .args(["validate", "bad.yml"])
        .current_dir(dir.path())
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run bosun");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for line in expected {
        assert!(stderr.contains(line), "no `{line}` in:\n{stderr}");
    }
}

/// A running emulator; dropping it stops exactly that emulator (by its state dir).
struct Emulator {
    state_dir: tempfile::TempDir,
    port: u16,
    /// `export K=V` lines printed by `emulator start`.
    vars: BTreeMap<String, String>,
}

impl Emulator {
    fn script() -> PathBuf {
        repo_root().join("deploy/local/emulator")
    }

    fn command(state_dir: &Path, port: u16, action: &str) -> StdCommand {
        let mut cmd = StdCommand::new(Self::script());
        cmd.arg(action)
            .env("BOSUN_EMULATOR_PORT", port.to_string())
            .env("BOSUN_EMULATOR_STATE_DIR", state_dir)
            // If this test process is killed before its cleanup runs (a nextest
            // timeout), the emulator notices and stops itself.
            .env("BOSUN_EMULATOR_WATCH_PID", std::process::id().to_string())
            .stdin(Stdio::null());
        for knob in EMULATOR_KNOBS {
            cmd.env_remove(knob);
        }
        cmd
    }

    /// Start on a free port. Another process may take the port between our probe and
    /// the emulator's bind; then try another one.
    async fn start() -> Self {
        let mut failures = Vec::new();
        for _ in 0..3 {
            let state_dir =
                tempfile::Builder::new().prefix("bosun-emulator-").tempdir().expect("create a temporary state dir");
            let port = free_port();
            let mut cmd = Command::from(Self::command(state_dir.path(), port, "start"));
            let out = cmd.kill_on_drop(true).output().await.expect("run deploy/local/emulator start");
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            if out.status.success() {
                let vars = parse_exports(&String::from_utf8_lossy(&out.stdout));
                return Emulator { state_dir, port, vars };
            }
            // Stop whatever half-started (the script only ever stops its own PID).
            let _ = Self::command(state_dir.path(), port, "stop").output();
            failures.push(format!("port {port}: {}\n{stderr}", out.status));
            if !stderr.contains("already in use") {
                break;
            }
        }
        panic!("deploy/local/emulator start failed:\n{}", failures.join("\n"));
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        match Self::command(self.state_dir.path(), self.port, "stop").output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                eprintln!("emulator stop on port {} failed: {}", self.port, String::from_utf8_lossy(&out.stderr))
            }
            Err(err) => eprintln!("emulator stop on port {} could not run: {err}", self.port),
        }
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("bind 127.0.0.1:0").port()
}

fn parse_exports(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches(['"', '\'']).to_owned()))
        .collect()
}

/// Creates what the example stackfiles' `${...}` placeholders stand for in the
/// emulator, the way `deploy/local/demo` creates them: a VPC with DNS hostnames (Cloud
/// Map namespaces need them), public and private subnets in two zones, a security group
/// of each kind, and the hosted zone `demo.example.com`.
async fn create_prerequisites(ec2: &aws_sdk_ec2::Client, route53: &aws_sdk_route53::Client) -> Prerequisites {
    let vpc_id = ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .send()
        .await
        .expect("CreateVpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("the new VPC has an id")
        .to_owned();
    ec2.modify_vpc_attribute()
        .vpc_id(&vpc_id)
        .enable_dns_hostnames(aws_sdk_ec2::types::AttributeBooleanValue::builder().value(true).build())
        .send()
        .await
        .expect("ModifyVpcAttribute");
    let subnet = |cidr: &'static str, az: &'static str| {
        let vpc_id = vpc_id.clone();
        async move {
            ec2.create_subnet()
                .vpc_id(vpc_id)
                .cidr_block(cidr)
                .availability_zone(az)
                .send()
                .await
                .expect("CreateSubnet")
                .subnet()
                .and_then(|s| s.subnet_id())
                .expect("the new subnet has an id")
                .to_owned()
        }
    };
    let public_subnets = [subnet("10.42.0.0/24", "us-east-1a").await, subnet("10.42.1.0/24", "us-east-1b").await];
    let private_subnets = [subnet("10.42.10.0/24", "us-east-1a").await, subnet("10.42.11.0/24", "us-east-1b").await];
    let sg = |name: &'static str| {
        let vpc_id = vpc_id.clone();
        async move {
            ec2.create_security_group()
                .vpc_id(vpc_id)
                .group_name(name)
                .description(name)
                .send()
                .await
                .expect("CreateSecurityGroup")
                .group_id()
                .expect("the new security group has an id")
                .to_owned()
        }
    };
    let public_sg = sg("bosun-test-public").await;
    let private_sg = sg("bosun-test-private").await;
    let zone = route53
        .create_hosted_zone()
        .name("demo.example.com")
        .caller_reference("bosun-tests")
        .send()
        .await
        .expect("CreateHostedZone");
    let zone_id = zone
        .hosted_zone()
        .map(|z| z.id())
        .expect("the new zone has an id")
        .trim_start_matches("/hostedzone/")
        .to_owned();
    Prerequisites { vpc_id, public_subnets, private_subnets, public_sg, private_sg, zone_id }
}

/// A stackfile template: YAML with the `${...}` placeholders of `stackfiles/*.yml`,
/// filled in by [`Env::write`]. Edits are exact text replacements that fail loudly
/// when the text is not there, so a changed example cannot silently weaken a test.
#[derive(Debug, Clone)]
pub struct Stackfile {
    name: String,
    template: String,
}

impl Stackfile {
    /// One of the examples in `<repo>/stackfiles/`.
    pub fn example(file: &str) -> Self {
        let path = repo_root().join("stackfiles").join(file);
        let template = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        Stackfile { name: file.to_owned(), template }
    }

    /// A stackfile written out in the test.
    pub fn from_text(name: &str, template: &str) -> Self {
        Stackfile { name: name.to_owned(), template: template.to_owned() }
    }

    /// The template text.
    pub fn text(&self) -> &str {
        &self.template
    }

    /// Replace the one occurrence of `from` with `to`.
    pub fn replace(&self, from: &str, to: &str) -> Self {
        let n = self.template.matches(from).count();
        assert_eq!(n, 1, "expected exactly one `{from}` in {} to replace, found {n}:\n{}", self.name, self.template);
        Stackfile { name: self.name.clone(), template: self.template.replacen(from, to, 1) }
    }

    /// Remove a service of a nysa-style list (`  - NAME:` and its indented block).
    pub fn without_service(&self, service: &str) -> Self {
        let header = format!("  - {service}:");
        let lines: Vec<&str> = self.template.lines().collect();
        let start = lines.iter().position(|l| l.trim_end() == header).unwrap_or_else(|| {
            panic!("no service `{service}` (a line `{header}`) in {}:\n{}", self.name, self.template)
        });
        let end = lines[start + 1..]
            .iter()
            .position(|l| l.starts_with("  - ") || (!l.is_empty() && !l.starts_with(' ') && !l.starts_with('#')))
            .map_or(lines.len(), |i| start + 1 + i);
        let mut kept: Vec<&str> = lines[..start].to_vec();
        kept.extend_from_slice(&lines[end..]);
        Stackfile { name: self.name.clone(), template: kept.join("\n") + "\n" }
    }
}

/// One finished `bosun` process.
#[derive(Debug, Clone)]
pub struct Run {
    /// The arguments, for messages.
    pub args: Vec<String>,
    /// Exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Standard output (plans).
    pub stdout: String,
    /// Standard error (progress, errors, `--stats`).
    pub stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`bosun {}` exited {}\n--- stdout\n{}--- stderr\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

impl Run {
    /// Fail the test, showing the run, unless it exited with `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code of {self}");
        self
    }

    /// Fail the test unless every line of `expected` is a whole line of stdout
    /// (trailing spaces ignored).
    #[track_caller]
    pub fn expect_lines<S: AsRef<str>>(&self, expected: &[S]) -> &Self {
        for want in expected.iter().map(AsRef::as_ref) {
            assert!(self.stdout.lines().any(|l| l.trim_end() == want), "no line `{want}` in stdout of {self}");
        }
        self
    }

    /// Fail the test if any line of stdout starts with `prefix` (after indentation).
    #[track_caller]
    pub fn expect_no_line_starting(&self, prefix: &str) -> &Self {
        assert!(
            !self.stdout.lines().any(|l| l.trim_start().starts_with(prefix)),
            "unexpected line `{prefix}...` in stdout of {self}"
        );
        self
    }

    /// Fail the test unless stderr contains `text`.
    #[track_caller]
    pub fn expect_stderr(&self, text: &str) -> &Self {
        assert!(self.stderr.contains(text), "stderr does not contain `{text}`: {self}");
        self
    }

    /// The `--stats` block of stderr.
    #[track_caller]
    pub fn stats(&self) -> Stats {
        Stats::parse(&self.stderr)
            .unwrap_or_else(|| panic!("no `aws calls:` statistics in stderr (was --stats passed?): {self}"))
    }

    /// The `plan hash: <hex>` line of a plan.
    #[track_caller]
    pub fn plan_hash(&self) -> String {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix("plan hash: "))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no `plan hash:` line in {self}"))
    }
}

/// AWS calls counted by `--stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Describe/List/Get calls.
    pub reads: u64,
    /// Every other call.
    pub mutating: u64,
    /// Calls by (service, operation), e.g. `("ECS", "DescribeServices")`.
    pub calls: BTreeMap<(String, String), u64>,
}

impl Stats {
    /// Parse `aws calls: N read, M mutating` and the per-operation lines under it:
    /// `  <read|mutating> <service, may contain spaces> <operation> <calls>`.
    pub fn parse(stderr: &str) -> Option<Self> {
        let mut lines = stderr.lines().skip_while(|l| !l.starts_with("aws calls: "));
        let totals = lines.next()?.strip_prefix("aws calls: ")?;
        let (reads, mutating) = totals.split_once(" read, ")?;
        let mut stats = Stats {
            reads: reads.trim().parse().ok()?,
            mutating: mutating.trim().strip_suffix(" mutating")?.trim().parse().ok()?,
            calls: BTreeMap::new(),
        };
        for line in lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            let ["read" | "mutating", service @ .., operation, calls] = words.as_slice() else { break };
            let Ok(calls) = calls.parse() else { break };
            stats.calls.insert((service.join(" "), (*operation).to_owned()), calls);
        }
        Some(stats)
    }

    /// Calls of `operation`, summed over services.
    pub fn calls(&self, operation: &str) -> u64 {
        self.calls.iter().filter(|((_, op), _)| op == operation).map(|(_, n)| n).sum()
    }
}

/// One test's world: an emulator, the prerequisites, SDK clients, and `bosun`.
pub struct Env {
    /// Rendered stackfiles and an empty AWS config for `bosun`.
    work: tempfile::TempDir,
    written: AtomicUsize,
    /// What the `${...}` placeholders stand for.
    pub prereqs: Prerequisites,
    /// ECS client on the emulator.
    pub ecs: aws_sdk_ecs::Client,
    /// ELBv2 client on the emulator.
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// Route53 client on the emulator.
    pub route53: aws_sdk_route53::Client,
    /// Cloud Map client on the emulator.
    pub discovery: aws_sdk_servicediscovery::Client,
    /// EC2 client on the emulator.
    pub ec2: aws_sdk_ec2::Client,
    /// The SDK configuration of the emulator, for more clients.
    pub sdk: aws_config::SdkConfig,
    /// Where `bosun` processes send their AWS calls when not to the emulator itself: a
    /// fault proxy (see [`Env::route_through`]).
    bosun_endpoint: Mutex<Option<String>>,
    /// The access key `bosun` processes sign with, when not the emulator's own (see
    /// [`Env::sign_as`]).
    bosun_credentials: Mutex<Option<(String, String)>>,
    // Last, so it is dropped (stopped) after everything that talks to it.
    emulator: Emulator,
}

impl Env {
    /// Start an emulator of this test's own and create the prerequisites.
    pub async fn start() -> Self {
        let emulator = Emulator::start().await;
        let var = |k: &str| {
            emulator
                .vars
                .get(k)
                .cloned()
                .unwrap_or_else(|| panic!("emulator start printed no {k}: {:?}", emulator.vars))
        };
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(var("AWS_ENDPOINT_URL"))
            .region(Region::new(var("AWS_REGION")))
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .load()
            .await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let route53 = aws_sdk_route53::Client::new(&sdk);
        let prereqs = create_prerequisites(&ec2, &route53).await;
        let work = tempfile::Builder::new().prefix("bosun-test-").tempdir().expect("create a temporary work dir");
        std::fs::write(work.path().join(EMPTY_AWS_CONFIG), "").expect("write an empty AWS config");
        Env {
            work,
            written: AtomicUsize::new(0),
            prereqs,
            ecs: aws_sdk_ecs::Client::new(&sdk),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&sdk),
            route53,
            discovery: aws_sdk_servicediscovery::Client::new(&sdk),
            ec2,
            sdk,
            bosun_endpoint: Mutex::new(None),
            bosun_credentials: Mutex::new(None),
            emulator,
        }
    }

    /// Start a fault proxy in front of this test's emulator. Nothing goes through it
    /// until [`Env::route_through`].
    pub async fn proxy(&self, faults: proxy::Faults) -> proxy::AwsProxy {
        proxy::AwsProxy::start(self.endpoint(), &faults, self.work_dir()).await
    }

    /// Send the AWS calls of every `bosun` process started from now on (CLI runs and
    /// servers) through `proxy`. The test's own SDK clients keep talking to the emulator
    /// directly, so the end state is checked without faults.
    pub fn route_through(&self, proxy: &proxy::AwsProxy) {
        *self.bosun_endpoint.lock().expect("not poisoned") = Some(proxy.endpoint().to_owned());
    }

    /// Sign the AWS calls of every `bosun` process started from now on with this access
    /// key (an IAM user's, for runs the emulator authorizes against a policy). The test's
    /// own SDK clients keep the emulator's keys.
    pub fn sign_as(&self, access_key_id: &str, secret_access_key: &str) {
        *self.bosun_credentials.lock().expect("not poisoned") =
            Some((access_key_id.to_owned(), secret_access_key.to_owned()));
    }

    /// The emulator's endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.emulator.vars["AWS_ENDPOINT_URL"]
    }

    /// The environment a process needs to reach the emulator (and nothing else), or the
    /// fault proxy in front of it after [`Env::route_through`].
    pub fn aws_env(&self) -> Vec<(String, String)> {
        let empty_config = self.work.path().join(EMPTY_AWS_CONFIG).to_string_lossy().into_owned();
        let mut vars: Vec<(String, String)> = self.emulator.vars.clone().into_iter().collect();
        if let Some(endpoint) = self.bosun_endpoint.lock().expect("not poisoned").clone() {
            for (k, v) in &mut vars {
                if k == "AWS_ENDPOINT_URL" {
                    *v = endpoint.clone();
                }
            }
        }
        if let Some((key, secret)) = self.bosun_credentials.lock().expect("not poisoned").clone() {
            vars.retain(|(k, _)| {
                !matches!(k.as_str(), "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN")
            });
            vars.push(("AWS_ACCESS_KEY_ID".into(), key));
            vars.push(("AWS_SECRET_ACCESS_KEY".into(), secret));
        }
        vars.push(("AWS_CONFIG_FILE".into(), empty_config.clone()));
        vars.push(("AWS_SHARED_CREDENTIALS_FILE".into(), empty_config));
        vars.push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
        vars
    }

    /// An IAM role `name` that ECS tasks may assume, made with the AWS CLI as an account's
    /// own tooling would (preflight checks that the roles a stackfile names exist); its ARN.
    pub fn create_task_role(&self, name: &str) -> String {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let out = StdCommand::new(repo_root().join(".venv/bin/aws"))
            .args([
                "iam",
                "create-role",
                "--role-name",
                name,
                "--assume-role-policy-document",
                trust,
                "--output",
                "json",
            ])
            .env_remove("AWS_PROFILE")
            .envs(self.aws_env())
            .output()
            .expect("run the AWS CLI");
        assert!(out.status.success(), "aws iam create-role: {}", String::from_utf8_lossy(&out.stderr));
        let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the CLI prints JSON");
        body["Role"]["Arn"].as_str().expect("the role has an ARN").to_owned()
    }

    /// Change the emulator's realism settings at runtime (`POST /_bosun/config`), e.g.
    /// `{"rollout_describes": 1000, "rollout_seconds": 4}` for rollouts that take 4 s.
    pub async fn emulator_config(&self, settings: serde_json::Value) {
        let resp = reqwest::Client::new()
            .post(format!("{}/_bosun/config", self.endpoint()))
            .json(&settings)
            .send()
            .await
            .expect("POST /_bosun/config");
        assert!(resp.status().is_success(), "the emulator refused {settings}: {}", resp.status());
    }

    /// This test's scratch directory.
    pub fn work_dir(&self) -> &Path {
        self.work.path()
    }

    /// Stop the emulator now (it is also stopped on drop).
    pub fn stop_emulator(&self) {
        let out = Emulator::command(self.emulator.state_dir.path(), self.emulator.port, "stop")
            .output()
            .expect("run emulator stop");
        assert!(out.status.success(), "emulator stop failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Fill in the placeholders and write the stackfile; returns its path.
    pub fn write(&self, stackfile: &Stackfile) -> PathBuf {
        let text = self.prereqs.fill(&stackfile.template);
        let unfilled = text.lines().find(|l| !l.trim_start().starts_with('#') && l.contains("${"));
        assert!(unfilled.is_none(), "unknown placeholder in {}: {unfilled:?}", stackfile.name);
        let n = self.written.fetch_add(1, Ordering::Relaxed);
        let path = self.work.path().join(format!("{n:02}-{}", stackfile.name));
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// A `bosun` server process (`args` start with `serve`) on the emulator, not yet
    /// started: no stdin or stdout, text logs on piped stderr, killed when dropped.
    pub fn server(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bosun_binary());
        cmd.args(args)
            .current_dir(self.work_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .env("BOSUN_LOG_FORMAT", "text")
            .env_remove("BOSUN_LOG")
            .envs(self.aws_env());
        cmd
    }

    /// Run `bosun` with the emulator's AWS environment and nothing else of ours:
    /// no profile, no shared config, no BOSUN_* settings. Stdin is not a terminal.
    pub async fn bosun(&self, args: &[&str]) -> Run {
        self.bosun_with_env(args, &[]).await
    }

    /// [`Env::bosun`] with more environment variables set.
    pub async fn bosun_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(bosun_binary());
        cmd.args(args).current_dir(self.work.path()).stdin(Stdio::null()).kill_on_drop(true);
        for k in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL_ECS",
            "BOSUN_CLUSTER",
            "BOSUN_POLL_INTERVAL",
            "BOSUN_LOG",
            // Colour is decided by the test, not by the shell that runs it.
            "NO_COLOR",
            "CLICOLOR",
            "CLICOLOR_FORCE",
        ] {
            cmd.env_remove(k);
        }
        // The environment `emulator start` printed (AWS_ENDPOINT_URL, region, keys), with
        // the endpoint of the fault proxy if the test routes through one.
        cmd.envs(self.aws_env());
        cmd.envs(env.iter().copied());
        let out = tokio::time::timeout(BOSUN_RUN_LIMIT, cmd.output())
            .await
            .unwrap_or_else(|_| panic!("`bosun {}` did not finish within {BOSUN_RUN_LIMIT:?}", args.join(" ")))
            .expect("run the bosun binary");
        Run {
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `bosun plan --detailed-exitcode --stats` of the stackfile, plus `extra` args.
    pub async fn plan(&self, stackfile: &Stackfile, extra: &[&str]) -> Run {
        let path = self.write(stackfile);
        let path = path.to_str().expect("temporary paths are UTF-8");
        let mut args = vec!["plan", "--cluster", CLUSTER, "-f", path, "--detailed-exitcode", "--stats"];
        args.extend_from_slice(extra);
        self.bosun(&args).await
    }

    /// `bosun apply --auto-approve --stats`, polling every 200ms and waiting at most
    /// 60s per rollout, plus `extra` args.
    pub async fn apply(&self, stackfile: &Stackfile, extra: &[&str]) -> Run {
        let path = self.write(stackfile);
        let path = path.to_str().expect("temporary paths are UTF-8");
        let mut args = vec![
            "apply",
            "--cluster",
            CLUSTER,
            "-f",
            path,
            "--auto-approve",
            "--poll-interval",
            "200ms",
            "--timeout",
            "60s",
            "--stats",
        ];
        args.extend_from_slice(extra);
        self.bosun(&args).await
    }

    /// Apply and require success; returns the run.
    pub async fn converge(&self, stackfile: &Stackfile) -> Run {
        let run = self.apply(stackfile, &[]).await;
        run.expect_code(0);
        run
    }

    /// Require that a plan of the stackfile is empty and an apply makes no AWS change.
    pub async fn assert_converged(&self, stackfile: &Stackfile) {
        let plan = self.plan(stackfile, &[]).await;
        plan.expect_code(0)
            .expect_lines(&[&format!("cluster {CLUSTER}: no changes; live state matches the stackfile.")]);
        let apply = self.apply(stackfile, &[]).await;
        apply.expect_code(0);
        assert_eq!(apply.stats().mutating, 0, "a converged apply made mutating calls: {apply}");
    }

    // ---- reading AWS, for assertions ----

    /// An ECS service of the cluster (with tags), whatever its status.
    pub async fn service(&self, name: &str) -> ecs::Service {
        self.find_service(name).await.unwrap_or_else(|| panic!("service {name} does not exist in cluster {CLUSTER}"))
    }

    /// An ECS service of the cluster (with tags), if ECS knows it.
    pub async fn find_service(&self, name: &str) -> Option<ecs::Service> {
        let out = self
            .ecs
            .describe_services()
            .cluster(CLUSTER)
            .services(name)
            .include(ecs::ServiceField::Tags)
            .send()
            .await
            .expect("DescribeServices");
        out.services().iter().find(|s| s.service_name() == Some(name)).cloned()
    }

    /// Names of the ACTIVE services of the cluster, sorted.
    pub async fn active_services(&self) -> Vec<String> {
        let arns = self.ecs.list_services().cluster(CLUSTER).max_results(100).send().await.expect("ListServices");
        let mut names: Vec<String> =
            arns.service_arns().iter().map(|a| a.rsplit('/').next().unwrap_or(a).to_owned()).collect();
        names.sort();
        names
    }

    /// A task definition by ARN or `family:revision`.
    pub async fn task_definition(&self, arn: &str) -> ecs::TaskDefinition {
        self.ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .expect("DescribeTaskDefinition")
            .task_definition()
            .cloned()
            .expect("DescribeTaskDefinition returns the task definition")
    }

    /// ARNs of every revision of exactly this family (ACTIVE or not).
    pub async fn revisions(&self, family: &str) -> Vec<String> {
        let out = self.ecs.list_task_definitions().family_prefix(family).send().await.expect("ListTaskDefinitions");
        out.task_definition_arns()
            .iter()
            .filter(|a| a.rsplit_once('/').and_then(|(_, fr)| fr.rsplit_once(':')).is_some_and(|(f, _)| f == family))
            .cloned()
            .collect()
    }

    /// The running task definition of a service, as `family:revision`.
    pub async fn running_revision(&self, service: &str) -> String {
        let arn = self.service(service).await.task_definition().expect("a service has a task definition").to_owned();
        arn.rsplit('/').next().unwrap_or(&arn).to_owned()
    }

    /// Load balancers whose names start with `<cluster>-`.
    pub async fn load_balancers(&self) -> Vec<elb::LoadBalancer> {
        let out = self.elb.describe_load_balancers().send().await.expect("DescribeLoadBalancers");
        let prefix = format!("{CLUSTER}-");
        out.load_balancers()
            .iter()
            .filter(|l| l.load_balancer_name().is_some_and(|n| n.starts_with(&prefix)))
            .cloned()
            .collect()
    }

    /// Target groups whose names start with `<cluster>-`.
    pub async fn target_groups(&self) -> Vec<elb::TargetGroup> {
        let out = self.elb.describe_target_groups().send().await.expect("DescribeTargetGroups");
        let prefix = format!("{CLUSTER}-");
        out.target_groups()
            .iter()
            .filter(|t| t.target_group_name().is_some_and(|n| n.starts_with(&prefix)))
            .cloned()
            .collect()
    }

    /// Tags of an ELBv2 resource.
    pub async fn elb_tags(&self, arn: &str) -> BTreeMap<String, String> {
        let out = self.elb.describe_tags().resource_arns(arn).send().await.expect("DescribeTags");
        out.tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect()
    }

    /// Record sets of the test zone named `name` (e.g. `www.demo.example.com.`).
    pub async fn records(&self, name: &str) -> Vec<r53::ResourceRecordSet> {
        let out = self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(&self.prereqs.zone_id)
            .send()
            .await
            .expect("ListResourceRecordSets");
        out.resource_record_sets().iter().filter(|r| r.name().eq_ignore_ascii_case(name)).cloned().collect()
    }

    /// Cloud Map services (every namespace) by name.
    pub async fn discovery_services(&self) -> BTreeMap<String, aws_sdk_servicediscovery::types::ServiceSummary> {
        let out = self.discovery.list_services().send().await.expect("ListServices (Cloud Map)");
        out.services().iter().map(|s| (s.name().unwrap_or_default().to_owned(), s.clone())).collect()
    }

    // ---- changing AWS behind bosun's back ----

    /// Create the cluster without bosun (untagged).
    pub async fn create_cluster_directly(&self) {
        self.ecs.create_cluster().cluster_name(CLUSTER).send().await.expect("CreateCluster");
    }

    /// Register an untagged task definition and create an untagged EC2 service with
    /// it in the cluster, as someone else's tooling would. Returns the service ARN.
    pub async fn create_unowned_service(&self, name: &str, family: &str, image: &str, desired_count: i32) -> String {
        let td = self
            .ecs
            .register_task_definition()
            .family(family)
            .container_definitions(
                ecs::ContainerDefinition::builder().name(name).image(image).memory(128).essential(true).build(),
            )
            .send()
            .await
            .expect("RegisterTaskDefinition");
        let td_arn = td.task_definition().and_then(|t| t.task_definition_arn()).expect("registered").to_owned();
        let out = self
            .ecs
            .create_service()
            .cluster(CLUSTER)
            .service_name(name)
            .task_definition(td_arn)
            .desired_count(desired_count)
            .launch_type(ecs::LaunchType::Ec2)
            .send()
            .await
            .expect("CreateService");
        out.service().and_then(|s| s.service_arn()).expect("created").to_owned()
    }
}

/// ECS tags as a map.
pub fn ecs_tags(tags: &[ecs::Tag]) -> BTreeMap<String, String> {
    tags.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned()))).collect()
}

/// The ownership tags bosun writes on a resource of `service` (or of the cluster).
pub fn ownership(service: Option<&str>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::from([
        ("bosun:managed-by".to_owned(), "bosun".to_owned()),
        ("bosun:cluster".to_owned(), CLUSTER.to_owned()),
    ]);
    if let Some(s) = service {
        m.insert("bosun:service".to_owned(), s.to_owned());
    }
    m
}

/// Fail unless `tags` contain every pair of `expected`.
#[track_caller]
pub fn assert_tags_include(tags: &BTreeMap<String, String>, expected: &BTreeMap<String, String>, what: &str) {
    for (k, v) in expected {
        assert_eq!(tags.get(k), Some(v), "{what}: tag {k} should be {v}; tags are {tags:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stats_with_multi_word_services() {
        let stderr = "applied 1 change(s)\naws calls: 5 read, 2 mutating\n  read     ECS                        DescribeServices                 3\n  read     Elastic Load Balancing v2  DescribeTargetGroups             2\n  mutating ECS                        UpdateService                    2\nerror: later\n";
        let stats = Stats::parse(stderr).expect("parses");
        assert_eq!((stats.reads, stats.mutating), (5, 2));
        assert_eq!(stats.calls("DescribeTargetGroups"), 2);
        assert_eq!(stats.calls[&("Elastic Load Balancing v2".to_owned(), "DescribeTargetGroups".to_owned())], 2);
        assert_eq!(stats.calls("UpdateService"), 2);
        assert_eq!(stats.calls.len(), 3);
    }

    #[test]
    fn removes_one_service_block() {
        let sf = Stackfile::from_text(
            "x.yml",
            "services:\n  - a:\n      image: a\n\n  - b:\n      image: b\n  - c:\n      image: c\nprune: true\n",
        );
        let text = sf.without_service("b").text().to_owned();
        assert_eq!(text, "services:\n  - a:\n      image: a\n\n  - c:\n      image: c\nprune: true\n");
        assert!(!sf.without_service("c").text().contains("image: c"));
    }

    #[test]
    #[should_panic(expected = "exactly one")]
    fn a_replacement_that_finds_nothing_fails() {
        let _ = Stackfile::from_text("x.yml", "a: 1\n").replace("b: 2", "b: 3");
    }
}
