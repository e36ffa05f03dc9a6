//! Which stackfile form each live resource takes, and the document.
//!
//! A service behind a load balancer of its own, whose one listener forwards to the
//! service's target group, is nysa's `elb`; a service that a listener rule routes to by
//! host or path is `routing` on a shared `load_balancers:` entry, however many services
//! share it. The `vpc` block comes from the load balancers and the awsvpc services,
//! the namespace from the Cloud Map services, the `cluster:` block from the cluster's
//! capacity providers. Sidecars and the scaler have modules of their own. Whatever
//! does not fit is a note at the resource it concerns, and is left out rather than
//! guessed.

use std::collections::BTreeMap;

use super::scaling::{self, Scaling};
use super::sidecars;
use super::yaml::{Map, Node, render};
use super::{
    LiveAction, LiveCluster, LiveDiscoveryService, LiveListener, LiveLoadBalancer, LiveRecord, LiveRule, LiveService,
    LiveTargetGroup,
};
use crate::model::{
    CapacityProviderItem, ContainerHealthCheck, ContainerSpec, LaunchType, LogConfiguration, PropagateTags, Protocol,
    Scheme, ServiceConnectSpec, TargetHealthCheck, TaskDefinitionSpec,
};

/// Key of the notes of a shared load balancer in a differences map (services use their
/// name, which has no `:`).
pub(super) fn lb_key(key: &str) -> String {
    format!("load_balancers:{key}")
}

/// The document, before it is written: what each live resource became.
pub(super) struct Composed<'a> {
    live: &'a LiveCluster,
    /// Services, sorted by name.
    pub(super) services: Vec<Picked<'a>>,
    /// Shared load balancers, sorted by key.
    pub(super) shared: Vec<Shared<'a>>,
    vpc: Vpc,
    /// The namespace of `service_discovery`.
    namespace: Option<String>,
    defaults: Defaults,
    /// Whether the `cluster:` block says the cluster's capacity providers and default
    /// strategy: when it has providers that every service's strategy is among. Equal to
    /// the live cluster's, it plans nothing, even on a cluster bosun did not create.
    cluster_block: bool,
}

/// One service as the document has it.
pub(super) struct Picked<'a> {
    pub(super) live: &'a LiveService,
    /// What the stackfile cannot say about it.
    notes: Vec<String>,
    fargate: bool,
    /// Fargate: task memory; EC2: the container's hard limit.
    memory: Option<i64>,
    /// Fargate: task CPU; EC2: the container's CPU units.
    cpu: Option<i64>,
    /// Environment variables a stackfile can hold.
    environment: BTreeMap<String, String>,
    pub(super) lb: Lb<'a>,
    dns: Option<&'a LiveRecord>,
    pub(super) discovery: Option<&'a LiveDiscoveryService>,
    /// The environment of each sidecar a stackfile can hold; `None` when its sidecars
    /// are left out.
    sidecars: Option<Vec<BTreeMap<String, String>>>,
    /// Its scaler, and what the document says of it.
    pub(super) scaling: Scaling<'a>,
    /// It names neither a launch type nor a strategy, and runs on the cluster's default
    /// strategy, which the `cluster:` block says: the service says neither either.
    default_capacity: bool,
}

/// A service's load balancing.
pub(super) enum Lb<'a> {
    None,
    /// nysa's `elb`: a load balancer of its own.
    Elb {
        lb: &'a LiveLoadBalancer,
        tg: &'a LiveTargetGroup,
        listener: &'a LiveListener,
        suffix: Option<String>,
    },
    /// `routing` on the shared load balancer `key`.
    Routing {
        key: String,
        lb: &'a LiveLoadBalancer,
        tg: &'a LiveTargetGroup,
        listener: u16,
        rule: &'a LiveRule,
    },
}

impl<'a> Lb<'a> {
    pub(super) fn target_group(&self) -> Option<&'a LiveTargetGroup> {
        match self {
            Lb::None => None,
            Lb::Elb { tg, .. } | Lb::Routing { tg, .. } => Some(tg),
        }
    }
}

/// A load balancer that services route to by rules.
pub(super) struct Shared<'a> {
    pub(super) key: String,
    pub(super) lb: &'a LiveLoadBalancer,
    notes: Vec<String>,
}

#[derive(Default)]
struct Vpc {
    id: Option<String>,
    public: Option<Placement>,
    private: Option<Placement>,
}

/// Subnets and security groups of one kind, and who they were taken from.
struct Placement {
    subnets: Vec<String>,
    security_groups: Vec<String>,
    from: String,
}

/// What every service shares.
#[derive(Default)]
struct Defaults {
    fargate: bool,
    memory: Option<i64>,
    cpu: Option<i64>,
    environment: BTreeMap<String, String>,
    logging: Option<LogConfiguration>,
    healthcheck: Option<ContainerHealthCheck>,
    circuit_breaker: Option<bool>,
    rollback: Option<bool>,
    min_healthy_percent: Option<i32>,
    max_percent: Option<i32>,
}

/// The deployment settings a stackfile takes when it says nothing.
const DEFAULT_DEPLOYMENT: (bool, bool, i32, i32) = (true, true, 50, 200);

pub(super) fn compose(live: &LiveCluster) -> Composed<'_> {
    let mut services: Vec<&LiveService> = live.services.iter().collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    let mut c = Composed {
        live,
        services: Vec::new(),
        shared: Vec::new(),
        vpc: Vpc::default(),
        namespace: None,
        defaults: Defaults::default(),
        cluster_block: {
            let providers = &live.capacity.providers;
            !providers.is_empty()
                && live
                    .services
                    .iter()
                    .flat_map(|s| &s.settings.capacity_provider_strategy)
                    .all(|i| providers.contains(&i.provider))
        },
    };
    for s in services {
        let picked = c.pick(s);
        c.services.push(picked);
    }
    c.shared.sort_by(|a, b| a.key.cmp(&b.key));
    c.shared_notes();
    c.records();
    c.place();
    c.defaults = Defaults::of(&c.services);
    c
}

impl<'a> Composed<'a> {
    /// The number of notes (what the stackfile cannot represent).
    pub(super) fn note_count(&self) -> usize {
        self.services.iter().map(|s| s.notes.len()).sum::<usize>()
            + self.shared.iter().map(|s| s.notes.len()).sum::<usize>()
    }

    fn cluster(&self) -> &'a str {
        &self.live.cluster
    }

    fn pick(&mut self, s: &'a LiveService) -> Picked<'a> {
        let mut notes = s.notes.clone();
        let td = &s.task_definition;
        let c = self.cluster();
        let strategy = &s.settings.capacity_provider_strategy;
        let fargate = match s.launch_type {
            Some(l) => l == LaunchType::Fargate,
            // A strategy is written as it is; its providers decide Fargate or EC2.
            None if !strategy.is_empty() => strategy.iter().all(CapacityProviderItem::is_fargate),
            None if self.cluster_block && !self.live.capacity.default_strategy.is_empty() => {
                self.live.capacity.default_strategy.iter().all(CapacityProviderItem::is_fargate)
            }
            None => {
                let fargate = td.requires_compatibilities.iter().any(|r| r == "FARGATE");
                notes.push(format!(
                    "it names no launch type nor capacity-provider strategy, and the cluster has no default strategy a `cluster:` block could say; bosun leaves it alone (`launch_type` here is `{}`, from its task definition)",
                    if fargate { "fargate" } else { "ec2" }
                ));
                fargate
            }
        };
        if td.family != format!("{c}-{}", s.name) {
            notes.push(format!(
                "its task definition family is `{}`; bosun's is `<cluster>-<service>` (`{c}-{}`)",
                td.family, s.name
            ));
        }
        if td.container.name != s.name {
            notes.push(format!(
                "its container is named `{}`; bosun names the container after the service",
                td.container.name
            ));
        }
        if !td.placement_constraints.is_empty() {
            notes.push("its task definition has placement constraints; a service's go on the service".into());
        }
        let (memory, cpu) = if fargate {
            if td.container.memory.is_some() || td.container.cpu.is_some() {
                notes.push(
                    "its container has a memory or CPU limit of its own; on Fargate a stackfile sets the task's only"
                        .into(),
                );
            }
            (parse(&td.memory), parse(&td.cpu))
        } else {
            if td.cpu.is_some() || td.memory.is_some() {
                notes.push(
                    "its task definition has a task-level CPU or memory size; on EC2 a stackfile sets the container's"
                        .into(),
                );
            }
            if td.container.memory.is_none() {
                notes.push("its container has no hard memory limit; a stackfile always sets one (1024 MiB unless `memory` says)".into());
            }
            (td.container.memory.map(i64::from), td.container.cpu.map(i64::from))
        };
        let mut environment = BTreeMap::new();
        for (k, v) in &td.container.environment {
            if sidecars::env_ok(k, v) {
                environment.insert(k.clone(), v.clone());
            } else {
                notes.push(format!("environment variable `{k}` has a name or value a stackfile refuses; left out"));
            }
        }
        let sidecars = sidecars::pick(s, fargate, &mut notes);
        let lb = self.load_balancing(s, &mut notes);
        let routed = !matches!(lb, Lb::None);
        let scaling = scaling::pick(self.cluster(), &s.name, s.scaling.as_ref(), routed, &mut notes);
        let discovery = self.discovery(s, &mut notes);
        self.connect_namespace(s);
        let default_capacity = s.launch_type.is_none()
            && strategy.is_empty()
            && self.cluster_block
            && !self.live.capacity.default_strategy.is_empty();
        Picked {
            live: s,
            notes,
            fargate,
            memory,
            cpu,
            environment,
            lb,
            dns: None,
            discovery,
            sidecars,
            scaling,
            default_capacity,
        }
    }

    /// A Service Connect namespace given by name becomes the stackfile's namespace
    /// (`service_discovery`) when no Cloud Map registration chose one: `service_connect`
    /// then says none of its own, as a stackfile written by hand would.
    fn connect_namespace(&mut self, s: &LiveService) {
        if let Some(sc) = &s.settings.service_connect
            && self.namespace.is_none()
            && !sc.namespace.starts_with("arn:")
        {
            self.namespace = Some(sc.namespace.clone());
        }
    }

    fn load_balancing(&mut self, s: &'a LiveService, notes: &mut Vec<String>) -> Lb<'a> {
        let live = self.live;
        let a = match s.load_balancers.as_slice() {
            [] => return Lb::None,
            [a] => a,
            many => {
                notes.push(format!(
                    "it registers in {} target groups; a stackfile has one per service, so its load balancing is left out",
                    many.len()
                ));
                return Lb::None;
            }
        };
        let Some(tg) = live.target_groups.get(&a.target_group_arn) else {
            notes.push(format!("its target group {} was not found; load balancing left out", a.target_group_arn));
            return Lb::None;
        };
        notes.extend(tg.notes.iter().cloned());
        if a.container_name != s.name {
            notes.push(format!("its load balancer sends traffic to container `{}`", a.container_name));
        }
        if tg.spec.port != a.container_port {
            notes.push(format!(
                "target group `{}` has port {} and the service registers container port {}; a stackfile has one port for both",
                tg.spec.name, tg.spec.port, a.container_port
            ));
        }
        let lb = match tg.load_balancer_arns.as_slice() {
            [arn] => live.load_balancers.get(arn),
            _ => None,
        };
        let Some(lb) = lb else {
            notes.push(format!(
                "target group `{}` is behind {} load balancers; a stackfile puts it behind one, so load balancing is left out",
                tg.spec.name,
                tg.load_balancer_arns.len()
            ));
            return Lb::None;
        };
        let forwards = |action: &LiveAction| matches!(action, LiveAction::Forward { target_group_arn } if *target_group_arn == tg.arn);
        if let [listener] = lb.listeners.as_slice()
            && forwards(&listener.default_action)
        {
            return self.elb(s, lb, tg, listener, notes);
        }
        let routes: Vec<(&LiveListener, &LiveRule)> = lb
            .listeners
            .iter()
            .flat_map(|l| l.rules.iter().map(move |r| (l, r)))
            .filter(|(_, r)| forwards(&r.action))
            .collect();
        let [(listener, rule)] = routes.as_slice() else {
            notes.push(format!(
                "load balancer `{}` reaches it through {} listener rules and {} default actions; a stackfile has its own ALB (`elb`) or one rule (`routing`), so load balancing is left out",
                lb.name,
                routes.len(),
                lb.listeners.iter().filter(|l| forwards(&l.default_action)).count()
            ));
            return Lb::None;
        };
        if rule.hosts.is_empty() && rule.paths.is_empty() {
            notes.push(format!(
                "its rule on load balancer `{}` matches no host or path; load balancing left out",
                lb.name
            ));
            return Lb::None;
        }
        if !rule.other_conditions.is_empty() {
            notes.push(format!(
                "its rule on load balancer `{}` also matches on {}, which a stackfile cannot say; the plan leaves the rule's conditions as they are",
                lb.name,
                rule.other_conditions.join(", ")
            ));
        }
        let tg_name = format!("{}-{}-tg", self.cluster(), s.name);
        if tg.spec.name != tg_name {
            notes.push(format!(
                "its target group is `{}`; bosun's is `<cluster>-<service>-tg` (`{tg_name}`)",
                tg.spec.name
            ));
        }
        let key = self.shared_key(lb);
        Lb::Routing { key, lb, tg, listener: listener.port, rule }
    }

    fn elb(
        &mut self,
        s: &LiveService,
        lb: &'a LiveLoadBalancer,
        tg: &'a LiveTargetGroup,
        listener: &'a LiveListener,
        notes: &mut Vec<String>,
    ) -> Lb<'a> {
        let c = self.cluster();
        notes.extend(lb.notes.iter().cloned());
        let bare = format!("{c}-{}-lb", s.name);
        let suffix = lb
            .name
            .strip_prefix(&format!("{c}-{}-", s.name))
            .and_then(|rest| rest.strip_suffix("-lb"))
            .filter(|x| !x.is_empty() && lb.name != bare)
            .map(str::to_owned);
        if lb.name != bare && suffix.is_none() {
            notes.push(format!(
                "its load balancer is `{}`; bosun's is `<cluster>-<service>[-<elb.name>]-lb` (`{bare}`)",
                lb.name
            ));
        }
        if tg.spec.name != lb.name {
            notes.push(format!(
                "its target group is `{}`; bosun names it as its load balancer, `{}`",
                tg.spec.name, lb.name
            ));
        }
        if listener.protocol.is_none() {
            notes.push(format!("the listener on port {} is neither HTTP nor HTTPS", listener.port));
        }
        if !listener.rules.is_empty() {
            notes.push(format!(
                "the listener on port {} has {} rule(s), which an `elb` cannot hold; bosun leaves them alone",
                listener.port,
                listener.rules.len()
            ));
        }
        Lb::Elb { lb, tg, listener, suffix }
    }

    /// The key of a shared load balancer under `load_balancers:`, registering it.
    fn shared_key(&mut self, lb: &'a LiveLoadBalancer) -> String {
        if let Some(s) = self.shared.iter().find(|s| s.lb.arn == lb.arn) {
            return s.key.clone();
        }
        let derived = lb.name.strip_prefix(&format!("{}-", self.cluster())).filter(|k| !k.is_empty());
        let key = match derived {
            Some(k) if !self.shared.iter().any(|s| s.key == k) => k.to_owned(),
            _ => lb.name.clone(),
        };
        self.shared.push(Shared { key: key.clone(), lb, notes: lb.notes.clone() });
        key
    }

    /// Notes on shared load balancers: listeners a stackfile cannot hold, and rules
    /// that are no imported service's.
    fn shared_notes(&mut self) {
        let routed: Vec<(String, u16, u32)> = self
            .services
            .iter()
            .filter_map(|p| match &p.lb {
                Lb::Routing { key, listener, rule, .. } => Some((key.clone(), *listener, rule.priority)),
                _ => None,
            })
            .collect();
        for sh in &mut self.shared {
            for l in &sh.lb.listeners {
                if l.protocol.is_none() {
                    sh.notes.push(format!("the listener on port {} is neither HTTP nor HTTPS", l.port));
                }
                if l.default_action != (LiveAction::FixedResponse { status_code: 404 }) {
                    sh.notes.push(format!(
                        "the listener on port {} answers requests no rule matches with {}; a shared load balancer's answer 404, and the plan would change it",
                        l.port,
                        describe(&l.default_action)
                    ));
                }
                for r in &l.rules {
                    if !routed.contains(&(sh.key.clone(), l.port, r.priority)) {
                        sh.notes.push(format!(
                            "the rule with priority {} on port {} ({}) routes to no imported service; bosun leaves it alone",
                            r.priority,
                            l.port,
                            describe(&r.action)
                        ));
                    }
                }
            }
        }
    }

    fn discovery(&mut self, s: &'a LiveService, notes: &mut Vec<String>) -> Option<&'a LiveDiscoveryService> {
        let live = self.live;
        let arn = match s.registries.as_slice() {
            [] => return None,
            [arn] => arn,
            many => {
                notes.push(format!(
                    "it registers in {} Cloud Map services; a stackfile has one, so `dns_discovery` is left out",
                    many.len()
                ));
                return None;
            }
        };
        let Some(ds) = live.discovery.get(arn) else {
            notes.push(format!("its Cloud Map service {arn} was not found; `dns_discovery` left out"));
            return None;
        };
        notes.extend(ds.notes.iter().cloned());
        let Some(ns) = live.namespaces.get(&ds.namespace_id) else {
            notes.push(format!(
                "the namespace of Cloud Map service `{}` was not found; `dns_discovery` left out",
                ds.name
            ));
            return None;
        };
        if !ns.private_dns {
            notes.push(format!(
                "Cloud Map namespace `{}` is not a private DNS namespace; `dns_discovery` left out",
                ns.name
            ));
            return None;
        }
        if s.task_definition.network_mode != "awsvpc" {
            notes.push(format!(
                "it registers in Cloud Map in `{}` network mode; a stackfile's `dns_discovery` needs awsvpc; left out",
                s.task_definition.network_mode
            ));
            return None;
        }
        if ds.dns_ttl.is_none() {
            notes.push(format!("Cloud Map service `{}` has no A record; `dns_discovery` left out", ds.name));
            return None;
        }
        match &self.namespace {
            None => {
                self.namespace = Some(ns.name.clone());
                if self.vpc.id.is_none() {
                    self.vpc.id.clone_from(&ns.vpc_id);
                }
            }
            Some(n) if *n == ns.name => {}
            Some(n) => {
                notes.push(format!(
                    "it registers in namespace `{}`; a stackfile has one namespace (`{n}`), so `dns_discovery` is left out",
                    ns.name
                ));
                return None;
            }
        }
        Some(ds)
    }

    /// Each alias record goes to the service whose ALB it points at: its own, or the
    /// shared one whose rule for it matches the record's name.
    fn records(&mut self) {
        let mut records: Vec<&'a LiveRecord> = self.live.records.iter().collect();
        records.sort();
        for r in records {
            let dualstack = r.alias_dns_name.strip_prefix("dualstack.");
            let target = dualstack.unwrap_or(&r.alias_dns_name);
            let host = r.name.trim_end_matches('.');
            let elb = self.services.iter().position(|p| matches!(p.lb, Lb::Elb { lb, .. } if lb.dns_name == target));
            let owner = match elb {
                Some(i) => Some(i),
                None => {
                    let Some(sh) = self.shared.iter().position(|s| s.lb.dns_name == target) else { continue };
                    let key = self.shared[sh].key.clone();
                    let users: Vec<usize> = (0..self.services.len())
                        .filter(|&i| matches!(&self.services[i].lb, Lb::Routing { key: k, .. } if *k == key))
                        .collect();
                    let by_host: Vec<usize> = users
                        .iter()
                        .copied()
                        .filter(|&i| matches!(&self.services[i].lb, Lb::Routing { rule, .. } if rule.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))))
                        .collect();
                    match (by_host.as_slice(), users.as_slice()) {
                        ([i], _) | ([], [i]) => Some(*i),
                        _ => {
                            self.shared[sh].notes.push(format!(
                                "record {} in zone {} aliases it, and no one service's rule is for that host; bosun leaves the record alone",
                                r.name, r.zone_id
                            ));
                            None
                        }
                    }
                }
            };
            let Some(i) = owner else { continue };
            let p = &mut self.services[i];
            if r.record_type != "A" {
                p.notes.push(format!(
                    "{} record {} in zone {} aliases its load balancer; bosun writes A records only and leaves it alone",
                    r.record_type, r.name, r.zone_id
                ));
            } else if let Some(d) = p.dns {
                p.notes.push(format!(
                    "record {} in zone {} also aliases its load balancer; a stackfile has one `dns` per service (`{}`), so bosun leaves it alone",
                    r.name, r.zone_id, d.name
                ));
            } else {
                if dualstack.is_some() {
                    p.notes.push(format!(
                        "record {} aliases `dualstack.` of its load balancer; the plan would point it at the plain name",
                        r.name
                    ));
                }
                p.dns = Some(r);
            }
        }
    }

    /// The `vpc` block: the VPC of the target groups, the subnets and security groups
    /// of the internet-facing load balancers (public) and of the internal ones and the
    /// awsvpc services (private). The first of each kind is taken, and every other
    /// that differs is a note at its resource.
    fn place(&mut self) {
        let live = self.live;
        let mut tg_vpc = None;
        for p in &mut self.services {
            if let Some(tg) = p.lb.target_group() {
                match &tg_vpc {
                    None => tg_vpc = Some(tg.spec.vpc_id.clone()),
                    Some(v) if *v == tg.spec.vpc_id => {}
                    Some(v) => p
                        .notes
                        .push(format!("its target group is in VPC `{}`, and the stackfile's is `{v}`", tg.spec.vpc_id)),
                }
            }
        }
        if tg_vpc.is_some() {
            self.vpc.id = tg_vpc;
        }
        let _ = live;
        for i in 0..self.services.len() {
            let (name, lb, network) = {
                let p = &self.services[i];
                let lb = match &p.lb {
                    Lb::Elb { lb, .. } => Some(*lb),
                    _ => None,
                };
                (p.live.name.clone(), lb, p.live.network.clone())
            };
            if let Some(lb) = lb
                && let Some(n) = place_one(
                    &mut self.vpc,
                    lb.scheme,
                    &lb.subnets,
                    &lb.security_groups,
                    &format!("load balancer `{}`", lb.name),
                )
            {
                self.services[i].notes.push(n);
            }
            if let Some(net) = network {
                if net.assign_public_ip {
                    self.services[i].notes.push(
                        "its tasks get a public IP; bosun's awsvpc services do not, and the plan would change that"
                            .into(),
                    );
                }
                if let Some(n) = place_one(
                    &mut self.vpc,
                    Scheme::Internal,
                    &net.subnets,
                    &net.security_groups,
                    &format!("service `{name}`"),
                ) {
                    self.services[i].notes.push(n);
                }
            }
        }
        for i in 0..self.shared.len() {
            let lb = self.shared[i].lb;
            if let Some(n) = place_one(
                &mut self.vpc,
                lb.scheme,
                &lb.subnets,
                &lb.security_groups,
                &format!("load balancer `{}`", lb.name),
            ) {
                self.shared[i].notes.push(n);
            }
        }
    }
}

/// Takes subnets and security groups for their kind, or says how they differ from the
/// ones already taken.
fn place_one(vpc: &mut Vpc, scheme: Scheme, subnets: &[String], sgs: &[String], what: &str) -> Option<String> {
    let (slot, kind) = match scheme {
        Scheme::InternetFacing => (&mut vpc.public, "public"),
        Scheme::Internal => (&mut vpc.private, "private"),
    };
    match slot {
        None => {
            *slot = Some(Placement { subnets: subnets.to_vec(), security_groups: sgs.to_vec(), from: what.to_owned() });
            None
        }
        Some(p) if p.subnets == subnets && p.security_groups == sgs => None,
        Some(p) => Some(format!(
            "its subnets or security groups differ from those of {} (`vpc.subnets.{kind}`, `vpc.security_groups.{kind}`), and the plan would change them",
            p.from
        )),
    }
}

fn parse(v: &Option<String>) -> Option<i64> {
    v.as_deref().and_then(|s| s.parse().ok())
}

fn describe(a: &LiveAction) -> String {
    match a {
        LiveAction::Forward { target_group_arn } => format!("a forward to {target_group_arn}"),
        LiveAction::FixedResponse { status_code } => format!("a fixed response {status_code}"),
        LiveAction::Other { description } => description.clone(),
    }
}

/// The value every item has, if they all have the same one.
fn common<T: PartialEq + Clone>(mut items: impl Iterator<Item = T>) -> Option<T> {
    let first = items.next()?;
    items.all(|x| x == first).then_some(first)
}

impl Defaults {
    /// What every one of two or more services has in common.
    fn of(services: &[Picked<'_>]) -> Self {
        if services.len() < 2 {
            return Defaults::default();
        }
        let tds = || services.iter().map(|p| &p.live.task_definition);
        let environment = services[0]
            .environment
            .iter()
            .filter(|(k, v)| services.iter().all(|p| p.environment.get(*k) == Some(*v)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let logging = common(tds().map(|t| t.container.log_configuration.as_ref().map(|l| l.driver.clone())))
            .flatten()
            .map(|driver| {
                let first = tds().next().and_then(|t| t.container.log_configuration.as_ref()).map(|l| &l.options);
                let options = first
                    .into_iter()
                    .flatten()
                    .filter(|(k, v)| {
                        tds()
                            .all(|t| t.container.log_configuration.as_ref().and_then(|l| l.options.get(*k)) == Some(*v))
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                LogConfiguration { driver, options }
            });
        let d = |f: fn(&LiveService) -> (bool, bool, i32, i32)| services.iter().map(move |p| f(p.live));
        let deployment = |s: &LiveService| (s.circuit_breaker, s.rollback, s.min_healthy_percent, s.max_percent);
        // A sidecar's logging merges onto the defaults': none unless every sidecar can
        // say its own over them.
        let logging = logging.filter(|l| {
            services
                .iter()
                .filter(|p| p.sidecars.is_some())
                .flat_map(|p| &p.live.task_definition.sidecars)
                .all(|c| sidecars::logging(Some(l), c.log_configuration.as_ref()).is_ok())
        });
        Defaults {
            // `defaults.launch_type` would take a service off the cluster's default strategy.
            fargate: services.iter().all(|p| p.fargate && !p.default_capacity),
            memory: common(services.iter().map(|p| p.memory)).flatten(),
            cpu: common(services.iter().map(|p| p.cpu)).flatten(),
            environment,
            logging,
            healthcheck: common(tds().map(|t| t.container.health_check.clone())).flatten(),
            circuit_breaker: common(d(deployment).map(|x| x.0)).filter(|v| *v != DEFAULT_DEPLOYMENT.0),
            rollback: common(d(deployment).map(|x| x.1)).filter(|v| *v != DEFAULT_DEPLOYMENT.1),
            min_healthy_percent: common(d(deployment).map(|x| x.2)).filter(|v| *v != DEFAULT_DEPLOYMENT.2),
            max_percent: common(d(deployment).map(|x| x.3)).filter(|v| *v != DEFAULT_DEPLOYMENT.3),
        }
    }

    fn node(&self) -> Option<Node> {
        let mut m = Map::default();
        if self.fargate {
            m.set("launch_type", Node::str("fargate"));
        }
        m.opt("cpu", self.cpu.map(Node::Int)).opt("memory", self.memory.map(Node::Int));
        if !self.environment.is_empty() {
            m.set("environment", env_node(&self.environment));
        }
        m.opt("logging", self.logging.as_ref().map(|l| logging_node(Some(&l.driver), &l.options)));
        m.opt("healthcheck", self.healthcheck.as_ref().map(healthcheck_node));
        let mut dep = Map::default();
        dep.opt("circuit_breaker", self.circuit_breaker.map(Node::Bool))
            .opt("rollback", self.rollback.map(Node::Bool))
            .opt("min_healthy_percent", self.min_healthy_percent.map(|v| Node::Int(v.into())))
            .opt("max_percent", self.max_percent.map(|v| Node::Int(v.into())));
        m.opt("deployment", dep.non_empty());
        m.non_empty()
    }

    /// The deployment settings a service inherits.
    fn deployment(&self) -> (bool, bool, i32, i32) {
        let (cb, rb, min, max) = DEFAULT_DEPLOYMENT;
        (
            self.circuit_breaker.unwrap_or(cb),
            self.rollback.unwrap_or(rb),
            self.min_healthy_percent.unwrap_or(min),
            self.max_percent.unwrap_or(max),
        )
    }
}

/// A container's `ports`, as the stackfile writes them (`host:container` in bridge mode,
/// `/udp`).
pub(super) fn ports_node(td: &TaskDefinitionSpec, c: &ContainerSpec) -> Option<Node> {
    let bridge = td.network_mode == "bridge";
    let ports: Vec<Node> = c
        .port_mappings
        .iter()
        .map(|pm| {
            let mut text = match pm.host_port {
                Some(h) if bridge && h != 0 => format!("{h}:{}", pm.container_port),
                _ => pm.container_port.to_string(),
            };
            if pm.protocol != "tcp" {
                text = format!("{text}/{}", pm.protocol);
            }
            let port = text.parse::<i64>().map_or(Node::Str(text), Node::Int);
            let Some(name) = &pm.name else { return port };
            let mut m = Map::default();
            m.set("port", port).set("name", Node::str(name.clone()));
            m.opt("app_protocol", pm.app_protocol.clone().map(Node::str));
            Node::Map(m)
        })
        .collect();
    (!ports.is_empty()).then_some(Node::Seq(ports))
}

pub(super) fn env_node(env: &BTreeMap<String, String>) -> Node {
    let mut m = Map::default();
    for (k, v) in env {
        m.set(k.clone(), Node::str(v.clone()));
    }
    Node::Map(m)
}

pub(super) fn logging_node(driver: Option<&str>, options: &BTreeMap<String, String>) -> Node {
    let mut m = Map::default();
    m.opt("log_driver", driver.map(Node::str));
    if !options.is_empty() {
        m.set("options", env_node(options));
    }
    Node::Map(m)
}

pub(super) fn healthcheck_node(h: &ContainerHealthCheck) -> Node {
    let mut m = Map::default();
    m.set("command", Node::strs(&h.command));
    for (key, v, default) in [
        ("interval", h.interval, 30),
        ("timeout", h.timeout, 5),
        ("retries", h.retries, 3),
        ("start_period", h.start_period, 0),
    ] {
        if v != default {
            m.set(key, Node::Int(v.into()));
        }
    }
    Node::Map(m)
}

fn target_health_node(h: &TargetHealthCheck) -> Option<Node> {
    let mut m = Map::default();
    if h.protocol == Protocol::Https {
        m.set("protocol", Node::str("HTTPS"));
    }
    if h.port != "traffic-port" {
        m.set("port", Node::str(h.port.clone()));
    }
    if h.path != "/" {
        m.set("path", Node::str(h.path.clone()));
    }
    for (key, v, default) in [
        ("interval_seconds", h.interval_seconds, 30),
        ("timeout_seconds", h.timeout_seconds, 5),
        ("healthy_threshold_count", h.healthy_threshold, 2),
        ("unhealthy_threshold_count", h.unhealthy_threshold, 10),
    ] {
        if v != default {
            m.set(key, Node::Int(v.into()));
        }
    }
    if h.matcher != "200" {
        m.set("matcher", Node::str(h.matcher.clone()));
    }
    m.non_empty()
}

fn dns_node(r: &LiveRecord) -> Node {
    let mut m = Map::default();
    m.set("hosted_zone_id", Node::str(r.zone_id.clone())).set("record_name", Node::str(r.name.trim_end_matches('.')));
    Node::Map(m)
}

fn scheme_node(s: Scheme) -> Node {
    Node::str(match s {
        Scheme::InternetFacing => "public",
        Scheme::Internal => "private",
    })
}

impl Composed<'_> {
    /// The YAML text, with `differences` (what the plan would still change, by service
    /// name or [`lb_key`]) as comments beside the notes.
    pub(super) fn render(&self, differences: &BTreeMap<String, Vec<String>>) -> String {
        let mut doc = Map::default();
        doc.set("version", Node::Int(1));
        doc.opt("cluster", self.cluster_node());
        doc.opt("vpc", self.vpc_node());
        if let Some(ns) = &self.namespace {
            let mut m = Map::default();
            m.set("namespace", Node::str(ns.clone()));
            doc.set("service_discovery", Node::Map(m));
        }
        doc.opt("defaults", self.defaults.node());
        if !self.shared.is_empty() {
            let mut lbs = Map::spaced();
            for sh in &self.shared {
                let comments = comments(&sh.notes, differences.get(&lb_key(&sh.key)));
                lbs.commented(comments, sh.key.clone(), self.shared_node(sh));
            }
            doc.set("load_balancers", Node::Map(lbs));
        }
        let mut services = Map::spaced();
        for p in &self.services {
            let comments = comments(&p.notes, differences.get(&p.live.name));
            services.commented(comments, p.live.name.clone(), self.service_node(p));
        }
        doc.set("services", Node::Map(services));
        render(&self.header(), &doc)
    }

    fn header(&self) -> Vec<String> {
        let mut h = vec![
            format!(
                "Written by `bosun import` from ECS cluster `{}`: {} service(s).",
                self.live.cluster,
                self.services.len()
            ),
            "Every service (and shared load balancer) says `adopt: true`: the first `bosun apply` takes".into(),
            "it over by tagging it, with no new task definition and no redeploy, unless a comment".into(),
            "below says what the plan would still change. Comments also say what a stackfile cannot".into(),
            "hold. Environment values are written as they are live: keep this file as safe as the".into(),
            "task definitions. Secrets stay the ARNs the tasks read them from.".into(),
        ];
        if !self.live.managed.is_empty() {
            let mut managed = self.live.managed.clone();
            managed.sort();
            h.push(format!("Already managed by bosun, so not imported: {}.", managed.join(", ")));
        }
        h
    }

    /// `cluster:`: the capacity providers and the default strategy, as they are live.
    fn cluster_node(&self) -> Option<Node> {
        if !self.cluster_block {
            return None;
        }
        let capacity = &self.live.capacity;
        let mut m = Map::default();
        m.set("capacity_providers", Node::strs(&capacity.providers));
        if !capacity.default_strategy.is_empty() {
            m.set("default_strategy", strategy_node(&capacity.default_strategy));
        }
        Some(Node::Map(m))
    }

    fn vpc_node(&self) -> Option<Node> {
        let mut vpc = Map::default();
        vpc.opt("id", self.vpc.id.clone().map(Node::str));
        let mut subnets = Map::default();
        let mut sgs = Map::default();
        for (kind, p) in [("public", &self.vpc.public), ("private", &self.vpc.private)] {
            if let Some(p) = p {
                if !p.subnets.is_empty() {
                    subnets.set(kind, Node::strs(&p.subnets));
                }
                if !p.security_groups.is_empty() {
                    sgs.set(kind, Node::strs(&p.security_groups));
                }
            }
        }
        vpc.opt("subnets", subnets.non_empty()).opt("security_groups", sgs.non_empty());
        vpc.non_empty()
    }

    fn shared_node(&self, sh: &Shared<'_>) -> Node {
        let mut m = Map::default();
        if sh.lb.name != format!("{}-{}", self.live.cluster, sh.key) {
            m.set("name", Node::str(sh.lb.name.clone()));
        }
        m.set("type", scheme_node(sh.lb.scheme));
        let listeners = sh
            .lb
            .listeners
            .iter()
            .map(|l| {
                let mut lm = Map::default();
                lm.set("port", Node::Int(l.port.into()));
                if l.protocol == Some(Protocol::Https) {
                    lm.set("protocol", Node::str("HTTPS"));
                }
                if !l.certificates.is_empty() {
                    lm.set("certificates", Node::strs(&l.certificates));
                }
                Node::Map(lm)
            })
            .collect();
        m.set("listeners", Node::Seq(listeners));
        m.set("adopt", Node::Bool(true));
        Node::Map(m)
    }

    fn service_node(&self, p: &Picked<'_>) -> Node {
        let (s, td, d) = (p.live, &p.live.task_definition, &self.defaults);
        let c = &td.container;
        let mut m = Map::default();
        m.set("image", Node::str(c.image.clone()));
        let strategy = &s.settings.capacity_provider_strategy;
        // A service that names neither takes the `cluster:` block's default strategy.
        let cluster_default = self.cluster_block && !self.live.capacity.default_strategy.is_empty();
        if !strategy.is_empty() {
            m.set("capacity_provider_strategy", strategy_node(strategy));
        } else if p.default_capacity {
            // On the default strategy, as live.
        } else if p.fargate && !d.fargate {
            m.set("launch_type", Node::str("fargate"));
        } else if cluster_default && !p.fargate {
            m.set("launch_type", Node::str("ec2"));
        }
        if p.cpu != d.cpu {
            m.opt("cpu", p.cpu.map(Node::Int));
        }
        if p.memory != d.memory {
            m.opt("memory", p.memory.map(Node::Int));
        }
        // With a scaler, the count only seeds a new service, within the bounds.
        let seeds = match &p.scaling {
            Scaling::Written { target, .. } => (target.min..=target.max).contains(&s.desired_count),
            _ => true,
        };
        if seeds {
            m.set("desired_count", Node::Int(s.desired_count.into()));
        }
        if matches!(p.scaling, Scaling::Ignored) {
            m.set("ignore", Node::strs(["desired_count"]));
        }
        let forced_awsvpc = p.fargate || p.discovery.is_some();
        match td.network_mode.as_str() {
            "awsvpc" if !forced_awsvpc => m.set("network_mode", Node::str("awsvpc")),
            "bridge" => m.set("network_mode", Node::str("bridge")),
            _ => &mut m,
        };
        m.opt("ports", ports_node(td, c));
        let env: BTreeMap<String, String> = p
            .environment
            .iter()
            .filter(|(k, v)| d.environment.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !env.is_empty() {
            m.set("environment", env_node(&env));
        }
        if !c.secrets.is_empty() {
            m.set("secrets", env_node(&c.secrets));
        }
        m.opt("task_role_arn", td.task_role_arn.clone().map(Node::str));
        m.opt("task_execution_role_arn", td.execution_role_arn.clone().map(Node::str));
        m.opt("logging", self.service_logging(c.log_configuration.as_ref()));
        if c.health_check != d.healthcheck {
            m.opt("healthcheck", c.health_check.as_ref().map(healthcheck_node));
        }
        if c.privileged {
            m.set("privileged", Node::Bool(true));
        }
        m.opt("gpus", c.gpus.map(|g| Node::Int(g.into())));
        process_node(td, &mut m);
        let volumes: Vec<String> = c
            .mount_points
            .iter()
            .filter_map(|mp| {
                let host = td.volumes.iter().find(|v| v.name == mp.source_volume).map(|v| v.host_path.as_str())?;
                (!host.is_empty()).then(|| {
                    let ro = if mp.read_only { ":ro" } else { "" };
                    format!("{}:{host}:{}{ro}", mp.source_volume, mp.container_path)
                })
            })
            .collect();
        if !volumes.is_empty() {
            m.set("volumes", Node::strs(&volumes));
        }
        if !s.placement_strategy.is_empty() {
            let items = s
                .placement_strategy
                .iter()
                .map(|ps| {
                    let mut pm = Map::default();
                    pm.set("type", Node::str(ps.kind.clone())).opt("field", ps.field.clone().map(Node::str));
                    Node::Map(pm)
                })
                .collect();
            m.set("placement_strategy", Node::Seq(items));
        }
        if !s.placement_constraints.is_empty() {
            let items = s
                .placement_constraints
                .iter()
                .map(|pc| {
                    let mut pm = Map::default();
                    pm.set("type", Node::str(pc.kind.clone())).opt("expression", pc.expression.clone().map(Node::str));
                    Node::Map(pm)
                })
                .collect();
            m.set("placement_constraints", Node::Seq(items));
        }
        // ECS uses the grace period with a load balancer or a container health check; a
        // stackfile refuses it otherwise (the adapter's note says so).
        let grace_applies = !matches!(p.lb, Lb::None) || c.health_check.is_some();
        settings_node(s, grace_applies, &mut m);
        if !td.tags.is_empty() {
            m.set("tags", env_node(&td.tags));
        }
        self.load_balancing_node(p, &mut m);
        m.opt("dns_discovery", p.discovery.map(|ds| discovery_node(s, ds)));
        m.opt("service_connect", s.settings.service_connect.as_ref().map(|sc| self.connect_node(sc)));
        let (cb, rb, min, max) = d.deployment();
        let mut dep = Map::default();
        if s.circuit_breaker != cb {
            dep.set("circuit_breaker", Node::Bool(s.circuit_breaker));
        }
        if s.rollback != rb {
            dep.set("rollback", Node::Bool(s.rollback));
        }
        if s.min_healthy_percent != min {
            dep.set("min_healthy_percent", Node::Int(s.min_healthy_percent.into()));
        }
        if s.max_percent != max {
            dep.set("max_percent", Node::Int(s.max_percent.into()));
        }
        m.opt("deployment", dep.non_empty());
        m.opt("depends_on", sidecars::depends_node(&c.depends_on));
        if let Some(envs) = &p.sidecars {
            m.opt("containers", sidecars::containers_node(td, envs, d.logging.as_ref()));
        }
        m.opt("autoscaling", scaling::node(&p.scaling));
        m.set("adopt", Node::Bool(true));
        Node::Map(m)
    }

    /// A service's `service_connect`: its namespace when it is not the stackfile's, each
    /// offered port with its discovery name when it is not the port's.
    fn connect_node(&self, sc: &ServiceConnectSpec) -> Node {
        let mut m = Map::default();
        if self.namespace.as_deref() != Some(sc.namespace.as_str()) {
            m.set("namespace", Node::str(sc.namespace.clone()));
        }
        let services: Vec<Node> = sc
            .services
            .iter()
            .map(|x| {
                let mut xm = Map::default();
                xm.set("port_name", Node::str(x.port_name.clone()));
                if x.discovery_name != x.port_name {
                    xm.set("discovery_name", Node::str(x.discovery_name.clone()));
                }
                let aliases: Vec<Node> = x
                    .client_aliases
                    .iter()
                    .map(|a| {
                        let mut am = Map::default();
                        am.set("port", Node::Int(a.port.into())).set("dns_name", Node::str(a.dns_name.clone()));
                        Node::Map(am)
                    })
                    .collect();
                if !aliases.is_empty() {
                    xm.set("client_aliases", Node::Seq(aliases));
                }
                Node::Map(xm)
            })
            .collect();
        if !services.is_empty() {
            m.set("services", Node::Seq(services));
        }
        Node::Map(m)
    }

    /// A service's `logging`: what differs from `defaults.logging` (the same driver, so
    /// the options merge), or all of it.
    fn service_logging(&self, l: Option<&LogConfiguration>) -> Option<Node> {
        let l = l?;
        match &self.defaults.logging {
            Some(d) => {
                let extra: BTreeMap<String, String> = l
                    .options
                    .iter()
                    .filter(|(k, v)| d.options.get(*k) != Some(*v))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                (!extra.is_empty()).then(|| logging_node(None, &extra))
            }
            None => Some(logging_node(Some(&l.driver), &l.options)),
        }
    }

    fn load_balancing_node(&self, p: &Picked<'_>, m: &mut Map) {
        let c = &p.live.task_definition.container;
        match &p.lb {
            Lb::None => {}
            Lb::Elb { lb, tg, listener, suffix } => {
                let mut e = Map::default();
                e.opt("name", suffix.clone().map(Node::str));
                e.set("type", scheme_node(lb.scheme));
                if listener.protocol == Some(Protocol::Https) {
                    e.set("protocol", Node::str("HTTPS"));
                }
                let mut ports = Map::default();
                ports.set("public", Node::Int(listener.port.into())).set("container", Node::Int(tg.spec.port.into()));
                e.set("ports", Node::Map(ports));
                if !listener.certificates.is_empty() {
                    e.set("certificates", Node::strs(&listener.certificates));
                }
                e.opt("dns", p.dns.map(dns_node));
                e.opt("healthcheck", target_health_node(&tg.spec.health_check));
                m.set("elb", Node::Map(e));
            }
            Lb::Routing { key, lb, tg, listener, rule } => {
                let mut r = Map::default();
                r.set("load_balancer", Node::str(key.clone()));
                if lb.listeners.len() > 1 {
                    r.set("listener", Node::Int((*listener).into()));
                }
                if !rule.hosts.is_empty() {
                    r.set("hosts", Node::strs(&rule.hosts));
                }
                if !rule.paths.is_empty() {
                    r.set("paths", Node::strs(&rule.paths));
                }
                r.set("priority", Node::Int(rule.priority.into()));
                if c.port_mappings.first().map(|pm| pm.container_port) != Some(tg.spec.port) {
                    r.set("container_port", Node::Int(tg.spec.port.into()));
                }
                r.opt("healthcheck", target_health_node(&tg.spec.health_check));
                r.opt("dns", p.dns.map(dns_node));
                m.set("routing", Node::Map(r));
            }
        }
    }
}

/// A service's `dns_discovery`: what differs from bosun's defaults (its name, TTL 60, a
/// failure threshold of 1).
fn discovery_node(s: &LiveService, ds: &LiveDiscoveryService) -> Node {
    let mut dm = Map::default();
    if ds.name != s.name.to_lowercase() {
        dm.set("name", Node::str(ds.name.clone()));
    }
    if let Some(ttl) = ds.dns_ttl.filter(|t| *t != 60) {
        dm.set("ttl", Node::Int(ttl));
    }
    if let Some(ft) = ds.failure_threshold.filter(|f| *f != 1) {
        let mut hm = Map::default();
        hm.set("failure_threshold", Node::Int(ft.into()));
        dm.set("healthcheck", Node::Map(hm));
    }
    Node::Map(dm)
}

/// Comment lines: what a stackfile cannot represent, then what the plan would change.
fn comments(notes: &[String], differences: Option<&Vec<String>>) -> Vec<String> {
    notes
        .iter()
        .map(|n| format!("bosun cannot represent: {n}"))
        .chain(differences.into_iter().flatten().map(|d| format!("the plan would change: {d}")))
        .collect()
}

/// A capacity provider strategy as the stackfile writes it: `base` and `weight` only
/// when not 0.
/// The main container's process settings and the task's platform, each as the service
/// key that says it, when it is set live.
fn process_node(td: &TaskDefinitionSpec, m: &mut Map) {
    let c = &td.container;
    if !c.command.is_empty() {
        m.set("command", Node::strs(&c.command));
    }
    if !c.entry_point.is_empty() {
        m.set("entrypoint", Node::strs(&c.entry_point));
    }
    m.opt("working_directory", c.working_directory.clone().map(Node::str));
    m.opt("user", c.user.clone().map(Node::str));
    m.opt("stop_timeout", c.stop_timeout.map(|t| Node::Int(t.into())));
    if c.readonly_root_filesystem {
        m.set("readonly_root_filesystem", Node::Bool(true));
    }
    if !c.ulimits.is_empty() {
        let items = c
            .ulimits
            .iter()
            .map(|u| {
                let mut um = Map::default();
                um.set("name", Node::str(u.name.clone()))
                    .set("soft", Node::Int(u.soft_limit.into()))
                    .set("hard", Node::Int(u.hard_limit.into()));
                Node::Map(um)
            })
            .collect();
        m.set("ulimits", Node::Seq(items));
    }
    if !c.docker_labels.is_empty() {
        m.set("docker_labels", env_node(&c.docker_labels));
    }
    if c.init_process_enabled {
        m.set("init_process_enabled", Node::Bool(true));
    }
    if let Some(p) = &td.runtime_platform {
        let mut pm = Map::default();
        pm.set("cpu_architecture", Node::str(p.cpu_architecture.to_ascii_lowercase()))
            .set("os_family", Node::str(p.os_family.to_ascii_lowercase()));
        m.set("runtime_platform", Node::Map(pm));
    }
    m.opt("ephemeral_storage", td.ephemeral_storage.map(|g| Node::Int(g.into())));
}

fn strategy_node(strategy: &[CapacityProviderItem]) -> Node {
    let items = strategy
        .iter()
        .map(|i| {
            let mut im = Map::default();
            im.set("provider", Node::str(i.provider.clone()));
            if i.base != 0 {
                im.set("base", Node::Int(i.base.into()));
            }
            if i.weight != 0 {
                im.set("weight", Node::Int(i.weight.into()));
            }
            Node::Map(im)
        })
        .collect();
    Node::Seq(items)
}

/// ECS Exec, the grace period, managed tags and tag propagation, each when not ECS's
/// default.
fn settings_node(s: &LiveService, grace_applies: bool, m: &mut Map) {
    let st = &s.settings;
    if st.enable_execute_command {
        m.set("enable_execute_command", Node::Bool(true));
    }
    if st.health_check_grace_period != 0 && grace_applies {
        m.set("health_check_grace_period", Node::Int(st.health_check_grace_period.into()));
    }
    if st.enable_ecs_managed_tags {
        m.set("enable_ecs_managed_tags", Node::Bool(true));
    }
    match st.propagate_tags {
        Some(PropagateTags::TaskDefinition) => m.set("propagate_tags", Node::str("task_definition")),
        Some(PropagateTags::Service) => m.set("propagate_tags", Node::str("service")),
        None => m,
    };
}
