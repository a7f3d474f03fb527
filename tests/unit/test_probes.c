/* SPDX-License-Identifier: BSD-2-Clause */
/* Pure logic of the GC probes: pause-histogram slot formula, slot bounds, percentiles, and the
 * per-version collector symbol table (no BPF, no root). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bpf/gc.h"
#include "probes/gc.h"

static void test_slot_small_values_exact(void **state)
{
	uint64_t us;

	(void)state;
	for (us = 0; us < 8; us++)
		assert_int_equal(pause_hist__slot(us), us); /* [0,8) µs: one slot per µs */
	assert_int_equal(pause_hist__slot(9), 8);	    /* [8,10) */
	assert_int_equal(pause_hist__slot(10), 9);	    /* [10,12) */
	assert_int_equal(pause_hist__slot(1023), 35);	    /* [896,1024) */
	assert_int_equal(pause_hist__slot(1024), 36);	    /* [1024,1280) */
	assert_int_equal(pause_hist__slot(1279), 36);
	assert_int_equal(pause_hist__slot(1280), 37);
}

static void test_slot_overflow(void **state)
{
	(void)state;
	assert_int_equal(pause_hist__slot(UINT64_MAX), GC_PROBES_HIST_SLOTS - 1);
	assert_int_equal(pause_hist__slot(1ULL << 40), GC_PROBES_HIST_SLOTS - 1);
	/* the last regular value before the overflow slot */
	assert_int_equal(pause_hist__slot((7ULL << 30) - 1), GC_PROBES_HIST_SLOTS - 2);
}

/* Slots tile [0, inf) without gaps or overlaps, and slot(x) lands in bounds(slot). */
static void test_bounds_tile_and_roundtrip(void **state)
{
	uint64_t lo, hi, plo, phi = 0;
	uint32_t s;

	(void)state;
	for (s = 0; s < GC_PROBES_HIST_SLOTS; s++) {
		pause_hist__bounds(s, &lo, &hi);
		assert_true(lo < hi);
		assert_int_equal(lo, phi); /* contiguous with the previous slot */
		assert_int_equal(pause_hist__slot(lo), s);
		if (hi != UINT64_MAX)
			assert_int_equal(pause_hist__slot(hi - 1), s);
		/* HDR property: relative width at most 25% above 4 µs */
		if (lo >= 4 && hi != UINT64_MAX)
			assert_true((hi - lo) * 4 <= lo);
		phi = hi;
		plo = lo;
	}
	(void)plo;
	assert_int_equal(phi, UINT64_MAX);
}

static void test_slot_matches_bounds_sweep(void **state)
{
	uint64_t us, lo, hi;
	int i;

	(void)state;
	/* pseudo-random sweep over 0 .. 2^36 µs */
	us = 1;
	for (i = 0; i < 200000; i++) {
		us = us * 6364136223846793005ULL + 1442695040888963407ULL;
		uint64_t v = us >> (28 + (i % 36));

		pause_hist__bounds(pause_hist__slot(v), &lo, &hi);
		assert_true(lo <= v);
		assert_true(v < hi);
	}
}

static void test_log2(void **state)
{
	int b;

	(void)state;
	assert_int_equal(gc_log2_u64(1), 0);
	for (b = 1; b < 64; b++) {
		assert_int_equal(gc_log2_u64(1ULL << b), b);
		assert_int_equal(gc_log2_u64((1ULL << b) - 1), b - 1);
	}
	assert_int_equal(gc_log2_u64(UINT64_MAX), 63);
}

static void test_percentile_errors(void **state)
{
	uint32_t h[GC_PROBES_HIST_SLOTS] = { 0 };
	uint64_t us = 77;

	(void)state;
	assert_int_equal(pause_hist__percentile(h, GC_PROBES_HIST_SLOTS, 0.5, &us), -ENOENT);
	assert_int_equal(us, 77); /* untouched */
	h[3] = 1;
	assert_int_equal(pause_hist__percentile(h, GC_PROBES_HIST_SLOTS, 0.0, &us), -EINVAL);
	assert_int_equal(pause_hist__percentile(h, GC_PROBES_HIST_SLOTS, 1.5, &us), -EINVAL);
	assert_int_equal(pause_hist__percentile(NULL, GC_PROBES_HIST_SLOTS, 0.5, &us), -EINVAL);
	assert_int_equal(pause_hist__percentile(h, 0, 0.5, &us), -EINVAL);
	assert_int_equal(pause_hist__percentile(h, GC_PROBES_HIST_SLOTS + 1, 0.5, &us), -EINVAL);
}

static void test_percentile_values(void **state)
{
	uint32_t h[GC_PROBES_HIST_SLOTS] = { 0 };
	uint64_t us;

	(void)state;
	/* 99 pauses of 10 µs, one of 1000 µs */
	h[pause_hist__slot(10)] = 99;
	h[pause_hist__slot(1000)] = 1;
	assert_int_equal(pause_hist__percentile(h, GC_PROBES_HIST_SLOTS, 0.5, &us), 0);
	assert_in_range(us, 10, 11); /* slot [10,12) */
	assert_int_equal(pause_hist__percentile(h, GC_PROBES_HIST_SLOTS, 0.99, &us), 0);
	assert_in_range(us, 10, 11);
	assert_int_equal(pause_hist__percentile(h, GC_PROBES_HIST_SLOTS, 1.0, &us), 0);
	assert_in_range(us, 896, 1023); /* slot [896,1024) */
	assert_int_equal(pause_hist__percentile(h, GC_PROBES_HIST_SLOTS, 0.995, &us), 0);
	assert_in_range(us, 896, 1023);

	/* monotone in q */
	memset(h, 0, sizeof(h));
	for (uint32_t s = 0; s < 60; s++)
		h[s] = s + 1;
	uint64_t prev = 0;
	for (int i = 1; i <= 100; i++) {
		assert_int_equal(pause_hist__percentile(h, GC_PROBES_HIST_SLOTS, i / 100.0, &us), 0);
		assert_true(us >= prev);
		prev = us;
	}

	/* a sole value in the overflow slot reports its lower bound */
	memset(h, 0, sizeof(h));
	h[GC_PROBES_HIST_SLOTS - 1] = 3;
	assert_int_equal(pause_hist__percentile(h, GC_PROBES_HIST_SLOTS, 0.5, &us), 0);
	assert_int_equal(us, 7ULL << 30);
}

/* Interpolation spreads the values of one slot over its width: 4 values in [1024,1280). */
static void test_percentile_interpolates(void **state)
{
	uint32_t h[GC_PROBES_HIST_SLOTS] = { 0 };
	uint64_t us;

	(void)state;
	h[36] = 4;
	assert_int_equal(pause_hist__percentile(h, GC_PROBES_HIST_SLOTS, 0.25, &us), 0);
	assert_int_equal(us, 1024);
	assert_int_equal(pause_hist__percentile(h, GC_PROBES_HIST_SLOTS, 0.5, &us), 0);
	assert_int_equal(us, 1024 + 64);
	assert_int_equal(pause_hist__percentile(h, GC_PROBES_HIST_SLOTS, 1.0, &us), 0);
	assert_int_equal(us, 1024 + 192);
}

/* Clone names and argument positions seen in nm/objdump of the pyenv 3.6–3.13 builds. */
static void test_collector_gen_spec(void **state)
{
	(void)state;
	assert_int_equal(gc_collector_gen_spec(6, "collect"), GC_GENSPEC_ARG(0));
	assert_int_equal(gc_collector_gen_spec(6, "collect.constprop.0"), GC_GENSPEC_CONST(2));
	assert_int_equal(gc_collector_gen_spec(7, "collect"), GC_GENSPEC_ARG(0));
	assert_int_equal(gc_collector_gen_spec(7, "collect.constprop.0"), GC_GENSPEC_CONST(2));
	assert_int_equal(gc_collector_gen_spec(8, "collect.constprop.0"), GC_GENSPEC_CONST(2));
	assert_int_equal(gc_collector_gen_spec(8, "collect.constprop.1"), GC_GENSPEC_ARG(0));
	assert_int_equal(gc_collector_gen_spec(8, "collect"), GC_GENSPEC_ARG(1));
	assert_int_equal(gc_collector_gen_spec(8, "collect.isra.0"), GC_GENSPEC_UNKNOWN);
	assert_int_equal(gc_collector_gen_spec(9, "collect"), GC_GENSPEC_ARG(1));
	for (int m = 10; m <= 13; m++) {
		assert_int_equal(gc_collector_gen_spec(m, "gc_collect_main"), GC_GENSPEC_ARG(1));
		assert_int_equal(gc_collector_gen_spec(m, "gc_collect_main.isra.0"),
				 GC_GENSPEC_UNKNOWN);
		assert_int_equal(gc_collector_gen_spec(m, "collect"), -ENOENT);
	}
	/* not collectors */
	assert_int_equal(gc_collector_gen_spec(9, "collections_exec"), -ENOENT);
	assert_int_equal(gc_collector_gen_spec(9, "gc_collect"), -ENOENT);
	assert_int_equal(gc_collector_gen_spec(12, "gc_collect_mainx"), -ENOENT);
	assert_int_equal(gc_collector_gen_spec(12, "_PyGC_Collect"), -ENOENT);
	assert_int_equal(gc_collector_gen_spec(5, "collect"), -ENOENT);
	assert_int_equal(gc_collector_gen_spec(12, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_small_values_exact),
		cmocka_unit_test(test_slot_overflow),
		cmocka_unit_test(test_bounds_tile_and_roundtrip),
		cmocka_unit_test(test_slot_matches_bounds_sweep),
		cmocka_unit_test(test_log2),
		cmocka_unit_test(test_percentile_errors),
		cmocka_unit_test(test_percentile_values),
		cmocka_unit_test(test_percentile_interpolates),
		cmocka_unit_test(test_collector_gen_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
