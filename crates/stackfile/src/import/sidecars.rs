//! A task's other containers: the sidecars (`containers:` entries) and every container's
//! `depends_on`, in the shapes `normalise/sidecars.rs` reads back.
//!
//! A sidecar's environment is its own (`defaults.environment` is the main container's),
//! and its logging merges onto `defaults.logging` when the driver is the same, as the
//! loader does; so `defaults.logging` is left out when a sidecar could not say its own
//! logging on top of it.

use std::collections::BTreeMap;

use super::LiveService;
use super::compose::{env_node, healthcheck_node, logging_node, ports_node};
use super::yaml::{Map, Node};
use crate::limits::text_problem;
use crate::model::{ContainerDependency, ContainerSpec, LogConfiguration, TaskDefinitionSpec};
use crate::validate::check_env_name;

/// Whether a stackfile can hold an environment variable (its name and value).
pub(super) fn env_ok(name: &str, value: &str) -> bool {
    check_env_name(name).is_ok() && text_problem(name, false).is_none() && text_problem(value, true).is_none()
}

/// The environment each sidecar can write, in the task's order, with a note for each
/// variable left out; `None` when the sidecars cannot be written at all (a note says
/// why, and the round trip says what the plan would then change).
pub(super) fn pick(s: &LiveService, fargate: bool, notes: &mut Vec<String>) -> Option<Vec<BTreeMap<String, String>>> {
    let sidecars = &s.task_definition.sidecars;
    let no_memory: Vec<&str> = sidecars.iter().filter(|c| c.memory.is_none()).map(|c| c.name.as_str()).collect();
    if !fargate && !no_memory.is_empty() {
        notes.push(format!(
            "its container(s) {} have no hard memory limit, which a stackfile needs of every container on EC2, so its `containers` are left out",
            no_memory.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ));
        return None;
    }
    let envs = sidecars
        .iter()
        .map(|c| {
            let mut env = BTreeMap::new();
            for (k, v) in &c.environment {
                if env_ok(k, v) {
                    env.insert(k.clone(), v.clone());
                } else {
                    notes.push(format!(
                        "environment variable `{k}` of container `{}` has a name or value a stackfile refuses; left out",
                        c.name
                    ));
                }
            }
            env
        })
        .collect();
    Some(envs)
}

/// `containers:`: each sidecar with `envs[i]` as its environment, its logging over `base`.
pub(super) fn containers_node(
    td: &TaskDefinitionSpec,
    envs: &[BTreeMap<String, String>],
    base: Option<&LogConfiguration>,
) -> Option<Node> {
    let items: Vec<Node> = td.sidecars.iter().zip(envs).map(|(c, env)| container_node(td, c, env, base)).collect();
    (!items.is_empty()).then_some(Node::Seq(items))
}

fn container_node(
    td: &TaskDefinitionSpec,
    c: &ContainerSpec,
    env: &BTreeMap<String, String>,
    base: Option<&LogConfiguration>,
) -> Node {
    let mut m = Map::default();
    m.set("name", Node::str(c.name.clone())).set("image", Node::str(c.image.clone()));
    if !c.essential {
        m.set("essential", Node::Bool(false));
    }
    m.opt("depends_on", depends_node(&c.depends_on));
    m.opt("ports", ports_node(td, c));
    if !env.is_empty() {
        m.set("environment", env_node(env));
    }
    if !c.secrets.is_empty() {
        m.set("secrets", env_node(&c.secrets));
    }
    // Left out when it cannot be said over `base`: the defaults drop their logging then.
    m.opt("logging", logging(base, c.log_configuration.as_ref()).ok().flatten());
    m.opt("healthcheck", c.health_check.as_ref().map(healthcheck_node));
    m.opt("memory", c.memory.map(|v| Node::Int(v.into())));
    m.opt("cpu", c.cpu.map(|v| Node::Int(v.into())));
    if !c.command.is_empty() {
        m.set("command", Node::strs(&c.command));
    }
    if !c.entry_point.is_empty() {
        m.set("entrypoint", Node::strs(&c.entry_point));
    }
    if let Some(f) = &c.firelens {
        let mut fm = Map::default();
        fm.set("type", Node::str(f.kind.clone()));
        if !f.options.is_empty() {
            fm.set("options", env_node(&f.options));
        }
        m.set("firelens", Node::Map(fm));
    }
    Node::Map(m)
}

/// A container's `depends_on`, in its order.
pub(super) fn depends_node(deps: &[ContainerDependency]) -> Option<Node> {
    let items: Vec<Node> = deps
        .iter()
        .map(|d| {
            let mut m = Map::default();
            m.set("container", Node::str(d.container.clone())).set("condition", Node::str(d.condition.clone()));
            Node::Map(m)
        })
        .collect();
    (!items.is_empty()).then_some(Node::Seq(items))
}

/// A sidecar's `logging` over the inherited `base` (`defaults.logging`): `Ok(None)` when
/// it inherits exactly `base` (or neither has one), `Err` when the stackfile cannot say
/// it (no logging under a base, or fewer options than the base of the same driver).
pub(super) fn logging(base: Option<&LogConfiguration>, l: Option<&LogConfiguration>) -> Result<Option<Node>, ()> {
    match (base, l) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(()),
        (None, Some(l)) => Ok(Some(logging_node(Some(&l.driver), &l.options))),
        (Some(b), Some(l)) if b.driver != l.driver => Ok(Some(logging_node(Some(&l.driver), &l.options))),
        (Some(b), Some(l)) => {
            if b.options.keys().any(|k| !l.options.contains_key(k)) {
                return Err(());
            }
            let extra: BTreeMap<String, String> = l
                .options
                .iter()
                .filter(|(k, v)| b.options.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Ok((!extra.is_empty()).then(|| logging_node(None, &extra)))
        }
    }
}
