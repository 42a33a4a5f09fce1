//! Every deadline of the supervisor in one ordered map, so the actor sleeps until exactly the next
//! one (no periodic tick): startsecs, BACKOFF retries, SIGKILL after stopwaitsecs, and the
//! throttled "waiting for ..." reports.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use super::table::ProcId;

/// What a deadline is for. Each key has at most one deadline; arming again replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKey {
    /// The process's [`crate::process::Lifecycle::delay`].
    Process(ProcId),
    /// `waiting for <name> to stop`, every 2 s while a stop request waits.
    StopReport(ProcId),
    /// `waiting for <names> to die`, every 3 s during shutdown.
    ShutdownReport,
    /// systemd's `STATUS=`, at most once a second after a state change.
    NotifyStatus,
    /// systemd's `WATCHDOG=1`, at half of `WATCHDOG_USEC`.
    Watchdog,
    /// The next 5 s wall-clock boundary, while a pool wants TICK_* events.
    Tick,
    /// The longest a reaped exit waits for the child's tapped pipes to reach EOF.
    ExitDrain(ProcId),
    /// The next process tree whose leftovers are due to be killed.
    TreeDrain,
    /// The next health probe of a RUNNING process.
    HealthProbe(ProcId),
    /// The end of the health probe under way.
    HealthTimeout(ProcId),
    /// Start again a process its health check or memory limit stopped.
    HealthRestart(ProcId),
    /// The next look at the memory of the programs with a `memory_limit`, once a second.
    MemorySample,
    /// A look at the starts and stops waiting on `depends_on`, after a state change.
    Dependencies,
    /// The next occurrence of a process's `schedule` or `restart_schedule` (or a look at the
    /// wall clock, at least once a minute).
    Schedule(ProcId),
    /// Start a job whose occurrence was queued behind the run that just ended.
    ScheduleStart(ProcId),
}

/// The deadlines, ordered by time, plus an index to replace or cancel one in O(log n).
#[derive(Debug, Default)]
pub struct Timers {
    queue: BTreeSet<(Instant, TimerKey)>,
    index: HashMap<TimerKey, Instant>,
}

impl Timers {
    pub fn arm(&mut self, key: TimerKey, at: Instant) {
        self.cancel(key);
        self.queue.insert((at, key));
        self.index.insert(key, at);
    }

    pub fn cancel(&mut self, key: TimerKey) {
        if let Some(at) = self.index.remove(&key) {
            self.queue.remove(&(at, key));
        }
    }

    pub fn is_armed(&self, key: TimerKey) -> bool {
        self.index.contains_key(&key)
    }

    /// The earliest deadline, if any.
    pub fn next(&self) -> Option<Instant> {
        self.queue.first().map(|&(at, _)| at)
    }

    /// Removes and returns the keys whose deadline is at or before `now`, earliest first.
    pub fn expired(&mut self, now: Instant) -> Vec<TimerKey> {
        let mut due = Vec::new();
        while let Some(&(at, key)) = self.queue.first() {
            if at > now {
                break;
            }
            self.queue.pop_first();
            self.index.remove(&key);
            due.push(key);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rearming_replaces_and_expiry_is_ordered() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.arm(TimerKey::Process(ProcId(1)), t0 + Duration::from_secs(5));
        timers.arm(TimerKey::ShutdownReport, t0 + Duration::from_secs(2));
        timers.arm(TimerKey::Process(ProcId(1)), t0 + Duration::from_secs(1));
        assert_eq!(timers.next(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(
            timers.expired(t0 + Duration::from_secs(3)),
            [TimerKey::Process(ProcId(1)), TimerKey::ShutdownReport]
        );
        assert_eq!(timers.next(), None);
        timers.arm(TimerKey::StopReport(ProcId(2)), t0);
        timers.cancel(TimerKey::StopReport(ProcId(2)));
        assert!(!timers.is_armed(TimerKey::StopReport(ProcId(2))));
        assert!(timers.expired(t0 + Duration::from_secs(9)).is_empty());
    }
}
