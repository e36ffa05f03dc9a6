//! A cluster's lock (freeze): read it, take it, clear it. While it holds, writes to the
//! cluster get 423 (see [`crate::locks`]).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bosun_aws::locks::Lock;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa::ToSchema;

use super::Names;
use crate::auth::{ADMIN, Auth, VIEWER};
use crate::body::{self, Body};
use crate::error::{ApiError, ErrorBody};
use crate::locks::{clear_lock, current_lock, parse_ttl, set_lock};

/// The lock routes.
pub fn router() -> Router<crate::State> {
    Router::new().route("/api/v1/clusters/{cluster}/lock", get(get_lock).put(put_lock).delete(delete_lock))
}

/// 404 `not_locked`.
fn not_locked(cluster: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_locked", format!("cluster {cluster} is not locked"))
}

/// The cluster's lock, while it holds.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster}/lock", tag = "clusters", security(("bearer" = [])),
    params(("cluster" = String, Path)),
    responses((status = 200, body = Lock),
        (status = 404, description = "`not_locked`, or `not_found` for a cluster that does not exist", body = ErrorBody)))]
pub async fn get_lock(
    _: Auth<VIEWER>,
    State(state): State<crate::State>,
    names: Names,
) -> Result<Json<Lock>, ApiError> {
    current_lock(&state, &names.cluster).await?.map(Json).ok_or_else(|| not_locked(&names.cluster))
}

/// `PUT .../lock`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutLock {
    /// Why: one line of at most 200 characters, shown to everyone whose write it
    /// refuses. May be empty.
    #[serde(default)]
    pub reason: String,
    /// How long it holds, a duration such as `30m`, `2h` or `1d`: from 1 minute to 7
    /// days; 1 hour when absent.
    pub ttl: Option<String>,
}

/// Lock the cluster: until the lock expires or is cleared, writes to it get 423 (an
/// admin may override with `X-Bosun-Override-Lock: true`), and the scheduler reports
/// drift without healing it. Replaces any lock in place. Jobs queued before still run.
#[utoipa::path(put, path = "/api/v1/clusters/{cluster}/lock", tag = "clusters", security(("bearer" = [])),
    params(("cluster" = String, Path)), request_body = PutLock,
    responses((status = 200, body = Lock), (status = 400, description = "`invalid_lock`: the reason or TTL", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_lock(
    Auth(caller): Auth<ADMIN>,
    State(state): State<crate::State>,
    names: Names,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<Lock>, ApiError> {
    let req: PutLock = body::json(&headers, &body)?;
    let ttl = req.ttl.as_deref().map(parse_ttl).transpose()?;
    Ok(Json(set_lock(&state, &names.cluster, &caller.name, &req.reason, ttl).await?))
}

/// Unlock the cluster.
#[utoipa::path(delete, path = "/api/v1/clusters/{cluster}/lock", tag = "clusters", security(("bearer" = [])),
    params(("cluster" = String, Path)),
    responses((status = 204, description = "Unlocked"), (status = 403, body = ErrorBody),
        (status = 404, description = "`not_locked`, or `not_found` for a cluster that does not exist", body = ErrorBody)))]
pub async fn delete_lock(
    _: Auth<ADMIN>,
    State(state): State<crate::State>,
    names: Names,
) -> Result<Response, ApiError> {
    if clear_lock(&state, &names.cluster).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_locked(&names.cluster))
    }
}
