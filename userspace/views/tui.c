/* SPDX-License-Identifier: BSD-2-Clause */
/* The interactive ncurses view of `pyleak top`: the refresh/key loop and the blit of tui_render's grid. */
#include "views/tui.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include <curses.h>

#include "util/common.h"
#include "views/tui_render.h"

/*
 * One thread, no blocking: getch() is non-blocking (nodelay) and the time between two refreshes
 * is spent in collector__wait() slices of at most TUI_SLICE_MS, which consumes probe events and
 * returns early on Ctrl-C/SIGTERM.  A key therefore waits at most one slice; a refresh of a slow
 * target only ever costs what process_vm_readv costs, which never waits for the target.
 */
#define TUI_SLICE_MS 40

struct tui {
	SCREEN *screen;
	bool color;
	attr_t attrs[TUI_A__COUNT];
	short pairs[TUI_A__COUNT];
	struct tui_grid grid;
	struct tui_state st;
};

static void setup_attrs(struct tui *t)
{
	/* colour: fg, bg, extra attributes; monochrome: attributes only */
	static const struct {
		short fg, bg;
		attr_t color_attr, mono_attr;
	} map[TUI_A__COUNT] = {
		[TUI_A_NORMAL] = { -1, -1, A_NORMAL, A_NORMAL },
		[TUI_A_LABEL] = { COLOR_CYAN, -1, A_BOLD, A_BOLD },
		[TUI_A_TITLE] = { COLOR_BLACK, COLOR_GREEN, A_NORMAL, A_REVERSE },
		[TUI_A_SORTCOL] = { COLOR_BLACK, COLOR_CYAN, A_BOLD, A_REVERSE | A_BOLD | A_UNDERLINE },
		[TUI_A_SELECTED] = { COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE | A_BOLD },
		[TUI_A_DIM] = { -1, -1, A_DIM, A_DIM },
		[TUI_A_WARN] = { COLOR_RED, -1, A_BOLD, A_BOLD },
		[TUI_A_NEW] = { COLOR_GREEN, -1, A_BOLD, A_BOLD },
		[TUI_A_BAR] = { COLOR_CYAN, -1, A_NORMAL, A_NORMAL },
		[TUI_A_KEY] = { COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE },
		[TUI_A_TAB] = { COLOR_BLACK, COLOR_GREEN, A_BOLD, A_REVERSE | A_BOLD },
	};
	int i;

	if (t->color) {
		start_color();
		/* -1 = the terminal's own colours; where that fails init_pair falls back to white/black */
		use_default_colors();
	}
	for (i = 0; i < TUI_A__COUNT; i++) {
		t->pairs[i] = 0;
		t->attrs[i] = map[i].mono_attr;
		if (t->color && (map[i].fg != -1 || map[i].bg != -1) && i < COLOR_PAIRS) {
			short fg = map[i].fg, bg = map[i].bg;

			if (init_pair((short)i, fg, bg) == ERR && init_pair((short)i, fg < 0 ? COLOR_WHITE : fg,
									bg < 0 ? COLOR_BLACK : bg) == ERR)
				continue;
			t->pairs[i] = (short)i;
			t->attrs[i] = map[i].color_attr;
		} else if (t->color) {
			t->attrs[i] = map[i].color_attr;
		}
	}
}

static int map_key(int ch)
{
	switch (ch) {
	case KEY_UP: return TUI_KEY_UP;
	case KEY_DOWN: return TUI_KEY_DOWN;
	case KEY_LEFT: return TUI_KEY_LEFT;
	case KEY_RIGHT: return TUI_KEY_RIGHT;
	case KEY_PPAGE: return TUI_KEY_PGUP;
	case KEY_NPAGE: return TUI_KEY_PGDN;
	case KEY_HOME: return TUI_KEY_HOME;
	case KEY_END: return TUI_KEY_END;
	case KEY_ENTER:
	case '\n':
	case '\r': return TUI_KEY_ENTER;
	case 27: return TUI_KEY_ESC;
	case KEY_BACKSPACE:
	case 127:
	case 8: return TUI_KEY_BACKSPACE;
	case '\t': return TUI_KEY_TAB;
	case KEY_BTAB: return TUI_KEY_BTAB;
	case KEY_F(1): return TUI_KEY_F1;
	case KEY_F(6): return TUI_KEY_F6;
	case KEY_F(10): return TUI_KEY_F10;
	default: return ch >= 0x20 && ch < 0x7f ? ch : -1;
	}
}

/* Copy the grid to the screen; the bottom-right cell is never written (it would scroll). */
static void blit(struct tui *t)
{
	const struct tui_grid *g = &t->grid;
	int rows, colsn, y, x;

	getmaxyx(stdscr, rows, colsn);
	for (y = 0; y < g->h && y < rows; y++) {
		for (x = 0; x < g->w && x < colsn; x++) {
			const struct tui_cell *c = &g->cells[(size_t)y * g->w + x];
			wchar_t wc[2] = { (wchar_t)c->ch, 0 };
			uint8_t a = c->attr < TUI_A__COUNT ? c->attr : TUI_A_NORMAL;
			cchar_t cc;

			if (y == rows - 1 && x == colsn - 1)
				continue;
			if (setcchar(&cc, wc, t->attrs[a], t->pairs[a], NULL) == ERR)
				continue;
			mvadd_wch(y, x, &cc);
		}
	}
	refresh();
}

static int resize_grid(struct tui *t)
{
	int rows, colsn;

	getmaxyx(stdscr, rows, colsn);
	return tui_grid__init(&t->grid, MAX(colsn, 1), MAX(rows, 1), t->grid.ascii);
}

static int screen_open(struct tui *t, const struct tui_opts *opts)
{
	const char *cs;

	/* ncursesw writes UTF-8 only under a UTF-8 locale; main() leaves the C locale in place. */
	if (!setlocale(LC_CTYPE, ""))
		setlocale(LC_CTYPE, "C.UTF-8");
	cs = nl_langinfo(CODESET);
	t->grid.ascii = !cs || strcmp(cs, "UTF-8") != 0;
	/* newterm, not initscr: initscr exits the process on a bad terminal, newterm returns NULL */
	t->screen = newterm(NULL, stdout, stdin);
	if (!t->screen) {
		pr_err("cannot start the interactive view on terminal '%s': use 'pyleak top -b'",
		       getenv("TERM") ? getenv("TERM") : "(unset)");
		return -ENOTTY;
	}
	set_term(t->screen);
	cbreak(); /* not raw(): Ctrl-C must reach main.c's handler, which sets `exiting` */
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25); /* Esc alone must not wait a second for a function-key sequence */
	curs_set(0);
	t->color = !opts->no_color && has_colors() && !getenv("NO_COLOR");
	setup_attrs(t);
	return resize_grid(t);
}

static void screen_close(struct tui *t)
{
	if (!t->screen)
		return;
	curs_set(1);
	endwin();
	delscreen(t->screen);
	t->screen = NULL;
	fflush(stdout);
}

int tui__run(const struct snapshot_source *src, const struct tui_opts *opts)
{
	struct tui t;
	struct snapshot snap;
	bool have_snap = false, dirty = true;
	uint64_t next_refresh = 0, now;
	long refreshes = 0;
	int err, ch;

	memset(&t, 0, sizeof(t));
	memset(&snap, 0, sizeof(snap));
	tui_state__init(&t.st, opts->interval_s);
	err = screen_open(&t, opts);
	if (err)
		goto cleanup;

	while (!exiting) {
		now = now_mono_ns();
		if (!have_snap || (!t.st.paused && now >= next_refresh)) {
			err = src->next_snapshot(src->ctx, &snap);
			if (err)
				snprintf(t.st.status, sizeof(t.st.status), "pyleak: refresh failed: %s", strerror(-err));
			have_snap = true;
			refreshes++;
			next_refresh = now_mono_ns() + (uint64_t)(t.st.interval_s * 1e9);
			dirty = true;
		}
		if (dirty) {
			err = tui_render(&t.grid, have_snap ? &snap : NULL, &t.st);
			if (err)
				goto cleanup;
			blit(&t);
			dirty = false;
		}
		if (opts->iterations && refreshes >= opts->iterations)
			break;
		while ((ch = getch()) != ERR) {
			enum tui_action act;
			int key;

			if (ch == KEY_RESIZE) {
				err = resize_grid(&t);
				if (err)
					goto cleanup;
				clear();
				dirty = true;
				continue;
			}
			key = map_key(ch);
			if (key < 0)
				continue;
			act = tui_state__key(&t.st, key);
			if (act == TUI_ACT_QUIT)
				goto done;
			if (act == TUI_ACT_INTERVAL) {
				src->set_interval(src->ctx, t.st.interval_s);
				next_refresh = now_mono_ns() + (uint64_t)(t.st.interval_s * 1e9);
			}
			if (act == TUI_ACT_PAUSE && !t.st.paused)
				next_refresh = 0; /* resume: show the present at once */
			if (act != TUI_ACT_NONE)
				dirty = true;
		}
		if (dirty)
			continue;
		now = now_mono_ns();
		if (!t.st.paused && next_refresh > now)
			src->wait(src->ctx, MIN((long)((next_refresh - now) / 1000000ull) + 1, TUI_SLICE_MS));
		else if (t.st.paused)
			src->wait(src->ctx, TUI_SLICE_MS); /* keep draining probe events while frozen */
	}
done:
	err = 0;
cleanup:
	screen_close(&t);
	tui_grid__free(&t.grid);
	tui_state__free(&t.st);
	return err;
}
