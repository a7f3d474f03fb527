/* SPDX-License-Identifier: BSD-2-Clause */
/* JSON lines renderer of the model: stable field names (docs/json.md), raw units. */
#include "views/views.h"
#include "target/features.h"
#include "util/pidmap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void i64_array(struct strbuf *sb, const char *name, const int64_t *v, int n)
{
	int i;

	/* eleven of these in every process's line: no printf */
	sb_putc(sb, '"');
	sb_puts(sb, name);
	sb_puts(sb, "\":[");
	for (i = 0; i < n; i++) {
		if (i)
			sb_putc(sb, ',');
		sb_put_i64(sb, v[i]);
	}
	sb_putc(sb, ']');
}

static void num(struct strbuf *sb, double v)
{
	/* JSON has no NaN/inf; rates are finite by construction but be safe. */
	if (v != v || v > 1e300 || v < -1e300)
		sb_puts(sb, "null");
	else if (v > -1e6 && v < 1e6 && v == (double)(int)v && (v != 0 || !signbit(v)))
		sb_put_i64(sb, (int)v); /* what %.6g prints for these, without printf's float path */
	else
		sb_printf(sb, "%.6g", v);
}

static void num_or_null(struct strbuf *sb, double v)
{
	if (v < 0)
		sb_puts(sb, "null");
	else
		num(sb, v);
}

/* Allocation rates (alloc.h); null when no source ran or the first window is still open. */
static void alloc_json(struct strbuf *sb, const struct proc_row *row)
{
	const struct alloc_report *a = &row->alloc;
	int i;

	if (!row->alloc_valid) {
		sb_puts(sb, ",\"alloc\":null");
		return;
	}
	sb_puts(sb, ",\"alloc\":{\"source\":");
	sb_json_str(sb, a->source);
	sb_printf(sb, ",\"estimated\":%s,\"incomplete\":%s,\"per_s\":", a->estimated ? "true" : "false",
		  a->incomplete ? "true" : "false");
	/* Exact totals from exported symbols miss LTO-inlined call sites: never print them as exact. */
	if (a->incomplete)
		sb_puts(sb, "null");
	else
		num(sb, a->per_s);
	sb_puts(sb, ",\"bytes_per_s\":");
	num(sb, a->bytes_per_s);
	sb_puts(sb, ",\"free_per_s\":");
	num_or_null(sb, a->free_per_s);
	sb_puts(sb, ",\"duty\":");
	num(sb, a->duty);
	if (!strcmp(a->source, "budget")) {
		sb_puts(sb, ",\"overhead_pct\":");
		num(sb, a->overhead_pct);
	}
	sb_puts(sb, ",\"completeness\":");
	num_or_null(sb, a->completeness);
	sb_puts(sb, ",\"note\":");
	sb_json_str(sb, a->incomplete ? "incomplete: LTO-inlined allocation sites not probed" : NULL);
	sb_puts(sb, ",\"types\":[");
	for (i = 0; i < a->ntypes; i++) {
		const struct alloc_type_rate *t = &a->types[i];

		sb_puts(sb, i ? ",{\"name\":" : "{\"name\":");
		sb_json_str(sb, t->name);
		sb_puts(sb, ",\"alloc_per_s\":");
		num(sb, t->alloc_per_s);
		sb_puts(sb, ",\"free_per_s\":");
		num_or_null(sb, t->free_per_s);
		sb_puts(sb, ",\"net_per_s\":");
		num(sb, t->net_per_s);
		sb_putc(sb, '}');
	}
	sb_puts(sb, "]}");
}

/* Allocation sites: the most sampled Python stacks, leaf first (null when not sampled). */
static void sites_json(struct strbuf *sb, const struct proc_row *row)
{
	const struct sites_report *s = &row->sites;
	int i, f;

	if (!row->sites_valid) {
		sb_puts(sb, ",\"sites\":null");
		return;
	}
	sb_printf(sb, ",\"sites\":{\"samples\":%llu,\"rate_limited\":%llu,\"captured\":%llu,\"truncated\":%llu,"
		      "\"walk_errors\":%llu,\"ns_per_sample\":%llu,\"stacks\":[",
		  (unsigned long long)s->counters.samples, (unsigned long long)s->counters.rate_limited,
		  (unsigned long long)s->counters.captured,
		  (unsigned long long)s->counters.truncated, (unsigned long long)s->counters.walk_errors,
		  (unsigned long long)(s->counters.samples ? s->counters.walk_ns / s->counters.samples : 0));
	for (i = 0; i < s->nstacks && i < 20; i++) {
		const struct site_stack *st = &s->stacks[i];

		sb_printf(sb, "%s{\"stack_id\":\"%016llx\",\"count\":%llu,\"truncated\":%s,\"frames\":[", i ? "," : "",
			  (unsigned long long)st->stack_id, (unsigned long long)st->count, st->truncated ? "true" : "false");
		for (f = 0; f < st->nframes; f++) {
			const struct site_frame *fr = &st->frames[f];

			sb_puts(sb, f ? ",{\"file\":" : "{\"file\":");
			sb_json_str(sb, fr->code ? fr->code->file : "?");
			sb_printf(sb, ",\"line\":%d,\"function\":", fr->line);
			sb_json_str(sb, fr->code ? fr->code->func : "?");
			sb_putc(sb, '}');
		}
		sb_puts(sb, "]}");
	}
	sb_puts(sb, "]}");
}

static void frames_json(struct strbuf *sb, const struct site_stack *st)
{
	int f;

	sb_puts(sb, "[");
	for (f = 0; st && f < st->nframes; f++) {
		const struct site_frame *fr = &st->frames[f];

		sb_puts(sb, f ? ",{\"file\":" : "{\"file\":");
		sb_json_str(sb, fr->code ? fr->code->file : "?");
		sb_printf(sb, ",\"line\":%d,\"function\":", fr->line);
		sb_json_str(sb, fr->code ? fr->code->func : "?");
		sb_putc(sb, '}');
	}
	sb_puts(sb, "]");
}

#define JSON_SURV_TYPES 20
#define JSON_SURV_SITES 10

/*
 * Survivor samples (docs/json.md "survivors"): per type, the stacks that allocated its sampled
 * objects, with how many were sampled, survived a census and are alive now.
 */
static void survivors_json(struct strbuf *sb, const struct proc_row *row)
{
	const struct survivors *sv = row->surv;
	const struct sites_counters *c = &row->sites.counters;
	uint64_t done[JSON_SURV_TYPES];
	int ndone = 0, i, j, n;

	if (!sv) {
		sb_puts(sb, ",\"survivors\":null");
		return;
	}
	sb_puts(sb, ",\"survivors\":{\"pairing\":");
	if (sv->from_trace) {
		/* A replay: the trace keeps the (type, stack) rows' sampled, survived and alive; the
		 * rest of the live object is not recorded, and null says so (docs/json.md). */
		sb_printf(sb, "null,\"site_is\":null,\"sampled\":%llu,\"survived\":%llu,\"alive\":%llu,\"died\":null,"
			      "\"pending\":null,\"reused\":null,\"censuses\":null,\"rate_limited\":null,\"no_object\":null,"
			      "\"unmatched\":null,\"reused_young\":null,\"older_gen\":null,\"read_errors\":null,\"ns_total\":null,"
			      "\"ns_per_collection\":null,\"full\":null,\"types\":[",
			  (unsigned long long)sv->sampled, (unsigned long long)sv->survived, (unsigned long long)sv->alive);
	} else {
		sb_json_str(sb, surv_pairing__name(sv->mode));
		sb_puts(sb, ",\"site_is\":");
		sb_json_str(sb, surv_pairing__site_is(sv->mode));
		sb_printf(sb, ",\"sampled\":%llu,\"survived\":%llu,\"alive\":%llu,\"died\":%llu,\"pending\":%llu,"
			      "\"reused\":%llu,\"censuses\":%d,\"rate_limited\":%llu,\"no_object\":%llu,\"unmatched\":%llu,\"reused_young\":%llu,\"older_gen\":%llu,"
			      "\"read_errors\":%llu,\"ns_total\":%llu,\"ns_per_collection\":%llu,\"full\":{\"slots\":%llu,\"ring\":%llu,\"queue\":%llu,"
			      "\"store\":%llu,\"table\":%llu},\"types\":[",
			  (unsigned long long)sv->sampled, (unsigned long long)sv->survived, (unsigned long long)sv->alive,
			  (unsigned long long)sv->died, (unsigned long long)sv->pending, (unsigned long long)sv->reused,
			  sv->censuses, (unsigned long long)c->surv_rate_limited, (unsigned long long)c->surv_no_object,
			  (unsigned long long)c->surv_unmatched, (unsigned long long)c->surv_reused,
			  (unsigned long long)c->surv_older_gen,
			  (unsigned long long)c->surv_read_errors,
			  (unsigned long long)c->surv_ns, (unsigned long long)(c->triggers ? c->surv_ns / c->triggers : 0),
			  (unsigned long long)c->surv_slots_full, (unsigned long long)c->surv_ring_full,
			  (unsigned long long)c->surv_queue_full,
			  (unsigned long long)sv->store_full, (unsigned long long)sv->agg_full);
	}
	/* Types by alive samples, then sampled: selection without sorting the shared table. */
	for (n = 0; n < JSON_SURV_TYPES; n++) {
		struct surv_type_total tot;
		int best = -1;

		for (i = 0; i < sv->naggs; i++) {
			bool seen = false;

			for (j = 0; j < ndone; j++)
				seen = seen || done[j] == sv->aggs[i].type;
			if (seen)
				continue;
			if (best < 0) {
				best = i;
				continue;
			}
			{
				struct surv_type_total a, b;

				survivors__type_total(sv, sv->aggs[i].type, &a);
				survivors__type_total(sv, sv->aggs[best].type, &b);
				if (a.alive > b.alive || (a.alive == b.alive && a.sampled > b.sampled))
					best = i;
			}
		}
		if (best < 0)
			break;
		done[ndone++] = sv->aggs[best].type;
		survivors__type_total(sv, sv->aggs[best].type, &tot);
		sb_puts(sb, n ? ",{\"type\":" : "{\"type\":");
		sb_json_str(sb, sv->aggs[best].type_name[0] ? sv->aggs[best].type_name : NULL);
		sb_printf(sb, ",\"sampled\":%llu,\"survived\":%llu,\"alive\":%llu,\"sites\":[",
			  (unsigned long long)tot.sampled, (unsigned long long)tot.survived, (unsigned long long)tot.alive);
		{
			int picked[JSON_SURV_SITES], np = 0, k, m;

			for (m = 0; m < JSON_SURV_SITES; m++) {
				int pick = -1;

				for (i = 0; i < sv->naggs; i++) {
					const struct surv_agg *g = &sv->aggs[i];
					bool used = false;

					if (g->type != sv->aggs[best].type)
						continue;
					for (k = 0; k < np; k++)
						used = used || picked[k] == i;
					if (used)
						continue;
					if (pick < 0 || g->alive > sv->aggs[pick].alive ||
					    (g->alive == sv->aggs[pick].alive && g->sampled > sv->aggs[pick].sampled))
						pick = i;
				}
				if (pick < 0)
					break;
				picked[np++] = pick;
			}
			for (k = 0; k < np; k++) {
				const struct surv_agg *g = &sv->aggs[picked[k]];
				const struct site_stack *st = sites_report__find(&row->sites, g->stack_id);

				sb_printf(sb, "%s{\"stack_id\":\"%016llx\",\"sampled\":%llu,\"survived\":%llu,\"alive\":%llu,"
					      "\"share\":",
					  k ? "," : "", (unsigned long long)g->stack_id, (unsigned long long)g->sampled,
					  (unsigned long long)g->survived, (unsigned long long)g->alive);
				num_or_null(sb, tot.alive ? (double)g->alive / tot.alive : NAN);
				sb_printf(sb, ",\"truncated\":%s,\"objects\":[", st && st->truncated ? "true" : "false");
				{
					int o, no = 0;

					/* A few alive sampled objects, for `pyleak refs 0xADDR` and checks. */
					for (o = 0; o < sv->nt && no < 8; o++)
						if (sv->t[o].agg == picked[k] && sv->t[o].state == SURV_ALIVE)
							sb_printf(sb, "%s\"0x%llx\"", no++ ? "," : "",
								  (unsigned long long)sv->t[o].s.addr);
				}
				sb_puts(sb, "],\"frames\":");
				frames_json(sb, st);
				sb_putc(sb, '}');
			}
		}
		sb_puts(sb, "]}");
	}
	sb_puts(sb, "]}");
}

/* Census-derived facts: live objects, types, containers, suspects (null/[] before a census). */
/* "native": the verified native samples (docs/json.md, pyleak heap --native), null when off. */
static void native_json(struct strbuf *sb, const struct proc_row *row)
{
	if (!row->native_valid) {
		sb_puts(sb, ",\"native\":null");
		return;
	}
	sb_printf(sb, ",\"native_heap_in_use_bytes\":%llu,\"native\":", (unsigned long long)row->native_heap_in_use);
	native__format_json(&row->native, sb);
}

/* What pyleak can and cannot do on this process, per feature (free-threaded, day one). */
static void features_json(struct strbuf *sb, const struct py_target *t)
{
	struct py_features f;
	int i;

	py_features__describe(t, &f);
	sb_puts(sb, ",\"features\":{");
	for (i = 0; i < PYF_COUNT; i++) {
		sb_printf(sb, "%s\"%s\":", i ? "," : "", py_feature__name(i));
		sb_json_str(sb, f.text[i]);
	}
	sb_putc(sb, '}');
}

/* ,"types":[...],"containers":[...]: what a census wrote (fill_rows), no more. */
static void rows_json(struct strbuf *sb, const struct proc_row *row)
{
	int i;

	sb_puts(sb, ",\"types\":[");
	for (i = 0; i < row->ntypes && i < 20; i++) {
		const struct type_row *t = &row->types[i];

		sb_puts(sb, i ? ",{\"name\":" : "{\"name\":");
		sb_json_str(sb, t->name);
		/* the bulk of a line (20 types per process): no printf */
		sb_puts(sb, ",\"count\":");
		sb_put_i64(sb, t->count);
		sb_puts(sb, ",\"bytes\":");
		sb_put_i64(sb, t->bytes);
		sb_puts(sb, ",\"per_min\":");
		num(sb, t->per_min);
		sb_puts(sb, ",\"bytes_per_min\":");
		num(sb, t->bytes_per_min);
		sb_puts(sb, ",\"untracked\":");
		sb_put_i64(sb, t->untracked);
		sb_puts(sb, ",\"untracked_bytes\":");
		sb_put_i64(sb, t->untracked_bytes);
		sb_puts(sb, ",\"untracked_per_min\":");
		num(sb, t->untracked_per_min);
		sb_putc(sb, '}');
	}
	sb_puts(sb, "],\"containers\":[");
	for (i = 0; i < row->ncontainers && i < 20; i++) {
		const struct container_row *k = &row->containers[i];

		sb_puts(sb, i ? ",{\"name\":" : "{\"name\":");
		sb_json_str(sb, k->name);
		sb_puts(sb, ",\"type\":");
		sb_json_str(sb, k->type);
		sb_puts(sb, k->named ? ",\"named\":true" : ",\"named\":false");
		sb_puts(sb, k->untracked ? ",\"tracked\":false,\"len\":" : ",\"tracked\":true,\"len\":");
		sb_put_i64(sb, k->len);
		sb_puts(sb, ",\"per_min\":");
		num(sb, k->per_min);
		sb_putc(sb, '}');
	}
	sb_putc(sb, ']');
}

struct rows_memo {
	uint64_t seq, epoch;
	struct strbuf text; /* types and containers, for rows_seq == seq */
	bool text_ok;
	/* the memory object's text, for these bytes of the row's memory_row (changed at censuses
	 * with an arena scan only): a pure function of them, so equal bytes are equal text */
	struct memory_row mem;
	struct strbuf memtext;
	bool memtext_ok;
};

struct view_json_cache {
	struct pidmap bypid; /* pid -> struct rows_memo */
	uint64_t epoch;
};

struct view_json_cache *view_json_cache__new(void)
{
	return calloc(1, sizeof(struct view_json_cache));
}

static void memo_free(struct rows_memo *m)
{
	sb_free(&m->text);
	sb_free(&m->memtext);
	free(m);
}

void view_json_cache__free(struct view_json_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->bypid.cap; i++)
		if (c->bypid.slots[i].pid)
			memo_free(c->bypid.slots[i].val);
	pidmap__fini(&c->bypid);
	free(c);
}

/* Forget the processes no snapshot showed for 64 of them (looked at every 64th: O(1) a refresh). */
static void cache_sweep(struct view_json_cache *c)
{
	pid_t gone[256];
	int n, k;
	size_t i;

	if (c->epoch % 64)
		return;
	do {
		for (i = 0, n = 0; i < c->bypid.cap && n < (int)ARRAY_SIZE(gone); i++) {
			const struct pidmap_slot *sl = &c->bypid.slots[i];

			if (sl->pid && ((struct rows_memo *)sl->val)->epoch + 64 < c->epoch)
				gone[n++] = sl->pid;
		}
		/* a delete shifts slots: collect first, then delete */
		for (k = 0; k < n; k++) {
			struct rows_memo *m = pidmap__get(&c->bypid, gone[k]);

			pidmap__del(&c->bypid, gone[k], m);
			memo_free(m);
		}
	} while (n == (int)ARRAY_SIZE(gone));
}

/*
 * A process's entry. rows_seq is new at every rewrite of the rows and never another row's, so an
 * equal seq means an equal text: a reused pid, a replayed sample and a new census all miss.
 */
static struct rows_memo *memo_of(struct view_json_cache *c, const struct proc_row *row)
{
	struct rows_memo *m;
	pid_t pid = row->target.pid;

	if (!c || pid <= 0)
		return NULL;
	m = pidmap__get(&c->bypid, pid);
	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m || pidmap__put(&c->bypid, pid, m)) {
			free(m);
			return NULL; /* out of memory: rendered whole */
		}
	}
	m->epoch = c->epoch;
	return m;
}

/* text keeps render(row) (*ok: it does); rendered again when stale or never kept whole. */
static void put_memo(struct strbuf *sb, const struct proc_row *row, struct strbuf *text, bool *ok, bool stale,
		     void (*render)(struct strbuf *, const struct proc_row *))
{
	if (stale || !*ok) {
		sb_reset(text);
		render(text, row);
		*ok = !text->oom;
	}
	if (*ok)
		sb_putn(sb, text->buf, text->len);
	else
		render(sb, row); /* out of memory for the kept copy: this line still whole */
}

static void rows_json_cached(struct strbuf *sb, const struct proc_row *row, struct view_json_cache *c)
{
	struct rows_memo *m = row->rows_seq ? memo_of(c, row) : NULL;
	bool stale;

	if (!m) {
		rows_json(sb, row);
		return;
	}
	stale = m->seq != row->rows_seq;
	m->seq = row->rows_seq;
	put_memo(sb, row, &m->text, &m->text_ok, stale, rows_json);
}

static void memory_json_cached(struct strbuf *sb, const struct proc_row *row, struct view_json_cache *c)
{
	struct rows_memo *m = row->memory.valid ? memo_of(c, row) : NULL;
	bool stale;

	if (!m) {
		view_json__memory(sb, row);
		return;
	}
	stale = memcmp(&m->mem, &row->memory, sizeof(m->mem)) != 0;
	memcpy(&m->mem, &row->memory, sizeof(m->mem)); /* padding too: memcmp compares it */
	put_memo(sb, row, &m->memtext, &m->memtext_ok, stale, view_json__memory);
}

static void analysis_json(struct strbuf *sb, const struct proc_row *row, struct view_json_cache *cache)
{
	int i;

	if (row->live_objects >= 0)
		sb_printf(sb, ",\"live_objects\":%lld", (long long)row->live_objects);
	else
		sb_puts(sb, ",\"live_objects\":null");
	if (row->census_time > 0) {
		sb_printf(sb, ",\"census\":{\"time\":%.3f,\"walk_ms\":", row->census_time);
		num(sb, row->census_ms);
		sb_puts(sb, ",\"period_s\":");
		num(sb, row->census_period);
		sb_printf(sb, ",\"inconsistencies\":%lld", (long long)row->census_inconsistencies);
		if (row->census_idle_since > 0)
			sb_printf(sb, ",\"skipped_idle_since\":%.3f}", row->census_idle_since);
		else
			sb_puts(sb, ",\"skipped_idle_since\":null}");
	} else {
		sb_puts(sb, ",\"census\":null");
	}
	rows_json_cached(sb, row, cache);
	sb_puts(sb, ",\"suspects\":[");
	for (i = 0; i < row->nsuspects; i++) {
		const struct suspect *s = &row->suspects[i];

		sb_printf(sb, "%s{\"kind\":\"%s\",\"name\":", i ? "," : "", suspect_kind__name(s->kind));
		sb_json_str(sb, s->name);
		sb_puts(sb, ",\"per_min\":");
		num(sb, s->per_min);
		sb_puts(sb, ",\"confidence\":");
		num(sb, s->confidence);
		sb_puts(sb, ",\"evidence\":");
		sb_json_str(sb, s->evidence);
		if (s->surv_alive) {
			sb_printf(sb, ",\"survivor_site\":{\"alive\":%llu,\"top_alive\":%llu,\"share\":",
				  (unsigned long long)s->surv_alive, (unsigned long long)s->surv_top_alive);
			num(sb, (double)s->surv_top_alive / s->surv_alive);
			sb_printf(sb, ",\"stack_id\":\"%016llx\",\"site\":", (unsigned long long)s->surv_stack_id);
			sb_json_str(sb, s->surv_site);
			sb_printf(sb, ",\"untracked\":%s}", s->untracked ? "true" : "false");
		} else {
			sb_puts(sb, ",\"survivor_site\":null");
		}
		if (s->chain_status != SUSPECT_CHAIN_NONE) {
			/* chain text and diagnosis are esc_text output already (analysis/chains.c) */
			sb_printf(sb, ",\"chain\":{\"status\":\"%s\",\"time\":", suspect_chain__name(s->chain_status));
			num(sb, s->chain_time);
			sb_puts(sb, ",\"text\":");
			sb_json_str(sb, s->chain);
			sb_putc(sb, '}');
		} else {
			sb_puts(sb, ",\"chain\":null");
		}
		sb_puts(sb, ",\"explained_by\":");
		if (s->explained_by[0]) {
			sb_json_str(sb, s->explained_by);
			sb_puts(sb, ",\"group_why\":");
			sb_json_str(sb, s->group_why);
		} else {
			sb_puts(sb, "null");
		}
		sb_puts(sb, ",\"explains\":[");
		for (int j = 0, m = 0; j < row->nsuspects; j++)
			if (j != i && row->suspects[j].explained_by[0] && !strcmp(row->suspects[j].explained_by, s->name)) {
				if (m++)
					sb_putc(sb, ',');
				sb_json_str(sb, row->suspects[j].name);
			}
		sb_puts(sb, "],\"diagnosis\":");
		sb_json_str(sb, s->diagnosis[0] ? s->diagnosis : s->evidence);
		sb_printf(sb, ",\"untracked\":%s}", s->untracked ? "true" : "false");
	}
	sb_putc(sb, ']');
}

static void process_json(struct strbuf *sb, const struct snapshot *snap, const struct proc_row *row,
			 struct view_json_cache *cache);

void view_json__process(struct strbuf *sb, const struct proc_row *row)
{
	process_json(sb, NULL, row, NULL);
}

static void process_json(struct strbuf *sb, const struct snapshot *snap, const struct proc_row *row,
			 struct view_json_cache *cache)
{
	const struct py_target *t = &row->target;
	int g;

	sb_printf(sb, "{\"pid\":%d,\"ns_pid\":%d,\"comm\":", t->pid, t->ns_pid);
	sb_json_str(sb, t->comm);
	sb_puts(sb, ",\"cmdline\":");
	sb_json_str(sb, t->cmdline);
	sb_puts(sb, ",\"python\":");
	sb_json_str(sb, t->version);
	sb_puts(sb, ",\"exe\":");
	sb_json_str(sb, t->exe);
	sb_puts(sb, ",\"container_id\":");
	sb_json_str(sb, t->container_id[0] ? t->container_id : NULL);
	sb_printf(sb, ",\"gc_source\":\"%s\",\"exited\":%s,\"rss_bytes\":%llu,\"rss_bytes_per_min\":",
		  gc_tier__name(t->tier), row->exited ? "true" : "false", (unsigned long long)row->rss);
	num(sb, row->rss_per_min);
	sb_puts(sb, ",\"note\":");
	sb_json_str(sb, row->note[0] ? row->note : NULL);
	view_json__process_group(sb, snap, row);
	features_json(sb, t);
	analysis_json(sb, row, cache);
	memory_json_cached(sb, row, cache);
	alloc_json(sb, row);
	sites_json(sb, row);
	native_json(sb, row);
	survivors_json(sb, row);
	if (!row->gc_valid) {
		sb_puts(sb, ",\"gc\":null}");
		return;
	}
	sb_puts(sb, ",\"gc\":{");
	i64_array(sb, "collections", row->collections, MODEL_NGEN);
	sb_putc(sb, ',');
	i64_array(sb, "collected", row->collected, MODEL_NGEN);
	sb_putc(sb, ',');
	i64_array(sb, "uncollectable", row->uncollectable, MODEL_NGEN);
	sb_printf(sb, ",\"garbage\":%lld,\"enabled\":%s,", (long long)row->garbage, row->enabled ? "true" : "false");
	i64_array(sb, "thresholds", row->thresholds, MODEL_NGEN);
	sb_putc(sb, ',');
	i64_array(sb, "counts", row->counts, MODEL_NGEN);
	sb_puts(sb, ",\"interval\":{");
	i64_array(sb, "collections", row->d_collections, MODEL_NGEN);
	sb_putc(sb, ',');
	i64_array(sb, "collected", row->d_collected, MODEL_NGEN);
	sb_putc(sb, ',');
	i64_array(sb, "uncollectable", row->d_uncollectable, MODEL_NGEN);
	sb_puts(sb, "},\"per_s\":[");
	for (g = 0; g < MODEL_NGEN; g++) {
		if (g)
			sb_putc(sb, ',');
		num(sb, row->gc_per_s[g]);
	}
	sb_puts(sb, "],\"pause_us\":[");
	for (g = 0; g < MODEL_NGEN; g++) {
		const struct pause_summary *p = &row->pause[g];

		sb_puts(sb, g ? ",{\"count\":" : "{\"count\":");
		sb_put_u64(sb, p->count);
		sb_puts(sb, ",\"sum\":");
		sb_put_u64(sb, p->sum_us);
		if (row->pauses_estimated) {
			sb_puts(sb, ",\"max\":null,\"p50\":null,\"p99\":null}");
			continue;
		}
		sb_puts(sb, ",\"max\":");
		sb_put_u64(sb, p->max_us);
		sb_puts(sb, ",\"p50\":");
		sb_put_u64(sb, p->p50_us);
		sb_puts(sb, ",\"p99\":");
		sb_put_u64(sb, p->p99_us);
		sb_putc(sb, '}');
	}
	sb_printf(sb, "],\"pauses_estimated\":%s,\"pauses_unknown_gen\":%llu,\"gc_time_us\":%llu,\"time_pct\":",
		  row->pauses_estimated ? "true" : "false", (unsigned long long)row->pauses_unknown_gen,
		  (unsigned long long)(row->gc_ns_total / 1000));
	num(sb, row->gc_time_pct);
	sb_puts(sb, "}}");
}

void view_json__snapshot(struct strbuf *sb, const struct snapshot *snap)
{
	view_json__snapshot_cached(sb, snap, NULL);
}

void view_json__snapshot_cached(struct strbuf *sb, const struct snapshot *snap, struct view_json_cache *cache)
{
	int i;

	if (cache)
		cache->epoch++;

	sb_printf(sb, "{\"time\":%.3f,\"interval_s\":", snap->time);
	num(sb, snap->interval_s);
	sb_puts(sb, ",\"host\":");
	sb_json_str(sb, snap->host);
	sb_printf(sb, ",\"dropped_events\":%llu,\"self_cpu_pct\":", (unsigned long long)snap->dropped_events);
	num(sb, snap->self_cpu_pct);
	sb_printf(sb, ",\"self_rss_bytes\":%llu,\"census_waiting\":%d,\"processes\":[",
		  (unsigned long long)snap->self_rss, snap->census_waiting);
	for (i = 0; i < snap->nrows; i++) {
		if (i)
			sb_putc(sb, ',');
		process_json(sb, snap, snap->rows[i], cache);
	}
	sb_putc(sb, ']');
	view_json__groups(sb, snap);
	sb_puts(sb, "}\n");
	if (cache)
		cache_sweep(cache);
}
