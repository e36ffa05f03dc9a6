//! The UI's only way to the data: requests to the API's own router, in process, as the
//! signed-in caller. Every rule of the API (roles, names, limits, validation, locks,
//! conditional writes, plan pinning) therefore holds for the UI by construction, and
//! the UI has no path of its own to S3 or SQS.

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt as _;

use crate::auth::{Authenticated, Caller};

/// The API router, called in process.
#[derive(Clone)]
pub struct Api {
    router: Router,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Api(..)")
    }
}

/// An API answer.
#[derive(Debug)]
pub struct Reply {
    /// Its status.
    pub status: StatusCode,
    /// Its headers (`ETag`, `x-bosun-plan-hash`, ...).
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

impl Reply {
    /// A header's value, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The JSON body of a success, or the API's error as a [`Problem`].
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        self.ok()?;
        serde_json::from_slice(&self.body)
            .map_err(|e| Problem::internal(format!("the API's answer did not decode: {e}")))
    }

    /// `Ok` for a success, else the API's error as a [`Problem`].
    pub fn ok(&self) -> Result<(), Problem> {
        if self.status.is_success() { Ok(()) } else { Err(Problem::from_reply(self)) }
    }
}

/// An error the API answered, as a page shows it: in full, with every detail.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// The API's error code (`invalid_stackfile`, `cluster_locked`, ...).
    pub code: String,
    /// Its message.
    pub message: String,
    /// Its details: for a stackfile, one per error with line and column.
    pub details: Vec<Detail>,
    /// On a 5xx: the request id the server logged the cause under.
    pub request_id: Option<String>,
}

/// One detail of an API error.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Detail {
    /// The field path, for a stackfile error.
    #[serde(default)]
    pub path: Option<String>,
    /// 1-based line.
    #[serde(default)]
    pub line: Option<u64>,
    /// 1-based column.
    #[serde(default)]
    pub column: Option<u64>,
    /// What is wrong.
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorJson {
    error: String,
    message: String,
    #[serde(default)]
    details: Vec<serde_json::Value>,
    #[serde(default)]
    request_id: Option<String>,
}

impl Problem {
    fn from_reply(reply: &Reply) -> Self {
        match serde_json::from_slice::<ErrorJson>(&reply.body) {
            Ok(e) => Self {
                status: reply.status,
                code: e.error,
                message: e.message,
                details: e.details.into_iter().map(|d| serde_json::from_value(d).unwrap_or_default()).collect(),
                request_id: e.request_id,
            },
            Err(_) => Self {
                status: reply.status,
                code: "error".into(),
                message: format!("the API answered {}", reply.status),
                details: Vec::new(),
                request_id: reply.header(crate::request_id::HEADER).map(str::to_owned),
            },
        }
    }

    /// A problem of the UI itself (a 500 page).
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal".into(),
            message: message.into(),
            details: Vec::new(),
            request_id: None,
        }
    }

    /// A problem with what the user sent (a 400 page).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request".into(),
            message: message.into(),
            details: Vec::new(),
            request_id: None,
        }
    }
}

/// One request to the API.
pub struct Call<'a> {
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Body,
    caller: &'a Caller,
}

impl Call<'_> {
    /// Add a header; a value that is not a valid header is left out, and the API
    /// answers as it would without it.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(HeaderName::from_static(name), v);
        }
        self
    }

    /// A YAML body.
    pub fn yaml(mut self, text: String) -> Self {
        self.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/yaml"));
        self.body = Body::from(text);
        self
    }

    /// A JSON body.
    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.body = Body::from(value.to_string());
        self
    }
}

impl Api {
    /// Call `router` (the API's, with its middleware) in process.
    pub fn new(router: Router) -> Self {
        Self { router }
    }

    /// A request as `caller`.
    pub fn call<'a>(&self, caller: &'a Caller, method: Method, uri: impl Into<String>) -> Call<'a> {
        Call { method, uri: uri.into(), headers: HeaderMap::new(), body: Body::empty(), caller }
    }

    /// A GET as `caller`, decoded from JSON.
    pub async fn get<T: DeserializeOwned>(&self, caller: &Caller, uri: impl Into<String>) -> Result<T, Problem> {
        self.send(self.call(caller, Method::GET, uri)).await.json()
    }

    /// Send it. The API's answers, errors included, come back as they are.
    pub async fn send(&self, call: Call<'_>) -> Reply {
        let mut req = Request::builder().method(call.method).uri(&call.uri);
        *req.headers_mut().expect("the builder has no error yet") = call.headers;
        let mut req = match req.body(call.body) {
            Ok(r) => r,
            Err(e) => return problem_reply(StatusCode::BAD_REQUEST, &format!("not a request: {e}")),
        };
        req.extensions_mut().insert(Authenticated(Some(call.caller.clone())));
        let resp = self.router.clone().oneshot(req).await.unwrap_or_else(|never| match never {});
        let (parts, body) = resp.into_parts();
        match http_body_util::BodyExt::collect(body).await {
            Ok(b) => Reply { status: parts.status, headers: parts.headers, body: b.to_bytes() },
            Err(e) => problem_reply(StatusCode::INTERNAL_SERVER_ERROR, &format!("the API's answer was cut: {e}")),
        }
    }
}

fn problem_reply(status: StatusCode, message: &str) -> Reply {
    let body = serde_json::json!({ "error": "ui", "message": message }).to_string();
    Reply { status, headers: HeaderMap::new(), body: Bytes::from(body) }
}
