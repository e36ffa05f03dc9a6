//! The live state of a cluster's services, as the API's services endpoint shows it:
//! counts, the running task definition and image, and the rollout state of the
//! primary deployment. Only ECS is read (`ListServices`, `DescribeServices` in batches
//! of 10, `DescribeTaskDefinition` through the observer's cache of immutable task
//! definitions), not the load balancers and records a full [`observe`](crate::observe())
//! reads.

use std::collections::BTreeMap;

use aws_sdk_ecs::types as ecs;
use futures::{StreamExt, TryStreamExt, stream};

use crate::clients::Clients;
use crate::error::AwsError;
use crate::observe::describe_task_definitions;

const DESCRIBE_SERVICES_BATCH: usize = 10;
const READ_CONCURRENCY: usize = 8;

/// One live ECS service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveService {
    /// `ACTIVE` or `DRAINING`.
    pub status: String,
    /// `family:revision` of the task definition the service runs.
    pub task_definition: String,
    /// The image of the service's container in that task definition.
    pub image: Option<String>,
    /// Desired task count.
    pub desired_count: i32,
    /// Running tasks.
    pub running_count: i32,
    /// Pending tasks.
    pub pending_count: i32,
    /// Rollout state of the primary deployment: `IN_PROGRESS`, `COMPLETED` or `FAILED`.
    pub rollout_state: Option<String>,
    /// The primary deployment's id, to follow a rollout someone else started (the
    /// scheduler resumes waiting for one an interrupted attempt left running).
    #[serde(skip)]
    pub deployment_id: Option<String>,
    /// The full ARN of the task definition the service runs.
    #[serde(skip)]
    pub task_definition_arn: String,
}

/// The live services of `cluster`, by name; empty when the cluster does not exist.
pub async fn live_services(c: &Clients, cluster: &str) -> Result<BTreeMap<String, LiveService>, AwsError> {
    let res = || format!("cluster {cluster}");
    let mut arns = Vec::new();
    let mut pages = c.ecs.list_services().cluster(cluster).max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => arns.extend(page.service_arns().iter().cloned()),
            Err(e) => {
                let err = AwsError::ecs("ListServices", res(), e);
                return if err.is_not_found() { Ok(BTreeMap::new()) } else { Err(err) };
            }
        }
    }
    let services: Vec<ecs::Service> = stream::iter(arns.chunks(DESCRIBE_SERVICES_BATCH).map(<[String]>::to_vec))
        .map(|batch| async move {
            c.ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(batch))
                .send()
                .await
                .map(|o| o.services().to_vec())
                .map_err(|e| AwsError::ecs("DescribeServices", res(), e))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .flatten()
        .filter(|s| s.status() != Some("INACTIVE"))
        .collect();
    let mut td_arns: Vec<String> = services.iter().filter_map(|s| s.task_definition().map(str::to_owned)).collect();
    td_arns.sort();
    td_arns.dedup();
    let tds = describe_task_definitions(c, td_arns).await?;
    Ok(services
        .iter()
        .map(|s| {
            let name = s.service_name().unwrap_or_default().to_owned();
            let td_arn = s.task_definition().unwrap_or_default();
            let image = tds.get(td_arn).map(|td| td.spec.container.image.clone());
            let primary = s.deployments().iter().find(|d| d.status() == Some("PRIMARY"));
            let live = LiveService {
                status: s.status().unwrap_or_default().to_owned(),
                task_definition: td_arn.rsplit_once('/').map_or(td_arn, |(_, fr)| fr).to_owned(),
                image,
                desired_count: s.desired_count(),
                running_count: s.running_count(),
                pending_count: s.pending_count(),
                rollout_state: primary.and_then(|d| d.rollout_state()).map(|r| r.as_str().to_owned()),
                deployment_id: primary.and_then(|d| d.id()).map(str::to_owned),
                task_definition_arn: td_arn.to_owned(),
            };
            (name, live)
        })
        .collect())
}
