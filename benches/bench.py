#!/usr/bin/env python3
"""Side-by-side benchmark of two supervisord-compatible daemons: ours against Python's 4.3.0.

Every scenario runs both daemons interleaved (ours, Python, ours, Python, ...) on identical
configs, plus the scenario's floor (what no supervisor can beat) where there is one, and reports
medians with [min-max], the ratio ours/Python (or ours/floor) and the target from the issues.
Only the daemon is measured: its own VmRSS and the utime+stime of all its threads from /proc.
See docs/benchmarks.md for the latest figures and ../shared/reference/performance.md for the
method. Standard library only; run through scripts/bench.sh.
"""

import argparse
import ctypes
import datetime
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

SIDES = ("ours", "python", "floor")
RUNNING = 20  # ProcessStates.RUNNING
CLK_TCK = os.sysconf("SC_CLK_TCK")
TOKEN_VAR = "SUPERVISOR_BENCH_TOKEN"
BENCHES = Path(__file__).resolve().parent


class BenchError(Exception):
    """A daemon did not do what a scenario needs; the scenario is reported as not measured."""


# ---------------------------------------------------------------------------------------------
# Child programs the scenarios run (written to the session directory at start).

BULK_WRITER = '''\
"""Write argv[1] bytes of 80-byte lines to stdout in 64 KiB writes, as fast as possible."""
import os, sys
total = int(sys.argv[1])
pattern = memoryview((b"x" * 79 + b"\\n") * 4096)  # 5 x 64 KiB, so the lines stay continuous
written = 0
while written < total:
    offset = written % len(pattern)
    chunk = pattern[offset:offset + min(65536, total - written)]
    written += os.write(1, chunk)
'''

OK_LISTENER = '''\
import sys
stdin, stdout = sys.stdin, sys.stdout
while True:
    stdout.write("READY\\n")
    stdout.flush()
    header = stdin.readline()
    if not header:
        break
    fields = dict(token.split(":", 1) for token in header.split())
    stdin.read(int(fields["len"]))
    stdout.write("RESULT 2\\nOK")
    stdout.flush()
'''

CHATTY_WRITER = '''\
"""Write one short line per write(2) to stdout, argv[1] lines per second, forever."""
import os, sys, time
period = 1.0 / float(sys.argv[1])
line = b"a short line from a chatty benchmark child\\n"
due = time.monotonic()
while True:
    os.write(1, line)
    due += period
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)
'''


@dataclass(frozen=True)
class Scale:
    """Sizes of the scenarios: the issue's figures, or small ones for a smoke run (--quick)."""

    rss_programs: int = 100
    fleet: int = 1000
    log_bytes: int = 1 << 30
    chatty_children: int = 50
    chatty_rate: int = 1000
    chatty_seconds: float = 10.0
    respawn_seconds: float = 10.0
    rpc_programs: int = 100
    rpc_clients: int = 8
    rpc_seconds: float = 5.0
    ctl_status_programs: int = 1000
    ctl_start_programs: int = 10
    ctl_runs: int = 20
    event_programs: int = 100
    event_seconds: float = 300.0
    stall_seconds: float = 10.0
    stall_interval: float = 0.001
    stall_programs: int = 5
    stall_launch: int = 1500

    @property
    def log_mib(self):
        return self.log_bytes >> 20


QUICK = Scale(fleet=200, log_bytes=100 << 20, chatty_seconds=3.0, respawn_seconds=5.0,
              rpc_seconds=2.0, ctl_runs=5, event_seconds=15.0, stall_seconds=3.0,
              stall_launch=300)


@dataclass
class Context:
    """What every scenario needs: the sizes and where the helper programs are."""

    scale: Scale
    session: Path
    bulk_writer: Path
    chatty_writer: Path
    ok_listener: Path
    # The supervisorctl of each side (keyed by that side's daemon binary), and the daemon both
    # ctls talk to in the ctl scenario.
    ctl_for: dict
    ctl_daemon: str


# ---------------------------------------------------------------------------------------------
# Process bookkeeping: /proc readings, fd limit, leftovers.

def raise_fd_limit():
    """Raise the soft RLIMIT_NOFILE to the hard limit; daemons inherit it (1000 programs need ~3000 fds)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def become_subreaper():
    """Adopt orphans (children of a killed daemon) so teardown can reap them; pid 1 may not."""
    PR_SET_CHILD_SUBREAPER = 36
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def cpu_seconds(pid):
    """utime+stime of all threads of pid, in seconds (/proc/<pid>/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid, field_name="VmRSS"):
    """A memory figure of pid itself (not its children) from /proc/<pid>/status, in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    raise BenchError(f"no {field_name} for pid {pid}")


def pids_with_token(token):
    """Live processes whose environment carries the token: a daemon's children and theirs."""
    needle = f"{TOKEN_VAR}={token}".encode()
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def reap_orphans():
    """Collect every exited child of ours, adopted orphans included."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def wait_until(predicate, timeout, what, interval=0.005):
    """Poll predicate until it returns a true value (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# A minimal XML-RPC client: HTTP/1.1 keep-alive over AF_UNIX, so the client is not the bottleneck.

def encode_call(method, *params):
    """A complete pre-encoded HTTP request for one XML-RPC call."""
    body = xmlrpc.client.dumps(params, methodname=method).encode()
    head = (f"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


class RpcConnection:
    """One keep-alive connection to the daemon's unix socket."""

    def __init__(self, path, timeout=60.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buffer = b""

    def close(self):
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(1 << 18)
        if not data:
            raise BenchError("daemon closed the connection")
        self.buffer += data

    def roundtrip(self, request):
        """Send a pre-encoded request, return the response body (HTTP 200 with Content-Length)."""
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        if b" 200 " not in lines[0] + b" ":
            raise BenchError(f"HTTP status {lines[0].decode(errors='replace')}")
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise BenchError("response without Content-Length")
        parts = [self.buffer]
        received = len(self.buffer)
        while received < length:
            data = self.sock.recv(max(1 << 18, length - received))
            if not data:
                raise BenchError("daemon closed the connection mid-response")
            parts.append(data)
            received += len(data)
        data = b"".join(parts)
        self.buffer = data[length:]
        return data[:length]

    def call(self, method, *params):
        """A decoded XML-RPC call (raises xmlrpc.client.Fault on a fault)."""
        result, _ = xmlrpc.client.loads(self.roundtrip(encode_call(method, *params)))
        return result[0]


# ---------------------------------------------------------------------------------------------
# One daemon under test.

@dataclass
class Program:
    """One [program:x] section; numprocs > 1 names processes name_0000, name_0001, ..."""

    name: str
    command: str
    numprocs: int = 1
    options: dict = field(default_factory=dict)
    kind: str = "program"

    def section(self):
        options = {"command": self.command, "numprocs": self.numprocs, "startsecs": 0,
                   "autorestart": "false", "stdout_logfile": "NONE", "stderr_logfile": "NONE"}
        if self.numprocs > 1:
            options["process_name"] = "%(program_name)s_%(process_num)04d"
        options.update(self.options)
        lines = [f"[{self.kind}:{self.name}]"] + [f"{k} = {v}" for k, v in options.items()]
        return "\n".join(lines) + "\n"


class Daemon:
    """A supervisord-compatible binary run with `-n -c` on a temp config, always torn down.

    The daemon gets its own session (process group) and a unique token in its environment,
    which its children inherit; teardown sends SIGTERM, then SIGKILLs the group and every
    process carrying the token, reaps them and removes the temp dir.
    """

    def __init__(self, binary, ctx, programs, name):
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=ctx.session))
        self.socket = self.dir / "supervisor.sock"
        self.logfile = self.dir / "supervisord.log"
        self.programs = programs
        self.token = uuid.uuid4().hex
        self.proc = None
        self.out = None
        self.started = None

    def config(self):
        processes = sum(p.numprocs for p in self.programs)
        return "\n".join([
            f"[unix_http_server]\nfile = {self.socket}\n",
            f"[supervisord]\nlogfile = {self.logfile}\nlogfile_maxbytes = 0\n"
            f"pidfile = {self.dir}/supervisord.pid\nchildlogdir = {self.dir}\n"
            f"loglevel = info\nnodaemon = true\nminfds = {max(1024, 3 * processes + 256)}\n",
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
            f"[supervisorctl]\nserverurl = unix://{self.socket}\n",
            *(p.section() for p in self.programs),
        ])

    def __enter__(self):
        conf = self.dir / "supervisord.conf"
        conf.write_text(self.config())
        self.out = open(self.dir / "daemon.out", "wb")
        env = dict(os.environ, **{TOKEN_VAR: self.token})
        self.started = time.monotonic()
        try:
            self.proc = subprocess.Popen([self.binary, "-n", "-c", str(conf)], env=env,
                                         stdin=subprocess.DEVNULL, stdout=self.out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        except OSError:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc):
        self.teardown()

    @property
    def pid(self):
        return self.proc.pid

    def check_alive(self):
        """Raise with the daemon's last output if it has exited."""
        if self.proc.poll() is not None:
            output = (self.dir / "daemon.out").read_bytes().decode(errors="replace")
            last = [line[:200] for line in output.splitlines() if line.strip()][-3:]
            raise BenchError(f"daemon exited with status {self.proc.returncode}: "
                             + " / ".join(last))

    def connect(self):
        return RpcConnection(self.socket)

    def wait_ready(self, timeout=120.0):
        """Wait until the daemon answers getState with RUNNING over its unix socket."""
        def answered():
            self.check_alive()
            try:
                conn = self.connect()
                try:
                    return conn.call("supervisor.getState")["statename"] == "RUNNING"
                finally:
                    conn.close()
            except (OSError, xmlrpc.client.Fault, xmlrpc.client.ResponseError):
                return False
        wait_until(answered, timeout, "the daemon to answer getState", interval=0.02)

    def wait_all_running(self, count, timeout=180.0, group=None):
        """Wait until getAllProcessInfo lists `count` processes (of `group`, if given), all
        RUNNING."""
        self.wait_ready(timeout)
        conn = self.connect()
        try:
            def all_running():
                self.check_alive()
                infos = [i for i in conn.call("supervisor.getAllProcessInfo")
                         if group is None or i["group"] == group]
                return len(infos) == count and all(i["state"] == RUNNING for i in infos)
            wait_until(all_running, timeout, f"{count} processes RUNNING", interval=0.1)
        finally:
            conn.close()

    def teardown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        if self.out is not None:
            self.out.close()

        def leftovers_gone():
            for pid in pids_with_token(self.token):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            reap_orphans()
            return not pids_with_token(self.token)
        wait_until(leftovers_gone, 30, "the daemon's children to die", interval=0.05)
        shutil.rmtree(self.dir, ignore_errors=True)


class LogTail:
    """Reads complete new lines from a growing log file."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""

    def new_lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        return lines


def sleepers(n):
    return Program("sleep", "sleep 1000", numprocs=n)


def percentile(samples, q):
    """Nearest-rank percentile (q in 0..1)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# ---------------------------------------------------------------------------------------------
# Scenarios: each runs one daemon binary once and returns {metric key: value}.

def bench_rss(binary, ctx):
    """Daemon VmRSS with 100 `sleep` programs RUNNING (logs NONE): the daemon's own memory,
    read after a 1 s settle; VmHWM (peak) alongside."""
    n = ctx.scale.rss_programs
    with Daemon(binary, ctx, [sleepers(n)], "rss") as daemon:
        daemon.wait_all_running(n)
        time.sleep(1.0)
        return {"rss": rss_mb(daemon.pid), "hwm": rss_mb(daemon.pid, "VmHWM")}


def bench_fleet(binary, ctx):
    """One daemon life with 1000 `sleep` programs (startsecs=0, logs NONE), three figures.
    Launch -> all RUNNING: from Popen to the 1000th `entered RUNNING state` line in the main
    log, watched passively, because polling over RPC would wake Python's 1 s loop early and
    shorten its figure. getAllProcessInfo over the unix socket: one client back to back
    (calls/s; p50 and p99 by nearest rank, so with Python's few calls p99 is its slowest).
    SIGTERM -> daemon exited, with no child left alive."""
    n = ctx.scale.fleet
    with Daemon(binary, ctx, [sleepers(n)], "fleet") as daemon:
        tail = LogTail(daemon.logfile)
        running = 0

        def all_entered_running():
            nonlocal running
            daemon.check_alive()
            running += sum(b"entered RUNNING state" in line for line in tail.new_lines())
            return running >= n
        wait_until(all_entered_running, 180, f"{n} `entered RUNNING state` log lines")
        launch = time.monotonic() - daemon.started
        daemon.wait_all_running(n)

        conn = daemon.connect()
        request = encode_call("supervisor.getAllProcessInfo")
        if len(xmlrpc.client.loads(conn.roundtrip(request))[0][0]) != n:
            raise BenchError(f"getAllProcessInfo did not list {n} processes")
        latencies = []
        begin = time.monotonic()
        while time.monotonic() - begin < ctx.scale.rpc_seconds or len(latencies) < 3:
            t0 = time.monotonic()
            conn.roundtrip(request)
            latencies.append(time.monotonic() - t0)
        elapsed = time.monotonic() - begin
        conn.close()

        t0 = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        try:
            daemon.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            raise BenchError("daemon still running 120 s after SIGTERM")
        shutdown = time.monotonic() - t0
        alive = pids_with_token(daemon.token)
        if alive:
            raise BenchError(f"{len(alive)} children still alive after the daemon exited")
        return {"launch": launch, "shutdown": shutdown,
                "allinfo_rate": len(latencies) / elapsed,
                "allinfo_p50": percentile(latencies, 0.5) * 1e3,
                "allinfo_p99": percentile(latencies, 0.99) * 1e3}


def floor_spawn(ctx):
    """The spawn floor: this process posix_spawnp's 1000 `sleep`s (each in its own process
    group, as a supervisor does); the time to spawn them all."""
    env = dict(os.environ)
    pids = []
    try:
        t0 = time.monotonic()
        for _ in range(ctx.scale.fleet):
            pids.append(os.posix_spawnp("sleep", ["sleep", "1000"], env, setpgroup=0))
        return {"launch": time.monotonic() - t0}
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        for pid in pids:
            os.waitpid(pid, 0)


def bench_logcapture(binary, ctx):
    """One child writing 1 GB of 80-byte lines in 64 KiB writes into its stdout_logfile
    (maxbytes=0): throughput from startProcess to the last byte in the file, and the daemon's
    CPU time (all threads) per MB captured."""
    total = ctx.scale.log_bytes
    program = Program("writer", f"{sys.executable} {ctx.bulk_writer} {total}", options={
        "autostart": "false", "stdout_logfile": "%(here)s/writer.log",
        "stdout_logfile_maxbytes": 0, "stdout_logfile_backups": 0})
    with Daemon(binary, ctx, [program], "log") as daemon:
        daemon.wait_ready()
        log = daemon.dir / "writer.log"
        conn = daemon.connect()
        cpu0 = cpu_seconds(daemon.pid)
        t0 = time.monotonic()
        conn.call("supervisor.startProcess", "writer", False)

        def all_captured():
            daemon.check_alive()
            return log.exists() and log.stat().st_size >= total
        wait_until(all_captured, 600, f"{total} bytes in the child's log file", interval=0.002)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(daemon.pid) - cpu0
        conn.close()
        if log.stat().st_size != total:
            raise BenchError(f"log file has {log.stat().st_size} bytes, expected {total}")
        return {"log_rate": total / 1e6 / elapsed, "log_cpu": cpu * 1e3 / (total / 1e6)}


def floor_cat(ctx):
    """The log capture floor: the same generator piped through `cat` into a file on the
    same disk."""
    total = ctx.scale.log_bytes
    target = ctx.session / "floor.log"
    t0 = time.monotonic()
    subprocess.run(f"'{sys.executable}' '{ctx.bulk_writer}' {total} | cat > '{target}'",
                   shell=True, check=True)
    elapsed = time.monotonic() - t0
    size = target.stat().st_size
    target.unlink()
    if size != total:
        raise BenchError(f"floor wrote {size} bytes, expected {total}")
    return {"log_rate": total / 1e6 / elapsed}


def chatty_program(ctx):
    """The chatty children: each writes short lines at chatty_rate into its own log file."""
    s = ctx.scale
    return Program("chatty", f"{sys.executable} {ctx.chatty_writer} {s.chatty_rate}",
                   numprocs=s.chatty_children, options={
                       "stdout_logfile": "%(here)s/%(program_name)s_%(process_num)04d.log",
                       "stdout_logfile_maxbytes": 0, "stdout_logfile_backups": 0})


def bench_chatty(binary, ctx):
    """50 children each writing 1000 short lines/s (one write per line) into their own
    stdout_logfile: the daemon's CPU % of one core over the window, and the lines/s that
    reached the log files (so both daemons are seen to have carried the same load)."""
    s = ctx.scale
    with Daemon(binary, ctx, [chatty_program(ctx)], "chatty") as daemon:
        daemon.wait_all_running(s.chatty_children)
        time.sleep(1.0)

        def logged_bytes():
            return sum(p.stat().st_size for p in daemon.dir.glob("chatty_*.log"))
        bytes0, cpu0, t0 = logged_bytes(), cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(s.chatty_seconds)
        bytes1, cpu1, t1 = logged_bytes(), cpu_seconds(daemon.pid), time.monotonic()
        daemon.check_alive()
        line = len(b"a short line from a chatty benchmark child\n")
        return {"chatty_cpu": 100 * (cpu1 - cpu0) / (t1 - t0),
                "chatty_lines": (bytes1 - bytes0) / line / (t1 - t0)}


def bench_events(binary, ctx):
    """N programs that each exit after 1 s and are restarted at once (EXITED, STARTING and
    RUNNING every second: 3N events/s) and one listener subscribed to EVENT that answers OK
    to each: the daemon's CPU % of one core over the window, the state changes it carried
    (Python restarts on its 1 s tick, so it carries fewer) and its CPU per 1000 of them, and
    its RSS growth from the window's first 10 s to its end (a leak would show as growth)."""
    s = ctx.scale
    flappers = Program("flap", "sleep 1", numprocs=s.event_programs,
                       options={"autorestart": "true", "startretries": 1000})
    listener = Program("listener", f"{sys.executable} {ctx.ok_listener}", kind="eventlistener",
                       options={"events": "EVENT", "buffer_size": 1000, "autorestart": "true"})
    with Daemon(binary, ctx, [listener, flappers], "events") as daemon:
        daemon.wait_ready()
        time.sleep(3.0)

        def spawns():
            return daemon.logfile.read_bytes().count(b"spawned: 'flap_")
        spawns0, cpu0, t0 = spawns(), cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(min(10.0, s.event_seconds / 2))
        rss0 = rss_mb(daemon.pid)
        time.sleep(max(0.0, s.event_seconds - (time.monotonic() - t0)))
        spawns1, cpu1, t1 = spawns(), cpu_seconds(daemon.pid), time.monotonic()
        rss1 = rss_mb(daemon.pid)
        daemon.check_alive()
        # Each restart is three state changes (EXITED, STARTING, RUNNING), three events.
        changes = 3 * (spawns1 - spawns0)
        return {"events_cpu": 100 * (cpu1 - cpu0) / (t1 - t0),
                "events_rate": changes / (t1 - t0),
                "events_cpu_per_k": 1000 * 1000 * (cpu1 - cpu0) / max(changes, 1),
                "events_rss_growth": rss1 - rss0}


LOG_EVENT = re.compile(rb"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ "
                       rb"(spawned: 'crash' |exited: crash )")


def bench_respawn(binary, ctx):
    """A program that crashes after 0.2 s (startsecs=0, autorestart=true): median ms from an
    `exited:` line to the next `spawned:` line in the main log (its millisecond timestamps),
    over the whole crash loop. (A program that exits at once is restarted at most every
    100 ms by design, see docs/compatibility.md, so it would measure that pause instead.)"""
    program = Program("crash", "sh -c 'sleep 0.2; exit 1'",
                      options={"autorestart": "true", "startretries": 1000})
    with Daemon(binary, ctx, [program], "respawn") as daemon:
        daemon.wait_ready()
        time.sleep(ctx.scale.respawn_seconds)
        daemon.check_alive()
        gaps, exited = [], None
        for line in daemon.logfile.read_bytes().split(b"\n"):
            match = LOG_EVENT.match(line)
            if not match:
                continue
            stamp = datetime.datetime.strptime(match[1].decode(), "%Y-%m-%d %H:%M:%S,%f")
            if match[2].startswith(b"exited"):
                exited = stamp
            elif exited is not None:
                gaps.append((stamp - exited).total_seconds() * 1e3)
                exited = None
        if len(gaps) < 2:
            raise BenchError(f"only {len(gaps)} exited -> spawned pairs in the main log")
        return {"respawn": statistics.median(gaps)}


def _getstate_client(path, seconds, barrier, results):
    """One client process: getState back to back on one connection for `seconds`."""
    try:
        conn = RpcConnection(path)
        request = encode_call("supervisor.getState")
        barrier.wait(timeout=60)
        calls, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            conn.roundtrip(request)
            calls += 1
        results.put(calls)
    except Exception as exc:  # reported to the parent, which fails the run
        results.put(f"{type(exc).__name__}: {exc}")


def getstate_clients(socket_path, ctx):
    """8 client processes calling getState back to back on `socket_path`: total calls/s."""
    s = ctx.scale
    mp = multiprocessing.get_context("fork")
    barrier, results = mp.Barrier(s.rpc_clients), mp.Queue()
    clients = [mp.Process(target=_getstate_client,
                          args=(socket_path, s.rpc_seconds, barrier, results))
               for _ in range(s.rpc_clients)]
    for client in clients:
        client.start()
    counts = [results.get(timeout=s.rpc_seconds + 120) for _ in clients]
    for client in clients:
        client.join()
    errors = [c for c in counts if isinstance(c, str)]
    if errors:
        raise BenchError(f"getState client failed: {errors[0]}")
    return sum(counts) / s.rpc_seconds


def bench_getstate(binary, ctx):
    """8 client processes calling getState back to back for 5 s over the unix socket, with
    100 programs running: total requests/s."""
    with Daemon(binary, ctx, [sleepers(ctx.scale.rpc_programs)], "getstate") as daemon:
        daemon.wait_all_running(ctx.scale.rpc_programs)
        return {"getstate_rate": getstate_clients(daemon.socket, ctx)}


def floor_getstate(ctx):
    """The getState floor: the same clients against benches/floor_server.c, a trivial C epoll
    server answering every request with Python's getState bytes (no XML parsing, no state):
    what this machine and these Python clients allow at best."""
    server = ctx.session / "floor_server"
    if not server.exists():
        subprocess.run(["cc", "-O2", "-o", str(server), str(BENCHES / "floor_server.c")],
                       check=True)
    sock = ctx.session / "floor.sock"
    sock.unlink(missing_ok=True)  # the previous repetition's: exists() must mean listening
    proc = subprocess.Popen([str(server), str(sock)])
    try:
        wait_until(sock.exists, 10, "the floor server's socket")
        return {"getstate_rate": getstate_clients(sock, ctx)}
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------------
# The API never stalls: getState latency of one polling client while the daemon is under load.

def _run_queue_wait(fd):
    """A thread's cumulative wait on a run queue in seconds (its schedstat, second field, ns):
    the time it was runnable but another task had the CPU."""
    return int(os.pread(fd, 128, 0).split()[1]) / 1e9


def _keep_on_cpu():
    """Make the calling process the one the scheduler runs first: SCHED_FIFO where allowed
    (it sleeps or waits for the daemon nearly all the time), else nice -10, else as it is."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        return
    except (PermissionError, AttributeError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    except PermissionError:
        pass


def _poll_getstate(path, interval, wait_for_socket, daemon_pid, stop, results):
    """The polling client (a forked process): see GetStatePoller."""
    try:
        _keep_on_cpu()
        polled = {}
        if wait_for_socket:
            wait_until(lambda: os.path.exists(path), 120, "the socket file", interval=0.0005)
            polled["bind"] = time.monotonic()

            def connected():
                try:
                    return RpcConnection(path)
                except (FileNotFoundError, ConnectionRefusedError):
                    return None
            conn = wait_until(connected, 60, "the socket to accept", interval=0.0005)
            polled["connected"] = time.monotonic()
        else:
            conn = RpcConnection(path)
        request = encode_call("supervisor.getState")
        own = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        # The daemon's main thread: its event loop (ours is a current-thread runtime, Python
        # has one thread). Its pid is set by the parent once Popen has returned.
        pid = wait_until(lambda: daemon_pid.value, 60, "the daemon's pid", interval=0.0005)
        theirs = os.open(f"/proc/{pid}/schedstat", os.O_RDONLY)
        samples, waits, daemon_waits = [], [], []
        deadline = time.monotonic() + 600
        while not stop.is_set() and time.monotonic() < deadline:
            c0, d0 = _run_queue_wait(own), _run_queue_wait(theirs)
            t0 = time.monotonic()
            body = conn.roundtrip(request)
            t1 = time.monotonic()
            waits.append(_run_queue_wait(own) - c0)
            daemon_waits.append(_run_queue_wait(theirs) - d0)
            samples.append(t1 - t0)
            if len(samples) == 1:
                polled["first_answer"] = t1
                if xmlrpc.client.loads(body)[0][0]["statename"] != "RUNNING":
                    raise BenchError(f"getState answered {body[:200]!r}")
            elif b"<fault>" in body:
                raise BenchError(f"getState answered {body[:200]!r}")
            time.sleep(interval)
        conn.close()
        polled.update(samples=samples, waits=waits, daemon_waits=daemon_waits)
        results.put(polled)
    except Exception as exc:  # reported to the parent, which fails the run
        results.put(f"{type(exc).__name__}: {exc}")


class GetStatePoller:
    """One client process calling getState over the unix socket on one fresh keep-alive
    connection, pausing `interval` after each answer (so the client takes ~1 % of a core from
    the load, and the 2 cores stay the daemon's and the load's), until finish(). It runs
    SCHED_FIFO where allowed, so that neither the load nor anything else on the machine keeps
    the client itself off the CPU (the daemon and its children keep their normal priority).
    For each call it records the round trip and the run-queue waits during it, its own and
    the daemon main thread's, so that a stall of the client is seen rather than blamed on the
    daemon, and CPU contention is told apart from the daemon being busy. With wait_for_socket
    it is started before the daemon: it waits for the socket file to appear (`bind`),
    connects as soon as the socket accepts (`connected`) and calls at once (`first_answer`),
    all in time.monotonic(), which is the parent's clock too."""

    def __init__(self, socket_path, interval, daemon_pid=0, wait_for_socket=False):
        mp = multiprocessing.get_context("fork")
        self.stop, self.results = mp.Event(), mp.Queue()
        self.daemon_pid = mp.Value("i", daemon_pid)
        self.proc = mp.Process(target=_poll_getstate, daemon=True, args=(
            str(socket_path), interval, wait_for_socket, self.daemon_pid, self.stop,
            self.results))

    def __enter__(self):
        self.proc.start()
        return self

    def __exit__(self, *exc):
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()

    def finish(self, timeout=120):
        """Stop the client and return what it polled (samples and waits in seconds)."""
        self.stop.set()
        polled = self.results.get(timeout=timeout)
        self.proc.join()
        if isinstance(polled, str):
            raise BenchError(f"getState client failed: {polled}")
        if not polled["samples"]:
            raise BenchError("no getState answer")
        return polled


def latency_figures(polled):
    """p50, p99 (nearest rank) and slowest of the round trips in ms; the p99 of the round
    trips less the run-queue waits during each (the client's and the daemon's: what is left
    is the daemon busy elsewhere, not the CPU taken from it); the number of calls; and the
    client's own longest run-queue wait in one call."""
    samples = polled["samples"]
    net = [max(0.0, t - c - d)
           for t, c, d in zip(samples, polled["waits"], polled["daemon_waits"])]
    return {"gs_p50": percentile(samples, 0.5) * 1e3, "gs_p99": percentile(samples, 0.99) * 1e3,
            "gs_max": max(samples) * 1e3, "gs_p99_net": percentile(net, 0.99) * 1e3,
            "gs_calls": len(samples), "client_wait": max(polled["waits"]) * 1e3}


def poll_during_load(daemon, ctx, carried):
    """Poll getState for stall_seconds while the load runs: the latency figures, the load
    carried per second (`carried()` is a cumulative count) and the daemon's CPU % of a core,
    over the same window."""
    s = ctx.scale
    with GetStatePoller(daemon.socket, s.stall_interval, daemon.pid) as poller:
        count0, cpu0, t0 = carried(), cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(s.stall_seconds)
        count1, cpu1, t1 = carried(), cpu_seconds(daemon.pid), time.monotonic()
        polled = poller.finish()
    daemon.check_alive()
    return {**latency_figures(polled), "load": (count1 - count0) / (t1 - t0),
            "daemon_cpu": 100 * (cpu1 - cpu0) / (t1 - t0)}


def bench_stall_flood(binary, ctx):
    """One client process calling getState over the unix socket on a fresh keep-alive
    connection, one call per ms (a 1 ms pause after each answer), at SCHED_FIFO so that it is
    never itself kept off the CPU, while one child floods its stdout_logfile with 80-byte
    lines in 64 KiB writes as fast as it can (rotated at 256 MB, one backup), from 1 s after
    it started: p50, p99 and slowest round trip; the p99 less the run-queue waits of the
    client and of the daemon's main thread during each call (from their schedstat), i.e.
    without the CPU contention of a 2-core machine; the MB/s the child wrote (its wchar; the
    pipe holds back what the daemon does not take) and the daemon's CPU over the window."""
    program = Program("writer", f"{sys.executable} {ctx.bulk_writer} {1 << 60}", options={
        "stdout_logfile": "%(here)s/writer.log", "stdout_logfile_maxbytes": 256 << 20,
        "stdout_logfile_backups": 1})
    with Daemon(binary, ctx, [program], "stall-flood") as daemon:
        daemon.wait_all_running(1)
        conn = daemon.connect()
        pid = conn.call("supervisor.getProcessInfo", "writer")["pid"]
        conn.close()
        time.sleep(1.0)

        def megabytes_written():
            with open(f"/proc/{pid}/io") as f:
                fields = dict(line.split(": ") for line in f.read().splitlines())
            return int(fields["wchar"]) / 1e6
        return poll_during_load(daemon, ctx, megabytes_written)


def bench_stall_chatty(binary, ctx):
    """The same client while 50 children each write 1000 short lines/s (one write per line)
    into their own stdout_logfile, from 1 s after all are RUNNING: p50, p99 and slowest
    round trip, the lines/s that reached the log files and the daemon's CPU over the window."""
    s = ctx.scale
    with Daemon(binary, ctx, [chatty_program(ctx)], "stall-chatty") as daemon:
        daemon.wait_all_running(s.chatty_children)
        time.sleep(1.0)
        line = len(b"a short line from a chatty benchmark child\n")

        def lines():
            return sum(p.stat().st_size for p in daemon.dir.glob("chatty_*.log")) / line
        return poll_during_load(daemon, ctx, lines)


def bench_stall_crash(binary, ctx):
    """The same client while a program that exits at once (`false`, startsecs=0,
    autorestart=true, startretries=1000) crash-loops beside 5 `sleep` programs, from 1 s after
    the daemon answers: p50, p99 and slowest round trip, the restarts/s (`spawned: 'crash'`
    lines in the main log; ours restarts at most 10 times a second by design, Python at each
    turn of its main loop, which the client's calls wake more often than its 1 s tick) and
    the daemon's CPU over the window."""
    crash = Program("crash", "false", options={"autorestart": "true", "startretries": 1000})
    programs = [crash, sleepers(ctx.scale.stall_programs)]
    with Daemon(binary, ctx, programs, "stall-crash") as daemon:
        daemon.wait_ready()
        time.sleep(1.0)
        tail, spawned = LogTail(daemon.logfile), 0

        def restarts():
            nonlocal spawned
            spawned += sum(b"spawned: 'crash' " in line for line in tail.new_lines())
            return spawned
        return poll_during_load(daemon, ctx, restarts)


def bench_stall_launch(binary, ctx):
    """The same client, started before the daemon, during the launch of 1500 `sleep` programs
    (startsecs=0, logs NONE): ms from the socket file's appearance (polled every 0.5 ms) to
    the first getState answer (the client connects as soon as the socket accepts and calls at
    once); p50, p99 and slowest of all round trips from then until the last `entered RUNNING
    state` line in the main log; the launch time (Popen → all RUNNING) and when the socket
    appeared after Popen."""
    n = ctx.scale.stall_launch
    daemon = Daemon(binary, ctx, [sleepers(n)], "stall-launch")
    with GetStatePoller(daemon.socket, ctx.scale.stall_interval, wait_for_socket=True) as poller:
        with daemon:
            poller.daemon_pid.value = daemon.pid
            tail, running = LogTail(daemon.logfile), 0

            def all_entered_running():
                nonlocal running
                daemon.check_alive()
                running += sum(b"entered RUNNING state" in line for line in tail.new_lines())
                return running >= n
            wait_until(all_entered_running, 180, f"{n} `entered RUNNING state` log lines")
            launch = time.monotonic() - daemon.started
            polled = poller.finish()
            daemon.wait_all_running(n)
    return {**latency_figures(polled), "launch": launch,
            "first_answer": (polled["first_answer"] - polled["bind"]) * 1e3,
            "connect": (polled["connected"] - polled["bind"]) * 1e3,
            "bind": (polled["bind"] - daemon.started) * 1e3}


def stall_metrics(*load):
    """The latency rows of a stall scenario (p99 ≤ 20 ms, the issue's target), then `load`."""
    return [Metric("gs_p50", "getState p50", "ms"),
            Metric("gs_p99", "getState p99", "ms", (("abs", "<=", 20),)),
            Metric("gs_max", "getState slowest", "ms"),
            Metric("gs_p99_net", "getState p99 less run-queue waits (client's, daemon's)", "ms"),
            *load,
            Metric("gs_calls", "getState calls in the window", "calls"),
            Metric("client_wait", "client's own run-queue wait in one call, max", "ms")]


# ---------------------------------------------------------------------------------------------
# Scenario table, running, and the report.

@dataclass
class Metric:
    """One reported figure; targets are (against, op, bound) with against in python/floor/abs."""

    key: str
    label: str
    unit: str
    targets: tuple = ()


@dataclass
class Scenario:
    """A named group of metrics measured in one daemon run; title is formatted with the Scale."""

    name: str
    title: str
    run: Callable
    metrics: list
    floor: Optional[Callable] = None


def ctl_runs(ctl, conf, args, runs, between=None):
    """Median wall time (ms) of `ctl -c conf args`, each run a whole process; `between` runs
    untimed before each timed one."""
    times = []
    for _ in range(runs):
        if between:
            subprocess.run([ctl, "-c", conf, *between], check=True, capture_output=True,
                           timeout=60)
        start = time.perf_counter()
        done = subprocess.run([ctl, "-c", conf, *args], capture_output=True, timeout=60)
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            raise BenchError(f"{ctl} {' '.join(args)} exited {done.returncode}: {done.stdout[-200:]!r}")
    return statistics.median(times)


def bench_ctl(binary, ctx):
    """Whole-process time of this side's `supervisorctl -c FILE status` with 1000 programs
    RUNNING, and of `supervisorctl start x` with 10 programs (x stopped, untimed, before each
    start; startsecs=0), medians of back-to-back runs. Both sides' ctls talk to our daemon, so
    the figures are the clients' own."""
    ctl = ctx.ctl_for[binary]
    n = ctx.scale.ctl_status_programs
    with Daemon(ctx.ctl_daemon, ctx, [sleepers(n)], "ctl-status") as daemon:
        daemon.wait_all_running(n)
        conf = str(daemon.dir / "supervisord.conf")
        status = ctl_runs(ctl, conf, ["status"], ctx.scale.ctl_runs)
    m = ctx.scale.ctl_start_programs
    with Daemon(ctx.ctl_daemon, ctx, [sleepers(m)], "ctl-start") as daemon:
        daemon.wait_all_running(m)
        conf = str(daemon.dir / "supervisord.conf")
        x = "sleep:sleep_0000" if m > 1 else "sleep"
        start = ctl_runs(ctl, conf, ["start", x], ctx.scale.ctl_runs, between=["stop", x])
    return {"ctl_status": status, "ctl_start": start}



class WebDaemon(Daemon):
    """A Daemon that also serves HTTP on a 127.0.0.1 port (a browser cannot use the socket)."""

    def __init__(self, binary, ctx, programs, name):
        super().__init__(binary, ctx, programs, name)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]

    def config(self):
        return super().config() + f"\n[inet_http_server]\nport = 127.0.0.1:{self.port}\n"


def bench_web(binary, ctx):
    """The web UI in headless Chromium (`tests/web/bench.mjs`, playwright-core) against the
    fleet's `sleep` programs, each page in a browser context of its own. Rendered: from
    navigation to every row in the live table, the one the page's script builds from the
    stream (the server's table is on screen before it), median of 3 loads. Latency: from a page's stop/start
    POST to its row showing the new state, 20 of each (p50, p99). CPU: the daemon's
    utime+stime for 200 restarts (800 state changes) with 0, 1 and 10 pages open; the stream
    ratio is (10 pages - none) / (1 page - none). Ours only: Python's page has no live
    stream."""
    if binary != ctx.ctl_daemon:
        raise BenchError("Python's page has no live stream; the web UI is ours only")
    n = ctx.scale.fleet
    with WebDaemon(binary, ctx, [sleepers(n)], "web") as daemon:
        daemon.wait_all_running(n)
        done = subprocess.run(
            ["node", str(BENCHES.parent / "tests/web/bench.mjs"), f"http://127.0.0.1:{daemon.port}/",
             str(daemon.pid), str(n)], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise BenchError(f"bench.mjs failed: {done.stderr.strip()[-500:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        return {"web_render": figures["render_ms"], "web_latency_p50": figures["latency_p50_ms"],
                "web_latency_p99": figures["latency_p99_ms"], "web_cpu0": figures["cpu0_ms"],
                "web_cpu1": figures["cpu1_ms"], "web_cpu10": figures["cpu10_ms"],
                "web_stream_ratio": figures["stream_ratio"]}


class ProbeTarget:
    """A TCP port on loopback that accepts and closes every connection (a thread of the
    bench), counting them: what the health checks of the `health` scenario connect to."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.close()
            self.accepted += 1

    def close(self):
        self.sock.close()


def cpu_window(daemon, ctx, carried):
    """The daemon's CPU % of a core and the load carried per second over stall_seconds,
    with no client calling."""
    count0, cpu0, t0 = carried(), cpu_seconds(daemon.pid), time.monotonic()
    time.sleep(ctx.scale.stall_seconds)
    count1, cpu1, t1 = carried(), cpu_seconds(daemon.pid), time.monotonic()
    daemon.check_alive()
    return {"load": (count1 - count0) / (t1 - t0), "daemon_cpu": 100 * (cpu1 - cpu0) / (t1 - t0)}


def bench_health(binary, ctx):
    """N `sleep` programs (the fleet), each with `healthcheck=tcp://` to one local port that accepts
    and closes (a thread of the bench) every second, from 2 s after all are healthy: the
    daemon's CPU % of a core and the probes/s the port saw over stall_seconds with no client,
    then the stall scenarios' getState client polling (p50, p99) for as long; then, in the
    same run, the same fleet without health checks, the baseline of both. Ours only: Python
    has no health checks."""
    if binary != ctx.ctl_daemon:
        raise BenchError("Python has no health checks; the scenario is ours only")
    n = ctx.scale.fleet
    target = ProbeTarget()
    try:
        checked = Program("sleep", "sleep 1000", numprocs=n, options={
            "healthcheck": f"tcp://127.0.0.1:{target.port}", "healthcheck_interval": 1,
            "healthcheck_timeout": 1})
        with Daemon(binary, ctx, [checked], "health") as daemon:
            daemon.wait_all_running(n)
            conn = daemon.connect()
            try:
                def all_healthy():
                    daemon.check_alive()
                    health = conn.call("supervisor_rs.getAllProcessHealth")
                    return sum(h["health"] == "healthy" for h in health) == n
                wait_until(all_healthy, 60, f"{n} processes healthy", interval=0.2)
            finally:
                conn.close()
            time.sleep(2.0)
            idle = cpu_window(daemon, ctx, lambda: target.accepted)
            probed = poll_during_load(daemon, ctx, lambda: target.accepted)
    finally:
        target.close()
    with Daemon(binary, ctx, [sleepers(n)], "health-base") as daemon:
        daemon.wait_all_running(n)
        time.sleep(2.0)
        base_idle = cpu_window(daemon, ctx, lambda: 0)
        base = poll_during_load(daemon, ctx, lambda: 0)
    return {"health_cpu": idle["daemon_cpu"], "base_cpu": base_idle["daemon_cpu"],
            "health_probes": idle["load"],
            "health_gs_p50": probed["gs_p50"], "health_gs_p99": probed["gs_p99"],
            "base_gs_p99": base["gs_p99"],
            "health_p99_ratio": probed["gs_p99"] / max(base["gs_p99"], 1e-3)}


def bench_schedule(binary, ctx):
    """10 jobs on `schedule=* * * * * *` beside the fleet of sleepers: each run appends its
    wall-clock start (`date +%s.%N`, so the shell's and date's exec are counted too) to a file
    for stall_seconds; how late after its occurrence (the whole second) each run began, p50 and
    p99, and the share of occurrences that ran. Ours only: Python has no schedules."""
    if binary != ctx.ctl_daemon:
        raise BenchError("Python has no schedules; the scenario is ours only")
    jobs = 10
    runs = Path(tempfile.mkdtemp(prefix="schedule-runs-", dir=ctx.session)) / "runs"
    job = Program("job", f"/bin/sh -c 'date +%%s.%%N >> {runs}'", numprocs=jobs,
                  options={"schedule": "* * * * * *"})
    with Daemon(binary, ctx, [sleepers(ctx.scale.fleet), job], "schedule") as daemon:
        daemon.wait_all_running(ctx.scale.fleet, group="sleep")
        wait_until(lambda: runs.exists(), 10, "a first scheduled run")
        time.sleep(1.0)
        start = time.time()
        time.sleep(ctx.scale.stall_seconds)
        end = time.time()
        daemon.check_alive()
    seen = [float(t) for t in runs.read_text().split()]
    # The occurrences wholly in the window (with half a second after each for its runs), and
    # the runs that belong to them.
    marks = {m for m in range(int(start) + 1, int(end)) if m + 0.5 < end}
    window = [t for t in seen if int(t) in marks]
    late = [1000 * (t - int(t)) for t in window]
    due = jobs * len(marks)
    if not late:
        raise BenchError("no scheduled run in the window")
    return {"sched_late_p50": percentile(late, 0.5), "sched_late_p99": percentile(late, 0.99),
            "sched_ran": 100 * len(window) / max(due, 1)}


SCENARIOS = [
    Scenario("rss", "Daemon memory, {s.rss_programs} programs running", bench_rss, [
        Metric("rss", "VmRSS", "MB", (("python", "<=", 0.1),)),
        Metric("hwm", "VmHWM (peak)", "MB")]),
    Scenario("fleet", "{s.fleet} programs: launch, getAllProcessInfo, shutdown", bench_fleet, [
        Metric("launch", "launch → all RUNNING", "s", (("python", "<=", 0.1), ("floor", "<=", 2))),
        Metric("allinfo_rate", "getAllProcessInfo throughput", "calls/s", (("python", ">=", 50),)),
        Metric("allinfo_p50", "getAllProcessInfo p50", "ms"),
        Metric("allinfo_p99", "getAllProcessInfo p99", "ms", (("python", "<=", 0.02),)),
        Metric("shutdown", "SIGTERM → exited, all reaped", "s", (("python", "<=", 0.1),))],
        floor=floor_spawn),
    Scenario("logcapture", "One child writing {s.log_mib} MiB to its stdout_logfile",
             bench_logcapture, [
                 Metric("log_rate", "throughput", "MB/s", (("floor", ">=", 0.9),)),
                 Metric("log_cpu", "daemon CPU per MB", "ms/MB", (("python", "<=", 0.5),))],
             floor=floor_cat),
    Scenario("chatty", "{s.chatty_children} children × {s.chatty_rate} lines/s for {s.chatty_seconds:g} s", bench_chatty, [
        Metric("chatty_cpu", "daemon CPU", "% of a core", (("python", "<=", 0.2),)),
        Metric("chatty_lines", "lines captured", "lines/s")]),
    Scenario("events", "{s.event_programs} programs changing state every second, one listener on EVENT, {s.event_seconds:g} s", bench_events, [
        Metric("events_cpu", "daemon CPU", "% of a core", (("python", "<=", 0.1),)),
        Metric("events_rate", "state changes (events) carried", "events/s"),
        Metric("events_cpu_per_k", "daemon CPU per 1000 events", "ms"),
        Metric("events_rss_growth", "RSS growth over the window", "MB")]),
    Scenario("respawn", "Respawn after a crash, {s.respawn_seconds:g} s of crash loop", bench_respawn, [
        Metric("respawn", "exited → next spawned, median", "ms", (("abs", "<=", 10),))]),
    Scenario("getstate", "getState, {s.rpc_clients} client processes × {s.rpc_seconds:g} s, {s.rpc_programs} programs", bench_getstate, [
        Metric("getstate_rate", "getState throughput", "calls/s", (("python", ">=", 20),))],
        floor=floor_getstate),
    Scenario("ctl", "supervisorctl: status with {s.ctl_status_programs} programs, start with {s.ctl_start_programs}", bench_ctl, [
        Metric("ctl_status", "`status`, whole process", "ms", (("python", "<=", 0.1),)),
        Metric("ctl_start", "`start x`, whole process", "ms", (("python", "<=", 0.1),))]),
    Scenario("stall-flood", "getState while one child floods its stdout_logfile, {s.stall_seconds:g} s", bench_stall_flood, stall_metrics(
        Metric("load", "child's output written", "MB/s"),
        Metric("daemon_cpu", "daemon CPU", "% of a core"))),
    Scenario("stall-chatty", "getState while {s.chatty_children} children × {s.chatty_rate} lines/s, {s.stall_seconds:g} s", bench_stall_chatty, stall_metrics(
        Metric("load", "lines captured", "lines/s"),
        Metric("daemon_cpu", "daemon CPU", "% of a core"))),
    Scenario("stall-crash", "getState while a program crash-loops beside {s.stall_programs} sleepers, {s.stall_seconds:g} s", bench_stall_crash, stall_metrics(
        Metric("load", "restarts", "spawns/s"),
        Metric("daemon_cpu", "daemon CPU", "% of a core"))),
    Scenario("stall-launch", "getState during the launch of {s.stall_launch} programs", bench_stall_launch, [
        Metric("first_answer", "socket file → first getState answer", "ms", (("abs", "<=", 100),)),
        Metric("connect", "socket file → connection accepted", "ms"),
        Metric("bind", "Popen → socket file", "ms"),
        Metric("launch", "Popen → all RUNNING", "s"),
        *stall_metrics()]),
    Scenario("web", "Web UI in Chromium, {s.fleet} programs", bench_web, [
        Metric("web_render", "navigation → live table rendered", "ms", (("abs", "<=", 1000),)),
        Metric("web_latency_p50", "action → row changed, p50", "ms", (("abs", "<=", 100),)),
        Metric("web_latency_p99", "action → row changed, p99", "ms"),
        Metric("web_cpu0", "daemon CPU, 800 changes, no page", "ms"),
        Metric("web_cpu1", "daemon CPU, 800 changes, 1 page", "ms"),
        Metric("web_cpu10", "daemon CPU, 800 changes, 10 pages", "ms"),
        Metric("web_stream_ratio", "stream cost, 10 pages / 1 page", "×", (("abs", "<=", 10),))]),
    Scenario("health", "{s.fleet} programs with a TCP health check every second, {s.stall_seconds:g} s", bench_health, [
        Metric("health_cpu", "daemon CPU", "% of a core", (("abs", "<=", 5),)),
        Metric("base_cpu", "daemon CPU, same fleet without checks", "% of a core"),
        Metric("health_probes", "probes the port saw", "probes/s"),
        Metric("health_gs_p50", "getState p50, with the checks", "ms"),
        Metric("health_gs_p99", "getState p99, with the checks", "ms"),
        Metric("base_gs_p99", "getState p99, same fleet without checks", "ms"),
        Metric("health_p99_ratio", "getState p99, with / without", "×", (("abs", "<=", 1.5),))]),
    Scenario("schedule", "10 jobs on an every-second schedule beside {s.fleet} sleepers, {s.stall_seconds:g} s", bench_schedule, [
        Metric("sched_late_p50", "occurrence → the job reads the clock, p50", "ms", (("abs", "<=", 20),)),
        Metric("sched_late_p99", "occurrence → the job reads the clock, p99", "ms"),
        Metric("sched_ran", "occurrences that ran", "%", (("abs", ">=", 100),))]),
]


@dataclass
class Outcome:
    """All repetitions of one scenario: samples per side and metric, and failures per side."""

    samples: dict = field(default_factory=lambda: {side: {} for side in SIDES})
    failures: dict = field(default_factory=dict)

    def median(self, side, key):
        values = self.samples[side].get(key)
        return statistics.median(values) if values else None


def run_scenario(scenario, binaries, ctx, reps):
    """Run ours, Python (and the floor) interleaved `reps` times; a side that fails is dropped
    from the remaining repetitions and its reason kept for the report."""
    outcome = Outcome()
    runners = {side: (lambda b=binary: scenario.run(b, ctx)) for side, binary in binaries.items()}
    if scenario.floor:
        runners["floor"] = lambda: scenario.floor(ctx)
    for rep in range(reps):
        for side, runner in runners.items():
            if side in outcome.failures:
                continue
            print(f"[{scenario.name}] rep {rep + 1}/{reps} {side} ...", file=sys.stderr, flush=True)
            try:
                values = runner()
            except Exception as exc:  # whatever a daemon does wrong is reported, never fatal
                outcome.failures[side] = f"{type(exc).__name__}: {exc}"
                print(f"[{scenario.name}] {side} failed: {exc}", file=sys.stderr, flush=True)
                continue
            print(f"[{scenario.name}]   {values}", file=sys.stderr, flush=True)
            for key, value in values.items():
                outcome.samples[side].setdefault(key, []).append(value)
    return outcome


def fmt(value, spec=".3g"):
    """A figure with three significant digits, thousands separated."""
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:{spec}}"


def cell(outcome, side, metric):
    values = outcome.samples[side].get(metric.key)
    if not values:
        return "not measured" if side in outcome.failures else ""
    text = f"{fmt(statistics.median(values))} {metric.unit}"
    if len(values) > 1:
        text += f" [{fmt(min(values))}–{fmt(max(values))}]"
    return text


def ratio(outcome, metric, against):
    ours, ref = outcome.median("ours", metric.key), outcome.median(against, metric.key)
    return ours / ref if ours is not None and ref else None


def verdict(outcome, metric):
    """The targets as text and pass/FAIL ('–' when a figure is missing)."""
    texts, results = [], []
    for against, op, bound in metric.targets:
        sign = {"<=": "≤", ">=": "≥"}[op]
        python, floor = outcome.median("python", metric.key), outcome.median("floor", metric.key)
        if against == "abs":
            texts.append(f"{sign} {bound:g} {metric.unit}")
            value = outcome.median("ours", metric.key)
        elif against == "python" and op == "<=" and python and floor and python * bound < floor:
            # performance.md: where a ratio to Python falls below the floor, the floor wins
            # and the aim is within 1.3x of it.
            texts.append(f"ours/Python {sign} {bound:g} is below the floor: ours/floor ≤ 1.3")
            value, bound = ratio(outcome, metric, "floor"), 1.3
        else:
            texts.append(f"ours/{'Python' if against == 'python' else 'floor'} {sign} {bound:g}")
            value = ratio(outcome, metric, against)
        results.append(None if value is None else
                       (value <= bound if op == "<=" else value >= bound))
    if not texts:
        return "", ""
    if None in results:
        return "; ".join(texts), "–"
    return "; ".join(texts), "pass" if all(results) else "FAIL"


def render_scenario(scenario, outcome, scale):
    has_floor = scenario.floor is not None
    head = ["figure", "ours", "Python 4.3.0"] + (["floor"] if has_floor else [])
    head += ["ours/Python"] + (["ours/floor"] if has_floor else []) + ["target", "result"]
    lines = [f"## {scenario.name}: {scenario.title.format(s=scale)}", "",
             " ".join((scenario.run.__doc__ or "").split()), ""]
    if scenario.floor:
        lines += ["Floor: " + " ".join(scenario.floor.__doc__.split()), ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for metric in scenario.metrics:
        row = [metric.label, cell(outcome, "ours", metric), cell(outcome, "python", metric)]
        if has_floor:
            row.append(cell(outcome, "floor", metric))
        row.append(fmt(ratio(outcome, metric, "python"), "#.3g"))
        if has_floor:
            floor_ratio = ratio(outcome, metric, "floor")
            row.append(fmt(floor_ratio, "#.3g") if floor_ratio is not None else "")
        row += verdict(outcome, metric)
        lines.append("| " + " | ".join(row) + " |")
    for side, reason in outcome.failures.items():
        who = {"ours": "ours", "python": "Python", "floor": "floor"}[side]
        lines += ["", f"{who}: not measured ({who} failed: {reason})"]
    return "\n".join(lines) + "\n"


def version_of(binary):
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        return (done.stdout or done.stderr).strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "unknown"


def machine():
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return f"{os.cpu_count()} CPUs, {mem_kb / 2**20:.1f} GiB RAM, Linux {platform.release()}"


def render_report(args, scale, outcomes):
    lines = [
        "# Benchmarks: supervisor-rs against Python Supervisor 4.3.0", "",
        f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- machine: {machine()}",
        f"- ours: `{args.ours}` ({version_of(args.ours)})",
        f"- Python: `{args.python}` ({version_of(args.python)})",
        f"- harness: Python {platform.python_version()}, interleaved repetitions: {args.reps} "
        f"(ours, Python{', floor' if any(s.floor for s, _ in outcomes) else ''}), medians "
        f"[min–max]{'; **--quick** sizes: ' + repr(scale) if args.quick else ''}",
        "", "Generated by `scripts/bench.sh` (`benches/bench.py`). The machine is shared and "
        "noisy: compare ratios from one run, not absolute figures across runs.", ""]
    for scenario, outcome in outcomes:
        lines.append(render_scenario(scenario, outcome, scale))
    return "\n".join(lines)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ours", required=True, help="our supervisord binary")
    parser.add_argument("--python", required=True, help="Python supervisord 4.3.0")
    parser.add_argument("--ours-ctl", required=True, help="our supervisorctl binary")
    parser.add_argument("--python-ctl", required=True, help="Python supervisorctl 4.3.0")
    parser.add_argument("--only", action="append", choices=[s.name for s in SCENARIOS],
                        help="run only this scenario (repeatable)")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    return parser.parse_args()


def main():
    args = parse_args()
    scale = QUICK if args.quick else Scale()
    hard = raise_fd_limit()
    most = max(scale.fleet, scale.stall_launch)
    if hard < 3 * most + 256:
        sys.exit(f"hard fd limit {hard} is too low for {most} programs")
    become_subreaper()
    binaries = {"ours": str(Path(args.ours).resolve()), "python": str(Path(args.python).resolve())}
    session = Path(tempfile.mkdtemp(prefix="supervisor-bench-"))
    try:
        ctl_for = {binaries["ours"]: str(Path(args.ours_ctl).resolve()),
                   binaries["python"]: str(Path(args.python_ctl).resolve())}
        ctx = Context(scale, session, session / "bulk_writer.py", session / "chatty_writer.py",
                      session / "ok_listener.py", ctl_for, binaries["ours"])
        ctx.bulk_writer.write_text(BULK_WRITER)
        ctx.chatty_writer.write_text(CHATTY_WRITER)
        ctx.ok_listener.write_text(OK_LISTENER)
        outcomes = [(s, run_scenario(s, binaries, ctx, args.reps))
                    for s in SCENARIOS if not args.only or s.name in args.only]
    finally:
        shutil.rmtree(session, ignore_errors=True)
    report = render_report(args, scale, outcomes)
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
