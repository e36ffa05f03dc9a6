//! The semantic pass: checks the rules that span fields and turns the raw stackfile into
//! the normalised [`Desired`] state, collecting every error on the way.

mod container;
mod deployment;
mod discovery;
mod names;
mod network;
mod placement;

use std::collections::BTreeMap;

use self::names::{Duplicate, NameKind, Names};

use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::raw::*;
use crate::suggest::did_you_mean;
use crate::validate::*;
use crate::walk::{Locations, join};

/// Stands in for the cluster name when only validating: names are computed with it, but
/// nothing that depends on the cluster name's length or characters is checked.
const PLACEHOLDER_CLUSTER: &str = "cluster";

/// Checks and normalises a structurally valid stackfile. `cluster` is `None` when only
/// validating. Returns the desired state (meaningful only without diagnostics).
pub(crate) fn normalise(
    raw: &RawStackfile,
    locs: &Locations,
    cluster: Option<&str>,
) -> (Desired, Vec<Diagnostic>) {
    let mut n = Normaliser {
        locs,
        diags: Vec::new(),
        check_names: cluster.is_some(),
        cluster: cluster.unwrap_or(PLACEHOLDER_CLUSTER).to_string(),
        raw,
        aws_names: Names::default(),
        rules: Vec::new(),
    };
    let desired = n.run();
    let Normaliser { diags, .. } = n;
    // A conclusion about a field whose part failed the structural pass (say, "Fargate
    // needs `cpu`" when `cpu: lots` was left out) would only repeat that error.
    let diags = diags
        .into_iter()
        .filter(|d| !locs.dropped_under(&d.path))
        .collect();
    (desired, diags)
}

/// A shared load balancer as services see it.
struct SharedLb {
    aws_name: String,
    listeners: Vec<u16>,
}

/// A listener rule, for the priority collision check.
struct RuleUse {
    /// Key of the shared load balancer under `load_balancers:`, as errors name it.
    lb_key: String,
    /// Port of the listener the rule is on: priorities are unique per listener.
    listener: u16,
    /// The rule priority.
    priority: u32,
    /// The service the rule routes to, named in the other services' errors.
    service: String,
    /// Path of `routing.priority`, where a collision is reported.
    path: String,
}

/// The cluster-wide results every service reads.
struct Stack {
    /// Subnets and security groups for awsvpc networking and load balancers.
    vpc: Vpc,
    /// Top-level `logging` with `defaults.logging` merged over it: what a service's
    /// `logging` merges onto.
    logging: Option<LogConfiguration>,
    /// `load_balancers:` by key, which `routing` refers to.
    load_balancers: BTreeMap<String, SharedLb>,
    /// Whether `service_discovery` gave a namespace for `dns_discovery` to register in.
    has_namespace: bool,
}

/// One entry of `services:` being lowered: what every section of it reads.
struct Entry<'s> {
    /// Where the service is in the document; its errors' paths start here.
    path: &'s str,
    /// The service name, from which AWS names are derived.
    name: &'s str,
    /// The service as written.
    raw: &'s RawService,
    /// `defaults:`, which fills in what the service leaves out.
    defaults: &'s RawDefaults,
    /// A service, or a one-off task that only keeps a task definition.
    kind: ServiceKind,
}

impl<'s> Entry<'s> {
    fn new(path: &'s str, name: &'s str, raw: &'s RawService, defaults: &'s RawDefaults) -> Self {
        let kind = match raw.kind {
            Some(RawKind::Task) => ServiceKind::Task,
            _ => ServiceKind::Service,
        };
        Entry {
            path,
            name,
            raw,
            defaults,
            kind,
        }
    }

    /// The path of `key` under the service.
    fn at(&self, key: &str) -> String {
        join(self.path, key)
    }
}

struct Normaliser<'a> {
    locs: &'a Locations,
    diags: Vec<Diagnostic>,
    /// Whether the cluster name is known, so that derived AWS names can be checked.
    check_names: bool,
    cluster: String,
    raw: &'a RawStackfile,
    /// AWS load balancer and target group names -> the path that defined each, across
    /// the whole stackfile: two services cannot share one.
    aws_names: Names,
    /// The listener rules of every service so far: priorities collide across services.
    rules: Vec<RuleUse>,
}

/// The VPC as the services need it.
#[derive(Default)]
struct Vpc {
    id: Option<String>,
    public_subnets: Vec<String>,
    private_subnets: Vec<String>,
    public_sgs: Vec<String>,
    private_sgs: Vec<String>,
}

impl Vpc {
    fn placement(&self, kind: RawLbType) -> (Scheme, &[String], &[String], &'static str) {
        match kind {
            RawLbType::Public => (
                Scheme::InternetFacing,
                &self.public_subnets,
                &self.public_sgs,
                "public",
            ),
            RawLbType::Private => (
                Scheme::Internal,
                &self.private_subnets,
                &self.private_sgs,
                "private",
            ),
        }
    }
}

impl<'a> Normaliser<'a> {
    fn err(&mut self, path: &str, message: impl Into<String>) {
        let (line, column) = self.locs.at(path);
        self.diags.push(Diagnostic {
            path: path.to_string(),
            line,
            column,
            message: message.into(),
        });
    }

    fn err_key(&mut self, path: &str, message: impl Into<String>) {
        let (line, column) = self.locs.key_at(path);
        self.diags.push(Diagnostic {
            path: path.to_string(),
            line,
            column,
            message: message.into(),
        });
    }

    /// Reports a name defined a second time, at the second definition.
    fn duplicate(&mut self, dup: Duplicate) {
        let message = dup.message(self.locs);
        if dup.at_key() {
            self.err_key(&dup.path, message);
        } else {
            self.err(&dup.path, message);
        }
    }

    fn run(&mut self) -> Desired {
        let raw = self.raw;
        if let Some(v) = raw.version
            && v != 1
        {
            self.err(
                "version",
                format!(
                    "unsupported version {v}; use `version: 1`, or omit it for the nysa dialect"
                ),
            );
        }
        let vpc = self.vpc();
        let logging = self.cluster_logging();
        let namespace = self.namespace(&vpc);
        let mut load_balancers = BTreeMap::new();
        let shared = self.shared_load_balancers(&vpc, &mut load_balancers);
        let stack = Stack {
            vpc,
            logging,
            load_balancers: shared,
            has_namespace: namespace.is_some(),
        };

        let no_defaults = RawDefaults::default();
        let defaults = raw.defaults.as_ref().unwrap_or(&no_defaults);
        let mut services = BTreeMap::new();
        for (path, name, svc) in self.service_entries() {
            let (spec, lb) = self.service(&Entry::new(&path, &name, svc, defaults), &stack);
            if let Some(lb) = lb {
                load_balancers.insert(lb.name.clone(), lb);
            }
            services.insert(name, spec);
        }
        let rules = std::mem::take(&mut self.rules);
        self.priority_collisions(&rules);
        let notifications = self.notifications();
        Desired {
            cluster: self.cluster.clone(),
            prune: raw.prune.unwrap_or(false),
            drift: match raw.drift {
                Some(RawDrift::Report) => Drift::Report,
                Some(RawDrift::Heal) | None => Drift::Heal,
            },
            notifications,
            namespace,
            load_balancers,
            services,
        }
    }

    fn notifications(&mut self) -> Notifications {
        let Some(n) = &self.raw.notifications else {
            return Notifications::default();
        };
        let (slack, webhook) = (n.slack_webhook.clone(), n.webhook.clone());
        for (key, url) in [("slack_webhook", &slack), ("webhook", &webhook)] {
            if let Some(url) = url
                && !is_http_url(url)
            {
                // The URL is a credential: the message does not repeat it.
                self.err(
                    &format!("notifications.{key}"),
                    "must be an http:// or https:// URL",
                );
            }
        }
        Notifications {
            slack_webhook: slack,
            webhook,
        }
    }

    /// Checks that an ALB can be placed, reporting at `path` when not.
    fn check_placement(&mut self, vpc: &Vpc, kind: RawLbType, path: &str, what: &str) -> bool {
        if self.locs.dropped_under("vpc") {
            return false;
        }
        if vpc.id.is_none() {
            self.err(path, format!("{what} needs `vpc.id`"));
            return false;
        }
        let (scheme, subnets, _, key) = vpc.placement(kind);
        if subnets.len() < 2 {
            self.err(
                path,
                format!(
                    "an {} load balancer needs at least 2 subnets in `vpc.subnets.{key}`, found {}",
                    scheme.as_aws(),
                    subnets.len()
                ),
            );
            return false;
        }
        true
    }

    /// Claims an AWS load balancer or target group name for `path`. With `check`, the
    /// name's characters and length are checked first, `hint` saying how to fix them.
    fn register_aws_name(
        &mut self,
        kind: NameKind,
        name: &str,
        path: &str,
        check: bool,
        hint: &str,
    ) {
        if check && let Err(msg) = check_elb_name(name) {
            self.err(path, format!("{} {msg}{hint}", kind.noun()));
        }
        if let Err(dup) = self.aws_names.claim(kind, name, path) {
            self.duplicate(dup);
        }
    }

    fn listener_certificates(
        &mut self,
        protocol: Protocol,
        certs: &Option<Vec<String>>,
        path: &str,
        proto_path: &str,
    ) -> Vec<String> {
        let list = certs.clone().unwrap_or_default();
        let certs_path = join(path, "certificates");
        for (i, c) in list.iter().enumerate() {
            if let Err(msg) = check_certificate_arn(c) {
                self.err(&self.locs.item(&certs_path, i), msg);
            }
        }
        match protocol {
            Protocol::Https if list.is_empty() && !self.locs.dropped_under(&certs_path) => {
                self.err(
                    proto_path,
                    "HTTPS needs at least one certificate in `certificates`",
                );
            }
            Protocol::Http if !list.is_empty() => {
                self.err(
                    &certs_path,
                    "certificates are only used with `protocol: HTTPS`",
                );
            }
            _ => {}
        }
        let mut list = list;
        list.sort();
        list.dedup();
        list
    }

    fn shared_load_balancers(
        &mut self,
        vpc: &Vpc,
        out: &mut BTreeMap<String, LoadBalancerSpec>,
    ) -> BTreeMap<String, SharedLb> {
        let mut shared = BTreeMap::new();
        let Some(lbs) = &self.raw.load_balancers else {
            return shared;
        };
        for (key, lb) in lbs {
            let path = join("load_balancers", key);
            let (aws_name, derived) = match &lb.name {
                Some(n) => (n.clone(), false),
                None => (format!("{}-{key}", self.cluster), true),
            };
            let name_path = if derived {
                path.clone()
            } else {
                join(&path, "name")
            };
            self.register_aws_name(
                NameKind::LoadBalancer,
                &aws_name,
                &name_path,
                !derived || self.check_names,
                if derived {
                    "; set `name` or use a shorter key"
                } else {
                    ""
                },
            );
            let placed =
                self.check_placement(vpc, lb.kind, &join(&path, "type"), "a load balancer");
            let listeners_path = join(&path, "listeners");
            if lb.listeners.is_empty() && !self.locs.dropped_under(&listeners_path) {
                self.err(
                    &listeners_path,
                    "a load balancer needs at least one listener",
                );
            }
            let mut listeners = BTreeMap::new();
            let mut ports = Names::default();
            for (i, l) in lb.listeners.iter().enumerate() {
                let lpath = self.locs.item(&listeners_path, i);
                let port_path = join(&lpath, "port");
                let Some(port) = self.port_number(l.port, &port_path) else {
                    continue;
                };
                let protocol = protocol(l.protocol);
                let certificates = self.listener_certificates(
                    protocol,
                    &l.certificates,
                    &lpath,
                    &join(&lpath, "protocol"),
                );
                if let Err(dup) = ports.claim(NameKind::ListenerPort, &port.to_string(), &port_path)
                {
                    self.duplicate(dup);
                    continue;
                }
                listeners.insert(
                    port,
                    ListenerSpec {
                        port,
                        protocol,
                        certificates,
                        default_action: DefaultAction::FixedResponse { status_code: 404 },
                    },
                );
            }
            let (scheme, subnets, sgs, _) = vpc.placement(lb.kind);
            shared.insert(
                key.clone(),
                SharedLb {
                    aws_name: aws_name.clone(),
                    listeners: listeners.keys().copied().collect(),
                },
            );
            if placed {
                out.insert(
                    aws_name.clone(),
                    LoadBalancerSpec {
                        name: aws_name,
                        scheme,
                        subnets: subnets.to_vec(),
                        security_groups: sgs.to_vec(),
                        listeners,
                        service: None,
                    },
                );
            }
        }
        shared
    }

    /// A port number 1-65535, reported at `path` when not.
    fn port_number(&mut self, n: i64, path: &str) -> Option<u16> {
        match u16::try_from(n) {
            Ok(p) if p > 0 => Some(p),
            _ => {
                self.err(path, format!("port {n} is out of range; use 1-65535"));
                None
            }
        }
    }

    /// Checks an integer against an inclusive range.
    fn in_range(&mut self, v: i64, lo: i64, hi: i64, path: &str, what: &str) -> bool {
        if (lo..=hi).contains(&v) {
            true
        } else {
            self.err(
                path,
                format!("{what} must be between {lo} and {hi}, found {v}"),
            );
            false
        }
    }

    /// `(path, name, service)` of every service, with duplicate and invalid names reported.
    fn service_entries(&mut self) -> Vec<(String, String, &'a RawService)> {
        let mut out: Vec<(String, String, &'a RawService)> = Vec::new();
        let raw = self.raw;
        match &raw.services {
            None => {}
            Some(RawServices::List(list)) => {
                for (i, entry) in list.iter().enumerate() {
                    let item = self.locs.item("services", i);
                    for (name, svc) in &entry.0 {
                        out.push((join(&item, name), name.clone(), svc));
                    }
                }
            }
            Some(RawServices::Map(map)) => {
                if raw.version != Some(1) {
                    self.err(
                        "services",
                        "`services` as a mapping needs `version: 1`; the nysa dialect takes a list of `- name: {...}` entries",
                    );
                }
                for (name, svc) in map {
                    out.push((join("services", name), name.clone(), svc));
                }
            }
        }
        // Report duplicates at the later definition, in document order.
        out.sort_by_key(|(p, _, _)| self.locs.key_at(p));
        let mut seen = Names::default();
        let mut unique = Vec::new();
        for (path, name, svc) in out {
            if let Err(msg) = check_ecs_name("service name", &name) {
                self.err_key(&path, msg);
            }
            if let Err(dup) = seen.claim(NameKind::Service, &name, &path) {
                self.duplicate(dup);
                continue;
            }
            unique.push((path, name, svc));
        }
        unique
    }

    fn service(&mut self, e: &Entry, stack: &Stack) -> (ServiceSpec, Option<LoadBalancerSpec>) {
        let (name, s, kind) = (e.name, e.raw, e.kind);
        let (vpc, base_logging, shared) = (&stack.vpc, &stack.logging, &stack.load_balancers);
        let p = |k: &str| e.at(k);
        if kind == ServiceKind::Task {
            for (field, set) in [
                ("hooks", s.hooks.is_some()),
                ("routing", s.routing.is_some()),
                ("elb", s.elb.is_some()),
                ("dns_discovery", s.dns_discovery.is_some()),
            ] {
                if set {
                    self.err_key(&p(field), format!("`{field}` needs a service; a `type: task` entry only keeps a task definition"));
                }
            }
        }

        let net = self.network(e, vpc);
        let target_type = net.target_type();
        let placement = self.placement(e, net.fargate());
        let task = self.task_definition(e, &net, base_logging, placement.task_constraints);
        let ports_path = p("ports");

        let deployment = self.deployment(e);
        let hooks = self.hooks(e);
        let count = self.desired_count(e);
        let discovery = self.discovery(e, stack);

        // Load balancing.
        if s.elb.is_some() && s.routing.is_some() {
            self.err_key(&p("routing"), "`elb` and `routing` are mutually exclusive: use `elb` for a load balancer of its own or `routing` for a shared one");
        }
        let mut target_group = None;
        let mut container_port = None;
        let mut own_lb = None;
        let mut dns = None;
        let mut service_rules = Vec::new();
        if let (Some(elb), ServiceKind::Service) = (&s.elb, kind) {
            let epath = p("elb");
            let lb_name = match &elb.name {
                Some(suffix) => format!("{}-{name}-{suffix}-lb", self.cluster),
                None => format!("{}-{name}-lb", self.cluster),
            };
            if self.check_names
                && let Err(msg) = check_elb_name(&lb_name)
            {
                self.err_key(
                        &epath,
                        format!("the ALB and target group name `<cluster>-<service>[-<elb.name>]-lb` is invalid: {msg}; shorten `elb.name` or the service name"),
                    );
            }
            // The name was checked just above, with a message about both resources.
            self.register_aws_name(NameKind::LoadBalancer, &lb_name, &epath, false, "");
            self.register_aws_name(NameKind::TargetGroup, &lb_name, &epath, false, "");
            let placed = self.check_placement(vpc, elb.kind, &join(&epath, "type"), "an `elb`");
            let public = self.port_number(elb.ports.public, &join(&epath, "ports.public"));
            let cport = self.port_number(elb.ports.container, &join(&epath, "ports.container"));
            if let Some(c) = cport
                && !task.exposes(c)
                && !self.locs.dropped_under(&ports_path)
            {
                self.err(
                    &join(&epath, "ports.container"),
                    format!("container port {c} is not among the service's `ports`; add `- {c}`"),
                );
            }
            let protocol = protocol(elb.protocol);
            let certificates = self.listener_certificates(
                protocol,
                &elb.certificates,
                &epath,
                &join(&epath, "protocol"),
            );
            let health_check =
                self.target_health_check(elb.healthcheck.as_ref(), &join(&epath, "healthcheck"));
            if let Some(d) = &elb.dns {
                dns = self.dns_record(d, &join(&epath, "dns"), &lb_name);
            }
            if let (Some(public), Some(cport), Some(vpc_id)) = (public, cport, &vpc.id) {
                container_port = Some(cport);
                target_group = Some(TargetGroupSpec {
                    name: lb_name.clone(),
                    protocol: Protocol::Http,
                    port: cport,
                    vpc_id: vpc_id.clone(),
                    target_type,
                    health_check,
                });
                if placed {
                    let (scheme, subnets, sgs, _) = vpc.placement(elb.kind);
                    let listener = ListenerSpec {
                        port: public,
                        protocol,
                        certificates,
                        default_action: DefaultAction::Forward {
                            target_group: lb_name.clone(),
                        },
                    };
                    own_lb = Some(LoadBalancerSpec {
                        name: lb_name.clone(),
                        scheme,
                        subnets: subnets.to_vec(),
                        security_groups: sgs.to_vec(),
                        listeners: BTreeMap::from([(public, listener)]),
                        service: Some(name.to_string()),
                    });
                }
            }
        }
        if let (Some(r), ServiceKind::Service, None) = (&s.routing, kind, &s.elb) {
            let rpath = p("routing");
            let tg_name = format!("{}-{name}-tg", self.cluster);
            self.register_aws_name(
                NameKind::TargetGroup,
                &tg_name,
                &rpath,
                self.check_names,
                "; shorten the service name",
            );
            if vpc.id.is_none() && !self.locs.dropped_under("vpc") {
                self.err_key(&rpath, "`routing` needs `vpc.id`");
            }
            let lb = shared.get(&r.load_balancer);
            let lb_path = join(&rpath, "load_balancer");
            if lb.is_none()
                && !self
                    .locs
                    .was_dropped(&join("load_balancers", &r.load_balancer))
            {
                let msg = match did_you_mean(&r.load_balancer, shared.keys().map(String::as_str)) {
                    Some(s) => format!(
                        "undefined load balancer `{}`; did you mean `{s}`?",
                        r.load_balancer
                    ),
                    None if shared.is_empty() => format!(
                        "undefined load balancer `{}`; define it under `load_balancers:`",
                        r.load_balancer
                    ),
                    None => format!(
                        "undefined load balancer `{}`; defined are {}",
                        r.load_balancer,
                        shared
                            .keys()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                self.err(&lb_path, msg);
            }
            let lb_broken = self
                .locs
                .dropped_under(&join("load_balancers", &r.load_balancer));
            let listener = match (lb, r.listener) {
                (Some(lb), Some(port)) => {
                    let port_ok = u16::try_from(port)
                        .ok()
                        .filter(|p| lb.listeners.contains(p));
                    if port_ok.is_none() && !lb_broken {
                        self.err(
                            &join(&rpath, "listener"),
                            format!(
                                "load balancer `{}` has no listener on port {port}",
                                r.load_balancer
                            ),
                        );
                    }
                    port_ok
                }
                (Some(lb), None) if lb.listeners.len() == 1 => Some(lb.listeners[0]),
                (Some(lb), None) => {
                    if !lb_broken && !lb.listeners.is_empty() {
                        let ports = lb
                            .listeners
                            .iter()
                            .map(u16::to_string)
                            .collect::<Vec<_>>()
                            .join(", ");
                        self.err_key(&rpath, format!("load balancer `{}` has listeners on {ports}; set `routing.listener`", r.load_balancer));
                    }
                    None
                }
                (None, _) => None,
            };
            let mut hosts = r.hosts.clone().unwrap_or_default();
            let mut paths = r.paths.clone().unwrap_or_default();
            if hosts.is_empty() && paths.is_empty() {
                self.err_key(&rpath, "`routing` needs at least one of `hosts` or `paths`");
            }
            for (field, list) in [("hosts", &hosts), ("paths", &paths)] {
                for (i, v) in list.iter().enumerate() {
                    if v.trim().is_empty() {
                        self.err(
                            &self.locs.item(&join(&rpath, field), i),
                            format!("empty entry in `{field}`"),
                        );
                    }
                }
            }
            hosts.sort();
            hosts.dedup();
            paths.sort();
            paths.dedup();
            let priority_ok = self.in_range(
                r.priority,
                1,
                50_000,
                &join(&rpath, "priority"),
                "rule priority",
            );
            let cport = match r.container_port {
                Some(c) => {
                    let c = self.port_number(c, &join(&rpath, "container_port"));
                    if let Some(c) = c
                        && !task.exposes(c)
                        && !self.locs.dropped_under(&ports_path)
                    {
                        self.err(
                            &join(&rpath, "container_port"),
                            format!(
                                "container port {c} is not among the service's `ports`; add `- {c}`"
                            ),
                        );
                    }
                    c
                }
                None => {
                    if task.first_port.is_none() && !self.locs.dropped_under(&ports_path) {
                        self.err_key(&rpath, "`routing` needs a container port: set `routing.container_port` or `ports`");
                    }
                    task.first_port
                }
            };
            let health_check =
                self.target_health_check(r.healthcheck.as_ref(), &join(&rpath, "healthcheck"));
            if let (Some(lb), Some(d)) = (lb, &r.dns) {
                dns = self.dns_record(d, &join(&rpath, "dns"), &lb.aws_name.clone());
            }
            if let (Some(lb), Some(listener), true) = (lb, listener, priority_ok) {
                self.rules.push(RuleUse {
                    lb_key: r.load_balancer.clone(),
                    listener,
                    priority: r.priority as u32,
                    service: name.to_string(),
                    path: join(&rpath, "priority"),
                });
                service_rules.push(RuleSpec {
                    load_balancer: lb.aws_name.clone(),
                    listener_port: listener,
                    priority: r.priority as u32,
                    hosts,
                    paths,
                    target_group: tg_name.clone(),
                });
            }
            if let (Some(c), Some(vpc_id)) = (cport, &vpc.id) {
                container_port = Some(c);
                target_group = Some(TargetGroupSpec {
                    name: tg_name,
                    protocol: Protocol::Http,
                    port: c,
                    vpc_id: vpc_id.clone(),
                    target_type,
                    health_check,
                });
            }
        }

        let spec = ServiceSpec {
            name: name.to_string(),
            kind,
            task_definition: task.spec,
            desired_count: count.desired,
            initial_count: count.initial,
            launch_type: net.launch_type,
            network: net.spec,
            target_group,
            container_port,
            rules: service_rules,
            dns,
            discovery,
            deployment,
            placement_strategy: placement.strategy,
            placement_constraints: placement.service_constraints,
            hooks,
            adopt: s.adopt.unwrap_or(false),
        };
        (spec, own_lb)
    }

    fn target_health_check(
        &mut self,
        h: Option<&RawTargetHealthcheck>,
        path: &str,
    ) -> TargetHealthCheck {
        let get = |f: fn(&RawTargetHealthcheck) -> Option<i64>| h.and_then(f);
        let port = match h.and_then(|h| h.port.as_ref()) {
            None => "traffic-port".to_string(),
            Some(p) if p.0 == "traffic-port" => p.0.clone(),
            Some(p) => match p.0.parse::<u16>() {
                Ok(n) if n > 0 => n.to_string(),
                _ => {
                    self.err(
                        &join(path, "port"),
                        format!(
                            "health check port must be 1-65535 or `traffic-port`, found `{}`",
                            p.0
                        ),
                    );
                    "traffic-port".to_string()
                }
            },
        };
        let mut field = |v: Option<i64>, default: i64, lo: i64, hi: i64, name: &str| -> i32 {
            let v = v.unwrap_or(default);
            self.in_range(v, lo, hi, &join(path, name), name);
            v.clamp(lo, hi) as i32
        };
        let interval = field(get(|h| h.interval_seconds), 30, 5, 300, "interval_seconds");
        let timeout = field(get(|h| h.timeout_seconds), 5, 2, 120, "timeout_seconds");
        let healthy = field(
            get(|h| h.healthy_threshold_count),
            2,
            2,
            10,
            "healthy_threshold_count",
        );
        let unhealthy = field(
            get(|h| h.unhealthy_threshold_count),
            10,
            2,
            10,
            "unhealthy_threshold_count",
        );
        if timeout >= interval {
            self.err(
                &join(path, "timeout_seconds"),
                format!(
                    "timeout_seconds ({timeout}) must be less than interval_seconds ({interval})"
                ),
            );
        }
        let hc_path = h
            .and_then(|h| h.path.clone())
            .unwrap_or_else(|| "/".to_string());
        if !hc_path.starts_with('/') {
            self.err(
                &join(path, "path"),
                format!("health check path must start with `/`, found `{hc_path}`"),
            );
        }
        TargetHealthCheck {
            protocol: protocol(h.and_then(|h| h.protocol)),
            port,
            path: hc_path,
            interval_seconds: interval,
            timeout_seconds: timeout,
            healthy_threshold: healthy,
            unhealthy_threshold: unhealthy,
            matcher: h
                .and_then(|h| h.matcher.clone())
                .map(|m| m.0)
                .unwrap_or_else(|| "200".to_string()),
        }
    }

    fn dns_record(&mut self, d: &RawDns, path: &str, load_balancer: &str) -> Option<DnsRecordSpec> {
        let zone_id = d
            .hosted_zone_id
            .trim()
            .trim_start_matches("/hostedzone/")
            .to_string();
        let mut name = d.record_name.trim().to_lowercase();
        let mut ok = true;
        if zone_id.is_empty() {
            self.err(
                &join(path, "hosted_zone_id"),
                "the hosted zone id must not be empty",
            );
            ok = false;
        }
        if name.is_empty() || name == "." {
            self.err(
                &join(path, "record_name"),
                "the record name must not be empty",
            );
            ok = false;
        }
        if !name.ends_with('.') {
            name.push('.');
        }
        ok.then(|| DnsRecordSpec {
            zone_id,
            name,
            load_balancer: load_balancer.to_string(),
        })
    }

    /// Reports every service whose rule priority collides with another's on the same
    /// listener, naming the others.
    fn priority_collisions(&mut self, rules: &[RuleUse]) {
        let mut groups: BTreeMap<(&str, u16, u32), Vec<&RuleUse>> = BTreeMap::new();
        for r in rules {
            groups
                .entry((r.lb_key.as_str(), r.listener, r.priority))
                .or_default()
                .push(r);
        }
        for ((lb, listener, priority), users) in groups {
            if users.len() < 2 {
                continue;
            }
            for u in &users {
                let others: Vec<String> = users
                    .iter()
                    .filter(|o| o.service != u.service)
                    .map(|o| format!("`{}`", o.service))
                    .collect();
                self.err(
                    &u.path,
                    format!(
                        "priority {priority} on listener {listener} of load balancer `{lb}` is also used by service {}",
                        others.join(", ")
                    ),
                );
            }
        }
    }
}

fn protocol(p: Option<RawProtocol>) -> Protocol {
    match p {
        Some(RawProtocol::Https) => Protocol::Https,
        _ => Protocol::Http,
    }
}

/// Whether `url` is an absolute http(s) URL with a host.
fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !url.chars().any(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMING: &str = "
vpc:
  id: vpc-1
  subnets: {public: [p-1, p-2], private: [q-1, q-2]}
load_balancers:
  edge: {type: public, listeners: [{port: 80}]}
  inner: {name: my-internal-alb, type: private, listeners: [{port: 8080}]}
services:
  - web:
      image: nginx
      ports: [80]
      elb: {name: pub, type: public, ports: {public: 80, container: 80}}
  - api:
      image: nginx
      ports: [80]
      routing: {load_balancer: inner, paths: [/api/*], priority: 1}
";

    #[test]
    fn names_follow_nysa_and_bosun_conventions() {
        let d = crate::load(NAMING, "prod").unwrap_or_else(|e| panic!("{e}"));
        let web = &d.services["web"];
        assert_eq!(web.task_definition.family, "prod-web");
        assert_eq!(web.task_definition.container.name, "web");
        assert_eq!(web.target_group.as_ref().unwrap().name, "prod-web-pub-lb");
        let names: Vec<&str> = d.load_balancers.keys().map(String::as_str).collect();
        assert_eq!(names, ["my-internal-alb", "prod-edge", "prod-web-pub-lb"]);
        assert_eq!(
            d.load_balancers["prod-web-pub-lb"].service.as_deref(),
            Some("web")
        );
        assert_eq!(d.load_balancers["prod-edge"].service, None);
        let api = &d.services["api"];
        assert_eq!(api.target_group.as_ref().unwrap().name, "prod-api-tg");
        assert_eq!(api.rules[0].load_balancer, "my-internal-alb");
        assert_eq!(api.rules[0].listener_port, 8080);
        assert_eq!(d.load_balancers["my-internal-alb"].scheme, Scheme::Internal);
        assert_eq!(d.load_balancers["my-internal-alb"].subnets, ["q-1", "q-2"]);
    }

    #[test]
    fn derived_names_are_checked_against_the_cluster_only_when_loading() {
        assert!(crate::validate(NAMING).is_ok());
        let err = crate::load(NAMING, "a_cluster").unwrap_err().to_string();
        // Underscores are fine in ECS names but not in ELB names.
        assert!(
            err.contains("`a_cluster-edge` may contain only letters, digits and hyphens"),
            "{err}"
        );
        assert!(
            err.contains("`a_cluster-web-pub-lb` may contain only letters"),
            "{err}"
        );
        assert!(
            err.contains("`a_cluster-api-tg` may contain only letters"),
            "{err}"
        );
    }
}
