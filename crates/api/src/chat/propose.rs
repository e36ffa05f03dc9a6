//! Changes asked for in chat (deploy, scale, rollback) become proposals: the candidate
//! stackfile is made from the current one (keeping its comments and layout), validated,
//! and planned against live AWS; the proposal stores it with the plan's hash and the
//! version it was made from, and its card shows what changes. Nothing is written to
//! the stackfile until someone approves ([`super::decide`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use bosun_aws::ecr::{ecr_repository, recent_tags};
use bosun_aws::jobs::now_rfc3339;
use bosun_aws::store::{Condition, Stackfile};
use bosun_chat::grammar::{Command, DeployTarget};
use bosun_chat::proposal::{MAX_TTL_SECS, Proposal};
use bosun_chat::{CardState, Reply, Role};
use bosun_plan::{Policy, render_text};
use bosun_stackfile::Desired;
use bosun_stackfile::document::{EditError, ServiceEdit, set_service};

use super::read::no_service;
use super::{Answer, Ctx, excerpt, failed, shown};
use crate::limits::PlanSlot;

/// How long a proposal waits for approval.
const TTL: Duration = Duration::from_secs(MAX_TTL_SECS);
/// The plan excerpt a card shows.
const EXCERPT_MAX: usize = 2_000;

/// Propose `command`, a deploy, scale or rollback.
pub(super) async fn propose(ctx: &Ctx<'_>, command: &Command) -> Answer {
    let (cluster, reason) = match command {
        Command::Deploy { cluster, .. } => (cluster, "chat_deploy"),
        Command::Scale { cluster, .. } => (cluster, "chat_scale"),
        Command::Rollback { cluster, .. } => (cluster, "chat_rollback"),
        _ => unreachable!("only changes are proposed"),
    };
    ctx.require(cluster, Role::Deployer, "changing a cluster")?;
    super::ensure_unlocked(ctx, cluster).await?;
    let _slot = PlanSlot::try_acquire(ctx.state, &format!("chat:{}", ctx.user)).map_err(failed)?;
    let (base, base_desired) = super::current(ctx, cluster).await?;
    let candidate = candidate(ctx, command, &base, &base_desired).await?;
    let desired = bosun_stackfile::load(&candidate, cluster).map_err(|d| invalid(&d))?;
    let clients = ctx.state.cluster_clients(&desired).await.map_err(|e| failed(e.into()))?;
    let observed = bosun_aws::observe(&clients, &desired).await.map_err(|e| failed(e.into()))?;
    let plan = bosun_plan::plan(&desired, &observed, &Policy::from_desired(&desired));
    if let Some(conflict) = plan.conflicts.first() {
        return Err(Reply::private(format!(
            "This change conflicts with a resource bosun does not own ({}: {}); nothing was proposed.",
            shown(&conflict.resource.to_string()),
            shown(&conflict.reason)
        )));
    }
    if plan.is_empty() {
        return Ok(Reply::private(format!(
            "Nothing to change: cluster `{}` already runs what `{}` asks for.",
            shown(cluster),
            shown(&command.to_string())
        )));
    }
    let created = SystemTime::now();
    let proposal = Proposal {
        id: uuid::Uuid::now_v7().to_string(),
        cluster: cluster.clone(),
        command: command.to_string(),
        reason: reason.to_owned(),
        base_version: base.version_id,
        base_etag: base.etag,
        candidate,
        plan_hash: plan.hash.clone(),
        summary: plan.summary_line(),
        plan_excerpt: excerpt(&render_text(&plan), EXCERPT_MAX),
        changes: change_lines(&base_desired, &desired),
        requester: ctx.user.to_owned(),
        channel: ctx.channel.to_owned(),
        created_at: now_rfc3339(),
        expires_at: humantime::format_rfc3339_millis(created + TTL).to_string(),
        state: CardState::Proposed,
        decided_by: None,
        job_id: None,
        detail: None,
    };
    ctx.state.store.put_proposal(&proposal, &Condition::Absent).await.map_err(|e| failed(e.into()))?;
    tracing::info!(proposal = %proposal.id, cluster = %cluster, requester = %ctx.user, hash = &proposal.plan_hash[..16], "proposed");
    Ok(super::decide::card_reply(&proposal))
}

/// The stackfile `command` asks for, made from `base`.
async fn candidate(ctx: &Ctx<'_>, command: &Command, base: &Stackfile, desired: &Desired) -> Result<String, Reply> {
    let cluster = &desired.cluster;
    let edit = |text: &str, service: &str, edit: ServiceEdit| {
        set_service(text, service, &edit).map_err(|e| edit_refusal(cluster, service, e, desired))
    };
    match command {
        Command::Deploy { target, .. } => {
            let pairs: Vec<(String, String)> = match target {
                DeployTarget::All { tag } => desired.services.keys().map(|s| (s.clone(), tag.clone())).collect(),
                DeployTarget::Services(pairs) => pairs.clone(),
            };
            for (service, _) in &pairs {
                if !desired.services.contains_key(service) {
                    return Err(no_service(cluster, service, desired.services.keys()));
                }
            }
            check_tags(ctx, desired, &pairs).await?;
            let mut text = base.text.clone();
            for (service, tag) in &pairs {
                text = edit(&text, service, ServiceEdit { image_tag: Some(tag.clone()), desired_count: None })?;
            }
            Ok(text)
        }
        Command::Scale { service, count, .. } => {
            if !desired.services.contains_key(service) {
                return Err(no_service(cluster, service, desired.services.keys()));
            }
            edit(&base.text, service, ServiceEdit { image_tag: None, desired_count: Some(*count) })
        }
        Command::Rollback { version, .. } => {
            let old = ctx.state.store.get_stackfile(cluster, Some(version)).await.map_err(|e| failed(e.into()))?;
            old.map(|old| old.text).ok_or_else(|| {
                Reply::private(format!(
                    "Cluster `{}` has no version `{}`; `history {}` lists them.",
                    shown(cluster),
                    shown(version),
                    shown(cluster)
                ))
            })
        }
        _ => unreachable!("only changes are proposed"),
    }
}

/// Refuse a deploy of a tag that is not in the service's ECR repository. Images
/// outside ECR cannot be checked and pass.
async fn check_tags(ctx: &Ctx<'_>, desired: &Desired, pairs: &[(String, String)]) -> Result<(), Reply> {
    // Per repository: the services (and tags) that deploy from it.
    type Wanted<'a> = (bosun_aws::ecr::EcrRepository, Vec<(&'a str, &'a str)>);
    let mut by_repo: BTreeMap<String, Wanted<'_>> = BTreeMap::new();
    for (service, tag) in pairs {
        let image = &desired.services[service].task_definition.container.image;
        if let Some(repo) = ecr_repository(image) {
            let key = format!("{}/{}", repo.registry_id, repo.name);
            by_repo.entry(key).or_insert_with(|| (repo, Vec::new())).1.push((service, tag));
        }
    }
    let lookups = by_repo.values().map(|(repo, _)| recent_tags(&ctx.state.clients.ecr, repo, usize::MAX));
    let found = futures::future::join_all(lookups).await;
    let mut missing = Vec::new();
    for ((repo, wanted), tags) in by_repo.values().zip(found) {
        let tags: BTreeSet<String> = match tags {
            Ok(tags) => tags.into_iter().map(|t| t.tag).collect(),
            Err(e) if e.is_not_found() => BTreeSet::new(),
            Err(e) => return Err(failed(e.into())),
        };
        for (service, tag) in wanted {
            if !tags.contains(*tag) {
                missing.push(format!("`{}:{}` (ECR repository `{}`)", shown(service), shown(tag), shown(&repo.name)));
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Reply::private(format!("No such tag: {}. Nothing was changed.", missing.join(", "))))
    }
}

fn edit_refusal(cluster: &str, service: &str, e: EditError, desired: &Desired) -> Reply {
    match e {
        EditError::NoSuchService(_) => no_service(cluster, service, desired.services.keys()),
        EditError::Invalid(m) => Reply::private(format!("{}. Nothing was changed.", shown(&m))),
        EditError::Layout(_) => Reply::private(format!(
            "The stackfile of `{}` is laid out in a way bosun cannot edit for `{}` ({e}); change it through the API.",
            shown(cluster),
            shown(service)
        )),
        EditError::Parse(d) => failed(crate::ApiError::corrupt(format_args!(
            "the stored stackfile of cluster {cluster} does not parse: {d}"
        ))),
    }
}

fn invalid(d: &bosun_stackfile::Diagnostics) -> Reply {
    let mut text =
        format!("The change would make the stackfile invalid ({} error(s)); nothing was proposed.", d.0.len());
    for diag in d.0.iter().take(5) {
        text.push_str(&format!("\n{}:{}: {}: {}", diag.line, diag.column, shown(&diag.path), shown(&diag.message)));
    }
    Reply::private(text)
}

/// One line per service the change touches: added, removed, image, count, or other
/// settings (a rollback can change anything).
pub(super) fn change_lines(before: &Desired, after: &Desired) -> Vec<String> {
    let names: BTreeSet<&String> = before.services.keys().chain(after.services.keys()).collect();
    let mut lines = Vec::new();
    for name in names {
        match (before.services.get(name), after.services.get(name)) {
            (None, Some(_)) => lines.push(format!("+ {name}: added")),
            (Some(_), None) => lines.push(format!("- {name}: removed")),
            (Some(b), Some(a)) if b != a => {
                let (bi, ai) = (&b.task_definition.container.image, &a.task_definition.container.image);
                let mut parts = Vec::new();
                if bi != ai {
                    parts.push(format!("{bi} -> {ai}"));
                }
                if b.desired_count != a.desired_count {
                    let count = |c: Option<i32>| c.map_or("unmanaged".to_owned(), |n| n.to_string());
                    parts.push(format!("{} -> {} tasks", count(b.desired_count), count(a.desired_count)));
                }
                if parts.is_empty() {
                    parts.push("other settings change".to_owned());
                }
                lines.push(format!("~ {name}: {}", parts.join(", ")));
            }
            _ => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Desired {
        bosun_stackfile::load(yaml, "demo").unwrap()
    }

    #[test]
    fn change_lines_name_images_counts_and_services_added_or_removed() {
        let before = load(
            "services:\n- web: {image: 'nginx:1.27', desired_count: 2, memory: 128}\n- api: {image: 'api:1', memory: 128}\n",
        );
        let after = load(
            "services:\n- web: {image: 'nginx:1.28', desired_count: 4, memory: 128}\n- jobs: {image: 'jobs:1', memory: 128}\n",
        );
        assert_eq!(
            change_lines(&before, &after),
            ["- api: removed", "+ jobs: added", "~ web: nginx:1.27 -> nginx:1.28, 2 -> 4 tasks"]
        );
        assert!(change_lines(&before, &before).is_empty());
    }
}
