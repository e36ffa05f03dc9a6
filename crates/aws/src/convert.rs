//! Conversions between SDK shapes and the domain model.
//!
//! `td_from_aws` must mirror the stackfile's normalisation: a task definition that
//! bosun registered from a spec converts back into an equal spec, so the plan shows
//! only real differences.

use std::collections::BTreeMap;

use aws_sdk_ecs::types as ecs;
use aws_sdk_elasticloadbalancingv2::types as elb;
use aws_smithy_types::error::operation::BuildError;
use bosun_plan::Owner;
use bosun_plan::observed::{ServiceSettings, tags};
use bosun_stackfile::{
    CapacityProviderItem, ClientAlias, ClusterCapacity, ConnectService, ContainerDependency, ContainerHealthCheck,
    ContainerSpec, DefaultAction, Firelens, LogConfiguration, MountPoint, NetworkSpec, PlacementConstraint,
    PlacementStrategy, PortMapping, PropagateTags, Protocol, RuntimePlatform, ServiceConnectSpec, TargetGroupSpec,
    TargetHealthCheck, TargetType, TaskDefinitionSpec, Ulimit, VolumeSpec,
};

use crate::error::ApplyFailure;

/// Unwrap an SDK builder result. Builders only fail when a required field is unset,
/// which is a bug in bosun, reported rather than panicking.
pub(crate) fn built<T>(r: Result<T, BuildError>) -> Result<T, ApplyFailure> {
    r.map_err(ApplyFailure::Request)
}

/// A CreateTargetGroup or ModifyTargetGroup request with every field of a health
/// check set (the two requests share these setters); the mirror of
/// [`target_group_from_aws`].
macro_rules! with_health_check {
    ($req:expr, $h:expr) => {{
        let h: &bosun_stackfile::TargetHealthCheck = $h;
        $req.health_check_protocol($crate::convert::protocol_to_aws(h.protocol))
            .health_check_port(&h.port)
            .health_check_path(&h.path)
            .health_check_interval_seconds(h.interval_seconds)
            .health_check_timeout_seconds(h.timeout_seconds)
            .healthy_threshold_count(h.healthy_threshold)
            .unhealthy_threshold_count(h.unhealthy_threshold)
            .matcher(aws_sdk_elasticloadbalancingv2::types::Matcher::builder().http_code(&h.matcher).build())
    }};
}
pub(crate) use with_health_check;

/// ECS tags from ownership plus extra pairs.
pub(crate) fn ecs_tags(owner: &Owner, extra: &[(&str, &str)]) -> Vec<ecs::Tag> {
    owner
        .to_tags()
        .into_iter()
        .chain(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
        .map(|(k, v)| ecs::Tag::builder().key(k).value(v).build())
        .collect()
}

/// ELBv2 tags from ownership.
pub(crate) fn elb_tags(owner: &Owner) -> Vec<elb::Tag> {
    owner.to_tags().into_iter().map(|(k, v)| elb::Tag::builder().key(k).value(v).build()).collect()
}

/// Protocol from an ELBv2 value.
pub(crate) fn protocol_from_aws(p: Option<&elb::ProtocolEnum>) -> Protocol {
    match p {
        Some(elb::ProtocolEnum::Https) => Protocol::Https,
        _ => Protocol::Http,
    }
}

pub(crate) fn protocol_to_aws(p: Protocol) -> elb::ProtocolEnum {
    match p {
        Protocol::Http => elb::ProtocolEnum::Http,
        Protocol::Https => elb::ProtocolEnum::Https,
    }
}

/// A target group in the desired shape.
pub(crate) fn target_group_from_aws(tg: &elb::TargetGroup) -> TargetGroupSpec {
    TargetGroupSpec {
        name: tg.target_group_name().unwrap_or_default().to_owned(),
        protocol: protocol_from_aws(tg.protocol()),
        port: tg.port().unwrap_or_default().try_into().unwrap_or_default(),
        vpc_id: tg.vpc_id().unwrap_or_default().to_owned(),
        target_type: match tg.target_type() {
            Some(elb::TargetTypeEnum::Ip) => TargetType::Ip,
            _ => TargetType::Instance,
        },
        health_check: TargetHealthCheck {
            protocol: protocol_from_aws(tg.health_check_protocol()),
            port: tg.health_check_port().unwrap_or("traffic-port").to_owned(),
            path: tg.health_check_path().unwrap_or("/").to_owned(),
            interval_seconds: tg.health_check_interval_seconds().unwrap_or(30),
            timeout_seconds: tg.health_check_timeout_seconds().unwrap_or(5),
            healthy_threshold: tg.healthy_threshold_count().unwrap_or(5),
            unhealthy_threshold: tg.unhealthy_threshold_count().unwrap_or(2),
            matcher: tg.matcher().and_then(|m| m.http_code()).unwrap_or("200").to_owned(),
        },
    }
}

/// A listener default action in the desired shape; target-group ARNs resolved to
/// names through `tg_names`.
pub(crate) fn default_action_from_aws(actions: &[elb::Action], tg_names: &BTreeMap<String, String>) -> DefaultAction {
    let Some(a) = actions.first() else { return DefaultAction::FixedResponse { status_code: 0 } };
    match a.r#type() {
        Some(elb::ActionTypeEnum::Forward) => {
            let arn = a
                .target_group_arn()
                .or_else(|| {
                    a.forward_config().and_then(|f| f.target_groups().first()).and_then(|t| t.target_group_arn())
                })
                .unwrap_or_default();
            DefaultAction::Forward { target_group: tg_names.get(arn).cloned().unwrap_or_else(|| arn.to_owned()) }
        }
        Some(elb::ActionTypeEnum::FixedResponse) => DefaultAction::FixedResponse {
            status_code: a.fixed_response_config().and_then(|f| f.status_code()?.parse().ok()).unwrap_or(0),
        },
        _ => DefaultAction::FixedResponse { status_code: 0 },
    }
}

/// A live task definition converted back into the spec shape: the main container is
/// the one named after the service (the family is `<cluster>-<service>`: the
/// container whose name ends the family after a `-`, the longest if several do), else
/// the first; the others are the sidecars, in their order.
pub(crate) fn td_from_aws(td: &ecs::TaskDefinition) -> TaskDefinitionSpec {
    let containers = td.container_definitions();
    let main = main_container(td);
    let sidecars = containers.iter().enumerate().filter(|(i, _)| *i != main).map(|(_, c)| container_from_aws(Some(c)));
    TaskDefinitionSpec {
        sidecars: sidecars.collect(),
        ..td_fields_from_aws(td, container_from_aws(containers.get(main)))
    }
}

/// The index of the main container of a live task definition (see [`td_from_aws`]).
pub(crate) fn main_container(td: &ecs::TaskDefinition) -> usize {
    let family = td.family().unwrap_or_default();
    td.container_definitions()
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            c.name().is_some_and(|n| family == n || family.strip_suffix(n).is_some_and(|rest| rest.ends_with('-')))
        })
        .max_by_key(|(i, c)| (c.name().map_or(0, str::len), std::cmp::Reverse(*i)))
        .map_or(0, |(i, _)| i)
}

/// One container definition in the spec shape (`None`: a task definition without any).
fn container_from_aws(c: Option<&ecs::ContainerDefinition>) -> ContainerSpec {
    ContainerSpec {
        name: c.and_then(|c| c.name()).unwrap_or_default().to_owned(),
        image: c.and_then(|c| c.image()).unwrap_or_default().to_owned(),
        memory: c.and_then(|c| c.memory()),
        cpu: c.map(|c| c.cpu()).filter(|&cpu| cpu != 0),
        privileged: c.and_then(|c| c.privileged()).unwrap_or(false),
        environment: c
            .map(|c| c.environment())
            .unwrap_or_default()
            .iter()
            .filter_map(|kv| Some((kv.name()?.to_owned(), kv.value().unwrap_or_default().to_owned())))
            .collect(),
        secrets: c
            .map(|c| c.secrets())
            .unwrap_or_default()
            .iter()
            .map(|s| (s.name().to_owned(), s.value_from().to_owned()))
            .collect(),
        port_mappings: {
            let mut ports: Vec<PortMapping> = c
                .map(|c| c.port_mappings())
                .unwrap_or_default()
                .iter()
                .map(|p| PortMapping {
                    container_port: p.container_port().unwrap_or_default().try_into().unwrap_or_default(),
                    // ECS answers `hostPort: 0` for a dynamic bridge port, which a
                    // registration leaves out.
                    host_port: p.host_port().filter(|&h| h != 0).and_then(|h| h.try_into().ok()),
                    protocol: p.protocol().map_or("tcp", |p| p.as_str()).to_owned(),
                    name: p.name().map(str::to_owned),
                    app_protocol: p.app_protocol().map(|a| a.as_str().to_owned()),
                })
                .collect();
            ports.sort();
            ports
        },
        mount_points: c
            .map(|c| c.mount_points())
            .unwrap_or_default()
            .iter()
            .map(|m| MountPoint {
                source_volume: m.source_volume().unwrap_or_default().to_owned(),
                container_path: m.container_path().unwrap_or_default().to_owned(),
                read_only: m.read_only().unwrap_or(false),
            })
            .collect(),
        log_configuration: c.and_then(|c| c.log_configuration()).map(|l| LogConfiguration {
            driver: l.log_driver().as_str().to_owned(),
            options: l.options().map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
        }),
        health_check: c.and_then(|c| c.health_check()).map(|h| ContainerHealthCheck {
            command: h.command().to_vec(),
            interval: h.interval().unwrap_or(30),
            timeout: h.timeout().unwrap_or(5),
            retries: h.retries().unwrap_or(3),
            start_period: h.start_period().unwrap_or(0),
        }),
        gpus: c
            .map(|c| c.resource_requirements())
            .unwrap_or_default()
            .iter()
            .find(|r| r.r#type() == &ecs::ResourceType::Gpu)
            .and_then(|r| r.value().parse().ok()),
        command: c.map(|c| c.command().to_vec()).unwrap_or_default(),
        entry_point: c.map(|c| c.entry_point().to_vec()).unwrap_or_default(),
        working_directory: c.and_then(|c| c.working_directory()).map(str::to_owned),
        user: c.and_then(|c| c.user()).map(str::to_owned),
        stop_timeout: c.and_then(|c| c.stop_timeout()),
        readonly_root_filesystem: c.and_then(|c| c.readonly_root_filesystem()).unwrap_or(false),
        ulimits: {
            let mut ulimits: Vec<Ulimit> = c
                .map(|c| c.ulimits())
                .unwrap_or_default()
                .iter()
                .map(|u| Ulimit {
                    name: u.name().as_str().to_owned(),
                    soft_limit: u.soft_limit(),
                    hard_limit: u.hard_limit(),
                })
                .collect();
            ulimits.sort();
            ulimits
        },
        docker_labels: c
            .and_then(|c| c.docker_labels())
            .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        init_process_enabled: c
            .and_then(|c| c.linux_parameters())
            .and_then(|l| l.init_process_enabled())
            .unwrap_or(false),
        // Unset is ECS's default, essential.
        essential: c.and_then(|c| c.essential()).unwrap_or(true),
        depends_on: c
            .map(|c| c.depends_on())
            .unwrap_or_default()
            .iter()
            .map(|d| ContainerDependency {
                container: d.container_name().to_owned(),
                condition: d.condition().as_str().to_owned(),
            })
            .collect(),
        firelens: c.and_then(|c| c.firelens_configuration()).map(|f| Firelens {
            kind: f.r#type().as_str().to_owned(),
            options: f.options().map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
        }),
    }
}

/// The task-level fields of a live task definition, around its main container.
fn td_fields_from_aws(td: &ecs::TaskDefinition, container: ContainerSpec) -> TaskDefinitionSpec {
    TaskDefinitionSpec {
        family: td.family().unwrap_or_default().to_owned(),
        network_mode: td.network_mode().map_or("bridge", |n| n.as_str()).to_owned(),
        requires_compatibilities: td.requires_compatibilities().iter().map(|c| c.as_str().to_owned()).collect(),
        cpu: td.cpu().map(str::to_owned),
        memory: td.memory().map(str::to_owned),
        task_role_arn: td.task_role_arn().map(str::to_owned),
        execution_role_arn: td.execution_role_arn().map(str::to_owned),
        volumes: td
            .volumes()
            .iter()
            .map(|v| VolumeSpec {
                name: v.name().unwrap_or_default().to_owned(),
                host_path: v.host().and_then(|h| h.source_path()).unwrap_or_default().to_owned(),
            })
            .collect(),
        placement_constraints: td
            .placement_constraints()
            .iter()
            .map(|p| placement_constraint_from_aws(p.r#type().map(|t| t.as_str()), p.expression()))
            .collect(),
        container,
        // As the stackfile resolves it: an unset architecture or OS is ECS's default.
        runtime_platform: td.runtime_platform().map(|p| RuntimePlatform {
            cpu_architecture: p.cpu_architecture().map_or("X86_64", |a| a.as_str()).to_owned(),
            os_family: p.operating_system_family().map_or("LINUX", |o| o.as_str()).to_owned(),
        }),
        ephemeral_storage: td.ephemeral_storage().map(|e| e.size_in_gib()),
        // Tags are not part of the task definition: DescribeTaskDefinition returns them
        // beside it, and the callers fill them in with `td_tags_from_aws`.
        tags: BTreeMap::new(),
        sidecars: Vec::new(),
    }
}

/// The stackfile's tags of a task definition among its live tags: all but bosun's own.
pub(crate) fn td_tags_from_aws(tags: &[ecs::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?, t.value()?)))
        .filter(|(k, _)| !k.starts_with("bosun:"))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The tags to register a task definition with: bosun's, then the stackfile's.
pub(crate) fn td_tags_to_aws(owner: &Owner, spec_hash: &str, spec: &TaskDefinitionSpec) -> Vec<ecs::Tag> {
    let mut out = ecs_tags(owner, &[(tags::SPEC_HASH, spec_hash)]);
    out.extend(spec.tags.iter().map(|(k, v)| ecs::Tag::builder().key(k).value(v).build()));
    out
}

/// The settings of a live service (capacity, ECS Exec, grace period, tags).
pub(crate) fn service_settings_from_aws(s: &ecs::Service) -> ServiceSettings {
    ServiceSettings {
        capacity_provider_strategy: strategy_from_aws(s.capacity_provider_strategy()),
        propagate_tags: PropagateTags::from_aws(s.propagate_tags().map(|p| p.as_str())),
        enable_execute_command: s.enable_execute_command(),
        health_check_grace_period: s.health_check_grace_period_seconds().unwrap_or(0),
        enable_ecs_managed_tags: s.enable_ecs_managed_tags(),
        service_connect: service_connect_from_aws(s),
    }
}

/// Service Connect of a live service, from its PRIMARY deployment (where ECS reports
/// it; the service itself does not carry it); `None` when it is off. A discovery name
/// ECS defaulted is the port name, as the stackfile's default is.
pub(crate) fn service_connect_from_aws(s: &ecs::Service) -> Option<ServiceConnectSpec> {
    let primary = s.deployments().iter().find(|d| d.status() == Some("PRIMARY"))?;
    let sc = primary.service_connect_configuration().filter(|c| c.enabled())?;
    Some(ServiceConnectSpec {
        namespace: sc.namespace().unwrap_or_default().to_owned(),
        services: sc
            .services()
            .iter()
            .map(|x| ConnectService {
                port_name: x.port_name().to_owned(),
                discovery_name: x.discovery_name().unwrap_or(x.port_name()).to_owned(),
                client_aliases: x
                    .client_aliases()
                    .iter()
                    .map(|a| ClientAlias {
                        port: a.port().try_into().unwrap_or_default(),
                        dns_name: a.dns_name().unwrap_or_default().to_owned(),
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// Service Connect for CreateService and UpdateService; `None` turns it off
/// (`enabled: false`), as UpdateService needs to remove it.
pub(crate) fn service_connect_to_aws(
    sc: Option<&ServiceConnectSpec>,
) -> Result<ecs::ServiceConnectConfiguration, ApplyFailure> {
    let Some(sc) = sc else {
        return Ok(ecs::ServiceConnectConfiguration::builder().enabled(false).build());
    };
    let mut services = Vec::with_capacity(sc.services.len());
    for x in &sc.services {
        let mut aliases = Vec::with_capacity(x.client_aliases.len());
        for a in &x.client_aliases {
            aliases.push(built(
                ecs::ServiceConnectClientAlias::builder().port(i32::from(a.port)).dns_name(&a.dns_name).build(),
            )?);
        }
        services.push(built(
            ecs::ServiceConnectService::builder()
                .port_name(&x.port_name)
                .discovery_name(&x.discovery_name)
                .set_client_aliases(Some(aliases))
                .build(),
        )?);
    }
    Ok(ecs::ServiceConnectConfiguration::builder()
        .enabled(true)
        .namespace(&sc.namespace)
        .set_services(Some(services))
        .build())
}

/// A capacity provider strategy as ECS reports it.
pub(crate) fn strategy_from_aws(items: &[ecs::CapacityProviderStrategyItem]) -> Vec<CapacityProviderItem> {
    items
        .iter()
        .map(|i| CapacityProviderItem {
            provider: i.capacity_provider().to_owned(),
            weight: i.weight(),
            base: i.base(),
        })
        .collect()
}

/// A cluster's capacity providers (sorted) and default strategy.
pub(crate) fn cluster_capacity_from_aws(cluster: &ecs::Cluster) -> ClusterCapacity {
    let mut providers: Vec<String> = cluster.capacity_providers().to_vec();
    providers.sort();
    ClusterCapacity { providers, default_strategy: strategy_from_aws(cluster.default_capacity_provider_strategy()) }
}

/// The cluster settings of a `cluster:` block's Container Insights value.
pub(crate) fn container_insights_to_aws(value: &str) -> ecs::ClusterSetting {
    ecs::ClusterSetting::builder().name(ecs::ClusterSettingName::ContainerInsights).value(value).build()
}

/// A capacity provider strategy for CreateService and UpdateService.
pub(crate) fn strategy_to_aws(
    items: &[CapacityProviderItem],
) -> Result<Vec<ecs::CapacityProviderStrategyItem>, ApplyFailure> {
    items
        .iter()
        .map(|i| {
            built(
                ecs::CapacityProviderStrategyItem::builder()
                    .capacity_provider(&i.provider)
                    .weight(i.weight)
                    .base(i.base)
                    .build(),
            )
        })
        .collect()
}

/// `propagateTags` for CreateService and UpdateService.
pub(crate) fn propagate_tags_to_aws(p: Option<PropagateTags>) -> ecs::PropagateTags {
    ecs::PropagateTags::from(PropagateTags::show(p))
}

/// A task definition's runtime platform, for RegisterTaskDefinition.
pub(crate) fn runtime_platform_to_aws(p: &RuntimePlatform) -> ecs::RuntimePlatform {
    ecs::RuntimePlatform::builder()
        .cpu_architecture(ecs::CpuArchitecture::from(p.cpu_architecture.as_str()))
        .operating_system_family(ecs::OsFamily::from(p.os_family.as_str()))
        .build()
}

/// A task definition's ephemeral storage, for RegisterTaskDefinition.
pub(crate) fn ephemeral_storage_to_aws(gib: i32) -> ecs::EphemeralStorage {
    ecs::EphemeralStorage::builder().size_in_gib(gib).build()
}

/// The container definition to register for one container of a spec (the main one or
/// a sidecar).
pub(crate) fn container_to_aws(c: &ContainerSpec) -> Result<ecs::ContainerDefinition, ApplyFailure> {
    let mut b = ecs::ContainerDefinition::builder()
        .name(&c.name)
        .image(&c.image)
        .essential(c.essential)
        .privileged(c.privileged)
        .set_memory(c.memory)
        .set_environment(Some(
            c.environment.iter().map(|(k, v)| ecs::KeyValuePair::builder().name(k).value(v).build()).collect(),
        ))
        .set_port_mappings(Some(
            c.port_mappings
                .iter()
                .map(|p| {
                    ecs::PortMapping::builder()
                        .container_port(i32::from(p.container_port))
                        .set_host_port(p.host_port.map(i32::from))
                        .protocol(ecs::TransportProtocol::from(p.protocol.as_str()))
                        .set_name(p.name.clone())
                        .set_app_protocol(p.app_protocol.as_deref().map(ecs::ApplicationProtocol::from))
                        .build()
                })
                .collect(),
        ))
        .set_mount_points(Some(
            c.mount_points
                .iter()
                .map(|m| {
                    ecs::MountPoint::builder()
                        .source_volume(&m.source_volume)
                        .container_path(&m.container_path)
                        .read_only(m.read_only)
                        .build()
                })
                .collect(),
        ));
    if let Some(cpu) = c.cpu {
        b = b.cpu(cpu);
    }
    for (name, from) in &c.secrets {
        b = b.secrets(built(ecs::Secret::builder().name(name).value_from(from).build())?);
    }
    if let Some(l) = &c.log_configuration {
        let mut lb = ecs::LogConfiguration::builder().log_driver(ecs::LogDriver::from(l.driver.as_str()));
        for (k, v) in &l.options {
            lb = lb.options(k, v);
        }
        b = b.log_configuration(built(lb.build())?);
    }
    if let Some(h) = &c.health_check {
        b = b.health_check(built(
            ecs::HealthCheck::builder()
                .set_command(Some(h.command.clone()))
                .interval(h.interval)
                .timeout(h.timeout)
                .retries(h.retries)
                .start_period(h.start_period)
                .build(),
        )?);
    }
    // Each setting is sent only when the spec has it, so an unset one is absent from
    // the request, as it was before the stackfile could say it.
    if !c.command.is_empty() {
        b = b.set_command(Some(c.command.clone()));
    }
    if !c.entry_point.is_empty() {
        b = b.set_entry_point(Some(c.entry_point.clone()));
    }
    b = b.set_working_directory(c.working_directory.clone()).set_user(c.user.clone()).set_stop_timeout(c.stop_timeout);
    if c.readonly_root_filesystem {
        b = b.readonly_root_filesystem(true);
    }
    for u in &c.ulimits {
        b = b.ulimits(built(
            ecs::Ulimit::builder()
                .name(ecs::UlimitName::from(u.name.as_str()))
                .soft_limit(u.soft_limit)
                .hard_limit(u.hard_limit)
                .build(),
        )?);
    }
    for (k, v) in &c.docker_labels {
        b = b.docker_labels(k, v);
    }
    if c.init_process_enabled {
        b = b.linux_parameters(ecs::LinuxParameters::builder().init_process_enabled(true).build());
    }
    for d in &c.depends_on {
        b = b.depends_on(built(
            ecs::ContainerDependency::builder()
                .container_name(&d.container)
                .condition(ecs::ContainerCondition::from(d.condition.as_str()))
                .build(),
        )?);
    }
    if let Some(f) = &c.firelens {
        let mut fb =
            ecs::FirelensConfiguration::builder().r#type(ecs::FirelensConfigurationType::from(f.kind.as_str()));
        for (k, v) in &f.options {
            fb = fb.options(k, v);
        }
        b = b.firelens_configuration(built(fb.build())?);
    }
    if let Some(g) = c.gpus {
        b = b.resource_requirements(built(
            ecs::ResourceRequirement::builder().r#type(ecs::ResourceType::Gpu).value(g.to_string()).build(),
        )?);
    }
    Ok(b.build())
}

/// awsvpc configuration of a service or task.
pub(crate) fn network_to_aws(n: &NetworkSpec) -> Result<ecs::NetworkConfiguration, ApplyFailure> {
    Ok(ecs::NetworkConfiguration::builder()
        .awsvpc_configuration(built(
            ecs::AwsVpcConfiguration::builder()
                .set_subnets(Some(n.subnets.clone()))
                .set_security_groups(Some(n.security_groups.clone()))
                .assign_public_ip(if n.assign_public_ip {
                    ecs::AssignPublicIp::Enabled
                } else {
                    ecs::AssignPublicIp::Disabled
                })
                .build(),
        )?)
        .build())
}

/// awsvpc configuration in the desired shape.
pub(crate) fn network_from_aws(n: Option<&ecs::NetworkConfiguration>) -> Option<NetworkSpec> {
    let v = n?.awsvpc_configuration()?;
    let mut subnets = v.subnets().to_vec();
    subnets.sort();
    let mut security_groups = v.security_groups().to_vec();
    security_groups.sort();
    Some(NetworkSpec {
        subnets,
        security_groups,
        assign_public_ip: v.assign_public_ip() == Some(&ecs::AssignPublicIp::Enabled),
    })
}

pub(crate) fn placement_strategy_to_aws(p: &[PlacementStrategy]) -> Vec<ecs::PlacementStrategy> {
    p.iter()
        .map(|s| {
            ecs::PlacementStrategy::builder()
                .r#type(ecs::PlacementStrategyType::from(s.kind.as_str()))
                .set_field(s.field.clone())
                .build()
        })
        .collect()
}

/// A placement constraint of a service or a task definition, as the stackfile has it.
/// A constraint without a type is `memberOf`: the one type that takes an expression,
/// and the only type a task definition's constraints have.
pub(crate) fn placement_constraint_from_aws(kind: Option<&str>, expression: Option<&str>) -> PlacementConstraint {
    PlacementConstraint { kind: kind.unwrap_or("memberOf").to_owned(), expression: expression.map(str::to_owned) }
}

/// A service's placement strategy, as the stackfile has it.
pub(crate) fn placement_strategy_from_aws(p: &[ecs::PlacementStrategy]) -> Vec<PlacementStrategy> {
    p.iter()
        .map(|p| PlacementStrategy {
            kind: p.r#type().map_or("", |t| t.as_str()).to_owned(),
            field: p.field().map(str::to_owned),
        })
        .collect()
}

/// A task definition's placement constraints, for RegisterTaskDefinition.
pub(crate) fn task_placement_constraints_to_aws(
    p: &[PlacementConstraint],
) -> Vec<ecs::TaskDefinitionPlacementConstraint> {
    p.iter()
        .map(|c| {
            ecs::TaskDefinitionPlacementConstraint::builder()
                .r#type(ecs::TaskDefinitionPlacementConstraintType::from(c.kind.as_str()))
                .set_expression(c.expression.clone())
                .build()
        })
        .collect()
}

/// A service's placement constraints, for CreateService and UpdateService.
pub(crate) fn placement_constraints_to_aws(p: &[PlacementConstraint]) -> Vec<ecs::PlacementConstraint> {
    p.iter()
        .map(|c| {
            ecs::PlacementConstraint::builder()
                .r#type(ecs::PlacementConstraintType::from(c.kind.as_str()))
                .set_expression(c.expression.clone())
                .build()
        })
        .collect()
}

/// Tag pairs of an ECS tag list.
pub(crate) fn ecs_tag_pairs(tags: &[ecs::Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter().filter_map(|t| Some((t.key()?, t.value()?)))
}

/// The value of one ECS tag.
pub(crate) fn ecs_tag<'a>(tags: &'a [ecs::Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(alias_port: u16) -> ServiceConnectSpec {
        ServiceConnectSpec {
            namespace: "staging.sd".into(),
            services: vec![ConnectService {
                port_name: "http".into(),
                discovery_name: "api".into(),
                client_aliases: vec![ClientAlias { port: alias_port, dns_name: "api.internal".into() }],
            }],
        }
    }

    fn deployment(status: &str, sc: ecs::ServiceConnectConfiguration) -> ecs::Deployment {
        ecs::Deployment::builder().status(status).service_connect_configuration(sc).build()
    }

    #[test]
    fn service_connect_is_read_from_the_primary_deployment_as_it_was_sent() {
        let sent = service_connect_to_aws(Some(&spec(80))).unwrap();
        let old = service_connect_to_aws(Some(&spec(8080))).unwrap();
        let svc = ecs::Service::builder()
            .deployments(deployment("ACTIVE", old))
            .deployments(deployment("PRIMARY", sent))
            .build();
        assert_eq!(service_connect_from_aws(&svc), Some(spec(80)));
    }

    #[test]
    fn removal_is_sent_as_disabled_and_read_back_as_none() {
        let off = service_connect_to_aws(None).unwrap();
        assert!(!off.enabled() && off.namespace().is_none() && off.services().is_empty());
        let svc = ecs::Service::builder().deployments(deployment("PRIMARY", off)).build();
        assert_eq!(service_connect_from_aws(&svc), None);
        let never = ecs::Service::builder().deployments(ecs::Deployment::builder().status("PRIMARY").build()).build();
        assert_eq!(service_connect_from_aws(&never), None);
    }

    #[test]
    fn a_discovery_name_ecs_defaulted_is_the_port_name() {
        let sc = ecs::ServiceConnectConfiguration::builder()
            .enabled(true)
            .namespace("staging.sd")
            .services(ecs::ServiceConnectService::builder().port_name("http").build().unwrap())
            .build();
        let svc = ecs::Service::builder().deployments(deployment("PRIMARY", sc)).build();
        let got = service_connect_from_aws(&svc).unwrap();
        assert_eq!(got.services[0].discovery_name, "http");
    }
}
