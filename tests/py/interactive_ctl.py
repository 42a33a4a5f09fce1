"""Drives an interactive `supervisorctl` on a pty, as a person would, and prints the screen.

usage: python interactive_ctl.py <supervisorctl> <ctl.conf>

Answers the `Username:`/`Password:` prompts with user/123, then runs `status`, `help`,
`reload` (answering `y`), `status` (once the program is back) and `quit`. Exits 1 if an expected prompt does not come.
"""
import os
import pty
import select
import sys
import time

DEADLINE = 30.0


def main():
    ctl, conf = sys.argv[1], sys.argv[2]
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["COLUMNS"] = "200"
        os.execv(ctl, [ctl, "-c", conf])
    seen = b""

    def expect(needle, show=True):
        nonlocal seen
        end = time.monotonic() + DEADLINE
        while needle.encode() not in seen:
            left = end - time.monotonic()
            if left <= 0:
                sys.stdout.write(seen.decode(errors="replace"))
                sys.stderr.write("timed out waiting for %r\n" % needle)
                sys.exit(1)
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                seen += chunk
        if needle.encode() not in seen:
            sys.stdout.write(seen.decode(errors="replace"))
            sys.stderr.write("closed before %r\n" % needle)
            sys.exit(1)
        # Consume the needle so the next expect looks for a fresh one.
        out, seen = seen.split(needle.encode(), 1)
        text = out.decode(errors="replace") + needle
        if show:
            sys.stdout.write(text)
            sys.stdout.flush()
        return text

    def send(text):
        os.write(fd, text.encode())

    prompt = "supervisor> "
    expect("Username:")
    send("user\n")
    expect("Password:")
    send("123\n")
    expect(prompt)
    for command in ["status", "help"]:
        send(command + "\n")
        expect(prompt)
    send("reload\n")
    expect("y/N? ")
    send("y\n")
    expect(prompt)
    # The daemon is back: wait (off screen) for its program, then look once more.
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        send("status\n")
        if "RUNNING" in expect(prompt, show=False):
            break
        time.sleep(0.2)
    send("status\n")
    expect(prompt)
    send("quit\n")
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], end - time.monotonic())
        try:
            chunk = os.read(fd, 4096) if ready else b""
        except OSError:
            chunk = b""
        if not chunk:
            break
        seen += chunk
    sys.stdout.write(seen.decode(errors="replace"))
    _, status = os.waitpid(pid, 0)
    sys.stdout.write("\n--- exit %d ---\n" % os.waitstatus_to_exitcode(status))


main()
