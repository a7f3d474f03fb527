/* SPDX-License-Identifier: BSD-2-Clause */
/* Native leak verdicts: sampled blocks verified still allocated from glibc's chunk headers. */
#ifndef PYLEAK_NATIVELEAK_H
#define PYLEAK_NATIVELEAK_H

#include <stdbool.h>
#include <stdint.h>

#include "analysis/mallocheap.h"
#include "model/native.h"

/*
 * With duty-cycled probes most frees are not seen, so a sample counts as outstanding only while
 * the heap walk finds its chunk in use (not in a tcache or fastbin) with the size the call asked
 * for. Growth of a stack is its outstanding sampled bytes older than NATIVELEAK_MIN_AGE_S, scaled
 * by the sampling (1 in `every`) and by the share of time the probes were attached.
 */
#define NATIVELEAK_MIN_AGE_S	   NATIVE_MIN_AGE_S /* younger blocks may be freed by the work that made them */
#define NATIVELEAK_MIN_BLOCKS	   8	  /* outstanding samples before a verdict */
#define NATIVELEAK_MIN_RATIO	   0.5	  /* outstanding / sampled */
#define NATIVELEAK_MIN_GROWTH	   (64.0 * 1024) /* bytes per minute */
#define NATIVELEAK_MIN_OLDEST_S	   20.0	  /* the oldest outstanding sample has lived this long */

/* Does a chunk found by the walk hold a block of `size` requested through fn (NATIVE_FN_*)? */
bool nativeleak__same_block(uint64_t size, int fn, enum mallocheap_state st, uint64_t chunk_size);

/*
 * Marks each sample outstanding or not (h NULL: another allocator or no walk: nothing is
 * outstanding by headers, no verdict), fills the stacks' out_*, gone_blocks, ages, ratio,
 * growth and suspect, drops the samples found freed, and sorts the stacks by growth.
 */
void nativeleak__verify(struct native_report *rep, const struct mallocheap *h, uint64_t now_ns);

#endif /* PYLEAK_NATIVELEAK_H */
