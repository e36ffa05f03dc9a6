//! Job records.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::routing;
use axum::{Json, Router};
use bosun_aws::jobs::JobRecord;

use crate::auth::{Auth, VIEWER};
use crate::error::{ApiError, ErrorBody};
use crate::names::check_job_id;

/// The job routes.
pub fn router() -> Router<crate::State> {
    Router::new().route("/api/v1/jobs/{id}", routing::get(get))
}

/// A job record: queued, running, succeeded, rolled_back, failed or superseded, with the
/// reconcile's result once the scheduler has written it.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = JobRecord), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: Auth<VIEWER>,
    State(state): State<crate::State>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<JobRecord>, ApiError> {
    let Path(id) =
        id.map_err(|e| ApiError::bad_request("invalid_path", format!("the path is not valid: {}", e.body_text())))?;
    check_job_id(&id)?;
    state.store.get_job(&id).await?.map(Json).ok_or_else(|| ApiError::not_found(format!("no job {id}")))
}
