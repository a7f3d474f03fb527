# SPDX-License-Identifier: BSD-2-Clause
"""family_flask_app: a Flask WSGI app for gunicorn families, leaking per request or not.

Not a standalone scenario: gunicorn imports it (`gunicorn --chdir tests/scenarios
family_flask_app:app`) in every worker.  FAMILY_LEAK=1 in the environment makes each request to
/ keep one family_flask_app.Session (with an 8 KiB payload, so RSS grows too) in the module-level
list _SESSIONS; without it the same Session is made and dropped, so both families allocate alike.
GET /pid answers the worker's pid, GET /stats {"pid", "sessions", "requests"}.

pyleak should show: one family per gunicorn master; with FAMILY_LEAK=1 the type
family_flask_app.Session growing in every worker that serves requests (and RSS), named for the
family; with --max-requests, the same growth in each recycled worker over its life; without
FAMILY_LEAK nothing.
"""

import json
import os
import sys

from flask import Flask

LEAK = os.environ.get("FAMILY_LEAK") == "1"
PAYLOAD = 8192

app = Flask(__name__)
_SESSIONS = []
COUNTS = {"requests": 0}


class Session(object):
    def __init__(self, n):
        self.n = n
        self.user = {"id": n, "name": "user%d" % n}
        self.payload = bytes(PAYLOAD)


@app.route("/")
def index():
    COUNTS["requests"] += 1
    s = Session(COUNTS["requests"])
    if LEAK:
        _SESSIONS.append(s)  # the leak: sessions are never dropped
    return "ok %d\n" % s.n


@app.route("/pid")
def pid():
    return "%d\n" % os.getpid()


@app.route("/stats")
def stats():
    return json.dumps({"pid": os.getpid(), "sessions": len(_SESSIONS), "requests": COUNTS["requests"]})


if __name__ == "__main__":
    if "--help" in sys.argv or "-h" in sys.argv:
        print(__doc__)
        sys.exit(0)
    sys.exit("family_flask_app is a WSGI module: run it under gunicorn (see --help)")
