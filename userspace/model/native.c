/* SPDX-License-Identifier: BSD-2-Clause */
/* Sampled native allocations as the model and every view read them: samples, stacks, verdicts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/native.h"

void native_report__free(struct native_report *rep)
{
	if (!rep)
		return;
	free(rep->samples);
	free(rep->stacks);
	rep->samples = NULL;
	rep->stacks = NULL;
	rep->nsamples = rep->nstacks = 0;
}

int native_stack__format(const struct native_stack *st, int max_py, char *buf, size_t size)
{
	char frame[SITES_FILE_MAX + SITES_FUNC_MAX + 16];
	size_t len = 0;
	int i, n;

	if (!size)
		return -ENAMETOOLONG;
	buf[0] = '\0';
	n = snprintf(buf, size, "%s", st->caller);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	len = (size_t)n;
	for (i = 0; i < st->ndeeper; i++) {
		n = snprintf(buf + len, size - len, " <- %s", st->deeper[i]);
		if (n < 0 || (size_t)n >= size - len)
			return -ENAMETOOLONG;
		len += (size_t)n;
	}
	for (i = 0; i < st->py.nframes && i < max_py; i++) {
		site_frame__format(&st->py.frames[i], frame, sizeof(frame));
		n = snprintf(buf + len, size - len, " <- %s", frame);
		if (n < 0 || (size_t)n >= size - len)
			return -ENAMETOOLONG;
		len += (size_t)n;
	}
	return 0;
}

/* ';' and line breaks would split a collapsed frame: replaced by '_'. */
static void put_frame(struct strbuf *sb, const char *s)
{
	for (; *s; s++)
		sb_putc(sb, (*s == ';' || *s == '\n' || *s == '\r') ? '_' : *s);
}

int native__format_collapsed(const struct native_report *rep, const char *root, struct strbuf *sb)
{
	const struct native_counters *c = &rep->counters;
	char frame[SITES_FILE_MAX + SITES_FUNC_MAX + 16];
	double scale = c->observed_s > 0 ? (c->every ? c->every : 1) * c->elapsed_s / c->observed_s : 0;
	int i, k, lines = 0;

	for (i = 0; i < rep->nstacks; i++) {
		const struct native_stack *st = &rep->stacks[i];
		uint64_t weight = (uint64_t)((double)st->out_bytes * scale);

		if (!st->out_blocks || !weight)
			continue;
		if (root) {
			put_frame(sb, root);
			sb_putc(sb, ';');
		}
		if (st->py.truncated)
			sb_puts(sb, "[truncated];");
		for (k = st->py.nframes - 1; k >= 0; k--) {
			site_frame__format(&st->py.frames[k], frame, sizeof(frame));
			put_frame(sb, frame);
			sb_putc(sb, ';');
		}
		for (k = st->ndeeper - 1; k >= 0; k--) {
			put_frame(sb, st->deeper[k]);
			sb_putc(sb, ';');
		}
		put_frame(sb, st->caller);
		sb_printf(sb, " %llu\n", (unsigned long long)weight);
		lines++;
	}
	return lines;
}
