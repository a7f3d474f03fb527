/* SPDX-License-Identifier: BSD-2-Clause */
/* Allocation sites: load bpf/sites.bpf.c, attach it to young collections, read the sampled Python
 * stacks and resolve them to `file:line function` frames; line tables; collapsed-stack output. */
#ifndef PYLEAK_SITES_H_USER
#define PYLEAK_SITES_H_USER

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/common.h"
#include "target/python.h"

#define SITES_MAX_FRAMES 64 /* == PYSTACK_MAX_FRAMES of bpf/sites.h (checked in sites.c) */
#define SITES_FILE_MAX	 256
#define SITES_FUNC_MAX	 128

struct sites;

struct sites_opts {
	bool all_generations; /* sample gen-1/2 collections too (default: young/automatic only) */
};

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
	uint64_t walk_errors;  /* Σ of the four below: stacks discarded, never shown */
	uint64_t err_no_tstate, err_read, err_loop, err_not_code, err_too_many;
	uint64_t tstate_fallback, stacks_full, counts_full;
	uint64_t walk_ns, frames;
};

struct sites_report {
	pid_t pid;
	struct sites_counters counters;
	uint64_t total;		  /* Σ count over stacks */
	int nstacks;
	struct site_stack *stacks; /* sorted by count, largest first */
};

/* Open and load the BPF object.  opts may be NULL.  0 or -errno. */
int sites__open(struct sites **out, const struct sites_opts *opts);

/*
 * Start sampling target t (after python__inspect + python__resolve_gc): attaches the gc__start
 * USDT (usdt tier) or the collector uprobes (uprobe tier) of t's binary if not done yet for that
 * file, and registers the per-pid frame-walker configuration from t->layout.  -EOPNOTSUPP for the
 * poll tier or a layout without frame offsets; -ENOENT when PyCode_Type cannot be found.
 */
int sites__add_target(struct sites *s, const struct py_target *t);

/* Stop sampling pid and drop its stacks, counters and code cache.  -ENOENT if unknown. */
int sites__forget(struct sites *s, pid_t pid);

/*
 * Read and resolve every stack of pid into *out (free with sites_report__free).  Code names are
 * read with process_vm_readv and cached per (pid, code).  -ENOENT if pid was never added.
 */
int sites__read(struct sites *s, pid_t pid, struct sites_report *out);
void sites_report__free(struct sites_report *rep);

/* Number of attachments made so far (USDT binaries + collector functions). */
int sites__attachments(const struct sites *s);

/*
 * Tests only: corrupt pid's walker configuration so that every walk fails in a known way
 * (SITES_FAULT_CODE_TYPE: no frame's code matches PyCode_Type -> err_not_code), to check that
 * failed walks are counted and never reported as stacks.  0 or -ENOENT.
 */
enum sites_fault { SITES_FAULT_NONE = 0, SITES_FAULT_CODE_TYPE };
int sites__inject_fault(struct sites *s, pid_t pid, enum sites_fault fault);

/* Detach everything and free.  NULL is fine. */
void sites__destroy(struct sites *s);

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
 * Line tables (pure, unit-tested).  `insn` is what the BPF walker captured for a frame of a
 * CPython 3.<minor> target; returns the line, or -1 when the instruction has none.
 *   <= 3.9:  co_lnotab, insn = f_lasti in bytes
 *   3.10:    co_linetable (PEP 626 pairs), insn = f_lasti in instructions (2 bytes each)
 *   3.11+:   co_linetable location table (PEP 657), insn = byte offset from co_code_adaptive
 */
int pyline__lnotab(const uint8_t *tab, size_t len, int firstlineno, int byte_offset);
int pyline__linetable310(const uint8_t *tab, size_t len, int firstlineno, int byte_offset);
int pyline__loctable(const uint8_t *tab, size_t len, int firstlineno, int byte_offset);
int pyline__addr2line(int minor, const uint8_t *tab, size_t len, int firstlineno, int32_t insn);

#endif /* PYLEAK_SITES_H_USER */
