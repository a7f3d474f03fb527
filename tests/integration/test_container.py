# SPDX-License-Identifier: BSD-2-Clause
"""Python in its own pid and mount namespaces, its interpreter only inside: seen like any other.

The container is built without an engine (container_run.sh): unshare --pid --mount --fork, a
private root with the interpreter copied to /opt/ctrpy/bin (absent on the host), the host's /usr
bind-mounted for the standard library, and a docker-style cgroup carrying a 64-hex container id.
Not tested here: real docker/containerd/podman/Kubernetes (no engine on this machine), overlayfs
layers, user namespaces.
"""

import json
import os
import random
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import PYLEAK, SCENARIOS, run_pyleak, need, proc_entry, stripped_python

HERE = os.path.dirname(os.path.abspath(__file__))


def host_pid_of(marker, timeout=30):
    """The host pid of the containerised python (whose cmdline carries marker), from /proc."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
                with open("/proc/%s/status" % d) as f:
                    status = f.read()
            except OSError:
                continue
            if marker in cmd and cmd.startswith("/opt/ctrpy/bin/"):
                nspid = [l.split()[1:] for l in status.splitlines() if l.startswith("NSpid:")][0]
                return int(d), int(nspid[-1])
        time.sleep(0.1)
    raise AssertionError("containerised python did not start")


@pytest.fixture
def container(root):
    need(shutil.which("unshare") is not None, "unshare (util-linux) missing")
    started = []

    def start(interp, *args):
        tmp = tempfile.mkdtemp(prefix="pyleak-ctr-")
        rootdir, truth = os.path.join(tmp, "root"), os.path.join(tmp, "truth")
        os.makedirs(truth)
        cid = "%064x" % random.getrandbits(256)
        marker = "--seed=%d" % random.randint(10**6, 10**7)
        p = subprocess.Popen([os.path.join(HERE, "container_run.sh"), rootdir, cid, interp, SCENARIOS, truth, "--"]
                             + list(args) + ["--truth", "/truth/t.json", marker],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        started.append((p, tmp))
        hpid, nspid = host_pid_of(marker)
        started.append((hpid, None))
        return {"proc": p, "pid": hpid, "ns_pid": nspid, "cid": cid, "truth": os.path.join(truth, "t.json"),
                "tmp": tmp, "rootdir": rootdir}

    yield start
    for p, tmp in started:
        if tmp is None:  # the namespace's pid 1, by host pid (unshare --kill-child also ends it)
            try:
                os.kill(p, 9)
            except OSError:
                pass
            continue
        p.kill()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            pass
        shutil.rmtree(tmp, ignore_errors=True)
    # the namespace's pid 1 died with its parent chain; reap leftovers by marker is not needed
    time.sleep(0.2)


def read_truth(path, phase, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(path) as f:
                t = json.load(f)
            if t.get("phase") == phase:
                return t
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError("no %s truth at %s" % (phase, path))


@pytest.mark.parametrize("interp", ["/usr/bin/python3.11", "stripped"])
def test_container_list_top(container, interp):
    path = stripped_python() if interp == "stripped" else interp
    tier = "poll" if interp == "stripped" else "usdt"
    c = container(path, "/scenarios/gc_mix.py", "--duration", "3", "--typestats")
    assert not os.path.exists("/opt/ctrpy"), "the interpreter path must not exist on the host"
    assert c["ns_pid"] != c["pid"]
    # list: both pids, right version and tier, the container id
    out = json.loads(run_pyleak("list", "--json").stdout)
    e = proc_entry(out, c["pid"])
    assert e is not None, "containerised python not listed"
    assert e["ns_pid"] == c["ns_pid"]
    assert e["in_container"] is True
    assert e["container_id"] == c["cid"]
    # The kernel names the file relative to the container's mount namespace; pyleak opens it
    # through /proc/PID/root or /proc/PID/map_files, never through a host path.
    assert e["exe"].endswith("/opt/ctrpy/bin/" + os.path.basename(path))
    assert e["runtime_path"].startswith("/proc/%d/" % c["pid"])
    assert e["gc_source"] == tier and e["supported"] is True
    truth = read_truth(c["truth"], "idle")
    assert e["python"] == truth["python"]
    # top: GC counters equal its gc.get_stats(); selection by container id works
    lines = run_pyleak("top", "-b", "--json", "-n", "2", "-d", "0.5", "--container", c["cid"][:12]).stdout.splitlines()
    snap = json.loads(lines[-1])
    assert [p["pid"] for p in snap["processes"]] == [c["pid"]]
    p = snap["processes"][0]
    assert p["ns_pid"] == c["ns_pid"] and p["container_id"] == c["cid"]
    for g in range(3):
        assert p["gc"]["collections"][g] == truth["gc_stats"][g]["collections"]
        assert p["gc"]["collected"][g] == truth["gc_stats"][g]["collected"]
    # the census reads its memory like any other process: it counts what gc.get_objects() sees
    cen = json.loads(run_pyleak("census", "-p", c["pid"], "--json").stdout)
    assert cen["pid"] == c["pid"] and cen["python"] == truth["python"]
    assert cen["total_objects"] > 1000
    got = {t["name"]: t["count"] for t in cen["types"]}
    want = truth["typestats_pyleak"]
    for name in ("function", "dict", "tuple"):
        assert abs(got[name] - want[name]) <= max(0.01 * want[name], 2), (name, got[name], want[name])
    # text list shows the namespace pid
    txt = run_pyleak("list", "-p", c["pid"]).stdout
    assert " %d " % c["ns_pid"] in txt


def test_container_started_after_pyleak(container):
    """A process that starts inside a namespace after pyleak starts is picked up (and attached)."""
    top = subprocess.Popen([PYLEAK, "top", "-b", "--json", "-d", "0.5"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
    try:
        top.stdout.readline()
        c = container("/usr/bin/python3.11", "/scenarios/gc_mix.py", "--duration", "3")
        truth = read_truth(c["truth"], "idle")
        deadline = time.time() + 30
        entry = None
        while time.time() < deadline:
            snap = json.loads(top.stdout.readline())
            entry = proc_entry(snap, c["pid"])
            if entry and snap["time"] > truth["time"] + 0.1:
                break
        assert entry is not None
        assert entry["container_id"] == c["cid"]
        assert entry["gc"]["collections"] == [truth["gc_stats"][g]["collections"] for g in range(3)]
        # attached from the start of the process (binary probed system-wide once seen): pause counts
        counted = sum(x["count"] for x in entry["gc"]["pause_us"]) + entry["gc"]["pauses_unknown_gen"]
        assert 0 < counted <= sum(entry["gc"]["collections"])
    finally:
        top.terminate()
        top.wait(20)
