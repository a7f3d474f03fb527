# SPDX-License-Identifier: BSD-2-Clause
"""alloc_rates: known numbers of objects of known types per second.

Creates --rate __main__.Alloc objects per second (one allocation each: the class has __slots__,
so no instance dict) in a paced loop, batches every 20 ms.  Each object is kept --keep seconds
and then freed (all at once per batch), or kept forever with --leak.  --list-rate adds plain
lists (one tracked object each, kept and freed the same way) at their own rate.

Proves: pyleak's per-type allocation and free rates (tier 2 exact mode, tier 1 samples) match
the known rates, and live counts follow rate x keep (or grow at rate with --leak).

pyleak should show: __main__.Alloc allocated at --rate/s; freed at --rate/s after the first
--keep seconds (live flat at about rate x keep), or live growing at --rate/s with --leak.

Truth keys: created, freed, live_expected (created - freed, per type), live (gc count at each
write), rate, list_rate, keep, leak, expected.
"""

import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402


class Alloc(object):
    __slots__ = ("seq", "ref")

    def __init__(self, seq):
        self.seq = seq
        self.ref = None


COUNTS = {"Alloc": 0, "list": 0, "Alloc_freed": 0, "list_freed": 0}
KEPT = collections.deque()      # (created_at, [objects]) batches, oldest first
LEAKED = []


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--rate", type=float, default=1000.0,
                   help="__main__.Alloc objects per second (default %(default)s)")
    p.add_argument("--list-rate", type=float, default=0.0,
                   help="plain lists per second (default 0)")
    p.add_argument("--keep", type=float, default=1.0,
                   help="seconds each object stays alive (default %(default)s)")
    p.add_argument("--leak", action="store_true", help="never free (keep forever)")
    args = p.parse_args()

    def extra():
        kind = {"kind": "type", "name": "__main__.Alloc"} if args.leak else \
            {"kind": "none", "name": None}
        return {
            "scenario": "alloc_rates",
            "expected": kind,
            "created": {"__main__.Alloc": COUNTS["Alloc"], "list": COUNTS["list"]},
            "freed": {"__main__.Alloc": COUNTS["Alloc_freed"], "list": COUNTS["list_freed"]},
            "live_expected": {"__main__.Alloc": COUNTS["Alloc"] - COUNTS["Alloc_freed"],
                              "list": COUNTS["list"] - COUNTS["list_freed"]},
            "live": _truth.count_instances([Alloc]),
            "rate": args.rate,
            "list_rate": args.list_rate,
            "keep": args.keep,
            "leak": args.leak,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="alloc_rates")

    start = time.monotonic()
    end = start + args.duration if args.duration > 0 else float("inf")
    while True:
        now = time.monotonic()
        if now >= end:
            break
        batch = []
        target = int((now - start) * args.rate)
        for i in range(COUNTS["Alloc"], target):
            batch.append(Alloc(i))
        COUNTS["Alloc"] += len(batch)
        nl = 0
        target = int((now - start) * args.list_rate)
        for i in range(COUNTS["list"], target):
            batch.append([i])
            nl += 1
        COUNTS["list"] += nl
        if args.leak:
            LEAKED.extend(batch)
        else:
            KEPT.append((now, batch, nl))
            while KEPT and now - KEPT[0][0] >= args.keep:
                _, old, old_lists = KEPT.popleft()
                COUNTS["Alloc_freed"] += len(old) - old_lists
                COUNTS["list_freed"] += old_lists
                del old
        del batch
        _truth.checkpoint()
        time.sleep(0.02)
    _truth.idle()


if __name__ == "__main__":
    main()
