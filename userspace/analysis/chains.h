/* SPDX-License-Identifier: BSD-2-Clause */
/* Retention chains of the confident type suspects in `top` (cached, re-checked, rate-limited),
 * the suspects grouped into the leaks that explain them, and the one-sentence diagnosis. */
#ifndef PYLEAK_CHAINS_H
#define PYLEAK_CHAINS_H

#include <stdbool.h>

#include "model/model.h"
#include "target/pyobj.h"
#include "target/remote.h"

#define CHAINS_DEFAULT_INTERVAL_S 10.0 /* at most one chain search per process this often */
#define CHAINS_MIN_CONFIDENCE 0.95     /* only for type suspects at least this confident */
#define CHAINS_BUDGET_SHARE 0.25       /* of the census CPU budget, once searches run */

struct chains;

struct chains *chains__new(void);
void chains__free(struct chains *ch);

/*
 * After a census filled row->suspects (most telling first): re-read the cached chains (a few
 * reads per link; a link gone makes that chain "lost", never shown again), then, when due (see
 * chains__pace), one search for the first confident type suspect without a valid chain that
 * no other suspect explains. Fills the suspects' chain fields, groups the suspects that are the
 * same leak and writes their diagnosis. Returns true when a search ran.
 */
bool chains__update(struct chains *ch, struct proc_row *row, struct remote *r, struct pyobj_types *types,
		    double now);
/* After a search that cost cpu_s of CPU: the next one no sooner than interval_s (0: default),
 * and late enough that searches × nprocs stay under CHAINS_BUDGET_SHARE of cpu_budget. */
void chains__pace(struct chains *ch, double cpu_s, double interval_s, double cpu_budget, int nprocs, double now);

/*
 * Suspects that are the same leak go under the one that explains them (the leader): a type whose
 * instances the leader's instances hold (its chain's referents, with their __dict__), or whose own
 * chain passes through a leader instance, or a container on the leader's chain; in each case
 * growing at the rate the leader's growth predicts (0.5-2x); and never a program class the
 * leader's own chain passes through (that one holds the leader).  A leader explains; it is never
 * itself explained (no cycles).  Sets explained_by, group_why and explains of row->suspects.
 * found(ctx, type) gives a type suspect's retention chain found from a root, or NULL.
 * Pure (unit-tested): chains__update calls it with the cached chains.
 */
struct refs_chain;
typedef const struct refs_chain *(*chains_found_fn)(const void *ctx, const char *type);
void chains__group(struct proc_row *row, chains_found_fn found, const void *ctx);

/* A chain search ran for this process: the censuses then leave CHAINS_BUDGET_SHARE of the
 * CPU budget to the searches. */
bool chains__active(const struct chains *ch);

#endif /* PYLEAK_CHAINS_H */
