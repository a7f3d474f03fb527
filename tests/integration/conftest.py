# SPDX-License-Identifier: BSD-2-Clause
"""Shared fixtures of the root integration tests: the interpreter matrix, scenarios, pyleak runs.

Every test here runs real Python programs under the real pyleak binary with real BPF. They need
root; without it a test skips with the reason, unless PYLEAK_REQUIRE_BPF=1 (CI), where a skip
would hide a broken feature, so it fails instead.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYLEAK = os.environ.get("PYLEAK", os.path.join(ROOT, ".output", "pyleak"))
SCENARIOS = os.path.join(ROOT, "tests", "scenarios")
PYENV_ROOT = os.environ.get("PYENV_ROOT", "/root/.pyenv")
REQUIRE = os.environ.get("PYLEAK_REQUIRE_BPF") == "1"


def need(condition, reason):
    """Skip with a printed reason, or fail when CI requires every integration test to run."""
    if condition:
        return
    if REQUIRE:
        pytest.fail("PYLEAK_REQUIRE_BPF=1 but: " + reason)
    pytest.skip(reason)


class Interp(object):
    def __init__(self, name, path, minor, tier, env=None, **facts):
        self.name = name      # "debian-3.11", "pyenv-3.12", "stripped-3.11", "sid-3.15"
        self.path = path
        self.minor = minor    # (3, 12)
        self.tier = tier      # the gc_source pyleak must report
        self.env = env or {}
        # Build facts `pyleak list` must report (None: the test derives them from the name).
        self.free_threaded = facts.get("free_threaded", False)
        self.shared = facts.get("shared")
        self.symtab = facts.get("symtab")
        self.usdt = facts.get("usdt")
        self.features = facts.get("features", ())  # extra interpreters: the features they run

    def __repr__(self):
        return self.name


# The extra interpreters of tools/interp/fetch.sh (tools/interp/NOTES.md), by the file name its
# --list prints, with their build facts and the integration features each one takes part in.
# A feature absent here is one pyleak does not support on that build: its test asserts that
# pyleak says so (test_reliability.py::test_feature_statements) instead of including it, since
# CI (PYLEAK_REQUIRE_BPF=1) fails on a skip. Which test files use which feature:
#   list     test_list.py             gc      test_gc.py (counters, pauses)
#   census   test_census.py           leaks   test_leaks.py
#   sites    test_sites.py            alloc   test_alloc.py (young sample, exact)
#   record   test_record.py (round trip, census/suspects), test_replay.py (batch replay)
#   serve    test_serve.py (Prometheus scrape of the GC counters)
#   refs     test_refs.py             survivors  test_survivors.py
#   memory   test_memory.py (arenas, untracked, RSS parts)
#   native   test_native.py (glibc heap walk, sampled native allocations)
#   hostile  test_hostile.py (hostile names escaped in every output)
# The others (tui, container, soak) stay on Debian 3.11 + pyenv: the CI budget
# (90 min) does not pay for every interpreter in every file, and those files test pyleak's own
# plumbing, not a version's layout.
_FULL = ("list", "gc", "census", "leaks", "sites", "alloc", "refs", "survivors", "memory", "native", "hostile")
EXTRA = {
    "python3.14": dict(name="sid-3.14", minor=(3, 14), tier="usdt", shared=False, symtab=False, usdt=True,
                       features=_FULL + ("record", "serve")),
    "python3.15": dict(name="sid-3.15", minor=(3, 15), tier="usdt", shared=False, symtab=False, usdt=True,
                       features=_FULL + ("record", "serve")),
    # Free-threaded: the census walks the mimalloc heaps; no allocation sampling (no GC lists):
    # test_reliability.py::test_free_threaded_statements checks pyleak says so, and that sites
    # come through (test_sites.py's scenarios need >= 10 automatic collections in seconds, which
    # the free-threaded trigger -- counts flushed per 512 per thread, a 25% heap-growth gate --
    # does not give them). Retention chains start from the objects of the mimalloc heaps (refs).
    # No pymalloc arenas: test_memory.py asserts that statement (test_*free_threaded*); the census
    # of objects left by exited threads: test_census.py::test_census_exited_thread_free_threaded.
    "python3.13t": dict(name="ft-3.13t", minor=(3, 13), tier="usdt", shared=False, symtab=True, usdt=True,
                        free_threaded=True, features=("list", "gc", "census", "leaks", "refs")),
}
_EXTRA_PATHS = []


def extra_paths():
    """Absolute paths of the ready extra interpreters (`tools/interp/fetch.sh --list`)."""
    if not _EXTRA_PATHS:
        try:
            out = subprocess.run([os.path.join(ROOT, "tools", "interp", "fetch.sh"), "--list"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True,
                                 timeout=60).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        _EXTRA_PATHS.extend(l.strip() for l in out.splitlines() if l.strip())
        _EXTRA_PATHS.append(None)  # looked up once
    return [p for p in _EXTRA_PATHS if p]


def pydev_include():
    """The include directory of sid's libpython3.14-dev/3.15-dev (`fetch.sh --list pydev`), or None."""
    try:
        out = subprocess.run([os.path.join(ROOT, "tools", "interp", "fetch.sh"), "--list", "pydev"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True,
                             timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return out or None


def extra_interpreters(feature=None):
    """The ready extra interpreters that take part in `feature` (all of them for None)."""
    out = []
    for path in extra_paths():
        facts = EXTRA.get(os.path.basename(path))
        if facts and (feature is None or feature in facts["features"]):
            f = dict(facts)
            out.append(Interp(f.pop("name"), path, f.pop("minor"), f.pop("tier"), **f))
    return out


def _pyenv_interps(minors):
    out = []
    vers = os.path.join(PYENV_ROOT, "versions")
    if not os.path.isdir(vers):
        return out
    for v in sorted(os.listdir(vers)):
        parts = v.split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            continue
        minor = (int(parts[0]), int(parts[1]))
        if minor not in minors:
            continue
        exe = os.path.join(vers, v, "bin", "python%d.%d" % minor)
        if os.path.exists(exe):
            out.append(Interp("pyenv-%s" % v, exe, minor, "uprobe"))
    return out


_STRIPPED = {}


def stripped_python():
    """Debian's python3.11 without its USDT notes: stripped and probe-less, so the poll tier."""
    if "path" in _STRIPPED:
        return _STRIPPED["path"]
    d = tempfile.mkdtemp(prefix="pyleak-stripped-")
    dst = os.path.join(d, "python3.11")
    subprocess.check_call(["objcopy", "--remove-section", ".note.stapsdt", "/usr/bin/python3.11", dst])
    os.chmod(dst, 0o755)
    _STRIPPED["path"] = dst
    return dst


def interpreters(minors=((3, 8), (3, 9), (3, 10), (3, 11), (3, 12), (3, 13)), debian=True, stripped=False,
                 pyenv=True, feature=None):
    """The matrix: Debian's python3.11 (usdt), every pyenv build in `minors` (uprobe), a
    stripped probe-less copy (poll), and the extra interpreters (EXTRA) that support `feature`."""
    out = []
    if debian and os.path.exists("/usr/bin/python3.11"):
        out.append(Interp("debian-3.11", "/usr/bin/python3.11", (3, 11), "usdt"))
    if pyenv:
        out.extend(_pyenv_interps(set(minors)))
    if stripped and os.path.exists("/usr/bin/python3.11") and shutil.which("objcopy"):
        out.append(Interp("stripped-3.11", None, (3, 11), "poll"))
    if feature:
        out.extend(extra_interpreters(feature))
    return out


def resolve(interp):
    if interp.path is None and interp.tier == "poll":
        interp.path = stripped_python()
    return interp.path


@pytest.fixture(scope="session", autouse=True)
def _built():
    need(os.path.exists(PYLEAK), "pyleak is not built at %s (run make)" % PYLEAK)


@pytest.fixture
def root():
    need(os.geteuid() == 0, "integration tests need root (BPF, uprobes, process_vm_readv)")


class Scenario(object):
    """A running scenario program; killed (and reaped) when the test ends."""

    def __init__(self, interp, script, args=(), env=None, tmpdir=None):
        self.tmpdir = tmpdir or tempfile.mkdtemp(prefix="pyleak-scn-")
        self.truth_path = os.path.join(self.tmpdir, "truth-%s.json" % os.path.basename(script))
        path = script if os.path.isabs(script) else os.path.join(SCENARIOS, script)
        e = dict(os.environ)
        e.pop("PYTHONPATH", None)
        e.pop("PYTHONHOME", None)
        e.update(interp.env)
        e.update(env or {})
        self.cmd = [resolve(interp), path, "--truth", self.truth_path] + list(args)
        self.out = open(os.path.join(self.tmpdir, "stdout"), "w+")
        self.proc = subprocess.Popen(self.cmd, stdout=self.out, stderr=subprocess.STDOUT, env=e,
                                     cwd=self.tmpdir)
        self.pid = self.proc.pid

    def truth(self, phase=None, timeout=120, newer_than=0.0):
        """Wait for the truth file (optionally of one phase / written after a time) and load it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None and not os.path.exists(self.truth_path):
                raise AssertionError("scenario exited %s: %s" % (self.proc.returncode, self.output()))
            try:
                with open(self.truth_path) as f:
                    t = json.load(f)
                if (phase is None or t.get("phase") == phase) and t.get("time", 0) >= newer_than:
                    return t
            except (IOError, OSError, ValueError):
                pass
            time.sleep(0.1)
        raise AssertionError("no truth (phase %s) from %s within %ss: %s" % (phase, self.cmd, timeout, self.output()))

    def refresh_truth(self, timeout=30):
        """Ask the scenario (SIGUSR1) for fresh ground truth and wait for it."""
        t0 = time.time()
        os.kill(self.pid, signal.SIGUSR1)
        return self.truth(timeout=timeout, newer_than=t0)

    def output(self):
        self.out.flush()
        self.out.seek(0)
        return self.out.read()[-4000:]

    def stop(self):
        stop_process(self.proc)
        self.out.close()


@pytest.fixture
def scenario(root, tmp_path):
    started = []

    def start(interp, script, *args, **kw):
        s = Scenario(interp, script, args, env=kw.get("env"), tmpdir=str(tmp_path))
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def stop_process(proc, timeout=10):
    """SIGTERM a helper process (a scenario, a server), SIGKILL it if it lingers; reaped either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def log_tail(f, n=3000):
    """The last n characters of a log file the test opened w+ (a server's, a scenario's)."""
    f.flush()
    f.seek(0)
    return f.read()[-n:]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class TopJson(object):
    """`pyleak top -b --json ARGS` in the background; every snapshot kept as it arrives."""

    def __init__(self, *args):
        self.snaps = []
        self.proc = subprocess.Popen([PYLEAK, "top", "-b", "--json"] + [str(a) for a in args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        self.reader = threading.Thread(target=self._read)
        self.reader.daemon = True
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.strip():
                self.snaps.append(json.loads(line))

    def wait_for(self, pred, timeout):
        """The first truthy pred(snapshot) of the snapshots to come (and come so far), or None."""
        deadline = time.time() + timeout
        seen = 0
        while time.time() < deadline:
            while seen < len(self.snaps):
                r = pred(self.snaps[seen])
                seen += 1
                if r:
                    return r
            assert self.proc.poll() is None, "pyleak top exited: " + self.proc.stderr.read()[-3000:]
            time.sleep(0.2)
        return None

    def stop(self):
        """Ctrl-C it (it must stop on it) and return its exit status."""
        rc = stop_on_sigint(self.proc, "pyleak top")
        self.reader.join(10)
        return rc

    def stderr_tail(self):
        return self.proc.stderr.read()[-3000:] if self.proc.poll() is not None else ""


def stop_on_sigint(proc, what, timeout=20):
    """Ctrl-C a background observer and return its exit status; one that ignores it is a failure."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("%s did not stop on SIGINT" % what)
    return proc.returncode


def run_pyleak(*args, **kw):
    """Run pyleak to completion; returns CompletedProcess (text)."""
    timeout = kw.pop("timeout", 120)
    check = kw.pop("check", True)
    p = subprocess.run([PYLEAK] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError("pyleak %s exited %d\nstdout: %s\nstderr: %s" % (
            " ".join(map(str, args)), p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def pyleak_json_lines(*args, **kw):
    p = run_pyleak(*args, **kw)
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def proc_entry(snapshot, pid):
    for p in snapshot["processes"]:
        if p["pid"] == pid:
            return p
    return None


def bpf_objects():
    """pyleak's BPF programs and links currently loaded (names from bpftool)."""
    out = {}
    for kind in ("prog", "link"):
        try:
            p = subprocess.run(["bpftool", "-j", kind, "show"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30)
            out[kind] = json.loads(p.stdout or "[]")
        except (OSError, ValueError, subprocess.TimeoutExpired):
            out[kind] = []
    return out


# Memory ground truth (test_memory.py, test_serve.py): the target's own allocator statistics and
# the test's own reading of smaps.

def mallocstats(s, since):
    """What sys._debugmallocstats() says in a mallocstats.py scenario, captured after `since` (SIGUSR2)."""
    path = s.truth(phase="idle")["mallocstats_path"]
    os.kill(s.pid, signal.SIGUSR2)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            with open(path) as f:
                m = json.load(f)
            if m["time"] > since:
                return m
        except (IOError, OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise AssertionError("no mallocstats from %s" % s.pid)


def smaps_parts(pid):
    """The test's own reading of /proc/PID/smaps, by the same rules docs/json.md states."""
    parts = {"heap": 0, "stack": 0, "thread_stack": 0, "file": 0, "anon": 0, "other": 0}
    prev = None
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5 and not fields[0].endswith(":"):
                lo, hi = (int(x, 16) for x in fields[0].split("-"))
                path = " ".join(fields[5:]) if len(fields) > 5 else ""
                perms = fields[1]
                if not path:
                    if perms == "---p":
                        kind = "other"
                    elif prev and prev[1] == lo and prev[2] == "" and prev[3] == "---p" and prev[1] - prev[0] <= 1 << 20:
                        kind = "thread_stack"
                    else:
                        kind = "anon"
                elif path == "[heap]":
                    kind = "heap"
                elif path == "[stack]":
                    kind = "stack"
                elif path.startswith("[anon:"):
                    kind = "anon"
                elif path.startswith("["):
                    kind = "other"
                else:
                    kind = "file"
                cur = kind
                prev = (lo, hi, path, perms)
            elif fields[0] == "Rss:":
                parts[cur] += int(fields[1]) * 1024
    return parts


def rollup_rss(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1]) * 1024


def close(a, b, rel=0.05, abs_=256 << 10):
    return abs(a - b) <= max(abs_, rel * max(a, b))


def vm_rss_kib(pid):
    """VmRSS of a process in KiB (/proc/PID/status)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)
