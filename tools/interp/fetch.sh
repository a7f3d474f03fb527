#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Entry point: makes the extra interpreters of the integration-test matrix ready in the cache, or lists the ready ones.
#
#   tools/interp/fetch.sh [all|py314|py315|py313t|pydev]...   fetch/build what is missing (default: all)
#   tools/interp/fetch.sh --list [TARGET...]            one absolute interpreter path per line,
#                                                       only those ready; builds nothing (pydev:
#                                                       its include directory, only when named)
#   tools/interp/fetch.sh --status [TARGET...]          name, state, version, path (for people)
#
# Targets:
#   py314   CPython 3.14 from Debian sid binary packages (+ sid's glibc and libraries), patched to
#           run from CACHE/py314 on this machine: CACHE/py314/usr/bin/python3.14
#   py315   the same for 3.15: CACHE/py315/usr/bin/python3.15
#   py313t  free-threaded CPython 3.13 (--disable-gil --with-dtrace, -g, not stripped) built from
#           Debian trixie's python3.13 source package: CACHE/py313t/bin/python3.13t
#   pydev   sid's libpython3.14-dev and libpython3.15-dev headers: CACHE/pydev/usr/include (the C
#           extension tests build against them for py314/py315)
#
# CACHE is $PYLEAK_INTERP_CACHE, default /var/cache/pyleak/interp (outside the clone). Each target
# has a stamp CACHE/NAME.stamp written when it is ready; a rerun with all stamps present does
# nothing. Needs root on a fresh machine (apt-get install of patchelf and the build dependencies);
# reaches only Debian's archive, through the mirror this machine's sources list names
# (PYLEAK_DEBIAN_MIRROR overrides it). Exit status: 0 when every requested target is ready.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"

ALL=(py314 py315 py313t pydev)
INTERPRETERS=(py314 py315 py313t) # what --list prints unless asked for pydev (headers, no interpreter)
mode=fetch
targets=()
for a in "$@"; do
	case "$a" in
	--list) mode=list ;;
	--status) mode=status ;;
	-h | --help) sed -n '3,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	all) targets+=("${ALL[@]}") ;;
	py314 | py315 | py313t | pydev) targets+=("$a") ;;
	*) die "unknown argument '$a' (try --help)" ;;
	esac
done
if [ ${#targets[@]} -eq 0 ]; then
	if [ "$mode" = list ]; then targets=("${INTERPRETERS[@]}"); else targets=("${ALL[@]}"); fi
fi
# Each target once, in the order given.
mapfile -t targets < <(printf '%s\n' "${targets[@]}" | awk '!seen[$0]++')

case "$mode" in
list)
	for t in "${targets[@]}"; do
		stamp_ok "$t" "$(recipe_of "$t")" && stamp_get "$t" path
	done
	exit 0
	;;
status)
	for t in "${targets[@]}"; do
		if stamp_ok "$t" "$(recipe_of "$t")"; then
			printf '%-7s ready    %-8s %s\n' "$t" "$(stamp_get "$t" version)" "$(stamp_get "$t" path)"
		else
			printf '%-7s missing\n' "$t"
		fi
	done
	exit 0
	;;
esac

mkdir -p "$CACHE" 2>/dev/null || die "cannot create the cache $CACHE (run as root, or set PYLEAK_INTERP_CACHE)"
[ -w "$CACHE" ] || die "the cache $CACHE is not writable (run as root, or set PYLEAK_INTERP_CACHE)"
# One fetch at a time per cache: a second run waits for the first, then finds the stamps.
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
	log "another fetch holds $CACHE/.lock; waiting for it"
	flock 9
fi

t0=$(now)
failed=()
for t in "${targets[@]}"; do
	if stamp_ok "$t" "$(recipe_of "$t")"; then
		log "$t: ready (cached): $(stamp_get "$t" path)"
		continue
	fi
	t1=$(now)
	log "$t: not ready, making it"
	case "$t" in
	py314) cmd=("$here/sid.sh" 3.14) ;;
	py315) cmd=("$here/sid.sh" 3.15) ;;
	py313t) cmd=("$here/py313t.sh") ;;
	pydev) cmd=("$here/pydev.sh") ;;
	esac
	if "${cmd[@]}"; then
		log "$t: done in $(since "$t1")s"
	else
		warn "$t: FAILED after $(since "$t1")s (see the messages above)"
		failed+=("$t")
	fi
done
log "total $(since "$t0")s"
if [ ${#failed[@]} -gt 0 ]; then
	warn "not ready: ${failed[*]}"
	exit 1
fi
