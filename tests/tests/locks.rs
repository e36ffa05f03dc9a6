//! Cluster locks (freezes) against the emulator and a real `bosun serve`: a locked
//! cluster refuses every write with 423 and writes nothing to S3 nor SQS (checked
//! through the SDK); an admin's override writes, a deployer's does not; a lock expires
//! by itself; only admins lock and unlock; the status shows the lock; and the
//! scheduler reports drift on a locked cluster instead of healing it.

use std::time::Duration;

use bosun_tests::api::{ApiServer, BUCKET};
use bosun_tests::scheduler::{FAST, Sink};
use bosun_tests::{CLUSTER, Env, Stackfile};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const STACKFILE: &str = "\
services:
  - web:
      image: nginx:1.27
      desired_count: 2
";

const LOCK: &str = "/api/v1/clusters/demo/lock";

async fn json_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.expect("read the body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text}"));
    (status, body)
}

async fn create(api: &ApiServer, yaml: &str) -> String {
    let (s, body) = json_of(
        api.request(Method::POST, "/api/v1/clusters", Some(&api.admin))
            .json(&json!({"name": CLUSTER, "config": yaml}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    body["job_id"].as_str().expect("a job id").to_owned()
}

async fn lock(api: &ApiServer, token: &str, body: Value) -> (StatusCode, Value) {
    json_of(api.request(Method::PUT, LOCK, Some(token)).json(&body).send().await.unwrap()).await
}

async fn put_config(api: &ApiServer, token: &str, yaml: &str, override_lock: bool) -> (StatusCode, Value) {
    let mut req = api
        .request(Method::PUT, "/api/v1/clusters/demo/config", Some(token))
        .header("content-type", "application/yaml")
        .body(yaml.to_owned());
    if override_lock {
        req = req.header("x-bosun-override-lock", "true");
    }
    json_of(req.send().await.unwrap()).await
}

/// What a refused write must leave unchanged: the stackfile's current version in S3,
/// the job records, and the messages in the job queue.
#[derive(Debug, PartialEq, Eq)]
struct Written {
    version: String,
    job_records: usize,
    queued: u64,
}

async fn written(api: &ApiServer) -> Written {
    let head = api.s3.head_object().bucket(BUCKET).key("clusters/demo/stackfile.yaml").send().await.unwrap();
    let jobs = api.s3.list_objects_v2().bucket(BUCKET).prefix("jobs/").send().await.unwrap();
    Written {
        version: head.version_id().unwrap().to_owned(),
        job_records: jobs.contents().len(),
        queued: api.footprint().await.1,
    }
}

/// 423 `cluster_locked` whose message names the reason, who locked it and until when.
fn assert_locked(status: StatusCode, body: &Value, lock: &Value) {
    assert_eq!(status, StatusCode::LOCKED, "{body}");
    assert_eq!(body["error"], "cluster_locked", "{body}");
    let message = body["message"].as_str().unwrap();
    for part in ["release freeze", "admin-bot", lock["expires_at"].as_str().unwrap()] {
        assert!(message.contains(part), "{part:?} missing from {message:?}");
    }
    assert_eq!(body["details"], json!([lock]), "{body}");
}

#[tokio::test]
async fn a_locked_cluster_refuses_every_write_and_writes_nothing_unless_an_admin_overrides() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    let (v, d, a) = (api.viewer.as_str(), api.deployer.as_str(), api.admin.as_str());
    create(&api, STACKFILE).await;

    // Only admins lock; only existing clusters; not locked yet.
    for token in [v, d] {
        let (s, body) = lock(&api, token, json!({"reason": "x"})).await;
        assert_eq!((s, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{body}");
    }
    let (s, body) = json_of(api.request(Method::GET, LOCK, Some(v)).send().await.unwrap()).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_locked")), "{body}");
    let (s, body) =
        json_of(api.request(Method::PUT, "/api/v1/clusters/nope/lock", Some(a)).json(&json!({})).send().await.unwrap())
            .await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{body}");
    // The bounds of a lock, as a user meets them (no test setting lowers the minimum here).
    for bad in [
        json!({"reason": "x", "ttl": "30s"}),
        json!({"reason": "x", "ttl": "8d"}),
        json!({"reason": "x", "ttl": "soon"}),
        json!({"reason": "two\nlines"}),
        json!({"reason": "x".repeat(201)}),
    ] {
        let (s, body) = lock(&api, a, bad.clone()).await;
        assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_lock")), "{bad}: {body}");
    }
    let (_, body) = lock(&api, a, json!({"ttl": "30s"})).await;
    assert_eq!(body["message"], "a lock lasts at least 1m; 30s is too short");
    let (s, body) = json_of(api.request(Method::GET, LOCK, Some(v)).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a refused lock was stored: {body}");

    // Lock it for two hours.
    let (s, held) = lock(&api, a, json!({"reason": "release freeze", "ttl": "2h"})).await;
    assert_eq!(s, StatusCode::OK, "{held}");
    assert_eq!((held["cluster"].as_str(), held["locked_by"].as_str()), (Some("demo"), Some("admin-bot")), "{held}");
    assert_eq!(held["reason"], "release freeze");
    let created = humantime::parse_rfc3339(held["created_at"].as_str().unwrap()).unwrap();
    let expires = humantime::parse_rfc3339(held["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires.duration_since(created).unwrap(), Duration::from_secs(7200));
    // Stored where the docs say, and read back by viewers and in the status.
    let stored = api.s3.get_object().bucket(BUCKET).key("clusters/demo/lock.json").send().await.unwrap();
    let stored: Value = serde_json::from_slice(&stored.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(stored, held);
    let (s, body) = json_of(api.request(Method::GET, LOCK, Some(v)).send().await.unwrap()).await;
    assert_eq!((s, &body), (StatusCode::OK, &held));
    assert_eq!(api.status(CLUSTER).await["lock"], held);

    // Every write gets 423, from a deployer with or without the override header, and
    // nothing reaches S3 or SQS.
    let before = written(&api).await;
    let changed = STACKFILE.replace("1.27", "1.28");
    for override_lock in [false, true] {
        let (s, body) = put_config(&api, d, &changed, override_lock).await;
        assert_locked(s, &body, &held);
    }
    let history = api.request(Method::GET, "/api/v1/clusters/demo/history", Some(v)).send().await.unwrap();
    let (_, history) = json_of(history).await;
    let first = history["content"][0]["version_id"].as_str().unwrap().to_owned();
    let writes = [
        (Method::PUT, "/api/v1/clusters/demo/services/web", json!({"image_tag": "1.28"})),
        (Method::DELETE, "/api/v1/clusters/demo/services/web", Value::Null),
        (Method::POST, "/api/v1/clusters/demo/deploy", Value::Null),
        (Method::POST, "/api/v1/clusters/demo/rollback", json!({"version_id": first})),
    ];
    for (method, path, body) in &writes {
        let mut req = api.request(method.clone(), path, Some(d)).header("x-bosun-override-lock", "true");
        if !body.is_null() {
            req = req.json(body);
        }
        let (s, body) = json_of(req.send().await.unwrap()).await;
        assert_locked(s, &body, &held);
    }
    // A request that is invalid anyway gets its own 4xx: validation comes first.
    let (s, body) = put_config(&api, d, "services:\n  - web:\n      imag: nginx\n", false).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_stackfile")), "{body}");
    // An admin without the header is refused too.
    let (s, body) = put_config(&api, a, &changed, false).await;
    assert_locked(s, &body, &held);
    assert_eq!(written(&api).await, before, "a refused write changed S3 or SQS");

    // An admin's override writes: a new version, a job record, a message.
    let (s, body) = put_config(&api, a, &changed, true).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let after = written(&api).await;
    assert_eq!(after.version, body["version_id"].as_str().unwrap());
    assert_ne!(after.version, before.version);
    assert_eq!((after.job_records, after.queued), (before.job_records + 1, before.queued + 1));
    assert!(
        api.logs().iter().any(|l| l.contains("a write overrides the cluster's lock")),
        "the override was not logged"
    );
    // It is still locked.
    let (s, body) = put_config(&api, d, STACKFILE, false).await;
    assert_locked(s, &body, &held);

    // Unlock: writes go through again.
    let resp = api.request(Method::DELETE, LOCK, Some(d)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = api.request(Method::DELETE, LOCK, Some(a)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (s, body) = json_of(api.request(Method::DELETE, LOCK, Some(a)).send().await.unwrap()).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_locked")), "{body}");
    assert_eq!(api.status(CLUSTER).await["lock"], Value::Null);
    let (s, body) = put_config(&api, d, STACKFILE, false).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
}

#[tokio::test]
async fn a_lock_expires_by_itself_and_writes_go_through_again() {
    let env = Env::start().await;
    // A minimum of 1 s (a hidden flag, for tests only) rather than a minute.
    let api = ApiServer::start_with(&env, &["serve", "api", "--lock-min-ttl", "1s"]).await;
    create(&api, STACKFILE).await;
    let (s, held) = lock(&api, &api.admin, json!({"reason": "release freeze", "ttl": "3s"})).await;
    assert_eq!(s, StatusCode::OK, "{held}");
    let expires = humantime::parse_rfc3339(held["expires_at"].as_str().unwrap()).unwrap();
    let (s, body) = put_config(&api, &api.deployer, &STACKFILE.replace("1.27", "1.28"), false).await;
    assert_locked(s, &body, &held);

    // Nothing deletes it; it ends when its time is up (bounded wait).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (s, _) = json_of(api.request(Method::GET, LOCK, Some(&api.viewer)).send().await.unwrap()).await;
        if s == StatusCode::NOT_FOUND {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the lock did not expire");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(std::time::SystemTime::now() >= expires, "the lock ended before its time");
    assert_eq!(api.status(CLUSTER).await["lock"], Value::Null);
    let (s, body) = put_config(&api, &api.deployer, &STACKFILE.replace("1.27", "1.28"), false).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
}

#[tokio::test]
async fn drift_on_a_locked_cluster_is_reported_not_healed_and_healed_after_the_unlock() {
    let env = Env::start().await;
    let hook = Sink::start().await;
    let mut args = vec!["serve"];
    args.extend_from_slice(FAST);
    args.extend_from_slice(&["--resync-interval", "2s", "--webhook", &hook.url]);
    let api = ApiServer::start_with(&env, &args).await;
    let yaml = std::fs::read_to_string(env.write(&Stackfile::example("demo.yml"))).unwrap();
    let job = create(&api, &yaml).await;
    assert_eq!(api.wait_job(&job, Duration::from_secs(90)).await["status"], "succeeded");

    let (s, held) = lock(&api, &api.admin, json!({"reason": "release freeze", "ttl": "1h"})).await;
    assert_eq!(s, StatusCode::OK, "{held}");
    // Out of band, someone scales web to 5; the stackfile says 2 and `drift:` is heal.
    env.ecs.update_service().cluster(CLUSTER).service("web").desired_count(5).send().await.unwrap();
    let event = hook
        .wait_for("a drift reported under the lock", Duration::from_secs(30), |b| {
            b["event"] == "drift_detected" && b["cluster"] == CLUSTER
        })
        .await;
    let summary = event["summary"].as_str().unwrap();
    let until = held["expires_at"].as_str().unwrap();
    assert!(
        summary
            .ends_with(&format!("; reported only: the cluster is locked by admin-bot until {until}: release freeze")),
        "{event}"
    );
    assert_eq!(event["changes"], json!(["update service web"]), "{event}");
    let status = api.status(CLUSTER).await;
    assert_eq!(status["drift"]["action"], "reported", "{status:#}");
    assert_eq!(status["drift"]["lock"], held, "{status:#}");
    assert_eq!(status["lock"], held, "{status:#}");
    // Two more intervals: still 5, and no healing job ran.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(env.service("web").await.desired_count(), 5);
    assert!(api.status(CLUSTER).await["drift"]["job_id"].is_null());

    // Unlocked, the next check heals it.
    let resp = api.request(Method::DELETE, LOCK, Some(&api.admin)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while env.service("web").await.desired_count() != 2 {
        assert!(tokio::time::Instant::now() < deadline, "not healed after the unlock: {:#}", api.status(CLUSTER).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = api.status(CLUSTER).await;
    assert_eq!(status["drift"]["action"], "healed", "{status:#}");
    assert!(status["drift"]["lock"].is_null(), "{status:#}");
    let healer = status["drift"]["job_id"].as_str().unwrap().to_owned();
    let record = api.wait_job(&healer, Duration::from_secs(90)).await;
    assert_eq!((record["status"].as_str(), record["reason"].as_str()), (Some("succeeded"), Some("drift")));
}
