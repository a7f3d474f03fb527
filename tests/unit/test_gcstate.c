/* SPDX-License-Identifier: BSD-2-Clause */
/* python__read_gc over a fake GC state, per layout: the one batched read decodes every field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "target/layout.h"
#include "target/python.h"
#include "target/remote.h"

#define BASE 0x10000ull
#define SIZE 4096
#define GENS 0x100
#define ENABLED 0x200
#define COLLECTING 0x210
#define GARBAGE_PTR 0x220
#define GARBAGE_LIST 0x300
#define STATS 0x400

/* minor, free-threaded (3.6 keeps its GC state in statics found by symbol: no table offsets) */
static const struct {
	int minor;
	bool ft;
} versions[] = { { 7, false }, { 8, false }, { 9, false }, { 10, false }, { 11, false },
		 { 12, false }, { 13, false }, { 13, true }, { 14, false }, { 15, false } };

static void put32(unsigned char *img, size_t off, int32_t v)
{
	memcpy(img + off, &v, 4);
}

static void put64(unsigned char *img, size_t off, int64_t v)
{
	memcpy(img + off, &v, 8);
}

/* A GC state as the interpreter keeps it: thresholds 700/10/10, counts g+3, stats 100g+1..3. */
static void mk_state(unsigned char *img, const struct py_layout *l, struct py_target *t)
{
	int g;

	memset(img, 0, SIZE);
	memset(t, 0, sizeof(*t));
	t->layout = l;
	t->gc_generations_addr = BASE + GENS;
	t->gc_enabled_addr = BASE + ENABLED;
	t->gc_collecting_addr = BASE + COLLECTING;
	t->gc_garbage_addr = BASE + GARBAGE_PTR;
	t->gc_stats_addr = BASE + STATS;
	for (g = 0; g < 3; g++) {
		size_t gen = GENS + (size_t)g * l->gc_generation_size;

		put32(img, gen + l->gc_gen_threshold, g ? 10 : 700);
		put32(img, gen + l->gc_gen_count, g + 3);
		put64(img, STATS + g * 24 + l->gc_stats_collections, 100 * g + 1);
		put64(img, STATS + g * 24 + l->gc_stats_collected, 100 * g + 2);
		put64(img, STATS + g * 24 + l->gc_stats_uncollectable, 100 * g + 3);
	}
	put32(img, ENABLED, 1);
	put64(img, GARBAGE_PTR, (int64_t)(BASE + GARBAGE_LIST));
	put64(img, GARBAGE_LIST + l->varobject_size, 7);
}

static void test_read_gc_fields(void **state)
{
	static unsigned char img[SIZE];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		const struct py_layout *l = python__select_layout(3, versions[i].minor, versions[i].ft, -1);
		struct remote_mem mem = { BASE, img, SIZE };
		struct py_target t;
		struct py_gc_state gc;
		struct remote r;
		int g;

		assert_non_null(l);
		if (l->gc_stats_size != 24)
			continue; /* 3.15's rings: read through python__read_gen_stats, not batched */
		mk_state(img, l, &t);
		remote__init_mem(&r, &mem);
		assert_int_equal(python__read_gc(&t, &r, &gc), 0);
		for (g = 0; g < 3; g++) {
			assert_int_equal(gc.threshold[g], g ? 10 : 700);
			assert_int_equal(gc.count[g], g + 3);
			assert_int_equal(gc.collections[g], 100 * g + 1);
			assert_int_equal(gc.collected[g], 100 * g + 2);
			assert_int_equal(gc.uncollectable[g], 100 * g + 3);
			assert_true(gc.duration_s[g] == -1);
		}
		assert_int_equal(gc.enabled, 1);
		assert_int_equal(gc.collecting, 0);
		assert_int_equal(gc.garbage_len, 7);

		/* nonsense counters (a wrong table, a hostile target) are refused, not shown */
		put64(img, STATS + 24 + l->gc_stats_collections, -5);
		assert_int_equal(python__read_gc(&t, &r, &gc), -EPROTO);
		/* an unreadable stats block fails the read; the generations alone are not a state */
		mk_state(img, l, &t);
		t.gc_stats_addr = BASE + SIZE - 16;
		assert_int_not_equal(python__read_gc(&t, &r, &gc), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_gc_fields),
	};
	return cmocka_run_group_tests_name("gcstate", tests, NULL, NULL);
}
