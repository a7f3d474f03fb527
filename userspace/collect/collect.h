/* SPDX-License-Identifier: BSD-2-Clause */
/* The collector: finds Python processes, attaches probes, reads maps and memory into the model. */
#ifndef PYLEAK_COLLECT_H
#define PYLEAK_COLLECT_H

#include <stdbool.h>
#include <sys/types.h>

#include "analysis/analysis.h"
#include "model/model.h"
#include "probes/gc.h"
#include "probes/alloc.h"
#include "probes/sites.h"
#include "probes/native.h"

struct collector;

struct collector_opts {
	const pid_t *pids;   /* watch only these (host pids); NULL/0 = every Python process */
	int npids;
	const char *container; /* watch every Python process of this container id (prefix ok) */
	double interval_s;
	bool no_bpf;	     /* tier 0 only: exact counters, no pauses (for hosts without BPF) */
	bool strict_pids;    /* an explicit pid that is not observable is an error, not a note */
	bool no_analysis;    /* GC only: no censuses, no verdicts */
	struct alloc_probes_opts alloc; /* mode OFF (zeroed) = no allocation rates */
	bool no_sites;	     /* do not sample allocation sites (Python stacks at young collections) */
	bool native;	     /* sample native allocations (probes/native.h), verified by heap walks */
	struct native_probes_opts native_opts;
	bool no_survivors;   /* sample sites but do not pair them with their objects (survivors) */
	struct analysis_opts analysis; /* zeroed: analysis__default_opts() */
	/* Every individual collection seen by the probes (for recording and the GC timeline). */
	gc_event_fn on_gc_event;
	void *ctx;
	/* Only the processes of the families matching this (model/groups.h): name, root pid or kind. */
	const char *group;
	/* Called once for each process that exits (after its last sample). */
	void (*on_exit)(const struct proc_row *row, void *ctx);
};

/* 0 or -errno; prints why (no BPF, no privilege...) itself. */
int collector__new(const struct collector_opts *opts, struct collector **out);
/* Rescan, read everything, and fill *snap (rows owned by the collector). */
int collector__refresh(struct collector *c, struct snapshot *snap);
/* Wait up to ms for the next refresh while consuming probe events; returns early on `exiting`. */
void collector__wait(struct collector *c, long ms);
void collector__set_interval(struct collector *c, double interval_s);
/* Rows of explicit -p pids that could not be observed: the reasons, for the caller to report. */
int collector__missing(const struct collector *c, char *buf, size_t sz);
void collector__free(struct collector *c);

#endif /* PYLEAK_COLLECT_H */
