/* SPDX-License-Identifier: BSD-2-Clause */
/* Tier-1 GC probes: load bpf/gc.bpf.c, attach USDT / collector uprobes / poll sampler, read results. */
#ifndef PYLEAK_PROBES_H
#define PYLEAK_PROBES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define GC_PROBES_NGEN	     3
#define GC_PROBES_HIST_SLOTS 128 /* == GC_HIST_SLOTS in bpf/gc.h (checked in probes.c) */
#define GC_PROBES_POLL_HZ    997 /* poll-tier sampling frequency per CPU */

struct gc_probes;

struct gc_probes_opts {
	bool no_events;		/* do not emit per-collection ring-buffer records */
	uint64_t min_event_us;	/* emit only pauses at least this long (0 = all) */
};

/*
 * Where the target keeps its GC state, in its own address space (computed by the caller from
 * _PyRuntime + the per-version layout: gcstate = _PyRuntime.gc (3.7/3.8) or
 * interpreters.main->gc (3.9+); see shared/reference/cpython-internals.md §2).
 */
struct gc_target_cfg {
	uint64_t stats_addr;	  /* &gcstate->generation_stats[0]; 0 = unknown */
	uint64_t collecting_addr; /* &gcstate->collecting; 0 = unknown */
	bool poll;		  /* poll tier: sample `collecting` at GC_PROBES_POLL_HZ */
};

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

typedef void (*gc_event_fn)(const struct gc_probe_event *ev, void *ctx);

/* Open and load the BPF object (no attachment yet). opts may be NULL. Returns 0 or -errno. */
int gc_probes__open(struct gc_probes **out, const struct gc_probes_opts *opts);

/*
 * Attach python:gc__start/gc__done of the ELF file at binary_path for every process that runs
 * it, now or later (pid -1).  binary_path may go through /proc/PID/root (containers).  A second
 * call for the same (st_dev, st_ino) is a no-op returning 0.  -ENOENT if the file has no probes.
 */
int gc_probes__attach_usdt(struct gc_probes *p, const char *binary_path);

/*
 * Collector fallback for builds without USDT but with .symtab: uprobe + uretprobe at func_offset
 * (FILE offset: st_value - p_vaddr + p_offset of the PT_LOAD that contains it) in binary_path
 * (the libpython .so, or the executable for static builds).  Attach EVERY symbol for which
 * gc_collector_gen_spec() returns >= 0: CPython's compiler clones split the collector in two.
 * gen_spec: GC_GENSPEC_* of bpf/gc.h, normally from gc_collector_gen_spec().
 * De-duplicated by (st_dev, st_ino, func_offset).
 *
 * Symbols seen in the pyenv builds (GCC -O3, shared libpython):
 *   3.6, 3.7   `collect` (gen = arg0; gc.collect() + automatic) and `collect.constprop.0`
 *              (gen 2 constant; PyGC_Collect, _PyGC_CollectNoFail)
 *   3.8        `collect.constprop.1` (state propagated: gen = arg0; gc.collect() + automatic) and
 *              `collect.constprop.0` (gen 2 constant; PyGC_Collect, _PyGC_CollectNoFail)
 *   3.9        `collect(tstate, generation, ...)`: gen = arg1
 *   3.10–3.12  `gc_collect_main(tstate, generation, ...)`: gen = arg1
 *   3.13       `gc_collect_main(tstate, generation, reason)`: arg1, may be GENERATION_AUTO (-1)
 *              (chosen inside; calls that collect nothing are dropped using the stats delta)
 * With a registered stats_addr the generation always comes from the generation_stats delta;
 * the argument is only the fallback for unregistered pids.
 */
int gc_probes__attach_collector(struct gc_probes *p, const char *binary_path,
				uint64_t func_offset, int gen_spec);

/*
 * GC_GENSPEC_* for a .symtab symbol name in a CPython minor version (3.x), or -ENOENT when the
 * symbol is not a collector function.  Pure; accepts unknown clones (`gc_collect_main.isra.0`)
 * with GC_GENSPEC_UNKNOWN.
 */
int gc_collector_gen_spec(int minor, const char *symbol);

/* Register (or update) a target pid (host namespace).  The poll sampler is attached while at
 * least one registered pid has cfg->poll.  -ENOSPC when 4096 pids are registered. */
int gc_probes__set_target(struct gc_probes *p, pid_t pid, const struct gc_target_cfg *cfg);

/* Drop a pid's configuration and statistics (process exited).  -ENOENT if unknown. */
int gc_probes__forget(struct gc_probes *p, pid_t pid);

/* Read one pid's statistics.  -ENOENT if the kernel has seen nothing for it yet. */
int gc_probes__read(struct gc_probes *p, pid_t pid, struct gc_kstats *out);

/* pids the kernel holds statistics for (registered or not: USDT/uprobes attached with pid -1
 * see every process of a binary).  Fills up to max, returns the number found or -errno.  The
 * caller forgets exited ones, or pid_stats fills up (GC_CNT_PID_FULL). */
int gc_probes__list_pids(struct gc_probes *p, pid_t *out, int max);

/* Consume ring-buffer events for up to timeout_ms (0 = no wait).  Returns the number of events
 * handled or -errno (-EINTR is returned as 0). */
int gc_probes__poll_events(struct gc_probes *p, int timeout_ms, gc_event_fn cb, void *ctx);

/* Events lost because the ring buffer was full (summed over CPUs). */
uint64_t gc_probes__dropped(struct gc_probes *p);
int gc_probes__counters(struct gc_probes *p, struct gc_probe_counters *out);

/* Number of attachments (USDT binaries + collector functions) made so far. */
int gc_probes__attachments(const struct gc_probes *p);

/* Detach everything and free.  NULL is fine. */
void gc_probes__destroy(struct gc_probes *p);

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

#endif /* PYLEAK_PROBES_H */
