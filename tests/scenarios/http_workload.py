# SPDX-License-Identifier: BSD-2-Clause
"""http_workload (benchmark): a standard-library HTTP service driven as fast as possible.

A threading http.server (HTTP/1.1 keep-alive) on 127.0.0.1 serves a JSON endpoint that does
typical request work (parse the query, build dicts and lists, json.dumps); --clients client
threads (http.client, one persistent connection each) send --requests requests in total as fast
as they can.  With --client-process the clients run in a child process (this same script with
--connect PORT), so that only the server is the observed target.  Prints requests/second as one
JSON line at the end and exits (or idles with --idle).

Output: {"benchmark": "http_workload", "requests", "errors", "elapsed_s", "requests_per_s",
"clients", "client" ("thread"|"process"), "python"}.
"""

import json
import os
import platform
import socketserver
import subprocess
import sys
import threading
import time
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _truth  # noqa: E402


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK cap
    # a keep-alive connection at about 25 requests/s.
    disable_nagle_algorithm = True

    def do_GET(self):
        path, _, query = self.path.partition("?")
        params = dict(kv.split("=", 1) for kv in query.split("&") if "=" in kv)
        n = int(params.get("n", "10"))
        items = [{"id": i, "name": "item-%d" % i, "tags": ["a", "b"], "price": i * 1.5}
                 for i in range(n)]
        body = json.dumps({"path": path, "count": n, "items": items}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def client(port, count, errors, idx):
    conn = HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(count):
        try:
            conn.request("GET", "/api/items?n=10&c=%d&i=%d" % (idx, i))
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200 or not data:
                errors[idx] += 1
        except Exception:
            errors[idx] += 1
            conn.close()
            conn = HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()


def drive(port, requests, clients):
    """Run the clients in threads; return (elapsed seconds, errors)."""
    errors = [0] * clients
    per = [requests // clients + (1 if k < requests % clients else 0) for k in range(clients)]
    threads = [threading.Thread(target=client, args=(port, per[k], errors, k))
               for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, sum(errors)


def main():
    p = _truth.parser(__doc__, duration=0.0, idle_default=False,
                         duration_help="unused (fixed amount of work)")
    p.add_argument("--requests", type=int, default=5000,
                   help="requests in total (default %(default)s)")
    p.add_argument("--clients", type=int, default=1,
                   help="concurrent client connections (default %(default)s)")
    p.add_argument("--client-process", action="store_true",
                   help="run the clients in a child process")
    p.add_argument("--connect", type=int, metavar="PORT",
                   help="(internal) be the client process for the server on PORT")
    args = p.parse_args()

    if args.connect:
        elapsed, errors = drive(args.connect, args.requests, args.clients)
        print(json.dumps({"elapsed_s": elapsed, "errors": errors}))
        return

    server = Server(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    st = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5})
    st.daemon = True
    st.start()
    _truth.setup(args, lambda: {"scenario": "http_workload", "port": port,
                                "requests": args.requests})
    if args.client_process:
        child = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                                  "--connect", str(port), "--requests", str(args.requests),
                                  "--clients", str(args.clients)],
                                 stdout=subprocess.PIPE)
        out, _ = child.communicate()
        res = json.loads(out.decode().strip().splitlines()[-1])
        elapsed, errors = res["elapsed_s"], res["errors"]
    else:
        elapsed, errors = drive(port, args.requests, args.clients)
    server.shutdown()
    server.server_close()
    _truth.finish({"benchmark": "http_workload", "requests": args.requests, "errors": errors,
                   "elapsed_s": elapsed,
                   "requests_per_s": args.requests / elapsed if elapsed else None,
                   "clients": args.clients,
                   "client": "process" if args.client_process else "thread",
                   "port": port, "python": platform.python_version(), "pid": os.getpid()})


if __name__ == "__main__":
    main()
