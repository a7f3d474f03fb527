/* SPDX-License-Identifier: BSD-2-Clause */
/* census: GC list walks over a fake heap: counts, names, sizes, broken chains, containers, diffs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "census.h"
#include "layout.h"
#include "pyobj.h"
#include "python.h"
#include "remote.h"

/* A fake CPython heap in a buffer, for the memory backend of remote.h. */
#define FH_BASE 0x10000000ull
#define FH_SIZE (4u << 20)

struct fakeheap {
	const struct py_layout *l;
	unsigned char *buf;
	uint64_t top;
	struct remote_mem mem;
	struct remote r;
	uint64_t meta; /* `type` */
};

static uint64_t fh_alloc(struct fakeheap *h, size_t n)
{
	uint64_t a = (h->top + 15) & ~15ull;

	assert_true(a + n <= FH_BASE + FH_SIZE);
	h->top = a + n;
	return a;
}

static void *fh_ptr(struct fakeheap *h, uint64_t a)
{
	return h->buf + (a - FH_BASE);
}

static void fh_w64(struct fakeheap *h, uint64_t a, uint64_t v)
{
	memcpy(fh_ptr(h, a), &v, 8);
}

static void fh_w32(struct fakeheap *h, uint64_t a, uint32_t v)
{
	memcpy(fh_ptr(h, a), &v, 4);
}

static uint64_t fh_r64(struct fakeheap *h, uint64_t a)
{
	uint64_t v;

	memcpy(&v, fh_ptr(h, a), 8);
	return v;
}

static uint64_t fh_cstr(struct fakeheap *h, const char *s)
{
	uint64_t a = fh_alloc(h, strlen(s) + 1);

	memcpy(fh_ptr(h, a), s, strlen(s) + 1);
	return a;
}

static uint64_t fh_type(struct fakeheap *h, const char *tp_name, uint64_t flags, int64_t basicsize, int64_t itemsize,
			uint64_t base)
{
	const struct py_layout *l = h->l;
	uint64_t t = fh_alloc(h, 1024);

	fh_w64(h, t + l->object_refcnt, 1000);
	fh_w64(h, t + l->object_type, h->meta ? h->meta : t);
	fh_w64(h, t + l->type_name, fh_cstr(h, tp_name));
	fh_w64(h, t + l->type_basicsize, basicsize);
	fh_w64(h, t + l->type_itemsize, itemsize);
	fh_w64(h, t + l->type_flags, flags);
	fh_w64(h, t + l->type_base, base);
	return t;
}

/* Compact str: ASCII when every byte < 0x80, else UCS-2 of the given code units. */
static uint64_t fh_str(struct fakeheap *h, const char *s)
{
	const struct py_layout *l = h->l;
	uint64_t o = fh_alloc(h, l->unicode_ascii_size + strlen(s) + 1);
	uint32_t state = (1u << 2) | (1u << 5) | (1u << 6) | (l->minor <= 11 ? 1u << 7 : 0);

	fh_w64(h, o + l->object_refcnt, 1);
	fh_w64(h, o + l->unicode_length, strlen(s));
	fh_w32(h, o + l->unicode_state, state);
	memcpy(fh_ptr(h, o + l->unicode_ascii_size), s, strlen(s) + 1);
	return o;
}

/*
 * A dict of n items: combined table (<= 3.10 layout, or 3.11+ with dk_kind 0 general / 1
 * unicode), or split (values array; 3.13 keeps 8 bytes of header before values[]).
 */
static uint64_t fh_dict(struct fakeheap *h, uint64_t dict_type, const uint64_t *keys, const uint64_t *vals, int n,
			int kind, bool split)
{
	const struct py_layout *l = h->l;
	uint64_t d = fh_alloc(h, 64), k, entries, values = 0;
	unsigned esz = 24, koff = 8, voff = 16;
	int i;

	assert_true(n <= 5);
	fh_w64(h, d + l->object_refcnt, 1);
	fh_w64(h, d + l->object_type, dict_type);
	fh_w64(h, d + l->dict_used, n);
	k = fh_alloc(h, 512);
	if (l->dictkeys_log2_size != LAYOUT_NONE) {
		unsigned char *p = fh_ptr(h, k);

		p[l->dictkeys_log2_size] = 3;
		p[l->dictkeys_log2_index_bytes] = 3;
		p[l->dictkeys_kind] = split ? 2 : kind;
		entries = k + l->dictkeys_indices + 8;
		if (split || kind)
			esz = 16, koff = 0, voff = 8;
	} else {
		fh_w64(h, k + l->dictkeys_size, 8);
		entries = k + l->dictkeys_indices + 8;
	}
	fh_w64(h, k + l->dictkeys_nentries, n);
	if (split) {
		values = fh_alloc(h, 128);
		fh_w64(h, d + l->dict_values, values);
		if (l->minor >= 13)
			values += 8;
	}
	for (i = 0; i < n; i++) {
		fh_w64(h, entries + i * esz + koff, keys[i]);
		if (split)
			fh_w64(h, values + 8 * i, vals[i]);
		else
			fh_w64(h, entries + i * esz + voff, vals[i]);
	}
	fh_w64(h, d + l->dict_keys, k);
	return d;
}

static void fh_init(struct fakeheap *h, int minor)
{
	memset(h, 0, sizeof(*h));
	h->l = layout__find(3, minor);
	assert_non_null(h->l);
	h->buf = calloc(1, FH_SIZE);
	assert_non_null(h->buf);
	h->top = FH_BASE + 4096;
	h->mem.base = FH_BASE;
	h->mem.buf = h->buf;
	h->mem.size = FH_SIZE;
	remote__init_mem(&h->r, &h->mem);
	h->meta = fh_type(h, "type", (1ul << 31), 900, 40, 0);
}

static void fh_free(struct fakeheap *h)
{
	free(h->buf);
}

/* A heap type named module.qual (tp_name = the short name, as type_new does). */
static uint64_t fh_class(struct fakeheap *h, uint64_t dict_type, uint64_t str_type, const char *module,
			 const char *qual, uint64_t flags, int64_t basicsize, uint64_t base)
{
	const struct py_layout *l = h->l;
	const char *dot = strrchr(qual, '.');
	uint64_t t = fh_type(h, dot ? dot + 1 : qual, flags | (1ul << 9), basicsize, 0, base);
	uint64_t keys[2], vals[2], q;

	keys[0] = fh_str(h, "__module__");
	vals[0] = fh_str(h, module);
	keys[1] = fh_str(h, "__doc__");
	vals[1] = fh_str(h, "none");
	fh_w64(h, keys[0] + l->object_type, str_type);
	fh_w64(h, vals[0] + l->object_type, str_type);
	fh_w64(h, t + l->type_dict, fh_dict(h, dict_type, keys, vals, 2, l->minor >= 11 ? 1 : 0, false));
	q = fh_str(h, qual);
	fh_w64(h, q + l->object_type, str_type);
	fh_w64(h, t + l->heaptype_qualname, q);
	return t;
}

static const int minors[] = { 6, 7, 8, 9, 10, 11, 12, 13 };
#define NMINORS (sizeof(minors) / sizeof(minors[0]))

struct world {
	struct fakeheap h;
	struct py_target t;
	uint64_t gens;
	uint64_t object, str, dict, list, tuple, type_node;
};

static uint64_t gen_head(struct world *w, int g)
{
	return w->gens + (uint64_t)g * w->h.l->gc_generation_size + w->h.l->gc_gen_head;
}

static void world_init(struct world *w, int minor)
{
	const struct py_layout *l;
	int g;

	memset(w, 0, sizeof(*w));
	fh_init(&w->h, minor);
	l = w->h.l;
	w->gens = fh_alloc(&w->h, 4 * l->gc_generation_size);
	for (g = 0; g < 3; g++) {
		fh_w64(&w->h, gen_head(w, g) + l->gc_head_next, gen_head(w, g));
		fh_w64(&w->h, gen_head(w, g) + l->gc_head_prev, gen_head(w, g));
	}
	w->t.pid = 0;
	w->t.layout = l;
	w->t.major = 3;
	w->t.minor = minor;
	w->t.gc_generations_addr = w->gens;
	w->object = fh_type(&w->h, "object", 0, 16, 0, 0);
	w->str = fh_type(&w->h, "str", 0, l->unicode_ascii_size, 0, w->object);
	w->dict = fh_type(&w->h, "dict", 1ul << 14, 48, 0, w->object);
	w->list = fh_type(&w->h, "list", 1ul << 14, 40, 0, w->object);
	w->tuple = fh_type(&w->h, "tuple", 1ul << 14, 24, 8, w->object);
	w->type_node = fh_class(&w->h, w->dict, w->str, "__main__", "Node", 1ul << 14, 48, w->object);
}

/* A GC object of type `type` appended to generation g; returns the PyObject address. */
static uint64_t gc_obj(struct world *w, int g, uint64_t type, int64_t ob_size, size_t extra)
{
	const struct py_layout *l = w->h.l;
	size_t gch = l->gc_head_size;
	uint64_t blk = fh_alloc(&w->h, gch + 64 + extra), head = gen_head(w, g), tail;

	tail = fh_r64(&w->h, head + l->gc_head_prev) & ~7ull;
	fh_w64(&w->h, tail + l->gc_head_next, blk);
	/* 3.8+: flag bits in _gc_prev (PREV_MASK_COLLECTING) must be masked by the walker. */
	fh_w64(&w->h, blk + l->gc_head_prev, tail | (l->minor >= 8 ? 2 : 0));
	fh_w64(&w->h, blk + l->gc_head_next, head);
	fh_w64(&w->h, head + l->gc_head_prev, blk);
	fh_w64(&w->h, blk + gch + l->object_refcnt, 1);
	fh_w64(&w->h, blk + gch + l->object_type, type);
	fh_w64(&w->h, blk + gch + l->varobject_size, ob_size);
	return blk + gch;
}

static void test_counts_names_sizes(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NMINORS; i++) {
		struct world w;
		struct census *c = NULL;
		const struct census_type *ct;
		struct census_opts o = { 0 };
		int k;

		world_init(&w, minors[i]);
		for (k = 0; k < 300; k++)
			gc_obj(&w, k % 3, w.list, k % 7, 0);
		for (k = 0; k < 120; k++)
			gc_obj(&w, 2, w.type_node, 0, 0);
		for (k = 0; k < 50; k++)
			gc_obj(&w, 1, w.tuple, 3, 24);
		assert_int_equal(census__run(&w.t, &w.h.r, &o, &c), 0);
		assert_non_null(c);
		assert_int_equal(census__total_objects(c), 470);
		assert_int_equal(census__ntypes(c), 3);
		ct = census__type(c, 0);
		assert_string_equal(ct->name, "list");
		assert_int_equal(ct->count, 300);
		assert_int_equal(ct->bytes, 300 * (40 + w.h.l->gc_head_size));
		ct = census__type(c, 1);
		assert_string_equal(ct->name, "__main__.Node");
		assert_int_equal(ct->count, 120);
		ct = census__find(c, "tuple");
		assert_non_null(ct);
		assert_int_equal(ct->count, 50);
		assert_int_equal(ct->bytes, 50 * (24 + 3 * 8 + w.h.l->gc_head_size));
		assert_null(census__find(c, "dict"));
		assert_int_equal(census__stats(c)->broken_links, 0);
		assert_int_equal(census__stats(c)->unknown_types, 0);
		assert_int_equal(census__stats(c)->nodes, 470);
		assert_false(census__stats(c)->truncated);
		/* Largest containers: lists of len 6 first. */
		assert_true(census__ncontainers(c) > 0 && census__ncontainers(c) <= 64);
		assert_int_equal(census__container(c, 0)->len, 6);
		assert_int_equal(census__container(c, 0)->kind, PYOBJ_LIST);
		assert_string_equal(census__container(c, 0)->type_name, "list");
		census__free(c);
		fh_free(&w.h);
	}
}

static void test_top_containers(void **state)
{
	struct world w;
	struct census *c = NULL;
	struct census_opts o = { .top_containers = 3 };
	uint64_t big = 0;
	int k;

	(void)state;
	world_init(&w, 12);
	for (k = 0; k < 100; k++) {
		uint64_t obj = gc_obj(&w, 0, k % 2 ? w.list : w.dict, 0, 0);

		if (k % 2)
			fh_w64(&w.h, obj + w.h.l->varobject_size, k);
		else
			fh_w64(&w.h, obj + w.h.l->dict_used, 1000 + k);
		if (k == 98)
			big = obj;
	}
	assert_int_equal(census__run(&w.t, &w.h.r, &o, &c), 0);
	assert_int_equal(census__ncontainers(c), 3);
	assert_int_equal(census__container(c, 0)->len, 1098);
	assert_int_equal(census__container(c, 0)->addr, big);
	assert_string_equal(census__container(c, 0)->type_name, "dict");
	assert_int_equal(census__container(c, 1)->len, 1096);
	assert_int_equal(census__container(c, 2)->len, 1094);
	census__free(c);
	fh_free(&w.h);
}

static void test_broken_chain(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NMINORS; i++) {
		struct world w;
		struct census *c = NULL;
		struct census_opts o = { .retries = 2 };
		uint64_t objs[10];
		size_t gch;
		int k;

		world_init(&w, minors[i]);
		gch = w.h.l->gc_head_size;
		for (k = 0; k < 10; k++)
			objs[k] = gc_obj(&w, 0, w.list, 0, 0);
		for (k = 0; k < 5; k++)
			gc_obj(&w, 1, w.dict, 0, 0);
		/* Node 5's _gc_prev does not point back at node 4: generation 0 is retried, then kept
		 * partial (5 nodes), and generation 1 is still counted. */
		fh_w64(&w.h, objs[5] - gch + w.h.l->gc_head_prev, objs[2] - gch);
		assert_int_equal(census__run(&w.t, &w.h.r, &o, &c), 0);
		assert_int_equal(census__stats(c)->broken_links, 3);
		assert_int_equal(census__stats(c)->retries, 2);
		assert_int_equal(census__find(c, "list")->count, 5);
		assert_int_equal(census__find(c, "dict")->count, 5);
		census__free(c);

		/* A pointer out of the address space. */
		fh_w64(&w.h, objs[5] - gch + w.h.l->gc_head_prev, objs[4] - gch);
		fh_w64(&w.h, objs[7] - gch + w.h.l->gc_head_next, 0x900000000000ull);
		o.retries = -1;
		assert_int_equal(census__run(&w.t, &w.h.r, &o, &c), 0);
		assert_int_equal(census__stats(c)->retries, 0);
		assert_int_equal(census__stats(c)->bad_pointers + census__stats(c)->unreadable, 1);
		assert_int_equal(census__find(c, "list")->count, 8);
		census__free(c);

		/* A loop that never comes back to the head: the back-pointer check stops it where it
		 * closes (o0's _gc_prev cannot be both the head and o9). */
		fh_w64(&w.h, objs[7] - gch + w.h.l->gc_head_next, objs[8] - gch);
		fh_w64(&w.h, objs[9] - gch + w.h.l->gc_head_next, objs[0] - gch);
		assert_int_equal(census__run(&w.t, &w.h.r, &o, &c), 0);
		assert_int_equal(census__stats(c)->broken_links, 1);
		assert_int_equal(census__find(c, "list")->count, 10);
		census__free(c);

		/* A long list: bounded by max_nodes, flagged truncated, the partial count kept. */
		fh_w64(&w.h, objs[9] - gch + w.h.l->gc_head_next, gen_head(&w, 0));
		o.max_nodes = 7;
		assert_int_equal(census__run(&w.t, &w.h.r, &o, &c), 0);
		assert_true(census__stats(c)->truncated);
		assert_int_equal(census__stats(c)->nodes, 7);
		assert_int_equal(census__find(c, "list")->count, 7);
		assert_null(census__find(c, "dict"));
		census__free(c);
		fh_free(&w.h);
	}
}

static void test_unknown_types(void **state)
{
	struct world w;
	struct census *c = NULL;
	uint64_t o1;
	int k;

	(void)state;
	world_init(&w, 13);
	for (k = 0; k < 4; k++)
		gc_obj(&w, 0, w.list, 0, 0);
	o1 = gc_obj(&w, 0, w.list, 0, 0);
	fh_w64(&w.h, o1 + w.h.l->object_type, FH_BASE + 128); /* zeros: not a type */
	gc_obj(&w, 0, 0x7fff00000000ull, 0, 0);		      /* unreadable */
	assert_int_equal(census__run(&w.t, &w.h.r, NULL, &c), 0);
	assert_int_equal(census__stats(c)->unknown_types, 2);
	assert_int_equal(census__total_objects(c), 4);
	assert_int_equal(census__ntypes(c), 1);
	census__free(c);
	fh_free(&w.h);
}

static void test_type_cache_across_runs(void **state)
{
	struct world w;
	struct census *c = NULL;
	struct census_opts o = { 0 };
	uint64_t reads;
	int k;

	(void)state;
	world_init(&w, 11);
	o.types = pyobj_types__new(w.h.l);
	for (k = 0; k < 10; k++)
		gc_obj(&w, 0, w.type_node, 0, 0);
	assert_int_equal(census__run(&w.t, &w.h.r, &o, &c), 0);
	census__free(c);
	assert_non_null(pyobj_types__peek(o.types, w.type_node));
	reads = w.h.r.reads;
	assert_int_equal(census__run(&w.t, &w.h.r, &o, &c), 0);
	assert_string_equal(census__type(c, 0)->name, "__main__.Node");
	census__free(c);
	/* Second run: no type resolution, i.e. far fewer reads than a name lookup takes. */
	assert_true(w.h.r.reads - reads < 12);
	pyobj_types__free(o.types);
	fh_free(&w.h);
}

static void test_diff(void **state)
{
	struct world w;
	struct census *a = NULL, *b = NULL;
	struct census_growth *g = NULL;
	long n;
	int k;

	(void)state;
	world_init(&w, 12);
	for (k = 0; k < 10; k++)
		gc_obj(&w, 0, w.list, 0, 0);
	for (k = 0; k < 10; k++)
		gc_obj(&w, 0, w.dict, 0, 0);
	assert_int_equal(census__run(&w.t, &w.h.r, NULL, &a), 0);
	for (k = 0; k < 30; k++)
		gc_obj(&w, 1, w.type_node, 0, 0);
	for (k = 0; k < 5; k++)
		gc_obj(&w, 1, w.list, 0, 0);
	assert_int_equal(census__run(&w.t, &w.h.r, NULL, &b), 0);
	n = census__diff(a, b, &g);
	assert_int_equal(n, 2);
	assert_string_equal(g[0].name, "__main__.Node");
	assert_int_equal(g[0].delta, 30);
	assert_int_equal(g[0].count, 30);
	assert_string_equal(g[1].name, "list");
	assert_int_equal(g[1].delta, 5);
	assert_int_equal(g[1].count, 15);
	free(g);
	/* Nothing grows from b to a. */
	n = census__diff(b, a, &g);
	assert_int_equal(n, 0);
	free(g);
	census__free(a);
	census__free(b);
	census__free(NULL);
	fh_free(&w.h);
}

static void test_refuses_without_gc_state(void **state)
{
	struct world w;
	struct census *c = (struct census *)1;

	(void)state;
	world_init(&w, 12);
	w.t.gc_generations_addr = 0;
	assert_int_equal(census__run(&w.t, &w.h.r, NULL, &c), -ENOTSUP);
	assert_null(c);
	fh_free(&w.h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_names_sizes),
		cmocka_unit_test(test_top_containers),
		cmocka_unit_test(test_broken_chain),
		cmocka_unit_test(test_unknown_types),
		cmocka_unit_test(test_type_cache_across_runs),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_refuses_without_gc_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
