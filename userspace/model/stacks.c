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
}
