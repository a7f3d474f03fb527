/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the shortcuts that keep a refresh cheap on a host of idle processes: the RSS
 * slope of a flat history without the sums, and the JSON line's reuse of a process's types and
 * containers text. Each against the long way round: a shortcut that changed an answer is a bug.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/model.h"
#include "views/views.h"

/* The least-squares slope over the window, the long way (the reference for the shortcut). */
static double slope_ref(const struct proc_row *row, double window_s)
{
	const struct proc_sample *newest = proc_row__sample(row, 0);
	double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0;
	int i;

	for (i = 0; i < row->nhistory; i++) {
		const struct proc_sample *s = proc_row__sample(row, i);
		double x = s->time - newest->time, y = (double)s->rss;

		if (newest->time - s->time > window_s)
			break;
		sx += x, sy += y, sxx += x * x, sxy += x * y, n++;
	}
	if (n < 2 || n * sxx - sx * sx <= 0)
		return 0;
	return (n * sxy - sx * sy) / (n * sxx - sx * sx) * 60.0;
}

static void push(struct proc_row *row, double t, uint64_t rss)
{
	struct proc_sample s = { .time = t, .rss = rss };

	proc_row__push_sample(row, &s);
}

static void test_rss_slope_flat_and_steps(void **state)
{
	struct proc_row *row = calloc(1, sizeof(*row));
	int i;

	(void)state;
	assert_non_null(row);
	/* growing, then flat for less than the window: the growth still shows */
	for (i = 0; i < 40; i++)
		push(row, i, 1000000 + (uint64_t)i * 4096);
	for (i = 40; i < 60; i++)
		push(row, i, 1000000 + 39 * 4096);
	assert_true(proc_row__rss_slope_per_min(row, 60) > 0);
	assert_true(proc_row__rss_slope_per_min(row, 60) == slope_ref(row, 60));
	/* flat for longer than the window: exactly 0, and the long way agrees to rounding */
	for (i = 60; i < 130; i++)
		push(row, i, 1000000 + 39 * 4096);
	assert_true(proc_row__rss_slope_per_min(row, 60) == 0);
	assert_true(slope_ref(row, 60) < 1e-6 && slope_ref(row, 60) > -1e-6);
	/* one step inside the window ends the shortcut */
	push(row, 130, 2000000);
	assert_true(proc_row__rss_slope_per_min(row, 60) > 0);
	assert_true(proc_row__rss_slope_per_min(row, 60) == slope_ref(row, 60));
	/* a history that never moved: 0 */
	memset(row, 0, sizeof(*row));
	for (i = 0; i < 5; i++)
		push(row, i, 777);
	assert_true(proc_row__rss_slope_per_min(row, 60) == 0);
	free(row);
}

static struct proc_row *json_row(pid_t pid)
{
	struct proc_row *row = calloc(1, sizeof(*row));
	int i;

	assert_non_null(row);
	row->target.pid = pid;
	row->gc_valid = true;
	row->live_objects = -1;
	row->ntypes = 3;
	for (i = 0; i < row->ntypes; i++) {
		snprintf(row->types[i].name, sizeof(row->types[i].name), "mod.T%d \"q\"", i);
		row->types[i].count = 100 * (i + 1);
		row->types[i].per_min = 1.5 * i;
	}
	row->ncontainers = 1;
	snprintf(row->containers[0].name, sizeof(row->containers[0].name), "mod.cache");
	snprintf(row->containers[0].type, sizeof(row->containers[0].type), "dict");
	row->containers[0].len = 42;
	row->rows_seq = model__next_rows_seq();
	row->memory.valid = true;
	row->memory.rss = 1 << 20;
	snprintf(row->memory.arena_source, sizeof(row->memory.arena_source), "table");
	return row;
}

/* The cached line equals the uncached one, at a hit, after a new census and after pid reuse. */
static void test_json_cache_equals_uncached(void **state)
{
	struct view_json_cache *c = view_json_cache__new();
	struct proc_row *rows[2] = { json_row(100), json_row(200) };
	struct snapshot snap = { .nrows = 2, .rows = rows };
	struct strbuf a, b;
	int round;

	(void)state;
	assert_non_null(c);
	sb_init(&a);
	sb_init(&b);
	for (round = 0; round < 200; round++) {
		if (round == 3) { /* a census rewrote the rows */
			rows[0]->types[1].count = 555;
			snprintf(rows[0]->containers[0].name, sizeof(rows[0]->containers[0].name), "mod.other");
			rows[0]->rows_seq = model__next_rows_seq();
		}
		if (round == 4) { /* a census with an arena scan: the memory object changes alone */
			rows[0]->memory.rss = 3 << 20;
			rows[0]->memory.rss_per_min = 12.5;
		}
		if (round == 6) /* and the RSS breakdown goes away */
			rows[1]->memory.valid = false;
		if (round == 5) { /* pid 200 exited, a new process got its pid with other rows */
			free(rows[1]);
			rows[1] = json_row(200);
			rows[1]->types[0].count = 9;
		}
		if (round == 7) /* pid 200 gone from the snapshots: swept later, not used */
			snap.nrows = 1;
		if (round == 150) { /* and back, long after its entry was swept */
			snap.nrows = 2;
			rows[1]->types[2].count = 3;
			rows[1]->rows_seq = model__next_rows_seq();
		}
		sb_reset(&a);
		sb_reset(&b);
		if (round == 10) {
			/* rows changed behind rows_seq's back: the text is reused (the cache is used at
			 * all), which is why every writer of the rows must draw a new seq */
			int64_t was = rows[0]->types[0].count;

			rows[0]->types[0].count = 31337;
			view_json__snapshot(&a, &snap);
			view_json__snapshot_cached(&b, &snap, c);
			assert_non_null(strstr(a.buf, "31337"));
			assert_null(strstr(b.buf, "31337"));
			rows[0]->types[0].count = was;
			continue;
		}
		view_json__snapshot(&a, &snap);
		view_json__snapshot_cached(&b, &snap, c);
		assert_false(a.oom || b.oom);
		assert_string_equal(a.buf, b.buf);
		if (round == 3)
			assert_non_null(strstr(b.buf, "\"count\":555"));
		if (round == 5)
			assert_non_null(strstr(b.buf, "\"count\":9,"));
		if (round == 4)
			assert_non_null(strstr(b.buf, "\"rss_bytes\":3145728,"));
	}
	sb_free(&a);
	sb_free(&b);
	free(rows[0]);
	free(rows[1]);
	view_json_cache__free(c);
	view_json_cache__free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rss_slope_flat_and_steps),
		cmocka_unit_test(test_json_cache_equals_uncached),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
