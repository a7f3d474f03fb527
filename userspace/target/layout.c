/* SPDX-License-Identifier: BSD-2-Clause */
/* Lookup of the generated per-minor CPython layout tables (userspace/target/layouts_gen.c). */
#include <errno.h>
#include <stddef.h>

#include "target/layout.h"

/*
 * The first table for major.minor.  3.14 has two (3.14.5+ first, then the 3.14.0-3.14.4
 * incremental-GC one); a caller that has _Py_DebugOffsets picks by gc_size instead.
 */
const struct py_layout *layout__find(int major, int minor)
{
	const struct py_layout *const *it;

	for (it = py_layouts; *it; it++) {
		if ((*it)->major == major && (*it)->minor == minor)
			return *it;
	}
	errno = ENOENT;
	return NULL;
}
