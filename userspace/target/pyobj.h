/* SPDX-License-Identifier: BSD-2-Clause */
/* Reading Python objects out of another process: type names (cached), str/bytes, lengths, dicts. */
#ifndef PYLEAK_PYOBJ_H
#define PYLEAK_PYOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "target/layout.h"
#include "target/remote.h"

/* Type flags (Include/object.h; same bits 3.6-3.14). */
#define PY_TPFLAGS_MANAGED_WEAKREF (1ul << 3) /* 3.12+ */
#define PY_TPFLAGS_MANAGED_DICT (1ul << 4)    /* 3.11+ */
#define PY_TPFLAGS_HEAPTYPE (1ul << 9)
#define PY_TPFLAGS_HAVE_GC (1ul << 14)
#define PY_TPFLAGS_TYPE_SUBCLASS (1ul << 31)

/* Upper bounds for everything read from a target (they run while we read them). */
#define PYOBJ_NAME_MAX 160	 /* a type name "module.Qual.Name" */
#define PYOBJ_DICT_MAX_ENTRIES (1 << 24)
#define PYOBJ_BASE_DEPTH 32	 /* tp_base chain */

/* The builtin layout an object has (its own type or the static base it derives from). */
enum pyobj_kind {
	PYOBJ_OTHER = 0,
	PYOBJ_DICT,
	PYOBJ_LIST,
	PYOBJ_TUPLE,
	PYOBJ_SET, /* set and frozenset */
	PYOBJ_DEQUE,
	PYOBJ_STR,
	PYOBJ_BYTES,
	PYOBJ_INT,
	PYOBJ_FLOAT,
	PYOBJ_BYTEARRAY, /* not a GC type: never tracked, len is ob_size */
};
const char *pyobj_kind__name(enum pyobj_kind kind);

/* What pyleak knows about one type object of the target. */
struct pyobj_type {
	uint64_t addr;
	char name[PYOBJ_NAME_MAX]; /* DESIGN.md naming: builtins bare, heap types __module__.qualname */
	uint64_t flags;		   /* tp_flags */
	int64_t basicsize, itemsize;
	enum pyobj_kind kind;
	bool heap;
	unsigned presize; /* bytes in front of the PyObject: GC head + 3.11+ pre-header */
};

/*
 * Uncached: read the type object at addr and fill *out. Checks that addr looks like a type
 * (its metatype has Py_TPFLAGS_TYPE_SUBCLASS, sane sizes, a readable name): -EPROTO if not,
 * -EFAULT if unreadable.
 */
int pyobj__read_type(const struct py_layout *l, struct remote *r, uint64_t addr, struct pyobj_type *out);

/* str -> UTF-8 in buf (NUL-terminated, truncated to size-1 bytes: returns -ENAMETOOLONG then). */
int pyobj__read_str(const struct py_layout *l, struct remote *r, uint64_t addr, char *buf, size_t size);
/* bytes -> buf (up to size bytes); *len gets the object's full length. -ENAMETOOLONG if truncated. */
int pyobj__read_bytes(const struct py_layout *l, struct remote *r, uint64_t addr, void *buf, size_t size,
		      size_t *len);
/*
 * len() of a container of the given kind, from the object header alone (one read):
 * dict ma_used, list/tuple/deque ob_size, set used; -EINVAL for other kinds.
 */
int pyobj__len(const struct py_layout *l, struct remote *r, uint64_t addr, enum pyobj_kind kind, int64_t *len);
/* Bytes of an object's start that pyobj__len_from_header may read: free-threaded objects keep
 * their sizes 16 bytes further in (set.used at 40). */
#define PYOBJ_HEADER_COPY 64
/* The same, from an already-read copy of the object's first PYOBJ_HEADER_COPY bytes. */
int64_t pyobj__len_from_header(const struct py_layout *l, const void *hdr32, enum pyobj_kind kind);

/*
 * Does an object header (its first 24 bytes, or 32 in a free-threaded build) hold a plausible
 * reference count: a live object, not a freed block that kept its type pointer? GIL builds:
 * ob_refcnt in 1..2^40 (immortal ones included). Free-threaded builds split it: ob_ref_local
 * (uint32 at 12, the owning thread's) and ob_ref_shared (Py_ssize_t at 16, other threads', the
 * count shifted by 2 over flags, negative while merges are queued): live if either is non-zero
 * (Include/object.h struct _object, Py_GIL_DISABLED).
 */
static inline bool pyobj__refcnt_live(const struct py_layout *l, const unsigned char *hdr)
{
	uint64_t rc;

	if (l->free_threaded == 1) {
		uint32_t local;
		int64_t shared;

		memcpy(&local, hdr + 12, 4);
		memcpy(&shared, hdr + 16, 8);
		return (local || shared) && shared > -(1ll << 42) && shared < (1ll << 42);
	}
	memcpy(&rc, hdr + l->object_refcnt, 8);
	return rc && rc <= (1ull << 40);
}

/*
 * 3.11+: where an instance with Py_TPFLAGS_MANAGED_DICT keeps its dict pointer (3.12: or its
 * tagged values): MANAGED_DICT_OFFSET words before the object, -3 behind the PyGC_Head, -1 in a
 * free-threaded build, which has no PyGC_Head (Include/internal/pycore_object.h).
 */
static inline uint64_t pyobj__managed_dict_at(const struct py_layout *l, uint64_t obj)
{
	return obj - (l->free_threaded == 1 ? 8 : 24);
}

/*
 * Iterate a dict's live items in insertion order (combined and split tables, every layout
 * 3.6-3.13). cb returns non-zero to stop (that value is returned). At most max entries are
 * visited; returns 0 at the end, -EFAULT/-EPROTO on an unreadable or inconsistent dict.
 */
typedef int (*pyobj_dict_cb)(uint64_t key, uint64_t value, void *arg);
int pyobj__dict_iter(const struct py_layout *l, struct remote *r, uint64_t dict, long max, pyobj_dict_cb cb,
		     void *arg);
/* d[key] for a str key; -ENOENT if absent. */
int pyobj__dict_get_str(const struct py_layout *l, struct remote *r, uint64_t dict, const char *key,
			uint64_t *value);

/*
 * The instance dict of obj through its type's tp_dictoffset (C types, and heap types before 3.11
 * managed dicts): > 0 counts from the object's start; < 0 from its end, computed as
 * _PyObject_GetDictPtr does (basicsize + |ob_size| * itemsize, pointer-aligned).  0 with *dict
 * set; -ENOENT no dict (no offset, one beyond 1 MiB, a NULL slot); -EFAULT unreadable;
 * -EPROTO an absurd ob_size.
 */
int pyobj__dict_at_offset(const struct py_layout *l, struct remote *r, uint64_t obj, int64_t dictoffset,
			  int64_t basicsize, int64_t itemsize, uint64_t *dict);

/*
 * A per-target cache of type pointer -> struct pyobj_type, kept across censuses. Entries not
 * used since the previous pyobj_types__sweep() are dropped by it (a type pointer that vanished
 * may be reused by a new type). Failed resolutions are cached too, until the next sweep.
 */
struct pyobj_types;
struct pyobj_types *pyobj_types__new(const struct py_layout *l);
void pyobj_types__free(struct pyobj_types *c);
/* 0 and *out (valid until the next sweep/free), or the resolution error (cached). */
int pyobj_types__get(struct pyobj_types *c, struct remote *r, uint64_t addr, const struct pyobj_type **out);
/* Already resolved and valid? No reads. */
const struct pyobj_type *pyobj_types__peek(const struct pyobj_types *c, uint64_t addr);
/* Remember a type resolved elsewhere (e.g. a static builtin found through .dynsym). */
int pyobj_types__add(struct pyobj_types *c, struct remote *r, uint64_t addr);
/* Drop entries unused since the last sweep; returns how many were dropped. */
int pyobj_types__sweep(struct pyobj_types *c);
size_t pyobj_types__count(const struct pyobj_types *c);
/* Calls cb for every valid cached type. */
void pyobj_types__foreach(const struct pyobj_types *c, void (*cb)(const struct pyobj_type *t, void *arg),
			  void *arg);

#endif /* PYLEAK_PYOBJ_H */
