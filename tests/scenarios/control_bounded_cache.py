# SPDX-License-Identifier: BSD-2-Clause
"""control_bounded_cache: an LRU cache at its size bound; steady churn, no leak.

The module-level `lru` (a collections.OrderedDict) holds at most --capacity entries.  It is filled
to the bound at start (warm-up takes well under a second), then every step looks up a random
key: a hit refreshes the entry (move_to_end), a miss inserts a new __main__.Entry and evicts the
oldest one.  The container's length and the live Entry count stay flat at --capacity.

pyleak should show: __main__.lru at a constant length, __main__.Entry allocated and freed at
the miss rate, and NO leak suspect.

Truth keys: expected ({"kind": "none"}), expected_all ([]), containers {"__main__.lru": len},
container_len, capacity, hits, misses, evictions, created, live, rate.
"""

import collections
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

lru = collections.OrderedDict()
COUNTS = {"hits": 0, "misses": 0, "evictions": 0, "created": 0}


class Entry(object):
    def __init__(self, key):
        self.key = key
        self.value = ["v", key, {"size": key % 97}]
        COUNTS["created"] += 1


def get(key, capacity):
    e = lru.get(key)
    if e is not None:
        lru.move_to_end(key)
        COUNTS["hits"] += 1
        return e
    COUNTS["misses"] += 1
    e = Entry(key)
    lru[key] = e
    if len(lru) > capacity:
        lru.popitem(last=False)
        COUNTS["evictions"] += 1
    return e


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--rate", type=float, default=2000.0,
                   help="lookups per second (default %(default)s)")
    p.add_argument("--capacity", type=int, default=5000,
                   help="cache bound (default %(default)s)")
    p.add_argument("--keys", type=int, default=20000,
                   help="key space; hit ratio is about capacity/keys (default %(default)s)")
    args = p.parse_args()
    rng = random.Random(args.seed)

    def extra():
        return {
            "scenario": "control_bounded_cache",
            "expected": {"kind": "none", "name": None},
            "expected_all": [],
            "containers": {"__main__.lru": len(lru)},
            "container_len": len(lru),
            "capacity": args.capacity,
            "hits": COUNTS["hits"],
            "misses": COUNTS["misses"],
            "evictions": COUNTS["evictions"],
            "created": {"__main__.Entry": COUNTS["created"]},
            "live": _truth.count_instances([Entry]),
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    for k in range(args.capacity):            # warm-up: fill to the bound at once
        get(k, args.capacity)
    _truth.announce("start", scenario="control_bounded_cache", warmed=len(lru))
    _truth.run_paced(args.rate, args.duration,
                     lambda i: get(rng.randrange(args.keys), args.capacity))
    _truth.idle()


if __name__ == "__main__":
    main()
