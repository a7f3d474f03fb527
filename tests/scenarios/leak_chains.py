# SPDX-License-Identifier: BSD-2-Clause
"""leak_chains: one leak seen as three suspects, and a holder that goes away, for top's chains.

Every step "accepts" a __main__.Connection holding a list (its buffer) and a dict (its headers)
and appends it to the module global _CONNECTIONS, never removed: __main__.Connection, list and
dict all grow at --rate/s (and the container __main__._CONNECTIONS), but it is one leak, whose
chain is sys.modules['__main__'].__dict__['_CONNECTIONS'] -> list[i] -> __main__.Connection.

On SIGUSR2 (or after --break-after seconds, 0 = never) the holder is broken: every Connection
moves into a new holder, the module global dict _REGISTRY ('conn-N' -> Connection), the list
_CONNECTIONS is deleted, and the leak goes on into _REGISTRY (the same growth, a new chain): a
chain shown after that must be the new one or "chain lost", never the old.

The true chains come from gc.get_referrers inside this process (refs_chains.true_chain; on a
free-threaded build from gc.get_referents over the heap, refs_chains.referrers_begin): write
object addresses ("0x7f..."), one a line, to TRUTH.ask, then SIGUSR1; the next truth has
chains {"0xADDR": chain or null} for them.

Truth keys: expected_all, live (Connection instances), broken (holder broken), holder
(_CONNECTIONS or _REGISTRY), container_len, chains, rate.
"""

import gc
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402
from refs_chains import referrers_begin, referrers_end, true_chain  # noqa: E402

_CONNECTIONS = []
STATE = {"broken": False, "break_now": False}


class Connection(object):
    def __init__(self, i):
        self.buffer = [i]
        self.headers = {"id": i, "owner": self}  # holds a tracked object: the GC tracks it
        self.open = True


def accept(i):
    conn = Connection(i)
    if STATE["broken"]:
        _REGISTRY["conn-%d" % len(_REGISTRY)] = conn
    else:
        _CONNECTIONS.append(conn)


def break_holder():
    global _CONNECTIONS, _REGISTRY
    _REGISTRY = dict(("conn-%d" % n, c) for n, c in enumerate(_CONNECTIONS))
    del _CONNECTIONS
    STATE["broken"] = True
    gc.collect()
    _truth.announce("broken")


def _on_usr2(signum, frame):
    STATE["break_now"] = True


def asked_chains(path):
    try:
        with open(path) as f:
            want = [line.strip() for line in f if line.strip()]
    except (IOError, OSError):
        return {}
    out = {}
    by_id = {}
    wanted = set(int(a, 16) for a in want)
    for o in gc.get_objects():
        if id(o) in wanted:
            by_id[id(o)] = o
    referrers_begin([id(out), id(by_id), id(want), id(wanted)])
    for a in want:
        o = by_id.get(int(a, 16))
        out[a] = true_chain(o) if o is not None else None
    referrers_end()
    o = None
    by_id.clear()
    return out


def main():
    p = _truth.parser(__doc__, duration=120.0)
    p.add_argument("--rate", type=float, default=40.0, help="leaked connections per second (default %(default)s)")
    p.add_argument("--break-after", type=float, default=0.0, help="break the holder after SECONDS (0: on SIGUSR2)")
    args = p.parse_args()

    def extra():
        holder = "_REGISTRY" if STATE["broken"] else "_CONNECTIONS"
        return {
            "scenario": "leak_chains",
            "expected_all": [
                {"kind": "type", "name": "__main__.Connection"},
                {"kind": "container", "name": "__main__." + holder},
            ],
            "live": _truth.count_instances([Connection]),
            "broken": STATE["broken"],
            "holder": holder,
            "container_len": len(_REGISTRY) if STATE["broken"] else len(_CONNECTIONS),
            "chains": asked_chains(args.truth + ".ask") if args.truth else {},
            "rate": args.rate,
        }

    signal.signal(signal.SIGUSR2, _on_usr2)
    _truth.setup(args, extra)
    _truth.announce("start", scenario="leak_chains")
    t0 = [None]

    def step(i):
        import time
        if t0[0] is None:
            t0[0] = time.monotonic()
        if not STATE["broken"] and (STATE["break_now"] or
                                    (args.break_after > 0 and time.monotonic() - t0[0] >= args.break_after)):
            break_holder()
        accept(i)

    _truth.run_paced(args.rate, args.duration, step)
    _truth.idle()


if __name__ == "__main__":
    main()
