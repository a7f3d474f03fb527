/* SPDX-License-Identifier: BSD-2-Clause */
/* Survivor samples: sampled allocations (object, type, stack) followed across censuses, and their
 * aggregates per (type, stack): sampled, survived, alive now.  Pure bookkeeping (unit-tested):
 * probes/sites.c produces the samples, analysis/ asks the census about them. */
#ifndef PYLEAK_SURVIVORS_H
#define PYLEAK_SURVIVORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Samples followed per process.  A new sample beyond this is counted in store_full, not kept:
 * followed samples are the evidence and must not be evicted by a burst of new ones. */
#define SURV_STORE_MAX 8192
/* (type, stack) rows per process; a new pair beyond this counts agg_full. */
#define SURV_AGG_MAX   2048
#define SURV_TYPE_NAME_MAX 160

/* How the object of a sampled stack was found (bpf/sites.h enum surv_mode, same values). */
enum surv_pairing {
	SURV_PAIR_NONE = 0,
	SURV_PAIR_NEWEST = 1,	  /* 3.12+: newest young object at the collection start */
	SURV_PAIR_NEXT_FIRST = 2, /* <= 3.11: first objects tracked after the collection */
};
const char *surv_pairing__name(int mode);	/* "newest_young", "next_first_young", "none" */
/* What the sampled stack's leaf line is: "allocating call" (<= 3.11) or "next bytecode boundary". */
const char *surv_pairing__site_is(int mode);
/*
 * The generation a sample is known to be in when bpf/sites.bpf.c confirms it, the lower bound
 * for every later census (objects only move to older generations): NEWEST samples are confirmed
 * after a gen-1 collection (generation 2), NEXT_FIRST ones after their first young collection
 * (generation 1 or older); -1 unknown.  A newer object that took a dead sample's address is
 * younger than that until promoted, and the census sees it there.
 */
int surv_pairing__confirmed_gen(int mode);

struct surv_sample {
	uint64_t addr;	   /* PyObject* */
	uint64_t type;	   /* PyTypeObject* when sampled */
	uint64_t stack_id; /* site_stacks key (with the pid) */
	double time;	   /* wall clock of the sampled collection */
	uint32_t seq;	   /* collections seen by the sampler at that moment */
	uint16_t position; /* young-list position it was found at */
	uint16_t mode;	   /* enum surv_pairing */
};

enum surv_state { SURV_PENDING = 0, SURV_ALIVE, SURV_DEAD };

struct surv_tracked {
	struct surv_sample s;
	int64_t old_base;  /* gen-1 + gen-2 collections when the sample was taken (for reuse checks) */
	int64_t last_old;  /* ... at the latest census that saw it alive */
	int8_t last_gen;   /* its generation then (surv_pairing__confirmed_gen before) */
	int agg;	   /* index into aggs, -1 when the table was full */
	uint8_t state;
	bool survived;	   /* seen alive by at least one census */
};

struct surv_agg {
	uint64_t type, stack_id;
	char type_name[SURV_TYPE_NAME_MAX]; /* filled by the analysis ("" until resolved) */
	uint64_t sampled;  /* samples of this type made by this stack */
	uint64_t survived; /* ... seen alive by a census after sampling */
	uint64_t alive;	   /* ... alive at the latest census */
	uint64_t died;	   /* ... gone (or their address reused) */
};

struct survivors {
	int mode;		  /* enum surv_pairing of the process */
	struct surv_tracked *t;	  /* SURV_STORE_MAX */
	int nt;
	struct surv_agg *aggs;	  /* SURV_AGG_MAX */
	int naggs;
	uint64_t sampled, survived, alive, died, pending;
	uint64_t reused;     /* died: the address held an object too young (or of another type) */
	uint64_t store_full; /* samples not followed: store full */
	uint64_t agg_full;   /* samples followed without a (type, stack) row: table full */
	int censuses;	     /* censuses that settled the samples */
	/* Rebuilt by a replay from a trace's (type, stack) rows: sampled, survived and alive are
	 * known; died, pending, reused, the overflow counts and the tracked samples are not. */
	bool from_trace;
	double last_settle;  /* wall clock of the latest */
};

int survivors__init(struct survivors *sv);
void survivors__free(struct survivors *sv);

/* Follow n new samples; old_collections = gen-1 + gen-2 collections so far (< 0 unknown). */
void survivors__add(struct survivors *sv, const struct surv_sample *s, int n, int64_t old_collections);

/* The distinct addresses a census should look for, sorted ascending (malloc'ed into *out, free it).
 * Returns the count (0: nothing pending or alive, *out NULL) or -ENOMEM. */
long survivors__probe_list(const struct survivors *sv, uint64_t **out);

/*
 * What the census found at each probed address (same order as the probe list): type 0 = not on
 * any GC list; gen = 0..2.  Decides each followed sample:
 *   - absent, or another type at the address: died;
 *   - in generation 0: an object younger than the sample took the address (the sample was in
 *     the young list of the collection it was taken at, so it left generation 0 then): died;
 *   - in generation 1 after a gen-1/gen-2 collection since the sample (it would be in 2): died;
 *   - in a younger generation than at the previous census, or still in generation 1 after a
 *     gen-1/gen-2 collection since that census (objects only move to older generations): died;
 *   - in generation 1 behind a sample promoted by a later collection (index, may be NULL: a
 *     young collection appends its survivors to generation 1 as one block, so generation 1
 *     is in promotion order; a newer object at the address sits in a later block): died;
 *   - else alive (and survived).
 * Dead samples are dropped from the store; their counts stay in the aggregates.
 */
void survivors__settle(struct survivors *sv, const uint64_t *addrs, const uint64_t *types, const int8_t *gens,
		       const int64_t *index, size_t n, int64_t old_collections, double now);

/* Σ over the (type, stack) rows of one type: alive, survived, sampled. */
struct surv_type_total {
	uint64_t alive, survived, sampled;
	int top;	     /* index of the row with the most alive samples (-1 none) */
};
void survivors__type_total(const struct survivors *sv, uint64_t type, struct surv_type_total *out);

#endif /* PYLEAK_SURVIVORS_H */
