//! A real `bosun serve api` against hostile or careless callers: slow clients that
//! never finish their headers, a tokens file rewritten and reloaded on SIGHUP, and
//! environment values that only callers allowed to see them read (in the stackfile and
//! in plans).

use std::time::{Duration, Instant};

use bosun_tests::api::ApiServer;
use bosun_tests::{CLUSTER, Env, Stackfile};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The header timeout the slow-client test runs the server with.
const HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// How much later than the header timeout a connection may close: the server's timer
/// and this test's own scheduling with 400 sockets on a busy machine.
const CLOSE_SLACK: Duration = Duration::from_secs(2);

#[tokio::test]
async fn slow_clients_are_disconnected_within_the_header_timeout() {
    let env = Env::start().await;
    let api = ApiServer::start_with(&env, &["serve", "api", "--header-timeout", "1s"]).await;
    let addr = api.url.trim_start_matches("http://").to_owned();

    // 400 clients each send half of a request's headers, then nothing.
    let opened = Instant::now();
    let mut clients = Vec::new();
    for i in 0..400 {
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap_or_else(|e| panic!("connect {i}: {e}"));
        tcp.write_all(format!("POST /api/v1/clusters/c{i}/plan HTTP/1.1\r\nHost: x\r\nAuthorization: Bear").as_bytes())
            .await
            .expect("send half the headers");
        clients.push(tcp);
    }
    let all_sent = opened.elapsed();

    // Each is closed by the server: its read ends (EOF or a reset) without an answer to
    // wait for. The wait is bounded: a connection still open is a failure.
    let limit = HEADER_TIMEOUT + all_sent + CLOSE_SLACK;
    let closes = clients.into_iter().map(|mut tcp| async move {
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout_at((opened + limit).into(), tcp.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0) | Err(_)) => return Some(opened.elapsed()),
                Ok(Ok(_)) => {}
            }
        }
    });
    let closed: Vec<Option<Duration>> = futures::future::join_all(closes).await;
    let still_open = closed.iter().filter(|c| c.is_none()).count();
    assert_eq!(still_open, 0, "{still_open} of 400 slow clients were still connected after {limit:?}");
    let latest = closed.iter().flatten().max().copied().unwrap_or_default();
    eprintln!("400 slow clients: all sent in {all_sent:?}, the last closed {latest:?} after the first connected");
    assert!(latest >= HEADER_TIMEOUT, "closed before the header timeout: {latest:?}");

    // The server still answers a normal client.
    let resp = api.request(Method::GET, "/api/v1/clusters", Some(&api.viewer)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

fn tokens_file(env: &Env) -> std::path::PathBuf {
    env.work_dir().join("tokens")
}

/// A new token and its tokens-file line, from `bosun token new`.
async fn new_token(env: &Env, role: &str, name: &str) -> (String, String) {
    let run = env.bosun(&["token", "new", "--role", role, "--name", name]).await;
    run.expect_code(0);
    let field = |p: &str| run.stdout.lines().find_map(|l| l.strip_prefix(p)).expect("printed").trim().to_owned();
    (field("token:"), field("line:"))
}

async fn status_with(api: &ApiServer, token: &str) -> StatusCode {
    api.request(Method::GET, "/api/v1/clusters", Some(token)).send().await.expect("GET clusters").status()
}

/// Poll until every token gets its expected status (bounded).
async fn wait_statuses(api: &ApiServer, expected: &[(&str, StatusCode)], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut got = Vec::new();
        for (token, _) in expected {
            got.push(status_with(api, token).await);
        }
        if got.iter().zip(expected).all(|(g, (_, e))| g == e) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: statuses {got:?}, expected {expected:?}\n{}",
            api.logs().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sighup(api: &ApiServer) {
    let status = std::process::Command::new("kill").args(["-HUP", &api.pid().to_string()]).status().expect("run kill");
    assert!(status.success(), "kill -HUP {}", api.pid());
}

#[tokio::test]
async fn sighup_reloads_the_tokens_file_and_keeps_it_when_the_new_one_is_broken() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    assert_eq!(status_with(&api, &api.viewer).await, StatusCode::OK);

    // The viewer's line is removed and a new token added.
    let (fresh, fresh_line) = new_token(&env, "viewer", "fresh-bot").await;
    let file = tokens_file(&env);
    let old = std::fs::read_to_string(&file).unwrap();
    let kept: Vec<&str> = old.lines().filter(|l| !l.ends_with(" viewer-bot")).collect();
    assert_eq!(kept.len(), old.lines().count() - 1, "{old}");
    std::fs::write(&file, format!("{}\n{fresh_line}\n", kept.join("\n"))).unwrap();
    assert_eq!(status_with(&api, &fresh).await, StatusCode::UNAUTHORIZED, "read before SIGHUP");
    sighup(&api);
    wait_statuses(
        &api,
        &[(&fresh, StatusCode::OK), (&api.viewer, StatusCode::UNAUTHORIZED), (&api.deployer, StatusCode::OK)],
        "after the reload",
    )
    .await;

    // A broken file (a token pasted where the role goes) is not taken: what is in force stays.
    let (pasted, _) = new_token(&env, "admin", "pasted").await;
    std::fs::write(&file, format!("{pasted} {fresh_line}\n")).unwrap();
    sighup(&api);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !api.logs().iter().any(|l| l.contains("was not reloaded")) {
        assert!(Instant::now() < deadline, "no reload error logged:\n{}", api.logs().join("\n"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_statuses(&api, &[(&fresh, StatusCode::OK), (&api.viewer, StatusCode::UNAUTHORIZED)], "after a bad reload")
        .await;
    // An empty file is not taken either.
    std::fs::write(&file, "# nothing\n").unwrap();
    sighup(&api);
    while !api.logs().iter().any(|l| l.contains("has no tokens")) {
        assert!(Instant::now() < deadline, "no empty-file error logged:\n{}", api.logs().join("\n"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status_with(&api, &fresh).await, StatusCode::OK);

    // No log line holds a token, nor a piece of one.
    let logs = api.logs().join("\n");
    for token in [&fresh, &pasted, &api.viewer, &api.deployer, &api.admin] {
        assert!(!logs.contains(&token[6..30]), "a token was logged:\n{logs}");
    }
    // The process is still the one that started.
    assert!(api.terminate().await.success());
}

const SECRETS: &str = "\
# the password is hunter2 (comments are not shown to redacted readers)
notifications:
  webhook: https://hooks.example.com/T0/secret-hook
services:
  - web:
      image: nginx:1.27
      environment:
        DB_PASSWORD: hunter2
        PLAIN: visible-to-deployers
      secrets:
        API_KEY: arn:aws:secretsmanager:eu-west-1:123456789012:secret:api
      task_execution_role_arn: arn:aws:iam::123456789012:role/exec
";

const VALUES: [&str; 4] = ["hunter2", "visible-to-deployers", "secret-hook", "sha256:"];

async fn config(api: &ApiServer, token: &str, accept: &str) -> String {
    let resp = api
        .request(Method::GET, &format!("/api/v1/clusters/{CLUSTER}/config"), Some(token))
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["vary"], "accept, authorization");
    resp.text().await.unwrap()
}

async fn plan(api: &ApiServer, token: &str, body: &str, format: &str) -> String {
    let resp = api
        .request(Method::POST, &format!("/api/v1/clusters/{CLUSTER}/plan?format={format}"), Some(token))
        .header("content-type", "application/yaml")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    text
}

/// A candidate that bumps the image and sets `DB_PASSWORD` to `password`.
fn candidate(password: &str) -> String {
    SECRETS.replace("hunter2", password).replace("nginx:1.27", "nginx:1.28")
}

/// What `token` reads of the stackfile, and of plans of a candidate that changes the
/// image and `DB_PASSWORD`: text, JSON, and the text again with the live password as a
/// (right) guess.
async fn reads(api: &ApiServer, token: &str) -> Vec<String> {
    vec![
        config(api, token, "application/json").await,
        config(api, token, "application/yaml").await,
        plan(api, token, &candidate("hunter3"), "text").await,
        plan(api, token, &candidate("hunter3"), "json").await,
        plan(api, token, &candidate("hunter2"), "text").await,
    ]
}

fn assert_hidden(reads: &[String], who: &str) {
    for read in reads {
        for value in VALUES {
            assert!(!read.contains(value), "{who} read {value:?}:\n{read}");
        }
    }
    for read in &reads[..2] {
        assert!(read.contains("<redacted>"), "{who}:\n{read}");
        // Names and secrets' ARNs stay.
        assert!(read.contains("DB_PASSWORD"), "{who}:\n{read}");
    }
    let json: Value = serde_json::from_str(&reads[0]).unwrap();
    assert_eq!(
        json["services"][0]["web"]["secrets"]["API_KEY"],
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:api"
    );
    // The candidate's values are not compared: the image bump shows, and a wrong guess
    // of the password gets the very plan the right one gets, hash included.
    assert!(reads[2].contains("+  image: nginx:1.28"), "{who}:\n{}", reads[2]);
    assert!(!reads[2].contains("(value changed)"), "{who}:\n{}", reads[2]);
    assert_eq!(reads[2], reads[4], "{who}: a right and a wrong guess are told apart");
}

fn assert_shown(reads: &[String], who: &str) {
    for read in &reads[..2] {
        for value in &VALUES[..3] {
            assert!(read.contains(value), "{who} did not read {value:?}:\n{read}");
        }
    }
    assert!(reads[2].contains("+  env DB_PASSWORD: (value changed)"), "{who}:\n{}", reads[2]);
    assert!(!reads[4].contains("(value changed)"), "{who}:\n{}", reads[4]);
    // Values never appear in a plan, to anyone.
    for read in &reads[2..] {
        for value in VALUES {
            assert!(!read.contains(value), "{who} read {value:?}:\n{read}");
        }
    }
}

#[tokio::test]
async fn environment_values_are_redacted_for_viewers_and_with_redact_env_for_deployers() {
    let env = Env::start().await;
    // The task definition exists live, so a plan that changes a value shows it in a diff.
    env.create_task_role("exec");
    env.converge(&Stackfile::from_text("secrets.yml", SECRETS)).await;
    let api = ApiServer::start(&env).await;
    let resp = api
        .request(Method::POST, "/api/v1/clusters", Some(&api.admin))
        .json(&serde_json::json!({"name": CLUSTER, "config": SECRETS}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);

    assert_hidden(&reads(&api, &api.viewer).await, "viewer");
    assert_shown(&reads(&api, &api.deployer).await, "deployer");
    assert_shown(&reads(&api, &api.admin).await, "admin");
    // The viewer's YAML is made from the redacted document: no comments.
    assert!(!config(&api, &api.viewer, "application/yaml").await.contains('#'));
    drop(api);

    let api = ApiServer::start_with(&env, &["serve", "api", "--redact-env"]).await;
    assert_hidden(&reads(&api, &api.viewer).await, "viewer with --redact-env");
    assert_hidden(&reads(&api, &api.deployer).await, "deployer with --redact-env");
    assert_shown(&reads(&api, &api.admin).await, "admin with --redact-env");

    // What a redacted deployer read, sent back as it is, is refused, and nothing is written.
    let before = api.footprint().await;
    let redacted = config(&api, &api.deployer, "application/yaml").await;
    let resp = api
        .request(Method::PUT, &format!("/api/v1/clusters/{CLUSTER}/config"), Some(&api.deployer))
        .header("content-type", "application/yaml")
        .body(redacted)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "redacted_value", "{body}");
    let paths: Vec<&str> = body["details"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        ["notifications.webhook", "services[0].web.environment.DB_PASSWORD", "services[0].web.environment.PLAIN"]
    );
    assert_eq!(api.footprint().await, before);
}
