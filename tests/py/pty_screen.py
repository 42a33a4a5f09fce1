"""Runs a command on a pseudo-terminal, types at it as a person would, and prints the screen.

usage: python pty_screen.py COMMAND [ARGS...]  < steps.json

steps.json is a list of steps, run in order:
  {"expect": TEXT}   wait until TEXT appears in the output after the previous match
  {"send": TEXT}     type TEXT (use "\\r" for Enter, "\\t" for Tab, "\\u0003" for Ctrl-C)
  {"send": TEXT, "until": NEEDLE}
                     type TEXT, and again every second, until NEEDLE appears (a polled wait)
  {"exit": true}     wait for the command to exit; its status is printed last
The screen (pyte, 120x200) is printed at the end, each line right-stripped, trailing blank
lines dropped. Exits 1, printing the screen and the step, if a step does not happen within 30 s.
"""
import json
import os
import pty
import select
import sys
import time

import pyte

DEADLINE = 30.0
COLS, ROWS = 120, 200


def main():
    argv = sys.argv[1:]
    steps = json.load(sys.stdin)
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["COLUMNS"] = str(COLS)
        os.environ["LINES"] = str(ROWS)
        os.environ["TERM"] = "xterm"
        os.execvp(argv[0], argv)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    screen = pyte.Screen(COLS, ROWS)
    stream = pyte.ByteStream(screen)
    raw = b""
    seen = 0
    status = None

    def pump(timeout):
        nonlocal raw
        """True: data came; None: nothing within timeout; False: the output ended."""
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return None
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            return False
        raw += chunk
        stream.feed(chunk)
        return True

    def show():
        lines = [line.rstrip() for line in screen.display]
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines) + "\n"

    def fail(why):
        sys.stdout.write(show())
        sys.stderr.write("pty_screen: %s\n" % why)
        sys.exit(1)

    for step in steps:
        end = time.monotonic() + DEADLINE
        if "expect" in step:
            needle = step["expect"].encode()
            while True:
                at = raw.find(needle, seen)
                if at >= 0:
                    seen = at + len(needle)
                    break
                left = end - time.monotonic()
                if left <= 0:
                    fail("timed out waiting for %r" % step["expect"])
                if pump(left) is False:
                    fail("output ended before %r" % step["expect"])
        elif "send" in step and "until" in step:
            needle = step["until"].encode()
            while raw.find(needle, seen) < 0:
                if time.monotonic() >= end:
                    fail("no %r after sending %r" % (step["until"], step["send"]))
                os.write(fd, step["send"].encode())
                again = time.monotonic() + 1.0
                while raw.find(needle, seen) < 0 and time.monotonic() < again:
                    if pump(again - time.monotonic()) is False:
                        fail("output ended before %r" % step["until"])
            seen = raw.find(needle, seen) + len(needle)
        elif "send" in step:
            os.write(fd, step["send"].encode())
        elif "exit" in step:
            while pump(max(0.0, end - time.monotonic())) is not False:
                if time.monotonic() >= end:
                    fail("still running")
            _, st = os.waitpid(pid, 0)
            status = os.waitstatus_to_exitcode(st)
    # Whatever is still on its way to the screen.
    while status is None and pump(0.2):
        pass  # pump is True while data keeps coming
    sys.stdout.write(show())
    if status is not None:
        sys.stdout.write("--- exit %d ---\n" % status)
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
