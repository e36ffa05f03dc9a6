//! `bosun-fuzz`: runs the fuzzer for a while (`--seconds`), prints its seed, inputs per
//! second and what it found, and exits 1 when an input failed (saved under
//! `--crashes`). It runs the loop in a worker process and watches it, so that an input
//! that aborts the process (a stack overflow) is saved too. `--replay INDEX` runs one
//! input of a seed again.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bosun_fuzz::{Config, run};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "bosun-fuzz", about = "Fuzz the stackfile parser, planner, renderer and API bodies")]
struct Args {
    /// How long to run.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// The seed (default: from the clock); the same seed makes the same inputs.
    #[arg(long)]
    seed: Option<u64>,
    /// Where failing inputs are saved.
    #[arg(long, default_value = "fuzz-crashes")]
    crashes: PathBuf,
    /// An input slower than this many milliseconds (wall time) is a hang. Generous: a
    /// 1 MiB input goes through the parser about six times, which takes seconds in a
    /// debug build on a busy machine; an input that loops never finishes at all.
    #[arg(long, default_value_t = 30_000)]
    per_input_ms: u64,
    /// Send every n-th input to the API too (0: never).
    #[arg(long, default_value_t = 4)]
    api_every: u64,
    /// Run input INDEX of the seed alone, and print it.
    #[arg(long)]
    replay: Option<u64>,
    /// Run the loop in this process (what the supervisor starts).
    #[arg(long, hide = true)]
    worker: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let seed =
        args.seed.unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64));
    if let Some(index) = args.replay {
        return replay(seed, index);
    }
    let config = Config {
        seed,
        duration: Duration::from_secs(args.seconds),
        per_input: Duration::from_millis(args.per_input_ms),
        crashes: args.crashes.clone(),
        api_every: args.api_every,
        progress: None,
    };
    if args.worker {
        return worker(config);
    }
    supervise(&args, config)
}

/// Starts the worker and waits; saves the input in progress if it died of a signal.
fn supervise(args: &Args, config: Config) -> ExitCode {
    println!(
        "fuzz: seed {} for {}s (replay an input: bosun-fuzz --seed {} --replay INDEX)",
        config.seed, args.seconds, config.seed
    );
    let progress = std::env::temp_dir().join(format!("bosun-fuzz-{}-{}", std::process::id(), config.seed));
    let exe = std::env::current_exe().expect("the fuzzer has a path");
    let status = Command::new(exe)
        .args(["--worker", "--seed", &config.seed.to_string(), "--seconds", &args.seconds.to_string()])
        .args(["--per-input-ms", &args.per_input_ms.to_string(), "--api-every", &args.api_every.to_string()])
        .arg("--crashes")
        .arg(&config.crashes)
        .env("BOSUN_FUZZ_PROGRESS", &progress)
        .status();
    let code = match status {
        Ok(s) if s.code().is_some() => ExitCode::from(s.code().unwrap_or(1).clamp(0, 255) as u8),
        Ok(s) => {
            // Killed by a signal: an abort. The progress file says which input.
            let index = std::fs::read_to_string(&progress).ok().and_then(|t| t.trim().parse::<u64>().ok());
            eprintln!("fuzz: the worker died ({s}) on input {index:?}");
            if let Some(index) = index {
                let text = bosun_fuzz::input(config.seed, index, &bosun_fuzz::corpus::seeds());
                match bosun_fuzz::runner::save(&config.crashes, "abort", config.seed, index, &text, &s.to_string()) {
                    Ok(file) => eprintln!("fuzz: saved to {}", file.display()),
                    Err(e) => eprintln!("fuzz: could not save the input: {e}"),
                }
            }
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("fuzz: could not start the worker: {e}");
            ExitCode::from(1)
        }
    };
    let _ = std::fs::remove_file(&progress);
    code
}

fn worker(mut config: Config) -> ExitCode {
    config.progress = std::env::var_os("BOSUN_FUZZ_PROGRESS").map(PathBuf::from);
    // The stack of a tokio worker thread, where the API and the scheduler parse and
    // plan: an input that needs more must be refused, not crash a server.
    let loop_config = config.clone();
    let joined = std::thread::Builder::new()
        .name("fuzz".into())
        .stack_size(2 << 20)
        .spawn(move || run(&loop_config))
        .map(|h| h.join());
    let report = match joined {
        Ok(Ok(Ok(r))) => r,
        Ok(Err(_)) => {
            eprintln!("fuzz: the loop panicked outside an input");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("fuzz: could not start the loop: {e}");
            return ExitCode::from(1);
        }
        Ok(Ok(Err(e))) => {
            eprintln!("fuzz: could not run: {e:#}");
            return ExitCode::from(1);
        }
    };
    let secs = report.elapsed.as_secs_f64();
    println!(
        "fuzz: {} inputs in {:.1}s ({:.0}/s), {} valid and planned, {} API requests, slowest input {:.0?}",
        report.inputs,
        secs,
        report.inputs as f64 / secs.max(1e-9),
        report.valid,
        report.requests,
        report.slowest
    );
    if report.crashes.is_empty() {
        println!("fuzz: seed {}: no failure", config.seed);
        ExitCode::SUCCESS
    } else {
        println!(
            "fuzz: seed {}: {} failing input(s) in {}",
            config.seed,
            report.crashes.len(),
            config.crashes.display()
        );
        ExitCode::from(1)
    }
}

fn replay(seed: u64, index: u64) -> ExitCode {
    let text = bosun_fuzz::input(seed, index, &bosun_fuzz::corpus::seeds());
    println!("{text}");
    match bosun_fuzz::targets::stackfile(&text) {
        Ok(valid) => {
            eprintln!("fuzz: input {index} of seed {seed}: fine (valid: {valid})");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("fuzz: input {index} of seed {seed}: {why}");
            ExitCode::from(1)
        }
    }
}
