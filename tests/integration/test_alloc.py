# SPDX-License-Identifier: BSD-2-Clause
"""Allocation rates per type (bpf/alloc.bpf.c + userspace/probes/alloc.c) against ground truth.

Until the collector carries the module, the observer is tools/bench/alloc_driver.c (the module
and nothing else), built here from the repo against .output/libpyleak.a; it prints one JSON line
per read with the `alloc` object the collector will put into each process's JSON.

- exact mode on pyenv builds (no LTO): __main__.Alloc allocations counted in the window equal the
  objects the scenario created in it (truth file), up to the objects created between the window's
  edges and the scenario's truth checkpoints;
- young-sample mode ranks the leaking type first, at about its real rate;
- Debian's LTO python3.11 in exact mode is flagged incomplete on a workload whose allocations go
  through LTO-inlined sites, while a pyenv 3.11 running the same workload is complete;
- the budget mode scales its estimate by its duty cycle; no probe is left behind.
"""

import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import stop_on_sigint, ROOT, bpf_objects, extra_interpreters, interpreters, need, resolve

PYENV = interpreters(debian=False)
DEBIAN = [i for i in interpreters(pyenv=False)]
# Debian sid 3.14/3.15: young sample; exact mode is incomplete there as on Debian's 3.11 (stripped
# LTO build: the specialised CALL_ALLOC_AND_ENTER_INIT allocates through the hidden
# _PyType_AllocNoTrack), so they join the completeness test, which asserts pyleak says so.
EXTRA = extra_interpreters("alloc")
YOUNG = interpreters(minors=((3, 8), (3, 11), (3, 12), (3, 13))) + EXTRA

MIXED_LEAK = r'''
import sys, time
class C(object):
    pass
def make(i):
    return lambda: i          # a function + a cell per call: PyFunction_New, LTO-inlined on Debian
keep = []
while True:
    for i in range(300):
        keep.append(({"a": i}, (i, str(i)), [i], {i}, C(), make(i), frozenset((i,))))
    time.sleep(0.02)
'''


@pytest.fixture(scope="session")
def driver():
    lib = os.path.join(ROOT, ".output", "libpyleak.a")
    need(os.path.exists(lib), "libpyleak.a is not built (run make)")
    out = os.path.join(tempfile.mkdtemp(prefix="pyleak-alloc-"), "alloc_driver")
    subprocess.check_call(["cc", "-O2", "-I" + os.path.join(ROOT, "userspace"), "-I" + ROOT, "-I" + os.path.join(ROOT, "bpf"),
                           "-I" + os.path.join(ROOT, ".output"), os.path.join(ROOT, "tools/bench/alloc_driver.c"),
                           lib, "-lbpf", "-lelf", "-lz", "-lm", "-o", out])
    return out


class Driver(object):
    def __init__(self, path, pid, *args):
        self.proc = subprocess.Popen([path] + [str(a) for a in args] + [str(pid)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, universal_newlines=True)

    def line(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if line:
                return json.loads(line)
            if self.proc.poll() is not None:
                raise AssertionError("driver exited %s: %s" % (self.proc.returncode, self.proc.stderr.read()))
        raise AssertionError("driver: no output in %ss" % timeout)

    def stop(self):
        return stop_on_sigint(self.proc, "driver")


@pytest.fixture
def observe(root, driver):
    started = []

    def start(pid, *args):
        d = Driver(driver, pid, *args)
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()


def type_entry(alloc, name):
    for t in alloc["types"]:
        if t["name"] == name:
            return t
    return None


def no_alloc_programs():
    progs = bpf_objects()["prog"]
    names = {"young_usdt", "young_collector", "exact_perf", "exact_multi"}
    return [p for p in progs if p.get("name") in names]


@pytest.mark.parametrize("interp", PYENV, ids=repr)
def test_exact_counts_equal_truth(scenario, observe, interp):
    rate = 500.0
    s = scenario(interp, "alloc_rates.py", *[str(a) for a in ("--rate", rate, "--keep", 0.5, "--duration", 0)])
    s.truth(phase=None)
    time.sleep(1.0)
    d = observe(s.pid, "--mode", "exact", "--interval", 3, "--count", 1)
    assert "baseline" in d.line()
    t0 = s.refresh_truth()
    rep = d.line(timeout=30)
    t1 = s.refresh_truth()
    alloc = rep["alloc"]
    assert alloc["source"] == "exact" and alloc["estimated"] is False
    created = t1["created"]["__main__.Alloc"] - t0["created"]["__main__.Alloc"]
    freed = t1["freed"]["__main__.Alloc"] - t0["freed"]["__main__.Alloc"]
    e = type_entry(alloc, "__main__.Alloc")
    assert e is not None, alloc["types"]
    counted = e["alloc_per_s"] * alloc["window_s"]
    counted_free = e["free_per_s"] * alloc["window_s"]
    # The truth is taken at the scenario's next checkpoint after each window edge: a 20 ms batch
    # (rate × 0.02 objects) plus signal latency on each side may fall outside the window.
    slack = 2 * (rate * 0.06) + 5
    assert abs(counted - created) <= slack, (counted, created, alloc)
    assert abs(counted_free - freed) <= slack + rate * 0.04, (counted_free, freed, alloc)
    assert created > rate * 2  # the window really saw allocations
    # 500/s Alloc + the scenario's own objects; nothing wildly off
    assert alloc["per_s"] >= e["alloc_per_s"]


@pytest.mark.parametrize("interp", YOUNG, ids=repr)
def test_young_sample_ranks_leak_first(scenario, observe, interp):
    rate = 3000.0
    s = scenario(interp, "alloc_rates.py", *[str(a) for a in ("--rate", rate, "--leak", "--list-rate", 300, "--duration", 0)])
    s.truth(phase=None)
    time.sleep(1.0)
    d = observe(s.pid, "--mode", "young", "--interval", 4, "--count", 1)
    assert "baseline" in d.line()
    t0 = s.refresh_truth()
    rep = d.line(timeout=30)
    t1 = s.refresh_truth()
    alloc = rep["alloc"]
    assert alloc["source"] == "young-sample" and alloc["estimated"] is True
    assert alloc["collections"] >= 2 and alloc["samples"] > 0, alloc
    assert alloc["walk_errors"] == 0, alloc
    assert alloc["types"][0]["name"] == "__main__.Alloc", alloc["types"]
    real = (t1["created"]["__main__.Alloc"] - t0["created"]["__main__.Alloc"]) / (t1["time"] - t0["time"])
    est = alloc["types"][0]["net_per_s"]
    assert abs(est - real) <= 0.25 * real, (est, real, alloc)
    lst = type_entry(alloc, "list")
    assert lst is not None and lst["net_per_s"] < est / 3, alloc["types"]


def _mixed(tmp_path):
    p = tmp_path / "mixed_leak.py"
    p.write_text(MIXED_LEAK)
    return str(p)


@pytest.mark.parametrize("interp", DEBIAN + EXTRA + [i for i in PYENV if i.minor == (3, 11)], ids=repr)
def test_exact_completeness_flags_lto(scenario, observe, interp, tmp_path):
    s = scenario(interp, _mixed(tmp_path))
    time.sleep(1.0)
    d = observe(s.pid, "--mode", "exact", "--interval", 3, "--count", 1)
    assert "baseline" in d.line()
    alloc = d.line(timeout=30)["alloc"]
    assert alloc["check_windows"] >= 5 and alloc["completeness"] is not None, alloc
    if interp.name.startswith(("debian", "sid")):
        # Debian's LTO build inlines PyFunction_New's _PyObject_GC_New: functions are missed
        assert alloc["incomplete"] is True and alloc["completeness"] < 0.9, alloc
    else:
        assert alloc["incomplete"] is False and abs(alloc["completeness"] - 1) < 0.02, alloc
        assert type_entry(alloc, "function") is not None


@pytest.mark.parametrize("interp", [i for i in PYENV if i.minor == (3, 12)], ids=repr)
def test_budget_scales_and_detaches(scenario, observe, interp):
    rate = 20000.0
    s = scenario(interp, "alloc_rates.py", *[str(a) for a in ("--rate", rate, "--keep", 0.2, "--duration", 0)])
    s.truth(phase=None)
    time.sleep(1.0)
    # The budget is a share of the target's own CPU, and this paced scenario uses ~1-2% of a
    # core: at 2% it could afford one 0.1-s slice a minute.  20% gives several in the window;
    # the scheduler is the same (the 2% figure is make bench's, on busy workloads).
    d = observe(s.pid, "--mode", "budget", "--budget", 20, "--interval", 12, "--count", 1)
    assert "baseline" in d.line()
    t0 = s.refresh_truth()
    alloc = d.line(timeout=30)["alloc"]
    t1 = s.refresh_truth()
    assert alloc["source"] == "budget" and alloc["estimated"] is True
    assert 0 < alloc["duty"] < 1, alloc
    real = (t1["created"]["__main__.Alloc"] - t0["created"]["__main__.Alloc"]) / (t1["time"] - t0["time"])
    e = type_entry(alloc, "__main__.Alloc")
    assert e is not None and abs(e["alloc_per_s"] - real) <= 0.3 * real, (e, real, alloc)
    # the scheduler's books: it charged the target something and stayed within the budget
    assert 0 < alloc["overhead_pct"] <= 20.0, alloc
    assert d.stop() == 0
    assert not no_alloc_programs()


def link_types(pid):
    """Types of the BPF links process pid holds (link_type in the fdinfo of each link fd)."""
    types = []
    d = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                for line in f:
                    if line.startswith("link_type:"):
                        types.append(line.split(":", 1)[1].strip())
        except OSError:
            pass
    return types


@pytest.mark.parametrize("interp", [i for i in PYENV if i.minor == (3, 12)], ids=repr)
def test_exact_probes_use_one_uprobe_multi_link(scenario, observe, interp):
    """On Linux 6.6+ the exact probes of a process are one uprobe_multi link: closing it takes
    every breakpoint out at once (perf-event links leave theirs trapping ~0.1 s each)."""
    release = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    need(release >= (6, 6), "uprobe_multi needs Linux 6.6+ (this is %s)" % os.uname().release)
    s = scenario(interp, "alloc_rates.py", *[str(a) for a in ("--rate", 500, "--keep", 0.2, "--duration", 0)])
    s.truth(phase=None)
    d = observe(s.pid, "--mode", "exact", "--interval", 1)
    assert "baseline" in d.line()
    types = link_types(d.proc.pid)
    assert types.count("uprobe_multi") == 1, types
    assert d.stop() == 0
    assert not no_alloc_programs()
