# SPDX-License-Identifier: BSD-2-Clause
"""Run WORKLOAD with objgraph.show_growth(file=devnull) called every second in a daemon thread.

    python with_objgraph.py [--every SECONDS] WORKLOAD.py [ARGS...]

The objgraph alternative a user reaches for (code added to the target); a thin front end to
launch.py --objgraph, which the harness uses directly (together with its --gate).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import launch  # noqa: E402

if __name__ == "__main__":
    argv = sys.argv[1:]
    every = "1"
    if argv[:1] == ["--every"]:
        every, argv = argv[1], argv[2:]
    sys.exit(launch.main(["--objgraph", every, "--"] + argv))
