#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Installs (or with --check, only looks for) the Debian packages pyleak builds, tests and demos with.
set -euo pipefail
PKGS="clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcmocka-dev libncurses-dev
      libsqlite3-dev libclang-rt-14-dev pkg-config make binutils util-linux python3 python3.11 python3.11-dev python3-pytest python3-objgraph
      tmux prometheus bpftrace libcap2-bin sqlite3 chromium gunicorn python3-flask python3-uvicorn graphviz"
missing=()
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${1:-}" = "--check" ]; then
	[ ${#missing[@]} -eq 0 ] && exit 0
	echo "pyleak: missing packages: ${missing[*]}" >&2
	exit 1
fi
[ ${#missing[@]} -eq 0 ] && { echo "pyleak: all dependencies present"; exit 0; }
if [ "$(id -u)" -ne 0 ]; then
	echo "pyleak: installing ${missing[*]} needs root: run 'sudo make deps'" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
