#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Builds CACHE/py3XX from Debian sid's binary packages of CPython 3.XX and the sid libraries they need.
#
#   tools/interp/sid.sh 3.14|3.15     (normally run by tools/interp/fetch.sh, which holds the lock)
#
# Nothing is installed into the system: the packages are fetched with `apt-get download` through a
# private apt root (CACHE/apt/sid) and unpacked with `dpkg-deb -x` into a prefix that keeps Debian's
# tree (PREFIX/usr/bin/python3.XX, PREFIX/usr/lib/python3.XX, PREFIX/usr/lib/x86_64-linux-gnu).
# The interpreter is pointed at the prefix's own glibc loader (PT_INTERP) and libraries (DT_RPATH,
# which also covers the extension modules it dlopens) with patchelf; its code, its USDT notes and
# its `.PyRuntime` section are left as they are. Debian's pure-python objgraph is unpacked into
# PREFIX/usr/lib/python3/dist-packages, which Debian's site.py puts on sys.path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"

minor=${1:?usage: sid.sh 3.14|3.15}
case "$minor" in 3.1[4-9]) ;; *) die "sid.sh: unsupported minor version '$minor'" ;; esac
name=py${minor/./}
expected=$(case "$minor" in 3.14) echo 3.14.10 ;; 3.15) echo 3.15.2 ;; esac)
prefix=$CACHE/$name
root=$CACHE/apt/sid
t0=$(now)

host_install patchelf binutils
apt_root_init "$root" sid deb
apt_root_fresh "$root"

roots=("python$minor-minimal" "libpython$minor-minimal" "libpython$minor-stdlib")
for p in "${roots[@]}"; do
	v=$(papt_candidate "$root" "$p")
	[ -n "$v" ] || die "Debian sid has no package $p (any more?): cannot make $name"
done
ver=$(papt_candidate "$root" "python$minor-minimal")
upstream=${ver%%-*}
upstream=${upstream#*:}
if [ "$upstream" != "$expected" ]; then
	warn "sid has python$minor $ver (this script was written for $expected); taking what sid has"
fi
log "$name: sid python$minor $ver"

# The libraries: every lib* (and zlib1g) package reachable through Depends/Pre-Depends (first alternative)
# from the three interpreter packages. Non-library packages (tzdata, netbase, media-types,
# debconf...) are not followed: the interpreter only needs shared objects from the prefix.
resolve_libs() {
	local -A seen=()
	local queue=("$@") next dep p
	for p in "$@"; do seen[$p]=1; done
	while [ ${#queue[@]} -gt 0 ]; do
		next=()
		while read -r dep; do
			[ -n "${seen[$dep]:-}" ] && continue
			seen[$dep]=1
			next+=("$dep")
		done < <(papt_cache "$root" depends --no-recommends --no-suggests --no-conflicts \
			--no-breaks --no-replaces --no-enhances "${queue[@]}" 2>/dev/null | awk '
			/^[^ ]/ { prevalt = 0; next }
			{
				kind = $1; isalt = (kind ~ /^\|/); sub(/^\|/, "", kind)
				if (kind != "Depends:" && kind != "PreDepends:") next
				if (!prevalt) { n = $2; sub(/:any$/, "", n); if (n ~ /^(lib|zlib1g$)/) print n }
				prevalt = isalt
			}')
		queue=(${next[@]+"${next[@]}"})
	done
	printf '%s\n' "${!seen[@]}" | sort
}
mapfile -t pkgs < <(resolve_libs "${roots[@]}")
pkgs+=(python3-objgraph)
log "$name: ${#pkgs[@]} packages: ${pkgs[*]}"

debs=$CACHE/debs/$name
rm -rf "$debs"
papt_download "$root" "$debs" "${pkgs[@]}"
log "$name: downloaded $(du -sh "$debs" | cut -f1) in $(since "$t0")s"

unpack_debs "$name" "$debs" "$prefix"

py=$prefix/usr/bin/python$minor
ld=$prefix/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
[ -x "$py" ] || die "$name: $py missing after unpacking"
[ -f "$ld" ] || die "$name: the sid loader $ld is missing after unpacking"
readelf -n "$py" >"$prefix/notes.orig"
# shellcheck disable=SC2016 # $ORIGIN is for the loader, not the shell
patchelf --set-interpreter "$ld" --force-rpath --set-rpath '$ORIGIN/../lib/x86_64-linux-gnu' "$py"
readelf -n "$py" >"$prefix/notes.patched"
cmp -s "$prefix/notes.orig" "$prefix/notes.patched" || die "$name: patchelf changed the ELF notes"
rm -f "$prefix/notes.orig" "$prefix/notes.patched"

# Checks: every extension module of lib-dynload imports, and nothing is mapped from outside the
# prefix (a library taken from the host's bookworm would mean a missing package above).
"$here/check.sh" "$py" "$prefix" || die "$name: checks failed"
if readelf -n "$py" | grep -q 'Name: gc__start'; then
	log "$name: USDT probes: $(readelf -n "$py" | sed -n 's/^ *Name: //p' | paste -sd' ')"
else
	warn "$name: $py has no USDT gc__start probe (sid changed its build?)"
fi
full=$("$py" -c 'import sys; print(sys.version.split()[0])')
stamp_write "$name" "recipe=$(recipe_of "$name")" "version=$full" "debian=$ver" "path=$py"
log "$name: ready: $py ($full, Debian $ver) in $(since "$t0")s"
