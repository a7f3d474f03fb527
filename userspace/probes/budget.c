/* SPDX-License-Identifier: BSD-2-Clause */
/* Overhead budget accounting of duty-cycled probes: see budget.h for the method. */
#include <string.h>

#include "probes/budget.h"

#define EWMA_NEW 0.3	     /* weight of a new detached interval in util / base_sys */
#define WORST_SLOWDOWN 15.0  /* before any slice: an emulated probe per allocation costs 2–10x, a
			      * single-stepped one more (docs/PERFORMANCE.md) */

static double d(uint64_t a, uint64_t b)
{
	return a > b ? (double)(a - b) : 0;
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void budget__init(struct budget_pid *b)
{
	memset(b, 0, sizeof(*b));
	b->util = -1;
	b->hit_rate = -1;
}

static double cap_ns(const struct budget_params *bp)
{
	return bp->pct / 100.0 * bp->cap_s * 1e9;
}

double budget__hit_cost_ns(const struct budget_pid *b, const struct budget_params *bp)
{
	double w = b->cost_h + bp->prior_hits;

	if (w <= 0)
		return bp->prior_cost_ns;
	return (b->cost_x_ns + bp->prior_cost_ns * bp->prior_hits) / w;
}

double budget__available_ns(const struct budget_pid *b, const struct budget_params *bp,
			    const struct budget_reading *r)
{
	double t = b->tokens_ns;

	if (b->have_last)
		t += bp->plan * bp->pct / 100.0 * d(r->cpu_ns, b->last.cpu_ns);
	return t < cap_ns(bp) ? t : cap_ns(bp);
}

double budget__expected_ns(const struct budget_pid *b, const struct budget_params *bp, double slice_s)
{
	double u = b->util < 0 ? 1 : b->util, most = slice_s * 1e9 * (u > 1 ? u : 1);

	if (b->slices && b->hit_rate >= 0) {
		double e = budget__hit_cost_ns(b, bp) * b->hit_rate * slice_s;

		return e < most ? e : most;
	}
	return clamp(WORST_SLOWDOWN * u, 0, 1) * slice_s * 1e9;
}

double budget__wait_ns(const struct budget_pid *b, const struct budget_params *bp, double deficit_ns)
{
	double rate = bp->plan * bp->pct / 100.0 * (b->util > 0.02 ? b->util : 0.02);

	return deficit_ns > 0 && rate > 0 ? deficit_ns / rate : 0;
}

static void accrue(struct budget_pid *b, const struct budget_params *bp, double useful_ns)
{
	b->useful_ns += useful_ns;
	b->tokens_ns += bp->plan * bp->pct / 100.0 * useful_ns;
	if (b->tokens_ns > cap_ns(bp))
		b->tokens_ns = cap_ns(bp);
}

void budget__detached(struct budget_pid *b, const struct budget_params *bp, const struct budget_reading *r)
{
	double dw, dcpu;

	if (!b->have_last) {
		b->last = *r;
		b->have_last = true;
		return;
	}
	dw = d(r->wall_ns, b->last.wall_ns);
	dcpu = d(r->cpu_ns, b->last.cpu_ns);
	if (dw > 0) {
		double u = dcpu / dw, s = d(r->sys_ns, b->last.sys_ns) / dw;

		b->util = b->util < 0 ? u : (1 - EWMA_NEW) * b->util + EWMA_NEW * u;
		b->base_sys = b->slices || b->base_sys > 0 ? (1 - EWMA_NEW) * b->base_sys + EWMA_NEW * s : s;
	}
	accrue(b, bp, dcpu);
	b->last = *r;
}

void budget__slice(struct budget_pid *b, const struct budget_params *bp, const struct budget_reading *r,
		   double hits, double observed_s)
{
	double dw, dcpu, dsys, extra;

	if (!b->have_last) {
		budget__detached(b, bp, r);
		return;
	}
	dw = d(r->wall_ns, b->last.wall_ns);
	dcpu = d(r->cpu_ns, b->last.cpu_ns);
	dsys = d(r->sys_ns, b->last.sys_ns);
	if (hits < 0)
		hits = 0;
	/* learn: the system time beyond the target's usual rate is what the probes cost it */
	b->cost_x_ns += clamp(dsys - b->base_sys * dw, 0, dcpu);
	b->cost_h += hits;
	/* charge: the learnt per-hit cost (one slice's tick-resolution reading alone is too coarse) */
	extra = clamp(budget__hit_cost_ns(b, bp) * hits, 0, dcpu);
	b->spent_ns += extra;
	b->tokens_ns -= extra;
	accrue(b, bp, dcpu - extra);
	b->hit_rate = observed_s > 0 ? hits / observed_s : -1;
	/* Counts over observed_s stand for the target's pace while probed.  A process with slack
	 * (a service) keeps its pace; a CPU-bound one is slowed, and no correction from its
	 * clock-tick CPU times proved reliable (docs/PERFORMANCE.md): none is applied. */
	if (observed_s > 0)
		b->observed_ns += observed_s * 1e9;
	b->slices++;
	b->last = *r;
}
