#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A container without a container engine: new pid + mount namespaces, a private root where the
# interpreter lives at a path that does not exist on the host, a docker-style cgroup (v1 or v2).
# Usage: container_run.sh ROOTDIR CONTAINER_ID INTERPRETER SCENARIO_DIR TRUTH_DIR -- ARGS...
# Runs (as pid 1 of its namespace): /opt/ctrpy/bin/<python> /scenarios/ARGS... with /truth writable.
set -euo pipefail
root=$1 cid=$2 interp=$3 scen=$4 truth=$5
shift 6
name=$(basename "$interp")
mkdir -p "$root"
# Docker-style cgroup so the container id can be read from /proc/PID/cgroup.
cg=""
for base in /sys/fs/cgroup/pids /sys/fs/cgroup/unified /sys/fs/cgroup; do
	if [ -w "$base" ] && [ -e "$base/cgroup.procs" ]; then
		cg="$base/docker/$cid"
		mkdir -p "$cg" 2>/dev/null && echo $$ > "$cg/cgroup.procs" 2>/dev/null && break
		cg=""
	fi
done
exec unshare --pid --mount --fork --kill-child -- bash -c '
	set -e
	root=$1; scen=$2; truth=$3; name=$4; interp=$5; shift 5
	mount --make-rprivate /
	# The root is a tmpfs of this mount namespace only: the interpreter exists nowhere on the host.
	mount -t tmpfs -o mode=755 ctrroot "$root"
	mkdir -p "$root"/{usr,lib,lib64,bin,etc,proc,tmp,scenarios,truth,opt/ctrpy/bin}
	cp "$interp" "$root/opt/ctrpy/bin/$name"
	for d in usr lib lib64 bin etc; do [ -d /$d ] && mount --rbind /$d "$root/$d"; done
	mount --bind "$scen" "$root/scenarios"
	mount --bind "$truth" "$root/truth"
	mount -t proc proc "$root/proc"
	mount -t tmpfs tmpfs "$root/tmp"
	exec chroot "$root" /opt/ctrpy/bin/$name "$@"
' container "$root" "$scen" "$truth" "$name" "$interp" "$@"
