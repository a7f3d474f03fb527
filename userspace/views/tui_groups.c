/* SPDX-License-Identifier: BSD-2-Clause */
/* Process families in `pyleak top`: the family's header line in the table and its line in a drill-in. */
#include "views/tui_internal.h"

#include <stdio.h>
#include <string.h>

#include "model/groups.h"
#include "util/common.h"
#include "util/format.h"

/*
 * A family's header line is drawn, sorted and filtered as a process row whose figures are the
 * family's: the table's cells, sort keys and layout need no second copy for families.
 */
void tui_groups__header_row(const struct snapshot *snap, const struct group_row *g, struct proc_row *out)
{
	const struct proc_row *root = NULL;
	int gen, i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < snap->nrows; i++)
		if (snap->rows[i]->group_id == g->id && snap->rows[i]->group_role == GROUP_ROLE_MASTER)
			root = snap->rows[i];
	if (root)
		out->target = root->target;
	out->target.pid = g->root_pid;
	copy_str(out->target.cmdline, sizeof(out->target.cmdline), g->command);
	out->group_id = g->id;
	out->exited = g->root_exited && !g->workers;
	out->gc_valid = true;
	out->rss = g->rss_total;
	out->rss_per_min = g->rss_per_min;
	out->nhistory = 2; /* the slope is a sum of members' slopes: show it */
	out->first_seen = g->first_seen;
	out->live_objects = g->live_objects;
	out->garbage = -1;
	out->gc_time_pct = g->gc_time_pct_max;
	for (gen = 0; gen < MODEL_NGEN; gen++) {
		out->gc_per_s[gen] = g->gc_per_s[gen];
		out->pause[gen] = g->pause[gen];
	}
	for (i = 0; i < snap->nrows; i++) {
		const struct proc_row *r = snap->rows[i];

		if (r->group_id != g->id || r->exited)
			continue;
		if (r->garbage >= 0)
			out->garbage = (out->garbage < 0 ? 0 : out->garbage) + r->garbage;
		out->pauses_estimated |= r->pauses_estimated;
	}
}

const char *tui_groups__header_text(const struct group_row *g, bool expanded, bool ascii, char *buf, size_t sz)
{
	const char *fold = ascii ? (expanded ? "-" : "+") : (expanded ? "\u25be" : "\u25b8");

	if (g->recycled)
		snprintf(buf, sz, "%s %s: %d worker%s, %d recycled", fold, g->name, g->workers, g->workers == 1 ? "" : "s",
			 g->recycled);
	else
		snprintf(buf, sz, "%s %s: %d worker%s", fold, g->name, g->workers, g->workers == 1 ? "" : "s");
	return buf;
}

const char *tui_groups__suspect_text(const struct group_row *g, char *buf, size_t sz)
{
	const struct group_verdict *v;
	char rate[48], amount[32];

	if (!g->nverdicts) {
		snprintf(buf, sz, "-");
		return buf;
	}
	v = &g->verdicts[0];
	if (v->recycled) {
		if (v->kind == SUSPECT_RSS)
			fmt_bytes(amount, sizeof(amount), v->per_life);
		else
			fmt_count(amount, sizeof(amount), v->per_life);
		snprintf(buf, sz, "recycled: %s +%s/life", v->kind == SUSPECT_RSS ? "RSS" : v->name, amount);
	} else {
		tui_fmt__per_min(rate, sizeof(rate), v->per_min_each, v->kind == SUSPECT_RSS);
		snprintf(buf, sz, "%d/%d %s %s", v->workers_with, v->workers, v->name, rate);
	}
	if (g->nverdicts > 1) {
		size_t len = strlen(buf);

		snprintf(buf + len, sz - len, " (+%d)", g->nverdicts - 1);
	}
	return buf;
}

/* In a member's drill-in: which family, and what the family's verdicts say (with evidence). */
int tui_groups__detail_lines(struct tui_grid *g, const struct snapshot *snap, const struct proc_row *r, int y, int maxy)
{
	const struct group_row *grp = snapshot__group(snap, r->group_id);
	char a[16], b[16];
	int x, i, y0 = y;

	if (!grp || y >= maxy)
		return 0;
	x = tui_grid__puts(g, 0, y, -1, TUI_A_LABEL, "family");
	tui_grid__printf(g, x, y, g->w - x, TUI_A_NORMAL, " %s (this process: %s; %d workers now, %d recycled)  RSS %s total, max %s",
			 grp->name, group_role__name((enum group_role)r->group_role), grp->workers, grp->recycled,
			 fmt_bytes(a, sizeof(a), (double)grp->rss_total), fmt_bytes(b, sizeof(b), (double)grp->rss_max));
	y++;
	for (i = 0; i < grp->nverdicts && y < maxy && i < 2; i++) {
		tui_grid__puts(g, 2, y++, g->w - 2, TUI_A_WARN, grp->verdicts[i].text);
		if (grp->verdicts[i].evidence[0] && y < maxy)
			tui_grid__puts(g, 4, y++, g->w - 4, TUI_A_DIM, grp->verdicts[i].evidence);
	}
	return y - y0;
}
