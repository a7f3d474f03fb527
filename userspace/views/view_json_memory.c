/* SPDX-License-Identifier: BSD-2-Clause */
/* The "memory" object of a process in JSON lines: RSS explained (docs/json.md), raw bytes. */
#include "views/views.h"

#include <stdio.h>

static void num(struct strbuf *sb, double v)
{
	if (v != v || v > 1e300 || v < -1e300)
		sb_puts(sb, "null");
	else
		sb_printf(sb, "%.6g", v);
}

void view_json__memory(struct strbuf *sb, const struct proc_row *row)
{
	const struct memory_row *m = &row->memory;

	if (!m->valid) {
		sb_puts(sb, ",\"memory\":null");
		return;
	}
	sb_printf(sb, ",\"memory\":{\"time\":%.3f,\"rss_bytes\":%llu,\"parts\":{\"pymalloc_arenas\":%llu,"
		      "\"malloc_heap\":%llu,\"anon_other\":%llu,\"stacks\":%llu,\"file\":%llu,\"other\":%llu},"
		      "\"shared_bytes\":%llu,\"swap_bytes\":%llu,\"thread_stacks\":%d,\"pymalloc\":{\"source\":",
		  m->time, (unsigned long long)m->rss, (unsigned long long)m->arenas, (unsigned long long)m->heap,
		  (unsigned long long)m->anon, (unsigned long long)m->stacks, (unsigned long long)m->file,
		  (unsigned long long)m->other, (unsigned long long)m->shared, (unsigned long long)m->swap,
		  m->thread_stacks);
	sb_json_str(sb, m->arena_source);
	sb_printf(sb, ",\"certainty\":\"%s\",\"why\":",
		  m->arena_source[0] == 't' ? "exact" : m->arena_source[0] == 's' ? "heuristic" : "none");
	sb_json_str(sb, m->arena_why[0] ? m->arena_why : NULL);
	sb_puts(sb, ",\"confidence\":");
	num(sb, m->arena_confidence);
	sb_printf(sb, ",\"arenas\":%lld,\"arena_bytes\":%lld,\"blocks_used\":%lld,\"blocks_free\":%lld,"
		      "\"block_bytes_used\":%lld,\"block_bytes_free\":%lld,\"unused_pool_bytes\":%lld},"
		      "\"objects\":{\"tracked_bytes\":%lld,\"untracked_bytes\":%lld,\"untracked_objects\":%lld},"
		      "\"per_min\":{\"rss\":",
		  (long long)m->narenas, (long long)m->arena_bytes, (long long)m->blocks_used, (long long)m->blocks_free,
		  (long long)m->block_bytes_used, (long long)m->block_bytes_free, (long long)m->unused_pool_bytes,
		  (long long)m->tracked_bytes, (long long)m->untracked_bytes, (long long)m->untracked_objects);
	num(sb, m->rss_per_min);
	sb_puts(sb, ",\"pymalloc_arenas\":");
	num(sb, m->arenas_per_min);
	sb_puts(sb, ",\"objects\":");
	num(sb, m->objects_per_min);
	sb_puts(sb, ",\"malloc\":");
	num(sb, m->malloc_per_min);
	sb_puts(sb, ",\"stacks\":");
	num(sb, m->stacks_per_min);
	sb_puts(sb, ",\"file\":");
	num(sb, m->file_per_min);
	sb_puts(sb, "}}");
}
