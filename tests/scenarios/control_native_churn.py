# SPDX-License-Identifier: BSD-2-Clause
"""control_native_churn: heavy balanced native malloc/free (zlib and json on large buffers).

Every step compresses and decompresses a --size buffer with zlib and round-trips a large JSON
document: zlib's state and output buffers and the big str/bytes objects all come from libc
malloc and are freed at the end of the step. Nothing is kept.

pyleak should show: no native suspect; the malloc heap's in-use bytes flat.

Truth keys: expected (kind none), expected_all [], steps, size, rate.
"""

import json
import os
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

_S = {"steps": 0}


def main():
    p = _truth.parser(__doc__, duration=0.0)
    p.add_argument("--rate", type=float, default=40.0, help="steps per second (default %(default)s)")
    p.add_argument("--size", type=int, default=256 * 1024, help="buffer bytes per step (default %(default)s)")
    args = p.parse_args()
    blob = bytes(bytearray((i * 7919) & 0xff for i in range(args.size)))
    doc = {"rows": [{"id": i, "name": "row-%d" % i, "v": [i, i * 2, i * 3]} for i in range(2000)]}

    def extra():
        return {
            "scenario": "control_native_churn",
            "expected": {"kind": "none"},
            "expected_all": [],
            "steps": _S["steps"],
            "size": args.size,
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="control_native_churn")

    def step(i):
        z = zlib.compress(blob, 6)
        out = zlib.decompress(z)
        assert len(out) == len(blob)
        s = json.dumps(doc)
        back = json.loads(s)
        assert len(back["rows"]) == 2000
        _S["steps"] += 1

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
