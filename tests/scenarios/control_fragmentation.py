# SPDX-License-Identifier: BSD-2-Clause
"""control_fragmentation: many small objects freed in a pattern that keeps the arenas alive; then flat.

At start --objects small objects (str, bytes, tuples and floats of several size classes,
interleaved) are made, and all but every --keep-every-th are dropped. The survivors are spread
over every pool, so pymalloc can return no arena: the arenas stay allocated with few blocks in
use (fragmentation). After that only healthy churn runs: nothing grows.

pyleak should show: high arena bytes, low block use (block_bytes_used well under arena_bytes),
and no suspect at all: fragmentation is not a leak.

Truth keys: expected (none), expected_all [], objects, kept, rate.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

survivors = []


def fragment(n, keep_every):
    made = []
    for i in range(n):
        k = i % 4
        if k == 0:
            made.append("s%012d" % i)
        elif k == 1:
            made.append(b"b" * (16 + i % 200))
        elif k == 2:
            made.append((i, i + 1))
        else:
            made.append(i * 1.5)
    survivors.extend(made[::keep_every])
    del made[:]


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--objects", type=int, default=1000000, help="small objects made at start (default %(default)s)")
    p.add_argument("--keep-every", type=int, default=40, help="keep one in N (default %(default)s)")
    p.add_argument("--rate", type=float, default=50.0, help="churn steps per second (default %(default)s)")
    p.add_argument("--churn", type=int, default=20, help="healthy temporary objects per step, x3 (default %(default)s)")
    args = p.parse_args()

    def extra():
        return {
            "scenario": "control_fragmentation",
            "expected": {"kind": "none", "name": None},
            "expected_all": [],
            "objects": args.objects,
            "kept": len(survivors),
            "rate": args.rate,
        }

    fragment(args.objects, args.keep_every)
    _truth.setup(args, extra)
    _truth.announce("start", scenario="control_fragmentation")
    _truth.run_paced(args.rate, args.duration, lambda i: _truth.churn(args.churn))
    _truth.idle()


if __name__ == "__main__":
    main()
