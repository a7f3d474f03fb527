# SPDX-License-Identifier: BSD-2-Clause
"""control_churn: heavy but steady allocate-and-free; no leak.

Every step allocates a burst of short-lived objects of several types (a __main__.Request with a
dict of headers, lists, tuples, sets, plus a small garbage cycle the collector frees) and drops
them all.  Allocation rates are high, but every type's live count is flat.

pyleak should show: high allocation (and free) rates, regular gen0 collections, and NO leak
suspect of any kind.

Truth keys: expected ({"kind": "none"}), expected_all ([]), created, live, steps, rate.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

COUNTS = {"created": 0}


class Request(object):
    def __init__(self, i):
        self.id = i
        self.headers = {"host": "example.com", "x-id": str(i), "accept": "*/*"}
        self.parts = [i, str(i), (i, i + 1)]
        self.tags = set(["a", "b", str(i % 7)])
        COUNTS["created"] += 1


class Node(object):
    def __init__(self):
        self.other = None


def step_work(i, burst):
    total = 0
    for k in range(burst):
        r = Request(i * burst + k)
        total += len(r.headers) + len(r.parts)
    a = Node()
    b = Node()
    a.other = b
    b.other = a        # garbage cycle: freed by the next gen0 collection
    return total


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--rate", type=float, default=200.0,
                   help="steps per second (default %(default)s)")
    p.add_argument("--burst", type=int, default=50,
                   help="Request objects per step (default %(default)s)")
    args = p.parse_args()

    def extra():
        return {
            "scenario": "control_churn",
            "expected": {"kind": "none", "name": None},
            "expected_all": [],
            "created": {"__main__.Request": COUNTS["created"]},
            "live": _truth.count_instances([Request, Node]),
            "rate": args.rate,
            "burst": args.burst,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="control_churn")
    _truth.run_paced(args.rate, args.duration, lambda i: step_work(i, args.burst))
    _truth.idle()


if __name__ == "__main__":
    main()
