#!/usr/bin/env python
"""Dump a supervisord config as Python Supervisor 4.3.0 understands it.

Usage: dump_config.py FILE

Prints the `supervisord --check` format of docs/check-format.md on stdout (exit 0), or
`Error: <message>` + `For help, use supervisord -h` on stderr (exit 2) when the config is
rejected.  Parse warnings/infos go to stderr as `WARN <msg>` / `INFO <msg>` lines.

The config is read by supervisor.options.ServerOptions.realize() itself; nothing is opened
or bound (no sockets, no logs, no pidfile).
"""
import json
import os
import socket
import sys

from supervisor import datatypes
from supervisor.datatypes import list_of_strings
from supervisor.options import (
    ClientOptions,
    EventListenerPoolConfig,
    FastCGIGroupConfig,
    ServerOptions,
    UnhosedConfigParser,
)

PROGNAME = "supervisord"


class CapturingServerOptions(ServerOptions):
    """Keeps the parser around so raw spec strings (rpcinterface factory, result_handler,
    events as written) can be reported; parsing itself is untouched."""

    captured_parser = None

    def process_groups_from_parser(self, parser):
        self.captured_parser = parser
        return ServerOptions.process_groups_from_parser(self, parser)


def js(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def line(kind, name, obj):
    sys.stdout.write("%s %s %s\n" % (kind, name, js(obj)))


def logfile_value(v):
    if v is datatypes.Automatic:
        return "AUTO"
    if v is None:
        return None
    if v is datatypes.Syslog:  # never survives parsing, but be explicit
        return "syslog"
    return v


def autorestart_value(v):
    if v is datatypes.RestartUnconditionally:
        return "true"
    if v is datatypes.RestartWhenExitUnexpected:
        return "unexpected"
    if v is False:
        return "false"
    raise AssertionError("unexpected autorestart value %r" % (v,))


def owner_value(v):
    if v is None:
        return None
    return [int(v[0]), int(v[1])]


def process_obj(p, group_name):
    obj = {
        "name": p.name,
        "group": group_name,
        "command": p.command,
        "priority": p.priority,
        "autostart": bool(p.autostart),
        "startsecs": p.startsecs,
        "startretries": p.startretries,
        "autorestart": autorestart_value(p.autorestart),
        "exitcodes": list(p.exitcodes),
        "stopsignal": int(p.stopsignal),
        "stopwaitsecs": p.stopwaitsecs,
        "stopasgroup": bool(p.stopasgroup),
        # supervisor-rs's own option; Python has no such thing.
        "required": False,
        "killmode": "mixed",
        "healthcheck": None,
        "memory_limit": None,
        "depends_on": [],
        "schedule": None,
        "restart_schedule": None,
        "killasgroup": bool(p.killasgroup),
        "uid": p.uid,
        "redirect_stderr": bool(p.redirect_stderr),
        "directory": p.directory,
        "umask": p.umask,
        "serverurl": p.serverurl,
        "environment": dict(p.environment or {}),
        # supervisor-rs's own option: Python ignores the key.
        "environment_file": [],
    }
    for s in ("stdout", "stderr"):
        obj["%s_logfile" % s] = logfile_value(getattr(p, "%s_logfile" % s))
        for k in ("logfile_maxbytes", "logfile_backups", "capture_maxbytes"):
            obj["%s_%s" % (s, k)] = getattr(p, "%s_%s" % (s, k))
        for k in ("events_enabled", "syslog"):
            obj["%s_%s" % (s, k)] = bool(getattr(p, "%s_%s" % (s, k)))
    return obj


def events_as_written(parser, section, here, pool_events):
    """Event names as written (uppercased, first occurrence order).  Python keeps them in a
    set, so its own order is arbitrary; the names must be the same set."""
    raw = parser.saneget(section, "events", "", expansions={"here": here})
    names = []
    for n in list_of_strings(raw):
        n = n.upper()
        if n not in names:
            names.append(n)
    from supervisor.events import getEventNameByType

    assert sorted(names) == sorted(getEventNameByType(e) for e in pool_events), (
        names,
        pool_events,
    )
    return names


def ctl_obj(path):
    """[supervisorctl] as supervisorctl reads it (main file only), or None."""
    parser = UnhosedConfigParser()
    with open(path) as f:
        parser.read_file(f)
    if not parser.has_section("supervisorctl"):
        return None
    c = ClientOptions()
    try:
        c.read_config(path)
    except ValueError:
        return None
    s = c.configroot.supervisorctl
    return {
        "serverurl": s.serverurl,
        "username": s.username,
        "password": s.password,
        "prompt": s.prompt,
        "history_file": s.history_file,
    }


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: dump_config.py FILE\n")
        return 64
    path = argv[1]
    opts = CapturingServerOptions()
    try:
        opts.realize(args=["-c", path], progname=PROGNAME)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 2
        return code
    for w in opts.parse_warnings:
        sys.stderr.write("WARN %s\n" % w)
    for i in opts.parse_infos:
        sys.stderr.write("INFO %s\n" % i)

    section = opts.configroot.supervisord
    line(
        "supervisord",
        "-",
        {
            "logfile": opts.logfile,
            "logfile_maxbytes": opts.logfile_maxbytes,
            "logfile_backups": opts.logfile_backups,
            "loglevel": opts.loglevel,
            "pidfile": opts.pidfile,
            "umask": opts.umask,
            "nodaemon": bool(opts.nodaemon),
            "silent": bool(opts.silent),
            "minfds": opts.minfds,
            "minprocs": opts.minprocs,
            "nocleanup": bool(opts.nocleanup),
            "childlogdir": opts.childlogdir,
            "user": opts.user,
            "directory": opts.directory,
            "strip_ansi": bool(opts.strip_ansi),
            "environment": dict(section.environment or {}),
            "identifier": opts.identifier,
            # supervisor-rs's own option; Python has no such thing.
            "init": False,
            "remember_stopped": False,
        },
    )

    for c in opts.server_configs:
        if c["family"] is socket.AF_UNIX:
            line(
                "unix_http_server",
                c["section"],
                {
                    "file": c["file"],
                    "chmod": c["chmod"],
                    "chown": owner_value(c["chown"]),
                    "username": c["username"],
                    "password": c["password"],
                },
            )
    for c in opts.server_configs:
        if c["family"] is socket.AF_INET:
            line(
                "inet_http_server",
                c["section"],
                {
                    "host": c["host"],
                    "port": c["port"],
                    "username": c["username"],
                    "password": c["password"],
                },
            )

    ctl = ctl_obj(os.path.abspath(path))
    if ctl is not None:
        line("supervisorctl", "-", ctl)

    parser = opts.captured_parser
    for name, _factory, _extras in sorted(opts.rpcinterface_factories, key=lambda t: t[0]):
        spec = parser.saneget(
            "rpcinterface:%s" % name, "supervisor.rpcinterface_factory", None
        )
        line("rpcinterface", name, {"factory": spec})

    for g in sorted(opts.process_group_configs):
        procs = sorted(g.process_configs)
        gobj = {
            "priority": g.priority,
            "programs": sorted(p.name for p in g.process_configs),
        }
        if isinstance(g, EventListenerPoolConfig):
            gobj["kind"] = "eventlistener"
            gobj["events"] = events_as_written(
                parser, "eventlistener:%s" % g.name, opts.here, g.pool_events
            )
            gobj["buffer_size"] = g.buffer_size
            gobj["result_handler"] = parser.saneget(
                "eventlistener:%s" % g.name,
                "result_handler",
                "supervisor.dispatchers:default_handler",
                expansions={"here": opts.here},
            )
        elif isinstance(g, FastCGIGroupConfig):
            sc = g.socket_config
            gobj["kind"] = "fcgi"
            gobj["socket"] = str(sc)
            gobj["socket_backlog"] = sc.get_backlog()
            gobj["socket_owner"] = owner_value(getattr(sc, "owner", None))
            gobj["socket_mode"] = getattr(sc, "mode", None)
        else:
            gobj["kind"] = "process"
        line("group", g.name, gobj)
        for p in procs:
            line("process", "%s:%s" % (g.name, p.name), process_obj(p, g.name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
