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

#include "analysis/census.h"
#include "target/layout.h"
#include "target/pyobj.h"
#include "target/python.h"
#include "target/remote.h"

#include "fakeheap.h"


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
