// SPDX-License-Identifier: BSD-2-Clause
/* glibc malloc's heap of another process, walked from outside: chunks by state and size class. */
/*
 * Chunk-format facts used here, x86_64 (SIZE_SZ 8, MALLOC_ALIGNMENT 16), glibc malloc/malloc.c
 * and malloc/arena.c, stable since 2.26 unless noted:
 *  - a chunk is { prev_size, size, fd, bk, ... }; size's low bits are PREV_INUSE (1), IS_MMAPPED
 *    (2), NON_MAIN_ARENA (4); sizes are multiples of 16, MINSIZE 32.
 *  - a chunk is in use iff the next chunk's PREV_INUSE bit is set; a free chunk's size is
 *    repeated in the next chunk's prev_size (the "corrupted size vs. prev_size" check of 2.26,
 *    commit 17f487b7afa7) and two free chunks are never adjacent (they coalesce) — except
 *    tcache (2.26+) and fastbin chunks, which keep the in-use bit and must be found in their lists.
 *  - the main arena's first chunk is at the start of [heap] (sbrk base is page aligned, so
 *    chunk2mem is aligned: sysmalloc's front_misalign is 0); the last chunk is top, which ends at
 *    the brk (sbrk requests are page multiples).
 *  - a non-main arena's memory is heap_info regions aligned to HEAP_MAX_SIZE (64 MiB on 64-bit:
 *    2 * DEFAULT_MMAP_THRESHOLD_MAX; a variable since 2.35 for hugepages, same default):
 *    { ar_ptr, prev, size, mprotect_size[, pagesize since 2.35], pad } = 48 bytes since 2.35,
 *    32 before. The first heap of an arena holds its malloc_state right after heap_info; its
 *    first chunk follows, 16-aligned. A heap that is not its arena's last ends in fenceposts
 *    (a 16-byte chunk, then a 0-size header: sysmalloc's "set_head (..., 0 | PREV_INUSE)").
 *  - an mmapped chunk starts its own mapping: prev_size 0 (no correction on x86_64), size with
 *    IS_MMAPPED and no other bit, page multiple.
 *  - malloc_state: mutex, flags, have_fastchunks (int, 2.27+; absent before, fastbinsY 8 bytes
 *    earlier), fastbinsY[10], top, last_remainder, bins[254], binmap[4], next, next_free,
 *    attached_threads, system_mem, max_system_mem: 2200 bytes (2192 before 2.27). An empty bin i
 *    points at itself: fd == bk == &bins[2 * (i - 1)] - 16 (bin_at).
 *  - tcache_perthread_struct is a chunk of its arena: char counts[64] + entries[64] (2.26-2.29,
 *    chunk 0x250), uint16_t counts[64] + entries[64] (2.30+, 0x290), uint16_t num_slots[76] +
 *    entries[76] (2.42+ large-chunk bins, 0x300). Entries are user pointers; entry->next is the
 *    first word of the free chunk's user memory. Bin i < 64 holds chunks of size 32 + 16 i.
 *  - safe-linking (2.32, commit a1a486d70ebc): list links (not the heads) are stored as
 *    PROTECT_PTR(pos, ptr) = (pos >> 12) ^ ptr, pos being the link's own address. Detected from
 *    the links themselves, so no version check.
 *  - fastbins: fastbinsY[i] holds chunks (not user pointers) of size 32 + 16 i; the link is fd.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/mallocheap.h"
#include "target/elffile.h"
#include "util/common.h"

#define CHUNK_HDR 16ull
#define MINSIZE 32ull
#define PREV_INUSE 1ull
#define IS_MMAPPED 2ull
#define NON_MAIN_ARENA 4ull
#define SIZE_BITS 7ull
#define HEAP_MAX_SIZE (64ull << 20)
#define PAGE 4096ull
#define NFASTBINS 10
#define NBINS 128
#define MAX_ARENAS 64
#define TCACHE_CHAIN_MAX 4096	 /* mp_.tcache_count is capped at 65535 (2.30+); default 7 (16 in 2.42) */
#define FASTBIN_CHAIN_MAX 100000 /* fastbins have no length limit: bound the walk instead */
#define MMAP_RUN_MAX 4096	 /* mmapped chunks per merged anonymous mapping */
#define WINDOW (256u << 10)	 /* one process_vm_readv per 256 KiB of heap: a near snapshot */

/* malloc_state layouts: the 2.27 one (have_fastchunks) and the 2.26 one. */
struct mstate_layout {
	unsigned fastbins, top, bins, next, system_mem, size;
};
static const struct mstate_layout mstate_layouts[] = {
	{ 16, 96, 112, 2160, 2184, 2200 }, /* glibc 2.27+ */
	{ 8, 88, 104, 2152, 2176, 2192 },  /* glibc 2.26 and before */
};
#define MSTATE_MAX 2200

struct arena_info {
	uint64_t addr;	/* its malloc_state */
	uint64_t top;
	int layout;	/* index in mstate_layouts, -1 unknown */
	uint64_t fastbins[NFASTBINS];
};

#define MH_HEAP_SLACK (64ull << 20) /* growth of [heap] (brk) between reading maps and walking it */

struct walk {
	struct remote *r;
	const struct mallocheap_input *in;
	struct mallocheap *h;
	uint64_t max_bytes, max_chunks;
	/* read window */
	uint64_t win_base;
	size_t win_len;
	unsigned char *win;
	bool stop; /* the target is gone or the budget is spent: no more reads */
	bool brk_heap; /* walking [heap]: its end may move (brk) while it is read */
	struct arena_info arenas[MAX_ARENAS];
	int narenas;
	int layout; /* malloc_state layout found for main_arena, -1 unknown */
};

static void mark_partial(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mark_partial(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	if (w->h->partial)
		return;
	w->h->partial = true;
	va_start(ap, fmt);
	vsnprintf(w->h->partial_reason, sizeof(w->h->partial_reason), fmt, ap);
	va_end(ap);
}

static int rread(struct walk *w, uint64_t addr, void *buf, size_t len)
{
	int err;

	if (w->stop)
		return -ECANCELED;
	if (w->h->bytes_read + len > w->max_bytes) {
		mark_partial(w, "read budget of %llu MiB spent", (unsigned long long)(w->max_bytes >> 20));
		w->stop = true;
		return -E2BIG;
	}
	w->h->bytes_read += len;
	err = remote__read(w->r, addr, buf, len);
	if (err == -ESRCH || err == -EPERM) {
		mark_partial(w, "target gone during the walk");
		w->stop = true;
	}
	return err;
}

/* Header (prev_size, size) at addr, through the window; the window never extends past `end`. */
static int read_hdr(struct walk *w, uint64_t addr, uint64_t end, uint64_t hdr[2])
{
	size_t len;
	int err;

	if (addr < w->win_base || addr + CHUNK_HDR > w->win_base + w->win_len || w->win_len == 0) {
		if (end < addr + CHUNK_HDR)
			return -EFAULT;
		len = end - addr > WINDOW ? WINDOW : (size_t)(end - addr);
		w->win_len = 0;
		err = rread(w, addr, w->win, len);
		if (err && len > CHUNK_HDR) {
			len = CHUNK_HDR; /* a mapping may have shrunk: the header alone */
			err = rread(w, addr, w->win, len);
		}
		if (err)
			return err;
		w->win_base = addr;
		w->win_len = len;
	}
	memcpy(hdr, w->win + (addr - w->win_base), CHUNK_HDR);
	return 0;
}

static void win_reset(struct walk *w)
{
	w->win_len = 0;
}

static int add_chunk(struct walk *w, uint64_t addr, uint64_t size, enum mallocheap_state st, int arena)
{
	struct mallocheap *h = w->h;

	if (h->nchunks >= w->max_chunks) {
		mark_partial(w, "chunk index cap of %llu reached", (unsigned long long)w->max_chunks);
		w->stop = true; /* a partial result, not an error */
		return 0;
	}
	if (h->nchunks == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 4096;
		struct mallocheap_chunk *n;

		if (cap > w->max_chunks)
			cap = w->max_chunks;
		n = realloc(h->chunks, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		h->chunks = n;
		h->cap = cap;
	}
	h->chunks[h->nchunks++] = (struct mallocheap_chunk){
		.addr = addr,
		.size16 = size >> 4 > UINT32_MAX ? UINT32_MAX : (uint32_t)(size >> 4),
		.state = st,
		.arena = arena > 255 ? 255 : arena,
	};
	return 0;
}

/* Did [heap] end at `at` (brk lowered) rather than vanish? The brk is page-aligned and the chunk
 * before it (at c) still reads: a target that exits or execs takes all of it. */
static bool trimmed_at(struct walk *w, uint64_t c, uint64_t at)
{
	uint64_t hdr[2];

	return !(at & 4095) && !rread(w, c, hdr, sizeof(hdr));
}

/*
 * Walks the chunks of [first, end) of one heap; stops at the top chunk (the one reaching end or
 * `top`), at a fencepost, or at the first header that cannot be valid. Returns the top chunk's
 * address in *top_out (0 if the region ended in a fencepost or was cut short).
 */
static int walk_region(struct walk *w, uint64_t first, uint64_t end, int arena, uint64_t top, uint64_t *top_out)
{
	uint64_t c = first, hdr[2], next[2], csz, nsz;
	bool prev_free = false;
	int err;

	*top_out = 0;
	win_reset(w);
	w->h->heap_bytes += end - first;
	while (!w->stop && !exiting) {
		if (c == end)
			return 0; /* an exact end without a top: a trimmed or fenced heap */
		err = read_hdr(w, c, end, hdr);
		if (err) {
			if (err != -ECANCELED && err != -E2BIG)
				mark_partial(w, "heap unreadable at 0x%llx (unmapped or exec'ed under us)",
					     (unsigned long long)c);
			return 0;
		}
		csz = hdr[1] & ~SIZE_BITS;
		if (csz == CHUNK_HDR || csz == 0)
			return 0; /* fencepost: the end of a non-last heap */
		/* [heap] may have grown since maps was read: only its top can reach past the old end */
		if (csz < MINSIZE || (csz & 15) || (hdr[1] & IS_MMAPPED) ||
		    (csz > end - c && !(w->brk_heap && csz - (end - c) <= MH_HEAP_SLACK))) {
			mark_partial(w, "invalid chunk header at 0x%llx (size 0x%llx): heap corrupt or changing",
				     (unsigned long long)c, (unsigned long long)hdr[1]);
			return 0;
		}
		if (c == top || c + csz >= end) {
			/* top: free by definition; PREV_INUSE in it tells about the chunk before */
			w->h->top_bytes += csz;
			*top_out = c;
			return add_chunk(w, c, csz, MH_TOP, arena);
		}
		if (c + csz + CHUNK_HDR > end) {
			mark_partial(w, "chunk at 0x%llx runs past its heap", (unsigned long long)c);
			return 0;
		}
		err = read_hdr(w, c + csz, end, next);
		if (err && w->brk_heap && err != -ECANCELED && err != -E2BIG && trimmed_at(w, c, c + csz)) {
			/* [heap] trimmed (brk lowered) since maps was read: it ends here, c is its top */
			w->h->top_bytes += csz;
			*top_out = c;
			return add_chunk(w, c, csz, MH_TOP, arena);
		}
		if (err) {
			if (err != -ECANCELED && err != -E2BIG)
				mark_partial(w, "heap unreadable at 0x%llx", (unsigned long long)(c + csz));
			return 0;
		}
		nsz = next[1];
		if (nsz & PREV_INUSE) {
			if (arena == 0 && (hdr[1] & NON_MAIN_ARENA))
				w->h->inconsistencies++; /* main-arena chunks never carry the bit */
			err = add_chunk(w, c, csz, MH_IN_USE, arena);
			prev_free = false;
		} else {
			if (next[0] != csz || prev_free)
				w->h->inconsistencies++; /* changed while read, or corrupt: count, go on */
			err = add_chunk(w, c, csz, MH_FREE, arena);
			prev_free = true;
		}
		if (err)
			return err;
		c += csz;
	}
	if (exiting)
		mark_partial(w, "interrupted");
	return 0;
}

/* Checks a malloc_state image at addr against layout l: every bin empty (pointing at itself) or
 * holding valid pointers; returns true and its top if it passes. */
static bool mstate_valid(const unsigned char *buf, uint64_t addr, const struct mstate_layout *l, uint64_t *top)
{
	uint64_t fd, bk, self, next;
	int i, bad = 0;

	for (i = 1; i < NBINS; i++) {
		memcpy(&fd, buf + l->bins + 16 * (i - 1), 8);
		memcpy(&bk, buf + l->bins + 16 * (i - 1) + 8, 8);
		self = addr + l->bins + 16 * (i - 1) - CHUNK_HDR;
		if (fd == self && bk == self)
			continue;
		if (!remote__valid_ptr(fd, 16) || !remote__valid_ptr(bk, 16))
			bad++;
	}
	memcpy(top, buf + l->top, 8);
	memcpy(&next, buf + l->next, 8);
	/* a few bins may be mid-update in a running target; the self-pointers are the signature */
	return bad <= 4 && remote__valid_ptr(*top, 16) && remote__valid_ptr(next, 8);
}

static void arena_from_image(struct arena_info *a, const unsigned char *buf, int layout)
{
	int i;

	a->layout = layout;
	memcpy(&a->top, buf + mstate_layouts[layout].top, 8);
	for (i = 0; i < NFASTBINS; i++)
		memcpy(&a->fastbins[i], buf + mstate_layouts[layout].fastbins + 8 * i, 8);
}

/* The second pass's stronger signature: main_arena's free chunks are all in the main heap, so each
 * bin points at itself or into [lo, hi) (a few mid-update ones allowed, as mstate_valid does). */
static bool bins_in_heap(const unsigned char *buf, uint64_t addr, const struct mstate_layout *l, uint64_t lo,
			 uint64_t hi)
{
	uint64_t fd, bk, self;
	int i, bad = 0;

	for (i = 1; i < NBINS; i++) {
		memcpy(&fd, buf + l->bins + 16 * (i - 1), 8);
		memcpy(&bk, buf + l->bins + 16 * (i - 1) + 8, 8);
		self = addr + l->bins + 16 * (i - 1) - CHUNK_HDR;
		if ((fd != self && (fd < lo || fd >= hi)) || (bk != self && (bk < lo || bk >= hi)))
			bad++;
	}
	return bad <= 4;
}

/* One pass of find_main_arena: the word equal to main_top (lo 0), or any word in [lo, hi). */
static void find_main_arena_pass(struct walk *w, uint64_t main_top, uint64_t lo, uint64_t hi)
{
	const struct mallocheap_input *in = w->in;
	unsigned char *buf;
	uint64_t len, off, v, top;
	int i, l;

	for (i = 0; i < in->nlibc_data && !w->stop; i++) {
		len = in->libc_data[i].end - in->libc_data[i].start;
		if (len > (4u << 20) || len < MSTATE_MAX)
			continue;
		buf = malloc(len);
		if (!buf)
			return;
		if (rread(w, in->libc_data[i].start, buf, len)) {
			free(buf);
			continue;
		}
		for (off = 0; off + 8 <= len; off += 8) {
			memcpy(&v, buf + off, 8);
			if (lo ? v < lo || v >= hi || (v & 15) : v != main_top)
				continue;
			for (l = 0; l < (int)ARRAY_SIZE(mstate_layouts); l++) {
				const struct mstate_layout *ml = &mstate_layouts[l];

				if (off < ml->top || off - ml->top + ml->size > len)
					continue;
				if (!mstate_valid(buf + off - ml->top, in->libc_data[i].start + off - ml->top, ml, &top))
					continue;
				if (lo && !bins_in_heap(buf + off - ml->top, in->libc_data[i].start + off - ml->top, ml, lo, hi))
					continue;
				w->h->main_arena = in->libc_data[i].start + off - ml->top;
				w->layout = l;
				w->arenas[0].addr = w->h->main_arena;
				arena_from_image(&w->arenas[0], buf + off - ml->top, l);
				free(buf);
				return;
			}
		}
		free(buf);
	}
}

/*
 * main_arena is a static in libc's .data, unexported and absent from stripped builds: find it as
 * the word equal to the main heap's top chunk at malloc_state's top offset, confirmed by its 127
 * bins (an empty bin points at itself, which no other data in libc does). A target that allocates
 * while the heap is walked moves its top chunk before .data is read (a walk cut short has none):
 * then a second pass takes a word pointing anywhere into the heap [lo, hi), confirmed by its bins
 * all pointing at themselves or into the heap.
 */
static void find_main_arena(struct walk *w, uint64_t main_top, uint64_t lo, uint64_t hi)
{
	int pass;

	for (pass = main_top ? 0 : 1; pass < 2 && !w->h->main_arena && !w->stop; pass++)
		find_main_arena_pass(w, main_top, pass ? lo : 0, pass ? hi : 0);
}

/* The arena index (1-based, in w->arenas) for the malloc_state at ar_ptr, read on first sight. */
static int arena_index(struct walk *w, uint64_t ar_ptr)
{
	unsigned char buf[MSTATE_MAX];
	uint64_t top;
	int i, l;

	for (i = 1; i < w->narenas; i++)
		if (w->arenas[i].addr == ar_ptr)
			return i;
	if (w->narenas >= MAX_ARENAS)
		return -1;
	if (rread(w, ar_ptr, buf, sizeof(buf)))
		return -1;
	for (l = 0; l < (int)ARRAY_SIZE(mstate_layouts); l++) {
		if (w->layout >= 0 && l != w->layout)
			continue;
		if (mstate_valid(buf, ar_ptr, &mstate_layouts[l], &top)) {
			i = w->narenas++;
			w->arenas[i].addr = ar_ptr;
			arena_from_image(&w->arenas[i], buf, l);
			return i;
		}
	}
	return -1;
}

/* Non-main heaps: heap_info at each 64 MiB-aligned address inside an anonymous rw-p mapping. */
static int walk_nonmain_heaps(struct walk *w, bool *is_heap)
{
	const struct mallocheap_input *in = w->in;
	uint64_t hi[5], a, first, top, hdr[2];
	int i, k, ai, err;
	unsigned hdrsz;

	for (i = 0; i < in->nanon && !w->stop; i++) {
		a = (in->anon[i].start + HEAP_MAX_SIZE - 1) & ~(HEAP_MAX_SIZE - 1);
		for (k = 0; a + 64 <= in->anon[i].end && k < 64 && !w->stop; a += HEAP_MAX_SIZE, k++) {
			if (rread(w, a, hi, sizeof(hi)))
				continue;
			/* ar_ptr, prev, size, mprotect_size: size <= mprotect_size <= HEAP_MAX_SIZE, the rw
			 * part inside this mapping, prev another heap or NULL */
			if (!remote__valid_ptr(hi[0], 8) || hi[2] > hi[3] || hi[3] > HEAP_MAX_SIZE ||
			    hi[3] % PAGE || hi[2] < PAGE || a + hi[2] > in->anon[i].end ||
			    (hi[1] && (!remote__valid_ptr(hi[1], 8) || hi[1] % HEAP_MAX_SIZE)))
				continue;
			ai = arena_index(w, hi[0]);
			if (ai < 0)
				continue;
			if (hi[0] == a + 48 || hi[0] == a + 32) {
				first = (hi[0] + mstate_layouts[w->arenas[ai].layout].size + 15) & ~15ull;
			} else {
				/* a later heap of its arena: heap_info is 48 bytes since 2.35, 32 before */
				hdrsz = 48;
				if (read_hdr(w, a + 48, a + hi[2], hdr) || !(hdr[1] & PREV_INUSE) ||
				    (hdr[1] & ~SIZE_BITS) < MINSIZE)
					hdrsz = 32;
				first = a + hdrsz;
			}
			if (first >= a + hi[2])
				continue;
			if (is_heap)
				is_heap[i] = true;
			w->h->heaps++;
			err = walk_region(w, first, a + hi[2], ai, w->arenas[ai].top, &top);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Mmapped chunks: each heads its mapping (adjacent ones merge in /proc/PID/maps). */
static int walk_mmapped(struct walk *w, const bool *is_heap)
{
	const struct mallocheap_input *in = w->in;
	uint64_t a, hdr[2], csz;
	int i, k, err;

	for (i = 0; i < in->nanon && !w->stop; i++) {
		if (is_heap[i])
			continue;
		a = in->anon[i].start;
		for (k = 0; k < MMAP_RUN_MAX && a + CHUNK_HDR <= in->anon[i].end && !w->stop; k++) {
			win_reset(w);
			if (rread(w, a, hdr, sizeof(hdr)))
				break;
			csz = hdr[1] & ~SIZE_BITS;
			if (hdr[0] != 0 || (hdr[1] & SIZE_BITS) != IS_MMAPPED || csz < PAGE || csz % PAGE ||
			    csz > in->anon[i].end - a)
				break;
			err = add_chunk(w, a, csz, MH_MMAPPED, 0);
			if (err)
				return err;
			w->h->mmapped_bytes += csz;
			w->h->mmapped_blocks++;
			a += csz;
		}
	}
	return 0;
}

static int cmp_chunk(const void *a, const void *b)
{
	const struct mallocheap_chunk *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static struct mallocheap_chunk *find_chunk(const struct mallocheap *h, uint64_t addr)
{
	size_t lo = 0, hi = h->nchunks, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (h->chunks[mid].addr == addr)
			return &h->chunks[mid];
		if (h->chunks[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A list member: a walked in-use chunk of the expected size (0: any size >= min_size). */
static struct mallocheap_chunk *list_member(struct mallocheap *h, uint64_t chunk, uint64_t size, uint64_t min_size)
{
	struct mallocheap_chunk *c;

	if (!remote__valid_ptr(chunk, 16))
		return NULL;
	c = find_chunk(h, chunk);
	if (!c || (c->state != MH_IN_USE && c->state != MH_TCACHE && c->state != MH_FASTBIN))
		return NULL;
	if (size ? (uint64_t)c->size16 << 4 != size : (uint64_t)c->size16 << 4 < min_size)
		return NULL;
	return c;
}

/*
 * The next link of a free-list member whose link word lives at pos: PROTECT_PTR'ed since 2.32,
 * plain before. With the mode unknown, the decoding that lands on a valid member (or ends the
 * list) decides, and is kept for the rest of the walk.
 */
static bool decode_link(struct mallocheap *h, uint64_t pos, uint64_t stored, uint64_t hdr_off, uint64_t size,
			uint64_t min_size, uint64_t *next)
{
	uint64_t prot = stored ^ (pos >> 12);

	if (h->safe_linking == 1) {
		*next = prot;
		return true;
	}
	if (h->safe_linking == 0) {
		*next = stored;
		return true;
	}
	if (prot == 0 || list_member(h, prot - hdr_off, size, min_size)) {
		h->safe_linking = 1;
		*next = prot;
		return true;
	}
	if (stored == 0 || list_member(h, stored - hdr_off, size, min_size)) {
		h->safe_linking = 0;
		*next = stored;
		return true;
	}
	return false;
}

static void mark_member(struct mallocheap *h, struct mallocheap_chunk *c, enum mallocheap_state st)
{
	uint64_t sz = (uint64_t)c->size16 << 4;

	if (c->state != MH_IN_USE)
		return;
	c->state = st;
	if (st == MH_TCACHE) {
		h->tcache_bytes += sz;
		h->tcache_blocks++;
	} else {
		h->fastbin_bytes += sz;
		h->fastbin_blocks++;
	}
}

/* One tcache bin's chain from its head (a user pointer). */
static void follow_tcache(struct walk *w, uint64_t head, uint64_t size, uint64_t min_size)
{
	struct mallocheap *h = w->h;
	struct mallocheap_chunk *c;
	uint64_t e = head, stored, next;
	int n;

	for (n = 0; e && n < TCACHE_CHAIN_MAX && !w->stop; n++) {
		c = list_member(h, e - CHUNK_HDR, size, min_size);
		if (!c || c->state != MH_IN_USE) {
			if (n)
				h->inconsistencies++; /* changed under us, a cycle, or not a tcache */
			return;
		}
		mark_member(h, c, MH_TCACHE);
		if (rread(w, e, &stored, 8) || !decode_link(h, e, stored, CHUNK_HDR, size, min_size, &next))
			return;
		e = next;
	}
}

/*
 * tcache_perthread_struct candidates are in-use chunks of its three possible sizes; one counts
 * as a tcache only if every non-NULL entry is a walked in-use chunk of its bin's size (random
 * data of that size does not pass that).
 */
static void walk_tcaches(struct walk *w)
{
	static const struct { uint64_t chunk; unsigned nbins, count_size; } kinds[] = {
		{ 0x250, 64, 1 }, /* glibc 2.26-2.29 */
		{ 0x290, 64, 2 }, /* glibc 2.30-2.41 */
		{ 0x300, 76, 2 }, /* glibc 2.42+: 64 small bins and 12 large ones */
	};
	struct mallocheap *h = w->h;
	uint64_t entries[76], size, min_size;
	size_t i, n = h->nchunks;
	unsigned k, b, valid;
	bool ok;

	for (i = 0; i < n && !w->stop; i++) {
		if (h->chunks[i].state != MH_IN_USE)
			continue;
		size = (uint64_t)h->chunks[i].size16 << 4;
		for (k = 0; k < ARRAY_SIZE(kinds); k++)
			if (kinds[k].chunk == size)
				break;
		if (k == ARRAY_SIZE(kinds))
			continue;
		if (rread(w, h->chunks[i].addr + CHUNK_HDR + kinds[k].nbins * kinds[k].count_size, entries,
			  kinds[k].nbins * 8))
			continue;
		ok = true;
		valid = 0;
		for (b = 0; b < kinds[k].nbins && ok; b++) {
			if (!entries[b])
				continue;
			min_size = b < 64 ? 0 : 1040;
			if (!list_member(h, entries[b] - CHUNK_HDR, b < 64 ? 32 + 16 * b : 0, min_size))
				ok = false;
			valid++;
		}
		if (!ok)
			continue;
		h->tcaches++;
		for (b = 0; b < kinds[k].nbins && !w->stop; b++)
			if (entries[b])
				follow_tcache(w, entries[b], b < 64 ? 32 + 16 * b : 0, b < 64 ? 0 : 1040);
		(void)valid;
	}
}

static void walk_fastbins(struct walk *w)
{
	struct mallocheap *h = w->h;
	struct mallocheap_chunk *c;
	uint64_t p, stored, next, size;
	int a, b, n;

	for (a = 0; a < w->narenas && !w->stop; a++) {
		if (!w->arenas[a].addr)
			continue;
		for (b = 0; b < NFASTBINS; b++) {
			size = 32 + 16 * b;
			for (p = w->arenas[a].fastbins[b], n = 0; p && n < FASTBIN_CHAIN_MAX && !w->stop; n++) {
				c = list_member(h, p, size, 0);
				if (!c || c->state != MH_IN_USE) {
					h->inconsistencies++;
					break;
				}
				mark_member(h, c, MH_FASTBIN);
				if (rread(w, p + CHUNK_HDR, &stored, 8) ||
				    !decode_link(h, p + CHUNK_HDR, stored, 0, size, 0, &next))
					break;
				p = next;
			}
		}
	}
}

const char *mallocheap__allocator_name(enum mallocheap_allocator a)
{
	switch (a) {
	case MH_GLIBC:
		return "glibc";
	case MH_JEMALLOC:
		return "jemalloc";
	case MH_TCMALLOC:
		return "tcmalloc";
	case MH_MIMALLOC:
		return "mimalloc";
	default:
		return "other";
	}
}

int mallocheap__walk(struct remote *r, const struct mallocheap_input *in, struct mallocheap *out)
{
	struct walk w = { .r = r, .in = in, .h = out, .layout = -1 };
	uint64_t main_top = 0, t0 = now_mono_ns(), sz;
	bool *is_heap = NULL;
	size_t i;
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->allocator = in->allocator;
	snprintf(out->allocator_lib, sizeof(out->allocator_lib), "%s", in->allocator_lib);
	out->safe_linking = -1;
	out->nanon = in->nanon < 0 ? 0 : in->nanon > MH_MAX_REGIONS ? MH_MAX_REGIONS : in->nanon;
	memcpy(out->anon, in->anon, (size_t)out->nanon * sizeof(out->anon[0]));
	if (in->allocator != MH_GLIBC)
		return -ENOTSUP;
	w.max_bytes = in->max_bytes ? in->max_bytes : MH_DEFAULT_MAX_BYTES;
	w.max_chunks = in->max_chunks ? in->max_chunks : MH_DEFAULT_MAX_CHUNKS;
	w.narenas = 1; /* slot 0: main_arena, filled if found */
	w.win = malloc(WINDOW);
	is_heap = calloc(in->nanon > 0 ? in->nanon : 1, sizeof(*is_heap));
	if (!w.win || !is_heap) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (in->heap_start && in->heap_end > in->heap_start + MINSIZE) {
		out->heaps++;
		w.brk_heap = true;
		err = walk_region(&w, in->heap_start, in->heap_end, 0, 0, &main_top);
		w.brk_heap = false;
		if (err)
			goto cleanup;
		/* the heap may have grown (brk) since maps was read: its top can be past heap_end */
		find_main_arena(&w, main_top, in->heap_start, in->heap_end + MH_HEAP_SLACK);
	}
	err = walk_nonmain_heaps(&w, is_heap);
	if (err)
		goto cleanup;
	err = walk_mmapped(&w, is_heap);
	if (err)
		goto cleanup;
	out->arenas = w.narenas - 1 + (out->main_arena || in->heap_start ? 1 : 0);
	sort_array(out->chunks, out->nchunks, sizeof(*out->chunks), cmp_chunk);
	walk_tcaches(&w);
	walk_fastbins(&w);
	out->fastbins_checked = !!out->main_arena || !in->heap_start;
	for (i = 0; i < out->nchunks; i++) {
		sz = (uint64_t)out->chunks[i].size16 << 4;
		switch (out->chunks[i].state) {
		case MH_IN_USE:
		case MH_MMAPPED:
			out->in_use_bytes += sz;
			out->in_use_blocks++;
			out->cls[mallocheap__class(sz)].bytes += sz;
			out->cls[mallocheap__class(sz)].blocks++;
			break;
		case MH_FREE:
			out->free_bytes += sz;
			out->free_blocks++;
			break;
		default:
			break;
		}
	}
cleanup:
	out->walk_ns = now_mono_ns() - t0;
	free(w.win);
	free(is_heap);
	return err;
}

void mallocheap__free(struct mallocheap *h)
{
	if (!h)
		return;
	free(h->chunks);
	h->chunks = NULL;
	h->nchunks = h->cap = 0;
}

bool mallocheap__mapped(const struct mallocheap *h, uint64_t addr, uint64_t len)
{
	uint64_t at = addr, end = addr + len;
	int i;

	if (!len || end < addr)
		return false;
	for (i = 0; i < h->nanon && at < end; i++) /* sorted: walk forward through adjacent ones */
		if (h->anon[i].start <= at && at < h->anon[i].end)
			at = h->anon[i].end;
	return at >= end;
}

enum mallocheap_state mallocheap__lookup(const struct mallocheap *h, uint64_t mem, uint64_t *chunk_size)
{
	const struct mallocheap_chunk *c;

	if (mem < CHUNK_HDR || !h->chunks)
		return MH_NOT_A_CHUNK;
	c = find_chunk(h, mem - CHUNK_HDR);
	if (!c)
		return MH_NOT_A_CHUNK;
	if (chunk_size)
		*chunk_size = (uint64_t)c->size16 << 4;
	return c->state;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool is_libc(const char *base)
{
	/* libc.so.6 (2.34+ and distributions), libc-2.31.so (older, the file behind the soname) */
	return !strncmp(base, "libc.so", 7) || (!strncmp(base, "libc-2.", 7) && strstr(base, ".so"));
}

void mallocheap__input_from_maps(const struct proc_map *maps, int n, struct mallocheap_input *in)
{
	static const struct { const char *prefix; enum mallocheap_allocator a; } others[] = {
		{ "libjemalloc", MH_JEMALLOC },
		{ "libtcmalloc", MH_TCMALLOC },
		{ "libmimalloc", MH_MIMALLOC },
	};
	bool libc_seen = false, other_seen = false, after_libc_rw = false;
	const char *base;
	size_t k;
	int i;

	memset(in, 0, sizeof(*in));
	for (i = 0; i < n; i++) {
		const struct proc_map *m = &maps[i];
		bool rw = !strcmp(m->perms, "rw-p");

		base = base_name(m->path);
		if (!strcmp(m->path, "[heap]")) {
			in->heap_start = m->start;
			in->heap_end = m->end;
			after_libc_rw = false;
			continue;
		}
		if (!m->path[0]) {
			/* libc's bss directly follows its data; main_arena is in .data, but a relinked
			 * libc may place it otherwise */
			if (rw && after_libc_rw && in->nlibc_data < (int)ARRAY_SIZE(in->libc_data))
				in->libc_data[in->nlibc_data++] = (struct mallocheap_region){ m->start, m->end };
			else if (rw && in->nanon < MH_MAX_REGIONS)
				in->anon[in->nanon++] = (struct mallocheap_region){ m->start, m->end };
			after_libc_rw = false;
			continue;
		}
		after_libc_rw = false;
		for (k = 0; k < ARRAY_SIZE(others) && !other_seen; k++) {
			if (!strncmp(base, others[k].prefix, strlen(others[k].prefix))) {
				/* LD_PRELOAD'ed or linked: its malloc interposes glibc's for everything */
				in->allocator = others[k].a;
				snprintf(in->allocator_lib, sizeof(in->allocator_lib), "%s", m->path);
				other_seen = true;
			}
		}
		if (is_libc(base)) {
			if (!libc_seen && !other_seen)
				snprintf(in->allocator_lib, sizeof(in->allocator_lib), "%s", m->path);
			libc_seen = true;
			if (rw && in->nlibc_data < (int)ARRAY_SIZE(in->libc_data)) {
				in->libc_data[in->nlibc_data++] = (struct mallocheap_region){ m->start, m->end };
				after_libc_rw = true;
			}
		}
	}
	if (!other_seen)
		in->allocator = libc_seen ? MH_GLIBC : MH_OTHER;
}

void mallocheap__check_executable(struct mallocheap_input *in, const char *path)
{
	/* An allocator linked into the executable interposes malloc for every library (the
	 * executable comes first in symbol lookup): its own entry points name it. */
	static const struct { const char *sym; enum mallocheap_allocator a; } marks[] = {
		{ "mallocx", MH_JEMALLOC },
		{ "je_malloc", MH_JEMALLOC },
		{ "tc_malloc", MH_TCMALLOC },
		{ "mi_malloc", MH_MIMALLOC },
	};
	struct elf_file *elf = NULL;
	struct elf_sym sym;
	size_t k;

	if (in->allocator != MH_GLIBC || elf__open(path, &elf))
		return;
	if (!elf__find_symbol(elf, "malloc", &sym) && sym.value) {
		for (k = 0; k < ARRAY_SIZE(marks); k++) {
			if (!elf__find_symbol(elf, marks[k].sym, &sym) && sym.value) {
				in->allocator = marks[k].a;
				snprintf(in->allocator_lib, sizeof(in->allocator_lib), "%s (linked in)", path);
				break;
			}
		}
		if (k == ARRAY_SIZE(marks)) {
			in->allocator = MH_OTHER;
			snprintf(in->allocator_lib, sizeof(in->allocator_lib), "%s (defines malloc)", path);
		}
	}
	elf__close(elf);
}
