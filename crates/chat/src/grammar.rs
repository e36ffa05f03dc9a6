//! The command grammar. The same text works after `/bosun` and after `@bosun`.
//! (Skeleton: the helper that owns this module fills it in.)

use std::time::Duration;

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `help`.
    Help,
    /// `clusters`.
    Clusters,
    /// `status CLUSTER [SVC]`.
    Status { cluster: String, service: Option<String> },
    /// `history CLUSTER`.
    History { cluster: String },
    /// `plan CLUSTER`: the current stackfile against live AWS.
    Plan { cluster: String },
    /// `deploy [to] CLUSTER SVC`: the service's 10 newest tags, as buttons.
    Tags { cluster: String, service: String },
    /// `deploy [to] CLUSTER SVC:TAG[,SVC:TAG...]` or `deploy [to] CLUSTER all:TAG`.
    Deploy { cluster: String, target: DeployTarget },
    /// `scale CLUSTER SVC N`.
    Scale { cluster: String, service: String, count: u32 },
    /// `rollback CLUSTER [to] VERSION`.
    Rollback { cluster: String, version: String },
    /// `lock CLUSTER [for DURATION] [REASON]`.
    Lock { cluster: String, ttl: Option<Duration>, reason: Option<String> },
    /// `unlock CLUSTER`.
    Unlock { cluster: String },
}

/// What a deploy sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployTarget {
    /// `all:TAG`: every service's image gets this tag.
    All { tag: String },
    /// `SVC:TAG,...`: these services get these tags, in the order given.
    Services(Vec<(String, String)>),
}

/// Why a message is not a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// 1-based column (in characters) of the word that is wrong.
    pub column: usize,
    /// A "did you mean", or the usage of the command.
    pub hint: Option<String>,
}

/// Every command with a line on what it does.
pub fn help_text() -> String {
    todo!("help")
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let _ = f;
        todo!("display")
    }
}

/// Parse a message's text.
pub fn parse(text: &str) -> Result<Command, ParseError> {
    let _ = text;
    todo!("grammar")
}
