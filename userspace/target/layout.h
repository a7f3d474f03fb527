/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-minor-version CPython struct layouts (x86_64, GIL builds): the one definition of offsets. */
#ifndef PYLEAK_LAYOUT_H
#define PYLEAK_LAYOUT_H

#include <stdint.h>

/*
 * Every field is a byte offset (or a size) taken from DWARF of a local build by
 * tools/gen_layouts.py, written to userspace/target/layouts_gen.c.  LAYOUT_NONE marks a
 * field that does not exist in that version (e.g. co_qualname before 3.11).
 * 3.13+ targets additionally carry _Py_DebugOffsets, which python.c reads at run
 * time and checks against (or uses instead of) these numbers.
 */
#define LAYOUT_NONE (-1)

struct py_layout {
	int major, minor;	/* the minor version this table describes */
	const char *built_from; /* e.g. "dwarf 3.12.1" */

	/* _PyRuntimeState */
	int32_t runtime_size;
	int32_t runtime_interpreters_head;
	int32_t runtime_interpreters_main;
	int32_t runtime_gc;		/* 3.7/3.8: gc state lives in the runtime; else NONE */
	int32_t runtime_tstate_current; /* gilstate.tstate_current (<=3.11); NONE from 3.12 */
	int32_t runtime_allocators_obj; /* allocators.standard.obj (3.12+), NONE before */

	/* PyInterpreterState */
	int32_t interp_next;
	int32_t interp_threads_head;
	int32_t interp_gc;	    /* 3.9+; NONE when runtime_gc is used */
	int32_t interp_modules;	    /* interp->modules (<=3.11) or interp->imports.modules */
	int32_t interp_sysdict;
	int32_t interp_obmalloc;    /* 3.12: embedded state; 3.13+: pointer; NONE before */
	int32_t interp_gil_last_holder; /* 3.12+ interp->_gil.last_holder / ceval.gil */

	/* struct _gc_runtime_state */
	int32_t gc_size;
	int32_t gc_enabled;
	int32_t gc_debug;
	int32_t gc_generations;	     /* generations[0] */
	int32_t gc_generation_size;  /* sizeof(struct gc_generation) */
	int32_t gc_gen_head;	     /* offset of head inside gc_generation (0) */
	int32_t gc_gen_threshold;    /* offset inside gc_generation */
	int32_t gc_gen_count;	     /* offset inside gc_generation */
	int32_t gc_generation0;	     /* PyGC_Head *generation0 */
	int32_t gc_permanent_generation;
	int32_t gc_generation_stats; /* generation_stats[0] */
	int32_t gc_stats_size;	     /* sizeof(struct gc_generation_stats) = 24 */
	int32_t gc_stats_collections;
	int32_t gc_stats_collected;
	int32_t gc_stats_uncollectable;
	int32_t gc_collecting;
	int32_t gc_garbage;
	int32_t gc_callbacks;
	int32_t gc_long_lived_total;
	int32_t gc_long_lived_pending;
	int32_t gc_head_size;	     /* sizeof(PyGC_Head): 32 in 3.6/3.7, 16 after */
	int32_t gc_head_next;
	int32_t gc_head_prev;

	/* PyThreadState */
	int32_t tstate_prev;
	int32_t tstate_next;
	int32_t tstate_interp;
	int32_t tstate_frame;	       /* <=3.10 frame, 3.11/3.12 cframe, 3.13+ current_frame */
	int32_t cframe_current_frame;  /* 3.11/3.12: offset inside _PyCFrame; NONE otherwise */
	int32_t tstate_thread_id;
	int32_t tstate_native_thread_id;

	/* Frames: PyFrameObject (<=3.10) or _PyInterpreterFrame (3.11+) */
	int32_t frame_previous;	 /* f_back / previous */
	int32_t frame_code;	 /* f_code / f_executable */
	int32_t frame_lasti;	 /* f_lasti (<=3.10), prev_instr/instr_ptr (3.11+) */
	int32_t frame_lineno;	 /* f_lineno (<=3.10) */
	int32_t frame_owner;	 /* 3.11+ */
	int32_t frame_localsplus;

	/* PyCodeObject */
	int32_t code_size; /* tp_basicsize-independent sizeof(PyCodeObject) */
	int32_t code_argcount;
	int32_t code_flags;
	int32_t code_firstlineno;
	int32_t code_filename;
	int32_t code_name;
	int32_t code_qualname;	/* 3.11+ */
	int32_t code_linetable; /* co_lnotab (<=3.9) or co_linetable */
	int32_t code_code_adaptive; /* 3.11+ */
	int32_t code_firsttraceable; /* 3.11/3.12 _co_firsttraceable */

	/* PyObject / PyVarObject / PyTypeObject / PyHeapTypeObject */
	int32_t object_refcnt;
	int32_t object_type;
	int32_t varobject_size;
	int32_t type_name;
	int32_t type_basicsize;
	int32_t type_itemsize;
	int32_t type_flags;
	int32_t type_base;
	int32_t type_dict;
	int32_t type_mro;
	int32_t heaptype_name;
	int32_t heaptype_qualname;
	int32_t heaptype_module;

	/* containers */
	int32_t list_item;	  /* ob_item */
	int32_t list_allocated;
	int32_t tuple_item;	  /* ob_item[0] */
	int32_t dict_used;	  /* ma_used */
	int32_t dict_keys;	  /* ma_keys */
	int32_t dict_values;	  /* ma_values */
	int32_t dictkeys_size;	  /* dk_size (<=3.10) */
	int32_t dictkeys_log2_size; /* dk_log2_size (3.11+) */
	int32_t dictkeys_log2_index_bytes; /* 3.11+ */
	int32_t dictkeys_kind;	  /* 3.11+ dk_kind */
	int32_t dictkeys_nentries;
	int32_t dictkeys_indices; /* dk_indices */
	int32_t dictkeys_header_size; /* sizeof(PyDictKeysObject) */
	int32_t set_used;	  /* PySetObject.used */
	int32_t set_fill;
	int32_t set_mask;
	int32_t set_table;
	int32_t module_dict;	  /* PyModuleObject.md_dict */
	int32_t unicode_state;	  /* PyASCIIObject.state */
	int32_t unicode_length;
	int32_t unicode_ascii_size;   /* sizeof(PyASCIIObject) */
	int32_t unicode_compact_size; /* sizeof(PyCompactUnicodeObject) */
	int32_t bytes_sval;	  /* PyBytesObject.ob_sval */

	/* pymalloc: struct arena_object / pool_header (stable 3.6+), arena geometry */
	int32_t arena_size;	  /* 256 KiB (<=3.9) or 1 MiB */
	int32_t pool_size;	  /* 4 KiB (<=3.9) or 16 KiB */
	int32_t obmalloc_arenas;	  /* 3.12+: offset of mgmt.arenas in _obmalloc_state */
	int32_t obmalloc_maxarenas;
	int32_t obmalloc_narenas_allocated; /* narenas_currently_allocated */

	/* instance attributes (holders.c) */
	int32_t type_dictoffset;      /* tp_dictoffset */
	int32_t heaptype_cached_keys; /* ht_cached_keys: shared keys of split instance dicts */

	/* retention chains (analysis/refs.c): referents of the object kinds pyleak reads */
	int32_t cell_ref;	      /* PyCellObject.ob_ref */
	int32_t func_code;	      /* PyFunctionObject */
	int32_t func_globals;
	int32_t func_defaults;
	int32_t func_kwdefaults;
	int32_t func_closure;
	int32_t func_dict;
	int32_t method_func;	      /* PyMethodObject im_func / im_self */
	int32_t method_self;
	int32_t deque_leftblock;      /* dequeobject (Modules/_collectionsmodule.c) */
	int32_t deque_leftindex;
	int32_t deque_rightindex;
	int32_t dequeblock_data;      /* block: leftlink, data[BLOCKLEN], rightlink */
	int32_t dequeblock_rightlink;
	int32_t lru_cache_cache;      /* lru_cache_object (Modules/_functoolsmodule.c) */
	int32_t lru_cache_func;
	int32_t lru_cache_dict;
	int32_t type_members;	      /* tp_members */
	int32_t memberdescr_member;   /* PyMemberDescrObject.d_member */
	int32_t memberdef_size;	      /* sizeof(PyMemberDef) */
	int32_t memberdef_name;
	int32_t memberdef_type;
	int32_t memberdef_offset;
	int32_t code_nlocalsplus;     /* 3.11+ */
	int32_t code_localsplusnames; /* 3.11+ */
	int32_t code_nlocals;	      /* <= 3.10: co_nlocals, co_varnames, co_cellvars, co_freevars */
	int32_t code_varnames;
	int32_t code_cellvars;
	int32_t code_freevars;
	int32_t frame_locals;	      /* f_locals (PyFrameObject <= 3.10, _PyInterpreterFrame 3.11+) */
	int32_t frameobj_frame;	      /* 3.11+ PyFrameObject.f_frame */
	int32_t long_digit;	      /* PyLongObject ob_digit (3.12+ long_value.ob_digit) */
	int32_t classmethod_callable; /* classmethod cm_callable / cm_dict */
	int32_t classmethod_dict;
	int32_t staticmethod_callable; /* staticmethod sm_callable / sm_dict */
	int32_t staticmethod_dict;
	int32_t partial_fn;	      /* functools.partial: fn, args, kw, dict */
	int32_t partial_args;
	int32_t partial_kw;
	int32_t partial_dict;
	int32_t cfunction_self;	      /* PyCFunctionObject.m_self (builtin methods of an object) */
	int32_t property_get;	      /* property: fget, fset, fdel, doc */
	int32_t property_set;
	int32_t property_del;
	int32_t property_doc;
	int32_t gen_frame;	      /* generator/coroutine: <= 3.10 gi_frame (a frame object) */
	int32_t gen_iframe;	      /* 3.11+ embedded _PyInterpreterFrame */
	int32_t gen_frame_state;      /* 3.11+ int8: >= COMPLETED (1; 5 in 3.15) holds no locals */
	int32_t exc_args;	      /* PyBaseExceptionObject: args, notes (3.11+), traceback, */
	int32_t exc_notes;	      /* context, cause (its dict is tp_dictoffset's) */
	int32_t exc_traceback;
	int32_t exc_context;
	int32_t exc_cause;
	int32_t tb_next;	      /* PyTracebackObject */
	int32_t tb_frame;
	int32_t future_loop;	      /* _asyncio FutureObj (and TaskObj: same head), from the */
	int32_t future_callback0;     /* extension's DWARF */
	int32_t future_context0;
	int32_t future_callbacks;
	int32_t future_exception;
	int32_t future_result;
	int32_t task_fut_waiter;      /* TaskObj */
	int32_t task_coro;
	int32_t task_context;
	int32_t taskstep_task;	      /* TaskStepMethWrapper sw_task / sw_arg */
	int32_t taskstep_arg;
	int32_t taskwakeup_task;      /* TaskWakeupMethWrapper ww_task (3.8/3.9) */
	/*
	 * 3.15: gc.generation_stats is a pointer to rings of gc_stats_size-byte records, one ring
	 * per generation (young, old[0], old[1]), each with an int8 index of its newest record;
	 * records are cumulative (gc.get_stats()[g] = ring[index]). NONE: an inline array.
	 */
	int32_t gc_stats_ring_young; /* offsets inside the pointed-to block */
	int32_t gc_stats_ring_old0;
	int32_t gc_stats_ring_old1;
	int32_t gc_stats_index_young;
	int32_t gc_stats_index_old0;
	int32_t gc_stats_index_old1;
	int32_t gc_stats_ring_len_young; /* records per ring */
	int32_t gc_stats_ring_len_old;
	int32_t gc_stats_duration;   /* double seconds inside a record */

	int32_t free_threaded; /* 1: a Py_GIL_DISABLED build's table; NONE: a GIL build's */
};

/* Tables generated from DWARF (userspace/target/layouts_gen.c); NULL-terminated. */
extern const struct py_layout *const py_layouts[];

/* The table for major.minor, or NULL when pyleak has none (caller refuses the target). */
const struct py_layout *layout__find(int major, int minor);

#endif /* PYLEAK_LAYOUT_H */
