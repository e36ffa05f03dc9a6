//! CloudWatch Logs: read the log groups a stackfile asks bosun to create
//! (`logging.create_group`) into [`ObservedLogGroup`]s.
//!
//! Only those groups are read, by name (DescribeLogGroups with the name as prefix, then
//! the tags of each group found), concurrently: a stack that does not use `create_group`
//! makes no CloudWatch Logs call at all.

use std::collections::BTreeMap;

use bosun_plan::Owner;
use bosun_plan::observed::ObservedLogGroup;
use bosun_stackfile::Desired;
use futures::{StreamExt, TryStreamExt, stream};

use crate::Clients;
use crate::error::AwsError;

/// Groups read at once.
const READ_CONCURRENCY: usize = 16;
/// DescribeLogGroups' largest page.
const PAGE: i32 = 50;

/// The desired log groups that exist, by name.
pub(crate) async fn observe_log_groups(
    c: &Clients,
    desired: &Desired,
) -> Result<BTreeMap<String, ObservedLogGroup>, AwsError> {
    // Owned names: a closure over a reference makes the future's `Send` bound
    // higher-ranked (rust-lang/rust#110338).
    let names: Vec<String> = desired.log_groups.keys().cloned().collect();
    let found: Vec<Option<(String, ObservedLogGroup)>> = stream::iter(names)
        .map(|name| async move { Ok::<_, AwsError>(read_group(c, &name).await?.map(|g| (name, g))) })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// One group by its exact name, with its tags; `None` when it does not exist.
async fn read_group(c: &Clients, name: &str) -> Result<Option<ObservedLogGroup>, AwsError> {
    let what = format!("log group {name}");
    let mut pages = c.logs.describe_log_groups().log_group_name_prefix(name).limit(PAGE).into_paginator().send();
    let mut found = None;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::logs("DescribeLogGroups", what.clone(), e))?;
        if let Some(g) = page.log_groups().iter().find(|g| g.log_group_name() == Some(name)) {
            found = Some(g.clone());
            break;
        }
    }
    let Some(group) = found else { return Ok(None) };
    // `arn` ends in `:*`; tags are read by the ARN without it.
    let arn = group
        .log_group_arn()
        .map(str::to_owned)
        .or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_owned()))
        .unwrap_or_default();
    let tags = c
        .logs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(|e| AwsError::logs("ListTagsForResource", what.clone(), e))?;
    let owner = Owner::from_tags(tags.tags().into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str())));
    Ok(Some(ObservedLogGroup { arn, retention_days: group.retention_in_days(), owner }))
}

/// The owner of the group `name`, `None` when it does not exist (a create that failed
/// because the group exists settles with it).
pub(crate) async fn owner_of(c: &Clients, name: &str) -> Result<Option<Owner>, AwsError> {
    Ok(read_group(c, name).await?.map(|g| g.owner))
}
