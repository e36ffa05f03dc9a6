//! `bosun serve scheduler` as a real process, and a webhook sink that stands in for
//! Slack.
//!
//! The sink is the one fake in these tests: the emulator has no Slack, and a test must
//! also make the sink fail on purpose. It is a small HTTP server on 127.0.0.1:0 that
//! keeps every JSON body it receives.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Child;

use crate::Env;
use crate::api::{BUCKET, QUEUE};

/// How long a scheduler may take to log that it started.
const START_LIMIT: Duration = Duration::from_secs(30);

/// Flags that make the scheduler quick enough for tests: short polls, heartbeat and
/// visibility. The drift check keeps its default interval (10 minutes), so it does not
/// run unless a test sets `--resync-interval`.
pub const FAST: &[&str] = &[
    "--receive-wait",
    "1s",
    "--poll-interval",
    "200ms",
    "--visibility-timeout",
    "6s",
    "--heartbeat",
    "1s",
    "--rollout-timeout",
    "60s",
];

/// A running `bosun serve scheduler`.
pub struct Scheduler {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Scheduler {
    /// Start a scheduler on the bucket and queue of [`crate::api`] (which must exist:
    /// start an [`crate::api::ApiServer`] first), with its metrics and health listener
    /// on 127.0.0.1:0, and `args` after the bucket and queue.
    pub async fn start(env: &Env, args: &[&str]) -> Self {
        let mut cmd =
            env.server(&["serve", "scheduler", "--bucket", BUCKET, "--queue", QUEUE, "--listen", "127.0.0.1:0"]);
        cmd.args(args);
        let mut child = cmd.spawn().expect("start bosun serve scheduler");
        let logs = capture(&mut child, "scheduler started").await;
        let logs = tokio::time::timeout(START_LIMIT, logs)
            .await
            .unwrap_or_else(|_| panic!("bosun serve scheduler did not start within {START_LIMIT:?}"));
        Self { child, logs }
    }

    /// `http://127.0.0.1:PORT` of the metrics and health listener, from its log line.
    pub async fn probes_url(&self) -> String {
        let line = self.wait_log("metrics and health listening", START_LIMIT).await;
        let addr = line.split_whitespace().find_map(|w| w.strip_prefix("addr=")).expect("the line has addr=");
        format!("http://{addr}")
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }

    /// Wait until a log line contains `text` (or `limit` passes: the test fails).
    pub async fn wait_log(&self, text: &str, limit: Duration) -> String {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(line) = self.logs().into_iter().find(|l| l.contains(text)) {
                return line;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no log line with {text:?} within {limit:?}:\n{}",
                self.logs().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kill the process with SIGKILL: no cleanup at all.
    pub async fn kill9(mut self) {
        let pid = self.child.id().expect("the scheduler is running");
        let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// Send SIGTERM and wait for the exit status (bounded).
    pub async fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().expect("the scheduler is running");
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("exits within 60s of SIGTERM")
            .expect("wait");
        // Let the log reader drain.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let logs = self.logs();
        (status, logs)
    }
}

/// Keep the child's stderr lines; resolves once a line contains `ready`.
async fn capture(child: &mut Child, ready: &'static str) -> impl Future<Output = Arc<Mutex<Vec<String>>>> {
    let stderr = child.stderr.take().expect("stderr is piped");
    let logs = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let sink = logs.clone();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        let mut reader = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let hit = line.contains(ready);
            sink.lock().expect("log lock").push(line);
            if hit && let Some(tx) = tx.take() {
                let _ = tx.send(());
            }
        }
    });
    async move {
        let started = rx.await;
        assert!(started.is_ok(), "the process exited before {ready:?}: {:?}", logs.lock().unwrap());
        logs
    }
}

/// An HTTP sink for notifications on 127.0.0.1:0.
pub struct Sink {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    status: Arc<AtomicU16>,
    server: tokio::task::JoinHandle<()>,
}

impl Sink {
    /// Start a sink that answers every POST with 200.
    pub async fn start() -> Self {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let (b, st) = (bodies.clone(), status.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
                let (b, st) = (b.clone(), st.clone());
                async move {
                    b.lock().expect("sink lock").push(body);
                    axum::http::StatusCode::from_u16(st.load(Ordering::Relaxed)).expect("a valid status")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the sink");
        let addr = listener.local_addr().expect("sink address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url: format!("http://{addr}/hook"), bodies, status, server }
    }

    /// Answer every POST with `status` from now on.
    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }

    /// Every body received so far.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().expect("sink lock").clone()
    }

    /// Wait until a body satisfies `pred` (or `limit` passes: the test fails).
    pub async fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(b) = self.bodies().into_iter().find(|b| pred(b)) {
                return b;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the sink got no {what} within {limit:?}: {:#?}",
                self.bodies()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A URL on 127.0.0.1 where nothing listens: a sink that is down.
pub fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/hook")
}
