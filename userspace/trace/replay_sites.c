/* SPDX-License-Identifier: BSD-2-Clause */
/* `top --replay`: a trace's allocation sites and survivor samples rebuilt as the live row's
 * sites report and survivors, so the Sites tab, the text view and JSON show them as live did. */
#include "trace/replay_internal.h"
#include "util/common.h"
#include "util/escape.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: the stack ids and type ids of a replay, from the recorded texts (never 0). */
static uint64_t text_id(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
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

/* A stored stack (root first, ';'-separated, docs/trace-schema.md) as leaf-first frames. */
static int parse_stack(const struct trace *t, const char *text, struct site_stack *st, struct site_code *codes)
{
	char frames[SITES_MAX_FRAMES][SITES_FILE_MAX + SITES_FUNC_MAX + 16];
	const char *p = text ? text : "";
	char one[sizeof(frames[0])];
	int n = 0, k;

	memset(st, 0, sizeof(*st));
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
	for (k = 0; k < n; k++)
		parse_frame(frames[n - 1 - k], &codes[k], &st->frames[k]);
	st->nframes = n;
	return 0;
}

/* The rows of one process in one aux table: their indexes [*lo, *hi) (trace.c sorts by proc). */
static void proc_rows(const struct trace *t, enum trace_aux_kind k, int pidx, int *lo, int *hi)
{
	int i;

	*lo = *hi = 0;
	for (i = 0; i < t->naux[k] && t->aux[k][i].proc != pidx; i++)
		;
	*lo = i;
	for (; i < t->naux[k] && t->aux[k][i].proc == pidx; i++)
		;
	*hi = i;
}

/* Index of the stack with this id, adding it (parsed from text) when new; -1 when full. */
static int stack_index(const struct trace *t, struct replay_sites *rs, const char *text, int cap)
{
	uint64_t id = text_id(text);
	int i;

	for (i = 0; i < rs->rep.nstacks; i++)
		if (rs->rep.stacks[i].stack_id == id)
			return i;
	if (rs->rep.nstacks >= cap)
		return -1;
	i = rs->rep.nstacks++;
	parse_stack(t, text, &rs->rep.stacks[i], &rs->codes[(size_t)i * SITES_MAX_FRAMES]);
	return i;
}

static int by_count_desc(const void *a, const void *b)
{
	const struct site_stack *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

int replay_sites__build(const struct trace *t, int pidx, struct replay_sites *rs)
{
	int slo, shi, vlo, vhi, cap, i;

	memset(rs, 0, sizeof(*rs));
	rs->time = -1;
	proc_rows(t, TRACE_SITES, pidx, &slo, &shi);
	proc_rows(t, TRACE_SURVIVORS, pidx, &vlo, &vhi);
	cap = (shi - slo) + (vhi - vlo);
	if (!cap)
		return 0;
	rs->rep.stacks = calloc((size_t)cap, sizeof(*rs->rep.stacks));
	rs->codes = calloc((size_t)cap * SITES_MAX_FRAMES, sizeof(*rs->codes));
	if (!rs->rep.stacks || !rs->codes)
		goto nomem;
	rs->rep.pid = t->procs[pidx].pid;
	/* Sites: cumulative counts, written once per process (at its exit or the recording's end);
	 * a file holding several writes of one stack sums them as the collapsed report does. */
	for (i = slo; i < shi; i++) {
		const struct trace_aux *a = &t->aux[TRACE_SITES][i];
		int k = stack_index(t, rs, a->name, cap);

		if (k < 0)
			continue;
		if (a->count > 0)
			rs->rep.stacks[k].count += (uint64_t)a->count;
		rs->time = MAX(rs->time, a->time);
	}
	if (vhi > vlo) {
		struct survivors *sv = calloc(1, sizeof(*sv));

		if (!sv || !(sv->aggs = calloc((size_t)MIN(vhi - vlo, SURV_AGG_MAX), sizeof(*sv->aggs)))) {
			free(sv);
			goto nomem;
		}
		sv->from_trace = true;
		rs->sv = sv;
		for (i = vlo; i < vhi && sv->naggs < SURV_AGG_MAX; i++) {
			const struct trace_aux *a = &t->aux[TRACE_SURVIVORS][i];
			struct surv_agg *g = &sv->aggs[sv->naggs++];
			int k = stack_index(t, rs, a->name, cap);

			g->type = text_id(a->kind ? a->kind : "");
			copy_str(g->type_name, sizeof(g->type_name), a->kind ? a->kind : "");
			g->stack_id = k >= 0 ? rs->rep.stacks[k].stack_id : text_id(a->name);
			/* The file's numbers: negative ones (hostile or damaged) count as 0. */
			g->alive = a->count > 0 ? (uint64_t)a->count : 0;
			g->sampled = a->bytes > 0 ? (uint64_t)a->bytes : 0;
			g->survived = a->per_min > 0 && a->per_min < 1e18 ? (uint64_t)a->per_min : 0;
			sv->sampled += g->sampled;
			sv->survived += g->survived;
			sv->alive += g->alive;
			rs->time = MAX(rs->time, a->time);
		}
	}
	qsort(rs->rep.stacks, (size_t)rs->rep.nstacks, sizeof(*rs->rep.stacks), by_count_desc);
	for (i = 0; i < rs->rep.nstacks; i++)
		rs->rep.total += rs->rep.stacks[i].count;
	rs->rep.counters.samples = rs->rep.counters.captured = rs->rep.total;
	return 0;
nomem:
	replay_sites__free(rs);
	return -ENOMEM;
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
	if (!rs)
		return;
	free(rs->rep.stacks);
	free(rs->codes);
	if (rs->sv)
		free(rs->sv->aggs);
	free(rs->sv);
	memset(rs, 0, sizeof(*rs));
}
