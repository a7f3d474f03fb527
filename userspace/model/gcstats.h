/* SPDX-License-Identifier: BSD-2-Clause */
/* What the GC probes measure, as the model and every view read it: per-pid kernel statistics,
 * collection events and the pause histogram's arithmetic (probes/gc.c fills them). */
#ifndef PYLEAK_GCSTATS_H
#define PYLEAK_GCSTATS_H

#include <stdbool.h>
#include <stdint.h>

#define GC_PROBES_NGEN	     3
#define GC_PROBES_HIST_SLOTS 128 /* == GC_HIST_SLOTS in bpf/gc.h (checked in gcstats.c) */

struct gc_pause_stats {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t max_ns;
	uint32_t hist[GC_PROBES_HIST_SLOTS]; /* slot formula: gc.h / pause_hist__slot() */
};

/* Everything the kernel knows about one pid; cumulative since the probes were attached,
 * except collections/collected/uncollectable, which are the target's own cumulative counters. */
struct gc_kstats {
	bool stats_valid;		/* the three arrays below were read from the target */
	uint64_t stats_read_ns;		/* CLOCK_MONOTONIC ns of that read (at the last GC) */
	int64_t collections[GC_PROBES_NGEN];   /* = gc.get_stats()[g]["collections"] */
	int64_t collected[GC_PROBES_NGEN];
	int64_t uncollectable[GC_PROBES_NGEN];
	struct gc_pause_stats pause[GC_PROBES_NGEN];
	uint64_t gc_ns_total;		/* all pauses, for the GC time share */
	uint64_t unknown_gen;		/* pauses whose generation could not be told */
	uint64_t read_errors;		/* generation_stats reads that failed */
	uint64_t poll_samples;		/* on-CPU samples of the pid (poll tier) */
	uint64_t poll_collecting;	/* ... with gcstate->collecting set; GC CPU time ≈
					 * poll_collecting × 1e9 / GC_PROBES_POLL_HZ ns */
	uint64_t poll_errors;		/* ... where `collecting` could not be read */
	uint32_t sources;		/* GC_SRC_* bits of bpf/gc.h: 1 usdt, 2 uprobe, 4 poll */
};

/* Userspace copy of one ring-buffer record (bpf/gc.h struct gc_event). */
struct gc_probe_event {
	uint32_t pid, tid;
	int32_t generation;	/* -1 unknown */
	uint64_t start_ns;	/* CLOCK_MONOTONIC */
	uint64_t duration_ns;
	int64_t collected;	/* -1 unknown */
	int64_t uncollectable;	/* -1 unknown (USDT gc__done without a registered target) */
	uint32_t flags;		/* GC_EV_F_* of bpf/gc.h */
	uint32_t source;	/* GC_SRC_* */
};

struct gc_probe_counters {
	uint64_t ringbuf_drops;	/* events lost because the ring buffer was full */
	uint64_t pid_map_full;	/* events not accounted: more than 4096 pids */
	uint64_t start_map_full;
	uint64_t no_start;	/* done without start (attached mid-collection) */
	uint64_t noop;		/* 3.13+ GENERATION_AUTO calls that collected nothing */
};

/* Pure helpers (unit-tested) for the pause histogram. */
uint32_t pause_hist__slot(uint64_t us);
/* [lo, hi) microseconds of a slot; the last slot's hi is UINT64_MAX. */
void pause_hist__bounds(uint32_t slot, uint64_t *lo_us, uint64_t *hi_us);
/*
 * q-quantile (0 < q <= 1) of a histogram in microseconds, linearly interpolated inside the
 * slot that holds rank ceil(q * total); the last slot reports its lower bound.  -ENOENT when
 * empty, -EINVAL for bad arguments.
 */
int pause_hist__percentile(const uint32_t *slots, int nslots, double q, uint64_t *us);

#endif /* PYLEAK_GCSTATS_H */
