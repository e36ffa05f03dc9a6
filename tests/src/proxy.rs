//! The fault proxy (`deploy/local/aws_proxy.py`) between `bosun` and the test's
//! emulator: latency, throttling in each protocol's own shape, 500s and 503s, dropped
//! connections, and responses lost after the call was carried out.
//!
//! This is the one place the tests stand in for AWS: the emulator cannot fail on
//! purpose, so the proxy injects the failures. Everything it forwards is the emulator's
//! own answer.
//!
//! ```no_run
//! # async fn demo() {
//! use bosun_tests::{Env, Stackfile, proxy::Faults};
//! let env = Env::start().await;
//! let proxy = env.proxy(Faults::rate(0.2)).await;
//! env.route_through(&proxy);
//! env.apply(&Stackfile::example("demo.yml"), &[]).await; // through the faults
//! proxy.set_faults(Faults::none()).await;
//! # }
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::process::{Child, Command};

/// What the proxy does to requests: `rate` of the requests to `services` (SigV4 signing
/// names; empty for all) and of `operations` (empty for all) fail with a kind drawn from
/// `kinds`, each operation at most `limit_per_operation` times, after `latency`.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Share of requests that fail, 0 to 1.
    pub rate: f64,
    /// `throttle`, `500`, `503`, `denied` (403, the service's access-denied error),
    /// `drop` (not forwarded, connection closed), `lost` (carried out upstream, answer
    /// discarded).
    pub kinds: Vec<&'static str>,
    /// Signing names of the services to fault (`ecs`, `s3`, ...); empty means all.
    pub services: Vec<&'static str>,
    /// Operations to fault, as [`ProxyStats::operations`] names them
    /// (`ecs:CreateService`, `elasticloadbalancing:CreateRule`, `PUT /bucket/jobs/{id}`, ...);
    /// empty means all.
    pub operations: Vec<&'static str>,
    /// Fault each operation at most this many times; `None` for no limit.
    pub limit_per_operation: Option<u64>,
    /// Added before each request is forwarded (fixed at start).
    pub latency: Duration,
    /// Seed of the draws; `None` picks one from the clock (it is printed either way).
    pub seed: Option<u64>,
}

/// Every fault kind the proxy knows that a retry can get past (the proxy also knows
/// `denied`: the service's own access-denied error, which no retry gets past).
pub const ALL_KINDS: [&str; 5] = ["throttle", "500", "503", "drop", "lost"];

impl Faults {
    /// No faults: a plain forwarding proxy.
    pub fn none() -> Self {
        Self::rate(0.0)
    }

    /// `rate` of all requests fail, with every kind of fault.
    pub fn rate(rate: f64) -> Self {
        Self {
            rate,
            kinds: ALL_KINDS.to_vec(),
            services: Vec::new(),
            operations: Vec::new(),
            limit_per_operation: None,
            latency: Duration::ZERO,
            seed: None,
        }
    }

    /// Only these kinds of fault.
    pub fn kinds(mut self, kinds: &[&'static str]) -> Self {
        self.kinds = kinds.to_vec();
        self
    }

    /// Only requests to these services (SigV4 signing names).
    pub fn services(mut self, services: &[&'static str]) -> Self {
        self.services = services.to_vec();
        self
    }

    /// Only requests of these operations (`ecs:CreateService`, ...).
    pub fn operations(mut self, operations: &[&'static str]) -> Self {
        self.operations = operations.to_vec();
        self
    }

    /// Fault each operation at most `n` times (with rate 1: exactly its first `n` calls).
    pub fn limit_per_operation(mut self, n: u64) -> Self {
        self.limit_per_operation = Some(n);
        self
    }

    /// This much latency on every request.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// A fixed seed, to replay a failure.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
}

/// What the proxy has seen since it started (or since [`AwsProxy::reset`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct ProxyStats {
    /// Requests received (faulted ones included).
    pub requests: u64,
    /// Requests by operation, e.g. `ecs:CreateService`.
    pub operations: BTreeMap<String, u64>,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Faults injected, by operation.
    pub faulted_operations: BTreeMap<String, u64>,
}

impl ProxyStats {
    /// All faults injected.
    pub fn total_faults(&self) -> u64 {
        self.faults.values().sum()
    }
}

/// A running proxy in front of one emulator; stopped when dropped.
pub struct AwsProxy {
    endpoint: String,
    seed: u64,
    http: reqwest::Client,
    _child: Child,
}

impl AwsProxy {
    /// Start a proxy to `upstream` with `faults`; its port file and log go to `dir`.
    pub(crate) async fn start(upstream: &str, faults: &Faults, dir: &Path) -> Self {
        let seed = faults.seed.unwrap_or_else(clock_seed);
        let port_file = tempfile::Builder::new().prefix("proxy-").suffix(".port").tempfile_in(dir).expect("port file");
        let port_path = port_file.into_temp_path();
        std::fs::remove_file(&port_path).expect("the proxy writes the port file itself");
        let log = tempfile::Builder::new().prefix("proxy-").suffix(".log").tempfile_in(dir).expect("log file");
        let (log_file, log_path) = log.keep().expect("keep the proxy log");
        let script = crate::repo_root().join("deploy/local/aws_proxy.py");
        let child = Command::new("python3")
            .arg(&script)
            .args(["--upstream", upstream, "--port", "0"])
            .arg("--port-file")
            .arg(&port_path)
            .args(["--latency-ms", &faults.latency.as_millis().to_string()])
            .args(["--fault-rate", &faults.rate.to_string()])
            .args(["--faults", &faults.kinds.join(",")])
            .args(["--services", &faults.services.join(",")])
            .args(["--operations", &faults.operations.join(",")])
            .args(faults.limit_per_operation.map(|n| format!("--limit-per-operation={n}")))
            .args(["--seed", &seed.to_string()])
            .args(["--watch-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", script.display()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&port_path).ok().and_then(|s| s.trim().parse::<u16>().ok()) {
                break port;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the fault proxy did not start within 10 s:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // Printed so that a failing test can be replayed with `Faults::seed`.
        eprintln!("fault proxy on 127.0.0.1:{port}: {faults:?}, seed {seed}");
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().expect("client");
        AwsProxy { endpoint: format!("http://127.0.0.1:{port}"), seed, http, _child: child }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The seed of the fault draws.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Change the rate, kinds, services, operations and limit from the next request on
    /// (latency stays; the per-operation counts of the limit start again).
    pub async fn set_faults(&self, faults: Faults) {
        let body = json!({
            "rate": faults.rate,
            "kinds": faults.kinds,
            "services": faults.services,
            "operations": faults.operations,
            "limit_per_operation": faults.limit_per_operation,
        });
        let resp = self.http.post(format!("{}/_proxy/faults", self.endpoint)).json(&body).send().await;
        let resp = resp.expect("POST /_proxy/faults");
        assert!(resp.status().is_success(), "the proxy refused {body}: {}", resp.status());
    }

    /// What the proxy has seen.
    pub async fn stats(&self) -> ProxyStats {
        let resp = self.http.get(format!("{}/_proxy/stats", self.endpoint)).send().await.expect("GET /_proxy/stats");
        resp.json().await.expect("proxy stats are JSON")
    }

    /// Zero the counters.
    pub async fn reset(&self) {
        let resp = self.http.post(format!("{}/_proxy/reset", self.endpoint)).send().await.expect("POST /_proxy/reset");
        assert!(resp.status().is_success(), "proxy reset: {}", resp.status());
    }
}

fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    (nanos as u64 ^ u64::from(std::process::id()).rotate_left(32)) % (1 << 32)
}
