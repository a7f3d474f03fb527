# SPDX-License-Identifier: BSD-2-Clause
"""Census benchmark target: holds about N GC-tracked objects, times objgraph.typestats() on request.

    python census_target.py --objects 1000000

Builds a fixed population (instances of a __slots__ class, lists, tuples holding objects, dicts
holding objects: all stay tracked by the collector), prints {"event": "ready", "tracked": ...} and
then waits, idle, on stdin.  Each line "typestats" makes it run objgraph.typestats(shortnames=
False) over gc.get_objects() (what a user's in-process census costs; it holds the GIL) and print
{"event": "typestats", "seconds": ..., "objects": ..., "types": ...}; "referrers" picks one
Filler in the middle of the population and times, inside the target, gc.get_referrers(obj)
(one level of back-references) and objgraph.find_backref_chain(obj, objgraph.is_proper_module)
(the whole chain up to the module), printing {"event": "referrers", "addr": "0x...",
"referrers_s", "chain_s", "chain_len"}; "quit" or EOF exits.  The
harness times `pyleak census -p PID --json` against it in between.  tests/scenarios/census_mix.py
builds a similar population but does not report the time of typestats, hence this file.
"""

import argparse
import gc
import importlib.util
import json
import os
import sys
import time

OBJGRAPH_PATH = "/usr/lib/python3/dist-packages/objgraph.py"


class Filler(object):
    __slots__ = ("ref",)

    def __init__(self, ref):
        self.ref = ref


KEEP = []
UNTRACKED = []


def build(n):
    # Per group of 10 tracked objects: 7 Filler, 1 list, 1 tuple, 1 dict.
    for i in range(n // 10):
        a = Filler(None)
        b = Filler(a)
        lst = [a, b]
        KEEP.append((Filler(lst), Filler(i), Filler(b), Filler(a), Filler(lst), lst, {"k": a}))


def build_untracked(n):
    # Objects the GC does not track (str, float, tuples of atomic values, bytes): what only
    # `pyleak census --all-objects` and top's arena censuses count.
    for i in range(n // 4):
        UNTRACKED.append(("u%d" % i, i * 0.5, b"b" * (i % 64)))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objects", type=int, default=1000000)
    p.add_argument("--untracked", type=int, default=0, help="untracked objects to hold too (default 0)")
    args = p.parse_args()
    spec = importlib.util.spec_from_file_location("objgraph", OBJGRAPH_PATH)
    objgraph = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(objgraph)
    build(args.objects)
    build_untracked(args.untracked)
    gc.collect()  # also untracks the atomic tuples
    out = sys.stdout
    out.write(json.dumps({"event": "ready", "pid": os.getpid(),
                          "tracked": len(gc.get_objects())}) + "\n")
    out.flush()
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "referrers":
            obj = KEEP[len(KEEP) // 2][0]
            t0 = time.perf_counter()
            refs = gc.get_referrers(obj)
            t1 = time.perf_counter()
            chain = objgraph.find_backref_chain(obj, objgraph.is_proper_module, max_depth=20)
            t2 = time.perf_counter()
            out.write(json.dumps({"event": "referrers", "addr": "0x%x" % id(obj), "referrers": len(refs),
                                  "referrers_s": t1 - t0, "chain_s": t2 - t1,
                                  "chain_len": len(chain)}) + "\n")
            out.flush()
            del refs, chain, obj
            continue
        if cmd == "quit":
            break
        if cmd == "typestats":
            t0 = time.perf_counter()
            stats = objgraph.typestats(shortnames=False)
            dt = time.perf_counter() - t0
            out.write(json.dumps({"event": "typestats", "seconds": dt,
                                  "objects": sum(stats.values()), "types": len(stats)}) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
