/* SPDX-License-Identifier: BSD-2-Clause */
/* The Containers tab: the largest dicts, lists, sets and deques and who holds them. */
#include "views/tui_internal.h"

#include <stdio.h>

#include "util/common.h"

/* Containers: the largest dicts/lists/sets/deques, named by their holder when one was found. */
void tui_render__containers_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h)
{
	int namew, i, line;
	char len[32], rate[32];

	if (h <= 0)
		return;
	if (row->census_time <= 0 || !row->ncontainers) {
		tui_tab__no_data(g, x, y, w, "Containers", "growing dicts, lists and sets and who holds them appear here");
		return;
	}
	tui_tab__census_line(g, row, x, y, w);
	if (h < 3)
		return;
	namew = MAX(12, w - 2 - 18 - 10 - 10 - 3);
	tui_grid__fill(g, x, y + 1, w, ' ', TUI_A_TITLE);
	tui_grid__printf(g, x + 1, y + 1, w - 1, TUI_A_TITLE, "%-*s %-18s %9s %9s", namew, "HELD BY", "TYPE", "LEN",
			 "/MIN");
	for (i = 0, line = y + 2; i < row->ncontainers && line < y + h; i++, line++) {
		const struct container_row *c = &row->containers[i];
		uint8_t attr = tui_tab__is_suspect(row, SUSPECT_CONTAINER, c->name) ? TUI_A_WARN
			       : c->named				    ? TUI_A_NORMAL
									    : TUI_A_DIM;

		char type[40];

		snprintf(type, sizeof(type), "%s%s", c->type, c->untracked ? ", untracked" : "");
		snprintf(len, sizeof(len), "%lld", (long long)c->len);
		if (c->per_min == 0)
			snprintf(rate, sizeof(rate), "0");
		else
			tui_fmt__per_min(rate, sizeof(rate), c->per_min, false);
		tui_grid__printf(g, x + 1, line, w - 1, attr, "%-*.*s %-18.18s %9s %9s", namew, namew, c->name, type,
				 len, rate);
	}
}
