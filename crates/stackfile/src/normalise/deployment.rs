//! Rollouts: deployment settings, pre- and post-deploy hooks, and the desired count
//! (with `ignore`).

use std::time::Duration;

use super::names::{NameKind, Names};
use super::{Entry, Normaliser};
use crate::limits::{MAX_OVERRIDE_CHARS, thousands};
use crate::model::*;
use crate::raw::*;
use crate::validate::parse_duration;
use crate::walk::join;

/// Default rollout wait and hook timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// How many tasks a service runs.
pub(super) struct Count {
    /// The count bosun keeps; `None` when an autoscaler owns it.
    pub(super) desired: Option<i32>,
    /// The count a new service starts with, even when the count is ignored.
    pub(super) initial: i32,
}

impl Normaliser<'_> {
    /// Rollout settings: the service's `deployment` and nysa's `deployment_configuration`,
    /// over those of `defaults`.
    pub(super) fn deployment(&mut self, e: &Entry) -> DeploymentSpec {
        let (s, d) = (e.raw, e.defaults);
        let sd = s.deployment.as_ref();
        let dd = d.deployment.as_ref();
        let sc = s.deployment_configuration.as_ref();
        let dc = d.deployment_configuration.as_ref();
        let circuit_breaker = sd.and_then(|x| x.circuit_breaker).or(dd.and_then(|x| x.circuit_breaker)).unwrap_or(true);
        let rollback = sd.and_then(|x| x.rollback).or(dd.and_then(|x| x.rollback)).unwrap_or(true);
        let sp = e.at("deployment");
        let scp = e.at("deployment_configuration");
        // Service settings beat defaults; within a level, `deployment` beats nysa's
        // `deployment_configuration`.
        let min = [
            (sd.and_then(|x| x.min_healthy_percent), join(&sp, "min_healthy_percent")),
            (sc.and_then(|x| x.minimum_healthy_percent), join(&scp, "minimum_healthy_percent")),
            (dd.and_then(|x| x.min_healthy_percent), "defaults.deployment.min_healthy_percent".to_string()),
            (
                dc.and_then(|x| x.minimum_healthy_percent),
                "defaults.deployment_configuration.minimum_healthy_percent".to_string(),
            ),
        ]
        .into_iter()
        .find_map(|(v, p)| v.map(|v| (v, p)));
        let max = [
            (sd.and_then(|x| x.max_percent), join(&sp, "max_percent")),
            (sc.and_then(|x| x.maximum_percent), join(&scp, "maximum_percent")),
            (dd.and_then(|x| x.max_percent), "defaults.deployment.max_percent".to_string()),
            (dc.and_then(|x| x.maximum_percent), "defaults.deployment_configuration.maximum_percent".to_string()),
        ]
        .into_iter()
        .find_map(|(v, p)| v.map(|v| (v, p)));
        let min_ok = match &min {
            Some((v, p)) => self.in_range(*v, 0, 100, p, "minimum healthy percent"),
            None => true,
        };
        let max_ok = match &max {
            Some((v, p)) => self.in_range(*v, 100, 200, p, "maximum percent"),
            None => true,
        };
        let min_v = min.as_ref().map_or(50, |m| m.0);
        let max_v = max.as_ref().map_or(200, |m| m.0);
        if min_ok && max_ok && max_v < min_v {
            let at = max.as_ref().map_or(sp.clone(), |m| m.1.clone());
            self.err(&at, format!("maximum percent ({max_v}) must not be below the minimum healthy percent ({min_v})"));
        }
        let wait = sd.and_then(|x| x.wait_timeout.as_ref().map(|w| (w, join(&sp, "wait_timeout")))).or_else(|| {
            dd.and_then(|x| x.wait_timeout.as_ref().map(|w| (w, "defaults.deployment.wait_timeout".to_string())))
        });
        let wait_timeout = match wait {
            None => DEFAULT_TIMEOUT,
            Some((w, p)) => parse_duration(w).unwrap_or_else(|msg| {
                self.err(&p, msg);
                DEFAULT_TIMEOUT
            }),
        };
        DeploymentSpec {
            circuit_breaker,
            rollback,
            min_healthy_percent: min_v.clamp(0, 100) as i32,
            max_percent: max_v.clamp(100, 200) as i32,
            wait_timeout,
        }
    }

    /// The pre- and post-deploy hooks; their names are unique across both phases.
    pub(super) fn hooks(&mut self, e: &Entry) -> Hooks {
        let mut out = Hooks::default();
        let Some(h) = e.raw.hooks.as_ref() else {
            return out;
        };
        let path = e.at("hooks");
        let mut seen = Names::default();
        for (phase, list) in [("pre", &h.pre), ("post", &h.post)] {
            let lpath = join(&path, phase);
            for (i, hook) in list.iter().flatten().enumerate() {
                let hpath = self.locs.item(&lpath, i);
                let name = hook.name.trim().to_string();
                let name_path = join(&hpath, "name");
                if name.is_empty() {
                    self.err(&name_path, "a hook needs a name");
                } else if let Err(dup) = seen.claim(NameKind::Hook, &name, &name_path) {
                    self.duplicate(dup);
                }
                let command = match &hook.command {
                    RawCommand::Args(a) => a.clone(),
                    RawCommand::Shell(s) if s.trim().is_empty() => vec![],
                    RawCommand::Shell(s) => vec!["sh".to_string(), "-c".to_string(), s.clone()],
                };
                if command.is_empty() {
                    self.err(&join(&hpath, "command"), "a hook needs a non-empty command");
                }
                // What RunTask sends: `{"containerOverrides":[{"name":...,"command":[...]}]}`.
                let overrides = r#"{"containerOverrides":[{"name":,"command":}]}"#.len()
                    + super::container::json_len(&e.name).1
                    + super::container::json_len(&command).1;
                if overrides > MAX_OVERRIDE_CHARS {
                    self.err(
                        &join(&hpath, "command"),
                        format!(
                            "the command makes a RunTask override of {} characters; ECS allows {} for overrides",
                            thousands(overrides),
                            thousands(MAX_OVERRIDE_CHARS)
                        ),
                    );
                }
                let timeout = match &hook.timeout {
                    None => DEFAULT_TIMEOUT,
                    Some(t) => parse_duration(t).unwrap_or_else(|msg| {
                        self.err(&join(&hpath, "timeout"), msg);
                        DEFAULT_TIMEOUT
                    }),
                };
                let spec = HookSpec { name, command, timeout };
                if phase == "pre" { out.pre.push(spec) } else { out.post.push(spec) }
            }
        }
        out
    }

    /// The desired count, `None` when `ignore: [desired_count]` leaves it to others.
    pub(super) fn desired_count(&mut self, e: &Entry) -> Count {
        let s = e.raw;
        let count = s.desired_count.unwrap_or(1);
        let count = i32::try_from(count).unwrap_or_else(|_| {
            self.err(&e.at("desired_count"), format!("desired_count {count} is too large"));
            1
        });
        let ignores_count = s.ignore.iter().flatten().any(|i| *i == RawIgnore::DesiredCount);
        Count { desired: (!ignores_count).then_some(count), initial: count }
    }
}
