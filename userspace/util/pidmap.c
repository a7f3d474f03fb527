/* SPDX-License-Identifier: BSD-2-Clause */
/* pid -> pointer: open addressing, linear probing, load at most 1/2, deletion by backward shift
 * (no tombstones, so a map under churn of short-lived processes does not fill with them). */
#include "util/pidmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t home(pid_t pid, size_t cap)
{
	/* Fibonacci hashing (the top bits of the product): pids are dense and sequential, the
	 * multiply spreads them; cap is a power of two of at least 64 */
	return (size_t)(((uint32_t)pid * 2654435769u) >> (32 - __builtin_ctzl(cap)));
}

static struct pidmap_slot *find(const struct pidmap *m, pid_t pid)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = home(pid, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].pid == pid)
			return &m->slots[i];
		if (!m->slots[i].pid)
			return NULL;
	}
}

void *pidmap__get(const struct pidmap *m, pid_t pid)
{
	const struct pidmap_slot *s = pid > 0 ? find(m, pid) : NULL;

	return s ? s->val : NULL;
}

static void insert(struct pidmap_slot *slots, size_t cap, pid_t pid, void *val)
{
	size_t i = home(pid, cap);

	while (slots[i].pid && slots[i].pid != pid)
		i = (i + 1) & (cap - 1);
	slots[i].pid = pid;
	slots[i].val = val;
}

int pidmap__put(struct pidmap *m, pid_t pid, void *val)
{
	struct pidmap_slot *s;

	if (pid <= 0)
		return -EINVAL;
	s = find(m, pid);
	if (s) {
		s->val = val;
		return 0;
	}
	if ((m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64, i;
		struct pidmap_slot *n = calloc(cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		for (i = 0; i < m->cap; i++)
			if (m->slots[i].pid)
				insert(n, cap, m->slots[i].pid, m->slots[i].val);
		free(m->slots);
		m->slots = n;
		m->cap = cap;
	}
	insert(m->slots, m->cap, pid, val);
	m->n++;
	return 0;
}

void pidmap__del(struct pidmap *m, pid_t pid, const void *val)
{
	struct pidmap_slot *s = pid > 0 ? find(m, pid) : NULL;
	size_t i, j, h;

	if (!s || (val && s->val != val))
		return;
	i = (size_t)(s - m->slots);
	/* Backward shift: move each later entry of the run into the hole when its home does not lie
	 * (cyclically) between the hole and it, so every entry stays reachable from its home. */
	for (j = (i + 1) & (m->cap - 1); m->slots[j].pid; j = (j + 1) & (m->cap - 1)) {
		h = home(m->slots[j].pid, m->cap);
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		m->slots[i] = m->slots[j];
		i = j;
	}
	m->slots[i].pid = 0;
	m->slots[i].val = NULL;
	m->n--;
}

void pidmap__clear(struct pidmap *m)
{
	if (m->cap)
		memset(m->slots, 0, m->cap * sizeof(*m->slots));
	m->n = 0;
}

void pidmap__fini(struct pidmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}
