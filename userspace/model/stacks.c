/* SPDX-License-Identifier: BSD-2-Clause */
/* Text forms of sampled stacks (one frame, collapsed stacks) and the report's lifetime. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/stacks.h"
#include "util/escape.h"

int site_frame__format(const struct site_frame *f, char *buf, size_t size)
{
	const char *file = f->code ? f->code->file : "?";
	const char *func = f->code ? f->code->func : "?";
	int n;

	if (f->line >= 0)
		n = snprintf(buf, size, "%s:%d %s", file, f->line, func);
	else
		n = snprintf(buf, size, "%s:? %s", file, func);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int sites__format_collapsed(const struct sites_report *rep, const char *root, struct strbuf *sb)
{
	char frame[SITES_FILE_MAX + SITES_FUNC_MAX + 16];
	int i, k, lines = 0;

	if (!rep || !sb)
		return -EINVAL;
	for (i = 0; i < rep->nstacks; i++) {
		const struct site_stack *st = &rep->stacks[i];
		bool first = true;

		if (!st->count || st->nframes <= 0)
			continue;
		if (root) {
			esc_collapsed(sb, root);
			first = false;
		}
		if (st->truncated) {
			if (!first)
				sb_putc(sb, ';');
			sb_puts(sb, "[truncated]");
			first = false;
		}
		for (k = st->nframes - 1; k >= 0; k--) {
			site_frame__format(&st->frames[k], frame, sizeof(frame)); /* truncation: still a name */
			if (!first)
				sb_putc(sb, ';');
			esc_collapsed(sb, frame); /* frame separators, line breaks, controls */
			first = false;
		}
		sb_printf(sb, " %llu\n", (unsigned long long)st->count);
		lines++;
	}
	return lines;
}

void sites_report__free(struct sites_report *rep)
{
	if (!rep)
		return;
	free(rep->stacks);
	rep->stacks = NULL;
	rep->nstacks = 0;
	free(rep->surv);
	rep->surv = NULL;
	rep->nsurv = 0;
}

const struct site_stack *sites_report__find(const struct sites_report *rep, uint64_t stack_id)
{
	int i;

	for (i = 0; rep && i < rep->nstacks; i++)
		if (rep->stacks[i].stack_id == stack_id)
			return &rep->stacks[i];
	return NULL;
}

/* The frames of one stack, root first, after `prefix` frames already written (first = none yet). */
static void put_frames(struct strbuf *sb, const struct site_stack *st, bool first)
{
	char frame[SITES_FILE_MAX + SITES_FUNC_MAX + 16];
	int k;

	if (st->truncated) {
		if (!first)
			sb_putc(sb, ';');
		sb_puts(sb, "[truncated]");
		first = false;
	}
	for (k = st->nframes - 1; k >= 0; k--) {
		site_frame__format(&st->frames[k], frame, sizeof(frame)); /* truncation: still a name */
		if (!first)
			sb_putc(sb, ';');
		esc_collapsed(sb, frame);
		first = false;
	}
}

int survivors__format_collapsed(const struct survivors *sv, const struct sites_report *rep, const char *root,
				struct strbuf *sb)
{
	int i, lines = 0;

	if (!sv || !sb)
		return -EINVAL;
	for (i = 0; i < sv->naggs; i++) {
		const struct surv_agg *g = &sv->aggs[i];
		const struct site_stack *st = sites_report__find(rep, g->stack_id);

		if (!g->alive)
			continue;
		if (root) {
			esc_collapsed(sb, root);
			sb_putc(sb, ';');
		}
		esc_collapsed(sb, g->type_name[0] ? g->type_name : "?");
		if (st && st->nframes > 0)
			put_frames(sb, st, false);
		else
			sb_printf(sb, ";[stack %016llx]", (unsigned long long)g->stack_id);
		sb_printf(sb, " %llu\n", (unsigned long long)g->alive);
		lines++;
	}
	return lines;
}
