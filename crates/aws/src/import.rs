//! Read a cluster that bosun does not manage yet into a [`LiveCluster`], for
//! `bosun import`. Only reads, with the largest pages and batches AWS allows: the
//! cluster (its capacity providers and default strategy), its services (DescribeServices
//! by 10) and their task definitions, their scalable targets with their policies and
//! scheduled actions (as a reconcile reads them), the target groups and load balancers
//! they register in with their listeners and rules, the alias records in the zones asked
//! for, and the Cloud Map services and namespaces. What the
//! stackfile's shapes cannot hold is kept as a note, one sentence each; no value of an
//! environment variable is ever put in one.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::types as ecs;
use aws_sdk_elasticloadbalancingv2::types as elb;
use aws_sdk_route53::operation::get_hosted_zone::GetHostedZoneError;
use aws_sdk_servicediscovery::types as sd;
use bosun_plan::Owner;
use bosun_stackfile::import::{
    LiveAction, LiveAttachment, LiveCluster, LiveDiscoveryService, LiveListener, LiveLoadBalancer, LiveNamespace,
    LiveRecord, LiveRule, LiveScaling, LiveService, LiveServiceSettings, LiveTargetGroup,
};
use bosun_stackfile::limits::MAX_SERVICES;
use bosun_stackfile::{LaunchType, Protocol, Scheme, TaskDefinitionSpec};
use futures::{StreamExt, TryStreamExt, stream};

use crate::Clients;
use crate::convert::{
    cluster_capacity_from_aws, ecs_tag_pairs, main_container, network_from_aws, placement_constraint_from_aws,
    placement_strategy_from_aws, service_settings_from_aws, target_group_from_aws, td_from_aws, td_tags_from_aws,
};
use crate::error::AwsError;
use crate::observe::{describe_services, list_services};
use crate::scaling::observe_scaling;

/// Reads in flight at once, as the observer's.
const READ_CONCURRENCY: usize = 32;
/// ELBv2 DescribeTargetGroups and DescribeLoadBalancers take at most 20 ARNs.
const ELB_BATCH: usize = 20;

/// What to import.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    /// The ECS cluster.
    pub cluster: String,
    /// Only these services (all of the cluster's when empty).
    pub services: Vec<String>,
    /// Hosted zones whose alias records to the services' load balancers are imported.
    pub zone_ids: Vec<String>,
}

/// Why the cluster could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImportReadError {
    /// No ACTIVE cluster of that name.
    #[error("there is no ACTIVE ECS cluster `{0}`")]
    NoCluster(String),
    /// `--services` named services the cluster does not have.
    #[error("cluster `{cluster}` has no ACTIVE service {}", missing.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "))]
    NoSuchServices {
        /// The cluster.
        cluster: String,
        /// The services not found.
        missing: Vec<String>,
    },
    /// More services than one stackfile holds.
    #[error("cluster `{cluster}` has {count} services to import; a stackfile holds at most {MAX_SERVICES}")]
    TooManyServices {
        /// The cluster.
        cluster: String,
        /// How many.
        count: usize,
    },
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Read the cluster `req` names, its services and what they use.
pub async fn read_cluster(c: &Clients, req: &ImportRequest) -> Result<LiveCluster, ImportReadError> {
    let name = req.cluster.as_str();
    let clusters = c
        .ecs
        .describe_clusters()
        .clusters(name)
        .send()
        .await
        .map_err(|e| AwsError::ecs("DescribeClusters", format!("cluster {name}"), e))?;
    let Some(cluster) = clusters.clusters().iter().find(|cl| cl.status() == Some("ACTIVE")) else {
        return Err(ImportReadError::NoCluster(name.to_owned()));
    };
    let arns = list_services(c, name).await?;
    let described = describe_services(c, name, arns).await?;
    let active: Vec<&ecs::Service> = described.iter().filter(|s| s.status() == Some("ACTIVE")).collect();
    let wanted: BTreeSet<&str> = req.services.iter().map(String::as_str).collect();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|w| !active.iter().any(|s| s.service_name() == Some(**w)))
        .map(|w| (*w).to_owned())
        .collect();
    if !missing.is_empty() {
        return Err(ImportReadError::NoSuchServices { cluster: name.to_owned(), missing });
    }
    let mut live = LiveCluster {
        cluster: name.to_owned(),
        capacity: cluster_capacity_from_aws(cluster),
        ..LiveCluster::default()
    };
    let mut chosen = Vec::new();
    for s in active {
        let service = s.service_name().unwrap_or_default();
        if !wanted.is_empty() && !wanted.contains(service) {
            continue;
        }
        if Owner::from_tags(ecs_tag_pairs(s.tags())).is_owned_by(name) {
            live.managed.push(service.to_owned());
        } else {
            chosen.push(s);
        }
    }
    if chosen.len() > MAX_SERVICES {
        return Err(ImportReadError::TooManyServices { cluster: name.to_owned(), count: chosen.len() });
    }
    live.services =
        stream::iter(chosen).map(|s| service(c, s)).buffer_unordered(READ_CONCURRENCY).try_collect().await?;
    scaling(c, &mut live).await?;
    load_balancing(c, &mut live).await?;
    discovery(c, &mut live).await?;
    records(c, &mut live, &req.zone_ids).await?;
    Ok(live)
}

/// The scalable targets of the services, read as a reconcile reads them: one
/// DescribeScalableTargets per 50 services, and only the targets found cost more.
async fn scaling(c: &Clients, live: &mut LiveCluster) -> Result<(), AwsError> {
    let names: BTreeSet<String> = live.services.iter().map(|s| s.name.clone()).collect();
    let mut targets = observe_scaling(c, &live.cluster, &names).await?;
    for s in &mut live.services {
        s.scaling = targets.remove(&s.name).map(|t| LiveScaling {
            min: t.min,
            max: t.max,
            owned: t.owner.is_owned_by(&live.cluster),
            policies: t.policies,
            scheduled: t.scheduled,
        });
    }
    Ok(())
}

/// A service and its task definition, with notes for what a stackfile cannot hold.
async fn service(c: &Clients, s: &ecs::Service) -> Result<LiveService, AwsError> {
    let name = s.service_name().unwrap_or_default().to_owned();
    let arn = s.task_definition().unwrap_or_default();
    let out = c
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .include(ecs::TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| AwsError::ecs("DescribeTaskDefinition", format!("task definition {arn}"), e))?;
    let td = out.task_definition().cloned().unwrap_or_else(|| ecs::TaskDefinition::builder().build());
    let mut notes = service_notes(s, &td);
    notes.extend(task_definition_notes(&td));
    let dc = s.deployment_configuration();
    let cb = dc.and_then(|d| d.deployment_circuit_breaker());
    Ok(LiveService {
        name,
        task_definition: TaskDefinitionSpec { tags: td_tags_from_aws(out.tags()), ..td_from_aws(&td) },
        notes,
        desired_count: s.desired_count(),
        launch_type: match s.launch_type() {
            Some(ecs::LaunchType::Fargate) => Some(LaunchType::Fargate),
            Some(_) => Some(LaunchType::Ec2),
            None => None,
        },
        network: network_from_aws(s.network_configuration()),
        load_balancers: s
            .load_balancers()
            .iter()
            .filter_map(|l| {
                Some(LiveAttachment {
                    target_group_arn: l.target_group_arn()?.to_owned(),
                    container_name: l.container_name().unwrap_or_default().to_owned(),
                    container_port: l.container_port().unwrap_or_default().try_into().unwrap_or_default(),
                })
            })
            .collect(),
        registries: s.service_registries().iter().filter_map(|r| r.registry_arn().map(str::to_owned)).collect(),
        circuit_breaker: cb.is_some_and(|c| c.enable()),
        rollback: cb.is_some_and(|c| c.rollback()),
        min_healthy_percent: dc.and_then(|d| d.minimum_healthy_percent()).unwrap_or(100),
        max_percent: dc.and_then(|d| d.maximum_percent()).unwrap_or(200),
        placement_strategy: placement_strategy_from_aws(s.placement_strategy()),
        placement_constraints: s
            .placement_constraints()
            .iter()
            .map(|p| placement_constraint_from_aws(p.r#type().map(|t| t.as_str()), p.expression()))
            .collect(),
        settings: {
            let live = service_settings_from_aws(s);
            LiveServiceSettings {
                capacity_provider_strategy: live.capacity_provider_strategy,
                propagate_tags: live.propagate_tags,
                enable_execute_command: live.enable_execute_command,
                health_check_grace_period: live.health_check_grace_period,
                enable_ecs_managed_tags: live.enable_ecs_managed_tags,
                service_connect: live.service_connect,
            }
        },
        scaling: None,
    })
}

/// Service settings a stackfile cannot say.
fn service_notes(s: &ecs::Service, td: &ecs::TaskDefinition) -> Vec<String> {
    let mut notes = Vec::new();
    if s.scheduling_strategy() == Some(&ecs::SchedulingStrategy::Daemon) {
        notes.push("it is a DAEMON service; bosun's services are REPLICA".into());
    }
    if let Some(kind) =
        s.deployment_controller().map(|d| d.r#type()).filter(|t| **t != ecs::DeploymentControllerType::Ecs)
    {
        notes.push(format!("its deployments are controlled by {}; bosun deploys through ECS", kind.as_str()));
    }
    // ECS uses a grace period only with a load balancer or a container health check,
    // and a stackfile refuses it otherwise.
    let health_check = td.container_definitions().get(main_container(td)).and_then(|c| c.health_check()).is_some();
    if s.health_check_grace_period_seconds().is_some_and(|g| g > 0) && s.load_balancers().is_empty() && !health_check {
        notes.push("it has a health check grace period but no load balancer or container health check; a stackfile refuses that, so the plan would reset it to 0".into());
    }
    if s.load_balancers().iter().any(|l| l.load_balancer_name().is_some()) {
        notes.push("it registers with a Classic Load Balancer, which a stackfile cannot name".into());
    }
    notes
}

/// Task definition settings a stackfile cannot say: a new revision would lose them.
fn task_definition_notes(td: &ecs::TaskDefinition) -> Vec<String> {
    let mut notes = Vec::new();
    let main = main_container(td);
    for (i, c) in td.container_definitions().iter().enumerate() {
        let have = unsaid(c, i == main);
        let which = if i == main {
            "its container".to_owned()
        } else {
            format!("its container `{}`", c.name().unwrap_or_default())
        };
        if !have.is_empty() {
            notes.push(format!(
                "{which} has {}, which a stackfile cannot say: a new revision would lose it",
                have.join(", ")
            ));
        }
        if c.log_configuration().is_some_and(|l| !l.secret_options().is_empty()) {
            notes.push(format!("the log configuration of {which} has secret options, which a new revision would lose"));
        }
    }
    if td.volumes().iter().any(|v| v.host().and_then(|h| h.source_path()).is_none()) {
        notes.push("it has volumes other than host paths (EFS, Docker volumes, bind mounts without a path), which a stackfile cannot say".into());
    }
    let task_level: [(&str, bool); 3] = [
        ("a PID or IPC mode", td.pid_mode().is_some() || td.ipc_mode().is_some()),
        ("a proxy configuration", td.proxy_configuration().is_some()),
        ("both EC2 and Fargate compatibilities", td.requires_compatibilities().len() > 1),
    ];
    let have: Vec<&str> = task_level.iter().filter(|(_, on)| *on).map(|(what, _)| *what).collect();
    if !have.is_empty() {
        notes.push(format!("its task definition has {}, which a stackfile cannot say", have.join(", ")));
    }
    notes
}

/// What a container has that its stackfile entry cannot say: the service's keys for the
/// main container, a `containers:` entry's for a sidecar.
fn unsaid(c: &ecs::ContainerDefinition, main: bool) -> Vec<&'static str> {
    let sidecar = !main;
    // Of the Linux parameters, a stackfile says `initProcessEnabled` of the main container.
    let linux = c.linux_parameters().is_some_and(|l| {
        sidecar
            || l.capabilities().is_some()
            || !l.devices().is_empty()
            || l.shared_memory_size().is_some()
            || !l.tmpfs().is_empty()
            || l.max_swap().is_some()
            || l.swappiness().is_some()
    });
    let set: [(&str, bool); 18] = [
        ("a working directory", sidecar && c.working_directory().is_some()),
        ("a user", sidecar && c.user().is_some()),
        ("a soft memory limit (memoryReservation)", c.memory_reservation().is_some()),
        ("`essential: false`", main && c.essential() == Some(false)),
        ("links", !c.links().is_empty()),
        ("ulimits", sidecar && !c.ulimits().is_empty()),
        ("Linux parameters", linux),
        ("Docker labels", sidecar && c.docker_labels().is_some_and(|l| !l.is_empty())),
        ("environment files", !c.environment_files().is_empty()),
        ("a read-only root file system", sidecar && c.readonly_root_filesystem() == Some(true)),
        ("a start timeout", c.start_timeout().is_some()),
        ("a stop timeout", sidecar && c.stop_timeout().is_some()),
        ("repository credentials", c.repository_credentials().is_some()),
        ("port ranges", c.port_mappings().iter().any(|p| p.container_port_range().is_some())),
        ("a FireLens configuration", main && c.firelens_configuration().is_some()),
        ("`privileged`", sidecar && c.privileged() == Some(true)),
        (
            "mount points or volumes from other containers",
            sidecar && (!c.mount_points().is_empty() || !c.volumes_from().is_empty()),
        ),
        ("GPUs", sidecar && !c.resource_requirements().is_empty()),
    ];
    set.iter().filter(|(_, on)| *on).map(|(what, _)| *what).collect()
}

/// Target groups of the services, their load balancers, listeners and rules.
async fn load_balancing(c: &Clients, live: &mut LiveCluster) -> Result<(), AwsError> {
    let tg_arns: BTreeSet<String> =
        live.services.iter().flat_map(|s| &s.load_balancers).map(|a| a.target_group_arn.clone()).collect();
    let tg_arns: Vec<String> = tg_arns.into_iter().collect();
    let groups: Vec<Vec<elb::TargetGroup>> = stream::iter(tg_arns.chunks(ELB_BATCH).map(<[String]>::to_vec))
        .map(|batch| async move {
            c.elb
                .describe_target_groups()
                .set_target_group_arns(Some(batch))
                .send()
                .await
                .map(|o| o.target_groups().to_vec())
                .map_err(|e| AwsError::elb("DescribeTargetGroups", "target groups of the services", e))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    for tg in groups.into_iter().flatten() {
        let arn = tg.target_group_arn().unwrap_or_default().to_owned();
        let mut notes = Vec::new();
        if tg.protocol() != Some(&elb::ProtocolEnum::Http) {
            notes.push(format!(
                "target group `{}` speaks {} to its targets; bosun's speak HTTP",
                tg.target_group_name().unwrap_or_default(),
                tg.protocol().map_or("no protocol", |p| p.as_str())
            ));
        }
        let load_balancer_arns = tg.load_balancer_arns().to_vec();
        live.target_groups
            .insert(arn.clone(), LiveTargetGroup { arn, spec: target_group_from_aws(&tg), load_balancer_arns, notes });
    }
    let lb_arns: BTreeSet<String> = live.target_groups.values().flat_map(|t| &t.load_balancer_arns).cloned().collect();
    let lb_arns: Vec<String> = lb_arns.into_iter().collect();
    let lbs: Vec<Vec<elb::LoadBalancer>> = stream::iter(lb_arns.chunks(ELB_BATCH).map(<[String]>::to_vec))
        .map(|batch| async move {
            c.elb
                .describe_load_balancers()
                .set_load_balancer_arns(Some(batch))
                .send()
                .await
                .map(|o| o.load_balancers().to_vec())
                .map_err(|e| AwsError::elb("DescribeLoadBalancers", "load balancers of the services", e))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let read: Vec<LiveLoadBalancer> = stream::iter(lbs.into_iter().flatten())
        .map(|l| load_balancer(c, l))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    live.load_balancers = read.into_iter().map(|l| (l.arn.clone(), l)).collect();
    Ok(())
}

async fn load_balancer(c: &Clients, l: elb::LoadBalancer) -> Result<LiveLoadBalancer, AwsError> {
    let name = l.load_balancer_name().unwrap_or_default().to_owned();
    let arn = l.load_balancer_arn().unwrap_or_default().to_owned();
    let mut notes = Vec::new();
    if l.r#type() != Some(&elb::LoadBalancerTypeEnum::Application) {
        notes.push(format!("load balancer `{name}` is not an application load balancer"));
    }
    let mut listeners = Vec::new();
    let mut pages = c.elb.describe_listeners().load_balancer_arn(&arn).page_size(400).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::elb("DescribeListeners", format!("load balancer {name}"), e))?;
        listeners.extend(page.listeners().iter().cloned());
    }
    let mut out = Vec::new();
    for lis in listeners {
        let listener_arn = lis.listener_arn().unwrap_or_default();
        let mut certificates: Vec<String> =
            lis.certificates().iter().filter_map(|c| c.certificate_arn().map(str::to_owned)).collect();
        certificates.sort();
        out.push(LiveListener {
            port: lis.port().unwrap_or_default().try_into().unwrap_or_default(),
            protocol: match lis.protocol() {
                Some(elb::ProtocolEnum::Http) => Some(Protocol::Http),
                Some(elb::ProtocolEnum::Https) => Some(Protocol::Https),
                _ => None,
            },
            certificates,
            default_action: action(lis.default_actions()),
            rules: rules(c, listener_arn).await?,
        });
    }
    out.sort_by_key(|l| l.port);
    let mut subnets: Vec<String> =
        l.availability_zones().iter().filter_map(|z| z.subnet_id().map(str::to_owned)).collect();
    subnets.sort();
    let mut security_groups = l.security_groups().to_vec();
    security_groups.sort();
    Ok(LiveLoadBalancer {
        arn,
        name,
        scheme: if l.scheme() == Some(&elb::LoadBalancerSchemeEnum::Internal) {
            Scheme::Internal
        } else {
            Scheme::InternetFacing
        },
        subnets,
        security_groups,
        dns_name: l.dns_name().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase(),
        listeners: out,
        notes,
    })
}

/// A listener's or rule's actions, as far as a stackfile can tell them apart.
fn action(actions: &[elb::Action]) -> LiveAction {
    let [a] = actions else {
        return LiveAction::Other { description: format!("{} actions", actions.len()) };
    };
    match a.r#type() {
        Some(elb::ActionTypeEnum::Forward) => {
            let groups = a.forward_config().map(|f| f.target_groups()).unwrap_or_default();
            match (a.target_group_arn(), groups) {
                (Some(arn), _) => LiveAction::Forward { target_group_arn: arn.to_owned() },
                (None, [one]) if one.target_group_arn().is_some() => {
                    LiveAction::Forward { target_group_arn: one.target_group_arn().unwrap_or_default().to_owned() }
                }
                _ => LiveAction::Other { description: format!("a weighted forward to {} target groups", groups.len()) },
            }
        }
        Some(elb::ActionTypeEnum::FixedResponse) => LiveAction::FixedResponse {
            status_code: a.fixed_response_config().and_then(|f| f.status_code()?.parse().ok()).unwrap_or(0),
        },
        Some(other) => LiveAction::Other { description: format!("a `{}` action", other.as_str()) },
        None => LiveAction::Other { description: "an action of no type".into() },
    }
}

async fn rules(c: &Clients, listener_arn: &str) -> Result<Vec<LiveRule>, AwsError> {
    let mut read = Vec::new();
    let mut marker = None;
    loop {
        let out = c
            .elb
            .describe_rules()
            .listener_arn(listener_arn)
            .page_size(400)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| AwsError::elb("DescribeRules", format!("listener {listener_arn}"), e))?;
        read.extend(out.rules().iter().filter(|r| r.is_default() != Some(true)).cloned());
        marker = out.next_marker().map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    let mut rules: Vec<LiveRule> = read
        .iter()
        .filter_map(|r| {
            let priority: u32 = r.priority()?.parse().ok()?;
            let (mut hosts, mut paths, mut other_conditions) = (Vec::new(), Vec::new(), Vec::new());
            for cond in r.conditions() {
                match cond.field() {
                    Some("host-header") => hosts.extend(
                        cond.host_header_config()
                            .map(|h| h.values().to_vec())
                            .unwrap_or_else(|| cond.values().to_vec()),
                    ),
                    Some("path-pattern") => paths.extend(
                        cond.path_pattern_config()
                            .map(|h| h.values().to_vec())
                            .unwrap_or_else(|| cond.values().to_vec()),
                    ),
                    other => other_conditions.push(format!("`{}`", other.unwrap_or("an unnamed condition"))),
                }
            }
            hosts.sort();
            hosts.dedup();
            paths.sort();
            paths.dedup();
            Some(LiveRule { priority, hosts, paths, action: action(r.actions()), other_conditions })
        })
        .collect();
    rules.sort_by_key(|r| r.priority);
    Ok(rules)
}

/// The Cloud Map services the services register in, and their namespaces.
async fn discovery(c: &Clients, live: &mut LiveCluster) -> Result<(), AwsError> {
    let arns: BTreeSet<String> = live.services.iter().flat_map(|s| &s.registries).cloned().collect();
    let found: Vec<LiveDiscoveryService> = stream::iter(arns)
        .map(|arn| discovery_service(c, arn))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let namespace_ids: BTreeSet<String> = found.iter().map(|d| d.namespace_id.clone()).collect();
    live.discovery = found.into_iter().map(|d| (d.arn.clone(), d)).collect();
    // The VPC of a namespace is needed only when no target group says which VPC it is.
    let vpc_known = !live.target_groups.is_empty();
    let namespaces: Vec<LiveNamespace> = stream::iter(namespace_ids)
        .map(|id| namespace(c, id, vpc_known))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    live.namespaces = namespaces.into_iter().map(|n| (n.id.clone(), n)).collect();
    Ok(())
}

async fn discovery_service(c: &Clients, arn: String) -> Result<LiveDiscoveryService, AwsError> {
    let id = arn.rsplit_once('/').map_or(arn.as_str(), |(_, id)| id);
    let out = c
        .discovery
        .get_service()
        .id(id)
        .send()
        .await
        .map_err(|e| AwsError::cloud_map("GetService", format!("Cloud Map service {arn}"), e))?;
    let s = out.service();
    let name = s.and_then(|s| s.name()).unwrap_or_default().to_owned();
    let dns = s.and_then(|s| s.dns_config());
    let records = dns.map(|d| d.dns_records()).unwrap_or_default();
    let mut notes = Vec::new();
    if records.iter().any(|r| r.r#type() != &sd::RecordType::A) {
        notes.push(format!(
            "Cloud Map service `{name}` has records other than A (SRV, AAAA, CNAME); bosun's have one A record"
        ));
    }
    if dns.and_then(|d| d.routing_policy()).is_some_and(|p| *p != sd::RoutingPolicy::Multivalue) {
        notes.push(format!("Cloud Map service `{name}` routes by weight; bosun's are multivalue"));
    }
    if s.and_then(|s| s.health_check_config()).is_some() {
        notes.push(format!("Cloud Map service `{name}` has a Route53 health check, which a stackfile cannot say"));
    }
    Ok(LiveDiscoveryService {
        name,
        namespace_id: s.and_then(|s| s.namespace_id()).unwrap_or_default().to_owned(),
        dns_ttl: records.iter().find(|r| r.r#type() == &sd::RecordType::A).map(|r| r.ttl()),
        // Deprecated in the API (AWS now always uses 1), yet bosun still writes it, and a
        // stackfile says it: read it so that the two agree.
        #[allow(deprecated)]
        failure_threshold: s.and_then(|s| s.health_check_custom_config()).and_then(|h| h.failure_threshold()),
        notes,
        arn,
    })
}

async fn namespace(c: &Clients, id: String, vpc_known: bool) -> Result<LiveNamespace, AwsError> {
    let out = c
        .discovery
        .get_namespace()
        .id(&id)
        .send()
        .await
        .map_err(|e| AwsError::cloud_map("GetNamespace", format!("Cloud Map namespace {id}"), e))?;
    let ns = out.namespace();
    let name = ns.and_then(|n| n.name()).unwrap_or_default().to_owned();
    let private_dns = ns.and_then(|n| n.r#type()) == Some(&sd::NamespaceType::DnsPrivate);
    let zone = ns.and_then(|n| n.properties()).and_then(|p| p.dns_properties()).and_then(|d| d.hosted_zone_id());
    let vpc_id = match zone {
        Some(zone) if private_dns && !vpc_known => match c.route53.get_hosted_zone().id(zone).send().await {
            Ok(out) => out.vpcs().first().and_then(|v| v.vpc_id()).map(str::to_owned),
            Err(e) if matches!(e.as_service_error(), Some(GetHostedZoneError::NoSuchHostedZone(_))) => None,
            Err(e) => return Err(AwsError::route53("GetHostedZone", format!("hosted zone {zone}"), e)),
        },
        _ => None,
    };
    Ok(LiveNamespace { id, name, private_dns, vpc_id })
}

/// Alias records in `zones` that point at one of the services' load balancers.
async fn records(c: &Clients, live: &mut LiveCluster, zones: &[String]) -> Result<(), AwsError> {
    let targets: BTreeMap<String, ()> = live.load_balancers.values().map(|l| (l.dns_name.clone(), ())).collect();
    if targets.is_empty() {
        return Ok(());
    }
    let zones: BTreeSet<String> =
        zones.iter().map(|z| z.trim().trim_start_matches("/hostedzone/").to_owned()).collect();
    let targets = &targets;
    let per_zone: Vec<Vec<LiveRecord>> = stream::iter(zones)
        .map(|zone| async move {
            let mut found = Vec::new();
            let mut start: Option<(String, aws_sdk_route53::types::RrType)> = None;
            loop {
                let mut req = c.route53.list_resource_record_sets().hosted_zone_id(&zone).max_items(300);
                if let Some((name, ty)) = start.take() {
                    req = req.start_record_name(name).start_record_type(ty);
                }
                let out = req
                    .send()
                    .await
                    .map_err(|e| AwsError::route53("ListResourceRecordSets", format!("hosted zone {zone}"), e))?;
                for s in out.resource_record_sets() {
                    let Some(alias) = s.alias_target() else { continue };
                    let target = alias.dns_name().trim_end_matches('.').to_ascii_lowercase();
                    let plain = target.strip_prefix("dualstack.").unwrap_or(&target);
                    let kind = s.r#type().as_str();
                    if (kind == "A" || kind == "AAAA") && targets.contains_key(plain) {
                        found.push(LiveRecord {
                            zone_id: zone.clone(),
                            name: s.name().to_ascii_lowercase(),
                            record_type: kind.to_owned(),
                            alias_dns_name: target,
                        });
                    }
                }
                match (out.is_truncated(), out.next_record_name(), out.next_record_type()) {
                    (true, Some(n), Some(t)) => start = Some((n.to_owned(), t.clone())),
                    _ => break,
                }
            }
            Ok::<_, AwsError>(found)
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    live.records = per_zone.into_iter().flatten().collect();
    live.records.sort();
    Ok(())
}
