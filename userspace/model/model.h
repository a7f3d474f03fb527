/* SPDX-License-Identifier: BSD-2-Clause */
/* The model every view reads: one row per process with GC, memory and (later) type/leak facts. */
#ifndef PYLEAK_MODEL_H
#define PYLEAK_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/allocstats.h"
#include "model/native.h"
#include "model/stacks.h"
#include "model/survivors.h"
#include "model/gcstats.h"
#include "model/memory.h"
#include "target/python.h"

struct group_row;

#define MODEL_NGEN 3
#define MODEL_HIST_SLOTS GC_PROBES_HIST_SLOTS
/* Samples kept per process: enough for a 2-minute window at 1 s, for rates and sparklines. */
#define MODEL_HISTORY 128

/* Pause figures in microseconds, from the kernel's log2 histograms (cumulative since attach). */
struct pause_summary {
	uint64_t count, sum_us, max_us, p50_us, p99_us;
	bool estimated; /* poll tier: counts are exact, times come from sampling `collecting` */
};

/* One point of a process's history, taken every refresh. */
struct proc_sample {
	double time;
	uint64_t rss;
	int64_t collections[MODEL_NGEN];
	int64_t garbage;
	uint64_t gc_ns;	     /* cumulative GC time observed since attach */
	int64_t live_objects; /* GC-tracked objects from the last census, -1 if none */
};

#define MODEL_NAME_MAX 160
#define MODEL_GROUP_NAME_MAX 48
#define MODEL_MAX_TYPES 64	/* rows kept per process: the largest and the fastest growing */
#define MODEL_MAX_CONTAINERS 32
#define MODEL_MAX_SUSPECTS 16
#define MODEL_SPARK 24		/* census points kept per type for the sparkline */

/* Live objects of one type, from the last census, and its trend. */
struct type_row {
	char name[MODEL_NAME_MAX];
	int64_t count, bytes;
	double per_min;	      /* Theil–Sen slope of count over the window, objects/minute */
	double bytes_per_min;
	int64_t delta;	      /* change since the previous census */
	/* objects of this type the GC does not track, from the pymalloc arenas (lower frequency) */
	int64_t untracked, untracked_bytes;
	double untracked_per_min;
	int nspark;
	int64_t spark[MODEL_SPARK]; /* oldest first */
};

/* A dict/list/set/deque among the largest seen, named by what holds it when known. */
struct container_row {
	char name[MODEL_NAME_MAX]; /* "__main__.cache", or "dict@0x7f..." when no holder was found */
	char type[64];
	uint64_t addr;
	int64_t len;
	double per_min;
	bool named;
	bool untracked; /* the GC does not track it: found from its holder, not in the GC lists */
};

enum suspect_kind { SUSPECT_TYPE = 0, SUSPECT_CONTAINER, SUSPECT_GARBAGE, SUSPECT_RSS, SUSPECT_NATIVE };
const char *suspect_kind__name(enum suspect_kind k);

/* A leak verdict with its evidence. */
struct suspect {
	enum suspect_kind kind;
	char name[MODEL_NAME_MAX];
	double per_min;	   /* growth: objects, items or bytes per minute */
	double confidence; /* 0..1 */
	char evidence[640];
	/* Type suspects: where the surviving samples of the type were allocated (the survivors'
	 * top site), when survivor samples of it are alive.  surv_alive = 0: none. */
	uint64_t surv_alive;	 /* alive survivor samples of this type */
	uint64_t surv_top_alive; /* ... of them made by the top site */
	uint64_t surv_stack_id;	 /* the top site (row->sites / row->surv) */
	char surv_site[200];	 /* "file:line function < file:line function" (leaf first) */
	bool untracked; /* about objects or a container the GC does not track */
	/* Type suspects: the shortest retention chain of a sampled live instance (analysis/chains.c) */
	uint8_t chain_status; /* enum suspect_chain */
	double chain_time;    /* when it was found, or found gone */
	char chain[480];      /* FOUND/OPAQUE: as `pyleak refs` prints it; LOST/NONE: why */
	/* Suspects that are the same leak: the one that explains this one ("" none), and why */
	char explained_by[MODEL_NAME_MAX];
	char group_why[200];
	int explains; /* how many other suspects this one explains */
	char diagnosis[900]; /* one sentence: what grows, where it was allocated, who holds it */
};

enum suspect_chain {
	SUSPECT_CHAIN_NONE = 0, /* not searched (yet): not a confident type suspect, or rate-limited */
	SUSPECT_CHAIN_FOUND,	/* from a root, every link re-read at the last census */
	SUSPECT_CHAIN_OPAQUE,	/* held by a C object whose references cannot be read */
	SUSPECT_CHAIN_LOST,	/* a link or the object changed since: recomputed later */
	SUSPECT_CHAIN_NOT_FOUND, /* searched; no holder within the limits */
};
const char *suspect_chain__name(enum suspect_chain c);

struct proc_row {
	struct py_target target; /* identity, version, tier, addresses */
	bool exited;		 /* seen gone; kept one refresh so views can show it, then dropped */
	bool gc_ready;		 /* GC state found (an interpreter still starting up has none yet) */
	bool probes_attached;
	struct proc_stat stat;	 /* /proc/PID/stat of this refresh (liveness, ppid, RSS, CPU) */
	bool stat_ok;
	int stat_fd; /* the collector's open /proc/PID/stat (proc__stat_fd), -1 none */
	char note[160];		 /* the latest problem with this process, for the user */

	/* GC state read from the target (tier 0): cumulative since process start = gc.get_stats() */
	bool gc_valid;
	uint64_t gc_read_ns; /* CLOCK_MONOTONIC just after that read: the probes' clock, so a trace can
			      * tell a collection that ended before it (counted) from one after */
	bool gc_collecting;  /* a collection was running at that read (its count may not be in yet) */
	int64_t collections[MODEL_NGEN], collected[MODEL_NGEN], uncollectable[MODEL_NGEN];
	int64_t thresholds[MODEL_NGEN], counts[MODEL_NGEN];
	int64_t garbage; /* len(gc.garbage), -1 unknown */
	int enabled;
	/* ... and their change over the last refresh */
	int64_t d_collections[MODEL_NGEN], d_collected[MODEL_NGEN], d_uncollectable[MODEL_NGEN];
	double gc_per_s[MODEL_NGEN];

	/* Pauses (tier 1), cumulative since pyleak attached */
	struct pause_summary pause[MODEL_NGEN];
	uint32_t pause_hist[MODEL_NGEN][MODEL_HIST_SLOTS];
	uint64_t gc_ns_total;
	uint64_t pauses_unknown_gen; /* timed collections whose generation could not be told */
	double gc_time_pct;	/* share of wall time in GC over the last refresh, 0-100 */
	bool pauses_estimated;

	uint64_t rss;
	double rss_per_min; /* bytes per minute, least-squares over the history window */
	struct memory_row memory; /* RSS explained (analysis/memory.c), at the censuses with an arena scan */

	int64_t live_objects; /* tracked objects from the last census; -1 none */

	/* Allocation sites sampled at young collections (sites.h), cumulative since attach */
	bool sites_valid;
	struct sites_report sites;

	/* Sampled native allocations verified from the glibc heap (model/native.h; top --native) */
	bool native_valid;
	struct native_report native;
	uint64_t native_heap_in_use; /* glibc in-use bytes at the last verification walk */
	double native_walk_time;     /* wall clock of that walk, 0 never */
	/* Survivor samples and their (type, stack) aggregates, decided at each census; NULL when
	 * none were taken.  Owned by the analysis (or the replay); valid until the next refresh. */
	struct survivors *surv;

	/* Allocation rates over the last refresh (alloc.h), when an allocation source runs */
	bool alloc_valid;
	struct alloc_report alloc;

	/* Census-derived (filled by analysis.c when a census ran) */
	double census_time;   /* wall clock of the last census, 0 never */
	double census_ms;     /* its walk time */
	double census_period; /* seconds between censuses, adapted to the CPU budget */
	int64_t census_inconsistencies;
	/* Idle: its GC counters, generation counts and RSS have not moved since the census at this
	 * wall-clock time, so censuses are skipped until they do (0: not idle). */
	double census_idle_since;
	/* Its first census ran at the previous refresh: idle or not is told at this one, so it does
	 * not count among the processes sharing the census budget until then. */
	bool census_unjudged;
	/* Changes whenever types[] or containers[] are rewritten (a census, a replayed sample), to a
	 * value no row had before (model__next_rows_seq; 0: never filled): a renderer may reuse its
	 * text of them while it stays. */
	uint64_t rows_seq;
	int ntypes;
	struct type_row types[MODEL_MAX_TYPES]; /* by count, largest first */
	int ncontainers;
	struct container_row containers[MODEL_MAX_CONTAINERS]; /* by len */
	int nsuspects;
	struct suspect suspects[MODEL_MAX_SUSPECTS]; /* by confidence, then rate */

	struct proc_sample history[MODEL_HISTORY];
	int nhistory, history_head; /* ring: newest at (history_head - 1) */
	int rss_same; /* the newest samples in a row with the newest one's RSS (idle: all of them) */

	double first_seen, last_update;
	void *ext; /* per-feature state (census cache...) owned by the collector */

	/* Process family (model/groups.h): filled by groups__update() from ppid and the program */
	pid_t ppid;
	int group_id;	   /* 0: in no family */
	uint8_t group_role; /* enum group_role */
	char group_name[MODEL_GROUP_NAME_MAX]; /* "gunicorn:4242", "" in no family */
};

struct snapshot {
	double time;	   /* wall clock, seconds since the epoch */
	double interval_s; /* the refresh interval in force */
	uint64_t seq;
	char host[64];
	int nrows;
	struct proc_row **rows; /* owned by the collector; valid until its next refresh */
	unsigned tiers;		/* bit (1 << GC_TIER_*) for each tier in use */
	uint64_t dropped_events;
	double self_cpu_pct;
	uint64_t self_rss;
	int attachments;
	int census_waiting; /* processes whose first census waits for a later refresh (analysis.h) */
	int ngroups;
	struct group_row *groups; /* model/groups.h; owned by whoever grouped the rows */
};

/* The i-th newest history sample (0 = newest), or NULL. */
const struct proc_sample *proc_row__sample(const struct proc_row *row, int age);
void proc_row__push_sample(struct proc_row *row, const struct proc_sample *s);
/* Least-squares slope of RSS over the window, bytes per minute (0 with < 2 samples). */
double proc_row__rss_slope_per_min(const struct proc_row *row, double window_s);
/* A rows_seq no row has had yet in this pyleak (never 0). */
uint64_t model__next_rows_seq(void);
/* Summarise a histogram into count/sum/max/p50/p99 (sum and max passed in, exact). */
void pause_summary__from_hist(struct pause_summary *ps, const uint32_t *hist, int nslots, uint64_t count,
			      uint64_t sum_ns, uint64_t max_ns);

#endif /* PYLEAK_MODEL_H */
