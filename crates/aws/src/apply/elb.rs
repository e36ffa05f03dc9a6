//! ELBv2 steps: target groups, load balancers, listeners and rules.

use aws_sdk_elasticloadbalancingv2::types as elb;
use bosun_plan::Owner;
use bosun_stackfile::{DefaultAction, ListenerSpec, LoadBalancerSpec, RuleSpec, TargetGroupSpec};

use super::context::{Ctx, LoadBalancerRef};
use crate::Clients;
use crate::convert::{elb_tags, protocol_to_aws, with_health_check};
use crate::error::{ApplyFailure, AwsError};

pub(super) async fn create_target_group(
    ctx: &Ctx<'_>,
    service: &str,
    spec: &TargetGroupSpec,
    res: &str,
) -> Result<(), ApplyFailure> {
    let req = ctx
        .c
        .elb
        .create_target_group()
        .name(&spec.name)
        .protocol(protocol_to_aws(spec.protocol))
        .port(i32::from(spec.port))
        .vpc_id(&spec.vpc_id)
        .target_type(elb::TargetTypeEnum::from(spec.target_type.as_aws()))
        .set_tags(Some(elb_tags(&Owner::bosun(ctx.cluster(), Some(service)))));
    let out = with_health_check!(req, &spec.health_check)
        .send()
        .await
        .map_err(|e| AwsError::elb("CreateTargetGroup", res, e))?;
    let arn = out.target_groups().first().and_then(|t| t.target_group_arn()).unwrap_or_default().to_owned();
    ctx.with(|s| s.target_groups.insert(spec.name.clone(), arn));
    Ok(())
}

/// Set the health check (the only mutable part) and, when adopting, the owner.
pub(super) async fn modify_target_group(
    ctx: &Ctx<'_>,
    arn: &str,
    spec: &TargetGroupSpec,
    adopt_service: Option<&str>,
    res: &str,
) -> Result<(), ApplyFailure> {
    let req = ctx.c.elb.modify_target_group().target_group_arn(arn);
    with_health_check!(req, &spec.health_check).send().await.map_err(|e| AwsError::elb("ModifyTargetGroup", res, e))?;
    if let Some(service) = adopt_service {
        add_tags(ctx.c, arn, &Owner::bosun(ctx.cluster(), Some(service)), res).await?;
    }
    Ok(())
}

pub(super) async fn delete_target_group(ctx: &Ctx<'_>, arn: &str, res: &str) -> Result<(), ApplyFailure> {
    ctx.c
        .elb
        .delete_target_group()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::elb("DeleteTargetGroup", res, e))?;
    Ok(())
}

pub(super) async fn create_load_balancer(
    ctx: &Ctx<'_>,
    spec: &LoadBalancerSpec,
    res: &str,
) -> Result<(), ApplyFailure> {
    let out = ctx
        .c
        .elb
        .create_load_balancer()
        .name(&spec.name)
        .r#type(elb::LoadBalancerTypeEnum::Application)
        .scheme(elb::LoadBalancerSchemeEnum::from(spec.scheme.as_aws()))
        .set_subnets(Some(spec.subnets.clone()))
        .set_security_groups(Some(spec.security_groups.clone()))
        .set_tags(Some(elb_tags(&Owner::bosun(ctx.cluster(), spec.service.as_deref()))))
        .send()
        .await
        .map_err(|e| AwsError::elb("CreateLoadBalancer", res, e))?;
    let lb = out.load_balancers().first();
    let created = LoadBalancerRef {
        arn: lb.and_then(|l| l.load_balancer_arn()).unwrap_or_default().to_owned(),
        dns_name: lb.and_then(|l| l.dns_name()).unwrap_or_default().to_owned(),
        zone_id: lb.and_then(|l| l.canonical_hosted_zone_id()).unwrap_or_default().to_owned(),
    };
    ctx.with(|s| s.load_balancers.insert(spec.name.clone(), created));
    Ok(())
}

/// Set the subnets and security groups and, when adopting, the owner.
pub(super) async fn update_load_balancer(
    ctx: &Ctx<'_>,
    arn: &str,
    spec: &LoadBalancerSpec,
    adopt: bool,
    res: &str,
) -> Result<(), ApplyFailure> {
    let c = ctx.c;
    c.elb
        .set_subnets()
        .load_balancer_arn(arn)
        .set_subnets(Some(spec.subnets.clone()))
        .send()
        .await
        .map_err(|e| AwsError::elb("SetSubnets", res, e))?;
    c.elb
        .set_security_groups()
        .load_balancer_arn(arn)
        .set_security_groups(Some(spec.security_groups.clone()))
        .send()
        .await
        .map_err(|e| AwsError::elb("SetSecurityGroups", res, e))?;
    if adopt {
        add_tags(c, arn, &Owner::bosun(ctx.cluster(), spec.service.as_deref()), res).await?;
    }
    Ok(())
}

pub(super) async fn delete_load_balancer(ctx: &Ctx<'_>, arn: &str, res: &str) -> Result<(), ApplyFailure> {
    ctx.c
        .elb
        .delete_load_balancer()
        .load_balancer_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::elb("DeleteLoadBalancer", res, e))?;
    Ok(())
}

pub(super) async fn create_listener(
    ctx: &Ctx<'_>,
    load_balancer: &str,
    spec: &ListenerSpec,
    res: &str,
) -> Result<(), ApplyFailure> {
    let lb = ctx.lookup(&format!("load balancer {load_balancer}"), |s| s.load_balancers.get(load_balancer).cloned())?;
    let action = listener_action(ctx, &spec.default_action)?;
    let service = ctx.desired.load_balancers.get(load_balancer).and_then(|l| l.service.as_deref());
    let out = ctx
        .c
        .elb
        .create_listener()
        .load_balancer_arn(lb.arn)
        .protocol(protocol_to_aws(spec.protocol))
        .port(i32::from(spec.port))
        .set_certificates(Some(certificates(spec)))
        .default_actions(action)
        .set_tags(Some(elb_tags(&Owner::bosun(ctx.cluster(), service))))
        .send()
        .await
        .map_err(|e| AwsError::elb("CreateListener", res, e))?;
    let arn = out.listeners().first().and_then(|l| l.listener_arn()).unwrap_or_default().to_owned();
    ctx.with(|s| s.listeners.insert((load_balancer.to_owned(), spec.port), arn));
    Ok(())
}

pub(super) async fn modify_listener(
    ctx: &Ctx<'_>,
    arn: &str,
    spec: &ListenerSpec,
    res: &str,
) -> Result<(), ApplyFailure> {
    let action = listener_action(ctx, &spec.default_action)?;
    ctx.c
        .elb
        .modify_listener()
        .listener_arn(arn)
        .protocol(protocol_to_aws(spec.protocol))
        .port(i32::from(spec.port))
        .set_certificates(Some(certificates(spec)))
        .default_actions(action)
        .send()
        .await
        .map_err(|e| AwsError::elb("ModifyListener", res, e))?;
    Ok(())
}

pub(super) async fn delete_listener(ctx: &Ctx<'_>, arn: &str, res: &str) -> Result<(), ApplyFailure> {
    ctx.c.elb.delete_listener().listener_arn(arn).send().await.map_err(|e| AwsError::elb("DeleteListener", res, e))?;
    Ok(())
}

pub(super) async fn create_rule(ctx: &Ctx<'_>, service: &str, spec: &RuleSpec, res: &str) -> Result<(), ApplyFailure> {
    let listener = ctx.lookup(&format!("listener {}:{}", spec.load_balancer, spec.listener_port), |s| {
        s.listeners.get(&(spec.load_balancer.clone(), spec.listener_port)).cloned()
    })?;
    let tg = target_group(ctx, &spec.target_group)?;
    ctx.c
        .elb
        .create_rule()
        .listener_arn(listener)
        .priority(i32::try_from(spec.priority).unwrap_or(i32::MAX))
        .set_conditions(Some(rule_conditions(spec)))
        .actions(forward(&tg))
        .set_tags(Some(elb_tags(&Owner::bosun(ctx.cluster(), Some(service)))))
        .send()
        .await
        .map_err(|e| AwsError::elb("CreateRule", res, e))?;
    Ok(())
}

/// Set the conditions and the target and, when adopting, the owner.
pub(super) async fn modify_rule(
    ctx: &Ctx<'_>,
    arn: &str,
    service: &str,
    spec: &RuleSpec,
    adopt: bool,
    res: &str,
) -> Result<(), ApplyFailure> {
    let tg = target_group(ctx, &spec.target_group)?;
    ctx.c
        .elb
        .modify_rule()
        .rule_arn(arn)
        .set_conditions(Some(rule_conditions(spec)))
        .actions(forward(&tg))
        .send()
        .await
        .map_err(|e| AwsError::elb("ModifyRule", res, e))?;
    if adopt {
        add_tags(ctx.c, arn, &Owner::bosun(ctx.cluster(), Some(service)), res).await?;
    }
    Ok(())
}

pub(super) async fn delete_rule(ctx: &Ctx<'_>, arn: &str, res: &str) -> Result<(), ApplyFailure> {
    ctx.c.elb.delete_rule().rule_arn(arn).send().await.map_err(|e| AwsError::elb("DeleteRule", res, e))?;
    Ok(())
}

/// Tag an ELBv2 resource (ownership when adopting; the record-zone tag).
pub(super) async fn add_tags(c: &Clients, arn: &str, owner: &Owner, res: &str) -> Result<(), AwsError> {
    add_tag_list(c, arn, elb_tags(owner), res).await
}

pub(super) async fn add_tag_list(c: &Clients, arn: &str, tags: Vec<elb::Tag>, res: &str) -> Result<(), AwsError> {
    c.elb
        .add_tags()
        .resource_arns(arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| AwsError::elb("AddTags", res, e))?;
    Ok(())
}

fn target_group(ctx: &Ctx<'_>, name: &str) -> Result<String, ApplyFailure> {
    ctx.lookup(&format!("target group {name}"), |s| s.target_groups.get(name).cloned())
}

fn certificates(spec: &ListenerSpec) -> Vec<elb::Certificate> {
    spec.certificates.iter().map(|a| elb::Certificate::builder().certificate_arn(a).build()).collect()
}

fn forward(tg_arn: &str) -> elb::Action {
    elb::Action::builder().r#type(elb::ActionTypeEnum::Forward).target_group_arn(tg_arn).build()
}

fn listener_action(ctx: &Ctx<'_>, action: &DefaultAction) -> Result<elb::Action, ApplyFailure> {
    Ok(match action {
        DefaultAction::Forward { target_group: name } => forward(&target_group(ctx, name)?),
        DefaultAction::FixedResponse { status_code } => elb::Action::builder()
            .r#type(elb::ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                elb::FixedResponseActionConfig::builder()
                    .status_code(status_code.to_string())
                    .content_type("text/plain")
                    .build(),
            )
            .build(),
    })
}

fn rule_conditions(spec: &RuleSpec) -> Vec<elb::RuleCondition> {
    let mut out = Vec::new();
    if !spec.hosts.is_empty() {
        out.push(
            elb::RuleCondition::builder()
                .field("host-header")
                .host_header_config(
                    elb::HostHeaderConditionConfig::builder().set_values(Some(spec.hosts.clone())).build(),
                )
                .build(),
        );
    }
    if !spec.paths.is_empty() {
        out.push(
            elb::RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    elb::PathPatternConditionConfig::builder().set_values(Some(spec.paths.clone())).build(),
                )
                .build(),
        );
    }
    out
}
