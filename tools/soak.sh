#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Long churn soak: tests/integration/test_soak.py for longer than CI's 300 s (root, BPF).
#
#   tools/soak.sh [SECONDS] [CHURN_PER_SECOND]      default 3600 s, 20 processes/s
#   PYLEAK=/path/to/pyleak tools/soak.sh 600        another build (e.g. .output-san/pyleak)
#
# Prints pyleak's RSS series and slope; fails on a crash, a message on stderr, RSS growth above
# PYLEAK_SOAK_RSS_LIMIT KiB/min (default 2048), a long-lived process missing from the output or
# the trace, or BPF objects left after exit.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PYLEAK_SOAK_SECONDS=${1:-3600}
export PYLEAK_SOAK_CHURN=${2:-20}
exec "${PYTHON:-/usr/bin/python3}" -m pytest -q -s -p no:cacheprovider "$ROOT/tests/integration/test_soak.py"
