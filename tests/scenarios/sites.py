# SPDX-License-Identifier: BSD-2-Clause
"""sites: allocations at known functions and lines, for allocation-site attribution.

make_widget() creates __main__.Widget objects at the line marked "# SITE: make_widget";
make_gadget() creates __main__.Gadget objects at the line marked "# SITE: make_gadget".
With --recurse D, descend() recurses D levels and bottom_alloc() creates __main__.Deep objects
at the line marked "# SITE: bottom_alloc" (for stack-truncation tests: the allocating stack is
D + a few frames deep).  Objects are kept (the last --keep per type; 0 = all), so they are still
alive when a young collection samples them.

The truth's `sites` is computed by the scenario from its own source (inspect), not typed in.

pyleak should show: allocation sites sites.py:<line> make_widget for __main__.Widget,
sites.py:<line> make_gadget for __main__.Gadget (and bottom_alloc for __main__.Deep).

Truth keys: sites {type: {file, function, line, qualname}}, created {type: n}, rate, recurse,
stack_depth (Python frames on the stack at the Deep allocation, including <module>).
"""

import collections
import inspect
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402


class Widget(object):
    def __init__(self, i):
        self.i = i
        self.parts = [i]


class Gadget(object):
    def __init__(self, i):
        self.i = i
        self.parts = [i]


class Deep(object):
    def __init__(self, i):
        self.i = i
        self.parts = [i]


KEEP = {}
COUNTS = {"__main__.Widget": 0, "__main__.Gadget": 0, "__main__.Deep": 0}
STATE = {"stack_depth": None}


def make_widget(n, keep):
    for i in range(n):
        w = Widget(i)  # SITE: make_widget
        keep.append(w)
    COUNTS["__main__.Widget"] += n


def make_gadget(n, keep):
    for i in range(n):
        g = Gadget(i)  # SITE: make_gadget
        keep.append(g)
    COUNTS["__main__.Gadget"] += n


def bottom_alloc(n, keep):
    for i in range(n):
        d = Deep(i)  # SITE: bottom_alloc
        keep.append(d)
    COUNTS["__main__.Deep"] += n
    if STATE["stack_depth"] is None:
        depth = 0
        f = sys._getframe()
        while f is not None:
            depth += 1
            f = f.f_back
        STATE["stack_depth"] = depth


def descend(depth, n, keep):
    if depth <= 1:
        bottom_alloc(n, keep)
        return
    descend(depth - 1, n, keep)


def site_of(func, tag):
    """(file, line) of the line in func's source that carries '# SITE: <tag>'."""
    lines, first = inspect.getsourcelines(func)
    marker = "# SITE" + ": " + tag
    for k, text in enumerate(lines):
        if marker in text:
            return os.path.abspath(inspect.getsourcefile(func)), first + k
    raise RuntimeError("no site marker in %s" % func.__name__)


def sites():
    out = {}
    for tname, func in (("__main__.Widget", make_widget), ("__main__.Gadget", make_gadget),
                        ("__main__.Deep", bottom_alloc)):
        path, line = site_of(func, func.__name__)
        out[tname] = {"file": path, "function": func.__name__,
                      "qualname": func.__qualname__, "line": line}
    return out


def main():
    p = _truth.parser(__doc__, duration=30.0)
    p.add_argument("--rate", type=float, default=500.0,
                   help="objects per second of each type (default %(default)s)")
    p.add_argument("--recurse", type=int, default=0, metavar="D",
                   help="also allocate __main__.Deep at the bottom of a recursion of depth D")
    p.add_argument("--keep", type=int, default=0,
                   help="keep the last N objects per type, 0 = keep all (default 0)")
    args = p.parse_args()
    if args.recurse > 0:
        sys.setrecursionlimit(max(sys.getrecursionlimit(), args.recurse + 200))
    site_table = sites()
    if args.recurse <= 0:
        del site_table["__main__.Deep"]
    maxlen = args.keep if args.keep > 0 else None
    keep = {"w": collections.deque(maxlen=maxlen), "g": collections.deque(maxlen=maxlen),
            "d": collections.deque(maxlen=maxlen)}
    KEEP.update(keep)

    def extra():
        return {
            "scenario": "sites",
            "expected": {"kind": "none", "name": None},
            "sites": site_table,
            "created": dict(COUNTS),
            "rate": args.rate,
            "recurse": args.recurse,
            "stack_depth": STATE["stack_depth"],
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="sites", sites=site_table)
    start = time.monotonic()
    end = start + args.duration if args.duration > 0 else float("inf")
    done = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        target = int((now - start) * args.rate)
        n = target - done
        if n > 0:
            make_widget(n, keep["w"])
            make_gadget(n, keep["g"])
            if args.recurse > 0:
                descend(args.recurse, n, keep["d"])
            done = target
        _truth.checkpoint()
        time.sleep(0.02)
    _truth.idle()


if __name__ == "__main__":
    main()
