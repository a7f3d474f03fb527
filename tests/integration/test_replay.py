# SPDX-License-Identifier: BSD-2-Clause
"""`pyleak top --replay`: a recording played back through the same views shows what was recorded."""

import json
import os
import sqlite3
import subprocess
import time

import pytest

from conftest import (PYLEAK, Scenario, close, extra_interpreters, interpreters, mallocstats, proc_entry,
                      pyleak_json_lines, run_pyleak)


@pytest.mark.parametrize("interp", interpreters(minors=(), debian=True)[:1] + extra_interpreters("record"), ids=repr)
def test_replay_batch_matches_truth(root, scenario, tmp_path, interp):
    s = scenario(interp, "gc_saveall.py", "--duration", "5")
    db = str(tmp_path / "rec.db")
    rec = subprocess.Popen([os.environ.get("PYLEAK", run_pyleak.__globals__["PYLEAK"]), "record", "-p", str(s.pid),
                            "-o", db, "--interval", "0.5"], stderr=subprocess.PIPE, universal_newlines=True)
    truth = s.truth(phase="idle", timeout=60)
    import time
    time.sleep(1.5)
    rec.terminate()
    assert rec.wait(30) == 0, rec.stderr.read()
    lines = run_pyleak("top", "--replay", db, "-b", "--json").stdout.splitlines()
    snaps = [json.loads(l) for l in lines]
    assert len(snaps) >= 8  # one per recorded interval
    times = [x["time"] for x in snaps]
    assert times == sorted(times)
    last = proc_entry(snaps[-1], s.pid)
    assert last["python"] == truth["python"] and last["gc_source"] == "usdt"
    for g in range(3):
        assert last["gc"]["collections"][g] == truth["gc_stats"][g]["collections"]
        assert last["gc"]["collected"][g] == truth["gc_stats"][g]["collected"]
    assert last["gc"]["garbage"] == truth["garbage_len"]
    # garbage grew over the replay, as it did live
    first = next(proc_entry(x, s.pid) for x in snaps if proc_entry(x, s.pid) and proc_entry(x, s.pid)["gc"])
    assert first["gc"]["garbage"] < last["gc"]["garbage"]
    # text mode and no privilege needed: run as nobody
    txt = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                          run_pyleak.__globals__["PYLEAK"], "top", "--replay", db, "-b", "-n", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    # the trace is 0600 root-owned: nobody cannot read it, and says so
    assert txt.returncode == 1 and txt.stderr.startswith("pyleak: ")
    import shutil, tempfile
    pub = tempfile.mkdtemp(prefix="pyleak-replay-")
    os.chmod(pub, 0o755)
    db2 = os.path.join(pub, "rec.db")
    shutil.copy(db, db2)
    os.chmod(db2, 0o644)
    db = db2
    txt = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                          run_pyleak.__globals__["PYLEAK"], "top", "--replay", db, "-b", "-n", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert txt.returncode == 0, txt.stderr
    assert str(s.pid) in txt.stdout
    shutil.rmtree(pub)


def test_replay_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a trace file at all" * 100)
    p = run_pyleak("top", "--replay", str(bad), "-b", check=False)
    assert p.returncode == 1 and p.stderr.startswith("pyleak: ") and not p.stdout
    p = run_pyleak("top", "--replay", str(tmp_path / "missing.db"), "-b", check=False)
    assert p.returncode == 1 and p.stderr.startswith("pyleak: ")


def test_replay_survivor_evidence(root, scenario, tmp_path):
    """survivors.py recorded, played back: the type suspect's evidence names the survivors' top
    site (handle_request), as it did live; the batch text view shows it too."""
    interp = interpreters(minors=(), debian=True)[0]
    s = scenario(interp, "survivors.py", "--cycles", "--rate", "300")
    truth = s.truth()
    leak = truth["sites"]["leak"]["function"]
    import time
    time.sleep(1.0)
    db = str(tmp_path / "surv.db")
    run_pyleak("record", "-p", s.pid, "-o", db, "--duration", "24", "--interval", "2", timeout=180)
    snaps = [json.loads(l) for l in run_pyleak("top", "--replay", db, "-b", "--json").stdout.splitlines()]
    ev = [x["evidence"] for sn in snaps for p in sn["processes"] if p["pid"] == s.pid
          for x in p["suspects"] if x["name"] == "__main__.Record"]
    assert ev, "no __main__.Record suspect replayed"
    assert "of surviving samples" in ev[-1] and leak in ev[-1], ev[-1]
    txt = run_pyleak("top", "--replay", db, "-b").stdout
    assert "SUSPECT type __main__.Record" in txt and "of surviving samples" in txt
    assert "survivor samples:" in txt and "as recorded" in txt

    # The JSON survivors object replayed: null before the rows were written (at the recording's
    # end), then the recorded (type, stack) rows, equal to the file's, with the leak site's
    # frames parsed back; what the trace does not keep is null, not 0.
    mine = [p for sn in snaps for p in sn["processes"] if p["pid"] == s.pid]
    assert mine[0]["survivors"] is None
    sv = mine[-1]["survivors"]
    assert sv is not None and sv["pairing"] is None and sv["died"] is None and sv["full"] is None
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT type, sum(sampled), sum(survived), sum(alive) FROM survivors"
                         " GROUP BY type").fetchall()
    want = dict((t, (a, b, c_)) for t, a, b, c_ in rows)
    assert (sv["sampled"], sv["survived"], sv["alive"]) == tuple(sum(v[i] for v in want.values())
                                                                 for i in range(3))
    rec = [t for t in sv["types"] if t["type"] == "__main__.Record"]
    assert rec and (rec[0]["sampled"], rec[0]["survived"], rec[0]["alive"]) == want["__main__.Record"]
    top = rec[0]["sites"][0]
    assert top["alive"] > 0 and top["share"] >= 0.8, rec[0]
    assert any(f["function"].endswith(leak) and f["file"].endswith("survivors.py") and f["line"] > 0
               for f in top["frames"]), top["frames"]
    # The allocation profile replayed too: the recorded sites with their counts.
    with sqlite3.connect(db) as c:
        total = c.execute("SELECT sum(count) FROM sites").fetchone()[0]
    assert mine[-1]["sites"] is not None and mine[-1]["sites"]["samples"] == total


def _shape(doc):
    """The keys of a JSON object, recursively: what a replayed object must have like the live one."""
    if isinstance(doc, dict):
        return dict((k, _shape(v)) for k, v in doc.items())
    if isinstance(doc, (int, float)) and not isinstance(doc, bool):
        return "number"  # "%.6g": 0 reads back as an int, 1.5 as a float
    return type(doc).__name__ if doc is not None else None


@pytest.mark.parametrize("interp", [i for i in interpreters(minors=((3, 12),), stripped=True)
                                    if i.name.startswith(("debian", "stripped", "pyenv"))][:3], ids=repr)
def test_replay_memory_as_live(root, interp, tmp_path):
    """The Memory tab's row (the JSON `memory` object) replayed from a recording equals what the
    recorder measured (its memory row, every field) and what a live `top` beside it shows for the
    allocator's figures of an idle target, which equal sys._debugmallocstats() in the target."""
    s = Scenario(interp, "mallocstats.py", ["--objects", "100000"], tmpdir=str(tmp_path))
    try:
        s.truth(phase="idle")
        time.sleep(0.5)
        ms = mallocstats(s, time.time())  # before the watching starts: the signal handler allocates
        db = str(tmp_path / "mem.db")
        rec = subprocess.Popen([PYLEAK, "record", "-p", str(s.pid), "-o", db, "--interval", "1", "--duration", "14"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        live = pyleak_json_lines("top", "-b", "--json", "-d", "1", "-n", "12", "-p", s.pid, timeout=120)
        out, err = rec.communicate(timeout=120)
        assert rec.returncode == 0, err
    finally:
        s.stop()
    lm = [p["memory"] for l in live for p in l["processes"] if p["pid"] == s.pid and p.get("memory")][-1]
    snaps = pyleak_json_lines("top", "--replay", db, "-b", "--json")
    replayed = [(sn["time"], p["memory"]) for sn in snaps for p in sn["processes"]
                if p["pid"] == s.pid and p.get("memory")]
    assert replayed, "no memory object replayed"
    rm = replayed[-1][1]
    # the recorder's own rows, every field the JSON shows
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("SELECT * FROM memory ORDER BY time")]
    con.close()
    # An idle target is censused once: the next census waits until its GC state or RSS moves, or
    # 60 s pass (analysis.c IDLE_RECENSUS_S), so a 14 s recording of it may hold a single row.
    assert rows, "no memory row recorded"
    # every replayed step shows the newest recorded row not after it
    for at, m in replayed:
        newest = [r for r in rows if r["time"] <= at + 1e-6][-1]
        assert abs(m["time"] - newest["time"]) < 1e-3, (at, m["time"], newest["time"], [r["time"] for r in rows],
                                                        [(a, x["time"]) for a, x in replayed])
    row = rows[-1]
    assert abs(rm["time"] - row["time"]) < 1e-3
    assert rm["rss_bytes"] == row["rss"]
    assert rm["parts"] == {"pymalloc_arenas": row["pymalloc_arenas"], "malloc_heap": row["malloc_heap"],
                           "anon_other": row["anon_other"], "stacks": row["stacks"], "file": row["file"],
                           "other": row["other"]}
    assert (rm["shared_bytes"], rm["swap_bytes"], rm["thread_stacks"]) == (row["shared"], row["swap"],
                                                                            row["thread_stacks"])
    pm = rm["pymalloc"]
    assert (pm["source"], pm["why"], pm["arenas"], pm["arena_bytes"], pm["blocks_used"], pm["blocks_free"],
            pm["block_bytes_used"], pm["block_bytes_free"], pm["unused_pool_bytes"]) == (
        row["arena_source"], row["arena_why"], row["arenas"], row["arena_bytes"], row["blocks_used"],
        row["blocks_free"], row["block_bytes_used"], row["block_bytes_free"], row["unused_pool_bytes"])
    assert abs(pm["confidence"] - row["arena_confidence"]) <= 1e-5 * max(1, row["arena_confidence"])
    assert rm["objects"] == {"tracked_bytes": row["tracked_bytes"], "untracked_bytes": row["untracked_bytes"],
                             "untracked_objects": row["untracked_objects"]}
    for k, col in (("rss", "rss_per_min"), ("pymalloc_arenas", "arenas_per_min"), ("objects", "objects_per_min"),
                   ("malloc", "malloc_per_min"), ("stacks", "stacks_per_min"), ("file", "file_per_min")):
        assert abs(rm["per_min"][k] - row[col]) <= 1e-5 * max(1.0, abs(row[col])), (k, rm["per_min"], row)
    # the same object as live: same fields, the idle allocator's figures equal, the parts close
    assert _shape(rm) == _shape(lm), (rm, lm)
    for k in ("source", "certainty", "why", "arenas", "arena_bytes", "blocks_used", "block_bytes_used"):
        assert rm["pymalloc"][k] == lm["pymalloc"][k], (k, rm["pymalloc"], lm["pymalloc"])
    assert rm["objects"]["untracked_objects"] > 0 and lm["objects"]["untracked_objects"] > 0
    for k, v in lm["parts"].items():
        assert close(rm["parts"][k], v), (k, rm["parts"], lm["parts"])
    # and both are the target's own count
    assert (pm["arenas"], pm["block_bytes_used"]) == (ms["arenas"], ms["bytes_in_allocated_blocks"]), (pm, ms)
    # the batch text view of the replay prints the Memory line too
    txt = run_pyleak("top", "--replay", db, "-b").stdout
    assert "memory: pymalloc arenas" in txt and pm["source"] in txt
