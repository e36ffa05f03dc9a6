//! The clusters page: one tile per cluster with its last job, drift state, lock and
//! services converged out of the total. It refreshes itself every few seconds.

use std::time::SystemTime;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use futures::StreamExt as _;
use serde::Deserialize;

use crate::auth::Caller;
use crate::ui::client::{Api, Problem};
use crate::ui::view::When;
use crate::ui::{Nav, Session, UiState, render};

/// How many clusters are read at once.
const CONCURRENCY: usize = 8;

/// `{"content": [...]}`.
#[derive(Debug, Deserialize)]
pub struct Content<T> {
    /// The items.
    pub content: Vec<T>,
}

/// A cluster's status, as `GET .../status` answers it (the scheduler's document).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Status {
    /// The last job that ran to its end.
    pub last_job: Option<LastJob>,
    /// The last drift check that found a difference.
    pub drift: Option<Drift>,
    /// `never_reconciled` before the first job.
    pub state: Option<String>,
    /// The cluster's lock.
    pub lock: Option<Lock>,
    /// Jobs in the dead-letter queue.
    pub dead_letter_jobs: Option<u64>,
    /// The last drift check, found something or not.
    pub drift_checked_at: Option<String>,
    /// Where the cluster lives, as the scheduler last saw its stackfile.
    pub location: Option<Location>,
}

/// A cluster's account and region, in a status.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Location {
    /// The account of the role bosun assumes; `None`: bosun's own.
    pub account: Option<String>,
    /// The region.
    pub region: Option<String>,
}

/// The last job, in a status.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LastJob {
    /// Its id.
    pub job_id: String,
    /// `succeeded`, `rolled_back`, `failed`, ...
    pub status: String,
    /// Its one-line summary.
    pub summary: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Why it did not succeed.
    pub error: Option<String>,
}

/// A drift check's finding.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Drift {
    /// When.
    pub detected_at: String,
    /// `healed`, `reported` or `held`.
    pub action: String,
    /// The plan's changes.
    pub changes: Vec<String>,
}

/// A cluster's lock.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Lock {
    /// Why.
    pub reason: String,
    /// Who.
    pub locked_by: String,
    /// Until when.
    pub expires_at: String,
}

/// One service, as `GET .../services` answers.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Service {
    /// Its name.
    pub name: String,
    /// `service` or `task`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Desired image.
    pub image: String,
    /// Desired tag.
    pub tag: Option<String>,
    /// Desired count; `None` when an autoscaler owns it.
    pub desired_count: Option<i32>,
    /// What runs.
    pub live: Option<Live>,
}

/// A live ECS service.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Live {
    /// The task definition it runs.
    pub task_definition: String,
    /// Its image.
    pub image: Option<String>,
    /// Desired tasks.
    pub desired_count: i32,
    /// Running tasks.
    pub running_count: i32,
    /// Pending tasks.
    pub pending_count: i32,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`.
    pub rollout_state: Option<String>,
}

impl Service {
    /// Whether what runs is what the stackfile asks for, and settled.
    pub fn converged(&self) -> bool {
        self.live.as_ref().is_some_and(|l| {
            l.image.as_deref() == Some(self.image.as_str())
                && l.running_count == l.desired_count
                && l.pending_count == 0
                && self.desired_count.is_none_or(|d| d == l.desired_count)
                && l.rollout_state.as_deref().is_none_or(|s| s == "COMPLETED")
        })
    }
}

/// The drift state a page shows: a label and its CSS class.
pub fn drift_state(status: &Status) -> (&'static str, &'static str) {
    if status.state.as_deref() == Some("never_reconciled") && status.last_job.is_none() {
        return ("never reconciled", "queued");
    }
    let finished = status.last_job.as_ref().and_then(|j| j.finished_at.as_deref()).unwrap_or("");
    match &status.drift {
        // RFC 3339 UTC strings of one writer compare in time order.
        Some(d) if d.detected_at.as_str() > finished => match d.action.as_str() {
            "reported" => ("drift reported", "reported"),
            "held" => ("drift held", "held"),
            _ => ("drifted, healing", "drifted"),
        },
        _ => ("in sync", "in_sync"),
    }
}

/// A tile.
pub struct Tile {
    name: String,
    last: Option<(LastJob, Option<When>)>,
    drift: (&'static str, &'static str),
    lock: Option<(Lock, Option<When>)>,
    /// `account · region`, once a job or drift check has run.
    location: Option<String>,
    converged: usize,
    total: usize,
    problem: Option<Problem>,
}

async fn tile(api: &Api, caller: &Caller, name: String, now: SystemTime) -> Tile {
    let (status, services) = tokio::join!(
        api.get::<Status>(caller, format!("/api/v1/clusters/{name}/status")),
        api.get::<Content<Service>>(caller, format!("/api/v1/clusters/{name}/services")),
    );
    let mut tile = Tile {
        name,
        last: None,
        drift: ("unknown", ""),
        lock: None,
        location: None,
        converged: 0,
        total: 0,
        problem: None,
    };
    match status {
        Ok(mut s) => {
            tile.drift = drift_state(&s);
            tile.location = s.location.take().map(|l| {
                let account = l.account.unwrap_or_else(|| "bosun's account".to_owned());
                match l.region {
                    Some(region) => format!("{account} · {region}"),
                    None => account,
                }
            });
            tile.last = s.last_job.take().map(|j| {
                let when = j.finished_at.as_deref().and_then(|t| When::parse(t, now));
                (j, when)
            });
            tile.lock = s.lock.take().map(|l| {
                let until = When::parse(&l.expires_at, now);
                (l, until)
            });
        }
        Err(p) => tile.problem = Some(p),
    }
    match services {
        Ok(s) => {
            let services: Vec<_> = s.content.into_iter().filter(|s| s.kind == "service").collect();
            tile.total = services.len();
            tile.converged = services.iter().filter(|s| s.converged()).count();
        }
        Err(p) => tile.problem = tile.problem.or(Some(p)),
    }
    tile
}

async fn tiles(ui: &UiState, caller: &Caller) -> Result<Vec<Tile>, Problem> {
    let names = ui.api.get::<Content<String>>(caller, "/api/v1/clusters").await?.content;
    let now = SystemTime::now();
    Ok(futures::stream::iter(names).map(|n| tile(&ui.api, caller, n, now)).buffered(CONCURRENCY).collect().await)
}

/// The page.
#[derive(Template)]
#[template(path = "clusters.html")]
struct Page {
    nav: Nav,
    tiles: Vec<Tile>,
}

/// The tiles alone, which the page polls for.
#[derive(Template)]
#[template(path = "clusters_tiles.html")]
struct Tiles {
    tiles: Vec<Tile>,
}

/// `GET /`.
pub async fn page(State(ui): State<UiState>, session: Session) -> Result<Response, Problem> {
    let tiles = tiles(&ui, &session.caller).await?;
    Ok(render(&Page { nav: session.nav("clusters"), tiles }))
}

/// `GET /ui/clusters`: the tiles, for the page's refresh.
pub async fn rows(State(ui): State<UiState>, session: Session) -> Result<Response, Problem> {
    Ok(render(&Tiles { tiles: tiles(&ui, &session.caller).await? }))
}
