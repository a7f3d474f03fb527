/* SPDX-License-Identifier: BSD-2-Clause */
/* Survivor samples: sampled allocations followed across censuses, aggregated per (type, stack). */
#include "model/survivors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"

const char *surv_pairing__name(int mode)
{
	switch (mode) {
	case SURV_PAIR_NEWEST: return "newest_young";
	case SURV_PAIR_NEXT_FIRST: return "next_first_young";
	default: return "none";
	}
}

const char *surv_pairing__site_is(int mode)
{
	switch (mode) {
	case SURV_PAIR_NEWEST: return "next bytecode boundary";
	case SURV_PAIR_NEXT_FIRST: return "allocating call";
	default: return "none";
	}
}

int surv_pairing__confirmed_gen(int mode)
{
	switch (mode) {
	case SURV_PAIR_NEWEST: return 2;
	case SURV_PAIR_NEXT_FIRST: return 1;
	default: return -1;
	}
}

int survivors__init(struct survivors *sv)
{
	memset(sv, 0, sizeof(*sv));
	sv->t = calloc(SURV_STORE_MAX, sizeof(*sv->t));
	sv->aggs = calloc(SURV_AGG_MAX, sizeof(*sv->aggs));
	if (!sv->t || !sv->aggs) {
		survivors__free(sv);
		return -ENOMEM;
	}
	return 0;
}

void survivors__free(struct survivors *sv)
{
	if (!sv)
		return;
	free(sv->t);
	free(sv->aggs);
	sv->t = NULL;
	sv->aggs = NULL;
	sv->nt = sv->naggs = 0;
}

static int agg_find(struct survivors *sv, uint64_t type, uint64_t stack_id)
{
	int i;

	for (i = 0; i < sv->naggs; i++)
		if (sv->aggs[i].type == type && sv->aggs[i].stack_id == stack_id)
			return i;
	if (sv->naggs >= SURV_AGG_MAX)
		return -1;
	i = sv->naggs++;
	memset(&sv->aggs[i], 0, sizeof(sv->aggs[i]));
	sv->aggs[i].type = type;
	sv->aggs[i].stack_id = stack_id;
	return i;
}

void survivors__add(struct survivors *sv, const struct surv_sample *s, int n, int64_t old_collections)
{
	int i, k;

	if (!sv->t)
		return;
	for (i = 0; i < n; i++) {
		struct surv_tracked *t;

		sv->sampled++;
		if (s[i].mode)
			sv->mode = s[i].mode;
		k = agg_find(sv, s[i].type, s[i].stack_id);
		if (k < 0)
			sv->agg_full++;
		else
			sv->aggs[k].sampled++;
		if (sv->nt >= SURV_STORE_MAX) {
			sv->store_full++;
			continue;
		}
		t = &sv->t[sv->nt++];
		memset(t, 0, sizeof(*t));
		t->s = s[i];
		t->agg = k;
		t->old_base = old_collections;
		t->last_old = old_collections;
		t->last_gen = (int8_t)surv_pairing__confirmed_gen(s[i].mode);
		t->state = SURV_PENDING;
		sv->pending++;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

long survivors__probe_list(const struct survivors *sv, uint64_t **out)
{
	uint64_t *a;
	long n = 0, k = 0;
	int i;

	*out = NULL;
	if (!sv->nt)
		return 0;
	a = malloc(sizeof(*a) * sv->nt);
	if (!a)
		return -ENOMEM;
	for (i = 0; i < sv->nt; i++)
		if (sv->t[i].state != SURV_DEAD)
			a[n++] = sv->t[i].s.addr;
	sort_array(a, n, sizeof(*a), cmp_u64);
	for (i = 0; i < n; i++)
		if (!k || a[k - 1] != a[i])
			a[k++] = a[i];
	if (!k) {
		free(a);
		return 0;
	}
	*out = a;
	return k;
}

static long find_addr(const uint64_t *addrs, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addrs[mid] == addr)
			return (long)mid;
		if (addrs[mid] < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Generation-1 hits of the followed samples, for the promotion-order check. */
struct g1hit {
	uint32_t seq;
	int64_t index;
	int t;
};

static int cmp_g1_seq_desc(const void *a, const void *b)
{
	const struct g1hit *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? 1 : -1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Marks (in bad[]) the samples found in generation 1 behind a sample of a later collection. */
static void order_check(const struct survivors *sv, const uint64_t *addrs, const uint64_t *types, const int8_t *gens,
			const int64_t *index, size_t n, bool *bad)
{
	struct g1hit *h;
	int i, nh = 0, j;
	int64_t min_later = INT64_MAX, min_group = INT64_MAX;

	if (!index || !(h = malloc(sizeof(*h) * (sv->nt + 1))))
		return;
	for (i = 0; i < sv->nt; i++) {
		long k = find_addr(addrs, n, sv->t[i].s.addr);

		if (k >= 0 && types[k] == sv->t[i].s.type && gens[k] == 1 && sv->t[i].state != SURV_DEAD) {
			h[nh].seq = sv->t[i].s.seq;
			h[nh].index = index[k];
			h[nh].t = i;
			nh++;
		}
	}
	sort_array(h, nh, sizeof(*h), cmp_g1_seq_desc);
	/* From the newest promotion down: anything behind the front of every later block is bad. */
	for (i = 0; i < nh; i = j) {
		min_group = INT64_MAX;
		for (j = i; j < nh && h[j].seq == h[i].seq; j++) {
			if (h[j].index > min_later)
				bad[h[j].t] = true;
			else if (h[j].index < min_group)
				min_group = h[j].index;
		}
		if (min_group < min_later)
			min_later = min_group;
	}
	free(h);
}

void survivors__settle(struct survivors *sv, const uint64_t *addrs, const uint64_t *types, const int8_t *gens,
		       const int64_t *index, size_t n, int64_t old_collections, double now)
{
	bool *bad = NULL;
	int i, j;

	if (!sv->t)
		return;
	if (n && index)
		bad = calloc(sv->nt + 1, sizeof(*bad));
	if (bad)
		order_check(sv, addrs, types, gens, index, n, bad);
	for (i = 0; i < sv->nt; i++) {
		struct surv_tracked *t = &sv->t[i];
		struct surv_agg *g = t->agg >= 0 ? &sv->aggs[t->agg] : NULL;
		long k = find_addr(addrs, n, t->s.addr);
		bool alive = false, reused = false;

		if (t->state == SURV_DEAD)
			continue;
		if (k >= 0 && types[k]) {
			if (types[k] != t->s.type || gens[k] == 0)
				reused = true;
			else if (gens[k] == 1 && t->old_base >= 0 && old_collections > t->old_base)
				reused = true;
			else if (bad && bad[i])
				reused = true;
			else if (t->last_gen >= 0 && gens[k] < t->last_gen)
				reused = true;
			else if (t->last_gen == 1 && gens[k] == 1 && t->last_old >= 0 && old_collections > t->last_old)
				reused = true;
			else
				alive = true;
			if (alive) {
				t->last_gen = gens[k];
				t->last_old = old_collections;
			}
		}
		if (alive) {
			if (t->state == SURV_PENDING) {
				sv->pending--;
				sv->alive++;
				if (g)
					g->alive++;
			}
			if (!t->survived) {
				t->survived = true;
				sv->survived++;
				if (g)
					g->survived++;
			}
			t->state = SURV_ALIVE;
			continue;
		}
		if (t->state == SURV_PENDING) {
			sv->pending--;
		} else {
			sv->alive--;
			if (g && g->alive)
				g->alive--;
		}
		t->state = SURV_DEAD;
		sv->died++;
		if (reused)
			sv->reused++;
		if (g)
			g->died++;
	}
	free(bad);
	for (i = j = 0; i < sv->nt; i++)
		if (sv->t[i].state != SURV_DEAD)
			sv->t[j++] = sv->t[i];
	sv->nt = j;
	sv->censuses++;
	sv->last_settle = now;
}

void survivors__type_total(const struct survivors *sv, uint64_t type, struct surv_type_total *out)
{
	int i;

	memset(out, 0, sizeof(*out));
	out->top = -1;
	for (i = 0; i < sv->naggs; i++) {
		const struct surv_agg *g = &sv->aggs[i];

		if (g->type != type)
			continue;
		out->alive += g->alive;
		out->survived += g->survived;
		out->sampled += g->sampled;
		if (g->alive && (out->top < 0 || g->alive > sv->aggs[out->top].alive))
			out->top = i;
	}
}
