# SPDX-License-Identifier: BSD-2-Clause
"""`pyleak record` + `pyleak report`: round trips against the scenarios' ground truth, crash safety,
the HTML in headless Chromium, the Chrome trace-event structure, and refusal of bad files.

A process's GC counters enter a trace at its baseline, the first reading taken outside a
collection, and every collection that ends after that reading is one recorded event: the number of
gc_events must equal the collections between the first sample with GC state and the idle truth.
The round trip attaches both to a running scenario and to one stopped (SIGSTOP) while the recorder
attaches, which may stop it inside a collection whose start the probes never see.
"""

import json
import os
import shutil
import signal
import sqlite3
import stat
import struct
import subprocess
import tempfile
import time
import zlib

import pytest

from conftest import PYLEAK, extra_interpreters, interpreters, need, resolve, run_pyleak

DEBIAN = [i for i in interpreters(pyenv=False) if i.name == "debian-3.11"]
PYENV = [i for i in interpreters(minors=((3, 12),), debian=False)]
ROUND_TRIP = DEBIAN + PYENV[:1]
EXTRA = extra_interpreters("record")  # sid 3.14 and 3.15: their GC state, census and verdicts in a trace


def _wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def _query(db, sql, args=()):
    """Read a trace that may be open for writing (WAL): a read-only connection."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def _nsamples(db):
    try:
        return _query(db, "SELECT count(*) FROM samples")[0][0]
    except sqlite3.Error:
        return 0


def _stop_recorder(rec, sig=signal.SIGINT):
    rec.send_signal(sig)
    try:
        out, err = rec.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        rec.kill()
        out, err = rec.communicate()
        raise AssertionError("pyleak record did not stop on %s: %s" % (sig, err))
    return rec.returncode, out, err


def _stopped(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def record_scenario(scenario, interp, script, args, db, interval=0.5, settle=1.5, freeze="stop"):
    """Start script and record it through its idle truth. freeze: "stop" (SIGSTOP while the
    recorder attaches and takes its first sample), "inside" (the script stops itself inside a
    collection, --stop-in-collection, and is continued after the first sample), None (running)."""
    s = scenario(interp, script, *(args + (("--stop-in-collection",) if freeze == "inside" else ())))
    s.truth()  # the interpreter is up and the scenario's setup has run
    if freeze == "stop":
        os.kill(s.pid, signal.SIGSTOP)
    elif freeze == "inside":
        _wait_for(lambda: _stopped(s.pid), 30, "the scenario to stop inside a collection")
    rec = None
    try:
        rec = subprocess.Popen([PYLEAK, "record", "-p", str(s.pid), "-o", db, "--interval", str(interval)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        _wait_for(lambda: rec.poll() is not None or _nsamples(db) >= 1, 60, "the first sample")
        assert rec.poll() is None, "pyleak record exited: %s" % rec.communicate()[1]
    finally:
        if freeze:
            os.kill(s.pid, signal.SIGCONT)
    truth = s.truth(phase="idle")
    time.sleep(settle)  # at least two intervals after the last collection
    rc, _, err = _stop_recorder(rec)
    assert rc == 0, err
    return s, truth, err


def report_json(db):
    return json.loads(run_pyleak("report", db, "--format", "json").stdout)


def _proc(rep, pid):
    for p in rep["processes"]:
        if p["pid"] == pid:
            return p
    raise AssertionError("pid %d not in the report: %s" % (pid, [p["pid"] for p in rep["processes"]]))


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="pyleak-rec-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


SCENARIOS = [("gc_mix.py", ("--duration", "3"), "stop"),
             ("gc_mix.py", ("--duration", "3"), None),
             ("gc_mix.py", ("--duration", "3"), "inside"),
             ("gc_saveall.py", ("--duration", "3", "--rate", "300", "--collect-every", "0.5"), "stop")]


@pytest.mark.parametrize("script,args,freeze", SCENARIOS,
                         ids=[s[0] + {"stop": "", None: "-running", "inside": "-inside-gc"}[s[2]]
                              for s in SCENARIOS])
@pytest.mark.parametrize("interp", ROUND_TRIP + EXTRA, ids=repr)
def test_round_trip(scenario, workdir, interp, script, args, freeze):
    db = os.path.join(workdir, "t.db")
    s, truth, err = record_scenario(scenario, interp, script, args, db, freeze=freeze)
    assert "wrote" in err and db in err

    # the file: 0600, a single file after a clean stop, integrity ok
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert not os.path.exists(db + "-wal")
    assert _query(db, "PRAGMA integrity_check")[0][0] == "ok"

    rep = report_json(db)
    assert rep["trace"]["schema_version"] == 2 and rep["trace"]["complete"] is True
    assert rep["trace"]["dropped_gc_events"] == 0
    p = _proc(rep, s.pid)
    assert p["gc_source"] == interp.tier
    assert p["python"] == truth["python"]
    stats = truth["gc_stats"]
    for g in range(3):
        assert p["gc"]["collections"][g] == stats[g]["collections"], (g, p["gc"], stats)
        assert p["gc"]["collected"][g] == stats[g]["collected"], (g, p["gc"], stats)
        assert p["gc"]["uncollectable"][g] == stats[g]["uncollectable"], (g, p["gc"], stats)
    assert p["gc"]["garbage"] == truth["garbage_len"]
    assert p["gc"]["thresholds"] == truth["gc_threshold"]

    if freeze == "inside":
        # stopped half way through a collection whose start the probes never saw: the first
        # sample cannot be the baseline (that collection will end without an event)
        assert _query(db, "SELECT collections0 FROM samples s JOIN processes p ON p.id = s.proc"
                          " WHERE p.pid = ? ORDER BY time LIMIT 1", (s.pid,))[0][0] is None
    # one event per collection after the baseline (the first sample with GC state), per generation
    first = _query(db, "SELECT collections0, collections1, collections2 FROM samples s JOIN processes p"
                       " ON p.id = s.proc WHERE p.pid = ? AND s.collections0 IS NOT NULL"
                       " ORDER BY time LIMIT 1", (s.pid,))[0]
    during = [stats[g]["collections"] - first[g] for g in range(3)]
    assert sum(during) > 0, "the scenario collected nothing while recorded"
    assert p["gc_during"]["collections"] == during
    assert p["events"]["count"] == during, (p["events"], during)
    assert p["events"]["unknown_gen"] == 0
    assert p["gc_events"] == sum(during)
    nev = _query(db, "SELECT count(*) FROM gc_events e JOIN processes p ON p.id = e.proc WHERE p.pid = ?",
                 (s.pid,))[0][0]
    assert nev == sum(during)
    # collected per event adds up to the counters' growth (the probes read generation_stats)
    got = _query(db, "SELECT sum(collected) FROM gc_events e JOIN processes p ON p.id = e.proc WHERE p.pid = ?",
                 (s.pid,))[0][0]
    first_collected = _query(db, "SELECT collected0 + collected1 + collected2 FROM samples s JOIN processes p"
                                 " ON p.id = s.proc WHERE p.pid = ? AND s.collected0 IS NOT NULL ORDER BY time LIMIT 1",
                             (s.pid,))[0][0]
    assert got == sum(stats[g]["collected"] for g in range(3)) - first_collected
    # pauses: counted, and percentiles ordered
    for g in range(3):
        q = p["pauses_us"][g]
        assert q["count"] == during[g]
        if q["count"]:
            assert 0 < q["p50"] <= q["p99"] <= q["max"]

    # the text report shows the same totals
    txt = run_pyleak("report", db).stdout
    for g in range(3):
        assert "gen%d: collections %d (+%d recorded)" % (g, stats[g]["collections"], during[g]) in txt
    assert "process %d" % s.pid in txt and "none recorded" in txt

    # csv: one header, one row per sample, the last row's counters are the truth
    rows = run_pyleak("report", db, "--format", "csv").stdout.splitlines()
    head = rows[0].split(",")
    nsamples = _query(db, "SELECT count(*) FROM samples")[0][0]
    assert len(rows) == 1 + nsamples
    last = dict(zip(head, rows[-1].split(",")))
    assert [int(last["collections%d" % g]) for g in range(3)] == [stats[g]["collections"] for g in range(3)]


def _png_pixels(path):
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) with zlib + struct: (w, h, rows)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xff
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xff
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 0xff
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def _chromium_run(html, extra, workdir):
    profile = tempfile.mkdtemp(prefix="pyleak-chromium-", dir=workdir)
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile,
           "--enable-logging=stderr", "--v=0", "--window-size=1200,900"] + extra + ["file://" + html]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=120)


def _console_errors(stderr):
    bad = []
    for line in stderr.splitlines():
        if "CONSOLE" in line or "Uncaught" in line:
            if "Uncaught" in line or "Error" in line:
                bad.append(line)
    return bad


@pytest.mark.parametrize("interp", DEBIAN, ids=repr)
def test_html_renders_in_chromium(scenario, workdir, interp):
    need(_chromium() is not None, "chromium is not installed (tools/deps.sh installs it)")
    db = os.path.join(workdir, "t.db")
    s, truth, _ = record_scenario(scenario, interp, "gc_mix.py", ("--duration", "3"), db)
    html = os.path.join(workdir, "report.html")
    run_pyleak("report", db, "--format", "html", "-o", html)
    with open(html) as f:
        page = f.read()
    # self-contained: no fetches of any kind
    for needle in ("src=\"http", "href=\"http", "@import", "fetch(", "XMLHttpRequest"):
        assert needle not in page, needle

    # the script ran to its end (it marks <body data-rendered="1">) and drew the charts
    dom = _chromium_run(html, ["--dump-dom"], workdir)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-rendered="1"' in dom.stdout, "the report's script did not finish: " + "\n".join(
        _console_errors(dom.stderr))
    assert dom.stdout.count("<svg") >= 5
    assert dom.stdout.count("<circle") == sum(st["collections"] for st in truth["gc_stats"]) - sum(
        _query(db, "SELECT collections0, collections1, collections2 FROM samples"
                   " WHERE collections0 IS NOT NULL ORDER BY time LIMIT 1")[0])
    assert "gen2" in dom.stdout and str(truth["gc_stats"][2]["collections"]) in dom.stdout
    assert not _console_errors(dom.stderr), _console_errors(dom.stderr)

    png = os.path.join(workdir, "shot.png")
    shot = _chromium_run(html, ["--screenshot=" + png], workdir)
    assert shot.returncode == 0 and os.path.exists(png), shot.stderr[-2000:]
    assert not _console_errors(shot.stderr), _console_errors(shot.stderr)
    w, h, bpp, rows = _png_pixels(png)
    assert (w, h) == (1200, 900)
    colors, nonwhite = set(), 0
    for y in range(0, h, 3):
        row = rows[y]
        for x in range(0, w * bpp, bpp * 3):
            px = row[x:x + 3]
            colors.add(px)
            if px != b"\xff\xff\xff":
                nonwhite += 1
    assert len(colors) > 50, "screenshot looks blank: %d colours" % len(colors)
    assert nonwhite > 0.02 * (h // 3) * (w // 3)


@pytest.mark.parametrize("interp", DEBIAN + PYENV[:1], ids=repr)
def test_chrome_trace_structure(scenario, workdir, interp):
    db = os.path.join(workdir, "t.db")
    s, truth, _ = record_scenario(scenario, interp, "gc_mix.py", ("--duration", "3"), db)
    out = os.path.join(workdir, "trace.json")
    run_pyleak("report", db, "--format", "chrome", "-o", out)
    with open(out) as f:
        doc = json.load(f)
    assert doc["displayTimeUnit"] == "ms"
    evs = doc["traceEvents"]
    xs = [e for e in evs if e.get("ph") == "X"]
    nev = _query(db, "SELECT count(*) FROM gc_events")[0][0]
    assert len(xs) == nev > 0
    last_ts = {}
    for e in xs:
        for k in ("ph", "ts", "dur", "pid", "tid", "name"):
            assert k in e, (k, e)
        assert e["pid"] == s.pid
        assert e["name"] in ("gc gen0", "gc gen1", "gc gen2")
        assert e["dur"] >= 0 and e["ts"] >= 0
        assert "collected" in e["args"] and "uncollectable" in e["args"]
        key = (e["pid"], e["tid"])
        assert e["ts"] >= last_ts.get(key, -1), "ts not monotonic on thread %s" % (key,)
        # slices of one thread do not overlap (one collection at a time)
        last_ts[key] = e["ts"] + e["dur"]
    gen2 = [e for e in xs if e["name"] == "gc gen2"]
    first2 = _query(db, "SELECT collections2 FROM samples WHERE collections2 IS NOT NULL ORDER BY time LIMIT 1")[0][0]
    assert len(gen2) == truth["gc_stats"][2]["collections"] - first2
    meta = [e for e in evs if e.get("ph") == "M" and e.get("name") == "process_name"]
    assert [m["pid"] for m in meta] == [s.pid] and "python" in meta[0]["args"]["name"]
    rss = [e for e in evs if e.get("ph") == "C" and e.get("name") == "rss"]
    assert len(rss) == _query(db, "SELECT count(*) FROM samples")[0][0]
    assert all(e["args"]["bytes"] > 0 for e in rss)


@pytest.mark.parametrize("interp", DEBIAN, ids=repr)
def test_kill_9_leaves_a_consistent_trace(scenario, workdir, interp):
    db = os.path.join(workdir, "t.db")
    s = scenario(interp, "gc_mix.py", "--duration", "60")
    s.truth()
    rec = subprocess.Popen([PYLEAK, "record", "-p", str(s.pid), "-o", db, "--interval", "0.3"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        _wait_for(lambda: rec.poll() is not None or _nsamples(db) >= 4, 60, "four samples")
        assert rec.poll() is None, rec.communicate()[1]
        before_samples = _nsamples(db)
        before_events = _query(db, "SELECT count(*) FROM gc_events")[0][0]
    finally:
        rec.kill()
        rec.communicate()
    assert rec.returncode == -signal.SIGKILL
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    # report reads it read-only as it was left (WAL and all), and says it did not end cleanly
    rep = report_json(db)
    assert rep["trace"]["complete"] is False
    p = _proc(rep, s.pid)
    assert p["samples"] >= before_samples and p["gc_events"] >= before_events > 0
    assert "did not end cleanly" in run_pyleak("report", db).stdout
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("SELECT count(*) FROM samples").fetchone()[0] >= before_samples
        assert con.execute("SELECT value FROM meta WHERE key = 'complete'").fetchone()[0] == "0"
    finally:
        con.close()


def test_refuses_overwrite(root, workdir, scenario):
    db = os.path.join(workdir, "exists.db")
    with open(db, "w") as f:
        f.write("precious")
    s = scenario(DEBIAN[0] if DEBIAN else PYENV[0], "gc_mix.py", "--duration", "60")
    s.truth()
    r = run_pyleak("record", "-p", s.pid, "-o", db, "--duration", "1", check=False)
    assert r.returncode == 1 and "exists" in r.stderr and "--force" in r.stderr
    with open(db) as f:
        assert f.read() == "precious"
    r = run_pyleak("record", "-p", s.pid, "-o", db, "--duration", "1", "--force")
    assert _query(db, "SELECT value FROM meta WHERE key = 'format'")[0][0] == "pyleak-trace"
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    # a trace without sites (none sampled: recorded with --no-bpf there is no collection probe)
    # gives empty collapsed output and says why on stderr
    nosites = db + ".nosites"
    run_pyleak("record", "-p", s.pid, "-o", nosites, "--duration", "1", "--no-bpf")
    c = run_pyleak("report", nosites, "--format", "collapsed")
    assert c.stdout == "" and "no allocation sites" in c.stderr


def _bad(path, *want):
    r = run_pyleak("report", path, check=False)
    assert r.returncode == 1, (path, r.returncode, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("pyleak: ") and r.stderr.count("\n") == 1, r.stderr
    assert any(w in r.stderr for w in want), r.stderr
    return r.stderr


def test_refuses_bad_files(root, workdir, scenario):
    db = os.path.join(workdir, "good.db")
    s = scenario(DEBIAN[0] if DEBIAN else PYENV[0], "gc_mix.py", "--duration", "60")
    s.truth()
    run_pyleak("record", "-p", s.pid, "-o", db, "--duration", "2", "--interval", "0.5")
    assert run_pyleak("report", db).returncode == 0

    text = os.path.join(workdir, "notes.txt")
    with open(text, "w") as f:
        f.write("this is not a trace\n" * 10)
    _bad(text, "not an SQLite file")
    empty = os.path.join(workdir, "empty.db")
    open(empty, "w").close()
    _bad(empty, "not an SQLite file")
    _bad(os.path.join(workdir, "missing.db"), "No such file")

    foreign = os.path.join(workdir, "foreign.db")
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t(a)")
    con.commit()
    con.close()
    _bad(foreign, "not a pyleak trace")

    newer = os.path.join(workdir, "newer.db")
    shutil.copy(db, newer)
    con = sqlite3.connect(newer)
    con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    _bad(newer, "newer than this pyleak")

    size = os.path.getsize(db)
    for frac in (0.5, 0.9):
        trunc = os.path.join(workdir, "trunc%d.db" % int(frac * 10))
        with open(db, "rb") as f, open(trunc, "wb") as g:
            g.write(f.read(int(size * frac)))
        _bad(trunc, "damaged", "truncated", "malformed")
    with open(db, "rb") as f, open(os.path.join(workdir, "head.db"), "wb") as g:
        g.write(f.read(50))
    _bad(os.path.join(workdir, "head.db"), "truncated")

    # scribbled pages in the middle of the file
    scr = os.path.join(workdir, "scribbled.db")
    with open(db, "rb") as f:
        data = bytearray(f.read())
    for off in range(4096, len(data), 4096):
        data[off + 8:off + 200] = b"\xa5" * 192
    with open(scr, "wb") as g:
        g.write(bytes(data))
    _bad(scr, "damaged", "malformed", "not a pyleak trace")

    # every format refuses the same way (no partial output)
    for fmt in ("json", "html", "csv", "chrome", "collapsed"):
        r = run_pyleak("report", text, "--format", fmt, check=False)
        assert r.returncode == 1 and r.stdout == ""
    r = run_pyleak("report", db, "--format", "nope", check=False)
    assert r.returncode == 2


@pytest.mark.parametrize("interp", ROUND_TRIP[:1] + EXTRA, ids=repr)
def test_census_and_suspects_recorded(scenario, workdir, interp):
    """Types, containers and leak suspects of the censuses reach the trace and the report: the
    leaking class with its exact idle count, its holder by name with its exact len, the verdict."""
    db = os.path.join(workdir, "leak.db")
    s, truth, _ = record_scenario(scenario, interp, "leak_connections.py", ("--duration", "40"), db,
                                  interval=1.0, settle=6.0)  # idle censuses (every >= 2 s) land
    p = _proc(report_json(db), s.pid)
    types = {t["name"]: t for t in p["types"]}
    conns = {c["name"]: c for c in p["containers"]}
    sus = {(x["kind"], x["name"]) for x in p["suspects"]}
    assert "__main__.Connection" in types, sorted(types)
    t = types["__main__.Connection"]
    assert t["last_count"] == truth["live"]["__main__.Connection"], (t, truth["live"])
    assert truth["rate"] * 60 / 2 <= t["per_min"] <= truth["rate"] * 60 * 2, t
    c = conns.get("__main__._CONNECTIONS")
    assert c is not None, sorted(conns)
    assert c["last_length"] == truth["container_len"], (c, truth["container_len"])
    assert ("type", "__main__.Connection") in sus, sus
    # Types are written once per census, not per interval.
    ncensus = _query(db, "SELECT count(DISTINCT time) FROM types")[0][0]
    nsamples = _query(db, "SELECT count(DISTINCT time) FROM samples")[0][0]
    assert 5 <= ncensus < nsamples, (ncensus, nsamples)
