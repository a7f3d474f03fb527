# SPDX-License-Identifier: BSD-2-Clause
"""Start a benchmark workload paused, in this very process, so an observer can attach by pid first.

    python launch.py [--gate] [--nodelay] [--objgraph SECONDS] WORKLOAD.py [ARGS...]

With --gate the launcher blocks reading one line from stdin before it runs WORKLOAD with runpy
(run_name "__main__", sys.argv = [WORKLOAD, ARGS...]).  The harness starts this process, attaches
the observer to its pid (pyleak top -p PID, bpftrace -p PID), waits until the observer says it is
attached, then writes the line.  The process never execs: the pid the observer attached to is
the pid that runs the workload, and the interpreter binary, libpython and their probes do not
change.  The "without" runs go through the same launcher and gate, so both sides of a pair pay
the same start-up (and the workloads time themselves anyway: only their own loop is measured).

--nodelay sets socketserver.StreamRequestHandler.disable_nagle_algorithm before the workload
runs.  http.server writes the headers and the body of a response in two send() calls; with Nagle
on, the second one waits for the client's delayed ACK (40 ms on Linux), which caps a keep-alive
client at about 22 requests/s and would make the HTTP benchmark measure a timer, not Python.

--objgraph SECONDS starts a daemon thread that calls objgraph.show_growth(file=devnull) every
SECONDS (the objgraph "observer": code a user adds to the target).  objgraph is imported by file
path from the Debian package so the pyenv interpreters can use it too.

Standard library only; runs on CPython 3.6 to 3.13.
"""

import importlib.util
import json
import os
import runpy
import sys
import threading
import time

OBJGRAPH_PATH = "/usr/lib/python3/dist-packages/objgraph.py"


def load_objgraph():
    spec = importlib.util.spec_from_file_location("objgraph", OBJGRAPH_PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.modules["objgraph"] = mod
    return mod


def start_objgraph_thread(every):
    objgraph = load_objgraph()
    devnull = open(os.devnull, "w")
    peak_stats = {}

    def loop():
        while True:
            time.sleep(every)
            objgraph.show_growth(peak_stats=peak_stats, file=devnull)

    t = threading.Thread(target=loop, name="objgraph-show-growth", daemon=True)
    t.start()
    return t


def report_cpu_at_exit(t0):
    """Print {"launcher_cpu_s": ...} (this process, all threads, since the gate) at exit.

    The scenarios end with os._exit() (no atexit), so os._exit is wrapped.  CPU time of the
    target is what an observer's probes add to it (a uprobe or USDT hit runs its handler and BPF
    program in the target's thread, as system time) and, unlike wall time, is barely moved by
    other load on the machine.  RUSAGE_SELF: children (the HTTP load generator) not included.
    """
    import resource
    real_exit = os._exit
    done = []

    def emit():
        if done:
            return
        done.append(1)
        ru = resource.getrusage(resource.RUSAGE_SELF)
        # The kernel maps "[uprobes]" (the execute-out-of-line area) into a process at its first
        # uprobe hit: in a run without an observer it reveals someone else's probes.
        try:
            with open("/proc/self/maps") as f:
                uprobes = "[uprobes]" in f.read()
        except OSError:
            uprobes = None
        line = json.dumps({"launcher_cpu_s": ru.ru_utime + ru.ru_stime - t0[0] - t0[1],
                           "launcher_uprobes_hit": uprobes,
                           "launcher_utime_s": ru.ru_utime - t0[0],
                           "launcher_stime_s": ru.ru_stime - t0[1]})
        try:
            sys.stdout.flush()
        except Exception:
            pass
        os.write(1, (line + "\n").encode())

    def exit_with_report(code):
        emit()
        real_exit(code)

    os._exit = exit_with_report
    return emit


def wait_gate():
    # One raw read: no buffering layer is left holding data the workload might read later.
    while True:
        data = os.read(0, 64)
        if not data or b"\n" in data:
            break
    fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)


def main(argv):
    gate = False
    nodelay = False
    objgraph_every = 0.0
    i = 0
    while i < len(argv) and argv[i].startswith("--"):
        if argv[i] == "--gate":
            gate = True
        elif argv[i] == "--nodelay":
            nodelay = True
        elif argv[i] == "--objgraph":
            i += 1
            objgraph_every = float(argv[i])
        elif argv[i] == "--":
            i += 1
            break
        else:
            sys.stderr.write("launch: unknown option %s\n" % argv[i])
            return 2
        i += 1
    if i >= len(argv):
        sys.stderr.write(__doc__)
        return 2
    workload = os.path.abspath(argv[i])
    args = argv[i + 1:]
    if nodelay:
        import socketserver
        socketserver.StreamRequestHandler.disable_nagle_algorithm = True
    if objgraph_every > 0:
        load_objgraph()  # import cost before the gate, like a user's import at start-up
    if gate:
        wait_gate()
    import resource
    ru = resource.getrusage(resource.RUSAGE_SELF)
    emit = report_cpu_at_exit((ru.ru_utime, ru.ru_stime))
    if objgraph_every > 0:
        start_objgraph_thread(objgraph_every)
    sys.argv = [workload] + args
    sys.path[0] = os.path.dirname(workload)
    try:
        runpy.run_path(workload, run_name="__main__")
    finally:
        emit()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
