/* SPDX-License-Identifier: BSD-2-Clause */
/* Reports for programs: json, csv, chrome trace events and collapsed stacks. */
#include "trace/report_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"
#include "util/escape.h"

/* ------------------------------------------------------------------------------------------ */
/* json writers (report_html.c embeds the json summary too)                                     */

/* A JSON string; '<' is escaped too so the same text is safe inside an HTML <script>. */
/* A JSON string (esc_json: ASCII, '<' escaped too, so the same text is safe inside an HTML <script>). */
void report_json__str(FILE *f, const char *s)
{
	esc_fputs(f, esc_json, s);
}

void report_json__num(FILE *f, double v)
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
		report_json__num(f, v);
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
		report_json__str(f, g[i].name);
		if (g[i].kind) {
			fputs(",\"type\":", f);
			report_json__str(f, g[i].kind);
		}
		fprintf(f, ",\"first_%s\":%lld,\"last_%s\":%lld,\"delta\":%lld,\"per_min\":", count_key,
			(long long)g[i].first, count_key, (long long)g[i].last, (long long)(g[i].last - g[i].first));
		report_json__num(f, g[i].per_min);
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
	report_json__str(f, p->comm);
	fputs(",\"cmdline\":", f);
	report_json__str(f, p->cmdline);
	fputs(",\"exe\":", f);
	report_json__str(f, p->exe);
	fputs(",\"python\":", f);
	report_json__str(f, nz(p->python));
	fputs(",\"gc_source\":", f);
	report_json__str(f, nz(p->gc_source));
	fputs(",\"container_id\":", f);
	report_json__str(f, nz(p->container_id));
	fputs(",\"note\":", f);
	report_json__str(f, nz(p->note));
	fputs(",\"first_seen\":", f);
	report_json__num(f, p->first_seen);
	fputs(",\"last_seen\":", f);
	report_json__num(f, p->last_seen);
	fprintf(f, ",\"exited\":%s,\"samples\":%d,\"gc_events\":%d,\"duration_s\":", p->exited ? "true" : "false",
		p->nsamples, p->nevents);
	report_json__num(f, s->duration_s);
	/* the recorded thread names (a renamed thread once per name) */
	fputs(",\"threads\":[", f);
	for (i = 0; i < p->nthreads; i++) {
		fprintf(f, "%s{\"tid\":%d,\"name\":", i ? "," : "", p->threads[i].tid);
		report_json__str(f, p->threads[i].name);
		fputc('}', f);
	}
	fputc(']', f);
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
		report_json__num(f, pf->sum_us);
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
		report_json__num(f, s->rss_slope_per_min);
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
		report_json__str(f, a->kind);
		fputs(",\"name\":", f);
		report_json__str(f, a->name);
		fputs(",\"per_min\":", f);
		report_json__num(f, a->per_min);
		fputs(",\"confidence\":", f);
		report_json__num(f, a->confidence);
		fputs(",\"evidence\":", f);
		report_json__str(f, a->text);
		fputs(",\"time\":", f);
		report_json__num(f, a->time);
		/* as in top's JSON (docs/json.md): null when the trace has none */
		if (a->chain_status && a->chain) {
			fputs(",\"chain\":{\"status\":", f);
			report_json__str(f, a->chain_status);
			fputs(",\"text\":", f);
			report_json__str(f, a->chain);
			fputc('}', f);
		} else {
			fputs(",\"chain\":null", f);
		}
		fputs(",\"explained_by\":", f);
		report_json__str(f, a->explained_by);
		fputs(",\"group_why\":", f);
		report_json__str(f, a->group_why);
		fputs(",\"diagnosis\":", f);
		report_json__str(f, a->diagnosis);
		fputc('}', f);
	}
	fputs("],\"sites\":[", f);
	for (i = 0; i < s->nsites; i++) {
		fputs(i ? ",{\"stack\":" : "{\"stack\":", f);
		report_json__str(f, s->sites[i].name);
		fprintf(f, ",\"count\":%lld,\"bytes\":%lld}", (long long)s->sites[i].last, (long long)s->sites[i].bytes);
	}
	fputs("],\"survivors\":[", f);
	for (i = 0; i < s->nsurvivors; i++) {
		fputs(i ? ",{\"type\":" : "{\"type\":", f);
		report_json__str(f, s->survivors[i].kind);
		fputs(",\"stack\":", f);
		report_json__str(f, s->survivors[i].name);
		fprintf(f, ",\"sampled\":%lld,\"survived\":%lld,\"alive\":%lld}", (long long)s->survivors[i].bytes,
			(long long)s->survivors[i].first, (long long)s->survivors[i].last);
	}
	fputs("],\"native\":[", f);
	for (i = 0; i < s->nnative; i++) {
		fputs(i ? ",{\"stack\":" : "{\"stack\":", f);
		report_json__str(f, s->native[i].name);
		fputs(",\"caller\":", f);
		report_json__str(f, s->native[i].kind);
		fprintf(f, ",\"bytes\":%lld,\"outstanding\":%lld,\"per_min\":", (long long)s->native[i].bytes,
			(long long)s->native[i].last);
		report_json__num(f, s->native[i].per_min);
		fputs(",\"time\":", f);
		report_json__num(f, s->native[i].last_time);
		fputc('}', f);
	}
	fputs("]}", f);
}

static void json_trace_meta(FILE *f, const struct trace *t)
{
	const struct trace_meta *m = &t->meta;

	fputs("{\"file\":", f);
	report_json__str(f, t->path);
	fprintf(f, ",\"schema_version\":%d,\"host\":", m->schema_version);
	report_json__str(f, m->host);
	fputs(",\"kernel\":", f);
	report_json__str(f, m->kernel);
	fputs(",\"pyleak_version\":", f);
	report_json__str(f, m->pyleak_version);
	fputs(",\"command_line\":", f);
	report_json__str(f, m->command_line);
	fputs(",\"start_time\":", f);
	report_json__num(f, m->start_time);
	fputs(",\"end_time\":", f);
	report_json__num(f, m->end_time);
	fputs(",\"duration_s\":", f);
	report_json__num(f, m->end_time > m->start_time ? m->end_time - m->start_time : 0);
	fputs(",\"interval_s\":", f);
	report_json__num(f, m->interval_s);
	fprintf(f, ",\"complete\":%s,\"max_size\":%llu,\"dropped_gc_events\":%llu,\"ringbuf_dropped_events\":%llu,"
		   "\"truncated\":",
		m->complete ? "true" : "false", (unsigned long long)m->max_size,
		(unsigned long long)m->dropped_gc_events, (unsigned long long)m->ringbuf_dropped_events);
	report_json__str(f, nz(t->truncated));
	fputc('}', f);
}

int report__write_json(const struct trace *t, FILE *f)
{
	struct proc_sum *s = malloc(sizeof(*s));
	int i;

	if (!s)
		return -ENOMEM;
	fputs("{\"trace\":", f);
	json_trace_meta(f, t);
	fputs(",\"processes\":[", f);
	for (i = 0; i < t->nprocs; i++) {
		report__summarise(t, i, s);
		if (i)
			fputc(',', f);
		json_process(f, t, s);
	}
	fputc(']', f);
	report_groups__json(t, f);
	fputs("}\n", f);
	free(s);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* csv                                                                                           */

/* A quoted cell: esc_csv (visible escapes, no formula-leading cell). */
static void csv_str(FILE *f, const char *s)
{
	esc_fputs(f, esc_csv, s);
}

int report__write_csv(const struct trace *t, FILE *f)
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
	/* The RSS breakdown in force at each sample (the latest memory row not after it; empty
	 * before the first): parts of mem_rss, bytes. */
	fputs(",gc_time_pct,gc_time_us,live_objects,mem_time,mem_rss,mem_pymalloc_arenas,mem_malloc_heap,"
	      "mem_anon_other,mem_stacks,mem_file,mem_other,mem_shared,mem_tracked_bytes,mem_untracked_bytes,"
	      "mem_arena_bytes,mem_block_bytes_used,mem_block_bytes_free,mem_arena_source\n", f);
	for (i = 0; i < t->nprocs; i++) {
		const struct trace_proc *p = &t->procs[i];
		int mi = -1;

		for (j = 0; j < p->nsamples; j++) {
			const struct trace_sample *s = &p->samples[j];
			const struct trace_memory *m;

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
			fprintf(f, ",%.4f,%llu,%lld", s->gc_time_pct, (unsigned long long)s->gc_time_us,
				(long long)s->live_objects);
			while (mi + 1 < p->nmemory && p->memory[mi + 1].time <= s->time + 1e-6)
				mi++;
			if (mi < 0) {
				fputs(",,,,,,,,,,,,,,,\n", f);
				continue;
			}
			m = &p->memory[mi];
			fprintf(f, ",%.6f,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,", m->time,
				(long long)m->rss, (long long)m->arenas, (long long)m->heap, (long long)m->anon,
				(long long)m->stacks, (long long)m->file, (long long)m->other, (long long)m->shared,
				(long long)m->tracked_bytes, (long long)m->untracked_bytes, (long long)m->arena_bytes,
				(long long)m->block_bytes_used, (long long)m->block_bytes_free);
			csv_str(f, m->arena_source);
			fputc('\n', f);
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

int report__write_chrome(const struct trace *t, FILE *f)
{
	double t0 = report__t0(t), off = 0, ts;
	bool have_off = mono_offset(t, &off);
	bool first = true;
	int i, j;

	fputs("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"tool\":\"pyleak\",\"host\":", f);
	report_json__str(f, t->meta.host);
	fputs("},\"traceEvents\":[", f);
	for (i = 0; i < t->nprocs; i++) {
		const struct trace_proc *p = &t->procs[i];
		char label[128];

		snprintf(label, sizeof(label), "%s %d (python %s, %s)", p->comm, p->pid, p->python[0] ? p->python : "?",
			 p->gc_source[0] ? p->gc_source : "?");
		fprintf(f, "%s\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":",
			first ? "" : ",", p->pid, p->pid);
		report_json__str(f, label);
		fputs("}}", f);
		first = false;
		/* Thread names (as recorded: the newest name of a tid wins in the viewer) */
		for (j = 0; j < p->nthreads; j++) {
			fprintf(f, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":",
				p->pid, p->threads[j].tid);
			report_json__str(f, p->threads[j].name);
			fputs("}}", f);
		}
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

/*
 * A stored stack (docs/trace-schema.md) as collapsed frames: each frame escaped on its own
 * (esc_collapsed), so every line stays "frames count". A file that marks its frames quoted
 * splits back exactly; an older one joined raw names, so a ';' inside a name splits it there
 * (the file cannot tell) and each piece is escaped.
 */
static void put_stack(const struct trace *t, FILE *f, const char *stack)
{
	const char *p = stack ? stack : "?";
	char frame[1024];
	bool first = true;

	if (!t->meta.stacks_quoted) {
		esc_fputs(f, esc_text, p);
		return;
	}
	while (esc_stack_next(&p, frame, sizeof(frame))) {
		if (!first)
			fputc(';', f);
		esc_fputs(f, esc_collapsed, frame);
		first = false;
	}
}

int report__write_collapsed(const struct trace *t, FILE *f)
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
			sum = report__sat_add(sum, t->aux[k][j].count > 0 ? t->aux[k][j].count : 0);
		if (sum > 0) {

			if (nprocs_with_sites > 1) {
				esc_fputs(f, esc_collapsed, t->procs[a->proc].comm);
				fprintf(f, "-%d;", t->procs[a->proc].pid);
			}
			put_stack(t, f, a->name);
			fprintf(f, " %lld\n", (long long)sum);
			lines++;
		}
		i = j;
	}
	(void)lines;
	return 0;
}

/* Native stacks of each process's last verification walk, root;...;caller BYTES (estimated
 * outstanding bytes): a flame graph of the native memory that stays. */
int report__write_collapsed_native(const struct trace *t, FILE *f)
{
	struct growth rows[REPORT_NATIVE_ROWS_MAX];
	int pi, i, n, nprocs = 0;

	for (pi = 0; pi < t->nprocs; pi++)
		nprocs += report__native_of(t, pi, rows, REPORT_NATIVE_ROWS_MAX) > 0;
	if (!nprocs) {
		pr_warn("%s: no native samples recorded (record --native): the collapsed output is empty", t->path);
		return 0;
	}
	for (pi = 0; pi < t->nprocs; pi++) {
		n = report__native_of(t, pi, rows, REPORT_NATIVE_ROWS_MAX);
		for (i = 0; i < n; i++) {
			if (rows[i].bytes <= 0)
				continue;
			if (nprocs > 1) {
				esc_fputs(f, esc_collapsed, t->procs[pi].comm);
				fprintf(f, "-%d;", t->procs[pi].pid);
			}
			esc_fputs(f, esc_text, rows[i].name); /* frames joined with ';', as sites */
			fprintf(f, " %lld\n", (long long)rows[i].bytes);
		}
	}
	return 0;
}

/* Survivor samples as collapsed stacks, TYPE;root;...;leaf ALIVE: a flame graph of what leaks. */
int report__write_collapsed_survivors(const struct trace *t, FILE *f)
{
	int k = TRACE_SURVIVORS, i, nprocs = 0, last_proc = -1;

	for (i = 0; i < t->naux[k]; i++)
		if (t->aux[k][i].proc != last_proc) {
			last_proc = t->aux[k][i].proc;
			nprocs++;
		}
	if (!t->naux[k]) {
		pr_warn("%s: no survivor samples recorded%s: the collapsed output is empty", t->path,
			t->meta.schema_version < 2 ? " (a trace of schema 1 has none)" : "");
		return 0;
	}
	for (i = 0; i < t->naux[k]; i++) {
		const struct trace_aux *a = &t->aux[k][i];

		if (a->count <= 0)
			continue;
		if (nprocs > 1) {
			esc_fputs(f, esc_collapsed, t->procs[a->proc].comm);
			fprintf(f, "-%d;", t->procs[a->proc].pid);
		}
		/* the type is one frame, then the stored stack (as for sites) */
		esc_fputs(f, esc_collapsed, a->kind ? a->kind : "?");
		fputc(';', f);
		put_stack(t, f, a->name);
		fprintf(f, " %lld\n", (long long)a->count);
	}
	return 0;
}
