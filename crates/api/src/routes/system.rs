//! The installation at a glance: bosun's version and uptime, the job queue's and the
//! dead-letter queue's depths, and when each cluster was last checked for drift.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt as _;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Auth, VIEWER};
use crate::error::{ApiError, ErrorBody};

/// The system route.
pub fn router() -> Router<crate::State> {
    Router::new().route("/api/v1/system", get(system))
}

/// `GET /api/v1/system`.
#[derive(Debug, Serialize, ToSchema)]
pub struct System {
    /// bosun's version.
    pub version: &'static str,
    /// Seconds since this API process started.
    pub uptime_seconds: u64,
    /// Jobs in the job queue (waiting, in flight and delayed); `null` when SQS did not
    /// answer.
    pub queued_jobs: Option<u64>,
    /// Jobs in the dead-letter queue; `null` without one, or when SQS did not answer.
    pub dead_letter_jobs: Option<u64>,
    /// Each cluster's last drift check and last job.
    pub clusters: Vec<ClusterCheck>,
}

/// One cluster's checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterCheck {
    /// The cluster.
    pub cluster: String,
    /// RFC 3339: the scheduler's last drift check; `null` before the first.
    pub drift_checked_at: Option<String>,
    /// How its last job ended.
    pub last_job_status: Option<String>,
    /// RFC 3339: when its last job ended.
    pub last_job_finished_at: Option<String>,
}

/// The version, uptime, queue depths and drift checks.
#[utoipa::path(get, path = "/api/v1/system", tag = "system", security(("bearer" = [])),
    responses((status = 200, body = System), (status = 401, body = ErrorBody)))]
pub async fn system(_: Auth<VIEWER>, State(state): State<crate::State>) -> Result<Json<System>, ApiError> {
    let (clusters, queued, dead) = tokio::join!(state.store.list_clusters(), state.queue.depth(), async {
        match &state.dead_letters {
            Some(q) => q.depth().await.ok(),
            None => None,
        }
    });
    let checks = futures::stream::iter(clusters?)
        .map(|cluster| {
            let store = &state.store;
            async move {
                let status = store.get_status(&cluster).await.ok().flatten().unwrap_or_default();
                let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
                ClusterCheck {
                    drift_checked_at: text(&status["drift_checked_at"]),
                    last_job_status: text(&status["last_job"]["status"]),
                    last_job_finished_at: text(&status["last_job"]["finished_at"]),
                    cluster,
                }
            }
        })
        .buffered(8)
        .collect()
        .await;
    Ok(Json(System {
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs(),
        queued_jobs: queued.inspect_err(|e| tracing::warn!(error = %e, "could not read the job queue's depth")).ok(),
        dead_letter_jobs: dead,
        clusters: checks,
    }))
}
