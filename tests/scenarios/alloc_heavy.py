# SPDX-License-Identifier: BSD-2-Clause
"""alloc_heavy (benchmark): a tight allocation loop; prints elapsed time and ops/s as JSON.

Each op allocates and frees an instance of __main__.Point, a dict, a list and a tuple (about
four object allocations, all freed by reference counting; no cycles).  A fixed amount of work
(--ops), then exit (or idle with --idle).  The benchmark harness compares its run time with and
without pyleak attached: the allocator-uprobe tier makes this the worst case.

Output (one JSON line): {"benchmark": "alloc_heavy", "ops", "allocations", "elapsed_s",
"ops_per_s", "python"}.
"""

import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402


class Point(object):
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


def work(n):
    total = 0
    for i in range(n):
        p = Point(i, i + 1)
        d = {"x": p.x, "y": p.y}
        l = [p, d]
        t = (l, i)
        total += len(t[0])
    return total


def main():
    p = _truth.parser(__doc__, duration=0.0, idle_default=False,
                         duration_help="unused (fixed amount of work)")
    p.add_argument("--ops", type=int, default=2000000, help="loop iterations (default %(default)s)")
    args = p.parse_args()
    _truth.setup(args, lambda: {"scenario": "alloc_heavy", "ops": args.ops})
    t0 = time.perf_counter()
    work(args.ops)
    elapsed = time.perf_counter() - t0
    _truth.finish({"benchmark": "alloc_heavy", "ops": args.ops, "allocations": 4 * args.ops,
                   "elapsed_s": elapsed, "ops_per_s": args.ops / elapsed if elapsed else None,
                   "python": platform.python_version(), "pid": os.getpid()})


if __name__ == "__main__":
    main()
