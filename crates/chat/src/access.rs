//! The chat access file. (Skeleton: the helper that owns this module fills it in.)

/// What a chat user may do on a cluster: the API's roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// status, plan, history.
    Viewer,
    /// deploy, scale, rollback, approve.
    Deployer,
    /// lock, unlock.
    Admin,
}

/// The parsed access file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {}

impl Access {
    /// Parse an access file.
    pub fn parse(text: &str) -> Result<Access, Vec<String>> {
        let _ = text;
        Ok(Access {})
    }

    /// The highest role `user` has on `cluster`; `None`: no grant.
    pub fn role(&self, user: &str, cluster: &str) -> Option<Role> {
        let _ = (user, cluster);
        None
    }

    /// Whether `user` has any grant at all.
    pub fn knows(&self, user: &str) -> bool {
        let _ = user;
        false
    }

    /// Whether commands are taken in `channel`.
    pub fn channel_allowed(&self, channel: &str) -> bool {
        let _ = channel;
        true
    }
}
