/* SPDX-License-Identifier: BSD-2-Clause */
/* The drill-in view of one process: its identity lines, the tab bar, and what the tabs share. */
#include "views/tui_internal.h"

#include <stdio.h>
#include <string.h>

#include "util/common.h"
#include "util/format.h"
#include "target/python.h"

/* ---------------------------------------------------------------------------------------------
 * The drill-in view
 */

static const struct proc_row *find_row(const struct snapshot *snap, pid_t pid)
{
	for (int i = 0; snap && i < snap->nrows; i++)
		if (snap->rows[i] && snap->rows[i]->target.pid == pid)
			return snap->rows[i];
	return NULL;
}

static const char *const tab_names[TUI_TAB__COUNT] = { "GC", "Types", "Containers", "Sites", "Suspects",
								   "Native", "Memory" };

void tui_tab__no_data(struct tui_grid *g, int x, int y, int w, const char *what, const char *why)
{
	tui_grid__printf(g, x + 1, y, w - 1, TUI_A_NORMAL, "%s: no data yet", what);
	tui_grid__puts(g, x + 1, y + 1, w - 1, TUI_A_DIM, why);
}

bool tui_tab__is_suspect(const struct proc_row *row, enum suspect_kind kind, const char *name)
{
	for (int i = 0; i < row->nsuspects; i++)
		if (row->suspects[i].kind == kind && !strcmp(row->suspects[i].name, name))
			return true;
	return false;
}

/* One census line over every census tab: when, how long, how often. */
void tui_tab__census_line(struct tui_grid *g, const struct proc_row *row, int x, int y, int w)
{
	char live[32];

	snprintf(live, sizeof(live), "%lld", (long long)row->live_objects);
	tui_grid__printf(g, x + 1, y, w - 1, TUI_A_LABEL, "census every %.0f s, last walk %.1f ms, %s live objects%s",
			 row->census_period, row->census_ms, live,
			 row->census_inconsistencies ? " (inconsistencies: the heap moved during the walk)" : "");
}

int tui_detail__render(struct tui_grid *g, const struct snapshot *snap, struct tui_state *st, int y0)
{
	const struct proc_row *r = find_row(snap, st->detail_pid);
	char a[16], b[16];
	int x, t, y = y0, bottom = g->h - 1;

	if (!r) {
		tui_grid__printf(g, 1, y, g->w - 1, TUI_A_WARN, "process %d is gone", (int)st->detail_pid);
		tui_grid__puts(g, 1, y + 1, g->w - 1, TUI_A_DIM, "Esc goes back to the list");
		return 0;
	}
	x = tui_grid__printf(g, 0, y, -1, TUI_A_LABEL, "PID %d", (int)r->target.pid);
	if (r->target.ns_pid && r->target.ns_pid != r->target.pid)
		x += tui_grid__printf(g, x, y, -1, TUI_A_NORMAL, " (ns %d)", (int)r->target.ns_pid);
	x += tui_grid__printf(g, x, y, -1, TUI_A_NORMAL, "  %s  Python %s  %s  RSS %s", r->target.comm,
			      r->target.version[0] ? r->target.version : "?", gc_tier__name(r->target.tier),
			      fmt_bytes(a, sizeof(a), (double)r->rss));
	if (r->nhistory >= 2)
		x += tui_grid__printf(g, x, y, -1, TUI_A_NORMAL, " (%s/min)", fmt_sbytes(b, sizeof(b), r->rss_per_min));
	if (r->target.container_id[0])
		x += tui_grid__printf(g, x, y, -1, TUI_A_NORMAL, "  container %.12s", r->target.container_id);
	if (r->exited)
		tui_grid__puts(g, x + 2, y, -1, TUI_A_WARN, "EXITED");
	y++;
	tui_grid__puts(g, 0, y, g->w, TUI_A_DIM, tui_row__command(r));
	y++;
	if (r->note[0] && r->gc_valid)
		tui_grid__puts(g, 0, y++, g->w, TUI_A_WARN, r->note);
	y += tui_groups__detail_lines(g, snap, r, y, MIN(bottom - 4, y + 5));
	/* Tabs */
	x = 0;
	for (t = 0; t < TUI_TAB__COUNT; t++) {
		char lbl[32];

		snprintf(lbl, sizeof(lbl), " %d %s ", t + 1, tab_names[t]);
		x += tui_grid__puts(g, x, y, -1, t == (int)st->tab ? TUI_A_TAB : TUI_A_NORMAL, lbl) + 1;
	}
	y++;
	switch (st->tab) {
	case TUI_TAB_GC: tui_render__gc_tab(g, snap, r, 0, y, g->w, bottom - y); break;
	case TUI_TAB_TYPES: tui_render__types_tab(g, r, 0, y, g->w, bottom - y); break;
	case TUI_TAB_CONTAINERS: tui_render__containers_tab(g, r, 0, y, g->w, bottom - y); break;
	case TUI_TAB_SITES: tui_render__sites_tab(g, r, st, 0, y, g->w, bottom - y); break;
	case TUI_TAB_SUSPECTS: tui_render__suspects_tab(g, r, 0, y, g->w, bottom - y); break;
	case TUI_TAB_NATIVE: tui_render__native_tab(g, r, 0, y, g->w, bottom - y); break;
	case TUI_TAB_MEMORY: tui_render__memory_tab(g, r, 0, y, g->w, bottom - y); break;
	default: break;
	}
	return 0;
}
