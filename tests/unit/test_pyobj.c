/* SPDX-License-Identifier: BSD-2-Clause */
/* pyobj: remote Python objects (types, names, str, dicts, lengths) over a fake heap, per layout. */
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

#include "target/layout.h"
#include "target/pyobj.h"
#include "target/remote.h"

#include "fakeheap.h"


static const int minors[] = { 6, 7, 8, 9, 10, 11, 12, 13 };
#define NMINORS (sizeof(minors) / sizeof(minors[0]))

struct builtins {
	uint64_t str, dict, list, set, object;
};

static void mk_builtins(struct fakeheap *h, struct builtins *b)
{
	const struct py_layout *l = h->l;

	b->object = fh_type(h, "object", 0, 16, 0, 0);
	b->str = fh_type(h, "str", 0, l->unicode_ascii_size, 0, b->object);
	b->dict = fh_type(h, "dict", 1ul << 14, 48, 0, b->object);
	b->list = fh_type(h, "list", 1ul << 14, 40, 0, b->object);
	b->set = fh_type(h, "set", 1ul << 14, 200, 0, b->object);
}

static void test_str(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NMINORS; i++) {
		struct fakeheap h;
		char buf[64];
		static const uint16_t u[] = { 'c', 0xe9, 0x20ac, 'x' }; /* "cé€x" */
		uint64_t s;

		fh_init(&h, minors[i]);
		s = fh_str(&h, "hello world");
		assert_int_equal(pyobj__read_str(h.l, &h.r, s, buf, sizeof(buf)), 0);
		assert_string_equal(buf, "hello world");
		/* Truncation is reported, the prefix kept. */
		assert_int_equal(pyobj__read_str(h.l, &h.r, s, buf, 6), -ENAMETOOLONG);
		assert_string_equal(buf, "hello");
		s = fh_str_ucs2(&h, u, 4);
		assert_int_equal(pyobj__read_str(h.l, &h.r, s, buf, sizeof(buf)), 0);
		assert_string_equal(buf, "c\xc3\xa9\xe2\x82\xac" "x");
		/* Not a str: kind 3 is impossible. */
		fh_w32(&h, s + h.l->unicode_state, 3u << 2);
		assert_int_equal(pyobj__read_str(h.l, &h.r, s, buf, sizeof(buf)), -EPROTO);
		assert_int_equal(pyobj__read_str(h.l, &h.r, 0, buf, sizeof(buf)), -EFAULT);
		assert_int_equal(pyobj__read_str(h.l, &h.r, FH_BASE + FH_SIZE + 4096, buf, sizeof(buf)), -EFAULT);
		fh_free(&h);
	}
}

static void test_dict_get(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NMINORS; i++) {
		int kinds[2] = { 0, 1 }, k;

		for (k = 0; k < 2; k++) {
			struct fakeheap h;
			struct builtins b;
			uint64_t keys[3], vals[3] = { 0x1111110, 0x2222220, 0x3333330 }, d, v = 0;
			bool split;

			fh_init(&h, minors[i]);
			mk_builtins(&h, &b);
			keys[0] = fh_str(&h, "a");
			keys[1] = fh_str(&h, "__module_");   /* prefix of the wanted key */
			keys[2] = fh_str(&h, "__module__");
			for (split = false;; split = true) {
				d = fh_dict(&h, b.dict, keys, vals, 3, kinds[k], split);
				assert_int_equal(pyobj__dict_get_str(h.l, &h.r, d, "__module__", &v), 0);
				assert_int_equal(v, 0x3333330);
				assert_int_equal(pyobj__dict_get_str(h.l, &h.r, d, "a", &v), 0);
				assert_int_equal(v, 0x1111110);
				assert_int_equal(pyobj__dict_get_str(h.l, &h.r, d, "zz", &v), -ENOENT);
				if (split)
					break;
			}
			/* A deleted entry (key NULL) is skipped. */
			d = fh_dict(&h, b.dict, keys, vals, 3, kinds[k], false);
			{
				uint64_t kobj = fh_r64(&h, d + h.l->dict_keys);
				uint64_t e = kobj + h.l->dictkeys_indices + 8;
				unsigned esz = (h.l->dictkeys_log2_size != LAYOUT_NONE && kinds[k]) ? 16 : 24;
				unsigned koff = esz == 16 ? 0 : 8;

				fh_w64(&h, e + 2 * esz + koff, 0);
				assert_int_equal(pyobj__dict_get_str(h.l, &h.r, d, "__module__", &v), -ENOENT);
			}
			/* Garbage geometry is refused, not followed. */
			{
				uint64_t kobj = fh_r64(&h, d + h.l->dict_keys);

				if (h.l->dictkeys_log2_size != LAYOUT_NONE)
					((unsigned char *)fh_ptr(&h, kobj))[h.l->dictkeys_kind] = 7;
				else
					fh_w64(&h, kobj + h.l->dictkeys_size, 12345);
				assert_int_equal(pyobj__dict_get_str(h.l, &h.r, d, "a", &v), -EPROTO);
			}
			fh_free(&h);
		}
	}
}

static void test_type_names(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NMINORS; i++) {
		struct fakeheap h;
		struct builtins b;
		struct pyobj_type t;
		uint64_t node, inner, mydict, deque, bad, odict;

		fh_init(&h, minors[i]);
		mk_builtins(&h, &b);
		deque = fh_type(&h, "collections.deque", 1ul << 14, 632, 0, b.object);
		odict = fh_type(&h, "collections.OrderedDict", 1ul << 14, 104, 0, b.dict);
		node = fh_class(&h, b.dict, b.str, "__main__", "Node", 1ul << 14, 48, b.object);
		inner = fh_class(&h, b.dict, b.str, "app.models", "Outer.Inner", 1ul << 14, 48, b.object);
		mydict = fh_class(&h, b.dict, b.str, "builtins", "Counter2", 1ul << 14, 48, odict);

		assert_int_equal(pyobj__read_type(h.l, &h.r, b.list, &t), 0);
		assert_string_equal(t.name, "list");
		assert_int_equal(t.kind, PYOBJ_LIST);
		assert_false(t.heap);
		assert_int_equal(t.presize, h.l->gc_head_size);
		assert_int_equal(pyobj__read_type(h.l, &h.r, deque, &t), 0);
		assert_string_equal(t.name, "collections.deque");
		assert_int_equal(t.kind, PYOBJ_DEQUE);
		assert_int_equal(pyobj__read_type(h.l, &h.r, node, &t), 0);
		assert_string_equal(t.name, "__main__.Node");
		assert_true(t.heap);
		assert_int_equal(t.kind, PYOBJ_OTHER);
		assert_int_equal(pyobj__read_type(h.l, &h.r, inner, &t), 0);
		assert_string_equal(t.name, "app.models.Outer.Inner");
		/* module "builtins" prints bare; the kind comes through a static non-builtin base. */
		assert_int_equal(pyobj__read_type(h.l, &h.r, mydict, &t), 0);
		assert_string_equal(t.name, "Counter2");
		assert_int_equal(t.kind, PYOBJ_DICT);
		assert_int_equal(pyobj__read_type(h.l, &h.r, b.str, &t), 0);
		assert_int_equal(t.kind, PYOBJ_STR);
		assert_int_equal(t.presize, 0);

		/* Pre-header: 3.11 managed dict, 3.12+ managed dict or weakref, +16 before the GC head. */
		{
			uint64_t md = fh_class(&h, b.dict, b.str, "m", "MD", (1ul << 14) | (1ul << 4), 16, b.object);
			uint64_t mw = fh_class(&h, b.dict, b.str, "m", "MW", (1ul << 14) | (1ul << 3), 16, b.object);
			int pre = h.l->minor >= 11 ? 16 : 0;

			assert_int_equal(pyobj__read_type(h.l, &h.r, md, &t), 0);
			assert_int_equal(t.presize, h.l->gc_head_size + pre);
			assert_int_equal(pyobj__read_type(h.l, &h.r, mw, &t), 0);
			assert_int_equal(t.presize, h.l->gc_head_size + (h.l->minor >= 12 ? 16 : 0));
		}

		/* Heap type whose tp_dict has no __module__: falls back to tp_name. */
		fh_w64(&h, node + h.l->type_dict, fh_dict(&h, b.dict, NULL, NULL, 0, 0, false));
		assert_int_equal(pyobj__read_type(h.l, &h.r, node, &t), 0);
		assert_string_equal(t.name, "Node");

		/* Not a type: its "metatype" lacks Py_TPFLAGS_TYPE_SUBCLASS. */
		bad = fh_type(&h, "bogus", 0, 16, 0, 0);
		fh_w64(&h, bad + h.l->object_type, b.list);
		assert_int_equal(pyobj__read_type(h.l, &h.r, bad, &t), -EPROTO);
		/* Insane sizes. */
		bad = fh_type(&h, "huge", 0, 1ll << 40, 0, 0);
		assert_int_equal(pyobj__read_type(h.l, &h.r, bad, &t), -EPROTO);
		assert_int_equal(pyobj__read_type(h.l, &h.r, 8, &t), -EFAULT);
		fh_free(&h);
	}
}

static void test_len(void **state)
{
	struct fakeheap h;
	struct builtins b;
	int64_t n;
	uint64_t o;

	(void)state;
	fh_init(&h, 12);
	mk_builtins(&h, &b);
	o = fh_alloc(&h, 64);
	fh_w64(&h, o + h.l->object_type, b.list);
	fh_w64(&h, o + h.l->varobject_size, 1234);
	assert_int_equal(pyobj__len(h.l, &h.r, o, PYOBJ_LIST, &n), 0);
	assert_int_equal(n, 1234);
	fh_w64(&h, o + h.l->set_used, 77);
	assert_int_equal(pyobj__len(h.l, &h.r, o, PYOBJ_SET, &n), 0);
	assert_int_equal(n, 77);
	fh_w64(&h, o + h.l->dict_used, 5);
	assert_int_equal(pyobj__len(h.l, &h.r, o, PYOBJ_DICT, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(pyobj__len(h.l, &h.r, o, PYOBJ_STR, &n), -EINVAL);
	fh_w64(&h, o + h.l->varobject_size, (uint64_t)-5);
	assert_int_equal(pyobj__len(h.l, &h.r, o, PYOBJ_LIST, &n), -EPROTO);
	fh_free(&h);
}

/* A small object that is the last block before an unmapped page (the end of an arena mapping):
 * its header copy reads past it, and the length must still come out (the census counted such
 * objects as unreadable and lost the rest of their generation). */
static void test_len_at_mapping_end(void **state)
{
	struct fakeheap h;
	struct builtins b;
	unsigned char hdr[PYOBJ_HEADER_COPY];
	int64_t n;
	uint64_t o;

	(void)state;
	fh_init(&h, 8);
	mk_builtins(&h, &b);
	o = FH_BASE + FH_SIZE - 40; /* a 3.8 list without its GC head: 40 bytes */
	fh_w64(&h, o + h.l->object_refcnt, 1);
	fh_w64(&h, o + h.l->object_type, b.list);
	fh_w64(&h, o + h.l->varobject_size, 321);
	assert_int_not_equal(remote__read(&h.r, o, hdr, sizeof(hdr)), 0);
	assert_int_equal(pyobj__len(h.l, &h.r, o, PYOBJ_LIST, &n), 0);
	assert_int_equal(n, 321);
	memset(hdr, 0xff, sizeof(hdr));
	assert_int_equal(remote__read_prefix(&h.r, o, hdr, sizeof(hdr), 16), 0);
	assert_int_equal(hdr[40], 0); /* past the mapping: zeroed, not left over */
	/* fewer readable bytes than the minimum: still a fault */
	assert_int_not_equal(remote__read_prefix(&h.r, FH_BASE + FH_SIZE - 8, hdr, sizeof(hdr), 16), 0);
	fh_free(&h);
}

static void test_type_cache(void **state)
{
	struct fakeheap h;
	struct builtins b;
	struct pyobj_types *c;
	const struct pyobj_type *t, *t2;

	(void)state;
	fh_init(&h, 11);
	mk_builtins(&h, &b);
	c = pyobj_types__new(h.l);
	assert_non_null(c);
	assert_int_equal(pyobj_types__get(c, &h.r, b.list, &t), 0);
	assert_string_equal(t->name, "list");
	uint64_t reads = h.r.reads;
	assert_int_equal(pyobj_types__get(c, &h.r, b.list, &t2), 0);
	assert_ptr_equal(t, t2);
	assert_int_equal(h.r.reads, reads); /* cached: no reads */
	assert_int_equal(pyobj_types__get(c, &h.r, FH_BASE + 64, &t), -EPROTO); /* zeros: not a type */
	assert_null(t);
	assert_int_equal(pyobj_types__get(c, &h.r, b.dict, &t), 0);
	assert_int_equal(pyobj_types__count(c), 3);
	/* Sweep 1 keeps what was used since creation; sweep 2 drops what was not used since. */
	assert_int_equal(pyobj_types__sweep(c), 0);
	assert_int_equal(pyobj_types__get(c, &h.r, b.list, &t), 0);
	assert_int_equal(pyobj_types__sweep(c), 2);
	assert_non_null(pyobj_types__peek(c, b.list));
	assert_null(pyobj_types__peek(c, b.dict));
	/* Many types: the table grows and keeps earlier entries valid. */
	for (int i = 0; i < 3000; i++) {
		uint64_t ty = fh_type(&h, "x", 0, 16, 0, 0);

		assert_int_equal(pyobj_types__get(c, &h.r, ty, &t), 0);
	}
	assert_non_null(pyobj_types__peek(c, b.list));
	assert_int_equal(pyobj_types__count(c), 3001);
	pyobj_types__free(c);
	pyobj_types__free(NULL);
	fh_free(&h);
}

/* Random bytes where objects should be: every reader must return, bounded, without crashing. */
static int count_cb(uint64_t k, uint64_t v, void *arg)
{
	(void)k, (void)v;
	(*(long *)arg)++;
	return 0;
}

static void test_garbage(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NMINORS; i++) {
		struct fakeheap h;
		struct pyobj_type t;
		unsigned seed = 12345;
		char buf[64];
		int k;

		fh_init(&h, minors[i]);
		for (size_t j = 4096; j < FH_SIZE; j += 4) {
			seed = seed * 1103515245 + 12345;
			/* Mostly pointers into the heap, some small numbers. */
			uint32_t v = (seed >> 8) % FH_SIZE;
			uint32_t hi = (seed & 1) ? (uint32_t)(FH_BASE >> 32) : 0;

			memcpy(h.buf + j, (j & 4) ? &hi : &v, 4);
			if (!(j & 4))
				h.buf[j] = (seed & 0x30) ? 0 : h.buf[j];
		}
		for (k = 0; k < 2000; k++) {
			uint64_t a = FH_BASE + 4096 + (uint64_t)(k * 1999) % (FH_SIZE - 8192);
			long n = 0;
			int64_t len;

			a &= ~7ull;
			(void)pyobj__read_type(h.l, &h.r, a, &t);
			(void)pyobj__read_str(h.l, &h.r, a, buf, sizeof(buf));
			(void)pyobj__dict_iter(h.l, &h.r, a, 1000, count_cb, &n);
			assert_true(n <= 1000);
			(void)pyobj__len(h.l, &h.r, a, PYOBJ_DICT, &len);
		}
		fh_free(&h);
	}
}

/* Live or freed, from the header alone: one count in a GIL build, two halves free-threaded. */
static void test_refcnt_live_and_managed_dict(void **state)
{
	const struct py_layout *gil = layout__find(3, 13), *ft = NULL;
	unsigned char h[32];
	uint64_t rc;
	uint32_t local;
	int64_t shared;
	int i;

	(void)state;
	for (i = 0; py_layouts[i]; i++)
		if (py_layouts[i]->free_threaded == 1)
			ft = py_layouts[i];
	assert_non_null(gil);
	assert_non_null(ft);
	memset(h, 0, sizeof(h));
	assert_false(pyobj__refcnt_live(gil, h)); /* a freed block */
	rc = 1;
	memcpy(h + gil->object_refcnt, &rc, 8);
	assert_true(pyobj__refcnt_live(gil, h));
	rc = 0xffffffffull; /* immortal (3.12+) */
	memcpy(h + gil->object_refcnt, &rc, 8);
	assert_true(pyobj__refcnt_live(gil, h));
	rc = 1ull << 41; /* garbage */
	memcpy(h + gil->object_refcnt, &rc, 8);
	assert_false(pyobj__refcnt_live(gil, h));

	memset(h, 0, sizeof(h));
	assert_false(pyobj__refcnt_live(ft, h));
	local = 1; /* owned by its thread */
	memcpy(h + 12, &local, 4);
	assert_true(pyobj__refcnt_live(ft, h));
	local = 0;
	memcpy(h + 12, &local, 4);
	shared = -4; /* held only by other threads, a merge queued */
	memcpy(h + 16, &shared, 8);
	assert_true(pyobj__refcnt_live(ft, h));
	shared = 1ll << 50;
	memcpy(h + 16, &shared, 8);
	assert_false(pyobj__refcnt_live(ft, h));

	/* MANAGED_DICT_OFFSET: -3 words behind the PyGC_Head, -1 without one */
	assert_int_equal(pyobj__managed_dict_at(gil, 0x1000), 0x1000 - 24);
	assert_int_equal(pyobj__managed_dict_at(ft, 0x1000), 0x1000 - 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_str),	   cmocka_unit_test(test_dict_get), cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_len), cmocka_unit_test(test_len_at_mapping_end),	   cmocka_unit_test(test_type_cache), cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_refcnt_live_and_managed_dict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
