//! The system page: version, uptime, queue and dead-letter depths, and each cluster's
//! last drift check.

use std::time::{Duration, SystemTime};

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use crate::ui::client::Problem;
use crate::ui::view::{When, short};
use crate::ui::{Nav, Session, UiState, render};

#[derive(Debug, Deserialize)]
struct System {
    version: String,
    uptime_seconds: u64,
    queued_jobs: Option<u64>,
    dead_letter_jobs: Option<u64>,
    clusters: Vec<Check>,
}

#[derive(Debug, Deserialize)]
struct Check {
    cluster: String,
    drift_checked_at: Option<String>,
    last_job_status: Option<String>,
    last_job_finished_at: Option<String>,
}

struct Row {
    c: Check,
    checked: Option<When>,
    finished: Option<When>,
}

/// The page.
#[derive(Template)]
#[template(path = "system.html")]
struct Page {
    nav: Nav,
    s: System,
    uptime: String,
    rows: Vec<Row>,
    assets_kib: usize,
}

/// `GET /system`.
pub async fn page(State(ui): State<UiState>, session: Session) -> Result<Response, Problem> {
    let mut s: System = ui.api.get(&session.caller, "/api/v1/system").await?;
    let now = SystemTime::now();
    let rows = std::mem::take(&mut s.clusters)
        .into_iter()
        .map(|c| Row {
            checked: c.drift_checked_at.as_deref().and_then(|t| When::parse(t, now)),
            finished: c.last_job_finished_at.as_deref().and_then(|t| When::parse(t, now)),
            c,
        })
        .collect();
    Ok(render(&Page {
        nav: session.nav("system"),
        uptime: short(Duration::from_secs(s.uptime_seconds)),
        s,
        rows,
        assets_kib: crate::ui::assets::total_bytes().div_ceil(1024),
    }))
}
