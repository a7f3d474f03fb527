#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Generate userspace/target/layouts_gen.c (struct py_layout per CPython minor) from DWARF of local builds.

Usage (from the repository root):

    /usr/bin/python3 tools/gen_layouts.py            # rewrite userspace/target/layouts_gen.c
    /usr/bin/python3 tools/gen_layouts.py --check    # exit 1 with a diff if the file is stale
    /usr/bin/python3 tools/gen_layouts.py --json     # dump the raw numbers (for live checks)

For every pyenv build 3.6 ... 3.13 under $PYENV_ROOT/versions (default /root/.pyenv) it runs
`gdb -batch -nx -x <script> <libpython or binary>`; the embedded gdb-Python script resolves
member paths with gdb.lookup_type(...).fields() / bitpos // 8 / sizeof and prints JSON.  Member
names move between versions, so each field has an ordered list of candidate paths; a field none
of whose candidates exists is LAYOUT_NONE.  3.14 has no local build: its table is transcribed from
shared/reference/cpython-internals.md (see REFERENCE_3_14 below) and must be confirmed against
_Py_DebugOffsets at run time.

The numbers are also compared with the per-version tables of the reference document
(REFERENCE below) and any disagreement is printed to stderr.
"""

import argparse
import difflib
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_REL = "userspace/target/layouts_gen.c"
LAYOUT_H_REL = "userspace/target/layout.h"
MINORS = range(6, 14)  # 3.6 ... 3.13 from DWARF

# ---------------------------------------------------------------------------------------------
# Field specs.  Each entry: field -> (kind, type candidates, member-path candidates).
#   kind "off":  offset of the first member path found in the first type found
#   kind "size": sizeof the first type found
# Type names starting with "struct " are struct tags; others are typedefs.
# ---------------------------------------------------------------------------------------------
RT = ["_PyRuntimeState"]
IS = ["PyInterpreterState", "struct _is"]
GC = ["struct _gc_runtime_state"]
GEN = ["struct gc_generation"]
STATS = ["struct gc_generation_stats"]
GCH = ["PyGC_Head"]
TS = ["PyThreadState", "struct _ts"]
# 3.11+ keeps PyFrameObject (struct _frame) as a thin wrapper; the chain pyleak walks is
# _PyInterpreterFrame, so it is tried first (python/cpython#88698, 3.11).
FRAME = ["_PyInterpreterFrame", "struct _PyInterpreterFrame", "PyFrameObject", "struct _frame"]
CODE = ["PyCodeObject"]
OBJ = ["PyObject"]
VAR = ["PyVarObject"]
TYPE = ["PyTypeObject"]
HEAP = ["PyHeapTypeObject"]
LIST = ["PyListObject"]
TUPLE = ["PyTupleObject"]
DICT = ["PyDictObject"]
DKEYS = ["PyDictKeysObject", "struct _dictkeysobject"]
SET = ["PySetObject"]
MOD = ["PyModuleObject", "struct PyModuleObject"]
ASCII = ["PyASCIIObject"]
COMPACT = ["PyCompactUnicodeObject"]
BYTES = ["PyBytesObject"]
OBM = ["struct _obmalloc_state"]
FUNC = ["PyFunctionObject"]

SPECS = [
    ("runtime_size", "size", RT, None),
    ("runtime_interpreters_head", "off", RT, ["interpreters.head"]),
    ("runtime_interpreters_main", "off", RT, ["interpreters.main"]),
    ("runtime_gc", "off", RT, ["gc"]),
    ("runtime_tstate_current", "off", RT, ["gilstate.tstate_current"]),
    ("runtime_allocators_obj", "off", RT, ["allocators.standard.obj"]),

    ("interp_next", "off", IS, ["next"]),
    ("interp_threads_head", "off", IS, ["tstate_head", "threads.head"]),
    ("interp_gc", "off", IS, ["gc"]),
    ("interp_modules", "off", IS, ["modules", "imports.modules"]),
    ("interp_sysdict", "off", IS, ["sysdict"]),
    ("interp_obmalloc", "off", IS, ["obmalloc"]),
    ("interp_gil_last_holder", "off", IS, ["_gil.last_holder"]),

    ("gc_size", "size", GC, None),
    ("gc_enabled", "off", GC, ["enabled"]),
    ("gc_debug", "off", GC, ["debug"]),
    ("gc_generations", "off", GC, ["generations"]),
    ("gc_generation_size", "size", GEN, None),
    ("gc_gen_head", "off", GEN, ["head"]),
    ("gc_gen_threshold", "off", GEN, ["threshold"]),
    ("gc_gen_count", "off", GEN, ["count"]),
    ("gc_generation0", "off", GC, ["generation0"]),
    ("gc_permanent_generation", "off", GC, ["permanent_generation"]),
    ("gc_generation_stats", "off", GC, ["generation_stats"]),
    ("gc_stats_size", "size", STATS, None),
    ("gc_stats_collections", "off", STATS, ["collections"]),
    ("gc_stats_collected", "off", STATS, ["collected"]),
    ("gc_stats_uncollectable", "off", STATS, ["uncollectable"]),
    ("gc_collecting", "off", GC, ["collecting"]),
    ("gc_garbage", "off", GC, ["garbage"]),
    ("gc_callbacks", "off", GC, ["callbacks"]),
    ("gc_long_lived_total", "off", GC, ["long_lived_total"]),
    ("gc_long_lived_pending", "off", GC, ["long_lived_pending"]),
    ("gc_head_size", "size", GCH, None),
    # 3.6/3.7: union _gc_head { struct { gc_next, gc_prev, gc_refs } gc; long double dummy; }
    ("gc_head_next", "off", GCH, ["_gc_next", "gc.gc_next"]),
    ("gc_head_prev", "off", GCH, ["_gc_prev", "gc.gc_prev"]),

    ("tstate_prev", "off", TS, ["prev"]),
    ("tstate_next", "off", TS, ["next"]),
    ("tstate_interp", "off", TS, ["interp"]),
    # 3.10 has both `frame` and `cframe`; `frame` is the one to walk there.
    ("tstate_frame", "off", TS, ["frame", "cframe", "current_frame"]),
    ("cframe_current_frame", "off", ["_PyCFrame", "struct _PyCFrame"], ["current_frame"]),
    ("tstate_thread_id", "off", TS, ["thread_id"]),
    ("tstate_native_thread_id", "off", TS, ["native_thread_id"]),

    ("frame_previous", "off", FRAME, ["previous", "f_back"]),
    ("frame_code", "off", FRAME, ["f_executable", "f_code"]),
    ("frame_lasti", "off", FRAME, ["instr_ptr", "prev_instr", "f_lasti"]),
    ("frame_lineno", "off", FRAME, ["f_lineno"]),
    ("frame_owner", "off", FRAME, ["owner"]),
    ("frame_localsplus", "off", FRAME, ["localsplus", "f_localsplus"]),

    ("code_size", "size", CODE, None),
    ("code_argcount", "off", CODE, ["co_argcount"]),
    ("code_flags", "off", CODE, ["co_flags"]),
    ("code_firstlineno", "off", CODE, ["co_firstlineno"]),
    ("code_filename", "off", CODE, ["co_filename"]),
    ("code_name", "off", CODE, ["co_name"]),
    ("code_qualname", "off", CODE, ["co_qualname"]),
    ("code_linetable", "off", CODE, ["co_linetable", "co_lnotab"]),
    ("code_code_adaptive", "off", CODE, ["co_code_adaptive"]),
    ("code_firsttraceable", "off", CODE, ["_co_firsttraceable"]),

    ("object_refcnt", "off", OBJ, ["ob_refcnt"]),
    ("object_type", "off", OBJ, ["ob_type"]),
    ("varobject_size", "off", VAR, ["ob_size"]),
    ("type_name", "off", TYPE, ["tp_name"]),
    ("type_basicsize", "off", TYPE, ["tp_basicsize"]),
    ("type_itemsize", "off", TYPE, ["tp_itemsize"]),
    ("type_flags", "off", TYPE, ["tp_flags"]),
    ("type_base", "off", TYPE, ["tp_base"]),
    ("type_dict", "off", TYPE, ["tp_dict"]),
    ("type_mro", "off", TYPE, ["tp_mro"]),
    ("heaptype_name", "off", HEAP, ["ht_name"]),
    ("heaptype_qualname", "off", HEAP, ["ht_qualname"]),
    ("heaptype_module", "off", HEAP, ["ht_module"]),

    ("list_item", "off", LIST, ["ob_item"]),
    ("list_allocated", "off", LIST, ["allocated"]),
    ("tuple_item", "off", TUPLE, ["ob_item"]),
    ("dict_used", "off", DICT, ["ma_used"]),
    ("dict_keys", "off", DICT, ["ma_keys"]),
    ("dict_values", "off", DICT, ["ma_values"]),
    ("dictkeys_size", "off", DKEYS, ["dk_size"]),
    ("dictkeys_log2_size", "off", DKEYS, ["dk_log2_size"]),
    ("dictkeys_log2_index_bytes", "off", DKEYS, ["dk_log2_index_bytes"]),
    ("dictkeys_kind", "off", DKEYS, ["dk_kind"]),
    ("dictkeys_nentries", "off", DKEYS, ["dk_nentries"]),
    ("dictkeys_indices", "off", DKEYS, ["dk_indices"]),
    ("dictkeys_header_size", "size", DKEYS, None),
    ("set_used", "off", SET, ["used"]),
    ("set_fill", "off", SET, ["fill"]),
    ("set_mask", "off", SET, ["mask"]),
    ("set_table", "off", SET, ["table"]),
    ("module_dict", "off", MOD, ["md_dict"]),
    ("unicode_state", "off", ASCII, ["state"]),
    ("unicode_length", "off", ASCII, ["length"]),
    ("unicode_ascii_size", "size", ASCII, None),
    ("unicode_compact_size", "size", COMPACT, None),
    ("bytes_sval", "off", BYTES, ["ob_sval"]),

    ("arena_size", "const", None, None),
    ("pool_size", "const", None, None),
    ("obmalloc_arenas", "off", OBM, ["mgmt.arenas"]),
    ("obmalloc_maxarenas", "off", OBM, ["mgmt.maxarenas"]),
    ("obmalloc_narenas_allocated", "off", OBM, ["mgmt.narenas_currently_allocated"]),

    # holders.c: instance attributes (<=3.10 tp_dictoffset; 3.11+ split keys of managed dicts)
    ("type_dictoffset", "off", TYPE, ["tp_dictoffset"]),
    ("heaptype_cached_keys", "off", HEAP, ["ht_cached_keys"]),

    # analysis/refs.c: the referents of the object kinds whose layout pyleak reads (retention
    # chains).  Sources: Include/cpython/cellobject.h (PyCellObject), Include/cpython/
    # funcobject.h (PyFunctionObject), Include/cpython/classobject.h (PyMethodObject),
    # Modules/_collectionsmodule.c (dequeobject, block), Modules/_functoolsmodule.c
    # (lru_cache_object), Include/descrobject.h + structmember.h (PyMemberDescrObject,
    # PyMemberDef), Include/cpython/code.h, Include/internal/pycore_frame.h (3.11+
    # _PyInterpreterFrame, PyFrameObject.f_frame), Include/cpython/frameobject.h (<= 3.10),
    # Include/cpython/longintrepr.h (ob_digit; 3.12+ long_value.ob_digit, gh-101291).
    ("cell_ref", "off", ["PyCellObject"], ["ob_ref"]),
    ("func_code", "off", FUNC, ["func_code"]),
    ("func_globals", "off", FUNC, ["func_globals"]),
    ("func_defaults", "off", FUNC, ["func_defaults"]),
    ("func_kwdefaults", "off", FUNC, ["func_kwdefaults"]),
    ("func_closure", "off", FUNC, ["func_closure"]),
    ("func_dict", "off", FUNC, ["func_dict"]),
    ("method_func", "off", ["PyMethodObject"], ["im_func"]),
    ("method_self", "off", ["PyMethodObject"], ["im_self"]),
    ("deque_leftblock", "off", ["dequeobject"], ["leftblock"]),
    ("deque_leftindex", "off", ["dequeobject"], ["leftindex"]),
    ("deque_rightindex", "off", ["dequeobject"], ["rightindex"]),
    ("dequeblock_data", "off", ["block"], ["data"]),
    ("dequeblock_rightlink", "off", ["block"], ["rightlink"]),
    ("lru_cache_cache", "off", ["lru_cache_object"], ["cache"]),
    ("lru_cache_func", "off", ["lru_cache_object"], ["func"]),
    ("lru_cache_dict", "off", ["lru_cache_object"], ["dict"]),
    ("type_members", "off", TYPE, ["tp_members"]),
    ("memberdescr_member", "off", ["PyMemberDescrObject"], ["d_member"]),
    ("memberdef_size", "size", ["PyMemberDef", "struct PyMemberDef"], None),
    ("memberdef_name", "off", ["PyMemberDef", "struct PyMemberDef"], ["name"]),
    ("memberdef_type", "off", ["PyMemberDef", "struct PyMemberDef"], ["type"]),
    ("memberdef_offset", "off", ["PyMemberDef", "struct PyMemberDef"], ["offset"]),
    ("code_nlocalsplus", "off", CODE, ["co_nlocalsplus"]),
    ("code_localsplusnames", "off", CODE, ["co_localsplusnames"]),
    ("code_nlocals", "off", CODE, ["co_nlocals"]),
    ("code_varnames", "off", CODE, ["co_varnames"]),
    ("code_cellvars", "off", CODE, ["co_cellvars"]),
    ("code_freevars", "off", CODE, ["co_freevars"]),
    ("frame_locals", "off", FRAME, ["f_locals"]),
    ("frameobj_frame", "off", ["PyFrameObject", "struct _frame"], ["f_frame"]),
    ("long_digit", "off", ["PyLongObject", "struct _longobject"], ["ob_digit", "long_value.ob_digit"]),
    # Objects/funcobject.c (classmethod, staticmethod), Modules/_functoolsmodule.c
    # (partialobject), Include/cpython/methodobject.h (PyCFunctionObject), Objects/descrobject.c
    # (propertyobject)
    ("classmethod_callable", "off", ["classmethod"], ["cm_callable"]),
    ("classmethod_dict", "off", ["classmethod"], ["cm_dict"]),
    ("staticmethod_callable", "off", ["staticmethod"], ["sm_callable"]),
    ("staticmethod_dict", "off", ["staticmethod"], ["sm_dict"]),
    ("partial_fn", "off", ["partialobject"], ["fn"]),
    ("partial_args", "off", ["partialobject"], ["args"]),
    ("partial_kw", "off", ["partialobject"], ["kw"]),
    ("partial_dict", "off", ["partialobject"], ["dict"]),
    ("cfunction_self", "off", ["PyCFunctionObject"], ["m_self"]),
    ("property_get", "off", ["propertyobject"], ["prop_get"]),
    ("property_set", "off", ["propertyobject"], ["prop_set"]),
    ("property_del", "off", ["propertyobject"], ["prop_del"]),
    ("property_doc", "off", ["propertyobject"], ["prop_doc"]),
    # Include/cpython/genobject.h (<= 3.10 gi_frame), Include/internal/pycore_genobject.h /
    # genobject.h _PyGenObject_HEAD (3.11+ embedded gi_iframe, int8 gi_frame_state); coroutines
    # and async generators share the layout.
    ("gen_frame", "off", ["PyGenObject"], ["gi_frame"]),
    ("gen_iframe", "off", ["PyGenObject"], ["gi_iframe"]),
    ("gen_frame_state", "off", ["PyGenObject"], ["gi_frame_state"]),
    # Include/cpython/pyerrors.h (PyBaseExceptionObject; notes 3.11+), Include/cpython/traceback.h
    # (PyTracebackObject): a kept exception holds its traceback, whose frames hold their locals.
    ("exc_args", "off", ["PyBaseExceptionObject"], ["args"]),
    ("exc_notes", "off", ["PyBaseExceptionObject"], ["notes"]),
    ("exc_traceback", "off", ["PyBaseExceptionObject"], ["traceback"]),
    ("exc_context", "off", ["PyBaseExceptionObject"], ["context"]),
    ("exc_cause", "off", ["PyBaseExceptionObject"], ["cause"]),
    ("tb_next", "off", ["PyTracebackObject"], ["tb_next"]),
    ("tb_frame", "off", ["PyTracebackObject"], ["tb_frame"]),

    # Modules/_asynciomodule.c, read from DWARF of the _asyncio extension (lib-dynload), not of
    # libpython: FutureObj_HEAD(fut) is shared by Task (task_* names, same offsets);
    # TaskStepMethWrapper (call_soon(task.__step)); TaskWakeupMethWrapper (3.8/3.9 only: 3.10+
    # task.__wakeup is a builtin method bound to the task).
    ("future_loop", "off", ["FutureObj"], ["fut_loop"]),
    ("future_callback0", "off", ["FutureObj"], ["fut_callback0"]),
    ("future_context0", "off", ["FutureObj"], ["fut_context0"]),
    ("future_callbacks", "off", ["FutureObj"], ["fut_callbacks"]),
    ("future_exception", "off", ["FutureObj"], ["fut_exception"]),
    ("future_result", "off", ["FutureObj"], ["fut_result"]),
    ("task_fut_waiter", "off", ["TaskObj"], ["task_fut_waiter"]),
    ("task_coro", "off", ["TaskObj"], ["task_coro"]),
    ("task_context", "off", ["TaskObj"], ["task_context"]),
    ("taskstep_task", "off", ["TaskStepMethWrapper"], ["sw_task"]),
    ("taskstep_arg", "off", ["TaskStepMethWrapper"], ["sw_arg"]),
    ("taskwakeup_task", "off", ["TaskWakeupMethWrapper"], ["ww_task"]),
    # 3.15: generation_stats is a pointer to three rings of records (young, old[0], old[1]);
    # NONE for every DWARF build (an inline array) -- see REFERENCE_3_15.
    ("gc_stats_ring_young", "const", None, None),
    ("gc_stats_ring_old0", "const", None, None),
    ("gc_stats_ring_old1", "const", None, None),
    ("gc_stats_index_young", "const", None, None),
    ("gc_stats_index_old0", "const", None, None),
    ("gc_stats_index_old1", "const", None, None),
    ("gc_stats_ring_len_young", "const", None, None),
    ("gc_stats_ring_len_old", "const", None, None),
    ("gc_stats_duration", "const", None, None),
    ("free_threaded", "const", None, None),
]
FIELDS = [s[0] for s in SPECS]
# Fields whose structs live in an extension module, not in libpython: {field: glob of the .so
# under the build's lib/pythonX.Y/lib-dynload}.
EXTENSION_FIELDS = {f: "_asyncio*.so" for f in (
    "future_loop", "future_callback0", "future_context0", "future_callbacks", "future_exception",
    "future_result", "task_fut_waiter", "task_coro", "task_context", "taskstep_task", "taskstep_arg",
    "taskwakeup_task")}

# Extra facts the gdb script reports for cross-checks only (not emitted as fields).
EXTRA = [
    ("arena_object_size", "size", ["struct arena_object"], None),
    ("pool_header_size", "size", ["struct pool_header"], None),
    ("obmalloc_state_size", "size", OBM, None),
    ("obmalloc_mgmt_size", "size", ["struct _obmalloc_mgmt"], None),
    ("frame_struct", "name", FRAME, None),
]

GDB_SCRIPT = r'''
import gdb, json

SPECS = json.loads(%(specs)r)

def find_type(names):
    for n in names:
        try:
            return n, gdb.lookup_type(n)
        except gdb.error:
            pass
        try:  # some gdb versions only resolve struct tags through an expression
            return n, gdb.parse_and_eval("(%%s *)0" %% n).type.target()
        except gdb.error:
            pass
    return None, None

def member(t, name):
    """(offset, type) of member `name` of struct/union t, looking into anonymous members."""
    t = t.strip_typedefs()
    if t.code not in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
        return None
    for f in t.fields():
        if f.name == name:
            return f.bitpos // 8, f.type
    for f in t.fields():
        if not f.name:
            r = member(f.type, name)
            if r is not None:
                return f.bitpos // 8 + r[0], r[1]
    return None

def path_offset(t, path):
    off = 0
    for part in path.split("."):
        r = member(t, part)
        if r is None:
            return None
        off += r[0]
        t = r[1]
    return off

out = {}
for field, kind, types, paths in SPECS:
    if kind == "const":
        continue
    tname, t = find_type(types)
    if t is None:
        out[field] = None
        continue
    if kind == "size":
        out[field] = t.strip_typedefs().sizeof
    elif kind == "name":
        out[field] = tname
    else:
        v = None
        for p in paths:
            v = path_offset(t, p)
            if v is not None:
                out[field] = {"off": v, "path": p, "type": tname}
                break
        if v is None:
            out[field] = None
print("@@LAYOUT@@" + json.dumps(out, sort_keys=True))
'''


def find_builds(pyenv_root):
    """[(major, minor, patch, path)] of the newest pyenv build per minor 3.6 ... 3.13."""
    best = {}
    for d in glob.glob(os.path.join(pyenv_root, "versions", "*")):
        m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", os.path.basename(d))
        if not m:
            continue  # skips 3.13.0t, dev builds, virtualenvs
        ver = tuple(int(x) for x in m.groups())
        if ver[0] != 3 or ver[1] not in MINORS:
            continue
        libs = sorted(glob.glob(os.path.join(d, "lib", "libpython%d.%d*.so.1.0" % ver[:2])))
        if libs:
            path = libs[0]
        else:
            bins = sorted(glob.glob(os.path.join(d, "bin", "python%d.%d*" % ver[:2])))
            bins = [b for b in bins if re.search(r"python\d+\.\d+m?$", b)]
            if not bins:
                continue
            path = bins[0]
        if ver[:2] not in best or ver > best[ver[:2]][:3]:
            best[ver[:2]] = ver + (path,)
    return [best[k] for k in sorted(best)]


def run_gdb(path, gdb_bin):
    script = GDB_SCRIPT % {"specs": json.dumps(SPECS + EXTRA)}
    with tempfile.NamedTemporaryFile("w", suffix=".py", prefix="gen_layouts_") as f:
        f.write(script)
        f.flush()
        p = subprocess.run([gdb_bin, "-batch", "-nx", "-x", f.name, path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, check=False)
    for line in p.stdout.splitlines():
        if line.startswith("@@LAYOUT@@"):
            return json.loads(line[len("@@LAYOUT@@"):])
    sys.exit("gen_layouts: gdb gave no layout for %s (rc %d): %s"
             % (path, p.returncode, p.stderr.strip()[-2000:]))


def to_table(raw, ver):
    """Flatten gdb output into {field: int} plus notes {field: comment}."""
    major, minor = ver[:2]
    vals, notes = {}, {}
    for field, kind, _types, _paths in SPECS:
        r = raw.get(field)
        if isinstance(r, dict):
            vals[field] = r["off"]
        elif isinstance(r, int):
            vals[field] = r
        else:
            vals[field] = None
    # pymalloc geometry is a macro (no DWARF without -g3): 3.10 raised ARENA_BITS to 20 and
    # POOL_BITS to 14 on 64-bit with the radix tree (v3.10.7:Objects/obmalloc.c:904-931).
    if minor >= 10:
        vals["arena_size"], vals["pool_size"] = 1 << 20, 1 << 14
    else:
        vals["arena_size"], vals["pool_size"] = 256 << 10, 4 << 10
    notes["arena_size"] = "version rule (macro, not in DWARF)"
    if vals["module_dict"] is None:
        # PyModuleObject is private to Objects/moduleobject.c; md_dict follows PyObject_HEAD in
        # every version 3.6-3.14.
        vals["module_dict"] = 16
        notes["module_dict"] = "PyModuleObject not visible to gdb: md_dict = 16 after PyObject_HEAD"
    if minor == 6:
        notes["gc_size"] = "3.6: module statics, start from _PyGC_generation0 (see top)"
    return vals, notes


# ---------------------------------------------------------------------------------------------
# 3.14: no local build.  Values transcribed from shared/reference/cpython-internals.md (3.14.7,
# validated there against a live 3.14.7); everything the reference does not give is NONE.
# Run-time _Py_DebugOffsets (3.13+) must confirm interpreter/thread/frame/code offsets.
# ---------------------------------------------------------------------------------------------
REFERENCE_3_14 = {
    # §4 _PyRuntimeState (3.14.7)
    "runtime_interpreters_head": 808, "runtime_interpreters_main": 816,
    # §5: allocators.standard.obj.malloc at +968, obj = {ctx, malloc, ...} so obj at +960
    "runtime_allocators_obj": 960,
    # §4 PyInterpreterState (3.14.7), §3 GIL holder, §7 obmalloc pointer
    "interp_next": 7272, "interp_threads_head": 7344, "interp_gc": 7408,
    "interp_gil_last_holder": 7792, "interp_obmalloc": 10904,
    # §2 struct _gc_runtime_state, 3.14.5+ column
    "gc_size": 264, "gc_enabled": 12, "gc_debug": 16, "gc_generations": 24,
    "gc_generation_size": 24, "gc_gen_head": 0, "gc_gen_threshold": 16, "gc_gen_count": 20,
    "gc_generation0": 256, "gc_permanent_generation": 96, "gc_generation_stats": 120,
    "gc_stats_size": 24, "gc_stats_collections": 0, "gc_stats_collected": 8,
    "gc_stats_uncollectable": 16, "gc_collecting": 192, "gc_garbage": 200, "gc_callbacks": 208,
    "gc_long_lived_total": 240, "gc_long_lived_pending": 248,
    # §5 PyGC_Head {_gc_next, _gc_prev}, 16 B in 3.8+
    "gc_head_size": 16, "gc_head_next": 0, "gc_head_prev": 8,
    # §4 PyThreadState, _PyInterpreterFrame, PyCodeObject (3.14.7)
    "tstate_prev": 0, "tstate_next": 8, "tstate_interp": 16, "tstate_frame": 72,
    "tstate_thread_id": 152, "tstate_native_thread_id": 160,
    "frame_previous": 8, "frame_code": 0, "frame_lasti": 56, "frame_owner": 74,
    "frame_localsplus": 80,
    "code_argcount": 52, "code_flags": 48, "code_firstlineno": 68, "code_filename": 112,
    "code_name": 120, "code_qualname": 128, "code_linetable": 136, "code_code_adaptive": 208,
    # §5/§6 objects and types (same 3.8-3.14), heap types 3.12-3.14
    "object_refcnt": 0, "object_type": 8, "varobject_size": 16,
    "type_name": 24, "type_basicsize": 32, "type_itemsize": 40, "type_flags": 168,
    "type_base": 256, "type_dict": 264, "type_mro": 344,
    "heaptype_name": 856, "heaptype_qualname": 872, "heaptype_module": 888,
    # §6: tp_dictoffset follows tp_dict/tp_descr_get/tp_descr_set; ht_cached_keys 3.12-3.14
    "type_dictoffset": 288, "heaptype_cached_keys": 880,
    # §2 gc.garbage note: list ob_item@24 in all versions
    "list_item": 24,
    # §4 strings, 3.12+
    "unicode_state": 32, "unicode_length": 16, "unicode_ascii_size": 40,
    "unicode_compact_size": 56,
    # §7 pymalloc, 3.10+
    "arena_size": 1 << 20, "pool_size": 1 << 14,
    # Measured on Debian's 3.14.10 (tools/interp, NOTES.md) by reading objects of the running
    # interpreter through ctypes: sizeof(PyCodeObject) and the interpreter's modules/sysdict are
    # its _Py_DebugOffsets; dict, dict keys, set, list and module fields are where 3.13 has them;
    # tuples cache their hash since 3.14 (ob_hash at 24), so ob_item moved to 32.
    "code_size": 216, "interp_modules": 7688, "interp_sysdict": 7672,
    # _co_firsttraceable: 1 for a code with one MAKE_CELL or COPY_FREE_VARS, 2 for two cells;
    # the frame walker needs it to skip the __init__ shim (_Py_InitCleanup) like 3.13 does.
    "code_firsttraceable": 192,
    "list_allocated": 32, "tuple_item": 32, "dict_used": 16, "dict_keys": 32, "dict_values": 40,
    "dictkeys_log2_size": 8, "dictkeys_log2_index_bytes": 9, "dictkeys_kind": 10,
    "dictkeys_nentries": 24, "dictkeys_indices": 32, "dictkeys_header_size": 32,
    "set_used": 24, "set_fill": 16, "set_mask": 32, "set_table": 40, "module_dict": 16,
    "bytes_sval": 32,
    # Retention chains (analysis/refs.c), measured on Debian's 3.14.10 and 3.15.2 by finding
    # id(referent) inside the referrer's memory (ctypes.string_at) for a cell, function, bound
    # method, deque block, lru_cache wrapper, slot descriptor, code object, generator frame,
    # classmethod/staticmethod, partial, builtin method, property, exception, traceback, Future,
    # Task and TaskStepMethWrapper; the same probe on pyenv 3.13.0 gave exactly its DWARF numbers.
    # Everything is where 3.13 has it except _asyncio's TaskObj, 8 B further (3.14 added a field
    # to the future head): fut_waiter 120, coro 128, context 144.
    "cell_ref": 16, "func_code": 48, "func_globals": 16, "func_defaults": 56, "func_kwdefaults": 64,
    "func_closure": 72, "func_dict": 88, "method_func": 16, "method_self": 24,
    "deque_leftblock": 24, "deque_leftindex": 40, "deque_rightindex": 48, "dequeblock_data": 8,
    "dequeblock_rightlink": 520, "lru_cache_cache": 72, "lru_cache_func": 88, "lru_cache_dict": 136,
    "type_members": 240, "memberdescr_member": 40, "memberdef_size": 40, "memberdef_name": 0,
    "memberdef_type": 8, "memberdef_offset": 16,
    "code_nlocalsplus": 72, "code_localsplusnames": 96, "code_nlocals": 80,
    "frame_locals": 40, "frameobj_frame": 24, "long_digit": 24,
    "classmethod_callable": 16, "classmethod_dict": 24, "staticmethod_callable": 16,
    "staticmethod_dict": 24, "partial_fn": 16, "partial_args": 24, "partial_kw": 32,
    "partial_dict": 40, "cfunction_self": 24, "property_get": 16, "property_set": 24,
    "property_del": 32, "property_doc": 40,
    "gen_iframe": 72, "gen_frame_state": 67,  # also _Py_DebugOffsets gen_object
    "exc_args": 24, "exc_notes": 32, "exc_traceback": 40, "exc_context": 48, "exc_cause": 56,
    "tb_next": 16, "tb_frame": 24,
    "future_loop": 16, "future_callback0": 24, "future_context0": 32, "future_callbacks": 40,
    "future_exception": 48, "future_result": 64, "task_fut_waiter": 120, "task_coro": 128,
    "task_context": 144, "taskstep_task": 16, "taskstep_arg": 24,
}

# 3.14.0-3.14.4 (incremental GC): §2 column "3.14.0-3.14.4".  The gc struct is 24 B smaller, so
# every PyInterpreterState field after `gc` differs from 3.14.5+ by an amount the reference
# only implies: those (gil holder, obmalloc) are NONE here rather than guessed.
REFERENCE_3_14_INCREMENTAL = dict(REFERENCE_3_14)
REFERENCE_3_14_INCREMENTAL.update({
    "interp_gil_last_holder": None, "interp_obmalloc": None,
    "interp_modules": None, "interp_sysdict": None,  # after `gc`: taken from _Py_DebugOffsets
    "gc_size": 240, "gc_generations": 24,  # young@24, old[0]@48, old[1]@72: same stride 24
    "gc_generation0": None, "gc_permanent_generation": 96, "gc_generation_stats": 120,
    "gc_collecting": 192, "gc_garbage": 200, "gc_callbacks": 208,
    "gc_long_lived_total": None, "gc_long_lived_pending": None,
})

# 3.15 (Debian sid 3.15.2, tools/interp/NOTES.md): interpreter, thread, frame, code, type and
# object offsets are its _Py_DebugOffsets (python.c takes them at run time too); the rest was
# measured on the running 3.15.2 (ctypes / /proc/self/mem, livecheck.py): type fields up to
# tp_mro where 3.14 has them (sizeof grew at the end: 424), allocators.standard.obj at +1088,
# interpreters.main = head + 8, _co_firsttraceable 192 as in 3.14, containers as in 3.14.
# The GC state was rewritten: no trash fields, enabled/debug at 0/4, generations at 8, and
# generation_stats is a *pointer* to three rings of 64-byte records (young items[11] @0 with its
# int8 index @704, old[0] items[3] @712 index @904, old[1] items[3] @912 index @1104); records
# are cumulative {ts_start, ts_stop, collections @16, collected @24, uncollectable @32,
# candidates @40, duration (double s) @48, heap_size @56}; gc.get_stats()[g] = items[index].
REFERENCE_3_15 = dict(REFERENCE_3_14)
REFERENCE_3_15.update({
    "runtime_interpreters_head": 936, "runtime_interpreters_main": 944,
    "runtime_allocators_obj": 1088,
    "interp_next": 7264, "interp_threads_head": 7336, "interp_gc": 7400,
    "interp_gil_last_holder": 7744, "interp_obmalloc": None,
    "interp_modules": 7592, "interp_sysdict": 7576,
    "gc_size": 176, "gc_enabled": 0, "gc_debug": 4, "gc_generations": 8,
    "gc_generation0": 168, "gc_permanent_generation": 80, "gc_generation_stats": 104,
    "gc_stats_size": 64, "gc_stats_collections": 16, "gc_stats_collected": 24,
    "gc_stats_uncollectable": 32, "gc_stats_duration": 48,
    "gc_stats_ring_young": 0, "gc_stats_index_young": 704, "gc_stats_ring_len_young": 11,
    "gc_stats_ring_old0": 712, "gc_stats_index_old0": 904,
    "gc_stats_ring_old1": 912, "gc_stats_index_old1": 1104, "gc_stats_ring_len_old": 3,
    "gc_collecting": 112, "gc_garbage": 128, "gc_callbacks": 136,
    "gc_long_lived_total": 152, "gc_long_lived_pending": 160,
    "tstate_thread_id": 176, "tstate_native_thread_id": 184,
    "heaptype_name": 864, "heaptype_qualname": 880, "heaptype_module": 896,
    "heaptype_cached_keys": 888,
})

# ---------------------------------------------------------------------------------------------
# Numbers stated in shared/reference/cpython-internals.md, per minor, for validation only.
# ---------------------------------------------------------------------------------------------
_GC_38 = {"gc_enabled": 12, "gc_debug": 16, "gc_generations": 24, "gc_generation_size": 24,
          "gc_gen_threshold": 16, "gc_gen_count": 20, "gc_generation0": 96,
          "gc_permanent_generation": 104, "gc_generation_stats": 128, "gc_collecting": 200,
          "gc_garbage": 208, "gc_callbacks": 216, "gc_long_lived_total": 224,
          "gc_long_lived_pending": 232, "gc_size": 240, "gc_stats_size": 24, "gc_head_size": 16}
_TYPE = {"type_name": 24, "type_basicsize": 32, "type_itemsize": 40, "type_flags": 168,
         "type_base": 256, "type_dict": 264, "type_mro": 344, "object_type": 8, "list_item": 24,
         "varobject_size": 16}
_ARENA_OLD = {"arena_size": 256 << 10, "pool_size": 4 << 10}
_ARENA_NEW = {"arena_size": 1 << 20, "pool_size": 1 << 14}
_UNI_OLD = {"unicode_length": 16, "unicode_state": 32, "unicode_ascii_size": 48,
            "unicode_compact_size": 72}
_UNI_NEW = {"unicode_length": 16, "unicode_state": 32, "unicode_ascii_size": 40,
            "unicode_compact_size": 56}


def _m(*dicts):
    r = {}
    for d in dicts:
        r.update(d)
    return r


REFERENCE = {
    6: _m({"gc_head_size": 32, "gc_generation_size": 48,
           "code_argcount": 16, "code_flags": 32, "code_firstlineno": 36, "code_filename": 96,
           "code_name": 104, "code_linetable": 112,
           "heaptype_name": 832, "heaptype_qualname": 848}, _ARENA_OLD, _UNI_OLD),
    7: _m({"runtime_gc": 320, "runtime_interpreters_head": 24, "runtime_interpreters_main": 32,
           "runtime_tstate_current": 1480, "gc_head_size": 32,
           "gc_enabled": 12, "gc_debug": 16, "gc_generations": 32, "gc_generation_size": 48,
           "gc_gen_threshold": 32, "gc_gen_count": 36, "gc_generation0": 176,
           "gc_permanent_generation": 192, "gc_generation_stats": 240, "gc_collecting": 312,
           "gc_garbage": 320, "gc_callbacks": 328, "gc_long_lived_total": 336,
           "gc_long_lived_pending": 344, "gc_size": 352,
           "code_argcount": 16, "code_flags": 32, "code_firstlineno": 36, "code_filename": 96,
           "code_name": 104, "code_linetable": 112,
           "heaptype_name": 832, "heaptype_qualname": 848}, _ARENA_OLD, _UNI_OLD),
    8: _m(_GC_38, _TYPE, _ARENA_OLD, _UNI_OLD,
          {"runtime_gc": 344, "runtime_interpreters_head": 32, "runtime_interpreters_main": 40,
           "runtime_tstate_current": 1368, "interp_next": 0, "interp_threads_head": 8,
           "tstate_prev": 0, "tstate_next": 8, "tstate_interp": 16, "tstate_frame": 24,
           "tstate_thread_id": 176, "frame_previous": 24, "frame_code": 32, "frame_lasti": 104,
           "frame_lineno": 108, "code_argcount": 16, "code_flags": 36, "code_firstlineno": 40,
           "code_filename": 104, "code_name": 112, "code_linetable": 120,
           "heaptype_name": 848, "heaptype_qualname": 864}),
    9: _m(_GC_38, _TYPE, _ARENA_OLD, _UNI_OLD,
          {"runtime_interpreters_head": 32, "runtime_interpreters_main": 40,
           "runtime_tstate_current": 568, "interp_next": 0, "interp_threads_head": 8,
           "interp_gc": 616, "tstate_prev": 0, "tstate_next": 8, "tstate_interp": 16,
           "tstate_frame": 24, "tstate_thread_id": 176, "frame_previous": 24, "frame_code": 32,
           "frame_lasti": 104, "frame_lineno": 108, "code_argcount": 16, "code_flags": 36,
           "code_firstlineno": 40, "code_filename": 104, "code_name": 112,
           "code_linetable": 120, "heaptype_name": 840, "heaptype_qualname": 856,
           "heaptype_module": 872}),
    10: _m(_GC_38, _TYPE, _ARENA_NEW, _UNI_OLD,
           {"runtime_interpreters_head": 32, "runtime_interpreters_main": 40,
            "runtime_tstate_current": 568, "interp_next": 0, "interp_threads_head": 8,
            "interp_gc": 616, "tstate_prev": 0, "tstate_next": 8, "tstate_interp": 16,
            "tstate_frame": 24, "tstate_thread_id": 176, "frame_previous": 24, "frame_code": 32,
            "frame_lasti": 96, "frame_lineno": 100, "code_argcount": 16, "code_flags": 36,
            "code_firstlineno": 40, "code_filename": 104, "code_name": 112,
            "code_linetable": 120, "heaptype_name": 848, "heaptype_qualname": 864,
            "heaptype_module": 880}),
    11: _m(_GC_38, _TYPE, _ARENA_NEW, _UNI_OLD,
           {"runtime_interpreters_head": 40, "runtime_interpreters_main": 48,
            "runtime_tstate_current": 576, "interp_next": 0, "interp_threads_head": 16,
            "interp_gc": 648, "tstate_prev": 0, "tstate_next": 8, "tstate_interp": 16,
            "tstate_frame": 56, "cframe_current_frame": 8, "tstate_thread_id": 152,
            "tstate_native_thread_id": 160, "frame_code": 32, "frame_previous": 48,
            "frame_lasti": 56, "frame_owner": 69, "frame_localsplus": 72,
            "code_argcount": 56, "code_flags": 48, "code_firstlineno": 72, "code_filename": 112,
            "code_name": 120, "code_qualname": 128, "code_linetable": 136,
            "code_code_adaptive": 184, "heaptype_name": 848, "heaptype_qualname": 864,
            "heaptype_module": 880}),
    12: _m(_GC_38, _TYPE, _ARENA_NEW, _UNI_NEW,
           {"runtime_interpreters_head": 40, "runtime_interpreters_main": 48,
            "runtime_tstate_current": None, "runtime_allocators_obj": 176,
            "interp_next": 0, "interp_threads_head": 72, "interp_gc": 112,
            "interp_gil_last_holder": 1048, "interp_obmalloc": 3960,
            "tstate_prev": 0, "tstate_next": 8, "tstate_interp": 16,
            "tstate_frame": 56, "cframe_current_frame": 0, "tstate_thread_id": 136,
            "tstate_native_thread_id": 144, "frame_code": 0, "frame_previous": 8,
            "frame_lasti": 56, "frame_owner": 70, "frame_localsplus": 72,
            "code_argcount": 52, "code_flags": 48, "code_firstlineno": 68, "code_filename": 112,
            "code_name": 120, "code_qualname": 128, "code_linetable": 136,
            "code_code_adaptive": 192, "heaptype_name": 856, "heaptype_qualname": 872,
            "heaptype_module": 888}),
    13: _m(_GC_38, _TYPE, _ARENA_NEW, _UNI_NEW,
           {"runtime_interpreters_head": 632, "runtime_interpreters_main": 640,
            "runtime_tstate_current": None, "runtime_allocators_obj": 784,
            "interp_next": 7264, "interp_threads_head": 7344, "interp_gc": 7400,
            "interp_gil_last_holder": 7760, "interp_obmalloc": 10800,
            "tstate_prev": 0, "tstate_next": 8, "tstate_interp": 16, "tstate_frame": 72,
            "cframe_current_frame": None, "tstate_thread_id": 152,
            "tstate_native_thread_id": 160, "frame_code": 0, "frame_previous": 8,
            "frame_lasti": 56, "frame_owner": 70, "frame_localsplus": 72,
            "code_argcount": 52, "code_flags": 48, "code_firstlineno": 68, "code_filename": 112,
            "code_name": 120, "code_qualname": 128, "code_linetable": 136,
            "code_code_adaptive": 200, "heaptype_name": 856, "heaptype_qualname": 872,
            "heaptype_module": 888, "obmalloc_arenas": 512, "obmalloc_maxarenas": 520,
            "obmalloc_narenas_allocated": 1064}),
}


def validate(minor, vals):
    """Disagreements between DWARF numbers and the reference document, as strings."""
    out = []
    for field, want in sorted(REFERENCE.get(minor, {}).items()):
        got = vals.get(field)
        if got != want:
            out.append("3.%d %s: dwarf %s, reference %s" % (minor, field, got, want))
    return out


def c_value(v):
    return "LAYOUT_NONE" if v is None else str(v)


def emit_table(name, major, minor, built_from, vals, notes, comment=None):
    lines = []
    if comment:
        lines += ["/*"] + [(" * " + c).rstrip() for c in comment] + [" */"]
    lines.append("static const struct py_layout %s = {" % name)
    lines.append("\t.major = %d," % major)
    lines.append("\t.minor = %d," % minor)
    lines.append("\t.built_from = \"%s\"," % built_from)
    for f in FIELDS:
        line = "\t.%s = %s," % (f, c_value(vals.get(f)))
        if f in notes:
            line += " /* %s */" % notes[f]
        lines.append(line)
    lines.append("};")
    return "\n".join(lines) + "\n"


def check_header_fields():
    """Fail loudly if layout.h and SPECS drift apart (a field nobody fills is a silent 0)."""
    with open(os.path.join(REPO, LAYOUT_H_REL)) as f:
        text = f.read()
    body = text[text.index("struct py_layout {"):]
    body = body[:body.index("};")]
    header = re.findall(r"int32_t\s+(\w+)\s*;", body)
    if header != FIELDS:
        missing = sorted(set(header) - set(FIELDS))
        extra = sorted(set(FIELDS) - set(header))
        sys.exit("gen_layouts: layout.h and SPECS differ: missing %s, unknown %s (order must "
                 "match too)" % (missing, extra))


def read_extensions(raw, prefix, libdir, gdb_bin):
    """The fields of extension modules (EXTENSION_FIELDS) from the DWARF of prefix/lib/libdir/
    lib-dynload/<pattern> into raw: the interpreter's own DWARF does not have those structs."""
    for pattern in sorted(set(EXTENSION_FIELDS.values())):
        sos = sorted(glob.glob(os.path.join(prefix, "lib", libdir, "lib-dynload", pattern)))
        if not sos:
            continue
        ext = run_gdb(sos[0], gdb_bin)
        for f, pat in EXTENSION_FIELDS.items():
            if pat == pattern:
                raw[f] = ext.get(f)


def generate(pyenv_root, gdb_bin, ft_build=None):
    check_header_fields()
    builds = find_builds(pyenv_root)
    if not builds:
        return None, {}, []
    tables, raw_all, problems = [], {}, []
    for major, minor, patch, path in builds:
        raw = run_gdb(path, gdb_bin)
        prefix = os.path.dirname(os.path.dirname(path))  # .../versions/X.Y.Z from lib/ or bin/
        read_extensions(raw, prefix, "python%d.%d" % (major, minor), gdb_bin)
        vals, notes = to_table(raw, (major, minor, patch))
        raw_all["%d.%d" % (major, minor)] = {"version": "%d.%d.%d" % (major, minor, patch),
                                              "path": path, "fields": vals, "raw": raw}
        problems += validate(minor, vals)
        tables.append(("layout_%d_%d" % (major, minor), major, minor,
                       "dwarf %d.%d.%d" % (major, minor, patch), vals, notes, None))
    notes14 = {"gc_size": "3.14.5+ generational layout (reference §2)"}
    tables.append(("layout_3_14", 3, 14, "reference 3.14.7 (3.14.5+), not dwarf",
                   REFERENCE_3_14, notes14,
                   ["3.14.5+ (generational GC again, gh-142516): NOT from DWARF -- no 3.14 build",
                    "was available.  Transcribed from shared/reference/cpython-internals.md",
                    "(3.14.7); fields it does not give are LAYOUT_NONE.  python.c must confirm",
                    "these against the target's _Py_DebugOffsets (gc.size == 264) at run time."]))
    tables.append(("layout_3_14_incremental", 3, 14,
                   "reference 3.14.0-3.14.4 incremental gc, not dwarf",
                   REFERENCE_3_14_INCREMENTAL, {"gc_generations": "young, old[0], old[1]"},
                   ["3.14.0-3.14.4 (incremental GC): NOT from DWARF, from the reference's §2",
                    "column.  Distinguished from layout_3_14 by _Py_DebugOffsets gc.size == 240;",
                    "layout__find(3, 14) returns layout_3_14, so callers of this one scan",
                    "py_layouts for minor 14 with the matching gc_size.  Interpreter fields",
                    "after `gc` move by -24 B relative to 3.14.5+ and are left NONE; the other",
                    "fields are the 3.14.7 ones, assuming (as CPython promises within a minor)",
                    "that only the gc struct changed between 3.14.4 and 3.14.5."]))
    if ft_build:
        # The free-threaded 3.13 of tools/interp (DWARF, -g -O3): +16 on every object field
        # (ob_tid, flags, mutex, gc bits, ob_ref_local, ob_ref_shared before ob_type), no
        # PyGC_Head in front of objects (the type is still in DWARF: NONE here on purpose).
        raw = run_gdb(ft_build, gdb_bin)
        # _asyncio is an extension there too (lib/python3.13t/lib-dynload)
        read_extensions(raw, os.path.dirname(os.path.dirname(ft_build)), "python3.13t", gdb_bin)
        vals, notes = to_table(raw, (3, 13, 5))
        vals["free_threaded"] = 1
        vals["gc_head_size"] = vals["gc_head_next"] = vals["gc_head_prev"] = None
        notes["gc_head_size"] = "free-threaded: no PyGC_Head (objects live in mimalloc heaps)"
        raw_all["3.13t"] = {"version": "3.13.5t", "path": ft_build, "fields": vals, "raw": raw}
        tables.append(("layout_3_13t", 3, 13, "dwarf 3.13.5t (free-threaded, tools/interp py313t)",
                       vals, notes, None))
    tables.append(("layout_3_15", 3, 15, "debug offsets + measured 3.15.2, not dwarf",
                   REFERENCE_3_15, {"gc_generation_stats": "a pointer to the stats rings (3.15)"},
                   ["3.15: NOT from DWARF (no 3.15 build with debug info here).  Debian sid",
                    "3.15.2's _Py_DebugOffsets plus offsets measured on the running 3.15.2",
                    "(tools/interp/NOTES.md, REFERENCE_3_15 in tools/gen_layouts.py)."]))

    cmd = "/usr/bin/python3 tools/gen_layouts.py"
    srcs = ", ".join("%d.%d.%d" % b[:3] for b in builds)
    out = ["/* SPDX-License-Identifier: BSD-2-Clause */",
           "/* Per-minor CPython layout tables: GENERATED by tools/gen_layouts.py, do not edit. */",
           "/*",
           " * Regenerate with:  %s" % cmd,
           " * Check with:       %s --check" % cmd,
           " *",
           " * Built from DWARF (gdb -batch -nx, gdb.lookup_type/.fields/bitpos/sizeof) of the pyenv",
           " * builds %s" % srcs,
           " * (x86_64, GIL, shared libpython);",
           " * 3.14 tables are transcribed from shared/reference/cpython-internals.md, not DWARF.",
           " * LAYOUT_NONE: the member does not exist in that version (or is not known, 3.14).",
           " *",
           " * 3.6 has no _PyRuntime and keeps the GC state in module statics of",
           " * Modules/gcmodule.c: runtime_* / interp_gc / gc_* struct offsets are NONE there and a",
           " * reader must start from the exported _PyGC_generation0 (= &generations[0].head);",
           " * gc_generation_size / gc_gen_* / gc_stats_* still describe the static arrays.",
           " * arena_size / pool_size come from a version rule (macros are not in DWARF): 256 KiB /",
           " * 4 KiB up to 3.9, 1 MiB / 16 KiB from 3.10 (ARENA_BITS 20, POOL_BITS 14).",
           " */",
           "",
           "#include <stddef.h>",
           "",
           "#include \"target/layout.h\"",
           ""]
    for t in tables:
        name, major, minor, built_from, vals, notes, comment = t
        out.append(emit_table(name, major, minor, built_from, vals, notes, comment))
    out.append("const struct py_layout *const py_layouts[] = {")
    for t in tables:
        out.append("\t&%s," % t[0])
    out.append("\tNULL,")
    out.append("};")
    return "\n".join(out) + "\n", raw_all, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="regenerate in memory; exit 1 with a diff if %s differs" % OUT_REL)
    ap.add_argument("--json", action="store_true", help="print the raw numbers as JSON and exit")
    ap.add_argument("--pyenv-root", default=os.environ.get("PYENV_ROOT", "/root/.pyenv"))
    ap.add_argument("--gdb", default="gdb")
    ap.add_argument("--ft-build", default=os.path.join(os.environ.get("PYLEAK_INTERP_CACHE", "/var/cache/pyleak/interp"),
                                                       "py313t", "bin", "python3.13t"),
                    help="free-threaded 3.13 with DWARF (tools/interp/fetch.sh py313t)")
    ap.add_argument("-o", "--output", default=os.path.join(REPO, OUT_REL))
    args = ap.parse_args()

    if not os.path.exists(args.ft_build):
        print("gen_layouts: %s missing: run tools/interp/fetch.sh py313t (the 3.13t table needs it)"
              % args.ft_build, file=sys.stderr)
        return 1
    text, raw_all, problems = generate(args.pyenv_root, args.gdb, args.ft_build)
    if text is None:
        if args.check:
            print("gen_layouts: no pyenv builds under %s, check skipped" % args.pyenv_root,
                  file=sys.stderr)
            return 0
        print("gen_layouts: no pyenv builds 3.6-3.13 under %s" % args.pyenv_root,
              file=sys.stderr)
        return 1
    for p in problems:
        print("gen_layouts: differs from reference: %s" % p, file=sys.stderr)
    if args.json:
        json.dump(raw_all, sys.stdout, indent=1, sort_keys=True)
        print()
        return 0
    if args.check:
        try:
            with open(args.output) as f:
                old = f.read()
        except OSError as e:
            print("gen_layouts: cannot read %s: %s" % (args.output, e), file=sys.stderr)
            return 1
        if old == text:
            return 0
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                   args.output, "regenerated"))
        print("gen_layouts: %s is stale; run tools/gen_layouts.py" % args.output,
              file=sys.stderr)
        return 1
    tmp = args.output + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
