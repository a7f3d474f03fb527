/* SPDX-License-Identifier: BSD-2-Clause */
/* Leak statistics: robust growth trends over a sliding window, and the verdicts built on them. */
#ifndef PYLEAK_LEAK_H
#define PYLEAK_LEAK_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Points kept per series: the trend window (the analysis's and memory.c's trends read the newest
 * 60 points and nothing reads older ones), two minutes at the 2 s minimum census period. It was
 * 240: every type, container and untracked series of every process carried 2.9 KB of points
 * nothing read, most of the ~1 MiB pyleak held per watched process.
 */
#define LEAK_MAX_POINTS 60

struct trend {
	int n;		    /* points used */
	double span_s;	    /* time covered */
	double slope_per_min; /* Theil–Sen: median of pairwise slopes, units per minute */
	double late_slope_per_min; /* the same over the newer half: growth that stopped is warm-up */
	double mk_z;	    /* Mann–Kendall statistic, normalised */
	double confidence;  /* 1 - p of "no monotonic trend" (one-sided, upward), 0..1 */
	double first, last; /* values at both ends of the window */
};

/* Theil–Sen slope of y over x (units of y per unit of x); 0 for fewer than 2 points. */
double theil_sen_slope(const double *x, const double *y, int n);
/* Mann–Kendall S normalised to z (tie-corrected variance); 0 for fewer than 3 points. */
double mann_kendall_z(const double *y, int n);
/* One-sided upper-tail probability of the standard normal: P(Z > z). */
double normal_sf(double z);

/* Trend of one series (x in seconds). */
void trend__compute(const double *t, const double *y, int n, struct trend *out);

/* Thresholds of a growth verdict; defaults in leak__default_policy(). */
struct leak_policy {
	double min_span_s;	   /* watch at least this long before any verdict (e.g. 20 s) */
	double min_confidence;	   /* Mann–Kendall confidence, e.g. 0.99 */
	double min_slope_per_min;  /* absolute growth rate, e.g. 30 objects/min */
	double min_rel_growth;	   /* growth over the window relative to the size, e.g. 0.05 */
	double min_late_ratio;	   /* late slope / whole slope: below it the growth stopped (warm-up) */
};
void leak__default_policy(struct leak_policy *p);

/* Is this trend a leak by the policy? Fills a confidence in [0,1] (0 when not). */
bool leak__is_growing(const struct trend *tr, const struct leak_policy *p, double *confidence);

/*
 * A growing series keyed by name, with its points (a ring). The points are floats, 8 bytes where
 * two doubles were 16: pyleak keeps ~100 series per watched process (every type, container and
 * untracked series), and their points were a third of its memory per process. Times are kept
 * from a base, rebased before the offsets pass LEAK_REBASE_S (float offsets stay within 4 ms);
 * values are exact up to 2^24 (16.7 M objects) and within 6e-8 of themselves beyond, far inside
 * what a trend or a sparkline can show. Read them through leak_series__points.
 */
#define LEAK_REBASE_S 32768.0
struct leak_series {
	char name[160];
	double t0; /* time base of dt */
	float dt[LEAK_MAX_POINTS], v[LEAK_MAX_POINTS];
	int n, head;
	double last_seen;
	/* The trend of the points as of the adds-th point: verdicts read every series at every
	 * refresh, and an idle process's series gain no point for minutes (its Theil-Sen sorts
	 * were a quarter of pyleak's CPU over 1000 idle targets). memo_key = adds + 1 when valid,
	 * so a zeroed series has none. */
	uint64_t adds, memo_key;
	struct trend memo;
};
void leak_series__add(struct leak_series *s, double t, double v);
/* Copy out in time order; returns the count. */
int leak_series__points(const struct leak_series *s, double *t, double *v);
/* trend__compute over the newest points (all of them: the ring holds the trend window). */
void leak_series__trend(struct leak_series *s, struct trend *tr);

#endif /* PYLEAK_LEAK_H */
