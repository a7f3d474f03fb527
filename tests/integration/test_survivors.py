# SPDX-License-Identifier: BSD-2-Clause
"""Survivor sampling: the sites of the sampled objects that stay alive, against
tests/scenarios/survivors.py, which allocates one type (__main__.Record) in two places: a leak in
handle_request() and 5x as many in parse_batch() batches that die (garbage cycles, freed by the
collector), plus a distinctive __main__.Marker only in make_marker().

What is checked, per interpreter of the matrix:
  - the plain allocation profile (sites) is dominated by parse_batch;
  - the survivors' top site of __main__.Record is handle_request, with >= 80% of its alive samples,
    and the type suspect's evidence says so;
  - the pairing against the scenario's own knowledge: the alive Record samples' addresses at the
    leak site are id()s of leaked Records, no other site holds one (a dead churn sample whose
    address a leaked Record took), and every sampled Marker was allocated in make_marker.

3.12+: the sampled stack is the one at the next bytecode boundary after the allocation (its leaf
is Record.__init__, called from the allocating line); <= 3.11 the allocating call itself.
"""

import json
import os
import signal
import time

import pytest

from conftest import interpreters, proc_entry, pyleak_json_lines, run_pyleak

MATRIX = interpreters(feature="survivors")
REFRESHES = 16  # x 2 s: ~15 censuses


def through(frames, func):
    return any(f["function"] == func or f["function"].endswith("." + func) for f in frames)


def leak_rate(interp):
    """Leaked Records per second: a leak sample needs a young collection started in
    handle_request, one per ~threshold0 leak allocations (700; 2000 from 3.13): 3x the rate on
    3.13 gives as many leak samples in the same time."""
    return "900" if interp.minor >= (3, 13) else "300"


def run_scenario(scenario, interp, *extra):
    s = scenario(interp, "survivors.py", "--cycles", "--ids", "--rate", leak_rate(interp))
    s.truth()
    time.sleep(1.0)
    snaps = pyleak_json_lines("top", "-b", "--json", "-d", "2", "-n", str(REFRESHES), "-p", s.pid, *extra,
                              timeout=240)
    truth = s.refresh_truth()
    return s, snaps, truth


def record_type(surv, name):
    for t in surv["types"]:
        if t["type"] == name:
            return t
    return None


@pytest.mark.parametrize("interp", MATRIX, ids=repr)
def test_survivor_sites_name_the_leak(scenario, interp):
    s, snaps, truth = run_scenario(scenario, interp)
    p = proc_entry(snaps[-1], s.pid)
    surv = p["survivors"]
    assert surv is not None, p.get("note")
    assert surv["pairing"] == ("newest_young" if interp.minor >= (3, 12) else "next_first_young")
    assert surv["site_is"] == ("next bytecode boundary" if interp.minor >= (3, 12) else "allocating call")
    for k in ("slots", "ring", "queue", "store", "table"):
        assert surv["full"][k] == 0, surv["full"]
    leak, churn = truth["sites"]["leak"]["function"], truth["sites"]["churn"]["function"]

    # the plain allocation profile: collections are triggered mostly by the churn
    prof_leak = sum(st["count"] for st in p["sites"]["stacks"] if through(st["frames"], leak))
    prof_churn = sum(st["count"] for st in p["sites"]["stacks"] if through(st["frames"], churn))
    assert prof_churn > 2 * prof_leak, (prof_churn, prof_leak)

    # the pairing against what the scenario knows
    markers = record_type(surv, "__main__.Marker")
    for site in (markers or {}).get("sites", []):
        assert through(site["frames"], truth["sites"]["marker"]["function"]), site
    rec = record_type(surv, "__main__.Record")
    assert rec is not None and rec["sampled"] > 0, surv
    leaked = set(truth["leaked_ids"])
    for site in rec["sites"]:
        objs = [int(a, 16) for a in site["objects"]]
        if through(site["frames"][:2], leak):
            assert all(o in leaked for o in objs), (site, "not a leaked Record")
        else:
            assert not [o for o in objs if o in leaked], (site, "a leaked Record counted at another site")
        for f in site["frames"]:
            assert f["function"] not in (truth["sites"]["marker"]["function"],), site

    assert rec["alive"] >= 5, rec
    top = max(rec["sites"], key=lambda st: st["alive"])
    assert through(top["frames"][:2], leak), top
    assert top["share"] >= 0.8, rec["sites"]
    # ... and the type suspect names that site in its evidence
    sus = [x for x in p["suspects"] if x["name"] == "__main__.Record"]
    assert sus, p["suspects"]
    ss = sus[0]["survivor_site"]
    assert ss and leak in ss["site"] and ss["share"] >= 0.8, sus[0]
    assert "of surviving samples" in sus[0]["evidence"] and leak in sus[0]["evidence"], sus[0]["evidence"]


@pytest.mark.parametrize("interp", [i for i in MATRIX if i.name == "debian-3.11"] or MATRIX[:1], ids=repr)
def test_no_survivors_flag_and_collapsed(scenario, interp):
    s = scenario(interp, "survivors.py", "--cycles", "--rate", "300")
    s.truth()
    time.sleep(1.0)
    # 6 s: the scenario starts a young collection at least every ~2.3 s (one per 700 leak
    # allocations between its churn batches; Debian 3.11)
    off = pyleak_json_lines("top", "-b", "--json", "-d", "1", "-n", "6", "-p", s.pid, "--no-survivors")
    assert proc_entry(off[-1], s.pid)["survivors"] is None
    assert proc_entry(off[-1], s.pid)["sites"]["captured"] > 0  # sites still sampled
    out = run_pyleak("top", "-b", "-d", "2", "-n", "12", "-p", s.pid, "--format", "collapsed", "--sites",
                     "survivors", timeout=120).stdout.splitlines()
    assert out, "no survivor stacks"
    total = leak = 0
    for line in out:
        stack, count = line.rsplit(" ", 1)
        frames = stack.split(";")
        assert frames[0] in ("__main__.Record", "__main__.Marker", "list", "dict") or "." in frames[0], frames
        total += int(count)
        if frames[0] == "__main__.Record" and any(f.endswith(" handle_request") for f in frames):
            leak += int(count)
    assert total > 0 and leak >= 0.8 * sum(int(l.rsplit(" ", 1)[1]) for l in out
                                            if l.startswith("__main__.Record;")), out


def _chromium_dom(html, fragment, workdir):
    import shutil
    import subprocess
    import tempfile
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        return None
    profile = tempfile.mkdtemp(prefix="pyleak-chromium-", dir=workdir)
    p = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run",
                        "--user-data-dir=" + profile, "--dump-dom", "file://" + html + fragment],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


@pytest.mark.parametrize("interp", [i for i in MATRIX if i.name == "debian-3.11"] or MATRIX[:1], ids=repr)
def test_recorded_reported_and_replayed(scenario, interp, tmp_path):
    import re
    from conftest import need
    s = scenario(interp, "survivors.py", "--cycles", "--rate", "300")
    truth = s.truth()
    time.sleep(1.0)
    db = str(tmp_path / "surv.db")
    run_pyleak("record", "-p", s.pid, "-o", db, "--duration", "26", "--interval", "2", timeout=180)
    leak = truth["sites"]["leak"]["function"]

    text = run_pyleak("report", db).stdout
    sec = text.split("survivors (sampled objects still alive")[1]
    first = [l for l in sec.splitlines()[2:] if l.strip()][0]
    assert "__main__.Record" in first and first.rstrip().endswith(" " + leak), first

    rep = json.loads(run_pyleak("report", db, "--format", "json").stdout)
    proc = [p for p in rep["processes"] if p["pid"] == s.pid][0]
    rec = [x for x in proc["survivors"] if x["type"] == "__main__.Record"]
    alive = sum(x["alive"] for x in rec)
    top = max(rec, key=lambda x: x["alive"])
    assert alive >= 3 and top["stack"].endswith(" " + leak) and top["alive"] >= 0.8 * alive, rec
    sus = [x for x in proc["suspects"] if x["name"] == "__main__.Record"]
    assert sus and "of surviving samples" in sus[-1]["evidence"] and leak in sus[-1]["evidence"], sus

    coll = run_pyleak("report", db, "--format", "collapsed", "--sites", "survivors").stdout.splitlines()
    assert any(l.startswith("__main__.Record;") and (" %s " % leak) in (l.rsplit(";", 1)[1] + " ") for l in coll), coll

    # html: both flame graphs render; a click on the leak's frame zooms the survivors' one to it
    html = str(tmp_path / "surv.html")
    run_pyleak("report", db, "--format", "html", "-o", html)
    page = open(html).read()
    for needle in ("src=\"http", "href=\"http", "@import", "fetch(", "XMLHttpRequest"):
        assert needle not in page, needle
    dom = _chromium_dom(html, "#fg-flame=survivors&fg-click=" + leak, str(tmp_path))
    need(dom is not None, "chromium is not installed")
    assert 'data-rendered="1"' in dom
    svgs = re.findall(r'<svg[^>]*class="flame-svg"[^>]*>', dom)
    assert len(svgs) == 2, svgs
    assert 'data-zoom="all"' in svgs[0], svgs[0]  # the allocation-site flame graph, not clicked
    m = re.search(r'data-zoom="([^"]*)"', svgs[1])
    assert m and m.group(1).endswith(" " + leak), svgs[1]
    zoomed = re.findall(r'<rect x="0.0" y="\d+" width="960.0"[^>]*data-name="[^"]*%s"' % leak, dom)
    assert zoomed, "the clicked frame is not full width after the zoom"
    # without a click neither graph is zoomed (the survivors' one may be all the leak's chain:
    # then its frames are full width anyway)
    unzoomed = _chromium_dom(html, "", str(tmp_path))
    svgs = re.findall(r'<svg[^>]*class="flame-svg"[^>]*>', unzoomed)
    assert len(svgs) == 2 and all('data-zoom="all"' in x for x in svgs), svgs

    # a schema-1 trace (before the survivors table) still reads: no survivors, same sites
    import shutil
    import sqlite3
    old = str(tmp_path / "v1.db")
    shutil.copy(db, old)
    con = sqlite3.connect(old)
    con.execute("DROP TABLE survivors")
    con.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    con.commit()
    con.close()
    v1 = json.loads(run_pyleak("report", old, "--format", "json").stdout)
    v1p = [p for p in v1["processes"] if p["pid"] == s.pid][0]
    assert v1p["survivors"] == [] and v1p["sites"] == proc["sites"], v1p["survivors"]
    assert run_pyleak("report", old, "--format", "collapsed", "--sites", "survivors").stdout == ""

    # replay: tests/integration/test_replay.py test_replay_survivor_evidence


@pytest.mark.parametrize("interp", [i for i in MATRIX if i.name in ("debian-3.11", "pyenv-3.12.1")], ids=repr)
def test_survivors_under_sanitizers(scenario, interp, tmp_path):
    """top -b --json and record -> report with the ASan+UBSan build: survivor samples are taken,
    settled by censuses and written, with no sanitizer report."""
    import subprocess
    from conftest import ROOT, need
    san = os.environ.get("PYLEAK_SAN", os.path.join(ROOT, ".output-san", "pyleak"))
    need(os.path.exists(san), "no sanitizer build at %s (make SANITIZE=1)" % san)
    s = scenario(interp, "survivors.py", "--cycles", "--rate", "300")
    s.truth()
    time.sleep(1.0)
    logs = tmp_path / "san"
    logs.mkdir()
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:log_path=%s/asan" % logs,
               UBSAN_OPTIONS="print_stacktrace=1:log_path=%s/ubsan" % logs)
    p = subprocess.run([san, "top", "-b", "--json", "-d", "2", "-n", "10", "-p", str(s.pid)], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=240)
    assert p.returncode == 0, p.stderr[-2000:]
    last = json.loads(p.stdout.splitlines()[-1])
    surv = proc_entry(last, s.pid)["survivors"]
    assert surv and surv["sampled"] > 0 and surv["censuses"] > 0, surv
    db = str(tmp_path / "san.db")
    for args in (["record", "-p", str(s.pid), "-o", db, "--duration", "10", "--interval", "2"],
                 ["report", db], ["report", db, "--format", "html", "-o", str(tmp_path / "r.html")],
                 ["report", db, "--format", "collapsed", "--sites", "survivors"]):
        q = subprocess.run([san] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=240)
        assert q.returncode == 0, (args, q.stderr[-2000:])
    reports = "".join(open(str(logs / n)).read() for n in sorted(os.listdir(str(logs))))
    assert not reports, "sanitizer reports:\n" + reports[:4000]
