# SPDX-License-Identifier: BSD-2-Clause
"""native_ext_leak: a C extension that leaks a buffer per call from one function.

The extension `_leaky` (tests/scenarios/native_ext/_leaky.c, built against the running
interpreter's own headers by build_ext.py or the integration test, found through --ext-dir) has
leak_buffer(n): malloc(n), fill, never free; and scratch(n): malloc(n), fill, free. The workload
calls handle() (which calls leak_buffer) --rate times per second and churn() (which calls
scratch) 10 times per handle() call.

pyleak should show: a 'native' suspect `_leaky...so:leak_buffer <- native_ext_leak.py handle`,
outstanding bytes growing by rate x chunk size per second; nothing for scratch.

Truth keys: expected, expected_all, steps, leaked_blocks, leaked_bytes, chunk_size,
leaked_chunk_bytes, scratch_calls, size, rate, module (the .so path).
"""

import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

_S = {"steps": 0, "scratch": 0}


def chunk_size(n):
    c = (n + 8 + 15) & ~15  # glibc request2size
    return c if c >= 32 else 32


def handle(mod, size):
    mod.leak_buffer(size)


def churn(mod, size):
    for _ in range(10):
        mod.scratch(size)
    _S["scratch"] += 10


def main():
    p = _truth.parser(__doc__, duration=0.0)
    p.add_argument("--ext-dir", required=True, help="directory holding the built _leaky module")
    p.add_argument("--rate", type=float, default=50.0, help="handle() calls per second (default %(default)s)")
    p.add_argument("--size", type=int, default=6000, help="bytes leaked per call (default %(default)s)")
    p.add_argument("--work-us", type=float, default=0.0,
                   help="pure-Python CPU work per step in microseconds, no malloc (default %(default)s): "
                        "a service's CPU use, which the overhead budget is a share of")
    args = p.parse_args()
    sys.path.insert(0, args.ext_dir)
    mod = importlib.import_module("_leaky")
    size = args.size

    def extra():
        n = _S["steps"]
        return {
            "scenario": "native_ext_leak",
            "expected": {"kind": "native", "name": "leak_buffer"},
            "expected_all": [{"kind": "native", "name": "leak_buffer", "caller": "handle"}],
            "steps": n,
            "leaked_blocks": n,
            "leaked_bytes": n * size,
            "chunk_size": chunk_size(size),
            "leaked_chunk_bytes": n * chunk_size(size),
            "scratch_calls": _S["scratch"],
            "size": size,
            "rate": args.rate,
            "module": mod.__file__,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="native_ext_leak")

    def step(i):
        if args.work_us > 0:
            _truth.spin(args.work_us)
        handle(mod, size)
        churn(mod, size)
        _S["steps"] += 1

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
