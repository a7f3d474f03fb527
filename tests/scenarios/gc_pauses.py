# SPDX-License-Identifier: BSD-2-Clause
"""gc_pauses: long collections over a big object graph, each one timed from inside.

Builds a graph of --objects GC-tracked objects (default 1 000 000: lists holding small tuples of
lists, so nothing is untracked by the collector) with automatic collection disabled, re-enables
it, settles everything into the old generation with one full collection, then runs --collections
rounds of one explicit full collection and one explicit gen-1 collection, --interval seconds
apart.  Every collection from the moment the callback is installed (before the build) is timed
with gc.callbacks (perf_counter_ns; perf_counter on 3.6), so the truth has the pause of every
collection the observer could have seen.

Proves: pyleak's GC pause times per generation (USDT/uprobe histograms, or poll estimates)
match the in-process measurement.  Full collections take tens of ms at the default size; gen-1
collections take microseconds (the graph lives in the oldest generation).

pyleak should show: gen2 collections = truth callback_count["2"] plus earlier ones, pause sums
close to callback_pause_sum_us; no leak suspect after the build.

Truth keys: callback_pauses (list of {generation, duration_us, collected, uncollectable,
explicit, time}), callback_pause_sum_us, callback_pause_max_us, callback_count (per generation,
keys "0" "1" "2"), objects, tracked_objects_after_build, build_seconds, explicit.
"""

import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

PAUSES = []
_START = [0, 0]          # perf ns at "start", generation
_EXPLICIT = [False]
GRAPH = []


def on_gc(phase, info):
    if phase == "start":
        _START[0] = _truth.perf_ns()
        _START[1] = info["generation"]
    else:
        end = _truth.perf_ns()
        PAUSES.append({
            "generation": info["generation"],
            "duration_us": (end - _START[0]) / 1000.0,
            "collected": info["collected"],
            "uncollectable": info["uncollectable"],
            "explicit": _EXPLICIT[0],
            "time": time.time(),
        })


def collect(gen):
    _EXPLICIT[0] = True
    try:
        if gen == 2:
            gc.collect()
        else:
            gc.collect(gen)
    finally:
        _EXPLICIT[0] = False


def build(n):
    """n tracked objects: per group of 4, one list holding a tuple of two lists."""
    groups = n // 4
    for i in range(groups):
        a = [i]
        b = [i, a]
        t = (a, b)          # holds lists, so the collector never untracks it
        GRAPH.append([t])
    # Remainder and the holder: GRAPH itself is one more tracked list.
    for i in range(n - groups * 4 - 1):
        GRAPH.append([])


def main():
    p = _truth.parser(__doc__, duration=0.0,
                         duration_help="extra active time after the collections, "
                         "before idling (default %(default)s)")
    p.add_argument("--objects", type=int, default=1000000,
                   help="tracked objects in the graph (default %(default)s)")
    p.add_argument("--collections", type=int, default=10,
                   help="rounds of one explicit full + one gen-1 collection (default %(default)s)")
    p.add_argument("--interval", type=float, default=0.2,
                   help="seconds between explicit collections (default %(default)s)")
    args = p.parse_args()

    gc.callbacks.append(on_gc)

    def extra():
        sums = {"0": 0.0, "1": 0.0, "2": 0.0}
        maxs = {"0": 0.0, "1": 0.0, "2": 0.0}
        counts = {"0": 0, "1": 0, "2": 0}
        for pz in PAUSES:
            g = str(pz["generation"])
            sums[g] += pz["duration_us"]
            counts[g] += 1
            if pz["duration_us"] > maxs[g]:
                maxs[g] = pz["duration_us"]
        return {
            "scenario": "gc_pauses",
            "expected": {"kind": "none", "name": None},
            "callback_pauses": list(PAUSES),
            "callback_pause_sum_us": sums,
            "callback_pause_max_us": maxs,
            "callback_count": counts,
            "objects": args.objects,
            "tracked_objects_after_build": STATE.get("tracked"),
            "build_seconds": STATE.get("build_seconds"),
            "explicit": {"1": STATE.get("explicit1", 0), "2": STATE.get("explicit2", 0)},
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="gc_pauses")

    t0 = time.monotonic()
    gc.disable()
    build(args.objects)
    gc.enable()
    STATE["build_seconds"] = time.monotonic() - t0
    STATE["tracked"] = len(gc.get_objects())
    _truth.announce("built", objects=args.objects, tracked=STATE["tracked"])

    collect(2)                      # settle: the graph moves to the oldest generation
    STATE["explicit2"] = 1
    STATE["explicit1"] = 0
    _truth.sleep(args.interval)
    for _ in range(args.collections):
        collect(2)
        STATE["explicit2"] += 1
        _truth.sleep(args.interval)
        collect(1)
        STATE["explicit1"] += 1
        _truth.sleep(args.interval)
    # --duration here: optional extra active time after the collections (default 0).
    if args.duration > 0:
        _truth.sleep(args.duration)
    _truth.idle()


STATE = {}

if __name__ == "__main__":
    main()
