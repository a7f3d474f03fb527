# SPDX-License-Identifier: BSD-2-Clause
"""control_warmup: one-off growth at start, then flat; no leak.

At start the service "loads its catalogue": --warmup __main__.Item objects (each with a dict of
fields and a list of tags) into the module-level dict `catalogue`, spread over --warmup-seconds.
After that, requests only read the catalogue and allocate short-lived responses, so every
count is flat.  A leak detector must not call the early growth a leak once it has stopped.

pyleak should show: growth of __main__.Item and __main__.catalogue during the first
--warmup-seconds only, then flat; NO leak suspect afterwards.

Truth keys: expected ({"kind": "none"}), expected_all ([]), containers {"__main__.catalogue":
len}, container_len, warmup_items, warmup_seconds, warmup_done_time, created, live, rate.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

catalogue = {}
COUNTS = {"created": 0}
STATE = {"warmup_done_time": None}


class Item(object):
    def __init__(self, i):
        self.sku = "sku-%06d" % i
        self.fields = {"price": i % 1000, "name": "item %d" % i, "stock": i % 13}
        self.tags = ["t%d" % (i % 5), "t%d" % (i % 11)]
        COUNTS["created"] += 1


def serve(i, n):
    item = catalogue["sku-%06d" % (i % n)]
    response = {"sku": item.sku, "fields": dict(item.fields), "tags": list(item.tags)}
    return len(response)


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--warmup", type=int, default=50000,
                   help="items loaded at start (default %(default)s)")
    p.add_argument("--warmup-seconds", type=float, default=1.0,
                   help="seconds the loading takes (default %(default)s)")
    p.add_argument("--rate", type=float, default=500.0,
                   help="read requests per second after warm-up (default %(default)s)")
    args = p.parse_args()

    def extra():
        return {
            "scenario": "control_warmup",
            "expected": {"kind": "none", "name": None},
            "expected_all": [],
            "containers": {"__main__.catalogue": len(catalogue)},
            "container_len": len(catalogue),
            "warmup_items": args.warmup,
            "warmup_seconds": args.warmup_seconds,
            "warmup_done_time": STATE["warmup_done_time"],
            "created": {"__main__.Item": COUNTS["created"]},
            "live": _truth.count_instances([Item]),
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="control_warmup")

    def load(i):
        it = Item(i)
        catalogue[it.sku] = it

    rate = args.warmup / args.warmup_seconds if args.warmup_seconds > 0 else 1e12
    _truth.run_paced(rate, args.warmup_seconds if args.warmup_seconds > 0 else 1e-9, load)
    for i in range(len(catalogue), args.warmup):     # pacing rounds down: finish exactly
        load(i)
    STATE["warmup_done_time"] = time.time()
    _truth.announce("warm", items=len(catalogue))
    n = len(catalogue)
    rest = args.duration - args.warmup_seconds
    if args.duration <= 0:
        rest = 0
    elif rest <= 0:
        rest = 1e-9
    _truth.run_paced(args.rate, rest, lambda i: serve(i, n))
    _truth.idle()


if __name__ == "__main__":
    main()
