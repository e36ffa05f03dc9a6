//! The cluster page: each service desired against live, and its actions (deploy a tag
//! from ECR, scale, remove), each previewed as a plan before a confirmation applies
//! exactly that plan.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use bosun_stackfile::document::{EditError, ServiceEdit, remove_service, set_service};
use http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;

use super::clusters::{Content, Service, Status, drift_state};
use crate::auth::Caller;
use crate::ui::client::{Api, Problem};
use crate::ui::view::{Line, When, lines, tag_of};
use crate::ui::{Nav, Session, UiState, check_name, go_to, is_htmx, render};

/// A plan, previewed, with the form that applies it.
pub struct PlanView {
    /// The plan's text, line by line.
    pub lines: Vec<Line>,
    /// Its hash, as the API gave it.
    pub hash: String,
    /// Whether it changes nothing.
    pub empty: bool,
    /// The confirmation; `None` when there is nothing to apply, or the caller may
    /// not apply it.
    pub confirm: Option<Confirm>,
}

/// The confirmation form of a plan.
pub struct Confirm {
    /// Where it posts.
    pub url: String,
    /// Its hidden fields: what to apply, the ETag it was planned on, the plan hash.
    pub fields: Vec<(&'static str, String)>,
    /// The button's text.
    pub label: String,
    /// Whether the change deletes something.
    pub danger: bool,
}

/// The plan fragment.
#[derive(Template)]
#[template(path = "plan.html")]
pub struct PlanFragment {
    /// The session's CSRF token, for the confirmation form.
    pub csrf: String,
    /// The plan.
    pub plan: PlanView,
    /// What the plan is of, for its heading.
    pub title: String,
}

/// The current stackfile as the caller may read it: text, ETag and version id.
pub struct Current {
    /// The YAML.
    pub text: String,
    /// What `If-Match` takes.
    pub etag: String,
    /// Its version id.
    pub version: String,
}

/// Read the current stackfile (or `version` of it) through the API.
pub async fn stackfile(api: &Api, caller: &Caller, cluster: &str, version: Option<&str>) -> Result<Current, Problem> {
    let uri = match version {
        Some(v) => format!("/api/v1/clusters/{cluster}/config?version={}", super::login::encode(v)),
        None => format!("/api/v1/clusters/{cluster}/config"),
    };
    let reply = api.send(api.call(caller, Method::GET, uri).header("accept", "application/yaml")).await;
    reply.ok()?;
    Ok(Current {
        text: reply.text(),
        etag: reply.header("etag").unwrap_or_default().to_owned(),
        version: reply.header("x-bosun-version").unwrap_or_default().to_owned(),
    })
}

/// Plan `candidate` against live AWS through the API. `prune`: services it deletes on
/// purpose.
pub async fn plan(
    api: &Api,
    caller: &Caller,
    cluster: &str,
    candidate: String,
    prune: &str,
) -> Result<PlanView, Problem> {
    let mut uri = format!("/api/v1/clusters/{cluster}/plan?format=text");
    if !prune.is_empty() {
        uri.push_str(&format!("&prune_services={prune}"));
    }
    let reply = api.send(api.call(caller, Method::POST, uri).yaml(candidate)).await;
    reply.ok()?;
    let text = reply.text();
    let hash = reply.header("x-bosun-plan-hash").unwrap_or_default().to_owned();
    let empty = reply.header("x-bosun-plan-empty") == Some("true");
    Ok(PlanView { lines: lines(&text), hash, empty, confirm: None })
}

/// A plan fragment, as a response.
pub fn plan_response(session: &Session, plan: PlanView, title: String) -> Response {
    render(&PlanFragment { csrf: session.csrf.clone(), plan, title })
}

/// A service row.
struct Row {
    s: Service,
    live_tag: String,
    converged: bool,
}

/// The page.
#[derive(Template)]
#[template(path = "cluster.html")]
struct Page {
    nav: Nav,
    cluster: String,
    rows: Vec<Row>,
    can_deploy: bool,
    drift: (&'static str, &'static str),
    status: Status,
    last_when: Option<When>,
    lock_until: Option<When>,
}

/// `GET /clusters/{cluster}`.
pub async fn page(
    State(ui): State<UiState>,
    session: Session,
    Path(cluster): Path<String>,
) -> Result<Response, Problem> {
    check_name("cluster", &cluster)?;
    let caller = &session.caller;
    let (services, status) = tokio::join!(
        ui.api.get::<Content<Service>>(caller, format!("/api/v1/clusters/{cluster}/services")),
        ui.api.get::<Status>(caller, format!("/api/v1/clusters/{cluster}/status")),
    );
    let (services, status) = (services?, status?);
    let now = std::time::SystemTime::now();
    let rows = services
        .content
        .into_iter()
        .map(|s| {
            let live_tag = s.live.as_ref().and_then(|l| l.image.as_deref()).and_then(tag_of).unwrap_or("").to_owned();
            Row { converged: s.converged(), live_tag, s }
        })
        .collect();
    let last_when = status.last_job.as_ref().and_then(|j| j.finished_at.as_deref()).and_then(|t| When::parse(t, now));
    let lock_until = status.lock.as_ref().and_then(|l| When::parse(&l.expires_at, now));
    Ok(render(&Page {
        nav: session.nav("clusters"),
        can_deploy: session.can_deploy(),
        drift: drift_state(&status),
        cluster,
        rows,
        status,
        last_when,
        lock_until,
    }))
}

/// A tag offered for a deploy.
#[derive(Debug, Deserialize)]
struct Tag {
    tag: String,
}

/// The actions fragment of one service.
#[derive(Template)]
#[template(path = "service_actions.html")]
struct Actions {
    cluster: String,
    service: String,
    tags: Vec<String>,
    current_tag: String,
    count: Option<i32>,
    tags_problem: Option<Problem>,
}

/// `GET /clusters/{cluster}/services/{service}/actions`: the forms that preview a
/// deploy (a tag from the service's ECR repository), a scale and a removal. Deployers
/// only: a viewer is told so.
pub async fn actions(
    State(ui): State<UiState>,
    session: Session,
    Path((cluster, service)): Path<(String, String)>,
) -> Result<Response, Problem> {
    check_name("cluster", &cluster)?;
    check_name("service", &service)?;
    if !session.can_deploy() {
        return Err(forbidden(&session));
    }
    let caller = &session.caller;
    let (services, tags) = tokio::join!(
        ui.api.get::<Content<Service>>(caller, format!("/api/v1/clusters/{cluster}/services")),
        ui.api.get::<Content<Tag>>(caller, format!("/api/v1/clusters/{cluster}/services/{service}/tags?limit=50")),
    );
    let svc = services?.content.into_iter().find(|s| s.name == service).ok_or_else(|| Problem {
        status: StatusCode::NOT_FOUND,
        ..Problem::bad_request(format!("cluster {cluster} has no service {service}"))
    })?;
    let (tags, tags_problem) = match tags {
        Ok(t) => (t.content.into_iter().map(|t| t.tag).collect(), None),
        Err(p) => (Vec::new(), Some(p)),
    };
    Ok(render(&Actions {
        current_tag: svc.tag.clone().unwrap_or_default(),
        count: svc.desired_count,
        cluster,
        service,
        tags,
        tags_problem,
    }))
}

fn forbidden(session: &Session) -> Problem {
    Problem {
        status: StatusCode::FORBIDDEN,
        code: "forbidden".into(),
        message: format!("this needs the deployer role; {} has {}", session.caller.name, session.caller.role),
        details: Vec::new(),
        request_id: None,
    }
}

/// A service action's form: what to preview or apply.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    /// `deploy`, `scale` or `remove`.
    action: String,
    /// The tag, for a deploy.
    #[serde(default)]
    tag: Option<String>,
    /// The count, for a scale.
    #[serde(default)]
    count: Option<String>,
    /// On a confirmation: the ETag the plan was made on.
    #[serde(default)]
    etag: Option<String>,
    /// On a confirmation: the plan's hash.
    #[serde(default)]
    plan_hash: Option<String>,
}

/// What an action does to the stackfile.
enum Action {
    Deploy(String),
    Scale(u32),
    Remove,
}

impl ActionForm {
    fn action(&self) -> Result<Action, Problem> {
        match self.action.as_str() {
            "deploy" => match self.tag.as_deref().map(str::trim) {
                Some(t) if !t.is_empty() => Ok(Action::Deploy(t.to_owned())),
                _ => Err(Problem::bad_request("pick a tag to deploy")),
            },
            "scale" => match self.count.as_deref().map(str::trim).map(str::parse::<u32>) {
                Some(Ok(n)) if n <= 10_000 => Ok(Action::Scale(n)),
                _ => Err(Problem::bad_request("the count must be a whole number from 0 to 10000")),
            },
            "remove" => Ok(Action::Remove),
            _ => Err(Problem::bad_request("the action must be deploy, scale or remove")),
        }
    }
}

fn edit_problem(e: EditError) -> Problem {
    Problem { status: StatusCode::UNPROCESSABLE_ENTITY, ..Problem::bad_request(e.to_string()) }
}

/// `POST .../services/{service}/plan`: the plan of an action, and the confirmation
/// that applies it (to deployers).
pub async fn preview(
    State(ui): State<UiState>,
    session: Session,
    Path((cluster, service)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, Problem> {
    check_name("cluster", &cluster)?;
    check_name("service", &service)?;
    let action = form.action()?;
    let caller = &session.caller;
    let current = stackfile(&ui.api, caller, &cluster, None).await?;
    let (candidate, prune, title, label) = match &action {
        Action::Deploy(tag) => {
            let edit = ServiceEdit { image_tag: Some(tag.clone()), desired_count: None };
            let text = set_service(&current.text, &service, &edit).map_err(edit_problem)?;
            (text, "", format!("Deploy {service}:{tag}"), format!("Deploy {tag} to {service}"))
        }
        Action::Scale(n) => {
            let edit = ServiceEdit { image_tag: None, desired_count: Some(*n) };
            let text = set_service(&current.text, &service, &edit).map_err(edit_problem)?;
            (text, "", format!("Scale {service} to {n}"), format!("Scale {service} to {n}"))
        }
        Action::Remove => {
            let text = remove_service(&current.text, &service).map_err(edit_problem)?;
            (
                text,
                service.as_str(),
                format!("Remove {service}"),
                format!("Remove {service} and delete what bosun owns for it"),
            )
        }
    };
    let mut plan = plan(&ui.api, caller, &cluster, candidate, prune).await?;
    if !plan.empty && session.can_deploy() {
        let mut fields =
            vec![("action", form.action.clone()), ("etag", current.etag), ("plan_hash", plan.hash.clone())];
        fields.extend(form.tag.clone().map(|t| ("tag", t)));
        fields.extend(form.count.clone().map(|c| ("count", c)));
        plan.confirm = Some(Confirm {
            url: format!("/clusters/{cluster}/services/{service}/apply"),
            fields,
            label,
            danger: matches!(action, Action::Remove),
        });
    }
    Ok(plan_response(&session, plan, title))
}

/// `POST .../services/{service}/apply`: apply the previewed plan: the API's service
/// update (or removal) on the ETag it was planned on, pinned to its hash. Then the job.
pub async fn apply(
    State(ui): State<UiState>,
    session: Session,
    headers: HeaderMap,
    Path((cluster, service)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, Problem> {
    check_name("cluster", &cluster)?;
    check_name("service", &service)?;
    let action = form.action()?;
    let (Some(etag), Some(hash)) = (form.etag.as_deref(), form.plan_hash.as_deref()) else {
        return Err(Problem::bad_request("a change is applied from its plan preview only: preview it first"));
    };
    let uri = format!("/api/v1/clusters/{cluster}/services/{service}");
    let call = match action {
        Action::Deploy(tag) => {
            ui.api.call(&session.caller, Method::PUT, uri).json(&serde_json::json!({ "image_tag": tag }))
        }
        Action::Scale(n) => {
            ui.api.call(&session.caller, Method::PUT, uri).json(&serde_json::json!({ "desired_count": n }))
        }
        Action::Remove => ui.api.call(&session.caller, Method::DELETE, uri),
    };
    let reply = ui.api.send(call.header("if-match", etag).header("x-bosun-plan-hash", hash)).await;
    accepted(&reply, is_htmx(&headers))
}

/// Where a write's answer sends the browser: its job's page; or the API's error, with
/// what to do about a stale plan.
pub fn accepted(reply: &crate::ui::client::Reply, htmx: bool) -> Result<Response, Problem> {
    #[derive(Deserialize)]
    struct Accepted {
        job_id: String,
    }
    match reply.json::<Accepted>() {
        Ok(a) => Ok(go_to(&format!("/jobs/{}", a.job_id), htmx)),
        Err(mut p) if p.status == StatusCode::PRECONDITION_FAILED => {
            p.message = format!(
                "{} The stackfile changed after this plan was made; nothing was applied. Preview again.",
                p.message
            );
            Err(p)
        }
        Err(p) => Err(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::pages::clusters::Live;

    fn page(can_deploy: bool) -> String {
        let s = Service {
            name: "web".into(),
            kind: "service".into(),
            image: "nginx:1.27".into(),
            tag: Some("1.27".into()),
            desired_count: Some(2),
            live: Some(Live {
                image: Some("nginx:1.27".into()),
                desired_count: 2,
                running_count: 2,
                rollout_state: Some("COMPLETED".into()),
                ..Live::default()
            }),
        };
        let page = Page {
            nav: Nav { user: Some(("dash".into(), "viewer".into())), csrf: "c".into(), active: "clusters" },
            cluster: "demo".into(),
            rows: vec![Row { converged: s.converged(), live_tag: "1.27".into(), s }],
            can_deploy,
            drift: ("in sync", "in_sync"),
            status: Status::default(),
            last_when: None,
            lock_until: None,
        };
        page.render().unwrap()
    }

    #[test]
    fn a_viewer_sees_the_services_and_no_action() {
        let viewer = page(false);
        assert!(viewer.contains("<th scope=\"row\">web") && viewer.contains("2/2"), "{viewer}");
        for write in ["Change web", "/actions", "hx-post", "Actions</th>"] {
            assert!(!viewer.contains(write), "a viewer's page has {write}");
        }
        // The same page for a deployer has them, so the check above can fail.
        let deployer = page(true);
        assert!(deployer.contains("Change web") && deployer.contains("/clusters/demo/services/web/actions"));
    }
}
