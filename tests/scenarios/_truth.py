# SPDX-License-Identifier: BSD-2-Clause
"""Ground-truth protocol shared by every scenario: CLI, truth file, signals, idle loop.

A scenario imports this module (sys.path.insert(0, os.path.dirname(__file__))), builds its parser
with parser(), calls setup(args, extra) and then either runs its workload (calling checkpoint() at
safe points between units of work) and idle(), or runs a benchmark and calls finish().

Plain Python that runs unchanged on CPython 3.6 to 3.13. Everything the idle loop and the census
touch is a module-level function, never a bound method: on 3.6 a bound method object lives on the
caller's value stack for the whole call and would show up in the census as a 'method'.

See README.md in this directory for the truth-file keys and the stdout protocol.
"""

import argparse
import gc
import importlib.util
import json
import os
import platform
import signal
import sys
import time
import types

OBJGRAPH_PATH = "/usr/lib/python3/dist-packages/objgraph.py"

# Py_TPFLAGS_HEAPTYPE, Include/object.h (same bit in 3.6 to 3.14).
_HEAPTYPE = 1 << 9


class _State(object):
    __slots__ = ("args", "extra", "path", "every", "next_write", "usr1", "phase",
                 "writes", "objgraph", "start_time", "announce_idle")


_S = _State()
_S.args = None
_S.extra = None
_S.path = None
_S.every = 0.0
_S.next_write = 0.0
_S.usr1 = False
_S.phase = "active"
_S.writes = 0
_S.objgraph = None
_S.start_time = time.time()
_S.announce_idle = True


# --------------------------------------------------------------------------------------------
# command line

def parser(doc, duration=10.0, idle_default=True, duration_help=None):
    """Return an ArgumentParser with the common options; the scenario adds its own."""
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("common scenario options (see tests/scenarios/README.md)")
    g.add_argument("--truth", metavar="PATH",
                   help="write the ground truth JSON here (atomically: tmp file + os.replace)")
    g.add_argument("--duration", type=float, default=duration, metavar="SECONDS",
                   help=duration_help or
                   "length of the active phase; 0 or less = forever (default %(default)s)")
    g.add_argument("--truth-every", type=float, default=0.0, metavar="SECONDS",
                   help="also write the truth every SECONDS during the active phase (0 = off)")
    g.add_argument("--typestats", action="store_true",
                   help="add 'typestats' (objgraph) and 'typestats_pyleak' to the truth")
    if idle_default:
        g.add_argument("--idle", dest="idle", action="store_true", default=True,
                       help="after the active phase write the truth and idle until killed "
                            "(the default)")
        g.add_argument("--exit", dest="idle", action="store_false",
                       help="exit 0 after writing the idle truth instead of idling")
    else:
        g.add_argument("--idle", dest="idle", action="store_true", default=False,
                       help="after the work write the truth and idle until killed "
                            "(default: exit)")
        g.add_argument("--exit", dest="idle", action="store_false",
                       help="exit when the work is done (the default)")
    g.add_argument("--seed", type=int, default=1, help="random seed (default %(default)s)")
    return p


# --------------------------------------------------------------------------------------------
# signals

def _on_usr1(signum, frame):
    _S.usr1 = True


def _on_term(signum, frame):
    # Exit at once and quietly: no traceback, no teardown of big object graphs, no flush of
    # anything half written.  A half-written truth is only ever the tmp file: remove it.
    if _S.path:
        try:
            os.unlink(_S.path + ".tmp")
        except OSError:
            pass
    os._exit(0)


def setup(args, extra=None):
    """Install signal handlers and remember where and what to write.

    extra: a function returning a dict of scenario-specific truth keys, or None.
    """
    _S.args = args
    _S.extra = extra
    _S.path = args.truth
    _S.every = getattr(args, "truth_every", 0.0) or 0.0
    _S.next_write = time.monotonic() + _S.every
    _S.phase = "active"
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    signal.signal(signal.SIGUSR1, _on_usr1)
    try:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    except (AttributeError, ValueError):
        pass
    if getattr(args, "typestats", False):
        _S.objgraph = load_objgraph()
        typestats([_S])
        typestats_pyleak([_S])
    # First write at once: the file exists from the start, and every lazily built cache the
    # write path fills (platform's version cache and regex, the codec registry, json's encoder)
    # is filled now rather than during the idle write, where it would change the census the
    # observer compares against.
    write("active")


def announce(event, **fields):
    """One JSON object per line on stdout, flushed: {"event": ..., "pid": ..., ...}."""
    d = {"event": event, "pid": os.getpid()}
    d.update(fields)
    sys.stdout.write(json.dumps(d, sort_keys=True) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------
# type names and censuses

def load_objgraph():
    """Import objgraph from the Debian package by file path (works on 3.6 to 3.13).

    Returns the module, or None when it is missing or does not import; the census then falls
    back to _objgraph_typestats(), which computes exactly what objgraph.typestats does.
    """
    if not os.path.exists(OBJGRAPH_PATH):
        return None
    try:
        spec = importlib.util.spec_from_file_location("objgraph", OBJGRAPH_PATH)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    except Exception:
        return None


def objgraph_name(t):
    """objgraph's _long_typename(): '%s.%s' % (type.__module__, type.__name__)."""
    module = getattr(t, "__module__", None)
    if module:
        return "%s.%s" % (module, t.__name__)
    return t.__name__


def pyleak_name(t):
    """The name pyleak prints for type t (DESIGN.md, 'Finding and naming things').

    Static (C) types print tp_name: CPython derives __module__/__name__ from tp_name (text before
    and after the last dot; no dot = builtins), so tp_name is __name__ for builtins and
    __module__ + '.' + __name__ otherwise.  Heap types (classes, PyType_FromSpec types) print
    tp_dict['__module__'] + '.' + ht_qualname, i.e. __module__ + '.' + __qualname__.
    """
    if t.__flags__ & _HEAPTYPE:
        module = t.__dict__.get("__module__")
        if not isinstance(module, str):
            module = getattr(t, "__module__", None)
        if isinstance(module, str):
            return module + "." + t.__qualname__
        return t.__qualname__
    module = t.__module__
    if module == "builtins":
        return t.__name__
    return module + "." + t.__name__


def _transient_codes():
    """Code objects whose frames exist only while the truth is being computed.

    On 3.6 to 3.10 every running frame is a GC-tracked object, so the frames of the functions
    that compute the census would be counted although they are gone a moment later, when the
    observer looks.  idle() is left out: its frame stays while the process idles.  On 3.11+
    frames are not objects unless something materialises them, so this filters nothing.
    """
    codes = set()
    for f in (_census_objects, typestats, typestats_pyleak, count_instances, _build, write,
              write_stable, checkpoint):
        codes.add(f.__code__)
    return codes


def _census_objects():
    objs = gc.get_objects()
    codes = _transient_codes()
    frame_type = types.FrameType
    keep = []
    for o in objs:
        if type(o) is frame_type and o.f_code in codes:
            continue
        keep.append(o)
    del objs
    return keep


def _objgraph_typestats(objects):
    stats = {}
    for o in objects:
        n = objgraph_name(type(o))
        stats[n] = stats.get(n, 0) + 1
    return stats


def typestats(objects=None):
    """objgraph.typestats(shortnames=False) over the tracked objects (transient frames removed)."""
    if objects is None:
        objects = _census_objects()
    if _S.objgraph is not None:
        return _S.objgraph.typestats(objects=objects, shortnames=False)
    return _objgraph_typestats(objects)


def typestats_pyleak(objects=None):
    """Tracked objects per type, keyed the pyleak way (see pyleak_name)."""
    if objects is None:
        objects = _census_objects()
    by_type = {}
    for o in objects:
        t = type(o)
        by_type[t] = by_type.get(t, 0) + 1
    stats = {}
    for t, n in by_type.items():
        name = pyleak_name(t)
        stats[name] = stats.get(name, 0) + n
    return stats


def count_instances(classes):
    """{pyleak name: live GC-tracked instances} for the given types (exact type match)."""
    wanted = set(classes)
    counts = {}
    for t in classes:
        counts[t] = 0
    for o in gc.get_objects():
        t = type(o)
        if t in wanted:
            counts[t] += 1
    out = {}
    for t, n in counts.items():
        out[pyleak_name(t)] = n
    return out


# --------------------------------------------------------------------------------------------
# the truth file

def _build(phase):
    truth = {}
    if _S.args is not None and getattr(_S.args, "typestats", False):
        # First, before this function creates any other container, so that the census sees the
        # process as the observer will see it.  No gc.collect() here on purpose.
        objects = _census_objects()
        truth["typestats"] = typestats(objects)
        truth["typestats_pyleak"] = typestats_pyleak(objects)
        truth["typestats_source"] = "objgraph" if _S.objgraph is not None else "gc.get_objects"
        truth["tracked_objects"] = len(objects)
        del objects
    if _S.extra is not None:
        truth.update(_S.extra())
    truth["pid"] = os.getpid()
    truth["python"] = platform.python_version()
    truth["executable"] = sys.executable
    truth["phase"] = phase
    truth["writes"] = _S.writes + 1
    truth["start_time"] = _S.start_time
    # GC state last: it must describe the process after everything above.
    truth["gc_enabled"] = gc.isenabled()
    truth["gc_threshold"] = list(gc.get_threshold())
    truth["garbage_len"] = len(gc.garbage)
    truth["gc_count"] = list(gc.get_count())
    truth["gc_stats"] = gc.get_stats()
    truth["time"] = time.time()
    return truth


def write(phase=None):
    """Write the truth now (atomically).  Does nothing without --truth."""
    if phase is None:
        phase = _S.phase
    if not _S.path:
        return None
    truth = _build(phase)
    data = json.dumps(truth, sort_keys=True)
    tmp = _S.path + ".tmp"
    with open(tmp, "w") as f:
        f.write(data)
        f.write("\n")
    os.replace(tmp, _S.path)
    _S.writes += 1
    return truth


def _collections():
    s = gc.get_stats()
    return (s[0]["collections"], s[1]["collections"], s[2]["collections"])


def write_stable(phase=None):
    """Write the truth; rewrite it if a collection ran while writing (writing allocates)."""
    for _ in range(5):
        before = _collections()
        write(phase)
        if _collections() == before:
            return


def checkpoint():
    """Call between units of work: writes the truth on SIGUSR1 or every --truth-every seconds."""
    if _S.usr1:
        _S.usr1 = False
        write()
        _S.next_write = time.monotonic() + _S.every
        return
    if _S.every > 0 and time.monotonic() >= _S.next_write:
        write()
        _S.next_write = time.monotonic() + _S.every


def sleep(seconds):
    """time.sleep() in slices that keep checkpoints (SIGUSR1, --truth-every) on time."""
    end = time.monotonic() + seconds
    while True:
        checkpoint()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(0.1 if left > 0.1 else left)


def idle():
    """End of the active phase: write the final truth, then idle allocating nothing.

    With --exit the process exits 0 after the write instead.  SIGUSR1 rewrites the truth;
    SIGTERM/SIGINT exit 0.  Never returns.
    """
    _S.phase = "idle"
    _S.usr1 = False
    write_stable("idle")
    if _S.announce_idle:
        announce("idle", truth=_S.path)
    if _S.args is not None and not getattr(_S.args, "idle", True):
        os._exit(0)
    # Wakes 10 times a second (a Python signal handler interrupts the sleep anyway, but the
    # sleep then resumes: PEP 475); the loop body allocates nothing.
    while True:
        if _S.usr1:
            _S.usr1 = False
            write_stable("idle")
        time.sleep(0.1)


def finish(result):
    """Benchmarks: print the result JSON line, write the truth, exit 0 (idle with --idle)."""
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()
    _S.announce_idle = False
    idle()


# --------------------------------------------------------------------------------------------
# pacing

def run_paced(rate, duration, step, tick=0.02):
    """Call step(i) rate times per second for duration seconds (forever if duration <= 0).

    Work is done in small batches every tick seconds so the rate is steady at any time scale
    an observer uses; checkpoint() runs between batches.  Returns the number of steps done.
    """
    start = time.monotonic()
    end = start + duration if duration > 0 else float("inf")
    done = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        target = int((now - start) * rate)
        while done < target:
            step(done)
            done += 1
            if not done & 63:
                checkpoint()  # a starved process catching up still answers SIGUSR1
        checkpoint()
        time.sleep(tick)
    return done


def spin(us):
    """Burn about `us` microseconds of CPU in pure Python arithmetic (small ints: no malloc)."""
    end = perf_ns() + int(us * 1000)
    x = 0
    while perf_ns() < end:
        for i in range(50):
            x = (x * 31 + i) & 0xff
    return x


def perf_ns():
    """time.perf_counter_ns() (3.7+), or perf_counter() scaled on 3.6."""
    f = getattr(time, "perf_counter_ns", None)
    if f is not None:
        return f()
    return int(time.perf_counter() * 1e9)


# --------------------------------------------------------------------------------------------
# healthy background work

def churn(n):
    """Allocate and free about 3*n short-lived objects (dicts, lists, tuples): healthy churn."""
    total = 0
    for i in range(n):
        d = {"i": i, "items": [i, i + 1, str(i)]}
        t = (d, d["items"])
        total += len(t[1])
    return total
