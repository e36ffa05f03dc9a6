//! The scheduler against the emulator, as real processes: `bosun serve` (API and
//! scheduler in one process) and `bosun serve scheduler` replicas. Every test checks
//! what a user relies on: the live state through the SDK, the job record and cluster
//! status through the API, what reached the notification sink, and exit codes.

use std::collections::BTreeMap;
use std::time::Duration;

use bosun_tests::api::{ApiServer, BUCKET, DLQ, QUEUE};
use bosun_tests::scheduler::{FAST, Scheduler, Sink, dead_url};
use bosun_tests::{CLUSTER, Env, Stackfile};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    assert_eq!(
        record["result"]["plan"]["summary"],
        json!({"create": 0, "update": 2, "replace": 0, "delete": 0, "run": 0}),
        "{record:#}"
    );
    let after = env.running_revision("web").await;
    assert_ne!(before, after);
    assert_eq!(image_of(&env.task_definition(&after).await), "public.ecr.aws/nginx/nginx:1.28");

    // Slack heard about both jobs, start and end.
    for id in [&job] {
        slack
            .wait_for("a succeeded message", Duration::from_secs(10), |b| {
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

#[tokio::test]
async fn a_circuit_breaker_rollback_is_recorded_and_announced_to_slack() {
    let env = Env::start().await;
    let slack = Sink::start().await;
    let api = serve(&env, &["--slack-webhook", &slack.url]).await;
    let job = create(&api, CLUSTER, &text(&env, &demo())).await;
    assert_eq!(api.wait_job(&job, JOB_LIMIT).await["status"], "succeeded");
    let good = env.running_revision("web").await;

    // The emulator fails images tagged `fail`: the circuit breaker rolls web back.
    let job = put_service(&api, CLUSTER, "web", json!({ "image_tag": "fail" })).await;
    let record = api.wait_job(&job, JOB_LIMIT).await;
    assert_eq!(record["status"], "rolled_back", "{record:#}");
    let error = record["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("service web: rolled back by the circuit breaker"), "{record:#}");
    assert_eq!(record["result"]["rollouts"]["web"]["outcome"], "rolled_back", "{record:#}");
    assert_eq!(env.running_revision("web").await, good, "ECS runs the last good revision again");

    let status = api.status(CLUSTER).await;
    assert_eq!(status["last_job"]["status"], "rolled_back", "{status:#}");
    assert_eq!(status["last_job"]["job_id"], job.as_str(), "{status:#}");

    let message = slack
        .wait_for("a rolled-back message", Duration::from_secs(10), |b| {
            b["text"]
                .as_str()
                .is_some_and(|t| t.starts_with(":rewind: bosun: cluster *demo* rolled back") && t.contains(&job))
        })
        .await;
    assert!(message["text"].as_str().unwrap().contains("service web: rolled back by the circuit breaker"), "{message}");
}

#[tokio::test]
async fn kill_9_mid_reconcile_then_a_restart_completes_the_job_without_duplicates() {
    let env = Env::start().await;
    let api = api_only(&env).await;
    // Rollouts take 12 s, so the kill lands in the middle of the reconcile, and the
    // rollouts are still going when the job reappears (after 6 s).
    env.emulator_config(json!({ "rollout_describes": 100000, "rollout_seconds": 12 })).await;
    let job = create(&api, CLUSTER, &text(&env, &demo())).await;

    let first = Scheduler::start(&env, FAST).await;
    first.wait_log("change=create load balancer", JOB_LIMIT).await;
    first.wait_log("change=create service web", JOB_LIMIT).await;
    first.kill9().await;
    let record = api.job(&job).await;
    assert_eq!(record["status"], "running", "killed mid-reconcile: {record:#}");

    // The message reappears after its visibility (6 s) and the lease expires (6 s).
    let second = Scheduler::start(&env, FAST).await;
    let record = api.wait_job(&job, JOB_LIMIT).await;
    assert_eq!(record["status"], "succeeded", "{record:#}\n{}", second.logs().join("\n"));
    assert_eq!(record["attempts"], 2, "{record:#}");
    // The second attempt found nothing to change, and waited for the rollouts the first
    // one started: the job succeeded only once they completed.
    assert_eq!(record["result"]["rollouts"]["web"]["outcome"], "succeeded", "{record:#}");
    assert_eq!(env.service("web").await.running_count(), 2);

    // One of everything: services, load balancer, target group, DNS record.
    let mut services = env.active_services().await;
    services.sort();
    assert_eq!(services, ["mailer", "users", "web"]);
    assert_eq!(env.load_balancers().await.len(), 1);
    assert_eq!(env.target_groups().await.len(), 1);
    let records = env.records("www.demo.example.com.").await;
    let types: Vec<&str> = records.iter().map(|r| r.r#type().as_str()).collect();
    assert_eq!(types, ["A", "TXT"], "one alias and one ownership record");
    assert_eq!(env.discovery_services().await.len(), 1);
    let listeners = env
        .elb
        .describe_listeners()
        .load_balancer_arn(env.load_balancers().await[0].load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(listeners.listeners().len(), 1, "one listener");
    env.emulator_config(json!({ "rollout_describes": 2, "rollout_seconds": 2 })).await;
    env.assert_converged(&demo()).await;
}

#[tokio::test]
async fn a_poison_job_reaches_the_dead_letter_queue_recorded_failed_while_others_converge() {
    let env = Env::start().await;
    let api = serve(&env, &[]).await;
    let small = "services:\n  - worker:\n      image: busybox:1.36\n";
    let job = create(&api, "broken", small).await;
    assert_eq!(api.wait_job(&job, JOB_LIMIT).await["status"], "succeeded");

    // Someone edits the bucket by hand, past the API's validation, then asks for a deploy.
    api.s3
        .put_object()
        .bucket(BUCKET)
        .key("clusters/broken/stackfile.yaml")
        .body(b"services:\n  - worker:\n      image: [busybox\n".to_vec().into())
        .send()
        .await
        .expect("overwrite the stackfile");
    let resp = api.request(Method::POST, "/api/v1/clusters/broken/deploy", Some(&api.deployer)).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let poison: Value = resp.json().await.unwrap();
    let poison = poison["job_id"].as_str().unwrap().to_owned();

    // Meanwhile another cluster converges.
    let good = create(&api, CLUSTER, &text(&env, &demo())).await;

    let record = api.wait_job(&poison, JOB_LIMIT).await;
    assert_eq!(record["status"], "failed", "{record:#}");
    let error = record["error"].as_str().unwrap();
    assert!(error.starts_with("gave up after 5 attempt(s): stored stackfile version"), "{error}");
    assert!(error.contains("is not valid (1 error(s); first at line 4, column 1)"), "{error}");
    let status = api.status("broken").await;
    assert_eq!(status["last_job"]["status"], "failed", "{status:#}");

    // The message itself is in the dead-letter queue.
    let dlq = api.sqs.get_queue_url().queue_name(DLQ).send().await.unwrap().queue_url().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let dead = loop {
        let got = api.sqs.receive_message().queue_url(&dlq).wait_time_seconds(1).send().await.unwrap();
        if let Some(m) = got.messages().first() {
            break serde_json::from_str::<Value>(m.body().unwrap()).unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "the poison job never reached {DLQ}");
    };
    assert_eq!(dead["job_id"], poison.as_str());

    assert_eq!(api.wait_job(&good, JOB_LIMIT).await["status"], "succeeded");
    env.assert_converged(&demo()).await;
}

#[tokio::test]
async fn slack_down_the_deploy_still_succeeds_and_the_failed_delivery_is_logged() {
    let env = Env::start().await;
    let dead = dead_url();
    let api = serve(&env, &["--slack-webhook", &dead]).await;
    let job = create(&api, CLUSTER, &text(&env, &demo())).await;
    let record = api.wait_job(&job, JOB_LIMIT).await;
    assert_eq!(record["status"], "succeeded", "{record:#}");
    env.assert_converged(&demo()).await;

    // Five attempts 1, 2, 4 and 8 s apart, then a warning; the URL is never logged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let logs = api.logs();
        if logs.iter().any(|l| l.contains("notification delivery failed; giving up") && l.contains("sink=\"slack\"")) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no failed delivery logged:\n{}", logs.join("\n"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let port = dead.rsplit(':').next().unwrap().trim_end_matches("/hook");
    assert!(
        api.logs().iter().all(|l| !l.contains(&dead) && !l.contains(&format!(":{port}"))),
        "the webhook URL was logged"
    );
}

/// `[started_at, finished_at]` of each job that ran.
fn interval(record: &Value) -> Option<(String, String)> {
    Some((record["started_at"].as_str()?.to_owned(), record["finished_at"].as_str()?.to_owned()))
}

#[tokio::test]
async fn two_schedulers_and_ten_clusters_with_bursts_converge_with_no_overlapping_jobs() {
    let env = Env::start().await;
    let api = api_only(&env).await;
    let clusters: Vec<String> = (0..10).map(|i| format!("team-{i}")).collect();
    let stack = |tag: &str| {
        format!(
            "services:\n  - api:\n      image: busybox:{tag}\n      desired_count: 1\n  - worker:\n      image: busybox:1.36\n"
        )
    };
    let a = Scheduler::start(&env, FAST).await;
    let b = Scheduler::start(&env, FAST).await;

    // Burst 1: ten clusters at once. Then twice, once the previous burst is done:
    // three image bumps per cluster at once (30 PUTs).
    let mut jobs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let first = stack("1.0");
    let created = futures::future::join_all(clusters.iter().map(|c| create(&api, c, &first))).await;
    for (c, job) in clusters.iter().zip(created) {
        jobs.entry(c.clone()).or_default().push(job);
    }
    for burst in [1, 2] {
        for ids in jobs.values() {
            api.wait_job(ids.last().unwrap(), JOB_LIMIT).await;
        }
        let bumps = futures::future::join_all(
            clusters.iter().flat_map(|c| (1..=3).map(move |n| (c.clone(), format!("1.{burst}{n}")))).map(|(c, tag)| {
                let api = &api;
                async move { (c.clone(), put_service(api, &c, "api", json!({ "image_tag": tag })).await) }
            }),
        )
        .await;
        for (c, job) in bumps {
            jobs.entry(c).or_default().push(job);
        }
    }

    let mut holders = std::collections::BTreeSet::new();
    let mut pairs = 0;
    for (cluster, ids) in &jobs {
        let mut ran = Vec::new();
        let mut succeeded = 0;
        for id in ids {
            let record = api.wait_job(id, JOB_LIMIT).await;
            let status = record["status"].as_str().unwrap();
            assert!(["succeeded", "superseded"].contains(&status), "{cluster}: {record:#}");
            succeeded += usize::from(status == "succeeded");
            if let Some(h) = record["scheduler"].as_str() {
                holders.insert(h.to_owned());
            }
            if let Some(iv) = interval(&record) {
                ran.push((iv, id.clone()));
            }
        }
        // The stored stackfile has whichever bump was written last; the cluster runs it.
        let config: Value = api
            .request(Method::GET, &format!("/api/v1/clusters/{cluster}/config"), Some(&api.viewer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let wanted = config["services"][0]["api"]["image"].as_str().unwrap().to_owned();
        assert!(wanted.starts_with("busybox:1."), "{config}");
        // Jobs queued behind a newer one are superseded (even the create); the job of
        // the last stored version runs.
        assert!(succeeded >= 1, "{cluster}: no job ran");
        ran.sort();
        pairs += ran.len().saturating_sub(1);
        for pair in ran.windows(2) {
            let ((_, end), first) = &pair[0];
            let ((start, _), second) = &pair[1];
            assert!(end <= start, "{cluster}: job {first} (ended {end}) overlaps job {second} (started {start})");
        }
        // Live: the image of the last bump, through the SDK.
        let svc = env.ecs.describe_services().cluster(cluster).services("api").send().await.unwrap();
        let td = svc.services()[0].task_definition().unwrap().to_owned();
        assert_eq!(image_of(&env.task_definition(&td).await), wanted, "{cluster}");
    }
    assert_eq!(holders.len(), 2, "both schedulers took jobs: {holders:?}");
    // The overlap check compared something: more jobs ran than clusters.
    // Each cluster ran its create and at least one job of each burst.
    assert!(pairs >= 20, "only {pairs} pairs of jobs of one cluster ran");
    eprintln!("{pairs} pairs of consecutive jobs of one cluster, none overlapping");
    drop((a, b));
}

#[tokio::test]
async fn drift_is_healed_under_heal_and_only_reported_under_report() {
    let env = Env::start().await;
    let hook = Sink::start().await;
    let api = serve(&env, &["--resync-interval", "2s", "--webhook", &hook.url]).await;
    let job = create(&api, CLUSTER, &text(&env, &demo())).await;
    assert_eq!(api.wait_job(&job, JOB_LIMIT).await["status"], "succeeded");

    // Out of band, someone scales web to 5.
    let scale = |n: i32| env.ecs.update_service().cluster(CLUSTER).service("web").desired_count(n).send();
    scale(5).await.expect("scale web out of band");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while env.service("web").await.desired_count() != 2 {
        assert!(tokio::time::Instant::now() < deadline, "the drift was not healed: {:#}", api.status(CLUSTER).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let event = hook
        .wait_for("a drift event", Duration::from_secs(10), |b| {
            b["event"] == "drift_detected" && b["cluster"] == CLUSTER
        })
        .await;
    assert!(event["summary"].as_str().unwrap().ends_with("healing now"), "{event}");
    assert_eq!(event["changes"], json!(["update service web"]), "{event}");
    let status = api.status(CLUSTER).await;
    assert_eq!(status["drift"]["action"], "healed", "{status:#}");
    let healer = status["drift"]["job_id"].as_str().unwrap().to_owned();
    let record = api.wait_job(&healer, JOB_LIMIT).await;
    assert_eq!(
        (record["status"].as_str(), record["reason"].as_str()),
        (Some("succeeded"), Some("drift")),
        "{record:#}"
    );

    // `drift: report`: the next drift is recorded and announced, and left alone.
    let report = format!("drift: report\n{}", text(&env, &demo()));
    let job = api.put_config(CLUSTER, &report).await;
    assert_eq!(api.wait_job(job["job_id"].as_str().unwrap(), JOB_LIMIT).await["status"], "succeeded");
    scale(5).await.expect("scale web out of band");
    let event = hook
        .wait_for("a reported drift", Duration::from_secs(30), |b| {
            b["event"] == "drift_detected"
                && b["summary"].as_str().is_some_and(|s| s.ends_with("reported only (drift: report)"))
        })
        .await;
    assert_eq!(event["changes"], json!(["update service web"]), "{event}");
    let status = api.status(CLUSTER).await;
    assert_eq!(status["drift"]["action"], "reported", "{status:#}");
    // Two more intervals: still 5, and the drift was announced once.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(env.service("web").await.desired_count(), 5);
    let reported =
        hook.bodies().iter().filter(|b| b["summary"].as_str().is_some_and(|s| s.contains("reported only"))).count();
    assert_eq!(reported, 1);
}

#[tokio::test]
async fn sigterm_during_a_reconcile_lets_it_finish_and_exits_0() {
    let env = Env::start().await;
    let api = api_only(&env).await;
    env.emulator_config(json!({ "rollout_describes": 100000, "rollout_seconds": 3 })).await;
    let job = create(&api, CLUSTER, &text(&env, &demo())).await;
    let scheduler = Scheduler::start(&env, FAST).await;
    scheduler.wait_log("change=create service web", JOB_LIMIT).await;
    assert_eq!(api.job(&job).await["status"], "running");
    let (exit, logs) = scheduler.terminate().await;
    assert!(exit.success(), "exit {exit:?}:\n{}", logs.join("\n"));
    assert!(logs.iter().any(|l| l.contains("shutting down")), "{}", logs.join("\n"));
    let record = api.job(&job).await;
    assert_eq!(record["status"], "succeeded", "the in-flight reconcile finished: {record:#}");
    assert_eq!(env.service("web").await.running_count(), 2);
}

#[tokio::test]
async fn a_stale_job_is_superseded_by_the_job_for_the_newer_stackfile() {
    let env = Env::start().await;
    let api = api_only(&env).await;
    let v = |tag: &str| format!("services:\n  - worker:\n      image: busybox:{tag}\n");
    let first = create(&api, CLUSTER, &v("1.35")).await;
    let second = api.put_config(CLUSTER, &v("1.36")).await["job_id"].as_str().unwrap().to_owned();

    // Both jobs wait in the queue; then a scheduler starts.
    let _scheduler = Scheduler::start(&env, FAST).await;
    let old = api.wait_job(&first, JOB_LIMIT).await;
    assert_eq!(old["status"], "superseded", "{old:#}");
    assert_eq!(old["result"]["superseded_by"], second.as_str(), "{old:#}");
    assert!(old["started_at"].is_null(), "a superseded job changes nothing: {old:#}");
    let new = api.wait_job(&second, JOB_LIMIT).await;
    assert_eq!(new["status"], "succeeded", "{new:#}");
    let td = env.service("worker").await.task_definition().unwrap().to_owned();
    assert_eq!(image_of(&env.task_definition(&td).await), "busybox:1.36");
    // Only the newer stackfile was ever applied: one revision.
    assert_eq!(env.revisions("demo-worker").await.len(), 1);
}

#[tokio::test]
async fn when_the_grace_period_runs_out_the_job_is_handed_back_and_another_scheduler_finishes_it() {
    let env = Env::start().await;
    let api = api_only(&env).await;
    // Rollouts take 10 s; the grace period is 1 s.
    env.emulator_config(json!({ "rollout_describes": 100000, "rollout_seconds": 10 })).await;
    let job = create(&api, CLUSTER, &text(&env, &demo())).await;
    let mut args = FAST.to_vec();
    args.extend(["--grace-period", "1s"]);
    let first = Scheduler::start(&env, &args).await;
    first.wait_log("change=create service web", JOB_LIMIT).await;
    let signalled = tokio::time::Instant::now();
    let (exit, logs) = first.terminate().await;
    assert!(exit.success(), "exit {exit:?}:\n{}", logs.join("\n"));
    assert!(signalled.elapsed() < Duration::from_secs(8), "took {:?} to exit", signalled.elapsed());
    assert!(logs.iter().any(|l| l.contains("grace period over")), "{}", logs.join("\n"));
    let record = api.job(&job).await;
    assert_eq!(record["status"], "queued", "handed back: {record:#}");
    assert!(record["error"].as_str().unwrap().starts_with("interrupted: scheduler"), "{record:#}");

    // The message is visible again at once and the lease released: a new scheduler
    // takes the job without waiting out the visibility timeout, and waits for the
    // rollouts the first one started.
    let _second = Scheduler::start(&env, FAST).await;
    let record = api.wait_job(&job, JOB_LIMIT).await;
    assert_eq!(record["status"], "succeeded", "{record:#}");
    assert_eq!(record["attempts"], 2, "{record:#}");
    assert_eq!(env.service("web").await.running_count(), 2);
    assert_eq!(env.load_balancers().await.len(), 1);
}

#[tokio::test]
async fn the_scheduler_alone_serves_its_metrics_health_and_readiness() {
    let env = Env::start().await;
    let api = api_only(&env).await;
    let scheduler = Scheduler::start(&env, FAST).await;
    let probes = scheduler.probes_url().await;
    // A client that sends half a request's headers, then nothing: the listener closes it
    // after its header timeout (10 s), as the API's does.
    let opened = std::time::Instant::now();
    let mut slow = tokio::net::TcpStream::connect(probes.trim_start_matches("http://")).await.unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: te").await.unwrap();
    let job = create(&api, CLUSTER, "services:\n  - worker:\n      image: busybox:1.36\n").await;
    assert_eq!(api.wait_job(&job, JOB_LIMIT).await["status"], "succeeded");

    let get = |path: &str| api.http.get(format!("{probes}{path}")).send();
    let resp = get("/healthz").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    let resp = get("/readyz").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"status": "ready", "checks": {"s3": "ok", "sqs": "ok"}}));
    let resp = get("/api/v1/clusters").await.unwrap();
    assert_eq!(resp.status(), 404, "the scheduler's listener serves no API");

    // The scheduler's own metrics, in the Prometheus text the API serves.
    let resp = get("/metrics").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain; version=0.0.4");
    let text = resp.text().await.unwrap();
    assert!(text.lines().any(|l| l == r#"bosun_jobs_total{status="succeeded"} 1"#), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with(r#"bosun_aws_calls_total{service="ECS",operation="RegisterTaskDefinition"}"#)),
        "{text}"
    );
    assert!(text.contains("bosun_reconcile_duration_seconds_bucket"), "{text}");

    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout_at((opened + Duration::from_secs(13)).into(), slow.read(&mut buf)).await {
            Err(_) => panic!("the half-sent request was still open after 13 s"),
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(_)) => {}
        }
    }
    assert!(opened.elapsed() >= Duration::from_secs(9), "closed before the header timeout");

    // The listener stops with the scheduler, which exits 0.
    let (exit, logs) = scheduler.terminate().await;
    assert!(exit.success(), "exit {exit:?}:\n{}", logs.join("\n"));
    assert!(get("/healthz").await.is_err(), "the listener is closed after the exit");
}

#[tokio::test]
async fn a_dead_job_shows_in_the_status_and_jobs_redrive_runs_it_again_once() {
    let env = Env::start().await;
    let api = serve(&env, &[]).await;
    let v = |tag: &str| format!("services:\n  - worker:\n      image: busybox:{tag}\n");
    let job = create(&api, CLUSTER, &v("1.35")).await;
    assert_eq!(api.wait_job(&job, JOB_LIMIT).await["status"], "succeeded");
    assert_eq!(api.status(CLUSTER).await["dead_letter_jobs"], 0);

    // A stackfile edited past the API's validation: its deploy fails on every attempt
    // and goes to the dead-letter queue, recorded failed without an outcome.
    api.s3
        .put_object()
        .bucket(BUCKET)
        .key(format!("clusters/{CLUSTER}/stackfile.yaml"))
        .body(b"services:\n  - worker:\n      image: [busybox\n".to_vec().into())
        .send()
        .await
        .expect("overwrite the stackfile");
    let resp = api.request(Method::POST, &format!("/api/v1/clusters/{CLUSTER}/deploy"), Some(&api.deployer));
    let dead: Value = resp.send().await.unwrap().json().await.unwrap();
    let dead = dead["job_id"].as_str().unwrap().to_owned();
    let record = api.wait_job(&dead, JOB_LIMIT).await;
    assert_eq!((record["status"].as_str(), record["incomplete"].as_bool()), (Some("failed"), Some(true)), "{record:#}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while api.status(CLUSTER).await["dead_letter_jobs"] != 1 {
        assert!(tokio::time::Instant::now() < deadline, "the status never showed the dead job");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The stackfile is fixed through the API; then the dead job is moved back. It is
    // reopened, runs again, and finds its version superseded by the fix.
    let fixed = api.put_config(CLUSTER, &v("1.36")).await["job_id"].as_str().unwrap().to_owned();
    assert_eq!(api.wait_job(&fixed, JOB_LIMIT).await["status"], "succeeded");
    let redrive = env.bosun(&["jobs", "redrive", "--bucket", BUCKET, "--queue", QUEUE]).await;
    redrive.expect_code(0).expect_lines(&[
        format!("moved    job {dead} (cluster {CLUSTER}): failed -> queued"),
        format!("moved 1 job(s) from {DLQ} to {QUEUE}"),
    ]);
    let record = api.wait_job(&dead, JOB_LIMIT).await;
    assert_eq!(record["status"], "superseded", "{record:#}");
    assert_eq!(record["result"]["superseded_by"], fixed.as_str(), "{record:#}");
    assert_eq!(api.status(CLUSTER).await["dead_letter_jobs"], 0);

    // Again: nothing left to move, nothing ran twice.
    let again = env.bosun(&["jobs", "redrive", "--bucket", BUCKET, "--queue", QUEUE]).await;
    again.expect_code(0).expect_lines(&[format!("moved 0 job(s) from {DLQ} to {QUEUE}")]);
    let td = env.service("worker").await.task_definition().unwrap().to_owned();
    assert_eq!(image_of(&env.task_definition(&td).await), "busybox:1.36");
    assert_eq!(env.revisions("demo-worker").await.len(), 2, "1.35 and 1.36, nothing else");
}
