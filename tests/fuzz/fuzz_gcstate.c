/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer harness: arbitrary bytes as a target's memory through every reader of remote Python state. */
/*
 * A hostile or corrupted target controls every byte pyleak reads from it. This harness maps the
 * input at a fixed fake address (remote__init_mem, so no process is involved) and runs, for the
 * layout the first byte picks, the tier-0 GC reader (python__resolve_gc + python__read_gc), the
 * object readers of pyobj.h (type names, str/bytes, len, dict iteration and lookup, the type
 * cache) and the census walk over the GC lists (over the mimalloc heaps and the abandoned pool
 * for the free-threaded table). Pointers inside the input that land in
 * [FAKE_BASE, FAKE_BASE + size) are followed; everything else reads as unmapped (-EFAULT).
 *
 * Input: byte 0 layout index, byte 1 flags (1: no _PyRuntime, 2: GC state at +64, 4: short dict
 * walk, 8|16: run the census), bytes 2..3 the offset of the object examined by the
 * pyobj readers, then the memory image (its first byte is at FAKE_BASE).
 * Built and run by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/census.h"
#include "target/layout.h"
#include "target/pyobj.h"
#include "target/python.h"
#include "target/remote.h"

#define FAKE_BASE 0x10000000ull
#define HDR 4

extern const struct py_layout *const py_layouts[];

static int nlayouts;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	while (py_layouts[nlayouts])
		nlayouts++;
	return 0;
}

static int count_items(uint64_t key, uint64_t value, void *arg)
{
	long *n = arg;

	(void)key;
	(void)value;
	/* stop early sometimes, to exercise the callback's non-zero return */
	return ++*n > 100000 ? 7 : 0;
}

static void fuzz_pyobj(const struct py_layout *l, struct remote *r, uint64_t obj, unsigned flags)
{
	struct pyobj_type pt;
	const struct pyobj_type *cached = NULL;
	struct pyobj_types *cache;
	char name[PYOBJ_NAME_MAX], small[8];
	unsigned char bytes[64];
	size_t blen = 0;
	uint64_t value = 0;
	int64_t len = 0;
	long items = 0;
	int k;

	pyobj__read_type(l, r, obj, &pt);
	pyobj__read_str(l, r, obj, name, sizeof(name));
	pyobj__read_str(l, r, obj, small, sizeof(small));
	pyobj__read_bytes(l, r, obj, bytes, sizeof(bytes), &blen);
	for (k = PYOBJ_OTHER; k <= PYOBJ_FLOAT; k++)
		pyobj__len(l, r, obj, (enum pyobj_kind)k, &len);
	pyobj__dict_iter(l, r, obj, (flags & 4) ? 3 : 1000000, count_items, &items);
	pyobj__dict_get_str(l, r, obj, "__module__", &value);
	pyobj__dict_get_str(l, r, obj, "", &value);

	cache = pyobj_types__new(l);
	if (!cache)
		return;
	/* the object itself, and whatever its ob_type points at */
	pyobj_types__get(cache, r, obj, &cached);
	if (!remote__read_u64(r, obj + 8, &value))
		pyobj_types__get(cache, r, value, &cached);
	pyobj_types__add(cache, r, obj);
	pyobj_types__peek(cache, obj);
	pyobj_types__sweep(cache);
	pyobj_types__get(cache, r, obj, &cached);
	pyobj_types__sweep(cache);
	pyobj_types__sweep(cache);
	pyobj_types__free(cache);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct py_target *t;
	struct py_gc_state gc;
	struct remote_mem mem;
	struct remote r;
	struct census *c = NULL;
	struct census_opts o = { .max_nodes = 20000, .budget_s = 0.5, .retries = 1, .top_containers = 4 };
	const struct py_layout *l;
	unsigned flags;
	uint64_t obj;
	void *image;
	size_t isize;

	if (size < HDR || !nlayouts)
		return 0;
	l = py_layouts[data[0] % nlayouts];
	flags = data[1];
	isize = size - HDR;
	obj = FAKE_BASE + (((size_t)data[2] << 8 | data[3]) % (isize ? isize : 1));
	/* A private copy: the image must not alias libFuzzer's buffer past `size` (ASan checks it). */
	image = malloc(isize ? isize : 1);
	if (!image)
		return 0;
	memcpy(image, data + HDR, isize);
	mem.base = FAKE_BASE;
	mem.buf = image;
	mem.size = isize;
	remote__init_mem(&r, &mem);

	t = calloc(1, sizeof(*t));
	if (!t)
		goto out;
	t->supported = true;
	t->layout_rt = *l;
	t->layout = &t->layout_rt;
	t->major = l->major;
	t->minor = l->minor;
	t->runtime_addr = (flags & 1) ? 0 : FAKE_BASE; /* 0: the 3.6 statics path */
	if (python__resolve_gc(t, &r)) {
		/* interpreters.main did not point into the image: put the GC state at its start */
		uint64_t gcs = FAKE_BASE + ((flags & 2) ? 64 : 0);

		t->gc_addr = gcs;
		t->gc_generations_addr = gcs + l->gc_generations;
		t->gc_stats_addr = gcs + l->gc_generation_stats;
		t->gc_collecting_addr = gcs + l->gc_collecting;
		t->gc_enabled_addr = gcs + l->gc_enabled;
		t->gc_garbage_addr = gcs + l->gc_garbage;
	}
	python__read_gc(t, &r, &gc);
	/* the free-threaded table: the census walks mimalloc heaps and the abandoned pool instead */
	t->free_threaded = l->free_threaded == 1;
	if (t->free_threaded && !t->interp_addr)
		t->interp_addr = FAKE_BASE;
	/* The census allocates its chunk cache per run (slow under ASan): one input in four. */
	if ((flags & 0x18) == 0x18 && !census__run(t, &r, &o, &c) && c) {
		size_t i;

		for (i = 0; i < census__ntypes(c); i++)
			(void)census__type(c, i)->name[0];
		for (i = 0; i < census__ncontainers(c); i++)
			(void)census__container(c, i)->type_name[0];
		census__find(c, "dict");
		census__total_objects(c);
		census__total_bytes(c);
		census__stats(c);
	}
	census__free(c);
	fuzz_pyobj(l, &r, obj, flags);
out:
	free(t);
	free(image);
	return 0;
}
