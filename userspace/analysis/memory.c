/* SPDX-License-Identifier: BSD-2-Clause */
/* RSS explained per process: smaps parts, pymalloc arenas and Python objects, and where growth is. */
#include "analysis/memory.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/leak.h"
#include "target/smaps.h"
#include "util/common.h"

int memory__measure(pid_t pid, const struct census *c, int arena_size, struct memory_row *m, double now)
{
	struct smaps_vma *vmas = NULL;
	struct smaps_totals tot;
	const struct census_stats *st = c ? census__stats(c) : NULL;
	int n;

	n = smaps__read(pid, &vmas, &tot);
	free(vmas);
	if (n < 0)
		return n;
	memset(m, 0, sizeof(*m));
	m->valid = true;
	m->time = now;
	m->rss = tot.rss;
	m->heap = tot.kind_rss[SMAPS_HEAP];
	m->anon = tot.kind_rss[SMAPS_ANON];
	m->stacks = tot.kind_rss[SMAPS_STACK] + tot.kind_rss[SMAPS_THREAD_STACK];
	m->file = tot.kind_rss[SMAPS_FILE];
	m->other = tot.kind_rss[SMAPS_OTHER];
	m->shared = tot.shared;
	m->swap = tot.swap;
	m->thread_stacks = tot.thread_stacks;
	copy_str(m->arena_source, sizeof(m->arena_source), "none");
	if (!st) {
		copy_str(m->arena_why, sizeof(m->arena_why), "no census with an arena scan yet");
		return 0;
	}
	if (!st->arenas_scanned) {
		copy_str(m->arena_why, sizeof(m->arena_why), st->arenas_why[0] ? st->arenas_why : "arenas not found");
		return 0;
	}
	copy_str(m->arena_source, sizeof(m->arena_source), arena_source__name(st->pymalloc.source));
	m->arena_confidence = arenas__confidence(&st->pymalloc);
	m->narenas = st->pymalloc.arenas;
	m->arena_bytes = st->pymalloc.arenas * (int64_t)arena_size;
	m->blocks_used = st->pymalloc.blocks_used;
	m->blocks_free = st->pymalloc.blocks_avail;
	m->block_bytes_used = st->pymalloc.bytes_used;
	m->block_bytes_free = st->pymalloc.bytes_avail;
	if (m->arena_bytes > m->block_bytes_used + m->block_bytes_free)
		m->unused_pool_bytes = m->arena_bytes - m->block_bytes_used - m->block_bytes_free;
	/* Arenas are anonymous private mmaps (_PyObject_ArenaMmap): their pages are part of anon. */
	if (st->pymalloc.resident_bytes > 0) {
		m->arenas = (uint64_t)st->pymalloc.resident_bytes;
		if (m->arenas > m->anon)
			m->arenas = m->anon; /* the census and smaps are moments apart */
		m->anon -= m->arenas;
	}
	{
		size_t i, nt = census__ntypes(c);

		for (i = 0; i < nt; i++) {
			const struct census_type *ct = census__type(c, i);

			m->untracked_bytes += ct->untracked_bytes;
			m->untracked_objects += ct->untracked;
			m->tracked_bytes += ct->bytes - ct->untracked_bytes;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- trends */

enum { T_RSS, T_ARENAS, T_OBJECTS, T_MALLOC, T_STACKS, T_FILE, T_N };

struct memory_trends {
	struct leak_series s[T_N];
};

struct memory_trends *memory_trends__new(void)
{
	return calloc(1, sizeof(struct memory_trends));
}

void memory_trends__free(struct memory_trends *t)
{
	free(t);
}

#define WINDOW 60

static double slope(const struct leak_series *s)
{
	static double t[LEAK_MAX_POINTS], v[LEAK_MAX_POINTS];
	int n = leak_series__points(s, t, v), skip = n > WINDOW ? n - WINDOW : 0;
	struct trend tr;

	trend__compute(t + skip, v + skip, n - skip, &tr);
	return tr.n >= 3 ? tr.slope_per_min : 0;
}

void memory_trends__update(struct memory_trends *t, struct memory_row *m)
{
	double v[T_N];
	int i;

	if (!t || !m->valid)
		return;
	v[T_RSS] = (double)m->rss;
	v[T_ARENAS] = (double)m->arenas;
	v[T_OBJECTS] = (double)(m->tracked_bytes + m->untracked_bytes);
	v[T_MALLOC] = (double)(m->heap + m->anon);
	v[T_STACKS] = (double)m->stacks;
	v[T_FILE] = (double)m->file;
	for (i = 0; i < T_N; i++)
		leak_series__add(&t->s[i], m->time, v[i]);
	m->rss_per_min = slope(&t->s[T_RSS]);
	m->arenas_per_min = slope(&t->s[T_ARENAS]);
	m->objects_per_min = slope(&t->s[T_OBJECTS]);
	m->malloc_per_min = slope(&t->s[T_MALLOC]);
	m->stacks_per_min = slope(&t->s[T_STACKS]);
	m->file_per_min = slope(&t->s[T_FILE]);
}

/* ---------------------------------------------------------------- explanation */

/* A part "grows" when it moves by more than 64 KiB/min or 10% of the RSS growth. */
static bool moves(double per_min, double rss_per_min)
{
	return fabs(per_min) > 65536 && fabs(per_min) > 0.1 * fabs(rss_per_min);
}

static void part(struct strbuf *sb, const char *name, double per_min, double rss_per_min)
{
	if (sb->len)
		sb_puts(sb, ", ");
	if (moves(per_min, rss_per_min))
		sb_printf(sb, "%s %+.1f MiB/min", name, per_min / 1048576);
	else
		sb_printf(sb, "%s flat", name);
}

void memory__explain(const struct memory_row *m, char *buf, size_t size)
{
	struct strbuf sb;
	const char *why = NULL;
	bool known, objects_move, arenas_move;

	buf[0] = 0;
	if (!m->valid || !size)
		return;
	/* Objects' bytes come from the same census as the arenas: unknown together. */
	known = strcmp(m->arena_source, "none") != 0;
	objects_move = known && moves(m->objects_per_min, m->rss_per_min);
	arenas_move = known && moves(m->arenas_per_min, m->rss_per_min);
	sb_init(&sb);
	if (strcmp(m->arena_source, "none"))
		part(&sb, "pymalloc arenas", m->arenas_per_min, m->rss_per_min);
	else
		sb_puts(&sb, "pymalloc arenas unknown");
	if (strcmp(m->arena_source, "none"))
		part(&sb, "Python objects", m->objects_per_min, m->rss_per_min);
	part(&sb, "malloc heap and anonymous memory", m->malloc_per_min, m->rss_per_min);
	if (moves(m->stacks_per_min, m->rss_per_min))
		part(&sb, "thread stacks", m->stacks_per_min, m->rss_per_min);
	if (moves(m->file_per_min, m->rss_per_min))
		part(&sb, "file-backed", m->file_per_min, m->rss_per_min);
	if (moves(m->malloc_per_min, m->rss_per_min) && !objects_move)
		why = "large (> 512 B) or native allocations";
	else if (arenas_move && !objects_move)
		why = "arenas grow while objects do not: fragmentation or freed objects' pools kept";
	else if (objects_move)
		why = "Python objects";
	if (why)
		sb_printf(&sb, ": %s", why);
	copy_str(buf, size, sb.oom || !sb.buf ? "" : sb.buf);
	sb_free(&sb);
}
