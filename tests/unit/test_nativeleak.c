/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the native leak verdicts: samples verified against a (hand-made) heap walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/nativeleak.h"

#define NS 1000000000ull

static void test_same_block(void **state)
{
	(void)state;
	/* malloc(4000): request2size 4016; a whole chunk up to nb + 31 when the remainder is too small */
	assert_true(nativeleak__same_block(4000, 1, MH_IN_USE, 4016));
	assert_true(nativeleak__same_block(4000, 1, MH_IN_USE, 4032));
	assert_false(nativeleak__same_block(4000, 1, MH_IN_USE, 4064));
	assert_false(nativeleak__same_block(4000, 1, MH_IN_USE, 4000));
	assert_false(nativeleak__same_block(4000, 1, MH_TCACHE, 4016));
	assert_false(nativeleak__same_block(4000, 1, MH_FASTBIN, 4016));
	assert_false(nativeleak__same_block(4000, 1, MH_FREE, 4016));
	assert_true(nativeleak__same_block(1, 1, MH_IN_USE, 32)); /* MINSIZE */
	/* mmapped: ALIGN_UP (nb + SIZE_SZ, 4096) */
	assert_true(nativeleak__same_block(200000, 1, MH_MMAPPED, 200704));
	assert_false(nativeleak__same_block(200000, 1, MH_MMAPPED, 1 << 20));
}

/* Two stacks: one whose blocks stay (a leak), one whose chunks are free or changed size. */
static void test_verify(void **state)
{
	struct mallocheap h;
	struct native_report rep;
	struct mallocheap_chunk chunks[64];
	struct native_sample samples[64];
	struct native_stack stacks[2];
	uint64_t now = 1000 * NS;
	int i, n = 0;

	(void)state;
	memset(&h, 0, sizeof(h));
	memset(&rep, 0, sizeof(rep));
	memset(stacks, 0, sizeof(stacks));
	for (i = 0; i < 30; i++) { /* stack 0: 30 blocks of 4000, all still in use, 10..40 s old */
		chunks[n] = (struct mallocheap_chunk){ .addr = 0x100000 + i * 0x1000, .size16 = 4016 >> 4, .state = MH_IN_USE };
		samples[n] = (struct native_sample){ .addr = chunks[n].addr + 16, .size = 4000, .ns = now - (10 + i) * NS,
						     .stack = 0, .fn = 1 };
		n++;
	}
	for (i = 0; i < 20; i++) { /* stack 1: tcache, free, or reused for another size */
		chunks[n] = (struct mallocheap_chunk){ .addr = 0x200000 + i * 0x1000,
						       .size16 = (i % 3 == 2 ? 8016 : 4016) >> 4,
						       .state = i % 3 == 0 ? MH_TCACHE : i % 3 == 1 ? MH_FREE : MH_IN_USE };
		samples[n] = (struct native_sample){ .addr = chunks[n].addr + 16, .size = 4000, .ns = now - 30 * NS,
						     .stack = 1, .fn = 1 };
		n++;
	}
	h.chunks = chunks;
	h.nchunks = (size_t)n;
	h.allocator = MH_GLIBC;
	stacks[0].key = 10;
	stacks[0].sampled_blocks = 30;
	stacks[1].key = 11;
	stacks[1].sampled_blocks = 200;
	rep.samples = malloc(sizeof(samples));
	memcpy(rep.samples, samples, sizeof(samples));
	rep.nsamples = n;
	rep.stacks = malloc(sizeof(stacks));
	memcpy(rep.stacks, stacks, sizeof(stacks));
	rep.nstacks = 2;
	rep.counters.every = 1;
	rep.counters.observed_s = 6;
	rep.counters.elapsed_s = 65;
	rep.counters.observed_recent_s = -1; /* no slice history: the share of the elapsed time */

	nativeleak__verify(&rep, &h, now);
	assert_int_equal(rep.verified, NATIVE_VERIFIED_HEADERS);
	assert_int_equal(rep.stacks[0].key, 10); /* the suspect first */
	assert_true(rep.stacks[0].suspect);
	assert_int_equal(rep.stacks[0].out_blocks, 30);
	assert_true(rep.stacks[0].oldest_age_s > 38);
	/* 30 x 4000 B over the probed share of the 60 s the aged blocks come from: 6 s x 60 / 65 */
	assert_true(rep.stacks[0].growth_bytes_per_min > 1.29e6 && rep.stacks[0].growth_bytes_per_min < 1.31e6);
	assert_false(rep.stacks[1].suspect);
	assert_int_equal(rep.stacks[1].out_blocks, 0);
	assert_int_equal(rep.stacks[1].gone_blocks, 20);
	assert_int_equal(rep.nsamples, 30); /* the freed ones are forgotten */
	for (i = 0; i < rep.nsamples; i++)
		assert_int_equal(rep.samples[i].stack, 0); /* remapped after the sort */

	/* with the slice history: the attached time before the last 5 s exactly (6 s - 1 s) */
	rep.counters.observed_recent_s = 1;
	nativeleak__verify(&rep, &h, now);
	assert_true(rep.stacks[0].growth_bytes_per_min > 1.43e6 && rep.stacks[0].growth_bytes_per_min < 1.45e6);

	/* another allocator: nothing verifiable, no verdict, nothing forgotten */
	nativeleak__verify(&rep, NULL, now);
	assert_int_equal(rep.verified, NATIVE_VERIFIED_EVENTS);
	assert_false(rep.stacks[0].suspect);
	assert_int_equal(rep.nsamples, 30);
	native_report__free(&rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_block),
		cmocka_unit_test(test_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
