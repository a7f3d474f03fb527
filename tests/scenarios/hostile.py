# SPDX-License-Identifier: BSD-2-Clause
"""hostile: every name pyleak reads is an attack on the operator's terminal, page or spreadsheet.

A leak whose every name carries terminal escape sequences (OSC 0 retitling, CSI 2J clearing),
BEL, CR, newlines, C0 bytes next to NUL (\\x01) and DEL, a C1 control (U+009B, CSI on 8-bit
terminals), invalid UTF-8, the bidi override U+202E, an HTML element with an onerror handler,
quotes, a spreadsheet formula and Prometheus exposition syntax:

  type        heap type built with type(): __module__ "=hm..." and __qualname__ "HostileType..."
              (both str with a lone surrogate, which pyleak's string reader turns into bytes that
              are not UTF-8: CPython keeps such strings as UCS-2 and pyleak encodes code units)
  containers  a module global list whose name (a key of the module's dict) is "hostile_list...",
              and an instance attribute "attr..." of the global `hostile` (a holder path
              __main__.hostile.attr...): both grow at --rate items/s, never freed
  code        the allocating function, compiled with compile() under the file name
              "/tmp/hostile_file....py" (a bytes file name: surrogateescape, invalid UTF-8) and
              renamed with code.replace(co_name=..., co_qualname=...) to "hostile_func..."
  thread      a thread named "hostile_thread..." (threading) whose kernel comm is hostile too
  comm        the process's comm, written to /proc/self/comm: 15 bytes starting with "=" (a
              formula in the CSV export's comm column), ESC [2J, BEL, CR, LF, \\xff, U+202E, "<"
  argv        whatever the caller passes after "--" (the integration test passes raw bytes)

pyleak should show every one of these names, escaped for the output it writes, and nothing
of it raw.  Truth keys: `hostile` {what: hex of the bytes pyleak reads for it}, `rate`,
`leaked` (items in each container), `expected` type `=hm....HostileType...`, `expected_all`
adds the two containers.
"""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

ESCAPES = "\x1b]0;pwned\x07\x1b[2J"
PAYLOAD = (ESCAPES + "\r\n\x01\x7f\x9b\udcff\u202e" + "<img src=x onerror=\"document.title='pwned'\">"
           + "\"'=1+2\"} 6\n# TYPE x counter")
MODULE = "=hm\x1b[1m\udcfe"
QUALNAME = "HostileType" + PAYLOAD
LIST_KEY = "hostile_list" + PAYLOAD
ATTR_KEY = "attr" + PAYLOAD
FILE_NAME = b"/tmp/hostile_file" + os.fsencode(PAYLOAD) + b".py"
FUNC_NAME = "hostile_func" + PAYLOAD
THREAD_NAME = "hostile_thread" + PAYLOAD
COMM = b"=A1\x1b[2J\x07\r\n\xff\xe2\x80\xae<"  # 15 bytes: all the kernel keeps
THREAD_COMM = b"=T\x1b]0;t\x07\xff\r"

SOURCE = "def make(lst, other, cls):\n    lst.append(cls())\n    other.append(cls())\n"


def raw(s):
    """The bytes pyleak reads for a str: its code units as UTF-8, surrogates included."""
    return s.encode("utf-8", "surrogatepass")


class Holder(object):
    pass


HostileType = type("HostileType", (object,), {"__module__": MODULE, "__qualname__": QUALNAME})
globals()[LIST_KEY] = []
hostile = Holder()
setattr(hostile, ATTR_KEY, [])


def build_make():
    ns = {}
    exec(compile(SOURCE, FILE_NAME, "exec"), ns)
    f = ns["make"]
    code = f.__code__
    if hasattr(code, "replace"):  # 3.8+
        kw = {"co_name": FUNC_NAME}
        if hasattr(code, "co_qualname"):  # 3.11+
            kw["co_qualname"] = FUNC_NAME
        f.__code__ = code.replace(**kw)
    f.__name__ = FUNC_NAME
    f.__qualname__ = FUNC_NAME
    return f


def set_comm(path, value):
    try:
        with open(path, "wb") as f:
            f.write(value)
    except (IOError, OSError):
        pass


def thread_main(stop):
    if hasattr(threading, "get_native_id"):
        set_comm("/proc/self/task/%d/comm" % threading.get_native_id(), THREAD_COMM)
    while not stop.wait(0.2):
        pass


def main():
    p = _truth.parser(__doc__, duration=0.0)
    p.add_argument("--rate", type=float, default=200.0,
                   help="leaked objects per second into each container (default %(default)s)")
    p.add_argument("extra", nargs="*", help="ignored: the test passes hostile argv after --")
    args = p.parse_args()
    set_comm("/proc/self/comm", COMM)
    make = build_make()
    leak = globals()[LIST_KEY]
    other = getattr(hostile, ATTR_KEY)
    stop = threading.Event()
    t = threading.Thread(target=thread_main, args=(stop,), name=THREAD_NAME)
    t.daemon = True
    t.start()
    type_name = raw(MODULE) + b"." + raw(QUALNAME)
    with open("/proc/self/cmdline", "rb") as f:
        cmdline = f.read()

    def extra():
        return {
            "scenario": "hostile",
            "hostile": {
                "type": type_name.hex(),
                "module": raw(MODULE).hex(),
                "qualname": raw(QUALNAME).hex(),
                "container_global": (b"__main__." + raw(LIST_KEY)).hex(),
                "container_attr": (b"__main__.hostile." + raw(ATTR_KEY)).hex(),
                "file": raw(os.fsdecode(FILE_NAME)).hex(),  # co_filename: a surrogateescape str
                "func": raw(FUNC_NAME).hex(),
                "thread": raw(THREAD_NAME).hex(),
                "thread_comm": THREAD_COMM.hex(),
                "comm": COMM.hex(),
                "cmdline": cmdline.hex(),
            },
            "expected": {"kind": "type", "name": type_name.hex()},
            "expected_all": [],
            "leaked": len(leak),
            "rate": args.rate,
        }

    _truth.setup(args, extra)
    _truth.announce("start", scenario="hostile")

    def step(i):
        make(leak, other, HostileType)

    _truth.run_paced(args.rate, args.duration, step)
    stop.set()
    _truth.idle()


if __name__ == "__main__":
    main()
