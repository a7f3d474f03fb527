/* SPDX-License-Identifier: BSD-2-Clause */
/* The free-threaded heap walker on a fake mimalloc segment: free lists, tracking bits, the abandoned pool, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/census_ft.h"
#include "target/python.h"
#include "target/remote.h"

/* One 32 MiB-aligned segment at BASE; the fake address space covers its first 4 MiB. */
#define BASE 0x20000000ull
#define SIZE (4u << 20)
#define PAGE (BASE + 264 + 96) /* slices[1]: the page's area is the segment's second 64 KiB */
#define BSIZE 48u	       /* <= 64: the area starts 3 blocks in */
#define AREA (BASE + (64u << 10) + 3 * BSIZE)
#define TSTATE (BASE + (2u << 20))
#define INTERP (BASE + (3u << 20))

struct fake {
	unsigned char *buf;
	struct remote_mem mem;
	struct remote r;
	struct py_target t;
	uint64_t seen[64];
	int nseen;
	uint64_t untracked_seen[64];
	int nuntracked_seen;
};

static void w64(struct fake *f, uint64_t a, uint64_t v)
{
	memcpy(f->buf + (a - BASE), &v, 8);
}

static void w16(struct fake *f, uint64_t a, uint16_t v)
{
	memcpy(f->buf + (a - BASE), &v, 2);
}

static void w32(struct fake *f, uint64_t a, uint32_t v)
{
	memcpy(f->buf + (a - BASE), &v, 4);
}

static uint64_t block(int i)
{
	return AREA + (uint64_t)i * BSIZE;
}

/* 10 blocks: 2 -> 5 on page->free, 7 on local_free, 9 allocated but untracked, the rest tracked. */
static void build(struct fake *f)
{
	const struct py_layout *l;
	int i;

	f->buf = calloc(1, SIZE);
	assert_non_null(f->buf);
	f->mem.base = BASE;
	f->mem.size = SIZE;
	f->mem.buf = f->buf;
	remote__init_mem(&f->r, &f->mem);
	l = python__select_layout(3, 13, true, 248);
	assert_non_null(l);
	assert_int_equal(l->free_threaded, 1);
	memset(&f->t, 0, sizeof(f->t));
	f->t.free_threaded = true;
	f->t.major = 3;
	f->t.minor = 13;
	f->t.layout = l;
	f->t.interp_addr = INTERP;

	w16(f, PAGE + 10, 10); /* capacity */
	w16(f, PAGE + 12, 12); /* reserved */
	w32(f, PAGE + 28, BSIZE);
	w64(f, PAGE + 16, block(2)); /* free */
	w64(f, block(2), block(5));
	w64(f, PAGE + 32, block(7)); /* local_free */
	for (i = 0; i < 10; i++) {
		if (i == 2 || i == 5 || i == 7)
			continue;
		w64(f, block(i) + 24, 0x1234000 + i); /* ob_type */
		if (i != 9)
			f->buf[block(i) + 11 - BASE] = 1; /* ob_gc_bits: tracked */
	}
	/* the main thread: mimalloc initialised, heaps[GC].pages[5].first = PAGE */
	w64(f, INTERP + l->interp_threads_head, TSTATE);
	f->buf[TSTATE + 344 + 13872 - BASE] = 1;
	w64(f, TSTATE + 344 + 8 + 2 * 3064 + 1040 + 5 * 24, PAGE);
}

static int visit(uint64_t addr, const unsigned char *obj, bool tracked, void *arg)
{
	struct fake *f = arg;

	(void)obj;
	if (!tracked) { /* allocated but untracked: handed over as such, never as tracked */
		f->untracked_seen[f->nuntracked_seen++] = addr;
		return 0;
	}
	f->seen[f->nseen++] = addr;
	return 0;
}

static int no_limit(void *arg)
{
	(void)arg;
	return 0;
}

static void test_walk_counts_tracked_blocks(void **state)
{
	static const int want[] = { 0, 1, 3, 4, 6, 8 };
	struct census_ft_stats st;
	struct fake f = { 0 };
	size_t i;

	(void)state;
	build(&f);
	assert_true(census_ft__supported(&f.t));
	assert_int_equal(census_ft__walk(&f.t, &f.r, visit, no_limit, &f, &st), 0);
	assert_int_equal(st.threads, 1);
	assert_int_equal(st.pages, 1);
	assert_int_equal(st.blocks, 10);
	assert_int_equal(st.free_blocks, 3);
	assert_int_equal(st.untracked, 1);
	assert_int_equal(st.bad_pages, 0);
	assert_int_equal(f.nseen, 6);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(f.seen[i], block(want[i]));
	assert_int_equal(f.nuntracked_seen, 1); /* block 9: for refs, which needs 3.13t's immortals */
	assert_int_equal(f.untracked_seen[0], block(9));
	free(f.buf);
}

/* A free list that leaves the page (a mid-update copy) drops the page, never the walk. */
static void test_bad_free_list_skips_page(void **state)
{
	struct census_ft_stats st;
	struct fake f = { 0 };

	(void)state;
	build(&f);
	w64(&f, block(5), block(2)); /* a cycle */
	assert_int_equal(census_ft__walk(&f.t, &f.r, visit, no_limit, &f, &st), 0);
	assert_int_equal(st.bad_pages, 1);
	assert_int_equal(f.nseen, 0);
	free(f.buf);
	build(&f);
	w64(&f, PAGE + 32, block(7) + 8); /* not on a block boundary */
	f.nseen = 0;
	assert_int_equal(census_ft__walk(&f.t, &f.r, visit, no_limit, &f, &st), 0);
	assert_int_equal(st.bad_pages, 1);
	free(f.buf);
}

/* The same page after its thread exited: in a segment of the interpreter's abandoned pool. */
static void abandon(struct fake *f, uint64_t next)
{
	const struct py_layout *l = f->t.layout;

	w64(f, TSTATE + 344 + 8 + 2 * 3064 + 1040 + 5 * 24, 0); /* no longer in a thread's heap */
	w64(f, INTERP + l->interp_threads_head, 0);
	w64(f, INTERP + 10816 + 64, BASE | 5); /* pool.abandoned, with an ABA tag in the low bits */
	w64(f, BASE + 176, next);	       /* segment.abandoned_next */
	w64(f, BASE + 248, 8);		       /* slice_entries */
	w32(f, BASE + 264, 1);		       /* slices[0]: the segment info, one slice */
	w32(f, BASE + 264 + 28, 1);
	w32(f, PAGE, 1);		       /* slices[1]: the page, heap tag 2 (GC) */
	f->buf[PAGE + 8 - BASE] = 2 << 3;
	w32(f, BASE + 264 + 2 * 96, 6); /* slices[2..7]: a free span */
}

static void test_abandoned_pool_walked(void **state)
{
	struct census_ft_stats st;
	struct fake f = { 0 };

	(void)state;
	build(&f);
	abandon(&f, 0);
	assert_int_equal(census_ft__walk(&f.t, &f.r, visit, no_limit, &f, &st), 0);
	assert_int_equal(st.threads, 0);
	assert_int_equal(st.abandoned_segments, 1);
	assert_int_equal(st.abandoned_pages, 1);
	assert_int_equal(st.bad_pages, 0);
	assert_int_equal(f.nseen, 6);
	free(f.buf);
	/* a segment whose abandoned_next points to itself is walked once */
	build(&f);
	abandon(&f, BASE);
	f.nseen = 0;
	assert_int_equal(census_ft__walk(&f.t, &f.r, visit, no_limit, &f, &st), 0);
	assert_int_equal(st.abandoned_segments, 1);
	assert_int_equal(f.nseen, 6);
	free(f.buf);
	/* a page span that runs past slice_entries drops the segment, not the walk */
	build(&f);
	abandon(&f, 0);
	w32(&f, PAGE, 100);
	f.nseen = 0;
	assert_int_equal(census_ft__walk(&f.t, &f.r, visit, no_limit, &f, &st), 0);
	assert_int_equal(st.bad_pages, 1);
	assert_int_equal(f.nseen, 0);
	free(f.buf);
}

/* GIL builds and unknown free-threaded minors are not walked. */
static void test_supported_only_313t(void **state)
{
	struct fake f = { 0 };

	(void)state;
	build(&f);
	f.t.minor = 14;
	assert_false(census_ft__supported(&f.t));
	f.t.minor = 13;
	f.t.free_threaded = false;
	assert_false(census_ft__supported(&f.t));
	free(f.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk_counts_tracked_blocks),
		cmocka_unit_test(test_bad_free_list_skips_page),
		cmocka_unit_test(test_abandoned_pool_walked),
		cmocka_unit_test(test_supported_only_313t),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
