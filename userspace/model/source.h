/* SPDX-License-Identifier: BSD-2-Clause */
/* Where the views get snapshots from: the live collector or a recorded trace (top --replay). */
#ifndef PYLEAK_SOURCE_H
#define PYLEAK_SOURCE_H

#include <stdbool.h>

#include "model/model.h"

struct snapshot_source {
	/* Fill *snap with the next snapshot (rows owned by the source until the next call). */
	int (*next_snapshot)(void *ctx, struct snapshot *snap);
	/* Spend up to ms (live: consuming probe events; replay: sleeping). */
	void (*wait)(void *ctx, long ms);
	void (*set_interval)(void *ctx, double interval_s);
	/* Replay: no more snapshots after the last one returned. */
	bool (*done)(void *ctx);
	void *ctx;
};

struct collector;
void source__from_collector(struct snapshot_source *s, struct collector *c);

#endif /* PYLEAK_SOURCE_H */
