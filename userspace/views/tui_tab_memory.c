/* SPDX-License-Identifier: BSD-2-Clause */
/* The Memory tab: RSS split into its parts, the pymalloc arenas' own accounting, Python objects' bytes. */
#include "views/tui_internal.h"

#include <stdio.h>
#include <string.h>

#include "util/common.h"
#include "util/format.h"

/* One part of RSS: name, size, a bar of its share, its trend. */
static void part_line(struct tui_grid *g, int x, int y, int w, const char *name, uint64_t bytes, uint64_t rss,
		      double per_min, bool has_trend)
{
	char b[16], rate[40];
	int barw = MAX(0, MIN(30, w - 60)), fill = rss ? (int)((double)bytes / rss * barw + 0.5) : 0, i;

	fmt_bytes(b, sizeof(b), (double)bytes);
	if (has_trend && per_min != 0)
		tui_fmt__per_min(rate, sizeof(rate), per_min, true);
	else
		rate[0] = 0;
	tui_grid__printf(g, x + 3, y, w - 3, TUI_A_NORMAL, "%-34.34s %7s", name, b);
	for (i = 0; i < fill && i < barw; i++)
		tui_grid__put(g, x + 47 + i, y, tui_glyph__bar(g), TUI_A_TITLE);
	if (rate[0] && w > 48 + barw)
		tui_grid__printf(g, x + 48 + barw, y, w - 48 - barw, TUI_A_NORMAL, "%s", rate);
}

void tui_render__memory_tab(struct tui_grid *g, const struct proc_row *row, int x, int y, int w, int h)
{
	const struct memory_row *m = &row->memory;
	char a[16], b[16], c[16], rate[40];
	int line = y;

	if (h <= 0)
		return;
	if (!m->valid) {
		tui_tab__no_data(g, x, y, w, "Memory", "RSS by part appears after the first census that scans the arenas");
		return;
	}
	fmt_bytes(a, sizeof(a), (double)m->rss);
	tui_fmt__per_min(rate, sizeof(rate), m->rss_per_min, true);
	tui_grid__printf(g, x + 1, line++, w - 1, TUI_A_TITLE, "RSS %s (smaps), %s", a, rate);
	if (line < y + h)
		part_line(g, x, line++, w, "pymalloc arenas", m->arenas, m->rss, m->arenas_per_min, true);
	if (line < y + h)
		part_line(g, x, line++, w, "malloc heap ([heap])", m->heap, m->rss, 0, false);
	if (line < y + h)
		part_line(g, x, line++, w, "other anonymous (> 512 B, native)", m->anon, m->rss, m->malloc_per_min, true);
	if (line < y + h) {
		char name[48];

		snprintf(name, sizeof(name), "stacks (%d thread%s)", m->thread_stacks + 1, m->thread_stacks ? "s" : "");
		part_line(g, x, line++, w, name, m->stacks, m->rss, m->stacks_per_min, true);
	}
	if (line < y + h)
		part_line(g, x, line++, w, "file-backed", m->file, m->rss, m->file_per_min, true);
	if (line < y + h)
		part_line(g, x, line++, w, "other ([vdso], guards)", m->other, m->rss, 0, false);
	if (line < y + h) {
		fmt_bytes(a, sizeof(a), (double)m->shared);
		fmt_bytes(b, sizeof(b), (double)m->swap);
		tui_grid__printf(g, x + 3, line++, w - 3, TUI_A_DIM, "of which shared with other processes %s; swapped out %s",
				 a, b);
	}
	line++;
	if (line >= y + h)
		return;
	if (!strcmp(m->arena_source, "none")) {
		tui_grid__printf(g, x + 1, line++, w - 1, TUI_A_WARN, "pymalloc arenas not found: %s", m->arena_why);
		return;
	}
	fmt_bytes(a, sizeof(a), (double)m->arena_bytes);
	tui_grid__printf(g, x + 1, line++, w - 1, TUI_A_NORMAL, "pymalloc: %lld arenas, %s (%s)", (long long)m->narenas, a,
			 m->arena_source[0] == 't' ? "the interpreter's arena table: exact"
						   : "found by scanning anonymous memory: heuristic");
	if (m->arena_source[0] == 's' && line < y + h)
		tui_grid__printf(g, x + 3, line++, w - 3, TUI_A_DIM, "%.1f%% of the used pools have free lists that add up",
				 100 * m->arena_confidence);
	if (line < y + h) {
		fmt_bytes(a, sizeof(a), (double)m->block_bytes_used);
		fmt_bytes(b, sizeof(b), (double)m->block_bytes_free);
		fmt_bytes(c, sizeof(c), (double)m->unused_pool_bytes);
		tui_grid__printf(g, x + 3, line++, w - 3, TUI_A_NORMAL,
				 "blocks in use %lld (%s), free in used pools %lld (%s), unused pools %s", (long long)m->blocks_used,
				 a, (long long)m->blocks_free, b, c);
	}
	if (line < y + h && m->arena_bytes > 0) {
		double use = (double)m->block_bytes_used / m->arena_bytes;

		tui_grid__printf(g, x + 3, line++, w - 3, use < 0.5 ? TUI_A_WARN : TUI_A_DIM,
				 "arena use %.0f%%%s", 100 * use,
				 use < 0.5 ? ": fragmented (arenas kept by a few live blocks each), not a leak by itself" : "");
	}
	if (line < y + h) {
		fmt_bytes(a, sizeof(a), (double)m->tracked_bytes);
		fmt_bytes(b, sizeof(b), (double)m->untracked_bytes);
		tui_fmt__per_min(rate, sizeof(rate), m->objects_per_min, true);
		tui_grid__printf(g, x + 1, line++, w - 1, TUI_A_NORMAL,
				 "Python objects (shallow): tracked %s, untracked %s (%lld objects), %s", a, b,
				 (long long)m->untracked_objects, rate);
	}
}
