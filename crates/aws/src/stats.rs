//! Counts AWS calls by service and operation, through an SDK interceptor.
//!
//! Every attempt is counted, retries included, because that is what AWS sees and
//! bills and throttles. `bosun plan --stats` and the reconcile benchmark print these.
//!
//! The same interceptor feeds the `metrics` facade (`bosun_aws_calls_total` by service
//! and operation; a no-op unless a recorder is installed, as `bosun serve` does) and
//! adds each call's span to the current [`AwsTime`] scope, so the API can report its
//! own overhead: time in the handler minus the time AWS calls were in flight (calls
//! made at once counted once).
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
    static AWS_TIME: Arc<Mutex<Spans>>;
}

/// When AWS calls were in flight: each call's (start, end).
#[derive(Debug, Default)]
struct Spans(Vec<(Instant, Instant)>);

impl Spans {
    /// Spans kept before overlapping ones are merged: a scope's memory stays bounded
    /// however many calls it makes.
    const COMPACT_AT: usize = 1024;

    fn add(&mut self, start: Instant, end: Instant) {
        self.0.push((start, end));
        if self.0.len() >= Self::COMPACT_AT {
            self.compact();
        }
    }

    /// Sort and merge overlapping spans.
    fn compact(&mut self) {
        self.0.sort_unstable_by_key(|s| s.0);
        let mut merged: Vec<(Instant, Instant)> = Vec::with_capacity(self.0.len());
        for &(start, end) in &self.0 {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        self.0 = merged;
    }

    /// The time covered by at least one span.
    fn covered(&mut self) -> Duration {
        self.compact();
        self.0.iter().map(|(start, end)| end.saturating_duration_since(*start)).sum()
    }
}

/// The wall time during which a future (and everything it awaits on the same task)
/// had at least one AWS call in flight: calls made at once count once, so the time
/// left over is the caller's own work.
#[derive(Debug, Clone, Default)]
pub struct AwsTime(Arc<Mutex<Spans>>);

impl AwsTime {
    /// Run `fut`, counting the AWS calls it makes in this scope.
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
        self.0.lock().expect("aws time lock is never poisoned").covered()
    }
}

/// Count an AWS call from `start` to now in the current [`AwsTime`] scope, if any.
/// Outside a scope (the CLI) there is nothing to add to.
fn add_aws_time(start: Instant) {
    let end = Instant::now();
    let _ = AWS_TIME.try_with(|t| t.lock().expect("aws time lock is never poisoned").add(start, end));
}

/// Await `body`, the reading of a streamed AWS response body, and count its wall time
/// as time in AWS: it is the network I/O of a call whose headers the interceptor has
/// already timed. Only the read goes in here; parsing what was read stays outside.
pub(crate) async fn reading_body<F: Future>(body: F) -> F::Output {
    let start = Instant::now();
    let out = body.await;
    add_aws_time(start);
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
            add_aws_time(*start);
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
    fn calls_made_at_once_count_once() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut spans = Spans::default();
        // Two calls at once (0-20, 5-25), one later (40-50), one inside the first.
        for (start, end) in [(0, 20), (40, 50), (5, 25), (2, 3)] {
            spans.add(at(start), at(end));
        }
        assert_eq!(spans.covered(), Duration::from_millis(35));
        // Many spans stay few once merged.
        for i in 0..5000 {
            spans.add(at(100 + i), at(101 + i));
        }
        assert!(spans.0.len() < Spans::COMPACT_AT, "{}", spans.0.len());
        assert_eq!(spans.covered(), Duration::from_millis(35 + 5000));
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
