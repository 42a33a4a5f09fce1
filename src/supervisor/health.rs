//! Health checks in the actor: each RUNNING process with a `healthcheck` is probed at once and
//! then every `healthcheck_interval`; network probes run as tasks that report back on a
//! channel, command probes are children of the daemon reaped with the others. A probe never
//! blocks the actor and is bounded by `healthcheck_timeout`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::config::{HealthAction, HealthCheck, Probe, ProcessConfig};
use crate::events::Event;
use crate::health::{self, Health, Status, Verdict};
use crate::process::spawn::{self, Wiring};
use crate::process::{Input, ProcessEnd, ProcessState};
use crate::sys::child as sys;

use super::actor::Supervisor;
use super::info::HealthInfo;
use super::table::ProcId;
use super::timers::TimerKey;

/// A network probe's report: the process, the run of probes it belongs to, the outcome.
pub(super) struct Report {
    id: ProcId,
    run: u64,
    outcome: Result<String, String>,
}

/// The most of a command probe's output kept for the log and the status.
const OUTPUT_KEPT: usize = 512;

/// A probe under way.
enum InFlight {
    /// A command probe's pid and the tail of what it wrote.
    Command {
        pid: u32,
        output: Arc<Mutex<Vec<u8>>>,
    },
    Network,
}

/// One process being probed.
struct Probing {
    health: Health,
    /// Bumped each time the process enters RUNNING: reports of an earlier run are stale.
    run: u64,
    in_flight: Option<InFlight>,
    /// Timed out: the next outcome is a failure whatever it says.
    timed_out: bool,
}

/// The actor's health-check state.
pub(super) struct Probes {
    tx: mpsc::UnboundedSender<Report>,
    pub(super) rx: mpsc::UnboundedReceiver<Report>,
    probing: HashMap<ProcId, Probing>,
    /// Command probes' pids, to tell their exits from the programs'.
    pids: HashMap<u32, ProcId>,
    /// Processes stopped by their health check, to be started again once STOPPED.
    restarting: Vec<ProcId>,
    next_run: u64,
    /// Where the probe deadlines' grid starts ([`health::on_grid`]).
    origin: Instant,
}

impl Default for Probes {
    fn default() -> Probes {
        let (tx, rx) = mpsc::unbounded_channel();
        Probes {
            tx,
            rx,
            probing: HashMap::new(),
            pids: HashMap::new(),
            restarting: Vec::new(),
            next_run: 0,
            origin: Instant::now(),
        }
    }
}

impl Probes {
    /// Whether `pid` is a command probe's (a child of the daemon that is no program's).
    pub(super) fn is_probe(&self, pid: u32) -> bool {
        self.pids.contains_key(&pid)
    }
}

fn check_of(config: &ProcessConfig) -> Option<&HealthCheck> {
    config.healthcheck.as_ref()
}

impl Supervisor {
    /// Every state change: probing starts when a process with a health check enters RUNNING
    /// and ends when it leaves it; a process its check stopped is started again.
    pub(super) fn health_on_state(&mut self, id: ProcId, to: ProcessState) {
        if to == ProcessState::Stopped {
            if let Some(i) = self.probes.restarting.iter().position(|&r| r == id) {
                self.probes.restarting.swap_remove(i);
                // Next turn, once this transition's effects are all carried out.
                self.timers.arm(TimerKey::HealthRestart(id), Instant::now());
            }
        }
        let Some(p) = self.table.get(id) else { return };
        if check_of(&p.config).is_none() {
            return;
        }
        if to == ProcessState::Running {
            self.probes.next_run += 1;
            let run = self.probes.next_run;
            let probing = Probing {
                health: Health::new(Instant::now()),
                run,
                in_flight: None,
                timed_out: false,
            };
            if let Some(old) = self.probes.probing.insert(id, probing) {
                self.end_probe(old);
            }
            self.timers.arm(TimerKey::HealthProbe(id), Instant::now());
        } else if let Some(old) = self.probes.probing.remove(&id) {
            self.timers.cancel(TimerKey::HealthProbe(id));
            self.timers.cancel(TimerKey::HealthTimeout(id));
            self.end_probe(old);
        }
    }

    /// A run of probes is over: a command probe still going is killed (its exit is reaped
    /// and ignored).
    fn end_probe(&mut self, old: Probing) {
        if let Some(InFlight::Command { pid, .. }) = old.in_flight {
            let _ = sys::kill(-(pid as i32), libc::SIGKILL);
        }
    }

    /// The probe timer of `id`: starts a probe unless one is still under way.
    pub(super) fn health_probe(&mut self, id: ProcId) {
        let Some(p) = self.table.get(id) else { return };
        let Some(check) = check_of(&p.config).cloned() else {
            return;
        };
        let Some(probing) = self.probes.probing.get(&id) else {
            return;
        };
        if probing.in_flight.is_some() {
            return;
        }
        let run = probing.run;
        // A TCP probe of an address (no name to resolve) begins here, and usually ends too.
        let address = match &check.probe {
            Probe::Tcp { host, port } => host
                .parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| std::net::SocketAddr::new(ip, *port)),
            _ => None,
        };
        let in_flight = match &check.probe {
            Probe::Command(command) => match self.spawn_probe(id, command) {
                Ok(in_flight) => in_flight,
                Err(error) => {
                    self.health_outcome(id, Err(error));
                    return;
                }
            },
            Probe::Tcp { .. } if address.is_some() => {
                let Some(addr) = address else { return };
                match health::tcp_start(addr) {
                    health::TcpStart::Done(outcome) => {
                        self.health_outcome(id, outcome);
                        return;
                    }
                    health::TcpStart::Connecting(stream) => {
                        let tx = self.probes.tx.clone();
                        tokio::spawn(async move {
                            let outcome = health::tcp_finish(stream, check.timeout).await;
                            let _ = tx.send(Report { id, run, outcome });
                        });
                        InFlight::Network
                    }
                }
            }
            probe => {
                let probe = probe.clone();
                let tx = self.probes.tx.clone();
                tokio::spawn(async move {
                    if let Some(outcome) = health::network(&probe, check.timeout).await {
                        let _ = tx.send(Report { id, run, outcome });
                    }
                });
                InFlight::Network
            }
        };
        if let Some(probing) = self.probes.probing.get_mut(&id) {
            probing.in_flight = Some(in_flight);
            probing.timed_out = false;
        }
        self.timers
            .arm(TimerKey::HealthTimeout(id), Instant::now() + check.timeout);
    }

    /// Spawns a command probe as the program's user, with its environment and directory;
    /// its output is kept (the tail) for the log.
    fn spawn_probe(&mut self, id: ProcId, command: &str) -> Result<InFlight, String> {
        let p = self.table.get(id).ok_or("gone")?;
        let mut config = (*p.config).clone();
        config.command = command.to_string();
        config.redirect_stderr = true;
        let (filename, argv) =
            spawn::resolve_command(&config, &self.spawn_ctx).map_err(|e| e.to_string())?;
        let child = spawn::spawn(
            &config,
            &p.group,
            &self.spawn_ctx,
            &filename,
            &argv,
            Wiring::default(),
        )?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let tail = Arc::clone(&output);
        let pipe = tokio::net::unix::pipe::Receiver::from_owned_fd_unchecked(
            child.stdout.ok_or("the probe has no stdout pipe")?,
        )
        .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let mut pipe = pipe;
            let mut buf = [0u8; 1024];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut kept = tail.lock().unwrap_or_else(|e| e.into_inner());
                kept.extend_from_slice(&buf[..n]);
                let excess = kept.len().saturating_sub(OUTPUT_KEPT);
                kept.drain(..excess);
            }
        });
        self.probes.pids.insert(child.pid, id);
        Ok(InFlight::Command {
            pid: child.pid,
            output,
        })
    }

    /// A reaped pid that is no program's: `true` when it was a command probe (then handled).
    pub(super) fn health_reaped(&mut self, pid: u32, end: ProcessEnd) -> bool {
        let Some(id) = self.probes.pids.remove(&pid) else {
            return false;
        };
        let Some(probing) = self.probes.probing.get_mut(&id) else {
            return true;
        };
        let output = match &probing.in_flight {
            Some(InFlight::Command { pid: p, output }) if *p == pid => Arc::clone(output),
            _ => return true,
        };
        let said = {
            let kept = output.lock().unwrap_or_else(|e| e.into_inner());
            String::from_utf8_lossy(&kept).trim().to_string()
        };
        let outcome = if end == ProcessEnd::Exited(0) {
            Ok(if said.is_empty() {
                "exit status 0".to_string()
            } else {
                said
            })
        } else if said.is_empty() {
            Err(end.describe())
        } else {
            Err(format!("{}: {said}", end.describe()))
        };
        self.health_outcome(id, outcome);
        true
    }

    /// A network probe's report.
    pub(super) fn health_report(&mut self, report: Report) {
        let current =
            self.probes.probing.get(&report.id).is_some_and(|p| {
                p.run == report.run && matches!(p.in_flight, Some(InFlight::Network))
            });
        if current {
            self.health_outcome(report.id, report.outcome);
        }
    }

    /// The timeout of the probe under way: a command probe is killed (its exit then counts
    /// as the failure); a network probe times out on its own.
    pub(super) fn health_timeout(&mut self, id: ProcId) {
        if let Some(probing) = self.probes.probing.get_mut(&id) {
            if let Some(InFlight::Command { pid, .. }) = &probing.in_flight {
                probing.timed_out = true;
                let _ = sys::kill(-(*pid as i32), libc::SIGKILL);
            }
        }
    }

    /// One probe's outcome: the verdict, its log line and event, the action, the next probe.
    fn health_outcome(&mut self, id: ProcId, outcome: Result<String, String>) {
        let ctx = self.now();
        let Some(p) = self.table.get(id) else { return };
        let Some(check) = check_of(&p.config).cloned() else {
            return;
        };
        let (name, group) = (p.config.name.clone(), p.group.clone());
        let pid = p.life.pid;
        let Some(probing) = self.probes.probing.get_mut(&id) else {
            return;
        };
        probing.in_flight = None;
        let outcome = match (probing.timed_out, outcome) {
            (true, _) => Err(format!("timed out after {}s", check.timeout.as_secs())),
            (false, o) => o,
        };
        probing.timed_out = false;
        let pass = outcome.is_ok();
        let detail = match outcome {
            Ok(d) | Err(d) => d,
        };
        let verdict = probing
            .health
            .record(pass, detail.clone(), ctx.now, ctx.epoch, &check);
        let failures = probing.health.failures;
        let counted = probing.health.counts(ctx.now, &check);
        self.timers.cancel(TimerKey::HealthTimeout(id));
        self.timers.arm(
            TimerKey::HealthProbe(id),
            health::on_grid(self.probes.origin, ctx.now + check.interval),
        );
        if !pass {
            let when = if counted && failures <= check.retries {
                format!("{failures} of {}", check.retries)
            } else if counted {
                format!("{failures} in a row")
            } else {
                "in its start period".to_string()
            };
            self.log
                .warn(format!("health check of {name} failed ({when}): {detail}"));
        }
        if verdict.is_some() {
            self.publish_process(id);
        }
        match verdict {
            None => {}
            Some(Verdict::BecameHealthy) => {
                self.log
                    .info(format!("health check of {name} passed: {detail}"));
                self.notify(Event::health(true, &name, &group, pid, 0, &detail));
                self.depends_on_change();
            }
            Some(Verdict::BecameUnhealthy) => {
                let action = match check.action {
                    HealthAction::Restart => "restarting it",
                    HealthAction::None => "no action (healthcheck_action=none)",
                };
                self.log.warn(format!(
                    "{name} is unhealthy after {failures} failed health checks in a row: {action}"
                ));
                self.notify(Event::health(false, &name, &group, pid, failures, &detail));
                if check.action == HealthAction::Restart {
                    self.stop_then_start(id);
                }
            }
        }
    }

    /// Stops `id` and starts it again once it is STOPPED (a failed health check, a memory
    /// limit).
    pub(super) fn stop_then_start(&mut self, id: ProcId) {
        if !self.probes.restarting.contains(&id) {
            self.probes.restarting.push(id);
        }
        self.feed(id, Input::Stop);
    }

    /// A process its health check stopped is STOPPED: it starts again (unless the daemon is
    /// stopping, or someone started it meanwhile).
    pub(super) fn health_restart(&mut self, id: ProcId) {
        let stopped = self
            .table
            .get(id)
            .is_some_and(|p| p.life.state == ProcessState::Stopped);
        if stopped {
            self.feed(id, Input::Start);
        }
    }

    /// Whether `id` passes its health check (`true` without one): what `=healthy` waits for.
    pub(super) fn passes_health(&self, id: ProcId) -> bool {
        let checked = self
            .table
            .get(id)
            .is_some_and(|p| p.config.healthcheck.is_some());
        !checked
            || self
                .probes
                .probing
                .get(&id)
                .is_some_and(|p| p.health.status == Status::Healthy)
    }

    /// What `supervisor_rs.getProcessHealth` says of `id`.
    pub(super) fn health_info(&self, id: ProcId) -> Option<HealthInfo> {
        let p = self.table.get(id)?;
        let health = self.probes.probing.get(&id).map(|p| &p.health);
        let status = match (p.config.healthcheck.is_some(), health) {
            (false, _) => "none",
            (true, None) => Status::Unknown.name(),
            (true, Some(h)) => h.status.name(),
        };
        let (passed, output, checked) =
            health
                .and_then(|h| h.last.clone())
                .unwrap_or((false, String::new(), 0));
        Some(HealthInfo {
            name: p.config.name.clone(),
            group: p.group.clone(),
            status,
            failures: health.map_or(0, |h| h.failures),
            checked,
            passed,
            output,
        })
    }

    /// A stop asked for by a client: a health-check restart under way is called off.
    pub(super) fn health_stop_requested(&mut self, id: ProcId) {
        self.probes.restarting.retain(|&r| r != id);
    }
}
