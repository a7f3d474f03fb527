/* SPDX-License-Identifier: BSD-2-Clause */
/* Naming containers by what holds them (module globals, class and instance attributes), read from outside. */
#include "analysis/holders.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/common.h"

/* Py_TPFLAGS_INLINE_VALUES (1 << 2): 3.13+ instances keep their attribute values after the object. */
#define PY_TPFLAGS_INLINE_VALUES (1ul << 2)
/* Split keys never grow past SHARED_KEYS_MAX_SIZE (30) entries (Objects/dictobject.c 3.11-3.13). */
#define SPLIT_MAX_ENTRIES 64
#define CACHE_MAX 512
#define TYPE_SLOTS 8192 /* per-walk type cache (open addressing); full: types are read uncached */
/* Enough of PyTypeObject for tp_flags (168), tp_dict (264) and tp_dictoffset (288) in 3.6-3.14. */
#define TYPE_HDR 296

void holders__default_limits(struct holders_limits *lim)
{
	lim->max_modules = 4096;
	lim->max_module_entries = 20000;
	lim->max_classes = 4096;
	lim->max_instances = 4096;
	lim->max_attr_entries = 1024;
	lim->budget_ms = 100;
	lim->retry_s = 60;
	lim->min_walk_interval_s = 5;
	lim->refresh_s = 300;
}

/* The name is allocated to its length: the cache holds every container a root walk finds (a few
 * hundred per process), and most names are far shorter than HOLDERS_NAME_MAX. */
struct cache_entry {
	uint64_t addr, type_addr;
	char *name; /* NULL: none */
	bool found;
	double checked_at, last_asked;
};

struct holders {
	struct holders_limits lim;
	struct cache_entry *cache;
	int ncache;
	double last_walk;
	bool walked;
	struct holders_stats st;
};

struct holders *holders__new(const struct holders_limits *lim)
{
	struct holders *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->cache = calloc(CACHE_MAX, sizeof(*h->cache));
	if (!h->cache) {
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	if (lim)
		h->lim = *lim;
	else
		holders__default_limits(&h->lim);
	return h;
}

void holders__free(struct holders *h)
{
	int i;

	if (!h)
		return;
	for (i = 0; i < h->ncache; i++)
		free(h->cache[i].name);
	free(h->cache);
	free(h);
}

const struct holders_stats *holders__stats(const struct holders *h)
{
	return &h->st;
}

/* ---------------------------------------------------------------- one walk */

struct wtype {
	uint64_t addr;
	bool ok, is_type_of_types, heap;
	uint64_t flags, dict, cached_keys;
	int64_t basicsize, itemsize, dictoffset;
};

struct wmod {
	uint64_t key, dict;
};

struct winst {
	uint64_t obj, key;
	int mod;
	const struct wtype *type;
};

struct kv {
	uint64_t key, value;
};

/* Ranks: a lower one names better (gc.garbage, module global, class attribute, instance attribute). */
enum { RANK_GARBAGE = 0, RANK_GLOBAL, RANK_CLASS, RANK_INSTANCE, RANK_NONE };

struct walk {
	struct holders *h;
	const struct py_target *t;
	const struct py_layout *l;
	struct remote *r;
	struct pyobj_types *types;
	/* asked addresses, sorted, with the best name found so far */
	uint64_t *want;
	int nwant;
	int *rank;
	char (*name)[HOLDERS_NAME_MAX];
	struct wtype *tcache;
	struct wmod *mods;
	int nmods;
	uint64_t *classes;
	int nclasses;
	struct winst *insts;
	int ninsts;
	struct kv *kv;
	long nkv, kvcap;
	double deadline;
	/* holders__containers: every container met on the way */
	struct holders_container *found;
	int *found_rank;
	int nfound, maxfound;
	int64_t min_len;
};

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool out_of_time(struct walk *w)
{
	if (mono_ms() < w->deadline)
		return false;
	w->h->st.timed_out = true;
	return true;
}

static int want_index(const struct walk *w, uint64_t v)
{
	int lo = 0, hi = w->nwant - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (w->want[mid] == v)
			return mid;
		if (w->want[mid] < v)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* Type facts for classification, read once per walk (one read; two for heap types). */
static const struct wtype *wtype_get(struct walk *w, uint64_t addr)
{
	const struct py_layout *l = w->l;
	unsigned char hdr[TYPE_HDR];
	struct wtype *e = NULL;
	uint64_t meta;
	size_t i, slot = (size_t)((addr >> 4) * 0x9E3779B97F4A7C15ull) % TYPE_SLOTS;

	if (!remote__valid_ptr(addr, 8))
		return NULL;
	for (i = 0; i < 64; i++) {
		struct wtype *c = &w->tcache[(slot + i) % TYPE_SLOTS];

		if (c->addr == addr)
			return c->ok ? c : NULL;
		if (!c->addr) {
			e = c;
			break;
		}
	}
	if (!e)
		return NULL; /* table crowded (thousands of types): the rest stay unclassified */
	memset(e, 0, sizeof(*e));
	e->addr = addr;
	if (remote__read(w->r, addr, hdr, sizeof(hdr)))
		return NULL;
	meta = rd64(hdr + l->object_type);
	e->flags = rd64(hdr + l->type_flags);
	e->dict = rd64(hdr + l->type_dict);
	memcpy(&e->basicsize, hdr + l->type_basicsize, 8);
	memcpy(&e->itemsize, hdr + l->type_itemsize, 8);
	if (l->type_dictoffset != LAYOUT_NONE && l->type_dictoffset + 8 <= TYPE_HDR)
		memcpy(&e->dictoffset, hdr + l->type_dictoffset, 8);
	if (!remote__valid_ptr(meta, 8) || e->basicsize < 16 || e->basicsize > (1 << 20) || e->itemsize < 0 ||
	    e->itemsize > (1 << 16))
		return NULL;
	e->heap = e->flags & PY_TPFLAGS_HEAPTYPE;
	/* A type's own flags say whether its instances are types (type and every metaclass). */
	e->is_type_of_types = e->flags & PY_TPFLAGS_TYPE_SUBCLASS;
	if (e->heap && l->heaptype_cached_keys != LAYOUT_NONE)
		remote__read_u64(w->r, addr + l->heaptype_cached_keys, &e->cached_keys);
	e->ok = true;
	return e;
}

static void set_name(struct walk *w, int idx, int rank, const char *a, const char *b, const char *c)
{
	int n;

	if (idx < 0 || rank >= w->rank[idx])
		return;
	if (c)
		n = snprintf(w->name[idx], HOLDERS_NAME_MAX, "%s.%s.%s", a, b, c);
	else if (b)
		n = snprintf(w->name[idx], HOLDERS_NAME_MAX, "%s.%s", a, b);
	else
		n = snprintf(w->name[idx], HOLDERS_NAME_MAX, "%s", a);
	if (n < 0 || n >= HOLDERS_NAME_MAX) {
		/* A truncated name would be a wrong name: keep it only visibly cut. */
		if (n >= HOLDERS_NAME_MAX)
			memcpy(w->name[idx] + HOLDERS_NAME_MAX - 4, "...", 4);
		else
			w->name[idx][0] = 0;
	}
	w->rank[idx] = rank;
}

static void key_str(struct walk *w, uint64_t key, char *buf, size_t size)
{
	int err = pyobj__read_str(w->l, w->r, key, buf, size);

	if (err && err != -ENAMETOOLONG)
		copy_str(buf, size, "?");
}

static int kv_cb(uint64_t key, uint64_t value, void *arg)
{
	struct walk *w = arg;

	if (w->nkv >= w->kvcap)
		return 1;
	w->kv[w->nkv].key = key;
	w->kv[w->nkv].value = value;
	w->nkv++;
	return 0;
}

/* Items of a dict object into w->kv (at most max). */
static int read_dict(struct walk *w, uint64_t dict, long max)
{
	int err;

	w->nkv = 0;
	if (!remote__valid_ptr(dict, 8))
		return -EFAULT;
	if (max > w->kvcap)
		max = w->kvcap;
	err = pyobj__dict_iter(w->l, w->r, dict, max, kv_cb, w);
	if (err > 0)
		err = 0;
	w->h->st.entries += w->nkv;
	return err;
}

/*
 * Items of a split table: the type's shared keys (ht_cached_keys, PyDictUnicodeEntry {key,
 * value} entries of 3.11+) and the instance's values array, indexed like the entries.
 */
static int read_split(struct walk *w, uint64_t keys, uint64_t values)
{
	const struct py_layout *l = w->l;
	unsigned char khdr[64], ebuf[SPLIT_MAX_ENTRIES * 16];
	uint64_t vals[SPLIT_MAX_ENTRIES], entries;
	int64_t nentries;
	unsigned log2_size, log2_index_bytes;
	int i, err;

	w->nkv = 0;
	if (l->dictkeys_log2_size == LAYOUT_NONE || !remote__valid_ptr(keys, 8) || !remote__valid_ptr(values, 8) ||
	    l->dictkeys_header_size > (int)sizeof(khdr))
		return -EPROTO;
	err = remote__read(w->r, keys, khdr, l->dictkeys_header_size);
	if (err)
		return err;
	log2_size = khdr[l->dictkeys_log2_size];
	log2_index_bytes = khdr[l->dictkeys_log2_index_bytes];
	memcpy(&nentries, khdr + l->dictkeys_nentries, 8);
	if (log2_size > 10 || log2_index_bytes > 13 || nentries < 0 || nentries > (1ll << log2_size))
		return -EPROTO;
	if (nentries > SPLIT_MAX_ENTRIES)
		nentries = SPLIT_MAX_ENTRIES;
	if (nentries > w->kvcap)
		nentries = w->kvcap;
	if (!nentries)
		return 0;
	entries = keys + l->dictkeys_indices + (1ull << log2_index_bytes);
	err = remote__read(w->r, entries, ebuf, nentries * 16);
	if (!err)
		err = remote__read(w->r, values, vals, nentries * 8);
	if (err)
		return err;
	for (i = 0; i < nentries; i++) {
		uint64_t k = rd64(ebuf + i * 16), v = vals[i];

		if (k && v) {
			w->kv[w->nkv].key = k;
			w->kv[w->nkv].value = v;
			w->nkv++;
		}
	}
	w->h->st.entries += w->nkv;
	return 0;
}

/*
 * The attributes of an instance whose type is a heap type, into w->kv.
 * <= 3.10: the dict pointer at tp_dictoffset (negative: from the end of a variable-size object).
 * 3.11 (Py_TPFLAGS_MANAGED_DICT): dict pointer at obj-24, else values pointer at obj-32 with the
 *   type's shared keys (v3.11.7:Include/internal/pycore_object.h:253-263).
 * 3.12: PyDictOrValues at obj-24, a values pointer stored as values-1 (low bit set) or a dict
 *   (v3.12.1:Include/internal/pycore_object.h:373-397).
 * 3.13+: managed dict at obj-24 when materialised, else (Py_TPFLAGS_INLINE_VALUES) values inline
 *   right after the object (obj + tp_basicsize) behind {capacity, size, embedded, valid}
 *   (v3.13.0:Include/internal/pycore_object.h:722-742, pycore_dict.h:196-202).
 */
static int read_instance(struct walk *w, uint64_t obj, const struct wtype *tp)
{
	const struct py_layout *l = w->l;
	uint64_t dict = 0, word = 0;
	int err;

	w->nkv = 0;
	if (l->minor >= 11 && (tp->flags & PY_TPFLAGS_MANAGED_DICT)) {
		if (remote__read_u64(w->r, pyobj__managed_dict_at(l, obj), &word))
			return -EFAULT;
		if (l->minor == 12 && (word & 1))
			return read_split(w, tp->cached_keys, word + 1);
		if (word)
			return read_dict(w, word, w->h->lim.max_attr_entries);
		if (l->minor == 11) {
			if (remote__read_u64(w->r, obj - 32, &word) || !word)
				return -ENOENT;
			return read_split(w, tp->cached_keys, word);
		}
		if (l->minor >= 13 && (tp->flags & PY_TPFLAGS_INLINE_VALUES)) {
			unsigned char vh[8];

			if (remote__read(w->r, obj + tp->basicsize, vh, sizeof(vh)) || !vh[3] /* valid */)
				return -ENOENT;
			return read_split(w, tp->cached_keys, obj + tp->basicsize + 8);
		}
		return -ENOENT;
	}
	err = pyobj__dict_at_offset(l, w->r, obj, tp->dictoffset, tp->basicsize, tp->itemsize, &dict);
	if (err)
		return err;
	return read_dict(w, dict, w->h->lim.max_attr_entries);
}

/* ob_type of each value in w->kv, batched (a value that cannot be read gets 0). */
static void read_value_types(struct walk *w, uint64_t *types)
{
	struct remote_iov iov[1024];
	long i, base;

	memset(types, 0, sizeof(*types) * w->nkv);
	for (base = 0; base < w->nkv; base += 1024) {
		int n = 0;

		for (i = base; i < w->nkv && i < base + 1024; i++) {
			if (!remote__valid_ptr(w->kv[i].value, 8))
				continue;
			iov[n].addr = w->kv[i].value + w->l->object_type;
			iov[n].buf = &types[i];
			iov[n].len = 8;
			n++;
		}
		if (n && remote__readv(w->r, iov, n) == -ESRCH)
			return;
	}
}

static bool have_class(const struct walk *w, uint64_t addr)
{
	int i;

	for (i = 0; i < w->nclasses; i++)
		if (w->classes[i] == addr)
			return true;
	return false;
}

/*
 * holders__containers: measure a value met under a name, if it is a container (its type through
 * the caller's cache, its len from one header read, tracked from its GC head). The best-ranked
 * name wins when one container is held in several places.
 */
/* Is a value of this type a container worth measuring? Through the type cache: no reads mostly. */
static const struct pyobj_type *container_type(struct walk *w, uint64_t type)
{
	const struct pyobj_type *pt = NULL;

	if (!w->found || !type || !w->types)
		return NULL;
	if (pyobj_types__get(w->types, w->r, type, &pt) || !pt)
		return NULL;
	if (pt->kind != PYOBJ_DICT && pt->kind != PYOBJ_LIST && pt->kind != PYOBJ_SET && pt->kind != PYOBJ_DEQUE &&
	    pt->kind != PYOBJ_BYTEARRAY)
		return NULL;
	return pt;
}

static void offer_container(struct walk *w, uint64_t v, const struct pyobj_type *pt, int rank, const char *a,
			    const char *b, const char *c)
{
	const struct py_layout *l = w->l;
	struct holders_container *hc;
	unsigned char hdr[PYOBJ_HEADER_COPY]; /* what pyobj__len_from_header reads: 48 B on free-threaded */
	uint64_t gc_next = 0, type = pt->addr;
	int64_t len;
	int i, slot = -1;

	if (!remote__valid_ptr(v, 8))
		return;
	for (i = 0; i < w->nfound; i++)
		if (w->found[i].addr == v) {
			if (rank >= w->found_rank[i])
				return;
			slot = i;
			break;
		}
	if (slot < 0) {
		if (remote__read_prefix(w->r, v, hdr, sizeof(hdr), 16))
			return;
		len = pyobj__len_from_header(l, hdr, pt->kind);
		if (len < w->min_len)
			return;
		if (w->nfound < w->maxfound) {
			slot = w->nfound++;
		} else {
			/* full: replace the shortest when this one is longer */
			int s = 0;

			for (i = 1; i < w->nfound; i++)
				if (w->found[i].len < w->found[s].len)
					s = i;
			if (w->found[s].len >= len)
				return;
			slot = s;
		}
		hc = &w->found[slot];
		memset(hc, 0, sizeof(*hc));
		hc->addr = v;
		hc->type_addr = type;
		hc->kind = pt->kind;
		hc->len = len;
		copy_str(hc->type, sizeof(hc->type), pt->name);
		if ((pt->flags & PY_TPFLAGS_HAVE_GC) && l->gc_head_size > 0 &&
		    !remote__read_u64(w->r, v - l->gc_head_size + l->gc_head_next, &gc_next))
			hc->tracked = gc_next != 0;
	}
	hc = &w->found[slot];
	w->found_rank[slot] = rank;
	if (c)
		i = snprintf(hc->name, sizeof(hc->name), "%s.%s.%s", a, b, c);
	else
		i = snprintf(hc->name, sizeof(hc->name), "%s.%s", a, b);
	if (i >= (int)sizeof(hc->name))
		memcpy(hc->name + sizeof(hc->name) - 4, "...", 4);
}

/* Pass 1 over one module dict: name globals; collect classes and instances for passes 2 and 3. */
static void scan_module(struct walk *w, int mi, uint64_t *vtypes)
{
	char mod[HOLDERS_NAME_MAX], var[HOLDERS_NAME_MAX];
	long i;

	if (read_dict(w, w->mods[mi].dict, w->h->lim.max_module_entries))
		return;
	if (w->nkv >= w->h->lim.max_module_entries)
		w->h->st.truncated = true;
	read_value_types(w, vtypes);
	mod[0] = 0;
	for (i = 0; i < w->nkv; i++) {
		uint64_t v = w->kv[i].value;
		int idx = want_index(w, v);
		const struct wtype *vt;

		if (idx >= 0 && w->rank[idx] > RANK_GLOBAL) {
			if (!mod[0])
				key_str(w, w->mods[mi].key, mod, sizeof(mod));
			key_str(w, w->kv[i].key, var, sizeof(var));
			set_name(w, idx, RANK_GLOBAL, mod, var, NULL);
		}
		if (w->found && vtypes[i]) {
			const struct pyobj_type *ct = container_type(w, vtypes[i]);

			if (ct) {
				if (!mod[0])
					key_str(w, w->mods[mi].key, mod, sizeof(mod));
				key_str(w, w->kv[i].key, var, sizeof(var));
				offer_container(w, v, ct, RANK_GLOBAL, mod, var, NULL);
			}
		}
		vt = vtypes[i] ? wtype_get(w, vtypes[i]) : NULL;
		if (!vt)
			continue;
		if (vt->is_type_of_types) {
			const struct wtype *cls = wtype_get(w, v);

			if (!cls || !cls->heap || !cls->dict || have_class(w, v))
				continue;
			if (w->nclasses >= w->h->lim.max_classes) {
				w->h->st.truncated = true;
				continue;
			}
			w->classes[w->nclasses++] = v;
		} else if (vt->heap && ((vt->flags & PY_TPFLAGS_MANAGED_DICT) || vt->dictoffset)) {
			if (w->ninsts >= w->h->lim.max_instances) {
				w->h->st.truncated = true;
				continue;
			}
			w->insts[w->ninsts].obj = v;
			w->insts[w->ninsts].key = w->kv[i].key;
			w->insts[w->ninsts].mod = mi;
			w->insts[w->ninsts].type = vt;
			w->ninsts++;
		}
	}
}

static int read_modules(struct walk *w)
{
	const struct py_layout *l = w->l;
	uint64_t modules = 0, *mtypes = NULL, module_type = 0, not_module[16];
	char name[16];
	int nnot = 0;
	long i;
	int err, main_at = -1;

	if (!w->t->interp_addr || l->interp_modules == LAYOUT_NONE)
		return -ENOTSUP;
	err = remote__read_u64(w->r, w->t->interp_addr + l->interp_modules, &modules);
	if (err)
		return err;
	err = read_dict(w, modules, w->h->lim.max_modules);
	if (err)
		return err;
	if (w->nkv >= w->h->lim.max_modules)
		w->h->st.truncated = true;
	mtypes = calloc(w->nkv ? w->nkv : 1, sizeof(*mtypes));
	if (!mtypes)
		return -ENOMEM;
	read_value_types(w, mtypes);
	for (i = 0; i < w->nkv; i++) {
		uint64_t dict = 0;
		char tname[16];

		if (!remote__valid_ptr(mtypes[i], 8))
			continue;
		/* The module type is static, tp_name "module"; subclasses (lazy loaders) are skipped. */
		if (mtypes[i] != module_type) {
			uint64_t np = 0;
			int m;

			for (m = 0; m < nnot; m++)
				if (not_module[m] == mtypes[i])
					break;
			if (m < nnot)
				continue;
			if (remote__read_u64(w->r, mtypes[i] + l->type_name, &np) ||
			    remote__read_cstr(w->r, np, tname, sizeof(tname)) || strcmp(tname, "module")) {
				if (nnot < 16)
					not_module[nnot++] = mtypes[i];
				continue;
			}
			module_type = mtypes[i];
		}
		if (remote__read_u64(w->r, w->kv[i].value + l->module_dict, &dict) || !remote__valid_ptr(dict, 8))
			continue;
		w->mods[w->nmods].key = w->kv[i].key;
		w->mods[w->nmods].dict = dict;
		/* A module's own namespace is among the largest dicts of every process: say whose. */
		if (want_index(w, dict) >= 0) {
			char mod[HOLDERS_NAME_MAX];

			key_str(w, w->kv[i].key, mod, sizeof(mod));
			set_name(w, want_index(w, dict), RANK_GLOBAL, mod, "__dict__", NULL);
		}
		if (main_at < 0 && pyobj__read_str(l, w->r, w->kv[i].key, name, sizeof(name)) == 0 &&
		    !strcmp(name, "__main__"))
			main_at = w->nmods;
		w->nmods++;
	}
	free(mtypes);
	/* __main__ first: the script's own globals are the names its author knows. */
	if (main_at > 0) {
		struct wmod m = w->mods[main_at];

		memmove(&w->mods[1], &w->mods[0], sizeof(m) * main_at);
		w->mods[0] = m;
	}
	return 0;
}

/* DESIGN.md naming of a class: __module__ + "." + qualname (through the caller's type cache). */
static void class_name(struct walk *w, uint64_t addr, char *buf, size_t size)
{
	const struct pyobj_type *pt;
	struct pyobj_type one;

	if (w->types && pyobj_types__get(w->types, w->r, addr, &pt) == 0)
		copy_str(buf, size, pt->name);
	else if (pyobj__read_type(w->l, w->r, addr, &one) == 0)
		copy_str(buf, size, one.name);
	else
		copy_str(buf, size, "?");
}

static int walk(struct holders *h, const struct py_target *t, struct remote *r, struct pyobj_types *types,
		struct walk *w)
{
	const struct py_layout *l = t->layout;
	uint64_t *vtypes = NULL, garbage = 0;
	char cls[PYOBJ_NAME_MAX], attr[HOLDERS_NAME_MAX], mod[HOLDERS_NAME_MAX], var[HOLDERS_NAME_MAX];
	int i, err = 0;
	long k;

	w->h = h, w->t = t, w->l = l, w->r = r, w->types = types;
	w->kvcap = h->lim.max_module_entries > h->lim.max_modules ? h->lim.max_module_entries : h->lim.max_modules;
	if (w->kvcap < h->lim.max_attr_entries)
		w->kvcap = h->lim.max_attr_entries;
	w->kv = calloc(w->kvcap, sizeof(*w->kv));
	vtypes = calloc(w->kvcap, sizeof(*vtypes));
	w->tcache = calloc(TYPE_SLOTS, sizeof(*w->tcache));
	w->mods = calloc(h->lim.max_modules > 0 ? h->lim.max_modules : 1, sizeof(*w->mods));
	w->classes = calloc(h->lim.max_classes > 0 ? h->lim.max_classes : 1, sizeof(*w->classes));
	w->insts = calloc(h->lim.max_instances > 0 ? h->lim.max_instances : 1, sizeof(*w->insts));
	if (!w->kv || !vtypes || !w->tcache || !w->mods || !w->classes || !w->insts) {
		err = -ENOMEM;
		goto cleanup;
	}

	/* gc.garbage is a list the gc module holds: name it for what it is. */
	if (t->gc_garbage_addr && remote__read_u64(r, t->gc_garbage_addr, &garbage) == 0 && garbage)
		set_name(w, want_index(w, garbage), RANK_GARBAGE, "gc.garbage", NULL, NULL);

	err = read_modules(w);
	if (err)
		goto cleanup;
	for (i = 0; i < w->nmods && !out_of_time(w); i++)
		scan_module(w, i, vtypes);
	h->st.modules = w->nmods;

	for (i = 0; i < w->nclasses && !out_of_time(w); i++) {
		const struct wtype *ct = wtype_get(w, w->classes[i]);
		bool named = false;

		if (!ct)
			continue;
		if (want_index(w, ct->dict) >= 0 && w->rank[want_index(w, ct->dict)] > RANK_CLASS) {
			class_name(w, w->classes[i], cls, sizeof(cls));
			set_name(w, want_index(w, ct->dict), RANK_CLASS, cls, "__dict__", NULL);
		}
		if (read_dict(w, ct->dict, h->lim.max_attr_entries))
			continue;
		if (w->found) {
			read_value_types(w, vtypes);
			for (k = 0; k < w->nkv; k++) {
				const struct pyobj_type *vt = container_type(w, vtypes[k]);

				if (!vt)
					continue;
				if (!named) {
					named = true;
					class_name(w, w->classes[i], cls, sizeof(cls));
				}
				key_str(w, w->kv[k].key, attr, sizeof(attr));
				offer_container(w, w->kv[k].value, vt, RANK_CLASS, cls, attr, NULL);
			}
		}
		for (k = 0; k < w->nkv; k++) {
			int idx = want_index(w, w->kv[k].value);
			if (idx < 0 || w->rank[idx] <= RANK_CLASS)
				continue;
			if (!named) {
				named = true;
				class_name(w, w->classes[i], cls, sizeof(cls));
			}
			key_str(w, w->kv[k].key, attr, sizeof(attr));
			set_name(w, idx, RANK_CLASS, cls, attr, NULL);
		}
	}
	h->st.classes = w->nclasses;

	for (i = 0; i < w->ninsts && !out_of_time(w); i++) {
		struct winst *in = &w->insts[i];

		if (read_instance(w, in->obj, in->type))
			continue;
		mod[0] = 0;
		if (w->found) {
			read_value_types(w, vtypes);
			for (k = 0; k < w->nkv; k++) {
				const struct pyobj_type *vt = container_type(w, vtypes[k]);

				if (!vt)
					continue;
				if (!mod[0]) {
					key_str(w, w->mods[in->mod].key, mod, sizeof(mod));
					key_str(w, in->key, var, sizeof(var));
				}
				key_str(w, w->kv[k].key, attr, sizeof(attr));
				offer_container(w, w->kv[k].value, vt, RANK_INSTANCE, mod, var, attr);
			}
		}
		for (k = 0; k < w->nkv; k++) {
			int idx = want_index(w, w->kv[k].value);

			if (idx < 0 || w->rank[idx] <= RANK_INSTANCE)
				continue;
			if (!mod[0]) {
				key_str(w, w->mods[in->mod].key, mod, sizeof(mod));
				key_str(w, in->key, var, sizeof(var));
			}
			key_str(w, w->kv[k].key, attr, sizeof(attr));
			set_name(w, idx, RANK_INSTANCE, mod, var, attr);
		}
	}
	h->st.instances = w->ninsts;

cleanup:
	free(w->kv);
	free(vtypes);
	free(w->tcache);
	free(w->mods);
	free(w->classes);
	free(w->insts);
	return err;
}

/* ---------------------------------------------------------------- cache */

static struct cache_entry *cache_find(struct holders *h, uint64_t addr, uint64_t type_addr)
{
	int i;

	for (i = 0; i < h->ncache; i++)
		if (h->cache[i].addr == addr && h->cache[i].type_addr == type_addr)
			return &h->cache[i];
	return NULL;
}

static struct cache_entry *cache_put(struct holders *h, uint64_t addr, uint64_t type_addr)
{
	struct cache_entry *e = cache_find(h, addr, type_addr);
	int i, victim = 0;

	if (e)
		return e;
	if (h->ncache < CACHE_MAX) {
		e = &h->cache[h->ncache++];
	} else {
		for (i = 1; i < h->ncache; i++)
			if (h->cache[i].last_asked < h->cache[victim].last_asked)
				victim = i;
		e = &h->cache[victim];
	}
	free(e->name);
	memset(e, 0, sizeof(*e));
	e->addr = addr;
	e->type_addr = type_addr;
	return e;
}

/* found: the name (out of memory leaves the entry unnamed, never a dangling one) */
static void cache_name(struct cache_entry *e, bool found, const char *name)
{
	free(e->name);
	e->name = found && name[0] ? strdup(name) : NULL;
	e->found = e->name != NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static bool needs_walk(const struct holders *h, const struct cache_entry *e, double now)
{
	if (!e)
		return true;
	if (e->found)
		return now - e->checked_at >= h->lim.refresh_s;
	return now - e->checked_at >= h->lim.retry_s;
}

int holders__name(struct holders *h, const struct py_target *t, struct remote *r, struct pyobj_types *types,
		  struct holders_query *q, int n, double now)
{
	struct walk w;
	bool want_walk = false;
	int i, j, named = 0, err = 0;

	if (!h || !t || !t->layout || n < 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct cache_entry *e = cache_find(h, q[i].addr, q[i].type_addr);

		if (needs_walk(h, e, now))
			want_walk = true;
	}
	if (want_walk && (!h->walked || now - h->last_walk >= h->lim.min_walk_interval_s)) {
		double t0 = mono_ms();

		memset(&w, 0, sizeof(w));
		w.want = calloc(n ? n : 1, sizeof(*w.want));
		w.rank = calloc(n ? n : 1, sizeof(*w.rank));
		w.name = calloc(n ? n : 1, sizeof(*w.name));
		if (!w.want || !w.rank || !w.name) {
			err = -ENOMEM;
		} else {
			for (i = 0; i < n; i++)
				w.want[i] = q[i].addr;
			qsort(w.want, n, sizeof(*w.want), cmp_u64);
			for (i = j = 0; i < n; i++)
				if (!j || w.want[j - 1] != w.want[i])
					w.want[j++] = w.want[i];
			w.nwant = j;
			for (i = 0; i < w.nwant; i++)
				w.rank[i] = RANK_NONE;
			h->st.entries = 0;
			h->st.truncated = h->st.timed_out = false;
			h->st.modules = h->st.classes = h->st.instances = 0;
			w.deadline = t0 + h->lim.budget_ms;
			err = walk(h, t, r, types, &w);
			h->walked = true;
			h->last_walk = now;
			h->st.walks++;
			h->st.ms = mono_ms() - t0;
			/* A walk that could not start names nothing: keep old names, retry later. */
			if (!err) {
				for (i = 0; i < n; i++) {
					int idx = want_index(&w, q[i].addr);
					struct cache_entry *e = cache_put(h, q[i].addr, q[i].type_addr);

					e->checked_at = now;
					cache_name(e, idx >= 0 && w.rank[idx] < RANK_NONE, idx >= 0 ? w.name[idx] : "");
				}
			}
		}
		free(w.want);
		free(w.rank);
		free(w.name);
	}
	for (i = 0; i < n; i++) {
		struct cache_entry *e = cache_find(h, q[i].addr, q[i].type_addr);

		q[i].name[0] = 0;
		if (e) {
			e->last_asked = now;
			if (e->found) {
				copy_str(q[i].name, sizeof(q[i].name), e->name);
				named++;
			}
		}
	}
	h->st.named = named;
	h->st.unnamed = n - named;
	return err ? err : named;
}

static int cmp_found(const void *a, const void *b)
{
	const struct holders_container *x = a, *y = b;

	return (x->len < y->len) - (x->len > y->len);
}

int holders__containers(struct holders *h, const struct py_target *t, struct remote *r, struct pyobj_types *types,
			int64_t min_len, struct holders_container *out, int max, double now)
{
	struct walk w;
	double t0;
	int err;

	if (!h || !t || !t->layout || !types || max <= 0)
		return -EINVAL;
	memset(&w, 0, sizeof(w));
	w.want = calloc(1, sizeof(*w.want));
	w.rank = calloc(1, sizeof(*w.rank));
	w.name = calloc(1, sizeof(*w.name));
	w.found_rank = calloc(max, sizeof(*w.found_rank));
	if (!w.want || !w.rank || !w.name || !w.found_rank) {
		err = -ENOMEM;
		goto cleanup;
	}
	w.found = out;
	w.maxfound = max;
	w.min_len = min_len > 0 ? min_len : 1;
	t0 = mono_ms();
	h->st.entries = 0;
	h->st.truncated = h->st.timed_out = false;
	h->st.modules = h->st.classes = h->st.instances = 0;
	w.deadline = t0 + h->lim.budget_ms;
	err = walk(h, t, r, types, &w);
	h->st.walks++;
	h->st.ms = mono_ms() - t0;
	if (!err) {
		int i;

		qsort(out, w.nfound, sizeof(*out), cmp_found);
		/* The names serve holders__name too: a tracked container found here needs no walk. */
		for (i = 0; i < w.nfound; i++) {
			struct cache_entry *e = cache_put(h, out[i].addr, out[i].type_addr);

			e->checked_at = now;
			e->last_asked = now;
			cache_name(e, true, out[i].name);
		}
		err = w.nfound;
	}
cleanup:
	free(w.want);
	free(w.rank);
	free(w.name);
	free(w.found_rank);
	return err;
}
