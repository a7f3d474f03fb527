/* SPDX-License-Identifier: BSD-2-Clause */
/* What the allocation probes measure, as the model and every view read it: the source in force and
 * per-type allocation rates over a window (probes/alloc.c fills them). */
#ifndef PYLEAK_ALLOCSTATS_H
#define PYLEAK_ALLOCSTATS_H

#include <stdbool.h>
#include <stdint.h>

#include "target/pyobj.h"

enum alloc_mode {
	ALLOC_MODE_OFF = 0,
	ALLOC_MODE_YOUNG,  /* default: sample the young GC list at each collection start */
	ALLOC_MODE_EXACT,  /* allocator uprobes attached all the time (--alloc exact) */
	ALLOC_MODE_BUDGET, /* allocator uprobes duty-cycled under --alloc-budget PCT */
};
const char *alloc_mode__name(enum alloc_mode m); /* "young-sample", "exact", "budget", "off" */
/* "young"/"young-sample", "exact", "off" -> mode; -EINVAL otherwise. */
int alloc_mode__parse(const char *s, enum alloc_mode *out);

#define ALLOC_TOP_TYPES	    16

struct alloc_type_rate {
	char name[PYOBJ_NAME_MAX];
	uint64_t type_addr;
	double alloc_per_s;
	double free_per_s; /* < 0: unknown (young sample; non-GC types in exact mode) */
	double net_per_s;
	double bytes_per_s;
};

/* One pid's allocation figures over the window since its previous alloc_probes__read(). */
struct alloc_report {
	const char *source;   /* "young-sample" | "exact" | "budget" */
	bool estimated;	      /* young-sample and budget are estimates */
	double window_s;      /* wall seconds of the window */
	double observed_s;    /* seconds the source observed (budget: attached time) */
	double per_s;	      /* exact/budget: probed allocations/s; young: net new GC objects/s */
	double free_per_s;    /* < 0 unknown */
	double bytes_per_s;
	int ntypes;
	struct alloc_type_rate types[ALLOC_TOP_TYPES]; /* sorted: net (young) or alloc (exact) desc */
	int ntypes_total;     /* types seen in the window (before the top-N cut) */

	/* young sample quality */
	uint64_t collections; /* collections sampled in the window */
	uint64_t samples;     /* young-list nodes counted in the window */
	uint64_t walk_errors, walk_truncated;

	/*
	 * exact/budget completeness: probed net GC allocations / CPython's generations[0].count
	 * bookkeeping over every inter-collection window the probes fully covered (cumulative).
	 * < 0 unknown (no collection hook, or fewer than 1000 expected).  `incomplete` when outside
	 * [0.9, 1.1]: allocation sites not probed (LTO-inlined/devirtualized copies on distro builds).
	 */
	double completeness;
	bool incomplete;
	uint64_t check_windows;
	double duty;	      /* budget: share of time the exact probes were attached; 1 exact */
	double overhead_pct;  /* budget: the target's extra CPU for the probes, % of its own CPU,
			       * since pyleak attached (measured: userspace/budget.h) */
	uint64_t type_errors;
};

#endif /* PYLEAK_ALLOCSTATS_H */
