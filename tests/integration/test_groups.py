# SPDX-License-Identifier: BSD-2-Clause
"""Process families: real gunicorn/Flask servers (Debian packages) and multiprocessing pools.

gunicorn's master and its sync workers must be one family with the family's figures; a leak in
every worker is named once for the family with each worker's evidence, while an identical
non-leaking family under the same load raises nothing; workers recycled by --max-requests leave
a history whose per-life growth is the verdict; Pool and ProcessPoolExecutor children are
grouped under their parent and unrelated Python processes are not; the Prometheus series of a
family stay bounded while 100 short-lived workers come and go.  Load is a bounded loop of HTTP
requests to 127.0.0.1.
"""

import json
import os
import shutil
import subprocess
import threading
import time
from urllib.parse import quote
from urllib.request import urlopen

import pytest

from conftest import (PYLEAK, SCENARIOS, TopJson, free_port, interpreters, log_tail, need, pyleak_json_lines,
                      run_pyleak, stop_process)
from test_serve import PROMETHEUS, PROMTOOL, Prometheus, Serve, find

PY = "/usr/bin/python3.11"  # Debian's gunicorn and Flask run on it
GUNICORN = "/usr/bin/gunicorn"
SESSION = "family_flask_app.Session"
# The leak as pyleak names it: the type, or the list that holds its instances
LEAK_NAMES = (SESSION, "family_flask_app._SESSIONS")


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except (IOError, OSError):
        return []


class Gunicorn(object):
    """gunicorn with sync workers serving tests/scenarios/family_flask_app.py on loopback."""

    def __init__(self, tmpdir, leak, workers=4, max_requests=0):
        need(os.path.exists(GUNICORN), "gunicorn is not installed (tools/deps.sh installs it)")
        self.port = free_port()
        self.workers = workers
        env = dict(os.environ, FAMILY_LEAK="1" if leak else "0")
        env.pop("PYTHONPATH", None)
        cmd = [PY, GUNICORN, "-w", str(workers), "-b", "127.0.0.1:%d" % self.port, "--chdir", SCENARIOS,
               "--worker-class", "sync", "--log-level", "warning"]
        if max_requests:
            cmd += ["--max-requests", str(max_requests)]
        cmd.append("family_flask_app:app")
        self.log = open(os.path.join(tmpdir, "gunicorn-%d.log" % self.port), "w+")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=tmpdir, env=env)
        self.pid = self.proc.pid
        deadline = time.time() + 60
        while time.time() < deadline:
            assert self.proc.poll() is None, "gunicorn exited: " + self.output()
            try:
                urlopen("http://127.0.0.1:%d/pid" % self.port, timeout=2).read()
                if len(children(self.pid)) >= workers:
                    return
            except (IOError, OSError):
                pass
            time.sleep(0.2)
        raise AssertionError("gunicorn did not start: " + self.output())

    def output(self):
        return log_tail(self.log)

    def stop(self):
        stop_process(self.proc, 20)
        self.log.close()


class Load(object):
    """A bounded number of GET / to each port, spread over `clients` threads, at about `rate`/s."""

    def __init__(self, ports, rate, total, clients=4):
        self.errors = []
        self.done = 0
        self.stop_flag = False
        self.threads = []
        per = total // clients
        gap = clients / float(rate)
        for c in range(clients):
            t = threading.Thread(target=self._run, args=(ports, per, gap))
            t.daemon = True
            t.start()
            self.threads.append(t)

    def _run(self, ports, n, gap):
        for i in range(n):
            if self.stop_flag:
                return
            t0 = time.time()
            for port in ports:
                try:
                    urlopen("http://127.0.0.1:%d/" % port, timeout=10).read()
                    self.done += 1
                except (IOError, OSError) as e:
                    self.errors.append(str(e))
            time.sleep(max(0.0, gap - (time.time() - t0)))

    def stop(self):
        self.stop_flag = True
        for t in self.threads:
            t.join(30)


def group_of(snap, root):
    for g in snap["groups"]:
        if g["root_pid"] == root:
            return g
    return None


@pytest.fixture
def started():
    """Everything a test starts, stopped at the end also on failure (last started first)."""
    things = []
    yield things
    for t in reversed(things):
        try:
            t.stop()
        except Exception:  # noqa: BLE001 - the test's own failure matters more
            pass


def test_gunicorn_leaking_family_and_quiet_twin(root, started, tmp_path):
    leaky = Gunicorn(str(tmp_path), leak=True)
    started.append(leaky)
    clean = Gunicorn(str(tmp_path), leak=False)
    started.append(clean)
    top = TopJson("-d", "2", "--group", "gunicorn", "--census-budget", "10")
    started.append(top)
    load = Load([leaky.port, clean.port], rate=40, total=40 * 120)
    started.append(load)

    def verdict(snap):
        g = group_of(snap, leaky.pid)
        if not g:
            return None
        for v in g["verdicts"]:
            if v["name"] in LEAK_NAMES and not v["recycled"] and v["workers_with"] >= 3:
                return snap, g, v
        return None

    found = top.wait_for(verdict, timeout=150)
    assert found, "no family verdict for %s; last groups: %s" % (LEAK_NAMES, json.dumps(
        top.snaps[-1]["groups"] if top.snaps else None)[:3000])
    snap, g, v = found
    assert not load.errors, load.errors[:3]

    # one family per master: the master and its 4 workers, nothing else
    kids = children(leaky.pid)
    assert g["kind"] == "gunicorn" and g["name"] == "gunicorn:%d" % leaky.pid
    assert sorted(g["members"]) == sorted([leaky.pid] + kids), (g["members"], kids)
    assert g["workers"] == 4
    assert g["recycled"] == 0
    roles = dict((p["pid"], p["group"]["role"]) for p in snap["processes"] if p["group"])
    assert roles[leaky.pid] == "master"
    assert all(roles[k] == "worker" for k in kids)
    # family figures: sums over its live processes
    procs = dict((p["pid"], p) for p in snap["processes"])
    assert g["rss_bytes"] == sum(procs[p]["rss_bytes"] for p in g["members"])
    assert g["rss_max_bytes"] == max(procs[p]["rss_bytes"] for p in g["members"])
    assert abs(g["gc"]["per_s"][0] - sum(procs[p]["gc"]["per_s"][0] for p in g["members"])) < 1e-6 * max(1, g["gc"]["per_s"][0]) + 1e-3
    assert g["gc"]["pause_us"][0]["count"] >= sum(procs[p]["gc"]["pause_us"][0]["count"] for p in g["members"])
    # the verdict names the leak for the family, with each worker's own rate as evidence
    assert v["kind"] in ("type", "container") and v["workers"] == 4
    assert v["text"].startswith("%d/4 workers: %s +" % (v["workers_with"], v["name"])), v["text"]
    assert v["text"].endswith("/min each"), v["text"]
    assert v["per_min_each"] > 30
    leaking = [k for k in kids if any(s["name"] == v["name"] for s in procs[k]["suspects"])]
    assert len(leaking) == v["workers_with"]
    for k in leaking:
        assert "pid %d +" % k in v["evidence"], (k, v["evidence"])

    # the twin under the same load: a family of its own, and no verdict at any refresh
    load.stop()
    assert load.done > 1000, load.done
    cg = group_of(snap, clean.pid)
    assert cg and cg["workers"] == 4 and cg["kind"] == "gunicorn"
    assert sorted(cg["members"]) == sorted([clean.pid] + children(clean.pid))
    for s in top.snaps:
        c = group_of(s, clean.pid)
        assert not c or not c["verdicts"], c["verdicts"]
    # nothing outside the selected families
    assert all(p["group"] and p["group"]["kind"] == "gunicorn" for p in snap["processes"])
    assert top.stop() == 0


def test_gunicorn_recycled_workers_leak(root, started, tmp_path):
    # ~40 requests/s over 4 workers and --max-requests 300: each worker lives about 30 s
    gun = Gunicorn(str(tmp_path), leak=True, max_requests=300)
    started.append(gun)
    top = TopJson("-d", "2", "--group", str(gun.pid), "--census-budget", "10")
    started.append(top)
    load = Load([gun.port], rate=40, total=40 * 200)
    started.append(load)

    def recycled_verdict(snap):
        g = group_of(snap, gun.pid)
        if not g or g["recycled"] < 3:
            return None
        vs = dict((v["name"], v) for v in g["verdicts"] if v["recycled"])
        if SESSION in vs and "rss" in vs:
            return snap, g, vs
        return None

    found = top.wait_for(recycled_verdict, timeout=190)
    last = top.snaps[-1]["groups"] if top.snaps else None
    assert found, "no recycled verdict; last groups: %s" % json.dumps(last)[:4000]
    snap, g, vs = found
    assert not load.errors, load.errors[:3]
    assert g["workers"] == 4
    assert g["recycled"] >= 3
    assert 10 < g["recycling"]["median_life_s"] < 90, g["recycling"]
    v = vs[SESSION]
    # the leak and the recycling named together: each worker's growth over its life
    assert "each worker grows %s by +" % SESSION in v["text"], v["text"]
    assert "a leak hidden by recycling" in v["text"]
    assert v["workers_with"] >= 2 and v["per_life"] >= 50
    assert v["life_s"] > 10
    retired = [r["pid"] for r in g["recycling"]["retired"]]
    assert any(("pid %d +" % p) in v["evidence"] for p in retired), (retired, v["evidence"])
    rss = vs["rss"]
    assert rss["text"].startswith("each worker grows "), rss["text"]
    assert "life: a leak hidden by recycling" in rss["text"]
    assert rss["per_life"] >= 1 << 20
    # retired workers are gone, new ones took their place: the family is the same one
    assert all(not os.path.exists("/proc/%d" % p) for p in retired)
    assert len(set(s_["id"] for s in top.snaps for s_ in s["groups"] if s_["root_pid"] == gun.pid)) == 1
    load.stop()
    assert top.stop() == 0


POOL_CASES = [("pool", "fork"), ("pool", "spawn"), ("executor", "forkserver"), ("executor", "spawn")]


@pytest.mark.parametrize("api,method", POOL_CASES, ids=["-".join(c) for c in POOL_CASES])
def test_pool_families_and_unrelated(api, method, root, scenario):
    interp = interpreters(minors=(), debian=True, pyenv=False)
    need(interp, "Debian's python3.11 is missing")
    s = scenario(interp[0], "family_pool.py", "--api", api, "--start-method", method, "--workers", "3",
                 "--duration", "2")
    t = s.truth(phase="idle", timeout=60)
    # unrelated: two identical Python processes that are siblings of the scenario, and a child
    # of it that runs another program
    lone = [subprocess.Popen([PY, "-c", "import time; time.sleep(120)"]) for _ in range(2)]
    try:
        time.sleep(0.5)
        snaps = pyleak_json_lines("top", "-b", "--json", "-n", "2", "-d", "1", "--no-census")
    finally:
        for p in lone:
            p.kill()
            p.wait()
    snap = snaps[-1]
    g = group_of(snap, s.pid)
    assert g, [(p["pid"], p["ppid"], p["group"]) for p in snap["processes"]]
    assert g["kind"] == ("fork" if method == "fork" else "multiprocessing"), g
    assert set(t["workers"]) <= set(g["members"]), (t["workers"], g["members"])
    assert g["workers"] == 3, g
    members = [p for p in snap["processes"] if p["pid"] in g["members"]]
    for p in members:
        assert p["group"]["name"] == g["name"]
        if p["pid"] == s.pid:
            assert p["group"]["role"] == "master"
        elif p["pid"] in t["workers"]:
            assert p["group"]["role"] == "worker"
        else:  # spawn/forkserver helpers: the resource tracker, the forkserver
            assert p["group"]["role"] == "helper", p
    # every member descends from the scenario, and every descendant is a member
    for p in lone:
        e = [x for x in snap["processes"] if x["pid"] == p.pid]
        assert e and e[0]["group"] is None, e
    me = [x for x in snap["processes"] if x["pid"] == os.getpid()]
    assert not me or me[0]["group"] is None


def test_uvicorn_workers_family(root, started, tmp_path):
    need(subprocess.call([PY, "-c", "import uvicorn"], stderr=subprocess.DEVNULL) == 0,
         "python3-uvicorn is not installed (tools/deps.sh installs it)")
    port = free_port()
    log = open(os.path.join(str(tmp_path), "uvicorn.log"), "w+")
    proc = subprocess.Popen([PY, "-m", "uvicorn", "--workers", "2", "--host", "127.0.0.1", "--port", str(port),
                             "--app-dir", SCENARIOS, "family_asgi_app:app"], stdout=log, stderr=subprocess.STDOUT)

    class Stop(object):
        def stop(self):
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    started.append(Stop())
    pids = set()
    deadline = time.time() + 60
    while len(pids) < 2 and time.time() < deadline:  # a bounded loop until both workers answered
        try:
            pids.add(int(urlopen("http://127.0.0.1:%d/" % port, timeout=2).read()))
        except (IOError, OSError, ValueError):
            time.sleep(0.2)
    assert len(pids) == 2, pids
    snap = pyleak_json_lines("top", "-b", "--json", "-n", "2", "-d", "1", "--no-census", "--group", proc.pid)[-1]
    g = group_of(snap, proc.pid)
    assert g and g["kind"] == "uvicorn" and g["name"] == "uvicorn:%d" % proc.pid, snap["groups"]
    assert g["workers"] == 2
    roles = dict((p["pid"], p["group"]["role"]) for p in snap["processes"])
    assert roles[proc.pid] == "master"
    for w in pids:
        assert roles[w] == "worker"
    assert set(roles) == set([proc.pid] + children(proc.pid))


def test_record_group_and_report(root, scenario, tmp_path):
    interp = interpreters(minors=(), debian=True, pyenv=False)
    need(interp, "Debian's python3.11 is missing")
    s = scenario(interp[0], "family_pool.py", "--api", "pool", "--start-method", "spawn", "--workers", "3",
                 "--duration", "60")
    s.truth(timeout=60)
    deadline = time.time() + 30
    while len([k for k in children(s.pid)]) < 4 and time.time() < deadline:  # 3 workers + the tracker
        time.sleep(0.2)
    lone = subprocess.Popen([PY, "-c", "import time; time.sleep(120)"])
    out = os.path.join(str(tmp_path), "family.db")
    try:
        run_pyleak("record", "--group", s.pid, "-o", out, "-d", "5", timeout=60)
    finally:
        lone.kill()
        lone.wait()
    kids = children(s.pid)
    rep = json.loads(run_pyleak("report", out, "--format", "json").stdout)
    recorded = set(p["pid"] for p in rep["processes"])
    assert recorded == set([s.pid] + kids), (recorded, kids)  # the family, nothing else
    assert len(rep["groups"]) == 1
    g = rep["groups"][0]
    assert g["name"] == "multiprocessing:%d" % s.pid and g["kind"] == "multiprocessing"
    assert g["max_workers"] == 3
    roles = dict((m["pid"], m["role"]) for m in g["members"])
    assert roles[s.pid] == "master" and sorted(roles) == sorted([s.pid] + kids)
    assert sorted(r for r in roles.values()) == ["helper", "master", "worker", "worker", "worker"]
    assert len(g["series"]["t"]) >= 4 and max(g["series"]["workers"]) == 3
    text = run_pyleak("report", out).stdout
    assert "process families: 1" in text
    assert "family multiprocessing:%d (multiprocessing), root pid %d" % (s.pid, s.pid) in text
    assert "workers: up to 3 at once" in text
    html = os.path.join(str(tmp_path), "family.html")
    run_pyleak("report", out, "--format", "html", "-o", html)
    with open(html) as f:
        body = f.read()
    assert "id=\"families\"" in body and ("multiprocessing:%d" % s.pid) in body
    # top --replay regroups the recording the way the live view grouped it
    last = pyleak_json_lines("top", "--replay", out, "-b", "--json")[-1]
    rg = group_of(last, s.pid)
    assert rg and rg["name"] == g["name"] and rg["workers"] == 3, last["groups"]
    assert dict((p["pid"], p["group"]["role"]) for p in last["processes"]) == roles


def series(prom, match, start):
    """Every distinct series matching `match` that Prometheus stored since start."""
    url = "http://127.0.0.1:%d/api/v1/series?match[]=%s&start=%.3f&end=%.3f" % (
        prom.port, quote(match), start - 60, time.time() + 1)
    d = json.loads(urlopen(url, timeout=10).read().decode())
    assert d["status"] == "success", d
    return d["data"]


def test_prometheus_group_cardinality_bounded(root, started, scenario, tmp_path):
    need(os.path.exists(PROMETHEUS), "prometheus is not installed (tools/deps.sh installs it)")
    interp = interpreters(minors=(), debian=True, pyenv=False)
    need(interp, "Debian's python3.11 is missing")
    srv = Serve("--interval", "0.5")
    started.append(srv)
    prom = Prometheus(srv.port, str(tmp_path))
    started.append(prom)
    prom.wait_for('up{job="pyleak"}', lambda r: r and r[0]["value"][1] == "1")
    start = time.time()
    # 100 tasks, one per worker (maxtasksperchild=1), 4 at a time, each ~1.2 s: 100 workers
    s = scenario(interp[0], "family_pool.py", "--api", "pool", "--start-method", "fork", "--workers", "4",
                 "--max-tasks", "1", "--tasks", "100", "--task-sleep", "1.2", "--duration", "300")
    name = "fork:%d" % s.pid
    prom.wait_for('pyleak_group_workers{group="%s"}' % name, lambda r: r and float(r[0]["value"][1]) >= 1,
                  timeout=60)
    # the exposition with a family in it is valid by promtool's rules
    body = srv.scrape()
    assert "pyleak_group_gc_pause_seconds_bucket{group=\"%s\"" % name in body
    if os.path.exists(PROMTOOL):
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=body, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        assert p.returncode == 0, p.stdout
    counts = []
    while True:
        r = prom.query('count({__name__=~"pyleak_group_.*",group="%s"})' % name)
        counts.append(int(float(r[0]["value"][1])) if r else 0)
        t = json.load(open(s.truth_path)) if os.path.exists(s.truth_path) else {}
        if t.get("phase") == "idle":
            break
        assert len(counts) < 400, "the pool did not finish"
        time.sleep(0.5)
    # every worker pyleak saw retired into the family; Prometheus has the counter
    rec = prom.wait_for('pyleak_group_workers_recycled_total{group="%s"}' % name,
                        lambda r: r and float(r[0]["value"][1]) >= 50, timeout=30)
    recycled = float(rec[0]["value"][1])
    # per-family series over the whole run: as many as at any one moment (no pid label)
    distinct = len(series(prom, '{__name__=~"pyleak_group_.*",group="%s"}' % name, start))
    now = counts[-1]
    assert now > 0 and distinct <= max(counts) + 4, (distinct, counts)  # +4: a verdict series may come and go
    assert distinct < 200
    assert not [1 for n, l, _ in srv.samples() if l.get("group") == name and n.startswith("pyleak_group") and "pid" in l]
    # the group label sits on the workers' own series too (those come and go with their pids)
    workers_seen = set(x["pid"] for x in series(prom, 'pyleak_process_resident_memory_bytes{group="%s"}' % name, start))
    assert len(workers_seen) >= 50, workers_seen
    assert recycled >= 50
    assert srv.stop() == 0


SAN = os.environ.get("PYLEAK_SAN", os.path.join(os.path.dirname(PYLEAK), "..", ".output-san", "pyleak"))


def test_tui_family_row_under_asan(root, scenario, tmp_path):
    """The interactive view, built with ASan+UBSan, in tmux: a pool is one folded line; Enter
    unfolds its workers, a worker's drill-in names the family, e folds it back, q quits clean."""
    import test_tui
    need(os.path.exists(SAN), "no sanitizer build at %s (make SANITIZE=1)" % SAN)
    need(shutil.which("tmux") is not None, "tmux is not installed")
    interp = interpreters(minors=(), debian=True, pyenv=False)
    need(interp, "Debian's python3.11 is missing")
    s = scenario(interp[0], "family_pool.py", "--api", "pool", "--start-method", "fork", "--workers", "3",
                 "--duration", "60")
    s.truth(timeout=60)
    deadline = time.time() + 30
    while len(children(s.pid)) < 3 and time.time() < deadline:
        time.sleep(0.2)
    kids = children(s.pid)
    logs = tmp_path / "san"
    logs.mkdir()
    env = "ASAN_OPTIONS=detect_leaks=1:log_path={0}/asan UBSAN_OPTIONS=print_stacktrace=1:log_path={0}/ubsan".format(logs)
    old = test_tui.PYLEAK
    test_tui.PYLEAK = "env %s %s" % (env, os.path.abspath(SAN))
    t = test_tui.Tui(["--group", s.pid, "-d", "1", "--no-census"], width=140, height=30)
    test_tui.PYLEAK = old
    try:
        head = "fork:%d: 3 workers" % s.pid
        t.wait_text(head, timeout=60)
        scr = t.screen()
        assert not any(test_tui.row_line(scr.split("\n"), k) for k in kids), scr  # folded
        t.keys("Enter")
        scr = t.wait_text("[master]")
        lines = scr.split("\n")
        for k in kids:
            assert test_tui.row_line(lines, k), (k, scr)
        t.keys("Down")
        t.keys("Enter")
        t.wait_text("family fork:%d (this process:" % s.pid)
        t.keys("Escape")
        t.wait_text("[master]")
        t.keys("e")
        t.wait_for(lambda scr: "[master]" not in scr and head in scr, what="folded family")
        t.keys("h")
        t.wait_text("fold the selected family")
        t.keys("q")
        t.keys("q")
        rc = t.status(timeout=20)
    finally:
        t.close()
    reports = ""
    for name in sorted(os.listdir(str(logs))):
        with open(str(logs / name)) as f:
            reports += f.read()
    assert not reports, "sanitizer reports:\n" + reports[:4000]
    assert rc == 0
