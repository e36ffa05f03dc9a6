//! The app on an AWS that does not answer, one token per role, requests built in a
//! chain, and the log lines a test's requests wrote.

use std::io;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use bosun_aws::Clients;
use bosun_aws::queue::Queue;
use bosun_aws::store::Store;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;

use crate::auth::{Role, Tokens, new_token};
use crate::request_id;

/// Where the app's AWS is: a closed port, so every call fails at once (the clients
/// do not retry) and a test never waits for AWS.
pub const NO_AWS: &str = "http://127.0.0.1:9";
/// The app's bucket, which must never show in a response.
pub const BUCKET: &str = "bosun-secret-bucket";

/// Who sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// No `Authorization` header.
    Nobody,
    /// A well-formed token that is not in the tokens file.
    Stranger,
    /// A token of this role.
    Role(Role),
}

impl Who {
    /// Every kind of caller, from none to admin.
    pub const ALL: [Who; 5] =
        [Who::Nobody, Who::Stranger, Who::Role(Role::Viewer), Who::Role(Role::Deployer), Who::Role(Role::Admin)];
}

/// The app, and a token for each role (named `viewer-bot`, `deployer-bot`,
/// `admin-bot`).
pub struct TestApp {
    router: Router,
    tokens: Vec<(Role, String)>,
    /// The app's state, for tests that hold plan slots themselves.
    pub state: crate::State,
}

impl TestApp {
    /// The app on [`NO_AWS`], without CORS.
    pub async fn new() -> Self {
        Self::with_cors(&[]).await
    }

    /// The app on [`NO_AWS`], with CORS for these origins. Making it calls no AWS:
    /// the queue is given by its URL.
    pub async fn with_cors(origins: &[&str]) -> Self {
        Self::build(origins, crate::Limits::default()).await
    }

    /// The app on [`NO_AWS`] with these limits.
    pub async fn with_limits(limits: crate::Limits) -> Self {
        Self::build(&[], limits).await
    }

    async fn build(origins: &[&str], limits: crate::Limits) -> Self {
        let mut tokens = Vec::new();
        let mut lines = String::new();
        for role in [Role::Viewer, Role::Deployer, Role::Admin] {
            let (token, line) = new_token(role, &format!("{role}-bot"));
            tokens.push((role, token));
            lines.push_str(&line);
            lines.push('\n');
        }
        let clients = Clients::unretried(NO_AWS);
        let store = Store::new(clients.s3.clone(), BUCKET);
        let queue = Queue::resolve(clients.sqs.clone(), &format!("{NO_AWS}/000000000000/jobs.fifo"))
            .await
            .expect("a queue URL is taken as it is");
        let tokens_file = Tokens::parse(&lines).expect("the lines new_token makes parse");
        let state = Arc::new(crate::AppState::with_limits(clients, store, queue, tokens_file, limits, false));
        Self {
            router: crate::app(state.clone(), &origins.iter().map(|o| (*o).to_owned()).collect::<Vec<_>>())
                .expect("valid CORS origins"),
            tokens,
            state,
        }
    }

    /// The bearer token `who` sends, if any.
    pub fn token(&self, who: Who) -> Option<String> {
        match who {
            Who::Nobody => None,
            Who::Stranger => Some(format!("bosun_{}", "0".repeat(64))),
            Who::Role(role) => self.tokens.iter().find(|(r, _)| *r == role).map(|(_, t)| t.clone()),
        }
    }

    /// Send `req` as `who`.
    pub async fn send_as(&self, who: Who, req: Req) -> Answer {
        let req = match self.token(who) {
            Some(token) => req.header(header::AUTHORIZATION, &format!("Bearer {token}")),
            None => req,
        };
        self.send(req).await
    }

    /// Send `req` as it is.
    pub async fn send(&self, req: Req) -> Answer {
        let body = Body::from(req.body.clone());
        self.send_with_body(req, body).await
    }

    /// Send `req` as `who` with `body` (a stream, say) in place of the one it has.
    pub async fn send_streaming(&self, who: Who, req: Req, body: Body) -> Answer {
        let req = match self.token(who) {
            Some(token) => req.header(header::AUTHORIZATION, &format!("Bearer {token}")),
            None => req,
        };
        self.send_with_body(req, body).await
    }

    async fn send_with_body(&self, req: Req, body: Body) -> Answer {
        let mut builder = Request::builder().method(req.method.clone()).uri(&req.path);
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        let request = builder.body(body).expect("a valid request");
        let resp = self.router.clone().oneshot(request).await.expect("the router is infallible");
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("read the response body").to_bytes();
        let answer =
            Answer { what: format!("{} {}", req.method, req.path), status: parts.status, headers: parts.headers, body };
        // Every response carries a request id.
        answer.request_id();
        answer
    }
}

/// A request, built in a chain: `Req::put("/x").content_type("application/yaml").body("a: 1")`.
#[derive(Debug, Clone)]
pub struct Req {
    method: Method,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
}

impl Req {
    /// A request without headers or body.
    pub fn new(method: Method, path: &str) -> Self {
        Self { method, path: path.to_owned(), headers: Vec::new(), body: Vec::new() }
    }

    /// `GET path`.
    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }

    /// `PUT path`.
    pub fn put(path: &str) -> Self {
        Self::new(Method::PUT, path)
    }

    /// `POST path`.
    pub fn post(path: &str) -> Self {
        Self::new(Method::POST, path)
    }

    /// Add a header.
    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        self.headers.push((name, HeaderValue::from_str(value).expect("a valid header value")));
        self
    }

    /// Set `Content-Type`.
    pub fn content_type(self, value: &str) -> Self {
        self.header(header::CONTENT_TYPE, value)
    }

    /// Set the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON body, with its content type.
    pub fn json(self, body: &Value) -> Self {
        self.content_type("application/json").body(body.to_string())
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    /// The request, for messages.
    pub what: String,
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

impl Answer {
    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or_else(|e| panic!("{}: the body is not UTF-8: {e}", self.what))
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{}: the body is not JSON ({e}): {}", self.what, self.text()))
    }

    /// The `x-request-id` header: a UUID.
    pub fn request_id(&self) -> String {
        let id = self
            .headers
            .get(request_id::HEADER)
            .unwrap_or_else(|| panic!("{}: no {} header", self.what, request_id::HEADER));
        let id = id.to_str().expect("an ASCII header").to_owned();
        assert!(uuid::Uuid::try_parse(&id).is_ok(), "{}: request id {id:?} is not a UUID", self.what);
        id
    }

    /// Check a 4xx: this status, and a JSON body with exactly `error` (this code),
    /// a `message` and `details`. Returns the body.
    #[track_caller]
    pub fn assert_client_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}: {}", self.what, self.text());
        assert_eq!(self.headers[header::CONTENT_TYPE], "application/json", "{}", self.what);
        let body = self.json();
        assert_eq!(body["error"], code, "{}: {body}", self.what);
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}: {body}", self.what);
        assert!(body["details"].is_array(), "{}: {body}", self.what);
        assert_eq!(body.as_object().map(serde_json::Map::len), Some(3), "{}: {body}", self.what);
        body
    }

    /// Check a 5xx: this status, a JSON body with exactly `error` (this code), a
    /// `message` that says something went wrong, empty `details`, and the
    /// `request_id` of the header; and none of the internal detail the cause holds.
    /// Returns the request id.
    #[track_caller]
    pub fn assert_server_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "{}: {}", self.what, self.text());
        let body = self.json();
        let id = self.request_id();
        assert_eq!(body["error"], code, "{}: {body}", self.what);
        assert!(
            body["message"].as_str().is_some_and(|m| m.starts_with("something went wrong")),
            "{}: {body}",
            self.what
        );
        assert_eq!(body["details"], serde_json::json!([]), "{}: {body}", self.what);
        assert_eq!(body["request_id"], id.as_str(), "{}: {body}", self.what);
        assert_eq!(body.as_object().map(serde_json::Map::len), Some(4), "{}: {body}", self.what);
        assert_no_internal_detail(self.text());
        id
    }
}

/// What the cause of a failed AWS call says, and a response must not.
#[track_caller]
pub fn assert_no_internal_detail(text: &str) {
    for secret in
        ["127.0.0.1", "s3://", "dispatch", BUCKET, "ListObjects", "HeadBucket", "GetQueueAttributes", "jobs.fifo"]
    {
        assert!(!text.contains(secret), "{secret:?} was sent: {text}");
    }
}

/// The log lines written while it is alive, on this thread (tests run on a
/// current-thread runtime, so that is every line their requests write).
pub struct Logs {
    lines: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Logs {
    /// Capture from now on.
    pub fn capture() -> Self {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        Self { lines, _guard: tracing::subscriber::set_default(subscriber) }
    }

    /// The lines so far that contain `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        let bytes = self.lines.lock().expect("log lock").clone();
        String::from_utf8_lossy(&bytes).lines().filter(|l| l.contains(needle)).map(str::to_owned).collect()
    }
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
