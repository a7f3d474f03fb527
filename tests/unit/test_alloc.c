/* SPDX-License-Identifier: BSD-2-Clause */
/* Pure logic of the allocation module: the young-sample estimate, the budget duty cycle, the
 * completeness ratio, mode names, and the BPF ABI sizes (no BPF, no root). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../bpf/alloc.h"
#include "alloc.h"

#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

static void test_young_rate(void **state)
{
	(void)state;
	/* 3 collections × 256 sampled nodes, 3/4 of them Alloc; 2100 net new GC objects in 1 s */
	assert_near(alloc_young__rate(576, 768, 2100, 1.0), 1575.0, 1e-9);
	/* the same over 2 s is half the rate */
	assert_near(alloc_young__rate(576, 768, 2100, 2.0), 787.5, 1e-9);
	/* all samples of one type: the whole net rate */
	assert_near(alloc_young__rate(100, 100, 700, 0.5), 1400.0, 1e-9);
	/* nothing sampled / no time / nothing new: no rate rather than a division by zero */
	assert_near(alloc_young__rate(0, 0, 700, 1.0), 0, 0);
	assert_near(alloc_young__rate(5, 10, 700, 0), 0, 0);
	assert_near(alloc_young__rate(5, 10, 0, 1.0), 0, 0);
	assert_near(alloc_young__rate(5, 10, -3, 1.0), 0, 0);
}

static void test_budget_duty(void **state)
{
	double d;

	(void)state;
	/* 10 000 hits/s at 1 µs: 1% slowdown while attached (seen rate 10000/1.01): a 2% budget
	 * allows full time */
	assert_near(alloc_budget__duty(2.0, 10000 / 1.01, 1000), 1.0, 1e-9);
	/* 1 M hits/s unslowed at 1 µs would be +100%: observed 500 000/s; 2% -> duty 0.02 */
	d = alloc_budget__duty(2.0, 500000, 1000);
	assert_near(d, 0.02, 1e-9);
	/* duty × unslowed rate × cost == budget */
	d = alloc_budget__duty(5.0, 200000, 1500);
	assert_near(d * (200000 / (1 - 200000 * 1.5e-6)) * 1.5e-6, 0.05, 1e-9);
	/* no hits seen: attach fully (the next slice measures again) */
	assert_near(alloc_budget__duty(2.0, 0, 1000), 1.0, 0);
	/* no budget: never attach */
	assert_near(alloc_budget__duty(0, 1000, 1000), 0, 0);
	/* absurd rates (≥ 1 hit per cost interval) stay finite and tiny */
	d = alloc_budget__duty(2.0, 5e6, 1000);
	assert_true(d > 0 && d < 0.01);
}

static void test_completeness(void **state)
{
	(void)state;
	assert_near(alloc_completeness(1000, 1000, 1000), 1.0, 0);
	assert_near(alloc_completeness(818, 1000, 1000), 0.818, 1e-12);
	assert_near(alloc_completeness(999, 999, 1000), -1, 0); /* too few to judge */
	assert_near(alloc_completeness(0, 0, 0), -1, 0);
}

static void test_mode_names(void **state)
{
	enum alloc_mode m;

	(void)state;
	assert_string_equal(alloc_mode__name(ALLOC_MODE_YOUNG), "young-sample");
	assert_string_equal(alloc_mode__name(ALLOC_MODE_EXACT), "exact");
	assert_string_equal(alloc_mode__name(ALLOC_MODE_BUDGET), "budget");
	assert_string_equal(alloc_mode__name(ALLOC_MODE_OFF), "off");
	assert_int_equal(alloc_mode__parse("exact", &m), 0);
	assert_int_equal(m, ALLOC_MODE_EXACT);
	assert_int_equal(alloc_mode__parse("young", &m), 0);
	assert_int_equal(m, ALLOC_MODE_YOUNG);
	assert_int_equal(alloc_mode__parse("young-sample", &m), 0);
	assert_int_equal(m, ALLOC_MODE_YOUNG);
	assert_int_equal(alloc_mode__parse("off", &m), 0);
	assert_int_equal(m, ALLOC_MODE_OFF);
	assert_int_equal(alloc_mode__parse("budget", &m), -EINVAL); /* budget comes from --alloc-budget */
	assert_int_equal(alloc_mode__parse("", &m), -EINVAL);
	assert_int_equal(alloc_mode__parse(NULL, &m), -EINVAL);
}

/* The BPF side and userspace compile the same header; the layout must not depend on padding
 * rules that differ between clang -target bpf and the host compiler. */
static void test_abi_sizes(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct alloc_target), 64);
	assert_int_equal(offsetof(struct alloc_target, gc_head_size), 24);
	assert_int_equal(sizeof(struct alloc_key), 16);
	assert_int_equal(sizeof(struct alloc_val), 48);
	assert_int_equal(sizeof(struct alloc_pid_stats) % 8, 0);
	assert_int_equal(offsetof(struct alloc_pid_stats, shadow) % 8, 0);
	assert_true(ALLOC_YOUNG_DEFAULT <= ALLOC_YOUNG_HARD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_young_rate),
		cmocka_unit_test(test_budget_duty),
		cmocka_unit_test(test_completeness),
		cmocka_unit_test(test_mode_names),
		cmocka_unit_test(test_abi_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
