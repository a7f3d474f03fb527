/* SPDX-License-Identifier: BSD-2-Clause */
/* Process families: grouping from the process tree, family figures, worker history, verdicts. */
#include "model/groups.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/common.h"
#include "util/format.h"

/* Ancestor chains longer than this are cut (a fork bomb must not cost quadratic time). */
#define GROUP_MAX_DEPTH 16
/* Members whose first census is remembered for their growth over life; beyond, none is. */
#define GROUP_TRACK_MAX 2048
/* A member gone from the rows without an exit row (no longer Python, filtered out, its exit
 * missed) is forgotten after this long, even while its family lives: else such members would
 * fill the tracks of a long-lived family and its later workers would go untracked. */
#define GROUP_TRACK_STALE_S 60.0
#define GROUP_TRACK_TYPES MODEL_MAX_TYPES

/* Thresholds of a family verdict. */
#define LIVE_MIN_SHARE 0.5	   /* at least half of the live workers show the suspect ... */
#define RECYCLED_MIN_WORKERS 2	   /* ... or this many retired workers grew the same way */
#define RECYCLED_MIN_SHARE (2.0 / 3.0)
#define RECYCLED_MIN_LIFE_S 8.0	   /* shorter observed lives say nothing about growth */
#define RECYCLED_MIN_OBJECTS 50	   /* objects one worker must gain over its life */
#define RECYCLED_MIN_REL 0.10	   /* ... and relative to what it had at its first census */
#define RECYCLED_MIN_RSS (1u << 20) /* bytes one worker must gain over its life */

const char *group_kind__name(enum group_kind k)
{
	switch (k) {
	case GROUP_KIND_FORK: return "fork";
	case GROUP_KIND_MULTIPROCESSING: return "multiprocessing";
	case GROUP_KIND_GUNICORN: return "gunicorn";
	case GROUP_KIND_UVICORN: return "uvicorn";
	case GROUP_KIND_UWSGI: return "uwsgi";
	case GROUP_KIND_CELERY: return "celery";
	default: return "unknown";
	}
}

const char *group_role__name(enum group_role r)
{
	switch (r) {
	case GROUP_ROLE_MASTER: return "master";
	case GROUP_ROLE_WORKER: return "worker";
	case GROUP_ROLE_HELPER: return "helper";
	default: return "none";
	}
}

/* ---------------------------------------------------------------------------------------------
 * Grouping
 */

bool groups__is_mp_child(const char *cmdline, bool *helper)
{
	/* multiprocessing's spawn and forkserver start methods (and celery's billiard copy) run
	 * `python -c 'from multiprocessing.spawn import spawn_main; spawn_main(...)' --multiprocessing-fork`;
	 * semaphore_tracker is the 3.6/3.7 name of resource_tracker (bpo-36867). */
	static const char *const workers[] = { "from multiprocessing.spawn import", "from billiard.spawn import",
					       "--multiprocessing-fork" };
	static const char *const helpers[] = { "from multiprocessing.forkserver import",
					       "from multiprocessing.resource_tracker import",
					       "from multiprocessing.semaphore_tracker import" };
	size_t i;

	if (helper)
		*helper = false;
	if (!cmdline)
		return false;
	for (i = 0; i < ARRAY_SIZE(helpers); i++)
		if (strstr(cmdline, helpers[i])) {
			if (helper)
				*helper = true;
			return true;
		}
	for (i = 0; i < ARRAY_SIZE(workers); i++)
		if (strstr(cmdline, workers[i]))
			return true;
	return false;
}

static bool word_is(const char *w, size_t len, const char *name)
{
	size_t n = strlen(name);
	const char *base = w;

	for (size_t i = 0; i < len; i++)
		if (w[i] == '/')
			base = w + i + 1;
	len -= (size_t)(base - w);
	/* "gunicorn", "gunicorn:" (setproctitle's "gunicorn: master [app]"), "celery.py", "uwsgi3" */
	return len >= n && !strncmp(base, name, n) &&
	       (len == n || base[n] == ':' || base[n] == '.' || (base[n] >= '0' && base[n] <= '9'));
}

static enum group_kind server_kind(const char *exe, const char *cmdline)
{
	static const struct {
		const char *name;
		enum group_kind kind;
	} known[] = {
		{ "gunicorn", GROUP_KIND_GUNICORN },
		{ "uvicorn", GROUP_KIND_UVICORN },
		{ "uwsgi", GROUP_KIND_UWSGI },
		{ "celery", GROUP_KIND_CELERY },
		{ "[celeryd", GROUP_KIND_CELERY }, /* celery's proctitle */
	};
	const char *p = cmdline ? cmdline : "";
	size_t k, len;
	int word;

	if (exe && word_is(exe, strlen(exe), "uwsgi"))
		return GROUP_KIND_UWSGI;
	/* The program is among the first words: "python3 /usr/bin/gunicorn", "python -m uvicorn". */
	for (word = 0; word < 4 && *p; word++) {
		p += strspn(p, " ");
		len = strcspn(p, " ");
		for (k = 0; k < ARRAY_SIZE(known); k++)
			if (word_is(p, len, known[k].name))
				return known[k].kind;
		p += len;
	}
	return GROUP_KIND_FORK;
}

enum group_kind groups__kind(const char *exe, const char *root_cmdline, bool mp)
{
	enum group_kind k = server_kind(exe, root_cmdline);

	if (k == GROUP_KIND_FORK && mp)
		return GROUP_KIND_MULTIPROCESSING;
	return k;
}

/* Is child a worker (or helper) of parent: the same interpreter running the same program? */
static bool related(const struct group_input *child, const struct group_input *parent)
{
	enum group_kind kc, kp;

	if (!child->exe || !parent->exe || strcmp(child->exe, parent->exe))
		return false;
	/* a pid reused after the parent died cannot be its parent */
	if (child->start_time && parent->start_time && child->start_time < parent->start_time)
		return false;
	if (child->cmdline && parent->cmdline && !strcmp(child->cmdline, parent->cmdline))
		return true; /* a fork: gunicorn sync workers, uwsgi, celery prefork, multiprocessing fork */
	if (groups__is_mp_child(child->cmdline, NULL))
		return true;
	/* servers that retitle their processes ("gunicorn: worker [app]" under "gunicorn: master") */
	kc = server_kind(child->exe, child->cmdline);
	kp = server_kind(parent->exe, parent->cmdline);
	return kc != GROUP_KIND_FORK && kc == kp;
}

struct pid_idx {
	pid_t pid;
	int idx;
};

static int pid_idx_cmp(const void *a, const void *b)
{
	const struct pid_idx *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int groups__assign(const struct group_input *in, int n, int *root, enum group_role *role)
{
	struct pid_idx *by_pid, key, *hit;
	int *up, i, d, r, nroots = 0;
	bool *has_member;

	if (n <= 0)
		return 0;
	by_pid = calloc((size_t)n, sizeof(*by_pid));
	up = calloc((size_t)n, sizeof(*up));
	has_member = calloc((size_t)n, sizeof(*has_member));
	if (!by_pid || !up || !has_member) {
		for (i = 0; i < n; i++) {
			root[i] = -1;
			role[i] = GROUP_ROLE_NONE;
		}
		nroots = -ENOMEM;
		goto cleanup;
	}
	for (i = 0; i < n; i++)
		by_pid[i] = (struct pid_idx){ in[i].pid, i };
	qsort(by_pid, (size_t)n, sizeof(*by_pid), pid_idx_cmp);
	for (i = 0; i < n; i++) {
		up[i] = -1;
		key.pid = in[i].ppid;
		if (in[i].ppid <= 0 || in[i].ppid == in[i].pid)
			continue;
		hit = bsearch(&key, by_pid, (size_t)n, sizeof(*by_pid), pid_idx_cmp);
		if (hit && related(&in[i], &in[hit->idx]))
			up[i] = hit->idx;
	}
	for (i = 0; i < n; i++) {
		for (r = i, d = 0; up[r] >= 0 && d < GROUP_MAX_DEPTH; d++)
			r = up[r];
		root[i] = r;
		if (r != i)
			has_member[r] = true;
	}
	for (i = 0; i < n; i++) {
		bool helper = false;

		if (root[i] == i && !has_member[i]) {
			root[i] = -1; /* alone: no family */
			role[i] = GROUP_ROLE_NONE;
			continue;
		}
		if (root[i] == i) {
			role[i] = GROUP_ROLE_MASTER;
			nroots++;
			continue;
		}
		/* The forkserver and the resource tracker serve the family; the forkserver's own forks
		 * (same command line as their parent) are its workers. */
		groups__is_mp_child(in[i].cmdline, &helper);
		if (helper && up[i] >= 0 && in[up[i]].cmdline && in[i].cmdline && !strcmp(in[up[i]].cmdline, in[i].cmdline))
			helper = false;
		role[i] = helper ? GROUP_ROLE_HELPER : GROUP_ROLE_WORKER;
	}
cleanup:
	free(by_pid);
	free(up);
	free(has_member);
	return nroots;
}

/* ---------------------------------------------------------------------------------------------
 * State across refreshes
 */

/* What a member had when pyleak first saw it (and at its first census), for its growth at exit. */
struct member_track {
	pid_t pid;
	uint64_t start_time;
	int group_id;
	bool role_worker;
	double first_seen;
	uint64_t rss_first;
	bool censused;
	bool type_list_full; /* the first census listed MODEL_MAX_TYPES types: an absent one is unknown */
	int ntypes;
	uint64_t type_hash[GROUP_TRACK_TYPES];
	int64_t type_count[GROUP_TRACK_TYPES];
	double seen; /* last refresh it was present */
};

struct group_state {
	bool used;
	struct group_row row;
	/* Pause histograms of retired members, added to the live ones' */
	uint64_t retired_hist[MODEL_NGEN][MODEL_HIST_SLOTS];
	uint64_t retired_count[MODEL_NGEN], retired_sum_us[MODEL_NGEN], retired_max_us[MODEL_NGEN];
	double seen;
};

struct groups {
	struct group_state g[GROUPS_MAX];
	struct group_row view[GROUPS_MAX];
	struct member_track *tracks;
	int ntracks;
	int next_id;
};

struct groups *groups__new(void)
{
	struct groups *gs = calloc(1, sizeof(*gs));

	if (!gs)
		return NULL;
	gs->tracks = calloc(GROUP_TRACK_MAX, sizeof(*gs->tracks));
	if (!gs->tracks) {
		free(gs);
		errno = ENOMEM;
		return NULL;
	}
	gs->next_id = 1;
	return gs;
}

void groups__free(struct groups *gs)
{
	if (!gs)
		return;
	free(gs->tracks);
	free(gs);
}

static uint64_t name_hash(const char *s)
{
	return fnv1a_str(FNV1A_INIT, s);
}

static struct group_state *find_group(struct groups *gs, pid_t root, uint64_t start)
{
	for (int i = 0; i < GROUPS_MAX; i++)
		if (gs->g[i].used && gs->g[i].row.root_pid == root && gs->g[i].row.root_start == start)
			return &gs->g[i];
	return NULL;
}

static struct group_state *group_by_id(struct groups *gs, int id)
{
	for (int i = 0; i < GROUPS_MAX; i++)
		if (gs->g[i].used && gs->g[i].row.id == id)
			return &gs->g[i];
	return NULL;
}

static struct member_track *find_track(struct groups *gs, const struct proc_row *row)
{
	for (int i = 0; i < gs->ntracks; i++)
		if (gs->tracks[i].pid == row->target.pid && gs->tracks[i].start_time == row->target.start_time)
			return &gs->tracks[i];
	return NULL;
}

static void track_member(struct groups *gs, const struct proc_row *row, double now)
{
	struct member_track *t = find_track(gs, row);
	int i;

	if (!t) {
		if (gs->ntracks >= GROUP_TRACK_MAX)
			return;
		t = &gs->tracks[gs->ntracks++];
		memset(t, 0, sizeof(*t));
		t->pid = row->target.pid;
		t->start_time = row->target.start_time;
		t->first_seen = row->first_seen;
	}
	t->group_id = row->group_id;
	t->role_worker = row->group_role == GROUP_ROLE_WORKER;
	t->seen = now;
	if (!t->rss_first && row->rss)
		t->rss_first = row->rss;
	if (!t->censused && row->census_time > 0) {
		t->censused = true;
		t->ntypes = MIN(row->ntypes, GROUP_TRACK_TYPES);
		t->type_list_full = row->ntypes >= MODEL_MAX_TYPES;
		for (i = 0; i < t->ntypes; i++) {
			t->type_hash[i] = name_hash(row->types[i].name);
			t->type_count[i] = row->types[i].count;
		}
	}
}

static bool track_first_count(const struct member_track *t, const char *name, int64_t *count)
{
	uint64_t h = name_hash(name);

	for (int i = 0; i < t->ntypes; i++)
		if (t->type_hash[i] == h) {
			*count = t->type_count[i];
			return true;
		}
	if (t->type_list_full)
		return false;
	*count = 0; /* the first census listed every type it saw: this one had none */
	return true;
}

/* A worker left its family: remember its life and what it gained over it. */
static void retire(struct group_state *gst, const struct member_track *t, const struct proc_row *row)
{
	struct group_row *g = &gst->row;
	struct group_retired *r;
	int i, k, gen;

	for (gen = 0; gen < MODEL_NGEN; gen++) {
		for (i = 0; i < MODEL_HIST_SLOTS; i++)
			gst->retired_hist[gen][i] += row->pause_hist[gen][i];
		gst->retired_count[gen] += row->pause[gen].count;
		gst->retired_sum_us[gen] += row->pause[gen].sum_us;
		gst->retired_max_us[gen] = MAX(gst->retired_max_us[gen], row->pause[gen].max_us);
	}
	if (!t->role_worker)
		return;
	g->recycled++;
	if (g->nretired == GROUP_RETIRED_MAX) {
		memmove(&g->retired[0], &g->retired[1], sizeof(g->retired[0]) * (GROUP_RETIRED_MAX - 1));
		g->nretired--;
	}
	r = &g->retired[g->nretired++];
	memset(r, 0, sizeof(*r));
	r->pid = row->target.pid;
	r->first_seen = t->first_seen;
	r->last_seen = row->last_update > 0 ? row->last_update : t->seen;
	r->rss_first = t->rss_first;
	r->rss_last = row->rss;
	if (!t->censused || row->census_time <= 0)
		return;
	/* The types that grew most between its first and its last census. */
	for (i = 0; i < row->ntypes; i++) {
		int64_t first, delta;

		if (!track_first_count(t, row->types[i].name, &first))
			continue;
		delta = row->types[i].count - first;
		if (delta <= 0)
			continue;
		for (k = r->ngrowth; k > 0 && r->growth[k - 1].last - r->growth[k - 1].first < delta; k--)
			if (k < GROUP_GROWTH_TYPES)
				r->growth[k] = r->growth[k - 1];
		if (k >= GROUP_GROWTH_TYPES)
			continue;
		copy_str(r->growth[k].name, sizeof(r->growth[k].name), row->types[i].name);
		r->growth[k].first = first;
		r->growth[k].last = row->types[i].count;
		if (r->ngrowth < GROUP_GROWTH_TYPES)
			r->ngrowth++;
	}
}

/* ---------------------------------------------------------------------------------------------
 * Figures and verdicts
 */

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void fmt_rate(char *buf, size_t sz, double v, bool bytes)
{
	char n[32];

	if (bytes)
		fmt_sbytes(n, sizeof(n), v);
	else if (v > -1000 && v < 1000)
		snprintf(n, sizeof(n), "%+.0f", v);
	else {
		fmt_count(n + 1, sizeof(n) - 1, fabs(v));
		n[0] = v < 0 ? '-' : '+';
	}
	snprintf(buf, sz, "%s/min", n);
}

/* "18 MB", "640 KB", "1.2 GB" (powers of 1024, as fmt_bytes): for sentences. */
static void prose_bytes(char *buf, size_t sz, double b)
{
	const char *sign = b < 0 ? "-" : "";
	double a = fabs(b);

	if (a >= 1024.0 * 1024 * 1024)
		snprintf(buf, sz, "%s%.1f GB", sign, a / (1024.0 * 1024 * 1024));
	else if (a >= 10.0 * 1024 * 1024)
		snprintf(buf, sz, "%s%.0f MB", sign, a / (1024.0 * 1024));
	else if (a >= 1024.0 * 1024)
		snprintf(buf, sz, "%s%.1f MB", sign, a / (1024.0 * 1024));
	else
		snprintf(buf, sz, "%s%.0f KB", sign, a / 1024);
}

static void fmt_life(char *buf, size_t sz, double s)
{
	if (s < 120)
		snprintf(buf, sz, "%.0f-second", s);
	else if (s < 7200)
		snprintf(buf, sz, "%.0f-minute", s / 60);
	else
		snprintf(buf, sz, "%.1f-hour", s / 3600);
}

static void add_verdict(struct group_row *g, const struct group_verdict *v)
{
	int k;

	/* keep the strongest: most workers affected, then fastest */
	for (k = g->nverdicts; k > 0; k--) {
		const struct group_verdict *o = &g->verdicts[k - 1];
		double share_o = o->workers ? (double)o->workers_with / o->workers : 0;
		double share_v = v->workers ? (double)v->workers_with / v->workers : 0;

		if (share_o > share_v || (share_o == share_v && o->confidence >= v->confidence))
			break;
		if (k < GROUP_MAX_VERDICTS)
			g->verdicts[k] = g->verdicts[k - 1];
	}
	if (k >= GROUP_MAX_VERDICTS)
		return;
	g->verdicts[k] = *v;
	if (g->nverdicts < GROUP_MAX_VERDICTS)
		g->nverdicts++;
}

/* The same suspect in at least half of the live workers: one verdict for the family. */
static void live_verdicts(struct group_row *g, struct proc_row *const *rows, int nrows)
{
	const struct proc_row *workers[256];
	int nw = 0, i, j, k;

	for (i = 0; i < nrows && nw < (int)ARRAY_SIZE(workers); i++)
		if (rows[i]->group_id == g->id && rows[i]->group_role == GROUP_ROLE_WORKER && !rows[i]->exited)
			workers[nw++] = rows[i];
	for (i = 0; i < nw; i++) {
		for (j = 0; j < workers[i]->nsuspects; j++) {
			const struct suspect *s = &workers[i]->suspects[j];
			struct group_verdict v = { .kind = s->kind, .workers = nw };
			double rates[256], confs[256];
			char rate[48], ev[96];
			size_t len = 0;
			bool seen_before = false;

			/* counted once: at the first worker that has it */
			for (k = 0; k < i && !seen_before; k++)
				for (int m = 0; m < workers[k]->nsuspects; m++)
					if (workers[k]->suspects[m].kind == s->kind &&
					    !strcmp(workers[k]->suspects[m].name, s->name))
						seen_before = true;
			if (seen_before)
				continue;
			copy_str(v.name, sizeof(v.name), s->name);
			for (k = i; k < nw; k++)
				for (int m = 0; m < workers[k]->nsuspects; m++) {
					const struct suspect *o = &workers[k]->suspects[m];

					if (o->kind != s->kind || strcmp(o->name, s->name))
						continue;
					rates[v.workers_with] = o->per_min;
					confs[v.workers_with] = o->confidence;
					if (v.workers_with < GROUP_EVIDENCE_WORKERS) {
						fmt_rate(rate, sizeof(rate), o->per_min, s->kind == SUSPECT_RSS);
						snprintf(ev, sizeof(ev), "%spid %d %s", v.workers_with ? ", " : "",
							 (int)workers[k]->target.pid, rate);
						if (len + strlen(ev) < sizeof(v.evidence)) {
							memcpy(v.evidence + len, ev, strlen(ev) + 1);
							len += strlen(ev);
						}
					}
					v.workers_with++;
					break;
				}
			if (v.workers_with * 1.0 < LIVE_MIN_SHARE * nw || (nw > 1 && v.workers_with < 2))
				continue;
			v.per_min_each = median(rates, v.workers_with);
			v.confidence = median(confs, v.workers_with) * v.workers_with / nw;
			fmt_rate(rate, sizeof(rate), v.per_min_each, s->kind == SUSPECT_RSS);
			snprintf(v.text, sizeof(v.text), "%d/%d workers: %s %s each", v.workers_with, nw, v.name, rate);
			add_verdict(g, &v);
		}
	}
}

/* The same growth in most retired workers: a leak that recycling hides. */
static void recycled_verdicts(struct group_row *g)
{
	const struct group_retired *r[GROUP_RETIRED_MAX];
	double lives[GROUP_RETIRED_MAX], vals[GROUP_RETIRED_MAX], rates[GROUP_RETIRED_MAX];
	char life[32], amount[32], rate[48], ev[96];
	int n = 0, i, j, k, grew;
	size_t len;

	for (i = 0; i < g->nretired; i++)
		if (g->retired[i].last_seen - g->retired[i].first_seen >= RECYCLED_MIN_LIFE_S)
			r[n++] = &g->retired[i];
	if (n < RECYCLED_MIN_WORKERS)
		return;
	for (i = 0; i < n; i++)
		lives[i] = r[i]->last_seen - r[i]->first_seen;
	g->median_life_s = median(lives, n);
	fmt_life(life, sizeof(life), g->median_life_s);

	/* RSS over each life */
	grew = 0;
	len = 0;
	{
		struct group_verdict v = { .kind = SUSPECT_RSS, .recycled = true, .workers = n };

		/* newest first: the evidence names the latest generations */
		for (i = n - 1; i >= 0; i--) {
			double d = r[i]->rss_first ? (double)r[i]->rss_last - (double)r[i]->rss_first : 0;
			double span = r[i]->last_seen - r[i]->first_seen;

			if (d >= RECYCLED_MIN_RSS / 2) {
				vals[grew] = d;
				rates[grew] = d / span * 60;
				grew++;
			}
			if (n - 1 - i < GROUP_EVIDENCE_WORKERS) {
				prose_bytes(amount, sizeof(amount), d);
				snprintf(ev, sizeof(ev), "%spid %d %s%s in %.0f s", len ? ", " : "", (int)r[i]->pid, d >= 0 ? "+" : "",
					 amount, span);
				if (len + strlen(ev) < sizeof(v.evidence)) {
					memcpy(v.evidence + len, ev, strlen(ev) + 1);
					len += strlen(ev);
				}
			}
		}
		v.workers_with = grew;
		if (grew >= RECYCLED_MIN_WORKERS && grew >= RECYCLED_MIN_SHARE * n) {
			v.per_life = median(vals, grew);
			g->median_rss_growth = v.per_life;
			if (v.per_life >= RECYCLED_MIN_RSS) {
				v.per_min_each = median(rates, grew);
				v.life_s = g->median_life_s;
				v.confidence = (double)grew / n;
				copy_str(v.name, sizeof(v.name), "rss");
				prose_bytes(amount, sizeof(amount), v.per_life);
				snprintf(v.text, sizeof(v.text),
					 "each worker grows %s over its %s life: a leak hidden by recycling (%d/%d recycled workers)",
					 amount, life, grew, n);
				add_verdict(g, &v);
			}
		}
	}

	/* Types: every name among the retired workers' largest gains */
	for (i = 0; i < n; i++) {
		for (j = 0; j < r[i]->ngrowth; j++) {
			const char *name = r[i]->growth[j].name;
			struct group_verdict v = { .kind = SUSPECT_TYPE, .recycled = true, .workers = n };
			bool seen_before = false;

			for (k = 0; k < i && !seen_before; k++)
				for (int m = 0; m < r[k]->ngrowth; m++)
					if (!strcmp(r[k]->growth[m].name, name))
						seen_before = true;
			if (seen_before)
				continue;
			grew = 0;
			len = 0;
			for (k = n - 1; k >= 0; k--) /* newest first, as above */
				for (int m = 0; m < r[k]->ngrowth; m++) {
					double d = (double)(r[k]->growth[m].last - r[k]->growth[m].first);
					double span = r[k]->last_seen - r[k]->first_seen;

					if (strcmp(r[k]->growth[m].name, name))
						continue;
					if (d < RECYCLED_MIN_OBJECTS || d < RECYCLED_MIN_REL * (double)r[k]->growth[m].first)
						break;
					vals[grew] = d;
					rates[grew] = d / span * 60;
					if (grew < GROUP_EVIDENCE_WORKERS) {
						snprintf(ev, sizeof(ev), "%spid %d +%lld in %.0f s", grew ? ", " : "",
							 (int)r[k]->pid, (long long)d, span);
						if (len + strlen(ev) < sizeof(v.evidence)) {
							memcpy(v.evidence + len, ev, strlen(ev) + 1);
							len += strlen(ev);
						}
					}
					grew++;
					break;
				}
			if (grew < RECYCLED_MIN_WORKERS || grew < RECYCLED_MIN_SHARE * n)
				continue;
			copy_str(v.name, sizeof(v.name), name);
			v.workers_with = grew;
			v.per_life = median(vals, grew);
			v.per_min_each = median(rates, grew);
			v.life_s = g->median_life_s;
			v.confidence = (double)grew / n;
			fmt_rate(rate, sizeof(rate), v.per_min_each, false);
			if (v.per_life < 1000)
				snprintf(amount, sizeof(amount), "%.0f", v.per_life);
			else
				fmt_count(amount, sizeof(amount), v.per_life);
			snprintf(v.text, sizeof(v.text),
				 "each worker grows %s by +%s over its %s life (%s): a leak hidden by recycling (%d/%d recycled workers)",
				 name, amount, life, rate, grew, n);
			add_verdict(g, &v);
		}
	}
}

static void figures(struct group_state *gst, struct proc_row *const *rows, int nrows)
{
	struct group_row *g = &gst->row;
	uint64_t count[MODEL_NGEN], sum_us[MODEL_NGEN], max_us[MODEL_NGEN];
	uint32_t hist32[MODEL_HIST_SLOTS];
	int i, gen, s, censused = 0;

	g->members = g->workers = 0;
	g->rss_total = g->rss_max = 0;
	g->rss_per_min = 0;
	g->live_objects = 0;
	g->alloc_valid = false;
	g->alloc_per_s = g->alloc_bytes_per_s = 0;
	g->gc_time_pct_max = 0;
	g->nverdicts = 0;
	g->median_life_s = g->median_rss_growth = 0;
	memset(g->gc_per_s, 0, sizeof(g->gc_per_s));
	memset(g->collections, 0, sizeof(g->collections));
	memcpy(g->pause_hist, gst->retired_hist, sizeof(g->pause_hist));
	memcpy(count, gst->retired_count, sizeof(count));
	memcpy(sum_us, gst->retired_sum_us, sizeof(sum_us));
	memcpy(max_us, gst->retired_max_us, sizeof(max_us));
	g->root_exited = true;
	for (i = 0; i < nrows; i++) {
		const struct proc_row *r = rows[i];

		if (r->group_id != g->id)
			continue;
		g->members++;
		if (r->group_role == GROUP_ROLE_MASTER && !r->exited)
			g->root_exited = false;
		if (r->exited)
			continue; /* retired: its pauses are in the retired sums already */
		if (r->group_role == GROUP_ROLE_WORKER)
			g->workers++;
		g->rss_total += r->rss;
		g->rss_max = MAX(g->rss_max, r->rss);
		g->rss_per_min += r->rss_per_min;
		g->gc_time_pct_max = MAX(g->gc_time_pct_max, r->gc_time_pct);
		if (r->live_objects >= 0) {
			g->live_objects += r->live_objects;
			censused++;
		}
		if (r->alloc_valid && !r->alloc.incomplete) {
			g->alloc_valid = true;
			g->alloc_per_s += r->alloc.per_s;
			g->alloc_bytes_per_s += r->alloc.bytes_per_s;
		}
		for (gen = 0; gen < MODEL_NGEN; gen++) {
			if (r->gc_valid) {
				g->gc_per_s[gen] += r->gc_per_s[gen];
				g->collections[gen] += r->collections[gen];
			}
			for (s = 0; s < MODEL_HIST_SLOTS; s++)
				g->pause_hist[gen][s] += r->pause_hist[gen][s];
			count[gen] += r->pause[gen].count;
			sum_us[gen] += r->pause[gen].sum_us;
			max_us[gen] = MAX(max_us[gen], r->pause[gen].max_us);
		}
	}
	if (!censused)
		g->live_objects = -1;
	g->max_workers = MAX(g->max_workers, g->workers);
	for (gen = 0; gen < MODEL_NGEN; gen++) {
		g->gc_per_s_worker[gen] = g->workers ? g->gc_per_s[gen] / g->workers : 0;
		for (s = 0; s < MODEL_HIST_SLOTS; s++)
			hist32[s] = g->pause_hist[gen][s] > UINT32_MAX ? UINT32_MAX : (uint32_t)g->pause_hist[gen][s];
		pause_summary__from_hist(&g->pause[gen], hist32, MODEL_HIST_SLOTS, count[gen], sum_us[gen] * 1000,
					 max_us[gen] * 1000);
	}
	live_verdicts(g, rows, nrows);
	recycled_verdicts(g);
}

void groups__update(struct groups *gs, struct snapshot *snap)
{
	struct group_input *in = NULL;
	enum group_role *role = NULL;
	int *root = NULL, n = snap->nrows, i, k, nview = 0;

	snap->groups = NULL;
	snap->ngroups = 0;
	for (i = 0; i < n; i++) {
		snap->rows[i]->group_id = 0;
		snap->rows[i]->group_role = GROUP_ROLE_NONE;
		snap->rows[i]->group_name[0] = '\0';
	}
	if (!gs || n <= 0)
		goto expire;
	in = calloc((size_t)n, sizeof(*in));
	root = calloc((size_t)n, sizeof(*root));
	role = calloc((size_t)n, sizeof(*role));
	if (!in || !root || !role)
		goto expire;
	for (i = 0; i < n; i++) {
		const struct py_target *t = &snap->rows[i]->target;

		in[i] = (struct group_input){ t->pid, snap->rows[i]->ppid, t->start_time, t->exe, t->cmdline };
	}
	if (groups__assign(in, n, root, role) < 0)
		goto expire;
	/* An exited member keeps the family it had: its parent may be gone from the rows already. */
	for (i = 0; i < n; i++) {
		struct proc_row *row = snap->rows[i];
		struct member_track *t;

		if (row->exited && root[i] < 0 && (t = find_track(gs, row)) && group_by_id(gs, t->group_id)) {
			row->group_id = t->group_id;
			row->group_role = t->role_worker ? GROUP_ROLE_WORKER : GROUP_ROLE_HELPER;
		}
	}
	for (i = 0; i < n; i++) {
		const struct proc_row *r;
		struct group_state *gst;
		bool mp = false;

		if (root[i] != i)
			continue;
		r = snap->rows[i];
		gst = find_group(gs, r->target.pid, r->target.start_time);
		if (!gst) {
			for (k = 0; k < GROUPS_MAX && gs->g[k].used; k++)
				;
			if (k == GROUPS_MAX)
				continue;
			gst = &gs->g[k];
			memset(gst, 0, sizeof(*gst));
			gst->used = true;
			gst->row.id = gs->next_id++;
			gst->row.root_pid = r->target.pid;
			gst->row.root_start = r->target.start_time;
			gst->row.first_seen = snap->time;
		}
		for (k = 0; k < n; k++)
			if (root[k] == i && groups__is_mp_child(in[k].cmdline, NULL))
				mp = true;
		/* multiprocessing is told by one child: once seen, the family keeps the kind */
		if (gst->row.kind == GROUP_KIND_MULTIPROCESSING)
			mp = true;
		gst->row.kind = groups__kind(r->target.exe, r->target.cmdline, mp);
		snprintf(gst->row.name, sizeof(gst->row.name), "%s:%d", group_kind__name(gst->row.kind), (int)r->target.pid);
		copy_str(gst->row.command, sizeof(gst->row.command), r->target.cmdline[0] ? r->target.cmdline : r->target.comm);
		gst->seen = snap->time;
		for (k = 0; k < n; k++)
			if (root[k] == i) {
				snap->rows[k]->group_id = gst->row.id;
				snap->rows[k]->group_role = (uint8_t)role[k];
			}
	}
	/* Remember members; retire the ones that exited. */
	for (i = 0; i < n; i++) {
		struct proc_row *row = snap->rows[i];
		struct member_track *t;
		struct group_state *gst;

		if (!row->group_id)
			continue;
		if (!row->exited) {
			track_member(gs, row, snap->time);
			continue;
		}
		t = find_track(gs, row);
		gst = group_by_id(gs, row->group_id);
		if (t && gst && row->group_role != GROUP_ROLE_MASTER)
			retire(gst, t, row);
		if (t)
			*t = gs->tracks[--gs->ntracks];
	}
expire:
	/* Families whose root is gone (and no member left) end; so do tracks of vanished members. */
	for (k = 0; k < GROUPS_MAX; k++)
		if (gs && gs->g[k].used && gs->g[k].seen < snap->time)
			gs->g[k].used = false;
	for (k = 0; gs && k < gs->ntracks;)
		if (gs->tracks[k].seen < snap->time &&
		    (!group_by_id(gs, gs->tracks[k].group_id) || gs->tracks[k].seen < snap->time - GROUP_TRACK_STALE_S))
			gs->tracks[k] = gs->tracks[--gs->ntracks];
		else
			k++;
	if (gs && root) {
		for (i = 0; i < n; i++) {
			const struct group_state *gst = snap->rows[i]->group_id ? group_by_id(gs, snap->rows[i]->group_id) : NULL;

			if (gst)
				copy_str(snap->rows[i]->group_name, sizeof(snap->rows[i]->group_name), gst->row.name);
			else
				snap->rows[i]->group_id = 0;
		}
		for (k = 0; k < GROUPS_MAX; k++) {
			if (!gs->g[k].used)
				continue;
			figures(&gs->g[k], snap->rows, n);
			gs->view[nview++] = gs->g[k].row;
		}
		snap->groups = gs->view;
		snap->ngroups = nview;
	}
	free(in);
	free(root);
	free(role);
}

const struct group_row *snapshot__group(const struct snapshot *snap, int id)
{
	if (!snap || !id)
		return NULL;
	for (int i = 0; i < snap->ngroups; i++)
		if (snap->groups[i].id == id)
			return &snap->groups[i];
	return NULL;
}

bool group_row__matches(const struct group_row *g, const char *selector)
{
	char pid[16];

	if (!selector || !selector[0])
		return true;
	snprintf(pid, sizeof(pid), "%d", (int)g->root_pid);
	return !strcmp(selector, g->name) || !strcmp(selector, pid) || !strcmp(selector, group_kind__name(g->kind));
}

void groups__select(struct snapshot *snap, const char *selector)
{
	int i, k;

	if (!selector || !selector[0])
		return;
	for (i = k = 0; i < snap->nrows; i++) {
		const struct group_row *g = snapshot__group(snap, snap->rows[i]->group_id);

		if (g && group_row__matches(g, selector))
			snap->rows[k++] = snap->rows[i];
	}
	snap->nrows = k;
	for (i = k = 0; i < snap->ngroups; i++)
		if (group_row__matches(&snap->groups[i], selector))
			snap->groups[k++] = snap->groups[i];
	snap->ngroups = k;
}
