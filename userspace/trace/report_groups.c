/* SPDX-License-Identifier: BSD-2-Clause */
/* Reports, process families: one section per family (text), its figures as JSON (json, html). */
#include "trace/report_internal.h"

#include <stdio.h>
#include <string.h>

#include "util/common.h"
#include "util/escape.h"
#include "util/format.h"

struct group_fig {
	int max_workers, recycled;
	uint64_t rss_first, rss_last, rss_peak, rss_max_proc;
	double gc0_per_s_mean;
	int64_t p99_us, max_us;
	uint64_t pauses;
	double median_life_s, median_rss_growth;
	const struct trace_group_verdict *last; /* the newest verdict set: [last, last + nlast) */
	int nlast;
};

static void figures(const struct trace_group *g, struct group_fig *f)
{
	double gc0 = 0;
	int i;

	memset(f, 0, sizeof(*f));
	f->p99_us = f->max_us = -1;
	for (i = 0; i < g->nsamples; i++) {
		const struct trace_group_sample *s = &g->samples[i];

		f->max_workers = MAX(f->max_workers, s->workers);
		f->recycled = MAX(f->recycled, s->recycled);
		f->rss_peak = MAX(f->rss_peak, s->rss);
		f->rss_max_proc = MAX(f->rss_max_proc, s->rss_max);
		f->p99_us = MAX(f->p99_us, s->pause_p99_us);
		f->max_us = MAX(f->max_us, s->pause_max_us);
		gc0 += s->gc_per_s[0];
		f->pauses = MAX(f->pauses, s->pause_count);
		if (s->median_life_s > 0) {
			f->median_life_s = s->median_life_s;
			f->median_rss_growth = s->median_rss_growth;
		}
	}
	if (!f->pauses)
		f->p99_us = f->max_us = -1; /* no pause timed: unknown, not 0 */
	if (g->nsamples) {
		f->rss_first = g->samples[0].rss;
		f->rss_last = g->samples[g->nsamples - 1].rss;
		f->gc0_per_s_mean = gc0 / g->nsamples;
	}
	/* verdicts are written as a set whenever it changes: the newest set is the last time's rows */
	for (i = g->nverdicts - 1; i >= 0 && g->verdicts[i].time == g->verdicts[g->nverdicts - 1].time; i--)
		;
	if (g->nverdicts) {
		f->last = &g->verdicts[i + 1];
		f->nlast = g->nverdicts - (i + 1);
	}
}

/* Every string of a trace is the target's or the file's: through esc_text (util/escape.h). */
static struct esc_ring text_ring;

static const char *T(const char *s)
{
	return esc_ring__text(&text_ring, s);
}

void report_groups__text(const struct trace *t, FILE *f)
{
	struct group_fig fig;
	char a[16], b[16], c[16];
	int i, k, workers;

	if (!t->ngroups)
		return;
	fprintf(f, "\nprocess families: %d\n", t->ngroups);
	for (i = 0; i < t->ngroups; i++) {
		const struct trace_group *g = &t->groups[i];

		figures(g, &fig);
		for (k = workers = 0; k < g->nmembers; k++)
			workers += !strcmp(g->roles[k], "worker");
		fprintf(f, "\nfamily %s (%s), root pid %d, %.0f s recorded\n", T(g->name), T(g->kind), g->root_pid,
			g->last_seen > g->first_seen ? g->last_seen - g->first_seen : 0);
		fprintf(f, "  command: %s\n", T(g->command));
		fprintf(f, "  workers: up to %d at once, %d recorded in all, %d recycled\n", fig.max_workers, workers,
			fig.recycled);
		fprintf(f, "  members:");
		for (k = 0; k < g->nmembers && k < 64; k++)
			fprintf(f, " %d%s", t->procs[g->members[k]].pid,
				strcmp(g->roles[k], "worker") ? (strcmp(g->roles[k], "master") ? " (helper)" : " (master)") : "");
		fprintf(f, "%s\n", g->nmembers > 64 ? " ..." : "");
		fprintf(f, "  RSS (all processes): %s -> %s, peak %s; largest process %s\n",
			fmt_bytes(a, sizeof(a), (double)fig.rss_first), fmt_bytes(b, sizeof(b), (double)fig.rss_last),
			fmt_bytes(c, sizeof(c), (double)fig.rss_peak), fmt_bytes(a, sizeof(a), (double)fig.rss_max_proc));
		fprintf(f, "  gen0 collections %.1f/s (mean, summed over workers); pauses over all workers: p99 %s, max %s\n",
			fig.gc0_per_s_mean, fig.p99_us >= 0 ? fmt_us(a, sizeof(a), (double)fig.p99_us) : "-",
			fig.max_us >= 0 ? fmt_us(b, sizeof(b), (double)fig.max_us) : "-");
		if (fig.median_life_s > 0)
			fprintf(f, "  recycled workers: median life %.0f s, median RSS growth over a life %s\n",
				fig.median_life_s, fmt_sbytes(a, sizeof(a), fig.median_rss_growth));
		if (!fig.nlast) {
			fputs("  verdicts: none\n", f);
			continue;
		}
		fputs("  verdicts:\n", f);
		for (k = 0; k < fig.nlast; k++) {
			fprintf(f, "    %s\n", T(fig.last[k].text));
			if (fig.last[k].evidence[0])
				fprintf(f, "      %s\n", T(fig.last[k].evidence));
		}
	}
}

void report_groups__json(const struct trace *t, FILE *f)
{
	struct group_fig fig;
	int i, k;

	fputs(",\"groups\":[", f);
	for (i = 0; i < t->ngroups; i++) {
		const struct trace_group *g = &t->groups[i];

		figures(g, &fig);
		fputs(i ? ",{\"name\":" : "{\"name\":", f);
		report_json__str(f, g->name);
		fputs(",\"kind\":", f);
		report_json__str(f, g->kind);
		fprintf(f, ",\"root_pid\":%d,\"command\":", g->root_pid);
		report_json__str(f, g->command);
		fputs(",\"members\":[", f);
		for (k = 0; k < g->nmembers; k++) {
			fprintf(f, "%s{\"pid\":%d,\"role\":", k ? "," : "", t->procs[g->members[k]].pid);
			report_json__str(f, g->roles[k]);
			fputc('}', f);
		}
		fprintf(f, "],\"max_workers\":%d,\"recycled\":%d,\"rss_first\":%llu,\"rss_last\":%llu,\"rss_peak\":%llu,"
			   "\"rss_max_process\":%llu,\"gc0_per_s_mean\":",
			fig.max_workers, fig.recycled, (unsigned long long)fig.rss_first, (unsigned long long)fig.rss_last,
			(unsigned long long)fig.rss_peak, (unsigned long long)fig.rss_max_proc);
		report_json__num(f, fig.gc0_per_s_mean);
		fputs(",\"pause_p99_us\":", f);
		report_json__num(f, fig.p99_us >= 0 ? (double)fig.p99_us : -1);
		fputs(",\"pause_max_us\":", f);
		report_json__num(f, fig.max_us >= 0 ? (double)fig.max_us : -1);
		fputs(",\"median_life_s\":", f);
		report_json__num(f, fig.median_life_s);
		fputs(",\"median_rss_growth\":", f);
		report_json__num(f, fig.median_rss_growth);
		fputs(",\"verdicts\":[", f);
		for (k = 0; k < fig.nlast; k++) {
			const struct trace_group_verdict *v = &fig.last[k];

			fputs(k ? ",{\"kind\":" : "{\"kind\":", f);
			report_json__str(f, v->kind);
			fputs(",\"name\":", f);
			report_json__str(f, v->name);
			fprintf(f, ",\"recycled\":%s,\"workers_with\":%d,\"workers\":%d,\"per_min_each\":",
				v->recycled ? "true" : "false", v->workers_with, v->workers);
			report_json__num(f, v->per_min_each);
			fputs(",\"per_life\":", f);
			report_json__num(f, v->per_life);
			fputs(",\"text\":", f);
			report_json__str(f, v->text);
			fputs(",\"evidence\":", f);
			report_json__str(f, v->evidence);
			fputc('}', f);
		}
		/* time series for the html charts */
		fputs("],\"series\":{\"t\":[", f);
		for (k = 0; k < g->nsamples; k++) {
			if (k)
				fputc(',', f);
			report_json__num(f, g->samples[k].time);
		}
		fputs("],\"workers\":[", f);
		for (k = 0; k < g->nsamples; k++)
			fprintf(f, "%s%d", k ? "," : "", g->samples[k].workers);
		fputs("],\"recycled\":[", f);
		for (k = 0; k < g->nsamples; k++)
			fprintf(f, "%s%d", k ? "," : "", g->samples[k].recycled);
		fputs("],\"rss\":[", f);
		for (k = 0; k < g->nsamples; k++)
			fprintf(f, "%s%llu", k ? "," : "", (unsigned long long)g->samples[k].rss);
		fputs("],\"rss_max\":[", f);
		for (k = 0; k < g->nsamples; k++)
			fprintf(f, "%s%llu", k ? "," : "", (unsigned long long)g->samples[k].rss_max);
		fputs("]}}", f);
	}
	fputc(']', f);
}
