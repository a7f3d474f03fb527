/* SPDX-License-Identifier: BSD-2-Clause */
/* Native leak verdicts: sampled blocks verified still allocated from glibc's chunk headers. */
#include <stdlib.h>
#include <string.h>

#include "analysis/nativeleak.h"
#include "util/common.h"

/* glibc request2size (malloc/malloc.c): request + SIZE_SZ, aligned to 16, at least MINSIZE. */
static uint64_t request2size(uint64_t n)
{
	uint64_t c = (n + 8 + 15) & ~15ull;

	return c < 32 ? 32 : c;
}

bool nativeleak__same_block(uint64_t size, int fn, enum mallocheap_state st, uint64_t chunk_size)
{
	uint64_t nb = request2size(size);

	(void)fn;
	if (size > (1ull << 46))
		return false;
	if (st == MH_MMAPPED) /* sysmalloc_mmap: ALIGN_UP (nb + SIZE_SZ, pagesize) */
		return chunk_size == ((nb + 8 + 4095) & ~4095ull) || chunk_size == ((nb + 4095) & ~4095ull);
	if (st != MH_IN_USE)
		return false;
	/* _int_malloc and _int_realloc hand out a whole chunk when the remainder would be below
	 * MINSIZE; _int_memalign trims to nb the same way: nb <= size < nb + MINSIZE */
	return chunk_size >= nb && chunk_size < nb + 32;
}

static int cmp_growth(const void *a, const void *b)
{
	const struct native_stack *x = a, *y = b;

	if (x->suspect != y->suspect)
		return x->suspect ? -1 : 1;
	if (x->growth_bytes_per_min != y->growth_bytes_per_min)
		return x->growth_bytes_per_min < y->growth_bytes_per_min ? 1 : -1;
	return x->key < y->key ? -1 : x->key > y->key;
}

void nativeleak__verify(struct native_report *rep, const struct mallocheap *h, uint64_t now_ns)
{
	const struct native_counters *c = &rep->counters;
	double observed = c->observed_s, scale;
	int i, k = 0, *remap = NULL;
	uint64_t csz;

	rep->verified = h ? NATIVE_VERIFIED_HEADERS : NATIVE_VERIFIED_EVENTS;
	rep->walk_partial = h && h->partial;
	for (i = 0; i < rep->nstacks; i++) {
		struct native_stack *st = &rep->stacks[i];

		st->out_blocks = st->out_bytes = st->gone_blocks = 0;
		st->oldest_age_s = 0;
		st->growth_bytes_per_min = 0;
		st->suspect = false;
	}
	/* only blocks older than the minimum age count, over the probes' attached time before that age
	 * (the slices are not spread evenly: the budget learns its cost per hit as it goes); without
	 * the slice history, that time scaled to the part of the elapsed time */
	if (c->elapsed_s <= NATIVELEAK_MIN_AGE_S)
		observed = 0;
	else if (c->observed_recent_s >= 0 && c->observed_recent_s <= observed)
		observed -= c->observed_recent_s;
	else
		observed *= (c->elapsed_s - NATIVELEAK_MIN_AGE_S) / c->elapsed_s;
	scale = observed > 0 ? (c->every ? c->every : 1) * 60.0 / observed : 0;
	for (i = 0; i < rep->nsamples; i++) {
		struct native_sample *s = &rep->samples[i];
		struct native_stack *st = s->stack >= 0 && s->stack < rep->nstacks ? &rep->stacks[s->stack] : NULL;
		double age = now_ns > s->ns ? (now_ns - s->ns) / 1e9 : 0;
		enum mallocheap_state state;

		s->outstanding = false;
		if (!h) {
			rep->samples[k++] = *s; /* unverifiable: kept, never counted */
			continue;
		}
		if (s->mapping) {
			/* a mapping: verified from /proc/PID/maps (still mapped with that length), not
			 * by a chunk header */
			state = mallocheap__mapped(h, s->addr, s->size) ? MH_IN_USE : MH_NOT_A_CHUNK;
		} else {
			state = mallocheap__lookup(h, s->addr, &csz);
			if (state == MH_NOT_A_CHUNK && h->partial) {
				rep->samples[k++] = *s; /* not walked this time: keep for the next walk */
				continue;
			}
		}
		if (s->mapping ? state != MH_IN_USE : !nativeleak__same_block(s->size, s->fn, state, csz)) {
			if (st)
				st->gone_blocks++;
			continue; /* freed unseen (or reused for another size): forget it */
		}
		s->outstanding = true;
		rep->samples[k++] = *s;
		if (!st)
			continue;
		st->out_blocks++;
		st->out_bytes += s->size;
		if (age > st->oldest_age_s)
			st->oldest_age_s = age;
		if (age >= NATIVELEAK_MIN_AGE_S)
			st->growth_bytes_per_min += (double)s->size * scale;
	}
	rep->nsamples = k;
	for (i = 0; i < rep->nstacks; i++) {
		struct native_stack *st = &rep->stacks[i];

		st->out_ratio = st->sampled_blocks ? (double)st->out_blocks / (double)st->sampled_blocks : 0;
		st->suspect = h && st->out_blocks >= NATIVELEAK_MIN_BLOCKS && st->out_ratio >= NATIVELEAK_MIN_RATIO &&
			      st->growth_bytes_per_min >= NATIVELEAK_MIN_GROWTH &&
			      st->oldest_age_s >= NATIVELEAK_MIN_OLDEST_S;
	}
	/* sort the stacks and point the samples at their new places */
	if (rep->nstacks > 1) {
		remap = malloc(sizeof(*remap) * (size_t)rep->nstacks);
		if (remap) {
			uint64_t *keys = malloc(sizeof(*keys) * (size_t)rep->nstacks);

			if (keys) {
				for (i = 0; i < rep->nstacks; i++)
					keys[i] = rep->stacks[i].key;
				sort_array(rep->stacks, (size_t)rep->nstacks, sizeof(*rep->stacks), cmp_growth);
				for (i = 0; i < rep->nstacks; i++) {
					int j;

					for (j = 0; j < rep->nstacks; j++)
						if (rep->stacks[j].key == keys[i])
							break;
					remap[i] = j;
				}
				for (i = 0; i < rep->nsamples; i++)
					if (rep->samples[i].stack >= 0 && rep->samples[i].stack < rep->nstacks)
						rep->samples[i].stack = remap[rep->samples[i].stack];
				free(keys);
			}
			free(remap);
		}
	}
}
