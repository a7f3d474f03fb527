# SPDX-License-Identifier: BSD-2-Clause
"""refs_chains: objects kept alive by known chains of references, for `pyleak refs`.

Each case keeps --count instances of its own class alive through one chain, and the truth file
gives, per instance address, the TRUE chain from its root down to it, computed inside this
process with gc.get_referrers (a breadth-first walk up from the object, link by link, with what
each link is: dict key, attribute name, index, C field) -- objgraph.find_backref_chain's shape.
On a free-threaded build the referrers come from gc.get_referents over the heap instead (3.13t
untracks module dicts, classes and functions once a second thread starts: _build_referrer_index).

  module_dict     sys.modules['refs_svc'].__dict__['registry'] -> dict['sess-N'] -> refs_svc.Session
  class_attr      __main__.Registry._items (a class attribute list) -> __main__.ClassLeak
  instance_attr   __main__ global `app` .server (an App attribute) .conns (a __slots__ member of
                  Server) -> list -> __main__.InstLeak: an attribute two levels down
  lru_cache       __main__.Session.render = functools.lru_cache(maxsize=None)(render): the cache
                  dict's keys (self,) keep every Session alive
  closure         global `adder` is a closure whose cell holds a list of __main__.ClosureLeak
  thread_local    a thread 'refs-worker' blocked in worker() with local `buf` = [ThreadLeak...]
  garbage         cycles of __main__.GarbageLeak kept in gc.garbage (gc.DEBUG_SAVEALL while
                  collecting them)
  hostile         __main__ global `weird` = {HOSTILE_KEY: [HostileLeak...]}: a key with quotes, a
                  backslash, a newline, control bytes, an ANSI escape, a C1 CSI and a lone
                  surrogate, for the output escaping
  deque_set       __main__ global `jobs` (a collections.deque) of (i, {SetLeak}) tuples: deque
                  blocks, tuple items, set members
  bound_method    __main__ global `hooks` = [MethodLeak().run, ...]: a bound method's __self__
  partial         __main__ global `callbacks` = [functools.partial(print, PartialLeak()), ...]
  builtin_method  __main__ global `sinks` = [a_list.append]: a builtin method's __self__ holds
                  a list of SinkLeak
  generator       __main__ global `gens` = [a suspended generator make_gen()] whose local `buf`
                  holds GenLeak (<= 3.10 through its frame object, 3.11+ inside the generator)
  exception       __main__ global `errors` = [a caught ValueError]: its __traceback__ keeps the
                  frame of fail() alive, whose local `data` holds ExcLeak
  asyncio         (only with --case asyncio) a thread 'refs-asyncio' runs an event loop whose
                  --count tasks handler(i) hold local `buf` = [AsyncLeak] while awaiting
                  asyncio.sleep(3600): Task -> coroutine -> frame locals; the truth gives the chain
                  shapes that are true (which loop frame holds the loop is not unique)
  frozen          (only with --case frozen) __main__ global `frozen_reg` = [FrozenLeak...], then
                  gc.freeze(): everything is in the permanent generation, which gc.get_referrers
                  does not search either, so this truth is the program's own knowledge
  churn           (only with --case churn) a thread replaces holder['batch'] with a fresh list
                  of --count __main__.Churn as fast as it can: pyleak must print a correct chain or
                  "chain lost", never a wrong one; the truth gives the chain shapes that are true

--case all (the default) sets up every case but churn in one process. Idles after setup.
Truth keys: cases {name: {type, count, chains {"0xADDR": {root, links, target_type}}}};
root = {kind: module|thread|garbage, module, thread, function}; links = [{from_type, from_name,
kind: item|key|index|element|attr|field|cell|local, key|index|name}], root first.
"""

import collections
import functools
import gc
import os
import sys
import sysconfig
import threading
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

CASES = ("module_dict", "class_attr", "instance_attr", "lru_cache", "closure", "thread_local", "garbage",
         "hostile", "deque_set", "bound_method", "partial", "builtin_method", "generator", "exception")
HOSTILE_KEY = "a'b\"c\\d\ne\x01f\x1b[31m\x9b1m\ud800g"
FrameType = types.FrameType


def _cell_type():
    x = 1
    return type((lambda: x).__closure__[0])


CellType = _cell_type()


# ---------------------------------------------------------------------------------- the cases

class Registry(object):
    _items = []


class ClassLeak(object):
    def __init__(self, i):
        self.i = i


class InstLeak(object):
    def __init__(self, i):
        self.i = i


class Server(object):
    __slots__ = ("conns", "port")


class App(object):
    def __init__(self):
        self.name = "app"
        self.server = Server()
        self.server.port = 8080
        self.server.conns = []


class Session(object):
    def __init__(self, i):
        self.i = i

    @functools.lru_cache(maxsize=None)
    def render(self):
        return "session"


class ClosureLeak(object):
    pass


class ThreadLeak(object):
    pass


class GarbageLeak(object):
    pass


class Churn(object):
    pass


class ExcLeak(object):
    pass


class AsyncLeak(object):
    pass


class FrozenLeak(object):
    pass


class HostileLeak(object):
    pass


class SetLeak(object):
    pass


class PartialLeak(object):
    pass


class SinkLeak(object):
    pass


class GenLeak(object):
    pass


class MethodLeak(object):
    def run(self):
        return self


app = None
adder = None
holder = {}
frozen_reg = []
errors = []
weird = {}
jobs = collections.deque()
hooks = []
callbacks = []
gens = []
sinks = []
_worker = {}


def make_adder():
    items = []

    def add(x):
        items.append(x)
    return add


def make_gen(count):
    buf = [GenLeak() for _ in range(count)]
    yield len(buf)
    yield buf


def fail(count):
    data = [ExcLeak() for _ in range(count)]
    raise ValueError("failed with %d items" % len(data))


async def handler(i):
    import asyncio
    buf = [AsyncLeak()]
    await asyncio.sleep(3600)
    return buf


def asyncio_thread(ready, count):
    import asyncio

    async def serve():
        tasks = [asyncio.ensure_future(handler(i)) for i in range(count)]
        await asyncio.sleep(0.05)
        ready.set()
        await asyncio.gather(*tasks)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(serve())


def worker(ready, stop, count):
    buf = [ThreadLeak() for _ in range(count)]
    ready.set()
    stop.wait()
    return buf


def churn_loop(count, stop):
    while not stop.is_set():
        batch = [Churn() for _ in range(count)]
        holder["batch"] = batch
        del batch


def setup_case(name, count):
    global app, adder
    if name == "module_dict":
        mod = types.ModuleType("refs_svc")
        sys.modules["refs_svc"] = mod
        exec("class Session(object):\n    def __init__(self, i):\n        self.i = i\n", mod.__dict__)
        mod.registry = {}
        for i in range(count):
            mod.registry["sess-%d" % i] = mod.Session(i)
        return "refs_svc.Session"
    if name == "class_attr":
        for i in range(count):
            Registry._items.append(ClassLeak(i))
        return "__main__.ClassLeak"
    if name == "instance_attr":
        app = App()
        for i in range(count):
            app.server.conns.append(InstLeak(i))
        return "__main__.InstLeak"
    if name == "lru_cache":
        for i in range(count):
            Session(i).render()
        return "__main__.Session"
    if name == "closure":
        adder = make_adder()
        for i in range(count):
            adder(ClosureLeak())
        return "__main__.ClosureLeak"
    if name == "thread_local":
        ready, stop = threading.Event(), threading.Event()
        t = threading.Thread(target=worker, args=(ready, stop, count), name="refs-worker")
        t.daemon = True
        t.start()
        ready.wait()
        _worker["thread"] = t
        return "__main__.ThreadLeak"
    if name == "garbage":
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        for i in range(count):
            g = GarbageLeak()
            g.me = g
            del g
        gc.collect()
        gc.set_debug(0)
        return "__main__.GarbageLeak"
    if name == "hostile":
        weird[HOSTILE_KEY] = [HostileLeak() for _ in range(count)]
        return "__main__.HostileLeak"
    if name == "deque_set":
        for i in range(count * 10):  # more than one 64-item deque block
            jobs.append((i, set([SetLeak()]) if i % 10 == 0 else None))
        return "__main__.SetLeak"
    if name == "bound_method":
        for i in range(count):
            hooks.append(MethodLeak().run)
        return "__main__.MethodLeak"
    if name == "partial":
        for i in range(count):
            callbacks.append(functools.partial(print, PartialLeak()))
        return "__main__.PartialLeak"
    if name == "builtin_method":
        sinks.append([SinkLeak() for _ in range(count)].append)
        return "__main__.SinkLeak"
    if name == "generator":
        g = make_gen(count)
        next(g)
        gens.append(g)
        return "__main__.GenLeak"
    if name == "exception":
        try:
            fail(count)
        except ValueError as e:
            errors.append(e)
        return "__main__.ExcLeak"
    if name == "asyncio":
        ready = threading.Event()
        t = threading.Thread(target=asyncio_thread, args=(ready, count), name="refs-asyncio")
        t.daemon = True
        t.start()
        ready.wait()
        return "__main__.AsyncLeak"
    if name == "frozen":
        frozen_reg.extend(FrozenLeak() for _ in range(count))
        gc.collect()
        gc.freeze()
        return "__main__.FrozenLeak"
    if name == "churn":
        stop = threading.Event()
        t = threading.Thread(target=churn_loop, args=(count, stop), name="refs-churn")
        t.daemon = True
        t.start()
        _worker["churn"] = t
        return "__main__.Churn"
    raise SystemExit("unknown case %r" % name)


# ---------------------------------------------------------------------------------- the truth

# Free-threaded builds (3.13t): once a second thread starts, the interpreter makes the objects
# with deferred reference counts (module dicts, classes, functions, code) immortal and untracks
# them, so gc.get_referrers -- which only searches tracked objects -- no longer sees the holders
# a chain goes through.  There the referrers come from an index built with gc.get_referents over
# everything reachable from the roots and the tracked objects (what get_referrers would search
# if those objects were still tracked).
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
_REF_INDEX = {}


def _build_referrer_index(ignore):
    _REF_INDEX.clear()
    seen = set(ignore)
    todo = [m.__dict__ for m in list(sys.modules.values()) if isinstance(m, types.ModuleType)]
    todo.append(gc.garbage)
    todo.extend(gc.get_objects())
    seen.update((id(todo), id(seen), id(_REF_INDEX)))
    while todo:
        o = todo.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        for r in gc.get_referents(o):
            holders = _REF_INDEX.get(id(r))
            if holders is None:
                holders = _REF_INDEX[id(r)] = []
                seen.add(id(holders))
            holders.append(o)
            if id(r) not in seen:
                todo.append(r)
    del todo[:]


def referrers_begin(ignore=()):
    """Before a batch of true_chain calls (the heap must not change in between): index the
    referrers on a free-threaded build; nothing to do elsewhere."""
    if FREE_THREADED:
        _build_referrer_index(set(ignore))


def referrers_end():
    _REF_INDEX.clear()


def _referrers(o):
    if FREE_THREADED:
        return list(_REF_INDEX.get(id(o), ()))
    return gc.get_referrers(o)


def _is_lru(o):
    return type(o).__name__ == "_lru_cache_wrapper"


def _owner_of_dict(d, ignore):
    """The object whose __dict__ is d (an instance, a class, a function, a module), or None."""
    for o in _referrers(d):
        if id(o) in ignore or type(o) is FrameType:
            continue
        if isinstance(o, type):
            if any(r is d for r in gc.get_referents(o)):
                return o
        elif getattr(o, "__dict__", None) is d:
            return o
    return None


def _gen_link(g, c):
    """A local of generator g's frame that is c."""
    f = getattr(g, "gi_frame", None)
    if f is None:
        return None
    for k, v in list(f.f_locals.items()):
        if v is c:
            return {"from_type": _truth.pyleak_name(type(g)), "kind": "local", "name": k}, g
    return None


def _frame_link(f, c):
    """A finished frame (kept by a traceback) whose local is c."""
    for k, v in list(f.f_locals.items()):
        if v is c:
            return {"from_type": "frame", "kind": "local", "name": k}, f
    return None


def _gen_of_frame(f, ignore):
    """<= 3.10: the generator whose frame object f is (the frame itself is what refers)."""
    for o in _referrers(f):
        if id(o) not in ignore and isinstance(o, types.GeneratorType) and o.gi_frame is f:
            return o
    return None


def _link(p, c, ignore):
    """What p -> c is: (link dict, the object the link starts from) or None."""
    if isinstance(p, types.GeneratorType):
        return _gen_link(p, c)
    name = _truth.pyleak_name(type(p))
    base = {"from_type": name}
    if isinstance(p, type):
        base["from_name"] = _truth.pyleak_name(p)
    if isinstance(p, dict):
        for k, v in list(p.items()):
            if v is c:
                owner = _owner_of_dict(p, ignore)
                if owner is not None and isinstance(k, str) and not isinstance(owner, types.ModuleType):
                    return _link_attr(owner, k), owner
                lk = dict(base, kind="item", key=k if isinstance(k, (str, int)) else None)
                return lk, p
            if k is c:
                return dict(base, kind="key"), p
        return None
    if isinstance(p, (list, tuple, collections.deque)):
        for i, v in enumerate(p):
            if v is c:
                return dict(base, kind="index", index=i), p
        return None
    if isinstance(p, (set, frozenset)):
        return dict(base, kind="element"), p
    if type(p) is CellType:
        return dict(base, kind="cell"), p
    if isinstance(p, types.FunctionType):
        for f in ("__closure__", "__defaults__", "__kwdefaults__", "__globals__"):
            if getattr(p, f, None) is c:
                return dict(base, kind="field", name=f), p
        return None
    if isinstance(p, types.TracebackType):
        for f in ("tb_next", "tb_frame"):
            if getattr(p, f, None) is c:
                return dict(base, kind="field", name=f), p
        return None
    if isinstance(p, BaseException):
        for f in ("__traceback__", "__context__", "__cause__", "args"):
            if getattr(p, f, None) is c:
                return dict(base, kind="field", name=f), p
        d = getattr(p, "__dict__", None)
        if isinstance(d, dict):
            for k, v in list(d.items()):
                if v is c:
                    return _link_attr(p, k), p
        return None
    if isinstance(p, functools.partial):
        for f, n in (("func", "func"), ("args", "args"), ("keywords", "keywords")):
            if getattr(p, f, None) is c:
                return dict(base, kind="field", name=n), p
        return None
    if isinstance(p, types.BuiltinMethodType):
        if getattr(p, "__self__", None) is c:
            return dict(base, kind="field", name="__self__"), p
        return None
    if isinstance(p, types.MethodType):
        for f in ("__self__", "__func__"):
            if getattr(p, f, None) is c:
                return dict(base, kind="field", name=f), p
        return None
    if _is_lru(p):
        if getattr(p, "__wrapped__", None) is c:
            return dict(base, kind="field", name="__wrapped__"), p
        if isinstance(c, dict) and getattr(p, "__dict__", None) is not c:
            return dict(base, kind="field", name="cache"), p
        return None
    d = getattr(p, "__dict__", None)
    if isinstance(d, dict):
        for k, v in list(d.items()):
            if v is c:
                return _link_attr(p, k), p
    for cls in type(p).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for s in slots:
            if getattr(p, s, None) is c:
                return _link_attr(p, s), p
    return None


def _link_attr(o, k):
    lk = {"from_type": _truth.pyleak_name(type(o)), "kind": "attr", "name": k}
    if isinstance(o, type):
        lk["from_name"] = _truth.pyleak_name(o)
    return lk


def _root_of(o):
    if o is gc.garbage:
        return {"kind": "garbage"}
    if isinstance(o, dict):
        for name, m in list(sys.modules.items()):
            if isinstance(m, types.ModuleType) and getattr(m, "__dict__", None) is o:
                return {"kind": "module", "module": name}
    return None


def true_chain(obj, max_depth=12):
    """BFS up gc.get_referrers from obj to a root; the links root first, or None."""
    running = set()
    f = sys._getframe()
    while f is not None:
        running.add(id(f))
        f = f.f_back
    del f
    nodes = [obj]
    prev = [-1]
    links = [None]
    roots = [None]
    ignore = set()
    ignore.update((id(nodes), id(prev), id(links), id(roots), id(ignore), id(running)))
    seen = set([id(obj)])
    ignore.add(id(seen))
    head = 0
    depth = {0: 0}
    ignore.add(id(depth))
    found = -1
    while head < len(nodes) and found < 0:
        cur = nodes[head]
        if depth[head] >= max_depth:
            head += 1
            continue
        refs = _referrers(cur)
        ignore.add(id(refs))
        for r in refs:
            if id(r) in ignore or id(r) in seen:
                continue
            if type(r) is FrameType:
                if id(r) in running:  # the frames computing this truth
                    continue
                g = _gen_of_frame(r, ignore)
                got = _gen_link(g, cur) if g is not None else _frame_link(r, cur)
            else:
                got = _link(r, cur, ignore)
            if got is None:
                continue
            lk, start = got
            if id(start) in seen:
                continue
            seen.add(id(start))
            if start is not r:
                seen.add(id(r))
            nodes.append(start)
            prev.append(head)
            links.append(lk)
            depth[len(nodes) - 1] = depth[head] + 1
            root = _root_of(start)
            if root is not None:
                roots.append(root)
                found = len(nodes) - 1
                break
            roots.append(None)
        del refs
        head += 1
    if found < 0:
        return None
    out = []
    i = found
    while i > 0:
        out.append(links[i])
        i = prev[i]
    chain = {"root": roots[found], "links": out, "target_type": _truth.pyleak_name(type(obj))}
    del nodes[:]
    return chain


def thread_chain(obj):
    """The frame-local chain of a ThreadLeak: thread 'refs-worker' frame worker local 'buf'."""
    t = _worker.get("thread")
    if t is None:
        return None
    f = sys._current_frames().get(t.ident)
    while f is not None:
        if f.f_code.co_name == "worker":
            buf = f.f_locals.get("buf")
            for i, v in enumerate(buf or ()):
                if v is obj:
                    root = {"kind": "thread", "thread": t.name, "function": "worker",
                            "line": f.f_lineno}
                    links = [{"from_type": "frame", "kind": "local", "name": "buf"},
                             {"from_type": "list", "kind": "index", "index": i}]
                    return {"root": root, "links": links, "target_type": "__main__.ThreadLeak"}
        f = f.f_back
    return None


def frozen_truth(tname, count):
    chains = {}
    for i, o in enumerate(frozen_reg):
        chains["0x%x" % id(o)] = {
            "root": {"kind": "module", "module": "__main__"}, "target_type": tname,
            "links": [{"from_type": "dict", "kind": "item", "key": "frozen_reg"},
                      {"from_type": "list", "kind": "index", "index": i}]}
    return {"type": tname, "count": count, "chains": chains, "frozen": gc.get_freeze_count()}


def case_truth(name, tname, count):
    chains = {}
    objs = [o for o in gc.get_objects() if _truth.pyleak_name(type(o)) == tname]
    for o in objs:
        if name == "thread_local":
            c = thread_chain(o)
        else:
            c = true_chain(o)
        chains["0x%x" % id(o)] = c
    del objs[:]
    return {"type": tname, "count": count, "chains": chains}


ASYNC_SHAPES = [
    # a thread frame of the loop holds the loop; its timers hold each sleeping future, whose
    # done-callback is the task's wakeup (a builtin method bound to the Task, or the 3.8/3.9
    # TaskWakeupMethWrapper), the task its coroutine, the coroutine's frame the local
    r"^thread 'refs-asyncio' frame .* \(_asyncio\.Task\)\._coro \(coroutine handler\) local 'buf' → "
    r"list\[0\] → __main__\.AsyncLeak @0x[0-9a-f]+$",
]

CHURN_SHAPES = [
    # what a correct chain of a Churn can look like (the test matches pyleak's text against them)
    r"^sys\.modules\['__main__'\]\.__dict__\['holder'\] → dict\['batch'\] → list\[\d+\] → __main__\.Churn @0x[0-9a-f]+$",
    r"^thread 'refs-churn' frame (churn_loop|<listcomp>|churn_loop\.<locals>\.<listcomp>) \(refs_chains\.py:\d+\)"
    r" local '(batch|\.0)' → list\[\d+\] → __main__\.Churn @0x[0-9a-f]+$",
]


def main():
    p = _truth.parser(__doc__, duration=0.0, duration_help="ignored: setup, then idle")
    p.add_argument("--case", default="all", help="one of %s, all (default) or churn" % ", ".join(CASES))
    p.add_argument("--count", type=int, default=12, help="instances per case (default %(default)s)")
    args = p.parse_args()
    names = CASES if args.case == "all" else (args.case,)
    types_of = {}

    def extra():
        cases = {}
        referrers_begin([id(cases)])
        for n in names:
            if n == "asyncio":
                cases[n] = {"type": types_of[n], "count": args.count, "shapes": ASYNC_SHAPES}
            elif n == "frozen":
                cases[n] = frozen_truth(types_of[n], args.count)
            elif n == "churn":
                cases[n] = {"type": types_of[n], "count": args.count, "shapes": CHURN_SHAPES}
            else:
                cases[n] = case_truth(n, types_of[n], args.count)
        referrers_end()
        return {"scenario": "refs_chains", "cases": cases,
                "expected": {"kind": "none", "name": None}, "expected_all": []}

    for n in names:
        types_of[n] = setup_case(n, args.count)
    _truth.setup(args, extra)
    _truth.announce("start", scenario="refs_chains", cases=list(names))
    gc.collect()
    _truth.idle()


if __name__ == "__main__":
    main()
