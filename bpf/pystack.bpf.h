// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* BPF-only helper: capture the current thread's Python stack (code object + instruction offset per
 * frame) from a uprobe/USDT context, configured per pid by struct pystack_cfg (bpf/sites.h).
 *
 * Usage from any BPF program (bpf/sites.bpf.c, later bpf/alloc.bpf.c):
 *
 *	#include "sites.h"
 *	#include "pystack.bpf.h"
 *	struct pystack *st = pystack_scratch_stack();      // per-CPU 1 KiB buffer
 *	int err = pystack_capture((struct task_struct *)bpf_get_current_task(), cfg, st);
 *	if (err == PYSTACK_OK) ... st->nframes, st->flags, st->frames[] ...
 *	__u64 id = pystack_hash(st);
 *
 * The task must be the current task: every read is bpf_probe_read_user() of the current
 * address space.  The caller includes vmlinux.h, bpf_helpers.h and bpf_core_read.h first.
 */
#ifndef PYLEAK_PYSTACK_BPF_H
#define PYLEAK_PYSTACK_BPF_H

#include "sites.h"

/* Walk state: lives in the per-CPU scratch because the walk runs as a bpf_loop() callback (a plain
 * loop with Brent's counters defeats the verifier's state pruning: > 1M instructions). */
struct pystack_walk {
	__u64 frame, tortoise;
	__u32 power, lam, n, err;
};

struct pystack_scratch {
	struct pystack stack;
	struct pystack_cfg cfg;	 /* copy of the caller's cfg for the callback */
	struct pystack_walk walk;
	__u8 hdr[PYSTACK_HDR_MAX + 8]; /* one frame's fields, read at once */
};

/* Per-CPU scratch: a struct pystack (1 KiB) does not fit the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pystack_scratch);
} pystack_scratch SEC(".maps");

static __always_inline struct pystack_scratch *pystack__scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pystack_scratch, &zero);
}

static __always_inline struct pystack *pystack_scratch_stack(void)
{
	struct pystack_scratch *sc = pystack__scratch();

	return sc ? &sc->stack : NULL;
}

/* Offsets come from userspace; the masks only prove the bounds to the verifier. */
static __always_inline __u64 pystack__hdr_u64(const __u8 *hdr, __s16 off)
{
	return *(const __u64 *)(hdr + ((__u32)off & (PYSTACK_HDR_MAX - 1)));
}

static __always_inline __u32 pystack__hdr_u32(const __u8 *hdr, __s16 off)
{
	return *(const __u32 *)(hdr + ((__u32)off & (PYSTACK_HDR_MAX - 1)));
}

static __always_inline __u8 pystack__hdr_u8(const __u8 *hdr, __s16 off)
{
	return hdr[(__u32)off & (PYSTACK_HDR_MAX - 1)];
}

static __always_inline int pystack__read_u64(__u64 addr, __u64 *out)
{
	return bpf_probe_read_user(out, sizeof(*out), (const void *)addr);
}

/* The current thread's tid as its own pid namespace sees it (= CPython's native_thread_id,
 * which is gettid() inside the container). */
static __always_inline __u32 pystack__ns_tid(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	int nr = 0;

	bpf_probe_read_kernel(&nr, sizeof(nr), &pid->numbers[level & 31].nr);
	return (__u32)nr;
}

/* 1 = tstate belongs to the current thread, 0 = it does not, < 0 = unreadable. */
static __always_inline int pystack__tstate_is_current(const struct pystack_cfg *cfg, __u64 tstate,
						      __u32 ns_tid, __u64 fsbase)
{
	__u64 v;

	if (cfg->tstate_native_tid >= 0) {
		if (pystack__read_u64(tstate + cfg->tstate_native_tid, &v))
			return -1;
		return v == ns_tid;
	}
	if (cfg->tstate_thread_id >= 0) {
		/* <= 3.10: thread_id = PyThread_get_thread_ident() = pthread_self() = fsbase. */
		if (pystack__read_u64(tstate + cfg->tstate_thread_id, &v))
			return -1;
		return v == fsbase;
	}
	return 1; /* nothing to check against: trust the pointer */
}

/* The current thread's PyThreadState (0 = none); *fallback set when the scan found it. */
static __always_inline int pystack__tstate(struct task_struct *task, const struct pystack_cfg *cfg,
					   __u64 *tstate, bool *fallback)
{
	__u32 ns_tid = pystack__ns_tid(task);
	__u64 fsbase = BPF_CORE_READ(task, thread.fsbase);
	__u64 ts = 0, next;
	int i, ok;

	*tstate = 0;
	*fallback = false;
	if (cfg->tstate_ptr_addr) {
		if (pystack__read_u64(cfg->tstate_ptr_addr, &ts))
			return PYSTACK_E_READ;
		if (ts) {
			ok = pystack__tstate_is_current(cfg, ts, ns_tid, fsbase);
			if (ok < 0)
				return PYSTACK_E_READ;
			if (ok) {
				*tstate = ts;
				return PYSTACK_OK;
			}
		}
	}
	if (!cfg->threads_head_addr)
		return PYSTACK_E_NO_TSTATE;
	if (pystack__read_u64(cfg->threads_head_addr, &ts))
		return PYSTACK_E_READ;
#pragma clang loop unroll(disable)
	for (i = 0; i < PYSTACK_MAX_THREADS && ts; i++) {
		ok = pystack__tstate_is_current(cfg, ts, ns_tid, fsbase);
		if (ok < 0)
			return PYSTACK_E_READ;
		if (ok) {
			*tstate = ts;
			*fallback = true;
			return PYSTACK_OK;
		}
		if (pystack__read_u64(ts + cfg->tstate_next, &next))
			return PYSTACK_E_READ;
		ts = next;
	}
	return PYSTACK_E_NO_TSTATE;
}

/* The innermost frame of tstate (0 = thread runs no Python code). */
static __always_inline int pystack__top_frame(const struct pystack_cfg *cfg, __u64 tstate, __u64 *frame)
{
	__u64 p;

	if (pystack__read_u64(tstate + cfg->tstate_frame, &p))
		return PYSTACK_E_READ;
	if (p && cfg->cframe_current_frame >= 0) {
		/* 3.11/3.12: tstate->cframe->current_frame */
		if (pystack__read_u64(p + cfg->cframe_current_frame, &p))
			return PYSTACK_E_READ;
	}
	*frame = p;
	return PYSTACK_OK;
}

/* Is the frame at the chain's root a shim with nothing behind it (3.12+ entry frame)? */
static __always_inline bool pystack__is_final_shim(const struct pystack_cfg *cfg, __u8 *hdr, __u64 frame)
{
	__u32 sz = cfg->hdr_size;

	if (cfg->frame_owner < 0 || sz == 0 || sz > PYSTACK_HDR_MAX)
		return false;
	if (bpf_probe_read_user(hdr, sz, (const void *)frame))
		return false;
	return pystack__hdr_u8(hdr, cfg->frame_owner) >= cfg->owner_skip_min &&
	       pystack__hdr_u64(hdr, cfg->frame_previous) == 0;
}

/* One frame: bpf_loop() callback.  Returns 1 to stop (done or error in walk.err). */
static long pystack__step(__u32 i, void *unused)
{
	struct pystack_scratch *sc = pystack__scratch();
	const struct pystack_cfg *cfg;
	struct pystack_walk *w;
	__u64 frame, prev, code, type;
	__u32 sz;
	bool skip = false;
	__s64 insn;
	__s32 ft;
	__u8 owner = 0;

	if (!sc)
		return 1;
	cfg = &sc->cfg;
	w = &sc->walk;
	frame = w->frame;
	sz = cfg->hdr_size;
	if (!frame)
		return 1;
	if (w->n >= PYSTACK_MAX_FRAMES) {
		if (!pystack__is_final_shim(cfg, sc->hdr, frame))
			sc->stack.flags |= PYSTACK_F_TRUNCATED;
		w->frame = 0;
		return 1;
	}
	if (sz == 0 || sz > PYSTACK_HDR_MAX || bpf_probe_read_user(sc->hdr, sz, (const void *)frame))
		goto read_error;
	prev = pystack__hdr_u64(sc->hdr, cfg->frame_previous);
	code = pystack__hdr_u64(sc->hdr, cfg->frame_code) & ~cfg->code_tag_mask;
	if (cfg->frame_owner >= 0) {
		owner = pystack__hdr_u8(sc->hdr, cfg->frame_owner);
		/* 3.12+ shim frames (FRAME_OWNED_BY_CSTACK): no code to report. */
		skip = owner >= cfg->owner_skip_min;
	}
	if (!skip) {
		if (!code) {
			w->err = PYSTACK_E_NOT_CODE;
			return 1;
		}
		if (pystack__read_u64(code + cfg->ob_type, &type))
			goto read_error;
		if (type != cfg->code_type) {
			w->err = PYSTACK_E_NOT_CODE;
			return 1;
		}
		if (cfg->code_adaptive >= 0) {
			insn = (__s64)(pystack__hdr_u64(sc->hdr, cfg->frame_lasti) - (code + cfg->code_adaptive));
			/* 3.11-3.13 "incomplete" frames (still copying free vars / making cells before
			 * RESUME; v3.12.5 pycore_frame.h:175-179) are skipped as CPython's own
			 * tracebacks do.  _co_firsttraceable counts a few prefix instructions, so it is
			 * read only near the start of the code. */
			if (cfg->code_firsttraceable >= 0 && owner != cfg->owner_generator && insn < 512) {
				ft = 0;
				if (bpf_probe_read_user(&ft, sizeof(ft),
							(const void *)(code + cfg->code_firsttraceable)))
					goto read_error;
				if (insn < (__s64)ft * 2)
					skip = true;
			}
			if (!skip && (insn < 0 || insn >= (1 << 26)))
				goto read_error; /* not inside this code: inconsistent read */
		} else {
			insn = (__s32)pystack__hdr_u32(sc->hdr, cfg->frame_lasti);
		}
		if (!skip) {
			__u32 k = w->n & (PYSTACK_MAX_FRAMES - 1);

			sc->stack.frames[k].code = code;
			sc->stack.frames[k].insn = (__s32)insn;
			sc->stack.frames[k].pad = 0;
			w->n++;
		}
	}
	/* Brent's cycle detection: a loop shows within about twice its length after its start. */
	w->frame = prev;
	if (prev && prev == w->tortoise) {
		w->err = PYSTACK_E_LOOP;
		return 1;
	}
	if (++w->lam == w->power) {
		w->tortoise = prev;
		w->power <<= 1;
		w->lam = 0;
	}
	return prev ? 0 : 1;
read_error:
	w->err = PYSTACK_E_READ;
	return 1;
}

/*
 * Walk the current thread's frames, leaf first, into st (a map value or the per-CPU buffer of
 * pystack_scratch_stack()).  Returns PYSTACK_OK (st->nframes may be 0) or a PYSTACK_E_* code; on
 * error st holds a partial walk that must be discarded.  Every frame's code object is checked
 * against PyCode_Type, chain loops are detected (Brent), and frames beyond PYSTACK_MAX_FRAMES set
 * PYSTACK_F_TRUNCATED instead of being guessed.  Needs bpf_loop() (Linux 5.17+).
 */
static __always_inline int pystack_capture(struct task_struct *task, const struct pystack_cfg *cfg,
					   struct pystack *st)
{
	struct pystack_scratch *sc = pystack__scratch();
	bool fallback;
	__u64 tstate, frame;
	int err;

	st->nframes = 0;
	st->flags = 0;
	if (!sc)
		return PYSTACK_E_READ;
	err = pystack__tstate(task, cfg, &tstate, &fallback);
	if (err)
		return err;
	err = pystack__top_frame(cfg, tstate, &frame);
	if (err)
		return err;
	sc->cfg = *cfg;
	sc->stack.nframes = 0;
	sc->stack.flags = fallback ? PYSTACK_F_TSTATE_SCAN : 0;
	sc->walk.frame = frame;
	sc->walk.tortoise = frame;
	sc->walk.power = 1;
	sc->walk.lam = 0;
	sc->walk.n = 0;
	sc->walk.err = 0;
	bpf_loop(PYSTACK_MAX_WALK, pystack__step, NULL, 0);
	if (sc->walk.err)
		return sc->walk.err;
	if (sc->walk.frame && sc->walk.n >= PYSTACK_MAX_FRAMES)
		sc->stack.flags |= PYSTACK_F_TRUNCATED; /* limit reached in the last iteration */
	else if (sc->walk.frame)
		return PYSTACK_E_TOO_MANY;
	sc->stack.nframes = sc->walk.n;
	if (st != &sc->stack && bpf_probe_read_kernel(st, sizeof(*st), &sc->stack))
		return PYSTACK_E_READ;
	return PYSTACK_OK;
}

/* 64-bit id of a captured stack (frames, depth, truncation). */
static __always_inline __u64 pystack_hash(const struct pystack *st)
{
	__u64 h = 0xcbf29ce484222325ull ^ ((__u64)st->nframes << 32) ^ (st->flags & PYSTACK_F_TRUNCATED);
	__u32 i;

#pragma clang loop unroll(disable)
	for (i = 0; i < PYSTACK_MAX_FRAMES; i++) {
		if (i >= st->nframes)
			break;
		h ^= st->frames[i].code;
		h *= 0x9e3779b97f4a7c15ull;
		h ^= (__u32)st->frames[i].insn;
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h ? h : 1;
}

#endif /* PYLEAK_PYSTACK_BPF_H */
