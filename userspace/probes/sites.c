/* SPDX-License-Identifier: BSD-2-Clause */
/* Allocation sites: load bpf/sites.bpf.c, attach it to young collections, read the sampled Python
 * stacks and resolve them to `file:line function` frames; line tables; collapsed-stack output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "util/common.h"
#include "util/pidmap.h"
#include "target/elffile.h"
#include "probes/gc.h"
#include "target/pyobj.h"
#include "probes/sites.h"
#include "probes/gcstart.h"
#include "bpf/sites.h" /* the BPF ABI (same basename as this module's header) */
#include "sites.skel.h"

_Static_assert(SITES_MAX_FRAMES == PYSTACK_MAX_FRAMES, "sites.h frame limit differs from bpf/sites.h");
_Static_assert((int)SURV_PAIR_NEWEST == (int)SURV_MODE_NEWEST && (int)SURV_PAIR_NEXT_FIRST == (int)SURV_MODE_NEXT_FIRST,
	       "model/survivors.h pairing values differ from bpf/sites.h");

#define SITES_CODE_CACHE_MAX  16384 /* code objects per pid */
#define SITES_LINETABLE_MAX   (256 * 1024)
#define SITES_READ_MAX_STACKS SITES_MAX_STACKS
/* Paired survivor samples queued per pid between two reads (the BPF side sends <= 100/s). */
#define SITES_SURV_QUEUE      8192

struct code_entry {
	struct site_code code;
	uint8_t *table; /* line table bytes (co_lnotab / co_linetable) */
	size_t table_len;
	bool used;	/* referenced by the latest report */
};

struct sites_proc {
	pid_t pid;
	int minor;
	struct py_layout layout;
	struct remote remote;
	struct code_entry **codes; /* open addressing on addr, capacity ncap (power of two) */
	size_t ncodes, ncap;
	int surv_mode;
	struct surv_sample *surv_q; /* SITES_SURV_QUEUE, allocated on the first sample */
	int nsurv_q;
	uint64_t surv_queue_full;
};

struct sites {
	struct sites_bpf *skel;
	struct ring_buffer *surv_ring; /* survivor samples of every pid */
	bool no_survivors;
	struct gcstart_set att; /* the stack sampler at collection starts */
	struct sites_proc *procs;
	int nprocs, procs_cap;
	struct pidmap byproc; /* pid -> 1 + its index in procs */
	/* The site_counts keys of every pid, sorted by pid, listed once per refresh (sites__snapshot):
	 * walking the whole map for each pid was O(processes x keys), 7% of pyleak's CPU over 200
	 * idle targets. */
	struct site_count_key *keys;
	int nkeys, capkeys;
	bool have_keys;
};

/* ------------------------------------------------------------------------------------------ */
/* line tables */

int pyline__lnotab(const uint8_t *tab, size_t len, int firstlineno, int byte_offset)
{
	/* cpython@v3.8.16:Objects/codeobject.c PyCode_Addr2Line: (addr, line) increments. */
	int line = firstlineno, addr = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		addr += tab[i];
		if (addr > byte_offset)
			break;
		line += (int8_t)tab[i + 1];
	}
	return line;
}

int pyline__linetable310(const uint8_t *tab, size_t len, int firstlineno, int byte_offset)
{
	/* cpython@v3.10.7:Objects/codeobject.c advance(): (bytes delta, line delta) pairs, line delta
	 * -128 = no line; the line accumulates over entries that have one. */
	int computed = firstlineno, start, end = 0;
	size_t i;

	if (byte_offset < 0)
		return firstlineno; /* f_lasti = -1: not started (PyFrame_GetLineNumber) */
	for (i = 0; i + 1 < len; i += 2) {
		int ldelta = (int8_t)tab[i + 1];

		start = end;
		end += tab[i];
		if (ldelta != -128)
			computed += ldelta;
		if (byte_offset >= start && byte_offset < end)
			return ldelta == -128 ? -1 : computed;
	}
	return -1;
}

static int loc_varint(const uint8_t *tab, size_t len, size_t *i, unsigned *out)
{
	unsigned val, shift = 0;
	uint8_t b;

	if (*i >= len)
		return -1;
	b = tab[(*i)++];
	val = b & 63;
	while (b & 64) {
		if (*i >= len || shift > 24)
			return -1;
		b = tab[(*i)++];
		shift += 6;
		val |= (unsigned)(b & 63) << shift;
	}
	*out = val;
	return 0;
}

static int loc_svarint(const uint8_t *tab, size_t len, size_t *i, int *out)
{
	unsigned u;

	if (loc_varint(tab, len, i, &u))
		return -1;
	*out = (u & 1) ? -(int)(u >> 1) : (int)(u >> 1);
	return 0;
}

int pyline__loctable(const uint8_t *tab, size_t len, int firstlineno, int byte_offset)
{
	/* cpython@v3.11.2:Objects/locations.md and codeobject.c advance()/get_line_delta(): entries
	 * start with a byte whose bit 7 is set; bits 3-6 = code, bits 0-2 = length - 1 (code units).
	 * code 15: no location; 14: long form (svarint line delta, 3 varints); 13: no columns
	 * (svarint line delta); 10-12: one line, delta = code - 10, 2 column bytes; 0-9: short form,
	 * same line, 1 column byte. */
	int computed = firstlineno, unit = byte_offset / 2, start, end = 0, delta;
	size_t i = 0;

	if (byte_offset < 0)
		return -1;
	while (i < len) {
		uint8_t first = tab[i++];
		int code = (first >> 3) & 15;
		unsigned skip;

		if (!(first & 0x80))
			return -1; /* not at an entry start: corrupt table */
		start = end;
		end += (first & 7) + 1;
		delta = 0;
		switch (code) {
		case 15:
			break;
		case 14:
			if (loc_svarint(tab, len, &i, &delta) || loc_varint(tab, len, &i, &skip) ||
			    loc_varint(tab, len, &i, &skip) || loc_varint(tab, len, &i, &skip))
				return -1;
			break;
		case 13:
			if (loc_svarint(tab, len, &i, &delta))
				return -1;
			break;
		case 10:
		case 11:
		case 12:
			delta = code - 10;
			i += 2;
			break;
		default:
			i += 1;
			break;
		}
		computed += delta;
		if (unit >= start && unit < end)
			return code == 15 ? -1 : computed;
	}
	return -1;
}

int pyline__addr2line(int minor, const uint8_t *tab, size_t len, int firstlineno, int32_t insn)
{
	if (!tab)
		return -1;
	if (minor <= 9)
		return pyline__lnotab(tab, len, firstlineno, insn);
	if (minor == 10)
		return pyline__linetable310(tab, len, firstlineno, insn < 0 ? -1 : insn * 2);
	return pyline__loctable(tab, len, firstlineno, insn);
}

/* ------------------------------------------------------------------------------------------ */
/* code cache */

static size_t code_hash(uint64_t addr, size_t cap)
{
	addr ^= addr >> 33;
	addr *= 0xff51afd7ed558ccdull;
	addr ^= addr >> 33;
	return (size_t)addr & (cap - 1);
}

static void proc_clear(struct sites_proc *p)
{
	size_t i;

	for (i = 0; i < p->ncap; i++) {
		if (!p->codes[i])
			continue;
		free(p->codes[i]->table);
		free(p->codes[i]);
	}
	free(p->codes);
	p->codes = NULL;
	p->ncodes = p->ncap = 0;
	free(p->surv_q);
	p->surv_q = NULL;
	p->nsurv_q = 0;
}

static int code_insert(struct sites_proc *p, struct code_entry *e)
{
	size_t i, j;

	if (p->ncodes * 2 >= p->ncap) {
		size_t ncap = p->ncap ? p->ncap * 2 : 256;
		struct code_entry **n = calloc(ncap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		for (i = 0; i < p->ncap; i++) {
			if (!p->codes[i])
				continue;
			for (j = code_hash(p->codes[i]->code.addr, ncap); n[j]; j = (j + 1) & (ncap - 1))
				;
			n[j] = p->codes[i];
		}
		free(p->codes);
		p->codes = n;
		p->ncap = ncap;
	}
	for (j = code_hash(e->code.addr, p->ncap); p->codes[j]; j = (j + 1) & (p->ncap - 1))
		;
	p->codes[j] = e;
	p->ncodes++;
	return 0;
}

static struct code_entry *code_find(struct sites_proc *p, uint64_t addr)
{
	size_t j;

	if (!p->ncap)
		return NULL;
	for (j = code_hash(addr, p->ncap); p->codes[j]; j = (j + 1) & (p->ncap - 1))
		if (p->codes[j]->code.addr == addr)
			return p->codes[j];
	return NULL;
}

/* Read one code object's names and line table. Failures leave "?" names (e->code.ok false). */
static void code_read(struct sites_proc *p, struct code_entry *e)
{
	const struct py_layout *l = &p->layout;
	uint8_t buf[512];
	uint64_t filename, name, table;
	int32_t firstlineno;
	size_t len = 0;
	int err;

	snprintf(e->code.file, sizeof(e->code.file), "?");
	snprintf(e->code.func, sizeof(e->code.func), "?");
	if (l->code_size <= 0 || (size_t)l->code_size > sizeof(buf) ||
	    remote__read(&p->remote, e->code.addr, buf, (size_t)l->code_size))
		return;
	memcpy(&filename, buf + l->code_filename, 8);
	memcpy(&name, buf + (l->code_qualname != LAYOUT_NONE ? l->code_qualname : l->code_name), 8);
	memcpy(&table, buf + l->code_linetable, 8);
	memcpy(&firstlineno, buf + l->code_firstlineno, 4);
	e->code.firstlineno = firstlineno;
	err = pyobj__read_str(l, &p->remote, filename, e->code.file, sizeof(e->code.file));
	if (err && err != -ENAMETOOLONG)
		snprintf(e->code.file, sizeof(e->code.file), "?");
	err = pyobj__read_str(l, &p->remote, name, e->code.func, sizeof(e->code.func));
	if (err && err != -ENAMETOOLONG)
		snprintf(e->code.func, sizeof(e->code.func), "?");
	e->table = malloc(4096);
	if (!e->table)
		return;
	err = pyobj__read_bytes(l, &p->remote, table, e->table, 4096, &len);
	if (err == -ENAMETOOLONG && len <= SITES_LINETABLE_MAX) {
		uint8_t *big = realloc(e->table, len);

		if (big) {
			e->table = big;
			err = pyobj__read_bytes(l, &p->remote, table, e->table, len, &len);
		}
	}
	if (err) {
		free(e->table);
		e->table = NULL;
		return;
	}
	e->table_len = len;
	e->code.ok = true;
}

static struct code_entry *code_get(struct sites_proc *p, uint64_t addr)
{
	struct code_entry *e = code_find(p, addr);

	if (e)
		return e;
	if (p->ncodes >= SITES_CODE_CACHE_MAX)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->code.addr = addr;
	code_read(p, e);
	if (code_insert(p, e)) {
		free(e->table);
		free(e);
		return NULL;
	}
	return e;
}

/* ------------------------------------------------------------------------------------------ */
/* lifecycle */

static struct sites_proc *proc_find(struct sites *s, pid_t pid);

/* One ring record: queue it for its pid (records of pids no longer followed are dropped). */
static int on_surv_record(void *ctx, void *data, size_t size)
{
	const struct survivor_sample *r = data;
	struct sites *s = ctx;
	struct sites_proc *p;
	struct surv_sample *q;
	uint64_t mono = now_mono_ns();

	if (size < sizeof(*r) || r->tag != SURV_REC_SAMPLE)
		return 0;
	p = proc_find(s, (pid_t)r->pid);
	if (!p)
		return 0;
	if (!p->surv_q) {
		p->surv_q = calloc(SITES_SURV_QUEUE, sizeof(*p->surv_q));
		if (!p->surv_q)
			return 0;
	}
	if (p->nsurv_q >= SITES_SURV_QUEUE) {
		p->surv_queue_full++;
		return 0;
	}
	q = &p->surv_q[p->nsurv_q++];
	q->addr = r->addr;
	q->type = r->type;
	q->stack_id = r->stack_id;
	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC */
	q->time = now_wall() - (mono > r->time_ns ? (double)(mono - r->time_ns) / 1e9 : 0);
	q->seq = r->seq;
	q->position = r->position;
	q->mode = r->mode;
	return 0;
}

int sites__open(struct sites **out, const struct sites_opts *opts)
{
	struct sites *s;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->skel = sites_bpf__open();
	if (!s->skel) {
		err = -errno;
		pr_err("cannot open the allocation-site bpf programs: %s", strerror(-err));
		goto cleanup;
	}
	s->skel->rodata->all_generations = opts && opts->all_generations;
	s->no_survivors = opts && opts->no_survivors;
	err = sites_bpf__load(s->skel);
	if (err) {
		pr_err("cannot load the allocation-site bpf programs: %s; run as root or grant CAP_BPF and "
		       "CAP_PERFMON",
		       strerror(-err));
		goto cleanup;
	}
	s->surv_ring = ring_buffer__new(bpf_map__fd(s->skel->maps.surv_ring), on_surv_record, s, NULL);
	if (!s->surv_ring) {
		err = -errno;
		pr_err("cannot open the survivor-sample ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	*out = s;
	return 0;
cleanup:
	sites__destroy(s);
	return err;
}

void sites__destroy(struct sites *s)
{
	int i;

	if (!s)
		return;
	gcstart__detach_all(&s->att);
	ring_buffer__free(s->surv_ring);
	for (i = 0; i < s->nprocs; i++)
		proc_clear(&s->procs[i]);
	free(s->procs);
	pidmap__fini(&s->byproc);
	free(s->keys);
	sites_bpf__destroy(s->skel);
	free(s);
}

int sites__attachments(const struct sites *s)
{
	return s ? s->att.n : 0;
}

static int attach(struct sites *s, const char *path, uint64_t off, int gen_spec, bool usdt)
{
	return gcstart__attach(&s->att, s->skel->progs.sites_gc_start_usdt, s->skel->progs.sites_collector_entry, path,
			       usdt, off, (uint64_t)gen_spec, "allocation-site");
}

static struct sites_proc *proc_find(struct sites *s, pid_t pid)
{
	uintptr_t k = (uintptr_t)pidmap__get(&s->byproc, pid);

	return k ? &s->procs[k - 1] : NULL;
}

/* pid's entry, new and zeroed but for its pid when it had none (NULL: out of memory) */
static struct sites_proc *proc_add(struct sites *s, pid_t pid)
{
	struct sites_proc *p = proc_find(s, pid);

	if (p)
		return p;
	if (s->nprocs == s->procs_cap) {
		int ncap = s->procs_cap ? s->procs_cap * 2 : 16;
		struct sites_proc *n = realloc(s->procs, ncap * sizeof(*n));

		if (!n)
			return NULL;
		s->procs = n;
		s->procs_cap = ncap;
	}
	if (pidmap__put(&s->byproc, pid, (void *)(uintptr_t)(s->nprocs + 1)))
		return NULL;
	p = &s->procs[s->nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	return p;
}

static void proc_remove(struct sites *s, struct sites_proc *p)
{
	int k = (int)(p - s->procs);

	pidmap__del(&s->byproc, p->pid, NULL);
	proc_clear(p);
	if (k < --s->nprocs) {
		*p = s->procs[s->nprocs];
		pidmap__put(&s->byproc, p->pid, (void *)(uintptr_t)(k + 1)); /* replaces: no allocation */
	}
}

static int16_t off16(int32_t v)
{
	return v == LAYOUT_NONE ? PYSTACK_OFF_NONE : (int16_t)v;
}

static int code_type_addr(const struct py_target *t, uint64_t *out)
{
	struct elf_file *elf = NULL;
	struct elf_sym sym;
	int err;

	err = elf__open(t->runtime_path, &elf);
	if (err)
		return err;
	err = elf__find_symbol(elf, "PyCode_Type", &sym);
	elf__close(elf);
	if (err)
		return err;
	*out = sym.value + t->load_bias;
	return 0;
}

/* The frame-walker configuration from the per-version layout (the one definition of offsets). */
static int build_cfg(const struct py_target *t, struct pystack_cfg *cfg)
{
	const struct py_layout *l = t->layout;
	uint64_t code_type;
	int32_t maxoff;
	int err;

	memset(cfg, 0, sizeof(*cfg));
	if (!l || l->tstate_frame == LAYOUT_NONE || l->frame_previous == LAYOUT_NONE ||
	    l->frame_code == LAYOUT_NONE || l->frame_lasti == LAYOUT_NONE || l->code_size <= 0)
		return -EOPNOTSUPP;
	if (l->runtime_tstate_current != LAYOUT_NONE && t->runtime_addr)
		cfg->tstate_ptr_addr = t->runtime_addr + l->runtime_tstate_current; /* <= 3.11 */
	else if (l->interp_gil_last_holder != LAYOUT_NONE && t->interp_addr)
		cfg->tstate_ptr_addr = t->interp_addr + l->interp_gil_last_holder; /* 3.12+ */
	if (t->interp_addr && l->interp_threads_head != LAYOUT_NONE)
		cfg->threads_head_addr = t->interp_addr + l->interp_threads_head;
	if (!cfg->tstate_ptr_addr && !cfg->threads_head_addr)
		return -EOPNOTSUPP;
	err = code_type_addr(t, &code_type);
	if (err)
		return err;
	cfg->code_type = code_type;

	cfg->tstate_next = off16(l->tstate_next);
	cfg->tstate_frame = off16(l->tstate_frame);
	cfg->cframe_current_frame = off16(l->cframe_current_frame);
	cfg->tstate_native_tid = off16(l->tstate_native_thread_id);
	cfg->tstate_thread_id = l->tstate_native_thread_id == LAYOUT_NONE ? off16(l->tstate_thread_id)
									  : PYSTACK_OFF_NONE;
	cfg->frame_previous = off16(l->frame_previous);
	cfg->frame_code = off16(l->frame_code);
	cfg->frame_lasti = off16(l->frame_lasti);
	cfg->frame_owner = off16(l->frame_owner);
	cfg->code_adaptive = off16(l->code_code_adaptive);
	cfg->code_firsttraceable = off16(l->code_firsttraceable);
	cfg->ob_type = off16(l->object_type);
	cfg->owner_generator = 1;
	/* 3.12/3.13: FRAME_OWNED_BY_CSTACK = 3; 3.14: 3 = INTERPRETER, 4 = CSTACK (cpython@v3.14.7:
	 * Include/internal/pycore_interpframe_structs.h:22-28): skip owner >= 3 from 3.12 on. */
	cfg->owner_skip_min = (t->major == 3 && t->minor >= 12) ? 3 : 255;
	/* 3.14 f_executable is a _PyStackRef: low 2 bits are tags (pycore_stackref.h). */
	cfg->code_tag_mask = (t->major == 3 && t->minor >= 14) ? 3 : 0;

	maxoff = l->frame_previous;
	if (l->frame_code > maxoff)
		maxoff = l->frame_code;
	if (l->frame_lasti > maxoff)
		maxoff = l->frame_lasti;
	if (l->frame_owner > maxoff)
		maxoff = l->frame_owner;
	if (maxoff + 8 > PYSTACK_HDR_MAX)
		return -EOPNOTSUPP;
	cfg->hdr_size = (uint16_t)(maxoff + 8);
	cfg->flags = PYSTACK_CFG_ENABLED;

	/* Survivor pairing (bpf/sites.h): 3.12+ schedule the collection (newest young entry),
	 * <= 3.11 run it inside the allocation (first entries at the next collection).  3.6/3.7
	 * (32-byte GC head, best effort) are left out: the candidate check assumes 16 bytes; so is
	 * 3.14.0-3.14.4, whose incremental GC has young/old spaces instead of generations (its
	 * table has no generation0). 3.14.5+ and 3.15 are generational again, like 3.13. */
	cfg->surv_mode = SURV_MODE_OFF;
	if (t->gc_generations_addr && l->gc_head_size == 16 && l->gc_gen_head != LAYOUT_NONE &&
	    l->gc_head_next != LAYOUT_NONE && l->gc_head_prev != LAYOUT_NONE && l->gc_generation_size > 0 && l->gc_gen_count != LAYOUT_NONE &&
	    t->major == 3 && t->minor >= 8 && (t->minor <= 13 || (t->minor <= 15 && l->gc_generation0 != LAYOUT_NONE))) {
		cfg->young_head = t->gc_generations_addr + l->gc_gen_head;
		cfg->gc_head_size = (uint16_t)l->gc_head_size;
		cfg->gc_head_next = (uint16_t)l->gc_head_next;
		cfg->gc_head_prev = (uint16_t)l->gc_head_prev;
		cfg->gen_stride = (uint32_t)l->gc_generation_size;
		cfg->young_count = t->gc_generations_addr + l->gc_gen_count;
		if (l->gc_gen_threshold != LAYOUT_NONE)
			cfg->young_threshold = t->gc_generations_addr + l->gc_gen_threshold;
		/* the young list at a collection start: about threshold0 objects (700; 2000 in 3.13) */
		cfg->young_walk = t->minor >= 13 ? 2560 : 1024;
		cfg->surv_mode = t->minor >= 12 ? SURV_MODE_NEWEST : SURV_MODE_NEXT_FIRST;
		cfg->surv_forms = t->minor == 11 ? SURV_FORM_OBJECT : SURV_FORM_OBJECT | SURV_FORM_HEAD;
	}
	return 0;
}

int sites__add_target(struct sites *s, const struct py_target *t)
{
	struct pystack_cfg cfg;
	struct sites_proc *p;
	__u32 key;
	int i, err, spec, attached = 0;

	if (!s || !t || !t->layout)
		return -EINVAL;
	err = build_cfg(t, &cfg);
	if (err)
		return err;
	if (s->no_survivors)
		cfg.surv_mode = SURV_MODE_OFF;
	switch (t->tier) {
	case GC_TIER_USDT:
		err = attach(s, t->runtime_path, 0, 0, true);
		attached = !err;
		break;
	case GC_TIER_UPROBE:
		for (i = 0; i < t->ncollectors; i++) {
			spec = gc_collector_gen_spec(t->minor, t->collector_syms[i]);
			if (spec < 0)
				continue;
			err = attach(s, t->runtime_path, t->collector_offsets[i], spec, false);
			if (err)
				break;
			attached++;
		}
		break;
	default:
		return -EOPNOTSUPP; /* no collection-start event to sample at */
	}
	if (err)
		return err;
	if (!attached)
		return -ENOENT;

	p = proc_add(s, t->pid);
	if (!p)
		return -ENOMEM;
	p->minor = t->minor;
	p->layout = *t->layout;
	p->surv_mode = cfg.surv_mode;
	remote__init_pid(&p->remote, t->pid);

	key = (__u32)t->pid;
	err = bpf_map__update_elem(s->skel->maps.pystack_cfgs, &key, sizeof(key), &cfg, sizeof(cfg), BPF_ANY);
	if (err) {
		err = -errno;
		return err == -E2BIG ? -ENOSPC : err;
	}
	return 0;
}

int sites__pystack_cfg(const struct py_target *t, struct pystack_cfg *cfg)
{
	return build_cfg(t, cfg);
}

int sites__register(struct sites *s, const struct py_target *t)
{
	struct sites_proc *p;

	if (!s || !t || !t->layout)
		return -EINVAL;
	p = proc_find(s, t->pid);
	if (!p) {
		p = proc_add(s, t->pid);
		if (!p)
			return -ENOMEM;
		p->minor = t->minor;
		p->layout = *t->layout;
		remote__init_pid(&p->remote, t->pid);
	}
	return 0;
}

int sites__resolve(struct sites *s, pid_t pid, const struct pystack *stack, struct site_stack *st)
{
	struct sites_proc *p = s ? proc_find(s, pid) : NULL;
	int k;

	if (!p)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->truncated = stack->flags & PYSTACK_F_TRUNCATED;
	st->nframes = stack->nframes > SITES_MAX_FRAMES ? SITES_MAX_FRAMES : (int)stack->nframes;
	for (k = 0; k < st->nframes; k++) {
		struct code_entry *e = code_get(p, stack->frames[k].code);
		struct site_frame *f = &st->frames[k];

		f->insn = stack->frames[k].insn;
		f->code = e ? &e->code : NULL;
		f->line = e && e->code.ok ? pyline__addr2line(p->minor, e->table, e->table_len, e->code.firstlineno,
							      f->insn)
					  : -1;
		if (e)
			e->used = true;
	}
	return 0;
}

int sites__inject_fault(struct sites *s, pid_t pid, enum sites_fault fault)
{
	struct pystack_cfg cfg;
	__u32 key = (__u32)pid;

	if (!s)
		return -EINVAL;
	if (bpf_map__lookup_elem(s->skel->maps.pystack_cfgs, &key, sizeof(key), &cfg, sizeof(cfg), 0))
		return -ENOENT;
	if (fault == SITES_FAULT_CODE_TYPE)
		cfg.code_type ^= 0x10; /* a plausible but wrong type pointer */
	if (bpf_map__update_elem(s->skel->maps.pystack_cfgs, &key, sizeof(key), &cfg, sizeof(cfg), BPF_EXIST))
		return -errno;
	return 0;
}

/* Delete every key of map whose leading __u32 pid equals pid. */
static void delete_pid_keys(struct bpf_map *map, size_t key_size, pid_t pid)
{
	uint8_t key[32], next[32];
	bool have = false;
	int guard = SITES_MAX_COUNTS * 2;

	while (guard-- > 0 && !bpf_map__get_next_key(map, have ? key : NULL, next, key_size)) {
		memcpy(key, next, key_size);
		have = true;
		if (*(__u32 *)next == (__u32)pid) {
			bpf_map__delete_elem(map, next, key_size, 0);
			have = false; /* restart: the successor of a deleted key is undefined */
		}
	}
}

int sites__forget(struct sites *s, pid_t pid)
{
	struct sites_proc *p;
	__u32 key = (__u32)pid;

	if (!s)
		return -EINVAL;
	p = proc_find(s, pid);
	bpf_map__delete_elem(s->skel->maps.pystack_cfgs, &key, sizeof(key), 0);
	bpf_map__delete_elem(s->skel->maps.site_pids, &key, sizeof(key), 0);
	bpf_map__delete_elem(s->skel->maps.surv_pending, &key, sizeof(key), 0);
	bpf_map__delete_elem(s->skel->maps.surv_confirm, &key, sizeof(key), 0);
	delete_pid_keys(s->skel->maps.site_counts, sizeof(struct site_count_key), pid);
	delete_pid_keys(s->skel->maps.site_stacks, sizeof(struct site_stack_key), pid);
	if (!p)
		return -ENOENT;
	proc_remove(s, p);
	return 0;
}

static int cmp_count_desc(const void *a, const void *b)
{
	const struct site_stack *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

static void read_counters(struct sites *s, pid_t pid, struct sites_counters *c)
{
	struct sites_pid_stats ps;
	__u32 key = (__u32)pid;

	memset(c, 0, sizeof(*c));
	if (bpf_map__lookup_elem(s->skel->maps.site_pids, &key, sizeof(key), &ps, sizeof(ps), 0))
		return;
	c->triggers = ps.triggers;
	c->samples = ps.samples;
	c->rate_limited = ps.rate_limited;
	c->captured = ps.captured;
	c->truncated = ps.truncated;
	c->empty = ps.empty;
	c->err_no_tstate = ps.errors[PYSTACK_E_NO_TSTATE];
	c->err_read = ps.errors[PYSTACK_E_READ];
	c->err_loop = ps.errors[PYSTACK_E_LOOP];
	c->err_not_code = ps.errors[PYSTACK_E_NOT_CODE];
	c->err_too_many = ps.errors[PYSTACK_E_TOO_MANY];
	c->walk_errors = c->err_no_tstate + c->err_read + c->err_loop + c->err_not_code + c->err_too_many;
	c->tstate_fallback = ps.tstate_fallback;
	c->stacks_full = ps.stacks_full;
	c->counts_full = ps.counts_full;
	c->walk_ns = ps.walk_ns;
	c->frames = ps.frames;
	c->surv_samples = ps.surv_samples;
	c->surv_ring_full = ps.surv_ring_full;
	c->surv_rate_limited = ps.surv_rate_limited;
	c->surv_no_object = ps.surv_no_object;
	c->surv_unmatched = ps.surv_unmatched;
	c->surv_reused = ps.surv_reused;
	c->surv_slots_full = ps.surv_slots_full;
	c->surv_older_gen = ps.surv_older_gen;
	c->surv_read_errors = ps.surv_read_errors;
	c->surv_ns = ps.surv_ns;
}

static int cmp_key_pid(const void *a, const void *b)
{
	const struct site_count_key *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int sites__snapshot(struct sites *s)
{
	struct site_count_key key, next;
	bool have = false;
	int guard = SITES_MAX_COUNTS + 1, err = 0;

	if (!s)
		return -EINVAL;
	s->nkeys = 0;
	while (guard-- > 0 &&
	       !bpf_map__get_next_key(s->skel->maps.site_counts, have ? &key : NULL, &next, sizeof(next))) {
		key = next;
		have = true;
		if (s->nkeys == s->capkeys) {
			int ncap = s->capkeys ? s->capkeys * 2 : 256;
			struct site_count_key *n = realloc(s->keys, ncap * sizeof(*n));

			if (!n) {
				err = -ENOMEM; /* the keys listed so far still serve, sorted */
				break;
			}
			s->keys = n;
			s->capkeys = ncap;
		}
		s->keys[s->nkeys++] = key;
	}
	if (s->nkeys > 1) /* s->keys is NULL until the first key */
		qsort(s->keys, s->nkeys, sizeof(*s->keys), cmp_key_pid);
	s->have_keys = true;
	return err;
}

int sites__read(struct sites *s, pid_t pid, struct sites_report *out)
{
	struct site_count_key key;
	struct site_count_val val;
	struct site_stack_key skey;
	struct pystack stack;
	struct sites_proc *p;
	int cap = 0, err = 0, k;
	size_t i, lo, hi;

	if (!s || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->pid = pid;
	p = proc_find(s, pid);
	if (!p)
		return -ENOENT;
	ring_buffer__consume(s->surv_ring); /* queues every pid's new samples */
	p = proc_find(s, pid);
	if (!p)
		return -ENOENT;
	read_counters(s, pid, &out->counters);
	out->counters.surv_queue_full = p->surv_queue_full;
	out->surv_mode = p->surv_mode;
	if (p->nsurv_q) {
		out->surv = malloc(sizeof(*out->surv) * p->nsurv_q);
		if (!out->surv)
			return -ENOMEM;
		memcpy(out->surv, p->surv_q, sizeof(*out->surv) * p->nsurv_q);
		out->nsurv = p->nsurv_q;
		p->nsurv_q = 0;
	}
	for (i = 0; i < p->ncap; i++)
		if (p->codes[i])
			p->codes[i]->used = false;

	if (!s->have_keys && (err = sites__snapshot(s)))
		goto fail;
	lo = 0;
	hi = s->nkeys;
	while (lo < hi) { /* the first key of pid */
		size_t mid = lo + (hi - lo) / 2;

		if (s->keys[mid].pid < (__u32)pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < (size_t)s->nkeys && s->keys[lo].pid == (__u32)pid; lo++) {
		struct site_stack *st;

		key = s->keys[lo];
		if (bpf_map__lookup_elem(s->skel->maps.site_counts, &key, sizeof(key), &val, sizeof(val), 0))
			continue;
		skey.pid = key.pid;
		skey.pad = 0;
		skey.stack_id = key.stack_id;
		if (bpf_map__lookup_elem(s->skel->maps.site_stacks, &skey, sizeof(skey), &stack, sizeof(stack), 0))
			continue;
		if (out->nstacks == cap) {
			int ncap = cap ? cap * 2 : 64;
			struct site_stack *n = realloc(out->stacks, ncap * sizeof(*n));

			if (!n) {
				err = -ENOMEM;
				goto fail;
			}
			out->stacks = n;
			cap = ncap;
		}
		st = &out->stacks[out->nstacks++];
		memset(st, 0, sizeof(*st));
		st->stack_id = key.stack_id;
		st->type = key.type;
		st->count = val.count;
		st->last_ns = val.last_ns;
		st->truncated = stack.flags & PYSTACK_F_TRUNCATED;
		st->nframes = stack.nframes > SITES_MAX_FRAMES ? SITES_MAX_FRAMES : (int)stack.nframes;
		for (k = 0; k < st->nframes; k++) {
			struct code_entry *e = code_get(p, stack.frames[k].code);
			struct site_frame *f = &st->frames[k];

			f->insn = stack.frames[k].insn;
			f->code = e ? &e->code : NULL;
			f->line = e && e->code.ok ? pyline__addr2line(p->minor, e->table, e->table_len,
								      e->code.firstlineno, f->insn)
						  : -1;
			if (e)
				e->used = true;
		}
		out->total += st->count;
	}
	sort_array(out->stacks, out->nstacks, sizeof(*out->stacks), cmp_count_desc);
	return 0;
fail:
	sites_report__free(out);
	return err;
}
