# SPDX-License-Identifier: BSD-2-Clause
"""gc_saveall: gc.garbage grows at a steady rate under gc.DEBUG_SAVEALL.

With gc.set_debug(gc.DEBUG_SAVEALL) every unreachable object a collection finds is appended to
gc.garbage instead of being freed.  The scenario creates two-object reference cycles at --rate
per second (every other one with a __del__ method), and collects explicitly every
--collect-every seconds (automatic collections happen too).  gc.garbage grows by the objects of
each cycle (two instances, plus their __dict__s on 3.6-3.10).

Proves: pyleak reads len(gc.garbage) from the target and reports its growth as garbage.

pyleak should show: garbage length equal to truth garbage_len at each write (use
--truth-every), growing about --rate x objects-per-cycle per second; a 'garbage' leak verdict.

Truth keys: expected, expected_all, cycles_created, cycles_with_del, explicit_collections,
garbage_len (common), garbage_types (pyleak names of what gc.garbage holds), rate.
"""

import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402


class Plain(object):
    def __init__(self):
        self.peer = None


class WithDel(object):
    def __init__(self):
        self.peer = None

    def __del__(self):
        pass


COUNTS = {"cycles": 0, "with_del": 0, "explicit": 0}


def make_cycle(i):
    cls = WithDel if i % 2 else Plain
    a = cls()
    b = cls()
    a.peer = b
    b.peer = a
    COUNTS["cycles"] += 1
    if cls is WithDel:
        COUNTS["with_del"] += 1


def garbage_types():
    by = {}
    for o in gc.garbage:
        n = _truth.pyleak_name(type(o))
        by[n] = by.get(n, 0) + 1
    return by


def main():
    p = _truth.parser(__doc__, duration=10.0)
    p.add_argument("--rate", type=float, default=100.0,
                   help="cycles created per second (default %(default)s)")
    p.add_argument("--collect-every", type=float, default=1.0,
                   help="explicit gc.collect() period in seconds, 0 = only automatic "
                        "(default %(default)s)")
    args = p.parse_args()

    def extra():
        return {
            "scenario": "gc_saveall",
            "expected": {"kind": "garbage", "name": "gc.garbage"},
            "expected_all": [{"kind": "garbage", "name": "gc.garbage"}],
            "cycles_created": COUNTS["cycles"],
            "cycles_with_del": COUNTS["with_del"],
            "explicit_collections": COUNTS["explicit"],
            "garbage_types": garbage_types(),
            "gc_debug": gc.get_debug(),
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    gc.set_debug(gc.DEBUG_SAVEALL)
    _truth.announce("start", scenario="gc_saveall")

    import time
    next_collect = [time.monotonic() + args.collect_every]

    def step(i):
        make_cycle(i)
        if args.collect_every > 0 and time.monotonic() >= next_collect[0]:
            gc.collect()
            COUNTS["explicit"] += 1
            next_collect[0] = time.monotonic() + args.collect_every

    _truth.run_paced(args.rate, args.duration, step)
    # One last collection so every cycle made is in gc.garbage before the idle truth.
    gc.collect()
    COUNTS["explicit"] += 1
    _truth.idle()


if __name__ == "__main__":
    main()
