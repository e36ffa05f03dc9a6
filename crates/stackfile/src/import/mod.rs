//! `bosun import`: a stackfile, in bosun's dialect, for a cluster that bosun does not
//! manage yet. Pure: the AWS adapter reads the live cluster into a [`LiveCluster`], and
//! [`build`] turns it into the YAML text.
//!
//! What the stackfile holds: each service (with `adopt: true`) and its task definition
//! (the main container's process settings, `command` to `init_process_enabled`, and the
//! task's `runtime_platform` and `ephemeral_storage` included),
//! its sidecars as `containers:` entries and every container's `depends_on`; the target
//! groups, listeners, rules and load balancers the services use, a load balancer that
//! several services route through staying one shared `load_balancers:` entry (with
//! `adopt: true`); their alias records in the zones asked for; their Cloud Map
//! registrations. Settings every service shares move to `defaults`. Secrets stay
//! `valueFrom` ARNs. Environment values are written as they are: the file is what the
//! user asked for, and a stackfile without them would change every task definition.
//! The `cluster:` block says the cluster's capacity providers and default strategy
//! when it has providers that every service's strategy is among: equal to the live
//! ones it plans nothing, even on a cluster bosun did not create, and a service that
//! names neither a launch type nor a strategy then says neither either.
//!
//! Only what the plan adopts without a change is written. A service's scalable target
//! becomes `autoscaling:` only when its tags say it is bosun's: the planner never takes
//! over a target it did not create (a stackfile naming one plans a conflict), so any
//! other is a comment, and `ignore: [desired_count]` leaves the count to it. A log group
//! is never written as `logging.create_group`: bosun creates a group, or keeps one it
//! created, and one that exists without its tags is a conflict; a group that exists
//! needs nothing written, the tasks log to it as they do.
//!
//! Nothing is guessed. What a stackfile cannot say (a main container not named after
//! the service, a container setting a `containers:` entry has no key for, a service
//! with neither a launch type nor a strategy on a cluster without a default strategy,
//! a listener action other than a forward, a record that is not an alias to the
//! service's ALB, ...) is written as a comment at the service or load balancer it
//! concerns. Then [`build`] loads its own text with the stackfile
//! loader and compares the result with the live cluster, field by field: whatever the
//! plan would still change (a new task-definition revision, a service setting, a target
//! group's health check, a load balancer's subnets, a scaler) is said in a comment too,
//! by field name and never by value. An imported stackfile without such comments plans
//! adoption only: no new revision, no redeploy.
//!
//! # Layout
//! - this module: the live cluster as the adapter reads it, and [`build`].
//! - `compose`: which stackfile form each live resource takes (`elb` or `routing`, the
//!   `vpc` and `cluster` blocks, the namespace, records), and the document, `defaults`
//!   included.
//! - `sidecars`: a task's other containers (`containers:`) and `depends_on`.
//! - `scaling`: a service's scalable target, as `autoscaling:` or a comment.
//! - `check`: the round trip: the document loaded again, compared with the live cluster.
//! - `yaml`: the YAML writer (block style, stable key order, comments).

mod check;
mod compose;
mod scaling;
mod sidecars;
mod yaml;

use std::collections::BTreeMap;

use crate::diagnostic::Diagnostics;
use crate::model::{
    CapacityProviderItem, ClusterCapacity, LaunchType, NetworkSpec, PlacementConstraint, PlacementStrategy,
    PropagateTags, Protocol, ScheduledActionSpec, Scheme, ServiceConnectSpec, TargetGroupSpec, TargetTrackingSpec,
    TaskDefinitionSpec,
};

/// A live ECS cluster and what its services use, as the AWS adapter read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveCluster {
    /// The ECS cluster name; bosun derives the AWS names it expects from it.
    pub cluster: String,
    /// The cluster's capacity providers (sorted) and default strategy: the `cluster:`
    /// block, written when a service runs on that strategy.
    pub capacity: ClusterCapacity,
    /// The services to import, in any order (the document sorts them).
    pub services: Vec<LiveService>,
    /// Services that bosun already manages for this cluster: they need no import, and
    /// the header names them.
    pub managed: Vec<String>,
    /// Target groups the services register in, by ARN.
    pub target_groups: BTreeMap<String, LiveTargetGroup>,
    /// The load balancers of those target groups, by ARN.
    pub load_balancers: BTreeMap<String, LiveLoadBalancer>,
    /// Alias records, in the zones asked for, that point at one of those load balancers.
    pub records: Vec<LiveRecord>,
    /// Cloud Map services the services register in, by ARN.
    pub discovery: BTreeMap<String, LiveDiscoveryService>,
    /// Their namespaces, by id.
    pub namespaces: BTreeMap<String, LiveNamespace>,
}

/// One ECS service and the task definition it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveService {
    /// Service name.
    pub name: String,
    /// The task definition it runs, in the desired state's shape (the first container).
    pub task_definition: TaskDefinitionSpec,
    /// What the adapter saw that the shape above and a stackfile cannot hold, one
    /// sentence each (a DAEMON service, environment files, Linux parameters other than the init process, ...).
    pub notes: Vec<String>,
    /// Desired task count.
    pub desired_count: i32,
    /// `None` for a service on a capacity-provider strategy.
    pub launch_type: Option<LaunchType>,
    /// awsvpc configuration.
    pub network: Option<NetworkSpec>,
    /// Target groups the service registers in.
    pub load_balancers: Vec<LiveAttachment>,
    /// Cloud Map service ARNs the service registers in.
    pub registries: Vec<String>,
    /// Deployment circuit breaker enabled.
    pub circuit_breaker: bool,
    /// Rollback when the circuit breaker trips.
    pub rollback: bool,
    /// `minimumHealthyPercent`.
    pub min_healthy_percent: i32,
    /// `maximumPercent`.
    pub max_percent: i32,
    /// Placement strategy, in order.
    pub placement_strategy: Vec<PlacementStrategy>,
    /// Service placement constraints.
    pub placement_constraints: Vec<PlacementConstraint>,
    /// Capacity provider strategy, ECS Exec, grace period and tag settings.
    pub settings: LiveServiceSettings,
    /// The Application Auto Scaling target of its desired count, if it has one.
    pub scaling: Option<LiveScaling>,
}

/// A service's scalable target (`service/<cluster>/<service>`), with its policies and
/// scheduled actions in the desired shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveScaling {
    /// `MinCapacity`.
    pub min: i32,
    /// `MaxCapacity`.
    pub max: i32,
    /// Whether its tags say bosun manages it for this cluster. The planner leaves a
    /// target bosun does not own alone (a conflict when a stackfile names it), so only an
    /// owned one becomes `autoscaling:`.
    pub owned: bool,
    /// Scaling policies by name; `None` for one a stackfile cannot say (step scaling, a
    /// custom metric, a fractional target).
    pub policies: BTreeMap<String, Option<TargetTrackingSpec>>,
    /// Scheduled actions by name.
    pub scheduled: BTreeMap<String, ScheduledActionSpec>,
}

/// The service settings a stackfile says since issue 15, as ECS reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveServiceSettings {
    /// The capacity provider strategy; empty for a launch type.
    pub capacity_provider_strategy: Vec<CapacityProviderItem>,
    /// `propagateTags`; `None` for `NONE`.
    pub propagate_tags: Option<PropagateTags>,
    /// `enableExecuteCommand`.
    pub enable_execute_command: bool,
    /// `healthCheckGracePeriodSeconds`, 0 when unset.
    pub health_check_grace_period: i32,
    /// `enableECSManagedTags`.
    pub enable_ecs_managed_tags: bool,
    /// Service Connect, as the PRIMARY deployment reports it; `None` when off.
    pub service_connect: Option<ServiceConnectSpec>,
}

/// A service's registration in a target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAttachment {
    /// Target group ARN.
    pub target_group_arn: String,
    /// Container that receives the traffic.
    pub container_name: String,
    /// Its port.
    pub container_port: u16,
}

/// A target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTargetGroup {
    /// ARN.
    pub arn: String,
    /// Its settings in the desired shape.
    pub spec: TargetGroupSpec,
    /// The load balancers that route to it.
    pub load_balancer_arns: Vec<String>,
    /// What a stackfile cannot say about it (its protocol, say).
    pub notes: Vec<String>,
}

/// An application load balancer with its listeners and their rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveLoadBalancer {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Internal or internet-facing.
    pub scheme: Scheme,
    /// Subnets, sorted.
    pub subnets: Vec<String>,
    /// Security groups, sorted.
    pub security_groups: Vec<String>,
    /// DNS name, lower case: what alias records point at.
    pub dns_name: String,
    /// Listeners, by port.
    pub listeners: Vec<LiveListener>,
    /// What a stackfile cannot say about it (not an application load balancer, say).
    pub notes: Vec<String>,
}

/// A listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveListener {
    /// Port.
    pub port: u16,
    /// HTTP or HTTPS; `None` for any other protocol.
    pub protocol: Option<Protocol>,
    /// Certificate ARNs, sorted.
    pub certificates: Vec<String>,
    /// What it does when no rule matches.
    pub default_action: LiveAction,
    /// Its rules, but the default one.
    pub rules: Vec<LiveRule>,
}

/// What a listener or a rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveAction {
    /// Forward to one target group.
    Forward {
        /// Its ARN.
        target_group_arn: String,
    },
    /// Answer with a fixed status.
    FixedResponse {
        /// The status code.
        status_code: u16,
    },
    /// Anything else (a redirect, weighted forwards, authentication), described.
    Other {
        /// What it is, for a comment.
        description: String,
    },
}

/// A listener rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRule {
    /// Priority.
    pub priority: u32,
    /// Host header patterns, sorted.
    pub hosts: Vec<String>,
    /// Path patterns, sorted.
    pub paths: Vec<String>,
    /// Its action.
    pub action: LiveAction,
    /// Conditions other than host and path (headers, methods, source IPs), described.
    pub other_conditions: Vec<String>,
}

/// A Route53 alias record that points at a load balancer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LiveRecord {
    /// Hosted zone id, without `/hostedzone/`.
    pub zone_id: String,
    /// Record name, lower case, with the trailing dot.
    pub name: String,
    /// `A` or `AAAA`.
    pub record_type: String,
    /// The alias target's DNS name, lower case, without the trailing dot.
    pub alias_dns_name: String,
}

/// A Cloud Map service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveDiscoveryService {
    /// ARN.
    pub arn: String,
    /// Name in its namespace.
    pub name: String,
    /// Its namespace's id.
    pub namespace_id: String,
    /// TTL of its A record; `None` when it has none.
    pub dns_ttl: Option<i64>,
    /// Its custom health check's failure threshold; `None` without one.
    pub failure_threshold: Option<i32>,
    /// What a stackfile cannot say about it (SRV records, a Route53 health check, ...).
    pub notes: Vec<String>,
}

/// A Cloud Map namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveNamespace {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Whether it is a private DNS namespace, the only kind a stackfile names.
    pub private_dns: bool,
    /// The VPC of its hosted zone, when known.
    pub vpc_id: Option<String>,
}

/// An imported stackfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The YAML text.
    pub yaml: String,
    /// The services in it, sorted.
    pub services: Vec<String>,
    /// How many comments say what bosun cannot represent or would still change.
    pub notes: usize,
}

/// Why no stackfile was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// There is no service to import.
    #[error("the cluster has no service that bosun does not manage already")]
    NoServices,
    /// The document did not load back: a value the stackfile refuses (a bug, or a live
    /// value no stackfile can hold). Nothing is written.
    #[error("the imported stackfile does not validate:\n{0}")]
    Invalid(Diagnostics),
}

/// The stackfile for `live`, in bosun's dialect, with comments for what it cannot say.
pub fn build(live: &LiveCluster) -> Result<Imported, ImportError> {
    if live.services.is_empty() {
        return Err(ImportError::NoServices);
    }
    let composed = compose::compose(live);
    let first = composed.render(&BTreeMap::new());
    let desired = crate::load(&first, &live.cluster).map_err(ImportError::Invalid)?;
    let differences = check::differences(live, &composed, &desired);
    let yaml = composed.render(&differences);
    let notes = composed.note_count() + differences.values().map(Vec::len).sum::<usize>();
    let mut services: Vec<String> = live.services.iter().map(|s| s.name.clone()).collect();
    services.sort();
    Ok(Imported { yaml, services, notes })
}
