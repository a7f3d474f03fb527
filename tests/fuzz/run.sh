#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Build the libFuzzer harnesses of pyleak's parsers of untrusted input and run each for a bounded time.
#
#   tests/fuzz/run.sh [SECONDS] [HARNESS...]     (default 60 s each; all harnesses)
#
# Harnesses: fuzz_gcstate (target memory -> GC state, pyobj readers, census walk), fuzz_elf
# (interpreter binaries), fuzz_proc (/proc text), fuzz_trace (trace files), fuzz_trace_rows
# (a valid trace schema with fuzzed rows through every loader, report format and the replay
# views), fuzz_escape (target names through every escaper of util/escape), fuzz_mallocheap (a
# glibc heap: chunks, arenas, tcache and fastbin lists through analysis/mallocheap.c).
# The trace harnesses are seeded with traces written by pyleak's own recorder (seed_trace.c: no
# root, no BPF, deterministic), so a clean clone reaches the loaders from the first run.
# At the end, one line per harness with its coverage (libFuzzer's "cov:" edges).
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
PYTHON_SEED=${PYTHON:-/usr/bin/python3}
CC_HOST=${CC:-cc}
PYTHON_HOST=${PYTHON:-/usr/bin/python3}
JOBS=${FUZZ_JOBS:-1}
mkdir -p "$OUT"
cd "$ROOT"

CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -std=gnu11 -D_GNU_SOURCE -Wall -Wno-unused-parameter -I$SRC/.output -I$SRC/userspace -I$SRC -I$SRC/bpf -DPYLEAK_VERSION=\"fuzz\""
U=$SRC/userspace
TARGET_SRCS="$U/target/python.c $U/target/debug_offsets.c $U/target/features.c $U/target/remote.c $U/target/elffile.c
	$U/target/proc.c $U/target/layout.c $U/target/layouts_gen.c"
UTIL_SRCS="$U/util/common.c $U/util/escape.c"
TRACE_SRCS=$(echo "$U"/trace/*.c "$U"/views/view_*.c "$U"/model/*.c "$U"/util/*.c "$U"/target/*.c)
declare -A SRCS=(
	[fuzz_gcstate]="$TARGET_SRCS $U/target/pyobj.c $U/analysis/census.c $U/analysis/census_ft.c $U/analysis/arenas.c $U/target/smaps.c $UTIL_SRCS"
	[fuzz_elf]="$U/target/elffile.c $UTIL_SRCS"
	[fuzz_proc]="$U/target/proc.c $UTIL_SRCS"
	[fuzz_memory]="$U/analysis/arenas.c $U/target/smaps.c $U/target/proc.c $U/target/remote.c $UTIL_SRCS"
	# The trace harnesses take whole folders (what a trace can reach: the reader, the recorder, the
	# report and batch views, the model and what they call), so a new file in them needs no edit here.
	[fuzz_trace]="$TRACE_SRCS"
	[fuzz_trace_rows]="$TRACE_SRCS"
	[fuzz_escape]="$UTIL_SRCS"
	[fuzz_mallocheap]="$U/analysis/mallocheap.c $U/target/remote.c $U/target/elffile.c $UTIL_SRCS"
)
declare -A LIBS=([fuzz_gcstate]="-lm" [fuzz_elf]="-lm" [fuzz_proc]="-lm" [fuzz_memory]="-lm"
	[fuzz_trace]="-lsqlite3 -lm" [fuzz_trace_rows]="-lsqlite3 -lm" [fuzz_escape]="-lm" [fuzz_mallocheap]="-lm")
declare -A MAXLEN=([fuzz_gcstate]=32768 [fuzz_elf]=65536 [fuzz_proc]=8192 [fuzz_memory]=65536 [fuzz_trace]=131072
	[fuzz_trace_rows]=8192 [fuzz_escape]=4096 [fuzz_mallocheap]=65536)

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
	harnesses=(fuzz_gcstate fuzz_elf fuzz_proc fuzz_memory fuzz_trace fuzz_trace_rows fuzz_escape fuzz_mallocheap)
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

seed_memory() {
	local d=$1 f
	mkdir -p "$d"
	head -c 60000 /proc/self/smaps > "$d/self-smaps"
	for f in /proc/[0-9]*/maps; do
		grep -q python "$f" 2>/dev/null && { head -c 60000 "${f%maps}smaps" > "$d/python-smaps"; break; }
	done
	# pymalloc images: three carved 4 KiB pools (arena index 5) and two 16 KiB ones (index 9)
	"$PYTHON_HOST" - "$d" <<'PY'
import struct, sys
def pool(addr, psz, szidx, idx, used):
    size = (szidx + 1) * 16
    carved = min(used + 1, (psz - 48) // size)
    b = bytearray(psz)
    fb = addr + 48 + used * size if used < carved else 0
    struct.pack_into("<QQQQIIII", b, 0, used, fb, 0, 0, idx, szidx, 48 + carved * size, psz - size)
    return bytes(b)
base = 0x7f0000000000
open(sys.argv[1] + "/pools-4k", "wb").write(b"".join(pool(base + i * 4096, 4096, i, 5, 3 + i) for i in range(3)))
open(sys.argv[1] + "/pools-16k", "wb").write(b"".join(pool(base + i * 16384, 16384, 2 * i, 9, 40) for i in range(2))[:65536])
PY
}

# Valid traces written by the recorder itself from synthetic snapshots (basic, hostile names,
# invalid GC state and exited processes, empty), in 512-byte pages; plus SQLite's bare header.
seed_mallocheap() {
	local d=$1
	mkdir -p "$d"
	# this machine's own heap: a real glibc [heap] (tcache first, safe-linked lists), cut to 48 KiB,
	# with the 9-byte header naming [heap] = the whole image and libc data = its last 4 KiB
	"$PYTHON_SEED" - "$d" <<'PY'
import struct, sys
d = sys.argv[1]
for l in open("/proc/self/maps"):
    if l.rstrip().endswith("[heap]"):
        s, e = (int(x, 16) for x in l.split()[0].split("-"))
        with open("/proc/self/mem", "rb") as m:
            m.seek(s)
            img = m.read(min(e - s, 49152))
        n = len(img) // 16
        for flags in (0, 1, 3, 5):
            hdr = bytes([flags]) + struct.pack("<HHHH", 0, min(n, 65535), max(n - 256, 0), 256)
            open("%s/heap-%d" % (d, flags), "wb").write(hdr + img)
        break
PY
}

seed_trace() {
	local d=$1
	mkdir -p "$d"
	# shellcheck disable=SC2086
	"$CC_HOST" -std=gnu11 -D_GNU_SOURCE -I"$SRC/.output" -I"$U" -I"$SRC" -I"$SRC/bpf" -DPYLEAK_VERSION=\"seed\" \
		-o "$OUT/seed_trace" tests/fuzz/seed_trace.c "$U/trace/record.c" $UTIL_SRCS "$U/model/gcstats.c" \
		$TARGET_SRCS -lsqlite3 -lm && "$OUT/seed_trace" "$d" || return 1
	printf 'SQLite format 3\0' > "$d/header"
}

# Row programs for fuzz_trace_rows: the first byte's low bit adds the baseline rows; then
# (table, values...) records (see the harness).
seed_trace_rows() {
	local d=$1
	mkdir -p "$d"
	printf '\001' > "$d/baseline"
	printf '\000' > "$d/empty"
	# baseline + a types row of process 1 with a hostile name (text of 40 bytes)
	printf '\001\004\001\001\003\000\004\050\033]0;x\007\r\n\377\342\200\256<img src=x onerror=y>=1+2;a\001\000\001\005' > "$d/hostile-type"
	# baseline + a process row (id 3) and a sample of it
	printf '\001\000\001\003\001\011\001\011\001\050\004\004p\033yz\000\000\000\000\000\003\000\003\001\000\000\000\001\001\003\001\003\003\000' > "$d/process"
}

seed_escape() {
	local d=$1
	mkdir -p "$d"
	printf 'plain.name' > "$d/plain"
	printf '\033]0;pwned\007\033[2J\r\n\377\303(\342\200\256<img src=x onerror="x">=1+2;\\x1b' > "$d/hostile"
	printf '\302\233\342\201\246\360\237\230\200\355\240\200\300\233' > "$d/utf8"
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
# Coverage of every harness that ran, in one place at the end (`make fuzz` shows it last).
echo "== coverage (libFuzzer cov: edges, ft: features)"
for h in "${harnesses[@]}"; do
	line=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$OUT/$h.log" 2>/dev/null | tail -1)
	cov=$(printf '%s' "$line" | grep -oE 'cov: [0-9]+' | head -1)
	ft=$(printf '%s' "$line" | grep -oE 'ft: [0-9]+' | head -1)
	printf '  %-16s %s %s\n' "$h" "${cov:-cov: ?}" "${ft:-}"
done
exit $fail
