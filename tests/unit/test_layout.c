/* SPDX-License-Identifier: BSD-2-Clause */
/* Invariants of the generated CPython layout tables and spot checks against the reference doc. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "target/debug_offsets.h"
#include "target/layout.h"
#include "target/python.h"

#define HAS(v) ((v) != LAYOUT_NONE)

static int minor_of(const struct py_layout *l)
{
	return l->major == 3 ? l->minor : -1;
}

static void test_tables_present(void **state)
{
	const struct py_layout *const *it;
	int seen[16] = { 0 };
	size_t n = 0;

	(void)state;
	for (it = py_layouts; *it && n < 64; it++, n++) {
		assert_int_equal((*it)->major, 3);
		assert_in_range((*it)->minor, 6, 15);
		assert_non_null((*it)->built_from);
		assert_true(strlen((*it)->built_from) > 0);
		if ((*it)->free_threaded != 1)
			seen[(*it)->minor]++;
	}
	assert_null(*it); /* NULL-terminated within the cap */
	/* Supported targets (DESIGN.md): 3.8-3.14 must have a table; 3.6/3.7 best effort. */
	for (int m = 8; m <= 15; m++)
		assert_true(seen[m] >= 1);
	/* Only 3.14 has two layouts (incremental 3.14.0-3.14.4 vs 3.14.5+). */
	for (int m = 6; m <= 13; m++)
		assert_true(seen[m] <= 1);
}

static void test_find(void **state)
{
	(void)state;
	for (int m = 8; m <= 14; m++) {
		const struct py_layout *l = layout__find(3, m);

		assert_non_null(l);
		assert_int_equal(l->major, 3);
		assert_int_equal(l->minor, m);
	}
	assert_null(layout__find(3, 99));
	assert_null(layout__find(2, 7));
	assert_null(layout__find(4, 0));
	/* The 3.14 default is the 3.14.5+ generational layout (gc struct 264 B). */
	assert_int_equal(layout__find(3, 14)->gc_size, 264);
}

/* Invariants every table must satisfy regardless of where its numbers came from. */
static void test_invariants(void **state)
{
	const struct py_layout *const *it;

	(void)state;
	for (it = py_layouts; *it; it++) {
		const struct py_layout *l = *it;
		int m = minor_of(l);
		bool rings = HAS(l->gc_stats_ring_young);

		if (l->free_threaded == 1)
			continue; /* test_free_threaded */
		/* PyObject / PyTypeObject heads are fixed on x86_64 GIL builds. */
		assert_int_equal(l->object_refcnt, 0);
		assert_int_equal(l->object_type, 8);
		assert_int_equal(l->varobject_size, 16);
		assert_int_equal(l->type_name, 24);
		assert_int_equal(l->type_basicsize, 32);
		assert_int_equal(l->type_flags, 168);
		assert_int_equal(l->list_item, 24);

		/* GC head: union with long double (32 B) before 3.8, two words after. */
		assert_int_equal(l->gc_head_size, m >= 8 ? 16 : 32);
		assert_int_equal(l->gc_head_next, 0);
		assert_int_equal(l->gc_head_prev, 8);
		assert_int_equal(l->gc_generation_size, m >= 8 ? 24 : 48);
		assert_int_equal(l->gc_gen_head, 0);
		assert_true(l->gc_gen_threshold >= l->gc_head_size);
		assert_int_equal(l->gc_gen_count, l->gc_gen_threshold + 4);
		/* 3.15: generation_stats is a pointer to rings of 64-byte records (NOTES.md). */
		assert_true(rings == (m >= 15));
		assert_int_equal(l->gc_stats_size, rings ? 64 : 24);
		assert_int_equal(l->gc_stats_collections, rings ? 16 : 0);
		assert_int_equal(l->gc_stats_collected, l->gc_stats_collections + 8);
		assert_int_equal(l->gc_stats_uncollectable, l->gc_stats_collections + 16);
		if (rings) {
			assert_true(l->gc_stats_index_young >= l->gc_stats_ring_young +
								      l->gc_stats_ring_len_young * l->gc_stats_size);
			assert_true(l->gc_stats_ring_old0 > l->gc_stats_index_young);
			assert_true(l->gc_stats_index_old0 >= l->gc_stats_ring_old0 +
								     l->gc_stats_ring_len_old * l->gc_stats_size);
			assert_true(l->gc_stats_ring_old1 > l->gc_stats_index_old0);
		}

		/* The GC state is reachable exactly one way per version (3.6: neither, statics). */
		if (m == 6) {
			assert_false(HAS(l->runtime_gc));
			assert_false(HAS(l->interp_gc));
			assert_false(HAS(l->gc_size));
		} else {
			assert_true(HAS(l->runtime_gc) != HAS(l->interp_gc));
			assert_true(HAS(l->runtime_gc) == (m == 7 || m == 8));
			assert_true(HAS(l->runtime_interpreters_head));
			assert_true(HAS(l->runtime_interpreters_main));
			assert_int_equal(l->runtime_interpreters_main,
					 l->runtime_interpreters_head + 8);
		}

		/* Ordering inside struct _gc_runtime_state (3.15 rewrote it: no trash fields, a
		 * stats pointer before `collecting`). */
		if (HAS(l->gc_size) && rings) {
			assert_true(l->gc_enabled < l->gc_debug);
			assert_true(l->gc_debug < l->gc_generations);
			assert_true(l->gc_generations + 3 * l->gc_generation_size <= l->gc_permanent_generation);
			assert_true(l->gc_generation_stats + 8 <= l->gc_collecting);
			assert_true(l->gc_collecting < l->gc_garbage);
			assert_int_equal(l->gc_callbacks, l->gc_garbage + 8);
			assert_true(l->gc_generation0 + 8 <= l->gc_size);
		} else if (HAS(l->gc_size)) {
			assert_true(l->gc_enabled < l->gc_debug);
			assert_true(l->gc_debug < l->gc_generations);
			assert_true(l->gc_generations + 3 * l->gc_generation_size <=
				    l->gc_permanent_generation);
			assert_true(l->gc_permanent_generation + l->gc_generation_size <=
				    l->gc_generation_stats);
			assert_true(l->gc_generation_stats + 3 * l->gc_stats_size <= l->gc_collecting);
			assert_true(l->gc_collecting < l->gc_garbage);
			assert_int_equal(l->gc_callbacks, l->gc_garbage + 8);
			assert_true(l->gc_callbacks + 8 <= l->gc_size);
		}

		/* Thread list and frames. */
		assert_int_equal(l->tstate_prev, 0);
		assert_int_equal(l->tstate_next, 8);
		assert_int_equal(l->tstate_interp, 16);
		assert_true(HAS(l->tstate_frame));
		assert_true(HAS(l->frame_previous));
		assert_true(HAS(l->frame_code));
		assert_true(HAS(l->frame_lasti));
		/* _PyCFrame indirection exists exactly in 3.11 and 3.12. */
		assert_true(HAS(l->cframe_current_frame) == (m == 11 || m == 12));
		/* PyFrameObject (<= 3.10) has f_lineno; _PyInterpreterFrame (3.11+) has owner. */
		assert_true(HAS(l->frame_lineno) == (m <= 10));
		assert_true(HAS(l->frame_owner) == (m >= 11));

		/* Code objects: qualname and adaptive code from 3.11 (PEP 659 / co_qualname). */
		assert_true(HAS(l->code_qualname) == (m >= 11));
		assert_true(HAS(l->code_code_adaptive) == (m >= 11));
		assert_true(l->code_filename < l->code_name);
		assert_true(HAS(l->code_linetable));

		/* Heap types append ht_* after the PyTypeObject + number/mapping/... slots. */
		assert_true(l->heaptype_name > 400);
		assert_int_equal(l->heaptype_qualname, l->heaptype_name + 16);
		assert_true(HAS(l->heaptype_module) == (m >= 9));

		/* Strings: wstr dropped in 3.12 (PEP 623). */
		assert_int_equal(l->unicode_ascii_size, m >= 12 ? 40 : 48);
		/* Tuples cache their hash from 3.14 (ob_hash before ob_item). */
		if (HAS(l->tuple_item))
			assert_int_equal(l->tuple_item, m >= 14 ? 32 : 24);
		assert_int_equal(l->unicode_compact_size, m >= 12 ? 56 : 72);
		assert_int_equal(l->unicode_state, 32);

		/* pymalloc geometry and where the arena table lives. */
		assert_int_equal(l->arena_size, m >= 10 ? 1 << 20 : 256 << 10);
		assert_int_equal(l->pool_size, m >= 10 ? 1 << 14 : 4 << 10);
		assert_true(HAS(l->runtime_allocators_obj) == (m >= 12));
		assert_true(HAS(l->runtime_tstate_current) == (m >= 7 && m <= 11));
	}
}

/* Fields the DWARF tables must fill for every version pyleak supports fully. */
static void test_dwarf_tables_complete(void **state)
{
	(void)state;
	for (int m = 8; m <= 13; m++) {
		const struct py_layout *l = layout__find(3, m);

		assert_non_null(l);
		assert_int_equal(strncmp(l->built_from, "dwarf ", 6), 0);
		assert_true(HAS(l->runtime_size));
		assert_true(HAS(l->interp_threads_head));
		assert_true(HAS(l->interp_modules));
		assert_true(HAS(l->interp_sysdict));
		assert_true(HAS(l->gc_generation0));
		assert_true(HAS(l->gc_long_lived_total));
		assert_true(HAS(l->code_size));
		assert_true(HAS(l->dictkeys_indices));
		assert_true(HAS(l->dictkeys_size) != HAS(l->dictkeys_log2_size));
		assert_true(HAS(l->set_table));
		assert_true(HAS(l->module_dict));
		assert_true(HAS(l->bytes_sval));
		assert_true(HAS(l->interp_obmalloc) == (m >= 12));
		assert_true(HAS(l->obmalloc_arenas) == (m >= 12));
	}
}

/* Numbers quoted in shared/reference/cpython-internals.md. */
static void test_reference_spot_checks(void **state)
{
	const struct py_layout *l;

	(void)state;
	l = layout__find(3, 7);
	assert_int_equal(l->runtime_gc, 320);
	assert_int_equal(l->gc_generation_stats, 240);
	assert_int_equal(l->gc_size, 352);

	l = layout__find(3, 8);
	assert_int_equal(l->runtime_gc, 344);
	assert_int_equal(l->runtime_tstate_current, 1368);
	assert_int_equal(l->gc_generation0, 96);
	assert_int_equal(l->gc_generation_stats, 128);
	assert_int_equal(l->gc_collecting, 200);
	assert_int_equal(l->frame_lasti, 104);
	assert_int_equal(l->heaptype_qualname, 864);

	l = layout__find(3, 10);
	assert_int_equal(l->interp_gc, 616);
	assert_int_equal(l->frame_lasti, 96);
	assert_int_equal(l->frame_lineno, 100);

	l = layout__find(3, 11);
	assert_int_equal(l->runtime_interpreters_main, 48);
	assert_int_equal(l->interp_threads_head, 16);
	assert_int_equal(l->interp_gc, 648);
	assert_int_equal(l->tstate_frame, 56);
	assert_int_equal(l->cframe_current_frame, 8);
	assert_int_equal(l->frame_previous, 48);
	assert_int_equal(l->frame_owner, 69);
	assert_int_equal(l->code_code_adaptive, 184);

	l = layout__find(3, 12);
	assert_int_equal(l->interp_threads_head, 72);
	assert_int_equal(l->interp_gc, 112);
	assert_int_equal(l->interp_gil_last_holder, 1048);
	assert_int_equal(l->interp_obmalloc, 3960);
	assert_int_equal(l->runtime_allocators_obj + 8, 184); /* .malloc at +184 */
	assert_int_equal(l->cframe_current_frame, 0);
	assert_int_equal(l->frame_owner, 70);
	assert_int_equal(l->code_qualname, 128);
	assert_int_equal(l->heaptype_module, 888);

	l = layout__find(3, 13);
	assert_int_equal(l->runtime_interpreters_head, 632);
	assert_int_equal(l->interp_next, 7264);
	assert_int_equal(l->interp_threads_head, 7344);
	assert_int_equal(l->interp_gc, 7400);
	assert_int_equal(l->interp_obmalloc, 10800);
	assert_int_equal(l->tstate_frame, 72);
	assert_int_equal(l->tstate_native_thread_id, 160);
	assert_int_equal(l->obmalloc_arenas, 512);
	assert_int_equal(l->obmalloc_narenas_allocated, 1064);
	assert_int_equal(l->code_code_adaptive, 200);

	l = layout__find(3, 14);
	assert_int_equal(l->runtime_interpreters_head, 808);
	assert_int_equal(l->interp_gc, 7408);
	assert_int_equal(l->gc_generation0, 256);
	assert_int_equal(l->gc_long_lived_total, 240);
	assert_int_equal(l->frame_owner, 74);
	assert_int_equal(l->frame_localsplus, 80);
	assert_int_equal(l->code_code_adaptive, 208);
}

static void test_3_14_incremental(void **state)
{
	const struct py_layout *const *it;
	const struct py_layout *inc = NULL;

	(void)state;
	for (it = py_layouts; *it; it++) {
		if ((*it)->minor == 14 && (*it)->gc_size == 240)
			inc = *it;
	}
	assert_non_null(inc);
	assert_false(HAS(inc->gc_generation0));
	assert_false(HAS(inc->gc_long_lived_total));
	assert_int_equal(inc->gc_generation_stats, 120);
	assert_int_equal(inc->gc_collecting, 192);
	/* Interpreter fields after gc are unknown for 3.14.0-3.14.4: never guessed. */
	assert_false(HAS(inc->interp_obmalloc));
	assert_false(HAS(inc->interp_gil_last_holder));
}

/* Layout selection: 3.14.0-3.14.4 vs 3.14.5+ by the GC state size _Py_DebugOffsets reports. */
static void test_select_layout(void **state)
{
	const struct py_layout *l;

	(void)state;
	l = python__select_layout(3, 14, false, 264);
	assert_non_null(l);
	assert_int_equal(l->gc_generation0, 256);
	l = python__select_layout(3, 14, false, 240);
	assert_non_null(l);
	assert_int_equal(l->gc_size, 240);
	assert_false(HAS(l->gc_generation0)); /* incremental: young/old[0]/old[1] */
	assert_null(python__select_layout(3, 14, false, 300)); /* an unknown GC state: refused */
	l = python__select_layout(3, 14, false, -1);	       /* no debug offsets: the default */
	assert_int_equal(l->gc_size, 264);
	l = python__select_layout(3, 15, false, 176);
	assert_non_null(l);
	assert_int_equal(l->gc_generation_stats, 104);
	assert_null(python__select_layout(3, 99, false, 176));
	assert_int_equal(python__select_layout(3, 13, false, 240)->free_threaded, LAYOUT_NONE);
}

/* A 3.15 _Py_DebugOffsets with the values of Debian's 3.15.2 (tools/interp/NOTES.md). */
static void fake_315(unsigned char *buf, uint64_t version)
{
	static const struct {
		int pos;
		uint64_t v;
	} vals[] = {
		{ 24, 346568 }, { 40, 936 }, { 48, 226240 }, { 64, 7264 }, { 72, 7336 }, { 88, 7400 },
		{ 96, 7592 }, { 104, 7576 }, { 152, 7744 }, { 176, 888 }, { 184, 0 }, { 192, 8 }, { 200, 16 },
		{ 208, 72 }, { 240, 176 }, { 248, 184 }, { 312, 88 }, { 320, 8 }, { 328, 0 }, { 336, 56 },
		{ 344, 80 }, { 352, 74 }, { 376, 216 }, { 384, 112 }, { 392, 120 }, { 400, 128 }, { 408, 136 },
		{ 416, 68 }, { 424, 52 }, { 448, 208 }, { 464, 16 }, { 472, 8 }, { 480, 424 }, { 488, 24 },
		{ 504, 168 }, { 512, 32 }, { 520, 288 }, { 536, 888 }, { 544, 40 }, { 552, 32 }, { 560, 16 },
		{ 568, 40 }, { 576, 24 }, { 584, 16 }, { 600, 24 }, { 608, 40 }, { 616, 32 }, { 624, 48 },
		{ 632, 32 }, { 640, 40 }, { 704, 32 }, { 712, 64 }, { 720, 32 }, { 728, 16 }, { 736, 40 },
		{ 752, 176 }, { 760, 112 }, { 768, 120 }, { 776, 1120 }, { 784, 104 }, { 880, 512 },
	};
	size_t i;

	memset(buf, 0, DBGOFF_MAX);
	memcpy(buf, "xdebugpy", 8);
	memcpy(buf + 8, &version, 8);
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		memcpy(buf + vals[i].pos, &vals[i].v, 8);
}

static void test_debug_offsets(void **state)
{
	unsigned char buf[DBGOFF_MAX];
	struct dbgoff d;
	char why[200];
	struct py_layout l;

	(void)state;
	fake_315(buf, 0x030f02f0);
	assert_int_equal(dbgoff__decode(buf, 888, 346568, &d, why, sizeof(why)), 0);
	assert_int_equal(d.minor, 15);
	assert_false(d.newer);
	assert_int_equal(d.ts_thread_id, 176); /* after 3.15's base_frame/last_profiled_frame */
	assert_int_equal(d.gc_generation_stats, 104);
	assert_int_equal(d.ht_cached_keys, 888);
	l = *python__select_layout(3, 15, false, d.gc_size);
	dbgoff__apply(&d, &l);
	assert_int_equal(l.tstate_native_thread_id, 184);
	assert_int_equal(l.interp_gil_last_holder, 7744);

	/* Day one: an unknown minor whose struct decodes as the newest known one. */
	fake_315(buf, 0x036302f0); /* 3.99.2 */
	assert_int_equal(dbgoff__decode(buf, 888, 346568, &d, why, sizeof(why)), 0);
	assert_true(d.newer);
	assert_int_equal(d.list_minor, 15);
	/* ... but not when the anchors disagree (a changed struct): refused with the reason. */
	buf[472] = 16; /* pyobject.ob_type */
	assert_int_equal(dbgoff__decode(buf, 888, 346568, &d, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "object header"));
	/* A runtime of another size than the ELF symbol says: inconsistent. */
	fake_315(buf, 0x030f02f0);
	assert_int_equal(dbgoff__decode(buf, 888, 4096, &d, why, sizeof(why)), -EPROTO);
	/* No cookie. */
	buf[0] = 'y';
	assert_int_equal(dbgoff__decode(buf, 888, 0, &d, why, sizeof(why)), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_present),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_invariants),
		cmocka_unit_test(test_dwarf_tables_complete),
		cmocka_unit_test(test_reference_spot_checks),
		cmocka_unit_test(test_3_14_incremental),
		cmocka_unit_test(test_select_layout),
		cmocka_unit_test(test_debug_offsets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
