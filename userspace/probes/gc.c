/* SPDX-License-Identifier: BSD-2-Clause */
/* Tier-1 GC probes: load bpf/gc.bpf.c, attach USDT / collector uprobes / poll sampler, read results. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/gc.h"
#include "gc.skel.h"
#include "probes/gc.h"
#include "util/common.h"

_Static_assert(GC_PROBES_HIST_SLOTS == GC_HIST_SLOTS, "probes/gc.h and bpf/gc.h disagree on slots");
_Static_assert(GC_PROBES_NGEN == GC_NGEN, "probes/gc.h and bpf/gc.h disagree on generations");

enum attach_kind { ATTACH_USDT, ATTACH_COLLECTOR };

struct attachment {
	enum attach_kind kind;
	dev_t dev;
	ino_t ino;
	uint64_t offset; /* collector only */
	struct bpf_link *links[2];
};

struct gc_probes {
	struct gc_bpf *skel;
	struct ring_buffer *rb;
	struct attachment *att;
	int natt, capatt;
	/* poll tier: one cpu-clock perf event + link per CPU, present while poll_pids > 0 */
	int ncpus;
	int *poll_fds;
	struct bpf_link **poll_links;
	bool poll_attached;
	int poll_pids;
	/* current poll_events() callback, for the ring-buffer trampoline */
	gc_event_fn cb;
	void *cb_ctx;
	int nevents;
};

int gc_collector_gen_spec(int minor, const char *symbol)
{
	const char *base;
	bool clone;
	size_t n;

	if (!symbol)
		return -EINVAL;
	if (minor < 6)
		return -ENOENT;
	base = minor <= 9 ? "collect" : "gc_collect_main";
	n = strlen(base);
	if (strncmp(symbol, base, n) || (symbol[n] && symbol[n] != '.'))
		return -ENOENT;
	clone = symbol[n] == '.';

	/* Clone names are those of the GCC -O3 pyenv builds (nm); with a registered
	 * generation_stats address the generation comes from the stats delta anyway. */
	switch (minor) {
	case 6:
	case 7: /* collect(int generation, ...): state is a static / _PyRuntime.gc */
		if (!clone)
			return GC_GENSPEC_ARG(0);
		if (!strcmp(symbol, "collect.constprop.0"))
			return GC_GENSPEC_CONST(2); /* PyGC_Collect, _PyGC_CollectNoFail */
		return GC_GENSPEC_UNKNOWN;
	case 8: /* collect(struct _gc_runtime_state *state, int generation, ...) */
		if (!clone)
			return GC_GENSPEC_ARG(1);
		if (!strcmp(symbol, "collect.constprop.0"))
			return GC_GENSPEC_CONST(2);
		if (!strcmp(symbol, "collect.constprop.1"))
			return GC_GENSPEC_ARG(0); /* state = &_PyRuntime.gc propagated */
		return GC_GENSPEC_UNKNOWN;
	default: /* 3.9: collect(tstate, gen, ...); 3.10+: gc_collect_main(tstate, gen, ...) */
		/* (3.14.0–3.14.4, incremental GC, have no gc_collect_main; 3.14.5+ do.) */
		return clone ? GC_GENSPEC_UNKNOWN : GC_GENSPEC_ARG(1);
	}
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct gc_probes *p = ctx;
	const struct gc_event *ev = data;
	struct gc_probe_event out;

	if (size < sizeof(__u32) || ev->type != GC_EV_COLLECTION || size < sizeof(*ev))
		return 0; /* unknown record type: newer BPF side, skip */
	out.pid = ev->pid;
	out.tid = ev->tid;
	out.generation = ev->generation;
	out.start_ns = ev->start_ns;
	out.duration_ns = ev->duration_ns;
	out.collected = ev->collected;
	out.uncollectable = ev->uncollectable;
	out.flags = ev->flags;
	out.source = ev->source;
	p->nevents++;
	if (p->cb)
		p->cb(&out, p->cb_ctx);
	return 0;
}

int gc_probes__open(struct gc_probes **out, const struct gc_probes_opts *opts)
{
	struct gc_probes *p;
	int err;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->skel = gc_bpf__open();
	if (!p->skel) {
		err = -errno;
		pr_err("cannot open gc bpf object: %s", strerror(-err));
		goto cleanup;
	}
	if (opts) {
		p->skel->rodata->emit_events = !opts->no_events;
		p->skel->rodata->min_event_ns = opts->min_event_us * 1000;
	}
	err = gc_bpf__load(p->skel);
	if (err) {
		pr_err("cannot load gc bpf programs: %s; run as root or grant CAP_BPF and CAP_PERFMON",
		       strerror(-err));
		goto cleanup;
	}
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events), handle_event, p, NULL);
	if (!p->rb) {
		err = -errno;
		pr_err("cannot open gc ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus <= 0) {
		err = p->ncpus ? p->ncpus : -EINVAL;
		goto cleanup;
	}
	*out = p;
	return 0;
cleanup:
	gc_probes__destroy(p);
	return err;
}

static int file_id(const char *path, dev_t *dev, ino_t *ino)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

static struct attachment *find_attachment(struct gc_probes *p, enum attach_kind kind, dev_t dev,
					  ino_t ino, uint64_t offset)
{
	int i;

	for (i = 0; i < p->natt; i++)
		if (p->att[i].kind == kind && p->att[i].dev == dev && p->att[i].ino == ino &&
		    p->att[i].offset == offset)
			return &p->att[i];
	return NULL;
}

static int add_attachment(struct gc_probes *p, const struct attachment *a)
{
	struct attachment *n;

	if (p->natt == p->capatt) {
		int cap = p->capatt ? 2 * p->capatt : 8;

		n = realloc(p->att, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->att = n;
		p->capatt = cap;
	}
	p->att[p->natt++] = *a;
	return 0;
}

int gc_probes__attach_usdt(struct gc_probes *p, const char *binary_path)
{
	struct attachment a = { .kind = ATTACH_USDT };
	int err, i;

	if (!p || !binary_path)
		return -EINVAL;
	err = file_id(binary_path, &a.dev, &a.ino);
	if (err) {
		pr_err("cannot stat %s: %s", binary_path, strerror(-err));
		return err;
	}
	if (find_attachment(p, ATTACH_USDT, a.dev, a.ino, 0))
		return 0;
	/* pid -1: every process mapping this inode, now or later; the kernel bumps the
	 * semaphores (uprobe ref_ctr_offset) in each of them. */
	a.links[0] = bpf_program__attach_usdt(p->skel->progs.gc_start_usdt, -1, binary_path,
					      "python", "gc__start", NULL);
	if (!a.links[0]) {
		err = -errno;
		goto fail;
	}
	a.links[1] = bpf_program__attach_usdt(p->skel->progs.gc_done_usdt, -1, binary_path,
					      "python", "gc__done", NULL);
	if (!a.links[1]) {
		err = -errno;
		goto fail;
	}
	err = add_attachment(p, &a);
	if (err)
		goto fail;
	return 0;
fail:
	pr_err("cannot attach usdt python:gc__start/gc__done in %s: %s",
		binary_path, strerror(-err));
	for (i = 0; i < 2; i++)
		bpf_link__destroy(a.links[i]);
	return err;
}

int gc_probes__attach_collector(struct gc_probes *p, const char *binary_path,
				uint64_t func_offset, int gen_spec)
{
	struct attachment a = { .kind = ATTACH_COLLECTOR, .offset = func_offset };
	LIBBPF_OPTS(bpf_uprobe_opts, entry_opts);
	LIBBPF_OPTS(bpf_uprobe_opts, exit_opts, .retprobe = true);
	int err, i;

	if (!p || !binary_path || !func_offset || gen_spec < 0 || gen_spec > GC_GENSPEC_UNKNOWN)
		return -EINVAL;
	err = file_id(binary_path, &a.dev, &a.ino);
	if (err) {
		pr_err("cannot stat %s: %s", binary_path, strerror(-err));
		return err;
	}
	if (find_attachment(p, ATTACH_COLLECTOR, a.dev, a.ino, func_offset))
		return 0;
	entry_opts.bpf_cookie = (__u64)gen_spec;
	a.links[0] = bpf_program__attach_uprobe_opts(p->skel->progs.gc_collector_entry, -1,
						     binary_path, func_offset, &entry_opts);
	if (!a.links[0]) {
		err = -errno;
		goto fail;
	}
	a.links[1] = bpf_program__attach_uprobe_opts(p->skel->progs.gc_collector_exit, -1,
						     binary_path, func_offset, &exit_opts);
	if (!a.links[1]) {
		err = -errno;
		goto fail;
	}
	err = add_attachment(p, &a);
	if (err)
		goto fail;
	return 0;
fail:
	pr_err("cannot attach gc collector uprobe at %s+0x%llx: %s",
		binary_path, (unsigned long long)func_offset, strerror(-err));
	for (i = 0; i < 2; i++)
		bpf_link__destroy(a.links[i]);
	return err;
}

int gc_probes__attachments(const struct gc_probes *p)
{
	return p ? p->natt : 0;
}

static void poll_detach(struct gc_probes *p)
{
	int i;

	if (!p->poll_links)
		goto fds;
	for (i = 0; i < p->ncpus; i++)
		bpf_link__destroy(p->poll_links[i]);
	free(p->poll_links);
	p->poll_links = NULL;
fds:
	if (p->poll_fds) {
		for (i = 0; i < p->ncpus; i++)
			if (p->poll_fds[i] >= 0)
				close(p->poll_fds[i]);
		free(p->poll_fds);
		p->poll_fds = NULL;
	}
	p->poll_attached = false;
}

static int poll_attach(struct gc_probes *p)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.freq = 1,
		.sample_freq = GC_PROBES_POLL_HZ, /* prime: does not beat with 1000 Hz timers */
	};
	int i, fd, err, nattached = 0;

	p->poll_fds = malloc(p->ncpus * sizeof(*p->poll_fds));
	p->poll_links = calloc(p->ncpus, sizeof(*p->poll_links));
	if (!p->poll_fds || !p->poll_links) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (i = 0; i < p->ncpus; i++)
		p->poll_fds[i] = -1;
	for (i = 0; i < p->ncpus; i++) {
		fd = syscall(__NR_perf_event_open, &attr, -1, i, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			if (errno == ENODEV)
				continue; /* possible but offline CPU */
			err = -errno;
			pr_err("cannot open cpu-clock perf event on cpu %d: %s", i,
				strerror(-err));
			goto cleanup;
		}
		p->poll_fds[i] = fd;
		p->poll_links[i] = bpf_program__attach_perf_event(p->skel->progs.gc_poll, fd);
		if (!p->poll_links[i]) {
			err = -errno;
			pr_err("cannot attach gc poll program on cpu %d: %s", i,
				strerror(-err));
			goto cleanup;
		}
		nattached++;
	}
	if (!nattached) {
		err = -ENODEV;
		goto cleanup;
	}
	p->poll_attached = true;
	return 0;
cleanup:
	poll_detach(p);
	return err;
}

int gc_probes__set_target(struct gc_probes *p, pid_t pid, const struct gc_target_cfg *cfg)
{
	struct gc_target old = {}, t = {};
	__u32 key = (__u32)pid;
	bool was_poll, is_poll;
	int fd, err;

	if (!p || !cfg || pid <= 0)
		return -EINVAL;
	fd = bpf_map__fd(p->skel->maps.targets);
	was_poll = !bpf_map_lookup_elem(fd, &key, &old) && (old.flags & GC_TARGET_POLL);
	t.stats_addr = cfg->stats_addr;
	t.collecting_addr = cfg->collecting_addr;
	t.flags = cfg->poll && cfg->collecting_addr ? GC_TARGET_POLL : 0;
	if (cfg->stats_rings) {
		t.flags |= GC_TARGET_STATS_RINGS;
		memcpy(t.ring_off, cfg->ring_off, sizeof(t.ring_off));
		memcpy(t.index_off, cfg->index_off, sizeof(t.index_off));
		memcpy(t.ring_len, cfg->ring_len, sizeof(t.ring_len));
		t.rec_size = cfg->rec_size;
		t.rec_collections = cfg->rec_collections;
	}
	is_poll = t.flags & GC_TARGET_POLL;
	if (bpf_map_update_elem(fd, &key, &t, BPF_ANY)) {
		err = -errno;
		if (err == -E2BIG)
			err = -ENOSPC;
		pr_err("cannot register pid %d for gc probes: %s", pid,
			strerror(-err));
		return err;
	}
	p->poll_pids += (int)is_poll - (int)was_poll;
	if (p->poll_pids > 0 && !p->poll_attached) {
		err = poll_attach(p);
		if (err)
			return err;
	} else if (p->poll_pids <= 0 && p->poll_attached) {
		poll_detach(p);
	}
	return 0;
}

int gc_probes__forget(struct gc_probes *p, pid_t pid)
{
	struct gc_target old = {};
	__u32 key = (__u32)pid;
	int tfd, sfd, found = 0;

	if (!p || pid <= 0)
		return -EINVAL;
	tfd = bpf_map__fd(p->skel->maps.targets);
	sfd = bpf_map__fd(p->skel->maps.pid_stats);
	if (!bpf_map_lookup_elem(tfd, &key, &old)) {
		found = 1;
		bpf_map_delete_elem(tfd, &key);
		if (old.flags & GC_TARGET_POLL) {
			p->poll_pids--;
			if (p->poll_pids <= 0 && p->poll_attached)
				poll_detach(p);
		}
	}
	if (!bpf_map_delete_elem(sfd, &key))
		found = 1;
	return found ? 0 : -ENOENT;
}

int gc_probes__read(struct gc_probes *p, pid_t pid, struct gc_kstats *out)
{
	struct gc_pid_stats ps;
	__u32 key = (__u32)pid;
	int g;

	if (!p || !out || pid <= 0)
		return -EINVAL;
	if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.pid_stats), &key, &ps))
		return errno == ENOENT ? -ENOENT : -errno;
	memset(out, 0, sizeof(*out));
	out->stats_valid = ps.gen_stats_ns != 0;
	out->stats_read_ns = ps.gen_stats_ns;
	for (g = 0; g < GC_NGEN; g++) {
		out->collections[g] = ps.gen_stats[g * 3];
		out->collected[g] = ps.gen_stats[g * 3 + 1];
		out->uncollectable[g] = ps.gen_stats[g * 3 + 2];
		out->pause[g].count = ps.pause[g].count;
		out->pause[g].sum_ns = ps.pause[g].sum_ns;
		out->pause[g].max_ns = ps.pause[g].max_ns;
		memcpy(out->pause[g].hist, ps.pause[g].hist, sizeof(out->pause[g].hist));
	}
	out->gc_ns_total = ps.gc_ns_total;
	out->unknown_gen = ps.unknown_gen;
	out->read_errors = ps.read_errors;
	out->poll_samples = ps.poll_samples;
	out->poll_collecting = ps.poll_collecting;
	out->poll_errors = ps.poll_errors;
	out->sources = ps.sources;
	return 0;
}

int gc_probes__list_pids(struct gc_probes *p, pid_t *out, int max)
{
	__u32 key, next;
	int fd, n = 0, guard = 0;
	void *prev = NULL;

	if (!p || !out || max < 0)
		return -EINVAL;
	fd = bpf_map__fd(p->skel->maps.pid_stats);
	/* bounded: the map holds at most GC_MAX_PIDS keys (a concurrent delete may restart
	 * the walk, hence the guard rather than a plain count) */
	while (n < max && guard++ < 4 * GC_MAX_PIDS && !bpf_map_get_next_key(fd, prev, &next)) {
		out[n++] = (pid_t)next;
		key = next;
		prev = &key;
	}
	return n;
}

int gc_probes__poll_events(struct gc_probes *p, int timeout_ms, gc_event_fn cb, void *ctx)
{
	int err;

	if (!p)
		return -EINVAL;
	p->cb = cb;
	p->cb_ctx = ctx;
	p->nevents = 0;
	err = ring_buffer__poll(p->rb, timeout_ms);
	p->cb = NULL;
	p->cb_ctx = NULL;
	if (err == -EINTR)
		return 0;
	return err < 0 ? err : p->nevents;
}

static uint64_t counter_sum(struct gc_probes *p, __u32 idx)
{
	uint64_t *vals, sum = 0;
	int i;

	vals = calloc(p->ncpus, sizeof(*vals));
	if (!vals)
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.counters), &idx, vals))
		for (i = 0; i < p->ncpus; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

uint64_t gc_probes__dropped(struct gc_probes *p)
{
	return p ? counter_sum(p, GC_CNT_RB_DROPS) : 0;
}

int gc_probes__counters(struct gc_probes *p, struct gc_probe_counters *out)
{
	if (!p || !out)
		return -EINVAL;
	out->ringbuf_drops = counter_sum(p, GC_CNT_RB_DROPS);
	out->pid_map_full = counter_sum(p, GC_CNT_PID_FULL);
	out->start_map_full = counter_sum(p, GC_CNT_START_FULL);
	out->no_start = counter_sum(p, GC_CNT_NO_START);
	out->noop = counter_sum(p, GC_CNT_NOOP);
	return 0;
}

void gc_probes__destroy(struct gc_probes *p)
{
	int i, j;

	if (!p)
		return;
	poll_detach(p);
	for (i = 0; i < p->natt; i++)
		for (j = 0; j < 2; j++)
			bpf_link__destroy(p->att[i].links[j]);
	free(p->att);
	ring_buffer__free(p->rb);
	gc_bpf__destroy(p->skel);
	free(p);
}
