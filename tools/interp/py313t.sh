#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Builds CACHE/py313t: free-threaded CPython 3.13 with USDT probes and debug info, from Debian trixie's python3.13 source package.
#
#   tools/interp/py313t.sh     (normally run by tools/interp/fetch.sh, which holds the lock)
#
# The source comes through a private apt root (CACHE/apt/trixie, `deb-src ... trixie main`) with
# `apt-get source --download-only`, which checks the files against the signed Sources index; it is
# unpacked with `dpkg-source -x --skip-patches`, i.e. the upstream tree of the orig tarball without
# Debian's patches (which assume Debian's install layout). Build dependencies come from this
# machine's own (bookworm) archive; libmpdec is the bundled copy (bookworm has no libmpdec-dev).
# Configured `--disable-gil --with-dtrace --prefix=CACHE/py313t`, default -g -O3, no PGO/LTO, not
# stripped; `make -j$(nproc)`, `make install`. Build log: CACHE/src/py313t/build.log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"

name=py313t
prefix=$CACHE/$name
root=$CACHE/apt/trixie
src=$CACHE/src/$name
t0=$(now)

host_install build-essential pkg-config dpkg-dev xz-utils patchelf binutils systemtap-sdt-dev \
	libssl-dev libffi-dev zlib1g-dev libexpat1-dev libbz2-dev liblzma-dev libsqlite3-dev \
	libncurses-dev libreadline-dev uuid-dev libgdbm-dev libgdbm-compat-dev
apt_root_init "$root" trixie deb deb-src
apt_root_fresh "$root"

ver=$(papt_cache "$root" showsrc python3.13 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n1)
[ -n "$ver" ] || die "Debian trixie has no source package python3.13"
case "$ver" in 3.13.5-*) ;; *) warn "trixie has python3.13 $ver (this script was written for 3.13.5); taking it" ;; esac
log "$name: trixie python3.13 source $ver"

rm -rf "$CACHE/$name.stamp" "$src" "$prefix"
mkdir -p "$src"
out=$(cd "$src" && retry 4 papt_get "$root" source --download-only "python3.13=$ver" 2>&1) ||
	{ printf '%s\n' "$out" | tail -n 20 >&2; die "apt-get source python3.13=$ver failed"; }
dsc=$(ls "$src"/python3.13_*.dsc)
log "$name: downloaded $(du -ch "$src"/python3.13_* | tail -n1 | cut -f1) in $(since "$t0")s; unpacking"
# The .dsc's signature is not checked here (no keyring of uploaders); apt checked the files'
# hashes against the signed Sources index of the archive.
dpkg-source --no-check -x --skip-patches "$dsc" "$src/tree" >"$src/unpack.log" 2>&1 ||
	{ tail -n 20 "$src/unpack.log" >&2; die "dpkg-source -x failed"; }

log "$name: configure --disable-gil --with-dtrace --prefix=$prefix (log: $src/build.log)"
cd "$src/tree"
t1=$(now)
build() { # build STEP CMD...: run a step into the log, show its tail if it fails
	local step=$1; shift
	echo "=== $step: $*" >>"$src/build.log"
	if ! "$@" >>"$src/build.log" 2>&1; then
		tail -n 40 "$src/build.log" >&2
		die "$name: $step failed (whole log: $src/build.log)"
	fi
}
build configure ./configure --prefix="$prefix" --disable-gil --with-dtrace \
	--without-system-libmpdec --with-ensurepip=no
grep -q '^#define WITH_DTRACE 1' pyconfig.h || die "$name: configure did not enable dtrace (systemtap-sdt-dev?)"
grep -q '^#define Py_GIL_DISABLED 1' pyconfig.h || die "$name: configure did not disable the GIL"
log "$name: configured in $(since "$t1")s; make -j$(nproc) (about 8 minutes on 2 cores)"
t1=$(now)
build make make -j"$(nproc)"
log "$name: built in $(since "$t1")s; make install"
t1=$(now)
build install make install
log "$name: installed in $(since "$t1")s"

py=$prefix/bin/python3.13t
[ -x "$py" ] || die "$name: $py missing after make install"
readelf -S "$py" | grep -q '\.debug_info' || die "$name: $py has no debug info"
readelf -n "$py" | grep -q 'Name: gc__start' || die "$name: $py has no USDT gc__start probe"
gil=$("$py" -c 'import sys; print(sys._is_gil_enabled())')
[ "$gil" = False ] || die "$name: sys._is_gil_enabled() is $gil, expected False"

# objgraph: Debian's pure-python package from trixie, unpacked beside the prefix's lib and put on
# sys.path by a .pth file in its site-packages.
papt_download "$root" "$src/debs" python3-objgraph
rm -rf "$prefix/debian-objgraph"
dpkg-deb -x "$src"/debs/python3-objgraph_*.deb "$prefix/debian-objgraph"
site=$("$py" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
echo "$prefix/debian-objgraph/usr/lib/python3/dist-packages" >"$site/debian-objgraph.pth"

"$here/check.sh" "$py" || die "$name: checks failed"
log "$name: USDT probes: $(readelf -n "$py" | sed -n 's/^ *Name: //p' | paste -sd' ')"
full=$("$py" -c 'import sys; print(sys.version.split()[0])')
stamp_write "$name" "recipe=$(recipe_of "$name")" "version=$full" "debian=$ver" "path=$py"
log "$name: ready: $py ($full, free-threaded, from Debian source $ver) in $(since "$t0")s"
