/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer harness: arbitrary bytes as target memory for the arena finder and pool parsers, and as smaps text. */
/*
 * The target owns both: its anonymous memory is what the arena scan reads (a hostile process can
 * lay out fake pool headers anywhere), and its mapping names appear in /proc/PID/smaps. The same
 * input is fed as a memory image at a pool-aligned base (both geometries) and, with every pool
 * header that validates, through the free-list walk; then as smaps text.
 * Built and run by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/arenas.h"
#include "target/smaps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct arena_geometry geoms[2] = { { 256u << 10, 4096 }, { 1u << 20, 16384 } };
	struct smaps_vma vmas[64];
	struct smaps_totals tot;
	struct arena found[16];
	struct arenas_stats st;
	unsigned char isfree[2048];
	int g;

	memset(&st, 0, sizeof(st));
	for (g = 0; g < 2; g++) {
		uint32_t psz = geoms[g].pool_size;
		uint64_t base = 0x7f0000000000ull;
		size_t off;

		arenas__find_in(data, base, size, &geoms[g], found, 16);
		arenas__find_in(data, base + 4096, size, &geoms[g], found, 16);
		/* every pool slot of the image, walked when its header passes */
		for (off = 0; off + ARENAS_POOL_OVERHEAD <= size; off += psz) {
			struct pool_info pi;

			if (arenas__check_pool(data + off, base + off, psz, &pi))
				continue;
			arenas__account_pool(&st, &pi);
			if (off + psz <= size && pi.capacity <= sizeof(isfree))
				arenas__pool_free(data + off, base + off, psz, &pi, isfree);
		}
		/* a short copy: headers only */
		if (size >= ARENAS_POOL_OVERHEAD) {
			struct pool_info pi;

			arenas__check_pool(data, base, psz, &pi);
		}
	}
	(void)arenas__confidence(&st);
	smaps__parse((const char *)data, size, vmas, 64, &tot);
	smaps__parse((const char *)data, size, NULL, 0, &tot);
	return 0;
}
