/* SPDX-License-Identifier: BSD-2-Clause */
/* The `pyleak top` screen as pure code: view state, key handling and drawing into a cell grid. */
#include "views/tui_render.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/common.h"
#include "util/format.h"
#include "model/gcstats.h"
#include "target/python.h"

/* ---------------------------------------------------------------------------------------------
 * The grid
 */

int tui_grid__init(struct tui_grid *g, int w, int h, bool ascii)
{
	struct tui_cell *cells;

	/* 4096 columns/lines is far beyond any terminal: a bigger size is a bug upstream. */
	if (w < 1 || h < 1 || w > 4096 || h > 4096)
		return -EINVAL;
	cells = calloc((size_t)w * (size_t)h, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	free(g->cells);
	g->cells = cells;
	g->w = w;
	g->h = h;
	g->ascii = ascii;
	tui_grid__clear(g);
	return 0;
}

void tui_grid__free(struct tui_grid *g)
{
	if (!g)
		return;
	free(g->cells);
	g->cells = NULL;
	g->w = g->h = 0;
}

void tui_grid__clear(struct tui_grid *g)
{
	size_t i, n = (size_t)g->w * (size_t)g->h;

	for (i = 0; i < n; i++) {
		g->cells[i].ch = ' ';
		g->cells[i].attr = TUI_A_NORMAL;
	}
}

void tui_grid__put(struct tui_grid *g, int x, int y, uint32_t ch, uint8_t attr)
{
	if (!g->cells || x < 0 || y < 0 || x >= g->w || y >= g->h)
		return;
	g->cells[(size_t)y * g->w + x].ch = ch;
	g->cells[(size_t)y * g->w + x].attr = attr;
}

void tui_grid__fill(struct tui_grid *g, int x, int y, int n, uint32_t ch, uint8_t attr)
{
	for (int i = 0; i < n && x + i < g->w; i++)
		tui_grid__put(g, x + i, y, ch, attr);
}

void tui_grid__set_attr(struct tui_grid *g, int x, int y, int n, uint8_t attr)
{
	if (y < 0 || y >= g->h)
		return;
	for (int i = 0; i < n; i++)
		if (x + i >= 0 && x + i < g->w)
			g->cells[(size_t)y * g->w + x + i].attr = attr;
}

/* Decode one UTF-8 sequence; malformed input yields U+FFFD and advances one byte. */
static uint32_t utf8_next(const unsigned char **p)
{
	const unsigned char *s = *p;
	uint32_t cp;
	int n, i;

	if (s[0] < 0x80) {
		*p = s + 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 1;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 2;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 3;
		cp = s[0] & 0x07;
	} else {
		*p = s + 1;
		return 0xfffd;
	}
	for (i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*p = s + 1;
			return 0xfffd;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	*p = s + n + 1;
	return cp;
}

/*
 * Only characters known to take exactly one column get through: the layout counts columns,
 * and a double-width or combining character from a target's command line would shift
 * everything after it.  Control characters never reach the terminal.
 */
static uint32_t safe_char(const struct tui_grid *g, uint32_t cp)
{
	if (cp < 0x20 || cp == 0x7f)
		return '?';
	if (cp < 0x80)
		return cp;
	if (g->ascii)
		return '?';
	if ((cp >= 0xa0 && cp < 0x300) || (cp >= 0x370 && cp < 0x400) || (cp >= 0x2010 && cp < 0x2030) ||
	    (cp >= 0x2190 && cp < 0x2200) || (cp >= 0x2500 && cp < 0x2600))
		return cp;
	return '?';
}

int tui_grid__puts(struct tui_grid *g, int x, int y, int maxw, uint8_t attr, const char *utf8)
{
	const unsigned char *p = (const unsigned char *)(utf8 ? utf8 : "");
	int n = 0;

	if (maxw < 0)
		maxw = g->w - x;
	while (*p && n < maxw && x + n < g->w) {
		uint32_t cp = utf8_next(&p);

		tui_grid__put(g, x + n, y, safe_char(g, cp), attr);
		n++;
	}
	return n;
}

int tui_grid__printf(struct tui_grid *g, int x, int y, int maxw, uint8_t attr, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap); /* truncation is fine: the screen is narrower */
	va_end(ap);
	return tui_grid__puts(g, x, y, maxw, attr, buf);
}

static size_t utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

const char *tui_grid__line(const struct tui_grid *g, int y, char *buf, size_t sz)
{
	size_t len = 0, end = 0;

	if (!sz)
		return buf;
	buf[0] = '\0';
	if (y < 0 || y >= g->h)
		return buf;
	for (int x = 0; x < g->w; x++) {
		char enc[4];
		size_t n = utf8_put(enc, g->cells[(size_t)y * g->w + x].ch);

		if (len + n + 1 > sz)
			break;
		memcpy(buf + len, enc, n);
		len += n;
		if (g->cells[(size_t)y * g->w + x].ch != ' ')
			end = len;
	}
	buf[end] = '\0';
	return buf;
}

int tui_grid__find(const struct tui_grid *g, const char *needle)
{
	char line[4096 * 4 + 1];

	for (int y = 0; y < g->h; y++)
		if (strstr(tui_grid__line(g, y, line, sizeof(line)), needle))
			return y;
	return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Glyphs: Unicode where the terminal can, ASCII otherwise.
 */

static const uint32_t spark_utf8[] = { ' ', 0x2581, 0x2582, 0x2583, 0x2584, 0x2585, 0x2586, 0x2587, 0x2588 };
static const uint32_t spark_ascii[] = { ' ', '.', '.', ':', ':', '=', '=', '#', '#' };

static uint32_t glyph_spark(const struct tui_grid *g, int level)
{
	level = level < 0 ? 0 : level > 8 ? 8 : level;
	return g->ascii ? spark_ascii[level] : spark_utf8[level];
}

static uint32_t glyph_bar(const struct tui_grid *g)
{
	return g->ascii ? '#' : 0x2588;
}

static const char *glyph_arrow(const struct tui_grid *g, bool down)
{
	if (g->ascii)
		return down ? "v" : "^";
	return down ? "\u25bc" : "\u25b2";
}

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
	[TUI_COL_PY] = { "PY", NULL, 6, 9, true, true },
	[TUI_COL_TIER] = { "TIER", NULL, 6, 3, true, true },
	[TUI_COL_RSS] = { "RSS", NULL, 6, 11, false, false },
	[TUI_COL_DRSS] = { "dRSS/m", "\u0394RSS/m", 7, 8, false, false },
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
static const char *fmt_per_min(char *buf, size_t sz, double v, bool bytes)
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
	fmt_per_min(rate, sizeof(rate), s->per_min, s->kind == SUSPECT_RSS);
	if (row->nsuspects > 1)
		snprintf(buf, sz, "%s %s (+%d)", s->name, rate, row->nsuspects - 1);
	else
		snprintf(buf, sz, "%s %s", s->name, rate);
	return buf;
}

static const char *fmt_rate(char *buf, size_t sz, double v)
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

static const char *row_command(const struct proc_row *r)
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
	const char *cmd = row_command(r), *arg, *rest;
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
			fmt_rate(buf, sz, r->gc_per_s[col - TUI_COL_GC0]);
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

/* Filter and sort the snapshot's rows into st->vis (pids) and rows_out (pointers). */
static int build_visible(const struct snapshot *snap, struct tui_state *st, const struct proc_row ***rows_out)
{
	const struct proc_row **rows = NULL;
	struct sort_ctx sc = { st->sort_col, st->sort_reverse };
	int n = 0, i;

	*rows_out = NULL;
	if (snap && snap->nrows > 0) {
		rows = calloc((size_t)snap->nrows, sizeof(*rows));
		if (!rows)
			return -ENOMEM;
		for (i = 0; i < snap->nrows; i++)
			if (snap->rows[i] && row_matches(snap->rows[i], active_filter(st)))
				rows[n++] = snap->rows[i];
		qsort_r(rows, (size_t)n, sizeof(*rows), row_cmp, &sc);
	}
	if (n > st->vis_cap) {
		pid_t *v = realloc(st->vis, (size_t)n * sizeof(*v));

		if (!v) {
			free(rows);
			return -ENOMEM;
		}
		st->vis = v;
		st->vis_cap = n;
	}
	for (i = 0; i < n; i++)
		st->vis[i] = rows[i]->target.pid;
	st->nvis = n;
	/* The selection follows its process; when that one is gone, the line it was on. */
	for (i = 0; i < n; i++)
		if (st->vis[i] == st->sel_pid)
			break;
	if (i < n)
		st->sel_idx = i;
	st->sel_idx = n ? MAX(0, MIN(st->sel_idx, n - 1)) : 0;
	st->sel_pid = n ? st->vis[st->sel_idx] : 0;
	*rows_out = rows;
	return 0;
}

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
	const char *const(*keys)[2] = st->view == TUI_VIEW_DETAIL ? detail_keys : list_keys;
	int nkeys = st->view == TUI_VIEW_DETAIL ? (int)ARRAY_SIZE(detail_keys) : (int)ARRAY_SIZE(list_keys);
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
		x += tui_grid__puts(g, x, y, maxw - x, TUI_A_KEY, keys[i][0]);
		x += tui_grid__printf(g, x, y, maxw - x, TUI_A_NORMAL, " %s  ", keys[i][1]);
	}
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

static void put_cell(struct tui_grid *g, int x, int y, int w, bool left, uint8_t attr, const char *text)
{
	int len = 0;
	const unsigned char *p = (const unsigned char *)text;

	/* count code points for right alignment (every glyph we let through is one column) */
	while (*p) {
		utf8_next(&p);
		len++;
	}
	if (!left && len < w)
		x += w - len;
	tui_grid__puts(g, x, y, left ? w : MIN(w, len), attr, text);
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
			snprintf(buf, sizeof(buf), "%s%s", t, glyph_arrow(g, ascending == st->sort_reverse));
			t = buf;
		}
		tui_grid__fill(g, lo->x[c], y, lo->w[c], ' ', attr);
		put_cell(g, lo->x[c], y, lo->w[c], cols[c].left, attr, t);
	}
}

static void render_row(struct tui_grid *g, int y, const struct layout *lo, const struct snapshot *snap,
		       const struct proc_row *r, bool selected)
{
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
		if (c == TUI_COL_COMMAND && r->exited) {
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
		put_cell(g, lo->x[c], y, lo->w[c], cols[c].left, attr, buf);
	}
}

static int render_list(struct tui_grid *g, const struct snapshot *snap, struct tui_state *st, int y0)
{
	const struct proc_row **rows = NULL;
	struct layout lo;
	int y, i, err, body;

	err = build_visible(snap, st, &rows);
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
		render_row(g, y, &lo, snap, rows[i], i == st->sel_idx);
	free(rows);
	return 0;
}

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

static const char *const tab_names[TUI_TAB__COUNT] = { "GC", "Types", "Containers", "Sites", "Suspects" };

static void render_no_data(struct tui_grid *g, int x, int y, int w, const char *what, const char *why)
{
	tui_grid__printf(g, x + 1, y, w - 1, TUI_A_NORMAL, "%s: no data yet", what);
	tui_grid__puts(g, x + 1, y + 1, w - 1, TUI_A_DIM, why);
}

static bool is_suspect(const struct proc_row *row, enum suspect_kind kind, const char *name)
{
	for (int i = 0; i < row->nsuspects; i++)
		if (row->suspects[i].kind == kind && !strcmp(row->suspects[i].name, name))
			return true;
	return false;
}

/* One census line over every census tab: when, how long, how often. */
static void render_census_line(struct tui_grid *g, const struct proc_row *row, int x, int y, int w)
{
	char live[32];

	snprintf(live, sizeof(live), "%lld", (long long)row->live_objects);
	tui_grid__printf(g, x + 1, y, w - 1, TUI_A_LABEL, "census every %.0f s, last walk %.1f ms, %s live objects%s",
			 row->census_period, row->census_ms, live,
			 row->census_inconsistencies ? " (inconsistencies: the heap moved during the walk)" : "");
}

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
		render_no_data(g, x, y, w, "Types", "live objects per type and their growth appear here once a census ran");
		return;
	}
	render_census_line(g, row, x, y, w);
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
		bool sus = is_suspect(row, SUSPECT_TYPE, t->name);
		uint8_t attr = sus ? TUI_A_WARN : TUI_A_NORMAL;
		int64_t mn = INT64_MAX, mx = INT64_MIN;
		int k, sx;

		snprintf(cnt, sizeof(cnt), "%lld", (long long)t->count);
		if (t->per_min == 0)
			snprintf(rate, sizeof(rate), "0");
		else
			fmt_per_min(rate, sizeof(rate), t->per_min, false);
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

			tui_grid__put(g, sx + k, line, glyph_spark(g, level), TUI_A_BAR);
		}
	}
}

/* Containers: the largest dicts/lists/sets/deques, named by their holder when one was found. */
void tui_render__containers_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h)
{
	int namew, i, line;
	char len[32], rate[32];

	if (h <= 0)
		return;
	if (row->census_time <= 0 || !row->ncontainers) {
		render_no_data(g, x, y, w, "Containers", "growing dicts, lists and sets and who holds them appear here");
		return;
	}
	render_census_line(g, row, x, y, w);
	if (h < 3)
		return;
	namew = MAX(12, w - 2 - 18 - 10 - 10 - 3);
	tui_grid__fill(g, x, y + 1, w, ' ', TUI_A_TITLE);
	tui_grid__printf(g, x + 1, y + 1, w - 1, TUI_A_TITLE, "%-*s %-18s %9s %9s", namew, "HELD BY", "TYPE", "LEN",
			 "/MIN");
	for (i = 0, line = y + 2; i < row->ncontainers && line < y + h; i++, line++) {
		const struct container_row *c = &row->containers[i];
		uint8_t attr = is_suspect(row, SUSPECT_CONTAINER, c->name) ? TUI_A_WARN
			       : c->named				    ? TUI_A_NORMAL
									    : TUI_A_DIM;

		snprintf(len, sizeof(len), "%lld", (long long)c->len);
		if (c->per_min == 0)
			snprintf(rate, sizeof(rate), "0");
		else
			fmt_per_min(rate, sizeof(rate), c->per_min, false);
		tui_grid__printf(g, x + 1, line, w - 1, attr, "%-*.*s %-18.18s %9s %9s", namew, namew, c->name, c->type,
				 len, rate);
	}
}

/*
 * Sites: the sampled Python stacks of the threads that triggered young collections, most
 * frequent first: share, count, the leaf frame, then its callers (and [truncated] for stacks
 * deeper than the kernel walks). One line per stack, the caller chain as far as it fits.
 */
void tui_render__sites_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h)
{
	const struct sites_report *s = &row->sites;
	char leaf[400], caller[400];
	int i, f, line = y;

	if (h <= 0)
		return;
	if (!row->sites_valid || !s->nstacks) {
		render_no_data(g, x, y, w, "Sites",
			       row->target.tier == GC_TIER_POLL
				       ? "no allocation sites on the poll tier (no collection-start probe)"
				       : "allocation sites (file.py:LINE function) appear after a few young collections");
		return;
	}
	tui_grid__printf(g, x + 1, line++, w - 1, TUI_A_LABEL,
			 "Sites: %llu samples, %llu walk errors (discarded), %llu truncated%s",
			 (unsigned long long)s->total, (unsigned long long)s->counters.walk_errors,
			 (unsigned long long)s->counters.truncated,
			 row->target.minor >= 12 ? "  (3.12+: collections run at the next eval-breaker check: approximate)"
						 : "");
	for (i = 0; i < s->nstacks && line < y + h; i++) {
		const struct site_stack *st = &s->stacks[i];
		int cx;

		if (!st->nframes)
			continue;
		site_frame__format(&st->frames[0], leaf, sizeof(leaf));
		cx = x + 1 + tui_grid__printf(g, x + 1, line, w - 1, i == 0 ? TUI_A_WARN : TUI_A_NORMAL, "%5.1f%% %6llu  %s",
					      100.0 * st->count / (s->total ? s->total : 1), (unsigned long long)st->count,
					      leaf);
		for (f = 1; f < st->nframes && cx < x + w - 4; f++) {
			site_frame__format(&st->frames[f], caller, sizeof(caller));
			cx += tui_grid__printf(g, cx, line, x + w - cx, TUI_A_DIM, " < %s", caller);
		}
		if (st->truncated && cx < x + w - 12)
			tui_grid__puts(g, cx, line, x + w - cx, TUI_A_DIM, " < [truncated]");
		line++;
	}
}

/* Suspects, strongest first: kind, name, growth and confidence, then the evidence wrapped below. */
void tui_render__suspects_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h)
{
	int i, line = y;
	char rate[40];

	if (h <= 0)
		return;
	if (!row->nsuspects) {
		if (row->census_time <= 0)
			render_no_data(g, x, y, w, "Suspects", "leak suspects with their evidence appear here");
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

		fmt_per_min(rate, sizeof(rate), s->per_min, s->kind == SUSPECT_RSS);
		tui_grid__printf(g, x + 1, line++, w - 1, TUI_A_WARN, "%-9s %s  %s  confidence %.3f",
				 suspect_kind__name(s->kind), s->name, rate, s->confidence);
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

/* Collections of generation gen during the refresh that ended at history sample `age`. */
static int64_t collections_at(const struct proc_row *r, int age, int gen)
{
	const struct proc_sample *now = proc_row__sample(r, age), *before = proc_row__sample(r, age + 1);

	if (!now || !before)
		return -1;
	return now->collections[gen] >= before->collections[gen] ? now->collections[gen] - before->collections[gen]
								     : 0;
}

/* One sparkline per generation: collections per refresh, oldest left, newest right. */
static int render_timeline(struct tui_grid *g, const struct proc_row *r, int x, int y, int w, int h)
{
	int gen, i, label = 25, strip = w - label - 1, n;

	if (h < 2 || strip < 4)
		return 0;
	tui_grid__puts(g, x, y, w, TUI_A_LABEL, "GC timeline (collections per refresh, newest right)");
	n = MIN(strip, r->nhistory - 1);
	for (gen = 0; gen < MODEL_NGEN && gen + 1 < h; gen++) {
		int64_t mx = 0, last = collections_at(r, 0, gen), v;

		for (i = 0; i < n; i++)
			mx = MAX(mx, collections_at(r, i, gen));
		tui_grid__printf(g, x, y + 1 + gen, label, TUI_A_NORMAL, "gen%d last %4lld max %4lld", gen,
				 (long long)MAX(last, 0), (long long)mx);
		for (i = 0; i < n; i++) {
			v = collections_at(r, i, gen);
			if (v <= 0)
				continue;
			/* any collection shows at least the lowest block */
			tui_grid__put(g, x + label + strip - 1 - i, y + 1 + gen,
				      glyph_spark(g, (int)((v * 8 + mx - 1) / MAX(mx, 1))), TUI_A_BAR);
		}
		if (n <= 0)
			tui_grid__puts(g, x + label, y + 1 + gen, strip, TUI_A_DIM, "(needs two refreshes)");
	}
	return 1 + MIN(MODEL_NGEN, h - 1);
}

/* Pause counts of generation gen in octaves [oct0, oct0 + per) (4 kernel sub-buckets each). */
static uint64_t octave_count(const struct proc_row *r, int gen, int oct0, int per)
{
	uint64_t n = 0;

	for (int s = oct0 * 4; s < (oct0 + per) * 4 && s < MODEL_HIST_SLOTS; s++)
		n += r->pause_hist[gen][s];
	return n;
}

/*
 * Pause histograms.  The kernel keeps 4 sub-buckets per power of two (bpf/gc.h); on screen a
 * bar is one power of two.  With room: one column of horizontal bars per generation; on short
 * terminals: one strip per generation, a cell pair per power of two.
 */
static int render_histograms(struct tui_grid *g, const struct proc_row *r, int x, int y, int w, int h)
{
	int lo_oct = 1000, hi_oct = -1, gen, rows, per, colw, i;
	uint64_t lo_us, hi_us, lo2, hi2;
	char lb[16], hb[16], nb[16];

	if (h < 1)
		return 0;
	for (gen = 0; gen < MODEL_NGEN; gen++)
		for (i = 0; i < MODEL_HIST_SLOTS; i++)
			if (r->pause_hist[gen][i]) {
				lo_oct = MIN(lo_oct, i / 4);
				hi_oct = MAX(hi_oct, i / 4);
			}
	if (hi_oct < 0) {
		tui_grid__printf(g, x, y, w, TUI_A_LABEL, "Pause histograms: no timed collections yet%s",
				 r->pauses_estimated ? " (poll tier: sampled)" : "");
		return 1;
	}
	rows = hi_oct - lo_oct + 1;
	pause_hist__bounds((uint32_t)(lo_oct * 4), &lo_us, &hi_us);
	pause_hist__bounds((uint32_t)(hi_oct * 4 + 3), &lo2, &hi2);
	tui_grid__printf(g, x, y, w, TUI_A_LABEL, "Pause histograms %s .. %s, per power of two%s",
			 fmt_us(lb, sizeof(lb), (double)lo_us), fmt_us(hb, sizeof(hb), (double)hi2),
			 r->pauses_estimated ? " (estimated)" : "");
	if (h < 2 + rows && h >= 1 + MODEL_NGEN) {
		/* strips: "gen0 ▁▁██▃▃·· 500" */
		for (gen = 0; gen < MODEL_NGEN; gen++) {
			uint64_t mx = 0, total = 0, n;
			int cx = x + 5;

			for (i = 0; i < rows; i++) {
				n = octave_count(r, gen, lo_oct + i, 1);
				mx = MAX(mx, n);
				total += n;
			}
			tui_grid__printf(g, x, y + 1 + gen, 5, TUI_A_NORMAL, "gen%d", gen);
			for (i = 0; i < rows && cx + 2 <= x + w - 8; i++, cx += 2) {
				uint32_t glyph = g->ascii ? '.' : 0xb7;

				n = octave_count(r, gen, lo_oct + i, 1);
				if (n)
					glyph = glyph_spark(g, (int)((n * 8 + mx - 1) / mx));
				tui_grid__fill(g, cx, y + 1 + gen, 2, glyph, n ? TUI_A_BAR : TUI_A_DIM);
			}
			tui_grid__printf(g, cx + 1, y + 1 + gen, x + w - cx - 1, TUI_A_NORMAL, "%s",
					 fmt_count(nb, sizeof(nb), (double)total));
		}
		return 1 + MODEL_NGEN;
	}
	if (h < 3)
		return 1;
	/* bars: h - 2 lines (title and generation labels above); merge octaves when short */
	per = (rows + (h - 2) - 1) / (h - 2);
	rows = (rows + per - 1) / per;
	colw = w / MODEL_NGEN;
	for (gen = 0; gen < MODEL_NGEN; gen++)
		tui_grid__printf(g, x + gen * colw, y + 1, colw - 1, TUI_A_LABEL, "gen%d", gen);
	for (gen = 0; gen < MODEL_NGEN; gen++) {
		uint64_t mx = 0;
		int cx = x + gen * colw, barw = MAX(colw - 7 - 8 - 1, 0);

		for (i = 0; i < rows; i++)
			mx = MAX(mx, octave_count(r, gen, lo_oct + i * per, per));
		for (i = 0; i < rows && i + 2 < h; i++) {
			uint64_t n = octave_count(r, gen, lo_oct + i * per, per);
			int len = mx ? (int)((n * (uint64_t)barw + mx - 1) / mx) : 0;

			pause_hist__bounds((uint32_t)((lo_oct + i * per) * 4), &lo_us, &hi_us);
			tui_grid__printf(g, cx, y + 2 + i, 7, TUI_A_NORMAL, "%6s", fmt_us(lb, sizeof(lb), (double)lo_us));
			tui_grid__fill(g, cx + 7, y + 2 + i, MIN(len, barw), glyph_bar(g), TUI_A_BAR);
			if (n)
				tui_grid__printf(g, cx + 7 + barw + 1, y + 2 + i, MIN(8, colw - 7 - barw - 1), TUI_A_NORMAL,
						 "%7s", fmt_count(nb, sizeof(nb), (double)n));
		}
	}
	return 2 + MIN(rows, h - 2);
}

void tui_render__gc_tab(struct tui_grid *g, const struct snapshot *snap, const struct proc_row *r, int x, int y,
			int w, int h)
{
	char a[16], b[16], c[16], d[16];
	int gen, yy = y, bottom = y + h, px, py, xx;
	bool side = w >= 72 + 50; /* both tables side by side: 70 + 2 + 50 columns */

	(void)snap;
	if (h <= 0)
		return;
	if (!r->gc_valid) {
		tui_grid__printf(g, x + 1, yy, w - 1, TUI_A_WARN, "GC state not readable%s%s", r->note[0] ? ": " : "",
				 r->note);
		return;
	}
	/* Exact cumulative counters = gc.get_stats() in the target, as raw integers. */
	tui_grid__printf(g, x, yy, w, TUI_A_TITLE, "%-4s %12s %12s %13s %9s %7s %7s", "GEN", "COLLECTIONS", "COLLECTED",
			 "UNCOLLECTABLE", "THRESHOLD", "COUNT", "GC/s");
	for (gen = 0; gen < MODEL_NGEN && yy + 1 + gen < bottom; gen++)
		tui_grid__printf(g, x, yy + 1 + gen, w, TUI_A_NORMAL, "gen%d %12lld %12lld %13lld %9lld %7lld %7s", gen,
				 (long long)r->collections[gen], (long long)r->collected[gen],
				 (long long)r->uncollectable[gen], (long long)r->thresholds[gen], (long long)r->counts[gen],
				 fmt_rate(a, sizeof(a), r->gc_per_s[gen]));
	/* Pauses since pyleak attached; beside the counters when there is room, else below. */
	px = side ? x + 72 : x;
	py = side ? yy : yy + 4;
	for (gen = -1; gen < MODEL_NGEN && py + 1 + gen < bottom; gen++) {
		const struct pause_summary *ps = gen >= 0 ? &r->pause[gen] : NULL;

		if (!ps)
			tui_grid__printf(g, px, py, w - (px - x), TUI_A_TITLE, "%-4s %9s %8s %8s %8s %8s", "GEN", "PAUSES",
					 "SUM", "MAX", "P50", "P99");
		else if (!ps->count)
			tui_grid__printf(g, px, py + 1 + gen, w - (px - x), TUI_A_NORMAL, "gen%d %9d %8s %8s %8s %8s", gen,
					 0, "-", "-", "-", "-");
		else
			tui_grid__printf(g, px, py + 1 + gen, w - (px - x), TUI_A_NORMAL, "gen%d %9llu %8s %8s %8s %8s%s",
					 gen, (unsigned long long)ps->count, fmt_us(a, sizeof(a), (double)ps->sum_us),
					 fmt_us(b, sizeof(b), (double)ps->max_us), fmt_us(c, sizeof(c), (double)ps->p50_us),
					 fmt_us(d, sizeof(d), (double)ps->p99_us), ps->estimated ? " est." : "");
	}
	yy = side ? yy + 4 : yy + 8;
	if (yy >= bottom)
		return;
	xx = x + tui_grid__printf(g, x, yy, w, TUI_A_NORMAL, "gc %s  garbage %lld  gc time %.1f%%  live %s",
				  r->enabled ? "enabled" : "DISABLED", (long long)r->garbage, r->gc_time_pct,
				  r->live_objects >= 0 ? fmt_count(a, sizeof(a), (double)r->live_objects) : "-");
	if (r->pauses_unknown_gen)
		xx += tui_grid__printf(g, xx, yy, w - (xx - x), TUI_A_WARN, "  %llu pauses of unknown gen",
				       (unsigned long long)r->pauses_unknown_gen);
	if (r->pauses_estimated)
		tui_grid__puts(g, xx, yy, w - (xx - x), TUI_A_WARN, "  poll tier: pauses estimated");
	/* a blank line between sections only when everything still fits */
	yy += bottom - yy - 1 >= 4 + 1 + 4 ? 2 : 1;
	if (yy < bottom)
		yy += render_timeline(g, r, x, yy, w, MIN(4, bottom - yy));
	if (bottom - yy > 4 + 1)
		yy++;
	if (yy < bottom)
		render_histograms(g, r, x, yy, w, bottom - yy);
}

static int render_detail(struct tui_grid *g, const struct snapshot *snap, struct tui_state *st, int y0)
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
	tui_grid__puts(g, 0, y, g->w, TUI_A_DIM, row_command(r));
	y++;
	if (r->note[0] && r->gc_valid)
		tui_grid__puts(g, 0, y++, g->w, TUI_A_WARN, r->note);
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
	case TUI_TAB_SITES: tui_render__sites_tab(g, r, 0, y, g->w, bottom - y); break;
	case TUI_TAB_SUSPECTS: tui_render__suspects_tab(g, r, 0, y, g->w, bottom - y); break;
	default: break;
	}
	return 0;
}

static void render_help(struct tui_grid *g, int y0)
{
	static const char *const lines[] = {
		"pyleak top: GC and memory of every Python process (h, ? or F1: this help)",
		"",
		"  Up Down PgUp PgDn Home End  move the selection",
		"  Enter                       drill into the selected process",
		"  Esc Backspace               back to the list (in the list: clear the filter)",
		"  Left Right Tab 1-5          switch tabs in the drill-in view",
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
		"",
		"Press any key to go back.",
	};

	for (size_t i = 0; i < ARRAY_SIZE(lines) && y0 + (int)i < g->h - 1; i++)
		tui_grid__puts(g, 0, y0 + (int)i, g->w, i == 0 ? TUI_A_LABEL : TUI_A_NORMAL, lines[i]);
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
		render_help(g, y + 1);
	else if (st->view == TUI_VIEW_DETAIL)
		err = render_detail(g, snap, st, y);
	else
		err = render_list(g, snap, st, y);
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
	st->vis = NULL;
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
			st->tab = (enum tui_tab)(key - '1');
			return TUI_ACT_REDRAW;
		case TUI_KEY_UP:
		case TUI_KEY_DOWN:
			/* flip through the processes in list order without going back */
			select_idx(st, st->sel_idx + (key == TUI_KEY_UP ? -1 : 1));
			if (st->nvis)
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
		st->detail_pid = st->sel_pid;
		st->view = TUI_VIEW_DETAIL;
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
