# SPDX-License-Identifier: BSD-2-Clause
"""leak_untracked_dict: request payloads kept in a module-level dict of str -> bytes, never evicted.

A dict whose keys and values are all atomic (str, bytes) is never tracked by the collector up
to 3.13 (CPython creates dicts untracked and tracks one only when a container goes in; 3.14
dropped that optimisation: every dict is tracked, the truth says which), and neither are its
keys and values: the GC lists the census walks do not change at all. Only the holder walk
(module globals, measured tracked or not) and the untracked census (pymalloc arenas) see it.

pyleak should show: container __main__.seen_payloads (dict, untracked) growing at --rate items/s,
and untracked str and bytes objects growing at the same rate.

Truth keys: expected, expected_all, containers, container_len, tracked (gc.is_tracked of the dict:
false up to 3.13, true from 3.14), payload_bytes (sum of len()), rate.
"""

import gc
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

seen_payloads = {}


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--rate", type=float, default=50.0, help="payloads kept per second (default %(default)s)")
    p.add_argument("--churn", type=int, default=20, help="healthy temporary objects per step, x3 (default %(default)s)")
    args = p.parse_args()
    rng = random.Random(args.seed)
    total = [0]

    def extra():
        return {
            "scenario": "leak_untracked_dict",
            "expected": {"kind": "container", "name": "__main__.seen_payloads"},
            "expected_all": [{"kind": "container", "name": "__main__.seen_payloads", "type": "dict",
                              "tracked": gc.is_tracked(seen_payloads)},
                             {"kind": "type", "name": "bytes", "untracked": True}],
            "containers": {"__main__.seen_payloads": len(seen_payloads)},
            "container_len": len(seen_payloads),
            "tracked": gc.is_tracked(seen_payloads),
            "payload_bytes": total[0],
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="leak_untracked_dict")

    def step(i):
        # 100-400 bytes: small enough for pymalloc (<= 512 B with the bytes header)
        payload = bytes(bytearray(rng.getrandbits(8) for _ in range(rng.randint(100, 400))))
        seen_payloads["req-%d-%08x" % (i, rng.getrandbits(32))] = payload
        total[0] += len(payload)
        _truth.churn(args.churn)

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
