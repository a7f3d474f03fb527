/* SPDX-License-Identifier: BSD-2-Clause */
/* Allocation rates per type: load bpf/alloc.bpf.c, attach young-sample / exact probes, duty-cycle
 * the exact ones under an overhead budget, and turn the kernel's counters into per-second rates. */
#ifndef PYLEAK_ALLOC_MOD_H
#define PYLEAK_ALLOC_MOD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/allocstats.h"
#include "target/python.h"

#define ALLOC_YOUNG_DEFAULT 256 /* nodes sampled per collection (≈ 1/3 of a 700 gen-0, 1/8 of 2000) */
/*
 * Cost of one exact-probe hit in the target that the budget scheduler assumes until it has
 * measured its own (userspace/budget.h: from the target's system time).  Measured on the 2-vCPU
 * KVM guest, Linux 6.18: ≈ 1.0–1.9 µs per hit at an emulated `push` first instruction; more when
 * single-stepped (PyObject_GC_Del of 3.8–3.11 starts with a `mov`).  Rounded up on purpose.
 */
#define ALLOC_HIT_COST_NS_DEFAULT 2000

struct alloc_probes_opts {
	enum alloc_mode mode;
	double budget_pct;   /* ALLOC_MODE_BUDGET: target slowdown cap in percent (e.g. 2.0) */
	unsigned young_max;  /* nodes per young walk; 0 = ALLOC_YOUNG_DEFAULT */
	double hit_cost_ns;  /* 0 = ALLOC_HIT_COST_NS_DEFAULT */
};

struct alloc_probes;

int alloc_probes__open(struct alloc_probes **out, const struct alloc_probes_opts *opts);
enum alloc_mode alloc_probes__mode(const struct alloc_probes *p);

/* Young-sample hooks, same targets as gc_probes__attach_usdt / gc_probes__attach_collector
 * (pid -1, de-duplicated by inode [+ offset]).  Needed by every mode: exact mode uses them for
 * the completeness check. */
int alloc_probes__attach_usdt(struct alloc_probes *p, const char *binary_path);
int alloc_probes__attach_collector(struct alloc_probes *p, const char *binary_path, uint64_t func_offset,
				   int gen_spec);

/*
 * Register a target whose GC state was resolved (python__resolve_gc).  Copies what it needs
 * (layout, addresses, runtime_path); in exact/budget modes resolves the allocator symbols of
 * t->runtime_path (.dynsym) and attaches per-pid uprobes (exact: now; budget: by the scheduler).
 */
int alloc_probes__set_target(struct alloc_probes *p, const struct py_target *t);
int alloc_probes__forget(struct alloc_probes *p, pid_t pid);

/* Budget scheduler: attach/detach the exact probes.  Call at least every 100 ms (from the wait
 * loop); cheap when nothing is due.  Returns ms until it next needs to run (or -errno). */
int alloc_probes__tick(struct alloc_probes *p);

/* Rates since the previous read of this pid.  young_count: the gen 0 count read with this
 * refresh's GC state, or -1 to have it read here.  -EAGAIN on the first read (baseline taken),
 * -ENOENT for an unregistered pid. */
int alloc_probes__read(struct alloc_probes *p, pid_t pid, int64_t young_count, struct alloc_report *out);

/* Detaches everything.  NULL is fine. */
void alloc_probes__destroy(struct alloc_probes *p);

/*
 * Pure helpers (unit-tested).
 * young estimate: rate(type) = samples(type) / samples(all) × net_new / dt, where
 * net_new = Σ generations[0].count at the sampled collection starts + (count0 now − count0 before).
 */
double alloc_young__rate(uint64_t type_samples, uint64_t all_samples, double net_new, double dt);
/* probed / expected, or -1 when expected < min_expected. */
double alloc_completeness(int64_t probed, int64_t expected, int64_t min_expected);

#endif /* PYLEAK_ALLOC_MOD_H */
