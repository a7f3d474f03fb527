# SPDX-License-Identifier: BSD-2-Clause
"""top's retention chains of the type suspects (analysis/chains.c), checked link by link against
the chain the target computes with gc.get_referrers (tests/scenarios/leak_chains.py), the list and
dict inside each Connection grouped under it, and a control: once the holder is replaced, the old
chain is never shown again (a census after the break gives "chain lost" or the new chain).

One scenario per interpreter of the matrix (free-threaded builds too: the search starts from the
objects of their mimalloc heaps), all watched by one `top -b --json`."""

import json
import os
import re
import signal
import subprocess
import threading
import time

from conftest import PYLEAK, Scenario, interpreters

MATRIX = interpreters(feature="leaks")
ARGS = ["-d", "1", "--census-budget", "20", "--chain-interval", "3"]


class Watch(object):
    def __init__(self, pids, extra=()):
        self.snaps = []
        self.proc = subprocess.Popen([PYLEAK, "top", "-b", "--json"] + ARGS + list(extra) +
                                     ["-p", ",".join(str(p) for p in pids)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        self.t = threading.Thread(target=self._read)
        self.t.daemon = True
        self.t.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.strip():
                self.snaps.append(json.loads(line))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.t.join(5)
        return self.proc.returncode, self.proc.stderr.read()[-3000:]


def entry(snap, pid):
    for p in snap["processes"]:
        if p["pid"] == pid:
            return p
    return None


def suspects(p):
    return {(s["kind"], s["name"]): s for s in p.get("suspects") or []}


def grouped(p):
    """The Connection suspect with a found chain and the list and dict under it, or None."""
    sus = suspects(p)
    c = sus.get(("type", "__main__.Connection"))
    if not c or not c["chain"] or c["chain"]["status"] != "found":
        return None
    for t in ("list", "dict"):
        m = sus.get(("type", t))
        if not m or m["explained_by"] != "__main__.Connection" or t not in c["explains"]:
            return None
    return c


def truth_text(chain, addr):
    """The truth's chain in pyleak's text form, one element per ' → '-separated link."""
    out = []
    root = chain["root"]
    assert root["kind"] == "module", chain
    head = "sys.modules['%s'].__dict__" % root["module"]
    for i, lk in enumerate(chain["links"]):
        if lk["kind"] == "item":
            edge = "['%s']" % lk["key"]
        elif lk["kind"] == "index":
            edge = "[%d]" % lk["index"]
        elif lk["kind"] in ("attr", "field"):
            edge = "." + lk["name"]
        else:
            raise AssertionError("unexpected link %r" % lk)
        out.append((head if i == 0 else lk["from_type"]) + edge)
    out.append("%s @%s" % (chain["target_type"], addr))
    return out


def check_against_truth(s, text):
    addr = re.search(r"@(0x[0-9a-f]+)$", text).group(1)
    with open(s.truth_path + ".ask", "w") as f:
        f.write(addr + "\n")
    truth = s.refresh_truth(timeout=60)
    want = truth["chains"].get(addr)
    assert want, "the target found no chain for %s (%s)" % (addr, text)
    assert text.split(" → ") == truth_text(want, addr), (text, want)
    return truth


def test_top_chains_grouping_and_control(root, tmp_path):
    scen = []
    w = None
    try:
        for i in MATRIX:
            d = tmp_path / i.name
            d.mkdir()
            scen.append(Scenario(i, "leak_chains.py", ["--duration", "400", "--rate", "40"], tmpdir=str(d)))
        for s in scen:
            s.truth()
        w = Watch([s.pid for s in scen])
        # 1. every target: the leader with its chain, list and dict grouped under it
        found = {}
        deadline = time.time() + 180
        while time.time() < deadline and len(found) < len(scen) and w.proc.poll() is None:
            for snap in w.snaps[-3:]:
                for s in scen:
                    p = entry(snap, s.pid)
                    c = p and grouped(p)
                    if c and s.pid not in found:
                        found[s.pid] = (c, p)
            time.sleep(0.5)
        assert w.proc.poll() is None, "pyleak top exited %s: %s" % w.stop()
        missing = [s.cmd[0] for s in scen if s.pid not in found]
        assert not missing, "no grouped chain for %s; last: %s" % (
            missing, [suspects(entry(w.snaps[-1], s.pid) or {}) for s in scen if s.pid not in found][:1])
        for s in scen:
            c, p = found[s.pid]
            assert c["chain"]["text"].startswith("sys.modules['__main__'].__dict__['_CONNECTIONS'] → list["), c
            assert "held by sys.modules['__main__']" in c["diagnosis"] and "explains" in c["diagnosis"], c
            check_against_truth(s, c["chain"]["text"])
            cont = suspects(p).get(("container", "__main__._CONNECTIONS"))
            if cont:  # the list holding them is on the chain: part of the same leak
                assert cont["explained_by"] == "__main__.Connection", cont
        # 2. the control: break every holder; no census after the break shows the old chain
        broke = {}
        for s in scen:
            os.kill(s.pid, signal.SIGUSR2)
        deadline = time.time() + 30
        while len(broke) < len(scen) and time.time() < deadline:
            for s in scen:
                if s.pid not in broke and '"event": "broken"' in s.output():
                    broke[s.pid] = time.time()
            time.sleep(0.2)
        assert len(broke) == len(scen), [s.output() for s in scen]
        renewed = {}
        seen_lost = 0
        deadline = time.time() + 150
        checked = 0
        while time.time() < deadline and len(renewed) < len(scen) and w.proc.poll() is None:
            snaps = w.snaps[checked:]
            checked += len(snaps)
            for snap in snaps:
                for s in scen:
                    p = entry(snap, s.pid)
                    if not p or ((p.get("census") or {}).get("time") or 0) <= broke[s.pid]:
                        continue
                    c = suspects(p).get(("type", "__main__.Connection"))
                    if not c or not c["chain"]:
                        continue
                    text = c["chain"]["text"]
                    assert "_CONNECTIONS" not in text or c["chain"]["status"] == "lost", (s.cmd[0], text)
                    if c["chain"]["status"] == "lost":
                        seen_lost += 1
                    elif c["chain"]["status"] == "found" and s.pid not in renewed:
                        renewed[s.pid] = text
            time.sleep(0.5)
        assert len(renewed) == len(scen), ("no new chain after the break", renewed, seen_lost)
        for s in scen:
            assert renewed[s.pid].startswith("sys.modules['__main__'].__dict__['_REGISTRY'] → dict['conn-"), renewed
            check_against_truth(s, renewed[s.pid])
        print("lost states seen: %d; interpreters: %s" % (seen_lost, [i.name for i in MATRIX]))
    finally:
        if w:
            rc, err = w.stop()
        for s in scen:
            s.stop()


def test_tui_and_record_report(root, tmp_path):
    """One target (Debian 3.11): the Suspects tab shows the chain under the leader with the list
    and dict indented under it, and a recording of the same run reports the chain, the grouping
    and the diagnosis in text, JSON and HTML."""
    import shutil
    from conftest import need, stop_on_sigint
    from test_tui import DEBIAN, Tui, _tmux, row_line
    need(shutil.which("tmux") is not None, "tmux is not installed")
    s = Scenario(DEBIAN, "leak_chains.py", ["--duration", "400", "--rate", "40"], tmpdir=str(tmp_path))
    db = str(tmp_path / "t.db")
    rec = t = None
    try:
        s.truth()
        rec = subprocess.Popen([PYLEAK, "record", "-p", str(s.pid), "-o", db], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True)
        t = Tui([str(a) for a in ["-p", s.pid] + ARGS], width=200, height=50)
        t.wait_for(lambda scr: row_line(scr.split("\n"), s.pid), what="the scenario's row")
        t.keys("Enter")
        t.wait_text("COLLECTIONS")
        t.keys("5")
        chain_re = r"held by: sys\.modules\['__main__'\]\.__dict__\['_CONNECTIONS'\] → list\[\d+\] → __main__\.Connection @0x"

        def grouped_screen(scr):
            lines = scr.split("\n")
            lead = [i for i, l in enumerate(lines) if re.match(r"^ type\s+__main__\.Connection\s", l)]
            if not lead or not re.search(chain_re, scr):
                return None
            under = [l for l in lines[lead[0] + 1:] if re.match(r"^\s{4,}└ type\s+(list|dict)\s", l)]
            return scr if len(under) == 2 else None

        scr = t.wait_for(grouped_screen, timeout=120, what="the chain and the grouped list/dict in the Suspects tab")
        assert "same leak: each __main__.Connection holds" in scr, scr
        t.keys("q")
        assert t.status() == 0
        # the recording: wait until its census saw the chain (its own cadence: default budget)
        deadline = time.time() + 120
        while time.time() < deadline:
            rep = json.loads(subprocess.run([PYLEAK, "report", db, "--format", "json"], stdout=subprocess.PIPE,
                                            universal_newlines=True).stdout or "{}")
            p = [x for x in rep.get("processes", []) if x["pid"] == s.pid]
            sus = {x["name"]: x for x in (p[0]["suspects"] if p else [])}
            c = sus.get("__main__.Connection")
            if c and c["chain"] and c["chain"]["status"] == "found" and \
                    (sus.get("list") or {}).get("explained_by") == "__main__.Connection":
                break
            time.sleep(3)
        assert stop_on_sigint(rec, "pyleak record") == 0
        rec = None
        rep = json.loads(subprocess.run([PYLEAK, "report", db, "--format", "json"], stdout=subprocess.PIPE,
                                        universal_newlines=True).stdout)
        sus = {x["name"]: x for x in [x for x in rep["processes"] if x["pid"] == s.pid][0]["suspects"]}
        c = sus["__main__.Connection"]
        assert c["chain"]["status"] == "found", c
        assert re.match(chain_re.replace("held by: ", ""), c["chain"]["text"]), c
        check_against_truth(s, c["chain"]["text"])
        assert sus["list"]["explained_by"] == "__main__.Connection", sus["list"]
        assert "held by sys.modules['__main__']" in c["diagnosis"], c
        txt = subprocess.run([PYLEAK, "report", db], stdout=subprocess.PIPE, universal_newlines=True).stdout
        assert "chain (found): sys.modules['__main__'].__dict__['_CONNECTIONS'] → list[" in txt, txt
        assert "part of the __main__.Connection leak: each __main__.Connection holds" in txt, txt
        html = str(tmp_path / "r.html")
        subprocess.run([PYLEAK, "report", db, "--format", "html", "-o", html], check=True)
        page = open(html).read()
        assert "_CONNECTIONS" in page and '"explained_by":"__main__.Connection"' in page.replace(" ", "")
    finally:
        if rec:
            rec.kill()
            rec.wait()
        if t:
            t.close()
            _tmux("kill-server")
        s.stop()
