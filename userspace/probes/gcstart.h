/* SPDX-License-Identifier: BSD-2-Clause */
/* Attach a BPF program at the start of every collection of an interpreter, once per file. */
#ifndef PYLEAK_GCSTART_H
#define PYLEAK_GCSTART_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bpf_link;
struct bpf_program;

#define GCSTART_MAX_ATTACH 64

/*
 * The samplers that ride on collection starts (young-list types, allocation sites) attach to the
 * same place the GC probes do: USDT python:gc__start, or a uprobe on each collector function
 * (cookie = its GC_GENSPEC_*), system-wide (pid -1) so every process of the binary is covered,
 * de-duplicated by (device, inode, offset) so each interpreter file is probed once.
 */
struct gcstart_set {
	struct {
		dev_t dev;
		ino_t ino;
		uint64_t off; /* 0 for USDT */
		struct bpf_link *link;
	} att[GCSTART_MAX_ATTACH];
	int n;
};

/* usdt: prog on python:gc__start of path; else a uprobe at file offset off with the cookie.
 * 0 when attached or already attached; -errno (message printed, naming `what`). */
int gcstart__attach(struct gcstart_set *s, struct bpf_program *usdt_prog, struct bpf_program *uprobe_prog,
		    const char *path, bool usdt, uint64_t off, uint64_t cookie, const char *what);
void gcstart__detach_all(struct gcstart_set *s);

#endif /* PYLEAK_GCSTART_H */
