# SPDX-License-Identifier: BSD-2-Clause
"""leak_large_bytes: a class-level list of large (> 512 B) bytes objects, never cleared.

Each bytes object is over pymalloc's 512-byte limit, so it lives in libc malloc, not in the
arenas: the untracked census cannot count it, and RSS grows in the malloc heap / anonymous
memory. The list itself is tracked and grows, held by the class attribute Archive.blobs.

pyleak should show: container __main__.Archive.blobs (list) growing at --rate items/s, and the
RSS breakdown putting the growth in the malloc heap, not in the arenas.

Truth keys: expected, expected_all, containers, container_len, blob_bytes, rate.
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402


class Archive(object):
    blobs = []


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--rate", type=float, default=50.0, help="blobs kept per second (default %(default)s)")
    p.add_argument("--churn", type=int, default=20, help="healthy temporary objects per step, x3 (default %(default)s)")
    args = p.parse_args()
    rng = random.Random(args.seed)
    total = [0]

    def extra():
        return {
            "scenario": "leak_large_bytes",
            "expected": {"kind": "container", "name": "__main__.Archive.blobs"},
            "expected_all": [{"kind": "container", "name": "__main__.Archive.blobs", "type": "list"}],
            "containers": {"__main__.Archive.blobs": len(Archive.blobs)},
            "container_len": len(Archive.blobs),
            "blob_bytes": total[0],
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="leak_large_bytes")

    def step(i):
        blob = os.urandom(rng.randint(600, 4000))
        Archive.blobs.append(blob)
        total[0] += len(blob)
        _truth.churn(args.churn)

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
