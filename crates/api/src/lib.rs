//! The bosun HTTP API: each cluster's stackfile in a versioned S3 bucket, a reconcile
//! job on an SQS FIFO queue for every change, and nysa's endpoints under `/api/v1`.
//!
//! Every request passes the same middleware ([`telemetry`]): it gets an id, returned in
//! `x-request-id`; the bearer token is resolved once, the request is timed (and the
//! part of it spent waiting on AWS), one structured access-log line is written, and
//! Prometheus metrics are counted.
//! Handlers check, in order: the caller's role, the names in the path, a plan slot
//! where the work is a plan or a validation ([`limits`]), the body (size, time,
//! encoding, syntax, repeated JSON keys), the stackfile (with the engine's validator),
//! the cluster's lock ([`locks`]). Only then do they write: a rejected request never
//! writes to S3 nor sends to SQS.
//! What a caller reads of a stackfile is redacted by role ([`redact`]).
//!
//! # Layout
//! - [`server`]: the accept loop: connection cap, header timeout, graceful shutdown.
//! - [`limits`]: the resource limits, and the plan slots (429 beyond them).
//! - [`auth`]: the tokens file, roles, and the `Auth<ROLE>` extractor.
//! - [`body`]: body limits, encodings and content types.
//! - [`redact`]: environment values and webhook URLs hidden from readers who may not
//!   see them.
//! - [`derived`]: the JSON rendering and desired state of each cluster's last
//!   stackfile version, so an unchanged stackfile is not parsed on every request.
//! - [`error`]: the JSON error body; a 5xx logs its cause instead of sending it.
//! - [`names`]: cluster, service and job id checks.
//! - [`routes`]: the handlers, one module (and `router()`) per resource; `routes::ops`
//!   also serves the health and metrics endpoints alone, for `bosun serve scheduler`.
//! - [`write`](mod@write): the write path: store then enqueue, and the read-modify-write.
//! - [`locks`]: cluster locks (freezes): take and clear one, and the 423 every write to
//!   a locked cluster gets.
//! - [`telemetry`]: access log, request ids and metrics.
//! - [`request_id`]: each request's id, which its 5xx's logged cause carries.
//! - [`openapi`]: the OpenAPI document, generated from the handlers, and its route.
//! - [`chat`]: chat commands, executed with the API's own rules and write path.
//! - [`slack`]: bosun's Slack app: signed requests in, Block Kit replies out (its
//!   routes exist only when a signing secret is configured).
//! - [`ui`]: the control-plane web UI at `/`: server-rendered pages over the API's own
//!   router, sign-in by token, CSRF and CSP.

pub mod auth;
pub mod body;
pub mod chat;
pub mod derived;
pub mod error;
pub mod limits;
pub mod locks;
pub mod names;
pub mod openapi;
pub mod redact;
pub mod request_id;
pub mod routes;
pub mod server;
pub mod slack;
pub mod telemetry;
pub mod ui;
pub mod write;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use bosun_aws::Clients;
use bosun_aws::queue::Queue;
use bosun_aws::store::Store;
use http::{HeaderValue, Method, StatusCode, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

#[cfg(test)]
mod tests;

pub use auth::{Role, SharedTokens, Tokens};
pub use error::ApiError;
pub use limits::Limits;

/// Everything a handler needs; shared by every request.
#[derive(Debug)]
pub struct AppState {
    /// AWS clients (ECS, ELB, Route53, Cloud Map, S3, SQS, ECR), with call counting, of
    /// bosun's own account and region: the bucket, the queue, image tags.
    pub clients: Clients,
    /// The clients of each cluster, in the account and region its stackfile names
    /// (`aws:`): plan previews and live state read through these.
    pub clusters: bosun_aws::clients::ClusterClients,
    /// The stackfile store.
    pub store: Store,
    /// The job queue.
    pub queue: Queue,
    /// The job queue's dead-letter queue, if it has one: its depth is in each
    /// cluster's status.
    pub dead_letters: Option<Queue>,
    /// Known tokens; replaced whole when the tokens file is reloaded.
    pub tokens: SharedTokens,
    /// Resource limits.
    pub limits: Limits,
    /// The plan slots in use, against `limits`.
    plan_slots: limits::PlanSlots,
    /// Hide environment values from deployers too, not only from viewers.
    pub redact_env: bool,
    /// One write lock per cluster, for read-modify-writes (see [`AppState::write_lock`]).
    write_locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// What was derived from each cluster's last stackfile version: reads of an
    /// unchanged stackfile (the common case) skip parsing and validating it.
    pub derived: derived::Derived,
    /// ChatOps, when a chat access file is configured: who may do what from chat.
    pub chat: Option<chat::ChatConfig>,
    /// bosun's Slack app, when a signing secret is configured; without it the Slack
    /// endpoints do not exist (404).
    pub slack: Option<Arc<slack::Slack>>,
    /// When this process started: `GET /api/v1/system` reports the uptime.
    pub started: std::time::Instant,
    /// The web UI's sessions.
    pub ui: ui::UiConfig,
}

impl AppState {
    /// The clients of the cluster `desired` describes, in its own account and region.
    pub async fn cluster_clients(&self, desired: &bosun_stackfile::Desired) -> Result<Clients, bosun_aws::AwsError> {
        self.clusters.get(&desired.cluster, &desired.aws).await
    }

    /// The state of an API on these clients, bucket, queue and tokens, with the
    /// default limits and no redaction beyond viewers.
    pub fn new(clients: Clients, store: Store, queue: Queue, tokens: impl Into<SharedTokens>) -> Self {
        Self::with_limits(clients, store, queue, tokens, Limits::default(), false)
    }

    /// [`AppState::new`] with these limits and redaction setting.
    pub fn with_limits(
        clients: Clients,
        store: Store,
        queue: Queue,
        tokens: impl Into<SharedTokens>,
        limits: Limits,
        redact_env: bool,
    ) -> Self {
        Self {
            clusters: bosun_aws::clients::ClusterClients::new(clients.clone()),
            clients,
            store,
            queue,
            dead_letters: None,
            tokens: tokens.into(),
            plan_slots: limits::PlanSlots::new(&limits),
            limits,
            redact_env,
            write_locks: std::sync::Mutex::default(),
            derived: derived::Derived::default(),
            chat: None,
            slack: None,
            started: std::time::Instant::now(),
            ui: ui::UiConfig::default(),
        }
    }

    /// The lock that serialises this process's read-modify-writes of one cluster's
    /// stackfile. One entry per cluster ever written, which is bounded by the clusters
    /// an installation has.
    pub fn write_lock(&self, cluster: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.write_locks.lock().expect("the lock map is never poisoned");
        locks.entry(cluster.to_owned()).or_default().clone()
    }
}

/// Shared state.
pub type State = Arc<AppState>;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Address to listen on; port 0 picks a free port (the log line says which).
    pub listen: SocketAddr,
    /// The S3 bucket.
    pub bucket: String,
    /// The SQS queue, a name or a URL.
    pub queue: String,
    /// The tokens file's contents; the caller keeps a clone to reload them.
    pub tokens: SharedTokens,
    /// Origins allowed by CORS; empty: CORS is off.
    pub cors_origins: Vec<String>,
    /// Resource limits.
    pub limits: Limits,
    /// Redact environment values for deployers too (`--redact-env`).
    pub redact_env: bool,
    /// ChatOps settings; `None`: chat is off.
    pub chat: Option<chat::ChatConfig>,
    /// bosun's Slack app; `None`: the Slack endpoints answer 404.
    pub slack: Option<slack::SlackConfig>,
    /// The web UI's session key and lifetime.
    pub ui: ui::UiConfig,
}

/// Connect to the bucket and queue, checking that both exist.
pub async fn connect(clients: Clients, config: &ApiConfig) -> anyhow::Result<State> {
    let (store, queue) = bosun_aws::queue::connect(&clients, &config.bucket, &config.queue).await?;
    let dead_letters = queue.dead_letters().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not find the dead-letter queue; the status will not show its depth");
        None
    });
    let mut state =
        AppState::with_limits(clients, store, queue, config.tokens.clone(), config.limits.clone(), config.redact_env);
    state.dead_letters = dead_letters;
    state.chat = config.chat.clone();
    state.ui = config.ui.clone();
    state.slack = config.slack.as_ref().map(slack::Slack::new).transpose()?.map(Arc::new);
    Ok(Arc::new(state))
}

/// The application: the web UI's pages ([`ui`]) and the API, which answers every
/// path the UI does not know.
pub fn app(state: State, cors_origins: &[String]) -> anyhow::Result<Router> {
    let api = api(state.clone(), cors_origins)?;
    let ui = ui::Ui {
        app: state.clone(),
        api: ui::client::Api::new(api.clone()),
        config: state.ui.clone(),
        started: state.started,
    };
    Ok(ui::router(Arc::new(ui)).fallback_service(api))
}

/// The API: each resource's routes, the 404 and 405 answers, CORS (only when origins
/// are configured), and the telemetry middleware around all of it.
pub fn api(state: State, cors_origins: &[String]) -> anyhow::Result<Router> {
    let mut router = Router::new()
        .merge(routes::clusters::router())
        .merge(routes::services::router())
        .merge(routes::plan::router())
        .merge(routes::jobs::router())
        .merge(routes::system::router())
        .merge(routes::chat::router())
        .merge(routes::locks::router())
        .merge(routes::ops::router())
        .merge(openapi::router())
        // Only when configured: without a signing secret, the Slack paths are unknown.
        .merge(if state.slack.is_some() { slack::router() } else { Router::new() })
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        // After the merges: it applies to the routes there are.
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        });
    if let Some(cors) = cors(cors_origins)? {
        // Inside the telemetry middleware, so the preflights CORS answers itself get a
        // request id and an access line too.
        router = router.layer(cors);
    }
    Ok(router.layer(axum::middleware::from_fn_with_state(state.clone(), telemetry::observe_request)).with_state(state))
}

/// The CORS layer for these origins; `None` (CORS off) when there are none.
fn cors(origins: &[String]) -> anyhow::Result<Option<CorsLayer>> {
    if origins.is_empty() {
        return Ok(None);
    }
    let origins = origins
        .iter()
        .map(|o| HeaderValue::from_str(o).with_context(|| format!("invalid CORS origin {o:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::IF_MATCH, header::ACCEPT])
            .expose_headers([header::ETAG]),
    ))
}

/// Serve until `shutdown` resolves, then finish the requests in flight.
pub async fn serve(config: ApiConfig, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    serve_with(Clients::from_env().await, config, shutdown).await
}

/// [`serve`] on given clients (`bosun serve` shares them with the scheduler).
pub async fn serve_with(
    clients: Clients,
    config: ApiConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    telemetry::install_recorder();
    config.limits.check().map_err(anyhow::Error::msg)?;
    let state = connect(clients, &config).await?;
    let app = app(state, &config.cors_origins)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("could not listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        bucket = %config.bucket,
        queue = %config.queue,
        tokens = config.tokens.current().len(),
        max_connections = config.limits.connections,
        max_plans = config.limits.plans,
        slack = config.slack.is_some(),
        slack_bot_token = config.slack.as_ref().is_some_and(|s| s.bot_token.is_some()),
        "listening"
    );
    server::run(listener, app, &config.limits, shutdown).await;
    tracing::info!("stopped");
    Ok(())
}
