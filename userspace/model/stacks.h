/* SPDX-License-Identifier: BSD-2-Clause */
/* Sampled Python stacks as the model and every view read them: resolved frames, per-pid reports,
 * and their text forms (`file:line function`, collapsed stacks).  probes/sites.c fills them. */
#ifndef PYLEAK_STACKS_H
#define PYLEAK_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/common.h"
#include "model/survivors.h"

#define SITES_MAX_FRAMES 64 /* == PYSTACK_MAX_FRAMES of bpf/sites.h (checked in sites.c) */
#define SITES_FILE_MAX	 256
#define SITES_FUNC_MAX	 128

/* A code object of a target, resolved once per (pid, code pointer) and cached. */
struct site_code {
	uint64_t addr;
	char file[SITES_FILE_MAX]; /* co_filename ("?" if unreadable) */
	char func[SITES_FUNC_MAX]; /* co_qualname (3.11+) or co_name */
	int firstlineno;
	bool ok;		   /* read and validated */
};

struct site_frame {
	const struct site_code *code; /* owned by struct sites: valid until the next read of the pid */
	int32_t insn;		      /* as captured (bpf/sites.h struct pystack_frame) */
	int line;		      /* -1 when the instruction has no line */
};

struct site_stack {
	uint64_t stack_id;
	uint64_t type;	  /* PyTypeObject* when known, else 0 */
	uint64_t count;	  /* samples of this stack since registration */
	uint64_t last_ns; /* CLOCK_MONOTONIC of the latest sample */
	bool truncated;	  /* deeper than SITES_MAX_FRAMES: the root side is missing */
	int nframes;
	struct site_frame frames[SITES_MAX_FRAMES]; /* [0] = leaf */
};

/* Counters of the kernel side for one pid (bpf/sites.h struct sites_pid_stats). */
struct sites_counters {
	uint64_t triggers, samples, captured, truncated, empty;
	uint64_t rate_limited; /* young collections not walked (bpf/sites.h SITES_MIN_NS) */
	uint64_t walk_errors;  /* Σ of the four below: stacks discarded, never shown */
	uint64_t err_no_tstate, err_read, err_loop, err_not_code, err_too_many;
	uint64_t tstate_fallback, stacks_full, counts_full;
	uint64_t walk_ns, frames;
	/* survivor sampling (bpf/sites.h sites_pid_stats.surv_*) */
	uint64_t surv_samples, surv_ring_full, surv_rate_limited, surv_no_object, surv_unmatched;
	uint64_t surv_read_errors, surv_ns, surv_reused, surv_slots_full, surv_older_gen;
	uint64_t surv_queue_full; /* paired samples userspace could not queue for the analysis */
};

struct sites_report {
	pid_t pid;
	struct sites_counters counters;
	uint64_t total;		  /* Σ count over stacks */
	int nstacks;
	struct site_stack *stacks; /* sorted by count, largest first */
	int surv_mode;		   /* enum surv_pairing of this process (0: no survivor sampling) */
	int nsurv;		   /* survivor samples paired since the previous read ... */
	struct surv_sample *surv;  /* ... handed to the analysis (owned by the report) */
};

/* The stack with this id in rep, or NULL. */
const struct site_stack *sites_report__find(const struct sites_report *rep, uint64_t stack_id);

/* Open and load the BPF object.  opts may be NULL.  0 or -errno. */
void sites_report__free(struct sites_report *rep);

/* "file:line function" of one frame ("file:? function" without a line); 0 or -ENAMETOOLONG
 * (truncated output). */
int site_frame__format(const struct site_frame *f, char *buf, size_t size);

/*
 * Collapsed stacks (flamegraph.pl, speedscope, inferno): one line per stack,
 *   [root;][[truncated];]file:line function;...;file:line function COUNT\n
 * root first, leaf last.  `root` (e.g. "python3.11 (4242)") is prepended when not NULL; a
 * truncated stack gets a "[truncated]" frame where its missing root side would be.  ';' and
 * line breaks inside names are replaced by '_'.  Returns the number of lines written.
 */
int sites__format_collapsed(const struct sites_report *rep, const char *root, struct strbuf *sb);

/*
 * Collapsed stacks of the survivors (a leaks flame graph): one line per (type, stack) with alive
 * samples, [root;]TYPE;[[truncated];]frames root first... ALIVE\n.  The stacks' frames come from
 * rep (a stack it lacks prints as "[stack ID]").  Returns the number of lines written.
 */
int survivors__format_collapsed(const struct survivors *sv, const struct sites_report *rep, const char *root,
				struct strbuf *sb);

#endif /* PYLEAK_STACKS_H */
