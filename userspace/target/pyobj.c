/* SPDX-License-Identifier: BSD-2-Clause */
/* Reading Python objects out of another process: type names (cached), str/bytes, lengths, dicts. */
#include "target/pyobj.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define NONE LAYOUT_NONE
#define MIN_BATCH(n) ((n) < 256 ? (n) : 256)

const char *pyobj_kind__name(enum pyobj_kind kind)
{
	static const char *const names[] = {
		[PYOBJ_OTHER] = "other", [PYOBJ_DICT] = "dict",	  [PYOBJ_LIST] = "list",
		[PYOBJ_TUPLE] = "tuple", [PYOBJ_SET] = "set",	  [PYOBJ_DEQUE] = "deque",
		[PYOBJ_STR] = "str",	 [PYOBJ_BYTES] = "bytes", [PYOBJ_INT] = "int",
		[PYOBJ_FLOAT] = "float", [PYOBJ_BYTEARRAY] = "bytearray",
	};
	return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "other";
}

static uint64_t rd64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* ---------------------------------------------------------------- strings */

static void put_utf8(char *buf, size_t size, size_t *o, uint32_t c, bool *trunc)
{
	unsigned char tmp[4];
	size_t n;

	if (c < 0x80) {
		tmp[0] = c;
		n = 1;
	} else if (c < 0x800) {
		tmp[0] = 0xc0 | (c >> 6);
		tmp[1] = 0x80 | (c & 0x3f);
		n = 2;
	} else if (c < 0x10000) {
		tmp[0] = 0xe0 | (c >> 12);
		tmp[1] = 0x80 | ((c >> 6) & 0x3f);
		tmp[2] = 0x80 | (c & 0x3f);
		n = 3;
	} else {
		if (c > 0x10ffff)
			c = 0xfffd;
		tmp[0] = 0xf0 | (c >> 18);
		tmp[1] = 0x80 | ((c >> 12) & 0x3f);
		tmp[2] = 0x80 | ((c >> 6) & 0x3f);
		tmp[3] = 0x80 | (c & 0x3f);
		n = 4;
	}
	if (*o + n > size - 1) {
		*trunc = true;
		return;
	}
	memcpy(buf + *o, tmp, n);
	*o += n;
}

int pyobj__read_str(const struct py_layout *l, struct remote *r, uint64_t addr, char *buf, size_t size)
{
	unsigned char hdr[80];
	unsigned char chunk[1024];
	uint32_t state, kind;
	int64_t length;
	uint64_t data;
	size_t o = 0, want, i;
	bool trunc = false, cut = false;
	int err;

	if (!size)
		return -EINVAL;
	buf[0] = '\0';
	if (!remote__valid_ptr(addr, 8))
		return -EFAULT;
	if (l->unicode_compact_size + 8 > (int)sizeof(hdr))
		return -EPROTO;
	/* PyASCIIObject header (+ the PyCompactUnicodeObject tail or the legacy data pointer). */
	err = remote__read(r, addr, hdr, l->unicode_compact_size + 8);
	if (err)
		return err;
	memcpy(&state, hdr + l->unicode_state, 4);
	memcpy(&length, hdr + l->unicode_length, 8);
	kind = (state >> 2) & 7;
	if (length < 0 || length > (1ll << 40) || (kind != 1 && kind != 2 && kind != 4))
		return -EPROTO;
	if (state & (1u << 5)) /* compact */
		data = addr + ((state & (1u << 6)) ? l->unicode_ascii_size : l->unicode_compact_size);
	else /* legacy string (PyUnicode_FromUnicode and friends, <= 3.11): data.any pointer */
		data = rd64(hdr + l->unicode_compact_size);
	if (!remote__valid_ptr(data, 1))
		return -EPROTO;
	/* Never read more characters than the output could hold (UTF-8 takes >= 1 byte each). */
	want = (size_t)length;
	if (want > size - 1) {
		want = size - 1;
		cut = true;
	}
	for (i = 0; i < want;) {
		size_t n = want - i, j;

		if (n > sizeof(chunk) / kind)
			n = sizeof(chunk) / kind;
		err = remote__read(r, data + i * kind, chunk, n * kind);
		if (err) {
			buf[o] = '\0';
			return err;
		}
		for (j = 0; j < n && !trunc; j++) {
			uint32_t c;

			if (kind == 1) {
				c = chunk[j];
			} else if (kind == 2) {
				uint16_t c16;
				memcpy(&c16, chunk + 2 * j, 2);
				c = c16;
			} else {
				memcpy(&c, chunk + 4 * j, 4);
			}
			put_utf8(buf, size, &o, c, &trunc);
		}
		if (trunc && j < n)
			break;
		i += n;
	}
	buf[o] = '\0';
	return trunc || cut ? -ENAMETOOLONG : 0;
}

int pyobj__read_bytes(const struct py_layout *l, struct remote *r, uint64_t addr, void *buf, size_t size,
		      size_t *len)
{
	int64_t n;
	int err;

	*len = 0;
	if (!remote__valid_ptr(addr, 8))
		return -EFAULT;
	err = remote__read_i64(r, addr + l->varobject_size, &n);
	if (err)
		return err;
	if (n < 0 || n > (1ll << 40))
		return -EPROTO;
	*len = n;
	if ((size_t)n > size) {
		err = size ? remote__read(r, addr + l->bytes_sval, buf, size) : 0;
		return err ? err : -ENAMETOOLONG;
	}
	return n ? remote__read(r, addr + l->bytes_sval, buf, n) : 0;
}

/* ---------------------------------------------------------------- lengths */

int64_t pyobj__len_from_header(const struct py_layout *l, const void *hdr32, enum pyobj_kind kind)
{
	const unsigned char *h = hdr32;
	int64_t v;
	int off;

	switch (kind) {
	case PYOBJ_DICT: off = l->dict_used; break;
	case PYOBJ_SET: off = l->set_used; break;
	case PYOBJ_LIST:
	case PYOBJ_TUPLE:
	case PYOBJ_DEQUE: /* deque is PyObject_VAR_HEAD */
	case PYOBJ_BYTEARRAY: off = l->varobject_size; break;
	default: return -1;
	}
	if (off < 0 || off + 8 > PYOBJ_HEADER_COPY)
		return -1;
	memcpy(&v, h + off, 8);
	return v < 0 || v > (1ll << 40) ? -1 : v;
}

int pyobj__len(const struct py_layout *l, struct remote *r, uint64_t addr, enum pyobj_kind kind, int64_t *len)
{
	unsigned char hdr[PYOBJ_HEADER_COPY];
	int err;

	if (kind != PYOBJ_DICT && kind != PYOBJ_SET && kind != PYOBJ_LIST && kind != PYOBJ_TUPLE &&
	    kind != PYOBJ_DEQUE && kind != PYOBJ_BYTEARRAY)
		return -EINVAL;
	if (!remote__valid_ptr(addr, 8))
		return -EFAULT;
	err = remote__read_prefix(r, addr, hdr, sizeof(hdr), 16);
	if (err)
		return err;
	*len = pyobj__len_from_header(l, hdr, kind);
	return *len < 0 ? -EPROTO : 0;
}

/* ---------------------------------------------------------------- dicts */

/*
 * PyDictKeysObject: <= 3.10 (Objects/dict-common.h) dk_size is a Py_ssize_t and the index width
 * follows from it (DK_IXSIZE: 1/2/4/8 bytes up to 0xff/0xffff/0xffffffff); entries are
 * {hash, key, value}. 3.11+ (Include/internal/pycore_dict.h, bpo-46845) stores log2 sizes and
 * dk_kind: DICT_KEYS_GENERAL (0) keeps 24-byte entries, UNICODE (1) and SPLIT (2) use 16-byte
 * {key, value} PyDictUnicodeEntry. Split tables keep values in ma_values: a plain PyObject**
 * up to 3.10, PyDictValues {values[]} in 3.11/3.12, and in 3.13 struct _dictvalues with four
 * uint8 fields before values[] (gh-107073 inline values), i.e. values at +8.
 */
struct dict_geom {
	uint64_t entries, values;
	int64_t nentries;
	unsigned entry_size, key_off, value_off;
};

static int dict_geometry(const struct py_layout *l, struct remote *r, uint64_t dict, struct dict_geom *g)
{
	unsigned char dhdr[64], khdr[48]; /* free-threaded: ma_values at 56 */
	uint64_t keys;
	int err;

	/* A day-one layout carries no dict offsets (LAYOUT_NONE): no reading then. */
	if (l->dict_keys < 0 || l->dict_keys + 8 > (int)sizeof(dhdr) || l->dict_values < 0 ||
	    l->dict_values + 8 > (int)sizeof(dhdr) || l->dictkeys_header_size <= 0 ||
	    l->dictkeys_header_size > (int)sizeof(khdr) || l->dictkeys_nentries < 0 ||
	    l->dictkeys_nentries + 8 > l->dictkeys_header_size)
		return -ENOTSUP;
	if (!remote__valid_ptr(dict, 8))
		return -EFAULT;
	err = remote__read(r, dict, dhdr, sizeof(dhdr));
	if (err)
		return err;
	keys = rd64(dhdr + l->dict_keys);
	g->values = rd64(dhdr + l->dict_values);
	if (!remote__valid_ptr(keys, 8) || (g->values && !remote__valid_ptr(g->values, 8)))
		return -EPROTO;
	err = remote__read(r, keys, khdr, l->dictkeys_header_size);
	if (err)
		return err;
	memcpy(&g->nentries, khdr + l->dictkeys_nentries, 8);
	if (l->dictkeys_log2_size != NONE) {
		unsigned log2_size = khdr[l->dictkeys_log2_size];
		unsigned log2_index_bytes = khdr[l->dictkeys_log2_index_bytes];
		unsigned kind = khdr[l->dictkeys_kind];

		if (log2_size > 40 || log2_index_bytes > 43 || kind > 2)
			return -EPROTO;
		g->entries = keys + l->dictkeys_indices + (1ull << log2_index_bytes);
		if (kind == 0) {
			g->entry_size = 24, g->key_off = 8, g->value_off = 16;
		} else {
			g->entry_size = 16, g->key_off = 0, g->value_off = 8;
		}
		if (g->nentries < 0 || g->nentries > (1ll << log2_size))
			return -EPROTO;
		if (g->values && l->minor >= 13)
			g->values += 8;
	} else {
		int64_t size;
		unsigned ix;

		memcpy(&size, khdr + l->dictkeys_size, 8);
		if (size < 8 || size > (1ll << 40) || (size & (size - 1)))
			return -EPROTO;
		ix = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffll ? 4 : 8;
		g->entries = keys + l->dictkeys_indices + (uint64_t)size * ix;
		g->entry_size = 24, g->key_off = 8, g->value_off = 16;
		if (g->nentries < 0 || g->nentries > size)
			return -EPROTO;
	}
	return 0;
}

int pyobj__dict_iter(const struct py_layout *l, struct remote *r, uint64_t dict, long max, pyobj_dict_cb cb,
		     void *arg)
{
	unsigned char ebuf[256 * 24];
	uint64_t vbuf[256];
	struct dict_geom g;
	int64_t i, n;
	int err, ret;

	err = dict_geometry(l, r, dict, &g);
	if (err)
		return err;
	n = g.nentries;
	if (n > PYOBJ_DICT_MAX_ENTRIES)
		n = PYOBJ_DICT_MAX_ENTRIES;
	if (max >= 0 && n > max)
		n = max;
	for (i = 0; i < n;) {
		int64_t k, batch = MIN_BATCH(n - i);

		err = remote__read(r, g.entries + i * g.entry_size, ebuf, batch * g.entry_size);
		if (err)
			return err;
		if (g.values) {
			err = remote__read(r, g.values + i * 8, vbuf, batch * 8);
			if (err)
				return err;
		}
		for (k = 0; k < batch; k++) {
			uint64_t key = rd64(ebuf + k * g.entry_size + g.key_off);
			uint64_t value = g.values ? vbuf[k] : rd64(ebuf + k * g.entry_size + g.value_off);

			if (!key || !value) /* deleted entry (or a split slot not set on this instance) */
				continue;
			ret = cb(key, value, arg);
			if (ret)
				return ret;
		}
		i += batch;
	}
	return 0;
}

struct get_str_arg {
	const struct py_layout *l;
	struct remote *r;
	const char *key;
	size_t keylen;
	uint64_t value;
};

static int get_str_cb(uint64_t key, uint64_t value, void *argp)
{
	struct get_str_arg *a = argp;
	char buf[PYOBJ_NAME_MAX];

	if (a->keylen + 2 > sizeof(buf))
		return 0;
	/* buf one byte longer than the key: a longer key reads as truncated and does not match. */
	if (pyobj__read_str(a->l, a->r, key, buf, a->keylen + 2) == 0 && !strcmp(buf, a->key)) {
		a->value = value;
		return 1;
	}
	return 0;
}

int pyobj__dict_get_str(const struct py_layout *l, struct remote *r, uint64_t dict, const char *key,
			uint64_t *value)
{
	struct get_str_arg a = { l, r, key, strlen(key), 0 };
	int ret;

	ret = pyobj__dict_iter(l, r, dict, 4096, get_str_cb, &a);
	if (ret < 0)
		return ret;
	if (ret == 0)
		return -ENOENT;
	*value = a.value;
	return 0;
}

/* ---------------------------------------------------------------- types */

/* Enough of PyTypeObject to cover tp_name ... tp_dict (264 in GIL 3.6-3.15, 280 free-threaded). */
#define TYPE_HDR 304

static const struct {
	const char *name;
	enum pyobj_kind kind;
} builtin_kinds[] = {
	{ "dict", PYOBJ_DICT },	  { "list", PYOBJ_LIST },   { "tuple", PYOBJ_TUPLE },
	{ "set", PYOBJ_SET },	  { "frozenset", PYOBJ_SET }, { "collections.deque", PYOBJ_DEQUE },
	{ "str", PYOBJ_STR },	  { "bytes", PYOBJ_BYTES }, { "int", PYOBJ_INT },
	{ "float", PYOBJ_FLOAT }, { "bytearray", PYOBJ_BYTEARRAY },
};

static enum pyobj_kind kind_of_static(const char *tp_name)
{
	size_t i;

	for (i = 0; i < sizeof(builtin_kinds) / sizeof(builtin_kinds[0]); i++)
		if (!strcmp(builtin_kinds[i].name, tp_name))
			return builtin_kinds[i].kind;
	return PYOBJ_OTHER;
}

static int read_type_hdr(const struct py_layout *l, struct remote *r, uint64_t addr, unsigned char *hdr,
			 uint64_t *flags)
{
	uint64_t meta, meta_flags;
	int err;

	if (!remote__valid_ptr(addr, 8))
		return -EFAULT;
	/* a layout whose fields lie past the copy cannot be read this way */
	if (l->type_dict + 8 > TYPE_HDR || l->type_base + 8 > TYPE_HDR || l->type_flags + 8 > TYPE_HDR ||
	    l->type_name + 8 > TYPE_HDR || l->type_itemsize + 8 > TYPE_HDR)
		return -ENOTSUP;
	err = remote__read(r, addr, hdr, TYPE_HDR);
	if (err)
		return err;
	memcpy(flags, hdr + l->type_flags, 8);
	meta = rd64(hdr + l->object_type);
	/* A type's type is `type` or a metaclass: both carry Py_TPFLAGS_TYPE_SUBCLASS. */
	if (!remote__valid_ptr(meta, 8))
		return -EPROTO;
	err = remote__read_u64(r, meta + l->type_flags, &meta_flags);
	if (err)
		return err == -EFAULT ? -EPROTO : err;
	if (!(meta_flags & PY_TPFLAGS_TYPE_SUBCLASS))
		return -EPROTO;
	return 0;
}

int pyobj__read_type(const struct py_layout *l, struct remote *r, uint64_t addr, struct pyobj_type *out)
{
	unsigned char hdr[TYPE_HDR];
	char tp_name[PYOBJ_NAME_MAX];
	uint64_t base, p, flags;
	int err, depth;

	memset(out, 0, sizeof(*out));
	out->addr = addr;
	err = read_type_hdr(l, r, addr, hdr, &flags);
	if (err)
		return err;
	out->flags = flags;
	memcpy(&out->basicsize, hdr + l->type_basicsize, 8);
	memcpy(&out->itemsize, hdr + l->type_itemsize, 8);
	if (out->basicsize < 16 || out->basicsize > (1 << 24) || out->itemsize < 0 || out->itemsize > 4096)
		return -EPROTO;
	err = remote__read_cstr(r, rd64(hdr + l->type_name), tp_name, sizeof(tp_name));
	if (err && err != -ENAMETOOLONG)
		return err == -EFAULT ? -EPROTO : err;
	out->heap = flags & PY_TPFLAGS_HEAPTYPE;
	/* free-threaded builds have no PyGC_Head (gc_head_size NONE) */
	out->presize = (flags & PY_TPFLAGS_HAVE_GC) && l->gc_head_size > 0 ? (unsigned)l->gc_head_size : 0;
	/* Pre-header words in front of the GC head: 3.11 managed dict (pycore_object.h:222), 3.12+
	 * managed dict or weakref (Py_TPFLAGS_PREHEADER, pycore_object.h:339). */
	if (l->minor == 11 && (flags & PY_TPFLAGS_MANAGED_DICT))
		out->presize += 16;
	else if (l->minor >= 12 && (flags & (PY_TPFLAGS_MANAGED_DICT | PY_TPFLAGS_MANAGED_WEAKREF)))
		out->presize += 16;

	/* Static type: tp_name as written in C; no dot means builtins, printed bare. Also the
	 * fallback for a heap type without a usable __module__ / __qualname__. */
	snprintf(out->name, sizeof(out->name), "%s", tp_name);
	if (out->heap) {
		char module[PYOBJ_NAME_MAX], qual[PYOBJ_NAME_MAX];
		uint64_t dict = rd64(hdr + l->type_dict), mod = 0;

		/* Python classes: the module is only in tp_dict['__module__'] (typeobject.c type_module). */
		if (!remote__read_u64(r, addr + l->heaptype_qualname, &p) &&
		    pyobj__read_str(l, r, p, qual, sizeof(qual)) >= 0 &&
		    !pyobj__dict_get_str(l, r, dict, "__module__", &mod) &&
		    pyobj__read_str(l, r, mod, module, sizeof(module)) >= 0) {
			if (!strcmp(module, "builtins"))
				snprintf(out->name, sizeof(out->name), "%s", qual);
			else if (snprintf(out->name, sizeof(out->name), "%s.%s", module, qual) >=
				 (int)sizeof(out->name))
				memcpy(out->name + sizeof(out->name) - 4, "...", 4);
		}
	}

	/* The builtin layout: the first static type on the tp_base chain that pyleak knows (a heap
	 * class may be called "dict" too, so only static names count). */
	/* C types made with PyType_FromSpec are heap types too (collections.deque from 3.12): their
	 * tp_name is the full dotted spec name, while a Python class's tp_name has no dot. */
	out->kind = !out->heap || strchr(tp_name, '.') ? kind_of_static(tp_name) : PYOBJ_OTHER;
	base = rd64(hdr + l->type_base);
	for (depth = 0; out->kind == PYOBJ_OTHER && base && depth < PYOBJ_BASE_DEPTH; depth++) {
		unsigned char bh[TYPE_HDR];
		uint64_t bflags;

		if (read_type_hdr(l, r, base, bh, &bflags))
			break;
		if (!remote__read_cstr(r, rd64(bh + l->type_name), tp_name, sizeof(tp_name)) &&
		    (!(bflags & PY_TPFLAGS_HEAPTYPE) || strchr(tp_name, '.')))
			out->kind = kind_of_static(tp_name);
		base = rd64(bh + l->type_base);
	}
	return 0;
}

/* ---------------------------------------------------------------- type cache */

struct type_entry {
	struct pyobj_type t;
	int err;
	bool used;
};

struct pyobj_types {
	const struct py_layout *l;
	struct type_entry **slots; /* open addressing, linear probing, keyed by t.addr */
	size_t cap, n;
};

static size_t slot_of(uint64_t addr, size_t cap)
{
	return (size_t)(((addr >> 3) * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

struct pyobj_types *pyobj_types__new(const struct py_layout *l)
{
	struct pyobj_types *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->l = l;
	c->cap = 1024;
	c->slots = calloc(c->cap, sizeof(*c->slots));
	if (!c->slots) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

void pyobj_types__free(struct pyobj_types *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->cap; i++)
		free(c->slots[i]);
	free(c->slots);
	free(c);
}

static struct type_entry **find_slot(const struct pyobj_types *c, uint64_t addr)
{
	size_t i = slot_of(addr, c->cap);

	while (c->slots[i] && c->slots[i]->t.addr != addr)
		i = (i + 1) & (c->cap - 1);
	return &c->slots[i];
}

static int rehash(struct pyobj_types *c, size_t cap, bool drop_unused, int *dropped)
{
	struct type_entry **old = c->slots;
	size_t oldcap = c->cap, i;

	c->slots = calloc(cap, sizeof(*c->slots));
	if (!c->slots) {
		c->slots = old;
		return -ENOMEM;
	}
	c->cap = cap;
	c->n = 0;
	for (i = 0; i < oldcap; i++) {
		struct type_entry *e = old[i];

		if (!e)
			continue;
		if (drop_unused && !e->used) {
			free(e);
			(*dropped)++;
			continue;
		}
		if (drop_unused)
			e->used = false;
		*find_slot(c, e->t.addr) = e;
		c->n++;
	}
	free(old);
	return 0;
}

const struct pyobj_type *pyobj_types__peek(const struct pyobj_types *c, uint64_t addr)
{
	struct type_entry *e = *find_slot(c, addr);

	return e && !e->err ? &e->t : NULL;
}

int pyobj_types__get(struct pyobj_types *c, struct remote *r, uint64_t addr, const struct pyobj_type **out)
{
	struct type_entry **s = find_slot(c, addr), *e = *s;

	if (!e) {
		if ((c->n + 1) * 2 > c->cap) {
			if (rehash(c, c->cap * 2, false, NULL))
				return -ENOMEM;
			s = find_slot(c, addr);
		}
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->err = pyobj__read_type(c->l, r, addr, &e->t);
		e->t.addr = addr;
		*s = e;
		c->n++;
	}
	e->used = true;
	*out = e->err ? NULL : &e->t;
	return e->err;
}

int pyobj_types__add(struct pyobj_types *c, struct remote *r, uint64_t addr)
{
	const struct pyobj_type *t;

	return pyobj_types__get(c, r, addr, &t);
}

int pyobj_types__sweep(struct pyobj_types *c)
{
	int dropped = 0;

	/* An idle process's table is empty at every refresh: no new table to allocate and fill. */
	if (!c->n)
		return 0;
	if (rehash(c, c->cap, true, &dropped))
		return -ENOMEM;
	return dropped;
}

size_t pyobj_types__count(const struct pyobj_types *c)
{
	return c->n;
}

void pyobj_types__foreach(const struct pyobj_types *c, void (*cb)(const struct pyobj_type *t, void *arg),
			  void *arg)
{
	size_t i;

	for (i = 0; i < c->cap; i++)
		if (c->slots[i] && !c->slots[i]->err)
			cb(&c->slots[i]->t, arg);
}

int pyobj__dict_at_offset(const struct py_layout *l, struct remote *r, uint64_t obj, int64_t dictoffset,
			  int64_t basicsize, int64_t itemsize, uint64_t *dict)
{
	uint64_t slot;

	*dict = 0;
	if (dictoffset > 0 && dictoffset < (1 << 20)) {
		slot = obj + (uint64_t)dictoffset;
	} else if (dictoffset < 0 && dictoffset > -(1 << 20)) {
		int64_t n, size;

		if (remote__read_i64(r, obj + l->varobject_size, &n))
			return -EFAULT;
		if (n < 0)
			n = -n;
		if (n > (1ll << 30))
			return -EPROTO;
		size = (basicsize + n * itemsize + 7) & ~7ll;
		slot = obj + (uint64_t)(size + dictoffset);
	} else {
		return -ENOENT;
	}
	if (remote__read_u64(r, slot, dict) || !*dict)
		return -ENOENT;
	return 0;
}
