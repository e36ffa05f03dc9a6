//! The fuzzing loop: inputs in order, each on every target, until the time is up.
//!
//! A panic is caught and its input saved; the loop goes on. A hang (an input slower
//! than the per-input bound) is found by a watchdog thread, which saves the input and
//! ends the process: the stuck thread cannot be stopped. An abort (a stack overflow)
//! ends the process too; the index of the input in progress is kept in a file, so the
//! supervising process (`bosun-fuzz` without `--worker`) saves that input afterwards.

use std::fs;
use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng as _;
use rand::rngs::StdRng;

use crate::{corpus, mutate, targets};

/// One run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The seed: the same seed gives the same inputs.
    pub seed: u64,
    /// How long to run.
    pub duration: Duration,
    /// An input that takes longer than this is a hang.
    pub per_input: Duration,
    /// Where failing inputs are saved (created when one is found).
    pub crashes: PathBuf,
    /// Send every n-th input to the API as well (0: never).
    pub api_every: u64,
    /// Where the index of the input in progress is kept, for the supervisor.
    pub progress: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Inputs tried.
    pub inputs: u64,
    /// Inputs that loaded (and were planned and rendered).
    pub valid: u64,
    /// API requests sent.
    pub requests: u64,
    /// Failing inputs, as the files they were saved to.
    pub crashes: Vec<PathBuf>,
    /// How long the run took.
    pub elapsed: Duration,
    /// The slowest input.
    pub slowest: Duration,
}

/// Input `index` of the run with `seed`: its own generator, so one input can be made
/// again without the others.
pub fn input(seed: u64, index: u64, seeds: &[String]) -> String {
    let mut rng = StdRng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    mutate::input(&mut rng, seeds)
}

/// The input in progress, for the watchdog.
#[derive(Default)]
struct Current {
    started: Option<Instant>,
    index: u64,
    text: Arc<String>,
}

/// Runs until `config.duration` has passed; `Err` only when the run cannot start.
pub fn run(config: &Config) -> anyhow::Result<Report> {
    let seeds = corpus::seeds();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let api = runtime.block_on(targets::Api::new())?;
    let current = Arc::new(Mutex::new(Current::default()));
    spawn_watchdog(config.clone(), current.clone());
    let mut progress = match &config.progress {
        Some(p) => Some(fs::File::create(p)?),
        None => None,
    };
    // Panics are caught and reported here, not printed by the default hook.
    let message = Arc::new(Mutex::new(String::new()));
    let sink = message.clone();
    std::panic::set_hook(Box::new(move |info| {
        *sink.lock().unwrap_or_else(|e| e.into_inner()) = info.to_string();
    }));

    let start = Instant::now();
    let mut report = Report::default();
    let mut index = 0u64;
    while start.elapsed() < config.duration {
        let text = Arc::new(input(config.seed, index, &seeds));
        if let Some(file) = &mut progress {
            file.seek(SeekFrom::Start(0))?;
            file.write_all(format!("{index:020}\n").as_bytes())?;
        }
        *current.lock().unwrap_or_else(|e| e.into_inner()) =
            Current { started: Some(Instant::now()), index, text: text.clone() };
        let began = Instant::now();
        let api_too = config.api_every > 0 && index.is_multiple_of(config.api_every);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let valid = targets::stackfile(&text)?;
            let requests = if api_too { runtime.block_on(api.send(&text, valid))? } else { 0 };
            Ok::<_, targets::Violation>(targets::Outcome { valid, requests })
        }));
        current.lock().unwrap_or_else(|e| e.into_inner()).started = None;
        report.slowest = report.slowest.max(began.elapsed());
        let failure = match outcome {
            Ok(Ok(o)) => {
                report.valid += u64::from(o.valid);
                report.requests += u64::from(o.requests);
                None
            }
            Ok(Err(violation)) => Some(("violation", violation)),
            Err(_) => Some(("panic", message.lock().unwrap_or_else(|e| e.into_inner()).clone())),
        };
        if let Some((kind, why)) = failure {
            let file = save(&config.crashes, kind, config.seed, index, &text, &why)?;
            eprintln!("fuzz: {kind} on input {index}, saved to {}: {}", file.display(), first_line(&why));
            report.crashes.push(file);
        }
        index += 1;
    }
    let _ = std::panic::take_hook();
    report.inputs = index;
    report.elapsed = start.elapsed();
    Ok(report)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// Ends the process when an input runs longer than the bound, after saving it.
fn spawn_watchdog(config: Config, current: Arc<Mutex<Current>>) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let cur = current.lock().unwrap_or_else(|e| e.into_inner());
            let Some(started) = cur.started else { continue };
            if started.elapsed() > config.per_input {
                let why = format!("input {} ran longer than {:?}", cur.index, config.per_input);
                let saved = save(&config.crashes, "hang", config.seed, cur.index, &cur.text, &why);
                eprintln!("fuzz: {why}; saved to {saved:?}");
                eprintln!(
                    "fuzz: seed {} (replay: bosun-fuzz --seed {} --replay {})",
                    config.seed, config.seed, cur.index
                );
                std::process::exit(3);
            }
        }
    });
}

/// Saves a failing input as `<kind>-<seed>-<index>.yml`, with the reason beside it.
pub fn save(dir: &Path, kind: &str, seed: u64, index: u64, text: &str, why: &str) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let file = dir.join(format!("{kind}-{seed}-{index}.yml"));
    fs::write(&file, text)?;
    fs::write(file.with_extension("txt"), format!("{why}\n"))?;
    Ok(file)
}
