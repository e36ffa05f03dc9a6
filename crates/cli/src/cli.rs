//! Command-line definitions. Every AWS-touching command honours the standard AWS
//! environment: `AWS_REGION`, credentials, `AWS_ENDPOINT_URL`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `bosun --version`: the package version and the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("BOSUN_GIT_COMMIT"), ")");

/// Keep AWS ECS clusters in the state their stackfile describes.
#[derive(Debug, Parser)]
#[command(name = "bosun", version = VERSION, propagate_version = true)]
pub struct Cli {
    /// When to colour output: `auto` colours a terminal unless `NO_COLOR` is set (or
    /// `CLICOLOR_FORCE` colours a pipe too), as cargo does.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// Colour a terminal; follow `NO_COLOR` and `CLICOLOR_FORCE`.
    Auto,
    /// Always colour, even a pipe.
    Always,
    /// Never colour.
    Never,
}

impl From<ColorWhen> for anstream::ColorChoice {
    fn from(when: ColorWhen) -> Self {
        match when {
            ColorWhen::Auto => anstream::ColorChoice::Auto,
            ColorWhen::Always => anstream::ColorChoice::Always,
            ColorWhen::Never => anstream::ColorChoice::Never,
        }
    }
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
    /// Write a stackfile (bosun's dialect, every service `adopt: true`) for a cluster
    /// that bosun does not manage yet; only reads AWS.
    Import(ImportArgs),
    /// Run bosun's servers: with no subcommand, the API and the scheduler in one
    /// process (it takes the flags of both).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Serve {
        /// Run only one server.
        #[command(subcommand)]
        server: Option<Server>,
        /// The API's and the scheduler's flags, for both in one process.
        #[command(flatten)]
        both: Box<ServeArgs>,
    },
    /// Create what an installation needs, idempotently: the S3 bucket (versioned, with
    /// lifecycle rules for leases and job records), the SQS FIFO job queue and its
    /// dead-letter queue.
    Init {
        /// S3 bucket for stackfiles, job records and status.
        #[arg(long, env = "BOSUN_BUCKET")]
        bucket: String,
        /// SQS FIFO queue name (must end in `.fifo`); the dead-letter queue is NAME-dlq.fifo.
        #[arg(long, env = "BOSUN_QUEUE")]
        queue: String,
        /// Days a job record is kept after its last change; 0 keeps them for ever.
        /// Stackfile history is never expired.
        #[arg(long, env = "BOSUN_JOB_RETENTION_DAYS", default_value_t = bosun_aws::queue::JOB_RETENTION_DAYS,
            value_parser = clap::value_parser!(u32).range(0..=36500))]
        job_retention_days: u32,
    },
    /// Reconcile jobs.
    Jobs {
        /// What to do.
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// API tokens.
    Token {
        /// What to do.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print the least-privilege IAM policy bosun's engine, API and scheduler need, scoped
    /// to its bucket and queues, bosun's tags, and the hosted zones and roles given. It is
    /// printed as customer managed policies to attach to bosun's role, each named after
    /// what it grants (bosun-reads, bosun-ecs, ...) and within IAM's 6,144 characters
    /// (the whole is too large for a role's inline policies).
    IamPolicy(IamPolicyArgs),
    /// Print a completion script for a shell, e.g. `bosun completions bash >
    /// /etc/bash_completion.d/bosun`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print bosun's man page (roff), e.g. `bosun man | man -l -`; with `--dir`, write a
    /// page for every command there instead (bosun.1, bosun-plan.1, ...).
    Man {
        /// Write one page per command into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `bosun iam-policy`.
#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// S3 bucket of bosun's state.
    #[arg(long, env = "BOSUN_BUCKET")]
    pub bucket: String,
    /// SQS FIFO job queue, a name or a URL; its dead-letter queue is NAME-dlq.fifo.
    #[arg(long, env = "BOSUN_QUEUE")]
    pub queue: String,
    /// The account the clusters live in (default: any).
    #[arg(long, default_value = "*", value_parser = account_id)]
    pub account: String,
    /// The region the clusters live in (default: any).
    #[arg(long, default_value = "*")]
    pub region: String,
    /// The ARN partition.
    #[arg(long, default_value = "aws", value_parser = ["aws", "aws-cn", "aws-us-gov"])]
    pub partition: String,
    /// Limit ECS to these clusters (repeat); default: any cluster.
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,
    /// Stackfiles whose hosted zones and task roles the policy names (repeat).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// A hosted zone bosun may write records in (repeat). Without any (here or in a
    /// stackfile), bosun gets no Route53 write access.
    #[arg(long = "zone-id", value_name = "ZONE")]
    pub zones: Vec<String>,
    /// Limit Cloud Map to these namespace ids (repeat); default: any namespace of the account.
    #[arg(long = "namespace-id", value_name = "NS")]
    pub namespaces: Vec<String>,
    /// A role bosun assumes to reach clusters in other accounts (repeat).
    #[arg(long = "assume-role", value_name = "ARN")]
    pub assume_roles: Vec<String>,
    /// Also grant taking over resources bosun did not create (`adopt: true`).
    #[arg(long)]
    pub adopt: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PolicyFormat::Yaml)]
    pub format: PolicyFormat,
    /// Print only this managed policy's document, bare (e.g. `--document bosun-ecs
    /// --format json` for `aws iam create-policy --policy-name bosun-ecs --policy-document
    /// file://...`).
    #[arg(long, value_name = "NAME")]
    pub document: Option<String>,
}

/// `bosun iam-policy` output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PolicyFormat {
    /// A YAML mapping of policy name to policy document, with a comment on each document
    /// and statement (each a CloudFormation `AWS::IAM::ManagedPolicy`'s `PolicyDocument`).
    Yaml,
    /// A JSON object of policy name to IAM policy document; with `--document`, that
    /// document alone, for `aws iam create-policy --policy-document file://...`.
    Json,
}

fn account_id(s: &str) -> Result<String, String> {
    if s == "*" || (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())) {
        Ok(s.to_owned())
    } else {
        Err("an AWS account id is 12 digits".to_owned())
    }
}

/// Servers.
#[derive(Debug, Subcommand)]
pub enum Server {
    /// The HTTP API: stackfiles in S3, reconcile jobs on SQS.
    Api(ApiArgs),
    /// The scheduler: consumes reconcile jobs, checks for drift, announces outcomes.
    Scheduler(SchedulerArgs),
}

/// `bosun jobs`.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Move the jobs in the dead-letter queue (QUEUE-dlq.fifo, as `bosun init` made it)
    /// back to the job queue, so the scheduler runs them again; a job that failed
    /// without an outcome is reopened (`queued`). Running it again moves nothing twice.
    Redrive {
        /// S3 bucket (see `bosun init`).
        #[arg(long, env = "BOSUN_BUCKET")]
        bucket: String,
        /// SQS FIFO job queue, a name or a URL (see `bosun init`).
        #[arg(long, env = "BOSUN_QUEUE")]
        queue: String,
        /// Messages to move at most in this run.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
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

/// Where bosun keeps its state; both servers need it.
#[derive(Debug, Args)]
pub struct StateArgs {
    // Required, yet `Option`: `bosun serve api|scheduler` leaves the parent `bosun
    // serve`'s copy of these flags unset, and clap must still build that struct.
    /// S3 bucket (see `bosun init`).
    #[arg(long, env = "BOSUN_BUCKET", required = true)]
    pub bucket: Option<String>,
    /// SQS FIFO queue, a name or a URL (see `bosun init`).
    #[arg(long, env = "BOSUN_QUEUE", required = true)]
    pub queue: Option<String>,
    /// Log format.
    #[arg(long, env = "BOSUN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The API's own flags.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Address to listen on; port 0 picks a free port (logged at start).
    #[arg(long, env = "BOSUN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Tokens file: one `ROLE SHA256HEX NAME` per line (see `bosun token new`).
    #[arg(long, env = "BOSUN_TOKENS_FILE", required_unless_present = "tokens", conflicts_with = "tokens")]
    pub tokens_file: Option<PathBuf>,
    /// The tokens file's content instead of a file, for a container whose secrets
    /// arrive in its environment (ECS `secrets`); set it in the environment, not as a
    /// flag, which shows in the process list. Fixed for the process's life: SIGHUP
    /// reloads only a tokens file.
    #[arg(long, env = "BOSUN_TOKENS", hide_env_values = true, value_name = "LINES")]
    pub tokens: Option<String>,
    /// Chat access file: one `ROLE USER_ID CLUSTER_GLOB...` grant per line (see the
    /// README's ChatOps section); chat is off without it.
    #[arg(long, env = "BOSUN_CHAT_ACCESS_FILE")]
    pub chat_access_file: Option<PathBuf>,
    /// Origins allowed by CORS (comma-separated); CORS is off without it.
    #[arg(long, env = "BOSUN_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origin: Vec<String>,
    /// Show environment values (and notification webhook URLs) to deployers as
    /// `<redacted>`, as viewers always see them; admins still read them.
    #[arg(long, env = "BOSUN_REDACT_ENV")]
    pub redact_env: bool,
    /// Resource limits.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// bosun's Slack app (boxed: the flags are many, and `Command` holds them inline).
    #[command(flatten)]
    pub slack: Box<SlackArgs>,
    /// A file holding the secret web UI sessions are signed with. Every API replica
    /// behind one load balancer needs the same one; without it each process makes a
    /// random key, and its sessions end when it stops.
    #[arg(long, env = "BOSUN_UI_SESSION_SECRET_FILE", conflicts_with = "ui_session_secret")]
    pub ui_session_secret_file: Option<PathBuf>,
    /// The UI session secret itself, instead of a file (ECS `secrets`). Set it in the
    /// environment, not as a flag, which shows in the process list.
    #[arg(long, env = "BOSUN_UI_SESSION_SECRET", hide_env_values = true, value_name = "SECRET")]
    pub ui_session_secret: Option<String>,
    /// How long a web UI sign-in lasts.
    #[arg(long, env = "BOSUN_UI_SESSION_TTL", value_parser = parse_duration, default_value = "12h")]
    pub ui_session_ttl: Duration,
}

/// bosun's Slack app (see the README, "bosun's Slack app"). Without a signing secret
/// the Slack endpoints answer 404. Both secrets are read once, at start.
#[derive(Debug, Args)]
pub struct SlackArgs {
    /// The Slack app's signing secret; every request to /slack/* is checked with it.
    /// Prefer the environment variable or --slack-signing-secret-file: a flag's value
    /// shows in the process list.
    #[arg(long, env = "BOSUN_SLACK_SIGNING_SECRET", hide_env_values = true)]
    pub slack_signing_secret: Option<String>,
    /// A file holding the Slack signing secret.
    #[arg(long, env = "BOSUN_SLACK_SIGNING_SECRET_FILE", conflicts_with = "slack_signing_secret")]
    pub slack_signing_secret_file: Option<PathBuf>,
    /// The Slack bot token (`xoxb-...`), to answer `@bosun` mentions and post progress
    /// in card threads. Prefer the environment variable or --slack-bot-token-file.
    #[arg(long, env = "BOSUN_SLACK_BOT_TOKEN", hide_env_values = true)]
    pub slack_bot_token: Option<String>,
    /// A file holding the Slack bot token.
    #[arg(long, env = "BOSUN_SLACK_BOT_TOKEN_FILE", conflicts_with = "slack_bot_token")]
    pub slack_bot_token_file: Option<PathBuf>,
    /// The Slack Web API's base URL.
    #[arg(long, env = "BOSUN_SLACK_API_URL", default_value = bosun_api::slack::DEFAULT_API_URL)]
    pub slack_api_url: String,
    /// What a request's `response_url` must start with for bosun to post to it.
    #[arg(long, env = "BOSUN_SLACK_RESPONSE_URL_PREFIX", default_value = bosun_api::slack::DEFAULT_RESPONSE_URL_PREFIX)]
    pub slack_response_url_prefix: String,
}

/// How much the API lets its callers hold (see docs/api.md, "Limits").
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Plan previews and validations of a caller's stackfile running at once, all
    /// callers together; beyond it, 429 with Retry-After.
    #[arg(long, env = "BOSUN_MAX_PLANS", default_value_t = 4)]
    pub max_plans: usize,
    /// The same for one token.
    #[arg(long, env = "BOSUN_MAX_PLANS_PER_CALLER", default_value_t = 2)]
    pub max_plans_per_caller: usize,
    /// Connections open at once; more wait in the listen backlog.
    #[arg(long, env = "BOSUN_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Time a client has to send a request's headers (also how long an idle
    /// kept-alive connection stays open); then the connection is closed.
    #[arg(long, env = "BOSUN_HEADER_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub header_timeout: Duration,
    /// Time a client has to send a request's body; then 408 and the connection is closed.
    #[arg(long, env = "BOSUN_BODY_TIMEOUT", value_parser = parse_duration, default_value = "30s")]
    pub body_timeout: Duration,
    /// Time a request may take from its headers to its answer; then 503 `request_timeout`.
    #[arg(long, env = "BOSUN_REQUEST_TIMEOUT", value_parser = parse_duration, default_value = "60s")]
    pub request_timeout: Duration,
    /// The shortest lock a caller may take. Hidden, without a variable: only the
    /// end-to-end tests lower it, to see a lock expire in seconds.
    #[arg(long, hide = true, value_parser = parse_duration, default_value = "1m")]
    pub lock_min_ttl: Duration,
}

impl StateArgs {
    /// The bucket (clap requires it wherever it is used).
    pub fn bucket(&self) -> &str {
        self.bucket.as_deref().expect("clap requires --bucket")
    }

    /// The queue (clap requires it wherever it is used).
    pub fn queue(&self) -> &str {
        self.queue.as_deref().expect("clap requires --queue")
    }
}

/// The scheduler's own flags.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Clusters reconciled at once (never two reconciles of one cluster).
    #[arg(long, env = "BOSUN_CONCURRENCY", default_value_t = 4)]
    pub concurrency: usize,
    /// How long a received job stays hidden from other schedulers, and the TTL of a
    /// cluster lease; a crashed scheduler's job reappears after this long.
    #[arg(long, env = "BOSUN_VISIBILITY_TIMEOUT", value_parser = parse_duration, default_value = "60s")]
    pub visibility_timeout: Duration,
    /// How often a running job's visibility and lease are extended (at most half the
    /// visibility timeout).
    #[arg(long, env = "BOSUN_HEARTBEAT", value_parser = parse_duration, default_value = "20s")]
    pub heartbeat: Duration,
    /// How long one receive waits for jobs (SQS long polling, at most 20s). Shutdown
    /// waits for the current receive to end.
    #[arg(long, env = "BOSUN_RECEIVE_WAIT", value_parser = parse_duration, default_value = "10s")]
    pub receive_wait: Duration,
    /// The longest time between polls of rollouts and hook tasks: polls start at a
    /// twentieth of it and back off to it (as `bosun apply --poll-interval`).
    #[arg(long, env = "BOSUN_POLL_INTERVAL", value_parser = parse_duration, default_value = "5s")]
    pub poll_interval: Duration,
    /// How often every cluster is checked for drift; 0 turns the check off.
    #[arg(long, env = "BOSUN_RESYNC_INTERVAL", value_parser = parse_duration, default_value = "10m")]
    pub resync_interval: Duration,
    /// How long to wait for each rollout; overrides every service's `deployment.wait_timeout`.
    #[arg(long, env = "BOSUN_ROLLOUT_TIMEOUT", value_parser = parse_duration)]
    pub rollout_timeout: Option<Duration>,
    /// How long reconciles in flight may run on after SIGTERM or Ctrl-C; then their
    /// jobs are handed back to the queue.
    #[arg(long, env = "BOSUN_GRACE_PERIOD", value_parser = parse_duration, default_value = "30s")]
    pub grace_period: Duration,
    /// AWS changes in flight at once within one reconcile.
    #[arg(long, env = "BOSUN_APPLY_CONCURRENCY", default_value_t = 16)]
    pub apply_concurrency: usize,
    /// Slack incoming-webhook URL for every cluster's events (a stackfile's
    /// `notifications` adds its own).
    #[arg(long, env = "BOSUN_SLACK_WEBHOOK", hide_env_values = true)]
    pub slack_webhook: Option<String>,
    /// A file holding the Slack webhook URL, read again on SIGHUP (instead of
    /// --slack-webhook, which puts the URL in the process's command line).
    #[arg(long, env = "BOSUN_SLACK_WEBHOOK_FILE", conflicts_with = "slack_webhook")]
    pub slack_webhook_file: Option<PathBuf>,
    /// URL that receives every event as a JSON POST.
    #[arg(long, env = "BOSUN_WEBHOOK", hide_env_values = true)]
    pub webhook: Option<String>,
    /// A file holding the webhook URL, read again on SIGHUP (instead of --webhook).
    #[arg(long, env = "BOSUN_WEBHOOK_FILE", conflicts_with = "webhook")]
    pub webhook_file: Option<PathBuf>,
}

/// `bosun serve api`.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Bucket, queue, logs.
    #[command(flatten)]
    pub state: StateArgs,
    /// HTTP.
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `bosun serve scheduler`.
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Bucket, queue, logs.
    #[command(flatten)]
    pub state: StateArgs,
    /// Scheduling.
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// Address of the metrics and health listener (`/metrics`, `/healthz`, `/readyz`);
    /// port 0 picks a free port (logged at start); `off` runs none.
    #[arg(long, env = "BOSUN_LISTEN", default_value = "127.0.0.1:9090", value_parser = parse_listen)]
    pub listen: Listen,
}

/// Where a listener listens, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen(pub Option<std::net::SocketAddr>);

/// Parse `HOST:PORT` or `off`.
pub fn parse_listen(s: &str) -> Result<Listen, String> {
    if s == "off" {
        return Ok(Listen(None));
    }
    s.parse().map(|a| Listen(Some(a))).map_err(|e| format!("{e} (write an address like 127.0.0.1:9090, or off)"))
}

/// `bosun serve`: both.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Bucket, queue, logs.
    #[command(flatten)]
    pub state: StateArgs,
    /// HTTP.
    #[command(flatten)]
    pub http: HttpArgs,
    /// Scheduling.
    #[command(flatten)]
    pub worker: WorkerArgs,
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
    /// How changed task definitions show: `compact` shows a service whose only change
    /// is its image as one line (`~ api  api:1.4 -> 1.5`) and every other change in
    /// full; `full` shows every task-definition diff; `auto` is compact on a terminal
    /// and full in a pipe, so that what scripts read does not change.
    #[arg(long, value_enum, default_value_t = DiffArg::Auto, value_name = "MODE")]
    pub diff: DiffArg,
}

/// `--diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffArg {
    /// Compact on a terminal, full in a pipe.
    Auto,
    /// Image-only changes on one line each.
    Compact,
    /// Every task-definition diff.
    Full,
}

impl DiffArg {
    /// The diff mode for output to a terminal or not.
    pub fn mode(self, terminal: bool) -> bosun_plan::DiffMode {
        match self {
            DiffArg::Auto if terminal => bosun_plan::DiffMode::Compact,
            DiffArg::Compact => bosun_plan::DiffMode::Compact,
            DiffArg::Auto | DiffArg::Full => bosun_plan::DiffMode::Full,
        }
    }
}

/// `bosun import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The ECS cluster to import.
    #[arg(long, env = "BOSUN_CLUSTER")]
    pub cluster: String,
    /// Import only these services (comma-separated); every one must exist.
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub services: Vec<String>,
    /// A Route53 hosted zone whose alias records to the services' load balancers are
    /// imported too; repeat it for more zones.
    #[arg(long = "zone-id", value_name = "ZONE")]
    pub zone_ids: Vec<String>,
    /// Write the stackfile here (created with mode 0600: it holds environment values)
    /// instead of to stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print AWS calls by operation after the run (on stderr).
    #[arg(long)]
    pub stats: bool,
}

/// Plan output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Human-readable text with `+ ~ - ±` markers and diffs.
    Text,
    /// JSON, for tools.
    Json,
    /// Markdown for a pull-request comment, with the plan hash and the pinned apply
    /// command; capped to GitHub's comment size limit.
    Markdown,
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
    /// Exit 0 when there are no changes, 2 when there are (4 for conflicts either way).
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
    /// The longest time between polls of rollouts and hook tasks: polls start at a
    /// twentieth of it (250 ms) and back off to it, with jitter.
    #[arg(long, value_parser = parse_duration, default_value = "5s", env = "BOSUN_POLL_INTERVAL")]
    pub poll_interval: Duration,
    /// Mutating AWS calls in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

/// Parse durations like `90s`, `10m`, `1h30m`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (write durations like 90s, 10m or 1h30m)"))
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
    fn serve_takes_both_servers_flags_or_one_servers_subcommand() {
        let both = Cli::try_parse_from([
            "bosun",
            "serve",
            "--bucket",
            "b",
            "--queue",
            "q.fifo",
            "--tokens-file",
            "t",
            "--concurrency",
            "2",
        ])
        .unwrap();
        let Command::Serve { server: None, both } = both.command else { panic!("not serve") };
        assert_eq!((both.state.bucket(), both.worker.concurrency), ("b", 2));

        let api =
            Cli::try_parse_from(["bosun", "serve", "api", "--bucket", "b", "--queue", "q.fifo", "--tokens-file", "t"])
                .unwrap();
        assert!(matches!(api.command, Command::Serve { server: Some(Server::Api(_)), .. }));
        let scheduler = Cli::try_parse_from([
            "bosun",
            "serve",
            "scheduler",
            "--bucket",
            "b",
            "--queue",
            "q.fifo",
            "--resync-interval",
            "0",
        ])
        .unwrap();
        let Command::Serve { server: Some(Server::Scheduler(s)), .. } = scheduler.command else {
            panic!("not serve scheduler")
        };
        assert_eq!(s.worker.resync_interval, Duration::ZERO);
        assert_eq!(s.listen, Listen(Some("127.0.0.1:9090".parse().unwrap())), "the metrics listener is on by default");
        assert_eq!(parse_listen("off"), Ok(Listen(None)));
        assert!(parse_listen("everywhere").is_err());

        // The scheduler alone needs no tokens file; the API and `serve` do.
        let err = Cli::try_parse_from(["bosun", "serve", "--bucket", "b", "--queue", "q.fifo"]).unwrap_err();
        assert!(err.to_string().contains("--tokens-file"), "{err}");
    }

    #[test]
    fn the_api_takes_tokens_and_the_session_secret_from_a_file_or_their_content() {
        let base = ["bosun", "serve", "api", "--bucket", "b", "--queue", "q.fifo"];
        let parse = |extra: &[&str]| Cli::try_parse_from(base.iter().chain(extra));
        let Command::Serve { server: Some(Server::Api(api)), .. } =
            parse(&["--tokens", "admin 00 me", "--ui-session-secret", "s"]).unwrap().command
        else {
            panic!("not serve api")
        };
        assert_eq!(api.http.tokens.as_deref(), Some("admin 00 me"));
        assert_eq!(api.http.tokens_file, None);
        assert_eq!(api.http.ui_session_secret.as_deref(), Some("s"));
        let both = parse(&["--tokens", "x", "--tokens-file", "t"]).unwrap_err();
        assert_eq!(both.kind(), clap::error::ErrorKind::ArgumentConflict, "{both}");
        let both = parse(&["--tokens-file", "t", "--ui-session-secret", "s", "--ui-session-secret-file", "f"]);
        assert_eq!(both.unwrap_err().kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
