//! Waiting: service rollouts end in one of four outcomes, and one-off hook tasks end
//! with an exit code. Both are polled on a [`PollSchedule`]: fast at first, backing off
//! to the poll interval, with jitter.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_ecs::types as ecs;
use tokio::time::Instant;

use crate::Clients;
use crate::backoff;
use crate::error::AwsError;
use crate::progress::{Progress, ProgressEvent, RolloutOutcome};

/// A deployment to follow.
#[derive(Debug, Clone)]
pub struct Watch {
    /// Service name.
    pub service: String,
    /// The deployment bosun started.
    pub deployment_id: String,
    /// Its task definition ARN.
    pub task_definition: String,
    /// How long to wait.
    pub timeout: Duration,
}

/// Follow deployments until each has an outcome, polling on a [`PollSchedule`] that
/// backs off to `poll`. Service events newer than `started_before` ago are reported as
/// progress.
pub async fn wait_rollouts(
    c: &Clients,
    cluster: &str,
    watches: Vec<Watch>,
    poll: Duration,
    started_before: Duration,
    progress: &dyn Progress,
) -> Result<BTreeMap<String, RolloutOutcome>, AwsError> {
    let start = Instant::now();
    let since_epoch_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        - i64::try_from(started_before.as_secs()).unwrap_or(0);
    let mut pending: BTreeMap<String, Watch> = watches.into_iter().map(|w| (w.service.clone(), w)).collect();
    let mut outcomes = BTreeMap::new();
    let mut seen_events: BTreeSet<String> = BTreeSet::new();
    let mut polls = PollSchedule::new(poll);
    while !pending.is_empty() {
        polls.tick().await;
        let names: Vec<String> = pending.keys().cloned().collect();
        for batch in names.chunks(10) {
            let out = c
                .ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|e| AwsError::ecs("DescribeServices", format!("cluster {cluster}"), e))?;
            for svc in out.services() {
                let name = svc.service_name().unwrap_or_default().to_owned();
                let Some(watch) = pending.get(&name) else { continue };
                // Events arrive newest first; report the ones not seen yet, oldest first.
                for ev in svc.events().iter().rev() {
                    let id = ev.id().unwrap_or_default().to_owned();
                    if seen_events.insert(id) && !is_history(ev, since_epoch_secs) {
                        progress.event(ProgressEvent::ServiceEvent {
                            service: &name,
                            message: ev.message().unwrap_or_default(),
                        });
                    }
                }
                let outcome = classify(svc, watch);
                if let Some(outcome) = outcome {
                    progress.event(ProgressEvent::RolloutDone { service: &name, outcome: &outcome });
                    outcomes.insert(name.clone(), outcome);
                    pending.remove(&name);
                } else {
                    let d = svc.deployments().iter().find(|d| d.id() == Some(watch.deployment_id.as_str()));
                    progress.event(ProgressEvent::Rollout {
                        service: &name,
                        running: d.map_or(svc.running_count(), |d| d.running_count()),
                        desired: d.map_or(svc.desired_count(), |d| d.desired_count()),
                        state: d.and_then(|d| d.rollout_state()).map_or("IN_PROGRESS", |s| s.as_str()),
                    });
                    if start.elapsed() >= watch.timeout {
                        let outcome = RolloutOutcome::TimedOut { after: watch.timeout };
                        progress.event(ProgressEvent::RolloutDone { service: &name, outcome: &outcome });
                        outcomes.insert(name.clone(), outcome);
                        pending.remove(&name);
                    }
                }
            }
        }
    }
    Ok(outcomes)
}

/// Events from before the apply started are history, not progress.
fn is_history(ev: &ecs::ServiceEvent, since_epoch_secs: i64) -> bool {
    ev.created_at().is_some_and(|t| t.secs() < since_epoch_secs - 1)
}

/// The outcome of a deployment, or `None` while it is still going.
fn classify(svc: &ecs::Service, watch: &Watch) -> Option<RolloutOutcome> {
    let primary = svc.deployments().iter().find(|d| d.status() == Some("PRIMARY"));
    let ours = svc.deployments().iter().find(|d| d.id() == Some(watch.deployment_id.as_str()));
    match ours {
        Some(d) => match d.rollout_state() {
            Some(ecs::DeploymentRolloutState::Completed) if d.status() == Some("PRIMARY") => {
                Some(RolloutOutcome::Succeeded)
            }
            Some(ecs::DeploymentRolloutState::Failed) => {
                let reason = d.rollout_state_reason().unwrap_or("deployment failed").to_owned();
                let rolled_back = primary.is_some_and(|p| p.id() != d.id());
                Some(if rolled_back {
                    RolloutOutcome::RolledBack { reason }
                } else {
                    RolloutOutcome::Failed { reason }
                })
            }
            _ => None,
        },
        None => {
            // Our deployment is gone. If the service runs another task definition now,
            // ECS replaced ours (a rollback); if it runs ours, it finished.
            let current = primary.and_then(|p| p.task_definition()).or(svc.task_definition());
            if current == Some(watch.task_definition.as_str()) {
                Some(RolloutOutcome::Succeeded)
            } else {
                let reason = svc
                    .events()
                    .iter()
                    .find_map(|e| e.message().filter(|m| m.contains("fail") || m.contains("roll")))
                    .unwrap_or("the deployment was replaced")
                    .to_owned();
                Some(RolloutOutcome::RolledBack { reason })
            }
        }
    }
}

/// How a one-off task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskEnd {
    /// The container exited with this code.
    Exited(i32),
    /// The task stopped without an exit code (for example, it never started).
    Stopped(String),
    /// It did not stop in time.
    TimedOut,
}

/// Wait until a task stops, polling on a [`PollSchedule`] that backs off to `poll`.
pub async fn wait_task(
    c: &Clients,
    cluster: &str,
    task_arn: &str,
    timeout: Duration,
    poll: Duration,
) -> Result<TaskEnd, AwsError> {
    let start = Instant::now();
    let mut polls = PollSchedule::new(poll);
    loop {
        polls.tick().await;
        let out = c
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .tasks(task_arn)
            .send()
            .await
            .map_err(|e| AwsError::ecs("DescribeTasks", format!("task {task_arn}"), e))?;
        if let Some(t) = out.tasks().first()
            && t.last_status() == Some("STOPPED")
        {
            let code = t.containers().iter().find_map(|c| c.exit_code());
            return Ok(match code {
                Some(code) => TaskEnd::Exited(code),
                None => TaskEnd::Stopped(t.stopped_reason().unwrap_or("stopped without an exit code").to_owned()),
            });
        }
        if start.elapsed() >= timeout {
            return Ok(TaskEnd::TimedOut);
        }
    }
}

/// The shortest first wait of a [`PollSchedule`].
const MIN_FIRST_WAIT: Duration = Duration::from_millis(50);

/// When to poll something that finishes by itself (a rollout, a hook task): at once,
/// then a twentieth of `interval` later (250 ms for the default 5 s, at least 50 ms),
/// doubling up to `interval` ("the ramp"), then every `interval`. So a rollout that
/// finishes in a second is seen within a fraction of a second (the emulator settles a
/// deployment in two polls), while a long one is polled as rarely as a fixed
/// `interval` poll would poll it.
///
/// The ramp makes a few more polls than a fixed poll early on: at most 5 more, all in
/// the first interval and a half. They are paid back: while the polls made exceed a
/// fixed poll's count at that time, the steady wait is a quarter longer than the
/// interval. From 22 intervals on (110 s at 5 s) a schedule has never made more polls
/// than a fixed `interval` poll; over a 5-minute rollout at 5 s that is at most 60.
///
/// Jitter keeps the polls of many rollouts from lining up: the ramp's waits lie in the
/// upper half of their base (as [`backoff::jittered`]), the steady waits up to a tenth
/// over theirs. A steady wait is never shortened, which is what keeps the count.
#[derive(Debug, Clone)]
pub struct PollSchedule {
    /// The longest regular wait, and the pace of the fixed poll whose count is kept.
    interval: Duration,
    /// The next ramp wait (before jitter); the ramp is over once it reaches `interval`.
    ramp: Duration,
    /// When the first poll was made.
    start: Option<Instant>,
    /// Polls made.
    polls: u32,
}

impl PollSchedule {
    /// A schedule backing off to `interval`.
    pub fn new(interval: Duration) -> Self {
        let first = (interval / 20).max(MIN_FIRST_WAIT).min(interval);
        Self { interval, ramp: first, start: None, polls: 0 }
    }

    /// Wait until the next poll is due: at once for the first, then
    /// [`next_wait`](Self::next_wait) with fresh jitter.
    pub async fn tick(&mut self) {
        let Some(start) = self.start else {
            self.start = Some(Instant::now());
            self.polls = 1;
            return;
        };
        let wait = self.next_wait(start.elapsed(), rand::random());
        tokio::time::sleep(wait).await;
        self.polls = self.polls.saturating_add(1);
    }

    /// The wait after the polls made so far, `elapsed` after the first, with `jitter`
    /// in `[0, 1)`.
    pub fn next_wait(&mut self, elapsed: Duration, jitter: f64) -> Duration {
        if self.ramp < self.interval {
            let base = self.ramp;
            self.ramp = (self.ramp * 2).min(self.interval);
            return backoff::jittered(base, jitter);
        }
        let jitter = if jitter.is_nan() { 0.0 } else { jitter.clamp(0.0, 1.0) };
        let base = if self.ahead(elapsed) { self.interval * 5 / 4 } else { self.interval };
        base + base.mul_f64(jitter / 10.0)
    }

    /// Whether more polls were made than a fixed `interval` poll makes by `elapsed`
    /// (one at once, then one per interval).
    fn ahead(&self, elapsed: Duration) -> bool {
        let fixed = elapsed.as_nanos().checked_div(self.interval.as_nanos()).map_or(u128::MAX, |n| n + 1);
        u128::from(self.polls) > fixed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_MINUTES: Duration = Duration::from_secs(300);
    const INTERVAL: Duration = Duration::from_secs(5);

    /// The times of the polls a schedule makes before `horizon`, with `jitter` for
    /// every wait.
    fn poll_times(interval: Duration, horizon: Duration, jitter: impl Fn(u32) -> f64) -> Vec<Duration> {
        let mut schedule = PollSchedule::new(interval);
        schedule.polls = 1;
        let mut times = vec![Duration::ZERO];
        loop {
            let now = *times.last().expect("one poll at least");
            let next = now + schedule.next_wait(now, jitter(schedule.polls));
            if next >= horizon {
                return times;
            }
            schedule.polls += 1;
            times.push(next);
        }
    }

    /// The jitter of each wait, by the number of polls made.
    type Jitter = fn(u32) -> f64;

    /// Polls a fixed poll makes before `horizon`: at once, then every `interval`.
    fn fixed_polls(interval: Duration, horizon: Duration) -> usize {
        usize::try_from(horizon.as_nanos().div_ceil(interval.as_nanos())).expect("small")
    }

    #[test]
    fn the_ramp_polls_fast_then_backs_off_to_the_interval() {
        let ms = |jitter: f64| -> Vec<u128> {
            let mut s = PollSchedule::new(INTERVAL);
            s.polls = 1;
            let mut elapsed = Duration::ZERO;
            (0..8)
                .map(|_| {
                    let wait = s.next_wait(elapsed, jitter);
                    elapsed += wait;
                    s.polls += 1;
                    wait.as_millis()
                })
                .collect()
        };
        // At the top of the jitter: 250 ms doubling to the interval; 6 polls in the
        // first 7.75 s (a fixed poll makes 2), so the steady waits are stretched.
        assert_eq!(ms(0.999_999), [249, 499, 999, 1999, 3999, 6874, 6874, 6874]);
        // At the bottom: half of each ramp wait, and steady waits never below 5 s.
        assert_eq!(ms(0.0), [125, 250, 500, 1000, 2000, 6250, 6250, 6250]);
    }

    #[test]
    fn from_22_intervals_on_a_schedule_never_has_polled_more_than_a_fixed_poll() {
        let jitters: [(&str, Jitter); 4] = [
            ("lowest", |_| 0.0),
            ("highest", |_| 0.999_999),
            ("alternating", |n| if n % 2 == 0 { 0.0 } else { 0.999_999 }),
            ("spread", |n| f64::from(n * 37 % 100) / 100.0),
        ];
        for interval in [INTERVAL, Duration::from_secs(1), Duration::from_secs(60), Duration::from_millis(200)] {
            for (name, jitter) in &jitters {
                let times = poll_times(interval, interval * 720, jitter);
                for horizon in (22 * 10..=720 * 10).map(|tenths| interval * tenths / 10) {
                    let ours = times.iter().filter(|t| **t < horizon).count();
                    let fixed = fixed_polls(interval, horizon);
                    assert!(ours <= fixed, "{interval:?}, jitter {name}: {ours} polls in {horizon:?}, fixed {fixed}");
                }
                // Never more than the ramp's extra polls ahead before that.
                for horizon in (1..=22 * 10).map(|tenths| interval * tenths / 10) {
                    let ours = times.iter().filter(|t| **t < horizon).count();
                    assert!(ours <= fixed_polls(interval, horizon) + 5, "{interval:?}, jitter {name}, {horizon:?}");
                }
            }
        }
    }

    #[test]
    fn a_short_interval_ramps_from_50_ms_and_no_interval_polls_at_once() {
        let mut s = PollSchedule::new(Duration::from_millis(200));
        s.polls = 1;
        let ms = |s: &mut PollSchedule, jitter| s.next_wait(Duration::ZERO, jitter).as_millis();
        assert_eq!([ms(&mut s, 0.999), ms(&mut s, 0.999), ms(&mut s, 0.0), ms(&mut s, 0.5)], [49, 99, 200, 210]);
        let mut tiny = PollSchedule::new(Duration::from_millis(20));
        assert_eq!(tiny.next_wait(Duration::ZERO, 0.0), Duration::from_millis(20), "no ramp under 50 ms");
        let mut zero = PollSchedule::new(Duration::ZERO);
        zero.polls = 1;
        assert_eq!(zero.next_wait(Duration::from_secs(1), 0.5), Duration::ZERO);
    }

    /// The count the issue asks for: DescribeServices calls (one per poll of up to 10
    /// services) during a 5-minute rollout, on tokio's paused clock, against the
    /// fixed 5 s poll this schedule replaced.
    #[tokio::test(start_paused = true)]
    async fn a_five_minute_rollout_makes_no_more_describe_calls_than_a_fixed_five_second_poll() {
        // Today's loop: a poll at once, then one after each 5 s sleep.
        let start = Instant::now();
        let mut fixed = 0;
        while start.elapsed() < FIVE_MINUTES {
            fixed += 1;
            tokio::time::sleep(INTERVAL).await;
        }
        assert_eq!(fixed, 60);

        let mut most = 0;
        for _ in 0..50 {
            let start = Instant::now();
            let mut schedule = PollSchedule::new(INTERVAL);
            let mut polls = 0;
            let mut first_three = Vec::new();
            loop {
                schedule.tick().await;
                if start.elapsed() >= FIVE_MINUTES {
                    break;
                }
                polls += 1;
                if polls <= 3 {
                    first_three.push(start.elapsed());
                }
            }
            assert!(polls <= fixed, "{polls} polls in 5 minutes, fixed {fixed}");
            // Fast at first: the second poll within 250 ms, the third within 750 ms.
            assert!(first_three[1] <= Duration::from_millis(250) && first_three[2] <= Duration::from_millis(750));
            most = most.max(polls);
        }
        eprintln!("DescribeServices calls per 5-minute rollout: fixed 5 s poll {fixed}, adaptive at most {most}");
    }
}
