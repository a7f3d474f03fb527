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
	__u64 count;
	__u64 last_ns; /* bpf_ktime_get_ns() of the latest sample */
};

/* Value of `site_pids`, key = tgid.  Cumulative since registration. */
struct sites_pid_stats {
	__u64 triggers;	  /* collector entries seen (any generation) */
	__u64 samples;	  /* ... that were sampled (young / allocation-triggered collections) */
	__u64 captured;	  /* stacks counted */
	__u64 truncated;  /* ... of which deeper than PYSTACK_MAX_FRAMES */
	__u64 empty;	  /* walks that found no Python frame */
	__u64 errors[PYSTACK_E_MAX]; /* walks discarded, by enum pystack_err */
	__u64 tstate_fallback; /* tstate found by the thread-list scan (holder check failed) */
	__u64 stacks_full;  /* site_stacks full: sample not counted */
	__u64 counts_full;  /* site_counts full: sample not counted */
	__u64 walk_ns;	    /* Σ time in pystack_capture (cost per sample = walk_ns / samples) */
	__u64 frames;	    /* Σ frames captured */
};

#endif /* PYLEAK_SITES_H */
