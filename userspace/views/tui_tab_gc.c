/* SPDX-License-Identifier: BSD-2-Clause */
/* The GC tab: exact cumulative counters, pause summaries, the collection timeline and pause histograms. */
#include "views/tui_internal.h"

#include <stdio.h>

#include "util/common.h"
#include "util/format.h"
#include "model/gcstats.h"

/* Collections of generation gen during the refresh that ended at history sample `age`. */
static int64_t collections_at(const struct proc_row *r, int age, int gen)
{
	const struct proc_sample *now = proc_row__sample(r, age), *before = proc_row__sample(r, age + 1);

	if (!now || !before)
		return -1;
	return now->collections[gen] >= before->collections[gen] ? now->collections[gen] - before->collections[gen]
								     : 0;
}

/* One sparkline per generation: collections per refresh, oldest left, newest right. */
static int render_timeline(struct tui_grid *g, const struct proc_row *r, int x, int y, int w, int h)
{
	int gen, i, label = 25, strip = w - label - 1, n;

	if (h < 2 || strip < 4)
		return 0;
	tui_grid__puts(g, x, y, w, TUI_A_LABEL, "GC timeline (collections per refresh, newest right)");
	n = MIN(strip, r->nhistory - 1);
	for (gen = 0; gen < MODEL_NGEN && gen + 1 < h; gen++) {
		int64_t mx = 0, last = collections_at(r, 0, gen), v;

		for (i = 0; i < n; i++)
			mx = MAX(mx, collections_at(r, i, gen));
		tui_grid__printf(g, x, y + 1 + gen, label, TUI_A_NORMAL, "gen%d last %4lld max %4lld", gen,
				 (long long)MAX(last, 0), (long long)mx);
		for (i = 0; i < n; i++) {
			v = collections_at(r, i, gen);
			if (v <= 0)
				continue;
			/* any collection shows at least the lowest block */
			tui_grid__put(g, x + label + strip - 1 - i, y + 1 + gen,
				      tui_glyph__spark(g, (int)((v * 8 + mx - 1) / MAX(mx, 1))), TUI_A_BAR);
		}
		if (n <= 0)
			tui_grid__puts(g, x + label, y + 1 + gen, strip, TUI_A_DIM, "(needs two refreshes)");
	}
	return 1 + MIN(MODEL_NGEN, h - 1);
}

/* Pause counts of generation gen in octaves [oct0, oct0 + per) (4 kernel sub-buckets each). */
static uint64_t octave_count(const struct proc_row *r, int gen, int oct0, int per)
{
	uint64_t n = 0;

	for (int s = oct0 * 4; s < (oct0 + per) * 4 && s < MODEL_HIST_SLOTS; s++)
		n += r->pause_hist[gen][s];
	return n;
}

/*
 * Pause histograms.  The kernel keeps 4 sub-buckets per power of two (bpf/gc.h); on screen a
 * bar is one power of two.  With room: one column of horizontal bars per generation; on short
 * terminals: one strip per generation, a cell pair per power of two.
 */
static int render_histograms(struct tui_grid *g, const struct proc_row *r, int x, int y, int w, int h)
{
	int lo_oct = 1000, hi_oct = -1, gen, rows, per, colw, i;
	uint64_t lo_us, hi_us, lo2, hi2;
	char lb[16], hb[16], nb[16];

	if (h < 1)
		return 0;
	for (gen = 0; gen < MODEL_NGEN; gen++)
		for (i = 0; i < MODEL_HIST_SLOTS; i++)
			if (r->pause_hist[gen][i]) {
				lo_oct = MIN(lo_oct, i / 4);
				hi_oct = MAX(hi_oct, i / 4);
			}
	if (hi_oct < 0) {
		tui_grid__printf(g, x, y, w, TUI_A_LABEL, "Pause histograms: no timed collections yet%s",
				 r->pauses_estimated ? " (poll tier: sampled)" : "");
		return 1;
	}
	rows = hi_oct - lo_oct + 1;
	pause_hist__bounds((uint32_t)(lo_oct * 4), &lo_us, &hi_us);
	pause_hist__bounds((uint32_t)(hi_oct * 4 + 3), &lo2, &hi2);
	tui_grid__printf(g, x, y, w, TUI_A_LABEL, "Pause histograms %s .. %s, per power of two%s",
			 fmt_us(lb, sizeof(lb), (double)lo_us), fmt_us(hb, sizeof(hb), (double)hi2),
			 r->pauses_estimated ? " (estimated)" : "");
	if (h < 2 + rows && h >= 1 + MODEL_NGEN) {
		/* strips: "gen0 ▁▁██▃▃·· 500" */
		for (gen = 0; gen < MODEL_NGEN; gen++) {
			uint64_t mx = 0, total = 0, n;
			int cx = x + 5;

			for (i = 0; i < rows; i++) {
				n = octave_count(r, gen, lo_oct + i, 1);
				mx = MAX(mx, n);
				total += n;
			}
			tui_grid__printf(g, x, y + 1 + gen, 5, TUI_A_NORMAL, "gen%d", gen);
			for (i = 0; i < rows && cx + 2 <= x + w - 8; i++, cx += 2) {
				uint32_t glyph = g->ascii ? '.' : 0xb7;

				n = octave_count(r, gen, lo_oct + i, 1);
				if (n)
					glyph = tui_glyph__spark(g, (int)((n * 8 + mx - 1) / mx));
				tui_grid__fill(g, cx, y + 1 + gen, 2, glyph, n ? TUI_A_BAR : TUI_A_DIM);
			}
			tui_grid__printf(g, cx + 1, y + 1 + gen, x + w - cx - 1, TUI_A_NORMAL, "%s",
					 fmt_count(nb, sizeof(nb), (double)total));
		}
		return 1 + MODEL_NGEN;
	}
	if (h < 3)
		return 1;
	/* bars: h - 2 lines (title and generation labels above); merge octaves when short */
	per = (rows + (h - 2) - 1) / (h - 2);
	rows = (rows + per - 1) / per;
	colw = w / MODEL_NGEN;
	for (gen = 0; gen < MODEL_NGEN; gen++)
		tui_grid__printf(g, x + gen * colw, y + 1, colw - 1, TUI_A_LABEL, "gen%d", gen);
	for (gen = 0; gen < MODEL_NGEN; gen++) {
		uint64_t mx = 0;
		int cx = x + gen * colw, barw = MAX(colw - 7 - 8 - 1, 0);

		for (i = 0; i < rows; i++)
			mx = MAX(mx, octave_count(r, gen, lo_oct + i * per, per));
		for (i = 0; i < rows && i + 2 < h; i++) {
			uint64_t n = octave_count(r, gen, lo_oct + i * per, per);
			int len = mx ? (int)((n * (uint64_t)barw + mx - 1) / mx) : 0;

			pause_hist__bounds((uint32_t)((lo_oct + i * per) * 4), &lo_us, &hi_us);
			tui_grid__printf(g, cx, y + 2 + i, 7, TUI_A_NORMAL, "%6s", fmt_us(lb, sizeof(lb), (double)lo_us));
			tui_grid__fill(g, cx + 7, y + 2 + i, MIN(len, barw), tui_glyph__bar(g), TUI_A_BAR);
			if (n)
				tui_grid__printf(g, cx + 7 + barw + 1, y + 2 + i, MIN(8, colw - 7 - barw - 1), TUI_A_NORMAL,
						 "%7s", fmt_count(nb, sizeof(nb), (double)n));
		}
	}
	return 2 + MIN(rows, h - 2);
}

void tui_render__gc_tab(struct tui_grid *g, const struct snapshot *snap, const struct proc_row *r, int x, int y,
			int w, int h)
{
	char a[16], b[16], c[16], d[16];
	int gen, yy = y, bottom = y + h, px, py, xx;
	bool side = w >= 72 + 50; /* both tables side by side: 70 + 2 + 50 columns */

	(void)snap;
	if (h <= 0)
		return;
	if (!r->gc_valid) {
		tui_grid__printf(g, x + 1, yy, w - 1, TUI_A_WARN, "GC state not readable%s%s", r->note[0] ? ": " : "",
				 r->note);
		return;
	}
	/* Exact cumulative counters = gc.get_stats() in the target, as raw integers. */
	tui_grid__printf(g, x, yy, w, TUI_A_TITLE, "%-4s %12s %12s %13s %9s %7s %7s", "GEN", "COLLECTIONS", "COLLECTED",
			 "UNCOLLECTABLE", "THRESHOLD", "COUNT", "GC/s");
	for (gen = 0; gen < MODEL_NGEN && yy + 1 + gen < bottom; gen++)
		tui_grid__printf(g, x, yy + 1 + gen, w, TUI_A_NORMAL, "gen%d %12lld %12lld %13lld %9lld %7lld %7s", gen,
				 (long long)r->collections[gen], (long long)r->collected[gen],
				 (long long)r->uncollectable[gen], (long long)r->thresholds[gen], (long long)r->counts[gen],
				 tui_fmt__rate(a, sizeof(a), r->gc_per_s[gen]));
	/* Pauses since pyleak attached; beside the counters when there is room, else below. */
	px = side ? x + 72 : x;
	py = side ? yy : yy + 4;
	for (gen = -1; gen < MODEL_NGEN && py + 1 + gen < bottom; gen++) {
		const struct pause_summary *ps = gen >= 0 ? &r->pause[gen] : NULL;

		if (!ps)
			tui_grid__printf(g, px, py, w - (px - x), TUI_A_TITLE, "%-4s %9s %8s %8s %8s %8s", "GEN", "PAUSES",
					 "SUM", "MAX", "P50", "P99");
		else if (!ps->count)
			tui_grid__printf(g, px, py + 1 + gen, w - (px - x), TUI_A_NORMAL, "gen%d %9d %8s %8s %8s %8s", gen,
					 0, "-", "-", "-", "-");
		else
			tui_grid__printf(g, px, py + 1 + gen, w - (px - x), TUI_A_NORMAL, "gen%d %9llu %8s %8s %8s %8s%s",
					 gen, (unsigned long long)ps->count, fmt_us(a, sizeof(a), (double)ps->sum_us),
					 fmt_us(b, sizeof(b), (double)ps->max_us), fmt_us(c, sizeof(c), (double)ps->p50_us),
					 fmt_us(d, sizeof(d), (double)ps->p99_us), ps->estimated ? " est." : "");
	}
	yy = side ? yy + 4 : yy + 8;
	if (yy >= bottom)
		return;
	xx = x + tui_grid__printf(g, x, yy, w, TUI_A_NORMAL, "gc %s  garbage %lld  gc time %.1f%%  live %s",
				  r->enabled ? "enabled" : "DISABLED", (long long)r->garbage, r->gc_time_pct,
				  r->live_objects >= 0 ? fmt_count(a, sizeof(a), (double)r->live_objects) : "-");
	if (r->pauses_unknown_gen)
		xx += tui_grid__printf(g, xx, yy, w - (xx - x), TUI_A_WARN, "  %llu pauses of unknown gen",
				       (unsigned long long)r->pauses_unknown_gen);
	if (r->pauses_estimated)
		tui_grid__puts(g, xx, yy, w - (xx - x), TUI_A_WARN, "  poll tier: pauses estimated");
	/* a blank line between sections only when everything still fits */
	yy += bottom - yy - 1 >= 4 + 1 + 4 ? 2 : 1;
	if (yy < bottom)
		yy += render_timeline(g, r, x, yy, w, MIN(4, bottom - yy));
	if (bottom - yy > 4 + 1)
		yy++;
	if (yy < bottom)
		render_histograms(g, r, x, yy, w, bottom - yy);
}
