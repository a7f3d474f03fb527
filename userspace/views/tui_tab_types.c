/* SPDX-License-Identifier: BSD-2-Clause */
/* The Types tab: live objects per type from the census, their growth and a trend sparkline. */
#include "views/tui_internal.h"

#include <stdint.h>
#include <stdio.h>

#include "util/common.h"
#include "util/format.h"

/*
 * Types: live count, change per minute (Theil-Sen over the census window), bytes, and the
 * census points as a sparkline, scaled from the series' minimum to its maximum so growth shows
 * even on a large base. Suspect types are drawn as warnings.
 */
void tui_render__types_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h)
{
	int namew, i, line, sparkw = MODEL_SPARK;
	char cnt[32], rate[32], bytes[32];

	if (h <= 0)
		return;
	if (row->census_time <= 0 || !row->ntypes) {
		tui_tab__no_data(g, x, y, w, "Types", "live objects per type and their growth appear here once a census ran");
		return;
	}
	tui_tab__census_line(g, row, x, y, w);
	if (h < 3)
		return;
	if (w < 60)
		sparkw = 0;
	namew = MAX(12, w - 2 - 10 - 10 - 10 - (sparkw ? sparkw + 2 : 0) - 3);
	tui_grid__fill(g, x, y + 1, w, ' ', TUI_A_TITLE);
	tui_grid__printf(g, x + 1, y + 1, w - 1, TUI_A_TITLE, "%-*s %9s %9s %9s%s%s", namew, "TYPE", "LIVE", "/MIN",
			 "BYTES", sparkw ? "  " : "", sparkw ? "TREND" : "");
	for (i = 0, line = y + 2; i < row->ntypes && line < y + h; i++, line++) {
		const struct type_row *t = &row->types[i];
		bool sus = tui_tab__is_suspect(row, SUSPECT_TYPE, t->name);
		uint8_t attr = sus ? TUI_A_WARN : TUI_A_NORMAL;
		int64_t mn = INT64_MAX, mx = INT64_MIN;
		int k, sx;

		snprintf(cnt, sizeof(cnt), "%lld", (long long)t->count);
		if (t->per_min == 0)
			snprintf(rate, sizeof(rate), "0");
		else
			tui_fmt__per_min(rate, sizeof(rate), t->per_min, false);
		fmt_bytes(bytes, sizeof(bytes), (double)t->bytes);
		tui_grid__printf(g, x + 1, line, w - 1, attr, "%-*.*s %9s %9s %9s", namew, namew, t->name, cnt, rate,
				 bytes);
		if (!sparkw || t->nspark < 2)
			continue;
		for (k = 0; k < t->nspark; k++) {
			mn = MIN(mn, t->spark[k]);
			mx = MAX(mx, t->spark[k]);
		}
		sx = x + 1 + namew + 30 + 2 + (sparkw - t->nspark);
		for (k = 0; k < t->nspark; k++) {
			int level = mx > mn ? 1 + (int)((t->spark[k] - mn) * 7 / (mx - mn)) : 1;

			tui_grid__put(g, sx + k, line, tui_glyph__spark(g, level), TUI_A_BAR);
		}
	}
}
