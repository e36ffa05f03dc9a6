//! A local stand-in for Slack, and requests signed as Slack signs them.
//!
//! [`SlackSink`] is the one fake of the Slack tests: no test may reach Slack. It is an
//! HTTP server on 127.0.0.1:0 that records every request (path, headers, JSON body) and
//! answers as Slack does: `{"ok": true, "ts": ...}` for the Web API under `/api/`
//! (`chat.postMessage`, `chat.update`, `chat.postEphemeral`) and `ok` for response URLs
//! under `/hooks/`. [`sign`] computes the signature with this crate's own HMAC, so a
//! test does not trust bosun's code to check bosun's code.
//! [`start_api`] runs `bosun serve api` with its Slack settings pointing at a sink.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::Request;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::Env;
use crate::api::ApiServer;

/// A signing secret for tests.
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
/// A bot token for tests.
pub const BOT_TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";

/// One request the sink received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The path: `/api/chat.postMessage`, `/hooks/NAME`.
    pub path: String,
    /// The headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The body as JSON (`null` if it was not JSON).
    pub body: serde_json::Value,
}

/// A Slack stand-in on 127.0.0.1:0.
pub struct SlackSink {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    received: Arc<Mutex<Vec<Received>>>,
    server: tokio::task::JoinHandle<()>,
}

impl SlackSink {
    /// Start a sink.
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let next_ts = Arc::new(AtomicU64::new(1));
        let app = axum::Router::new().fallback(move |req: Request| {
            let (log, next_ts) = (log.clone(), next_ts.clone());
            async move { answer(req, &log, &next_ts).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the Slack sink");
        let addr = listener.local_addr().expect("sink address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base: format!("http://{addr}"), received, server }
    }

    /// The Web API's base URL (`--slack-api-url`).
    pub fn api_url(&self) -> String {
        format!("{}/api", self.base)
    }

    /// What response URLs start with (`--slack-response-url-prefix`).
    pub fn response_url_prefix(&self) -> String {
        format!("{}/hooks/", self.base)
    }

    /// A response URL named `name` on this sink.
    pub fn response_url(&self, name: &str) -> String {
        format!("{}{name}", self.response_url_prefix())
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("sink lock").clone()
    }

    /// Requests so far to `path`.
    pub fn to(&self, path: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path == path).collect()
    }

    /// Wait until a request satisfies `pred` (or `limit` passes: the test fails,
    /// showing what did arrive).
    pub async fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&Received) -> bool) -> Received {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(r) = self.received().into_iter().find(|r| pred(r)) {
                return r;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the Slack sink got no {what} within {limit:?}; it got: {:#?}",
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for SlackSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Record the request; answer as Slack would.
async fn answer(req: Request, log: &Mutex<Vec<Received>>, next_ts: &AtomicU64) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let path = req.uri().path().to_owned();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let bytes: Bytes = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    let channel = body["channel"].clone();
    log.lock().expect("sink lock").push(Received { path: path.clone(), headers, body });
    if path.starts_with("/api/") {
        let ts = format!("1700000000.{:06}", next_ts.fetch_add(1, Ordering::Relaxed));
        axum::Json(serde_json::json!({ "ok": true, "channel": channel, "ts": ts })).into_response()
    } else {
        "ok".into_response()
    }
}

/// Now, in Unix seconds.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

/// `v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}` keyed with `secret`.
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("v0={hex}")
}

/// A POST of `body` to `path` of `api`, signed with `secret` at `timestamp`.
pub fn signed(
    api: &ApiServer,
    path: &str,
    content_type: &str,
    body: &str,
    secret: &str,
    timestamp: u64,
) -> reqwest::RequestBuilder {
    api.http
        .post(format!("{}{path}", api.url))
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", sign(secret, timestamp, body.as_bytes()))
        .body(body.to_owned())
}

/// A slash command's form body, as Slack sends it.
pub fn command_form(text: &str, user: &str, channel: &str, response_url: &str) -> String {
    let fields = [
        ("token", "gIkuvaNzQIHg97ATvDxqgjtO"),
        ("team_id", "T0001"),
        ("team_domain", "example"),
        ("channel_id", channel),
        ("channel_name", "ops"),
        ("user_id", user),
        ("user_name", "steve"),
        ("command", "/bosun"),
        ("text", text),
        ("api_app_id", "A123456"),
        ("response_url", response_url),
        ("trigger_id", "13345224609.738474920.8088930838d88f008e0"),
    ];
    fields.iter().map(|(k, v)| format!("{k}={}", form_encode(v))).collect::<Vec<_>>().join("&")
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Where `bosun serve api` takes its Slack settings from.
pub enum Secrets {
    /// The environment variables `BOSUN_SLACK_SIGNING_SECRET` and `BOSUN_SLACK_BOT_TOKEN`.
    Env,
    /// `--slack-signing-secret-file` and `--slack-bot-token-file`.
    Files,
    /// No signing secret (the bot token is still given): the Slack app is off.
    NoSigningSecret,
}

/// `bosun serve api` with its Slack settings pointing at `sink`: [`SIGNING_SECRET`] and
/// [`BOT_TOKEN`] given as `secrets` says.
pub async fn start_api(env: &Env, sink: &SlackSink, secrets: Secrets) -> ApiServer {
    let api_url = sink.api_url();
    let prefix = sink.response_url_prefix();
    let mut args = vec![
        "serve".to_owned(),
        "api".to_owned(),
        "--slack-api-url".to_owned(),
        api_url,
        "--slack-response-url-prefix".to_owned(),
        prefix,
    ];
    let mut envs = Vec::new();
    match secrets {
        Secrets::Env => {
            envs.push(("BOSUN_SLACK_SIGNING_SECRET".to_owned(), SIGNING_SECRET.to_owned()));
            envs.push(("BOSUN_SLACK_BOT_TOKEN".to_owned(), BOT_TOKEN.to_owned()));
        }
        Secrets::Files => {
            let dir = env.work_dir();
            std::fs::write(dir.join("slack-signing-secret"), format!("{SIGNING_SECRET}\n")).expect("write");
            std::fs::write(dir.join("slack-bot-token"), format!("{BOT_TOKEN}\n")).expect("write");
            for (flag, file) in
                [("--slack-signing-secret-file", "slack-signing-secret"), ("--slack-bot-token-file", "slack-bot-token")]
            {
                args.push(flag.to_owned());
                args.push(dir.join(file).to_str().expect("UTF-8 path").to_owned());
            }
        }
        Secrets::NoSigningSecret => envs.push(("BOSUN_SLACK_BOT_TOKEN".to_owned(), BOT_TOKEN.to_owned())),
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    ApiServer::start_configured(env, &args, &envs).await
}
