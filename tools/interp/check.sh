#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Checks that an interpreter of the cache works: extension modules, objgraph, gc stats, and (with a prefix) that no library comes from outside it.
#
#   tools/interp/check.sh PYTHON [PREFIX]
#
# Imports every extension module of lib-dynload (a missing shared library shows here, not in a
# test run later), the modules the tests lean on, and objgraph. With PREFIX, also fails when the
# process maps a shared object from outside PREFIX.
set -euo pipefail
py=${1:?usage: check.sh PYTHON [PREFIX]}
prefix=${2:-}
exec "$py" -I - "$prefix" <<'EOF'
import importlib, os, sys, sysconfig
prefix = sys.argv[1]
failed = []
dynload = os.path.join(sysconfig.get_path("stdlib"), "lib-dynload")
names = sorted(f.split(".")[0] for f in os.listdir(dynload) if f.endswith(".so"))
for n in names:
    try:
        importlib.import_module(n)
    except ImportError as e:
        failed.append("%s: %s" % (n, e))
required = "ssl zlib json _ctypes ctypes sqlite3 decimal lzma bz2 hashlib readline uuid objgraph".split()
for n in required:
    try:
        importlib.import_module(n)
    except ImportError as e:
        failed.append("%s: %s" % (n, e))
import ctypes, gc, objgraph
ctypes.CDLL(None)
stats = gc.get_stats()
outside = []
if prefix:
    real = os.path.realpath(prefix) + os.sep
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            path = parts[5].strip() if len(parts) > 5 else ""
            if ".so" in os.path.basename(path) and not os.path.realpath(path).startswith(real):
                outside.append(path)
for f in failed:
    print("check: import failed: %s" % f, file=sys.stderr)
for p in sorted(set(outside)):
    print("check: mapped from outside %s: %s" % (prefix, p), file=sys.stderr)
print("check: %s %s: %d extension modules import, objgraph %s, gc.get_stats()[0] keys %s%s" % (
    sys.executable, sys.version.split()[0], len(names) - len(failed), objgraph.__file__,
    sorted(stats[0]), ", GIL enabled %s" % sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else ""),
    file=sys.stderr)
sys.exit(1 if failed or outside else 0)
EOF
