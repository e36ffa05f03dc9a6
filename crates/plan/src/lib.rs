//! Planning for bosun: compare the desired state of a cluster with its observed
//! state and produce an ordered, hashable [`Plan`].
//!
//! This crate is pure: no async, no clock, no environment, no AWS. The AWS adapter
//! builds an [`Observed`] and executes a [`Plan`]'s steps; everything in between
//! happens here, so it can be tested exhaustively.
//!
//! # Layout
//! - [`observed`]: the observed-state model the AWS adapter fills in, and the
//!   ownership tags.
//! - [`types`]: the plan: changes, actions, orphans, conflicts, hash.
//! - [`fields`]: the fields a change touches, one enum per resource kind.
//! - [`stages`]: the order a plan runs in ([`Plan::stages`]).
//! - [`planner`]: `plan(desired, observed, policy) -> Plan`.
//! - `settings`: the capacity, ECS Exec, grace period and tag settings of a service,
//!   compared by the planner and stored by the simulator.
//! - [`render`]: text (compact or full, plain or coloured) and JSON rendering,
//!   task-definition diffs.
//! - [`markdown`]: Markdown rendering for pull-request comments, capped to fit.
//! - [`blind`]: candidate previews that cannot confirm a guessed environment value.
//! - [`simulate`]: a pure AWS simulator used to prove idempotence.

pub mod blind;
pub mod fields;
pub mod markdown;
pub mod observed;
pub mod planner;
pub mod render;
mod settings;
pub mod simulate;
pub mod stages;
pub mod types;

pub use fields::{
    ClusterField, DiscoveryField, Field, HookField, ListenerField, LoadBalancerField, LogGroupField, RecordField,
    RuleField, ScalingField, ServiceField, TargetGroupField, TaskDefinitionField,
};
pub use markdown::{MarkdownOptions, render_markdown};
pub use observed::{Observed, Owner};
pub use planner::plan;
pub use render::{DiffMode, TextOptions, render_json, render_text, render_text_with};
pub use types::{Action, Change, Conflict, FieldChange, HookPhase, Kind, Orphan, Plan, Policy, Resource, Step};
