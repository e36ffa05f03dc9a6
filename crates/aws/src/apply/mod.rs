//! Execute a plan: its stages one after another, the chains of a stage concurrently
//! ([`Plan::stages`]), then wait for the rollouts.
//!
//! Every create looks its resource up first, through the observation the plan was
//! made from (for task definitions: the latest revision of the family, which the
//! observer reads for every family the plan may register), so a run that failed
//! part-way converges when it runs again and never duplicates anything.
//!
//! A create whose answer was lost is retried by the SDK and must not make its resource
//! twice: creates that AWS lets carry a client token carry one derived from the plan
//! hash and the resource (`context::client_token`), and a create that fails in a way
//! that may have made the resource is looked up before it counts as failed (`or_find`).
//!
//! # Layout
//! - `context`: the options and the names resolved to ARNs so far, shared by steps; the
//!   client tokens of creates, and how a create that failed ambiguously is settled.
//! - `ecs`, `elb`, `route53`, `cloud_map`, `autoscaling`, `logs`: the steps, by the AWS
//!   service they call.

mod autoscaling;
mod cloud_map;
mod context;
mod ecs;
mod elb;
mod logs;
mod route53;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use bosun_plan::{Change, Kind, Observed, Plan, Step};
use bosun_stackfile::Desired;
use futures::{StreamExt, stream};

pub use self::context::ApplyOptions;
use self::context::{Ctx, Resolved};
use crate::Clients;
use crate::error::{ApplyError, ApplyFailure, AwsError};
use crate::progress::{Progress, ProgressEvent, RolloutOutcome};
use crate::rollout::{Watch, wait_rollouts};

/// The result of an apply that ran every step.
#[derive(Debug, Default, serde::Serialize)]
pub struct ApplyReport {
    /// Completed changes, as `<action> <resource>` lines.
    pub completed: Vec<String>,
    /// Outcome of each rollout that was waited for.
    pub rollouts: BTreeMap<String, RolloutOutcome>,
    /// Services whose rollouts were started but not waited for (`--no-wait`).
    pub not_waited: Vec<String>,
}

impl ApplyReport {
    /// Whether every rollout that was waited for succeeded.
    pub fn all_succeeded(&self) -> bool {
        self.rollouts.values().all(RolloutOutcome::is_success)
    }
}

/// Apply `plan`, which was made from `desired` and `observed`.
///
/// Refuses to start when the plan has conflicts. Stops at the first failed step or
/// hook and reports what was already changed.
pub async fn apply(
    c: &Clients,
    desired: &Desired,
    observed: &Observed,
    plan: &Plan,
    opts: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<ApplyReport, ApplyError> {
    if let Some(conflict) = plan.conflicts.first() {
        let failure =
            ApplyFailure::Conflict { resource: conflict.resource.to_string(), reason: conflict.reason.clone() };
        return Err(ApplyError { failure, completed: Vec::new() });
    }
    let ctx = Ctx {
        c,
        desired,
        opts,
        plan_hash: &plan.hash,
        state: Mutex::new(Resolved::from_observed(observed)),
        progress,
        started: Instant::now(),
    };
    let mut report = ApplyReport::default();

    for stage in &plan.stages() {
        if stage[0][0].resource.kind == Kind::PostHook {
            // Post-deploy hooks need their service's rollout to have succeeded, with or
            // without --no-wait.
            let services: Vec<String> = stage.iter().flatten().filter_map(|c| c.service.clone()).collect();
            let outcomes = wait_for(&ctx, &services).await.map_err(|e| fail(&ctx, e.into()))?;
            let failed =
                outcomes.iter().find(|(_, outcome)| !outcome.is_success()).map(|(s, o)| (s.clone(), o.clone()));
            report.rollouts.extend(outcomes);
            if let Some((service, outcome)) = failed {
                return Err(fail(&ctx, ApplyFailure::Rollout { service, outcome }));
            }
        }
        // Chains by index, not by `&Vec<&Change>`: a closure over a reference makes
        // the future's `Send` bound higher-ranked, which the compiler cannot prove
        // (rust-lang/rust#110338).
        let results: Vec<Result<(), ApplyFailure>> = stream::iter(0..stage.len())
            .map(|i| {
                let ctx = &ctx;
                let chain = &stage[i];
                async move {
                    for change in chain {
                        ctx.progress.event(ProgressEvent::Started(change));
                        execute(ctx, change).await?;
                        ctx.with(|s| {
                            s.completed.push(format!("{:?} {}", change.action, change.resource).to_lowercase())
                        });
                        ctx.progress.event(ProgressEvent::Done(change));
                    }
                    Ok(())
                }
            })
            .buffer_unordered(opts.concurrency.max(1))
            .collect()
            .await;
        if let Some(err) = results.into_iter().find_map(Result::err) {
            return Err(fail(&ctx, err));
        }
    }

    let pending: Vec<String> =
        ctx.with(|s| s.deployments.keys().filter(|k| !report.rollouts.contains_key(*k)).cloned().collect());
    if opts.wait {
        let outcomes = wait_for(&ctx, &pending).await.map_err(|e| fail(&ctx, e.into()))?;
        report.rollouts.extend(outcomes);
    } else {
        report.not_waited = pending;
    }
    report.completed = ctx.with(|s| std::mem::take(&mut s.completed));
    Ok(report)
}

fn fail(ctx: &Ctx<'_>, failure: ApplyFailure) -> ApplyError {
    ApplyError { failure, completed: ctx.with(|s| s.completed.clone()) }
}

async fn wait_for(ctx: &Ctx<'_>, services: &[String]) -> Result<BTreeMap<String, RolloutOutcome>, AwsError> {
    let watches: Vec<Watch> = ctx.with(|s| services.iter().filter_map(|name| s.deployments.remove(name)).collect());
    if watches.is_empty() {
        return Ok(BTreeMap::new());
    }
    wait_rollouts(ctx.c, ctx.cluster(), watches, ctx.opts.poll_interval, ctx.started.elapsed(), ctx.progress).await
}

/// One change: the step, by the AWS service it calls.
async fn execute(ctx: &Ctx<'_>, change: &Change) -> Result<(), ApplyFailure> {
    let res = change.resource.to_string();
    let res = res.as_str();
    let adopt = change.action == bosun_plan::Action::Adopt;
    match &change.step {
        Step::CreateCluster { name, settings } => ecs::create_cluster(ctx, name, settings.as_ref(), res).await,
        Step::UpdateCluster { name, settings, fields } => ecs::update_cluster(ctx, name, settings, fields, res).await,
        Step::RegisterTaskDefinition { service, spec, spec_hash } => {
            ecs::register_task_definition(ctx, service, spec, spec_hash, res).await
        }
        Step::RunHook { service, phase, hook, family } => ecs::run_hook(ctx, service, *phase, hook, family).await,
        Step::CreateService { spec, spec_hash } => ecs::create_service(ctx, spec, spec_hash, res).await,
        Step::UpdateService { spec, spec_hash, fields, adopt } => {
            ecs::update_service(ctx, spec, spec_hash, fields, *adopt, res).await
        }
        Step::DeleteService { name, arn } => ecs::delete_service(ctx, name, arn).await,
        Step::CreateTargetGroup { service, spec } => elb::create_target_group(ctx, service, spec, res).await,
        Step::ModifyTargetGroup { arn, spec, adopt_service } => {
            elb::modify_target_group(ctx, arn, spec, adopt_service.as_deref(), res).await
        }
        Step::DeleteTargetGroup { arn } => elb::delete_target_group(ctx, arn, res).await,
        Step::CreateLoadBalancer { spec } => elb::create_load_balancer(ctx, spec, res).await,
        Step::UpdateLoadBalancer { arn, spec } => elb::update_load_balancer(ctx, arn, spec, adopt, res).await,
        Step::DeleteLoadBalancer { arn } => elb::delete_load_balancer(ctx, arn, res).await,
        Step::CreateListener { load_balancer, spec } => elb::create_listener(ctx, load_balancer, spec, res).await,
        Step::ModifyListener { arn, spec } => elb::modify_listener(ctx, arn, spec, res).await,
        Step::DeleteListener { arn } => elb::delete_listener(ctx, arn, res).await,
        Step::CreateRule { service, spec } => elb::create_rule(ctx, service, spec, res).await,
        Step::ModifyRule { arn, service, spec } => elb::modify_rule(ctx, arn, service, spec, adopt, res).await,
        Step::DeleteRule { arn } => elb::delete_rule(ctx, arn, res).await,
        Step::UpsertRecord { service, spec } => route53::upsert_record(ctx, service, spec, res).await,
        Step::DeleteRecord { zone_id, name } => Ok(route53::delete_record(ctx.c, zone_id, name, res).await?),
        Step::CreateNamespace { spec } => cloud_map::create_namespace(ctx, spec, res).await,
        Step::CreateDiscoveryService { service, spec, .. } => cloud_map::create_service(ctx, service, spec, res).await,
        Step::UpdateDiscoveryService { id, spec, adopt_service } => {
            cloud_map::update_service(ctx, id, spec, adopt_service.as_deref(), res).await
        }
        Step::DeleteDiscoveryService { id } => cloud_map::delete_service(ctx, id, res).await,
        Step::CreateLogGroup { spec } => logs::create_group(ctx, spec, res).await,
        Step::PutRetentionPolicy { name, retention_days } => logs::put_retention(ctx, name, *retention_days, res).await,
        Step::RegisterScalableTarget { service, min, max, create } => {
            autoscaling::register_target(ctx, service, *min, *max, *create, res).await
        }
        Step::DeregisterScalableTarget { service } => autoscaling::deregister_target(ctx, service, res).await,
        Step::PutScalingPolicy { service, spec } => autoscaling::put_policy(ctx, service, spec, res).await,
        Step::DeleteScalingPolicy { service, name } => autoscaling::delete_policy(ctx, service, name, res).await,
        Step::PutScheduledAction { service, spec } => autoscaling::put_scheduled(ctx, service, spec, res).await,
        Step::DeleteScheduledAction { service, name } => autoscaling::delete_scheduled(ctx, service, name, res).await,
    }
}
