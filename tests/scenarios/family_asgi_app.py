# SPDX-License-Identifier: BSD-2-Clause
"""family_asgi_app: a plain ASGI app for uvicorn families (`uvicorn --workers N family_asgi_app:app`).

Not a standalone scenario: uvicorn imports it in every worker.  Every request answers the worker's
pid.  pyleak should show one family of kind uvicorn: the master and N workers started by
multiprocessing's spawn (plus its helpers); no verdict.
"""

import os
import sys


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = ("%d\n" % os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    print(__doc__)
    sys.exit(0 if "--help" in sys.argv else 1)
