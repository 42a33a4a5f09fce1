//! Both daemons crossed with both clients: a [`Quad`] runs every `supervisorctl` step as
//! (Python's daemon, Python's ctl) — the reference — and as (Python's daemon, our ctl), (our
//! daemon, Python's ctl) and (our daemon, our ctl), all on the same config, and asserts the four
//! normalised results are identical. [`Offline`] does the same for the two clients alone, where no
//! daemon is needed (help, usage errors, a server that is not there).

use std::fs;
use std::thread;
use std::time::Duration;

use tempfile::TempDir;

use super::{config, differs, free_port, normalise, run_ctl, sort_runs, Ctl, Daemon, Impl, Output};

/// How long [`Quad::wait_for_state`] waits.
const STATE_DEADLINE: Duration = Duration::from_secs(20);

/// One daemon and the client that drives it.
pub struct Member {
    pub daemon: Daemon,
    pub ctl: Ctl,
}

impl Member {
    /// E.g. `our daemon + Python ctl`.
    pub fn name(&self) -> String {
        let who = |python| if python { "Python" } else { "our" };
        format!(
            "{} daemon + {} ctl",
            who(self.daemon.kind == Impl::Python),
            who(self.ctl == Ctl::Python)
        )
    }

    /// `args` with `{port}` (the daemon's inet port) and `{here}` (its dir) filled in.
    fn args(&self, args: &[&str]) -> Vec<String> {
        args.iter()
            .map(|a| {
                a.replace("{port}", &self.daemon.port().to_string())
                    .replace("{here}", &self.daemon.dir().display().to_string())
            })
            .collect()
    }

    /// Runs this member's client with `-c <conf> args...` (raw output).
    #[track_caller]
    pub fn ctl(&self, args: &[&str]) -> Output {
        let args = self.args(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.daemon.ctl_as(self.ctl, &args)
    }

    /// The daemon's normalisation plus the client's argv[0].
    pub fn normalise(&self, text: &str) -> String {
        self.ctl.normalise_argv0(&self.daemon.normalise(text))
    }
}

/// Four daemons on the same config; `members[0]` is the reference (Python daemon, Python ctl).
pub struct Quad {
    pub members: [Member; 4],
}

impl Quad {
    /// Starts the four daemons in parallel on the standard header plus `body`.
    #[track_caller]
    pub fn start(body: &str) -> Quad {
        let plan = [
            (Impl::Python, Ctl::Python),
            (Impl::Python, Ctl::Ours),
            (Impl::Ours, Ctl::Python),
            (Impl::Ours, Ctl::Ours),
        ];
        let members = thread::scope(|s| {
            let handles: Vec<_> = plan
                .iter()
                .map(|&(kind, ctl)| {
                    s.spawn(move || Member {
                        daemon: Daemon::start(kind, body),
                        ctl,
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect::<Vec<_>>()
        });
        Quad {
            members: four(members),
        }
    }

    /// Runs `f` on all four members at once; results in member order.
    pub fn each<T: Send>(&self, f: impl Fn(&Member) -> T + Sync) -> [T; 4] {
        thread::scope(|s| {
            let rest: Vec<_> = self.members[1..].iter().map(|m| s.spawn(|| f(m))).collect();
            let mut all = vec![f(&self.members[0])];
            all.extend(
                rest.into_iter()
                    .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
            );
            four(all)
        })
    }

    /// Runs `f` on the four daemons at once.
    pub fn daemons<T: Send>(&self, f: impl Fn(&Daemon) -> T + Sync) -> [T; 4] {
        self.each(|m| f(&m.daemon))
    }

    /// Runs `step` on all four, normalises each result with its member's rules, asserts all
    /// equal the reference's (naming every member that differs) and returns the reference's.
    #[track_caller]
    pub fn compare(&self, what: &str, step: impl Fn(&Member) -> Output + Sync) -> Output {
        let outs = self.each(|m| step(m).map(|t| m.normalise(t)));
        let reference = outs[0].render();
        let diffs: Vec<String> = self.members[1..]
            .iter()
            .zip(&outs[1..])
            .filter_map(|(m, out)| {
                differs(
                    what,
                    &self.members[0].name(),
                    &reference,
                    &m.name(),
                    &out.render(),
                )
            })
            .collect();
        assert!(diffs.is_empty(), "{}", diffs.join("\n"));
        outs.into_iter().next().expect("reference")
    }

    /// The same `supervisorctl -c <conf> args...` step on all four, compared.
    #[track_caller]
    pub fn ctl(&self, args: &[&str]) -> Output {
        self.compare(&what(args), |m| m.ctl(args))
    }

    /// Like [`Quad::ctl`] for commands acting on several processes at once (`stop all`,
    /// `start g:*`): Python prints each result when that process settles, so the order within a
    /// run of lines with the same outcome is arbitrary and gets sorted.
    #[track_caller]
    pub fn ctl_unordered(&self, args: &[&str]) -> Output {
        self.compare(&what(args), |m| {
            let out = m.ctl(args);
            Output {
                stdout: sort_runs(&out.stdout),
                ..out
            }
        })
    }

    /// A streaming step (`tail -f`) on all four, each killed once its stdout shows `until`;
    /// returns the reference's normalised output.
    #[track_caller]
    pub fn ctl_until(&self, args: &[&str], until: &str) -> String {
        self.compare(&what(args), |m| {
            let owned = m.args(args);
            let owned: Vec<&str> = owned.iter().map(String::as_str).collect();
            let stdout = m.daemon.ctl_until_as(m.ctl, &owned, until);
            Output {
                stdout,
                stderr: String::new(),
                code: 0,
            }
        })
        .stdout
    }

    /// Polls every daemon until `name` is in `state`.
    #[track_caller]
    pub fn wait_for_state(&self, name: &str, state: &str) {
        self.daemons(|d| d.wait_for_state(name, state, STATE_DEADLINE));
    }

    /// Replaces every daemon's config body (e.g. before `reread`).
    pub fn rewrite_config(&self, body: &str) {
        self.daemons(|d| d.rewrite_config(body));
    }
}

/// Both clients without a daemon: a temp dir holding `supervisord.conf` and a port nobody listens
/// on, for help, usage errors and servers that are not there.
pub struct Offline {
    dir: TempDir,
    port: u16,
}

impl Offline {
    /// The standard header plus `body`: its `serverurl` names a socket that does not exist.
    pub fn new(body: &str) -> Offline {
        let port = free_port();
        Offline::write(config(body, port), port)
    }

    /// Exactly `text` (`{port}` filled in) as the config.
    pub fn raw(text: &str) -> Offline {
        let port = free_port();
        Offline::write(text.replace("{port}", &port.to_string()), port)
    }

    fn write(text: String, port: u16) -> Offline {
        let dir = tempfile::Builder::new()
            .prefix("svc")
            .tempdir()
            .expect("tempdir");
        fs::write(dir.path().join("supervisord.conf"), text).expect("write config");
        Offline { dir, port }
    }

    /// `args` with `{port}` (closed) and `{here}` filled in.
    fn args(&self, args: &[&str]) -> Vec<String> {
        args.iter()
            .map(|a| {
                a.replace("{port}", &self.port.to_string())
                    .replace("{here}", &self.dir.path().display().to_string())
            })
            .collect()
    }

    fn normalise(&self, ctl: Ctl, text: &str) -> String {
        normalise(
            &ctl.normalise_argv0(text)
                .replace(&self.dir.path().display().to_string(), "<tmp>")
                .replace(&format!(":{}", self.port), ":<port>"),
        )
    }

    /// Runs `step` with both clients at once, normalises, asserts ours equals Python's and
    /// returns Python's.
    #[track_caller]
    pub fn compare(&self, what: &str, step: impl Fn(Ctl) -> Output + Sync) -> Output {
        let (py, ours) = thread::scope(|s| {
            let py = s.spawn(|| step(Ctl::Python).map(|t| self.normalise(Ctl::Python, t)));
            let ours = step(Ctl::Ours).map(|t| self.normalise(Ctl::Ours, t));
            (
                py.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                ours,
            )
        });
        if let Some(diff) = differs(what, "Python ctl", &py.render(), "our ctl", &ours.render()) {
            panic!("{diff}");
        }
        py
    }

    /// `supervisorctl -c <conf> args...` with both clients, compared after `adjust` (given the
    /// client and its raw output).
    #[track_caller]
    pub fn ctl_adjusted(&self, args: &[&str], adjust: fn(Ctl, Output) -> Output) -> Output {
        let mut full = vec!["-c", "{here}/supervisord.conf"];
        full.extend_from_slice(args);
        let owned = self.args(&full);
        let owned: Vec<&str> = owned.iter().map(String::as_str).collect();
        self.compare(&what(&full), |ctl| {
            adjust(ctl, run_ctl(ctl, self.dir.path(), &owned))
        })
    }

    /// `supervisorctl -c <conf> args...` with both clients, compared.
    #[track_caller]
    pub fn ctl(&self, args: &[&str]) -> Output {
        let mut full = vec!["-c", "{here}/supervisord.conf"];
        full.extend_from_slice(args);
        self.ctl_raw(&full)
    }

    /// `supervisorctl args...` (no `-c`; the dir is the working directory) with both clients.
    #[track_caller]
    pub fn ctl_raw(&self, args: &[&str]) -> Output {
        let owned = self.args(args);
        let owned: Vec<&str> = owned.iter().map(String::as_str).collect();
        self.compare(&what(args), |ctl| run_ctl(ctl, self.dir.path(), &owned))
    }
}

/// Python's client answers a 401 with `Server requires authentication` and then, by a bug
/// (spec §4.2), a second line `error: <class 'xmlrpc.client.ProtocolError'>, <ProtocolError for
/// 127.0.0.1/RPC2: 401 Unauthorized>: file: .../xmlrpc.py line: N`; ours deliberately prints only
/// the first. For a run of Python's client, asserts that second line is there and drops it, so
/// the rest can be compared strictly; any other client's output is left as it is.
#[track_caller]
pub fn drop_auth_traceback(ctl: Ctl, out: Output) -> Output {
    if !ctl.runs_python() {
        return out;
    }
    let lines: Vec<&str> = out.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "Server requires authentication")
        .unwrap_or_else(|| panic!("no authentication error: {out:?}"));
    let next = lines.get(at + 1).copied().unwrap_or_default();
    assert!(
        next.starts_with("error: <class 'xmlrpc.client.ProtocolError'>, <ProtocolError for ")
            && next.contains(" 401 Unauthorized>: file: "),
        "Python's client no longer prints its ProtocolError line: {out:?}"
    );
    let stdout = lines
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != at + 1)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    Output { stdout, ..out }
}

/// Python's client ends each error no command handles with the interpreter's location
/// (`error: <class 'X'>, <message>: file: /.../socket.py line: 836`); ours prints the class and
/// message only (docs/compatibility.md). For a run of Python's client, asserts every such line
/// has the location and drops it, so the rest is compared strictly.
#[track_caller]
pub fn drop_traceback_location(ctl: Ctl, out: Output) -> Output {
    if !ctl.runs_python() {
        return out;
    }
    let stdout = out
        .stdout
        .lines()
        .map(|l| {
            if !l.starts_with("error: <class '") {
                return format!("{l}\n");
            }
            let at = l
                .rfind(": file: ")
                .filter(|&i| l[i..].contains(" line: "))
                .unwrap_or_else(|| panic!("Python's error line has no location: {l:?}"));
            format!("{}\n", &l[..at])
        })
        .collect();
    Output { stdout, ..out }
}

fn what(args: &[&str]) -> String {
    format!("supervisorctl {}", args.join(" "))
}

fn four<T>(v: Vec<T>) -> [T; 4] {
    match v.try_into() {
        Ok(a) => a,
        Err(v) => panic!("expected 4, got {}", v.len()),
    }
}
