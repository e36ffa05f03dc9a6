//! The semantic pass: checks the rules that span fields and turns the raw stackfile into
//! the normalised [`Desired`] state, collecting every error on the way.
//!
//! [`Normaliser`] holds the error reporting and the state shared across services. Each
//! section of a service is lowered by its own module into its part of the spec, and
//! [`Normaliser::service`] assembles the [`ServiceSpec`] from those parts.
//!
//! # Layout
//! - `names`: the name registry (which name is defined where) and duplicate errors.
//! - `network`: `vpc`, launch type and network mode -> [`NetworkSpec`], target type.
//! - `placement`: placement strategy and constraints.
//! - `container`: ports, CPU and memory, environment and secrets, volumes, logging and
//!   the container health check -> [`TaskDefinitionSpec`].
//! - `runtime`: the container's process (command, entry point, user, ulimits, labels,
//!   init process, ...) and the task's runtime platform and ephemeral storage.
//! - `capacity`: the capacity provider strategy, against `launch_type` and `defaults`.
//! - `cluster`: the cluster's own settings (`cluster:`): capacity providers, default
//!   strategy, Container Insights.
//! - `operations`: ECS Exec, the health check grace period, managed tags, tag
//!   propagation, and the task definition's tags.
//! - `sidecars`: the task's other containers (`containers:`), `depends_on` and the
//!   FireLens log router, with the rules that span the task's containers.
//! - `deployment`: deployment settings, hooks, desired count.
//! - `load_balancing`: shared `load_balancers:`, `elb:`, `routing:`, certificates,
//!   target groups and their health checks, Route53 `dns`, rule priorities.
//! - `discovery`: the `service_discovery` namespace and `dns_discovery`.
//! - `connect`: ECS Service Connect (`service_connect`) against the task's named ports.
//! - `autoscaling`: `autoscaling:` bounds, target-tracking policies and scheduled
//!   actions, and the count they leave to the scaler.
//! - `log_groups`: `logging.create_group` and `retention_days` -> the log groups bosun
//!   creates.
//!
//! The sections share the types defined here ([`Entry`], [`Stack`], ...). A section
//! that needs another's result takes it as an argument (`container` takes the
//! `network::Network`, `load_balancing` the `container::TaskDefinition`), so the
//! modules depend on each other one way only; this module only calls them.

mod autoscaling;
mod capacity;
mod cluster;
mod connect;
mod container;
mod deployment;
mod discovery;
mod load_balancing;
mod log_groups;
mod names;
mod network;
mod operations;
mod placement;
mod runtime;
mod sidecars;

use std::collections::BTreeMap;

use self::names::{Duplicate, NameKind, Names};

use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::raw::*;
use crate::references::{Reference, ReferenceKind, References};
use crate::validate::check_ecs_name;
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
) -> (Desired, Vec<Diagnostic>, References) {
    let mut n = Normaliser {
        locs,
        diags: Vec::new(),
        check_names: cluster.is_some(),
        cluster: cluster.unwrap_or(PLACEHOLDER_CLUSTER).to_string(),
        raw,
        aws_names: Names::default(),
        rules: Vec::new(),
        namespace_names: Vec::new(),
        references: Vec::new(),
    };
    let desired = n.run();
    let Normaliser { diags, references, .. } = n;
    // A conclusion about a field whose part failed the structural pass (say, "Fargate
    // needs `cpu`" when `cpu: lots` was left out) would only repeat that error.
    let diags = diags.into_iter().filter(|d| !locs.dropped_under(&d.path)).collect();
    (desired, diags, References(references))
}

/// A shared load balancer as services see it.
struct SharedLb {
    /// Its AWS name, which rules and DNS aliases refer to.
    aws_name: String,
    /// Its listener ports, sorted: a rule must pick one of them.
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
    /// The name of that namespace: where `service_connect` connects unless it names one.
    namespace: Option<String>,
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
        Entry { path, name, raw, defaults, kind }
    }

    /// The path of `key` under the service.
    fn at(&self, key: &str) -> String {
        join(self.path, key)
    }
}

/// The semantic pass over one stackfile: reports errors, and keeps what has to be
/// checked across services.
struct Normaliser<'a> {
    /// Where each path is, so that every error has a line and column.
    locs: &'a Locations,
    /// The errors found so far.
    diags: Vec<Diagnostic>,
    /// Whether the cluster name is known, so that derived AWS names can be checked.
    check_names: bool,
    /// The cluster name (or a placeholder when only validating), which prefixes the
    /// derived AWS names.
    cluster: String,
    /// The stackfile as written.
    raw: &'a RawStackfile,
    /// AWS load balancer and target group names -> the path that defined each, across
    /// the whole stackfile: two services cannot share one.
    aws_names: Names,
    /// The listener rules of every service so far: priorities collide across services.
    rules: Vec<RuleUse>,
    /// The Cloud Map names (`dns_discovery`, Service Connect's discovery names) and the
    /// Service Connect aliases of every service so far: each is unique in a namespace.
    namespace_names: Vec<connect::NamespaceName>,
    /// What the stackfile names that must exist in AWS, where it names it: what a
    /// preflight check looks up before the first change.
    references: Vec<Reference>,
}

/// The VPC as the services need it.
#[derive(Default)]
struct Vpc {
    /// The VPC id; target groups, awsvpc services and the namespace need it.
    id: Option<String>,
    /// Subnets of internet-facing load balancers, sorted.
    public_subnets: Vec<String>,
    /// Subnets of internal load balancers and awsvpc tasks, sorted.
    private_subnets: Vec<String>,
    /// Security groups of internet-facing load balancers, sorted.
    public_sgs: Vec<String>,
    /// Security groups of internal load balancers and awsvpc tasks, sorted.
    private_sgs: Vec<String>,
}

impl<'a> Normaliser<'a> {
    fn err(&mut self, path: &str, message: impl Into<String>) {
        let (line, column) = self.locs.at(path);
        self.diags.push(Diagnostic { path: path.to_string(), line, column, message: message.into() });
    }

    /// Notes that the value at `path` names `id`, a `kind` that must exist in AWS.
    fn reference(&mut self, kind: ReferenceKind, id: &str, path: &str) {
        let (line, column) = self.locs.at(path);
        self.references.push(Reference { kind, id: id.to_owned(), path: path.to_owned(), line, column });
    }

    fn err_key(&mut self, path: &str, message: impl Into<String>) {
        let (line, column) = self.locs.key_at(path);
        self.diags.push(Diagnostic { path: path.to_string(), line, column, message: message.into() });
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
            self.err("version", format!("unsupported version {v}; use `version: 1`, or omit it for the nysa dialect"));
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
            namespace: namespace.as_ref().map(|n| n.name.clone()),
        };

        let no_defaults = RawDefaults::default();
        let defaults = raw.defaults.as_ref().unwrap_or(&no_defaults);
        let mut services = BTreeMap::new();
        let mut log_groups = BTreeMap::new();
        for (path, name, svc) in self.service_entries() {
            let entry = Entry::new(&path, &name, svc, defaults);
            let (spec, lb) = self.service(&entry, &stack);
            if let Some(lb) = lb {
                load_balancers.insert(lb.name.clone(), lb);
            }
            self.log_group(&entry, &spec, &mut log_groups);
            services.insert(name, spec);
        }
        let rules = std::mem::take(&mut self.rules);
        self.priority_collisions(&rules);
        let notifications = self.notifications();
        let aws = self.aws();
        let cluster_settings = self.cluster_settings();
        Desired {
            cluster: self.cluster.clone(),
            aws,
            cluster_settings,
            prune: raw.prune.unwrap_or(false),
            drift: match raw.drift {
                Some(RawDrift::Report) => Drift::Report,
                Some(RawDrift::Heal) | None => Drift::Heal,
            },
            notifications,
            chat: ChatPolicy {
                require_second_approver: raw.chat.as_ref().and_then(|c| c.require_second_approver).unwrap_or(false),
            },
            namespace,
            load_balancers,
            services,
            log_groups,
        }
    }

    /// `aws:`: where the cluster lives. Each value has AWS's own shape, so that a typo is
    /// reported here and not as a failed AssumeRole in the middle of a reconcile.
    fn aws(&mut self) -> AwsTarget {
        let Some(a) = self.raw.aws.clone() else {
            return AwsTarget::default();
        };
        if let Some(region) = &a.region
            && !is_region(region)
        {
            self.err("aws.region", format!("`{region}` is not an AWS region name (like `eu-west-1`)"));
        }
        if let Some(arn) = &a.role_arn
            && !is_role_arn(arn)
        {
            self.err("aws.role_arn", "must be an IAM role ARN: arn:aws:iam::123456789012:role/NAME");
        }
        if let Some(id) = &a.external_id {
            if a.role_arn.is_none() {
                self.err("aws.external_id", "an external id is only sent when assuming a role: set `role_arn`");
            }
            let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c);
            if !id.chars().all(allowed) {
                self.err("aws.external_id", "may contain only letters, digits and + = , . @ : / - _");
            }
        }
        AwsTarget { region: a.region, role_arn: a.role_arn, external_id: a.external_id }
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
                self.err(&format!("notifications.{key}"), "must be an http:// or https:// URL");
            }
        }
        Notifications { slack_webhook: slack, webhook }
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
            self.err(path, format!("{what} must be between {lo} and {hi}, found {v}"));
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

    /// Lowers one service, section by section; also returns the ALB of its `elb:`.
    fn service(&mut self, e: &Entry, stack: &Stack) -> (ServiceSpec, Option<LoadBalancerSpec>) {
        self.task_only_keys(e);
        let net = self.network(e, &stack.vpc);
        let placement = self.placement(e, net.fargate());
        let task = self.task_definition(e, &net, &stack.logging, placement.task_constraints);
        let deployment = self.deployment(e);
        let hooks = self.hooks(e);
        let mut count = self.desired_count(e);
        let lb = self.load_balancing(e, stack, net.target_type(), &task);
        let autoscaling = self.autoscaling(e, &lb, &mut count);
        let discovery = self.discovery(e, stack);
        let ops = self.operations(e);
        if ops.enable_execute_command && task.spec.container.readonly_root_filesystem {
            // ECS accepts it, and every `execute-command` then fails: the SSM agent it
            // runs in the container writes to its file system.
            self.err(
                &e.at("enable_execute_command"),
                "ECS Exec needs a writable root file system (its SSM agent writes into the container), and `readonly_root_filesystem` is on",
            );
        }
        let service_connect = self.service_connect(e, stack, net.mode, &task.spec);
        let spec = ServiceSpec {
            name: e.name.to_string(),
            kind: e.kind,
            task_definition: task.spec,
            desired_count: count.desired,
            initial_count: count.initial,
            launch_type: net.launch_type,
            network: net.spec,
            target_group: lb.target_group,
            container_port: lb.container_port,
            rules: lb.rules,
            dns: lb.dns,
            discovery,
            deployment,
            placement_strategy: placement.strategy,
            placement_constraints: placement.service_constraints,
            hooks,
            adopt: e.raw.adopt.unwrap_or(false),
            capacity_provider_strategy: net.strategy,
            propagate_tags: ops.propagate_tags,
            enable_execute_command: ops.enable_execute_command,
            health_check_grace_period: ops.health_check_grace_period,
            enable_ecs_managed_tags: ops.enable_ecs_managed_tags,
            autoscaling,
            service_connect,
        };
        (spec, lb.own_lb)
    }

    /// Reports the keys a one-off task (`type: task`) cannot have: it runs no service.
    fn task_only_keys(&mut self, e: &Entry) {
        if e.kind != ServiceKind::Task {
            return;
        }
        let s = e.raw;
        for (field, set) in [
            ("hooks", s.hooks.is_some()),
            ("routing", s.routing.is_some()),
            ("elb", s.elb.is_some()),
            ("dns_discovery", s.dns_discovery.is_some()),
        ] {
            if set {
                self.err_key(
                    &e.at(field),
                    format!("`{field}` needs a service; a `type: task` entry only keeps a task definition"),
                );
            }
        }
    }
}

/// Whether `url` is an absolute http(s) URL with a host.
fn is_http_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !url.chars().any(char::is_whitespace)
    })
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-5`, ...
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [geo, middle @ .., number] = parts.as_slice() else { return false };
    geo.len() == 2
        && geo.bytes().all(|b| b.is_ascii_lowercase())
        && !middle.is_empty()
        && middle.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
fn is_role_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, iam, region, account, resource] = parts.as_slice() else { return false };
    let name = resource.strip_prefix("role/").unwrap_or("");
    *arn == "arn"
        && partition.starts_with("aws")
        && *iam == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && name.len() <= 576
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
}

/// Whether `name` can be a capacity provider's (ECS: letters, digits, `_` and `-`).
fn is_provider_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
