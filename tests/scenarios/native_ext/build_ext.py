# SPDX-License-Identifier: BSD-2-Clause
"""Build _leaky.c for the interpreter running this script: build_ext.py OUTDIR [--include DIR] -> prints the .so path.

Uses the interpreter's own headers (sysconfig INCLUDEPY: Debian's python3.11-dev for
/usr/bin/python3.11, the pyenv prefix for pyenv builds) and its EXT_SUFFIX, with cc; no
setuptools (3.12+ has no distutils). --include DIR takes the headers from DIR/pythonX.Y instead,
with DIR itself on the path for Debian's multiarch pyconfig.h (the sid interpreters of
tools/interp, whose -dev packages fetch.sh unpacks apart: `fetch.sh --list pydev`).
Exit 2 with a message if the headers are missing.
"""

import os
import subprocess
import sys
import sysconfig


def main():
    out = sys.argv[1]
    inc = sysconfig.get_paths()["include"]
    extra = []
    if len(sys.argv) > 3 and sys.argv[2] == "--include":
        inc = os.path.join(sys.argv[3], "python%d.%d" % sys.version_info[:2])
        extra = ["-I", sys.argv[3]]
    if not os.path.exists(os.path.join(inc, "Python.h")):
        sys.stderr.write("build_ext: no Python.h in %s (install python3.X-dev)\n" % inc)
        sys.exit(2)
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    so = os.path.join(out, "_leaky" + suffix)
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_leaky.c")
    # -fno-omit-frame-pointer: deeper native frames where frame pointers allow
    subprocess.check_call(["cc", "-O2", "-g", "-fPIC", "-shared", "-fno-omit-frame-pointer",
                           "-I", inc] + extra + [src, "-o", so])
    print(so)


if __name__ == "__main__":
    main()
