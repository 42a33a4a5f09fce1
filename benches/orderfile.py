#!/usr/bin/env python3
"""Write the daemon's code-layout order file: the functions a typical session runs.

Runs the given supervisord under valgrind's callgrind through a typical session (startup,
programs that run, log, exit and restart, the common XML-RPC calls over the unix and inet
servers, the status page, shutdown) and writes the names of every function that ran, one per
line, to the output file. The release build links those functions first (see build.rs), so the
code a daemon runs sits on as few pages as possible; the rest, rarely run, stays on pages that
are never loaded. Standard library only; run through scripts/orderfile.sh.
"""

import argparse
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


class UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def make_connection(self, host):
        return UnixConnection(self.path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(tmp, port):
    return f"""\
[unix_http_server]
file = {tmp}/supervisor.sock

[inet_http_server]
port = 127.0.0.1:{port}

[supervisord]
logfile = {tmp}/supervisord.log
pidfile = {tmp}/supervisord.pid
childlogdir = {tmp}
loglevel = info
nodaemon = true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[program:sleep]
command = sleep 1000
numprocs = 100
process_name = %(program_name)s_%(process_num)03d
startsecs = 0
stdout_logfile = NONE
stderr_logfile = NONE

[program:chatty]
command = sh -c 'while :; do echo out; echo err >&2; sleep 0.1; done'
startsecs = 0

[program:cat]
command = cat
startsecs = 0
redirect_stderr = true

[program:flaky]
command = sh -c 'sleep 0.5; exit 3'
startsecs = 0
autorestart = true
"""


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, xmlrpc.client.Error, http.client.HTTPException):
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def session(server, port):
    """The calls of a typical session: status, control, logs, stdin, config, reload. A hundred
    programs, since larger tables take other code paths (sorting, hashing)."""
    s = server.supervisor
    wait_until(lambda: len(s.getAllProcessInfo()) == 103
               and all(p["state"] in (10, 20, 30) for p in s.getAllProcessInfo()), 300,
               "the programs to start")
    s.getState()
    s.getPID()
    s.getSupervisorVersion()
    s.getIdentification()
    s.getAPIVersion()
    server.system.listMethods()
    server.system.methodHelp("supervisor.getState")
    server.system.multicall([{"methodName": "supervisor.getState", "params": []}])
    s.getProcessInfo("sleep:sleep_000")
    s.getAllConfigInfo()
    s.readLog(0, 1000)
    s.stopProcess("chatty")
    s.startProcess("chatty")
    time.sleep(1)
    s.tailProcessStdoutLog("chatty", 0, 1000)
    s.readProcessStderrLog("chatty", 0, 1000)
    s.sendProcessStdin("cat", "hello\n")
    s.signalProcess("cat", "HUP")
    s.stopProcessGroup("sleep")
    s.startProcessGroup("sleep")
    s.clearProcessLogs("chatty")
    s.reloadConfig()
    time.sleep(2)
    s.getAllProcessInfo()
    inet = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
    inet.supervisor.getAllProcessInfo()
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/")
    conn.getresponse().read()
    conn.close()


def function_names(callgrind_out):
    """Every function callgrind saw run, in first-seen order, without recursion marks."""
    names = {}
    for line in callgrind_out.read_text(errors="replace").splitlines():
        m = re.match(r"c?fn=\(\d+\) (.+)$", line)
        if m:
            name = re.sub(r"'\d+$", "", m.group(1))
            if not name.startswith("0x"):
                names.setdefault(name, None)
    return list(names)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", help="the release supervisord to profile")
    parser.add_argument("out", type=Path, help="the order file to write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orderfile-") as tmp:
        conf = Path(tmp) / "supervisord.conf"
        port = free_port()
        conf.write_text(config(tmp, port))
        out = Path(tmp) / "callgrind.out"
        daemon = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}",
             args.binary, "-n", "-c", str(conf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # valgrind emulates only the plain vfork form of clone (see src/sys/spawn.rs).
            env={**os.environ, "SUPERVISOR_RS_COPY_FD_TABLE": "1"})
        try:
            server = xmlrpc.client.ServerProxy(
                "http://localhost/RPC2", transport=UnixTransport(f"{tmp}/supervisor.sock"))
            session(server, port)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=300)
        names = function_names(out)
    args.out.write_text("".join(f"{name}\n" for name in names))
    print(f"{len(names)} functions written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
