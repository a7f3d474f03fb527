/* SPDX-License-Identifier: BSD-2-Clause */
/* Allocation sites: load bpf/sites.bpf.c, attach it to young collections, read the sampled Python
 * stacks and resolve them to `file:line function` frames; line tables; collapsed-stack output. */
#ifndef PYLEAK_SITES_H_USER
#define PYLEAK_SITES_H_USER

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/stacks.h"
#include "target/python.h"

struct sites;

struct sites_opts {
	bool all_generations; /* sample gen-1/2 collections too (default: young/automatic only) */
	bool no_survivors;    /* do not pair sampled stacks with their objects (survivor sampling) */
};

int sites__open(struct sites **out, const struct sites_opts *opts);

/*
 * Start sampling target t (after python__inspect + python__resolve_gc): attaches the gc__start
 * USDT (usdt tier) or the collector uprobes (uprobe tier) of t's binary if not done yet for that
 * file, and registers the per-pid frame-walker configuration from t->layout.  -EOPNOTSUPP for the
 * poll tier or a layout without frame offsets; -ENOENT when PyCode_Type cannot be found.
 */
int sites__add_target(struct sites *s, const struct py_target *t);

/*
 * For other probes that capture Python stacks with bpf/pystack.bpf.h (bpf/native.bpf.c): the
 * walker configuration of t (the one definition of its offsets), registering t for resolution
 * only (no attachment), and resolving one captured stack with the shared code cache.
 */
struct pystack_cfg;
struct pystack;
int sites__pystack_cfg(const struct py_target *t, struct pystack_cfg *cfg);
int sites__register(struct sites *s, const struct py_target *t);
int sites__resolve(struct sites *s, pid_t pid, const struct pystack *stack, struct site_stack *out);

/* Stop sampling pid and drop its stacks, counters and code cache.  -ENOENT if unknown. */
int sites__forget(struct sites *s, pid_t pid);

/*
 * List the stack keys of every pid once, for the sites__read calls of one refresh (stacks that
 * arrive after it are read at the next). Without a snapshot, the first sites__read takes one.
 */
int sites__snapshot(struct sites *s);
/*
 * Read and resolve every stack of pid into *out (free with sites_report__free).  Code names are
 * read with process_vm_readv and cached per (pid, code).  -ENOENT if pid was never added.
 */
int sites__read(struct sites *s, pid_t pid, struct sites_report *out);

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
