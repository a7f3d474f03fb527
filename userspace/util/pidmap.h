/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pid -> pointer, in O(1): the collector and the probe sets keep one entry per watched process,
 * and each refresh looks every one of them up (1000 processes: a linear search per lookup was a
 * million comparisons a refresh, the largest single cost of `top` on such a host).
 */
#ifndef PYLEAK_PIDMAP_H
#define PYLEAK_PIDMAP_H

#include <stddef.h>
#include <sys/types.h>

struct pidmap_slot {
	pid_t pid; /* 0: empty */
	void *val;
};

struct pidmap {
	struct pidmap_slot *slots;
	size_t cap; /* a power of two, or 0 before the first put */
	size_t n;
};

/* A zeroed struct pidmap is an empty map. */
void *pidmap__get(const struct pidmap *m, pid_t pid);
/* Adds or replaces; 0 or -ENOMEM (then the map is unchanged), -EINVAL for pid <= 0. */
int pidmap__put(struct pidmap *m, pid_t pid, void *val);
/* Removes pid's entry when it maps to val (val NULL: whatever it maps to). */
void pidmap__del(struct pidmap *m, pid_t pid, const void *val);
void pidmap__clear(struct pidmap *m);
void pidmap__fini(struct pidmap *m);

#endif
