//! The control-plane web UI, served at `/` beside the API: server-rendered askama
//! templates (`crates/api/templates`) and one vendored htmx file, all compiled into the
//! binary, so the UI needs no CDN and works offline.
//!
//! The UI is a view of the API: every page reads, and every form writes, through the
//! API's own router in process ([`client`]), as the signed-in caller. A page shows only
//! what the caller's role allows (a viewer sees no write action), and the API refuses
//! a forged write whatever the page showed. Every change shows its plan first; the
//! confirmation carries the plan's hash and the ETag it was planned on, so what is
//! applied is what was shown, or nothing.
//!
//! Safety, for every UI route ([`guard`]): a Content-Security-Policy without inline
//! script (`script-src 'self'`), `frame-ancestors 'none'`, a Referrer-Policy, no
//! caching; every POST must carry its session's CSRF token and, when the browser says
//! where it came from, come from this site.
//!
//! # Layout
//! - [`session`]: session cookies and CSRF tokens.
//! - [`client`]: the in-process calls to the API, and its errors as pages show them.
//! - [`view`]: times, plan lines and diffs as templates show them.
//! - [`pages`]: the handlers, one module per page.
//! - [`assets`]: the embedded stylesheet and scripts.

pub mod assets;
pub mod client;
pub mod pages;
pub mod session;
pub mod view;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode, header};

use self::client::{Api, Problem};
use self::session::{COOKIE, CSRF_FIELD, CSRF_HEADER, Claims, LOGIN_COOKIE, SessionKey};
use crate::auth::{Caller, Role};

/// The Content-Security-Policy of every UI response: scripts and styles from this
/// site only (no inline script, no `eval`), requests to this site only, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The largest form the UI takes: a stackfile (at most the API's body limit, 1 MiB by
/// default) urlencoded, which can triple it.
const MAX_FORM: usize = 4 << 20;

/// How the UI is configured.
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// Signs session cookies; share it between replicas (`--ui-session-secret-file`).
    pub key: SessionKey,
    /// How long a session lasts (`--ui-session-ttl`).
    pub session_ttl: Duration,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self { key: SessionKey::random(), session_ttl: Duration::from_secs(12 * 3600) }
    }
}

/// The UI's state.
#[derive(Debug)]
pub struct Ui {
    /// The API's state: the UI reads the tokens in force from it, and nothing else.
    pub app: crate::State,
    /// The API router, called in process for every read and write.
    pub api: Api,
    /// Sessions.
    pub config: UiConfig,
    /// When the process started, for the system page's uptime.
    pub started: Instant,
}

/// The UI's state, shared.
pub type UiState = Arc<Ui>;

/// The UI's routes, with the guard and the API's telemetry around each, served
/// beside `api` (which answers every path the UI does not know).
pub fn router(ui: UiState) -> Router {
    let telemetry = axum::middleware::from_fn_with_state(ui.app.clone(), crate::telemetry::observe_request);
    Router::new()
        .route("/", get(pages::clusters::page))
        .route("/ui/clusters", get(pages::clusters::rows))
        .route("/login", get(pages::login::form).post(pages::login::sign_in))
        .route("/logout", post(pages::login::sign_out))
        .route("/system", get(pages::system::page))
        .route("/clusters/{cluster}", get(pages::cluster::page))
        .route("/clusters/{cluster}/services/{service}/actions", get(pages::cluster::actions))
        .route("/clusters/{cluster}/services/{service}/plan", post(pages::cluster::preview))
        .route("/clusters/{cluster}/services/{service}/apply", post(pages::cluster::apply))
        .route("/clusters/{cluster}/edit", get(pages::editor::page))
        .route("/clusters/{cluster}/edit/validate", post(pages::editor::validate))
        .route("/clusters/{cluster}/edit/plan", post(pages::editor::preview))
        .route("/clusters/{cluster}/edit/save", post(pages::editor::save))
        .route("/clusters/{cluster}/history", get(pages::history::page))
        .route("/clusters/{cluster}/history/diff", get(pages::history::diff))
        .route("/clusters/{cluster}/history/plan", post(pages::history::preview))
        .route("/clusters/{cluster}/history/rollback", post(pages::history::rollback))
        .route("/jobs/{id}", get(pages::job::page))
        .route("/jobs/{id}/live", get(pages::job::live))
        .route("/assets/{file}", get(assets::serve))
        .route_layer(axum::middleware::from_fn_with_state(ui.clone(), guard))
        .route_layer(telemetry)
        .with_state(ui)
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The security headers of every UI response, and the CSRF and origin checks of every
/// POST (before its handler, so no handler can forget them).
async fn guard(State(ui): State<UiState>, req: Request, next: Next) -> Response {
    let htmx = is_htmx(req.headers());
    let req = if req.method() == Method::POST {
        match check_post(&ui, req).await {
            Ok(req) => req,
            Err(problem) => return secure(problem.into_response()),
        }
    } else {
        req
    };
    let cookie = session::cookie(req.headers(), COOKIE).map(str::to_owned);
    let mut resp = next.run(req).await;
    if resp.headers_mut().remove(PROBLEM_HEADER).is_some() {
        if htmx {
            // An error a page shows in place (a stackfile error, a stale plan, a
            // refusal) is the answer htmx asked for: it swaps only a 2xx, and the
            // browser logs every 4xx and 5xx as a console error.
            *resp.status_mut() = StatusCode::OK;
        } else {
            // A full page keeps its status, in the layout.
            resp = in_layout(&ui, cookie.as_deref(), resp).await;
        }
    }
    secure(resp)
}

/// Marks a response as a [`Problem`] rendered for the page.
const PROBLEM_HEADER: &str = "x-bosun-ui-problem";

/// An error fragment as a whole page.
#[derive(Template)]
#[template(path = "error_page.html")]
struct ErrorLayout {
    nav: Nav,
    fragment: String,
}

async fn in_layout(ui: &Ui, cookie: Option<&str>, resp: Response) -> Response {
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let nav = cookie
        .and_then(|c| Claims::open(&ui.config.key, c, unix_now()))
        .and_then(|claims| {
            let caller = ui.app.tokens.current().by_hash(&claims.token_hash)?;
            Some(Session { caller, csrf: claims.csrf(&ui.config.key) }.nav(""))
        })
        .unwrap_or_default();
    // The fragment was rendered, escaped, by the error template.
    let page = ErrorLayout { nav, fragment: String::from_utf8_lossy(&bytes).into_owned() };
    match page.render() {
        Ok(html) => Response::from_parts(parts, axum::body::Body::from(html)),
        Err(_) => Response::from_parts(parts, axum::body::Body::from(bytes)),
    }
}

fn secure(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// A POST passes when it comes from this site and carries the right CSRF token: its
/// session's, or on the sign-in form the double-submit cookie's. The form is read
/// here (bounded), and handed on whole.
async fn check_post(ui: &Ui, req: Request) -> Result<Request, Problem> {
    let forbidden = |why: &str| Problem {
        status: StatusCode::FORBIDDEN,
        code: "csrf".into(),
        message: format!("{why}; reload the page and try again"),
        details: Vec::new(),
        request_id: None,
    };
    let headers = req.headers();
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|s| s == "cross-site") {
        return Err(forbidden("the form was sent from another site"));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let from = origin.to_str().unwrap_or_default();
        let origin_host = from.split_once("://").map_or("", |(_, h)| h);
        if from != "null" && origin_host != host {
            return Err(forbidden("the form was sent from another site"));
        }
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| Problem::bad_request(format!("the form is larger than {} MiB", MAX_FORM >> 20)))?;
    let presented = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| form_field(&bytes, CSRF_FIELD))
        .unwrap_or_default();
    let ok = if parts.uri.path() == "/login" {
        session::cookie(&parts.headers, LOGIN_COOKIE)
            .is_some_and(|c| !c.is_empty() && session::same_secret(c, &presented))
    } else {
        session::cookie(&parts.headers, COOKIE)
            .and_then(|c| Claims::open(&ui.config.key, c, unix_now()))
            .is_some_and(|claims| claims.csrf_matches(&ui.config.key, &presented))
    };
    if !ok {
        return Err(forbidden("the form's CSRF token is missing or not this session's"));
    }
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

/// One field of an urlencoded form.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The signed-in caller of a page, from the session cookie.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who, with the role of their token now.
    pub caller: Caller,
    /// This session's CSRF token, for its forms.
    pub csrf: String,
}

impl Session {
    /// Whether the caller may change clusters that exist.
    pub fn can_deploy(&self) -> bool {
        self.caller.role >= Role::Deployer
    }

    /// The navigation bar's part of a page.
    pub fn nav(&self, active: &'static str) -> Nav {
        Nav { user: Some((self.caller.name.clone(), self.caller.role.to_string())), csrf: self.csrf.clone(), active }
    }
}

/// What the layout needs: who is signed in, the CSRF token for the sign-out form and
/// htmx requests, and which section is open.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    /// Name and role.
    pub user: Option<(String, String)>,
    /// The session's CSRF token.
    pub csrf: String,
    /// `clusters` or `system`.
    pub active: &'static str,
}

impl FromRequestParts<UiState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ui: &UiState) -> Result<Self, Self::Rejection> {
        let session = session::cookie(&parts.headers, COOKIE)
            .and_then(|c| Claims::open(&ui.config.key, c, unix_now()))
            .and_then(|claims| {
                let caller = ui.app.tokens.current().by_hash(&claims.token_hash)?;
                Some(Self { caller, csrf: claims.csrf(&ui.config.key) })
            });
        session.ok_or_else(|| {
            let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let to = format!("/login?next={}", pages::login::encode(next));
            if parts.headers.contains_key("hx-request") {
                // htmx follows this header with a full page load.
                ([("hx-redirect", to)], StatusCode::NO_CONTENT).into_response()
            } else {
                Redirect::to(&to).into_response()
            }
        })
    }
}

/// A page whose template renders, or a 500 that says so.
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => Problem::internal(format!("the page could not be rendered: {e}")).into_response(),
    }
}

/// An error as a page (or, to htmx, as the fragment it swaps in): the API's message,
/// every detail, and on a 5xx the request id.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    p: &'a Problem,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let html = ErrorPage { p: &self }
            .render()
            .unwrap_or_else(|_| format!("<p class=\"error\">{} {}</p>", self.status, self.code));
        (self.status, [(PROBLEM_HEADER, "1")], Html(html)).into_response()
    }
}

/// A response that sends the browser to `to`: a redirect, or for htmx its header.
pub fn go_to(to: &str, htmx: bool) -> Response {
    if htmx {
        ([("hx-redirect", to.to_owned())], StatusCode::NO_CONTENT).into_response()
    } else {
        Redirect::to(to).into_response()
    }
}

/// Whether htmx made the request.
pub fn is_htmx(headers: &http::HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// A cluster or service name from a path, checked as the API checks it before it goes
/// into the API's own paths.
pub fn check_name(kind: &str, name: &str) -> Result<(), Problem> {
    crate::names::check_name(kind, name).map_err(|e| Problem::bad_request(e.message))
}
