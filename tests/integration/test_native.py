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


def heap_whole(pid, tries=3):
    """A walk that got to the end: a target allocating ~2000 blocks/s can change a chunk header
    under the walk, which then stops there (partial, with the reason). Rare (none in 3 runs of
    the leak scenarios); one more walk then, and check_walk still refuses a partial one."""
    for _ in range(tries):
        h = heap(pid)
        if not h["partial"]:
            break
    return h


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


def growth(s, pid, walks=1):
    """In-use bytes of the heap over WINDOW_S next to the scenario's own count of leaked chunks.
    walks > 1: at each end the walk with the fewest bytes in use of that many. A walk does not stop
    the target, so on a churning one it lands anywhere in a step: the least of a few is the heap
    between steps, which a balanced target keeps flat (one walk mid-step was 540 KiB off in CI)."""
    def walk():
        # a partial walk stopped early (fewer bytes): any whole one first
        return min((heap_whole(pid) for _ in range(walks)), key=lambda h: (h["partial"], h["in_use_bytes"]))
    s.truth()
    time.sleep(2)  # past start-up: imports, first allocations
    h0 = walk()
    t0 = s.refresh_truth()
    time.sleep(WINDOW_S)
    h1 = walk()
    t1 = s.refresh_truth()
    return h0, h1, t0, t1


def check_walk(h):
    assert h["allocator"] == "glibc" and h["walked"], h
    assert not h["partial"], h["partial_reason"]
    # found without symbols: main_arena in libc's .data, the thread's tcache in the heap
    assert h["fastbins_checked"] and h["main_arena"] != "0x0", h
    assert h["tcaches"] >= 1 and h["safe_linking"] is True, h


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
# sampled native allocations (pyleak heap --native, top --native, record --native): uprobes on the
# target's libc under the default 2% budget, verified from the chunk headers.
#
# Time: each observer stops as soon as its verdict is there (polled from its JSON lines, bounded by
# the 90 s), and the runs that need no ordering share a phase: two targets observed at
# once, and the heap-walk growth checks above read the same targets while they are sampled.

VERDICT_S = 90  # the leaking function and its Python caller must be named within 90 s
WORK_US = "2000"  # the scenarios spend ~35% of a core: the budget is a share of that


class Watch(object):
    """A pyleak observer printing one JSON object per line, read as they come; stopped with SIGINT
    once done(obj) holds (or at the bound)."""

    def __init__(self, args, done=None):
        import threading
        self.args = [str(a) for a in args]
        self.done = done
        self.lines = []
        self.t_start = time.time()
        self.t_done = None
        self.done_line = None
        self.p = subprocess.Popen([PYLEAK] + self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True)
        self.err = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.ereader = threading.Thread(target=lambda: self.err.extend(self.p.stderr), daemon=True)
        self.ereader.start()

    def _read(self):
        for line in self.p.stdout:
            if not line.startswith("{"):
                continue
            d = json.loads(line)
            d["_received"] = time.time()
            self.lines.append(d)
            if self.t_done is None and self.done is not None and self.done(d):
                self.t_done = time.time()
                self.done_line = d

    def kill(self):
        """After a failure: nothing of ours keeps running (stop() is the normal end)."""
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def stop(self):
        from conftest import stop_on_sigint
        rc = stop_on_sigint(self.p, "pyleak " + " ".join(self.args))
        self.reader.join(30)
        self.ereader.join(30)
        assert rc == 0, (rc, "".join(self.err)[-3000:])
        assert self.lines, "".join(self.err)[-3000:]
        # the line that gave the verdict (what a user sees at that moment), else the last one
        return self.done_line or self.lines[-1]


def wait_all(watches, bound=VERDICT_S, at_least=0.0):
    """Poll until every watch with a done() is done (at most `bound` s); then at least `at_least` s."""
    t0 = time.time()
    while time.time() - t0 < bound:
        if all(w.t_done for w in watches if w.done) and time.time() - t0 >= at_least:
            break
        time.sleep(0.5)


def heap_native(pid, done, extra=()):
    return Watch(["heap", "-p", pid, "--native", VERDICT_S + 30, "--interval", "5", "--json"] + list(extra), done)


def named(pattern):
    """done(): a native suspect whose name holds `pattern` (heap --native's JSON line)."""
    return lambda d: any(pattern in x["name"] for x in d["native"]["suspects"])


def growth_bg(s, pid, out, walks=1):
    """growth() in a thread: the heap-walk checks on a target that is being sampled meanwhile."""
    import threading

    def run():
        try:
            out["walk"] = growth(s, pid, walks)
        except Exception as e:  # re-raised by the test
            out["walk_error"] = e
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


class TruthLog(object):
    """The scenario's leaked bytes every 2 s while it is observed: the truth over the very window a
    figure covers (a loaded machine makes the scenario's pace uneven: its average over another
    window is not the truth of this one)."""

    def __init__(self, s, t0):
        import threading
        # t0: a truth from before the observer started, so the log covers all it sees
        self.s, self.pts, self.stopping = s, [(t0["time"], t0["leaked_bytes"])], threading.Event()
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        while not self.stopping.is_set():
            self.stopping.wait(2.0)
            try:
                t = self.s.refresh_truth()
                self.pts.append((t["time"], t["leaked_bytes"]))
            except (AssertionError, OSError):
                return

    def stop(self):
        self.stopping.set()
        self.th.join(60)

    def at(self, when):
        """Leaked bytes at wall time `when`, interpolated between the two nearest points."""
        pts = sorted(self.pts)
        assert pts and pts[0][0] <= when <= pts[-1][0] + 1e-3, (when, pts[:1], pts[-1:])
        for (ta, a), (tb, b) in zip(pts, pts[1:]):
            if ta <= when <= tb:
                return a + (b - a) * ((when - ta) / (tb - ta) if tb > ta else 0)
        return pts[-1][1]

    def rate_per_min(self, t_from, t_to):
        return (self.at(t_to) - self.at(t_from)) / (t_to - t_from) * 60


def native_truth_rate(log, d):
    """The truth next to a stack's growth_bytes_per_min in heap --native's line d: the blocks it
    counts are those older than NATIVELEAK_MIN_AGE_S (5 s) sampled since sampling started."""
    end = d["_received"]
    return log.rate_per_min(end - d["native"]["elapsed_s"], end - 5.0)


def bpf_prog_holders():
    """prog id -> pids holding an fd of it (a prog fd, or a link's: fdinfo names its prog_id);
    bpftool's own "pids" needs a bpftool built with BPF iterators, which this one may not be."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir("/proc/%s/fdinfo" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                with open("/proc/%s/fdinfo/%s" % (pid, fd)) as f:
                    for line in f:
                        if line.startswith("prog_id:"):
                            out.setdefault(int(line.split()[1]), set()).add(int(pid))
            except (OSError, ValueError):
                pass
    return out


def no_native_probes_left():
    """No native_ program of this pyleak is left: none held by a process running this binary,
    none held by no process at all (pinned or leaked). Other worktrees' pyleak binaries may be
    sampling their own targets meanwhile (the machine is shared): theirs are not ours."""
    from conftest import bpf_objects
    me = os.path.realpath(PYLEAK)
    holders = bpf_prog_holders()

    def ours(o):
        pids = holders.get(o.get("id"), set())
        if not pids:
            return True
        for pid in pids:
            try:
                if os.path.realpath("/proc/%d/exe" % pid) == me:
                    return True
            except OSError:
                pass
        return False
    objs = bpf_objects()
    left = [o.get("name") for o in objs["prog"] if o.get("name", "").startswith("native_") and ours(o)]
    assert not left, left


def check_named_ext(n, rate, elapsed):
    """heap --native's verdict on native_ext_leak: leak_buffer and its Python caller named, growth
    within 20% of the truth, the balanced path (10x the calls) not a suspect."""
    assert elapsed <= VERDICT_S, elapsed
    assert n["verified"] == "chunk_headers", n
    assert n["slices"] > 5 and n["overhead_pct"] <= 2.5, n
    sus = [x for x in n["suspects"] if "leak_buffer" in x["name"]]
    assert sus, (n["suspects"], n["stacks"][:3])
    assert "_leaky" in sus[0]["name"] and "handle" in sus[0]["evidence"], sus
    assert not [x for x in n["suspects"] if "scratch" in x["name"]], n["suspects"]
    st = [x for x in n["stacks"] if "leak_buffer" in x["caller"]][0]
    assert any("native_ext_leak.py" in f and "handle" in f for f in st["python"]), st
    assert abs(st["growth_bytes_per_min"] - rate) <= 0.2 * rate, (st["growth_bytes_per_min"], rate)
    bal = [x for x in n["stacks"] if "scratch" in x["caller"]]
    assert bal and bal[0]["sampled_blocks"] > 5 * st["sampled_blocks"], bal
    assert bal[0]["out_ratio"] < 0.1, bal


def mmap_named(d):
    return any("native_mmap_leak.py" in x["evidence"] for x in d["native"]["suspects"])


def ext_args(ext):
    return ("--ext-dir", ext, "--rate", "200", "--size", "4000", "--work-us", WORK_US)


def start(interp, script, args, tmpdir):
    """A scenario outside the function-scoped fixture (phases are module-scoped); stopped by the phase."""
    from conftest import Scenario
    os.makedirs(tmpdir, exist_ok=True)
    return Scenario(interp, script, args, tmpdir=tmpdir)


# Phase A: the C extension on the second interpreter and the ctypes leak on the first, at once.
@pytest.fixture(scope="module")
def phase_a(tmp_path_factory):
    need(os.geteuid() == 0, "integration tests need root (BPF, uprobes, process_vm_readv)")
    first = _interps()[0]
    second = _interps()[1] if len(_interps()) > 1 else None
    tmp = tmp_path_factory.mktemp("native-a")
    res, started = {"ext": {}, "ctypes": {}}, []
    try:
        c = start(first, "native_ctypes_leak.py", ("--rate", "200", "--size", "4000", "--balanced", "10",
                                                    "--work-us", WORK_US), str(tmp / "c"))
        started.append(c)
        jobs = [("ctypes", c, lambda d: any("native_ctypes_leak.py" in x["evidence"] for x in d["native"]["suspects"]))]
        if second is not None:
            ext = build_ext(second, tmp)
            e = start(second, "native_ext_leak.py", ext_args(ext), str(tmp / "e"))
            started.append(e)
            jobs.append(("ext", e, named("leak_buffer")))
            res["ext"]["interp"] = second
            # the heap-walk check of the ctypes leak on the second interpreter too (no sampling)
            w = start(second, "native_ctypes_leak.py", ("--rate", "50", "--size", "4000"), str(tmp / "cw"))
            started.append(w)
            jobs.append(("ctypes_walk", w, WALK_ONLY))
        # the mmap leak with the probes attached throughout (--budget 0): the figure against the
        # truth (under the budget see test_native_mmap_leak_named)
        mx = start(first, "native_mmap_leak.py", ("--rate", "20", "--size", str(64 * 1024), "--balanced", "4"),
                   str(tmp / "mx"))
        started.append(mx)
        jobs.append(("mmap_exact", mx, mmap_named, ("--budget", "0")))
        run_phase(jobs, res)
        yield res
    finally:
        for s in started:
            s.stop()


WALK_ONLY = "walk only"  # a run_phase job of heap-walk checks alone: no native sampling


def run_phase(jobs, res, at_least=0.0):
    """For each (key, scenario, done): truth, heap --native until done, the heap-walk growth
    meanwhile; results into res[key]: native, rate, elapsed, walk."""
    jobs = [j if len(j) == 4 else j + ((),) for j in jobs]
    for key, s, _, _ in jobs:
        res.setdefault(key, {})
        s.truth()
    watches, threads = [], []
    for key, s, done, extra in jobs:
        r = res[key]
        r["t0"] = s.refresh_truth()
        # the balanced controls: flat between steps (see growth)
        threads.append(growth_bg(s, s.pid, r, walks=5 if key.startswith("control") else 1))
        if done is WALK_ONLY:
            continue
        if "leaked_bytes" in r["t0"]:
            r["log"] = TruthLog(s, r["t0"])
        w = heap_native(s.pid, done, extra)
        r["watch"] = w
        watches.append(w)
    try:
        wait_all(watches, at_least=at_least)
        for th in threads:
            th.join(60)
        for key, s, done, _ in jobs:
            r = res[key]
            w = r.get("watch")
            if w is None:
                continue
            r["elapsed"] = (w.t_done or time.time()) - w.t_start
            line = w.stop()
            r["native"] = line["native"]
            if "log" in r:
                time.sleep(2.5)  # one more truth point past the line's time
                r["rate"] = native_truth_rate(r["log"], line)
            r["t1"] = s.refresh_truth()
    finally:
        for w in watches:
            w.kill()
        for key in res:
            if "log" in res[key]:
                res[key]["log"].stop()
    no_native_probes_left()


def walk_of(r):
    if "walk_error" in r:
        raise r["walk_error"]
    return r["walk"]


@pytest.mark.parametrize("which", ["first", "second"])
def test_heap_walk_ctypes_leak(phase_a, which):
    r = phase_a["ctypes" if which == "first" else "ctypes_walk"]
    need("walk" in r or "walk_error" in r, "one interpreter only")
    h0, h1, t0, t1 = walk_of(r)
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


def test_native_ctypes_leak_named(phase_a):
    r = phase_a["ctypes"]
    n = r["native"]
    assert r["elapsed"] <= VERDICT_S, r["elapsed"]
    sus = [x for x in n["suspects"] if "native_ctypes_leak.py" in x["evidence"]]
    assert sus, (n["suspects"], n["stacks"][:3])
    # the Python line that calls malloc and drops the pointer, not the balanced loop's
    st = [x for x in n["stacks"] if x["suspect"]][0]
    assert any("step" in f for f in st["python"]), st
    assert abs(st["growth_bytes_per_min"] - r["rate"]) <= 0.2 * r["rate"], (st["growth_bytes_per_min"], r["rate"])


def test_native_ext_leak_named_second_interp(phase_a):
    r = phase_a["ext"]
    need("interp" in r, "one interpreter only: the first one's run is in phase B")
    h0, h1, t0, t1 = walk_of(r)
    check_walk(h1)
    truth = t1["leaked_chunk_bytes"] - t0["leaked_chunk_bytes"]
    assert abs((h1["in_use_bytes"] - h0["in_use_bytes"]) - truth) <= 0.2 * truth, (h0["in_use_bytes"], h1["in_use_bytes"], truth)
    check_named_ext(r["native"], r["rate"], r["elapsed"])


# Phase B: the C extension on the first interpreter, with the balanced control observed as long.
@pytest.fixture(scope="module")
def phase_b(tmp_path_factory):
    need(os.geteuid() == 0, "integration tests need root (BPF, uprobes, process_vm_readv)")
    first = _interps()[0]
    tmp = tmp_path_factory.mktemp("native-b")
    res, started = {"ext": {}, "control": {}, "mmap": {}}, []
    try:
        ext = build_ext(first, tmp)
        e = start(first, "native_ext_leak.py", ext_args(ext), str(tmp / "e"))
        started.append(e)
        c = start(first, "control_native_churn.py", ("--rate", "40"), str(tmp / "c"))
        started.append(c)
        m = start(first, "native_mmap_leak.py", ("--rate", "20", "--size", str(64 * 1024), "--balanced", "4",
                                                 "--work-us", WORK_US), str(tmp / "m"))
        started.append(m)
        jobs = [("ext", e, named("leak_buffer")), ("control", c, None), ("mmap", m, mmap_named)]
        second = _interps()[1] if len(_interps()) > 1 else None
        if second is not None:  # the heap-walk check of the control on the second one too
            cw = start(second, "control_native_churn.py", ("--rate", "40"), str(tmp / "cw"))
            started.append(cw)
            jobs.append(("control_walk", cw, WALK_ONLY))
        # the control has no done(): it is watched until the leak's verdict is in, and at least
        # the 30 s a leak needs to be named (NATIVELEAK_MIN_OLDEST_S 20 s + walks)
        run_phase(jobs, res, at_least=30.0)
        yield res
    finally:
        for s in started:
            s.stop()


def test_native_ext_leak_named(phase_b):
    r = phase_b["ext"]
    h0, h1, t0, t1 = walk_of(r)
    check_walk(h1)
    truth = t1["leaked_chunk_bytes"] - t0["leaked_chunk_bytes"]
    got = h1["in_use_bytes"] - h0["in_use_bytes"]
    assert t1["scratch_calls"] >= 10 * t1["leaked_blocks"] - 10
    assert abs(got - truth) <= 0.2 * truth, (got, truth)
    check_named_ext(r["native"], r["rate"], r["elapsed"])


@pytest.mark.parametrize("which", ["first", "second"])
def test_heap_walk_balanced_control(phase_b, which):
    r = phase_b.get("control" if which == "first" else "control_walk", {})
    need("walk" in r or "walk_error" in r, "one interpreter only")
    h0, h1, t0, t1 = walk_of(r)
    check_walk(h1)
    assert t1["steps"] - t0["steps"] > 100
    got = h1["in_use_bytes"] - h0["in_use_bytes"]
    # heavy churn (256 KiB buffers, 40/s) and no growth: within 512 KiB over the window
    assert abs(got) < 512 * 1024, (got, h0["in_use_bytes"], h1["in_use_bytes"])


def test_native_control_no_suspect(phase_b):
    r = phase_b["control"]
    n = r["native"]
    # watched at least as long as the leak took to be named next to it
    assert r["elapsed"] >= min(phase_b["ext"]["elapsed"], VERDICT_S) - 1, (r["elapsed"], phase_b["ext"]["elapsed"])
    assert n["recorded"] > 100, n
    assert n["suspects"] == [], n["suspects"]


# Phase C: top --native and record --native, each on its own C-extension target, at once.
@pytest.fixture(scope="module")
def phase_c(tmp_path_factory):
    from conftest import proc_entry
    need(os.geteuid() == 0, "integration tests need root (BPF, uprobes, process_vm_readv)")
    first = _interps()[0]
    tmp = tmp_path_factory.mktemp("native-c")
    res, started, top, rec = {}, [], None, None
    try:
        ext = build_ext(first, tmp)
        a = start(first, "native_ext_leak.py", ext_args(ext), str(tmp / "top"))
        b = start(first, "native_ext_leak.py", ext_args(ext), str(tmp / "rec"))
        started += [a, b]
        a.truth()
        b.truth()

        def top_done(d):
            e = proc_entry(d, a.pid)
            return bool(e and [x for x in e["suspects"] if x["kind"] == "native" and "leak_buffer" in x["name"]])
        top = Watch(["top", "-b", "--json", "-d", "5", "-n", "40", "-p", a.pid, "--native"], top_done)
        db = str(tmp / "native.db")
        res["rec_t0"] = b.refresh_truth()
        res["rec_log"] = log = TruthLog(b, res["rec_t0"])
        rec = subprocess.Popen([PYLEAK, "record", "-p", str(b.pid), "-o", db, "--native", "-i", "1",
                                "--duration", str(VERDICT_S + 30)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        rec_t = time.time()
        rec_done = None
        # the recording is read while it is written (WAL, one transaction per interval): stop it
        # once a committed interval holds the native verdict
        while time.time() - rec_t < VERDICT_S and rec.poll() is None:
            time.sleep(3)
            p = run_pyleak("report", db, "--format", "json", check=False)
            if p.returncode == 0 and '"kind":"native"' in p.stdout.replace(" ", "") and "leak_buffer" in p.stdout:
                rec_done = time.time()
                break
        wait_all([top], bound=max(1.0, VERDICT_S - (time.time() - top.t_start)))
        from conftest import stop_on_sigint
        assert stop_on_sigint(rec, "pyleak record") == 0, rec.stderr.read()[-2000:]
        time.sleep(2.5)
        log.stop()
        res["rec_t1"] = b.refresh_truth()
        res["rec_elapsed"] = (rec_done or time.time()) - rec_t
        res["top_elapsed"] = (top.t_done or time.time()) - top.t_start
        res["top_last"] = top.stop()
        res["top_pid"] = a.pid
        res["db"] = db
        no_native_probes_left()
        # off by default
        p = run_pyleak("top", "-b", "--json", "-d", "1", "-n", "2", "-p", a.pid, timeout=60)
        res["top_off"] = proc_entry(json.loads(p.stdout.splitlines()[-1]), a.pid)
        yield res
    finally:
        if "rec_log" in res:
            res["rec_log"].stop()
        if top is not None:
            top.kill()
        if rec is not None and rec.poll() is None:
            rec.kill()
            rec.wait()
        for s in started:
            s.stop()


def test_top_native_suspect(phase_c):
    """top --native: the same verdict as a `native` suspect of the process, and no probes after."""
    from conftest import proc_entry
    assert phase_c["top_elapsed"] <= VERDICT_S, phase_c["top_elapsed"]
    e = proc_entry(phase_c["top_last"], phase_c["top_pid"])
    assert e and e["native"] and e["native"]["verified"] == "chunk_headers", e and e.get("native")
    sus = [x for x in e["suspects"] if x["kind"] == "native"]
    assert sus and "leak_buffer" in sus[0]["name"] and "handle" in sus[0]["evidence"], e["suspects"]
    assert not [x for x in e["suspects"] if x["kind"] == "native" and "scratch" in x["name"]]
    assert phase_c["top_off"]["native"] is None


def test_record_native_report(phase_c, tmp_path):
    """record --native -> report: the collapsed native stacks name leak_buffer under its Python
    caller with bytes within 20% of what the scenario leaked; text and json carry the section."""
    assert phase_c["rec_elapsed"] <= VERDICT_S, phase_c["rec_elapsed"]
    db = phase_c["db"]
    t0, t1 = phase_c["rec_t0"], phase_c["rec_t1"]
    d = json.loads(run_pyleak("report", db, "--format", "json").stdout)
    p = [x for x in d["processes"] if x["native"]][0]
    top = p["native"][0]
    assert "leak_buffer" in top["caller"] and "handle" in top["stack"], p["native"]
    assert not [x for x in p["native"] if "scratch" in x["caller"] and x["bytes"] > 0.1 * top["bytes"]], p["native"]
    assert [x for x in p["suspects"] if x["kind"] == "native" and "leak_buffer" in x["name"]], p["suspects"]
    # truth: what the scenario leaked from the process's first sample (sampling starts with it)
    # to that walk
    assert t0["time"] <= p["first_seen"] <= top["time"] <= t1["time"], (t0["time"], p["first_seen"], top["time"])
    truth = phase_c["rec_log"].at(top["time"]) - phase_c["rec_log"].at(p["first_seen"])
    lines = run_pyleak("report", db, "--format", "collapsed", "--sites", "native").stdout.splitlines()
    leak = [l for l in lines if "leak_buffer" in l.rsplit(" ", 1)[0].split(";")[-1]]
    assert len(leak) == 1, lines
    frames, weight = leak[0].rsplit(" ", 1)
    assert "native_ext_leak.py:33 handle" in frames, frames
    assert abs(int(weight) - truth) <= 0.2 * truth, (weight, truth)
    text = run_pyleak("report", db).stdout
    assert "native stacks" in text and "leak_buffer" in text, text[-3000:]
    phase_c["weight"] = int(weight)


def test_record_native_html_flame(phase_c, tmp_path):
    """The HTML report draws the flame graph of outstanding native bytes; clicking leak_buffer
    zooms to it (headless Chromium)."""
    import re
    from test_survivors import _chromium_dom
    html = str(tmp_path / "native.html")
    run_pyleak("report", phase_c["db"], "--format", "html", "-o", html)
    page = open(html).read()
    assert "native outstanding bytes" in page
    dom = _chromium_dom(html, "#fg-flame=native&fg-click=leak_buffer", str(tmp_path))
    need(dom is not None, "chromium is not installed")
    assert 'data-rendered="1"' in dom
    svg = [m for m in re.findall(r'<svg[^>]*class="flame-svg"[^>]*>', dom) if 'data-title="native' in m]
    assert len(svg) == 1, svg
    zoom = re.search(r'data-zoom="([^"]*)"', svg[0]).group(1)
    assert "leak_buffer" in zoom, zoom
    # the zoomed frame spans the whole width and carries the stack's bytes
    m = re.search(r'<rect x="0.0" y="\d+" width="960.0"[^>]*data-name="[^"]*leak_buffer[^"]*" data-value="(\d+)"', dom)
    assert m, dom[:3000]


def check_mmap(r):
    """The mmap leak named with its Python line, verified from /proc/PID/maps; the balanced line
    (mapped and unmapped 4x as often) not a suspect. Returns the leaking stack."""
    n = r["native"]
    assert r["elapsed"] <= VERDICT_S, r["elapsed"]
    sus = [x for x in n["suspects"] if "native_mmap_leak.py" in x["evidence"]]
    assert sus, (n["suspects"], n["stacks"][:3])
    assert "/proc/PID/maps checked" in sus[0]["evidence"], sus
    st = [x for x in n["stacks"] if x["suspect"]]
    assert len(st) == 1, st
    st = st[0]
    assert st["verified_by"] == "maps", st
    # the line that drops the mapping (step's first call of mapping()), not the balanced one
    src = open(os.path.join(SCENARIOS, "native_mmap_leak.py")).read().splitlines()
    leak_line = [i + 1 for i, l in enumerate(src) if l.strip().startswith("mapping()  # leaked")][0]
    assert any(f.endswith(":%d main.<locals>.step" % leak_line) for f in st["python"]), st
    bal = [x for x in n["stacks"] if x is not st and x["verified_by"] == "maps" and not x["suspect"]]
    assert bal and bal[0]["sampled_blocks"] > 2 * st["sampled_blocks"], bal
    # malloc's own mmapped chunks are the malloc calls' samples, pymalloc's arenas the census's
    assert not [x for x in n["stacks"] if x["verified_by"] == "maps" and
                ("libc.so" in x["caller"] or x["caller"].startswith("python"))], n["stacks"]
    return st


def test_native_mmap_leak_exact(phase_a):
    """Anonymous mmap()s through ctypes, never unmapped, probes attached throughout: outstanding
    growth from /proc/PID/maps within 20% of the truth."""
    r = phase_a["mmap_exact"]
    st = check_mmap(r)
    assert abs(st["growth_bytes_per_min"] - r["rate"]) <= 0.2 * r["rate"], (st["growth_bytes_per_min"], r["rate"])


def test_native_mmap_leak_named(phase_b):
    """The same under the default 2% budget: named, verified, and growth within 20% of the truth.
    On a target that maps and unmaps all the time the breakpoints stay live well beyond a slice's
    counted time (they go in and out under its mmap_lock); samples from then are not kept, or the
    estimate runs high (1.5-1.9x before they were dropped)."""
    r = phase_b["mmap"]
    st = check_mmap(r)
    assert r["native"]["outside_slices"] > 0, r["native"]  # the case this test is about
    assert abs(st["growth_bytes_per_min"] - r["rate"]) <= 0.2 * r["rate"], (st["growth_bytes_per_min"], r["rate"])
