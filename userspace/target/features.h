/* SPDX-License-Identifier: BSD-2-Clause */
/* What pyleak can observe on one target, feature by feature, from its layout and probe tier. */
#ifndef PYLEAK_FEATURES_H
#define PYLEAK_FEATURES_H

#include <stdbool.h>

#include "target/python.h"

enum py_feature {
	PYF_GC = 0,  /* cumulative counters = gc.get_stats() */
	PYF_PAUSES,  /* GC pause times */
	PYF_CENSUS,  /* live objects per type */
	PYF_NAMES,   /* type names */
	PYF_HOLDERS, /* who holds a growing container */
	PYF_SITES,   /* allocation sites (stacks at collection starts) */
	PYF_ALLOC,   /* allocation rates per type (young sample, exact) */
	PYF_LEAKS,   /* leak verdicts */
	PYF_COUNT
};

#define PYF_TEXT_MAX 200

struct py_features {
	bool ok[PYF_COUNT];
	/* "exact", "usdt", "gc lists", ... or "unsupported: why" */
	char text[PYF_COUNT][PYF_TEXT_MAX];
};

/* The JSON key of a feature ("gc", "census", ...). */
const char *py_feature__name(enum py_feature f);
/* Describe every feature for a target python__inspect() accepted (t->supported). */
void py_features__describe(const struct py_target *t, struct py_features *out);
/* Is a feature available (without the text)? */
bool py_features__has(const struct py_target *t, enum py_feature f);

#endif /* PYLEAK_FEATURES_H */
