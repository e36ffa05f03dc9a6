//! Operations: the service settings ECS keeps beside the task definition (ECS Exec, the
//! health check grace period, ECS-managed tags, tag propagation) and the task
//! definition's own tags, with the combinations ECS refuses.

use std::collections::BTreeMap;

use super::{Entry, Normaliser};
use crate::model::*;
use crate::raw::*;
use crate::walk::join;

/// A tag key and value (ECS: keys 1-128 characters, values 0-256).
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

/// The operational settings of a service.
#[derive(Default)]
pub(super) struct Operations {
    pub(super) propagate_tags: Option<PropagateTags>,
    pub(super) enable_execute_command: bool,
    pub(super) health_check_grace_period: Option<i32>,
    pub(super) enable_ecs_managed_tags: bool,
}

impl Normaliser<'_> {
    /// ECS Exec, the grace period, managed tags and tag propagation of a service.
    pub(super) fn operations(&mut self, e: &Entry) -> Operations {
        let s = e.raw;
        if e.kind == ServiceKind::Task {
            for (field, set) in [
                ("propagate_tags", s.propagate_tags.is_some()),
                ("enable_execute_command", s.enable_execute_command.is_some()),
                ("health_check_grace_period", s.health_check_grace_period.is_some()),
                ("enable_ecs_managed_tags", s.enable_ecs_managed_tags.is_some()),
            ] {
                if set {
                    self.err_key(
                        &e.at(field),
                        format!("`{field}` needs a service; a `type: task` entry only keeps a task definition"),
                    );
                }
            }
            return Operations::default();
        }
        let health_check_grace_period = s.health_check_grace_period.and_then(|secs| {
            let path = e.at("health_check_grace_period");
            let behind_lb = s.elb.is_some() || s.routing.is_some();
            let health_check = s.healthcheck.is_some() || e.defaults.healthcheck.is_some();
            if !behind_lb && !health_check {
                self.err(
                    &path,
                    "a health check grace period needs a load balancer (`elb` or `routing`) or a container `healthcheck`",
                );
                return None;
            }
            self.in_range(secs, 0, i64::from(i32::MAX), &path, "the health check grace period (seconds)")
                .then_some(secs as i32)
        });
        Operations {
            propagate_tags: match s.propagate_tags {
                Some(RawPropagateTags::TaskDefinition) => Some(PropagateTags::TaskDefinition),
                Some(RawPropagateTags::Service) => Some(PropagateTags::Service),
                Some(RawPropagateTags::None) | None => None,
            },
            enable_execute_command: s.enable_execute_command.unwrap_or(false),
            health_check_grace_period,
            enable_ecs_managed_tags: s.enable_ecs_managed_tags.unwrap_or(false),
        }
    }

    /// The task definition's `tags`, checked as ECS checks tags, with the `aws:` and
    /// `bosun:` prefixes refused.
    pub(super) fn task_tags(&mut self, e: &Entry) -> BTreeMap<String, String> {
        let Some(tags) = &e.raw.tags else {
            return BTreeMap::new();
        };
        let path = e.at("tags");
        let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c);
        let mut out = BTreeMap::new();
        for (key, value) in tags {
            let kpath = join(&path, key);
            let lower = key.to_ascii_lowercase();
            if key.is_empty() || key.chars().count() > MAX_TAG_KEY {
                self.err_key(&kpath, format!("a tag key has 1 to {MAX_TAG_KEY} characters"));
            } else if lower.starts_with("aws:") {
                self.err_key(&kpath, format!("tag `{key}`: the `aws:` prefix is reserved for AWS"));
            } else if lower.starts_with("bosun:") {
                self.err_key(
                    &kpath,
                    format!("tag `{key}`: the `bosun:` prefix is reserved for bosun's ownership tags"),
                );
            } else if !key.chars().all(allowed) {
                self.err_key(
                    &kpath,
                    format!("tag `{key}`: keys may contain letters, digits, spaces and + - = . _ : / @"),
                );
            }
            if value.0.chars().count() > MAX_TAG_VALUE {
                self.err(&kpath, format!("the value of tag `{key}` is longer than {MAX_TAG_VALUE} characters"));
            } else if !value.0.chars().all(allowed) {
                self.err(
                    &kpath,
                    format!("the value of tag `{key}` may contain letters, digits, spaces and + - = . _ : / @"),
                );
            }
            out.insert(key.clone(), value.0.clone());
        }
        out
    }
}
