/* SPDX-License-Identifier: BSD-2-Clause */
/* RSS explained per process: smaps parts, pymalloc arenas and Python objects, and where growth is. */
#ifndef PYLEAK_ANALYSIS_MEMORY_H
#define PYLEAK_ANALYSIS_MEMORY_H

#include <stddef.h>
#include <sys/types.h>

#include "analysis/census.h"
#include "model/memory.h"

/*
 * Measure the process now: /proc/PID/smaps split into disjoint parts, the arenas' resident pages
 * and the allocator's accounting from c (a census run with all_objects; NULL: none, the arenas
 * part stays 0 and arena_why says why). arena_size: the version's ARENA_SIZE. 0 or -errno.
 */
int memory__measure(pid_t pid, const struct census *c, int arena_size, struct memory_row *m, double now);

/* Series of the parts, kept across measurements (bounded). */
struct memory_trends;
struct memory_trends *memory_trends__new(void);
void memory_trends__free(struct memory_trends *t);
/* Add m as a point and fill m's *_per_min from the series. */
void memory_trends__update(struct memory_trends *t, struct memory_row *m);

/*
 * One sentence on where RSS growth is, for the "rss" suspect:
 * "pymalloc arenas flat, Python objects flat, malloc heap and anonymous memory +2.0 MiB/min:
 * large (> 512 B) or native allocations". Empty when m is not valid.
 */
void memory__explain(const struct memory_row *m, char *buf, size_t size);

#endif /* PYLEAK_ANALYSIS_MEMORY_H */
