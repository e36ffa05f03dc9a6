//! Plan previews: the current stackfile, or a candidate body, against live AWS; and
//! the validation of a candidate alone. Nothing is stored or applied. Each holds a plan slot ([`crate::limits`]) while it
//! runs. A plan never shows an environment value; a candidate of a caller who may not
//! read them ([`crate::redact`]) is planned without comparing them, so that a preview
//! cannot confirm a guessed value ([`bosun_plan::blind`]).
//!
//! A preview runs no preflight check ([`bosun_aws::preflight`]): a viewer naming roles,
//! secrets and parameters in a candidate would learn which exist in bosun's account.
//! The job that applies a stackfile checks them, and fails listing every missing one.

use std::borrow::Cow;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bosun_plan::{Policy, render_json, render_text};
use bosun_stackfile::Desired;
use http::{HeaderMap, HeaderValue, header};
use serde::Deserialize;
use utoipa::IntoParams;

use super::Names;
use crate::auth::{Auth, VIEWER};
use crate::body;
use crate::error::{ApiError, ErrorBody};
use crate::limits::{PlanSlot, SlotAndBody};
use crate::redact;

/// The plan routes.
pub fn router() -> Router<crate::State> {
    Router::new()
        .route("/api/v1/clusters/{cluster}/plan", get(current).post(candidate))
        .route("/api/v1/clusters/{cluster}/validate", post(validate))
}

/// Query of the plan endpoints.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PlanQuery {
    /// `text` (default) or `json`; `Accept: application/json` also selects JSON.
    pub format: Option<String>,
    /// Services the plan deletes as `DELETE .../services/{s}` does, even without
    /// `prune` (comma-separated): the preview of removing them.
    pub prune_services: Option<String>,
}

impl PlanQuery {
    fn prune_services(&self) -> Result<std::collections::BTreeSet<String>, ApiError> {
        let Some(list) = &self.prune_services else { return Ok(Default::default()) };
        let names: Vec<&str> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if names.len() > 100 {
            return Err(ApiError::bad_request("invalid_prune_services", "at most 100 services in prune_services"));
        }
        names.iter().try_for_each(|n| crate::names::check_name("service", n))?;
        Ok(names.into_iter().map(str::to_owned).collect())
    }
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

/// Plan `desired` against live AWS and render it. `blind`: the candidate of a caller who
/// may not read environment values, whose values are not compared ([`bosun_plan::blind`]).
async fn preview(
    state: &crate::State,
    mut desired: Cow<'_, Desired>,
    q: &PlanQuery,
    json: bool,
    blind: bool,
) -> Result<Response, ApiError> {
    let prune_services = q.prune_services()?;
    if blind {
        bosun_plan::blind::blind_env_values(desired.to_mut());
    }
    let observed = bosun_aws::observe(&state.cluster_clients(&desired).await?, &desired).await?;
    if blind {
        bosun_plan::blind::take_live_env_values(desired.to_mut(), &observed);
    }
    let policy = Policy { prune_services, ..Policy::from_desired(&desired) };
    let plan = bosun_plan::plan(&desired, &observed, &policy);
    drop((observed, desired));
    let mut resp = if json {
        ([(header::CONTENT_TYPE, "application/json")], render_json(&plan)).into_response()
    } else {
        ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], render_text(&plan)).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(plan.short_hash()) {
        resp.headers_mut().insert("x-bosun-plan-hash", v);
    }
    // Whether applying it would change nothing, without parsing the body.
    let empty = if plan.is_empty() { "true" } else { "false" };
    resp.headers_mut().insert("x-bosun-plan-empty", HeaderValue::from_static(empty));
    Ok(resp)
}

/// Preview the current stackfile against live AWS.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster}/plan", tag = "plan", security(("bearer" = [])),
    params(("cluster" = String, Path), PlanQuery),
    responses((status = 200, description = "The plan: text, or JSON with `format=json`", content_type = "text/plain", body = String),
        (status = 404, body = ErrorBody)))]
pub async fn current(
    Auth(_caller): Auth<VIEWER>,
    State(state): State<crate::State>,
    names: Names,
    Query(q): Query<PlanQuery>,
    headers: HeaderMap,
    _slot: PlanSlot,
) -> Result<Response, ApiError> {
    let json = wants_json(&q, &headers)?;
    let current = crate::write::current(&state, &names.cluster).await?;
    let desired = state.derived.desired(&names.cluster, &current.text).map_err(|d| {
        ApiError::corrupt(format_args!("the stored stackfile of cluster {} no longer validates: {d}", names.cluster))
    })?;
    preview(&state, Cow::Borrowed(&desired), &q, json, false).await
}

/// Preview a candidate stackfile (JSON or YAML body) without storing it. Viewers may
/// call it: it reads AWS and changes nothing.
#[utoipa::path(post, path = "/api/v1/clusters/{cluster}/plan", tag = "plan", security(("bearer" = [])),
    params(("cluster" = String, Path), PlanQuery), request_body(content = Object, content_type = "application/json"),
    responses((status = 200, description = "The plan: text, or JSON with `format=json`", content_type = "text/plain", body = String),
        (status = 400, body = ErrorBody), (status = 422, description = "The stackfile is invalid", body = ErrorBody)))]
pub async fn candidate(
    Auth(caller): Auth<VIEWER>,
    State(state): State<crate::State>,
    names: Names,
    Query(q): Query<PlanQuery>,
    headers: HeaderMap,
    SlotAndBody(_slot, body): SlotAndBody,
) -> Result<Response, ApiError> {
    let json = wants_json(&q, &headers)?;
    let text = body::stackfile(&headers, &body)?;
    drop(body);
    // First: a marker where a webhook URL goes would otherwise read as an invalid URL.
    redact::refuse_markers(&text)?;
    let desired = bosun_stackfile::load(&text, &names.cluster).map_err(|d| ApiError::invalid_stackfile(&d))?;
    drop(text);
    preview(&state, Cow::Owned(desired), &q, json, redact::hides_env(&state, &caller)).await
}

/// The answer to a stackfile that validates.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Valid {
    /// Always `true`; an invalid stackfile gets 422 with every error in `details`.
    pub valid: bool,
    /// How many services and tasks it describes.
    pub services: usize,
}

/// Validate a candidate stackfile (JSON or YAML body) for this cluster, as a write
/// would, without reading AWS or storing anything: 422 `invalid_stackfile` lists every
/// error with its path, line and column. The web editor calls it as the user types.
#[utoipa::path(post, path = "/api/v1/clusters/{cluster}/validate", tag = "plan", security(("bearer" = [])),
    params(("cluster" = String, Path)), request_body(content = Object, content_type = "application/yaml"),
    responses((status = 200, body = Valid), (status = 400, body = ErrorBody),
        (status = 422, description = "The stackfile is invalid", body = ErrorBody)))]
pub async fn validate(
    _: Auth<VIEWER>,
    names: Names,
    headers: HeaderMap,
    SlotAndBody(_slot, body): SlotAndBody,
) -> Result<Json<Valid>, ApiError> {
    let text = body::stackfile(&headers, &body)?;
    drop(body);
    redact::refuse_markers(&text)?;
    let desired = bosun_stackfile::load(&text, &names.cluster).map_err(|d| ApiError::invalid_stackfile(&d))?;
    Ok(Json(Valid { valid: true, services: desired.services.len() }))
}
