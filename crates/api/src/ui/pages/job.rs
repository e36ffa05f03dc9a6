//! The job page: status, who asked and approved, times, each change's result and
//! duration, rollout outcomes, and the error in full. It polls until the job is final.

use std::time::SystemTime;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use crate::ui::client::Problem;
use crate::ui::view::When;
use crate::ui::{Nav, Session, UiState, render};

/// A job record, as `GET /api/v1/jobs/{id}` answers it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Record {
    #[serde(flatten)]
    job: Message,
    status: String,
    updated_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    error: Option<String>,
    attempts: u32,
    result: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Message {
    job_id: String,
    cluster: String,
    reason: String,
    requested_by: String,
    stackfile_version: String,
    created_at: String,
    plan_hash: Option<String>,
    approved_by: Option<String>,
}

/// One change and how it went.
struct Change {
    change: String,
    result: String,
    ms: Option<u64>,
}

/// One service's rollout.
struct Rollout {
    service: String,
    outcome: String,
    detail: String,
}

/// What the page shows of a job.
struct JobView {
    r: Record,
    final_: bool,
    created: Option<When>,
    started: Option<When>,
    finished: Option<When>,
    summary: String,
    planned: Vec<String>,
    changes: Vec<Change>,
    rollouts: Vec<Rollout>,
    timings: Vec<(String, u64)>,
}

impl JobView {
    fn new(r: Record) -> Self {
        let now = SystemTime::now();
        let when = |t: Option<&str>| t.and_then(|t| When::parse(t, now));
        let result = r.result.clone().unwrap_or_default();
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        let changes = result["resources"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| Change { change: text(&c["change"]), result: text(&c["result"]), ms: c["ms"].as_u64() })
                    .collect()
            })
            .unwrap_or_default();
        let rollouts = result["rollouts"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(service, v)| Rollout {
                        service: service.clone(),
                        outcome: text(&v["outcome"]),
                        detail: match (v["reason"].as_str(), v["after"].as_u64()) {
                            (Some(reason), _) => reason.to_owned(),
                            (None, Some(after)) => format!("after {after} s"),
                            _ => String::new(),
                        },
                    })
                    .collect()
            })
            .unwrap_or_default();
        let timings = result["timings_ms"]
            .as_object()
            .map(|o| o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_u64()?))).collect())
            .unwrap_or_default();
        let planned = result["plan"]["changes"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Self {
            final_: !matches!(r.status.as_str(), "queued" | "running"),
            created: when(Some(&r.job.created_at)),
            started: when(r.started_at.as_deref()),
            finished: when(r.finished_at.as_deref()),
            summary: text(&result["summary"]),
            planned,
            changes,
            rollouts,
            timings,
            r,
        }
    }
}

/// The page.
#[derive(Template)]
#[template(path = "job.html")]
struct Page {
    nav: Nav,
    j: JobView,
}

/// The part that polls.
#[derive(Template)]
#[template(path = "job_live.html")]
struct Live {
    j: JobView,
}

async fn load(ui: &UiState, session: &Session, id: &str) -> Result<JobView, Problem> {
    crate::names::check_job_id(id).map_err(|e| Problem::bad_request(e.message))?;
    let record: Record = ui.api.get(&session.caller, format!("/api/v1/jobs/{id}")).await?;
    Ok(JobView::new(record))
}

/// `GET /jobs/{id}`.
pub async fn page(State(ui): State<UiState>, session: Session, Path(id): Path<String>) -> Result<Response, Problem> {
    let j = load(&ui, &session, &id).await?;
    Ok(render(&Page { nav: session.nav("clusters"), j }))
}

/// `GET /jobs/{id}/live`: the job's details, polled every second until it is final.
pub async fn live(State(ui): State<UiState>, session: Session, Path(id): Path<String>) -> Result<Response, Problem> {
    Ok(render(&Live { j: load(&ui, &session, &id).await? }))
}
