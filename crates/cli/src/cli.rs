//! Command-line definitions. Every AWS-touching command honours the standard AWS
//! environment: `AWS_REGION`, credentials, `AWS_ENDPOINT_URL`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keep AWS ECS clusters in the state their stackfile describes.
#[derive(Debug, Parser)]
#[command(name = "bosun", version, about, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check stackfiles without touching AWS; prints FILE:LINE:COL: path: message per error.
    Validate {
        /// Stackfiles to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the stackfile, for editor completion.
    Schema,
    /// Show what apply would change.
    Plan(PlanArgs),
    /// Change AWS to match the stackfile and wait for the rollouts.
    Apply(ApplyArgs),
    /// Run a bosun server.
    Serve {
        /// Which server.
        #[command(subcommand)]
        server: Server,
    },
    /// Create what an installation needs, idempotently: the S3 bucket (versioned), the
    /// SQS FIFO job queue and its dead-letter queue.
    Init {
        /// S3 bucket for stackfiles, job records and status.
        #[arg(long, env = "BOSUN_BUCKET")]
        bucket: String,
        /// SQS FIFO queue name (must end in `.fifo`); the dead-letter queue is NAME-dlq.fifo.
        #[arg(long, env = "BOSUN_QUEUE")]
        queue: String,
    },
    /// API tokens.
    Token {
        /// What to do.
        #[command(subcommand)]
        command: TokenCommand,
    },
}

/// Servers.
#[derive(Debug, Subcommand)]
pub enum Server {
    /// The HTTP API: stackfiles in S3, reconcile jobs on SQS.
    Api(ApiArgs),
}

/// `bosun token`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a new random token and the tokens-file line (`ROLE SHA256HEX NAME`) to add.
    New {
        /// viewer (GET), deployer (change clusters), or admin (also create clusters).
        #[arg(long)]
        role: String,
        /// A name for the token, shown in logs and job records (no spaces).
        #[arg(long)]
        name: String,
    },
}

/// `bosun serve api`.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Address to listen on; port 0 picks a free port (logged at start).
    #[arg(long, env = "BOSUN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// S3 bucket (see `bosun init`).
    #[arg(long, env = "BOSUN_BUCKET")]
    pub bucket: String,
    /// SQS FIFO queue, a name or a URL (see `bosun init`).
    #[arg(long, env = "BOSUN_QUEUE")]
    pub queue: String,
    /// Tokens file: one `ROLE SHA256HEX NAME` per line (see `bosun token new`).
    #[arg(long, env = "BOSUN_TOKENS_FILE")]
    pub tokens_file: PathBuf,
    /// Origins allowed by CORS (comma-separated); CORS is off without it.
    #[arg(long, env = "BOSUN_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origin: Vec<String>,
    /// Log format.
    #[arg(long, env = "BOSUN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Log line formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `key=value` text.
    Text,
    /// One JSON object per line.
    Json,
}

/// What to plan against.
#[derive(Debug, Args)]
pub struct Target {
    /// ECS cluster name.
    #[arg(long, env = "BOSUN_CLUSTER")]
    pub cluster: String,
    /// The stackfile.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Print AWS calls by operation, read and mutating, after the run (on stderr).
    #[arg(long)]
    pub stats: bool,
    /// Override the stackfile's `prune` setting.
    #[arg(long, value_name = "BOOL")]
    pub prune: Option<bool>,
}

/// Plan output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Human-readable text with `+ ~ - ±` markers and diffs.
    Text,
    /// JSON, for tools.
    Json,
}

/// `bosun plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// What to plan.
    #[command(flatten)]
    pub target: Target,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 0 when there are no changes, 2 when there are.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// `bosun apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// What to apply.
    #[command(flatten)]
    pub target: Target,
    /// Apply without asking. Required when stdin is not a terminal.
    #[arg(long)]
    pub auto_approve: bool,
    /// Apply only if the plan still has this hash (as printed by `bosun plan`).
    #[arg(long, value_name = "HASH")]
    pub plan_hash: Option<String>,
    /// Start the rollouts and return without waiting for them.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for each rollout (overrides `deployment.wait_timeout`), e.g. 90s or 10m.
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Time between polls of rollouts and hook tasks.
    #[arg(long, value_parser = parse_duration, default_value = "5s", env = "BOSUN_POLL_INTERVAL")]
    pub poll_interval: Duration,
    /// Mutating AWS calls in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

/// Parse durations like `90s`, `10m`, `1h30m`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("{e} (write durations like 90s, 10m or 1h30m)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_humans_write_them() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert!(parse_duration("ten minutes").is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
