#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""pyleak's benchmark harness: what watching a process costs it, side by side with the alternatives.

    sudo tools/bench/bench.py --pyleak .output/pyleak [--quick] [--pairs N] [--json FILE]
                              [--markdown] [--python PATH ...] [--workloads a,b] [--modes a,b]

Measures (docs/PERFORMANCE.md explains each and shows one full run):
  1. slowdown: every workload of tests/scenarios (alloc_heavy, gc_heavy, http_workload, compute)
     runs without and with an observer in alternating pairs (A B A B ..., --pairs, default 5),
     on each interpreter (Debian /usr/bin/python3.11: USDT tier; a pyenv build: uprobe tier).
     Ratio = workload time with / without (for the HTTP workload: requests/s without / with, so
     every ratio reads "times slower"); reported as median [min-max] over the pairs.
     Observers (MODES, data-driven: one line per mode): pyleak top -b --json -d 1 -p PID and
     its later options (run only when `pyleak top --help` mentions them), a bpftrace one-liner on
     the GC USDT probes (USDT interpreters only), tracemalloc in the target (-X tracemalloc),
     objgraph.show_growth() every second in the target.
  1b. per collection: on gc_heavy and gc_requests, alternating pairs without / with the default
     top under kernel.bpf_stats_enabled: each of pyleak's BPF programs' ns per collection (their
     own run-time counters), and the target's system and user time with - without per
     collection (traps = system - programs).
  2. census speed: `pyleak census -p PID --json` vs objgraph.typestats() inside the same target
     holding --census-objects (1 000 000) tracked objects.
  2b. retention chains: time and peak RSS of `pyleak refs -p PID 0xADDR --format json` on the
     same target, beside gc.get_referrers(obj) and objgraph.find_backref_chain(obj) timed inside it.
  2c. chain searches: pyleak top's CPU on one leaking service (leak_connections.py) with the
     Suspects' retention-chain searches and with --no-chains, alternating (--chain-rounds, 2) runs
     of --chain-seconds (60) after a warm-up; CPU per search from the searches the JSON shows.
  3. attach latency: start of `pyleak top -b --json -n 1 -p PID` to its first line, and to the
     first line with a non-null "gc" (-d 0.1).
  4. self cost: pyleak's CPU (% of one core) and RSS watching --idle-procs (50) idle Python
     processes at -d 1 for --idle-seconds (20), read from /proc/PID/stat and /proc/PID/status.
  5. scale: the same over --scale-counts (50,200,1000) idle `-S` interpreters holding
     --scale-dicts (2000) small dicts each, after every one had its first census; and the time
     from starting one leaking process (leak_connections.py) and pyleak together to the first
     line naming its type, alone and among each count of idle ones.

How the observer gets the pid first: each workload starts through tools/bench/launch.py --gate,
which blocks on stdin in the very process that will run the workload (runpy, no exec).  The
harness attaches the observer to that pid, waits until the observer is attached (pyleak: its
first JSON line, printed after the probes are attached; bpftrace: its "Attaching" line and then
the gc__start USDT semaphore in the target becoming non-zero), then releases the gate.  Without
-p, `pyleak top` would also watch every other Python process on the host and cost them (and be
slowed by them); -p keeps each measurement about one process.  The workloads time their own
loop, so observer start-up and interpreter start-up are not in the figures.

Standard library only (Python 3.11).  Must run as root.  Progress goes to stderr; the Markdown
report to stdout (--markdown, or when no --json file is given).
"""

import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCENARIOS = os.path.join(ROOT, "tests", "scenarios")
LAUNCH = os.path.join(HERE, "launch.py")
CENSUS_TARGET = os.path.join(HERE, "workloads", "census_target.py")
IDLE = os.path.join(HERE, "workloads", "idle.py")

DEFAULT_PYTHONS = ["/usr/bin/python3.11", "/root/.pyenv/versions/3.12.1/bin/python3.12"]

# Workloads: the scenario engineer's benchmarks in tests/scenarios (fallback: tools/bench/workloads
# /<file>, for a scenario that does not exist yet).  size(scale) -> arguments; sizes make the
# baseline about 0.6-1 s on the 2-vCPU reference machine (Debian 3.11) at scale 1.  "metric" is the key of the
# workload's JSON result; "higher" marks a rate (ratio = without / with).
WORKLOADS = [
    dict(name="alloc_heavy", file="alloc_heavy.py", metric="elapsed_s", higher=False,
         size=lambda s: ["--ops", str(max(1000, int(1500000 * s)))]),
    dict(name="gc_heavy", file="gc_heavy.py", metric="elapsed_s", higher=False,
         size=lambda s: ["--cycles", str(max(1000, int(800000 * s)))]),
    # issue 23's collection-heavy loop: request objects in self-cycles, ~1 500-2 300 young
    # collections/s, each finding garbage
    dict(name="gc_requests", file="gc_requests.py", metric="elapsed_s", higher=False,
         size=lambda s: ["--requests", str(max(1000, int(400000 * s)))]),
    # --client-process: only the server is the observed target, the load generator runs in a
    # child process; --nodelay: see launch.py (http.server + Nagle = 22 requests/s otherwise).
    dict(name="http_workload", file="http_workload.py", metric="requests_per_s", higher=True,
         size=lambda s: ["--requests", str(max(200, int(2500 * s))), "--client-process"],
         launcher=["--nodelay"]),
    dict(name="compute", file="compute.py", metric="elapsed_s", higher=False,
         size=lambda s: ["--iterations", str(max(10000, int(5000000 * s)))]),
]

BPFTRACE_GC = ("usdt:{exe}:python:gc__start {{ @s[tid] = nsecs; }} "
               "usdt:{exe}:python:gc__done /@s[tid]/ {{ @h = hist(nsecs - @s[tid]); "
               "delete(@s[tid]); }}")

# Observer modes.  kind: pyleak (args appended to `pyleak top -b --json -d 1 -p PID`), bpftrace
# (USDT interpreters only), pyflags (interpreter options of the target), launcher (launch.py
# options).  requires: an option `pyleak top --help` must mention, else the mode is skipped
# (so later features are picked up by adding one line here).  scale: workload size factor for
# both runs of this mode's pairs (the costly modes run smaller workloads to keep the total time
# bounded; objgraph runs longer ones so that its once-a-second call happens at all).
MODES = [
    dict(name="pyleak", kind="pyleak", args=[]),
    # GC probes only (the issues' "under 1%" target): no young-list type sampling, no censuses.
    dict(name="pyleak GC only", kind="pyleak", args=["--alloc", "off", "--no-census"],
         requires="--no-census"),
    # Attribution of the default's cost: each of its two extras alone.
    dict(name="pyleak --alloc off", kind="pyleak", args=["--alloc", "off"], requires="--alloc",
         diagnostic=True),
    dict(name="pyleak --no-census", kind="pyleak", args=["--no-census"], requires="--no-census",
         diagnostic=True),
    # The budget accrues from the target's own CPU time and the first slice comes after ~1 s of
    # it: runs of 10-20 s hold many slices, so the ratio is the steady-state cost.  Only on the
    # issue's two workloads (allocation-heavy, realistic) to bound the run time.
    dict(name="pyleak --alloc-budget 2", kind="pyleak", args=["--alloc-budget", "2"],
         requires="--alloc-budget", scale=15.0, workloads=("alloc_heavy", "http_workload")),
    # Native sampling (libc malloc/free uprobes + uretprobes) under the default 2% budget, with
    # the heap walked every second to verify the samples: `pyleak heap --native`.
    dict(name="pyleak heap --native (budget 2)", kind="pyleak-native", args=[], scale=15.0,
         workloads=("alloc_heavy", "http_workload")),
    # The same sampling inside `top` (--native, default budget 2%), side by side with the default
    # top (native off) on the same x15 runs: the two columns' difference is what --native costs.
    dict(name="pyleak x15", kind="pyleak", args=[], requires="--native", scale=15.0,
         workloads=("alloc_heavy", "http_workload")),
    dict(name="pyleak --native x15", kind="pyleak", args=["--native"], requires="--native",
         scale=15.0, workloads=("alloc_heavy", "http_workload")),
    dict(name="pyleak --alloc exact", kind="pyleak", args=["--alloc", "exact"],
         requires="--alloc", scale=0.05),
    dict(name="pyleak --sites", kind="pyleak", args=["--sites"], requires="--sites"),
    # Survivor sampling is part of the default: the default without it, side by side.
    dict(name="pyleak --no-survivors", kind="pyleak", args=["--no-survivors"], requires="--no-survivors"),
    # The default runs arena censuses (untracked objects, RSS breakdown; every 5-120 s) and root
    # walks (every 30 s): runs of several seconds hold several of them. The same runs without
    # them: the two columns side by side are what they cost.
    dict(name="pyleak x6", kind="pyleak", args=[], requires="--no-untracked", scale=6.0,
         workloads=("alloc_heavy", "http_workload")),
    dict(name="pyleak --no-untracked x6", kind="pyleak", args=["--no-untracked"], requires="--no-untracked",
         scale=6.0, workloads=("alloc_heavy", "http_workload")),
    dict(name="bpftrace gc", kind="bpftrace", usdt_only=True),
    dict(name="tracemalloc", kind="pyflags", pyflags=["-X", "tracemalloc"], scale=0.2),
    dict(name="objgraph 1s", kind="launcher", launcher=["--objgraph", "1"], scale=2.0),
]

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


# ------------------------------------------------------------------------------------------------
# machine, interpreters, help texts

def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "nproc_usable": len(os.sched_getaffinity(0)),
            "cpu_model": model, "kernel": platform.release(),
            "harness_python": platform.python_version(), "hostname": platform.node(),
            "loadavg_start": os.getloadavg()}


def tool_version(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def usdt_semaphore(exe, probe="gc__start"):
    """Address of the USDT semaphore of python:PROBE in EXE (None: no USDT, or a PIE binary)."""
    try:
        hdr = subprocess.run(["readelf", "-h", exe], capture_output=True, text=True).stdout
        notes = subprocess.run(["readelf", "-n", exe], capture_output=True, text=True).stdout
    except OSError:
        return None
    m = re.search(r"Name: %s\s*\n\s*Location: \S+, Base: \S+, Semaphore: (0x[0-9a-f]+)" % probe,
                  notes)
    if not m:
        return None
    if "EXEC" not in hdr:
        return None  # PIE: would need the load base; the caller falls back to a fixed wait
    return int(m.group(1), 16)


def has_usdt(exe):
    try:
        notes = subprocess.run(["readelf", "-n", exe], capture_output=True, text=True).stdout
    except OSError:
        return False
    return "gc__start" in notes


def read_u16(pid, addr):
    try:
        with open("/proc/%d/mem" % pid, "rb") as f:
            f.seek(addr)
            b = f.read(2)
        return int.from_bytes(b, "little")
    except OSError:
        return None


def option_supported(help_text, opt):
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(opt), help_text) is not None


# ------------------------------------------------------------------------------------------------
# processes

def interrupt(proc, wait_s, *readers):
    """SIGINT (pyleak and bpftrace detach on it), SIGKILL after wait_s; then join the threads
    reading its output. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for t in readers:
        t.join(5)
    return proc.returncode


class Observer:
    """A pyleak or bpftrace process whose stdout lines are collected by a thread."""

    def __init__(self, cmd, ready):
        self.cmd = cmd
        self.lines = []
        self.ready_event = threading.Event()
        self.ready = ready
        self.t_start = time.monotonic()
        self.t_ready = None
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True)
        self.err = []
        self.t_out = threading.Thread(target=self._read, daemon=True)
        self.t_err = threading.Thread(target=self._read_err, daemon=True)
        self.t_out.start()
        self.t_err.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line))
            if not self.ready_event.is_set() and self.ready(line):
                self.t_ready = time.monotonic()
                self.ready_event.set()
        self.ready_event.set()

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line)

    def wait_ready(self, timeout):
        self.ready_event.wait(timeout)
        if self.t_ready is None:
            self.stop()
            raise RuntimeError("observer not ready after %.0fs: %s: %s"
                               % (timeout, shlex.join(self.cmd), "".join(self.err[-5:]).strip()))
        return self.t_ready - self.t_start

    def stop(self):
        return interrupt(self.proc, 10, self.t_out, self.t_err)


def kill_proc(p):
    if p.poll() is None:
        p.kill()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        pass


def last_json(text, key):
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if key in d:
                return d
    return None


def pyleak_proc_entry(line, pid):
    try:
        d = json.loads(line)
    except ValueError:
        return None
    for p in d.get("processes") or []:
        if p.get("pid") == pid:
            return p
    return None


# ------------------------------------------------------------------------------------------------
# 1. slowdown

def start_observer(env, mode, py, pid):
    if mode["kind"] == "pyleak":
        cmd = [env.pyleak, "top", "-b", "--json", "-d", "1", "-p", str(pid)] + mode["args"]
        obs = Observer(cmd, lambda line: line.startswith("{"))
        obs.wait_ready(60)
        return obs
    if mode["kind"] == "pyleak-native":
        cmd = [env.pyleak, "heap", "-p", str(pid), "--native", "3600", "--interval", "5", "--json"] + mode["args"]
        obs = Observer(cmd, lambda line: line.startswith("{"))
        obs.wait_ready(60)
        return obs
    if mode["kind"] == "bpftrace":
        cmd = ["bpftrace", "-p", str(pid), "-e", BPFTRACE_GC.format(exe=py)]
        obs = Observer(cmd, lambda line: line.startswith("Attaching"))
        obs.wait_ready(60)
        # "Attaching N probes..." is printed before the probes are attached: wait until the
        # gc__start semaphore in the target says a tracer is on.
        sem = env.semaphores.get(py)
        deadline = time.monotonic() + 15
        if sem is None:
            time.sleep(1.0)
        else:
            while time.monotonic() < deadline and not read_u16(pid, sem):
                time.sleep(0.01)
        return obs
    return None


def bpf_prog_stats(pid):
    """{prog_id: (run_cnt, run_time_ns)} of the BPF programs process pid holds (its prog and link
    fds' fdinfo; the counters run only while kernel.bpf_stats_enabled is 1)."""
    out = {}
    d = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                kv = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        if "prog_id" in kv and "run_cnt" in kv:
            out[int(kv["prog_id"])] = (int(kv["run_cnt"]), int(kv["run_time_ns"]))
    return out


def bpf_prog_names():
    try:
        progs = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                                          text=True, timeout=30).stdout or "[]")
    except (OSError, ValueError, subprocess.SubprocessError):
        return {}
    return {p["id"]: p.get("name", "?") for p in progs}


def run_once(env, py, wl, mode, prog_stats=False):
    """One run of workload wl on py, with observer mode (None = without).  Returns a dict.
    prog_stats (a pyleak mode): also the run count and time of each of pyleak's BPF programs
    over the workload's run ("progs": {name: [runs, ns]}; needs kernel.bpf_stats_enabled)."""
    pyflags = mode.get("pyflags", []) if mode else []
    launcher = list(wl.get("launcher", [])) + (mode.get("launcher", []) if mode else [])
    # Both runs of a pair use the mode's size (env.pair_scale is set per pair).
    scale = env.scale * env.pair_scale
    cmd = [py] + pyflags + [LAUNCH, "--gate"] + launcher + [wl["path"]] + wl["size"](scale)
    target = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, cwd=ROOT)
    obs = None
    res = {"observer": mode["name"] if mode else None}
    try:
        if mode and mode["kind"] in ("pyleak", "bpftrace", "pyleak-native"):
            obs = start_observer(env, mode, py, target.pid)
            res["attach_s"] = round(obs.t_ready - obs.t_start, 4)
        if prog_stats and obs is not None:
            before = bpf_prog_stats(obs.proc.pid)
        target.stdin.write(b"go\n")
        target.stdin.close()
        target.stdin = None  # communicate() would flush it
        out, err = target.communicate(timeout=env.run_timeout)
        if prog_stats and obs is not None:
            after, names = bpf_prog_stats(obs.proc.pid), bpf_prog_names()
            res["progs"] = {}
            for pid_, (cnt, ns) in after.items():
                c0, n0 = before.get(pid_, (0, 0))
                name = names.get(pid_, str(pid_))
                prev = res["progs"].get(name, [0, 0])
                res["progs"][name] = [prev[0] + cnt - c0, prev[1] + ns - n0]
        if target.returncode != 0:
            raise RuntimeError("workload exited %d: %s" % (target.returncode,
                                                           err.decode(errors="replace")[-500:]))
        d = last_json(out.decode(errors="replace"), wl["metric"])
        if d is None:
            raise RuntimeError("no result line from %s" % shlex.join(cmd))
        res["value"] = d[wl["metric"]]
        res["python"] = d.get("python")
        c = last_json(out.decode(errors="replace"), "launcher_cpu_s")
        res["cpu_s"] = c["launcher_cpu_s"] if c else None
        res["utime_s"] = c.get("launcher_utime_s") if c else None
        res["stime_s"] = c.get("launcher_stime_s") if c else None
        res["uprobes_hit"] = c.get("launcher_uprobes_hit") if c else None
        if isinstance(d.get("collections"), dict):
            res["collections"] = sum(d["collections"].values())
    finally:
        if obs is not None:
            obs.stop()
            if mode["kind"] == "pyleak":
                # Which tier pyleak actually used on this target, from its last line that has
                # the target (proves it was attached, not merely running).
                for _, line in reversed(obs.lines):
                    e = pyleak_proc_entry(line, target.pid)
                    if e is not None:
                        res["tier"] = e.get("gc_source")
                        gc = e.get("gc") or {}
                        res["pyleak_collections"] = gc.get("collections")
                        break
        kill_proc(target)
    return res


def summarize(ratios):
    if not ratios:
        return None
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
            "n": len(ratios)}


def bench_slowdown(env):
    results = []
    for py in env.pythons:
        for wl in env.workloads:
            modes = [m for m in env.modes
                     if not (m.get("usdt_only") and not env.usdt.get(py))
                     and wl["name"] in m.get("workloads", (wl["name"],))]
            per_mode = {m["name"]: {"pairs": [], "errors": []} for m in modes}
            log("%s %s: %d modes x %d pairs" % (py, wl["name"], len(modes), env.pairs))
            for i in range(env.pairs):
                for m in modes:
                    rec = per_mode[m["name"]]
                    env.pair_scale = m.get("scale", 1.0)  # the baseline runs the same size
                    try:
                        a = run_once(env, py, wl, None)
                        b = run_once(env, py, wl, m)
                    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
                        rec["errors"].append(str(e))
                        log("  %s pair %d: error: %s" % (m["name"], i, e))
                        continue
                    if wl["higher"]:
                        ratio = a["value"] / b["value"]
                    else:
                        ratio = b["value"] / a["value"]
                    cpu_ratio = (b["cpu_s"] / a["cpu_s"]) if a.get("cpu_s") and \
                        b.get("cpu_s") else None
                    rec["pairs"].append({"without": a["value"], "with": b["value"],
                                         "ratio": ratio, "cpu_without": a.get("cpu_s"),
                                         "cpu_with": b.get("cpu_s"), "cpu_ratio": cpu_ratio,
                                         "without_uprobes_hit": a.get("uprobes_hit"),
                                         "with_uprobes_hit": b.get("uprobes_hit"),
                                         "scale": env.scale * m.get("scale", 1.0), "attach_s": b.get("attach_s"),
                                         "tier": b.get("tier"),
                                         "pyleak_collections": b.get("pyleak_collections"),
                                         "loadavg": os.getloadavg()[0]})
                    rec["python"] = a.get("python")
                    if a.get("uprobes_hit"):
                        log("  warning: the run without an observer was hit by uprobes: "
                            "another tool is probing %s system-wide" % py)
                    log("  %-24s pair %d: without %.4g with %.4g ratio %.3f cpu %s%s"
                        % (m["name"], i, a["value"], b["value"], ratio,
                           "%.3f" % cpu_ratio if cpu_ratio else "n/a",
                           (" tier " + str(b["tier"])) if b.get("tier") else ""))
            for m in modes:
                rec = per_mode[m["name"]]
                pairs = rec["pairs"]
                tiers = sorted({p["tier"] for p in pairs if p.get("tier")})
                results.append({
                    "python": py, "python_version": rec.get("python"),
                    "workload": wl["name"], "metric": wl["metric"],
                    "mode": m["name"], "pairs": pairs, "errors": rec["errors"],
                    "ratio": summarize([p["ratio"] for p in pairs]),
                    "cpu_ratio": summarize([p["cpu_ratio"] for p in pairs if p["cpu_ratio"]]),
                    "scale": env.scale * m.get("scale", 1.0),
                    "baseline_median": statistics.median([p["without"] for p in pairs])
                    if pairs else None,
                    "tier": tiers[0] if len(tiers) == 1 else (tiers or None),
                })
    return results


# ------------------------------------------------------------------------------------------------
# 1b. the default's cost per collection

def bench_per_collection(env):
    """Where the default `top`'s cost goes on the collection-heavy workloads, per collection:
    alternating pairs (without, with the default top), with kernel.bpf_stats_enabled on.  Each
    BPF program's time over the run (its own counters) / the run's collections; the target's
    system time with - without / collections (a probe hit is a breakpoint trap, its uprobe
    dispatch and the BPF programs, all in the target's thread as system time): that minus the
    programs is the traps; user time with - without / collections is what the target itself
    runs slower (cache and TLB pressure; noisy at this size)."""
    path = "/proc/sys/kernel/bpf_stats_enabled"
    with open(path) as f:
        was = f.read().strip()
    with open(path, "w") as f:
        f.write("1")
    mode = next(m for m in MODES if m["name"] == "pyleak")
    out = []
    try:
        for py in env.pythons:
            for wl in env.workloads:
                if wl["name"] not in ("gc_heavy", "gc_requests"):
                    continue
                env.pair_scale = 1.0
                pairs, errors = [], []
                for i in range(env.pairs):
                    try:
                        a = run_once(env, py, wl, None)
                        b = run_once(env, py, wl, mode, prog_stats=True)
                    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
                        errors.append(str(e))
                        continue
                    n = b.get("collections") or 0
                    if not n or a.get("stime_s") is None or b.get("stime_s") is None:
                        errors.append("no collections or CPU times in the result")
                        continue
                    progs = {k: v[1] / n for k, v in (b.get("progs") or {}).items() if v[0]}
                    bpf = sum(progs.values())
                    pairs.append({"collections": n, "collections_without": a.get("collections"),
                                  "ratio": b["value"] / a["value"],
                                  "cpu_ratio": b["cpu_s"] / a["cpu_s"] if a.get("cpu_s") else None,
                                  "bpf_ns": bpf, "progs_ns": progs,
                                  "prog_runs": {k: v[0] for k, v in (b.get("progs") or {}).items()},
                                  "sys_ns": (b["stime_s"] - a["stime_s"]) * 1e9 / n,
                                  "user_ns": (b["utime_s"] - a["utime_s"]) * 1e9 / n,
                                  "total_ns": (b["cpu_s"] - a["cpu_s"]) * 1e9 / n,
                                  "target_ns_per_collection": a["cpu_s"] * 1e9 / max(1, a.get("collections") or n),
                                  "tier": b.get("tier")})
                    log("  per collection %s %s pair %d: %s" % (py, wl["name"], i, {
                        k: round(v, 1) if isinstance(v, float) else v for k, v in pairs[-1].items()
                        if k not in ("progs_ns", "prog_runs")}))
                med = (lambda k: statistics.median([p[k] for p in pairs]) if pairs else None)
                progs = {}
                for p in pairs:
                    for k, v in p["progs_ns"].items():
                        progs.setdefault(k, []).append(v)
                rec = {"python": py, "workload": wl["name"], "pairs": pairs, "errors": errors,
                       "ratio": summarize([p["ratio"] for p in pairs]),
                       "cpu_ratio": summarize([p["cpu_ratio"] for p in pairs if p["cpu_ratio"]]),
                       "collections": med("collections"), "bpf_ns": med("bpf_ns"),
                       "progs_ns": {k: statistics.median(v) for k, v in progs.items()},
                       "sys_ns": med("sys_ns"), "user_ns": med("user_ns"), "total_ns": med("total_ns"),
                       "target_ns_per_collection": med("target_ns_per_collection")}
                rec["trap_ns"] = (rec["sys_ns"] - rec["bpf_ns"]) if pairs else None
                out.append(rec)
                log("per collection %s %s: bpf %s ns, sys %s ns, user %s ns, total %s ns" % (
                    py, wl["name"], rec["bpf_ns"], rec["sys_ns"], rec["user_ns"], rec["total_ns"]))
    finally:
        with open(path, "w") as f:
            f.write(was)
    return out


# ------------------------------------------------------------------------------------------------
# 2. census speed

def bench_census(env, py):
    res = {"python": py, "objects": env.census_objects, "status": "ok"}
    target = subprocess.Popen([py, CENSUS_TARGET, "--objects", str(env.census_objects),
                               "--untracked", str(env.census_objects)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=ROOT)
    try:
        ready = json.loads(target.stdout.readline())
        res["tracked_in_target"] = ready["tracked"]
        walls, walks, stats, totals = [], [], [], []
        for _ in range(env.census_reps):
            t0 = time.monotonic()
            r = subprocess.run([env.pyleak, "census", "-p", str(target.pid), "--json"],
                               capture_output=True, text=True, timeout=120)
            wall = time.monotonic() - t0
            if r.returncode != 0 or not r.stdout.strip():
                msg = (r.stderr or r.stdout).strip()
                res["status"] = "pending" if "not built yet" in msg else "error"
                res["error"] = msg[-300:]
                break
            d = json.loads(r.stdout)
            walls.append(wall)
            walks.append(d.get("walk_ms", 0) / 1000.0)
            totals.append(d.get("total_objects"))
            target.stdin.write("typestats\n")
            target.stdin.flush()
            t = json.loads(target.stdout.readline())
            stats.append(t["seconds"])
        # The untracked census: the same walk plus every arena copied and every block matched.
        arena_ms, blocks, sources = [], [], []
        for _ in range(env.census_reps if walls else 0):
            r = subprocess.run([env.pyleak, "census", "-p", str(target.pid), "--json", "--all-objects"],
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0 or not r.stdout.strip():
                res["all_objects_error"] = (r.stderr or r.stdout).strip()[-300:]
                break
            ao = json.loads(r.stdout).get("all_objects") or {}
            if not ao.get("scanned"):
                res["all_objects_error"] = ao.get("why")
                break
            arena_ms.append(ao["arena_ms"])
            blocks.append(ao["blocks"])
            sources.append((ao.get("pymalloc") or {}).get("source"))
        if arena_ms:
            res.update({"arena_scan_s": statistics.median(arena_ms) / 1000.0, "arena_blocks": blocks[-1],
                        "arena_source": sources[-1],
                        "arena_scan_s_per_million_objects": statistics.median(arena_ms) / 1000.0 /
                        (blocks[-1] / 1e6) if blocks[-1] else None})
        if walls:
            res.update({
                "pyleak_wall_s": statistics.median(walls), "pyleak_walk_s": statistics.median(walks),
                "pyleak_total_objects": totals[-1], "typestats_s": statistics.median(stats),
                "ratio_typestats_over_pyleak_wall": statistics.median(stats) /
                statistics.median(walls),
                "reps": len(walls), "samples": {"pyleak_wall_s": walls, "pyleak_walk_s": walks,
                                                "typestats_s": stats}})
        if "pyleak" in res.get("error", "") and res["status"] == "error":
            log("census on %s: %s" % (py, res["error"]))
    except (OSError, ValueError, KeyError, subprocess.SubprocessError) as e:
        res["status"] = "error"
        res["error"] = str(e)
    finally:
        try:
            target.stdin.write("quit\n")
            target.stdin.close()
        except OSError:
            pass
        kill_proc(target)
    log("census %s: %s" % (py, {k: v for k, v in res.items() if k != "samples"}))
    return res


# ------------------------------------------------------------------------------------------------
# 2b. retention chains

def run_measured(cmd, timeout):
    """Run cmd; (wall seconds, peak RSS in KiB of that process alone, returncode, stdout)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    try:
        out = p.stdout.read()
        err = p.stderr.read()
        # wait4 on this pid: RUSAGE_CHILDREN would also count the target (our child too)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
    finally:
        timer.cancel()
    return time.monotonic() - t0, ru.ru_maxrss, p.returncode, out, err


def bench_refs(env, py):
    """`pyleak refs -p PID 0xADDR` on the census target (1 M tracked objects) beside
    gc.get_referrers(obj) and objgraph.find_backref_chain(obj) timed inside the target."""
    res = {"python": py, "objects": env.census_objects, "status": "ok"}
    target = subprocess.Popen([py, CENSUS_TARGET, "--objects", str(env.census_objects)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=ROOT)
    try:
        ready = json.loads(target.stdout.readline())
        res["tracked_in_target"] = ready["tracked"]
        walls, rss, snaps, inside, chains = [], [], [], [], []
        for _ in range(env.census_reps):
            target.stdin.write("referrers\n")
            target.stdin.flush()
            t = json.loads(target.stdout.readline())
            inside.append(t["referrers_s"])
            chains.append(t["chain_s"])
            cmd = [env.pyleak, "refs", "-p", str(target.pid), t["addr"], "--format", "json"]
            wall, peak, rc, out, err = run_measured(cmd, 300)
            if rc != 0 or not out.strip():
                res["status"] = "error"
                res["error"] = (err or out).strip()[-300:]
                break
            d = json.loads(out)
            c = d["chains"][0]
            walls.append(wall)
            rss.append(peak)
            snaps.append(d["snapshot"])
            res["chain"] = c["text"]
            res["chain_status"] = c["status"]
            res["chain_links"] = len(c["links"])
            res["objgraph_chain_len"] = t["chain_len"]
            res["command"] = " ".join(cmd[:4] + ["0xADDR", "--format", "json"])
        if walls:
            res.update({
                "pyleak_wall_s": statistics.median(walls),
                "pyleak_peak_rss_kib": max(rss),
                "snapshot_objects": snaps[-1]["objects"], "snapshot_references": snaps[-1]["references"],
                "snapshot_ms": statistics.median([x["snapshot_ms"] for x in snaps]),
                "search_ms": statistics.median([x["search_ms"] for x in snaps]),
                "get_referrers_s": statistics.median(inside),
                "find_backref_chain_s": statistics.median(chains),
                "reps": len(walls),
                "samples": {"pyleak_wall_s": walls, "pyleak_peak_rss_kib": rss, "get_referrers_s": inside,
                            "find_backref_chain_s": chains}})
    except (OSError, ValueError, KeyError, subprocess.SubprocessError) as e:
        res["status"] = "error"
        res["error"] = str(e)
    finally:
        try:
            target.stdin.write("quit\n")
            target.stdin.close()
        except OSError:
            pass
        kill_proc(target)
    log("refs %s: %s" % (py, {k: v for k, v in res.items() if k != "samples"}))
    return res


# ------------------------------------------------------------------------------------------------
# 3. attach latency

def bench_attach(env, py):
    target = subprocess.Popen([py, IDLE], cwd=ROOT)
    res = {"python": py}
    try:
        time.sleep(0.5)
        first, first_gc, tiers = [], [], set()
        for _ in range(env.attach_reps):
            obs = Observer([env.pyleak, "top", "-b", "--json", "-n", "1", "-p", str(target.pid)],
                           lambda line: line.startswith("{"))
            first.append(obs.wait_ready(60))
            obs.stop()
            e = pyleak_proc_entry(obs.lines[0][1], target.pid) if obs.lines else None
            res["n1_gc_non_null"] = bool(e and e.get("gc"))
            # First line whose gc is non-null, refreshing every 0.1 s.
            obs = Observer([env.pyleak, "top", "-b", "--json", "-d", "0.1", "-p",
                            str(target.pid)],
                           lambda line: bool((pyleak_proc_entry(line, target.pid) or {})
                                             .get("gc")))
            try:
                first_gc.append(obs.wait_ready(30))
                e = pyleak_proc_entry(obs.lines[-1][1], target.pid)
                tiers.add(e.get("gc_source"))
            except RuntimeError as err:
                res["error"] = str(err)
            obs.stop()
        res.update({"first_line_s": summarize(first), "first_gc_line_s": summarize(first_gc),
                    "tier": sorted(t for t in tiers if t), "samples_first": first,
                    "samples_first_gc": first_gc})
    finally:
        kill_proc(target)
    log("attach %s: first line %s, first gc line %s" % (py, res.get("first_line_s"),
                                                        res.get("first_gc_line_s")))
    return res


def bench_sites(env, py):
    """Cost per allocation-site sample: kernel ns per captured Python stack (sites.ns_per_sample)."""
    scen = os.path.join(ROOT, "tests", "scenarios", "sites.py")
    res = {"python": py}
    for depth in (0, 40):
        args = [py, scen, "--rate", "3000", "--duration", "60"] + (["--recurse", str(depth)] if depth else [])
        target = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            p = subprocess.run([env.pyleak, "top", "-b", "--json", "-d", "3", "-n", "3", "-p", str(target.pid),
                                "--no-census"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               universal_newlines=True, timeout=120)
            lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
            e = pyleak_proc_entry(lines[-1], target.pid) if lines else None
            s = (e or {}).get("sites") or {}
            frames = [len(st["frames"]) for st in s.get("stacks", [])]
            res["depth%d" % depth] = {"samples": s.get("samples"), "ns_per_sample": s.get("ns_per_sample"),
                                      "walk_errors": s.get("walk_errors"),
                                      "mean_frames": sum(frames) / len(frames) if frames else None}
        finally:
            kill_proc(target)
    log("sites %s: %s" % (py, res))
    return res


def bench_chain_cpu(env, py):
    """The retention-chain searches of `top` (the Suspects' `chain`): pyleak's CPU watching one
    leaking service (leak_connections.py, its Connections held by a module list) with the default
    searches and with --no-chains, alternating runs; the searches counted from the JSON (a new
    chain `time`), and their CPU per search = the difference / the searches."""
    scen = os.path.join(SCENARIOS, "leak_connections.py")
    res = {"python": py, "seconds": env.chain_seconds, "runs": []}
    for rnd in range(env.chain_rounds):
        for mode, extra in (("chains", []), ("no_chains", ["--no-chains"])):
            target = subprocess.Popen([py, scen, "--rate", "200"], cwd=ROOT, stdout=subprocess.DEVNULL)
            try:
                time.sleep(2.0)
                obs = Observer([env.pyleak, "top", "-b", "--json", "-d", "1", "-p", str(target.pid)] + extra,
                               lambda line: line.startswith("{"))
                try:
                    obs.wait_ready(60)
                    time.sleep(env.chain_warmup)  # until the type is a confident suspect
                    cpu0, ta = proc_cpu_s(obs.proc.pid), time.monotonic()
                    n0 = len(obs.lines)
                    time.sleep(env.chain_seconds)
                    cpu1, tb = proc_cpu_s(obs.proc.pid), time.monotonic()
                    n1 = len(obs.lines)
                finally:
                    obs.stop()
                times, live = set(), None
                for _, line in obs.lines[n0:n1]:
                    e = pyleak_proc_entry(line, target.pid)
                    for x in (e or {}).get("suspects") or []:
                        c = x.get("chain") or {}
                        if x.get("name") == "__main__.Connection" and c.get("time"):
                            times.add(c["time"])
                    live = (e or {}).get("live_objects") or live
                res["runs"].append({"mode": mode, "round": rnd, "cpu_pct": 100.0 * (cpu1 - cpu0) / (tb - ta),
                                    "searches": len(times), "live_objects": live})
            finally:
                kill_proc(target)
    for mode in ("chains", "no_chains"):
        v = [r["cpu_pct"] for r in res["runs"] if r["mode"] == mode]
        res[mode + "_cpu_pct"] = statistics.median(v) if v else None
    n = sum(r["searches"] for r in res["runs"] if r["mode"] == "chains")
    d = (res["chains_cpu_pct"] or 0) - (res["no_chains_cpu_pct"] or 0)
    res["searches_per_run"] = n / max(1, env.chain_rounds)
    # A found chain is kept and only re-read at each census (not searched again): on a small
    # heap the difference is within the run-to-run noise, and then no per-search figure is given.
    res["cpu_ms_per_search"] = (10.0 * d * env.chain_seconds / res["searches_per_run"]
                                if res["searches_per_run"] and d > 0 else None)
    log("chain searches %s: %s" % (py, res))
    return res


# ------------------------------------------------------------------------------------------------
# 4. pyleak's own cost watching many idle processes

def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def proc_status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def bench_self_cost(env):
    procs = []
    res = {"processes": env.idle_procs, "seconds": env.idle_seconds, "interval_s": 1}
    try:
        for i in range(env.idle_procs):
            py = env.pythons[i % len(env.pythons)]
            procs.append(subprocess.Popen([py, IDLE], cwd=ROOT))
        res["interpreters"] = {py: sum(1 for i in range(env.idle_procs)
                                       if env.pythons[i % len(env.pythons)] == py)
                               for py in env.pythons}
        time.sleep(2.0)  # let them all finish starting
        pids = ",".join(str(p.pid) for p in procs)
        t0 = time.monotonic()
        obs = Observer([env.pyleak, "top", "-b", "--json", "-d", "1", "-p", pids],
                       lambda line: line.startswith("{"))
        try:
            res["startup_s"] = obs.wait_ready(120)
            pid = obs.proc.pid
            cpu0, ta = proc_cpu_s(pid), time.monotonic()
            res["startup_cpu_s"] = cpu0
            rss = []
            while time.monotonic() - ta < env.idle_seconds:
                time.sleep(0.5)
                rss.append(proc_status_kb(pid, "VmRSS"))
            cpu1, tb = proc_cpu_s(pid), time.monotonic()
            res["hwm_kb"] = proc_status_kb(pid, "VmHWM")
            res["cpu_pct_one_core"] = 100.0 * (cpu1 - cpu0) / (tb - ta)
            res["cpu_pct_incl_startup"] = 100.0 * cpu1 / (tb - t0)
            res["rss_mib_max"] = max(rss) / 1024.0
            res["rss_mib_last"] = rss[-1] / 1024.0
            res["hwm_mib"] = res["hwm_kb"] / 1024.0
        finally:
            obs.stop()
        # Cross-check with what pyleak says about itself and about the processes it saw.
        seen, tiers, self_cpu, self_rss = 0, {}, [], []
        for _, line in obs.lines:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            seen = len(d.get("processes") or [])
            tiers = {}
            for p in d.get("processes") or []:
                tiers[p.get("gc_source")] = tiers.get(p.get("gc_source"), 0) + 1
            if d.get("self_cpu_pct") is not None:
                self_cpu.append(d["self_cpu_pct"])
            if d.get("self_rss_bytes"):
                self_rss.append(d["self_rss_bytes"])
        res["processes_seen_last_line"] = seen
        res["tiers_last_line"] = tiers
        res["refreshes"] = len(obs.lines)
        res["pyleak_self_cpu_pct_median"] = statistics.median(self_cpu[1:]) \
            if len(self_cpu) > 1 else None
        res["pyleak_self_rss_mib_last"] = self_rss[-1] / 1048576.0 if self_rss else None
    finally:
        for p in procs:
            kill_proc(p)
    log("self cost: %s" % res)
    return res


# ------------------------------------------------------------------------------------------------
# 5. scale: pyleak's cost over many idle processes, and the time to a verdict among them

LEAK_SCENARIO = os.path.join(SCENARIOS, "leak_connections.py")


def start_idle(env, n, dicts):
    """n idle interpreters (-S, `dicts` small dicts each), alternating env.pythons; started in
    batches so a 1000-process start does not starve the host."""
    procs = []
    for i in range(n):
        py = env.pythons[i % len(env.pythons)]
        procs.append(subprocess.Popen([py, "-S", IDLE, str(dicts)], cwd=ROOT,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))
        if i % 50 == 49:
            time.sleep(0.5)
    time.sleep(2.0 + n / 200.0)  # let the last ones build their heaps
    return procs


class JsonFollower:
    """pyleak top -b --json's lines, parsed as they arrive and reduced by `fold` (lines of 1000
    processes are megabytes: keeping them all is not an option)."""

    def __init__(self, cmd, fold):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True)
        self.fold, self.lines, self.first = fold, 0, None
        self.err = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        self.te = threading.Thread(target=lambda: self.err.extend(self.proc.stderr), daemon=True)
        self.te.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            self.lines += 1
            if self.first is None:
                self.first = time.monotonic()
            self.fold(time.monotonic(), d)

    def stop(self):
        return interrupt(self.proc, 30, self.t, self.te)


def scale_cost(env, procs):
    """CPU and RSS of `top -b --json -d 1 -p <all>` after every process had its first census."""
    pids = [p.pid for p in procs]
    state = {"censused": set(), "all_censused_at": None, "seen": 0, "skipped": 0}

    def fold(t, d):
        ps = d.get("processes") or []
        state["seen"] = len(ps)
        state["censused"] |= {p["pid"] for p in ps if p.get("census")}
        state["skipped"] = sum(1 for p in ps if (p.get("census") or {}).get("skipped_idle_since"))
        if state["all_censused_at"] is None and len(state["censused"]) >= len(pids):
            state["all_censused_at"] = t

    t0 = time.monotonic()
    f = JsonFollower([env.pyleak, "top", "-b", "--json", "-d", "1", "-p",
                      ",".join(map(str, pids))], fold)
    res = {"processes": len(pids)}
    try:
        deadline = t0 + env.scale_warmup_max
        while time.monotonic() < deadline and state["all_censused_at"] is None and f.proc.poll() is None:
            time.sleep(0.5)
        res["first_line_s"] = (f.first - t0) if f.first else None
        res["all_censused_s"] = (state["all_censused_at"] - t0) if state["all_censused_at"] else None
        res["censused_at_warmup_end"] = len(state["censused"])
        time.sleep(5.0)
        pid = f.proc.pid
        cpu0, ta, rss = proc_cpu_s(pid), time.monotonic(), []
        while time.monotonic() - ta < env.idle_seconds:
            time.sleep(0.5)
            rss.append(proc_status_kb(pid, "VmRSS"))
        cpu1, tb = proc_cpu_s(pid), time.monotonic()
        res["cpu_pct_one_core"] = 100.0 * (cpu1 - cpu0) / (tb - ta)
        res["rss_mib_max"] = max(rss) / 1024.0
        res["rss_mib_last"] = rss[-1] / 1024.0
        res["processes_seen_last_line"] = state["seen"]
        res["skipped_idle_last_line"] = state["skipped"]
    finally:
        f.stop()
    if f.proc.returncode not in (0, None):
        res["error"] = "pyleak exit %s: %s" % (f.proc.returncode, "".join(f.err[-3:]).strip())
    return res


def scale_verdict(env, procs):
    """Seconds from starting one leaking process (leak_connections.py) and pyleak together to
    pyleak's first line that names its expected suspect, among the idle `procs`."""
    truth = os.path.join("/tmp", "pyleak-bench-leak-%d.json" % os.getpid())
    leak = subprocess.Popen([env.pythons[0], LEAK_SCENARIO, "--truth", truth, "--duration", "0"],
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    state = {"named_at": None, "name": None, "census_period": None}
    deadline = time.monotonic() + 30
    while state["name"] is None and time.monotonic() < deadline and leak.poll() is None:
        try:  # the scenario's first truth write names what it leaks
            with open(truth) as f:
                state["name"] = json.load(f)["expected"]["name"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    if state["name"] is None:
        kill_proc(leak)
        return {"idle_neighbours": len(procs), "timeout_s": env.verdict_timeout,
                "error": "leak scenario wrote no truth"}

    def fold(t, d):
        for p in d.get("processes") or []:
            if p["pid"] != leak.pid:
                continue
            state["census_period"] = (p.get("census") or {}).get("period_s")
            for s in p.get("suspects") or []:
                if s.get("kind") == "type" and s.get("name") == state["name"] and state["named_at"] is None:
                    state["named_at"] = t

    t0 = time.monotonic()
    f = JsonFollower([env.pyleak, "top", "-b", "--json", "-d", "1", "-p",
                      ",".join(str(p.pid) for p in procs + [leak])], fold)
    res = {"idle_neighbours": len(procs)}
    try:
        while (time.monotonic() - t0 < env.verdict_timeout and state["named_at"] is None
               and f.proc.poll() is None and leak.poll() is None):
            time.sleep(0.5)
        res["verdict_s"] = (state["named_at"] - t0) if state["named_at"] else None
        res["timeout_s"] = env.verdict_timeout
        res["leaker_census_period_s"] = state["census_period"]
    finally:
        f.stop()
        kill_proc(leak)
        if os.path.exists(truth):
            os.unlink(truth)
    return res


def bench_scale(env):
    """For each count of idle targets: pyleak's cost over them, then the time to a verdict on one
    leaking process started among them (0 idle: alone)."""
    out = {"counts": env.scale_counts, "dicts_per_process": env.scale_dicts,
           "seconds": env.idle_seconds, "cost": [], "verdict": []}
    out["verdict"].append(scale_verdict(env, []))
    log("scale: verdict alone: %s" % out["verdict"][-1])
    for n in env.scale_counts:
        procs = []
        try:
            procs = start_idle(env, n, env.scale_dicts)
            alive = [p for p in procs if p.poll() is None]
            out["cost"].append(scale_cost(env, alive))
            log("scale: %d idle: %s" % (n, out["cost"][-1]))
            out["verdict"].append(scale_verdict(env, alive))
            log("scale: verdict among %d idle: %s" % (n, out["verdict"][-1]))
        finally:
            for p in procs:
                p.kill()
            for p in procs:
                p.wait()
    return out


# ------------------------------------------------------------------------------------------------
# report

def fmt_ratio(s):
    if not s:
        return "n/a"
    return "%.3f [%.3f–%.3f]" % (s["median"], s["min"], s["max"])


def markdown(report):
    out = []
    m = report["machine"]
    out.append("# pyleak bench")
    out.append("")
    out.append("Command: `%s`  " % report["command"])
    out.append("Date: %s  " % report["date"])
    out.append("Machine: %d CPUs (%s), kernel %s, harness Python %s, load average at start "
               "%.2f, at end %.2f  " % (m["nproc"], m["cpu_model"], m["kernel"],
                                        m["harness_python"], m["loadavg_start"][0],
                                        m["loadavg_end"][0]))
    out.append("pyleak: %s (sha256 %s…); bpftrace: %s; pairs: %d; scale: %g" % (
        report["pyleak_version"], report["pyleak_sha256"][:12], report["bpftrace_version"],
        report["pairs"], report["scale"]))
    if report["skipped_modes"]:
        out.append("")
        out.append("Modes skipped (not in `pyleak top --help` yet): %s"
                   % ", ".join(report["skipped_modes"]))
    out.append("")
    out.append("## Slowdown: with / without (median [min–max] over pairs)")
    out.append("")
    out.append("1.000 = no cost; 1.5 = the target needs 1.5x the CPU (or time) for the same "
               "work.")
    by_py = {}
    for r in report["slowdown"]:
        by_py.setdefault(r["python"], []).append(r)
    for py, rows in by_py.items():
        modes = []
        for r in rows:
            if r["mode"] not in modes:
                modes.append(r["mode"])
        ver = next((r["python_version"] for r in rows if r["python_version"]), "?")
        tier = next((r["tier"] for r in rows if r["mode"] == "pyleak" and r["tier"]), "?")
        out.append("")
        out.append("### %s (%s, pyleak tier: %s)" % (py, ver, tier))
        out.append("")
        wls = []
        for r in rows:
            if r["workload"] not in wls:
                wls.append(r["workload"])
        for key, title in (("cpu_ratio", "target CPU time (user+sys) with / without"),
                           ("ratio", "wall time with / without (http: requests/s without / "
                                     "with)")):
            out.append("%s:" % title)
            out.append("")
            out.append("| workload | baseline | " + " | ".join(modes) + " |")
            out.append("|---|---|" + "---|" * len(modes))
            for w in wls:
                cells = {r["mode"]: r for r in rows if r["workload"] == w}
                pyl = cells.get("pyleak") or next(iter(cells.values()))
                metric = pyl["metric"]
                if key == "cpu_ratio":
                    cpu = [p["cpu_without"] for p in pyl["pairs"] if p.get("cpu_without")]
                    bs = "%.3f s CPU" % statistics.median(cpu) if cpu else "n/a"
                elif pyl["baseline_median"]:
                    b = pyl["baseline_median"]
                    bs = ("%.0f req/s" % b) if metric == "requests_per_s" else ("%.3f s" % b)
                else:
                    bs = "n/a"
                row = [fmt_ratio(cells[mn][key]) + ("" if not cells[mn]["errors"] else
                                                    " (%d errors)" % len(cells[mn]["errors"]))
                       if mn in cells else "" for mn in modes]
                out.append("| %s | %s | %s |" % (w, bs, " | ".join(row)))
            out.append("")
        dirty = sum(1 for r in rows for p in r["pairs"] if p.get("without_uprobes_hit"))
        if dirty:
            out.append("**Warning**: %d runs *without* an observer were hit by uprobes (another "
                       "tool probing this interpreter system-wide); their pairs understate the "
                       "cost." % dirty)
            out.append("")
        out.append("Baseline: the pyleak mode's runs without an observer (scale %g); modes "
                   "with a scale factor ran both sides of their pairs at that size: %s."
                   % (report["scale"], ", ".join("%s x%g" % (r, f) for r, f in
                                                 report["mode_scales"].items()) or "none"))
    if report.get("per_collection"):
        f = lambda v: "n/a" if v is None else "%.0f" % v
        out.append("")
        out.append("## The default's cost per collection (ns, median over pairs)")
        out.append("")
        out.append("BPF: each program's own run time (kernel.bpf_stats_enabled) / collections; "
                   "system: the target's system time with - without / collections (traps, uprobe "
                   "dispatch and the programs); traps = system - BPF; user: the target's user time "
                   "with - without / collections; a collection itself costs the target the last column.")
        out.append("")
        out.append("| python | workload | collections | CPU ratio | BPF | of which | system | traps | user | total | target per collection |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in report["per_collection"]:
            progs = ", ".join("%s %s" % (k, f(v)) for k, v in sorted(r["progs_ns"].items(), key=lambda kv: -kv[1]))
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["python"], r["workload"], f(r["collections"]), fmt_ratio(r["cpu_ratio"]), f(r["bpf_ns"]),
                progs or "-", f(r["sys_ns"]), f(r["trap_ns"]), f(r["user_ns"]), f(r["total_ns"]),
                f(r["target_ns_per_collection"])))
    if report.get("census"):
        out.append("")
        out.append("## Census speed")
        out.append("")
        out.append("| python | tracked objects | pyleak census (wall) | pyleak walk | "
                   "objgraph.typestats() | typestats / pyleak |")
        out.append("|---|---|---|---|---|---|")
        for c in report["census"]:
            if c["status"] != "ok":
                out.append("| %s | %s | %s | | | |" % (c["python"], c["objects"], c["status"]))
                continue
            out.append("| %s | %d (pyleak counted %s) | %.3f s | %.3f s | %.3f s | %.1fx |" % (
                c["python"], c["tracked_in_target"], c["pyleak_total_objects"],
                c["pyleak_wall_s"], c["pyleak_walk_s"], c["typestats_s"],
                c["ratio_typestats_over_pyleak_wall"]))
        out.append("")
        out.append("Untracked census (`census --all-objects`: the arena scan after the walk):")
        out.append("")
        out.append("| python | arena source | blocks in use scanned | arena scan | per million objects |")
        out.append("|---|---|---|---|---|")
        for c in report["census"]:
            if c.get("arena_scan_s") is None:
                out.append("| %s | %s | | | |" % (c["python"], c.get("all_objects_error", "n/a")))
                continue
            out.append("| %s | %s | %d | %.3f s | %.3f s |" % (
                c["python"], c["arena_source"], c["arena_blocks"], c["arena_scan_s"],
                c["arena_scan_s_per_million_objects"] or 0))
    if report.get("refs"):
        out.append("")
        out.append("## Retention chains (`pyleak refs`)")
        out.append("")
        out.append("| python | tracked objects | pyleak refs (wall) | peak RSS | snapshot / search | "
                   "gc.get_referrers(obj) in target | objgraph.find_backref_chain in target |")
        out.append("|---|---|---|---|---|---|---|")
        for c in report["refs"]:
            if c["status"] != "ok":
                out.append("| %s | %s | %s: %s | | | | |" % (c["python"], c["objects"], c["status"],
                                                          c.get("error", "")))
                continue
            out.append("| %s | %d (%d in the snapshot, %d references) | %.3f s | %.0f MiB | %.0f ms / %.0f ms "
                       "| %.3f s | %.3f s |" % (
                           c["python"], c["tracked_in_target"], c["snapshot_objects"],
                           c["snapshot_references"], c["pyleak_wall_s"], c["pyleak_peak_rss_kib"] / 1024.0,
                           c["snapshot_ms"], c["search_ms"], c["get_referrers_s"], c["find_backref_chain_s"]))
        out.append("")
        out.append("Chain found: `%s` (%s)." % (report["refs"][0].get("chain", "?"),
                                               report["refs"][0].get("chain_status", "?")))
    if report.get("chain_cpu"):
        out.append("")
        out.append("## Retention-chain searches in `top` (pyleak's CPU, one leaking service)")
        out.append("")
        out.append("| python | live objects | CPU with searches | CPU with --no-chains | searches per run "
                   "| CPU per search |")
        out.append("|---|---|---|---|---|---|")
        for c in report["chain_cpu"]:
            live = max([r["live_objects"] or 0 for r in c["runs"]] or [0])
            out.append("| %s | %d | %.2f %% | %.2f %% | %.1f in %.0f s | %s |" % (
                c["python"], live, c["chains_cpu_pct"] or 0, c["no_chains_cpu_pct"] or 0,
                c["searches_per_run"], c["seconds"],
                "%.0f ms" % c["cpu_ms_per_search"] if c["cpu_ms_per_search"] is not None else "within noise"))
    if report.get("attach"):
        out.append("")
        out.append("## Attach latency (median [min–max] seconds)")
        out.append("")
        out.append("| python | tier | `-n 1` to first line | to first line with gc |")
        out.append("|---|---|---|---|")
        for a in report["attach"]:
            out.append("| %s | %s | %s | %s |" % (
                a["python"], ",".join(a.get("tier") or []) or "?",
                fmt_ratio(a.get("first_line_s")), fmt_ratio(a.get("first_gc_line_s"))))
    if report.get("sites"):
        out.append("")
        out.append("## Allocation sites: cost per sample (kernel time to walk and store one Python stack)")
        out.append("")
        out.append("| interpreter | stack depth (mean frames) | samples | ns per sample |")
        out.append("|---|---|---|---|")
        for r in report["sites"]:
            for k in ("depth0", "depth40"):
                v = r.get(k) or {}
                out.append("| %s | %s | %s | %s |" % (r["python"], "%.0f" % v["mean_frames"] if v.get("mean_frames")
                                                     else "?", v.get("samples"), v.get("ns_per_sample")))
    s = report.get("self_cost")
    if s:
        out.append("")
        out.append("## pyleak's own cost: %d idle Python processes, -d 1, %g s"
                   % (s["processes"], s["seconds"]))
        out.append("")
        if "cpu_pct_one_core" in s:
            out.append("- CPU: %.2f%% of one core after start-up (%.2f%% including start-up; "
                       "start-up %.2f s wall, %.2f s CPU); pyleak's own self_cpu_pct: %s"
                       % (s["cpu_pct_one_core"], s["cpu_pct_incl_startup"], s["startup_s"],
                          s["startup_cpu_s"], s.get("pyleak_self_cpu_pct_median")))
            out.append("- RSS: %.1f MiB max (%.1f MiB at the end, high-water mark %.1f MiB)"
                       % (s["rss_mib_max"], s["rss_mib_last"], s["hwm_mib"]))
            out.append("- processes in pyleak's last line: %d, tiers %s, refreshes %d"
                       % (s["processes_seen_last_line"], s["tiers_last_line"], s["refreshes"]))
        else:
            out.append("- error: %s" % s.get("error"))
    sc = report.get("many_targets")
    if sc:
        out.append("")
        out.append("## Scale: idle Python processes (`-S`, %d dicts each), `top -b --json -d 1 -p ...`"
                   % sc["dicts_per_process"])
        out.append("")
        out.append("| idle targets | first line | all censused after | CPU (%% of one core, %g s) | RSS max | RSS per added target | skipped as idle (last line) |"
                   % sc["seconds"])
        out.append("|---|---|---|---|---|---|---|")
        prev = None
        for c in sc["cost"]:
            if "cpu_pct_one_core" not in c:
                out.append("| %d | error: %s |||||| " % (c["processes"], c.get("error")))
                continue
            out.append("| %d | %s | %s | %.2f %% | %.1f MiB | %s | %d of %d |" % (
                c["processes"], "%.1f s" % c["first_line_s"] if c.get("first_line_s") else "-",
                "%.1f s" % c["all_censused_s"] if c.get("all_censused_s") else
                "not within warm-up (%d)" % c.get("censused_at_warmup_end", 0),
                c["cpu_pct_one_core"], c["rss_mib_max"],
                "%.0f KiB" % (1024.0 * (c["rss_mib_max"] - prev["rss_mib_max"]) / (c["processes"] - prev["processes"]))
                if prev and c["processes"] > prev["processes"] else "-",
                c["skipped_idle_last_line"], c["processes_seen_last_line"]))
            prev = c
        out.append("")
        out.append("Time to a verdict: `leak_connections.py` (+3000 Connection/min) and pyleak started "
                   "together, to the first line naming `__main__.Connection`:")
        out.append("")
        out.append("| idle neighbours | verdict after | leaker's census period |")
        out.append("|---|---|---|")
        for v in sc["verdict"]:
            out.append("| %d | %s | %s |" % (
                v["idle_neighbours"], "%.1f s" % v["verdict_s"] if v.get("verdict_s") else
                "not within %.0f s" % v["timeout_s"],
                "%.1f s" % v["leaker_census_period_s"] if v.get("leaker_census_period_s") else "-"))
    out.append("")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pyleak", default=os.path.join(ROOT, ".output", "pyleak"))
    ap.add_argument("--python", action="append", dest="pythons",
                    help="interpreter to run the workloads on (repeatable; default: %s)"
                    % ", ".join(DEFAULT_PYTHONS))
    ap.add_argument("--pairs", type=int, default=None,
                    help="with/without pairs (default 5; 3 with --quick, a smoke run)")
    ap.add_argument("--scale", type=float, default=None,
                    help="workload size factor (default 1; 0.2 with --quick)")
    ap.add_argument("--workloads", dest="workloads_filter", help="comma separated subset of %s"
                    % ",".join(w["name"] for w in WORKLOADS))
    ap.add_argument("--modes", help="comma separated subset of %s"
                    % ",".join(m["name"] for m in MODES))
    ap.add_argument("--diagnostics", action="store_true",
                    help="also run the diagnostic modes (the default's cost split by feature)")
    ap.add_argument("--skip", default="",
                    help="comma separated: slowdown,percoll,census,refs,chains,attach,sites,selfcost,scale")
    ap.add_argument("--census-objects", type=int, default=None,
                    help="tracked objects in the census target (default 1000000)")
    ap.add_argument("--census-reps", type=int, default=3)
    ap.add_argument("--attach-reps", type=int, default=5)
    ap.add_argument("--chain-rounds", type=int, default=None, help="default 2 (1 quick)")
    ap.add_argument("--chain-seconds", type=float, default=None,
                    help="measured seconds of each chain-search run (default 60, 20 quick)")
    ap.add_argument("--chain-warmup", type=float, default=None,
                    help="seconds before each chain-search run is measured (default 25, 20 quick)")
    ap.add_argument("--idle-procs", type=int, default=50)
    ap.add_argument("--idle-seconds", type=float, default=None, help="default 20 (5 quick)")
    ap.add_argument("--scale-counts", default=None,
                    help="idle targets of the scale section, comma separated (default 50,200,1000; "
                    "20,50 quick)")
    ap.add_argument("--scale-dicts", type=int, default=2000,
                    help="small dicts each idle target of the scale section holds (default 2000)")
    ap.add_argument("--scale-warmup-max", type=float, default=300,
                    help="at most this long for every idle target's first census (default 300 s)")
    ap.add_argument("--verdict-timeout", type=float, default=300,
                    help="give up on a verdict after this long (default 300 s)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run (~3 min): small workloads, smaller census, shorter idle run")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON here")
    ap.add_argument("--markdown", action="store_true", help="print the Markdown report")
    ap.add_argument("--run-timeout", type=float, default=300)
    env = ap.parse_args()
    # A background job of a non-interactive shell starts with SIGINT ignored, and the children
    # (pyleak, bpftrace, targets) would inherit that; and SIGTERM must tear down like Ctrl-C so
    # no observer or target outlives the harness (every run cleans up in its finally blocks).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)

    if os.geteuid() != 0:
        sys.stderr.write("bench: must run as root: pyleak and bpftrace attach BPF probes and "
                         "read other processes' memory (try: sudo make bench)\n")
        return 1
    if not os.access(env.pyleak, os.X_OK):
        sys.stderr.write("bench: no pyleak binary at %s (run make first)\n" % env.pyleak)
        return 1
    env.pyleak = os.path.abspath(env.pyleak)
    if env.scale is None:
        env.scale = 0.2 if env.quick else 1.0
    if env.pairs is None:
        env.pairs = 3 if env.quick else 5
    if env.pairs < 1:
        sys.stderr.write("bench: --pairs must be at least 1\n")
        return 2
    if env.census_objects is None:
        env.census_objects = 200000 if env.quick else 1000000
    if env.idle_seconds is None:
        env.idle_seconds = 5.0 if env.quick else 20.0
    if env.scale_counts is None:
        env.scale_counts = "20,50" if env.quick else "50,200,1000"
    env.scale_counts = [int(x) for x in env.scale_counts.split(",") if x]
    if env.chain_rounds is None:
        env.chain_rounds = 1 if env.quick else 2
    if env.chain_seconds is None:
        env.chain_seconds = 20.0 if env.quick else 60.0
    if env.chain_warmup is None:
        env.chain_warmup = 20.0 if env.quick else 25.0
    if env.quick:
        env.census_reps = min(env.census_reps, 2)
        env.attach_reps = min(env.attach_reps, 3)
    env.pythons = env.pythons or [p for p in DEFAULT_PYTHONS if os.access(p, os.X_OK)]
    if not env.pythons:
        sys.stderr.write("bench: no interpreter found (give --python PATH)\n")
        return 1
    skip = set(s for s in env.skip.split(",") if s)

    env.workloads = []
    notes = []
    wanted = set(env.workloads_filter.split(",")) if env.workloads_filter else None
    for w in WORKLOADS:
        if wanted and w["name"] not in wanted:
            continue
        w = dict(w)
        path = os.path.join(SCENARIOS, w["file"])
        if not os.path.exists(path):
            alt = os.path.join(HERE, "workloads", w["file"])
            if not os.path.exists(alt):
                notes.append("workload %s missing (%s)" % (w["name"], path))
                log(notes[-1])
                continue
            path = alt
        w["path"] = path
        env.workloads.append(w)

    help_text = subprocess.run([env.pyleak, "top", "--help"], capture_output=True,
                               text=True).stdout
    wanted_modes = set(env.modes.split(",")) if env.modes else None
    env.modes, skipped = [], []
    for m in MODES:
        if wanted_modes and m["name"] not in wanted_modes:
            continue
        if m.get("diagnostic") and not (env.diagnostics or wanted_modes):
            continue
        if m.get("requires") and not option_supported(help_text, m["requires"]):
            skipped.append(m["name"])
            continue
        if m["kind"] == "bpftrace" and tool_version(["bpftrace", "--version"]) is None:
            skipped.append(m["name"] + " (no bpftrace)")
            continue
        env.modes.append(m)
    env.usdt = {py: has_usdt(os.path.realpath(py)) for py in env.pythons}
    env.semaphores = {py: usdt_semaphore(os.path.realpath(py)) for py in env.pythons}

    report = {
        "command": shlex.join([sys.executable] + sys.argv),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine_info(),
        "pyleak": env.pyleak, "pyleak_version": tool_version([env.pyleak, "--version"]),
        "pyleak_sha256": hashlib.sha256(open(env.pyleak, "rb").read()).hexdigest(),
        "bpftrace_version": tool_version(["bpftrace", "--version"]),
        "pythons": {py: {"usdt": env.usdt[py]} for py in env.pythons},
        "pairs": env.pairs, "scale": env.scale, "quick": env.quick,
        "modes": [m["name"] for m in env.modes], "skipped_modes": skipped, "notes": notes,
        "mode_scales": {m["name"]: m["scale"] for m in env.modes if "scale" in m},
        "workloads": {w["name"]: {"path": os.path.relpath(w["path"], ROOT),
                                  "args": w["size"](env.scale),
                                  "launcher": w.get("launcher", [])} for w in env.workloads},
    }
    t_start = time.monotonic()
    log("modes: %s; skipped: %s" % (", ".join(report["modes"]), ", ".join(skipped) or "none"))
    report["slowdown"] = [] if "slowdown" in skip else bench_slowdown(env)
    report["per_collection"] = [] if "percoll" in skip else bench_per_collection(env)
    report["census"] = [] if "census" in skip else [bench_census(env, py) for py in env.pythons]
    report["refs"] = [] if "refs" in skip else [bench_refs(env, py) for py in env.pythons]
    report["attach"] = [] if "attach" in skip else [bench_attach(env, py) for py in env.pythons]
    report["sites"] = [] if "sites" in skip else [bench_sites(env, py) for py in env.pythons]
    report["chain_cpu"] = [] if "chains" in skip else [bench_chain_cpu(env, py) for py in env.pythons]
    report["self_cost"] = None if "selfcost" in skip else bench_self_cost(env)
    report["many_targets"] = None if "scale" in skip else bench_scale(env)
    report["machine"]["loadavg_end"] = os.getloadavg()
    report["duration_s"] = time.monotonic() - t_start

    if env.json:
        with open(env.json, "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)
            f.write("\n")
        log("results in %s" % env.json)
    if env.markdown or not env.json:
        sys.stdout.write(markdown(report))
    log("done in %.0f s" % report["duration_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
