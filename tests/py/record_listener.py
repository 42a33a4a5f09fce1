"""An event listener for the differential tests: records every event it gets, one JSON line each.

Usage: record_listener.py RECORD [--fail-first N] [--exit-on K] [--garbage]
(RECORD may instead come from $RECORD_LISTENER_FILE.)

Plain Python, no supervisor import: speaks the protocol on fds 0 and 1 directly (unbuffered).
It appends to RECORD a line {"proc": <name>, "started": true} when it starts, then for each
event {"proc", "header", "payload", "answer"}, written before it answers, and then answers:

  (default)       RESULT 2\\nOK
  --fail-first N  RESULT 4\\nFAIL to the first N events this process gets
  --exit-on K     on the K-th event this process gets, exits with status 7 without answering;
                  only once per RECORD (a marker file RECORD.exited), so a restarted listener
                  behaves
  --garbage       on the first event, writes "garbage\\n" instead of a result; only once per
                  RECORD (marker RECORD.garbage)

`len` in the header counts characters (Python Supervisor 4.x): the payload is decoded as UTF-8
and read until it has that many characters. So that a wrong `len` shows in the recording rather
than as a hang: if the payload stops short for 2 s, what came is recorded (and answered); bytes
that came after the payload in the same read are recorded as "trailing".
"""

import codecs
import json
import os
import select
import sys


class Stdin:
    """Unbuffered reads of fd 0 with our own buffer (so nothing is read ahead and lost)."""

    def __init__(self):
        self.buf = bytearray()

    def _fill(self):
        chunk = os.read(0, 65536)
        if not chunk:
            sys.exit(0)  # the daemon closed our stdin: it is stopping us
        self.buf += chunk

    def line(self):
        while b"\n" not in self.buf:
            self._fill()
        pos = self.buf.index(b"\n")
        line = bytes(self.buf[:pos])
        del self.buf[: pos + 1]
        return line.decode("utf-8", "replace")

    def chars(self, count):
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        text = ""
        while len(text) < count:
            if not self.buf:
                if not select.select([0], [], [], 2.0)[0]:
                    break  # the payload stopped short of `len`
                self._fill()
            text += decoder.decode(bytes(self.buf[:1]))
            del self.buf[:1]
        return text


def write(data):
    while data:
        data = data[os.write(1, data) :]


def record(path, entry):
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")
        f.flush()


def once(marker):
    """True the first time for this marker file, False ever after."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        return True
    except FileExistsError:
        return False


def main(argv):
    path = os.environ.get("RECORD_LISTENER_FILE")
    fail_first = 0
    exit_on = 0
    garbage = False
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--fail-first":
            fail_first = int(args.pop(0))
        elif arg == "--exit-on":
            exit_on = int(args.pop(0))
        elif arg == "--garbage":
            garbage = True
        elif arg.startswith("--"):
            sys.exit("record_listener: unknown option %s" % arg)
        else:
            path = arg
    if not path:
        sys.exit("record_listener: no record file")
    name = os.environ.get("SUPERVISOR_PROCESS_NAME", "?")
    record(path, {"proc": name, "started": True})

    stdin = Stdin()
    count = 0
    while True:
        write(b"READY\n")
        header = stdin.line()
        fields = dict(
            token.split(":", 1) for token in header.split() if ":" in token
        )
        payload = stdin.chars(int(fields.get("len", "0")))
        trailing = bytes(stdin.buf).decode("utf-8", "replace")
        count += 1
        if exit_on and count == exit_on and once(path + ".exited"):
            answer = "exit"
        elif garbage and once(path + ".garbage"):
            answer = "garbage"
        elif count <= fail_first:
            answer = "FAIL"
        else:
            answer = "OK"
        entry = {"proc": name, "header": header, "payload": payload, "answer": answer}
        if trailing:
            entry["trailing"] = trailing
        record(path, entry)
        if answer == "exit":
            os._exit(7)
        elif answer == "garbage":
            write(b"garbage\n")
        else:
            write(b"RESULT %d\n%s" % (len(answer), answer.encode()))


if __name__ == "__main__":
    main(sys.argv[1:])
