//! The Events API's retries: Slack sends an event again (with `X-Slack-Retry-Num`)
//! when it did not see an answer in time, and each event runs once. The memory of
//! event ids seen is bounded in count and in age, so a flood of events cannot grow it.
//!
//! It is this process's memory: with several API replicas behind one URL, a retry
//! that reaches another replica runs there. Answers are sent before any work starts,
//! so Slack retries rarely.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Event ids remembered at most.
pub const CAPACITY: usize = 10_000;
/// How long an event id is remembered. Slack retries three times within minutes.
pub const TTL: Duration = Duration::from_secs(60 * 60);

/// Event ids seen, oldest first.
#[derive(Debug)]
pub struct Seen {
    inner: Mutex<Inner>,
    capacity: usize,
    ttl: Duration,
}

#[derive(Debug, Default)]
struct Inner {
    ids: HashSet<String>,
    order: VecDeque<(Instant, String)>,
}

impl Default for Seen {
    fn default() -> Self {
        Self::new(CAPACITY, TTL)
    }
}

impl Seen {
    /// A memory of at most `capacity` ids for at most `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self { inner: Mutex::default(), capacity, ttl }
    }

    /// Remember `id` at `now`; whether it is new (false: it was seen within the TTL).
    pub fn first_time(&self, id: &str, now: Instant) -> bool {
        let mut inner = self.inner.lock().expect("the event memory lock is never poisoned");
        let Inner { ids, order } = &mut *inner;
        while let Some((at, _)) = order.front()
            && (now.saturating_duration_since(*at) > self.ttl || order.len() >= self.capacity)
        {
            let (_, old) = order.pop_front().expect("just looked at it");
            ids.remove(&old);
        }
        if ids.contains(id) {
            return false;
        }
        ids.insert(id.to_owned());
        order.push_back((now, id.to_owned()));
        true
    }

    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("the event memory lock is never poisoned").ids.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_runs_once_within_the_ttl() {
        let seen = Seen::new(3, Duration::from_secs(10));
        let t = Instant::now();
        assert!(seen.first_time("Ev1", t));
        assert!(!seen.first_time("Ev1", t + Duration::from_secs(9)));
        assert!(seen.first_time("Ev2", t));
        // Past the TTL it is forgotten.
        assert!(seen.first_time("Ev1", t + Duration::from_secs(11)));
    }

    #[test]
    fn memory_is_bounded() {
        let seen = Seen::new(3, Duration::from_secs(3600));
        let t = Instant::now();
        for i in 0..100 {
            assert!(seen.first_time(&format!("Ev{i}"), t));
            assert!(seen.len() <= 3);
        }
        assert!(!seen.first_time("Ev99", t));
        assert!(seen.first_time("Ev0", t), "the oldest were forgotten");
    }
}
