/* SPDX-License-Identifier: BSD-2-Clause */
/* The `pyleak top` screen rendered from hand-built snapshots into a grid, at several sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "probes/gc.h"
#include "views/tui_render.h"
#include "model/groups.h"

#define NROWS_MAX 64

struct fixture {
	struct snapshot snap;
	struct proc_row *rows[NROWS_MAX];
	struct tui_state st;
	struct tui_grid g;
	char line[8192];
};

static struct proc_row *add_row(struct fixture *f, int pid, const char *comm, const char *cmdline, const char *ver,
				enum gc_tier tier, uint64_t rss)
{
	struct proc_row *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->target.pid = pid;
	r->target.ns_pid = pid;
	snprintf(r->target.comm, sizeof(r->target.comm), "%s", comm);
	snprintf(r->target.cmdline, sizeof(r->target.cmdline), "%s", cmdline);
	snprintf(r->target.version, sizeof(r->target.version), "%s", ver);
	sscanf(ver, "%d.%d.%d", &r->target.major, &r->target.minor, &r->target.micro);
	r->target.tier = tier;
	r->gc_valid = true;
	r->gc_ready = true;
	r->enabled = 1;
	r->rss = rss;
	r->garbage = 0;
	r->live_objects = -1;
	r->first_seen = 1000.0;
	r->thresholds[0] = 700;
	r->thresholds[1] = 10;
	r->thresholds[2] = 10;
	f->rows[f->snap.nrows++] = r;
	f->snap.tiers |= 1u << tier;
	return r;
}

/* Record a history of n refreshes with gen0 collections growing by step0 per refresh. */
static void add_history(struct proc_row *r, int n, int step0, int every2)
{
	for (int i = 0; i < n; i++) {
		struct proc_sample s = { .time = 1000.0 + i, .rss = r->rss, .live_objects = -1 };

		s.collections[0] = (int64_t)i * step0;
		s.collections[1] = i / 3;
		s.collections[2] = every2 ? i / every2 : 0;
		proc_row__push_sample(r, &s);
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct proc_row *r;

	assert_non_null(f);
	f->snap.time = 1100.0;
	f->snap.interval_s = 1.0;
	snprintf(f->snap.host, sizeof(f->snap.host), "testhost");
	f->snap.dropped_events = 7;
	f->snap.self_cpu_pct = 1.5;
	f->snap.rows = f->rows;

	/* the busy web worker: biggest RSS, exact counters and pauses */
	r = add_row(f, 4242, "python3.11", "/usr/bin/python3.11 /srv/web.py --workers 4", "3.11.2", GC_TIER_USDT,
		    300ull << 20);
	r->collections[0] = 12345;
	r->collections[1] = 1122;
	r->collections[2] = 101;
	r->collected[0] = 678901;
	r->collected[1] = 23456;
	r->collected[2] = 3456;
	r->uncollectable[2] = 3;
	r->counts[0] = 123;
	r->counts[1] = 4;
	r->counts[2] = 5;
	r->gc_per_s[0] = 12.5;
	r->gc_per_s[1] = 1.2;
	r->gc_per_s[2] = 0.1;
	r->gc_time_pct = 2.5;
	r->garbage = 1234;
	r->rss_per_min = 1.5 * 1048576;
	r->pause[0] = (struct pause_summary){ .count = 500, .sum_us = 50000, .max_us = 900, .p50_us = 80, .p99_us = 400 };
	r->pause[2] = (struct pause_summary){ .count = 10, .sum_us = 120000, .max_us = 31000, .p50_us = 11000,
					      .p99_us = 30000 };
	r->pause_hist[0][pause_hist__slot(80)] = 400;
	r->pause_hist[0][pause_hist__slot(400)] = 100;
	r->pause_hist[2][pause_hist__slot(11000)] = 10;
	add_history(r, 30, 12, 10);

	/* a stripped interpreter: poll tier, estimated pauses */
	r = add_row(f, 777, "worker", "/opt/py/bin/python3 -m celery worker", "3.12.1", GC_TIER_POLL, 80ull << 20);
	r->gc_per_s[0] = 40;
	r->pauses_estimated = true;
	r->pause[0] = (struct pause_summary){ .count = 3, .sum_us = 300, .max_us = 100, .estimated = true };
	r->garbage = 5;
	r->live_objects = 98765;
	add_history(r, 3, 2, 0);

	/* an idle script */
	r = add_row(f, 31337, "python3.9", "python3.9 batch.py", "3.9.18", GC_TIER_UPROBE, 20ull << 20);
	r->gc_per_s[0] = 0.5;
	r->garbage = 99;

	tui_state__init(&f->st, 1.0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < f->snap.nrows; i++)
		free(f->rows[i]);
	tui_state__free(&f->st);
	tui_grid__free(&f->g);
	free(f);
	return 0;
}

static void render(struct fixture *f, int w, int h)
{
	if (f->g.w != w || f->g.h != h)
		assert_int_equal(tui_grid__init(&f->g, w, h, false), 0);
	assert_int_equal(tui_render(&f->g, &f->snap, &f->st), 0);
	if (getenv("TUI_DUMP")) /* TUI_DUMP=1 .output/tests/test_tui shows every screen */
		for (int y = 0; y < h; y++)
			fprintf(stderr, "|%s\n", tui_grid__line(&f->g, y, f->line, sizeof(f->line)));
	/* the bottom-right cell is never written: curses would scroll the screen */
	assert_int_equal(f->g.cells[(size_t)h * w - 1].ch, ' ');
}

static const char *line(struct fixture *f, int y)
{
	return tui_grid__line(&f->g, y, f->line, sizeof(f->line));
}

/* The line showing pid as the first column of the table, or -1. */
static int pid_line(struct fixture *f, int pid)
{
	char want[16];

	snprintf(want, sizeof(want), "%7d ", pid);
	for (int y = 0; y < f->g.h; y++)
		if (!strncmp(line(f, y), want, strlen(want)))
			return y;
	return -1;
}

/* Whitespace-separated field i of a line (0-based), copied. */
static const char *field(const char *s, int i, char *out, size_t sz)
{
	int n = 0;

	out[0] = '\0';
	while (*s) {
		size_t len;

		while (*s == ' ')
			s++;
		len = strcspn(s, " ");
		if (!len)
			break;
		if (n++ == i) {
			snprintf(out, sz, "%.*s", (int)len, s);
			return out;
		}
		s += len;
	}
	return out;
}

static void test_header(void **state)
{
	struct fixture *f = *state;

	render(f, 80, 24);
	assert_non_null(strstr(line(f, 0), "pyleak top"));
	assert_non_null(strstr(line(f, 0), "testhost"));
	assert_non_null(strstr(line(f, 0), "3 python processes"));
	assert_non_null(strstr(line(f, 0), "every 1s"));
	assert_null(strstr(line(f, 0), "PAUSED"));
	assert_non_null(strstr(line(f, 1), "usdt:1"));
	assert_non_null(strstr(line(f, 1), "uprobe:1"));
	assert_non_null(strstr(line(f, 1), "poll:1"));
	assert_non_null(strstr(line(f, 1), "dropped 7"));
	assert_non_null(strstr(line(f, 1), "pyleak cpu 1.5%"));
	assert_non_null(strstr(line(f, 23), "Quit"));
}

static void test_row_numbers_80(void **state)
{
	struct fixture *f = *state;
	char fld[64];
	int y;

	render(f, 80, 24);
	y = tui_grid__find(&f->g, "COMMAND");
	assert_true(y >= 0);
	/* 80 columns: the essentials, not the extras */
	assert_non_null(strstr(line(f, y), "GARBAGE"));
	assert_non_null(strstr(line(f, y), "MAXP"));
	assert_non_null(strstr(line(f, y), "\u0394RSS/m"));
	assert_null(strstr(line(f, y), "SUSPECT"));
	assert_null(strstr(line(f, y), "ALLOC/s"));
	y = pid_line(f, 4242);
	assert_true(y >= 0);
	assert_int_equal((int)strlen(line(f, y)) <= 80 * 3, 1);
	assert_string_equal(field(line(f, y), 2, fld, sizeof(fld)), "3.11.2");
	assert_string_equal(field(line(f, y), 3, fld, sizeof(fld)), "300M");
	assert_string_equal(field(line(f, y), 4, fld, sizeof(fld)), "+1.5M");
	assert_string_equal(field(line(f, y), 5, fld, sizeof(fld)), "12"); /* 12.5/s: >= 10 shown whole */
	assert_string_equal(field(line(f, y), 6, fld, sizeof(fld)), "1.2");
	assert_string_equal(field(line(f, y), 7, fld, sizeof(fld)), "0.1");
	assert_string_equal(field(line(f, y), 8, fld, sizeof(fld)), "2.5");
	assert_string_equal(field(line(f, y), 9, fld, sizeof(fld)), "31.0ms");
	assert_string_equal(field(line(f, y), 10, fld, sizeof(fld)), "1234");
	/* poll tier: estimated pauses say so, and the GC share carries a ~ */
	y = pid_line(f, 777);
	assert_non_null(strstr(line(f, y), "est."));
	assert_non_null(strstr(line(f, y), "~0.0"));
	/* never-timed process: '-' for pauses, ΔRSS unknown with < 2 samples */
	y = pid_line(f, 31337);
	assert_string_equal(field(line(f, y), 9, fld, sizeof(fld)), "-");
	assert_string_equal(field(line(f, y), 4, fld, sizeof(fld)), "-");
}

static void test_wide_200(void **state)
{
	struct fixture *f = *state;
	char fld[64];
	int y;

	render(f, 200, 50);
	y = tui_grid__find(&f->g, "COMMAND");
	for (int c = 0; c < TUI_COL__COUNT; c++)
		if (c != TUI_COL_DRSS)
			assert_non_null(strstr(line(f, y), tui_col__name((enum tui_col)c)));
	/* full command line, the live objects (or '-'), ALLOC/s and SUSPECT are '-' until the model has them */
	y = pid_line(f, 4242);
	assert_non_null(strstr(line(f, y), " python3.11 web.py --workers 4 ")); /* basenames of exe and script */
	assert_null(strstr(line(f, y), "/usr/bin"));
	/* fields 1-4 are the command's words */
	assert_string_equal(field(line(f, y), 5, fld, sizeof(fld)), "3.11.2");
	assert_string_equal(field(line(f, y), 6, fld, sizeof(fld)), "usdt");
	assert_string_equal(field(line(f, y), 13, fld, sizeof(fld)), "31.0ms"); /* MAXP */
	assert_string_equal(field(line(f, y), 14, fld, sizeof(fld)), "30.0ms"); /* P99P */
	assert_string_equal(field(line(f, y), 15, fld, sizeof(fld)), "-");	  /* ALLOC/s */
	assert_string_equal(field(line(f, y), 16, fld, sizeof(fld)), "-");	  /* LIVE */
	assert_string_equal(field(line(f, y), 17, fld, sizeof(fld)), "1234");   /* GARBAGE */
	assert_string_equal(field(line(f, y), 18, fld, sizeof(fld)), "-");	  /* SUSPECT */
	/* "python3 -m celery": nothing to shorten after the interpreter */
	assert_non_null(strstr(line(f, pid_line(f, 777)), " python3 -m celery worker "));
	y = pid_line(f, 777);
	assert_non_null(strstr(line(f, y), "98765"));
	assert_non_null(strstr(line(f, y), "poll"));
}

static void test_sort_order(void **state)
{
	struct fixture *f = *state;

	/* default: RSS, biggest first */
	render(f, 80, 24);
	assert_true(pid_line(f, 4242) < pid_line(f, 777));
	assert_true(pid_line(f, 777) < pid_line(f, 31337));
	assert_non_null(strstr(line(f, 2), "sort RSS"));
	/* F6 / '>' step to the next shown column: dRSS/m */
	assert_int_equal(tui_state__key(&f->st, TUI_KEY_F6), TUI_ACT_REDRAW);
	assert_int_equal(f->st.sort_col, TUI_COL_DRSS);
	render(f, 80, 24);
	assert_non_null(strstr(line(f, 2), "sort dRSS/m"));
	assert_true(pid_line(f, 4242) < pid_line(f, 777)); /* +1.5M first; unknowns last */
	assert_true(pid_line(f, 777) < pid_line(f, 31337));
	/* '<' twice: back over RSS to PY (TIER is hidden at 80 columns) */
	tui_state__key(&f->st, '<');
	tui_state__key(&f->st, '<');
	assert_int_equal(f->st.sort_col, TUI_COL_PY);
	/* garbage, high first, then reversed */
	f->st.sort_col = TUI_COL_GARBAGE;
	render(f, 80, 24);
	assert_true(pid_line(f, 4242) < pid_line(f, 31337));
	assert_true(pid_line(f, 31337) < pid_line(f, 777));
	tui_state__key(&f->st, 'I');
	render(f, 80, 24);
	assert_true(pid_line(f, 777) < pid_line(f, 31337));
	assert_true(pid_line(f, 31337) < pid_line(f, 4242));
	assert_non_null(strstr(line(f, 2), "reversed"));
	/* pids ascending */
	f->st.sort_col = TUI_COL_PID;
	f->st.sort_reverse = false;
	render(f, 80, 24);
	assert_true(pid_line(f, 777) < pid_line(f, 4242));
	assert_true(pid_line(f, 4242) < pid_line(f, 31337));
}

static void test_filter(void **state)
{
	struct fixture *f = *state;

	render(f, 80, 24);
	assert_int_equal(tui_state__key(&f->st, '/'), TUI_ACT_REDRAW);
	assert_true(f->st.editing_filter);
	tui_state__key(&f->st, 'C');
	tui_state__key(&f->st, 'e');
	tui_state__key(&f->st, 'l');
	render(f, 80, 24);
	/* live while typing; keys are text now ('q' does not quit) */
	assert_non_null(strstr(line(f, 23), "Filter: Cel_"));
	assert_int_equal(pid_line(f, 4242), -1);
	assert_true(pid_line(f, 777) >= 0);
	assert_int_equal(tui_state__key(&f->st, 'q'), TUI_ACT_REDRAW);
	tui_state__key(&f->st, TUI_KEY_BACKSPACE);
	tui_state__key(&f->st, TUI_KEY_ENTER);
	assert_false(f->st.editing_filter);
	assert_string_equal(f->st.filter, "Cel");
	render(f, 80, 24);
	assert_non_null(strstr(line(f, 2), "filter 'Cel' 1/3"));
	assert_int_equal(pid_line(f, 31337), -1);
	/* by pid */
	tui_state__key(&f->st, '/');
	for (int i = 0; i < 3; i++)
		tui_state__key(&f->st, TUI_KEY_BACKSPACE);
	tui_state__key(&f->st, '3');
	tui_state__key(&f->st, '1');
	tui_state__key(&f->st, '3');
	tui_state__key(&f->st, TUI_KEY_ENTER);
	render(f, 80, 24);
	assert_true(pid_line(f, 31337) >= 0);
	assert_int_equal(pid_line(f, 777), -1);
	assert_int_equal(pid_line(f, 4242), -1);
	/* nothing matches */
	snprintf(f->st.filter, sizeof(f->st.filter), "nomatch");
	render(f, 80, 24);
	assert_true(tui_grid__find(&f->g, "no process matches 'nomatch'") >= 0);
	/* Esc in the list clears the filter */
	tui_state__key(&f->st, TUI_KEY_ESC);
	render(f, 80, 24);
	assert_true(pid_line(f, 777) >= 0 && pid_line(f, 4242) >= 0 && pid_line(f, 31337) >= 0);
}

static void test_drill_in(void **state)
{
	struct fixture *f = *state;
	char buf[256];
	int y;

	render(f, 80, 24);
	assert_int_equal(f->st.sel_pid, 4242); /* first line selected */
	assert_int_equal(tui_state__key(&f->st, TUI_KEY_ENTER), TUI_ACT_REDRAW);
	assert_int_equal(f->st.view, TUI_VIEW_DETAIL);
	render(f, 80, 24);
	assert_true(tui_grid__find(&f->g, "PID 4242") >= 0);
	assert_true(tui_grid__find(&f->g, "Python 3.11.2") >= 0);
	assert_true(tui_grid__find(&f->g, "1 GC") >= 0);
	assert_true(tui_grid__find(&f->g, "5 Suspects") >= 0);
	/* exact cumulative counters per generation, as in gc.get_stats() */
	y = tui_grid__find(&f->g, "COLLECTIONS");
	assert_true(y >= 0);
	snprintf(buf, sizeof(buf), "%s", line(f, y + 1));
	assert_non_null(strstr(buf, "gen0        12345       678901             0       700     123"));
	assert_non_null(strstr(line(f, y + 3), "gen2          101         3456             3        10       5"));
	/* pauses: count sum max p50 p99 (stacked below at 80 columns) */
	y = tui_grid__find(&f->g, "PAUSES");
	assert_true(y >= 0);
	assert_non_null(strstr(line(f, y + 1), "gen0       500   50.0ms    900us     80us    400us"));
	assert_non_null(strstr(line(f, y + 2), "gen1         0        -"));
	assert_non_null(strstr(line(f, y + 3), "gen2        10  120.0ms   31.0ms   11.0ms   30.0ms"));
	assert_true(tui_grid__find(&f->g, "garbage 1234") >= 0);
	/* timeline: 12 gen0 collections each refresh; gen2 one every 10 refreshes */
	y = tui_grid__find(&f->g, "GC timeline");
	assert_true(y >= 0);
	assert_non_null(strstr(line(f, y + 1), "gen0 last   12 max   12"));
	assert_non_null(strstr(line(f, y + 1), "\u2588\u2588\u2588"));
	assert_non_null(strstr(line(f, y + 3), "gen2 last    0 max    1"));
	/* 24 lines: histograms as one strip per generation, a cell pair per power of two from 64us */
	y = tui_grid__find(&f->g, "Pause histograms 64us .. 16.4ms");
	assert_true(y >= 0);
	assert_string_equal(line(f, y + 1), "gen0 \u2588\u2588\u00b7\u00b7\u2582\u2582\u00b7\u00b7\u00b7\u00b7\u00b7\u00b7"
					     "\u00b7\u00b7\u00b7\u00b7 500");
	assert_non_null(strstr(line(f, y + 3), "\u00b7\u2588\u2588 10"));
	/* tabs others fill: "no data yet" for now */
	tui_state__key(&f->st, TUI_KEY_RIGHT);
	render(f, 80, 24);
	assert_true(tui_grid__find(&f->g, "Types: no data yet") >= 0);
	tui_state__key(&f->st, '5');
	render(f, 80, 24);
	assert_true(tui_grid__find(&f->g, "Suspects: no data yet") >= 0);
	tui_state__key(&f->st, TUI_KEY_TAB);
	assert_int_equal(f->st.tab, TUI_TAB_NATIVE);
	render(f, 80, 24);
	assert_true(tui_grid__find(&f->g, "Native: no data yet") >= 0);
	tui_state__key(&f->st, TUI_KEY_TAB);
	assert_int_equal(f->st.tab, TUI_TAB_MEMORY);
	tui_state__key(&f->st, TUI_KEY_TAB);
	assert_int_equal(f->st.tab, TUI_TAB_GC);
	/* Down flips to the next process of the list without leaving */
	tui_state__key(&f->st, TUI_KEY_DOWN);
	render(f, 80, 24);
	assert_true(tui_grid__find(&f->g, "PID 777") >= 0);
	assert_true(tui_grid__find(&f->g, "poll tier: pauses estimated") >= 0);
	/* Esc / Backspace back */
	assert_int_equal(tui_state__key(&f->st, TUI_KEY_ESC), TUI_ACT_REDRAW);
	assert_int_equal(f->st.view, TUI_VIEW_LIST);
	tui_state__key(&f->st, TUI_KEY_ENTER);
	tui_state__key(&f->st, TUI_KEY_BACKSPACE);
	assert_int_equal(f->st.view, TUI_VIEW_LIST);
	/* a process that went away while drilled in */
	f->st.view = TUI_VIEW_DETAIL;
	f->st.detail_pid = 99999;
	render(f, 80, 24);
	assert_true(tui_grid__find(&f->g, "process 99999 is gone") >= 0);
}

static void test_sites_tab(void **state)
{
	struct fixture *f = *state;
	static struct site_code leaf = { .addr = 1, .file = "/srv/app.py", .func = "make_widget", .ok = true };
	static struct site_code mid = { .addr = 2, .file = "/srv/app.py", .func = "handle", .ok = true };
	static struct site_code top = { .addr = 3, .file = "/srv/app.py", .func = "<module>", .ok = true };
	static struct site_stack stacks[2];
	struct proc_row *r;
	int y;

	render(f, 200, 30);
	tui_state__key(&f->st, TUI_KEY_ENTER);
	r = f->snap.rows[0];
	/* no samples yet: says so */
	tui_state__key(&f->st, '4');
	render(f, 200, 30);
	assert_true(tui_grid__find(&f->g, "Sites") >= 0);
	/* two stacks, 75% / 25%, leaf first then callers, the deep one truncated */
	memset(stacks, 0, sizeof(stacks));
	stacks[0].count = 30;
	stacks[0].nframes = 3;
	stacks[0].frames[0] = (struct site_frame){ .code = &leaf, .line = 41 };
	stacks[0].frames[1] = (struct site_frame){ .code = &mid, .line = 12 };
	stacks[0].frames[2] = (struct site_frame){ .code = &top, .line = 3 };
	stacks[1].count = 10;
	stacks[1].nframes = 1;
	stacks[1].truncated = true;
	stacks[1].frames[0] = (struct site_frame){ .code = &mid, .line = 13 };
	r->sites_valid = true;
	r->sites.stacks = stacks;
	r->sites.nstacks = 2;
	r->sites.total = 40;
	r->sites.counters.walk_errors = 2;
	render(f, 200, 30);
	assert_true(tui_grid__find(&f->g, "Sites (allocations; v: survivors): 40 samples, 2 walk errors (discarded)") >= 0);
	y = tui_grid__find(&f->g, "/srv/app.py:41 make_widget");
	assert_true(y >= 0);
	assert_non_null(strstr(line(f, y), " 75.0%     30  /srv/app.py:41 make_widget < /srv/app.py:12 handle < /srv/app.py:3 <module>"));
	y = tui_grid__find(&f->g, "/srv/app.py:13 handle");
	assert_non_null(strstr(line(f, y), " 25.0%     10  /srv/app.py:13 handle < [truncated]"));

	/* 'v': the survivors of one type; the leaking stack (the second one here) on top */
	{
		struct survivors sv;
		struct surv_sample smp[5];
		uint64_t addrs[5], types[5];
		int8_t gens[5];
		int k;

		assert_int_equal(survivors__init(&sv), 0);
		stacks[0].stack_id = 0x111;
		stacks[1].stack_id = 0x222;
		for (k = 0; k < 5; k++) {
			smp[k] = (struct surv_sample){ .addr = 0x1000 + 0x40 * k, .type = 0xabc,
						       .stack_id = k < 4 ? 0x222 : 0x111, .seq = 1, .mode = 2 };
			addrs[k] = smp[k].addr;
			types[k] = 0xabc;
			gens[k] = 2;
		}
		survivors__add(&sv, smp, 5, 0);
		survivors__settle(&sv, addrs, types, gens, NULL, 5, 0, 1.0);
		copy_str(sv.aggs[0].type_name, sizeof(sv.aggs[0].type_name), "app.Conn");
		copy_str(sv.aggs[1].type_name, sizeof(sv.aggs[1].type_name), "app.Conn");
		r->surv = &sv;
		assert_int_equal(tui_state__key(&f->st, 'v'), TUI_ACT_REDRAW);
		render(f, 160, 30);
		assert_true(tui_grid__find(&f->g, "Survivors of app.Conn (type 1/1, [ ] to change): 5 alive of 5 sampled") >= 0);
		y = tui_grid__find(&f->g, " 80.0%     4 alive     4/4      /srv/app.py:13 handle");
		assert_true(y >= 0);
		assert_true(tui_grid__find(&f->g, " 20.0%     1 alive     1/1      /srv/app.py:41 make_widget") > y);
		assert_true(tui_grid__find(&f->g, "Alloc/Survivors") >= 0); /* the key is in the footer */
		assert_int_equal(tui_state__key(&f->st, 'v'), TUI_ACT_REDRAW);
		render(f, 160, 30);
		assert_true(tui_grid__find(&f->g, "Survivors of") < 0);
		r->surv = NULL;
		survivors__free(&sv);
	}
	r->sites_valid = false; /* the fixture's teardown must not free static stacks */
	r->sites.stacks = NULL;
	r->sites.nstacks = 0;
}

static void test_drill_in_wide(void **state)
{
	struct fixture *f = *state;
	int y;

	f->st.view = TUI_VIEW_DETAIL;
	f->st.detail_pid = 4242;
	render(f, 200, 50);
	/* counters and pauses side by side */
	y = tui_grid__find(&f->g, "COLLECTIONS");
	assert_non_null(strstr(line(f, y), "PAUSES"));
	assert_non_null(strstr(line(f, y + 1), "678901"));
	assert_non_null(strstr(line(f, y + 1), "50.0ms"));
	/* room for bars: one line per power of two, bar length by count */
	y = tui_grid__find(&f->g, "Pause histograms");
	assert_true(y > 0);
	assert_non_null(strstr(line(f, y + 1), "gen0"));
	assert_non_null(strstr(line(f, y + 2), "  64us \u2588\u2588\u2588"));
	assert_non_null(strstr(line(f, y + 2), "400"));
	assert_non_null(strstr(line(f, y + 4), " 256us \u2588"));
	assert_non_null(strstr(line(f, y + 4), "100"));
	assert_true(tui_grid__find(&f->g, "8.19ms") > y);
}

static void test_narrow(void **state)
{
	struct fixture *f = *state;
	char fld[64];
	int y;

	/* 50 columns: fewer columns, still PID, COMMAND, RSS and GARBAGE */
	render(f, 50, 12);
	y = tui_grid__find(&f->g, "COMMAND");
	assert_true(y >= 0);
	assert_non_null(strstr(line(f, y), "RSS"));
	assert_non_null(strstr(line(f, y), "GARBAGE"));
	assert_null(strstr(line(f, y), "P99P"));
	y = pid_line(f, 4242);
	assert_true(y >= 0);
	assert_string_equal(field(line(f, y), 0, fld, sizeof(fld)), "4242");
	assert_non_null(strstr(line(f, y), "1234"));
	/* detail view at the minimum size stays inside the grid */
	f->st.view = TUI_VIEW_DETAIL;
	f->st.detail_pid = 4242;
	render(f, TUI_MIN_W, TUI_MIN_H);
	assert_true(tui_grid__find(&f->g, "PID 4242") >= 0);
	assert_int_equal(strncmp(line(f, TUI_MIN_H - 1), "Esc Back", 8), 0); /* nothing drew over the footer */
	render(f, 80, 12);
	assert_true(tui_grid__find(&f->g, "gen2          101") >= 0);
	assert_int_equal(strncmp(line(f, 11), "Esc Back", 8), 0);
	/* too small: one line saying so */
	f->st.view = TUI_VIEW_LIST;
	render(f, 30, 5);
	assert_non_null(strstr(line(f, 0), "terminal too small"));
	assert_int_equal(pid_line(f, 4242), -1);
	render(f, 1, 1);
	render(f, 120, 3);
	assert_non_null(strstr(line(f, 0), "terminal too small (120x3"));
}

static void test_long_command_and_exited(void **state)
{
	struct fixture *f = *state;
	struct proc_row *r;
	char big[600], fld[64];
	int y;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "python3 \x1b[31mred\t", 18); /* escape sequences must never reach the terminal */
	r = add_row(f, 5, "python3", big, "3.10.13", GC_TIER_UPROBE, 1ull << 30);
	r->exited = true;
	render(f, 80, 24);
	y = pid_line(f, 5);
	assert_true(y >= 0);
	assert_null(strchr(line(f, y), '\x1b'));
	assert_non_null(strstr(line(f, y), "[exited]"));
	/* the command is cut at its column: the version still follows */
	assert_string_equal(field(line(f, y), 3, fld, sizeof(fld)), "3.10.13"); /* PY is 7 wide: never a cut version */
	assert_string_equal(field(line(f, y), 4, fld, sizeof(fld)), "1.0G");
	for (int x = 0; x < f->g.w * f->g.h; x++)
		assert_true(f->g.cells[x].ch >= 0x20 && f->g.cells[x].ch != 0x7f);
}

static void test_empty_and_waiting(void **state)
{
	struct fixture *f = *state;
	struct snapshot empty = f->snap;

	empty.nrows = 0;
	empty.tiers = 0;
	assert_int_equal(tui_grid__init(&f->g, 80, 24, false), 0);
	assert_int_equal(tui_render(&f->g, &empty, &f->st), 0);
	assert_true(tui_grid__find(&f->g, "0 python processes") >= 0);
	assert_true(tui_grid__find(&f->g, "no Python processes found") >= 0);
	assert_true(tui_grid__find(&f->g, "probes none") >= 0);
	/* keys with nothing to select do nothing harmful */
	assert_int_equal(tui_state__key(&f->st, TUI_KEY_ENTER), TUI_ACT_NONE);
	tui_state__key(&f->st, TUI_KEY_END);
	tui_state__key(&f->st, TUI_KEY_PGDN);
	assert_int_equal(f->st.view, TUI_VIEW_LIST);
	assert_int_equal(tui_render(&f->g, NULL, &f->st), 0);
	assert_true(tui_grid__find(&f->g, "reading processes") >= 0);
}

static void test_navigation_scrolls(void **state)
{
	struct fixture *f = *state;
	int i, y;

	for (i = 0; i < 40; i++)
		add_row(f, 10000 + i, "python3", "python3 many.py", "3.12.1", GC_TIER_UPROBE, (uint64_t)(40 - i) << 10);
	f->st.sort_col = TUI_COL_PID;
	render(f, 80, 24);
	assert_int_equal(f->st.sel_pid, 777);
	tui_state__key(&f->st, TUI_KEY_DOWN);
	assert_int_equal(f->st.sel_pid, 4242);
	tui_state__key(&f->st, TUI_KEY_END);
	assert_int_equal(f->st.sel_pid, 31337);
	render(f, 80, 24);
	y = pid_line(f, 31337);
	assert_true(y > 0 && y < 23);
	assert_int_equal(pid_line(f, 777), -1); /* scrolled off */
	tui_state__key(&f->st, TUI_KEY_HOME);
	render(f, 80, 24);
	assert_true(pid_line(f, 777) >= 0);
	tui_state__key(&f->st, TUI_KEY_PGDN);
	assert_int_equal(f->st.sel_idx, f->st.page_rows);
	tui_state__key(&f->st, TUI_KEY_PGUP);
	assert_int_equal(f->st.sel_idx, 0);
	tui_state__key(&f->st, TUI_KEY_UP); /* clamps at the top */
	assert_int_equal(f->st.sel_idx, 0);
	/* the selection follows its process when the order changes */
	tui_state__key(&f->st, TUI_KEY_DOWN);
	assert_int_equal(f->st.sel_pid, 4242);
	f->st.sort_col = TUI_COL_RSS;
	render(f, 80, 24);
	assert_int_equal(f->st.sel_pid, 4242);
	assert_int_equal(f->st.sel_idx, 0);
}

static void test_keys_misc(void **state)
{
	struct fixture *f = *state;

	render(f, 80, 24);
	assert_int_equal(tui_state__key(&f->st, 'q'), TUI_ACT_QUIT);
	assert_int_equal(tui_state__key(&f->st, TUI_KEY_F10), TUI_ACT_QUIT);
	assert_int_equal(tui_state__key(&f->st, 'p'), TUI_ACT_PAUSE);
	assert_true(f->st.paused);
	render(f, 80, 24);
	assert_non_null(strstr(line(f, 0), "PAUSED"));
	tui_state__key(&f->st, 'p');
	assert_false(f->st.paused);
	assert_int_equal(tui_state__key(&f->st, '+'), TUI_ACT_INTERVAL);
	assert_true(f->st.interval_s == 2.0);
	render(f, 80, 24);
	assert_non_null(strstr(line(f, 0), "every 2s"));
	tui_state__key(&f->st, '-');
	tui_state__key(&f->st, '-');
	assert_true(f->st.interval_s == 0.5);
	assert_true(tui_interval__step(0.1, -1) == 0.1);
	assert_true(tui_interval__step(3600, 1) == 3600);
	assert_true(tui_interval__step(1.5, 1) == 2);
	assert_int_equal(tui_state__key(&f->st, '?'), TUI_ACT_REDRAW);
	render(f, 80, 24);
	assert_true(tui_grid__find(&f->g, "filter by command or pid") >= 0);
	tui_state__key(&f->st, 'x'); /* any key back */
	assert_int_equal(f->st.view, TUI_VIEW_LIST);
}

static void test_ascii_terminal(void **state)
{
	struct fixture *f = *state;

	f->st.view = TUI_VIEW_DETAIL;
	f->st.detail_pid = 4242;
	assert_int_equal(tui_grid__init(&f->g, 120, 40, true), 0);
	assert_int_equal(tui_render(&f->g, &f->snap, &f->st), 0);
	for (int x = 0; x < f->g.w * f->g.h; x++)
		assert_true(f->g.cells[x].ch < 0x7f);
	assert_true(tui_grid__find(&f->g, "#") >= 0);
	f->st.view = TUI_VIEW_LIST;
	assert_int_equal(tui_render(&f->g, &f->snap, &f->st), 0);
	assert_true(tui_grid__find(&f->g, "dRSS/m") >= 0);
}

/* Census tabs and the SUSPECT column, from a row the analysis filled (types, containers, suspects). */
static void test_leak_tabs(void **state)
{
	struct fixture *f = *state;
	struct proc_row *r = f->rows[1]; /* pid 777 */
	struct type_row *t;
	struct container_row *c;
	struct suspect *s;
	int y;

	r->census_time = 1099.0;
	r->census_ms = 4.5;
	r->census_period = 2;
	r->live_objects = 98765;
	t = &r->types[r->ntypes++];
	snprintf(t->name, sizeof(t->name), "dict");
	t->count = 5000, t->bytes = 320000, t->per_min = 0;
	t->nspark = 3;
	t->spark[0] = t->spark[1] = t->spark[2] = 5000;
	t = &r->types[r->ntypes++];
	snprintf(t->name, sizeof(t->name), "__main__.Connection");
	t->count = 2000, t->bytes = 112000, t->per_min = 3000;
	t->nspark = 8;
	for (int i = 0; i < 8; i++)
		t->spark[i] = 1000 + 100 * i; /* min..max: the lowest and the highest block */
	c = &r->containers[r->ncontainers++];
	snprintf(c->name, sizeof(c->name), "__main__._CONNECTIONS");
	snprintf(c->type, sizeof(c->type), "list");
	c->len = 2000, c->per_min = 3001, c->named = true;
	c = &r->containers[r->ncontainers++];
	snprintf(c->name, sizeof(c->name), "dict@0x7f0012345678");
	snprintf(c->type, sizeof(c->type), "dict");
	c->len = 387;
	s = &r->suspects[r->nsuspects++];
	s->kind = SUSPECT_TYPE;
	snprintf(s->name, sizeof(s->name), "__main__.Connection");
	s->per_min = 2997, s->confidence = 0.9999;
	snprintf(s->evidence, sizeof(s->evidence),
		 "1000 -> 1700 live objects over 14 s (8 censuses), Theil-Sen +2997/min, still growing (+3000/min "
		 "in the newer half), Mann-Kendall confidence 0.9999");
	s = &r->suspects[r->nsuspects++];
	s->kind = SUSPECT_CONTAINER;
	snprintf(s->name, sizeof(s->name), "__main__._CONNECTIONS");
	s->per_min = 3001, s->confidence = 0.999;
	snprintf(s->evidence, sizeof(s->evidence), "len 1000 -> 1700");

	/* SUSPECT column: the strongest suspect, its rate, how many more */
	render(f, 200, 24);
	y = pid_line(f, 777);
	assert_true(y >= 0);
	assert_non_null(strstr(line(f, y), "__main__.Connection +3.0k/m (+1)"));
	assert_non_null(strstr(line(f, y), "98765")); /* LIVE */
	y = pid_line(f, 4242);
	assert_non_null(strstr(line(f, y), " - ")); /* no census, no suspect */

	f->st.view = TUI_VIEW_DETAIL;
	f->st.detail_pid = 777;
	f->st.tab = TUI_TAB_TYPES;
	render(f, 100, 24);
	assert_true(tui_grid__find(&f->g, "census every 2 s, last walk 4.5 ms, 98765 live objects") >= 0);
	y = tui_grid__find(&f->g, "__main__.Connection");
	assert_true(y >= 0);
	assert_non_null(strstr(line(f, y), " 2000 "));
	assert_non_null(strstr(line(f, y), "+3.0k/m"));
	assert_non_null(strstr(line(f, y), " 109K "));
	/* trend: scaled min..max, so the lowest block first and the full block last */
	assert_non_null(strstr(line(f, y), "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"));
	y = tui_grid__find(&f->g, "dict ");
	assert_true(y >= 0);
	assert_non_null(strstr(line(f, y), " 5000 "));

	f->st.tab = TUI_TAB_CONTAINERS;
	render(f, 100, 24);
	y = tui_grid__find(&f->g, "__main__._CONNECTIONS");
	assert_true(y >= 0);
	assert_non_null(strstr(line(f, y), "list"));
	assert_non_null(strstr(line(f, y), "2000"));
	assert_non_null(strstr(line(f, y), "+3.0k/m"));
	assert_true(tui_grid__find(&f->g, "dict@0x7f0012345678") >= 0);

	f->st.tab = TUI_TAB_SUSPECTS;
	render(f, 100, 24);
	y = tui_grid__find(&f->g, "type      __main__.Connection  +3.0k/m  confidence 1.000");
	assert_true(y >= 0);
	assert_non_null(strstr(line(f, y + 1), "1000 -> 1700 live objects over 14 s"));
	assert_non_null(strstr(line(f, y + 2), "Mann-Kendall confidence 0.9999"));
	assert_true(tui_grid__find(&f->g, "container __main__._CONNECTIONS  +3.0k/m") >= 0);

	/* A census without suspects says so (not "no data yet"). */
	r->nsuspects = 0;
	render(f, 100, 24);
	assert_true(tui_grid__find(&f->g, "Suspects: none") >= 0);
	/* Narrow: no sparkline, still the numbers. */
	f->st.tab = TUI_TAB_TYPES;
	render(f, 50, 12);
	y = tui_grid__find(&f->g, "__main__.Connec      2000   +3.0k/m      109K");
	assert_true(y >= 0);
	assert_null(strstr(line(f, y), "\u2588"));
}

/* A gunicorn family: one header line with summed figures and the family verdict; Enter unfolds
 * the workers under it, e folds them back; drilling into a worker names the family's verdict. */
static void test_family_rows(void **state)
{
	struct fixture *f = *state;
	struct groups *gs = groups__new();
	const char *cmd = "/usr/bin/python3.11 /usr/bin/gunicorn -w 4 app:app";
	struct proc_row *r;
	char buf[64];
	int y, hy;

	assert_non_null(gs);
	r = add_row(f, 5000, "gunicorn", cmd, "3.11.2", GC_TIER_USDT, 30ull << 20);
	r->ppid = 1;
	snprintf(r->target.exe, sizeof(r->target.exe), "/usr/bin/python3.11");
	for (int i = 0; i < 4; i++) {
		r = add_row(f, 5001 + i, "gunicorn", cmd, "3.11.2", GC_TIER_USDT, (uint64_t)(100 + i) << 20);
		r->ppid = 5000;
		r->target.start_time = 1;
		snprintf(r->target.exe, sizeof(r->target.exe), "/usr/bin/python3.11");
		r->gc_per_s[0] = 25;
		r->nsuspects = 1;
		r->suspects[0].kind = SUSPECT_TYPE;
		snprintf(r->suspects[0].name, sizeof(r->suspects[0].name), "app.Session");
		r->suspects[0].per_min = 300;
		r->suspects[0].confidence = 0.99;
	}
	groups__update(gs, &f->snap);
	assert_int_equal(f->snap.ngroups, 1);

	render(f, 200, 30);
	/* folded: one line for the family (sorted by its summed RSS: 436 MB, above the 300 MB web
	 * worker), no worker lines */
	hy = tui_grid__find(&f->g, "gunicorn:5000: 4 workers");
	assert_true(hy >= 0);
	assert_non_null(strstr(line(f, hy), "\u25b8 gunicorn:5000"));
	assert_non_null(strstr(line(f, hy), "436M"));
	assert_non_null(strstr(line(f, hy), "100")); /* G0/s summed: 4 x 25 */
	assert_non_null(strstr(line(f, hy), "4/4 app.Session +300/m"));
	assert_true(hy < pid_line(f, 4242));
	assert_int_equal(pid_line(f, 5001), -1);
	assert_int_equal(pid_line(f, 5000), hy);
	/* the header is selected first; Enter unfolds instead of drilling in */
	assert_int_equal(f->st.sel_pid, -f->snap.groups[0].id);
	assert_non_null(strstr(line(f, 29), "Enter Fold"));
	assert_int_equal(tui_state__key(&f->st, TUI_KEY_ENTER), TUI_ACT_REDRAW);
	assert_int_equal(f->st.view, TUI_VIEW_LIST);
	render(f, 200, 30);
	assert_non_null(strstr(line(f, hy), "\u25be gunicorn:5000"));
	for (int i = 0; i < 4; i++) {
		y = pid_line(f, 5001 + i);
		assert_true(y > hy && y <= hy + 5);
		assert_non_null(strstr(line(f, y), "  python3.11 gunicorn -w 4"));
	}
	y = tui_grid__find(&f->g, "[master]");
	assert_true(y > hy);
	assert_non_null(strstr(line(f, y), "   5000 "));
	/* members follow the sort: the biggest worker first */
	assert_int_equal(pid_line(f, 5004), hy + 1);
	/* Down onto a worker, Enter drills in: the family and its verdict with each worker's rate */
	tui_state__key(&f->st, TUI_KEY_DOWN);
	assert_int_equal(f->st.sel_pid, 5004);
	tui_state__key(&f->st, TUI_KEY_ENTER);
	assert_int_equal(f->st.view, TUI_VIEW_DETAIL);
	render(f, 200, 30);
	assert_true(tui_grid__find(&f->g, "family gunicorn:5000 (this process: worker; 4 workers now, 0 recycled)") >= 0);
	assert_true(tui_grid__find(&f->g, "4/4 workers: app.Session +300/min each") >= 0);
	assert_true(tui_grid__find(&f->g, "pid 5001 +300/min, pid 5002 +300/min") >= 0);
	/* Up from the first worker skips the header line in the drill-in */
	tui_state__key(&f->st, TUI_KEY_UP);
	assert_true(f->st.detail_pid > 0);
	tui_state__key(&f->st, TUI_KEY_ESC);
	/* e on a member folds its family back and selects the header */
	f->st.sel_pid = 5002;
	render(f, 200, 30);
	assert_int_equal(tui_state__key(&f->st, 'e'), TUI_ACT_REDRAW);
	render(f, 200, 30);
	assert_int_equal(pid_line(f, 5002), -1);
	assert_int_equal(f->st.sel_pid, -f->snap.groups[0].id);
	/* the filter matches a family by name and shows it whole */
	f->st.filter[0] = '\0';
	snprintf(f->st.filter, sizeof(f->st.filter), "gunicorn:5000");
	render(f, 200, 30);
	assert_true(tui_grid__find(&f->g, "gunicorn:5000: 4 workers") >= 0);
	assert_int_equal(pid_line(f, 4242), -1);
	/* ASCII terminals fold with + and - */
	f->st.filter[0] = '\0';
	assert_int_equal(tui_grid__init(&f->g, 200, 30, true), 0);
	assert_int_equal(tui_render(&f->g, &f->snap, &f->st), 0);
	assert_true(tui_grid__find(&f->g, "+ gunicorn:5000: 4 workers") >= 0);
	/* the help names the key */
	tui_state__key(&f->st, 'h');
	render(f, 200, 30);
	assert_true(tui_grid__find(&f->g, "fold the selected family") >= 0);
	(void)buf;
	groups__free(gs);
}

/* The Memory tab: RSS parts with their sizes, the arenas' accounting and its certainty. */
static void test_memory_tab(void **state)
{
	struct fixture *f = *state;
	struct proc_row *r = f->rows[1];
	struct memory_row *m = &r->memory;
	struct container_row *c;
	int y;

	f->st.view = TUI_VIEW_DETAIL;
	f->st.detail_pid = r->target.pid;
	f->st.tab = TUI_TAB_MEMORY;
	render(f, 110, 30);
	assert_true(tui_grid__find(&f->g, "Memory: no data yet") >= 0);

	memset(m, 0, sizeof(*m));
	m->valid = true;
	m->rss = 40 << 20;
	m->arenas = 20 << 20;
	m->heap = 2 << 20;
	m->anon = 8 << 20;
	m->stacks = 1 << 20;
	m->file = 9 << 20;
	m->thread_stacks = 3;
	m->malloc_per_min = 2 << 20;
	snprintf(m->arena_source, sizeof(m->arena_source), "scan");
	m->arena_confidence = 0.998;
	m->narenas = 21;
	m->arena_bytes = 21 << 20;
	m->block_bytes_used = 4 << 20;
	m->blocks_used = 50000;
	m->untracked_bytes = 3 << 20;
	m->untracked_objects = 40000;
	render(f, 110, 30);
	y = tui_grid__find(&f->g, "pymalloc arenas");
	assert_true(y >= 0);
	assert_non_null(strstr(line(f, y), " 20M "));
	y = tui_grid__find(&f->g, "other anonymous");
	assert_non_null(strstr(line(f, y), "+2.0M/m"));
	assert_true(tui_grid__find(&f->g, "stacks (4 threads)") >= 0);
	assert_true(tui_grid__find(&f->g, "21 arenas") >= 0);
	assert_true(tui_grid__find(&f->g, "found by scanning anonymous memory: heuristic") >= 0);
	assert_true(tui_grid__find(&f->g, "99.8% of the used pools") >= 0);
	assert_true(tui_grid__find(&f->g, "arena use 19%: fragmented") >= 0);
	assert_true(tui_grid__find(&f->g, "untracked 3.0M (40000 objects)") >= 0);

	snprintf(m->arena_source, sizeof(m->arena_source), "none");
	snprintf(m->arena_why, sizeof(m->arena_why), "no pymalloc pool headers in anonymous memory");
	render(f, 110, 30);
	assert_true(tui_grid__find(&f->g, "pymalloc arenas not found: no pymalloc pool headers") >= 0);

	/* An untracked container says so in the Containers tab. */
	c = &r->containers[r->ncontainers++];
	snprintf(c->name, sizeof(c->name), "__main__.seen_payloads");
	snprintf(c->type, sizeof(c->type), "dict");
	c->len = 5000, c->named = true, c->untracked = true;
	r->census_time = 1099.0;
	f->st.tab = TUI_TAB_CONTAINERS;
	render(f, 110, 30);
	y = tui_grid__find(&f->g, "__main__.seen_payloads");
	assert_true(y >= 0);
	assert_non_null(strstr(line(f, y), "dict, untracked"));
	/* '7' switches to it (6 is Native) */
	tui_state__key(&f->st, '7');
	assert_int_equal(f->st.tab, TUI_TAB_MEMORY);
	/* Untracked suspects say so. */
	r->nsuspects = 1;
	memset(&r->suspects[0], 0, sizeof(r->suspects[0]));
	r->suspects[0].kind = SUSPECT_TYPE;
	snprintf(r->suspects[0].name, sizeof(r->suspects[0].name), "bytes");
	r->suspects[0].per_min = 12000;
	r->suspects[0].confidence = 0.9957;
	r->suspects[0].untracked = true;
	f->st.tab = TUI_TAB_SUSPECTS;
	render(f, 110, 30);
	assert_true(tui_grid__find(&f->g, "type      bytes (untracked)  +12.0k/m") >= 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_memory_tab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_row_numbers_80, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wide_200, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sort_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drill_in, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sites_tab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drill_in_wide, setup, teardown),
		cmocka_unit_test_setup_teardown(test_narrow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_command_and_exited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_navigation_scrolls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_misc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ascii_terminal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leak_tabs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_family_rows, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
