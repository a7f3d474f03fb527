/* SPDX-License-Identifier: BSD-2-Clause */
/* The Suspects tab: leak suspects, strongest first, with their evidence. */
#include "views/tui_internal.h"

#include <stdio.h>
#include <string.h>

#include "util/common.h"

static int leader_of(const struct proc_row *row, const struct suspect *s)
{
	int k;

	for (k = 0; k < row->nsuspects; k++)
		if (&row->suspects[k] != s && !row->suspects[k].explained_by[0] &&
		    !strcmp(row->suspects[k].name, s->explained_by))
			return k;
	return -1;
}

/* Text wrapped at spaces from column x + 5 + indent, at most max lines; returns the next line. */
static int wrapped(struct tui_grid *g, const char *ev, int x, int line, int textw, int end, int max, int attr)
{
	for (int n = 0; *ev && n < max && line < end; n++, line++) {
		int len = (int)strlen(ev), cut = len;

		if (len > textw) {
			cut = textw;
			while (cut > textw / 2 && ev[cut] != ' ')
				cut--;
			if (ev[cut] != ' ')
				cut = textw;
		}
		tui_grid__printf(g, x, line, textw, attr, "%.*s", cut, ev);
		ev += cut;
		while (*ev == ' ')
			ev++;
	}
	return line;
}

/* One suspect: its title, its evidence (3 lines), its retention chain (2 lines). */
static int suspect_lines(struct tui_grid *g, const struct suspect *s, int x, int line, int w, int end, int indent)
{
	char rate[40];
	int textw = MAX(10, w - 6 - indent);

	if (line >= end)
		return line;
	tui_fmt__per_min(rate, sizeof(rate), s->per_min, s->kind == SUSPECT_RSS || s->kind == SUSPECT_NATIVE);
	tui_grid__printf(g, x + 1 + indent, line++, w - 1 - indent, indent ? TUI_A_NORMAL : TUI_A_WARN,
			 "%s%-9s %s%s  %s  confidence %.3f", indent ? "└ " : "", suspect_kind__name(s->kind), s->name,
			 s->untracked ? " (untracked)" : "", rate, s->confidence);
	if (s->explained_by[0]) {
		char buf[sizeof(s->group_why) + 16];

		snprintf(buf, sizeof(buf), "same leak: %s", s->group_why);
		line = wrapped(g, buf, x + 5 + indent, line, textw, end, 1, TUI_A_DIM);
	}
	line = wrapped(g, s->evidence, x + 5 + indent, line, textw, end, indent ? 1 : 3, TUI_A_DIM);
	if (s->chain_status != SUSPECT_CHAIN_NONE) {
		char buf[sizeof(s->chain) + 16];

		snprintf(buf, sizeof(buf), "%s %s", s->chain_status == SUSPECT_CHAIN_FOUND ||
							    s->chain_status == SUSPECT_CHAIN_OPAQUE ? "held by:" : "chain:",
			 s->chain);
		line = wrapped(g, buf, x + 5 + indent, line, textw, end, 2, TUI_A_NORMAL);
	}
	return line;
}

/* Suspects, strongest first: kind, name, growth and confidence, then the evidence wrapped below. */
void tui_render__suspects_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h)
{
	int i, line = y;

	if (h <= 0)
		return;
	if (!row->nsuspects) {
		if (row->census_time <= 0)
			tui_tab__no_data(g, x, y, w, "Suspects", "leak suspects with their evidence appear here");
		else {
			tui_grid__puts(g, x + 1, y, w - 1, TUI_A_NORMAL, "Suspects: none");
			if (h > 1)
				tui_grid__puts(g, x + 1, y + 1, w - 1, TUI_A_DIM,
					       "nothing grows steadily: types, containers, gc.garbage and RSS are watched");
		}
		return;
	}
	for (i = 0; i < row->nsuspects && line < y + h; i++) {
		const struct suspect *s = &row->suspects[i];
		int j;

		/* A suspect explained by another one shown here goes under it (the same leak). */
		if (s->explained_by[0] && leader_of(row, s) >= 0)
			continue;
		line = suspect_lines(g, s, x, line, w, y + h, 0);
		for (j = 0; j < row->nsuspects && line < y + h; j++)
			if (j != i && row->suspects[j].explained_by[0] && leader_of(row, &row->suspects[j]) == i)
				line = suspect_lines(g, &row->suspects[j], x, line, w, y + h, 4);
	}
}
