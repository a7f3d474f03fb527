/* SPDX-License-Identifier: BSD-2-Clause */
/* _Py_DebugOffsets (3.13+): decode the struct per version, check it, and apply it to a layout. */
#include "target/debug_offsets.h"
#include "util/common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/*
 * Where each field sits inside _Py_DebugOffsets, per field list. Every member is a uint64_t;
 * the lists are those of cpython v3.13 Include/internal/pycore_runtime.h (584 B), v3.14
 * Include/internal/pycore_debug_offsets.h (760 B) and 3.15 (888 B), as decoded and checked on
 * 3.13.5t, 3.14.10 and 3.15.2 in tools/interp/NOTES.md. 3.14 inserts
 * interpreter_state.threads_main before gc; 3.15 inserts thread_state.base_frame,
 * last_profiled_frame(_seq) before thread_id, err_stackitem, type_object.tp_basicsize/
 * tp_dictoffset, heap_type_object and gc.frame/generation_stats(_size).
 */
struct dbg_field {
	size_t member; /* offsetof(struct dbgoff, ...) */
	int pos;
};
struct dbg_list {
	int minor;
	int size;
	const struct dbg_field *fields;
	size_t nfields;
};

#define F(m, p) { offsetof(struct dbgoff, m), p }

static const struct dbg_field fields_3_13[] = {
	F(runtime_size, 24), F(interpreters_head, 40),
	F(interp_size, 48), F(interp_next, 64), F(interp_threads_head, 72), F(interp_gc, 80),
	F(interp_modules, 88), F(interp_sysdict, 96), F(interp_gil_holder, 144),
	F(ts_size, 152), F(ts_prev, 160), F(ts_next, 168), F(ts_interp, 176), F(ts_frame, 184),
	F(ts_thread_id, 192), F(ts_native_id, 200),
	F(fr_size, 224), F(fr_previous, 232), F(fr_code, 240), F(fr_instr, 248), F(fr_localsplus, 256),
	F(fr_owner, 264),
	F(co_size, 272), F(co_filename, 280), F(co_name, 288), F(co_qualname, 296), F(co_linetable, 304),
	F(co_firstlineno, 312), F(co_argcount, 320), F(co_adaptive, 344),
	F(ob_size, 352), F(ob_type, 360),
	F(tp_size, 368), F(tp_name, 376), F(tp_flags, 392),
	F(tuple_size, 400), F(tuple_item, 408), F(list_size, 424), F(list_item, 432),
	F(dict_keys, 456), F(dict_values, 464),
	F(bytes_sval, 528),
	F(uni_state, 544), F(uni_length, 552), F(uni_ascii_size, 560),
	F(gc_size, 568), F(gc_collecting, 576),
};

static const struct dbg_field fields_3_14[] = {
	F(runtime_size, 24), F(interpreters_head, 40),
	F(interp_size, 48), F(interp_next, 64), F(interp_threads_head, 72), F(interp_gc, 88),
	F(interp_modules, 96), F(interp_sysdict, 104), F(interp_gil_holder, 152),
	F(ts_size, 176), F(ts_prev, 184), F(ts_next, 192), F(ts_interp, 200), F(ts_frame, 208),
	F(ts_thread_id, 216), F(ts_native_id, 224),
	F(fr_size, 248), F(fr_previous, 256), F(fr_code, 264), F(fr_instr, 272), F(fr_localsplus, 280),
	F(fr_owner, 288),
	F(co_size, 312), F(co_filename, 320), F(co_name, 328), F(co_qualname, 336), F(co_linetable, 344),
	F(co_firstlineno, 352), F(co_argcount, 360), F(co_adaptive, 384),
	F(ob_size, 400), F(ob_type, 408),
	F(tp_size, 416), F(tp_name, 424), F(tp_flags, 440),
	F(tuple_size, 448), F(tuple_item, 456), F(list_size, 472), F(list_item, 480),
	F(set_used, 504), F(set_table, 512), F(set_mask, 520),
	F(dict_keys, 536), F(dict_values, 544),
	F(bytes_sval, 608),
	F(uni_state, 624), F(uni_length, 632), F(uni_ascii_size, 640),
	F(gc_size, 648), F(gc_collecting, 656),
};

static const struct dbg_field fields_3_15[] = {
	F(runtime_size, 24), F(interpreters_head, 40),
	F(interp_size, 48), F(interp_next, 64), F(interp_threads_head, 72), F(interp_gc, 88),
	F(interp_modules, 96), F(interp_sysdict, 104), F(interp_gil_holder, 152),
	F(ts_size, 176), F(ts_prev, 184), F(ts_next, 192), F(ts_interp, 200), F(ts_frame, 208),
	F(ts_thread_id, 240), F(ts_native_id, 248),
	F(fr_size, 312), F(fr_previous, 320), F(fr_code, 328), F(fr_instr, 336), F(fr_localsplus, 344),
	F(fr_owner, 352),
	F(co_size, 376), F(co_filename, 384), F(co_name, 392), F(co_qualname, 400), F(co_linetable, 408),
	F(co_firstlineno, 416), F(co_argcount, 424), F(co_adaptive, 448),
	F(ob_size, 464), F(ob_type, 472),
	F(tp_size, 480), F(tp_name, 488), F(tp_flags, 504), F(tp_basicsize, 512), F(tp_dictoffset, 520),
	F(ht_cached_keys, 536),
	F(tuple_size, 544), F(tuple_item, 552), F(list_size, 568), F(list_item, 576),
	F(set_used, 600), F(set_table, 608), F(set_mask, 616),
	F(dict_keys, 632), F(dict_values, 640),
	F(bytes_sval, 704),
	F(uni_state, 720), F(uni_length, 728), F(uni_ascii_size, 736),
	F(gc_size, 752), F(gc_collecting, 760), F(gc_generation_stats_size, 776), F(gc_generation_stats, 784),
};
#undef F

static const struct dbg_list lists[] = {
	{ 13, 584, fields_3_13, ARRAY_SIZE(fields_3_13) },
	{ 14, 760, fields_3_14, ARRAY_SIZE(fields_3_14) },
	{ 15, 888, fields_3_15, ARRAY_SIZE(fields_3_15) },
};

static uint64_t u64_at(const unsigned char *buf, int pos)
{
	uint64_t v;

	memcpy(&v, buf + pos, 8);
	return v;
}

/* An offset inside a struct of `size` bytes (a u64 read at it fits). */
static bool inside(int64_t off, int64_t size)
{
	return off >= 0 && size > 0 && off + 8 <= size;
}

/*
 * Values every CPython of a build kind has had since 3.13, GIL or free-threaded; a struct
 * decoded with the wrong list shows up here (its slots hold other fields).
 */
static const char *anchors_fail(const struct dbgoff *d, uint64_t runtime_size)
{
	int64_t hdr = d->free_threaded ? 32 : 16; /* PyObject: FT adds ob_tid, flags, mutex, gc bits, ob_ref_local, ob_ref_shared */

	if (d->ob_size != hdr || d->ob_type != hdr - 8)
		return "object header";
	if (d->list_item != hdr + 8 || d->tuple_item < hdr + 8 || d->tuple_item > hdr + 16)
		return "list/tuple items";
	if (d->tp_size < 256 || d->tp_size > 1024 || !inside(d->tp_name, d->tp_size) || !inside(d->tp_flags, d->tp_size))
		return "type object";
	if (d->uni_ascii_size != hdr + 24 || d->uni_length != hdr || d->uni_state != hdr + 16)
		return "str header";
	if (d->dict_keys < hdr || d->dict_keys > hdr + 32 || d->dict_values != d->dict_keys + 8)
		return "dict";
	if (d->interp_size < 4096 || d->interp_size > (1 << 24) || !inside(d->interp_gc, d->interp_size) ||
	    !inside(d->interp_threads_head, d->interp_size) || !inside(d->interp_next, d->interp_size))
		return "interpreter state";
	if (d->ts_size < 64 || d->ts_size > 65536 || !inside(d->ts_frame, d->ts_size) || !inside(d->ts_next, d->ts_size) ||
	    !inside(d->ts_native_id, d->ts_size))
		return "thread state";
	if (d->fr_size < 48 || d->fr_size > 256 || !inside(d->fr_previous, d->fr_size) || !inside(d->fr_code, d->fr_size) ||
	    !inside(d->fr_instr, d->fr_size) || d->fr_owner < 0 || d->fr_owner >= d->fr_size)
		return "interpreter frame";
	if (d->co_size < 128 || d->co_size > 1024 || !inside(d->co_filename, d->co_size) ||
	    !inside(d->co_qualname, d->co_size) || !inside(d->co_linetable, d->co_size) || d->co_adaptive != d->co_size - 8)
		return "code object";
	if (d->gc_size < 64 || d->gc_size > 4096 || d->gc_collecting < 0 || d->gc_collecting + 4 > d->gc_size)
		return "gc state";
	if (runtime_size && (uint64_t)d->runtime_size != runtime_size)
		return "runtime size";
	if (!inside(d->interpreters_head, d->runtime_size))
		return "runtime state";
	return NULL;
}

int dbgoff__decode(const unsigned char *buf, size_t len, uint64_t runtime_size, struct dbgoff *out, char *why,
		   size_t why_size)
{
	const struct dbg_list *list = NULL;
	const char *bad;
	size_t i;
	int64_t *v;

	memset(out, 0, sizeof(*out));
	/* -1 = the list has no such field */
	for (v = &out->runtime_size; v <= &out->gc_generation_stats_size; v++)
		*v = -1;
	if (len < 24 || memcmp(buf, "xdebugpy", 8)) {
		snprintf(why, why_size, "no _Py_DebugOffsets cookie");
		return -EPROTO;
	}
	out->version_hex = u64_at(buf, 8);
	out->major = (int)(out->version_hex >> 24) & 0xff;
	out->minor = (int)(out->version_hex >> 16) & 0xff;
	out->micro = (int)(out->version_hex >> 8) & 0xff;
	out->free_threaded = u64_at(buf, 16) != 0;
	if (out->major != 3 || out->minor < 13) {
		snprintf(why, why_size, "_Py_DebugOffsets of an impossible version %#" PRIx64, out->version_hex);
		return -EPROTO;
	}
	for (i = 0; i < ARRAY_SIZE(lists); i++)
		if (lists[i].minor == out->minor)
			list = &lists[i];
	if (!list) {
		/* Day one: a minor newer than pyleak. Try the newest list; the anchors decide. */
		if (out->minor < lists[ARRAY_SIZE(lists) - 1].minor) {
			snprintf(why, why_size, "_Py_DebugOffsets of 3.%d unknown to this pyleak", out->minor);
			return -ENOTSUP;
		}
		list = &lists[ARRAY_SIZE(lists) - 1];
		out->newer = true;
	}
	if ((size_t)list->size > len) {
		snprintf(why, why_size, "_Py_DebugOffsets truncated (%zu of %d bytes)", len, list->size);
		return -EPROTO;
	}
	out->list_minor = list->minor;
	out->struct_size = list->size;
	for (i = 0; i < list->nfields; i++)
		memcpy((char *)out + list->fields[i].member, buf + list->fields[i].pos, 8);
	bad = anchors_fail(out, runtime_size);
	if (bad) {
		if (out->newer)
			snprintf(why, why_size,
				 "CPython 3.%d: _Py_DebugOffsets does not decode as the 3.%d struct (%s): its layout is unknown to this pyleak",
				 out->minor, list->minor, bad);
		else
			snprintf(why, why_size, "CPython 3.%d: _Py_DebugOffsets inconsistent (%s)", out->minor, bad);
		return out->newer ? -ENOTSUP : -EPROTO;
	}
	return 0;
}

void dbgoff__apply(const struct dbgoff *d, struct py_layout *l)
{
#define TAKE(field, v)                                                                                         \
	do {                                                                                                   \
		if ((v) >= 0)                                                                                  \
			l->field = (int32_t)(v);                                                               \
	} while (0)
	TAKE(runtime_interpreters_head, d->interpreters_head);
	TAKE(interp_next, d->interp_next);
	TAKE(interp_threads_head, d->interp_threads_head);
	TAKE(interp_gc, d->interp_gc);
	TAKE(interp_modules, d->interp_modules);
	TAKE(interp_sysdict, d->interp_sysdict);
	if (d->list_minor >= 14)
		TAKE(interp_gil_last_holder, d->interp_gil_holder);
	TAKE(tstate_prev, d->ts_prev);
	TAKE(tstate_next, d->ts_next);
	TAKE(tstate_interp, d->ts_interp);
	TAKE(tstate_frame, d->ts_frame);
	TAKE(tstate_thread_id, d->ts_thread_id);
	TAKE(tstate_native_thread_id, d->ts_native_id);
	TAKE(frame_previous, d->fr_previous);
	TAKE(frame_code, d->fr_code);
	TAKE(frame_lasti, d->fr_instr);
	TAKE(frame_localsplus, d->fr_localsplus);
	TAKE(frame_owner, d->fr_owner);
	TAKE(code_size, d->co_size);
	TAKE(code_filename, d->co_filename);
	TAKE(code_name, d->co_name);
	TAKE(code_qualname, d->co_qualname);
	TAKE(code_linetable, d->co_linetable);
	TAKE(code_firstlineno, d->co_firstlineno);
	TAKE(code_argcount, d->co_argcount);
	TAKE(code_code_adaptive, d->co_adaptive);
	TAKE(object_type, d->ob_type);
	TAKE(type_name, d->tp_name);
	TAKE(type_flags, d->tp_flags);
	TAKE(type_basicsize, d->tp_basicsize);
	TAKE(type_dictoffset, d->tp_dictoffset);
	TAKE(heaptype_cached_keys, d->ht_cached_keys);
	TAKE(list_item, d->list_item);
	TAKE(tuple_item, d->tuple_item);
	TAKE(dict_keys, d->dict_keys);
	TAKE(dict_values, d->dict_values);
	TAKE(set_used, d->set_used);
	TAKE(set_table, d->set_table);
	TAKE(set_mask, d->set_mask);
	TAKE(bytes_sval, d->bytes_sval);
	TAKE(unicode_state, d->uni_state);
	TAKE(unicode_length, d->uni_length);
	TAKE(unicode_ascii_size, d->uni_ascii_size);
	TAKE(gc_collecting, d->gc_collecting);
	TAKE(gc_generation_stats, d->gc_generation_stats);
#undef TAKE
}
