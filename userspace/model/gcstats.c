/* SPDX-License-Identifier: BSD-2-Clause */
/* The pause histogram's arithmetic: slots, bounds and percentiles (the slot formula is bpf/gc.h's). */
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "bpf/gc.h"
#include "model/gcstats.h"

_Static_assert(GC_PROBES_HIST_SLOTS == GC_HIST_SLOTS, "gcstats.h and bpf/gc.h disagree on slots");

uint32_t pause_hist__slot(uint64_t us)
{
	return gc_hist_slot(us);
}

void pause_hist__bounds(uint32_t slot, uint64_t *lo_us, uint64_t *hi_us)
{
	uint32_t e, s;

	if (slot >= GC_HIST_SLOTS)
		slot = GC_HIST_SLOTS - 1;
	if (slot < 4) {
		*lo_us = slot;
		*hi_us = slot + 1;
	} else {
		e = slot / 4 + 1;
		s = slot % 4;
		*lo_us = (uint64_t)(4 + s) << (e - 2);
		*hi_us = (uint64_t)(5 + s) << (e - 2);
	}
	if (slot == GC_HIST_SLOTS - 1)
		*hi_us = UINT64_MAX; /* the overflow slot */
}

int pause_hist__percentile(const uint32_t *slots, int nslots, double q, uint64_t *us)
{
	uint64_t total = 0, cum = 0, rank, lo, hi;
	int i;

	if (!slots || !us || nslots <= 0 || nslots > GC_HIST_SLOTS || !(q > 0.0 && q <= 1.0))
		return -EINVAL;
	for (i = 0; i < nslots; i++)
		total += slots[i];
	if (!total)
		return -ENOENT;
	rank = (uint64_t)ceil(q * (double)total);
	if (rank < 1)
		rank = 1;
	if (rank > total)
		rank = total;
	for (i = 0; i < nslots; i++) {
		if (!slots[i] || cum + slots[i] < rank) {
			cum += slots[i];
			continue;
		}
		pause_hist__bounds((uint32_t)i, &lo, &hi);
		if (hi == UINT64_MAX) {
			*us = lo;
		} else {
			/* rank-th of slots[i] values spread evenly over [lo, hi) */
			double frac = (double)(rank - cum - 1) / (double)slots[i];

			*us = lo + (uint64_t)(frac * (double)(hi - lo));
		}
		return 0;
	}
	return -ENOENT; /* not reached */
}
