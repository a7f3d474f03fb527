/* SPDX-License-Identifier: BSD-2-Clause */
/* Allocation rates per type: load bpf/alloc.bpf.c, attach young-sample / exact probes, duty-cycle
 * the exact ones under an overhead budget, and turn the kernel's counters into per-second rates. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/alloc.h" /* the BPF ABI (same basename as this module's header) */
#include "probes/alloc.h"
#include "probes/gcstart.h"
#include "alloc.skel.h"
#include "probes/budget.h"
#include "util/common.h"
#include "util/pidmap.h"
#include "target/elffile.h"
#include "probes/links.h"
#include "target/proc.h"
#include "target/remote.h"

/* Exported allocator entry points (cpython-internals.md §5); all in .dynsym 3.8–3.14. */
static const struct {
	const char *sym;
	int site; /* ALLOC_SITE_*, 0 = the free probe */
} exact_sites[] = {
	{ "PyType_GenericAlloc", ALLOC_SITE_GENERIC },
	{ "_PyObject_GC_New", ALLOC_SITE_TYPE },
	{ "_PyObject_GC_NewVar", ALLOC_SITE_TYPE_N },
	{ "_PyObject_New", ALLOC_SITE_TYPE },
	{ "_PyObject_NewVar", ALLOC_SITE_TYPE_N },
	{ "PyObject_GC_Del", 0 },
};
#define NSITES ((int)(sizeof(exact_sites) / sizeof(exact_sites[0])))

#define MIN_EXPECTED 1000	 /* completeness needs this many bookkept GC allocations */
#define DUMP_MAX_AGE_NS 50000000 /* reads within 50 ms share one dump of alloc_counts */
#define MIN_OBSERVED_S 0.001
/*
 * Measured on the 2-vCPU KVM guest, Linux 6.18 (bpftrace, one probe, object-creation loop): an
 * emulated first instruction (push) costs 1.0–1.9 µs per hit, a single-stepped one (`mov`, the
 * first instruction of PyObject_GC_Del in 3.8–3.11) 14.8 µs.
 */
#define STEPPED_COST_FACTOR 8.0

/*
 * Does the x86-64 uprobe code emulate this first instruction (no single-step trap)?  Linux
 * arch/x86/kernel/uprobes.c emulates push reg, call/jmp rel, nop; everything else is executed
 * out of line with a trap.  endbr64 is treated as stepped (kernel dependent: measure).
 */
static bool insn_emulated(const uint8_t *b)
{
	if (!b)
		return false;
	if ((b[0] >= 0x50 && b[0] <= 0x57) || b[0] == 0x90 || b[0] == 0xe8 || b[0] == 0xe9 || b[0] == 0xeb)
		return true;
	if (b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57) /* push %r8..%r15 */
		return true;
	if (b[0] == 0x66 && b[1] == 0x90)
		return true;
	return false;
}

struct type_count {
	uint64_t type;
	struct alloc_val v;
};

struct dump_sort {
	uint32_t pid;
	struct type_count tc;
};

struct pid_entry {
	pid_t pid;
	int idx; /* in alloc_probes.pids */
	int minor;
	struct py_layout layout; /* own copy: pyobj_types keeps a pointer to it */
	struct pyobj_types *types;
	char binary[PROC_PATH_MAX];
	uint64_t offsets[NSITES]; /* 0 = symbol not found */
	struct bpf_link *links[NSITES]; /* perf-event links (kernels without uprobe_multi) */
	int mfd;			/* the uprobe_multi link, -1 none */
	bool stepped[NSITES]; /* first instruction not emulated by the kernel: single-stepped */
	uint64_t count0_addr;
	/* the previous read */
	bool have_prev;
	uint64_t prev_ns, prev_attached_ns;
	double prev_obs_ns;
	int32_t prev_count0;
	struct alloc_pid_stats prev_ps;
	struct type_count *prev;
	int nprev;
	/* budget: per-pid hits at the start of the current slice, and the process's accounts */
	uint64_t slice_hits0;
	struct alloc_report last; /* budget: what the last window with a slice showed */
	bool have_last;
	struct budget_pid bud;
	struct budget_reading slice_end;
	bool bud_ok; /* its CPU times were readable at the last slice boundary */
};

struct alloc_probes {
	struct alloc_probes_opts opts;
	struct alloc_bpf *skel;
	struct gcstart_set young; /* the young-list sampler at collection starts */
	struct pid_entry **pids;
	int npids, cappids;
	struct pidmap bypid; /* pid -> its entry in pids */
	/* dump of alloc_counts sorted by (pid, type) */
	struct dump_sort *dump;
	int ndump;
	uint64_t dump_ns;
	/* exact attachment state (all registered pids together) */
	bool attached;
	bool multi; /* exact_multi loaded for uprobe_multi links (else perf-event links) */
	uint64_t attached_since_ns, attached_ns_total;
	/* budget scheduler */
	struct budget_params bp;
	uint64_t next_on_ns, next_off_ns;
	double slice_s;
};

double alloc_young__rate(uint64_t type_samples, uint64_t all_samples, double net_new, double dt)
{
	if (!all_samples || dt <= 0 || net_new <= 0)
		return 0;
	return (double)type_samples / (double)all_samples * net_new / dt;
}

double alloc_completeness(int64_t probed, int64_t expected, int64_t min_expected)
{
	if (expected < min_expected || expected <= 0)
		return -1;
	return (double)probed / (double)expected;
}

/* Load with exact_multi set up for uprobe_multi links; a kernel that refuses that program loads
 * without it and the exact probes use perf-event links. */
static int load(struct alloc_probes *p)
{
	int err;

	p->skel = alloc_bpf__open();
	if (!p->skel)
		return -errno;
	bpf_program__set_expected_attach_type(p->skel->progs.exact_multi,
					      (enum bpf_attach_type)PYLEAK_BPF_TRACE_UPROBE_MULTI);
	err = alloc_bpf__load(p->skel);
	if (!err) {
		p->multi = true;
		return 0;
	}
	alloc_bpf__destroy(p->skel);
	p->skel = alloc_bpf__open();
	if (!p->skel)
		return -errno;
	bpf_program__set_autoload(p->skel->progs.exact_multi, false);
	err = alloc_bpf__load(p->skel);
	if (err)
		return err < 0 ? err : -EINVAL;
	pr_debug("alloc: no uprobe_multi programs (%s): exact probes use perf-event links", strerror(-err));
	return 0;
}

int alloc_probes__open(struct alloc_probes **out, const struct alloc_probes_opts *opts)
{
	struct alloc_probes *p;
	int err;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (opts)
		p->opts = *opts;
	if (!p->opts.young_max)
		p->opts.young_max = ALLOC_YOUNG_DEFAULT;
	if (p->opts.young_max > ALLOC_YOUNG_HARD)
		p->opts.young_max = ALLOC_YOUNG_HARD;
	if (p->opts.hit_cost_ns <= 0)
		p->opts.hit_cost_ns = ALLOC_HIT_COST_NS_DEFAULT;
	if (p->opts.mode == ALLOC_MODE_BUDGET && p->opts.budget_pct <= 0) {
		err = -EINVAL;
		goto cleanup;
	}
	p->bp = (struct budget_params){ .pct = p->opts.budget_pct, .prior_cost_ns = p->opts.hit_cost_ns,
					.prior_hits = BUDGET_PRIOR_HITS, .cap_s = BUDGET_CAP_S,
					.plan = BUDGET_PLAN };
	err = load(p);
	if (err) {
		pr_err("cannot load the allocation bpf programs: %s; run as root or grant CAP_BPF and "
		       "CAP_PERFMON", strerror(-err));
		goto cleanup;
	}
	*out = p;
	return 0;
cleanup:
	alloc_probes__destroy(p);
	return err;
}

enum alloc_mode alloc_probes__mode(const struct alloc_probes *p)
{
	return p ? p->opts.mode : ALLOC_MODE_OFF;
}

static int young_attach(struct alloc_probes *p, const char *path, uint64_t off, int gen_spec, bool usdt)
{
	return gcstart__attach(&p->young, p->skel->progs.young_usdt, p->skel->progs.young_collector, path, usdt, off,
			       (uint64_t)gen_spec, "young-sample");
}

int alloc_probes__attach_usdt(struct alloc_probes *p, const char *binary_path)
{
	if (!p || !binary_path)
		return -EINVAL;
	return young_attach(p, binary_path, 0, 0, true);
}

int alloc_probes__attach_collector(struct alloc_probes *p, const char *binary_path, uint64_t func_offset,
				   int gen_spec)
{
	if (!p || !binary_path || !func_offset)
		return -EINVAL;
	return young_attach(p, binary_path, func_offset, gen_spec, false);
}

static struct pid_entry *find_pid(struct alloc_probes *p, pid_t pid)
{
	return pidmap__get(&p->bypid, pid);
}

static void pid_detach(struct pid_entry *e)
{
	links__destroy_all(e->links, NSITES, &e->mfd, 1);
}

/* One uprobe_multi link for every site of the process: 0 attached, 1 "not supported here". */
static int pid_attach_multi(struct alloc_probes *p, struct pid_entry *e)
{
	uint64_t offs[NSITES], cookies[NSITES];
	int i, n = 0, fd;

	for (i = 0; i < NSITES; i++)
		if (e->offsets[i]) {
			offs[n] = e->offsets[i];
			cookies[n++] = (uint64_t)exact_sites[i].site;
		}
	if (!n)
		return -ENOENT;
	fd = links__uprobe_multi(bpf_program__fd(p->skel->progs.exact_multi), e->binary, offs, cookies, n, e->pid);
	if (fd >= 0) {
		e->mfd = fd;
		return 0;
	}
	if (fd == -EINVAL || fd == -EOPNOTSUPP || fd == -ENOSYS || fd == -E2BIG) {
		pr_debug("alloc: uprobe_multi link refused (%s): perf-event links from now on", strerror(-fd));
		p->multi = false;
		return 1;
	}
	pr_err("cannot attach the allocator probes in %s for pid %d: %s", e->binary, e->pid, strerror(-fd));
	return fd;
}

static int pid_attach(struct alloc_probes *p, struct pid_entry *e)
{
	int i, err;

	if (e->mfd >= 0)
		return 0;
	if (p->multi) {
		err = pid_attach_multi(p, e);
		if (err <= 0)
			return err;
	}
	for (i = 0; i < NSITES; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uo);

		if (!e->offsets[i] || e->links[i])
			continue;
		uo.bpf_cookie = (uint64_t)exact_sites[i].site;
		/* pid-filtered: the kernel installs the breakpoint only in this process's mm, so
		 * other processes running the same binary pay nothing. */
		e->links[i] = bpf_program__attach_uprobe_opts(p->skel->progs.exact_perf, e->pid, e->binary,
							      e->offsets[i], &uo);
		if (!e->links[i]) {
			err = -errno;
			pr_err("cannot attach %s in %s for pid %d: %s", exact_sites[i].sym, e->binary, e->pid,
			       strerror(-err));
			pid_detach(e);
			return err;
		}
	}
	return 0;
}

static int budget_read(pid_t pid, struct budget_reading *r)
{
	int err = proc__cpu_ns(pid, &r->cpu_ns, &r->sys_ns);

	r->wall_ns = now_mono_ns();
	r->cpu_ns += r->sys_ns;
	return err;
}

/* Every pid's exact probes at once: one teardown wait for all of them (links.h). */
static void detach_all(struct alloc_probes *p)
{
	struct bpf_link **v = p->npids ? calloc((size_t)p->npids * NSITES, sizeof(*v)) : NULL;
	int *fds = p->npids ? malloc((size_t)p->npids * sizeof(*fds)) : NULL;
	int i, j;

	if (!v || !fds) { /* no memory for the batch: per pid, still concurrent within each */
		for (i = 0; i < p->npids; i++)
			pid_detach(p->pids[i]);
		goto out;
	}
	for (i = 0; i < p->npids; i++) {
		for (j = 0; j < NSITES; j++) {
			v[i * NSITES + j] = p->pids[i]->links[j];
			p->pids[i]->links[j] = NULL;
		}
		fds[i] = p->pids[i]->mfd;
		p->pids[i]->mfd = -1;
	}
	links__destroy_all(v, p->npids * NSITES, fds, p->npids);
out:
	free(v);
	free(fds);
}

/* Probe hits of a pid, weighted: a hit on a single-stepped site counts STEPPED_COST_FACTOR. */
static uint64_t pid_hits(struct alloc_probes *p, pid_t pid)
{
	struct alloc_pid_stats ps;
	struct pid_entry *e = find_pid(p, pid);
	__u32 key = (__u32)pid;
	double a = 1, f = 1;
	int i;

	if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.alloc_pids), &key, &ps))
		return 0;
	for (i = 0; e && i < NSITES; i++)
		if (e->stepped[i]) {
			if (exact_sites[i].site)
				a = STEPPED_COST_FACTOR; /* the allocation sites share one counter */
			else
				f = STEPPED_COST_FACTOR;
		}
	return (uint64_t)(ps.allocs * a + ps.frees * f);
}

/* Attach (or detach) the exact probes of every registered pid. exact_on/exact_seq order: see
 * bpf/alloc.bpf.c. */
static void exact_set(struct alloc_probes *p, bool on)
{
	uint64_t now = now_mono_ns();
	int i;

	if (on == p->attached)
		return;
	pr_debug("alloc: exact probes %s for %d pids (slice %.3f s)", on ? "on" : "off", p->npids, p->slice_s);
	if (on) {
		for (i = 0; i < p->npids; i++) {
			pid_attach(p, p->pids[i]);
			p->pids[i]->slice_hits0 = pid_hits(p, p->pids[i]->pid);
		}
		p->skel->bss->exact_seq++;
		__atomic_store_n(&p->skel->bss->exact_on, 1, __ATOMIC_SEQ_CST);
		/* the breakpoints went in during the attach calls (~1 ms per site): count from the middle */
		p->attached_since_ns = now + (now_mono_ns() - now) / 2;
	} else {
		__atomic_store_n(&p->skel->bss->exact_on, 0, __ATOMIC_SEQ_CST);
		detach_all(p);
		p->attached_ns_total += now - p->attached_since_ns;
	}
	p->attached = on;
	pr_debug("alloc: exact probes %s in %.1f ms (%s links)", on ? "attached" : "detached",
		 (now_mono_ns() - now) / 1e6, p->multi ? "uprobe_multi" : "perf-event");
}

static uint64_t attached_ns(const struct alloc_probes *p, uint64_t now)
{
	return p->attached_ns_total + (p->attached ? now - p->attached_since_ns : 0);
}

static int resolve_sites(struct pid_entry *e)
{
	struct elf_file *elf;
	struct elf_sym sym;
	int i, err, found = 0;

	err = elf__open(e->binary, &elf);
	if (err)
		return err;
	for (i = 0; i < NSITES; i++) {
		e->offsets[i] = 0;
		if (elf__find_symbol(elf, exact_sites[i].sym, &sym) || !sym.value)
			continue;
		if (elf__vaddr_to_offset(elf, sym.value, &e->offsets[i]))
			continue;
		e->stepped[i] = !insn_emulated(elf__data_at(elf, sym.value, 4));
		found++;
	}
	elf__close(elf);
	return found ? 0 : -ENOENT;
}

int alloc_probes__set_target(struct alloc_probes *p, const struct py_target *t)
{
	const struct py_layout *l;
	struct alloc_target at = {};
	struct pid_entry *e;
	__u32 key;
	int err;

	if (!p || !t || !t->layout || t->pid <= 0 || !t->gc_generations_addr)
		return -EINVAL;
	l = t->layout;
	e = find_pid(p, t->pid);
	if (!e) {
		if (p->npids == p->cappids) {
			int cap = p->cappids ? 2 * p->cappids : 16;
			struct pid_entry **n = realloc(p->pids, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			p->pids = n;
			p->cappids = cap;
		}
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->pid = t->pid;
		e->mfd = -1;
		budget__init(&e->bud);
		e->minor = t->minor;
		e->layout = *l;
		e->types = pyobj_types__new(&e->layout);
		if (!e->types) {
			free(e);
			return -ENOMEM;
		}
		if (copy_str(e->binary, sizeof(e->binary), t->runtime_path)) {
			pyobj_types__free(e->types);
			free(e);
			return -ENAMETOOLONG;
		}
		if (pidmap__put(&p->bypid, e->pid, e)) {
			pyobj_types__free(e->types);
			free(e);
			return -ENOMEM;
		}
		e->idx = p->npids;
		p->pids[p->npids++] = e;
	}

	at.gen0_head = t->gc_generations_addr + l->gc_gen_head;
	at.gen0_count = t->gc_generations_addr + l->gc_gen_count;
	at.gen0_threshold = t->gc_generations_addr + l->gc_gen_threshold;
	at.gc_head_size = l->gc_head_size;
	at.head_next = l->gc_head_next;
	at.ob_type = l->object_type;
	at.ob_size = l->varobject_size;
	at.tp_basicsize = l->type_basicsize;
	at.tp_itemsize = l->type_itemsize;
	at.tp_flags = l->type_flags;
	/* In exact/budget modes the young hook only keeps the completeness books. */
	at.young_max = p->opts.mode == ALLOC_MODE_YOUNG ? p->opts.young_max : 0;
	/* 3.13 gc_collect_main(GENERATION_AUTO) may return without collecting (Python/gc.c
	 * gc_select_generation); 3.14.5+ likewise.  USDT gc__start only fires when it collects. */
	at.flags = t->minor >= 13 ? ALLOC_T_SKIP_BELOW_THRESHOLD : 0;
	e->count0_addr = at.gen0_count;
	key = (__u32)t->pid;
	if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.alloc_targets), &key, &at, BPF_ANY)) {
		err = -errno;
		pr_err("cannot register pid %d for allocation probes: %s", t->pid, strerror(-err));
		return err == -E2BIG ? -ENOSPC : err;
	}
	if (p->opts.mode == ALLOC_MODE_EXACT || p->opts.mode == ALLOC_MODE_BUDGET) {
		err = resolve_sites(e);
		if (err) {
			pr_err("pid %d: no allocator symbols in %s: %s", t->pid, e->binary, strerror(-err));
			return err;
		}
		if (p->opts.mode == ALLOC_MODE_EXACT) {
			if (!p->attached) {
				exact_set(p, true);
			} else {
				/* joining while attached: the window check restarts with a new seq */
				err = pid_attach(p, e);
				p->skel->bss->exact_seq++;
				if (err)
					return err;
			}
		} else {
			/* a newcomer starts with an empty bucket: the first reading opens its books */
			struct budget_reading r;

			e->bud_ok = !budget_read(e->pid, &r);
			if (e->bud_ok)
				budget__detached(&e->bud, &p->bp, &r);
		}
	}
	return 0;
}

int alloc_probes__forget(struct alloc_probes *p, pid_t pid)
{
	struct alloc_key key, next;
	struct pid_entry *e;
	__u32 k = (__u32)pid;
	int idx, fd, guard = 0;
	void *prev = NULL;

	if (!p || pid <= 0)
		return -EINVAL;
	bpf_map_delete_elem(bpf_map__fd(p->skel->maps.alloc_targets), &k);
	bpf_map_delete_elem(bpf_map__fd(p->skel->maps.alloc_pids), &k);
	/* drop the pid's (pid, type) entries, bounded by the map size */
	fd = bpf_map__fd(p->skel->maps.alloc_counts);
	while (guard++ < 2 * ALLOC_MAX_TYPES && !bpf_map_get_next_key(fd, prev, &next)) {
		if (next.pid == (__u32)pid) {
			bpf_map_delete_elem(fd, &next);
			continue; /* restart from prev: next is gone */
		}
		key = next;
		prev = &key;
	}
	p->dump_ns = 0;
	e = find_pid(p, pid);
	if (!e)
		return -ENOENT;
	pidmap__del(&p->bypid, pid, e);
	idx = e->idx;
	pid_detach(e);
	pyobj_types__free(e->types);
	free(e->prev);
	free(e);
	if (idx < --p->npids) {
		p->pids[idx] = p->pids[p->npids];
		p->pids[idx]->idx = idx;
	}
	return 0;
}

/* Slice length: BUDGET_SLICE_HITS hits of the busiest process, bounded. */
static double slice_length(const struct alloc_probes *p)
{
	double rate = 0;
	int i;

	for (i = 0; i < p->npids; i++)
		if (p->pids[i]->bud.hit_rate > rate)
			rate = p->pids[i]->bud.hit_rate;
	if (rate <= 0)
		return BUDGET_FIRST_SLICE_S;
	rate = BUDGET_SLICE_HITS / rate;
	return rate < BUDGET_MIN_SLICE_S ? BUDGET_MIN_SLICE_S : rate > BUDGET_MAX_SLICE_S ? BUDGET_MAX_SLICE_S : rate;
}

static int ms_until(uint64_t t, uint64_t now)
{
	return t > now ? (int)((t - now) / 1000000) + 1 : 0;
}

/*
 * The budget scheduler (budget.h): while detached, attach for one slice as soon as every
 * process's bucket holds what the slice is expected to cost it; after the slice, charge each
 * process what it was charged.  The slice is common to all processes (one exact_seq window for
 * the completeness books), so the process that can afford least decides when.
 */
int alloc_probes__tick(struct alloc_probes *p)
{
	uint64_t now, wait_ns = 0;
	double observed_s, hits;
	struct budget_reading r;
	bool multi;
	int i;

	if (!p)
		return -EINVAL;
	if (p->opts.mode != ALLOC_MODE_BUDGET || !p->npids)
		return 1000;
	now = now_mono_ns();
	if (p->attached) {
		if (now < p->next_off_ns)
			return ms_until(p->next_off_ns, now);
		observed_s = (now - p->attached_since_ns) / 1e9;
		/*
		 * Where the slice ends for the books: closing a uprobe_multi link takes its
		 * breakpoints out first and then waits a grace period or two (~50 ms) with the target
		 * running free, so the slice ends before the close; perf-event links trap until their
		 * teardown reaches them, so their slices end after it.
		 */
		multi = p->multi;
		for (i = 0; multi && i < p->npids; i++)
			p->pids[i]->bud_ok = !budget_read(p->pids[i]->pid, &p->pids[i]->slice_end);
		exact_set(p, false); /* returns when the breakpoints are gone */
		for (i = 0; i < p->npids; i++) {
			struct pid_entry *e = p->pids[i];

			if (!multi)
				e->bud_ok = !budget_read(e->pid, &e->slice_end);
			if (!e->bud_ok)
				continue;
			hits = (double)(pid_hits(p, e->pid) - e->slice_hits0);
			budget__slice(&e->bud, &p->bp, &e->slice_end, hits, observed_s);
			pr_debug("alloc budget: pid %d slice %.1f ms observed, %.0f hits, cost %.0f ns/hit, "
				 "util %.2f, base sys %.3f, spent %.2f%% of its CPU", e->pid, observed_s * 1e3, hits,
				 budget__hit_cost_ns(&e->bud, &p->bp), e->bud.util, e->bud.base_sys,
				 e->bud.useful_ns > 0 ? 100 * e->bud.spent_ns / e->bud.useful_ns : 0);
		}
		p->next_on_ns = now_mono_ns();
		return 1;
	}
	if (now < p->next_on_ns)
		return ms_until(p->next_on_ns, now);
	p->slice_s = slice_length(p);
	for (i = 0; i < p->npids; i++) {
		struct pid_entry *e = p->pids[i];
		double need, have;
		uint64_t w;

		if (budget_read(e->pid, &r))
			continue; /* gone: the collector forgets it */
		/* close the books of a long wait: learns the CPU rate an idle-looking start lacks */
		if (e->bud_ok && r.wall_ns - e->bud.last.wall_ns >= BUDGET_CHECK_BOOKS_NS)
			budget__detached(&e->bud, &p->bp, &r);
		need = budget__expected_ns(&e->bud, &p->bp, p->slice_s);
		have = budget__available_ns(&e->bud, &p->bp, &r);
		if (have >= need)
			continue;
		w = budget__wait_ns(&e->bud, &p->bp, need - have);
		pr_debug("alloc budget: pid %d needs %.2f ms for a %.0f ms slice, has %.2f ms (util %.3f)", e->pid,
			 need / 1e6, p->slice_s * 1e3, have / 1e6, e->bud.util);
		if (w > wait_ns)
			wait_ns = w;
	}
	if (wait_ns) {
		if (wait_ns < BUDGET_MIN_WAIT_S * 1e9)
			wait_ns = BUDGET_MIN_WAIT_S * 1e9;
		if (wait_ns > BUDGET_MAX_WAIT_S * 1e9)
			wait_ns = BUDGET_MAX_WAIT_S * 1e9;
		p->next_on_ns = now + wait_ns;
		return ms_until(p->next_on_ns, now);
	}
	for (i = 0; i < p->npids; i++) {
		struct pid_entry *e = p->pids[i];

		e->bud_ok = !budget_read(e->pid, &r);
		if (e->bud_ok)
			budget__detached(&e->bud, &p->bp, &r);
	}
	exact_set(p, true);
	p->next_off_ns = now_mono_ns() + (uint64_t)(p->slice_s * 1e9);
	return ms_until(p->next_off_ns, now);
}

static int cmp_key(const void *a, const void *b)
{
	const struct type_count *x = a, *y = b;

	return x->type < y->type ? -1 : x->type > y->type;
}


static int cmp_dump(const void *a, const void *b)
{
	const struct dump_sort *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return cmp_key(&x->tc, &y->tc);
}

/* One pass over alloc_counts (batched), sorted by (pid, type). */
static int dump_counts(struct alloc_probes *p)
{
	int fd = bpf_map__fd(p->skel->maps.alloc_counts), n = 0, guard = 0;
	struct alloc_key key, next;
	struct dump_sort *d;
	void *prev = NULL;
	struct alloc_val v;

	if (!p->dump) {
		p->dump = malloc(sizeof(*p->dump) * ALLOC_MAX_TYPES);
		if (!p->dump)
			return -ENOMEM;
	}
	d = p->dump;
	while (n < ALLOC_MAX_TYPES && guard++ < 2 * ALLOC_MAX_TYPES && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		d[n].pid = key.pid;
		d[n].tc.type = key.type;
		d[n].tc.v = v;
		n++;
	}
	sort_array(d, n, sizeof(*d), cmp_dump);
	p->ndump = n;
	p->dump_ns = now_mono_ns();
	return 0;
}

/* [lo, hi) of pid in the sorted dump */
static void dump_range(struct alloc_probes *p, pid_t pid, int *lo, int *hi)
{
	int a = 0, b = p->ndump, m;

	while (a < b) {
		m = (a + b) / 2;
		if (p->dump[m].pid < (uint32_t)pid)
			a = m + 1;
		else
			b = m;
	}
	*lo = a;
	while (a < p->ndump && p->dump[a].pid == (uint32_t)pid)
		a++;
	*hi = a;
}

static const struct alloc_val *prev_of(const struct pid_entry *e, uint64_t type)
{
	struct type_count k = { .type = type }, *f;

	if (!e->prev)
		return NULL;
	f = bsearch(&k, e->prev, e->nprev, sizeof(*e->prev), cmp_key);
	return f ? &f->v : NULL;
}

struct delta {
	uint64_t type;
	uint64_t young, allocs, frees, abytes, fbytes;
	double key;
};

static int cmp_delta_desc(const void *a, const void *b)
{
	const struct delta *x = a, *y = b;

	return x->key < y->key ? 1 : x->key > y->key ? -1 : 0;
}

/* Budget mode: the time the probes were in for a pid, the slice under way included. */
static double observed_ns(const struct alloc_probes *p, const struct pid_entry *e, uint64_t now)
{
	double o = e->bud.observed_ns;

	if (p->attached && now > p->attached_since_ns)
		o += now - p->attached_since_ns;
	return o;
}

int alloc_probes__read(struct alloc_probes *p, pid_t pid, int64_t young_count, struct alloc_report *out)
{
	struct alloc_pid_stats ps;
	struct pid_entry *e;
	struct delta *d = NULL;
	struct remote r;
	uint64_t now, att, samples = 0;
	int32_t count0 = -1;
	__u32 key = (__u32)pid;
	double dt, obs, net_new = 0, scale;
	int lo, hi, i, n = 0, err = 0, nt;
	bool young;

	if (!p || !out || pid <= 0)
		return -EINVAL;
	e = find_pid(p, pid);
	if (!e)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	now = now_mono_ns();
	if (!p->dump_ns || now - p->dump_ns > DUMP_MAX_AGE_NS) {
		err = dump_counts(p);
		if (err)
			return err;
	}
	memset(&ps, 0, sizeof(ps));
	bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.alloc_pids), &key, &ps);
	/* the young count read with the GC state of this refresh (the same field: count0_addr), or
	 * read here when the caller has none */
	remote__init_pid(&r, pid); /* also for the type names below */
	if (young_count >= 0 && young_count <= INT32_MAX)
		count0 = (int32_t)young_count;
	else if (remote__read_i32(&r, e->count0_addr, &count0))
		count0 = -1;
	att = attached_ns(p, now);
	dump_range(p, pid, &lo, &hi);

	if (!e->have_prev) {
		err = -EAGAIN;
		goto save;
	}
	dt = (now - e->prev_ns) / 1e9;
	young = p->opts.mode == ALLOC_MODE_YOUNG;
	obs = dt;
	if (p->opts.mode == ALLOC_MODE_BUDGET) {
		obs = (observed_ns(p, e, now) - e->prev_obs_ns) / 1e9;
		/* No slice since the last read (the budget spaces them out): show the last estimate
		 * and let the next window start where this one did. */
		if (obs < MIN_OBSERVED_S && e->have_last) {
			*out = e->last;
			return 0;
		}
	}
	out->source = alloc_mode__name(p->opts.mode);
	out->estimated = p->opts.mode != ALLOC_MODE_EXACT;
	out->window_s = dt;
	out->observed_s = obs;
	out->duty = p->opts.mode == ALLOC_MODE_BUDGET ? (dt > 0 ? (att - e->prev_attached_ns) / 1e9 / dt : 0) : 1;
	if (p->opts.mode == ALLOC_MODE_BUDGET)
		out->overhead_pct = e->bud.useful_ns > 0 ? 100 * e->bud.spent_ns / e->bud.useful_ns : 0;
	out->collections = ps.walks - e->prev_ps.walks;
	out->samples = ps.nodes - e->prev_ps.nodes;
	out->walk_errors = ps.walk_errors - e->prev_ps.walk_errors;
	out->walk_truncated = ps.walk_truncated - e->prev_ps.walk_truncated;
	out->type_errors = ps.type_errors;
	out->check_windows = ps.check_windows;
	out->completeness = alloc_completeness(ps.check_probed, ps.check_expected, MIN_EXPECTED);
	out->incomplete = out->completeness >= 0 && (out->completeness < 0.9 || out->completeness > 1.1);
	out->free_per_s = -1;
	if (young) {
		net_new = (double)(ps.young_count_sum - e->prev_ps.young_count_sum);
		if (count0 >= 0 && e->prev_count0 >= 0)
			net_new += count0 - e->prev_count0;
		if (net_new < 0)
			net_new = 0;
		out->per_s = dt > 0 ? net_new / dt : 0;
		out->completeness = -1;
		out->incomplete = false;
	} else if (obs > 0) {
		out->per_s = (ps.allocs - e->prev_ps.allocs) / obs;
		out->free_per_s = (ps.frees - e->prev_ps.frees) / obs;
		out->bytes_per_s = (ps.alloc_bytes - e->prev_ps.alloc_bytes) / obs;
	}

	d = calloc(hi - lo + 1, sizeof(*d));
	if (!d) {
		err = -ENOMEM;
		goto save;
	}
	for (i = lo; i < hi; i++) {
		const struct alloc_val *v = &p->dump[i].tc.v, *pv = prev_of(e, p->dump[i].tc.type);
		struct alloc_val z = {};
		struct delta *x = &d[n];

		if (!pv)
			pv = &z;
		x->type = p->dump[i].tc.type;
		x->young = v->young - pv->young;
		x->allocs = v->allocs - pv->allocs;
		x->frees = v->frees - pv->frees;
		x->abytes = v->alloc_bytes - pv->alloc_bytes;
		x->fbytes = v->free_bytes - pv->free_bytes;
		if (young ? !x->young : !(x->allocs || x->frees))
			continue;
		samples += x->young;
		x->key = young ? (double)x->young : (double)x->allocs;
		n++;
	}
	out->ntypes_total = n;
	sort_array(d, n, sizeof(*d), cmp_delta_desc);
	scale = obs > 0 ? 1.0 / obs : 0;
	for (i = 0, nt = 0; i < n && nt < ALLOC_TOP_TYPES; i++) {
		struct alloc_type_rate *tr = &out->types[nt];
		const struct pyobj_type *pt = NULL;

		tr->type_addr = d[i].type;
		if (!d[i].type || pyobj_types__get(e->types, &r, d[i].type, &pt) || !pt)
			snprintf(tr->name, sizeof(tr->name), d[i].type ? "<type 0x%llx>" : "<unreadable>",
				 (unsigned long long)d[i].type);
		else
			copy_str(tr->name, sizeof(tr->name), pt->name);
		if (young) {
			tr->net_per_s = alloc_young__rate(d[i].young, samples, net_new, dt);
			tr->alloc_per_s = tr->net_per_s; /* survivors to the next collection */
			tr->free_per_s = -1;
			tr->bytes_per_s = pt ? tr->net_per_s * (double)(pt->basicsize + pt->presize) : 0;
			out->bytes_per_s += tr->bytes_per_s;
		} else {
			bool gc_type = pt && (pt->flags & PY_TPFLAGS_HAVE_GC);

			tr->alloc_per_s = d[i].allocs * scale;
			/* Only GC objects are freed through the probed PyObject_GC_Del. */
			tr->free_per_s = gc_type ? d[i].frees * scale : -1;
			tr->net_per_s = gc_type ? tr->alloc_per_s - tr->free_per_s : tr->alloc_per_s;
			tr->bytes_per_s = d[i].abytes * scale;
		}
		nt++;
	}
	out->ntypes = nt;

save:
	if (!err && p->opts.mode == ALLOC_MODE_BUDGET && out->observed_s >= MIN_OBSERVED_S) {
		e->last = *out;
		e->have_last = true;
	}
	/* Keep this pid's counters as the next baseline. */
	free(d);
	free(e->prev);
	e->prev = NULL;
	e->nprev = 0;
	if (hi > lo) {
		e->prev = malloc((hi - lo) * sizeof(*e->prev));
		if (e->prev) {
			for (i = lo; i < hi; i++)
				e->prev[i - lo] = p->dump[i].tc;
			e->nprev = hi - lo;
		}
	}
	e->prev_ps = ps;
	e->prev_ns = now;
	e->prev_attached_ns = att;
	e->prev_obs_ns = observed_ns(p, e, now);
	e->prev_count0 = count0;
	e->have_prev = true;
	pyobj_types__sweep(e->types);
	return err;
}

void alloc_probes__destroy(struct alloc_probes *p)
{
	int i;

	if (!p)
		return;
	if (p->attached)
		exact_set(p, false);
	for (i = 0; i < p->npids; i++) {
		pid_detach(p->pids[i]);
		pyobj_types__free(p->pids[i]->types);
		free(p->pids[i]->prev);
		free(p->pids[i]);
	}
	free(p->pids);
	pidmap__fini(&p->bypid);
	gcstart__detach_all(&p->young);
	alloc_bpf__destroy(p->skel);
	free(p->dump);
	free(p);
}
