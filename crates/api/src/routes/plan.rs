//! Plan previews: the current stackfile, or a candidate body, against live AWS.
//! Nothing is stored or applied. Each holds a plan slot ([`crate::limits`]) while it
//! runs. A plan never shows an environment value; a candidate of a caller who may not
//! read them ([`crate::redact`]) is planned without comparing them, so that a preview
//! cannot confirm a guessed value ([`bosun_plan::blind`]).

use std::borrow::Cow;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
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

/// Plan `desired` against live AWS and render it. `blind`: the candidate of a caller who
/// may not read environment values, whose values are not compared ([`bosun_plan::blind`]).
async fn preview(
    state: &crate::State,
    mut desired: Cow<'_, Desired>,
    json: bool,
    blind: bool,
) -> Result<Response, ApiError> {
    if blind {
        bosun_plan::blind::blind_env_values(desired.to_mut());
    }
    let observed = bosun_aws::observe(&state.clients, &desired).await?;
    if blind {
        bosun_plan::blind::take_live_env_values(desired.to_mut(), &observed);
    }
    let plan = bosun_plan::plan(&desired, &observed, &Policy::from_desired(&desired));
    drop((observed, desired));
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
    preview(&state, Cow::Borrowed(&desired), json, false).await
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
    preview(&state, Cow::Owned(desired), json, redact::hides_env(&state, &caller)).await
}
