/* SPDX-License-Identifier: BSD-2-Clause */
/* Sampled native allocations: load bpf/native.bpf.c, duty-cycle its libc uprobes per process under
 * the overhead budget (probes/budget.h), keep the samples not seen freed, resolve their stacks. */
#ifndef PYLEAK_NATIVE_PROBES_H
#define PYLEAK_NATIVE_PROBES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/native.h"
#include "target/python.h"

/*
 * 1 in 1 while attached: the two traps (entry + return) are paid on every call, sampled or not,
 * so under a fixed budget skipping calls in BPF saves only the stack walk and yields fewer
 * samples per unit of cost (~3 µs of traps + ~3 µs of sample: every=1 gives ~4x the samples of
 * every=8 for the same CPU). --every N thins the events when the probes stay attached (--budget 0).
 */
#define NATIVE_EVERY_DEFAULT 1
#define NATIVE_BUDGET_DEFAULT 2.0    /* percent of the target's own CPU, as --alloc-budget */
/*
 * A sampled call costs an entry uprobe (~1 µs, malloc starts with an emulated `push`... or an
 * endbr64, single-stepped) and a uretprobe (~1.8 µs) on every call, sampled or not, plus the
 * Python stack walk on sampled ones: assumed until measured from the target's system time.
 */
#define NATIVE_HIT_COST_NS_DEFAULT 3000

struct native_probes_opts {
	unsigned every;	   /* sample 1 in `every` calls per pid; 0 = NATIVE_EVERY_DEFAULT */
	double budget_pct; /* slowdown cap; <= 0: always attached (exact, costly) */
};

struct native_probes;

int native_probes__open(struct native_probes **out, const struct native_probes_opts *opts);

/*
 * Start sampling target t: finds the libc it maps and malloc, calloc, realloc, free and
 * posix_memalign in it, registers the Python stack walker (when t's layout has frame offsets).
 * -ENOTSUP if it has no glibc libc mapped, or another allocator interposes (mallocheap.h).
 */
int native_probes__add(struct native_probes *p, const struct py_target *t);
int native_probes__forget(struct native_probes *p, pid_t pid);

/* Attach/detach by budget and drain the ring buffer; call often (<= 100 ms). Returns ms until
 * it needs to run again. */
int native_probes__tick(struct native_probes *p);

/* The samples not seen freed and their stacks (names resolved), unverified: verify with
 * nativeleak__verify. Free with native_report__free. */
int native_probes__read(struct native_probes *p, pid_t pid, struct native_report *out);

/* After nativeleak__verify(rep): forget (here and in the kernel's live map) the samples the
 * verification dropped as freed unseen, so the maps hold only what may still be outstanding. */
int native_probes__keep(struct native_probes *p, pid_t pid, const struct native_report *rep);

/* Detaches everything (no probe left behind); NULL is fine. */
void native_probes__destroy(struct native_probes *p);

#endif /* PYLEAK_NATIVE_PROBES_H */
