/* SPDX-License-Identifier: BSD-2-Clause */
/* pymalloc arenas of a target without its symbols: pool headers checked against each other, block accounting. */
#ifndef PYLEAK_ARENAS_H
#define PYLEAK_ARENAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "target/remote.h"

#define ARENAS_POOL_OVERHEAD 48	  /* sizeof(struct pool_header), 3.6-3.14 (cpython-internals.md §7) */
#define ARENAS_MAX_CLASSES 64	  /* 512 / 8: ALIGNMENT 8 before 3.8 (bpo-27987), 16 after: 32 */
#define ARENAS_MAX_INDEX (1u << 24) /* arenaindex of any real process is far below (maxarenas doubles from 16) */
#define ARENAS_MAX 65536	  /* arenas one scan keeps: 64 GiB of 1 MiB arenas */

/* How the arenas of a process were found; what the output says about certainty. */
enum arena_source {
	ARENA_SOURCE_NONE = 0,
	ARENA_SOURCE_TABLE, /* the interpreter's own arena table (interp->obmalloc, or .symtab statics): exact */
	ARENA_SOURCE_SCAN,  /* anonymous mappings scanned for self-consistent pool headers: heuristic */
};
const char *arena_source__name(enum arena_source s);

struct arena_geometry {
	uint32_t arena_size; /* 256 KiB (<= 3.9) or 1 MiB (3.10+, ARENA_BITS 20) */
	uint32_t pool_size;  /* 4 KiB (<= 3.9) or 16 KiB (3.10+, POOL_BITS 14) */
};

/* One arena: its carved pools are [pools_begin, pools_end), POOL_SIZE apart. */
struct arena {
	uint64_t address; /* arena_object.address (table) or the first pool (scan) */
	uint64_t pools_begin, pools_end;
	uint32_t index; /* arenaindex in the pool headers (scan), slot in the table (table) */
};

/* The header of one pool, decoded and checked. */
struct pool_info {
	uint32_t count;	     /* ref.count: blocks allocated */
	uint32_t szidx, size; /* size class and block size */
	uint32_t nextoffset, maxnextoffset, arenaindex;
	uint32_t capacity; /* blocks that fit the pool */
	uint32_t carved;   /* blocks handed out at least once: (nextoffset - overhead) / size */
	uint64_t freeblock;
};

/*
 * Decode the 48-byte header of the pool at pool_addr. 0 when it is self-consistent: a size class
 * whose block size equals POOL_SIZE - maxnextoffset (pymalloc_pool_init sets exactly that),
 * nextoffset on a block boundary within the pool, count <= carved blocks, freeblock NULL or a
 * block boundary of this pool below nextoffset, a plausible arenaindex. -EPROTO otherwise.
 */
int arenas__check_pool(const unsigned char *hdr, uint64_t pool_addr, uint32_t pool_size, struct pool_info *pi);
/*
 * Walk the free list of a copied pool (pool_size bytes; next pointers are absolute addresses in
 * the pool) and mark free blocks in isfree[0..pi->capacity). 0 when count + free == carved (the
 * pool's invariant: every carved block is either allocated or on the free list), -EPROTO when the
 * list leaves the pool, loops, or does not add up (a racing write, or not a pool).
 */
int arenas__pool_free(const unsigned char *pool, uint64_t pool_addr, uint32_t pool_size, const struct pool_info *pi,
		      unsigned char *isfree);

/* What sys._debugmallocstats() prints, summed over the pools seen. */
struct arenas_class {
	int64_t pools;	      /* pools of this class with count > 0 ("num pools") */
	int64_t blocks_used;  /* sum of count ("blocks in use") */
	int64_t blocks_avail; /* capacity - count ("avail blocks") */
};
struct arenas_stats {
	enum arena_source source;
	int64_t arenas;
	int64_t pools_used;	 /* count > 0 */
	int64_t pools_unused;	 /* empty or never carved: the "unused pools" line */
	int64_t blocks_used, blocks_avail;
	int64_t bytes_used;	 /* blocks_used * size: "bytes in allocated blocks" */
	int64_t bytes_avail;	 /* blocks_avail * size: "bytes in available blocks" */
	int64_t pools_checked;	 /* pools whose free list was walked */
	int64_t pools_consistent; /* ... and added up */
	int64_t resident_bytes;	 /* arena pages present in RAM (pagemap), -1 unknown */
	int64_t duplicate_index; /* scan: arenas sharing an arenaindex (impossible in a sane heap) */
	int nclasses;		 /* highest class seen + 1 */
	struct arenas_class cls[ARENAS_MAX_CLASSES];
};
void arenas__account_pool(struct arenas_stats *st, const struct pool_info *pi);
/* Share of the checked pools that were self-consistent (1 when none were checked). */
double arenas__confidence(const struct arenas_stats *st);

/*
 * Find arenas in a copy of memory [base, base + len) (one mapping): runs of pools with valid
 * headers sharing one arenaindex, at most arena_size / pool_size pools each, starting on a pool
 * boundary. Writes up to max arenas; returns how many were found (may exceed max).
 */
long arenas__find_in(const unsigned char *mem, uint64_t base, size_t len, const struct arena_geometry *g,
		     struct arena *out, long max);

/*
 * The same over the live process: every anonymous private rw mapping, only pages present in RAM
 * (pagemap; a pool header page of a live arena is always written), headers read in batches.
 * *out is malloc'ed. Returns the number of arenas, or -errno (-ESRCH: gone). deadline_ns: 0 none.
 */
long arenas__scan(pid_t pid, struct remote *r, const struct arena_geometry *g, uint64_t deadline_ns,
		  struct arena **out, struct arenas_stats *st);

#endif /* PYLEAK_ARENAS_H */
