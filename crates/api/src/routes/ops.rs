//! Operations endpoints; no token needed: liveness, readiness, metrics. (The OpenAPI
//! document, also open, is served by [`crate::openapi`].)

use std::time::Duration;

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
    let (s3, sqs) = tokio::join!(
        tokio::time::timeout(READY_TIMEOUT, state.store.ping()),
        tokio::time::timeout(READY_TIMEOUT, state.queue.ping())
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
