/* SPDX-License-Identifier: BSD-2-Clause */
/* Naming containers by what holds them (module globals, class and instance attributes), read from outside. */
#ifndef PYLEAK_HOLDERS_H
#define PYLEAK_HOLDERS_H

#include <stdbool.h>
#include <stdint.h>

#include "target/pyobj.h"
#include "target/python.h"
#include "target/remote.h"

#define HOLDERS_NAME_MAX 160

/*
 * Limits of one walk of the roots. The walk reads sys.modules, every module's __dict__, the
 * __dict__ of heap types found there, and the instance dict of heap-type objects found there
 * (one step down). Defaults in holders__default_limits().
 */
struct holders_limits {
	int max_modules;	    /* sys.modules entries visited */
	long max_module_entries;    /* items read per module dict */
	int max_classes;	    /* heap types whose tp_dict is read */
	int max_instances;	    /* module-level objects whose instance dict is read */
	long max_attr_entries;	    /* items read per class or instance dict */
	double budget_ms;	    /* wall-clock budget of one walk */
	double retry_s;		    /* an address left unnamed is looked for again after this */
	double min_walk_interval_s; /* never walk more often than this */
	double refresh_s;	    /* names older than this are re-checked by the next walk */
};
void holders__default_limits(struct holders_limits *lim);

/* What the last walk did (for notes and tests). */
struct holders_stats {
	int walks;
	int modules, classes, instances; /* visited by the last walk */
	long entries;			 /* dict items looked at by the last walk */
	double ms;			 /* last walk's wall time */
	bool truncated;			 /* a count limit was reached */
	bool timed_out;			 /* budget_ms was reached */
	int named, unnamed;		 /* of the addresses asked for in the last call */
};

struct holders;
/* lim NULL: defaults. NULL with errno on allocation failure. */
struct holders *holders__new(const struct holders_limits *lim);
void holders__free(struct holders *h);

/* One container to name: its address and type object (the cache key is the pair). */
struct holders_query {
	uint64_t addr, type_addr;
	char name[HOLDERS_NAME_MAX]; /* out: "__main__.cache", "__main__.Registry._items",
				      * "__main__.jobs.queue", "gc.garbage"; "" when no holder found */
};

/*
 * Name q[0..n). Cached names are returned without reading the target; when an address is new
 * (or its retry/refresh time came) and min_walk_interval_s passed, one bounded walk of the
 * roots runs and names every asked address it finds. Names are preferred in this order:
 * gc.garbage, module globals (__main__ first, then sys.modules order), class attributes,
 * instance attributes one step down. types is the caller's type cache (may be NULL).
 * Returns how many got a name, or -errno when the walk could not start (no interpreter).
 */
int holders__name(struct holders *h, const struct py_target *t, struct remote *r, struct pyobj_types *types,
		  struct holders_query *q, int n, double now);
const struct holders_stats *holders__stats(const struct holders *h);

/*
 * A container reached from the roots, measured whether the GC tracks it or not: CPython untracks
 * dicts (and tuples) holding only atomic values (_PyDict_MaybeUntrack, Objects/dictobject.c), so a
 * dict of str -> bytes never appears in the GC lists the census walks.
 */
struct holders_container {
	uint64_t addr, type_addr;
	enum pyobj_kind kind; /* dict, list, set, deque, bytearray */
	int64_t len;
	bool tracked;	      /* _gc_next != 0 (bytearray: never, it is no GC type) */
	char name[HOLDERS_NAME_MAX];
	char type[PYOBJ_NAME_MAX];
};

/*
 * One bounded walk of the roots (same limits, order and naming as holders__name) that reports
 * every dict/list/set/deque/bytearray held by a module global, a class attribute or an
 * instance attribute one step down whose len is at least min_len: up to max, largest first.
 * The caller paces it (it does not delay holders__name's walks); the names it finds go into the
 * name cache. Returns how many were found, or -errno.
 */
int holders__containers(struct holders *h, const struct py_target *t, struct remote *r, struct pyobj_types *types,
			int64_t min_len, struct holders_container *out, int max, double now);

#endif /* PYLEAK_HOLDERS_H */
