// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Tier-1 allocation sites: at each young (allocation-triggered) collection start, capture the
 * triggering thread's Python stack and count it per (pid, stack). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "gc.h"
#include "sites.h"
#include "pystack.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Tunables, set between open and load. */
const volatile bool all_generations = false; /* also sample gen-1/2 collections */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SITES_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct pystack_cfg);
} pystack_cfgs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SITES_MAX_STACKS);
	__type(key, struct site_stack_key);
	__type(value, struct pystack);
} site_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SITES_MAX_COUNTS);
	__type(key, struct site_count_key);
	__type(value, struct site_count_val);
} site_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SITES_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct sites_pid_stats);
} site_pids SEC(".maps");

static __always_inline struct sites_pid_stats *pid_stats_get(__u32 tgid)
{
	struct sites_pid_stats *ps, zero = {};

	ps = bpf_map_lookup_elem(&site_pids, &tgid);
	if (ps)
		return ps;
	bpf_map_update_elem(&site_pids, &tgid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&site_pids, &tgid);
}

/*
 * gen < 0: decided inside the collector (3.13 GENERATION_AUTO, only used by the
 * allocation-triggered _Py_RunGC) or unknown: sampled.  On 3.12+ the collection runs at the next
 * eval-breaker check after the allocation that crossed the threshold, so the stack is "where that
 * allocation happened, approximately" (same function, possibly a later line or the callee's entry).
 */
static __always_inline int on_collect(__s32 gen)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct site_count_key ckey = {};
	struct site_stack_key skey = {};
	struct site_count_val *cv, one = {};
	struct sites_pid_stats *ps;
	struct pystack_cfg *cfg;
	struct pystack *st;
	__u64 t0, t1;
	int err;

	cfg = bpf_map_lookup_elem(&pystack_cfgs, &tgid);
	if (!cfg || !(cfg->flags & PYSTACK_CFG_ENABLED))
		return 0;
	ps = pid_stats_get(tgid);
	if (!ps)
		return 0;
	__sync_fetch_and_add(&ps->triggers, 1);
	if (gen > 0 && !all_generations)
		return 0;
	st = pystack_scratch_stack();
	if (!st)
		return 0;
	__sync_fetch_and_add(&ps->samples, 1);

	t0 = bpf_ktime_get_ns();
	err = pystack_capture((struct task_struct *)bpf_get_current_task(), cfg, st);
	t1 = bpf_ktime_get_ns();
	__sync_fetch_and_add(&ps->walk_ns, t1 - t0);
	if (err) {
		__u32 e = (__u32)err;

		if (e >= PYSTACK_E_MAX)
			e = 0;
		barrier_var(e); /* keep the bound visible to the verifier */
		__sync_fetch_and_add(&ps->errors[e & 7], 1); /* e < PYSTACK_E_MAX (6) <= 8 */
		return 0;
	}
	if (st->flags & PYSTACK_F_TSTATE_SCAN)
		__sync_fetch_and_add(&ps->tstate_fallback, 1);
	if (!st->nframes) {
		__sync_fetch_and_add(&ps->empty, 1);
		return 0;
	}

	skey.pid = tgid;
	skey.stack_id = pystack_hash(st);
	if (!bpf_map_lookup_elem(&site_stacks, &skey) &&
	    bpf_map_update_elem(&site_stacks, &skey, st, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&site_stacks, &skey)) {
		__sync_fetch_and_add(&ps->stacks_full, 1);
		return 0;
	}

	ckey.pid = tgid;
	ckey.stack_id = skey.stack_id;
	ckey.type = 0; /* the young-list sample of alloc.bpf.c will attribute types */
	cv = bpf_map_lookup_elem(&site_counts, &ckey);
	if (!cv) {
		bpf_map_update_elem(&site_counts, &ckey, &one, BPF_NOEXIST);
		cv = bpf_map_lookup_elem(&site_counts, &ckey);
		if (!cv) {
			__sync_fetch_and_add(&ps->counts_full, 1);
			return 0;
		}
	}
	__sync_fetch_and_add(&cv->count, 1);
	cv->last_ns = t1;
	__sync_fetch_and_add(&ps->captured, 1);
	__sync_fetch_and_add(&ps->frames, st->nframes);
	if (st->flags & PYSTACK_F_TRUNCATED)
		__sync_fetch_and_add(&ps->truncated, 1);
	return 0;
}

/* python:gc__start(int generation), fired inside the collector with the GIL held. */
SEC("usdt")
int BPF_USDT(sites_gc_start_usdt, int generation)
{
	return on_collect(generation);
}

/* Collector entry (uprobe tier); the attach cookie says where the generation is (bpf/gc.h). */
SEC("uprobe")
int sites_collector_entry(struct pt_regs *ctx)
{
	__u64 spec = bpf_get_attach_cookie(ctx);
	/* Load every candidate first: a switch over PT_REGS_PARMn lets clang compute the ctx offset
	 * from the cookie, which the verifier rejects ("dereference of modified ctx ptr"). */
	__s32 a0 = (__s32)PT_REGS_PARM1(ctx), a1 = (__s32)PT_REGS_PARM2(ctx);
	__s32 a2 = (__s32)PT_REGS_PARM3(ctx), a3 = (__s32)PT_REGS_PARM4(ctx);
	__s32 a4 = (__s32)PT_REGS_PARM5(ctx);
	__s32 gen = -1;

	barrier_var(a0);
	barrier_var(a1);
	barrier_var(a2);
	barrier_var(a3);
	barrier_var(a4);
	switch (spec) {
	case GC_GENSPEC_ARG(0): gen = a0; break;
	case GC_GENSPEC_ARG(1): gen = a1; break;
	case GC_GENSPEC_ARG(2): gen = a2; break;
	case GC_GENSPEC_ARG(3): gen = a3; break;
	case GC_GENSPEC_ARG(4): gen = a4; break;
	case GC_GENSPEC_CONST(0): gen = 0; break;
	case GC_GENSPEC_CONST(1): gen = 1; break;
	case GC_GENSPEC_CONST(2): gen = 2; break;
	default: break;
	}
	if (gen >= GC_NGEN)
		gen = -1;
	return on_collect(gen);
}
