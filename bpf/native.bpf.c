// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Sampled libc allocations: every Nth malloc/calloc/realloc/posix_memalign/anonymous mmap of a
 * pid with its native caller, frame-pointer frames and Python stack; frees (and munmaps) of
 * sampled blocks. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "native.h"
#include "sites.h"
#include "pystack.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NATIVE_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct native_target);
} native_targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NATIVE_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct native_pid_stats);
} native_pids SEC(".maps");

/* The frame walker's per-pid configuration (bpf/sites.h), filled from the same layout code. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NATIVE_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct pystack_cfg);
} native_pycfgs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NATIVE_MAX_STACKS);
	__type(key, struct site_stack_key);
	__type(value, struct pystack);
} native_pystacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NATIVE_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, struct native_inflight);
} native_inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NATIVE_MAX_LIVE);
	__type(key, struct native_live_key);
	__type(value, __u64);
} native_live SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NATIVE_RINGBUF);
} native_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NATIVE_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} native_counters SEC(".maps");

/* The in-flight record is built here: 112 B does not fit next to the walker's stack use. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct native_inflight);
} native_scratch SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&native_counters, &idx);

	if (c)
		(*c)++;
}

static __always_inline struct native_pid_stats *pid_stats(__u32 tgid)
{
	struct native_pid_stats *ps, zero = {};

	ps = bpf_map_lookup_elem(&native_pids, &tgid);
	if (ps)
		return ps;
	bpf_map_update_elem(&native_pids, &tgid, &zero, BPF_NOEXIST);
	ps = bpf_map_lookup_elem(&native_pids, &tgid);
	if (!ps)
		count(NATIVE_CNT_PID_FULL);
	return ps;
}

/* A sampled block is freed: forget it and tell userspace (only sampled blocks cost an event). */
static __always_inline void on_free(__u32 tgid, struct native_pid_stats *ps, __u64 addr)
{
	struct native_live_key k = { .pid = tgid, .addr = addr };
	struct native_event *ev;

	__sync_fetch_and_add(&ps->frees, 1);
	if (!addr || bpf_map_delete_elem(&native_live, &k))
		return;
	__sync_fetch_and_add(&ps->freed, 1);
	ev = bpf_ringbuf_reserve(&native_events, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&ps->ring_full, 1);
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->type = NATIVE_EV_FREE;
	ev->pid = tgid;
	ev->addr = addr;
	ev->ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(ev, 0);
}

static __always_inline __u64 py_stack(__u32 tgid, struct native_pid_stats *ps)
{
	struct site_stack_key skey = {};
	struct pystack_cfg *cfg;
	struct pystack *st;

	cfg = bpf_map_lookup_elem(&native_pycfgs, &tgid);
	if (!cfg || !(cfg->flags & PYSTACK_CFG_ENABLED))
		return 0;
	st = pystack_scratch_stack();
	if (!st)
		return 0;
	if (pystack_capture((struct task_struct *)bpf_get_current_task(), cfg, st) || !st->nframes) {
		__sync_fetch_and_add(&ps->py_errors, 1);
		return 0;
	}
	skey.pid = tgid;
	skey.stack_id = pystack_hash(st);
	if (!bpf_map_lookup_elem(&native_pystacks, &skey) &&
	    bpf_map_update_elem(&native_pystacks, &skey, st, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&native_pystacks, &skey)) {
		__sync_fetch_and_add(&ps->stacks_full, 1);
		return 0;
	}
	return skey.stack_id;
}

SEC("uprobe")
int native_entry(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), fn = bpf_get_attach_cookie(ctx);
	/* load every argument first: a cookie-dependent ctx offset is refused by the verifier */
	__u64 a0 = PT_REGS_PARM1(ctx), a1 = PT_REGS_PARM2(ctx), a2 = PT_REGS_PARM3(ctx), a3 = PT_REGS_PARM4(ctx);
	__u32 tgid = id >> 32, zero = 0;
	struct native_pid_stats *ps;
	struct native_target *t;
	struct native_inflight *in;
	__u64 size, n;
	long got;

	count(NATIVE_CNT_HITS);
	t = bpf_map_lookup_elem(&native_targets, &tgid);
	if (!t)
		return 0;
	ps = pid_stats(tgid);
	if (!ps)
		return 0;
	if (fn == NATIVE_FN_FREE || fn == NATIVE_FN_MUNMAP) {
		on_free(tgid, ps, a0); /* a munmap of part of a sampled mapping: the maps check tells */
		return 0;
	}
	/* file mappings are not allocations (and are in the page cache's books) */
	if (fn == NATIVE_FN_MMAP && !(a3 & NATIVE_MAP_ANONYMOUS))
		return 0;
	if (fn == NATIVE_FN_REALLOC && a0)
		on_free(tgid, ps, a0); /* the old block is gone (or moved) either way */
	if (fn == NATIVE_FN_MALLOC)
		size = a0;
	else if (fn == NATIVE_FN_CALLOC)
		size = a0 * a1;
	else if (fn == NATIVE_FN_REALLOC)
		size = a1;
	else if (fn == NATIVE_FN_MEMALIGN)
		size = a2;
	else if (fn == NATIVE_FN_MMAP)
		size = a1;
	else
		return 0;
	n = __sync_fetch_and_add(&ps->calls, 1);
	if (t->every > 1 && n % t->every)
		return 0;
	__sync_fetch_and_add(&ps->sampled, 1);
	in = bpf_map_lookup_elem(&native_scratch, &zero);
	if (!in)
		return 0;
	__builtin_memset(in, 0, sizeof(*in));
	in->ev.type = NATIVE_EV_ALLOC;
	in->ev.pid = tgid;
	in->ev.size = size;
	in->ev.fn = (__u32)fn;
	in->ev.ns = bpf_ktime_get_ns();
	in->memptr = a0;
	/* at entry the return address is the word at the stack pointer (x86-64 call) */
	if (bpf_probe_read_user(&in->ev.caller, sizeof(in->ev.caller), (const void *)PT_REGS_SP(ctx)))
		in->ev.caller = 0;
	/* frame[0] is the probed function itself, frame[1] the caller's caller when the caller
	 * keeps a frame pointer (rbp still holds the caller's frame at entry) */
	got = bpf_get_stack(ctx, in->ev.native, sizeof(in->ev.native), BPF_F_USER_STACK);
	in->ev.nnative = got > 0 ? (__u32)((__u64)got >> 3) : 0;
	if (t->flags & NATIVE_T_PYSTACK)
		in->ev.py_stack_id = py_stack(tgid, ps);
	if (bpf_map_update_elem(&native_inflight, &id, in, BPF_ANY))
		__sync_fetch_and_add(&ps->inflight_full, 1);
	return 0;
}

SEC("uretprobe")
int native_return(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), rc = PT_REGS_RC(ctx), ns;
	__u32 tgid = id >> 32;
	struct native_live_key k = { .pid = tgid };
	struct native_pid_stats *ps;
	struct native_inflight *in;
	struct native_event *ev;

	count(NATIVE_CNT_HITS);
	in = bpf_map_lookup_elem(&native_inflight, &id);
	if (!in)
		return 0;
	ps = bpf_map_lookup_elem(&native_pids, &tgid);
	if (in->ev.fn == NATIVE_FN_MEMALIGN) {
		/* returns an error number; the block went to *memptr */
		if (rc || bpf_probe_read_user(&rc, sizeof(rc), (const void *)in->memptr))
			rc = 0;
	}
	if (in->ev.fn == NATIVE_FN_MMAP && rc == (__u64)-1)
		rc = 0; /* MAP_FAILED */
	if (!rc || !ps) {
		bpf_map_delete_elem(&native_inflight, &id);
		return 0;
	}
	k.addr = rc;
	ns = in->ev.ns;
	if (bpf_map_update_elem(&native_live, &k, &ns, BPF_ANY))
		__sync_fetch_and_add(&ps->live_full, 1);
	ev = bpf_ringbuf_reserve(&native_events, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&ps->ring_full, 1);
		bpf_map_delete_elem(&native_inflight, &id);
		return 0;
	}
	__builtin_memcpy(ev, &in->ev, sizeof(*ev));
	ev->addr = rc;
	bpf_ringbuf_submit(ev, 0);
	__sync_fetch_and_add(&ps->recorded, 1);
	bpf_map_delete_elem(&native_inflight, &id);
	return 0;
}
