/* SPDX-License-Identifier: BSD-2-Clause */
/* The help screen of `pyleak top`: the keys and what the columns mean. */
#include "views/tui_internal.h"

#include "util/common.h"

void tui_help__render(struct tui_grid *g, int y0)
{
	static const char *const lines[] = {
		"pyleak top: GC and memory of every Python process (h, ? or F1: this help)",
		"",
		"  Up Down PgUp PgDn Home End  move the selection",
		"  Enter                       drill into the selected process; on a family: fold open/shut",
		"  e                           fold the selected family (or the selected member's) open/shut",
		"  Esc Backspace               back to the list (in the list: clear the filter)",
		"  Left Right Tab 1-7          switch tabs in the drill-in view",
		"  v  [ ]                      Sites tab: allocations / survivors of one type; pick the type",
		"  F6 > <                      next / previous sort column;  I  reverse the order",
		"  /                           filter by command or pid (Enter apply, Esc cancel)",
		"  p                           pause / resume refreshing",
		"  + -                         longer / shorter refresh interval",
		"  q F10 Ctrl-C                quit",
		"",
		"Columns: G0/s..G2/s collections per second per generation, GC% share of wall time",
		"in GC, MAXP/P99P pause max and p99 (all generations, since pyleak attached), LIVE",
		"tracked objects at the last census, GARBAGE len(gc.garbage), dRSS/m RSS growth.",
		"Counters in the drill-in view are cumulative since the process started: they equal",
		"gc.get_stats() in the target.  Tiers: usdt and uprobe time every collection; poll",
		"reads counters exactly but estimates pause times by sampling.",
		"Families (gunicorn, uvicorn, uwsgi, celery, multiprocessing, forks of one program) show",
		"as one line with summed figures (RSS, GC/s; pauses over every worker) and the verdict",
		"most of their workers share, or the growth each recycled worker showed over its life.",
		"",
		"Press any key to go back.",
	};

	for (size_t i = 0; i < ARRAY_SIZE(lines) && y0 + (int)i < g->h - 1; i++)
		tui_grid__puts(g, 0, y0 + (int)i, g->w, i == 0 ? TUI_A_LABEL : TUI_A_NORMAL, lines[i]);
}
