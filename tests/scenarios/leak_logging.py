# SPDX-License-Identifier: BSD-2-Clause
"""leak_logging: a logging handler added to a logger on every request and never removed.

The classic per-request logging mistake: each "request" builds a __main__.RequestHandler (a
logging.StreamHandler subclass that tags records with the request id) and calls
log.addHandler() on the long-lived logger `__main__.log` ("app.requests"); nobody calls
removeHandler().  The logger's handlers list grows, and so do logging's own registries
(logging._handlerList of weakrefs; one RLock per handler).  Records are logged at DEBUG while the
logger level is WARNING, so the growing handler list costs no emit work.

pyleak should show: type __main__.RequestHandler growing at --rate live/s; container
__main__.log.handlers (list, the logger's handlers) growing at --rate items/s; also
logging._handlerList.

Truth keys: expected, expected_all, containers, container_len, created, live, steps, rate.
"""

import io
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

log = logging.getLogger("app.requests")
log.setLevel(logging.WARNING)
log.propagate = False
SINK = io.StringIO()
COUNTS = {"created": 0}


class RequestHandler(logging.StreamHandler):
    def __init__(self, request_id):
        logging.StreamHandler.__init__(self, SINK)
        self.request_id = request_id
        COUNTS["created"] += 1


def handle_request(i):
    handler = RequestHandler("req-%d" % i)
    handler.setFormatter(logging.Formatter("%(asctime)s req-" + str(i) + " %(message)s"))
    log.addHandler(handler)            # the leak: never removed
    log.debug("handling request %d", i)


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--rate", type=float, default=50.0,
                   help="requests (= leaked handlers) per second (default %(default)s)")
    p.add_argument("--churn", type=int, default=20,
                   help="healthy temporary objects per step, x3 (default %(default)s)")
    args = p.parse_args()

    def extra():
        n = len(log.handlers)
        return {
            "scenario": "leak_logging",
            "expected": {"kind": "type", "name": "__main__.RequestHandler"},
            "expected_all": [
                {"kind": "type", "name": "__main__.RequestHandler"},
                {"kind": "container", "name": "__main__.log.handlers", "type": "list",
                 "holder": "__main__.log", "holder_type": "logging.Logger"},
                {"kind": "container", "name": "logging._handlerList", "type": "list"},
            ],
            "containers": {"__main__.log.handlers": n,
                           "logging._handlerList": len(logging._handlerList)},
            "container_len": n,
            "created": {"__main__.RequestHandler": COUNTS["created"]},
            "live": _truth.count_instances([RequestHandler]),
            "steps": n,
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="leak_logging")

    def step(i):
        handle_request(i)
        _truth.churn(args.churn)

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
