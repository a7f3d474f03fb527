/* SPDX-License-Identifier: BSD-2-Clause */
/* Retention chains read from outside: who holds an object, from a root down (objgraph.find_backref_chain). */
#include "analysis/refs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/census.h"
#include "analysis/census_ft.h"
#include "util/escape.h"

/*
 * How it works. The target keeps running, so the search runs on a bounded snapshot:
 *  1. a census walk of the GC lists gives every tracked object (address, type);
 *  2. the referents of every object whose layout pyleak knows are read once (dict keys and
 *     values, list/tuple/deque items, set members, instance attributes and __slots__, cells,
 *     functions, bound methods, class and module dicts, the lru_cache wrapper's cache, frame
 *     locals), keeping only edges that end at another object of the snapshot; objects of C
 *     types pyleak cannot read are scanned for words equal to a snapshot address ("opaque"
 *     edges: evidence of a holder, never a link of a chain through it);
 *  3. a breadth-first search from each target over the reversed edges stops at the first root
 *     (a module dict in sys.modules, a frame of a live thread, gc.garbage);
 *  4. every link of the chain is read again from the target, with no cache: the holder must
 *     still have the same type and the referent must still be in the same slot. Anything else
 *     is "chain lost".
 * Edges are 12 bytes (parent, child, kind|aux) and carry no labels: keys and names are read
 * only for the links of the chains printed (step 4 reads them anyway).
 */

#define NONE LAYOUT_NONE
#define MAX_SLOTS 64	    /* __slots__ members per class chain */
#define MAX_THREADS 1024
#define MAX_FRAMES 4096	    /* per thread */
#define MAX_LOCALS 4096	    /* per frame */
#define OPAQUE_SCAN_MAX 512 /* bytes of a C object scanned for pointers */
#define HDR_MAX 512
#define TYPE_HDR 296	    /* tp_name .. tp_dictoffset (288) in 3.6-3.14 */
#define AUX_MAX ((1u << 24) - 1)
#define T_OBJECT 6	    /* Include/structmember.h (3.12+ _Py_T_OBJECT) */
#define T_OBJECT_EX 16	    /* Py_T_OBJECT_EX */
#define PY_TPFLAGS_INLINE_VALUES (1ul << 2) /* 3.13+ */
#define CO_MAXNAMES 4096

/* ---------------------------------------------------------------- a page cache over remote */

/*
 * Objects of one pymalloc pool are neighbours: reading 4 KiB pages and serving the small reads
 * of the snapshot from them turns millions of process_vm_readv calls into tens of thousands.
 * Direct-mapped, 8192 pages = 32 MiB. Stale pages are harmless: step 4 reads without it.
 */
#define PC_SHIFT 12
#define PC_PAGE (1u << PC_SHIFT)
#define PC_SLOTS 8192

struct pcache {
	struct remote *raw;
	uint64_t *tag; /* page address | 1, 0 = empty */
	unsigned char *data;
};

static int pc_read(struct remote *r, uint64_t addr, void *buf, size_t len)
{
	struct pcache *pc = r->ctx;
	unsigned char *out = buf;

	if (len > 4 * PC_PAGE)
		return remote__read(pc->raw, addr, buf, len);
	while (len) {
		uint64_t base = addr & ~(uint64_t)(PC_PAGE - 1), off = addr - base;
		size_t slot = (base >> PC_SHIFT) & (PC_SLOTS - 1), n = PC_PAGE - off;
		unsigned char *page = pc->data + slot * PC_PAGE;
		int err;

		if (n > len)
			n = len;
		if (pc->tag[slot] != (base | 1)) {
			err = remote__read(pc->raw, base, page, PC_PAGE);
			if (err) {
				pc->tag[slot] = 0;
				return err;
			}
			pc->tag[slot] = base | 1;
		}
		memcpy(out, page + off, n);
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}

/* ---------------------------------------------------------------- types */

enum rkind {
	RK_PLAIN = 0, /* `object`: no references of its own */
	RK_NONE,      /* weak references: no strong reference to follow */
	RK_DICT,
	RK_LIST,
	RK_TUPLE,
	RK_SET,
	RK_DEQUE,
	RK_CELL,
	RK_FUNCTION,
	RK_METHOD,
	RK_TYPE,   /* the object is a class */
	RK_MODULE,
	RK_LRU,	   /* functools._lru_cache_wrapper */
	RK_CLASSMETHOD,
	RK_STATICMETHOD,
	RK_PARTIAL,   /* functools.partial */
	RK_CFUNCTION, /* builtin_function_or_method: m_self */
	RK_PROPERTY,
	RK_GEN,	      /* generator, coroutine, async_generator: their frame's locals */
	RK_EXC,	      /* BaseException and the exceptions without fields of their own */
	RK_TRACEBACK,
	RK_FUTURE,    /* _asyncio.Future */
	RK_TASK,      /* _asyncio.Task: a Future + its coroutine */
	RK_TASKSTEP,  /* TaskStepMethWrapper, TaskWakeupMethWrapper: the task they call */
	RK_TASKWAKEUP,
	RK_FRAME,  /* frame object (<= 3.10: the frame; 3.11+: points at an interpreter frame) */
	RK_IFRAME, /* 3.11+ interpreter frame of a live thread (not an object) */
	RK_OPAQUE, /* a C type pyleak cannot read: only scanned */
};

struct slot_member {
	int64_t offset;
	uint64_t name; /* const char * in the target */
};

struct rtype {
	uint64_t addr;
	enum rkind kind;
	bool heap_inst;	  /* instances of a Python class: __dict__ / inline values / __slots__ */
	bool match;	  /* its name is the asked type */
	bool c_object;	  /* shown as "(type)" in chains */
	uint64_t flags, cached_keys;
	int64_t basicsize, itemsize, dictoffset;
	int opaque_lo, opaque_hi; /* bytes [lo, hi) of a C part pyleak cannot read */
	int nmembers;
	struct slot_member members[MAX_SLOTS];
	char name[PYOBJ_NAME_MAX];
};

/* C types by tp_name (static types, or PyType_FromSpec heap types with a dotted name). */
static const struct {
	const char *tp_name;
	enum rkind kind;
} c_kinds[] = {
	{ "object", RK_PLAIN },
	{ "dict", RK_DICT },
	{ "list", RK_LIST },
	{ "tuple", RK_TUPLE },
	{ "set", RK_SET },
	{ "frozenset", RK_SET },
	{ "collections.deque", RK_DEQUE },
	{ "cell", RK_CELL },
	{ "function", RK_FUNCTION },
	{ "method", RK_METHOD },
	{ "module", RK_MODULE },
	{ "functools._lru_cache_wrapper", RK_LRU },
	{ "frame", RK_FRAME },
	{ "classmethod", RK_CLASSMETHOD },
	{ "staticmethod", RK_STATICMETHOD },
	{ "functools.partial", RK_PARTIAL },
	{ "builtin_function_or_method", RK_CFUNCTION },
	{ "property", RK_PROPERTY },
	{ "generator", RK_GEN },
	{ "coroutine", RK_GEN },
	{ "async_generator", RK_GEN },
	{ "BaseException", RK_EXC },
	{ "traceback", RK_TRACEBACK },
	{ "_asyncio.Future", RK_FUTURE },
	{ "_asyncio.Task", RK_TASK },
	{ "TaskStepMethWrapper", RK_TASKSTEP },
	{ "TaskWakeupMethWrapper", RK_TASKWAKEUP },
	/* weakref.ref/proxy hold their referent weakly (tp_traverse visits only the callback) */
	{ "weakref", RK_NONE },
	{ "weakref.ReferenceType", RK_NONE },
	{ "weakproxy", RK_NONE },
	{ "weakcallableproxy", RK_NONE },
	{ "weakref.ProxyType", RK_NONE },
	{ "weakref.CallableProxyType", RK_NONE },
};

/* FIELD edges: aux names the field. */
enum field {
	F_DICT = 0, F_CLOSURE, F_DEFAULTS, F_KWDEFAULTS, F_GLOBALS, F_SELF, F_FUNC, F_CACHE, F_WRAPPED,
	F_LOCALS, F_GIFRAME, F_ARGS, F_NOTES, F_TRACEBACK, F_CONTEXT, F_CAUSE, F_TBNEXT, F_TBFRAME, F_FLOOP, F_FCALLBACK0,
	F_FCONTEXT0, F_FCALLBACKS, F_FEXCEPTION, F_FRESULT, F_TWAITER, F_TCORO, F_TCONTEXT, F_STEPTASK, F_STEPARG,
	F_PFUNC, F_PARGS, F_PKEYWORDS, F_FGET, F_FSET, F_FDEL, F_DOC, NFIELDS
};
static const char *const field_names[NFIELDS] = {
	[F_DICT] = "__dict__",	       [F_CLOSURE] = "__closure__", [F_DEFAULTS] = "__defaults__",
	[F_KWDEFAULTS] = "__kwdefaults__", [F_GLOBALS] = "__globals__", [F_SELF] = "__self__",
	[F_FUNC] = "__func__",	       [F_CACHE] = "cache",	    [F_WRAPPED] = "__wrapped__",
	[F_LOCALS] = "f_locals",	       [F_GIFRAME] = "gi_frame",    [F_ARGS] = "args",
	[F_NOTES] = "__notes__",	       [F_TRACEBACK] = "__traceback__", [F_CONTEXT] = "__context__",
	[F_CAUSE] = "__cause__",	       [F_TBNEXT] = "tb_next",	    [F_TBFRAME] = "tb_frame",
	[F_FLOOP] = "_loop",		       [F_FCALLBACK0] = "callback0",    [F_FCONTEXT0] = "context0",
	[F_FCALLBACKS] = "_callbacks",	       [F_FEXCEPTION] = "_exception",   [F_FRESULT] = "_result",
	[F_TWAITER] = "_fut_waiter",	       [F_TCORO] = "_coro",	    [F_TCONTEXT] = "_context",
	[F_STEPTASK] = "task",		       [F_STEPARG] = "arg",
	[F_PFUNC] = "func",	    [F_PARGS] = "args",
	[F_PKEYWORDS] = "keywords",	       [F_FGET] = "fget",	    [F_FSET] = "fset",
	[F_FDEL] = "fdel",		       [F_DOC] = "__doc__",
};

/* Internal edge kinds (public enum refs_edge after collapsing). */
enum ekind { E_ITEM = 0, E_KEY, E_INDEX, E_ELEMENT, E_ATTRV, E_SLOT, E_FIELD, E_CELL, E_LOCAL, E_OPAQUE };

struct edge {
	uint32_t parent, child;
	uint32_t kind_aux; /* kind << 24 | aux */
};

static unsigned ekind_of(const struct edge *e)
{
	return e->kind_aux >> 24;
}

static unsigned eaux_of(const struct edge *e)
{
	return e->kind_aux & AUX_MAX;
}

/* ---------------------------------------------------------------- the snapshot */

#define NF_ROOT_MODULE 1
#define NF_ROOT_GARBAGE 2
#define NF_ROOT_FRAME 4
#define NF_CHANGED 8
#define NF_OPAQUE 16

struct node {
	uint64_t addr;
	uint32_t rt;
	uint8_t flags;
	uint8_t gen;
};

struct thread_info {
	uint64_t tstate, thread_id;
	char name[REFS_TEXT_MAX];
};

struct frame_info {
	uint32_t node;
	int thread;
	uint64_t frame, code; /* the frame's address (object or interpreter frame), its code */
	int32_t insn;
};

struct module_info {
	uint64_t dict;
	char name[REFS_TEXT_MAX];
};

struct candidate {
	uint32_t node;
	uint8_t gen;
};

struct refs_ctx {
	const struct py_target *t;
	const struct py_layout *l;
	struct remote *raw; /* the caller's: fresh reads */
	struct remote cr;   /* through the page cache */
	struct pcache pc;
	const struct refs_opts *o;
	struct pyobj_types *types;
	uint64_t deadline_ns;
	int err; /* first fatal error met in a callback (-ENOMEM) */

	struct node *nodes;
	uint32_t nnodes, capnodes;
	uint32_t *hash; /* node index + 1, open addressing on addr */
	uint32_t caphash;

	struct rtype *rts;
	uint32_t nrts, caprts;
	uint32_t *rthash;
	uint32_t caprthash;
	const char *want_type;

	struct edge *edges;
	uint64_t nedges, capedges;
	uint32_t *rev_off; /* nnodes + 1 */
	uint32_t *rev;	   /* edge indices sorted by child */

	struct candidate *cands;
	uint32_t ncands, capcands;

	struct thread_info *threads;
	int nthreads;
	struct frame_info *frames;
	int nframes, capframes;
	struct module_info *mods;
	int nmods;
	uint64_t garbage;
	uint64_t threading_active; /* threading._active dict */

	struct refs_stats *st;
};

static bool out_of_time(struct refs_ctx *x)
{
	if (exiting)
		return true;
	if (now_mono_ns() > x->deadline_ns) {
		x->st->timed_out = true;
		return true;
	}
	return false;
}

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static size_t hash_addr(uint64_t a, uint32_t cap)
{
	a ^= a >> 33;
	a *= 0xff51afd7ed558ccdull;
	a ^= a >> 29;
	return (size_t)a & (cap - 1);
}

static int64_t node_find(const struct refs_ctx *x, uint64_t addr)
{
	size_t s;

	if (!x->caphash || (addr & 7))
		return -1;
	for (s = hash_addr(addr, x->caphash); x->hash[s]; s = (s + 1) & (x->caphash - 1))
		if (x->nodes[x->hash[s] - 1].addr == addr)
			return x->hash[s] - 1;
	return -1;
}

static int hash_grow(struct refs_ctx *x)
{
	uint32_t cap = x->caphash ? x->caphash * 2 : 1u << 16, i;
	uint32_t *h = calloc(cap, sizeof(*h));

	if (!h)
		return -ENOMEM;
	for (i = 0; i < x->nnodes; i++) {
		size_t s = hash_addr(x->nodes[i].addr, cap);

		while (h[s])
			s = (s + 1) & (cap - 1);
		h[s] = i + 1;
	}
	free(x->hash);
	x->hash = h;
	x->caphash = cap;
	return 0;
}

/* Index of the node at addr, added if new (*added); -ENOMEM / -E2BIG. */
static int64_t node_add(struct refs_ctx *x, uint64_t addr, uint32_t rt, bool *added)
{
	int64_t i = node_find(x, addr);
	size_t s;

	*added = false;
	if (i >= 0)
		return i;
	if (x->nnodes >= (uint32_t)x->o->max_nodes || x->nnodes >= AUX_MAX * 64u) {
		x->st->truncated = true;
		return -E2BIG;
	}
	if ((uint64_t)(x->nnodes + 1) * 2 > x->caphash && hash_grow(x))
		return -ENOMEM;
	if (x->nnodes == x->capnodes) {
		uint32_t cap = x->capnodes ? x->capnodes * 2 : 1u << 16;
		struct node *n = realloc(x->nodes, (size_t)cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		x->nodes = n;
		x->capnodes = cap;
	}
	x->nodes[x->nnodes] = (struct node){ .addr = addr, .rt = rt };
	for (s = hash_addr(addr, x->caphash); x->hash[s]; s = (s + 1) & (x->caphash - 1))
		;
	x->hash[s] = ++x->nnodes;
	*added = true;
	return x->nnodes - 1;
}

/* ---------------------------------------------------------------- type resolution */

static int rt_lookup(const struct refs_ctx *x, uint64_t addr)
{
	size_t s;

	if (!x->caprthash)
		return -1;
	for (s = hash_addr(addr, x->caprthash); x->rthash[s]; s = (s + 1) & (x->caprthash - 1))
		if (x->rts[x->rthash[s] - 1].addr == addr)
			return x->rthash[s] - 1;
	return -1;
}

static enum rkind c_kind(const char *tp_name, bool *known)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(c_kinds); i++)
		if (!strcmp(c_kinds[i].tp_name, tp_name)) {
			*known = true;
			return c_kinds[i].kind;
		}
	*known = false;
	return RK_OPAQUE;
}

/* Does this version's table have the offsets a kind is read with? (3.14's tables are partial:
 * a kind without them is scanned as opaque rather than read at a wrong offset.) */
static bool kind_supported(const struct py_layout *l, enum rkind k)
{
	switch (k) {
	case RK_DICT: return l->dict_keys != NONE && l->dictkeys_nentries != NONE;
	case RK_LIST: return l->list_item != NONE && l->varobject_size != NONE;
	case RK_TUPLE: return l->tuple_item != NONE && l->varobject_size != NONE;
	case RK_SET: return l->set_table != NONE && l->set_mask != NONE;
	case RK_DEQUE: return l->deque_leftblock != NONE && l->dequeblock_data != NONE;
	case RK_CELL: return l->cell_ref != NONE;
	case RK_FUNCTION: return l->func_globals != NONE;
	case RK_METHOD: return l->method_self != NONE;
	case RK_TYPE: return l->type_dict != NONE;
	case RK_MODULE: return l->module_dict != NONE;
	case RK_LRU: return l->lru_cache_cache != NONE;
	case RK_CLASSMETHOD: return l->classmethod_callable != NONE;
	case RK_STATICMETHOD: return l->staticmethod_callable != NONE;
	case RK_PARTIAL: return l->partial_fn != NONE;
	case RK_CFUNCTION: return l->cfunction_self != NONE;
	case RK_PROPERTY: return l->property_get != NONE;
	case RK_FRAME: return l->frame_localsplus != NONE && l->frame_code != NONE && l->code_size > 0;
	case RK_EXC: return l->exc_traceback != NONE;
	case RK_TRACEBACK: return l->tb_frame != NONE;
	case RK_FUTURE: return l->future_callback0 != NONE;
	case RK_TASK: return l->future_callback0 != NONE && l->task_coro != NONE;
	case RK_TASKSTEP: return l->taskstep_task != NONE;
	case RK_TASKWAKEUP: return l->taskwakeup_task != NONE;
	case RK_GEN:
		return (l->gen_iframe != NONE && l->gen_frame_state != NONE && l->frame_localsplus != NONE &&
			l->code_size > 0) || l->gen_frame != NONE;
	default: return true;
	}
}

/* __slots__ of one heap type: its tp_members of object type (type_new puts them there). */
static void read_members(struct refs_ctx *x, struct rtype *rt, uint64_t members)
{
	const struct py_layout *l = x->l;
	unsigned char m[64];
	char name[32];
	int i;

	if (!remote__valid_ptr(members, 8) || l->memberdef_size <= 0 || l->memberdef_size > (int)sizeof(m))
		return;
	for (i = 0; i < MAX_SLOTS && rt->nmembers < MAX_SLOTS; i++) {
		uint64_t np;
		int32_t type;
		int64_t off;

		if (remote__read(x->raw, members + (uint64_t)i * l->memberdef_size, m, l->memberdef_size))
			return;
		np = rd64(m + l->memberdef_name);
		if (!np)
			return;
		memcpy(&type, m + l->memberdef_type, 4);
		memcpy(&off, m + l->memberdef_offset, 8);
		if ((type != T_OBJECT && type != T_OBJECT_EX) || off < 16 || off > (1 << 20) || (off & 7))
			continue;
		/* __weakref__ is a weak reference list; __dict__ is read as the instance dict. */
		if (remote__read_cstr(x->raw, np, name, sizeof(name)) == 0 &&
		    (!strcmp(name, "__weakref__") || !strcmp(name, "__dict__")))
			continue;
		rt->members[rt->nmembers].offset = off;
		rt->members[rt->nmembers].name = np;
		rt->nmembers++;
	}
}

/*
 * What pyleak can read of the instances of the type at addr: the layout of the first C type
 * on its tp_base chain that it knows (dict subclass -> dict items), the C part it cannot read
 * (between that base's size and the first C type's size: scanned, opaque), and for Python
 * classes the instance attributes.
 */
static int rt_resolve(struct refs_ctx *x, uint64_t addr)
{
	const struct py_layout *l = x->l;
	unsigned char hdr[TYPE_HDR];
	const struct pyobj_type *pt = NULL;
	struct rtype *rt;
	uint64_t base;
	int64_t solid_size = -1;
	bool known = false, seen_c = false;
	int depth, i;
	size_t s;

	i = rt_lookup(x, addr);
	if (i >= 0)
		return i;
	if (x->nrts == x->caprts) {
		uint32_t cap = x->caprts ? x->caprts * 2 : 256;
		struct rtype *n = realloc(x->rts, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		x->rts = n;
		x->caprts = cap;
	}
	if ((x->nrts + 1) * 2 > x->caprthash) {
		uint32_t cap = x->caprthash ? x->caprthash * 2 : 1024, k;
		uint32_t *h = calloc(cap, sizeof(*h));

		if (!h)
			return -ENOMEM;
		for (k = 0; k < x->nrts; k++) {
			s = hash_addr(x->rts[k].addr, cap);
			while (h[s])
				s = (s + 1) & (cap - 1);
			h[s] = k + 1;
		}
		free(x->rthash);
		x->rthash = h;
		x->caprthash = cap;
	}
	rt = &x->rts[x->nrts];
	memset(rt, 0, sizeof(*rt));
	rt->addr = addr;
	rt->kind = RK_OPAQUE;
	if (addr && pyobj_types__get(x->types, x->raw, addr, &pt) == 0 && pt &&
	    remote__read(x->raw, addr, hdr, sizeof(hdr)) == 0) {
		copy_str(rt->name, sizeof(rt->name), pt->name);
		rt->flags = pt->flags;
		rt->basicsize = pt->basicsize;
		rt->itemsize = pt->itemsize;
		if (l->type_dictoffset != NONE)
			memcpy(&rt->dictoffset, hdr + l->type_dictoffset, 8);
		rt->match = x->want_type && !strcmp(pt->name, x->want_type);
		if (rt->flags & PY_TPFLAGS_TYPE_SUBCLASS) {
			rt->kind = RK_TYPE; /* instances are classes: their tp_dict */
		} else {
			/* tp_dictoffset is the instance dict of C types too (SimpleNamespace, exceptions,
			 * functions): always a strong reference. */
			rt->heap_inst = rt->dictoffset || (pt->heap && l->minor >= 11 && (rt->flags & PY_TPFLAGS_MANAGED_DICT));
			if (pt->heap && l->heaptype_cached_keys != NONE)
				remote__read_u64(x->raw, addr + l->heaptype_cached_keys, &rt->cached_keys);
			/* Walk up: Python classes contribute __slots__; the first C type fixes the size
			 * of the C part; the first C type pyleak knows fixes how its part is read. */
			base = addr;
			for (depth = 0; base && depth < PYOBJ_BASE_DEPTH; depth++) {
				unsigned char bh[TYPE_HDR];
				char tp_name[PYOBJ_NAME_MAX];
				uint64_t bflags;
				int64_t bsize;
				bool c_type;

				if (remote__read(x->raw, base, bh, sizeof(bh)))
					break;
				memcpy(&bflags, bh + l->type_flags, 8);
				memcpy(&bsize, bh + l->type_basicsize, 8);
				if (remote__read_cstr(x->raw, rd64(bh + l->type_name), tp_name, sizeof(tp_name)) &&
				    !tp_name[0])
					break;
				c_type = !(bflags & PY_TPFLAGS_HEAPTYPE) || strchr(tp_name, '.');
				if (!c_type) {
					if (l->type_members != NONE)
						read_members(x, rt, rd64(bh + l->type_members));
					if (rt->nmembers)
						rt->heap_inst = true;
				} else {
					enum rkind k = c_kind(tp_name, &known);

					if (!seen_c) {
						seen_c = true;
						solid_size = bsize;
					}
					if (known && !kind_supported(l, k)) {
						known = false;
						break;
					}
					if (known) {
						rt->kind = k;
						rt->opaque_lo = (int)MIN(bsize, OPAQUE_SCAN_MAX);
						break;
					}
				}
				base = rd64(bh + l->type_base);
			}
			if (!known) {
				rt->kind = RK_OPAQUE;
				rt->opaque_lo = 16;
			}
			if (rt->kind != RK_NONE && solid_size > rt->opaque_lo)
				rt->opaque_hi = (int)MIN(solid_size, OPAQUE_SCAN_MAX);
			if (rt->opaque_hi <= rt->opaque_lo)
				rt->opaque_hi = rt->opaque_lo = 0;
			rt->c_object = rt->kind == RK_CELL || rt->kind == RK_FUNCTION || rt->kind == RK_METHOD ||
				       rt->kind == RK_LRU || rt->kind == RK_MODULE || rt->kind == RK_FRAME ||
				       rt->kind == RK_CLASSMETHOD || rt->kind == RK_STATICMETHOD ||
				       rt->kind == RK_PARTIAL || rt->kind == RK_CFUNCTION || rt->kind == RK_PROPERTY ||
				       rt->kind == RK_GEN || rt->kind == RK_EXC || rt->kind == RK_TRACEBACK ||
				       rt->kind == RK_FUTURE || rt->kind == RK_TASK || rt->kind == RK_TASKSTEP ||
				       rt->kind == RK_TASKWAKEUP ||
				       ((rt->kind == RK_OPAQUE || rt->kind == RK_PLAIN) && rt->opaque_hi && !pt->heap);
		}
	} else {
		snprintf(rt->name, sizeof(rt->name), addr ? "?0x%llx" : "frame", (unsigned long long)addr);
		if (!addr)
			rt->kind = RK_IFRAME;
	}
	for (s = hash_addr(addr, x->caprthash); x->rthash[s]; s = (s + 1) & (x->caprthash - 1))
		;
	x->rthash[s] = ++x->nrts;
	return x->nrts - 1;
}

/* ---------------------------------------------------------------- reading referents */

/*
 * One extraction routine serves both the snapshot (MODE_COLLECT: every edge to a snapshot
 * object is stored) and the re-check of a chain (MODE_FIND: fresh reads, stop at the edge
 * (kind, aux) that still points at `want`, and report what labels it).
 */
enum xmode { MODE_COLLECT, MODE_FIND };

struct xstate {
	enum xmode mode;
	struct remote *r;
	uint32_t parent;
	long budget; /* edges left for this object */
	/* MODE_FIND */
	unsigned want_kind, want_aux;
	uint64_t want;
	bool found;
	uint64_t label;		/* ITEM/ATTRV: the key object; SLOT: a C string; LOCAL: a str */
	bool label_cstr;
};

static int emit(struct refs_ctx *x, struct xstate *xs, unsigned kind, uint64_t aux, uint64_t child, uint64_t label)
{
	if (xs->mode == MODE_FIND) {
		if (child != xs->want || kind != xs->want_kind)
			return 0;
		/* A dict or set can rehash: the key's position is not part of the link. */
		if (kind != E_ITEM && kind != E_KEY && kind != E_ELEMENT && aux != xs->want_aux)
			return 0;
		xs->found = true;
		xs->label = label;
		return 1;
	}
	if (!child || (child & 7))
		return 0;
	{
		int64_t c = node_find(x, child);
		struct edge *e;

		if (c < 0)
			return 0; /* not a snapshot object (untracked, or no object at all) */
		if (--xs->budget < 0)
			return 1; /* max_edges_per_object: stop reading this object */
		if (x->nedges == x->capedges) {
			uint64_t cap = x->capedges ? x->capedges * 2 : 1u << 20;
			struct edge *n;

			if (cap > UINT32_MAX)
				return 1;
			n = realloc(x->edges, cap * sizeof(*n));
			if (!n) {
				x->err = -ENOMEM;
				return 1;
			}
			x->edges = n;
			x->capedges = cap;
		}
		e = &x->edges[x->nedges++];
		e->parent = xs->parent;
		e->child = (uint32_t)c;
		e->kind_aux = kind << 24 | (uint32_t)(aux > AUX_MAX ? AUX_MAX : aux);
	}
	return 0;
}

/* An array of n object pointers at addr (list/tuple items, frame locals). */
static int emit_array(struct refs_ctx *x, struct xstate *xs, unsigned kind, uint64_t addr, int64_t n)
{
	uint64_t buf[1024];
	int64_t i, k;

	if (n <= 0)
		return 0;
	if (!remote__valid_ptr(addr, 8))
		return -EPROTO;
	if (xs->mode == MODE_FIND) {
		uint64_t v;

		if (xs->want_aux >= (uint64_t)n || remote__read_u64(xs->r, addr + 8ull * xs->want_aux, &v))
			return 0;
		return emit(x, xs, kind, xs->want_aux, v, 0);
	}
	if (n > xs->budget)
		n = xs->budget;
	for (i = 0; i < n; i += 1024) {
		int64_t m = MIN(n - i, 1024);

		if (remote__read(xs->r, addr + 8 * i, buf, m * 8))
			return -EFAULT;
		for (k = 0; k < m; k++)
			if (emit(x, xs, kind, i + k, buf[k], 0))
				return 1;
	}
	return 0;
}

struct dict_arg {
	struct refs_ctx *x;
	struct xstate *xs;
	int64_t ord;
};

static int dict_cb(uint64_t key, uint64_t value, void *argp)
{
	struct dict_arg *a = argp;
	int ret;

	ret = emit(a->x, a->xs, E_KEY, a->ord, key, 0);
	if (!ret)
		ret = emit(a->x, a->xs, E_ITEM, a->ord, value, key);
	a->ord++;
	return ret;
}

static int x_dict(struct refs_ctx *x, struct xstate *xs, uint64_t dict)
{
	struct dict_arg a = { x, xs, 0 };
	int err = pyobj__dict_iter(x->l, xs->r, dict, xs->mode == MODE_FIND ? -1 : xs->budget, dict_cb, &a);

	return err < 0 ? err : 0;
}

/* A split table: shared keys (3.11+ PyDictUnicodeEntry {key, value}) + an instance's values. */
static int x_split(struct refs_ctx *x, struct xstate *xs, uint64_t keys, uint64_t values, int64_t cap)
{
	const struct py_layout *l = x->l;
	unsigned char khdr[64], ebuf[64 * 16];
	uint64_t vals[64], entries;
	int64_t nentries, i;
	unsigned log2_size, log2_index_bytes;
	int err;

	if (l->dictkeys_log2_size == NONE || !remote__valid_ptr(keys, 8) || !remote__valid_ptr(values, 8) ||
	    l->dictkeys_header_size > (int)sizeof(khdr))
		return -EPROTO;
	err = remote__read(xs->r, keys, khdr, l->dictkeys_header_size);
	if (err)
		return err;
	log2_size = khdr[l->dictkeys_log2_size];
	log2_index_bytes = khdr[l->dictkeys_log2_index_bytes];
	memcpy(&nentries, khdr + l->dictkeys_nentries, 8);
	/* Split keys never grow past SHARED_KEYS_MAX_SIZE (30) entries (Objects/dictobject.c). */
	if (log2_size > 10 || log2_index_bytes > 13 || nentries < 0 || nentries > (1ll << log2_size))
		return -EPROTO;
	if (nentries > 64)
		nentries = 64;
	if (cap >= 0 && nentries > cap)
		nentries = cap;
	if (!nentries)
		return 0;
	entries = keys + l->dictkeys_indices + (1ull << log2_index_bytes);
	err = remote__read(xs->r, entries, ebuf, nentries * 16);
	if (!err)
		err = remote__read(xs->r, values, vals, nentries * 8);
	if (err)
		return err;
	for (i = 0; i < nentries; i++)
		if (rd64(ebuf + i * 16) && emit(x, xs, E_ATTRV, i, vals[i], rd64(ebuf + i * 16)))
			return 1;
	return 0;
}

/*
 * The attributes of an instance of a Python class (as holders.c reads them):
 * <= 3.10 the dict at tp_dictoffset; 3.11 managed dict at obj-24 or values at obj-32 with the
 * class's shared keys (v3.11.7:Include/internal/pycore_object.h:253-263); 3.12 PyDictOrValues
 * at obj-24, values tagged with the low bit (v3.12.1:pycore_object.h:373-397); 3.13 managed
 * dict at obj-24, else inline values after the object behind {capacity, size, embedded, valid}
 * (v3.13.0:pycore_object.h:722-742, pycore_dict.h:196-202). A dict object is an edge of its own
 * (FIELD __dict__, collapsed into `.name` when a chain goes through it).
 */
static int x_instance(struct refs_ctx *x, struct xstate *xs, uint64_t obj, const struct rtype *rt)
{
	const struct py_layout *l = x->l;
	uint64_t word = 0, dict = 0;
	int i, err;

	for (i = 0; i < rt->nmembers; i++) {
		uint64_t v;

		if (xs->mode == MODE_FIND && (xs->want_kind != E_SLOT || xs->want_aux != (unsigned)i))
			continue;
		if (remote__read_u64(xs->r, obj + rt->members[i].offset, &v))
			continue;
		if (emit(x, xs, E_SLOT, i, v, rt->members[i].name))
			return 1;
	}
	if (l->minor >= 11 && (rt->flags & PY_TPFLAGS_MANAGED_DICT)) {
		if (remote__read_u64(xs->r, pyobj__managed_dict_at(l, obj), &word))
			return -EFAULT;
		if (l->minor == 12 && (word & 1))
			return x_split(x, xs, rt->cached_keys, word + 1, -1);
		if (word)
			return emit(x, xs, E_FIELD, F_DICT, word, 0);
		if (l->minor == 11) {
			if (remote__read_u64(xs->r, obj - 32, &word) || !word)
				return 0;
			return x_split(x, xs, rt->cached_keys, word, -1);
		}
		if (l->minor >= 13 && (rt->flags & PY_TPFLAGS_INLINE_VALUES) && rt->basicsize > 0) {
			unsigned char vh[8];

			if (remote__read(xs->r, obj + rt->basicsize, vh, sizeof(vh)) || !vh[3] /* valid */)
				return 0;
			return x_split(x, xs, rt->cached_keys, obj + rt->basicsize + 8, vh[0] /* capacity */);
		}
		return 0;
	}
	err = pyobj__dict_at_offset(l, xs->r, obj, rt->dictoffset, rt->basicsize, rt->itemsize, &dict);
	if (err == -ENOENT)
		return 0; /* no instance dict: nothing to follow */
	if (err)
		return err;
	return emit(x, xs, E_FIELD, F_DICT, dict, 0);
}

static int x_field(struct refs_ctx *x, struct xstate *xs, const unsigned char *hdr, size_t hlen, int32_t off,
		   enum field f)
{
	if (off == NONE || off < 16 || (size_t)off + 8 > hlen)
		return 0;
	return emit(x, xs, E_FIELD, f, rd64(hdr + off), 0);
}

static int64_t tuple_len(struct refs_ctx *x, struct remote *r, uint64_t tup)
{
	int64_t n;

	if (!tup || remote__read_i64(r, tup + x->l->varobject_size, &n) || n < 0 || n > CO_MAXNAMES)
		return 0;
	return n;
}

/* Locals of a frame: localsplus[0..n) (fast locals, cells, free variables). */
static int x_frame_locals(struct refs_ctx *x, struct xstate *xs, uint64_t frame, uint64_t code)
{
	const struct py_layout *l = x->l;
	unsigned char c[512];
	int64_t n;

	if (!remote__valid_ptr(code, 8) || l->code_size <= 0 || l->code_size > (int)sizeof(c) ||
	    remote__read(xs->r, code, c, l->code_size))
		return -EFAULT;
	if (l->code_nlocalsplus != NONE) {
		int32_t nlp;

		memcpy(&nlp, c + l->code_nlocalsplus, 4);
		n = nlp;
	} else if (l->code_nlocals != NONE) {
		int32_t nl;

		memcpy(&nl, c + l->code_nlocals, 4);
		n = nl + tuple_len(x, xs->r, rd64(c + l->code_cellvars)) + tuple_len(x, xs->r, rd64(c + l->code_freevars));
	} else {
		return -ENOTSUP;
	}
	if (n < 0 || n > MAX_LOCALS)
		return -EPROTO;
	return emit_array(x, xs, E_LOCAL, frame + l->frame_localsplus, n);
}

static int x_deque(struct refs_ctx *x, struct xstate *xs, const unsigned char *hdr)
{
	const struct py_layout *l = x->l;
	unsigned char blk[1024];
	uint64_t b;
	int64_t len, left, i, blocklen;
	int bsize;

	if (l->deque_leftblock == NONE || l->dequeblock_data == NONE || l->dequeblock_rightlink == NONE)
		return -ENOTSUP;
	bsize = l->dequeblock_rightlink + 8;
	blocklen = (l->dequeblock_rightlink - l->dequeblock_data) / 8;
	if (bsize > (int)sizeof(blk) || blocklen <= 0)
		return -EPROTO;
	memcpy(&len, hdr + l->varobject_size, 8);
	b = rd64(hdr + l->deque_leftblock);
	memcpy(&left, hdr + l->deque_leftindex, 8);
	if (len < 0 || len > (1ll << 32) || left < 0 || left >= blocklen)
		return -EPROTO;
	if (xs->mode == MODE_COLLECT && len > xs->budget)
		len = xs->budget;
	for (i = 0; i < len;) {
		int64_t k;

		if (!remote__valid_ptr(b, 8) || remote__read(xs->r, b, blk, bsize))
			return -EFAULT;
		/* MODE_FIND: skip whole blocks before the wanted index. */
		if (xs->mode == MODE_FIND && xs->want_aux >= i + (blocklen - left)) {
			i += blocklen - left;
		} else {
			for (k = left; k < blocklen && i < len; k++, i++)
				if (emit(x, xs, E_INDEX, i, rd64(blk + l->dequeblock_data + 8 * k), 0))
					return 1;
		}
		left = 0;
		b = rd64(blk + l->dequeblock_rightlink);
	}
	return 0;
}

static int x_set(struct refs_ctx *x, struct xstate *xs, const unsigned char *hdr)
{
	const struct py_layout *l = x->l;
	uint64_t buf[2 * 512], table = rd64(hdr + l->set_table);
	int64_t mask, i, k, slots;

	memcpy(&mask, hdr + l->set_mask, 8);

	if (mask < 0 || mask > (1ll << 26) || ((mask + 1) & mask) || !remote__valid_ptr(table, 8))
		return -EPROTO;
	/* bounded like the other containers: at most 2x the edge budget of slots is read (a set is
	 * at most 60% full, so a set within the budget is read whole) */
	slots = xs->mode == MODE_COLLECT ? MIN(mask + 1, 2 * xs->budget + 8) : mask + 1;
	for (i = 0; i < slots; i += 512) {
		int64_t m = MIN(slots - i, 512);

		if (remote__read(xs->r, table + 16 * i, buf, m * 16))
			return -EFAULT;
		for (k = 0; k < m; k++) /* setentry {key, hash}; the dummy key is no snapshot object */
			if (emit(x, xs, E_ELEMENT, i + k, buf[2 * k], 0))
				return 1;
	}
	return 0;
}

/* A C part pyleak cannot read: any aligned word equal to a snapshot object is evidence. */
static int x_opaque(struct refs_ctx *x, struct xstate *xs, const unsigned char *hdr, size_t hlen, int lo, int hi)
{
	int off;

	for (off = lo; off + 8 <= hi && (size_t)off + 8 <= hlen; off += 8)
		if (emit(x, xs, E_OPAQUE, off, rd64(hdr + off), 0))
			return 1;
	return 0;
}

/* The interpreter frame a 3.11+ frame node stands for, and its code. */
static int iframe_code(struct refs_ctx *x, struct remote *r, uint64_t frame, uint64_t *code)
{
	const struct py_layout *l = x->l;

	if (remote__read_u64(r, frame + l->frame_code, code))
		return -EFAULT;
	/* 3.14 f_executable is a _PyStackRef: low 2 bits are tags (pycore_stackref.h). */
	if (l->minor >= 14)
		*code &= ~3ull;
	return 0;
}

/* Referents of snapshot node i (or, MODE_FIND, whether one link still holds). */
static int extract(struct refs_ctx *x, struct xstate *xs, uint32_t i)
{
	const struct py_layout *l = x->l;
	const struct node *n = &x->nodes[i];
	const struct rtype *rt = &x->rts[n->rt];
	unsigned char hdr[HDR_MAX];
	size_t hlen;
	uint64_t type, code;
	int ret = 0;

	xs->parent = i;
	if (rt->kind == RK_IFRAME) {
		struct frame_info *f = NULL;
		int k;

		for (k = 0; k < x->nframes; k++)
			if (x->frames[k].node == i)
				f = &x->frames[k];
		if (!f || iframe_code(x, xs->r, n->addr, &code) || code != f->code)
			return -ESTALE; /* the thread left that function */
		if (l->frame_locals != NONE) {
			uint64_t loc;

			if (!remote__read_u64(xs->r, n->addr + l->frame_locals, &loc) &&
			    emit(x, xs, E_FIELD, F_LOCALS, loc, 0))
				return 1;
		}
		return x_frame_locals(x, xs, n->addr, code);
	}
	hlen = rt->basicsize > 48 ? (size_t)rt->basicsize : 48;
	if (hlen > sizeof(hdr))
		hlen = sizeof(hdr);
	/* 48 bytes reach past a small object; one that ends its mapping reads up to the page end */
	if (remote__read_prefix(xs->r, n->addr, hdr, hlen, 16))
		return -EFAULT;
	type = rd64(hdr + l->object_type);
	/* Freed and reused (or never an object): the type it had in the GC walk is gone. */
	if (type != rt->addr || !pyobj__refcnt_live(l, hdr))
		return -ESTALE;

	switch (rt->kind) {
	case RK_DICT: ret = x_dict(x, xs, n->addr); break;
	case RK_LIST: {
		int64_t sz;

		memcpy(&sz, hdr + l->varobject_size, 8);
		if (sz < 0 || sz > (1ll << 32))
			return -EPROTO;
		ret = emit_array(x, xs, E_INDEX, rd64(hdr + l->list_item), sz);
		break;
	}
	case RK_TUPLE: {
		int64_t sz;

		memcpy(&sz, hdr + l->varobject_size, 8);
		if (sz < 0 || sz > (1ll << 32))
			return -EPROTO;
		ret = emit_array(x, xs, E_INDEX, n->addr + l->tuple_item, sz);
		break;
	}
	case RK_SET: ret = x_set(x, xs, hdr); break;
	case RK_DEQUE: ret = x_deque(x, xs, hdr); break;
	case RK_CELL:
		if (l->cell_ref != NONE && (size_t)l->cell_ref + 8 <= hlen)
			ret = emit(x, xs, E_CELL, 0, rd64(hdr + l->cell_ref), 0);
		break;
	case RK_FUNCTION:
		ret = x_field(x, xs, hdr, hlen, l->func_globals, F_GLOBALS);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->func_defaults, F_DEFAULTS);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->func_kwdefaults, F_KWDEFAULTS);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->func_closure, F_CLOSURE);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->func_dict, F_DICT);
		break;
	case RK_METHOD:
		ret = x_field(x, xs, hdr, hlen, l->method_self, F_SELF);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->method_func, F_FUNC);
		break;
	case RK_LRU:
		ret = x_field(x, xs, hdr, hlen, l->lru_cache_cache, F_CACHE);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->lru_cache_func, F_WRAPPED);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->lru_cache_dict, F_DICT);
		break;
	case RK_CLASSMETHOD:
		ret = x_field(x, xs, hdr, hlen, l->classmethod_callable, F_FUNC);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->classmethod_dict, F_DICT);
		break;
	case RK_STATICMETHOD:
		ret = x_field(x, xs, hdr, hlen, l->staticmethod_callable, F_FUNC);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->staticmethod_dict, F_DICT);
		break;
	case RK_PARTIAL:
		ret = x_field(x, xs, hdr, hlen, l->partial_fn, F_PFUNC);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->partial_args, F_PARGS);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->partial_kw, F_PKEYWORDS);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->partial_dict, F_DICT);
		break;
	case RK_CFUNCTION: ret = x_field(x, xs, hdr, hlen, l->cfunction_self, F_SELF); break;
	case RK_PROPERTY:
		ret = x_field(x, xs, hdr, hlen, l->property_get, F_FGET);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->property_set, F_FSET);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->property_del, F_FDEL);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->property_doc, F_DOC);
		break;
	case RK_GEN:
		if (l->gen_iframe != NONE) {
			/*
			 * 3.11+: the frame lives inside the generator; a finished one holds nothing.
			 * PyFrameState's first state that holds no locals: COMPLETED = 1 in 3.11-3.14
			 * (CREATED/SUSPENDED negative), 5 in 3.15 (renumbered from CREATED = 0, with
			 * EXECUTING = 4; measured on 3.15.2).
			 */
			int8_t done = l->major == 3 && l->minor >= 15 ? 5 : 1;

			if ((size_t)l->gen_frame_state >= hlen || (int8_t)hdr[l->gen_frame_state] >= done ||
			    iframe_code(x, xs->r, n->addr + l->gen_iframe, &code))
				break;
			ret = x_frame_locals(x, xs, n->addr + l->gen_iframe, code);
		} else {
			ret = x_field(x, xs, hdr, hlen, l->gen_frame, F_GIFRAME);
		}
		break;
	case RK_EXC:
		ret = x_field(x, xs, hdr, hlen, l->exc_args, F_ARGS);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->exc_notes, F_NOTES);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->exc_traceback, F_TRACEBACK);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->exc_context, F_CONTEXT);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->exc_cause, F_CAUSE);
		break;
	case RK_TRACEBACK:
		ret = x_field(x, xs, hdr, hlen, l->tb_next, F_TBNEXT);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->tb_frame, F_TBFRAME);
		break;
	case RK_TASK:
		ret = x_field(x, xs, hdr, hlen, l->task_coro, F_TCORO);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->task_fut_waiter, F_TWAITER);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->task_context, F_TCONTEXT);
		/* a Task is a Future */
		__attribute__((fallthrough));
	case RK_FUTURE:
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->future_callback0, F_FCALLBACK0);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->future_context0, F_FCONTEXT0);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->future_callbacks, F_FCALLBACKS);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->future_result, F_FRESULT);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->future_exception, F_FEXCEPTION);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->future_loop, F_FLOOP);
		break;
	case RK_TASKSTEP:
		ret = x_field(x, xs, hdr, hlen, l->taskstep_task, F_STEPTASK);
		if (!ret)
			ret = x_field(x, xs, hdr, hlen, l->taskstep_arg, F_STEPARG);
		break;
	case RK_TASKWAKEUP: ret = x_field(x, xs, hdr, hlen, l->taskwakeup_task, F_STEPTASK); break;
	case RK_TYPE:
		/* tp_dict (tp_mro / tp_bases are not followed: a base class is held by its module). */
		ret = x_field(x, xs, hdr, hlen, l->type_dict, F_DICT);
		break;
	case RK_MODULE: ret = x_field(x, xs, hdr, hlen, l->module_dict, F_DICT); break;
	case RK_FRAME:
		if (l->frameobj_frame != NONE) {
			/* 3.11+: a frame object points at its interpreter frame (in a thread's data stack,
			 * a generator, or its own tail once the function returned). */
			uint64_t f = (size_t)l->frameobj_frame + 8 <= hlen ? rd64(hdr + l->frameobj_frame) : 0;

			if (!remote__valid_ptr(f, 8) || iframe_code(x, xs->r, f, &code))
				break;
			if (l->frame_locals != NONE) {
				uint64_t loc;

				if (!remote__read_u64(xs->r, f + l->frame_locals, &loc) &&
				    emit(x, xs, E_FIELD, F_LOCALS, loc, 0))
					return 1;
			}
			ret = x_frame_locals(x, xs, f, code);
		} else {
			/* A thread's frame (a root) must still run the code it ran in the snapshot: a
			 * frame object freed and reused by another call would name the wrong function. */
			if (n->flags & NF_ROOT_FRAME) {
				const struct frame_info *f = NULL;
				int k;

				for (k = 0; k < x->nframes && !f; k++)
					if (x->frames[k].node == i)
						f = &x->frames[k];
				if (!f || (size_t)l->frame_code + 8 > hlen || rd64(hdr + l->frame_code) != f->code)
					return -ESTALE;
			}
			ret = x_field(x, xs, hdr, hlen, l->frame_locals, F_LOCALS);
			if (!ret)
				ret = x_frame_locals(x, xs, n->addr, rd64(hdr + l->frame_code));
		}
		break;
	case RK_NONE:
	case RK_PLAIN:
	case RK_OPAQUE:
	case RK_IFRAME: break;
	}
	if (ret > 0)
		return ret;
	if (rt->heap_inst) {
		int r2 = x_instance(x, xs, n->addr, rt);

		if (r2 > 0)
			return r2;
		if (!ret)
			ret = r2;
	}
	if (rt->opaque_hi > rt->opaque_lo) {
		int r2 = x_opaque(x, xs, hdr, hlen, rt->opaque_lo, rt->opaque_hi);

		if (r2 > 0)
			return r2;
	}
	return ret;
}

/* ---------------------------------------------------------------- strings */

/* A key or name for a label: str as text, int as a number, else "…" (ITEM keys). */
static void label_of(struct refs_ctx *x, struct remote *r, uint64_t obj, bool cstr, char *buf, size_t size,
		     bool *is_str, bool *is_int, int64_t *ival)
{
	const struct pyobj_type *pt;
	uint64_t type;
	int err;

	*is_str = *is_int = false;
	buf[0] = 0;
	if (!obj)
		return;
	if (cstr) {
		err = remote__read_cstr(r, obj, buf, size);
		*is_str = !err || err == -ENAMETOOLONG;
		return;
	}
	if (remote__read_u64(r, obj + x->l->object_type, &type) || pyobj_types__get(x->types, r, type, &pt) || !pt)
		return;
	if (pt->kind == PYOBJ_STR) {
		err = pyobj__read_str(x->l, r, obj, buf, size);
		if (err == -ENAMETOOLONG && size > 4)
			memcpy(buf + size - 4, "...", 4);
		*is_str = !err || err == -ENAMETOOLONG;
	} else if (pt->kind == PYOBJ_INT && x->l->long_digit != NONE) {
		/* <= 3.11 ob_size = signed digit count; 3.12+ lv_tag = ndigits << 3 | sign (0 +, 1 zero,
		 * 2 -) (gh-101291); 30-bit digits. Up to 2 digits: enough for ids, counters, pthread ids. */
		int64_t size_or_tag, nd;
		uint32_t d[3] = { 0 };
		bool neg;

		if (remote__read_i64(r, obj + x->l->varobject_size, &size_or_tag))
			return;
		if (x->l->minor >= 12) {
			nd = (uint64_t)size_or_tag >> 3;
			neg = (size_or_tag & 3) == 2;
		} else {
			nd = size_or_tag < 0 ? -size_or_tag : size_or_tag;
			neg = size_or_tag < 0;
		}
		if (nd > 2 || (nd && remote__read(r, obj + x->l->long_digit, d, 4 * nd)))
			return;
		*ival = (int64_t)(((uint64_t)(d[1] & 0x3fffffff) << 30) | (d[0] & 0x3fffffff));
		if (neg)
			*ival = -*ival;
		*is_int = true;
		snprintf(buf, size, "%lld", (long long)*ival);
	} else {
		snprintf(buf, size, "%s", pt->name);
	}
}

/* ---------------------------------------------------------------- roots */

static int modules_cb(uint64_t key, uint64_t value, void *arg)
{
	struct refs_ctx *x = arg;
	const struct py_layout *l = x->l;
	uint64_t type, dict;
	int rt;
	bool s, i;
	int64_t iv;

	if (x->nmods >= 65536 || remote__read_u64(x->raw, value + l->object_type, &type))
		return 0;
	rt = rt_resolve(x, type);
	if (rt < 0)
		return rt;
	if (x->rts[rt].kind != RK_MODULE || remote__read_u64(x->raw, value + l->module_dict, &dict) ||
	    !remote__valid_ptr(dict, 8))
		return 0;
	if (!(x->nmods & 255)) {
		struct module_info *m = realloc(x->mods, (x->nmods + 256) * sizeof(*m));

		if (!m)
			return -ENOMEM;
		x->mods = m;
	}
	x->mods[x->nmods].dict = dict;
	label_of(x, x->raw, key, false, x->mods[x->nmods].name, sizeof(x->mods[x->nmods].name), &s, &i, &iv);
	if (!s)
		snprintf(x->mods[x->nmods].name, sizeof(x->mods[x->nmods].name), "?");
	if (!strcmp(x->mods[x->nmods].name, "threading"))
		pyobj__dict_get_str(l, x->raw, dict, "_active", &x->threading_active);
	x->nmods++;
	return 0;
}

static int read_modules(struct refs_ctx *x)
{
	const struct py_layout *l = x->l;
	uint64_t modules = 0;
	int err;

	if (!x->t->interp_addr || l->interp_modules == NONE)
		return -ENOTSUP;
	err = remote__read_u64(x->raw, x->t->interp_addr + l->interp_modules, &modules);
	if (err)
		return err;
	err = pyobj__dict_iter(l, x->raw, modules, 65536, modules_cb, x);
	x->st->modules = x->nmods;
	return err < 0 ? err : 0;
}

/* obj.name for an instance of a Python class (dict, 3.11+ managed dict or shared-key values). */
static int inst_attr(struct refs_ctx *x, uint64_t obj, const char *name, uint64_t *value)
{
	const struct py_layout *l = x->l;
	const struct rtype *t;
	uint64_t type, word = 0, dict = 0, values = 0;
	int64_t cap = 64, n, i;
	int rt;

	if (remote__read_u64(x->raw, obj + l->object_type, &type) || (rt = rt_resolve(x, type)) < 0)
		return -EFAULT;
	t = &x->rts[rt];
	if (l->minor >= 11 && (t->flags & PY_TPFLAGS_MANAGED_DICT)) {
		if (remote__read_u64(x->raw, pyobj__managed_dict_at(l, obj), &word))
			return -EFAULT;
		if (l->minor == 12 && (word & 1)) {
			values = word + 1;
		} else if (word) {
			dict = word;
		} else if (l->minor == 11) {
			remote__read_u64(x->raw, obj - 32, &values);
		} else if (l->minor >= 13 && (t->flags & PY_TPFLAGS_INLINE_VALUES)) {
			unsigned char vh[8];

			if (!remote__read(x->raw, obj + t->basicsize, vh, 8) && vh[3]) {
				values = obj + t->basicsize + 8;
				cap = vh[0];
			}
		}
	} else if (t->dictoffset > 0) {
		remote__read_u64(x->raw, obj + t->dictoffset, &dict);
	}
	if (dict)
		return pyobj__dict_get_str(l, x->raw, dict, name, value);
	if (values && l->dictkeys_log2_size != NONE && l->dictkeys_header_size <= 64) {
		unsigned char khdr[64], e[16];
		uint64_t entries;

		if (remote__read(x->raw, t->cached_keys, khdr, l->dictkeys_header_size))
			return -EFAULT;
		memcpy(&n, khdr + l->dictkeys_nentries, 8);
		entries = t->cached_keys + l->dictkeys_indices + (1ull << (khdr[l->dictkeys_log2_index_bytes] & 15));
		for (i = 0; i < n && i < cap && i < 64; i++) {
			char key[64];

			if (remote__read(x->raw, entries + 16 * i, e, 16))
				return -EFAULT;
			if (pyobj__read_str(l, x->raw, rd64(e), key, sizeof(key)) == 0 && !strcmp(key, name))
				return remote__read_u64(x->raw, values + 8 * i, value);
		}
	}
	return -ENOENT;
}

/* threading._active = {ident: Thread}: a thread's name is its Thread's _name. */
static int active_cb(uint64_t key, uint64_t value, void *arg)
{
	struct refs_ctx *x = arg;
	char buf[32];
	bool s, in;
	int64_t iv = 0;
	uint64_t name;
	int i;

	label_of(x, x->raw, key, false, buf, sizeof(buf), &s, &in, &iv);
	if (!in)
		return 0;
	for (i = 0; i < x->nthreads; i++)
		if (x->threads[i].thread_id == (uint64_t)iv && !x->threads[i].name[0] &&
		    inst_attr(x, value, "_name", &name) == 0)
			label_of(x, x->raw, name, false, x->threads[i].name, sizeof(x->threads[i].name), &s, &in, &iv);
	return 0;
}

static int frame_add(struct refs_ctx *x, uint32_t node, int thread, uint64_t frame, uint64_t code, int32_t insn)
{
	if (x->nframes == x->capframes) {
		int cap = x->capframes ? x->capframes * 2 : 64;
		struct frame_info *f = realloc(x->frames, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		x->frames = f;
		x->capframes = cap;
	}
	x->frames[x->nframes++] = (struct frame_info){ node, thread, frame, code, insn };
	x->nodes[node].flags |= NF_ROOT_FRAME;
	return 0;
}

/*
 * Frames of live threads: interp->threads.head -> tstate->next; the innermost frame
 * (tstate->frame <= 3.10, cframe->current_frame 3.11/3.12, current_frame 3.13+) -> previous.
 * <= 3.10 frames are GC objects (already in the snapshot); 3.11+ interpreter frames are added
 * as nodes of their own. 3.12+ shim frames (owner >= 3: FRAME_OWNED_BY_CSTACK, 3.14
 * INTERPRETER) have no locals and are skipped.
 */
static int read_threads(struct refs_ctx *x, uint32_t iframe_rt)
{
	const struct py_layout *l = x->l;
	uint64_t ts = 0;
	int nt, err;

	if (!x->t->interp_addr || l->interp_threads_head == NONE || l->tstate_frame == NONE)
		return 0;
	x->threads = calloc(MAX_THREADS, sizeof(*x->threads));
	if (!x->threads)
		return -ENOMEM;
	if (remote__read_u64(x->raw, x->t->interp_addr + l->interp_threads_head, &ts))
		return 0;
	for (nt = 0; ts && nt < MAX_THREADS; nt++) {
		struct thread_info *ti = &x->threads[x->nthreads];
		uint64_t frame = 0, next = 0;
		int nf;

		if (!remote__valid_ptr(ts, 8) || remote__read_u64(x->raw, ts + l->tstate_next, &next))
			break;
		ti->tstate = ts;
		remote__read_u64(x->raw, ts + l->tstate_thread_id, &ti->thread_id);
		if (!remote__read_u64(x->raw, ts + l->tstate_frame, &frame) && frame && l->cframe_current_frame != NONE &&
		    remote__read_u64(x->raw, frame + l->cframe_current_frame, &frame))
			frame = 0;
		x->nthreads++;
		for (nf = 0; frame && remote__valid_ptr(frame, 8) && nf < MAX_FRAMES; nf++) {
			uint64_t prev = 0, code = 0;
			int32_t insn = -1;
			bool added;
			int64_t node;

			if (remote__read_u64(x->raw, frame + l->frame_previous, &prev))
				break;
			if (l->frameobj_frame == NONE) {
				/* <= 3.10: a frame object, but running frames are untracked (ceval.c
				 * _PyEval_EvalCodeWithName makes them with _PyFrame_New_NoTrack and tracks a
				 * frame only if it outlives the call): add it to the snapshot. */
				uint64_t ftype = 0;
				int rt;

				node = node_find(x, frame);
				if (node < 0 && !remote__read_u64(x->raw, frame + l->object_type, &ftype)) {
					rt = rt_resolve(x, ftype);
					if (rt < 0)
						return rt;
					if (x->rts[rt].kind == RK_FRAME) {
						node = node_add(x, frame, rt, &added);
						if (node == -ENOMEM)
							return -ENOMEM;
					}
				}
				remote__read_u64(x->raw, frame + l->frame_code, &code);
				remote__read_i32(x->raw, frame + l->frame_lasti, &insn);
				if (node >= 0 && (err = frame_add(x, node, x->nthreads - 1, frame, code, insn)))
					return err;
			} else {
				unsigned char owner = 0;
				uint64_t lasti = 0, ctype = 0;
				const struct pyobj_type *pt;

				if (l->frame_owner != NONE)
					remote__read(x->raw, frame + l->frame_owner, &owner, 1);
				if (owner < 3 && !iframe_code(x, x->raw, frame, &code) &&
				    !remote__read_u64(x->raw, code + l->object_type, &ctype) &&
				    !pyobj_types__get(x->types, x->raw, ctype, &pt) && pt && !strcmp(pt->name, "code")) {
					if (!remote__read_u64(x->raw, frame + l->frame_lasti, &lasti) && l->code_code_adaptive != NONE)
						insn = (int32_t)(lasti - (code + l->code_code_adaptive));
					node = node_add(x, frame, iframe_rt, &added);
					if (node == -ENOMEM)
						return -ENOMEM;
					if (node >= 0) {
						if ((err = frame_add(x, node, x->nthreads - 1, frame, code, insn)))
							return err;
					}
				}
			}
			frame = prev;
		}
		ts = next;
	}
	x->st->frames = x->nframes;
	if (x->threading_active)
		pyobj__dict_iter(l, x->raw, x->threading_active, MAX_THREADS, active_cb, x);
	return 0;
}

/* ---------------------------------------------------------------- census callback */

/* An instance of the asked type; gen 0-2 (the GC lists) or 3 (the permanent generation). */
static int add_candidate(struct refs_ctx *x, int64_t node, int gen)
{
	if (x->ncands == x->capcands) {
		uint32_t cap = x->capcands ? x->capcands * 2 : 1024;
		struct candidate *c = realloc(x->cands, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		x->cands = c;
		x->capcands = cap;
	}
	x->cands[x->ncands++] = (struct candidate){ (uint32_t)node, (uint8_t)gen };
	return 0;
}

static void visit(void *arg, uint64_t obj, const struct pyobj_type *type, int gen)
{
	struct refs_ctx *x = arg;
	int rt;
	int64_t i;
	bool added;

	if (x->err)
		return;
	rt = rt_resolve(x, type->addr);
	if (rt < 0) {
		x->err = rt;
		return;
	}
	i = node_add(x, obj, rt, &added);
	if (i == -ENOMEM) {
		x->err = -ENOMEM;
		return;
	}
	if (i < 0 || !added)
		return;
	x->nodes[i].gen = gen;
	if (gen == 3) { /* free-threaded: frozen (walk_permanent counts a GIL build's) */
		x->st->permanent++;
		if (x->rts[rt].match)
			x->st->frozen++;
	}
	if (x->rts[rt].match && add_candidate(x, i, gen))
		x->err = -ENOMEM;
}

/* ---------------------------------------------------------------- search */

static int build_reverse(struct refs_ctx *x)
{
	uint64_t e;
	uint32_t i, *fill;

	x->rev_off = calloc((size_t)x->nnodes + 1, sizeof(*x->rev_off));
	x->rev = malloc((x->nedges ? x->nedges : 1) * sizeof(*x->rev));
	fill = calloc((size_t)x->nnodes + 1, sizeof(*fill));
	if (!x->rev_off || !x->rev || !fill) {
		free(fill);
		return -ENOMEM;
	}
	for (e = 0; e < x->nedges; e++)
		x->rev_off[x->edges[e].child + 1]++;
	for (i = 0; i < x->nnodes; i++)
		x->rev_off[i + 1] += x->rev_off[i];
	for (e = 0; e < x->nedges; e++) {
		uint32_t c = x->edges[e].child;

		x->rev[x->rev_off[c] + fill[c]++] = (uint32_t)e;
	}
	free(fill);
	return 0;
}

static bool is_root(const struct refs_ctx *x, uint32_t n)
{
	return x->nodes[n].flags & (NF_ROOT_MODULE | NF_ROOT_GARBAGE | NF_ROOT_FRAME);
}

struct search {
	uint32_t *via;	 /* edge index + 1 that reached the node (0: not seen) */
	uint32_t *depth;
	uint32_t *queue;
	uint32_t *seen;	 /* nodes touched, to reset via[] */
	uint32_t nseen;
};

/*
 * BFS from target over reversed edges. Returns the root node (via[] gives the path), or -1;
 * *opaque_edge / *class_node: fallbacks (edge index + 1 into a C object; a class no root holds).
 */
static int64_t bfs(struct refs_ctx *x, struct search *s, uint32_t target, uint32_t *opaque_edge, int64_t *class_node)
{
	uint32_t qh = 0, qt = 0, k;
	int64_t found = -1;

	*opaque_edge = 0;
	*class_node = -1;
	s->via[target] = UINT32_MAX; /* seen, no edge */
	s->depth[target] = 0;
	s->seen[s->nseen++] = target;
	s->queue[qt++] = target;
	while (qh < qt) {
		uint32_t n = s->queue[qh++];

		if (is_root(x, n)) {
			found = n;
			break;
		}
		if (x->rts[x->nodes[n].rt].kind == RK_TYPE && *class_node < 0 && n != target)
			*class_node = n;
		if (s->depth[n] >= (uint32_t)x->o->max_depth)
			continue;
		for (k = x->rev_off[n]; k < x->rev_off[n + 1]; k++) {
			const struct edge *e = &x->edges[x->rev[k]];
			uint32_t p = e->parent;

			if (ekind_of(e) == E_OPAQUE) {
				if (!*opaque_edge)
					*opaque_edge = x->rev[k] + 1;
				continue;
			}
			if (s->via[p] || (x->nodes[p].flags & NF_CHANGED))
				continue;
			s->via[p] = x->rev[k] + 1;
			s->depth[p] = s->depth[n] + 1;
			s->seen[s->nseen++] = p;
			s->queue[qt++] = p;
		}
	}
	return found;
}

/* ---------------------------------------------------------------- chains */

static void node_info(struct refs_ctx *x, uint32_t i, struct refs_node *out)
{
	const struct node *n = &x->nodes[i];
	const struct rtype *rt = &x->rts[n->rt];
	const struct pyobj_type *pt;

	memset(out, 0, sizeof(*out));
	out->addr = rt->kind == RK_IFRAME ? 0 : n->addr;
	out->type_addr = rt->addr;
	copy_str(out->type, sizeof(out->type), rt->name);
	out->c_object = rt->c_object;
	if (rt->kind == RK_TYPE) {
		if (pyobj_types__get(x->types, x->raw, n->addr, &pt) == 0 && pt)
			copy_str(out->name, sizeof(out->name), pt->name);
	} else if ((rt->kind == RK_FUNCTION && x->l->func_code != NONE) || rt->kind == RK_GEN || rt->kind == RK_FRAME) {
		uint64_t code = 0, q = 0, fr = 0;
		int32_t off = x->l->code_qualname != NONE ? x->l->code_qualname : x->l->code_name;
		int err = 0;

		if (rt->kind == RK_FUNCTION)
			err = remote__read_u64(x->raw, n->addr + x->l->func_code, &code);
		else if (rt->kind == RK_FRAME && x->l->frameobj_frame != NONE)
			err = remote__read_u64(x->raw, n->addr + x->l->frameobj_frame, &fr) || !fr ||
			      iframe_code(x, x->raw, fr, &code);
		else if (rt->kind == RK_FRAME)
			err = remote__read_u64(x->raw, n->addr + x->l->frame_code, &code);
		else if (x->l->gen_iframe != NONE)
			err = iframe_code(x, x->raw, n->addr + x->l->gen_iframe, &code);
		else
			err = remote__read_u64(x->raw, n->addr + x->l->gen_frame, &fr) || !fr ||
			      remote__read_u64(x->raw, fr + x->l->frame_code, &code);
		if (!err && !remote__read_u64(x->raw, code + off, &q)) {
			err = pyobj__read_str(x->l, x->raw, q, out->name, sizeof(out->name));
			if (err && err != -ENAMETOOLONG)
				out->name[0] = 0;
		}
	}
}

/* A frame's function, file and line (code object fields; the line through addr2line). */
static void frame_place(struct refs_ctx *x, const struct frame_info *f, struct refs_chain *c)
{
	const struct py_layout *l = x->l;
	unsigned char code[512];
	int32_t first;
	uint64_t p;
	int err;

	c->line = -1;
	if (l->code_size <= 0 || l->code_size > (int)sizeof(code) || remote__read(x->raw, f->code, code, l->code_size))
		return;
	p = rd64(code + (l->code_qualname != NONE ? l->code_qualname : l->code_name));
	if ((err = pyobj__read_str(l, x->raw, p, c->function, sizeof(c->function))) && err != -ENAMETOOLONG)
		copy_str(c->function, sizeof(c->function), "?");
	if ((err = pyobj__read_str(l, x->raw, rd64(code + l->code_filename), c->file, sizeof(c->file))) &&
	    err != -ENAMETOOLONG)
		copy_str(c->file, sizeof(c->file), "?");
	memcpy(&first, code + l->code_firstlineno, 4);
	c->line = first;
	if (x->o->addr2line && f->insn >= 0) {
		uint8_t *tab = malloc(65536);
		size_t len = 0;
		int line;

		if (tab && !pyobj__read_bytes(l, x->raw, rd64(code + l->code_linetable), tab, 65536, &len)) {
			line = x->o->addr2line(l->minor, tab, len, first, f->insn);
			if (line > 0)
				c->line = line;
		}
		free(tab);
	}
}

/* Name of local `aux` of a frame: co_localsplusnames[aux] (3.11+) or varnames/cellvars/freevars. */
static void local_name(struct refs_ctx *x, uint64_t code, unsigned aux, char *buf, size_t size)
{
	const struct py_layout *l = x->l;
	unsigned char c[512];
	uint64_t tup = 0, item = 0;
	int64_t idx = aux;
	bool s, in;
	int64_t iv;

	copy_str(buf, size, "?");
	if (l->code_size <= 0 || l->code_size > (int)sizeof(c) || remote__read(x->raw, code, c, l->code_size))
		return;
	if (l->code_localsplusnames != NONE) {
		tup = rd64(c + l->code_localsplusnames);
	} else if (l->code_varnames != NONE) {
		int32_t nl;
		int64_t ncell;

		memcpy(&nl, c + l->code_nlocals, 4);
		ncell = tuple_len(x, x->raw, rd64(c + l->code_cellvars));
		if (idx < nl) {
			tup = rd64(c + l->code_varnames);
		} else if (idx < nl + ncell) {
			tup = rd64(c + l->code_cellvars);
			idx -= nl;
		} else {
			tup = rd64(c + l->code_freevars);
			idx -= nl + ncell;
		}
	}
	if (!tup || idx >= tuple_len(x, x->raw, tup) ||
	    remote__read_u64(x->raw, tup + l->tuple_item + 8 * idx, &item))
		return;
	label_of(x, x->raw, item, false, buf, size, &s, &in, &iv);
}

static const struct frame_info *frame_of(const struct refs_ctx *x, uint32_t node)
{
	int k;

	for (k = 0; k < x->nframes; k++)
		if (x->frames[k].node == node)
			return &x->frames[k];
	return NULL;
}

/*
 * Re-read one link (fresh, no cache): the holder still has its type and the referent is still
 * where the snapshot saw it. Fills the link's label. 0, or -ESTALE.
 */
static int check_link(struct refs_ctx *x, const struct edge *e, struct refs_link *out)
{
	struct xstate xs = { .mode = MODE_FIND, .r = x->raw };
	const struct node *p = &x->nodes[e->parent];
	unsigned kind = ekind_of(e), aux = eaux_of(e);
	int err;

	xs.want_kind = kind;
	xs.want_aux = aux;
	xs.want = x->nodes[e->child].addr;
	xs.budget = 1;
	err = extract(x, &xs, e->parent);
	if (err < 0 && !xs.found)
		return -ESTALE;
	if (!xs.found)
		return -ESTALE;
	out->index = -1;
	switch (kind) {
	case E_ITEM:
		out->edge = REFS_EDGE_ITEM;
		label_of(x, x->raw, xs.label, false, out->key, sizeof(out->key), &out->key_is_str, &out->key_is_int,
			 &out->key_int);
		break;
	case E_KEY: out->edge = REFS_EDGE_KEY; break;
	case E_INDEX: out->edge = REFS_EDGE_INDEX; out->index = aux; break;
	case E_ELEMENT: out->edge = REFS_EDGE_ELEMENT; break;
	case E_ATTRV:
	case E_SLOT: {
		bool s, in;
		int64_t iv;

		out->edge = REFS_EDGE_ATTR;
		label_of(x, x->raw, xs.label, kind == E_SLOT, out->key, sizeof(out->key), &s, &in, &iv);
		break;
	}
	case E_FIELD:
		out->edge = REFS_EDGE_FIELD;
		copy_str(out->key, sizeof(out->key), aux < NFIELDS ? field_names[aux] : "?");
		break;
	case E_CELL: out->edge = REFS_EDGE_CELL; break;
	case E_LOCAL: {
		uint64_t code = 0, f = p->addr;

		out->edge = REFS_EDGE_LOCAL;
		out->index = aux;
		if (x->rts[p->rt].kind == RK_FRAME && x->l->frameobj_frame != NONE)
			remote__read_u64(x->raw, p->addr + x->l->frameobj_frame, &f);
		if (x->rts[p->rt].kind == RK_GEN)
			f = p->addr + x->l->gen_iframe;
		if (x->rts[p->rt].kind == RK_IFRAME || x->l->frameobj_frame != NONE)
			iframe_code(x, x->raw, f, &code);
		else
			remote__read_u64(x->raw, p->addr + x->l->frame_code, &code);
		local_name(x, code, aux, out->key, sizeof(out->key));
		break;
	}
	case E_OPAQUE: out->edge = REFS_EDGE_OPAQUE; out->index = aux; break;
	}
	return 0;
}

/* The target itself must still be the object the snapshot saw. */
static bool target_same(struct refs_ctx *x, uint32_t t)
{
	uint64_t type;

	if (x->rts[x->nodes[t].rt].kind == RK_IFRAME)
		return true;
	return !remote__read_u64(x->raw, x->nodes[t].addr + x->l->object_type, &type) &&
	       type == x->rts[x->nodes[t].rt].addr;
}

/* Path root -> target from via[]; every link re-read; dict-of-object links collapsed. */
static int make_chain(struct refs_ctx *x, struct search *s, uint32_t target, int64_t top, uint32_t opaque_edge,
		      struct refs_chain *c)
{
	uint32_t path[512], n = 0, cur, k;
	struct refs_link *links;
	int nl = 0;

	/* path[] = edges from the top node down to the target */
	if (opaque_edge) {
		path[n++] = opaque_edge - 1;
		cur = x->edges[opaque_edge - 1].child;
	} else {
		cur = (uint32_t)top;
	}
	while (cur != target && n < ARRAY_SIZE(path)) {
		uint32_t e = s->via[cur];

		if (!e || e == UINT32_MAX)
			break;
		path[n++] = e - 1;
		cur = x->edges[e - 1].child;
	}
	if (cur != target)
		return -EPROTO;
	links = calloc(n ? n : 1, sizeof(*links));
	if (!links)
		return -ENOMEM;
	for (k = 0; k < n; k++) {
		const struct edge *e = &x->edges[path[k]];
		struct refs_link *lk = &links[nl];

		node_info(x, e->parent, &lk->from);
		if (check_link(x, e, lk)) {
			snprintf(c->why, sizeof(c->why),
				 "link %u of %u (%s @0x%llx) no longer holds the next object: it changed while "
				 "pyleak was reading",
				 k + 1, n, x->rts[x->nodes[e->parent].rt].name, (unsigned long long)x->nodes[e->parent].addr);
			c->status = REFS_LOST;
			free(links);
			return 0;
		}
		/* obj.__dict__['name'] -> obj.name; cls.__dict__['name'] -> cls.name */
		if (nl > 0 && lk->edge == REFS_EDGE_ITEM && lk->key_is_str && links[nl - 1].edge == REFS_EDGE_FIELD &&
		    !strcmp(links[nl - 1].key, "__dict__") && x->rts[x->nodes[e->parent].rt].kind == RK_DICT) {
			struct refs_link *prev = &links[nl - 1];

			prev->edge = REFS_EDGE_ATTR;
			copy_str(prev->key, sizeof(prev->key), lk->key);
			continue;
		}
		/* <= 3.10 gen.gi_frame -> frame local 'x' -> the generator's local 'x' (as 3.11+ reads it) */
		if (nl > 0 && lk->edge == REFS_EDGE_LOCAL && links[nl - 1].edge == REFS_EDGE_FIELD &&
		    !strcmp(links[nl - 1].key, "gi_frame")) {
			links[nl - 1].edge = REFS_EDGE_LOCAL;
			links[nl - 1].index = lk->index;
			copy_str(links[nl - 1].key, sizeof(links[nl - 1].key), lk->key);
			continue;
		}
		/* frame.f_locals['name'] (a frame whose locals() was materialised) -> local 'name' */
		if (nl > 0 && lk->edge == REFS_EDGE_ITEM && lk->key_is_str && links[nl - 1].edge == REFS_EDGE_FIELD &&
		    !strcmp(links[nl - 1].key, "f_locals")) {
			links[nl - 1].edge = REFS_EDGE_LOCAL;
			copy_str(links[nl - 1].key, sizeof(links[nl - 1].key), lk->key);
			continue;
		}
		nl++;
	}
	if (!target_same(x, target)) {
		snprintf(c->why, sizeof(c->why), "the object was freed or reused while pyleak was reading");
		c->status = REFS_LOST;
		free(links);
		return 0;
	}
	c->steps = calloc(n ? n : 1, sizeof(*c->steps));
	if (!c->steps) {
		free(links);
		return -ENOMEM;
	}
	for (k = 0; k < n; k++) {
		const struct edge *e = &x->edges[path[k]];
		const struct node *pn = &x->nodes[e->parent];
		struct refs_step *st = &c->steps[k];
		const struct frame_info *f;

		st->parent = pn->addr;
		st->parent_type = x->rts[pn->rt].addr;
		st->child = x->nodes[e->child].addr;
		st->kind_aux = e->kind_aux;
		if (x->rts[pn->rt].kind == RK_IFRAME && (f = frame_of(x, e->parent)))
			st->code = f->code;
	}
	c->nsteps = (int)n;
	c->links = links;
	c->nlinks = nl;
	return 0;
}

/* First edge of node i (edges are emitted node by node, in node order). */
static uint64_t first_edge_of(const struct refs_ctx *x, uint32_t i)
{
	uint64_t lo = 0, hi = x->nedges;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (x->edges[mid].parent < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void add_referent(struct refs_ctx *x, struct refs_chain *c, uint32_t child)
{
	const char *name = x->rts[x->nodes[child].rt].name;
	int k;

	if (x->rts[x->nodes[child].rt].kind == RK_TYPE)
		return; /* its class: held by every instance, explains nothing */
	for (k = 0; k < c->nreferents; k++)
		if (!strcmp(c->referents[k].type, name)) {
			c->referents[k].count++;
			return;
		}
	if (c->nreferents < REFS_MAX_REFERENT_TYPES) {
		copy_str(c->referents[c->nreferents].type, sizeof(c->referents[0].type), name);
		c->referents[c->nreferents++].count = 1;
	}
}

/* What the target holds: its referents' types, with those of its own __dict__ (<= 3.10, or a
 * materialised one) as if held directly, the way `obj.attr` reads. */
static void target_referents(struct refs_ctx *x, uint32_t target, struct refs_chain *c)
{
	uint64_t e, d;

	for (e = first_edge_of(x, target); e < x->nedges && x->edges[e].parent == target; e++) {
		uint32_t child = x->edges[e].child;

		if (child == target)
			continue;
		add_referent(x, c, child);
		if (ekind_of(&x->edges[e]) == E_FIELD && eaux_of(&x->edges[e]) == F_DICT)
			for (d = first_edge_of(x, child); d < x->nedges && x->edges[d].parent == child; d++)
				if (ekind_of(&x->edges[d]) == E_ITEM && x->edges[d].child != target)
					add_referent(x, c, x->edges[d].child);
	}
}

static void chain_for(struct refs_ctx *x, struct search *s, uint32_t target, struct refs_chain *c)
{
	uint32_t opaque_edge = 0, k;
	int64_t class_node, root;
	int err;

	memset(c, 0, sizeof(*c));
	c->line = -1;
	node_info(x, target, &c->target);
	s->nseen = 0;
	root = bfs(x, s, target, &opaque_edge, &class_node);
	if (root >= 0) {
		const struct node *rn = &x->nodes[root];

		c->status = REFS_FOUND;
		if (rn->flags & NF_ROOT_GARBAGE) {
			c->root = REFS_ROOT_GARBAGE;
		} else if (rn->flags & NF_ROOT_MODULE) {
			int m;

			c->root = REFS_ROOT_MODULE;
			for (m = 0; m < x->nmods; m++)
				if (x->mods[m].dict == rn->addr) {
					copy_str(c->module, sizeof(c->module), x->mods[m].name);
					break;
				}
		} else {
			const struct frame_info *f = frame_of(x, root);

			c->root = REFS_ROOT_THREAD;
			if (f) {
				copy_str(c->thread, sizeof(c->thread), x->threads[f->thread].name);
				c->thread_id = x->threads[f->thread].thread_id;
				frame_place(x, f, c);
			}
		}
		err = make_chain(x, s, target, root, 0, c);
	} else if (class_node >= 0) {
		c->status = REFS_FOUND;
		c->root = REFS_ROOT_CLASS;
		err = make_chain(x, s, target, class_node, 0, c);
	} else if (opaque_edge) {
		c->status = REFS_OPAQUE;
		c->root = REFS_ROOT_OPAQUE;
		snprintf(c->why, sizeof(c->why), "held by a C object of type %s whose references pyleak cannot read",
			 x->rts[x->nodes[x->edges[opaque_edge - 1].parent].rt].name);
		err = make_chain(x, s, target, -1, opaque_edge, c);
	} else {
		c->status = REFS_NOT_FOUND;
		if (x->st->timed_out || x->st->truncated)
			snprintf(c->why, sizeof(c->why),
				 "no holder in the partial snapshot (%s): raise %s",
				 x->st->timed_out ? "timed out" : "cut at --max-nodes",
				 x->st->timed_out ? "--timeout" : "--max-nodes");
		else if (s->nseen > 1)
			snprintf(c->why, sizeof(c->why),
				 "%u objects hold it, but no root reaches them within %d links: a reference cycle "
				 "the next collection frees, or held by C code or the C stack",
				 s->nseen - 1, x->o->max_depth);
		else
			snprintf(c->why, sizeof(c->why),
				 "no holder found among %lld objects (held only by C code, the C stack, untracked "
				 "or frozen objects, or freed meanwhile)",
				 (long long)x->nnodes);
		err = 0;
		if (!target_same(x, target)) {
			c->status = REFS_LOST;
			snprintf(c->why, sizeof(c->why), "the object was freed or reused while pyleak was reading");
		}
	}
	if (err) {
		c->status = REFS_LOST;
		snprintf(c->why, sizeof(c->why), "chain could not be rebuilt: %s", strerror(-err));
	}
	if (c->status == REFS_FOUND || c->status == REFS_OPAQUE)
		target_referents(x, target, c);
	for (k = 0; k < s->nseen; k++)
		s->via[s->seen[k]] = 0;
}

/* Up to k targets: half from the newest end of the young list, the rest spread over the rest. */
static int pick_targets(struct refs_ctx *x, int k, uint32_t *out)
{
	uint32_t *order = malloc((x->ncands ? x->ncands : 1) * sizeof(*order)), n = 0, i;
	int g, m = 0, newest;

	if (!order)
		return -ENOMEM;
	for (g = 0; g < 4; g++) /* young first; 3: the permanent generation */
		for (i = x->ncands; i-- > 0;)
			if (x->cands[i].gen == g)
				order[n++] = x->cands[i].node;
	if ((uint32_t)k > n)
		k = n;
	newest = (k + 1) / 2;
	for (i = 0; i < (uint32_t)newest; i++)
		out[m++] = order[i];
	for (i = 0; m < k; i++) {
		uint64_t at = newest + (uint64_t)(n - newest) * i / (k - newest);

		if (at >= n)
			break;
		out[m++] = order[at];
	}
	free(order);
	return m;
}

/* ---------------------------------------------------------------- API */

const char *refs_status__name(enum refs_status s)
{
	switch (s) {
	case REFS_FOUND: return "found";
	case REFS_OPAQUE: return "opaque";
	case REFS_NOT_FOUND: return "none";
	case REFS_LOST: return "lost";
	}
	return "?";
}

const char *refs_root__name(enum refs_root r)
{
	static const char *const names[] = { "none", "module", "thread", "garbage", "class", "opaque" };

	return (unsigned)r < ARRAY_SIZE(names) ? names[r] : "?";
}

const char *refs_edge__name(enum refs_edge e)
{
	static const char *const names[] = { "item", "key", "index", "element", "attr",
					     "field", "cell", "local", "opaque" };

	return (unsigned)e < ARRAY_SIZE(names) ? names[e] : "?";
}

void refs__free(struct refs_result *res)
{
	int i;

	if (!res)
		return;
	for (i = 0; i < res->nchains; i++) {
		free(res->chains[i].links);
		free(res->chains[i].steps);
	}
	free(res->chains);
	free(res);
}

static void ctx_free(struct refs_ctx *x)
{
	free(x->pc.tag);
	free(x->pc.data);
	free(x->nodes);
	free(x->hash);
	free(x->rts);
	free(x->rthash);
	free(x->edges);
	free(x->rev_off);
	free(x->rev);
	free(x->cands);
	free(x->threads);
	free(x->frames);
	free(x->mods);
	if (x->types && x->o && !x->o->types)
		pyobj_types__free(x->types);
}

/* What this version's table cannot read (3.14's tables are partial): said in the output. */
static void note_unreadable(const struct py_layout *l, struct refs_stats *st)
{
	static const struct {
		enum rkind k;
		const char *name;
	} kinds[] = {
		{ RK_DICT, "dict" },	     { RK_LIST, "list" },	  { RK_TUPLE, "tuple" },
		{ RK_SET, "set" },	     { RK_DEQUE, "deque" },	  { RK_CELL, "cell" },
		{ RK_FUNCTION, "function" }, { RK_METHOD, "method" },	  { RK_MODULE, "module" },
		{ RK_LRU, "lru_cache" },     { RK_FRAME, "frame" },	  { RK_GEN, "generator" },
	};
	size_t q, used = 0;

	for (q = 0; q < ARRAY_SIZE(kinds) && used < sizeof(st->unreadable_kinds); q++)
		if (!kind_supported(l, kinds[q].k))
			used += snprintf(st->unreadable_kinds + used, sizeof(st->unreadable_kinds) - used, "%s%s",
					 used ? ", " : "", kinds[q].name);
}

/* Step 1: every GC-tracked object, through a census walk (and the candidates of a type query). */
static int walk_heap(struct refs_ctx *x)
{
	struct census_opts co = { 0 };
	struct census *cen = NULL;
	const struct census_stats *cs;
	int err;

	co.types = x->types;
	/* The GC walk is the cheap part (~0.1 s per million objects, the referents ~0.8 s): it may
	 * use 40% of the time, so a --timeout cut still leaves time to read references. */
	co.budget_s = x->o->timeout_s * 0.4;
	co.max_nodes = x->o->max_nodes;
	co.top_containers = -1;
	co.visit = visit;
	co.visit_arg = x;
	co.visit_untracked = true;
	err = census__run(x->t, x->raw, &co, &cen);
	if (err)
		return err;
	cs = census__stats(cen);
	x->st->census_partial = cs->partial_generations > 0 || cs->timed_out;
	x->st->timed_out |= cs->timed_out;
	x->st->truncated |= cs->truncated;
	census__free(cen);
	return x->err;
}

/*
 * gc.freeze() (3.7+) moves every tracked object to the permanent generation, which the census
 * (like gc.get_objects()) leaves out; pre-fork servers freeze their module dicts and classes
 * at start-up, so a snapshot without them would have no roots. Walked here, forward only: a
 * frozen list only changes when gc.unfreeze() or a new gc.freeze() runs, and a broken link just
 * ends the walk (the objects read so far are validated by their type like any other).
 */
static int walk_permanent(struct refs_ctx *x)
{
	const struct py_layout *l = x->l;
	const uint64_t mask = l->minor >= 8 ? ~7ull : ~0ull;
	uint64_t head, cur, prev, hdr[2], obj, type;
	unsigned char gch[32];
	int64_t n = 0;
	bool added;
	int rt;

	/* free-threaded: frozen objects stay in the heaps, which the census walk visited */
	if (!x->t->gc_addr || l->gc_permanent_generation == NONE || l->gc_head_size > 32 || x->t->free_threaded ||
	    !l->gc_head_size)
		return 0;
	head = x->t->gc_addr + l->gc_permanent_generation + l->gc_gen_head;
	if (remote__read(x->raw, head, gch, l->gc_head_size))
		return 0;
	prev = head;
	memcpy(&cur, gch + l->gc_head_next, 8);
	cur &= mask;
	while (cur != head && n++ < x->o->max_nodes) {
		uint64_t back;

		if ((n & 4095) == 0 && out_of_time(x))
			break;
		if (!remote__valid_ptr(cur, 8) || remote__read(&x->cr, cur, gch, l->gc_head_size))
			break;
		memcpy(&back, gch + l->gc_head_prev, 8);
		if ((back & mask) != prev)
			break;
		obj = cur + l->gc_head_size;
		if (remote__read(&x->cr, obj, hdr, sizeof(hdr)))
			break;
		type = hdr[1];
		if (remote__valid_ptr(type, 8)) {
			rt = rt_resolve(x, type);
			if (rt < 0)
				return rt;
			int64_t i = x->rts[rt].name[0] != '?' ? node_add(x, obj, rt, &added) : -1;

			if (i == -ENOMEM)
				return -ENOMEM;
			if (i >= 0 && added) {
				x->nodes[i].gen = 3;
				if (x->rts[rt].match) {
					x->st->frozen++;
					if (add_candidate(x, i, 3))
						return -ENOMEM;
				}
			}
		}
		prev = cur;
		memcpy(&cur, gch + l->gc_head_next, 8);
		cur &= mask;
	}
	x->st->permanent = n;
	return 0;
}

/* The objects to explain: sampled instances of type_name, or the object at addr (added to the
 * snapshot when the GC does not track it: its holders are searched among tracked objects). */
static int find_targets(struct refs_ctx *x, const char *type_name, uint64_t addr, uint32_t *targets, int max)
{
	const struct pyobj_type *pt;
	uint64_t type = 0;
	int64_t ti;
	bool added;
	int rt;

	if (type_name) {
		if (!x->ncands) /* none among the objects read: said differently when cut short */
			return x->st->truncated || x->st->timed_out ? -E2BIG : -ENOENT;
		return pick_targets(x, max, targets);
	}
	ti = node_find(x, addr);
	if (ti < 0) {
		unsigned char hdr[32];

		/* the header: 16 bytes, 32 in a free-threaded build (a small object may end its mapping) */
		if (!remote__valid_ptr(addr, 8) ||
		    remote__read_prefix(x->raw, addr, hdr, sizeof(hdr), x->l->free_threaded == 1 ? 32 : 16))
			return -EINVAL;
		memcpy(&type, hdr + x->l->object_type, 8);
		if (!pyobj__refcnt_live(x->l, hdr) || pyobj_types__get(x->types, x->raw, type, &pt) || !pt)
			return -EINVAL;
		rt = rt_resolve(x, type);
		if (rt < 0)
			return rt;
		ti = node_add(x, addr, rt, &added);
		if (ti < 0)
			return ti == -E2BIG ? -EINVAL : (int)ti;
	}
	targets[0] = (uint32_t)ti;
	return 1;
}

/* Step 2: the roots: gc.garbage, module dicts of sys.modules, frames of live threads. */
static int read_roots(struct refs_ctx *x, uint32_t iframe_rt)
{
	int err, k;

	if (x->t->gc_garbage_addr && !remote__read_u64(x->raw, x->t->gc_garbage_addr, &x->garbage)) {
		int64_t g = node_find(x, x->garbage);

		if (g >= 0)
			x->nodes[g].flags |= NF_ROOT_GARBAGE;
	}
	err = read_modules(x);
	if (err == -ESRCH || err == -ENOMEM)
		return err;
	for (k = 0; k < x->nmods; k++) {
		int64_t m = node_find(x, x->mods[k].dict);

		if (m >= 0)
			x->nodes[m].flags |= NF_ROOT_MODULE;
	}
	return read_threads(x, iframe_rt);
}

/* Step 3: the referents of every snapshot object, through the page cache. */
static int read_referents(struct refs_ctx *x)
{
	uint32_t i;

	for (i = 0; i < x->nnodes; i++) {
		struct xstate xs = { .mode = MODE_COLLECT, .r = &x->cr, .budget = x->o->max_edges_per_object };
		const struct rtype *rt = &x->rts[x->nodes[i].rt];
		int err;

		if ((i & 4095) == 0 && out_of_time(x))
			break;
		err = extract(x, &xs, i);
		if (x->err)
			return x->err;
		if (err == -ESRCH)
			return -ESRCH;
		if (err == -ESTALE) {
			x->nodes[i].flags |= NF_CHANGED;
			x->st->changed_objects++;
		}
		if (rt->opaque_hi > rt->opaque_lo) {
			x->nodes[i].flags |= NF_OPAQUE;
			x->st->opaque_objects++;
		}
	}
	x->st->references = x->nedges;
	return 0;
}

/* Step 4: one BFS per target over the reversed edges, then the re-check of its chain. */
static int search(struct refs_ctx *x, const uint32_t *targets, int ntargets, struct refs_result *res)
{
	struct search s = { 0 };
	int err, k;

	err = build_reverse(x);
	if (err)
		return err;
	s.via = calloc((size_t)x->nnodes + 1, sizeof(*s.via));
	s.depth = calloc((size_t)x->nnodes + 1, sizeof(*s.depth));
	s.queue = malloc(((size_t)x->nnodes + 1) * sizeof(*s.queue));
	s.seen = malloc(((size_t)x->nnodes + 1) * sizeof(*s.seen));
	res->chains = calloc(ntargets ? ntargets : 1, sizeof(*res->chains));
	if (!s.via || !s.depth || !s.queue || !s.seen || !res->chains) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (k = 0; k < ntargets; k++) {
		chain_for(x, &s, targets[k], &res->chains[k]);
		res->nchains++;
	}
cleanup:
	free(s.via);
	free(s.depth);
	free(s.queue);
	free(s.seen);
	return err;
}

int refs__run(const struct py_target *t, struct remote *r, const struct refs_opts *o_in, const char *type_name,
	      uint64_t addr, struct refs_result **out)
{
	struct refs_opts o = o_in ? *o_in : (struct refs_opts){ 0 };
	struct refs_ctx x;
	struct refs_result *res = NULL;
	uint32_t targets[256];
	uint64_t t0, reads0 = r->reads, bytes0 = r->bytes;
	int ntargets, err, iframe_rt;

	*out = NULL;
	/* A free-threaded build keeps no GC lists: its objects are found in the mimalloc heaps
	 * (census_ft.c), for the builds whose heap layout pyleak knows */
	if (!t->layout || (t->free_threaded && !census_ft__supported(t)))
		return -ENOTSUP;
	if (o.max_depth <= 0)
		o.max_depth = REFS_DEFAULT_DEPTH;
	if (o.max_depth > 500)
		o.max_depth = 500;
	if (o.max_nodes <= 0)
		o.max_nodes = REFS_DEFAULT_MAX_NODES;
	if (o.max_edges_per_object <= 0)
		o.max_edges_per_object = REFS_DEFAULT_MAX_EDGES_PER_OBJECT;
	if (o.max_chains <= 0)
		o.max_chains = REFS_DEFAULT_CHAINS;
	if (o.max_chains > (int)ARRAY_SIZE(targets))
		o.max_chains = ARRAY_SIZE(targets);
	if (o.timeout_s <= 0)
		o.timeout_s = REFS_DEFAULT_TIMEOUT_S;

	memset(&x, 0, sizeof(x));
	res = calloc(1, sizeof(*res));
	if (!res)
		return -ENOMEM;
	x.t = t;
	x.l = t->layout;
	x.raw = r;
	x.o = &o;
	x.st = &res->st;
	x.want_type = type_name;
	x.deadline_ns = now_mono_ns() + (uint64_t)(o.timeout_s * 1e9);
	x.types = o.types ? o.types : pyobj_types__new(t->layout);
	x.pc.raw = r;
	x.pc.tag = calloc(PC_SLOTS, sizeof(*x.pc.tag));
	x.pc.data = malloc((size_t)PC_SLOTS * PC_PAGE);
	if (!x.types || !x.pc.tag || !x.pc.data) {
		err = -ENOMEM;
		goto cleanup;
	}
	x.cr = *r;
	x.cr.read = pc_read;
	x.cr.ctx = &x.pc;
	note_unreadable(t->layout, &res->st);

	t0 = now_mono_ns();
	iframe_rt = rt_resolve(&x, 0); /* rts[0]: 3.11+ interpreter frames (no type object) */
	err = iframe_rt < 0 ? iframe_rt : walk_heap(&x);
	if (!err)
		err = walk_permanent(&x);
	if (err)
		goto cleanup;
	res->st.instances = x.ncands;
	ntargets = find_targets(&x, type_name, addr, targets, o.max_chains);
	if (ntargets < 0) {
		err = ntargets;
		goto cleanup;
	}
	err = read_roots(&x, iframe_rt);
	if (err)
		goto cleanup;
	res->st.objects = x.nnodes;
	err = read_referents(&x);
	if (!err && t->pid > 0 && !python__alive(t))
		err = -ESRCH;
	if (err)
		goto cleanup;
	res->st.snapshot_ms = (now_mono_ns() - t0) / 1e6;

	t0 = now_mono_ns();
	err = search(&x, targets, ntargets, res);
	if (!err && t->pid > 0 && !python__alive(t))
		err = -ESRCH;
	if (err)
		goto cleanup;
	res->st.search_ms = (now_mono_ns() - t0) / 1e6;
	res->st.reads = r->reads - reads0;
	res->st.bytes_read = r->bytes - bytes0;
	*out = res;
	res = NULL;
cleanup:
	ctx_free(&x);
	refs__free(res);
	return err;
}

int refs__recheck(const struct py_target *t, struct remote *r, struct pyobj_types *types,
		  const struct refs_chain *c, char *why, size_t size)
{
	struct refs_opts o = { .max_nodes = 1024, .max_edges_per_object = REFS_DEFAULT_MAX_EDGES_PER_OBJECT,
			       .types = types };
	struct refs_stats st = { 0 };
	struct refs_ctx x;
	uint64_t type;
	int k, ret = 0, iframe_rt;

	why[0] = 0;
	if (!t->layout || !types)
		return -ENOTSUP;
	memset(&x, 0, sizeof(x));
	x.t = t;
	x.l = t->layout;
	x.raw = r;
	x.cr = *r; /* no page cache: every read fresh */
	x.o = &o;
	x.st = &st;
	x.types = types;
	x.deadline_ns = now_mono_ns() + 5ull * 1000000000ull;
	iframe_rt = rt_resolve(&x, 0);
	if (iframe_rt < 0) {
		ret = iframe_rt;
		goto out;
	}
	for (k = 0; k < c->nsteps && !ret; k++) {
		const struct refs_step *s = &c->steps[k];
		struct refs_link lk;
		struct edge e;
		int rt = s->code ? iframe_rt : rt_resolve(&x, s->parent_type);
		int64_t p, ch;
		bool added;

		if (rt < 0) {
			snprintf(why, size, "link %d of %d: the type of the holder @0x%llx is gone", k + 1, c->nsteps,
				 (unsigned long long)s->parent);
			ret = rt == -ENOMEM ? -ENOMEM : 1;
			break;
		}
		p = node_add(&x, s->parent, (uint32_t)rt, &added);
		ch = node_add(&x, s->child, 0, &added);
		if (p < 0 || ch < 0) {
			ret = -ENOMEM;
			break;
		}
		x.nodes[p].rt = (uint32_t)rt; /* it may have been added as the previous step's child */
		if (s->code) { /* a 3.11+ interpreter frame: still running the same code? */
			struct frame_info *f = realloc(x.frames, (size_t)(x.nframes + 1) * sizeof(*f));

			if (!f) {
				ret = -ENOMEM;
				break;
			}
			x.frames = f;
			x.frames[x.nframes++] = (struct frame_info){ .node = (uint32_t)p, .frame = s->parent, .code = s->code };
		}
		e.parent = (uint32_t)p;
		e.child = (uint32_t)ch;
		e.kind_aux = s->kind_aux;
		if (check_link(&x, &e, &lk)) {
			snprintf(why, size, "link %d of %d (%s @0x%llx) no longer holds the next object", k + 1, c->nsteps,
				 s->code ? "frame" : x.rts[rt].name, (unsigned long long)s->parent);
			ret = 1;
		}
	}
	if (!ret && c->target.addr &&
	    (remote__read_u64(r, c->target.addr + t->layout->object_type, &type) || type != c->target.type_addr)) {
		snprintf(why, size, "the object @0x%llx was freed or reused", (unsigned long long)c->target.addr);
		ret = 1;
	}
	if (ret == 1 && t->pid > 0 && !python__alive(t))
		ret = -ESRCH;
out:
	x.types = NULL; /* the caller's */
	o.types = types;
	ctx_free(&x);
	return ret;
}

/* ---------------------------------------------------------------- text */

/*
 * Target strings are hostile: util/escape's esc_text decides what a terminal sees (C0, DEL, C1,
 * bidi controls, invalid UTF-8 and backslashes as visible escapes); the quote that delimits a
 * key or name in a chain is escaped on top of it (a backslash before it cannot come from the
 * string: esc_text doubles every backslash).
 */
static void sb_escaped(struct strbuf *sb, const char *s, char quote)
{
	struct strbuf e;
	const char *p;

	sb_init(&e);
	esc_text(&e, s);
	if (e.oom) {
		sb->oom = true;
	} else {
		for (p = e.buf; p && *p; p++) {
			if (quote && *p == quote)
				sb_putc(sb, '\\');
			sb_putc(sb, *p);
		}
	}
	sb_free(&e);
}

static void sb_node(struct strbuf *sb, const struct refs_node *n)
{
	if (n->name[0] && !n->c_object) { /* a class (of `type` or of a metaclass): its own name */
		sb_escaped(sb, n->name, 0);
	} else if (n->c_object) {
		sb_putc(sb, '(');
		sb_escaped(sb, n->type, 0);
		if (n->name[0]) {
			sb_putc(sb, ' ');
			sb_escaped(sb, n->name, 0);
		}
		sb_putc(sb, ')');
	} else {
		sb_escaped(sb, n->type, 0);
	}
}

static void sb_edge(struct strbuf *sb, const struct refs_link *lk)
{
	switch (lk->edge) {
	case REFS_EDGE_ITEM:
		if (lk->key_is_str) {
			sb_puts(sb, "['");
			sb_escaped(sb, lk->key, '\'');
			sb_puts(sb, "']");
		} else if (lk->key_is_int) {
			sb_printf(sb, "[%lld]", (long long)lk->key_int);
		} else {
			sb_puts(sb, "[…]");
		}
		break;
	case REFS_EDGE_KEY: sb_puts(sb, " (a key)"); break;
	case REFS_EDGE_INDEX: sb_printf(sb, "[%lld]", (long long)lk->index); break;
	case REFS_EDGE_ELEMENT: sb_puts(sb, "{…}"); break;
	case REFS_EDGE_ATTR:
	case REFS_EDGE_FIELD:
		sb_putc(sb, '.');
		sb_escaped(sb, lk->key, 0);
		break;
	case REFS_EDGE_CELL: sb_puts(sb, ".cell_contents"); break;
	case REFS_EDGE_LOCAL:
		sb_puts(sb, " local '");
		sb_escaped(sb, lk->key, '\'');
		sb_putc(sb, '\'');
		break;
	case REFS_EDGE_OPAQUE: sb_printf(sb, " +0x%llx", (unsigned long long)lk->index); break;
	}
}

/* The root a chain starts from ("sys.modules['svc'].__dict__", "thread 'x' frame f (a.py:3)"). */
static void sb_root(struct strbuf *sb, const struct refs_chain *c, const struct refs_node *top)
{
	const char *base;

	switch (c->root) {
	case REFS_ROOT_MODULE:
		sb_puts(sb, "sys.modules['");
		sb_escaped(sb, c->module, '\'');
		sb_puts(sb, "'].__dict__");
		break;
	case REFS_ROOT_GARBAGE: sb_puts(sb, "gc.garbage"); break;
	case REFS_ROOT_THREAD:
		base = strrchr(c->file, '/');
		sb_puts(sb, "thread '");
		sb_escaped(sb, c->thread[0] ? c->thread : "?", '\'');
		sb_puts(sb, "' frame ");
		sb_escaped(sb, c->function, 0);
		sb_puts(sb, " (");
		sb_escaped(sb, base ? base + 1 : c->file, 0);
		sb_printf(sb, ":%d)", c->line);
		break;
	case REFS_ROOT_CLASS:
		sb_puts(sb, "class ");
		sb_node(sb, top);
		break;
	case REFS_ROOT_OPAQUE:
		sb_node(sb, top);
		sb_printf(sb, " @0x%llx", (unsigned long long)top->addr);
		break;
	default: sb_node(sb, top); break;
	}
}

void refs__chain_text(const struct refs_chain *c, struct strbuf *sb)
{
	int i;

	if (c->status == REFS_LOST || c->status == REFS_NOT_FOUND) {
		sb_puts(sb, c->status == REFS_LOST ? "chain lost: " : "no chain: ");
		sb_node(sb, &c->target);
		sb_printf(sb, " @0x%llx: ", (unsigned long long)c->target.addr);
		sb_escaped(sb, c->why, 0);
		return;
	}
	if (c->status == REFS_OPAQUE) {
		sb_escaped(sb, c->why, 0);
		sb_puts(sb, ": ");
	}
	if (!c->nlinks) { /* the object is a root itself (a module's __dict__, gc.garbage) */
		sb_root(sb, c, &c->target);
		if (c->root != REFS_ROOT_OPAQUE)
			sb_printf(sb, " @0x%llx (a root)", (unsigned long long)c->target.addr);
		return;
	}
	for (i = 0; i < c->nlinks; i++) {
		const struct refs_link *lk = &c->links[i];

		if (i == 0) {
			sb_root(sb, c, &lk->from);
		} else {
			/* "(type)" annotates what the previous link named: no arrow before it. */
			sb_puts(sb, lk->from.c_object ? " " : " → ");
			sb_node(sb, &lk->from);
		}
		sb_edge(sb, lk);
	}
	sb_puts(sb, " → ");
	sb_node(sb, &c->target);
	sb_printf(sb, " @0x%llx", (unsigned long long)c->target.addr);
}
