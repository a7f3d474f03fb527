# SPDX-License-Identifier: BSD-2-Clause
"""leak_del_cycles: reference cycles of objects with __del__, kept by gc.DEBUG_SAVEALL.

A debugging setting left on in production: gc.set_debug(gc.DEBUG_SAVEALL).  Every step drops a
three-object cycle of __main__.Resource (which has a __del__), so each collection moves them to
gc.garbage instead of freeing them.  Collections are the automatic ones, plus an explicit one
every --collect-every seconds if asked (default: automatic only, as in a real service).

pyleak should show: gc.garbage length growing (a 'garbage' verdict), and type
__main__.Resource with live instances growing; uncollectable stays 0 (PEP 442 finalizers are
collectable; DEBUG_SAVEALL keeps them anyway).

Truth keys: expected, expected_all, garbage_len (common), containers {"gc.garbage": len},
container_len, created, live, cycles_created, explicit_collections, rate.
"""

import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

COUNTS = {"created": 0, "cycles": 0, "explicit": 0}


class Resource(object):
    def __init__(self, name):
        self.name = name
        self.next = None
        COUNTS["created"] += 1

    def __del__(self):
        # A "close" that must not break the cycle (that would let 3.6 free the objects).
        self.closed = True


def make_cycle(i):
    a = Resource("a%d" % i)
    b = Resource("b%d" % i)
    c = Resource("c%d" % i)
    a.next = b
    b.next = c
    c.next = a
    COUNTS["cycles"] += 1


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--rate", type=float, default=50.0,
                   help="cycles per second (default %(default)s)")
    p.add_argument("--collect-every", type=float, default=0.0,
                   help="explicit gc.collect() period, 0 = automatic only (default)")
    p.add_argument("--churn", type=int, default=20,
                   help="healthy temporary objects per step, x3 (default %(default)s)")
    args = p.parse_args()

    def extra():
        return {
            "scenario": "leak_del_cycles",
            "expected": {"kind": "garbage", "name": "gc.garbage"},
            "expected_all": [
                {"kind": "garbage", "name": "gc.garbage"},
                {"kind": "type", "name": "__main__.Resource"},
            ],
            "containers": {"gc.garbage": len(gc.garbage)},
            "container_len": len(gc.garbage),
            "created": {"__main__.Resource": COUNTS["created"]},
            "live": _truth.count_instances([Resource]),
            "cycles_created": COUNTS["cycles"],
            "explicit_collections": COUNTS["explicit"],
            "gc_debug": gc.get_debug(),
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    gc.set_debug(gc.DEBUG_SAVEALL)
    _truth.announce("start", scenario="leak_del_cycles")
    next_collect = [time.monotonic() + args.collect_every]

    def step(i):
        make_cycle(i)
        _truth.churn(args.churn)
        if args.collect_every > 0 and time.monotonic() >= next_collect[0]:
            gc.collect()
            COUNTS["explicit"] += 1
            next_collect[0] = time.monotonic() + args.collect_every

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
