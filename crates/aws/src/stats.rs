//! Counts AWS calls by service and operation, through an SDK interceptor.
//!
//! Every attempt is counted, retries included, because that is what AWS sees and
//! bills and throttles. `bosun plan --stats` and the reconcile benchmark print these.
//!
//! The same interceptor feeds the `metrics` facade (`bosun_aws_calls_total` by service
//! and operation; a no-op unless a recorder is installed, as `bosun serve` does) and
//! adds the wall time of each call to the current [`AwsTime`] scope, so the API can
//! report its own overhead: time in the handler minus time waiting on AWS.
//!
//! The interceptor's span ends when the SDK hands back the output. For an operation
//! with a streamed body (S3 `GetObject`) that is when the headers have arrived: the
//! body is still on the socket. Reading it is the rest of the same call, so the store
//! reads bodies through `reading_body`, which adds that wait to the scope too.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// Shared call counters; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct CallStats {
    counts: Arc<Mutex<BTreeMap<(String, String), u64>>>,
}

/// One row of [`CallStats::snapshot`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallCount {
    /// Service, e.g. `ECS`.
    pub service: String,
    /// Operation, e.g. `DescribeServices`.
    pub operation: String,
    /// Whether the operation changes AWS state.
    pub mutating: bool,
    /// Attempts made.
    pub calls: u64,
}

impl CallStats {
    /// The counts so far, sorted by service and operation.
    pub fn snapshot(&self) -> Vec<CallCount> {
        let counts = self.counts.lock().expect("stats lock is never poisoned");
        counts
            .iter()
            .map(|((service, operation), calls)| CallCount {
                service: service.clone(),
                mutating: is_mutating(operation),
                operation: operation.clone(),
                calls: *calls,
            })
            .collect()
    }

    /// Total read and mutating calls.
    pub fn totals(&self) -> (u64, u64) {
        self.snapshot().iter().fold((0, 0), |(r, m), c| if c.mutating { (r, m + c.calls) } else { (r + c.calls, m) })
    }

    fn record(&self, service: &str, operation: &str) {
        let mut counts = self.counts.lock().expect("stats lock is never poisoned");
        *counts.entry((service.to_owned(), operation.to_owned())).or_default() += 1;
    }
}

/// Whether an AWS operation name is a write. Reads are Describe/List/Get.
pub fn is_mutating(operation: &str) -> bool {
    !["Describe", "List", "Get"].iter().any(|p| operation.starts_with(p))
}

tokio::task_local! {
    static AWS_TIME: Arc<Mutex<Duration>>;
}

/// The wall time spent in AWS calls made by one future (and everything it awaits on
/// the same task). Concurrent calls each add their own duration.
#[derive(Debug, Clone, Default)]
pub struct AwsTime(Arc<Mutex<Duration>>);

impl AwsTime {
    /// Run `fut`, adding the duration of every AWS call it makes to this scope.
    pub async fn scope<F: Future>(&self, fut: F) -> F::Output {
        AWS_TIME.scope(self.0.clone(), fut).await
    }

    /// The scope the current task runs in, if any: a request the API makes of itself
    /// (the web UI's) adds its AWS time to the enclosing request's too.
    pub fn current() -> Option<Self> {
        AWS_TIME.try_with(|t| Self(t.clone())).ok()
    }

    /// The time spent so far.
    pub fn elapsed(&self) -> Duration {
        *self.0.lock().expect("aws time lock is never poisoned")
    }
}

/// Add `took` to the current [`AwsTime`] scope, if any. Outside a scope (the CLI)
/// there is nothing to add to.
fn add_aws_time(took: Duration) {
    let _ = AWS_TIME.try_with(|t| *t.lock().expect("aws time lock is never poisoned") += took);
}

/// Await `body`, the reading of a streamed AWS response body, and count its wall time
/// as time in AWS: it is the network I/O of a call whose headers the interceptor has
/// already timed. Only the read goes in here; parsing what was read stays outside.
pub(crate) async fn reading_body<F: Future>(body: F) -> F::Output {
    let start = Instant::now();
    let out = body.await;
    add_aws_time(start.elapsed());
    out
}

#[derive(Debug, Clone, Copy)]
struct CallStart(Instant);

impl Storable for CallStart {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug)]
pub(crate) struct CountingInterceptor(pub(crate) CallStats);

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "bosun-call-stats"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(CallStart(Instant::now()));
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            self.0.record(meta.service(), meta.name());
            metrics::counter!("bosun_aws_calls_total", "service" => meta.service().to_owned(), "operation" => meta.name().to_owned())
                .increment(1);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(CallStart(start)) = cfg.load::<CallStart>() {
            add_aws_time(start.elapsed());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_operations() {
        assert!(!is_mutating("DescribeServices"));
        assert!(!is_mutating("ListResourceRecordSets"));
        assert!(!is_mutating("GetOperation"));
        assert!(is_mutating("CreateService"));
        assert!(is_mutating("ChangeResourceRecordSets"));
        assert!(is_mutating("RegisterTaskDefinition"));
    }

    #[tokio::test]
    async fn body_reads_count_as_aws_time_inside_a_scope_only() {
        let aws = AwsTime::default();
        let read = tokio::time::sleep(Duration::from_millis(7));
        aws.scope(reading_body(read)).await;
        let counted = aws.elapsed();
        assert!(counted >= Duration::from_millis(7), "{counted:?}");
        // Outside a scope it is counted nowhere, and does not fail.
        reading_body(tokio::time::sleep(Duration::from_millis(3))).await;
        assert_eq!(aws.elapsed(), counted);
    }

    #[test]
    fn totals_split_reads_and_writes() {
        let s = CallStats::default();
        s.record("ECS", "DescribeServices");
        s.record("ECS", "DescribeServices");
        s.record("ECS", "UpdateService");
        assert_eq!(s.totals(), (2, 1));
        assert_eq!(s.snapshot()[0].calls, 2);
    }
}
