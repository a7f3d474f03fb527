#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Unpacks Debian sid's C headers of CPython 3.14 and 3.15 (libpython3.XX-dev) into CACHE/pydev, for
# the test extensions built against py314/py315 (tests/scenarios/native_ext/build_ext.py --include).
#
#   tools/interp/pydev.sh     (normally run by tools/interp/fetch.sh, which holds the lock)
#
# Kept apart from the interpreter prefixes, so fetching it never rewrites an interpreter another
# test may be running. Only the -dev packages themselves are unpacked (no libpython3.XX.so is
# needed: the extension resolves its Python symbols in the static interpreter that loads it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"

name=pydev
prefix=$CACHE/$name
root=$CACHE/apt/sid
t0=$(now)

apt_root_init "$root" sid deb
apt_root_fresh "$root"
pkgs=(libpython3.14-dev libpython3.15-dev)
for p in "${pkgs[@]}"; do
	[ -n "$(papt_candidate "$root" "$p")" ] || die "Debian sid has no package $p (any more?): cannot make $name"
done
debs=$CACHE/debs/$name
rm -rf "$debs"
papt_download "$root" "$debs" "${pkgs[@]}"
unpack_debs "$name" "$debs" "$prefix"
for m in 3.14 3.15; do
	[ -f "$prefix/usr/include/python$m/Python.h" ] || die "$name: python$m/Python.h missing after unpacking"
done
stamp_write "$name" "recipe=$(recipe_of "$name")" "version=$(awk '{print $4}' "$prefix/PACKAGES" | paste -sd,)" \
	"path=$prefix/usr/include"
log "$name: ready: $prefix/usr/include ($(paste -sd' ' "$prefix/PACKAGES")) in $(since "$t0")s"
