/* SPDX-License-Identifier: BSD-2-Clause */
/* A fake CPython heap for the unit tests of remote-memory readers (pyobj, census): objects laid
 * out per generated layout table in a buffer served by remote.h's memory backend. */
#ifndef PYLEAK_TEST_FAKEHEAP_H
#define PYLEAK_TEST_FAKEHEAP_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "target/layout.h"
#include "target/pyobj.h"
#include "target/remote.h"

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

static inline uint64_t fh_alloc(struct fakeheap *h, size_t n)
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

static inline void fh_w64(struct fakeheap *h, uint64_t a, uint64_t v)
{
	memcpy(fh_ptr(h, a), &v, 8);
}

static inline void fh_w32(struct fakeheap *h, uint64_t a, uint32_t v)
{
	memcpy(fh_ptr(h, a), &v, 4);
}

static inline uint64_t fh_r64(struct fakeheap *h, uint64_t a)
{
	uint64_t v;

	memcpy(&v, fh_ptr(h, a), 8);
	return v;
}

static inline uint64_t fh_cstr(struct fakeheap *h, const char *s)
{
	uint64_t a = fh_alloc(h, strlen(s) + 1);

	memcpy(fh_ptr(h, a), s, strlen(s) + 1);
	return a;
}

static inline uint64_t fh_type(struct fakeheap *h, const char *tp_name, uint64_t flags, int64_t basicsize, int64_t itemsize,
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
static inline uint64_t fh_str(struct fakeheap *h, const char *s)
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

static inline uint64_t fh_str_ucs2(struct fakeheap *h, const uint16_t *u, size_t n)
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
static inline uint64_t fh_dict(struct fakeheap *h, uint64_t dict_type, const uint64_t *keys, const uint64_t *vals, int n,
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

static inline void fh_init(struct fakeheap *h, int minor)
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

static inline void fh_free(struct fakeheap *h)
{
	free(h->buf);
}

/* A heap type named module.qual (tp_name = the short name, as type_new does). */
static inline uint64_t fh_class(struct fakeheap *h, uint64_t dict_type, uint64_t str_type, const char *module,
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

#endif /* PYLEAK_TEST_FAKEHEAP_H */
