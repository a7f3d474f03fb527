/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer harness: arbitrary bytes as a target's glibc heap through the native heap walker. */
/*
 * The walker trusts nothing it reads: chunk sizes, heap_info, malloc_state, tcache entries and
 * safe-linked list links all come from a possibly hostile target. The input is mapped at a
 * 64 MiB-aligned fake address (so heap_info candidates are tried at its start) and cut into the
 * regions the walker takes from /proc/PID/maps.
 *
 * Input: byte 0 flags (1: the image is also an anonymous mapping, 2: a small chunk cap, 4: a
 * small read budget), bytes 1..2 [heap] start / 16, 3..4 [heap] length / 16, 5..6 libc data
 * start / 16, 7..8 its length / 16, then the memory image (its first byte at FAKE_BASE).
 * Built and run by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/mallocheap.h"

#define FAKE_BASE 0x40000000ull
#define HDR 9

static uint64_t u16_at(const uint8_t *d, int i)
{
	return (uint64_t)d[i] | (uint64_t)d[i + 1] << 8;
}

static void region(uint64_t off, uint64_t len, size_t size, uint64_t *start, uint64_t *end)
{
	if (off > size)
		off = size;
	if (len > size - off)
		len = size - off;
	*start = FAKE_BASE + off;
	*end = FAKE_BASE + off + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mallocheap_input in;
	struct remote_mem mem;
	struct remote r;
	struct mallocheap h;
	const uint8_t *img;
	size_t n, i;

	if (size < HDR)
		return 0;
	img = data + HDR;
	n = size - HDR;
	memset(&in, 0, sizeof(in));
	in.allocator = MH_GLIBC;
	region(u16_at(data, 1) * 16, u16_at(data, 3) * 16, n, &in.heap_start, &in.heap_end);
	region(u16_at(data, 5) * 16, u16_at(data, 7) * 16, n, &in.libc_data[0].start, &in.libc_data[0].end);
	in.nlibc_data = 1;
	if (data[0] & 1)
		in.anon[in.nanon++] = (struct mallocheap_region){ FAKE_BASE, FAKE_BASE + n };
	/* a mapping that is not backed at all: every read there fails */
	in.anon[in.nanon++] = (struct mallocheap_region){ FAKE_BASE + (1ull << 30), FAKE_BASE + (1ull << 30) + 4096 };
	if (data[0] & 2)
		in.max_chunks = 8;
	if (data[0] & 4)
		in.max_bytes = 4096;
	mem = (struct remote_mem){ .base = FAKE_BASE, .buf = img, .size = n };
	remote__init_mem(&r, &mem);
	if (mallocheap__walk(&r, &in, &h) == 0) {
		/* the index is sorted and consistent with the totals */
		for (i = 1; i < h.nchunks; i++)
			if (h.chunks[i - 1].addr >= h.chunks[i].addr)
				abort();
		if (h.in_use_bytes < h.mmapped_bytes)
			abort();
		for (i = 0; i < 64 && i < n; i += 8)
			mallocheap__lookup(&h, FAKE_BASE + i * 16 + 16, NULL);
	}
	mallocheap__free(&h);
	return 0;
}
