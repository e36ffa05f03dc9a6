//! The stackfile: parsing, validation and normalisation into the desired state of one
//! ECS cluster. Pure: no I/O, no clock, no environment.
//!
//! A stackfile goes through three passes, and every pass collects all of its errors
//! before the result is judged:
//!
//! 1. **Parse** with `marked_yaml`, which keeps the line and column of every node
//!    (serde-based YAML parsers stop at the first error and forget positions). A
//!    stackfile is one non-empty YAML document of at most 1 MiB.
//! 2. **Structural pass**: the node tree is walked against the JSON schema generated from
//!    the `raw` serde types, which reports unknown keys (with a "did you mean"), wrong
//!    types, missing keys, strings and lists over their AWS limits and strings with
//!    control characters, and converts the tree into the raw types.
//! 3. **Semantic pass**: rules that span fields (ports, ARNs, Fargate sizes, references
//!    to load balancers, rule priorities, ...) are checked and the raw stackfile is
//!    normalised into [`Desired`].
//!
//! # Layout
//! - [`model`]: the normalised desired state the planner consumes.
//! - [`hash`]: the stable hash of a task definition spec (an ownership tag).
//! - [`import`]: `bosun import`: a stackfile (with comments for what it cannot say)
//!   from a live cluster the AWS adapter read.
//! - [`limits`]: the limits of a stackfile, each from the AWS limit it protects, and
//!   the text rules of its strings (one printable line, except environment values and
//!   commands).
//! - [`references`]: what the stackfile names that must exist in AWS (VPC, subnets,
//!   security groups, certificates, hosted zones, roles, secrets, parameters), where it
//!   names each, and the located diagnostics of a preflight check that found some missing.
//! - [`document`]: the JSON view of a stackfile, YAML from JSON, and in-place edits
//!   of one service (the API's read-modify-write) that keep comments and layout.
//! - `raw`: the accepted syntax as serde types; the source of the JSON schema.
//! - `schema`: the generated JSON schema ([`json_schema`]).
//! - `walk`: the located parse and the structural pass.
//! - `validate`: field-level rules (ports, volumes, ARNs, names, durations, Fargate sizes).
//! - `normalise`: the semantic pass and the normalisation into [`Desired`]; `mod.rs`
//!   assembles each service from one module per section:
//!   - `normalise::names`: the name registry (AWS names, services, environment
//!     variables, hooks, listener ports) and its "duplicate" errors.
//!   - `normalise::network`: `vpc`, launch type, network mode.
//!   - `normalise::placement`: placement strategy and constraints.
//!   - `normalise::container`: the container and task definition (ports, Fargate sizes,
//!     environment and secrets, volumes, logging, health check).
//!   - `normalise::deployment`: deployment settings, hooks, desired count.
//!   - `normalise::load_balancing`: shared load balancers, `elb`, `routing`,
//!     certificates, target groups, Route53 `dns`, rule priorities.
//!   - `normalise::discovery`: the Cloud Map namespace and `dns_discovery`.
//!   - `normalise::connect`: ECS Service Connect and the named ports it refers to.
//! - `diagnostic`: [`Diagnostic`] and [`Diagnostics`].
//! - `suggest`: "did you mean" suggestions.
//! - `fixtures` (feature `fixtures`): the example stackfiles and fake ids for their
//!   placeholders, shared by every crate's tests.

mod diagnostic;
pub mod document;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod hash;
pub mod import;
pub mod limits;
pub mod model;
mod normalise;
mod raw;
pub mod references;
mod schema;
mod suggest;
mod validate;
mod walk;

pub use diagnostic::{Diagnostic, Diagnostics};
pub use hash::spec_hash;
pub use model::*;
pub use references::References;
pub use schema::json_schema;

/// Parses, validates and normalises a stackfile for the cluster `cluster`.
///
/// `cluster` is the ECS cluster name (1-255 letters, digits, hyphens and underscores); it
/// prefixes every derived AWS name, so this also checks the names that depend on it, such
/// as the 32-character limit of `<cluster>-<service>-lb`. Every error of the document is
/// returned, sorted by position.
pub fn load(source: &str, cluster: &str) -> Result<Desired, Diagnostics> {
    load_with_references(source, cluster).map(|(desired, _)| desired)
}

/// [`load`], and also every place where the stackfile names something that must exist
/// in AWS (what a preflight check looks up before the first change).
pub fn load_with_references(source: &str, cluster: &str) -> Result<(Desired, References), Diagnostics> {
    let mut diags = Vec::new();
    if let Err(message) = validate::check_ecs_name("cluster name", cluster) {
        // Not a place in the document: line and column 0.
        diags.push(Diagnostic { path: "cluster".to_string(), line: 0, column: 0, message });
    }
    let (analysed, more) = analyse(source, Some(cluster));
    diags.extend(more);
    match analysed {
        Some(d) if diags.is_empty() => Ok(d),
        _ => Err(Diagnostics::from_unsorted(diags)),
    }
}

/// Validates a stackfile without a cluster name (what `bosun validate` uses).
///
/// Runs the same checks as [`load`] except those that depend on the cluster name: the
/// length and characters of derived load balancer and target group names
/// (`<cluster>-<service>[-<elb.name>]-lb`, `<cluster>-<service>-tg`, `<cluster>-<key>`).
/// A stackfile that validates can therefore still fail to [`load`] for a long cluster name.
pub fn validate(source: &str) -> Result<(), Diagnostics> {
    let (_, diags) = analyse(source, None);
    if diags.is_empty() { Ok(()) } else { Err(Diagnostics::from_unsorted(diags)) }
}

/// Runs all passes; `None` for the desired state (and its references) when the document
/// could not be read into the raw types at all.
fn analyse(source: &str, cluster: Option<&str>) -> (Option<(Desired, References)>, Vec<Diagnostic>) {
    let walked = match walk::parse_and_walk(source, schema::raw_schema()) {
        Ok(w) => w,
        Err(diags) => return (None, diags),
    };
    let mut diags = walked.diags;
    let raw: raw::RawStackfile = match serde_json::from_value(walked.value) {
        Ok(raw) => raw,
        Err(e) => {
            // The walk only keeps what the schema accepts, so this means the schema and
            // the raw types disagree: a bug, reported rather than panicking.
            diags.push(Diagnostic {
                path: String::new(),
                line: 1,
                column: 1,
                message: format!("internal error: the checked stackfile did not convert: {e}"),
            });
            return (None, diags);
        }
    };
    let (desired, semantic, references) = normalise::normalise(&raw, &walked.locs, cluster);
    diags.extend(semantic);
    (Some((desired, references)), diags)
}
