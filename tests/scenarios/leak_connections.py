# SPDX-License-Identifier: BSD-2-Clause
"""leak_connections: Connection objects appended to a global list and never removed.

Every step "accepts" a connection: a __main__.Connection (with a small list buffer and an address
tuple) is appended to the module-level list _CONNECTIONS and never removed.  A second, healthy
Connection per step is opened and closed (freed at once), so the type is allocated at twice the
leak rate but only the leaked half stays alive.  Some other healthy churn runs alongside.

pyleak should show: type __main__.Connection with live instances growing at --rate/s, and
container __main__._CONNECTIONS (list) growing at --rate items/s; a leak verdict naming both.

Truth keys: expected, expected_all, containers, container_len, created, freed, live (live
tracked __main__.Connection instances, counted with gc.get_objects() at each write), steps, rate.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

_CONNECTIONS = []
COUNTS = {"created": 0, "freed": 0}


class Connection(object):
    def __init__(self, peer, port):
        self.peer = (peer, port)
        self.buffer = []
        self.open = True
        COUNTS["created"] += 1

    def send(self, data):
        self.buffer.append(data)

    def close(self):
        self.open = False
        del self.buffer[:]


def accept(i):
    conn = Connection("10.0.%d.%d" % ((i >> 8) & 255, i & 255), 40000 + i % 20000)
    conn.send(b"HELLO")
    _CONNECTIONS.append(conn)          # the leak: never removed on close
    conn.close()


def healthy(i):
    conn = Connection("127.0.0.1", 50000 + i % 10000)
    conn.send(b"PING")
    conn.close()
    COUNTS["freed"] += 1


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--rate", type=float, default=50.0,
                   help="leaked connections per second (default %(default)s)")
    p.add_argument("--churn", type=int, default=20,
                   help="healthy temporary objects per step, x3 (default %(default)s)")
    args = p.parse_args()

    def extra():
        return {
            "scenario": "leak_connections",
            "expected": {"kind": "type", "name": "__main__.Connection"},
            "expected_all": [
                {"kind": "type", "name": "__main__.Connection"},
                {"kind": "container", "name": "__main__._CONNECTIONS", "type": "list"},
            ],
            "containers": {"__main__._CONNECTIONS": len(_CONNECTIONS)},
            "container_len": len(_CONNECTIONS),
            "created": {"__main__.Connection": COUNTS["created"]},
            "freed": {"__main__.Connection": COUNTS["freed"]},
            "live": _truth.count_instances([Connection]),
            "steps": len(_CONNECTIONS),
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="leak_connections")

    def step(i):
        accept(i)
        healthy(i)
        _truth.churn(args.churn)

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
