/* SPDX-License-Identifier: BSD-2-Clause */
/* Names of the allocation sources, for options and every output. */
#include <errno.h>
#include <string.h>

#include "model/allocstats.h"

const char *alloc_mode__name(enum alloc_mode m)
{
	switch (m) {
	case ALLOC_MODE_YOUNG: return "young-sample";
	case ALLOC_MODE_EXACT: return "exact";
	case ALLOC_MODE_BUDGET: return "budget";
	default: return "off";
	}
}

int alloc_mode__parse(const char *s, enum alloc_mode *out)
{
	if (!s || !out)
		return -EINVAL;
	if (!strcmp(s, "young") || !strcmp(s, "young-sample"))
		*out = ALLOC_MODE_YOUNG;
	else if (!strcmp(s, "exact"))
		*out = ALLOC_MODE_EXACT;
	else if (!strcmp(s, "off"))
		*out = ALLOC_MODE_OFF;
	else
		return -EINVAL;
	return 0;
}
