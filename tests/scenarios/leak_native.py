# SPDX-License-Identifier: BSD-2-Clause
"""leak_native: native memory allocated with libc malloc through ctypes and never freed.

No Python object is kept (the pointer, an int, is dropped at once): the census sees nothing grow,
the arenas stay flat, and RSS grows in the malloc heap by --rate x --size bytes per second. The
blocks are written (memset) so that their pages are resident.

pyleak should show: an "rss" suspect whose evidence puts the growth in the malloc heap and
anonymous memory, with the pymalloc arenas and Python objects flat.

Truth keys: expected, expected_all, allocated_bytes, rate, size.
"""

import ctypes
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--rate", type=float, default=20.0, help="allocations per second (default %(default)s)")
    p.add_argument("--size", type=int, default=8192, help="bytes per allocation (default %(default)s)")
    args = p.parse_args()
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.memset.restype = ctypes.c_void_p
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    total = [0]

    def extra():
        return {
            "scenario": "leak_native",
            "expected": {"kind": "rss", "name": "rss"},
            "expected_all": [{"kind": "rss", "name": "rss"}],
            "allocated_bytes": total[0],
            "rate": args.rate * args.size,
            "size": args.size,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="leak_native")

    def step(i):
        libc.memset(libc.malloc(args.size), 1, args.size)
        total[0] += args.size

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
