//! The history page: every stackfile version with author, message and time; the diff
//! of any version against the current one; and a rollback, previewed as a plan first.

use std::time::SystemTime;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, Method};
use serde::Deserialize;

use super::cluster::{Confirm, accepted, plan, plan_response, stackfile};
use super::clusters::Content;
use crate::ui::client::Problem;
use crate::ui::view::{Line, When, diff_lines, unified};
use crate::ui::{Nav, Session, UiState, check_name, is_htmx, render};

/// A version, as `GET .../history` answers.
#[derive(Debug, Deserialize)]
struct Version {
    version_id: String,
    time: String,
    author: Option<String>,
    message: Option<String>,
    is_latest: bool,
}

struct Row {
    v: Version,
    when: Option<When>,
}

/// The page.
#[derive(Template)]
#[template(path = "history.html")]
struct Page {
    nav: Nav,
    cluster: String,
    rows: Vec<Row>,
    can_deploy: bool,
}

/// A diff.
#[derive(Template)]
#[template(path = "diff.html")]
struct Diff {
    version: String,
    lines: Vec<Line>,
}

/// `GET /clusters/{cluster}/history`.
pub async fn page(
    State(ui): State<UiState>,
    session: Session,
    Path(cluster): Path<String>,
) -> Result<Response, Problem> {
    check_name("cluster", &cluster)?;
    let versions: Content<Version> = ui.api.get(&session.caller, format!("/api/v1/clusters/{cluster}/history")).await?;
    let now = SystemTime::now();
    let rows = versions.content.into_iter().map(|v| Row { when: When::parse(&v.time, now), v }).collect();
    Ok(render(&Page { nav: session.nav("clusters"), can_deploy: session.can_deploy(), cluster, rows }))
}

/// Which version.
#[derive(Debug, Deserialize)]
pub struct Which {
    version: String,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    plan_hash: Option<String>,
}

/// `GET .../history/diff?version=V`: from that version to the current one.
pub async fn diff(
    State(ui): State<UiState>,
    session: Session,
    Path(cluster): Path<String>,
    Query(q): Query<Which>,
) -> Result<Response, Problem> {
    check_name("cluster", &cluster)?;
    let (old, current) = tokio::join!(
        stackfile(&ui.api, &session.caller, &cluster, Some(&q.version)),
        stackfile(&ui.api, &session.caller, &cluster, None),
    );
    let (old, current) = (old?, current?);
    let text = unified(&old.text, &current.text, &format!("version {}", q.version), "current");
    Ok(render(&Diff { version: q.version, lines: diff_lines(&text) }))
}

/// `POST .../history/plan`: what rolling back to a version would do, and (to
/// deployers) the confirmation.
pub async fn preview(
    State(ui): State<UiState>,
    session: Session,
    Path(cluster): Path<String>,
    Form(form): Form<Which>,
) -> Result<Response, Problem> {
    check_name("cluster", &cluster)?;
    let caller = &session.caller;
    let (old, current) = tokio::join!(
        stackfile(&ui.api, caller, &cluster, Some(&form.version)),
        stackfile(&ui.api, caller, &cluster, None),
    );
    let (old, current) = (old?, current?);
    let mut plan = plan(&ui.api, caller, &cluster, old.text, "").await?;
    if session.can_deploy() {
        plan.confirm = Some(Confirm {
            url: format!("/clusters/{cluster}/history/rollback"),
            fields: vec![("version", form.version.clone()), ("etag", current.etag), ("plan_hash", plan.hash.clone())],
            label: if plan.empty {
                "Roll back (nothing to apply)".into()
            } else {
                "Roll back and apply this plan".into()
            },
            danger: false,
        });
    }
    Ok(plan_response(&session, plan, format!("Roll back to {}", form.version)))
}

/// `POST .../history/rollback`: the API's rollback, on the current version the plan
/// was made against, pinned to the plan.
pub async fn rollback(
    State(ui): State<UiState>,
    session: Session,
    headers: HeaderMap,
    Path(cluster): Path<String>,
    Form(form): Form<Which>,
) -> Result<Response, Problem> {
    check_name("cluster", &cluster)?;
    let (Some(etag), Some(hash)) = (&form.etag, &form.plan_hash) else {
        return Err(Problem::bad_request("a rollback is applied from its plan preview only: preview it first"));
    };
    let call = ui
        .api
        .call(&session.caller, Method::POST, format!("/api/v1/clusters/{cluster}/rollback"))
        .json(&serde_json::json!({ "version_id": form.version }))
        .header("if-match", etag)
        .header("x-bosun-plan-hash", hash);
    accepted(&ui.api.send(call).await, is_htmx(&headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(can_deploy: bool) -> String {
        let v = |id: &str, latest| Version {
            version_id: id.into(),
            time: "2026-11-27T19:00:00Z".into(),
            author: Some("deployer-bot".into()),
            message: Some("bump".into()),
            is_latest: latest,
        };
        let rows = vec![Row { v: v("v2", true), when: None }, Row { v: v("v1", false), when: None }];
        Page { nav: Nav::default(), cluster: "demo".into(), rows, can_deploy }.render().unwrap()
    }

    #[test]
    fn a_viewer_may_diff_but_not_roll_back() {
        let viewer = page(false);
        assert!(viewer.contains("Diff with current") && viewer.contains("deployer-bot"), "{viewer}");
        assert!(!viewer.contains("Preview rollback") && !viewer.contains("hx-post"), "{viewer}");
        assert!(page(true).contains("Preview rollback"));
    }
}
