#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# `make demo`: start the leaky demo service with its built-in load and watch the host in `pyleak top`.
#
#   sudo tools/demo.sh .output/pyleak [pyleak top options...]
#
# pyleak top shows every Python process on the host (not just the demo, with -p): the point of
# the demo is what an operator sees; the demo service's pid is printed before the view starts,
# and `/` then its pid filters down to it.  The service is stopped whenever this script ends:
# q, Ctrl-C, SIGTERM, or an error.  Overrides for testing: DEMO_PYTHON, DEMO_SERVICE, DEMO_ARGS.
set -euo pipefail

PYLEAK=${1:-.output/pyleak}
[ $# -gt 0 ] && shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${DEMO_PYTHON:-/usr/bin/python3.11}
SERVICE=${DEMO_SERVICE:-$ROOT/tests/scenarios/demo_service.py}

die() {
	echo "pyleak demo: $*" >&2
	exit 1
}

[ -x "$PYLEAK" ] || die "$PYLEAK is not built: run 'make' first"
[ -x "$PY" ] || die "$PY is missing: run 'sudo make deps'"
[ -f "$SERVICE" ] || die "$SERVICE is missing"
[ "$(id -u)" -eq 0 ] || die "pyleak needs root for BPF and reading other processes: run 'sudo make demo'"
[ -t 0 ] && [ -t 1 ] || die "the demo is interactive: run it on a terminal"

service_pid=
tmp=$(mktemp -d /tmp/pyleak-demo.XXXXXX)

stop_service() {
	trap - EXIT INT TERM
	if [ -n "$service_pid" ] && kill -0 "$service_pid" 2>/dev/null; then
		kill -TERM "$service_pid" 2>/dev/null || true
		# the scenario protocol exits on SIGTERM at once; don't leave a stuck one behind
		for _ in $(seq 30); do
			kill -0 "$service_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$service_pid" 2>/dev/null || true
		wait "$service_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
interrupted=0
trap stop_service EXIT
# Ctrl-C reaches pyleak too, which quits cleanly (exit 0); here it only has to end the demo.
trap 'interrupted=1' INT
trap 'exit 143' TERM

# The service's own options, as its --help lists them: the built-in load, run until stopped.
args=()
if [ -n "${DEMO_ARGS+x}" ]; then
	read -r -a args <<<"$DEMO_ARGS"
else
	help=$("$PY" "$SERVICE" --help 2>&1 || true)
	grep -q -- '--load' <<<"$help" && args+=(--load 50)
	grep -q -- '--duration' <<<"$help" && args+=(--duration 0)
	grep -q -- '--truth' <<<"$help" && args+=(--truth "$tmp/truth.json")
fi

# Async commands of a non-interactive shell ignore SIGINT: Ctrl-C stops pyleak, not the service
# (that is stop_service's job, so it always happens in the same place).
"$PY" "$SERVICE" "${args[@]}" >"$tmp/service.log" 2>&1 &
service_pid=$!

# Up = pyleak can see it as a CPython process with its GC state (or 15 s passed).
for _ in $(seq 150); do
	[ "$interrupted" = 1 ] && exit 130
	kill -0 "$service_pid" 2>/dev/null || {
		cat "$tmp/service.log" >&2
		die "the demo service exited before it was up"
	}
	"$PYLEAK" list -p "$service_pid" >/dev/null 2>&1 && break
	sleep 0.1
done

sleep 0.5
kill -0 "$service_pid" 2>/dev/null || {
	cat "$tmp/service.log" >&2
	die "the demo service exited at start"
}
echo "pyleak demo: demo service $(basename "$SERVICE") is pid $service_pid (log $tmp/service.log)"
echo "pyleak demo: starting 'pyleak top' on every Python process: Enter drills in, / filters, q quits"
sleep 1
status=0
"$PYLEAK" top "$@" || status=$?
exit "$status"
