//! Services of a cluster: desired and live state, image tags, and the
//! read-modify-write updates ChatOps and the web UI use.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use bosun_aws::ecr::{ImageTag, ecr_repository, recent_tags};
use bosun_aws::live::{LiveService, live_services};
use bosun_stackfile::document::{EditError, ServiceEdit, remove_service, set_service};
use bosun_stackfile::{Desired, ServiceKind};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Content, Names};
use crate::auth::{Auth, DEPLOYER, VIEWER};
use crate::body::{self, Body};
use crate::error::{ApiError, ErrorBody};
use crate::locks::{ensure_unlocked, overrides};
use crate::write::{Accepted, JobRequest, current, enqueue, read_modify_write};

/// The service routes.
pub fn router() -> Router<crate::State> {
    Router::new()
        .route("/api/v1/clusters/{cluster}/services", get(list))
        .route("/api/v1/clusters/{cluster}/services/{service}", put(update).delete(remove))
        .route("/api/v1/clusters/{cluster}/services/{service}/tags", get(tags))
}

/// Query of the tags endpoint.
#[derive(Debug, Deserialize, IntoParams)]
pub struct TagsQuery {
    /// At most this many tags (the newest), a whole number from 1; all when absent.
    pub limit: Option<String>,
}

impl TagsQuery {
    fn limit(&self) -> Result<usize, ApiError> {
        let Some(text) = &self.limit else { return Ok(usize::MAX) };
        match text.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(ApiError::bad_request(
                "invalid_limit",
                format!("limit {:?} is not a whole number from 1", text.chars().take(32).collect::<String>()),
            )),
        }
    }
}

/// One service: what the stackfile asks for, and what runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    /// Service name.
    pub name: String,
    /// `service`, or `task` for a task definition only.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Desired image, `repo:tag`.
    pub image: String,
    /// Desired tag (after the last `:` of the image), if any.
    pub tag: Option<String>,
    /// Desired task count; `null` when an autoscaler owns it (`ignore: [desired_count]`).
    pub desired_count: Option<i32>,
    /// The live ECS service; `null` when it does not exist (yet).
    pub live: Option<LiveService>,
}

async fn desired(state: &crate::State, cluster: &str) -> Result<Arc<Desired>, ApiError> {
    let current = current(state, cluster).await?;
    state.derived.desired(cluster, &current.text).map_err(|d| {
        ApiError::corrupt(format_args!("the stored stackfile of cluster {cluster} no longer validates: {d}"))
    })
}

fn tag_of(image: &str) -> Option<String> {
    let repo = image.split_once('@').map_or(image, |(r, _)| r);
    repo.rsplit_once(':').filter(|(_, t)| !t.contains('/')).map(|(_, t)| t.to_owned())
}

/// Each service of the stackfile with its desired image, tag and count, and its live
/// task definition, image, counts and rollout state.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster}/services", tag = "services", security(("bearer" = [])),
    params(("cluster" = String, Path)), responses((status = 200, body = Content<ServiceView>), (status = 404, body = ErrorBody)))]
pub async fn list(
    _: Auth<VIEWER>,
    State(state): State<crate::State>,
    names: Names,
) -> Result<Json<Content<ServiceView>>, ApiError> {
    let desired = desired(&state, &names.cluster).await?;
    let mut live = live_services(&state.cluster_clients(&desired).await?, &names.cluster).await?;
    let content = desired
        .services
        .values()
        .map(|s| {
            let image = s.task_definition.container.image.clone();
            ServiceView {
                name: s.name.clone(),
                kind: match s.kind {
                    ServiceKind::Service => "service",
                    ServiceKind::Task => "task",
                },
                tag: tag_of(&image),
                image,
                desired_count: s.desired_count,
                live: live.remove(&s.name),
            }
        })
        .collect();
    Ok(Json(Content { content }))
}

/// The tags of the service's ECR repository, newest pushed first: all of them (as nysa
/// answers; its clients cut the list themselves), or the newest `limit`.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster}/services/{service}/tags", tag = "services", security(("bearer" = [])),
    params(("cluster" = String, Path), ("service" = String, Path), TagsQuery),
    responses((status = 200, body = Content<ImageTag>), (status = 404, body = ErrorBody),
        (status = 422, description = "The image is not in ECR", body = ErrorBody)))]
pub async fn tags(
    _: Auth<VIEWER>,
    State(state): State<crate::State>,
    names: Names,
    Query(q): Query<TagsQuery>,
) -> Result<Json<Content<ImageTag>>, ApiError> {
    let limit = q.limit()?;
    let desired = desired(&state, &names.cluster).await?;
    let service = names.service();
    let svc = desired.services.get(service).ok_or_else(|| no_service(&names.cluster, service))?;
    let image = &svc.task_definition.container.image;
    let repo = ecr_repository(image).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_ecr",
            format!("image {image} is not in ECR, so its tags cannot be listed"),
        )
    })?;
    let tags = recent_tags(&state.clients.ecr, &repo, limit).await.map_err(|e| {
        if e.is_not_found() {
            ApiError::not_found(format!("ECR repository {} does not exist", repo.name))
        } else {
            e.into()
        }
    })?;
    Ok(Json(Content { content: tags }))
}

/// `PUT .../services/{service}`: nysa's update.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateService {
    /// New image tag.
    pub image_tag: Option<String>,
    /// New task count; 0 is valid.
    pub desired_count: Option<u32>,
    /// Queue a reconcile (default true). `false` only stores the change.
    pub deploy: Option<bool>,
}

/// The answer to an update that was stored but not deployed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stored {
    /// What happened.
    pub message: String,
    /// The stored stackfile version.
    pub version_id: String,
}

fn no_service(cluster: &str, service: &str) -> ApiError {
    ApiError::not_found(format!("cluster {cluster} has no service {service}"))
}

fn edit_error(cluster: &str, e: EditError) -> ApiError {
    match e {
        EditError::NoSuchService(s) => no_service(cluster, &s),
        EditError::Invalid(m) => ApiError::bad_request("invalid_value", m),
        EditError::Layout(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "cannot_edit", e.to_string()),
        EditError::Parse(d) => {
            ApiError::corrupt(format_args!("the stored stackfile of cluster {cluster} does not parse: {d}"))
        }
    }
}

/// Change a service's image tag and/or count. The server reads, edits (keeping the
/// file's comments and layout), validates, and writes back on the ETag it read,
/// retrying when another writer got in between: concurrent updates are never lost.
#[utoipa::path(put, path = "/api/v1/clusters/{cluster}/services/{service}", tag = "services", security(("bearer" = [])),
    params(("cluster" = String, Path), ("service" = String, Path), ("If-Match" = Option<String>, Header), ("X-Bosun-Message" = Option<String>, Header),
        ("X-Bosun-Override-Lock" = Option<bool>, Header, description = "`true` from an admin: write to a locked cluster"),
        ("X-Bosun-Plan-Hash" = Option<String>, Header, description = "The hash a plan preview returned: the job applies exactly that plan, or nothing")),
    request_body = UpdateService,
    responses((status = 202, body = Accepted), (status = 200, description = "Stored, not deployed (`deploy: false`)", body = Stored),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 423, description = "`cluster_locked`: the cluster is locked", body = ErrorBody)))]
pub async fn update(
    Auth(caller): Auth<DEPLOYER>,
    State(state): State<crate::State>,
    names: Names,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let req: UpdateService = body::json(&headers, &body)?;
    let deploy = req.deploy.unwrap_or(true);
    if req.image_tag.is_none() && req.desired_count.is_none() && !deploy {
        return Err(ApiError::bad_request("nothing_to_do", "give image_tag, desired_count, or deploy: true"));
    }
    let service = names.service().to_owned();
    // Before the write: a bad header must not leave a stored version behind.
    let job = JobRequest::new(&names.cluster, "service_updated", &caller, &headers)?;
    ensure_unlocked(&state, &names.cluster, overrides(&caller, &headers)).await?;
    let edit = ServiceEdit { image_tag: req.image_tag, desired_count: req.desired_count };
    let written = read_modify_write(&state, &names.cluster, &caller, &headers, &|text| {
        set_service(text, &service, &edit).map_err(|e| edit_error(&names.cluster, e))
    })
    .await?;
    let mut resp = if deploy {
        let what = if written.changed { "updated" } else { "unchanged" };
        let body =
            enqueue(&state, job, &written.version_id, format!("service {service} {what}; reconcile queued")).await?;
        (StatusCode::ACCEPTED, Json(body)).into_response()
    } else {
        let body =
            Stored { message: format!("service {service} stored; not deployed"), version_id: written.version_id };
        (StatusCode::OK, Json(body)).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&written.etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

/// Remove a service from the stackfile and queue a reconcile that deletes the service
/// and the resources bosun owns for it (even without `prune: true`).
#[utoipa::path(delete, path = "/api/v1/clusters/{cluster}/services/{service}", tag = "services", security(("bearer" = [])),
    params(("cluster" = String, Path), ("service" = String, Path), ("If-Match" = Option<String>, Header),
        ("X-Bosun-Override-Lock" = Option<bool>, Header, description = "`true` from an admin: write to a locked cluster"),
        ("X-Bosun-Plan-Hash" = Option<String>, Header, description = "The hash a plan preview returned: the job applies exactly that plan, or nothing")),
    responses((status = 202, body = Accepted), (status = 404, body = ErrorBody),
        (status = 423, description = "`cluster_locked`: the cluster is locked", body = ErrorBody)))]
pub async fn remove(
    Auth(caller): Auth<DEPLOYER>,
    State(state): State<crate::State>,
    names: Names,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let service = names.service().to_owned();
    let mut job = JobRequest::new(&names.cluster, "service_deleted", &caller, &headers)?;
    job.delete_services = vec![service.clone()];
    ensure_unlocked(&state, &names.cluster, overrides(&caller, &headers)).await?;
    let written = read_modify_write(&state, &names.cluster, &caller, &headers, &|text| {
        remove_service(text, &service).map_err(|e| edit_error(&names.cluster, e))
    })
    .await?;
    let body =
        enqueue(&state, job, &written.version_id, format!("service {service} removed; reconcile queued to delete it"))
            .await?;
    let mut resp = (StatusCode::ACCEPTED, Json::<Accepted>(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&written.etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::tag_of;

    #[test]
    fn tags() {
        assert_eq!(tag_of("nginx:1.27").as_deref(), Some("1.27"));
        assert_eq!(tag_of("localhost:5000/app"), None);
        assert_eq!(tag_of("app@sha256:abc"), None);
    }
}
