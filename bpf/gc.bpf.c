// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Tier-1 GC observation: pauses, counts and exact generation_stats per process from USDT
 * gc__start/gc__done, collector uprobes, or cpu-clock sampling of gcstate->collecting. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "gc.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Tunables, set between open and load. */
const volatile bool emit_events = true;	    /* per-collection records into `events` */
const volatile __u64 min_event_ns = 0;	    /* only emit pauses at least this long */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GC_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct gc_target);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GC_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct gc_pid_stats);
} pid_stats SEC(".maps");

/* Source of zeroes for inserting pid_stats: the value is far larger than the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gc_pid_stats);
} zero_stats SEC(".maps");

struct gc_start {
	__u64 ts;
	__s64 stats[GC_STATS_WORDS]; /* generation_stats at entry, if stats_ok */
	__s32 gen;		     /* from the probe/cookie; -1 = unknown */
	__u32 stats_ok;
};

/* LRU: a thread that dies inside a collection must not pin its slot forever. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GC_MAX_THREADS);
	__type(key, __u64);
	__type(value, struct gc_start);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, GC_RINGBUF_SIZE);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GC_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		(*c)++; /* per-CPU slot: no atomics needed */
}

static __always_inline struct gc_pid_stats *pid_stats_get(__u32 tgid)
{
	struct gc_pid_stats *ps;
	__u32 zero = 0;

	ps = bpf_map_lookup_elem(&pid_stats, &tgid);
	if (ps)
		return ps;
	ps = bpf_map_lookup_elem(&zero_stats, &zero);
	if (!ps)
		return NULL;
	/* -EEXIST from a racing CPU is fine, -E2BIG (full) shows as a failed lookup below. */
	bpf_map_update_elem(&pid_stats, &tgid, ps, BPF_NOEXIST);
	ps = bpf_map_lookup_elem(&pid_stats, &tgid);
	if (!ps)
		count(GC_CNT_PID_FULL);
	return ps;
}

static __always_inline int read_gen_stats(const struct gc_target *tgt, __s64 *out)
{
	__u64 block = 0;
	__s8 idx;
	int g;

	if (!tgt || !tgt->stats_addr)
		return -1;
	if (!(tgt->flags & GC_TARGET_STATS_RINGS))
		return bpf_probe_read_user(out, sizeof(__s64) * GC_STATS_WORDS,
					   (const void *)tgt->stats_addr) ? -1 : 0;
	/* 3.15: the newest record of each generation's ring (gc.h, GC_TARGET_STATS_RINGS). */
	if (bpf_probe_read_user(&block, sizeof(block), (const void *)tgt->stats_addr) || !block)
		return -1;
	for (g = 0; g < GC_NGEN; g++) {
		idx = 0;
		if (bpf_probe_read_user(&idx, sizeof(idx), (const void *)(block + tgt->index_off[g])))
			return -1;
		if (idx < 0 || idx >= tgt->ring_len[g])
			return -1; /* mid-update or not a ring: no reading beats a wrong one */
		if (bpf_probe_read_user(&out[g * 3], sizeof(__s64) * 3,
					(const void *)(block + tgt->ring_off[g] + (__u64)idx * tgt->rec_size +
						       tgt->rec_collections)))
			return -1;
	}
	return 0;
}

static __always_inline int on_start(__s32 gen)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct gc_target *tgt;
	struct gc_start st = {};

	st.gen = gen;
	tgt = bpf_map_lookup_elem(&targets, &tgid);
	st.stats_ok = read_gen_stats(tgt, st.stats) == 0;
	st.ts = bpf_ktime_get_ns(); /* last: the stats read is not part of the pause */
	if (bpf_map_update_elem(&starts, &id, &st, BPF_ANY))
		count(GC_CNT_START_FULL);
	return 0;
}

/* n is gc__done's argument (USDT) or the collector's return value (uprobe); < 0 = unknown. */
static __always_inline int on_done(__s64 n, __u32 source)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__s64 cur[GC_STATS_WORDS];
	const __s64 *base = NULL;
	struct gc_pid_stats *ps;
	struct gc_target *tgt;
	struct gc_start *st;
	struct gc_event *ev;
	__s64 collected = n, uncollectable = -1;
	__u64 start_ns, dur;
	__u32 flags = 0;
	__s32 gen, g;
	bool have_cur;

	st = bpf_map_lookup_elem(&starts, &id);
	if (!st) {
		count(GC_CNT_NO_START);
		return 0;
	}
	start_ns = st->ts;
	dur = now - start_ns;
	gen = st->gen;

	ps = pid_stats_get(tgid);
	if (!ps) {
		bpf_map_delete_elem(&starts, &id);
		return 0;
	}

	tgt = bpf_map_lookup_elem(&targets, &tgid);
	have_cur = read_gen_stats(tgt, cur) == 0;
	if (tgt && tgt->stats_addr && !have_cur)
		__sync_fetch_and_add(&ps->read_errors, 1);

	if (have_cur) {
		/* Baseline: the entry snapshot, else the values stored at the previous collection. */
		if (st->stats_ok)
			base = st->stats;
		else if (ps->gen_stats_ns)
			base = ps->gen_stats;
	}
	if (base) {
		__s32 found = -1;

		/* One collection bumps exactly one generation's `collections`; if several moved
		 * (events missed), the oldest generation is the one that matters for pauses. */
		for (g = 0; g < GC_NGEN; g++)
			if (cur[g * 3] > base[g * 3])
				found = g;
		if (found >= 0 && found < GC_NGEN) {
			gen = found;
			collected = cur[found * 3 + 1] - base[found * 3 + 1];
			uncollectable = cur[found * 3 + 2] - base[found * 3 + 2];
			flags |= GC_EV_F_SPLIT_EXACT;
		} else if (source == GC_SRC_UPROBE) {
			/* 3.13+ gc_collect_main(GENERATION_AUTO) that found nothing to collect. */
			bpf_map_delete_elem(&starts, &id);
			count(GC_CNT_NOOP);
			return 0;
		}
	}
	bpf_map_delete_elem(&starts, &id);

	if (!(flags & GC_EV_F_SPLIT_EXACT)) {
		flags |= GC_EV_F_GEN_FROM_ARG;
		if (n >= 0)
			flags |= GC_EV_F_UNCOLLECTABLE_UNKNOWN;
		else
			flags |= GC_EV_F_COUNTS_UNKNOWN;
	}

	if (have_cur) {
		for (g = 0; g < GC_STATS_WORDS; g++)
			ps->gen_stats[g] = cur[g];
		ps->gen_stats_ns = now;
	}
	ps->sources |= source;
	__sync_fetch_and_add(&ps->gc_ns_total, dur);
	if (gen >= 0 && gen < GC_NGEN) {
		struct gc_pause *pz = &ps->pause[gen];
		__u32 slot = gc_hist_slot(dur / 1000);

		/* clang drops a mask it can prove redundant and the verifier then loses the
		 * bound (it cannot relate dur / 1000 to dur): re-bound after a barrier. */
		barrier_var(slot);
		slot &= GC_HIST_SLOTS - 1;

		__sync_fetch_and_add(&pz->count, 1);
		__sync_fetch_and_add(&pz->sum_ns, dur);
		if (dur > pz->max_ns)
			pz->max_ns = dur; /* collections of one interpreter are serialized */
		__sync_fetch_and_add(&pz->hist[slot], 1);
	} else {
		gen = -1;
		__sync_fetch_and_add(&ps->unknown_gen, 1);
	}

	if (!emit_events || dur < min_event_ns)
		return 0;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count(GC_CNT_RB_DROPS);
		return 0;
	}
	ev->type = GC_EV_COLLECTION;
	ev->pid = tgid;
	ev->tid = (__u32)id;
	ev->generation = gen;
	ev->start_ns = start_ns;
	ev->duration_ns = dur;
	ev->collected = (flags & GC_EV_F_COUNTS_UNKNOWN) ? -1 : collected;
	ev->uncollectable = uncollectable;
	ev->flags = flags;
	ev->source = source;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/* python:gc__start(int generation): fired inside collect()/gc_collect_main() (3.13+: after the
 * generation was chosen and the start callbacks ran). */
SEC("usdt")
int BPF_USDT(gc_start_usdt, int generation)
{
	return on_start(generation);
}

/* python:gc__done(long n): n = collected + uncollectable (cpython Modules/gcmodule.c, all 3.x). */
SEC("usdt")
int BPF_USDT(gc_done_usdt, long n)
{
	return on_done(n, GC_SRC_USDT);
}

SEC("uprobe")
int gc_collector_entry(struct pt_regs *ctx)
{
	__u64 spec = bpf_get_attach_cookie(ctx);
	__s32 gen = -1;

	switch (spec) {
	case GC_GENSPEC_ARG(0): gen = (__s32)PT_REGS_PARM1(ctx); break;
	case GC_GENSPEC_ARG(1): gen = (__s32)PT_REGS_PARM2(ctx); break;
	case GC_GENSPEC_ARG(2): gen = (__s32)PT_REGS_PARM3(ctx); break;
	case GC_GENSPEC_ARG(3): gen = (__s32)PT_REGS_PARM4(ctx); break;
	case GC_GENSPEC_ARG(4): gen = (__s32)PT_REGS_PARM5(ctx); break;
	case GC_GENSPEC_CONST(0): gen = 0; break;
	case GC_GENSPEC_CONST(1): gen = 1; break;
	case GC_GENSPEC_CONST(2): gen = 2; break;
	default: break;
	}
	if (gen < 0 || gen >= GC_NGEN)
		gen = -1; /* 3.13 GENERATION_AUTO: decided inside, taken from the stats delta */
	return on_start(gen);
}

/* The collector returns n = collected + uncollectable (Py_ssize_t) in every version. */
SEC("uretprobe")
int gc_collector_exit(struct pt_regs *ctx)
{
	return on_done((__s64)PT_REGS_RC(ctx), GC_SRC_UPROBE);
}

/* Poll tier: cpu-clock at ~997 Hz per CPU.  One hash lookup for tasks that are not targets. */
SEC("perf_event")
int gc_poll(struct bpf_perf_event_data *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct gc_pid_stats *ps;
	struct gc_target *tgt;
	int collecting = 0;

	tgt = bpf_map_lookup_elem(&targets, &tgid);
	if (!tgt || !(tgt->flags & GC_TARGET_POLL) || !tgt->collecting_addr)
		return 0;
	ps = pid_stats_get(tgid);
	if (!ps)
		return 0;
	ps->sources |= GC_SRC_POLL;
	if (bpf_probe_read_user(&collecting, sizeof(collecting),
				(const void *)tgt->collecting_addr)) {
		__sync_fetch_and_add(&ps->poll_errors, 1);
		return 0;
	}
	__sync_fetch_and_add(&ps->poll_samples, 1);
	if (collecting)
		__sync_fetch_and_add(&ps->poll_collecting, 1);
	return 0;
}
