# SPDX-License-Identifier: BSD-2-Clause
"""pyleak refs: retention chains read from outside, checked link by link against the chains the
scenario computes inside itself with gc.get_referrers (tests/scenarios/refs_chains.py)."""

import json
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import PYLEAK, interpreters, need, run_pyleak

INTERPS = interpreters(feature="refs")
CASES = ("module_dict", "class_attr", "instance_attr", "lru_cache", "closure", "thread_local", "garbage",
         "hostile", "deque_set", "bound_method", "partial", "builtin_method", "generator", "exception")


def idle_truth(s, timeout=120):
    """The final truth: after the "idle" announcement (a collection during the idle write makes
    the scenario write again, and its truth computation allocates a lot)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if '"event": "idle"' in s.output():
            return s.truth(phase="idle")
        assert s.proc.poll() is None, s.output()
        time.sleep(0.1)
    raise AssertionError("scenario never idle: " + s.output())


def refs_json(pid, what, *args):
    p = run_pyleak("refs", "-p", pid, what, "-f", "json", *args, timeout=180)
    return json.loads(p.stdout)


def as_json_text(v):
    """How pyleak's JSON carries a target string: bytes that are no UTF-8 (a lone surrogate)
    as U+FFFD each."""
    if isinstance(v, str):
        return v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return v


def same_link(got, want):
    """One link of pyleak's JSON against one link of the truth; '' when equal, else why not."""
    edge = got["edge"]
    if edge["kind"] != want["kind"]:
        return "kind %s != %s" % (edge["kind"], want["kind"])
    if got["from"]["type"] != want["from_type"]:
        return "holder type %s != %s" % (got["from"]["type"], want["from_type"])
    if "from_name" in want and got["from"]["name"] != want["from_name"]:
        return "holder %s != %s" % (got["from"]["name"], want["from_name"])
    if want["kind"] == "item" and want.get("key") is not None and edge.get("key") != as_json_text(want["key"]):
        return "key %r != %r" % (edge.get("key"), want["key"])
    if want["kind"] == "index" and edge.get("index") != want["index"]:
        return "index %s != %s" % (edge.get("index"), want["index"])
    if want["kind"] in ("attr", "field", "local") and edge.get("name") != want["name"]:
        return "name %r != %r" % (edge.get("name"), want["name"])
    return ""


def check_chain(chain, truth):
    """pyleak's chain equals the true one: same root, same links in the same order."""
    assert chain["status"] == "found", chain
    assert truth is not None, "the scenario found no chain for %s" % chain["target"]
    root, troot = chain["root"], truth["root"]
    assert root["kind"] == troot["kind"], (chain["text"], truth)
    if troot["kind"] == "module":
        assert root["module"] == troot["module"], (chain["text"], truth)
    if troot["kind"] == "thread":
        assert root["thread"] == troot["thread"] and root["function"] == troot["function"], (chain["text"], truth)
        assert root["line"] == troot["line"], (root, troot)  # the line it waits at, from the line table
    assert chain["target"]["type"] == truth["target_type"]
    assert len(chain["links"]) == len(truth["links"]), (chain["text"], truth["links"])
    for i, (got, want) in enumerate(zip(chain["links"], truth["links"])):
        why = same_link(got, want)
        assert not why, "link %d of %s: %s (truth %s)" % (i, chain["text"], why, truth["links"])


@pytest.mark.parametrize("interp", INTERPS, ids=[i.name for i in INTERPS])
def test_chains_match_truth(interp, scenario):
    s = scenario(interp, "refs_chains.py", "--case", "all", "--count", "12")
    truth = idle_truth(s)
    for case in CASES:
        c = truth["cases"][case]
        out = refs_json(s.pid, c["type"], "--max-chains", "4")
        assert out["query"]["type"] == c["type"]
        assert out["instances"] == c["count"], (case, out["instances"])
        assert out["sampled"] == 4 and len(out["chains"]) == 4
        assert out["snapshot"]["objects"] > 1000 and out["snapshot"]["references"] > 1000
        for chain in out["chains"]:
            addr = chain["target"]["addr"]
            assert addr in c["chains"], (case, addr)
            check_chain(chain, c["chains"][addr])
        # the same chain asked by address
        addr = out["chains"][0]["target"]["addr"]
        one = refs_json(s.pid, addr)
        assert one["query"]["addr"] == addr and len(one["chains"]) == 1
        check_chain(one["chains"][0], c["chains"][addr])


@pytest.mark.parametrize("interp", INTERPS, ids=[i.name for i in INTERPS])
def test_text_and_escaping(interp, scenario):
    s = scenario(interp, "refs_chains.py", "--case", "all", "--count", "3")
    truth = idle_truth(s)
    p = run_pyleak("refs", "-p", s.pid, "__main__.Session", "-k", "1")
    line = p.stdout.strip().splitlines()[-1]
    assert re.match(r"^sys\.modules\['__main__'\]\.__dict__\['Session'\] → __main__\.Session\.render "
                    r"\(functools\._lru_cache_wrapper\)\.cache → dict \(a key\) → tuple\[0\] → "
                    r"__main__\.Session @0x[0-9a-f]+$", line), line
    # hostile key: quotes, backslash, newline, control bytes, ANSI escape -> escaped, one line
    p = run_pyleak("refs", "-p", s.pid, "__main__.HostileLeak", "-k", "2")
    assert "\x1b" not in p.stdout and "\x01" not in p.stdout
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("sys.modules")]
    assert len(lines) == 2, p.stdout
    # util/escape's esc_text (\\n, \\xHH for C0 and bytes that are no UTF-8, \\uXXXX for C1), and \\' for
    # the quote around the key
    assert "['a\\'b\"c\\\\d\\ne\\x01f\\x1b[31m\\u009b1m\\xed\\xa0\\x80g']" in lines[0], lines[0]
    assert "\x9b" not in p.stdout and "\ud800" not in p.stdout
    out = refs_json(s.pid, "__main__.HostileLeak", "-k", "1")
    want = truth["cases"]["hostile"]
    key = "a'b\"c\\d\ne\x01f\x1b[31m\x9b1m\ud800g"
    # JSON: the text as text; bytes that are no valid UTF-8 (the lone surrogate) as U+FFFD each
    assert out["chains"][0]["links"][1]["edge"]["key"] == \
        key.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    chain = out["chains"][0]
    truth_chain = want["chains"][chain["target"]["addr"]]
    truth_chain["links"][1]["key"] = chain["links"][1]["edge"]["key"]
    check_chain(chain, truth_chain)


def _svg_ok(svg):
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    texts = [t.text or "" for t in root.iter() if t.tag.endswith("text")]
    return texts


@pytest.mark.parametrize("interp", [i for i in INTERPS if i.minor in ((3, 8), (3, 11), (3, 13))],
                         ids=lambda i: i.name)
def test_dot_renders(interp, scenario):
    need(shutil.which("dot") is not None, "graphviz (dot) is not installed: tools/deps.sh")
    s = scenario(interp, "refs_chains.py", "--case", "all", "--count", "3")
    idle_truth(s)
    for ty in ("__main__.Session", "__main__.HostileLeak", "__main__.ThreadLeak", "__main__.ClosureLeak"):
        p = run_pyleak("refs", "-p", s.pid, ty, "-f", "dot", "-k", "3")
        assert p.stdout.startswith("digraph refs {")
        r = subprocess.run(["dot", "-Tsvg"], input=p.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        assert r.returncode == 0, r.stderr + p.stdout
        assert "Warning" not in r.stderr and "Error" not in r.stderr, r.stderr
        texts = _svg_ok(r.stdout)
        joined = "\n".join(texts)
        assert ty.split(".")[-1] in joined, joined
        if ty == "__main__.Session":
            assert "cache" in joined and "(key)" in joined and "['Session']" in joined, joined
        if ty == "__main__.HostileLeak":
            assert "\\x01" in joined and "\x01" not in joined and "\\xed" in joined, joined
        if ty == "__main__.ThreadLeak":
            assert "thread 'refs-worker'" in texts and "frame worker" in texts, texts


@pytest.mark.parametrize("interp", INTERPS, ids=[i.name for i in INTERPS])
def test_asyncio_tasks(interp, scenario):
    """Tasks suspended in an event loop thread: the chain goes through _asyncio.Task (read from
    the _asyncio extension's layout) and the coroutine's frame to its local."""
    s = scenario(interp, "refs_chains.py", "--case", "asyncio", "--count", "4")
    truth = idle_truth(s)
    shapes = [re.compile(x) for x in truth["cases"]["asyncio"]["shapes"]]
    out = refs_json(s.pid, "__main__.AsyncLeak", "--max-chains", "4")
    assert out["instances"] == 4
    for c in out["chains"]:
        assert c["status"] == "found", c
        assert any(x.match(c["text"]) for x in shapes), c["text"]
        assert c["root"]["kind"] == "thread" and c["root"]["thread"] == "refs-asyncio", c["root"]


@pytest.mark.parametrize("interp", INTERPS, ids=[i.name for i in INTERPS])
def test_frozen_heap(interp, scenario):
    """After gc.freeze() every object (module dicts included) is in the permanent generation,
    which the GC lists do not hold: the chains are still found."""
    s = scenario(interp, "refs_chains.py", "--case", "frozen", "--count", "6")
    truth = idle_truth(s)
    c = truth["cases"]["frozen"]
    assert c["frozen"] > 1000
    out = refs_json(s.pid, c["type"], "--max-chains", "3")
    assert out["instances"] == 6 and out["frozen"] == 6, out
    assert out["snapshot"]["permanent"] >= c["frozen"] - 50, (out["snapshot"], c["frozen"])
    for chain in out["chains"]:
        check_chain(chain, c["chains"][chain["target"]["addr"]])


@pytest.mark.parametrize("interp", INTERPS, ids=[i.name for i in INTERPS])
def test_churn_lost_or_correct(interp, scenario):
    """Objects freed and replaced as fast as the target can: 'chain lost', 'no chain' or a true
    chain (one of the shapes the scenario documents), never a wrong one."""
    s = scenario(interp, "refs_chains.py", "--case", "churn", "--count", "200")
    truth = idle_truth(s)
    shapes = [re.compile(x) for x in truth["cases"]["churn"]["shapes"]]
    statuses = {}
    for _ in range(4):
        p = run_pyleak("refs", "-p", s.pid, "__main__.Churn", "-f", "json", "-k", "8", check=False, timeout=180)
        if p.returncode == 1 and "no live" in p.stderr:
            continue  # between two batches
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        for c in out["chains"]:
            statuses[c["status"]] = statuses.get(c["status"], 0) + 1
            assert c["status"] in ("found", "lost", "none"), c
            if c["status"] == "found":
                assert any(x.match(c["text"]) for x in shapes), c["text"]
            if c["status"] == "lost":
                assert c["text"].startswith("chain lost: __main__.Churn @0x"), c["text"]
    print("%s: churn chains by status: %s" % (interp.name, statuses))
    assert statuses, "no run saw a Churn"


def test_bad_input(root, scenario, tmp_path):
    interp = INTERPS[0]
    s = scenario(interp, "refs_chains.py", "--case", "class_attr", "--count", "2")
    idle_truth(s)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        cases = [
            (["-p", "4194000", "dict"], 1, "no such process"),
            (["-p", str(sleeper.pid), "dict"], 1, "refs: pid %d" % sleeper.pid),
            (["-p", str(s.pid), "__main__.NoSuchType"], 1, "no live GC-tracked instance"),
            (["-p", str(s.pid), "0x10"], 1, "is not a live Python object"),
            (["-p", str(s.pid), "0x7f0000000001"], 1, "is not a live Python object"),
            (["-p", str(s.pid), "0xnothex"], 2, "invalid address"),
            (["dict"], 2, "needs a process"),
            (["-p", str(s.pid)], 2, "needs a type name"),
            (["-p", str(s.pid), "dict", "--format", "xml"], 2, "unknown --format"),
            (["-p", str(s.pid), "dict", "--depth", "0"], 2, "invalid --depth"),
            (["-p", "nope", "dict"], 2, "invalid pid"),
        ]
        for args, rc, msg in cases:
            p = run_pyleak("refs", *args, check=False)
            assert p.returncode == rc, (args, p.returncode, p.stderr)
            assert msg in p.stderr, (args, p.stderr)
            assert p.stderr.startswith("pyleak: refs: ") or rc == 2, p.stderr
            assert p.stdout == "", (args, p.stdout)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_target_exits_mid_run(root, scenario):
    """The target dies while pyleak reads it: a clear message and status 1."""
    interp = INTERPS[0]
    # The kill must land while pyleak reads: a shorter head start each time pyleak was faster.
    for head_start in (0.15, 0.05, 0.01, 0.0):
        s = scenario(interp, "census_mix.py", "--objects", "400000")
        idle_truth(s)
        proc = subprocess.Popen([PYLEAK, "refs", "-p", str(s.pid), "__main__.Filler"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True)
        time.sleep(head_start)
        s.proc.kill()
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            break
    else:
        pytest.skip("pyleak finished before the target was killed, even with no head start")
    assert proc.returncode == 1, (out, err)
    assert err.startswith("pyleak: refs: ") and "exited" in err or "no such process" in err, err
