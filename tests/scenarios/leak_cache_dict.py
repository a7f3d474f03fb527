# SPDX-License-Identifier: BSD-2-Clause
"""leak_cache_dict: a module-level dict used as a cache keyed by random ids, never evicted.

Every step stores a per-user dict of strings under a fresh random id in the global `cache`.
Dicts holding only strings are not tracked by the collector, so the per-type census barely moves:
the leak is visible as the growth of one container, `__main__.cache`, by --rate items/s.
Some healthy churn runs alongside.

pyleak should show: container __main__.cache (dict) growing at about --rate items/s, and a
'container' leak verdict naming it.

Truth keys: expected, expected_all, containers {name: len}, container_len, created, live, steps,
users_tracked (how many cached user dicts the GC tracks: 0), rate.
"""

import gc
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

cache = {}

FIRST = ["ada", "alan", "grace", "linus", "guido", "barbara", "ken", "dennis"]
CITIES = ["Lisbon", "Oslo", "Kyoto", "Quito", "Accra", "Perth"]


def fetch_user(rng, i):
    uid = "%032x" % rng.getrandbits(128)
    user = {
        "id": uid,
        "name": rng.choice(FIRST) + "-" + str(i),
        "email": "user%d@example.com" % i,
        "city": rng.choice(CITIES),
        "bio": "x" * rng.randint(16, 64),
    }
    cache[uid] = user
    return user


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--rate", type=float, default=50.0,
                   help="new cache entries per second (default %(default)s)")
    p.add_argument("--churn", type=int, default=20,
                   help="healthy temporary objects per step, x3 (default %(default)s)")
    args = p.parse_args()
    rng = random.Random(args.seed)

    def extra():
        tracked = 0
        for v in cache.values():
            if gc.is_tracked(v):
                tracked += 1
        return {
            "scenario": "leak_cache_dict",
            "expected": {"kind": "container", "name": "__main__.cache"},
            "expected_all": [{"kind": "container", "name": "__main__.cache", "type": "dict"}],
            "containers": {"__main__.cache": len(cache)},
            "container_len": len(cache),
            "len_cache": len(cache),
            "created": {"dict": len(cache)},
            "live": {},
            "users_tracked": tracked,
            "steps": len(cache),
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="leak_cache_dict")

    def step(i):
        fetch_user(rng, i)
        _truth.churn(args.churn)

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
