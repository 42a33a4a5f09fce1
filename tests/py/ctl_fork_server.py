"""Python's supervisorctl, imported once: forks one run per connection on an abstract unix
socket, each run doing what the installed bin/supervisorctl script does (see
tests/support/mod.rs, PyCtlServer).

usage: python ctl_fork_server.py <bin/supervisorctl> <socket name>
"""
import atexit, json, os, re, select, signal, socket, sys, threading, traceback

script = sys.argv[1]
sys.path[0] = os.path.dirname(script)
from supervisor.supervisorctl import main

listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind("\0" + sys.argv[2])
listener.listen(64)
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
sys.stdout.write("ready\n")
sys.stdout.flush()
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)


def run(request):
    os.chdir(request["cwd"])
    sys.argv = [re.sub(r"(-script\.pyw|\.exe)?$", "", script)] + request["args"]
    try:
        main()
        code = None
    except SystemExit as e:
        code = e.code
    except BaseException:
        traceback.print_exc()
        code = 1
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code & 0xFF
    else:
        print(code, file=sys.stderr)
        status = 1
    try:
        threading._shutdown()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(status)


def handle(conn):
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    f = conn.makefile("rwb")
    request = json.loads(f.readline())
    out = os.memfd_create("stdout")
    err = os.memfd_create("stderr")
    pid = os.fork()
    if pid == 0:
        f.close()
        conn.close()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        for fd in (devnull, out, err):
            os.close(fd)
        run(request)
    f.write(b"pid %d\n" % pid)
    f.flush()
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    f.write(b"code %d\n" % code)
    for fd in (out, err):
        os.lseek(fd, 0, 0)
        data = b""
        while chunk := os.read(fd, 1 << 16):
            data += chunk
        f.write(b"%d\n" % len(data) + data)
    f.flush()


while True:
    ready, _, _ = select.select([listener, sys.stdin.fileno()], [], [])
    if sys.stdin.fileno() in ready and not os.read(sys.stdin.fileno(), 4096):
        os._exit(0)
    if listener in ready:
        conn, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            try:
                handle(conn)
            finally:
                os._exit(0)
        conn.close()
