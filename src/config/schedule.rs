//! `schedule`, `restart_schedule` and their options in `[program:x]` (ours; Python ignores
//! the keys): when a run-to-completion program runs, or a long-running one is restarted.

use super::error::{ConfigError, ErrorKind};
use super::expand::Expansions;
use super::reader::Reader;
use super::types::{self, ValueError};
use crate::schedule::{Schedule, Zone};

/// `schedule_overlap`: what an occurrence does while the previous run is still going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// Nothing (an INFO line says so): the default, as a job should not pile up.
    Skip,
    /// Start it once the current run ends (one run waits at most).
    Queue,
    /// Stop the current run (stopsignal, stopwaitsecs) and start it again.
    Kill,
}

impl Overlap {
    pub fn name(self) -> &'static str {
        match self {
            Overlap::Skip => "skip",
            Overlap::Queue => "queue",
            Overlap::Kill => "kill",
        }
    }
}

/// What an occurrence does to the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleAction {
    /// `schedule=`: start it (it never autostarts, nor autorestarts).
    Run(Overlap),
    /// `restart_schedule=`: stop and start it again if it is RUNNING.
    Restart,
}

/// A program's schedule: one of `schedule` and `restart_schedule` (both is an error).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleConfig {
    pub when: Schedule,
    pub action: ScheduleAction,
}

impl ScheduleConfig {
    /// The key it was read from.
    pub fn key(&self) -> &'static str {
        match self.action {
            ScheduleAction::Run(_) => "schedule",
            ScheduleAction::Restart => "restart_schedule",
        }
    }
}

fn overlap(v: &str) -> types::Result<Overlap> {
    match v.trim().to_lowercase().as_str() {
        "skip" => Ok(Overlap::Skip),
        "queue" => Ok(Overlap::Queue),
        "kill" => Ok(Overlap::Kill),
        _ => Err(ValueError(format!(
            "invalid 'schedule_overlap' value {} (skip, queue or kill)",
            crate::py::repr(v)
        ))),
    }
}

fn zone(v: &str) -> types::Result<Zone> {
    Zone::parse(v).map_err(|e| ValueError(format!("schedule_timezone: {e}")))
}

/// Reads the schedule of `section`; `None` without `schedule` or `restart_schedule` (the
/// other keys are still checked, so a bad value is not silently ignored).
pub(crate) fn read(
    r: &Reader,
    section: &str,
    extra: &Expansions,
) -> Result<Option<ScheduleConfig>, ConfigError> {
    let overlap = r.convert(section, "schedule_overlap", "skip", extra, overlap)?;
    let zone = match r.get(section, "schedule_timezone", None, extra, true)? {
        Some(got) => r.check(section, "schedule_timezone", &got, zone)?,
        None => Zone::local(),
    };
    let run = r.get(section, "schedule", None, extra, true)?;
    let restart = r.get(section, "restart_schedule", None, extra, true)?;
    let (key, got, action) = match (run, restart) {
        (None, None) => return Ok(None),
        (Some(got), None) => ("schedule", got, ScheduleAction::Run(overlap)),
        (None, Some(got)) => ("restart_schedule", got, ScheduleAction::Restart),
        (Some(_), Some(got)) => {
            return Err(r.error(
                ErrorKind::Value,
                "schedule (a job run at each occurrence) and restart_schedule (a long-running \
                 program restarted at each occurrence) cannot both be set",
                section,
                got.opt.as_ref(),
                Some("restart_schedule"),
            ))
        }
    };
    let when = r.check(section, key, &got, |v| {
        Schedule::parse(v, zone.clone()).map_err(|e| ValueError(format!("{key}: {e}")))
    })?;
    Ok(Some(ScheduleConfig { when, action }))
}
