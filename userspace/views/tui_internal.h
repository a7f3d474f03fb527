/* SPDX-License-Identifier: BSD-2-Clause */
/* What the files of the TUI renderer share with each other, and nobody else uses. */
#ifndef PYLEAK_TUI_INTERNAL_H
#define PYLEAK_TUI_INTERNAL_H

/*
 * The renderer is one file per screen region: tui_render.c (state, keys, header, footer and
 * the dispatch), tui_table.c (the process list), tui_detail.c (the drill-in frame and tab bar),
 * tui_tab_<name>.c (one per tab), tui_help.c, and tui_grid.c under all of them.  tui.c and the
 * tests see only tui_render.h.
 */

#include "views/tui_render.h"

/* tui_grid.c: glyphs, Unicode where the terminal can, ASCII otherwise. */
uint32_t tui_glyph__spark(const struct tui_grid *g, int level); /* level 0 (blank) .. 8 (full) */
uint32_t tui_glyph__bar(const struct tui_grid *g);
const char *tui_glyph__arrow(const struct tui_grid *g, bool down);
/* Text in a cell of w columns, left- or right-aligned. */
void tui_grid__put_cell(struct tui_grid *g, int x, int y, int w, bool left, uint8_t attr, const char *text);

/* tui_table.c: the cell formats the tabs share with the table, and the list view. */
const char *tui_fmt__per_min(char *buf, size_t sz, double v, bool bytes);
const char *tui_fmt__rate(char *buf, size_t sz, double v);
const char *tui_row__command(const struct proc_row *r);
/* The list from line y0 down to the footer; fills st->vis, page_rows and col_shown. 0 or -ENOMEM. */
int tui_table__render(struct tui_grid *g, const struct snapshot *snap, struct tui_state *st, int y0);

/* tui_detail.c: the drill-in view of st->detail_pid, and helpers of the tabs it draws. */
int tui_detail__render(struct tui_grid *g, const struct snapshot *snap, struct tui_state *st, int y0);
void tui_tab__no_data(struct tui_grid *g, int x, int y, int w, const char *what, const char *why);
bool tui_tab__is_suspect(const struct proc_row *row, enum suspect_kind kind, const char *name);
void tui_tab__census_line(struct tui_grid *g, const struct proc_row *row, int x, int y, int w);

/* tui_groups.c: process families (model/groups.h). */
struct group_row;
/* The header line's figures as a row (the table draws and sorts it like a process). */
void tui_groups__header_row(const struct snapshot *snap, const struct group_row *g, struct proc_row *out);
const char *tui_groups__header_text(const struct group_row *g, bool expanded, bool ascii, char *buf, size_t sz);
const char *tui_groups__suspect_text(const struct group_row *g, char *buf, size_t sz);
/* The family lines of a member's drill-in from line y (below maxy); returns the lines used. */
int tui_groups__detail_lines(struct tui_grid *g, const struct snapshot *snap, const struct proc_row *r, int y, int maxy);

/* tui_help.c */
void tui_help__render(struct tui_grid *g, int y0);

#endif /* PYLEAK_TUI_INTERNAL_H */
