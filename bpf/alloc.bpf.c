// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Allocation rates per (pid, type): a bounded sample of the young GC list at every collection
 * start (tier 1, near free) and, on request, allocator uprobes counted in the kernel (tier 2). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#include "alloc.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Written by userspace while running (.bss is mmap'ed): exact_on is cleared *before* the exact
 * probes are detached and exact_seq bumped *after* they are attached, so a collection window
 * that saw the same non-zero exact_seq at both ends had the probes attached throughout.
 */
__u64 exact_seq = 0;
__u32 exact_on = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ALLOC_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct alloc_target);
} alloc_targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ALLOC_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct alloc_pid_stats);
} alloc_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ALLOC_MAX_TYPES);
	__type(key, struct alloc_key);
	__type(value, struct alloc_val);
} alloc_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ALLOC_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} alloc_counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&alloc_counters, &idx);

	if (c)
		(*c)++;
}

static __always_inline struct alloc_pid_stats *pid_stats_get(__u32 tgid)
{
	struct alloc_pid_stats *ps, zero = {};

	ps = bpf_map_lookup_elem(&alloc_pids, &tgid);
	if (ps)
		return ps;
	bpf_map_update_elem(&alloc_pids, &tgid, &zero, BPF_NOEXIST);
	ps = bpf_map_lookup_elem(&alloc_pids, &tgid);
	if (!ps)
		count(ALLOC_CNT_PID_FULL);
	return ps;
}

static __always_inline struct alloc_val *type_val_get(__u32 tgid, __u64 type)
{
	struct alloc_key key = { .pid = tgid, .type = type };
	struct alloc_val *v, zero = {};

	v = bpf_map_lookup_elem(&alloc_counts, &key);
	if (v)
		return v;
	bpf_map_update_elem(&alloc_counts, &key, &zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&alloc_counts, &key);
	if (!v)
		count(ALLOC_CNT_TYPES_FULL);
	return v;
}

/* ---------------------------------------------------------------- young sample (tier 1) */

struct walk_ctx {
	__u64 head;	/* list head address: the walk ends when it comes back here */
	__u64 cur;	/* node being visited */
	__u64 last_type; /* run-length coalescing: consecutive objects often share a type */
	__u64 run;
	__u32 tgid;
	__u32 head_next;
	__u32 type_off; /* gc_head_size + ob_type */
	__u32 nodes;
	__u32 error;
	__u32 done;
};

/*
 * The walk state lives in a per-CPU map value, not on the stack: the verifier follows bpf_loop
 * callbacks with exact stack constants (run = 1359, 1360, ...) and gives up ("sequence of 8193
 * jumps is too complex"); map memory is an unknown scalar to it, so the callback converges.
 * Another uprobe hit preempting this one on the same CPU could clobber it: at worst one sample
 * miscounted, and collections are rare.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk_ctx);
} walk_state SEC(".maps");

struct walk_ref {
	struct walk_ctx *w;
};

static __always_inline void flush_run(struct walk_ctx *w)
{
	struct alloc_val *v;

	if (!w->run)
		return;
	v = type_val_get(w->tgid, w->last_type);
	if (v)
		__sync_fetch_and_add(&v->young, w->run);
	w->run = 0;
}

static long walk_step(__u32 i, void *ctx)
{
	struct walk_ctx *w = ((struct walk_ref *)ctx)->w;
	__u64 buf[ALLOC_NODE_READ / 8] = {};
	__u32 no, to;
	__u64 next, type;

	if (!w)
		return 1;
	no = w->head_next;
	to = w->type_off;
	/* 3.8+: _gc_next is a plain pointer outside collections; 3.14.0–3.14.4 keep the old-space
	 * bit in bit 0 of _gc_next: mask the low bits (nodes are 16-byte aligned). */
	if (w->cur == w->head || !w->cur || (w->cur & 7)) {
		w->done = 1;
		return 1;
	}
	if (bpf_probe_read_user(buf, sizeof(buf), (const void *)w->cur)) {
		/* The 64-byte read may run past a small object at the end of a mapping: retry
		 * with just the two words we need. */
		if (bpf_probe_read_user(&next, sizeof(next), (const void *)(w->cur + (no & 56))) ||
		    bpf_probe_read_user(&type, sizeof(type), (const void *)(w->cur + (to & 56)))) {
			w->error = 1;
			return 1;
		}
	} else {
		next = buf[(no / 8) & 7];
		type = buf[(to / 8) & 7];
	}
	next &= ~3ull;
	if (type != w->last_type) {
		flush_run(w);
		w->last_type = type;
	}
	w->run++;
	w->nodes++;
	w->cur = next;
	return 0;
}

static __always_inline int young_sample(__s32 gen)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct alloc_pid_stats *ps;
	struct alloc_target *t;
	struct walk_ref ref = {};
	struct walk_ctx *w;
	__s32 cnt = 0, thr = 0;
	__u32 max, zero = 0;

	t = bpf_map_lookup_elem(&alloc_targets, &tgid);
	if (!t || !t->gen0_head)
		return 0;
	if (bpf_probe_read_user(&cnt, sizeof(cnt), (const void *)t->gen0_count))
		cnt = -1;
	if ((t->flags & ALLOC_T_SKIP_BELOW_THRESHOLD) && gen < 0) {
		if (bpf_probe_read_user(&thr, sizeof(thr), (const void *)t->gen0_threshold))
			thr = 0;
		if (cnt >= 0 && cnt <= thr) {
			ps = pid_stats_get(tgid);
			if (ps)
				__sync_fetch_and_add(&ps->skipped, 1);
			return 0;
		}
	}
	ps = pid_stats_get(tgid);
	if (!ps)
		return 0;

	/* Exact-mode completeness window (see alloc.h). */
	if (ps->shadow_seq && ps->shadow_seq == exact_seq && exact_on && cnt >= 0) {
		__sync_fetch_and_add(&ps->check_windows, 1);
		__sync_fetch_and_add(&ps->check_expected, cnt);
		__sync_fetch_and_add(&ps->check_probed, ps->shadow);
	}
	ps->shadow = 0;
	ps->shadow_seq = exact_on ? exact_seq : 0;

	max = t->young_max;
	if (!max)
		return 0;
	/* Every collection counts towards the net new objects; only some are walked. */
	if (cnt > 0)
		__sync_fetch_and_add(&ps->young_count_sum, cnt);
	{
		__u64 now = bpf_ktime_get_ns();

		if (now - ps->last_walk_ns < ALLOC_WALK_MIN_NS) {
			__sync_fetch_and_add(&ps->rate_limited, 1);
			return 0;
		}
		ps->last_walk_ns = now;
	}
	if (max > ALLOC_YOUNG_HARD)
		max = ALLOC_YOUNG_HARD;
	w = bpf_map_lookup_elem(&walk_state, &zero);
	if (!w)
		return 0;
	__builtin_memset(w, 0, sizeof(*w));
	w->head = t->gen0_head;
	w->tgid = tgid;
	w->head_next = t->head_next;
	w->type_off = t->gc_head_size + t->ob_type;
	if (w->head_next > ALLOC_NODE_READ - 8 || w->type_off > ALLOC_NODE_READ - 8)
		return 0;
	if (bpf_probe_read_user(&w->cur, sizeof(w->cur), (const void *)(w->head + w->head_next))) {
		__sync_fetch_and_add(&ps->walk_errors, 1);
		return 0;
	}
	w->cur &= ~3ull;
	ref.w = w;
	bpf_loop(max, walk_step, &ref, 0);
	flush_run(w);

	__sync_fetch_and_add(&ps->walks, 1);
	__sync_fetch_and_add(&ps->nodes, w->nodes);
	if (w->error)
		__sync_fetch_and_add(&ps->walk_errors, 1);
	else if (!w->done)
		__sync_fetch_and_add(&ps->walk_truncated, 1);
	return 0;
}

/* python:gc__start(int generation): before the young list is merged and count0 reset. Every
 * collection, whatever its generation, starts with the young list = objects since the last one. */
SEC("usdt")
int BPF_USDT(young_usdt, int generation)
{
	return young_sample(generation);
}

/* Collector entry (uprobe tier): the cookie is a GC_GENSPEC_* of bpf/gc.h; only "argument 1"
 * (3.9–3.13) matters here, to tell 3.13's GENERATION_AUTO (-1) from a real generation. */
SEC("uprobe")
int young_collector(struct pt_regs *ctx)
{
	__u64 spec = bpf_get_attach_cookie(ctx);
	__s32 gen = 0;

	if (spec == 1)
		gen = (__s32)PT_REGS_PARM2(ctx);
	return young_sample(gen);
}

/* ---------------------------------------------------------------- exact (tier 2) */

static __always_inline int on_alloc(__u32 tgid, const struct alloc_target *t, struct alloc_pid_stats *ps,
				    __u64 type, __s64 n)
{
	struct alloc_val *v;
	__s64 basic = 0, item = 0;
	__u64 flags = 0, bytes;

	if (bpf_probe_read_user(&basic, sizeof(basic), (const void *)(type + t->tp_basicsize)) ||
	    bpf_probe_read_user(&item, sizeof(item), (const void *)(type + t->tp_itemsize)) ||
	    bpf_probe_read_user(&flags, sizeof(flags), (const void *)(type + t->tp_flags))) {
		__sync_fetch_and_add(&ps->type_errors, 1);
		type = 0;
		basic = item = 0;
	}
	if (n < 0 || n > (1ll << 40))
		n = 0;
	bytes = (__u64)basic + (__u64)n * (__u64)item;
	v = type_val_get(tgid, type);
	if (v) {
		__sync_fetch_and_add(&v->allocs, 1);
		__sync_fetch_and_add(&v->alloc_bytes, bytes);
	}
	__sync_fetch_and_add(&ps->allocs, 1);
	__sync_fetch_and_add(&ps->alloc_bytes, bytes);
	if (flags & ALLOC_TPFLAGS_HAVE_GC) {
		__sync_fetch_and_add(&ps->gc_allocs, 1);
		ps->shadow++; /* the GIL serialises a pid's allocations */
	}
	return 0;
}

/* PyObject_GC_Del(void *op): op is the PyObject (the function subtracts the pre-header itself),
 * so ob_type is at op + 8; the type is still alive (subtype_dealloc drops it afterwards). */
static __always_inline int on_gc_del(__u32 tgid, const struct alloc_target *t, struct alloc_pid_stats *ps,
				     __u64 op)
{
	struct alloc_val *v;
	__s64 basic = 0, item = 0, size = 0;
	__u64 bytes, type = 0;

	if (bpf_probe_read_user(&type, sizeof(type), (const void *)(op + t->ob_type)) ||
	    bpf_probe_read_user(&basic, sizeof(basic), (const void *)(type + t->tp_basicsize)) ||
	    bpf_probe_read_user(&item, sizeof(item), (const void *)(type + t->tp_itemsize))) {
		__sync_fetch_and_add(&ps->type_errors, 1);
		type = 0;
		basic = item = 0;
	}
	if (item > 0 && bpf_probe_read_user(&size, sizeof(size), (const void *)(op + t->ob_size)))
		size = 0;
	if (size < 0 || size > (1ll << 40))
		size = 0;
	bytes = (__u64)basic + (__u64)size * (__u64)item;
	v = type_val_get(tgid, type);
	if (v) {
		__sync_fetch_and_add(&v->frees, 1);
		__sync_fetch_and_add(&v->free_bytes, bytes);
	}
	__sync_fetch_and_add(&ps->frees, 1);
	__sync_fetch_and_add(&ps->free_bytes, bytes);
	if (ps->shadow > 0) /* CPython: `if (gcstate->generations[0].count > 0) count--` */
		ps->shadow--;
	return 0;
}

/* Every exact site, told apart by the attach cookie (ALLOC_SITE_*): the allocators take the type
 * as arg0 (_PyObject_GC_New/_NewVar, _PyObject_New/_NewVar, PyType_GenericAlloc), the free
 * probe (ALLOC_SITE_FREE) the object. */
static __always_inline int exact_hit(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 site = bpf_get_attach_cookie(ctx);
	struct alloc_pid_stats *ps;
	struct alloc_target *t;
	__s64 n = 0;

	count(ALLOC_CNT_HITS);
	t = bpf_map_lookup_elem(&alloc_targets, &tgid);
	if (!t)
		return 0;
	ps = pid_stats_get(tgid);
	if (!ps)
		return 0;
	if (site == ALLOC_SITE_FREE)
		return on_gc_del(tgid, t, ps, PT_REGS_PARM1(ctx));
	if (site == ALLOC_SITE_TYPE_N)
		n = (__s64)PT_REGS_PARM2(ctx);
	else if (site == ALLOC_SITE_GENERIC)
		n = (__s64)PT_REGS_PARM2(ctx) + 1; /* _PyObject_VAR_SIZE(type, nitems + 1) */
	return on_alloc(tgid, t, ps, PT_REGS_PARM1(ctx), n);
}

/* Attached through perf-event uprobe links, one per site (kernels without uprobe_multi). */
SEC("uprobe")
int exact_perf(struct pt_regs *ctx)
{
	return exact_hit(ctx);
}

/*
 * The same program for one uprobe_multi link per process (Linux 6.6+).  libbpf 1.1 knows no
 * SEC("uprobe.multi"): userspace sets expected_attach_type BPF_TRACE_UPROBE_MULTI before load.
 * Why a multi link: closing it removes every breakpoint at once before the one grace-period wait,
 * where perf links remove theirs one grace period (~0.1 s) after another (userspace/probes/links.h).
 */
SEC("uprobe")
int exact_multi(struct pt_regs *ctx)
{
	return exact_hit(ctx);
}
