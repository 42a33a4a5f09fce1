//! Cron schedules (ours; `schedule=` and `restart_schedule=` in `[program:x]`): parsing a cron
//! expression in a time zone, and [`Clock`], the pure rule that decides, at each wake-up of
//! the supervisor, whether an occurrence is due.
//!
//! Occurrences are wall-clock times, but the actor sleeps on the monotonic clock, which does
//! not follow the wall clock when it is set. So the actor wakes at the monotonic estimate of
//! the next occurrence and asks [`Clock::due`] with the wall time it reads then: an occurrence
//! not reached yet (the wall clock went back, or the estimate was early) waits on; one reached
//! runs once, whatever the wall clock does next. The occurrence waited for is always computed
//! after the last one run, so no occurrence runs twice, and after a jump forward over several
//! occurrences only one run happens, not one per occurrence missed.

use std::time::Duration;

use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Why a `schedule` or `schedule_timezone` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid cron expression {expr:?}: {reason}")]
    Cron { expr: String, reason: String },
    #[error("unknown time zone {0:?} (an IANA name such as Europe/Paris)")]
    Zone(String),
}

/// The time zone occurrences are computed in, from the system's time zone database (the
/// daemon's own copy of it would cost a megabyte of memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// The IANA name, `None` for the daemon's local time.
    name: Option<String>,
    tz: TimeZone,
}

impl Zone {
    /// The daemon's local time (`TZ`, else `/etc/localtime`): cron's default.
    pub fn local() -> Zone {
        Zone {
            name: None,
            tz: TimeZone::system(),
        }
    }

    /// `Area/City`, as named in the system's `/usr/share/zoneinfo`.
    pub fn parse(name: &str) -> Result<Zone, ScheduleError> {
        let name = name.trim();
        TimeZone::get(name)
            .map(|tz| Zone {
                name: Some(name.to_string()),
                tz,
            })
            .map_err(|_| ScheduleError::Zone(name.to_string()))
    }

    /// `local`, or the IANA name.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("local")
    }
}

/// A cron expression and the zone it is read in.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// As written (trimmed), for the status and `--check`.
    text: String,
    cron: Cron,
    zone: Zone,
}

/// Two schedules are the same when they read the same in the same zone (a reload with an
/// unchanged schedule leaves the group alone).
impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        self.text == other.text && self.zone == other.zone
    }
}

impl Schedule {
    /// Five fields, or six with a leading seconds field, or a nickname (`@hourly`, `@daily`,
    /// `@midnight`, `@weekly`, `@monthly`, `@yearly`, `@annually`). No year field: that is
    /// not cron's, and a 7th field is more likely a mistake.
    pub fn parse(expr: &str, zone: Zone) -> Result<Schedule, ScheduleError> {
        let text = expr.trim().to_string();
        // Vixie cron's `@midnight`, which croner does not know, is its `@daily`.
        let pattern = match text.eq_ignore_ascii_case("@midnight") {
            true => "@daily",
            false => &text,
        };
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(pattern)
            .map_err(|e| ScheduleError::Cron {
                expr: text.clone(),
                reason: e.to_string(),
            })?;
        let schedule = Schedule { text, cron, zone };
        // One that never occurs (`0 0 30 2 *`) is a mistake better reported now.
        match schedule.next_after(Timestamp::now()) {
            Some(_) => Ok(schedule),
            None => Err(ScheduleError::Cron {
                expr: schedule.text,
                reason: "it never occurs".into(),
            }),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// The first occurrence strictly after `after`; `None` if there is none.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        self.cron
            .find_next_occurrence(&after.to_zoned(self.zone.tz.clone()), false)
            .ok()
            .map(|t| t.timestamp())
    }
}

/// The longest the actor sleeps before looking at the wall clock again: a wall clock set
/// forward (or a suspended machine that woke) is noticed within this, where a sleep on the
/// monotonic clock to the old estimate could be hours late.
pub const LOOK_AGAIN: Duration = Duration::from_secs(60);

/// Where one schedule stands: the occurrence waited for, and the last one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    next: Option<Timestamp>,
    last: Option<Timestamp>,
}

impl Clock {
    /// Waits for the first occurrence after `now`.
    pub fn new(schedule: &Schedule, now: Timestamp) -> Clock {
        Clock {
            next: schedule.next_after(now),
            last: None,
        }
    }

    /// A wake-up at wall time `now`: the occurrence to run, if one is reached. The next one
    /// waited for is then the first after both `now` and the one run, so a jump forward runs
    /// one occurrence, not each it passed.
    pub fn due(&mut self, schedule: &Schedule, now: Timestamp) -> Option<Timestamp> {
        let next = self.next?;
        if now < next {
            return None;
        }
        self.last = Some(next);
        self.next = schedule.next_after(now.max(next));
        Some(next)
    }

    /// How long to sleep from wall time `now` before the next wake-up: until the occurrence,
    /// at most [`LOOK_AGAIN`]; `None` when no occurrence is left.
    pub fn sleep(&self, now: Timestamp) -> Option<Duration> {
        let next = self.next?;
        let sleep = Duration::try_from(next.duration_since(now)).unwrap_or(Duration::ZERO);
        Some(sleep.min(LOOK_AGAIN))
    }

    pub fn next(&self) -> Option<Timestamp> {
        self.next
    }

    pub fn last(&self) -> Option<Timestamp> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn in_zone(expr: &str, zone: &str) -> Schedule {
        Schedule::parse(expr, Zone::parse(zone).unwrap()).unwrap()
    }

    #[test]
    fn five_or_six_fields_and_nicknames() {
        let utc0 = utc("2026-03-04T10:20:30Z");
        let every_second = in_zone("* * * * * *", "UTC");
        assert_eq!(
            every_second.next_after(utc0),
            Some(utc("2026-03-04T10:20:31Z"))
        );
        let minutely = in_zone("*/5 * * * *", "UTC");
        assert_eq!(minutely.next_after(utc0), Some(utc("2026-03-04T10:25:00Z")));
        let daily = in_zone("@daily", "Europe/Paris");
        assert_eq!(daily.next_after(utc0), Some(utc("2026-03-04T23:00:00Z")));
        for nick in [
            "@hourly",
            "@midnight",
            "@weekly",
            "@monthly",
            "@yearly",
            "@annually",
        ] {
            assert!(Schedule::parse(nick, Zone::local()).is_ok(), "{nick}");
        }
    }

    #[test]
    fn bad_expressions_and_zones() {
        for bad in [
            "",
            "* * * *",
            "* * * * * * *",
            "61 * * * *",
            "@often",
            "x y z a b",
        ] {
            assert!(
                matches!(
                    Schedule::parse(bad, Zone::local()),
                    Err(ScheduleError::Cron { .. })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            Schedule::parse("0 0 30 2 *", Zone::local()),
            Err(ScheduleError::Cron {
                expr: "0 0 30 2 *".into(),
                reason: "it never occurs".into()
            })
        );
        assert_eq!(
            Zone::parse("Mars/Olympus").map(|z| z.name().to_string()),
            Err(ScheduleError::Zone("Mars/Olympus".into()))
        );
    }

    #[test]
    fn an_occurrence_runs_once_when_reached() {
        let s = in_zone("0 * * * *", "UTC");
        let mut clock = Clock::new(&s, utc("2026-03-04T10:20:00Z"));
        assert_eq!(clock.next(), Some(utc("2026-03-04T11:00:00Z")));
        assert_eq!(
            clock.sleep(utc("2026-03-04T10:20:00Z")),
            Some(LOOK_AGAIN),
            "long sleeps are cut to look at the wall clock again"
        );
        assert_eq!(
            clock.sleep(utc("2026-03-04T10:59:59.250Z")),
            Some(Duration::from_millis(750))
        );
        assert_eq!(clock.due(&s, utc("2026-03-04T10:59:59.999Z")), None);
        assert_eq!(
            clock.due(&s, utc("2026-03-04T11:00:00.001Z")),
            Some(utc("2026-03-04T11:00:00Z"))
        );
        assert_eq!(clock.last(), Some(utc("2026-03-04T11:00:00Z")));
        assert_eq!(clock.next(), Some(utc("2026-03-04T12:00:00Z")));
        assert_eq!(clock.due(&s, utc("2026-03-04T11:00:00.002Z")), None);
    }

    #[test]
    fn a_clock_set_back_does_not_run_an_occurrence_again() {
        let s = in_zone("0 * * * *", "UTC");
        let mut clock = Clock::new(&s, utc("2026-03-04T10:59:00Z"));
        assert!(clock.due(&s, utc("2026-03-04T11:00:00Z")).is_some());
        // Set back by 30 minutes: 11:00 is passed again, but it was run.
        for at in [
            "2026-03-04T10:30:00Z",
            "2026-03-04T11:00:00Z",
            "2026-03-04T11:59:59Z",
        ] {
            assert_eq!(clock.due(&s, utc(at)), None, "{at}");
        }
        assert_eq!(
            clock.due(&s, utc("2026-03-04T12:00:00Z")),
            Some(utc("2026-03-04T12:00:00Z"))
        );
    }

    #[test]
    fn a_clock_set_forward_runs_once_not_once_per_occurrence_missed() {
        let s = in_zone("*/10 * * * *", "UTC");
        let mut clock = Clock::new(&s, utc("2026-03-04T10:05:00Z"));
        // Three hours later in one step (suspend, or the clock was set).
        assert_eq!(
            clock.due(&s, utc("2026-03-04T13:07:00Z")),
            Some(utc("2026-03-04T10:10:00Z"))
        );
        assert_eq!(clock.next(), Some(utc("2026-03-04T13:10:00Z")));
        assert_eq!(clock.due(&s, utc("2026-03-04T13:08:00Z")), None);
    }

    /// Runs the clock over `[from, to)` waking at every wall second, as a schedule in `zone`
    /// would see it; returns the occurrences run.
    fn runs(expr: &str, zone: &str, from: &str, to: &str) -> Vec<Timestamp> {
        let s = in_zone(expr, zone);
        let (mut now, to) = (utc(from), utc(to));
        let mut clock = Clock::new(&s, now);
        let mut ran = Vec::new();
        while now < to {
            ran.extend(clock.due(&s, now));
            now += jiff::SignedDuration::from_secs(1);
        }
        ran
    }

    #[test]
    fn daylight_saving_changes_neither_double_run_nor_skip_a_daily_job() {
        // New York falls back on 2026-11-01: 01:30 happens twice (05:30 and 06:30 UTC).
        let fall = runs(
            "30 1 * * *",
            "America/New_York",
            "2026-10-31T12:00:00Z",
            "2026-11-02T12:00:00Z",
        );
        assert_eq!(
            fall,
            [utc("2026-11-01T05:30:00Z"), utc("2026-11-02T06:30:00Z")]
        );
        // It springs forward on 2026-03-08: 02:30 does not happen that day; the job runs
        // once then all the same.
        let spring = runs(
            "30 2 * * *",
            "America/New_York",
            "2026-03-07T12:00:00Z",
            "2026-03-09T12:00:00Z",
        );
        assert_eq!(spring.len(), 2, "{spring:?}");
        assert_eq!(spring[1], utc("2026-03-09T06:30:00Z"));
    }
}
