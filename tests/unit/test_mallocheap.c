/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the glibc heap walker over a fake address space built like glibc 2.36 lays it out. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/mallocheap.h"

/*
 * Fake address space (one buffer at BASE):
 *   BASE + 0          a non-main heap: heap_info (48 B), malloc_state, chunks, top   [1 MiB]
 *   BASE + 1 MiB      [heap]: tcache_perthread_struct (0x290), chunks, top          [1 MiB]
 *   BASE + 2 MiB      libc .data: main_arena somewhere inside                        [64 KiB]
 *   BASE + 3 MiB      two mmapped chunks back to back (one merged mapping)           [192 KiB]
 * BASE is 256 MiB-aligned, so the non-main heap is HEAP_MAX_SIZE-aligned as glibc's are.
 */
#define BASE 0x10000000ull
#define SPACE (4u << 20)
#define NM_HEAP BASE
#define MAIN_HEAP (BASE + (1u << 20))
#define LIBC_DATA (BASE + (2u << 20))
#define MAIN_ARENA (LIBC_DATA + 0x1c60)
#define MMAP_AREA (BASE + (3u << 20))
#define MSTATE_SIZE 2200

struct fake {
	unsigned char *buf;
	struct remote_mem mem;
	struct remote r;
	struct mallocheap_input in;
	uint64_t cur; /* next chunk address while building a heap */
};

static void w64(struct fake *f, uint64_t a, uint64_t v)
{
	assert_true(a >= BASE && a + 8 <= BASE + SPACE);
	memcpy(f->buf + (a - BASE), &v, 8);
}

/* Appends a chunk of size sz; the previous chunk's in-use state goes in its PREV_INUSE bit. */
static uint64_t chunk(struct fake *f, uint64_t sz, bool prev_inuse, unsigned extra_bits)
{
	uint64_t c = f->cur;

	w64(f, c + 8, sz | (prev_inuse ? 1 : 0) | extra_bits);
	f->cur += sz;
	return c;
}

/* A free chunk: its size repeated in the next chunk's prev_size (set when the next is added). */
static void set_prev_size(struct fake *f, uint64_t next, uint64_t sz)
{
	w64(f, next, sz);
}

static void empty_bins(struct fake *f, uint64_t arena)
{
	int i;

	/* bin_at(i) = &bins[2(i-1)] - 16; bins at +112 (glibc 2.27+) */
	for (i = 1; i < 128; i++) {
		uint64_t self = arena + 112 + 16 * (i - 1) - 16;

		w64(f, arena + 112 + 16 * (i - 1), self);
		w64(f, arena + 112 + 16 * (i - 1) + 8, self);
	}
	w64(f, arena + 2160, MAIN_ARENA); /* next: the circular arena list */
}

static uint64_t protect(uint64_t pos, uint64_t ptr)
{
	return (pos >> 12) ^ ptr; /* PROTECT_PTR, glibc 2.32+ */
}

struct layout {
	uint64_t tcache, a[8], freed, fast1, fast2, top, nm_first, nm_leak, nm_top;
};

static void build(struct fake *f, struct layout *L, bool safe_linking)
{
	uint64_t c, tc;
	int i;

	memset(f->buf, 0, SPACE);
	/* main heap */
	f->cur = MAIN_HEAP;
	L->tcache = tc = chunk(f, 0x290, true, 0);
	for (i = 0; i < 8; i++)
		L->a[i] = chunk(f, 0x50, true, 0); /* a[0..7] in use, size 0x50 */
	L->freed = chunk(f, 0x400, true, 0);	   /* free by header */
	L->fast1 = chunk(f, 0x20, false, 0);	   /* after a free chunk: PREV_INUSE clear */
	set_prev_size(f, L->fast1, 0x400);
	L->fast2 = chunk(f, 0x20, true, 0);
	c = chunk(f, 0x100, true, 0); /* in use */
	(void)c;
	L->top = chunk(f, MAIN_HEAP + (1u << 20) - f->cur, true, 0);
	/* tcache: bin 3 (chunk 0x50) holds a[2] -> a[5]; entries are user pointers */
	w64(f, tc + 16 + 2 * 3, 0); /* counts: not trusted, left as is */
	w64(f, tc + 16 + 128 + 8 * 3, L->a[2] + 16);
	w64(f, L->a[2] + 16, safe_linking ? protect(L->a[2] + 16, L->a[5] + 16) : L->a[5] + 16);
	w64(f, L->a[5] + 16, safe_linking ? protect(L->a[5] + 16, 0) : 0);
	/* main_arena in libc data: top, fastbinsY[0] -> fast1 -> fast2 */
	empty_bins(f, MAIN_ARENA);
	w64(f, MAIN_ARENA + 96, L->top);
	w64(f, MAIN_ARENA + 16, L->fast1);
	w64(f, L->fast1 + 16, safe_linking ? protect(L->fast1 + 16, L->fast2) : L->fast2);
	w64(f, L->fast2 + 16, safe_linking ? protect(L->fast2 + 16, 0) : 0);
	/* a decoy: the top pointer alone elsewhere in .data must not be taken for main_arena */
	w64(f, LIBC_DATA + 0x100 + 96, L->top);

	/* non-main heap: heap_info { ar_ptr, prev, size, mprotect_size, pagesize } */
	w64(f, NM_HEAP, NM_HEAP + 48);
	w64(f, NM_HEAP + 8, 0);
	w64(f, NM_HEAP + 16, 1u << 20);
	w64(f, NM_HEAP + 24, 1u << 20);
	w64(f, NM_HEAP + 32, 4096);
	empty_bins(f, NM_HEAP + 48);
	f->cur = (NM_HEAP + 48 + MSTATE_SIZE + 15) & ~15ull;
	L->nm_first = chunk(f, 0x30, true, 4);
	L->nm_leak = chunk(f, 0x1010, true, 4);
	L->nm_top = chunk(f, NM_HEAP + (1u << 20) - f->cur, true, 0);
	w64(f, NM_HEAP + 48 + 96, L->nm_top);

	/* two mmapped chunks of 64 KiB and 128 KiB, one merged mapping */
	w64(f, MMAP_AREA + 8, (64u << 10) | 2);
	w64(f, MMAP_AREA + (64u << 10) + 8, (128u << 10) | 2);

	memset(&f->in, 0, sizeof(f->in));
	f->in.allocator = MH_GLIBC;
	f->in.heap_start = MAIN_HEAP;
	f->in.heap_end = MAIN_HEAP + (1u << 20);
	f->in.anon[f->in.nanon++] = (struct mallocheap_region){ NM_HEAP, NM_HEAP + (1u << 20) };
	f->in.anon[f->in.nanon++] = (struct mallocheap_region){ MMAP_AREA, MMAP_AREA + (192u << 10) };
	f->in.libc_data[f->in.nlibc_data++] = (struct mallocheap_region){ LIBC_DATA, LIBC_DATA + (64u << 10) };
	f->mem = (struct remote_mem){ .base = BASE, .buf = f->buf, .size = SPACE };
	remote__init_mem(&f->r, &f->mem);
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	f->buf = calloc(1, SPACE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	free(f->buf);
	free(f);
	return 0;
}

static void check_walk(struct fake *f, struct layout *L, int safe)
{
	struct mallocheap h;
	uint64_t sz = 0;

	assert_int_equal(mallocheap__walk(&f->r, &f->in, &h), 0);
	assert_false(h.partial);
	assert_int_equal(h.main_arena, MAIN_ARENA);
	assert_true(h.fastbins_checked);
	assert_int_equal(h.safe_linking, safe);
	assert_int_equal(h.tcaches, 1);
	assert_int_equal(h.tcache_blocks, 2);
	assert_int_equal(h.tcache_bytes, 2 * 0x50);
	assert_int_equal(h.fastbin_blocks, 2);
	assert_int_equal(h.fastbin_bytes, 2 * 0x20);
	assert_int_equal(h.free_blocks, 1);
	assert_int_equal(h.free_bytes, 0x400);
	assert_int_equal(h.mmapped_blocks, 2);
	assert_int_equal(h.mmapped_bytes, 192u << 10);
	assert_int_equal(h.heaps, 2);
	assert_int_equal(h.arenas, 2);
	assert_int_equal(h.inconsistencies, 0);
	/* in use: tcache struct 0x290, 6 x 0x50, 0x100; non-main 0x30 + 0x1010; mmapped 192 KiB */
	assert_int_equal(h.in_use_blocks, 1 + 6 + 1 + 2 + 2);
	assert_int_equal(h.in_use_bytes, 0x290 + 6 * 0x50 + 0x100 + 0x30 + 0x1010 + (192u << 10));
	assert_int_equal(h.cls[mallocheap__class(0x50)].blocks, 6);
	assert_int_equal(h.cls[mallocheap__class(0x1010)].bytes, 0x1010);

	assert_int_equal(mallocheap__lookup(&h, L->a[0] + 16, &sz), MH_IN_USE);
	assert_int_equal(sz, 0x50);
	assert_int_equal(mallocheap__lookup(&h, L->a[2] + 16, NULL), MH_TCACHE);
	assert_int_equal(mallocheap__lookup(&h, L->a[5] + 16, NULL), MH_TCACHE);
	assert_int_equal(mallocheap__lookup(&h, L->fast2 + 16, NULL), MH_FASTBIN);
	assert_int_equal(mallocheap__lookup(&h, L->freed + 16, NULL), MH_FREE);
	assert_int_equal(mallocheap__lookup(&h, L->top + 16, NULL), MH_TOP);
	assert_int_equal(mallocheap__lookup(&h, L->nm_leak + 16, &sz), MH_IN_USE);
	assert_int_equal(sz, 0x1010);
	assert_int_equal(mallocheap__lookup(&h, MMAP_AREA + (64u << 10) + 16, &sz), MH_MMAPPED);
	assert_int_equal(sz, 128u << 10);
	assert_int_equal(mallocheap__lookup(&h, L->a[0] + 32, NULL), MH_NOT_A_CHUNK);
	mallocheap__free(&h);
}

static void test_walk_safe_linking(void **state)
{
	struct fake *f = *state;
	struct layout L;

	build(f, &L, true);
	check_walk(f, &L, 1);
}

static void test_walk_plain_links(void **state)
{
	struct fake *f = *state;
	struct layout L;

	build(f, &L, false); /* glibc 2.26-2.31 */
	check_walk(f, &L, 0);
}

/* A corrupt size in the middle: the walk stops there, partial with a reason; what it saw stays. */
static void test_corrupt_header(void **state)
{
	struct fake *f = *state;
	struct mallocheap h;
	struct layout L;

	build(f, &L, true);
	w64(f, L.a[4] + 8, 0x1339); /* 0x1338: not a multiple of 16 */
	assert_int_equal(mallocheap__walk(&f->r, &f->in, &h), 0);
	assert_true(h.partial);
	assert_non_null(strstr(h.partial_reason, "invalid chunk header"));
	assert_int_equal(mallocheap__lookup(&h, L.a[0] + 16, NULL), MH_IN_USE);
	assert_int_equal(mallocheap__lookup(&h, L.a[6] + 16, NULL), MH_NOT_A_CHUNK);
	/* no top seen: main_arena is found by its bins alone (all of them empty or in [heap]) */
	assert_int_not_equal(h.main_arena, 0);
	assert_true(h.fastbins_checked);
	mallocheap__free(&h);
}

/* The target exits (or execs) under the walk: the heap becomes unreadable. */
static void test_heap_vanishes(void **state)
{
	struct fake *f = *state;
	struct mallocheap h;
	struct layout L;

	build(f, &L, true);
	f->mem.size = (MAIN_HEAP - BASE) + 0x600; /* everything past here "unmapped" */
	assert_int_equal(mallocheap__walk(&f->r, &f->in, &h), 0);
	assert_true(h.partial);
	assert_int_equal(mallocheap__lookup(&h, L.a[0] + 16, NULL), MH_IN_USE);
	mallocheap__free(&h);
}

/* A tcache list that loops, and one whose link points at a chunk of another size. */
static void test_hostile_lists(void **state)
{
	struct fake *f = *state;
	struct mallocheap h;
	struct layout L;

	build(f, &L, true);
	w64(f, L.a[5] + 16, protect(L.a[5] + 16, L.a[2] + 16)); /* a[5] -> a[2]: a cycle */
	w64(f, L.fast2 + 16, protect(L.fast2 + 16, L.a[1]));	    /* fastbin 0x20 -> a 0x50 chunk */
	assert_int_equal(mallocheap__walk(&f->r, &f->in, &h), 0);
	assert_int_equal(h.tcache_blocks, 2);
	assert_int_equal(h.fastbin_blocks, 2);
	assert_int_equal(mallocheap__lookup(&h, L.a[1] + 16, NULL), MH_IN_USE);
	assert_true(h.inconsistencies >= 2);
	mallocheap__free(&h);
}

/* A chunk of tcache size whose entries do not point at chunks of their bins is not a tcache. */
static void test_fake_tcache_rejected(void **state)
{
	struct fake *f = *state;
	struct mallocheap h;
	struct layout L;

	build(f, &L, true);
	w64(f, L.tcache + 16 + 128 + 8 * 5, L.a[0] + 16); /* bin 5 is 0x70, a[0] is 0x50 */
	assert_int_equal(mallocheap__walk(&f->r, &f->in, &h), 0);
	assert_int_equal(h.tcaches, 0);
	assert_int_equal(h.tcache_blocks, 0);
	assert_int_equal(mallocheap__lookup(&h, L.a[2] + 16, NULL), MH_IN_USE);
	mallocheap__free(&h);
}

static void test_budget_and_caps(void **state)
{
	struct fake *f = *state;
	struct mallocheap h;
	struct layout L;

	build(f, &L, true);
	f->in.max_chunks = 4;
	assert_int_equal(mallocheap__walk(&f->r, &f->in, &h), 0);
	assert_true(h.partial);
	assert_non_null(strstr(h.partial_reason, "cap"));
	assert_true(h.nchunks <= 4);
	mallocheap__free(&h);
	f->in.max_chunks = 0;
	f->in.max_bytes = 4096;
	assert_int_equal(mallocheap__walk(&f->r, &f->in, &h), 0);
	assert_true(h.partial);
	assert_true(h.bytes_read <= 4096);
	mallocheap__free(&h);
}

static void test_other_allocators(void **state)
{
	struct proc_map maps[4];
	struct mallocheap_input *in = malloc(sizeof(*in));
	struct mallocheap h;
	struct fake *f = *state;

	(void)f;
	memset(maps, 0, sizeof(maps));
	proc__parse_maps_line("55d000000000-55d000100000 rw-p 00000000 00:00 0 [heap]", &maps[0]);
	proc__parse_maps_line("7f0000000000-7f0000200000 r-xp 00000000 fe:00 11 /usr/lib/x86_64-linux-gnu/libc.so.6", &maps[1]);
	proc__parse_maps_line("7f0000200000-7f0000202000 rw-p 00200000 fe:00 11 /usr/lib/x86_64-linux-gnu/libc.so.6", &maps[2]);
	proc__parse_maps_line("7f0000202000-7f0000210000 rw-p 00000000 00:00 0 ", &maps[3]);
	mallocheap__input_from_maps(maps, 4, in);
	assert_int_equal(in->allocator, MH_GLIBC);
	assert_int_equal(in->heap_start, 0x55d000000000ull);
	assert_int_equal(in->nlibc_data, 2); /* .data and the bss after it */
	assert_int_equal(in->nanon, 0);

	proc__parse_maps_line("7f0000300000-7f0000400000 r-xp 00000000 fe:00 12 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2", &maps[3]);
	mallocheap__input_from_maps(maps, 4, in);
	assert_int_equal(in->allocator, MH_JEMALLOC);
	assert_non_null(strstr(in->allocator_lib, "libjemalloc"));
	/* never walked: no figures rather than wrong ones */
	assert_int_equal(mallocheap__walk(NULL, in, &h), -ENOTSUP);
	assert_int_equal(h.in_use_bytes, 0);
	assert_int_equal(h.allocator, MH_JEMALLOC);
	mallocheap__free(&h);

	mallocheap__input_from_maps(maps, 1, in); /* no libc at all: musl or static */
	assert_int_equal(in->allocator, MH_OTHER);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_walk_safe_linking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_plain_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heap_vanishes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fake_tcache_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_and_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_allocators, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
