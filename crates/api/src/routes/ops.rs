//! Operations endpoints; no token needed: liveness, readiness, metrics. (The OpenAPI
//! document, also open, is served by [`crate::openapi`].)

use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{StatusCode, header};

/// How long a readiness check waits for S3 and SQS.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The operations routes.
pub fn router() -> Router<crate::State> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Object)))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: S3 and SQS answer (each within 2 s). 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = Object), (status = 503, body = Object)))]
pub async fn readyz(State(state): State<crate::State>) -> Response {
    let check = |r: Result<Result<(), bosun_aws::AwsError>, tokio::time::error::Elapsed>| match r {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {}s", READY_TIMEOUT.as_secs()),
    };
    let (s3, sqs) = tokio::join!(
        tokio::time::timeout(READY_TIMEOUT, state.store.ping()),
        tokio::time::timeout(READY_TIMEOUT, state.queue.ping())
    );
    let (s3, sqs) = (check(s3), check(sqs));
    let ready = s3 == "ok" && sqs == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({ "status": if ready { "ready" } else { "not_ready" }, "checks": { "s3": s3, "sqs": sqs } });
    (status, Json(body)).into_response()
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics() -> Response {
    let text = crate::telemetry::render().unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
