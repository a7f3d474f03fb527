/* SPDX-License-Identifier: BSD-2-Clause */
/* Renderers of the model: batch text and JSON lines (the TUI is tui.c). None touches BPF or targets. */
#ifndef PYLEAK_VIEWS_H
#define PYLEAK_VIEWS_H

#include "util/common.h"
#include "model/model.h"

/* One JSON object (one line, newline-terminated) for a refresh: docs/json.md. */
void view_json__snapshot(struct strbuf *sb, const struct snapshot *snap);
/*
 * The same, reusing each process's types and containers text while its rows_seq stays (they
 * change only at a census: on a host of idle processes they were two thirds of every line).
 * The cache holds one entry per process of the last snapshots; NULL: no reuse.
 */
struct view_json_cache;
struct view_json_cache *view_json_cache__new(void);
void view_json_cache__free(struct view_json_cache *c);
void view_json__snapshot_cached(struct strbuf *sb, const struct snapshot *snap, struct view_json_cache *c);
/* The per-process object inside "processes" (also used by the recorder's metadata). */
void view_json__process(struct strbuf *sb, const struct proc_row *row);
/* view_json_groups.c: `,"ppid":..,"group":{...}` of a process and `,"groups":[...]` of a snapshot. */
void view_json__process_group(struct strbuf *sb, const struct snapshot *snap, const struct proc_row *row);
void view_json__groups(struct strbuf *sb, const struct snapshot *snap);
/* ,"memory":{...} of a process (view_json_memory.c). */
void view_json__memory(struct strbuf *sb, const struct proc_row *row);
/* A block of plain text for a refresh (`top -b`). */
void view_text__snapshot(struct strbuf *sb, const struct snapshot *snap);
/* view_text_groups.c: the families' block of a refresh (nothing without families). */
void view_text__groups(struct strbuf *sb, const struct snapshot *snap);

#endif /* PYLEAK_VIEWS_H */
