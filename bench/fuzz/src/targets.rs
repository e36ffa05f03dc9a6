//! What an input is fed to, and the invariants that must hold for any input.
//!
//! - [`stackfile`]: `validate` and `load`; an invalid stackfile has located,
//!   printable diagnostics; what loads is planned from nothing, rendered (printable,
//!   values never shown), applied with the pure simulator and planned again (empty);
//!   its JSON view made YAML again loads to the same desired state.
//! - [`Api`]: the same text as request bodies through the axum router in-process, on an
//!   AWS that does not answer (a closed port on 127.0.0.1, so nothing leaves the
//!   machine): the API answers 422 exactly when the library refuses the stackfile,
//!   every 4xx is a JSON error and every 422 is located, and nothing is a 500.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use bosun_api::auth::new_token;
use bosun_api::{AppState, Role, Tokens};
use bosun_aws::Clients;
use bosun_aws::queue::Queue;
use bosun_aws::store::Store;
use bosun_plan::simulate::simulate;
use bosun_plan::{
    DiffMode, MarkdownOptions, Observed, Policy, TextOptions, plan, render_json, render_markdown, render_text,
    render_text_with,
};
use bosun_stackfile::document::{json_to_yaml, to_json_text};
use bosun_stackfile::{Diagnostics, load, validate};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

/// The cluster inputs are loaded for.
pub const CLUSTER: &str = "fuzz";
/// Where the API's AWS is: a closed port, so every AWS call fails at once.
const NO_AWS: &str = "http://127.0.0.1:9";

/// What one input did, for the report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// It loaded, and was planned.
    pub valid: bool,
    /// API requests sent for it.
    pub requests: u32,
}

/// A broken invariant: what, for the crash file.
pub type Violation = String;

/// Feeds `text` to the parser, the planner and the renderer.
pub fn stackfile(text: &str) -> Result<bool, Violation> {
    let validated = validate(text);
    let loaded = load(text, CLUSTER);
    if let Err(d) = &validated {
        check_diagnostics(d, "validate")?;
    }
    let desired = match loaded {
        Err(d) => {
            check_diagnostics(&d, "load")?;
            return Ok(false);
        }
        Ok(desired) => desired,
    };
    if validated.is_err() {
        return Err("load accepted a stackfile that validate refused".into());
    }
    let p = plan(&desired, &Observed::default(), &Policy::from_desired(&desired));
    let text_plan = render_text(&p);
    let json_plan = render_json(&p);
    if let Some(c) = text_plan.chars().find(|c| c.is_control() && *c != '\n') {
        return Err(format!("plan text holds the control character {c:?}:\n{text_plan}"));
    }
    serde_json::from_str::<serde_json::Value>(&json_plan).map_err(|e| format!("plan JSON does not parse: {e}"))?;
    // A terminal's plan: compact, and coloured over exactly the plain text.
    let compact = render_text_with(&p, TextOptions { diff: DiffMode::Compact, color: false });
    if let Some(c) = compact.chars().find(|c| c.is_control() && *c != '\n') {
        return Err(format!("compact plan text holds the control character {c:?}:\n{compact}"));
    }
    let coloured = render_text_with(&p, TextOptions { diff: DiffMode::Compact, color: true });
    if anstream::adapter::strip_str(&coloured).to_string() != compact {
        return Err(format!("the coloured plan is not the plain one with colour:\n{coloured:?}"));
    }
    let options = MarkdownOptions::new("stackfile.yml");
    let markdown = render_markdown(&p, &options);
    if markdown.chars().count() > options.max_chars {
        return Err(format!("a markdown plan of {} characters, over its cap", markdown.chars().count()));
    }
    let after = simulate(&desired, &Observed::default(), &p);
    let again = plan(&desired, &after, &Policy::from_desired(&desired));
    if !again.is_empty() {
        return Err(format!("one apply did not converge; the plan after it:\n{}", render_text(&again)));
    }
    // The API's GET gives the JSON view, which a client may PUT back.
    let json = to_json_text(text).map_err(|d| format!("a loaded stackfile has no JSON view: {d}"))?;
    match json_to_yaml(&json) {
        Ok(yaml) => match load(&yaml, CLUSTER) {
            Ok(back) if back == desired => {}
            Ok(_) => return Err(format!("the JSON view loads to another desired state:\n{json}")),
            Err(d) => return Err(format!("the JSON view does not load ({d}):\n{json}")),
        },
        // Block YAML indents: a deep document can grow past the limit. Refused, located.
        Err(d) => check_diagnostics(&d, "json_to_yaml")?,
    }
    Ok(true)
}

/// Every diagnostic is located (but the cluster name's), printable, and short.
fn check_diagnostics(d: &Diagnostics, what: &str) -> Result<(), Violation> {
    if d.is_empty() {
        return Err(format!("{what} refused with no diagnostic"));
    }
    for diag in d {
        if (diag.line == 0 || diag.column == 0) && diag.path != "cluster" {
            return Err(format!("{what}: a diagnostic without a position: {diag:?}"));
        }
        let shown = diag.to_string();
        if shown.chars().any(char::is_control) {
            return Err(format!("{what}: an unprintable diagnostic: {shown:?}"));
        }
        if shown.len() > 20_000 {
            return Err(format!("{what}: a diagnostic of {} bytes", shown.len()));
        }
    }
    Ok(())
}

/// The API in-process: its router, and a token per role.
pub struct Api {
    router: Router,
    deployer: String,
    admin: String,
}

impl Api {
    /// The app on an AWS that does not answer. Making it calls no AWS.
    pub async fn new() -> anyhow::Result<Self> {
        let (deployer, deployer_line) = new_token(Role::Deployer, "fuzz-deployer");
        let (admin, admin_line) = new_token(Role::Admin, "fuzz-admin");
        let tokens =
            Tokens::parse(&format!("{deployer_line}\n{admin_line}\n")).map_err(|e| anyhow::anyhow!("tokens: {e:?}"))?;
        let clients = Clients::unretried(NO_AWS);
        let store = Store::new(clients.s3.clone(), "fuzz-bucket");
        let queue = Queue::resolve(clients.sqs.clone(), &format!("{NO_AWS}/000000000000/jobs.fifo")).await?;
        let state = Arc::new(AppState::new(clients, store, queue, tokens));
        Ok(Self { router: bosun_api::app(state, &[])?, deployer, admin })
    }

    /// Sends `text` as the body of every endpoint that takes a stackfile, as YAML, and
    /// as JSON when it has a JSON view; and bytes of it to the small JSON endpoints.
    pub async fn send(&self, text: &str, valid: bool) -> Result<u32, Violation> {
        let mut sent = 0;
        for (method, path) in [("PUT", "/api/v1/clusters/fuzz/config"), ("POST", "/api/v1/clusters/fuzz/plan")] {
            self.stackfile_request(method, path, "application/yaml", text.as_bytes().to_vec(), valid).await?;
            sent += 1;
        }
        if let Ok(json) = to_json_text(text) {
            // The JSON view of what loads is the same stackfile; of what does not, a
            // JSON body the API must judge the same way as the library does its YAML.
            let body = format!(r#"{{"name": "{CLUSTER}", "config": {json}}}"#);
            let library = json_to_yaml(&json).ok().map(|y| load(&y, CLUSTER).is_ok());
            self.stackfile_request(
                "POST",
                "/api/v1/clusters",
                "application/json",
                body.into_bytes(),
                library == Some(true),
            )
            .await?;
            sent += 1;
        }
        // The small JSON bodies: the input's first bytes as an image tag and a count.
        let tag: String = text.chars().take(40).collect();
        let body = serde_json::json!({"image_tag": tag, "desired_count": text.len() % 7}).to_string();
        let status =
            self.send_raw("PUT", "/api/v1/clusters/fuzz/services/web", "application/json", body.into_bytes()).await?;
        check_status(status.0, &status.1)?;
        Ok(sent + 1)
    }

    async fn stackfile_request(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        valid: bool,
    ) -> Result<(), Violation> {
        let big = body.len() > bosun_api::body::MAX_BODY;
        let (status, json) = self.send_raw(method, path, content_type, body).await?;
        check_status(status, &json)?;
        let refused = status == StatusCode::UNPROCESSABLE_ENTITY && json["error"] == "invalid_stackfile";
        // A valid stackfile goes on to AWS (502: it does not answer); an invalid one is
        // refused before it. A body too large, or a JSON body that is not a stackfile
        // object, is refused before the stackfile is read.
        let before_stackfile = big || status == StatusCode::BAD_REQUEST;
        if !before_stackfile && valid == refused {
            return Err(format!("{method} {path}: the library says valid={valid}, the API answered {status}: {json}"));
        }
        if refused {
            for d in json["details"].as_array().into_iter().flatten() {
                if d["line"].as_u64().unwrap_or(0) == 0 || d["column"].as_u64().unwrap_or(0) == 0 {
                    return Err(format!("{method} {path}: a 422 detail without a position: {json}"));
                }
            }
        }
        Ok(())
    }

    async fn send_raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, serde_json::Value), Violation> {
        let token = if path == "/api/v1/clusters" { &self.admin } else { &self.deployer };
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::from(body))
            .map_err(|e| format!("request: {e}"))?;
        let response = self.router.clone().oneshot(request).await.map_err(|e| format!("router: {e}"))?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok((status, json))
    }
}

/// No 500; every error is the documented JSON shape.
fn check_status(status: StatusCode, json: &serde_json::Value) -> Result<(), Violation> {
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        return Err(format!("a 500: {json}"));
    }
    if (status.is_client_error() || status.is_server_error())
        && !(json["error"].is_string() && json["message"].is_string() && json["details"].is_array())
    {
        return Err(format!("a {status} without a JSON error body: {json}"));
    }
    Ok(())
}
