//! `logging.create_group` and `retention_days`: the CloudWatch Logs groups bosun creates.
//!
//! Both keys are inherited as the driver's `options` are (top-level `logging`, then
//! `defaults.logging`, then the service's; a level with another driver starts afresh),
//! and neither goes into the task definition: a stackfile that does not use them keeps
//! its spec hashes. The group is the `awslogs-group` option of the service's resolved log
//! configuration; services that share a group must agree on its retention.

use std::collections::BTreeMap;

use super::{Entry, Normaliser};
use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::walk::join;

/// The retention periods CloudWatch Logs accepts (`PutRetentionPolicy`), in days.
pub(crate) const RETENTION_DAYS: [i64; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// The effective `create_group` and `retention_days` of one service, with where each
/// was written.
#[derive(Default)]
struct GroupSettings {
    create: Option<(bool, String)>,
    retention: Option<(i64, String)>,
}

impl Normaliser<'_> {
    /// Adds the log group the service's `logging` asks bosun to create to `groups`.
    pub(super) fn log_group(&mut self, e: &Entry, spec: &ServiceSpec, groups: &mut BTreeMap<String, LogGroupSpec>) {
        let settings = self.group_settings(e);
        let create = settings.create.as_ref().is_some_and(|(c, _)| *c);
        let retention = settings.retention.and_then(|(days, path)| {
            if !RETENTION_DAYS.contains(&days) {
                let allowed = RETENTION_DAYS.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ");
                self.err_once(&path, format!("retention_days {days} is not one CloudWatch Logs keeps; use one of {allowed}"));
                return None;
            }
            if !create {
                self.err_once(
                    &path,
                    "`retention_days` needs `create_group: true`: bosun keeps the retention of the groups it creates only",
                );
                return None;
            }
            Some((days as i32, path))
        });
        let Some((true, create_path)) = settings.create else { return };
        let log = spec.task_definition.container.log_configuration.as_ref();
        let group = match log {
            Some(l) if l.driver == "awslogs" => l.options.get("awslogs-group").cloned(),
            _ => {
                self.err_once(&create_path, "`create_group` creates the group of the `awslogs` log driver; this service logs with another driver");
                return;
            }
        };
        let Some(name) = group else {
            self.err_once(&create_path, "`create_group` needs the `awslogs-group` option: the group to create");
            return;
        };
        let days = retention.as_ref().map(|(d, _)| *d);
        match groups.get_mut(&name) {
            None => {
                let services = vec![e.name.to_owned()];
                groups.insert(name.clone(), LogGroupSpec { name, retention_days: days, services });
            }
            Some(g) if g.retention_days == days => {
                g.services.push(e.name.to_owned());
                g.services.sort();
            }
            Some(g) => {
                let show = |d: Option<i32>| d.map_or_else(|| "none (forever)".to_owned(), |d| d.to_string());
                let path = retention.map_or(create_path, |(_, p)| p);
                let message = format!(
                    "log group {name} is created for service {} with retention_days {}, here {}; services that share a group share its retention",
                    g.services[0],
                    show(g.retention_days),
                    show(days)
                );
                self.err(&path, message);
            }
        }
    }

    /// `create_group` and `retention_days` through the three levels of `logging`.
    fn group_settings(&self, e: &Entry) -> GroupSettings {
        let service_path = e.at("logging");
        let levels = [
            (self.raw.logging.as_ref(), "logging"),
            (e.defaults.logging.as_ref(), "defaults.logging"),
            (e.raw.logging.as_ref(), service_path.as_str()),
        ];
        let mut out = GroupSettings::default();
        let mut driver: Option<&str> = None;
        for (level, path) in levels {
            let Some(l) = level else { continue };
            if let Some(d) = l.log_driver.as_deref() {
                if driver.is_some_and(|inherited| inherited != d) {
                    out = GroupSettings::default();
                }
                driver = Some(d);
            }
            if let Some(c) = l.create_group {
                out.create = Some((c, join(path, "create_group")));
            }
            if let Some(r) = l.retention_days {
                out.retention = Some((r, join(path, "retention_days")));
            }
        }
        out
    }

    /// An error of a key every service inherits, reported once.
    fn err_once(&mut self, path: &str, message: impl Into<String>) {
        let message = message.into();
        if !self.diags.iter().any(|d: &Diagnostic| d.path == path && d.message == message) {
            self.err(path, message);
        }
    }
}
