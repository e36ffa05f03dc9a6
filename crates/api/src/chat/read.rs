//! The commands that read: clusters, status, history, plan, and a service's tags. A
//! viewer may run them all. No environment value is ever shown: the plan text never
//! holds one, and status shows images and counts only.

use std::fmt::Write as _;

use bosun_aws::ecr::{ecr_repository, recent_tags};
use bosun_aws::live::live_services;
use bosun_chat::{Action, Button, ButtonStyle, Reply, Role};
use bosun_plan::{Policy, render_text};

use super::{Answer, Ctx, excerpt, failed, shown};
use crate::limits::PlanSlot;

/// The most a plan or a table shown in chat holds (Slack cuts a section at 3,000).
pub(super) const BODY_MAX: usize = 2_800;
/// Tags offered as buttons by `deploy CLUSTER SVC`.
const TAG_BUTTONS: usize = 10;

/// The clusters the user may see, each with its last job's outcome.
pub(super) async fn clusters(ctx: &Ctx<'_>) -> Answer {
    let all = ctx.state.store.list_clusters().await.map_err(|e| failed(e.into()))?;
    let visible: Vec<&String> = all.iter().filter(|c| ctx.role(c).is_some()).collect();
    if visible.is_empty() {
        return Ok(Reply::private("You have access to no cluster that exists."));
    }
    let statuses = futures::future::join_all(visible.iter().map(|c| ctx.state.store.get_status(c))).await.into_iter();
    let mut body = String::new();
    for (cluster, status) in visible.iter().zip(statuses) {
        let last = status.ok().flatten().and_then(|s| s.pointer("/last_job/status").cloned());
        let last = last.as_ref().and_then(|v| v.as_str()).unwrap_or("never reconciled");
        let _ = writeln!(body, "{cluster:<32} {last}");
    }
    Ok(Reply::private(format!("{} cluster(s):", visible.len())).with_body(excerpt(&body, BODY_MAX)))
}

/// The cluster's last job and drift, and each service's image and counts (desired and
/// live); or one service's.
pub(super) async fn status(ctx: &Ctx<'_>, cluster: &str, service: Option<&str>) -> Answer {
    ctx.require(cluster, Role::Viewer, "status")?;
    let (_, desired) = super::current(ctx, cluster).await?;
    if let Some(s) = service
        && !desired.services.contains_key(s)
    {
        return Err(no_service(cluster, s, desired.services.keys()));
    }
    let clients = ctx.state.cluster_clients(&desired).await.map_err(|e| failed(e.into()))?;
    let (status, live) = tokio::join!(ctx.state.store.get_status(cluster), live_services(&clients, cluster));
    let live = live.map_err(|e| failed(e.into()))?;
    let status = status.map_err(|e| failed(e.into()))?;
    let mut text = format!("*{}*", shown(cluster));
    if let Some(s) = &status {
        let job = s.get("last_job");
        let field = |k: &str| job.and_then(|j| j.get(k)).and_then(|v| v.as_str()).unwrap_or("-").to_owned();
        let _ = write!(text, ": last job {} ({}, {})", field("status"), field("reason"), field("finished_at"));
        if let Some(drift) = s.get("drift").filter(|d| !d.is_null()) {
            let action = drift.get("action").and_then(|v| v.as_str()).unwrap_or("detected");
            let _ = write!(text, "; drift {action}");
        }
    } else {
        text.push_str(": never reconciled");
    }
    let mut body = format!("{:<24} {:<40} {:>7} {:>7}  {}\n", "service", "image", "desired", "running", "rollout");
    for (name, svc) in desired.services.iter().filter(|(n, _)| service.is_none_or(|s| s == n.as_str())) {
        let l = live.get(name);
        let count = |v: Option<i32>| v.map_or("-".to_owned(), |n| n.to_string());
        let _ = writeln!(
            body,
            "{:<24} {:<40} {:>7} {:>7}  {}",
            name,
            l.and_then(|l| l.image.as_deref()).unwrap_or(&svc.task_definition.container.image),
            count(svc.desired_count),
            count(l.map(|l| l.running_count)),
            l.and_then(|l| l.rollout_state.as_deref()).unwrap_or("-"),
        );
    }
    Ok(Reply::private(text).with_body(excerpt(&body, BODY_MAX)))
}

/// The stackfile's last 10 versions.
pub(super) async fn history(ctx: &Ctx<'_>, cluster: &str) -> Answer {
    ctx.require(cluster, Role::Viewer, "history")?;
    let versions = ctx.state.store.history(cluster).await.map_err(|e| failed(e.into()))?;
    if versions.is_empty() {
        return Err(failed(crate::write::no_cluster(cluster)));
    }
    let mut body = String::new();
    for v in versions.iter().take(10) {
        let _ = writeln!(
            body,
            "{} {} {:<16} {}{}",
            v.time,
            v.version_id,
            v.author.as_deref().unwrap_or("-"),
            v.message.as_deref().unwrap_or(""),
            if v.is_latest { " (current)" } else { "" }
        );
    }
    let text =
        format!("Versions of *{}*, newest first (`rollback {} VERSION` restores one):", shown(cluster), shown(cluster));
    Ok(Reply::private(text).with_body(excerpt(&body, BODY_MAX)))
}

/// The current stackfile's plan against live AWS.
pub(super) async fn plan(ctx: &Ctx<'_>, cluster: &str) -> Answer {
    ctx.require(cluster, Role::Viewer, "plan")?;
    let _slot = PlanSlot::try_acquire(ctx.state, &format!("chat:{}", ctx.user)).map_err(failed)?;
    let (_, desired) = super::current(ctx, cluster).await?;
    let clients = ctx.state.cluster_clients(&desired).await.map_err(|e| failed(e.into()))?;
    let observed = bosun_aws::observe(&clients, &desired).await.map_err(|e| failed(e.into()))?;
    let plan = bosun_plan::plan(&desired, &observed, &Policy::from_desired(&desired));
    let text = format!("Plan of *{}*: {} (hash `{}`)", shown(cluster), plan.summary_line(), plan.short_hash());
    Ok(Reply::private(text).with_body(excerpt(&render_text(&plan), BODY_MAX)))
}

/// The service's newest tags in ECR, each a button that proposes deploying it.
pub(super) async fn tags(ctx: &Ctx<'_>, cluster: &str, service: &str) -> Answer {
    ctx.require(cluster, Role::Viewer, "listing tags")?;
    let (_, desired) = super::current(ctx, cluster).await?;
    let Some(svc) = desired.services.get(service) else {
        return Err(no_service(cluster, service, desired.services.keys()));
    };
    let image = &svc.task_definition.container.image;
    let Some(repo) = ecr_repository(image) else {
        return Err(Reply::private(format!(
            "The image of `{}` is not in ECR, so its tags cannot be listed; deploy with `deploy {} {}:TAG`.",
            shown(service),
            shown(cluster),
            shown(service)
        )));
    };
    let tags = recent_tags(&ctx.state.clients.ecr, &repo, TAG_BUTTONS).await.map_err(|e| failed(e.into()))?;
    if tags.is_empty() {
        return Ok(Reply::private(format!("ECR repository `{}` has no tagged image.", shown(&repo.name))));
    }
    let mut reply = Reply::private(format!(
        "The {} newest tags of `{}` (now `{}`): pick one to see its plan.",
        tags.len(),
        shown(service),
        shown(image)
    ));
    reply.buttons = tags
        .into_iter()
        .map(|t| Button {
            value: format!("deploy {cluster} {service}:{}", t.tag),
            label: t.tag,
            action: Action::Run,
            style: ButtonStyle::Default,
            confirm: None,
        })
        .collect();
    Ok(reply)
}

/// The refusal for a service the cluster does not have, naming those it has.
pub(super) fn no_service<'a>(cluster: &str, service: &str, known: impl Iterator<Item = &'a String>) -> Reply {
    let known: Vec<&str> = known.map(String::as_str).take(20).collect();
    Reply::private(format!(
        "Cluster `{}` has no service `{}`; it has: {}. Nothing was changed.",
        shown(cluster),
        shown(service),
        shown(&known.join(", "))
    ))
}
