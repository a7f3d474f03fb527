# SPDX-License-Identifier: BSD-2-Clause
"""census_mix: a known population of tracked objects, then idle, for the per-type census.

Builds and keeps (in module globals): 20 000 __main__.Node (a linked chain), 5 000
__main__.Outer.Inner (nested class: pyleak must print the qualname), 30 000 lists, 10 000
tuples holding objects (so the collector never untracks them), 7 000 sets, 3 000
collections.OrderedDict, 2 000 collections.deque, and 4 000 closures (function + cell each).
--objects N then adds __main__.Filler instances until the process holds about N tracked objects
(the census benchmark uses 1 000 000).  --in-thread builds that population in a thread that then
exits (on a free-threaded build its objects stay in the mimalloc segments the thread abandoned to
the interpreter's pool; truth exited_thread says whether it ran).  --users N adds the users-cache leak shape: a global dict
`cache` of N dicts holding only strings, which the collector does not track (checked with
gc.is_tracked, reported as users_tracked).  --scale multiplies the base population.

Proves: pyleak's census (walking the GC lists from outside) counts per type what
gc.get_objects() counts inside, with pyleak's names.  No gc.collect() runs before the census.

pyleak should show: per-type counts equal to truth typestats_pyleak (run with --typestats);
__main__.cache with len_cache items.

Truth keys: created (per pyleak type name, objects this scenario made and keeps; the holder lists
are not included), len_cache, users_tracked, cache_tracked, tracked_objects (with --typestats),
typestats, typestats_pyleak.
"""

import collections
import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402


class Node(object):
    def __init__(self, value, nxt):
        self.value = value
        self.next = nxt


class Outer(object):
    class Inner(object):
        def __init__(self, owner):
            self.owner = owner


class Filler(object):
    __slots__ = ("ref",)

    def __init__(self, ref):
        self.ref = ref


def make_adder(k):
    def add(x):
        return x + k
    return add


nodes = []
inners = []
lists = []
tuples = []
sets = []
odicts = []
deques = []
closures = []
fillers = []
cache = {}
CREATED = {}


def build(scale):
    n = lambda base: int(base * scale)  # noqa: E731
    prev = None
    for i in range(n(20000)):
        prev = Node(i, prev)
        nodes.append(prev)
    owner = Outer()
    for i in range(n(5000)):
        inners.append(Outer.Inner(owner))
    for i in range(n(30000)):
        lists.append([i])
    for i in range(n(10000)):
        tuples.append((nodes[i % len(nodes)], i))
    for i in range(n(7000)):
        sets.append(set((i, i + 1)))
    for i in range(n(3000)):
        odicts.append(collections.OrderedDict(((i, i),)))
    for i in range(n(2000)):
        deques.append(collections.deque((i,)))
    for i in range(n(4000)):
        closures.append(make_adder(i))
    CREATED["__main__.Node"] = len(nodes)
    CREATED["__main__.Outer.Inner"] = len(inners)
    CREATED["__main__.Outer"] = 1
    CREATED["list"] = len(lists)
    CREATED["tuple"] = len(tuples)
    CREATED["set"] = len(sets)
    CREATED["collections.OrderedDict"] = len(odicts)
    CREATED["collections.deque"] = len(deques)
    CREATED["function"] = len(closures)
    CREATED["cell"] = len(closures)


def add_users(n):
    for i in range(n):
        uid = "%08x-user" % i
        cache[uid] = {"id": uid, "name": "user %d" % i, "email": "u%d@example.com" % i,
                      "city": ("Oslo", "Lima", "Pune")[i % 3]}


def main():
    p = _truth.parser(__doc__, duration=0.0,
                         duration_help="extra active time after building, before "
                         "idling (default %(default)s)")
    p.add_argument("--objects", type=int, default=0,
                   help="top the process up to about N tracked objects with __main__.Filler "
                        "(default 0: no filler)")
    p.add_argument("--users", type=int, default=0,
                   help="entries in the users cache (untracked dicts of str) (default 0)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply the base population (default 1)")
    p.add_argument("--in-thread", action="store_true",
                   help="build the population in a thread that exits before the idle truth")
    args = p.parse_args()

    def extra():
        tracked = 0
        for v in cache.values():
            if gc.is_tracked(v):
                tracked += 1
        created = dict(CREATED)
        created["__main__.Filler"] = len(fillers)
        return {
            "scenario": "census_mix",
            "expected": {"kind": "none", "name": None} if not cache else
                        {"kind": "container", "name": "__main__.cache"},
            "created": created,
            "len_cache": len(cache),
            "users_tracked": tracked,
            "cache_tracked": gc.is_tracked(cache),
            "objects_target": args.objects,
            "exited_thread": args.in_thread,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="census_mix")
    if args.in_thread:
        import threading
        t = threading.Thread(target=build, args=(args.scale,), name="census-builder")
        t.start()
        t.join()  # the thread state is gone: its heaps are in the abandoned pool
    else:
        build(args.scale)
    add_users(args.users)
    if args.objects > 0:
        missing = args.objects - len(gc.get_objects())
        for i in range(missing):
            fillers.append(Filler(None))
    _truth.announce("built", tracked=len(gc.get_objects()))
    # --duration: optional extra active time (default 0) before the idle truth.
    if args.duration > 0:
        _truth.sleep(args.duration)
    _truth.idle()


if __name__ == "__main__":
    main()
