/* SPDX-License-Identifier: BSD-2-Clause */
/* The text report of a trace: one section per process, for people. */
#include "trace/report_internal.h"

#include <errno.h>
#include <stdlib.h>

#include "util/escape.h"
#include "util/format.h"

/*
 * Every string in a trace is what a target (or whoever wrote the file) chose: through esc_text
 * before it reaches the terminal (util/escape.h). The report is written by one thread.
 */
static struct esc_ring text_ring;

static const char *T(const char *s)
{
	return esc_ring__text(&text_ring, s);
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
		fprintf(f, "    %-40s %10s -> %-10s %+lld (%s/min)\n", T(s->types[i].name),
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
		fprintf(f, "    %-40s %-12s %lld -> %lld (%s/min)\n", T(s->containers[i].name),
			T(s->containers[i].kind ? s->containers[i].kind : ""), (long long)s->containers[i].first,
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

		fprintf(f, "    %-10s %-40s %+.1f/min confidence %.2f%s%s\n", T(a->kind ? a->kind : "?"), T(a->name),
			a->per_min, a->confidence, a->text ? "  " : "", a->text ? T(a->text) : "");
		if (a->explained_by)
			fprintf(f, "      part of the %s leak: %s\n", T(a->explained_by), T(a->group_why ? a->group_why : ""));
		if (a->chain && a->chain_status)
			fprintf(f, "      chain (%s): %s\n", T(a->chain_status), T(a->chain));
		if (a->diagnosis)
			fprintf(f, "      diagnosis: %s\n", T(a->diagnosis));
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
		fprintf(f, "    %10lld  %s\n", (long long)s->sites[i].last, T(s->sites[i].name));
}

static void text_survivors(FILE *f, const struct proc_sum *s)
{
	int i;

	fputs("  survivors (sampled objects still alive, by type and allocation site):\n", f);
	if (!s->nsurvivors) {
		fputs("    none recorded\n", f);
		return;
	}
	fprintf(f, "    %7s %8s %7s  %s\n", "alive", "survived", "sampled", "type  stack (root first)");
	for (i = 0; i < s->nsurvivors; i++)
		fprintf(f, "    %7lld %8lld %7lld  %s  %s\n", (long long)s->survivors[i].last,
			(long long)s->survivors[i].first, (long long)s->survivors[i].bytes,
			T(s->survivors[i].kind ? s->survivors[i].kind : "?"), T(s->survivors[i].name));
}

static void text_native(FILE *f, const struct proc_sum *s)
{
	char b1[16], b2[16];
	int i;

	if (!s->nnative)
		return; /* recorded without --native: no section */
	fputs("  native stacks (record --native; outstanding at the last heap walk, verified by chunk headers):\n", f);
	fprintf(f, "    %10s %11s %9s  %s\n", "bytes", "growth/min", "blocks", "caller  stack (root first)");
	for (i = 0; i < s->nnative; i++)
		fprintf(f, "    %10s %11s %9lld  %s  %s\n", fmt_bytes(b1, sizeof(b1), (double)s->native[i].bytes),
			fmt_sbytes(b2, sizeof(b2), s->native[i].per_min), (long long)s->native[i].last,
			T(s->native[i].kind ? s->native[i].kind : "?"), T(s->native[i].name));
}

static void text_process(FILE *f, const struct proc_sum *s)
{
	const struct trace_proc *p = s->p;
	const struct trace_sample *l = s->last_gc, *fs = s->first_gc;
	char b1[16], b2[16], b3[16], b4[16], b5[16], b6[16], b7[16];
	int g;

	fprintf(f, "\nprocess %d (%s)%s\n", p->pid, T(p->comm), p->exited ? " exited" : "");
	fprintf(f, "  cmdline: %s\n", T(p->cmdline));
	fprintf(f, "  python %s, exe %s, gc source %s", T(p->python[0] ? p->python : "?"), T(p->exe),
		T(p->gc_source[0] ? p->gc_source : "?"));
	if (p->ns_pid != p->pid)
		fprintf(f, ", ns pid %d", p->ns_pid);
	if (p->container_id[0]) {
		char id[13]; /* the short form of the id: 12 bytes, cut at a whole escape */

		fprintf(f, ", container %s", esc_text_buf(id, sizeof(id), p->container_id));
	}
	fprintf(f, "\n  %d samples over %.1f s, %d gc events\n", p->nsamples, s->duration_s, p->nevents);
	if (p->nthreads) {
		/* the names the threads gave themselves: escaped like every target string */
		fputs("  threads:", f);
		for (g = 0; g < p->nthreads && g < 32; g++)
			fprintf(f, "%s %d %s", g ? "," : "", p->threads[g].tid, T(p->threads[g].name));
		fprintf(f, "%s\n", p->nthreads > 32 ? ", ..." : "");
	}
	if (p->note[0])
		fprintf(f, "  note: %s\n", T(p->note));
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
	text_survivors(f, s);
	text_native(f, s);
}

int report__write_text(const struct trace *t, FILE *f)
{
	const struct trace_meta *m = &t->meta;
	struct proc_sum *s = malloc(sizeof(*s));
	int i;

	if (!s)
		return -ENOMEM;
	fprintf(f, "pyleak trace %s (schema %d, pyleak %s)\n", T(t->path), m->schema_version, T(m->pyleak_version));
	fprintf(f, "host %s, kernel %s\n", T(m->host), T(m->kernel));
	fprintf(f, "command: %s\n", T(m->command_line));
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
		fprintf(f, "truncated while loading (caps): %s\n", T(t->truncated));
	report_groups__text(t, f);
	if (!t->nprocs)
		fputs("\nprocesses: none recorded\n", f);
	for (i = 0; i < t->nprocs; i++) {
		report__summarise(t, i, s);
		text_process(f, s);
	}
	free(s);
	return 0;
}
