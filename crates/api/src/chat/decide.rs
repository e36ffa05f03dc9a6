//! Deciding a proposal: approve or cancel, and the card's updates while its job runs;
//! and locking a cluster from chat.
//!
//! An approval is checked in this order, and anything that fails writes nothing:
//! 1. the proposal is still waiting and has not expired;
//! 2. the approver has the deployer role on the cluster, and is not the requester when
//!    the stackfile sets `chat: {require_second_approver: true}`;
//! 3. the cluster is not locked;
//! 4. the proposal is marked approved by a write conditional on the ETag that was
//!    read: of two clicks, exactly one gets past here;
//! 5. the stackfile is still the version the proposal was made from, and planning the
//!    candidate again gives the same hash (else the proposal is *stale*);
//! 6. the candidate is written with `If-Match` on that version's ETag, and the job is
//!    queued with the plan hash, which the scheduler checks again before applying.

use std::sync::Arc;
use std::time::Duration;

use bosun_aws::jobs::{JobMessage, JobStatus, now_rfc3339};
use bosun_aws::store::{Condition, StoreError, WriteMeta};
use bosun_chat::proposal::Proposal;
use bosun_chat::{Action, Button, ButtonStyle, CardState, Reply, Role};
use bosun_plan::Policy;
use tokio::time::Instant;

use super::{Answer, Ctx, Followup, failed, shown};
use crate::limits::PlanSlot;

/// How long a card follows its job: longer than any rollout bosun waits for.
const FOLLOW_FOR: Duration = Duration::from_secs(3 * 3600);
/// How often the job record is read while following it.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// The reply that shows a proposal's card, public: the channel sees the proposal and
/// its decision. A stale proposal offers to plan the change again.
pub(crate) fn card_reply(p: &Proposal) -> Reply {
    let text = match p.state {
        CardState::Proposed => format!("Proposal: `{}` on *{}*", shown(&p.command), shown(&p.cluster)),
        state => format!(
            "Proposal `{}` on *{}*: {}",
            shown(&p.command),
            shown(&p.cluster),
            format!("{state:?}").to_lowercase()
        ),
    };
    let mut reply = Reply::public(text);
    reply.card = Some(p.card(None));
    if p.state == CardState::Stale {
        reply.buttons.push(Button {
            label: "Plan again".to_owned(),
            action: Action::Run,
            value: p.command.clone(),
            style: ButtonStyle::Default,
            confirm: None,
        });
    }
    reply
}

/// Load a proposal and its ETag; a private refusal when the id is not one.
async fn load(ctx: &Ctx<'_>, id: &str) -> Result<(Proposal, String), Reply> {
    if crate::names::check_job_id(id).is_err() {
        return Err(Reply::private("That is not a proposal id."));
    }
    match ctx.state.store.get_proposal(id).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(Reply::private(format!("There is no proposal `{}`.", shown(id)))),
        Err(e) => Err(failed(e.into())),
    }
}

/// Mark an expired proposal so, or refuse a decided one. `Ok(None)`: it waits.
async fn still_waiting(ctx: &Ctx<'_>, p: &mut Proposal, etag: &str) -> Result<Option<Reply>, Reply> {
    if p.is_expired(&now_rfc3339()) {
        p.state = CardState::Expired;
        p.detail = Some("nobody approved it within 30 minutes; nothing was changed".to_owned());
        // Whoever writes this first, the result is the same.
        let _ = ctx.state.store.put_proposal(p, &Condition::Matches(etag.to_owned())).await;
        return Ok(Some(card_reply(p)));
    }
    if p.state != CardState::Proposed {
        let by = p.decided_by.as_deref().map(|u| format!(" by {}", shown(u))).unwrap_or_default();
        return Err(Reply::private(format!(
            "This proposal was already decided: it is {}{by}.",
            format!("{:?}", p.state).to_lowercase()
        )));
    }
    Ok(None)
}

/// Approve the proposal `id` (see the module docs for the checks).
pub(super) async fn approve(ctx: &Ctx<'_>, id: &str, followup: Option<Arc<dyn Followup>>) -> Answer {
    let (mut p, etag) = load(ctx, id).await?;
    if let Some(expired) = still_waiting(ctx, &mut p, &etag).await? {
        return Ok(expired);
    }
    let cluster = p.cluster.clone();
    ctx.require(&cluster, Role::Deployer, "approving a change")?;
    let current = crate::write::current(ctx.state, &cluster).await.map_err(failed)?;
    let second_approver = match ctx.state.derived.desired(&cluster, &current.text) {
        Ok(desired) => desired.chat.require_second_approver,
        // A stored stackfile that no longer validates: the stale check below says so.
        Err(_) => true,
    };
    if second_approver && ctx.user == p.requester {
        return Err(Reply::private(format!(
            "Cluster `{}` requires a second approver: someone other than you must approve your proposal.",
            shown(&cluster)
        )));
    }
    super::ensure_unlocked(ctx, &cluster).await?;

    p.state = CardState::Approved;
    p.decided_by = Some(ctx.user.to_owned());
    let etag = match ctx.state.store.put_proposal(&p, &Condition::Matches(etag)).await {
        Ok(etag) => etag,
        Err(StoreError::PreconditionFailed) => {
            let (mut now, etag) = load(ctx, id).await?;
            still_waiting(ctx, &mut now, &etag).await?;
            return Err(Reply::private("Someone decided this proposal at the same moment; try again."));
        }
        Err(e) => return Err(failed(e.into())),
    };
    tracing::info!(proposal = %p.id, cluster = %cluster, approver = %ctx.user, "approved");
    if let Some(stale) = stale_reason(ctx, &p, &current.version_id).await? {
        return Ok(mark_stale(ctx, p, &etag, stale).await);
    }
    let meta = WriteMeta {
        author: p.requester.clone(),
        message: Some(format!("{} (chat, approved by {})", p.command, ctx.user)),
    };
    let written = match ctx
        .state
        .store
        .put_stackfile(&cluster, &p.candidate, Some(&Condition::Matches(p.base_etag.clone())), &meta)
        .await
    {
        Ok(written) => written,
        Err(StoreError::PreconditionFailed) => {
            let why = "the stackfile changed while it was being approved".to_owned();
            return Ok(mark_stale(ctx, p, &etag, why).await);
        }
        Err(e) => return Err(failed(e.into())),
    };
    let mut job = JobMessage::new(&cluster, &p.reason, &p.requester, &written.version_id);
    job.plan_hash = Some(p.plan_hash.clone());
    job.approved_by = Some(ctx.user.to_owned());
    job.proposal_id = Some(p.id.clone());
    let message = format!("proposal {} approved; reconcile queued", p.id);
    let accepted = crate::write::enqueue_job(ctx.state, job, message).await.map_err(failed)?;
    p.job_id = Some(accepted.job_id);
    let etag = match ctx.state.store.put_proposal(&p, &Condition::Matches(etag)).await {
        Ok(etag) => etag,
        Err(e) => {
            tracing::warn!(proposal = %p.id, error = %e, "could not record the job on the proposal");
            String::new()
        }
    };
    let reply = card_reply(&p);
    follow(ctx.state.clone(), p, etag, followup);
    Ok(reply)
}

/// Why the proposal no longer applies, if it does not: the stackfile moved on, or the
/// candidate's plan against live AWS changed.
async fn stale_reason(ctx: &Ctx<'_>, p: &Proposal, current_version: &str) -> Result<Option<String>, Reply> {
    if current_version != p.base_version {
        return Ok(Some(format!(
            "the stackfile of {} changed since the proposal (it is now version {current_version})",
            p.cluster
        )));
    }
    let _slot = PlanSlot::try_acquire(ctx.state, &format!("chat:{}", ctx.user)).map_err(failed)?;
    let desired = match bosun_stackfile::load(&p.candidate, &p.cluster) {
        Ok(desired) => desired,
        Err(d) => return Ok(Some(format!("the candidate no longer validates: {d}"))),
    };
    let clients = ctx.state.cluster_clients(&desired).await.map_err(|e| failed(e.into()))?;
    let observed = bosun_aws::observe(&clients, &desired).await.map_err(|e| failed(e.into()))?;
    let plan = bosun_plan::plan(&desired, &observed, &Policy::from_desired(&desired));
    if plan.matches_hash(&p.plan_hash) {
        Ok(None)
    } else {
        Ok(Some(format!(
            "the plan changed since the proposal: live AWS moved on (the plan's hash is now {})",
            plan.short_hash()
        )))
    }
}

async fn mark_stale(ctx: &Ctx<'_>, mut p: Proposal, etag: &str, why: String) -> Reply {
    tracing::info!(proposal = %p.id, why = %why, "stale; nothing written");
    p.state = CardState::Stale;
    p.detail = Some(format!("{why}; nothing was written"));
    if let Err(e) = ctx.state.store.put_proposal(&p, &Condition::Matches(etag.to_owned())).await {
        tracing::warn!(proposal = %p.id, error = %e, "could not record the proposal as stale");
    }
    card_reply(&p)
}

/// Cancel the proposal `id`: its requester, or a deployer of the cluster, may.
pub(super) async fn cancel(ctx: &Ctx<'_>, id: &str) -> Answer {
    let (mut p, etag) = load(ctx, id).await?;
    if let Some(expired) = still_waiting(ctx, &mut p, &etag).await? {
        return Ok(expired);
    }
    if ctx.user != p.requester {
        ctx.require(&p.cluster, Role::Deployer, "cancelling someone else's proposal")?;
    }
    p.state = CardState::Cancelled;
    p.decided_by = Some(ctx.user.to_owned());
    match ctx.state.store.put_proposal(&p, &Condition::Matches(etag)).await {
        Ok(_) => Ok(card_reply(&p)),
        Err(StoreError::PreconditionFailed) => {
            let (mut now, etag) = load(ctx, id).await?;
            still_waiting(ctx, &mut now, &etag).await?;
            Err(Reply::private("Someone decided this proposal at the same moment; try again."))
        }
        Err(e) => Err(failed(e.into())),
    }
}

/// Follow the approved proposal's job, in the background: each change of its status
/// goes into the proposal and, updated in place, to the card. Bounded by [`FOLLOW_FOR`].
fn follow(state: crate::State, mut p: Proposal, mut etag: String, followup: Option<Arc<dyn Followup>>) {
    let Some(job_id) = p.job_id.clone() else { return };
    tokio::spawn(async move {
        let until = Instant::now() + FOLLOW_FOR;
        while Instant::now() < until {
            tokio::time::sleep(FOLLOW_EVERY).await;
            let record = match state.store.get_job(&job_id).await {
                Ok(Some(record)) => record,
                Ok(None) => continue,
                Err(e) => {
                    tracing::debug!(job = %job_id, error = %e, "could not read the job record; trying again");
                    continue;
                }
            };
            let (now, detail) = match record.status {
                JobStatus::Queued => (CardState::Approved, None),
                JobStatus::Running => (CardState::Running, None),
                JobStatus::Succeeded => (CardState::Succeeded, None),
                JobStatus::RolledBack => (CardState::RolledBack, record.error.clone()),
                JobStatus::Failed => (CardState::Failed, record.error.clone()),
                JobStatus::Superseded => {
                    (CardState::Failed, Some("a newer change was applied first; this one was skipped".to_owned()))
                }
            };
            if now == p.state {
                continue;
            }
            p.state = now;
            p.detail = detail;
            match state.store.put_proposal(&p, &Condition::Matches(etag.clone())).await {
                Ok(new) => etag = new,
                Err(e) => tracing::warn!(proposal = %p.id, error = %e, "could not record the proposal's state"),
            }
            if let Some(f) = &followup {
                f.update(card_reply(&p)).await;
            }
            if now.is_final() {
                return;
            }
        }
        tracing::warn!(proposal = %p.id, job = %job_id, "stopped following the job: it ran longer than the card follows");
    });
}

/// `lock CLUSTER [for DURATION] [REASON]`: admins only.
pub(super) async fn lock(ctx: &Ctx<'_>, cluster: &str, ttl: Option<Duration>, reason: Option<String>) -> Answer {
    ctx.require(cluster, Role::Admin, "locking")?;
    let reason = reason.unwrap_or_default();
    let lock = crate::locks::set_lock(ctx.state, cluster, ctx.user, &reason, ttl).await.map_err(failed)?;
    Ok(Reply::public(format!(
        ":lock: Cluster `{}` is {}. Changes from chat and the API are refused until then.",
        shown(cluster),
        shown(&lock.describe())
    )))
}

/// `unlock CLUSTER`: admins only.
pub(super) async fn unlock(ctx: &Ctx<'_>, cluster: &str) -> Answer {
    ctx.require(cluster, Role::Admin, "unlocking")?;
    if crate::locks::clear_lock(ctx.state, cluster).await.map_err(failed)? {
        Ok(Reply::public(format!(":unlock: Cluster `{}` is unlocked.", shown(cluster))))
    } else {
        Ok(Reply::private(format!("Cluster `{}` was not locked.", shown(cluster))))
    }
}
