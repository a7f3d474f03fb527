# SPDX-License-Identifier: BSD-2-Clause
"""leak_class_attr: instances kept alive in a class attribute list, Registry._items.

Every step creates a __main__.Session and registers it in the class-level list Registry._items
("so plugins can find active sessions"), but nothing ever unregisters it.  The holder is a class
attribute, not a module global: pyleak has to name the container through the class.

pyleak should show: container __main__.Registry._items (list) growing at --rate items/s, and
type __main__.Session growing at --rate live/s.

Truth keys: expected, expected_all, containers, container_len, created, live, steps, rate.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402


class Registry(object):
    _items = []

    @classmethod
    def register(cls, item):
        cls._items.append(item)


class Session(object):
    def __init__(self, i):
        self.id = i
        self.state = {"user": "u%d" % i, "scopes": ["read", "write"]}
        Registry.register(self)


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--rate", type=float, default=50.0,
                   help="leaked sessions per second (default %(default)s)")
    p.add_argument("--churn", type=int, default=20,
                   help="healthy temporary objects per step, x3 (default %(default)s)")
    args = p.parse_args()

    def extra():
        n = len(Registry._items)
        return {
            "scenario": "leak_class_attr",
            "expected": {"kind": "container", "name": "__main__.Registry._items"},
            "expected_all": [
                {"kind": "container", "name": "__main__.Registry._items", "type": "list"},
                {"kind": "type", "name": "__main__.Session"},
            ],
            "containers": {"__main__.Registry._items": n},
            "container_len": n,
            "created": {"__main__.Session": n},
            "live": _truth.count_instances([Session]),
            "steps": n,
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="leak_class_attr")

    def step(i):
        Session(i)
        _truth.churn(args.churn)

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
