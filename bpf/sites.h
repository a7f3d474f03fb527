/* SPDX-License-Identifier: BSD-2-Clause */
/* ABI between bpf/sites.bpf.c (+ bpf/pystack.bpf.h) and userspace/probes/sites.c: frame-walker config,
 * captured Python stacks, per-(pid, stack) counters. */
#ifndef PYLEAK_SITES_H
#define PYLEAK_SITES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/*
 * Frames kept per stack, leaf first.  Deeper stacks keep the 64 frames nearest the leaf and set
 * PYSTACK_F_TRUNCATED: a truncated stack is incomplete, never wrong.  64 × 16 B = 1 KiB per
 * stored stack.  PYSTACK_MAX_WALK bounds the frames visited (kept + skipped shim/incomplete
 * frames); PYSTACK_MAX_THREADS bounds the thread-list scan that finds the current tstate.
 */
#define PYSTACK_MAX_FRAMES  64
#define PYSTACK_MAX_WALK    96
#define PYSTACK_MAX_THREADS 64
#define PYSTACK_HDR_MAX	    128 /* bytes of a frame read at once (max field offset + 8) */

/* Map sizes (preallocated: uprobes run in atomic context). site_stacks ≈ 1.1 KiB × 8192 ≈ 9 MiB. */
#define SITES_MAX_PIDS	 4096
#define SITES_MAX_STACKS 8192  /* distinct (pid, stack) over all pids */
#define SITES_MAX_COUNTS 16384 /* (pid, stack, type) counters */

#define PYSTACK_OFF_NONE (-1)

/*
 * How to find and walk the current thread's Python stack in one target.  Every offset comes from
 * userspace/target/layout.h via userspace/probes/sites.c (never written into BPF code): value of the
 * `pystack_cfgs` hash, key = tgid (host pid namespace).
 *
 * Current PyThreadState, in order:
 *   1. tstate_ptr_addr: address of a PyThreadState* that holds the current thread's state while it
 *      runs Python: _PyRuntime.gilstate.tstate_current (<= 3.11), or interp->_gil.last_holder
 *      (3.12+: the thread state of the GIL holder; collections run with the GIL held).
 *   2. validated: the candidate's native_thread_id (3.11+, a tid of the target's pid namespace)
 *      must equal the current tid, or (<= 3.10) its thread_id (= pthread_self() = the TLS block
 *      = task->thread.fsbase on x86_64 glibc) must equal fsbase;
 *   3. else scan interp->threads.head (at most PYSTACK_MAX_THREADS) for the matching thread.
 */
struct pystack_cfg {
	__u64 tstate_ptr_addr;	 /* see above; 0 = none */
	__u64 threads_head_addr; /* &interp->threads.head (tstate_head <= 3.10); 0 = no scan */
	__u64 code_type;	 /* &PyCode_Type in the target: every frame's code is checked */
	__s16 tstate_next;
	__s16 tstate_frame;	    /* frame (<= 3.10), cframe (3.11/3.12), current_frame (3.13+) */
	__s16 cframe_current_frame; /* 3.11/3.12 offset in _PyCFrame; NONE otherwise */
	__s16 tstate_thread_id;	    /* pthread_t (<= 3.10 matching); NONE when native is used */
	__s16 tstate_native_tid;    /* native_thread_id (3.11+); NONE before */
	__s16 frame_previous;	    /* f_back / previous */
	__s16 frame_code;	    /* f_code / f_executable */
	__s16 frame_lasti;	    /* f_lasti (int, <= 3.10) / prev_instr, instr_ptr (3.11+) */
	__s16 frame_owner;	    /* char, 3.11+; NONE before */
	__s16 code_adaptive;	    /* co_code_adaptive (3.11+); NONE: f_lasti is an int */
	__s16 code_firsttraceable;  /* int _co_firsttraceable (3.11-3.13); NONE: no incomplete check */
	__s16 ob_type;		    /* 8 */
	__u16 hdr_size;		    /* bytes read per frame: max(frame field offsets) + 8 */
	__u8 owner_skip_min;	    /* skip frames with owner >= this (3.12/3.13: 3 = CSTACK;
				     * 3.14: 3 = INTERPRETER, 4 = CSTACK); 255 = none */
	__u8 owner_generator;	    /* FRAME_OWNED_BY_GENERATOR (1): never "incomplete" */
	__u64 code_tag_mask;	    /* low bits to clear in f_executable (3.14 _PyStackRef: 3) */
	__u32 flags;		    /* PYSTACK_CFG_* */
	__u32 pad;
	/* Survivor sampling (below): where the young list is and how to pair a stack with the
	 * object it allocated.  surv_mode SURV_MODE_OFF = none. */
	__u64 young_head;	    /* &generations[0].head (a PyGC_Head) */
	__u16 gc_head_size;	    /* sizeof(PyGC_Head): 16 (3.8+) */
	__u16 gc_head_next;	    /* offset of _gc_next (0) */
	__u16 gc_head_prev;	    /* offset of _gc_prev (8) */
	__u16 surv_mode;	    /* enum surv_mode */
	__u32 surv_forms;	    /* NEXT_FIRST: SURV_FORM_* a candidate word may take */
	__u32 gen_stride;	    /* sizeof(struct gc_generation): generations[1].head = young_head + stride */
	__u64 young_count;	    /* &generations[0].count (int): bounds the young list's length */
	__u64 young_threshold;	    /* &generations[0].threshold (int) */
	__u32 young_walk;	    /* young-list nodes a check may walk (<= SURV_YOUNG_WALK) */
	__u32 pad3;
};
#define PYSTACK_CFG_ENABLED 1 /* sample this pid */

/* One captured frame: the code object and where in it the frame was. */
struct pystack_frame {
	__u64 code; /* PyCodeObject* in the target (tag bits cleared) */
	/* <= 3.10: f_lasti as stored (3.6-3.9 byte offset, 3.10 instruction index); 3.11+: byte
	 * offset of prev_instr/instr_ptr from co_code_adaptive.  Userspace turns it into a line. */
	__s32 insn;
	__u32 pad;
};

#define PYSTACK_F_TRUNCATED	1 /* deeper than PYSTACK_MAX_FRAMES: the root side is missing */
#define PYSTACK_F_TSTATE_SCAN	2 /* tstate found by the thread-list scan (informational, not hashed) */

struct pystack {
	__u32 nframes;
	__u32 flags; /* PYSTACK_F_* */
	struct pystack_frame frames[PYSTACK_MAX_FRAMES]; /* [0] = leaf */
};

/* pystack_capture() results; > 0 values index sites_pid_stats.errors. */
enum pystack_err {
	PYSTACK_OK = 0,
	PYSTACK_E_NO_TSTATE,	/* no thread state for the current thread (not running Python) */
	PYSTACK_E_READ,		/* a read of target memory failed */
	PYSTACK_E_LOOP,		/* the frame chain loops */
	PYSTACK_E_NOT_CODE,	/* a frame's code is not a code object */
	PYSTACK_E_TOO_MANY,	/* more than PYSTACK_MAX_WALK frames visited with < MAX_FRAMES kept */
	PYSTACK_E_MAX,
};

/* Key of `site_stacks` (value struct pystack): the stack id is a 64-bit hash of the frames,
 * per pid because code pointers are per process. */
struct site_stack_key {
	__u32 pid;
	__u32 pad;
	__u64 stack_id;
};

/* Key / value of `site_counts`.  type = PyTypeObject* of the sampled allocation when known
 * (young-list sample or exact allocator probe), 0 when unknown. */
struct site_count_key {
	__u32 pid;
	__u32 pad;
	__u64 stack_id;
	__u64 type;
};

struct site_count_val {
	__u64 count; /* young collections this stack stands for (its samples and their windows, SITES_MIN_NS) */
	__u64 last_ns; /* bpf_ktime_get_ns() of the latest sample */
};

/* Value of `site_pids`, key = tgid.  Cumulative since registration. */
struct sites_pid_stats {
	__u64 triggers;	  /* collector entries seen (any generation) */
	__u64 samples;	  /* ... that were sampled (young / allocation-triggered collections) */
	__u64 rate_limited; /* young collections not sampled: within SITES_MIN_NS of the last sample */
	__u64 captured;	  /* stacks counted */
	__u64 truncated;  /* collections counted with a stack deeper than PYSTACK_MAX_FRAMES (weighted
			   * as site_count_val.count) */
	__u64 empty;	  /* walks that found no Python frame */
	__u64 errors[PYSTACK_E_MAX]; /* walks discarded, by enum pystack_err */
	__u64 tstate_fallback; /* tstate found by the thread-list scan (holder check failed) */
	__u64 stacks_full;  /* site_stacks full: sample not counted */
	__u64 counts_full;  /* site_counts full: sample not counted */
	__u64 walk_ns;	    /* Σ time in pystack_capture (cost per sample = walk_ns / samples) */
	__u64 frames;	    /* Σ frames captured */
	/* survivor sampling */
	__u64 surv_samples;	 /* pairs written to the ring */
	__u64 surv_ring_full;	 /* ... lost: ring full (userspace did not read in time) */
	__u64 surv_rate_limited; /* captured stacks not paired (SURV_MIN_NS) */
	__u64 surv_no_object;	 /* NEWEST: young list empty; NEXT_FIRST: no candidate on the C stack */
	__u64 surv_unmatched;	 /* NEXT_FIRST: no candidate among the first young entries (died);
				  * NEWEST: not confirmed in an older generation (died, or too many
				  * objects after it) */
	__u64 surv_reused;	 /* a newer object held the address at a confirmation */
	__u64 surv_slots_full;	 /* paired but not followed: SURV_SLOTS samples in flight */
	__u64 surv_older_gen;	 /* not paired: the collection will be of an older generation (3.13 AUTO) */
	__u64 surv_read_errors;	 /* a read of the young list or the C stack failed */
	__u64 surv_ns;		 /* Σ time spent pairing (cost per sample) */
	__u64 surv_last_ns;	 /* bpf_ktime_get_ns() of the latest new sample (rate limit) */
	__u64 last_sample_ns;	 /* bpf_ktime_get_ns() of the latest stack sample (SITES_MIN_NS) */
	__u64 skipped;		 /* young collections rate-limited since that sample */
	__u64 last_stack_id;	 /* ... its stack (0: none counted), which the skipped ones count to */
	__u64 last_truncated;	 /* ... 1 if that stack was truncated */
};

/*
 * At most one stack walk per pid per SITES_MIN_NS (500/s). A walk costs ~1-2 us of the target's
 * collection (docs/PERFORMANCE.md "per collection"): at every one of gc_heavy's 6 000 collections
 * a second it was the largest part of the default's cost. A sample stands for its window: the
 * collections skipped after it are added to its stack's count when the next sample is taken, so
 * a stack's count still estimates the young collections made there and the profile's shares stay
 * those of collections, not of time. (Counting them to the *next* sample instead would move a
 * burst's collections to whatever code runs after the burst.)
 */
#define SITES_MIN_NS (2ull * 1000 * 1000)

/*
 * Survivor sampling: pair a sampled stack with the object its allocation made, so that the
 * census can later tell which sampled objects are still alive (DESIGN.md "From what grows to why").
 *
 * SURV_MODE_NEWEST (3.12+): the allocation only schedules the collection; it runs at the next
 *   eval-breaker check of the same thread (3.13: a per-thread eval_breaker bit; 3.12: the
 *   interpreter's, but a GIL hand-off also needs an eval-breaker check, so no other thread ran
 *   Python in between).  The young list is in allocation (tracking) order, so its newest entry
 *   (head._gc_prev) at gc__start is the most recent allocation of that thread still alive: the
 *   allocating call itself, or an object made between it and the next bytecode boundary.  The
 *   stack is the one at that boundary (same function, or the __init__ called on the new object).
 *   Address reuse: the object may die right after the sample and its block be handed to a
 *   newer object of the same type (pymalloc reuses the last freed block first).  So the sample
 *   is only sent once confirmed at the next collection start: the sampled object left the young
 *   list in the sampled collection, so it must not be on the young list now (one bounded walk
 *   of it, SURV_YOUNG_WALK); found there, a newer object took the address.
 * SURV_MODE_NEXT_FIRST (<= 3.11): the collection runs synchronously inside the allocation
 *   (_PyObject_GC_Alloc / _PyObject_GC_Link) before the new object is tracked, so the object is
 *   not on any list yet.  Its address is on the allocating thread's C stack (a callee-saved
 *   register or a spilled slot of the allocator's frame) with a zeroed GC head: up to
 *   SURV_MAX_CANDS such words are kept as candidates, and at the *next* collection start the
 *   first young entry (the first object tracked after the collection: PyType_GenericAlloc
 *   tracks the new instance at once) is matched against them.  A candidate found there is the
 *   allocation of the stack sampled one collection earlier, alive one young window later; an
 *   unmatched pending sample (the object died young) is dropped.  Only the first entry: a newer
 *   object that took the address of a dead sample sits behind whatever else survived since.
 *   Then, as for NEWEST, it is confirmed one collection later on an older generation's list
 *   (an object freed by the collection that promoted it leaves its block to a newer one).
 */
enum surv_mode {
	SURV_MODE_OFF = 0,
	SURV_MODE_NEWEST = 1,
	SURV_MODE_NEXT_FIRST = 2,
};

#define SURV_MAX_CANDS	 8   /* candidate object addresses kept from one C stack scan (power of 2) */
#define SURV_SCAN_WORDS	 256 /* 2 KiB of C stack above the probe's sp scanned for candidates */
#define SURV_SCAN_PROBES 48  /* at most this many candidate words checked (one 32-byte read each) */
#define SURV_FIRST_NODES   4  /* young entries matched at the next collection start */
/* Nodes of the young list walked to check the followed samples (one walk per collection start
 * with a check due, all slots at once): the list holds about threshold0 objects at a collection
 * start (700 up to 3.12, 2000 in 3.13).  Measured 60-200 ns a node (the walk is a pause in the
 * target's collection): the per-pid bound is pystack_cfg.young_walk (threshold0 + 1/4, at most
 * SURV_YOUNG_WALK); a longer list leaves the checks undecided and the samples are dropped. */
#define SURV_YOUNG_WALK 2560
/* At most one new sample per pid per SURV_MIN_NS (10/s): each costs up to two young-list walks
 * (~50-400 us each, docs/PERFORMANCE.md), so a GC-heavy target (thousands of collections/s)
 * pays at most ~0.1-0.8% of a core; the ring below never fills between two reads. */
#define SURV_MIN_NS	 (100ull * 1000 * 1000)
/* Ring of struct survivor_sample, read by userspace at every refresh: 256 KiB / 48 B = 5461
 * records.  A failed reserve counts sites_pid_stats.surv_ring_full. */
#define SURV_RING_BYTES	 (256 * 1024)

/* A sample in flight until the next collection start, key = tgid: in `surv_pending` the
 * NEXT_FIRST candidates to match; in `surv_confirm` cands[0] = the paired object of type `type`
 * to confirm on an older generation (both modes). */
struct surv_pending {
	__u64 stack_id;
	__u64 time_ns;
	__u64 cands[SURV_MAX_CANDS]; /* PyObject* candidates (0 = unused) */
	__u64 type;		     /* surv_confirm: ob_type when paired */
	__u32 seq;		     /* surv_pending: triggers at the sampled collection;
				      * surv_confirm: number of the collection that promoted it */
	__u32 ncands;
	__u16 position, mode;	     /* surv_confirm: for struct survivor_sample */
	__s32 gen1_count;	     /* surv_confirm: generations[1].count at the sampled collection */
	__u8 stage;		     /* surv_confirm: 0 next collection, 1 after a gen-1 collection */
	__u8 old_seen;		     /* ... a gen-1 (or older) collection has run since the sample */
	__u16 age;		     /* collection starts waited */
	__u32 pad;
};

/*
 * Samples being confirmed, per pid (value of `surv_confirm`).  NEWEST samples wait for the next
 * gen-1 collection too: an object alive at its first young collection but dead at the next gen-1
 * one (request-scoped garbage cycles promoted once) leaves its address to a newer object that
 * the census could not tell apart; so the sample is confirmed again, on an older list, at the
 * first collection start after a gen-1 collection.  A slot waits at most SURV_MAX_AGE starts.
 */
#define SURV_SLOTS	   16
#define SURV_MAX_AGE	   64
#define SURV_WALKS_PER_RUN 3 /* confirmation walks per collection start (bounds the cost) */
#define SURV_MAX_PIDS	   1024 /* pids with samples in flight (surv_pending, surv_confirm) */
struct surv_slots {
	struct surv_pending slot[SURV_SLOTS];
};

/* How the allocation's address may sit on the C stack.  3.11 (gc_alloc, _PyType_AllocNoTrack)
 * pass the object pointer to _PyObject_GC_Link; its pre-header (managed dict) is zeroed too, so
 * the g form would also match the start of the block there: 3.11 takes the object form only.
 * <= 3.10 _PyObject_GC_Alloc holds the GC head pointer across the collection. */
#define SURV_FORM_OBJECT 1 /* word = PyObject*, zeroed GC head just below it */
#define SURV_FORM_HEAD	 2 /* word = PyGC_Head* (zeroed), object 16 bytes above */

#define SURV_REC_SAMPLE 1 /* every ring record starts with its type tag */

/* One sampled allocation: the object, its type when paired, the stack that made it. */
struct survivor_sample {
	__u32 tag; /* SURV_REC_SAMPLE */
	__u32 pid;
	__u64 addr;	/* PyObject* in the target */
	__u64 type;	/* its ob_type when paired */
	__u64 stack_id; /* key of site_stacks (with pid) */
	__u64 time_ns;	/* bpf_ktime_get_ns() of the sampled collection start */
	__u32 seq;	/* sites_pid_stats.triggers at the sampled collection */
	__u16 position; /* young-list position where it was found (0 = first / newest) */
	__u16 mode;	/* enum surv_mode */
};

#endif /* PYLEAK_SITES_H */
