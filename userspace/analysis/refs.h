/* SPDX-License-Identifier: BSD-2-Clause */
/* Retention chains read from outside: who holds an object, from a root down (objgraph.find_backref_chain). */
#ifndef PYLEAK_REFS_H
#define PYLEAK_REFS_H

#include <stdbool.h>
#include <stdint.h>

#include "target/pyobj.h"
#include "target/python.h"
#include "target/remote.h"
#include "util/common.h"

#define REFS_DEFAULT_DEPTH 20
#define REFS_DEFAULT_MAX_NODES 20000000L
#define REFS_DEFAULT_MAX_EDGES_PER_OBJECT (1L << 22)
#define REFS_DEFAULT_CHAINS 3
#define REFS_DEFAULT_TIMEOUT_S 60.0
#define REFS_TEXT_MAX 200 /* one label (a dict key, a name), UTF-8, truncated with "..." */

/* Line of a code position: probes/sites.h pyline__addr2line() (injected: analysis/ cannot
 * include probes/). NULL: frames are shown with the function's first line. */
typedef int (*refs_addr2line_fn)(int minor, const uint8_t *tab, size_t len, int firstlineno, int32_t insn);

struct refs_opts {
	int max_depth;		   /* links between root and target (0: default 20) */
	long max_nodes;		   /* objects in the heap snapshot (0: default 20M) */
	long max_edges_per_object; /* referents read per object (0: default 4M) */
	int max_chains;		   /* instances sampled for a type, one chain each (0: default 3) */
	double timeout_s;	   /* wall clock for snapshot + search (0: default 60 s) */
	refs_addr2line_fn addr2line;
	struct pyobj_types *types; /* the caller's type cache; NULL: private */
};

enum refs_status {
	REFS_FOUND = 0,	 /* a chain from a root, every link re-read and still in place */
	REFS_OPAQUE,	 /* no root through readable links; held by a C object pyleak cannot read */
	REFS_NOT_FOUND,	 /* no holder found in the snapshot (within the limits) */
	REFS_LOST,	 /* the object or a link changed while scanning: freed, moved or reused */
};
const char *refs_status__name(enum refs_status s);

enum refs_root {
	REFS_ROOT_NONE = 0,
	REFS_ROOT_MODULE,  /* sys.modules[name].__dict__ */
	REFS_ROOT_THREAD,  /* a frame of a live thread */
	REFS_ROOT_GARBAGE, /* gc.garbage */
	REFS_ROOT_CLASS,   /* a class no module holds (its attributes) */
	REFS_ROOT_OPAQUE,  /* a C object whose references pyleak cannot read */
};
const char *refs_root__name(enum refs_root r);

enum refs_edge {
	REFS_EDGE_ITEM = 0, /* dict value: key */
	REFS_EDGE_KEY,	    /* dict key */
	REFS_EDGE_INDEX,    /* list, tuple, deque: index */
	REFS_EDGE_ELEMENT,  /* set / frozenset member */
	REFS_EDGE_ATTR,	    /* instance or class attribute (dict, inline values or __slots__): name */
	REFS_EDGE_FIELD,    /* a named C field: __closure__, __globals__, __dict__, cache, __self__... */
	REFS_EDGE_CELL,	    /* cell_contents */
	REFS_EDGE_LOCAL,    /* a frame's local (fast locals, cells, free variables): name */
	REFS_EDGE_OPAQUE,   /* a word inside a C object that points at the referent: offset */
};
const char *refs_edge__name(enum refs_edge e);

/* One object on a chain. */
struct refs_node {
	uint64_t addr;			/* 0 for a 3.11+ interpreter frame root */
	uint64_t type_addr;
	char type[PYOBJ_NAME_MAX];	/* its type's name ("dict", "__main__.Session", "type") */
	char name[REFS_TEXT_MAX];	/* classes: their name; functions: their qualname; else "" */
	bool c_object;			/* shown as "(type)": a C object with named fields */
};

struct refs_link {
	struct refs_node from;	/* links[0].from is the root object */
	enum refs_edge edge;
	char key[REFS_TEXT_MAX];	/* ITEM: the key as text; ATTR/FIELD/LOCAL: the name */
	bool key_is_str, key_is_int;	/* ITEM: how `key` reads (str, int, or only its type) */
	int64_t key_int;
	int64_t index;			/* INDEX; OPAQUE: byte offset in the holder */
};

/* One raw edge of a chain as the snapshot saw it (before the dict-of-object collapsing), kept
 * so that refs__recheck() can re-read it later without a new snapshot. */
struct refs_step {
	uint64_t parent, parent_type, child, code; /* code: a 3.11+ interpreter frame's code object */
	uint32_t kind_aux;
};

/* A type among the referents of a chain's target (with those of its __dict__): what it holds. */
#define REFS_MAX_REFERENT_TYPES 8
struct refs_referent {
	char type[PYOBJ_NAME_MAX];
	int count;
};

struct refs_chain {
	struct refs_node target;
	enum refs_status status;
	enum refs_root root;
	char module[REFS_TEXT_MAX];	/* MODULE */
	char thread[REFS_TEXT_MAX];	/* THREAD: threading name, "" if unknown */
	uint64_t thread_id;		/* THREAD: pthread id (threading.get_ident()) */
	char function[REFS_TEXT_MAX];	/* THREAD: the frame's function (qualname on 3.11+) */
	char file[REFS_TEXT_MAX];
	int line;			/* -1 unknown */
	int nlinks;
	struct refs_link *links;	/* root first; links[i].edge leads to links[i+1].from or the target */
	char why[256];			/* NOT_FOUND / LOST / OPAQUE: what happened */
	int nsteps;			/* FOUND / OPAQUE: the raw edges, root first */
	struct refs_step *steps;
	int nreferents;			/* the target's referent types, most first */
	struct refs_referent referents[REFS_MAX_REFERENT_TYPES];
};

struct refs_stats {
	int64_t objects;	 /* in the snapshot (GC-tracked objects + thread frames) */
	int64_t references;	 /* edges between them that were read */
	int64_t opaque_objects;	 /* objects of C types whose references were only guessed */
	int64_t changed_objects; /* type changed between the GC walk and the read: freed/reused */
	int64_t frames;		 /* thread frames (roots) */
	int64_t modules;	 /* sys.modules entries (roots) */
	int64_t instances;	 /* live instances of the asked type (type queries), frozen included */
	int64_t permanent;	 /* objects in the permanent generation (gc.freeze()), in the snapshot */
	int64_t frozen;		 /* of them, instances of the asked type (sampled after the others) */
	int64_t reads, bytes_read;
	double snapshot_ms, search_ms;
	bool truncated;		 /* max_nodes reached: the snapshot is partial */
	bool timed_out;		 /* timeout_s reached: the snapshot or search is partial */
	bool census_partial;	 /* a GC generation changed faster than it could be read */
	char unreadable_kinds[160]; /* kinds this version's layout table has no offsets for
				     * ("dict, tuple, set"): scanned as opaque; "" when none */
};

struct refs_result {
	struct refs_chain *chains;
	int nchains;
	struct refs_stats st;
};

/*
 * Find chains from roots to live instances of type_name (pyleak's naming: "__main__.Session",
 * "dict"), sampling up to o->max_chains of them (newest first, then spread over the lists), or
 * to the object at addr when type_name is NULL. The target keeps running: the snapshot is read
 * once (a census walk of the GC lists, then the referents of every object), the search runs on
 * the copy, and every link of a chain found is read again at the end; a link no longer in place
 * makes the chain REFS_LOST, never a wrong chain.
 * Returns 0 and *out, or -errno: -ENOENT no live instance of type_name, -E2BIG none among the
 * objects read before max_nodes / timeout_s cut the walk, -EINVAL addr is not a
 * Python object, -ESRCH target gone, -ENOTSUP no GC state / layout or a free-threaded build, -ENOMEM, -EINTR.
 */
int refs__run(const struct py_target *t, struct remote *r, const struct refs_opts *o, const char *type_name,
	      uint64_t addr, struct refs_result **out);
void refs__free(struct refs_result *res);

/*
 * Re-read every link of a chain found earlier (its steps) and its target, fresh: 0 when all are
 * still in place, 1 when one is gone (freed, reused, or no longer holding the next object;
 * *why says which), -ESRCH target gone, -ENOMEM. No snapshot: a few reads per link.
 */
int refs__recheck(const struct py_target *t, struct remote *r, struct pyobj_types *types,
		  const struct refs_chain *c, char *why, size_t size);

/*
 * Text of one chain, the way `pyleak refs` prints it:
 *   sys.modules['svc'].__dict__['registry'] → dict['sess-42'] → svc.Session @0x7f…
 * Target strings go through util/escape's esc_text (control characters as visible escapes).
 */
void refs__chain_text(const struct refs_chain *c, struct strbuf *sb);


#endif /* PYLEAK_REFS_H */
