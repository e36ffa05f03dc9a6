//! A pure simulator of AWS: apply a plan's steps to an observed state, as AWS would.
//!
//! It exists to prove idempotence as a property: `plan(d, simulate(o, plan(d, o)))` must
//! be empty. It models only what the planner reads, and makes up ARNs.

use bosun_stackfile::{Desired, ServiceKind};

use crate::observed::{
    Observed, ObservedCluster, ObservedDiscoveryService, ObservedListener, ObservedLoadBalancer,
    ObservedNamespace, ObservedRecord, ObservedRule, ObservedService, ObservedTargetGroup,
    ObservedTaskDefinition, Owner, RecordKey, ServiceLoadBalancer,
};
use crate::types::{Plan, Step};

/// Apply every step of `plan` to a copy of `observed`. Hook runs change nothing.
pub fn simulate(desired: &Desired, observed: &Observed, plan: &Plan) -> Observed {
    let cluster = desired.cluster.as_str();
    let mut o = observed.clone();
    for change in &plan.changes {
        match &change.step {
            Step::CreateCluster { name } => {
                o.cluster = Some(ObservedCluster { arn: format!("arn:sim:ecs:cluster/{name}"), owner: Owner::bosun(name, None) });
            }
            Step::CreateNamespace { spec } => {
                o.namespace = Some(ObservedNamespace { id: format!("ns-{}", spec.name), name: spec.name.clone() });
            }
            Step::CreateDiscoveryService { service, spec, .. } => {
                o.discovery_services.insert(
                    spec.name.clone(),
                    ObservedDiscoveryService {
                        id: format!("srv-{}", spec.name),
                        arn: format!("arn:sim:servicediscovery:service/{}", spec.name),
                        name: spec.name.clone(),
                        dns_ttl: spec.dns_ttl,
                        owner: Owner::bosun(cluster, Some(service)),
                    },
                );
            }
            Step::UpdateDiscoveryService { spec, adopt_service, .. } => {
                let ds = o.discovery_services.get_mut(&spec.name).expect("updated discovery service exists");
                ds.dns_ttl = spec.dns_ttl;
                if let Some(s) = adopt_service {
                    ds.owner = Owner::bosun(cluster, Some(s));
                }
            }
            Step::DeleteDiscoveryService { id } => o.discovery_services.retain(|_, d| &d.id != id),
            Step::CreateTargetGroup { service, spec } => {
                o.target_groups.insert(
                    spec.name.clone(),
                    ObservedTargetGroup {
                        arn: format!("arn:sim:elb:targetgroup/{}", spec.name),
                        spec: spec.clone(),
                        owner: Owner::bosun(cluster, Some(service)),
                    },
                );
            }
            Step::ModifyTargetGroup { spec, adopt_service, .. } => {
                let tg = o.target_groups.get_mut(&spec.name).expect("modified target group exists");
                tg.spec = spec.clone();
                if let Some(s) = adopt_service {
                    tg.owner = Owner::bosun(cluster, Some(s));
                }
            }
            Step::DeleteTargetGroup { arn } => o.target_groups.retain(|_, t| &t.arn != arn),
            Step::CreateLoadBalancer { spec } => {
                o.load_balancers.insert(
                    spec.name.clone(),
                    ObservedLoadBalancer {
                        name: spec.name.clone(),
                        arn: format!("arn:sim:elb:loadbalancer/{}", spec.name),
                        scheme: spec.scheme,
                        subnets: spec.subnets.clone(),
                        security_groups: spec.security_groups.clone(),
                        dns_name: format!("{}.sim.elb.amazonaws.com", spec.name.to_ascii_lowercase()),
                        canonical_zone_id: "ZSIMELB".into(),
                        owner: Owner::bosun(cluster, spec.service.as_deref()),
                        listeners: Default::default(),
                    },
                );
            }
            Step::UpdateLoadBalancer { spec, .. } => {
                let lb = o.load_balancers.get_mut(&spec.name).expect("updated load balancer exists");
                lb.subnets = spec.subnets.clone();
                lb.security_groups = spec.security_groups.clone();
                lb.owner = Owner::bosun(cluster, spec.service.as_deref());
            }
            Step::DeleteLoadBalancer { arn } => o.load_balancers.retain(|_, l| &l.arn != arn),
            Step::CreateListener { load_balancer, spec } => {
                let lb = o.load_balancers.get_mut(load_balancer).expect("listener's load balancer exists");
                lb.listeners.insert(
                    spec.port,
                    ObservedListener {
                        arn: format!("{}/listener/{}", lb.arn, spec.port),
                        port: spec.port,
                        protocol: spec.protocol,
                        certificates: spec.certificates.clone(),
                        default_action: spec.default_action.clone(),
                        rules: Some(Default::default()),
                    },
                );
            }
            Step::ModifyListener { arn, spec } => {
                for lb in o.load_balancers.values_mut() {
                    for l in lb.listeners.values_mut().filter(|l| &l.arn == arn) {
                        l.protocol = spec.protocol;
                        l.certificates = spec.certificates.clone();
                        l.default_action = spec.default_action.clone();
                    }
                }
            }
            Step::DeleteListener { arn } => {
                for lb in o.load_balancers.values_mut() {
                    lb.listeners.retain(|_, l| &l.arn != arn);
                }
            }
            Step::CreateRule { service, spec } | Step::ModifyRule { service, spec, .. } => {
                let lb = o.load_balancers.get_mut(&spec.load_balancer).expect("rule's load balancer exists");
                let listener = lb.listeners.get_mut(&spec.listener_port).expect("rule's listener exists");
                listener.rules.get_or_insert_with(Default::default).insert(
                    spec.priority,
                    ObservedRule {
                        arn: format!("{}/rule/{}", listener.arn, spec.priority),
                        priority: spec.priority,
                        hosts: spec.hosts.clone(),
                        paths: spec.paths.clone(),
                        target_group: spec.target_group.clone(),
                        owner: Owner::bosun(cluster, Some(service)),
                    },
                );
            }
            Step::DeleteRule { arn } => {
                for lb in o.load_balancers.values_mut() {
                    for l in lb.listeners.values_mut() {
                        if let Some(rules) = &mut l.rules {
                            rules.retain(|_, r| &r.arn != arn);
                        }
                    }
                }
            }
            Step::UpsertRecord { service, spec } => {
                let alias = o.load_balancers.get(&spec.load_balancer).map(|lb| lb.dns_name.to_ascii_lowercase());
                o.records.insert(
                    RecordKey { zone_id: spec.zone_id.clone(), name: spec.name.clone() },
                    ObservedRecord { alias_dns_name: alias, owner: Owner::bosun(cluster, Some(service)) },
                );
            }
            Step::DeleteRecord { zone_id, name } => {
                o.records.remove(&RecordKey { zone_id: zone_id.clone(), name: name.clone() });
            }
            Step::RegisterTaskDefinition { service, spec, spec_hash } => {
                let is_task = desired.services.get(service).is_some_and(|s| s.kind == ServiceKind::Task);
                let revision = next_revision(&o, &spec.family);
                let arn = format!("arn:sim:ecs:task-definition/{}:{revision}", spec.family);
                let td = ObservedTaskDefinition { arn: arn.clone(), spec: spec.clone(), spec_hash: Some(spec_hash.clone()) };
                if is_task {
                    o.task_families.insert(spec.family.clone(), td);
                } else {
                    o.task_definitions.insert(arn, td);
                }
            }
            Step::RunHook { .. } => {}
            Step::CreateService { spec, spec_hash } => {
                let td_arn = latest_arn(&o, &spec.task_definition.family).expect("task definition registered before service");
                let mut svc = ObservedService {
                    name: spec.name.clone(),
                    arn: format!("arn:sim:ecs:service/{}/{}", cluster, spec.name),
                    status: "ACTIVE".into(),
                    owner: Owner::bosun(cluster, Some(&spec.name)),
                    task_definition_arn: td_arn,
                    spec_hash: Some(spec_hash.clone()),
                    deployed_task_definition: None,
                    desired_count: spec.desired_count.unwrap_or(spec.initial_count),
                    running_count: 0,
                    pending_count: 0,
                    launch_type: Some(spec.launch_type.as_aws().to_owned()),
                    network: None,
                    load_balancers: Vec::new(),
                    registries: Vec::new(),
                    circuit_breaker: false,
                    rollback: false,
                    min_healthy_percent: 0,
                    max_percent: 0,
                    placement_strategy: Vec::new(),
                    placement_constraints: Vec::new(),
                };
                apply_service_fields(&o, &mut svc, spec);
                o.services.insert(spec.name.clone(), svc);
            }
            Step::UpdateService { spec, spec_hash, fields, adopt } => {
                let td_arn = latest_arn(&o, &spec.task_definition.family);
                let snapshot = o.clone();
                let svc = o.services.get_mut(&spec.name).expect("updated service exists");
                if fields.iter().any(|f| f == "task_definition") {
                    svc.task_definition_arn = td_arn.expect("task definition registered before service update");
                }
                if let Some(c) = spec.desired_count {
                    svc.desired_count = c;
                }
                apply_service_fields(&snapshot, svc, spec);
                svc.spec_hash = Some(spec_hash.clone());
                if *adopt {
                    svc.owner = Owner::bosun(cluster, Some(&spec.name));
                }
            }
            Step::DeleteService { name, .. } => {
                o.services.remove(name);
            }
        }
    }
    o
}

fn apply_service_fields(o: &Observed, svc: &mut ObservedService, spec: &bosun_stackfile::ServiceSpec) {
    svc.deployed_task_definition = Some(svc.running_family_revision().to_owned());
    svc.network = spec.network.clone();
    svc.circuit_breaker = spec.deployment.circuit_breaker;
    svc.rollback = spec.deployment.rollback;
    svc.min_healthy_percent = spec.deployment.min_healthy_percent;
    svc.max_percent = spec.deployment.max_percent;
    svc.load_balancers = spec
        .target_group
        .iter()
        .map(|tg| ServiceLoadBalancer {
            target_group: tg.name.clone(),
            container_name: spec.task_definition.container.name.clone(),
            container_port: spec.container_port.unwrap_or(tg.port),
        })
        .collect();
    svc.registries = spec
        .discovery
        .iter()
        .map(|d| o.discovery_services.get(&d.name).map_or_else(|| d.name.clone(), |x| x.arn.clone()))
        .collect();
    svc.placement_strategy = spec.placement_strategy.clone();
    svc.placement_constraints = spec.placement_constraints.clone();
}

fn revision_of(arn: &str) -> u32 {
    arn.rsplit_once(':').and_then(|(_, r)| r.parse().ok()).unwrap_or(0)
}

fn next_revision(o: &Observed, family: &str) -> u32 {
    let from_tds = o.task_definitions.values().filter(|t| t.spec.family == family).map(|t| revision_of(&t.arn));
    let from_services = o.services.values().filter(|s| s.running_family_revision().starts_with(&format!("{family}:"))).map(|s| revision_of(&s.task_definition_arn));
    let from_tasks = o.task_families.get(family).map(|t| revision_of(&t.arn));
    from_tds.chain(from_services).chain(from_tasks).max().unwrap_or(0) + 1
}

fn latest_arn(o: &Observed, family: &str) -> Option<String> {
    o.task_definitions.values().filter(|t| t.spec.family == family).max_by_key(|t| revision_of(&t.arn)).map(|t| t.arn.clone())
}
