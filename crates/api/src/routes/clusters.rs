//! Clusters and their stackfiles: list, create, read, replace, deploy, history,
//! rollback, status.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bosun_aws::store::{Condition, Version};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{Content, Names};
use crate::auth::{ADMIN, Auth, DEPLOYER, VIEWER};
use crate::body::{self, Body};
use crate::error::{ApiError, ErrorBody};
use crate::limits::SlotAndBody;
use crate::locks::{ensure_unlocked, overrides};
use crate::names::check_name;
use crate::redact;
use crate::write::{Accepted, JobRequest, current, enqueue, if_match, no_cluster, store_and_enqueue};

/// The cluster routes.
pub fn router() -> Router<crate::State> {
    Router::new()
        .route("/api/v1/clusters", get(list).post(create))
        .route("/api/v1/clusters/{cluster}/config", get(get_config).put(put_config))
        .route("/api/v1/clusters/{cluster}/deploy", post(deploy))
        .route("/api/v1/clusters/{cluster}/history", get(history))
        .route("/api/v1/clusters/{cluster}/rollback", post(rollback))
        .route("/api/v1/clusters/{cluster}/status", get(status))
}

/// List the clusters that have a stackfile.
#[utoipa::path(get, path = "/api/v1/clusters", tag = "clusters", security(("bearer" = [])),
    responses((status = 200, description = "Cluster names", body = Content<String>), (status = 401, body = ErrorBody)))]
pub async fn list(_: Auth<VIEWER>, State(state): State<crate::State>) -> Result<Json<Content<String>>, ApiError> {
    Ok(Json(Content { content: state.store.list_clusters().await? }))
}

/// `POST /api/v1/clusters`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCluster {
    /// The cluster name (the ECS cluster it manages).
    pub name: String,
    /// The stackfile: a JSON object, or YAML text.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
}

/// Create a cluster with its first stackfile, and queue its reconcile. Atomic: of two
/// racing creators, exactly one gets 201.
#[utoipa::path(post, path = "/api/v1/clusters", tag = "clusters", security(("bearer" = [])), request_body = CreateCluster,
    responses((status = 201, body = Accepted), (status = 400, body = ErrorBody), (status = 422, description = "The cluster exists, or the stackfile is invalid", body = ErrorBody)))]
pub async fn create(
    Auth(caller): Auth<ADMIN>,
    State(state): State<crate::State>,
    headers: HeaderMap,
    SlotAndBody(slot, body): SlotAndBody,
) -> Result<Response, ApiError> {
    let req: CreateCluster = body::json(&headers, &body)?;
    check_name("cluster", &req.name)?;
    let text = body::config_value(req.config)?;
    // First: a marker where a webhook URL goes would otherwise read as an invalid URL.
    redact::refuse_markers(&text)?;
    let desired = bosun_stackfile::load(&text, &req.name).map_err(|d| ApiError::invalid_stackfile(&d))?;
    drop(slot);
    let job = JobRequest::new(&req.name, "cluster_created", &caller, &headers)?;
    match store_and_enqueue(&state, job, &text, desired, Some(&Condition::Absent), &headers).await {
        Ok(mut queued) => {
            queued.body.message = format!("cluster {} created; reconcile queued", req.name);
            Ok(queued.response(StatusCode::CREATED))
        }
        Err(e) if e.status == StatusCode::PRECONDITION_FAILED => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "cluster_exists",
            format!("cluster {} already exists", req.name),
        )),
        Err(e) => Err(e),
    }
}

/// Query of `GET .../config`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ConfigQuery {
    /// A version id from the history: that version rather than the current one.
    pub version: Option<String>,
}

/// 400 unless `version` can be a version id.
fn check_version(version: &str) -> Result<(), ApiError> {
    if version.is_empty() || version.len() > 1024 || version.chars().any(char::is_control) {
        return Err(ApiError::bad_request("invalid_version", "version_id is not a version id"));
    }
    Ok(())
}

fn wants_yaml(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("yaml"))
}

/// The stackfile: JSON by default, the stored YAML with `Accept: application/yaml`.
/// The `ETag` header is what `If-Match` takes. A viewer (and a deployer, with
/// `--redact-env`) reads environment values and webhook URLs as `<redacted>`, and the
/// YAML without comments.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster}/config", tag = "clusters", security(("bearer" = [])),
    params(("cluster" = String, Path), ConfigQuery),
    responses((status = 200, description = "The stackfile: JSON, or YAML with `Accept: application/yaml`", body = Object, content_type = "application/json"),
        (status = 404, body = ErrorBody)))]
pub async fn get_config(
    Auth(caller): Auth<VIEWER>,
    State(state): State<crate::State>,
    names: Names,
    Query(q): Query<ConfigQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let current = match &q.version {
        None => current(&state, &names.cluster).await?,
        Some(version) => {
            check_version(version)?;
            current(&state, &names.cluster).await?;
            state
                .store
                .get_stackfile(&names.cluster, Some(version))
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no version {version} of cluster {}", names.cluster)))?
        }
    };
    // An earlier version is derived apart, so that reading one does not evict what is
    // kept for the current one.
    let scratch;
    let derived = if q.version.is_some() {
        scratch = crate::derived::Derived::default();
        &scratch
    } else {
        &state.derived
    };
    let redacted = redact::hides_env(&state, &caller);
    let unparsable = |d: bosun_stackfile::Diagnostics| {
        ApiError::corrupt(format_args!("the stored stackfile of cluster {} does not parse: {d}", names.cluster))
    };
    let mut resp = match (wants_yaml(&headers), redacted) {
        (true, false) => ([(header::CONTENT_TYPE, "application/yaml")], current.text).into_response(),
        (true, true) => {
            let yaml = derived.yaml_redacted(&names.cluster, &current.text).map_err(unparsable)?;
            ([(header::CONTENT_TYPE, "application/yaml")], yaml).into_response()
        }
        (false, _) => {
            let json = derived.json(&names.cluster, &current.text, redacted).map_err(unparsable)?;
            ([(header::CONTENT_TYPE, "application/json")], json).into_response()
        }
    };
    // What is sent depends on the caller's role and on `Accept`: no cache may hand one
    // caller's answer to another.
    resp.headers_mut().insert(header::VARY, HeaderValue::from_static("accept, authorization"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    if let Ok(v) = HeaderValue::from_str(&current.etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&current.version_id) {
        resp.headers_mut().insert("x-bosun-version", v);
    }
    Ok(resp)
}

/// Replace the stackfile (JSON or YAML by `Content-Type`), validated first, and queue
/// a reconcile. `If-Match: ETAG` makes the write conditional (412 when stale).
#[utoipa::path(put, path = "/api/v1/clusters/{cluster}/config", tag = "clusters", security(("bearer" = [])),
    params(("cluster" = String, Path), ("If-Match" = Option<String>, Header), ("X-Bosun-Message" = Option<String>, Header),
        ("X-Bosun-Override-Lock" = Option<bool>, Header, description = "`true` from an admin: write to a locked cluster"),
        ("X-Bosun-Plan-Hash" = Option<String>, Header, description = "The hash a plan preview returned: the job applies exactly that plan, or nothing")),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 412, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 423, description = "`cluster_locked`: the cluster is locked", body = ErrorBody),
        (status = 422, description = "The stackfile is invalid", body = ErrorBody)))]
pub async fn put_config(
    Auth(caller): Auth<DEPLOYER>,
    State(state): State<crate::State>,
    names: Names,
    headers: HeaderMap,
    SlotAndBody(slot, body): SlotAndBody,
) -> Result<Response, ApiError> {
    let text = body::stackfile(&headers, &body)?;
    // First: a marker where a webhook URL goes would otherwise read as an invalid URL.
    redact::refuse_markers(&text)?;
    let desired = bosun_stackfile::load(&text, &names.cluster).map_err(|d| ApiError::invalid_stackfile(&d))?;
    // The validation is done; the write that follows is a few AWS calls.
    drop(slot);
    ensure_unlocked(&state, &names.cluster, overrides(&caller, &headers)).await?;
    let job = JobRequest::new(&names.cluster, "config_updated", &caller, &headers)?;
    let condition = match if_match(&headers)? {
        None => {
            if headers.get(header::IF_MATCH).is_none() {
                // nysa's clients read a config and write it back without If-Match: a write
                // made between the two is lost. Said where an operator looks.
                tracing::warn!(
                    cluster = %names.cluster,
                    caller = %caller.name,
                    "a whole stackfile was written without If-Match: a concurrent write in between would be overwritten"
                );
            }
            // Unconditional, but only for a cluster that exists (POST creates).
            current(&state, &names.cluster).await?;
            None
        }
        Some(etag) => Some(Condition::Matches(etag)),
    };
    match store_and_enqueue(&state, job, &text, desired, condition.as_ref(), &headers).await {
        Ok(q) => Ok(q.response(StatusCode::ACCEPTED)),
        // A conditional write to a cluster that does not exist fails its precondition too.
        Err(e) if e.status == StatusCode::PRECONDITION_FAILED => {
            match state.store.get_stackfile(&names.cluster, None).await? {
                None => Err(no_cluster(&names.cluster)),
                Some(_) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Queue a reconcile of the current stackfile.
#[utoipa::path(post, path = "/api/v1/clusters/{cluster}/deploy", tag = "clusters", security(("bearer" = [])),
    params(("cluster" = String, Path),
        ("X-Bosun-Override-Lock" = Option<bool>, Header, description = "`true` from an admin: write to a locked cluster"),
        ("X-Bosun-Plan-Hash" = Option<String>, Header, description = "The hash a plan preview returned: the job applies exactly that plan, or nothing")),
    responses((status = 202, body = Accepted), (status = 404, body = ErrorBody),
        (status = 423, description = "`cluster_locked`: the cluster is locked", body = ErrorBody)))]
pub async fn deploy(
    Auth(caller): Auth<DEPLOYER>,
    State(state): State<crate::State>,
    names: Names,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let current = current(&state, &names.cluster).await?;
    ensure_unlocked(&state, &names.cluster, overrides(&caller, &headers)).await?;
    let job = JobRequest::new(&names.cluster, "deploy", &caller, &headers)?;
    let body =
        enqueue(&state, job, &current.version_id, format!("reconcile of cluster {} queued", names.cluster)).await?;
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// The stackfile's versions, newest first (at most 50), with author, time and message.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster}/history", tag = "clusters", security(("bearer" = [])),
    params(("cluster" = String, Path)), responses((status = 200, body = Content<Version>), (status = 404, body = ErrorBody)))]
pub async fn history(
    _: Auth<VIEWER>,
    State(state): State<crate::State>,
    names: Names,
) -> Result<Json<Content<Version>>, ApiError> {
    let versions = state.store.history(&names.cluster).await?;
    if versions.is_empty() {
        return Err(no_cluster(&names.cluster));
    }
    Ok(Json(Content { content: versions }))
}

/// `POST .../rollback`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// A version id from the history.
    pub version_id: String,
}

/// Restore an earlier version as the new current one, and queue a reconcile.
#[utoipa::path(post, path = "/api/v1/clusters/{cluster}/rollback", tag = "clusters", security(("bearer" = [])),
    params(("cluster" = String, Path), ("If-Match" = Option<String>, Header),
        ("X-Bosun-Override-Lock" = Option<bool>, Header, description = "`true` from an admin: write to a locked cluster"),
        ("X-Bosun-Plan-Hash" = Option<String>, Header, description = "The hash a plan preview returned: the job applies exactly that plan, or nothing")),
    request_body = Rollback,
    responses((status = 202, body = Accepted), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 423, description = "`cluster_locked`: the cluster is locked", body = ErrorBody)))]
pub async fn rollback(
    Auth(caller): Auth<DEPLOYER>,
    State(state): State<crate::State>,
    names: Names,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let req: Rollback = body::json(&headers, &body)?;
    check_version(&req.version_id)?;
    current(&state, &names.cluster).await?;
    let old =
        state.store.get_stackfile(&names.cluster, Some(&req.version_id)).await?.ok_or_else(|| {
            ApiError::not_found(format!("no version {} of cluster {}", req.version_id, names.cluster))
        })?;
    let desired = bosun_stackfile::load(&old.text, &names.cluster).map_err(|d| {
        let mut e = ApiError::invalid_stackfile(&d);
        e.message = format!("version {} no longer validates; nothing was changed", req.version_id);
        e
    })?;
    ensure_unlocked(&state, &names.cluster, overrides(&caller, &headers)).await?;
    let mut headers = headers;
    if !headers.contains_key("x-bosun-message") {
        headers.insert(
            "x-bosun-message",
            HeaderValue::from_str(&format!("rollback to {}", req.version_id))
                .unwrap_or(HeaderValue::from_static("rollback")),
        );
    }
    let job = JobRequest::new(&names.cluster, "rollback", &caller, &headers)?;
    let condition = if_match(&headers)?.map(Condition::Matches);
    let mut q = store_and_enqueue(&state, job, &old.text, desired, condition.as_ref(), &headers).await?;
    q.body.message = format!("cluster {} rolled back to version {}; reconcile queued", names.cluster, req.version_id);
    Ok(q.response(StatusCode::ACCEPTED))
}

/// The cluster's last reconcile result, as the scheduler recorded it, its lock (`null`
/// when it is not locked), and the number of jobs (of every cluster) in the dead-letter
/// queue.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster}/status", tag = "clusters", security(("bearer" = [])),
    params(("cluster" = String, Path)), responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn status(
    _: Auth<VIEWER>,
    State(state): State<crate::State>,
    names: Names,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (stored, dead, lock) = tokio::join!(
        state.store.get_status(&names.cluster),
        dead_letter_jobs(&state),
        state.store.get_lock(&names.cluster, std::time::SystemTime::now())
    );
    let mut status = match stored? {
        Some(status) => status,
        None => {
            current(&state, &names.cluster).await?;
            serde_json::json!({ "cluster": names.cluster, "state": "never_reconciled" })
        }
    };
    if let Some(fields) = status.as_object_mut() {
        fields.insert("dead_letter_jobs".into(), dead.map_or(serde_json::Value::Null, serde_json::Value::from));
        fields.insert("lock".into(), serde_json::to_value(lock?).expect("a lock always serialises"));
    }
    Ok(Json(status))
}

/// The dead-letter queue's depth; `None` when there is none or it did not answer (the
/// status is served all the same).
async fn dead_letter_jobs(state: &crate::AppState) -> Option<u64> {
    let dead = state.dead_letters.as_ref()?;
    dead.depth().await.inspect_err(|e| tracing::warn!(error = %e, "could not read the dead-letter queue's depth")).ok()
}
