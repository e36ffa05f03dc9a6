//! Application Auto Scaling: read the scalable targets of a cluster's services into
//! [`ObservedScalableTarget`]s (for a reconcile, and for `bosun import`), and the
//! conversions both ways.
//!
//! A cluster whose services have no target costs one DescribeScalableTargets call per 50
//! services (filtered to `service/<cluster>/<service>` resource ids); only the targets
//! found cost more: their tags, policies and scheduled actions (three reads each, all
//! at once).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_applicationautoscaling::types as aas;
use bosun_plan::Owner;
use bosun_plan::observed::ObservedScalableTarget;
use bosun_stackfile::{ScalingMetric, ScheduledActionSpec, TargetTrackingSpec};
use futures::{StreamExt, TryStreamExt, stream};

use crate::Clients;
use crate::error::AwsError;

/// DescribeScalableTargets takes at most 50 resource ids (and returns 50 a page).
const RESOURCE_IDS_BATCH: usize = 50;
/// Reads of found targets in flight at once.
const READ_CONCURRENCY: usize = 16;
/// Application Auto Scaling's cooldown when a policy has none (ECS targets).
const DEFAULT_COOLDOWN: i32 = 300;
/// The time zone of a schedule that names none.
const DEFAULT_TIMEZONE: &str = "UTC";

/// `service/<cluster>/<service>`, the resource id of a service's scalable target.
pub(crate) fn resource_id(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

/// The scalable targets of `services` in `cluster`, keyed by service name.
pub(crate) async fn observe_scaling(
    c: &Clients,
    cluster: &str,
    services: &BTreeSet<String>,
) -> Result<BTreeMap<String, ObservedScalableTarget>, AwsError> {
    let ids: Vec<String> = services.iter().map(|s| resource_id(cluster, s)).collect();
    let mut targets = Vec::new();
    for chunk in ids.chunks(RESOURCE_IDS_BATCH) {
        let mut pages = c
            .autoscaling
            .describe_scalable_targets()
            .service_namespace(aas::ServiceNamespace::Ecs)
            .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
            .set_resource_ids(Some(chunk.to_vec()))
            .max_results(RESOURCE_IDS_BATCH as i32)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::autoscaling("DescribeScalableTargets", format!("cluster {cluster}"), e))?;
            targets.extend(page.scalable_targets().iter().cloned());
        }
    }
    let prefix = format!("service/{cluster}/");
    let found: Vec<(String, aas::ScalableTarget)> =
        targets.into_iter().filter_map(|t| Some((t.resource_id().strip_prefix(&prefix)?.to_owned(), t))).collect();
    // Owned items only: a closure over a reference makes the future's `Send` bound
    // higher-ranked (rust-lang/rust#110338), and the API spawns reconciles.
    let read: Vec<(String, ObservedScalableTarget)> = stream::iter(found)
        .map(|(service, t)| async move { read_target(c, &t).await.map(|target| (service, target)) })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(read.into_iter().collect())
}

/// A target's tags, policies and scheduled actions, read at once.
async fn read_target(c: &Clients, t: &aas::ScalableTarget) -> Result<ObservedScalableTarget, AwsError> {
    let id = t.resource_id();
    let what = format!("scalable target {id}");
    let arn = t.scalable_target_arn().unwrap_or_default().to_owned();
    let tags = async {
        if arn.is_empty() {
            return Ok(Owner::default());
        }
        let out = c
            .autoscaling
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| AwsError::autoscaling("ListTagsForResource", what.clone(), e))?;
        Ok(Owner::from_tags(out.tags().into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()))))
    };
    // Each a paginated list of one item type, read whole.
    let policies = async {
        let items = c
            .autoscaling
            .describe_scaling_policies()
            .service_namespace(aas::ServiceNamespace::Ecs)
            .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
            .resource_id(id)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::autoscaling("DescribeScalingPolicies", what.clone(), e))?;
        Ok::<_, AwsError>(items.iter().map(|p| (p.policy_name().to_owned(), policy_from_aws(p))).collect())
    };
    let scheduled = async {
        let items = c
            .autoscaling
            .describe_scheduled_actions()
            .service_namespace(aas::ServiceNamespace::Ecs)
            .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
            .resource_id(id)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::autoscaling("DescribeScheduledActions", what.clone(), e))?;
        Ok::<_, AwsError>(items.iter().map(|a| (a.scheduled_action_name().to_owned(), scheduled_from_aws(a))).collect())
    };
    let (owner, policies, scheduled) = tokio::try_join!(tags, policies, scheduled)?;
    Ok(ObservedScalableTarget { arn, min: t.min_capacity(), max: t.max_capacity(), owner, policies, scheduled })
}

/// A live policy in the desired shape; `None` when bosun cannot express it.
fn policy_from_aws(p: &aas::ScalingPolicy) -> Option<TargetTrackingSpec> {
    let config = p.target_tracking_scaling_policy_configuration()?;
    let predefined = config.predefined_metric_specification()?;
    let metric = ScalingMetric::from_aws(predefined.predefined_metric_type().as_str())?;
    let alb = match metric {
        ScalingMetric::AlbRequests => Some(alb_from_label(predefined.resource_label()?)?),
        _ => None,
    };
    let target = config.target_value();
    if target.fract() != 0.0
        || config.disable_scale_in() == Some(true)
        || config.customized_metric_specification().is_some()
    {
        return None;
    }
    Some(TargetTrackingSpec {
        name: p.policy_name().to_owned(),
        metric,
        target: target as i32,
        alb,
        scale_in_cooldown: config.scale_in_cooldown().unwrap_or(DEFAULT_COOLDOWN),
        scale_out_cooldown: config.scale_out_cooldown().unwrap_or(DEFAULT_COOLDOWN),
    })
}

/// `(load balancer, target group)` names from a resource label
/// `app/<lb>/<id>/targetgroup/<tg>/<id>`.
fn alb_from_label(label: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = label.split('/').collect();
    match parts.as_slice() {
        ["app", lb, _, "targetgroup", tg, _] => Some(((*lb).to_owned(), (*tg).to_owned())),
        _ => None,
    }
}

/// The resource label of an `alb_requests` policy, from the load balancer's and the
/// target group's ARNs: `app/<lb>/<id>/targetgroup/<tg>/<id>`.
pub(crate) fn resource_label(lb_arn: &str, tg_arn: &str) -> Option<String> {
    let lb = lb_arn.split_once(":loadbalancer/")?.1;
    let tg = tg_arn.rsplit_once(':')?.1;
    tg.starts_with("targetgroup/").then(|| format!("{lb}/{tg}"))
}

fn scheduled_from_aws(a: &aas::ScheduledAction) -> ScheduledActionSpec {
    let action = a.scalable_target_action();
    ScheduledActionSpec {
        name: a.scheduled_action_name().to_owned(),
        schedule: a.schedule().to_owned(),
        min: action.and_then(|x| x.min_capacity()),
        max: action.and_then(|x| x.max_capacity()),
        timezone: a.timezone().unwrap_or(DEFAULT_TIMEZONE).to_owned(),
    }
}

/// The target-tracking configuration PutScalingPolicy sends; `label` for `alb_requests`.
pub(crate) fn policy_to_aws(
    spec: &TargetTrackingSpec,
    label: Option<String>,
) -> Result<aas::TargetTrackingScalingPolicyConfiguration, aws_smithy_types::error::operation::BuildError> {
    let metric = aas::PredefinedMetricSpecification::builder()
        .predefined_metric_type(aas::MetricType::from(spec.metric.as_aws()))
        .set_resource_label(label)
        .build()?;
    aas::TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(f64::from(spec.target))
        .predefined_metric_specification(metric)
        .scale_in_cooldown(spec.scale_in_cooldown)
        .scale_out_cooldown(spec.scale_out_cooldown)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_label_names_the_load_balancer_and_target_group() {
        let lb = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/demo-web-lb/50dc6c495c0c9188";
        let tg = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/demo-web-tg/73e2d6bc24d8a067";
        let label = resource_label(lb, tg).expect("a label");
        assert_eq!(label, "app/demo-web-lb/50dc6c495c0c9188/targetgroup/demo-web-tg/73e2d6bc24d8a067");
        assert_eq!(alb_from_label(&label), Some(("demo-web-lb".to_owned(), "demo-web-tg".to_owned())));
        assert_eq!(alb_from_label("app/x"), None);
    }
}
