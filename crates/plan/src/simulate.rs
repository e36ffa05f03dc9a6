//! A pure simulator of AWS: apply a plan's steps to an observed state, as AWS would.
//!
//! It exists to prove idempotence as a property: `plan(d, simulate(o, plan(d, o)))` must
//! be empty. It models only what the planner reads, and makes up ARNs.

use bosun_stackfile::{
    ClusterSpec, Desired, ListenerSpec, LoadBalancerSpec, RuleSpec, ServiceKind, ServiceSpec, TaskDefinitionSpec,
};

use crate::fields::{ClusterField, ServiceField};
use crate::observed::{
    Observed, ObservedCluster, ObservedDiscoveryService, ObservedListener, ObservedLoadBalancer, ObservedLogGroup,
    ObservedNamespace, ObservedRecord, ObservedRule, ObservedScalableTarget, ObservedService, ObservedTargetGroup,
    ObservedTaskDefinition, Owner, RecordKey, ServiceLoadBalancer, ServiceSettings,
};
use crate::settings;
use crate::types::{Plan, Step};

/// Apply every step of `plan` to a copy of `observed`. Hook runs change nothing.
pub fn simulate(desired: &Desired, observed: &Observed, plan: &Plan) -> Observed {
    let mut sim = Sim { desired, cluster: desired.cluster.as_str(), o: observed.clone() };
    for change in &plan.changes {
        sim.step(&change.step);
    }
    sim.o
}

/// The simulated account while a plan is applied.
struct Sim<'a> {
    desired: &'a Desired,
    cluster: &'a str,
    /// The state so far.
    o: Observed,
}

impl Sim<'_> {
    /// One step, as AWS would carry it out.
    fn step(&mut self, step: &Step) {
        let (o, cluster) = (&mut self.o, self.cluster);
        match step {
            Step::CreateCluster { name, settings } => o.cluster = Some(created_cluster(name, settings.as_ref())),
            Step::UpdateCluster { settings, fields, .. } => {
                apply_cluster_settings(o.cluster.as_mut().expect("an updated cluster exists"), settings, fields);
            }
            Step::CreateNamespace { spec } => {
                o.namespace = Some(ObservedNamespace { id: format!("ns-{}", spec.name), name: spec.name.clone() });
            }
            Step::CreateDiscoveryService { service, spec, .. } => {
                let ds = ObservedDiscoveryService {
                    id: format!("srv-{}", spec.name),
                    arn: format!("arn:sim:servicediscovery:service/{}", spec.name),
                    name: spec.name.clone(),
                    dns_ttl: spec.dns_ttl,
                    owner: Owner::bosun(cluster, Some(service)),
                };
                o.discovery_services.insert(spec.name.clone(), ds);
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
                let tg = ObservedTargetGroup {
                    arn: format!("arn:sim:elb:targetgroup/{}", spec.name),
                    spec: spec.clone(),
                    owner: Owner::bosun(cluster, Some(service)),
                };
                o.target_groups.insert(spec.name.clone(), tg);
            }
            Step::ModifyTargetGroup { spec, adopt_service, .. } => {
                let tg = o.target_groups.get_mut(&spec.name).expect("modified target group exists");
                tg.spec = spec.clone();
                if let Some(s) = adopt_service {
                    tg.owner = Owner::bosun(cluster, Some(s));
                }
            }
            Step::DeleteTargetGroup { arn } => o.target_groups.retain(|_, t| &t.arn != arn),
            Step::CreateLoadBalancer { spec } => self.create_load_balancer(spec),
            Step::UpdateLoadBalancer { spec, .. } => {
                let lb = o.load_balancers.get_mut(&spec.name).expect("updated load balancer exists");
                lb.subnets = spec.subnets.clone();
                lb.security_groups = spec.security_groups.clone();
                lb.owner = Owner::bosun(cluster, spec.service.as_deref());
            }
            Step::DeleteLoadBalancer { arn } => o.load_balancers.retain(|_, l| &l.arn != arn),
            Step::CreateListener { load_balancer, spec } => self.create_listener(load_balancer, spec),
            Step::ModifyListener { arn, spec } => {
                for l in
                    o.load_balancers.values_mut().flat_map(|lb| lb.listeners.values_mut()).filter(|l| &l.arn == arn)
                {
                    l.protocol = spec.protocol;
                    l.certificates = spec.certificates.clone();
                    l.default_action = spec.default_action.clone();
                }
            }
            Step::DeleteListener { arn } => {
                for lb in o.load_balancers.values_mut() {
                    lb.listeners.retain(|_, l| &l.arn != arn);
                }
            }
            Step::CreateRule { service, spec } | Step::ModifyRule { service, spec, .. } => self.put_rule(service, spec),
            Step::DeleteRule { arn } => {
                for rules in o
                    .load_balancers
                    .values_mut()
                    .flat_map(|lb| lb.listeners.values_mut())
                    .filter_map(|l| l.rules.as_mut())
                {
                    rules.retain(|_, r| &r.arn != arn);
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
                self.register_task_definition(service, spec, spec_hash)
            }
            Step::RunHook { .. } => {}
            Step::CreateService { spec, spec_hash } => self.create_service(spec, spec_hash),
            Step::UpdateService { spec, spec_hash, fields, adopt } => {
                self.update_service(spec, spec_hash, fields, *adopt)
            }
            Step::DeleteService { name, .. } => {
                o.services.remove(name);
            }
            Step::CreateLogGroup { spec } => {
                o.log_groups.insert(
                    spec.name.clone(),
                    ObservedLogGroup {
                        arn: format!("arn:sim:logs:log-group:{}", spec.name),
                        retention_days: spec.retention_days,
                        owner: Owner::bosun(cluster, None),
                    },
                );
            }
            Step::PutRetentionPolicy { name, retention_days } => {
                o.log_groups.get_mut(name).expect("log group exists").retention_days = *retention_days;
            }
            Step::RegisterScalableTarget { service, min, max, create: _ } => {
                let target = o.scalable_targets.entry(service.clone()).or_insert_with(|| ObservedScalableTarget {
                    arn: format!("arn:sim:application-autoscaling:scalable-target/{cluster}/{service}"),
                    min: 0,
                    max: 0,
                    owner: Owner::bosun(cluster, Some(service)),
                    policies: Default::default(),
                    scheduled: Default::default(),
                });
                (target.min, target.max) = (*min, *max);
            }
            Step::DeregisterScalableTarget { service } => {
                // The target's policies and scheduled actions go with it.
                o.scalable_targets.remove(service);
            }
            Step::PutScalingPolicy { service, spec } => {
                let target = o.scalable_targets.get_mut(service).expect("policy's target registered before it");
                target.policies.insert(spec.name.clone(), Some(spec.clone()));
            }
            Step::DeleteScalingPolicy { service, name } => {
                if let Some(t) = o.scalable_targets.get_mut(service) {
                    t.policies.remove(name);
                }
            }
            Step::PutScheduledAction { service, spec } => {
                let target = o.scalable_targets.get_mut(service).expect("action's target registered before it");
                target.scheduled.insert(spec.name.clone(), spec.clone());
            }
            Step::DeleteScheduledAction { service, name } => {
                if let Some(t) = o.scalable_targets.get_mut(service) {
                    t.scheduled.remove(name);
                }
            }
        }
    }

    fn create_load_balancer(&mut self, spec: &LoadBalancerSpec) {
        let lb = ObservedLoadBalancer {
            name: spec.name.clone(),
            arn: format!("arn:sim:elb:loadbalancer/{}", spec.name),
            scheme: spec.scheme,
            subnets: spec.subnets.clone(),
            security_groups: spec.security_groups.clone(),
            dns_name: format!("{}.sim.elb.amazonaws.com", spec.name.to_ascii_lowercase()),
            canonical_zone_id: "ZSIMELB".into(),
            owner: Owner::bosun(self.cluster, spec.service.as_deref()),
            listeners: Default::default(),
        };
        self.o.load_balancers.insert(spec.name.clone(), lb);
    }

    fn create_listener(&mut self, load_balancer: &str, spec: &ListenerSpec) {
        let lb = self.o.load_balancers.get_mut(load_balancer).expect("listener's load balancer exists");
        let listener = ObservedListener {
            arn: format!("{}/listener/{}", lb.arn, spec.port),
            port: spec.port,
            protocol: spec.protocol,
            certificates: spec.certificates.clone(),
            default_action: spec.default_action.clone(),
            rules: Some(Default::default()),
        };
        lb.listeners.insert(spec.port, listener);
    }

    fn put_rule(&mut self, service: &str, spec: &RuleSpec) {
        let lb = self.o.load_balancers.get_mut(&spec.load_balancer).expect("rule's load balancer exists");
        let listener = lb.listeners.get_mut(&spec.listener_port).expect("rule's listener exists");
        let rule = ObservedRule {
            arn: format!("{}/rule/{}", listener.arn, spec.priority),
            priority: spec.priority,
            hosts: spec.hosts.clone(),
            paths: spec.paths.clone(),
            target_group: spec.target_group.clone(),
            owner: Owner::bosun(self.cluster, Some(service)),
        };
        listener.rules.get_or_insert_with(Default::default).insert(spec.priority, rule);
    }

    fn register_task_definition(&mut self, service: &str, spec: &TaskDefinitionSpec, spec_hash: &str) {
        let is_task = self.desired.services.get(service).is_some_and(|s| s.kind == ServiceKind::Task);
        let revision = next_revision(&self.o, &spec.family);
        let arn = format!("arn:sim:ecs:task-definition/{}:{revision}", spec.family);
        let td = ObservedTaskDefinition { arn: arn.clone(), spec: spec.clone(), spec_hash: Some(spec_hash.to_owned()) };
        if is_task {
            self.o.task_families.insert(spec.family.clone(), td);
        } else {
            self.o.task_definitions.insert(arn, td);
        }
    }

    fn create_service(&mut self, spec: &ServiceSpec, spec_hash: &str) {
        let cluster = self.cluster;
        let td_arn =
            latest_arn(&self.o, &spec.task_definition.family).expect("task definition registered before service");
        let mut svc = ObservedService {
            name: spec.name.clone(),
            arn: format!("arn:sim:ecs:service/{}/{}", cluster, spec.name),
            status: "ACTIVE".into(),
            owner: Owner::bosun(cluster, Some(&spec.name)),
            task_definition_arn: td_arn,
            spec_hash: Some(spec_hash.to_owned()),
            deployed_task_definition: None,
            desired_count: spec.desired_count.unwrap_or(spec.initial_count),
            running_count: 0,
            pending_count: 0,
            // ECS reports either a launch type or a capacity provider strategy.
            launch_type: spec.capacity_provider_strategy.is_empty().then(|| spec.launch_type.as_aws().to_owned()),
            network: spec.network.clone(),
            load_balancers: Vec::new(),
            registries: Vec::new(),
            circuit_breaker: false,
            rollback: false,
            min_healthy_percent: 0,
            max_percent: 0,
            placement_strategy: Vec::new(),
            placement_constraints: Vec::new(),
            settings: ServiceSettings::default(),
        };
        svc.deployed_task_definition = Some(svc.running_family_revision().to_owned());
        for field in ALL_SERVICE_FIELDS {
            set_service_field(&self.o, &mut svc, spec, field, None);
        }
        self.o.services.insert(spec.name.clone(), svc);
    }

    /// Exactly the fields the step names, as UpdateService sends them: a field the
    /// planner found changed but left out of the step shows again in the next plan,
    /// and the idempotence property catches it.
    fn update_service(&mut self, spec: &ServiceSpec, spec_hash: &str, fields: &[ServiceField], adopt: bool) {
        let td_arn = latest_arn(&self.o, &spec.task_definition.family);
        let before = self.o.clone();
        let svc = self.o.services.get_mut(&spec.name).expect("updated service exists");
        for &field in fields {
            set_service_field(&before, svc, spec, field, td_arn.as_deref());
        }
        // The tags that record what was deployed (and, when adopting, the owner).
        if fields.contains(&ServiceField::TaskDefinition) || adopt {
            svc.spec_hash = Some(spec_hash.to_owned());
            svc.deployed_task_definition = Some(svc.running_family_revision().to_owned());
        }
        if adopt {
            svc.owner = Owner::bosun(self.cluster, Some(&spec.name));
        }
    }
}

/// Every service field CreateService sets.
const ALL_SERVICE_FIELDS: [ServiceField; 15] = [
    ServiceField::DesiredCount,
    ServiceField::CircuitBreaker,
    ServiceField::MinHealthyPercent,
    ServiceField::MaxPercent,
    ServiceField::Network,
    ServiceField::LoadBalancers,
    ServiceField::ServiceRegistries,
    ServiceField::PlacementStrategy,
    ServiceField::PlacementConstraints,
    ServiceField::CapacityProviderStrategy,
    ServiceField::EnableExecuteCommand,
    ServiceField::HealthCheckGracePeriod,
    ServiceField::EnableEcsManagedTags,
    ServiceField::PropagateTags,
    ServiceField::ServiceConnect,
];

/// Set one field of a simulated service to the spec's value, as ECS would store it.
/// `td_arn` is the revision a `task_definition` update deploys.
fn set_service_field(
    o: &Observed,
    svc: &mut ObservedService,
    spec: &ServiceSpec,
    field: ServiceField,
    td_arn: Option<&str>,
) {
    match field {
        ServiceField::TaskDefinition => {
            svc.task_definition_arn = td_arn.expect("task definition registered before service update").to_owned();
        }
        ServiceField::DesiredCount => {
            if let Some(c) = spec.desired_count {
                svc.desired_count = c;
            }
        }
        ServiceField::CircuitBreaker | ServiceField::MinHealthyPercent | ServiceField::MaxPercent => {
            // One deployment configuration carries all three.
            svc.circuit_breaker = spec.deployment.circuit_breaker;
            svc.rollback = spec.deployment.rollback;
            svc.min_healthy_percent = spec.deployment.min_healthy_percent;
            svc.max_percent = spec.deployment.max_percent;
        }
        ServiceField::Network => {
            if spec.network.is_some() {
                svc.network = spec.network.clone();
            }
        }
        ServiceField::LoadBalancers => {
            svc.load_balancers = spec
                .target_group
                .iter()
                .map(|tg| ServiceLoadBalancer {
                    target_group: tg.name.clone(),
                    container_name: spec.task_definition.container.name.clone(),
                    container_port: spec.container_port.unwrap_or(tg.port),
                })
                .collect();
        }
        ServiceField::ServiceRegistries => {
            svc.registries = spec
                .discovery
                .iter()
                .map(|d| o.discovery_services.get(&d.name).map_or_else(|| d.name.clone(), |x| x.arn.clone()))
                .collect();
        }
        ServiceField::PlacementStrategy => svc.placement_strategy = spec.placement_strategy.clone(),
        ServiceField::PlacementConstraints => svc.placement_constraints = spec.placement_constraints.clone(),
        ServiceField::CapacityProviderStrategy => {
            // A move to a strategy drops the launch type, as ECS reports it.
            if !spec.capacity_provider_strategy.is_empty() {
                svc.launch_type = None;
            }
            settings::set(&mut svc.settings, spec, field);
        }
        ServiceField::EnableExecuteCommand
        | ServiceField::HealthCheckGracePeriod
        | ServiceField::EnableEcsManagedTags
        | ServiceField::PropagateTags
        | ServiceField::ServiceConnect => settings::set(&mut svc.settings, spec, field),
    }
}

fn revision_of(arn: &str) -> u32 {
    arn.rsplit_once(':').and_then(|(_, r)| r.parse().ok()).unwrap_or(0)
}

fn next_revision(o: &Observed, family: &str) -> u32 {
    let from_tds = o.task_definitions.values().filter(|t| t.spec.family == family).map(|t| revision_of(&t.arn));
    let from_services = o
        .services
        .values()
        .filter(|s| s.running_family_revision().starts_with(&format!("{family}:")))
        .map(|s| revision_of(&s.task_definition_arn));
    let from_tasks = o.task_families.get(family).map(|t| revision_of(&t.arn));
    from_tds.chain(from_services).chain(from_tasks).max().unwrap_or(0) + 1
}

fn latest_arn(o: &Observed, family: &str) -> Option<String> {
    o.task_definitions
        .values()
        .filter(|t| t.spec.family == family)
        .max_by_key(|t| revision_of(&t.arn))
        .map(|t| t.arn.clone())
}

/// The cluster CreateCluster makes, with the `cluster:` block's settings if any.
fn created_cluster(name: &str, settings: Option<&ClusterSpec>) -> ObservedCluster {
    let mut cluster = ObservedCluster {
        arn: format!("arn:sim:ecs:cluster/{name}"),
        owner: Owner::bosun(name, None),
        capacity: Default::default(),
        container_insights: None,
    };
    if let Some(s) = settings {
        apply_cluster_settings(&mut cluster, s, &[]);
    }
    cluster
}

/// What ECS keeps of a cluster's settings: the fields changed (all that are set, for
/// a create). Providers and the default strategy are set together, as
/// `PutClusterCapacityProviders` does.
fn apply_cluster_settings(cluster: &mut ObservedCluster, settings: &ClusterSpec, fields: &[ClusterField]) {
    let all = fields.is_empty();
    if let Some(c) = &settings.capacity_providers
        && (all || fields.iter().any(|f| f.is_capacity()))
    {
        cluster.capacity = c.clone();
    }
    if let Some(i) = &settings.container_insights
        && (all || fields.contains(&ClusterField::ContainerInsights))
    {
        cluster.container_insights = Some(i.clone());
    }
}
