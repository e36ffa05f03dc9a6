//! ChatOps through the platform-neutral endpoint (`POST /api/v1/chat`, `POST
//! /api/v1/chat/actions`) against the emulator and a real `bosun serve` (API and
//! scheduler): proposals, approvals, and what they change in AWS, checked through
//! the SDK and the job records.

use std::time::Duration;

use bosun_tests::Env;
use bosun_tests::api::{ApiServer, BUCKET};
use bosun_tests::scheduler::{FAST, Scheduler};
use reqwest::Method;
use serde_json::{Value, json};

const JOB_LIMIT: Duration = Duration::from_secs(90);

/// alice and bob deploy to demo; victor only views; root is admin everywhere.
const ACCESS: &str = "\
# role user clusters
deployer alice demo
deployer bob demo staging-*
viewer victor demo
admin root *
";

struct Chat {
    env: Env,
    api: ApiServer,
    web: String,
    worker: String,
    access: String,
}

/// `bosun serve` with the access file, two ECR repositories, and cluster demo
/// (web at 1.27, worker at 2.0; `chat.require_second_approver` as given) converged.
async fn start(second_approver: bool) -> Chat {
    let env = Env::start().await;
    let access = env.work_dir().join("chat-access");
    std::fs::write(&access, ACCESS).expect("write the access file");
    let access = access.to_str().expect("a UTF-8 path").to_owned();
    let mut args = vec!["serve"];
    args.extend_from_slice(FAST);
    // Short API locks, so that a test sees one expire.
    args.extend_from_slice(&["--chat-access-file", &access, "--lock-min-ttl", "1s"]);
    let api = ApiServer::start_with(&env, &args).await;
    let web = api.ecr_repository("team/web", &["1.26", "1.27", "1.28"]).await;
    let worker = api.ecr_repository("team/worker", &["2.0", "2.1"]).await;
    let chat = Chat { env, api, web, worker, access };
    let job = chat.create(&chat.stackfile("1.27", "2.0", second_approver)).await;
    let done = chat.api.wait_job(&job, JOB_LIMIT).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    chat
}

impl Chat {
    fn stackfile(&self, web: &str, worker: &str, second_approver: bool) -> String {
        format!(
            "chat:\n  require_second_approver: {second_approver}\nservices:\n  - web:\n      image: {}:{web}\n      memory: 128\n      desired_count: 1\n  - worker:\n      image: {}:{worker}\n      memory: 128\n      desired_count: 1\n",
            self.web, self.worker
        )
    }

    async fn create(&self, yaml: &str) -> String {
        let resp = self
            .api
            .request(Method::POST, "/api/v1/clusters", Some(&self.api.admin))
            .json(&json!({ "name": "demo", "config": yaml }))
            .send()
            .await
            .expect("POST clusters");
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.expect("JSON");
        body["job_id"].as_str().expect("a job id").to_owned()
    }

    /// `POST /api/v1/chat` as `user` with the admin token (which caps nothing).
    async fn say(&self, user: &str, text: &str) -> Value {
        self.say_with(&self.api.admin, user, text).await
    }

    async fn say_with(&self, token: &str, user: &str, text: &str) -> Value {
        let resp = self
            .api
            .request(Method::POST, "/api/v1/chat", Some(token))
            .json(&json!({ "user": user, "channel": "C1", "text": text }))
            .send()
            .await
            .expect("POST chat");
        assert_eq!(resp.status(), 200, "{text}");
        resp.json().await.expect("JSON")
    }

    async fn click(&self, user: &str, action: &str, value: &str) -> Value {
        let resp = self
            .api
            .request(Method::POST, "/api/v1/chat/actions", Some(&self.api.admin))
            .json(&json!({ "user": user, "channel": "C1", "action": action, "value": value }))
            .send()
            .await
            .expect("POST chat actions");
        assert_eq!(resp.status(), 200);
        resp.json().await.expect("JSON")
    }

    async fn proposal(&self, id: &str) -> Value {
        let resp = self
            .api
            .request(Method::GET, &format!("/api/v1/chat/proposals/{id}"), Some(&self.api.viewer))
            .send()
            .await
            .expect("GET proposal");
        assert_eq!(resp.status(), 200);
        resp.json().await.expect("JSON")
    }

    /// Wait until the proposal's card is final; its card.
    async fn wait_final(&self, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + JOB_LIMIT;
        loop {
            let card = self.proposal(id).await;
            if !["proposed", "approved", "running"].contains(&card["state"].as_str().unwrap_or_default()) {
                return card;
            }
            assert!(tokio::time::Instant::now() < deadline, "proposal {id} not final: {card:#}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The live image of a service, through the SDK.
    async fn live_image(&self, service: &str) -> String {
        let arn = self.env.running_revision(service).await;
        let td = self.env.task_definition(&arn).await;
        td.container_definitions()[0].image().unwrap_or_default().to_owned()
    }

    /// The current stackfile version (S3 version id) of demo.
    async fn version(&self) -> String {
        let out = self
            .api
            .s3
            .head_object()
            .bucket(BUCKET)
            .key("clusters/demo/stackfile.yaml")
            .send()
            .await
            .expect("head the stackfile");
        out.version_id().unwrap_or_default().to_owned()
    }

    /// Job records that carry this proposal.
    async fn jobs_of(&self, proposal: &str) -> Vec<Value> {
        let listed = self.api.s3.list_objects_v2().bucket(BUCKET).prefix("jobs/").send().await.expect("list jobs");
        let mut jobs = Vec::new();
        for o in listed.contents() {
            let id = o.key().unwrap_or_default().trim_start_matches("jobs/").trim_end_matches(".json");
            let job = self.api.job(id).await;
            if job["proposal_id"] == proposal {
                jobs.push(job);
            }
        }
        jobs
    }
}

fn proposal_id(reply: &Value) -> String {
    reply["card"]["proposal_id"].as_str().unwrap_or_else(|| panic!("no card in {reply:#}")).to_owned()
}

#[tokio::test]
async fn a_deploy_asked_in_chat_is_applied_exactly_when_a_second_user_approves() {
    let chat = start(true).await;
    let reply = chat.say("alice", "deploy to demo web:1.28").await;
    let card = &reply["card"];
    assert_eq!(card["state"], "proposed", "{reply:#}");
    assert_eq!(card["requester"], "alice");
    assert_eq!(card["changes"], json!([format!("~ web: {0}:1.27 -> {0}:1.28", chat.web)]));
    assert_eq!(card["summary"], "2 to update", "the task definition and the service: {reply:#}");
    assert_eq!(card["plan_hash"].as_str().map(str::len), Some(64), "{reply:#}");
    let id = proposal_id(&reply);
    let before = chat.version().await;

    // The requester may not approve: the stackfile asks for a second approver.
    let own = chat.click("alice", "approve", &id).await;
    assert_eq!(own["private"], true);
    assert!(own["text"].as_str().unwrap().contains("requires a second approver"), "{own:#}");
    assert_eq!(chat.version().await, before, "a refused approval writes nothing");

    let approved = chat.click("bob", "approve", &id).await;
    assert_eq!(approved["card"]["state"], "approved", "{approved:#}");
    assert_eq!(approved["card"]["decided_by"], "bob");
    let job_id = approved["card"]["job_id"].as_str().expect("the job id").to_owned();
    let job = chat.api.wait_job(&job_id, JOB_LIMIT).await;
    assert_eq!(job["status"], "succeeded", "{job:#}");
    assert_eq!(job["requested_by"], "alice");
    assert_eq!(job["approved_by"], "bob");
    assert_eq!(job["proposal_id"], id.as_str());
    assert_eq!(job["plan_hash"], card["plan_hash"]);
    assert_eq!(chat.live_image("web").await, format!("{}:1.28", chat.web));
    assert_eq!(chat.live_image("worker").await, format!("{}:2.0", chat.worker), "only web changed");
    let last = chat.wait_final(&id).await;
    assert_eq!(last["state"], "succeeded", "{last:#}");

    // A decided proposal cannot be approved again.
    let again = chat.click("bob", "approve", &id).await;
    assert!(again["text"].as_str().unwrap().contains("already decided"), "{again:#}");
    assert_eq!(chat.jobs_of(&id).await.len(), 1);
}

#[tokio::test]
async fn an_approval_after_the_stackfile_changed_is_stale_and_writes_nothing() {
    let chat = start(false).await;
    let reply = chat.say("alice", "deploy demo web:1.28").await;
    let id = proposal_id(&reply);
    // Someone changes the stackfile through the API in between.
    let put = chat.api.put_config("demo", &chat.stackfile("1.27", "2.1", false)).await;
    chat.api.wait_job(put["job_id"].as_str().unwrap(), JOB_LIMIT).await;
    let before = chat.version().await;

    let stale = chat.click("bob", "approve", &id).await;
    assert_eq!(stale["card"]["state"], "stale", "{stale:#}");
    assert!(stale["card"]["detail"].as_str().unwrap().contains("changed since the proposal"), "{stale:#}");
    assert_eq!(stale["buttons"][0]["action"], "run", "offers a fresh plan: {stale:#}");
    assert_eq!(stale["buttons"][0]["value"], "deploy demo web:1.28");
    assert_eq!(chat.version().await, before, "nothing written");
    assert!(chat.jobs_of(&id).await.is_empty(), "nothing queued");
    assert_eq!(chat.live_image("web").await, format!("{}:1.27", chat.web));
}

#[tokio::test]
async fn two_approvals_at_once_queue_exactly_one_job() {
    let chat = start(false).await;
    let id = proposal_id(&chat.say("alice", "scale demo worker 2").await);
    let (a, b) = tokio::join!(chat.click("alice", "approve", &id), chat.click("bob", "approve", &id));
    let approved = [&a, &b].iter().filter(|r| r["card"]["state"] == "approved").count();
    assert_eq!(approved, 1, "exactly one approval wins:\n{a:#}\n{b:#}");
    let jobs = chat.jobs_of(&id).await;
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    let job = chat.api.wait_job(jobs[0]["job_id"].as_str().unwrap(), JOB_LIMIT).await;
    assert_eq!(job["status"], "succeeded", "{job:#}");
    assert_eq!(chat.env.service("worker").await.desired_count(), 2);
}

#[tokio::test]
async fn who_may_do_what_and_what_is_refused_changes_nothing() {
    let chat = start(false).await;
    let before = chat.version().await;
    let refused = |r: &Value, needle: &str| {
        assert_eq!(r["private"], true, "{r:#}");
        assert!(r.get("card").is_none(), "{r:#}");
        assert!(r["text"].as_str().unwrap().contains(needle), "expected {needle:?} in {r:#}");
    };
    refused(&chat.say("victor", "deploy demo web:1.28").await, "needs the deployer role");
    refused(&chat.say("mallory", "status demo").await, "not allowed to use bosun");
    refused(&chat.say("bob", "deploy prod web:1.28").await, "no access to cluster `prod`");
    // A viewer's token cannot speak for a deployer.
    refused(&chat.say_with(&chat.api.viewer, "alice", "deploy demo web:1.28").await, "needs the deployer role");
    refused(&chat.say("alice", "deploy demo web:9.9").await, "No such tag: `web:9.9`");
    refused(&chat.say("alice", "deploy demo web:1.28,cache:1").await, "has no service `cache`");
    refused(&chat.say("alice", "deploy demo all:1.28").await, "No such tag: `worker:1.28`");
    refused(&chat.say("alice", "deplyo demo web:1.28").await, "column 1");
    assert_eq!(chat.version().await, before);
    // A viewer reads.
    let status = chat.say("victor", "status demo").await;
    assert!(status["body"].as_str().unwrap().contains(&format!("{}:1.27", chat.web)), "{status:#}");

    // Several services at once, and all:TAG where every repository has the tag.
    let multi = chat.say("alice", "deploy demo web:1.26, worker:2.1").await;
    assert_eq!(
        multi["card"]["changes"],
        json!([format!("~ web: {0}:1.27 -> {0}:1.26", chat.web), format!("~ worker: {0}:2.0 -> {0}:2.1", chat.worker)]),
        "{multi:#}"
    );
    let tags = chat.say("victor", "deploy demo web").await;
    let mut values: Vec<&str> =
        tags["buttons"].as_array().unwrap().iter().map(|b| b["value"].as_str().unwrap()).collect();
    // Newest first, which pushes within one second do not tell apart (the tags test checks the order).
    values.sort_unstable();
    assert_eq!(values, ["deploy demo web:1.26", "deploy demo web:1.27", "deploy demo web:1.28"], "{tags:#}");
    // Cancelled: final, nothing written.
    let cancelled = chat.click("alice", "cancel", &proposal_id(&multi)).await;
    assert_eq!(cancelled["card"]["state"], "cancelled", "{cancelled:#}");
    assert_eq!(chat.version().await, before);
}

#[tokio::test]
async fn the_scheduler_applies_nothing_when_live_aws_moved_on_after_the_approval() {
    let chat = start(false).await;
    let id = proposal_id(&chat.say("alice", "deploy demo web:1.28").await);
    // The API alone takes the approval, so its job waits in the queue.
    let Chat { env, api, web, worker, access } = chat;
    api.terminate().await;
    let api = ApiServer::start_with(&env, &["serve", "api", "--chat-access-file", &access]).await;
    let chat = Chat { env, api, web, worker, access };
    let approved = chat.click("bob", "approve", &id).await;
    assert_eq!(approved["card"]["state"], "approved", "{approved:#}");
    let job_id = approved["card"]["job_id"].as_str().expect("a job").to_owned();
    // Meanwhile, someone scales worker by hand: the plan is no longer the approved one.
    chat.env.ecs.update_service().cluster("demo").service("worker").desired_count(3).send().await.expect("scale");

    let _scheduler = Scheduler::start(&chat.env, FAST).await;
    let job = chat.api.wait_job(&job_id, JOB_LIMIT).await;
    assert_eq!(job["status"], "failed", "{job:#}");
    assert!(job["error"].as_str().unwrap().contains("the plan changed since it was approved"), "{job:#}");
    assert_eq!(chat.live_image("web").await, format!("{}:1.27", chat.web), "nothing applied");
    assert_eq!(chat.env.service("worker").await.desired_count(), 3, "nothing applied");
    let card = chat.wait_final(&id).await;
    assert_eq!(card["state"], "failed", "{card:#}");
}

#[tokio::test]
async fn a_locked_cluster_refuses_changes_from_chat_until_it_is_unlocked_or_the_lock_expires() {
    let chat = start(false).await;
    let before = chat.version().await;
    // Only an admin locks.
    let refused = chat.say("bob", "lock demo for 10m release freeze").await;
    assert!(refused["text"].as_str().unwrap().contains("needs the admin role"), "{refused:#}");
    let locked = chat.say("root", "lock demo for 10m release freeze").await;
    assert_eq!(locked["private"], false, "the channel sees the lock: {locked:#}");
    assert!(locked["text"].as_str().unwrap().contains("release freeze"), "{locked:#}");
    let status = chat.api.status("demo").await;
    assert_eq!(status["lock"]["locked_by"], "root", "{status:#}");

    let deploy = chat.say("alice", "deploy demo web:1.28").await;
    assert!(deploy.get("card").is_none(), "{deploy:#}");
    assert!(deploy["text"].as_str().unwrap().contains("release freeze"), "{deploy:#}");
    // The API refuses too.
    let put = chat
        .api
        .request(Method::PUT, "/api/v1/clusters/demo/services/web", Some(&chat.api.deployer))
        .json(&json!({"image_tag": "1.28"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 423);
    // A proposal made before the lock cannot be approved under it.
    chat.say("root", "unlock demo").await;
    let id = proposal_id(&chat.say("alice", "deploy demo web:1.28").await);
    chat.say("root", "lock demo").await;
    let approve = chat.click("bob", "approve", &id).await;
    assert!(approve["text"].as_str().unwrap().contains("is locked"), "{approve:#}");
    assert_eq!(chat.proposal(&id).await["state"], "proposed", "the proposal still waits");
    assert_eq!(chat.version().await, before, "nothing written under the lock");

    // A short lock (through the API) expires by itself; then the approval goes through.
    let short = chat
        .api
        .request(Method::PUT, "/api/v1/clusters/demo/lock", Some(&chat.api.admin))
        .json(&json!({"reason": "two seconds", "ttl": "2s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let approved = chat.click("bob", "approve", &id).await;
    assert_eq!(approved["card"]["state"], "approved", "{approved:#}");
}
