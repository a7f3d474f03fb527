/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-process analysis on top of the GC model: periodic censuses, growth trends, leak verdicts. */
#include "analysis/analysis.h"
#include "target/features.h"
#include "analysis/census.h"
#include "analysis/chains.h"
#include "util/common.h"
#include "analysis/holders.h"
#include "analysis/leak.h"
#include "analysis/memory.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Series kept per process; the least interesting are evicted (bounded memory per target). */
#define MAX_TYPE_SERIES 256
#define MAX_CONTAINER_SERIES 64
/* Series slots: the census's largest containers plus the root walk's (untracked ones are in no
 * census), with room to spare so that neither evicts the other's series every census. */
#define MAX_ROOT_SERIES 32
#define CONTAINER_SLOTS (MAX_CONTAINER_SERIES + MAX_ROOT_SERIES + 32)

struct tseries {
	struct leak_series s;
	int64_t count, bytes, prev_count;
	double bytes_per_min;
	uint64_t addr; /* containers: the object; 0 for types */
	uint64_t type_addr;
	char type[64];
	bool named; /* containers: s.name is the holder's name */
	bool in_last; /* seen in the newest census */
	bool from_roots; /* containers: found by the root walk (holders__containers), kept between walks */
	bool untracked;	 /* containers: the GC does not track it */
};

/* GC facts at each census, for the "full collections free nothing" evidence. */
#define MAX_MARKS 64
#define NCOST 5
struct gc_mark {
	double t;
	int64_t collections2, collected2, live;
};

struct analysis {
	struct pyobj_types *types; /* type-name cache across censuses */
	struct holders *holders;   /* container names, cached per address */
	double census_at, next_idle_check; /* census_at: the last census (0: none yet) */
	/* before the first census: the GC state at the previous refresh, to see it move */
	bool seen;
	int64_t seen_collections[MODEL_NGEN], seen_counts[MODEL_NGEN];
	double last_census_s;
	struct tseries *tser; /* MAX_TYPE_SERIES */
	int ntser;
	struct tseries *cser; /* CONTAINER_SLOTS */
	int ncser;
	struct leak_series garbage, rss, tracked;
	/* Verdicts on types and containers change only when a census runs: kept between censuses. */
	double cost[NCOST]; /* CPU seconds of the last censuses (with holder walks) */
	int ncost, cost_head;
	struct gc_mark marks[MAX_MARKS];
	int nmarks, mark_head;
	int ncensus_suspects;
	struct suspect census_suspects[MODEL_MAX_SUSPECTS];
	struct survivors surv; /* survivor samples followed across censuses */
	bool surv_ready;
	/* Untracked objects per type, from the censuses that scan the arenas (their own cadence). */
	struct tseries *user; /* MAX_TYPE_SERIES */
	int nuser;
	double next_arena_census, next_roots;
	struct holders_container *roots; /* MAX_ROOT_CONTAINERS, from the last root walk */
	int nroots;
	double arena_cost[NCOST];
	int narena_cost, arena_cost_head;
	struct memory_trends *mem;
	/* What the GC state said at the last census: unchanged since, a census would find the same. */
	bool fp_valid;
	int64_t fp_collections[MODEL_NGEN], fp_counts[MODEL_NGEN];
	uint64_t fp_rss, fp_cpu_ns; /* fp_cpu_ns: the target's user+system CPU then */
	double fp_time;
	struct chains *chains; /* retention chains of the type suspects, cached per type */
};

/*
 * A census costs a walk of the whole heap; the GC state read every refresh tells for free whether
 * anything could have changed: no collection ran, the young count (allocations minus
 * deallocations of tracked objects since the last collection) is the same and so is the RSS.
 * Such a process keeps its last census (its series get no point: an idle stretch is no
 * evidence either way) and its share of the census budget goes to the others.
 */
/*
 * ... but not forever: untracked objects (str, bytes, int) move neither the GC state nor, below a
 * page, the RSS, and a reference can move without an allocation (the chains' re-check rides on
 * the census). An idle process is censused again after this long: the staleness of what it shows
 * stays bounded, at a cost of one census a minute per idle process (within the budget anyway).
 */
#define IDLE_RECENSUS_S 60.0
/*
 * And a process that works is not idle: from 3.12 the young count is net (a freed object gives
 * its count back), so a service whose requests allocate only what they free keeps its GC state
 * still while it runs. A process that used more than this share of a core since its census is
 * censused as usual (sleeping services wake a few times a second: far below).
 */
#define IDLE_MAX_CPU_SHARE 0.01

/* From this refresh's /proc/PID/stat (collect.c reads it before the GC state): none if gone. */
static int target_cpu_ns(const struct proc_row *row, uint64_t *ns)
{
	if (!row->stat_ok)
		return -ESRCH;
	*ns = row->stat.user_ns + row->stat.sys_ns;
	return 0;
}

static double median_of(const double *cost, int ncost)
{
	double v[NCOST], t;
	int i, j;

	for (i = 0; i < ncost; i++)
		v[i] = cost[i];
	for (i = 1; i < ncost; i++)
		for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	/* The lower median; the first census (cold type cache, first holder walk) is no measure
	 * of the steady cost at all. */
	return ncost > 1 ? v[(ncost - 1) / 2] : 0;
}

/*
 * The idle processes' recensuses have their own share of the census budget: with hundreds of them
 * one a minute each would be the whole budget several times over (200 idle targets: 11% of a
 * core). Past IDLE_RECENSUS_S their interval stretches with their number, up to
 * IDLE_RECENSUS_MAX_S; and it is spread over another half by pid, so that processes started
 * together are not recensused in one burst.
 */
#define IDLE_SHARE 0.25
#define IDLE_RECENSUS_MAX_S 600.0

static double idle_recensus_s(const struct analysis *a, const struct proc_row *row, const struct analysis_opts *o,
			      int nidle)
{
	double budget = (o->cpu_budget > 0 ? o->cpu_budget : 0.02) * IDLE_SHARE;
	/* A recensus is due its root walk and arena scan by then (most of its cost on a small heap):
	 * after a single census, its cold cost (which had both) is the estimate. */
	double cost = (a->ncost == 1 ? a->cost[0] : a->last_census_s) +
		      (a->narena_cost == 1 ? a->arena_cost[0] : median_of(a->arena_cost, a->narena_cost));
	double base = cost * (nidle > 0 ? nidle : 1) / budget;

	base = base < IDLE_RECENSUS_S ? IDLE_RECENSUS_S : base > IDLE_RECENSUS_MAX_S ? IDLE_RECENSUS_MAX_S : base;
	return base * (1.0 + (double)(row->target.pid % 32) / 64.0);
}

/* Free to ask every refresh: what the GC state read and the RSS say. */
static bool state_unchanged(const struct analysis *a, const struct proc_row *row, const struct analysis_opts *o,
			    int nidle, double now)
{
	int g;

	if (!a->fp_valid || row->rss != a->fp_rss || now - row->census_time >= idle_recensus_s(a, row, o, nidle))
		return false;
	for (g = 0; g < MODEL_NGEN; g++)
		if (row->collections[g] != a->fp_collections[g] || row->counts[g] != a->fp_counts[g])
			return false;
	return true;
}

/* An idle process's CPU is looked at again this often (a service that starts working while its
 * GC state stays still is censused within this long). */
#define IDLE_CHECK_S 10.0

/* The one read from /proc: only for a process the GC state already calls idle. */
static bool cpu_quiet(struct analysis *a, const struct proc_row *row, double now)
{
	uint64_t cpu;

	a->next_idle_check = now + IDLE_CHECK_S;
	return !target_cpu_ns(row, &cpu) && cpu - a->fp_cpu_ns <= IDLE_MAX_CPU_SHARE * (now - a->fp_time) * 1e9;
}

static void remember_census_state(struct analysis *a, const struct proc_row *row, double now)
{
	/* no CPU reading, no idle judgement: census as usual */
	a->fp_valid = !target_cpu_ns(row, &a->fp_cpu_ns);
	a->fp_time = now;
	a->fp_rss = row->rss;
	memcpy(a->fp_collections, row->collections, sizeof(a->fp_collections));
	memcpy(a->fp_counts, row->counts, sizeof(a->fp_counts));
}

#define ARENA_SHARE (1.0 / 3) /* of cpu_budget, for the censuses that scan the arenas */

/*
 * Adapt: n processes × (walk time / period) <= the GC censuses' share of one core's budget (the
 * arena scans have a third of it unless off, the chain searches a quarter while they run).
 */
static double census_period(const struct analysis *a, const struct analysis_opts *o, int nprocs)
{
	double budget = o->cpu_budget > 0 ? o->cpu_budget : 0.02, period;

	if (!o->no_untracked)
		budget *= 1 - ARENA_SHARE;
	if (chains__active(a->chains))
		budget *= 1 - CHAINS_BUDGET_SHARE;
	period = a->last_census_s * (nprocs > 0 ? nprocs : 1) / budget;
	if (period < o->min_period_s)
		period = o->min_period_s;
	if (period > o->max_period_s)
		period = o->max_period_s;
	return period;
}

void analysis__default_opts(struct analysis_opts *o)
{
	o->census = true;
	o->cpu_budget = 0.02;
	o->min_period_s = 2.0;
	o->max_period_s = 60.0;
	/* no_chains, chain_interval_s: zero is their default; options set before this keep them */
}

void analysis__free(struct proc_row *row)
{
	struct analysis *a = row->ext;

	if (!a)
		return;
	pyobj_types__free(a->types);
	holders__free(a->holders);
	survivors__free(&a->surv);
	row->surv = NULL;
	memory_trends__free(a->mem);
	chains__free(a->chains);
	free(a->tser);
	free(a->cser);
	free(a->user);
	free(a->roots);
	free(a);
	row->ext = NULL;
}

static struct analysis *get_state(struct proc_row *row)
{
	struct analysis *a = row->ext;

	if (a)
		return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->tser = calloc(MAX_TYPE_SERIES, sizeof(*a->tser));
	a->cser = calloc(CONTAINER_SLOTS, sizeof(*a->cser));
	a->user = calloc(MAX_TYPE_SERIES, sizeof(*a->user));
	a->mem = memory_trends__new();
	if (!a->tser || !a->cser || !a->user || !a->mem) {
		free(a->tser);
		free(a->cser);
		free(a->user);
		memory_trends__free(a->mem);
		free(a);
		return NULL;
	}
	row->ext = a;
	return a;
}

static struct tseries *series_for(struct tseries *arr, int *n, int max, const char *name, uint64_t addr)
{
	int i, victim = -1;

	for (i = 0; i < *n; i++)
		if (arr[i].addr == addr && !strcmp(arr[i].s.name, name))
			return &arr[i];
	if (*n < max) {
		victim = (*n)++;
	} else {
		/* Evict the series not seen for longest (then the smallest): a type that died out. */
		for (i = 0; i < *n; i++)
			if (victim < 0 || arr[i].s.last_seen < arr[victim].s.last_seen ||
			    (arr[i].s.last_seen == arr[victim].s.last_seen && arr[i].count < arr[victim].count))
				victim = i;
	}
	memset(&arr[victim], 0, sizeof(arr[victim]));
	copy_str(arr[victim].s.name, sizeof(arr[victim].s.name), name);
	arr[victim].addr = addr;
	return &arr[victim];
}

/* Trends use the newest TREND_WINDOW points: O(n^2) pairs per series, for hundreds of series.
 * That is every point a series keeps (the ring holds no history nothing reads). */
#define TREND_WINDOW LEAK_MAX_POINTS

/*
 * Containers are followed by address (and type: a freed address reused by another type starts a
 * new series); their name comes from holders.c and may appear a census or two after the series.
 */
static struct tseries *container_series(struct analysis *a, uint64_t addr, uint64_t type_addr)
{
	int i, victim = -1;

	for (i = 0; i < a->ncser; i++)
		if (a->cser[i].addr == addr) {
			if (a->cser[i].type_addr == type_addr)
				return &a->cser[i];
			victim = i;
			break;
		}
	if (victim < 0 && a->ncser < CONTAINER_SLOTS) {
		victim = a->ncser++;
	} else if (victim < 0) {
		for (i = 0; i < a->ncser; i++)
			if (victim < 0 || a->cser[i].s.last_seen < a->cser[victim].s.last_seen ||
			    (a->cser[i].s.last_seen == a->cser[victim].s.last_seen && a->cser[i].count < a->cser[victim].count))
				victim = i;
	}
	memset(&a->cser[victim], 0, sizeof(a->cser[victim]));
	a->cser[victim].addr = addr;
	a->cser[victim].type_addr = type_addr;
	return &a->cser[victim];
}

#define HOLDER_MIN_LEN 32

/* Holder names for the census's largest containers (a bounded walk only for new addresses). */
static void name_containers(struct proc_row *row, struct analysis *a, struct remote *r, const struct census *c,
			    size_t n, double now, char (*qnames)[HOLDERS_NAME_MAX])
{
	struct holders_query q[MAX_CONTAINER_SERIES];
	int nq = 0, map[MAX_CONTAINER_SERIES];
	size_t i;

	/*
	 * Small containers drift in and out of the largest-K list as the program churns; each new
	 * address would cost a walk of the roots. Only containers worth a name are asked for.
	 */
	for (i = 0; i < n; i++) {
		const struct census_container *cc = census__container(c, i);

		qnames[i][0] = 0;
		map[i] = -1;
		if (cc->len < HOLDER_MIN_LEN)
			continue;
		map[i] = nq;
		q[nq].addr = cc->addr;
		q[nq].type_addr = cc->type_addr;
		q[nq].name[0] = 0;
		nq++;
	}
	if (!a->holders)
		a->holders = holders__new(NULL);
	/* Unnamed is a fine answer (a local variable, a closure, a C extension holds it). */
	if (a->holders && nq)
		holders__name(a->holders, &row->target, r, a->types, q, nq, now);
	for (i = 0; i < n; i++)
		if (map[i] >= 0)
			copy_str(qnames[i], HOLDERS_NAME_MAX, q[map[i]].name);
}

static double thread_cpu_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t old_collections(const struct proc_row *row)
{
	return row->gc_valid ? row->collections[1] + row->collections[2] : -1;
}

/* Names of the (type, stack) rows' types, from the census's type cache. */
static void name_survivor_types(struct analysis *a, struct remote *r)
{
	int i;

	for (i = 0; i < a->surv.naggs; i++) {
		struct surv_agg *g = &a->surv.aggs[i];
		const struct pyobj_type *ti = NULL;

		if (g->type_name[0])
			continue;
		if (a->types && !pyobj_types__get(a->types, r, g->type, &ti) && ti)
			copy_str(g->type_name, sizeof(g->type_name), ti->name);
	}
}

static double median_cost(const struct analysis *a)
{
	return median_of(a->cost, a->ncost);
}

/* Root walk results kept per census: more than the series (a leak starts small). */
#define MAX_ROOT_CONTAINERS 128
/*
 * The root walk costs 30-50 ms of CPU on a bare interpreter (every module dict, ~500 class
 * dicts, instance dicts: thousands of reads); re-reading the len of the containers it found
 * costs one batched read. So: a walk at the first census and every ROOTS_INTERVAL_S, and the
 * known containers re-measured at every census in between.
 */
#define ROOTS_INTERVAL_S 30.0

/* len of the containers of the last root walk, now; a container whose ob_type changed is gone. */
static int remeasure_roots(struct analysis *a, struct remote *r, const struct py_layout *l)
{
	struct remote_iov iov[MAX_ROOT_CONTAINERS];
	unsigned char hdr[MAX_ROOT_CONTAINERS][PYOBJ_HEADER_COPY]; /* free-threaded lengths sit past 32 */
	int i, n = 0;

	for (i = 0; i < a->nroots; i++) {
		iov[i].addr = a->roots[i].addr;
		iov[i].buf = hdr[i];
		iov[i].len = sizeof(hdr[i]);
	}
	if (a->nroots && remote__readv(r, iov, a->nroots)) {
		for (i = 0; i < a->nroots; i++)
			if (remote__read_prefix(r, iov[i].addr, hdr[i], sizeof(hdr[i]), 16))
				memset(hdr[i], 0, sizeof(hdr[i]));
	}
	for (i = 0; i < a->nroots; i++) {
		uint64_t type;
		int64_t len;

		memcpy(&type, hdr[i] + l->object_type, 8);
		len = pyobj__len_from_header(l, hdr[i], a->roots[i].kind);
		if (type != a->roots[i].type_addr || len < 0)
			continue; /* freed, or reused by another object */
		a->roots[i].len = len;
		a->roots[n++] = a->roots[i];
	}
	a->nroots = n;
	return n;
}

/* Untracked objects per type from a census that scanned the arenas: their own series. */
static void untracked_series(struct analysis *a, const struct census *c, double now)
{
	size_t i, n = census__ntypes(c);
	int k;

	for (k = 0; k < a->nuser; k++)
		a->user[k].in_last = false;
	for (i = 0; i < n; i++) {
		const struct census_type *ct = census__type(c, i);
		struct tseries *us;

		if (ct->untracked <= 0 || (a->nuser >= MAX_TYPE_SERIES && ct->untracked < 100))
			continue;
		us = series_for(a->user, &a->nuser, MAX_TYPE_SERIES, ct->name, 0);
		us->prev_count = us->s.n ? us->count : ct->untracked;
		us->count = ct->untracked;
		us->bytes = ct->untracked_bytes;
		us->in_last = true;
		leak_series__add(&us->s, now, (double)ct->untracked);
	}
	for (k = 0; k < a->nuser; k++)
		if (!a->user[k].in_last && a->user[k].count) {
			a->user[k].prev_count = a->user[k].count;
			a->user[k].count = a->user[k].bytes = 0;
			leak_series__add(&a->user[k].s, now, 0);
		}
}

static double thread_cpu_s(void);

/* Returns the CPU seconds the arena part took (the scan and the RSS breakdown), 0 without it. */
static double run_census(struct proc_row *row, struct analysis *a, struct remote *r, const struct analysis_opts *o,
			 bool arenas, double now)
{
	double cpu0 = thread_cpu_s(), arena_cpu = 0;
	struct census_opts co = { .budget_s = 5.0 };
	struct census *c = NULL;
	const struct census_stats *st;
	uint64_t *probe = NULL, *ptypes = NULL;
	int64_t *pindex = NULL;
	int8_t *pgens = NULL;
	long nprobe = 0;
	struct holders_container *roots = NULL;
	int nroots = -1;
	/* holder names of the census's largest containers, for this census only */
	char qnames[MAX_CONTAINER_SERIES][HOLDERS_NAME_MAX];
	int64_t untracked_total = 0;
	double ret = 0; /* the arena part's CPU seconds, once the census is used */
	size_t i, n;
	int k, err;

	if (!py_features__has(&row->target, PYF_CENSUS)) {
		struct py_features f;

		/* say what is missing (free-threaded heaps, a day-one layout), not an errno */
		py_features__describe(&row->target, &f);
		if (snprintf(row->note, sizeof(row->note), "census %s", f.text[PYF_CENSUS]) >= (int)sizeof(row->note))
			row->note[sizeof(row->note) - 1] = '\0'; /* cut: the start says what is missing */
		return 0;
	}
	if (!a->types)
		a->types = pyobj_types__new(row->target.layout);
	co.types = a->types;
	co.top_containers = MAX_CONTAINER_SERIES; /* more than shown: a leak starts small */
	/* The census walks every GC list anyway: it also says which survivor samples are there. */
	if (a->surv_ready && (nprobe = survivors__probe_list(&a->surv, &probe)) > 0) {
		ptypes = calloc(nprobe, sizeof(*ptypes));
		pgens = calloc(nprobe, sizeof(*pgens));
		pindex = calloc(nprobe, sizeof(*pindex));
		if (ptypes && pgens && pindex) {
			co.probe_addrs = probe;
			co.probe_types = ptypes;
			co.probe_gens = pgens;
			co.probe_index = pindex;
			co.nprobe = (size_t)nprobe;
		}
	}
	co.all_objects = arenas;
	err = census__run(&row->target, r, &co, &c);
	if (err) {
		snprintf(row->note, sizeof(row->note), "census failed: %s", strerror(-err));
		goto out;
	}
	st = census__stats(c);
	/*
	 * A census cut short (time budget, node cap, a generation left partial after its retries)
	 * undercounts whatever it did not reach: as a point of the series it would be a false dip
	 * (types "vanish", containers drop out). Keep the previous census's rows and say why.
	 */
	if (st->timed_out || st->truncated || st->interrupted || st->partial_generations) {
		snprintf(row->note, sizeof(row->note), "census incomplete (%s): not used for trends",
			 st->timed_out ? "time budget" : st->truncated ? "node cap" : st->interrupted ? "interrupted"
											 : "heap changed during the walk");
		census__free(c);
		goto out;
	}
	if (!strncmp(row->note, "census incomplete", 17))
		row->note[0] = 0;
	/* Only a complete walk may declare a sample dead. */
	if (co.nprobe)
		survivors__settle(&a->surv, probe, ptypes, pgens, pindex, co.nprobe, old_collections(row), now);
	else if (a->surv_ready && nprobe == 0)
		survivors__settle(&a->surv, NULL, NULL, NULL, NULL, 0, old_collections(row), now);
	row->census_time = now;
	row->census_ms = st->walk_ms + st->arena_ms;
	row->census_inconsistencies = st->broken_links + st->unreadable + st->bad_pointers + st->unknown_types;
	n = census__ntypes(c);
	for (i = 0; i < n; i++)
		untracked_total += census__type(c, i)->untracked;
	row->live_objects = census__total_objects(c) - untracked_total; /* tracked, as without arenas */
	if (arenas) {
		struct memory_row m;
		double cpu1 = thread_cpu_s();

		/* The walk's share of the census CPU is the GC censuses' business; the arena copy is
		 * ours (one process_vm_readv per arena: its CPU is in proportion to its wall time). */
		if (st->walk_ms + st->arena_ms > 0)
			arena_cpu = (cpu1 - cpu0) * st->arena_ms / (st->walk_ms + st->arena_ms);
		if (st->arenas_scanned)
			untracked_series(a, c, now);
		if (memory__measure(row->target.pid, c, row->target.layout->arena_size, &m, now) == 0) {
			memory_trends__update(a->mem, &m);
			row->memory = m;
		}
		arena_cpu += thread_cpu_s() - cpu1;
	}
	leak_series__add(&a->tracked, now, (double)row->live_objects);
	a->marks[a->mark_head].t = now;
	a->marks[a->mark_head].collections2 = row->collections[2];
	a->marks[a->mark_head].collected2 = row->collected[2];
	a->marks[a->mark_head].live = row->live_objects;
	a->mark_head = (a->mark_head + 1) % MAX_MARKS;
	if (a->nmarks < MAX_MARKS)
		a->nmarks++;

	for (k = 0; k < a->ntser; k++)
		a->tser[k].in_last = false;
	n = census__ntypes(c);
	for (i = 0; i < n; i++) {
		const struct census_type *ct = census__type(c, i);
		/* The GC-list part only: untracked objects have their own series (untracked_series). */
		int64_t count = ct->count - ct->untracked, bytes = ct->bytes - ct->untracked_bytes;
		struct tseries *ts;

		/* Small types cannot be leaks worth naming; bound the work on huge heaps. */
		if (count <= 0 || (i >= MAX_TYPE_SERIES && count < 100))
			continue;
		ts = series_for(a->tser, &a->ntser, MAX_TYPE_SERIES, ct->name, 0);
		ts->prev_count = ts->s.n ? ts->count : count;
		ts->count = count;
		ts->bytes = bytes;
		ts->in_last = true;
		leak_series__add(&ts->s, now, (double)count);
	}
	/* Types that vanished from the census count as 0 now (their series keeps its history). */
	for (k = 0; k < a->ntser; k++)
		if (!a->tser[k].in_last && a->tser[k].count) {
			a->tser[k].prev_count = a->tser[k].count;
			a->tser[k].count = 0;
			a->tser[k].bytes = 0;
			leak_series__add(&a->tser[k].s, now, 0);
		}

	/*
	 * Containers reached from the roots, tracked or not (an untracked dict of str -> bytes is in
	 * no GC list): a walk every ROOTS_INTERVAL_S; between walks their series keep their last
	 * point. The walk comes first: the names it finds serve name_containers from the cache.
	 */
	if (!o->no_untracked) {
		if (!a->holders)
			a->holders = holders__new(NULL);
		/* The walk fills a scratch array; the process keeps what it found at its size (a few
		 * dozen containers of HOLDER_MIN_LEN or more: 45 KiB of 128 slots were resident per
		 * process between walks). A walk that fails keeps the last one's containers. */
		struct holders_container *scratch = NULL;

		if (now >= a->next_roots && a->holders && a->types)
			scratch = calloc(MAX_ROOT_CONTAINERS, sizeof(*scratch));
		if (scratch) {
			int got = holders__containers(a->holders, &row->target, r, a->types, HOLDER_MIN_LEN, scratch,
						      MAX_ROOT_CONTAINERS, now);

			if (got >= 0) {
				free(a->roots);
				a->roots = got > 0 ? malloc((size_t)got * sizeof(*a->roots)) : NULL;
				a->nroots = a->roots ? got : 0;
				if (a->roots)
					memcpy(a->roots, scratch, (size_t)got * sizeof(*a->roots));
				nroots = a->nroots;
			} else {
				nroots = remeasure_roots(a, r, row->target.layout);
			}
			free(scratch);
			a->next_roots = now + ROOTS_INTERVAL_S;
		} else {
			nroots = remeasure_roots(a, r, row->target.layout);
		}
		roots = a->roots;
	}
	for (k = 0; k < a->ncser; k++)
		if (!a->cser[k].from_roots || nroots >= 0)
			a->cser[k].in_last = false;
	n = census__ncontainers(c);
	if (n > MAX_CONTAINER_SERIES)
		n = MAX_CONTAINER_SERIES;
	name_containers(row, a, r, c, n, now, qnames);
	for (i = 0; i < n; i++) {
		const struct census_container *cc = census__container(c, i);
		struct tseries *cs;

		cs = container_series(a, cc->addr, cc->type_addr);
		cs->prev_count = cs->s.n ? cs->count : cc->len;
		cs->count = cc->len;
		cs->in_last = true;
		cs->s.last_seen = now;
		copy_str(cs->type, sizeof(cs->type), cc->type_name ? cc->type_name : "?");
		cs->named = qnames[i][0] != 0;
		if (cs->named)
			copy_str(cs->s.name, sizeof(cs->s.name), qnames[i]);
		else
			snprintf(cs->s.name, sizeof(cs->s.name), "%s@0x%llx", cc->type_name ? cc->type_name : "container",
				 (unsigned long long)cc->addr);
		cs->from_roots = cs->untracked = false;
		leak_series__add(&cs->s, now, (double)cc->len);
	}
	for (k = 0; k < nroots; k++) {
		const struct holders_container *hc = &roots[k];
		struct tseries *cs;
		int j;

		for (j = 0; j < a->ncser; j++)
			if (a->cser[j].addr == hc->addr && a->cser[j].in_last && !a->cser[j].from_roots)
				break;
		if (j < a->ncser)
			continue; /* among the census's largest: its series has this census's point */
		/* A series slot for it only when it is among the longest (the root walk finds many). */
		if (k >= MAX_ROOT_SERIES || hc->len < HOLDER_MIN_LEN)
			break;
		cs = container_series(a, hc->addr, hc->type_addr);
		cs->prev_count = cs->s.n ? cs->count : hc->len;
		cs->count = hc->len;
		cs->in_last = true;
		cs->from_roots = true;
		cs->untracked = !hc->tracked;
		cs->named = true;
		cs->s.last_seen = now;
		copy_str(cs->type, sizeof(cs->type), hc->type);
		copy_str(cs->s.name, sizeof(cs->s.name), hc->name);
		leak_series__add(&cs->s, now, (double)hc->len);
	}
	census__free(c);
	name_survivor_types(a, r);
	ret = arena_cpu;
out:
	free(probe);
	free(ptypes);
	free(pgens);
	free(pindex);
	return ret;
}

static int cmp_type_rows(const void *a, const void *b)
{
	const struct type_row *x = a, *y = b;

	return (x->count < y->count) - (x->count > y->count);
}

static int cmp_container_rows(const void *a, const void *b)
{
	const struct container_row *x = a, *y = b;

	return (x->len < y->len) - (x->len > y->len);
}

/*
 * What a reader should look at first: near-equal confidences (every clean leak reaches 0.99+)
 * are ordered by how actionable the name is: gc.garbage, a container named by its holder, a
 * class of the program (dotted name), a builtin type, an unnamed container, RSS; then by rate.
 */
static int suspect_rank(const struct suspect *s)
{
	switch (s->kind) {
	case SUSPECT_GARBAGE: return 0;
	case SUSPECT_CONTAINER: return strchr(s->name, '@') ? 4 : 1;
	case SUSPECT_TYPE: return strchr(s->name, '.') ? 2 : 3;
	case SUSPECT_RSS: return 5;
	case SUSPECT_NATIVE: return 2; /* a named native stack: as specific as a named type */
	}
	return 6;
}

static int cmp_suspects(const void *a, const void *b)
{
	const struct suspect *x = a, *y = b;
	double cx = floor(x->confidence * 100) / 100, cy = floor(y->confidence * 100) / 100;

	if (cx != cy)
		return (cx < cy) - (cx > cy);
	if (suspect_rank(x) != suspect_rank(y))
		return suspect_rank(x) - suspect_rank(y);
	return (x->per_min < y->per_min) - (x->per_min > y->per_min);
}

static void add_suspect(struct proc_row *row, enum suspect_kind kind, const char *name, double per_min,
			double conf, const char *evidence)
{
	struct suspect *s;

	if (row->nsuspects >= MODEL_MAX_SUSPECTS)
		return;
	s = &row->suspects[row->nsuspects++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->untracked = false;
	copy_str(s->name, sizeof(s->name), name);
	s->per_min = per_min;
	s->confidence = conf;
	copy_str(s->evidence, sizeof(s->evidence), evidence);
}

/* Native stacks that analysis/nativeleak.c found outstanding and growing (top --native). */
static void native_verdicts(struct proc_row *row)
{
	char ev[1024];
	int i;

	if (!row->native_valid)
		return;
	for (i = 0; i < row->native.nstacks; i++) {
		const struct native_stack *st = &row->native.stacks[i];

		if (!st->suspect)
			continue;
		native_stack__evidence(st, ev, sizeof(ev));
		add_suspect(row, SUSPECT_NATIVE, st->caller, st->growth_bytes_per_min, st->out_ratio, ev);
	}
}

/*
 * A leak raises the floor of its series; garbage waiting for the next young collection makes a
 * sawtooth whose floor does not move. Sampled by censuses whose period beats with the collection
 * period, that sawtooth reads as ramps (seen: control_churn's Node cycles, gen-0 every 1.75 s,
 * censuses every 2 s: 14-second ramps with Mann-Kendall confidence > 0.99). So the lowest value
 * of the newest third of the window must be above the lowest of the oldest third by a good part
 * of what the slope promises.
 */
static bool floor_rising(const struct leak_series *s, const struct trend *tr)
{
	static double t[LEAK_MAX_POINTS], v[LEAK_MAX_POINTS];
	int n = leak_series__points(s, t, v), skip = n > TREND_WINDOW ? n - TREND_WINDOW : 0, i;
	double t0, t1, lo_old = 1e300, lo_new = 1e300, promised;

	if (n - skip < 3)
		return false;
	t0 = t[skip];
	t1 = t[n - 1];
	for (i = skip; i < n; i++) {
		if (t[i] <= t0 + (t1 - t0) / 3 && v[i] < lo_old)
			lo_old = v[i];
		if (t[i] >= t1 - (t1 - t0) / 3 && v[i] < lo_new)
			lo_new = v[i];
	}
	promised = tr->slope_per_min * ((t1 - t0) * 2 / 3) / 60;
	return lo_new - lo_old >= 0.4 * promised;
}

/*
 * Evidence that the growth is reachable memory, not garbage: full collections ran over the
 * window and freed (almost) nothing while the tracked heap grew.
 */
static void full_gc_evidence(const struct analysis *a, const struct trend *tr, char *buf, size_t size)
{
	const struct gc_mark *old = NULL, *now;
	int i;

	buf[0] = 0;
	if (!a->nmarks)
		return;
	now = &a->marks[(a->mark_head - 1 + MAX_MARKS) % MAX_MARKS];
	for (i = 0; i < a->nmarks; i++) {
		const struct gc_mark *m = &a->marks[(a->mark_head - a->nmarks + i + MAX_MARKS) % MAX_MARKS];

		if (m->t >= now->t - tr->span_s - 0.5) {
			old = m;
			break;
		}
	}
	if (!old || now->collections2 - old->collections2 < 1 || now->live <= old->live)
		return;
	if (now->collected2 - old->collected2 > (now->live - old->live) / 10)
		return;
	if (snprintf(buf, size, "; %lld full collections freed %lld objects while tracked objects grew %lld -> %lld",
		     (long long)(now->collections2 - old->collections2), (long long)(now->collected2 - old->collected2),
		     (long long)old->live, (long long)now->live) >= (int)size)
		buf[0] = 0; /* a cut sentence would mislead: leave it out */
}

static void fill_rows(struct proc_row *row, struct analysis *a, const struct leak_policy *pol)
{
	char ev[320];
	double conf;
	int k, j;

	row->ntypes = 0;
	for (k = 0; k < a->ntser; k++) {
		struct tseries *ts = &a->tser[k];
		struct type_row *tr;
		struct trend trd;
		double t[MODEL_SPARK], v[MODEL_SPARK];
		static double allt[LEAK_MAX_POINTS], allv[LEAK_MAX_POINTS];
		int n, first;

		if (!ts->in_last && !ts->count)
			continue;
		leak_series__trend(&ts->s, &trd);
		/*
		 * Tracked objects can be young garbage waiting for the next gen-0 collection: with a
		 * constant old population a type's count can rise by at most the young generation's
		 * count (gc counts[0], objects allocated since that collection). Growth within that
		 * bound may be a sawtooth seen at the wrong moments (control_churn on 3.12: Node cycles
		 * with a 16 s gen-0 period, the floor test alone was fooled), so it is no verdict.
		 */
		if (leak__is_growing(&trd, pol, &conf) && floor_rising(&ts->s, &trd) &&
		    trd.last - trd.first > (double)row->counts[0]) {
			char gcev[160];

			full_gc_evidence(a, &trd, gcev, sizeof(gcev));
			if (snprintf(ev, sizeof(ev),
				     "%.0f -> %.0f live objects over %.0f s (%d censuses), Theil-Sen %+.0f/min, still "
				     "growing (%+.0f/min in the newer half), Mann-Kendall confidence %.4f%s",
				     trd.first, trd.last, trd.span_s, trd.n, trd.slope_per_min, trd.late_slope_per_min, conf,
				     gcev) >= (int)sizeof(ev))
				ev[sizeof(ev) - 1] = 0;
			add_suspect(row, SUSPECT_TYPE, ts->s.name, trd.slope_per_min, conf, ev);
		}
		if (row->ntypes >= MODEL_MAX_TYPES) {
			/* Keep the fastest growers even when they are not among the largest. */
			int smallest = 0;
			for (j = 1; j < row->ntypes; j++)
				if (row->types[j].count < row->types[smallest].count)
					smallest = j;
			if (trd.slope_per_min <= 0 || row->types[smallest].per_min >= trd.slope_per_min)
				continue;
			tr = &row->types[smallest];
		} else {
			tr = &row->types[row->ntypes++];
		}
		memset(tr, 0, sizeof(*tr));
		copy_str(tr->name, sizeof(tr->name), ts->s.name);
		tr->count = ts->count;
		tr->bytes = ts->bytes;
		tr->per_min = trd.n >= 3 ? trd.slope_per_min : 0;
		tr->bytes_per_min = ts->count ? tr->per_min * ((double)ts->bytes / ts->count) : 0;
		tr->delta = ts->count - ts->prev_count;
		n = leak_series__points(&ts->s, allt, allv);
		first = n > MODEL_SPARK ? n - MODEL_SPARK : 0;
		for (j = first; j < n; j++)
			tr->spark[tr->nspark++] = (int64_t)allv[j];
		(void)t;
		(void)v;
	}
	for (k = 0; k < a->nuser; k++) {
		struct tseries *us = &a->user[k];
		struct type_row *tr = NULL;
		struct trend trd;

		if (!us->in_last && !us->count)
			continue;
		leak_series__trend(&us->s, &trd);
		/* Untracked objects die by refcount, never wait for a collection: no sawtooth bound. */
		if (leak__is_growing(&trd, pol, &conf) && floor_rising(&us->s, &trd)) {
			double bpm = us->count ? trd.slope_per_min * ((double)us->bytes / us->count) : 0;

			if (snprintf(ev, sizeof(ev),
				     "untracked: %.0f -> %.0f objects over %.0f s (%d arena scans), Theil-Sen %+.0f/min, "
				     "bytes %+.0f/min; counted in the pymalloc arenas, the GC does not track them "
				     "(objects over 512 B live in malloc and are not counted), Mann-Kendall confidence %.4f",
				     trd.first, trd.last, trd.span_s, trd.n, trd.slope_per_min, bpm, conf) >= (int)sizeof(ev))
				ev[sizeof(ev) - 1] = 0;
			add_suspect(row, SUSPECT_TYPE, us->s.name, trd.slope_per_min, conf, ev);
			if (row->nsuspects > 0 && !strcmp(row->suspects[row->nsuspects - 1].name, us->s.name))
				row->suspects[row->nsuspects - 1].untracked = true;
		}
		for (j = 0; j < row->ntypes; j++)
			if (!strcmp(row->types[j].name, us->s.name)) {
				tr = &row->types[j];
				break;
			}
		if (!tr && row->ntypes < MODEL_MAX_TYPES) {
			tr = &row->types[row->ntypes++];
			memset(tr, 0, sizeof(*tr));
			copy_str(tr->name, sizeof(tr->name), us->s.name);
		}
		if (!tr)
			continue;
		tr->untracked = us->count;
		tr->untracked_bytes = us->bytes;
		tr->untracked_per_min = trd.n >= 3 ? trd.slope_per_min : 0;
	}
	qsort(row->types, row->ntypes, sizeof(row->types[0]), cmp_type_rows);

	/*
	 * More series are followed than the model shows (a leak starts small): show the suspects
	 * first, then the largest.
	 */
	{
		struct container_row all[CONTAINER_SLOTS];
		bool sus[CONTAINER_SLOTS];
		int nall = 0, i, pick;

		for (k = 0; k < a->ncser; k++) {
			struct tseries *cs = &a->cser[k];
			struct container_row *cr;
			struct trend trd;

			if (!cs->in_last)
				continue;
			leak_series__trend(&cs->s, &trd);
			cr = &all[nall];
			memset(cr, 0, sizeof(*cr));
			copy_str(cr->name, sizeof(cr->name), cs->s.name);
			copy_str(cr->type, sizeof(cr->type), cs->type);
			cr->addr = cs->addr;
			cr->named = cs->named;
			cr->untracked = cs->untracked;
			cr->len = cs->count;
			cr->per_min = trd.n >= 3 ? trd.slope_per_min : 0;
			sus[nall] = false;
			/* gc.garbage has its own verdict (gc_verdicts), from every refresh. */
			if (leak__is_growing(&trd, pol, &conf) && floor_rising(&cs->s, &trd) &&
			    strcmp(cr->name, "gc.garbage")) {
				char why[96] = "";

				if (cs->untracked)
					snprintf(why, sizeof(why), "; untracked %.24s: in no GC list, measured through its holder",
						 cs->type);
				if (snprintf(ev, sizeof(ev),
					     "len %.0f -> %.0f over %.0f s (%d censuses), Theil-Sen %+.0f items/min, "
					     "Mann-Kendall confidence %.4f%s%s",
					     trd.first, trd.last, trd.span_s, trd.n, trd.slope_per_min, conf,
					     cs->named ? "" : "; no holder found in module globals, class attributes or "
							      "their instances' attributes",
					     why) >= (int)sizeof(ev))
					ev[sizeof(ev) - 1] = 0;
				add_suspect(row, SUSPECT_CONTAINER, cr->name, trd.slope_per_min, conf, ev);
				if (row->nsuspects > 0 && !strcmp(row->suspects[row->nsuspects - 1].name, cr->name))
					row->suspects[row->nsuspects - 1].untracked = cs->untracked;
				sus[nall] = true;
			}
			nall++;
		}
		row->ncontainers = 0;
		for (i = 0; i < nall; i++)
			if (sus[i] && row->ncontainers < MODEL_MAX_CONTAINERS)
				row->containers[row->ncontainers++] = all[i];
		while (row->ncontainers < MODEL_MAX_CONTAINERS) {
			pick = -1;
			for (i = 0; i < nall; i++)
				if (!sus[i] && (pick < 0 || all[i].len > all[pick].len))
					pick = i;
			if (pick < 0)
				break;
			row->containers[row->ncontainers++] = all[pick];
			sus[pick] = true; /* taken */
		}
	}
	qsort(row->containers, row->ncontainers, sizeof(row->containers[0]), cmp_container_rows);
	row->rows_seq = model__next_rows_seq();
}

/* "file.py:41 handle < file.py:12 main": the first frames of a sampled stack, leaf first. */
static void format_site(const struct site_stack *st, char *buf, size_t size)
{
	size_t len = 0;
	int k;

	buf[0] = 0;
	for (k = 0; k < st->nframes && k < 3; k++) {
		const struct site_frame *f = &st->frames[k];
		const char *file = f->code ? f->code->file : "?", *slash = strrchr(file, '/');
		int n;

		if (slash)
			file = slash + 1;
		if (f->line >= 0)
			n = snprintf(buf + len, size - len, "%s%s:%d %s", k ? " < " : "", file, f->line,
				     f->code ? f->code->func : "?");
		else
			n = snprintf(buf + len, size - len, "%s%s:? %s", k ? " < " : "", file, f->code ? f->code->func : "?");
		if (n < 0 || (size_t)n >= size - len) {
			buf[len] = 0; /* a frame cut in half would mislead */
			return;
		}
		len += (size_t)n;
	}
	if (k < st->nframes && len + 6 < size)
		snprintf(buf + len, size - len, " < ...");
}

/*
 * The evidence of a type suspect names where its surviving samples were allocated: the share of
 * the alive survivor samples of that type made by its top (type, stack) row.
 */
static void survivor_evidence(struct proc_row *row, struct analysis *a)
{
	int k, i;

	if (!a->surv_ready)
		return;
	for (k = 0; k < row->nsuspects; k++) {
		struct suspect *s = &row->suspects[k];
		const struct surv_agg *top = NULL;
		const struct site_stack *st;
		uint64_t alive = 0;
		size_t len;

		s->surv_alive = s->surv_top_alive = s->surv_stack_id = 0;
		s->surv_site[0] = 0;
		if (s->kind != SUSPECT_TYPE)
			continue;
		for (i = 0; i < a->surv.naggs; i++) {
			const struct surv_agg *g = &a->surv.aggs[i];

			if (!g->alive || strcmp(g->type_name, s->name))
				continue;
			alive += g->alive;
			if (!top || g->alive > top->alive)
				top = g;
		}
		if (!top)
			continue;
		s->surv_alive = alive;
		s->surv_top_alive = top->alive;
		s->surv_stack_id = top->stack_id;
		st = sites_report__find(&row->sites, top->stack_id);
		if (st)
			format_site(st, s->surv_site, sizeof(s->surv_site));
		else
			snprintf(s->surv_site, sizeof(s->surv_site), "stack %016llx", (unsigned long long)top->stack_id);
		len = strlen(s->evidence);
		snprintf(s->evidence + len, sizeof(s->evidence) - len,
			 "; %.0f%% of surviving samples (%llu/%llu) allocated at %s%s", 100.0 * top->alive / alive,
			 (unsigned long long)top->alive, (unsigned long long)alive, s->surv_site,
			 a->surv.mode == SURV_PAIR_NEWEST ? " (stack at the next bytecode boundary)" : "");
	}
}

static void gc_verdicts(struct proc_row *row, struct analysis *a, const struct leak_policy *pol, double now)
{
	struct leak_policy gpol = *pol;
	struct trend trd;
	char ev[320];
	double conf;

	if (row->garbage >= 0)
		leak_series__add(&a->garbage, now, (double)row->garbage);
	/* gc.garbage never shrinks by itself: any steady growth is worth naming. */
	gpol.min_slope_per_min = 1;
	leak_series__trend(&a->garbage, &trd);
	if (leak__is_growing(&trd, &gpol, &conf)) {
		snprintf(ev, sizeof(ev),
			 "len(gc.garbage) %.0f -> %.0f over %.0f s: uncollectable cycles (legacy finalizers) or "
			 "gc.DEBUG_SAVEALL keep them; uncollectable counters %lld/%lld/%lld",
			 trd.first, trd.last, trd.span_s, (long long)row->uncollectable[0],
			 (long long)row->uncollectable[1], (long long)row->uncollectable[2]);
		add_suspect(row, SUSPECT_GARBAGE, "gc.garbage", trd.slope_per_min, conf, ev);
	}
	leak_series__add(&a->rss, now, (double)row->rss);
}

/*
 * RSS that grows while the Python heap does not. Said only once the censuses watched as long as
 * the RSS window (object verdicts had their chance) and nothing pyleak counts grows even weakly:
 * growth explained by objects or containers is theirs, not RSS's. What is left is native memory,
 * untracked objects or allocator fragmentation, which cannot be told apart from outside without
 * an arena scan: the evidence says so rather than calling it a leak of something.
 */
static void rss_verdict(struct proc_row *row, struct analysis *a, const struct leak_policy *pol)
{
	struct leak_policy rpol = *pol, weak = *pol;
	struct trend rss, tracked, ct;
	double conf, tconf;
	char ev[320];
	int k;

	rpol.min_slope_per_min = 1024 * 1024; /* 1 MiB/min: page-granular noise below that */
	rpol.min_rel_growth = 0.05;
	leak_series__trend(&a->rss, &rss);
	if (!leak__is_growing(&rss, &rpol, &conf))
		return;
	for (k = 0; k < row->nsuspects; k++)
		if (row->suspects[k].kind == SUSPECT_TYPE || row->suspects[k].kind == SUSPECT_CONTAINER)
			return; /* explained by the objects already named */
	weak.min_confidence = 0.9;
	weak.min_span_s = 0;
	leak_series__trend(&a->tracked, &tracked);
	if (a->tracked.n) {
		if (tracked.span_s < rss.span_s - 5 || tracked.n < 8)
			return; /* censuses have not covered the window yet: object verdicts come first */
		if (leak__is_growing(&tracked, &weak, &tconf))
			return; /* objects grow too, below a verdict so far: theirs to explain */
		for (k = 0; k < a->ncser; k++) {
			if (!a->cser[k].in_last)
				continue;
			leak_series__trend(&a->cser[k].s, &ct);
			if (leak__is_growing(&ct, &weak, &tconf))
				return; /* a container grows (untracked items): its verdict will come */
		}
		for (k = 0; k < a->nuser; k++) {
			if (!a->user[k].in_last)
				continue;
			leak_series__trend(&a->user[k].s, &ct);
			if (leak__is_growing(&ct, &weak, &tconf))
				return; /* untracked objects grow: theirs to explain */
		}
	}
	if (row->memory.valid) {
		/* Where it is, from smaps and the arenas: "pymalloc arenas flat, Python objects flat,
		 * malloc heap and anonymous memory +2.0 MiB/min: large (> 512 B) or native allocations". */
		char where[240];

		memory__explain(&row->memory, where, sizeof(where));
		if (snprintf(ev, sizeof(ev), "RSS %.1f -> %.1f MiB over %.0f s (%+.1f MiB/min): %s", rss.first / 1048576,
			     rss.last / 1048576, rss.span_s, rss.slope_per_min / 1048576, where) >= (int)sizeof(ev))
			ev[sizeof(ev) - 1] = 0;
	} else if (snprintf(ev, sizeof(ev),
		     "RSS %.1f -> %.1f MiB over %.0f s (%+.1f MiB/min) while %s: memory outside the objects pyleak "
		     "counts: native allocations, untracked objects (census --all-objects) or allocator "
		     "fragmentation, not told apart from outside",
		     rss.first / 1048576, rss.last / 1048576, rss.span_s, rss.slope_per_min / 1048576,
		     a->tracked.n ? "tracked objects and the largest containers stay flat" : "censuses are off") >=
	    (int)sizeof(ev))
		ev[sizeof(ev) - 1] = 0;
	add_suspect(row, SUSPECT_RSS, "rss", rss.slope_per_min, conf, ev);
}

/*
 * First censuses: each refresh runs them until this much wall time went to them, then leaves
 * the rest for the next refreshes (at least one runs per refresh). Started beside a thousand idle
 * processes, pyleak used to census them all before its first line (19.6 s), the one that leaks
 * among them with the rest. Half of it is kept for processes whose GC state moved since the
 * previous refresh: a process that works is censused at its second refresh at the latest.
 */
#define FIRST_ROUND_S 0.5

static bool first_census_now(struct analysis *a, const struct proc_row *row, const struct analysis_round *round)
{
	bool moved = false;
	int g;

	for (g = 0; g < MODEL_NGEN && a->seen; g++)
		moved |= row->collections[g] != a->seen_collections[g] || row->counts[g] != a->seen_counts[g];
	a->seen = true;
	memcpy(a->seen_collections, row->collections, sizeof(a->seen_collections));
	memcpy(a->seen_counts, row->counts, sizeof(a->seen_counts));
	return round->first_s == 0 || round->first_s < (moved ? FIRST_ROUND_S : FIRST_ROUND_S / 2);
}

void analysis__update(struct proc_row *row, struct remote *r, const struct analysis_opts *o,
		      struct analysis_round *round, double now)
{
	struct analysis *a = get_state(row);
	struct leak_policy pol;
	int nprocs = round->ncensused, nidle = round->nidle;
	uint64_t first_t0 = 0;
	bool quiet, due;

	if (!a || !row->gc_valid)
		return;
	leak__default_policy(&pol);
	if (row->sites_valid && (row->sites.nsurv || row->sites.surv_mode)) {
		if (!a->surv_ready)
			a->surv_ready = !survivors__init(&a->surv);
		if (a->surv_ready && row->sites.nsurv)
			survivors__add(&a->surv, row->sites.surv, row->sites.nsurv, old_collections(row));
	}
	if (a->surv_ready && row->sites.surv_mode)
		a->surv.mode = row->sites.surv_mode;
	row->surv = a->surv_ready ? &a->surv : NULL;
	/*
	 * Idle or not is judged at every refresh, so that a process idle since its census leaves the
	 * budget at once (ncensused, counted by the collector before this refresh) instead of when
	 * its census would have been due; the CPU read is made when the process is newly quiet and
	 * then every IDLE_CHECK_S. The due time follows the number of processes sharing the
	 * budget now: a census period set while 200 neighbours were new shrinks once they go idle.
	 */
	due = true;
	if (o->census && a->ncost) {
		row->census_period = census_period(a, o, nprocs);
		due = now >= a->census_at + row->census_period;
	} else if (o->census) {
		due = first_census_now(a, row, round);
		if (due)
			first_t0 = now_mono_ns();
		else
			round->nfirst_waiting++;
	}
	row->census_unjudged = false; /* told below */
	quiet = o->census && state_unchanged(a, row, o, nidle, now) &&
		((row->census_idle_since && (!due || now < a->next_idle_check)) || cpu_quiet(a, row, now));
	if (!quiet)
		row->census_idle_since = 0; /* moved: shares the budget from this refresh on */
	if (quiet) {
		if (!row->census_idle_since)
			row->census_idle_since = row->census_time;
	} else if (o->census && due) {
		double cpu0 = thread_cpu_s(), budget = o->cpu_budget > 0 ? o->cpu_budget : 0.02;
		bool arenas = !o->no_untracked && now >= a->next_arena_census;

		double arena_cpu = run_census(row, a, r, o, arenas, now), cpu;

		/*
		 * The budget is CPU: the walk's wall time also counts waiting for a core, which on a
		 * busy host (the targets themselves) inflates it several times (seen: 12 ms wall for
		 * 3 ms of CPU with nine targets on two cores), and would starve the verdicts.
		 */
		if (arenas) {
			/*
			 * A census with the arena scan costs more (it copies every arena): it has its own
			 * cost median and period, and a third of the budget; the GC-list censuses the rest.
			 */
			double lo = o->arena_min_period_s > 0 ? o->arena_min_period_s : 5.0;
			double hi = o->arena_max_period_s > 0 ? o->arena_max_period_s : 120.0, ap;

			a->arena_cost[a->arena_cost_head] = arena_cpu;
			a->arena_cost_head = (a->arena_cost_head + 1) % NCOST;
			if (a->narena_cost < NCOST)
				a->narena_cost++;
			ap = median_of(a->arena_cost, a->narena_cost) * (nprocs > 0 ? nprocs : 1) / (budget * ARENA_SHARE);
			a->next_arena_census = now + (ap < lo ? lo : ap > hi ? hi : ap);
		}
		/* The rest (the GC-list walk, the root walk, naming) is the GC censuses' cost. */
		cpu = thread_cpu_s() - cpu0 - arena_cpu;
		a->cost[a->cost_head] = cpu > 0 ? cpu : 0;
		a->cost_head = (a->cost_head + 1) % NCOST;
		if (a->ncost < NCOST)
			a->ncost++;
		/* The median of the last censuses: one slow walk (a retry storm, a starved core) must
		 * not stop the censuses for a minute; a steadily expensive heap does slow them down. */
		a->last_census_s = median_cost(a);
		row->nsuspects = 0;
		fill_rows(row, a, &pol);
		survivor_evidence(row, a);
		if (!o->no_chains && (a->chains || row->nsuspects)) {
			/* only once there is something to explain: 55 KiB a process, most never need it */
			if (!a->chains)
				a->chains = chains__new();
			/* the most telling suspects get the first searches */
			qsort(row->suspects, row->nsuspects, sizeof(row->suspects[0]), cmp_suspects);
			if (a->types) {
				double c0 = thread_cpu_s();

				if (chains__update(a->chains, row, r, a->types, now))
					chains__pace(a->chains, thread_cpu_s() - c0, o->chain_interval_s,
						     o->cpu_budget > 0 ? o->cpu_budget : 0.02, nprocs, now);
			}
		}
		a->ncensus_suspects = row->nsuspects;
		memcpy(a->census_suspects, row->suspects, sizeof(row->suspects[0]) * row->nsuspects);
		row->census_period = census_period(a, o, nprocs); /* with this census's cost */
		a->census_at = now;
		row->census_idle_since = 0;
		remember_census_state(a, row, now);
		if (first_t0) {
			round->first_s += (now_mono_ns() - first_t0) / 1e9;
			row->census_unjudged = true;
		}
	}
	row->nsuspects = a->ncensus_suspects;
	memcpy(row->suspects, a->census_suspects, sizeof(row->suspects[0]) * a->ncensus_suspects);
	gc_verdicts(row, a, &pol, now);
	rss_verdict(row, a, &pol);
	native_verdicts(row);
	qsort(row->suspects, row->nsuspects, sizeof(row->suspects[0]), cmp_suspects);
}
