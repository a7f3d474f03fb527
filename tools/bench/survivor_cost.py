#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Kernel time spent on survivor sampling, as a share of the target's own CPU time.

A slowdown ratio cannot resolve 1% on a shared 2-core VM (see docs/PERFORMANCE.md); this
measures the cost directly: the BPF side adds up the time it spends pairing and confirming
samples (`survivors.ns_total` in `pyleak top --json`, bpf/sites.h sites_pid_stats.surv_ns),
which runs in the target's thread, inside its collections.  Divided by the target's CPU time
(utime + stime from /proc/PID/stat) over the same run, it is the added CPU share.

    tools/bench/survivor_cost.py [--pyleak .output/pyleak] [--python PY ...] [--seconds S]
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCN = os.path.join(ROOT, "tests", "scenarios")
WORKLOADS = [("gc_heavy", ["--cycles", "100000000"]), ("alloc_heavy", ["--ops", "1000000000"]),
             ("http_workload", ["--requests", "100000000"]), ("survivors", ["--cycles"])]
TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TCK


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pyleak", default=os.path.join(ROOT, ".output", "pyleak"))
    ap.add_argument("--python", action="append", dest="pythons")
    ap.add_argument("--seconds", type=int, default=20)
    a = ap.parse_args()
    pythons = a.pythons or ["/usr/bin/python3.11", "/root/.pyenv/versions/3.12.1/bin/python3.12"]
    print("| python | workload | collections | survivor samples | kernel ms | target CPU s | share |")
    print("|---|---|---|---|---|---|---|")
    for py in pythons:
        for name, args in WORKLOADS:
            p = subprocess.Popen([py, os.path.join(SCN, name + ".py")] + args, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            try:
                time.sleep(1.0)
                c0 = cpu_s(p.pid)
                out = subprocess.run([a.pyleak, "top", "-b", "--json", "-d", "1", "-n", str(a.seconds), "-p",
                                      str(p.pid)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     universal_newlines=True, timeout=a.seconds + 120).stdout
                c1 = cpu_s(p.pid)
            finally:
                p.kill()
                p.wait()
            snaps = [json.loads(l) for l in out.splitlines() if l.strip()]
            proc = [x for x in snaps[-1]["processes"] if x["pid"] == p.pid][0]
            sv = proc.get("survivors") or {}
            coll = sum(proc["gc"]["interval"]["collections"]) if proc.get("gc") else 0
            coll = sum(proc["gc"]["collections"]) if proc.get("gc") else 0
            ns = sv.get("ns_total", 0)
            print("| %s | %s | %d | %d | %.1f | %.2f | %.3f%% |" % (
                os.path.basename(py), name, coll, sv.get("sampled", 0), ns / 1e6, c1 - c0,
                100.0 * ns / 1e9 / max(c1 - c0, 1e-9)))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
