/* SPDX-License-Identifier: BSD-2-Clause */
/* Prometheus exporter, process families: per-family series labelled by the family, not by pid. */
#include "views/serve.h"

#include <stdio.h>
#include <string.h>

#include "model/groups.h"

/*
 * Cardinality: every family below is labelled group (and kind), plus generation/le or the
 * verdict's name: none carries a pid, so workers coming and going (recycled by max_requests,
 * a pool with maxtasksperchild) add no series.  Families end with their root; verdicts are
 * capped at GROUP_MAX_VERDICTS per family.
 */

static void labels(struct strbuf *sb, const struct group_row *g)
{
	sb_puts(sb, "group=\"");
	serve__label_value(sb, g->name);
	sb_printf(sb, "\",kind=\"%s\"", group_kind__name(g->kind));
}

static void header(struct strbuf *sb, const char *name, const char *type, const char *help)
{
	sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(struct strbuf *sb, const struct snapshot *snap, const char *name, const char *type,
		  const char *help, double (*value)(const struct group_row *g))
{
	char num[40];

	header(sb, name, type, help);
	for (int i = 0; i < snap->ngroups; i++) {
		sb_printf(sb, "%s{", name);
		labels(sb, &snap->groups[i]);
		snprintf(num, sizeof(num), "%.17g", value(&snap->groups[i]));
		sb_printf(sb, "} %s\n", num);
	}
}

static double v_workers(const struct group_row *g) { return g->workers; }
static double v_members(const struct group_row *g) { return g->members; }
static double v_recycled(const struct group_row *g) { return g->recycled; }
static double v_rss(const struct group_row *g) { return (double)g->rss_total; }
static double v_rss_max(const struct group_row *g) { return (double)g->rss_max; }
static double v_life(const struct group_row *g) { return g->median_life_s; }
static double v_growth(const struct group_row *g) { return g->median_rss_growth; }

void serve_render_groups(struct strbuf *sb, const struct snapshot *snap)
{
	uint32_t hist32[MODEL_HIST_SLOTS];
	uint64_t cum[SERVE_PAUSE_BUCKETS], count;
	char num[40];
	int i, gen, b, s, nv = 0;

	if (!snap->ngroups)
		return;
	gauge(sb, snap, "pyleak_group_workers", "gauge", "Live workers of the process family.", v_workers);
	gauge(sb, snap, "pyleak_group_processes", "gauge", "Processes of the family (root and helpers included).",
	      v_members);
	gauge(sb, snap, "pyleak_group_workers_recycled_total", "counter",
	      "Workers of the family that exited while it lived (recycled, crashed, scaled down).", v_recycled);
	gauge(sb, snap, "pyleak_group_resident_memory_bytes", "gauge", "RSS summed over the family's live processes.",
	      v_rss);
	gauge(sb, snap, "pyleak_group_resident_memory_max_bytes", "gauge", "RSS of the family's largest process.",
	      v_rss_max);
	gauge(sb, snap, "pyleak_group_worker_life_seconds", "gauge",
	      "Median observed life of the family's retired workers (0 before two retired).", v_life);
	gauge(sb, snap, "pyleak_group_worker_rss_growth_bytes", "gauge",
	      "Median RSS a retired worker gained over its life (0 when not measured).", v_growth);

	header(sb, "pyleak_group_gc_collections_per_second", "gauge",
	       "Collections per second per generation, summed over the family's live processes.");
	for (i = 0; i < snap->ngroups; i++)
		for (gen = 0; gen < MODEL_NGEN; gen++) {
			sb_puts(sb, "pyleak_group_gc_collections_per_second{");
			labels(sb, &snap->groups[i]);
			snprintf(num, sizeof(num), "%.17g", snap->groups[i].gc_per_s[gen]);
			sb_printf(sb, ",generation=\"%d\"} %s\n", gen, num);
		}

	/* Monotonic: a retired worker's histogram stays in the family's sum. */
	header(sb, "pyleak_group_gc_pause_seconds", "histogram",
	       "GC pauses per generation over every process of the family since pyleak attached, retired workers included.");
	for (i = 0; i < snap->ngroups; i++) {
		const struct group_row *g = &snap->groups[i];

		for (gen = 0; gen < MODEL_NGEN; gen++) {
			for (s = 0; s < MODEL_HIST_SLOTS; s++)
				hist32[s] = g->pause_hist[gen][s] > UINT32_MAX ? UINT32_MAX : (uint32_t)g->pause_hist[gen][s];
			serve__pause_buckets(hist32, MODEL_HIST_SLOTS, cum, &count);
			for (b = 0; b < SERVE_PAUSE_BUCKETS; b++) {
				sb_puts(sb, "pyleak_group_gc_pause_seconds_bucket{");
				labels(sb, g);
				snprintf(num, sizeof(num), "%.15g", (double)serve__bucket_us(b) / 1e6);
				sb_printf(sb, ",generation=\"%d\",le=\"%s\"} %llu\n", gen, num, (unsigned long long)cum[b]);
			}
			sb_puts(sb, "pyleak_group_gc_pause_seconds_bucket{");
			labels(sb, g);
			sb_printf(sb, ",generation=\"%d\",le=\"+Inf\"} %llu\n", gen, (unsigned long long)count);
			sb_puts(sb, "pyleak_group_gc_pause_seconds_sum{");
			labels(sb, g);
			snprintf(num, sizeof(num), "%.17g", (double)g->pause[gen].sum_us / 1e6);
			sb_printf(sb, ",generation=\"%d\"} %s\n", gen, num);
			sb_puts(sb, "pyleak_group_gc_pause_seconds_count{");
			labels(sb, g);
			sb_printf(sb, ",generation=\"%d\"} %llu\n", gen, (unsigned long long)count);
		}
	}

	for (i = 0; i < snap->ngroups; i++)
		nv += snap->groups[i].nverdicts;
	if (!nv)
		return;
	header(sb, "pyleak_group_suspect_workers_ratio", "gauge",
	       "Share of the family's workers (live, or retired when recycled=\"true\") showing the same leak.");
	for (i = 0; i < snap->ngroups; i++)
		for (int k = 0; k < snap->groups[i].nverdicts; k++) {
			const struct group_verdict *v = &snap->groups[i].verdicts[k];

			sb_puts(sb, "pyleak_group_suspect_workers_ratio{");
			labels(sb, &snap->groups[i]);
			sb_printf(sb, ",suspect_kind=\"%s\",name=\"", suspect_kind__name(v->kind));
			serve__label_value(sb, v->name);
			snprintf(num, sizeof(num), "%.6g", v->workers ? (double)v->workers_with / v->workers : 0.0);
			sb_printf(sb, "\",recycled=\"%s\"} %s\n", v->recycled ? "true" : "false", num);
		}
	header(sb, "pyleak_group_suspect_growth_per_minute", "gauge",
	       "Median growth per minute of one worker for each family verdict (objects, items or bytes).");
	for (i = 0; i < snap->ngroups; i++)
		for (int k = 0; k < snap->groups[i].nverdicts; k++) {
			const struct group_verdict *v = &snap->groups[i].verdicts[k];

			sb_puts(sb, "pyleak_group_suspect_growth_per_minute{");
			labels(sb, &snap->groups[i]);
			sb_printf(sb, ",suspect_kind=\"%s\",name=\"", suspect_kind__name(v->kind));
			serve__label_value(sb, v->name);
			snprintf(num, sizeof(num), "%.6g", v->per_min_each);
			sb_printf(sb, "\",recycled=\"%s\"} %s\n", v->recycled ? "true" : "false", num);
		}
}
