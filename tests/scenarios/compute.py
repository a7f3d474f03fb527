# SPDX-License-Identifier: BSD-2-Clause
"""compute (benchmark): a pure compute loop that allocates almost nothing; prints elapsed.

Integer arithmetic on small ints (cached, never allocated) and float math in locals, --iterations
times.  The baseline for the harness: pyleak's probes should cost this process nothing.

Output (one JSON line): {"benchmark": "compute", "iterations", "elapsed_s", "iterations_per_s",
"result", "python"}.
"""

import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402


def work(n):
    acc = 0
    x = 1
    for i in range(n):
        x = (x * 37 + 11) & 255
        if x & 1:
            acc += x
        else:
            acc -= x >> 1
        acc &= 0xFFFF
    return acc


def main():
    p = _truth.parser(__doc__, duration=0.0, idle_default=False,
                         duration_help="unused (fixed amount of work)")
    p.add_argument("--iterations", type=int, default=10000000,
                   help="loop iterations (default %(default)s)")
    args = p.parse_args()
    _truth.setup(args, lambda: {"scenario": "compute", "iterations": args.iterations})
    t0 = time.perf_counter()
    result = work(args.iterations)
    elapsed = time.perf_counter() - t0
    _truth.finish({"benchmark": "compute", "iterations": args.iterations, "elapsed_s": elapsed,
                   "iterations_per_s": args.iterations / elapsed if elapsed else None,
                   "result": result, "python": platform.python_version(), "pid": os.getpid()})


if __name__ == "__main__":
    main()
