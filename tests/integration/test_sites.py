# SPDX-License-Identifier: BSD-2-Clause
"""Allocation sites: Python stacks captured in BPF at young collections, resolved to file:line
function, checked against tests/scenarios/sites.py's own source markers (truth key `sites`).

Until `pyleak top -b --sites` is wired, these tests drive userspace/probes/sites.c through the test-only
driver tests/integration/sites_probe.c, compiled here against .output/libpyleak.a.

What the leaf line means per version: up to 3.11 a collection runs synchronously inside the
allocation, so a stack through make_widget() shows the marked line (the Widget allocation itself,
or the __init__ call on it for the instance's dict/list).  From 3.12 collections are scheduled and
run at the next eval-breaker check: at __init__'s RESUME (make_widget's frame is still on the
marked line, inside the CALL) or at the next CALL in the loop body (`keep.append(w)`, the line
after the marker).  So 3.12+ allows marked line + 1 for a make_widget leaf, never anything else.
"""

import json
import os
import re
import subprocess
import time

import pytest

from conftest import ROOT, interpreters, need

SRC = os.path.join(ROOT, "tests", "integration", "sites_probe.c")
LIB = os.path.join(ROOT, ".output", "libpyleak.a")
PROBE_DIR = os.path.join(ROOT, ".output", "tests")
PROBE = os.path.join(PROBE_DIR, "sites_probe")

MATRIX = interpreters(feature="sites")  # debian-3.11 (usdt) + pyenv 3.8-3.13 (uprobe)
MAX_FRAMES = 64


@pytest.fixture(scope="module")
def probe():
    need(os.path.exists(LIB), "libpyleak.a is not built (run make)")
    if not os.path.exists(PROBE) or os.path.getmtime(PROBE) < max(os.path.getmtime(SRC),
                                                                   os.path.getmtime(LIB)):
        os.makedirs(PROBE_DIR, exist_ok=True)
        subprocess.check_call(["cc", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-std=gnu11",
                               "-D_GNU_SOURCE", "-I" + os.path.join(ROOT, ".output"),
                               "-I" + os.path.join(ROOT, "userspace"), "-I" + ROOT, "-I" + os.path.join(ROOT, "bpf"),
                               SRC, LIB, "-lbpf", "-lelf", "-lz", "-lm", "-lpthread", "-o", PROBE])
    return PROBE


def sample(probe, pid, seconds, *flags):
    p = subprocess.run([probe, str(pid), str(seconds)] + list(flags), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=seconds + 60)
    assert p.returncode == 0, "sites_probe failed: %s" % p.stderr
    return p.stdout


def start_sites(scenario, interp, *args):
    s = scenario(interp, "sites.py", "--duration", "60", "--rate", "3000", *args)
    truth = s.truth()  # written at setup: the sites are known before the workload starts
    time.sleep(1.0)
    return s, truth


def site_frame(stack, func):
    """The frame of `func` nearest the leaf, or None."""
    for f in stack["frames"]:
        if f["function"] == func or f["function"].endswith("." + func):
            return f
    return None


@pytest.mark.parametrize("interp", MATRIX, ids=repr)
def test_top_site_names_file_function_line(probe, scenario, interp):
    s, truth = start_sites(scenario, interp)
    rep = json.loads(sample(probe, s.pid, 4))
    c = rep["counters"]
    assert rep["tier"] == interp.tier
    assert c["walk_errors"] == 0, c
    assert c["captured"] >= 10, "too few young collections sampled: %s" % c
    sync = interp.minor <= (3, 11)
    for tname in ("__main__.Widget", "__main__.Gadget"):
        site = truth["sites"][tname]
        func = site["function"]
        cls = tname.split(".")[-1]
        through = [st for st in rep["stacks"] if site_frame(st, func)]
        assert through, "no stack through %s: %s" % (func, rep["stacks"][:5])
        by_line = {}
        for st in through:
            f = site_frame(st, func)
            assert f["file"] == site["file"], (f, site)
            leaf = st["frames"][0]
            if leaf is f:
                # the collection ran in func itself
                allowed = (site["line"],) if sync else (site["line"], site["line"] + 1)
            else:
                # ... or inside the class's __init__ called from the marked line
                assert leaf["file"] == site["file"] and leaf["function"] in (
                    "__init__", cls + ".__init__"), leaf
                assert st["frames"][1] is f or st["frames"][1] == f
                allowed = (site["line"],)
            assert f["line"] in allowed, "%s at line %d, allowed %s" % (func, f["line"], allowed)
            assert not st["truncated"]
            by_line[f["line"]] = by_line.get(f["line"], 0) + st["count"]
        # the top site of func: the marked line (sync) or the loop body (3.12+)
        top_line = max(by_line, key=by_line.get)
        assert top_line == site["line"] or (not sync and top_line == site["line"] + 1), by_line
        if sync:
            # the allocation of the instance itself, attributed to the marked line as a leaf
            assert any(st["frames"][0]["function"] == func and st["frames"][0]["line"] == site["line"]
                       for st in through)
    # every stack is rooted at the scenario's <module>
    for st in rep["stacks"]:
        if not st["truncated"]:
            assert st["frames"][-1]["function"] == "<module>", st


@pytest.mark.parametrize("interp", MATRIX, ids=repr)
def test_deep_recursion_truncated_never_wrong(probe, scenario, interp):
    depth = 100
    s, truth = start_sites(scenario, interp, "--recurse", str(depth))
    rep = json.loads(sample(probe, s.pid, 4))
    c = rep["counters"]
    assert c["walk_errors"] == 0, c
    deep = [st for st in rep["stacks"] if site_frame(st, "descend") or site_frame(st, "bottom_alloc")]
    assert deep, "no sample inside the recursion: %s" % c
    assert c["truncated"] >= sum(st["count"] for st in deep if st["truncated"]) > 0
    site = truth["sites"]["__main__.Deep"]
    for st in deep:
        assert st["truncated"], "a %d-deep stack was not marked truncated" % depth
        assert len(st["frames"]) == MAX_FRAMES
        names = [f["function"] for f in st["frames"]]
        # leaf side: optional Deep.__init__, optional bottom_alloc, then only descend()
        k = 0
        if names[k] in ("__init__", "Deep.__init__"):
            k += 1
        if names[k] == "bottom_alloc":
            f = st["frames"][k]
            assert f["file"] == site["file"]
            assert f["line"] in ((site["line"],) if interp.minor <= (3, 11)
                                 else (site["line"], site["line"] + 1)), f
            k += 1
        assert names[k:] == ["descend"] * (MAX_FRAMES - k), names
        assert all(f["file"] == site["file"] for f in st["frames"])


@pytest.mark.parametrize("interp", [i for i in MATRIX if i.name in ("debian-3.11", "pyenv-3.12.1")]
                         or MATRIX[:1], ids=repr)
def test_walk_error_counted_not_reported(probe, scenario, interp):
    s, _ = start_sites(scenario, interp)
    rep = json.loads(sample(probe, s.pid, 3, "--fault-code-type"))
    c = rep["counters"]
    assert c["samples"] > 0, c
    assert c["err_not_code"] == c["samples"] == c["walk_errors"], c
    assert c["captured"] == 0 and rep["stacks"] == [], "a failed walk became a stack: %s" % rep


@pytest.mark.parametrize("interp", MATRIX[:1], ids=repr)
def test_collapsed_format(probe, scenario, interp):
    s, truth = start_sites(scenario, interp)
    out = sample(probe, s.pid, 3, "--collapsed")
    lines = out.splitlines()
    assert lines
    site = truth["sites"]["__main__.Widget"]
    want = "%s:%d %s" % (site["file"], site["line"], site["function"])
    seen = False
    for line in lines:
        m = re.match(r"^(.+) (\d+)$", line)
        assert m, line
        frames = m.group(1).split(";")
        assert frames[0].endswith(" <module>") or frames[0] == "[truncated]", frames
        assert int(m.group(2)) > 0
        seen = seen or want in frames
    assert seen, "no collapsed stack through %s:\n%s" % (want, out)


# Through the product: `pyleak top -b --json` carries the same stacks, and `--format collapsed`
# prints them for flame graphs.
@pytest.mark.parametrize("interp", [i for i in MATRIX if i.name in ("debian-3.11", "pyenv-3.12.1", "pyenv-3.8.18")],
                         ids=repr)
def test_top_json_and_collapsed(scenario, interp):
    from conftest import pyleak_json_lines, run_pyleak, proc_entry
    s, truth = start_sites(scenario, interp)
    snaps = pyleak_json_lines("top", "-b", "--json", "-d", "2", "-n", "4", "-p", s.pid, "--no-census", timeout=120)
    sites = proc_entry(snaps[-1], s.pid)["sites"]
    assert sites is not None and sites["captured"] >= 5 and sites["walk_errors"] == 0, sites
    want = {(v["file"], v["function"]) for v in truth["sites"].values()}
    leaves = [st["frames"] for st in sites["stacks"]]
    # every stack's frames name the scenario's functions; the allocating functions appear
    seen = {(f["file"], f["function"]) for fr in leaves for f in fr}
    assert want <= seen, (want, seen)
    for fr in leaves:
        w = [f for f in fr if f["function"] == "make_widget"]
        if w and interp.minor < (3, 12):
            assert w[0]["line"] == truth["sites"]["__main__.Widget"]["line"]
    out = run_pyleak("top", "-b", "-d", "1", "-n", "3", "-p", s.pid, "--sites", "--format", "collapsed",
                     "--no-census").stdout.splitlines()
    assert out and all(l.rsplit(" ", 1)[1].isdigit() for l in out)
    assert any(l.split(" ", 1)[0].endswith("<module>") or "<module>;" in l for l in out)
    assert any("make_widget" in l for l in out) or any("make_gadget" in l for l in out)


def test_sites_recorded_and_reported_collapsed(scenario, tmp_path):
    """record writes each process's sampled stacks; report --format collapsed prints them."""
    import subprocess
    from conftest import run_pyleak, PYLEAK
    interp = [i for i in MATRIX if i.name == "debian-3.11"][0]
    s, truth = start_sites(scenario, interp)
    db = str(tmp_path / "sites.db")
    run_pyleak("record", "-p", s.pid, "-o", db, "--duration", "6", "--interval", "1", timeout=120)
    out = run_pyleak("report", db, "--format", "collapsed").stdout.splitlines()
    assert out, "no sites recorded"
    total = 0
    for l in out:
        stack, count = l.rsplit(" ", 1)
        total += int(count)
        frames = stack.split(";")
        assert frames[0].endswith("<module>") or frames[0] == "[truncated]", frames
    assert total >= 10
    w = truth["sites"]["__main__.Widget"]
    assert any("%s:%d %s" % (w["file"], w["line"], w["function"]) in l for l in out), out[:5]
