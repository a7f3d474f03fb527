# SPDX-License-Identifier: BSD-2-Clause
"""gc_heavy (benchmark): a loop that makes cyclic garbage; prints elapsed time as JSON.

Each op makes a two-object reference cycle (instances of __main__.Pair, each holding a list)
and drops it, so the collector runs young collections constantly and some older ones; a
--keep-every survivor (kept in a bounded ring) gives the old generations real work.  Fixed work
(--cycles), then exit (or idle with --idle).  The harness compares run time with and without
pyleak: this is the GC-probe (USDT/uprobe) worst case.

Output (one JSON line): {"benchmark": "gc_heavy", "cycles", "elapsed_s", "cycles_per_s",
"collections" (per generation, during the run), "python"}.
"""

import gc
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402


class Pair(object):
    __slots__ = ("other", "data")

    def __init__(self, data):
        self.other = None
        self.data = data


def work(n, keep_every, ring):
    kept = [None] * ring
    for i in range(n):
        a = Pair([i])
        b = Pair([i])
        a.other = b
        b.other = a
        if i % keep_every == 0:
            kept[(i // keep_every) % ring] = a


def main():
    p = _truth.parser(__doc__, duration=0.0, idle_default=False,
                         duration_help="unused (fixed amount of work)")
    p.add_argument("--cycles", type=int, default=1000000,
                   help="cycles to make (default %(default)s)")
    p.add_argument("--keep-every", type=int, default=50,
                   help="keep every Nth cycle in the survivor ring (default %(default)s)")
    p.add_argument("--ring", type=int, default=10000, help="survivor ring size")
    args = p.parse_args()
    _truth.setup(args, lambda: {"scenario": "gc_heavy", "cycles": args.cycles})
    before = [s["collections"] for s in gc.get_stats()]
    t0 = time.perf_counter()
    work(args.cycles, args.keep_every, args.ring)
    elapsed = time.perf_counter() - t0
    after = [s["collections"] for s in gc.get_stats()]
    _truth.finish({"benchmark": "gc_heavy", "cycles": args.cycles, "elapsed_s": elapsed,
                   "cycles_per_s": args.cycles / elapsed if elapsed else None,
                   "collections": {str(g): after[g] - before[g] for g in range(3)},
                   "python": platform.python_version(), "pid": os.getpid()})


if __name__ == "__main__":
    main()
