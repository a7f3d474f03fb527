/* SPDX-License-Identifier: BSD-2-Clause */
/* The `pyleak top` screen as pure code: view state, keys, header and footer, and tui_render() over the views. */
#include "views/tui_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/common.h"
#include "util/format.h"
#include "target/python.h"

/* ---------------------------------------------------------------------------------------------
 * Header and footer
 */

static int render_header(struct tui_grid *g, const struct snapshot *snap, const struct tui_state *st)
{
	char tbuf[16] = "--:--:--", a[16];
	const char *host = snap && snap->host[0] ? snap->host : "?";
	int x, n[8] = { 0 }, i, any = 0;
	struct tm tm;
	time_t tt;

	if (snap) {
		tt = (time_t)snap->time;
		if (localtime_r(&tt, &tm))
			strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
	}
	x = tui_grid__puts(g, 0, 0, -1, TUI_A_LABEL, "pyleak top");
	x += tui_grid__printf(g, x, 0, -1, TUI_A_NORMAL, "  %s  %s  ", host, tbuf);
	x += tui_grid__printf(g, x, 0, -1, TUI_A_NORMAL, "%d python process%s", snap ? snap->nrows : 0,
			      snap && snap->nrows == 1 ? "" : "es");
	x += tui_grid__printf(g, x, 0, -1, TUI_A_NORMAL, "  every %gs", st->interval_s);
	if (st->paused)
		tui_grid__puts(g, x + 2, 0, -1, TUI_A_WARN, "PAUSED");

	/* Line 1: tiers with their process counts, dropped events, pyleak's own cost. */
	x = tui_grid__puts(g, 0, 1, -1, TUI_A_LABEL, "probes");
	if (snap) {
		for (i = 0; i < snap->nrows; i++)
			if (snap->rows[i] && (unsigned)snap->rows[i]->target.tier < ARRAY_SIZE(n))
				n[snap->rows[i]->target.tier]++;
		for (i = GC_TIER_USDT; i <= GC_TIER_POLL; i++) {
			if (!(snap->tiers & (1u << i)) && !n[i])
				continue;
			x += tui_grid__printf(g, x, 1, -1, TUI_A_NORMAL, " %s:%d", gc_tier__name((enum gc_tier)i), n[i]);
			any = 1;
		}
	}
	if (!any)
		x += tui_grid__puts(g, x, 1, -1, TUI_A_DIM, " none");
	x += tui_grid__puts(g, x + 2, 1, -1, TUI_A_LABEL, "dropped") + 2;
	x += tui_grid__printf(g, x, 1, -1, snap && snap->dropped_events ? TUI_A_WARN : TUI_A_NORMAL, " %llu",
			      snap ? (unsigned long long)snap->dropped_events : 0ULL);
	x += tui_grid__puts(g, x + 2, 1, -1, TUI_A_LABEL, "pyleak cpu") + 2;
	x += tui_grid__printf(g, x, 1, -1, TUI_A_NORMAL, " %.1f%%", snap ? snap->self_cpu_pct : 0.0);
	if (snap && snap->self_rss)
		tui_grid__printf(g, x, 1, -1, TUI_A_NORMAL, " rss %s", fmt_bytes(a, sizeof(a), (double)snap->self_rss));
	return 2;
}

/* The last line: the filter prompt, or the keys and the sort/filter state. */
static void render_footer(struct tui_grid *g, const struct tui_state *st)
{
	static const char *const list_keys[][2] = {
		{ "Enter", "Detail" }, { "F6<>", "Sort" }, { "/", "Filter" }, { "p", "Pause" },
		{ "+-", "Delay" },     { "h", "Help" },	   { "q", "Quit" },
	};
	static const char *const detail_keys[][2] = {
		{ "Esc", "Back" }, { "<- ->", "Tab" }, { "Up/Dn", "Process" }, { "p", "Pause" },
		{ "h", "Help" },   { "q", "Quit" },
	};
	static const char *const sites_keys[][2] = {
		{ "Esc", "Back" }, { "<- ->", "Tab" }, { "v", "Alloc/Survivors" }, { "[ ]", "Type" },
		{ "p", "Pause" },  { "h", "Help" },	 { "q", "Quit" },
	};
	bool sites = st->view == TUI_VIEW_DETAIL && st->tab == TUI_TAB_SITES;
	const char *const(*keys)[2] = sites ? sites_keys : st->view == TUI_VIEW_DETAIL ? detail_keys : list_keys;
	int nkeys = sites ? (int)ARRAY_SIZE(sites_keys)
			  : st->view == TUI_VIEW_DETAIL ? (int)ARRAY_SIZE(detail_keys) : (int)ARRAY_SIZE(list_keys);
	int y = g->h - 1, x = 0, i;
	/* never the bottom-right cell: curses cannot write it without scrolling */
	int maxw = g->w - 1;

	if (st->editing_filter) {
		x = tui_grid__puts(g, 0, y, maxw, TUI_A_KEY, "Filter:");
		x += tui_grid__printf(g, x, y, maxw - x, TUI_A_NORMAL, " %s_", st->filter_edit);
		tui_grid__puts(g, x + 2, y, maxw - x - 2, TUI_A_DIM, "Enter apply  Esc cancel");
		return;
	}
	if (st->status[0]) {
		tui_grid__puts(g, 0, y, maxw, TUI_A_WARN, st->status);
		return;
	}
	for (i = 0; i < nkeys && x < maxw; i++) {
		/* on a family's header line Enter folds the family open or shut */
		bool fold = keys == list_keys && i == 0 && st->sel_pid < 0;

		x += tui_grid__puts(g, x, y, maxw - x, TUI_A_KEY, keys[i][0]);
		x += tui_grid__printf(g, x, y, maxw - x, TUI_A_NORMAL, " %s  ", fold ? "Fold" : keys[i][1]);
	}
}

int tui_render(struct tui_grid *g, const struct snapshot *snap, struct tui_state *st)
{
	int y, err = 0;

	tui_grid__clear(g);
	if (g->w < TUI_MIN_W || g->h < TUI_MIN_H) {
		char msg[64];

		snprintf(msg, sizeof(msg), "terminal too small (%dx%d < %dx%d)", g->w, g->h, TUI_MIN_W, TUI_MIN_H);
		/* the last cell stays blank (see render_footer) */
		tui_grid__puts(g, 0, 0, g->h == 1 ? g->w - 1 : g->w, TUI_A_WARN, msg);
		return 0;
	}
	y = render_header(g, snap, st);
	if (st->view == TUI_VIEW_HELP)
		tui_help__render(g, y + 1);
	else if (st->view == TUI_VIEW_DETAIL)
		err = tui_detail__render(g, snap, st, y);
	else
		err = tui_table__render(g, snap, st, y);
	render_footer(g, st);
	/* curses cannot write the bottom-right cell without scrolling: keep it blank whatever drew there */
	tui_grid__put(g, g->w - 1, g->h - 1, ' ', TUI_A_NORMAL);
	return err;
}

/* ---------------------------------------------------------------------------------------------
 * Keys
 */

void tui_state__init(struct tui_state *st, double interval_s)
{
	memset(st, 0, sizeof(*st));
	st->view = TUI_VIEW_LIST;
	st->sort_col = TUI_COL_RSS;
	st->interval_s = interval_s > 0 ? interval_s : 1.0;
	st->page_rows = 1;
}

void tui_state__free(struct tui_state *st)
{
	if (!st)
		return;
	free(st->vis);
	free(st->vis_group);
	st->vis = NULL;
	st->vis_group = NULL;
	st->nvis = st->vis_cap = 0;
}

double tui_interval__step(double cur, int dir)
{
	static const double steps[] = { 0.1, 0.2, 0.5, 1, 2, 3, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600 };
	int i, n = (int)ARRAY_SIZE(steps);

	if (dir > 0) {
		for (i = 0; i < n; i++)
			if (steps[i] > cur + 1e-9)
				return steps[i];
		return steps[n - 1];
	}
	for (i = n - 1; i >= 0; i--)
		if (steps[i] < cur - 1e-9)
			return steps[i];
	return steps[0];
}

bool tui_state__expanded(const struct tui_state *st, int group_id)
{
	for (int i = 0; i < st->nexpanded; i++)
		if (st->expanded[i] == group_id)
			return true;
	return false;
}

void tui_state__toggle_group(struct tui_state *st, int group_id)
{
	for (int i = 0; i < st->nexpanded; i++)
		if (st->expanded[i] == group_id) {
			st->expanded[i] = st->expanded[--st->nexpanded];
			return;
		}
	if (st->nexpanded == TUI_MAX_EXPANDED) /* the oldest folds back */
		memmove(st->expanded, st->expanded + 1, sizeof(st->expanded[0]) * --st->nexpanded);
	st->expanded[st->nexpanded++] = group_id;
}

/* Enter or e on a family's header line folds it open or shut; e on a member folds its family
 * and selects the header.  false: the selection is not in a family. */
static bool group_key(struct tui_state *st, bool from_member)
{
	int id;

	if (!st->nvis || st->sel_idx >= st->nvis || !st->vis_group)
		return false;
	id = st->vis_group[st->sel_idx];
	if (!id || (st->vis[st->sel_idx] > 0 && !from_member))
		return false;
	tui_state__toggle_group(st, id);
	st->sel_pid = -id; /* the header stays selected whichever way it folded */
	return true;
}

static void select_idx(struct tui_state *st, int idx)
{
	if (!st->nvis)
		return;
	st->sel_idx = MAX(0, MIN(idx, st->nvis - 1));
	st->sel_pid = st->vis[st->sel_idx];
}

/* Next shown column in direction dir (the sort column may be one the width hides). */
static void sort_step(struct tui_state *st, int dir)
{
	int c = (int)st->sort_col;

	for (int i = 0; i < TUI_COL__COUNT; i++) {
		c = (c + dir + TUI_COL__COUNT) % TUI_COL__COUNT;
		if (!st->col_shown || (st->col_shown & (1u << c)))
			break;
	}
	st->sort_col = (enum tui_col)c;
	st->sort_reverse = false;
}

static enum tui_action filter_key(struct tui_state *st, int key)
{
	size_t len = strlen(st->filter_edit);

	switch (key) {
	case TUI_KEY_ENTER:
		copy_str(st->filter, sizeof(st->filter), st->filter_edit);
		st->editing_filter = false;
		return TUI_ACT_REDRAW;
	case TUI_KEY_ESC:
		st->editing_filter = false;
		return TUI_ACT_REDRAW;
	case TUI_KEY_BACKSPACE:
		if (len)
			st->filter_edit[len - 1] = '\0';
		return TUI_ACT_REDRAW;
	default:
		if (key >= 0x20 && key < 0x7f && len + 1 < sizeof(st->filter_edit)) {
			st->filter_edit[len] = (char)key;
			st->filter_edit[len + 1] = '\0';
			return TUI_ACT_REDRAW;
		}
		return TUI_ACT_NONE;
	}
}

/* Keys every view shares; TUI_ACT_NONE when the key is not one of them. */
static enum tui_action common_key(struct tui_state *st, int key)
{
	double iv;

	switch (key) {
	case 'q':
	case 'Q':
	case TUI_KEY_F10: return TUI_ACT_QUIT;
	case 'p':
	case 'P':
	case ' ':
		st->paused = !st->paused;
		return TUI_ACT_PAUSE;
	case '+':
	case '=':
	case '-':
	case '_':
		iv = tui_interval__step(st->interval_s, key == '+' || key == '=' ? 1 : -1);
		if (iv == st->interval_s)
			return TUI_ACT_NONE;
		st->interval_s = iv;
		return TUI_ACT_INTERVAL;
	case 'h':
	case '?':
	case TUI_KEY_F1:
		st->help_return = st->view;
		st->view = TUI_VIEW_HELP;
		return TUI_ACT_REDRAW;
	case TUI_KEY_F6:
	case '>':
	case '.':
		sort_step(st, 1);
		return TUI_ACT_REDRAW;
	case '<':
	case ',':
		sort_step(st, -1);
		return TUI_ACT_REDRAW;
	case 'I':
		st->sort_reverse = !st->sort_reverse;
		return TUI_ACT_REDRAW;
	default: return TUI_ACT_NONE;
	}
}

enum tui_action tui_state__key(struct tui_state *st, int key)
{
	enum tui_action act;
	int page = MAX(1, st->page_rows);

	st->status[0] = '\0';
	if (st->editing_filter)
		return filter_key(st, key);
	if (st->view == TUI_VIEW_HELP) {
		if (key == 'q' || key == 'Q' || key == TUI_KEY_F10)
			return TUI_ACT_QUIT;
		st->view = st->help_return == TUI_VIEW_HELP ? TUI_VIEW_LIST : st->help_return;
		return TUI_ACT_REDRAW;
	}
	act = common_key(st, key);
	if (act != TUI_ACT_NONE)
		return act;
	if (st->view == TUI_VIEW_DETAIL) {
		switch (key) {
		case TUI_KEY_ESC:
		case TUI_KEY_BACKSPACE:
			st->view = TUI_VIEW_LIST;
			return TUI_ACT_REDRAW;
		case TUI_KEY_RIGHT:
		case TUI_KEY_TAB:
			st->tab = (enum tui_tab)((st->tab + 1) % TUI_TAB__COUNT);
			return TUI_ACT_REDRAW;
		case TUI_KEY_LEFT:
		case TUI_KEY_BTAB:
			st->tab = (enum tui_tab)((st->tab + TUI_TAB__COUNT - 1) % TUI_TAB__COUNT);
			return TUI_ACT_REDRAW;
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7':
			st->tab = (enum tui_tab)(key - '1');
			return TUI_ACT_REDRAW;
		case 'v':
		case 'V':
			if (st->tab != TUI_TAB_SITES)
				return TUI_ACT_NONE;
			st->sites_survivors = !st->sites_survivors;
			return TUI_ACT_REDRAW;
		case '[':
		case ']':
			if (st->tab != TUI_TAB_SITES || !st->sites_survivors)
				return TUI_ACT_NONE;
			st->surv_type += key == ']' ? 1 : -1; /* wrapped by the renderer */
			return TUI_ACT_REDRAW;
		case TUI_KEY_UP:
		case TUI_KEY_DOWN:
			/* flip through the processes in list order without going back */
			select_idx(st, st->sel_idx + (key == TUI_KEY_UP ? -1 : 1));
			if (st->nvis && st->sel_pid < 0) /* a family header: on to the next process */
				select_idx(st, st->sel_idx + (key == TUI_KEY_UP ? -1 : 1));
			if (st->nvis && st->sel_pid > 0)
				st->detail_pid = st->sel_pid;
			return TUI_ACT_REDRAW;
		default: return TUI_ACT_NONE;
		}
	}
	switch (key) {
	case TUI_KEY_UP: select_idx(st, st->sel_idx - 1); break;
	case TUI_KEY_DOWN: select_idx(st, st->sel_idx + 1); break;
	case TUI_KEY_PGUP: select_idx(st, st->sel_idx - page); break;
	case TUI_KEY_PGDN: select_idx(st, st->sel_idx + page); break;
	case TUI_KEY_HOME: select_idx(st, 0); break;
	case TUI_KEY_END: select_idx(st, st->nvis - 1); break;
	case TUI_KEY_ENTER:
		if (!st->nvis)
			return TUI_ACT_NONE;
		if (group_key(st, false))
			break;
		st->detail_pid = st->sel_pid;
		st->view = TUI_VIEW_DETAIL;
		break;
	case 'e':
	case 'E':
		if (!group_key(st, true))
			return TUI_ACT_NONE;
		break;
	case '/':
		copy_str(st->filter_edit, sizeof(st->filter_edit), st->filter);
		st->editing_filter = true;
		break;
	case TUI_KEY_ESC:
	case TUI_KEY_BACKSPACE:
		if (!st->filter[0])
			return TUI_ACT_NONE;
		st->filter[0] = '\0';
		break;
	default: return TUI_ACT_NONE;
	}
	return TUI_ACT_REDRAW;
}
