#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Shared helpers of tools/interp (sourced): logging, retries, the cache layout, stamps, private apt roots.

# The cache lives outside the clone so that every clone and CI run on the machine shares it.
PYLEAK_INTERP_CACHE=${PYLEAK_INTERP_CACHE:-/var/cache/pyleak/interp}
CACHE=$PYLEAK_INTERP_CACHE

log()  { printf 'interp: %s\n' "$*" >&2; }
warn() { printf 'interp: warning: %s\n' "$*" >&2; }
die()  { printf 'interp: error: %s\n' "$*" >&2; exit 1; }

# retry N CMD...: run CMD up to N times, waiting 5, 15, 30... seconds between tries.
retry() {
	local n=$1 i=1 wait=5; shift
	while :; do
		"$@" && return 0
		[ "$i" -ge "$n" ] && { warn "giving up after $n tries: $*"; return 1; }
		warn "try $i of $n failed, again in ${wait}s: $*"
		sleep "$wait"; i=$((i + 1)); wait=$((wait * 2 + 5))
	done
}

# The recipe number of each interpreter: bump it when its script changes what it produces, and the
# next run rebuilds that interpreter instead of trusting the old stamp.
recipe_of() {
	case "$1" in
	py314 | py315) echo 1 ;;
	py313t) echo 1 ;;
	pydev) echo 1 ;;
	*) return 1 ;;
	esac
}

# now: seconds since the epoch with a fraction, for the timing lines.
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Stamps: CACHE/NAME.stamp holds key=value lines (recipe, version, path). Written last and
# atomically, so an interpreter is ready exactly when its stamp exists with the current recipe.
stamp_get() { # stamp_get NAME KEY
	local f="$CACHE/$1.stamp"
	[ -f "$f" ] || return 1
	sed -n "s/^$2=//p" "$f" | head -n1
}
stamp_ok() { # stamp_ok NAME RECIPE: the stamp is current and its interpreter is still there
	local r p
	r=$(stamp_get "$1" recipe) || return 1
	[ "$r" = "$2" ] || return 1
	p=$(stamp_get "$1" path) || return 1
	[ -n "$p" ] && [ -x "$p" ]
}
stamp_write() { # stamp_write NAME key=value...
	local name=$1; shift
	printf '%s\n' "$@" "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$CACHE/$name.stamp.tmp"
	mv -f "$CACHE/$name.stamp.tmp" "$CACHE/$name.stamp"
}

# The Debian archive this machine already uses (its sources list), so the private roots go
# through the same mirror; PYLEAK_DEBIAN_MIRROR overrides it.
debian_mirror() {
	if [ -n "${PYLEAK_DEBIAN_MIRROR:-}" ]; then echo "${PYLEAK_DEBIAN_MIRROR%/}"; return; fi
	local f u
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		case "$f" in
		*.sources) u=$(sed -n 's/^URIs:[[:space:]]*//p' "$f" | tr ' ' '\n') ;;
		*) u=$(sed -n 's/^deb\(-src\)\?[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\3/p' "$f") ;;
		esac
		# The main archive: a URI whose last path element is "debian" (not debian-security,
		# not a third-party repository).
		# shellcheck disable=SC2086 # split the list of URIs
		u=$(printf '%s\n' $u | sed 's:/*$::' | grep -E '^(https?|file)://[^ ]+/debian$' | head -n1 || true)
		[ -n "$u" ] && { echo "$u"; return; }
	done
	echo "http://deb.debian.org/debian"
}

# A private apt root: its own sources list, lists, cache and an empty status, so nothing of the
# machine's apt state is read or changed. apt_root_init ROOT SUITE KIND... (KIND: deb, deb-src)
apt_root_init() {
	local root=$1 suite=$2 key="" mirror kind; shift 2
	mkdir -p "$root/lists/partial" "$root/cache/archives/partial" "$root/prefs.d"
	mirror=$(debian_mirror)
	[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] && key="[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
	: >"$root/sources.list.tmp"
	for kind in "$@"; do
		printf '%s %s%s %s main\n' "$kind" "$key" "$mirror" "$suite" >>"$root/sources.list.tmp"
	done
	mv -f "$root/sources.list.tmp" "$root/sources.list"
}
# apt_root_fresh ROOT: update its lists unless this was done in the last hour.
apt_root_fresh() {
	local root=$1
	if [ -n "$(find "$root/updated" -mmin -60 2>/dev/null)" ]; then return 0; fi
	log "apt-get update: $(tr '\n' ';' <"$root/sources.list")"
	papt_update "$root"
}
apt_opts() { # apt_opts ROOT: the -o options of a private root
	local root=$1
	printf '%s\n' \
		-o "Dir::State::Lists=$root/lists" \
		-o "Dir::Etc::sourcelist=$root/sources.list" \
		-o "Dir::Etc::sourceparts=-" \
		-o "Dir::Etc::preferences=$root/preferences" \
		-o "Dir::Etc::preferencesparts=$root/prefs.d" \
		-o "Dir::State::status=/dev/null" \
		-o "Dir::Cache=$root/cache" \
		-o "APT::Architectures::=amd64" \
		-o "Acquire::Languages=none" \
		-o "Acquire::Retries=3" \
		-o "APT::Sandbox::User=root"
}
papt_get()   { local root=$1; shift; local o; mapfile -t o < <(apt_opts "$root"); apt-get -q "${o[@]}" "$@"; }
papt_cache() { local root=$1; shift; local o; mapfile -t o < <(apt_opts "$root"); apt-cache "${o[@]}" "$@"; }
papt_update() { # papt_update ROOT: refresh its lists (quietly unless it fails)
	local root=$1 out
	if ! out=$(retry 4 papt_get "$root" update 2>&1); then
		printf '%s\n' "$out" | tail -n 20 >&2
		die "apt-get update of $(cat "$root/sources.list") failed"
	fi
	touch "$root/updated"
}
# papt_download ROOT DIR PKG...: apt-get download into DIR; on failure (stale lists: 404)
# update the lists and try again.
papt_download() {
	local root=$1 dir=$2 out; shift 2
	mkdir -p "$dir"
	if ! out=$(cd "$dir" && papt_get "$root" download "$@" 2>&1); then
		printf '%s\n' "$out" | tail -n 5 >&2
		warn "apt-get download failed; refreshing the lists and trying again"
		papt_update "$root"
		out=$(cd "$dir" && retry 3 papt_get "$root" download "$@" 2>&1) ||
			{ printf '%s\n' "$out" | tail -n 20 >&2; die "apt-get download $* failed"; }
	fi
}
# unpack_debs NAME DEBS PREFIX: a fresh PREFIX with every .deb of DEBS unpacked as is (dpkg-deb -x)
# and PREFIX/PACKAGES saying what came from where; NAME's stamp goes first (not ready until rewritten).
unpack_debs() {
	local name=$1 debs=$2 prefix=$3 d
	rm -rf "$CACHE/$name.stamp" "$prefix"
	mkdir -p "$prefix"
	for d in "$debs"/*.deb; do
		dpkg-deb -x "$d" "$prefix"
	done
	for d in "$debs"/*.deb; do dpkg-deb -f "$d" Package Version | paste -sd' '; done >"$prefix/PACKAGES"
}
papt_candidate() { # papt_candidate ROOT PKG: the version the root would take, empty if none
	papt_cache "$1" policy "$2" 2>/dev/null | awk '/Candidate:/ { if ($2 != "(none)") print $2 }'
}

# host_install PKG...: install the machine's own (bookworm) packages that are missing.
host_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing host packages ${missing[*]}: run as root, or install them"
	log "installing host packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Wait for another apt (the machine's own, or a concurrent deps step) rather than fail on its lock.
	local lock=(-o DPkg::Lock::Timeout=300)
	if ! apt-get install "${lock[@]}" -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
		retry 3 apt-get "${lock[@]}" update -qq || die "apt-get update failed"
		retry 3 apt-get install "${lock[@]}" -y -qq --no-install-recommends "${missing[@]}" ||
			die "could not install ${missing[*]}"
	fi
}
