/* SPDX-License-Identifier: BSD-2-Clause */
/* Renderers of a loaded trace: text, json, html, csv, chrome (trace events), collapsed stacks. */
#include "trace/report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"
#include "util/format.h"
#include "model/gcstats.h"

#define TOP_N 10
/* The HTML scatter of pauses keeps at most this many points per process (the longest ones win):
 * a browser draws 20k SVG circles quickly, 4M not at all. */
#define HTML_MAX_EVENTS 20000
#define HTML_MAX_SAMPLES 5000

/* ------------------------------------------------------------------------------------------ */
/* summary: the numbers every format shares                                                     */

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
};

/* Sums over rows of a file that may be hostile: saturate instead of overflowing. */
static int64_t sat_add(int64_t a, int64_t b)
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
			s->ev_collected = sat_add(s->ev_collected, e->collected);
		if (e->uncollectable > 0)
			s->ev_uncollectable = sat_add(s->ev_uncollectable, e->uncollectable);
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
static int growth_of(const struct trace *t, enum trace_aux_kind k, int pi, struct growth *out, int max)
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
		g->last = sat_add(g->last, a->count > 0 ? a->count : 0);
		g->bytes = sat_add(g->bytes, a->bytes > 0 ? a->bytes : 0);
	}
	sort_array(all, n, sizeof(all[0]), cmp_site);
	n = MIN(n, max);
	memcpy(out, all, (size_t)n * sizeof(all[0]));
	return n;
}

static void summarise(const struct trace *t, int pi, struct proc_sum *s)
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
	s->ntypes = growth_of(t, TRACE_TYPES, pi, s->types, TOP_N);
	s->ncontainers = growth_of(t, TRACE_CONTAINERS, pi, s->containers, TOP_N);
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
}

/* ------------------------------------------------------------------------------------------ */
/* output helpers                                                                               */

/* A JSON string; '<' is escaped too so the same text is safe inside an HTML <script>. */
static void jstr(FILE *f, const char *s)
{
	const unsigned char *p;

	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f || *p == '<' || *p == '>' || *p == '&')
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void jnum(FILE *f, double v)
{
	if (!isfinite(v))
		fputs("null", f);
	else if (v == floor(v) && fabs(v) < 9e15)
		fprintf(f, "%.0f", v);
	else
		fprintf(f, "%.6f", v);
}

static void jopt(FILE *f, double v)
{
	if (v < 0)
		fputs("null", f);
	else
		jnum(f, v);
}

static void ji64s(FILE *f, const int64_t *v, int n)
{
	int i;

	fputc('[', f);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%lld", i ? "," : "", (long long)v[i]);
	fputc(']', f);
}

static const char *nz(const char *s)
{
	return s && *s ? s : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* json                                                                                          */

static void json_growth(FILE *f, const char *key, const struct growth *g, int n, const char *count_key)
{
	int i;

	fprintf(f, ",\"%s\":[", key);
	for (i = 0; i < n; i++) {
		fputs(i ? ",{\"name\":" : "{\"name\":", f);
		jstr(f, g[i].name);
		if (g[i].kind) {
			fputs(",\"type\":", f);
			jstr(f, g[i].kind);
		}
		fprintf(f, ",\"first_%s\":%lld,\"last_%s\":%lld,\"delta\":%lld,\"per_min\":", count_key,
			(long long)g[i].first, count_key, (long long)g[i].last, (long long)(g[i].last - g[i].first));
		jnum(f, g[i].per_min);
		fputs(",\"bytes\":", f);
		jopt(f, (double)g[i].bytes);
		fputc('}', f);
	}
	fputc(']', f);
}

static void json_process(FILE *f, const struct trace *t, const struct proc_sum *s)
{
	const struct trace_proc *p = s->p;
	const struct trace_sample *l = s->last_gc, *fs = s->first_gc;
	int g, i;

	(void)t;
	fprintf(f, "{\"pid\":%d,\"ns_pid\":%d,\"start_ticks\":%llu,\"comm\":", p->pid, p->ns_pid,
		(unsigned long long)p->start_ticks);
	jstr(f, p->comm);
	fputs(",\"cmdline\":", f);
	jstr(f, p->cmdline);
	fputs(",\"exe\":", f);
	jstr(f, p->exe);
	fputs(",\"python\":", f);
	jstr(f, nz(p->python));
	fputs(",\"gc_source\":", f);
	jstr(f, nz(p->gc_source));
	fputs(",\"container_id\":", f);
	jstr(f, nz(p->container_id));
	fputs(",\"note\":", f);
	jstr(f, nz(p->note));
	fputs(",\"first_seen\":", f);
	jnum(f, p->first_seen);
	fputs(",\"last_seen\":", f);
	jnum(f, p->last_seen);
	fprintf(f, ",\"exited\":%s,\"samples\":%d,\"gc_events\":%d,\"duration_s\":", p->exited ? "true" : "false",
		p->nsamples, p->nevents);
	jnum(f, s->duration_s);
	if (l) {
		int64_t d[TRACE_NGEN];

		fputs(",\"gc\":{\"collections\":", f);
		ji64s(f, l->collections, TRACE_NGEN);
		fputs(",\"collected\":", f);
		ji64s(f, l->collected, TRACE_NGEN);
		fputs(",\"uncollectable\":", f);
		ji64s(f, l->uncollectable, TRACE_NGEN);
		fprintf(f, ",\"garbage\":%lld,\"enabled\":%s,\"thresholds\":", (long long)l->garbage,
			l->enabled > 0 ? "true" : "false");
		ji64s(f, l->thresholds, TRACE_NGEN);
		fputs(",\"counts\":", f);
		ji64s(f, l->counts, TRACE_NGEN);
		fputs("},\"gc_during\":{\"collections\":", f);
		for (g = 0; g < TRACE_NGEN; g++)
			d[g] = l->collections[g] - fs->collections[g];
		ji64s(f, d, TRACE_NGEN);
		fputs(",\"collected\":", f);
		for (g = 0; g < TRACE_NGEN; g++)
			d[g] = l->collected[g] - fs->collected[g];
		ji64s(f, d, TRACE_NGEN);
		fputs(",\"uncollectable\":", f);
		for (g = 0; g < TRACE_NGEN; g++)
			d[g] = l->uncollectable[g] - fs->uncollectable[g];
		ji64s(f, d, TRACE_NGEN);
		fputc('}', f);
	} else {
		fputs(",\"gc\":null,\"gc_during\":null", f);
	}
	fprintf(f, ",\"events\":{\"count\":[%llu,%llu,%llu],\"unknown_gen\":%llu,\"collected\":%lld,\"uncollectable\":%lld}",
		(unsigned long long)s->pause[0].count, (unsigned long long)s->pause[1].count,
		(unsigned long long)s->pause[2].count, (unsigned long long)s->ev_unknown_gen,
		(long long)s->ev_collected, (long long)s->ev_uncollectable);
	fputs(",\"pauses_us\":[", f);
	for (g = 0; g < TRACE_NGEN; g++) {
		const struct pause_fig *pf = &s->pause[g];

		fprintf(f, "%s{\"count\":%llu,\"sum\":", g ? "," : "", (unsigned long long)pf->count);
		jnum(f, pf->sum_us);
		fputs(",\"max\":", f);
		jopt(f, pf->max_us);
		fputs(",\"p50\":", f);
		jopt(f, pf->p50_us);
		fputs(",\"p90\":", f);
		jopt(f, pf->p90_us);
		fputs(",\"p99\":", f);
		jopt(f, pf->p99_us);
		fprintf(f, ",\"hist_count\":%llu,\"hist_p50\":", (unsigned long long)pf->hist_count);
		jopt(f, (double)pf->hist_p50_us);
		fputs(",\"hist_p99\":", f);
		jopt(f, (double)pf->hist_p99_us);
		fputc('}', f);
	}
	fputs("],\"pauses_estimated\":", f);
	fputs(s->last && s->last->pauses_estimated ? "true" : "false", f);
	fputs(",\"gc_time_pct\":", f);
	jopt(f, s->gc_time_pct);
	if (s->first) {
		fprintf(f, ",\"rss\":{\"start\":%llu,\"end\":%llu,\"min\":%llu,\"max\":%llu,\"slope_bytes_per_min\":",
			(unsigned long long)s->first->rss, (unsigned long long)s->last->rss,
			(unsigned long long)s->rss_min, (unsigned long long)s->rss_max);
		jnum(f, s->rss_slope_per_min);
		fputs("},\"live_objects\":{\"start\":", f);
		jopt(f, (double)s->first->live_objects);
		fputs(",\"end\":", f);
		jopt(f, (double)s->last->live_objects);
		fputc('}', f);
	} else {
		fputs(",\"rss\":null,\"live_objects\":null", f);
	}
	json_growth(f, "types", s->types, s->ntypes, "count");
	json_growth(f, "containers", s->containers, s->ncontainers, "length");
	fputs(",\"suspects\":[", f);
	for (i = 0; i < s->nsuspects; i++) {
		const struct trace_aux *a = s->suspects[i];

		fputs(i ? ",{\"kind\":" : "{\"kind\":", f);
		jstr(f, a->kind);
		fputs(",\"name\":", f);
		jstr(f, a->name);
		fputs(",\"per_min\":", f);
		jnum(f, a->per_min);
		fputs(",\"confidence\":", f);
		jnum(f, a->confidence);
		fputs(",\"evidence\":", f);
		jstr(f, a->text);
		fputs(",\"time\":", f);
		jnum(f, a->time);
		fputc('}', f);
	}
	fputs("],\"sites\":[", f);
	for (i = 0; i < s->nsites; i++) {
		fputs(i ? ",{\"stack\":" : "{\"stack\":", f);
		jstr(f, s->sites[i].name);
		fprintf(f, ",\"count\":%lld,\"bytes\":%lld}", (long long)s->sites[i].last, (long long)s->sites[i].bytes);
	}
	fputs("]}", f);
}

static void json_trace_meta(FILE *f, const struct trace *t)
{
	const struct trace_meta *m = &t->meta;

	fputs("{\"file\":", f);
	jstr(f, t->path);
	fprintf(f, ",\"schema_version\":%d,\"host\":", m->schema_version);
	jstr(f, m->host);
	fputs(",\"kernel\":", f);
	jstr(f, m->kernel);
	fputs(",\"pyleak_version\":", f);
	jstr(f, m->pyleak_version);
	fputs(",\"command_line\":", f);
	jstr(f, m->command_line);
	fputs(",\"start_time\":", f);
	jnum(f, m->start_time);
	fputs(",\"end_time\":", f);
	jnum(f, m->end_time);
	fputs(",\"duration_s\":", f);
	jnum(f, m->end_time > m->start_time ? m->end_time - m->start_time : 0);
	fputs(",\"interval_s\":", f);
	jnum(f, m->interval_s);
	fprintf(f, ",\"complete\":%s,\"max_size\":%llu,\"dropped_gc_events\":%llu,\"ringbuf_dropped_events\":%llu,"
		   "\"truncated\":",
		m->complete ? "true" : "false", (unsigned long long)m->max_size,
		(unsigned long long)m->dropped_gc_events, (unsigned long long)m->ringbuf_dropped_events);
	jstr(f, nz(t->truncated));
	fputc('}', f);
}

static int write_json(const struct trace *t, FILE *f)
{
	struct proc_sum *s = malloc(sizeof(*s));
	int i;

	if (!s)
		return -ENOMEM;
	fputs("{\"trace\":", f);
	json_trace_meta(f, t);
	fputs(",\"processes\":[", f);
	for (i = 0; i < t->nprocs; i++) {
		summarise(t, i, s);
		if (i)
			fputc(',', f);
		json_process(f, t, s);
	}
	fputs("]}\n", f);
	free(s);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* text                                                                                          */

static const char *us_or_dash(char *buf, size_t sz, double us)
{
	if (us < 0)
		return "-";
	return fmt_us(buf, sz, us);
}

/* Hooks the census, leak and sites features fill through the tables: an empty table says so. */
static void text_types(FILE *f, const struct proc_sum *s)
{
	char b1[16], b2[16], b3[16];
	int i;

	fputs("  growing types:\n", f);
	if (!s->ntypes) {
		fputs("    none recorded\n", f);
		return;
	}
	for (i = 0; i < s->ntypes; i++)
		fprintf(f, "    %-40s %10s -> %-10s %+lld (%s/min)\n", s->types[i].name,
			fmt_count(b1, sizeof(b1), (double)s->types[i].first), fmt_count(b2, sizeof(b2), (double)s->types[i].last),
			(long long)(s->types[i].last - s->types[i].first), fmt_count(b3, sizeof(b3), s->types[i].per_min));
}

static void text_containers(FILE *f, const struct proc_sum *s)
{
	char b[16];
	int i;

	fputs("  growing containers:\n", f);
	if (!s->ncontainers) {
		fputs("    none recorded\n", f);
		return;
	}
	for (i = 0; i < s->ncontainers; i++)
		fprintf(f, "    %-40s %-12s %lld -> %lld (%s/min)\n", s->containers[i].name,
			s->containers[i].kind ? s->containers[i].kind : "", (long long)s->containers[i].first,
			(long long)s->containers[i].last, fmt_count(b, sizeof(b), s->containers[i].per_min));
}

static void text_suspects(FILE *f, const struct proc_sum *s)
{
	int i;

	fputs("  suspects:\n", f);
	if (!s->nsuspects) {
		fputs("    none recorded\n", f);
		return;
	}
	for (i = 0; i < s->nsuspects; i++) {
		const struct trace_aux *a = s->suspects[i];

		fprintf(f, "    %-10s %-40s %+.1f/min confidence %.2f%s%s\n", a->kind ? a->kind : "?", a->name,
			a->per_min, a->confidence, a->text ? "  " : "", a->text ? a->text : "");
	}
}

static void text_sites(FILE *f, const struct proc_sum *s)
{
	int i;

	fputs("  allocation sites:\n", f);
	if (!s->nsites) {
		fputs("    none recorded\n", f);
		return;
	}
	for (i = 0; i < s->nsites; i++)
		fprintf(f, "    %10lld  %s\n", (long long)s->sites[i].last, s->sites[i].name);
}

static void text_process(FILE *f, const struct proc_sum *s)
{
	const struct trace_proc *p = s->p;
	const struct trace_sample *l = s->last_gc, *fs = s->first_gc;
	char b1[16], b2[16], b3[16], b4[16], b5[16], b6[16], b7[16];
	int g;

	fprintf(f, "\nprocess %d (%s)%s\n", p->pid, p->comm, p->exited ? " exited" : "");
	fprintf(f, "  cmdline: %s\n", p->cmdline);
	fprintf(f, "  python %s, exe %s, gc source %s", p->python[0] ? p->python : "?", p->exe,
		p->gc_source[0] ? p->gc_source : "?");
	if (p->ns_pid != p->pid)
		fprintf(f, ", ns pid %d", p->ns_pid);
	if (p->container_id[0])
		fprintf(f, ", container %.12s", p->container_id);
	fprintf(f, "\n  %d samples over %.1f s, %d gc events\n", p->nsamples, s->duration_s, p->nevents);
	if (p->note[0])
		fprintf(f, "  note: %s\n", p->note);
	if (l) {
		fputs("  gc totals (cumulative since process start, = gc.get_stats()):\n", f);
		for (g = 0; g < TRACE_NGEN; g++)
			fprintf(f, "    gen%d: collections %lld (+%lld recorded), collected %lld, uncollectable %lld\n", g,
				(long long)l->collections[g], (long long)(l->collections[g] - fs->collections[g]),
				(long long)l->collected[g], (long long)l->uncollectable[g]);
		fprintf(f, "    gc.garbage %lld, enabled %s, thresholds %lld/%lld/%lld\n", (long long)l->garbage,
			l->enabled > 0 ? "yes" : "no", (long long)l->thresholds[0], (long long)l->thresholds[1],
			(long long)l->thresholds[2]);
	} else {
		fputs("  gc totals: none recorded (GC state never read)\n", f);
	}
	fprintf(f, "  pauses%s:\n", s->last && s->last->pauses_estimated ? " (estimated: poll tier)" : "");
	for (g = 0; g < TRACE_NGEN; g++) {
		const struct pause_fig *pf = &s->pause[g];

		fprintf(f, "    gen%d: %llu events, total %s, p50 %s p90 %s p99 %s max %s; histogram p50 %s p99 %s\n", g,
			(unsigned long long)pf->count, fmt_us(b1, sizeof(b1), pf->sum_us),
			us_or_dash(b2, sizeof(b2), pf->p50_us), us_or_dash(b3, sizeof(b3), pf->p90_us),
			us_or_dash(b4, sizeof(b4), pf->p99_us), us_or_dash(b5, sizeof(b5), pf->max_us),
			us_or_dash(b6, sizeof(b6), (double)pf->hist_p50_us),
			us_or_dash(b7, sizeof(b7), (double)pf->hist_p99_us));
	}
	if (s->ev_unknown_gen)
		fprintf(f, "    %llu events of unknown generation\n", (unsigned long long)s->ev_unknown_gen);
	if (s->gc_time_pct >= 0)
		fprintf(f, "  gc time share: %.2f%% of wall time\n", s->gc_time_pct);
	else
		fputs("  gc time share: unknown\n", f);
	if (s->first)
		fprintf(f, "  rss: %s -> %s (min %s, max %s), slope %s/min\n", fmt_bytes(b1, sizeof(b1), (double)s->first->rss),
			fmt_bytes(b2, sizeof(b2), (double)s->last->rss), fmt_bytes(b3, sizeof(b3), (double)s->rss_min),
			fmt_bytes(b4, sizeof(b4), (double)s->rss_max), fmt_sbytes(b5, sizeof(b5), s->rss_slope_per_min));
	if (s->first && s->last->live_objects >= 0)
		fprintf(f, "  live objects: %lld -> %lld\n", (long long)s->first->live_objects,
			(long long)s->last->live_objects);
	text_types(f, s);
	text_containers(f, s);
	text_suspects(f, s);
	text_sites(f, s);
}

static int write_text(const struct trace *t, FILE *f)
{
	const struct trace_meta *m = &t->meta;
	struct proc_sum *s = malloc(sizeof(*s));
	int i;

	if (!s)
		return -ENOMEM;
	fprintf(f, "pyleak trace %s (schema %d, pyleak %s)\n", t->path, m->schema_version, m->pyleak_version);
	fprintf(f, "host %s, kernel %s\n", m->host, m->kernel);
	fprintf(f, "command: %s\n", m->command_line);
	fprintf(f, "recorded %.1f s at %.3g s intervals, %d processes%s\n",
		m->end_time > m->start_time ? m->end_time - m->start_time : 0, m->interval_s, t->nprocs,
		m->complete ? "" : " (recording did not end cleanly: the last interval may be missing)");
	if (m->dropped_gc_events)
		fprintf(f, "dropped: %llu gc events not written because the trace reached its size limit (%llu bytes)\n",
			(unsigned long long)m->dropped_gc_events, (unsigned long long)m->max_size);
	if (m->ringbuf_dropped_events)
		fprintf(f, "dropped: %llu gc events lost in the kernel ring buffer\n",
			(unsigned long long)m->ringbuf_dropped_events);
	if (t->truncated[0])
		fprintf(f, "truncated while loading (caps): %s\n", t->truncated);
	if (!t->nprocs)
		fputs("\nprocesses: none recorded\n", f);
	for (i = 0; i < t->nprocs; i++) {
		summarise(t, i, s);
		text_process(f, s);
	}
	free(s);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* csv                                                                                           */

static void csv_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"')
			fputc('"', f);
		if ((unsigned char)*s >= 0x20 || *s == '\t')
			fputc(*s, f);
		else
			fputc(' ', f);
	}
	fputc('"', f);
}

static int write_csv(const struct trace *t, FILE *f)
{
	int i, j, g;

	fputs("pid,start_ticks,comm,time,rss,gc_valid", f);
	for (g = 0; g < TRACE_NGEN; g++)
		fprintf(f, ",collections%d", g);
	for (g = 0; g < TRACE_NGEN; g++)
		fprintf(f, ",collected%d", g);
	for (g = 0; g < TRACE_NGEN; g++)
		fprintf(f, ",uncollectable%d", g);
	fputs(",garbage,enabled", f);
	for (g = 0; g < TRACE_NGEN; g++)
		fprintf(f, ",threshold%d", g);
	for (g = 0; g < TRACE_NGEN; g++)
		fprintf(f, ",count%d", g);
	fputs(",gc_time_pct,gc_time_us,live_objects\n", f);
	for (i = 0; i < t->nprocs; i++) {
		const struct trace_proc *p = &t->procs[i];

		for (j = 0; j < p->nsamples; j++) {
			const struct trace_sample *s = &p->samples[j];

			fprintf(f, "%d,%llu,", p->pid, (unsigned long long)p->start_ticks);
			csv_str(f, p->comm);
			fprintf(f, ",%.6f,%llu,%d", s->time, (unsigned long long)s->rss, s->gc_valid);
			for (g = 0; g < TRACE_NGEN; g++)
				fprintf(f, ",%lld", (long long)s->collections[g]);
			for (g = 0; g < TRACE_NGEN; g++)
				fprintf(f, ",%lld", (long long)s->collected[g]);
			for (g = 0; g < TRACE_NGEN; g++)
				fprintf(f, ",%lld", (long long)s->uncollectable[g]);
			fprintf(f, ",%lld,%d", (long long)s->garbage, s->enabled);
			for (g = 0; g < TRACE_NGEN; g++)
				fprintf(f, ",%lld", (long long)s->thresholds[g]);
			for (g = 0; g < TRACE_NGEN; g++)
				fprintf(f, ",%lld", (long long)s->counts[g]);
			fprintf(f, ",%.4f,%llu,%lld\n", s->gc_time_pct, (unsigned long long)s->gc_time_us,
				(long long)s->live_objects);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* chrome trace events (Perfetto, chrome://tracing)                                              */

/* Every process shares CLOCK_MONOTONIC: one wall-minus-monotonic offset (from the first event)
 * maps all of them, so pauses of one thread keep their monotonic order exactly. */
static bool mono_offset(const struct trace *t, double *off)
{
	int i;

	for (i = 0; i < t->nprocs; i++)
		if (t->procs[i].nevents) {
			*off = t->procs[i].events[0].time - t->procs[i].events[0].mono_ns / 1e9;
			return true;
		}
	return false;
}

static double trace_t0(const struct trace *t)
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

static int write_chrome(const struct trace *t, FILE *f)
{
	double t0 = trace_t0(t), off = 0, ts;
	bool have_off = mono_offset(t, &off);
	bool first = true;
	int i, j;

	fputs("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"tool\":\"pyleak\",\"host\":", f);
	jstr(f, t->meta.host);
	fputs("},\"traceEvents\":[", f);
	for (i = 0; i < t->nprocs; i++) {
		const struct trace_proc *p = &t->procs[i];
		char label[128];

		snprintf(label, sizeof(label), "%s %d (python %s, %s)", p->comm, p->pid, p->python[0] ? p->python : "?",
			 p->gc_source[0] ? p->gc_source : "?");
		fprintf(f, "%s\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":",
			first ? "" : ",", p->pid, p->pid);
		jstr(f, label);
		fputs("}}", f);
		first = false;
		for (j = 0; j < p->nevents; j++) {
			const struct trace_event *e = &p->events[j];
			static const char *const names[] = { "gc gen0", "gc gen1", "gc gen2" };
			const char *name = e->generation >= 0 && e->generation < TRACE_NGEN ? names[e->generation] : "gc gen?";
			ts = ((have_off ? off + e->mono_ns / 1e9 : e->time) - t0) * 1e6;
			fprintf(f, ",\n{\"name\":\"%s\",\"cat\":\"gc\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%d,"
				   "\"tid\":%u,\"args\":{\"generation\":%d,\"collected\":%lld,\"uncollectable\":%lld}}",
				name, ts, e->duration_us, p->pid, e->tid, e->generation, (long long)e->collected,
				(long long)e->uncollectable);
		}
		for (j = 0; j < p->nsamples; j++) {
			const struct trace_sample *s = &p->samples[j];

			ts = (s->time - t0) * 1e6;
			fprintf(f, ",\n{\"name\":\"rss\",\"ph\":\"C\",\"ts\":%.3f,\"pid\":%d,\"args\":{\"bytes\":%llu}}", ts,
				p->pid, (unsigned long long)s->rss);
			if (s->live_objects >= 0)
				fprintf(f, ",\n{\"name\":\"live objects\",\"ph\":\"C\",\"ts\":%.3f,\"pid\":%d,"
					   "\"args\":{\"objects\":%lld}}",
					ts, p->pid, (long long)s->live_objects);
			if (s->gc_valid && s->garbage >= 0)
				fprintf(f, ",\n{\"name\":\"gc.garbage\",\"ph\":\"C\",\"ts\":%.3f,\"pid\":%d,"
					   "\"args\":{\"objects\":%lld}}",
					ts, p->pid, (long long)s->garbage);
		}
	}
	fputs("\n]}\n", f);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* collapsed stacks (flamegraph.pl, speedscope, inferno)                                         */

static int write_collapsed(const struct trace *t, FILE *f)
{
	int k = TRACE_SITES, i, nprocs_with_sites = 0, last_proc = -1;
	long lines = 0;

	for (i = 0; i < t->naux[k]; i++)
		if (t->aux[k][i].proc != last_proc) {
			last_proc = t->aux[k][i].proc;
			nprocs_with_sites++;
		}
	if (!t->naux[k]) {
		pr_warn("%s: no allocation sites recorded: the collapsed output is empty", t->path);
		return 0;
	}
	/* Rows are sorted by (proc, stack): sum each stack's per-interval counts. With several
	 * processes the root frame names the process so their flames stay apart. */
	for (i = 0; i < t->naux[k];) {
		const struct trace_aux *a = &t->aux[k][i];
		int64_t sum = 0;
		int j;

		for (j = i; j < t->naux[k] && t->aux[k][j].proc == a->proc && !strcmp(t->aux[k][j].name, a->name); j++)
			sum = sat_add(sum, t->aux[k][j].count > 0 ? t->aux[k][j].count : 0);
		if (sum > 0) {
			const char *s;

			if (nprocs_with_sites > 1)
				fprintf(f, "%s-%d;", t->procs[a->proc].comm, t->procs[a->proc].pid);
			/* A frame name with a newline or space-count ambiguity would break the format. */
			for (s = a->name; *s; s++)
				fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
			fprintf(f, " %lld\n", (long long)sum);
			lines++;
		}
		i = j;
	}
	(void)lines;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* html: one self-contained file; the data as JSON, drawn into inline SVG by a small script      */

static const char html_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
	"script-src 'unsafe-inline'; img-src data:\">\n"
	"<title>pyleak report</title>\n<style>\n"
	"body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}\n"
	"h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 6px;border-bottom:1px solid #ccc}\n"
	"h3{font-size:14px;margin:12px 0 4px}\n"
	"table{border-collapse:collapse;margin:4px 0}td,th{padding:2px 8px;border:1px solid #ddd;text-align:left;"
	"font-size:13px}th{background:#f4f4f4}\n"
	".meta{color:#555}.warn{color:#a40}.charts{display:flex;flex-wrap:wrap;gap:12px}\n"
	".chart{border:1px solid #ddd;background:#fcfcfc}.chart text{font-size:11px;fill:#333}\n"
	".none{color:#777;font-style:italic}\n"
	"</style></head><body>\n<h1>pyleak report</h1>\n<div id=\"meta\" class=\"meta\"></div>\n"
	"<div id=\"procs\"></div>\n";

static const char html_script[] =
	"<script>\n"
	"'use strict';\n"
	"(function(){\n"
	"var D=JSON.parse(document.getElementById('pyleak-data').textContent);\n"
	"var S=D.summary, NS='http://www.w3.org/2000/svg';\n"
	"var COL=['#1f77b4','#ff7f0e','#d62728','#2ca02c','#9467bd','#8c564b','#e377c2','#7f7f7f','#bcbd22','#17becf'];\n"
	"function el(tag,attrs,text){var e=document.createElement(tag);for(var k in attrs)e.setAttribute(k,attrs[k]);"
	"if(text!==undefined)e.textContent=text;return e;}\n"
	"function sv(tag,attrs){var e=document.createElementNS(NS,tag);for(var k in attrs)e.setAttribute(k,attrs[k]);return e;}\n"
	"function fmt(v){if(v===null||v===undefined)return '-';var a=Math.abs(v);"
	"if(a>=1e9)return (v/1e9).toFixed(2)+'G';if(a>=1e6)return (v/1e6).toFixed(2)+'M';"
	"if(a>=1e4)return (v/1e3).toFixed(1)+'k';if(a>=100||v===Math.round(v))return String(Math.round(v));return v.toPrecision(3);}\n"
	"function bytes(v){if(v===null||v===undefined)return '-';var u=['B','K','M','G','T'],i=0;"
	"while(Math.abs(v)>=1024&&i<4){v/=1024;i++;}return v.toFixed(i?1:0)+u[i];}\n"
	"function us(v){if(v===null||v===undefined)return '-';if(v>=1e6)return (v/1e6).toFixed(2)+'s';"
	"if(v>=1e3)return (v/1e3).toFixed(1)+'ms';return v.toFixed(0)+'us';}\n"
	"function table(head,rows){var t=el('table'),tr=el('tr');head.forEach(function(h){tr.appendChild(el('th',{},h));});"
	"t.appendChild(tr);rows.forEach(function(r){var tr=el('tr');r.forEach(function(c){tr.appendChild(el('td',{},String(c)));});"
	"t.appendChild(tr);});return t;}\n"
	"function none(){return el('div',{'class':'none'},'none recorded');}\n"
	"function chart(title,series,o){o=o||{};var W=540,H=240,L=64,R=12,T=24,B=32;\n"
	" var svg=sv('svg',{width:W,height:H,'class':'chart',viewBox:'0 0 '+W+' '+H});\n"
	" var tt=sv('text',{x:L,y:15,'font-weight':'bold'});tt.textContent=title;svg.appendChild(tt);\n"
	" var x0=o.x0!==undefined?o.x0:Infinity,x1=o.x1!==undefined?o.x1:-Infinity,y0=o.zero?0:Infinity,y1=-Infinity,n=0;\n"
	" series.forEach(function(s){s.pts.forEach(function(p){if(p[1]===null)return;n++;x0=Math.min(x0,p[0]);x1=Math.max(x1,p[0]);"
	"y0=Math.min(y0,p[1]);y1=Math.max(y1,p[1]);});});\n"
	" if(!n){var t=sv('text',{x:W/2,y:H/2,'text-anchor':'middle'});t.textContent='none recorded';svg.appendChild(t);return svg;}\n"
	" if(x1<=x0)x1=x0+1;if(y1<=y0)y1=y0+1;\n"
	" function X(v){return L+(v-x0)/(x1-x0)*(W-L-R);}function Y(v){return H-B-(v-y0)/(y1-y0)*(H-T-B);}\n"
	" svg.appendChild(sv('rect',{x:L,y:T,width:W-L-R,height:H-T-B,fill:'#fff',stroke:'#bbb'}));\n"
	" for(var i=0;i<=4;i++){var yv=y0+(y1-y0)*i/4,xv=x0+(x1-x0)*i/4;\n"
	"  svg.appendChild(sv('line',{x1:L,x2:W-R,y1:Y(yv),y2:Y(yv),stroke:'#eee'}));\n"
	"  var ty=sv('text',{x:L-4,y:Y(yv)+4,'text-anchor':'end'});ty.textContent=(o.yfmt||fmt)(yv);svg.appendChild(ty);\n"
	"  var tx=sv('text',{x:X(xv),y:H-B+14,'text-anchor':'middle'});tx.textContent=xv.toFixed(x1-x0<10?1:0)+'s';svg.appendChild(tx);}\n"
	" series.forEach(function(s,k){var c=s.color||COL[k%COL.length];\n"
	"  if(o.scatter){s.pts.forEach(function(p){svg.appendChild(sv('circle',{cx:X(p[0]).toFixed(1),cy:Y(p[1]).toFixed(1),r:2,fill:c,'fill-opacity':0.6}));});}\n"
	"  else{var d=s.pts.filter(function(p){return p[1]!==null;}).map(function(p){return X(p[0]).toFixed(1)+','+Y(p[1]).toFixed(1);}).join(' ');\n"
	"   svg.appendChild(sv('polyline',{points:d,fill:'none',stroke:c,'stroke-width':1.5}));}\n"
	"  var lg=sv('text',{x:L+8+k*110,y:H-4,fill:c});lg.textContent='\\u25A0 '+s.name;svg.appendChild(lg);});\n"
	" return svg;}\n"
	"var m=S.trace,md=document.getElementById('meta');\n"
	"md.appendChild(el('div',{},'file '+m.file+' \\u2014 host '+m.host+', kernel '+m.kernel+', pyleak '+m.pyleak_version+', schema '+m.schema_version));\n"
	"md.appendChild(el('div',{},'command: '+m.command_line));\n"
	"md.appendChild(el('div',{},'recorded '+m.duration_s.toFixed(1)+' s at '+m.interval_s+' s intervals, '+S.processes.length+' processes'));\n"
	"if(!m.complete)md.appendChild(el('div',{'class':'warn'},'the recording did not end cleanly: the last interval may be missing'));\n"
	"if(m.dropped_gc_events)md.appendChild(el('div',{'class':'warn'},m.dropped_gc_events+' gc events dropped: the trace reached its size limit'));\n"
	"if(m.ringbuf_dropped_events)md.appendChild(el('div',{'class':'warn'},m.ringbuf_dropped_events+' gc events lost in the kernel ring buffer'));\n"
	"var root=document.getElementById('procs');\n"
	"if(!S.processes.length)root.appendChild(none());\n"
	"S.processes.forEach(function(p,i){var d=D.series[i],t0=D.t0;\n"
	" root.appendChild(el('h2',{},'process '+p.pid+' ('+p.comm+')'+(p.exited?' exited':'')));\n"
	" root.appendChild(table(['cmdline','python','gc source','exe','samples','gc events'],[[p.cmdline,p.python||'?',p.gc_source||'?',p.exe,p.samples,p.gc_events]]));\n"
	" if(p.gc){root.appendChild(el('h3',{},'GC totals (cumulative, = gc.get_stats())'));\n"
	"  root.appendChild(table(['generation','collections','recorded','collected','uncollectable','events','p50','p99','max'],[0,1,2].map(function(g){\n"
	"   var q=p.pauses_us[g];return ['gen'+g,p.gc.collections[g],p.gc_during.collections[g],p.gc.collected[g],p.gc.uncollectable[g],q.count,us(q.p50),us(q.p99),us(q.max)];})));\n"
	"  root.appendChild(el('div',{},'gc.garbage '+p.gc.garbage+', GC time share '+(p.gc_time_pct===null?'-':p.gc_time_pct.toFixed(2)+'%')+\n"
	"   (p.rss?', RSS '+bytes(p.rss.start)+' \\u2192 '+bytes(p.rss.end)+' ('+bytes(p.rss.slope_bytes_per_min)+'/min)':'')));}\n"
	" var c=el('div',{'class':'charts'});root.appendChild(c);\n"
	" function pts(k){return d.t.map(function(x,j){return [x-t0,d[k][j]];});}\n"
	" var X0=d.t.length?d.t[0]-t0:undefined,X1=d.t.length?d.t[d.t.length-1]-t0:undefined;\n"
	" function ax(o){o.x0=X0;o.x1=X1;return o;}\n"
	" c.appendChild(chart('RSS',[{name:'rss',pts:pts('rss')}],ax({yfmt:bytes})));\n"
	" c.appendChild(chart('live objects',[{name:'live',pts:pts('live')}],ax({})));\n"
	" c.appendChild(chart('GC pauses (each collection)',[0,1,2].map(function(g){return {name:'gen'+g,color:COL[g],pts:d.ev.filter(function(e){return e[2]===g;}).map(function(e){return [e[0]-t0,e[1]];})};}),ax({scatter:true,yfmt:us,zero:true})));\n"
	" c.appendChild(chart('collections per generation (cumulative)',[0,1,2].map(function(g){return {name:'gen'+g,color:COL[g],pts:d.t.map(function(x,j){return [x-t0,d.coll[g][j]];})};}),ax({})));\n"
	" c.appendChild(chart('growth per type',d.types.map(function(ty){return {name:ty.name,pts:ty.pts.map(function(q){return [q[0]-t0,q[1]];})};}),ax({})));\n"
	" ['types','containers'].forEach(function(k){root.appendChild(el('h3',{},'growing '+k));\n"
	"  if(!p[k].length)root.appendChild(none());else root.appendChild(table(['name','first','last','delta','per min'],p[k].map(function(g){\n"
	"   return [g.name,g.first_count!==undefined?g.first_count:g.first_length,g.last_count!==undefined?g.last_count:g.last_length,g.delta,fmt(g.per_min)];})));});\n"
	" root.appendChild(el('h3',{},'suspects'));\n"
	" if(!p.suspects.length)root.appendChild(none());else root.appendChild(table(['kind','name','per min','confidence','evidence'],p.suspects.map(function(s){return [s.kind,s.name,fmt(s.per_min),s.confidence,s.evidence||''];})));\n"
	" root.appendChild(el('h3',{},'allocation sites'));\n"
	" if(!p.sites.length)root.appendChild(none());else root.appendChild(table(['count','stack'],p.sites.map(function(s){return [s.count,s.stack];})));\n"
	"});\n"
	"document.body.setAttribute('data-rendered','1');\n"
	"})();\n"
	"</script>\n";

static int cmp_event_dur_desc(const void *a, const void *b)
{
	const struct trace_event *x = *(const struct trace_event *const *)a, *y = *(const struct trace_event *const *)b;

	return x->duration_us > y->duration_us ? -1 : x->duration_us < y->duration_us;
}

static void html_series(FILE *f, const struct trace *t, int pi)
{
	const struct trace_proc *p = &t->procs[pi];
	int step = p->nsamples > HTML_MAX_SAMPLES ? (p->nsamples + HTML_MAX_SAMPLES - 1) / HTML_MAX_SAMPLES : 1;
	int i, g, n, k = TRACE_TYPES, ntop;
	struct growth top[TOP_N];
	const struct trace_event **ev = NULL;

#define EACH_SAMPLE(fmt_expr)                                                                     \
	for (i = 0, n = 0; i < p->nsamples; i += step, n++) {                                     \
		const struct trace_sample *s = &p->samples[i];                                    \
		(void)s;                                                                          \
		if (n)                                                                            \
			fputc(',', f);                                                            \
		fmt_expr;                                                                         \
	}
	fputs("{\"t\":[", f);
	EACH_SAMPLE(fprintf(f, "%.3f", s->time));
	fputs("],\"rss\":[", f);
	EACH_SAMPLE(fprintf(f, "%llu", (unsigned long long)s->rss));
	fputs("],\"live\":[", f);
	EACH_SAMPLE(s->live_objects >= 0 ? fprintf(f, "%lld", (long long)s->live_objects) : fputs("null", f));
	fputs("],\"coll\":[", f);
	for (g = 0; g < TRACE_NGEN; g++) {
		fputs(g ? ",[" : "[", f);
		EACH_SAMPLE(s->gc_valid ? fprintf(f, "%lld", (long long)s->collections[g]) : fputs("null", f));
		fputc(']', f);
	}
#undef EACH_SAMPLE
	/* Pauses: all of them up to the cap, else the longest ones (what the reader looks for). */
	fputs("],\"ev\":[", f);
	n = p->nevents;
	if (n > HTML_MAX_EVENTS) {
		ev = malloc((size_t)n * sizeof(*ev));
		if (ev) {
			for (i = 0; i < n; i++)
				ev[i] = &p->events[i];
			sort_array(ev, n, sizeof(*ev), cmp_event_dur_desc);
		}
		n = ev ? HTML_MAX_EVENTS : 0;
	}
	for (i = 0; i < n; i++) {
		const struct trace_event *e = ev ? ev[i] : &p->events[i];

		fprintf(f, "%s[%.6f,%.3f,%d]", i ? "," : "", e->time, e->duration_us, e->generation);
	}
	free(ev);
	/* growth per type: the series of the top growing types */
	fputs("],\"types\":[", f);
	ntop = growth_of(t, TRACE_TYPES, pi, top, 5);
	for (g = 0; g < ntop; g++) {
		fputs(g ? ",{\"name\":" : "{\"name\":", f);
		jstr(f, top[g].name);
		fputs(",\"pts\":[", f);
		for (i = 0, n = 0; i < t->naux[k] && n < HTML_MAX_SAMPLES; i++) {
			const struct trace_aux *a = &t->aux[k][i];

			if (a->proc != pi || strcmp(a->name, top[g].name))
				continue;
			fprintf(f, "%s[%.3f,%lld]", n++ ? "," : "", a->time, (long long)a->count);
		}
		fputs("]}", f);
	}
	fputs("]}", f);
}

static int write_html(const struct trace *t, FILE *f)
{
	int i, err;

	fputs(html_head, f);
	/* JSON inside a non-executed script element: jstr() escapes '<', so no "</script>" can occur. */
	fputs("<script type=\"application/json\" id=\"pyleak-data\">{\"t0\":", f);
	jnum(f, trace_t0(t));
	fputs(",\"summary\":", f);
	err = write_json(t, f);
	if (err)
		return err;
	fputs(",\"series\":[", f);
	for (i = 0; i < t->nprocs; i++) {
		if (i)
			fputc(',', f);
		html_series(f, t, i);
	}
	fputs("]}</script>\n", f);
	fputs(html_script, f);
	fputs("</body></html>\n", f);
	return 0;
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
	case REPORT_TEXT: err = write_text(t, out); break;
	case REPORT_JSON: err = write_json(t, out); break;
	case REPORT_HTML: err = write_html(t, out); break;
	case REPORT_CSV: err = write_csv(t, out); break;
	case REPORT_CHROME: err = write_chrome(t, out); break;
	case REPORT_COLLAPSED: err = write_collapsed(t, out); break;
	default: return -EINVAL;
	}
	if (!err && (fflush(out) || ferror(out)))
		err = -EIO;
	return err;
}
