//! Application Auto Scaling steps: a service's scalable target, its target-tracking
//! policies and scheduled actions.
//!
//! Every call here is a put by name: RegisterScalableTarget of an existing target sets
//! its bounds, PutScalingPolicy and PutScheduledAction replace what has the name. A
//! retried or repeated step therefore never makes anything twice, and needs no client
//! token. A new target carries bosun's tags from its first call (RegisterScalableTarget
//! takes them), so there is no moment at which bosun made it and does not own it.

use aws_sdk_applicationautoscaling::types as aas;
use bosun_plan::Owner;
use bosun_stackfile::{ScheduledActionSpec, TargetTrackingSpec};

use super::context::Ctx;
use crate::convert::built;
use crate::error::{ApplyFailure, AwsError, ErrorKind};
use crate::scaling::{policy_to_aws, resource_id, resource_label};

/// RegisterScalableTarget: create the target (tagged) or set its bounds.
pub(super) async fn register_target(
    ctx: &Ctx<'_>,
    service: &str,
    min: i32,
    max: i32,
    create: bool,
    res: &str,
) -> Result<(), ApplyFailure> {
    // Every call carries bosun's tags, not only a create's: `bosun iam-policy` allows
    // RegisterScalableTarget with bosun's tags only (`aws:RequestTag`), and an update
    // of bosun's own target sends the tags it already has. `create` says which it is
    // in the plan; AWS tags a target when the call makes it.
    let _ = create;
    let tags = Some(Owner::bosun(ctx.cluster(), Some(service)).to_tags().into_iter().collect());
    ctx.c
        .autoscaling
        .register_scalable_target()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .resource_id(resource_id(ctx.cluster(), service))
        .min_capacity(min)
        .max_capacity(max)
        .set_tags(tags)
        .send()
        .await
        .map_err(|e| AwsError::autoscaling("RegisterScalableTarget", res, e))?;
    Ok(())
}

/// DeregisterScalableTarget, which deletes the target's policies and scheduled actions
/// with it. A target already gone is what was wanted.
pub(super) async fn deregister_target(ctx: &Ctx<'_>, service: &str, res: &str) -> Result<(), ApplyFailure> {
    let sent = ctx
        .c
        .autoscaling
        .deregister_scalable_target()
        .service_namespace(aas::ServiceNamespace::Ecs)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .resource_id(resource_id(ctx.cluster(), service))
        .send()
        .await
        .map_err(|e| AwsError::autoscaling("DeregisterScalableTarget", res, e));
    match sent {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// PutScalingPolicy of a target-tracking policy. An `alb_requests` policy's resource
/// label is built from the load balancer's and target group's ARNs, known by now.
pub(super) async fn put_policy(
    ctx: &Ctx<'_>,
    service: &str,
    spec: &TargetTrackingSpec,
    res: &str,
) -> Result<(), ApplyFailure> {
    let label = match &spec.alb {
        None => None,
        Some((lb, tg)) => {
            let lb_arn =
                ctx.lookup(&format!("load balancer {lb}"), |r| r.load_balancers.get(lb).map(|l| l.arn.clone()))?;
            let tg_arn = ctx.lookup(&format!("target group {tg}"), |r| r.target_groups.get(tg).cloned())?;
            let label = resource_label(&lb_arn, &tg_arn).ok_or_else(|| ApplyFailure::MissingPrerequisite {
                what: format!("the resource label of {tg} on {lb}"),
            })?;
            Some(label)
        }
    };
    let config = built(policy_to_aws(spec, label))?;
    ctx.c
        .autoscaling
        .put_scaling_policy()
        .policy_name(&spec.name)
        .service_namespace(aas::ServiceNamespace::Ecs)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .resource_id(resource_id(ctx.cluster(), service))
        .policy_type(aas::PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(config)
        .send()
        .await
        .map_err(|e| AwsError::autoscaling("PutScalingPolicy", res, e))?;
    Ok(())
}

/// DeleteScalingPolicy; a policy already gone is what was wanted.
pub(super) async fn delete_policy(ctx: &Ctx<'_>, service: &str, name: &str, res: &str) -> Result<(), ApplyFailure> {
    let sent = ctx
        .c
        .autoscaling
        .delete_scaling_policy()
        .policy_name(name)
        .service_namespace(aas::ServiceNamespace::Ecs)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .resource_id(resource_id(ctx.cluster(), service))
        .send()
        .await
        .map_err(|e| AwsError::autoscaling("DeleteScalingPolicy", res, e));
    match sent {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// PutScheduledAction: the schedule, its time zone and the bounds it sets.
pub(super) async fn put_scheduled(
    ctx: &Ctx<'_>,
    service: &str,
    spec: &ScheduledActionSpec,
    res: &str,
) -> Result<(), ApplyFailure> {
    let action = aas::ScalableTargetAction::builder().set_min_capacity(spec.min).set_max_capacity(spec.max).build();
    ctx.c
        .autoscaling
        .put_scheduled_action()
        .scheduled_action_name(&spec.name)
        .service_namespace(aas::ServiceNamespace::Ecs)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .resource_id(resource_id(ctx.cluster(), service))
        .schedule(&spec.schedule)
        .timezone(&spec.timezone)
        .scalable_target_action(action)
        .send()
        .await
        .map_err(|e| AwsError::autoscaling("PutScheduledAction", res, e))?;
    Ok(())
}

/// DeleteScheduledAction; an action already gone is what was wanted.
pub(super) async fn delete_scheduled(ctx: &Ctx<'_>, service: &str, name: &str, res: &str) -> Result<(), ApplyFailure> {
    let sent = ctx
        .c
        .autoscaling
        .delete_scheduled_action()
        .scheduled_action_name(name)
        .service_namespace(aas::ServiceNamespace::Ecs)
        .scalable_dimension(aas::ScalableDimension::EcsServiceDesiredCount)
        .resource_id(resource_id(ctx.cluster(), service))
        .send()
        .await
        .map_err(|e| AwsError::autoscaling("DeleteScheduledAction", res, e));
    match sent {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}
