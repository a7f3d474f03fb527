/* SPDX-License-Identifier: BSD-2-Clause */
/* The Suspects tab: leak suspects, strongest first, with their evidence. */
#include "views/tui_internal.h"

#include <stdio.h>
#include <string.h>

#include "util/common.h"

/* Suspects, strongest first: kind, name, growth and confidence, then the evidence wrapped below. */
void tui_render__suspects_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h)
{
	int i, line = y;
	char rate[40];

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
		const char *ev = s->evidence;
		int textw = MAX(10, w - 6);

		tui_fmt__per_min(rate, sizeof(rate), s->per_min, s->kind == SUSPECT_RSS || s->kind == SUSPECT_NATIVE);
		tui_grid__printf(g, x + 1, line++, w - 1, TUI_A_WARN, "%-9s %s%s  %s  confidence %.3f",
				 suspect_kind__name(s->kind), s->name, s->untracked ? " (untracked)" : "", rate,
				 s->confidence);
		/* Evidence wrapped at spaces, indented, at most 3 lines per suspect. */
		for (int n = 0; *ev && n < 3 && line < y + h; n++, line++) {
			int len = (int)strlen(ev), cut = len;

			if (len > textw) {
				cut = textw;
				while (cut > textw / 2 && ev[cut] != ' ')
					cut--;
				if (ev[cut] != ' ')
					cut = textw;
			}
			tui_grid__printf(g, x + 5, line, textw, TUI_A_DIM, "%.*s", cut, ev);
			ev += cut;
			while (*ev == ' ')
				ev++;
		}
	}
}
