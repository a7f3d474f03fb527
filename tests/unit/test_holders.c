/* SPDX-License-Identifier: BSD-2-Clause */
/* holders: naming containers by module globals, class and instance attributes, over a fake heap per layout. */
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

#include "analysis/holders.h"
#include "target/layout.h"
#include "target/pyobj.h"
#include "target/python.h"
#include "target/remote.h"

/* A fake CPython heap in a buffer, for the memory backend of remote.h (as in test_pyobj.c). */
#define FH_BASE 0x10000000ull
#define FH_SIZE (4u << 20)

struct fakeheap {
	const struct py_layout *l;
	unsigned char *buf;
	uint64_t top;
	struct remote_mem mem;
	struct remote r;
	uint64_t meta, str, dict, list, deque, module;
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

static uint64_t fh_cstr(struct fakeheap *h, const char *s)
{
	uint64_t a = fh_alloc(h, strlen(s) + 1);

	memcpy(fh_ptr(h, a), s, strlen(s) + 1);
	return a;
}

static uint64_t fh_type(struct fakeheap *h, const char *tp_name, uint64_t flags, int64_t basicsize, uint64_t meta)
{
	const struct py_layout *l = h->l;
	uint64_t t = fh_alloc(h, 1024);

	fh_w64(h, t + l->object_refcnt, 1000);
	fh_w64(h, t + l->object_type, meta ? meta : t);
	fh_w64(h, t + l->type_name, fh_cstr(h, tp_name));
	fh_w64(h, t + l->type_basicsize, basicsize);
	fh_w64(h, t + l->type_flags, flags);
	return t;
}

static uint64_t fh_str(struct fakeheap *h, const char *s)
{
	const struct py_layout *l = h->l;
	uint64_t o = fh_alloc(h, l->unicode_ascii_size + strlen(s) + 1);
	uint32_t state = (1u << 2) | (1u << 5) | (1u << 6) | (l->minor <= 11 ? 1u << 7 : 0);

	fh_w64(h, o + l->object_refcnt, 1);
	fh_w64(h, o + l->object_type, h->str);
	fh_w64(h, o + l->unicode_length, strlen(s));
	fh_w32(h, o + l->unicode_state, state);
	memcpy(fh_ptr(h, o + l->unicode_ascii_size), s, strlen(s) + 1);
	return o;
}

/* Keys object of n str keys: combined (values in the entries) or split (kind 2, no values). */
static uint64_t fh_keys(struct fakeheap *h, const uint64_t *keys, const uint64_t *vals, int n, bool split,
			uint64_t *entries_out)
{
	const struct py_layout *l = h->l;
	uint64_t k = fh_alloc(h, 1024), entries;
	unsigned esz = 24, koff = 8, voff = 16;
	int i;

	assert_true(n <= 8);
	if (l->dictkeys_log2_size != LAYOUT_NONE) {
		unsigned char *p = fh_ptr(h, k);

		p[l->dictkeys_log2_size] = 4;
		p[l->dictkeys_log2_index_bytes] = 4;
		p[l->dictkeys_kind] = split ? 2 : 1;
		entries = k + l->dictkeys_indices + 16;
		esz = 16, koff = 0, voff = 8;
	} else {
		fh_w64(h, k + l->dictkeys_size, 16);
		entries = k + l->dictkeys_indices + 16;
	}
	fh_w64(h, k + l->dictkeys_nentries, n);
	for (i = 0; i < n; i++) {
		fh_w64(h, entries + i * esz + koff, keys[i]);
		if (!split)
			fh_w64(h, entries + i * esz + voff, vals[i]);
	}
	if (entries_out)
		*entries_out = entries;
	return k;
}

static uint64_t fh_dict(struct fakeheap *h, const char *const *names, const uint64_t *vals, int n)
{
	const struct py_layout *l = h->l;
	uint64_t d = fh_alloc(h, 64), keys[8];
	int i;

	for (i = 0; i < n; i++)
		keys[i] = fh_str(h, names[i]);
	fh_w64(h, d + l->object_refcnt, 1);
	fh_w64(h, d + l->object_type, h->dict);
	fh_w64(h, d + l->dict_used, n);
	fh_w64(h, d + l->dict_keys, fh_keys(h, keys, vals, n, false, NULL));
	return d;
}

static uint64_t fh_obj(struct fakeheap *h, uint64_t type, size_t size)
{
	/* 32 bytes in front for the 3.11+ pre-header (managed dict / values pointers). */
	uint64_t o = fh_alloc(h, size + 32 + 64) + 32;

	fh_w64(h, o + h->l->object_refcnt, 1);
	fh_w64(h, o + h->l->object_type, type);
	return o;
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
	h->meta = fh_type(h, "type", 1ul << 31, 900, 0);
	h->str = fh_type(h, "str", 1ul << 28, h->l->unicode_ascii_size, h->meta);
	h->dict = fh_type(h, "dict", PY_TPFLAGS_HAVE_GC, 48, h->meta);
	h->list = fh_type(h, "list", PY_TPFLAGS_HAVE_GC, 40, h->meta);
	h->deque = fh_type(h, "collections.deque", PY_TPFLAGS_HAVE_GC, 624, h->meta);
	h->module = fh_type(h, "module", PY_TPFLAGS_HAVE_GC, 72, h->meta);
}

/* A heap type module.qual with tp_dict {"__module__": module, attr: value}. */
static uint64_t fh_class(struct fakeheap *h, const char *module, const char *qual, uint64_t flags,
			 int64_t basicsize, const char *attr, uint64_t value)
{
	const struct py_layout *l = h->l;
	const char *names[2] = { "__module__", attr };
	uint64_t vals[2] = { fh_str(h, module), value };
	uint64_t t = fh_type(h, qual, flags | PY_TPFLAGS_HEAPTYPE | PY_TPFLAGS_HAVE_GC, basicsize, h->meta);

	fh_w64(h, t + l->type_dict, fh_dict(h, names, vals, attr ? 2 : 1));
	fh_w64(h, t + l->heaptype_qualname, fh_str(h, qual));
	return t;
}

/*
 * An instance of a new heap class `Queue` (module mod) whose attributes are {"mutex": x,
 * attr: value}, stored the way this version stores them: tp_dictoffset (<= 3.10), managed
 * values with shared keys (3.11 at obj-32; 3.12 tagged at obj-24; 3.13 inline after the object),
 * or a materialised managed dict at obj-24 when `materialised`.
 */
static uint64_t fh_instance(struct fakeheap *h, const char *attr, uint64_t value, bool materialised)
{
	const struct py_layout *l = h->l;
	int minor = l->minor;
	uint64_t flags = minor >= 11 ? PY_TPFLAGS_MANAGED_DICT : 0;
	uint64_t mutex = fh_obj(h, h->list, 40);
	const char *names[2] = { "mutex", attr };
	uint64_t vals[2] = { mutex, value }, keys[2], cls, obj, sk;

	if (minor >= 13 && !materialised)
		flags |= 1ul << 2; /* Py_TPFLAGS_INLINE_VALUES */
	cls = fh_class(h, "queue", "Queue", flags, minor >= 13 ? 16 : 32, NULL, 0);
	obj = fh_obj(h, cls, 64);
	if (minor <= 10) {
		fh_w64(h, cls + l->type_dictoffset, 16);
		fh_w64(h, obj + 16, fh_dict(h, names, vals, 2));
		return obj;
	}
	if (materialised) {
		fh_w64(h, obj - 24, fh_dict(h, names, vals, 2));
		return obj;
	}
	keys[0] = fh_str(h, names[0]);
	keys[1] = fh_str(h, names[1]);
	sk = fh_keys(h, keys, NULL, 2, true, NULL);
	fh_w64(h, cls + l->heaptype_cached_keys, sk);
	if (minor == 11) {
		uint64_t v = fh_alloc(h, 64);

		fh_w64(h, v, vals[0]);
		fh_w64(h, v + 8, vals[1]);
		fh_w64(h, obj - 32, v);
	} else if (minor == 12) {
		uint64_t v = fh_alloc(h, 64);

		fh_w64(h, v, vals[0]);
		fh_w64(h, v + 8, vals[1]);
		fh_w64(h, obj - 24, v - 1); /* PyDictOrValues: values - 1, low bit set */
	} else {
		unsigned char *hdr = fh_ptr(h, obj + 16);

		hdr[0] = 2, hdr[1] = 2, hdr[2] = 1, hdr[3] = 1; /* capacity, size, embedded, valid */
		fh_w64(h, obj + 16 + 8, vals[0]);
		fh_w64(h, obj + 16 + 16, vals[1]);
	}
	return obj;
}

struct world {
	struct py_target t;
	uint64_t cache, items, queue, handlers, garbage, stray, main_dict, alias_mod_dict;
};

/*
 * sys.modules = {"app": app, "__main__": main}; app.cache_alias is __main__.cache (the __main__
 * name must win although app comes first); __main__ = {cache: dict, Registry: class with
 * _items, jobs: Queue instance with .queue (a deque), log: materialised-dict instance with
 * .handlers}; gc.garbage a list; one stray list nobody names.
 */
static void mk_world(struct fakeheap *h, struct world *w)
{
	const struct py_layout *l = h->l;
	uint64_t registry, jobs, log, mainmod, appmod, modules, interp, gslot;
	const char *main_names[4] = { "cache", "Registry", "jobs", "log" };
	const char *app_names[1] = { "cache_alias" };
	const char *mod_names[2] = { "app", "__main__" };
	uint64_t vals[4];

	memset(w, 0, sizeof(*w));
	w->cache = fh_obj(h, h->dict, 48);
	w->items = fh_obj(h, h->list, 40);
	w->queue = fh_obj(h, h->deque, 624);
	w->handlers = fh_obj(h, h->list, 40);
	w->garbage = fh_obj(h, h->list, 40);
	w->stray = fh_obj(h, h->list, 40);
	registry = fh_class(h, "__main__", "Registry", 0, 16, "_items", w->items);
	jobs = fh_instance(h, "queue", w->queue, false);
	log = fh_instance(h, "handlers", w->handlers, true);
	vals[0] = w->cache, vals[1] = registry, vals[2] = jobs, vals[3] = log;
	mainmod = fh_obj(h, h->module, 72);
	w->main_dict = fh_dict(h, main_names, vals, 4);
	fh_w64(h, mainmod + l->module_dict, w->main_dict);
	appmod = fh_obj(h, h->module, 72);
	w->alias_mod_dict = fh_dict(h, app_names, &w->cache, 1);
	fh_w64(h, appmod + l->module_dict, w->alias_mod_dict);
	vals[0] = appmod, vals[1] = mainmod;
	modules = fh_dict(h, mod_names, vals, 2);
	interp = fh_alloc(h, l->interp_modules + 64);
	fh_w64(h, interp + l->interp_modules, modules);
	gslot = fh_alloc(h, 8);
	fh_w64(h, gslot, w->garbage);

	w->t.layout = l;
	w->t.major = 3;
	w->t.minor = l->minor;
	w->t.interp_addr = interp;
	w->t.gc_garbage_addr = gslot;
}

static const int minors[] = { 6, 7, 8, 9, 10, 11, 12, 13 };
#define NMINORS (sizeof(minors) / sizeof(minors[0]))

static void ask(struct holders_query *q, int i, uint64_t addr, uint64_t type)
{
	q[i].addr = addr;
	q[i].type_addr = type;
	q[i].name[0] = 0;
}

static void test_names_every_layout(void **state)
{
	size_t m;

	(void)state;
	for (m = 0; m < NMINORS; m++) {
		struct fakeheap h;
		struct world w;
		struct holders *hs;
		struct holders_query q[7];
		int n;

		fh_init(&h, minors[m]);
		mk_world(&h, &w);
		hs = holders__new(NULL);
		assert_non_null(hs);
		ask(q, 0, w.cache, h.dict);
		ask(q, 1, w.items, h.list);
		ask(q, 2, w.queue, h.deque);
		ask(q, 3, w.handlers, h.list);
		ask(q, 4, w.garbage, h.list);
		ask(q, 5, w.stray, h.list);
		ask(q, 6, w.main_dict, h.dict);
		n = holders__name(hs, &w.t, &h.r, NULL, q, 7, 100.0);
		print_message("3.%d: %s | %s | %s | %s | %s | '%s' | %s\n", minors[m], q[0].name, q[1].name, q[2].name,
			      q[3].name, q[4].name, q[5].name, q[6].name);
		assert_int_equal(n, 6);
		assert_string_equal(q[0].name, "__main__.cache"); /* __main__ before app's alias */
		assert_string_equal(q[1].name, "__main__.Registry._items");
		assert_string_equal(q[2].name, "__main__.jobs.queue");
		assert_string_equal(q[3].name, "__main__.log.handlers");
		assert_string_equal(q[4].name, "gc.garbage");
		assert_string_equal(q[5].name, "");
		assert_string_equal(q[6].name, "__main__.__dict__");
		assert_int_equal(holders__stats(hs)->modules, 2);
		assert_false(holders__stats(hs)->truncated);
		holders__free(hs);
		free(h.buf);
	}
}

/*
 * holders__containers: every container under a name is measured whether the GC tracks it or not
 * (the dict __main__.cache is untracked here: _gc_next 0), short ones are left out, and the
 * names serve holders__name from the cache afterwards.
 */
static void test_containers_every_layout(void **state)
{
	size_t m;

	(void)state;
	for (m = 0; m < NMINORS; m++) {
		struct fakeheap h;
		struct world w;
		struct holders *hs;
		struct pyobj_types *types;
		struct holders_container out[8];
		struct holders_query q[1];
		const struct py_layout *l;
		int n, i, seen = 0;

		fh_init(&h, minors[m]);
		l = h.l;
		mk_world(&h, &w);
		fh_w64(&h, w.cache + l->dict_used, 5000);
		fh_w64(&h, w.items + l->varobject_size, 100);
		fh_w64(&h, w.items - l->gc_head_size + l->gc_head_next, w.items - l->gc_head_size); /* tracked */
		fh_w64(&h, w.queue + l->varobject_size, 40);
		fh_w64(&h, w.handlers + l->varobject_size, 3); /* below min_len */
		hs = holders__new(NULL);
		types = pyobj_types__new(l);
		assert_non_null(hs);
		assert_non_null(types);
		n = holders__containers(hs, &w.t, &h.r, types, 32, out, 8, 100.0);
		assert_int_equal(n, 3);
		for (i = 0; i < n; i++) {
			print_message("3.%d: %s %s len %lld %s\n", minors[m], out[i].name, out[i].type,
				      (long long)out[i].len, out[i].tracked ? "tracked" : "untracked");
			if (out[i].addr == w.cache) {
				assert_string_equal(out[i].name, "__main__.cache"); /* not app.cache_alias */
				assert_string_equal(out[i].type, "dict");
				assert_int_equal(out[i].len, 5000);
				assert_false(out[i].tracked);
				assert_int_equal(i, 0); /* longest first */
				seen |= 1;
			} else if (out[i].addr == w.items) {
				assert_string_equal(out[i].name, "__main__.Registry._items");
				assert_true(out[i].tracked);
				seen |= 2;
			} else if (out[i].addr == w.queue) {
				assert_string_equal(out[i].name, "__main__.jobs.queue");
				assert_int_equal(out[i].kind, PYOBJ_DEQUE);
				seen |= 4;
			}
		}
		assert_int_equal(seen, 7);
		/* The walk's names are in the cache: holders__name needs no walk for them. */
		ask(q, 0, w.cache, h.dict);
		assert_int_equal(holders__name(hs, &w.t, &h.r, types, q, 1, 100.5), 1);
		assert_string_equal(q[0].name, "__main__.cache");
		assert_int_equal(holders__stats(hs)->walks, 1);
		/* A hostile length is no length. */
		fh_w64(&h, w.cache + l->dict_used, (uint64_t)-5);
		n = holders__containers(hs, &w.t, &h.r, types, 32, out, 8, 200.0);
		for (i = 0; i < n; i++)
			assert_true(out[i].addr != w.cache);
		pyobj_types__free(types);
		holders__free(hs);
		free(h.buf);
	}
}

/* Names come from the cache: no read of the target until an address is new and the interval passed. */
static void test_cache_and_retry(void **state)
{
	struct fakeheap h;
	struct world w;
	struct holders_limits lim;
	struct holders *hs;
	struct holders_query q[2];
	uint64_t reads;

	(void)state;
	fh_init(&h, 12);
	mk_world(&h, &w);
	holders__default_limits(&lim);
	hs = holders__new(&lim);
	ask(q, 0, w.cache, h.dict);
	ask(q, 1, w.stray, h.list);
	assert_int_equal(holders__name(hs, &w.t, &h.r, NULL, q, 2, 100.0), 1);
	assert_int_equal(holders__stats(hs)->walks, 1);

	/* Same addresses: answered from the cache, no reads (the stray list waits for retry_s). */
	reads = h.r.reads;
	assert_int_equal(holders__name(hs, &w.t, &h.r, NULL, q, 2, 100.0 + lim.min_walk_interval_s + 1), 1);
	assert_int_equal(h.r.reads, reads);
	assert_string_equal(q[0].name, "__main__.cache");

	/* The same address with another type is another object: looked up again, after the interval. */
	ask(q, 1, w.stray, h.dict);
	assert_int_equal(holders__name(hs, &w.t, &h.r, NULL, q, 2, 100.0 + lim.min_walk_interval_s / 2), 1);
	assert_int_equal(holders__stats(hs)->walks, 1);
	assert_int_equal(h.r.reads, reads);
	assert_int_equal(holders__name(hs, &w.t, &h.r, NULL, q, 2, 100.0 + lim.min_walk_interval_s + 2), 1);
	assert_int_equal(holders__stats(hs)->walks, 2);

	/* The program stores the stray list in a global later: found at the retry. */
	{
		const char *names[5] = { "cache", "Registry", "jobs", "log", "late" };
		uint64_t d = w.main_dict, keys_obj, entries;
		const struct py_layout *l = h.l;
		uint64_t k5 = fh_str(&h, names[4]);

		(void)keys_obj;
		/* Append a fifth entry to __main__'s combined table (16 slots, 16-byte entries in 3.12). */
		keys_obj = 0;
		memcpy(&keys_obj, fh_ptr(&h, d + l->dict_keys), 8);
		entries = keys_obj + l->dictkeys_indices + 16;
		fh_w64(&h, entries + 4 * 16, k5);
		fh_w64(&h, entries + 4 * 16 + 8, w.stray);
		fh_w64(&h, keys_obj + l->dictkeys_nentries, 5);
		fh_w64(&h, d + l->dict_used, 5);
	}
	ask(q, 1, w.stray, h.list);
	assert_int_equal(holders__name(hs, &w.t, &h.r, NULL, q, 2, 120.0), 1); /* negative, not yet retried */
	assert_int_equal(holders__name(hs, &w.t, &h.r, NULL, q, 2, 100.0 + lim.retry_s + 1), 2);
	assert_string_equal(q[1].name, "__main__.late");
	holders__free(hs);
	free(h.buf);
}

/* Garbage where pointers should be: no crash, bounded, nothing named wrongly. */
static void test_hostile(void **state)
{
	struct fakeheap h;
	struct world w;
	struct holders_limits lim;
	struct holders *hs;
	struct holders_query q[2];
	const struct py_layout *l;
	uint64_t modules, keys_obj;
	int err;

	(void)state;
	fh_init(&h, 11);
	l = h.l;
	mk_world(&h, &w);
	holders__default_limits(&lim);
	lim.max_modules = 1;
	hs = holders__new(&lim);
	ask(q, 0, w.cache, h.dict);
	ask(q, 1, w.items, h.list);
	/* Only one module may be visited: app (first); __main__ is left out, the limit is reported. */
	err = holders__name(hs, &w.t, &h.r, NULL, q, 2, 100.0);
	assert_int_equal(err, 1);
	assert_string_equal(q[0].name, "app.cache_alias");
	assert_true(holders__stats(hs)->truncated);
	holders__free(hs);

	/* sys.modules with an absurd entry count and pointers out of the heap. */
	memcpy(&modules, fh_ptr(&h, w.t.interp_addr + l->interp_modules), 8);
	memcpy(&keys_obj, fh_ptr(&h, modules + l->dict_keys), 8);
	fh_w64(&h, keys_obj + l->dictkeys_nentries, 1ll << 40);
	hs = holders__new(NULL);
	err = holders__name(hs, &w.t, &h.r, NULL, q, 2, 100.0);
	assert_true(err < 0);
	assert_string_equal(q[0].name, "");
	holders__free(hs);

	/* No interpreter address: refused, not guessed. */
	hs = holders__new(NULL);
	w.t.interp_addr = 0;
	assert_int_equal(holders__name(hs, &w.t, &h.r, NULL, q, 2, 100.0), -ENOTSUP);
	holders__free(hs);

	/* A wild interpreter pointer. */
	hs = holders__new(NULL);
	w.t.interp_addr = 0x7ff0deadbee0ull;
	assert_true(holders__name(hs, &w.t, &h.r, NULL, q, 2, 100.0) < 0);
	holders__free(hs);
	free(h.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_every_layout),
		cmocka_unit_test(test_containers_every_layout),
		cmocka_unit_test(test_cache_and_retry),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
