//! The scheduler under faults: `bosun serve scheduler` replicas whose AWS, S3 and SQS
//! calls go through the fault proxy, while the API and the test's own SDK clients talk
//! to the emulator directly. Every test checks what a user relies on once the faults
//! stop: every job record final, the newest stackfile version live (through the SDK),
//! within one resync interval.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use bosun_tests::api::{ApiServer, BUCKET, DLQ, QUEUE};
use bosun_tests::proxy::Faults;
use bosun_tests::scheduler::{FAST, Scheduler};
use bosun_tests::{CLUSTER, Env};
use serde_json::{Value, json};

/// The drift check's interval in these tests: what "within one resync interval" means.
const RESYNC: Duration = Duration::from_secs(5);
/// A job on the emulator takes a few seconds; this leaves room for a loaded machine.
const JOB_LIMIT: Duration = Duration::from_secs(60);

const SERVICES: [&str; 3] = ["api", "worker", "cron"];

/// Three services on `busybox:<tag>`.
fn stack(tag: &str) -> String {
    let mut text = "services:\n".to_owned();
    for s in SERVICES {
        text.push_str(&format!("  - {s}:\n      image: busybox:{tag}\n"));
    }
    text
}

/// Scheduler flags: the test settings, a short drift check.
fn scheduler_args() -> Vec<&'static str> {
    let mut args = FAST.to_vec();
    args.extend(["--resync-interval", "5s"]);
    args
}

/// The image each service runs, through the SDK on the emulator.
async fn live_images(env: &Env) -> BTreeMap<String, String> {
    let mut images = BTreeMap::new();
    for s in SERVICES {
        let td = env.service(s).await.task_definition().expect("a task definition").to_owned();
        let image = env.task_definition(&td).await.container_definitions()[0].image().unwrap_or_default().to_owned();
        images.insert(s.to_owned(), image);
    }
    images
}

fn all_on(tag: &str) -> BTreeMap<String, String> {
    SERVICES.iter().map(|s| ((*s).to_owned(), format!("busybox:{tag}"))).collect()
}

/// The job record, read from S3 directly (not through the API).
async fn record(api: &ApiServer, job: &str) -> Value {
    let out = api.s3.get_object().bucket(BUCKET).key(format!("jobs/{job}.json")).send().await.expect("GetObject");
    let bytes = out.body.collect().await.expect("the record's body").into_bytes();
    serde_json::from_slice(&bytes).expect("a JSON record")
}

fn is_final(record: &Value) -> bool {
    !matches!(record["status"].as_str(), Some("queued" | "running"))
}

/// Messages in the dead-letter queue, as SQS counts them.
async fn dead_letters(api: &ApiServer) -> u64 {
    let url = api.sqs.get_queue_url().queue_name(DLQ).send().await.unwrap().queue_url().unwrap().to_owned();
    let out = api
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("GetQueueAttributes");
    [QueueAttributeName::ApproximateNumberOfMessages, QueueAttributeName::ApproximateNumberOfMessagesNotVisible]
        .iter()
        .filter_map(|k| out.attributes()?.get(k)?.parse::<u64>().ok())
        .sum()
}

/// Poll `check` every 200 ms until it returns `Some`, or fail after `limit` with `what`.
async fn eventually<T>(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn at_20_percent_faults_ten_bumps_end_with_every_job_final_and_the_newest_version_live() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    let proxy = env.proxy(Faults::none()).await;
    env.route_through(&proxy);
    let replicas = [Scheduler::start(&env, &scheduler_args()).await, Scheduler::start(&env, &scheduler_args()).await];
    let created = api
        .request(reqwest::Method::POST, "/api/v1/clusters", Some(&api.admin))
        .json(&json!({ "name": CLUSTER, "config": stack("1.0") }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let first = created.json::<Value>().await.unwrap()["job_id"].as_str().unwrap().to_owned();
    assert_eq!(api.wait_job(&first, JOB_LIMIT).await["status"], "succeeded");

    // 20% of bosun's AWS, S3 and SQS calls fail, with every kind of fault. Ten bumps:
    // the odd ones wait for their job to end (so that each is reconciled under the
    // faults), the even ones follow at once (so that some jobs find a newer version).
    proxy.set_faults(Faults::rate(0.2)).await;
    let mut jobs = vec![first];
    for n in 1..=10 {
        let body = api.put_config(CLUSTER, &stack(&format!("1.{n}"))).await;
        let job = body["job_id"].as_str().unwrap().to_owned();
        if n % 2 == 1 {
            eventually("the bump's job ended", JOB_LIMIT, async || is_final(&record(&api, &job).await).then_some(()))
                .await;
        }
        jobs.push(job);
    }
    let stats = proxy.stats().await;
    proxy.set_faults(Faults::none()).await;
    let faults_stopped = tokio::time::Instant::now();
    // ECS (`ecs:Op`), S3 (`PUT /bucket/key`) and SQS (`AmazonSQS:Op`) calls all failed.
    for (service, is) in [
        ("ECS", (|op: &str| op.starts_with("ecs:")) as fn(&str) -> bool),
        ("S3", |op: &str| op.contains(&format!("/{BUCKET}"))),
        ("SQS", |op: &str| op.to_ascii_lowercase().contains("sqs:")),
    ] {
        let n: u64 = stats.faulted_operations.iter().filter(|(op, _)| is(op)).map(|(_, n)| n).sum();
        assert!(n > 0, "no {service} call was faulted: {stats:?}");
    }

    // Faults off: within one resync interval (plus a job's time), every job is final,
    // the newest version is what runs, and the status says a job of that version
    // succeeded.
    let newest = record(&api, jobs.last().unwrap()).await["stackfile_version"].clone();
    let mut seen = String::new();
    // Bounded by the timeout below, which says what was last seen.
    let converged = eventually("every job final and busybox:1.10 live", RESYNC + JOB_LIMIT * 2, async || {
        let mut records = Vec::new();
        for job in &jobs {
            records.push(record(&api, job).await);
        }
        let last = api.status(CLUSTER).await["last_job"].clone();
        let live = live_images(&env).await;
        let done = records.iter().all(is_final)
            && last["stackfile_version"] == newest
            && last["status"] == "succeeded"
            && live == all_on("1.10");
        // What the last look found, for the failure message.
        let statuses: Vec<&str> = records.iter().map(|r| r["status"].as_str().unwrap_or("?")).collect();
        seen = format!("jobs {statuses:?}; status's last job {last}; live {live:?}; newest version {newest}");
        done.then_some(records)
    });
    let records = match tokio::time::timeout(RESYNC + JOB_LIMIT, converged).await {
        Ok(records) => records,
        Err(_) => {
            let tails: Vec<String> = replicas
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let logs = r.logs();
                    format!("replica {i}, last log lines:\n{}", logs[logs.len().saturating_sub(40)..].join("\n"))
                })
                .collect();
            panic!("not converged after the faults stopped (seed {}): {seen}\n{}", proxy.seed(), tails.join("\n"))
        }
    };
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        *outcomes.entry(r["status"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    eprintln!(
        "seed {}: {} faults injected ({:?}) over {} requests; jobs: {outcomes:?}; converged {:?} after the faults stopped",
        proxy.seed(),
        stats.total_faults(),
        stats.faults,
        stats.requests,
        faults_stopped.elapsed()
    );
    // Nothing rolled back, and every job that did not succeed says why.
    for r in &records {
        assert_ne!(r["status"], "rolled_back", "{r:#}");
        if r["status"] == "failed" {
            assert!(r["error"].is_string() && r["incomplete"] == true, "{r:#}");
        }
    }
    // Both replicas are still serving.
    for replica in &replicas {
        let probes = replica.probes_url().await;
        assert_eq!(api.http.get(format!("{probes}/healthz")).send().await.unwrap().status(), 200);
    }
}

/// Let the job queue move a job to the dead-letter queue after `receives` receives
/// (`bosun init` sets 5; the scheduler reads it at start).
async fn max_receives(api: &ApiServer, receives: u32) {
    let dlq = api.sqs.get_queue_url().queue_name(DLQ).send().await.unwrap().queue_url().unwrap().to_owned();
    let attrs = api.sqs.get_queue_attributes().queue_url(dlq).attribute_names(QueueAttributeName::QueueArn);
    let arn = attrs.send().await.unwrap().attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
    let policy = json!({ "deadLetterTargetArn": arn, "maxReceiveCount": receives.to_string() });
    api.sqs
        .set_queue_attributes()
        .queue_url(&api.queue_url)
        .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
        .send()
        .await
        .expect("SetQueueAttributes");
}

#[tokio::test]
async fn a_failed_record_that_cannot_be_written_on_the_last_attempt_is_written_once_s3_answers_and_its_version_applied()
{
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    // Two attempts rather than five: each failed S3 call takes the SDK's five tries
    // with backoff (about 7 s), and the test must end within nextest's 3 minutes.
    max_receives(&api, 2).await;
    let proxy = env.proxy(Faults::none()).await;
    env.route_through(&proxy);
    let scheduler = Scheduler::start(&env, &scheduler_args()).await;
    let created = api
        .request(reqwest::Method::POST, "/api/v1/clusters", Some(&api.admin))
        .json(&json!({ "name": CLUSTER, "config": stack("1.0") }))
        .send()
        .await
        .unwrap();
    let first = created.json::<Value>().await.unwrap()["job_id"].as_str().unwrap().to_owned();
    assert_eq!(api.wait_job(&first, JOB_LIMIT).await["status"], "succeeded");

    // Every write of a job record by the scheduler fails (the cluster status and
    // everything else still work): each attempt of the next job fails when it records
    // `running`, and on the last one the `failed` record cannot be written either.
    let record_writes = format!("PUT /{BUCKET}/jobs/{{id}}");
    let record_writes: &'static str = Box::leak(record_writes.into_boxed_str());
    proxy.set_faults(Faults::rate(1.0).kinds(&["503"]).operations(&[record_writes])).await;
    let job = api.put_config(CLUSTER, &stack("2.0")).await["job_id"].as_str().unwrap().to_owned();
    scheduler.wait_log("giving up on the job", Duration::from_secs(90)).await;
    scheduler.wait_log("could not record the job failed", Duration::from_secs(60)).await;
    eventually("the job's message in the dead-letter queue", Duration::from_secs(30), async || {
        (dead_letters(&api).await == 1).then_some(())
    })
    .await;
    // This is the defect: the message is dead, and its record still says queued; the
    // status says the version failed.
    let stuck = record(&api, &job).await;
    assert_eq!(stuck["status"], "queued", "{stuck:#}");
    assert_eq!(live_images(&env).await, all_on("1.0"));
    let status = api.status(CLUSTER).await;
    assert_eq!(status["last_job"]["job_id"], job.as_str(), "{status:#}");
    assert_eq!(status["last_job"]["incomplete"], true, "{status:#}");
    assert_eq!(status["dead_letter_jobs"], 1, "{status:#}");

    // S3 answers again. Within one resync interval the job's version is applied by a
    // retry job, and the job is final: recorded failed by the drift check's sweep of
    // the dead-letter queue, or, when the check applied the version before a sweep
    // could write the record, superseded by the retry job.
    proxy.set_faults(Faults::none()).await;
    let faults_stopped = tokio::time::Instant::now();
    eventually("busybox:2.0 live", RESYNC + JOB_LIMIT, async || {
        (live_images(&env).await == all_on("2.0")).then_some(())
    })
    .await;
    eprintln!("busybox:2.0 live {:?} after the faults stopped", faults_stopped.elapsed());
    let retry = eventually("a retry job of the version succeeded", JOB_LIMIT, async || {
        let last = api.status(CLUSTER).await["last_job"].clone();
        Some(api.job(last["job_id"].as_str()?).await).filter(|r| r["reason"] == "retry" && is_final(r))
    })
    .await;
    assert_eq!(retry["status"], "succeeded", "{retry:#}");
    assert_eq!(retry["stackfile_version"], stuck["stackfile_version"]);
    let ended =
        eventually("the dead job recorded final", JOB_LIMIT, async || Some(record(&api, &job).await).filter(is_final))
            .await;
    match ended["status"].as_str() {
        Some("failed") => {
            assert_eq!(ended["incomplete"], true, "{ended:#}");
            assert!(ended["error"].as_str().unwrap().contains("dead-letter queue"), "{ended:#}");
        }
        Some("superseded") => assert_eq!(ended["result"]["superseded_by"], retry["job_id"], "{ended:#}"),
        _ => panic!("the dead job ended neither failed nor superseded: {ended:#}"),
    }
    assert_eq!(api.status(CLUSTER).await["dead_letter_jobs"], 1);

    // `bosun jobs redrive` moves the dead job back (reopening it if it failed: it runs
    // again and, its version being live, succeeds). A second redrive finds nothing.
    let redrive = env.bosun(&["jobs", "redrive", "--bucket", BUCKET, "--queue", QUEUE]).await;
    let line = match ended["status"].as_str() {
        Some("failed") => format!("moved    job {job} (cluster {CLUSTER}): failed -> queued"),
        _ => format!("moved    job {job} (cluster {CLUSTER}): already superseded; the scheduler drops it"),
    };
    redrive.expect_code(0).expect_lines(&[line, format!("moved 1 job(s) from {DLQ} to {QUEUE}")]);
    assert_eq!(dead_letters(&api).await, 0);
    let rerun = api.wait_job(&job, JOB_LIMIT).await;
    let expected = if ended["status"] == "failed" { "succeeded" } else { "superseded" };
    assert_eq!(rerun["status"], expected, "{rerun:#}");
    assert!(rerun.get("incomplete").is_none(), "{rerun:#}");
    assert_eq!(api.status(CLUSTER).await["dead_letter_jobs"], 0);
    let again = env.bosun(&["jobs", "redrive", "--bucket", BUCKET, "--queue", QUEUE]).await;
    again.expect_code(0).expect_lines(&[format!("moved 0 job(s) from {DLQ} to {QUEUE}")]);
    assert_eq!(live_images(&env).await, all_on("2.0"));
}

/// Renewals of the cluster lease whose answers are lost: each write took effect, the SDK
/// retried it, and the retry failed its condition (the ETag it was conditional on is
/// gone). The scheduler reads the lease back, finds what it wrote, and goes on: the job
/// is not stopped as if another scheduler had taken its lease.
#[tokio::test]
async fn lease_renewals_whose_answers_are_lost_do_not_stop_the_job() {
    let env = Env::start().await;
    let api = ApiServer::start(&env).await;
    // 200 ms on every AWS call: a job lasts several heartbeats (1 s), so it renews.
    let proxy = env.proxy(Faults::none().latency(Duration::from_millis(200))).await;
    env.route_through(&proxy);
    let scheduler = Scheduler::start(&env, &scheduler_args()).await;
    let created = api
        .request(reqwest::Method::POST, "/api/v1/clusters", Some(&api.admin))
        .json(&json!({ "name": CLUSTER, "config": stack("1.0") }))
        .send()
        .await
        .unwrap();
    let first = created.json::<Value>().await.unwrap()["job_id"].as_str().unwrap().to_owned();
    assert_eq!(api.wait_job(&first, JOB_LIMIT).await["status"], "succeeded");

    // Once the next job runs (its lease taken), the answers of the next two lease writes
    // are lost: renewals, on its heartbeats.
    let job = api.put_config(CLUSTER, &stack("2.0")).await["job_id"].as_str().unwrap().to_owned();
    eventually("the job running", JOB_LIMIT, async || (record(&api, &job).await["status"] == "running").then_some(()))
        .await;
    let lease_writes: &'static str = Box::leak(format!("PUT /{BUCKET}/leases/{{id}}").into_boxed_str());
    proxy.set_faults(Faults::rate(1.0).kinds(&["lost"]).operations(&[lease_writes]).limit_per_operation(2)).await;
    let done = api.wait_job(&job, JOB_LIMIT).await;
    let stats = proxy.stats().await;
    let lost = stats.faulted_operations.get(lease_writes).copied().unwrap_or(0);
    assert!(lost >= 1, "a renewal lost its answer: {stats:?}");
    let logs = scheduler.logs();
    assert!(!logs.iter().any(|l| l.contains("taken over by another scheduler")), "{}", logs.join("\n"));
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(done["attempts"], 1, "the job ran once, never stopped: {done:#}");
    assert_eq!(live_images(&env).await, all_on("2.0"));
}
