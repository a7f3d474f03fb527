/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-process analysis on top of the GC model: periodic censuses, growth trends, leak verdicts. */
#ifndef PYLEAK_ANALYSIS_H
#define PYLEAK_ANALYSIS_H

#include <stdbool.h>

#include "model/model.h"
#include "target/remote.h"

struct analysis_opts {
	bool census;	      /* run periodic censuses (types, containers); off: GC-only verdicts */
	double cpu_budget;    /* share of one core all censuses together may use (default 0.02) */
	double min_period_s;  /* never census one process more often than this (default 2 s) */
	double max_period_s;  /* ... nor less often than this (default 60 s) */
	/* Untracked objects (a census that also scans the pymalloc arenas), the RSS breakdown and
	 * the containers found from the roots: on unless no_untracked; the arena censuses take
	 * a third of cpu_budget, at most every arena_min_period_s (0: 5 s) and at least every
	 * arena_max_period_s (0: 120 s). */
	bool no_untracked;
	double arena_min_period_s, arena_max_period_s;
	/* Retention chains of the confident type suspects (analysis/chains.c): at most one search
	 * per process every chain_interval_s (0: 10 s), CHAINS_BUDGET_SHARE of cpu_budget. */
	bool no_chains;
	double chain_interval_s;
};
void analysis__default_opts(struct analysis_opts *o);

/* What the processes read in one refresh share: the collector counts them before the first row
 * and zeroes first_s; analysis__update adds to first_s and nfirst_waiting. */
struct analysis_round {
	int ncensused; /* processes that share the census budget: censused before, not idle */
	int nidle;     /* processes idle since their census: recensused within a quarter of it */
	double first_s; /* wall time of first censuses so far in this refresh */
	int nfirst_waiting; /* processes whose first census waits for a later refresh */
};

/*
 * Called by the collector after a row's GC state was read. Runs a census when one is due
 * (period adapted so that census work stays under cpu_budget across the round's ncensused
 * processes; the nidle idle ones are recensused within a quarter of it), keeps the series and
 * fills row->types, ->containers, ->suspects, ->live_objects, ->memory. First censuses share
 * a wall-time allowance per refresh (analysis.c, FIRST_ROUND_S): a thousand new processes are
 * censused over several refreshes, the ones whose GC state moves first.
 */
void analysis__update(struct proc_row *row, struct remote *r, const struct analysis_opts *o,
		      struct analysis_round *round, double now);
/* Frees row->ext (the per-process state). */
void analysis__free(struct proc_row *row);

#endif /* PYLEAK_ANALYSIS_H */
