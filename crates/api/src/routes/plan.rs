//! Plan previews: the current stackfile, or a candidate body, against live AWS.
//! Nothing is stored or applied.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bosun_plan::{Policy, render_json, render_text};
use http::{HeaderMap, HeaderValue, header};
use serde::Deserialize;
use utoipa::IntoParams;

use super::Names;
use crate::auth::{Auth, VIEWER};
use crate::body::{self, Body};
use crate::error::{ApiError, ErrorBody};

/// The plan routes.
pub fn router() -> Router<crate::State> {
    Router::new().route("/api/v1/clusters/{cluster}/plan", get(current).post(candidate))
}

/// Query of the plan endpoints.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PlanQuery {
    /// `text` (default) or `json`; `Accept: application/json` also selects JSON.
    pub format: Option<String>,
}

fn wants_json(q: &PlanQuery, headers: &HeaderMap) -> Result<bool, ApiError> {
    match q.format.as_deref() {
        Some("json") => Ok(true),
        Some("text") => Ok(false),
        Some(other) => Err(ApiError::bad_request("invalid_format", format!("format {other:?} is not text or json"))),
        None => Ok(headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json"))),
    }
}

async fn preview(state: &crate::State, cluster: &str, text: &str, json: bool) -> Result<Response, ApiError> {
    let desired = bosun_stackfile::load(text, cluster).map_err(|d| ApiError::invalid_stackfile(&d))?;
    let observed = bosun_aws::observe(&state.clients, &desired).await?;
    let plan = bosun_plan::plan(&desired, &observed, &Policy::from_desired(&desired));
    let mut resp = if json {
        ([(header::CONTENT_TYPE, "application/json")], render_json(&plan)).into_response()
    } else {
        ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], render_text(&plan)).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(plan.short_hash()) {
        resp.headers_mut().insert("x-bosun-plan-hash", v);
    }
    Ok(resp)
}

/// Preview the current stackfile against live AWS.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster}/plan", tag = "plan", security(("bearer" = [])),
    params(("cluster" = String, Path), PlanQuery),
    responses((status = 200, description = "The plan: text, or JSON with `format=json`", content_type = "text/plain", body = String),
        (status = 404, body = ErrorBody)))]
pub async fn current(
    _: Auth<VIEWER>,
    State(state): State<crate::State>,
    names: Names,
    Query(q): Query<PlanQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let json = wants_json(&q, &headers)?;
    let current = crate::write::current(&state, &names.cluster).await?;
    preview(&state, &names.cluster, &current.text, json).await
}

/// Preview a candidate stackfile (JSON or YAML body) without storing it. Viewers may
/// call it: it reads AWS and changes nothing.
#[utoipa::path(post, path = "/api/v1/clusters/{cluster}/plan", tag = "plan", security(("bearer" = [])),
    params(("cluster" = String, Path), PlanQuery), request_body(content = Object, content_type = "application/json"),
    responses((status = 200, description = "The plan: text, or JSON with `format=json`", content_type = "text/plain", body = String),
        (status = 400, body = ErrorBody), (status = 422, description = "The stackfile is invalid", body = ErrorBody)))]
pub async fn candidate(
    _: Auth<VIEWER>,
    State(state): State<crate::State>,
    names: Names,
    Query(q): Query<PlanQuery>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let json = wants_json(&q, &headers)?;
    let text = body::stackfile(&headers, &body)?;
    preview(&state, &names.cluster, &text, json).await
}
