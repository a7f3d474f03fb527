#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""alloc_overhead: what the allocation sources cost the observed process.

Runs an allocation-heavy workload (tests/scenarios/alloc_heavy.py) and a realistic one
(tests/scenarios/http_workload.py, in-process client threads) with no observer, then with the
allocation driver in a given mode, in alternating pairs (A B A B ..., >= 5 pairs), and prints per
mode the median ratio of elapsed times (B/A) with min and max.

The observer is tools/bench/alloc_driver.c (userspace/probes/alloc.c without the rest of the collector),
built from the repo:

    make .output/libpyleak.a
    cc -O2 -Iuserspace -Ibpf -I.output tools/bench/alloc_driver.c .output/libpyleak.a \\
       -lbpf -lelf -lz -lm -o .output/alloc_driver
    sudo python3 tools/bench/alloc_overhead.py --pyleak-driver .output/alloc_driver

(--build does those two steps.)  Once `pyleak top --alloc` exists, --pyleak-driver may point at
a wrapper that runs it; the driver contract is: argv = [--mode M] [--budget PCT] PID, print a line
containing "baseline" once attached, exit on SIGINT.

Each target waits for "go" on stdin after start, so the observer is attached (baseline printed)
before the measured work begins; elapsed_s comes from the workload itself (perf_counter around the
work only).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = os.path.join(ROOT, "tests", "scenarios")

WRAPPER = r"""
import runpy, sys
sys.stdin.readline()
path = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(path, run_name="__main__")
"""

WORKLOADS = {
    "alloc_heavy": ["alloc_heavy.py", "--ops", "{ops}"],
    "http": ["http_workload.py", "--requests", "{requests}", "--clients", "2"],
}

MODES = {
    "young": ["--mode", "young"],
    "exact": ["--mode", "exact"],
    "budget": ["--mode", "budget", "--budget", "{budget}"],
}


def build(driver):
    subprocess.check_call(["make", "-C", ROOT, ".output/libpyleak.a"])
    subprocess.check_call(["cc", "-O2", "-I" + os.path.join(ROOT, "userspace"), "-I" + ROOT, "-I" + os.path.join(ROOT, "bpf"),
                           "-I" + os.path.join(ROOT, ".output"), os.path.join(ROOT, "tools/bench/alloc_driver.c"),
                           os.path.join(ROOT, ".output/libpyleak.a"), "-lbpf", "-lelf", "-lz", "-lm", "-o", driver])


def run_once(args, workload, mode):
    wl = [a.format(ops=args.ops, requests=args.requests) for a in WORKLOADS[workload]]
    cmd = [args.python, "-c", WRAPPER, os.path.join(SCENARIOS, wl[0])] + wl[1:]
    target = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True)
    drv = None
    try:
        if mode != "none":
            dargs = [a.format(budget=args.budget) for a in MODES[mode]]
            drv = subprocess.Popen([args.pyleak_driver] + dargs + ["--interval", "1", str(target.pid)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
            line = drv.stdout.readline()
            if "baseline" not in line:
                raise RuntimeError("driver did not attach: %s %s" % (line, drv.stderr.read()))
        else:
            time.sleep(0.3)  # same settling time as the driver's start-up, roughly
        target.stdin.write("go\n")
        target.stdin.flush()
        out, _ = target.communicate(timeout=600)
        res = json.loads([l for l in out.splitlines() if l.startswith("{")][-1])
        return res["elapsed_s"]
    finally:
        if target.poll() is None:
            target.kill()
            target.wait()
        if drv is not None:
            drv.send_signal(signal.SIGINT)
            try:
                drv.wait(30)
            except subprocess.TimeoutExpired:
                drv.kill()
                drv.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pyleak-driver", default=os.path.join(ROOT, ".output", "alloc_driver"))
    p.add_argument("--build", action="store_true", help="build the driver first")
    p.add_argument("--python", default="/root/.pyenv/versions/3.12.1/bin/python3.12")
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--modes", default="young,exact,budget")
    p.add_argument("--workloads", default="alloc_heavy,http")
    p.add_argument("--budget", type=float, default=2.0, help="--alloc-budget percent (default 2)")
    p.add_argument("--ops", type=int, default=1000000, help="alloc_heavy iterations")
    p.add_argument("--requests", type=int, default=4000, help="http_workload requests")
    p.add_argument("--json", action="store_true", help="one JSON line per (workload, mode)")
    args = p.parse_args()
    if args.build:
        build(args.pyleak_driver)
    if os.geteuid() != 0:
        sys.exit("alloc_overhead: needs root (BPF, uprobes)")
    if not os.access(args.pyleak_driver, os.X_OK):
        sys.exit("alloc_overhead: no driver at %s (use --build)" % args.pyleak_driver)
    if args.pairs < 1:
        sys.exit("alloc_overhead: --pairs must be >= 1")
    rc = 0
    for wl in args.workloads.split(","):
        for mode in args.modes.split(","):
            ratios, base, probed = [], [], []
            for i in range(args.pairs):
                a = run_once(args, wl, "none")
                b = run_once(args, wl, mode)
                base.append(a)
                probed.append(b)
                ratios.append(b / a)
            r = {"workload": wl, "mode": mode, "budget_pct": args.budget if mode == "budget" else None,
                 "pairs": args.pairs, "median_ratio": statistics.median(ratios), "min_ratio": min(ratios),
                 "max_ratio": max(ratios), "median_base_s": statistics.median(base),
                 "median_observed_s": statistics.median(probed), "python": args.python}
            if mode == "budget":
                r["within_budget"] = (r["median_ratio"] - 1) * 100 < args.budget
                if not r["within_budget"]:
                    rc = 1
            if args.json:
                print(json.dumps(r, sort_keys=True))
            else:
                print("%-12s %-7s median %.4f  (min %.4f, max %.4f)  base %.3fs%s" % (
                    wl, mode, r["median_ratio"], r["min_ratio"], r["max_ratio"], r["median_base_s"],
                    ("  within %.1f%% budget: %s" % (args.budget, r["within_budget"])) if mode == "budget" else ""))
            sys.stdout.flush()
    return rc


if __name__ == "__main__":
    sys.exit(main())
