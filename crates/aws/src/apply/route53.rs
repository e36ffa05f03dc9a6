//! Route53 steps: the alias records that point at load balancers, each with the TXT
//! record that says bosun owns it.

use aws_sdk_elasticloadbalancingv2::types as elb;
use aws_sdk_route53::types as r53;
use bosun_plan::observed::record_owner_txt;
use bosun_stackfile::DnsRecordSpec;

use super::context::Ctx;
use super::elb::add_tag_list;
use crate::Clients;
use crate::convert::built;
use crate::error::{ApplyFailure, AwsError};
use crate::observe::RECORD_ZONE_TAG_PREFIX;

/// Write the alias and its ownership TXT record in one change batch.
pub(super) async fn upsert_record(
    ctx: &Ctx<'_>,
    service: &str,
    spec: &DnsRecordSpec,
    res: &str,
) -> Result<(), ApplyFailure> {
    let lb = ctx.lookup(&format!("load balancer {}", spec.load_balancer), |s| {
        s.load_balancers.get(&spec.load_balancer).cloned()
    })?;
    // Remember the zone on the load balancer first, so the record is found (and
    // pruned) even after the stackfile stops naming its zone.
    let zone_tag = elb::Tag::builder().key(format!("{RECORD_ZONE_TAG_PREFIX}{}", spec.zone_id)).value("true").build();
    add_tag_list(ctx.c, &lb.arn, vec![zone_tag], res).await?;
    let alias = built(
        r53::AliasTarget::builder()
            .hosted_zone_id(lb.zone_id)
            .dns_name(lb.dns_name)
            .evaluate_target_health(false)
            .build(),
    )?;
    let a =
        built(r53::ResourceRecordSet::builder().name(&spec.name).r#type(r53::RrType::A).alias_target(alias).build())?;
    let txt = built(
        r53::ResourceRecordSet::builder()
            .name(&spec.name)
            .r#type(r53::RrType::Txt)
            .ttl(300)
            .resource_records(built(
                r53::ResourceRecord::builder().value(record_owner_txt(ctx.cluster(), service)).build(),
            )?)
            .build(),
    )?;
    let upsert = |set| built(r53::Change::builder().action(r53::ChangeAction::Upsert).resource_record_set(set).build());
    let batch = built(r53::ChangeBatch::builder().changes(upsert(a)?).changes(upsert(txt)?).build())?;
    ctx.c
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(&spec.zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| AwsError::route53("ChangeResourceRecordSets", res, e))?;
    Ok(())
}

/// Delete the alias and its ownership TXT record together. Route53 deletes need the
/// exact current record sets: read them first.
pub(super) async fn delete_record(c: &Clients, zone_id: &str, name: &str, res: &str) -> Result<(), AwsError> {
    let out = c
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(name)
        .max_items(10)
        .send()
        .await
        .map_err(|e| AwsError::route53("ListResourceRecordSets", res, e))?;
    let changes: Vec<r53::Change> = out
        .resource_record_sets()
        .iter()
        .filter(|s| s.name().eq_ignore_ascii_case(name) && matches!(s.r#type(), r53::RrType::A | r53::RrType::Txt))
        .filter_map(|s| {
            r53::Change::builder().action(r53::ChangeAction::Delete).resource_record_set(s.clone()).build().ok()
        })
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    let batch = r53::ChangeBatch::builder()
        .set_changes(Some(changes))
        .build()
        .map_err(|e| AwsError::build("ChangeResourceRecordSets", res, e))?;
    c.route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| AwsError::route53("ChangeResourceRecordSets", res, e))?;
    Ok(())
}
