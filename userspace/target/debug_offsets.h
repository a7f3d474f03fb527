/* SPDX-License-Identifier: BSD-2-Clause */
/* _Py_DebugOffsets (3.13+): decode the struct per version, check it, and apply it to a layout. */
#ifndef PYLEAK_DEBUG_OFFSETS_H
#define PYLEAK_DEBUG_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target/layout.h"

/* Bytes of _Py_DebugOffsets pyleak reads from a binary: the largest known struct (3.15: 888). */
#define DBGOFF_MAX 1024

/* Which fields a decoded struct gave; a value is -1 when the version's list lacks it. */
struct dbgoff {
	uint64_t version_hex;	/* PY_VERSION_HEX */
	int major, minor, micro;
	bool free_threaded;
	int list_minor;		/* the field list used to decode (13, 14, 15) */
	bool newer;		/* the version is newer than every field list pyleak knows */
	int64_t struct_size;	/* sizeof(_Py_DebugOffsets) of that list */

	int64_t runtime_size, interpreters_head;
	int64_t interp_size, interp_next, interp_threads_head, interp_gc, interp_modules, interp_sysdict,
		interp_gil_holder;
	int64_t ts_size, ts_prev, ts_next, ts_interp, ts_frame, ts_thread_id, ts_native_id;
	int64_t fr_size, fr_previous, fr_code, fr_instr, fr_localsplus, fr_owner;
	int64_t co_size, co_filename, co_name, co_qualname, co_linetable, co_firstlineno, co_argcount,
		co_adaptive;
	int64_t ob_size, ob_type;
	int64_t tp_size, tp_name, tp_flags, tp_basicsize, tp_dictoffset;
	int64_t ht_cached_keys;
	int64_t tuple_item, tuple_size, list_item, list_size, dict_keys, dict_values;
	int64_t set_used, set_table, set_mask;
	int64_t bytes_sval, uni_state, uni_length, uni_ascii_size;
	int64_t gc_size, gc_collecting, gc_generation_stats, gc_generation_stats_size;
};

/*
 * Decode the len bytes at buf (the first bytes of _PyRuntime). runtime_size, when non-zero, is
 * the size of the _PyRuntime symbol in the ELF file: the struct must agree with it. A version
 * newer than every known field list is decoded with the newest list and accepted only when
 * every anchor (object header, list/tuple/dict/str fields, struct sizes) has the value that list
 * predicts. Returns 0, or -EPROTO/-ENOTSUP with a reason in why.
 */
int dbgoff__decode(const unsigned char *buf, size_t len, uint64_t runtime_size, struct dbgoff *out, char *why,
		   size_t why_size);

/* Overwrite the fields of l that the debug offsets give. */
void dbgoff__apply(const struct dbgoff *d, struct py_layout *l);

#endif /* PYLEAK_DEBUG_OFFSETS_H */
