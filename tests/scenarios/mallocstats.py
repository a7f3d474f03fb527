# SPDX-License-Identifier: BSD-2-Clause
"""mallocstats: a known heap, and what sys._debugmallocstats() says about it, for comparison.

Builds --objects small objects of several size classes (kept), goes idle, and on SIGUSR2 (and
once at the start of the idle phase) captures sys._debugmallocstats() into a file without
allocating a Python object in this process: stderr is redirected with os.dup2 around the call
(all the objects it needs are made beforehand). The capture is then parsed in a forked child,
so the parse cannot change the heap it describes, and written atomically as JSON to
TRUTH.mallocstats.json: {"arenas": n, "bytes_in_allocated_blocks": n, "classes": {"IDX":
[size, pools, blocks_in_use, avail_blocks]}, "time": t, "capture": k}.

Truth keys: objects, mallocstats_path, captures.
"""

import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

kept = []
_FLAG = [False]


def build(n):
    for i in range(n):
        k = i % 5
        if k == 0:
            kept.append("str-%d" % i)
        elif k == 1:
            kept.append(b"x" * (i % 300))
        elif k == 2:
            kept.append((i, str(i)))
        elif k == 3:
            kept.append({"k": i})
        else:
            kept.append([i] * (i % 20))


ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$")


def parse(text):
    out = {"classes": {}}
    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            idx, size, pools, used, avail = (int(x) for x in m.groups())
            out["classes"][str(idx)] = [size, pools, used, avail]
        elif line.startswith("# arenas allocated current"):
            out["arenas"] = int(line.split("=")[1].replace(",", ""))
        elif line.startswith("# bytes in allocated blocks"):
            out["bytes_in_allocated_blocks"] = int(line.split("=")[1].replace(",", ""))
    return out


def main():
    p = _truth.parser(__doc__, duration=0.0)
    p.add_argument("--objects", type=int, default=200000, help="small objects kept (default %(default)s)")
    args = p.parse_args()
    out_path = (args.truth or "/tmp/mallocstats") + ".mallocstats.json"
    raw_path = out_path + ".raw"

    def extra():
        return {"scenario": "mallocstats", "expected": {"kind": "none", "name": None}, "expected_all": [],
                "objects": len(kept), "mallocstats_path": out_path}

    _truth.setup(args, extra)
    _truth.announce("start", scenario="mallocstats")
    build(args.objects)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped by the kernel: no waitpid

    def on_usr2(signum, frame):
        _FLAG[0] = True

    signal.signal(signal.SIGUSR2, on_usr2)
    _truth.write_stable("idle")
    _truth.announce("idle", truth=args.truth)
    # Everything the capture touches exists now: the fds, the bound functions, the flag.
    fd = os.open(raw_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    saved = os.dup(2)
    dup2, ftruncate, lseek, fork, stats, sleep = os.dup2, os.ftruncate, os.lseek, os.fork, sys._debugmallocstats, time.sleep
    seek_set, flag, true, false = os.SEEK_SET, _FLAG, True, False
    flag[0] = true
    while true:
        if flag[0]:
            flag[0] = false
            ftruncate(fd, 0)
            lseek(fd, 0, seek_set)
            dup2(fd, 2)
            stats()
            dup2(saved, 2)
            if fork() == 0:
                with open(raw_path) as f:
                    res = parse(f.read())
                res["time"] = time.time()
                with open(out_path + ".tmp", "w") as f:
                    json.dump(res, f)
                os.replace(out_path + ".tmp", out_path)
                os._exit(0)
        sleep(0.1)


if __name__ == "__main__":
    main()
