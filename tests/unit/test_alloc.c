/* SPDX-License-Identifier: BSD-2-Clause */
/* Pure logic of the allocation module: the young-sample estimate, the overhead budget accounts, the
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
#include "probes/alloc.h"
#include "probes/budget.h"

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

static const struct budget_params BP = { .pct = 2.0, .plan = 1.0, .prior_cost_ns = 2000, .prior_hits = 5000,
					 .cap_s = 10 };

static struct budget_reading rd(double wall_s, double cpu_s, double sys_s)
{
	return (struct budget_reading){ (uint64_t)(wall_s * 1e9), (uint64_t)(cpu_s * 1e9), (uint64_t)(sys_s * 1e9) };
}

/* A CPU-bound target: 1 CPU s per wall s, 2% system time of its own. */
static void test_budget_cpu_bound(void **state)
{
	struct budget_pid b;
	struct budget_reading r;
	double need;

	(void)state;
	budget__init(&b);
	r = rd(100, 50, 1);
	budget__detached(&b, &BP, &r); /* opens the books: no tokens yet */
	assert_near(b.tokens_ns, 0, 0);
	/* before any slice: a 20 ms slice may cost the whole 20 ms */
	need = budget__expected_ns(&b, &BP, 0.02);
	assert_near(need, 0.02e9, 1);
	/* 0.5 s later: 2% of 0.5 s of its CPU = 10 ms, not enough */
	r = rd(100.5, 50.5, 1.01);
	assert_true(budget__available_ns(&b, &BP, &r) < need);
	assert_near(budget__available_ns(&b, &BP, &r), 0.01e9, 1e3);
	/* 1 s: enough; attach */
	r = rd(101, 51, 1.02);
	assert_true(budget__available_ns(&b, &BP, &r) >= need);
	budget__detached(&b, &BP, &r);
	assert_near(b.util, 1.0, 1e-9);
	assert_near(b.base_sys, 0.02, 1e-9);
	/* 20 ms slice: 10 000 hits; 18 ms of extra system time (1.8 µs per hit) on top of 0.4 ms usual */
	r = rd(101.02, 51.02, 1.02 + 0.0004 + 0.018);
	budget__slice(&b, &BP, &r, 10000, 0.02);
	/* the learnt cost: (18 ms + 2000 ns × 5000) / (10 000 + 5000) hits */
	assert_near(budget__hit_cost_ns(&b, &BP), (0.018e9 + 2000 * 5000.0) / 15000, 1);
	assert_near(b.spent_ns, budget__hit_cost_ns(&b, &BP) * 10000, 1);
	/* the observed time is the time the probes were in */
	assert_near(b.observed_ns, 0.02e9, 1);
	/* the bucket paid the slice's cost and earned 2% of the CPU left to the target's own work */
	assert_near(b.tokens_ns, 0.02e9 - b.spent_ns + 0.02 * (0.02e9 - b.spent_ns), 1e3);
	/* the next slice is expected to cost what this one did per hit, at the rate seen */
	assert_near(budget__expected_ns(&b, &BP, 0.01), budget__hit_cost_ns(&b, &BP) * 500000 * 0.01, 1);
}

/* The scheduler plans for a share of the budget: tokens accrue at plan × pct. */
static void test_budget_plan(void **state)
{
	struct budget_params bp = BP;
	struct budget_pid b;
	struct budget_reading r;

	(void)state;
	bp.plan = 0.75;
	budget__init(&b);
	r = rd(0, 0, 0);
	budget__detached(&b, &bp, &r);
	r = rd(1, 1, 0);
	assert_near(budget__available_ns(&b, &bp, &r), 0.75 * 0.02e9, 1);
	/* unknown CPU rate: waits as if the process used 2% of a core; at 1 CPU, 0.75 × 2% of it */
	assert_near(budget__wait_ns(&b, &bp, 3e5), 3e5 / (0.75 * 0.02 * 0.02), 1);
	budget__detached(&b, &bp, &r);
	assert_near(budget__wait_ns(&b, &bp, 3e5), 3e5 / (0.75 * 0.02), 1);
	assert_near(budget__wait_ns(&b, &bp, 0), 0, 0);
	/* and the bucket holds pct% of cap_s at most */
	r = rd(1000, 1000, 0);
	assert_near(budget__available_ns(&b, &bp, &r), 0.02 * 10e9, 1);
}

/* A paced target with slack: 10% CPU. */
static void test_budget_paced(void **state)
{
	struct budget_pid b;
	struct budget_reading r;

	(void)state;
	budget__init(&b);
	r = rd(0, 0, 0);
	budget__detached(&b, &BP, &r);
	r = rd(10, 1, 0.05);
	budget__detached(&b, &BP, &r);
	assert_near(b.util, 0.1, 1e-9);
	/* before a slice the worst case is 15 x its 10% of the slice, capped at the slice */
	assert_near(budget__expected_ns(&b, &BP, 0.1), 0.1e9, 1);
	/* 100 ms slice, 2000 hits, 4 ms extra: its work (10 ms) fits in the 96 ms left */
	r = rd(10.1, 1.014, 0.05 + 0.0005 + 0.004);
	budget__slice(&b, &BP, &r, 2000, 0.1);
	assert_near(b.observed_ns, 0.1e9, 1);
	/* charged by the measured cost (4 ms over 2000 hits, shrunk towards the 2 µs prior) */
	assert_near(b.spent_ns, (0.004e9 + 2000 * 5000.0) / 7000 * 2000, 1e3);
}

/* Never more than pct% of the target's own CPU in total, whatever the hit rate. */
static void test_budget_invariant(void **state)
{
	struct budget_pid b;
	struct budget_reading r;
	double wall = 0, cpu = 0, sys = 0, slice;
	int i, slices = 0;

	(void)state;
	budget__init(&b);
	r = rd(wall, cpu, sys);
	budget__detached(&b, &BP, &r);
	for (i = 0; i < 10000; i++) { /* 10 ms steps, CPU-bound, 3 µs per hit at 300 000 hits/s */
		slice = 0.01;
		r = rd(wall + slice, cpu + slice, sys);
		if (budget__available_ns(&b, &BP, &r) >= budget__expected_ns(&b, &BP, slice)) {
			double hits = 300000 * slice, extra = hits * 3e-6;

			budget__detached(&b, &BP, &r);
			wall += slice;
			cpu += slice;
			r = rd(wall + slice, cpu + slice, sys + extra);
			budget__slice(&b, &BP, &r, hits, slice);
			sys += extra;
			slices++;
		}
		wall += slice;
		cpu += slice;
	}
	assert_true(slices > 10);
	/* within the budget, with at most one slice's worth of estimation error */
	assert_true(b.spent_ns <= 0.02 * b.useful_ns + 0.01e9);
	/* and the learnt cost converged on the real one */
	assert_near(budget__hit_cost_ns(&b, &BP), 3000, 150);
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
		cmocka_unit_test(test_budget_cpu_bound),
		cmocka_unit_test(test_budget_paced),
		cmocka_unit_test(test_budget_plan),
		cmocka_unit_test(test_budget_invariant),
		cmocka_unit_test(test_completeness),
		cmocka_unit_test(test_mode_names),
		cmocka_unit_test(test_abi_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
