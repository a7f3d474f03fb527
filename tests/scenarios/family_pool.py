# SPDX-License-Identifier: BSD-2-Clause
"""family_pool: a multiprocessing.Pool or a ProcessPoolExecutor family, and what it is made of.

The parent starts --workers worker processes with --start-method (fork, spawn or forkserver)
through --api pool (multiprocessing.Pool) or executor (concurrent.futures.ProcessPoolExecutor),
feeds them small tasks for --duration seconds, then idles with the workers alive.  With
--max-tasks N (pool only: maxtasksperchild) every worker is replaced after N tasks, so workers
come and go: --tasks bounds how many tasks run in all (0: as many as fit in --duration).

pyleak should show: one family rooted at this process with --workers workers (plus
multiprocessing's helpers under spawn/forkserver), kind multiprocessing (spawn, forkserver) or
fork; no verdict.  SIGTERM or SIGINT kill the scenario's process group (its workers and helpers
with it).

Truth keys: expected (none), api, start_method, workers (pids of the live workers at the
write, from multiprocessing.active_children()), children (every child pid), tasks.
"""

import concurrent.futures
import multiprocessing
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

STATE = {"tasks": 0, "workers": []}


def task(x, sleep=0.05):
    time.sleep(sleep)
    return x * x, os.getpid()


def main():
    p = _truth.parser(__doc__, duration=5.0)
    p.add_argument("--api", choices=("pool", "executor"), default="pool")
    p.add_argument("--start-method", choices=("fork", "spawn", "forkserver"), default="fork")
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--max-tasks", type=int, default=0, help="pool only: maxtasksperchild (0: never replaced)")
    p.add_argument("--tasks", type=int, default=0, help="tasks in all (0: as many as fit in --duration)")
    p.add_argument("--task-sleep", type=float, default=0.05)
    args = p.parse_args()
    ctx = multiprocessing.get_context(args.start_method)

    def extra():
        kids = [c.pid for c in multiprocessing.active_children()]
        return {
            "scenario": "family_pool",
            "expected": {"kind": "none"},
            "expected_all": [],
            "api": args.api,
            "start_method": args.start_method,
            "workers": sorted(STATE["workers"]),
            "children": sorted(kids),
            "tasks": STATE["tasks"],
        }

    _truth.setup(args, extra)
    # Its own process group, and SIGTERM/SIGINT take the whole group: _truth's handler exits at
    # once, which would leave the pool's workers, the forkserver and the resource tracker behind.
    os.setpgid(0, 0)

    def end_group(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.killpg(0, signal.SIGKILL)

    signal.signal(signal.SIGTERM, end_group)
    signal.signal(signal.SIGINT, end_group)
    _truth.announce("start", scenario="family_pool")
    if args.api == "pool":
        pool = ctx.Pool(args.workers, maxtasksperchild=args.max_tasks or None)
        def submit(fn, *a):
            return pool.apply_async(fn, a)
    else:
        pool = concurrent.futures.ProcessPoolExecutor(args.workers, mp_context=ctx)
        submit = pool.submit
    end = time.time() + args.duration
    pending = []
    while time.time() < end and (not args.tasks or STATE["tasks"] < args.tasks):
        pending.append(submit(task, STATE["tasks"], args.task_sleep))
        STATE["tasks"] += 1
        if len(pending) >= args.workers * 2:
            pending.pop(0).get() if args.api == "pool" else pending.pop(0).result()
        time.sleep(args.task_sleep / max(1, args.workers))
        _truth.checkpoint()
    for f in pending:
        f.get() if args.api == "pool" else f.result()
    if args.api == "executor":
        # the executor starts its workers on demand: make sure all of them are up
        list(pool.map(task, range(args.workers * 4)))
    STATE["workers"] = [c.pid for c in multiprocessing.active_children()
                        if "resource_tracker" not in (c.name or "") and "forkserver" not in (c.name or "")]
    _truth.idle()


if __name__ == "__main__":
    main()
