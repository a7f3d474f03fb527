/* SPDX-License-Identifier: BSD-2-Clause */
/* The collector: finds Python processes, attaches probes, reads maps and memory into the model. */
#include "collect/collect.h"
#include "model/groups.h"
#include "analysis/mallocheap.h"
#include "analysis/nativeleak.h"
#include "model/source.h"
#include "util/common.h"
#include "util/pidmap.h"
#include "target/proc.h"
#include "target/features.h"

#include <errno.h>
#include <malloc.h>
#include <sys/stat.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Non-Python pids are remembered so a scan does not re-read their maps every refresh. */
#define NEG_CACHE_MAX 65536
/* ...but looked at again after this long: a process can load libpython later (embedding). */
#define NEG_CACHE_TTL_S 30.0
#define MAX_ROWS 4096
#define GC_PROBES_MAX_LIST 4096

struct neg_entry {
	pid_t pid;
	uint64_t start_time;
	uint64_t exe_ino; /* execve() keeps pid and start time: the executable tells programs apart */
	double seen;
};

static uint64_t exe_ino(pid_t pid)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	return stat(path, &sb) ? 0 : (uint64_t)sb.st_ino;
}

/*
 * A process caught between fork and exec, or while ld.so is still mapping libpython, is not
 * Python *yet*; exec keeps its pid and start time, so no verdict on a young process may stick.
 */
static bool young(uint64_t start_ticks)
{
	long hz = sysconf(_SC_CLK_TCK);
	struct timespec ts;

	if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &ts))
		return false;
	return ts.tv_sec + ts.tv_nsec / 1e9 - (double)start_ticks / hz < 3.0;
}

struct collector {
	struct collector_opts opts;
	pid_t *pids;
	struct gc_probes *probes;
	struct alloc_probes *alloc; /* NULL: no allocation rates */
	struct native_probes *native; /* NULL: no native sampling (top --native) */
	struct sites *sites;	    /* NULL: no allocation sites */
	struct groups *groups;	    /* process families, their history across recycled workers */
	struct analysis_round round; /* what this refresh's rows share (--group: the selected ones) */
	struct proc_row **rows;
	int nrows;
	struct pidmap live; /* pid -> its row not marked exited (find_row) */
	struct proc_row **view; /* the snapshot's row array */
	struct neg_entry *neg;
	int nneg;
	struct pidmap negidx; /* pid -> 1 + its index in neg */
	uint64_t seq;
	double last_refresh;
	struct rusage last_ru;
	double last_ru_time;
	char missing[1024];
};

static int neg_find(struct collector *c, pid_t pid)
{
	return (int)(uintptr_t)pidmap__get(&c->negidx, pid) - 1;
}

/* The slot for pid's verdict: its old one, or a new one (-1: the cache is full or out of memory). */
static int neg_slot(struct collector *c, pid_t pid)
{
	int k = neg_find(c, pid);

	if (k >= 0 || c->nneg >= NEG_CACHE_MAX)
		return k;
	if (pidmap__put(&c->negidx, pid, (void *)(uintptr_t)(c->nneg + 1)))
		return -1;
	c->neg[c->nneg].pid = pid;
	return c->nneg++;
}

static void neg_remove(struct collector *c, int k)
{
	pidmap__del(&c->negidx, c->neg[k].pid, NULL);
	c->neg[k] = c->neg[--c->nneg];
	if (k < c->nneg)
		pidmap__put(&c->negidx, c->neg[k].pid, (void *)(uintptr_t)(k + 1)); /* replaces: no allocation */
}

int collector__new(const struct collector_opts *opts, struct collector **out)
{
	struct collector *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	c->opts = *opts;
	if (c->opts.interval_s <= 0)
		c->opts.interval_s = 1.0;
	if (!c->opts.analysis.cpu_budget)
		analysis__default_opts(&c->opts.analysis);
	if (opts->npids) {
		c->pids = malloc(opts->npids * sizeof(pid_t));
		if (!c->pids) {
			free(c);
			return -ENOMEM;
		}
		memcpy(c->pids, opts->pids, opts->npids * sizeof(pid_t));
		c->opts.pids = c->pids;
	}
	c->rows = calloc(MAX_ROWS, sizeof(*c->rows));
	c->view = calloc(MAX_ROWS, sizeof(*c->view));
	c->neg = calloc(NEG_CACHE_MAX, sizeof(*c->neg));
	c->groups = groups__new();
	if (!c->rows || !c->view || !c->neg || !c->groups) {
		err = -ENOMEM;
		goto fail;
	}
	if (!opts->no_bpf) {
		struct gc_probes_opts po = { .no_events = opts->on_gc_event == NULL };

		err = gc_probes__open(&c->probes, &po);
		if (err) {
			pr_err("cannot load the BPF programs: %s (%s); Linux 5.8+ with BTF and CAP_BPF are needed, "
			       "or run with --no-bpf for exact GC counters without pause times",
			       strerror(-err), err == -EPERM ? "no permission" : "BPF unavailable");
			goto fail;
		}
		if (!opts->no_sites) {
			struct sites_opts so = { .no_survivors = opts->no_survivors };

			err = sites__open(&c->sites, &so);
			if (err) {
				pr_err("cannot load the allocation-site probes: %s", strerror(-err));
				goto fail;
			}
		}
		if (opts->native) {
			err = native_probes__open(&c->native, &opts->native_opts);
			if (err)
				goto fail; /* native_probes__open said why */
		}
		if (opts->alloc.mode != ALLOC_MODE_OFF) {
			err = alloc_probes__open(&c->alloc, &opts->alloc);
			if (err) {
				pr_err("cannot load the allocation probes: %s", strerror(-err));
				goto fail;
			}
		}
	}
	getrusage(RUSAGE_SELF, &c->last_ru);
	c->last_ru_time = now_wall();
	*out = c;
	return 0;
fail:
	collector__free(c);
	return err;
}

void collector__set_interval(struct collector *c, double interval_s)
{
	c->opts.interval_s = interval_s;
}

/*
 * Native samples are verified by a walk of the glibc heap (analysis/mallocheap.h) every
 * NATIVE_WALK_INTERVAL_S, not every refresh: a walk reads the heap's chunk headers (a few ms per
 * 10 MB of heap, bounded by MH_DEFAULT_MAX_BYTES).
 */
#define NATIVE_WALK_INTERVAL_S 5.0

static void native_refresh(struct collector *c, struct proc_row *row, double now)
{
	struct mallocheap_input *in = malloc(sizeof(*in));
	struct proc_map *maps = NULL;
	struct mallocheap h = { 0 };
	struct remote r;
	int n;

	row->native_walk_time = now;
	if (!in)
		return;
	n = proc__read_maps(row->target.pid, &maps);
	if (n < 0)
		goto out;
	mallocheap__input_from_maps(maps, n, in);
	remote__init_pid(&r, row->target.pid);
	native_report__free(&row->native);
	row->native_valid = !native_probes__read(c->native, row->target.pid, &row->native);
	if (!row->native_valid)
		goto out;
	if (!mallocheap__walk(&r, in, &h)) {
		nativeleak__verify(&row->native, &h, now_mono_ns());
		native_probes__keep(c->native, row->target.pid, &row->native);
		row->native_heap_in_use = h.in_use_bytes;
	} else {
		nativeleak__verify(&row->native, NULL, now_mono_ns());
	}
out:
	mallocheap__free(&h);
	free(maps);
	free(in);
}

static void row_free(struct proc_row *row)
{
	if (!row)
		return;
	if (row->stat_fd >= 0)
		close(row->stat_fd);
	sites_report__free(&row->sites);
	native_report__free(&row->native);
	analysis__free(row);
	free(row);
}

void collector__free(struct collector *c)
{
	int i;

	if (!c)
		return;
	sites__destroy(c->sites);
	native_probes__destroy(c->native);
	alloc_probes__destroy(c->alloc);
	gc_probes__destroy(c->probes);
	for (i = 0; i < c->nrows; i++)
		row_free(c->rows[i]);
	free(c->rows);
	free(c->view);
	free(c->neg);
	pidmap__fini(&c->live);
	pidmap__fini(&c->negidx);
	groups__free(c->groups);
	free(c->pids);
	free(c);
}

/* This refresh's /proc/PID/stat of the row: from its held fd, or by path when it has none. */
static bool row_stat(struct proc_row *row)
{
	return !(row->stat_fd >= 0 ? proc__stat_fd(row->stat_fd, &row->stat) : proc__stat(row->target.pid, &row->stat));
}

static struct proc_row *find_row(struct collector *c, pid_t pid)
{
	return pidmap__get(&c->live, pid);
}

static void attach_probes(struct collector *c, struct proc_row *row)
{
	struct py_target *t = &row->target;
	int i, err = 0, spec, attached = 0;

	if (!c->probes || row->probes_attached)
		return;
	switch (t->tier) {
	case GC_TIER_USDT:
		err = gc_probes__attach_usdt(c->probes, t->runtime_path);
		attached = !err;
		/* The young-list sample rides on the same gc__start probe. */
		if (!err && c->alloc)
			alloc_probes__attach_usdt(c->alloc, t->runtime_path);
		break;
	case GC_TIER_UPROBE:
		for (i = 0; i < t->ncollectors; i++) {
			spec = gc_collector_gen_spec(t->minor, t->collector_syms[i]);
			if (spec < 0)
				continue;
			err = gc_probes__attach_collector(c->probes, t->runtime_path, t->collector_offsets[i], spec);
			if (err)
				break;
			if (c->alloc)
				alloc_probes__attach_collector(c->alloc, t->runtime_path, t->collector_offsets[i], spec);
			attached++;
		}
		break;
	default:
		attached = 1; /* the poll sampler follows set_target */
		break;
	}
	if (err || !attached) {
		snprintf(row->note, sizeof(row->note), "cannot attach %s probes: %s; counting from memory only",
			 gc_tier__name(t->tier), strerror(err ? -err : ENOENT));
		t->tier = GC_TIER_POLL;
	}
	row->probes_attached = true;
}

static void register_target(struct collector *c, struct proc_row *row)
{
	struct py_target *t = &row->target;
	struct gc_target_cfg cfg = {
		.stats_addr = t->gc_stats_addr,
		.collecting_addr = t->gc_collecting_addr,
		.poll = t->tier == GC_TIER_POLL,
	};
	int err;

	if (!c->probes)
		return;
	python__gc_rings(t, &cfg.stats_rings, cfg.ring_off, cfg.index_off, cfg.ring_len, &cfg.rec_size,
			 &cfg.rec_collections);
	err = gc_probes__set_target(c->probes, t->pid, &cfg);
	if (err)
		snprintf(row->note, sizeof(row->note), "cannot register with the probes: %s", strerror(-err));
	if (c->native && (err = native_probes__add(c->native, t)))
		snprintf(row->note, sizeof(row->note), "no native sampling: %s",
			 err == -ENOTSUP ? "no glibc malloc" : strerror(-err));
	if (c->alloc && py_features__has(t, PYF_ALLOC) && (err = alloc_probes__set_target(c->alloc, t)))
		snprintf(row->note, sizeof(row->note), "no allocation rates: %s", strerror(-err));
	/* Sites ride on the collection-start probe: the poll tier has none. */
	if (c->sites && py_features__has(t, PYF_SITES) && (err = sites__add_target(c->sites, t)))
		snprintf(row->note, sizeof(row->note), "no allocation sites: %s", strerror(-err));
}

static bool wanted(struct collector *c, pid_t pid)
{
	int i;

	if (!c->opts.npids)
		return true;
	for (i = 0; i < c->opts.npids; i++)
		if (c->opts.pids[i] == pid)
			return true;
	return false;
}

static void note_missing(struct collector *c, pid_t pid, const char *why)
{
	size_t len = strlen(c->missing);

	snprintf(c->missing + len, sizeof(c->missing) - len, "%spid %d: %s", len ? "; " : "", pid, why);
}

static void add_process(struct collector *c, pid_t pid, double now)
{
	struct proc_row *row;
	int err, k;

	if (c->nrows >= MAX_ROWS)
		return;
	row = calloc(1, sizeof(*row));
	if (!row)
		return;
	row->stat_fd = -1;
	err = python__inspect(pid, &row->target);
	if (err || !row->target.supported ||
	    (c->opts.container && strncmp(row->target.container_id, c->opts.container, strlen(c->opts.container)))) {
		if (c->opts.npids && c->opts.strict_pids) {
			if (err == -ESRCH)
				note_missing(c, pid, "no such process");
			else if (err == -ENOENT)
				note_missing(c, pid, row->target.why[0] ? row->target.why : "not a CPython process");
			else if (err)
				note_missing(c, pid, strerror(-err));
			else if (!row->target.supported)
				note_missing(c, pid, row->target.why);
		}
		if (err == -ENOENT || (!err && !row->target.supported) || (!err && c->opts.container)) {
			uint64_t st = 0;

			proc__start_time(pid, &st);
			k = young(st) ? -1 : neg_slot(c, pid);
			if (k >= 0) {
				c->neg[k].start_time = st;
				c->neg[k].exe_ino = exe_ino(pid);
				c->neg[k].seen = now;
			}
		}
		free(row);
		return;
	}
	/* --no-bpf: nothing measures pauses, so no tier may claim to (gc_source "none"). */
	if (!c->probes)
		row->target.tier = GC_TIER_NONE;
	row->first_seen = now;
	{
		struct proc_status st;

		if (!proc__read_status(pid, &st))
			row->ppid = st.ppid;
	}
	row->garbage = -1;
	row->live_objects = -1;
	if (pidmap__put(&c->live, pid, row)) {
		free(row);
		return;
	}
	/* Held open: each refresh reads it with one pread instead of a path walk. Opened after the
	 * inspection, so a pid reused in between is read here as the new process: the start time
	 * that every refresh still compares tells it apart. Without fds to spare (EMFILE), each
	 * refresh opens the file by path as before. */
	row->stat_fd = proc__open_stat(pid);
	if (row->stat_fd < 0)
		row->stat_fd = -1;
	c->rows[c->nrows++] = row;
	attach_probes(c, row);
}

static void scan(struct collector *c, double now)
{
	pid_t *pids = NULL;
	int n, i, k;

	if (c->opts.npids) {
		for (i = 0; i < c->opts.npids; i++)
			if (!find_row(c, c->opts.pids[i]) && neg_find(c, c->opts.pids[i]) < 0)
				add_process(c, c->opts.pids[i], now);
		return;
	}
	/* Verdicts expire: drop old ones so the cache stays small and dead pids do not linger. */
	for (i = k = 0; i < c->nneg; i++)
		if (now - c->neg[i].seen < NEG_CACHE_TTL_S)
			c->neg[k++] = c->neg[i];
	if (k < c->nneg) {
		c->nneg = k;
		pidmap__clear(&c->negidx); /* same or fewer entries: the puts below cannot fail */
		for (i = 0; i < c->nneg; i++)
			pidmap__put(&c->negidx, c->neg[i].pid, (void *)(uintptr_t)(i + 1));
	}
	n = proc__list_pids(&pids);
	if (n < 0)
		return;
	for (i = 0; i < n; i++) {
		uint64_t st;

		if (pids[i] == getpid() || !wanted(c, pids[i]) || find_row(c, pids[i]))
			continue;
		k = neg_find(c, pids[i]);
		if (k >= 0) {
			/* Same process, recently judged: skip. A reused pid or an old verdict: look again. */
			if (now - c->neg[k].seen < NEG_CACHE_TTL_S && !proc__start_time(pids[i], &st) &&
			    st == c->neg[k].start_time && exe_ino(pids[i]) == c->neg[k].exe_ino)
				continue;
			neg_remove(c, k);
		}
		add_process(c, pids[i], now);
	}
	free(pids);
}

static void read_row(struct collector *c, struct proc_row *row, double now, double dt)
{
	struct py_target *t = &row->target;
	struct py_gc_state gc;
	struct gc_kstats ks;
	struct remote r;
	struct proc_sample s;
	bool have_ks = false, gc_read;
	int g, err;

	remote__init_pid(&r, t->pid);
	if (!row->gc_ready) {
		err = python__resolve_gc(t, &r);
		if (err == -EAGAIN) {
			snprintf(row->note, sizeof(row->note), "interpreter still starting");
			return;
		}
		if (err) {
			snprintf(row->note, sizeof(row->note), "cannot find the GC state: %s", strerror(-err));
			return;
		}
		row->gc_ready = true;
		row->note[0] = '\0';
		register_target(c, row);
	}
	if (!row->stat_ok && !row->exited) /* a process found by this refresh's scan */
		row->stat_ok = row_stat(row);
	/* A zombie has no address space left (vsize 0): saying 0 B would make a process that just
	 * exited look like it freed everything (a huge negative RSS slope). */
	if (row->stat_ok && row->stat.vsize)
		row->rss = row->stat.rss_bytes;
	/* a worker is reparented when its master dies: ppid is read every refresh */
	if (row->stat_ok && !row->exited)
		row->ppid = row->stat.ppid;
	if (c->probes && !gc_probes__read(c->probes, t->pid, &ks))
		have_ks = true;
	err = python__read_gc(t, &r, &gc);
	row->gc_read_ns = now_mono_ns();
	gc_read = !err; /* gc.count[0] is this refresh's young count (the allocation figures use it) */
	if (err && have_ks && ks.stats_valid) {
		/* The process may be gone: the kernel's last read is still exact. */
		for (g = 0; g < MODEL_NGEN; g++) {
			gc.collections[g] = ks.collections[g];
			gc.collected[g] = ks.collected[g];
			gc.uncollectable[g] = ks.uncollectable[g];
		}
		err = 0;
	}
	if (err == -ENOTSUP && have_ks && t->degraded) {
		/* Day one: generation_stats is not described by _Py_DebugOffsets, but every
		 * collection passed gc__start/done: count those (since attach, features say so). */
		for (g = 0; g < MODEL_NGEN; g++)
			gc.collections[g] = ks.pause[g].count;
		gc.enabled = 1;
		gc.garbage_len = -1;
		err = 0;
	}
	if (err) {
		if (err == -EPROTO)
			snprintf(row->note, sizeof(row->note), "GC state fails the layout check: refusing to show it");
		return;
	}
	for (g = 0; g < MODEL_NGEN; g++) {
		if (row->gc_valid) {
			row->d_collections[g] = gc.collections[g] - row->collections[g];
			row->d_collected[g] = gc.collected[g] - row->collected[g];
			row->d_uncollectable[g] = gc.uncollectable[g] - row->uncollectable[g];
			row->gc_per_s[g] = dt > 0 ? row->d_collections[g] / dt : 0;
		}
		row->collections[g] = gc.collections[g];
		row->collected[g] = gc.collected[g];
		row->uncollectable[g] = gc.uncollectable[g];
		row->thresholds[g] = gc.threshold[g];
		row->counts[g] = gc.count[g];
	}
	row->garbage = gc.garbage_len;
	row->enabled = gc.enabled;
	row->gc_collecting = gc.collecting != 0;
	row->gc_valid = true;

	/* a property of the tier, known before the kernel's first read of this process */
	row->pauses_estimated = t->tier == GC_TIER_POLL;
	if (have_ks) {
		uint64_t prev_ns = row->gc_ns_total;

		if (row->pauses_estimated) {
			/* Each cpu-clock sample stands for 1/HZ s of a thread on CPU with `collecting` set. */
			row->gc_ns_total = ks.poll_collecting * (1000000000ull / GC_PROBES_POLL_HZ);
		} else {
			row->gc_ns_total = ks.gc_ns_total;
			row->pauses_unknown_gen = ks.unknown_gen;
			for (g = 0; g < MODEL_NGEN; g++) {
				memcpy(row->pause_hist[g], ks.pause[g].hist, sizeof(row->pause_hist[g]));
				pause_summary__from_hist(&row->pause[g], ks.pause[g].hist, MODEL_HIST_SLOTS,
							 ks.pause[g].count, ks.pause[g].sum_ns, ks.pause[g].max_ns);
			}
		}
		if (row->nhistory && dt > 0)
			row->gc_time_pct = (row->gc_ns_total - prev_ns) / (dt * 1e9) * 100.0;
	}
	if (row->pauses_estimated) {
		/* Counts are exact (generation_stats); time is split over the generations collected since
		 * attach in proportion to their counts: labelled estimated everywhere it is shown. */
		int64_t total = 0;

		for (g = 0; g < MODEL_NGEN; g++) {
			row->pause[g].count += row->nhistory ? row->d_collections[g] : 0;
			total += row->pause[g].count;
		}
		for (g = 0; g < MODEL_NGEN; g++) {
			row->pause[g].estimated = true;
			row->pause[g].sum_us = total ? row->gc_ns_total / 1000 * row->pause[g].count / total : 0;
		}
	}

	if (c->alloc && !row->exited)
		row->alloc_valid = !alloc_probes__read(c->alloc, t->pid, gc_read ? gc.count[0] : -1, &row->alloc);
	if (c->native && !row->exited && now - row->native_walk_time >= NATIVE_WALK_INTERVAL_S)
		native_refresh(c, row, now);
	if (c->sites && !row->exited && t->tier != GC_TIER_POLL) {
		sites_report__free(&row->sites);
		row->sites_valid = !sites__read(c->sites, t->pid, &row->sites);
	}
	/* --group: censuses only for the selected families (a new worker joins at its next refresh) */
	if (!c->opts.no_analysis && !row->exited && (!c->opts.group || row->group_id))
		analysis__update(row, &r, &c->opts.analysis, &c->round, now);

	memset(&s, 0, sizeof(s));
	s.time = now;
	s.rss = row->rss;
	for (g = 0; g < MODEL_NGEN; g++)
		s.collections[g] = row->collections[g];
	s.garbage = row->garbage;
	s.gc_ns = row->gc_ns_total;
	s.live_objects = row->live_objects;
	proc_row__push_sample(row, &s);
	row->rss_per_min = proc_row__rss_slope_per_min(row, 60.0);
	row->last_update = now;
}

static void self_usage(struct collector *c, struct snapshot *snap, double now)
{
	struct rusage ru;
	double used, dt = now - c->last_ru_time;

	getrusage(RUSAGE_SELF, &ru);
	used = (ru.ru_utime.tv_sec - c->last_ru.ru_utime.tv_sec) + (ru.ru_utime.tv_usec - c->last_ru.ru_utime.tv_usec) / 1e6 +
	       (ru.ru_stime.tv_sec - c->last_ru.ru_stime.tv_sec) + (ru.ru_stime.tv_usec - c->last_ru.ru_stime.tv_usec) / 1e6;
	/* The first refresh follows start-up closely: no meaningful rate yet. */
	snap->self_cpu_pct = dt > 0.05 ? used / dt * 100.0 : 0;
	snap->self_rss = (uint64_t)ru.ru_maxrss * 1024;
	proc__rss_bytes(getpid(), &snap->self_rss);
	c->last_ru = ru;
	c->last_ru_time = now;
}

/*
 * System-wide probes count every process that runs a probed binary, including ones we do not
 * show (not selected, or already gone): drop those so the kernel's 4096-pid map never fills.
 */
static void forget_strangers(struct collector *c)
{
	pid_t pids[GC_PROBES_MAX_LIST];
	int n, i;

	if (!c->probes)
		return;
	n = gc_probes__list_pids(c->probes, pids, GC_PROBES_MAX_LIST);
	for (i = 0; i < n && i < GC_PROBES_MAX_LIST; i++)
		if (!find_row(c, pids[i])) {
			gc_probes__forget(c->probes, pids[i]);
			if (c->alloc)
				alloc_probes__forget(c->alloc, pids[i]);
		}
}

int collector__refresh(struct collector *c, struct snapshot *snap)
{
	double now = now_wall(), dt = c->last_refresh ? now - c->last_refresh : 0;
	int i, j, dropped = 0;

	/* Drop rows marked exited at the previous refresh, then mark newly exited ones. */
	for (i = j = 0; i < c->nrows; i++) {
		struct proc_row *row = c->rows[i];

		if (row->exited) {
			if (c->probes)
				gc_probes__forget(c->probes, row->target.pid);
			if (c->alloc)
				alloc_probes__forget(c->alloc, row->target.pid);
			if (c->native)
				native_probes__forget(c->native, row->target.pid);
			if (c->sites)
				sites__forget(c->sites, row->target.pid);
			row_free(row);
			dropped++;
			continue;
		}
		c->rows[j++] = row;
	}
	c->nrows = j;
	/*
	 * A row and its analysis state are ~100 small and medium blocks (the row itself is 70 KiB, the
	 * census's type and holder caches are many small strings) spread over the heap between the
	 * rows of processes still alive: free() returns only the heap's top to the kernel, so under
	 * churn the freed middle stays resident (measured: 28.5 MB free inside a 50 MB heap after a
	 * 45 s churn of 10 processes/s, all gone). malloc_trim() gives those whole free pages back
	 * (MADV_DONTNEED); once per refresh that dropped rows, not per row (a few ms on a 50 MB heap).
	 */
	if (dropped)
		malloc_trim(0);
	if (c->sites)
		sites__snapshot(c->sites); /* one walk of the stack keys for all the rows read below */
	for (i = 0; i < c->nrows; i++) {
		struct proc_row *row = c->rows[i];

		row->stat_ok = row_stat(row);
		if (!row->stat_ok || !python__alive_with(&row->target, &row->stat)) {
			/* a reused pid is another process: nothing of its stat is this row's */
			row->stat_ok = row->stat_ok && row->stat.start_ticks == row->target.start_time;
			/* Take what the kernel still knows, then show it once as exited. */
			read_row(c, row, now, dt);
			row->exited = true;
			pidmap__del(&c->live, row->target.pid, row);
			if (c->opts.on_exit)
				c->opts.on_exit(row, c->opts.ctx);
		}
	}
	scan(c, now);
	forget_strangers(c);
	/* The census budget is shared by the processes that get censuses: not those outside the
	 * selected family, not the idle ones (analysis.c skips them until their GC state moves). */
	memset(&c->round, 0, sizeof(c->round));
	for (i = 0; i < c->nrows; i++) {
		bool in = !c->opts.group || c->rows[i]->group_id != 0;

		/* a process not censused yet waits for the first-census allowance, not the budget;
		 * one censused for the first time at the previous refresh is told idle or not first */
		c->round.ncensused += in && c->rows[i]->census_time && !c->rows[i]->census_idle_since &&
				      !c->rows[i]->census_unjudged;
		c->round.nidle += in && c->rows[i]->census_idle_since;
	}
	for (i = 0; i < c->nrows; i++)
		if (!c->rows[i]->exited)
			read_row(c, c->rows[i], now, dt);

	memset(snap, 0, sizeof(*snap));
	snap->time = now;
	snap->interval_s = c->opts.interval_s;
	snap->seq = ++c->seq;
	snap->census_waiting = c->round.nfirst_waiting;
	gethostname(snap->host, sizeof(snap->host) - 1);
	for (i = 0; i < c->nrows; i++) {
		c->view[i] = c->rows[i];
		snap->tiers |= 1u << c->rows[i]->target.tier;
	}
	snap->rows = c->view;
	snap->nrows = c->nrows;
	groups__update(c->groups, snap);
	groups__select(snap, c->opts.group);
	if (c->opts.group) {
		/* rows outside the selection forget their family: read_row() skips their censuses */
		for (i = 0; i < c->nrows; i++) {
			const struct group_row *g = snapshot__group(snap, c->rows[i]->group_id);

			if (!g)
				c->rows[i]->group_id = 0;
		}
	}
	if (c->probes) {
		snap->dropped_events = gc_probes__dropped(c->probes);
		snap->attachments = gc_probes__attachments(c->probes);
	}
	self_usage(c, snap, now);
	c->last_refresh = now;
	return 0;
}

void collector__wait(struct collector *c, long ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)ms * 1000000ull;

	while (!exiting) {
		uint64_t t = now_mono_ns();
		long left;

		if (t >= end)
			break;
		left = (long)((end - t) / 1000000ull);
		if (left > 100)
			left = 100;
		/* The allocation budget scheduler ends its slices on time: wake when it needs to. */
		if (c->alloc) {
			long need = alloc_probes__tick(c->alloc);

			if (need > 0 && need < left)
				left = need;
		}
		if (c->native) {
			long need = native_probes__tick(c->native);

			if (need > 0 && need < left)
				left = need;
		}
		if (c->probes && c->opts.on_gc_event)
			gc_probes__poll_events(c->probes, (int)left, c->opts.on_gc_event, c->opts.ctx);
		else
			sleep_interruptible_ms(left ? left : 1);
	}
}

int collector__missing(const struct collector *c, char *buf, size_t sz)
{
	if (!c->missing[0])
		return 0;
	copy_str(buf, sz, c->missing);
	return 1;
}

static int src_refresh(void *ctx, struct snapshot *snap)
{
	return collector__refresh(ctx, snap);
}

static void src_wait(void *ctx, long ms)
{
	collector__wait(ctx, ms);
}

static void src_set_interval(void *ctx, double interval_s)
{
	collector__set_interval(ctx, interval_s);
}

static bool src_done(void *ctx)
{
	(void)ctx;
	return false;
}

void source__from_collector(struct snapshot_source *s, struct collector *c)
{
	s->next_snapshot = src_refresh;
	s->wait = src_wait;
	s->set_interval = src_set_interval;
	s->done = src_done;
	s->ctx = c;
}
