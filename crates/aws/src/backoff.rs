//! Capped exponential backoff with jitter: the scheduler's job retries, its receive
//! loop and record writes, and the fast start of rollout polls
//! ([`crate::rollout::PollSchedule`]).
//!
//! [`exponential`] is the base: `first`, doubled after each further failure, capped.
//! [`jittered`] spreads it over `[base / 2, base]` ("equal jitter"), so replicas that
//! failed together do not retry together, while the wait stays at least half the base
//! and never exceeds the cap. The randomness is a parameter, so callers' tests can pin it.

use std::time::Duration;

/// `first * 2^(attempt - 1)`, doubling at most 10 times, capped at `cap`. Attempt 0
/// counts as 1.
pub fn exponential(first: Duration, attempt: u32, cap: Duration) -> Duration {
    (first * 2u32.saturating_pow(attempt.saturating_sub(1).min(10))).min(cap)
}

/// `base` spread by `jitter`, a number in `[0, 1)` (`rand::random()`): from `base / 2`
/// at 0 up towards `base`. Values outside `[0, 1]` are clamped.
pub fn jittered(base: Duration, jitter: f64) -> Duration {
    let jitter = if jitter.is_nan() { 0.0 } else { jitter.clamp(0.0, 1.0) };
    base.mul_f64(0.5 + jitter / 2.0).min(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_doubles_from_first_up_to_the_cap() {
        let ms = |n| exponential(Duration::from_millis(500), n, Duration::from_secs(30)).as_millis();
        let waits: Vec<u128> = (0..=9).map(ms).collect();
        assert_eq!(waits, [500, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
        assert_eq!(ms(u32::MAX), 30000);
    }

    #[test]
    fn jitter_spreads_the_base_over_its_upper_half() {
        let base = Duration::from_secs(8);
        assert_eq!(jittered(base, 0.0), Duration::from_secs(4));
        assert_eq!(jittered(base, 0.5), Duration::from_secs(6));
        assert!(jittered(base, 0.999_999) < base);
        // Out of range: clamped, never above the base nor below half of it.
        assert_eq!(jittered(base, 7.0), base);
        assert_eq!(jittered(base, -1.0), Duration::from_secs(4));
        assert_eq!(jittered(base, f64::NAN), Duration::from_secs(4));
        assert_eq!(jittered(Duration::ZERO, 0.7), Duration::ZERO);
    }
}
