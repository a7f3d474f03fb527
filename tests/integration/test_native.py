# SPDX-License-Identifier: BSD-2-Clause
"""Native memory from outside: the glibc heap walker (`pyleak heap`) against scenarios whose
native leaks are known, and a balanced control.

Scenarios: native_ctypes_leak.py (ctypes malloc, no pointer kept), native_ext_leak.py (a C
extension built here against the interpreter's own headers: leak_buffer leaks, scratch frees, 10x
more often), control_native_churn.py (zlib + json on large buffers).
"""

import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import PYLEAK, SCENARIOS, extra_interpreters, interpreters, need, pydev_include, resolve, run_pyleak  # noqa: E402,E501

WINDOW_S = 20.0


def _interps():
    # Debian's system Python (USDT, stripped) and the newest pyenv build: two builds, one glibc
    out = [i for i in interpreters(minors=((3, 12),)) if i.name == "debian-3.11" or i.minor == (3, 12)]
    # and the sid 3.14/3.15 of tools/interp: another glibc (2.43, mapped from their prefix)
    return out[:2] + extra_interpreters("native")


def heap(pid):
    p = run_pyleak("heap", "-p", pid, "--json")
    return json.loads(p.stdout.strip().splitlines()[-1])


def build_ext(interp, tmp_path):
    out = str(tmp_path / "ext")
    os.makedirs(out, exist_ok=True)
    inc = []
    if interp.name.startswith("sid-"):
        # their -dev headers are unpacked apart from the interpreters (tools/interp/pydev.sh)
        need(pydev_include() is not None, "no sid headers for %s: tools/interp/fetch.sh pydev" % interp)
        inc = ["--include", pydev_include()]
    p = subprocess.run([resolve(interp), os.path.join(SCENARIOS, "native_ext", "build_ext.py"), out] + inc,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    need(p.returncode == 0, "cannot build the test extension for %s: %s" % (interp, p.stderr[-500:]))
    return out


def growth(s, pid):
    """In-use bytes of the heap over WINDOW_S next to the scenario's own count of leaked chunks."""
    s.truth()
    time.sleep(2)  # past start-up: imports, first allocations
    h0 = heap(pid)
    t0 = s.refresh_truth()
    time.sleep(WINDOW_S)
    h1 = heap(pid)
    t1 = s.refresh_truth()
    return h0, h1, t0, t1


def check_walk(h):
    assert h["allocator"] == "glibc" and h["walked"], h
    assert not h["partial"], h
    # found without symbols: main_arena in libc's .data, the thread's tcache in the heap
    assert h["fastbins_checked"] and h["main_arena"] != "0x0", h
    assert h["tcaches"] >= 1 and h["safe_linking"] is True, h


@pytest.mark.parametrize("interp", _interps(), ids=repr)
def test_heap_walk_ctypes_leak(root, scenario, interp):
    s = scenario(interp, "native_ctypes_leak.py", "--rate", "50", "--size", "4000")
    h0, h1, t0, t1 = growth(s, s.pid)
    check_walk(h0)
    check_walk(h1)
    truth = t1["leaked_chunk_bytes"] - t0["leaked_chunk_bytes"]
    assert truth > 2000000, (t0, t1)
    got = h1["in_use_bytes"] - h0["in_use_bytes"]
    assert abs(got - truth) <= 0.2 * truth, (got, truth)
    # and in the leaked blocks' size class (4016-byte chunks: the 2048-4095 class)
    cls0 = {c["min_size"]: c["bytes"] for c in h0["classes"]}
    cls1 = {c["min_size"]: c["bytes"] for c in h1["classes"]}
    k = 2048
    assert abs((cls1.get(k, 0) - cls0.get(k, 0)) - truth) <= 0.2 * truth, (cls0, cls1, truth)


@pytest.mark.parametrize("interp", _interps(), ids=repr)
def test_heap_walk_ext_leak(root, scenario, interp, tmp_path):
    ext = build_ext(interp, tmp_path)
    s = scenario(interp, "native_ext_leak.py", "--ext-dir", ext, "--rate", "50", "--size", "6000")
    h0, h1, t0, t1 = growth(s, s.pid)
    check_walk(h1)
    truth = t1["leaked_chunk_bytes"] - t0["leaked_chunk_bytes"]
    got = h1["in_use_bytes"] - h0["in_use_bytes"]
    assert t1["scratch_calls"] >= 10 * t1["leaked_blocks"] - 10
    assert abs(got - truth) <= 0.2 * truth, (got, truth)


@pytest.mark.parametrize("interp", _interps(), ids=repr)
def test_heap_walk_balanced_control(root, scenario, interp):
    s = scenario(interp, "control_native_churn.py", "--rate", "40")
    h0, h1, t0, t1 = growth(s, s.pid)
    check_walk(h1)
    assert t1["steps"] - t0["steps"] > 100
    got = h1["in_use_bytes"] - h0["in_use_bytes"]
    # heavy churn (256 KiB buffers, 40/s) and no growth: within 512 KiB over the window
    assert abs(got) < 512 * 1024, (got, h0["in_use_bytes"], h1["in_use_bytes"])


def test_heap_walk_exit_midway(root, scenario):
    """A target that exits while walked gives an error or a partial walk, never a crash."""
    interp = _interps()[0]
    for _ in range(5):
        s = scenario(interp, "native_ctypes_leak.py", "--rate", "2000", "--size", "200")
        s.truth()
        p = subprocess.Popen([PYLEAK, "heap", "-p", str(s.pid), "--json",
                              "--count", "50", "--interval", "0.01"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        time.sleep(0.2)
        s.stop()
        out, err = p.communicate(timeout=60)
        assert p.returncode in (0, 1), (p.returncode, err)
        assert "AddressSanitizer" not in err and "runtime error" not in err
        for line in out.splitlines():
            json.loads(line)


def test_heap_other_allocator(root, scenario, tmp_path):
    """A preloaded allocator other than glibc is named, and no heap figures are given."""
    lib = None
    for cand in ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4",
                 "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"):
        if os.path.exists(cand):
            lib = cand
            break
    if lib is None:
        # a stand-in: a library whose file name marks it as jemalloc; mapped is what decides
        src = tmp_path / "je.c"
        src.write_text("int je_marker(void) { return 1; }\n")
        lib = str(tmp_path / "libjemalloc.so.2")
        subprocess.check_call(["cc", "-shared", "-fPIC", str(src), "-o", lib])
    interp = _interps()[0]
    s = scenario(interp, "native_ctypes_leak.py", "--rate", "10", env={"LD_PRELOAD": lib})
    s.truth()
    h = heap(s.pid)
    assert h["allocator"] in ("jemalloc", "tcmalloc", "mimalloc"), h
    assert h["walked"] is False and "in_use_bytes" not in h, h


# ---------------------------------------------------------------------------------------------
# sampled native allocations (pyleak heap --native): uprobes on the target's libc under the
# default 2% budget, verified from the chunk headers

NATIVE_S = 75  # the leaking function and its Python caller must be named within 90 s
WORK_US = "2000"  # the scenarios spend ~35% of a core: the budget is a share of that


def native_run(s, pid, *extra):
    t0 = s.refresh_truth()
    p = run_pyleak("heap", "-p", pid, "--native", NATIVE_S, "--interval", "5", "--json", *extra,
                   timeout=NATIVE_S + 60)
    t1 = s.refresh_truth()
    d = json.loads(p.stdout.strip().splitlines()[-1])
    rate = (t1["leaked_bytes"] - t0["leaked_bytes"]) / (t1["time"] - t0["time"]) * 60 if "leaked_bytes" in t1 else 0
    return d["native"], rate


def no_native_probes_left():
    from conftest import bpf_objects
    objs = bpf_objects()
    names = [o.get("name", "") for o in objs["prog"]]
    assert not any(n.startswith("native_") for n in names), names


@pytest.mark.parametrize("interp", _interps(), ids=repr)
def test_native_ext_leak_named(root, scenario, interp, tmp_path):
    ext = build_ext(interp, tmp_path)
    s = scenario(interp, "native_ext_leak.py", "--ext-dir", ext, "--rate", "200", "--size", "4000",
                 "--work-us", WORK_US)
    s.truth()
    n, truth_rate = native_run(s, s.pid)
    no_native_probes_left()
    assert n["verified"] == "chunk_headers", n
    assert n["slices"] > 5 and n["overhead_pct"] <= 2.5, n
    sus = [x for x in n["suspects"] if "leak_buffer" in x["name"]]
    assert sus, (n["suspects"], n["stacks"][:3])
    assert "_leaky" in sus[0]["name"] and "handle" in sus[0]["evidence"], sus
    assert not [x for x in n["suspects"] if "scratch" in x["name"]], n["suspects"]
    st = [x for x in n["stacks"] if "leak_buffer" in x["caller"]][0]
    assert any("native_ext_leak.py" in f and "handle" in f for f in st["python"]), st
    assert abs(st["growth_bytes_per_min"] - truth_rate) <= 0.2 * truth_rate, (st["growth_bytes_per_min"], truth_rate)
    # the balanced path: sampled 10x more often, nothing outstanding to speak of
    bal = [x for x in n["stacks"] if "scratch" in x["caller"]]
    assert bal and bal[0]["sampled_blocks"] > 5 * st["sampled_blocks"], bal
    assert bal[0]["out_ratio"] < 0.1, bal


def test_native_ctypes_leak_named(root, scenario):
    interp = _interps()[0]
    s = scenario(interp, "native_ctypes_leak.py", "--rate", "200", "--size", "4000", "--balanced", "10",
                 "--work-us", WORK_US)
    s.truth()
    n, truth_rate = native_run(s, s.pid)
    sus = [x for x in n["suspects"] if "native_ctypes_leak.py" in x["evidence"]]
    assert sus, (n["suspects"], n["stacks"][:3])
    # the Python line that calls malloc and drops the pointer, not the balanced loop's
    st = [x for x in n["stacks"] if x["suspect"]][0]
    assert any("step" in f for f in st["python"]), st
    assert abs(st["growth_bytes_per_min"] - truth_rate) <= 0.2 * truth_rate, (st["growth_bytes_per_min"], truth_rate)


def test_native_control_no_suspect(root, scenario):
    interp = _interps()[0]
    s = scenario(interp, "control_native_churn.py", "--rate", "40")
    s.truth()
    n, _ = native_run(s, s.pid)
    no_native_probes_left()
    assert n["recorded"] > 100, n
    assert n["suspects"] == [], n["suspects"]


def test_top_native_suspect(root, scenario, tmp_path):
    """top --native: the same verdict as a `native` suspect of the process, and no probes after."""
    interp = _interps()[0]
    ext = build_ext(interp, tmp_path)
    s = scenario(interp, "native_ext_leak.py", "--ext-dir", ext, "--rate", "200", "--size", "4000",
                 "--work-us", WORK_US)
    s.truth()
    p = run_pyleak("top", "-b", "--json", "-d", "5", "-n", "17", "-p", s.pid, "--native", timeout=150)
    snaps = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    from conftest import proc_entry
    e = proc_entry(snaps[-1], s.pid)
    assert e and e["native"] and e["native"]["verified"] == "chunk_headers", e and e.get("native")
    sus = [x for x in e["suspects"] if x["kind"] == "native"]
    assert sus and "leak_buffer" in sus[0]["name"] and "handle" in sus[0]["evidence"], e["suspects"]
    assert not [x for x in e["suspects"] if x["kind"] == "native" and "scratch" in x["name"]]
    no_native_probes_left()
    # off by default
    p = run_pyleak("top", "-b", "--json", "-d", "1", "-n", "2", "-p", s.pid, timeout=60)
    e = proc_entry(json.loads(p.stdout.splitlines()[-1]), s.pid)
    assert e["native"] is None
