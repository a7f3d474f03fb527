# SPDX-License-Identifier: BSD-2-Clause
"""An idle Python process (sleeps; allocates nothing) for pyleak's self-cost measurement."""

import time

while True:
    time.sleep(1)
