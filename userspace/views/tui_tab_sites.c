/* SPDX-License-Identifier: BSD-2-Clause */
/* The Sites tab: the Python stacks that triggered young collections, most frequent first, or the
 * sites of one type's surviving samples ('v'). */
#include "views/tui_internal.h"

#include <stdio.h>

#include "util/common.h"
#include "target/python.h"

/*
 * Sites: the sampled Python stacks of the threads that triggered young collections, most
 * frequent first: share, count, the leaf frame, then its callers (and [truncated] for stacks
 * deeper than the kernel walks). One line per stack, the caller chain as far as it fits.
 */
/* One stack: the leaf, then its callers as far as they fit, from column cx; returns nothing. */
static void stack_line(struct tui_grid *g, const struct site_stack *st, int cx, int line, int x, int w)
{
	char caller[400];
	int f;

	for (f = 1; f < st->nframes && cx < x + w - 4; f++) {
		site_frame__format(&st->frames[f], caller, sizeof(caller));
		cx += tui_grid__printf(g, cx, line, x + w - cx, TUI_A_DIM, " < %s", caller);
	}
	if (st->truncated && cx < x + w - 12)
		tui_grid__puts(g, cx, line, x + w - cx, TUI_A_DIM, " < [truncated]");
}

/*
 * Survivors of one type: the (type, stack) rows of its survivor samples, most alive first, with
 * their share of the type's alive samples.  The types are those with samples, most alive first;
 * st->surv_type picks one (wrapped).
 */
static void survivors_view(struct tui_grid *g, const struct proc_row *row, const struct tui_state *st, int x, int y,
			   int w, int h)
{
	const struct survivors *sv = row->surv;
	uint64_t types[64];
	int ntypes = 0, i, j, k, line = y, pick;
	char leaf[400];

	if (!sv || !sv->naggs) {
		tui_tab__no_data(g, x, y, w, "Survivors",
				 !sv ? "no survivor samples (--no-survivors, --no-census, or no collection-start probe)"
				     : "survivor samples appear after a few young collections and a census");
		return;
	}
	/* the types, most alive samples first (selection sort: at most 64) */
	for (i = 0; i < sv->naggs && ntypes < (int)ARRAY_SIZE(types); i++) {
		bool seen = false;

		for (j = 0; j < ntypes; j++)
			seen = seen || types[j] == sv->aggs[i].type;
		if (!seen)
			types[ntypes++] = sv->aggs[i].type;
	}
	for (i = 0; i < ntypes; i++)
		for (j = i + 1; j < ntypes; j++) {
			struct surv_type_total a, b;

			survivors__type_total(sv, types[i], &a);
			survivors__type_total(sv, types[j], &b);
			if (b.alive > a.alive || (b.alive == a.alive && b.sampled > a.sampled)) {
				uint64_t t = types[i];

				types[i] = types[j];
				types[j] = t;
			}
		}
	pick = ((st->surv_type % ntypes) + ntypes) % ntypes;
	{
		struct surv_type_total tot;
		const char *name = "?";

		survivors__type_total(sv, types[pick], &tot);
		for (i = 0; i < sv->naggs; i++)
			if (sv->aggs[i].type == types[pick] && sv->aggs[i].type_name[0])
				name = sv->aggs[i].type_name;
		tui_grid__printf(g, x + 1, line++, w - 1, TUI_A_LABEL,
				 "Survivors of %s (type %d/%d, [ ] to change): %llu alive of %llu sampled, %llu survived a "
				 "census; stack = %s",
				 name, pick + 1, ntypes, (unsigned long long)tot.alive, (unsigned long long)tot.sampled,
				 (unsigned long long)tot.survived,
				 sv->from_trace ? "as recorded" : surv_pairing__site_is(sv->mode));
		{
			const struct sites_counters *sc = &row->sites.counters;
			uint64_t lost = sc->surv_slots_full + sc->surv_ring_full + sc->surv_queue_full + sv->store_full +
					sv->agg_full;

			if (lost)
				tui_grid__printf(g, x + 1, line++, w - 1, TUI_A_WARN,
						 "%llu samples lost to full maps (slots %llu, ring %llu, queue %llu, store "
						 "%llu, table %llu)",
						 (unsigned long long)lost, (unsigned long long)sc->surv_slots_full,
						 (unsigned long long)sc->surv_ring_full,
						 (unsigned long long)sc->surv_queue_full,
						 (unsigned long long)sv->store_full, (unsigned long long)sv->agg_full);
		}
		/* rows of this type by alive, then sampled */
		{
			int idx[SURV_AGG_MAX], n = 0;

			for (i = 0; i < sv->naggs; i++)
				if (sv->aggs[i].type == types[pick])
					idx[n++] = i;
			for (i = 1; i < n; i++)
				for (j = i; j > 0; j--) {
					const struct surv_agg *p = &sv->aggs[idx[j - 1]], *q = &sv->aggs[idx[j]];

					if (q->alive > p->alive || (q->alive == p->alive && q->sampled > p->sampled)) {
						k = idx[j];
						idx[j] = idx[j - 1];
						idx[j - 1] = k;
					} else {
						break;
					}
				}
			for (i = 0; i < n && line < y + h; i++, line++) {
				const struct surv_agg *a = &sv->aggs[idx[i]];
				const struct site_stack *stk = sites_report__find(&row->sites, a->stack_id);
				int cx;

				if (stk && stk->nframes)
					site_frame__format(&stk->frames[0], leaf, sizeof(leaf));
				else
					snprintf(leaf, sizeof(leaf), "[stack %016llx]", (unsigned long long)a->stack_id);
				cx = x + 1 + tui_grid__printf(g, x + 1, line, w - 1, i == 0 ? TUI_A_WARN : TUI_A_NORMAL,
							      "%5.1f%% %5llu alive %5llu/%-5llu  %s",
							      100.0 * a->alive / (tot.alive ? tot.alive : 1),
							      (unsigned long long)a->alive, (unsigned long long)a->survived,
							      (unsigned long long)a->sampled, leaf);
				if (stk)
					stack_line(g, stk, cx, line, x, w);
			}
		}
	}
	(void)leaf;
}

void tui_render__sites_tab(struct tui_grid *g, const struct proc_row *row, const struct tui_state *st, int x, int y,
			   int w, int h)
{
	const struct sites_report *s = &row->sites;
	char leaf[400];
	int i, line = y;

	if (h <= 0)
		return;
	if (st && st->sites_survivors) {
		survivors_view(g, row, st, x, y, w, h);
		return;
	}
	if (!row->sites_valid || !s->nstacks) {
		tui_tab__no_data(g, x, y, w, "Sites",
			       row->target.tier == GC_TIER_POLL
				       ? "no allocation sites on the poll tier (no collection-start probe)"
				       : "allocation sites (file.py:LINE function) appear after a few young collections");
		return;
	}
	tui_grid__printf(g, x + 1, line++, w - 1, TUI_A_LABEL,
			 "Sites (allocations; v: survivors): %llu samples, %llu walk errors (discarded), %llu truncated%s",
			 (unsigned long long)s->total, (unsigned long long)s->counters.walk_errors,
			 (unsigned long long)s->counters.truncated,
			 row->target.minor >= 12 ? "  (3.12+: collections run at the next eval-breaker check: approximate)"
						 : "");
	for (i = 0; i < s->nstacks && line < y + h; i++) {
		const struct site_stack *stk = &s->stacks[i];
		int cx;

		if (!stk->nframes)
			continue;
		site_frame__format(&stk->frames[0], leaf, sizeof(leaf));
		cx = x + 1 + tui_grid__printf(g, x + 1, line, w - 1, i == 0 ? TUI_A_WARN : TUI_A_NORMAL, "%5.1f%% %6llu  %s",
					      100.0 * stk->count / (s->total ? s->total : 1), (unsigned long long)stk->count,
					      leaf);
		stack_line(g, stk, cx, line, x, w);
		line++;
	}
}
