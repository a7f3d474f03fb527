/* SPDX-License-Identifier: BSD-2-Clause */
/* The trace writer: snapshots and GC events into a versioned SQLite file (docs/trace-schema.md). */
#ifndef PYLEAK_RECORD_H
#define PYLEAK_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model.h"
#include "model/gcstats.h"

/* Bump when a table or column changes meaning; readers refuse newer versions (trace.c). */
/* 2: table survivors (docs/trace-schema.md); version-1 traces load without it. */
#define TRACE_SCHEMA_VERSION 2
#define TRACE_FORMAT_NAME "pyleak-trace"
#define TRACE_DEFAULT_MAX_SIZE (256ull << 20)
/* gc_events stop at this share of --max-size, keeping the rest for samples (per-interval rows). */
#define TRACE_EVENTS_SHARE 0.9

struct recorder;

struct recorder_opts {
	const char *path;
	bool force;	      /* replace an existing file */
	uint64_t max_size;    /* bytes; 0 = TRACE_DEFAULT_MAX_SIZE */
	const char *command_line;
	double interval_s;
	double start_time;    /* wall clock; 0 = now (tests pass a fixed one) */
	bool quiet;	      /* no stderr notices (unit tests) */
};

/* Create the file (mode 0600, O_EXCL unless force), the schema and the meta rows; 0 or -errno. */
int recorder__open(const struct recorder_opts *opts, struct recorder **out);
/* One individual collection (collector opts.on_gc_event); written in the open interval's transaction.
 * Events of pids that no snapshot has named are ignored (system-wide probes see every process
 * of a probed binary). */
void recorder__gc_event(struct recorder *r, const struct gc_probe_event *ev);
/* Same, with the wall time of the event given (tests, replays): no monotonic-clock conversion. */
void recorder__gc_event_at(struct recorder *r, const struct gc_probe_event *ev, double wall_time);
/* A process exited (collector opts.on_exit): marks it in `processes`. */
void recorder__process_exit(struct recorder *r, const struct proc_row *row);
/* Write one sample per row, the processes' facts and histograms, and commit the interval.
 * 0, -ENOSPC when --max-size is reached (the caller stops), or -errno. */
int recorder__snapshot(struct recorder *r, const struct snapshot *snap);
/* Rows dropped so far because of --max-size. */
uint64_t recorder__dropped_events(const struct recorder *r);
/* Rows written so far (for the closing message). */
void recorder__counts(const struct recorder *r, uint64_t *samples, uint64_t *events);
/* Final commit, end_time, checkpoint the WAL into the file, close. NULL is fine. 0 or -errno. */
int recorder__close(struct recorder *r);
/* Process families of the snapshot (record_groups.c): membership, one sample per family and the
 * verdicts when they change; into the interval recorder__snapshot() opened.  0 or -errno. */
int recorder__groups(struct recorder *r, const struct snapshot *snap);

/* Hooks for the features that fill the later tables (census, leak verdicts, sites): each writes
 * into the open interval's transaction. proc_pid must have appeared in a snapshot. */
int recorder__type_row(struct recorder *r, pid_t pid, double time, const char *name, int64_t count, int64_t bytes);
int recorder__container_row(struct recorder *r, pid_t pid, double time, const char *name, const char *type_name,
			    int64_t length, int64_t bytes);
int recorder__suspect_row(struct recorder *r, pid_t pid, double time, const char *kind, const char *name,
			  double per_min, double confidence, const char *evidence);
/* The retention chain (status, text), grouping and diagnosis of the suspects row (pid, time,
 * name) written just before; NULL or "" for what it does not have. */
int recorder__suspect_chain_row(struct recorder *r, pid_t pid, double time, const char *name, const char *status,
				const char *chain, const char *explained_by, const char *group_why, const char *diagnosis);
/* stack: frames outermost first, joined with ';' (the collapsed flame-graph format). */
int recorder__site_row(struct recorder *r, pid_t pid, double time, const char *stack, int64_t count, int64_t bytes);
/* One (type, stack) row of survivor samples: sampled, survived a census, alive at the last one. */
int recorder__survivor_row(struct recorder *r, pid_t pid, double time, const char *type, const char *stack,
			   int64_t sampled, int64_t survived, int64_t alive);
/* A thread's name (its comm) when first seen or renamed; an unchanged one writes nothing. */
int recorder__thread_row(struct recorder *r, pid_t pid, double time, pid_t tid, const char *name);
/* One RSS breakdown (model/memory.h) at m->time. */
int recorder__memory_row(struct recorder *r, pid_t pid, const struct memory_row *m);
/* The native stacks of one verification walk (model/native.h), at most RECORD_NATIVE_MAX_STACKS
 * with outstanding bytes (or a verdict): stack = native_stack__collapsed_path, bytes = its weight. */
#define RECORD_NATIVE_MAX_STACKS 50
int recorder__native_rows(struct recorder *r, pid_t pid, double time, const struct native_report *rep);

#endif /* PYLEAK_RECORD_H */
