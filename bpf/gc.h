/* SPDX-License-Identifier: BSD-2-Clause */
/* ABI between bpf/gc.bpf.c and userspace/probes/gc.c: map keys/values, ring-buffer records, constants. */
#ifndef PYLEAK_GC_H
#define PYLEAK_GC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Generations of the CPython 3.6–3.13 (and 3.14.5+) collector. */
#define GC_NGEN 3

/*
 * Map sizes.  Every map is preallocated (uprobes run in atomic context), so these bound the
 * kernel memory: pid_stats 1744 B × GC_MAX_PIDS ≈ 7 MiB.  When a map is full the BPF side
 * bumps GC_CNT_PID_FULL / GC_CNT_START_FULL instead of failing silently.
 */
#define GC_MAX_PIDS	4096	/* targets and pid_stats (key: tgid) */
#define GC_MAX_THREADS	16384	/* in-flight collections (LRU, key: pid_tgid) */
#define GC_RINGBUF_SIZE (256 * 1024)

/*
 * Pause histogram: log2 buckets of microseconds with 4 linear sub-buckets per power of two
 * (HDR-style, ≤25% relative bucket width).  For a pause of `us` microseconds:
 *
 *   us < 4:   slot = us                                   (exact: [0,1) [1,2) [2,3) [3,4))
 *   us >= 4:  e = floor(log2(us))  (e >= 2)
 *             slot = 4 * (e - 1) + ((us >> (e - 2)) & 3)
 *             covers [ (4 + s) << (e - 2), (5 + s) << (e - 2) ) with s = slot % 4, e = slot / 4 + 1
 *
 * Slot 4 = [4,5) µs, slot 8 = [8,10), slot 36 = [1024,1280) µs, slot 76 ≈ [1.05 s, 1.31 s).
 * The last slot, 127 = [7·2^30, 8·2^30) µs (from ≈ 2.1 h), also takes everything larger.
 */
#define GC_HIST_SLOTS 128

/* Branch-only log2: the BPF ISA has no clz and clang would emit a libcall for __builtin_clzll. */
static __always_inline __u32 gc_log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5;
	v >>= shift;
	r |= shift;
	shift = (v > 0xffff) << 4;
	v >>= shift;
	r |= shift;
	shift = (v > 0xff) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xf) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (__u32)(v >> 1);
	return r;
}

/* The one definition of the slot formula above; used by the BPF program and the unit tests. */
static __always_inline __u32 gc_hist_slot(__u64 us)
{
	__u32 e, slot;

	if (us < 4)
		return (__u32)us;
	e = gc_log2_u64(us);
	slot = 4 * (e - 1) + (__u32)((us >> (e - 2)) & 3);
	return slot < GC_HIST_SLOTS ? slot : GC_HIST_SLOTS - 1;
}

/* Where an observation came from (bit mask in gc_pid_stats.sources, value in gc_event.source). */
enum gc_source {
	GC_SRC_USDT = 1,   /* python:gc__start / python:gc__done */
	GC_SRC_UPROBE = 2, /* uprobe + uretprobe on collect / gc_collect_main */
	GC_SRC_POLL = 4,   /* cpu-clock sampling of gcstate->collecting */
};

/*
 * Attach cookie of the collector uprobe: how to find the generation at function entry.
 * GC_GENSPEC_ARG(i): i-th integer argument (0..5, SysV x86_64 registers).
 * GC_GENSPEC_CONST(g): a constant-propagated clone that always collects generation g
 *   (e.g. 3.6–3.8 `collect.constprop.0`, reached from PyGC_Collect/_PyGC_CollectNoFail).
 * GC_GENSPEC_UNKNOWN: no usable argument; the generation comes from the generation_stats delta.
 * A value < 0 (3.13's GENERATION_AUTO = -1) also means "decided inside, use the delta".
 */
#define GC_GENSPEC_ARG(i)   (i)
#define GC_GENSPEC_CONST(g) (8 + (g))
#define GC_GENSPEC_UNKNOWN  15

/* Value of the `targets` hash map, key = tgid (host pid namespace), written by userspace. */
struct gc_target {
	__u64 stats_addr;      /* &gcstate->generation_stats[0] in the target; 0 = unknown
				* (GC_TARGET_STATS_RINGS: &gcstate->generation_stats, a pointer) */
	__u64 collecting_addr; /* &gcstate->collecting (int); 0 = unknown */
	__u32 flags;	       /* GC_TARGET_* */
	__u32 pad;
	/*
	 * GC_TARGET_STATS_RINGS (3.15): generation_stats points to one ring of records per
	 * generation, each with an int8 index of its newest record; records are cumulative and
	 * hold collections, collected, uncollectable as three consecutive Py_ssize_t at
	 * rec_collections. Offsets are inside the pointed-to block.
	 */
	__u16 ring_off[GC_NGEN];
	__u16 index_off[GC_NGEN];
	__u16 ring_len[GC_NGEN];
	__u16 rec_size;
	__u16 rec_collections;
	__u16 pad2[3];
};
#define GC_TARGET_POLL 1	/* sample `collecting` from the cpu-clock perf event program */
#define GC_TARGET_STATS_RINGS 2 /* stats_addr holds a pointer to rings (above) */

/*
 * generation_stats[3] = 3 × {collections, collected, uncollectable}, Py_ssize_t each: the same
 * 72 bytes in every CPython 3.6–3.14 (struct gc_generation_stats, Include/internal/pycore_gc.h).
 */
#define GC_STATS_WORDS (GC_NGEN * 3)

struct gc_pause {
	__u64 count;
	__u64 sum_ns;
	__u64 max_ns;
	__u32 hist[GC_HIST_SLOTS];
};

/* Value of the `pid_stats` hash map, key = tgid; created by the first event of the pid. */
struct gc_pid_stats {
	__s64 gen_stats[GC_STATS_WORDS]; /* last generation_stats read at gc__done/return */
	__u64 gen_stats_ns;		 /* bpf_ktime_get_ns() of that read; 0 = never read */
	struct gc_pause pause[GC_NGEN];
	__u64 gc_ns_total;     /* all pauses incl. those of unknown generation */
	__u64 unknown_gen;     /* collections whose generation could not be determined */
	__u64 read_errors;     /* bpf_probe_read_user of generation_stats failed */
	__u64 poll_samples;    /* cpu-clock samples while a thread of the pid was on CPU */
	__u64 poll_collecting; /* ... of which gcstate->collecting was non-zero */
	__u64 poll_errors;     /* ... of which `collecting` could not be read */
	__u32 sources;	       /* GC_SRC_* seen for this pid */
	__u32 pad;
};

/* Ring-buffer records: every record starts with a __u32 type tag. */
enum gc_event_type {
	GC_EV_COLLECTION = 1,
};

#define GC_EV_F_SPLIT_EXACT	      1 /* collected/uncollectable from the generation_stats delta */
#define GC_EV_F_UNCOLLECTABLE_UNKNOWN 2 /* collected = gc__done's n (= collected+uncollectable) */
#define GC_EV_F_GEN_FROM_ARG	      4 /* generation from the probe argument, not the delta */
#define GC_EV_F_COUNTS_UNKNOWN	      8 /* neither stats nor n available */

struct gc_event {
	__u32 type; /* GC_EV_COLLECTION */
	__u32 pid;  /* tgid */
	__u32 tid;
	__s32 generation; /* 0..2, -1 unknown */
	__u64 start_ns;	  /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 duration_ns;
	__s64 collected;
	__s64 uncollectable; /* -1 when GC_EV_F_UNCOLLECTABLE_UNKNOWN */
	__u32 flags;	     /* GC_EV_F_* */
	__u32 source;	     /* GC_SRC_* */
};

/* Indices of the per-CPU `counters` array. */
enum gc_counter {
	GC_CNT_RB_DROPS = 0, /* ring buffer full: event lost (stats still counted) */
	GC_CNT_PID_FULL,     /* pid_stats full: pid not accounted */
	GC_CNT_START_FULL,   /* could not record a collection start */
	GC_CNT_NO_START,     /* done/return without a recorded start (attached mid-collection) */
	GC_CNT_NOOP,	     /* collector returned without collecting (3.13 GENERATION_AUTO) */
	GC_CNT_MAX,
};

#endif /* PYLEAK_GC_H */
