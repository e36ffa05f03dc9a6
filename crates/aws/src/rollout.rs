//! Waiting: service rollouts end in one of four outcomes, and one-off hook tasks end
//! with an exit code.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_ecs::types as ecs;
use tokio::time::Instant;

use crate::Clients;
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

/// Follow deployments until each has an outcome. Service events newer than
/// `started_before` ago are reported as progress.
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
    let mut first = true;
    while !pending.is_empty() {
        if !first {
            tokio::time::sleep(poll).await;
        }
        first = false;
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

/// Wait until a task stops.
pub async fn wait_task(
    c: &Clients,
    cluster: &str,
    task_arn: &str,
    timeout: Duration,
    poll: Duration,
) -> Result<TaskEnd, AwsError> {
    let start = Instant::now();
    loop {
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
        tokio::time::sleep(poll).await;
    }
}
