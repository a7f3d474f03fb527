/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the memory parsers: pymalloc pool headers and arena discovery, smaps text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/arenas.h"
#include "analysis/memory.h"
#include "target/smaps.h"

#define POOL 16384u
#define ARENA (1u << 20)

/* A pool as pymalloc_pool_init leaves it after `used` allocations of class szidx and `freed` frees
 * of the first blocks (LIFO onto the free list). */
static void make_pool(unsigned char *pool, uint64_t addr, uint32_t szidx, uint32_t arenaindex, uint32_t used,
		      uint32_t freed)
{
	uint32_t size = (szidx + 1) * 16, carved = used + 1, maxnext = POOL - size, next, count, i;
	uint64_t fb = 0, zero = 0, ref;

	if (carved > (POOL - 48) / size)
		carved = (POOL - 48) / size;
	next = 48 + carved * size;
	/* the one spare carved block (or none when full) heads the free list, then the freed ones */
	if (used < carved) {
		fb = addr + 48 + used * size;
		memcpy(pool + 48 + used * size, &zero, 8);
	}
	for (i = 0; i < freed; i++) {
		memcpy(pool + 48 + i * size, &fb, 8);
		fb = addr + 48 + i * size;
	}
	count = used - freed;
	ref = count;
	memcpy(pool, &ref, 8);
	memcpy(pool + 8, &fb, 8);
	memcpy(pool + 32, &arenaindex, 4);
	memcpy(pool + 36, &szidx, 4);
	memcpy(pool + 40, &next, 4);
	memcpy(pool + 44, &maxnext, 4);
}

static void test_pool_header(void **state)
{
	unsigned char *pool = calloc(1, POOL), isfree[2048];
	const uint64_t addr = 0x7f0000004000ull;
	struct pool_info pi;
	uint32_t bad;

	(void)state;
	make_pool(pool, addr, 3, 7, 100, 10);
	assert_int_equal(arenas__check_pool(pool, addr, POOL, &pi), 0);
	assert_int_equal(pi.size, 64);
	assert_int_equal(pi.count, 90);
	assert_int_equal(pi.carved, 101);
	assert_int_equal(pi.arenaindex, 7);
	assert_int_equal(pi.capacity, (POOL - 48) / 64);
	assert_int_equal(arenas__pool_free(pool, addr, POOL, &pi, isfree), 0);
	assert_int_equal(isfree[0], 1);
	assert_int_equal(isfree[100], 1);
	assert_int_equal(isfree[50], 0);

	/* a pool address that is not the pool's */
	assert_int_equal(arenas__check_pool(pool, addr + POOL, POOL, &pi), -EPROTO);
	/* maxnextoffset that does not match the size class */
	bad = POOL - 80;
	memcpy(pool + 44, &bad, 4);
	assert_int_equal(arenas__check_pool(pool, addr, POOL, &pi), -EPROTO);
	make_pool(pool, addr, 3, 7, 100, 10);
	/* count above what was carved */
	bad = 500;
	memcpy(pool, &bad, 4);
	assert_int_equal(arenas__check_pool(pool, addr, POOL, &pi), -EPROTO);
	make_pool(pool, addr, 3, 7, 100, 10);
	/* a free list that loops is caught by the walk, not trusted */
	{
		uint64_t self = addr + 48;

		memcpy(pool + 48, &self, 8);
		assert_int_equal(arenas__check_pool(pool, addr, POOL, &pi), 0);
		assert_int_equal(arenas__pool_free(pool, addr, POOL, &pi, isfree), -EPROTO);
	}
	/* zeros (a never-carved pool) are no pool */
	memset(pool, 0, POOL);
	assert_int_equal(arenas__check_pool(pool, addr, POOL, &pi), -EPROTO);
	free(pool);
}

static void test_find_arenas(void **state)
{
	/* two arenas in one mapping: index 3 with 5 carved pools (unaligned start), index 9 full */
	const uint64_t base = 0x7f0000001000ull;
	size_t len = 3 * ARENA;
	unsigned char *mem = calloc(1, len);
	struct arena found[8];
	uint64_t first = (base + POOL - 1) & ~(uint64_t)(POOL - 1), p;
	struct arena_geometry g = { ARENA, POOL };
	long n;
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		p = first + (uint64_t)i * POOL;
		make_pool(mem + (p - base), p, i % 32, 3, 10 + i, 0);
	}
	for (i = 0; i < 64; i++) {
		p = first + ARENA + (uint64_t)i * POOL;
		make_pool(mem + (p - base), p, 1, 9, 5, 0);
	}
	n = arenas__find_in(mem, base, len, &g, found, 8);
	assert_int_equal(n, 2);
	assert_int_equal(found[0].index, 3);
	assert_int_equal(found[0].pools_begin, first);
	assert_int_equal(found[0].pools_end, first + 5 * POOL);
	assert_int_equal(found[1].index, 9);
	assert_int_equal(found[1].pools_end - found[1].pools_begin, ARENA); /* capped at 64 pools */
	/* bounded output */
	assert_int_equal(arenas__find_in(mem, base, len, &g, found, 1), 2);
	g.pool_size = 3000;
	assert_int_equal(arenas__find_in(mem, base, len, &g, found, 8), -EINVAL);
	free(mem);
}

static void test_account(void **state)
{
	struct arenas_stats st;
	struct pool_info pi = { .count = 10, .szidx = 2, .size = 48, .capacity = 340 };

	(void)state;
	memset(&st, 0, sizeof(st));
	arenas__account_pool(&st, &pi);
	pi.count = 0;
	arenas__account_pool(&st, &pi);
	assert_int_equal(st.pools_used, 1);
	assert_int_equal(st.pools_unused, 1);
	assert_int_equal(st.cls[2].blocks_used, 10);
	assert_int_equal(st.cls[2].blocks_avail, 330);
	assert_int_equal(st.bytes_used, 480);
	assert_int_equal(st.nclasses, 3);
	assert_true(arenas__confidence(&st) == 1.0);
}

static const char SMAPS[] =
	"55d0c0000000-55d0c0001000 r--p 00000000 fe:01 42    /usr/bin/python3.11\n"
	"Size:                  4 kB\n"
	"Rss:                   4 kB\n"
	"Pss:                   2 kB\n"
	"Shared_Clean:          4 kB\n"
	"Shared_Dirty:          0 kB\n"
	"Private_Clean:         0 kB\n"
	"Private_Dirty:         0 kB\n"
	"Anonymous:             0 kB\n"
	"Swap:                  0 kB\n"
	"VmFlags: rd mr mw me sd\n"
	"55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0    [heap]\n"
	"Rss:                 100 kB\n"
	"Private_Dirty:       100 kB\n"
	"Anonymous:           100 kB\n"
	"7f0000000000-7f0000001000 ---p 00000000 00:00 0\n"
	"Rss:                   0 kB\n"
	"7f0000001000-7f0000801000 rw-p 00000000 00:00 0\n"
	"Rss:                  20 kB\n"
	"Anonymous:            20 kB\n"
	"7f0001000000-7f0001100000 rw-p 00000000 00:00 0\n"
	"Rss:                1024 kB\n"
	"Anonymous:          1024 kB\n"
	"Swap:                  8 kB\n"
	"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0    [stack]\n"
	"Rss:                  12 kB\n"
	"7ffd00100000-7ffd00102000 r-xp 00000000 00:00 0    [vdso]\n"
	"Rss:                   8 kB\n";

static void test_smaps(void **state)
{
	struct smaps_vma v[16];
	struct smaps_totals t;
	int n;

	(void)state;
	n = smaps__parse(SMAPS, sizeof(SMAPS) - 1, v, 16, &t);
	assert_int_equal(n, 7);
	assert_int_equal(t.rss, (4 + 100 + 20 + 1024 + 12 + 8) * 1024);
	assert_int_equal(t.kind_rss[SMAPS_FILE], 4 * 1024);
	assert_int_equal(t.kind_rss[SMAPS_HEAP], 100 * 1024);
	assert_int_equal(t.kind_rss[SMAPS_THREAD_STACK], 20 * 1024);
	assert_int_equal(t.kind_rss[SMAPS_ANON], 1024 * 1024);
	assert_int_equal(t.kind_rss[SMAPS_STACK], 12 * 1024);
	assert_int_equal(t.kind_rss[SMAPS_OTHER], 8 * 1024);
	assert_int_equal(t.shared, 4 * 1024);
	assert_int_equal(t.swap, 8 * 1024);
	assert_int_equal(t.thread_stacks, 1);
	assert_int_equal(v[2].kind, SMAPS_OTHER); /* the guard */
	assert_int_equal(v[3].kind, SMAPS_THREAD_STACK);
	/* bounded: fewer slots than VMAs still totals all */
	assert_int_equal(smaps__parse(SMAPS, sizeof(SMAPS) - 1, v, 2, &t), 7);
	assert_int_equal(t.nvmas, 7);
	/* not smaps */
	assert_int_equal(smaps__parse("Rss: 4 kB\n", 10, v, 16, &t), -EINVAL);
	/* an absurd number is ignored, not overflowed */
	{
		static const char big[] = "1000-2000 rw-p 00000000 00:00 0\nRss: 99999999999999999999999 kB\n";

		assert_int_equal(smaps__parse(big, sizeof(big) - 1, v, 16, &t), 1);
		assert_int_equal(t.rss, 0);
	}
}

/* Where RSS grows, in words: the part that moves, and what that means. */
static void test_explain(void **state)
{
	struct memory_row m;
	char buf[256];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.valid = true;
	snprintf(m.arena_source, sizeof(m.arena_source), "scan");
	m.rss_per_min = 2.1 * 1048576;
	m.malloc_per_min = 2.0 * 1048576;
	m.arenas_per_min = 1000;
	m.objects_per_min = 2000;
	memory__explain(&m, buf, sizeof(buf));
	assert_string_equal(buf, "pymalloc arenas flat, Python objects flat, malloc heap and anonymous memory "
				 "+2.0 MiB/min: large (> 512 B) or native allocations");
	m.malloc_per_min = 0;
	m.arenas_per_min = 2.0 * 1048576;
	memory__explain(&m, buf, sizeof(buf));
	assert_non_null(strstr(buf, "pymalloc arenas +2.0 MiB/min"));
	assert_non_null(strstr(buf, "fragmentation"));
	m.objects_per_min = 1.9 * 1048576;
	memory__explain(&m, buf, sizeof(buf));
	assert_non_null(strstr(buf, ": Python objects"));
	snprintf(m.arena_source, sizeof(m.arena_source), "none");
	memory__explain(&m, buf, sizeof(buf));
	assert_non_null(strstr(buf, "pymalloc arenas unknown"));
	assert_null(strstr(buf, "Python objects"));
	m.valid = false;
	memory__explain(&m, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_header),
		cmocka_unit_test(test_find_arenas),
		cmocka_unit_test(test_account),
		cmocka_unit_test(test_smaps),
		cmocka_unit_test(test_explain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
