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
