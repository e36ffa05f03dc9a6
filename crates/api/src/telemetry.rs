//! Access log, request ids and Prometheus metrics, from one middleware around every
//! route. Each request gets a new id ([`RequestId`]), which the handlers' 5xx causes
//! are logged under, its access line carries and its response returns in
//! `x-request-id`.
//!
//! Metrics (`GET /metrics`):
//! - `bosun_http_requests_total{method,route,status}`;
//! - `bosun_http_request_duration_seconds{method,route}`: time in the handler;
//! - `bosun_http_request_overhead_seconds{method,route}`: time in the handler minus
//!   time waiting on AWS calls and on other writers of the same cluster (the write
//!   lock and conflict back-off), which is what the API itself costs. An AWS call
//!   lasts from the SDK starting it to its response having been read, the body of a
//!   streamed S3 response included (see [`bosun_aws::stats`]); parsing, validating
//!   and rendering what was read is the API's own work and stays in the overhead, and
//!   so does the SDK's setup of a call before its first interceptor hook. These are
//!   wall times, so an AWS call's time also holds the wait for the runtime to resume
//!   the request once the response is in (other requests' turns on the worker);
//! - `bosun_http_request_wait_seconds{method,route}`: that waiting on other writers;
//! - `bosun_aws_calls_total{service,operation}`: counted by the AWS adapter.
//!
//! `route` is the matched route template (`/api/v1/clusters/{cluster}/config`), so a
//! scan of random paths cannot blow up the label space.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use bosun_aws::AwsTime;
use http::StatusCode;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::ApiError;
use crate::auth::Authenticated;
use crate::request_id::{self, RequestId};

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

tokio::task_local! {
    static WAIT: std::sync::Arc<std::sync::Mutex<Duration>>;
}

/// Count `d` as time this request spent waiting for other writers.
pub fn add_wait(d: Duration) {
    let _ = WAIT.try_with(|w| *w.lock().expect("wait lock is never poisoned") += d);
}

/// Latency buckets, in seconds: 100 µs to 10 s.
const BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Install the process-wide Prometheus recorder (once; later calls return the same).
pub fn install_recorder() -> &'static PrometheusHandle {
    RECORDER.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .expect("the bucket list is not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed in this process");
        // Histograms are drained into their buckets by upkeep; keep it running.
        let upkeep = handle.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                tick.tick().await;
                upkeep.run_upkeep();
            }
        });
        handle
    })
}

/// The rendered metrics, or `None` when no recorder was installed.
pub fn render() -> Option<String> {
    RECORDER.get().map(PrometheusHandle::render)
}

/// Give the request an id, resolve the caller, time the request and its AWS calls
/// (and stop it at the request timeout), log one line, count it.
pub async fn observe_request(State(state): State<crate::State>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    // Made here whatever the request says: an id a client chose could forge log lines.
    let id = RequestId::new();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    // A request the web UI makes of the API in process carries its session's caller
    // already (a request from the network cannot carry an extension).
    let internal = req.extensions().get::<Authenticated>().cloned();
    let caller = match &internal {
        Some(Authenticated(caller)) => caller.clone(),
        None => state.tokens.current().from_headers(req.headers()),
    };
    let who = caller.as_ref().map_or_else(|| "-".to_owned(), |c| c.name.clone());
    req.extensions_mut().insert(Authenticated(caller));

    // An internal request's AWS time and waits count for the page that made it too:
    // its page's overhead is then the UI's own work.
    let (aws, wait) = match internal {
        Some(_) => (AwsTime::current().unwrap_or_default(), WAIT.try_with(std::sync::Arc::clone).unwrap_or_default()),
        None => (AwsTime::default(), std::sync::Arc::default()),
    };
    let (aws_before, wait_before) = (aws.elapsed(), *wait.lock().expect("wait lock is never poisoned"));
    let limit = state.limits.request_timeout;
    let handled = async move {
        // The request timeout, here rather than in tower-http's `TimeoutLayer`, so that
        // the answer has the API's JSON shape and a request id, and the access line
        // below records it. Dropping the handler stops its work, as a client that
        // disconnects does.
        tokio::time::timeout(limit, next.run(req)).await.unwrap_or_else(|_| {
            ApiError::internal(
                StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                Some("the request took longer than the server's request timeout and was stopped"),
                format_args!("the handler ran for longer than the request timeout ({limit:?})"),
            )
            .into_response()
        })
    };
    let mut resp = id.scope(WAIT.scope(wait.clone(), aws.scope(handled))).await;
    resp.headers_mut().insert(request_id::HEADER, id.header_value());

    let took = start.elapsed();
    let in_aws = aws.elapsed().saturating_sub(aws_before);
    let waited = wait.lock().expect("wait lock is never poisoned").saturating_sub(wait_before);
    let overhead = took.saturating_sub(in_aws).saturating_sub(waited);
    let status = resp.status().as_u16();
    let labels = [("method", method.to_string()), ("route", route.clone())];
    metrics::counter!("bosun_http_requests_total", "method" => method.to_string(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("bosun_http_request_duration_seconds", &labels).record(took.as_secs_f64());
    metrics::histogram!("bosun_http_request_overhead_seconds", &labels).record(overhead.as_secs_f64());
    if !waited.is_zero() {
        metrics::histogram!("bosun_http_request_wait_seconds", &labels).record(waited.as_secs_f64());
    }
    tracing::info!(
        target: "bosun::access",
        %method,
        %path,
        %route,
        status,
        ms = %format_args!("{:.3}", took.as_secs_f64() * 1e3),
        aws_ms = %format_args!("{:.3}", in_aws.as_secs_f64() * 1e3),
        wait_ms = %format_args!("{:.3}", waited.as_secs_f64() * 1e3),
        caller = %who,
        request_id = %id,
        "request"
    );
    resp
}
