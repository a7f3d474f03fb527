# SPDX-License-Identifier: BSD-2-Clause
"""`pyleak serve`: a real Prometheus scrapes it and sees gc.get_stats() of the targets; the
exposition passes `promtool check metrics`; concurrent and slow clients never stall the collector;
a non-loopback listen address needs --allow-remote.

Prometheus is Debian's package (tools/deps.sh installs it), run on loopback with its storage in a
temp dir; it reaches nothing but pyleak.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

try:
    from urllib.parse import quote
    from urllib.request import urlopen
except ImportError:  # pragma: no cover
    raise

import pytest

from conftest import (PYLEAK, Scenario, close, extra_interpreters, free_port, interpreters, log_tail, mallocstats,
                      need, resolve, rollup_rss, smaps_parts, stop_process)

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PYLEAK_DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "docs", "prometheus.md")

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """[(name, {labels}, float value)] of every sample line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, "malformed sample line: %r" % line
        labels = dict(LABEL_RE.findall(m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def find(samples, name, **labels):
    return [(l, v) for n, l, v in samples if n == name and all(l.get(k) == str(w) for k, w in labels.items())]


def http_get(port, path="/metrics", timeout=5.0):
    """Raw HTTP GET (HTTP/1.1 like Prometheus), read to EOF: (status, headers, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n\r\n"
                   % (path, port)).encode())
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict((k.strip().lower(), v.strip()) for k, v in (l.split(":", 1) for l in lines[1:]))
    assert int(headers["content-length"]) == len(body), "short body"
    return status, headers, body.decode()


class Serve(object):
    """`pyleak serve --listen 127.0.0.1:0` in the background; the port comes from its stderr."""

    def __init__(self, *args):
        self.err = tempfile.NamedTemporaryFile(prefix="pyleak-serve-", suffix=".err", delete=False)
        self.proc = subprocess.Popen([PYLEAK, "serve", "--listen", "127.0.0.1:0"] + [str(a) for a in args],
                                     stdout=subprocess.DEVNULL, stderr=self.err)
        self.port = None
        deadline = time.time() + 30
        while time.time() < deadline:
            m = re.search(r"serving http://127\.0\.0\.1:(\d+)/metrics", self.stderr())
            if m:
                self.port = int(m.group(1))
                return
            assert self.proc.poll() is None, "pyleak serve exited: " + self.stderr()
            time.sleep(0.05)
        raise AssertionError("pyleak serve did not start: " + self.stderr())

    def stderr(self):
        with open(self.err.name) as f:
            return f.read()

    def scrape(self, timeout=5.0):
        status, headers, body = http_get(self.port, timeout=timeout)
        assert status == 200
        assert headers["content-type"].startswith("text/plain; version=0.0.4")
        return body

    def samples(self):
        return parse_exposition(self.scrape())

    def wait_for(self, pred, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = pred(self.samples())
            if r:
                return r
            assert self.proc.poll() is None, "pyleak serve exited: " + self.stderr()
            time.sleep(0.1)
        raise AssertionError("condition not met in %ss; stderr: %s" % (timeout, self.stderr()))

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("pyleak serve did not stop on signal %d" % sig)
        return self.proc.returncode


class Prometheus(object):
    """Debian's Prometheus on loopback, scraping one target every second."""

    def __init__(self, target_port, tmpdir):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="prom-", dir=tmpdir)
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: pyleak\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % target_port)
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.proc = subprocess.Popen([PROMETHEUS, "--config.file=" + cfg,
                                      "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                                      "--web.listen-address=127.0.0.1:%d" % self.port,
                                      "--storage.tsdb.retention.time=1h", "--log.level=warn"],
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + 60
        while time.time() < deadline:
            assert self.proc.poll() is None, "prometheus exited: " + self.output()
            try:
                if urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=2).status == 200:
                    return
            except (IOError, OSError):
                pass
            time.sleep(0.2)
        raise AssertionError("prometheus not ready: " + self.output())

    def output(self):
        return log_tail(self.log)

    def query(self, expr):
        url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (self.port, quote(expr))
        d = json.loads(urlopen(url, timeout=10).read().decode())
        assert d["status"] == "success", d
        return d["data"]["result"]

    def wait_for(self, expr, pred, timeout=60):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.query(expr)
            if pred(last):
                return last
            time.sleep(0.2)
        raise AssertionError("prometheus: %s never satisfied the condition; last %s; log %s"
                             % (expr, last, self.output()))

    def stop(self):
        stop_process(self.proc, 20)
        self.log.close()


@pytest.fixture
def procs():
    """Everything a test starts, stopped at the end also on failure (last started first)."""
    started = []
    yield started
    for p in reversed(started):
        try:
            p.stop()
        except Exception:  # noqa: BLE001 - the test's own failure matters more
            pass


def by_gen(result):
    return dict((r["metric"]["generation"], float(r["value"][1])) for r in result)


PROM_MATRIX = (interpreters(minors=(), debian=True) + interpreters(minors=((3, 12),), debian=False)[:1]
               + extra_interpreters("serve"))


@pytest.mark.parametrize("interp", PROM_MATRIX, ids=repr)
def test_prometheus_scrapes_gc_counters(interp, root, scenario, procs, tmp_path):
    need(os.path.exists(PROMETHEUS), "prometheus is not installed (tools/deps.sh installs it)")
    need(os.path.exists(PROMTOOL), "promtool is not installed (package prometheus)")
    srv = Serve("--interval", "0.5")
    procs.append(srv)
    prom = Prometheus(srv.port, str(tmp_path))
    procs.append(prom)
    prom.wait_for('up{job="pyleak"}', lambda r: r and r[0]["value"][1] == "1")  # first scrape ~5 s after start
    # A sleeper of the same interpreter first, so the binary's GC probes are attached before the
    # scenario's first collection and the pause histogram counts every collection.
    warm = subprocess.Popen([resolve(interp), "-c", "import time; time.sleep(600)"])
    try:
        srv.wait_for(lambda s: find(s, "pyleak_gc_collections_total", pid=warm.pid))
        s = scenario(interp, "gc_mix.py", "--duration", "3")
        truth = s.truth(phase="idle", timeout=90)
    finally:
        warm.kill()
        warm.wait()
    pid = s.pid
    # Prometheus holds a sample from a refresh that started after the idle truth was written.
    prom.wait_for('pyleak_collector_last_refresh_timestamp_seconds{job="pyleak"}',
                  lambda r: r and float(r[0]["value"][1]) > truth["time"] + 0.05)
    assert float(prom.query('up{job="pyleak"}')[0]["value"][1]) == 1

    stats = truth["gc_stats"]
    coll = prom.query('pyleak_gc_collections_total{pid="%d"}' % pid)
    assert len(coll) == 3, coll
    labels = coll[0]["metric"]
    assert labels["python"] == truth["python"]
    assert labels["gc_source"] == interp.tier
    assert labels["comm"] == os.path.basename(resolve(interp))[:15]
    got = by_gen(coll)
    for g in range(3):
        assert got[str(g)] == stats[g]["collections"], (g, got, stats)
    got = by_gen(prom.query('pyleak_gc_collected_total{pid="%d"}' % pid))
    for g in range(3):
        assert got[str(g)] == stats[g]["collected"], (g, got, stats)
    got = by_gen(prom.query('pyleak_gc_uncollectable_total{pid="%d"}' % pid))
    for g in range(3):
        assert got[str(g)] == stats[g]["uncollectable"], (g, got, stats)
    got = by_gen(prom.query('pyleak_gc_threshold{pid="%d"}' % pid))
    assert [got[str(g)] for g in range(3)] == list(truth["gc_threshold"])
    assert float(prom.query('pyleak_gc_enabled{pid="%d"}' % pid)[0]["value"][1]) == int(truth["gc_enabled"])
    assert float(prom.query('pyleak_gc_garbage_objects{pid="%d"}' % pid)[0]["value"][1]) == truth["garbage_len"]
    assert float(prom.query('pyleak_gc_pauses_estimated{pid="%d"}' % pid)[0]["value"][1]) == 0
    assert sum(stats[g]["collections"] for g in range(3)) > 20, "scenario ran too few collections"

    # The histogram: every collection since attach is one observation in its generation, and
    # the +Inf bucket is the count.
    counts = by_gen(prom.query('pyleak_gc_pause_seconds_count{pid="%d"}' % pid))
    inf = by_gen(prom.query('pyleak_gc_pause_seconds_bucket{pid="%d",le="+Inf"}' % pid))
    assert counts == inf
    if interp.minor <= (3, 12):  # 3.13's GENERATION_AUTO hides the generation until registered
        for g in range(3):
            assert counts[str(g)] == stats[g]["collections"], (g, counts, stats)
    p99 = prom.query('histogram_quantile(0.99, pyleak_gc_pause_seconds_bucket{pid="%d",generation="0"})' % pid)
    assert 0 < float(p99[0]["value"][1]) < 1.0, p99
    gc_time = float(prom.query('pyleak_gc_time_seconds_total{pid="%d"}' % pid)[0]["value"][1])
    pause_sum = sum(by_gen(prom.query('pyleak_gc_pause_seconds_sum{pid="%d"}' % pid)).values())
    assert gc_time > 0 and abs(gc_time - pause_sum) <= 0.001 + 0.01 * gc_time, (gc_time, pause_sum)

    # Every query of the Grafana dashboard parses and finds this process's series (rate() needs
    # two samples).
    prom.wait_for('count_over_time(pyleak_gc_collections_total{pid="%d",generation="0"}[1m])' % pid,
                  lambda r: r and float(r[0]["value"][1]) >= 2)
    with open(os.path.join(os.path.dirname(PYLEAK_DOCS), "grafana-dashboard.json")) as f:
        dash = json.load(f)
    for panel in dash["panels"]:
        for target in panel["targets"]:
            expr = (target["expr"].replace("$instance", ".*").replace("$pid", str(pid))
                    .replace("$__rate_interval", "1m"))
            assert prom.query(expr), (panel["title"], expr)

    # What Prometheus scraped is valid exposition by promtool's rules as well.
    body = srv.scrape()
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=body, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert p.returncode == 0, p.stdout
    assert find(parse_exposition(body), "pyleak_gc_pause_seconds_bucket", pid=pid)

    # A process that exits: its series are simply no longer exported.
    s.stop()
    srv.wait_for(lambda smp: not [1 for _, l, _ in smp if l.get("pid") == str(pid)], timeout=10)
    assert srv.stop() == 0


MEM_MATRIX = interpreters(minors=((3, 8), (3, 9), (3, 10), (3, 11), (3, 12), (3, 13)), stripped=True)


def test_prometheus_memory_breakdown(root, procs, tmp_path):
    """The Memory tab's RSS breakdown as gauges, scraped by a real Prometheus, against ground truth:
    pymalloc arenas and bytes in allocated blocks equal sys._debugmallocstats() in the target (arena
    table on pyenv builds, the scan on stripped ones), the parts add up to RSS and match the test's
    own reading of smaps. One serve and one Prometheus for every interpreter at once."""
    need(os.path.exists(PROMETHEUS), "prometheus is not installed (tools/deps.sh installs it)")
    need(MEM_MATRIX, "no interpreter for the memory matrix")
    scen = []
    for interp in MEM_MATRIX:
        d = str(tmp_path / ("mem-" + interp.name))
        os.mkdir(d)
        s = Scenario(interp, "mallocstats.py", ["--objects", "100000"], tmpdir=d)
        procs.append(s)
        scen.append((interp, s))
    for _, s in scen:
        s.truth(phase="idle")
    # The targets' own counts before pyleak looks: an idle target is not censused again until
    # something moves or 60 s pass (analysis.c IDLE_RECENSUS_S), so the first measurement after
    # serve starts is the one to compare; a retry asks again and waits for the next census.
    first_ms = dict((s.pid, mallocstats(s, time.time())) for _, s in scen)
    srv = Serve("--interval", "0.5", "-p", ",".join(str(s.pid) for _, s in scen))
    procs.append(srv)
    prom = Prometheus(srv.port, str(tmp_path))
    procs.append(prom)

    def one(expr):
        r = prom.query(expr)
        assert len(r) == 1, (expr, r)
        return float(r[0]["value"][1])

    for interp, s in scen:
        pid = s.pid
        for attempt in range(3):
            ms = first_ms[pid] if attempt == 0 else mallocstats(s, time.time())
            # A measurement (a census with the arena scan) taken after the target's own count.
            prom.wait_for('pyleak_memory_measured_timestamp_seconds{pid="%d"}' % pid,
                          lambda r: r and float(r[0]["value"][1]) > ms["time"], timeout=150)
            arenas = one('pyleak_pymalloc_arenas{pid="%d"}' % pid)
            used = one('pyleak_pymalloc_block_bytes{pid="%d",state="used"}' % pid)
            if arenas == ms["arenas"] and used == ms["bytes_in_allocated_blocks"]:
                break
        print("%s: %d arenas, %d bytes in allocated blocks (target: %d, %d)"
              % (interp.name, arenas, used, ms["arenas"], ms["bytes_in_allocated_blocks"]))
        assert arenas == ms["arenas"], (interp.name, arenas, ms["arenas"])
        assert used == ms["bytes_in_allocated_blocks"], (interp.name, used, ms["bytes_in_allocated_blocks"])
        found = dict((r["metric"]["source"], float(r["value"][1]))
                     for r in prom.query('pyleak_pymalloc_found{pid="%d"}' % pid))
        want = "table" if interp.name.startswith("pyenv") else "scan"
        assert found == dict((k, 1.0 if k == want else 0.0) for k in ("table", "scan", "none")), (interp.name, found)
        if want == "scan":
            assert one('pyleak_pymalloc_scan_confidence{pid="%d"}' % pid) > 0.99
        blocks = one('pyleak_pymalloc_blocks{pid="%d",state="used"}' % pid)
        assert blocks >= s.truth(phase="idle")["objects"], (interp.name, blocks)

        # The parts: disjoint, adding up to RSS, each as the test reads smaps (an idle target).
        parts = dict((r["metric"]["part"], float(r["value"][1]))
                     for r in prom.query('pyleak_memory_bytes{pid="%d"}' % pid))
        assert sorted(parts) == sorted(["pymalloc_arenas", "malloc_heap", "anon_other", "stacks", "file", "other"])
        mine = smaps_parts(pid)
        total = sum(parts.values())
        assert close(total, rollup_rss(pid)), (interp.name, parts, rollup_rss(pid))
        assert close(parts["malloc_heap"], mine["heap"]), (parts, mine)
        assert close(parts["file"], mine["file"]), (parts, mine)
        assert close(parts["stacks"], mine["stack"] + mine["thread_stack"]), (parts, mine)
        assert close(parts["pymalloc_arenas"] + parts["anon_other"], mine["anon"]), (parts, mine)
        assert used * 0.95 <= parts["pymalloc_arenas"] <= one('pyleak_pymalloc_block_bytes{pid="%d",state="arenas"}'
                                                               % pid), (parts, used)
        objs = dict((r["metric"]["tracking"], float(r["value"][1]))
                    for r in prom.query('pyleak_python_object_bytes{pid="%d"}' % pid))
        assert objs["tracked"] > 0 and objs["untracked"] > 0, objs
        assert one('pyleak_python_untracked_objects{pid="%d"}' % pid) > 0

    # Bounded cardinality: the memory families add the same fixed number of series per process.
    body = srv.scrape()
    per_pid = {}
    for name, labels, _ in parse_exposition(body):
        if name.startswith(("pyleak_memory_", "pyleak_pymalloc_", "pyleak_python_")):
            per_pid[labels["pid"]] = per_pid.get(labels["pid"], 0) + 1
    assert set(per_pid.values()) <= {23, 22}, per_pid  # 22: the arena table has no scan confidence
    if os.path.exists(PROMTOOL):
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=body, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        assert p.returncode == 0, p.stdout


def test_promtool_accepts_every_tier(root, scenario, procs):
    """promtool lint on an exposition with a usdt, an uprobe and a poll-tier process at once."""
    need(os.path.exists(PROMTOOL), "promtool is not installed (package prometheus)")
    interps = (interpreters(minors=(), debian=True) + interpreters(minors=((3, 12),), debian=False)[:1]
               + interpreters(minors=(), debian=False, pyenv=False, stripped=True))
    need(len(interps) == 3, "needs Debian's python3.11, pyenv 3.12 and objcopy")
    srv = Serve("--interval", "0.5")
    procs.append(srv)
    scns = [scenario(i, "gc_mix.py", "--duration", "1") for i in interps]
    for s in scns:
        s.truth(phase="idle", timeout=90)
    # discovery of three tiers at once (the stripped copy through the poll tier) took over 30 s
    # once in CI, right after the sanitizer runs (4 s here); this waits for discovery, not speed
    smp = srv.wait_for(lambda smp: all(find(smp, "pyleak_gc_pauses_estimated", pid=s.pid) for s in scns) and smp,
                       timeout=90)
    est = dict((i.tier, find(smp, "pyleak_gc_pauses_estimated", pid=s.pid)[0][1]) for i, s in zip(interps, scns))
    assert est == {"usdt": 0, "uprobe": 0, "poll": 1}, [find(smp, "pyleak_gc_pauses_estimated", pid=s.pid) for s in scns]
    body = srv.scrape()
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=body, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert p.returncode == 0, p.stdout
    # poll tier: exact count in +Inf, no finite buckets
    poll = scns[2].pid
    assert [l["le"] for l, _ in find(parse_exposition(body), "pyleak_gc_pause_seconds_bucket", pid=poll,
                                     generation=0)] == ["+Inf"]
    assert srv.stop() == 0


def refresh_state(body):
    smp = parse_exposition(body)
    return (find(smp, "pyleak_collector_refreshes_total")[0][1],
            find(smp, "pyleak_collector_last_refresh_timestamp_seconds")[0][1],
            find(smp, "pyleak_scrapes_total")[0][1])


def test_concurrent_and_slow_clients_do_not_stall(root, procs):
    interval = 0.5
    srv = Serve("--interval", interval)
    procs.append(srv)
    addr = ("127.0.0.1", srv.port)
    stop = threading.Event()

    # More silent connections than the server has client slots (64): the oldest silent ones
    # give way, so a real scrape is still answered at once.
    idle = [socket.create_connection(addr, timeout=10) for _ in range(70)]
    t = time.time()
    srv.scrape(timeout=2)
    # a server that waited on a silent client would need its 3 s read timeout first (the bounds
    # here are the server's own timeouts, not speed: CI machines run loaded)
    assert time.time() - t < 2.5

    # One client that sends its request one byte per second (slower than the 3 s read timeout
    # allows), and 20 threads scraping as fast as they can.
    dribble = {"closed_after": None}

    def dribbler():
        s = socket.create_connection(addr, timeout=10)
        t0 = time.time()
        try:
            for ch in b"GET /metrics HTTP/1.0\r\n\r\n":
                if stop.is_set():
                    return
                s.send(bytes([ch]))
                time.sleep(1.0)
        except OSError:
            pass
        finally:
            try:
                s.settimeout(10)
                s.recv(1)
            except OSError:
                pass
            dribble["closed_after"] = time.time() - t0
            s.close()

    results = {"ok": 0, "errors": []}
    lock = threading.Lock()

    def scraper():
        while not stop.is_set():
            try:
                status, _, body = http_get(srv.port, timeout=5)
                assert status == 200 and "pyleak_collector_refreshes_total" in body
                with lock:
                    results["ok"] += 1
            except Exception as e:  # noqa: BLE001
                with lock:
                    results["errors"].append(repr(e))

    threads = [threading.Thread(target=dribbler)] + [threading.Thread(target=scraper) for _ in range(20)]
    for th in threads:
        th.daemon = True
        th.start()
    try:
        first = refresh_state(srv.scrape())
        t_start = time.time()
        seen_ts = [first[1]]
        latencies = []
        while time.time() - t_start < 6.0:
            t = time.time()
            st = refresh_state(srv.scrape(timeout=5))
            latencies.append(time.time() - t)
            if st[1] != seen_ts[-1]:
                seen_ts.append(st[1])
            time.sleep(0.2)
        last = refresh_state(srv.scrape())
        elapsed = time.time() - t_start
    finally:
        stop.set()
        for th in threads:
            th.join(15)
    for s in idle:
        s.close()
    # The exporter's scrape counter, read after every scraper thread stopped, covers them all.
    final = refresh_state(srv.scrape())

    assert not results["errors"], results["errors"][:5]
    assert results["ok"] > 100, results
    # The collector kept its cadence: refreshes advanced at the interval while all that ran.
    # The collector kept refreshing while all that ran: a refresh or a scrape stuck behind the
    # dribbler would wait for the 3 s read timeout at every byte.
    assert last[0] - first[0] >= 0.4 * elapsed / interval, (first, last, elapsed)
    assert max(b - a for a, b in zip(seen_ts, seen_ts[1:])) < 2.5, seen_ts
    assert max(latencies) < 2.5, latencies
    assert final[2] >= results["ok"], (final, results["ok"])
    # ... and the dribbler was cut off by the read timeout, not served after 25 s.
    assert dribble["closed_after"] is not None and dribble["closed_after"] < 8, dribble
    assert srv.stop(signal.SIGTERM) == 0


def test_http_paths(root, procs):
    srv = Serve("--interval", "1")
    procs.append(srv)
    status, headers, body = http_get(srv.port, "/")
    assert status == 200 and 'href="/metrics"' in body and headers["content-type"].startswith("text/html")
    assert http_get(srv.port, "/nope")[0] == 404
    assert http_get(srv.port, "/metrics?x=1")[0] == 200
    # an oversized request is refused, not buffered
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 9000)
    except OSError:
        pass
    data = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except OSError:
        pass
    s.close()
    assert data.startswith(b"HTTP/1.0 431"), data[:80]
    assert srv.stop() == 0


@pytest.mark.parametrize("listen", ["0.0.0.0:9464", "[::]:9464", "192.0.2.1:9464"])
def test_non_loopback_needs_allow_remote(listen):
    p = subprocess.run([PYLEAK, "serve", "--listen", listen], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=30)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "non-loopback" in p.stderr and "--allow-remote" in p.stderr, p.stderr


def test_allow_remote_binds(root, procs):
    """With --allow-remote a wildcard address is served (here reached through loopback)."""
    port = free_port()
    p = subprocess.Popen([PYLEAK, "serve", "--listen", "0.0.0.0:%d" % port, "--allow-remote", "--interval", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    class Stopper(object):
        def stop(self):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                p.wait(20)
    procs.append(Stopper())
    deadline = time.time() + 30
    while True:
        try:
            status, _, body = http_get(port)
            break
        except OSError:
            assert p.poll() is None and time.time() < deadline, p.stderr.read().decode()
            time.sleep(0.1)
    assert status == 200 and "pyleak_build_info" in body
    p.send_signal(signal.SIGINT)
    assert p.wait(20) == 0
