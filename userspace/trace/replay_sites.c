/* SPDX-License-Identifier: BSD-2-Clause */
/* `top --replay`: a trace's allocation sites and survivor samples rebuilt as the live row's
 * sites report and survivors, so the Sites tab, the text view and JSON show them as live did. */
#include "trace/replay_internal.h"
#include "util/common.h"
#include "util/escape.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The stack ids and type ids of a replay, from the recorded texts (never 0). */
static uint64_t text_id(const char *s)
{
	uint64_t h = fnv1a_str(FNV1A_INIT, s);

	return h ? h : 1;
}

/*
 * "file:line function" (model/stacks.c site_frame__format) back into its parts: the line is the
 * last ":N " or ":? " in the text. A hostile name with such a run in it splits there; the parts
 * are still only the target's bytes, escaped by every view.
 */
static void parse_frame(const char *text, struct site_code *code, struct site_frame *fr)
{
	const char *split = NULL, *p;

	for (p = strchr(text, ':'); p; p = strchr(p + 1, ':')) {
		const char *q = p + 1;

		if (*q == '?') {
			q++;
		} else {
			while (*q >= '0' && *q <= '9' && q - p < 10)
				q++;
		}
		if (q > p + 1 && *q == ' ')
			split = p;
	}
	memset(code, 0, sizeof(*code));
	fr->code = code;
	fr->insn = -1;
	fr->line = -1;
	if (!split) {
		copy_str(code->file, sizeof(code->file), text);
		copy_str(code->func, sizeof(code->func), "?");
		return;
	}
	code->ok = true;
	snprintf(code->file, sizeof(code->file), "%.*s", (int)MIN((size_t)(split - text), sizeof(code->file) - 1), text);
	if (split[1] != '?')
		fr->line = atoi(split + 1);
	copy_str(code->func, sizeof(code->func), strchr(split, ' ') + 1);
}

/*
 * A stored stack (root first, ';'-separated, docs/trace-schema.md) as leaf-first frames. The
 * frames' code entries are allocated for the frames it has (st->frames[k].code into *codes).
 */
static int parse_stack(const struct trace *t, const char *text, struct site_stack *st, struct site_code **codes)
{
	char frames[SITES_MAX_FRAMES][SITES_FILE_MAX + SITES_FUNC_MAX + 16];
	const char *p = text ? text : "";
	char one[sizeof(frames[0])];
	int n = 0, k;

	memset(st, 0, sizeof(*st));
	*codes = NULL;
	st->stack_id = text_id(text);
	for (;;) {
		if (t->meta.stacks_quoted) {
			if (!esc_stack_next(&p, one, sizeof(one)))
				break;
		} else { /* an older file joined raw names: split at every ';' */
			const char *e = strchr(p, ';');
			size_t len = e ? (size_t)(e - p) : strlen(p);

			if (!*p)
				break;
			snprintf(one, sizeof(one), "%.*s", (int)MIN(len, sizeof(one) - 1), p);
			p = e ? e + 1 : p + len;
		}
		if (!n && !st->truncated && !strcmp(one, "[truncated]")) {
			st->truncated = true;
			continue;
		}
		if (n == SITES_MAX_FRAMES) { /* deeper than a live stack can be: keep the leaf side */
			memmove(frames[0], frames[1], sizeof(frames) - sizeof(frames[0]));
			n--;
			st->truncated = true;
		}
		copy_str(frames[n++], sizeof(frames[0]), one);
	}
	if (n && !(*codes = calloc((size_t)n, sizeof(**codes))))
		return -ENOMEM;
	for (k = 0; k < n; k++)
		parse_frame(frames[n - 1 - k], &(*codes)[k], &st->frames[k]);
	st->nframes = n;
	return 0;
}

/* Distinct stacks a replay keeps per process (a live one holds at most bpf/sites.h's 8192 over
 * all pids), and parsed frames over all processes: a hostile file's million rows cost bounded
 * memory and time; the rest is left out, its counts with it. */
#define REPLAY_MAX_STACKS 8192
#define REPLAY_MAX_FRAMES (1L << 18)

struct build {
	const struct trace *t;
	long frames_left;
};

/* The stack of this text in rs: found through the id hash, else parsed and added; -1 when a
 * bound is reached or memory ran out. */
static int stack_index(struct build *b, struct replay_sites *rs, const char *text)
{
	uint64_t id = text_id(text);
	uint32_t mask = rs->hash_size - 1, h = (uint32_t)(id ^ id >> 32) & mask;
	int i;

	while (rs->hash[h] >= 0) {
		if (rs->rep.stacks[rs->hash[h]].stack_id == id)
			return rs->hash[h];
		h = (h + 1) & mask;
	}
	if (rs->rep.nstacks >= rs->cap || b->frames_left <= 0)
		return -1;
	i = rs->rep.nstacks;
	if (parse_stack(b->t, text, &rs->rep.stacks[i], &rs->codes[i]))
		return -1;
	rs->rep.nstacks++;
	b->frames_left -= rs->rep.stacks[i].nframes;
	rs->hash[h] = i;
	return i;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int by_count_desc(const void *a, const void *b)
{
	const struct site_stack *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

/* Room for cap stacks in rs (cap > 0), and the survivors' table when it has rows. */
static int alloc_proc(struct replay_sites *rs, pid_t pid, int cap, int nsurv)
{
	uint32_t size = 2;
	int i;

	cap = MIN(cap, REPLAY_MAX_STACKS);
	while (size < 2u * (uint32_t)cap)
		size <<= 1;
	rs->rep.pid = pid;
	rs->cap = cap;
	rs->hash_size = size;
	rs->rep.stacks = calloc((size_t)cap, sizeof(*rs->rep.stacks));
	rs->codes = calloc((size_t)cap, sizeof(*rs->codes));
	rs->hash = malloc(size * sizeof(*rs->hash));
	if (!rs->rep.stacks || !rs->codes || !rs->hash)
		return -ENOMEM;
	for (i = 0; i < (int)size; i++)
		rs->hash[i] = -1;
	if (nsurv) {
		rs->sv = calloc(1, sizeof(*rs->sv));
		if (!rs->sv || !(rs->sv->aggs = calloc((size_t)MIN(nsurv, SURV_AGG_MAX), sizeof(*rs->sv->aggs))))
			return -ENOMEM;
		rs->sv->from_trace = true;
	}
	return 0;
}

static void add_site(struct build *b, struct replay_sites *rs, const struct trace_aux *a)
{
	int k = stack_index(b, rs, a->name);

	if (k < 0)
		return;
	/* Cumulative counts, written once per process (at its exit or the recording's end); a
	 * file holding several writes of one stack sums them, as the collapsed report does. */
	if (a->count > 0)
		rs->rep.stacks[k].count = sat_add(rs->rep.stacks[k].count, (uint64_t)a->count);
	rs->time = MAX(rs->time, a->time);
}

static void add_survivor(struct build *b, struct replay_sites *rs, const struct trace_aux *a)
{
	struct survivors *sv = rs->sv;
	struct surv_agg *g;
	int k;

	if (sv->naggs >= SURV_AGG_MAX) {
		sv->agg_full++;
		return;
	}
	k = stack_index(b, rs, a->name);
	g = &sv->aggs[sv->naggs++];
	g->type = text_id(a->kind ? a->kind : "");
	copy_str(g->type_name, sizeof(g->type_name), a->kind ? a->kind : "");
	g->stack_id = k >= 0 ? rs->rep.stacks[k].stack_id : text_id(a->name);
	/* The file's numbers: negative ones (hostile or damaged) count as 0. */
	g->alive = a->count > 0 ? (uint64_t)a->count : 0;
	g->sampled = a->bytes > 0 ? (uint64_t)a->bytes : 0;
	g->survived = a->per_min > 0 && a->per_min < 1e18 ? (uint64_t)a->per_min : 0;
	sv->sampled = sat_add(sv->sampled, g->sampled);
	sv->survived = sat_add(sv->survived, g->survived);
	sv->alive = sat_add(sv->alive, g->alive);
	rs->time = MAX(rs->time, a->time);
}

int replay_sites__build_all(const struct trace *t, struct replay_sites *rs)
{
	struct build b = { .t = t, .frames_left = REPLAY_MAX_FRAMES };
	int *nsites = calloc((size_t)t->nprocs + 1, sizeof(int)), *nsurv = calloc((size_t)t->nprocs + 1, sizeof(int));
	int i, err = 0;

	for (i = 0; i < t->nprocs; i++) {
		memset(&rs[i], 0, sizeof(rs[i]));
		rs[i].time = -1;
	}
	if (!nsites || !nsurv) {
		err = -ENOMEM;
		goto out;
	}
	/* One pass per table: rows per process first (the bounds), then the rows themselves. */
	for (i = 0; i < t->naux[TRACE_SITES]; i++)
		nsites[t->aux[TRACE_SITES][i].proc]++;
	for (i = 0; i < t->naux[TRACE_SURVIVORS]; i++)
		nsurv[t->aux[TRACE_SURVIVORS][i].proc]++;
	for (i = 0; i < t->nprocs && !err; i++)
		if (nsites[i] + nsurv[i])
			err = alloc_proc(&rs[i], t->procs[i].pid, nsites[i] + nsurv[i], nsurv[i]);
	for (i = 0; i < t->naux[TRACE_SITES] && !err; i++)
		add_site(&b, &rs[t->aux[TRACE_SITES][i].proc], &t->aux[TRACE_SITES][i]);
	for (i = 0; i < t->naux[TRACE_SURVIVORS] && !err; i++)
		add_survivor(&b, &rs[t->aux[TRACE_SURVIVORS][i].proc], &t->aux[TRACE_SURVIVORS][i]);
	for (i = 0; i < t->nprocs && !err; i++) {
		struct sites_report *rep = &rs[i].rep;
		int k;

		/* by count for the views; each frame's code moves with its stack (frames point into
		 * codes[], which stays where it is); a process without rows has no array at all */
		sort_array(rep->stacks, (size_t)rep->nstacks, sizeof(*rep->stacks), by_count_desc);
		free(rs[i].hash); /* indexes of the unsorted order: of no use from here on */
		rs[i].hash = NULL;
		for (k = 0; k < rep->nstacks; k++)
			rep->total = sat_add(rep->total, rep->stacks[k].count);
		rep->counters.samples = rep->counters.captured = rep->total;
	}
out:
	if (err)
		for (i = 0; i < t->nprocs; i++)
			replay_sites__free(&rs[i]);
	free(nsites);
	free(nsurv);
	return err;
}

void replay_sites__fill(const struct replay_sites *rs, double at, struct proc_row *row)
{
	if (rs->time < 0 || at + 1e-6 < rs->time)
		return; /* recorded at the process's exit or the end: not known before */
	/* The row borrows them (a replayed row is reset at every step, never freed piecewise). */
	row->sites = rs->rep;
	row->sites_valid = rs->rep.nstacks > 0;
	row->surv = rs->sv;
}

void replay_sites__free(struct replay_sites *rs)
{
	int i;

	if (!rs)
		return;
	for (i = 0; rs->codes && i < rs->rep.nstacks; i++)
		free(rs->codes[i]);
	free(rs->rep.stacks);
	free(rs->codes);
	free(rs->hash);
	if (rs->sv)
		free(rs->sv->aggs);
	free(rs->sv);
	memset(rs, 0, sizeof(*rs));
}
