# SPDX-License-Identifier: BSD-2-Clause
"""Bad input, faults and privileges: every way pyleak can be pointed at the wrong thing or lose
its footing ends with a clear message and the documented exit status (0 ok, 1 runtime failure,
2 usage), never a crash, a sanitizer report or harm to the target.

Targets are small inline programs (they print "ready" and their ground truth on stdout), so each
case controls exactly when the target forks, execs, exits or turns into a zombie.
"""

import hashlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import PYLEAK, ROOT, extra_paths, need, proc_entry, run_pyleak

DEBIAN = "/usr/bin/python3.11"
CRASH_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer", "Segmentation fault", "core dumped")
NO_SUCH_PID = 4194303  # above pid_max's default and its maximum: never a live process


def _need_debian():
    need(os.path.exists(DEBIAN), "Debian's %s is not installed" % DEBIAN)


def pyleak(*args, **kw):
    kw.setdefault("check", False)
    kw.setdefault("timeout", 60)
    return run_pyleak(*args, **kw)


def assert_no_crash(p, what):
    assert p.returncode >= 0, "%s: pyleak killed by signal %d\n%s" % (what, -p.returncode, p.stderr[-2000:])
    for m in CRASH_MARKERS:
        assert m not in p.stderr, "%s: %s in stderr:\n%s" % (what, m, p.stderr[-3000:])


def assert_refused(p, what, *needles):
    """Exit 1 with a lowercase `pyleak: ...` message that contains every needle."""
    assert_no_crash(p, what)
    assert p.returncode == 1, "%s: exit %d, want 1\nstdout: %s\nstderr: %s" % (
        what, p.returncode, p.stdout[-1500:], p.stderr[-1500:])
    assert p.stderr.startswith("pyleak: "), "%s: message does not start with 'pyleak: ': %r" % (what, p.stderr)
    for n in needles:
        assert n in p.stderr, "%s: %r not in the message %r" % (what, n, p.stderr)


class Target(object):
    """An inline Python program; `ready` waits for its first stdout line (a JSON document)."""

    def __init__(self, code, interp=DEBIAN, args=(), env=None):
        env = dict(os.environ, PYTHONHASHSEED="0", **(env or {}))
        env.pop("PYTHONPATH", None)
        self.proc = subprocess.Popen([interp, "-c", code] + list(args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, universal_newlines=True, env=env)
        self.pid = self.proc.pid

    def ready(self, timeout=30):
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("target exited early: %s" % self.proc.stderr.read()[-2000:])
        return json.loads(line)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def target(root):
    started = []

    def start(code, **kw):
        t = Target(code, **kw)
        started.append(t)
        return t

    yield start
    for t in started:
        t.stop()


SLEEPER = """
import gc, json, os, sys, time
for i in range(3):
    gc.collect()
print(json.dumps({"pid": os.getpid(), "stats": gc.get_stats()}), flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 120)
"""


def record_args(tmp_path, *extra):
    return ("record",) + extra + ("-o", str(tmp_path / ("t%d.db" % random.randrange(1 << 30))), "--duration", "3")


# --------------------------------------------------------------------------- bad pids


def test_pid_that_does_not_exist(root, tmp_path):
    for args in (("list", "-p", NO_SUCH_PID), ("top", "-b", "-n", "1", "-p", NO_SUCH_PID),
                 ("census", "-p", NO_SUCH_PID), record_args(tmp_path, "-p", str(NO_SUCH_PID))):
        p = pyleak(*args)
        assert_refused(p, " ".join(map(str, args)), "pid %d" % NO_SUCH_PID, "no such process")


def test_non_python_process(root, tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        for args in (("list", "-p", sleeper.pid), ("top", "-b", "-n", "1", "-p", sleeper.pid),
                     ("census", "-p", sleeper.pid), record_args(tmp_path, "-p", str(sleeper.pid))):
            p = pyleak(*args)
            assert_refused(p, " ".join(map(str, args)), "pid %d" % sleeper.pid, "not a CPython process")
        assert sleeper.poll() is None, "pyleak harmed the non-Python process"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_kernel_thread(root, tmp_path):
    """pid 2 (kthreadd) has no memory map: refused, and the message says why."""
    with open("/proc/2/status") as f:
        need("kthreadd" in f.read(), "pid 2 is not kthreadd here")
    for args in (("list", "-p", 2), ("top", "-b", "-n", "1", "-p", 2), ("census", "-p", 2),
                 record_args(tmp_path, "-p", "2")):
        p = pyleak(*args)
        assert_refused(p, " ".join(map(str, args)), "pid 2", "kernel thread")


def test_zombie(target, tmp_path):
    """A child that exited and was not reaped: a zombie, refused as such (not "no such process")."""
    _need_debian()
    t = target("import os, json, time\n"
               "c = os.fork()\n"
               "if c == 0:\n    os._exit(0)\n"
               "print(json.dumps({'child': c}), flush=True)\n"
               "time.sleep(120)\n")
    child = t.ready()["child"]
    deadline = time.time() + 10
    while time.time() < deadline:
        with open("/proc/%d/stat" % child) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.05)
    for args in (("list", "-p", child), ("top", "-b", "-n", "1", "-p", child), ("census", "-p", child),
                 record_args(tmp_path, "-p", str(child))):
        p = pyleak(*args)
        assert_refused(p, " ".join(map(str, args)), "pid %d" % child, "zombie")
    # ...while the living parent is a Python process like any other
    assert pyleak("list", "-p", t.pid).returncode == 0


# --------------------------------------------------------------------------- unknown layout


def _elf_vaddr_to_offset(path, vaddr):
    with open(path, "rb") as f:
        data = f.read(1 << 16)
    assert data[:4] == b"\x7fELF" and data[4] == 2, "not an ELF64 file"
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1 and p_vaddr <= vaddr < p_vaddr + p_filesz:
            return vaddr - p_vaddr + p_offset
    raise AssertionError("0x%x is in no PT_LOAD segment of %s" % (vaddr, path))


def patched_python(tmpdir, hexversion=0x036300f0):
    """Debian's python3.11 with Py_Version patched to 3.99.0: a CPython whose layout pyleak lacks."""
    out = subprocess.run(["nm", "-D", DEBIAN], stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    m = re.search(r"^([0-9a-f]+) R Py_Version$", out, re.M)
    assert m, "Py_Version not in .dynsym of " + DEBIAN
    off = _elf_vaddr_to_offset(DEBIAN, int(m.group(1), 16))
    dst = os.path.join(str(tmpdir), "python3.11")
    shutil.copy(DEBIAN, dst)
    with open(dst, "r+b") as f:
        f.seek(off)
        assert struct.unpack("<Q", f.read(8))[0] >> 16 == 0x030b, "Py_Version is not 3.11 at 0x%x" % off
        f.seek(off)
        f.write(struct.pack("<Q", hexversion))
    os.chmod(dst, 0o755)
    return dst


def test_unknown_layout_refused(target, tmp_path):
    """A minor newer than pyleak's tables *without* _Py_DebugOffsets (a pre-3.13 binary patched
    to 3.99): nothing tells pyleak the layout, so it refuses instead of guessing."""
    _need_debian()
    need(shutil.which("nm"), "nm (binutils) is needed to find Py_Version")
    py = patched_python(tmp_path)
    t = target(SLEEPER, interp=py)
    t.ready()
    msg = "no layout for 3.99"
    assert "no _Py_DebugOffsets" in pyleak("list", "-p", t.pid).stdout
    # list -p shows it with the reason (listing it is list's job: exit 0)
    p = pyleak("list", "-p", t.pid)
    assert_no_crash(p, "list -p")
    assert p.returncode == 0 and "3.99.0" in p.stdout and msg in p.stdout, p.stdout + p.stderr
    p = pyleak("list", "--all")
    assert str(t.pid) in p.stdout and msg in p.stdout, p.stdout
    assert str(t.pid) not in pyleak("list").stdout, "an unsupported process is in the default list"
    e = [x for x in json.loads(pyleak("list", "--json").stdout)["processes"] if x["pid"] == t.pid]
    assert e and e[0]["supported"] is False and msg in e[0]["why"] and e[0]["python"] == "3.99.0", e
    # commands that would read it refuse it
    assert_refused(pyleak("top", "-b", "-n", "1", "-p", t.pid), "top -p", "pid %d" % t.pid, msg)
    assert_refused(pyleak("top", "-b", "--no-bpf", "-n", "1", "-p", t.pid), "top --no-bpf -p", msg)
    assert_refused(pyleak("census", "-p", t.pid), "census -p", msg)
    # and system-wide top leaves it out instead of guessing
    snap = json.loads(pyleak("top", "-b", "--json", "-n", "1").stdout.splitlines()[-1])
    assert proc_entry(snap, t.pid) is None
    assert t.proc.poll() is None


def _patch_version(path, hexversion):
    """Set _Py_DebugOffsets.version and Py_Version of a 3.13+ binary (nm -D finds both)."""
    out = subprocess.run(["nm", "-D", path], stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    syms = dict((m.group(2), int(m.group(1), 16)) for m in re.finditer(r"^([0-9a-f]+) \w (\w+)$", out, re.M))
    with open(path, "r+b") as f:
        off = _elf_vaddr_to_offset(path, syms["_PyRuntime"])
        f.seek(off)
        assert f.read(8) == b"xdebugpy", "no _Py_DebugOffsets cookie at _PyRuntime of " + path
        f.seek(off + 8)
        f.write(struct.pack("<Q", hexversion))
        off = _elf_vaddr_to_offset(path, syms["Py_Version"])
        f.seek(off)
        f.write(struct.pack("<Q", hexversion))


DAY_ONE = """
import json, os, sys, time
class Node(object):
    pass
def churn():
    for i in range(3000):
        a = Node(); b = Node(); a.b = b; b.a = a
print(json.dumps({"pid": os.getpid(), "version": list(sys.version_info[:3])}), flush=True)
while True:
    churn()
    time.sleep(0.01)
"""


def test_day_one_runs_degraded(target, tmp_path):
    """DESIGN.md "Versions on day one": a copy of Debian's 3.15.2 whose version fields say 3.99.2
    (a minor newer than every table, with a valid _Py_DebugOffsets) runs every feature the debug
    offsets cover and states per feature what is missing: no refusal."""
    need(shutil.which("nm"), "nm (binutils) is needed to find _PyRuntime")
    src = [p for p in extra_paths() if os.path.basename(p) == "python3.15"]
    need(src, "sid 3.15 not fetched (tools/interp/fetch.sh py315)")
    prefix = os.path.dirname(os.path.dirname(src[0]))  # PREFIX/usr
    py = os.path.join(str(tmp_path), "python3.15")
    shutil.copy(src[0], py)
    _patch_version(py, 0x036302f0)
    # the copy lives outside its prefix: point it at sid's libraries and stdlib
    env = {"LD_LIBRARY_PATH": os.path.join(prefix, "lib", "x86_64-linux-gnu"), "PYTHONHOME": prefix}
    t = target(DAY_ONE, interp=py, env=env)
    t.ready()  # (sys.version_info is compiled in: only what pyleak reads says 3.99)
    e = [x for x in json.loads(pyleak("list", "--json").stdout)["processes"] if x["pid"] == t.pid]
    assert e and e[0]["supported"] is True and e[0]["day_one"] is True and e[0]["python"] == "3.99.2", e
    f = e[0]["features"]
    assert f["pauses"] == "exact (usdt)" and f["sites"] == "stacks sampled at gc__start", f
    assert f["gc"].startswith("collections and collected from gc__start/done"), f
    assert f["type_names"].startswith("tp_name only"), f
    for missing in ("census", "holders", "alloc", "leaks"):
        assert f[missing].startswith("unsupported: "), (missing, f)
    txt = pyleak("list", "-p", t.pid).stdout
    assert "3.99.2" in txt and "dayone" in txt and "census unsupported: " in txt, txt
    assert "newer than pyleak's tables" in txt, txt
    # top runs it: pauses and collections from the USDT probes, stacks from the debug offsets
    p = pyleak("top", "-b", "--json", "-d", "2", "-n", "3", "-p", t.pid, timeout=90)
    assert_no_crash(p, "top -p day one")
    assert p.returncode == 0, p.stderr
    e = proc_entry(json.loads(p.stdout.splitlines()[-1]), t.pid)
    assert e and e["features"] == f, e
    assert e["gc"]["pause_us"][0]["count"] > 0 and e["gc"]["collections"][0] == e["gc"]["pause_us"][0]["count"], e["gc"]
    assert e["note"].startswith("census unsupported: "), e["note"]
    frames = [fr for st in e["sites"]["stacks"] for fr in st["frames"]]
    assert any(fr["function"] == "churn" and fr["file"] == "<string>" for fr in frames), e["sites"]
    # commands that need what is missing say so, per feature
    assert_refused(pyleak("census", "-p", t.pid), "census -p day one", "census unsupported: ")
    assert t.proc.poll() is None


def test_free_threaded_statements(target):
    """Free-threaded 3.13t: observed (GC counters, pauses, sites), with what is missing stated
    per feature in list, top and JSON rather than a refusal of the whole process."""
    src = [p for p in extra_paths() if os.path.basename(p) == "python3.13t"]
    need(src, "free-threaded 3.13 not built (tools/interp/fetch.sh py313t)")
    t = target("keep = []\n" + DAY_ONE.replace("a = Node(); b", "keep.append(Node()) if len(keep) < 5000 else None; a = Node(); b"),
               interp=src[0])
    t.ready()
    e = [x for x in json.loads(pyleak("list", "--json").stdout)["processes"] if x["pid"] == t.pid]
    assert e and e[0]["supported"] is True and e[0]["free_threaded"] is True, e
    f = e[0]["features"]
    assert f["gc"] == "exact (generation_stats)" and f["pauses"] == "exact (usdt)", f
    assert f["alloc"].startswith("unsupported: free-threaded build"), f
    assert f["holders"] == "module globals, class and instance attributes", f
    assert f["census"].startswith("mimalloc heaps") and f["leaks"] == "from census growth", f
    p = pyleak("top", "-b", "--json", "-d", "2", "-n", "2", "-p", t.pid, timeout=90)
    assert p.returncode == 0, p.stderr
    e = proc_entry(json.loads(p.stdout.splitlines()[-1]), t.pid)
    assert e["features"] == f and e["gc"]["pause_us"][0]["count"] > 0, e
    assert f["sites"] == "stacks sampled at gc__start", f
    frames = [fr for st in e["sites"]["stacks"] for fr in st["frames"]]
    assert any(fr["function"] == "churn" and fr["file"] == "<string>" for fr in frames), e["sites"]
    txt = pyleak("top", "-b", "-n", "1", "-p", t.pid).stdout
    assert "alloc unsupported: free-threaded build" in txt, txt
    # the census finds the scenario's objects in the mimalloc heaps, under their names
    c = json.loads(pyleak("census", "-p", t.pid, "--json").stdout)
    assert any(x["name"] == "__main__.Node" and x["count"] >= 5000 for x in c["types"]), c["types"][:5]


# --------------------------------------------------------------------------- targets that go away


def test_target_exits_during_attach(target):
    """The target dies while pyleak inspects it / attaches probes: exit 0 (seen, then exited) or
    1 (gone before it was seen), with a message; never a crash."""
    _need_debian()
    rng = random.Random(7)
    outcomes = set()
    for i in range(10):
        delay = rng.uniform(0.0, 0.25)
        t = target("import time, sys; print('{}', flush=True); time.sleep(%f)" % delay)
        t.ready()
        p = pyleak("top", "-b", "--json", "-d", "0.2", "-n", "3", "-p", t.pid, timeout=30)
        assert_no_crash(p, "top -p during exit (delay %.3f)" % delay)
        if p.returncode == 1:
            assert re.search(r"no such process|not a CPython process|zombie", p.stderr), p.stderr
        else:
            assert p.returncode == 0, p.stderr
            snaps = [json.loads(line) for line in p.stdout.splitlines()]
            seen = [proc_entry(s, t.pid) for s in snaps]
            assert any(seen), "exit 0 but pid %d never shown: %s" % (t.pid, p.stdout[:500])
        outcomes.add(p.returncode)
        t.stop()
    assert outcomes, "no run"


BIG_HEAP = """
import json, os, time
class Node(object):
    def __init__(self, i):
        self.i = i
        self.l = [i]
keep = [Node(i) for i in range(1200000)]
print(json.dumps({"pid": os.getpid()}), flush=True)
time.sleep(120)
"""


def test_target_exits_during_census(target):
    _need_debian()
    for delay in (0.02, 0.1, 0.25):
        t = target(BIG_HEAP)
        t.ready(timeout=60)
        cen = subprocess.Popen([PYLEAK, "census", "-p", str(t.pid), "-n", "3"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True)
        time.sleep(delay)
        t.proc.kill()
        t.proc.wait()
        out, err = cen.communicate(timeout=60)
        p = subprocess.CompletedProcess(cen.args, cen.returncode, out, err)
        assert_no_crash(p, "census, target killed after %.2fs" % delay)
        if p.returncode == 1:
            assert p.stderr.startswith("pyleak: ") and str(t.pid) in p.stderr, p.stderr
            assert re.search(r"went away|no such process|exited", p.stderr), p.stderr
        else:
            assert p.returncode == 0 and "Node" in p.stdout, (p.returncode, p.stdout[-800:], p.stderr)


def test_target_exits_during_record(target, tmp_path):
    _need_debian()
    t = target(SLEEPER + "\n", args=["1.5"])
    t.ready()
    out = tmp_path / "exit.db"
    p = pyleak("record", "-p", t.pid, "-o", out, "-i", "0.25", "--duration", "4", timeout=60)
    assert_no_crash(p, "record")
    assert p.returncode == 0, p.stderr
    db = sqlite3.connect(str(out))
    try:
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
        rows = db.execute("select id, exited from processes where pid = ?", (t.pid,)).fetchall()
        assert rows and rows[0][1] == 1, rows
        n = db.execute("select count(*) from samples where proc = ?", (rows[0][0],)).fetchone()[0]
        assert n >= 2, "only %d samples of the process before it exited" % n
    finally:
        db.close()


# --------------------------------------------------------------------------- exec and fork


def test_exec_into_another_program_is_dropped(target):
    """python os.execv's into /bin/sleep: same pid, same start time, no Python any more."""
    _need_debian()
    t = target("import gc, json, os, time\n"
               "gc.collect()\n"
               "print(json.dumps({}), flush=True)\n"
               "time.sleep(2.0)\n"
               "os.execv('/bin/sleep', ['sleep', '60'])\n")
    t.ready()
    for args in (("-p", t.pid), ()):
        p = pyleak("top", "-b", "--json", "-d", "0.5", "-n", "9", *args, timeout=60)
        assert_no_crash(p, "top across exec")
        assert p.returncode == 0, p.stderr
        snaps = [json.loads(line) for line in p.stdout.splitlines()]
        # after the exec (the comm is "sleep" from then on) the pid may be shown once as exited,
        # then never again
        with open("/proc/%d/comm" % t.pid) as f:
            assert f.read().strip() == "sleep", "the target did not exec"
        tail = [proc_entry(s, t.pid) for s in snaps[-3:]]
        assert all(e is None for e in tail), "pid %d still shown as Python after exec: %s" % (t.pid, tail)
        assert t.proc.poll() is None
    # and it is no longer a Python process for list either
    assert_refused(pyleak("list", "-p", t.pid), "list after exec", "not a CPython process")


def test_fork_children_are_new_processes(target):
    _need_debian()
    t = target("import gc, json, os, time\n"
               "for i in range(3):\n    gc.collect()\n"
               "c = os.fork()\n"
               "if c == 0:\n"
               "    for i in range(5):\n        gc.collect()\n"
               "print(json.dumps({'pid': os.getpid(), 'c': [s['collections'] for s in gc.get_stats()]}), flush=True)\n"
               "time.sleep(60)\n")
    truth = {}
    for _ in range(2):
        d = t.ready()
        truth[d["pid"]] = d["c"]
    assert len(truth) == 2 and t.pid in truth
    child = [p for p in truth if p != t.pid][0]
    try:
        snaps = json.loads(pyleak("top", "-b", "--json", "-n", "1", check=True).stdout.splitlines()[-1])
        for pid in (t.pid, child):
            e = proc_entry(snaps, pid)
            assert e is not None, "pid %d (%s) not shown" % (pid, "parent" if pid == t.pid else "child")
            assert e["gc"]["collections"] == truth[pid], (pid, e["gc"]["collections"], truth[pid])
        p = json.loads(pyleak("top", "-b", "--json", "-n", "1", "-p", child, check=True).stdout)
        assert [x["pid"] for x in p["processes"]] == [child]
    finally:
        try:
            os.kill(child, signal.SIGKILL)
        except OSError:
            pass


# --------------------------------------------------------------------------- privileges


def test_not_root(tmp_path):
    need(os.geteuid() == 0, "needs root to drop privileges")
    need(shutil.which("setpriv"), "setpriv (util-linux) missing")
    os.chmod(str(tmp_path), 0o777)
    for args in (["top", "-b", "-n", "1"], ["top", "-b", "--no-bpf", "-n", "1"], ["list"],
                 ["census", "-p", str(os.getpid())], ["record", "-o", str(tmp_path / "n.db"), "--duration", "1"],
                 ["serve", "--listen", "127.0.0.1:0"]):
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                            PYLEAK] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=30)
        assert_refused(p, "as nobody: " + " ".join(args), "CAP_SYS_PTRACE", "run as root")
    assert not os.path.exists(str(tmp_path / "n.db")), "record created its file before checking privileges"


def _capsh_drop(cmd):
    return subprocess.run(["capsh", "--drop=cap_bpf,cap_sys_admin,cap_perfmon", "--", "-c", cmd],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def test_root_without_cap_bpf(target):
    need(shutil.which("capsh"), "capsh (libcap2-bin) missing")
    _need_debian()
    t = target(SLEEPER)
    truth = t.ready()
    p = _capsh_drop("exec %s top -b -n 1 -p %d" % (PYLEAK, t.pid))
    assert_refused(p, "top without CAP_BPF", "CAP_BPF", "CAP_PERFMON", "--no-bpf" if "--no-bpf" in p.stderr else "")
    # --no-bpf needs only CAP_SYS_PTRACE: exact counters from memory
    p = _capsh_drop("exec %s top -b --json --no-bpf -n 2 -d 0.2 -p %d" % (PYLEAK, t.pid))
    assert_no_crash(p, "top --no-bpf without CAP_BPF")
    assert p.returncode == 0, p.stderr
    e = proc_entry(json.loads(p.stdout.splitlines()[-1]), t.pid)
    assert e is not None
    for key in ("collections", "collected", "uncollectable"):
        assert e["gc"][key] == [s[key] for s in truth["stats"]], (key, e["gc"][key], truth["stats"])
    # and the text view shows the same counters
    p = _capsh_drop("exec %s top -b --no-bpf -n 1 -p %d" % (PYLEAK, t.pid))
    assert p.returncode == 0, p.stderr
    gen2 = truth["stats"][2]
    assert "gen2 %d/%d/%d" % (gen2["collections"], gen2["collected"], gen2["uncollectable"]) in p.stdout, p.stdout


def test_no_bpf_does_not_claim_a_probe_tier(target):
    """Without BPF nothing measures pauses: the output must not say usdt/uprobe measured them."""
    _need_debian()
    t = target(SLEEPER)
    t.ready()
    e = proc_entry(json.loads(pyleak("top", "-b", "--json", "--no-bpf", "-n", "1", "-p", t.pid,
                                     check=True).stdout), t.pid)
    assert e["gc_source"] not in ("usdt", "uprobe"), \
        "--no-bpf reports gc_source %r and pause counts %s as if probes had measured them" % (
            e["gc_source"], [p["count"] for p in e["gc"]["pause_us"]])


# --------------------------------------------------------------------------- full disk, SIGPIPE


BUSY = """
import json, time
class P(object):
    pass
print("{}", flush=True)
while True:
    for i in range(20000):
        a = P(); b = P(); a.o = b; b.o = a
    time.sleep(0.001)
"""


def test_full_disk_during_record(target, tmp_path):
    _need_debian()
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], stderr=subprocess.PIPE,
                       universal_newlines=True)
    need(r.returncode == 0, "cannot mount a tmpfs: " + r.stderr)
    try:
        t = target(BUSY)
        t.ready()
        out = mnt / "full.db"
        p = pyleak("record", "-p", t.pid, "-o", out, "-i", "0.2", "--duration", "60", timeout=90)
        assert_refused(p, "record on a full disk", str(out))
        assert re.search(r"disk is full|no space left", p.stderr, re.I), p.stderr
        assert t.proc.poll() is None, "the target died"
        db = sqlite3.connect(str(out))
        try:
            assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
            assert db.execute("select value from meta where key = 'format'").fetchone()[0] == "pyleak-trace"
        finally:
            db.close()
        rep = pyleak("report", out)
        assert_no_crash(rep, "report of the truncated trace")
        assert rep.returncode == 0, rep.stderr
    finally:
        subprocess.call(["umount", "-l", str(mnt)])


@pytest.mark.parametrize("fmt", [[], ["--json"]], ids=["text", "json"])
def test_sigpipe_is_a_normal_stop(root, fmt):
    """`pyleak top -b | head -1`: the reader leaving is how batch output ends. Exit 0, silent."""
    cmd = "%s top -b %s -d 0.2 2>%s | head -1 >/dev/null; echo ${PIPESTATUS[0]}"
    err = tempfile.NamedTemporaryFile(prefix="pyleak-sigpipe-", delete=False)
    err.close()
    try:
        p = subprocess.run(["bash", "-c", cmd % (PYLEAK, " ".join(fmt), err.name)], stdout=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        rc = int(p.stdout.strip().splitlines()[-1])
        with open(err.name) as f:
            msg = f.read()
        assert rc == 0, "exit %d (141 = killed by SIGPIPE); stderr %r" % (rc, msg)
        assert msg == "", "pyleak complained about the closed pipe: %r" % msg
    finally:
        os.unlink(err.name)


# --------------------------------------------------------------------------- the target is never harmed

WORK = r"""
import gc, hashlib, json, os, sys, time
# Deterministic work with GC activity: its digest must not depend on who watches the process.
class Node(object):
    def __init__(self, i, prev):
        self.i = i
        self.prev = prev
        self.d = {"k%d" % (i % 97): [i] * (i % 7)}
print(json.dumps({"pid": os.getpid()}), flush=True)
h = hashlib.sha256()
survivors = []
pace = float(sys.argv[1]) / 400  # fixed work (400 rounds), spread over about argv[1] seconds
rounds = 0
while rounds < 400:
    prev = None
    for i in range(3000):
        n = Node(i + rounds, prev)
        n.self = n
        prev = n if i % 3 else None
        if i % 500 == 0:
            survivors.append(n.d)
    if rounds % 10 == 0:
        h.update(str(gc.collect()).encode())
    h.update(str(sum(len(d) for d in survivors)).encode())
    if len(survivors) > 2000:
        del survivors[:1000]
    rounds += 1
    time.sleep(pace)
print(json.dumps({"digest": h.hexdigest(), "rounds": rounds}), flush=True)
"""


def _usdt_semaphore(binary):
    """Link-time address of python:gc__start's semaphore (readelf -n)."""
    out = subprocess.run(["readelf", "-n", binary], stdout=subprocess.PIPE, universal_newlines=True,
                         check=True).stdout
    m = re.search(r"Name: gc__start\s+Location: 0x[0-9a-f]+, Base: 0x[0-9a-f]+, Semaphore: 0x([0-9a-f]+)", out)
    assert m, "no gc__start note in " + binary
    return int(m.group(1), 16)


def _load_bias(pid, binary):
    real = os.path.realpath(binary)
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5] == real and int(parts[2], 16) == 0:
                start = int(parts[0].split("-")[0], 16)
                return start - 0x400000 if start == 0x400000 else start  # ET_EXEC: 0; PIE: map start
    raise AssertionError("%s not mapped in %d" % (binary, pid))


def read_semaphore(pid, addr):
    with open("/proc/%d/mem" % pid, "rb") as f:
        f.seek(addr)
        return struct.unpack("<H", f.read(2))[0]


def owned_bpf(pid):
    """prog/link/map ids held by pid's file descriptors (fdinfo), e.g. {'prog': {..}, ...}."""
    out = {"prog": set(), "link": set(), "map": set()}
    try:
        fds = os.listdir("/proc/%d/fdinfo" % pid)
    except OSError:
        return out
    for fd in fds:
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                text = f.read()
        except OSError:
            continue
        m = re.search(r"^link_id:\s+(\d+)", text, re.M)
        if m:
            out["link"].add(int(m.group(1)))
            continue
        m = re.search(r"^prog_id:\s+(\d+)", text, re.M)
        if m:
            out["prog"].add(int(m.group(1)))
            continue
        m = re.search(r"^map_id:\s+(\d+)", text, re.M)
        if m:
            out["map"].add(int(m.group(1)))
    return out


def live_bpf_ids():
    ids = {}
    for kind in ("prog", "link", "map"):
        p = subprocess.run(["bpftool", "-j", kind, "show"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           universal_newlines=True, timeout=30)
        ids[kind] = {o["id"] for o in json.loads(p.stdout or "[]")}
    return ids


def other_pyleaks(mine):
    """Other pyleak processes on the machine (other users of the shared test host)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in mine:
            continue
        try:
            if os.path.basename(os.readlink("/proc/%s/exe" % d)).startswith("pyleak"):
                out.append(int(d))
        except OSError:
            pass
    return out


def test_sigkill_never_harms_the_target(root, tmp_path):
    _need_debian()
    need(shutil.which("bpftool") and shutil.which("readelf"), "bpftool and readelf are needed")
    # a private copy: other pyleak runs attached to /usr/bin/python3.11 by -p do not touch its inode
    py = os.path.join(str(tmp_path), "python3.11")
    shutil.copy(DEBIAN, py)
    sem_link = _usdt_semaphore(py)

    def run(watch):
        t = Target(WORK, interp=py, args=["6"])
        try:
            t.ready()
            sem = sem_link + _load_bias(t.pid, py)
            if watch:
                watch(t.pid, sem)
            out, err = t.proc.communicate(timeout=120)
            assert t.proc.returncode == 0, err
            return json.loads(out.strip().splitlines()[-1]), t.pid, sem
        finally:
            t.stop()

    baseline, _, _ = run(None)

    rng = random.Random(1234)
    held = {"prog": set(), "link": set(), "map": set()}
    seen_sem = []
    kills = []

    def harass(pid, sem):
        modes = [["top", "-b", "--json", "-d", "0.1", "-p", str(pid)],   # attach + refresh
                 ["top", "-b", "-d", "0.1"],                               # system-wide scan
                 ["census", "-p", str(pid), "--growth", "1"]]              # census walks
        deadline = time.time() + 5
        i = 0
        while time.time() < deadline:
            args = modes[i % len(modes)]
            i += 1
            p = subprocess.Popen([PYLEAK] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.0, 0.6))
            if args[0] == "top":
                ids = owned_bpf(p.pid)
                for k in ids:
                    held[k] |= ids[k]
                if ids["link"]:
                    seen_sem.append(read_semaphore(pid, sem))
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills.append(args[0])
            if p.returncode != -signal.SIGKILL:
                assert p.returncode in (0, 1), "pyleak %s exited %d on its own" % (args, p.returncode)

    watched, pid, sem = run(harass)
    assert watched == baseline, "the target's work changed under pyleak: %s vs %s" % (watched, baseline)
    assert len(kills) >= 4, kills
    assert held["prog"] and held["link"], "no run of pyleak got as far as attaching probes: %s" % held
    assert seen_sem and max(seen_sem) > 0, "the gc__start semaphore never rose while probes were attached"

    # the kernel freed everything the killed pyleaks held
    deadline = time.time() + 10
    while True:
        left = {k: held[k] & v for k, v in live_bpf_ids().items()}
        if not any(left.values()) or time.time() > deadline:
            break
        time.sleep(0.5)
    assert not any(left.values()), "BPF objects of killed pyleak runs still loaded: %s" % left

    # and a fresh target of the same binary has its semaphore at 0 again (no probe left on the inode)
    t = Target(SLEEPER, interp=py)
    try:
        t.ready()
        value = read_semaphore(t.pid, sem_link + _load_bias(t.pid, py))
        if value:
            others = other_pyleaks(set())
            need(not others, "another pyleak (pids %s) holds probes system-wide; semaphore %d" % (others, value))
        assert value == 0, "gc__start semaphore is %d after every pyleak died" % value
    finally:
        t.stop()


# --------------------------------------------------------------------------- code properties


def _c_sources():
    for d in ("userspace", "bpf"):
        for dirpath, dirnames, names in os.walk(os.path.join(ROOT, d)):
            dirnames.sort()
            for name in sorted(names):
                if name.endswith((".c", ".h")) and name != "vmlinux.h":
                    yield os.path.join(dirpath, name)


def _strip_comments_and_strings(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(\\.|[^"\\])*"', '""', text)


def test_no_shellouts():
    """pyleak runs as root against untrusted processes: it never starts a program or a shell."""
    banned = re.compile(r"\b(system|popen|execl|execlp|execle|execv|execvp|execvpe|execve|fexecve|posix_spawnp?|"
                        r"fork|vfork|clone|wordexp)\s*\(")
    hits = []
    for path in _c_sources():
        with open(path) as f:
            code = _strip_comments_and_strings(f.read())
        for n, line in enumerate(code.splitlines(), 1):
            m = banned.search(line)
            if m:
                hits.append("%s:%d: %s" % (os.path.relpath(path, ROOT), n, line.strip()))
    assert not hits, "shell-outs / process creation in C sources:\n" + "\n".join(hits)
    # the check itself works
    assert banned.search('x = popen("which python", "r");')
    assert not banned.search(_strip_comments_and_strings('/* no system() here */ pr_err("popen(x)");'))


def test_files_are_created_0600(target, tmp_path):
    """Traces and reports name processes and command lines: owner-only, whatever the umask."""
    _need_debian()
    t = target(SLEEPER)
    t.ready()
    out = tmp_path / "mode.db"
    old = os.umask(0)
    try:
        pyleak("record", "-p", t.pid, "-o", out, "--duration", "1", check=True)
        rep = tmp_path / "mode.html"
        pyleak("report", out, "--format", "html", "-o", rep, check=True)
    finally:
        os.umask(old)
    for f in (out, rep):
        assert os.stat(str(f)).st_mode & 0o777 == 0o600, "%s has mode %o" % (f, os.stat(str(f)).st_mode & 0o777)


def test_exporter_stays_on_loopback(root):
    p = pyleak("serve", "--listen", "0.0.0.0:0", timeout=20)
    assert_no_crash(p, "serve 0.0.0.0")
    assert p.returncode in (1, 2) and "--allow-remote" in p.stderr, (p.returncode, p.stderr)


# --------------------------------------------------------------------------- sanitizers

SAN = os.environ.get("PYLEAK_SAN", os.path.join(ROOT, ".output-san", "pyleak"))


def test_tui_headless_under_asan(target, tmp_path):
    """The interactive view for 2 refreshes in a detached tmux, built with ASan+UBSan."""
    need(os.path.exists(SAN), "no sanitizer build at %s (make SANITIZE=1)" % SAN)
    need(shutil.which("tmux"), "tmux missing")
    _need_debian()
    t = target(BUSY)
    t.ready()
    logs = tmp_path / "san"
    logs.mkdir()
    rcfile = str(tmp_path / "rc")
    sess = "pyleak-asan-%d" % os.getpid()
    env = ("ASAN_OPTIONS=detect_leaks=1:log_path={0}/asan UBSAN_OPTIONS=print_stacktrace=1:log_path={0}/ubsan"
           .format(logs))
    try:
        subprocess.check_call(["tmux", "new-session", "-d", "-s", sess, "-x", "160", "-y", "45",
                               "bash -c '%s %s top -n 2 -d 0.5; echo $? > %s'" % (env, SAN, rcfile)])
        deadline = time.time() + 60
        while not os.path.exists(rcfile) and time.time() < deadline:
            time.sleep(0.2)
        assert os.path.exists(rcfile), "the TUI did not finish 2 refreshes in 60 s"
        time.sleep(0.2)
        with open(rcfile) as f:
            rc = f.read().strip()
        reports = ""
        for name in sorted(os.listdir(str(logs))):
            with open(str(logs / name)) as f:
                reports += f.read()
        assert not reports, "sanitizer reports:\n" + reports[:4000]
        assert rc == "0", "TUI exit status %s" % rc
    finally:
        subprocess.call(["tmux", "kill-session", "-t", sess], stderr=subprocess.DEVNULL)


def test_live_commands_drop_unneeded_capabilities(root):
    """Once attached, pyleak keeps only what watching needs (docs/security.md): no CAP_SETUID,
    CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_CHOWN..., an empty bounding set beyond that, no_new_privs."""
    keep = {2, 19, 21, 38, 39, 40}
    for args in (["top", "-b", "-d", "0.5"], ["serve", "--listen", "127.0.0.1:0", "--interval", "0.5"]):
        p = subprocess.Popen([PYLEAK] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 20
            caps = None
            while time.time() < deadline:
                with open("/proc/%d/status" % p.pid) as f:
                    st = dict(l.split(":\t", 1) for l in f.read().splitlines() if ":\t" in l)
                eff = int(st["CapEff"].strip(), 16)
                if eff != int(st["CapBnd"].strip(), 16) or st["NoNewPrivs"].strip() == "1":
                    caps = st
                    break
                time.sleep(0.2)
            assert caps, "capabilities never restricted: %s" % args
            for field in ("CapEff", "CapPrm", "CapBnd"):
                v = int(caps[field].strip(), 16)
                extra = [b for b in range(64) if v >> b & 1 and b not in keep]
                assert not extra, (args, field, extra)
            assert int(caps["CapEff"].strip(), 16) >> 19 & 1, "CAP_SYS_PTRACE must stay"
            assert caps["NoNewPrivs"].strip() == "1"
            assert p.poll() is None, "pyleak died after dropping capabilities"
        finally:
            p.send_signal(signal.SIGINT)
            assert p.wait(20) == 0
