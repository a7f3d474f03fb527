/* SPDX-License-Identifier: BSD-2-Clause */
/* Reports of a loaded trace: the per-process figures every format shares, and the format dispatch. */
#include "trace/report_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"
#include "model/gcstats.h"

/* ------------------------------------------------------------------------------------------ */
/* summary: the numbers every format shares                                                     */

/* Sums over rows of a file that may be hostile: saturate instead of overflowing. */
int64_t report__sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double rank(const double *v, size_t n, double q)
{
	size_t r = (size_t)ceil(q * (double)n);

	if (!n)
		return -1;
	if (r < 1)
		r = 1;
	return v[MIN(r, n) - 1];
}

static void pauses_from_events(struct proc_sum *s)
{
	const struct trace_proc *p = s->p;
	double *d = p->nevents ? malloc((size_t)p->nevents * sizeof(*d)) : NULL;
	int g, i;

	for (g = 0; g < TRACE_NGEN; g++) {
		struct pause_fig *f = &s->pause[g];
		size_t n = 0;

		f->p50_us = f->p90_us = f->p99_us = f->max_us = -1;
		for (i = 0; i < p->nevents; i++) {
			if (p->events[i].generation != g)
				continue;
			f->count++;
			f->sum_us += p->events[i].duration_us;
			if (d)
				d[n++] = p->events[i].duration_us;
		}
		if (n) {
			sort_array(d, n, sizeof(*d), cmp_double);
			f->p50_us = rank(d, n, 0.50);
			f->p90_us = rank(d, n, 0.90);
			f->p99_us = rank(d, n, 0.99);
			f->max_us = d[n - 1];
		}
	}
	for (i = 0; i < p->nevents; i++) {
		const struct trace_event *e = &p->events[i];

		if (e->generation < 0)
			s->ev_unknown_gen++;
		if (e->collected > 0)
			s->ev_collected = report__sat_add(s->ev_collected, e->collected);
		if (e->uncollectable > 0)
			s->ev_uncollectable = report__sat_add(s->ev_uncollectable, e->uncollectable);
	}
	free(d);
}

static void pauses_from_hist(struct proc_sum *s)
{
	int g, i;

	for (g = 0; g < TRACE_NGEN; g++) {
		uint32_t slots[TRACE_HIST_SLOTS];
		struct pause_fig *f = &s->pause[g];
		uint64_t us;

		f->hist_p50_us = f->hist_p99_us = -1;
		for (i = 0; i < TRACE_HIST_SLOTS; i++) {
			slots[i] = s->p->hist[g][i] > UINT32_MAX ? UINT32_MAX : (uint32_t)s->p->hist[g][i];
			f->hist_count += slots[i];
		}
		if (!pause_hist__percentile(slots, TRACE_HIST_SLOTS, 0.50, &us))
			f->hist_p50_us = (int64_t)us;
		if (!pause_hist__percentile(slots, TRACE_HIST_SLOTS, 0.99, &us))
			f->hist_p99_us = (int64_t)us;
	}
}

static double rss_slope(const struct trace_proc *p)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, t0, n = p->nsamples, den;
	int i;

	if (p->nsamples < 2)
		return 0;
	t0 = p->samples[0].time;
	for (i = 0; i < p->nsamples; i++) {
		double x = p->samples[i].time - t0, y = (double)p->samples[i].rss;

		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
	}
	den = n * sxx - sx * sx;
	if (den <= 0)
		return 0;
	return (n * sxy - sx * sy) / den * 60.0;
}

static int cmp_growth(const void *a, const void *b)
{
	const struct growth *x = a, *y = b;
	int64_t dx = x->last - x->first, dy = y->last - y->first;

	return dx > dy ? -1 : dx < dy;
}

/* Rows are sorted by (proc, name, time): one growth per name of this process, top by growth. */
int report__growth_of(const struct trace *t, enum trace_aux_kind k, int pi, struct growth *out, int max)
{
	struct growth all[256];
	int n = 0, i, kept = 0;

	for (i = 0; i < t->naux[k]; i++) {
		const struct trace_aux *a = &t->aux[k][i];
		struct growth *g;

		if (a->proc != pi)
			continue;
		g = n ? &all[n - 1] : NULL;
		if (!g || strcmp(g->name, a->name)) {
			if (n == (int)ARRAY_SIZE(all)) {
				/* keep the best so far and make room */
				sort_array(all, n, sizeof(all[0]), cmp_growth);
				n = max;
			}
			g = &all[n++];
			memset(g, 0, sizeof(*g));
			g->name = a->name;
			g->kind = a->kind;
			g->first_time = a->time;
			g->first = a->count;
		}
		g->last_time = a->time;
		g->last = a->count;
		g->bytes = a->bytes;
	}
	sort_array(all, n, sizeof(all[0]), cmp_growth);
	for (i = 0; i < n && kept < max; i++) {
		struct growth *g = &all[i];

		if (g->last - g->first <= 0)
			break;
		g->per_min = g->last_time > g->first_time ? (g->last - g->first) / (g->last_time - g->first_time) * 60 : 0;
		out[kept++] = *g;
	}
	return kept;
}

static int cmp_site(const void *a, const void *b)
{
	const struct growth *x = a, *y = b;

	return x->last > y->last ? -1 : x->last < y->last;
}

static int sites_of(const struct trace *t, int pi, struct growth *out, int max)
{
	struct growth all[256];
	int n = 0, i;

	/* sorted by (proc, stack): sum the per-interval counts of each stack */
	for (i = 0; i < t->naux[TRACE_SITES]; i++) {
		const struct trace_aux *a = &t->aux[TRACE_SITES][i];
		struct growth *g = n ? &all[n - 1] : NULL;

		if (a->proc != pi)
			continue;
		if (!g || strcmp(g->name, a->name)) {
			if (n == (int)ARRAY_SIZE(all)) {
				sort_array(all, n, sizeof(all[0]), cmp_site);
				n = max;
			}
			g = &all[n++];
			memset(g, 0, sizeof(*g));
			g->name = a->name;
		}
		g->last = report__sat_add(g->last, a->count > 0 ? a->count : 0);
		g->bytes = report__sat_add(g->bytes, a->bytes > 0 ? a->bytes : 0);
	}
	sort_array(all, n, sizeof(all[0]), cmp_site);
	n = MIN(n, max);
	memcpy(out, all, (size_t)n * sizeof(all[0]));
	return n;
}

static int cmp_survivor(const void *pa, const void *pb)
{
	const struct growth *x = pa, *y = pb;

	if (x->last != y->last)
		return x->last > y->last ? -1 : 1;
	return (x->bytes < y->bytes) - (x->bytes > y->bytes);
}

/* The (type, stack) rows of process pi's survivor samples with the most alive. */
static int survivors_of(const struct trace *t, int pi, struct growth *out, int max)
{
	struct growth *all;
	int n = 0, i;

	all = calloc((size_t)t->naux[TRACE_SURVIVORS] + 1, sizeof(*all));
	if (!all)
		return 0;
	for (i = 0; i < t->naux[TRACE_SURVIVORS]; i++) {
		const struct trace_aux *a = &t->aux[TRACE_SURVIVORS][i];
		struct growth *g;

		if (a->proc != pi)
			continue;
		g = &all[n++];
		g->name = a->name;
		g->kind = a->kind;
		g->last = a->count > 0 ? a->count : 0;
		g->first = a->per_min > 0 && a->per_min < 9e18 ? (int64_t)a->per_min : 0;
		g->bytes = a->bytes > 0 ? a->bytes : 0;
		g->last_time = a->time;
	}
	sort_array(all, n, sizeof(all[0]), cmp_survivor);
	n = MIN(n, max);
	memcpy(out, all, (size_t)n * sizeof(all[0]));
	free(all);
	return n;
}

/* Process pi's native stacks of its last recorded verification walk (the rows are loaded by proc,
 * time, bytes descending: the newest time's rows are the last run of pi's rows). */
int report__native_of(const struct trace *t, int pi, struct growth *out, int max)
{
	const struct trace_aux *rows = t->aux[TRACE_NATIVE];
	int i, last = -1, first, n = 0;

	for (i = 0; i < t->naux[TRACE_NATIVE]; i++)
		if (rows[i].proc == pi)
			last = i;
	if (last < 0)
		return 0;
	for (first = last; first > 0 && rows[first - 1].proc == pi && rows[first - 1].time == rows[last].time;)
		first--;
	for (i = first; i <= last && n < max; i++) {
		struct growth *g = &out[n++];

		memset(g, 0, sizeof(*g));
		g->name = rows[i].name;
		g->kind = rows[i].kind;
		g->bytes = rows[i].bytes > 0 ? rows[i].bytes : 0;
		g->last = rows[i].count > 0 ? rows[i].count : 0;
		g->per_min = isfinite(rows[i].per_min) ? rows[i].per_min : 0;
		g->last_time = rows[i].time;
	}
	return n;
}

void report__summarise(const struct trace *t, int pi, struct proc_sum *s)
{
	const struct trace_proc *p = &t->procs[pi];
	double last_time = -1;
	int i;

	memset(s, 0, sizeof(*s));
	s->p = p;
	s->gc_time_pct = -1;
	if (p->nsamples) {
		s->first = &p->samples[0];
		s->last = &p->samples[p->nsamples - 1];
		s->duration_s = s->last->time - s->first->time;
		s->rss_min = UINT64_MAX;
		for (i = 0; i < p->nsamples; i++) {
			const struct trace_sample *x = &p->samples[i];

			s->rss_min = MIN(s->rss_min, x->rss);
			s->rss_max = MAX(s->rss_max, x->rss);
			if (x->gc_valid) {
				if (!s->first_gc)
					s->first_gc = x;
				s->last_gc = x;
			}
		}
		s->rss_slope_per_min = rss_slope(p);
		if (s->duration_s > 0 && s->last->gc_time_us >= s->first->gc_time_us)
			s->gc_time_pct = (double)(s->last->gc_time_us - s->first->gc_time_us) / (s->duration_s * 1e6) * 100;
	}
	pauses_from_events(s);
	pauses_from_hist(s);
	s->ntypes = report__growth_of(t, TRACE_TYPES, pi, s->types, TOP_N);
	s->ncontainers = report__growth_of(t, TRACE_CONTAINERS, pi, s->containers, TOP_N);
	/* suspects: the verdicts of the newest interval that had any */
	for (i = t->naux[TRACE_SUSPECTS] - 1; i >= 0; i--) {
		const struct trace_aux *a = &t->aux[TRACE_SUSPECTS][i];

		if (a->proc != pi)
			continue;
		if (last_time < 0)
			last_time = a->time;
		if (a->time != last_time || s->nsuspects == TOP_N)
			break;
		s->suspects[s->nsuspects++] = a;
	}
	s->nsites = sites_of(t, pi, s->sites, TOP_N);
	s->nsurvivors = survivors_of(t, pi, s->survivors, TOP_N);
	s->nnative = report__native_of(t, pi, s->native, TOP_N);
}

/* Where the timelines of the chrome and html formats start: the earliest time in the trace. */
double report__t0(const struct trace *t)
{
	double t0 = t->meta.start_time;
	int i;

	for (i = 0; i < t->nprocs; i++) {
		if (t->procs[i].nsamples && t->procs[i].samples[0].time < t0)
			t0 = t->procs[i].samples[0].time;
		if (t->procs[i].nevents && t->procs[i].events[0].time < t0)
			t0 = t->procs[i].events[0].time;
	}
	return t0;
}

/* ------------------------------------------------------------------------------------------ */

int report__parse_format(const char *name, enum report_format *out)
{
	static const char *const names[] = { "text", "json", "html", "csv", "chrome", "collapsed" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (name && !strcmp(name, names[i])) {
			*out = (enum report_format)i;
			return 0;
		}
	return -EINVAL;
}

int report__write(const struct trace *t, enum report_format fmt, FILE *out)
{
	int err;

	switch (fmt) {
	case REPORT_TEXT: err = report__write_text(t, out); break;
	case REPORT_JSON: err = report__write_json(t, out); break;
	case REPORT_HTML: err = report__write_html(t, out); break;
	case REPORT_CSV: err = report__write_csv(t, out); break;
	case REPORT_CHROME: err = report__write_chrome(t, out); break;
	case REPORT_COLLAPSED: err = report__write_collapsed(t, out); break;
	case REPORT_COLLAPSED_SURVIVORS: err = report__write_collapsed_survivors(t, out); break;
	case REPORT_COLLAPSED_NATIVE: err = report__write_collapsed_native(t, out); break;
	default: return -EINVAL;
	}
	if (!err && (fflush(out) || ferror(out)))
		err = -EIO;
	return err;
}
