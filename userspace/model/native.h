/* SPDX-License-Identifier: BSD-2-Clause */
/* Sampled native allocations as the model and every view read them: samples, stacks, verdicts. */
#ifndef PYLEAK_MODEL_NATIVE_H
#define PYLEAK_MODEL_NATIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/stacks.h"
#include "util/escape.h"

#define NATIVE_NAME_MAX	  160
#define NATIVE_DEEPER_MAX 3	  /* frame-pointer frames shown beyond the caller */
#define NATIVE_SAMPLES_MAX 262144 /* live samples kept per pid (userspace table); beyond: dropped, counted */
/* Samples younger than this may be freed by the work that made them: growth counts older ones only
 * (analysis/nativeleak.h), over the probes' attached time before it (counters.observed_recent_s). */
#define NATIVE_MIN_AGE_S 5.0

enum native_verified {
	NATIVE_VERIFIED_NONE = 0, /* not checked yet (no walk since it was sampled) */
	NATIVE_VERIFIED_HEADERS,  /* glibc chunk headers + tcache/fastbin lists (analysis/mallocheap.c) */
	NATIVE_VERIFIED_EVENTS,	  /* another allocator: only the free events seen while attached */
};

/* One sampled block not seen freed. */
struct native_sample {
	uint64_t addr, size;
	uint64_t ns;	  /* CLOCK_MONOTONIC at the call */
	int stack;	  /* index in native_report.stacks */
	int fn;		  /* bpf/native.h NATIVE_FN_* */
	bool mapping;	  /* an anonymous mmap(): verified from /proc/PID/maps, not a chunk header */
	bool outstanding; /* verified still allocated with the same size at the latest walk */
};

/* One stack: the immediate native caller, deeper frame-pointer frames, the thread's Python stack. */
struct native_stack {
	uint64_t key;
	char caller[NATIVE_NAME_MAX];			 /* "lib.so:function+0x1a" */
	char deeper[NATIVE_DEEPER_MAX][NATIVE_NAME_MAX]; /* callers of the caller, nearest first */
	int ndeeper;
	struct site_stack py; /* nframes 0: no Python stack (thread without one, walk failed) */
	/* since sampling started */
	uint64_t sampled_blocks, sampled_bytes; /* samples recorded */
	uint64_t freed_seen;			/* their frees seen by the free probe */
	/* at the latest verification */
	uint64_t out_blocks, out_bytes;	   /* outstanding: verified still allocated */
	uint64_t gone_blocks;		   /* freed unseen: the chunk is free or changed size */
	double oldest_age_s;		   /* age of the oldest outstanding sample */
	double out_ratio;		   /* out_blocks / sampled_blocks */
	double growth_bytes_per_min;	   /* estimated outstanding growth of the whole process */
	bool suspect;
	bool mapping; /* its samples are mmap()s: verified from /proc/PID/maps, not chunk headers */
};

struct native_counters {
	uint64_t calls, frees, sampled, recorded, freed, py_errors;
	uint64_t inflight_full, live_full, stacks_full, ring_full; /* BPF maps full (bpf/native.h) */
	uint64_t samples_dropped;	/* NATIVE_SAMPLES_MAX reached */
	uint64_t outside_slices;	/* samples of calls outside the counted slice time: not kept */
	uint32_t every;			/* 1 in every sampled */
	double observed_s;		/* seconds the probes were attached */
	double observed_recent_s;	/* of which in the last NATIVE_MIN_AGE_S before read_ns; < 0 unknown */
	double elapsed_s;		/* seconds since sampling started */
	double overhead_pct;		/* measured cost, % of the target's own CPU (budget.h) */
	uint64_t slices;
};

struct native_report {
	pid_t pid;
	uint64_t read_ns; /* CLOCK_MONOTONIC of the read: samples after it are not in it */
	struct native_counters counters;
	enum native_verified verified;
	bool walk_partial;
	int nsamples;
	struct native_sample *samples;
	int nstacks;
	struct native_stack *stacks; /* sorted by growth, largest first (after nativeleak__verify) */
};

void native_report__free(struct native_report *rep);

/* "caller <- deeper <- file.py:12 func <- ..." into buf, at most max_py Python frames. */
int native_stack__format(const struct native_stack *st, int max_py, char *buf, size_t size);

/* A stack's estimate of its outstanding bytes: verified outstanding sampled bytes scaled by the
 * sampling (1 in every) and the attached share of the time; 0 when nothing is outstanding. */
uint64_t native_stack__weight(const struct native_report *rep, const struct native_stack *st);
/* Its frames for collapsed stacks, root first: Python frames, deeper native frames, the caller;
 * ';' between, each escaped with esc (esc_collapsed for output: target-controlled names), or as
 * they are with esc NULL (the trace's stack column, escaped when reported, as sites are). */
void native_stack__collapsed_path(const struct native_stack *st, esc_fn esc, struct strbuf *sb);

/*
 * Collapsed stacks of outstanding native bytes (flamegraph.pl, speedscope): root; Python frames
 * root first; deeper native frames; the caller; weight = verified outstanding sampled bytes scaled
 * by the sampling and the attached share of time (an estimate of the bytes outstanding). Returns
 * the number of lines.
 */
int native__format_collapsed(const struct native_report *rep, const char *root, struct strbuf *sb);

/* A suspect's one-line evidence: "caller <- ... <- file:line func: +2.0 MiB/min outstanding, 96% of
 * sampled blocks still allocated (chunk headers checked)". */
void native_stack__evidence(const struct native_stack *st, char *buf, size_t size);
/* The "native" JSON object of docs/json.md (pyleak heap --native, top -b --json --native). */
void native__format_json(const struct native_report *rep, struct strbuf *sb);

#endif /* PYLEAK_MODEL_NATIVE_H */
