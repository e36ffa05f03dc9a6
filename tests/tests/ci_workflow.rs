//! The CI recipe of `deploy/ci` as a pull request goes through it: the GitHub workflow's
//! own `run:` steps, read from `deploy/ci/github/bosun.yml`, run with bash in a git
//! repository of the test's own, against the local AWS emulator.
//!
//! On a branch that changes an image, the plan job posts one comment with the Markdown
//! plan and its hash, and a second push updates that comment rather than adding one.
//! After the merge, the apply job applies with `--plan-hash` from the comment, and the
//! service runs the new image. If the live state changed after the review, the apply
//! job fails and changes nothing.
//!
//! The stand-in for GitHub's REST API ([`GitHub`]) is the only fake: no test may reach
//! GitHub. It keeps comments in memory and answers the calls `bosun-ci` makes (list,
//! create and update issue comments, the pull requests of a commit) in GitHub's
//! shapes. Steps with `uses:` (checkout, AWS credentials) are skipped, and so are the
//! steps that install bosun, marked `id: install`: the `bosun` built for these tests is
//! first on PATH instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, patch};
use axum::{Json, Router};
use bosun_tests::{CLUSTER, Env, Stackfile, bosun_binary, repo_root};
use serde_json::{Value, json};
use tokio::process::Command;

const TOKEN: &str = "ghs_test0token0for0the0stand0in";
const REPO: &str = "acme/infra";
const PR: u64 = 7;
/// Whose comments bosun-ci trusts by default: the GITHUB_TOKEN's.
const BOT: &str = "github-actions[bot]";
/// How long one job (all its steps) may take; a plan is a few seconds, an apply waits
/// for a rollout.
const JOB_LIMIT: Duration = Duration::from_secs(150);

/// A one-service stackfile, quick to converge; `${...}` as in `stackfiles/`.
const STACKFILE: &str = "\
vpc:
  id: ${VPC_ID}
  subnets:
    private: [${PRIVATE_SUBNET_A}, ${PRIVATE_SUBNET_B}]
  security_groups:
    private: [${PRIVATE_SG}]
services:
  - web:
      image: public.ecr.aws/nginx/nginx:1.27
      desired_count: 1
      memory: 128
";

// ---- the stand-in for GitHub ----

#[derive(Debug, Clone)]
struct Comment {
    id: u64,
    issue: u64,
    login: String,
    body: String,
}

#[derive(Default)]
struct Forge {
    comments: Vec<Comment>,
    next_id: u64,
    /// Pull requests by the commit they were merged as.
    merged: BTreeMap<String, u64>,
    /// `METHOD path` of every request, in order.
    log: Vec<String>,
}

type Shared = Arc<Mutex<Forge>>;

/// GitHub's REST API for one repository, on 127.0.0.1:0.
struct GitHub {
    url: String,
    forge: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl GitHub {
    async fn start() -> Self {
        let forge: Shared = Arc::new(Mutex::new(Forge { next_id: 1_000, ..Forge::default() }));
        let app = Router::new()
            .route("/repos/{owner}/{repo}/issues/{issue}/comments", get(list_comments).post(create_comment))
            .route("/repos/{owner}/{repo}/issues/comments/{id}", patch(update_comment))
            .route("/repos/{owner}/{repo}/commits/{sha}/pulls", get(pulls_of_commit))
            .with_state(forge.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the GitHub stand-in");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, forge, server }
    }

    fn comments(&self) -> Vec<Comment> {
        self.forge.lock().expect("forge lock").comments.clone()
    }

    fn bot_comments(&self) -> Vec<Comment> {
        self.comments().into_iter().filter(|c| c.login == BOT).collect()
    }

    fn log(&self) -> Vec<String> {
        self.forge.lock().expect("forge lock").log.clone()
    }

    /// A comment by someone else, as anyone who can comment may write.
    fn comment_as(&self, login: &str, body: &str) {
        let mut f = self.forge.lock().expect("forge lock");
        f.next_id += 1;
        let id = f.next_id;
        f.comments.push(Comment { id, issue: PR, login: login.into(), body: body.into() });
    }

    fn merged_as(&self, sha: &str, pr: u64) {
        self.forge.lock().expect("forge lock").merged.insert(sha.into(), pr);
    }
}

impl Drop for GitHub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A comment as GitHub shows it (the fields bosun-ci could read, and a few more).
fn comment_json(c: &Comment) -> Value {
    let api = format!("https://api.github.com/repos/{REPO}");
    json!({
        "url": format!("{api}/issues/comments/{}", c.id),
        "html_url": format!("https://github.com/{REPO}/pull/{}#issuecomment-{}", c.issue, c.id),
        "issue_url": format!("{api}/issues/{}", c.issue),
        "id": c.id,
        "node_id": format!("IC_{}", c.id),
        "user": { "login": c.login, "id": 41898282, "type": "Bot" },
        "author_association": "NONE",
        "body": c.body,
        "reactions": { "url": format!("{api}/issues/comments/{}/reactions", c.id), "total_count": 0 },
    })
}

fn authorized(forge: &Shared, headers: &HeaderMap, what: String) -> Result<(), StatusCode> {
    forge.lock().expect("forge lock").log.push(what);
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth == Some(&format!("Bearer {TOKEN}")) { Ok(()) } else { Err(StatusCode::UNAUTHORIZED) }
}

fn in_repo(owner: &str, repo: &str) -> Result<(), StatusCode> {
    if format!("{owner}/{repo}") == REPO { Ok(()) } else { Err(StatusCode::NOT_FOUND) }
}

async fn list_comments(
    State(forge): State<Shared>,
    UrlPath((owner, repo, issue)): UrlPath<(String, String, u64)>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    authorized(&forge, &headers, format!("GET comments of #{issue}"))?;
    in_repo(&owner, &repo)?;
    let per_page: usize = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(30).min(100);
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let f = forge.lock().expect("forge lock");
    let all: Vec<Value> = f.comments.iter().filter(|c| c.issue == issue).map(comment_json).collect();
    Ok(Json(Value::Array(all.into_iter().skip((page - 1) * per_page).take(per_page).collect())))
}

async fn create_comment(
    State(forge): State<Shared>,
    UrlPath((owner, repo, issue)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), StatusCode> {
    authorized(&forge, &headers, format!("POST comment on #{issue}"))?;
    in_repo(&owner, &repo)?;
    let text = body["body"].as_str().ok_or(StatusCode::UNPROCESSABLE_ENTITY)?;
    if text.chars().count() > 65_536 {
        return Err(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let mut f = forge.lock().expect("forge lock");
    f.next_id += 1;
    let c = Comment { id: f.next_id, issue, login: BOT.into(), body: text.into() };
    f.comments.push(c.clone());
    Ok((StatusCode::CREATED, Json(comment_json(&c))))
}

async fn update_comment(
    State(forge): State<Shared>,
    UrlPath((owner, repo, id)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Json<Value>, StatusCode> {
    authorized(&forge, &headers, format!("PATCH comment {id}"))?;
    in_repo(&owner, &repo)?;
    let text = body["body"].as_str().ok_or(StatusCode::UNPROCESSABLE_ENTITY)?;
    let mut f = forge.lock().expect("forge lock");
    let c = f.comments.iter_mut().find(|c| c.id == id).ok_or(StatusCode::NOT_FOUND)?;
    // GitHub lets a token edit only its own comments.
    if c.login != BOT {
        return Err(StatusCode::FORBIDDEN);
    }
    c.body = text.into();
    Ok(Json(comment_json(c)))
}

async fn pulls_of_commit(
    State(forge): State<Shared>,
    UrlPath((owner, repo, sha)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    authorized(&forge, &headers, format!("GET pulls of {sha}"))?;
    in_repo(&owner, &repo)?;
    let f = forge.lock().expect("forge lock");
    let api = format!("https://api.github.com/repos/{REPO}");
    let pulls: Vec<Value> = f
        .merged
        .get(&sha)
        .map(|&n| {
            json!({
                "url": format!("{api}/pulls/{n}"),
                "number": n,
                "state": "closed",
                "milestone": { "url": format!("{api}/milestones/3"), "number": 3 },
                "merge_commit_sha": sha,
            })
        })
        .into_iter()
        .collect();
    Ok(Json(Value::Array(pulls)))
}

// ---- the repository and the workflow ----

/// A git repository with the stackfile and `deploy/ci/bosun-ci`, as a user's would be.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("bosun-ci-repo-").tempdir().expect("a temporary repository");
        let repo = Self { dir };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo.git(&["config", "user.email", "ci@example.com"]);
        repo.git(&["config", "user.name", "CI"]);
        let script = repo.path().join("deploy/ci/bosun-ci");
        std::fs::create_dir_all(script.parent().unwrap()).unwrap();
        std::fs::copy(repo_root().join("deploy/ci/bosun-ci"), &script).expect("copy bosun-ci");
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.path())
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Write the stackfile of the cluster (filled in for this emulator) and commit;
    /// the new commit's sha.
    fn commit_stackfile(&self, env: &Env, stackfile: &Stackfile, message: &str) -> String {
        let text = std::fs::read_to_string(env.write(stackfile)).expect("read the filled-in stackfile");
        let path = self.path().join(format!("stackfiles/{CLUSTER}.yml"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self.git(&["add", "-A"]);
        self.git(&["commit", "--quiet", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

/// The `run:` steps of a job, with the environment the workflow gives them.
struct Job {
    name: String,
    env: BTreeMap<String, String>,
    steps: Vec<(String, BTreeMap<String, String>)>,
}

/// The workflow file, parsed; `${{ ... }}` expressions are replaced from `values`, and
/// one the test does not know fails it (a workflow that needs more must say so here).
fn job(name: &str, values: &BTreeMap<&str, String>) -> Job {
    let path = repo_root().join("deploy/ci/github/bosun.yml");
    let text = std::fs::read_to_string(&path).expect("read deploy/ci/github/bosun.yml");
    let workflow: yaml_serde::Value = yaml_serde::from_str(&text).expect("the workflow is YAML");
    let env_of = |v: &yaml_serde::Value| -> BTreeMap<String, String> {
        v.get("env")
            .and_then(|e| e.as_mapping())
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let k = k.as_str().expect("env names are strings").to_owned();
                        let v = match v {
                            yaml_serde::Value::String(s) => s.clone(),
                            other => yaml_serde::to_string(other).unwrap().trim().to_owned(),
                        };
                        (k, expand(&v, values))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let job = &workflow["jobs"][name];
    assert!(job.is_mapping(), "no job `{name}` in {}", path.display());
    let mut env = env_of(&workflow);
    env.extend(env_of(job));
    let mut steps = Vec::new();
    for step in job["steps"].as_sequence().expect("the job has steps") {
        if step.get("uses").is_some() || step.get("id").and_then(|i| i.as_str()) == Some("install") {
            continue;
        }
        let run = step["run"].as_str().unwrap_or_else(|| panic!("a step with neither uses nor run: {step:?}"));
        steps.push((expand(run, values), env_of(step)));
    }
    assert!(!steps.is_empty(), "job {name} runs nothing");
    Job { name: name.to_owned(), env, steps }
}

fn expand(text: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let end = rest[start..].find("}}").map(|e| start + e + 2).expect("an expression ends with }}");
        let expr = rest[start + 3..end - 2].trim();
        let value = values.get(expr).unwrap_or_else(|| panic!("the test does not know `{expr}` in the workflow"));
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// One job's run: every step's output, and whether all succeeded.
struct JobRun {
    ok: bool,
    output: String,
}

/// Run a job's steps in order, as the runner does (`bash --noprofile --norc -eo
/// pipefail` on the step's script), stopping at the first that fails. The environment
/// is only what a runner gives (GITHUB_*), the workflow's `env:`, and the emulator's
/// AWS settings.
async fn run_job(job: &Job, repo: &Repo, env: &Env, github: &GitHub, event: &str, sha: &str) -> JobRun {
    let bin_dir = bosun_binary().parent().expect("the binary is in a directory").to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let mut output = String::new();
    for (i, (script, step_env)) in job.steps.iter().enumerate() {
        let file: PathBuf = env.work_dir().join(format!("{}-step-{i}.sh", job.name));
        std::fs::write(&file, script).unwrap();
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&file)
            .current_dir(repo.path())
            .env_clear()
            .env("PATH", &path)
            .env("HOME", repo.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", event)
            .env("GITHUB_API_URL", &github.url)
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_SHA", sha)
            .env("GITHUB_WORKSPACE", repo.path())
            .envs(&job.env)
            // What the skipped `configure-aws-credentials` step would export.
            .envs(env.aws_env())
            // Rollouts on the emulator settle in a second or two: poll them often.
            .env("BOSUN_POLL_INTERVAL", "200ms")
            .envs(step_env)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(JOB_LIMIT, cmd.output())
            .await
            .unwrap_or_else(|_| panic!("job {} did not finish within {JOB_LIMIT:?}", job.name))
            .expect("run bash");
        output.push_str(&format!(
            "--- step {i} of job {} exited {:?}\n{}{}",
            job.name,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
        if !out.status.success() {
            return JobRun { ok: false, output };
        }
    }
    JobRun { ok: true, output }
}

/// The expressions of the workflow, for a pull request from `base` and a push of
/// `before..`.
fn values(base: &str, before: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("github.event.pull_request.number", PR.to_string()),
        ("github.event.pull_request.base.sha", base.to_owned()),
        ("github.event.before", before.to_owned()),
        ("secrets.GITHUB_TOKEN", TOKEN.to_owned()),
        ("github.ref", "refs/pull/7/merge".to_owned()),
    ])
}

async fn web_image(env: &Env) -> String {
    let arn = env.service("web").await.task_definition().expect("a task definition").to_owned();
    let td = env.task_definition(&arn).await;
    td.container_definitions()[0].image().expect("an image").to_owned()
}

/// The full plan hash in the marker of a comment.
fn marker_hash(body: &str) -> String {
    let rest = body.split(&format!("<!-- bosun-plan: cluster={CLUSTER} hash=")).nth(1).expect("a marker");
    rest[..64].to_owned()
}

/// Converged on main, a branch that bumps the image, reviewed: the repository, the
/// base commit, and the sink with the plan comment.
async fn reviewed_bump(env: &Env, github: &GitHub) -> (Repo, String) {
    let base = Stackfile::from_text("web.yml", STACKFILE);
    env.converge(&base).await;
    let repo = Repo::new();
    let base_sha = repo.commit_stackfile(env, &base, "web on nginx 1.27");
    repo.git(&["checkout", "--quiet", "-b", "bump"]);
    let bumped = base.replace("nginx:1.27", "nginx:1.28");
    let head = repo.commit_stackfile(env, &bumped, "web on nginx 1.28");

    let plan = job("plan", &values(&base_sha, ""));
    let run = run_job(&plan, &repo, env, github, "pull_request", &head).await;
    assert!(run.ok, "the plan job failed:\n{}", run.output);
    (repo, base_sha)
}

#[tokio::test]
async fn a_reviewed_plan_is_commented_once_and_applied_after_the_merge() {
    let env = Env::start().await;
    let github = GitHub::start().await;
    // Someone else's comment with a marker of their own: never updated, never read.
    let forged = format!("<!-- bosun-plan: cluster={CLUSTER} hash={} -->", "0".repeat(64));
    github.comment_as("mallory", &forged);

    let (repo, base_sha) = reviewed_bump(&env, &github).await;
    let comments = github.bot_comments();
    assert_eq!(comments.len(), 1, "one comment: {comments:#?}");
    let first = &comments[0];
    assert!(first.body.contains(&format!("### bosun plan for cluster `{CLUSTER}`")), "{}", first.body);
    assert!(first.body.contains("image: nginx/nginx:1.27 -> 1.28"), "{}", first.body);
    let hash = marker_hash(&first.body);
    assert!(
        first.body.contains(&format!(
            "bosun apply --cluster {CLUSTER} -f stackfiles/{CLUSTER}.yml --plan-hash {hash} --auto-approve"
        )),
        "{}",
        first.body
    );
    assert_eq!(web_image(&env).await, "public.ecr.aws/nginx/nginx:1.27", "a plan changes nothing");

    // A second push: the same comment, updated to the new plan.
    let head = repo.commit_stackfile(
        &env,
        &Stackfile::from_text("web.yml", STACKFILE).replace("nginx:1.27", "nginx:1.29"),
        "web on nginx 1.29 after all",
    );
    let plan = job("plan", &values(&base_sha, ""));
    let run = run_job(&plan, &repo, &env, &github, "pull_request", &head).await;
    assert!(run.ok, "the second plan job failed:\n{}", run.output);
    let comments = github.bot_comments();
    assert_eq!(comments.len(), 1, "still one comment: {comments:#?}");
    assert_eq!(comments[0].id, first.id, "the first comment, updated");
    assert!(comments[0].body.contains("-> 1.29"), "{}", comments[0].body);
    let hash = marker_hash(&comments[0].body);
    assert!(github.log().iter().any(|l| l == &format!("PATCH comment {}", first.id)), "{:?}", github.log());
    assert_eq!(github.comments().iter().find(|c| c.login == "mallory").map(|c| c.body.as_str()), Some(&*forged));

    // The merge, and the push to main it makes.
    repo.git(&["checkout", "--quiet", "main"]);
    repo.git(&["merge", "--quiet", "--no-ff", "-m", "Merge pull request #7 from acme/bump", "bump"]);
    let merge = repo.git(&["rev-parse", "HEAD"]);
    github.merged_as(&merge, PR);
    let apply = job("apply", &values("", &base_sha));
    let run = run_job(&apply, &repo, &env, &github, "push", &merge).await;
    assert!(run.ok, "the apply job failed:\n{}", run.output);
    assert!(run.output.contains(&format!("(hash {hash})")), "applied with the comment's hash:\n{}", run.output);
    assert_eq!(web_image(&env).await, "public.ecr.aws/nginx/nginx:1.29");
    assert!(github.log().iter().any(|l| l == &format!("GET pulls of {merge}")), "{:?}", github.log());
}

#[tokio::test]
async fn a_plan_that_changed_since_the_review_is_not_applied() {
    let env = Env::start().await;
    let github = GitHub::start().await;
    let (repo, base_sha) = reviewed_bump(&env, &github).await;
    assert_eq!(github.bot_comments().len(), 1);

    // After the review, someone scales the service by hand: the plan at merge time
    // would also set desired_count back, which nobody reviewed.
    env.ecs.update_service().cluster(CLUSTER).service("web").desired_count(3).send().await.expect("UpdateService");

    repo.git(&["checkout", "--quiet", "main"]);
    repo.git(&["merge", "--quiet", "--no-ff", "-m", "Merge pull request #7 from acme/bump", "bump"]);
    let merge = repo.git(&["rev-parse", "HEAD"]);
    github.merged_as(&merge, PR);
    let apply = job("apply", &values("", &base_sha));
    let run = run_job(&apply, &repo, &env, &github, "push", &merge).await;
    assert!(!run.ok, "the apply job succeeded:\n{}", run.output);
    assert!(run.output.contains("the plan changed since it was reviewed"), "{}", run.output);
    assert_eq!(web_image(&env).await, "public.ecr.aws/nginx/nginx:1.27", "nothing was applied");
    assert_eq!(env.service("web").await.desired_count(), 3, "nothing was applied");
}

#[tokio::test]
async fn a_merge_without_a_reviewed_plan_applies_nothing() {
    let env = Env::start().await;
    let github = GitHub::start().await;
    let base = Stackfile::from_text("web.yml", STACKFILE);
    env.converge(&base).await;
    let repo = Repo::new();
    let base_sha = repo.commit_stackfile(&env, &base, "web on nginx 1.27");
    repo.commit_stackfile(&env, &base.replace("nginx:1.27", "nginx:1.28"), "pushed to main without a review");
    let head = repo.git(&["rev-parse", "HEAD"]);
    // The commit came from no pull request at all.
    let apply = job("apply", &values("", &base_sha));
    let run = run_job(&apply, &repo, &env, &github, "push", &head).await;
    assert!(!run.ok, "the apply job succeeded:\n{}", run.output);
    assert!(run.output.contains("found no merged pull/merge request"), "{}", run.output);
    assert_eq!(web_image(&env).await, "public.ecr.aws/nginx/nginx:1.27");
}

#[test]
fn the_gitlab_file_calls_the_same_script() {
    let path = repo_root().join("deploy/ci/gitlab/bosun.gitlab-ci.yml");
    let text = std::fs::read_to_string(&path).expect("read the GitLab CI file");
    let ci: yaml_serde::Value = yaml_serde::from_str(&text).expect("the GitLab CI file is YAML");
    assert_eq!(ci["variables"]["BOSUN_CI"].as_str(), Some("deploy/ci/bosun-ci"));
    for (job, command, base) in [
        ("bosun-plan", "\"$BOSUN_CI\" plan", "$CI_MERGE_REQUEST_DIFF_BASE_SHA"),
        ("bosun-apply", "\"$BOSUN_CI\" apply", "$CI_COMMIT_BEFORE_SHA"),
    ] {
        let script: Vec<&str> = ci[job]["script"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{job} has a script"))
            .iter()
            .filter_map(|l| l.as_str())
            .collect();
        assert_eq!(script, [command], "{job}");
        assert_eq!(ci[job]["variables"]["BOSUN_BASE"].as_str(), Some(base), "{job}");
    }
    // The GitHub workflow runs the same two commands.
    let github = std::fs::read_to_string(repo_root().join("deploy/ci/github/bosun.yml")).unwrap();
    assert!(github.contains("\"$BOSUN_CI\" plan") && github.contains("\"$BOSUN_CI\" apply"));
    assert!(github.contains("BOSUN_CI: deploy/ci/bosun-ci"));
}
