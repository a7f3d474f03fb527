/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-type heap census of a CPython process read from outside (objgraph.typestats without code in the target). */
#ifndef PYLEAK_CENSUS_H
#define PYLEAK_CENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis/arenas.h"
#include "target/pyobj.h"
#include "target/python.h"
#include "target/remote.h"

#define CENSUS_DEFAULT_MAX_NODES 50000000L
#define CENSUS_DEFAULT_BUDGET_S 30.0
#define CENSUS_DEFAULT_RETRIES 3
#define CENSUS_DEFAULT_TOP_CONTAINERS 64

struct census_opts {
	long max_nodes;	      /* cap on GC list nodes visited, all generations (0: default 50M) */
	double budget_s;      /* wall-clock budget for the whole census (0: default 30 s) */
	int retries;	      /* re-walks of a generation whose chain broke (<0: 0; 0: default 3) */
	int top_containers;   /* K largest dict/list/set/deque kept (0: default 64; <0: none) */
	bool all_objects;     /* also count untracked objects found in pymalloc arenas */
	bool pause;	      /* SIGSTOP the target for the walk, SIGCONT on every exit path */
	/* all_objects: where the arenas come from. NONE (default): the interpreter's table, else
	 * (stripped <= 3.11) a scan of anonymous memory; TABLE or SCAN: only that way. */
	enum arena_source arena_source;
	struct pyobj_types *types; /* type-name cache kept by the caller across runs; NULL: private */
	/* Called for every object of a known type met on a GC list, youngest generation first,
	 * oldest to newest within one; a generation walked again after a broken chain calls it
	 * again for the same objects (analysis/refs.c builds its heap snapshot from it). */
	void (*visit)(void *arg, uint64_t obj, const struct pyobj_type *type, int generation);
	void *visit_arg;
	/* Free-threaded builds: visit also the untracked objects of the GC heaps (not counted):
	 * after a second thread starts, 3.13t untracks the module dicts, classes and functions a
	 * retention chain goes through (census_ft.h). */
	bool visit_untracked;
	/*
	 * Objects to look for (survivor samples): probe_addrs sorted ascending, nprobe entries.
	 * For each the walk stores the ob_type it found at that address in probe_types (0 = not
	 * on a GC list) and its generation in probe_gens; caller-owned arrays of nprobe entries.
	 * A generation walked again after a retry overwrites its findings.
	 */
	const uint64_t *probe_addrs;
	uint64_t *probe_types;
	int8_t *probe_gens;
	int64_t *probe_index; /* position in its generation's list (0 = first after the head) */
	size_t nprobe;
};

/* One row: every object whose ob_type is this type object. */
struct census_type {
	uint64_t type_addr;
	char name[PYOBJ_NAME_MAX];
	enum pyobj_kind kind;
	int64_t count;	   /* GC-tracked objects + (all_objects) untracked ones */
	int64_t bytes;	   /* shallow: pre-header + GC head + tp_basicsize + tp_itemsize * ob_size */
	int64_t untracked; /* the part of count found only by the arena scan (estimated) */
	int64_t untracked_bytes; /* the part of bytes those objects make up */
};

/* A dict / list / set / deque seen during the walk, with its len() at that moment. */
struct census_container {
	uint64_t addr, type_addr;
	enum pyobj_kind kind;
	int64_t len;
	const char *type_name; /* points into the census; valid until census__free */
};

/* What did not add up; a census of a running process is never atomic. */
struct census_stats {
	int64_t nodes;		/* GC list nodes visited (including ones later discarded by a retry) */
	int64_t broken_links;	/* next->prev != node: list changed under us (or corruption) */
	int64_t unreadable;	/* nodes or objects that could not be read */
	int64_t bad_pointers;	/* pointers failing remote__valid_ptr */
	int64_t unknown_types;	/* objects whose ob_type does not read as a type object */
	int64_t repairs;	/* broken links bridged by re-reading the two nodes */
	int64_t retries;	/* generation walks started again */
	int64_t collections_during_walk; /* a collection touched the list being walked */
	int64_t partial_generations; /* generations kept partial after the last retry */
	bool truncated;		/* max_nodes reached */
	bool timed_out;		/* budget_s reached */
	bool interrupted;	/* `exiting` was set (Ctrl-C) */
	bool paused;		/* the target was stopped for the walk */
	double walk_ms;		/* GC list walk */
	double arena_ms;	/* arena scan (all_objects) */
	int64_t reads;		/* process_vm_readv calls */
	int64_t bytes_read;
	/* all_objects */
	bool arenas_scanned;
	char arenas_why[256];	/* why not, when all_objects was asked and !arenas_scanned */
	int64_t arenas, pools, blocks, blocks_matched, blocks_unmatched;
	struct arenas_stats pymalloc; /* the allocator's own accounting, as sys._debugmallocstats() */
	/* free-threaded walk (census_ft.c): heaps of live threads and the exited threads' pool */
	bool mimalloc;
	int64_t mi_threads, mi_pages, mi_abandoned_segments, mi_abandoned_pages;
};

struct census;

/*
 * Walk the three GC generations of t (python__resolve_gc() must have succeeded) and, with
 * o->all_objects, the pymalloc arenas. Returns 0 with *out set (inconsistencies are in its
 * stats, not errors), or -errno: -ESRCH target gone, -ENOTSUP no GC state, -ENOMEM,
 * -EINTR interrupted before anything was counted.
 */
int census__run(const struct py_target *t, struct remote *r, const struct census_opts *o, struct census **out);
void census__free(struct census *c);

/* Rows sorted by count (then bytes, then name), largest first. */
size_t census__ntypes(const struct census *c);
const struct census_type *census__type(const struct census *c, size_t i);
/* Row by name, or NULL. */
const struct census_type *census__find(const struct census *c, const char *name);
/* Largest containers, by len, largest first. */
size_t census__ncontainers(const struct census *c);
const struct census_container *census__container(const struct census *c, size_t i);
const struct census_stats *census__stats(const struct census *c);
int64_t census__total_objects(const struct census *c);
int64_t census__total_bytes(const struct census *c);
double census__time(const struct census *c); /* wall-clock seconds when the walk started */

/* objgraph.show_growth: types (by name) whose count grew from a to b, by growth, largest first. */
struct census_growth {
	char name[PYOBJ_NAME_MAX];
	int64_t count;	/* in b */
	int64_t delta;	/* b - a, > 0 */
};
/* *out is malloc'ed (free() it); returns the number of rows or -ENOMEM. */
long census__diff(const struct census *a, const struct census *b, struct census_growth **out);

#endif /* PYLEAK_CENSUS_H */
