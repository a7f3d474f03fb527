#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Reads an interpreter's ELF file: USDT probes, _PyRuntime / .PyRuntime, and _Py_DebugOffsets decoded.

    tools/interp/pyinfo.py [--json] PYTHON_ELF...

No target is run: everything comes from the file (section headers, .dynsym/.symtab, the
.note.stapsdt notes, and the initialised bytes of _PyRuntime, whose first member is
_Py_DebugOffsets from 3.13 on). The field lists below follow
Include/internal/pycore_debug_offsets.h (3.14+) / pycore_runtime.h (3.13); a minor version
with no list here is decoded with the newest one and says so. Anchors (offsets that have not
moved in any version, such as PyObject.ob_type or PyListObject.ob_item) are checked to show
whether the field list matches the binary.
"""
import json
import struct
import sys

# ---- _Py_DebugOffsets field lists (every field uint64 after cookie[8]) -------------------

_313 = [
    ("runtime_state", "size finalizing interpreters_head"),
    ("interpreter_state", "size id next threads_head gc imports_modules sysdict builtins ceval_gil "
     "gil_runtime_state gil_runtime_state_enabled gil_runtime_state_locked gil_runtime_state_holder"),
    ("thread_state", "size prev next interp current_frame thread_id native_thread_id datastack_chunk status"),
    ("interpreter_frame", "size previous executable instr_ptr localsplus owner"),
    ("code_object", "size filename name qualname linetable firstlineno argcount localsplusnames "
     "localspluskinds co_code_adaptive"),
    ("pyobject", "size ob_type"),
    ("type_object", "size tp_name tp_repr tp_flags"),
    ("tuple_object", "size ob_item ob_size"),
    ("list_object", "size ob_item ob_size"),
    ("dict_object", "size ma_keys ma_values"),
    ("float_object", "size ob_fval"),
    ("long_object", "size lv_tag ob_digit"),
    ("bytes_object", "size ob_size ob_sval"),
    ("unicode_object", "size state length asciiobject_size"),
    ("gc", "size collecting"),
]

_314 = [
    ("runtime_state", "size finalizing interpreters_head"),
    ("interpreter_state", "size id next threads_head threads_main gc imports_modules sysdict builtins "
     "ceval_gil gil_runtime_state gil_runtime_state_enabled gil_runtime_state_locked "
     "gil_runtime_state_holder code_object_generation tlbc_generation"),
    ("thread_state", "size prev next interp current_frame thread_id native_thread_id datastack_chunk status"),
    ("interpreter_frame", "size previous executable instr_ptr localsplus owner stackpointer tlbc_index"),
    ("code_object", "size filename name qualname linetable firstlineno argcount localsplusnames "
     "localspluskinds co_code_adaptive co_tlbc"),
    ("pyobject", "size ob_type"),
    ("type_object", "size tp_name tp_repr tp_flags"),
    ("tuple_object", "size ob_item ob_size"),
    ("list_object", "size ob_item ob_size"),
    ("set_object", "size used table mask"),
    ("dict_object", "size ma_keys ma_values"),
    ("float_object", "size ob_fval"),
    ("long_object", "size lv_tag ob_digit"),
    ("bytes_object", "size ob_size ob_sval"),
    ("unicode_object", "size state length asciiobject_size"),
    ("gc", "size collecting"),
    ("gen_object", "size gi_name gi_iframe gi_frame_state"),
    ("llist_node", "next prev"),
    ("debugger_support", "eval_breaker remote_debugger_support remote_debugging_enabled "
     "debugger_pending_call debugger_script_path debugger_script_path_size"),
]

# main (3.15) as of late in its development: more thread_state and type fields, err_stackitem,
# heap_type_object, unicode compact size, and gc.frame / gc.generation_stats(_size).
_315 = [
    ("runtime_state", "size finalizing interpreters_head"),
    ("interpreter_state", "size id next threads_head threads_main gc imports_modules sysdict builtins "
     "ceval_gil gil_runtime_state gil_runtime_state_enabled gil_runtime_state_locked "
     "gil_runtime_state_holder code_object_generation tlbc_generation"),
    ("thread_state", "size prev next interp current_frame base_frame last_profiled_frame "
     "last_profiled_frame_seq thread_id native_thread_id datastack_chunk status holds_gil "
     "gil_requested current_exception exc_state"),
    ("err_stackitem", "exc_value"),
    ("interpreter_frame", "size previous executable instr_ptr localsplus owner stackpointer tlbc_index"),
    ("code_object", "size filename name qualname linetable firstlineno argcount localsplusnames "
     "localspluskinds co_code_adaptive co_tlbc"),
    ("pyobject", "size ob_type"),
    ("type_object", "size tp_name tp_repr tp_flags tp_basicsize tp_dictoffset"),
    ("heap_type_object", "size ht_cached_keys"),
    ("tuple_object", "size ob_item ob_size"),
    ("list_object", "size ob_item ob_size"),
    ("set_object", "size used table mask"),
    ("dict_object", "size ma_keys ma_values"),
    ("float_object", "size ob_fval"),
    ("long_object", "size lv_tag ob_digit"),
    ("bytes_object", "size ob_size ob_sval"),
    ("unicode_object", "size state length asciiobject_size compactunicodeobject_size"),
    ("gc", "size collecting frame generation_stats_size generation_stats"),
    ("gen_object", "size gi_name gi_iframe gi_frame_state"),
    ("llist_node", "next prev"),
    ("debugger_support", "eval_breaker remote_debugger_support remote_debugging_enabled "
     "debugger_pending_call debugger_script_path debugger_script_path_size"),
]

LAYOUTS = {(3, 13): _313, (3, 14): _314, (3, 15): _315}

# (group, field, value for a GIL build, value for a free-threaded build): offsets that are the
# same in every version 3.13-3.15, so a wrong field list shows as a mismatch here. (Not
# PyTupleObject.ob_item: 24 in 3.13, 32 from 3.14 on, which caches the hash in ob_hash.)
ANCHORS = [
    ("pyobject", "ob_type", 8, 24),
    ("tuple_object", "ob_size", 16, 32),
    ("list_object", "ob_item", 24, 40),
    ("float_object", "ob_fval", 16, 32),
    ("long_object", "lv_tag", 16, 32),
    ("bytes_object", "ob_sval", 32, 48),
    ("unicode_object", "length", 16, 32),
    ("llist_node", "next", 0, 0),
    ("llist_node", "prev", 8, 8),
    ("debugger_support", "debugger_script_path_size", 512, 512),
]


def layout_size(layout):
    return 24 + 8 * sum(len(f.split()) for _, f in layout)


# ---- ELF -------------------------------------------------------------------------------------

class Elf(object):
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        d = self.data
        if d[:4] != b"\x7fELF" or d[4] != 2 or d[5] != 1:
            raise ValueError("%s: not a little-endian ELF64 file" % path)
        (self.e_type, _, _, _, self.e_phoff, self.e_shoff, _, _, self.e_phentsize, self.e_phnum,
         self.e_shentsize, self.e_shnum, self.e_shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", d, 16)
        self.phdrs = [struct.unpack_from("<IIQQQQQQ", d, self.e_phoff + i * self.e_phentsize)
                      for i in range(self.e_phnum)]
        raw = [struct.unpack_from("<IIQQQQIIQQ", d, self.e_shoff + i * self.e_shentsize)
               for i in range(self.e_shnum)]
        strtab = raw[self.e_shstrndx]
        self.sections = []
        for s in raw:
            name = self._cstr(strtab[4] + s[0])
            self.sections.append(dict(name=name, type=s[1], flags=s[2], addr=s[3], offset=s[4],
                                      size=s[5], link=s[6], entsize=s[9]))

    def _cstr(self, off):
        end = self.data.index(b"\0", off)
        return self.data[off:end].decode("latin-1")

    def section(self, name):
        for s in self.sections:
            if s["name"] == name:
                return s
        return None

    def symbols(self, table):
        s = self.section(table)
        if s is None:
            return {}
        strs = self.sections[s["link"]]
        out = {}
        for i in range(s["size"] // 24):
            st_name, st_info, _, st_shndx, st_value, st_size = struct.unpack_from(
                "<IBBHQQ", self.data, s["offset"] + 24 * i)
            if st_name:
                out[self._cstr(strs["offset"] + st_name)] = (st_value, st_size, st_info & 0xf)
        return out

    def vaddr_bytes(self, addr, size):
        """File bytes at a virtual address (None for .bss-like memory that is not in the file)."""
        for p in self.phdrs:
            p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = p
            if p_type == 1 and p_vaddr <= addr < p_vaddr + p_filesz:
                off = p_offset + addr - p_vaddr
                return self.data[off:off + size]
        return None

    def interp(self):
        for p in self.phdrs:
            if p[0] == 3:
                return self.data[p[2]:p[2] + p[5]].rstrip(b"\0").decode()
        return None

    def usdt(self):
        out = []
        s = self.section(".note.stapsdt")
        if s is None:
            return out
        base_sec = self.section(".stapsdt.base")
        off, end = s["offset"], s["offset"] + s["size"]
        while off + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", self.data, off)
            name = self.data[off + 12:off + 12 + namesz].rstrip(b"\0")
            doff = off + 12 + ((namesz + 3) & ~3)
            desc = self.data[doff:doff + descsz]
            off = doff + ((descsz + 3) & ~3)
            if name != b"stapsdt" or ntype != 3:
                continue
            pc, base, sem = struct.unpack_from("<QQQ", desc, 0)
            provider, probe, args = desc[24:].split(b"\0")[:3]
            out.append(dict(provider=provider.decode(), name=probe.decode(), args=args.decode(),
                            pc=pc, base=base, semaphore=sem,
                            base_matches=(base_sec is not None and base_sec["addr"] == base)))
        return out


def decode(buf, minor):
    layout = LAYOUTS.get(minor)
    note = None
    if layout is None:
        newest = max(LAYOUTS)
        layout = LAYOUTS[newest]
        note = "no field list for %d.%d: decoded with the %d.%d one" % (minor + newest)
    out = {}
    off = 24
    for group, fields in layout:
        g = {}
        for f in fields.split():
            g[f] = (off, struct.unpack_from("<Q", buf, off)[0])
            off += 8
        out[group] = g
    return out, off, note


def inspect(path):
    e = Elf(path)
    r = dict(path=path, elf_type={2: "EXEC (non-PIE)", 3: "DYN (PIE or shared)"}.get(e.e_type, e.e_type),
             interp=e.interp(),
             stripped=e.section(".symtab") is None,
             debug_info=e.section(".debug_info") is not None)
    dyn = e.symbols(".dynsym")
    sym = e.symbols(".symtab")
    rt = dyn.get("_PyRuntime") or sym.get("_PyRuntime")
    r["_PyRuntime"] = dict(in_dynsym="_PyRuntime" in dyn, in_symtab="_PyRuntime" in sym,
                           addr=rt[0] if rt else None, size=rt[1] if rt else None)
    sec = e.section(".PyRuntime")
    r[".PyRuntime"] = dict(addr=sec["addr"], size=sec["size"], offset=sec["offset"]) if sec else None
    r["_Py_DebugOffsets_symbol"] = "_Py_DebugOffsets" in dyn or "_Py_DebugOffsets" in sym
    r["usdt"] = e.usdt()
    addr = rt[0] if rt else (sec["addr"] if sec else None)
    if addr is None:
        return r
    buf = e.vaddr_bytes(addr, 4096)
    if buf is None or len(buf) < 64:
        r["debug_offsets"] = None
        return r
    cookie = buf[:8]
    version, free_threaded = struct.unpack_from("<QQ", buf, 8)
    d = dict(cookie=cookie.decode("latin-1"), cookie_hex=cookie.hex(), version_hex="0x%08x" % version,
             version="%d.%d.%d%s" % (version >> 24, (version >> 16) & 0xff, (version >> 8) & 0xff,
                                     {0xa: "a", 0xb: "b", 0xc: "rc", 0xf: ""}.get((version >> 4) & 0xf, "?")
                                     + ("" if (version >> 4) & 0xf == 0xf else str(version & 0xf))),
             free_threaded=free_threaded)
    r["debug_offsets"] = d
    if cookie != b"xdebugpy":
        d["error"] = "no xdebugpy cookie: not a 3.13+ runtime"
        return r
    minor = (version >> 24, (version >> 16) & 0xff)
    fields, size, note = decode(buf, minor)
    d["struct_size"] = size
    d["fields"] = {g: {f: v for f, (o, v) in fs.items()} for g, fs in fields.items()}
    d["field_offsets"] = {g: {f: o for f, (o, v) in fs.items()} for g, fs in fields.items()}
    if note:
        d["note"] = note
    bad = []
    for g, f, gil, ft in ANCHORS:
        if g in fields and f in fields[g]:
            want = ft if free_threaded else gil
            if fields[g][f][1] != want:
                bad.append("%s.%s = %d, expected %d" % (g, f, fields[g][f][1], want))
    d["anchors_ok"] = not bad
    if bad:
        d["anchor_mismatches"] = bad
    # What follows the struct in _PyRuntimeState: the next words, to show where it ends.
    d["next_words_after_struct"] = [struct.unpack_from("<Q", buf, size + 8 * i)[0] for i in range(4)]
    return r


def print_text(r):
    print("== %s" % r["path"])
    print("  ELF %s, PT_INTERP %s, %s, %s" % (r["elf_type"], r["interp"],
          "stripped (no .symtab)" if r["stripped"] else ".symtab present",
          "DWARF present" if r["debug_info"] else "no DWARF"))
    rt = r["_PyRuntime"]
    print("  _PyRuntime: dynsym=%s symtab=%s addr=%s size=%s" % (
        rt["in_dynsym"], rt["in_symtab"], hex(rt["addr"]) if rt["addr"] else None, rt["size"]))
    s = r[".PyRuntime"]
    print("  .PyRuntime section: %s" % ("addr=%#x size=%d file offset=%#x" % (s["addr"], s["size"], s["offset"])
                                         if s else "absent"))
    print("  _Py_DebugOffsets as a symbol: %s" % r["_Py_DebugOffsets_symbol"])
    print("  USDT probes (%d):" % len(r["usdt"]))
    for p in r["usdt"]:
        print("    %s:%s  pc=%#x sem=%#x args=%r%s" % (p["provider"], p["name"], p["pc"], p["semaphore"], p["args"],
                                                    "" if p["base_matches"] else "  (.stapsdt.base MISMATCH)"))
    d = r.get("debug_offsets")
    if not d:
        print("  _Py_DebugOffsets: not readable from the file")
        return
    print("  _Py_DebugOffsets: cookie %r (%s) version %s = %s free_threaded=%d" % (
        d["cookie"], d["cookie_hex"], d["version_hex"], d["version"], d["free_threaded"]))
    if "error" in d:
        print("    " + d["error"])
        return
    if d.get("note"):
        print("    note: " + d["note"])
    print("    struct size %d; anchors %s%s" % (d["struct_size"], "ok" if d["anchors_ok"] else "MISMATCH",
                                               "" if d["anchors_ok"] else ": " + "; ".join(d["anchor_mismatches"])))
    for g, fs in d["fields"].items():
        offs = d["field_offsets"][g]
        print("    %-18s @%-3d %s" % (g, offs[next(iter(offs))],
                                     " ".join("%s=%d" % (f, v) for f, v in fs.items())))
    print("    words after the struct: %s" % d["next_words_after_struct"])


def main(argv):
    as_json = "--json" in argv
    paths = [a for a in argv if a != "--json"]
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    results = [inspect(p) for p in paths]
    if as_json:
        json.dump(results, sys.stdout, indent=1)
        print()
    else:
        for r in results:
            print_text(r)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
