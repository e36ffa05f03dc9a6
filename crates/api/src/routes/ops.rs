//! Operations endpoints; no token needed: liveness, readiness, metrics. (The OpenAPI
//! document, also open, is served by [`crate::openapi`].)
//!
//! The same three endpoints also run on their own ([`serve_probes`]), for `bosun serve
//! scheduler`, which has no API but should be watched and scraped the same way.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bosun_aws::queue::Queue;
use bosun_aws::store::Store;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bosun_aws::AwsError;
use http::{StatusCode, header};
use tokio::time::error::Elapsed;

use crate::request_id::RequestId;

/// How long a readiness check waits for S3 and SQS.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The operations routes.
pub fn router() -> Router<crate::State> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Object)))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: S3 and SQS answer (each within 2 s). 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = Object), (status = 503, body = Object)))]
pub async fn readyz(State(state): State<crate::State>) -> Response {
    ready(&state.store, &state.queue).await
}

/// The readiness answer: whether the bucket and the queue answer.
async fn ready(store: &Store, queue: &Queue) -> Response {
    let (s3, sqs) = tokio::join!(
        tokio::time::timeout(READY_TIMEOUT, store.ping()),
        tokio::time::timeout(READY_TIMEOUT, queue.ping())
    );
    let id = RequestId::current();
    let (s3, sqs) = (check(id, "s3", s3), check(id, "sqs", sqs));
    let ready = s3 == "ok" && sqs == "ok";
    let mut body =
        serde_json::json!({ "status": if ready { "ready" } else { "not_ready" }, "checks": { "s3": s3, "sqs": sqs } });
    if ready {
        return (StatusCode::OK, Json(body)).into_response();
    }
    body["request_id"] = id.to_string().into();
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// What a readiness check reports: `ok`, `error`, or that AWS did not answer in time.
/// The cause of a failure is logged under request `id`, never sent: this endpoint
/// needs no token, and AWS's error text names the bucket and the queue.
fn check(id: RequestId, name: &str, outcome: Result<Result<(), AwsError>, Elapsed>) -> String {
    let (report, cause) = match outcome {
        Ok(Ok(())) => return "ok".to_owned(),
        Ok(Err(e)) => ("error".to_owned(), e.to_string()),
        Err(_) => {
            let late = format!("no answer within {}s", READY_TIMEOUT.as_secs());
            (late.clone(), late)
        }
    };
    tracing::warn!(request_id = %id, check = name, cause = %cause, "readiness check failed");
    report
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics() -> Response {
    let text = crate::telemetry::render().unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// What the probes listener checks readiness against.
#[derive(Debug, Clone)]
struct Probes {
    store: Store,
    queue: Queue,
}

/// `/healthz`, `/readyz` (the bucket and the queue answer) and `/metrics` (the process's
/// metrics, as the API serves them) alone; JSON 404 elsewhere.
pub fn probes(store: Store, queue: Queue) -> Router {
    let probes = Arc::new(Probes { store, queue });
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(|State(p): State<Arc<Probes>>| async move { ready(&p.store, &p.queue).await }))
        .route("/metrics", get(metrics))
        .fallback(|| async { crate::ApiError::not_found("no such endpoint") })
        .with_state(probes)
}

/// Serve [`probes`] on `listen` until `shutdown` resolves, with the process's Prometheus
/// recorder installed: what `bosun serve scheduler` runs beside the scheduler.
pub async fn serve_probes(
    listen: SocketAddr,
    store: Store,
    queue: Queue,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    crate::telemetry::install_recorder();
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("could not listen on {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "metrics and health listening");
    // The API's accept loop, so the same connection cap and header timeout hold here:
    // a client that sends half a request cannot keep a connection open.
    let limits = crate::limits::Limits { connections: PROBE_CONNECTIONS, ..Default::default() };
    crate::server::run(listener, probes(store, queue), &limits, shutdown).await;
    Ok(())
}

/// Connections the scheduler's metrics and health listener holds at once: scrapers
/// and probes, not users.
const PROBE_CONNECTIONS: usize = 64;
