/* SPDX-License-Identifier: BSD-2-Clause */
/* /proc/PID/smaps and /proc/PID/pagemap: where a process's resident pages are, per mapping. */
#ifndef PYLEAK_SMAPS_H
#define PYLEAK_SMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What a mapping is, from its name and its neighbours (disjoint: every VMA gets one). */
enum smaps_kind {
	SMAPS_ANON = 0,	    /* anonymous private memory: malloc mmaps, pymalloc arenas, native */
	SMAPS_HEAP,	    /* [heap]: glibc's brk main arena */
	SMAPS_STACK,	    /* [stack] (main thread) */
	SMAPS_THREAD_STACK, /* anonymous rw mapping right above a ---p guard: a pthread stack */
	SMAPS_FILE,	    /* backed by a file (binaries, libraries, mmapped files, memfd, shm) */
	SMAPS_OTHER,	    /* [vdso], [vvar], guard pages and other kernel-named mappings */
	SMAPS_NKINDS
};
const char *smaps_kind__name(enum smaps_kind k);

struct smaps_vma {
	uint64_t start, end;
	char perms[5];
	enum smaps_kind kind;
	bool named; /* has a path or a [name] */
	/* bytes */
	uint64_t rss, pss, shared, private_, anonymous, swap;
};

/* Totals of one smaps text, by kind (rss[] sums to rss). */
struct smaps_totals {
	uint64_t rss, pss, shared, anonymous, swap;
	uint64_t kind_rss[SMAPS_NKINDS];
	int nvmas, thread_stacks;
};

/*
 * Parse the text of /proc/PID/smaps (len bytes, need not be NUL-terminated). Fills up to max
 * VMAs into vmas (may be NULL to only total) and *tot. Returns the number of VMAs parsed or
 * -EINVAL when the text is not smaps. Lines it does not know are skipped; numbers are bounded.
 */
int smaps__parse(const char *text, size_t len, struct smaps_vma *vmas, int max, struct smaps_totals *tot);
/* Read and parse /proc/PID/smaps (at most SMAPS_MAX_TEXT bytes). *vmas is malloc'ed. */
#define SMAPS_MAX_TEXT (64u << 20)
#define SMAPS_MAX_VMAS 65536
int smaps__read(pid_t pid, struct smaps_vma **vmas, struct smaps_totals *tot);

/* Resident pages (present in RAM) of [start, end) from /proc/PID/pagemap, in bytes, or -errno. */
int64_t pagemap__resident(pid_t pid, uint64_t start, uint64_t end);
/*
 * Present bit per page of [start, start + npages * 4096) into present[] (1/0). 0 or -errno.
 * npages is capped by the caller; pagemap gives 8 bytes per page.
 */
int pagemap__present(pid_t pid, uint64_t start, size_t npages, unsigned char *present);

#endif /* PYLEAK_SMAPS_H */
