//! A [`crate::Reply`] as Slack Block Kit. (Skeleton: the helper that owns this module fills it in.)
