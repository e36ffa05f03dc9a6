//! ELBv2 steps: target groups, load balancers, listeners and rules.
//!
//! ELBv2 creates carry no client token. Target groups, load balancers and listeners
//! are idempotent in AWS (the same settings again return the existing resource), so the
//! SDK's retry of a create whose answer was lost is harmless; a rule is not (its retry
//! finds the priority taken). A create that failed in a way that may have made the
//! resource is looked up (by name, or by port or priority) and taken when bosun made it
//! for this service.

use aws_sdk_elasticloadbalancingv2::types as elb;
use bosun_plan::Owner;
use bosun_stackfile::{DefaultAction, ListenerSpec, LoadBalancerSpec, RuleSpec, TargetGroupSpec};

use super::context::{Ctx, LoadBalancerRef, or_find};
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
    let created = with_health_check!(req, &spec.health_check)
        .send()
        .await
        .map(|out| out.target_groups().first().and_then(|t| t.target_group_arn()).unwrap_or_default().to_owned())
        .map_err(|e| AwsError::elb("CreateTargetGroup", res, e));
    let owner = Owner::bosun(ctx.cluster(), Some(service));
    let arn = or_find(created, || async {
        let found = ctx.c.elb.describe_target_groups().names(&spec.name).send().await;
        let found = match found {
            Ok(out) => out.target_groups().first().and_then(|t| t.target_group_arn()).map(str::to_owned),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_target_group_not_found_exception()) => None,
            Err(e) => return Err(AwsError::elb("DescribeTargetGroups", res, e)),
        };
        owned_arn(ctx.c, found, &owner, res).await
    })
    .await?;
    ctx.with(|s| s.target_groups.insert(spec.name.clone(), arn));
    Ok(())
}

/// `arn` if its tags say `owner` made it.
async fn owned_arn(c: &Clients, arn: Option<String>, owner: &Owner, res: &str) -> Result<Option<String>, AwsError> {
    let Some(arn) = arn else { return Ok(None) };
    let out =
        c.elb.describe_tags().resource_arns(&arn).send().await.map_err(|e| AwsError::elb("DescribeTags", res, e))?;
    let tags = out.tag_descriptions().iter().flat_map(|d| d.tags()).filter_map(|t| Some((t.key()?, t.value()?)));
    Ok((Owner::from_tags(tags) == *owner).then_some(arn))
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
    let owner = Owner::bosun(ctx.cluster(), spec.service.as_deref());
    let created = ctx
        .c
        .elb
        .create_load_balancer()
        .name(&spec.name)
        .r#type(elb::LoadBalancerTypeEnum::Application)
        .scheme(elb::LoadBalancerSchemeEnum::from(spec.scheme.as_aws()))
        .set_subnets(Some(spec.subnets.clone()))
        .set_security_groups(Some(spec.security_groups.clone()))
        .set_tags(Some(elb_tags(&owner)))
        .send()
        .await
        .map(|out| load_balancer_ref(out.load_balancers().first()))
        .map_err(|e| AwsError::elb("CreateLoadBalancer", res, e));
    let created = or_find(created, || async {
        let found = ctx.c.elb.describe_load_balancers().names(&spec.name).send().await;
        let found = match found {
            Ok(out) => out.load_balancers().first().map(|l| load_balancer_ref(Some(l))),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_load_balancer_not_found_exception()) => None,
            Err(e) => return Err(AwsError::elb("DescribeLoadBalancers", res, e)),
        };
        let Some(found) = found else { return Ok(None) };
        Ok(owned_arn(ctx.c, Some(found.arn.clone()), &owner, res).await?.map(|_| found))
    })
    .await?;
    ctx.with(|s| s.load_balancers.insert(spec.name.clone(), created));
    Ok(())
}

fn load_balancer_ref(lb: Option<&elb::LoadBalancer>) -> LoadBalancerRef {
    LoadBalancerRef {
        arn: lb.and_then(|l| l.load_balancer_arn()).unwrap_or_default().to_owned(),
        dns_name: lb.and_then(|l| l.dns_name()).unwrap_or_default().to_owned(),
        zone_id: lb.and_then(|l| l.canonical_hosted_zone_id()).unwrap_or_default().to_owned(),
    }
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
    let owner = Owner::bosun(ctx.cluster(), service);
    let created = ctx
        .c
        .elb
        .create_listener()
        .load_balancer_arn(&lb.arn)
        .protocol(protocol_to_aws(spec.protocol))
        .port(i32::from(spec.port))
        .set_certificates(Some(certificates(spec)))
        .default_actions(action)
        .set_tags(Some(elb_tags(&owner)))
        .send()
        .await
        .map(|out| out.listeners().first().and_then(|l| l.listener_arn()).unwrap_or_default().to_owned())
        .map_err(|e| AwsError::elb("CreateListener", res, e));
    let arn = or_find(created, || async {
        let out = ctx
            .c
            .elb
            .describe_listeners()
            .load_balancer_arn(&lb.arn)
            .page_size(400)
            .send()
            .await
            .map_err(|e| AwsError::elb("DescribeListeners", res, e))?;
        let found = out.listeners().iter().find(|l| l.port() == Some(i32::from(spec.port)));
        owned_arn(ctx.c, found.and_then(|l| l.listener_arn()).map(str::to_owned), &owner, res).await
    })
    .await?;
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
    let owner = Owner::bosun(ctx.cluster(), Some(service));
    let created = ctx
        .c
        .elb
        .create_rule()
        .listener_arn(&listener)
        .priority(i32::try_from(spec.priority).unwrap_or(i32::MAX))
        .set_conditions(Some(rule_conditions(spec)))
        .actions(forward(&tg))
        .set_tags(Some(elb_tags(&owner)))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::elb("CreateRule", res, e));
    // A rule has no name: bosun's is the one at its priority that bosun made for this
    // service, forwarding to its target group.
    or_find(created, || async {
        let mut marker = None;
        loop {
            let out = ctx
                .c
                .elb
                .describe_rules()
                .listener_arn(&listener)
                .page_size(400)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| AwsError::elb("DescribeRules", res, e))?;
            let priority = spec.priority.to_string();
            if let Some(rule) = out.rules().iter().find(|r| r.priority() == Some(priority.as_str())) {
                let forwards = rule.actions().iter().any(|a| a.target_group_arn() == Some(tg.as_str()));
                let arn = rule.rule_arn().filter(|_| forwards).map(str::to_owned);
                return Ok(owned_arn(ctx.c, arn, &owner, res).await?.map(|_| ()));
            }
            marker = out.next_marker().map(str::to_owned);
            if marker.is_none() {
                return Ok(None);
            }
        }
    })
    .await
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
