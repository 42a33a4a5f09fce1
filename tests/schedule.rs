//! Schedules (issue 16 item 3; `src/schedule.rs`, `src/supervisor/schedule.rs`): a job on a
//! `schedule` runs at each occurrence and never autostarts or autorestarts; a run still going
//! at the next occurrence is skipped, queued or killed as `schedule_overlap` says; a
//! `restart_schedule` restarts a RUNNING program; bad values are config errors; Python's
//! supervisord accepts the same config. Real processes, every-second schedules; the jobs
//! record their runs in files, and every wait is a poll with a deadline.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{self, Impl, Value};

const DEADLINE: Duration = Duration::from_secs(20);

#[track_caller]
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The lines of `%(here)s/<name>`, none if it is not there yet.
fn lines(d: &support::Daemon, name: &str) -> Vec<String> {
    fs::read_to_string(d.dir().join(name))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A job that records `start <time>` and `end <time>` (epoch seconds with nanoseconds) in
/// `%(here)s/runs`, runs for `secs`, and records `overlap` in `%(here)s/overlap` if it finds
/// another run under way (its lock file present).
fn job(secs: &str) -> String {
    format!(
        "command=sh -c 'h=%(here)s; [ -e $h/lock ] && echo overlap >> $h/overlap; touch $h/lock; \
         echo start $(date +%%s.%%N) >> $h/runs; sleep {secs}; rm -f $h/lock; \
         echo end $(date +%%s.%%N) >> $h/runs'\nstartsecs=0\n"
    )
}

/// The (start, end) times of the finished runs in `runs`.
fn runs(d: &support::Daemon) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut start = None;
    for line in lines(d, "runs") {
        let (what, at) = line.split_once(' ').expect("`start|end <time>`");
        let at: f64 = at.parse().expect("a time");
        match what {
            "start" => start = Some(at),
            _ => out.extend(start.take().map(|s| (s, at))),
        }
    }
    out
}

fn count(d: &support::Daemon, needle: &str) -> usize {
    d.main_log().matches(needle).count()
}

#[test]
fn an_every_second_schedule_runs_a_job_repeatedly_without_overlap() {
    let body = format!("[program:job]\n{}schedule=* * * * * *\n", job("1.5"));
    let d = support::Daemon::start(Impl::Ours, &body);
    wait_until("three runs finished", || runs(&d).len() >= 3);
    assert!(lines(&d, "overlap").is_empty(), "runs overlapped");
    let done = runs(&d);
    for pair in done.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "a run started before the last ended: {done:?}"
        );
    }
    assert!(
        d.main_log()
            .contains("INFO schedule: job is still RUNNING at its next occurrence: skipped"),
        "{}",
        d.main_log()
    );
    assert!(!d.main_log().contains("unknown key"), "the keys are known");
    // Each run starts at a whole second (the occurrence), 2 s apart: the one in between
    // is skipped.
    for pair in done.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!((1.5..2.9).contains(&gap), "runs {gap:.3} s apart: {done:?}");
    }
}

#[test]
fn a_scheduled_job_does_not_autostart_and_its_exit_leaves_it_exited() {
    let body = "[program:job]\ncommand=sh -c 'echo ran >> %(here)s/ran; exit 3'\n\
                startsecs=0\nautorestart=true\nschedule=0 0 1 1 *\n\
                schedule_timezone=Europe/Paris\n\
                [program:tick]\ncommand=true\nschedule=* * * * * *\n\
                [program:other]\ncommand=sleep 1000\nstartsecs=0\n";
    let d = support::Daemon::start(Impl::Ours, body);
    d.wait_for_state("other", "RUNNING", DEADLINE);
    assert_eq!(d.info("job").field("statename").str(), "STOPPED");
    let job = d
        .rpc(
            "supervisor_rs.getProcessSchedule",
            &[Value::Str("job".into())],
        )
        .expect("getProcessSchedule");
    assert_eq!(job.field("kind").str(), "schedule");
    assert_eq!(job.field("schedule").str(), "0 0 1 1 *");
    assert_eq!(job.field("timezone").str(), "Europe/Paris");
    assert_eq!(job.field("overlap").str(), "skip");
    assert_eq!(job.field("last_start").int(), 0);
    assert_eq!(job.field("last_exitstatus").int(), -1);
    assert_eq!(job.field("running"), &Value::Bool(false));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let next = job.field("next").int();
    assert!(next > now && next <= now + 367 * 86400, "next {next}");
    // Midnight in Paris is 23:00 or 22:00 UTC.
    assert!([82800, 79200].contains(&(next % 86400)), "next {next}");

    // A start by hand still works; the exit (unexpected, autorestart=true) is final.
    let out = d.ctl(&["start", "job"]);
    assert!(out.stdout.contains("job: started"), "{}", out.render());
    d.wait_for_state("job", "EXITED", DEADLINE);
    // The every-second job runs twice more: the actor has had time to restart `job`.
    let ticks = count(&d, "schedule: starting tick");
    wait_until("tick ran twice more", || {
        count(&d, "schedule: starting tick") >= ticks + 2
    });
    assert_eq!(d.info("job").field("statename").str(), "EXITED");
    assert_eq!(lines(&d, "ran"), ["ran"]);
    // `tick` leaves `startsecs` to its default, 0 for a scheduled job: its quick `0` exits
    // are expected ones, never a BACKOFF.
    assert!(d
        .main_log()
        .contains("exited: tick (exit status 0; expected)"));
    assert!(!d.main_log().contains("tick (exit status 0; not expected)"));
    let job = d
        .rpc(
            "supervisor_rs.getProcessSchedule",
            &[Value::Str("job".into())],
        )
        .expect("getProcessSchedule");
    assert_eq!(job.field("last_exitstatus").int(), 3);
    assert!(job.field("last_start").int() >= now);

    let Value::Array(all) = d.rpc("supervisor_rs.getAllProcessSchedules", &[]).unwrap() else {
        panic!("an array")
    };
    let names: Vec<&str> = all.iter().map(|s| s.field("name").str()).collect();
    assert_eq!(names, ["job", "tick"], "only the scheduled programs");
    let fault = d
        .rpc(
            "supervisor_rs.getProcessSchedule",
            &[Value::Str("other".into())],
        )
        .expect_err("BAD_NAME");
    assert!(format!("{fault:?}").contains("BAD_NAME"), "{fault:?}");
    let Value::Array(ours) = d.rpc("supervisor_rs.listMethods", &[]).unwrap() else {
        panic!("listMethods")
    };
    assert!(ours.contains(&Value::Str("supervisor_rs.getProcessSchedule".into())));
    assert!(ours.contains(&Value::Str("supervisor_rs.getAllProcessSchedules".into())));
    let Value::Array(listed) = d.rpc("system.listMethods", &[]).unwrap() else {
        panic!("listMethods")
    };
    assert!(
        listed
            .iter()
            .all(|m| !m.str().starts_with("supervisor_rs.")),
        "system.listMethods stays Python's"
    );

    // `status --json` carries the same schedule, for the scheduled programs only.
    let out = d.ctl_as(support::Ctl::Ours, &["status", "--json", "job", "other"]);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let schedule = &list[0]["schedule"];
    assert_eq!(schedule["kind"], "schedule", "{}", out.render());
    assert_eq!(schedule["schedule"], "0 0 1 1 *");
    assert_eq!(schedule["last_exitstatus"], 3);
    assert_eq!(schedule["next"].as_i64(), Some(next));
    assert_eq!(list[1]["name"], "other");
    assert!(list[1].get("schedule").is_none(), "{}", out.render());
}

#[test]
fn overlap_queue_runs_once_as_soon_as_the_run_ends() {
    let body = format!(
        "[program:job]\n{}schedule=* * * * * *\nschedule_overlap=queue\n",
        job("2.5")
    );
    let d = support::Daemon::start(Impl::Ours, &body);
    wait_until("three runs finished", || runs(&d).len() >= 3);
    assert!(lines(&d, "overlap").is_empty(), "runs overlapped");
    let done = runs(&d);
    for pair in done.windows(2) {
        let wait = pair[1].0 - pair[0].1;
        // Two occurrences came during each run: one run waited, and started at once.
        assert!(
            (0.0..0.5).contains(&wait),
            "queued run waited {wait:.3} s: {done:?}"
        );
    }
    assert!(d.main_log().contains("schedule: starting job (queued)"));
    assert!(d.main_log().contains("(schedule_overlap=queue)"));
}

#[test]
fn overlap_kill_stops_the_run_and_starts_it_again() {
    let body = "[program:job]\ncommand=sh -c 'echo $$ >> %(here)s/pids; exec sleep 100'\n\
                startsecs=0\nstopwaitsecs=2\nschedule=* * * * * *\nschedule_overlap=kill\n";
    let d = support::Daemon::start(Impl::Ours, body);
    wait_until("three runs", || lines(&d, "pids").len() >= 3);
    let pids = lines(&d, "pids");
    let mut distinct = pids.clone();
    distinct.dedup();
    assert_eq!(distinct, pids, "each run is a new process");
    assert!(d
        .main_log()
        .contains("schedule: job is still RUNNING: stopping it to run it again"));
    assert!(d
        .main_log()
        .contains("stopped: job (terminated by SIGTERM)"));
}

#[test]
fn restart_schedule_restarts_a_running_program() {
    let body = "[program:web]\ncommand=sleep 1000\nstartsecs=0\nrestart_schedule=* * * * * *\n\
                [program:down]\ncommand=sleep 1000\nautostart=false\n\
                restart_schedule=* * * * * *\n";
    let d = support::Daemon::start(Impl::Ours, body);
    d.wait_for_state("web", "RUNNING", DEADLINE);
    let first = d.info("web").field("pid").int();
    wait_until("web restarted with a new pid", || {
        let p = d.info("web").field("pid").int();
        p > 0 && p != first
    });
    d.wait_for_log("INFO restart_schedule: restarting web", DEADLINE);
    d.wait_for_log(
        "INFO restart_schedule: down is STOPPED, not RUNNING: nothing to restart",
        DEADLINE,
    );
    assert_eq!(d.info("down").field("statename").str(), "STOPPED");
    let web = d
        .rpc(
            "supervisor_rs.getProcessSchedule",
            &[Value::Str("web".into())],
        )
        .expect("getProcessSchedule");
    assert_eq!(web.field("kind").str(), "restart_schedule");
    assert_eq!(web.field("overlap").str(), "");
}

/// `supervisord --check -c <conf>` on `[supervisord]` plus `body`.
fn check(dir: &Path, body: &str) -> std::process::Output {
    let conf = dir.join("s.conf");
    fs::write(&conf, format!("[supervisord]\n{body}")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_supervisord"))
        .arg("--check")
        .arg("-c")
        .arg(&conf)
        .output()
        .expect("run supervisord")
}

#[test]
fn bad_schedules_are_config_errors_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    for (body, option, what) in [
        (
            "schedule=61 * * * *",
            "schedule",
            "invalid cron expression \"61 * * * *\"",
        ),
        ("schedule=* * * *", "schedule", "invalid cron expression"),
        (
            "restart_schedule=@often",
            "restart_schedule",
            "invalid cron expression",
        ),
        (
            "schedule=@daily\nschedule_timezone=Mars/Olympus",
            "schedule_timezone",
            "unknown time zone \"Mars/Olympus\"",
        ),
        (
            "schedule=@daily\nschedule_overlap=wait",
            "schedule_overlap",
            "invalid 'schedule_overlap'",
        ),
        (
            "schedule=@daily\nrestart_schedule=@daily",
            "restart_schedule",
            "cannot both be set",
        ),
    ] {
        let out = check(dir.path(), &format!("[program:a]\ncommand=true\n{body}\n"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{body}: {err}");
        assert!(err.contains(what), "{body}: {err}");
        assert!(err.contains(option), "{body}: {err}");
        assert!(err.contains("program:a"), "{body}: {err}");
    }
    let out = check(
        dir.path(),
        "[program:a]\ncommand=true\nschedule=*/5 * * * *\nschedule_overlap=queue\n\
         [program:b]\ncommand=true\nrestart_schedule=@hourly\nschedule_timezone=UTC\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "\"restart_schedule\":null,\"schedule\":{\"cron\":\"*/5 * * * *\",\
             \"overlap\":\"queue\",\"timezone\":\"local\"}"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"restart_schedule\":{\"cron\":\"@hourly\",\"timezone\":\"UTC\"}"),
        "{stdout}"
    );
}

#[test]
fn pythons_supervisord_accepts_the_same_config() {
    let body = format!(
        "[program:job]\n{}schedule=* * * * * *\nschedule_overlap=queue\n\
         schedule_timezone=Europe/Paris\n\
         [program:web]\ncommand=sleep 1000\nstartsecs=0\nrestart_schedule=@daily\n",
        job("0.1")
    );
    for kind in [Impl::Python, Impl::Ours] {
        let d = support::Daemon::start(kind, &body);
        d.wait_for_state("web", "RUNNING", DEADLINE);
        assert_eq!(d.info("job").field("name").str(), "job", "{kind:?}");
    }
}
