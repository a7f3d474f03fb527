#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Checks, inside a running 3.13+ interpreter, the layouts an outside reader relies on.

    PYTHON tools/interp/livecheck.py

Run by the interpreter under test. It finds _PyRuntime with ctypes (the symbol is exported),
decodes _Py_DebugOffsets with pyinfo.py's field lists, and then reads its own memory the way
pyleak reads a target's: interpreters.head -> gc state (thresholds, counts, generation stats,
checked against gc.get_threshold()/get_count()/get_stats()), threads.head -> current_frame ->
code object (checked against the real stack), heap type name/qualname/module slots (found by
pointer value), and for a free-threaded build the object header (ob_tid, ob_ref_local,
ob_ref_shared, ob_gc_bits). Prints what it found; exits 1 if a check fails.
"""
import ctypes
import gc
import os
import struct
import sys
import sysconfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyinfo  # noqa: E402

FAILED = []


def mem(addr, size):
    return ctypes.string_at(addr, size)


def u64(addr):
    return struct.unpack("<Q", mem(addr, 8))[0]


def i32(addr):
    return struct.unpack("<i", mem(addr, 4))[0]


def check(what, ok, detail=""):
    print("  [%s] %s%s" % ("ok" if ok else "FAIL", what, (": " + detail) if detail else ""))
    if not ok:
        FAILED.append(what)


FT = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
V = sys.version_info[:2]

# gc state layouts (struct _gc_runtime_state), from the headers of each version, checked below.
# name -> offset; gens = (offset of generations[0] / young, stride); stats = inline array or pointer.
GC_LAYOUTS = {
    ((3, 13), False): dict(enabled=12, gens=24, permanent=104, stats_inline=128, collecting=200, garbage=208,
                           callbacks=216, long_lived_total=224, long_lived_pending=232, size=240),
    # 3.13 free-threaded: the GIL build's struct plus `int immortalize` (DWARF of the 3.13.5t build).
    ((3, 13), True): dict(enabled=12, gens=24, permanent=104, stats_inline=128, collecting=200, garbage=208,
                          callbacks=216, long_lived_total=224, long_lived_pending=232, immortalize=240,
                          size=248),
    ((3, 14), False): dict(enabled=12, gens=24, permanent=96, stats_inline=120, collecting=192, garbage=200,
                           callbacks=208, heap_size=216, long_lived_total=240, long_lived_pending=248,
                           generation0=256, size=264),
    ((3, 15), False): dict(enabled=0, gens=8, permanent=80, stats_ptr=104, collecting=112, frame=120, garbage=128,
                           callbacks=136, heap_size=144, long_lived_total=152, long_lived_pending=160,
                           generation0=168, size=176),
}


def runtime_addr():
    return ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, "_PyRuntime"))


def main():
    print("== %s %s (%s)" % (sys.executable, sys.version.split()[0], "free-threaded" if FT else "GIL"))
    rt = runtime_addr()
    buf = mem(rt, 4096)
    check("cookie xdebugpy at the start of _PyRuntime", buf[:8] == b"xdebugpy", repr(buf[:8]))
    ver = struct.unpack_from("<Q", buf, 8)[0]
    check("version == sys.hexversion", ver == sys.hexversion, "%#x vs %#x" % (ver, sys.hexversion))
    fields, size, note = pyinfo.decode(buf, V)
    d = {g: {f: v for f, (o, v) in fs.items()} for g, fs in fields.items()}
    if note:
        print("  note: " + note)
    check("free_threaded flag", struct.unpack_from("<Q", buf, 16)[0] == int(FT))

    interp = u64(rt + d["runtime_state"]["interpreters_head"])
    print("  _PyRuntime=%#x interpreters.head=%#x" % (rt, interp))
    gcs = interp + d["interpreter_state"]["gc"]
    lay = GC_LAYOUTS.get((V, FT))
    if lay is None:
        print("  no gc layout known for %s %s" % (V, "FT" if FT else "GIL"))
    else:
        check("gc.collecting offset == debug offsets", lay["collecting"] == d["gc"]["collecting"],
              "%d vs %d" % (lay["collecting"], d["gc"]["collecting"]))
        if lay.get("size"):
            check("sizeof(gc state) == debug offsets", lay["size"] == d["gc"]["size"],
                  "%d vs %d" % (lay["size"], d["gc"]["size"]))
        else:
            print("  sizeof(gc state) from debug offsets: %d" % d["gc"]["size"])
        if "frame" in d["gc"]:
            check("gc.frame offset", lay.get("frame") == d["gc"]["frame"])
        if "generation_stats" in d["gc"]:
            check("gc.generation_stats offset", lay.get("stats_ptr") == d["gc"]["generation_stats"])
        check("gc.enabled", i32(gcs + lay["enabled"]) == int(gc.isenabled()))
        gc.disable()
        th = [i32(gcs + lay["gens"] + 24 * g + 16) for g in range(3)]
        check("thresholds", tuple(th) == gc.get_threshold(), "%s vs %s" % (th, gc.get_threshold()))
        gc.collect(0)
        gc.collect(1)
        gc.collect(2)
        gc.collect(0)
        cnt = [i32(gcs + lay["gens"] + 24 * g + 20) for g in range(3)]
        py = gc.get_count()
        check("counts (gen1, gen2 exact after collections)", cnt[1:] == list(py[1:]),
              "%s vs %s" % (cnt, py))
        stats = gc.get_stats()
        if "stats_inline" in lay:
            mine = [struct.unpack("<qqq", mem(gcs + lay["stats_inline"] + 24 * g, 24)) for g in range(3)]
            want = [(s["collections"], s["collected"], s["uncollectable"]) for s in stats]
            check("generation_stats[3] inline (collections, collected, uncollectable)", mine == want,
                  "%s vs %s" % (mine, want))
        else:
            p = u64(gcs + lay["stats_ptr"])
            n = d["gc"]["generation_stats_size"]
            raw = mem(p, n)
            print("  generation_stats -> %#x, %d bytes" % (p, n))
            # Locate each generation's newest record by value: (collections, collected,
            # uncollectable, candidates) as gc.get_stats() reports them.
            for g, s in enumerate(stats):
                key = struct.pack("<qqqq", s["collections"], s["collected"], s["uncollectable"], s["candidates"])
                hits = []
                o = raw.find(key)
                while o >= 0:
                    hits.append(o - 16)  # record start: ts_start, ts_stop come first
                    o = raw.find(key, o + 1)
                dur = [struct.unpack_from("<d", raw, h + 48)[0] for h in hits]
                check("gen %d newest record found in the stats buffer" % g, bool(hits),
                      "record offsets %s (duration %s vs %r)" % (hits, dur, s["duration"]))
            # The buffer indexes (int8 after each ring) as laid out in the 3.15 header.
            yi = struct.unpack_from("<b", raw, 11 * 64)[0]
            o0 = struct.unpack_from("<b", raw, 712 + 3 * 64)[0]
            o1 = struct.unpack_from("<b", raw, 712 + 200 + 3 * 64)[0]
            print("  ring indexes at 704/904/1104: young=%d old0=%d old1=%d" % (yi, o0, o1))
        garbage = u64(gcs + lay["garbage"])
        check("gc.garbage pointer", garbage == id(gc.garbage), "%#x vs %#x" % (garbage, id(gc.garbage)))
        callbacks = u64(gcs + lay["callbacks"])
        check("gc.callbacks pointer", callbacks == id(gc.callbacks))
        if "heap_size" in lay:
            print("  heap_size=%d" % u64(gcs + lay["heap_size"]))
        gc.enable()

    # Thread state -> current frame -> code object.
    ts = u64(interp + d["interpreter_state"]["threads_head"])
    tsd = d["thread_state"]
    frame = u64(ts + tsd["current_frame"])
    codes = set()
    f = sys._getframe()
    while f:
        codes.add(id(f.f_code))
        f = f.f_back
    seen = []
    fr = frame
    ifd = d["interpreter_frame"]
    for _ in range(64):
        if not fr:
            break
        exe = u64(fr + ifd["executable"])
        owner = struct.unpack("<b", mem(fr + ifd["owner"], 1))[0]
        seen.append((exe & ~7, owner, exe & 7))
        fr = u64(fr + ifd["previous"])
    hits = [c for c, o, t in seen if c in codes]
    check("frame chain reaches the Python stack's code objects", len(hits) >= 2,
          "%d frames, owners %s, tag bits %s" % (len(seen), sorted(set(o for _, o, _ in seen)),
                                                 sorted(set(t for _, _, t in seen))))
    code = sys._getframe().f_code
    co = d["code_object"]
    check("co_qualname slot", u64(id(code) + co["qualname"]) == id(code.co_qualname))
    check("co_filename slot", u64(id(code) + co["filename"]) == id(code.co_filename))

    # Heap types: find ht_name / ht_qualname / ht_module by pointer value.
    class Probe(object):
        pass
    Probe.__qualname__ = "Outer.Probe"
    tsize = d["type_object"]["size"]
    raw = mem(id(Probe), tsize + 600)
    words = struct.unpack("<%dQ" % (len(raw) // 8), raw)

    def where(obj):
        return [8 * i for i, w in enumerate(words) if w == id(obj)]
    print("  sizeof(PyTypeObject)=%d; class Probe: ht_name at %s, ht_qualname at %s" % (
        tsize, where(Probe.__name__), where(Probe.__qualname__)))
    import array
    t = array.array
    raw = mem(id(t), tsize + 600)
    words = struct.unpack("<%dQ" % (len(raw) // 8), raw)
    print("  array.array (heap type of an extension module): ht_qualname at %s, ht_module at %s" % (
        [8 * i for i, w in enumerate(words) if w == id(t.__qualname__)],
        [8 * i for i, w in enumerate(words) if w == id(sys.modules["array"])]))
    if "heap_type_object" in d:
        print("  heap_type_object: size=%d ht_cached_keys=%d" % (
            d["heap_type_object"]["size"], d["heap_type_object"]["ht_cached_keys"]))

    # Object header.
    obj = [1, 2, 3]
    hdr = mem(id(obj), 32)
    if FT:
        tid, flags, mutex, gcbits, ref_local, ref_shared, typ = struct.unpack("<QHBBIqQ", hdr)
        print("  PyObject (FT) of a list: ob_tid=%#x ob_flags=%#x ob_mutex=%d ob_gc_bits=%#x "
              "ob_ref_local=%d ob_ref_shared=%d ob_type=%#x" % (tid, flags, mutex, gcbits, ref_local,
                                                                ref_shared, typ))
        check("ob_type at 24", typ == id(list))
        check("list is tracked: ob_gc_bits & 1", gcbits & 1 == 1)
        ih = mem(id(12345678901), 32)
        print("  an int: ob_gc_bits=%#x ob_ref_local=%d" % (ih[11], struct.unpack_from("<I", ih, 12)[0]))
        check("ob_ref_local counts references", ref_local >= 1)
    else:
        refcnt, typ = struct.unpack("<qQ", hdr[:16])
        check("ob_type at 8", typ == id(list))
    print("  %s" % ("all checks passed" if not FAILED else "FAILED: " + ", ".join(FAILED)))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
