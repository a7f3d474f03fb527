/* SPDX-License-Identifier: BSD-2-Clause */
/* Retention chains of the confident type suspects in `top` (cached, re-checked, rate-limited),
 * the suspects grouped into the leaks that explain them, and the one-sentence diagnosis. */
#include "analysis/chains.h"
#include "analysis/refs.h"
#include "util/common.h"
#include "util/escape.h"
#include "util/format.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES MODEL_MAX_SUSPECTS
#define RETRY_LOST_S 2.0      /* a lost chain is searched again at the next due search after this */
#define RETRY_NOT_FOUND_S 60.0 /* no holder: the type may be held by C code; seldom retried */
/* A search on a heap this big is cut (the census budget would not pay for more). */
#define SEARCH_MAX_NODES 4000000L
#define SEARCH_TIMEOUT_S 5.0
#define SEARCH_DEPTH 16
/* Rates "consistent" for one leak: the member grows between these multiples of what the leader's
 * growth predicts (its instances' referents of that type, or one item per instance). */
#define RATE_LO 0.5
#define RATE_HI 2.0

struct entry {
	char type[MODEL_NAME_MAX];
	enum suspect_chain status;
	double time;	    /* found, or found lost */
	double searched;    /* last search */
	struct refs_chain c; /* FOUND/OPAQUE: owned links and steps */
	char text[480];
	bool used;
};

struct chains {
	struct entry e[MAX_ENTRIES];
	double next_search;
};

struct chains *chains__new(void)
{
	return calloc(1, sizeof(struct chains));
}

static void entry_clear_chain(struct entry *en)
{
	free(en->c.links);
	free(en->c.steps);
	memset(&en->c, 0, sizeof(en->c));
}

void chains__free(struct chains *ch)
{
	int i;

	if (!ch)
		return;
	for (i = 0; i < MAX_ENTRIES; i++)
		entry_clear_chain(&ch->e[i]);
	free(ch);
}

/* src into dst; a text too long ends on a whole UTF-8 sequence followed by "..." */
static void copy_text(char *dst, size_t size, const char *src)
{
	size_t cut;

	if (!copy_str(dst, size, src) || size < 8)
		return;
	cut = size - 4;
	while (cut && ((unsigned char)dst[cut] & 0xC0) == 0x80)
		cut--;
	memcpy(dst + cut, "...", 4);
}

static struct entry *find(struct chains *ch, const char *type)
{
	int i;

	for (i = 0; i < MAX_ENTRIES; i++)
		if (ch->e[i].used && !strcmp(ch->e[i].type, type))
			return &ch->e[i];
	return NULL;
}

/* A slot for type: a free one, else the one searched longest ago (a suspect that went away). */
static struct entry *slot(struct chains *ch, const char *type)
{
	struct entry *v = find(ch, type);
	int i;

	if (v)
		return v;
	for (i = 0; i < MAX_ENTRIES; i++)
		if (!ch->e[i].used || !v || ch->e[i].searched < v->searched) {
			v = &ch->e[i];
			if (!v->used)
				break;
		}
	entry_clear_chain(v);
	memset(v, 0, sizeof(*v));
	v->used = true;
	copy_str(v->type, sizeof(v->type), type);
	return v;
}

static bool wants_chain(const struct suspect *s)
{
	return s->kind == SUSPECT_TYPE && !s->untracked && s->confidence >= CHAINS_MIN_CONFIDENCE;
}

/* The shortest chain found (FOUND before OPAQUE before the rest), moved into en. */
static void take_best(struct entry *en, struct refs_result *res, double now)
{
	int i, best = -1;

	for (i = 0; i < res->nchains; i++) {
		const struct refs_chain *c = &res->chains[i];
		int rank = c->status == REFS_FOUND ? 0 : c->status == REFS_OPAQUE ? 1 : 2;

		if (best < 0) {
			best = i;
			continue;
		}
		{
			const struct refs_chain *b = &res->chains[best];
			int brank = b->status == REFS_FOUND ? 0 : b->status == REFS_OPAQUE ? 1 : 2;

			if (rank < brank || (rank == brank && c->nlinks < b->nlinks))
				best = i;
		}
	}
	entry_clear_chain(en);
	en->time = now;
	if (best < 0) {
		en->status = SUSPECT_CHAIN_NOT_FOUND;
		snprintf(en->text, sizeof(en->text), "no live instance sampled");
		return;
	}
	{
		struct refs_chain *c = &res->chains[best];
		struct strbuf sb;

		sb_init(&sb);
		refs__chain_text(c, &sb);
		copy_text(en->text, sizeof(en->text), sb.buf ? sb.buf : "");
		sb_free(&sb);
		switch (c->status) {
		case REFS_FOUND: en->status = SUSPECT_CHAIN_FOUND; break;
		case REFS_OPAQUE: en->status = SUSPECT_CHAIN_OPAQUE; break;
		case REFS_LOST: en->status = SUSPECT_CHAIN_LOST; break;
		default: en->status = SUSPECT_CHAIN_NOT_FOUND; break;
		}
		if (en->status == SUSPECT_CHAIN_FOUND || en->status == SUSPECT_CHAIN_OPAQUE) {
			en->c = *c; /* the links and steps move into the cache */
			c->links = NULL;
			c->steps = NULL;
			c->nlinks = c->nsteps = 0;
		}
	}
}

static void search(struct chains *ch, struct proc_row *row, struct remote *r, struct pyobj_types *types,
		   const char *type, double now)
{
	struct refs_opts o = { .max_depth = SEARCH_DEPTH, .max_nodes = SEARCH_MAX_NODES, .max_chains = 3,
			       .timeout_s = SEARCH_TIMEOUT_S, .types = types };
	struct refs_result *res = NULL;
	struct entry *en = slot(ch, type);
	int err;

	en->searched = now;
	err = refs__run(&row->target, r, &o, type, 0, &res);
	if (err) {
		entry_clear_chain(en);
		en->time = now;
		en->status = SUSPECT_CHAIN_NOT_FOUND;
		if (err == -ENOTSUP && row->target.free_threaded) {
			snprintf(en->text, sizeof(en->text),
				 "no chain: the mimalloc heap layout of this free-threaded build is unknown to "
				 "this pyleak");
			en->searched = 1e300; /* never again: it cannot change */
			return;
		}
		snprintf(en->text, sizeof(en->text), "no chain: %s",
			 err == -ENOENT ? "no live instance" : err == -E2BIG ? "heap too large for the search limits"
											: strerror(-err));
		return;
	}
	take_best(en, res, now);
	refs__free(res);
}

/* Re-read the links of every cached chain: one gone makes it "lost" (its text is dropped). */
static void recheck(struct chains *ch, struct proc_row *row, struct remote *r, struct pyobj_types *types,
		    double now)
{
	int i;

	for (i = 0; i < MAX_ENTRIES; i++) {
		struct entry *en = &ch->e[i];
		char why[200];
		int ret;

		if (!en->used || (en->status != SUSPECT_CHAIN_FOUND && en->status != SUSPECT_CHAIN_OPAQUE))
			continue;
		ret = refs__recheck(&row->target, r, types, &en->c, why, sizeof(why));
		if (ret == 0)
			continue;
		entry_clear_chain(en);
		en->status = SUSPECT_CHAIN_LOST;
		en->time = now;
		snprintf(en->text, sizeof(en->text), "chain lost: %s; searching again",
			 ret == 1 ? why : strerror(-ret));
	}
}

static bool rate_consistent(double member, double leader, double per_instance)
{
	double want = leader * (per_instance > 0 ? per_instance : 1);

	return leader > 0 && member >= RATE_LO * want && member <= RATE_HI * want;
}

/* Does chain c (cached for the leader) pass through the object at addr? */
static bool chain_through(const struct refs_chain *c, uint64_t addr)
{
	int k;

	for (k = 0; k < c->nsteps; k++)
		if (c->steps[k].parent == addr)
			return true;
	return false;
}

/* Does the chain pass through an instance of the type named `type`? */
static bool chain_has_type(const struct refs_chain *c, const char *type)
{
	int i;

	for (i = 0; i < c->nlinks; i++)
		if (!strcmp(c->links[i].from.type, type))
			return true;
	return false;
}

/* chains.h: the rules, in the order they are tried. */
void chains__group(struct proc_row *row, chains_found_fn found, const void *ctx)
{
	int k, j, i;

	for (k = 0; k < row->nsuspects; k++) {
		row->suspects[k].explained_by[0] = 0;
		row->suspects[k].group_why[0] = 0;
		row->suspects[k].explains = 0;
	}
	for (k = 0; k < row->nsuspects; k++) {
		struct suspect *L = &row->suspects[k];
		const struct refs_chain *le;

		if (L->kind != SUSPECT_TYPE || L->explained_by[0])
			continue;
		le = found(ctx, L->name); /* NULL: only the rule of B's own chain below applies */
		for (j = 0; j < row->nsuspects; j++) {
			struct suspect *B = &row->suspects[j];
			const struct refs_chain *be;
			char why[200] = "", ln[ESC_TEXT_SIZE(64)];

			if (j == k || B->explained_by[0] || B->explains)
				continue;
			/* L's instances are held through an instance of the program's class B: B explains
			 * L, never the other way round (builtins on the chain are the containers on the
			 * way: the module's dict, the registry list) */
			if (le && B->kind == SUSPECT_TYPE && strchr(B->name, '.') && chain_has_type(le, B->name))
				continue;
			esc_text_buf(ln, sizeof(ln), L->name);
			if (B->kind == SUSPECT_TYPE) {
				for (i = 0; le && i < le->nreferents; i++)
					if (!strcmp(le->referents[i].type, B->name) &&
					    rate_consistent(B->per_min, L->per_min, le->referents[i].count)) {
						snprintf(why, sizeof(why), "each %.60s holds %d (%+.0f/min vs %+.0f/min)",
							 ln, le->referents[i].count, B->per_min, L->per_min);
						break;
					}
				be = found(ctx, B->name);
				if (!why[0] && be && chain_has_type(be, L->name) &&
				    rate_consistent(B->per_min, L->per_min, 0))
					snprintf(why, sizeof(why), "its chain passes through a %.60s", ln);
			} else if (B->kind == SUSPECT_CONTAINER && le) {
				for (i = 0; i < row->ncontainers; i++)
					if (!strcmp(row->containers[i].name, B->name) &&
					    chain_through(le, row->containers[i].addr) &&
					    rate_consistent(B->per_min, L->per_min, 0)) {
						snprintf(why, sizeof(why), "it holds the %.60s instances (%+.0f items/min)",
							 ln, B->per_min);
						break;
					}
			}
			if (!why[0])
				continue;
			copy_str(B->explained_by, sizeof(B->explained_by), L->name);
			copy_str(B->group_why, sizeof(B->group_why), why);
			L->explains++;
		}
	}
}

/* chains__group's view of the cache: a type's chain when it was found from a root. */
static const struct refs_chain *found_in_cache(const void *ctx, const char *type)
{
	const struct entry *en = find((struct chains *)ctx, type);

	return en && en->status == SUSPECT_CHAIN_FOUND ? &en->c : NULL;
}

static void sb_raw_esc(struct strbuf *sb, const char *s)
{
	esc_text(sb, s);
}

/* "`svc.Session` +1.2k/min live; 92% of surviving samples allocated at svc.py:41 handle; held by
 * sys.modules['svc'].__dict__['registry'] → dict[…] → svc.Session; explains list, dict".
 * Made of esc_text output only (the chain text already is): safe for a terminal as is. */
static void diagnose(struct proc_row *row, struct suspect *s)
{
	struct strbuf sb;
	char n[32];
	int j, m = 0;

	sb_init(&sb);
	sb_putc(&sb, '`');
	sb_raw_esc(&sb, s->name);
	sb_putc(&sb, '`');
	fmt_count(n, sizeof(n), fabs(s->per_min));
	sb_printf(&sb, " %s%s/min %s", s->per_min < 0 ? "-" : "+", n,
		  s->kind == SUSPECT_CONTAINER ? "items" : s->kind == SUSPECT_TYPE ? "live" : "");
	if (s->surv_alive) {
		sb_printf(&sb, "; %.0f%% of surviving samples allocated at ", 100.0 * s->surv_top_alive / s->surv_alive);
		sb_raw_esc(&sb, s->surv_site);
	}
	if (s->chain_status == SUSPECT_CHAIN_FOUND || s->chain_status == SUSPECT_CHAIN_OPAQUE) {
		sb_puts(&sb, "; held by ");
		sb_puts(&sb, s->chain);
	} else if (s->chain_status == SUSPECT_CHAIN_LOST) {
		sb_puts(&sb, "; chain lost (it changed), searching again");
	}
	for (j = 0; j < row->nsuspects; j++)
		if (!strcmp(row->suspects[j].explained_by, s->name) && &row->suspects[j] != s) {
			sb_puts(&sb, m++ ? ", " : "; explains ");
			sb_raw_esc(&sb, row->suspects[j].name);
		}
	if (s->explained_by[0]) {
		sb_puts(&sb, "; part of the ");
		sb_raw_esc(&sb, s->explained_by);
		sb_puts(&sb, " leak: ");
		sb_puts(&sb, s->group_why); /* esc_text output already */
	}
	copy_text(s->diagnosis, sizeof(s->diagnosis), sb.buf ? sb.buf : "");
	sb_free(&sb);
}

bool chains__update(struct chains *ch, struct proc_row *row, struct remote *r, struct pyobj_types *types,
		    double now)
{
	bool searched = false;
	int k;

	if (!ch || !types)
		return false;
	recheck(ch, row, r, types, now);
	chains__group(row, found_in_cache, ch); /* a suspect another one explains needs no chain of its own */
	if (now >= ch->next_search) {
		const struct suspect *pick = NULL;

		for (k = 0; k < row->nsuspects && !pick; k++) {
			const struct suspect *s = &row->suspects[k];
			const struct entry *en;

			if (!wants_chain(s) || s->explained_by[0])
				continue;
			en = find(ch, s->name);
			if (!en || (en->status == SUSPECT_CHAIN_LOST && now - en->time >= RETRY_LOST_S) ||
			    (en->status == SUSPECT_CHAIN_NOT_FOUND && now - en->searched >= RETRY_NOT_FOUND_S))
				pick = s;
		}
		if (pick) {
			search(ch, row, r, types, pick->name, now);
			searched = true;
		}
	}
	for (k = 0; k < row->nsuspects; k++) {
		struct suspect *s = &row->suspects[k];
		const struct entry *en = s->kind == SUSPECT_TYPE ? find(ch, s->name) : NULL;

		s->chain_status = SUSPECT_CHAIN_NONE;
		s->chain[0] = 0;
		s->chain_time = 0;
		if (!en)
			continue;
		s->chain_status = en->status;
		s->chain_time = en->time;
		copy_text(s->chain, sizeof(s->chain), en->text);
	}
	chains__group(row, found_in_cache, ch);
	for (k = 0; k < row->nsuspects; k++)
		diagnose(row, &row->suspects[k]);
	return searched;
}

void chains__pace(struct chains *ch, double cpu_s, double interval_s, double cpu_budget, int nprocs, double now)
{
	/* n processes × (search CPU / period) <= the searches' share of one core */
	double wait = cpu_s * (nprocs > 0 ? nprocs : 1) / ((cpu_budget > 0 ? cpu_budget : 0.02) * CHAINS_BUDGET_SHARE);

	if (interval_s <= 0)
		interval_s = CHAINS_DEFAULT_INTERVAL_S;
	ch->next_search = now + (wait > interval_s ? wait : interval_s);
}

bool chains__active(const struct chains *ch)
{
	return ch && ch->next_search > 0;
}
