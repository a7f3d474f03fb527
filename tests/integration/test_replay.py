# SPDX-License-Identifier: BSD-2-Clause
"""`pyleak top --replay`: a recording played back through the same views shows what was recorded."""

import json
import os
import subprocess

from conftest import interpreters, run_pyleak, proc_entry


def test_replay_batch_matches_truth(root, scenario, tmp_path):
    interp = interpreters(minors=(), debian=True)[0]
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
