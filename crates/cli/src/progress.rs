//! `bosun apply`'s progress on stderr: a line log when stderr is not a terminal (CI
//! logs, pipes, files), and a live view with one line per service, redrawn in place,
//! when it is.
//!
//! The live view keeps ECS's service events out of the way: it holds the last few of
//! each service and prints them under the lines only for a rollout that did not
//! succeed. What each line says is worked out by a [`Board`], plain data driven by the
//! apply's events; the indicatif bars only draw it, so the texts are tested without a
//! terminal.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bosun_aws::ApplyReport;
use bosun_aws::progress::{Progress, ProgressEvent, RolloutOutcome};
use bosun_plan::{Action, Change, Kind, Plan};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// The ECS events kept per service, to show under the lines when its rollout fails.
const EVENTS_KEPT: usize = 5;

/// How often a running line's spinner and elapsed time are redrawn.
const TICK: Duration = Duration::from_millis(125);

/// The widest label column: a longer label pushes its own line's columns instead.
const MAX_LABEL_WIDTH: usize = 32;

/// The spinner of a running line; the last string is never shown (an ended line
/// shows its outcome's symbol in that column instead).
const SPINNER: [&str; 11] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", " "];

/// The progress of one `bosun apply`, whichever way it is shown.
pub enum ApplyProgress {
    /// Stderr is not a terminal: a line log, as CI logs and scripts have always read it.
    Lines(LineProgress),
    /// Stderr is a terminal: one line per service, redrawn in place.
    Live(LiveProgress),
}

impl ApplyProgress {
    /// The live view when stderr is a terminal, the line log otherwise.
    pub fn for_stderr(plan: &Plan) -> Self {
        if std::io::stderr().is_terminal() {
            ApplyProgress::Live(LiveProgress::new(plan, ProgressDrawTarget::stderr()))
        } else {
            ApplyProgress::Lines(LineProgress::default())
        }
    }

    /// The apply returned: its `report`, or `None` when it failed (its error is
    /// printed after this). Ends every line and prints what is left to say.
    pub fn finish(&self, report: Option<&ApplyReport>) {
        match self {
            ApplyProgress::Lines(lines) => lines.finish(report),
            ApplyProgress::Live(live) => live.finish(report),
        }
    }
}

impl Progress for ApplyProgress {
    fn event(&self, event: ProgressEvent<'_>) {
        match self {
            ApplyProgress::Lines(lines) => lines.event(event),
            ApplyProgress::Live(live) => live.event(event),
        }
    }
}

/// The line log: one line per finished change, one per service whenever its rollout
/// state changes, and every ECS service event. Scripts and tests read these lines, so
/// they do not change.
#[derive(Default)]
pub struct LineProgress {
    /// The last rollout line of each service, so an unchanged state is not repeated.
    last: Mutex<BTreeMap<String, String>>,
}

impl LineProgress {
    fn finish(&self, report: Option<&ApplyReport>) {
        for service in report.map_or(&[][..], |r| &r.not_waited[..]) {
            eprintln!("  {service}: rollout started; not waiting (--no-wait)");
        }
    }
}

impl Progress for LineProgress {
    fn event(&self, event: ProgressEvent<'_>) {
        let mut err = std::io::stderr().lock();
        match event {
            ProgressEvent::Started(_) | ProgressEvent::RolloutStarted { .. } => {}
            ProgressEvent::Done(c) => {
                let _ = writeln!(err, "{} {} ... done", c.action.marker(), c.resource);
            }
            ProgressEvent::Rollout { service, running, desired, state } => {
                let line = format!("{running}/{desired} tasks running ({state})");
                let mut last = self.last.lock().expect("progress lock is never poisoned");
                if last.get(service) != Some(&line) {
                    let _ = writeln!(err, "  {service}: {line}");
                    last.insert(service.to_owned(), line);
                }
            }
            ProgressEvent::ServiceEvent { service, message } => {
                let _ = writeln!(err, "  {service}: {message}");
            }
            ProgressEvent::RolloutDone { service, outcome } => {
                let _ = writeln!(err, "  {service}: rollout {outcome}");
            }
        }
    }
}

/// The live view: a [`Board`] drawn as one indicatif bar per line.
pub struct LiveProgress {
    /// The bars draw through it, and it keeps them together at the bottom of the screen.
    multi: MultiProgress,
    /// The board and its bars: events arrive from the apply's concurrent chains.
    inner: Mutex<Live>,
}

/// The board and its bars, changed together under one lock.
struct Live {
    /// What the lines say.
    board: Board,
    /// One bar per line of the board, by index.
    bars: Vec<ProgressBar>,
    /// What each bar shows now, so a bar is restyled only when its line changed.
    shown: Vec<Option<LineView>>,
}

impl LiveProgress {
    /// The view of `plan`'s lines, all waiting, drawn to `target`.
    pub fn new(plan: &Plan, target: ProgressDrawTarget) -> Self {
        let multi = MultiProgress::with_draw_target(target);
        let mut live = Live { board: Board::new(&plan.changes), bars: Vec::new(), shown: Vec::new() };
        live.sync(&multi, Instant::now());
        LiveProgress { multi, inner: Mutex::new(live) }
    }

    fn event(&self, event: ProgressEvent<'_>) {
        let now = Instant::now();
        let mut live = self.inner.lock().expect("progress lock is never poisoned");
        let board = &mut live.board;
        match event {
            ProgressEvent::Started(change) => board.started(change, now),
            ProgressEvent::Done(change) => board.done(change, now),
            ProgressEvent::RolloutStarted { service } => board.rollout_started(service, now),
            ProgressEvent::Rollout { service, running, desired, .. } => board.rollout(service, running, desired, now),
            ProgressEvent::ServiceEvent { service, message } => board.service_event(service, message, now),
            ProgressEvent::RolloutDone { service, outcome } => board.rollout_done(service, outcome, now),
        }
        live.sync(&self.multi, now);
    }

    fn finish(&self, report: Option<&ApplyReport>) {
        let now = Instant::now();
        let mut live = self.inner.lock().expect("progress lock is never poisoned");
        live.board.finish(report, now);
        live.sync(&self.multi, now);
        // Every bar has ended and stays on the screen (a finished bar is left drawn, and
        // dropping the `MultiProgress` clears nothing); what follows is printed under it,
        // from the start of a line: indicatif leaves the cursor on its last line.
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err);
        for (service, events) in live.board.events_to_show() {
            let _ = writeln!(err, "\nthe last ECS events of service {service}:");
            for message in events {
                let _ = writeln!(err, "  {message}");
            }
        }
    }
}

impl Live {
    /// Make the bars show the board: add the bars of new lines, restyle changed ones.
    fn sync(&mut self, multi: &MultiProgress, now: Instant) {
        let width = self.board.width;
        for (i, line) in self.board.lines.iter().enumerate() {
            if i == self.bars.len() {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_prefix(format!("{:<width$}", line.label));
                self.bars.push(bar);
                self.shown.push(None);
            }
            let view = line.view();
            if self.shown[i].as_ref() == Some(&view) {
                continue;
            }
            let bar = &self.bars[i];
            let was_running = matches!(self.shown[i], Some(LineView::Running { .. }));
            match &view {
                LineView::Waiting => {
                    bar.set_style(fixed_style("", "dim"));
                    bar.set_message("· waiting");
                    bar.tick();
                }
                LineView::Running { phase, since } => {
                    if !was_running {
                        bar.reset_elapsed();
                        bar.set_style(running_style(now.saturating_duration_since(*since)));
                        bar.enable_steady_tick(TICK);
                    }
                    bar.set_message(phase.clone());
                }
                LineView::Ended { elapsed, end } => {
                    let (symbol, text, tone) = end.parts();
                    bar.set_style(fixed_style(&elapsed_text(*elapsed), tone.colour()));
                    bar.finish_with_message(format!("{symbol} {text}"));
                }
            }
            self.shown[i] = Some(view);
        }
    }
}

/// The style of a running line: its label, the time since it started (`before` had
/// passed when the bar was set up), the spinner and the phase.
fn running_style(before: Duration) -> ProgressStyle {
    ProgressStyle::with_template("  {prefix}  {elapsed_s}  {spinner:.cyan} {wide_msg}")
        .expect("the running template parses")
        .tick_strings(&SPINNER)
        .with_key("elapsed_s", move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:>5}", elapsed_text(before + state.elapsed()));
        })
}

/// The style of a line that is not running: its label, a fixed time column, and the
/// message in `colour` (a `console` colour name; `NO_COLOR` turns colours off).
fn fixed_style(elapsed: &str, colour: &str) -> ProgressStyle {
    ProgressStyle::with_template(&format!("  {{prefix}}  {elapsed:>5}  {{wide_msg:.{colour}}}"))
        .expect("the fixed template parses")
}

/// A duration as the live view shows it: `9s`, `1m05s`, `1h02m`.
fn elapsed_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// What the live view shows, as data: one line per service of the plan, and one per
/// change that belongs to no service (the cluster, load balancers, listeners, ...).
#[derive(Debug)]
pub struct Board {
    /// In the order shown: the changes that belong to no service in plan order (which
    /// is dependency order), then the services by name.
    lines: Vec<Line>,
    /// The label column: the longest label of the plan, so the columns line up from
    /// the first screen.
    width: usize,
}

/// One line of the board.
#[derive(Debug)]
struct Line {
    /// A service's name, or `<marker> <resource>` of a change that belongs to no
    /// service.
    label: String,
    /// Whether this is a service's line: rollouts and ECS events land on it, and its
    /// phases name what the change does to the service.
    service: bool,
    /// The plan's changes on this line that have not finished. The line can end only
    /// when none is left, so a service whose post-deploy hook is still to run does not
    /// show its rollout's outcome as its end.
    remaining: usize,
    /// Changes of the line running now: a service's changes of one stage may overlap.
    running: usize,
    /// What the line is doing: the last change that started, or the rollout.
    phase: Phase,
    /// A deployment was started and has not ended: the line waits for it.
    rolling: bool,
    /// The rollout's outcome, once it succeeded and the line still has changes to run.
    rolled_out: Option<RolloutOutcome>,
    /// The service change is a delete, so the line ends `deleted` rather than `done`.
    deletes: bool,
    /// When the first change started; the elapsed time counts from here.
    started: Option<Instant>,
    /// How the line ended, and when.
    end: Option<(End, Instant)>,
    /// The service's last ECS events, shown when its rollout did not succeed.
    events: Ring,
}

/// What a running line is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Nothing runs: before its first change, or between stages of the apply.
    Waiting,
    /// A change runs.
    Change {
        /// What is changed.
        kind: Kind,
        /// How.
        action: Action,
    },
    /// A deployment started; no rollout state read yet.
    RolloutStarted,
    /// A deployment is rolling out.
    RollingOut {
        /// Running tasks of the new deployment.
        running: i32,
        /// Desired tasks of the new deployment.
        desired: i32,
    },
}

/// How a line ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// The service's rollout ended.
    Rollout(RolloutOutcome),
    /// Every change of the line is done and there was no rollout to wait for.
    Done,
    /// The service was deleted.
    Deleted,
    /// The rollout started and `--no-wait` does not wait for it.
    NotWaited,
    /// A change of the line failed; the apply's error follows the lines.
    Failed {
        /// What the line was doing.
        phase: String,
    },
    /// The apply stopped (another change failed) before this line finished.
    Stopped {
        /// A deployment had started and was not waited for.
        rolling: bool,
        /// Whether any change of the line had run.
        started: bool,
    },
}

/// How an ending reads: good, bad, a warning, or nothing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Good,
    Bad,
    Warn,
    Quiet,
}

impl Tone {
    /// The `console` colour of the ending's text.
    fn colour(self) -> &'static str {
        match self {
            Tone::Good => "green",
            Tone::Bad => "red",
            Tone::Warn => "yellow",
            Tone::Quiet => "dim",
        }
    }
}

/// What one line shows at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LineView {
    /// Nothing of the line has started.
    Waiting,
    /// The line runs: a spinner, the time since `since`, and the phase.
    Running {
        /// The phase as shown (`rolling out 1/3`).
        phase: String,
        /// When the line's first change started.
        since: Instant,
    },
    /// The line ended after `elapsed`.
    Ended {
        /// From its first change to its end.
        elapsed: Duration,
        /// How.
        end: End,
    },
}

/// The last [`EVENTS_KEPT`] ECS events of a service, oldest first.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Ring(VecDeque<String>);

impl Ring {
    fn push(&mut self, message: &str) {
        if self.0.len() == EVENTS_KEPT {
            self.0.pop_front();
        }
        self.0.push_back(message.to_owned());
    }

    fn messages(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// The label of a change's line: the service it belongs to, or the change itself.
fn label(change: &Change) -> String {
    match &change.service {
        Some(service) => service.clone(),
        None => format!("{} {}", change.action.marker(), change.resource),
    }
}

/// What a change does, as a verb.
fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Adopt => "adopting",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
        Action::Run => "running",
    }
}

impl Phase {
    /// The phase as a service's line (`service`) or a change's own line shows it.
    fn text(&self, service: bool) -> String {
        match self {
            Phase::Waiting => "waiting".to_owned(),
            Phase::Change { kind, action } if !service => verb(*action).to_owned(),
            Phase::Change { kind: Kind::TaskDefinition, action: Action::Delete } => "deregistering".to_owned(),
            Phase::Change { kind: Kind::TaskDefinition, .. } => "registering".to_owned(),
            Phase::Change { kind: Kind::Service, action } => verb(*action).to_owned(),
            Phase::Change { kind: Kind::PreHook, .. } => "pre-deploy hook".to_owned(),
            Phase::Change { kind: Kind::PostHook, .. } => "post-deploy hook".to_owned(),
            Phase::Change { kind, action } => format!("{} {}", verb(*action), kind.label()),
            Phase::RolloutStarted => "rollout started".to_owned(),
            Phase::RollingOut { running, desired } => format!("rolling out {running}/{desired}"),
        }
    }
}

impl End {
    /// Its symbol, its text, and how it reads.
    fn parts(&self) -> (&'static str, String, Tone) {
        match self {
            End::Rollout(outcome @ RolloutOutcome::Succeeded) => ("✓", outcome.to_string(), Tone::Good),
            End::Rollout(outcome @ (RolloutOutcome::RolledBack { .. } | RolloutOutcome::Failed { .. })) => {
                ("✗", outcome.to_string(), Tone::Bad)
            }
            End::Rollout(outcome @ RolloutOutcome::TimedOut { .. }) => ("⧗", outcome.to_string(), Tone::Warn),
            End::Done => ("✓", "done".to_owned(), Tone::Good),
            End::Deleted => ("✓", "deleted".to_owned(), Tone::Good),
            End::NotWaited => ("→", "rollout started; not waiting (--no-wait)".to_owned(), Tone::Quiet),
            End::Failed { phase } => ("✗", format!("failed while {phase} (the error follows)"), Tone::Bad),
            End::Stopped { rolling: true, .. } => {
                ("·", "rollout started; not waited for, the apply stopped".to_owned(), Tone::Warn)
            }
            End::Stopped { started: true, .. } => ("·", "stopped: the apply failed elsewhere".to_owned(), Tone::Warn),
            End::Stopped { .. } => ("·", "not started: the apply stopped".to_owned(), Tone::Quiet),
        }
    }

    /// Whether the service's last ECS events explain this end: a rollout that did not
    /// succeed. A failed change has its own error; a success needs no explaining.
    fn shows_events(&self) -> bool {
        matches!(self, End::Rollout(outcome) if !outcome.is_success())
    }
}

impl Line {
    fn new(label: String, service: bool) -> Self {
        Line {
            label,
            service,
            remaining: 0,
            running: 0,
            phase: Phase::Waiting,
            rolling: false,
            rolled_out: None,
            deletes: false,
            started: None,
            end: None,
            events: Ring::default(),
        }
    }

    fn view(&self) -> LineView {
        match (&self.end, self.started) {
            (Some((end, at)), since) => LineView::Ended {
                elapsed: since.map_or(Duration::ZERO, |s| at.saturating_duration_since(s)),
                end: end.clone(),
            },
            (None, Some(since)) => LineView::Running { phase: self.phase.text(self.service), since },
            (None, None) => LineView::Waiting,
        }
    }

    fn end(&mut self, end: End, now: Instant) {
        if self.end.is_none() {
            self.end = Some((end, now));
        }
    }

    /// End the line if nothing of it is left to run or to wait for.
    fn end_if_settled(&mut self, now: Instant) {
        if self.remaining > 0 || self.running > 0 || self.rolling {
            return;
        }
        let end = match self.rolled_out.take() {
            Some(outcome) => End::Rollout(outcome),
            None if self.deletes => End::Deleted,
            None => End::Done,
        };
        self.end(end, now);
    }
}

impl Board {
    /// A board of `changes` (a plan's), every line waiting.
    pub fn new(changes: &[Change]) -> Self {
        let mut lines: Vec<Line> = Vec::new();
        let mut services: BTreeMap<&str, Line> = BTreeMap::new();
        for change in changes {
            let line = match &change.service {
                Some(service) => services.entry(service.as_str()).or_insert_with(|| Line::new(service.clone(), true)),
                None => {
                    lines.push(Line::new(label(change), false));
                    lines.last_mut().expect("just pushed")
                }
            };
            line.remaining += 1;
            line.deletes |= change.resource.kind == Kind::Service && change.action == Action::Delete;
        }
        lines.extend(services.into_values());
        let width = lines.iter().map(|l| l.label.chars().count()).max().unwrap_or(0).min(MAX_LABEL_WIDTH);
        Board { lines, width }
    }

    /// The line of `label`, added if the plan did not have it (it always has).
    fn line(&mut self, label: &str, service: bool) -> &mut Line {
        let i = match self.lines.iter().position(|l| l.label == label && l.service == service) {
            Some(i) => i,
            None => {
                self.lines.push(Line::new(label.to_owned(), service));
                self.lines.len() - 1
            }
        };
        &mut self.lines[i]
    }

    fn change_line(&mut self, change: &Change) -> &mut Line {
        self.line(&label(change), change.service.is_some())
    }

    fn started(&mut self, change: &Change, now: Instant) {
        let line = self.change_line(change);
        line.started.get_or_insert(now);
        line.running += 1;
        line.phase = Phase::Change { kind: change.resource.kind, action: change.action };
    }

    fn done(&mut self, change: &Change, now: Instant) {
        let line = self.change_line(change);
        line.running = line.running.saturating_sub(1);
        line.remaining = line.remaining.saturating_sub(1);
        if line.running == 0 {
            line.phase = if line.rolling { Phase::RolloutStarted } else { Phase::Waiting };
        }
        line.end_if_settled(now);
    }

    fn rollout_started(&mut self, service: &str, now: Instant) {
        let line = self.line(service, true);
        line.started.get_or_insert(now);
        line.rolling = true;
    }

    fn rollout(&mut self, service: &str, running: i32, desired: i32, now: Instant) {
        let line = self.line(service, true);
        line.started.get_or_insert(now);
        line.phase = Phase::RollingOut { running, desired };
    }

    fn service_event(&mut self, service: &str, message: &str, _now: Instant) {
        self.line(service, true).events.push(message);
    }

    fn rollout_done(&mut self, service: &str, outcome: &RolloutOutcome, now: Instant) {
        let line = self.line(service, true);
        line.started.get_or_insert(now);
        line.rolling = false;
        if outcome.is_success() {
            // A post-deploy hook may still run: the line ends after it.
            line.rolled_out = Some(outcome.clone());
            line.phase = Phase::Waiting;
            line.end_if_settled(now);
        } else {
            // The apply runs nothing more of a service whose rollout failed.
            line.end(End::Rollout(outcome.clone()), now);
        }
    }

    /// The apply returned `report` (`None`: it failed): end every line still open.
    fn finish(&mut self, report: Option<&ApplyReport>, now: Instant) {
        let not_waited: BTreeSet<&str> =
            report.map(|r| r.not_waited.iter().map(String::as_str).collect()).unwrap_or_default();
        for line in &mut self.lines {
            if line.end.is_some() {
                continue;
            }
            let end = if line.running > 0 {
                // A change that started and did not finish is the one that failed.
                End::Failed { phase: line.phase.text(line.service) }
            } else if line.service && not_waited.contains(line.label.as_str()) {
                End::NotWaited
            } else if report.is_some() && line.remaining == 0 && !line.rolling {
                line.rolled_out.take().map_or(End::Done, End::Rollout)
            } else {
                End::Stopped { rolling: line.rolling, started: line.started.is_some() }
            };
            line.end(end, now);
        }
    }

    /// The services whose rollout did not succeed, with their last ECS events.
    fn events_to_show(&self) -> Vec<(&str, Vec<&str>)> {
        self.lines
            .iter()
            .filter(|l| l.end.as_ref().is_some_and(|(end, _)| end.shows_events()) && !l.events.0.is_empty())
            .map(|l| (l.label.as_str(), l.events.messages().collect()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use bosun_plan::{Resource, Step};

    use super::*;

    fn change(kind: Kind, name: &str, action: Action, service: Option<&str>) -> Change {
        Change {
            resource: Resource { kind, name: name.to_owned() },
            action,
            service: service.map(str::to_owned),
            fields: Vec::new(),
            diff: None,
            // The board reads the resource, the action and the service, never the step.
            step: Step::CreateCluster { name: name.to_owned(), settings: None },
        }
    }

    /// A bump of `services`' images: a task definition and a service update each.
    fn bump(services: &[&str]) -> Vec<Change> {
        let mut changes: Vec<Change> = services
            .iter()
            .map(|s| change(Kind::TaskDefinition, &format!("demo-{s}"), Action::Create, Some(s)))
            .collect();
        changes.extend(services.iter().map(|s| change(Kind::Service, s, Action::Update, Some(s))));
        changes
    }

    fn texts(board: &Board, now: Instant) -> Vec<String> {
        board
            .lines
            .iter()
            .map(|l| match l.view() {
                LineView::Waiting => format!("{}: · waiting", l.label),
                LineView::Running { phase, since } => {
                    format!("{}: {} {phase}", l.label, elapsed_text(now.saturating_duration_since(since)))
                }
                LineView::Ended { elapsed, end } => {
                    let (symbol, text, _) = end.parts();
                    format!("{}: {} {symbol} {text}", l.label, elapsed_text(elapsed))
                }
            })
            .collect()
    }

    #[test]
    fn a_service_goes_from_registering_to_its_rollout_outcome() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let changes = bump(&["api", "worker"]);
        let mut board = Board::new(&changes);
        assert_eq!(texts(&board, t0), ["api: · waiting", "worker: · waiting"]);

        board.started(&changes[0], at(0));
        assert_eq!(texts(&board, at(1)), ["api: 1s registering", "worker: · waiting"]);
        board.done(&changes[0], at(1));
        assert_eq!(texts(&board, at(1))[0], "api: 1s waiting");
        board.started(&changes[2], at(2));
        assert_eq!(texts(&board, at(2))[0], "api: 2s updating");
        board.rollout_started("api", at(2));
        board.done(&changes[2], at(2));
        assert_eq!(texts(&board, at(2))[0], "api: 2s rollout started");
        board.rollout("api", 1, 3, at(3));
        assert_eq!(texts(&board, at(3))[0], "api: 3s rolling out 1/3");
        board.rollout_done("api", &RolloutOutcome::Succeeded, at(14));
        // The end freezes the time.
        assert_eq!(texts(&board, at(99))[0], "api: 14s ✓ succeeded");
    }

    #[test]
    fn a_post_deploy_hook_runs_before_the_line_shows_the_rollout_outcome() {
        let t0 = Instant::now();
        let mut changes = bump(&["app"]);
        changes.push(change(Kind::PostHook, "seed of service app", Action::Run, Some("app")));
        let mut board = Board::new(&changes);
        for c in &changes[..2] {
            board.started(c, t0);
            if c.resource.kind == Kind::Service {
                board.rollout_started("app", t0);
            }
            board.done(c, t0);
        }
        board.rollout_done("app", &RolloutOutcome::Succeeded, t0);
        assert_eq!(texts(&board, t0), ["app: 0s waiting"]);
        board.started(&changes[2], t0);
        assert_eq!(texts(&board, t0), ["app: 0s post-deploy hook"]);
        board.done(&changes[2], t0 + Duration::from_secs(65));
        assert_eq!(texts(&board, t0), ["app: 1m05s ✓ succeeded"]);
    }

    #[test]
    fn phases_name_what_the_change_does() {
        let service = |kind, action| Phase::Change { kind, action }.text(true);
        assert_eq!(service(Kind::TaskDefinition, Action::Create), "registering");
        assert_eq!(service(Kind::Service, Action::Create), "creating");
        assert_eq!(service(Kind::Service, Action::Update), "updating");
        assert_eq!(service(Kind::Service, Action::Delete), "deleting");
        assert_eq!(service(Kind::PreHook, Action::Run), "pre-deploy hook");
        assert_eq!(service(Kind::PostHook, Action::Run), "post-deploy hook");
        assert_eq!(service(Kind::TargetGroup, Action::Create), "creating target group");
        assert_eq!(service(Kind::Record, Action::Update), "updating dns record");
        // A change's own line already names the resource.
        assert_eq!(Phase::Change { kind: Kind::LoadBalancer, action: Action::Create }.text(false), "creating");
        assert_eq!(Phase::RollingOut { running: 1, desired: 3 }.text(true), "rolling out 1/3");
    }

    #[test]
    fn each_end_has_its_symbol() {
        let parts = |end: End| {
            let (symbol, text, tone) = end.parts();
            (format!("{symbol} {text}"), tone)
        };
        let reason = "ECS deployment circuit breaker: tasks failed to start.".to_owned();
        assert_eq!(parts(End::Rollout(RolloutOutcome::Succeeded)), ("✓ succeeded".into(), Tone::Good));
        assert_eq!(
            parts(End::Rollout(RolloutOutcome::RolledBack { reason: reason.clone() })),
            (format!("✗ rolled back by the circuit breaker: {reason}"), Tone::Bad)
        );
        assert_eq!(
            parts(End::Rollout(RolloutOutcome::Failed { reason: reason.clone() })),
            (format!("✗ failed: {reason}"), Tone::Bad)
        );
        assert_eq!(
            parts(End::Rollout(RolloutOutcome::TimedOut { after: Duration::from_secs(60) })),
            ("⧗ timed out after 60s (the deployment may still finish)".into(), Tone::Warn)
        );
        assert_eq!(parts(End::Deleted), ("✓ deleted".into(), Tone::Good));
        assert_eq!(parts(End::Failed { phase: "updating".into() }).0, "✗ failed while updating (the error follows)");
    }

    #[test]
    fn elapsed_times_stay_short() {
        let text = |s| elapsed_text(Duration::from_secs(s));
        assert_eq!([text(0), text(59), text(60), text(605), text(3599)], ["0s", "59s", "1m00s", "10m05s", "59m59s"]);
        assert_eq!(text(3600 + 125), "1h02m");
    }

    #[test]
    fn the_ring_keeps_the_last_five_events_oldest_first() {
        let mut ring = Ring::default();
        for i in 1..=7 {
            ring.push(&format!("event {i}"));
        }
        assert_eq!(ring.messages().collect::<Vec<_>>(), ["event 3", "event 4", "event 5", "event 6", "event 7"]);
    }

    #[test]
    fn only_services_whose_rollout_did_not_succeed_show_their_events() {
        let t0 = Instant::now();
        let changes = bump(&["api", "bad", "slow", "worker"]);
        let mut board = Board::new(&changes);
        for service in ["api", "bad", "slow", "worker"] {
            board.rollout_started(service, t0);
            board.service_event(service, &format!("(service {service}) has started 1 tasks"), t0);
        }
        board.service_event("bad", "(service bad) rolling back", t0);
        board.rollout_done("api", &RolloutOutcome::Succeeded, t0);
        board.rollout_done("bad", &RolloutOutcome::RolledBack { reason: "tasks failed".into() }, t0);
        board.rollout_done("slow", &RolloutOutcome::TimedOut { after: Duration::from_secs(60) }, t0);
        board.finish(None, t0);
        assert_eq!(
            board.events_to_show(),
            [
                ("bad", vec!["(service bad) has started 1 tasks", "(service bad) rolling back"]),
                ("slow", vec!["(service slow) has started 1 tasks"]),
            ]
        );
    }

    #[test]
    fn a_failed_apply_ends_every_open_line_with_what_happened_to_it() {
        let t0 = Instant::now();
        let mut changes = vec![change(Kind::LoadBalancer, "edge", Action::Create, None)];
        changes.extend(bump(&["api", "web", "worker"]));
        let mut board = Board::new(&changes);
        assert_eq!(board.lines[0].label, "+ load balancer edge");
        assert_eq!(board.width, "+ load balancer edge".len());
        board.started(&changes[0], t0);
        board.done(&changes[0], t0);
        // api's update started its deployment; web's update failed; worker never ran.
        for (td, svc) in [(1, 4), (2, 5)] {
            board.started(&changes[td], t0);
            board.done(&changes[td], t0);
            board.started(&changes[svc], t0);
        }
        board.rollout_started("api", t0);
        board.done(&changes[4], t0);
        board.finish(None, t0);
        assert_eq!(
            texts(&board, t0),
            [
                "+ load balancer edge: 0s ✓ done",
                "api: 0s · rollout started; not waited for, the apply stopped",
                "web: 0s ✗ failed while updating (the error follows)",
                "worker: 0s · not started: the apply stopped",
            ]
        );
        assert!(board.events_to_show().is_empty());
    }

    #[test]
    fn no_wait_and_deletes_end_their_lines_without_a_rollout() {
        let t0 = Instant::now();
        let mut changes = bump(&["api"]);
        changes.push(change(Kind::Service, "old", Action::Delete, Some("old")));
        let mut board = Board::new(&changes);
        for c in &changes {
            board.started(c, t0);
            if c.resource.kind == Kind::Service && c.action == Action::Update {
                board.rollout_started("api", t0);
            }
            board.done(c, t0);
        }
        assert_eq!(texts(&board, t0), ["api: 0s rollout started", "old: 0s ✓ deleted"]);
        let report = ApplyReport { not_waited: vec!["api".into()], ..ApplyReport::default() };
        board.finish(Some(&report), t0);
        assert_eq!(texts(&board, t0)[0], "api: 0s → rollout started; not waiting (--no-wait)");
    }
}
