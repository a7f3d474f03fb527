# SPDX-License-Identifier: BSD-2-Clause
"""gc_mix: a known mix of automatic and explicit collections, then idle.

Proves: pyleak's cumulative per-generation GC counters (collections, collected, uncollectable)
equal gc.get_stats() in the target, for automatic collections of all three generations (driven
by the thresholds: container cycles are created at a steady rate and a ring of survivors feeds
the oldest generation so the 25% long-lived rule lets full collections run) and for explicit
gc.collect(0), gc.collect(1) and gc.collect() calls.  Some cycles carry __del__ methods; with
DEBUG_SAVEALL off they are ordinary collectable garbage, so 'uncollectable' stays 0.

pyleak should show: gen0/gen1/gen2 collection counts equal to truth gc_stats at the idle moment;
collected totals equal; uncollectable 0; no leak suspect.

Truth keys (besides the common ones): explicit, callbacks, automatic, gc_stats_start,
cycles_created, finalizers_run.
"""

import gc
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402


class Cell(object):
    """One half of a plain garbage cycle."""

    def __init__(self):
        self.peer = None


FINALIZED = [0]


class Finalized(object):
    """Half of a cycle with a finalizer: collectable since 3.4 (PEP 442)."""

    def __init__(self):
        self.peer = None

    def __del__(self):
        FINALIZED[0] += 1


# Per generation: [collections seen by gc.callbacks, collected, uncollectable].
CALLBACK = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
EXPLICIT = [0, 0, 0]
CREATED = [0]
SURVIVORS = []


def on_gc(phase, info):
    if phase == "stop":
        g = CALLBACK[info["generation"]]
        g[0] += 1
        g[1] += info["collected"]
        g[2] += info["uncollectable"]


class Stopper(object):
    """Half of a cycle whose finalizer stops the process (SIGSTOP): the collection that finds
    it is stopped half done, after its start and before its counters move."""

    def __init__(self):
        self.peer = None

    def __del__(self):
        os.kill(os.getpid(), signal.SIGSTOP)


def make_cycles(n, ring):
    for i in range(n):
        if i % 4 == 0:
            a = Finalized()
            b = Finalized()
        else:
            a = Cell()
            b = Cell()
        a.peer = b
        b.peer = a
        if i % 10 == 0:
            # Survivors: outlive a few young collections, so they reach the old generation and
            # count as long-lived pending, which is what lets automatic full collections run.
            SURVIVORS[(CREATED[0] // 10) % ring] = [a]
        CREATED[0] += 1


def explicit(gen):
    if gen == 2:
        gc.collect()
    else:
        gc.collect(gen)
    EXPLICIT[gen] += 1


def main():
    p = _truth.parser(__doc__, duration=5.0)
    p.add_argument("--rate", type=int, default=20000,
                   help="garbage cycles created per second (default %(default)s)")
    p.add_argument("--ring", type=int, default=5000,
                   help="survivor ring size (default %(default)s)")
    p.add_argument("--gen0", type=int, default=10, help="explicit gc.collect(0) calls")
    p.add_argument("--gen1", type=int, default=5, help="explicit gc.collect(1) calls")
    p.add_argument("--full", type=int, default=3, help="explicit gc.collect() calls")
    p.add_argument("--min-auto-full", type=int, default=1,
                   help="automatic full collections to wait for before the explicit ones "
                        "(default %(default)s)")
    p.add_argument("--stop-in-collection", action="store_true",
                   help="once set up, stop (SIGSTOP) inside a collection, from a finalizer, "
                        "until continued (SIGCONT): an observer then attaches mid-collection")
    args = p.parse_args()
    if args.duration <= 0:
        p.error("--duration must be positive")

    stats_start = gc.get_stats()
    gc.callbacks.append(on_gc)
    SURVIVORS.extend([None] * args.ring)

    def extra():
        automatic = {}
        for g in range(3):
            automatic[str(g)] = CALLBACK[g][0] - EXPLICIT[g]
        return {
            "scenario": "gc_mix",
            "expected": {"kind": "none", "name": None},
            "explicit": {"0": EXPLICIT[0], "1": EXPLICIT[1], "2": EXPLICIT[2]},
            "callbacks": dict((str(g), {"collections": CALLBACK[g][0],
                                         "collected": CALLBACK[g][1],
                                         "uncollectable": CALLBACK[g][2]}) for g in range(3)),
            "automatic": automatic,
            "gc_stats_start": stats_start,
            "cycles_created": CREATED[0],
            "finalizers_run": FINALIZED[0],
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="gc_mix")
    if args.stop_in_collection:
        a = Stopper()
        a.peer = Cell()  # one finalizer: one stop
        a.peer.peer = a
        del a
        explicit(0)  # the cycle is young: this collection finds it (or an automatic one did)

    # Phase A (automatic only): at least 60% of --duration and until the thresholds have
    # triggered --min-auto-full automatic full collections (bounded by 10 x --duration).
    # Phase B: the rest of --duration, still creating cycles, with the explicit collections
    # spread evenly.  Explicit full collections reset the gen2 count and long-lived pending,
    # which is why they do not start before the automatic ones have happened.
    import time
    start = time.monotonic()
    auto_end = 0.6 * args.duration
    state = {"done": 0}

    def produce(t0):
        target = int((time.monotonic() - t0) * args.rate)
        if target > state["done"]:
            make_cycles(target - state["done"], args.ring)
            state["done"] = target

    while True:
        now = time.monotonic() - start
        if now >= auto_end and CALLBACK[2][0] - EXPLICIT[2] >= args.min_auto_full:
            break
        if now >= 10 * args.duration:
            break
        produce(start)
        _truth.checkpoint()
        time.sleep(0.02)

    explicit_time = 0.4 * args.duration
    schedule = []
    for gen, n in ((0, args.gen0), (1, args.gen1), (2, args.full)):
        for k in range(n):
            schedule.append(((k + 0.5) / n * explicit_time, gen))
    schedule.sort()
    b_start = time.monotonic()
    state["done"] = 0
    while True:
        now = time.monotonic() - b_start
        if now >= explicit_time:
            break
        produce(b_start)
        while schedule and schedule[0][0] <= now:
            explicit(schedule.pop(0)[1])
        _truth.checkpoint()
        time.sleep(0.02)
    while schedule:
        explicit(schedule.pop(0)[1])
    # The survivors stay alive: the idle phase allocates nothing, so no collection runs after
    # the idle truth is written and the observer must see exactly these counters.
    _truth.idle()


if __name__ == "__main__":
    main()
