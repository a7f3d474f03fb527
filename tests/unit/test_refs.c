/* SPDX-License-Identifier: BSD-2-Clause */
/* refs: retention chains over a fake heap per layout: every object kind, cycles, opaque holders,
 * limits, objects freed or changed while scanning. */
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

#include "analysis/refs.h"
#include "target/layout.h"
#include "target/pyobj.h"
#include "target/python.h"
#include "target/remote.h"
#include "util/common.h"

#include "fakeheap.h"

static const int minors[] = { 8, 9, 10, 11, 12, 13 };
#define NMINORS (sizeof(minors) / sizeof(minors[0]))

struct world {
	struct fakeheap h;
	struct py_target t;
	uint64_t gens;
	uint64_t object, str, intt, dict, list, tuple, set, deque, cell, func, method, module, lru, lock, leaf;
	uint64_t cmeth, prop, partial, l_cm, l_prop, l_partial, l_orphan, l_frozen, gcstate;
	uint64_t modules, svc_dict, garbage;
	const char *mod_names[16];
	uint64_t mod_vals[16];
	int nmods;
	/* the leaves and what holds them */
	uint64_t l_item, l_tuple, l_set, l_deque, l_closure, l_method, l_lru, l_garbage, l_opaque, l_attr, l_slot,
		l_cycle, l_alone, l_deep;
	uint64_t lst, inner_tuple, holder_list;
};

static uint64_t gen_head(struct world *w, int g)
{
	return w->gens + (uint64_t)g * w->h.l->gc_generation_size + w->h.l->gc_gen_head;
}

/* A GC object (with `pre` bytes of 3.11+ pre-header in front of the GC head) in generation g. */
static uint64_t gc_obj(struct world *w, int g, uint64_t type, size_t size, size_t pre)
{
	const struct py_layout *l = w->h.l;
	size_t gch = l->gc_head_size;
	uint64_t blk = fh_alloc(&w->h, pre + gch + size + 64) + pre, head = gen_head(w, g), tail;

	tail = fh_r64(&w->h, head + l->gc_head_prev) & ~7ull;
	fh_w64(&w->h, tail + l->gc_head_next, blk);
	fh_w64(&w->h, blk + l->gc_head_prev, tail);
	fh_w64(&w->h, blk + l->gc_head_next, head);
	fh_w64(&w->h, head + l->gc_head_prev, blk);
	fh_w64(&w->h, blk + gch + l->object_refcnt, 1);
	fh_w64(&w->h, blk + gch + l->object_type, type);
	return blk + gch;
}

static uint64_t s_str(struct world *w, const char *s)
{
	uint64_t o = fh_str(&w->h, s);

	fh_w64(&w->h, o + w->h.l->object_type, w->str);
	return o;
}

/* A dict in generation g with n (<= 8) items; str keys give the 3.11+ unicode kind. */
static uint64_t g_dict(struct world *w, int g, const uint64_t *keys, const uint64_t *vals, int n, bool str_keys)
{
	const struct py_layout *l = w->h.l;
	uint64_t d = gc_obj(w, g, w->dict, 64, 0), k = fh_alloc(&w->h, 1024), entries;
	unsigned esz = 24, koff = 8, voff = 16;
	int i;

	assert_true(n <= 8);
	fh_w64(&w->h, d + l->dict_used, n);
	if (l->dictkeys_log2_size != LAYOUT_NONE) {
		unsigned char *p = fh_ptr(&w->h, k);

		p[l->dictkeys_log2_size] = 4;
		p[l->dictkeys_log2_index_bytes] = 4;
		p[l->dictkeys_kind] = str_keys ? 1 : 0;
		entries = k + l->dictkeys_indices + 16;
		if (str_keys)
			esz = 16, koff = 0, voff = 8;
	} else {
		fh_w64(&w->h, k + l->dictkeys_size, 16);
		entries = k + l->dictkeys_indices + 16;
	}
	fh_w64(&w->h, k + l->dictkeys_nentries, n);
	for (i = 0; i < n; i++) {
		fh_w64(&w->h, entries + i * esz + koff, keys[i]);
		fh_w64(&w->h, entries + i * esz + voff, vals[i]);
	}
	fh_w64(&w->h, d + l->dict_keys, k);
	return d;
}

static uint64_t g_dict1(struct world *w, int g, const char *key, uint64_t val)
{
	uint64_t k = s_str(w, key);

	return g_dict(w, g, &k, &val, 1, true);
}

static uint64_t g_list(struct world *w, int g, const uint64_t *items, int n)
{
	const struct py_layout *l = w->h.l;
	uint64_t o = gc_obj(w, g, w->list, 48, 0), arr = fh_alloc(&w->h, 8 * (n + 1));
	int i;

	for (i = 0; i < n; i++)
		fh_w64(&w->h, arr + 8 * i, items[i]);
	fh_w64(&w->h, o + l->varobject_size, n);
	fh_w64(&w->h, o + l->list_item, arr);
	return o;
}

static uint64_t g_tuple(struct world *w, int g, const uint64_t *items, int n)
{
	const struct py_layout *l = w->h.l;
	uint64_t o = gc_obj(w, g, w->tuple, 24 + 8 * n, 0);
	int i;

	fh_w64(&w->h, o + l->varobject_size, n);
	for (i = 0; i < n; i++)
		fh_w64(&w->h, o + l->tuple_item + 8 * i, items[i]);
	return o;
}

static void mod_global(struct world *w, const char *name, uint64_t v)
{
	w->mod_names[w->nmods] = name;
	w->mod_vals[w->nmods++] = v;
}

static uint64_t leaf(struct world *w, int g)
{
	return gc_obj(w, g, w->leaf, 16, 0);
}

/* A heap class svc.<name> in generation 2 with tp_dict {__module__: "svc", attr: value}. */
static uint64_t g_class(struct world *w, const char *name, uint64_t flags, int64_t basicsize, const char *attr,
			uint64_t value)
{
	const struct py_layout *l = w->h.l;
	uint64_t t = gc_obj(w, 2, w->h.meta, 1024, 0), keys[2], vals[2];

	fh_w64(&w->h, t + l->type_name, fh_cstr(&w->h, name));
	fh_w64(&w->h, t + l->type_basicsize, basicsize);
	fh_w64(&w->h, t + l->type_flags, flags | PY_TPFLAGS_HEAPTYPE | PY_TPFLAGS_HAVE_GC);
	fh_w64(&w->h, t + l->type_base, w->object);
	keys[0] = s_str(w, "__module__");
	vals[0] = s_str(w, "svc");
	keys[1] = attr ? s_str(w, attr) : 0;
	vals[1] = value;
	fh_w64(&w->h, t + l->type_dict, g_dict(w, 2, keys, vals, attr ? 2 : 1, true));
	fh_w64(&w->h, t + l->heaptype_qualname, s_str(w, name));
	return t;
}

/*
 * svc = {item: {k1: L}, lst: [x, (L,)], st: {L}, dq: deque(70 items, L last), fn: function
 * with a closure cell -> L, m: bound method of L, Cls: class with an lru_cache wrapper whose
 * cache has the key (L,), app: instance with .conn = L (per-version attribute storage),
 * srv: instance of a __slots__ class with .peer = L, cyc: [[cyc, L]]}; gc.garbage = [L];
 * a C object (opaque) holds L at +24; one L held by nothing.
 */
static void world_init(struct world *w, int minor)
{
	const struct py_layout *l;
	uint64_t interp, gslot, items[4], mod, blocks[2];
	int g, i;

	memset(w, 0, sizeof(*w));
	fh_init(&w->h, minor);
	l = w->h.l;
	w->gens = fh_alloc(&w->h, 4 * l->gc_generation_size);
	for (g = 0; g < 3; g++) {
		fh_w64(&w->h, gen_head(w, g) + l->gc_head_next, gen_head(w, g));
		fh_w64(&w->h, gen_head(w, g) + l->gc_head_prev, gen_head(w, g));
	}
	w->t.layout = l;
	w->t.major = 3;
	w->t.minor = minor;
	w->t.gc_generations_addr = w->gens;
	w->object = fh_type(&w->h, "object", 0, 16, 0, 0);
	w->str = fh_type(&w->h, "str", 0, l->unicode_ascii_size, 0, w->object);
	w->intt = fh_type(&w->h, "int", 0, 24, 4, w->object);
	w->dict = fh_type(&w->h, "dict", PY_TPFLAGS_HAVE_GC, 48, 0, w->object);
	w->list = fh_type(&w->h, "list", PY_TPFLAGS_HAVE_GC, 40, 0, w->object);
	w->tuple = fh_type(&w->h, "tuple", PY_TPFLAGS_HAVE_GC, 24, 8, w->object);
	w->set = fh_type(&w->h, "set", PY_TPFLAGS_HAVE_GC, 200, 0, w->object);
	w->deque = fh_type(&w->h, "collections.deque", PY_TPFLAGS_HAVE_GC, 80, 0, w->object);
	w->cell = fh_type(&w->h, "cell", PY_TPFLAGS_HAVE_GC, 24, 0, w->object);
	w->func = fh_type(&w->h, "function", PY_TPFLAGS_HAVE_GC, 144, 0, w->object);
	w->method = fh_type(&w->h, "method", PY_TPFLAGS_HAVE_GC, 48, 0, w->object);
	w->module = fh_type(&w->h, "module", PY_TPFLAGS_HAVE_GC, 72, 0, w->object);
	w->lru = fh_type(&w->h, "functools._lru_cache_wrapper", PY_TPFLAGS_HAVE_GC, 152, 0, w->object);
	w->lock = fh_type(&w->h, "_thread.RLock", PY_TPFLAGS_HAVE_GC, 48, 0, w->object);
	w->cmeth = fh_type(&w->h, "classmethod", PY_TPFLAGS_HAVE_GC, 32, 0, w->object);
	w->prop = fh_type(&w->h, "property", PY_TPFLAGS_HAVE_GC, 64, 0, w->object);
	w->partial = fh_type(&w->h, "functools.partial", PY_TPFLAGS_HAVE_GC, 64, 0, w->object);
	w->leaf = g_class(w, "Leaf", 0, 16, NULL, 0);

	/* item */
	w->l_item = leaf(w, 0);
	mod_global(w, "item", g_dict1(w, 1, "k1", w->l_item));
	/* list -> tuple */
	w->l_tuple = leaf(w, 0);
	items[0] = w->l_tuple;
	w->inner_tuple = g_tuple(w, 1, items, 1);
	items[0] = w->l_item;
	items[1] = w->inner_tuple;
	w->lst = g_list(w, 2, items, 2);
	mod_global(w, "lst", w->lst);
	/* set: 8 slots {key, hash}, the leaf in slot 5 */
	{
		uint64_t s = gc_obj(w, 1, w->set, 200, 0), table = fh_alloc(&w->h, 8 * 16);

		w->l_set = leaf(w, 0);
		fh_w64(&w->h, table + 5 * 16, w->l_set);
		fh_w64(&w->h, s + l->set_table, table);
		fh_w64(&w->h, s + l->set_mask, 7);
		fh_w64(&w->h, s + l->set_used, 1);
		mod_global(w, "st", s);
	}
	/* deque of 70: leftindex 10 of block 0 (64 slots), the leaf at index 69 in block 1 */
	{
		uint64_t dq = gc_obj(w, 1, w->deque, 216, 0);
		int64_t blocklen = (l->dequeblock_rightlink - l->dequeblock_data) / 8;

		assert_int_equal(blocklen, 64);
		w->l_deque = leaf(w, 0);
		for (i = 0; i < 2; i++)
			blocks[i] = fh_alloc(&w->h, l->dequeblock_rightlink + 8);
		fh_w64(&w->h, blocks[0] + l->dequeblock_rightlink, blocks[1]);
		/* index 69 = block 0 holds 54 (10..63), block 1 slot 15 */
		fh_w64(&w->h, blocks[1] + l->dequeblock_data + 8 * 15, w->l_deque);
		fh_w64(&w->h, dq + l->varobject_size, 70);
		fh_w64(&w->h, dq + l->deque_leftblock, blocks[0]);
		fh_w64(&w->h, dq + l->deque_leftindex, 10);
		fh_w64(&w->h, dq + l->deque_rightindex, 15);
		mod_global(w, "dq", dq);
	}
	/* function -> closure tuple -> cell -> leaf */
	{
		uint64_t c = gc_obj(w, 1, w->cell, 24, 0), fn = gc_obj(w, 1, w->func, 144, 0);

		w->l_closure = leaf(w, 0);
		fh_w64(&w->h, c + l->cell_ref, w->l_closure);
		items[0] = c;
		fh_w64(&w->h, fn + l->func_closure, g_tuple(w, 1, items, 1));
		mod_global(w, "fn", fn);
	}
	/* bound method */
	{
		uint64_t m = gc_obj(w, 1, w->method, 48, 0);

		w->l_method = leaf(w, 0);
		fh_w64(&w->h, m + l->method_self, w->l_method);
		mod_global(w, "m", m);
	}
	/* class attribute -> lru_cache wrapper -> cache dict key (leaf,) */
	{
		uint64_t wrap = gc_obj(w, 2, w->lru, 152, 0), k, one = gc_obj(w, 2, w->intt, 24, 0);

		w->l_lru = leaf(w, 0);
		items[0] = w->l_lru;
		k = g_tuple(w, 1, items, 1);
		fh_w64(&w->h, wrap + l->lru_cache_cache, g_dict(w, 1, &k, &one, 1, false));
		mod_global(w, "Cls", g_class(w, "Cls", 0, 16, "render", wrap));
	}
	/* gc.garbage */
	w->l_garbage = leaf(w, 0);
	items[0] = w->l_garbage;
	w->garbage = g_list(w, 2, items, 1);
	gslot = fh_alloc(&w->h, 8);
	fh_w64(&w->h, gslot, w->garbage);
	w->t.gc_garbage_addr = gslot;
	/* an opaque C object holding a leaf at +24 (and held by nothing pyleak can read) */
	{
		uint64_t lock = gc_obj(w, 2, w->lock, 48, 0);

		w->l_opaque = leaf(w, 0);
		fh_w64(&w->h, lock + 24, w->l_opaque);
	}
	/* instance attribute, stored the way this version does */
	{
		uint64_t flags = minor >= 11 ? PY_TPFLAGS_MANAGED_DICT : 0, cls, obj, keys[2], vals[2], sk, kk;
		const struct py_layout *L = l;

		if (minor >= 13)
			flags |= 1ul << 2; /* Py_TPFLAGS_INLINE_VALUES */
		cls = g_class(w, "App", flags, minor >= 13 ? 16 : 32, NULL, 0);
		obj = gc_obj(w, 2, cls, 64, minor >= 11 ? 16 : 0);
		w->l_attr = leaf(w, 0);
		keys[0] = s_str(w, "name");
		keys[1] = s_str(w, "conn");
		vals[0] = s_str(w, "app");
		vals[1] = w->l_attr;
		if (minor <= 10) {
			fh_w64(&w->h, cls + L->type_dictoffset, 16);
			fh_w64(&w->h, obj + 16, g_dict(w, 2, keys, vals, 2, true));
		} else {
			/* shared keys: kind 2 (split), 16-byte {key, value} entries, values elsewhere */
			unsigned char *p;

			sk = fh_alloc(&w->h, 1024);
			p = fh_ptr(&w->h, sk);
			p[L->dictkeys_log2_size] = 4;
			p[L->dictkeys_log2_index_bytes] = 4;
			p[L->dictkeys_kind] = 2;
			fh_w64(&w->h, sk + L->dictkeys_nentries, 2);
			kk = sk + L->dictkeys_indices + 16;
			fh_w64(&w->h, kk, keys[0]);
			fh_w64(&w->h, kk + 16, keys[1]);
			fh_w64(&w->h, cls + L->heaptype_cached_keys, sk);
			if (minor == 11 || minor == 12) {
				uint64_t v = fh_alloc(&w->h, 64);

				fh_w64(&w->h, v, vals[0]);
				fh_w64(&w->h, v + 8, vals[1]);
				if (minor == 11)
					fh_w64(&w->h, obj - 32, v);
				else
					fh_w64(&w->h, obj - 24, v - 1); /* PyDictOrValues: values - 1 */
			} else {
				unsigned char *hdr = fh_ptr(&w->h, obj + 16);

				hdr[0] = 2, hdr[1] = 2, hdr[2] = 1, hdr[3] = 1; /* capacity, size, embedded, valid */
				fh_w64(&w->h, obj + 16 + 8, vals[0]);
				fh_w64(&w->h, obj + 16 + 16, vals[1]);
			}
		}
		mod_global(w, "app", obj);
	}
	/* __slots__: a PyMemberDef array {name, T_OBJECT_EX (16), offset 16} on the class */
	{
		uint64_t cls = g_class(w, "Srv", 0, 24, NULL, 0), mem = fh_alloc(&w->h, 3 * l->memberdef_size), obj;

		fh_w64(&w->h, mem + l->memberdef_name, fh_cstr(&w->h, "__weakref__")); /* skipped: weak */
		fh_w32(&w->h, mem + l->memberdef_type, 6);
		fh_w64(&w->h, mem + l->memberdef_offset, 16);
		fh_w64(&w->h, mem + l->memberdef_size + l->memberdef_name, fh_cstr(&w->h, "peer"));
		fh_w32(&w->h, mem + l->memberdef_size + l->memberdef_type, 16);
		fh_w64(&w->h, mem + l->memberdef_size + l->memberdef_offset, 16);
		fh_w64(&w->h, cls + l->type_members, mem);
		obj = gc_obj(w, 2, cls, 24, 0);
		w->l_slot = leaf(w, 0);
		fh_w64(&w->h, obj + 16, w->l_slot);
		mod_global(w, "srv", obj);
	}
	/* a cycle: a = [b], b = [a, leaf] */
	{
		uint64_t a, b;

		w->l_cycle = leaf(w, 0);
		items[0] = 0;
		a = g_list(w, 2, items, 1);
		items[0] = a;
		items[1] = w->l_cycle;
		b = g_list(w, 2, items, 2);
		fh_w64(&w->h, fh_r64(&w->h, a + l->list_item), b);
		mod_global(w, "cyc", a);
	}
	/* a long chain for the depth limit: deep = [[[[[leaf]]]]] */
	{
		uint64_t cur;

		w->l_deep = cur = leaf(w, 0);
		for (i = 0; i < 5; i++) {
			items[0] = cur;
			cur = g_list(w, 2, items, 1);
		}
		w->holder_list = cur;
		mod_global(w, "deep", cur);
	}
	/* classmethod.__func__, property.fset, partial.args[0] */
	{
		uint64_t cm = gc_obj(w, 2, w->cmeth, 32, 0), pr = gc_obj(w, 2, w->prop, 64, 0);
		uint64_t pa = gc_obj(w, 2, w->partial, 64, 0);

		w->l_cm = leaf(w, 0);
		w->l_prop = leaf(w, 0);
		w->l_partial = leaf(w, 0);
		fh_w64(&w->h, cm + l->classmethod_callable, w->l_cm);
		fh_w64(&w->h, pr + l->property_set, w->l_prop);
		items[0] = w->l_partial;
		fh_w64(&w->h, pa + l->partial_args, g_tuple(w, 2, items, 1));
		mod_global(w, "cm", cm);
		mod_global(w, "pr", pr);
		mod_global(w, "pt", pa);
	}
	/* gc.freeze(): a list in the permanent generation (not on the three GC lists) holds a leaf */
	{
		uint64_t head, blk, fl, arr;
		size_t gch = l->gc_head_size;

		w->gcstate = fh_alloc(&w->h, l->gc_size > 0 ? l->gc_size + 64 : 512);
		w->t.gc_addr = w->gcstate;
		head = w->gcstate + l->gc_permanent_generation + l->gc_gen_head;
		blk = fh_alloc(&w->h, gch + 64);
		fl = blk + gch;
		fh_w64(&w->h, head + l->gc_head_next, blk);
		fh_w64(&w->h, head + l->gc_head_prev, blk);
		fh_w64(&w->h, blk + l->gc_head_next, head);
		fh_w64(&w->h, blk + l->gc_head_prev, head);
		fh_w64(&w->h, fl + l->object_refcnt, 1);
		fh_w64(&w->h, fl + l->object_type, w->list);
		w->l_frozen = leaf(w, 0);
		arr = fh_alloc(&w->h, 16);
		fh_w64(&w->h, arr, w->l_frozen);
		fh_w64(&w->h, fl + l->varobject_size, 1);
		fh_w64(&w->h, fl + l->list_item, arr);
		mod_global(w, "frz", fl);
	}
	/* a class no module holds (made in a function, say) with an attribute holding a leaf */
	w->l_orphan = leaf(w, 0);
	g_class(w, "Orphan", 0, 16, "cache", w->l_orphan);
	w->l_alone = leaf(w, 0);

	/* svc and sys.modules */
	{
		uint64_t keys[16];

		for (i = 0; i < w->nmods; i++)
			keys[i] = s_str(w, w->mod_names[i]);
		/* g_dict holds 8 items: two module dicts' worth */
		w->svc_dict = g_dict(w, 2, keys, w->mod_vals, 8, true);
		mod = gc_obj(w, 2, w->module, 72, 0);
		fh_w64(&w->h, mod + l->module_dict, w->svc_dict);
		{
			uint64_t mod2 = gc_obj(w, 2, w->module, 72, 0), mk[2], mv[2];

			fh_w64(&w->h, mod2 + l->module_dict, g_dict(w, 2, keys + 8, w->mod_vals + 8, w->nmods - 8, true));
			mk[0] = s_str(w, "svc");
			mk[1] = s_str(w, "svc2");
			mv[0] = mod;
			mv[1] = mod2;
			w->modules = g_dict(w, 2, mk, mv, 2, true);
		}
	}
	interp = fh_alloc(&w->h, 16384); /* zeroed: no thread states */
	fh_w64(&w->h, interp + l->interp_modules, w->modules);
	w->t.interp_addr = interp;
}

static struct refs_chain *one(struct world *w, uint64_t addr, const struct refs_opts *o, struct refs_result **res)
{
	int err = refs__run(&w->t, &w->h.r, o, NULL, addr, res);

	assert_int_equal(err, 0);
	assert_int_equal((*res)->nchains, 1);
	return &(*res)->chains[0];
}

static void text_is(const struct refs_chain *c, const char *want_prefix)
{
	struct strbuf sb;

	sb_init(&sb);
	refs__chain_text(c, &sb);
	print_message("  %s\n", sb.buf);
	assert_true(!strncmp(sb.buf, want_prefix, strlen(want_prefix)));
	sb_free(&sb);
}

static void test_every_kind_every_layout(void **state)
{
	size_t m;

	(void)state;
	for (m = 0; m < NMINORS; m++) {
		struct world w;
		struct refs_result *res = NULL;
		struct refs_chain *c;
		char want[256];

		print_message("3.%d\n", minors[m]);
		world_init(&w, minors[m]);

		c = one(&w, w.l_item, NULL, &res);
		assert_int_equal(c->status, REFS_FOUND);
		assert_int_equal(c->root, REFS_ROOT_MODULE);
		assert_string_equal(c->module, "svc");
		assert_int_equal(c->nlinks, 2);
		assert_int_equal(c->links[1].edge, REFS_EDGE_ITEM);
		assert_string_equal(c->links[1].key, "k1");
		snprintf(want, sizeof(want), "sys.modules['svc'].__dict__['item'] → dict['k1'] → svc.Leaf @0x%llx",
			 (unsigned long long)w.l_item);
		text_is(c, want);
		assert_true(res->st.objects > 40);
		assert_int_equal(res->st.changed_objects, 0);
		refs__free(res);

		text_is(one(&w, w.l_tuple, NULL, &res), "sys.modules['svc'].__dict__['lst'] → list[1] → tuple[0] → svc.Leaf");
		refs__free(res);
		text_is(one(&w, w.l_set, NULL, &res), "sys.modules['svc'].__dict__['st'] → set{…} → svc.Leaf");
		refs__free(res);
		text_is(one(&w, w.l_deque, NULL, &res), "sys.modules['svc'].__dict__['dq'] → collections.deque[69] → svc.Leaf");
		refs__free(res);
		text_is(one(&w, w.l_closure, NULL, &res),
			"sys.modules['svc'].__dict__['fn'] (function).__closure__ → tuple[0] (cell).cell_contents → svc.Leaf");
		refs__free(res);
		text_is(one(&w, w.l_method, NULL, &res), "sys.modules['svc'].__dict__['m'] (method).__self__ → svc.Leaf");
		refs__free(res);
		c = one(&w, w.l_lru, NULL, &res);
		text_is(c, "sys.modules['svc'].__dict__['Cls'] → svc.Cls.render (functools._lru_cache_wrapper).cache → "
			   "dict (a key) → tuple[0] → svc.Leaf");
		assert_int_equal(c->links[1].edge, REFS_EDGE_ATTR); /* tp_dict collapsed into the class */
		assert_string_equal(c->links[1].from.name, "svc.Cls");
		refs__free(res);
		c = one(&w, w.l_garbage, NULL, &res);
		assert_int_equal(c->root, REFS_ROOT_GARBAGE);
		text_is(c, "gc.garbage[0] → svc.Leaf");
		refs__free(res);
		text_is(one(&w, w.l_attr, NULL, &res), "sys.modules['svc'].__dict__['app'] → svc.App.conn → svc.Leaf");
		refs__free(res);
		text_is(one(&w, w.l_slot, NULL, &res), "sys.modules['svc2'].__dict__['srv'] → svc.Srv.peer → svc.Leaf");
		refs__free(res);
		/* a cycle: the search ends, through the shortest way in */
		text_is(one(&w, w.l_cycle, NULL, &res), "sys.modules['svc2'].__dict__['cyc'] → list[0] → list[1] → svc.Leaf");
		refs__free(res);
		/* opaque holder: named, never walked through */
		c = one(&w, w.l_opaque, NULL, &res);
		assert_int_equal(c->status, REFS_OPAQUE);
		assert_int_equal(c->root, REFS_ROOT_OPAQUE);
		assert_non_null(strstr(c->why, "C object of type _thread.RLock"));
		assert_int_equal(c->nlinks, 1);
		assert_int_equal(c->links[0].edge, REFS_EDGE_OPAQUE);
		assert_int_equal(c->links[0].index, 24);
		text_is(c, "held by a C object of type _thread.RLock whose references pyleak cannot read: "
			   "(_thread.RLock) @0x");
		refs__free(res);
		text_is(one(&w, w.l_cm, NULL, &res), "sys.modules['svc2'].__dict__['cm'] (classmethod).__func__ → svc.Leaf");
		refs__free(res);
		text_is(one(&w, w.l_prop, NULL, &res), "sys.modules['svc2'].__dict__['pr'] (property).fset → svc.Leaf");
		refs__free(res);
		text_is(one(&w, w.l_partial, NULL, &res),
			"sys.modules['svc2'].__dict__['pt'] (functools.partial).args → tuple[0] → svc.Leaf");
		refs__free(res);
		c = one(&w, w.l_frozen, NULL, &res);
		text_is(c, "sys.modules['svc2'].__dict__['frz'] → list[0] → svc.Leaf");
		assert_int_equal(res->st.permanent, 1);
		refs__free(res);
		c = one(&w, w.l_orphan, NULL, &res);
		assert_int_equal(c->status, REFS_FOUND);
		assert_int_equal(c->root, REFS_ROOT_CLASS);
		text_is(c, "class svc.Orphan.cache → svc.Leaf");
		refs__free(res);
		/* a root itself */
		c = one(&w, w.svc_dict, NULL, &res);
		assert_int_equal(c->status, REFS_FOUND);
		assert_int_equal(c->nlinks, 0);
		snprintf(want, sizeof(want), "sys.modules['svc'].__dict__ @0x%llx (a root)", (unsigned long long)w.svc_dict);
		text_is(c, want);
		refs__free(res);
		/* nothing holds it */
		c = one(&w, w.l_alone, NULL, &res);
		assert_int_equal(c->status, REFS_NOT_FOUND);
		assert_int_equal(c->nlinks, 0);
		refs__free(res);
		fh_free(&w.h);
	}
}

static void test_type_query_samples_newest(void **state)
{
	struct world w;
	struct refs_result *res = NULL;
	struct refs_opts o = { .max_chains = 3 };
	int i;

	(void)state;
	world_init(&w, 12);
	assert_int_equal(refs__run(&w.t, &w.h.r, &o, "svc.Leaf", 0, &res), 0);
	assert_int_equal(res->st.instances, 19);
	assert_int_equal(res->nchains, 3);
	/* the leaves all live in generation 0: the newest is the last one made (l_alone) */
	assert_int_equal(res->chains[0].target.addr, w.l_alone);
	for (i = 0; i < res->nchains; i++)
		assert_string_equal(res->chains[i].target.type, "svc.Leaf");
	refs__free(res);
	assert_int_equal(refs__run(&w.t, &w.h.r, &o, "svc.NoSuch", 0, &res), -ENOENT);
	assert_null(res);
	/* not an object: misaligned, unmapped, or no type at +8 */
	assert_int_equal(refs__run(&w.t, &w.h.r, &o, NULL, w.l_item + 4, &res), -EINVAL);
	assert_int_equal(refs__run(&w.t, &w.h.r, &o, NULL, 0x7f0000000000ull, &res), -EINVAL);
	assert_int_equal(refs__run(&w.t, &w.h.r, &o, NULL, w.gens, &res), -EINVAL);
	fh_free(&w.h);
}

static void test_limits(void **state)
{
	struct world w;
	struct refs_result *res = NULL;
	struct refs_opts o = { 0 };
	struct refs_chain *c;

	(void)state;
	world_init(&w, 11);
	/* deep = [[[[[leaf]]]]]: 6 links from the module dict */
	o.max_depth = 6;
	c = one(&w, w.l_deep, &o, &res);
	assert_int_equal(c->status, REFS_FOUND);
	assert_int_equal(c->nlinks, 6);
	refs__free(res);
	o.max_depth = 5;
	c = one(&w, w.l_deep, &o, &res);
	assert_int_equal(c->status, REFS_NOT_FOUND);
	refs__free(res);
	/* a snapshot cut at 20 objects: flagged, and no wrong chain */
	o.max_depth = 0;
	o.max_nodes = 20;
	assert_int_equal(refs__run(&w.t, &w.h.r, &o, "svc.Leaf", 0, &res), 0);
	assert_true(res->st.truncated);
	assert_true(res->st.objects <= 20);
	refs__free(res);
	/* edges per object: the list's second item is beyond the limit */
	o.max_nodes = 0;
	o.max_edges_per_object = 1;
	c = one(&w, w.l_tuple, &o, &res);
	assert_int_equal(c->status, REFS_NOT_FOUND);
	refs__free(res);
	fh_free(&w.h);
}

/* ---------------------------------------------------------------- changing under the reader */

/*
 * A backend that changes the heap at the first read that matches: the snapshot's page reads are
 * 4 KiB aligned, the census reads 16 KiB chunks, the final re-check reads exact objects.
 */
struct mutating {
	struct remote_mem mem;
	struct fakeheap *h;
	uint64_t when_addr;
	size_t when_len_below; /* only reads shorter than this (0: any) */
	bool page_reads;       /* or: the first 4 KiB page read (the referents pass) */
	uint64_t at, value;
	int skip; /* matching reads to let through first */
	bool done;
};

static int mutating_read(struct remote *r, uint64_t addr, void *buf, size_t len)
{
	struct mutating *m = r->ctx;

	if (!m->done && ((m->page_reads && len == 4096) ||
			 (!m->page_reads && addr == m->when_addr && (!m->when_len_below || len < m->when_len_below))) &&
	    m->skip-- <= 0) {
		m->done = true;
		fh_w64(m->h, m->at, m->value);
	}
	if (addr < m->mem.base || addr - m->mem.base > m->mem.size || len > m->mem.size - (addr - m->mem.base))
		return -EFAULT;
	memcpy(buf, (const char *)m->mem.buf + (addr - m->mem.base), len);
	return 0;
}

static void use_mutating(struct world *w, struct mutating *m)
{
	m->mem = w->h.mem;
	m->h = &w->h;
	w->h.r.read = mutating_read;
	w->h.r.ctx = m;
}

static void test_freed_while_scanning(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < NMINORS; k++) {
		struct world w;
		struct mutating m = { 0 };
		struct refs_result *res = NULL;
		struct refs_chain *c;
		const struct py_layout *l;
		uint64_t arr;

		/* 1. the list's slot is overwritten after the snapshot (re-check reads the item) */
		world_init(&w, minors[k]);
		l = w.h.l;
		use_mutating(&w, &m);
		arr = fh_r64(&w.h, w.lst + l->list_item);
		m.when_addr = arr + 8; /* the re-check's read of ob_item[1] */
		m.when_len_below = 4096;
		m.at = arr + 8;
		m.value = w.l_item;
		c = one(&w, w.l_tuple, NULL, &res);
		assert_true(m.done);
		assert_int_equal(c->status, REFS_LOST);
		assert_non_null(strstr(c->why, "no longer holds"));
		text_is(c, "chain lost: svc.Leaf @0x");
		refs__free(res);
		fh_free(&w.h);

		/* 2. the target is freed and its memory reused by another type before the re-check */
		world_init(&w, minors[k]);
		l = w.h.l;
		memset(&m, 0, sizeof(m));
		use_mutating(&w, &m);
		m.when_addr = w.l_item + l->object_type;
		m.when_len_below = 9;
		m.at = w.l_item + l->object_type;
		m.value = w.list;
		c = one(&w, w.l_item, NULL, &res);
		assert_true(m.done);
		assert_int_equal(c->status, REFS_LOST);
		refs__free(res);
		fh_free(&w.h);

		/* 3. the holder's memory is reused between the GC walk and the referents pass: its
		 * references are not read (the type changed), no chain goes through it */
		world_init(&w, minors[k]);
		l = w.h.l;
		memset(&m, 0, sizeof(m));
		use_mutating(&w, &m);
		m.page_reads = true;
		m.at = w.inner_tuple + l->object_type;
		m.value = w.dict;
		c = one(&w, w.l_tuple, NULL, &res);
		assert_true(m.done);
		assert_int_equal(res->st.changed_objects, 1);
		assert_int_not_equal(c->status, REFS_FOUND);
		refs__free(res);
		fh_free(&w.h);
	}
}

/* A thread blocked in worker() with local `buf` = [leaf]: the thread's frame is the root. */
static void test_thread_frames(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < NMINORS; k++) {
		struct world w;
		struct refs_result *res = NULL;
		struct refs_chain *c;
		const struct py_layout *l;
		uint64_t ts, frame, code, codetype, names, leafv, buf, items[2];
		char want[128];

		world_init(&w, minors[k]);
		l = w.h.l;
		leafv = leaf(&w, 0);
		items[0] = leafv;
		buf = g_list(&w, 2, items, 1);
		codetype = fh_type(&w.h, "code", 0, l->code_size, 0, w.object);
		code = fh_alloc(&w.h, l->code_size + 64);
		fh_w64(&w.h, code + l->object_refcnt, 1);
		fh_w64(&w.h, code + l->object_type, codetype);
		fh_w64(&w.h, code + (l->code_qualname != LAYOUT_NONE ? l->code_qualname : l->code_name), s_str(&w, "worker"));
		fh_w64(&w.h, code + l->code_name, s_str(&w, "worker"));
		fh_w64(&w.h, code + l->code_filename, s_str(&w, "/srv/app.py"));
		fh_w32(&w.h, code + l->code_firstlineno, 12);
		items[0] = s_str(&w, "x");
		items[1] = s_str(&w, "buf");
		names = fh_alloc(&w.h, 64); /* a tuple (untracked here: only its items are read) */
		fh_w64(&w.h, names + l->object_type, w.tuple);
		fh_w64(&w.h, names + l->varobject_size, 2);
		fh_w64(&w.h, names + l->tuple_item, items[0]);
		fh_w64(&w.h, names + l->tuple_item + 8, items[1]);
		if (l->code_nlocalsplus != LAYOUT_NONE) {
			fh_w32(&w.h, code + l->code_nlocalsplus, 2);
			fh_w64(&w.h, code + l->code_localsplusnames, names);
		} else {
			fh_w32(&w.h, code + l->code_nlocals, 2);
			fh_w64(&w.h, code + l->code_varnames, names);
		}
		if (l->frameobj_frame == LAYOUT_NONE) {
			/* <= 3.10: an untracked frame object (running frames are not on the GC lists) */
			uint64_t ftype = fh_type(&w.h, "frame", PY_TPFLAGS_HAVE_GC, l->frame_localsplus, 8, w.object);

			frame = fh_alloc(&w.h, l->frame_localsplus + 64);
			fh_w64(&w.h, frame + l->object_refcnt, 1);
			fh_w64(&w.h, frame + l->object_type, ftype);
		} else {
			frame = fh_alloc(&w.h, l->frame_localsplus + 64); /* in a thread's data stack */
		}
		fh_w64(&w.h, frame + l->frame_code, code);
		fh_w64(&w.h, frame + l->frame_localsplus + 8, buf);
		ts = fh_alloc(&w.h, 512);
		fh_w64(&w.h, ts + l->tstate_thread_id, 0x7f00aa001234ull);
		if (l->cframe_current_frame != LAYOUT_NONE) {
			uint64_t cf = fh_alloc(&w.h, 64);

			fh_w64(&w.h, cf + l->cframe_current_frame, frame);
			fh_w64(&w.h, ts + l->tstate_frame, cf);
		} else {
			fh_w64(&w.h, ts + l->tstate_frame, frame);
		}
		fh_w64(&w.h, w.t.interp_addr + l->interp_threads_head, ts);

		c = one(&w, leafv, NULL, &res);
		assert_int_equal(res->st.frames, 1);
		assert_int_equal(c->status, REFS_FOUND);
		assert_int_equal(c->root, REFS_ROOT_THREAD);
		assert_int_equal(c->thread_id, 0x7f00aa001234ull);
		assert_string_equal(c->function, "worker");
		assert_int_equal(c->line, 12); /* no addr2line: the function's first line */
		assert_int_equal(c->links[0].edge, REFS_EDGE_LOCAL);
		assert_string_equal(c->links[0].key, "buf");
		snprintf(want, sizeof(want), "thread '?' frame worker (app.py:12) local 'buf' → list[0] → svc.Leaf @0x%llx",
			 (unsigned long long)leafv);
		text_is(c, want);
		refs__free(res);
		/* the thread returns from worker() and the frame's memory now runs another function
		 * (no locals) before the re-check: chain lost, not a wrong local */
		{
			struct mutating m = { 0 };
			uint64_t other = fh_alloc(&w.h, l->code_size + 64);

			memcpy(fh_ptr(&w.h, other), fh_ptr(&w.h, code), l->code_size);
			fh_w32(&w.h, other + (l->code_nlocalsplus != LAYOUT_NONE ? l->code_nlocalsplus : l->code_nlocals), 0);
			use_mutating(&w, &m);
			m.when_len_below = 4096;
			if (l->frameobj_frame == LAYOUT_NONE) {
				m.when_addr = frame; /* the re-check reads the frame object's header */
			} else {
				m.when_addr = frame + l->frame_code; /* read once for the snapshot, once again */
				m.skip = 1;
			}
			m.at = frame + l->frame_code;
			m.value = other;
			c = one(&w, leafv, NULL, &res);
			assert_true(m.done);
			assert_int_equal(c->status, REFS_LOST);
			refs__free(res);
		}
		fh_free(&w.h);
	}
}

/* Garbage where pointers and sizes should be: bounded, no crash (run under ASan by make SANITIZE=1). */
static void test_corrupt_heap(void **state)
{
	unsigned seed;

	(void)state;
	for (seed = 1; seed <= 60; seed++) {
		struct world w;
		struct refs_result *res = NULL;
		struct refs_opts o = { .max_chains = 4, .timeout_s = 5 };
		uint64_t span, a, v;
		unsigned r = seed * 2654435761u;
		int k, err;

		world_init(&w, minors[seed % NMINORS]);
		span = w.h.top - (FH_BASE + 4096);
		for (k = 0; k < 400; k++) {
			r = r * 1103515245u + 12345u;
			a = (FH_BASE + 4096 + (uint64_t)(r >> 4) % span) & ~7ull;
			r = r * 1103515245u + 12345u;
			switch (r % 4) {
			case 0: v = FH_BASE + (r >> 3) % FH_SIZE; break;		   /* a pointer into the heap */
			case 1: v = (uint64_t)r << 20; break;				   /* huge */
			case 2: v = (uint64_t)-(int64_t)(r % 1000); break;		   /* negative */
			default: v = fh_r64(&w.h, FH_BASE + 4096 + ((r >> 5) % span & ~7ull)); /* a real word */
			}
			fh_w64(&w.h, a, v);
		}
		err = refs__run(&w.t, &w.h.r, &o, "svc.Leaf", 0, &res);
		assert_true(err == 0 || err == -ENOENT || err == -E2BIG || err == -EPROTO || err == -EFAULT ||
			    err == -ENOTSUP);
		refs__free(res);
		res = NULL;
		err = refs__run(&w.t, &w.h.r, &o, NULL, w.l_tuple, &res);
		assert_true(err == 0 || err == -EINVAL || err == -EPROTO || err == -EFAULT || err == -ENOTSUP);
		refs__free(res);
		fh_free(&w.h);
	}
}

/* Hostile strings in keys: esc_text's escapes (C0, C1, invalid UTF-8, backslash) plus the quote. */
static void test_text_escapes(void **state)
{
	struct refs_chain c = { 0 };
	struct refs_link links[2] = { 0 };
	struct strbuf sb;

	(void)state;
	c.status = REFS_FOUND;
	c.root = REFS_ROOT_MODULE;
	copy_str(c.module, sizeof(c.module), "m'\x1b[2J");
	links[0].edge = REFS_EDGE_ITEM;
	links[0].key_is_str = true;
	copy_str(links[0].key, sizeof(links[0].key), "a'b\\c\nd\x01\xc2\x9b\xed\xa0\x80\xc3\xa9");
	copy_str(links[0].from.type, sizeof(links[0].from.type), "dict");
	links[1].edge = REFS_EDGE_LOCAL;
	copy_str(links[1].key, sizeof(links[1].key), "x\ty");
	copy_str(links[1].from.type, sizeof(links[1].from.type), "list");
	c.links = links;
	c.nlinks = 2;
	copy_str(c.target.type, sizeof(c.target.type), "T\x7f");
	c.target.addr = 0x10;
	sb_init(&sb);
	refs__chain_text(&c, &sb);
	assert_string_equal(sb.buf, "sys.modules['m\\'\\x1b[2J'].__dict__['a\\'b\\\\c\\nd\\x01\\u009b\\xed\\xa0\\x80\xc3\xa9'] → list "
				    "local 'x\\ty' → "
				    "T\\x7f @0x10");
	sb_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_every_layout),
		cmocka_unit_test(test_type_query_samples_newest),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_freed_while_scanning),
		cmocka_unit_test(test_thread_frames),
		cmocka_unit_test(test_corrupt_heap),
		cmocka_unit_test(test_text_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
