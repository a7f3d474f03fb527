/* SPDX-License-Identifier: BSD-2-Clause */
/* ABI between bpf/alloc.bpf.c and userspace/probes/alloc.c: per-(pid, type) allocation counters. */
#ifndef PYLEAK_ALLOC_H
#define PYLEAK_ALLOC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/*
 * Map sizes (all preallocated: uprobes run in atomic context).  alloc_counts 48 B × 65536 ≈ 3 MiB
 * + hash overhead.  A full map bumps ALLOC_CNT_TYPES_FULL / ALLOC_CNT_PID_FULL.
 */
#define ALLOC_MAX_PIDS	 4096
#define ALLOC_MAX_TYPES	 65536 /* (pid, type) pairs over all pids */
#define ALLOC_YOUNG_HARD 4096  /* hard cap of nodes per young-list walk (bpf_loop bound) */
#define ALLOC_NODE_READ	 64    /* bytes read per young node: GC head + ob_refcnt + ob_type */

/* Value of the `alloc_targets` hash, key = tgid; written by userspace from the per-version layout
 * (shared/reference/cpython-internals.md §2, §5, §6). */
struct alloc_target {
	__u64 gen0_head;      /* &gcstate->generations[0].head (a PyGC_Head) */
	__u64 gen0_count;     /* &generations[0].count (int) */
	__u64 gen0_threshold; /* &generations[0].threshold (int) */
	__u32 gc_head_size;   /* sizeof(PyGC_Head): 32 in 3.6/3.7, 16 after */
	__u32 head_next;      /* offset of _gc_next inside PyGC_Head (0) */
	__u32 ob_type;	      /* offset of ob_type in PyObject (8) */
	__u32 ob_size;	      /* offset of ob_size in PyVarObject (16) */
	__u32 tp_basicsize;   /* 32 */
	__u32 tp_itemsize;    /* 40 */
	__u32 tp_flags;	      /* 168 */
	__u32 young_max;      /* nodes per walk; 0 = no young sampling for this pid */
	__u32 flags;	      /* ALLOC_T_* */
	__u32 pad;
};
/* The collector hook reports GENERATION_AUTO (3.13 uprobe tier): sample only when
 * count0 > threshold0, i.e. when gc_select_generation() will pick a generation. */
#define ALLOC_T_SKIP_BELOW_THRESHOLD 1

/*
 * At most one young-list walk per pid per ALLOC_WALK_MIN_NS: a GC-heavy target runs thousands of
 * young collections a second and a 256-node walk costs tens of µs (measured 20-45% slowdown at
 * 6000 collections/s without the limit). The type mix of the walked lists is the sample; the net
 * new object count (young_count_sum) still adds up every collection.
 */
#define ALLOC_WALK_MIN_NS (20ull * 1000 * 1000)

/* Key / value of `alloc_counts` (cumulative since the pid was registered). */
struct alloc_key {
	__u32 pid;
	__u32 pad;
	__u64 type; /* PyTypeObject* in the target */
};

struct alloc_val {
	__u64 young;	   /* young-list nodes of this type seen at collection starts */
	__u64 allocs;	   /* exact: allocator entries with this type */
	__u64 frees;	   /* exact: PyObject_GC_Del of objects of this type */
	__u64 alloc_bytes; /* tp_basicsize + n × tp_itemsize at allocation */
	__u64 free_bytes;
	__u64 pad;
};

/* Value of `alloc_pids`, key = tgid. */
struct alloc_pid_stats {
	/* young sample (tier 1) */
	__u64 walks;	      /* collections whose young list was sampled */
	__u64 nodes;	      /* nodes counted over all walks */
	__u64 young_count_sum; /* Σ generations[0].count at those collections = net new GC objects */
	__u64 walk_errors;    /* walks stopped by an unreadable node */
	__u64 walk_truncated; /* walks that hit young_max before the list head */
	__u64 skipped;	      /* collector entries that will not collect (3.13 AUTO below threshold) */
	__u64 last_walk_ns;   /* bpf_ktime_get_ns() of the latest walk: walks are rate-limited */
	__u64 rate_limited;   /* collections counted but not walked (ALLOC_WALK_MIN_NS) */
	/* exact (tier 2) */
	__u64 allocs, frees, alloc_bytes, free_bytes;
	__u64 gc_allocs;      /* allocations of Py_TPFLAGS_HAVE_GC types */
	__u64 type_errors;    /* type object unreadable: counted under type 0 */
	/*
	 * Completeness check of exact mode against CPython's own bookkeeping: between two
	 * collections generations[0].count goes up by one per GC allocation and down by one per
	 * PyObject_GC_Del while positive, and the collection resets it (gc__start comes before the
	 * reset in 3.6–3.14).  `shadow` replays that from the probes; at the next collection start
	 * both are compared — only for windows with the exact probes attached throughout.
	 */
	__s64 shadow;
	__u64 shadow_seq;     /* exact_seq when this window started (0 = window not valid) */
	__u64 check_windows;
	__s64 check_expected; /* Σ count0 over checked windows */
	__s64 check_probed;   /* Σ shadow over checked windows */
};

/* Cookie of the exact-mode uprobes: which allocator function, which argument holds n. */
enum alloc_site {
	ALLOC_SITE_FREE = 0,	/* PyObject_GC_Del(op) */
	ALLOC_SITE_TYPE = 1,	/* f(type): _PyObject_GC_New, _PyObject_New */
	ALLOC_SITE_TYPE_N,	/* f(type, n): _PyObject_GC_NewVar, _PyObject_NewVar */
	ALLOC_SITE_GENERIC,	/* PyType_GenericAlloc(type, nitems): nitems + 1 items */
};

/* Indices of the per-CPU `alloc_counters` array. */
enum alloc_counter {
	ALLOC_CNT_TYPES_FULL = 0, /* alloc_counts full: a (pid, type) not counted */
	ALLOC_CNT_PID_FULL,	  /* alloc_pids full */
	ALLOC_CNT_HITS,		  /* exact probe hits (all pids), for the overhead budget */
	ALLOC_CNT_MAX,
};

#define ALLOC_TPFLAGS_HAVE_GC (1ull << 14)

#endif /* PYLEAK_ALLOC_H */
