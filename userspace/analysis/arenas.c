/* SPDX-License-Identifier: BSD-2-Clause */
/* pymalloc arenas of a target without its symbols: pool headers checked against each other, block accounting. */
#include "analysis/arenas.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/proc.h"
#include "target/smaps.h"
#include "util/common.h"

#define PAGE 4096u
/* Bounds of one scan: pages looked at (pagemap entries) and headers read. */
#define SCAN_MAX_PAGES (16ull << 20) /* 64 GiB of anonymous memory */
#define SCAN_BATCH 1024

const char *arena_source__name(enum arena_source s)
{
	switch (s) {
	case ARENA_SOURCE_TABLE: return "table";
	case ARENA_SOURCE_SCAN: return "scan";
	case ARENA_SOURCE_NONE: break;
	}
	return "none";
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

int arenas__check_pool(const unsigned char *hdr, uint64_t pool_addr, uint32_t pool_size, struct pool_info *pi)
{
	uint64_t ref = rd64(hdr), rel;
	uint32_t size;

	memset(pi, 0, sizeof(*pi));
	if (pool_size < 1024 || (pool_size & (pool_size - 1)) || (pool_addr & (pool_size - 1)))
		return -EPROTO;
	/* ref is union { block *_padding; uint count; }: nothing writes the upper half. */
	if (ref >> 32)
		return -EPROTO;
	pi->count = (uint32_t)ref;
	pi->freeblock = rd64(hdr + 8);
	pi->arenaindex = rd32(hdr + 32);
	pi->szidx = rd32(hdr + 36);
	pi->nextoffset = rd32(hdr + 40);
	pi->maxnextoffset = rd32(hdr + 44);
	if (pi->szidx >= ARENAS_MAX_CLASSES || pi->arenaindex >= ARENAS_MAX_INDEX || pi->maxnextoffset >= pool_size)
		return -EPROTO;
	/* pymalloc_pool_init: maxnextoffset = POOL_SIZE - INDEX2SIZE(szidx). */
	size = pool_size - pi->maxnextoffset;
	if (size > 512 || (size != (pi->szidx + 1) * 16 && size != (pi->szidx + 1) * 8))
		return -EPROTO;
	pi->size = size;
	pi->capacity = (pool_size - ARENAS_POOL_OVERHEAD) / size;
	/* nextoffset: the next never-used block; starts at overhead + 2 * size (one block handed
	 * out, one on the free list) and grows by size up to maxnextoffset + size. */
	if (pi->nextoffset < ARENAS_POOL_OVERHEAD + size || pi->nextoffset > pool_size ||
	    (pi->nextoffset - ARENAS_POOL_OVERHEAD) % size)
		return -EPROTO;
	pi->carved = (pi->nextoffset - ARENAS_POOL_OVERHEAD) / size;
	if (pi->carved > pi->capacity || pi->count > pi->carved)
		return -EPROTO;
	if (pi->freeblock) {
		if ((pi->freeblock & ~(uint64_t)(pool_size - 1)) != pool_addr)
			return -EPROTO;
		rel = pi->freeblock - pool_addr;
		if (rel < ARENAS_POOL_OVERHEAD || rel >= pi->nextoffset || (rel - ARENAS_POOL_OVERHEAD) % size)
			return -EPROTO;
	}
	return 0;
}

int arenas__pool_free(const unsigned char *pool, uint64_t pool_addr, uint32_t pool_size, const struct pool_info *pi,
		      unsigned char *isfree)
{
	uint64_t fb = pi->freeblock;
	uint32_t nfree = 0;

	memset(isfree, 0, pi->capacity);
	while (fb) {
		uint64_t rel, idx;

		if ((fb & ~(uint64_t)(pool_size - 1)) != pool_addr)
			return -EPROTO;
		rel = fb - pool_addr;
		if (rel < ARENAS_POOL_OVERHEAD || rel >= pi->nextoffset || (rel - ARENAS_POOL_OVERHEAD) % pi->size)
			return -EPROTO;
		idx = (rel - ARENAS_POOL_OVERHEAD) / pi->size;
		if (idx >= pi->capacity || isfree[idx])
			return -EPROTO; /* a loop */
		isfree[idx] = 1;
		if (++nfree > pi->carved)
			return -EPROTO;
		fb = rd64(pool + rel);
	}
	if (pi->count + nfree != pi->carved)
		return -EPROTO;
	/* No free block and room left would have been carved at once (pymalloc_alloc). */
	if (!pi->freeblock && pi->nextoffset <= pi->maxnextoffset)
		return -EPROTO;
	return 0;
}

void arenas__account_pool(struct arenas_stats *st, const struct pool_info *pi)
{
	struct arenas_class *c;

	if (!pi->count) {
		st->pools_unused++;
		return;
	}
	c = &st->cls[pi->szidx];
	st->pools_used++;
	c->pools++;
	c->blocks_used += pi->count;
	c->blocks_avail += pi->capacity - pi->count;
	st->blocks_used += pi->count;
	st->blocks_avail += pi->capacity - pi->count;
	st->bytes_used += (int64_t)pi->count * pi->size;
	st->bytes_avail += (int64_t)(pi->capacity - pi->count) * pi->size;
	if ((int)pi->szidx + 1 > st->nclasses)
		st->nclasses = pi->szidx + 1;
}

double arenas__confidence(const struct arenas_stats *st)
{
	return st->pools_checked > 0 ? (double)st->pools_consistent / st->pools_checked : 1.0;
}

/* ---------------------------------------------------------------- grouping pools into arenas */

struct finder {
	const struct arena_geometry *g;
	struct arena cur;
	bool open;
	uint32_t npools;
	struct arena *out;
	long n, max;
};

static void finder_close(struct finder *f)
{
	if (!f->open)
		return;
	if (f->n < f->max)
		f->out[f->n] = f->cur;
	f->n++;
	f->open = false;
}

/*
 * Pools are carved from an arena in address order (pool_address only grows, and every carved
 * pool keeps its header, empty or not), so an arena is a run of valid headers with one arenaindex
 * starting at its first pool; the never-carved rest reads as zeros, which is no valid header.
 */
static void finder_pool(struct finder *f, uint64_t p, const struct pool_info *pi)
{
	uint32_t max_pools = f->g->arena_size / f->g->pool_size;

	if (f->open && pi && pi->arenaindex == f->cur.index && p == f->cur.pools_end && f->npools < max_pools) {
		f->cur.pools_end += f->g->pool_size;
		f->npools++;
		return;
	}
	finder_close(f);
	if (!pi)
		return;
	f->cur.address = f->cur.pools_begin = p;
	f->cur.pools_end = p + f->g->pool_size;
	f->cur.index = pi->arenaindex;
	f->npools = 1;
	f->open = true;
}

static bool geometry_ok(const struct arena_geometry *g)
{
	return g->pool_size >= PAGE && !(g->pool_size & (g->pool_size - 1)) && g->arena_size >= g->pool_size &&
	       g->arena_size % g->pool_size == 0 && g->arena_size <= (64u << 20);
}

long arenas__find_in(const unsigned char *mem, uint64_t base, size_t len, const struct arena_geometry *g,
		     struct arena *out, long max)
{
	struct finder f = { .g = g, .out = out, .max = max };
	uint64_t p;

	if (!geometry_ok(g) || base + len < base)
		return -EINVAL;
	for (p = (base + g->pool_size - 1) & ~(uint64_t)(g->pool_size - 1); p >= base && p - base + ARENAS_POOL_OVERHEAD <= len;
	     p += g->pool_size) {
		struct pool_info pi;

		finder_pool(&f, p, arenas__check_pool(mem + (p - base), p, g->pool_size, &pi) ? NULL : &pi);
	}
	finder_close(&f);
	return f.n;
}

/* ---------------------------------------------------------------- the live scan */

struct scan {
	struct finder f;
	struct remote *r;
	uint64_t addr[SCAN_BATCH];
	unsigned char hdr[SCAN_BATCH][ARENAS_POOL_OVERHEAD];
	int n;
};

static void scan_flush(struct scan *s)
{
	struct remote_iov iov[SCAN_BATCH];
	bool ok[SCAN_BATCH];
	int i;

	for (i = 0; i < s->n; i++) {
		iov[i].addr = s->addr[i];
		iov[i].buf = s->hdr[i];
		iov[i].len = ARENAS_POOL_OVERHEAD;
		ok[i] = true;
	}
	if (s->n && remote__readv(s->r, iov, s->n))
		for (i = 0; i < s->n; i++) /* some page went away: one by one */
			ok[i] = remote__read(s->r, s->addr[i], s->hdr[i], ARENAS_POOL_OVERHEAD) == 0;
	for (i = 0; i < s->n; i++) {
		struct pool_info pi;
		bool valid = ok[i] && !arenas__check_pool(s->hdr[i], s->addr[i], s->f.g->pool_size, &pi);

		finder_pool(&s->f, s->addr[i], valid ? &pi : NULL);
	}
	s->n = 0;
}

static int cmp_index(const void *a, const void *b)
{
	const struct arena *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

long arenas__scan(pid_t pid, struct remote *r, const struct arena_geometry *g, uint64_t deadline_ns,
		  struct arena **out, struct arenas_stats *st)
{
	struct proc_map *maps = NULL;
	struct scan *s = NULL;
	unsigned char *present = NULL;
	uint64_t pages_seen = 0;
	long n = 0, i;
	int nmaps, m, err = 0;

	*out = NULL;
	if (!geometry_ok(g))
		return -EINVAL;
	nmaps = proc__read_maps(pid, &maps);
	if (nmaps < 0)
		return nmaps;
	s = calloc(1, sizeof(*s));
	present = malloc(g->pool_size / PAGE * 4096);
	if (!s || !present) {
		err = -ENOMEM;
		goto cleanup;
	}
	s->r = r;
	s->f.g = g;
	s->f.max = ARENAS_MAX;
	s->f.out = calloc(ARENAS_MAX, sizeof(*s->f.out));
	if (!s->f.out) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (m = 0; m < nmaps; m++) {
		const struct proc_map *pm = &maps[m];
		uint64_t p = (pm->start + g->pool_size - 1) & ~(uint64_t)(g->pool_size - 1);
		const size_t step = g->pool_size / PAGE, chunk = 4096; /* pool slots per pagemap read */

		/* _PyObject_ArenaMmap: mmap(MAP_PRIVATE | MAP_ANONYMOUS, PROT_READ | PROT_WRITE). */
		if (pm->path[0] || strcmp(pm->perms, "rw-p"))
			continue;
		while (p + ARENAS_POOL_OVERHEAD <= pm->end && !err) {
			size_t slots = MIN((pm->end - p) / g->pool_size + 1, chunk), k;

			if (pages_seen > SCAN_MAX_PAGES || (deadline_ns && now_mono_ns() > deadline_ns)) {
				err = -ETIME;
				break;
			}
			/* One pagemap entry per slot: the page of its header. */
			for (k = 0; k < slots; k++)
				present[k] = 0;
			{
				unsigned char pg[4096 * 4];
				size_t npages = MIN(slots * step, sizeof(pg));

				if (pagemap__present(pid, p, npages, pg) == 0) {
					for (k = 0; k < slots && k * step < npages; k++)
						present[k] = pg[k * step];
				} else {
					for (k = 0; k < slots; k++)
						present[k] = 1; /* no pagemap: read every header */
				}
				slots = MIN(slots, (npages + step - 1) / step);
			}
			pages_seen += slots * step;
			for (k = 0; k < slots; k++, p += g->pool_size) {
				if (p + ARENAS_POOL_OVERHEAD > pm->end)
					break;
				if (!present[k]) {
					scan_flush(s);
					finder_pool(&s->f, p, NULL);
					continue;
				}
				s->addr[s->n++] = p;
				if (s->n == SCAN_BATCH)
					scan_flush(s);
			}
		}
		scan_flush(s);
		finder_close(&s->f); /* an arena never spans two mappings' worth of a gap */
		if (err)
			break;
	}
	n = MIN(s->f.n, s->f.max);
	qsort(s->f.out, n, sizeof(*s->f.out), cmp_index);
	for (i = 1; i < n; i++)
		if (s->f.out[i].index == s->f.out[i - 1].index)
			st->duplicate_index++;
	*out = s->f.out;
	s->f.out = NULL;
	st->source = ARENA_SOURCE_SCAN;
cleanup:
	if (s)
		free(s->f.out);
	free(s);
	free(present);
	free(maps);
	if (err) { /* a partial scan would undercount: no answer rather than a wrong one */
		free(*out);
		*out = NULL;
		return err;
	}
	return n;
}
