//! The scheduler against the emulator, as real processes: `bosun serve` (API and
//! scheduler in one process) and `bosun serve scheduler` replicas. Every test checks
//! what a user relies on: the live state through the SDK, the job record and cluster
//! status through the API, what reached the notification sink, and exit codes.

use std::collections::BTreeMap;
use std::time::Duration;

use bosun_tests::api::{ApiServer, BUCKET, DLQ};
use bosun_tests::scheduler::{FAST, Scheduler, Sink, dead_url};
use bosun_tests::{CLUSTER, Env, Stackfile};
use reqwest::Method;
use serde_json::{Value, json};

/// A job of the demo stack takes a few seconds on the emulator; this leaves room for a
/// loaded CI machine.
const JOB_LIMIT: Duration = Duration::from_secs(90);

fn demo() -> Stackfile {
    Stackfile::example("demo.yml")
}

/// `bosun serve` with the fast test settings plus `extra`.
async fn serve(env: &Env, extra: &[&str]) -> ApiServer {
    let mut args = vec!["serve"];
    args.extend_from_slice(FAST);
    args.extend_from_slice(extra);
    ApiServer::start_with(env, &args).await
}

/// `bosun serve api` alone (jobs wait in the queue until a scheduler starts).
async fn api_only(env: &Env) -> ApiServer {
    ApiServer::start(env).await
}

/// The filled-in stackfile text.
fn text(env: &Env, stackfile: &Stackfile) -> String {
    std::fs::read_to_string(env.write(stackfile)).expect("read the written stackfile")
}

/// Create `cluster` through the API (admin); returns the job id.
async fn create(api: &ApiServer, cluster: &str, yaml: &str) -> String {
    let resp = api
        .request(Method::POST, "/api/v1/clusters", Some(&api.admin))
        .json(&json!({ "name": cluster, "config": yaml }))
        .send()
        .await
        .expect("POST clusters");
    let status = resp.status();
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(status, 201, "{body}");
    body["job_id"].as_str().expect("a job id").to_owned()
}

async fn put_service(api: &ApiServer, cluster: &str, service: &str, body: Value) -> String {
    let resp = api
        .request(Method::PUT, &format!("/api/v1/clusters/{cluster}/services/{service}"), Some(&api.deployer))
        .json(&body)
        .send()
        .await
        .expect("PUT service");
    let status = resp.status();
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(status, 202, "{body}");
    body["job_id"].as_str().expect("a job id").to_owned()
}

fn image_of(td: &aws_sdk_ecs::types::TaskDefinition) -> String {
    td.container_definitions()[0].image().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_put_converges_the_cluster_and_the_job_record_says_succeeded() {
    let env = Env::start().await;
    let slack = Sink::start().await;
    let api = serve(&env, &["--slack-webhook", &slack.url]).await;

    let job = create(&api, CLUSTER, &text(&env, &demo())).await;
    let record = api.wait_job(&job, JOB_LIMIT).await;
    assert_eq!(record["status"], "succeeded", "{record:#}");
    assert_eq!(record["reason"], "cluster_created");
    assert_eq!(record["requested_by"], "admin-bot");
    assert_eq!(record["attempts"], 1);
    assert!(record["started_at"].is_string() && record["finished_at"].is_string(), "{record:#}");
    let result = &record["result"];
    assert_eq!(result["plan"]["summary"]["create"].as_u64().map(|n| n > 5), Some(true), "{result:#}");
    assert!(result["plan"]["changes"].as_array().unwrap().iter().any(|c| c == "create service web"), "{result:#}");
    assert!(result["resources"].as_array().unwrap().iter().all(|r| r["result"] == "done"), "{result:#}");
    for service in ["web", "users", "mailer"] {
        assert_eq!(result["rollouts"][service]["outcome"], "succeeded", "{result:#}");
    }
    assert!(result["timings_ms"]["total"].as_u64().is_some(), "{result:#}");

    // The live state, through the SDK: what the stackfile says, and nothing left to do.
    assert_eq!(env.service("web").await.desired_count(), 2);
    assert_eq!(env.service("web").await.running_count(), 2);
    assert_eq!(env.load_balancers().await.len(), 1);
    env.assert_converged(&demo()).await;

    let status = api.status(CLUSTER).await;
    assert_eq!(status["last_job"]["job_id"], job.as_str(), "{status:#}");
    assert_eq!(status["last_job"]["status"], "succeeded", "{status:#}");

    // An image bump through PUT .../services/{s} rolls out the new image.
    let before = env.running_revision("web").await;
    let job = put_service(&api, CLUSTER, "web", json!({ "image_tag": "1.28" })).await;
    let record = api.wait_job(&job, JOB_LIMIT).await;
    assert_eq!(record["status"], "succeeded", "{record:#}");
    assert_eq!(record["result"]["plan"]["summary"], json!({"create": 0, "update": 2, "replace": 0, "delete": 0, "run": 0}), "{record:#}");
    let after = env.running_revision("web").await;
    assert_ne!(before, after);
    assert_eq!(image_of(&env.task_definition(&after).await), "public.ecr.aws/nginx/nginx:1.28");

    // Slack heard about both jobs, start and end.
    for id in [&job] {
        slack.wait_for("a succeeded message", Duration::from_secs(10), |b| {
            let t = b["text"].as_str().unwrap_or_default();
            t.starts_with(":white_check_mark: bosun: cluster *demo* converged") && t.contains(id.as_str())
        })
        .await;
    }
    assert!(slack.bodies().iter().any(|b| b["text"].as_str().unwrap_or_default().contains("reconcile started")));
    // Nothing from the stackfile's environment leaks into notifications.
    for b in slack.bodies() {
        let t = b.to_string();
        assert!(!t.contains("smtp.demo.example.com") && !t.contains("users.demo.sd:8080"), "{t}");
    }
    assert!(api.terminate().await.success());
}
