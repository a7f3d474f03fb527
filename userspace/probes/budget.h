/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The overhead budget of duty-cycled probes, per watched process, from what the process itself
 * was charged: no cost model to trust.
 *
 * A probe hit runs in the target's context in kernel mode (the int3 trap, the BPF program, the
 * single-step), so it is charged to the target as *system* CPU time.  Over each attached slice
 * the extra CPU is the target's system time minus what its system time would have been anyway
 * (its rate while detached), and per probe hit cost = Σ extra / Σ hits.  The target may be
 * charged at most PCT% of the CPU it used for itself: a token bucket that fills at PCT% of the
 * target's own CPU time and empties by the extra CPU of each slice, starting empty, so at any
 * moment the extra CPU since the start is within PCT% of the useful CPU (give or take one slice's
 * estimate).  A slice is taken only when the bucket holds what the slice is expected to cost.
 *
 * /proc/PID/stat has clock-tick resolution (10 ms) and the kernel samples user vs system at
 * CONFIG_HZ: one slice's measurement is coarse, the sums over slices are not (the errors do not
 * accumulate: they are differences of one counter read at disjoint intervals).
 */
#ifndef PYLEAK_BUDGET_H
#define PYLEAK_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

struct budget_reading {
	uint64_t wall_ns; /* CLOCK_MONOTONIC */
	uint64_t cpu_ns;  /* user + system of the target, all threads */
	uint64_t sys_ns;  /* system part */
};

struct budget_pid {
	struct budget_reading last; /* at the last boundary (attach or detach) */
	bool have_last;
	double util;	    /* target CPU s per wall s while detached (EWMA); < 0 unknown */
	double base_sys;    /* its system CPU s per wall s while detached (EWMA) */
	double tokens_ns;   /* extra CPU the target may still be charged */
	double cost_x_ns;   /* Σ measured extra CPU over the slices */
	double cost_h;	    /* Σ weighted probe hits over the slices */
	double hit_rate;    /* weighted hits per attached second in the last slice; < 0 unknown */
	double spent_ns;    /* Σ extra CPU charged (estimated per slice) */
	double useful_ns;   /* Σ CPU the target used for itself */
	double observed_ns; /* Σ observed time (probes in) */
	uint64_t slices;
};

struct budget_params {
	double pct;	      /* the budget, percent of the target's own CPU */
	double plan;	      /* share of the budget the scheduler plans to use (what system time does
			       * not show: cache and TLB refills after each trap, in user time) */
	double prior_cost_ns; /* per-hit cost assumed before measurements (conservative) */
	double prior_hits;    /* weight of that prior, in hits */
	double cap_s;	      /* the bucket holds at most pct% of this much CPU time */
};

void budget__init(struct budget_pid *b);

/* Per weighted hit: measured, shrunk towards the prior while few hits were measured. */
double budget__hit_cost_ns(const struct budget_pid *b, const struct budget_params *bp);

/* Tokens the target would hold at reading r (accrual since the last boundary, not committed). */
double budget__available_ns(const struct budget_pid *b, const struct budget_params *bp,
			    const struct budget_reading *r);

/* Extra CPU a slice of slice_s is expected to cost this target (worst case before any slice:
 * every CPU second it would use in the slice, up to 15 times over, capped at the slice). */
double budget__expected_ns(const struct budget_pid *b, const struct budget_params *bp, double slice_s);

/* How long until the bucket gains deficit_ns more, at the rate it fills (the process's CPU
 * rate, at least 2% of a core so that an idle-looking process is looked at again). */
double budget__wait_ns(const struct budget_pid *b, const struct budget_params *bp, double deficit_ns);

/* A detached interval ends at r (the probes are about to be attached): accrue tokens, learn the
 * target's CPU and system-time rates. */
void budget__detached(struct budget_pid *b, const struct budget_params *bp, const struct budget_reading *r);

/*
 * A slice ends at r (the probes are out): hits (weighted) were counted while attached, during
 * observed_s seconds.  Charges the slice, learns the hit cost, adds observed_s to observed_ns.
 */
void budget__slice(struct budget_pid *b, const struct budget_params *bp, const struct budget_reading *r,
		   double hits, double observed_s);

/* The slice scheduler's constants, shared by every duty-cycled probe set (alloc.c, native.c). */
/*
 * Budget slices: long enough to count BUDGET_SLICE_HITS probe hits of the busiest target (a ~1% relative
 * error per slice), within [BUDGET_MIN_SLICE_S, BUDGET_MAX_SLICE_S]: attaching takes a few ms (the edges blur
 * the observed time), and a slice is a measurement, not a stay.  Between slices the scheduler
 * looks again after BUDGET_MIN_WAIT_S..BUDGET_MAX_WAIT_S, and closes a process's books (learning its CPU rate)
 * when BUDGET_CHECK_BOOKS_NS have passed since their last boundary.
 */
#define BUDGET_SLICE_HITS 10000.0
#define BUDGET_MIN_SLICE_S 0.01
#define BUDGET_MAX_SLICE_S 0.1
#define BUDGET_FIRST_SLICE_S 0.005 /* before any slice the cost is assumed worst: keep it small */
#define BUDGET_MIN_WAIT_S 0.02
#define BUDGET_CHECK_BOOKS_NS 200000000ull
#define BUDGET_MAX_WAIT_S 1.0
#define BUDGET_CAP_S 10.0     /* the bucket holds PCT% of 10 s of the target's CPU at most */
#define BUDGET_PRIOR_HITS 5000 /* the default hit cost counts as this many measured hits */
/* Plan for half the budget: the target's system time shows the traps and the BPF programs but
 * not the cache and TLB refills its own code pays after each trap (user time).  Measured side by
 * side on the 2-vCPU KVM guest (pyenv 3.12, alloc_heavy): system time accounted for ~1.3 µs of
 * the ~1.9 µs a hit cost, and planning for 3/4 of a 2% budget gave a 1.9% median slowdown. */
#define BUDGET_PLAN 0.5

#endif /* PYLEAK_BUDGET_H */
