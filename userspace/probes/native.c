/* SPDX-License-Identifier: BSD-2-Clause */
/* Sampled native allocations: load bpf/native.bpf.c, duty-cycle its libc uprobes per process under
 * the overhead budget (probes/budget.h), keep the samples not seen freed, resolve their stacks. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/native.h"
#include "bpf/sites.h"
#include "native.skel.h"
#include "probes/budget.h"
#include "probes/links.h"
#include "probes/native.h"
#include "probes/sites.h"
#include "target/elffile.h"
#include "target/proc.h"
#include "util/common.h"

/* The libc entry points, their cookies, and whether a uretprobe is needed (the block). */
static const struct {
	const char *sym;
	int fn;
	bool ret;
} natfns[] = {
	{ "malloc", NATIVE_FN_MALLOC, true },	    { "calloc", NATIVE_FN_CALLOC, true },
	{ "realloc", NATIVE_FN_REALLOC, true },	    { "posix_memalign", NATIVE_FN_MEMALIGN, true },
	{ "free", NATIVE_FN_FREE, false },
	{ "mmap", NATIVE_FN_MMAP, true },	    { "munmap", NATIVE_FN_MUNMAP, false },
};
#define NFNS ((int)(sizeof(natfns) / sizeof(natfns[0])))

#define RET_HIT_WEIGHT 1.8 /* a uretprobe costs ~1.8x an emulated entry probe (DESIGN.md) */
#define MAX_STACKS 4096	   /* distinct stacks per pid kept in userspace; beyond: counted as dropped */
#define ELF_CACHE 32

#define NAT_SLICE_HIST 256 /* slices remembered; 5 s hold a few dozen at most (budget.h slice lengths) */

struct elf_cache_entry {
	char path[PROC_PATH_MAX];
	struct elf_file *elf; /* NULL: could not be opened (remembered) */
};

struct nat_pid {
	pid_t pid;
	char libc[PROC_PATH_MAX + 32]; /* host path (/proc/PID/root/...) */
	uint64_t offsets[NFNS];
	int entry_fd, ret_fd;
	bool pystack;
	/* budget */
	struct budget_pid bud;
	bool attached, bud_ok;
	uint64_t on_ns, off_ns, next_on_ns, hits0, start_ns;
	double observed_s, slice_s;
	struct budget_reading slice_end;
	/* the latest slices [on, off) (CLOCK_MONOTONIC ns): attached time within the last
	 * NATIVE_MIN_AGE_S, for the growth estimate */
	uint64_t slice_on[NAT_SLICE_HIST], slice_off[NAT_SLICE_HIST];
	unsigned nslices_hist;
	/* samples: array + open-addressing index by address */
	struct native_sample *samples;
	int nsamples, capsamples;
	int *index; /* -1 empty, -2 deleted, else sample index */
	size_t index_cap;
	uint64_t dropped;
	uint64_t outside_slices; /* samples of calls outside the counted time, not kept */
	/* stacks; canon[i]: the stack i is the same as when named (another raw id, same names:
	 * instruction offsets of frames on one line differ) */
	struct native_stack *stacks;
	int *canon;
	int nstacks, capstacks;
	/* symbolization */
	struct proc_map *maps;
	int nmaps;
	struct elf_cache_entry elves[ELF_CACHE];
	int nelves;
};

struct native_probes {
	struct native_probes_opts opts;
	struct native_bpf *skel;
	struct ring_buffer *rb;
	struct sites *sites; /* Python stack resolution (shared code cache and line tables) */
	struct budget_params bp;
	struct nat_pid **pids;
	int npids, cappids;
};

static struct nat_pid *find_pid(struct native_probes *p, pid_t pid, int *idx)
{
	int i;

	for (i = 0; i < p->npids; i++)
		if (p->pids[i]->pid == pid) {
			if (idx)
				*idx = i;
			return p->pids[i];
		}
	return NULL;
}

/* ------------------------------------------------------------------ samples table */

static size_t slot_of(uint64_t addr, size_t cap)
{
	return (size_t)((addr >> 4) * 0x9e3779b97f4a7c15ull) & (cap - 1);
}

static int index_rebuild(struct nat_pid *e, size_t cap)
{
	int *ix = malloc(cap * sizeof(*ix));
	int i;

	if (!ix)
		return -ENOMEM;
	for (size_t k = 0; k < cap; k++)
		ix[k] = -1;
	for (i = 0; i < e->nsamples; i++) {
		size_t s = slot_of(e->samples[i].addr, cap);

		while (ix[s] >= 0)
			s = (s + 1) & (cap - 1);
		ix[s] = i;
	}
	free(e->index);
	e->index = ix;
	e->index_cap = cap;
	return 0;
}

static long sample_find(struct nat_pid *e, uint64_t addr, size_t *slot)
{
	size_t s, n;

	if (!e->index_cap)
		return -1;
	for (s = slot_of(addr, e->index_cap), n = 0; n < e->index_cap; s = (s + 1) & (e->index_cap - 1), n++) {
		if (e->index[s] == -1)
			return -1;
		if (e->index[s] >= 0 && e->samples[e->index[s]].addr == addr) {
			if (slot)
				*slot = s;
			return e->index[s];
		}
	}
	return -1;
}

static void sample_remove(struct nat_pid *e, uint64_t addr)
{
	size_t slot;
	long i = sample_find(e, addr, &slot);

	if (i < 0)
		return;
	e->index[slot] = -2;
	/* tombstoned; the array entry is compacted at the next read */
	e->samples[i].size = UINT64_MAX;
}

static void compact(struct nat_pid *e)
{
	int i, k = 0;

	for (i = 0; i < e->nsamples; i++)
		if (e->samples[i].size != UINT64_MAX)
			e->samples[k++] = e->samples[i];
	e->nsamples = k;
	index_rebuild(e, e->index_cap ? e->index_cap : 1024);
}

static int sample_add(struct nat_pid *e, const struct native_sample *s)
{
	size_t slot;

	if (sample_find(e, s->addr, &slot) >= 0) {
		e->samples[e->index[slot]] = *s; /* the same address again: the old block was freed unseen */
		return 0;
	}
	if (e->nsamples >= NATIVE_SAMPLES_MAX) {
		e->dropped++;
		return -ENOSPC;
	}
	if (e->nsamples == e->capsamples) {
		int cap = e->capsamples ? e->capsamples * 2 : 1024;
		struct native_sample *n = realloc(e->samples, (size_t)cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		e->samples = n;
		e->capsamples = cap;
	}
	if ((size_t)(e->nsamples + 1) * 2 > e->index_cap) {
		compact(e);
		if (index_rebuild(e, e->index_cap < 1024 ? 1024 : e->index_cap * 2))
			return -ENOMEM;
	}
	e->samples[e->nsamples] = *s;
	slot = slot_of(s->addr, e->index_cap);
	while (e->index[slot] >= 0)
		slot = (slot + 1) & (e->index_cap - 1);
	e->index[slot] = e->nsamples++;
	return 0;
}

/* ------------------------------------------------------------------ symbolization */

/*
 * A file the target maps, opened as the file it maps (docs/security.md: the target controls the
 * names in its mount namespace): /proc/PID/map_files/START-END, checked against the mapping's
 * device and inode by fstat of the opened fd. The same link names it for the uprobes.
 */
static int open_mapped(pid_t pid, const struct proc_map *m, char *path, size_t size, struct elf_file **out)
{
	struct stat st;
	int fd, err;

	snprintf(path, size, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, m->start, m->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_ino != m->inode || major(st.st_dev) != m->dev_major ||
	    minor(st.st_dev) != m->dev_minor) {
		close(fd);
		return -ENOENT;
	}
	err = elf__open_fd(fd, out);
	close(fd);
	return err;
}

static struct elf_file *elf_for(struct nat_pid *e, const struct proc_map *m)
{
	char host[96];
	int i;

	for (i = 0; i < e->nelves; i++)
		if (!strcmp(e->elves[i].path, m->path))
			return e->elves[i].elf;
	if (e->nelves == ELF_CACHE)
		return NULL;
	copy_str(e->elves[e->nelves].path, sizeof(e->elves[e->nelves].path), m->path);
	if (open_mapped(e->pid, m, host, sizeof(host), &e->elves[e->nelves].elf))
		e->elves[e->nelves].elf = NULL;
	return e->elves[e->nelves++].elf;
}

static const struct proc_map *map_of(struct nat_pid *e, uint64_t addr, bool refresh)
{
	int i;

	for (i = 0; i < e->nmaps; i++)
		if (addr >= e->maps[i].start && addr < e->maps[i].end)
			return &e->maps[i];
	if (!refresh)
		return NULL;
	free(e->maps);
	e->maps = NULL;
	e->nmaps = proc__read_maps(e->pid, &e->maps);
	if (e->nmaps < 0)
		e->nmaps = 0;
	return map_of(e, addr, false);
}

/* "lib.so:function+0x1a", "lib.so+0x1234" without a symbol, "0x7f..." outside any file. */
static bool symbolize(struct nat_pid *e, uint64_t addr, char *buf, size_t size, bool need_exec)
{
	const struct proc_map *m = map_of(e, addr, true);
	const char *base;
	struct elf_file *elf;
	struct elf_sym sym;
	uint64_t vaddr;
	int n;

	if (!m || !m->path[0] || m->path[0] == '[' || (need_exec && m->perms[2] != 'x')) {
		snprintf(buf, size, "0x%llx", (unsigned long long)addr);
		return false;
	}
	base = strrchr(m->path, '/');
	base = base ? base + 1 : m->path;
	elf = elf_for(e, m);
	/* a long library name is cut (the function stays readable): truncation is accepted here */
	if (elf && !elf__offset_to_vaddr(elf, addr - m->start + m->pgoff, &vaddr) && !elf__symbolize(elf, vaddr, &sym))
		n = snprintf(buf, size, "%.64s:%s+0x%llx", base, sym.name, (unsigned long long)(vaddr - sym.value));
	else
		n = snprintf(buf, size, "%.96s+0x%llx", base, (unsigned long long)(addr - m->start + m->pgoff));
	return n > 0;
}

static uint64_t stack_key(const struct native_event *ev)
{
	uint64_t h = 0xcbf29ce484222325ull ^ ev->caller;
	uint32_t i;

	h *= 0x100000001b3ull;
	for (i = 1; i < ev->nnative && i <= NATIVE_DEEPER_MAX && i < NATIVE_FRAMES; i++) {
		h ^= ev->native[i];
		h *= 0x100000001b3ull;
	}
	h ^= ev->py_stack_id;
	h *= 0x9e3779b97f4a7c15ull;
	return h ? h : 1;
}

/* Same native frames and the same Python frames by file, line and function. */
static bool same_names(const struct native_stack *a, const struct native_stack *b)
{
	int i;

	if (strcmp(a->caller, b->caller) || a->ndeeper != b->ndeeper || a->py.nframes != b->py.nframes ||
	    a->py.truncated != b->py.truncated)
		return false;
	for (i = 0; i < a->ndeeper; i++)
		if (strcmp(a->deeper[i], b->deeper[i]))
			return false;
	for (i = 0; i < a->py.nframes; i++) {
		const struct site_frame *x = &a->py.frames[i], *y = &b->py.frames[i];

		if (x->line != y->line || x->code != y->code)
			return false;
	}
	return true;
}

static int stack_for(struct native_probes *p, struct nat_pid *e, const struct native_event *ev)
{
	uint64_t key = stack_key(ev);
	struct native_stack *st;
	uint32_t i;
	int k;

	for (k = 0; k < e->nstacks; k++)
		if (e->stacks[k].key == key)
			return e->canon[k];
	if (e->nstacks >= MAX_STACKS)
		return -1;
	if (e->nstacks == e->capstacks) {
		int cap = e->capstacks ? e->capstacks * 2 : 64;
		struct native_stack *n = realloc(e->stacks, (size_t)cap * sizeof(*n));
		int *c;

		if (!n)
			return -1;
		e->stacks = n;
		c = realloc(e->canon, (size_t)cap * sizeof(*c));
		if (!c)
			return -1;
		e->canon = c;
		e->capstacks = cap;
	}
	st = &e->stacks[e->nstacks];
	memset(st, 0, sizeof(*st));
	st->key = key;
	symbolize(e, ev->caller, st->caller, sizeof(st->caller), true);
	/* deeper frames only while they land in executable file mappings: a caller built without
	 * frame pointers leaves rbp to someone else, and what follows is not its caller */
	for (i = 1; i < ev->nnative && i <= NATIVE_DEEPER_MAX && i < NATIVE_FRAMES; i++) {
		if (!symbolize(e, ev->native[i], st->deeper[st->ndeeper], NATIVE_NAME_MAX, true))
			break;
		st->ndeeper++;
	}
	if (ev->py_stack_id) {
		struct site_stack_key skey = { .pid = (uint32_t)e->pid, .stack_id = ev->py_stack_id };
		struct pystack ps;

		if (!bpf_map__lookup_elem(p->skel->maps.native_pystacks, &skey, sizeof(skey), &ps, sizeof(ps), 0))
			sites__resolve(p->sites, e->pid, &ps, &st->py);
	}
	e->canon[e->nstacks] = e->nstacks;
	for (k = 0; k < e->nstacks; k++)
		if (e->canon[k] == k && same_names(&e->stacks[k], st)) {
			e->canon[e->nstacks++] = k;
			return k;
		}
	return e->nstacks++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool is_libc(const char *path);

/*
 * An mmap made by libc itself (malloc's mmapped chunks: sampled as the malloc call, verified by
 * their chunk header) or by the interpreter (pymalloc's arenas: the arena census counts them) is
 * not a native allocation of its own: dropped, and its live entry in the kernel forgotten.
 */
static bool mmap_of_runtime(struct native_probes *p, struct nat_pid *e, const struct native_event *ev)
{
	const struct proc_map *m = map_of(e, ev->caller, true);
	struct native_live_key k = { .pid = (__u32)ev->pid, .addr = ev->addr };
	const char *b;

	if (!m || !m->path[0])
		return false;
	b = strrchr(m->path, '/');
	b = b ? b + 1 : m->path;
	if (!is_libc(m->path) && strncmp(b, "libpython", 9) && strncmp(b, "python", 6))
		return false;
	bpf_map__delete_elem(p->skel->maps.native_live, &k, sizeof(k), 0);
	return true;
}

/* Whether a call at ns (the probes' clock) fell in the counted time: the open slice or a
 * remembered one. The breakpoints go live while the links are made, before the slice's start is
 * stamped, and stay live while they are torn down after its end; a target that maps and unmaps
 * all the time holds them there (the uprobes go in and out under its mmap_lock) for as long as
 * the slice itself. Samples from then would be scaled up by a time that does not count them. */
static bool in_counted_time(const struct native_probes *p, const struct nat_pid *e, uint64_t ns)
{
	unsigned i, n = e->nslices_hist < NAT_SLICE_HIST ? e->nslices_hist : NAT_SLICE_HIST;

	if (p->opts.budget_pct <= 0)
		return true; /* attached throughout */
	if (e->attached && ns >= e->on_ns)
		return true;
	for (i = 0; i < n; i++) {
		unsigned k = (e->nslices_hist - 1 - i) % NAT_SLICE_HIST;

		if (ns >= e->slice_off[k])
			return false; /* after this slice, before the next: the older ones end earlier */
		if (ns >= e->slice_on[k])
			return true;
	}
	return false;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct native_probes *p = ctx;
	const struct native_event *ev = data;
	struct native_sample s;
	struct nat_pid *e;

	if (size < sizeof(*ev))
		return 0;
	e = find_pid(p, (pid_t)ev->pid, NULL);
	if (!e)
		return 0;
	if (ev->type == NATIVE_EV_FREE) {
		sample_remove(e, ev->addr);
		return 0;
	}
	if (ev->type != NATIVE_EV_ALLOC)
		return 0;
	if (ev->fn == NATIVE_FN_MMAP && mmap_of_runtime(p, e, ev))
		return 0;
	if (!in_counted_time(p, e, ev->ns)) {
		struct native_live_key k = { .pid = ev->pid, .addr = ev->addr };

		e->outside_slices++;
		bpf_map__delete_elem(p->skel->maps.native_live, &k, sizeof(k), 0);
		return 0;
	}
	memset(&s, 0, sizeof(s));
	s.addr = ev->addr;
	s.size = ev->size;
	s.ns = ev->ns;
	s.fn = (int)ev->fn;
	s.mapping = ev->fn == NATIVE_FN_MMAP;
	s.stack = stack_for(p, e, ev);
	if (s.stack >= 0) {
		e->stacks[s.stack].sampled_blocks++;
		e->stacks[s.stack].sampled_bytes += ev->size;
		e->stacks[s.stack].mapping |= s.mapping;
	}
	sample_add(e, &s);
	return 0;
}

/* ------------------------------------------------------------------ lifecycle */

int native_probes__open(struct native_probes **out, const struct native_probes_opts *opts)
{
	struct native_probes *p;
	int err;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (opts)
		p->opts = *opts;
	if (!p->opts.every)
		p->opts.every = NATIVE_EVERY_DEFAULT;
	p->bp = (struct budget_params){ .pct = p->opts.budget_pct, .prior_cost_ns = NATIVE_HIT_COST_NS_DEFAULT,
					.prior_hits = BUDGET_PRIOR_HITS, .cap_s = BUDGET_CAP_S, .plan = BUDGET_PLAN };
	p->skel = native_bpf__open();
	if (!p->skel) {
		err = -errno;
		goto fail;
	}
	/* both programs go on uprobe_multi links (Linux 6.6+): one link per process and kind, all
	 * breakpoints gone at once on close (probes/links.h) */
	bpf_program__set_expected_attach_type(p->skel->progs.native_entry,
					      (enum bpf_attach_type)PYLEAK_BPF_TRACE_UPROBE_MULTI);
	bpf_program__set_expected_attach_type(p->skel->progs.native_return,
					      (enum bpf_attach_type)PYLEAK_BPF_TRACE_UPROBE_MULTI);
	err = native_bpf__load(p->skel);
	if (err)
		goto fail;
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.native_events), on_event, p, NULL);
	if (!p->rb) {
		err = -errno;
		goto fail;
	}
	err = sites__open(&p->sites, NULL);
	if (err)
		goto fail;
	*out = p;
	return 0;
fail:
	pr_err("cannot load the native allocation bpf programs: %s; needs Linux 6.6+ (uprobe_multi) and "
	       "root or CAP_BPF and CAP_PERFMON", strerror(-err));
	native_probes__destroy(p);
	return err;
}

static bool is_libc(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	return !strncmp(b, "libc.so", 7) || (!strncmp(b, "libc-2.", 7) && strstr(b, ".so"));
}

static int resolve_libc(struct nat_pid *e)
{
	struct proc_map *maps = NULL;
	struct elf_file *elf = NULL;
	struct elf_sym sym;
	const struct proc_map *libc = NULL;
	int n, i, err = -ENOTSUP, found = 0;

	n = proc__read_maps(e->pid, &maps);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		const char *b = strrchr(maps[i].path, '/');

		b = b ? b + 1 : maps[i].path;
		/* an interposing allocator: libc's malloc is not the one called */
		if (!strncmp(b, "libjemalloc", 11) || !strncmp(b, "libtcmalloc", 11) || !strncmp(b, "libmimalloc", 11)) {
			err = -ENOTSUP;
			goto out;
		}
		if (!libc && is_libc(maps[i].path))
			libc = &maps[i];
	}
	if (!libc)
		goto out;
	err = open_mapped(e->pid, libc, e->libc, sizeof(e->libc), &elf);
	if (err)
		goto out;
	for (i = 0; i < NFNS; i++) {
		uint64_t off;

		if (elf__find_symbol(elf, natfns[i].sym, &sym) || !sym.value ||
		    elf__vaddr_to_offset(elf, sym.value, &off))
			continue;
		e->offsets[i] = off;
		found++;
	}
	err = found ? 0 : -ENOENT;
out:
	elf__close(elf);
	free(maps);
	return err;
}

int native_probes__add(struct native_probes *p, const struct py_target *t)
{
	struct native_target nt = { .every = p->opts.every };
	struct pystack_cfg cfg;
	struct nat_pid *e;
	__u32 key;
	int err;

	if (!p || !t)
		return -EINVAL;
	if (find_pid(p, t->pid, NULL))
		return 0;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->pid = t->pid;
	e->entry_fd = e->ret_fd = -1;
	budget__init(&e->bud);
	err = resolve_libc(e);
	if (err) {
		free(e);
		return err;
	}
	key = (__u32)t->pid;
	if (!sites__pystack_cfg(t, &cfg) && !sites__register(p->sites, t) &&
	    !bpf_map__update_elem(p->skel->maps.native_pycfgs, &key, sizeof(key), &cfg, sizeof(cfg), BPF_ANY)) {
		nt.flags |= NATIVE_T_PYSTACK;
		e->pystack = true;
	}
	if (bpf_map__update_elem(p->skel->maps.native_targets, &key, sizeof(key), &nt, sizeof(nt), BPF_ANY)) {
		err = -errno;
		free(e);
		return err;
	}
	if (p->npids == p->cappids) {
		int cap = p->cappids ? p->cappids * 2 : 8;
		struct nat_pid **n = realloc(p->pids, (size_t)cap * sizeof(*n));

		if (!n) {
			free(e);
			return -ENOMEM;
		}
		p->pids = n;
		p->cappids = cap;
	}
	p->pids[p->npids++] = e;
	e->start_ns = now_mono_ns();
	return 0;
}

static int attach(struct native_probes *p, struct nat_pid *e)
{
	uint64_t offs[NFNS], cookies[NFNS], roffs[NFNS], rcookies[NFNS];
	int i, n = 0, nr = 0;

	for (i = 0; i < NFNS; i++) {
		if (!e->offsets[i])
			continue;
		offs[n] = e->offsets[i];
		cookies[n++] = (uint64_t)natfns[i].fn;
		if (natfns[i].ret) {
			roffs[nr] = e->offsets[i];
			rcookies[nr++] = (uint64_t)natfns[i].fn;
		}
	}
	/* the return link first: an entry seen without its return would leave an in-flight record */
	e->ret_fd = links__uprobe_multi_flags(bpf_program__fd(p->skel->progs.native_return), e->libc, roffs,
					      rcookies, nr, e->pid, PYLEAK_UPROBE_MULTI_RETURN);
	if (e->ret_fd < 0) {
		int err = e->ret_fd;

		e->ret_fd = -1;
		return err;
	}
	e->entry_fd = links__uprobe_multi(bpf_program__fd(p->skel->progs.native_entry), e->libc, offs, cookies, n,
					  e->pid);
	if (e->entry_fd < 0) {
		int err = e->entry_fd;

		e->entry_fd = -1;
		links__destroy_all(NULL, 0, &e->ret_fd, 1);
		return err;
	}
	e->attached = true;
	return 0;
}

static void detach(struct nat_pid *e)
{
	int fds[2] = { e->entry_fd, e->ret_fd };

	/* entry first would be nicer for the in-flight map, but both go at once (links.h) */
	links__destroy_all(NULL, 0, fds, 2);
	e->entry_fd = e->ret_fd = -1;
	e->attached = false;
}

static double pid_hits(struct native_probes *p, struct nat_pid *e)
{
	struct native_pid_stats ps;
	__u32 key = (__u32)e->pid;

	if (bpf_map__lookup_elem(p->skel->maps.native_pids, &key, sizeof(key), &ps, sizeof(ps), 0))
		return 0;
	return (double)ps.calls * (1.0 + RET_HIT_WEIGHT) + (double)ps.frees;
}

static int budget_read(pid_t pid, struct budget_reading *r)
{
	int err = proc__cpu_ns(pid, &r->cpu_ns, &r->sys_ns);

	r->wall_ns = now_mono_ns();
	r->cpu_ns += r->sys_ns;
	return err;
}

static double slice_length(const struct nat_pid *e)
{
	double s;

	if (e->bud.hit_rate <= 0)
		return BUDGET_FIRST_SLICE_S;
	s = BUDGET_SLICE_HITS / e->bud.hit_rate;
	return s < BUDGET_MIN_SLICE_S ? BUDGET_MIN_SLICE_S : s > BUDGET_MAX_SLICE_S ? BUDGET_MAX_SLICE_S : s;
}

static int ms_until(uint64_t t, uint64_t now)
{
	return t > now ? (int)((t - now) / 1000000) + 1 : 0;
}

/* One process's slices (budget.h): attach when its bucket holds the slice's expected cost. */
static int tick_pid(struct native_probes *p, struct nat_pid *e, uint64_t now)
{
	struct budget_reading r;
	double need, have, hits;
	uint64_t w;

	if (p->opts.budget_pct <= 0) { /* no budget: attached throughout */
		if (!e->attached && !attach(p, e))
			e->on_ns = now;
		if (e->attached) {
			e->observed_s += (now - e->on_ns) / 1e9;
			e->on_ns = now;
		}
		return 100;
	}
	if (e->attached) {
		if (now < e->off_ns)
			return ms_until(e->off_ns, now);
		/* uprobe_multi: the breakpoints go first on close, so the slice ends before it */
		e->bud_ok = !budget_read(e->pid, &e->slice_end);
		detach(e);
		e->observed_s += (e->slice_end.wall_ns - e->on_ns) / 1e9;
		e->slice_on[e->nslices_hist % NAT_SLICE_HIST] = e->on_ns;
		e->slice_off[e->nslices_hist % NAT_SLICE_HIST] = e->slice_end.wall_ns;
		e->nslices_hist++;
		if (e->bud_ok) {
			hits = pid_hits(p, e) - (double)e->hits0;
			budget__slice(&e->bud, &p->bp, &e->slice_end, hits, (e->slice_end.wall_ns - e->on_ns) / 1e9);
			pr_debug("native budget: pid %d slice %.1f ms, %.0f hits, cost %.0f ns/hit, util %.3f, spent "
				 "%.2f%% of its CPU", e->pid, (e->slice_end.wall_ns - e->on_ns) / 1e6, hits,
				 budget__hit_cost_ns(&e->bud, &p->bp), e->bud.util,
				 e->bud.useful_ns > 0 ? 100 * e->bud.spent_ns / e->bud.useful_ns : 0);
		}
		e->next_on_ns = now_mono_ns();
		return 1;
	}
	if (now < e->next_on_ns)
		return ms_until(e->next_on_ns, now);
	if (budget_read(e->pid, &r))
		return 1000; /* gone: the caller forgets it */
	if (!e->bud.have_last || r.wall_ns - e->bud.last.wall_ns >= BUDGET_CHECK_BOOKS_NS)
		budget__detached(&e->bud, &p->bp, &r);
	e->slice_s = slice_length(e);
	need = budget__expected_ns(&e->bud, &p->bp, e->slice_s);
	have = budget__available_ns(&e->bud, &p->bp, &r);
	if (have < need) {
		w = (uint64_t)budget__wait_ns(&e->bud, &p->bp, need - have);
		pr_debug("native budget: pid %d needs %.3f ms for a %.0f ms slice, has %.3f ms (util %.3f), waits %.0f ms",
			 e->pid, need / 1e6, e->slice_s * 1e3, have / 1e6, e->bud.util, w / 1e6);
		if (w < BUDGET_MIN_WAIT_S * 1e9)
			w = (uint64_t)(BUDGET_MIN_WAIT_S * 1e9);
		if (w > BUDGET_MAX_WAIT_S * 1e9)
			w = (uint64_t)(BUDGET_MAX_WAIT_S * 1e9);
		e->next_on_ns = now + w;
		return ms_until(e->next_on_ns, now);
	}
	budget__detached(&e->bud, &p->bp, &r);
	e->hits0 = (uint64_t)pid_hits(p, e);
	if (attach(p, e)) {
		e->next_on_ns = now + (uint64_t)(BUDGET_MAX_WAIT_S * 1e9);
		return 1000;
	}
	e->on_ns = now_mono_ns();
	e->off_ns = e->on_ns + (uint64_t)(e->slice_s * 1e9);
	return ms_until(e->off_ns, now);
}

int native_probes__tick(struct native_probes *p)
{
	int i, ms, next = 1000;
	uint64_t now;

	if (!p)
		return -EINVAL;
	ring_buffer__consume(p->rb);
	now = now_mono_ns();
	for (i = 0; i < p->npids; i++) {
		ms = tick_pid(p, p->pids[i], now);
		if (ms < next)
			next = ms;
	}
	ring_buffer__consume(p->rb);
	return next;
}

/* Attached seconds within [from, now): the open slice and the remembered ones; -1 when the
 * history does not reach back to `from` (or there is no budget: attached throughout). */
static double observed_since(const struct native_probes *p, const struct nat_pid *e, uint64_t from, uint64_t now)
{
	double s = 0;
	unsigned i, n = e->nslices_hist < NAT_SLICE_HIST ? e->nslices_hist : NAT_SLICE_HIST;

	if (p->opts.budget_pct <= 0)
		return now > from ? (now - from) / 1e9 : 0;
	if (e->attached && e->on_ns < now)
		s += (now - (e->on_ns > from ? e->on_ns : from)) / 1e9;
	for (i = 0; i < n; i++) {
		unsigned k = (e->nslices_hist - 1 - i) % NAT_SLICE_HIST;

		if (e->slice_off[k] <= from)
			return s; /* older than the window: the rest are too */
		s += (e->slice_off[k] - (e->slice_on[k] > from ? e->slice_on[k] : from)) / 1e9;
	}
	return e->nslices_hist > NAT_SLICE_HIST ? -1 : s;
}

int native_probes__read(struct native_probes *p, pid_t pid, struct native_report *out)
{
	struct native_pid_stats ps;
	struct nat_pid *e;
	__u32 key = (__u32)pid;

	memset(out, 0, sizeof(*out));
	out->pid = pid;
	if (!p || !(e = find_pid(p, pid, NULL)))
		return -ENOENT;
	ring_buffer__consume(p->rb);
	compact(e);
	if (!bpf_map__lookup_elem(p->skel->maps.native_pids, &key, sizeof(key), &ps, sizeof(ps), 0)) {
		out->counters.calls = ps.calls;
		out->counters.frees = ps.frees;
		out->counters.sampled = ps.sampled;
		out->counters.recorded = ps.recorded;
		out->counters.freed = ps.freed;
		out->counters.py_errors = ps.py_errors;
		out->counters.inflight_full = ps.inflight_full;
		out->counters.live_full = ps.live_full;
		out->counters.stacks_full = ps.stacks_full;
		out->counters.ring_full = ps.ring_full;
	}
	out->counters.samples_dropped = e->dropped;
	out->counters.outside_slices = e->outside_slices;
	out->read_ns = now_mono_ns();
	out->counters.every = p->opts.every;
	/* the open slice too: its samples are in the report (and in observed_recent_s) */
	out->counters.observed_s = e->observed_s +
				   (e->attached && p->opts.budget_pct > 0 && out->read_ns > e->on_ns ?
					    (out->read_ns - e->on_ns) / 1e9 : 0);
	out->counters.observed_recent_s = observed_since(p, e, out->read_ns - (uint64_t)(NATIVE_MIN_AGE_S * 1e9),
							 out->read_ns);
	out->counters.elapsed_s = (now_mono_ns() - e->start_ns) / 1e9;
	out->counters.overhead_pct = e->bud.useful_ns > 0 ? 100.0 * e->bud.spent_ns / e->bud.useful_ns : 0;
	out->counters.slices = e->bud.slices;
	if (e->nsamples) {
		out->samples = malloc((size_t)e->nsamples * sizeof(*out->samples));
		if (!out->samples)
			return -ENOMEM;
		memcpy(out->samples, e->samples, (size_t)e->nsamples * sizeof(*out->samples));
		out->nsamples = e->nsamples;
	}
	if (e->nstacks) {
		out->stacks = malloc((size_t)e->nstacks * sizeof(*out->stacks));
		if (!out->stacks) {
			native_report__free(out);
			return -ENOMEM;
		}
		memcpy(out->stacks, e->stacks, (size_t)e->nstacks * sizeof(*out->stacks));
		out->nstacks = e->nstacks;
	}
	return 0;
}

int native_probes__keep(struct native_probes *p, pid_t pid, const struct native_report *rep)
{
	struct nat_pid *e = p ? find_pid(p, pid, NULL) : NULL;
	struct native_live_key k = { .pid = (uint32_t)pid };
	uint64_t *kept = NULL;
	int i, n = 0;

	if (!e)
		return -ENOENT;
	if (rep->nsamples) {
		kept = malloc((size_t)rep->nsamples * sizeof(*kept));
		if (!kept)
			return -ENOMEM;
		for (i = 0; i < rep->nsamples; i++)
			kept[n++] = rep->samples[i].addr;
		sort_array(kept, (size_t)n, sizeof(*kept), cmp_u64);
	}
	/* samples taken after the report was read are not in it: keep what is newer than its read */
	for (i = 0; i < e->nsamples; i++) {
		struct native_sample *s = &e->samples[i];

		if (s->size == UINT64_MAX || s->ns > rep->read_ns)
			continue;
		if (n && bsearch(&s->addr, kept, (size_t)n, sizeof(*kept), cmp_u64))
			continue;
		k.addr = s->addr;
		bpf_map__delete_elem(p->skel->maps.native_live, &k, sizeof(k), 0);
		sample_remove(e, s->addr);
	}
	free(kept);
	return 0;
}

static void pid_free(struct nat_pid *e)
{
	int i;

	if (!e)
		return;
	if (e->attached)
		detach(e);
	for (i = 0; i < e->nelves; i++)
		elf__close(e->elves[i].elf);
	free(e->maps);
	free(e->samples);
	free(e->index);
	free(e->stacks);
	free(e->canon);
	free(e);
}

static void delete_pid_keys(struct bpf_map *map, size_t key_size, pid_t pid, int guard)
{
	uint8_t key[32], next[32];
	bool have = false;

	while (guard-- > 0 && !bpf_map__get_next_key(map, have ? key : NULL, next, key_size)) {
		memcpy(key, next, key_size);
		have = true;
		if (*(__u32 *)next == (__u32)pid) {
			bpf_map__delete_elem(map, next, key_size, 0);
			have = false;
		}
	}
}

int native_probes__forget(struct native_probes *p, pid_t pid)
{
	struct nat_pid *e;
	__u32 key = (__u32)pid;
	int idx;

	if (!p)
		return -EINVAL;
	e = find_pid(p, pid, &idx);
	if (!e)
		return -ENOENT;
	pid_free(e);
	p->pids[idx] = p->pids[--p->npids];
	bpf_map__delete_elem(p->skel->maps.native_targets, &key, sizeof(key), 0);
	bpf_map__delete_elem(p->skel->maps.native_pycfgs, &key, sizeof(key), 0);
	bpf_map__delete_elem(p->skel->maps.native_pids, &key, sizeof(key), 0);
	delete_pid_keys(p->skel->maps.native_live, sizeof(struct native_live_key), pid, 2 * NATIVE_MAX_LIVE);
	delete_pid_keys(p->skel->maps.native_pystacks, sizeof(struct site_stack_key), pid, 2 * NATIVE_MAX_STACKS);
	sites__forget(p->sites, pid);
	return 0;
}

void native_probes__destroy(struct native_probes *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->npids; i++)
		pid_free(p->pids[i]);
	free(p->pids);
	ring_buffer__free(p->rb);
	sites__destroy(p->sites);
	native_bpf__destroy(p->skel);
	free(p);
}
