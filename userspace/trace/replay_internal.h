/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared by replay.c and replay_sites.c: a trace process's sites and survivor samples, rebuilt
 * once for every step of a replay. */
#ifndef PYLEAK_REPLAY_INTERNAL_H
#define PYLEAK_REPLAY_INTERNAL_H

#include "model/model.h"
#include "trace/trace.h"

struct replay_sites {
	double time;		 /* when the process's rows were written (its exit or the end); < 0 none */
	struct sites_report rep; /* stacks parsed back from their text, counts summed, by count */
	struct site_code *codes; /* the frames' file and function: SITES_MAX_FRAMES per stack */
	struct survivors *sv;	 /* the (type, stack) rows (from_trace), or NULL */
};

/* 0, or -ENOMEM (rs then empty). Stack and type ids are hashes of the recorded texts. */
int replay_sites__build(const struct trace *t, int pidx, struct replay_sites *rs);
/* The row of step time `at` borrows them once they were recorded (at or before `at`). */
void replay_sites__fill(const struct replay_sites *rs, double at, struct proc_row *row);
void replay_sites__free(struct replay_sites *rs);

#endif /* PYLEAK_REPLAY_INTERNAL_H */
