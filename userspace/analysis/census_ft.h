/* SPDX-License-Identifier: BSD-2-Clause */
/* Free-threaded builds: visit the live GC objects in the threads' mimalloc heaps from outside. */
#ifndef PYLEAK_CENSUS_FT_H
#define PYLEAK_CENSUS_FT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target/python.h"
#include "target/remote.h"

/* What one walk saw; the census adds these to its own stats. */
struct census_ft_stats {
	int64_t threads;      /* thread states whose heaps were walked */
	int64_t pages;	      /* mimalloc pages visited */
	int64_t blocks;	      /* blocks in those pages (capacity) */
	int64_t free_blocks;  /* on a free, local_free or thread_free list */
	int64_t bad_pages;    /* pages failing validation (skipped) */
	int64_t huge_pages;   /* pages too large to copy (skipped) */
	int64_t untracked;    /* allocated blocks whose object is not GC-tracked */
	int64_t abandoned_segments; /* segments of exited threads walked (interpreter's pool) */
	int64_t abandoned_pages;    /* GC/GC_PRE pages walked in them (also in `pages`) */
};

/* Copy of an object's first bytes handed to the visitor (zero-padded past the block). */
#define CENSUS_FT_OBJ_COPY 64

/* Return non-zero to stop the walk (that value is returned). */
typedef int (*census_ft_visit_fn)(uint64_t addr, const unsigned char *obj, void *arg);

/*
 * Is this a build whose mimalloc layout pyleak knows (3.13 free-threaded)? The offsets are those
 * of CPython 3.13.5t's bundled mimalloc 2.1 (DWARF of tools/interp py313t, NOTES.md).
 */
bool census_ft__supported(const struct py_target *t);

/*
 * Visit every GC-tracked object in the GC and GC_PRE heaps of every thread of t's main
 * interpreter (gc_free_threading.c gc_visit_heaps does the same with the world stopped; from
 * outside the heaps move under us: every page is validated and copied in one read, free blocks
 * come from the page's own free lists in that copy), then the pages of segments that exited threads
 * abandoned to the interpreter's pool (the collector visits those too). check() is called every
 * page and stops the walk with its non-zero value (time budget, Ctrl-C).
 */
int census_ft__walk(const struct py_target *t, struct remote *r, census_ft_visit_fn visit, int (*check)(void *arg),
		    void *arg, struct census_ft_stats *st);

#endif /* PYLEAK_CENSUS_FT_H */
