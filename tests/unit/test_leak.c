/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the leak statistics: Theil–Sen, Mann–Kendall, verdicts on synthetic series. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "analysis/leak.h"

#define N 60

static double noise(unsigned *seed, double amp)
{
	*seed = *seed * 1103515245u + 12345u;
	return ((double)((*seed >> 8) % 10000) / 10000.0 - 0.5) * 2 * amp;
}

static void test_theil_sen_robust_to_outliers(void **state)
{
	double x[N], y[N];
	int i;

	(void)state;
	for (i = 0; i < N; i++) {
		x[i] = i;
		y[i] = 3.0 * i + 10;
	}
	y[5] = 10000;  /* a GC burst or a census glitch must not move the slope */
	y[40] = -5000;
	assert_true(fabs(theil_sen_slope(x, y, N) - 3.0) < 1e-9);
	assert_true(theil_sen_slope(x, y, 1) == 0);
}

static void test_mann_kendall(void **state)
{
	double up[N], flat[N];
	unsigned seed = 7;
	int i;

	(void)state;
	for (i = 0; i < N; i++) {
		up[i] = i + noise(&seed, 3);
		flat[i] = 100;
	}
	assert_true(mann_kendall_z(up, N) > 5);
	assert_true(mann_kendall_z(flat, N) == 0);
	assert_true(fabs(normal_sf(0) - 0.5) < 1e-12);
	assert_true(normal_sf(2.326) < 0.011 && normal_sf(2.326) > 0.009);
}

static void verdict(double (*f)(int, unsigned *), bool expect)
{
	struct leak_policy pol;
	struct trend tr;
	double t[N], y[N], conf;
	unsigned seed = 42;
	int i;

	for (i = 0; i < N; i++) {
		t[i] = i; /* one census per second for a minute */
		y[i] = f(i, &seed);
	}
	leak__default_policy(&pol);
	trend__compute(t, y, N, &tr);
	assert_int_equal(leak__is_growing(&tr, &pol, &conf), expect);
	if (expect)
		assert_true(conf >= 0.99);
	else
		assert_true(conf == 0);
}

static double steady_leak(int i, unsigned *s) { return 5000 + 20.0 * i + noise(s, 30); } /* +1200/min */
static double churn(int i, unsigned *s) { (void)i; return 50000 + noise(s, 2000); }       /* heavy, flat */
static double warmup(int i, unsigned *s) { return (i < 15 ? 1000 * i : 15000) + noise(s, 5); }
static double sawtooth(int i, unsigned *s) { (void)s; return 10000 + (i % 10) * 700; }     /* GC cycles */
static double slow_small(int i, unsigned *s) { (void)s; return 100000 + i / 10; }            /* +6/min */

static void test_verdicts(void **state)
{
	(void)state;
	verdict(steady_leak, true);
	verdict(churn, false);
	verdict(warmup, false);
	verdict(sawtooth, false);
	verdict(slow_small, false);
}

static void test_too_short_window(void **state)
{
	struct leak_policy pol;
	struct trend tr;
	double t[8], y[8], conf;
	int i;

	(void)state;
	for (i = 0; i < 8; i++) {
		t[i] = i;
		y[i] = 1000 * i;
	}
	leak__default_policy(&pol);
	trend__compute(t, y, 8, &tr);
	assert_false(leak__is_growing(&tr, &pol, &conf)); /* 7 s < min_span_s */
}

static void test_series_ring(void **state)
{
	static struct leak_series s;
	static double t[LEAK_MAX_POINTS], v[LEAK_MAX_POINTS];
	int i, n;

	(void)state;
	for (i = 0; i < LEAK_MAX_POINTS + 10; i++)
		leak_series__add(&s, i, i * 2);
	n = leak_series__points(&s, t, v);
	assert_int_equal(n, LEAK_MAX_POINTS);
	assert_true(t[0] == 10 && v[n - 1] == 2.0 * (LEAK_MAX_POINTS + 9));
}

/* Float points: times across rebases and counts up to 2^24 come back as they went in. */
static void test_series_precision(void **state)
{
	static struct leak_series s;
	static double t[LEAK_MAX_POINTS], v[LEAK_MAX_POINTS];
	double base = 1.5e6; /* monotonic seconds of a host up for weeks */
	int i, n;

	(void)state;
	for (i = 0; i < LEAK_MAX_POINTS; i++)
		leak_series__add(&s, base + i * 1.25, (double)(16777216 - LEAK_MAX_POINTS + i));
	n = leak_series__points(&s, t, v);
	assert_int_equal(n, LEAK_MAX_POINTS);
	for (i = 0; i < n; i++) {
		assert_true(fabs(t[i] - (base + i * 1.25)) < 1e-3);
		assert_true(v[i] == (double)(16777216 - LEAK_MAX_POINTS + i));
	}
	/* a day later (past LEAK_REBASE_S): the base moves, the old points keep their times */
	leak_series__add(&s, base + 86400.0, 7.0);
	n = leak_series__points(&s, t, v);
	assert_true(fabs(t[n - 1] - (base + 86400.0)) < 1e-3 && v[n - 1] == 7.0);
	assert_true(fabs(t[n - 2] - (base + (LEAK_MAX_POINTS - 1) * 1.25)) < 0.02);
	assert_true(fabs(t[0] - (base + 1.25)) < 0.02);
	for (i = 1; i < n; i++)
		assert_true(t[i] > t[i - 1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_theil_sen_robust_to_outliers), cmocka_unit_test(test_mann_kendall),
		cmocka_unit_test(test_verdicts), cmocka_unit_test(test_too_short_window),
		cmocka_unit_test(test_series_ring), cmocka_unit_test(test_series_precision),
	};
	return cmocka_run_group_tests_name("leak", tests, NULL, NULL);
}
