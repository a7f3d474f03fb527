#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Build the libFuzzer harnesses of pyleak's parsers of untrusted input and run each for a bounded time.
#
#   tests/fuzz/run.sh [SECONDS] [HARNESS...]     (default 60 s each; all harnesses)
#
# Harnesses: fuzz_gcstate (target memory -> GC state, pyobj readers, census walk), fuzz_elf
# (interpreter binaries), fuzz_proc (/proc text), fuzz_trace (trace files, if present).
# Each is compiled with clang -fsanitize=fuzzer,address,undefined straight from the sources it
# needs (no libpyleak.a, so it never waits for the rest of the tree), seeded from this machine
# (real /proc files, real python binaries cut to their first pages, generated images), and
# run with -max_total_time. Exit status 1 if any harness finds a crash, leak or UB report;
# reproducers are left in $FUZZ_OUT/<harness>-artifacts/ (crash-*, leak-*, timeout-*).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_EACH=${1:-60}
shift || true
OUT=${FUZZ_OUT:-$ROOT/.output/fuzz}
# FUZZ_SRC: another tree to take userspace/ from (e.g. a copy with candidate fixes)
SRC=${FUZZ_SRC:-$ROOT}
CLANG=${CLANG:-clang}
CC_HOST=${CC:-cc}
JOBS=${FUZZ_JOBS:-1}
mkdir -p "$OUT"
cd "$ROOT"

CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -std=gnu11 -D_GNU_SOURCE -Wall -Wno-unused-parameter -I$SRC/.output -I$SRC/userspace -I$SRC -I$SRC/bpf -DPYLEAK_VERSION=\"fuzz\""
U=$SRC/userspace
declare -A SRCS=(
	[fuzz_gcstate]="$U/target/python.c $U/target/remote.c $U/target/pyobj.c $U/analysis/census.c $U/target/elffile.c $U/target/proc.c $U/util/common.c $U/target/layout.c $U/target/layouts_gen.c"
	[fuzz_elf]="$U/target/elffile.c $U/util/common.c"
	[fuzz_proc]="$U/target/proc.c $U/util/common.c"
	[fuzz_trace]="$U/trace/trace.c $U/trace/report.c $U/trace/report_text.c $U/trace/report_html.c $U/trace/report_machine.c $U/util/common.c $U/util/format.c $U/model/gcstats.c"
)
declare -A LIBS=([fuzz_gcstate]="-lm" [fuzz_elf]="-lm" [fuzz_proc]="-lm"
	[fuzz_trace]="-lsqlite3 -lm")
declare -A MAXLEN=([fuzz_gcstate]=32768 [fuzz_elf]=65536 [fuzz_proc]=8192 [fuzz_trace]=131072)

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
	harnesses=(fuzz_gcstate fuzz_elf fuzz_proc)
	[ -f tests/fuzz/fuzz_trace.c ] && harnesses+=(fuzz_trace)
fi

seed_proc() {
	local d=$1 f
	mkdir -p "$d"
	for f in maps status stat cgroup; do cat /proc/self/$f > "$d/self-$f" 2>/dev/null; done
	# a python's maps (libpython, deleted files) and the container layouts cgroup.c knows
	for f in /proc/[0-9]*/maps; do
		grep -q python "$f" 2>/dev/null && { head -c 8000 "$f" > "$d/python-maps"; break; }
	done
	printf '7f1c2a000000-7f1c2a021000 r-xp 00001000 fd:01 1234 /usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0 (deleted)\n' > "$d/deleted"
	printf '00400000-00401000 r--p 00000000 00:00 0 \n' > "$d/anon"
	printf '0::/system.slice/docker-%064d.scope\n' 1 > "$d/cg-docker"
	printf '0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-%064d.scope\n' 2 > "$d/cg-k8s"
	printf '0::/machine.slice/libpod-%064d.scope/container\n' 3 > "$d/cg-podman"
	printf '12345 (py) thon) S 1 12345 12345 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100\n' > "$d/stat-paren"
	printf 'Name:\tpython3\nState:\tS (sleeping)\nTgid:\t9\nPPid:\t1\nNSpid:\t9\t1\nVmRSS:\t  1024 kB\n' > "$d/status-ns"
}

seed_elf() {
	local d=$1 b
	mkdir -p "$d"
	"$CC_HOST" -O1 -o "$d/seed-elf" tests/fuzz/seed_elf.c && strip -o "$d/seed-elf-stripped" "$d/seed-elf"
	for b in /usr/bin/python3.11 /root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0; do
		[ -f "$b" ] || continue
		head -c 4096 "$b" > "$d/$(basename "$b")-4k"
		head -c 65536 "$b" > "$d/$(basename "$b")-64k"
	done
}

seed_gcstate() {
	local d=$1
	mkdir -p "$d"
	"$CC_HOST" -std=gnu11 -I"$U" -o "$OUT/seed_gcstate" tests/fuzz/seed_gcstate.c "$U/target/layouts_gen.c" \
		"$U/target/layout.c" && "$OUT/seed_gcstate" "$d"
}

seed_trace() {
	local d=$1
	mkdir -p "$d"
	# real traces if a previous run of the integration tests left some; else SQLite's own header
	ls "$ROOT"/.output/fuzz-seeds/*.db >/dev/null 2>&1 && cp "$ROOT"/.output/fuzz-seeds/*.db "$d/"
	printf 'SQLite format 3\0' > "$d/header"
}

fail=0
for h in "${harnesses[@]}"; do
	src=tests/fuzz/$h.c
	[ -f "$src" ] || { echo "fuzz: $src missing" >&2; fail=1; continue; }
	echo "== $h: build"
	# shellcheck disable=SC2086
	if ! $CLANG $CFLAGS "$src" ${SRCS[$h]} ${LIBS[$h]} -o "$OUT/$h"; then
		echo "fuzz: $h does not build" >&2
		fail=1
		continue
	fi
	corpus=$OUT/$h-corpus
	mkdir -p "$corpus"
	"seed_${h#fuzz_}" "$OUT/$h-seeds" >/dev/null 2>&1 || true
	mkdir -p "$OUT/$h-artifacts"
	echo "== $h: run ${SECONDS_EACH}s"
	# -close_fd_mask=2: the parsers' own one-line refusals on stderr are expected noise
	# FUZZ_SEED fixes libFuzzer's random seed: CI replays the same exploration every run (a gate
	# must not depend on luck); unset, each run explores anew (make fuzz by hand, soak runs).
	( cd "$OUT/$h-artifacts" && "$OUT/$h" ${FUZZ_SEED:+-seed=$FUZZ_SEED} -max_total_time="$SECONDS_EACH" \
		-max_len="${MAXLEN[$h]}" -timeout=10 \
		-rss_limit_mb=2048 -close_fd_mask=2 -print_final_stats=1 -jobs="$JOBS" -workers="$JOBS" \
		"$corpus" "$OUT/$h-seeds" ) > "$OUT/$h.log" 2>&1
	rc=$?
	grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added)' "$OUT/$h.log" | tail -3
	if [ $rc -ne 0 ] || ls "$OUT/$h-artifacts"/crash-* "$OUT/$h-artifacts"/leak-* "$OUT/$h-artifacts"/timeout-* >/dev/null 2>&1; then
		echo "fuzz: $h FAILED (exit $rc); log $OUT/$h.log, reproducers in $OUT/$h-artifacts/" >&2
		grep -E 'ERROR: |runtime error|SUMMARY' "$OUT/$h.log" | head -5 >&2
		fail=1
	else
		echo "fuzz: $h ok"
	fi
done
exit $fail
