/* SPDX-License-Identifier: BSD-2-Clause */
/* The Sites tab: the Python stacks that triggered young collections, most frequent first. */
#include "views/tui_internal.h"

#include <stdio.h>

#include "util/common.h"
#include "target/python.h"

/*
 * Sites: the sampled Python stacks of the threads that triggered young collections, most
 * frequent first: share, count, the leaf frame, then its callers (and [truncated] for stacks
 * deeper than the kernel walks). One line per stack, the caller chain as far as it fits.
 */
void tui_render__sites_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h)
{
	const struct sites_report *s = &row->sites;
	char leaf[400], caller[400];
	int i, f, line = y;

	if (h <= 0)
		return;
	if (!row->sites_valid || !s->nstacks) {
		tui_tab__no_data(g, x, y, w, "Sites",
			       row->target.tier == GC_TIER_POLL
				       ? "no allocation sites on the poll tier (no collection-start probe)"
				       : "allocation sites (file.py:LINE function) appear after a few young collections");
		return;
	}
	tui_grid__printf(g, x + 1, line++, w - 1, TUI_A_LABEL,
			 "Sites: %llu samples, %llu walk errors (discarded), %llu truncated%s",
			 (unsigned long long)s->total, (unsigned long long)s->counters.walk_errors,
			 (unsigned long long)s->counters.truncated,
			 row->target.minor >= 12 ? "  (3.12+: collections run at the next eval-breaker check: approximate)"
						 : "");
	for (i = 0; i < s->nstacks && line < y + h; i++) {
		const struct site_stack *st = &s->stacks[i];
		int cx;

		if (!st->nframes)
			continue;
		site_frame__format(&st->frames[0], leaf, sizeof(leaf));
		cx = x + 1 + tui_grid__printf(g, x + 1, line, w - 1, i == 0 ? TUI_A_WARN : TUI_A_NORMAL, "%5.1f%% %6llu  %s",
					      100.0 * st->count / (s->total ? s->total : 1), (unsigned long long)st->count,
					      leaf);
		for (f = 1; f < st->nframes && cx < x + w - 4; f++) {
			site_frame__format(&st->frames[f], caller, sizeof(caller));
			cx += tui_grid__printf(g, cx, line, x + w - cx, TUI_A_DIM, " < %s", caller);
		}
		if (st->truncated && cx < x + w - 12)
			tui_grid__puts(g, cx, line, x + w - cx, TUI_A_DIM, " < [truncated]");
		line++;
	}
}
