//! What every step of one apply shares: the options, the clients, and the names
//! resolved to ARNs so far.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bosun_plan::Observed;
use bosun_plan::observed::ObservedTaskDefinition;
use bosun_stackfile::{Desired, ServiceSpec};

use crate::Clients;
use crate::error::ApplyFailure;
use crate::progress::Progress;
use crate::rollout::Watch;

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Wait for rollouts to finish.
    pub wait: bool,
    /// Overrides every service's `deployment.wait_timeout`.
    pub timeout: Option<Duration>,
    /// The longest time between polls of deployments and hook tasks; polls start
    /// faster and back off to it (see [`crate::rollout::PollSchedule`]).
    pub poll_interval: Duration,
    /// Changes in flight at once. A change is one mutating call, or a few one after
    /// the other, except that a service update and the tags that record it go out
    /// together.
    pub concurrency: usize,
}

impl Default for ApplyOptions {
    /// 16 changes in flight. ECS throttles each account and Region with token buckets;
    /// the smallest that an apply draws on, task definition registrations, holds a
    /// burst of 20 (then 1 a second), so 16 calls at once never empty a full bucket on
    /// their own. Beyond a burst, the refill rate sets the pace whatever the
    /// concurrency, and the SDK retries throttled calls with backoff.
    fn default() -> Self {
        Self { wait: true, timeout: None, poll_interval: Duration::from_secs(5), concurrency: 16 }
    }
}

/// A load balancer as the steps after its create need it.
#[derive(Debug, Clone)]
pub(super) struct LoadBalancerRef {
    /// For listeners and tags.
    pub arn: String,
    /// For the Route53 alias that points at it.
    pub dns_name: String,
    /// The alias target's hosted zone.
    pub zone_id: String,
}

/// Names resolved to ARNs so far: from the observation, then from each create.
#[derive(Default)]
pub(super) struct Resolved {
    pub load_balancers: BTreeMap<String, LoadBalancerRef>,
    pub target_groups: BTreeMap<String, String>,
    /// Listener ARNs by load balancer name and port.
    pub listeners: BTreeMap<(String, u16), String>,
    /// Cloud Map service ARNs by name.
    pub discovery: BTreeMap<String, String>,
    pub namespace_id: Option<String>,
    /// The task definition ARN each family's service runs or will run.
    pub task_definitions: BTreeMap<String, String>,
    /// The latest ACTIVE revision of each family the plan may register, as observed;
    /// a family absent here had none.
    pub latest_revisions: BTreeMap<String, ObservedTaskDefinition>,
    /// ECS service ARNs by name.
    pub services: BTreeMap<String, String>,
    /// Deployments started and not yet waited for, by service.
    pub deployments: BTreeMap<String, Watch>,
    /// Changes done, as `<action> <resource>` lines.
    pub completed: Vec<String>,
}

impl Resolved {
    pub fn from_observed(o: &Observed) -> Self {
        let mut r = Resolved::default();
        for (name, lb) in &o.load_balancers {
            let lb_ref = LoadBalancerRef {
                arn: lb.arn.clone(),
                dns_name: lb.dns_name.clone(),
                zone_id: lb.canonical_zone_id.clone(),
            };
            r.load_balancers.insert(name.clone(), lb_ref);
            for (port, l) in &lb.listeners {
                r.listeners.insert((name.clone(), *port), l.arn.clone());
            }
        }
        for (name, tg) in &o.target_groups {
            r.target_groups.insert(name.clone(), tg.arn.clone());
        }
        for (name, d) in &o.discovery_services {
            r.discovery.insert(name.clone(), d.arn.clone());
        }
        r.namespace_id = o.namespace.as_ref().map(|n| n.id.clone());
        r.latest_revisions = o.task_families.clone();
        for s in o.services.values() {
            r.services.insert(s.name.clone(), s.arn.clone());
            if let Some((family, _)) = s.running_family_revision().rsplit_once(':') {
                r.task_definitions.insert(family.to_owned(), s.task_definition_arn.clone());
            }
        }
        r
    }
}

/// One apply's shared state.
pub(super) struct Ctx<'a> {
    pub c: &'a Clients,
    pub desired: &'a Desired,
    pub opts: &'a ApplyOptions,
    /// Behind a lock: the chains of a stage run concurrently.
    pub state: Mutex<Resolved>,
    pub progress: &'a dyn Progress,
    /// When the apply started: service events older than that are history.
    pub started: Instant,
}

impl Ctx<'_> {
    pub fn cluster(&self) -> &str {
        &self.desired.cluster
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut Resolved) -> T) -> T {
        f(&mut self.state.lock().expect("apply state lock is never poisoned"))
    }

    /// A resolved name, or the failure that says it is gone.
    pub fn lookup<T: Clone>(&self, what: &str, f: impl FnOnce(&Resolved) -> Option<T>) -> Result<T, ApplyFailure> {
        self.with(|s| f(s)).ok_or_else(|| ApplyFailure::MissingPrerequisite { what: what.to_owned() })
    }

    pub fn timeout_for(&self, svc: &ServiceSpec) -> Duration {
        self.opts.timeout.unwrap_or(svc.deployment.wait_timeout)
    }
}
