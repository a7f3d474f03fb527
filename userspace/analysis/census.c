/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-type heap census of a CPython process read from outside (objgraph.typestats without code in the target). */
#include "analysis/census.h"
#include "analysis/census_ft.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/common.h"
#include "target/elffile.h"
#include "target/proc.h"
#include "target/smaps.h"

/*
 * GC lists are linked in allocation order and pymalloc hands out neighbouring blocks of one
 * pool to consecutive allocations, so consecutive nodes are usually a few dozen bytes apart.
 * Reading the 16 KiB around a node (one process_vm_readv) therefore serves the next hundreds
 * of nodes from a local copy: a 1M-object walk costs thousands of syscalls, not millions.
 * Direct-mapped, 4096 slots = 64 MiB of address space, touched lazily: a heap whose list
 * order is scrambled relative to addresses (long churn) still gets each chunk read about once
 * when the tracked objects fit in 64 MiB.
 */
#define CHUNK_SHIFT 14
#define CHUNK_SIZE (1ull << CHUNK_SHIFT)
#define CHUNK_SLOTS 4096
#define CHUNK_BAD 1ull /* tag bit: this chunk does not read whole, read nodes in it one by one */

struct chunk_cache {
	struct remote *r;
	uint64_t tag[CHUNK_SLOTS];
	uint16_t lo[CHUNK_SLOTS], hi[CHUNK_SLOTS]; /* valid bytes of the slot, in 16-byte units */
	unsigned char *data;
	/* Adaptive window: when the list order has little to do with address order (a heap
	 * scrambled by churn), 16 KiB per miss copies mostly useless bytes: read 1 KiB then. */
	bool small;
	uint32_t hits, near, misses, evictions;
};

#define SMALL_WINDOW 1024u

static int cc_init(struct chunk_cache *cc, struct remote *r)
{
	memset(cc, 0, sizeof(*cc));
	cc->r = r;
	cc->data = malloc(CHUNK_SLOTS * CHUNK_SIZE);
	return cc->data ? 0 : -ENOMEM;
}

static void cc_reset(struct chunk_cache *cc)
{
	memset(cc->tag, 0, sizeof(cc->tag));
}

static void cc_adapt(struct chunk_cache *cc)
{
	/* Costs measured on the dev VM: a 16 KiB process_vm_readv ~3 us, a 1 KiB one ~1 us.
	 * Cold misses (an empty slot) are paid once either way; evictions mean thrashing. */
	if (!cc->small && cc->evictions * 2 > cc->misses && cc->hits < 2 * cc->misses)
		cc->small = true;
	else if (cc->small && cc->hits + cc->near > 6 * cc->misses)
		cc->small = false;
	cc->hits = cc->near = cc->misses = cc->evictions = 0;
}

/* Pointer to len bytes of target memory at addr (in the cache or in tmp), or NULL. */
static const unsigned char *cc_get(struct chunk_cache *cc, uint64_t addr, size_t len, unsigned char *tmp)
{
	uint64_t base = addr & ~(CHUNK_SIZE - 1), off = addr - base, lo, hi;
	size_t slot = (base >> CHUNK_SHIFT) & (CHUNK_SLOTS - 1);
	unsigned char *d = cc->data + slot * CHUNK_SIZE;

	if (off + len > CHUNK_SIZE)
		goto direct;
	if (cc->tag[slot] == base) {
		if (off >= cc->lo[slot] * 16u && off + len <= cc->hi[slot] * 16u) {
			cc->hits++;
			return d + off;
		}
		cc->near++;
	}
	if (cc->tag[slot] == (base | CHUNK_BAD))
		goto direct;
	if (cc->tag[slot] && cc->tag[slot] != base)
		cc->evictions++;
	if (++cc->misses >= 1024)
		cc_adapt(cc);
	if (cc->small) {
		lo = off & ~(uint64_t)(SMALL_WINDOW - 1);
		hi = MIN(lo + 2 * SMALL_WINDOW, CHUNK_SIZE);
		if (off + len > lo + SMALL_WINDOW)
			lo = hi - 2 * SMALL_WINDOW;
		else
			hi = lo + SMALL_WINDOW;
	} else {
		lo = 0;
		hi = CHUNK_SIZE;
	}
	if (!remote__read(cc->r, base + lo, d + lo, hi - lo)) {
		cc->tag[slot] = base;
		cc->lo[slot] = lo / 16;
		cc->hi[slot] = hi / 16;
		return d + off;
	}
	if (!cc->small)
		cc->tag[slot] = base | CHUNK_BAD; /* e.g. the last pages of a heap mapping */
direct:
	/* A node copy reads past small objects: the last block of an arena before an unmapped page
	 * is readable up to that page (its GC head and object header, 32 bytes, at least). */
	return remote__read_prefix(cc->r, addr, tmp, len, MIN(len, (size_t)32)) ? NULL : tmp;
}

/* ---------------------------------------------------------------- rows */

struct row {
	struct census_type pub;
	const struct pyobj_type *info; /* NULL: ob_type did not read as a type */
	int64_t pend_count, pend_bytes;
};

struct census {
	const struct py_layout *l;
	struct pyobj_types *types;
	bool own_types;
	double time;

	struct row *rows;
	size_t nrows, caprows;
	uint32_t *index; /* hash: type addr -> rows index + 1 */
	size_t capindex;
	struct row **sorted;
	size_t nsorted;

	struct census_container *heap; /* min-heap by len while walking, sorted at the end */
	int *heap_epoch;
	int nheap, kheap;

	struct census_stats st;
	int64_t total_objects, total_bytes;
};

static size_t hslot(uint64_t addr, size_t cap)
{
	return (size_t)(((addr >> 3) * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static int index_grow(struct census *c)
{
	size_t cap = c->capindex ? c->capindex * 2 : 1024, i;
	uint32_t *idx = calloc(cap, sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	for (i = 0; i < c->nrows; i++) {
		size_t s = hslot(c->rows[i].pub.type_addr, cap);

		while (idx[s])
			s = (s + 1) & (cap - 1);
		idx[s] = i + 1;
	}
	free(c->index);
	c->index = idx;
	c->capindex = cap;
	return 0;
}

static struct row *row_peek(const struct census *c, uint64_t type)
{
	size_t s;

	if (!c->capindex)
		return NULL;
	for (s = hslot(type, c->capindex); c->index[s]; s = (s + 1) & (c->capindex - 1))
		if (c->rows[c->index[s] - 1].pub.type_addr == type)
			return &c->rows[c->index[s] - 1];
	return NULL;
}

/* The row for a type pointer, resolving the type (through the cache) the first time. */
static struct row *row_get(struct census *c, struct remote *r, uint64_t type)
{
	struct row *row = row_peek(c, type);
	const struct pyobj_type *info = NULL;
	size_t s;

	if (row)
		return row;
	if ((c->nrows + 1) * 2 > c->capindex && index_grow(c))
		return NULL;
	if (c->nrows == c->caprows) {
		size_t cap = c->caprows ? c->caprows * 2 : 256;
		struct row *n = realloc(c->rows, cap * sizeof(*n));

		if (!n)
			return NULL;
		c->rows = n;
		c->caprows = cap;
	}
	row = &c->rows[c->nrows];
	memset(row, 0, sizeof(*row));
	row->pub.type_addr = type;
	if (remote__valid_ptr(type, 8))
		pyobj_types__get(c->types, r, type, &info);
	row->info = info;
	if (info) {
		snprintf(row->pub.name, sizeof(row->pub.name), "%s", info->name);
		row->pub.kind = info->kind;
	} else {
		snprintf(row->pub.name, sizeof(row->pub.name), "?0x%llx", (unsigned long long)type);
	}
	for (s = hslot(type, c->capindex); c->index[s]; s = (s + 1) & (c->capindex - 1))
		;
	c->index[s] = ++c->nrows;
	return row;
}

/* Shallow size of one object, from its first 48 bytes (sys.getsizeof without __sizeof__ calls). */
static int64_t obj_bytes(const struct census *c, const struct pyobj_type *ti, const unsigned char *obj)
{
	const struct py_layout *l = c->l;
	int64_t size = ti->presize + ti->basicsize, n;

	if (ti->kind == PYOBJ_STR) {
		uint32_t state;
		int64_t len;

		memcpy(&state, obj + l->unicode_state, 4);
		memcpy(&len, obj + l->unicode_length, 8);
		if (len < 0 || len > (1ll << 40) || !(state & (1u << 5)))
			return size;
		if (state & (1u << 6))
			return ti->presize + l->unicode_ascii_size + len + 1;
		return ti->presize + l->unicode_compact_size + (len + 1) * ((state >> 2) & 7);
	}
	if (!ti->itemsize)
		return size;
	memcpy(&n, obj + l->varobject_size, 8);
	/* 3.12 replaced int's ob_size by lv_tag: digit count << 3 | sign (gh-101291). */
	if (ti->kind == PYOBJ_INT && l->minor >= 12)
		n = (int64_t)((uint64_t)n >> 3);
	/* Bounds first: -INT64_MIN does not exist. */
	if (n > (1ll << 40) || n < -(1ll << 40))
		return size;
	if (n < 0)
		n = -n;
	return size + ti->itemsize * n;
}

/* ---------------------------------------------------------------- largest containers */

static bool heap_less(const struct census_container *a, const struct census_container *b)
{
	return a->len < b->len || (a->len == b->len && a->addr > b->addr);
}

static void heap_swap(struct census *c, int i, int j)
{
	struct census_container t = c->heap[i];
	int e = c->heap_epoch[i];

	c->heap[i] = c->heap[j];
	c->heap[j] = t;
	c->heap_epoch[i] = c->heap_epoch[j];
	c->heap_epoch[j] = e;
}

static void heap_down(struct census *c, int i)
{
	for (;;) {
		int m = i, a = 2 * i + 1, b = a + 1;

		if (a < c->nheap && heap_less(&c->heap[a], &c->heap[m]))
			m = a;
		if (b < c->nheap && heap_less(&c->heap[b], &c->heap[m]))
			m = b;
		if (m == i)
			return;
		heap_swap(c, i, m);
		i = m;
	}
}

static void heap_up(struct census *c, int i)
{
	while (i > 0 && heap_less(&c->heap[i], &c->heap[(i - 1) / 2])) {
		heap_swap(c, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_offer(struct census *c, uint64_t addr, uint64_t type, enum pyobj_kind kind, int64_t len, int epoch)
{
	struct census_container e = { .addr = addr, .type_addr = type, .kind = kind, .len = len };

	if (c->kheap <= 0)
		return;
	if (c->nheap < c->kheap) {
		c->heap[c->nheap] = e;
		c->heap_epoch[c->nheap] = epoch;
		heap_up(c, c->nheap++);
	} else if (heap_less(&c->heap[0], &e)) {
		c->heap[0] = e;
		c->heap_epoch[0] = epoch;
		heap_down(c, 0);
	}
}

/* A generation walk is being redone: forget what it contributed. */
static void heap_forget(struct census *c, int epoch)
{
	int i, n = 0;

	for (i = 0; i < c->nheap; i++)
		if (c->heap_epoch[i] != epoch) {
			c->heap[n] = c->heap[i];
			c->heap_epoch[n++] = c->heap_epoch[i];
		}
	c->nheap = n;
	for (i = n / 2 - 1; i >= 0; i--)
		heap_down(c, i);
}

/* ---------------------------------------------------------------- GC list walk */

struct walk {
	struct census *c;
	struct remote *r;
	struct chunk_cache cc;
	const struct census_opts *o;
	uint64_t deadline_ns;
	long max_nodes;
	uint64_t heads[3], cur_head; /* generation list heads: a walk must never pass through one */
};

static int check_limits(struct walk *w)
{
	if (exiting) {
		w->c->st.interrupted = true;
		return -EINTR;
	}
	if (now_mono_ns() > w->deadline_ns) {
		w->c->st.timed_out = true;
		return -ETIME;
	}
	return 0;
}

/* Fresh reads of prev and its successor; 0 (cur, next set) when prev -> cur -> prev holds now. */
static int repair(struct walk *w, uint64_t prev, uint64_t *cur, uint64_t *next)
{
	const struct py_layout *l = w->c->l;
	const uint64_t mask = ~7ull;
	unsigned char a[32], b[32];
	uint64_t n, back;
	size_t gch = l->gc_head_size > 32 ? 32 : l->gc_head_size;

	if (remote__read(w->r, prev, a, gch))
		return -EFAULT;
	memcpy(&n, a + l->gc_head_next, 8);
	n &= mask;
	if (!remote__valid_ptr(n, 8))
		return -EPROTO;
	if (n == w->heads[0] || n == w->heads[1] || n == w->heads[2]) {
		*cur = n;
		*next = 0;
		return n == w->cur_head ? 0 : -EAGAIN;
	}
	if (remote__read(w->r, n, b, gch))
		return -EFAULT;
	memcpy(&back, b + l->gc_head_prev, 8);
	if ((back & mask) != prev)
		return -EAGAIN;
	/* Later nodes are read fresh too: the cached chunks around here are stale. */
	w->cc.tag[((n & ~(CHUNK_SIZE - 1)) >> CHUNK_SHIFT) & (CHUNK_SLOTS - 1)] = 0;
	w->cc.tag[((prev & ~(CHUNK_SIZE - 1)) >> CHUNK_SHIFT) & (CHUNK_SLOTS - 1)] = 0;
	*cur = n;
	memcpy(next, b + l->gc_head_next, 8);
	return 0;
}

/*
 * One generation: head -> ... -> head through _gc_next, checking that each node's _gc_prev
 * points back at the node we came from. Counts go to the rows' pending fields; the caller
 * commits them or, when the chain broke and a retry is left, drops them.
 * 3.8+ keep flags in the low bits of _gc_prev (PREV_MASK_COLLECTING, _PyGC_PREV_MASK_FINALIZED)
 * and NEXT_MASK_UNREACHABLE in bit 0 of _gc_next during a collection (bpo-33597); 3.6/3.7
 * pointers are plain and the head is 32 bytes.
 */
/* Binary search of obj in the sorted probe list: record what is there now. */
static void probe_note(struct walk *w, uint64_t obj, uint64_t type, int gen, int64_t index)
{
	const struct census_opts *o = w->o;
	size_t lo = 0, hi = o->nprobe;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->probe_addrs[mid] == obj) {
			o->probe_types[mid] = type;
			o->probe_gens[mid] = (int8_t)gen;
			if (o->probe_index)
				o->probe_index[mid] = index;
			return;
		}
		if (o->probe_addrs[mid] < obj)
			lo = mid + 1;
		else
			hi = mid;
	}
}

static int walk_generation(struct walk *w, uint64_t head, int epoch)
{
	struct census *c = w->c;
	const struct py_layout *l = c->l;
	const uint64_t mask = ~7ull;
	const size_t gch = l->gc_head_size, need = gch + 64; /* pyobj__len_from_header reads 64 */
	unsigned char tmp[96], hh[32];
	uint64_t prev = head, cur, next, back, head_prev;
	int64_t index = 0;
	int err;

	w->cur_head = head;
	err = remote__read(w->r, head, hh, gch > 32 ? 32 : gch);
	if (err) {
		c->st.unreadable++;
		return err;
	}
	memcpy(&cur, hh + l->gc_head_next, 8);
	memcpy(&head_prev, hh + l->gc_head_prev, 8);
	cur &= mask;
	head_prev &= mask;
	while (cur != head) {
		const unsigned char *p, *obj;
		struct row *row;
		uint64_t type;

		if (!remote__valid_ptr(cur, 8)) {
			c->st.bad_pointers++;
			return -EPROTO;
		}
		if (c->st.nodes >= w->max_nodes) {
			c->st.truncated = true;
			return -E2BIG;
		}
		if ((++c->st.nodes & 4095) == 0 && (err = check_limits(w)))
			return err;
		p = cc_get(&w->cc, cur, need, tmp);
		if (!p) {
			c->st.unreadable++;
			return -EFAULT;
		}
		memcpy(&next, p + l->gc_head_next, 8);
		memcpy(&back, p + l->gc_head_prev, 8);
		if ((back & mask) != prev || cur == w->heads[0] || cur == w->heads[1] || cur == w->heads[2]) {
			/* Usually our copy of prev is older than our copy of cur: re-read both. If prev
			 * is still linked, carry on from its current successor; if not (freed, or moved
			 * to an older generation by a collection), the caller walks the list again. */
			c->st.broken_links++;
			if (repair(w, prev, &cur, &next) || ++c->st.repairs > 100000)
				return -EAGAIN;
			if (cur == head)
				break;
			p = cc_get(&w->cc, cur, need, tmp);
			if (!p) {
				c->st.unreadable++;
				return -EFAULT;
			}
		}
		obj = p + gch;
		memcpy(&type, obj + l->object_type, 8);
		if (w->o->nprobe)
			probe_note(w, cur + gch, type, epoch / 1000, index);
		index++;
		row = row_get(c, w->r, type);
		if (!row)
			return -ENOMEM;
		if (!row->info) {
			c->st.unknown_types++;
		} else {
			if (w->o->visit)
				w->o->visit(w->o->visit_arg, cur + gch, row->info, epoch / 1000);
			row->pend_count++;
			row->pend_bytes += obj_bytes(c, row->info, obj);
			if (row->info->kind == PYOBJ_DICT || row->info->kind == PYOBJ_LIST ||
			    row->info->kind == PYOBJ_SET || row->info->kind == PYOBJ_DEQUE) {
				int64_t len = pyobj__len_from_header(l, obj, row->info->kind);

				if (len >= 0)
					heap_offer(c, cur + gch, type, row->info->kind, len, epoch);
			}
		}
		prev = cur;
		cur = next & mask;
	}
	if (head_prev != prev) /* the head was read before the walk: the list grew or shrank since */
		c->st.broken_links++;
	return 0;
}

static void rows_settle(struct census *c, bool commit)
{
	size_t i;

	for (i = 0; i < c->nrows; i++) {
		if (commit) {
			c->rows[i].pub.count += c->rows[i].pend_count;
			c->rows[i].pub.bytes += c->rows[i].pend_bytes;
		}
		c->rows[i].pend_count = c->rows[i].pend_bytes = 0;
	}
}

/*
 * A collection in progress has moved the young generations onto private lists of the
 * collector (gc_collect_main's `young`/`unreachable`): wait for it (a few ms) before a walk.
 */
static void wait_not_collecting(struct walk *w, const struct py_target *t)
{
	int32_t collecting = 0;
	int i;

	if (!t->gc_collecting_addr)
		return;
	for (i = 0; i < 200 && !exiting && now_mono_ns() < w->deadline_ns; i++) {
		if (remote__read_i32(w->r, t->gc_collecting_addr, &collecting) || !collecting)
			return;
		usleep(1000);
	}
}

/* Collections of generation >= gen so far (gc.get_stats()[i]["collections"]), or -1. */
static int64_t collections_from(struct walk *w, const struct py_target *t, int gen)
{
	int64_t stats[3][3], sum = 0;
	int i;

	/* Target memory is untrusted: python__read_gen_stats bounds every counter it returns. */
	if (python__read_gen_stats(t, w->r, stats, NULL))
		return -1;
	for (i = gen; i < 3; i++)
		sum += stats[i][0];
	return sum;
}

static int walk_gc(struct walk *w, const struct py_target *t)
{
	struct census *c = w->c;
	const struct py_layout *l = c->l;
	int gen, attempt, retries = w->o->retries, err = 0;

	if (retries == 0)
		retries = CENSUS_DEFAULT_RETRIES;
	if (retries < 0)
		retries = 0;
	for (gen = 0; gen < 3; gen++)
		w->heads[gen] = t->gc_generations_addr + (uint64_t)gen * l->gc_generation_size + l->gc_gen_head;
	/* generations[0..2] only: gc.get_objects() leaves out the permanent generation (gc.freeze). */
	for (gen = 0; gen < 3; gen++) {
		uint64_t head = t->gc_generations_addr + (uint64_t)gen * l->gc_generation_size + l->gc_gen_head;

		for (attempt = 0;; attempt++) {
			int epoch = gen * 1000 + attempt;

			int64_t before, after;

			wait_not_collecting(w, t);
			before = collections_from(w, t, gen);
			err = walk_generation(w, head, epoch);
			after = collections_from(w, t, gen);
			/* A collection of this generation or an older one reorders the list while it
			 * runs (move_unreachable moves objects to the tail): nodes may have been seen
			 * twice or not at all. Younger collections only append to it: harmless. */
			if (!err && before >= 0 && after != before) {
				c->st.collections_during_walk++;
				err = -EAGAIN;
			}
			if ((err == -EAGAIN || err == -EPROTO || err == -EFAULT) && attempt < retries) {
				rows_settle(c, false);
				heap_forget(c, epoch);
				c->st.retries++;
				cc_reset(&w->cc); /* stale copies are the usual cause of a broken chain */
				continue;
			}
			/* Out of retries, or out of budget: keep the partial count, it is in the stats. */
			if (err)
				c->st.partial_generations++;
			rows_settle(c, true);
			break;
		}
		if (err == -ENOMEM || err == -ESRCH || err == -EINTR || err == -ETIME || err == -E2BIG)
			return err;
	}
	return 0;
}

/* ---------------------------------------------------------------- pymalloc arenas (--all-objects) */

/* Static types exported in .dynsym of every build: the untracked objects are mostly these. */
static const char *const static_type_syms[] = {
	"PyUnicode_Type",   "PyBytes_Type",    "PyLong_Type",	"PyFloat_Type",	   "PyTuple_Type",
	"PyDict_Type",	    "PyList_Type",     "PySet_Type",	"PyFrozenSet_Type", "PyComplex_Type",
	"PyByteArray_Type", "PyBool_Type",     "PyCode_Type",	"PySlice_Type",	   "PyRange_Type",
	"PyCell_Type",	    "PyMethod_Type",   "PyCFunction_Type", "PyProperty_Type", "PyMemoryView_Type",
	"PyCapsule_Type",   "_PyWeakref_RefType", "PyFunction_Type", "PyModule_Type", "PyType_Type",
};

#define ARENA_OBJECT_SIZE 48 /* struct arena_object, stable 3.6-3.13 (cpython-internals.md §7) */
#define MAX_ARENAS (1 << 20)

/* Free-threaded: one object of a mimalloc heap (census_ft.c found it allocated and tracked). */
static int ft_visit(uint64_t addr, const unsigned char *obj, bool tracked, void *arg)
{
	struct walk *w = arg;
	struct census *c = w->c;
	const struct py_layout *l = c->l;
	struct row *row;
	uint64_t type;

	if (!tracked || (obj[CENSUS_FT_GC_BITS] & CENSUS_FT_BIT_FROZEN)) {
		const struct pyobj_type *pt = NULL;

		if (!w->o->visit || !w->o->visit_untracked)
			return 0;
		/* not counted (frozen ones are left out as a GIL build's permanent generation is):
		 * only the visitor's, with a type that reads as one (the block may be an object still
		 * being built); frozen as generation 3, the permanent one */
		memcpy(&type, obj + l->object_type, 8);
		if (pyobj__refcnt_live(l, obj) && !pyobj_types__get(c->types, w->r, type, &pt) && pt)
			w->o->visit(w->o->visit_arg, addr, pt, tracked ? 3 : 0);
		return 0;
	}
	if (c->st.nodes >= w->max_nodes) {
		c->st.truncated = true;
		return -E2BIG;
	}
	c->st.nodes++;
	memcpy(&type, obj + l->object_type, 8);
	row = row_get(c, w->r, type);
	if (!row)
		return -ENOMEM;
	if (!row->info) {
		c->st.unknown_types++;
		return 0;
	}
	/* No generations in a free-threaded build: every object is told as generation 0 */
	if (w->o->visit)
		w->o->visit(w->o->visit_arg, addr, row->info, 0);
	row->pend_count++;
	row->pend_bytes += obj_bytes(c, row->info, obj);
	if (row->info->kind == PYOBJ_DICT || row->info->kind == PYOBJ_LIST || row->info->kind == PYOBJ_SET ||
	    row->info->kind == PYOBJ_DEQUE) {
		int64_t len = pyobj__len_from_header(l, obj, row->info->kind);

		if (len >= 0)
			heap_offer(c, addr, type, row->info->kind, len, 0);
	}
	return 0;
}

static int ft_check(void *arg)
{
	return check_limits(arg);
}

static void c_ft_stats(struct census *c, const struct census_ft_stats *fs)
{
	c->st.mimalloc = true;
	c->st.mi_threads = fs->threads;
	c->st.mi_pages = fs->pages;
	c->st.mi_abandoned_segments = fs->abandoned_segments;
	c->st.mi_abandoned_pages = fs->abandoned_pages;
	c->st.unreadable += fs->bad_pages;
	if (fs->bad_pages)
		c->st.broken_links += fs->bad_pages;
}

static int walk_ft(struct walk *w, const struct py_target *t)
{
	struct census_ft_stats fs;
	int err;

	/* No lists to reorder and nothing to retry: pages that changed under the copy are
	 * skipped (bad_pages) and their objects missing from this census only. */
	err = census_ft__walk(t, w->r, ft_visit, ft_check, w, &fs);
	c_ft_stats(w->c, &fs);
	rows_settle(w->c, true);
	return err;
}

static int arena_table(const struct py_target *t, struct remote *r, struct elf_file *elf, uint64_t *arenas,
		       uint32_t *maxarenas, char *why, size_t whysz)
{
	const struct py_layout *l = t->layout;
	uint64_t state;
	int err;

	if (l->interp_obmalloc != LAYOUT_NONE && l->obmalloc_arenas != LAYOUT_NONE) {
		if (!remote__valid_ptr(t->interp_addr, 8)) {
			snprintf(why, whysz, "main interpreter not found");
			return -ENOTSUP;
		}
		/* 3.12 embeds struct _obmalloc_state in the interpreter; 3.13 keeps a pointer to it
		 * (to static obmalloc_state_main for the main interpreter, Objects/obmalloc.c). */
		state = t->interp_addr + l->interp_obmalloc;
		if (l->minor >= 13 && (err = remote__read_u64(r, state, &state))) {
			snprintf(why, whysz, "cannot read interp->obmalloc");
			return err;
		}
		if (!remote__valid_ptr(state, 8)) {
			snprintf(why, whysz, "interp->obmalloc is not a pointer");
			return -EPROTO;
		}
		err = remote__read_u64(r, state + l->obmalloc_arenas, arenas);
		if (!err)
			err = remote__read(r, state + l->obmalloc_maxarenas, maxarenas, 4);
		if (err)
			snprintf(why, whysz, "cannot read the arena table");
		return err;
	} else {
		/* <= 3.11: file statics of Objects/obmalloc.c, named only in .symtab. */
		struct elf_sym sa, sm;

		if (!elf || elf__find_symbol(elf, "arenas", &sa) || elf__find_symbol(elf, "maxarenas", &sm) ||
		    sa.dynamic || sm.dynamic) {
			snprintf(why, whysz, "--all-objects needs .symtab on 3.6-3.11 (%.100s is stripped: "
					     "install its debug symbols or use a build with .symtab)",
				 t->runtime_path);
			return -ENOTSUP;
		}
		err = remote__read_u64(r, sa.value + t->load_bias, arenas);
		if (!err)
			err = remote__read(r, sm.value + t->load_bias, maxarenas, 4);
		if (err)
			snprintf(why, whysz, "cannot read the arena table");
		return err;
	}
}

/* A block is an object of a known type if ob_type is one and sits where that type's pre-header says. */
static void scan_block(struct census *c, const unsigned char *blk, size_t size)
{
	const struct py_layout *l = c->l;
	const size_t gch = l->gc_head_size;
	const size_t offs[3] = { 0, gch, gch + 16 };
	int i;

	for (i = 0; i < 3; i++) {
		const unsigned char *obj = blk + offs[i];
		struct row *row;
		uint64_t type, refcnt, gc_next;

		if (offs[i] + 48 > size && offs[i] + 24 > size)
			break;
		memcpy(&type, obj + l->object_type, 8);
		row = row_peek(c, type);
		if (!row || !row->info || row->info->presize != offs[i])
			continue;
		/* A pointer array that happens to hold a type pointer at +8 has a pointer at +0. */
		memcpy(&refcnt, obj + l->object_refcnt, 8);
		if (refcnt == 0 || refcnt > (1ull << 40))
			continue;
		c->st.blocks_matched++;
		if (row->info->flags & PY_TPFLAGS_HAVE_GC) {
			memcpy(&gc_next, obj - gch + l->gc_head_next, 8);
			if (gc_next) /* tracked: the GC walk counted it already */
				return;
		}
		{
			int64_t b = offs[i] + 48 <= size ? obj_bytes(c, row->info, obj) :
							   row->info->presize + row->info->basicsize;

			row->pub.count++;
			row->pub.untracked++;
			row->pub.bytes += b;
			row->pub.untracked_bytes += b;
		}
		return;
	}
	c->st.blocks_unmatched++;
}

static void scan_pool(struct census *c, const unsigned char *pool, uint64_t pool_addr, size_t pool_size)
{
	unsigned char isfree[2048];
	struct pool_info pi;
	size_t off, k;
	bool consistent;

	if (arenas__check_pool(pool, pool_addr, pool_size, &pi) || pi.capacity > sizeof(isfree))
		return;
	arenas__account_pool(&c->st.pymalloc, &pi);
	if (!pi.count)
		return; /* empty pool */
	c->st.pools++;
	c->st.pymalloc.pools_checked++;
	/* The free list is read from the same copy as the header; a racing pymalloc_free/alloc
	 * can leave it short or long: those pools still count, by their header, and lower the
	 * confidence figure. */
	consistent = arenas__pool_free(pool, pool_addr, pool_size, &pi, isfree) == 0;
	if (consistent)
		c->st.pymalloc.pools_consistent++;
	for (off = ARENAS_POOL_OVERHEAD, k = 0; off + pi.size <= pi.nextoffset && k < pi.capacity; off += pi.size, k++) {
		if (consistent && isfree[k])
			continue;
		if (!consistent && k >= pi.count)
			break; /* unknown which are free: count the header's number of blocks */
		c->st.blocks++;
		scan_block(c, pool + off, pi.size);
	}
}

/* The arenas as the interpreter's table lists them (exact), or NULL with why set. */
static long arenas_from_table(struct walk *w, const struct py_target *t, struct elf_file *elf, struct arena **out)
{
	struct census *c = w->c;
	const size_t asz = c->l->arena_size, psz = c->l->pool_size;
	unsigned char *tab = NULL;
	uint64_t arenas = 0;
	uint32_t maxarenas = 0, i;
	struct arena *v = NULL;
	long n = 0;
	int err;

	*out = NULL;
	err = arena_table(t, w->r, elf, &arenas, &maxarenas, c->st.arenas_why, sizeof(c->st.arenas_why));
	if (err)
		return err;
	if (!remote__valid_ptr(arenas, 8) || maxarenas == 0 || maxarenas > MAX_ARENAS) {
		snprintf(c->st.arenas_why, sizeof(c->st.arenas_why), "implausible arena table (%u arenas)", maxarenas);
		return -EPROTO;
	}
	tab = malloc((size_t)maxarenas * ARENA_OBJECT_SIZE);
	v = calloc(maxarenas, sizeof(*v));
	if (!tab || !v) {
		err = -ENOMEM;
		goto fail;
	}
	err = remote__read(w->r, arenas, tab, (size_t)maxarenas * ARENA_OBJECT_SIZE);
	if (err) {
		snprintf(c->st.arenas_why, sizeof(c->st.arenas_why), "cannot read the arena table");
		goto fail;
	}
	for (i = 0; i < maxarenas; i++) {
		uint64_t address, pool_address, first, end;

		memcpy(&address, tab + (size_t)i * ARENA_OBJECT_SIZE, 8);
		memcpy(&pool_address, tab + (size_t)i * ARENA_OBJECT_SIZE + 8, 8);
		if (!address)
			continue; /* unused arena_object slot */
		first = (address + psz - 1) & ~(uint64_t)(psz - 1);
		end = pool_address & ~(uint64_t)(psz - 1);
		if (!remote__valid_ptr(address, 8) || end < first || end > address + asz) {
			c->st.bad_pointers++;
			continue;
		}
		v[n].address = address;
		v[n].pools_begin = first;
		v[n].pools_end = end;
		v[n].index = i;
		n++;
	}
	free(tab);
	c->st.pymalloc.source = ARENA_SOURCE_TABLE;
	*out = v;
	return n;
fail:
	free(tab);
	free(v);
	return err;
}

static int scan_arenas(struct walk *w, const struct py_target *t)
{
	struct census *c = w->c;
	const struct py_layout *l = c->l;
	const size_t asz = l->arena_size, psz = l->pool_size;
	struct arena_geometry geom = { .arena_size = (uint32_t)asz, .pool_size = (uint32_t)psz };
	struct elf_file *elf = NULL;
	struct arena *v = NULL;
	unsigned char *buf = NULL;
	uint64_t t0 = now_mono_ns();
	long n = -ENOTSUP, i;
	int64_t resident = 0;
	bool resident_ok = w->r->pid > 0;
	size_t k;
	int err;

	c->st.pymalloc.resident_bytes = -1;
	if (t->free_threaded) {
		/* every Python allocation goes to mimalloc there: no pymalloc arena exists to count */
		snprintf(c->st.arenas_why, sizeof(c->st.arenas_why), "free-threaded build: objects live in mimalloc "
			 "heaps, there are no pymalloc arenas (untracked objects are not counted yet)");
		return -ENOTSUP;
	}
	if (asz < psz || !psz || (psz & (psz - 1)) || asz > (64u << 20)) {
		snprintf(c->st.arenas_why, sizeof(c->st.arenas_why), "no arena geometry for this version");
		return -ENOTSUP;
	}
	if (elf__open(t->runtime_path, &elf))
		elf = NULL;
	/* Known types: the ones seen in the GC lists plus the exported static builtins. */
	for (k = 0; elf && k < ARRAY_SIZE(static_type_syms); k++) {
		struct elf_sym s;

		if (!elf__find_symbol(elf, static_type_syms[k], &s) && row_get(c, w->r, s.value + t->load_bias) == NULL) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	if (w->o->arena_source != ARENA_SOURCE_SCAN)
		n = arenas_from_table(w, t, elf, &v);
	/*
	 * <= 3.11 keep the table in file statics that only .symtab names (stripped distro builds
	 * have none): find the arenas by their pool headers instead, and say how sure that is.
	 */
	if (n == -ENOTSUP && w->o->arena_source != ARENA_SOURCE_TABLE && w->r->pid > 0) {
		char table_why[sizeof(c->st.arenas_why)];

		copy_str(table_why, sizeof(table_why), c->st.arenas_why);
		memset(&c->st.pymalloc, 0, sizeof(c->st.pymalloc));
		c->st.pymalloc.resident_bytes = -1;
		n = arenas__scan(w->r->pid, w->r, &geom, w->deadline_ns, &v, &c->st.pymalloc);
		if (n < 0)
			snprintf(c->st.arenas_why, sizeof(c->st.arenas_why), "no arena table (%.120s) and the scan of "
				 "anonymous memory failed: %s", table_why, strerror((int)-n));
		else if (n == 0)
			snprintf(c->st.arenas_why, sizeof(c->st.arenas_why), "no arena table (%.120s) and no pymalloc "
				 "pool headers in anonymous memory (PYTHONMALLOC=malloc, or not pymalloc)", table_why);
		else
			c->st.arenas_why[0] = 0;
		if (n == 0)
			n = -ENOENT;
	}
	if (n < 0) {
		err = (int)n;
		goto cleanup;
	}
	buf = malloc(asz);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (i = 0; i < n; i++) {
		uint64_t first = v[i].pools_begin, end = v[i].pools_end, p, rend;
		int64_t res;

		if ((err = check_limits(w)))
			goto cleanup;
		if (end < first || end - first > asz) {
			c->st.bad_pointers++;
			continue;
		}
		c->st.arenas++;
		c->st.pymalloc.arenas++;
		/* Pages an arena can have touched: its pool slots (an unaligned 3.10+ arena loses one
		 * pool to alignment, so its slots end a pool before address + ARENA_SIZE). */
		rend = v[i].address == first ? first + asz : first + asz - psz;
		if (rend < end)
			rend = end;
		res = resident_ok ? pagemap__resident(w->r->pid, first, rend) : -1;
		if (res < 0)
			resident_ok = false;
		else
			resident += res;
		if (end == first)
			continue;
		if (remote__read(w->r, first, buf, end - first)) {
			c->st.unreadable++;
			continue;
		}
		for (p = first; p < end; p += psz)
			scan_pool(c, buf + (p - first), p, psz);
	}
	c->st.pymalloc.resident_bytes = resident_ok ? resident : -1;
	c->st.arenas_scanned = true;
	err = 0;
cleanup:
	c->st.arena_ms = (now_mono_ns() - t0) / 1e6;
	free(v);
	free(buf);
	elf__close(elf);
	return err;
}

/* ---------------------------------------------------------------- pause */

/* Wait (briefly) until the kernel reports the target stopped, so the walk sees a still heap. */
static void wait_stopped(pid_t pid)
{
	char path[64], buf[512], *p;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (i = 0; i < 200; i++) {
		if (read_file(path, buf, sizeof(buf)) <= 0)
			return;
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && (p[2] == 'T' || p[2] == 't'))
			return;
		usleep(500);
	}
}

/* ---------------------------------------------------------------- API */

static int cmp_rows(const void *pa, const void *pb)
{
	const struct row *a = *(const struct row *const *)pa, *b = *(const struct row *const *)pb;

	if (a->pub.count != b->pub.count)
		return a->pub.count < b->pub.count ? 1 : -1;
	if (a->pub.bytes != b->pub.bytes)
		return a->pub.bytes < b->pub.bytes ? 1 : -1;
	return strcmp(a->pub.name, b->pub.name);
}

static int cmp_containers(const void *pa, const void *pb)
{
	const struct census_container *a = pa, *b = pb;

	return heap_less(a, b) ? 1 : heap_less(b, a) ? -1 : 0;
}

int census__run(const struct py_target *t, struct remote *r, const struct census_opts *o, struct census **out)
{
	struct census_opts defaults = { 0 };
	struct walk w = { 0 };
	struct census *c;
	uint64_t t0, reads0 = r->reads, bytes0 = r->bytes;
	bool stopped = false;
	size_t i, n;
	int err;

	*out = NULL;
	if (!o)
		o = &defaults;
	if (t->free_threaded ? !census_ft__supported(t)
			     : (!t->layout || !t->gc_generations_addr || t->layout->gc_head_size <= 0 ||
				t->layout->gc_head_size > 32))
		return -ENOTSUP;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->l = t->layout;
	c->time = now_wall();
	c->types = o->types;
	if (!c->types) {
		c->types = pyobj_types__new(t->layout);
		c->own_types = true;
		if (!c->types) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	c->kheap = o->top_containers ? o->top_containers : CENSUS_DEFAULT_TOP_CONTAINERS;
	if (c->kheap < 0)
		c->kheap = 0;
	if (c->kheap > 100000)
		c->kheap = 100000;
	c->heap = calloc(c->kheap + 1, sizeof(*c->heap));
	c->heap_epoch = calloc(c->kheap + 1, sizeof(*c->heap_epoch));
	if (!c->heap || !c->heap_epoch) {
		err = -ENOMEM;
		goto cleanup;
	}
	w.c = c;
	w.r = r;
	w.o = o;
	w.max_nodes = o->max_nodes > 0 ? o->max_nodes : CENSUS_DEFAULT_MAX_NODES;
	w.deadline_ns = now_mono_ns() + (uint64_t)((o->budget_s > 0 ? o->budget_s : CENSUS_DEFAULT_BUDGET_S) * 1e9);
	err = cc_init(&w.cc, r);
	if (err)
		goto cleanup;

	if (o->pause && r->pid > 0) {
		if (kill(r->pid, SIGSTOP)) {
			err = -errno;
			goto cleanup;
		}
		stopped = c->st.paused = true;
		wait_stopped(r->pid);
	}
	t0 = now_mono_ns();
	err = t->free_threaded ? walk_ft(&w, t) : walk_gc(&w, t);
	c->st.walk_ms = (now_mono_ns() - t0) / 1e6;
	if (err == -ETIME || err == -E2BIG)
		err = 0; /* partial census, flagged in the stats */
	if (!err && o->all_objects) {
		err = scan_arenas(&w, t);
		if (err == -ENOTSUP || err == -EPROTO || err == -EFAULT || err == -ETIME || err == -ENOENT)
			err = 0; /* reported through arenas_why / timed_out */
	}
	if (stopped) {
		kill(r->pid, SIGCONT);
		stopped = false;
	}
	if (err == -EINTR && c->st.nodes == 0)
		goto cleanup;
	if (err && err != -EINTR)
		goto cleanup;
	err = 0;

	/* Drop rows nobody counted (known-type seeds, unknown pointers) and sort the rest. */
	c->sorted = calloc(c->nrows + 1, sizeof(*c->sorted));
	if (!c->sorted) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (i = n = 0; i < c->nrows; i++) {
		if (c->rows[i].pub.count <= 0 || !c->rows[i].info)
			continue;
		c->sorted[n++] = &c->rows[i];
		c->total_objects += c->rows[i].pub.count;
		c->total_bytes += c->rows[i].pub.bytes;
	}
	sort_array(c->sorted, n, sizeof(*c->sorted), cmp_rows);
	c->nsorted = n; /* rows[] keeps everything; sorted[0..n) is the view */
	sort_array(c->heap, c->nheap, sizeof(*c->heap), cmp_containers);
	for (i = 0; i < (size_t)c->nheap; i++) {
		struct row *row = row_peek(c, c->heap[i].type_addr);

		c->heap[i].type_name = row ? row->pub.name : "?";
	}
	pyobj_types__sweep(c->types); /* a type not seen in this census may be gone: re-resolve it */
	c->st.reads = r->reads - reads0;
	c->st.bytes_read = r->bytes - bytes0;
	*out = c;
	c = NULL;
cleanup:
	if (stopped)
		kill(r->pid, SIGCONT);
	free(w.cc.data);
	census__free(c);
	return err;
}

void census__free(struct census *c)
{
	if (!c)
		return;
	if (c->own_types)
		pyobj_types__free(c->types);
	free(c->rows);
	free(c->index);
	free(c->sorted);
	free(c->heap);
	free(c->heap_epoch);
	free(c);
}

size_t census__ntypes(const struct census *c)
{
	return c->nsorted;
}

const struct census_type *census__type(const struct census *c, size_t i)
{
	return i < census__ntypes(c) ? &c->sorted[i]->pub : NULL;
}

const struct census_type *census__find(const struct census *c, const char *name)
{
	size_t i;

	for (i = 0; i < census__ntypes(c); i++)
		if (!strcmp(c->sorted[i]->pub.name, name))
			return &c->sorted[i]->pub;
	return NULL;
}

size_t census__ncontainers(const struct census *c)
{
	return c->nheap;
}

const struct census_container *census__container(const struct census *c, size_t i)
{
	return i < (size_t)c->nheap ? &c->heap[i] : NULL;
}

const struct census_stats *census__stats(const struct census *c)
{
	return &c->st;
}

int64_t census__total_objects(const struct census *c)
{
	return c->total_objects;
}

int64_t census__total_bytes(const struct census *c)
{
	return c->total_bytes;
}

double census__time(const struct census *c)
{
	return c->time;
}

static int cmp_growth(const void *pa, const void *pb)
{
	const struct census_growth *a = pa, *b = pb;

	if (a->delta != b->delta)
		return a->delta < b->delta ? 1 : -1;
	return strcmp(a->name, b->name);
}

static int cmp_by_name(const void *pa, const void *pb)
{
	const struct census_type *a = *(const struct census_type *const *)pa;
	const struct census_type *b = *(const struct census_type *const *)pb;

	return strcmp(a->name, b->name);
}

/* Sum rows by name: two type objects may print the same (a class defined twice). */
static long by_name(const struct census *c, const struct census_type ***out)
{
	size_t n = census__ntypes(c), i;
	const struct census_type **v = malloc((n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		v[i] = census__type(c, i);
	sort_array(v, n, sizeof(*v), cmp_by_name);
	*out = v;
	return n;
}

long census__diff(const struct census *a, const struct census *b, struct census_growth **out)
{
	const struct census_type **va = NULL, **vb = NULL;
	struct census_growth *g = NULL;
	long na, nb, i = 0, j = 0, n = 0;

	*out = NULL;
	na = by_name(a, &va);
	nb = by_name(b, &vb);
	if (na < 0 || nb < 0)
		goto oom;
	g = calloc(nb + 1, sizeof(*g));
	if (!g)
		goto oom;
	while (j < nb) {
		const char *name = vb[j]->name;
		int64_t ca = 0, cb = 0;

		while (i < na && strcmp(va[i]->name, name) < 0)
			i++;
		while (i < na && !strcmp(va[i]->name, name))
			ca += va[i++]->count;
		while (j < nb && !strcmp(vb[j]->name, name))
			cb += vb[j++]->count;
		if (cb > ca) {
			snprintf(g[n].name, sizeof(g[n].name), "%s", name);
			g[n].count = cb;
			g[n].delta = cb - ca;
			n++;
		}
	}
	sort_array(g, n, sizeof(*g), cmp_growth);
	free(va);
	free(vb);
	*out = g;
	return n;
oom:
	free(va);
	free(vb);
	free(g);
	return -ENOMEM;
}
