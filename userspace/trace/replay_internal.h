/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared by replay.c and replay_sites.c: a trace process's sites and survivor samples, rebuilt
 * once for every step of a replay. */
#ifndef PYLEAK_REPLAY_INTERNAL_H
#define PYLEAK_REPLAY_INTERNAL_H

#include "model/model.h"
#include "trace/trace.h"

struct replay_sites {
	double time;		  /* when the process's rows were written (its exit or the end); < 0 none */
	struct sites_report rep;  /* stacks parsed back from their text, counts summed, by count */
	struct site_code **codes; /* per stack parsed: its frames' file and function */
	struct survivors *sv;	  /* the (type, stack) rows (from_trace), or NULL */
	int cap;		  /* stacks it has room for */
	int *hash;		  /* while building: stack ids → index into rep.stacks (-1 free) */
	uint32_t hash_size;
};

/* rs[t->nprocs]: every process's, in one pass over the file's rows. 0, or -ENOMEM (then all
 * empty). Stack and type ids are hashes of the recorded texts; bounded per process and in all. */
int replay_sites__build_all(const struct trace *t, struct replay_sites *rs);
/* The row of step time `at` borrows them once they were recorded (at or before `at`). */
void replay_sites__fill(const struct replay_sites *rs, double at, struct proc_row *row);
void replay_sites__free(struct replay_sites *rs);

#endif /* PYLEAK_REPLAY_INTERNAL_H */
