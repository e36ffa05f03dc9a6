//! CloudWatch Logs steps: create a log group with bosun's tags and keep its retention.
//!
//! CreateLogGroup takes no client token; a retried create that finds the group already
//! made (ResourceAlreadyExists) reads its tags: bosun's own from an earlier attempt is
//! what was wanted, anyone else's is a conflict.

use bosun_plan::Owner;
use bosun_stackfile::LogGroupSpec;

use super::context::Ctx;
use crate::error::{ApplyFailure, AwsError, ErrorKind};

/// CreateLogGroup (tagged), then its retention if it has one.
pub(super) async fn create_group(ctx: &Ctx<'_>, spec: &LogGroupSpec, res: &str) -> Result<(), ApplyFailure> {
    let owner = Owner::bosun(ctx.cluster(), None);
    let created = ctx
        .c
        .logs
        .create_log_group()
        .log_group_name(&spec.name)
        .set_tags(Some(owner.to_tags().into_iter().collect()))
        .send()
        .await
        .map_err(|e| AwsError::logs("CreateLogGroup", res, e));
    match created {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::Conflict => {
            let ours =
                crate::log_groups::owner_of(ctx.c, &spec.name).await?.is_some_and(|o| o.is_owned_by(ctx.cluster()));
            if !ours {
                return Err(e.into());
            }
        }
        Err(e) => return Err(e.into()),
    }
    if spec.retention_days.is_some() {
        put_retention(ctx, &spec.name, spec.retention_days, res).await?;
    }
    Ok(())
}

/// PutRetentionPolicy, or DeleteRetentionPolicy for `None` (events kept forever).
pub(super) async fn put_retention(ctx: &Ctx<'_>, name: &str, days: Option<i32>, res: &str) -> Result<(), ApplyFailure> {
    match days {
        Some(days) => {
            ctx.c
                .logs
                .put_retention_policy()
                .log_group_name(name)
                .retention_in_days(days)
                .send()
                .await
                .map_err(|e| AwsError::logs("PutRetentionPolicy", res, e))?;
        }
        None => {
            ctx.c
                .logs
                .delete_retention_policy()
                .log_group_name(name)
                .send()
                .await
                .map_err(|e| AwsError::logs("DeleteRetentionPolicy", res, e))?;
        }
    }
    Ok(())
}
