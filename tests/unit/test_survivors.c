/* SPDX-License-Identifier: BSD-2-Clause */
/* model/survivors.c: survival decisions at censuses and their address-reuse guards. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/survivors.h"

/* A NEXT_FIRST sample (<= 3.11): confirmed in generation 1 or older. */
static struct surv_sample smp(uint64_t addr, uint64_t stack, uint32_t seq)
{
	return (struct surv_sample){ .addr = addr, .type = 0x7700, .stack_id = stack, .seq = seq,
				     .mode = SURV_PAIR_NEXT_FIRST };
}

/* The census's answer, sorted by address as survivors__probe_list gives it. */
struct answer {
	uint64_t addrs[8], types[8];
	int8_t gens[8];
	int64_t index[8];
	size_t n;
};

static void found(struct answer *a, uint64_t addr, uint64_t type, int gen, int64_t index)
{
	a->addrs[a->n] = addr;
	a->types[a->n] = type;
	a->gens[a->n] = (int8_t)gen;
	a->index[a->n] = index;
	a->n++;
}

static void test_alive_dead_and_aggregates(void **state)
{
	struct survivors sv;
	struct surv_sample s[3] = { smp(0x100, 1, 5), smp(0x200, 1, 6), smp(0x300, 2, 7) };
	struct answer a = { 0 };
	struct surv_type_total tot;
	uint64_t *probe;

	(void)state;
	assert_int_equal(survivors__init(&sv), 0);
	survivors__add(&sv, s, 3, 10);
	assert_int_equal(survivors__probe_list(&sv, &probe), 3);
	assert_true(probe[0] == 0x100 && probe[2] == 0x300);
	free(probe);
	found(&a, 0x100, 0x7700, 1, 3);
	found(&a, 0x300, 0x7700, 2, 9);
	survivors__settle(&sv, a.addrs, a.types, a.gens, a.index, a.n, 10, 1.0);
	assert_int_equal(sv.alive, 2);
	assert_int_equal(sv.died, 1); /* 0x200 is on no list */
	assert_int_equal(sv.nt, 2);   /* the dead sample is no longer followed */
	survivors__type_total(&sv, 0x7700, &tot);
	assert_int_equal(tot.alive, 2);
	assert_int_equal(tot.sampled, 3);
	/* a later census without 0x300: died, its counts stay */
	a.n = 0;
	found(&a, 0x100, 0x7700, 1, 3);
	survivors__settle(&sv, a.addrs, a.types, a.gens, a.index, a.n, 10, 2.0);
	assert_int_equal(sv.alive, 1);
	assert_int_equal(sv.survived, 2);
	survivors__type_total(&sv, 0x7700, &tot);
	assert_int_equal(tot.alive, 1);
	assert_int_equal(tot.survived, 2);
	survivors__free(&sv);
}

static void test_reuse_guards(void **state)
{
	struct survivors sv;
	struct surv_sample s[5] = {
		smp(0x100, 1, 5), /* another type there now */
		smp(0x200, 1, 5), /* generation 0: a newer object */
		smp(0x300, 1, 5), /* generation 1 after a gen-1 collection since the sample */
		smp(0x400, 1, 5), /* fine, in generation 2 */
		smp(0x500, 1, 5), /* fine */
	};
	struct answer a = { 0 };

	(void)state;
	assert_int_equal(survivors__init(&sv), 0);
	survivors__add(&sv, s, 5, 10);
	found(&a, 0x100, 0x9900, 2, 1);
	found(&a, 0x200, 0x7700, 0, 1);
	found(&a, 0x300, 0x7700, 1, 1);
	found(&a, 0x400, 0x7700, 2, 2);
	found(&a, 0x500, 0x7700, 2, 3);
	survivors__settle(&sv, a.addrs, a.types, a.gens, a.index, a.n, 11, 1.0);
	assert_int_equal(sv.alive, 2);
	assert_int_equal(sv.reused, 3);
	/* generations only grow: 0x400 back in generation 1 is another object */
	a.n = 0;
	found(&a, 0x400, 0x7700, 1, 2);
	found(&a, 0x500, 0x7700, 2, 3);
	survivors__settle(&sv, a.addrs, a.types, a.gens, a.index, a.n, 11, 2.0);
	assert_int_equal(sv.alive, 1);
	assert_int_equal(sv.reused, 4);
	survivors__free(&sv);
}

static void test_promotion_order(void **state)
{
	struct survivors sv;
	/* promoted by collections 5, 6, 7: generation 1 holds them in that order */
	struct surv_sample s[3] = { smp(0x100, 1, 5), smp(0x200, 1, 6), smp(0x300, 1, 7) };
	struct answer a = { 0 };

	(void)state;
	assert_int_equal(survivors__init(&sv), 0);
	survivors__add(&sv, s, 3, 10);
	found(&a, 0x100, 0x7700, 1, 50); /* behind the sample of collection 6: a newer object */
	found(&a, 0x200, 0x7700, 1, 20);
	found(&a, 0x300, 0x7700, 1, 30);
	survivors__settle(&sv, a.addrs, a.types, a.gens, a.index, a.n, 10, 1.0);
	assert_int_equal(sv.alive, 2);
	assert_int_equal(sv.reused, 1);
	assert_int_equal(sv.t[0].s.addr, 0x200);
	survivors__free(&sv);
}

/* NEWEST samples (3.12+) are confirmed after a gen-1 collection, in generation 2: the object
 * found in generation 1 (or 0) at the first census is a newer one that took a dead sample's
 * address, even with no gen-1 collection since the sample was added. */
static void test_newest_confirmed_in_gen2(void **state)
{
	struct survivors sv;
	struct surv_sample s[3] = { smp(0x100, 1, 5), smp(0x200, 1, 5), smp(0x300, 2, 5) };
	struct answer a = { 0 };
	struct surv_type_total tot;
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		s[i].mode = SURV_PAIR_NEWEST;
	assert_int_equal(surv_pairing__confirmed_gen(SURV_PAIR_NEWEST), 2);
	assert_int_equal(surv_pairing__confirmed_gen(SURV_PAIR_NEXT_FIRST), 1);
	assert_int_equal(surv_pairing__confirmed_gen(SURV_PAIR_NONE), -1);
	assert_int_equal(survivors__init(&sv), 0);
	survivors__add(&sv, s, 3, 10);
	found(&a, 0x100, 0x7700, 1, 3); /* a newer object, not yet promoted */
	found(&a, 0x200, 0x7700, 0, 4);
	found(&a, 0x300, 0x7700, 2, 9);
	survivors__settle(&sv, a.addrs, a.types, a.gens, a.index, a.n, 10, 1.0);
	assert_int_equal(sv.alive, 1);
	assert_int_equal(sv.reused, 2);
	survivors__type_total(&sv, 0x7700, &tot);
	assert_int_equal(tot.alive, 1);
	assert_int_equal(sv.aggs[tot.top].stack_id, 2);
	survivors__free(&sv);
}

static void test_store_full_counted(void **state)
{
	struct survivors sv;
	struct surv_sample s = smp(0x100, 1, 1);
	int i;

	(void)state;
	assert_int_equal(survivors__init(&sv), 0);
	for (i = 0; i < SURV_STORE_MAX + 3; i++) {
		s.addr = 0x1000 + 16 * (uint64_t)i;
		survivors__add(&sv, &s, 1, 0);
	}
	assert_int_equal(sv.nt, SURV_STORE_MAX);
	assert_int_equal(sv.store_full, 3);
	assert_int_equal(sv.sampled, SURV_STORE_MAX + 3);
	survivors__free(&sv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alive_dead_and_aggregates),
		cmocka_unit_test(test_reuse_guards),
		cmocka_unit_test(test_promotion_order),
		cmocka_unit_test(test_newest_confirmed_in_gen2),
		cmocka_unit_test(test_store_full_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
