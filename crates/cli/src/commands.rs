//! One function per command. They validate before any side effect: a stackfile is
//! loaded and checked before the first AWS call, and apply refuses conflicts and
//! stale plans before the first mutating call.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use bosun_aws::{ApplyFailure, ApplyOptions, Clients, PreflightError};
use bosun_plan::{Observed, Plan, Policy, TextOptions};
use bosun_stackfile::{Desired, References};
use clap::CommandFactory as _;

use tokio_util::sync::CancellationToken;

use crate::cli::{
    ApplyArgs, Cli, Command, Format, HttpArgs, IamPolicyArgs, ImportArgs, JobsCommand, Listen, PlanArgs, PolicyFormat,
    ServeArgs, Server, StateArgs, Target, TokenCommand, WorkerArgs,
};
use crate::output::{EXIT_CHANGES, EXIT_CONFLICTS, Failure, print_diagnostics, print_stats, stdout_color};
use crate::progress::ApplyProgress;
use crate::reload::{self, Reloadable, SinkSource};

/// Run a parsed command line.
pub async fn dispatch(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Validate { files } => validate(&files),
        Command::Schema => {
            let schema = serde_json::to_string_pretty(&bosun_stackfile::json_schema()).map_err(Failure::internal)?;
            println!("{schema}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan(args) => plan(args).await,
        Command::Apply(args) => apply(args).await,
        Command::Import(args) => import(args).await,
        Command::Serve { server, both } => {
            let signals = shutdown_signals();
            let hangups = reload::hangups();
            match server {
                Some(Server::Api(a)) => serve_api(&a.state, a.http, signals, hangups).await,
                Some(Server::Scheduler(s)) => serve_scheduler(&s.state, s.worker, s.listen, signals, hangups).await,
                None => serve_both(*both, signals, hangups).await,
            }
        }
        Command::Init { bucket, queue, job_retention_days } => init(&bucket, &queue, job_retention_days).await,
        Command::Jobs { command: JobsCommand::Redrive { bucket, queue, limit } } => {
            redrive(&bucket, &queue, limit).await
        }
        Command::Token { command: TokenCommand::New { role, name } } => token_new(&role, &name),
        Command::IamPolicy(args) => iam_policy(args),
        Command::Completions { shell } => completions(shell),
        Command::Man { dir } => man(dir.as_deref()),
    }
}

/// The API's settings, and what it reloads on SIGHUP (its tokens file, its chat access file).
fn api_config(state: &StateArgs, http: HttpArgs) -> Result<(bosun_api::ApiConfig, Reloadable), Failure> {
    let (tokens, tokens_file) = api_tokens(http.tokens_file, http.tokens.as_deref())?;
    let l = http.limits;
    let limits = bosun_api::Limits {
        plans: l.max_plans,
        plans_per_caller: l.max_plans_per_caller,
        connections: l.max_connections,
        header_timeout: l.header_timeout,
        body_timeout: l.body_timeout,
        request_timeout: l.request_timeout,
        lock_min_ttl: l.lock_min_ttl,
    };
    limits.check().map_err(|e| Failure::user(anyhow::anyhow!(e)))?;
    let chat = match &http.chat_access_file {
        None => None,
        Some(path) => {
            let access = reload::read_access(path).map_err(|e| {
                for line in &e.lines {
                    eprintln!("{}:{line}", path.display());
                }
                Failure::user(anyhow::anyhow!(e.summary))
                    .hint("each line is `ROLE USER_ID CLUSTER_GLOB...`, e.g. `deployer U024BE7LH staging-* demo`")
            })?;
            Some(bosun_api::chat::ChatConfig { access: bosun_api::chat::SharedAccess::new(access) })
        }
    };
    let ui = ui_config(http.ui_session_secret_file.as_deref(), http.ui_session_secret.as_deref(), http.ui_session_ttl)?;
    let config = bosun_api::ApiConfig {
        ui,
        listen: http.listen,
        bucket: state.bucket().to_owned(),
        queue: state.queue().to_owned(),
        tokens: tokens.into(),
        cors_origins: http.cors_origin.into_iter().filter(|o| !o.is_empty()).collect(),
        limits,
        redact_env: http.redact_env,
        chat: chat.clone(),
        slack: slack_config(*http.slack)?,
    };
    let reloadable = Reloadable {
        tokens: tokens_file.map(|file| (file, config.tokens.clone())),
        chat: http.chat_access_file.zip(chat.map(|c| c.access)),
        sinks: None,
    };
    Ok((config, reloadable))
}

/// The API's tokens, from the tokens file or else from `BOSUN_TOKENS` (its content), and
/// the file SIGHUP reloads them from (none for the variable). Errors never quote a line.
fn api_tokens(file: Option<PathBuf>, text: Option<&str>) -> Result<(bosun_api::Tokens, Option<PathBuf>), Failure> {
    let (origin, read) = match (&file, text) {
        (Some(path), _) => (path.display().to_string(), reload::read_tokens(path)),
        (None, Some(text)) => ("BOSUN_TOKENS".to_owned(), reload::parse_tokens(text, "BOSUN_TOKENS")),
        (None, None) => return Err(Failure::user(anyhow::anyhow!("give --tokens-file or BOSUN_TOKENS"))),
    };
    let tokens = read.map_err(|e| {
        for line in &e.lines {
            eprintln!("{origin}:{line}");
        }
        Failure::user(anyhow::anyhow!(e.summary))
            .hint("each line is `ROLE SHA256HEX NAME`; `bosun token new --role ROLE --name NAME` prints one")
    })?;
    if tokens.is_empty() {
        eprintln!("warning: {origin} has no tokens: every /api/v1 request will get 401");
    }
    Ok((tokens, file))
}

/// The web UI's session key (from the secret file, else the secret itself, else
/// random) and lifetime. Errors never quote the secret.
fn ui_config(
    secret_file: Option<&std::path::Path>,
    secret: Option<&str>,
    ttl: std::time::Duration,
) -> Result<bosun_api::ui::UiConfig, Failure> {
    use bosun_api::ui::session::SessionKey;
    if ttl.is_zero() || ttl > std::time::Duration::from_secs(30 * 86_400) {
        return Err(Failure::user(anyhow::anyhow!("--ui-session-ttl must be from 1s to 30 days")));
    }
    let (secret, origin) = match (secret_file, secret) {
        (Some(path), _) => {
            let secret = std::fs::read(path).map_err(|e| {
                Failure::user(anyhow::anyhow!("could not read the UI session secret file {}: {e}", path.display()))
            })?;
            (secret, format!("the UI session secret in {}", path.display()))
        }
        (None, Some(secret)) => (secret.as_bytes().to_vec(), "BOSUN_UI_SESSION_SECRET".to_owned()),
        (None, None) => return Ok(bosun_api::ui::UiConfig { key: SessionKey::random(), session_ttl: ttl }),
    };
    let secret = secret.trim_ascii();
    if secret.len() < 32 {
        return Err(Failure::user(anyhow::anyhow!("{origin} is shorter than 32 bytes"))
            .hint("`head -c 48 /dev/urandom | base64` makes one"));
    }
    Ok(bosun_api::ui::UiConfig { key: SessionKey::from_secret(secret), session_ttl: ttl })
}

/// The Slack app's settings; `None` without a signing secret. Errors never quote a
/// secret nor its file.
fn slack_config(args: crate::cli::SlackArgs) -> Result<Option<bosun_api::slack::SlackConfig>, Failure> {
    use bosun_api::slack::{Secret, SlackConfig};
    let read = |value: Option<String>, file: Option<PathBuf>, what: &str| -> Result<Option<Secret>, Failure> {
        let value = match file {
            Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| {
                Failure::user(anyhow::anyhow!("could not read the Slack {what} file {}: {e}", path.display()))
            })?),
            None => value,
        };
        Ok(value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).map(Secret::new))
    };
    let bot_token = read(args.slack_bot_token, args.slack_bot_token_file, "bot token")?;
    let Some(signing_secret) = read(args.slack_signing_secret, args.slack_signing_secret_file, "signing secret")?
    else {
        if bot_token.is_some() {
            eprintln!("warning: a Slack bot token is set but no signing secret: the Slack endpoints are off");
        }
        return Ok(None);
    };
    let config = SlackConfig {
        signing_secret,
        bot_token,
        api_url: args.slack_api_url,
        response_url_prefix: args.slack_response_url_prefix,
    };
    config.check().map_err(|e| Failure::user(anyhow::anyhow!(e)))?;
    Ok(Some(config))
}

/// The scheduler's settings, and where its global webhook URLs come from (for SIGHUP).
fn scheduler_config(
    state: &StateArgs,
    w: WorkerArgs,
) -> Result<(bosun_scheduler::SchedulerConfig, SinkSource, SinkSource), Failure> {
    let mut config = bosun_scheduler::SchedulerConfig::new(state.bucket(), state.queue());
    config.concurrency = w.concurrency;
    config.visibility = w.visibility_timeout;
    config.heartbeat = w.heartbeat;
    config.receive_wait = w.receive_wait;
    config.poll_interval = w.poll_interval;
    config.resync_interval = Some(w.resync_interval).filter(|d| !d.is_zero());
    config.rollout_timeout = w.rollout_timeout;
    config.grace_period = w.grace_period;
    config.apply_concurrency = w.apply_concurrency;
    let slack = SinkSource::new(w.slack_webhook, w.slack_webhook_file);
    let webhook = SinkSource::new(w.webhook, w.webhook_file);
    config.sinks = reload::read_sinks(&slack, &webhook).map_err(|e| Failure::user(anyhow::anyhow!(e)))?;
    config.check().map_err(Failure::user)?;
    Ok((config, slack, webhook))
}

async fn serve_api(
    state: &StateArgs,
    http: HttpArgs,
    stop: CancellationToken,
    hangups: reload::Hangups,
) -> Result<ExitCode, Failure> {
    let (config, reloadable) = api_config(state, http)?;
    reload::spawn(hangups, reloadable);
    bosun_api::serve(config, stop.cancelled_owned())
        .await
        .map_err(|e| Failure::user(e).hint("check the AWS environment and `bosun init`"))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve_scheduler(
    state: &StateArgs,
    worker: WorkerArgs,
    listen: Listen,
    stop: CancellationToken,
    hangups: reload::Hangups,
) -> Result<ExitCode, Failure> {
    let (config, slack, webhook) = scheduler_config(state, worker)?;
    let ctx = bosun_scheduler::connect(Clients::from_env().await, config)
        .await
        .map_err(|e| Failure::user(e).hint("check the AWS environment and `bosun init`"))?;
    reload::spawn(
        hangups,
        Reloadable { tokens: None, chat: None, sinks: Some((slack, webhook, ctx.notifier.clone())) },
    );
    let Listen(Some(addr)) = listen else {
        bosun_scheduler::run(ctx, stop.cancelled_owned()).await.map_err(Failure::internal)?;
        return Ok(ExitCode::SUCCESS);
    };
    // The listener answers until the scheduler has stopped; one failing stops the other.
    let probes_stop = CancellationToken::new();
    let probes = bosun_api::routes::ops::serve_probes(
        addr,
        ctx.store.clone(),
        ctx.queue.clone(),
        probes_stop.clone().cancelled_owned(),
    );
    let (probes, scheduler) = tokio::join!(
        async {
            let r = probes.await;
            stop.cancel();
            r
        },
        async {
            let r = bosun_scheduler::run(ctx, stop.clone().cancelled_owned()).await;
            probes_stop.cancel();
            r
        }
    );
    probes.map_err(|e| Failure::user(e).hint("choose another --listen address, or `--listen off`"))?;
    scheduler.map_err(Failure::internal)?;
    Ok(ExitCode::SUCCESS)
}

async fn serve_both(args: ServeArgs, stop: CancellationToken, hangups: reload::Hangups) -> Result<ExitCode, Failure> {
    let (api, mut reloadable) = api_config(&args.state, args.http)?;
    let (scheduler, slack, webhook) = scheduler_config(&args.state, args.worker)?;
    // One set of clients (one HTTP connection pool, one task definition cache).
    let clients = Clients::from_env().await;
    let ctx = bosun_scheduler::connect(clients.clone(), scheduler)
        .await
        .map_err(|e| Failure::user(e).hint("check the AWS environment and `bosun init`"))?;
    reloadable.sinks = Some((slack, webhook, ctx.notifier.clone()));
    reload::spawn(hangups, reloadable);
    // One failing stops the other.
    let (api, scheduler) = tokio::join!(
        async {
            let r = bosun_api::serve_with(clients, api, stop.clone().cancelled_owned()).await;
            stop.cancel();
            r
        },
        async {
            let r = bosun_scheduler::run(ctx, stop.clone().cancelled_owned()).await;
            stop.cancel();
            r
        }
    );
    api.map_err(|e| Failure::user(e).hint("check the AWS environment and `bosun init`"))?;
    scheduler.map_err(Failure::internal)?;
    Ok(ExitCode::SUCCESS)
}

/// Cancelled on the first SIGTERM or Ctrl-C; a second one exits at once (130).
fn shutdown_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let first = token.clone();
    tokio::spawn(async move {
        signal().await;
        tracing::info!("shutting down: finishing work in flight (a second signal forces the exit)");
        first.cancel();
        signal().await;
        tracing::warn!("second signal: exiting now");
        std::process::exit(130);
    });
    token
}

/// Resolves on SIGTERM or Ctrl-C.
async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn init(bucket: &str, queue: &str, job_retention_days: u32) -> Result<ExitCode, Failure> {
    if bosun_aws::queue::dead_letter_queue_name(queue).is_none() {
        return Err(Failure::user(anyhow::anyhow!("queue {queue:?} is not a FIFO queue name"))
            .hint(format!("FIFO queue names end in `.fifo`, e.g. --queue {queue}.fifo")));
    }
    let clients = Clients::from_env().await;
    let region = clients.region.as_deref();
    let report = bosun_aws::queue::init(&clients.s3, &clients.sqs, region, bucket, queue, job_retention_days)
        .await
        .map_err(|e| aws_failure(anyhow::Error::new(e).context("could not set up the bucket and queues"), false))?;
    for line in &report.lines {
        println!("{line}");
    }
    println!("queue url: {}", report.queue_url);
    Ok(ExitCode::SUCCESS)
}

/// `bosun jobs redrive`: one line per message, then a summary.
async fn redrive(bucket: &str, queue: &str, limit: u32) -> Result<ExitCode, Failure> {
    let clients = Clients::from_env().await;
    let connect_hint = "check the AWS environment and `bosun init`";
    let (store, jobs) =
        bosun_aws::queue::connect(&clients, bucket, queue).await.map_err(|e| Failure::user(e).hint(connect_hint))?;
    let dead = jobs
        .dead_letters()
        .await
        .map_err(|e| aws_failure(anyhow::Error::new(e).context("could not find the dead-letter queue"), false))?
        .ok_or_else(|| {
            let name = bosun_aws::queue::dead_letter_queue_name(queue).unwrap_or_else(|| format!("{queue}-dlq.fifo"));
            Failure::user(anyhow::anyhow!("the job queue {queue} has no dead-letter queue {name}"))
                .hint("`bosun init` creates it, with the redrive policy that fills it")
        })?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let (done, failure) = match bosun_scheduler::dead_letters::redrive(&store, &jobs, &dead, limit).await {
        Ok(done) => (done, None),
        Err(e) => (e.done.clone(), Some(e)),
    };
    for m in &done.moved {
        let what = match (m.was, m.reopened) {
            (None, _) => "no record; queued".to_owned(),
            (Some(was), true) => format!("{} -> queued", status_name(was)),
            (Some(was), false) => format!("already {}; the scheduler drops it", status_name(was)),
        };
        println!("moved    job {} (cluster {}): {what}", m.job_id, m.cluster);
    }
    for id in &done.left {
        println!("left     message {id}: not a bosun job");
    }
    let dlq = dead.url().rsplit('/').next().unwrap_or_default();
    let left = if done.left.is_empty() { String::new() } else { format!("; {} message(s) left", done.left.len()) };
    println!("moved {} job(s) from {dlq} to {queue}{left}", done.moved.len());
    if let Some(e) = failure {
        let hint = "run `bosun jobs redrive` again: jobs already moved are not moved twice";
        return Err(Failure { error: anyhow::Error::new(e), hint: Some(hint.into()), internal: true, printed: false });
    }
    if done.limited {
        eprintln!("stopped at --limit {limit}; run it again for the rest");
    }
    Ok(ExitCode::SUCCESS)
}

/// A job status as the API spells it.
fn status_name(status: bosun_aws::jobs::JobStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn token_new(role: &str, name: &str) -> Result<ExitCode, Failure> {
    let role: bosun_api::Role = role.parse().map_err(|e: String| Failure::user(anyhow::anyhow!(e)))?;
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(Failure::user(anyhow::anyhow!("token name {name:?} must be non-empty and have no spaces")));
    }
    let (token, line) = bosun_api::auth::new_token(role, name);
    println!("token: {token}");
    println!("line:  {line}");
    eprintln!("add the line to the tokens file; the token itself is not stored anywhere, so keep it now");
    Ok(ExitCode::SUCCESS)
}

/// Print the IAM policy for the bucket, queue and stackfiles given, as managed policies
/// (all, or the one `--document` names). Reads no AWS.
fn iam_policy(args: IamPolicyArgs) -> Result<ExitCode, Failure> {
    // A queue URL (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`) names the queue last.
    let queue = args.queue.rsplit('/').next().unwrap_or(&args.queue);
    let mut scope = bosun_aws::policy::Scope::new(args.bucket, queue);
    scope.partition = args.partition;
    scope.account = args.account;
    scope.region = args.region;
    scope.clusters.extend(args.clusters);
    scope.zones.extend(args.zones.iter().map(|z| z.trim_start_matches("/hostedzone/").to_owned()));
    scope.namespaces.extend(args.namespaces);
    scope.assume_roles.extend(args.assume_roles);
    scope.adopt = args.adopt;
    for file in &args.files {
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("cluster");
        let target = Target {
            cluster: stem.to_owned(),
            file: file.clone(),
            stats: false,
            prune: None,
            diff: crate::cli::DiffArg::Auto,
        };
        scope.add_stackfile(&load(&target)?.desired);
    }
    let documents = bosun_aws::policy::Documents::new(&scope).map_err(|e| {
        Failure::user(e).hint(
            "name fewer clusters, namespaces, hosted zones or roles: each adds an ARN to the statements that \
             name them (with none, the policy covers every one of the account and region)",
        )
    })?;
    if documents.0.len() > bosun_aws::policy::DOCUMENT_QUOTA {
        eprintln!(
            "warning: {} managed policies, more than the {} a role may hold by default (IAM raises the quota \
             to 20 on request)",
            documents.0.len(),
            bosun_aws::policy::DOCUMENT_QUOTA
        );
    }
    let Some(name) = args.document else {
        match args.format {
            PolicyFormat::Yaml => print!("{}", documents.to_yaml()),
            PolicyFormat::Json => println!("{}", documents.to_json()),
        }
        return Ok(ExitCode::SUCCESS);
    };
    let Some(doc) = documents.get(&name) else {
        return Err(Failure::user(anyhow::anyhow!("no managed policy {name} for this scope"))
            .hint(format!("the policies are {}", documents.names().join(", "))));
    };
    match args.format {
        PolicyFormat::Yaml => print!("{}{}", doc.to_yaml_comment(), doc.policy.to_yaml()),
        PolicyFormat::Json => println!("{}", doc.policy.to_json()),
    }
    Ok(ExitCode::SUCCESS)
}

/// `bosun completions SHELL`: the script on stdout.
fn completions(shell: clap_complete::Shell) -> Result<ExitCode, Failure> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "bosun", &mut out);
    write_stdout(&out)
}

/// `bosun man [--dir DIR]`: bosun(1) on stdout, or a page per command in `dir`.
fn man(dir: Option<&Path>) -> Result<ExitCode, Failure> {
    let command = Cli::command();
    match dir {
        Some(dir) => {
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("could not write the man pages into {}", dir.display()))
                .map_err(Failure::user)?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(command).render(&mut out).map_err(Failure::internal)?;
            write_stdout(&out)
        }
    }
}

/// Write `bytes` to stdout; a closed pipe (`| head`) is not an error worth a message.
fn write_stdout(bytes: &[u8]) -> Result<ExitCode, Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::internal(e)),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn validate(files: &[std::path::PathBuf]) -> Result<ExitCode, Failure> {
    let mut bad = 0usize;
    for file in files {
        let source = read(file)?;
        if let Err(diags) = bosun_stackfile::validate(&source) {
            bad += 1;
            print_diagnostics(file, &source, &diags);
        }
    }
    if bad == 0 {
        eprintln!("{} stackfile(s) valid", files.len());
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Failure {
            error: anyhow::anyhow!("{bad} invalid stackfile(s)"),
            hint: None,
            internal: false,
            printed: true,
        })
    }
}

fn read(file: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(file).with_context(|| format!("could not read {}", file.display())).map_err(Failure::user)
}

/// A validated stackfile, with its text (to show the lines that errors point at).
struct Loaded {
    desired: Desired,
    /// What it names that must exist in AWS (preflight).
    references: References,
    source: String,
}

/// Load and validate the stackfile, with what it names that must exist in AWS. Nothing
/// touches AWS before this succeeds.
fn load(target: &Target) -> Result<Loaded, Failure> {
    let source = read(&target.file)?;
    let (mut desired, references) =
        bosun_stackfile::load_with_references(&source, &target.cluster).map_err(|diags| {
            print_diagnostics(&target.file, &source, &diags);
            Failure {
                error: anyhow::anyhow!(
                    "{} is not a valid stackfile ({} error(s))",
                    target.file.display(),
                    diags.0.len()
                ),
                hint: Some(format!("run `bosun validate {}` after fixing the errors above", target.file.display())),
                internal: false,
                printed: false,
            }
        })?;
    if let Some(prune) = target.prune {
        desired.prune = prune;
    }
    Ok(Loaded { desired, references, source })
}

/// Observe the cluster and check the stackfile's references (preflight) at once, then
/// plan. A reference that does not exist stops here, before anything could change.
async fn observe_and_plan(target: &Target) -> Result<(Clients, Desired, Observed, Plan), Failure> {
    let Loaded { desired, references, source } = load(target)?;
    let clients = Clients::from_env().await.for_target(&desired.cluster, &desired.aws).await.map_err(|e| {
        aws_failure(
            anyhow::Error::new(e).context(format!("could not reach the account of cluster {}", desired.cluster)),
            false,
        )
    })?;
    let observed = bosun_aws::observe_checked(&clients, &desired, &references).await.map_err(|e| {
        // The calls made so far, all reads: what `--stats` is asked for, failure or not.
        if target.stats {
            print_stats(&clients.stats);
        }
        preflight_failure(target, &source, &clients, e)
    })?;
    let plan = bosun_plan::plan(&desired, &observed, &Policy::from_desired(&desired));
    Ok((clients, desired, observed, plan))
}

/// What a failed observation or preflight check prints. Missing references print as
/// validation errors do, `FILE:LINE:COL: path: message`, every one.
fn preflight_failure(target: &Target, source: &str, clients: &Clients, e: PreflightError) -> Failure {
    match e {
        PreflightError::Missing(diags) => {
            print_diagnostics(&target.file, source, &diags);
            let region = clients.region.as_deref().unwrap_or("the configured region");
            Failure::user(anyhow::Error::new(PreflightError::Missing(diags))).hint(format!(
                "create them, or fix the stackfile; bosun looked in {region} with the current credentials' account"
            ))
        }
        PreflightError::Check(aws) => {
            let retryable = aws.is_retryable();
            let denied = aws.kind() == bosun_aws::ErrorKind::AccessDenied;
            let mut failure = aws_failure(anyhow::Error::new(PreflightError::Check(aws)), retryable);
            if denied {
                failure = failure.hint(
                    "the credentials may not read what the stackfile names; preflight reads EC2 subnets, \
                     security groups and VPCs, ACM certificates, IAM roles, and the metadata of Secrets Manager \
                     secrets and SSM parameters (see the README's Preflight section)",
                );
            }
            failure
        }
        PreflightError::Observe(aws) => aws_failure(
            anyhow::Error::new(aws).context(format!("could not read the live state of cluster {}", target.cluster)),
            false,
        ),
    }
}

fn aws_failure(error: anyhow::Error, retryable: bool) -> Failure {
    let hint = if retryable {
        "AWS failed on its side or throttled; run the command again"
    } else {
        "check the AWS environment: AWS_REGION, credentials, and AWS_ENDPOINT_URL for the local emulator"
    };
    // An AWS error we could not recover from is not the stackfile author's fault, but
    // neither is it a bug in bosun: keep it a user-level (exit 1) failure unless AWS
    // itself failed.
    Failure { error, hint: Some(hint.into()), internal: retryable, printed: false }
}

/// A plan as text for stdout: compact or full as `--diff` says, coloured as `--color`
/// says.
fn render(plan: &Plan, target: &Target) -> String {
    let diff = target.diff.mode(std::io::stdout().is_terminal());
    bosun_plan::render_text_with(plan, TextOptions { diff, color: stdout_color() })
}

async fn plan(args: PlanArgs) -> Result<ExitCode, Failure> {
    let (clients, _desired, _observed, plan) = observe_and_plan(&args.target).await?;
    match args.format {
        Format::Text => print!("{}", render(&plan, &args.target)),
        Format::Json => println!("{}", bosun_plan::render_json(&plan)),
        Format::Markdown => {
            let options = bosun_plan::MarkdownOptions::new(args.target.file.display().to_string());
            print!("{}", bosun_plan::render_markdown(&plan, &options));
        }
    }
    if args.target.stats {
        print_stats(&clients.stats);
    }
    if !plan.conflicts.is_empty() {
        // `apply` refuses this plan: so says the exit code, with or without
        // `--detailed-exitcode`.
        eprintln!(
            "error: {} conflict(s) with resources bosun does not own; `bosun apply` would refuse this plan",
            plan.conflicts.len()
        );
        eprintln!("hint: {}", plan.conflicts[0].reason);
        return Ok(ExitCode::from(EXIT_CONFLICTS));
    }
    if args.detailed_exitcode && !plan.is_empty() {
        return Ok(ExitCode::from(EXIT_CHANGES));
    }
    Ok(ExitCode::SUCCESS)
}

/// `bosun import`: read the cluster, write the stackfile. Reads only; the text goes to
/// the file or stdout, never to a log (it holds environment values).
async fn import(args: ImportArgs) -> Result<ExitCode, Failure> {
    use bosun_aws::import::{ImportReadError, ImportRequest, read_cluster};

    let clients = Clients::from_env().await;
    let request = ImportRequest {
        cluster: args.cluster.clone(),
        services: args.services.clone(),
        zone_ids: args.zone_ids.clone(),
    };
    let result = read_cluster(&clients, &request).await;
    if args.stats {
        print_stats(&clients.stats);
    }
    let live = result.map_err(|e| match e {
        ImportReadError::Aws(e) => {
            let retryable = e.is_retryable();
            aws_failure(anyhow::Error::new(e).context(format!("could not read cluster {}", args.cluster)), retryable)
        }
        e @ ImportReadError::NoCluster(_) => {
            Failure::user(e).hint("check the cluster name, and AWS_REGION (and AWS_ENDPOINT_URL for the emulator)")
        }
        e @ ImportReadError::NoSuchServices { .. } => {
            Failure::user(e).hint("`--services` takes the names of the cluster's ACTIVE services, comma-separated")
        }
        e @ ImportReadError::TooManyServices { .. } => {
            Failure::user(e).hint("import the cluster in parts with `--services`")
        }
    })?;
    let managed = live.managed.clone();
    let imported = bosun_stackfile::import::build(&live).map_err(|e| match e {
        bosun_stackfile::import::ImportError::NoServices if !managed.is_empty() => Failure::user(anyhow::anyhow!(
            "every service of cluster {} that was asked for is already managed by bosun ({})",
            args.cluster,
            managed.join(", ")
        ))
        .hint("a managed service needs no import: plan it with its own stackfile"),
        e @ bosun_stackfile::import::ImportError::NoServices => {
            Failure::user(anyhow::anyhow!("cluster {}: {e}", args.cluster))
        }
        e @ bosun_stackfile::import::ImportError::Invalid(_) => Failure::internal(e),
    })?;
    match &args.output {
        Some(path) => write_private(path, &imported.yaml)
            .with_context(|| format!("could not write {}", path.display()))
            .map_err(Failure::user)?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(imported.yaml.as_bytes()).and_then(|()| out.flush()).map_err(Failure::internal)?;
        }
    }
    if !managed.is_empty() {
        eprintln!("already managed by bosun, so not imported: {}", managed.join(", "));
    }
    eprintln!(
        "imported {} service(s) of cluster {}{}; {} comment(s) say what a stackfile cannot hold or what the plan would still change",
        imported.services.len(),
        args.cluster,
        args.output.as_ref().map(|p| format!(" into {}", p.display())).unwrap_or_default(),
        imported.notes
    );
    Ok(ExitCode::SUCCESS)
}

/// Write `text` to a file only its owner can read: it holds environment values.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

async fn apply(args: ApplyArgs) -> Result<ExitCode, Failure> {
    let (clients, desired, observed, plan) = observe_and_plan(&args.target).await?;
    print!("{}", render(&plan, &args.target));
    let _ = std::io::stdout().flush();

    let result = apply_plan(&args, &clients, &desired, &observed, &plan).await;
    if args.target.stats {
        print_stats(&clients.stats);
    }
    result
}

async fn apply_plan(
    args: &ApplyArgs,
    clients: &Clients,
    desired: &Desired,
    observed: &Observed,
    plan: &Plan,
) -> Result<ExitCode, Failure> {
    if let Some(expected) = &args.plan_hash
        && !plan.matches_hash(expected)
    {
        return Err(Failure::user(anyhow::anyhow!(
            "the plan changed since it was reviewed: it now has hash {}, not {expected}",
            plan.short_hash()
        ))
        .hint("run `bosun plan` again, review it, and apply with its new hash"));
    }
    if !plan.conflicts.is_empty() {
        return Err(Failure::user(anyhow::anyhow!(
            "{} conflict(s) with resources bosun does not own; nothing was changed",
            plan.conflicts.len()
        ))
        .hint(plan.conflicts[0].reason.clone()));
    }
    if plan.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if !args.auto_approve {
        confirm(&desired.cluster)?;
    }

    let opts = ApplyOptions {
        wait: !args.no_wait,
        timeout: args.timeout,
        poll_interval: args.poll_interval,
        concurrency: args.concurrency,
    };
    let progress = ApplyProgress::for_stderr(plan);
    let applied = bosun_aws::apply(clients, desired, observed, plan, &opts, &progress).await;
    progress.finish(applied.as_ref().ok());
    let report = applied.map_err(|e| {
        let retryable = e.is_retryable();
        let completed = if e.completed.is_empty() {
            "nothing was changed".to_owned()
        } else {
            format!("already changed: {}", e.completed.join(", "))
        };
        let hint = match &e.failure {
            ApplyFailure::Hook { .. } => {
                format!("{completed}; services were not changed after the failed hook. Fix the hook and apply again")
            }
            _ => format!("{completed}; fix the cause and apply again: bosun picks up where it stopped"),
        };
        Failure { error: anyhow::Error::new(e), hint: Some(hint), internal: retryable, printed: false }
    })?;

    let failed: Vec<String> =
        report.rollouts.iter().filter(|(_, o)| !o.is_success()).map(|(s, o)| format!("service {s}: {o}")).collect();
    if failed.is_empty() {
        eprintln!("applied {} change(s) to cluster {}", report.completed.len(), desired.cluster);
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Failure::user(anyhow::anyhow!("{} rollout(s) did not succeed: {}", failed.len(), failed.join("; ")))
            .hint("look at the service events above; fix the image or configuration and apply again"))
    }
}

fn confirm(cluster: &str) -> Result<(), Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::user(anyhow::anyhow!(
            "refusing to apply: stdin is not a terminal, so nobody can confirm"
        ))
        .hint("review the plan, then run again with --auto-approve (and --plan-hash to pin what you reviewed)"));
    }
    eprint!("apply these changes to cluster {cluster}? only 'yes' is accepted: ");
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer).map_err(Failure::internal)?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Failure::user(anyhow::anyhow!("apply cancelled; nothing was changed")))
    }
}
