/* SPDX-License-Identifier: BSD-2-Clause */
/* What the report formats share: the figures of one process, and the writers one format reuses. */
#ifndef PYLEAK_REPORT_INTERNAL_H
#define PYLEAK_REPORT_INTERNAL_H

/*
 * One file per family of formats: report.c (the figures and report__write's dispatch),
 * report_text.c, report_html.c and report_machine.c (json, csv, chrome, collapsed).  Only
 * report.h is for the rest of pyleak.
 */

#include <stdint.h>
#include <stdio.h>

#include "trace/report.h"

#define TOP_N 10

/* summary: the numbers every format shares */

struct pause_fig {
	uint64_t count;
	double sum_us, max_us, p50_us, p90_us, p99_us; /* from events; -1 none */
	int64_t hist_p50_us, hist_p99_us;	       /* from the kernel histogram; -1 none */
	uint64_t hist_count;
};

struct growth {
	const char *name, *kind;
	double first_time, last_time;
	int64_t first, last, bytes;
	double per_min;
};

struct proc_sum {
	const struct trace_proc *p;
	const struct trace_sample *first, *last;	    /* any sample */
	const struct trace_sample *first_gc, *last_gc; /* with gc_valid */
	double duration_s;
	double rss_slope_per_min;
	uint64_t rss_min, rss_max;
	double gc_time_pct; /* over the recording, -1 unknown */
	struct pause_fig pause[TRACE_NGEN];
	uint64_t ev_unknown_gen;
	int64_t ev_collected, ev_uncollectable;
	struct growth types[TOP_N], containers[TOP_N];
	int ntypes, ncontainers;
	int nsuspects;
	const struct trace_aux *suspects[TOP_N];
	struct growth sites[TOP_N];
	int nsites;
	/* survivor samples per (type, stack): name = stack, kind = type, last = alive,
	 * first = survived, bytes = sampled; by alive, largest first */
	struct growth survivors[TOP_N];
	int nsurvivors;
	/* native stacks of the last verification walk recorded (record --native): name = stack,
	 * kind = caller, bytes = estimated outstanding bytes, last = outstanding sampled blocks,
	 * per_min = growth bytes/min; by bytes, largest first */
	struct growth native[TOP_N];
	int nnative;
};

/* report.c */
/* Process pi's native stacks of its last recorded walk (at most max, by bytes); returns the count. */
#define REPORT_NATIVE_ROWS_MAX 64 /* >= the recorder's RECORD_NATIVE_MAX_STACKS per walk */
int report__native_of(const struct trace *t, int pi, struct growth *out, int max);
/* Saturating sum for rows of a file that may be hostile. */
int64_t report__sat_add(int64_t a, int64_t b);
/* The figures of process pi of t into *s (which is large: callers allocate it). */
void report__summarise(const struct trace *t, int pi, struct proc_sum *s);
/* The top (at most max) growing names of aux table k for process pi, by growth; returns the count. */
int report__growth_of(const struct trace *t, enum trace_aux_kind k, int pi, struct growth *out, int max);
double report__t0(const struct trace *t);

/* report_machine.c: the JSON writers html embeds, and each format's writer. 0 or -errno. */
void report_json__str(FILE *f, const char *s);
void report_json__num(FILE *f, double v);
int report__write_json(const struct trace *t, FILE *f);
int report__write_csv(const struct trace *t, FILE *f);
int report__write_chrome(const struct trace *t, FILE *f);
int report__write_collapsed(const struct trace *t, FILE *f);
/* report_groups.c: the process families section of the text report, and `,"groups":[...]`. */
void report_groups__text(const struct trace *t, FILE *f);
void report_groups__json(const struct trace *t, FILE *f);
int report__write_collapsed_survivors(const struct trace *t, FILE *f);
int report__write_collapsed_native(const struct trace *t, FILE *f);
/* report_text.c, report_html.c */
int report__write_text(const struct trace *t, FILE *f);
int report__write_html(const struct trace *t, FILE *f);

#endif /* PYLEAK_REPORT_INTERNAL_H */
