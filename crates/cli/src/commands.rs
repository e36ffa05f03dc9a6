//! One function per command. They validate before any side effect: a stackfile is
//! loaded and checked before the first AWS call, and apply refuses conflicts and
//! stale plans before the first mutating call.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use bosun_aws::{ApplyFailure, ApplyOptions, Clients};
use bosun_plan::{Observed, Plan, Policy};
use bosun_stackfile::Desired;

use crate::cli::{
    ApiArgs, ApplyArgs, Cli, Command, Format, PlanArgs, Server, Target, TokenCommand,
};
use crate::output::{EXIT_CHANGES, Failure, TerminalProgress, print_stats};

/// Run a parsed command line.
pub async fn dispatch(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Validate { files } => validate(&files),
        Command::Schema => {
            let schema = serde_json::to_string_pretty(&bosun_stackfile::json_schema())
                .map_err(Failure::internal)?;
            println!("{schema}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan(args) => plan(args).await,
        Command::Apply(args) => apply(args).await,
        Command::Serve {
            server: Server::Api(args),
        } => serve_api(args).await,
        Command::Init { bucket, queue } => init(&bucket, &queue).await,
        Command::Token {
            command: TokenCommand::New { role, name },
        } => token_new(&role, &name),
    }
}

async fn serve_api(args: ApiArgs) -> Result<ExitCode, Failure> {
    let text = read(&args.tokens_file)?;
    let tokens = bosun_api::Tokens::parse(&text).map_err(|errors| {
        for e in &errors {
            eprintln!("{}:{e}", args.tokens_file.display());
        }
        Failure::user(anyhow::anyhow!("{} has {} invalid line(s)", args.tokens_file.display(), errors.len()))
            .hint("each line is `ROLE SHA256HEX NAME`; `bosun token new --role ROLE --name NAME` prints one")
    })?;
    if tokens.is_empty() {
        eprintln!(
            "warning: {} has no tokens: every /api/v1 request will get 401",
            args.tokens_file.display()
        );
    }
    let config = bosun_api::ApiConfig {
        listen: args.listen,
        bucket: args.bucket,
        queue: args.queue,
        tokens,
        cors_origins: args
            .cors_origin
            .into_iter()
            .filter(|o| !o.is_empty())
            .collect(),
    };
    bosun_api::serve(config, shutdown_signal())
        .await
        .map_err(|e| Failure::user(e).hint("check the AWS environment and `bosun init`"))?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
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
    tracing::info!("shutting down: finishing requests in flight");
}

async fn init(bucket: &str, queue: &str) -> Result<ExitCode, Failure> {
    if bosun_aws::queue::dead_letter_queue_name(queue).is_none() {
        return Err(
            Failure::user(anyhow::anyhow!("queue {queue:?} is not a FIFO queue name")).hint(
                format!("FIFO queue names end in `.fifo`, e.g. --queue {queue}.fifo"),
            ),
        );
    }
    let clients = Clients::from_env().await;
    let report = bosun_aws::queue::init(
        &clients.s3,
        &clients.sqs,
        clients.region.as_deref(),
        bucket,
        queue,
    )
    .await
    .map_err(|e| {
        aws_failure(
            anyhow::Error::new(e).context("could not set up the bucket and queues"),
            false,
        )
    })?;
    for line in &report.lines {
        println!("{line}");
    }
    println!("queue url: {}", report.queue_url);
    Ok(ExitCode::SUCCESS)
}

fn token_new(role: &str, name: &str) -> Result<ExitCode, Failure> {
    let role: bosun_api::Role = role
        .parse()
        .map_err(|e: String| Failure::user(anyhow::anyhow!(e)))?;
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(Failure::user(anyhow::anyhow!(
            "token name {name:?} must be non-empty and have no spaces"
        )));
    }
    let (token, line) = bosun_api::auth::new_token(role, name);
    println!("token: {token}");
    println!("line:  {line}");
    eprintln!(
        "add the line to the tokens file; the token itself is not stored anywhere, so keep it now"
    );
    Ok(ExitCode::SUCCESS)
}

fn validate(files: &[std::path::PathBuf]) -> Result<ExitCode, Failure> {
    let mut bad = 0usize;
    for file in files {
        let source = read(file)?;
        if let Err(diags) = bosun_stackfile::validate(&source) {
            bad += 1;
            print_diagnostics(file, &diags);
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
    std::fs::read_to_string(file)
        .with_context(|| format!("could not read {}", file.display()))
        .map_err(Failure::user)
}

fn print_diagnostics(file: &Path, diags: &bosun_stackfile::Diagnostics) {
    let mut err = std::io::stderr().lock();
    for d in &diags.0 {
        let _ = writeln!(
            err,
            "{}:{}:{}: {}: {}",
            file.display(),
            d.line,
            d.column,
            d.path,
            d.message
        );
    }
}

/// Load and validate the stackfile. Nothing touches AWS before this succeeds.
fn load(target: &Target) -> Result<Desired, Failure> {
    let source = read(&target.file)?;
    let mut desired = bosun_stackfile::load(&source, &target.cluster).map_err(|diags| {
        print_diagnostics(&target.file, &diags);
        Failure {
            error: anyhow::anyhow!(
                "{} is not a valid stackfile ({} error(s))",
                target.file.display(),
                diags.0.len()
            ),
            hint: Some(format!(
                "run `bosun validate {}` after fixing the errors above",
                target.file.display()
            )),
            internal: false,
            printed: false,
        }
    })?;
    if let Some(prune) = target.prune {
        desired.prune = prune;
    }
    Ok(desired)
}

async fn observe_and_plan(target: &Target) -> Result<(Clients, Desired, Observed, Plan), Failure> {
    let desired = load(target)?;
    let clients = Clients::from_env().await;
    let observed = bosun_aws::observe(&clients, &desired).await.map_err(|e| {
        aws_failure(
            anyhow::Error::new(e).context(format!(
                "could not read the live state of cluster {}",
                desired.cluster
            )),
            false,
        )
    })?;
    let plan = bosun_plan::plan(&desired, &observed, &Policy::from_desired(&desired));
    Ok((clients, desired, observed, plan))
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
    Failure {
        error,
        hint: Some(hint.into()),
        internal: retryable,
        printed: false,
    }
}

async fn plan(args: PlanArgs) -> Result<ExitCode, Failure> {
    let (clients, _desired, _observed, plan) = observe_and_plan(&args.target).await?;
    match args.format {
        Format::Text => print!("{}", bosun_plan::render_text(&plan)),
        Format::Json => println!("{}", bosun_plan::render_json(&plan)),
    }
    if args.target.stats {
        print_stats(&clients.stats);
    }
    if args.detailed_exitcode && !plan.is_empty() {
        return Ok(ExitCode::from(EXIT_CHANGES));
    }
    Ok(ExitCode::SUCCESS)
}

async fn apply(args: ApplyArgs) -> Result<ExitCode, Failure> {
    let (clients, desired, observed, plan) = observe_and_plan(&args.target).await?;
    print!("{}", bosun_plan::render_text(&plan));
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
    let progress = TerminalProgress::default();
    let report = bosun_aws::apply(clients, desired, observed, plan, &opts, &progress).await.map_err(|e| {
        let retryable = e.is_retryable();
        let completed = if e.completed.is_empty() {
            "nothing was changed".to_owned()
        } else {
            format!("already changed: {}", e.completed.join(", "))
        };
        let hint = match &e.failure {
            ApplyFailure::Hook { .. } => format!("{completed}; services were not changed after the failed hook. Fix the hook and apply again"),
            _ => format!("{completed}; fix the cause and apply again: bosun picks up where it stopped"),
        };
        Failure { error: anyhow::Error::new(e), hint: Some(hint), internal: retryable, printed: false }
    })?;

    for service in &report.not_waited {
        eprintln!("  {service}: rollout started; not waiting (--no-wait)");
    }
    let failed: Vec<String> = report
        .rollouts
        .iter()
        .filter(|(_, o)| !o.is_success())
        .map(|(s, o)| format!("service {s}: {o}"))
        .collect();
    if failed.is_empty() {
        eprintln!(
            "applied {} change(s) to cluster {}",
            report.completed.len(),
            desired.cluster
        );
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Failure::user(anyhow::anyhow!(
            "{} rollout(s) did not succeed: {}",
            failed.len(),
            failed.join("; ")
        ))
        .hint("look at the service events above; fix the image or configuration and apply again"))
    }
}

fn confirm(cluster: &str) -> Result<(), Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::user(anyhow::anyhow!("refusing to apply: stdin is not a terminal, so nobody can confirm"))
            .hint("review the plan, then run again with --auto-approve (and --plan-hash to pin what you reviewed)"));
    }
    eprint!("apply these changes to cluster {cluster}? only 'yes' is accepted: ");
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(Failure::internal)?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Failure::user(anyhow::anyhow!(
            "apply cancelled; nothing was changed"
        )))
    }
}
