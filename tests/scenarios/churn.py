# SPDX-License-Identifier: BSD-2-Clause
"""churn: a short-lived Python process, for process-churn tests.

Allocates a little (--objects small containers), runs a few explicit collections (--gcs), writes
the truth (phase "idle"), sleeps --life seconds and exits 0.  Start many of these to check that
pyleak notices processes that come and go, drops them cleanly, and attributes nothing wrongly.

pyleak should show: the process appear, its GC counters (truth gc_stats), and disappear.

Truth keys: objects, explicit_collections, life, exit_time (planned).
"""

import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

HELD = []


def main():
    p = _truth.parser(__doc__, duration=0.0, idle_default=False,
                         duration_help="unused (fixed amount of work)")
    p.add_argument("--life", type=float, default=2.0,
                   help="seconds to live after the work (default %(default)s)")
    p.add_argument("--objects", type=int, default=10000,
                   help="small containers to allocate and keep (default %(default)s)")
    p.add_argument("--gcs", type=int, default=3, help="explicit gc.collect() calls (default 3)")
    args = p.parse_args()
    state = {"exit_time": None}
    _truth.setup(args, lambda: {"scenario": "churn", "objects": len(HELD),
                                "explicit_collections": args.gcs, "life": args.life,
                                "exit_time": state["exit_time"]})
    for i in range(args.objects):
        HELD.append([i, {"k": i}])
    for g in range(args.gcs):
        gc.collect(g % 3)
    state["exit_time"] = time.time() + args.life
    _truth.write_stable("idle")
    _truth.announce("idle", truth=args.truth, life=args.life)
    if args.idle:
        _truth.idle()
    time.sleep(args.life)


if __name__ == "__main__":
    main()
