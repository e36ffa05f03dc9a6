//! ECS steps: the cluster, task definitions, services and hook tasks.
//!
//! CreateService carries a client token, so the SDK's retry of a create whose answer
//! was lost gets the service the first attempt made. RegisterTaskDefinition has no
//! client token in ECS: a retried registration makes another revision. Those extra
//! revisions (bosun's own, of the same spec, registered by this step) are deregistered,
//! and a registration whose every answer was lost is found by its spec-hash tag.

use aws_sdk_ecs::types as ecs;
use bosun_plan::observed::tags;
use bosun_plan::{ClusterField, HookPhase, Owner, ServiceField};
use bosun_stackfile::{ClusterSpec, HookSpec, LaunchType, ServiceSpec, TaskDefinitionSpec};

use super::context::{Ctx, or_find};
use crate::convert::{
    container_insights_to_aws, container_to_aws, ecs_tag, ecs_tag_pairs, ecs_tags, ephemeral_storage_to_aws,
    network_to_aws, placement_constraints_to_aws, placement_strategy_to_aws, propagate_tags_to_aws,
    runtime_platform_to_aws, service_connect_to_aws, strategy_to_aws, task_placement_constraints_to_aws,
    td_tags_to_aws,
};
use crate::error::{ApplyFailure, AwsError};
use crate::observe::{describe_task_definition, latest_revision};
use crate::progress::ProgressEvent;
use crate::rollout::{TaskEnd, Watch, wait_task};

/// How many of a family's newest ACTIVE revisions are read when looking for the ones a
/// retried registration made: the SDK makes at most 5 attempts, so at most 4 extras.
const REVISIONS_READ: i32 = 10;

pub(super) async fn create_cluster(
    ctx: &Ctx<'_>,
    name: &str,
    settings: Option<&ClusterSpec>,
    res: &str,
) -> Result<(), ApplyFailure> {
    let capacity = settings.and_then(|s| s.capacity_providers.as_ref());
    let insights = settings.and_then(|s| s.container_insights.as_deref());
    ctx.c
        .ecs
        .create_cluster()
        .cluster_name(name)
        .set_capacity_providers(capacity.map(|c| c.providers.clone()))
        .set_default_capacity_provider_strategy(capacity.map(|c| strategy_to_aws(&c.default_strategy)).transpose()?)
        .set_settings(insights.map(|i| vec![container_insights_to_aws(i)]))
        .set_tags(Some(ecs_tags(&Owner::bosun(ctx.cluster(), None), &[])))
        .send()
        .await
        .map_err(|e| AwsError::ecs("CreateCluster", res, e))?;
    Ok(())
}

/// Changes the settings of a cluster bosun owns: its capacity providers and default
/// strategy together (`PutClusterCapacityProviders`), Container Insights apart
/// (`UpdateCluster`'s settings).
pub(super) async fn update_cluster(
    ctx: &Ctx<'_>,
    name: &str,
    settings: &ClusterSpec,
    fields: &[ClusterField],
    res: &str,
) -> Result<(), ApplyFailure> {
    if let Some(capacity) = &settings.capacity_providers
        && fields.iter().any(|f| f.is_capacity())
    {
        ctx.c
            .ecs
            .put_cluster_capacity_providers()
            .cluster(name)
            .set_capacity_providers(Some(capacity.providers.clone()))
            .set_default_capacity_provider_strategy(Some(strategy_to_aws(&capacity.default_strategy)?))
            .send()
            .await
            .map_err(|e| AwsError::ecs("PutClusterCapacityProviders", res, e))?;
    }
    if let Some(insights) = &settings.container_insights
        && fields.contains(&ClusterField::ContainerInsights)
    {
        ctx.c
            .ecs
            .update_cluster()
            .cluster(name)
            .settings(container_insights_to_aws(insights))
            .send()
            .await
            .map_err(|e| AwsError::ecs("UpdateCluster", res, e))?;
    }
    Ok(())
}

pub(super) async fn register_task_definition(
    ctx: &Ctx<'_>,
    service: &str,
    spec: &TaskDefinitionSpec,
    spec_hash: &str,
    res: &str,
) -> Result<(), ApplyFailure> {
    let arn = register(ctx, service, spec, spec_hash, res).await?;
    ctx.with(|s| s.task_definitions.insert(spec.family.clone(), arn));
    Ok(())
}

/// The ARN of a revision with this spec: an earlier, interrupted run may have
/// registered it already.
async fn register(
    ctx: &Ctx<'_>,
    service: &str,
    spec: &TaskDefinitionSpec,
    spec_hash: &str,
    res: &str,
) -> Result<String, ApplyFailure> {
    let latest = ctx.with(|s| s.latest_revisions.get(&spec.family).cloned());
    if let Some(latest) = &latest
        && latest.spec_hash.as_deref() == Some(spec_hash)
    {
        return Ok(latest.arn.clone());
    }
    // Revisions above the latest one observed were registered since: by this step.
    let floor = latest.as_ref().and_then(|l| revision_number(&l.arn)).unwrap_or(0);
    let ours = Revisions { service, family: &spec.family, spec_hash, floor };
    // The main container first, then the sidecars in their order.
    let containers =
        std::iter::once(&spec.container).chain(&spec.sidecars).map(container_to_aws).collect::<Result<_, _>>()?;
    let registered = send_registration(ctx, service, spec, spec_hash, containers, res).await;
    let arn = or_find(registered, || async { Ok(ours.find(ctx).await?.into_iter().next()) }).await?;
    ours.deregister_extras(ctx, &arn, res).await?;
    Ok(arn)
}

async fn send_registration(
    ctx: &Ctx<'_>,
    service: &str,
    spec: &TaskDefinitionSpec,
    spec_hash: &str,
    containers: Vec<ecs::ContainerDefinition>,
    res: &str,
) -> Result<String, AwsError> {
    let owner = Owner::bosun(ctx.cluster(), Some(service));
    let out = ctx
        .c
        .ecs
        .register_task_definition()
        .family(&spec.family)
        .network_mode(ecs::NetworkMode::from(spec.network_mode.as_str()))
        .set_requires_compatibilities(Some(
            spec.requires_compatibilities.iter().map(|c| ecs::Compatibility::from(c.as_str())).collect(),
        ))
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
        .set_placement_constraints(Some(task_placement_constraints_to_aws(&spec.placement_constraints)))
        .set_runtime_platform(spec.runtime_platform.as_ref().map(runtime_platform_to_aws))
        .set_ephemeral_storage(spec.ephemeral_storage.map(ephemeral_storage_to_aws))
        .set_container_definitions(Some(containers))
        .set_tags(Some(td_tags_to_aws(&owner, spec_hash, spec)))
        .send()
        .await
        .map_err(|e| AwsError::ecs("RegisterTaskDefinition", res, e))?;
    Ok(out.task_definition().and_then(|t| t.task_definition_arn()).unwrap_or_default().to_owned())
}

/// The revisions of one family that one registration step may have made: bosun's own
/// for this service, with the spec hash being registered, above the latest revision
/// the observation saw.
struct Revisions<'a> {
    service: &'a str,
    family: &'a str,
    spec_hash: &'a str,
    /// The latest ACTIVE revision observed (0: none).
    floor: u32,
}

impl Revisions<'_> {
    /// ARNs of the ACTIVE revisions above the floor that this step registered, newest
    /// first (from the family's newest revisions).
    async fn find(&self, ctx: &Ctx<'_>) -> Result<Vec<String>, AwsError> {
        let family = self.family;
        let res = format!("task definition family {family}");
        let listed = ctx
            .c
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(ecs::TaskDefinitionStatus::Active)
            .sort(ecs::SortOrder::Desc)
            .max_results(REVISIONS_READ)
            .send()
            .await
            .map_err(|e| AwsError::ecs("ListTaskDefinitions", &res, e))?;
        let owner = Owner::bosun(ctx.cluster(), Some(self.service));
        let mut found = Vec::new();
        for arn in listed.task_definition_arns() {
            // familyPrefix matches `family*`: only this exact family, above the floor.
            let Some((f, revision)) = family_and_revision(arn) else { continue };
            if f != family || revision <= self.floor {
                continue;
            }
            let out = ctx
                .c
                .ecs
                .describe_task_definition()
                .task_definition(arn)
                .include(ecs::TaskDefinitionField::Tags)
                .send()
                .await
                .map_err(|e| AwsError::ecs("DescribeTaskDefinition", format!("task definition {arn}"), e))?;
            let active = out.task_definition().and_then(|t| t.status()) == Some(&ecs::TaskDefinitionStatus::Active);
            if active
                && Owner::from_tags(ecs_tag_pairs(out.tags())) == owner
                && ecs_tag(out.tags(), tags::SPEC_HASH) == Some(self.spec_hash)
            {
                found.push(arn.clone());
            }
        }
        Ok(found)
    }

    /// Deregister what [`find`](Self::find) finds besides `keep`, the revision the step
    /// settled on, except any revision a service runs. Costs nothing when `keep` is the
    /// revision right above the floor: then no retry made another.
    async fn deregister_extras(&self, ctx: &Ctx<'_>, keep: &str, res: &str) -> Result<(), ApplyFailure> {
        if revision_number(keep).is_some_and(|r| r <= self.floor + 1) {
            return Ok(());
        }
        for arn in self.find(ctx).await? {
            let running = ctx.with(|s| s.task_definitions.values().any(|td| *td == arn));
            if arn == keep || running {
                continue;
            }
            tracing::info!(task_definition = %arn, kept = keep, "deregistering a revision a retried registration made");
            ctx.c
                .ecs
                .deregister_task_definition()
                .task_definition(&arn)
                .send()
                .await
                .map_err(|e| AwsError::ecs("DeregisterTaskDefinition", res, e))?;
        }
        Ok(())
    }
}

/// `(family, revision)` of a task definition ARN or `family:revision`.
fn family_and_revision(arn: &str) -> Option<(&str, u32)> {
    let (family, revision) = family_revision(arn).rsplit_once(':')?;
    Some((family, revision.parse().ok()?))
}

fn revision_number(arn: &str) -> Option<u32> {
    family_and_revision(arn).map(|(_, r)| r)
}

fn family_revision(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, fr)| fr)
}

fn deployment_configuration(svc: &ServiceSpec) -> ecs::DeploymentConfiguration {
    ecs::DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            ecs::DeploymentCircuitBreaker::builder()
                .enable(svc.deployment.circuit_breaker)
                .rollback(svc.deployment.rollback)
                .build(),
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

/// Remember the deployment a create or update started, to wait for it.
fn watch_primary(ctx: &Ctx<'_>, svc: &ServiceSpec, s: Option<&ecs::Service>) {
    let Some(s) = s else { return };
    let Some(d) = s.deployments().iter().find(|d| d.status() == Some("PRIMARY")) else { return };
    let (Some(id), Some(td)) = (d.id(), d.task_definition().or(s.task_definition())) else { return };
    let watch = Watch {
        service: svc.name.clone(),
        deployment_id: id.to_owned(),
        task_definition: td.to_owned(),
        timeout: ctx.timeout_for(svc),
    };
    ctx.with(|s| s.deployments.insert(svc.name.clone(), watch));
    ctx.progress.event(ProgressEvent::RolloutStarted { service: &svc.name });
}

/// The task definition a service change deploys, registered by an earlier step.
fn task_definition(ctx: &Ctx<'_>, svc: &ServiceSpec) -> Result<String, ApplyFailure> {
    let family = &svc.task_definition.family;
    ctx.lookup(&format!("task definition {family}"), |s| s.task_definitions.get(family).cloned())
}

pub(super) async fn create_service(
    ctx: &Ctx<'_>,
    svc: &ServiceSpec,
    spec_hash: &str,
    res: &str,
) -> Result<(), ApplyFailure> {
    let td = task_definition(ctx, svc)?;
    let owner = Owner::bosun(ctx.cluster(), Some(&svc.name));
    let mut req = ctx
        .c
        .ecs
        .create_service()
        .cluster(ctx.cluster())
        .service_name(&svc.name)
        .task_definition(&td)
        .desired_count(svc.desired_count.unwrap_or(svc.initial_count))
        .deployment_configuration(deployment_configuration(svc))
        .set_load_balancers(Some(service_load_balancers(ctx, svc)?))
        .set_service_registries(Some(service_registries(ctx, svc)?))
        .set_placement_strategy(Some(placement_strategy_to_aws(&svc.placement_strategy)))
        .set_placement_constraints(Some(placement_constraints_to_aws(&svc.placement_constraints)))
        .set_tags(Some(ecs_tags(
            &owner,
            &[(tags::SPEC_HASH, spec_hash), (tags::TASK_DEFINITION, family_revision(&td))],
        )));
    if let Some(n) = &svc.network {
        req = req.network_configuration(network_to_aws(n)?);
    }
    // A launch type or a strategy, never both; each setting only when the spec has it,
    // so a service that uses none sends what it sent before they existed.
    req = if svc.capacity_provider_strategy.is_empty() {
        req.launch_type(ecs::LaunchType::from(svc.launch_type.as_aws()))
    } else {
        req.set_capacity_provider_strategy(Some(strategy_to_aws(&svc.capacity_provider_strategy)?))
    };
    if svc.enable_execute_command {
        req = req.enable_execute_command(true);
    }
    if svc.enable_ecs_managed_tags {
        req = req.enable_ecs_managed_tags(true);
    }
    if svc.propagate_tags.is_some() {
        req = req.propagate_tags(propagate_tags_to_aws(svc.propagate_tags));
    }
    req = req.set_health_check_grace_period_seconds(svc.health_check_grace_period);
    if svc.service_connect.is_some() {
        req = req.service_connect_configuration(service_connect_to_aws(svc.service_connect.as_ref())?);
    }
    let created = req
        .client_token(ctx.client_token(res))
        .send()
        .await
        .map(|out| out.service)
        .map_err(|e| AwsError::ecs("CreateService", res, e));
    let service = or_find(created, || find_service(ctx, svc, spec_hash, res)).await?;
    watch_primary(ctx, svc, service.as_ref());
    Ok(())
}

/// The ACTIVE service `svc` if bosun created it for this spec (its ownership and
/// spec-hash tags say so).
async fn find_service(
    ctx: &Ctx<'_>,
    svc: &ServiceSpec,
    spec_hash: &str,
    res: &str,
) -> Result<Option<Option<ecs::Service>>, AwsError> {
    let out = ctx
        .c
        .ecs
        .describe_services()
        .cluster(ctx.cluster())
        .services(&svc.name)
        .include(ecs::ServiceField::Tags)
        .send()
        .await
        .map_err(|e| AwsError::ecs("DescribeServices", res, e))?;
    let owner = Owner::bosun(ctx.cluster(), Some(&svc.name));
    Ok(out
        .services()
        .iter()
        .find(|s| {
            s.service_name() == Some(svc.name.as_str())
                && s.status() == Some("ACTIVE")
                && Owner::from_tags(ecs_tag_pairs(s.tags())) == owner
                && ecs_tag(s.tags(), tags::SPEC_HASH) == Some(spec_hash)
        })
        .map(|s| Some(s.clone())))
}

/// Send exactly `fields` of the service, and the tags that record what it deploys.
pub(super) async fn update_service(
    ctx: &Ctx<'_>,
    svc: &ServiceSpec,
    spec_hash: &str,
    fields: &[ServiceField],
    adopt: bool,
    res: &str,
) -> Result<(), ApplyFailure> {
    let c = ctx.c;
    let td = task_definition(ctx, svc)?;
    let mut req = c.ecs.update_service().cluster(ctx.cluster()).service(&svc.name);
    for field in fields {
        req = match field {
            ServiceField::TaskDefinition => req.task_definition(&td),
            ServiceField::DesiredCount => req.set_desired_count(svc.desired_count),
            ServiceField::CircuitBreaker | ServiceField::MinHealthyPercent | ServiceField::MaxPercent => {
                req.deployment_configuration(deployment_configuration(svc))
            }
            ServiceField::Network => match &svc.network {
                Some(n) => req.network_configuration(network_to_aws(n)?),
                None => req,
            },
            ServiceField::LoadBalancers => req.set_load_balancers(Some(service_load_balancers(ctx, svc)?)),
            ServiceField::ServiceRegistries => req.set_service_registries(Some(service_registries(ctx, svc)?)),
            ServiceField::PlacementStrategy => {
                req.set_placement_strategy(Some(placement_strategy_to_aws(&svc.placement_strategy)))
            }
            ServiceField::PlacementConstraints => {
                req.set_placement_constraints(Some(placement_constraints_to_aws(&svc.placement_constraints)))
            }
            // ECS moves a service from a launch type to a strategy only with a new
            // deployment.
            ServiceField::CapacityProviderStrategy => req
                .set_capacity_provider_strategy(Some(strategy_to_aws(&svc.capacity_provider_strategy)?))
                .force_new_deployment(true),
            ServiceField::EnableExecuteCommand => req.enable_execute_command(svc.enable_execute_command),
            ServiceField::HealthCheckGracePeriod => {
                req.health_check_grace_period_seconds(svc.health_check_grace_period.unwrap_or(0))
            }
            ServiceField::EnableEcsManagedTags => req.enable_ecs_managed_tags(svc.enable_ecs_managed_tags),
            ServiceField::PropagateTags => req.propagate_tags(propagate_tags_to_aws(svc.propagate_tags)),
            // Removal sends `enabled: false`: an UpdateService without the field leaves
            // Service Connect as it is.
            ServiceField::ServiceConnect => {
                req.service_connect_configuration(service_connect_to_aws(svc.service_connect.as_ref())?)
            }
        };
    }
    // The update and the tags that record what it deploys (and, when adopting, who
    // owns the service) go out together, and both run to the end. If one of them
    // fails, the next run still converges: a service whose tags name another revision
    // than the one it runs counts as drifted, and is planned again.
    let update = async {
        if fields.is_empty() {
            return Ok(());
        }
        let out = req.send().await.map_err(|e| AwsError::ecs("UpdateService", res, e))?;
        watch_primary(ctx, svc, out.service());
        Ok::<(), ApplyFailure>(())
    };
    let tag = async {
        if !(fields.contains(&ServiceField::TaskDefinition) || adopt) {
            return Ok(());
        }
        let arn = ctx.lookup(res, |s| s.services.get(&svc.name).cloned())?;
        let extra = [(tags::SPEC_HASH, spec_hash), (tags::TASK_DEFINITION, family_revision(&td))];
        let owner = if adopt { Owner::bosun(ctx.cluster(), Some(&svc.name)) } else { Owner::default() };
        c.ecs
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(ecs_tags(&owner, &extra)))
            .send()
            .await
            .map_err(|e| AwsError::ecs("TagResource", res, e))?;
        Ok(())
    };
    let (updated, tagged) = tokio::join!(update, tag);
    updated.and(tagged)
}

pub(super) async fn delete_service(ctx: &Ctx<'_>, name: &str, arn: &str) -> Result<(), ApplyFailure> {
    ctx.c
        .ecs
        .delete_service()
        .cluster(ctx.cluster())
        .service(arn)
        .force(true)
        .send()
        .await
        .map_err(|e| AwsError::ecs("DeleteService", format!("service {name}"), e))?;
    Ok(())
}

/// Run a hook as a one-off task of the service's task definition and wait for it to
/// exit 0.
pub(super) async fn run_hook(
    ctx: &Ctx<'_>,
    service: &str,
    phase: HookPhase,
    hook: &HookSpec,
    family: &str,
) -> Result<(), ApplyFailure> {
    let c = ctx.c;
    let phase_name = match phase {
        HookPhase::Pre => "pre",
        HookPhase::Post => "post",
    };
    let failed = |reason: String| ApplyFailure::Hook {
        service: service.to_owned(),
        phase: phase_name,
        hook: hook.name.clone(),
        reason,
    };
    let svc = ctx
        .desired
        .services
        .get(service)
        .ok_or_else(|| ApplyFailure::MissingPrerequisite { what: format!("service {service} in the stackfile") })?;
    let td = match ctx.with(|s| s.task_definitions.get(family).cloned()) {
        Some(td) => td,
        None => latest_revision(c, family)
            .await?
            .map(|t| t.arn)
            .ok_or_else(|| ApplyFailure::MissingPrerequisite { what: format!("task definition family {family}") })?,
    };
    // Make sure the task definition is readable before running (and warm the cache).
    let _ = describe_task_definition(c, td.clone()).await?;
    let res = format!("{phase_name}-deploy hook {} of service {service}", hook.name);
    // RunTask's client token is the SDK's own: a new one per call, the same across its
    // retries, so a lost answer does not start the hook twice. A token from the plan would
    // make a rerun of the same plan after a failed hook get the failed task back instead
    // of running the hook again.
    let mut req = c
        .ecs
        .run_task()
        .cluster(ctx.cluster())
        .task_definition(&td)
        .count(1)
        .started_by(format!("bosun-hook-{}", hook.name).chars().take(36).collect::<String>())
        .set_launch_type(
            svc.capacity_provider_strategy.is_empty().then(|| ecs::LaunchType::from(svc.launch_type.as_aws())),
        )
        .set_capacity_provider_strategy(if svc.capacity_provider_strategy.is_empty() {
            None
        } else {
            Some(strategy_to_aws(&svc.capacity_provider_strategy)?)
        })
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
        return Err(failed("Fargate tasks need awsvpc networking".to_owned()));
    }
    let out = req.send().await.map_err(|e| AwsError::ecs("RunTask", &res, e))?;
    let Some(task_arn) = out.tasks().first().and_then(|t| t.task_arn()).map(str::to_owned) else {
        let reason = out.failures().first().and_then(|f| f.reason()).unwrap_or("no task started").to_owned();
        return Err(failed(reason));
    };
    let end = wait_task(c, ctx.cluster(), &task_arn, hook.timeout, ctx.opts.poll_interval).await?;
    Err(failed(match end {
        TaskEnd::Exited(0) => return Ok(()),
        TaskEnd::Exited(code) => format!("task {task_arn} exited with code {code}"),
        TaskEnd::Stopped(why) => format!("task {task_arn} stopped: {why}"),
        TaskEnd::TimedOut => format!("task {task_arn} did not stop within {}s", hook.timeout.as_secs()),
    }))
}
