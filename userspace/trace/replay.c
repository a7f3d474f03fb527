/* SPDX-License-Identifier: BSD-2-Clause */
/* `top --replay`: turn a recorded trace back into the snapshots the live views render. */
#include "trace/replay.h"
#include "trace/replay_internal.h"
#include "model/groups.h"
#include "util/common.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * A replay steps through the recording one recorded interval at a time: step k shows every
 * process that had a sample at or before start + k*interval (the last step: the end) and was
 * still seen then, with the
 * figures of its newest such sample, per-refresh deltas against the previous one, and the types
 * and suspects recorded at that time.
 */
struct replay {
	const struct trace *t;
	double speed, interval, start, end;
	int step, nsteps;
	struct proc_row **rows; /* one per trace process, reused */
	struct proc_row **view;
	struct groups *groups; /* families regrouped from the recorded membership */
	pid_t *parent;	       /* per trace process: its recorded parent if in a family, 0 none */
	struct replay_sites *sites; /* per trace process */
};

int replay__new(const struct trace *t, double speed, struct replay **out)
{
	struct replay *r;
	int i;

	if (t->nprocs <= 0 || t->nprocs > TRACE_MAX_PROCS)
		return -ENODATA;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->t = t;
	r->speed = speed > 0 ? speed : 1;
	r->interval = t->meta.interval_s > 0 ? t->meta.interval_s : 1;
	r->start = t->meta.start_time;
	r->end = t->meta.end_time > r->start ? t->meta.end_time : r->start;
	for (i = 0; i < t->nprocs; i++)
		if (t->procs[i].nsamples && t->procs[i].samples[t->procs[i].nsamples - 1].time > r->end)
			r->end = t->procs[i].samples[t->procs[i].nsamples - 1].time;
	{
		/* Times and the interval come from the file: a hostile one makes the span NaN, infinite
		 * or past INT_MAX, and converting that to int is undefined (fuzz_trace_rows found it). */
		double span = (r->end - r->start) / r->interval;

		if (!isfinite(span) || span < 0)
			span = 0;
		/* A last partial interval is a step too (at the end time): the recording's final
		 * sample and census are what live showed last. */
		r->nsteps = span >= 10000000 - 1 ? 10000000 : (int)ceil(span - 1e-6) + 1;
	}
	r->rows = calloc((size_t)t->nprocs, sizeof(*r->rows));
	r->view = calloc((size_t)t->nprocs, sizeof(*r->view));
	r->parent = calloc((size_t)t->nprocs, sizeof(*r->parent));
	r->groups = groups__new();
	r->sites = calloc((size_t)t->nprocs, sizeof(*r->sites));
	if (!r->rows || !r->view || !r->parent || !r->groups || !r->sites) {
		replay__free(r);
		return -ENOMEM;
	}
	/* The families' members with their recorded parents: regrouped the way the live view grouped
	 * them (a process in no family needs no parent). */
	for (i = 0; i < t->ngroups; i++)
		for (int k = 0; k < t->groups[i].nmembers; k++)
			if (strcmp(t->groups[i].roles[k], "master"))
				r->parent[t->groups[i].members[k]] = t->groups[i].ppids[k] > 0 ? t->groups[i].ppids[k]
												  : t->groups[i].root_pid;
	for (i = 0; i < t->nprocs; i++) {
		r->rows[i] = calloc(1, sizeof(struct proc_row));
		if (!r->rows[i]) {
			replay__free(r);
			return -ENOMEM;
		}
	}
	if (replay_sites__build_all(t, r->sites)) {
		replay__free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

void replay__free(struct replay *r)
{
	int i;

	if (!r)
		return;
	for (i = 0; r->rows && i < r->t->nprocs; i++)
		free(r->rows[i]);
	for (i = 0; r->sites && i < r->t->nprocs; i++)
		replay_sites__free(&r->sites[i]);
	free(r->sites);
	free(r->rows);
	free(r->view);
	free(r->parent);
	groups__free(r->groups);
	free(r);
}

int replay__steps(const struct replay *r)
{
	return r->nsteps;
}

/* Index of the newest sample at or before t, or -1. */
static int sample_at(const struct trace_proc *p, double t)
{
	int lo = 0, hi = p->nsamples - 1, ans = -1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (p->samples[mid].time <= t + 1e-6) {
			ans = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return ans;
}

static void fill_aux(const struct trace *t, int pidx, double at, struct proc_row *row)
{
	const struct trace_aux *a;
	double best_t = -1;
	int i, n;

	/* Types: the newest recorded census at or before `at`. */
	n = t->naux[TRACE_TYPES];
	for (i = 0; i < n; i++) {
		a = &t->aux[TRACE_TYPES][i];
		if (a->proc == pidx && a->time <= at + 1e-6 && a->time > best_t)
			best_t = a->time;
	}
	row->ntypes = 0;
	for (i = 0; i < n && best_t >= 0 && row->ntypes < MODEL_MAX_TYPES; i++) {
		a = &t->aux[TRACE_TYPES][i];
		if (a->proc != pidx || a->time != best_t)
			continue;
		struct type_row *tr = &row->types[row->ntypes++];
		memset(tr, 0, sizeof(*tr));
		copy_str(tr->name, sizeof(tr->name), a->name ? a->name : "?");
		tr->count = a->count;
		tr->bytes = a->bytes;
		tr->per_min = a->per_min;
	}
	row->rows_seq = model__next_rows_seq();
	best_t = -1;
	n = t->naux[TRACE_SUSPECTS];
	for (i = 0; i < n; i++) {
		a = &t->aux[TRACE_SUSPECTS][i];
		if (a->proc == pidx && a->time <= at + 1e-6 && a->time > best_t)
			best_t = a->time;
	}
	row->nsuspects = 0;
	for (i = 0; i < n && best_t >= 0 && row->nsuspects < MODEL_MAX_SUSPECTS; i++) {
		a = &t->aux[TRACE_SUSPECTS][i];
		if (a->proc != pidx || a->time != best_t)
			continue;
		struct suspect *s = &row->suspects[row->nsuspects++];
		memset(s, 0, sizeof(*s));
		s->kind = !a->kind ? SUSPECT_TYPE
			: !strcmp(a->kind, "container") ? SUSPECT_CONTAINER
			: !strcmp(a->kind, "garbage") ? SUSPECT_GARBAGE
			: !strcmp(a->kind, "rss") ? SUSPECT_RSS : !strcmp(a->kind, "native") ? SUSPECT_NATIVE : SUSPECT_TYPE;
		copy_str(s->name, sizeof(s->name), a->name ? a->name : "?");
		copy_str(s->evidence, sizeof(s->evidence), a->text ? a->text : "");
		s->per_min = a->per_min;
		s->confidence = a->confidence;
	}
}

/*
 * The RSS breakdown: the newest memory row at or before `at`, as the live row kept the one of
 * its newest census with an arena scan. A file from before the detail columns gives the parts
 * and the allocator's bytes; the counts it did not record stay 0.
 */
static void fill_memory(const struct trace_proc *p, double at, struct memory_row *m)
{
	const struct trace_memory *tm = NULL;
	int lo = 0, hi = p->nmemory - 1;

	while (lo <= hi) { /* by time (trace.c orders them) */
		int mid = lo + (hi - lo) / 2;

		if (p->memory[mid].time <= at + 1e-6) {
			tm = &p->memory[mid];
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	memset(m, 0, sizeof(*m));
	if (!tm)
		return;
	m->valid = true;
	m->time = tm->time;
	/* The file's numbers: a negative one (hostile or damaged) is shown as 0, not as 2^64 - n. */
	m->rss = (uint64_t)MAX(tm->rss, 0);
	m->arenas = (uint64_t)MAX(tm->arenas, 0);
	m->heap = (uint64_t)MAX(tm->heap, 0);
	m->anon = (uint64_t)MAX(tm->anon, 0);
	m->stacks = (uint64_t)MAX(tm->stacks, 0);
	m->file = (uint64_t)MAX(tm->file, 0);
	m->other = (uint64_t)MAX(tm->other, 0);
	m->shared = (uint64_t)MAX(tm->shared, 0);
	m->swap = (uint64_t)MAX(tm->swap, 0);
	m->thread_stacks = tm->thread_stacks;
	copy_str(m->arena_source, sizeof(m->arena_source), tm->arena_source);
	copy_str(m->arena_why, sizeof(m->arena_why), tm->arena_why);
	m->arena_confidence = tm->arena_confidence;
	m->narenas = tm->narenas;
	m->arena_bytes = tm->arena_bytes;
	m->blocks_used = tm->blocks_used;
	m->blocks_free = tm->blocks_free;
	m->block_bytes_used = tm->block_bytes_used;
	m->block_bytes_free = tm->block_bytes_free;
	m->unused_pool_bytes = tm->unused_pool_bytes;
	m->tracked_bytes = tm->tracked_bytes;
	m->untracked_bytes = tm->untracked_bytes;
	m->untracked_objects = tm->untracked_objects;
	m->rss_per_min = tm->rss_per_min;
	m->arenas_per_min = tm->arenas_per_min;
	m->objects_per_min = tm->objects_per_min;
	m->malloc_per_min = tm->malloc_per_min;
	m->stacks_per_min = tm->stacks_per_min;
	m->file_per_min = tm->file_per_min;
}

static void fill_row(struct replay *r, int pidx, int si, double at)
{
	const struct trace_proc *p = &r->t->procs[pidx];
	const struct trace_sample *s = &p->samples[si], *prev = si > 0 ? &p->samples[si - 1] : NULL;
	struct proc_row *row = r->rows[pidx];
	double dt = prev ? s->time - prev->time : 0;
	int g;

	memset(row, 0, sizeof(*row));
	row->target.pid = p->pid;
	row->target.ns_pid = p->ns_pid;
	copy_str(row->target.comm, sizeof(row->target.comm), p->comm);
	copy_str(row->target.cmdline, sizeof(row->target.cmdline), p->cmdline);
	copy_str(row->target.exe, sizeof(row->target.exe), p->exe);
	copy_str(row->target.version, sizeof(row->target.version), p->python);
	copy_str(row->target.container_id, sizeof(row->target.container_id), p->container_id);
	row->target.tier = !strcmp(p->gc_source, "usdt") ? GC_TIER_USDT
			 : !strcmp(p->gc_source, "uprobe") ? GC_TIER_UPROBE
			 : !strcmp(p->gc_source, "poll") ? GC_TIER_POLL : GC_TIER_NONE;
	row->target.supported = true;
	row->target.start_time = p->start_ticks;
	row->ppid = r->parent[pidx];
	row->first_seen = p->first_seen;
	row->last_update = s->time;
	row->exited = p->exited && si == p->nsamples - 1 && at >= p->last_seen;
	row->gc_ready = row->gc_valid = s->gc_valid;
	row->rss = s->rss;
	row->garbage = s->garbage;
	row->enabled = s->enabled;
	row->gc_time_pct = s->gc_time_pct;
	row->gc_ns_total = s->gc_time_us * 1000;
	row->pauses_estimated = s->pauses_estimated;
	row->live_objects = s->live_objects;
	for (g = 0; g < MODEL_NGEN; g++) {
		row->collections[g] = s->collections[g];
		row->collected[g] = s->collected[g];
		row->uncollectable[g] = s->uncollectable[g];
		row->thresholds[g] = s->thresholds[g];
		row->counts[g] = s->counts[g];
		if (prev) {
			row->d_collections[g] = s->collections[g] - prev->collections[g];
			row->d_collected[g] = s->collected[g] - prev->collected[g];
			row->d_uncollectable[g] = s->uncollectable[g] - prev->uncollectable[g];
			row->gc_per_s[g] = dt > 0 ? row->d_collections[g] / dt : 0;
		}
		row->pause[g].count = s->pause_count[g];
		row->pause[g].sum_us = s->pause_sum_us[g];
		row->pause[g].max_us = s->pause_max_us[g] > 0 ? (uint64_t)s->pause_max_us[g] : 0;
		row->pause[g].estimated = s->pauses_estimated;
		/* Percentiles: the recorder keeps one cumulative histogram per process (the final one),
		 * so every step shows the percentiles of the whole recording. */
		{
			uint64_t v;
			int k;

			for (k = 0; k < MODEL_HIST_SLOTS; k++)
				row->pause_hist[g][k] = (uint32_t)MIN(p->hist[g][k], UINT32_MAX);
			if (!pause_hist__percentile(row->pause_hist[g], MODEL_HIST_SLOTS, 0.5, &v))
				row->pause[g].p50_us = MIN(v, row->pause[g].max_us);
			if (!pause_hist__percentile(row->pause_hist[g], MODEL_HIST_SLOTS, 0.99, &v))
				row->pause[g].p99_us = MIN(v, row->pause[g].max_us);
		}
	}
	/* History for the GC timeline and ΔRSS: the recorded samples up to this one. */
	{
		int k, first = si - MODEL_HISTORY + 1 < 0 ? 0 : si - MODEL_HISTORY + 1;

		for (k = first; k <= si; k++) {
			struct proc_sample ps;

			memset(&ps, 0, sizeof(ps));
			ps.time = p->samples[k].time;
			ps.rss = p->samples[k].rss;
			for (g = 0; g < MODEL_NGEN; g++)
				ps.collections[g] = p->samples[k].collections[g];
			ps.garbage = p->samples[k].garbage;
			ps.gc_ns = p->samples[k].gc_time_us * 1000;
			ps.live_objects = p->samples[k].live_objects;
			proc_row__push_sample(row, &ps);
		}
		row->rss_per_min = proc_row__rss_slope_per_min(row, 60.0);
	}
	fill_aux(r->t, pidx, at, row);
	fill_memory(p, at, &row->memory);
	replay_sites__fill(&r->sites[pidx], at, row);
}

static int replay_refresh(void *ctx, struct snapshot *snap)
{
	struct replay *r = ctx;
	double at;
	int i, n = 0;

	if (r->step >= r->nsteps)
		r->step = r->nsteps - 1; /* the end stays on screen */
	at = MIN(r->start + r->step * r->interval, r->end);
	memset(snap, 0, sizeof(*snap));
	for (i = 0; i < r->t->nprocs; i++) {
		const struct trace_proc *p = &r->t->procs[i];
		int si = sample_at(p, at);

		if (si < 0 || (p->exited && at > p->last_seen + r->interval))
			continue;
		fill_row(r, i, si, at);
		r->view[n++] = r->rows[i];
		snap->tiers |= 1u << r->rows[i]->target.tier;
	}
	snap->time = at;
	snap->interval_s = r->interval;
	snap->seq = (uint64_t)r->step + 1;
	copy_str(snap->host, sizeof(snap->host), r->t->meta.host);
	snap->rows = r->view;
	snap->nrows = n;
	snap->dropped_events = r->t->meta.ringbuf_dropped_events;
	groups__update(r->groups, snap);
	r->step++;
	return 0;
}

static void replay_wait(void *ctx, long ms)
{
	(void)ctx;
	sleep_interruptible_ms(ms);
}

static void replay_set_interval(void *ctx, double interval_s)
{
	struct replay *r = ctx;

	/* In a replay '+'/'-' change the playback speed: one recorded interval per refresh. */
	r->speed = r->interval / (interval_s > 0 ? interval_s : 1);
}

static bool replay_done(void *ctx)
{
	struct replay *r = ctx;

	return r->step >= r->nsteps;
}

void replay__source(struct snapshot_source *s, struct replay *r)
{
	s->next_snapshot = replay_refresh;
	s->wait = replay_wait;
	s->set_interval = replay_set_interval;
	s->done = replay_done;
	s->ctx = r;
}
