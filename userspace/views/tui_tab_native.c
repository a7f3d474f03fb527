/* SPDX-License-Identifier: BSD-2-Clause */
/* The Native tab: sampled native allocations still outstanding, by stack, fastest growing first. */
#include "views/tui_internal.h"

#include <stdio.h>

#include "util/common.h"

/*
 * One line per stack with verified outstanding samples: estimated growth per minute, outstanding
 * sampled blocks, the share of its samples still allocated, the oldest one's age, then the native
 * caller and its callers, Python frames included, as far as the line goes. The header says how the
 * figures were verified and what the probes cost.
 */
void tui_render__native_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h)
{
	const struct native_report *n = &row->native;
	const struct native_counters *c = &n->counters;
	char rate[40], chain[1024];
	int i, line = y;

	if (h <= 0)
		return;
	if (!row->native_valid) {
		tui_tab__no_data(g, x, y, w, "Native",
				 "run top --native: sampled malloc/free with native and Python stacks, verified from glibc's chunk headers");
		return;
	}
	tui_grid__printf(g, x + 1, line++, w - 1, TUI_A_LABEL,
			 "Native: %llu samples outstanding, probes attached %.1f s of %.0f s, cost %.2f%% of its CPU, %s%s",
			 (unsigned long long)n->nsamples, c->observed_s, c->elapsed_s, c->overhead_pct,
			 n->verified == NATIVE_VERIFIED_HEADERS ? "verified from chunk headers" : "not verifiable (no glibc heap)",
			 c->inflight_full || c->live_full || c->stacks_full || c->ring_full || c->samples_dropped
				 ? "  (maps full: see JSON)"
				 : "");
	if (line < y + h)
		tui_grid__printf(g, x + 1, line++, w - 1, TUI_A_DIM, "%10s %7s %5s %7s  %s", "growth", "out", "out%",
				 "age s", "stack");
	for (i = 0; i < n->nstacks && line < y + h; i++) {
		const struct native_stack *st = &n->stacks[i];

		if (!st->out_blocks)
			continue;
		tui_fmt__per_min(rate, sizeof(rate), st->growth_bytes_per_min, true);
		native_stack__format(st, 4, chain, sizeof(chain));
		tui_grid__printf(g, x + 1, line++, w - 1, st->suspect ? TUI_A_WARN : TUI_A_NORMAL, "%10s %7llu %4.0f%% %7.0f  %s",
				 rate, (unsigned long long)st->out_blocks, 100 * st->out_ratio, st->oldest_age_s, chain);
	}
}
