//! What every step of one apply shares: the options, the clients, the names resolved to
//! ARNs so far, the client tokens of creates, and how a create that may have taken effect
//! although it failed is settled.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bosun_plan::Observed;
use bosun_plan::observed::ObservedTaskDefinition;
use bosun_stackfile::{Desired, ServiceSpec};

use crate::Clients;
use crate::error::{ApplyFailure, AwsError, ErrorKind};
use crate::progress::Progress;
use crate::rollout::Watch;

/// Length of the client tokens bosun sends: ECS `CreateService` accepts at most 36
/// characters (Cloud Map's `CreatorRequestId` 64), of ASCII 33-126.
const CLIENT_TOKEN_LEN: usize = 36;

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
    /// The hash of the plan being applied: client tokens derive from it, so running the
    /// same plan again (after a crash) repeats the same tokens, and another plan never
    /// meets the tokens of this one.
    pub plan_hash: &'a str,
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

    /// The client token (idempotency token) of the create of `resource` in this plan:
    /// `bosun-` and 30 hex digits of BLAKE3 over the plan hash and the resource. AWS
    /// answers a retry that carries the token of a create it already made with that
    /// resource, instead of a second one or a name conflict.
    pub fn client_token(&self, resource: &str) -> String {
        client_token(self.plan_hash, resource)
    }
}

fn client_token(plan_hash: &str, resource: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(plan_hash.as_bytes()).update(&[0]).update(resource.as_bytes());
    let prefix = "bosun-";
    let hex = hasher.finalize().to_hex();
    format!("{prefix}{}", &hex[..CLIENT_TOKEN_LEN - prefix.len()])
}

/// Settle a create that failed in a way that may have made its resource anyway:
/// - an ambiguous failure ([`ErrorKind::Ambiguous`]): the request may have reached AWS
///   and only the answer was lost, on every one of the SDK's attempts;
/// - a conflict on the name: when the answer to the SDK's first attempt was lost, its
///   retry meets the resource that first attempt made (for creates that carry no client
///   token, such as ELBv2 rules).
///
/// Then `find` looks the resource up, and what it finds stands for the create's result.
/// `find` answers only with a resource bosun made for exactly this (its ownership tags
/// name this cluster and service, and its spec is the one being created), so nothing
/// someone else made is ever taken for bosun's. Otherwise, or when the lookup fails too,
/// the create's own error stands.
pub(super) async fn or_find<T, F>(created: Result<T, AwsError>, find: impl FnOnce() -> F) -> Result<T, ApplyFailure>
where
    F: Future<Output = Result<Option<T>, AwsError>>,
{
    let err = match created {
        Ok(done) => return Ok(done),
        Err(err) if may_have_made(&err) => err,
        Err(err) => return Err(err.into()),
    };
    match find().await {
        Ok(Some(found)) => {
            tracing::info!(
                operation = err.operation(),
                resource = err.resource(),
                cause = %err,
                "the create failed but had made the resource: found it"
            );
            Ok(found)
        }
        Ok(None) => Err(err.into()),
        Err(lookup) => {
            tracing::warn!(resource = err.resource(), cause = %lookup, "looking up a create that failed failed too");
            Err(err.into())
        }
    }
}

/// Whether a failed create may have made its resource (see [`or_find`]).
pub(super) fn may_have_made(err: &AwsError) -> bool {
    matches!(err.kind(), ErrorKind::Ambiguous | ErrorKind::Conflict)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use aws_sdk_ecs::operation::create_service::CreateServiceError;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn failed(code: &str, status: u16) -> AwsError {
        let err = CreateServiceError::generic(ErrorMetadata::builder().code(code).build());
        let response = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        AwsError::ecs("CreateService", "service web", SdkError::service_error(err, response))
    }

    fn timed_out() -> AwsError {
        AwsError::ecs("CreateService", "service web", SdkError::<CreateServiceError, _>::timeout_error("timed out"))
    }

    /// `or_find` with `find` answering `found`; returns the result and whether `find` ran.
    fn settle(
        created: Result<&'static str, AwsError>,
        found: Result<Option<&'static str>, AwsError>,
    ) -> (String, bool) {
        let looked = Cell::new(false);
        let out = futures::executor::block_on(or_find(created, || {
            looked.set(true);
            std::future::ready(found)
        }));
        (out.map_or_else(|e| format!("error: {e}"), |v| v.to_owned()), looked.get())
    }

    #[test]
    fn a_create_that_may_have_made_its_resource_takes_what_the_lookup_finds() {
        assert_eq!(settle(Ok("arn:new"), Ok(Some("arn:found"))), ("arn:new".into(), false), "success: no lookup");
        assert_eq!(settle(Err(timed_out()), Ok(Some("arn:found"))), ("arn:found".into(), true));
        assert_eq!(settle(Err(failed("InternalFailure", 500)), Ok(Some("arn:found"))), ("arn:found".into(), true));
        assert_eq!(settle(Err(failed("ConflictException", 400)), Ok(Some("arn:found"))), ("arn:found".into(), true));
    }

    #[test]
    fn otherwise_the_create_error_stands() {
        // Nothing of bosun's found, or the lookup failed too: the create's own error.
        let (out, looked) = settle(Err(timed_out()), Ok(None));
        assert!(looked && out.starts_with("error: CreateService on service web failed: Timeout"), "{out}");
        let (out, looked) = settle(Err(failed("InternalFailure", 500)), Err(timed_out()));
        assert!(looked && out.contains("InternalFailure"), "{out}");
        // A refusal cannot have made anything: no lookup.
        let (out, looked) = settle(Err(failed("InvalidParameterException", 400)), Ok(Some("arn:found")));
        assert!(!looked && out.contains("InvalidParameterException"), "{out}");
        let (out, looked) = settle(Err(failed("ThrottlingException", 400)), Ok(Some("arn:found")));
        assert!(!looked && out.contains("ThrottlingException"), "{out}");
    }

    #[test]
    fn client_tokens_are_per_plan_and_resource_and_fit_every_aws_limit() {
        let plan = "1f".repeat(32);
        let token = client_token(&plan, "service web");
        assert_eq!(token, client_token(&plan, "service web"), "the same plan and resource give the same token");
        assert_eq!(token.len(), 36, "ECS CreateService takes at most 36 characters: {token}");
        assert!(token.bytes().all(|b| (33..=126).contains(&b)), "ASCII 33-126 only: {token}");
        assert!(token.starts_with("bosun-"));
        assert_ne!(token, client_token(&plan, "service api"), "another resource of the plan");
        assert_ne!(token, client_token(&"2e".repeat(32), "service web"), "another plan");
        // The separator keeps (plan, resource) pairs apart.
        assert_ne!(client_token("ab", "c"), client_token("a", "bc"));
    }
}
