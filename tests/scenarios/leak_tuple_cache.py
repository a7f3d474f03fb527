# SPDX-License-Identifier: BSD-2-Clause
"""leak_tuple_cache: a memo of computed results, int -> (int, float, str) tuples, never evicted.

A tuple holding only atomic values is untracked by the first collection that examines it
(untrack_tuples in Modules/gcmodule.c / Python/gc.c), so the tracked tuple count stays flat while
the memo grows; the dict itself is untracked again by full collections (3.12 and before) once
all its values are. The healthy churn keeps young collections running.

pyleak should show: container __main__.tuple_cache growing at --rate items/s (tracked or not),
and untracked tuples growing at the same rate.

Truth keys: expected, expected_all, containers, container_len, tuples_tracked (of the memo's
values, by gc.is_tracked: 0 but the newest), rate.
"""

import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

tuple_cache = {}


def compute(n):
    return (n, n * 0.5, "r%d" % n)


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--rate", type=float, default=50.0, help="memo entries per second (default %(default)s)")
    p.add_argument("--churn", type=int, default=20, help="healthy temporary objects per step, x3 (default %(default)s)")
    p.add_argument("--cycles", type=int, default=10, help="garbage cycles per step (default %(default)s)")
    args = p.parse_args()

    def extra():
        tracked = 0
        for v in tuple_cache.values():
            if gc.is_tracked(v):
                tracked += 1
        return {
            "scenario": "leak_tuple_cache",
            "expected": {"kind": "container", "name": "__main__.tuple_cache"},
            "expected_all": [{"kind": "container", "name": "__main__.tuple_cache", "type": "dict"},
                             {"kind": "type", "name": "tuple", "untracked": True}],
            "containers": {"__main__.tuple_cache": len(tuple_cache)},
            "container_len": len(tuple_cache),
            "tuples_tracked": tracked,
            "dict_tracked": gc.is_tracked(tuple_cache),
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="leak_tuple_cache")

    def step(i):
        tuple_cache[100000 + i] = compute(100000 + i)
        _truth.churn(args.churn)
        # garbage cycles: young collections every few seconds on every version (they untrack
        # the memo's tuples; 3.13's threshold of 2000 would otherwise take 40 s)
        for _ in range(args.cycles):
            c = []
            c.append(c)

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
