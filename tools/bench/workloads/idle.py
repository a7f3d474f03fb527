# SPDX-License-Identifier: BSD-2-Clause
"""An idle Python process for pyleak's self-cost and scale measurements: builds a small heap
(argv[1] dicts, default 0) and then sleeps, allocating nothing."""

import sys
import time

heap = [{"k": i} for i in range(int(sys.argv[1]) if len(sys.argv) > 1 else 0)]

while True:
    time.sleep(1)
