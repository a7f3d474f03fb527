/* SPDX-License-Identifier: BSD-2-Clause */
/* CPython targets: recognise an interpreter, its version, layout and probe tier; read its GC state. */
#ifndef PYLEAK_PYTHON_H
#define PYLEAK_PYTHON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "target/layout.h"
#include "target/proc.h"
#include "target/remote.h"

/* How GC events are observed for a process (DESIGN.md: tiers 0 and 1). */
enum gc_tier {
	GC_TIER_NONE = 0,
	GC_TIER_USDT,	/* python:gc__start / gc__done */
	GC_TIER_UPROBE, /* uprobe + uretprobe on the collector function named in .symtab */
	GC_TIER_POLL,	/* stripped, no probes: poll generation_stats, sample `collecting` */
};
const char *gc_tier__name(enum gc_tier tier);

#define PY_MAX_COLLECTORS 4

struct py_target {
	pid_t pid;
	pid_t ns_pid;	       /* pid inside its namespace (== pid when not in a container) */
	uint64_t start_time;   /* /proc/PID/stat starttime: pid + this identify a process */
	/* ...and this image of it: stat's start_code, end_code, start_stack when inspected (0 or 1:
	 * not shown). execve() changes them, so python__alive_with() reads the exe link only when
	 * they are unknown or differ. */
	uint64_t image[3];
	char comm[32];
	char cmdline[512];
	char exe[PROC_PATH_MAX];       /* the executable as the target names it */
	char libpython[PROC_PATH_MAX]; /* the mapped libpython as the target names it; "" if static */
	char runtime_path[PROC_PATH_MAX]; /* openable host path of the ELF with _PyRuntime */
	char cgroup[256];
	char container_id[65];
	bool in_container; /* another mount namespace: paths resolved through /proc/PID/root */

	char version[32]; /* "3.11.2" */
	int major, minor, micro;
	bool shared;	     /* libpython.so mapped */
	bool has_usdt;	     /* .note.stapsdt python:gc__start */
	bool has_symtab;
	bool has_debuginfo;
	bool free_threaded;
	bool debug_offsets;  /* _Py_DebugOffsets found and used (3.13+) */
	bool day_one;	     /* a minor newer than every table: only the debug offsets are known */
	bool degraded;	     /* no table (day one, or e.g. 3.14t): the layout is the debug offsets alone */
	enum gc_tier tier;

	uint64_t load_bias;	 /* runtime address = vaddr + load_bias, for runtime_path */
	uint64_t runtime_addr;	 /* &_PyRuntime in the target (0 for 3.6) */
	int ncollectors;	 /* collector functions (with compiler clones) for the uprobe tier */
	uint64_t collector_offsets[PY_MAX_COLLECTORS]; /* file offsets in runtime_path */
	char collector_syms[PY_MAX_COLLECTORS][64];	/* their .symtab names (clones differ) */
	char collector_sym[64];

	/* Tier 0 addresses, resolved by python__resolve_gc() */
	uint64_t gc_addr;	   /* struct _gc_runtime_state (or 3.6's statics, see python.c) */
	uint64_t gc_stats_addr;	   /* generation_stats[0] */
	uint64_t gc_collecting_addr;
	uint64_t gc_generations_addr;
	uint64_t gc_enabled_addr;
	uint64_t gc_garbage_addr; /* address of the `garbage` pointer field */
	uint64_t interp_addr;	   /* main interpreter */

	const struct py_layout *layout; /* points at layout_rt once checked */
	struct py_layout layout_rt;	/* the table, confirmed/overridden by _Py_DebugOffsets */
	bool supported;
	char why[160]; /* when !supported: why pyleak refuses it */
};

struct py_gc_state {
	int64_t threshold[3], count[3];
	int64_t collections[3], collected[3], uncollectable[3];
	double duration_s[3]; /* 3.15+: gc.get_stats()[g]["duration"]; -1 where unknown */
	int32_t enabled, collecting, debug;
	int64_t garbage_len; /* -1 if gc.garbage is not a list we can read */
};

/*
 * Inspect pid. Returns 0 for a CPython process (t->supported says whether pyleak can observe
 * it, t->why why not), -ENOENT when it is not Python (or a kernel thread / zombie), -ESRCH when
 * it went away, -EACCES/-EPERM without privilege.
 */
int python__inspect(pid_t pid, struct py_target *t);
/*
 * The table for a version: a free-threaded one for FT builds; with gc_size >= 0 (from
 * _Py_DebugOffsets) the one whose GC state has that size (3.14.0-3.14.4 vs 3.14.5+), NULL if
 * none has it. NULL when pyleak has no table for major.minor.
 */
const struct py_layout *python__select_layout(int major, int minor, bool free_threaded, int64_t gc_size);
/* Locate the main interpreter's GC state in the target (tier 0). */
int python__resolve_gc(struct py_target *t, struct remote *r);
int python__read_gc(const struct py_target *t, struct remote *r, struct py_gc_state *gc);
/*
 * generation_stats as gc.get_stats() shows them: out[g] = {collections, collected,
 * uncollectable}; duration_s (may be NULL) gets 3.15's per-generation duration, -1 before.
 * Inline array (3.6-3.14) or 3.15's rings. -ENOTSUP when the layout has no stats.
 */
int python__read_gen_stats(const struct py_target *t, struct remote *r, int64_t out[3][3], double duration_s[3]);
/* The ring description of 3.15 generation_stats for the BPF side (*rings false otherwise). */
void python__gc_rings(const struct py_target *t, bool *rings, uint16_t ring_off[3], uint16_t index_off[3],
		      uint16_t ring_len[3], uint16_t *rec_size, uint16_t *rec_collections);
/* Is pid still the process t describes (same start time, same executable)? */
bool python__alive(const struct py_target *t);
/* The same from a /proc/PID/stat already read (the collector reads it once per refresh). */
bool python__alive_with(const struct py_target *t, const struct proc_stat *st);

/* Parse "3.11.2" / "3.13.0rc1" into numbers; 0 or -EINVAL. */
int python__parse_version(const char *s, int *major, int *minor, int *micro);
/* "python3.11", "libpython3.12.so.1.0", "python3" ... -> true if the basename looks like Python. */
bool python__name_matches(const char *path);

/* Drop the per-binary ELF cache (tests; and bounded internally). */
void python__cache_clear(void);

#endif /* PYLEAK_PYTHON_H */
