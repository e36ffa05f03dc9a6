//! Load balancing: the shared `load_balancers:`, a service's own ALB (nysa `elb:`) or
//! its rule on a shared one (`routing:`), listener certificates, the target group and
//! its health check, Route53 aliases (`dns`), and rule priority collisions.

use std::collections::BTreeMap;

use super::container::TaskDefinition;
use super::names::{NameKind, Names};
use super::{Entry, Normaliser, RuleUse, SharedLb, Stack, Vpc};
use crate::model::*;
use crate::raw::*;
use crate::references::ReferenceKind;
use crate::suggest::did_you_mean;
use crate::validate::*;
use crate::walk::join;

/// What load balancing gives a service.
#[derive(Default)]
pub(super) struct LoadBalancing {
    /// The target group the service registers in; `None` when its container port or
    /// the VPC is unknown.
    pub(super) target_group: Option<TargetGroupSpec>,
    /// The container port registered in the target group.
    pub(super) container_port: Option<u16>,
    /// The service's rule on a shared load balancer's listener.
    pub(super) rules: Vec<RuleSpec>,
    /// The Route53 alias to the load balancer.
    pub(super) dns: Option<DnsRecordSpec>,
    /// The ALB of an `elb:` block, which the service owns; `None` when it cannot be
    /// placed.
    pub(super) own_lb: Option<LoadBalancerSpec>,
}

impl Vpc {
    /// Where a load balancer of `kind` goes: its scheme, subnets and security groups, and
    /// the `vpc` key they come from.
    fn placement(&self, kind: RawLbType) -> (Scheme, &[String], &[String], &'static str) {
        match kind {
            RawLbType::Public => (Scheme::InternetFacing, &self.public_subnets, &self.public_sgs, "public"),
            RawLbType::Private => (Scheme::Internal, &self.private_subnets, &self.private_sgs, "private"),
        }
    }
}

impl Normaliser<'_> {
    /// The shared `load_balancers:`, added to `out` when they can be placed; returns
    /// them by key as `routing` sees them.
    pub(super) fn shared_load_balancers(
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
            let name_path = if derived { path.clone() } else { join(&path, "name") };
            self.register_aws_name(
                NameKind::LoadBalancer,
                &aws_name,
                &name_path,
                !derived || self.check_names,
                if derived { "; set `name` or use a shorter key" } else { "" },
            );
            let placed = self.check_placement(vpc, lb.kind, &join(&path, "type"), "a load balancer");
            let listeners_path = join(&path, "listeners");
            if lb.listeners.is_empty() && !self.locs.dropped_under(&listeners_path) {
                self.err(&listeners_path, "a load balancer needs at least one listener");
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
                let certificates =
                    self.listener_certificates(protocol, &l.certificates, &lpath, &join(&lpath, "protocol"));
                if let Err(dup) = ports.claim(NameKind::ListenerPort, &port.to_string(), &port_path) {
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
                SharedLb { aws_name: aws_name.clone(), listeners: listeners.keys().copied().collect() },
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
                        adopt: lb.adopt.unwrap_or(false),
                    },
                );
            }
        }
        shared
    }

    /// A service's load balancing: its own ALB (`elb`) or a rule on a shared one
    /// (`routing`), with the target group either way; a one-off task has neither.
    pub(super) fn load_balancing(
        &mut self,
        e: &Entry,
        stack: &Stack,
        target_type: TargetType,
        task: &TaskDefinition,
    ) -> LoadBalancing {
        let s = e.raw;
        if s.elb.is_some() && s.routing.is_some() {
            self.err_key(&e.at("routing"), "`elb` and `routing` are mutually exclusive: use `elb` for a load balancer of its own or `routing` for a shared one");
        }
        match (&s.elb, &s.routing, e.kind) {
            (Some(elb), _, ServiceKind::Service) => self.elb(e, elb, &stack.vpc, target_type, task),
            (None, Some(r), ServiceKind::Service) => self.routing(e, r, stack, target_type, task),
            _ => LoadBalancing::default(),
        }
    }

    /// nysa's `elb`: an ALB of the service's own, whose one listener forwards to the
    /// service's target group; both are named `<cluster>-<service>[-<elb.name>]-lb`.
    fn elb(
        &mut self,
        e: &Entry,
        elb: &RawElb,
        vpc: &Vpc,
        target_type: TargetType,
        task: &TaskDefinition,
    ) -> LoadBalancing {
        let name = e.name;
        let mut out = LoadBalancing::default();
        let epath = e.at("elb");
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
            && !self.locs.dropped_under(&e.at("ports"))
        {
            self.err(
                &join(&epath, "ports.container"),
                format!("container port {c} is not among the service's `ports`; add `- {c}`"),
            );
        }
        let protocol = protocol(elb.protocol);
        let certificates = self.listener_certificates(protocol, &elb.certificates, &epath, &join(&epath, "protocol"));
        let health_check = self.target_health_check(elb.healthcheck.as_ref(), &join(&epath, "healthcheck"));
        if let Some(d) = &elb.dns {
            out.dns = self.dns_record(d, &join(&epath, "dns"), &lb_name);
        }
        if let (Some(public), Some(cport), Some(vpc_id)) = (public, cport, &vpc.id) {
            out.container_port = Some(cport);
            out.target_group = Some(TargetGroupSpec {
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
                    default_action: DefaultAction::Forward { target_group: lb_name.clone() },
                };
                out.own_lb = Some(LoadBalancerSpec {
                    name: lb_name,
                    scheme,
                    subnets: subnets.to_vec(),
                    security_groups: sgs.to_vec(),
                    listeners: BTreeMap::from([(public, listener)]),
                    service: Some(name.to_string()),
                    adopt: e.raw.adopt.unwrap_or(false),
                });
            }
        }
        out
    }

    /// `routing`: a listener rule on a shared load balancer that forwards to the
    /// service's target group `<cluster>-<service>-tg`.
    fn routing(
        &mut self,
        e: &Entry,
        r: &RawRouting,
        stack: &Stack,
        target_type: TargetType,
        task: &TaskDefinition,
    ) -> LoadBalancing {
        let vpc = &stack.vpc;
        let mut out = LoadBalancing::default();
        let rpath = e.at("routing");
        let tg_name = format!("{}-{}-tg", self.cluster, e.name);
        self.register_aws_name(NameKind::TargetGroup, &tg_name, &rpath, self.check_names, "; shorten the service name");
        if vpc.id.is_none() && !self.locs.dropped_under("vpc") {
            self.err_key(&rpath, "`routing` needs `vpc.id`");
        }
        let lb = self.routed_load_balancer(r, &stack.load_balancers, &rpath);
        let listener = self.routed_listener(r, lb, &rpath);
        let (hosts, paths) = self.routed_patterns(r, &rpath);
        let priority_ok = self.in_range(r.priority, 1, 50_000, &join(&rpath, "priority"), "rule priority");
        let cport = self.routed_container_port(e, r, task, &rpath);
        let health_check = self.target_health_check(r.healthcheck.as_ref(), &join(&rpath, "healthcheck"));
        if let (Some(lb), Some(d)) = (lb, &r.dns) {
            out.dns = self.dns_record(d, &join(&rpath, "dns"), &lb.aws_name);
        }
        if let (Some(lb), Some(listener), true) = (lb, listener, priority_ok) {
            self.rules.push(RuleUse {
                lb_key: r.load_balancer.clone(),
                listener,
                priority: r.priority as u32,
                service: e.name.to_string(),
                path: join(&rpath, "priority"),
            });
            out.rules.push(RuleSpec {
                load_balancer: lb.aws_name.clone(),
                listener_port: listener,
                priority: r.priority as u32,
                hosts,
                paths,
                target_group: tg_name.clone(),
            });
        }
        if let (Some(c), Some(vpc_id)) = (cport, &vpc.id) {
            out.container_port = Some(c);
            out.target_group = Some(TargetGroupSpec {
                name: tg_name,
                protocol: Protocol::Http,
                port: c,
                vpc_id: vpc_id.clone(),
                target_type,
                health_check,
            });
        }
        out
    }

    /// The shared load balancer `routing.load_balancer` names, reporting an undefined one.
    fn routed_load_balancer<'s>(
        &mut self,
        r: &RawRouting,
        shared: &'s BTreeMap<String, SharedLb>,
        rpath: &str,
    ) -> Option<&'s SharedLb> {
        let lb = shared.get(&r.load_balancer);
        let lb_path = join(rpath, "load_balancer");
        if lb.is_none() && !self.locs.was_dropped(&join("load_balancers", &r.load_balancer)) {
            let msg = match did_you_mean(&r.load_balancer, shared.keys().map(String::as_str)) {
                Some(s) => format!("undefined load balancer `{}`; did you mean `{s}`?", r.load_balancer),
                None if shared.is_empty() => {
                    format!("undefined load balancer `{}`; define it under `load_balancers:`", r.load_balancer)
                }
                None => format!(
                    "undefined load balancer `{}`; defined are {}",
                    r.load_balancer,
                    shared.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                ),
            };
            self.err(&lb_path, msg);
        }
        lb
    }

    /// The listener port of the rule: `routing.listener`, or the load balancer's only one.
    fn routed_listener(&mut self, r: &RawRouting, lb: Option<&SharedLb>, rpath: &str) -> Option<u16> {
        let lb_broken = self.locs.dropped_under(&join("load_balancers", &r.load_balancer));
        match (lb, r.listener) {
            (Some(lb), Some(port)) => {
                let port_ok = u16::try_from(port).ok().filter(|p| lb.listeners.contains(p));
                if port_ok.is_none() && !lb_broken {
                    self.err(
                        &join(rpath, "listener"),
                        format!("load balancer `{}` has no listener on port {port}", r.load_balancer),
                    );
                }
                port_ok
            }
            (Some(lb), None) if lb.listeners.len() == 1 => Some(lb.listeners[0]),
            (Some(lb), None) => {
                if !lb_broken && !lb.listeners.is_empty() {
                    let ports = lb.listeners.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
                    self.err_key(
                        rpath,
                        format!("load balancer `{}` has listeners on {ports}; set `routing.listener`", r.load_balancer),
                    );
                }
                None
            }
            (None, _) => None,
        }
    }

    /// The rule's host and path patterns, sorted; at least one is needed.
    fn routed_patterns(&mut self, r: &RawRouting, rpath: &str) -> (Vec<String>, Vec<String>) {
        let mut hosts = r.hosts.clone().unwrap_or_default();
        let mut paths = r.paths.clone().unwrap_or_default();
        if hosts.is_empty() && paths.is_empty() {
            self.err_key(rpath, "`routing` needs at least one of `hosts` or `paths`");
        }
        for (field, list) in [("hosts", &hosts), ("paths", &paths)] {
            for (i, v) in list.iter().enumerate() {
                if v.trim().is_empty() {
                    self.err(&self.locs.item(&join(rpath, field), i), format!("empty entry in `{field}`"));
                }
            }
        }
        hosts.sort();
        hosts.dedup();
        paths.sort();
        paths.dedup();
        (hosts, paths)
    }

    /// The container port the target group sends to: `routing.container_port`, or the
    /// service's first port.
    fn routed_container_port(&mut self, e: &Entry, r: &RawRouting, task: &TaskDefinition, rpath: &str) -> Option<u16> {
        let ports_path = e.at("ports");
        match r.container_port {
            Some(c) => {
                let c = self.port_number(c, &join(rpath, "container_port"));
                if let Some(c) = c
                    && !task.exposes(c)
                    && !self.locs.dropped_under(&ports_path)
                {
                    self.err(
                        &join(rpath, "container_port"),
                        format!("container port {c} is not among the service's `ports`; add `- {c}`"),
                    );
                }
                c
            }
            None => {
                if task.first_port.is_none() && !self.locs.dropped_under(&ports_path) {
                    self.err_key(rpath, "`routing` needs a container port: set `routing.container_port` or `ports`");
                }
                task.first_port
            }
        }
    }

    /// Reports every service whose rule priority collides with another's on the same
    /// listener, naming the others.
    pub(super) fn priority_collisions(&mut self, rules: &[RuleUse]) {
        let mut groups: BTreeMap<(&str, u16, u32), Vec<&RuleUse>> = BTreeMap::new();
        for r in rules {
            groups.entry((r.lb_key.as_str(), r.listener, r.priority)).or_default().push(r);
        }
        for ((lb, listener, priority), users) in groups {
            if users.len() < 2 {
                continue;
            }
            for u in &users {
                let others: Vec<String> =
                    users.iter().filter(|o| o.service != u.service).map(|o| format!("`{}`", o.service)).collect();
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

    /// Claims an AWS load balancer or target group name for `path`. With `check`, the
    /// name's characters and length are checked first, `hint` saying how to fix them.
    fn register_aws_name(&mut self, kind: NameKind, name: &str, path: &str, check: bool, hint: &str) {
        if check && let Err(msg) = check_elb_name(name) {
            self.err(path, format!("{} {msg}{hint}", kind.noun()));
        }
        if let Err(dup) = self.aws_names.claim(kind, name, path) {
            self.duplicate(dup);
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

    /// A listener's certificate ARNs, sorted: HTTPS needs one, HTTP takes none.
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
            let item = self.locs.item(&certs_path, i);
            match check_certificate_arn(c) {
                Ok(()) => self.reference(ReferenceKind::Certificate, c, &item),
                Err(msg) => self.err(&item, msg),
            }
        }
        match protocol {
            Protocol::Https if list.is_empty() && !self.locs.dropped_under(&certs_path) => {
                self.err(proto_path, "HTTPS needs at least one certificate in `certificates`");
            }
            Protocol::Http if !list.is_empty() => {
                self.err(&certs_path, "certificates are only used with `protocol: HTTPS`");
            }
            _ => {}
        }
        let mut list = list;
        list.sort();
        list.dedup();
        list
    }

    /// The target group health check of `elb` or `routing`, ELBv2's defaults filled in.
    fn target_health_check(&mut self, h: Option<&RawTargetHealthcheck>, path: &str) -> TargetHealthCheck {
        let get = |f: fn(&RawTargetHealthcheck) -> Option<i64>| h.and_then(f);
        let port = match h.and_then(|h| h.port.as_ref()) {
            None => "traffic-port".to_string(),
            Some(p) if p.0 == "traffic-port" => p.0.clone(),
            Some(p) => match p.0.parse::<u16>() {
                Ok(n) if n > 0 => n.to_string(),
                _ => {
                    self.err(
                        &join(path, "port"),
                        format!("health check port must be 1-65535 or `traffic-port`, found `{}`", p.0),
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
        let healthy = field(get(|h| h.healthy_threshold_count), 2, 2, 10, "healthy_threshold_count");
        let unhealthy = field(get(|h| h.unhealthy_threshold_count), 10, 2, 10, "unhealthy_threshold_count");
        if timeout >= interval {
            self.err(
                &join(path, "timeout_seconds"),
                format!("timeout_seconds ({timeout}) must be less than interval_seconds ({interval})"),
            );
        }
        let hc_path = h.and_then(|h| h.path.clone()).unwrap_or_else(|| "/".to_string());
        if !hc_path.starts_with('/') {
            self.err(&join(path, "path"), format!("health check path must start with `/`, found `{hc_path}`"));
        }
        TargetHealthCheck {
            protocol: protocol(h.and_then(|h| h.protocol)),
            port,
            path: hc_path,
            interval_seconds: interval,
            timeout_seconds: timeout,
            healthy_threshold: healthy,
            unhealthy_threshold: unhealthy,
            matcher: h.and_then(|h| h.matcher.clone()).map(|m| m.0).unwrap_or_else(|| "200".to_string()),
        }
    }

    /// A Route53 alias to `load_balancer`; `None` when the zone or the name is empty.
    fn dns_record(&mut self, d: &RawDns, path: &str, load_balancer: &str) -> Option<DnsRecordSpec> {
        let zone_id = d.hosted_zone_id.trim().trim_start_matches("/hostedzone/").to_string();
        let mut name = d.record_name.trim().to_lowercase();
        let mut ok = true;
        if zone_id.is_empty() {
            self.err(&join(path, "hosted_zone_id"), "the hosted zone id must not be empty");
            ok = false;
        }
        if name.is_empty() || name == "." {
            self.err(&join(path, "record_name"), "the record name must not be empty");
            ok = false;
        }
        if !name.ends_with('.') {
            name.push('.');
        }
        if !zone_id.is_empty() {
            self.reference(ReferenceKind::HostedZone, &zone_id, &join(path, "hosted_zone_id"));
        }
        ok.then(|| DnsRecordSpec { zone_id, name, load_balancer: load_balancer.to_string() })
    }
}

fn protocol(p: Option<RawProtocol>) -> Protocol {
    match p {
        Some(RawProtocol::Https) => Protocol::Https,
        _ => Protocol::Http,
    }
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
        assert_eq!(d.load_balancers["prod-web-pub-lb"].service.as_deref(), Some("web"));
        assert_eq!(d.load_balancers["prod-edge"].service, None);
        let api = &d.services["api"];
        assert_eq!(api.target_group.as_ref().unwrap().name, "prod-api-tg");
        assert_eq!(api.rules[0].load_balancer, "my-internal-alb");
        assert_eq!(api.rules[0].listener_port, 8080);
        assert_eq!(d.load_balancers["my-internal-alb"].scheme, Scheme::Internal);
        assert_eq!(d.load_balancers["my-internal-alb"].subnets, ["q-1", "q-2"]);
    }

    #[test]
    fn a_shared_load_balancer_adopts_by_its_own_key_and_an_elb_by_its_service() {
        let d = crate::load(NAMING, "prod").unwrap_or_else(|e| panic!("{e}"));
        assert!(d.load_balancers.values().all(|lb| !lb.adopt), "nothing is adopted unless asked");
        let text =
            NAMING.replace("inner: {name: my-internal-alb,", "inner: {adopt: true, name: my-internal-alb,").replace(
                "      image: nginx\n      ports: [80]\n      elb:",
                "      image: nginx\n      adopt: true\n      ports: [80]\n      elb:",
            );
        let d = crate::load(&text, "prod").unwrap_or_else(|e| panic!("{e}"));
        let adopted: Vec<&str> = d.load_balancers.values().filter(|lb| lb.adopt).map(|lb| lb.name.as_str()).collect();
        assert_eq!(adopted, ["my-internal-alb", "prod-web-pub-lb"]);
    }

    #[test]
    fn derived_names_are_checked_against_the_cluster_only_when_loading() {
        assert!(crate::validate(NAMING).is_ok());
        let err = crate::load(NAMING, "a_cluster").unwrap_err().to_string();
        // Underscores are fine in ECS names but not in ELB names.
        assert!(err.contains("`a_cluster-edge` may contain only letters, digits and hyphens"), "{err}");
        assert!(err.contains("`a_cluster-web-pub-lb` may contain only letters"), "{err}");
        assert!(err.contains("`a_cluster-api-tg` may contain only letters"), "{err}");
    }
}
