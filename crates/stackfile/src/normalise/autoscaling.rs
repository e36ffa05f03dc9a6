//! `autoscaling:`: Application Auto Scaling of a service's task count. The bounds,
//! target-tracking policies and scheduled actions, with the combinations Application
//! Auto Scaling refuses (min above max, a request-count policy without a load balancer,
//! a schedule it cannot read) and what the count becomes (the scaler's; the stackfile's
//! `desired_count`, else `min`, only seeds a new service).

use std::collections::BTreeSet;

use super::deployment::Count;
use super::load_balancing::LoadBalancing;
use super::{Entry, Normaliser};
use crate::model::*;
use crate::raw::*;

/// Tasks per ECS service (ECS quota), the largest `max` that means anything.
const MAX_TASKS: i64 = 5000;
/// Application Auto Scaling's cooldown when a policy leaves it out (ECS targets).
const DEFAULT_COOLDOWN: i32 = 300;
/// Cooldowns, in seconds: bosun's limit of a day (AWS takes up to a year).
const MAX_COOLDOWN: i64 = 86_400;
/// Requests per target and minute: bosun's limit.
const MAX_REQUEST_TARGET: i64 = 1_000_000;
/// Policy and scheduled action names (Application Auto Scaling: 256).
const MAX_AWS_NAME: usize = 256;

impl Normaliser<'_> {
    /// The service's `autoscaling`, and the count that follows from it: when it is set,
    /// the desired count is the scaler's and `count.initial` seeds a new service.
    pub(super) fn autoscaling(&mut self, e: &Entry, lb: &LoadBalancing, count: &mut Count) -> Option<AutoscalingSpec> {
        let a = e.raw.autoscaling.as_ref()?;
        let path = e.at("autoscaling");
        if e.kind == ServiceKind::Task {
            self.err_key(&path, "`autoscaling` needs a service; a `type: task` entry only keeps a task definition");
            return None;
        }
        let min = self.in_range(a.min, 0, MAX_TASKS, &format!("{path}.min"), "autoscaling.min").then_some(a.min);
        let max = self.in_range(a.max, 0, MAX_TASKS, &format!("{path}.max"), "autoscaling.max").then_some(a.max);
        let (min, max) = match (min, max) {
            (Some(lo), Some(hi)) if lo > hi => {
                self.err(&format!("{path}.min"), format!("autoscaling.min ({lo}) is above autoscaling.max ({hi})"));
                (lo, lo)
            }
            (lo, hi) => (lo.unwrap_or(0), hi.unwrap_or(MAX_TASKS)),
        };
        let (min, max) = (min as i32, max as i32);

        // The count: the scaler's from now on, seeded by `desired_count` or `min`.
        match e.raw.desired_count {
            Some(n) if !(i64::from(min)..=i64::from(max)).contains(&n) => self.err(
                &e.at("desired_count"),
                format!("desired_count {n} is outside autoscaling's bounds {min}-{max}; it seeds a new service"),
            ),
            Some(_) => {}
            None => count.initial = min,
        }
        count.desired = None;

        let target_tracking = self.target_tracking(e, a, &path, lb);
        let scheduled = self.scheduled(e, a, &path);
        Some(AutoscalingSpec { min, max, target_tracking, scheduled })
    }

    fn target_tracking(
        &mut self,
        e: &Entry,
        a: &RawAutoscaling,
        path: &str,
        lb: &LoadBalancing,
    ) -> Vec<TargetTrackingSpec> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, t) in a.target_tracking.iter().flatten().enumerate() {
            let at = self.locs.item(&format!("{path}.target_tracking"), i);
            let metric = match t.metric {
                RawScalingMetric::Cpu => ScalingMetric::Cpu,
                RawScalingMetric::Memory => ScalingMetric::Memory,
                RawScalingMetric::AlbRequests => ScalingMetric::AlbRequests,
            };
            if !seen.insert(metric) {
                self.err(
                    &format!("{at}.metric"),
                    format!("a second `{}` policy; a service tracks each metric once", metric.as_str()),
                );
                continue;
            }
            let (lo, hi) = match metric {
                ScalingMetric::Cpu | ScalingMetric::Memory => (1, 100),
                ScalingMetric::AlbRequests => (1, MAX_REQUEST_TARGET),
            };
            let what = format!("the {} target", metric.as_str());
            let target = self.in_range(t.target, lo, hi, &format!("{at}.target"), &what).then_some(t.target as i32);
            let mut cooldown = |key: &str, v: Option<i64>| match v {
                None => DEFAULT_COOLDOWN,
                Some(s) if self.in_range(s, 0, MAX_COOLDOWN, &format!("{at}.{key}"), key) => s as i32,
                Some(_) => DEFAULT_COOLDOWN,
            };
            let scale_in_cooldown = cooldown("scale_in_cooldown", t.scale_in_cooldown);
            let scale_out_cooldown = cooldown("scale_out_cooldown", t.scale_out_cooldown);
            let alb = match metric {
                ScalingMetric::AlbRequests => {
                    let found = alb_of(lb);
                    if found.is_none() {
                        self.err(
                            &format!("{at}.metric"),
                            "`alb_requests` counts the requests of the service's target group; give the service `elb:` or `routing:`",
                        );
                    }
                    found
                }
                ScalingMetric::Cpu | ScalingMetric::Memory => None,
            };
            let name = format!("{}-{}-{}", self.cluster, e.name, metric.as_str());
            self.aws_name_length(&name, &at, "policy");
            if let Some(target) = target {
                out.push(TargetTrackingSpec { name, metric, target, alb, scale_in_cooldown, scale_out_cooldown });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn scheduled(&mut self, e: &Entry, a: &RawAutoscaling, path: &str) -> Vec<ScheduledActionSpec> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, s) in a.scheduled.iter().flatten().enumerate() {
            let at = self.locs.item(&format!("{path}.scheduled"), i);
            let mut ok = true;
            if s.name.is_empty() || !s.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                self.err(
                    &format!("{at}.name"),
                    "a scheduled action's name may contain only letters, digits, `-` and `_`",
                );
                ok = false;
            } else if !seen.insert(s.name.as_str()) {
                self.err(&format!("{at}.name"), format!("a second scheduled action named `{}`", s.name));
                ok = false;
            }
            if let Err(msg) = check_schedule(&s.schedule) {
                self.err(&format!("{at}.schedule"), msg);
                ok = false;
            }
            let mut bound = |key: &str, v: Option<i64>| {
                v.filter(|n| self.in_range(*n, 0, MAX_TASKS, &format!("{at}.{key}"), key)).map(|n| n as i32)
            };
            let (min, max) = (bound("min", s.min), bound("max", s.max));
            match (s.min, s.max) {
                (None, None) => {
                    self.err_key(&at, "a scheduled action sets `min`, `max` or both");
                    ok = false;
                }
                (Some(lo), Some(hi)) if lo > hi => {
                    self.err(&format!("{at}.min"), format!("min ({lo}) is above max ({hi})"));
                    ok = false;
                }
                _ => {}
            }
            let timezone = s.timezone.clone().unwrap_or_else(|| "UTC".to_owned());
            if !is_timezone(&timezone) {
                self.err(
                    &format!("{at}.timezone"),
                    format!("`{timezone}` is not an IANA time zone name (like `Europe/Berlin`)"),
                );
                ok = false;
            }
            let name = format!("{}-{}-{}", self.cluster, e.name, s.name);
            self.aws_name_length(&name, &at, "scheduled action");
            if ok {
                out.push(ScheduledActionSpec { name, schedule: s.schedule.clone(), min, max, timezone });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Reports an AWS name longer than Application Auto Scaling takes (only when the
    /// cluster name is known).
    fn aws_name_length(&mut self, name: &str, at: &str, what: &str) {
        if self.check_names && name.len() > MAX_AWS_NAME {
            self.err_key(
                at,
                format!("the {what} name `{name}` is {} characters; AWS allows at most {MAX_AWS_NAME}", name.len()),
            );
        }
    }
}

/// The load balancer and target group whose requests an `alb_requests` policy counts:
/// the service's own ALB (`elb:`), else the shared one its first rule is on.
fn alb_of(lb: &LoadBalancing) -> Option<(String, String)> {
    let tg = lb.target_group.as_ref()?;
    let balancer =
        lb.own_lb.as_ref().map(|l| l.name.clone()).or_else(|| lb.rules.first().map(|r| r.load_balancer.clone()))?;
    Some((balancer, tg.name.clone()))
}

/// `at(yyyy-mm-ddThh:mm:ss)`, `rate(N unit)` or `cron(6 fields)`, as Application Auto
/// Scaling reads them.
pub(crate) fn check_schedule(s: &str) -> Result<(), String> {
    let inner = |prefix: &str| s.strip_prefix(prefix).and_then(|r| r.strip_suffix(')'));
    if let Some(t) = inner("at(") {
        let b = t.as_bytes();
        let shape = b.len() == 19
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            });
        return if shape { Ok(()) } else { Err(format!("`{s}`: write a time as at(2026-12-24T18:00:00)")) };
    }
    if let Some(r) = inner("rate(") {
        let (n, unit) = r.split_once(' ').unwrap_or((r, ""));
        let n: u32 =
            n.parse().map_err(|_| format!("`{s}`: a rate is a whole number and a unit, as rate(5 minutes)"))?;
        let units = if n == 1 { ["minute", "hour", "day"] } else { ["minutes", "hours", "days"] };
        return if n > 0 && units.contains(&unit) {
            Ok(())
        } else {
            Err(format!("`{s}`: a rate of {n} takes one of {} (as rate(5 minutes) or rate(1 hour))", units.join(", ")))
        };
    }
    if let Some(c) = inner("cron(") {
        let fields: Vec<&str> = c.split_whitespace().collect();
        let allowed = |f: &str| f.chars().all(|ch| ch.is_ascii_alphanumeric() || ",-*/?LW#".contains(ch));
        if fields.len() != 6 || !fields.iter().all(|f| allowed(f)) {
            return Err(format!(
                "`{s}`: a cron expression has 6 fields: minutes hours day-of-month month day-of-week year, as cron(0 8 ? * MON-FRI *)"
            ));
        }
        if (fields[2] == "?") == (fields[4] == "?") {
            return Err(format!("`{s}`: exactly one of day-of-month and day-of-week must be `?`"));
        }
        return Ok(());
    }
    Err(format!("`{s}` is not a schedule; use at(...), rate(...) or cron(...)"))
}

/// `UTC`, or an IANA name such as `Europe/Berlin` or `America/Argentina/Buenos_Aires`.
fn is_timezone(s: &str) -> bool {
    let part = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c));
    s.split('/').all(part) && s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::check_schedule;

    #[test]
    fn schedules_that_application_auto_scaling_reads() {
        for ok in ["at(2026-12-24T18:00:00)", "rate(1 hour)", "rate(5 minutes)", "cron(0 8 ? * MON-FRI *)"] {
            assert_eq!(check_schedule(ok), Ok(()), "{ok}");
        }
        for bad in ["at(2026-12-24 18:00)", "rate(1 hours)", "rate(5 minute)", "rate(0 minutes)", "cron(0 8 * * *)"] {
            assert!(check_schedule(bad).is_err(), "{bad}");
        }
        assert!(check_schedule("cron(0 8 * * MON *)").unwrap_err().contains("exactly one"));
        assert!(check_schedule("every day").unwrap_err().contains("not a schedule"));
    }
}
