#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Check that userspace/'s subsystem folders include each other in one direction only.

The data flow of DESIGN.md, bottom to top:  util < target < model < probes, analysis < collect
< views, trace < cmd.  A folder may include its own headers and those of the folders listed for
it below; system headers that belong to one subsystem (ncurses to the views, SQLite to the
traces, libbpf and the BPF ABI to the probes) may appear nowhere else.  Exit 1 with every
offending `file:line: include` so the layout stays what the README says it is.

    tools/check_layers.py [ROOT]
"""
import os
import re
import sys

# folder -> folders whose headers it may include (besides its own)
ALLOWED = {
    "util": set(),
    "target": {"util"},
    "model": {"util", "target", "bpf"},  # bpf/: the ABI headers define the kernel-side formulas
    "probes": {"util", "target", "model", "bpf"},
    "analysis": {"util", "target", "model"},
    "collect": {"util", "target", "model", "probes", "analysis"},
    "views": {"util", "target", "model"},
    "trace": {"util", "target", "model"},
    "cmd": {"util", "target", "model", "probes", "analysis", "collect", "views", "trace"},
}

# system headers owned by one subsystem: header prefix -> folders that may include it
OWNED = {
    "curses.h": {"views"},
    "ncurses.h": {"views"},
    "ncursesw/": {"views"},
    "sqlite3.h": {"trace"},
    "bpf/": {"probes"},          # <bpf/libbpf.h>, <bpf/bpf.h>
    "linux/perf_event.h": {"probes"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


def check(root):
    base = os.path.join(root, "userspace")
    errors = []
    for folder in sorted(os.listdir(base)):
        path = os.path.join(base, folder)
        if not os.path.isdir(path):
            continue
        if folder not in ALLOWED:
            errors.append("userspace/%s: folder not in tools/check_layers.py's table" % folder)
            continue
        for name in sorted(os.listdir(path)):
            if not name.endswith((".c", ".h")):
                continue
            rel = "userspace/%s/%s" % (folder, name)
            with open(os.path.join(path, name), encoding="utf-8", errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    kind, hdr = m.groups()
                    if kind == '"':
                        if hdr.endswith(".skel.h"):
                            if folder != "probes":
                                errors.append("%s:%d: %s: BPF skeletons belong to probes/" % (rel, lineno, hdr))
                            continue
                        if "/" not in hdr:
                            errors.append("%s:%d: \"%s\": name the folder (\"util/common.h\")" % (rel, lineno, hdr))
                            continue
                        dep = hdr.split("/", 1)[0]
                        if dep != folder and dep not in ALLOWED[folder]:
                            errors.append("%s:%d: %s/ may not include %s (allowed: %s)" % (
                                rel, lineno, folder, hdr, ", ".join(sorted(ALLOWED[folder])) or "none"))
                    else:
                        for prefix, owners in OWNED.items():
                            if hdr.startswith(prefix) and folder not in owners and folder != "cmd":
                                errors.append("%s:%d: <%s> belongs to %s/ only" % (
                                    rel, lineno, hdr, ", ".join(sorted(owners))))
    return errors


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    errors = check(root)
    for e in errors:
        print("check-layers: " + e, file=sys.stderr)
    if errors:
        print("check-layers: %d include(s) break the layer order (tools/check_layers.py)" % len(errors),
              file=sys.stderr)
        return 1
    print("check-layers: userspace/ includes point one way")
    return 0


if __name__ == "__main__":
    sys.exit(main())
