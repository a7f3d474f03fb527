/* SPDX-License-Identifier: BSD-2-Clause */
/* Seed corpus for fuzz_gcstate: one plausible interpreter memory image per generated layout. */
/*
 * Each seed is what fuzz_gcstate expects (4-byte header, then memory at FAKE_BASE): a runtime
 * whose interpreters.main points at an interpreter whose GC state has three generation lists;
 * generation 0 holds two objects (a "dict" instance and a heap-type instance), the others are
 * empty (head points at itself); the objects' types read as types (metatype with
 * Py_TPFLAGS_TYPE_SUBCLASS, ASCII tp_name). Random bytes rarely form such chains, so mutations
 * of these reach the list walk, the type reader and the string reader.
 * Usage: seed_gcstate OUTDIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/layout.h"

#define FAKE_BASE 0x10000000ull
#define IMG 0x4000

static unsigned char img[IMG];

static void put64(uint64_t off, uint64_t v)
{
	if (off + 8 <= IMG)
		memcpy(img + off, &v, 8);
}

static void put32(uint64_t off, uint32_t v)
{
	if (off + 4 <= IMG)
		memcpy(img + off, &v, 4);
}

static void put_ascii(const struct py_layout *l, uint64_t off, const char *s)
{
	size_t n = strlen(s);

	put64(off + l->object_refcnt, 1);
	put64(off + l->unicode_length, n);
	/* state: interned 0, kind 1 (bits 2-4), compact 1 (bit 5), ascii 1 (bit 6) */
	put32(off + l->unicode_state, (1u << 2) | (1u << 5) | (1u << 6));
	memcpy(img + off + l->unicode_ascii_size, s, n + 1);
}

static void put_type(const struct py_layout *l, uint64_t off, uint64_t meta, uint64_t name, uint64_t flags,
		     int64_t basicsize)
{
	put64(off + l->object_refcnt, 100);
	put64(off + l->object_type, FAKE_BASE + meta);
	put64(off + l->type_name, FAKE_BASE + name);
	put64(off + l->type_flags, flags);
	put64(off + l->type_basicsize, basicsize);
	put64(off + l->type_itemsize, 0);
}

int main(int argc, char **argv)
{
	const struct py_layout *const *it;
	int idx = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: seed_gcstate OUTDIR\n");
		return 2;
	}
	for (it = py_layouts; *it; it++, idx++) {
		const struct py_layout *l = *it;
		uint64_t interp = 0x400, gc, gens, head0, obj_a = 0x2000, obj_b = 0x2100, pre = 0;
		uint64_t meta = 0x1000, tdict = 0x1400, theap = 0x1800, sname = 0x3000, sheap = 0x3100;
		unsigned char hdr[4] = { (unsigned char)idx, 0x18, 0x20, 0x10 };
		char path[512];
		FILE *f;
		int g;

		memset(img, 0, sizeof(img));
		if (l->runtime_interpreters_main >= 0)
			put64(l->runtime_interpreters_main, FAKE_BASE + interp);
		gc = l->runtime_gc >= 0 ? (uint64_t)l->runtime_gc : interp + l->interp_gc;
		gens = gc + l->gc_generations;
		put32(gc + l->gc_enabled, 1);
		for (g = 0; g < 3; g++) {
			uint64_t h = gens + g * l->gc_generation_size + l->gc_gen_head;

			put64(h + l->gc_head_next, FAKE_BASE + h);
			put64(h + l->gc_head_prev, FAKE_BASE + h);
			put32(gens + g * l->gc_generation_size + l->gc_gen_threshold, g ? 10 : 700);
			put32(gens + g * l->gc_generation_size + l->gc_gen_count, g + 3);
			put64(gc + l->gc_generation_stats + g * l->gc_stats_size + l->gc_stats_collections, 10 + g);
			put64(gc + l->gc_generation_stats + g * l->gc_stats_size + l->gc_stats_collected, 100 + g);
		}
		/* generation 0: head -> A -> B -> head (GC head immediately before each object) */
		head0 = gens + l->gc_gen_head;
		put64(head0 + l->gc_head_next, FAKE_BASE + obj_a - l->gc_head_size);
		put64(obj_a - l->gc_head_size + l->gc_head_next, FAKE_BASE + obj_b - l->gc_head_size);
		put64(obj_a - l->gc_head_size + l->gc_head_prev, FAKE_BASE + head0);
		put64(obj_b - l->gc_head_size + l->gc_head_next, FAKE_BASE + head0);
		put64(obj_b - l->gc_head_size + l->gc_head_prev, FAKE_BASE + obj_a - l->gc_head_size);
		put64(head0 + l->gc_head_prev, FAKE_BASE + obj_b - l->gc_head_size);
		(void)pre;
		/* types: meta is `type` (its own metatype), "dict", and a heap type "Conn" */
		put_ascii(l, 0x3200, "type");
		put_type(l, meta, meta, 0x3200, (1ul << 31) | (1ul << 14), 400);
		put_ascii(l, sname, "dict");
		put_type(l, tdict, meta, sname, (1ul << 29) | (1ul << 14), 48);
		put_ascii(l, sheap, "Conn");
		put_type(l, theap, meta, sheap, (1ul << 9) | (1ul << 14), 32);
		if (l->heaptype_qualname >= 0)
			put64(theap + l->heaptype_qualname, FAKE_BASE + sheap);
		if (l->heaptype_name >= 0)
			put64(theap + l->heaptype_name, FAKE_BASE + sheap);
		put64(obj_a + l->object_refcnt, 1);
		put64(obj_a + l->object_type, FAKE_BASE + tdict);
		put64(obj_b + l->object_refcnt, 1);
		put64(obj_b + l->object_type, FAKE_BASE + theap);

		snprintf(path, sizeof(path), "%s/layout-%d.%d-%d", argv[1], l->major, l->minor, idx);
		f = fopen(path, "wb");
		if (!f || fwrite(hdr, 1, 4, f) != 4 || fwrite(img, 1, IMG, f) != IMG || fclose(f)) {
			perror(path);
			return 1;
		}
	}
	return 0;
}
