/* SPDX-License-Identifier: BSD-2-Clause */
/* Where a process's resident memory is: RSS split into disjoint parts, with the allocator's own view. */
#ifndef PYLEAK_MODEL_MEMORY_H
#define PYLEAK_MODEL_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The parts of RSS are disjoint and add up to the smaps Rss of the same moment:
 * arenas + heap + anon + stacks + file + other == rss. The rest qualifies them.
 */
struct memory_row {
	bool valid;
	double time; /* wall clock of the measurement */

	uint64_t rss;	 /* sum of Rss over /proc/PID/smaps */
	uint64_t arenas; /* resident pages of pymalloc arenas (pagemap) */
	uint64_t heap;	 /* [heap]: glibc's main malloc arena (brk) */
	uint64_t anon;	 /* other anonymous memory: malloc mmaps and thread arenas, objects > 512 B, native */
	uint64_t stacks; /* [stack] and pthread stacks */
	uint64_t file;	 /* file-backed pages: binaries, libraries, mmapped files, shared memory */
	uint64_t other;	 /* [vdso], [vvar], guard pages */
	uint64_t shared; /* of all the above, pages shared with other processes */
	uint64_t swap;
	int thread_stacks;

	/* pymalloc, from the arenas themselves (what sys._debugmallocstats() prints) */
	char arena_source[8];	 /* "table" (exact), "scan" (heuristic), "none" */
	char arena_why[160];	 /* "none": why not */
	double arena_confidence; /* scan: share of pools whose free lists add up */
	int64_t narenas;
	int64_t arena_bytes;	 /* narenas * ARENA_SIZE: address space */
	int64_t blocks_used, blocks_free;
	int64_t block_bytes_used; /* bytes in allocated blocks */
	int64_t block_bytes_free; /* bytes in available blocks of used pools: fragmentation */
	int64_t unused_pool_bytes;

	/* Python objects, shallow sizes, from the last census with an arena scan */
	int64_t tracked_bytes, untracked_bytes, untracked_objects;

	/* trends, bytes per minute (Theil-Sen over the censuses' window) */
	double rss_per_min, arenas_per_min, objects_per_min, malloc_per_min, stacks_per_min, file_per_min;
};

#endif /* PYLEAK_MODEL_MEMORY_H */
