//! The end of a shutdown: let in-flight work finish for the grace period, then abort it
//! and wait a bounded time for the jobs to be handed back.

use std::time::Duration;

use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

/// How [`drain`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drained {
    /// Everything finished within the grace period; nothing was aborted.
    Finished,
    /// The grace period ran out: `abort` was cancelled, and every task ended (handed
    /// its job back) within the hand-back bound.
    HandedBack,
    /// Some tasks were still running at the hand-back bound; their jobs reappear when
    /// their visibility times out.
    TimedOut,
}

/// Close `tracker` and wait up to `grace` for its tasks. If some are still running,
/// cancel `abort` (the tasks hand their jobs back) and wait up to `hand_back_within`
/// more. Receiving must have stopped already: nothing new joins the tracker.
pub(crate) async fn drain(
    tracker: &TaskTracker,
    abort: &CancellationToken,
    grace: Duration,
    hand_back_within: Duration,
) -> Drained {
    tracker.close();
    if timeout(grace, tracker.wait()).await.is_ok() {
        return Drained::Finished;
    }
    warn!("grace period over: handing the jobs still running back to the queue");
    abort.cancel();
    if timeout(hand_back_within, tracker.wait()).await.is_ok() {
        return Drained::HandedBack;
    }
    warn!("some jobs could not be handed back in time; they reappear when their visibility times out");
    Drained::TimedOut
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::time::{Instant, sleep};

    use super::*;

    const GRACE: Duration = Duration::from_secs(30);
    const HAND_BACK: Duration = Duration::from_secs(15);

    /// A job that runs for `runs`, or until aborted and then `hand_back` more; it notes
    /// the seconds since `start` at which it saw the abort.
    fn job(
        tracker: &TaskTracker,
        abort: &CancellationToken,
        runs: Duration,
        hand_back: Duration,
        aborted_at: &Arc<Mutex<Option<Duration>>>,
    ) {
        let (abort, aborted_at, start) = (abort.clone(), aborted_at.clone(), Instant::now());
        tracker.spawn(async move {
            tokio::select! {
                () = sleep(runs) => {}
                () = abort.cancelled() => {
                    *aborted_at.lock().unwrap() = Some(start.elapsed());
                    sleep(hand_back).await;
                }
            }
        });
    }

    #[tokio::test(start_paused = true)]
    async fn work_that_ends_within_the_grace_period_is_never_aborted() {
        let (tracker, abort, aborted_at) = (TaskTracker::new(), CancellationToken::new(), Arc::default());
        let start = Instant::now();
        job(&tracker, &abort, Duration::from_secs(10), Duration::ZERO, &aborted_at);
        job(&tracker, &abort, GRACE - Duration::from_millis(1), Duration::ZERO, &aborted_at);
        assert_eq!(drain(&tracker, &abort, GRACE, HAND_BACK).await, Drained::Finished);
        assert_eq!(start.elapsed(), GRACE - Duration::from_millis(1), "returns when the last job ends");
        assert!(!abort.is_cancelled());
        assert_eq!(*aborted_at.lock().unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn work_that_outlasts_the_grace_period_is_aborted_at_its_end_and_hands_back() {
        let (tracker, abort, aborted_at) = (TaskTracker::new(), CancellationToken::new(), Arc::default());
        let start = Instant::now();
        let short = Arc::default();
        job(&tracker, &abort, Duration::from_secs(5), Duration::ZERO, &short);
        job(&tracker, &abort, Duration::from_secs(300), Duration::from_secs(2), &aborted_at);
        assert_eq!(drain(&tracker, &abort, GRACE, HAND_BACK).await, Drained::HandedBack);
        assert_eq!(*aborted_at.lock().unwrap(), Some(GRACE), "aborted at the grace period, not before");
        assert_eq!(*short.lock().unwrap(), None, "the job that had finished saw no abort");
        assert_eq!(start.elapsed(), GRACE + Duration::from_secs(2), "returns when the hand-back ends");
    }

    #[tokio::test(start_paused = true)]
    async fn drain_returns_after_the_hand_back_bound_even_if_a_task_never_ends() {
        let (tracker, abort) = (TaskTracker::new(), CancellationToken::new());
        let start = Instant::now();
        tracker.spawn(std::future::pending::<()>());
        assert_eq!(drain(&tracker, &abort, GRACE, HAND_BACK).await, Drained::TimedOut);
        assert!(abort.is_cancelled());
        assert_eq!(start.elapsed(), GRACE + HAND_BACK);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_in_flight_returns_at_once() {
        let (tracker, abort) = (TaskTracker::new(), CancellationToken::new());
        let start = Instant::now();
        assert_eq!(drain(&tracker, &abort, GRACE, HAND_BACK).await, Drained::Finished);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
