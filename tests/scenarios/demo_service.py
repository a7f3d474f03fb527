# SPDX-License-Identifier: BSD-2-Clause
"""demo_service: the bundled demo, a small standard-library HTTP service that leaks like real ones.

Endpoints (http.server with a threading mixin, on 127.0.0.1:--port; 0 = ephemeral, printed):
  GET /users/random  "fetch" a random user and cache it forever in the global dict `cache`,
                     keyed by a random id: the users-cache leak (dicts of strings, which the
                     collector does not even track: only the container's length shows it)
  GET /items         healthy churn: builds a list of item dicts, serialises it, frees it
  GET /health        "ok"
Every request also (b) creates a __main__.Connection appended to the global list _CONNECTIONS
and never removed, and (c) leaves a garbage reference cycle (__main__.RequestContext <->
__main__.Scope) for the collector: steady gen0 work, not a leak.

A built-in load thread (--load RPS, default 50; 0 = none) calls the service on its own port
with urllib, alternating /users/random and /items.  CPU use is a few percent of one core.

pyleak should show: container __main__.cache growing at RPS/2 items/s, type
__main__.Connection and container __main__._CONNECTIONS growing at RPS/s, regular gen0
collections freeing RequestContext/Scope cycles, nothing for /items.

Runs until killed by default (--duration 0).  With --duration S the load stops after S seconds,
the server shuts down, the truth is written and the process idles.
Truth keys: port, requests ({path: n}), requests_total, len_cache, len_connections,
cycles_created, containers, live, expected, expected_all, load.
"""

import json
import os
import random
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from urllib.request import urlopen

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402

cache = {}
_CONNECTIONS = []
LOCK = threading.Lock()
STATS = {"requests": {}, "cycles": 0, "load_sent": 0, "load_errors": 0}

FIRST = ["ada", "alan", "grace", "linus", "guido", "barbara", "ken", "margaret", "edsger"]
LAST = ["lovelace", "turing", "hopper", "torvalds", "van rossum", "liskov", "thompson"]
CITIES = ["Lisbon", "Oslo", "Kyoto", "Quito", "Accra", "Perth", "Tallinn", "Recife"]


class Connection(object):
    """Per-request connection record (the leak: kept in _CONNECTIONS forever)."""

    def __init__(self, peer, path):
        self.peer = peer
        self.path = path
        self.opened = time.time()
        self.log = [path]


class RequestContext(object):
    def __init__(self, path):
        self.path = path
        self.scope = None


class Scope(object):
    def __init__(self, ctx):
        self.ctx = ctx          # ctx.scope = self: a cycle only the collector frees
        self.vars = {"path": ctx.path}


def random_user(rng):
    uid = "%032x" % rng.getrandbits(128)
    first = rng.choice(FIRST)
    last = rng.choice(LAST)
    return uid, {
        "id": uid,
        "name": first.title() + " " + last.title(),
        "email": "%s.%s@example.com" % (first, last.replace(" ", "")),
        "city": rng.choice(CITIES),
        "bio": "likes " + " and ".join(rng.sample(["tea", "jazz", "go", "rust", "maps"], 2)),
    }


class Handler(BaseHTTPRequestHandler):
    server_version = "pyleak-demo/1"
    rng = random.Random(1)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        ctx = RequestContext(path)
        ctx.scope = Scope(ctx)
        conn = Connection(self.client_address, path)
        with LOCK:
            _CONNECTIONS.append(conn)
            STATS["requests"][path] = STATS["requests"].get(path, 0) + 1
            STATS["cycles"] += 1
        if path == "/users/random":
            with LOCK:
                uid, user = random_user(self.rng)
                cache[uid] = user
            self.reply(200, user)
        elif path == "/items":
            items = [{"id": i, "name": "item %d" % i, "tags": ["new", "sale"][: i % 3]}
                     for i in range(50)]
            self.reply(200, {"count": len(items), "items": items})
        elif path == "/health":
            self.reply(200, {"status": "ok"})
        else:
            self.reply(404, {"error": "not found", "path": path})

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class Server(socketserver.ThreadingMixIn, HTTPServer):
    # 3.6 has no http.server.ThreadingHTTPServer; this is what it is.  daemon_threads also keeps
    # 3.7+ ThreadingMixIn from collecting every handler thread in self._threads.
    daemon_threads = True
    allow_reuse_address = True


STOP_LOAD = threading.Event()


def load_loop(port, rps):
    paths = ["/users/random", "/items"]
    start = time.monotonic()
    done = 0
    while not STOP_LOAD.is_set():
        target = int((time.monotonic() - start) * rps)
        while done < target and not STOP_LOAD.is_set():
            try:
                r = urlopen("http://127.0.0.1:%d%s" % (port, paths[done % 2]), timeout=10)
                r.read()
                r.close()
            except Exception:
                STATS["load_errors"] += 1
            STATS["load_sent"] += 1
            done += 1
        time.sleep(0.02)


def main():
    p = _truth.parser(__doc__, duration=0.0)
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = ephemeral)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    p.add_argument("--load", type=float, default=50.0, metavar="RPS",
                   help="built-in load, requests/second (0 = none; default %(default)s)")
    args = p.parse_args()
    Handler.rng = random.Random(args.seed)

    server = Server((args.host, args.port), Handler)
    port = server.server_address[1]

    def extra():
        with LOCK:
            reqs = dict(STATS["requests"])
            n_cache = len(cache)
            n_conn = len(_CONNECTIONS)
            cycles = STATS["cycles"]
        return {
            "scenario": "demo_service",
            "port": port,
            "requests": reqs,
            "requests_total": sum(reqs.values()),
            "len_cache": n_cache,
            "len_connections": n_conn,
            "cycles_created": cycles,
            "containers": {"__main__.cache": n_cache, "__main__._CONNECTIONS": n_conn},
            "live": _truth.count_instances([Connection, RequestContext, Scope]),
            "load": args.load,
            "load_sent": STATS["load_sent"],
            "load_errors": STATS["load_errors"],
            "expected": {"kind": "container", "name": "__main__.cache"},
            "expected_all": [
                {"kind": "container", "name": "__main__.cache", "type": "dict"},
                {"kind": "type", "name": "__main__.Connection"},
                {"kind": "container", "name": "__main__._CONNECTIONS", "type": "list"},
            ],
        }

    st = threading.Thread(target=server.serve_forever, name="http-server",
                          kwargs={"poll_interval": 0.5})
    st.daemon = True
    st.start()
    _truth.setup(args, extra)
    _truth.announce("listening", scenario="demo_service", port=port,
                    url="http://%s:%d/" % (args.host, port))
    lt = None
    if args.load > 0:
        lt = threading.Thread(target=load_loop, name="load", args=(port, args.load))
        lt.daemon = True
        lt.start()
    if args.duration > 0:
        _truth.sleep(args.duration)
    else:
        while True:
            _truth.sleep(3600)
    STOP_LOAD.set()
    if lt is not None:
        lt.join()
    # Stop serving so the idle phase allocates nothing (serve_forever's poll loop would).
    server.shutdown()
    server.server_close()
    _truth.idle()


if __name__ == "__main__":
    main()
