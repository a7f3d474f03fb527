#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""detach_tail: how long the allocator probes keep costing a target after pyleak detaches them.

Runs a CPU-bound allocation loop that records its own progress every 5 ms, watches it with
`pyleak -v -v top -b --json --alloc-budget PCT -p PID`, timestamps pyleak's debug lines
("exact probes on/off"), and prints per budget slice: how long the probes were in, and how long
after pyleak started detaching the target's pace came back (>= 90% of its median pace).  The
loop and pyleak run on different CPUs (taskset) when there are two.

    sudo python3 tools/bench/detach_tail.py [--python PY] [--seconds 10] [--budget 2]

This is how the ~0.1 s-per-link tail of perf-event uprobe links was found (userspace/probes/links.h).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LOOP = r"""
import sys, time, json
dur = float(sys.argv[1]); out = sys.argv[2]
class Obj:
    __slots__ = ("a", "b")
    def __init__(self, a): self.a = a; self.b = None
sys.stdout.write("ready\n"); sys.stdout.flush()
sys.stdin.readline()
pc = time.perf_counter
t0 = pc(); nxt = t0 + 0.005; ops = 0; rec = []
while True:
    for i in range(200):
        o = Obj(i); t = (o, i); l = [t]
    ops += 200
    t = pc()
    if t >= nxt:
        rec.append((t - t0, ops)); nxt = t + 0.005
        if t - t0 > dur: break
json.dump({"t0_mono": time.clock_gettime(time.CLOCK_MONOTONIC) - (pc() - t0), "rec": rec}, open(out, "w"))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pyleak", default=os.path.join(ROOT, ".output", "pyleak"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--budget", type=float, default=2.0)
    args = ap.parse_args()
    two = os.cpu_count() and os.cpu_count() >= 2
    pin = lambda cpu: ["taskset", "-c", str(cpu)] if two else []  # noqa: E731
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    tgt = subprocess.Popen(pin(1) + [args.python, "-c", LOOP, str(args.seconds), out], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, universal_newlines=True)
    tgt.stdout.readline()
    drv = subprocess.Popen(pin(0) + [args.pyleak, "-v", "-v", "top", "-b", "--json", "-d", "1", "-p", str(tgt.pid),
                                     "--no-census", "--no-sites", "--alloc-budget", str(args.budget)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    events = []

    def reader():
        for line in drv.stderr:
            if "exact probes on" in line or "exact probes off" in line:
                events.append((time.clock_gettime(time.CLOCK_MONOTONIC), "on" if " on " in line else "off"))

    threading.Thread(target=reader, daemon=True).start()
    drv.stdout.readline()
    tgt.stdin.write("go\n")
    tgt.stdin.flush()
    tgt.wait()
    drv.send_signal(2)
    drv.wait(30)
    d = json.load(open(out))
    os.unlink(out)
    rec = d["rec"]
    pace = [(t, (o - po) / (t - pt)) for (pt, po), (t, o) in zip(rec, rec[1:]) if t > pt]
    normal = statistics.median(p for _, p in pace)
    ev = [(t - d["t0_mono"], k) for t, k in events if t - d["t0_mono"] >= 0]
    print("pace %.0f ops/s median; %d budget slices in %.0f s" % (normal, sum(k == "on" for _, k in ev),
                                                                  args.seconds))
    for (t_on, k1), (t_off, k2) in zip(ev, ev[1:]):
        if k1 != "on" or k2 != "off":
            continue
        back = next((t for t, p in pace if t > t_off and p >= 0.9 * normal), None)
        print("  slice at %6.3f s: probes in %5.1f ms; pace back %s after detach started" % (
            t_on, (t_off - t_on) * 1e3, "%.1f ms" % ((back - t_off) * 1e3) if back else "never"))


if __name__ == "__main__":
    main()
