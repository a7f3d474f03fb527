# SPDX-License-Identifier: BSD-2-Clause
"""gc_requests (benchmark): request objects with self-references, the collection-heavy loop of
issue 23; prints elapsed time as JSON.

Each op parses a raw HTTP request into one __main__.Request (method, path, a headers dict, a
list of chunks) that refers to itself through a bound method stored on the instance (the common
way real code ties an object into a cycle), formats a response and drops the request.  Reference
counting cannot free it, so young collections run at the rate of the loop (on the reference
machine: ~2 300/s on 3.11, ~1 500/s on 3.12, ~600/s on 3.13 whose threshold is 2000), each
finding real garbage: the per-collection cost of an observer shows here more than anywhere else.  Fixed work
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


RAW = ("GET /item/%d?page=%d HTTP/1.1\r\nHost: example\r\nUser-Agent: bench/1.0\r\n"
       "Accept: */*\r\nX-Request-Id: %d\r\n\r\n")


class Request(object):
    def __init__(self, raw):
        head, _, _ = raw.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.method, self.path, self.proto = lines[0].split(" ")
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(": ")
            self.headers[k.lower()] = v
        self.chunks = [self.path.encode(), b"ok"]
        self.on_done = self.finish  # bound method -> self: a cycle

    def finish(self):
        return "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % sum(len(c) for c in self.chunks)


def work(n):
    total = 0
    for i in range(n):
        r = Request(RAW % (i % 1000, i % 7, i))
        total += len(r.finish())
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
