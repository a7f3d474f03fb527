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

#include "layout.h"
#include "pyobj.h"
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

static uint64_t fh_str_ucs2(struct fakeheap *h, const uint16_t *u, size_t n)
{
	const struct py_layout *l = h->l;
	uint64_t o = fh_alloc(h, l->unicode_compact_size + 2 * (n + 1));
	uint32_t state = (2u << 2) | (1u << 5) | (l->minor <= 11 ? 1u << 7 : 0);

	fh_w64(h, o + l->object_refcnt, 1);
	fh_w64(h, o + l->unicode_length, n);
	fh_w32(h, o + l->unicode_state, state);
	memcpy(fh_ptr(h, o + l->unicode_compact_size), u, 2 * n);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_str),	   cmocka_unit_test(test_dict_get), cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_len),	   cmocka_unit_test(test_type_cache), cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
