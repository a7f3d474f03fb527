# SPDX-License-Identifier: BSD-2-Clause
"""native_ctypes_leak: ctypes calls libc malloc and keeps no pointer: native memory that only grows.

Every step calls libc's malloc(--size) through ctypes, writes into the block (so its pages are
real) and drops the returned address: nothing can free it. Alongside, --balanced blocks per step
are malloc'ed and freed at once (balanced native churn that must not count). Python objects do
not grow: the leak is invisible to the GC and to pymalloc, visible only in the malloc heap.

pyleak should show: the glibc heap's in-use bytes growing by --rate x chunk size per second
(`pyleak heap`), in the size class of chunk_size; a 'native' suspect when native sampling runs.

Truth keys: expected, expected_all, steps, leaked_blocks, leaked_bytes (requested), chunk_size
(glibc's chunk for one block: request + 8 rounded up to 16, at least 32), leaked_chunk_bytes,
balanced_blocks, size, rate.
"""

import ctypes
import ctypes.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

_S = {"steps": 0, "balanced": 0}


def chunk_size(n):
    # glibc request2size: (n + SIZE_SZ + MALLOC_ALIGN_MASK) & ~MALLOC_ALIGN_MASK, at least MINSIZE
    c = (n + 8 + 15) & ~15
    return c if c >= 32 else 32


def main():
    p = _truth.parser(__doc__, duration=0.0)
    p.add_argument("--rate", type=float, default=50.0, help="leaked blocks per second (default %(default)s)")
    p.add_argument("--size", type=int, default=4000, help="bytes per leaked block (default %(default)s)")
    p.add_argument("--balanced", type=int, default=10,
                   help="blocks malloc'ed and freed per step (default %(default)s)")
    p.add_argument("--work-us", type=float, default=0.0,
                   help="pure-Python CPU work per step in microseconds, no malloc (default %(default)s): "
                        "a service's CPU use, which the overhead budget is a share of")
    args = p.parse_args()
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free.restype = None
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    libc.memset.restype = ctypes.c_void_p
    size = args.size

    def extra():
        n = _S["steps"]
        return {
            "scenario": "native_ctypes_leak",
            "expected": {"kind": "native", "name": "ctypes malloc"},
            "expected_all": [{"kind": "native", "name": "ctypes malloc"}],
            "steps": n,
            "leaked_blocks": n,
            "leaked_bytes": n * size,
            "chunk_size": chunk_size(size),
            "leaked_chunk_bytes": n * chunk_size(size),
            "balanced_blocks": _S["balanced"],
            "size": size,
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="native_ctypes_leak")

    def step(i):
        if args.work_us > 0:
            _truth.spin(args.work_us)
        a = libc.malloc(size)
        if a:
            libc.memset(a, 0x5a, size)
        for _ in range(args.balanced):
            b = libc.malloc(size)
            libc.free(b)
        _S["balanced"] += args.balanced
        _S["steps"] += 1

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
