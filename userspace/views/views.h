/* SPDX-License-Identifier: BSD-2-Clause */
/* Renderers of the model: batch text and JSON lines (the TUI is tui.c). None touches BPF or targets. */
#ifndef PYLEAK_VIEWS_H
#define PYLEAK_VIEWS_H

#include "util/common.h"
#include "model/model.h"

/* One JSON object (one line, newline-terminated) for a refresh: docs/json.md. */
void view_json__snapshot(struct strbuf *sb, const struct snapshot *snap);
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
