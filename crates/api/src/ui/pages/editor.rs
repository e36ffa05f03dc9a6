//! The stackfile editor: validation on the server as the user types, a plan preview
//! before saving, and a save on the ETag the edit started from. When someone else
//! saved meanwhile (412), the page shows what they changed and merges the user's edit
//! onto their version (three-way, with conflict markers where both changed a line).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse as _, Response};
use http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::cluster::{Confirm, accepted, plan, plan_response, stackfile};
use crate::ui::client::Problem;
use crate::ui::view::{Line, diff_lines, unified};
use crate::ui::{Nav, Session, UiState, check_name, is_htmx, render};

/// The editor's state: what is in the text area and what it was based on.
struct Editor {
    cluster: String,
    text: String,
    etag: String,
    base: String,
    can_save: bool,
    csrf: String,
    /// Why the editor was reloaded (a merge).
    notice: Option<String>,
    /// What changed meanwhile, on a conflict.
    changed: Vec<Line>,
}

/// The page.
#[derive(Template)]
#[template(path = "editor.html")]
struct Page {
    nav: Nav,
    e: Editor,
}

/// The editor alone (after a conflict).
#[derive(Template)]
#[template(path = "editor_form.html")]
struct EditorFragment {
    e: Editor,
}

/// The validation result.
#[derive(Template)]
#[template(path = "diagnostics.html")]
struct Diagnostics {
    valid: Option<usize>,
    problem: Option<Problem>,
}

/// `GET /clusters/{cluster}/edit`.
pub async fn page(
    State(ui): State<UiState>,
    session: Session,
    Path(cluster): Path<String>,
) -> Result<Response, Problem> {
    check_name("cluster", &cluster)?;
    let current = stackfile(&ui.api, &session.caller, &cluster, None).await?;
    let e = Editor {
        // A text with redacted values cannot be saved back (the API refuses it).
        can_save: session.can_deploy() && !crate::redact::hides_env(&ui.app, &session.caller),
        csrf: session.csrf.clone(),
        cluster,
        text: current.text,
        etag: current.etag,
        base: current.version,
        notice: None,
        changed: Vec::new(),
    };
    Ok(render(&Page { nav: session.nav("clusters"), e }))
}

/// What the editor posts.
#[derive(Debug, Deserialize)]
pub struct EditForm {
    text: String,
    #[serde(default)]
    etag: String,
    #[serde(default)]
    base: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    plan_hash: Option<String>,
    /// The SHA-256 of the text that was previewed: the save refuses another text.
    #[serde(default)]
    previewed: Option<String>,
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// `POST .../edit/validate`: every error with its line and column, or how many
/// services the text describes. It also clears a plan preview of an older text.
pub async fn validate(
    State(ui): State<UiState>,
    session: Session,
    Path(cluster): Path<String>,
    Form(form): Form<EditForm>,
) -> Result<Response, Problem> {
    check_name("cluster", &cluster)?;
    #[derive(Deserialize)]
    struct Valid {
        services: usize,
    }
    let reply = ui
        .api
        .send(
            ui.api.call(&session.caller, Method::POST, format!("/api/v1/clusters/{cluster}/validate")).yaml(form.text),
        )
        .await;
    let d = match reply.json::<Valid>() {
        Ok(v) => Diagnostics { valid: Some(v.services), problem: None },
        Err(p) => Diagnostics { valid: None, problem: Some(p) },
    };
    Ok(render(&d))
}

/// `POST .../edit/plan`: the plan of the text, and (to deployers) the save that
/// applies it.
pub async fn preview(
    State(ui): State<UiState>,
    session: Session,
    Path(cluster): Path<String>,
    Form(form): Form<EditForm>,
) -> Result<Response, Problem> {
    check_name("cluster", &cluster)?;
    let previewed = digest(&form.text);
    let mut plan = plan(&ui.api, &session.caller, &cluster, form.text.clone(), "").await?;
    if session.can_deploy() {
        let mut fields = vec![
            ("text", form.text),
            ("etag", form.etag),
            ("base", form.base),
            ("plan_hash", plan.hash.clone()),
            ("previewed", previewed),
        ];
        fields.extend(form.message.map(|m| ("message", m)));
        plan.confirm = Some(Confirm {
            url: format!("/clusters/{cluster}/edit/save"),
            fields,
            label: if plan.empty { "Save (nothing to apply)".into() } else { "Save and apply this plan".into() },
            danger: false,
        });
    }
    Ok(plan_response(&session, plan, "Stackfile".into()))
}

/// `POST .../edit/save`: the API's conditional write of the previewed text, pinned to
/// its plan. On 412, the editor comes back with the other version and the user's edit
/// merged onto it.
pub async fn save(
    State(ui): State<UiState>,
    session: Session,
    headers: HeaderMap,
    Path(cluster): Path<String>,
    Form(form): Form<EditForm>,
) -> Result<Response, Problem> {
    check_name("cluster", &cluster)?;
    let (Some(hash), Some(previewed)) = (&form.plan_hash, &form.previewed) else {
        return Err(Problem::bad_request("a stackfile is saved from its plan preview only: preview it first"));
    };
    if *previewed != digest(&form.text) {
        return Err(Problem::bad_request("the text changed after its plan was previewed: preview it again"));
    }
    let mut call = ui
        .api
        .call(&session.caller, Method::PUT, format!("/api/v1/clusters/{cluster}/config"))
        .yaml(form.text.clone())
        .header("if-match", &form.etag)
        .header("x-bosun-plan-hash", hash);
    if let Some(m) = form.message.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        call = call.header("x-bosun-message", m);
    }
    let reply = ui.api.send(call).await;
    if reply.status == StatusCode::PRECONDITION_FAILED {
        return conflict(&ui, &session, cluster, form).await;
    }
    accepted(&reply, is_htmx(&headers))
}

/// The editor after a lost race: the version saved meanwhile, what it changed since the
/// user's base, and the user's edit merged onto it.
async fn conflict(ui: &UiState, session: &Session, cluster: String, form: EditForm) -> Result<Response, Problem> {
    let caller = &session.caller;
    let theirs = stackfile(&ui.api, caller, &cluster, None).await?;
    let base = stackfile(&ui.api, caller, &cluster, Some(&form.base)).await?;
    let changed = diff_lines(&unified(&base.text, &theirs.text, "your starting version", "saved meanwhile"));
    let (text, notice) = match diffy::merge(&base.text, &form.text, &theirs.text) {
        Ok(merged) => (
            merged,
            "Someone saved the stackfile while you edited it. Your edit is merged onto their version below: check it, \
             preview the plan and save again."
                .to_owned(),
        ),
        Err(with_markers) => (
            with_markers,
            "Someone saved the stackfile while you edited it, and both of you changed the same lines. Your edit is \
             merged onto their version with conflict markers (<<<<<<< ours, >>>>>>> theirs): resolve them, preview \
             the plan and save again."
                .to_owned(),
        ),
    };
    let e = Editor {
        can_save: true,
        csrf: session.csrf.clone(),
        cluster,
        text,
        etag: theirs.etag,
        base: theirs.version,
        notice: Some(notice),
        changed,
    };
    let mut resp = render(&EditorFragment { e });
    // The save button sits in the plan preview; the whole editor is what changes.
    resp.headers_mut().insert("hx-retarget", http::HeaderValue::from_static("#editor"));
    resp.headers_mut().insert("hx-reswap", http::HeaderValue::from_static("outerHTML"));
    *resp.status_mut() = StatusCode::OK;
    Ok(resp.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(can_save: bool) -> String {
        let e = Editor {
            cluster: "demo".into(),
            text: "services:\n  web:\n    image: nginx:1.27\n".into(),
            etag: "\"e1\"".into(),
            base: "v1".into(),
            can_save,
            csrf: "c".into(),
            notice: None,
            changed: Vec::new(),
        };
        Page { nav: Nav::default(), e }.render().unwrap()
    }

    #[test]
    fn a_viewer_reads_the_stackfile_and_cannot_save_it() {
        let viewer = page(false);
        assert!(viewer.contains("readonly") && viewer.contains("image: nginx:1.27"), "{viewer}");
        for write in ["Preview plan", "/edit/validate", "/edit/save"] {
            assert!(!viewer.contains(write), "a viewer's editor has {write}");
        }
        let deployer = page(true);
        assert!(deployer.contains("Preview plan") && !deployer.contains("readonly"));
    }
}
