/* SPDX-License-Identifier: BSD-2-Clause */
/* Free-threaded builds: visit the live GC objects in the threads' mimalloc heaps from outside. */
#include "analysis/census_ft.h"
#include "util/common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * CPython 3.13.5t (Py_GIL_DISABLED), bundled mimalloc 2.1: offsets from DWARF (pahole/gdb of
 * tools/interp py313t; tools/interp/NOTES.md "Free-threaded 3.13").
 *   _PyThreadStateImpl.mimalloc        @344 (struct _mimalloc_thread_state)
 *     .heaps[_Py_MIMALLOC_HEAP_COUNT]  @+8, 3064 B each: 0 MEM, 1 OBJECT, 2 GC, 3 GC_PRE
 *     .initialized                     @+13872
 *   mi_heap_t.pages[MI_BIN_FULL + 1]   @1040, 75 x mi_page_queue_t {first, last, block_size}
 *   mi_page_t (96 B): capacity u16 @10, reserved u16 @12, free @16, used u32 @24,
 *     xblock_size u32 @28, local_free @32, xthread_free @40 (low 2 bits: delayed flags), next @56
 *   mi_segment_t: 32 MiB aligned (MI_SEGMENT_SHIFT 25), slices[] @264, 96 B each, one per
 *     64 KiB (MI_SEGMENT_SLICE_SIZE); a page is its first slice.
 * Page area (Objects/mimalloc/segment.c _mi_segment_page_start_from_slice): segment +
 * slice index * 64 KiB, plus 3 blocks for blocks <= 64 B or 1 block for <= 512 B.
 * Free-list pointers are plain (MI_ENCODE_FREELIST is off in release builds: MI_SECURE 0).
 *
 * Exited threads: _PyThreadState_ClearMimallocHeaps abandons every segment still holding live
 * blocks to the interpreter's pool, PyInterpreterState.mimalloc.abandoned_pool @10816:
 *   abandoned_visited @0 (mi_segment_t *), abandoned @64 (tagged: the low MI_SEGMENT_SHIFT bits
 *   are an ABA tag), each list linked by mi_segment_t.abandoned_next @176;
 *   mi_segment_t.slice_entries @248 (<= 513), slices[] @264: a slice whose xblock_size @28 is not
 *   0 starts a page of slice_count @0 slices; its heap is page->tag (bits 3-6 of the byte @8:
 *   2 GC, 3 GC_PRE). gc_free_threading.c visits this pool the same way
 *   (_mi_abandoned_pool_visit_blocks: the first slice is the segment's own info and skipped).
 */
#define FT_TSTATE_MIMALLOC 344
#define FT_MI_HEAPS 8
#define FT_MI_HEAP_SIZE 3064
#define FT_MI_INITIALIZED 13872
#define FT_HEAP_GC 2
#define FT_HEAP_GC_PRE 3
#define FT_HEAP_PAGES 1040
#define FT_HEAP_NQUEUES 75
#define FT_QUEUE_SIZE 24
#define FT_PAGE_SIZE 96
#define FT_SEGMENT_ALIGN (32ull << 20)
#define FT_SEGMENT_SLICES 264
#define FT_SEGMENT_NSLICES 513
#define FT_SLICE_BYTES (64ull << 10)
#define FT_INTERP_MIMALLOC 10816 /* PyInterpreterState.mimalloc.abandoned_pool */
#define FT_POOL_VISITED 0
#define FT_POOL_ABANDONED 64
#define FT_SEG_ABANDONED_NEXT 176
#define FT_SEG_SLICE_ENTRIES 248
#define FT_MAX_SEGMENTS 4096 /* 128 GiB of segments: a longer pool is garbage */
#define FT_OB_GC_BITS CENSUS_FT_GC_BITS /* PyObject.ob_gc_bits; _PyGC_BITS_TRACKED = 1 */
#define FT_PREHEADER 16	 /* GC_PRE heap: managed dict + weakref words before the object */

/* Bounds: a page is copied whole, so its area is capped; thread and page counts are capped. */
#define FT_MAX_THREADS 4096
#define FT_MAX_PAGES_PER_QUEUE 65536
#define FT_MAX_AREA (4u << 20)

bool census_ft__supported(const struct py_target *t)
{
	return t->free_threaded && t->major == 3 && t->minor == 13 && t->layout && t->interp_addr &&
	       t->layout->interp_threads_head != LAYOUT_NONE && t->layout->tstate_next != LAYOUT_NONE;
}

static uint16_t rd16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* Mark the blocks of one free list (inside the copied area) in freemap; -EPROTO if it leaves the page. */
static int mark_free(uint64_t head, uint64_t start, uint32_t bsize, uint32_t capacity, const unsigned char *area,
		     unsigned char *freemap, int64_t *nfree)
{
	uint64_t b = head;
	uint32_t n = 0, i;

	while (b) {
		if (b < start || b >= start + (uint64_t)bsize * capacity || (b - start) % bsize)
			return -EPROTO;
		i = (uint32_t)((b - start) / bsize);
		if (freemap[i >> 3] & (1u << (i & 7)))
			return -EPROTO; /* a cycle: the list changed while we copied */
		freemap[i >> 3] |= (unsigned char)(1u << (i & 7));
		(*nfree)++;
		if (++n > capacity)
			return -EPROTO;
		b = rd64(area + (b - start));
	}
	return 0;
}

static int walk_page(struct remote *r, uint64_t page, const unsigned char *pg, int pre, unsigned char *area,
		     unsigned char *freemap, census_ft_visit_fn visit, void *arg, struct census_ft_stats *st)
{
	uint64_t seg = page & ~(FT_SEGMENT_ALIGN - 1), idx, start;
	uint16_t capacity = rd16(pg + 10), reserved = rd16(pg + 12);
	uint32_t bsize = rd32(pg + 28), i;
	uint64_t off = page - seg;
	size_t len;
	int err;

	if (off < FT_SEGMENT_SLICES || (off - FT_SEGMENT_SLICES) % FT_PAGE_SIZE)
		return -EPROTO;
	idx = (off - FT_SEGMENT_SLICES) / FT_PAGE_SIZE;
	if (idx >= FT_SEGMENT_NSLICES || capacity > reserved || bsize < 16 || bsize > (1u << 30))
		return -EPROTO;
	if (!capacity)
		return 0;
	if ((uint64_t)capacity * bsize > FT_MAX_AREA) {
		st->huge_pages++;
		return 0;
	}
	start = seg + idx * FT_SLICE_BYTES;
	if (bsize <= 64)
		start += 3ull * bsize;
	else if (bsize <= 512)
		start += bsize;
	len = (size_t)capacity * bsize;
	if (start + len > seg + FT_SEGMENT_ALIGN)
		return -EPROTO;
	err = remote__read(r, start, area, len);
	if (err)
		return err == -ESRCH ? err : -EPROTO;
	memset(freemap, 0, (capacity + 7) / 8);
	if (mark_free(rd64(pg + 16), start, bsize, capacity, area, freemap, &st->free_blocks) ||
	    mark_free(rd64(pg + 32), start, bsize, capacity, area, freemap, &st->free_blocks) ||
	    mark_free(rd64(pg + 40) & ~3ull, start, bsize, capacity, area, freemap, &st->free_blocks))
		return -EPROTO;
	st->pages++;
	st->blocks += capacity;
	for (i = 0; i < capacity; i++) {
		unsigned char obj[CENSUS_FT_OBJ_COPY] = { 0 };
		size_t at = (size_t)i * bsize + (size_t)pre, n;

		if (freemap[i >> 3] & (1u << (i & 7)))
			continue;
		if ((size_t)pre + 32 > bsize)
			continue; /* no room for an object header */
		n = bsize - (size_t)pre < sizeof(obj) ? bsize - (size_t)pre : sizeof(obj);
		memcpy(obj, area + at, n);
		if (!(obj[FT_OB_GC_BITS] & 1))
			st->untracked++;
		err = visit(start + at, obj, obj[FT_OB_GC_BITS] & 1, arg);
		if (err)
			return err;
	}
	return 0;
}

/* One segment of the abandoned pool: its GC and GC_PRE pages. */
static int walk_segment(struct remote *r, uint64_t seg, unsigned char *slices, unsigned char *area,
			unsigned char *freemap, census_ft_visit_fn visit, int (*check)(void *arg), void *arg,
			struct census_ft_stats *st)
{
	uint64_t entries = 0, i;
	int err;

	if (remote__read_u64(r, seg + FT_SEG_SLICE_ENTRIES, &entries) || !entries || entries > FT_SEGMENT_NSLICES)
		return -EPROTO;
	if (remote__read(r, seg + FT_SEGMENT_SLICES, slices, entries * FT_PAGE_SIZE))
		return -EPROTO;
	st->abandoned_segments++;
	/* slices[0] is the segment's own info: skip its span like mi_slices_start_iterate */
	i = rd32(slices + 28) ? (rd32(slices) ? rd32(slices) : 1) : 0;
	while (i < entries) {
		const unsigned char *pg = slices + i * FT_PAGE_SIZE;
		uint32_t count = rd32(pg);
		int tag = (pg[8] >> 3) & 0xf;

		if (!count || count > entries - i)
			return -EPROTO;
		if (rd32(pg + 28) && (tag == FT_HEAP_GC || tag == FT_HEAP_GC_PRE)) {
			if ((err = check(arg)))
				return err;
			err = walk_page(r, seg + FT_SEGMENT_SLICES + i * FT_PAGE_SIZE, pg,
					tag == FT_HEAP_GC_PRE ? FT_PREHEADER : 0, area, freemap, visit, arg, st);
			if (err == -EPROTO)
				st->bad_pages++;
			else if (err)
				return err;
			else
				st->abandoned_pages++;
		}
		i += count;
	}
	return 0;
}

/* The interpreter's pool of segments abandoned by exited threads: both of its lists. */
static int walk_abandoned(const struct py_target *t, struct remote *r, unsigned char *area, unsigned char *freemap,
			  census_ft_visit_fn visit, int (*check)(void *arg), void *arg, struct census_ft_stats *st)
{
	static const int heads[2] = { FT_POOL_ABANDONED, FT_POOL_VISITED };
	unsigned char *slices = malloc(FT_SEGMENT_NSLICES * FT_PAGE_SIZE);
	uint64_t *seen = malloc(FT_MAX_SEGMENTS * sizeof(*seen));
	int err = 0, h, nseen = 0, i;

	if (!slices || !seen) {
		free(slices);
		free(seen);
		return -ENOMEM;
	}
	for (h = 0; h < 2 && !err; h++) {
		uint64_t seg = 0;

		if (remote__read_u64(r, t->interp_addr + FT_INTERP_MIMALLOC + heads[h], &seg))
			continue;
		seg &= ~(FT_SEGMENT_ALIGN - 1); /* the ABA tag of `abandoned`; 0 for the other */
		while (seg) {
			if (!remote__valid_ptr(seg, 8) || nseen >= FT_MAX_SEGMENTS) {
				st->bad_pages++;
				break;
			}
			/* a segment seen before (a cycle, or moved between the two lists while read): once */
			for (i = 0; i < nseen && seen[i] != seg; i++)
				;
			if (i < nseen)
				break;
			seen[nseen++] = seg;
			err = walk_segment(r, seg, slices, area, freemap, visit, check, arg, st);
			if (err == -EPROTO) {
				st->bad_pages++; /* reclaimed or freed under us: the list is no longer ours */
				err = 0;
				break;
			}
			if (err)
				break;
			if (remote__read_u64(r, seg + FT_SEG_ABANDONED_NEXT, &seg))
				break;
			if (seg & (FT_SEGMENT_ALIGN - 1)) {
				st->bad_pages++;
				break;
			}
		}
	}
	free(slices);
	free(seen);
	return err;
}

int census_ft__walk(const struct py_target *t, struct remote *r, census_ft_visit_fn visit, int (*check)(void *arg),
		    void *arg, struct census_ft_stats *st)
{
	const struct py_layout *l = t->layout;
	unsigned char *area = NULL, *freemap = NULL;
	uint64_t ts = 0;
	int err = 0, nthreads = 0;

	memset(st, 0, sizeof(*st));
	if (!census_ft__supported(t))
		return -ENOTSUP;
	area = malloc(FT_MAX_AREA);
	freemap = malloc(65536 / 8);
	if (!area || !freemap) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = remote__read_u64(r, t->interp_addr + l->interp_threads_head, &ts);
	if (err)
		goto cleanup;
	while (ts && nthreads++ < FT_MAX_THREADS) {
		unsigned char init = 0;
		int k;

		if (!remote__valid_ptr(ts, 8)) {
			err = -EPROTO;
			goto cleanup;
		}
		if (!remote__read(r, ts + FT_TSTATE_MIMALLOC + FT_MI_INITIALIZED, &init, 1) && init) {
			st->threads++;
			for (k = FT_HEAP_GC; k <= FT_HEAP_GC_PRE; k++) {
				uint64_t heap = ts + FT_TSTATE_MIMALLOC + FT_MI_HEAPS + (uint64_t)k * FT_MI_HEAP_SIZE;
				unsigned char queues[FT_HEAP_NQUEUES * FT_QUEUE_SIZE];
				int q;

				if (remote__read(r, heap + FT_HEAP_PAGES, queues, sizeof(queues)))
					continue;
				for (q = 0; q < FT_HEAP_NQUEUES; q++) {
					uint64_t page = rd64(queues + q * FT_QUEUE_SIZE);
					int n = 0;

					while (page && n++ < FT_MAX_PAGES_PER_QUEUE) {
						unsigned char pg[FT_PAGE_SIZE];

						if ((err = check(arg)))
							goto cleanup;
						if (!remote__valid_ptr(page, 8) || remote__read(r, page, pg, sizeof(pg))) {
							st->bad_pages++;
							break;
						}
						err = walk_page(r, page, pg, k == FT_HEAP_GC_PRE ? FT_PREHEADER : 0, area,
								freemap, visit, arg, st);
						if (err == -EPROTO) {
							st->bad_pages++; /* changed under us: the next census sees it */
							err = 0;
						} else if (err) {
							goto cleanup;
						}
						page = rd64(pg + 56);
					}
				}
			}
		}
		if (remote__read_u64(r, ts + l->tstate_next, &ts))
			break;
	}
	err = walk_abandoned(t, r, area, freemap, visit, check, arg, st);
cleanup:
	free(area);
	free(freemap);
	return err;
}
