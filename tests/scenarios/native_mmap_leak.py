# SPDX-License-Identifier: BSD-2-Clause
"""native_mmap_leak: ctypes maps anonymous memory with libc mmap and never unmaps it.

Every step calls libc's mmap(NULL, --size, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS) through
ctypes, writes every page of the mapping (so it is resident) and drops the address: the mapping
stays for good. Alongside, --balanced mappings per step are mapped, touched and unmapped at once
(balanced churn that must not count). Nothing of it goes through malloc: the glibc heap walk sees
none of it; /proc/PID/maps and RSS grow by --rate x --size bytes per second.

pyleak should show: a 'native' suspect for the leaking mmap call (its Python caller: step), its
outstanding bytes verified from /proc/PID/maps, growing by --rate x --size per second; nothing
for the balanced line.

Truth keys: expected, expected_all, steps, leaked_maps, leaked_bytes (the mappings' lengths),
balanced_maps, size, rate.
"""

import ctypes
import ctypes.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

_S = {"steps": 0, "balanced": 0}

PROT_READ, PROT_WRITE = 1, 2
MAP_PRIVATE, MAP_ANONYMOUS = 0x02, 0x20
PAGE = 4096


def main():
    p = _truth.parser(__doc__, duration=0.0)
    p.add_argument("--rate", type=float, default=20.0, help="leaked mappings per second (default %(default)s)")
    p.add_argument("--size", type=int, default=64 * 1024,
                   help="bytes per mapping, a multiple of the page size (default %(default)s)")
    p.add_argument("--balanced", type=int, default=4,
                   help="mappings mapped and unmapped per step (default %(default)s)")
    p.add_argument("--work-us", type=float, default=0.0,
                   help="pure-Python CPU work per step in microseconds, no malloc (default %(default)s): "
                        "a service's CPU use, which the overhead budget is a share of")
    args = p.parse_args()
    if args.size <= 0 or args.size % PAGE:
        p.error("--size must be a positive multiple of %d" % PAGE)
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                          ctypes.c_long]
    libc.munmap.restype = ctypes.c_int
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    libc.memset.restype = ctypes.c_void_p
    size = args.size
    failed = ctypes.c_void_p(-1).value

    def extra():
        n = _S["steps"]
        return {
            "scenario": "native_mmap_leak",
            "expected": {"kind": "native", "name": "ctypes mmap"},
            "expected_all": [{"kind": "native", "name": "ctypes mmap"}],
            "steps": n,
            "leaked_maps": n,
            "leaked_bytes": n * size,
            "balanced_maps": _S["balanced"],
            "size": size,
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="native_mmap_leak")

    def mapping():
        a = libc.mmap(None, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if not a or a == failed:
            raise MemoryError("mmap failed")
        libc.memset(a, 0x5a, size)
        return a

    def step(i):
        if args.work_us > 0:
            _truth.spin(args.work_us)
        mapping()  # leaked: the address is dropped here
        for _ in range(args.balanced):
            libc.munmap(mapping(), size)
        _S["balanced"] += args.balanced
        _S["steps"] += 1

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
