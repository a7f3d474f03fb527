/* SPDX-License-Identifier: BSD-2-Clause */
/* Renderers of a loaded trace: text, json, html, csv, chrome (trace events), collapsed stacks. */
#ifndef PYLEAK_REPORT_H
#define PYLEAK_REPORT_H

#include <stdio.h>

#include "trace/trace.h"

enum report_format {
	REPORT_TEXT,
	REPORT_JSON,
	REPORT_HTML,
	REPORT_CSV,
	REPORT_CHROME,
	REPORT_COLLAPSED,
	REPORT_COLLAPSED_SURVIVORS, /* collapsed stacks of the survivor samples (--sites survivors) */
	REPORT_COLLAPSED_NATIVE,    /* outstanding native bytes per stack (--sites native) */
};

/* "text", "json", ... -> format; -EINVAL for an unknown name. */
int report__parse_format(const char *name, enum report_format *out);
/* Render t to out. 0 or -errno (-EIO on a write error). Notes for people (what was dropped,
 * empty collapsed output) go to stderr; the output itself stays machine-readable. */
int report__write(const struct trace *t, enum report_format fmt, FILE *out);

#endif /* PYLEAK_REPORT_H */
