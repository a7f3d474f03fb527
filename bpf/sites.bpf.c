// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Tier-1 allocation sites: at each young (allocation-triggered) collection start, capture the
 * triggering thread's Python stack and count it per (pid, stack). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "gc.h"
#include "sites.h"
#include "pystack.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Tunables, set between open and load. */
const volatile bool all_generations = false; /* also sample gen-1/2 collections */
/* A new site_counts value (from .rodata: the program's stack is at its 512-byte limit). */
static const struct site_count_val count_zero;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SITES_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct pystack_cfg);
} pystack_cfgs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SITES_MAX_STACKS);
	__type(key, struct site_stack_key);
	__type(value, struct pystack);
} site_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SITES_MAX_COUNTS);
	__type(key, struct site_count_key);
	__type(value, struct site_count_val);
} site_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SITES_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct sites_pid_stats);
} site_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SURV_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct surv_pending);
} surv_pending SEC(".maps");


struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SURV_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct surv_slots);
} surv_confirm SEC(".maps");

/* An all-zero struct surv_slots to create entries from (1 KiB does not fit the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct surv_slots);
} surv_zero SEC(".maps");

/* Start following a paired sample (both modes). */
static __always_inline void surv_follow(struct sites_pid_stats *ps, __u32 tgid, const struct surv_pending *p)
{
	struct surv_slots *set = bpf_map_lookup_elem(&surv_confirm, &tgid);
	__u32 i;

	if (!set) {
		__u32 k0 = 0;
		struct surv_slots *zero = bpf_map_lookup_elem(&surv_zero, &k0); /* never written */

		if (zero)
			bpf_map_update_elem(&surv_confirm, &tgid, zero, BPF_NOEXIST);
		set = bpf_map_lookup_elem(&surv_confirm, &tgid);
		if (!set) {
			__sync_fetch_and_add(&ps->surv_slots_full, 1);
			return;
		}
	}
	for (i = 0; i < SURV_SLOTS; i++) {
		if (set->slot[i].ncands)
			continue;
		set->slot[i] = *p;
		return;
	}
	__sync_fetch_and_add(&ps->surv_slots_full, 1);
}


struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SURV_RING_BYTES);
} surv_ring SEC(".maps");

/* The C stack copied for the candidate scan (2 KiB does not fit the BPF stack). */
struct surv_scratch {
	__u64 regs[8];		 /* callee-saved registers of the probe's context (6 used) */
	__u64 words[SURV_SCAN_WORDS];
	__u64 cands[SURV_MAX_CANDS];
	__u64 lo, hi; /* the scanned range: pointers into it are stack slots, not objects */
	__u32 ncands, probes, nwords, forms;
	struct surv_pending tmp; /* a sample being built (keeps it off the 512-byte BPF stack) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct surv_scratch);
} surv_scratch SEC(".maps");

static __always_inline struct sites_pid_stats *pid_stats_get(__u32 tgid)
{
	struct sites_pid_stats *ps, zero = {};

	ps = bpf_map_lookup_elem(&site_pids, &tgid);
	if (ps)
		return ps;
	bpf_map_update_elem(&site_pids, &tgid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&site_pids, &tgid);
}

/* ---------------------------------------------------------------- survivor sampling */

static __always_inline void surv_emit_slot(struct sites_pid_stats *ps, __u32 tgid, const struct surv_pending *sl)
{
	struct survivor_sample *r = bpf_ringbuf_reserve(&surv_ring, sizeof(*r), 0);

	if (!r) {
		__sync_fetch_and_add(&ps->surv_ring_full, 1);
		return;
	}
	r->tag = SURV_REC_SAMPLE;
	r->pid = tgid;
	r->addr = sl->cands[0];
	r->type = sl->type;
	r->stack_id = sl->stack_id;
	r->time_ns = sl->time_ns;
	r->seq = sl->seq;
	r->position = sl->position;
	r->mode = sl->mode;
	bpf_ringbuf_submit(r, 0);
	__sync_fetch_and_add(&ps->surv_samples, 1);
}

/* 3.12+: the newest young entry, paired with the stack just captured; confirmed at the next
 * collection start (surv_resolve). */
static __always_inline void surv_newest(const struct pystack_cfg *cfg, struct sites_pid_stats *ps, __u32 tgid,
					__u64 stack_id, __u64 now)
{
	struct surv_pending *pend;
	struct surv_scratch *sc;
	__u64 tail = 0, type = 0, obj;
	__u32 zero = 0;

	if (bpf_probe_read_user(&tail, sizeof(tail), (const void *)(cfg->young_head + cfg->gc_head_prev))) {
		__sync_fetch_and_add(&ps->surv_read_errors, 1);
		return;
	}
	tail &= ~7ull; /* _gc_prev keeps flags in its low bits */
	if (!tail || tail == cfg->young_head) {
		__sync_fetch_and_add(&ps->surv_no_object, 1);
		return;
	}
	obj = tail + cfg->gc_head_size;
	if (bpf_probe_read_user(&type, sizeof(type), (const void *)(obj + cfg->ob_type)) || !type) {
		__sync_fetch_and_add(&ps->surv_read_errors, 1);
		return;
	}
	sc = bpf_map_lookup_elem(&surv_scratch, &zero);
	if (!sc)
		return;
	pend = &sc->tmp;
	__builtin_memset(pend, 0, sizeof(*pend));
	pend->stack_id = stack_id;
	pend->time_ns = now;
	pend->cands[0] = obj;
	pend->type = type;
	pend->seq = (__u32)ps->triggers; /* this collection promotes it */
	pend->ncands = 1;
	pend->mode = SURV_MODE_NEWEST;
	if (bpf_probe_read_user(&pend->gen1_count, sizeof(pend->gen1_count),
				(const void *)(cfg->young_count + cfg->gen_stride)))
		pend->gen1_count = -1;
	surv_follow(ps, tgid, pend);
}

/* The young-list membership walk (bpf_loop callback; per-CPU like the stack scan). */
struct surv_walk {
	__u64 cur, young;
	__u64 addrs[SURV_SLOTS]; /* GC heads looked for (0 = none) */
	__u32 found;		 /* bit i: addrs[i] is on the young list */
	__u32 done;		 /* reached the head again: the whole list was seen */
	__u32 broken;
	__u16 next_off, pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct surv_walk);
} surv_walk_state SEC(".maps");

struct surv_walk_ref {
	struct surv_walk *w;
};

static long surv_walk_step(__u32 i, void *ctx)
{
	struct surv_walk *w = ((struct surv_walk_ref *)ctx)->w;
	__u64 p = 0;
	__u32 k;

	if (!w)
		return 1;
	if (w->cur == w->young) {
		w->done = 1;
		return 1;
	}
	if (!w->cur || (w->cur & 7) || bpf_probe_read_user(&p, sizeof(p), (const void *)(w->cur + w->next_off))) {
		w->broken = 1;
		return 1;
	}
	for (k = 0; k < SURV_SLOTS; k++)
		if (w->addrs[k] == w->cur)
			w->found |= 1u << k;
	w->cur = p & ~7ull;
	return 0;
}

struct surv_run {
	struct surv_slots *set;
	struct surv_walk *w;
	const struct pystack_cfg *cfg;
	struct sites_pid_stats *ps;
	__s32 gen1;
	__u32 tgid, due;
};

/* Slot i before the walk: age it out, or mark it due (its GC head goes into w->addrs[i]). */
static long surv_slot_prepare(__u32 i, void *ctx)
{
	struct surv_run *run = ctx;
	struct surv_pending *sl;

	if (!run->set || !run->w)
		return 1;
	sl = &run->set->slot[i & (SURV_SLOTS - 1)];
	run->w->addrs[i & (SURV_SLOTS - 1)] = 0;
	if (!sl->ncands)
		return 0;
	if (++sl->age > SURV_MAX_AGE) {
		__sync_fetch_and_add(&run->ps->surv_unmatched, 1);
		sl->ncands = 0;
		return 0;
	}
	if (sl->stage == 1 && !sl->old_seen) {
		/* Each young collection adds one to generations[1].count, a gen-1 or older collection
		 * resets it: not above its value at the sample = reset since. */
		if (run->gen1 >= 0 && sl->gen1_count >= 0 && run->gen1 <= sl->gen1_count)
			sl->old_seen = 1;
		else
			return 0;
	}
	run->w->addrs[i & (SURV_SLOTS - 1)] = sl->cands[0] - run->cfg->gc_head_size;
	run->due++;
	return 0;
}

/*
 * Is the object at obj still a live tracked object of its sampled type?  A freed block keeps its
 * ob_type (pymalloc and glibc only write their free-list links into the first 16 bytes, the GC
 * head or the 3.12+ managed-dict pre-header), so the type alone passes a dead sample; an
 * untracked object has _gc_next 0, a freed one refcount 0 (the decref that freed it) or a
 * free-list link over _gc_next.  Without this, request-scoped garbage promoted once was confirmed
 * after it died, and a leaked object taking its address later was counted at its site.
 */
static __always_inline bool surv_still_there(const struct pystack_cfg *cfg, __u64 obj, __u64 type)
{
	__u64 w[4]; /* _gc_next, _gc_prev, ob_refcnt, ob_type (default builds: ob_type at 8) */
	__u64 next;

	if (cfg->ob_type != 8 || cfg->gc_head_size != 16 || cfg->gc_head_next != 0 || cfg->gc_head_prev != 8)
		return false;
	if (bpf_probe_read_user(w, sizeof(w), (const void *)(obj - 16)))
		return false;
	if (w[3] != type || !w[2] || (w[2] >> 63))
		return false;
	next = w[0] & ~7ull;
	if (!next)
		return false; /* untracked */
	/* The next node's _gc_prev points back here on a list; a free-list link does not. */
	{
		__u64 back = 0;

		if (bpf_probe_read_user(&back, sizeof(back), (const void *)(next + cfg->gc_head_prev)))
			return false;
		return (back & ~7ull) == obj - 16;
	}
}

/* Slot i after the walk: on the young list = a newer object at the address; else passed. */
static long surv_slot_finish(__u32 i, void *ctx)
{
	struct surv_run *run = ctx;
	struct surv_pending *sl;
	__u32 k = i & (SURV_SLOTS - 1);

	if (!run->set || !run->w)
		return 1;
	sl = &run->set->slot[k];
	if (!run->w->addrs[k] || !sl->ncands)
		return 0;
	if (run->w->found & (1u << k)) {
		__sync_fetch_and_add(&run->ps->surv_reused, 1);
	} else if (!run->w->done || !surv_still_there(run->cfg, sl->cands[0], sl->type)) {
		__sync_fetch_and_add(&run->ps->surv_unmatched, 1); /* undecided, or freed / retyped */
	} else if (sl->mode == SURV_MODE_NEWEST && sl->stage == 0) {
		sl->stage = 1; /* survived its first young collection: now wait for a gen-1 one */
		return 0;
	} else {
		surv_emit_slot(run->ps, run->tgid, sl);
	}
	sl->ncands = 0;
	return 0;
}

/*
 * At every collection start: move the followed samples on (bpf/sites.h struct surv_slots).  The
 * question each check asks is "is the object at this address on the young list now?": a sample
 * left the young list in the collection it was paired at, so finding it there means a newer
 * object took the address.  One walk of the young list (bounded by cfg->young_walk) answers it
 * for every slot due.  The per-slot work runs as bpf_loop() callbacks: verified once, not once
 * per slot (as an unrolled or bounded loop it tripled the program's load time).
 */
static __always_inline void surv_run_slots(const struct pystack_cfg *cfg, struct sites_pid_stats *ps, __u32 tgid)
{
	struct surv_run run = { .cfg = cfg, .ps = ps, .tgid = tgid, .gen1 = -1 };
	struct surv_walk_ref ref;
	__u32 zero = 0;
	__u64 head = 0;

	run.set = bpf_map_lookup_elem(&surv_confirm, &tgid);
	if (!run.set)
		return;
	run.w = bpf_map_lookup_elem(&surv_walk_state, &zero);
	if (!run.w)
		return;
	if (bpf_probe_read_user(&run.gen1, sizeof(run.gen1), (const void *)(cfg->young_count + cfg->gen_stride)))
		run.gen1 = -1;
	bpf_loop(SURV_SLOTS, surv_slot_prepare, &run, 0);
	if (!run.due)
		return;
	if (bpf_probe_read_user(&head, sizeof(head), (const void *)(cfg->young_head + cfg->gc_head_next))) {
		__sync_fetch_and_add(&ps->surv_read_errors, 1);
		return;
	}
	run.w->cur = head & ~7ull;
	run.w->young = cfg->young_head;
	run.w->next_off = cfg->gc_head_next;
	run.w->found = run.w->done = run.w->broken = 0;
	ref.w = run.w;
	bpf_loop(cfg->young_walk < SURV_YOUNG_WALK ? cfg->young_walk : SURV_YOUNG_WALK, surv_walk_step, &ref, 0);
	bpf_loop(SURV_SLOTS, surv_slot_finish, &run, 0);
}

static __always_inline bool surv_plausible(const struct surv_scratch *sc, __u64 w)
{
	/* 16-byte aligned (pymalloc blocks and GC heads are), in the user half, not a stack slot. */
	return w >= 0x10000 && w < 0x800000000000ull && !(w & 15) && (w < sc->lo || w >= sc->hi);
}

static __always_inline void surv_add_cand(struct surv_scratch *sc, __u64 obj)
{
	__u32 k;

	if (sc->ncands >= SURV_MAX_CANDS)
		return;
	for (k = 0; k < SURV_MAX_CANDS; k++)
		if (k < sc->ncands && sc->cands[k] == obj)
			return;
	sc->cands[sc->ncands & (SURV_MAX_CANDS - 1)] = obj;
	sc->ncands++;
}

/*
 * Is w an object whose GC head is zeroed (not tracked yet), or the zeroed head itself?  When
 * both forms are allowed (<= 3.10) and both match, both are kept: the 16 bytes before a fresh
 * head g are often zero too (the end of the previous pymalloc block), so taking only the object
 * form would pair g itself, 16 bytes short of the object, and never match (measured on 3.8: the
 * allocation's own word came first in the scan and every leak sample was lost that way).
 */
static __always_inline void surv_check_word(struct surv_scratch *sc, __u64 w)
{
	__u64 h[4];

	if (!surv_plausible(sc, w) || sc->ncands >= SURV_MAX_CANDS || sc->probes >= SURV_SCAN_PROBES)
		return;
	sc->probes++;
	if (bpf_probe_read_user(h, sizeof(h), (const void *)(w - 16)))
		return;
	if ((sc->forms & SURV_FORM_HEAD) && h[2] == 0 && h[3] == 0)
		surv_add_cand(sc, w + 16); /* w = g (<= 3.10 _PyObject_GC_Alloc keeps the head pointer) */
	if ((sc->forms & SURV_FORM_OBJECT) && h[0] == 0 && h[1] == 0)
		surv_add_cand(sc, w); /* w = op (3.11 gc_alloc / _PyObject_GC_Link(op)): head at op - 16 */
}

struct surv_scan_ref {
	struct surv_scratch *sc; /* bpf_loop's context must live on the BPF stack */
};

static long surv_scan_step(__u32 i, void *ctx)
{
	struct surv_scratch *sc = ((struct surv_scan_ref *)ctx)->sc;

	if (!sc)
		return 1;
	if (i >= sc->nwords + 6 || sc->ncands >= SURV_MAX_CANDS || sc->probes >= SURV_SCAN_PROBES)
		return 1;
	/* the 6 registers first, then the stack words */
	surv_check_word(sc, i < 6 ? sc->regs[i & 7] : sc->words[(i - 6) & (SURV_SCAN_WORDS - 1)]);
	return 0;
}

/*
 * <= 3.11, part 1: the allocation in progress is not on a list yet: keep the candidate addresses
 * found in the callee-saved registers and the C stack, to be matched at the next collection start.
 */
static __always_inline void surv_arm(struct pt_regs *ctx, const struct pystack_cfg *cfg, struct sites_pid_stats *ps,
				     __u32 tgid, __u64 stack_id, __u64 now)
{
	struct surv_pending *pend;
	struct surv_scratch *sc;
	__u32 zero = 0, k;
	__u64 sp = PT_REGS_SP(ctx);

	sc = bpf_map_lookup_elem(&surv_scratch, &zero);
	if (!sc)
		return;
	sc->ncands = sc->probes = 0;
	sc->forms = cfg->surv_forms;
	sc->lo = sp;
	sc->hi = sp + sizeof(sc->words);
	/* Registers first: at a collector-function uprobe the allocator's own values are still
	 * there; at the mid-function USDT they have been pushed onto the stack scanned below. */
	sc->regs[0] = ctx->bx;
	sc->regs[1] = ctx->bp;
	sc->regs[2] = ctx->r12;
	sc->regs[3] = ctx->r13;
	sc->regs[4] = ctx->r14;
	sc->regs[5] = ctx->r15;
	sc->nwords = SURV_SCAN_WORDS;
	if (bpf_probe_read_user(sc->words, sizeof(sc->words), (const void *)sp)) {
		/* Near the top of the stack mapping: scan the half that reads. */
		sc->nwords = SURV_SCAN_WORDS / 2;
		if (bpf_probe_read_user(sc->words, sizeof(sc->words) / 2, (const void *)sp)) {
			sc->nwords = 0;
			__sync_fetch_and_add(&ps->surv_read_errors, 1);
		}
	}
	{
		struct surv_scan_ref ref = { .sc = sc };

		bpf_loop(SURV_SCAN_WORDS + 6, surv_scan_step, &ref, 0);
	}
	if (!sc->ncands) {
		__sync_fetch_and_add(&ps->surv_no_object, 1);
		return;
	}
	pend = &sc->tmp;
	__builtin_memset(pend, 0, sizeof(*pend));
	pend->stack_id = stack_id;
	pend->time_ns = now;
	pend->seq = (__u32)ps->triggers;
	pend->ncands = sc->ncands > SURV_MAX_CANDS ? SURV_MAX_CANDS : sc->ncands;
	for (k = 0; k < SURV_MAX_CANDS; k++)
		pend->cands[k] = k < pend->ncands ? sc->cands[k] : 0;
	bpf_map_update_elem(&surv_pending, &tgid, pend, BPF_ANY);
}

/*
 * <= 3.11, part 2, at every collection start: the first young entries are the first objects
 * tracked after the previous collection; the one that was a candidate is the sampled allocation.
 */
static __always_inline void surv_resolve(const struct pystack_cfg *cfg, struct sites_pid_stats *ps, __u32 tgid)
{
	struct surv_pending *pend = bpf_map_lookup_elem(&surv_pending, &tgid);
	__u64 node = 0, obj, type = 0;
	__u32 i, k, zero = 0;

	/* Samples paired at earlier collections must be on an older list now (both modes). */
	surv_run_slots(cfg, ps, tgid);
	if (!pend || !pend->ncands)
		return;
	if (bpf_probe_read_user(&node, sizeof(node), (const void *)(cfg->young_head + cfg->gc_head_next))) {
		__sync_fetch_and_add(&ps->surv_read_errors, 1);
		goto done;
	}
	for (i = 0; i < SURV_FIRST_NODES; i++) {
		node &= ~7ull;
		if (!node || node == cfg->young_head)
			break;
		obj = node + cfg->gc_head_size;
		for (k = 0; k < SURV_MAX_CANDS; k++) {
			if (!pend->cands[k] || pend->cands[k] != obj)
				continue;
			if (bpf_probe_read_user(&type, sizeof(type), (const void *)(obj + cfg->ob_type)) || !type) {
				__sync_fetch_and_add(&ps->surv_read_errors, 1);
				goto done;
			}
			/* Paired; confirmed at the next collection start.  seq + 1: it leaves the young
			 * list in the collection starting now. */
			{
				struct surv_scratch *sc = bpf_map_lookup_elem(&surv_scratch, &zero);
				struct surv_pending *c;

				if (!sc)
					goto done;
				c = &sc->tmp;
				__builtin_memset(c, 0, sizeof(*c));
				c->stack_id = pend->stack_id;
				c->time_ns = pend->time_ns;
				c->cands[0] = obj;
				c->type = type;
				c->seq = pend->seq + 1;
				c->ncands = 1;
				c->position = (__u16)i;
				c->mode = SURV_MODE_NEXT_FIRST;
				surv_follow(ps, tgid, c);
			}
			goto done;
		}
		if (bpf_probe_read_user(&node, sizeof(node), (const void *)(node + cfg->gc_head_next))) {
			__sync_fetch_and_add(&ps->surv_read_errors, 1);
			goto done;
		}
	}
	__sync_fetch_and_add(&ps->surv_unmatched, 1);
done:
	pend->ncands = 0;
}

/* After a stack was captured and stored: start a sample, rate-limited per pid. */
static __always_inline void surv_sample(struct pt_regs *ctx, const struct pystack_cfg *cfg,
					struct sites_pid_stats *ps, __u32 tgid, __u64 stack_id, __u64 now, __s32 gen)
{
	if (now - ps->surv_last_ns < SURV_MIN_NS) {
		__sync_fetch_and_add(&ps->surv_rate_limited, 1);
		return;
	}
	if (gen < 0 && cfg->young_threshold) {
		/*
		 * 3.13 GENERATION_AUTO: gc_select_generation() picks an older generation when its count
		 * is above its threshold (v3.13.5:Python/gc.c:1223).  Such a collection promotes the
		 * newest object straight to generation 2, where garbage waits for a full collection:
		 * its "survival" would say nothing about its allocation site.  Not paired.
		 */
		__s32 c1 = 0, t1 = 0, c2 = 0, t2 = 0;

		bpf_probe_read_user(&c1, sizeof(c1), (const void *)(cfg->young_count + cfg->gen_stride));
		bpf_probe_read_user(&t1, sizeof(t1), (const void *)(cfg->young_threshold + cfg->gen_stride));
		bpf_probe_read_user(&c2, sizeof(c2), (const void *)(cfg->young_count + 2 * cfg->gen_stride));
		bpf_probe_read_user(&t2, sizeof(t2), (const void *)(cfg->young_threshold + 2 * cfg->gen_stride));
		if ((t1 > 0 && c1 > t1) || (t2 > 0 && c2 > t2)) {
			__sync_fetch_and_add(&ps->surv_older_gen, 1);
			return;
		}
	}
	ps->surv_last_ns = now;
	if (cfg->surv_mode == SURV_MODE_NEWEST)
		surv_newest(cfg, ps, tgid, stack_id, now);
	else if (cfg->surv_mode == SURV_MODE_NEXT_FIRST)
		surv_arm(ctx, cfg, ps, tgid, stack_id, now);
	__sync_fetch_and_add(&ps->surv_ns, bpf_ktime_get_ns() - now);
}

/*
 * gen < 0: decided inside the collector (3.13 GENERATION_AUTO, only used by the
 * allocation-triggered _Py_RunGC) or unknown: sampled.  On 3.12+ the collection runs at the next
 * eval-breaker check after the allocation that crossed the threshold, so the stack is "where that
 * allocation happened, approximately" (same function, possibly a later line or the callee's entry).
 */
static __always_inline int on_collect(struct pt_regs *ctx, __s32 gen)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct site_count_key ckey = {};
	struct site_stack_key skey = {};
	struct site_count_val *cv;
	struct sites_pid_stats *ps;
	struct pystack_cfg *cfg;
	struct pystack *st;
	__u64 t0, t1;
	int err;

	cfg = bpf_map_lookup_elem(&pystack_cfgs, &tgid);
	if (!cfg || !(cfg->flags & PYSTACK_CFG_ENABLED))
		return 0;
	ps = pid_stats_get(tgid);
	if (!ps)
		return 0;
	/* Any collection start ends the window of a pending survivor sample (<= 3.11). */
	if (cfg->surv_mode != SURV_MODE_OFF) {
		__u64 s0 = bpf_ktime_get_ns();

		surv_resolve(cfg, ps, tgid);
		__sync_fetch_and_add(&ps->surv_ns, bpf_ktime_get_ns() - s0);
	}
	__sync_fetch_and_add(&ps->triggers, 1);
	if (gen > 0 && !all_generations)
		return 0;
	t0 = bpf_ktime_get_ns();
	/* Collections are serialised per interpreter (GIL, or the stop-the-world of a free-threaded
	 * build): no two of one pid's run this at once, plain updates suffice. */
	if (t0 - ps->last_sample_ns < SITES_MIN_NS) {
		ps->skipped++;
		ps->rate_limited++;
		return 0;
	}
	ps->last_sample_ns = t0;
	st = pystack_scratch_stack();
	if (!st)
		return 0;
	__sync_fetch_and_add(&ps->samples, 1);

	err = pystack_capture((struct task_struct *)bpf_get_current_task(), cfg, st);
	t1 = bpf_ktime_get_ns();
	__sync_fetch_and_add(&ps->walk_ns, t1 - t0);
	if (err) {
		__u32 e = (__u32)err;

		if (e >= PYSTACK_E_MAX)
			e = 0;
		barrier_var(e); /* keep the bound visible to the verifier */
		__sync_fetch_and_add(&ps->errors[e & 7], 1); /* e < PYSTACK_E_MAX (6) <= 8 */
		return 0;
	}
	if (st->flags & PYSTACK_F_TSTATE_SCAN)
		__sync_fetch_and_add(&ps->tstate_fallback, 1);
	if (!st->nframes) {
		__sync_fetch_and_add(&ps->empty, 1);
		return 0;
	}

	skey.pid = tgid;
	skey.stack_id = pystack_hash(st);
	if (!bpf_map_lookup_elem(&site_stacks, &skey) &&
	    bpf_map_update_elem(&site_stacks, &skey, st, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&site_stacks, &skey)) {
		__sync_fetch_and_add(&ps->stacks_full, 1);
		return 0;
	}

	ckey.pid = tgid;
	ckey.type = 0; /* the young-list sample of alloc.bpf.c will attribute types */
	if (ps->skipped && ps->last_stack_id) {
		/* the previous sample's window: its stack made those collections too (a walk that
		 * failed since leaves them to it as well) */
		ckey.stack_id = ps->last_stack_id;
		cv = bpf_map_lookup_elem(&site_counts, &ckey);
		if (cv)
			__sync_fetch_and_add(&cv->count, ps->skipped);
		if (ps->last_truncated)
			__sync_fetch_and_add(&ps->truncated, ps->skipped);
	}
	ps->skipped = 0;
	ckey.stack_id = skey.stack_id;
	cv = bpf_map_lookup_elem(&site_counts, &ckey);
	if (!cv) {
		bpf_map_update_elem(&site_counts, &ckey, &count_zero, BPF_NOEXIST);
		cv = bpf_map_lookup_elem(&site_counts, &ckey);
		if (!cv) {
			__sync_fetch_and_add(&ps->counts_full, 1);
			return 0;
		}
	}
	__sync_fetch_and_add(&cv->count, 1);
	cv->last_ns = t1;
	ps->last_stack_id = skey.stack_id;
	ps->last_truncated = !!(st->flags & PYSTACK_F_TRUNCATED);
	__sync_fetch_and_add(&ps->captured, 1);
	__sync_fetch_and_add(&ps->frames, st->nframes);
	if (st->flags & PYSTACK_F_TRUNCATED)
		__sync_fetch_and_add(&ps->truncated, 1);
	/* Only automatic young collections are made by an allocation (gen 0 / 3.13 AUTO). */
	if (cfg->surv_mode != SURV_MODE_OFF && gen <= 0)
		surv_sample(ctx, cfg, ps, tgid, skey.stack_id, bpf_ktime_get_ns(), gen);
	return 0;
}

/* python:gc__start(int generation), fired inside the collector with the GIL held. */
SEC("usdt")
int BPF_USDT(sites_gc_start_usdt, int generation)
{
	return on_collect(ctx, generation);
}

/* Collector entry (uprobe tier); the attach cookie says where the generation is (bpf/gc.h). */
SEC("uprobe")
int sites_collector_entry(struct pt_regs *ctx)
{
	__u64 spec = bpf_get_attach_cookie(ctx);
	/* Load every candidate first: a switch over PT_REGS_PARMn lets clang compute the ctx offset
	 * from the cookie, which the verifier rejects ("dereference of modified ctx ptr"). */
	__s32 a0 = (__s32)PT_REGS_PARM1(ctx), a1 = (__s32)PT_REGS_PARM2(ctx);
	__s32 a2 = (__s32)PT_REGS_PARM3(ctx), a3 = (__s32)PT_REGS_PARM4(ctx);
	__s32 a4 = (__s32)PT_REGS_PARM5(ctx);
	__s32 gen = -1;

	barrier_var(a0);
	barrier_var(a1);
	barrier_var(a2);
	barrier_var(a3);
	barrier_var(a4);
	switch (spec) {
	case GC_GENSPEC_ARG(0): gen = a0; break;
	case GC_GENSPEC_ARG(1): gen = a1; break;
	case GC_GENSPEC_ARG(2): gen = a2; break;
	case GC_GENSPEC_ARG(3): gen = a3; break;
	case GC_GENSPEC_ARG(4): gen = a4; break;
	case GC_GENSPEC_CONST(0): gen = 0; break;
	case GC_GENSPEC_CONST(1): gen = 1; break;
	case GC_GENSPEC_CONST(2): gen = 2; break;
	default: break;
	}
	if (gen >= GC_NGEN)
		gen = -1;
	return on_collect(ctx, gen);
}
