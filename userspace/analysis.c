/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-process analysis on top of the GC model: periodic censuses, growth trends, leak verdicts. */
#include "analysis.h"
#include "census.h"
#include "common.h"
#include "leak.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Series kept per process; the least interesting are evicted (bounded memory per target). */
#define MAX_TYPE_SERIES 256
#define MAX_CONTAINER_SERIES 64

struct tseries {
	struct leak_series s;
	int64_t count, bytes, prev_count;
	double bytes_per_min;
	uint64_t addr; /* containers: the object; 0 for types */
	char type[64];
	bool in_last; /* seen in the newest census */
};

struct analysis {
	struct pyobj_types *types; /* type-name cache across censuses */
	double next_census;
	double last_census_s;
	struct tseries *tser; /* MAX_TYPE_SERIES */
	int ntser;
	struct tseries *cser; /* MAX_CONTAINER_SERIES */
	int ncser;
	struct leak_series garbage, rss, tracked;
	/* Verdicts on types and containers change only when a census runs: kept between censuses. */
	int ncensus_suspects;
	struct suspect census_suspects[MODEL_MAX_SUSPECTS];
};

void analysis__default_opts(struct analysis_opts *o)
{
	o->census = true;
	o->cpu_budget = 0.02;
	o->min_period_s = 2.0;
	o->max_period_s = 60.0;
}

void analysis__free(struct proc_row *row)
{
	struct analysis *a = row->ext;

	if (!a)
		return;
	pyobj_types__free(a->types);
	free(a->tser);
	free(a->cser);
	free(a);
	row->ext = NULL;
}

static struct analysis *get_state(struct proc_row *row)
{
	struct analysis *a = row->ext;

	if (a)
		return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->tser = calloc(MAX_TYPE_SERIES, sizeof(*a->tser));
	a->cser = calloc(MAX_CONTAINER_SERIES, sizeof(*a->cser));
	if (!a->tser || !a->cser) {
		free(a->tser);
		free(a->cser);
		free(a);
		return NULL;
	}
	row->ext = a;
	return a;
}

static struct tseries *series_for(struct tseries *arr, int *n, int max, const char *name, uint64_t addr)
{
	int i, victim = -1;

	for (i = 0; i < *n; i++)
		if (arr[i].addr == addr && !strcmp(arr[i].s.name, name))
			return &arr[i];
	if (*n < max) {
		victim = (*n)++;
	} else {
		/* Evict the series not seen for longest (then the smallest): a type that died out. */
		for (i = 0; i < *n; i++)
			if (victim < 0 || arr[i].s.last_seen < arr[victim].s.last_seen ||
			    (arr[i].s.last_seen == arr[victim].s.last_seen && arr[i].count < arr[victim].count))
				victim = i;
	}
	memset(&arr[victim], 0, sizeof(arr[victim]));
	copy_str(arr[victim].s.name, sizeof(arr[victim].s.name), name);
	arr[victim].addr = addr;
	return &arr[victim];
}

/* Trends use the newest TREND_WINDOW points: O(n^2) pairs per series, for hundreds of series. */
#define TREND_WINDOW 60

static void series_trend(const struct leak_series *s, struct trend *tr)
{
	static double t[LEAK_MAX_POINTS], v[LEAK_MAX_POINTS];
	int n = leak_series__points(s, t, v), skip = n > TREND_WINDOW ? n - TREND_WINDOW : 0;

	trend__compute(t + skip, v + skip, n - skip, tr);
}

static void run_census(struct proc_row *row, struct analysis *a, struct remote *r, double now)
{
	struct census_opts co = { .budget_s = 5.0 };
	struct census *c = NULL;
	const struct census_stats *st;
	size_t i, n;
	int k, err;

	if (!a->types)
		a->types = pyobj_types__new(row->target.layout);
	co.types = a->types;
	co.top_containers = MODEL_MAX_CONTAINERS;
	err = census__run(&row->target, r, &co, &c);
	if (err) {
		snprintf(row->note, sizeof(row->note), "census failed: %s", strerror(-err));
		return;
	}
	st = census__stats(c);
	a->last_census_s = (st->walk_ms + st->arena_ms) / 1000.0;
	row->census_time = now;
	row->census_ms = st->walk_ms + st->arena_ms;
	row->census_inconsistencies = st->broken_links + st->unreadable + st->bad_pointers + st->unknown_types;
	row->live_objects = census__total_objects(c);
	leak_series__add(&a->tracked, now, (double)row->live_objects);

	for (k = 0; k < a->ntser; k++)
		a->tser[k].in_last = false;
	n = census__ntypes(c);
	for (i = 0; i < n; i++) {
		const struct census_type *ct = census__type(c, i);
		struct tseries *ts;

		/* Small types cannot be leaks worth naming; bound the work on huge heaps. */
		if (i >= MAX_TYPE_SERIES && ct->count < 100)
			break;
		ts = series_for(a->tser, &a->ntser, MAX_TYPE_SERIES, ct->name, 0);
		ts->prev_count = ts->s.n ? ts->count : ct->count;
		ts->count = ct->count;
		ts->bytes = ct->bytes;
		ts->in_last = true;
		leak_series__add(&ts->s, now, (double)ct->count);
	}
	/* Types that vanished from the census count as 0 now (their series keeps its history). */
	for (k = 0; k < a->ntser; k++)
		if (!a->tser[k].in_last && a->tser[k].count) {
			a->tser[k].prev_count = a->tser[k].count;
			a->tser[k].count = 0;
			a->tser[k].bytes = 0;
			leak_series__add(&a->tser[k].s, now, 0);
		}

	for (k = 0; k < a->ncser; k++)
		a->cser[k].in_last = false;
	n = census__ncontainers(c);
	for (i = 0; i < n; i++) {
		const struct census_container *cc = census__container(c, i);
		struct tseries *cs;
		char name[MODEL_NAME_MAX];

		snprintf(name, sizeof(name), "%s@0x%llx", cc->type_name ? cc->type_name : "container",
			 (unsigned long long)cc->addr);
		cs = series_for(a->cser, &a->ncser, MAX_CONTAINER_SERIES, name, cc->addr);
		cs->prev_count = cs->s.n ? cs->count : cc->len;
		cs->count = cc->len;
		cs->in_last = true;
		copy_str(cs->type, sizeof(cs->type), cc->type_name ? cc->type_name : "?");
		leak_series__add(&cs->s, now, (double)cc->len);
	}
	census__free(c);
}

static int cmp_type_rows(const void *a, const void *b)
{
	const struct type_row *x = a, *y = b;

	return (x->count < y->count) - (x->count > y->count);
}

static int cmp_container_rows(const void *a, const void *b)
{
	const struct container_row *x = a, *y = b;

	return (x->len < y->len) - (x->len > y->len);
}

static int cmp_suspects(const void *a, const void *b)
{
	const struct suspect *x = a, *y = b;

	if (x->confidence != y->confidence)
		return (x->confidence < y->confidence) - (x->confidence > y->confidence);
	return (x->per_min < y->per_min) - (x->per_min > y->per_min);
}

static void add_suspect(struct proc_row *row, enum suspect_kind kind, const char *name, double per_min,
			double conf, const char *evidence)
{
	struct suspect *s;

	if (row->nsuspects >= MODEL_MAX_SUSPECTS)
		return;
	s = &row->suspects[row->nsuspects++];
	s->kind = kind;
	copy_str(s->name, sizeof(s->name), name);
	s->per_min = per_min;
	s->confidence = conf;
	copy_str(s->evidence, sizeof(s->evidence), evidence);
}

static void fill_rows(struct proc_row *row, struct analysis *a, const struct leak_policy *pol)
{
	char ev[320];
	double conf;
	int k, j;

	row->ntypes = 0;
	for (k = 0; k < a->ntser; k++) {
		struct tseries *ts = &a->tser[k];
		struct type_row *tr;
		struct trend trd;
		double t[MODEL_SPARK], v[MODEL_SPARK];
		static double allt[LEAK_MAX_POINTS], allv[LEAK_MAX_POINTS];
		int n, first;

		if (!ts->in_last && !ts->count)
			continue;
		series_trend(&ts->s, &trd);
		if (leak__is_growing(&trd, pol, &conf)) {
			snprintf(ev, sizeof(ev),
				 "%.0f -> %.0f live objects over %.0f s (%d censuses), Theil-Sen %+.0f/min, still growing "
				 "(%+.0f/min in the newer half), Mann-Kendall confidence %.4f",
				 trd.first, trd.last, trd.span_s, trd.n, trd.slope_per_min, trd.late_slope_per_min, conf);
			add_suspect(row, SUSPECT_TYPE, ts->s.name, trd.slope_per_min, conf, ev);
		}
		if (row->ntypes >= MODEL_MAX_TYPES) {
			/* Keep the fastest growers even when they are not among the largest. */
			int smallest = 0;
			for (j = 1; j < row->ntypes; j++)
				if (row->types[j].count < row->types[smallest].count)
					smallest = j;
			if (trd.slope_per_min <= 0 || row->types[smallest].per_min >= trd.slope_per_min)
				continue;
			tr = &row->types[smallest];
		} else {
			tr = &row->types[row->ntypes++];
		}
		memset(tr, 0, sizeof(*tr));
		copy_str(tr->name, sizeof(tr->name), ts->s.name);
		tr->count = ts->count;
		tr->bytes = ts->bytes;
		tr->per_min = trd.n >= 3 ? trd.slope_per_min : 0;
		tr->bytes_per_min = ts->count ? tr->per_min * ((double)ts->bytes / ts->count) : 0;
		tr->delta = ts->count - ts->prev_count;
		n = leak_series__points(&ts->s, allt, allv);
		first = n > MODEL_SPARK ? n - MODEL_SPARK : 0;
		for (j = first; j < n; j++)
			tr->spark[tr->nspark++] = (int64_t)allv[j];
		(void)t;
		(void)v;
	}
	qsort(row->types, row->ntypes, sizeof(row->types[0]), cmp_type_rows);

	row->ncontainers = 0;
	for (k = 0; k < a->ncser && row->ncontainers < MODEL_MAX_CONTAINERS; k++) {
		struct tseries *cs = &a->cser[k];
		struct container_row *cr;
		struct trend trd;

		if (!cs->in_last)
			continue;
		series_trend(&cs->s, &trd);
		cr = &row->containers[row->ncontainers++];
		memset(cr, 0, sizeof(*cr));
		copy_str(cr->name, sizeof(cr->name), cs->s.name);
		copy_str(cr->type, sizeof(cr->type), cs->type);
		cr->addr = cs->addr;
		cr->len = cs->count;
		cr->per_min = trd.n >= 3 ? trd.slope_per_min : 0;
		if (leak__is_growing(&trd, pol, &conf)) {
			snprintf(ev, sizeof(ev),
				 "len %.0f -> %.0f over %.0f s (%d censuses), Theil-Sen %+.0f items/min, Mann-Kendall "
				 "confidence %.4f",
				 trd.first, trd.last, trd.span_s, trd.n, trd.slope_per_min, conf);
			add_suspect(row, SUSPECT_CONTAINER, cr->name, trd.slope_per_min, conf, ev);
		}
	}
	qsort(row->containers, row->ncontainers, sizeof(row->containers[0]), cmp_container_rows);
}

static void gc_verdicts(struct proc_row *row, struct analysis *a, const struct leak_policy *pol, double now)
{
	struct leak_policy gpol = *pol;
	struct trend trd;
	char ev[320];
	double conf;

	if (row->garbage >= 0)
		leak_series__add(&a->garbage, now, (double)row->garbage);
	/* gc.garbage never shrinks by itself: any steady growth is worth naming. */
	gpol.min_slope_per_min = 1;
	series_trend(&a->garbage, &trd);
	if (leak__is_growing(&trd, &gpol, &conf)) {
		snprintf(ev, sizeof(ev),
			 "len(gc.garbage) %.0f -> %.0f over %.0f s: uncollectable cycles (legacy finalizers) or "
			 "gc.DEBUG_SAVEALL keep them; uncollectable counters %lld/%lld/%lld",
			 trd.first, trd.last, trd.span_s, (long long)row->uncollectable[0],
			 (long long)row->uncollectable[1], (long long)row->uncollectable[2]);
		add_suspect(row, SUSPECT_GARBAGE, "gc.garbage", trd.slope_per_min, conf, ev);
	}
	leak_series__add(&a->rss, now, (double)row->rss);
}

/* RSS that grows while the Python heap does not is native memory or fragmentation, not objects. */
static void rss_verdict(struct proc_row *row, struct analysis *a, const struct leak_policy *pol)
{
	struct leak_policy rpol = *pol;
	struct trend rss, tracked;
	double conf, tconf;
	char ev[320];
	int k;

	rpol.min_slope_per_min = 1024 * 1024; /* 1 MiB/min: page-granular noise below that */
	series_trend(&a->rss, &rss);
	if (!leak__is_growing(&rss, &rpol, &conf))
		return;
	for (k = 0; k < row->nsuspects; k++)
		if (row->suspects[k].kind == SUSPECT_TYPE || row->suspects[k].kind == SUSPECT_CONTAINER)
			return; /* explained by the objects already named */
	series_trend(&a->tracked, &tracked);
	snprintf(ev, sizeof(ev),
		 "RSS %.1f -> %.1f MiB over %.0f s (%+.1f MiB/min) while tracked objects %s (%.0f -> %.0f): "
		 "native allocations, untracked objects (try census --all-objects) or allocator fragmentation",
		 rss.first / 1048576, rss.last / 1048576, rss.span_s, rss.slope_per_min / 1048576,
		 leak__is_growing(&tracked, pol, &tconf) ? "grow too" : "stay flat", tracked.first, tracked.last);
	add_suspect(row, SUSPECT_RSS, "rss", rss.slope_per_min, conf, ev);
}

void analysis__update(struct proc_row *row, struct remote *r, const struct analysis_opts *o, int nprocs,
		      double now)
{
	struct analysis *a = get_state(row);
	struct leak_policy pol;

	if (!a || !row->gc_valid)
		return;
	leak__default_policy(&pol);
	if (o->census && now >= a->next_census) {
		double period;

		run_census(row, a, r, now);
		row->nsuspects = 0;
		fill_rows(row, a, &pol);
		a->ncensus_suspects = row->nsuspects;
		memcpy(a->census_suspects, row->suspects, sizeof(row->suspects[0]) * row->nsuspects);
		/* Adapt: n processes × (walk time / period) <= budget of one core. */
		period = a->last_census_s * (nprocs > 0 ? nprocs : 1) / (o->cpu_budget > 0 ? o->cpu_budget : 0.02);
		if (period < o->min_period_s)
			period = o->min_period_s;
		if (period > o->max_period_s)
			period = o->max_period_s;
		row->census_period = period;
		a->next_census = now + period;
	}
	row->nsuspects = a->ncensus_suspects;
	memcpy(row->suspects, a->census_suspects, sizeof(row->suspects[0]) * a->ncensus_suspects);
	gc_verdicts(row, a, &pol, now);
	rss_verdict(row, a, &pol);
	qsort(row->suspects, row->nsuspects, sizeof(row->suspects[0]), cmp_suspects);
}
