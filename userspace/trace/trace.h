/* SPDX-License-Identifier: BSD-2-Clause */
/* The trace reader: validates a trace file and loads it into memory for report (and replay). */
#ifndef PYLEAK_TRACE_H
#define PYLEAK_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#define TRACE_NGEN 3
#define TRACE_HIST_SLOTS 128

/* Hard caps on what one file may make us load: a trace is untrusted input. Past a cap the rest
 * is skipped and trace->truncated says which table was cut. */
#define TRACE_MAX_PROCS	    4096
#define TRACE_MAX_SAMPLES   2000000
#define TRACE_MAX_EVENTS    4000000
#define TRACE_MAX_AUX_ROWS  1000000 /* types, containers, suspects, sites: each */

struct trace_meta {
	int schema_version;
	char host[256];
	char kernel[512];
	char pyleak_version[64];
	char command_line[1024];
	double start_time, end_time, interval_s;
	uint64_t max_size;
	uint64_t dropped_gc_events;	/* not written because of --max-size */
	uint64_t ringbuf_dropped_events; /* lost in the kernel ring buffer */
	bool complete;			/* the recorder closed the file (not killed) */
	bool stacks_quoted;		/* meta "stacks" = "quoted": frames as util/escape.h esc_stack_frame */
};

struct trace_sample {
	double time;
	uint64_t rss;
	bool gc_valid;
	int64_t collections[TRACE_NGEN], collected[TRACE_NGEN], uncollectable[TRACE_NGEN];
	int64_t garbage; /* -1 unknown */
	int enabled;
	int64_t thresholds[TRACE_NGEN], counts[TRACE_NGEN];
	double gc_time_pct;
	uint64_t gc_time_us;
	bool pauses_estimated;
	uint64_t pause_count[TRACE_NGEN], pause_sum_us[TRACE_NGEN];
	int64_t pause_max_us[TRACE_NGEN]; /* -1 unknown (estimated) */
	int64_t live_objects;		  /* -1 none */
};

struct trace_event {
	double time; /* wall clock seconds */
	uint64_t mono_ns;
	uint32_t tid;
	int generation; /* -1 unknown */
	double duration_us;
	int64_t collected, uncollectable; /* -1 unknown */
};

/* One RSS breakdown (the memory table; model/memory.h): parts of rss, bytes. */
struct trace_memory {
	double time;
	int64_t rss, arenas, heap, anon, stacks, file, other, shared;
	int64_t tracked_bytes, untracked_bytes, arena_bytes, block_bytes_used, block_bytes_free;
	char arena_source[8];
	/* The rest of model/memory.h's row; detail false in files recorded before these columns. */
	bool detail;
	int64_t swap, narenas, blocks_used, blocks_free, unused_pool_bytes, untracked_objects;
	int thread_stacks;
	double arena_confidence;
	double rss_per_min, arenas_per_min, objects_per_min, malloc_per_min, stacks_per_min, file_per_min;
	char arena_why[160];
};

/* A thread's name as recorded (the threads table): the target's bytes. */
struct trace_thread {
	double time;
	int tid;
	char name[32];
};

struct trace_proc {
	int64_t id;
	int pid, ns_pid;
	uint64_t start_ticks;
	char comm[32], python[32], gc_source[16], container_id[72];
	char cmdline[512], exe[512], note[160];
	double first_seen, last_seen;
	bool exited;
	int nsamples;
	struct trace_sample *samples; /* by time */
	int nevents;
	struct trace_event *events; /* by mono_ns */
	uint64_t hist[TRACE_NGEN][TRACE_HIST_SLOTS]; /* cumulative since attach */
	int nmemory;
	struct trace_memory *memory; /* by time; none in files recorded before the memory table */
	int nthreads;
	struct trace_thread *threads; /* by tid, then time; none in files before the threads table */
};

/* One row of types / containers / suspects / sites. */
struct trace_aux {
	int proc; /* index into trace->procs */
	double time;
	char *name;  /* type name, container name, suspect name, stack */
	char *kind;  /* container type name, suspect kind; NULL otherwise */
	char *text;  /* suspect evidence */
	/* suspects, from suspect_chains (NULL in files without it, or when the suspect had none) */
	char *chain_status, *chain, *explained_by, *group_why, *diagnosis;
	int64_t count; /* count, container length; -1 unknown */
	int64_t bytes; /* -1 unknown */
	double per_min, confidence;
};

/* Process families (trace_groups.c; tables absent in traces from before families: none then). */
#define TRACE_MAX_GROUPS 1024
#define TRACE_MAX_GROUP_ROWS 1000000 /* samples and verdicts, each, over all families */

struct trace_group_sample {
	double time;
	int workers, recycled;
	uint64_t rss, rss_max;
	double gc_per_s[TRACE_NGEN];
	uint64_t pause_count;
	int64_t pause_p99_us, pause_max_us;
	double median_life_s, median_rss_growth;
};

struct trace_group_verdict {
	double time;
	char kind[16], name[160];
	bool recycled;
	int workers_with, workers;
	double per_min_each, per_life, life_s;
	char text[256], evidence[512];
};

struct trace_group {
	int64_t id;
	char name[48], kind[24], command[512];
	int root_pid;
	double first_seen, last_seen;
	int nmembers;
	int *members;	     /* indexes into trace->procs */
	char (*roles)[8];    /* "master", "worker", "helper" */
	int *ppids;	     /* each member's parent pid when first recorded (0 unknown) */
	int nsamples;
	struct trace_group_sample *samples; /* by time */
	int nverdicts;
	struct trace_group_verdict *verdicts; /* by time */
};

/* TRACE_SURVIVORS (schema 2+): name = stack, kind = type, count = alive, bytes = sampled,
 * per_min = survived. */
/* TRACE_NATIVE (table native, no version bump): name = collapsed stack (Python frames root first,
 * then native frames, the caller last), kind = caller, count = outstanding sampled blocks,
 * bytes = estimated outstanding bytes, per_min = growth bytes/min, confidence = out_ratio; one
 * set of rows per verification walk (record --native). */
enum trace_aux_kind { TRACE_TYPES, TRACE_CONTAINERS, TRACE_SUSPECTS, TRACE_SITES, TRACE_SURVIVORS, TRACE_NATIVE,
		      TRACE_NAUX };

struct trace {
	char path[4096];
	struct trace_meta meta;
	int nprocs;
	struct trace_proc *procs;
	int naux[TRACE_NAUX];
	struct trace_aux *aux[TRACE_NAUX];
	char truncated[128]; /* "" or which tables hit their caps */
	int ngroups;
	struct trace_group *groups;
};

/*
 * Open read-only, check the SQLite header, PRAGMA quick_check, the meta table, the format name
 * and schema_version, then load everything (bounded). Prints a one-line reason with pr_err and
 * returns -EINVAL (not a trace / foreign), -EPROTONOSUPPORT (newer schema), -EIO (corrupt) or
 * -errno from open.
 */
int trace__load(const char *path, struct trace **out);
void trace__free(struct trace *t);
const char *trace__aux_name(enum trace_aux_kind k);
/* trace_groups.c, called by trace__load / trace__free. */
struct sqlite3;
int trace__load_groups(struct sqlite3 *db, struct trace *t);
void trace__free_groups(struct trace *t);

#endif /* PYLEAK_TRACE_H */
