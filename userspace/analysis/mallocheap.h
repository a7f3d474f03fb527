/* SPDX-License-Identifier: BSD-2-Clause */
/* glibc malloc's heap of another process, walked from outside: chunks by state and size class. */
#ifndef PYLEAK_MALLOCHEAP_H
#define PYLEAK_MALLOCHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target/proc.h"
#include "target/remote.h"

/*
 * No probe, no symbol needed: the main heap starts at the [heap] mapping (brk) and its chunks are
 * walked by their size fields up to the top chunk; non-main arenas are 64 MiB-aligned heap_info
 * regions in anonymous mappings; mmapped chunks head their own anonymous mappings. Chunks that
 * look in use but sit in a tcache or a fastbin are found by following those lists (tcache: the
 * tcache_perthread_struct chunks, recognised by size and validated entry by entry; fastbins: the
 * arenas' malloc_state, main_arena found in libc's .data by its top pointer and its empty bins).
 *
 * Every read goes through struct remote and is bounded; a failed read, an exit, an exec or a
 * corrupt header ends that part of the walk with `partial` set and a reason, never a crash.
 */

enum mallocheap_allocator {
	MH_GLIBC = 0,	/* glibc ptmalloc: walked */
	MH_JEMALLOC,	/* detected, not walked: figures would be wrong */
	MH_TCMALLOC,
	MH_MIMALLOC,
	MH_OTHER,	/* no glibc malloc found (musl, static, unknown) */
};

/* Chunk size classes, log2: class k holds chunk sizes [32 << k, 64 << k); the last is open. */
#define MH_CLASSES 22
static inline int mallocheap__class(uint64_t chunk_size)
{
	int k = 0;

	while (k < MH_CLASSES - 1 && chunk_size >= (64ull << k))
		k++;
	return k;
}

enum mallocheap_state {
	MH_NOT_A_CHUNK = 0, /* not the start of a walked chunk's user memory */
	MH_IN_USE,	    /* header and the next chunk's PREV_INUSE say in use, in no free list */
	MH_TCACHE,	    /* looks in use, sits in a thread's tcache */
	MH_FASTBIN,	    /* looks in use, sits in an arena's fastbin */
	MH_FREE,	    /* free by its header (bins, unsorted) */
	MH_TOP,		    /* the arena's top chunk */
	MH_MMAPPED,	    /* an mmapped chunk (always in use: munmap'ed at free) */
};

struct mallocheap_chunk {
	uint64_t addr;	 /* chunk header address (user pointer - 16) */
	uint32_t size16; /* chunk size >> 4 (up to 64 GiB) */
	uint8_t state;	 /* enum mallocheap_state */
	uint8_t arena;	 /* 0 main, i + 1 the i-th non-main arena seen (saturates at 255) */
};

struct mallocheap_class {
	uint64_t bytes, blocks; /* in use (chunk sizes, headers included), free lists subtracted */
};

/* What the walk reads; mallocheap__input_from_maps builds it from /proc/PID/maps. */
#define MH_MAX_REGIONS 512
struct mallocheap_region {
	uint64_t start, end;
};

struct mallocheap_input {
	uint64_t heap_start, heap_end;			   /* [heap]; 0, 0 if none */
	struct mallocheap_region anon[MH_MAX_REGIONS];	   /* anonymous rw-p mappings */
	int nanon;
	struct mallocheap_region libc_data[8];		   /* libc's rw-p mappings (and its bss) */
	int nlibc_data;
	enum mallocheap_allocator allocator;
	char allocator_lib[96];				   /* the library that decided it */
	uint64_t max_bytes;				   /* read budget per walk (0: default) */
	uint64_t max_chunks;				   /* chunk index cap (0: default) */
};

#define MH_DEFAULT_MAX_BYTES (256ull << 20)
#define MH_DEFAULT_MAX_CHUNKS (2u << 20)

struct mallocheap {
	enum mallocheap_allocator allocator;
	char allocator_lib[96];
	bool partial;		 /* some region was not walked to its end */
	char partial_reason[128];/* the first reason */
	uint64_t inconsistencies;/* headers that disagree with their neighbours (changed under us) */

	uint64_t in_use_bytes, in_use_blocks;	/* excluding tcache and fastbin chunks */
	uint64_t tcache_bytes, tcache_blocks;	/* look in use, are free */
	uint64_t fastbin_bytes, fastbin_blocks;
	uint64_t free_bytes, free_blocks;	/* free by header */
	uint64_t top_bytes;
	uint64_t mmapped_bytes, mmapped_blocks; /* part of in_use_* too */
	uint64_t heap_bytes;			/* bytes of the walked heap regions */
	struct mallocheap_class cls[MH_CLASSES];

	int arenas, heaps, tcaches;
	uint64_t main_arena;	    /* 0 if not found: main fastbins unchecked */
	bool fastbins_checked;	    /* every arena's fastbins were read */
	int safe_linking;	    /* -1 unknown (no link seen), 0 no, 1 PROTECT_PTR (glibc >= 2.32) */
	uint64_t bytes_read;
	uint64_t walk_ns;

	/* The anonymous rw-p mappings of /proc/PID/maps the walk started from, by address (for
	 * mallocheap__mapped: sampled mmap()s are verified against them). */
	struct mallocheap_region anon[MH_MAX_REGIONS];
	int nanon;

	/* Index of walked chunks sorted by address (for mallocheap__lookup). */
	struct mallocheap_chunk *chunks;
	size_t nchunks, cap;
};

/*
 * Fills in from maps: [heap], anonymous rw-p mappings, libc's data, and which allocator the
 * process uses (a mapped libjemalloc/libtcmalloc/libmimalloc decides; glibc if libc.so is
 * mapped; else MH_OTHER).
 */
void mallocheap__input_from_maps(const struct proc_map *maps, int n, struct mallocheap_input *in);

/* An allocator linked into the executable (exe_path as pyleak can open it) overrides glibc. */
void mallocheap__check_executable(struct mallocheap_input *in, const char *exe_path);

/* Walks; 0 (possibly partial) or -errno (-ENOTSUP for another allocator, -ENOMEM). */
int mallocheap__walk(struct remote *r, const struct mallocheap_input *in, struct mallocheap *out);
void mallocheap__free(struct mallocheap *h);

/* State of the chunk whose user pointer (malloc's return value) is mem; its chunk size too. */
enum mallocheap_state mallocheap__lookup(const struct mallocheap *h, uint64_t mem, uint64_t *chunk_size);

/* Is [addr, addr + len) still mapped anonymous rw-p (one mapping, or adjacent ones the kernel did
 * not merge) as of the walk's /proc/PID/maps? A mapping freed and mapped again at the same place
 * looks the same: as for a chunk reused with the same size, only the next walks can tell. */
bool mallocheap__mapped(const struct mallocheap *h, uint64_t addr, uint64_t len);

const char *mallocheap__allocator_name(enum mallocheap_allocator a);

#endif /* PYLEAK_MALLOCHEAP_H */
