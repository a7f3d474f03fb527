#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Regenerates bpf/vmlinux.h from the running kernel's BTF (the BPF side is CO-RE: any BTF kernel works).
set -euo pipefail
cd "$(dirname "$0")/.."
bpftool btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux.h.tmp
mv bpf/vmlinux.h.tmp bpf/vmlinux.h
echo "bpf/vmlinux.h refreshed from $(uname -r)"
