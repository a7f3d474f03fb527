/* SPDX-License-Identifier: BSD-2-Clause */
/* `top --replay`: turn a recorded trace back into the snapshots the live views render. */
#ifndef PYLEAK_REPLAY_H
#define PYLEAK_REPLAY_H

#include "model/source.h"
#include "trace/trace.h"

struct replay;

/* Over a loaded trace (which must outlive it). speed: recorded seconds per real second. */
int replay__new(const struct trace *t, double speed, struct replay **out);
void replay__free(struct replay *r);
void replay__source(struct snapshot_source *s, struct replay *r);
int replay__steps(const struct replay *r);

#endif /* PYLEAK_REPLAY_H */
