//! Execute a plan: steps in dependency order, independent steps concurrently (see
//! `stages`), then wait for the rollouts.
//!
//! Every create looks its resource up first, through the observation the plan was
//! made from (for task definitions: the latest revision of the family, which the
//! observer reads for every family the plan may register), so a run that failed
//! part-way converges when it runs again and never duplicates anything.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types as ecs;
use aws_sdk_elasticloadbalancingv2::types as elb;
use aws_sdk_route53::types as r53;
use aws_sdk_servicediscovery::types as sd;
use bosun_plan::observed::{ObservedTaskDefinition, record_owner_txt, tags};
use bosun_plan::{Change, HookPhase, Kind, Observed, Owner, Plan, Step};
use bosun_stackfile::{DefaultAction, Desired, HookSpec, LaunchType, ServiceSpec};
use futures::{StreamExt, stream};

use crate::Clients;
use crate::convert::{
    built, container_to_aws, ecs_tags, elb_tags, network_to_aws, placement_constraints_to_aws, placement_strategy_to_aws,
    protocol_to_aws,
};
use crate::error::{ApplyError, ApplyFailure, AwsError};
use crate::observe::{RECORD_ZONE_TAG_PREFIX, describe_task_definition, find_namespace, latest_revision};
use crate::rollout::{RolloutOutcome, TaskEnd, Watch, wait_rollouts, wait_task};

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Wait for rollouts to finish.
    pub wait: bool,
    /// Overrides every service's `deployment.wait_timeout`.
    pub timeout: Option<Duration>,
    /// Time between polls of deployments and hook tasks.
    pub poll_interval: Duration,
    /// Changes in flight at once. A change is one mutating call, or a few one after
    /// the other, except that a service update and the tags that record it go out
    /// together.
    pub concurrency: usize,
}

impl Default for ApplyOptions {
    /// 16 changes in flight. ECS throttles each account and Region with token buckets;
    /// the smallest that an apply draws on, task definition registrations, holds a
    /// burst of 20 (then 1 a second), so 16 calls at once never empty a full bucket on
    /// their own. Beyond a burst, the refill rate sets the pace whatever the
    /// concurrency, and the SDK retries throttled calls with backoff.
    fn default() -> Self {
        Self { wait: true, timeout: None, poll_interval: Duration::from_secs(5), concurrency: 16 }
    }
}

/// What happened while applying, for live progress output.
#[derive(Debug)]
pub enum ProgressEvent<'a> {
    /// A change is starting.
    Started(&'a Change),
    /// A change is done.
    Done(&'a Change),
    /// A rollout is still going.
    Rollout {
        /// Service.
        service: &'a str,
        /// Running tasks of the new deployment.
        running: i32,
        /// Desired tasks of the new deployment.
        desired: i32,
        /// ECS rollout state.
        state: &'a str,
    },
    /// A new ECS service event.
    ServiceEvent {
        /// Service.
        service: &'a str,
        /// ECS's message.
        message: &'a str,
    },
    /// A rollout ended.
    RolloutDone {
        /// Service.
        service: &'a str,
        /// Outcome.
        outcome: &'a RolloutOutcome,
    },
}

/// Receives progress while applying.
pub trait Progress: Send + Sync {
    /// Called for each event.
    fn event(&self, event: ProgressEvent<'_>);
}

/// Discards progress.
impl Progress for () {
    fn event(&self, _event: ProgressEvent<'_>) {}
}

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

/// Names resolved to ARNs so far: from the observation, then from each create.
#[derive(Default)]
struct Resolved {
    load_balancers: BTreeMap<String, (String, String, String)>,
    target_groups: BTreeMap<String, String>,
    listeners: BTreeMap<(String, u16), String>,
    discovery: BTreeMap<String, String>,
    namespace_id: Option<String>,
    task_definitions: BTreeMap<String, String>,
    /// The latest ACTIVE revision of each family the plan may register, as observed;
    /// a family absent here had none.
    latest_revisions: BTreeMap<String, ObservedTaskDefinition>,
    services: BTreeMap<String, String>,
    deployments: BTreeMap<String, Watch>,
    completed: Vec<String>,
}

impl Resolved {
    fn from_observed(o: &Observed) -> Self {
        let mut r = Resolved::default();
        for (name, lb) in &o.load_balancers {
            r.load_balancers.insert(name.clone(), (lb.arn.clone(), lb.dns_name.clone(), lb.canonical_zone_id.clone()));
            for (port, l) in &lb.listeners {
                r.listeners.insert((name.clone(), *port), l.arn.clone());
            }
        }
        for (name, tg) in &o.target_groups {
            r.target_groups.insert(name.clone(), tg.arn.clone());
        }
        for (name, d) in &o.discovery_services {
            r.discovery.insert(name.clone(), d.arn.clone());
        }
        r.namespace_id = o.namespace.as_ref().map(|n| n.id.clone());
        r.latest_revisions = o.task_families.clone();
        for s in o.services.values() {
            r.services.insert(s.name.clone(), s.arn.clone());
            if let Some((family, _)) = s.running_family_revision().rsplit_once(':') {
                r.task_definitions.insert(family.to_owned(), s.task_definition_arn.clone());
            }
        }
        r
    }
}

struct Ctx<'a> {
    c: &'a Clients,
    desired: &'a Desired,
    opts: &'a ApplyOptions,
    state: Mutex<Resolved>,
    progress: &'a dyn Progress,
    started: Instant,
}

impl Ctx<'_> {
    fn cluster(&self) -> &str {
        &self.desired.cluster
    }

    fn with<T>(&self, f: impl FnOnce(&mut Resolved) -> T) -> T {
        f(&mut self.state.lock().expect("apply state lock is never poisoned"))
    }

    fn lookup<T: Clone>(&self, what: &str, f: impl FnOnce(&Resolved) -> Option<T>) -> Result<T, ApplyFailure> {
        self.with(|s| f(s)).ok_or_else(|| ApplyFailure::Missing(format!("{what} does not exist; run plan again")))
    }

    fn timeout_for(&self, svc: &ServiceSpec) -> Duration {
        self.opts.timeout.unwrap_or(svc.deployment.wait_timeout)
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
        return Err(ApplyError {
            failure: ApplyFailure::Missing(format!("{}: {}", conflict.resource, conflict.reason)),
            completed: Vec::new(),
        });
    }
    let ctx = Ctx {
        c,
        desired,
        opts,
        state: Mutex::new(Resolved::from_observed(observed)),
        progress,
        started: Instant::now(),
    };
    let mut report = ApplyReport::default();

    for stage in &stages(&plan.changes) {
        let kind = stage[0][0].resource.kind;
        if kind == Kind::PostHook {
            // Post-deploy hooks need their service's rollout to have succeeded, with or
            // without --no-wait.
            let services: Vec<String> = stage.iter().flatten().filter_map(|c| c.service.clone()).collect();
            let outcomes = wait_for(&ctx, &services).await.map_err(|e| fail(&ctx, e.into()))?;
            for (service, outcome) in &outcomes {
                if !outcome.is_success() {
                    report.rollouts.extend(outcomes.clone());
                    return Err(fail(
                        &ctx,
                        ApplyFailure::Missing(format!("rollout of service {service} {outcome}; post-deploy hooks not run")),
                    ));
                }
            }
            report.rollouts.extend(outcomes);
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
                        ctx.with(|s| s.completed.push(format!("{:?} {}", change.action, change.resource).to_lowercase()));
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

    let pending: Vec<String> = ctx.with(|s| s.deployments.keys().filter(|k| !report.rollouts.contains_key(*k)).cloned().collect());
    if opts.wait {
        let outcomes = wait_for(&ctx, &pending).await.map_err(|e| fail(&ctx, e.into()))?;
        report.rollouts.extend(outcomes);
    } else {
        report.not_waited = pending;
    }
    report.completed = ctx.with(|s| std::mem::take(&mut s.completed));
    Ok(report)
}

/// The order of the plan's changes: stages run one after another; a stage is chains
/// that run concurrently, the changes of a chain one after another.
///
/// Consecutive changes of the same kind (and direction) form a level, and each of its
/// changes is a chain of its own, except that hooks of a level run one at a time (the
/// hooks of one service in order) and that the task definition level and the service
/// level after it make one stage: a service's new revision and the service change
/// that deploys it form a chain, so each service changes as soon as its own revision
/// is registered, not after every other service's. Everything else a service change
/// needs (cluster, target groups, listeners, Cloud Map services) comes from earlier
/// levels, which are done by then; with pre-deploy hooks, the hook level sits between
/// the two and keeps them apart.
fn stages(changes: &[Change]) -> Vec<Vec<Vec<&Change>>> {
    let mut levels: Vec<Vec<&Change>> = Vec::new();
    for change in changes {
        let key = (change.action.is_delete(), change.resource.kind);
        match levels.last_mut() {
            Some(level) if (level[0].action.is_delete(), level[0].resource.kind) == key => level.push(change),
            _ => levels.push(vec![change]),
        }
    }
    let creates = |level: &[&Change], kind: Kind| level[0].resource.kind == kind && !level[0].action.is_delete();
    let mut stages = Vec::new();
    let mut levels = levels.into_iter().peekable();
    while let Some(level) = levels.next() {
        if matches!(level[0].resource.kind, Kind::PreHook | Kind::PostHook) {
            stages.push(vec![level]);
        } else if creates(&level, Kind::TaskDefinition) && levels.peek().is_some_and(|next| creates(next, Kind::Service)) {
            let mut chains: Vec<Vec<&Change>> = level.into_iter().map(|c| vec![c]).collect();
            let by_service: BTreeMap<&str, usize> =
                chains.iter().enumerate().filter_map(|(i, chain)| Some((chain[0].service.as_deref()?, i))).collect();
            for change in levels.next().expect("peeked") {
                match change.service.as_deref().and_then(|s| by_service.get(s)) {
                    Some(&i) => chains[i].push(change),
                    None => chains.push(vec![change]),
                }
            }
            stages.push(chains);
        } else {
            stages.push(level.into_iter().map(|c| vec![c]).collect());
        }
    }
    stages
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

async fn execute(ctx: &Ctx<'_>, change: &Change) -> Result<(), ApplyFailure> {
    let c = ctx.c;
    let cluster = ctx.cluster();
    let res = change.resource.to_string();
    match &change.step {
        Step::CreateCluster { name } => {
            c.ecs
                .create_cluster()
                .cluster_name(name)
                .set_tags(Some(ecs_tags(&Owner::bosun(cluster, None), &[])))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateCluster", &res, e))?;
        }
        Step::CreateNamespace { spec } => {
            // Look up first: a namespace is created asynchronously, and an earlier run
            // may have started it.
            let id = match find_namespace(c, &spec.name).await? {
                Some(ns) => ns.id,
                None => create_namespace(c, spec, cluster, &res, ctx.opts.poll_interval).await?,
            };
            ctx.with(|s| s.namespace_id = Some(id));
        }
        Step::CreateDiscoveryService { service, spec, .. } => {
            let ns = ctx.lookup("the Cloud Map namespace", |s| s.namespace_id.clone())?;
            let out = c
                .discovery
                .create_service()
                .name(&spec.name)
                .namespace_id(ns)
                .creator_request_id(format!("bosun-{cluster}-{}", spec.name))
                .dns_config(built(
                    sd::DnsConfig::builder()
                        .routing_policy(sd::RoutingPolicy::Multivalue)
                        .dns_records(built(sd::DnsRecord::builder().r#type(sd::RecordType::A).ttl(spec.dns_ttl).build())?)
                        .build(),
                )?)
                // Custom health checks let ECS report task health; AWS fixed the threshold at 1.
                .health_check_custom_config(sd::HealthCheckCustomConfig::builder().build())
                .set_tags(Some(sd_tags(&Owner::bosun(cluster, Some(service)))?))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateService", &res, e))?;
            let arn = out.service().and_then(|s| s.arn()).unwrap_or_default().to_owned();
            ctx.with(|s| s.discovery.insert(spec.name.clone(), arn));
        }
        Step::UpdateDiscoveryService { id, spec, adopt_service } => {
            c.discovery
                .update_service()
                .id(id)
                .service(
                    sd::ServiceChange::builder()
                        .dns_config(built(
                            sd::DnsConfigChange::builder()
                                .dns_records(built(sd::DnsRecord::builder().r#type(sd::RecordType::A).ttl(spec.dns_ttl).build())?)
                                .build(),
                        )?)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("UpdateService", &res, e))?;
            if let Some(service) = adopt_service {
                let arn = ctx.lookup(&res, |s| s.discovery.get(&spec.name).cloned())?;
                c.discovery
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(sd_tags(&Owner::bosun(cluster, Some(service)))?))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("TagResource", &res, e))?;
            }
        }
        Step::DeleteDiscoveryService { id } => {
            c.discovery.delete_service().id(id).send().await.map_err(|e| AwsError::from_sdk("DeleteService", &res, e))?;
        }
        Step::CreateTargetGroup { service, spec } => {
            let h = &spec.health_check;
            let out = c
                .elb
                .create_target_group()
                .name(&spec.name)
                .protocol(protocol_to_aws(spec.protocol))
                .port(i32::from(spec.port))
                .vpc_id(&spec.vpc_id)
                .target_type(elb::TargetTypeEnum::from(spec.target_type.as_aws()))
                .health_check_protocol(protocol_to_aws(h.protocol))
                .health_check_port(&h.port)
                .health_check_path(&h.path)
                .health_check_interval_seconds(h.interval_seconds)
                .health_check_timeout_seconds(h.timeout_seconds)
                .healthy_threshold_count(h.healthy_threshold)
                .unhealthy_threshold_count(h.unhealthy_threshold)
                .matcher(elb::Matcher::builder().http_code(&h.matcher).build())
                .set_tags(Some(elb_tags(&Owner::bosun(cluster, Some(service)))))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateTargetGroup", &res, e))?;
            let arn = out.target_groups().first().and_then(|t| t.target_group_arn()).unwrap_or_default().to_owned();
            ctx.with(|s| s.target_groups.insert(spec.name.clone(), arn));
        }
        Step::ModifyTargetGroup { arn, spec, adopt_service } => {
            let h = &spec.health_check;
            c.elb
                .modify_target_group()
                .target_group_arn(arn)
                .health_check_protocol(protocol_to_aws(h.protocol))
                .health_check_port(&h.port)
                .health_check_path(&h.path)
                .health_check_interval_seconds(h.interval_seconds)
                .health_check_timeout_seconds(h.timeout_seconds)
                .healthy_threshold_count(h.healthy_threshold)
                .unhealthy_threshold_count(h.unhealthy_threshold)
                .matcher(elb::Matcher::builder().http_code(&h.matcher).build())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ModifyTargetGroup", &res, e))?;
            if let Some(service) = adopt_service {
                add_elb_tags(c, arn, &Owner::bosun(cluster, Some(service)), &res).await?;
            }
        }
        Step::DeleteTargetGroup { arn } => {
            c.elb.delete_target_group().target_group_arn(arn).send().await.map_err(|e| AwsError::from_sdk("DeleteTargetGroup", &res, e))?;
        }
        Step::CreateLoadBalancer { spec } => {
            let out = c
                .elb
                .create_load_balancer()
                .name(&spec.name)
                .r#type(elb::LoadBalancerTypeEnum::Application)
                .scheme(elb::LoadBalancerSchemeEnum::from(spec.scheme.as_aws()))
                .set_subnets(Some(spec.subnets.clone()))
                .set_security_groups(Some(spec.security_groups.clone()))
                .set_tags(Some(elb_tags(&Owner::bosun(cluster, spec.service.as_deref()))))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateLoadBalancer", &res, e))?;
            let lb = out.load_balancers().first();
            let entry = (
                lb.and_then(|l| l.load_balancer_arn()).unwrap_or_default().to_owned(),
                lb.and_then(|l| l.dns_name()).unwrap_or_default().to_owned(),
                lb.and_then(|l| l.canonical_hosted_zone_id()).unwrap_or_default().to_owned(),
            );
            ctx.with(|s| s.load_balancers.insert(spec.name.clone(), entry));
        }
        Step::UpdateLoadBalancer { arn, spec } => {
            c.elb
                .set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(Some(spec.subnets.clone()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("SetSubnets", &res, e))?;
            c.elb
                .set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(spec.security_groups.clone()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("SetSecurityGroups", &res, e))?;
            if change.action == bosun_plan::Action::Adopt {
                add_elb_tags(c, arn, &Owner::bosun(cluster, spec.service.as_deref()), &res).await?;
            }
        }
        Step::DeleteLoadBalancer { arn } => {
            c.elb.delete_load_balancer().load_balancer_arn(arn).send().await.map_err(|e| AwsError::from_sdk("DeleteLoadBalancer", &res, e))?;
        }
        Step::CreateListener { load_balancer, spec } => {
            let (lb_arn, _, _) = ctx.lookup(&format!("load balancer {load_balancer}"), |s| s.load_balancers.get(load_balancer).cloned())?;
            let action = listener_action(ctx, &spec.default_action)?;
            let service = ctx.desired.load_balancers.get(load_balancer).and_then(|l| l.service.clone());
            let out = c
                .elb
                .create_listener()
                .load_balancer_arn(lb_arn)
                .protocol(protocol_to_aws(spec.protocol))
                .port(i32::from(spec.port))
                .set_certificates(Some(
                    spec.certificates.iter().map(|a| elb::Certificate::builder().certificate_arn(a).build()).collect(),
                ))
                .default_actions(action)
                .set_tags(Some(elb_tags(&Owner::bosun(cluster, service.as_deref()))))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateListener", &res, e))?;
            let arn = out.listeners().first().and_then(|l| l.listener_arn()).unwrap_or_default().to_owned();
            ctx.with(|s| s.listeners.insert((load_balancer.clone(), spec.port), arn));
        }
        Step::ModifyListener { arn, spec } => {
            let action = listener_action(ctx, &spec.default_action)?;
            c.elb
                .modify_listener()
                .listener_arn(arn)
                .protocol(protocol_to_aws(spec.protocol))
                .port(i32::from(spec.port))
                .set_certificates(Some(
                    spec.certificates.iter().map(|a| elb::Certificate::builder().certificate_arn(a).build()).collect(),
                ))
                .default_actions(action)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ModifyListener", &res, e))?;
        }
        Step::DeleteListener { arn } => {
            c.elb.delete_listener().listener_arn(arn).send().await.map_err(|e| AwsError::from_sdk("DeleteListener", &res, e))?;
        }
        Step::CreateRule { service, spec } => {
            let listener = ctx.lookup(&format!("listener {}:{}", spec.load_balancer, spec.listener_port), |s| {
                s.listeners.get(&(spec.load_balancer.clone(), spec.listener_port)).cloned()
            })?;
            let tg = ctx.lookup(&format!("target group {}", spec.target_group), |s| s.target_groups.get(&spec.target_group).cloned())?;
            c.elb
                .create_rule()
                .listener_arn(listener)
                .priority(i32::try_from(spec.priority).unwrap_or(i32::MAX))
                .set_conditions(Some(rule_conditions(spec)))
                .actions(forward(&tg))
                .set_tags(Some(elb_tags(&Owner::bosun(cluster, Some(service)))))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateRule", &res, e))?;
        }
        Step::ModifyRule { arn, service, spec } => {
            let tg = ctx.lookup(&format!("target group {}", spec.target_group), |s| s.target_groups.get(&spec.target_group).cloned())?;
            c.elb
                .modify_rule()
                .rule_arn(arn)
                .set_conditions(Some(rule_conditions(spec)))
                .actions(forward(&tg))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ModifyRule", &res, e))?;
            if change.action == bosun_plan::Action::Adopt {
                add_elb_tags(c, arn, &Owner::bosun(cluster, Some(service)), &res).await?;
            }
        }
        Step::DeleteRule { arn } => {
            c.elb.delete_rule().rule_arn(arn).send().await.map_err(|e| AwsError::from_sdk("DeleteRule", &res, e))?;
        }
        Step::UpsertRecord { service, spec } => {
            let (lb_arn, dns, zone) =
                ctx.lookup(&format!("load balancer {}", spec.load_balancer), |s| s.load_balancers.get(&spec.load_balancer).cloned())?;
            // Remember the zone on the load balancer first, so the record is found (and
            // pruned) even after the stackfile stops naming its zone.
            let zone_tag = elb::Tag::builder().key(format!("{RECORD_ZONE_TAG_PREFIX}{}", spec.zone_id)).value("true").build();
            c.elb
                .add_tags()
                .resource_arns(&lb_arn)
                .tags(zone_tag)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("AddTags", &res, e))?;
            let alias = built(r53::AliasTarget::builder().hosted_zone_id(zone).dns_name(dns).evaluate_target_health(false).build())?;
            let a = built(r53::ResourceRecordSet::builder().name(&spec.name).r#type(r53::RrType::A).alias_target(alias).build())?;
            let txt = built(
                r53::ResourceRecordSet::builder()
                    .name(&spec.name)
                    .r#type(r53::RrType::Txt)
                    .ttl(300)
                    .resource_records(built(r53::ResourceRecord::builder().value(record_owner_txt(cluster, service)).build())?)
                    .build(),
            )?;
            let batch = built(
                r53::ChangeBatch::builder()
                    .changes(built(r53::Change::builder().action(r53::ChangeAction::Upsert).resource_record_set(a).build())?)
                    .changes(built(r53::Change::builder().action(r53::ChangeAction::Upsert).resource_record_set(txt).build())?)
                    .build(),
            )?;
            c.route53
                .change_resource_record_sets()
                .hosted_zone_id(&spec.zone_id)
                .change_batch(batch)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ChangeResourceRecordSets", &res, e))?;
        }
        Step::DeleteRecord { zone_id, name } => delete_record(c, zone_id, name, &res).await?,
        Step::RegisterTaskDefinition { service, spec, spec_hash } => {
            let arn = register_task_definition(ctx, service, spec, spec_hash, &res).await?;
            ctx.with(|s| s.task_definitions.insert(spec.family.clone(), arn));
        }
        Step::RunHook { service, phase, hook, family } => run_hook(ctx, service, *phase, hook, family).await?,
        Step::CreateService { spec, spec_hash } => create_service(ctx, spec, spec_hash, &res).await?,
        Step::UpdateService { spec, spec_hash, fields, adopt } => update_service(ctx, spec, spec_hash, fields, *adopt, &res).await?,
        Step::DeleteService { name, arn } => {
            c.ecs
                .delete_service()
                .cluster(cluster)
                .service(arn)
                .force(true)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DeleteService", format!("service {name}"), e))?;
        }
    }
    Ok(())
}

fn sd_tags(owner: &Owner) -> Result<Vec<sd::Tag>, ApplyFailure> {
    owner.to_tags().into_iter().map(|(k, v)| built(sd::Tag::builder().key(k).value(v).build())).collect()
}

async fn add_elb_tags(c: &Clients, arn: &str, owner: &Owner, res: &str) -> Result<(), AwsError> {
    c.elb
        .add_tags()
        .resource_arns(arn)
        .set_tags(Some(elb_tags(owner)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("AddTags", res, e))?;
    Ok(())
}

fn forward(tg_arn: &str) -> elb::Action {
    elb::Action::builder().r#type(elb::ActionTypeEnum::Forward).target_group_arn(tg_arn).build()
}

fn listener_action(ctx: &Ctx<'_>, action: &DefaultAction) -> Result<elb::Action, ApplyFailure> {
    Ok(match action {
        DefaultAction::Forward { target_group } => {
            let arn = ctx.lookup(&format!("target group {target_group}"), |s| s.target_groups.get(target_group).cloned())?;
            forward(&arn)
        }
        DefaultAction::FixedResponse { status_code } => elb::Action::builder()
            .r#type(elb::ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                elb::FixedResponseActionConfig::builder().status_code(status_code.to_string()).content_type("text/plain").build(),
            )
            .build(),
    })
}

fn rule_conditions(spec: &bosun_stackfile::RuleSpec) -> Vec<elb::RuleCondition> {
    let mut out = Vec::new();
    if !spec.hosts.is_empty() {
        out.push(
            elb::RuleCondition::builder()
                .field("host-header")
                .host_header_config(elb::HostHeaderConditionConfig::builder().set_values(Some(spec.hosts.clone())).build())
                .build(),
        );
    }
    if !spec.paths.is_empty() {
        out.push(
            elb::RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(elb::PathPatternConditionConfig::builder().set_values(Some(spec.paths.clone())).build())
                .build(),
        );
    }
    out
}

async fn create_namespace(
    c: &Clients,
    spec: &bosun_stackfile::NamespaceSpec,
    cluster: &str,
    res: &str,
    poll: Duration,
) -> Result<String, ApplyFailure> {
    let out = c
        .discovery
        .create_private_dns_namespace()
        .name(&spec.name)
        .vpc(&spec.vpc_id)
        .creator_request_id(format!("bosun-{}", spec.name))
        .set_tags(Some(sd_tags(&Owner::bosun(cluster, None))?))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreatePrivateDnsNamespace", res, e))?;
    let op = out.operation_id().unwrap_or_default().to_owned();
    // Namespace creation is asynchronous; follow the operation for up to two minutes.
    for _ in 0..120 {
        let status = c.discovery.get_operation().operation_id(&op).send().await.map_err(|e| AwsError::from_sdk("GetOperation", res, e))?;
        let Some(operation) = status.operation() else { break };
        match operation.status() {
            Some(sd::OperationStatus::Success) => {
                if let Some(id) = operation.targets().and_then(|t| t.get(&sd::OperationTargetType::Namespace)) {
                    return Ok(id.clone());
                }
                break;
            }
            Some(sd::OperationStatus::Fail) => {
                return Err(ApplyFailure::Missing(format!(
                    "{res}: Cloud Map could not create the namespace: {}",
                    operation.error_message().unwrap_or("no reason given")
                )));
            }
            _ => tokio::time::sleep(poll.min(Duration::from_secs(1))).await,
        }
    }
    find_namespace(c, &spec.name)
        .await?
        .map(|n| n.id)
        .ok_or_else(|| ApplyFailure::Missing(format!("{res}: namespace creation did not finish in time")))
}

async fn delete_record(c: &Clients, zone_id: &str, name: &str, res: &str) -> Result<(), AwsError> {
    // Route53 deletes need the exact current record sets: read them, then delete the
    // alias and its ownership TXT record together.
    let out = c
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(name)
        .max_items(10)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ListResourceRecordSets", res, e))?;
    let changes: Vec<r53::Change> = out
        .resource_record_sets()
        .iter()
        .filter(|s| s.name().eq_ignore_ascii_case(name) && matches!(s.r#type(), r53::RrType::A | r53::RrType::Txt))
        .filter_map(|s| r53::Change::builder().action(r53::ChangeAction::Delete).resource_record_set(s.clone()).build().ok())
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    let batch = r53::ChangeBatch::builder().set_changes(Some(changes)).build().map_err(|e| AwsError {
        resource: res.to_owned(),
        operation: "ChangeResourceRecordSets",
        code: "BuildError".into(),
        message: e.to_string(),
        status: None,
    })?;
    c.route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ChangeResourceRecordSets", res, e))?;
    Ok(())
}

async fn register_task_definition(
    ctx: &Ctx<'_>,
    service: &str,
    spec: &bosun_stackfile::TaskDefinitionSpec,
    spec_hash: &str,
    res: &str,
) -> Result<String, ApplyFailure> {
    let c = ctx.c;
    // An earlier, interrupted run may have registered this very spec already.
    if let Some(latest) = ctx.with(|s| s.latest_revisions.get(&spec.family).cloned())
        && latest.spec_hash.as_deref() == Some(spec_hash)
    {
        return Ok(latest.arn);
    }
    let owner = Owner::bosun(ctx.cluster(), Some(service));
    let out = c
        .ecs
        .register_task_definition()
        .family(&spec.family)
        .network_mode(ecs::NetworkMode::from(spec.network_mode.as_str()))
        .set_requires_compatibilities(Some(spec.requires_compatibilities.iter().map(|c| ecs::Compatibility::from(c.as_str())).collect()))
        .set_cpu(spec.cpu.clone())
        .set_memory(spec.memory.clone())
        .set_task_role_arn(spec.task_role_arn.clone())
        .set_execution_role_arn(spec.execution_role_arn.clone())
        .set_volumes(Some(
            spec.volumes
                .iter()
                .map(|v| {
                    ecs::Volume::builder()
                        .name(&v.name)
                        .host(ecs::HostVolumeProperties::builder().source_path(&v.host_path).build())
                        .build()
                })
                .collect(),
        ))
        .set_placement_constraints(Some(
            spec.placement_constraints
                .iter()
                .map(|p| {
                    ecs::TaskDefinitionPlacementConstraint::builder()
                        .r#type(ecs::TaskDefinitionPlacementConstraintType::from(p.kind.as_str()))
                        .set_expression(p.expression.clone())
                        .build()
                })
                .collect(),
        ))
        .container_definitions(container_to_aws(&spec.container)?)
        .set_tags(Some(ecs_tags(&owner, &[(tags::SPEC_HASH, spec_hash)])))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("RegisterTaskDefinition", res, e))?;
    let arn = out.task_definition().and_then(|t| t.task_definition_arn()).unwrap_or_default().to_owned();
    Ok(arn)
}

fn family_revision(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, fr)| fr)
}

fn deployment_configuration(svc: &ServiceSpec) -> ecs::DeploymentConfiguration {
    ecs::DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            ecs::DeploymentCircuitBreaker::builder().enable(svc.deployment.circuit_breaker).rollback(svc.deployment.rollback).build(),
        )
        .minimum_healthy_percent(svc.deployment.min_healthy_percent)
        .maximum_percent(svc.deployment.max_percent)
        .build()
}

fn service_load_balancers(ctx: &Ctx<'_>, svc: &ServiceSpec) -> Result<Vec<ecs::LoadBalancer>, ApplyFailure> {
    let Some(tg) = &svc.target_group else { return Ok(Vec::new()) };
    let arn = ctx.lookup(&format!("target group {}", tg.name), |s| s.target_groups.get(&tg.name).cloned())?;
    Ok(vec![
        ecs::LoadBalancer::builder()
            .target_group_arn(arn)
            .container_name(&svc.task_definition.container.name)
            .container_port(i32::from(svc.container_port.unwrap_or(tg.port)))
            .build(),
    ])
}

fn service_registries(ctx: &Ctx<'_>, svc: &ServiceSpec) -> Result<Vec<ecs::ServiceRegistry>, ApplyFailure> {
    let Some(d) = &svc.discovery else { return Ok(Vec::new()) };
    let arn = ctx.lookup(&format!("discovery service {}", d.name), |s| s.discovery.get(&d.name).cloned())?;
    Ok(vec![ecs::ServiceRegistry::builder().registry_arn(arn).build()])
}

fn primary_deployment(s: Option<&ecs::Service>) -> Option<(String, String)> {
    let s = s?;
    let d = s.deployments().iter().find(|d| d.status() == Some("PRIMARY"))?;
    Some((d.id()?.to_owned(), d.task_definition().or(s.task_definition())?.to_owned()))
}

async fn create_service(ctx: &Ctx<'_>, svc: &ServiceSpec, spec_hash: &str, res: &str) -> Result<(), ApplyFailure> {
    let c = ctx.c;
    let td = ctx.lookup(&format!("task definition {}", svc.task_definition.family), |s| {
        s.task_definitions.get(&svc.task_definition.family).cloned()
    })?;
    let owner = Owner::bosun(ctx.cluster(), Some(&svc.name));
    let mut req = c
        .ecs
        .create_service()
        .cluster(ctx.cluster())
        .service_name(&svc.name)
        .task_definition(&td)
        .desired_count(svc.desired_count.unwrap_or(svc.initial_count))
        .launch_type(ecs::LaunchType::from(svc.launch_type.as_aws()))
        .deployment_configuration(deployment_configuration(svc))
        .set_load_balancers(Some(service_load_balancers(ctx, svc)?))
        .set_service_registries(Some(service_registries(ctx, svc)?))
        .set_placement_strategy(Some(placement_strategy_to_aws(&svc.placement_strategy)))
        .set_placement_constraints(Some(placement_constraints_to_aws(&svc.placement_constraints)))
        .set_tags(Some(ecs_tags(&owner, &[(tags::SPEC_HASH, spec_hash), (tags::TASK_DEFINITION, family_revision(&td))])));
    if let Some(n) = &svc.network {
        req = req.network_configuration(network_to_aws(n)?);
    }
    let out = req.send().await.map_err(|e| AwsError::from_sdk("CreateService", res, e))?;
    if let Some((id, td_arn)) = primary_deployment(out.service()) {
        let watch = Watch { service: svc.name.clone(), deployment_id: id, task_definition: td_arn, timeout: ctx.timeout_for(svc) };
        ctx.with(|s| s.deployments.insert(svc.name.clone(), watch));
    }
    Ok(())
}

async fn update_service(
    ctx: &Ctx<'_>,
    svc: &ServiceSpec,
    spec_hash: &str,
    fields: &[String],
    adopt: bool,
    res: &str,
) -> Result<(), ApplyFailure> {
    let c = ctx.c;
    let has = |f: &str| fields.iter().any(|x| x == f || x.starts_with(&format!("{f}.")));
    let td = ctx.lookup(&format!("task definition {}", svc.task_definition.family), |s| {
        s.task_definitions.get(&svc.task_definition.family).cloned()
    })?;
    let mut req = c.ecs.update_service().cluster(ctx.cluster()).service(&svc.name);
    if has("task_definition") {
        req = req.task_definition(&td);
    }
    if has("desired_count") {
        req = req.set_desired_count(svc.desired_count);
    }
    if has("deployment") {
        req = req.deployment_configuration(deployment_configuration(svc));
    }
    if has("network")
        && let Some(n) = &svc.network
    {
        req = req.network_configuration(network_to_aws(n)?);
    }
    if has("load_balancers") {
        req = req.set_load_balancers(Some(service_load_balancers(ctx, svc)?));
    }
    if has("service_registries") {
        req = req.set_service_registries(Some(service_registries(ctx, svc)?));
    }
    if has("placement_strategy") {
        req = req.set_placement_strategy(Some(placement_strategy_to_aws(&svc.placement_strategy)));
    }
    if has("placement_constraints") {
        req = req.set_placement_constraints(Some(placement_constraints_to_aws(&svc.placement_constraints)));
    }
    // The update and the tags that record what it deploys (and, when adopting, who
    // owns the service) go out together, and both run to the end. If one of them
    // fails, the next run still converges: a service whose tags name another revision
    // than the one it runs counts as drifted, and is planned again.
    let update = async {
        if fields.is_empty() {
            return Ok(());
        }
        let out = req.send().await.map_err(|e| AwsError::from_sdk("UpdateService", res, e))?;
        if let Some((id, td_arn)) = primary_deployment(out.service()) {
            let watch = Watch { service: svc.name.clone(), deployment_id: id, task_definition: td_arn, timeout: ctx.timeout_for(svc) };
            ctx.with(|s| s.deployments.insert(svc.name.clone(), watch));
        }
        Ok::<(), ApplyFailure>(())
    };
    let tag = async {
        if !(has("task_definition") || adopt) {
            return Ok(());
        }
        let arn = ctx.lookup(res, |s| s.services.get(&svc.name).cloned())?;
        let mut extra = vec![(tags::SPEC_HASH, spec_hash)];
        let fr = family_revision(&td).to_owned();
        extra.push((tags::TASK_DEFINITION, fr.as_str()));
        let owner = if adopt { Owner::bosun(ctx.cluster(), Some(&svc.name)) } else { Owner::default() };
        c.ecs
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(ecs_tags(&owner, &extra)))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("TagResource", res, e))?;
        Ok(())
    };
    let (updated, tagged) = tokio::join!(update, tag);
    updated.and(tagged)
}

async fn run_hook(ctx: &Ctx<'_>, service: &str, phase: HookPhase, hook: &HookSpec, family: &str) -> Result<(), ApplyFailure> {
    let c = ctx.c;
    let svc = ctx.desired.services.get(service).ok_or_else(|| ApplyFailure::Missing(format!("service {service} is not in the stackfile")))?;
    let phase_name = match phase {
        HookPhase::Pre => "pre",
        HookPhase::Post => "post",
    };
    let td = match ctx.with(|s| s.task_definitions.get(family).cloned()) {
        Some(td) => td,
        None => latest_revision(c, family)
            .await?
            .map(|t| t.arn)
            .ok_or_else(|| ApplyFailure::Missing(format!("task definition family {family} does not exist")))?,
    };
    // Make sure the task definition is readable before running (and warm the cache).
    let _ = describe_task_definition(c, td.clone()).await?;
    let res = format!("{phase_name}-deploy hook {} of service {service}", hook.name);
    let mut req = c
        .ecs
        .run_task()
        .cluster(ctx.cluster())
        .task_definition(&td)
        .count(1)
        .started_by(format!("bosun-hook-{}", hook.name).chars().take(36).collect::<String>())
        .launch_type(ecs::LaunchType::from(svc.launch_type.as_aws()))
        .overrides(
            ecs::TaskOverride::builder()
                .container_overrides(
                    ecs::ContainerOverride::builder()
                        .name(&svc.task_definition.container.name)
                        .set_command(Some(hook.command.clone()))
                        .build(),
                )
                .build(),
        )
        .set_tags(Some(ecs_tags(&Owner::bosun(ctx.cluster(), Some(service)), &[])));
    if let Some(n) = &svc.network {
        req = req.network_configuration(network_to_aws(n)?);
    } else if svc.launch_type == LaunchType::Fargate {
        return Err(ApplyFailure::Missing(format!("{res}: Fargate tasks need awsvpc networking")));
    }
    let out = req.send().await.map_err(|e| AwsError::from_sdk("RunTask", &res, e))?;
    let Some(task_arn) = out.tasks().first().and_then(|t| t.task_arn()).map(str::to_owned) else {
        let reason = out.failures().first().and_then(|f| f.reason()).unwrap_or("no task started").to_owned();
        return Err(ApplyFailure::Hook { service: service.to_owned(), phase: phase_name, hook: hook.name.clone(), reason });
    };
    let end = wait_task(c, ctx.cluster(), &task_arn, hook.timeout, ctx.opts.poll_interval).await?;
    let reason = match end {
        TaskEnd::Exited(0) => return Ok(()),
        TaskEnd::Exited(code) => format!("task {task_arn} exited with code {code}"),
        TaskEnd::Stopped(why) => format!("task {task_arn} stopped: {why}"),
        TaskEnd::TimedOut => format!("task {task_arn} did not stop within {}s", hook.timeout.as_secs()),
    };
    Err(ApplyFailure::Hook { service: service.to_owned(), phase: phase_name, hook: hook.name.clone(), reason })
}

#[cfg(test)]
mod tests {
    use bosun_plan::{Policy, plan};

    use super::*;

    /// The plan that creates an example stackfile's stack from nothing.
    fn from_nothing(name: &str) -> Plan {
        let path = format!("{}/../../stackfiles/{name}", env!("CARGO_MANIFEST_DIR"));
        let mut text = std::fs::read_to_string(&path).expect("example stackfile exists");
        for (var, value) in [
            ("${VPC_ID}", "vpc-0a1b2c3d"),
            ("${PUBLIC_SUBNET_A}", "subnet-0000000a"),
            ("${PUBLIC_SUBNET_B}", "subnet-0000000b"),
            ("${PRIVATE_SUBNET_A}", "subnet-0000001a"),
            ("${PRIVATE_SUBNET_B}", "subnet-0000001b"),
            ("${PUBLIC_SG}", "sg-0000000a"),
            ("${PRIVATE_SG}", "sg-0000000b"),
            ("${ZONE_ID}", "Z0123456789ABC"),
        ] {
            text = text.replace(var, value);
        }
        let desired = bosun_stackfile::load(&text, "demo").unwrap_or_else(|d| panic!("{name} is valid: {d}"));
        plan(&desired, &Observed::default(), &Policy::from_desired(&desired))
    }

    /// Stages as `kind name` strings.
    fn shape(plan: &Plan) -> Vec<Vec<Vec<String>>> {
        stages(&plan.changes).iter().map(|s| s.iter().map(|chain| chain.iter().map(|c| c.resource.to_string()).collect()).collect()).collect()
    }

    #[test]
    fn every_change_runs_once_and_in_plan_order_within_a_chain() {
        for name in ["demo.yml", "hooks.yml", "fargate.yml"] {
            let p = from_nothing(name);
            let position = |c: &Change| p.changes.iter().position(|x| std::ptr::eq(x, c)).expect("a change of the plan");
            let stages = stages(&p.changes);
            let mut seen: Vec<usize> = stages.iter().flatten().flatten().map(|c| position(c)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..p.changes.len()).collect::<Vec<_>>(), "{name}");
            for chain in stages.iter().flatten() {
                assert!(chain.windows(2).all(|w| position(w[0]) < position(w[1])), "{name}: {chain:?}");
            }
        }
    }

    #[test]
    fn a_service_is_created_right_after_its_own_task_definition() {
        let stages = shape(&from_nothing("demo.yml"));
        let last = stages.last().expect("a plan from nothing has stages");
        assert_eq!(
            last,
            &[
                vec!["task definition demo-mailer", "service mailer"],
                vec!["task definition demo-users", "service users"],
                vec!["task definition demo-web", "service web"],
            ],
        );
        // Everything before runs one change per chain, each kind after the previous one.
        assert!(stages[..stages.len() - 1].iter().flatten().all(|chain| chain.len() == 1), "{stages:?}");
        assert_eq!(stages[0], [["cluster demo"]]);
    }

    #[test]
    fn pre_deploy_hooks_run_between_task_definitions_and_services_one_at_a_time() {
        let p = from_nothing("hooks.yml");
        let stages = shape(&p);
        let at = |prefix: &str| stages.iter().position(|s| s[0][0].starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}: {stages:?}"));
        let (td, pre, svc, post) = (at("task definition"), at("pre-deploy hook"), at("service"), at("post-deploy hook"));
        assert!(td < pre && pre < svc && svc < post, "{stages:?}");
        assert_eq!(stages[td], [["task definition demo-app"]]);
        assert_eq!(stages[svc], [["service app"]]);

        // Two hooks: one chain, in the order written.
        let path = format!("{}/../../stackfiles/hooks.yml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).expect("example stackfile exists");
        let two = text.replacen("          timeout: 5m\n", "          timeout: 5m\n        - name: seed\n          command: [\"true\"]\n", 1);
        let desired = bosun_stackfile::load(&two, "demo").unwrap_or_else(|d| panic!("valid: {d}"));
        let stages = shape(&plan(&desired, &Observed::default(), &Policy::from_desired(&desired)));
        let pre = stages.iter().find(|s| s[0][0].starts_with("pre-deploy hook")).expect("a pre-deploy hook stage");
        assert_eq!(pre, &[["pre-deploy hook app/00-migrate", "pre-deploy hook app/01-seed"]]);
    }
}
