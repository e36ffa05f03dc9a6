//! A mutation fuzzer of everything that reads untrusted text: the stackfile parser
//! (`bosun_stackfile::validate` and `load`), the planner and the plan renderer on
//! what loads, the JSON view of a stackfile and back, and the API's request bodies
//! through the axum router in-process. Stable Rust, no instrumentation: inputs are
//! the example stackfiles and test fixtures, mutated at the byte, line and YAML level.
//!
//! Every input is a pure function of the run's seed and its index, so a run is
//! reproducible from the seed it prints, and one input from (seed, index). A run is
//! bounded by wall time. It fails on a panic, a hang (an input slower than the
//! per-input bound), or a broken invariant: an invalid stackfile without located
//! diagnostics, an unprintable diagnostic or plan, a plan that does not converge, the
//! API disagreeing with the library, or a 500. Failing inputs are saved to a directory.
//!
//! # Layout
//! - [`corpus`]: the seed inputs.
//! - [`mutate`]: the mutations.
//! - [`targets`]: what each input is fed to, and the invariants checked.
//! - [`runner`]: the loop, the watchdog, the crash files and the report.

pub mod corpus;
pub mod mutate;
pub mod runner;
pub mod targets;

pub use runner::{Config, Report, input, run};
