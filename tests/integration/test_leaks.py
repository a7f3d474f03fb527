# SPDX-License-Identifier: BSD-2-Clause
"""Leak verdicts against ground truth: every leak scenario flagged within 60 s, naming what leaks.

The scenario suite (tests/scenarios/leak_*.py and control_*.py) runs under `pyleak top -b --json
-d 1 -p PIDS` (one pyleak watching a batch of scenarios at once: 2 cores, bounded CI time). Full
suite on Debian's python3.11 (usdt) and pyenv 3.12; one leak and one control on every other
interpreter of the matrix. Per leak scenario, from its truth file:

- the expected suspect (`expected`: kind + name) appears within 60 s of the scenario's start
  (time of the first snapshot carrying it minus the truth's `start_time`);
- its rate is consistent with the truth's `rate` (per_min within a factor of the truth);
- every container named in `expected_all` is reported under that holder name, and once the
  scenario is idle its reported len equals the truth's `containers[name]` exactly;
controls: no suspect at any time during more than 60 s.

Run as a script to print the table of times to verdict without pytest:
    /usr/bin/python3 tests/integration/test_leaks.py [debian-3.11|pyenv-3.12.1|...]
"""

import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import Scenario, TopJson, interpreters, need, resolve  # noqa: E402

VERDICT_S = 60.0       # a leak must be named within this many seconds of the scenario's start
ACTIVE_S = 62.0        # active phase of every scenario; then idle (truth written, nothing moves)
IDLE_WATCH_S = 45.0    # at most this long after the active phase, for a census of the idle heap

LEAKS = ["leak_cache_dict.py", "leak_connections.py", "leak_queue.py", "leak_del_cycles.py",
         "leak_class_attr.py", "leak_logging.py"]
CONTROLS = ["control_churn.py", "control_bounded_cache.py", "control_warmup.py"]

# per_min of the expected suspect, as a multiple of the truth's rate*60: the type and container
# cases grow at the rate itself (leak_queue: production minus consumption); gc.garbage gets the
# three Resource objects of a cycle and, up to 3.10 (or once materialised), their three dicts.
RATE_RANGE = {"leak_del_cycles": (3.0, 6.0), "leak_queue": None}
RATE_FACTOR = 2.0

MATRIX = interpreters(minors=((3, 8), (3, 9), (3, 10), (3, 11), (3, 12), (3, 13)), feature="leaks")
FULL = [i for i in MATRIX if i.name == "debian-3.11" or i.name.startswith("pyenv-3.12")]
# The extra interpreters (conftest.EXTRA) get fixed cases: a container leak named through its
# holder and a control on sid 3.14/3.15; on free-threaded 3.13t (census from the mimalloc heaps)
# a type leak, a container leak and a control.
EXTRA_CASES = {"sid-3.14": ["leak_logging.py", "control_churn.py"],
               "sid-3.15": ["leak_cache_dict.py", "control_bounded_cache.py"],
               "ft-3.13t": ["leak_connections.py", "leak_cache_dict.py", "control_warmup.py"]}
# One leak and one control on the others, rotating so that every leak case meets several minors.
OTHER = [i for i in MATRIX if i not in FULL and i.name not in EXTRA_CASES]


def plan():
    """[(interp, script)] of the whole run."""
    out = []
    for i in FULL:
        out += [(i, s) for s in LEAKS + CONTROLS]
    for n, i in enumerate(OTHER):
        out.append((i, LEAKS[n % len(LEAKS)]))
        out.append((i, CONTROLS[n % len(CONTROLS)]))
    for i in MATRIX:
        out += [(i, s) for s in EXTRA_CASES.get(i.name, ())]
    return out


def entries(snaps, pid):
    for s in snaps:
        for p in s["processes"]:
            if p["pid"] == pid:
                yield s, p


def current_in_idle(snap, p, since):
    """The process's census describes the idle heap (that began at `since`): taken in it, or an
    older one that pyleak, in this snapshot of the idle phase, keeps as current (skipped_idle_since:
    GC state, RSS and CPU have not moved since it). A census before the heap settled fails the
    idle-len check."""
    cen = p.get("census") or {}
    return (cen.get("time") or 0) > since or bool(cen.get("skipped_idle_since") and snap["time"] > since)


def idle_census(snaps, pid, since):
    for snap in reversed(snaps[-5:]):
        for p in snap["processes"]:
            if p["pid"] == pid and current_in_idle(snap, p, since):
                return True
    return False


def run_batch(jobs, tmpdir):
    """Start every (interp, script) of jobs, watch them all, return per-job results."""
    scen = []
    try:
        for interp, script in jobs:
            d = os.path.join(tmpdir, "%s-%s" % (interp.name, script[:-3]))
            os.makedirs(d)
            scen.append(Scenario(interp, script, ["--duration", str(ACTIVE_S)], tmpdir=d))
        for s in scen:
            s.truth()  # started: the first truth write carries start_time
        w = TopJson("-d", "1", "-p", ",".join(str(s.pid) for s in scen))
        try:
            idle = [s.truth(phase="idle", timeout=ACTIVE_S + 30) for s in scen]
            # Then until every process had a census in its idle phase (the census period adapts
            # to the heap and to how many processes share the budget: up to tens of seconds).
            deadline = time.time() + IDLE_WATCH_S
            while time.time() < deadline and w.proc.poll() is None:
                if all(idle_census(w.snaps, s.pid, t["time"]) for s, t in zip(scen, idle)):
                    break
                time.sleep(0.5)
        finally:
            rc = w.stop()
        assert w.snaps, "pyleak top printed nothing (rc %s): %s" % (rc, w.stderr_tail())
        if os.environ.get("PYLEAK_LEAKS_DUMP"):
            with open(os.path.join(os.environ["PYLEAK_LEAKS_DUMP"], "snaps-%d.json" % os.getpid()), "a") as f:
                for snap in w.snaps:
                    f.write(json.dumps(snap) + "\n")
        return [evaluate(interp, script, s, t, w.snaps) for (interp, script), s, t in zip(jobs, scen, idle)]
    finally:
        for s in scen:
            s.stop()


def container_names(truth):
    """Containers the truth names: those of expected_all and those it gives a len for."""
    names = [e["name"] for e in truth.get("expected_all", []) if e["kind"] == "container"]
    return names + [n for n in sorted(truth.get("containers", {})) if n not in names]


def evaluate(interp, script, s, truth, snaps):
    """Facts about one scenario from the snapshots (asserted by the tests)."""
    exp = truth["expected"]
    r = {"interp": interp.name, "scenario": truth["scenario"], "expected": exp, "truth": truth,
         "first": None, "per_min": None, "suspects_seen": {}, "containers": {}, "idle_lens": {},
         "named_in_time": {}, "pid": s.pid}
    start = truth["start_time"]
    want_containers = container_names(truth)
    for snap, p in entries(snaps, s.pid):
        age = snap["time"] - start
        for sus in p.get("suspects") or []:
            key = (sus["kind"], sus["name"])
            r["suspects_seen"].setdefault(key, (age, sus["per_min"]))
            if sus["kind"] == exp["kind"] and sus["name"] == exp["name"] and r["first"] is None:
                r["first"] = age
                r["per_min"] = sus["per_min"]
        for c in p.get("containers") or []:
            if c["name"] in want_containers:
                r["containers"].setdefault(c["name"], age)
                if current_in_idle(snap, p, truth["time"]):
                    r["idle_lens"][c["name"]] = c["len"]
    return r


def rate_ok(r):
    t = r["truth"]
    name = r["scenario"]
    if name == "leak_queue":
        nominal = (t["rate"] - t["consume_rate"]) * 60, (t["rate"] - t["consume_rate"]) * 60
    else:
        lo, hi = RATE_RANGE.get(name) or (1.0, 1.0)
        nominal = t["rate"] * 60 * lo, t["rate"] * 60 * hi
    return nominal[0] / RATE_FACTOR <= r["per_min"] <= nominal[1] * RATE_FACTOR, nominal


def known_gap(r, problem):
    """collections.deque is a heap type from 3.12 (PyType_FromSpec, tp_name "collections.deque")
    and pyobj.c derives container kinds from static types only, so the census does not list
    deques there: leak_queue's `__main__.jobs.queue` cannot be named until pyobj.c matches
    dotted C heap-type names too."""
    return False  # fixed in pyobj.c: dotted C heap-type names count as builtin layouts


def check(r):
    """Assertions for one result; returns a list of problems (empty: pass)."""
    bad = []
    t = r["truth"]
    # Every container the truth names is reported under its holder's name in time, and its
    # len in an idle census is exactly the target's len().
    for name in container_names(t):
        if name not in r["containers"]:
            bad.append("container %s never reported by that name" % name)
            continue
        if r["containers"][name] > VERDICT_S:
            bad.append("container %s named only after %.1f s" % (name, r["containers"][name]))
        if name in t.get("containers", {}) and r["idle_lens"].get(name) != t["containers"][name]:
            bad.append("idle len of %s: pyleak %s, truth %s" % (name, r["idle_lens"].get(name),
                                                               t["containers"][name]))
    if r["expected"]["kind"] == "none":
        if r["suspects_seen"]:
            bad.append("control flagged: %s" % r["suspects_seen"])
        return bad
    if r["first"] is None:
        bad.append("expected %s never flagged; seen %s" % (r["expected"], r["suspects_seen"]))
        return bad
    if r["first"] > VERDICT_S:
        bad.append("flagged after %.1f s > %.0f s" % (r["first"], VERDICT_S))
    ok, nominal = rate_ok(r)
    if not ok:
        bad.append("per_min %.0f not within x%.0f of %s" % (r["per_min"], RATE_FACTOR, nominal))
    # The containers the truth lists as leaking are flagged too (under their names).
    for e in t.get("expected_all", []):
        if e["kind"] == "container" and ("container", e["name"]) not in r["suspects_seen"]:
            bad.append("leaking container %s not flagged" % e["name"])
    return bad


_RESULTS = {}


def results_for(tmpdir_factory):
    """Run the whole plan once per session, in batches watched by one pyleak each."""
    if "all" not in _RESULTS:
        out = []
        for b in batches_of(plan()):
            out += run_batch(b, str(tmpdir_factory.mktemp("leaks")))
        _RESULTS["all"] = out
    return _RESULTS["all"]


PLAN = plan()


def test_matrix_not_empty():
    need(len(FULL) > 0, "neither Debian python3.11 nor pyenv 3.12 found")


@pytest.mark.parametrize("job", PLAN, ids=["%s-%s" % (i.name, s[:-3]) for i, s in PLAN])
def test_leak_verdict(job, root, tmpdir_factory):
    interp, script = job
    res = [r for r in results_for(tmpdir_factory)
           if r["interp"] == interp.name and r["scenario"] == script[:-3]]
    assert len(res) == 1
    r = res[0]
    print("%s %s: first %s per_min %s seen %s" % (interp.name, script, r["first"], r["per_min"],
                                                  sorted(r["suspects_seen"].items())))
    bad = check(r)
    gaps = [b for b in bad if known_gap(r, b)]
    bad = [b for b in bad if not known_gap(r, b)]
    assert not bad, bad
    if gaps:
        pytest.xfail("; ".join(gaps) + " (" + known_gap.__doc__.split(":")[0] + ")")


def batches_of(jobs):
    """Batches of at most 9 scenarios (the leak cases are light: 50 steps/s), at most one heavy
    control_churn each."""
    batches, cur = [], []
    for j in jobs:
        if len(cur) >= 9 or (j[1] == "control_churn.py" and any(x[1] == "control_churn.py" for x in cur)):
            batches.append(cur)
            cur = []
        cur.append(j)
    if cur:
        batches.append(cur)
    return batches


def _main(argv):
    import tempfile
    names = argv[1:]
    jobs = [j for j in PLAN if not names or j[0].name in names or j[1][:-3] in names]
    t0 = time.time()
    allr = []
    for b in batches_of(jobs):
        allr += run_batch(b, tempfile.mkdtemp(prefix="pyleak-leaks-"))
    for r in allr:
        bad = check(r)
        print("%-16s %-22s first=%-6s per_min=%-8s %s" % (
            r["interp"], r["scenario"], "%.1f" % r["first"] if r["first"] is not None else "-",
            "%.0f" % r["per_min"] if r["per_min"] is not None else "-",
            "PASS" if not bad else ("KNOWN GAP " if all(known_gap(r, b) for b in bad) else "") + str(bad)))
        print("    seen: %s" % sorted((k, "%.1f" % v[0], "%.0f" % v[1]) for k, v in r["suspects_seen"].items()))
        print("    containers: %s idle lens %s" % (r["containers"], r["idle_lens"]))
    print("total %.0f s" % (time.time() - t0))


if __name__ == "__main__":
    _main(sys.argv)
