# SPDX-License-Identifier: BSD-2-Clause
"""survivors: one type allocated in two places; only one of them leaks.

Every step handles one "request": handle_request() keeps one __main__.Record in the module-level
list _REGISTRY forever (the leak, at the line marked "# SITE: leak"); every --batch steps,
parse_batch() makes --churn (5) Records per step of the batch at the line marked "# SITE: churn",
which all die (batch work: 5x the leak's allocations, none survives).

Why in batches: a young collection starts when the young count passes the gen-0 threshold T, and
the count starts again from 0 there, so with the same few allocations every step the collections
lock onto one position of the step (3.13, T = 2000, 6 allocations a step: 2001 = 3 mod 6, two
positions, one of them in handle_request: measured 25 leak to 24 churn).  With a batch of
5 x --batch (default 2 T) churn Records, every batch holds at least floor(10 T / (T + 1)) = 9
collection starts, while the 2 T leak allocations (plus Markers) between two batches hold at
most 3: the plain profile is dominated by the churn whatever the phase, on every version, with
no dependence on timing.  make_marker() allocates the
distinctive __main__.Marker at "# SITE: marker" and keeps the last 2000 (a bounded cache): the
pairing check, since no other code makes a Marker.

pyleak should show: type __main__.Record growing at --rate/s; the plain allocation profile of
Records dominated by parse_batch (5:1), and the sites of the *surviving* Records: handle_request
(all of them); every sampled Marker allocated in make_marker.

Options: --rate (leaked Records per second, 300), --churn (Records per step that die, 5),
--batch (steps per churn batch; 0, the default: twice the gen-0 threshold; 1: every step),
--cycles (make the churn Records garbage cycles, freed by the collector instead of at once).

Truth keys: sites {leak, churn, marker: {file (abs), function, qualname, line}}, created
{leak, churn, marker}, live (__main__.Record, __main__.Marker live tracked), len_registry,
expected (type __main__.Record), expected_all (adds container __main__._REGISTRY), rate, churn,
batch (steps per churn batch).
"""

import collections
import gc
import inspect
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

_REGISTRY = []
_MARKERS = collections.deque(maxlen=2000)
COUNTS = {"leak": 0, "churn": 0, "marker": 0}
OPTS = {"cycles": False}


class Record(object):
    def __init__(self, key, payload):
        self.key = key
        self.payload = payload
        self.peer = None
        self.t = time.time()


class Marker(object):
    def __init__(self, i):
        self.i = i


def handle_request(i):
    rec = Record(i, "req-%d" % i)  # SITE: leak
    _REGISTRY.append(rec)
    COUNTS["leak"] += 1
    return rec


def parse_batch(i, n):
    total = 0
    for k in range(n):
        r = Record(k, [i, k])  # SITE: churn
        if OPTS["cycles"]:
            r.peer = r
        total += r.key
    COUNTS["churn"] += n
    return total


def make_marker(i):
    m = Marker(i)  # SITE: marker
    _MARKERS.append(m)
    COUNTS["marker"] += 1


def site_of(func, tag):
    lines, first = inspect.getsourcelines(func)
    marker = "# SITE" + ": " + tag
    for k, text in enumerate(lines):
        if marker in text:
            return os.path.abspath(inspect.getsourcefile(func)), first + k
    raise RuntimeError("no site marker in %s" % func.__name__)


def sites():
    out = {}
    for tag, func in (("leak", handle_request), ("churn", parse_batch), ("marker", make_marker)):
        path, line = site_of(func, tag)
        out[tag] = {"file": path, "function": func.__name__, "qualname": func.__qualname__, "line": line}
    return out


def main():
    p = _truth.parser(__doc__, duration=0.0)
    p.add_argument("--rate", type=float, default=300.0, help="leaked Records per second (default %(default)s)")
    p.add_argument("--churn", type=int, default=5, help="Records per step that die (default %(default)s)")
    p.add_argument("--batch", type=int, default=0,
                   help="steps per churn batch (default: twice the gen-0 threshold; 1: every step)")
    p.add_argument("--marker-every", type=int, default=10, help="one Marker every N steps (default %(default)s)")
    p.add_argument("--cycles", action="store_true", help="churn Records are garbage cycles")
    p.add_argument("--ids", action="store_true", help="add leaked_ids and marker_ids to the truth")
    args = p.parse_args()
    OPTS["cycles"] = args.cycles
    batch = args.batch if args.batch > 0 else 2 * max(gc.get_threshold()[0], 1)
    site_table = sites()

    def extra():
        return {
            "scenario": "survivors",
            "expected": {"kind": "type", "name": "__main__.Record"},
            "expected_all": [
                {"kind": "type", "name": "__main__.Record"},
                {"kind": "container", "name": "__main__._REGISTRY", "type": "list"},
            ],
            "sites": site_table,
            "created": dict(COUNTS),
            "live": _truth.count_instances([Record, Marker]),
            "len_registry": len(_REGISTRY),
            "containers": {"__main__._REGISTRY": len(_REGISTRY)},
            "rate": args.rate,
            "churn": args.churn,
            "batch": batch,
            "cycles": args.cycles,
            # id() of every leaked Record (only with --ids: pairing checks)
            "leaked_ids": [id(r) for r in _REGISTRY] if args.ids else None,
            "leaked_times": [r.t for r in _REGISTRY] if args.ids else None,
            "marker_ids": [id(m) for m in _MARKERS] if args.ids else None,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="survivors", sites=site_table)

    def step(i):
        handle_request(i)
        if (i + 1) % batch == 0:
            parse_batch(i, args.churn * batch)
        if i % args.marker_every == 0:
            make_marker(i)

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
