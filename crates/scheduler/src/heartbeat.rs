//! The heartbeat's timing: run work, beat once per period while it runs, and stop early
//! on a lost lease or an abort. What a beat does (extend a message's visibility, renew
//! a lease) is the caller's `Beat`, so this loop is tested under paused time without
//! AWS.

use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_util::sync::CancellationToken;

/// Why work under a heartbeat stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupted {
    /// Another scheduler took the lease over: stop changing the cluster.
    LeaseLost,
    /// The grace period after a shutdown signal is over.
    Aborted,
}

/// What a heartbeat does on each beat.
///
/// A trait rather than an async closure: the future of an async closure that borrows
/// its captures mutably (a lease) cannot be shown `Send` to `tokio::spawn` (a compiler
/// limitation with higher-ranked lifetimes), while a trait method can promise it.
pub(crate) trait Beat {
    /// Beat once. `false`: the lease is lost, stop the work.
    fn beat(&mut self) -> impl Future<Output = bool> + Send;
}

/// Run `work` to its end, calling `beat` every `period` while it runs (the first time
/// one period after the start). A beat that returns `false` (the lease is lost) stops
/// the work with [`Interrupted::LeaseLost`]; `abort` stops it with
/// [`Interrupted::Aborted`]. Work is not polled while a beat runs, and a beat that
/// overruns past ticks is followed by one beat at once, then one per period.
pub(crate) async fn heartbeat<F: Future>(
    period: Duration,
    abort: &CancellationToken,
    work: F,
    beat: &mut impl Beat,
) -> Result<F::Output, Interrupted> {
    let mut tick = interval_at(Instant::now() + period, period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return Ok(out),
            () = abort.cancelled() => return Err(Interrupted::Aborted),
            _ = tick.tick() => {
                if !beat.beat().await {
                    return Err(Interrupted::LeaseLost);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::time::sleep;

    use super::*;

    const PERIOD: Duration = Duration::from_secs(10);

    /// Notes the seconds since `start` of each beat, and answers `go_on(beat number)`.
    struct Recorder {
        start: Instant,
        beats: Vec<u64>,
        go_on: fn(usize) -> bool,
        /// How long the first beat takes.
        first_takes: Duration,
    }

    impl Recorder {
        fn new(go_on: fn(usize) -> bool) -> Self {
            Self { start: Instant::now(), beats: Vec::new(), go_on, first_takes: Duration::ZERO }
        }
    }

    impl Beat for Recorder {
        async fn beat(&mut self) -> bool {
            self.beats.push(self.start.elapsed().as_secs());
            if self.beats.len() == 1 {
                sleep(self.first_takes).await;
            }
            (self.go_on)(self.beats.len())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn beats_once_per_period_from_the_first_period_until_the_work_ends() {
        let mut beat = Recorder::new(|_| true);
        let out = heartbeat(PERIOD, &CancellationToken::new(), sleep(Duration::from_secs(35)), &mut beat).await;
        assert_eq!(out, Ok(()));
        assert_eq!(beat.beats, [10, 20, 30]);
        assert_eq!(beat.start.elapsed(), Duration::from_secs(35), "returns when the work ends");
    }

    #[tokio::test(start_paused = true)]
    async fn work_that_ends_before_the_first_period_makes_no_beat() {
        let mut beat = Recorder::new(|_| true);
        let out =
            heartbeat(PERIOD, &CancellationToken::new(), sleep(PERIOD - Duration::from_millis(1)), &mut beat).await;
        assert_eq!(out, Ok(()));
        assert!(beat.beats.is_empty(), "{:?}", beat.beats);
    }

    #[tokio::test(start_paused = true)]
    async fn the_work_output_comes_back() {
        let out = heartbeat(PERIOD, &CancellationToken::new(), async { 42 }, &mut Recorder::new(|_| true)).await;
        assert_eq!(out, Ok(42));
    }

    #[tokio::test(start_paused = true)]
    async fn a_beat_that_says_the_lease_is_lost_stops_the_work() {
        let mut beat = Recorder::new(|n| n < 2);
        let out = heartbeat(PERIOD, &CancellationToken::new(), sleep(Duration::from_secs(100)), &mut beat).await;
        assert_eq!(out, Err(Interrupted::LeaseLost));
        assert_eq!(beat.beats, [10, 20]);
        assert_eq!(beat.start.elapsed(), Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn an_abort_stops_the_work_at_once() {
        let abort = CancellationToken::new();
        let canceller = abort.clone();
        tokio::spawn(async move {
            sleep(Duration::from_secs(15)).await;
            canceller.cancel();
        });
        let mut beat = Recorder::new(|_| true);
        let out = heartbeat(PERIOD, &abort, sleep(Duration::from_secs(100)), &mut beat).await;
        assert_eq!(out, Err(Interrupted::Aborted));
        assert_eq!(beat.beats, [10]);
        assert_eq!(beat.start.elapsed(), Duration::from_secs(15));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_beat_is_followed_by_one_beat_then_one_per_period() {
        // The first beat takes 25 s, past the ticks at 20 and 30 s: one beat follows at
        // once, not two, and the next a period after it.
        let mut beat = Recorder { first_takes: Duration::from_secs(25), ..Recorder::new(|_| true) };
        let out = heartbeat(PERIOD, &CancellationToken::new(), sleep(Duration::from_secs(60)), &mut beat).await;
        assert_eq!(out, Ok(()));
        assert_eq!(beat.beats, [10, 35, 45, 55]);
    }
}
