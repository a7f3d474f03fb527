/* SPDX-License-Identifier: BSD-2-Clause */
/* The process table of `pyleak top`: columns, cell text, sorting, filtering and the list view. */
#include "views/tui_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/common.h"
#include "util/format.h"
#include "target/python.h"
#include "model/groups.h"

/* ---------------------------------------------------------------------------------------------
 * Columns of the process table
 */

struct col_def {
	const char *title;	 /* ASCII */
	const char *title_utf8;	 /* when the terminal can show it, else NULL */
	int width;
	int drop;		 /* dropped in this order (1 first) when the terminal is too narrow; 0 never */
	bool left;
	bool text;		 /* sorts a-z by default (numbers sort high first) */
};

/*
 * At 80 columns everything but TIER, P99, ALLOC/s, LIVE and SUSPECT fits with a 10-column
 * COMMAND; the drill-in view shows what the table leaves out.
 */
static const struct col_def cols[TUI_COL__COUNT] = {
	[TUI_COL_PID] = { "PID", NULL, 7, 0, false, false },
	[TUI_COL_COMMAND] = { "COMMAND", NULL, 10, 0, true, true }, /* width = minimum; takes the rest */
	[TUI_COL_PY] = { "PY", NULL, 7, 9, true, true },	/* 3.14.10 */
	[TUI_COL_TIER] = { "TIER", NULL, 6, 3, true, true },
	[TUI_COL_RSS] = { "RSS", NULL, 6, 11, false, false },
	[TUI_COL_DRSS] = { "dRSS/m", "\u0394RSS/m", 6, 8, false, false }, /* fmt_sbytes: <= 6 */
	[TUI_COL_GC0] = { "G0/s", NULL, 5, 12, false, false },
	[TUI_COL_GC1] = { "G1/s", NULL, 5, 7, false, false },
	[TUI_COL_GC2] = { "G2/s", NULL, 5, 6, false, false },
	[TUI_COL_GCPCT] = { "GC%", NULL, 5, 10, false, false },
	[TUI_COL_MAXPAUSE] = { "MAXP", NULL, 7, 13, false, false },
	[TUI_COL_P99PAUSE] = { "P99P", NULL, 7, 5, false, false },
	[TUI_COL_ALLOC] = { "ALLOC/s", NULL, 7, 2, false, false },
	[TUI_COL_LIVE] = { "LIVE", NULL, 6, 4, false, false },
	[TUI_COL_GARBAGE] = { "GARBAGE", NULL, 7, 14, false, false },
	[TUI_COL_SUSPECT] = { "SUSPECT", NULL, 16, 1, true, true },
};

const char *tui_col__name(enum tui_col col)
{
	return (unsigned)col < TUI_COL__COUNT ? cols[col].title : "?";
}

static uint64_t row_max_pause(const struct proc_row *r)
{
	uint64_t m = 0;

	for (int g = 0; g < MODEL_NGEN; g++)
		m = MAX(m, r->pause[g].max_us);
	return m;
}

static uint64_t row_p99_pause(const struct proc_row *r)
{
	uint64_t m = 0;

	for (int g = 0; g < MODEL_NGEN; g++)
		m = MAX(m, r->pause[g].p99_us);
	return m;
}

static uint64_t row_pause_count(const struct proc_row *r)
{
	uint64_t n = 0;

	for (int g = 0; g < MODEL_NGEN; g++)
		n += r->pause[g].count;
	return n;
}

const char *tui_cell__alloc_per_s(const struct proc_row *row, char *buf, size_t sz)
{
	/* Tier-2 allocation rates are not in the model yet: fill from it when they land. */
	(void)row;
	snprintf(buf, sz, "-");
	return buf;
}

/* "+3.0k/m" style growth for narrow cells (objects, items or bytes per minute). */
const char *tui_fmt__per_min(char *buf, size_t sz, double v, bool bytes)
{
	char n[32];

	if (bytes)
		fmt_sbytes(n, sizeof(n), v);
	else if (v > -1000 && v < 1000)
		snprintf(n, sizeof(n), "%+.0f", v);
	else {
		fmt_count(n + 1, sizeof(n) - 1, v < 0 ? -v : v);
		n[0] = v < 0 ? '-' : '+';
	}
	snprintf(buf, sz, "%s/m", n);
	return buf;
}

const char *tui_cell__suspect(const struct proc_row *row, char *buf, size_t sz)
{
	const struct suspect *s;
	char rate[40];

	/* The model keeps suspects by confidence then rate: the first is the one to look at. */
	if (!row->nsuspects) {
		snprintf(buf, sz, "-");
		return buf;
	}
	s = &row->suspects[0];
	tui_fmt__per_min(rate, sizeof(rate), s->per_min, s->kind == SUSPECT_RSS || s->kind == SUSPECT_NATIVE);
	if (row->nsuspects > 1)
		snprintf(buf, sz, "%s %s (+%d)", s->name, rate, row->nsuspects - 1);
	else
		snprintf(buf, sz, "%s %s", s->name, rate);
	return buf;
}

const char *tui_fmt__rate(char *buf, size_t sz, double v)
{
	if (v <= 0)
		snprintf(buf, sz, "0");
	else if (v < 10)
		snprintf(buf, sz, "%.1f", v);
	else if (v < 1000)
		snprintf(buf, sz, "%.0f", v);
	else
		fmt_count(buf, sz, v);
	return buf;
}

const char *tui_row__command(const struct proc_row *r)
{
	return r->target.cmdline[0] ? r->target.cmdline : r->target.comm;
}

/*
 * The table shows "python3.11 app.py --flag" for "/usr/bin/python3.11 app.py --flag": the
 * script is what tells processes apart and a long interpreter path would push it out of view.
 * The drill-in view shows the full command line.
 */
static const char *path_base(const char *word, size_t len)
{
	const char *base = word;

	for (size_t i = 0; i < len; i++)
		if (word[i] == '/')
			base = word + i + 1;
	return base;
}

static void short_command(const struct proc_row *r, char *buf, size_t sz)
{
	const char *cmd = tui_row__command(r), *arg, *rest;
	size_t len = strcspn(cmd, " "), alen;
	const char *exe = path_base(cmd, len);

	/* ... and "python3.11 app.py" for "python3.11 /srv/x/app.py": the script's path too */
	arg = cmd + len + strspn(cmd + len, " ");
	alen = strcspn(arg, " ");
	if (alen && arg[0] != '-' && memchr(arg, '/', alen)) {
		rest = path_base(arg, alen);
		snprintf(buf, sz, "%.*s %s", (int)(cmd + len - exe), exe, rest);
		return;
	}
	snprintf(buf, sz, "%s", exe);
}

/* The text of one cell; raw integers where the tests compare them with the target's truth. */
static const char *cell_text(const struct proc_row *r, enum tui_col col, char *buf, size_t sz)
{
	switch (col) {
	case TUI_COL_PID: snprintf(buf, sz, "%d", (int)r->target.pid); break;
	case TUI_COL_COMMAND: short_command(r, buf, sz); break;
	case TUI_COL_PY: snprintf(buf, sz, "%s", r->target.version[0] ? r->target.version : "?"); break;
	case TUI_COL_TIER: snprintf(buf, sz, "%s", gc_tier__name(r->target.tier)); break;
	case TUI_COL_RSS: fmt_bytes(buf, sz, (double)r->rss); break;
	case TUI_COL_DRSS:
		if (r->nhistory < 2)
			snprintf(buf, sz, "-");
		else
			fmt_sbytes(buf, sz, r->rss_per_min);
		break;
	case TUI_COL_GC0:
	case TUI_COL_GC1:
	case TUI_COL_GC2:
		if (!r->gc_valid)
			snprintf(buf, sz, "-");
		else
			tui_fmt__rate(buf, sz, r->gc_per_s[col - TUI_COL_GC0]);
		break;
	case TUI_COL_GCPCT:
		if (!r->gc_valid)
			snprintf(buf, sz, "-");
		else
			snprintf(buf, sz, "%s%.1f", r->pauses_estimated ? "~" : "", r->gc_time_pct);
		break;
	case TUI_COL_MAXPAUSE:
	case TUI_COL_P99PAUSE:
		if (!row_pause_count(r))
			snprintf(buf, sz, "-");
		else if (r->pauses_estimated)
			snprintf(buf, sz, "est.");
		else
			fmt_us(buf, sz, (double)(col == TUI_COL_MAXPAUSE ? row_max_pause(r) : row_p99_pause(r)));
		break;
	case TUI_COL_ALLOC: tui_cell__alloc_per_s(r, buf, sz); break;
	case TUI_COL_LIVE:
		if (r->live_objects < 0)
			snprintf(buf, sz, "-");
		else if (r->live_objects < 1000000)
			snprintf(buf, sz, "%lld", (long long)r->live_objects);
		else
			fmt_count(buf, sz, (double)r->live_objects);
		break;
	case TUI_COL_GARBAGE:
		if (r->garbage < 0)
			snprintf(buf, sz, "-");
		else if (r->garbage < 10000000)
			snprintf(buf, sz, "%lld", (long long)r->garbage);
		else
			fmt_count(buf, sz, (double)r->garbage);
		break;
	case TUI_COL_SUSPECT: tui_cell__suspect(r, buf, sz); break;
	default: snprintf(buf, sz, "?"); break;
	}
	return buf;
}

/* Sort key of the numeric columns; unknown values sort below every known one. */
static double cell_value(const struct proc_row *r, enum tui_col col)
{
	switch (col) {
	case TUI_COL_PID: return r->target.pid;
	case TUI_COL_PY: return r->target.major * 10000.0 + r->target.minor * 100.0 + r->target.micro;
	case TUI_COL_TIER: return r->target.tier;
	case TUI_COL_RSS: return (double)r->rss;
	case TUI_COL_DRSS: return r->nhistory < 2 ? -INFINITY : r->rss_per_min;
	case TUI_COL_GC0:
	case TUI_COL_GC1:
	case TUI_COL_GC2: return r->gc_valid ? r->gc_per_s[col - TUI_COL_GC0] : -1;
	case TUI_COL_GCPCT: return r->gc_valid ? r->gc_time_pct : -1;
	case TUI_COL_MAXPAUSE: return row_pause_count(r) ? (double)row_max_pause(r) : -1;
	case TUI_COL_P99PAUSE: return row_pause_count(r) ? (double)row_p99_pause(r) : -1;
	case TUI_COL_LIVE: return (double)r->live_objects;
	case TUI_COL_GARBAGE: return (double)r->garbage;
	default: return 0;
	}
}

struct sort_ctx {
	enum tui_col col;
	bool reverse;
};

static int row_cmp(const void *pa, const void *pb, void *arg)
{
	const struct proc_row *a = *(const struct proc_row *const *)pa, *b = *(const struct proc_row *const *)pb;
	const struct sort_ctx *sc = arg;
	char ta[512], tb[512];
	int c = 0;

	if (cols[sc->col].text && sc->col != TUI_COL_PY) {
		c = strcasecmp(cell_text(a, sc->col, ta, sizeof(ta)), cell_text(b, sc->col, tb, sizeof(tb)));
	} else {
		double va = cell_value(a, sc->col), vb = cell_value(b, sc->col);

		/* numbers high first: that is what one looks for in a top view */
		c = va > vb ? -1 : va < vb ? 1 : 0;
		if (sc->col == TUI_COL_PID)
			c = -c; /* ... except pids, which read best ascending */
	}
	if (sc->reverse)
		c = -c;
	if (!c) /* stable across refreshes: ties by pid */
		c = a->target.pid < b->target.pid ? -1 : a->target.pid > b->target.pid;
	return c;
}

static bool row_matches(const struct proc_row *r, const char *filter)
{
	char pid[16];

	if (!filter[0])
		return true;
	snprintf(pid, sizeof(pid), "%d", (int)r->target.pid);
	return strcasestr(r->target.cmdline, filter) || strcasestr(r->target.comm, filter) || strstr(pid, filter);
}

static const char *active_filter(const struct tui_state *st)
{
	return st->editing_filter ? st->filter_edit : st->filter;
}

/* One line of the list: a process, or a family's header (row is then the family as a row). */
struct vis_line {
	const struct proc_row *row;
	const struct group_row *group; /* the family of a header or member line */
	bool header;
};

struct visible {
	struct vis_line *lines;
	int n;
	struct proc_row *headers; /* the families' header rows, owned here */
};

static void visible__free(struct visible *v)
{
	free(v->lines);
	free(v->headers);
}

static bool group_matches(const struct snapshot *snap, const struct group_row *g, const char *filter)
{
	if (!filter[0] || strcasestr(g->name, filter))
		return true;
	for (int i = 0; i < snap->nrows; i++)
		if (snap->rows[i] && snap->rows[i]->group_id == g->id && row_matches(snap->rows[i], filter))
			return true;
	return false;
}

/*
 * Filter and sort into st->vis (pids; a family header is -id) and v: processes in no family and
 * families' headers sort together; an expanded family's members follow its header, sorted the
 * same way.  A family whose name or any member matches the filter shows whole.
 */
static int build_visible(const struct snapshot *snap, struct tui_state *st, struct visible *v)
{
	const struct proc_row **top = NULL, **members = NULL;
	struct sort_ctx sc = { st->sort_col, st->sort_reverse };
	int ntop = 0, n = 0, i, k, m, ng = snap ? snap->ngroups : 0;

	memset(v, 0, sizeof(*v));
	if (snap && snap->nrows > 0) {
		top = calloc((size_t)(snap->nrows + ng), sizeof(*top));
		members = calloc((size_t)snap->nrows, sizeof(*members));
		v->lines = calloc((size_t)(snap->nrows + ng), sizeof(*v->lines));
		v->headers = ng ? calloc((size_t)ng, sizeof(*v->headers)) : NULL;
		if (!top || !members || !v->lines || (ng && !v->headers))
			goto oom;
		for (i = 0; i < ng; i++) {
			tui_groups__header_row(snap, &snap->groups[i], &v->headers[i]);
			if (group_matches(snap, &snap->groups[i], active_filter(st)))
				top[ntop++] = &v->headers[i];
		}
		for (i = 0; i < snap->nrows; i++)
			if (snap->rows[i] && !snapshot__group(snap, snap->rows[i]->group_id) &&
			    row_matches(snap->rows[i], active_filter(st)))
				top[ntop++] = snap->rows[i];
		qsort_r(top, (size_t)ntop, sizeof(*top), row_cmp, &sc);
		for (i = 0; i < ntop; i++) {
			const struct group_row *g = top[i] >= v->headers && top[i] < v->headers + ng ?
							    &snap->groups[top[i] - v->headers] : NULL;

			v->lines[n++] = (struct vis_line){ top[i], g, g != NULL };
			if (!g || !tui_state__expanded(st, g->id))
				continue;
			for (k = m = 0; k < snap->nrows; k++)
				if (snap->rows[k] && snap->rows[k]->group_id == g->id)
					members[m++] = snap->rows[k];
			qsort_r(members, (size_t)m, sizeof(*members), row_cmp, &sc);
			for (k = 0; k < m; k++)
				v->lines[n++] = (struct vis_line){ members[k], g, false };
		}
	}
	if (n > st->vis_cap) {
		pid_t *p = realloc(st->vis, (size_t)n * sizeof(*p));
		int *gid;

		if (!p)
			goto oom;
		st->vis = p;
		gid = realloc(st->vis_group, (size_t)n * sizeof(*gid));
		if (!gid)
			goto oom;
		st->vis_group = gid;
		st->vis_cap = n;
	}
	for (i = 0; i < n; i++) {
		st->vis[i] = v->lines[i].header ? -v->lines[i].group->id : v->lines[i].row->target.pid;
		st->vis_group[i] = v->lines[i].group ? v->lines[i].group->id : 0;
	}
	st->nvis = n;
	v->n = n;
	/* The selection follows its process; when that one is gone, the line it was on. */
	for (i = 0; i < n; i++)
		if (st->vis[i] == st->sel_pid)
			break;
	if (i < n)
		st->sel_idx = i;
	st->sel_idx = n ? MAX(0, MIN(st->sel_idx, n - 1)) : 0;
	st->sel_pid = n ? st->vis[st->sel_idx] : 0;
	free(top);
	free(members);
	return 0;
oom:
	free(top);
	free(members);
	visible__free(v);
	return -ENOMEM;
}

/* ---------------------------------------------------------------------------------------------
 * The process list
 */

struct layout {
	bool shown[TUI_COL__COUNT];
	int x[TUI_COL__COUNT], w[TUI_COL__COUNT];
};

static void layout_columns(int width, struct layout *lo)
{
	/* on wide terminals the command matters more than the columns that are last to be filled */
	int cmd_min = width >= 100 ? 28 : cols[TUI_COL_COMMAND].width;
	int total, c, d, x;

	for (c = 0; c < TUI_COL__COUNT; c++)
		lo->shown[c] = true;
	/* Drop columns (lowest priority first) until the fixed ones leave COMMAND its minimum. */
	for (d = 1;; d++) {
		total = 0;
		for (c = 0; c < TUI_COL__COUNT; c++)
			if (lo->shown[c])
				total += (c == TUI_COL_COMMAND ? cmd_min : cols[c].width) + 1;
		if (total - 1 <= width || d > TUI_COL__COUNT)
			break;
		for (c = 0; c < TUI_COL__COUNT; c++)
			if (cols[c].drop == d)
				lo->shown[c] = false;
	}
	/* A suspect name ("__main__.Registry._items +3.0k/m") needs more than 16 columns: on wide
	 * terminals SUSPECT takes half of what COMMAND would get beyond its minimum, up to 44. */
	int spare = width - (total - 1), suspect_extra = 0;

	if (lo->shown[TUI_COL_SUSPECT] && spare > 0)
		suspect_extra = MIN(spare / 2, 44 - cols[TUI_COL_SUSPECT].width);
	x = 0;
	for (c = 0; c < TUI_COL__COUNT; c++) {
		if (!lo->shown[c])
			continue;
		lo->x[c] = x;
		lo->w[c] = cols[c].width;
		if (c == TUI_COL_COMMAND)
			lo->w[c] = MAX(cols[c].width, width - (total - 1) + cmd_min - suspect_extra);
		if (c == TUI_COL_SUSPECT)
			lo->w[c] += suspect_extra;
		x += lo->w[c] + 1;
	}
}

static void render_table_title(struct tui_grid *g, int y, const struct layout *lo, const struct tui_state *st)
{
	int c;

	tui_grid__fill(g, 0, y, g->w, ' ', TUI_A_TITLE);
	for (c = 0; c < TUI_COL__COUNT; c++) {
		const char *t = !g->ascii && cols[c].title_utf8 ? cols[c].title_utf8 : cols[c].title;
		uint8_t attr = c == (int)st->sort_col ? TUI_A_SORTCOL : TUI_A_TITLE;
		char buf[32];
		/* the direction the rows are actually ordered in: high first unless reversed (pid/text: a-z) */
		bool ascending = (cols[c].text && c != TUI_COL_PY) || c == TUI_COL_PID;

		if (!lo->shown[c])
			continue;
		if (c == (int)st->sort_col && (int)strlen(cols[c].title) < lo->w[c]) {
			snprintf(buf, sizeof(buf), "%s%s", t, tui_glyph__arrow(g, ascending == st->sort_reverse));
			t = buf;
		}
		tui_grid__fill(g, lo->x[c], y, lo->w[c], ' ', attr);
		tui_grid__put_cell(g, lo->x[c], y, lo->w[c], cols[c].left, attr, t);
	}
}

static void render_row(struct tui_grid *g, int y, const struct layout *lo, const struct snapshot *snap,
		       const struct vis_line *line, const struct tui_state *st, bool selected)
{
	const struct proc_row *r = line->row;
	uint8_t base = TUI_A_NORMAL;
	char buf[600];
	int c;

	if (r->exited)
		base = TUI_A_DIM;
	else if (snap && r->first_seen > 0 && snap->time - r->first_seen < snap->interval_s * 1.5 && r->nhistory <= 1)
		base = TUI_A_NEW;
	if (selected)
		tui_grid__fill(g, 0, y, g->w, ' ', TUI_A_SELECTED);
	for (c = 0; c < TUI_COL__COUNT; c++) {
		uint8_t attr = selected ? TUI_A_SELECTED : base;

		if (!lo->shown[c])
			continue;
		if (c == TUI_COL_COMMAND && line->header) {
			tui_groups__header_text(line->group, tui_state__expanded(st, line->group->id), g->ascii, buf,
						sizeof(buf));
		} else if (c == TUI_COL_SUSPECT && line->header) {
			tui_groups__suspect_text(line->group, buf, sizeof(buf));
		} else if (c == TUI_COL_COMMAND && line->group) {
			/* a member, indented under its header, with its role when it is not a worker */
			char cmd[520];

			short_command(r, cmd, sizeof(cmd));
			snprintf(buf, sizeof(buf), "  %s%s%.*s", r->exited ? "[exited] " : "",
				 r->group_role == GROUP_ROLE_MASTER ? "[master] " :
				 r->group_role == GROUP_ROLE_HELPER ? "[helper] " : "",
				 500, cmd);
		} else if (c == TUI_COL_COMMAND && r->exited) {
			char cmd[520];

			short_command(r, cmd, sizeof(cmd));
			snprintf(buf, sizeof(buf), "[exited] %.*s", 500, cmd);
		} else if (c == TUI_COL_COMMAND && !r->gc_valid && r->note[0]) {
			char cmd[520];

			short_command(r, cmd, sizeof(cmd));
			snprintf(buf, sizeof(buf), "%.*s [%.*s]", 400, cmd, 160, r->note);
		} else {
			cell_text(r, (enum tui_col)c, buf, sizeof(buf));
		}
		if (!selected && c == TUI_COL_GARBAGE && r->garbage > 0)
			attr = TUI_A_WARN;
		tui_grid__put_cell(g, lo->x[c], y, lo->w[c], cols[c].left, attr, buf);
	}
}

int tui_table__render(struct tui_grid *g, const struct snapshot *snap, struct tui_state *st, int y0)
{
	struct visible v;
	struct layout lo;
	int y, i, err, body;

	err = build_visible(snap, st, &v);
	if (err)
		return err;
	layout_columns(g->w, &lo);
	st->col_shown = 0;
	for (i = 0; i < TUI_COL__COUNT; i++)
		if (lo.shown[i])
			st->col_shown |= 1u << i;

	/* Line y0: sort and filter state, so both are readable without colour. */
	i = tui_grid__puts(g, 0, y0, -1, TUI_A_LABEL, "sort");
	i += tui_grid__printf(g, i, y0, -1, TUI_A_NORMAL, " %s%s", cols[st->sort_col].title,
			      st->sort_reverse ? " (reversed)" : "");
	if (active_filter(st)[0]) {
		i += tui_grid__puts(g, i + 2, y0, -1, TUI_A_LABEL, "filter") + 2;
		i += tui_grid__printf(g, i, y0, -1, TUI_A_NORMAL, " '%s' %d/%d", active_filter(st), st->nvis,
				      snap ? snap->nrows : 0);
	}
	render_table_title(g, y0 + 1, &lo, st);

	body = g->h - 1 - (y0 + 2);
	st->page_rows = MAX(1, body);
	if (st->sel_idx < st->scroll)
		st->scroll = st->sel_idx;
	if (st->sel_idx >= st->scroll + body)
		st->scroll = st->sel_idx - body + 1;
	st->scroll = MAX(0, MIN(st->scroll, MAX(0, st->nvis - body)));

	y = y0 + 2;
	if (!snap)
		tui_grid__puts(g, 1, y, g->w - 1, TUI_A_DIM, "reading processes...");
	else if (!snap->nrows)
		tui_grid__puts(g, 1, y, g->w - 1, TUI_A_DIM, "no Python processes found yet (rescanning every refresh)");
	else if (!st->nvis)
		tui_grid__printf(g, 1, y, g->w - 1, TUI_A_DIM, "no process matches '%s'", active_filter(st));
	for (i = st->scroll; i < st->nvis && y < g->h - 1; i++, y++)
		render_row(g, y, &lo, snap, &v.lines[i], st, i == st->sel_idx);
	visible__free(&v);
	return 0;
}
