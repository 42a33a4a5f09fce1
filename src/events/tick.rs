//! TICK_5 / TICK_60 / TICK_3600: sent when the wall clock enters a new period (Python's
//! `Supervisor.tick` and `timeslice`), so `when:` is always a multiple of the period and the
//! first tick after startup comes only at a boundary.

use super::types::{Event, TICKS};

/// `timeslice(period, when)`: the start of the period `when` falls in.
pub fn timeslice(period: i64, when: f64) -> i64 {
    (when - when.rem_euclid(period as f64)) as i64
}

/// The period each tick type was last in.
#[derive(Debug, Clone)]
pub struct Ticks {
    last: [i64; 3],
}

impl Ticks {
    /// Starts counting at `now` (epoch seconds): no tick for the periods already entered.
    pub fn new(now: f64) -> Ticks {
        let mut last = [0; 3];
        for (slot, (_, period)) in last.iter_mut().zip(TICKS) {
            *slot = timeslice(period, now);
        }
        Ticks { last }
    }

    /// The tick events due at `now`, in Python's order (5, 60, 3600).
    pub fn due(&mut self, now: f64) -> Vec<Event> {
        let mut out = Vec::new();
        for (slot, (kind, period)) in self.last.iter_mut().zip(TICKS) {
            let this = timeslice(period, now);
            if this != *slot {
                *slot = this;
                out.push(Event::tick(kind, this));
            }
        }
        out
    }

    /// Seconds from `now` to the next 5 s boundary (every longer period starts on one).
    pub fn until_next(now: f64) -> f64 {
        let next = timeslice(5, now) + 5;
        (next as f64 - now).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_come_at_boundaries_only() {
        let mut t = Ticks::new(3598.2);
        assert!(t.due(3599.9).is_empty());
        let due: Vec<String> = t.due(3600.0).into_iter().map(|e| e.payload).collect();
        assert_eq!(due, ["when:3600", "when:3600", "when:3600"]);
        let names: Vec<&str> = Ticks::new(3600.0)
            .due(3605.1)
            .iter()
            .map(|e| e.kind.name())
            .collect();
        assert_eq!(names, ["TICK_5"]);
        assert!((Ticks::until_next(3601.5) - 3.5).abs() < 1e-9);
    }
}
