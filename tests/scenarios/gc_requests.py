# SPDX-License-Identifier: BSD-2-Clause
"""gc_requests (benchmark): request objects with self-references, the collection-heavy loop of
issue 23; prints elapsed time as JSON.

Each op makes one __main__.Request: a small instance with a headers dict, a list of chunks and a
reference back to itself through a callback holder (a bound method stored on the instance, the
common way real code ties an object into a cycle), then drops it.  Reference counting cannot
free it, so the young generation fills every ~700 (3.13: 2000) allocations and young collections
run at the rate of the loop (~1 500/s on 3.11 on the reference machine), each finding real
garbage: the per-collection cost of an observer shows here more than anywhere else.  Fixed work
(--requests), then exit (or idle with --idle).

Output (one JSON line): {"benchmark": "gc_requests", "requests", "elapsed_s", "requests_per_s",
"collections" (per generation, during the run), "python", "pid"}.
"""

import gc
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402


class Request(object):
    def __init__(self, i):
        self.path = "/item/%d" % (i % 1000)
        self.headers = {"host": "example", "x-id": i}
        self.chunks = [b"a", b"b"]
        self.on_done = self.finish  # bound method -> self: a cycle

    def finish(self):
        return len(self.chunks)


def work(n):
    total = 0
    for i in range(n):
        r = Request(i)
        total += len(r.path)
    return total


def main():
    p = _truth.parser(__doc__, duration=0.0, idle_default=False,
                      duration_help="unused (fixed amount of work)")
    p.add_argument("--requests", type=int, default=400000,
                   help="requests to make (default %(default)s)")
    args = p.parse_args()
    _truth.setup(args, lambda: {"scenario": "gc_requests", "requests": args.requests})
    before = [s["collections"] for s in gc.get_stats()]
    t0 = time.perf_counter()
    work(args.requests)
    elapsed = time.perf_counter() - t0
    after = [s["collections"] for s in gc.get_stats()]
    _truth.finish({"benchmark": "gc_requests", "requests": args.requests, "elapsed_s": elapsed,
                   "requests_per_s": args.requests / elapsed if elapsed else None,
                   "collections": {str(g): after[g] - before[g] for g in range(3)},
                   "python": platform.python_version(), "pid": os.getpid()})


if __name__ == "__main__":
    main()
