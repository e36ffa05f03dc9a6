//! Cloud Map steps: the private DNS namespace and the services tasks register in.
//!
//! Both creates carry the plan's client token as their `CreatorRequestId`, so the SDK's
//! retry of a create whose answer was lost gets what the first attempt made; a create
//! whose every answer was lost is looked up by name.

use std::time::Duration;

use aws_sdk_servicediscovery::types as sd;
use bosun_plan::Owner;
use bosun_stackfile::{DiscoverySpec, NamespaceSpec};

use super::context::{Ctx, may_have_made, or_find};
use crate::convert::built;
use crate::error::{ApplyFailure, AwsError};
use crate::observe::{find_namespace, namespace_filter};

/// Create the namespace unless it exists. Looks up first: a namespace is created
/// asynchronously, and an earlier run may have started it.
pub(super) async fn create_namespace(ctx: &Ctx<'_>, spec: &NamespaceSpec, res: &str) -> Result<(), ApplyFailure> {
    let id = match find_namespace(ctx.c, &spec.name).await? {
        Some(ns) => ns.id,
        None => create_and_wait(ctx, spec, res).await?,
    };
    ctx.with(|s| s.namespace_id = Some(id));
    Ok(())
}

/// Create the namespace and follow the operation for up to two minutes.
async fn create_and_wait(ctx: &Ctx<'_>, spec: &NamespaceSpec, res: &str) -> Result<String, ApplyFailure> {
    const OPERATION: &str = "CreatePrivateDnsNamespace";
    let c = ctx.c;
    let sent = c
        .discovery
        .create_private_dns_namespace()
        .name(&spec.name)
        .vpc(&spec.vpc_id)
        .creator_request_id(ctx.client_token(res))
        .set_tags(Some(tags(&Owner::bosun(ctx.cluster(), None))?))
        .send()
        .await;
    let out = match sent.map_err(|e| AwsError::cloud_map(OPERATION, res, e)) {
        Ok(out) => out,
        // It may have been created all the same (see `or_find`): look it up by name.
        Err(err) if may_have_made(&err) => match find_namespace(c, &spec.name).await {
            Ok(Some(ns)) => return Ok(ns.id),
            _ => return Err(err.into()),
        },
        Err(err) => return Err(err.into()),
    };
    let op = out.operation_id().unwrap_or_default().to_owned();
    let poll = ctx.opts.poll_interval.min(Duration::from_secs(1));
    for _ in 0..120 {
        let status = c
            .discovery
            .get_operation()
            .operation_id(&op)
            .send()
            .await
            .map_err(|e| AwsError::cloud_map("GetOperation", res, e))?;
        let Some(operation) = status.operation() else { break };
        match operation.status() {
            Some(sd::OperationStatus::Success) => {
                if let Some(id) = operation.targets().and_then(|t| t.get(&sd::OperationTargetType::Namespace)) {
                    return Ok(id.clone());
                }
                break;
            }
            Some(sd::OperationStatus::Fail) => {
                let reason = operation.error_message().unwrap_or("no reason given");
                let message = format!("Cloud Map could not create the namespace: {reason}");
                return Err(AwsError::failed(OPERATION, res, "OperationFailed", message, false).into());
            }
            _ => tokio::time::sleep(poll).await,
        }
    }
    let found = find_namespace(c, &spec.name).await?.map(|n| n.id);
    // Still being created: the next run finds it.
    found.ok_or_else(|| {
        AwsError::failed(OPERATION, res, "Timeout", "namespace creation did not finish in time", true).into()
    })
}

pub(super) async fn create_service(
    ctx: &Ctx<'_>,
    service: &str,
    spec: &DiscoverySpec,
    res: &str,
) -> Result<(), ApplyFailure> {
    let ns = ctx.lookup("the Cloud Map namespace", |s| s.namespace_id.clone())?;
    let owner = Owner::bosun(ctx.cluster(), Some(service));
    let created = ctx
        .c
        .discovery
        .create_service()
        .name(&spec.name)
        .namespace_id(&ns)
        .creator_request_id(ctx.client_token(res))
        .dns_config(built(
            sd::DnsConfig::builder().routing_policy(sd::RoutingPolicy::Multivalue).dns_records(a_record(spec)?).build(),
        )?)
        // Custom health checks let ECS report task health; AWS fixed the threshold at 1.
        .health_check_custom_config(sd::HealthCheckCustomConfig::builder().build())
        .set_tags(Some(tags(&owner)?))
        .send()
        .await
        .map(|out| out.service().and_then(|s| s.arn()).unwrap_or_default().to_owned())
        .map_err(|e| AwsError::cloud_map("CreateService", res, e));
    let arn = or_find(created, || find_service(ctx, &ns, &spec.name, &owner, res)).await?;
    ctx.with(|s| s.discovery.insert(spec.name.clone(), arn));
    Ok(())
}

/// The ARN of the service `name` in the namespace, if `owner` made it.
async fn find_service(
    ctx: &Ctx<'_>,
    namespace_id: &str,
    name: &str,
    owner: &Owner,
    res: &str,
) -> Result<Option<String>, AwsError> {
    let c = ctx.c;
    let filter = namespace_filter(namespace_id).map_err(|e| AwsError::build("ListServices", res, e))?;
    let mut pages = c.discovery.list_services().filters(filter).max_results(100).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::cloud_map("ListServices", res, e))?;
        let Some(arn) = page.services().iter().find(|s| s.name() == Some(name)).and_then(|s| s.arn()) else {
            continue;
        };
        let tags = c
            .discovery
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| AwsError::cloud_map("ListTagsForResource", res, e))?;
        let found = Owner::from_tags(tags.tags().iter().map(|t| (t.key(), t.value())));
        return Ok((found == *owner).then(|| arn.to_owned()));
    }
    Ok(None)
}

/// Set the record TTL and, when adopting, the owner.
pub(super) async fn update_service(
    ctx: &Ctx<'_>,
    id: &str,
    spec: &DiscoverySpec,
    adopt_service: Option<&str>,
    res: &str,
) -> Result<(), ApplyFailure> {
    let c = ctx.c;
    let change = sd::ServiceChange::builder()
        .dns_config(built(sd::DnsConfigChange::builder().dns_records(a_record(spec)?).build())?)
        .build();
    c.discovery
        .update_service()
        .id(id)
        .service(change)
        .send()
        .await
        .map_err(|e| AwsError::cloud_map("UpdateService", res, e))?;
    if let Some(service) = adopt_service {
        let arn = ctx.lookup(res, |s| s.discovery.get(&spec.name).cloned())?;
        c.discovery
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags(&Owner::bosun(ctx.cluster(), Some(service)))?))
            .send()
            .await
            .map_err(|e| AwsError::cloud_map("TagResource", res, e))?;
    }
    Ok(())
}

pub(super) async fn delete_service(ctx: &Ctx<'_>, id: &str, res: &str) -> Result<(), ApplyFailure> {
    ctx.c.discovery.delete_service().id(id).send().await.map_err(|e| AwsError::cloud_map("DeleteService", res, e))?;
    Ok(())
}

/// The A record tasks register, with the spec's TTL.
fn a_record(spec: &DiscoverySpec) -> Result<sd::DnsRecord, ApplyFailure> {
    built(sd::DnsRecord::builder().r#type(sd::RecordType::A).ttl(spec.dns_ttl).build())
}

fn tags(owner: &Owner) -> Result<Vec<sd::Tag>, ApplyFailure> {
    owner.to_tags().into_iter().map(|(k, v)| built(sd::Tag::builder().key(k).value(v).build())).collect()
}
