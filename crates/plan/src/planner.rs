//! `plan(desired, observed, policy) -> Plan`: a pure function, no I/O, no clock.
//!
//! `scaling` plans the Application Auto Scaling targets, policies and scheduled actions;
//! `log_groups` the CloudWatch Logs groups of `logging.create_group`.

mod log_groups;
mod scaling;

use std::collections::{BTreeMap, BTreeSet};

use bosun_stackfile::{
    CapacityProviderItem, ClusterCapacity, ClusterSpec, DefaultAction, Desired, LoadBalancerSpec, RuleSpec,
    ServiceConnectSpec, ServiceKind, ServiceSpec, TargetGroupSpec, spec_hash,
};

use crate::fields::{
    ClusterField, DiscoveryField, Field, HookField, ListenerField, LoadBalancerField, RecordField, RuleField,
    ServiceField, TargetGroupField, TaskDefinitionField,
};
use crate::observed::{Observed, ObservedCluster, ObservedService, Owner, RecordKey, ServiceLoadBalancer};
use crate::render::{CHANGED_OUTSIDE, task_definition_diff};
use crate::settings;
use crate::types::{Action, Change, Conflict, FieldChange, HookPhase, Kind, Orphan, Plan, Policy, Resource, Step};

/// Compute the changes that make `observed` match `desired`.
///
/// Never plans a change to a resource bosun does not own, except adopting a service
/// (and its resources) whose stackfile entry says `adopt: true`. Owned resources the
/// stackfile does not mention are deleted under `policy.prune`, listed as orphans
/// otherwise.
pub fn plan(desired: &Desired, observed: &Observed, policy: &Policy) -> Plan {
    let mut p = Planner { desired, observed, cluster: &desired.cluster, out: Output::default() };
    p.cluster();
    p.namespace_and_discovery();
    p.target_groups();
    p.load_balancers();
    p.rules();
    p.records();
    p.log_groups();
    p.services();
    p.scaling(policy);
    p.orphans(policy);
    p.out.finish(&desired.cluster)
}

#[derive(Default)]
struct Output {
    changes: Vec<Change>,
    orphans: Vec<Orphan>,
    conflicts: Vec<Conflict>,
}

impl Output {
    fn push(
        &mut self,
        kind: Kind,
        name: impl Into<String>,
        action: Action,
        service: Option<&str>,
        step: Step,
    ) -> &mut Change {
        self.changes.push(Change {
            resource: Resource { kind, name: name.into() },
            action,
            service: service.map(str::to_owned),
            fields: Vec::new(),
            diff: None,
            step,
        });
        self.changes.last_mut().expect("just pushed")
    }

    fn conflict(&mut self, kind: Kind, name: impl Into<String>, reason: impl Into<String>) {
        self.conflicts.push(Conflict { resource: Resource { kind, name: name.into() }, reason: reason.into() });
    }

    fn finish(mut self, cluster: &str) -> Plan {
        // Creates/updates in dependency order, deletes after them in reverse order.
        // The sort is stable and keyed on kind and name, so the order never depends
        // on map iteration or on the order the planner visited things.
        self.changes.sort_by_cached_key(|c| {
            let delete = c.action.is_delete();
            let kind_rank = if delete { u8::MAX - c.resource.kind as u8 } else { c.resource.kind as u8 };
            (delete, kind_rank, c.resource.name.clone())
        });
        self.orphans.sort();
        self.conflicts.sort();
        let hash = Plan::compute_hash(cluster, &self.changes, &self.conflicts);
        Plan {
            cluster: cluster.to_owned(),
            changes: self.changes,
            orphans: self.orphans,
            conflicts: self.conflicts,
            hash,
        }
    }
}

struct Planner<'a> {
    desired: &'a Desired,
    observed: &'a Observed,
    cluster: &'a str,
    out: Output,
}

/// How a desired resource relates to a live one of the same name.
enum Claim {
    /// Nothing live with that name.
    Absent,
    /// Live and owned by this cluster.
    Owned,
    /// Live, not owned, and the stackfile adopts it.
    Adopt,
    /// Live and not owned: leave it alone.
    Foreign,
}

impl Planner<'_> {
    fn claim(&self, owner: Option<&Owner>, adopt: bool) -> Claim {
        match owner {
            None => Claim::Absent,
            Some(o) if o.is_owned_by(self.cluster) => Claim::Owned,
            Some(_) if adopt => Claim::Adopt,
            Some(_) => Claim::Foreign,
        }
    }

    fn foreign_reason(&self, what: &str, service: Option<&str>) -> String {
        match service {
            Some(s) => format!(
                "{what} exists and is not managed by bosun for cluster {}; set `adopt: true` on service {s} to take it over",
                self.cluster
            ),
            None => format!(
                "{what} exists and is not managed by bosun for cluster {}; rename it or remove it",
                self.cluster
            ),
        }
    }

    fn cluster(&mut self) {
        let settings = self.desired.cluster_settings.as_ref();
        let Some(live) = &self.observed.cluster else {
            let change = self.out.push(
                Kind::Cluster,
                self.cluster,
                Action::Create,
                None,
                Step::CreateCluster { name: self.cluster.to_owned(), settings: settings.cloned() },
            );
            if let Some(s) = settings {
                change.fields = cluster_fields(s, None);
            }
            return;
        };
        let Some(settings) = settings else { return };
        let fields = cluster_fields(settings, Some(live));
        if fields.is_empty() {
            return;
        }
        if !live.owner.is_owned_by(self.cluster) {
            let names: Vec<String> = fields.iter().map(|f| f.field.to_string()).collect();
            self.out.conflict(
                Kind::Cluster,
                self.cluster,
                format!(
                    "cluster {} was not created by bosun, so its {} stay as they are; remove them from the `cluster:` block, or change them in ECS",
                    self.cluster,
                    names.join(", ")
                ),
            );
            return;
        }
        let step = Step::UpdateCluster {
            name: self.cluster.to_owned(),
            settings: settings.clone(),
            fields: fields
                .iter()
                .filter_map(|f| if let Field::Cluster(c) = f.field { Some(c) } else { None })
                .collect(),
        };
        self.out.push(Kind::Cluster, self.cluster, Action::Update, None, step).fields = fields;
    }

    fn namespace_and_discovery(&mut self) {
        let Some(ns) = &self.desired.namespace else { return };
        // The namespace may be shared with other clusters; bosun creates it when it is
        // missing and never changes or deletes it.
        if self.observed.namespace.as_ref().is_none_or(|o| o.name != ns.name) {
            self.out.push(Kind::Namespace, &ns.name, Action::Create, None, Step::CreateNamespace { spec: ns.clone() });
        }
        for svc in self.desired.services.values() {
            let Some(disco) = &svc.discovery else { continue };
            let live = self.observed.discovery_services.get(&disco.name);
            match self.claim(live.map(|l| &l.owner), svc.adopt) {
                Claim::Absent => {
                    self.out.push(
                        Kind::DiscoveryService,
                        &disco.name,
                        Action::Create,
                        Some(&svc.name),
                        Step::CreateDiscoveryService {
                            service: svc.name.clone(),
                            namespace: ns.name.clone(),
                            spec: disco.clone(),
                        },
                    );
                }
                Claim::Foreign => {
                    let reason = self.foreign_reason(&format!("Cloud Map service {}", disco.name), Some(&svc.name));
                    self.out.conflict(Kind::DiscoveryService, &disco.name, reason);
                }
                claim @ (Claim::Owned | Claim::Adopt) => {
                    let live = live.expect("claimed resources are live");
                    let adopt = matches!(claim, Claim::Adopt);
                    if live.dns_ttl != disco.dns_ttl || adopt {
                        let change = self.out.push(
                            Kind::DiscoveryService,
                            &disco.name,
                            if adopt { Action::Adopt } else { Action::Update },
                            Some(&svc.name),
                            Step::UpdateDiscoveryService {
                                id: live.id.clone(),
                                spec: disco.clone(),
                                adopt_service: adopt.then(|| svc.name.clone()),
                            },
                        );
                        if live.dns_ttl != disco.dns_ttl {
                            change.fields.push(FieldChange::new(DiscoveryField::DnsTtl, live.dns_ttl, disco.dns_ttl));
                        }
                    }
                }
            }
        }
    }

    fn target_groups(&mut self) {
        for svc in self.desired.services.values() {
            let Some(tg) = &svc.target_group else { continue };
            let live = self.observed.target_groups.get(&tg.name);
            match self.claim(live.map(|l| &l.owner), svc.adopt) {
                Claim::Absent => {
                    self.out.push(
                        Kind::TargetGroup,
                        &tg.name,
                        Action::Create,
                        Some(&svc.name),
                        Step::CreateTargetGroup { service: svc.name.clone(), spec: tg.clone() },
                    );
                }
                Claim::Foreign => {
                    let reason = self.foreign_reason(&format!("target group {}", tg.name), Some(&svc.name));
                    self.out.conflict(Kind::TargetGroup, &tg.name, reason);
                }
                claim @ (Claim::Owned | Claim::Adopt) => {
                    let live = live.expect("claimed resources are live");
                    let adopt = matches!(claim, Claim::Adopt);
                    let (immutable, fields): (Vec<FieldChange>, Vec<FieldChange>) =
                        target_group_changes(&live.spec, tg)
                            .into_iter()
                            .partition(|c| matches!(c.field, Field::TargetGroup(f) if f.is_immutable()));
                    if !immutable.is_empty() {
                        // Port, protocol, VPC and target type cannot change in place.
                        // Replacing a target group that a service and listener use
                        // needs the service recreated; say so rather than half-do it.
                        self.out.conflict(
                            Kind::TargetGroup,
                            &tg.name,
                            format!(
                                "{} cannot change in place; delete service {} (or rename the load balancer) and apply again",
                                immutable.iter().map(|f| f.field.to_string()).collect::<Vec<_>>().join(", "),
                                svc.name
                            ),
                        );
                        continue;
                    }
                    if !fields.is_empty() || adopt {
                        let change = self.out.push(
                            Kind::TargetGroup,
                            &tg.name,
                            if adopt { Action::Adopt } else { Action::Update },
                            Some(&svc.name),
                            Step::ModifyTargetGroup {
                                arn: live.arn.clone(),
                                spec: tg.clone(),
                                adopt_service: adopt.then(|| svc.name.clone()),
                            },
                        );
                        change.fields = fields;
                    }
                }
            }
        }
    }

    fn load_balancers(&mut self) {
        for lb in self.desired.load_balancers.values() {
            let adopt = lb.adopt;
            let live = self.observed.load_balancers.get(&lb.name);
            match self.claim(live.map(|l| &l.owner), adopt) {
                Claim::Absent => {
                    self.out.push(
                        Kind::LoadBalancer,
                        &lb.name,
                        Action::Create,
                        lb.service.as_deref(),
                        Step::CreateLoadBalancer { spec: lb.clone() },
                    );
                    for listener in lb.listeners.values() {
                        self.out.push(
                            Kind::Listener,
                            listener_name(&lb.name, listener.port),
                            Action::Create,
                            lb.service.as_deref(),
                            Step::CreateListener { load_balancer: lb.name.clone(), spec: listener.clone() },
                        );
                    }
                }
                Claim::Foreign => {
                    let what = format!("load balancer {}", lb.name);
                    let reason = match lb.service.as_deref() {
                        Some(s) => self.foreign_reason(&what, Some(s)),
                        None => format!(
                            "{what} exists and is not managed by bosun for cluster {}; set `adopt: true` on it under `load_balancers:` to take it over, or rename it",
                            self.cluster
                        ),
                    };
                    self.out.conflict(Kind::LoadBalancer, &lb.name, reason);
                }
                claim @ (Claim::Owned | Claim::Adopt) => {
                    let live = live.expect("claimed resources are live");
                    if live.scheme != lb.scheme {
                        self.out.conflict(
                            Kind::LoadBalancer,
                            &lb.name,
                            format!(
                                "scheme cannot change in place ({} -> {}); remove the load balancer from the stackfile, apply with prune, then add it back",
                                live.scheme.as_aws(),
                                lb.scheme.as_aws()
                            ),
                        );
                        continue;
                    }
                    let mut fields = Vec::new();
                    if live.subnets != lb.subnets {
                        fields.push(FieldChange::new(
                            LoadBalancerField::Subnets,
                            live.subnets.join(","),
                            lb.subnets.join(","),
                        ));
                    }
                    if live.security_groups != lb.security_groups {
                        fields.push(FieldChange::new(
                            LoadBalancerField::SecurityGroups,
                            live.security_groups.join(","),
                            lb.security_groups.join(","),
                        ));
                    }
                    let adopting = matches!(claim, Claim::Adopt);
                    if !fields.is_empty() || adopting {
                        let change = self.out.push(
                            Kind::LoadBalancer,
                            &lb.name,
                            if adopting { Action::Adopt } else { Action::Update },
                            lb.service.as_deref(),
                            Step::UpdateLoadBalancer { arn: live.arn.clone(), spec: lb.clone() },
                        );
                        change.fields = fields;
                    }
                    self.listeners(lb, live);
                }
            }
        }
    }

    fn listeners(&mut self, lb: &LoadBalancerSpec, live: &crate::observed::ObservedLoadBalancer) {
        for listener in lb.listeners.values() {
            let name = listener_name(&lb.name, listener.port);
            match live.listeners.get(&listener.port) {
                None => {
                    self.out.push(
                        Kind::Listener,
                        name,
                        Action::Create,
                        lb.service.as_deref(),
                        Step::CreateListener { load_balancer: lb.name.clone(), spec: listener.clone() },
                    );
                }
                Some(l) => {
                    let mut fields = Vec::new();
                    if l.protocol != listener.protocol {
                        fields.push(FieldChange::new(
                            ListenerField::Protocol,
                            l.protocol.as_aws(),
                            listener.protocol.as_aws(),
                        ));
                    }
                    if l.certificates != listener.certificates {
                        fields.push(FieldChange::new(
                            ListenerField::Certificates,
                            l.certificates.join(","),
                            listener.certificates.join(","),
                        ));
                    }
                    if l.default_action != listener.default_action {
                        fields.push(FieldChange::new(
                            ListenerField::DefaultAction,
                            describe_action(&l.default_action),
                            describe_action(&listener.default_action),
                        ));
                    }
                    if !fields.is_empty() {
                        let change = self.out.push(
                            Kind::Listener,
                            name,
                            Action::Update,
                            lb.service.as_deref(),
                            Step::ModifyListener { arn: l.arn.clone(), spec: listener.clone() },
                        );
                        change.fields = fields;
                    }
                }
            }
        }
    }

    fn rules(&mut self) {
        for svc in self.desired.services.values() {
            for rule in &svc.rules {
                let name = rule_name(rule);
                let live_listener = self
                    .observed
                    .load_balancers
                    .get(&rule.load_balancer)
                    .filter(|lb| lb.owner.is_owned_by(self.cluster) || svc.adopt)
                    .and_then(|lb| lb.listeners.get(&rule.listener_port));
                let live = live_listener.and_then(|l| l.rules.as_ref()).and_then(|r| r.get(&rule.priority));
                match self.claim(live.map(|l| &l.owner), svc.adopt) {
                    Claim::Absent => {
                        self.out.push(
                            Kind::Rule,
                            name,
                            Action::Create,
                            Some(&svc.name),
                            Step::CreateRule { service: svc.name.clone(), spec: rule.clone() },
                        );
                    }
                    Claim::Foreign => {
                        let reason =
                            self.foreign_reason(&format!("rule with priority {}", rule.priority), Some(&svc.name));
                        self.out.conflict(Kind::Rule, name, reason);
                    }
                    claim @ (Claim::Owned | Claim::Adopt) => {
                        let live = live.expect("claimed resources are live");
                        let mut fields = Vec::new();
                        if live.hosts != rule.hosts {
                            fields.push(FieldChange::new(RuleField::Hosts, live.hosts.join(","), rule.hosts.join(",")));
                        }
                        if live.paths != rule.paths {
                            fields.push(FieldChange::new(RuleField::Paths, live.paths.join(","), rule.paths.join(",")));
                        }
                        if live.target_group != rule.target_group {
                            fields.push(FieldChange::new(
                                RuleField::TargetGroup,
                                &live.target_group,
                                &rule.target_group,
                            ));
                        }
                        let adopt = matches!(claim, Claim::Adopt);
                        if !fields.is_empty() || adopt {
                            let change = self.out.push(
                                Kind::Rule,
                                name,
                                if adopt { Action::Adopt } else { Action::Update },
                                Some(&svc.name),
                                Step::ModifyRule {
                                    arn: live.arn.clone(),
                                    service: svc.name.clone(),
                                    spec: rule.clone(),
                                },
                            );
                            change.fields = fields;
                        }
                    }
                }
            }
        }
    }

    fn records(&mut self) {
        // Load balancers that this plan creates get a new DNS name: records that point
        // at them must be written after them.
        let lb_created: BTreeSet<String> = self
            .out
            .changes
            .iter()
            .filter(|c| c.resource.kind == Kind::LoadBalancer && c.action == Action::Create)
            .map(|c| c.resource.name.clone())
            .collect();
        let mut planned = Vec::new();
        for svc in self.desired.services.values() {
            let Some(dns) = &svc.dns else { continue };
            let key = RecordKey { zone_id: dns.zone_id.clone(), name: dns.name.clone() };
            let live = self.observed.records.get(&key);
            let display = format!("{} ({})", dns.name, dns.zone_id);
            match self.claim(live.map(|l| &l.owner), svc.adopt) {
                Claim::Absent => planned.push((display, Action::Create, svc, dns, Vec::new())),
                Claim::Foreign => {
                    let reason = self.foreign_reason(&format!("record {}", dns.name), Some(&svc.name));
                    self.out.conflict(Kind::Record, display, reason);
                }
                claim @ (Claim::Owned | Claim::Adopt) => {
                    let live = live.expect("claimed resources are live");
                    let target =
                        self.observed.load_balancers.get(&dns.load_balancer).map(|lb| lb.dns_name.to_ascii_lowercase());
                    let stale =
                        lb_created.contains(&dns.load_balancer) || target.is_none() || live.alias_dns_name != target;
                    let adopt = matches!(claim, Claim::Adopt);
                    if stale || adopt {
                        let mut fields = Vec::new();
                        if stale {
                            fields.push(FieldChange::new(
                                RecordField::Alias,
                                live.alias_dns_name.as_deref().unwrap_or("(none)"),
                                format!("load balancer {}", dns.load_balancer),
                            ));
                        }
                        planned.push((display, if adopt { Action::Adopt } else { Action::Update }, svc, dns, fields));
                    }
                }
            }
        }
        for (display, action, svc, dns, fields) in planned {
            let change = self.out.push(
                Kind::Record,
                display,
                action,
                Some(&svc.name),
                Step::UpsertRecord { service: svc.name.clone(), spec: dns.clone() },
            );
            change.fields = fields;
        }
    }

    fn services(&mut self) {
        for svc in self.desired.services.values() {
            match svc.kind {
                ServiceKind::Service => self.service(svc),
                ServiceKind::Task => self.task_family(svc),
            }
        }
    }

    /// `type: task` entries: keep the family's latest revision equal to the spec.
    fn task_family(&mut self, svc: &ServiceSpec) {
        let td = &svc.task_definition;
        let hash = spec_hash(td);
        let live = self.observed.task_families.get(&td.family);
        if live.and_then(|l| l.spec_hash.as_deref()) == Some(hash.as_str()) {
            return;
        }
        let action = if live.is_some() { Action::Update } else { Action::Create };
        let change = self.out.push(
            Kind::TaskDefinition,
            &td.family,
            action,
            Some(&svc.name),
            Step::RegisterTaskDefinition { service: svc.name.clone(), spec: td.clone(), spec_hash: hash },
        );
        change.diff = live.map(|l| task_definition_diff(&l.spec, td, &l.arn));
    }

    fn service(&mut self, svc: &ServiceSpec) {
        let hash = spec_hash(&svc.task_definition);
        let live = self.observed.services.get(&svc.name);
        let claim = self.claim(live.map(|l| &l.owner), svc.adopt);
        let family = &svc.task_definition.family;
        let new_td = match (&claim, live) {
            (Claim::Foreign, _) => {
                let reason = self.foreign_reason(&format!("ECS service {}", svc.name), Some(&svc.name));
                self.out.conflict(Kind::Service, &svc.name, reason);
                return;
            }
            (Claim::Absent, _) | (_, None) => {
                self.out.push(
                    Kind::TaskDefinition,
                    family,
                    Action::Create,
                    Some(&svc.name),
                    Step::RegisterTaskDefinition {
                        service: svc.name.clone(),
                        spec: svc.task_definition.clone(),
                        spec_hash: hash.clone(),
                    },
                );
                self.hooks(svc, HookPhase::Pre);
                let change = self.out.push(
                    Kind::Service,
                    &svc.name,
                    Action::Create,
                    Some(&svc.name),
                    Step::CreateService { spec: Box::new(svc.clone()), spec_hash: hash },
                );
                change.fields.push(FieldChange::new(
                    TaskDefinitionField::Image,
                    "",
                    &svc.task_definition.container.image,
                ));
                if !svc.capacity_provider_strategy.is_empty() {
                    change.fields.push(FieldChange::new(
                        ServiceField::CapacityProviderStrategy,
                        "",
                        CapacityProviderItem::show(&svc.capacity_provider_strategy),
                    ));
                }
                if let Some(sc) = &svc.service_connect {
                    change.fields.push(FieldChange::new(
                        ServiceField::ServiceConnect,
                        "",
                        ServiceConnectSpec::show(Some(sc)),
                    ));
                }
                self.hooks(svc, HookPhase::Post);
                return;
            }
            (Claim::Adopt, Some(live)) => !self.runs_desired_spec(live, svc),
            (_, Some(live)) => live.spec_hash.as_deref() != Some(hash.as_str()) || !live.runs_deployed_revision(),
        };
        let live = live.expect("matched above");
        let adopt = matches!(claim, Claim::Adopt);

        // A service moves from a launch type to a capacity provider strategy with
        // UpdateService; ECS has no way back but a new service.
        if svc.capacity_provider_strategy.is_empty()
            && live.launch_type.is_none()
            && !live.settings.capacity_provider_strategy.is_empty()
        {
            self.out.conflict(
                Kind::Service,
                &svc.name,
                format!(
                    "a service on a capacity provider strategy cannot move back to a launch type in place ({} -> {}); remove the service from the stackfile, apply with prune, then add it back",
                    CapacityProviderItem::show(&live.settings.capacity_provider_strategy),
                    svc.launch_type.as_aws()
                ),
            );
            return;
        }
        if let Some(launch) = &live.launch_type
            && launch != svc.launch_type.as_aws()
            && svc.capacity_provider_strategy.is_empty()
        {
            self.out.conflict(
                Kind::Service,
                &svc.name,
                format!(
                    "launch type cannot change in place ({launch} -> {}); remove the service from the stackfile, apply with prune, then add it back",
                    svc.launch_type.as_aws()
                ),
            );
            return;
        }

        let mut fields = Vec::new();
        if new_td {
            let td_change = self.out.push(
                Kind::TaskDefinition,
                family,
                Action::Update,
                Some(&svc.name),
                Step::RegisterTaskDefinition {
                    service: svc.name.clone(),
                    spec: svc.task_definition.clone(),
                    spec_hash: hash.clone(),
                },
            );
            let live_td = self.observed.task_definitions.get(&live.task_definition_arn);
            td_change.diff =
                live_td.map(|l| task_definition_diff(&l.spec, &svc.task_definition, live.running_family_revision()));
            // The spec hashes are not shown: they cover the environment values, so a
            // reader could confirm a guessed value by hashing a spec with it.
            let before = match (&live.spec_hash, live.runs_deployed_revision()) {
                (Some(_), true) => live.running_family_revision().to_string(),
                _ => format!("{} {CHANGED_OUTSIDE}", live.running_family_revision()),
            };
            fields.push(FieldChange::new(ServiceField::TaskDefinition, before, "new revision"));
            if let Some(live_td) = live_td
                && live_td.spec.container.image != svc.task_definition.container.image
            {
                fields.push(FieldChange::new(
                    TaskDefinitionField::Image,
                    &live_td.spec.container.image,
                    &svc.task_definition.container.image,
                ));
            }
        }
        fields.extend(service_field_changes(live, svc, self.observed));
        if new_td {
            self.hooks(svc, HookPhase::Pre);
        }
        if !fields.is_empty() || adopt {
            let names = fields.iter().filter_map(|f| f.field.as_service()).collect();
            let change = self.out.push(
                Kind::Service,
                &svc.name,
                if adopt { Action::Adopt } else { Action::Update },
                Some(&svc.name),
                Step::UpdateService { spec: Box::new(svc.clone()), spec_hash: hash, fields: names, adopt },
            );
            change.fields = fields;
        }
        if new_td {
            self.hooks(svc, HookPhase::Post);
        }
    }

    /// Whether an adopted service already runs a task definition equal to the desired
    /// spec (the observer reads the live revision of every service without bosun's spec
    /// hash). Adopting it then registers no revision and redeploys nothing: the service
    /// is only tagged, with the revision it runs as the one bosun deployed.
    fn runs_desired_spec(&self, live: &ObservedService, svc: &ServiceSpec) -> bool {
        self.observed.task_definitions.get(&live.task_definition_arn).is_some_and(|td| td.spec == svc.task_definition)
    }

    fn hooks(&mut self, svc: &ServiceSpec, phase: HookPhase) {
        let (hooks, kind) = match phase {
            HookPhase::Pre => (&svc.hooks.pre, Kind::PreHook),
            HookPhase::Post => (&svc.hooks.post, Kind::PostHook),
        };
        // Hooks of one service run in the order written; the name carries the index
        // so the stable sort keeps that order.
        for (i, hook) in hooks.iter().enumerate() {
            let change = self.out.push(
                kind,
                format!("{}/{i:02}-{}", svc.name, hook.name),
                Action::Run,
                Some(&svc.name),
                Step::RunHook {
                    service: svc.name.clone(),
                    phase,
                    hook: hook.clone(),
                    family: svc.task_definition.family.clone(),
                },
            );
            // JSON keeps the argument boundaries that a space-joined command would lose.
            let command = serde_json::to_string(&hook.command).expect("strings always serialise");
            change.fields.push(FieldChange::new(HookField::Command, "", command));
        }
    }

    fn orphans(&mut self, policy: &Policy) {
        let cluster = self.cluster;
        let d = self.desired;
        // Each orphan with the service it belongs to, from its `bosun:service` tag.
        let mut found: Vec<(Kind, String, Step, Option<String>)> = Vec::new();

        for (name, s) in &self.observed.services {
            if s.owner.is_owned_by(cluster) && !d.services.get(name).is_some_and(|x| x.kind == ServiceKind::Service) {
                found.push((
                    Kind::Service,
                    name.clone(),
                    Step::DeleteService { name: name.clone(), arn: s.arn.clone() },
                    Some(name.clone()),
                ));
            }
        }
        let desired_tgs: BTreeSet<&str> =
            d.services.values().filter_map(|s| s.target_group.as_ref()).map(|t| t.name.as_str()).collect();
        for (name, tg) in &self.observed.target_groups {
            if tg.owner.is_owned_by(cluster) && !desired_tgs.contains(name.as_str()) {
                found.push((
                    Kind::TargetGroup,
                    name.clone(),
                    Step::DeleteTargetGroup { arn: tg.arn.clone() },
                    tg.owner.service.clone(),
                ));
            }
        }
        for (name, lb) in &self.observed.load_balancers {
            if !lb.owner.is_owned_by(cluster) {
                continue;
            }
            let Some(want) = d.load_balancers.get(name) else {
                found.push((
                    Kind::LoadBalancer,
                    name.clone(),
                    Step::DeleteLoadBalancer { arn: lb.arn.clone() },
                    lb.owner.service.clone(),
                ));
                continue;
            };
            for (port, l) in &lb.listeners {
                if !want.listeners.contains_key(port) {
                    found.push((
                        Kind::Listener,
                        listener_name(name, *port),
                        Step::DeleteListener { arn: l.arn.clone() },
                        lb.owner.service.clone(),
                    ));
                    continue;
                }
                for (priority, r) in l.rules.iter().flatten() {
                    let wanted = d
                        .services
                        .values()
                        .flat_map(|s| &s.rules)
                        .any(|w| w.load_balancer == *name && w.listener_port == *port && w.priority == *priority);
                    if r.owner.is_owned_by(cluster) && !wanted {
                        found.push((
                            Kind::Rule,
                            format!("{name}:{port}#{priority}"),
                            Step::DeleteRule { arn: r.arn.clone() },
                            r.owner.service.clone(),
                        ));
                    }
                }
            }
        }
        let desired_records: BTreeSet<(&str, &str)> =
            d.services.values().filter_map(|s| s.dns.as_ref()).map(|r| (r.zone_id.as_str(), r.name.as_str())).collect();
        for (key, r) in &self.observed.records {
            if r.owner.is_owned_by(cluster) && !desired_records.contains(&(key.zone_id.as_str(), key.name.as_str())) {
                found.push((
                    Kind::Record,
                    format!("{} ({})", key.name, key.zone_id),
                    Step::DeleteRecord { zone_id: key.zone_id.clone(), name: key.name.clone() },
                    r.owner.service.clone(),
                ));
            }
        }
        let desired_disco: BTreeSet<&str> =
            d.services.values().filter_map(|s| s.discovery.as_ref()).map(|x| x.name.as_str()).collect();
        for (name, ds) in &self.observed.discovery_services {
            if ds.owner.is_owned_by(cluster) && !desired_disco.contains(name.as_str()) {
                found.push((
                    Kind::DiscoveryService,
                    name.clone(),
                    Step::DeleteDiscoveryService { id: ds.id.clone() },
                    ds.owner.service.clone(),
                ));
            }
        }

        for (kind, name, step, owner) in found {
            if policy.prunes(owner.as_deref()) {
                let service = match &step {
                    Step::DeleteService { name, .. } => Some(name.clone()),
                    _ => None,
                };
                self.out.push(kind, name, Action::Delete, service.as_deref(), step);
            } else {
                self.out.orphans.push(Orphan { resource: Resource { kind, name } });
            }
        }
    }
}

pub use self::scaling::scalable_target_name;

/// `lb:port`, the plan name of a listener.
pub fn listener_name(lb: &str, port: u16) -> String {
    format!("{lb}:{port}")
}

/// `lb:port#priority`, the plan name of a rule.
pub fn rule_name(rule: &RuleSpec) -> String {
    format!("{}:{}#{}", rule.load_balancer, rule.listener_port, rule.priority)
}

fn describe_action(a: &DefaultAction) -> String {
    match a {
        DefaultAction::Forward { target_group } => format!("forward to {target_group}"),
        DefaultAction::FixedResponse { status_code } => format!("fixed response {status_code}"),
    }
}

/// The fields of a target group that differ, by the spec's own field lists.
fn target_group_changes(live: &TargetGroupSpec, want: &TargetGroupSpec) -> Vec<FieldChange> {
    if live == want {
        return Vec::new();
    }
    let mut f = field_changes(|v| live.fixed_fields(v), |v| want.fixed_fields(v), TargetGroupField::Fixed);
    let (l, w) = (&live.health_check, &want.health_check);
    f.extend(field_changes(|v| l.fields(v), |v| w.fields(v), TargetGroupField::HealthCheck));
    f
}

/// The fields whose values differ between two visits of the same spec type.
fn field_changes(
    live: impl FnOnce(&mut dyn FnMut(&'static str, String)),
    want: impl FnOnce(&mut dyn FnMut(&'static str, String)),
    field: impl Fn(&'static str) -> TargetGroupField,
) -> Vec<FieldChange> {
    let mut before = Vec::new();
    live(&mut |name, value| before.push((name, value)));
    let mut changes = Vec::new();
    let mut i = 0;
    want(&mut |name, value| {
        let (live_name, live_value) = &before[i];
        debug_assert_eq!(*live_name, name, "both sides visit the same fields in the same order");
        if *live_value != value {
            changes.push(FieldChange::new(field(name), live_value, value));
        }
        i += 1;
    });
    changes
}

/// Service fields other than the task definition that differ.
fn service_field_changes(live: &ObservedService, want: &ServiceSpec, observed: &Observed) -> Vec<FieldChange> {
    let mut f = Vec::new();
    if let Some(count) = want.desired_count
        && live.desired_count != count
    {
        f.push(FieldChange::new(ServiceField::DesiredCount, live.desired_count, count));
    }
    let d = &want.deployment;
    if live.circuit_breaker != d.circuit_breaker || live.rollback != d.rollback {
        f.push(FieldChange::new(
            ServiceField::CircuitBreaker,
            format!("enable={} rollback={}", live.circuit_breaker, live.rollback),
            format!("enable={} rollback={}", d.circuit_breaker, d.rollback),
        ));
    }
    if live.min_healthy_percent != d.min_healthy_percent {
        f.push(FieldChange::new(ServiceField::MinHealthyPercent, live.min_healthy_percent, d.min_healthy_percent));
    }
    if live.max_percent != d.max_percent {
        f.push(FieldChange::new(ServiceField::MaxPercent, live.max_percent, d.max_percent));
    }
    // A network configuration matters only to awsvpc tasks, and UpdateService cannot
    // remove one: a service moved to bridge or host networking keeps its old one,
    // unused. Planning its removal would plan the same change forever.
    if want.network.is_some() && live.network != want.network {
        let show = |n: &Option<bosun_stackfile::NetworkSpec>| match n {
            None => "(none)".to_owned(),
            Some(n) => format!(
                "subnets={} security_groups={} public_ip={}",
                n.subnets.join(","),
                n.security_groups.join(","),
                n.assign_public_ip
            ),
        };
        f.push(FieldChange::new(ServiceField::Network, show(&live.network), show(&want.network)));
    }
    let want_lbs: Vec<ServiceLoadBalancer> = want
        .target_group
        .iter()
        .map(|tg| ServiceLoadBalancer {
            target_group: tg.name.clone(),
            container_name: want.task_definition.container.name.clone(),
            container_port: want.container_port.unwrap_or(tg.port),
        })
        .collect();
    let mut live_lbs = live.load_balancers.clone();
    live_lbs.sort();
    if live_lbs != want_lbs {
        let show = |v: &[ServiceLoadBalancer]| {
            if v.is_empty() {
                return "(none)".to_owned();
            }
            v.iter()
                .map(|l| format!("{}->{}:{}", l.target_group, l.container_name, l.container_port))
                .collect::<Vec<_>>()
                .join(",")
        };
        f.push(FieldChange::new(ServiceField::LoadBalancers, show(&live_lbs), show(&want_lbs)));
    }
    let want_reg: Vec<String> = want.discovery.iter().map(|d| d.name.clone()).collect();
    // A registry that points at a Cloud Map service the observer could not resolve by
    // name is kept as its ARN, so it differs here.
    let live_reg: Vec<String> = live
        .registries
        .iter()
        .map(|r| {
            observed.discovery_services.values().find(|d| &d.arn == r).map_or_else(|| r.clone(), |d| d.name.clone())
        })
        .collect();
    if live_reg != want_reg {
        f.push(FieldChange::new(
            ServiceField::ServiceRegistries,
            if live_reg.is_empty() { "(none)".to_owned() } else { live_reg.join(",") },
            if want_reg.is_empty() { "(none)".to_owned() } else { want_reg.join(",") },
        ));
    }
    if live.placement_strategy != want.placement_strategy {
        let show = |v: &[bosun_stackfile::PlacementStrategy]| {
            v.iter().map(|p| format!("{}:{}", p.kind, p.field.as_deref().unwrap_or(""))).collect::<Vec<_>>().join(",")
        };
        f.push(FieldChange::new(
            ServiceField::PlacementStrategy,
            show(&live.placement_strategy),
            show(&want.placement_strategy),
        ));
    }
    if live.placement_constraints != want.placement_constraints {
        let show = |v: &[bosun_stackfile::PlacementConstraint]| {
            v.iter()
                .map(|p| format!("{}:{}", p.kind, p.expression.as_deref().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        };
        f.push(FieldChange::new(
            ServiceField::PlacementConstraints,
            show(&live.placement_constraints),
            show(&want.placement_constraints),
        ));
    }
    // A service that reports neither a launch type nor a strategy runs on the cluster's
    // default strategy (ECS places it so): a spec that names that strategy agrees.
    let mut effective = std::borrow::Cow::Borrowed(&live.settings);
    if live.launch_type.is_none()
        && live.settings.capacity_provider_strategy.is_empty()
        && let Some(cluster) = &observed.cluster
    {
        effective.to_mut().capacity_provider_strategy.clone_from(&cluster.capacity.default_strategy);
    }
    f.extend(settings::changes(&effective, want));
    f
}

/// Every resource name a desired state claims, by kind. Used by the observer to know
/// which listeners need their rules read.
pub fn rule_listeners(desired: &Desired) -> BTreeMap<String, BTreeSet<u16>> {
    let mut out: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    for rule in desired.services.values().flat_map(|s| &s.rules) {
        out.entry(rule.load_balancer.clone()).or_default().insert(rule.listener_port);
    }
    out
}

/// The cluster settings that differ from `live` (all that are set, for a create), as
/// plan lines.
fn cluster_fields(desired: &ClusterSpec, live: Option<&ObservedCluster>) -> Vec<FieldChange> {
    let ClusterSpec { capacity_providers, container_insights } = desired;
    let mut out = Vec::new();
    if let Some(want) = capacity_providers {
        let have = live.map(|l| &l.capacity);
        if have.is_none_or(|h| h.providers != want.providers) {
            out.push(FieldChange::new(
                ClusterField::CapacityProviders,
                have.map(ClusterCapacity::show_providers).unwrap_or_default(),
                want.show_providers(),
            ));
        }
        if have.is_none_or(|h| h.default_strategy != want.default_strategy) {
            out.push(FieldChange::new(
                ClusterField::DefaultStrategy,
                have.map(|h| CapacityProviderItem::show(&h.default_strategy)).unwrap_or_default(),
                CapacityProviderItem::show(&want.default_strategy),
            ));
        }
    }
    if let Some(want) = container_insights {
        let have = live.map(|l| l.container_insights.as_deref().unwrap_or("disabled"));
        if have != Some(want.as_str()) {
            out.push(FieldChange::new(ClusterField::ContainerInsights, have.unwrap_or_default(), want));
        }
    }
    out
}
