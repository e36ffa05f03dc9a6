//! Read the live state of one cluster into [`Observed`], with as few calls as AWS
//! allows: DescribeServices in batches of 10 with tags, listings at their largest
//! page, tags in batches of 20, task definitions only when the recorded spec hash
//! does not already say nothing changed, and independent reads concurrently.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionError;
use aws_sdk_ecs::types as ecs;
use aws_sdk_elasticloadbalancingv2::types as elb;
use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsError;
use bosun_plan::observed::{
    ObservedCluster, ObservedDiscoveryService, ObservedListener, ObservedLoadBalancer, ObservedNamespace,
    ObservedRecord, ObservedRule, ObservedService, ObservedTargetGroup, ObservedTaskDefinition, RecordKey,
    ServiceLoadBalancer, parse_record_owner_txt, tags,
};
use bosun_plan::{Observed, Owner};
use bosun_stackfile::{Desired, Scheme, ServiceKind, TaskDefinitionSpec, spec_hash};
use futures::{StreamExt, TryStreamExt, stream};

use crate::Clients;
use crate::convert::{
    cluster_capacity_from_aws, default_action_from_aws, ecs_tag, ecs_tag_pairs, network_from_aws,
    placement_constraint_from_aws, placement_strategy_from_aws, protocol_from_aws, service_settings_from_aws,
    target_group_from_aws, td_from_aws, td_tags_from_aws,
};
use crate::error::AwsError;

/// Concurrent reads of one kind in flight at once. Reads are per load balancer or per
/// Cloud Map service at worst; 32 keeps a 50-service cluster to one round of each while
/// staying well inside AWS's describe rate limits (the SDK backs off if throttled).
const READ_CONCURRENCY: usize = 32;
/// DescribeServices accepts at most 10 services.
const DESCRIBE_SERVICES_BATCH: usize = 10;
/// ELBv2 DescribeTags accepts at most 20 ARNs.
const ELB_TAGS_BATCH: usize = 20;
/// Prefix of the tag `<prefix><hosted zone id>` that bosun puts on a load balancer when
/// it writes an alias record to it in that zone. Records carry no tags, and a zone the
/// stackfile no longer names would otherwise never be read: with this, the records of
/// a removed service are still found (as orphans, or to prune) through its ALB.
pub(crate) const RECORD_ZONE_TAG_PREFIX: &str = "bosun:record-zone:";

/// Observe everything that the desired state names or that bosun owns for this cluster.
///
/// Load balancers and target groups are read when their name is desired or starts
/// with `<cluster>-` (every name bosun derives does), which keeps tag reads bounded in
/// accounts with many load balancers.
pub async fn observe(c: &Clients, desired: &Desired) -> Result<Observed, AwsError> {
    // The zones the stackfile names are read alongside the load balancers; zones that
    // only their tags name (records of services that left the stackfile) are read
    // after them, which costs an extra round only when there are such zones.
    let desired_zones: BTreeSet<String> =
        desired.services.values().filter_map(|s| s.dns.as_ref()).map(|d| d.zone_id.clone()).collect();
    let elb_and_records = async {
        let ((load_balancers, target_groups, tagged_zones), (mut records, missing_zones)) =
            tokio::try_join!(observe_elb(c, desired), observe_records(c, desired, &desired_zones))?;
        let extra: BTreeSet<String> = tagged_zones.difference(&desired_zones).cloned().collect();
        if !extra.is_empty() {
            records.extend(observe_records(c, desired, &extra).await?.0);
        }
        Ok::<_, AwsError>(((load_balancers, target_groups), (records, missing_zones)))
    };
    let (ecs_part, (elb_part, (records, missing_zones)), discovery) =
        tokio::try_join!(observe_ecs(c, desired), elb_and_records, observe_discovery(c, desired))?;
    let (cluster, services, task_definitions, task_families) = ecs_part;
    let (load_balancers, target_groups) = elb_part;
    let (namespace, discovery_services) = discovery;
    let mut observed = Observed {
        cluster,
        services,
        task_definitions,
        task_families,
        load_balancers,
        target_groups,
        namespace,
        discovery_services,
        records,
        missing_zones,
        scalable_targets: BTreeMap::new(),
        log_groups: BTreeMap::new(),
    };
    resolve_target_groups(&mut observed);
    resolve_connect_namespace(&mut observed);
    // Scalable targets of the services desired or running: one read per 50 services
    // (after the service listing, which names the running ones), more only for the
    // targets found.
    if observed.cluster.is_some() {
        let services: BTreeSet<String> = desired
            .services
            .values()
            .filter(|s| s.kind == ServiceKind::Service)
            .map(|s| s.name.clone())
            .chain(observed.services.keys().cloned())
            .collect();
        observed.scalable_targets = crate::scaling::observe_scaling(c, &desired.cluster, &services).await?;
    }
    // The log groups of `create_group` (none read for a stack without it).
    observed.log_groups = crate::log_groups::observe_log_groups(c, desired).await?;
    Ok(observed)
}

type EcsPart = (
    Option<ObservedCluster>,
    BTreeMap<String, ObservedService>,
    BTreeMap<String, ObservedTaskDefinition>,
    BTreeMap<String, ObservedTaskDefinition>,
);

async fn observe_ecs(c: &Clients, desired: &Desired) -> Result<EcsPart, AwsError> {
    let name = &desired.cluster;
    // The cluster, its service listing and the desired services (by name) are read at
    // once rather than one round trip after the other. When the cluster does not
    // exist the other two are errors, and of no use.
    let desired_services: Vec<String> =
        desired.services.values().filter(|s| s.kind == ServiceKind::Service).map(|s| s.name.clone()).collect();
    let (clusters, listed, described) = tokio::join!(
        async {
            c.ecs
                .describe_clusters()
                .clusters(name)
                .include(ecs::ClusterField::Tags)
                .include(ecs::ClusterField::Settings)
                .send()
                .await
                .map_err(|e| AwsError::ecs("DescribeClusters", format!("cluster {name}"), e))
        },
        list_services(c, name),
        describe_services(c, name, desired_services),
    );
    let cluster = clusters?.clusters().iter().find(|cl| cl.status() == Some("ACTIVE")).map(|cl| ObservedCluster {
        arn: cl.cluster_arn().unwrap_or_default().to_owned(),
        owner: Owner::from_tags(ecs_tag_pairs(cl.tags())),
        capacity: cluster_capacity_from_aws(cl),
        container_insights: cl
            .settings()
            .iter()
            .find(|s| s.name() == Some(&ecs::ClusterSettingName::ContainerInsights))
            .and_then(|s| s.value().map(str::to_owned)),
    });

    let Some(cluster) = cluster else {
        // No service runs yet: the plan registers a revision of every family.
        let families = desired.services.values().map(|s| s.task_definition.family.clone()).collect();
        let task_families = latest_revisions(c, families, Vec::new()).await?;
        return Ok((None, BTreeMap::new(), BTreeMap::new(), task_families));
    };

    // Listed services that are not desired (orphans, or someone else's) are read now;
    // desired services that are not listed do not count, as if only the listing had
    // been read.
    let listed: BTreeSet<String> = listed?.into_iter().collect();
    let mut found = described?;
    let rest: Vec<String> = {
        let seen: BTreeSet<&str> = found.iter().filter_map(|s| s.service_arn()).collect();
        listed.iter().filter(|a| !seen.contains(a.as_str())).cloned().collect()
    };
    found.extend(describe_services(c, name, rest).await?);
    let services: BTreeMap<String, ObservedService> = found
        .iter()
        .filter(|s| s.status() != Some("INACTIVE") && s.service_arn().is_some_and(|a| listed.contains(a)))
        .map(|s| {
            let svc = service_from_aws(s);
            (svc.name.clone(), svc)
        })
        .collect();

    // The families the plan may register a revision of, whose latest revision apply
    // reuses when an interrupted run already registered the spec: `type: task`
    // entries, services that do not exist yet, and services whose recorded spec hash
    // differs from the desired one or that run something bosun did not deploy. A
    // service whose hash matches costs no task definition read at all.
    let mut unseen = Vec::new();
    let mut running = Vec::new();
    let mut changed = Vec::new();
    for d in desired.services.values() {
        let family = &d.task_definition.family;
        match (d.kind, services.get(&d.name)) {
            (ServiceKind::Task, _) | (ServiceKind::Service, None) => unseen.push(family.clone()),
            (ServiceKind::Service, Some(s)) => {
                if s.spec_hash.as_deref() != Some(spec_hash(&d.task_definition).as_str()) || !s.runs_deployed_revision()
                {
                    running.push(family.clone());
                    changed.push((family, s));
                }
            }
        }
    }
    let task_families = latest_revisions(c, unseen, running).await?;

    // The plan diffs a changed service against the revision it runs: usually its
    // family's latest, read above; any other is read by ARN.
    let mut task_definitions = BTreeMap::new();
    let mut wanted = Vec::new();
    for (family, s) in changed {
        match task_families.get(family) {
            Some(latest) if latest.arn == s.task_definition_arn => {
                task_definitions.insert(latest.arn.clone(), latest.clone());
            }
            _ => wanted.push(s.task_definition_arn.clone()),
        }
    }
    task_definitions.extend(describe_task_definitions(c, wanted).await?);
    Ok((Some(cluster), services, task_definitions, task_families))
}

/// ARNs of the services of `cluster`.
pub(crate) async fn list_services(c: &Clients, cluster: &str) -> Result<Vec<String>, AwsError> {
    let mut arns = Vec::new();
    let mut pages = c.ecs.list_services().cluster(cluster).max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::ecs("ListServices", format!("cluster {cluster}"), e))?;
        arns.extend(page.service_arns().iter().cloned());
    }
    Ok(arns)
}

/// Services of `cluster` by name or ARN, with tags, in concurrent batches.
pub(crate) async fn describe_services(
    c: &Clients,
    cluster: &str,
    services: Vec<String>,
) -> Result<Vec<ecs::Service>, AwsError> {
    let batches: Vec<Vec<ecs::Service>> =
        stream::iter(services.chunks(DESCRIBE_SERVICES_BATCH).map(<[String]>::to_vec))
            .map(|batch| async move {
                c.ecs
                    .describe_services()
                    .cluster(cluster)
                    .set_services(Some(batch))
                    .include(ecs::ServiceField::Tags)
                    .send()
                    .await
                    .map(|o| o.services().to_vec())
                    .map_err(|e| AwsError::ecs("DescribeServices", format!("cluster {cluster}"), e))
            })
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
    Ok(batches.into_iter().flatten().collect())
}

fn service_from_aws(s: &ecs::Service) -> ObservedService {
    let tags = s.tags();
    let dc = s.deployment_configuration();
    let cb = dc.and_then(|d| d.deployment_circuit_breaker());
    ObservedService {
        name: s.service_name().unwrap_or_default().to_owned(),
        arn: s.service_arn().unwrap_or_default().to_owned(),
        status: s.status().unwrap_or_default().to_owned(),
        owner: Owner::from_tags(ecs_tag_pairs(tags)),
        task_definition_arn: s.task_definition().unwrap_or_default().to_owned(),
        spec_hash: ecs_tag(tags, tags::SPEC_HASH).map(str::to_owned),
        deployed_task_definition: ecs_tag(tags, tags::TASK_DEFINITION).map(str::to_owned),
        desired_count: s.desired_count(),
        running_count: s.running_count(),
        pending_count: s.pending_count(),
        launch_type: s.launch_type().map(|l| l.as_str().to_owned()),
        network: network_from_aws(s.network_configuration()),
        load_balancers: s
            .load_balancers()
            .iter()
            .map(|l| ServiceLoadBalancer {
                // Resolved to a name by `resolve_target_groups` once target groups are known.
                target_group: l.target_group_arn().unwrap_or_default().to_owned(),
                container_name: l.container_name().unwrap_or_default().to_owned(),
                container_port: l.container_port().unwrap_or_default().try_into().unwrap_or_default(),
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
        settings: service_settings_from_aws(s),
    }
}

/// Describe task definitions by ARN, from the process-wide cache when possible.
pub(crate) async fn describe_task_definitions(
    c: &Clients,
    arns: Vec<String>,
) -> Result<BTreeMap<String, ObservedTaskDefinition>, AwsError> {
    let results: Vec<ObservedTaskDefinition> = stream::iter(arns)
        .map(|arn| describe_task_definition(c, arn))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(results.into_iter().map(|t| (t.arn.clone(), t)).collect())
}

pub(crate) async fn describe_task_definition(c: &Clients, arn: String) -> Result<ObservedTaskDefinition, AwsError> {
    if let Some(hit) = c.td_cache.lock().expect("cache lock is never poisoned").get(&arn) {
        return Ok(hit.clone());
    }
    let out = c
        .ecs
        .describe_task_definition()
        .task_definition(&arn)
        .include(ecs::TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| AwsError::ecs("DescribeTaskDefinition", format!("task definition {arn}"), e))?;
    let mut td =
        out.task_definition().map(td_from_aws).unwrap_or_else(|| td_from_aws(&ecs::TaskDefinition::builder().build()));
    td.tags = td_tags_from_aws(out.tags());
    let full_arn = out.task_definition().and_then(|t| t.task_definition_arn()).unwrap_or(&arn).to_owned();
    let observed = ObservedTaskDefinition {
        arn: full_arn.clone(),
        spec: td,
        spec_hash: ecs_tag(out.tags(), tags::SPEC_HASH).map(str::to_owned),
    };
    let mut cache = c.td_cache.lock().expect("cache lock is never poisoned");
    cache.insert(full_arn, observed.clone());
    cache.insert(arn, observed.clone());
    Ok(observed)
}

/// The latest ACTIVE revision of a family, if any (a listing, then a read).
pub(crate) async fn latest_revision(c: &Clients, family: &str) -> Result<Option<ObservedTaskDefinition>, AwsError> {
    let out = c
        .ecs
        .list_task_definitions()
        .family_prefix(family)
        .status(ecs::TaskDefinitionStatus::Active)
        .sort(ecs::SortOrder::Desc)
        .max_results(1)
        .send()
        .await
        .map_err(|e| AwsError::ecs("ListTaskDefinitions", format!("task definition family {family}"), e))?;
    // familyPrefix matches `family*`; only an exact family counts.
    let Some(arn) = out
        .task_definition_arns()
        .iter()
        .find(|a| a.rsplit_once('/').is_some_and(|(_, fr)| fr.rsplit_once(':').is_some_and(|(f, _)| f == family)))
    else {
        return Ok(None);
    };
    describe_task_definition(c, arn.clone()).await.map(Some)
}

/// The latest ACTIVE revision of each family, by family; a family without one is
/// absent. `unseen` families may not exist at all: one ListTaskDefinitionFamilies
/// under their common prefix tells which do before any is read. `running` families
/// have a service running one of their revisions, so they are read directly.
///
/// Owned names throughout: a stream closure over `&str` would make the future's
/// `Send` bound higher-ranked, which the compiler cannot prove (rust-lang/rust#110338),
/// and the API and scheduler run observe on a multi-threaded runtime.
async fn latest_revisions(
    c: &Clients,
    unseen: Vec<String>,
    running: Vec<String>,
) -> Result<BTreeMap<String, ObservedTaskDefinition>, AwsError> {
    let (from_running, from_unseen) = tokio::try_join!(describe_latest_revisions(c, running), async {
        let existing = active_families(c, unseen).await?;
        describe_latest_revisions(c, existing).await
    })?;
    Ok(from_running.into_iter().chain(from_unseen).flatten().map(|t| (t.spec.family.clone(), t)).collect())
}

async fn describe_latest_revisions(
    c: &Clients,
    families: Vec<String>,
) -> Result<Vec<Option<ObservedTaskDefinition>>, AwsError> {
    stream::iter(families)
        .map(|f| async move { describe_latest(c, &f).await })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await
}

/// Which of `families` have an ACTIVE revision.
async fn active_families(c: &Clients, mut families: Vec<String>) -> Result<Vec<String>, AwsError> {
    families.sort_unstable();
    families.dedup();
    let (Some(first), Some(last)) = (families.first(), families.last()) else { return Ok(Vec::new()) };
    // Sorted, the common prefix of the first and the last is everyone's.
    let prefix: String = first.chars().zip(last.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a).collect();
    let mut found = Vec::new();
    let mut pages = c
        .ecs
        .list_task_definition_families()
        .set_family_prefix((!prefix.is_empty()).then_some(prefix))
        .status(ecs::TaskDefinitionFamilyStatus::Active)
        .max_results(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::ecs("ListTaskDefinitionFamilies", "task definition families", e))?;
        found.extend(page.families().iter().filter(|f| families.binary_search(f).is_ok()).cloned());
    }
    Ok(found)
}

/// The latest ACTIVE revision of a family, read by family name (ECS resolves a bare
/// family to it). Cached by its full ARN only, since the latest revision can change.
async fn describe_latest(c: &Clients, family: &str) -> Result<Option<ObservedTaskDefinition>, AwsError> {
    let out = match c
        .ecs
        .describe_task_definition()
        .task_definition(family)
        .include(ecs::TaskDefinitionField::Tags)
        .send()
        .await
    {
        Ok(out) => out,
        // ECS's answer for a family without an ACTIVE revision.
        Err(e) if matches!(e.as_service_error(), Some(DescribeTaskDefinitionError::ClientException(_))) => {
            return Ok(None);
        }
        Err(e) => return Err(AwsError::ecs("DescribeTaskDefinition", format!("task definition family {family}"), e)),
    };
    let Some(td) = out.task_definition() else { return Ok(None) };
    let observed = ObservedTaskDefinition {
        arn: td.task_definition_arn().unwrap_or_default().to_owned(),
        spec: TaskDefinitionSpec { tags: td_tags_from_aws(out.tags()), ..td_from_aws(td) },
        spec_hash: ecs_tag(out.tags(), tags::SPEC_HASH).map(str::to_owned),
    };
    c.td_cache.lock().expect("cache lock is never poisoned").insert(observed.arn.clone(), observed.clone());
    Ok(Some(observed))
}

/// Load balancers, target groups, and the hosted zones where owned load balancers
/// have alias records (from their [`RECORD_ZONE_TAG_PREFIX`] tags).
type ElbPart = (BTreeMap<String, ObservedLoadBalancer>, BTreeMap<String, ObservedTargetGroup>, BTreeSet<String>);

async fn observe_elb(c: &Clients, desired: &Desired) -> Result<ElbPart, AwsError> {
    let prefix = format!("{}-", desired.cluster);
    let desired_lbs: BTreeSet<&str> = desired.load_balancers.keys().map(String::as_str).collect();
    let desired_tgs: BTreeSet<&str> =
        desired.services.values().filter_map(|s| s.target_group.as_ref()).map(|t| t.name.as_str()).collect();

    let (lbs, tgs) = tokio::try_join!(
        async {
            let mut all = Vec::new();
            let mut pages = c.elb.describe_load_balancers().page_size(400).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::elb("DescribeLoadBalancers", "load balancers", e))?;
                all.extend(page.load_balancers().iter().cloned());
            }
            Ok::<_, AwsError>(all)
        },
        async {
            let mut all = Vec::new();
            let mut pages = c.elb.describe_target_groups().page_size(400).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::elb("DescribeTargetGroups", "target groups", e))?;
                all.extend(page.target_groups().iter().cloned());
            }
            Ok::<_, AwsError>(all)
        }
    )?;
    let lbs: Vec<elb::LoadBalancer> = lbs
        .into_iter()
        .filter(|l| l.load_balancer_name().is_some_and(|n| desired_lbs.contains(n) || n.starts_with(&prefix)))
        .collect();
    let tgs: Vec<elb::TargetGroup> = tgs
        .into_iter()
        .filter(|t| t.target_group_name().is_some_and(|n| desired_tgs.contains(n) || n.starts_with(&prefix)))
        .collect();

    let arns: Vec<String> = lbs
        .iter()
        .filter_map(|l| l.load_balancer_arn())
        .chain(tgs.iter().filter_map(|t| t.target_group_arn()))
        .map(str::to_owned)
        .collect();
    let tags = elb_tags(c, arns).await?;
    let owners: BTreeMap<String, Owner> = tags
        .iter()
        .map(|(arn, pairs)| (arn.clone(), Owner::from_tags(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))))
        .collect();
    let record_zones: BTreeSet<String> = lbs
        .iter()
        .filter_map(|l| l.load_balancer_arn())
        .filter(|arn| owners.get(*arn).is_some_and(|o| o.is_owned_by(&desired.cluster)))
        .filter_map(|arn| tags.get(arn))
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix(RECORD_ZONE_TAG_PREFIX).map(str::to_owned))
        .collect();

    let tg_names: BTreeMap<String, String> = tgs
        .iter()
        .filter_map(|t| Some((t.target_group_arn()?.to_owned(), t.target_group_name()?.to_owned())))
        .collect();
    let target_groups = tgs
        .iter()
        .map(|t| {
            let arn = t.target_group_arn().unwrap_or_default().to_owned();
            let owner = owners.get(&arn).cloned().unwrap_or_default();
            (
                t.target_group_name().unwrap_or_default().to_owned(),
                ObservedTargetGroup { spec: target_group_from_aws(t), arn, owner },
            )
        })
        .collect();

    // Listeners of the load balancers we may touch: desired ones, and owned ones.
    let rule_lbs = bosun_plan::planner::rule_listeners(desired);
    // Owned values in the stream (see `latest_revisions`).
    let relevant: Vec<(elb::LoadBalancer, Owner)> = lbs
        .iter()
        .map(|l| (l.clone(), owners.get(l.load_balancer_arn().unwrap_or_default()).cloned().unwrap_or_default()))
        .filter(|(l, owner)| {
            owner.is_owned_by(&desired.cluster) || desired_lbs.contains(l.load_balancer_name().unwrap_or_default())
        })
        .collect();
    let tg_names = &tg_names;
    let rule_lbs = &rule_lbs;
    let cluster = desired.cluster.as_str();
    let load_balancers: Vec<ObservedLoadBalancer> = stream::iter(relevant)
        .map(|(l, owner): (elb::LoadBalancer, Owner)| async move {
            let name = l.load_balancer_name().unwrap_or_default().to_owned();
            let arn = l.load_balancer_arn().unwrap_or_default().to_owned();
            let listeners = c
                .elb
                .describe_listeners()
                .load_balancer_arn(&arn)
                .page_size(400)
                .send()
                .await
                .map_err(|e| AwsError::elb("DescribeListeners", format!("load balancer {name}"), e))?;
            // Rules are read for listeners that desired rules route through, and for
            // shared load balancers bosun owns (to find rules that are orphans).
            let shared_owned = owner.is_owned_by(cluster) && owner.service.is_none();
            let mut observed_listeners = BTreeMap::new();
            for lis in listeners.listeners() {
                let port: u16 = lis.port().unwrap_or_default().try_into().unwrap_or_default();
                let read_rules = shared_owned || rule_lbs.get(&name).is_some_and(|ports| ports.contains(&port));
                let rules = if read_rules {
                    Some(observe_rules(c, lis.listener_arn().unwrap_or_default(), tg_names).await?)
                } else {
                    None
                };
                let mut certificates: Vec<String> =
                    lis.certificates().iter().filter_map(|c| c.certificate_arn().map(str::to_owned)).collect();
                certificates.sort();
                observed_listeners.insert(
                    port,
                    ObservedListener {
                        arn: lis.listener_arn().unwrap_or_default().to_owned(),
                        port,
                        protocol: protocol_from_aws(lis.protocol()),
                        certificates,
                        default_action: default_action_from_aws(lis.default_actions(), tg_names),
                        rules,
                    },
                );
            }
            let mut subnets: Vec<String> =
                l.availability_zones().iter().filter_map(|z| z.subnet_id().map(str::to_owned)).collect();
            subnets.sort();
            let mut security_groups = l.security_groups().to_vec();
            security_groups.sort();
            Ok::<_, AwsError>(ObservedLoadBalancer {
                name,
                arn,
                scheme: if l.scheme() == Some(&elb::LoadBalancerSchemeEnum::Internal) {
                    Scheme::Internal
                } else {
                    Scheme::InternetFacing
                },
                subnets,
                security_groups,
                dns_name: l.dns_name().unwrap_or_default().to_owned(),
                canonical_zone_id: l.canonical_hosted_zone_id().unwrap_or_default().to_owned(),
                owner,
                listeners: observed_listeners,
            })
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    Ok((load_balancers.into_iter().map(|l| (l.name.clone(), l)).collect(), target_groups, record_zones))
}

async fn observe_rules(
    c: &Clients,
    listener_arn: &str,
    tg_names: &BTreeMap<String, String>,
) -> Result<BTreeMap<u32, ObservedRule>, AwsError> {
    let mut rules = Vec::new();
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
        rules.extend(out.rules().iter().filter(|r| r.is_default() != Some(true)).cloned());
        marker = out.next_marker().map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    let owners = elb_owners(c, rules.iter().filter_map(|r| r.rule_arn().map(str::to_owned)).collect()).await?;
    Ok(rules
        .iter()
        .filter_map(|r| {
            let priority: u32 = r.priority()?.parse().ok()?;
            let mut hosts = Vec::new();
            let mut paths = Vec::new();
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
                    _ => {}
                }
            }
            hosts.sort();
            hosts.dedup();
            paths.sort();
            paths.dedup();
            let target_group = match default_action_from_aws(r.actions(), tg_names) {
                bosun_stackfile::DefaultAction::Forward { target_group } => target_group,
                bosun_stackfile::DefaultAction::FixedResponse { status_code } => {
                    format!("fixed-response {status_code}")
                }
            };
            let arn = r.rule_arn()?.to_owned();
            Some((
                priority,
                ObservedRule {
                    owner: owners.get(&arn).cloned().unwrap_or_default(),
                    arn,
                    priority,
                    hosts,
                    paths,
                    target_group,
                },
            ))
        })
        .collect())
}

async fn elb_owners(c: &Clients, arns: Vec<String>) -> Result<BTreeMap<String, Owner>, AwsError> {
    Ok(elb_tags(c, arns)
        .await?
        .into_iter()
        .map(|(arn, pairs)| (arn, Owner::from_tags(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))))
        .collect())
}

/// Tags of ELBv2 resources, by ARN.
async fn elb_tags(c: &Clients, arns: Vec<String>) -> Result<BTreeMap<String, Vec<(String, String)>>, AwsError> {
    let chunks: Vec<Vec<String>> = arns.chunks(ELB_TAGS_BATCH).map(<[String]>::to_vec).collect();
    let results: Vec<Vec<elb::TagDescription>> = stream::iter(chunks)
        .map(|chunk| async move {
            c.elb
                .describe_tags()
                .set_resource_arns(Some(chunk))
                .send()
                .await
                .map(|o| o.tag_descriptions().to_vec())
                .map_err(|e| AwsError::elb("DescribeTags", "load balancer resources", e))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(results
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let pairs = d.tags().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned()))).collect();
            Some((d.resource_arn()?.to_owned(), pairs))
        })
        .collect())
}

/// A records, with their ownership TXT records, of `zones`; and the zones Route53 does
/// not have.
async fn observe_records(
    c: &Clients,
    desired: &Desired,
    zones: &BTreeSet<String>,
) -> Result<(BTreeMap<RecordKey, ObservedRecord>, BTreeSet<String>), AwsError> {
    let desired_zones: BTreeSet<&str> =
        desired.services.values().filter_map(|s| s.dns.as_ref()).map(|d| d.zone_id.as_str()).collect();
    let desired_zones = &desired_zones;
    // Owned zone ids, for the same reason as in `latest_revisions`.
    type ZoneRecords = (String, Option<Vec<(RecordKey, ObservedRecord)>>);
    let per_zone: Vec<ZoneRecords> = stream::iter(zones.iter().cloned())
        .map(|zone: String| async move {
            let zone = zone.as_str();
            let mut sets = Vec::new();
            let mut start: Option<(String, aws_sdk_route53::types::RrType)> = None;
            loop {
                let mut req = c.route53.list_resource_record_sets().hosted_zone_id(zone).max_items(300);
                if let Some((name, ty)) = start.take() {
                    req = req.start_record_name(name).start_record_type(ty);
                }
                let out = match req.send().await {
                    Ok(out) => out,
                    // A zone known only from a load balancer's tag may have been deleted
                    // since; it has no records left to find. A zone the stackfile names
                    // is one the preflight check reports (`Observed::missing_zones`).
                    Err(e)
                        if matches!(e.as_service_error(), Some(ListResourceRecordSetsError::NoSuchHostedZone(_))) =>
                    {
                        return Ok((zone.to_owned(), None));
                    }
                    Err(e) => {
                        return Err(AwsError::route53("ListResourceRecordSets", format!("hosted zone {zone}"), e));
                    }
                };
                sets.extend(out.resource_record_sets().iter().cloned());
                if !out.is_truncated() {
                    break;
                }
                match (out.next_record_name(), out.next_record_type()) {
                    (Some(n), Some(t)) => start = Some((n.to_owned(), t.clone())),
                    _ => break,
                }
            }
            let mut owners: BTreeMap<String, Owner> = BTreeMap::new();
            for s in sets.iter().filter(|s| s.r#type() == &aws_sdk_route53::types::RrType::Txt) {
                for r in s.resource_records() {
                    let owner = parse_record_owner_txt(r.value());
                    if owner.managed {
                        owners.insert(s.name().to_ascii_lowercase(), owner);
                    }
                }
            }
            Ok::<_, AwsError>((
                zone.to_owned(),
                Some(
                    sets.iter()
                        .filter(|s| s.r#type() == &aws_sdk_route53::types::RrType::A)
                        .map(|s| {
                            let name = s.name().to_ascii_lowercase();
                            let record = ObservedRecord {
                                alias_dns_name: s
                                    .alias_target()
                                    .map(|a| a.dns_name().trim_end_matches('.').to_ascii_lowercase()),
                                owner: owners.get(&name).cloned().unwrap_or_default(),
                            };
                            (RecordKey { zone_id: zone.to_owned(), name }, record)
                        })
                        .collect(),
                ),
            ))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let mut records = BTreeMap::new();
    let mut missing = BTreeSet::new();
    for (zone, found) in per_zone {
        match found {
            Some(found) => records.extend(found),
            None if desired_zones.contains(zone.as_str()) => {
                missing.insert(zone);
            }
            None => {}
        }
    }
    Ok((records, missing))
}

type DiscoveryPart = (Option<ObservedNamespace>, BTreeMap<String, ObservedDiscoveryService>);

async fn observe_discovery(c: &Clients, desired: &Desired) -> Result<DiscoveryPart, AwsError> {
    let Some(ns) = &desired.namespace else { return Ok((None, BTreeMap::new())) };
    let Some(namespace) = find_namespace(c, &ns.name).await? else { return Ok((None, BTreeMap::new())) };
    let mut summaries = Vec::new();
    let filter = namespace_filter(&namespace.id)
        .map_err(|e| AwsError::build("ListServices", format!("namespace {}", ns.name), e))?;
    let mut pages = c.discovery.list_services().filters(filter).max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::cloud_map("ListServices", format!("namespace {}", ns.name), e))?;
        summaries.extend(page.services().iter().cloned());
    }
    let services: Vec<ObservedDiscoveryService> = stream::iter(summaries)
        .map(|s| async move {
            let arn = s.arn().unwrap_or_default().to_owned();
            let tags = c.discovery.list_tags_for_resource().resource_arn(&arn).send().await.map_err(|e| {
                AwsError::cloud_map(
                    "ListTagsForResource",
                    format!("discovery service {}", s.name().unwrap_or_default()),
                    e,
                )
            })?;
            Ok::<_, AwsError>(ObservedDiscoveryService {
                id: s.id().unwrap_or_default().to_owned(),
                arn,
                name: s.name().unwrap_or_default().to_owned(),
                dns_ttl: s.dns_config().and_then(|d| d.dns_records().first()).map_or(0, |r| r.ttl()),
                owner: Owner::from_tags(tags.tags().iter().map(|t| (t.key(), t.value()))),
            })
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    Ok((Some(namespace), services.into_iter().map(|s| (s.name.clone(), s)).collect()))
}

/// The ListServices filter for the services of one namespace.
pub(crate) fn namespace_filter(
    namespace_id: &str,
) -> Result<aws_sdk_servicediscovery::types::ServiceFilter, aws_smithy_types::error::operation::BuildError> {
    use aws_sdk_servicediscovery::types::{FilterCondition, ServiceFilter, ServiceFilterName};
    ServiceFilter::builder()
        .name(ServiceFilterName::NamespaceId)
        .values(namespace_id)
        .condition(FilterCondition::Eq)
        .build()
}

/// Find a namespace by name.
pub(crate) async fn find_namespace(c: &Clients, name: &str) -> Result<Option<ObservedNamespace>, AwsError> {
    let mut pages = c.discovery.list_namespaces().max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::cloud_map("ListNamespaces", format!("namespace {name}"), e))?;
        if let Some(n) = page.namespaces().iter().find(|n| n.name() == Some(name)) {
            return Ok(Some(ObservedNamespace { id: n.id().unwrap_or_default().to_owned(), name: name.to_owned() }));
        }
    }
    Ok(None)
}

/// Replace the ARN of the stackfile's namespace in Service Connect configurations with
/// its name, which the stackfile's default is: ECS reports the namespace as it was
/// given, which has been an ARN, and the two name the same namespace.
pub(crate) fn resolve_connect_namespace(observed: &mut Observed) {
    let Some(ns) = &observed.namespace else { return };
    let suffix = format!(":namespace/{}", ns.id);
    for s in observed.services.values_mut() {
        if let Some(sc) = &mut s.settings.service_connect
            && sc.namespace.starts_with("arn:")
            && sc.namespace.ends_with(&suffix)
        {
            sc.namespace = ns.name.clone();
        }
    }
}

/// Replace target-group ARNs in service attachments with names, now that target
/// groups are known. Unknown ARNs stay ARNs, so they show up as a difference.
pub(crate) fn resolve_target_groups(observed: &mut Observed) {
    let names: BTreeMap<String, String> =
        observed.target_groups.iter().map(|(n, t)| (t.arn.clone(), n.clone())).collect();
    for s in observed.services.values_mut() {
        for l in &mut s.load_balancers {
            if let Some(n) = names.get(&l.target_group) {
                l.target_group = n.clone();
            }
        }
    }
}
