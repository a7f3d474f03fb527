/* SPDX-License-Identifier: BSD-2-Clause */
/* The `pyleak top` screen as pure code: view state, key handling and drawing into a cell grid. */
#ifndef PYLEAK_TUI_RENDER_H
#define PYLEAK_TUI_RENDER_H

/*
 * Nothing here knows about ncurses: tui.c maps terminal keys to TUI_KEY_*, calls
 * tui_render() and copies the grid to the screen.  That keeps every layout decision
 * unit-testable (tests/unit/test_tui.c renders hand-built snapshots at several sizes).
 * The code is one file per screen region; views/tui_internal.h says which holds what.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/model.h"

/* Below this the screen shows one "terminal too small" line instead of a broken layout. */
#define TUI_MIN_W 40
#define TUI_MIN_H 8

/* Cell attributes; tui.c maps them to colour pairs, or to bold/reverse on monochrome terminals. */
enum tui_attr {
	TUI_A_NORMAL = 0,
	TUI_A_LABEL,	  /* header labels */
	TUI_A_TITLE,	  /* the column-title bar */
	TUI_A_SORTCOL,	  /* the sort column's title */
	TUI_A_SELECTED,	  /* the selected row */
	TUI_A_DIM,	  /* exited processes, zero values */
	TUI_A_WARN,	  /* dropped events, notes, uncollectable > 0 */
	TUI_A_NEW,	  /* processes seen for the first time in the last refresh */
	TUI_A_BAR,	  /* histogram bars and sparklines */
	TUI_A_KEY,	  /* key names in the footer */
	TUI_A_TAB,	  /* the active tab */
	TUI_A__COUNT
};

struct tui_cell {
	uint32_t ch; /* Unicode code point, always one column wide */
	uint8_t attr;
};

struct tui_grid {
	int w, h;
	bool ascii; /* the terminal cannot show UTF-8: use ASCII glyphs only */
	struct tui_cell *cells;
};

/* 0, -EINVAL (size < 1x1 or absurd) or -ENOMEM. Cleared to blanks. */
int tui_grid__init(struct tui_grid *g, int w, int h, bool ascii);
void tui_grid__free(struct tui_grid *g);
void tui_grid__clear(struct tui_grid *g);
/* Everything below clips at the grid's edges and at maxw columns (maxw < 0: to the edge). */
void tui_grid__put(struct tui_grid *g, int x, int y, uint32_t ch, uint8_t attr);
int tui_grid__puts(struct tui_grid *g, int x, int y, int maxw, uint8_t attr, const char *utf8);
int tui_grid__printf(struct tui_grid *g, int x, int y, int maxw, uint8_t attr, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
void tui_grid__fill(struct tui_grid *g, int x, int y, int n, uint32_t ch, uint8_t attr);
void tui_grid__set_attr(struct tui_grid *g, int x, int y, int n, uint8_t attr);
/* One line as UTF-8 with trailing blanks removed (tests); returns buf. */
const char *tui_grid__line(const struct tui_grid *g, int y, char *buf, size_t sz);
/* First line containing needle, or -1. */
int tui_grid__find(const struct tui_grid *g, const char *needle);

enum tui_view { TUI_VIEW_LIST, TUI_VIEW_DETAIL, TUI_VIEW_HELP };
enum tui_tab {
	TUI_TAB_GC, TUI_TAB_TYPES, TUI_TAB_CONTAINERS, TUI_TAB_SITES, TUI_TAB_SUSPECTS, TUI_TAB_NATIVE, TUI_TAB_MEMORY,
	TUI_TAB__COUNT
};

/* Process-table columns, in screen order. */
enum tui_col {
	TUI_COL_PID,
	TUI_COL_COMMAND,
	TUI_COL_PY,
	TUI_COL_TIER,
	TUI_COL_RSS,
	TUI_COL_DRSS,
	TUI_COL_GC0,
	TUI_COL_GC1,
	TUI_COL_GC2,
	TUI_COL_GCPCT,
	TUI_COL_MAXPAUSE,
	TUI_COL_P99PAUSE,
	TUI_COL_ALLOC,
	TUI_COL_LIVE,
	TUI_COL_GARBAGE,
	TUI_COL_SUSPECT,
	TUI_COL__COUNT
};
const char *tui_col__name(enum tui_col col); /* "RSS", "GC%" ... (ASCII) */

/* Keys as the pure code sees them: printable characters as themselves, the rest above Unicode. */
enum tui_key {
	TUI_KEY_UP = 0x110001,
	TUI_KEY_DOWN,
	TUI_KEY_LEFT,
	TUI_KEY_RIGHT,
	TUI_KEY_PGUP,
	TUI_KEY_PGDN,
	TUI_KEY_HOME,
	TUI_KEY_END,
	TUI_KEY_ENTER,
	TUI_KEY_ESC,
	TUI_KEY_BACKSPACE,
	TUI_KEY_TAB,
	TUI_KEY_BTAB,
	TUI_KEY_F1,
	TUI_KEY_F6,
	TUI_KEY_F10,
};

enum tui_action {
	TUI_ACT_NONE,	  /* nothing changed */
	TUI_ACT_REDRAW,	  /* state changed: render again */
	TUI_ACT_INTERVAL, /* st->interval_s changed: tell the collector, then redraw */
	TUI_ACT_PAUSE,	  /* st->paused toggled */
	TUI_ACT_QUIT,
};

#define TUI_FILTER_MAX 64
#define TUI_MAX_EXPANDED 64 /* families shown with their members at once */

struct tui_state {
	enum tui_view view, help_return;
	enum tui_tab tab;
	enum tui_col sort_col;
	bool sort_reverse; /* against the column's natural order (numbers high first, text a-z) */
	pid_t sel_pid;	   /* the selection follows the process, not the line */
	int sel_idx, scroll;
	pid_t detail_pid;
	char filter[TUI_FILTER_MAX];
	char filter_edit[TUI_FILTER_MAX];
	bool editing_filter;
	bool paused;
	double interval_s;
	char status[128]; /* one-shot message for the footer (errors from the collector...) */

	/* Process families (model/groups.h) shown with their members, by family id */
	int expanded[TUI_MAX_EXPANDED];
	int nexpanded;

	/* Filled by tui_render() for the next key: the rows as shown, and the layout.  A family's
	 * header line has pid -id; vis_group gives every line's family (0: none). */
	pid_t *vis;
	int *vis_group;
	int nvis, vis_cap;
	int page_rows;
	uint32_t col_shown; /* bit per enum tui_col */

	/* Sites tab: 'v' switches between the allocation profile and the survivors of one type,
	 * '[' ']' pick the type (index into the types with survivor samples, most alive first). */
	bool sites_survivors;
	int surv_type;
};

void tui_state__init(struct tui_state *st, double interval_s);
void tui_state__free(struct tui_state *st);
enum tui_action tui_state__key(struct tui_state *st, int key);
bool tui_state__expanded(const struct tui_state *st, int group_id);
void tui_state__toggle_group(struct tui_state *st, int group_id);
/* The next/previous interval step from `cur` (dir +1 longer, -1 shorter), within 0.1 .. 3600 s. */
double tui_interval__step(double cur, int dir);

/* Draw the whole screen for snap (NULL before the first refresh). 0 or -ENOMEM. */
int tui_render(struct tui_grid *g, const struct snapshot *snap, struct tui_state *st);

/*
 * Drill-in tabs that later features fill: each draws into the box (x, y, w, h) of the grid for
 * one process.  Until the model carries their data they say so ("no data yet").
 */
void tui_render__gc_tab(struct tui_grid *g, const struct snapshot *snap, const struct proc_row *row, int x, int y,
			int w, int h);
void tui_render__types_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h);
void tui_render__containers_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h);
void tui_render__sites_tab(struct tui_grid *g, const struct proc_row *row, const struct tui_state *st, int x, int y,
			   int w, int h);
void tui_render__suspects_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h);
void tui_render__native_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h);
void tui_render__memory_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h);

/* Table cells that later features fill (allocation rate, top leak suspect): "-" until then. */
const char *tui_cell__alloc_per_s(const struct proc_row *row, char *buf, size_t sz);
const char *tui_cell__suspect(const struct proc_row *row, char *buf, size_t sz);

#endif /* PYLEAK_TUI_RENDER_H */
