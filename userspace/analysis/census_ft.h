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

/*
 * Return non-zero to stop the walk (that value is returned). tracked: the object's GC bit is set
 * (what gc.get_objects() returns); an allocated block without it is an untracked object (a
 * tuple or dict of atomic values, an object being built) or, once a second thread started, an
 * object 3.13t made immortal and untracked (classes, functions, code, module dicts: deferred
 * reference counts, Python/gc_free_threading.c immortalize_visitor) -- still a live object.
 */
typedef int (*census_ft_visit_fn)(uint64_t addr, const unsigned char *obj, bool tracked, void *arg);
/* ob_gc_bits of a free-threaded object (obj[CENSUS_FT_GC_BITS]): gc.freeze() sets FROZEN on every
 * tracked object, which the collector and gc.get_objects() then skip (the permanent generation of
 * a GIL build); measured on 3.13.5t: 1 -> 9. */
#define CENSUS_FT_GC_BITS 11
#define CENSUS_FT_BIT_FROZEN 8

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
