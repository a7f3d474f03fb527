/* SPDX-License-Identifier: BSD-2-Clause */
/* Tier-1 GC probes: load bpf/gc.bpf.c, attach USDT / collector uprobes / poll sampler, read results. */
#ifndef PYLEAK_PROBES_H
#define PYLEAK_PROBES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/gcstats.h"

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
	/* 3.15: stats_addr is &gcstate->generation_stats, a pointer to rings (bpf/gc.h) */
	bool stats_rings;
	uint16_t ring_off[3], index_off[3], ring_len[3], rec_size, rec_collections;
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

#endif /* PYLEAK_PROBES_H */
