/* SPDX-License-Identifier: BSD-2-Clause */
/* The cell grid the TUI draws into: clipped, one-column-per-glyph text, glyphs with an ASCII fallback. */
#include "views/tui_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"
#include "util/escape.h"

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

/* Decode one UTF-8 sequence (utf8_decode: no overlongs or surrogates); malformed input yields
 * U+FFFD and advances one byte, so every bad byte is one '?' column. */
static uint32_t utf8_next(const unsigned char **p)
{
	uint32_t cp;
	int n = utf8_decode(*p, &cp);

	if (!n) {
		(*p)++;
		return 0xfffd;
	}
	*p += n;
	return cp;
}

/*
 * Only characters known to take exactly one column get through: the layout counts columns,
 * and a double-width or combining character from a target's command line would shift
 * everything after it.  Control characters never reach the terminal.
 */
static uint32_t safe_char(const struct tui_grid *g, uint32_t cp)
{
	/* C1 controls and the bidi/line-separator code points (esc_is_invisible) never reach the
	 * terminal either: U+202A-U+202E sit inside the punctuation range allowed below. */
	if (cp < 0x20 || cp == 0x7f || esc_is_invisible(cp))
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
		size_t n = esc_utf8_encode(enc, g->cells[(size_t)y * g->w + x].ch);

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

void tui_grid__put_cell(struct tui_grid *g, int x, int y, int w, bool left, uint8_t attr, const char *text)
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

/* ---------------------------------------------------------------------------------------------
 * Glyphs: Unicode where the terminal can, ASCII otherwise.
 */

static const uint32_t spark_utf8[] = { ' ', 0x2581, 0x2582, 0x2583, 0x2584, 0x2585, 0x2586, 0x2587, 0x2588 };
static const uint32_t spark_ascii[] = { ' ', '.', '.', ':', ':', '=', '=', '#', '#' };

uint32_t tui_glyph__spark(const struct tui_grid *g, int level)
{
	level = level < 0 ? 0 : level > 8 ? 8 : level;
	return g->ascii ? spark_ascii[level] : spark_utf8[level];
}

uint32_t tui_glyph__bar(const struct tui_grid *g)
{
	return g->ascii ? '#' : 0x2588;
}

const char *tui_glyph__arrow(const struct tui_grid *g, bool down)
{
	if (g->ascii)
		return down ? "v" : "^";
	return down ? "\u25bc" : "\u25b2";
}
