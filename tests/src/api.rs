//! `bosun serve api` as a real process against a test's emulator.
//!
//! [`ApiServer::start`] runs `bosun init` (bucket, FIFO queue, dead-letter queue),
//! writes a tokens file with one token per role (made by `bosun token new`), starts
//! the server on `127.0.0.1:0`, reads the port from its `listening` log line, and keeps
//! every log line for assertions. Dropping it kills the server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Child;

use crate::Env;

/// The bucket `bosun init` creates for API tests.
pub const BUCKET: &str = "bosun-state";
/// The job queue.
pub const QUEUE: &str = "bosun-jobs.fifo";
/// Its dead-letter queue.
pub const DLQ: &str = "bosun-jobs-dlq.fifo";

/// How long the server may take to print its address.
const START_LIMIT: Duration = Duration::from_secs(30);

/// A running API server.
pub struct ApiServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// One bearer token per role.
    pub admin: String,
    /// Deployer token.
    pub deployer: String,
    /// Viewer token.
    pub viewer: String,
    /// HTTP client.
    pub http: reqwest::Client,
    logs: Arc<Mutex<Vec<String>>>,
    /// S3 client on the emulator.
    pub s3: aws_sdk_s3::Client,
    /// SQS client on the emulator.
    pub sqs: aws_sdk_sqs::Client,
    /// ECR client on the emulator.
    pub ecr: aws_sdk_ecr::Client,
    /// The job queue's URL.
    pub queue_url: String,
}

impl ApiServer {
    /// Init the bucket and queues, then `bosun serve api`.
    pub async fn start(env: &Env) -> Self {
        Self::start_with(env, &["serve", "api"]).await
    }

    /// Init the bucket and queues, then run `bosun` with `serve` (`serve api`, or
    /// `serve` with scheduler flags for both servers in one process), plus the listen
    /// address, bucket, queue and tokens file.
    pub async fn start_with(env: &Env, serve: &[&str]) -> Self {
        Self::start_configured(env, serve, &[]).await
    }

    /// [`ApiServer::start_with`], with these environment variables set for the server
    /// (and no `BOSUN_SLACK_*` settings from the test's own environment).
    pub async fn start_configured(env: &Env, serve: &[&str], envs: &[(&str, &str)]) -> Self {
        env.bosun(&["init", "--bucket", BUCKET, "--queue", QUEUE]).await.expect_code(0);
        Self::launch(env, serve, envs, false).await
    }

    /// `bosun serve ...` on a bucket and queue made by someone else than `bosun init`
    /// (bosun's CloudFormation template), named [`BUCKET`] and [`QUEUE`], with the
    /// tokens given as the tokens file's content in `BOSUN_TOKENS`, as ECS gives them.
    pub async fn start_without_init(env: &Env, serve: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::launch(env, serve, envs, true).await
    }

    async fn launch(env: &Env, serve: &[&str], envs: &[(&str, &str)], tokens_in_env: bool) -> Self {
        let mut lines = Vec::new();
        let mut tokens = Vec::new();
        for role in ["admin", "deployer", "viewer"] {
            let run = env.bosun(&["token", "new", "--role", role, "--name", &format!("{role}-bot")]).await;
            run.expect_code(0);
            let field = |prefix: &str| {
                run.stdout
                    .lines()
                    .find_map(|l| l.strip_prefix(prefix))
                    .unwrap_or_else(|| panic!("`bosun token new` printed no {prefix:?} line:\n{run}"))
                    .trim()
                    .to_owned()
            };
            tokens.push(field("token:"));
            lines.push(field("line:"));
        }
        let tokens_text = format!("# role sha256 name\n{}\n", lines.join("\n"));
        let mut cmd = env.server(serve);
        for k in ["BOSUN_SLACK_SIGNING_SECRET", "BOSUN_SLACK_BOT_TOKEN", "BOSUN_SLACK_API_URL", "BOSUN_TOKENS"] {
            cmd.env_remove(k);
        }
        cmd.envs(envs.iter().copied());
        cmd.args(["--listen", "127.0.0.1:0", "--bucket", BUCKET, "--queue", QUEUE]);
        if tokens_in_env {
            cmd.env("BOSUN_TOKENS", tokens_text);
        } else {
            let tokens_file = env.work_dir().join("tokens");
            std::fs::write(&tokens_file, tokens_text).expect("write the tokens file");
            cmd.arg("--tokens-file").arg(&tokens_file);
        }
        let mut child = cmd.spawn().expect("start bosun serve api");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let sink = logs.clone();
        tokio::spawn(async move {
            let mut addr_tx = Some(addr_tx);
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Some(tx) = addr_tx.take_if(|_| line.contains(" listening ")) {
                    let addr = line.split_whitespace().find_map(|w| w.strip_prefix("addr=")).map(str::to_owned);
                    let _ = tx.send(addr);
                }
                sink.lock().expect("log lock").push(line);
            }
        });
        let addr = tokio::time::timeout(START_LIMIT, addr_rx)
            .await
            .unwrap_or_else(|_| {
                panic!("bosun serve api printed no address within {START_LIMIT:?}: {:?}", logs.lock().unwrap())
            })
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("bosun serve api exited before listening: {:?}", logs.lock().unwrap()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .expect("build an HTTP client");
        let sqs = aws_sdk_sqs::Client::new(&env.sdk);
        let queue_url = sqs
            .get_queue_url()
            .queue_name(QUEUE)
            .send()
            .await
            .expect("the queue exists")
            .queue_url()
            .unwrap_or_default()
            .to_owned();
        let [admin, deployer, viewer] = <[String; 3]>::try_from(tokens).expect("three tokens");
        ApiServer {
            child,
            url: format!("http://{addr}"),
            admin,
            deployer,
            viewer,
            http,
            logs,
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&env.sdk).force_path_style(true).build(),
            ),
            sqs,
            ecr: aws_sdk_ecr::Client::new(&env.sdk),
            queue_url,
        }
    }

    /// A request to `path` with `token` (none: no Authorization header).
    pub fn request(&self, method: reqwest::Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.url));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// An ECR repository `name` with an image pushed for each of `tags`, in order
    /// (within the same second: the emulator's push times do not order them); its URI.
    pub async fn ecr_repository(&self, name: &str, tags: &[&str]) -> String {
        let repo = self.ecr.create_repository().repository_name(name).send().await.expect("create the repository");
        let uri = repo.repository().and_then(|r| r.repository_uri()).expect("a repository URI").to_owned();
        for (i, tag) in tags.iter().enumerate() {
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 100 + i,
                    "digest": format!("sha256:{:064x}", i + 1 + name.len() * 100)},
                "layers": []
            });
            self.ecr
                .put_image()
                .repository_name(name)
                .image_manifest(manifest.to_string())
                .image_tag(*tag)
                .send()
                .await
                .expect("push an image");
        }
        uri
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }

    /// Send SIGTERM and wait for the exit status (bounded).
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("the server is running");
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("exits within 60s of SIGTERM")
            .expect("wait")
    }

    /// The server's PID.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// `PUT /api/v1/clusters/{cluster}/config` with a YAML body as the deployer; the
    /// 202 body.
    pub async fn put_config(&self, cluster: &str, yaml: &str) -> serde_json::Value {
        let resp = self
            .request(reqwest::Method::PUT, &format!("/api/v1/clusters/{cluster}/config"), Some(&self.deployer))
            .header("content-type", "application/yaml")
            .body(yaml.to_owned())
            .send()
            .await
            .expect("PUT config");
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.expect("a JSON body");
        assert_eq!(status, 202, "PUT config of {cluster}: {body}");
        body
    }

    /// `GET /api/v1/jobs/{id}`.
    pub async fn job(&self, id: &str) -> serde_json::Value {
        let resp = self
            .request(reqwest::Method::GET, &format!("/api/v1/jobs/{id}"), Some(&self.viewer))
            .send()
            .await
            .expect("GET job");
        assert_eq!(resp.status(), 200, "GET job {id}");
        resp.json().await.expect("a JSON body")
    }

    /// Poll a job until it is final (or `limit` passes: the test fails with the last
    /// record and the server's log).
    pub async fn wait_job(&self, id: &str, limit: Duration) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let job = self.job(id).await;
            let status = job["status"].as_str().unwrap_or_default();
            if !["queued", "running"].contains(&status) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {id} not finished within {limit:?}: {job:#}\nlogs:\n{}",
                self.logs().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET /api/v1/clusters/{cluster}/status`.
    pub async fn status(&self, cluster: &str) -> serde_json::Value {
        let resp = self
            .request(reqwest::Method::GET, &format!("/api/v1/clusters/{cluster}/status"), Some(&self.viewer))
            .send()
            .await
            .expect("GET status");
        assert_eq!(resp.status(), 200, "GET status of {cluster}");
        resp.json().await.expect("a JSON body")
    }

    /// What the bucket and queue hold: S3 object versions (all keys) and messages
    /// in the job queue (visible and in flight).
    pub async fn footprint(&self) -> (usize, u64) {
        let versions = self.s3.list_object_versions().bucket(BUCKET).send().await.expect("list object versions");
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes");
        let n = |k: aws_sdk_sqs::types::QueueAttributeName| {
            attrs.attributes().and_then(|a| a.get(&k)).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        };
        (
            versions.versions().len() + versions.delete_markers().len(),
            n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                + n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// The job messages in the queue, received without deleting them (they become
    /// visible again after `visibility` seconds).
    pub async fn peek_jobs(&self, visibility: i32) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(visibility)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId)
                .send()
                .await
                .expect("receive messages");
            if got.messages().is_empty() {
                break;
            }
            for m in got.messages() {
                let mut v: serde_json::Value =
                    serde_json::from_str(m.body().unwrap_or_default()).expect("job messages are JSON");
                let group = m
                    .attributes()
                    .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId))
                    .cloned()
                    .unwrap_or_default();
                v["_group"] = serde_json::Value::String(group);
                out.push(v);
            }
        }
        out
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
